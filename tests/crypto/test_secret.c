/*
 * Secret files (src/crypto/secret.c): PIN and passphrase lines, whole key
 * files, their size limits and errors; and that no copy of a secret reaches
 * stdio or the heap allocator unscrubbed. free, realloc and fopen are wrapped
 * at link time (-Wl,--wrap): while a check runs, a block handed to free or
 * realloc that still holds the secret's marker, or an fopen of a secret file,
 * is counted. The keys code is driven through the public API (an encrypted
 * PEM key and its passphrase file) as well as the helper itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "scratch.h"

#include "crypto/secret.h"
#include <fwtrust/fwt_util.h>

/* ---- the wrapped allocator and stdio ---- */

void __real_free(void *p);
void *__real_realloc(void *p, size_t n);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__real_fopen64(const char *path, const char *mode);
void __wrap_free(void *p);
void *__wrap_realloc(void *p, size_t n);
FILE *__wrap_fopen(const char *path, const char *mode);
FILE *__wrap_fopen64(const char *path, const char *mode);

static int g_watch;             /* checking now */
static const char *g_marker;    /* the secret's bytes to look for */
static unsigned g_dirty_frees;  /* free() of a block holding the marker */
static unsigned g_dirty_reallocs;
static unsigned g_stdio_opens;  /* fopen of a file in ts_dir */

static int holds_marker(void *p)
{
    if (p == NULL || g_marker == NULL) {
        return 0;
    }
    size_t n = malloc_usable_size(p);
    return memmem(p, n, g_marker, strlen(g_marker)) != NULL;
}

void __wrap_free(void *p)
{
    if (g_watch && holds_marker(p)) {
        g_dirty_frees++;
    }
    __real_free(p);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (g_watch && holds_marker(p)) {
        g_dirty_reallocs++;
    }
    return __real_realloc(p, n);
}

static void note_open(const char *path)
{
    if (g_watch && path != NULL && strncmp(path, ts_dir, strlen(ts_dir)) == 0) {
        g_stdio_opens++;
    }
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
    note_open(path);
    return __real_fopen(path, mode);
}

FILE *__wrap_fopen64(const char *path, const char *mode)
{
    note_open(path);
    return __real_fopen64(path, mode);
}

static void watch(const char *marker)
{
    g_marker = marker;
    g_dirty_frees = g_dirty_reallocs = g_stdio_opens = 0;
    g_watch = 1;
}

static void assert_clean(void)
{
    g_watch = 0;
    assert_int_equal(g_stdio_opens, 0);
    assert_int_equal(g_dirty_reallocs, 0);
    assert_int_equal(g_dirty_frees, 0);
}

/* ---- files ---- */

