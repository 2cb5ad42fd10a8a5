/*
 * Secrets from files: PINs, passphrases, private key PEM files (secret.h).
 * open/read into buffers we cleanse on every path; no stdio, no realloc.
 */
#include "secret.h"

#include <fwtrust/fwt_util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* First allocation; a PIN or passphrase file fits, a PEM key grows once or twice. */
#define SECRET_FIRST_CAP 1024U

void fwt_secret_free(uint8_t *buf, size_t len)
{
    if (buf != NULL) {
        fwt_zeroize(buf, len + 1);
        free(buf);
    }
}

/* A buffer of ncap + 1 bytes holding the n bytes of *b; the old one cleansed and freed. */
static int grow(uint8_t **b, size_t n, size_t ncap)
{
    uint8_t *nb = malloc(ncap + 1);
    if (nb == NULL) {
        return -1;
    }
    memcpy(nb, *b, n);
    fwt_secret_free(*b, n);
    *b = nb;
    return 0;
}

fwt_err fwt_secret_read_file(const char *path, const char *what, size_t max, uint8_t **buf,
                             size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (path == NULL || max == 0 || max >= (size_t)-1 / 2) {
        return fwt_fail(FWT_E_ARG, "no %s file, or a bad size limit", what);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return fwt_fail(e == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "cannot read the %s file %s: %s",
                        what, path, strerror(e));
    }
    /* Room for max + 1 bytes: one byte past the limit tells a file that is too large. */
    size_t cap = max + 1 < SECRET_FIRST_CAP ? max + 1 : SECRET_FIRST_CAP, n = 0;
    uint8_t *b = malloc(cap + 1);
    fwt_err err = FWT_OK;
    if (b == NULL) {
        err = fwt_fail(FWT_E_NOMEM, "%s file %s: out of memory", what, path);
    }
    while (err == FWT_OK) {
        if (n == cap) {
            if (n > max) {
                err = fwt_fail(FWT_E_TOO_LARGE, "the %s file %s is larger than %zu bytes", what,
                               path, max);
                break;
            }
            size_t ncap = cap * 2 < max + 1 ? cap * 2 : max + 1;
            if (grow(&b, n, ncap) != 0) {
                err = fwt_fail(FWT_E_NOMEM, "%s file %s: out of memory", what, path);
                break;
            }
            cap = ncap;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            err = fwt_fail(FWT_E_IO, "cannot read the %s file %s: %s", what, path, strerror(errno));
        } else if (r == 0) {
            break;
        } else {
            n += (size_t)r;
        }
    }
    close(fd);
    if (err != FWT_OK) {
        fwt_secret_free(b, n);
        return err;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return FWT_OK;
}

fwt_err fwt_secret_read_line(const char *path, const char *what, char *out, size_t out_cap,
                             size_t *n_out)
{
    if (out == NULL || out_cap < 2) {
        return fwt_fail(FWT_E_ARG, "no room for the %s", what);
    }
    fwt_zeroize(out, out_cap);
    if (n_out != NULL) {
        *n_out = 0;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = fwt_secret_read_file(path, what, FWT_SECRET_FILE_MAX, &buf, &len);
    if (err != FWT_OK) {
        return err;
    }
    const uint8_t *nl = memchr(buf, '\n', len);
    size_t n = nl != NULL ? (size_t)(nl - buf) : len;
    if (n > 0 && buf[n - 1] == '\r') {
        n--;
    }
    if (n == 0) {
        err = fwt_fail(FWT_E_ARG, "the %s file %s is empty (its first line is the %s)", what, path,
                       what);
    } else if (n >= out_cap) {
        err = fwt_fail(FWT_E_ARG, "the %s in %s is longer than %zu bytes", what, path, out_cap - 1);
    } else {
        memcpy(out, buf, n);
        out[n] = '\0';
        if (n_out != NULL) {
            *n_out = n;
        }
    }
    fwt_secret_free(buf, len);
    return err;
}
