/*
 * Internal to the host crypto code: reading secrets from files (PIN files,
 * passphrase files, private key PEM files). The one owner of those reads.
 *
 * A secret file is read with open(2)/read(2) straight into a heap buffer that
 * this code owns: no stdio buffer ever holds it, and every copy is cleansed
 * (OPENSSL_cleanse) before it is freed: on success, on every error path, and
 * when the buffer grows (a new buffer is allocated, the bytes copied, the old
 * one cleansed, then freed; never realloc).
 */
#ifndef FWT_SECRET_H
#define FWT_SECRET_H

#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust_host.h>

#include <stddef.h>
#include <stdint.h>

/* Largest PIN or passphrase file read (the secret is its first line). */
#define FWT_SECRET_FILE_MAX 4096U

/*
 * Read the whole file at path (at most max bytes) into *buf (NUL-terminated,
 * *len bytes without the NUL). Release with fwt_secret_free(*buf, *len).
 * what names the file in errors ("PIN", "passphrase", "key").
 * Errors (detail names what and path): FWT_E_NOT_FOUND (no such file),
 * FWT_E_IO (cannot open or read it), FWT_E_TOO_LARGE (more than max bytes; the
 * read stops at max + 1), FWT_E_NOMEM. On error *buf is NULL.
 */
FWT_MUST_CHECK fwt_err fwt_secret_read_file(const char *path, const char *what, size_t max,
                                            uint8_t **buf, size_t *len);

/* Cleanse len + 1 bytes (the terminating NUL too) and free. NULL is fine. */
void fwt_secret_free(uint8_t *buf, size_t len);

/*
 * The secret on the first line of a file of at most FWT_SECRET_FILE_MAX bytes:
 * the bytes before the first "\n" (or the end of the file), a "\r" right
 * before it dropped. Copied NUL-terminated into out (out_cap bytes, so the
 * secret holds 1 .. out_cap - 1 bytes); *n (may be NULL) is its length.
 * Errors: those of fwt_secret_read_file ("cannot read the WHAT file PATH"),
 * and FWT_E_ARG for an empty first line ("is empty") or a longer one ("is
 * longer than N bytes"). out is cleansed on every error.
 */
FWT_MUST_CHECK fwt_err fwt_secret_read_line(const char *path, const char *what, char *out,
                                            size_t out_cap, size_t *n);

#endif /* FWT_SECRET_H */