/* Write with write(2) from the caller's buffer: no heap copy of the secret. */
static void put(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void put_text(const char *path, const char *text)
{
    put(path, text, strlen(text));
}

/* A file of n bytes: the marker over and over. */
static void put_marked(const char *path, const char *marker, size_t n)
{
    static char buf[200000];
    size_t m = strlen(marker);
    assert_true(n <= sizeof(buf));
    for (size_t i = 0; i < n; i++) {
        buf[i] = marker[i % m];
    }
    put(path, buf, n);
    memset(buf, 0, n);
}

static void expect_line(const char *text, const char *want)
{
    const char *p = ts_path("line");
    put_text(p, text);
    char out[16];
    size_t n = 99;
    assert_int_equal(fwt_secret_read_line(p, "PIN", out, sizeof(out), &n), FWT_OK);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void expect_line_err(const char *path, size_t cap, fwt_err want, const char *why)
{
    char out[64];
    memset(out, 'x', sizeof(out));
    size_t n = 99;
    assert_true(cap <= sizeof(out));
    fwt_err e = fwt_secret_read_line(path, "PIN", out, cap, &n);
    if (e != want || strstr(fwt_detail(), why) == NULL) {
        fprintf(stderr, "got %s (%s), want %s '%s'\n", fwt_err_name(e), fwt_detail(),
                fwt_err_name(want), why);
    }
    assert_int_equal(e, want);
    assert_non_null(strstr(fwt_detail(), why));
    assert_int_equal(n, 0);
    for (size_t i = 0; i < cap; i++) {
        assert_int_equal(out[i], 0); /* nothing of the file left in out */
    }
}

/* The first line, without "\n" or "\r\n"; what follows it is ignored. */
static void test_line_newlines(void **state)
{
    (void)state;
    expect_line("1234", "1234");
    expect_line("1234\n", "1234");
    expect_line("1234\r\n", "1234");
    expect_line("1234\nsecond line\n", "1234");
    expect_line("12\r34\n", "12\r34");
    expect_line(" pass word \n", " pass word ");
}

static void test_line_limits(void **state)
{
    (void)state;
    const char *p = ts_path("limits");
    /* out holds 15 bytes and the NUL */
    put_text(p, "123456789012345\n");
    char out[16];
    size_t n = 0;
    assert_int_equal(fwt_secret_read_line(p, "PIN", out, sizeof(out), &n), FWT_OK);
    assert_int_equal(n, 15);
    put_text(p, "1234567890123456\n");
    expect_line_err(p, 16, FWT_E_ARG, "the PIN in");
    expect_line_err(p, 16, FWT_E_ARG, "is longer than 15 bytes");
    /* empty */
    put_text(p, "");
    expect_line_err(p, 16, FWT_E_ARG, "is empty");
    put_text(p, "\n1234\n");
    expect_line_err(p, 16, FWT_E_ARG, "is empty");
    put_text(p, "\r\n");
    expect_line_err(p, 16, FWT_E_ARG, "is empty");
    /* a file of FWT_SECRET_FILE_MAX bytes is read, one more byte is too large */
    static char big[FWT_SECRET_FILE_MAX + 1];
    memset(big, '#', sizeof(big));
    memcpy(big, "1234\n", 5);
    put(p, big, FWT_SECRET_FILE_MAX);
    assert_int_equal(fwt_secret_read_line(p, "PIN", out, sizeof(out), &n), FWT_OK);
    assert_string_equal(out, "1234");
    put(p, big, FWT_SECRET_FILE_MAX + 1);
    expect_line_err(p, 16, FWT_E_TOO_LARGE, "larger than 4096 bytes");
}

static void test_line_unreadable(void **state)
{
    (void)state;
    expect_line_err(ts_path("none"), 16, FWT_E_NOT_FOUND, "cannot read the PIN file");
    /* a directory opens but cannot be read */
    const char *d = ts_path("adir");
    assert_int_equal(mkdir(d, 0700), 0);
    expect_line_err(d, 16, FWT_E_IO, "cannot read the PIN file");
    if (geteuid() != 0) { /* root reads anything */
        const char *p = ts_path("noperm");
        put_text(p, "1234\n");
        assert_int_equal(chmod(p, 0), 0);
        expect_line_err(p, 16, FWT_E_IO, "Permission denied");
    }
}

/* Whole files of every size around the buffer's growth steps, and the limit. */
static void test_file_sizes(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 1023, 1024, 1025, 2048, 2049, 4096, 5000, 65535, 65536};
    static char want[65536];
    for (size_t i = 0; i < sizeof(want); i++) {
        want[i] = (char)('a' + i % 23);
    }
    const char *p = ts_path("sizes");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        put(p, want, sizes[i]);
        uint8_t *b = NULL;
        size_t n = 0;
        assert_int_equal(fwt_secret_read_file(p, "key", 65536, &b, &n), FWT_OK);
        assert_int_equal(n, sizes[i]);
        assert_memory_equal(b, want, n);
        assert_int_equal(b[n], 0);
        fwt_secret_free(b, n);
        /* a limit one byte under the size: too large */
        if (sizes[i] > 1) {
            b = (uint8_t *)1;
            assert_int_equal(fwt_secret_read_file(p, "key", sizes[i] - 1, &b, &n), FWT_E_TOO_LARGE);
            assert_null(b);
            assert_non_null(strstr(fwt_detail(), "the key file"));
        }
    }
    /* an endless file stops at the limit */
    uint8_t *b = NULL;
    size_t n = 0;
    assert_int_equal(fwt_secret_read_file("/dev/zero", "key", 10000, &b, &n), FWT_E_TOO_LARGE);
    assert_null(b);
}

