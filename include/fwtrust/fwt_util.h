/*
 * Helpers for hosted fwtrust code (libraries and tools; not for the freestanding core):
 * error detail text, whole-file and atomic file I/O, hex, number parsing.
 */
#ifndef FWT_UTIL_H
#define FWT_UTIL_H

#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust_host.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#define FWT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FWT_PRINTF(a, b)
#endif

/*
 * Error detail: the layer that detects a failure records one sentence naming
 * the cause ("slot-a.bin: header size 0x200 + image size 0x4000 runs past the
 * end of the file (0x3000 bytes)"); the CLI prints it after the error name.
 * Thread-local. Never put secrets in it.
 */
fwt_err fwt_fail(fwt_err err, const char *fmt, ...) FWT_PRINTF(2, 3);
void fwt_detail_clear(void);
const char *fwt_detail(void); /* "" when none */

/*
 * What a failure was, beyond its fwt_err, so that a tool can say how to fix it
 * in its own terms (its option or setting names; libraries never name them).
 * The layer that knows sets it right after its fwt_fail; it stays while outer
 * layers add context with fwt_fail and the same error, and is reset by a
 * fwt_fail with another error and by fwt_detail_clear.
 */
enum fwt_cause {
    FWT_CAUSE_NONE = 0,
    FWT_CAUSE_TLS_CA,     /* the server's certificate is not trusted (CA setting), or the CA file is unusable */
    FWT_CAUSE_TLS_PIN,    /* the server's public key is not the pinned one */
    FWT_CAUSE_TLS_CLIENT, /* the client certificate or key is unusable */
};
/* Set the cause of the failure err just reported; returns err. */
fwt_err fwt_fail_cause(fwt_err err, enum fwt_cause cause);
enum fwt_cause fwt_cause(void);

/* Read a whole file (at most max bytes, else FWT_E_TOO_LARGE). *buf is NUL-terminated; free(). */
FWT_MUST_CHECK fwt_err fwt_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);

/*
 * Write a file atomically: temporary file in the same directory, write, fsync,
 * rename over path, fsync the directory. On failure path is unchanged.
 */
FWT_MUST_CHECK fwt_err fwt_write_file_atomic(const char *path, const void *buf, size_t len,
                                             unsigned mode);
/*
 * Who holds a lock on the file open as fd, when another process does: "pid
 * 1234 (fwtrust-agent --device d install v2.bin)" into buf (from /proc/locks
 * and the holder's command line, made printable and cut to fit). Returns 1
 * when found, 0 otherwise (buf ""; e.g. no /proc, or the lock was released).
 */
int fwt_lock_holder(int fd, char *buf, size_t n);

/* fsync the directory that contains path. */
FWT_MUST_CHECK fwt_err fwt_fsync_parent(const char *path);
/*
 * Create directory path and the missing ones above it (mkdir -p) with mode;
 * every component that exists must be a directory. FWT_E_IO names the one
 * that could not be created.
 */
FWT_MUST_CHECK fwt_err fwt_mkdirs(const char *path, unsigned mode);

/*
 * A persisted time floor (the TUF client's METADATA_DIR/time-floor, which the
 * device agent shares): decimal seconds since 1970 and a newline. read: *out 0
 * when the file does not exist; FWT_E_STATE when it is not such a number.
 * text: the file's contents for t into buf (returns its length; buf of 32).
 */
FWT_MUST_CHECK fwt_err fwt_time_floor_read(const char *path, int64_t *out);
size_t fwt_time_floor_text(int64_t t, char buf[32]);

/* Lower-case hex; out must hold 2*len+1. */
void fwt_hex_encode(const uint8_t *in, size_t len, char *out);
/* Exactly out_len bytes from 2*out_len hex digits; FWT_E_ARG otherwise. */
FWT_MUST_CHECK fwt_err fwt_hex_decode(const char *in, uint8_t *out, size_t out_len);

/* Decimal or 0x-hex unsigned numbers, whole string, with range checks. */
FWT_MUST_CHECK fwt_err fwt_parse_u64(const char *s, uint64_t max, uint64_t *out);
FWT_MUST_CHECK fwt_err fwt_parse_u32(const char *s, uint32_t *out);

/* Overflow-checked size arithmetic: 0 on success, -1 on overflow. */
static inline int fwt_add_size(size_t a, size_t b, size_t *out)
{
    if (a > (size_t)-1 - b) {
        return -1;
    }
    *out = a + b;
    return 0;
}

#endif /* FWT_UTIL_H */