/* No stdio, no unscrubbed free or realloc, on success and on every error. */
static void test_helper_cleanses(void **state)
{
    (void)state;
    static const char marker[] = "Qm7-not-a-real-secret-zX4";
    const char *p = ts_path("marked");
    char out[64];
    uint8_t *b = NULL;
    size_t n = 0;
    static const size_t sizes[] = {100, 1500, 5000, 70000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        put_marked(p, marker, sizes[i]);
        watch(marker);
        /* growth to the full size */
        assert_int_equal(fwt_secret_read_file(p, "key", 100000, &b, &n), FWT_OK);
        assert_int_equal(n, sizes[i]);
        fwt_secret_free(b, n);
        /* too large: the partial buffer */
        if (fwt_secret_read_file(p, "key", sizes[i] - 1, &b, &n) != FWT_E_TOO_LARGE) {
            fail();
        }
        /* a line: too long (no newline in the file), or a file too large */
        if (fwt_secret_read_line(p, "PIN", out, sizeof(out), NULL) == FWT_OK) {
            fail();
        }
        assert_clean();
    }
    put_text(p, "Qm7-not-a-real-secret-zX4\n");
    watch(marker);
    assert_int_equal(fwt_secret_read_line(p, "PIN", out, sizeof(out), NULL), FWT_OK);
    assert_clean();
    assert_string_equal(out, marker);
    memset(out, 0, sizeof(out));
}

/* The keys code: generating and loading an encrypted key with a passphrase file. */
static void test_keys_cleanse(void **state)
{
    (void)state;
    static const char pass[] = "Kp2-passphrase-marker-9vB";
    const char *pf = ts_path("pass");
    const char *kf = ts_path("enc.pem");
    put_text(pf, "Kp2-passphrase-marker-9vB\n");
    watch(pass);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P256, kf, pf), FWT_OK);
    assert_clean();
    struct fwt_key_opts ko = {pf, NULL, NULL};
    fwt_privkey *k = NULL;
    watch(pass);
    assert_int_equal(fwt_privkey_load(kf, &ko, &k), FWT_OK);
    assert_clean();
    fwt_privkey_free(k);
    /* The key file: pad it past the first buffer with text before the PEM (which PEM
     * readers skip) and watch for a piece of its body. */
    uint8_t *pem = NULL;
    size_t pem_len = 0;
    assert_int_equal(fwt_secret_read_file(kf, "key", 65536, &pem, &pem_len), FWT_OK);
    const char *body = strchr((const char *)pem, '\n');
    assert_non_null(body);
    char piece[41];
    memcpy(piece, body + 1, 40);
    piece[40] = 0;
    static char padded[16384];
    size_t pad = 6000;
    memset(padded, '#', pad);
    for (size_t i = 79; i < pad; i += 80) {
        padded[i] = '\n';
    }
    padded[pad - 1] = '\n';
    assert_true(pad + pem_len <= sizeof(padded));
    memcpy(padded + pad, pem, pem_len);
    const char *big = ts_path("padded.pem");
    put(big, padded, pad + pem_len);
    memset(padded, 0, sizeof(padded));
    fwt_secret_free(pem, pem_len);
    watch(piece);
    assert_int_equal(fwt_privkey_load(big, &ko, &k), FWT_OK);
    assert_clean();
    fwt_privkey_free(k);
    /* a wrong passphrase, an empty passphrase file, a missing one */
    const char *wrong = ts_path("wrong");
    put_text(wrong, "Kp2-passphrase-marker-9vC\n");
    struct fwt_key_opts kw = {wrong, NULL, NULL};
    watch("Kp2-passphrase-marker-9vC");
    assert_int_equal(fwt_privkey_load(kf, &kw, &k), FWT_E_KEY);
    assert_clean();
    assert_non_null(strstr(fwt_detail(), "wrong passphrase"));
    put_text(wrong, "\n");
    assert_int_equal(fwt_privkey_load(kf, &kw, &k), FWT_E_ARG);
    assert_non_null(strstr(fwt_detail(), "the passphrase file"));
    assert_non_null(strstr(fwt_detail(), "is empty"));
    struct fwt_key_opts km = {ts_path("no-pass"), NULL, NULL};
    assert_int_equal(fwt_privkey_load(kf, &km, &k), FWT_E_NOT_FOUND);
    assert_non_null(strstr(fwt_detail(), "cannot read the passphrase file"));
    /* a key file too large */
    put_marked(big, piece, 70000);
    watch(piece);
    assert_int_equal(fwt_privkey_load(big, &ko, &k), FWT_E_KEY);
    assert_clean();
    assert_non_null(strstr(fwt_detail(), "too large for a key file"));
    assert_null(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_newlines),   cmocka_unit_test(test_line_limits),
        cmocka_unit_test(test_line_unreadable), cmocka_unit_test(test_file_sizes),
        cmocka_unit_test(test_helper_cleanses), cmocka_unit_test(test_keys_cleanse),
    };
    return cmocka_run_group_tests(tests, ts_setup, ts_teardown);
}
