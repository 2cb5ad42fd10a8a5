/*
 * Unit tests of the delta engine's encoder (src/delta/encode.c): every method
 * round-trips through the decoder, auto keeps the smaller patch, edge sizes
 * (empty new image, identical images, base longer or shorter), bad arguments
 * refused, and the container and name mappings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fwtrust/fwt_util.h>

#include <fwtrust/fwt_delta.h>

/* Deterministic code-like data: a few opcodes and pointer-like words, so patches pay. */
static uint8_t *make_data(size_t n, uint32_t seed)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245U + 12345U;
        b[i] = (i % 4 == 3) ? (uint8_t)(i >> 10) : (uint8_t)("\x10\x20\x47\x70\xbd\xe8"[(x >> 16) % 6]);
    }
    return b;
}

/* nw: base with an insertion, a deletion and shifted pointer-like bytes. */
static uint8_t *make_new(const uint8_t *base, size_t bn, size_t *nn)
{
    *nn = bn + 300;
    uint8_t *nw = malloc(*nn);
    assert_non_null(nw);
    memcpy(nw, base, bn / 3);
    memset(nw + bn / 3, 0xa5, 500);
    memcpy(nw + bn / 3 + 500, base + bn / 3 + 200, bn - bn / 3 - 200);
    for (size_t i = bn / 2; i < *nn; i += 64) {
        nw[i] = (uint8_t)(nw[i] + 4);
    }
    return nw;
}

static uint64_t g_progress_last;
static int g_progress_calls;

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    assert_ptr_equal(ctx, &g_progress_calls);
    assert_true(done <= total);
    assert_true(g_progress_calls == 0 || done >= g_progress_last);
    g_progress_last = done;
    g_progress_calls++;
}

/* Patch nw against base with method; decode it and compare; return the frame's length. */
static size_t patch_roundtrip(const uint8_t *base, size_t bn, const uint8_t *nw, size_t nn,
                              enum fwt_delta_method me, enum fwt_dec_method *used)
{
    uint8_t *z = NULL, *dec = NULL;
    size_t zlen = 0;
    g_progress_calls = 0;
    assert_int_equal(fwt_delta_patch(base, bn, nw, nn, 3, me, 0, progress, &g_progress_calls, &z,
                                     &zlen, used),
                     FWT_OK);
    assert_non_null(z);
    if (me == FWT_DELTA_PREFIX) {
        assert_int_equal(*used, FWT_DEC_PREFIX);
        assert_int_equal(g_progress_calls, 0);
    } else {
        assert_true(g_progress_calls >= (nn ? 2 : 1)); /* start and end (one call when empty) */
        assert_int_equal(g_progress_last, nn);
    }
    if (me == FWT_DELTA_BSDIFF) {
        assert_int_equal(*used, FWT_DEC_BSDIFF);
    }
    if (me == FWT_DELTA_BSDIFF2) {
        assert_int_equal(*used, FWT_DEC_BSDIFF2);
        struct fwt_delta_pre pre;
        assert_int_equal(fwt_delta_pre_parse(z, zlen, &pre), FWT_OK);
    }
    assert_int_equal(fwt_delta_decode(z, zlen, *used, base, bn, nn, 0, &dec), FWT_OK);
    assert_memory_equal(dec, nw, nn);
    /* The frame inside a container decodes the same (the header is skipped). */
    uint8_t *file = NULL;
    size_t flen = 0;
    assert_int_equal(fwt_delta_container("{}", 2, z, zlen, &file, &flen), FWT_OK);
    assert_int_equal(flen, 8 + FWT_ENC_TAG_LEN + 2 + zlen);
    free(dec);
    dec = NULL;
    assert_int_equal(fwt_delta_decode(file, flen, *used, base, bn, nn, 0, &dec), FWT_OK);
    assert_memory_equal(dec, nw, nn);
    free(file);
    free(dec);
    free(z);
    return zlen;
}

/* What auto keeps of the three: bsdiff2 only when strictly smaller, bsdiff on a tie with prefix. */
static size_t auto_pick(size_t lp, size_t lb, size_t l2, enum fwt_dec_method *m)
{
    size_t old = lb <= lp ? lb : lp;
    *m = l2 < old ? FWT_DEC_BSDIFF2 : lb <= lp ? FWT_DEC_BSDIFF : FWT_DEC_PREFIX;
    return l2 < old ? l2 : old;
}

static void test_methods_roundtrip(void **state)
{
    (void)state;
    size_t bn = 200000, nn;
    uint8_t *base = make_data(bn, 1);
    uint8_t *nw = make_new(base, bn, &nn);
    enum fwt_dec_method used;
    size_t lp = patch_roundtrip(base, bn, nw, nn, FWT_DELTA_PREFIX, &used);
    size_t lb = patch_roundtrip(base, bn, nw, nn, FWT_DELTA_BSDIFF, &used);
    size_t l2 = patch_roundtrip(base, bn, nw, nn, FWT_DELTA_BSDIFF2, &used);
    size_t la = patch_roundtrip(base, bn, nw, nn, FWT_DELTA_AUTO, &used);
    /* auto keeps the smallest (see auto_pick), and it is that very frame. */
    enum fwt_dec_method want;
    assert_int_equal(la, auto_pick(lp, lb, l2, &want));
    assert_int_equal(used, want);
    /* A patch is much smaller than the image compressed alone. */
    uint8_t *z = NULL, *dec = NULL;
    size_t zlen = 0;
    assert_int_equal(fwt_delta_compress(nw, nn, 3, &z, &zlen), FWT_OK);
    assert_true(la * 4 < zlen);
    assert_int_equal(fwt_delta_decode(z, zlen, FWT_DEC_PLAIN, NULL, 0, nn, 0, &dec), FWT_OK);
    assert_memory_equal(dec, nw, nn);
    free(dec);
    free(z);
    free(nw);
    free(base);
}

static void test_auto_keeps_smaller(void **state)
{
    (void)state;
    /* Unrelated random-like data: bsdiff finds nothing; whichever is smaller is kept. And
     * a small edit of code: the two kinds differ; auto equals the minimum in both. */
    size_t n = 50000, nn;
    uint8_t *a = make_data(n, 11), *b = make_data(n, 12);
    uint8_t *c = make_new(a, n, &nn);
    const uint8_t *news[2] = {b, c};
    size_t lens[2] = {n, nn};
    for (int i = 0; i < 2; i++) {
        enum fwt_dec_method used, ua;
        size_t lp = patch_roundtrip(a, n, news[i], lens[i], FWT_DELTA_PREFIX, &used);
        size_t lb = patch_roundtrip(a, n, news[i], lens[i], FWT_DELTA_BSDIFF, &used);
        size_t l2 = patch_roundtrip(a, n, news[i], lens[i], FWT_DELTA_BSDIFF2, &used);
        size_t la = patch_roundtrip(a, n, news[i], lens[i], FWT_DELTA_AUTO, &ua);
        enum fwt_dec_method want;
        assert_int_equal(la, auto_pick(lp, lb, l2, &want));
        assert_int_equal(ua, want);
    }
    free(a);
    free(b);
    free(c);
}

static void test_edge_sizes(void **state)
{
    (void)state;
    size_t n = 30000;
    uint8_t *a = make_data(n, 5);
    static const enum fwt_delta_method ms[] = {FWT_DELTA_PREFIX, FWT_DELTA_BSDIFF, FWT_DELTA_BSDIFF2,
                                               FWT_DELTA_AUTO};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        enum fwt_dec_method used;
        /* Empty new image. */
        patch_roundtrip(a, n, a, 0, ms[i], &used);
        /* Identical: a tiny patch (bsdiff and auto; the prefix method, byte-identical to
         * what it always made, does not find the base's matches in images this small). */
        size_t same = patch_roundtrip(a, n, a, n, ms[i], &used);
        if (ms[i] != FWT_DELTA_PREFIX && same >= 200) {
            fail_msg("method %zu: %zu bytes to say nothing changed", i, same);
        }
        /* Base longer than the new image (new is a prefix, and a middle part). */
        patch_roundtrip(a, n, a, n / 3, ms[i], &used);
        patch_roundtrip(a, n, a + n / 4, n / 2, ms[i], &used);
        /* Base shorter than the new image (one byte; a third). */
        patch_roundtrip(a, 1, a, n, ms[i], &used);
        patch_roundtrip(a, n / 3, a, n, ms[i], &used);
    }
    /* Empty image compressed. */
    uint8_t *z = NULL, *dec = NULL;
    size_t zlen = 0;
    assert_int_equal(fwt_delta_compress(a, 0, 1, &z, &zlen), FWT_OK);
    assert_int_equal(fwt_delta_decode(z, zlen, FWT_DEC_PLAIN, NULL, 0, 0, 0, &dec), FWT_OK);
    free(dec);
    free(z);
    free(a);
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t a[64] = {1, 2, 3};
    uint8_t *z = (uint8_t *)1, *dec = NULL;
    size_t zlen = 7;
    enum fwt_dec_method used;
    /* Empty base: a patch needs one. */
    assert_int_equal(fwt_delta_patch(a, 0, a, sizeof(a), 3, FWT_DELTA_AUTO, 0, NULL, NULL, &z, &zlen,
                                     &used),
                     FWT_E_ARG);
    assert_null(z);
    assert_non_null(strstr(fwt_detail(), "base"));
    assert_int_equal(fwt_delta_patch(NULL, 5, a, sizeof(a), 3, FWT_DELTA_AUTO, 0, NULL, NULL, &z,
                                     &zlen, &used),
                     FWT_E_ARG);
    /* Bad method, bad levels. */
    assert_int_equal(fwt_delta_patch(a, sizeof(a), a, sizeof(a), 3, (enum fwt_delta_method)5, 0,
                                     NULL, NULL, &z, &zlen, &used),
                     FWT_E_ARG);
    assert_int_equal(fwt_delta_patch(a, sizeof(a), a, sizeof(a), 0, FWT_DELTA_AUTO, 0, NULL, NULL,
                                     &z, &zlen, &used),
                     FWT_E_ARG);
    assert_int_equal(fwt_delta_compress(a, sizeof(a), FWT_DELTA_LEVEL_MAX + 1, &z, &zlen),
                     FWT_E_ARG);
    assert_null(z);
    /* Base and new together above the window a device accepts. */
    assert_int_equal(fwt_delta_patch(a, sizeof(a), a, (size_t)1 << FWT_ENC_PATCH_WINDOWLOG_MAX, 3,
                                     FWT_DELTA_AUTO, 0, NULL, NULL, &z, &zlen, &used),
                     FWT_E_TOO_LARGE);
    /* The decoder refuses a patch against another base, and a wrong length. */
    size_t n = 20000, nn;
    uint8_t *base = make_data(n, 21), *other = make_data(n, 22);
    uint8_t *nw = make_new(base, n, &nn);
    static const enum fwt_delta_method ms[] = {FWT_DELTA_PREFIX, FWT_DELTA_BSDIFF};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(fwt_delta_patch(base, n, nw, nn, 3, ms[i], 0, NULL, NULL, &z, &zlen, &used),
                         FWT_OK);
        /* A prefix patch's frame checksum covers the output: refused. bsdiff records carry
         * no digest of the base: they decode to other bytes (the SHA-256 of the decoded
         * image, checked by the agent and `fwtrust delta --apply`, catches that). */
        fwt_err e = fwt_delta_decode(z, zlen, used, other, n, nn, 0, &dec);
        if (used == FWT_DEC_PREFIX) {
            assert_int_equal(e, FWT_E_MALFORMED);
            assert_null(dec);
        } else {
            assert_true(e != FWT_OK || memcmp(dec, nw, nn) != 0);
            free(dec);
            dec = NULL;
        }
        assert_int_equal(fwt_delta_decode(z, zlen, used, base, n, nn - 1, 0, &dec), FWT_E_TOO_LARGE);
        assert_int_equal(fwt_delta_decode(z, zlen, used, base, n, nn + 1, 0, &dec), FWT_E_MALFORMED);
        assert_int_equal(fwt_delta_decode(z, zlen - 1, used, base, n, nn, 0, &dec), FWT_E_MALFORMED);
        assert_null(dec);
        free(z);
    }
    free(nw);
    free(other);
    free(base);
}

static void test_names(void **state)
{
    (void)state;
    static const enum fwt_dec_method ms[] = {FWT_DEC_PLAIN, FWT_DEC_PREFIX, FWT_DEC_BSDIFF,
                                             FWT_DEC_BSDIFF2};
    static const char *const names[] = {FWT_ENC_ZSTD, FWT_ENC_PATCH, FWT_ENC_BSDIFF,
                                        FWT_ENC_BSDIFF2};
    for (size_t i = 0; i < 4; i++) {
        enum fwt_dec_method m = (enum fwt_dec_method)99;
        assert_string_equal(fwt_delta_encoding_name(ms[i]), names[i]);
        assert_int_equal(fwt_delta_encoding_parse(names[i], &m), FWT_OK);
        assert_int_equal(m, ms[i]);
    }
    enum fwt_dec_method m;
    assert_int_equal(fwt_delta_encoding_parse(NULL, &m), FWT_E_UNSUPPORTED);
    assert_int_equal(fwt_delta_encoding_parse(FWT_ENC_NONE, &m), FWT_E_UNSUPPORTED);
    assert_int_equal(fwt_delta_encoding_parse("bsdiff", &m), FWT_E_UNSUPPORTED);
    assert_int_equal(fwt_delta_encoding_parse("ZSTD", &m), FWT_E_UNSUPPORTED);
    enum fwt_delta_method me = (enum fwt_delta_method)99;
    assert_int_equal(fwt_delta_method_parse("auto", &me), FWT_OK);
    assert_int_equal(me, FWT_DELTA_AUTO);
    assert_int_equal(fwt_delta_method_parse("prefix", &me), FWT_OK);
    assert_int_equal(me, FWT_DELTA_PREFIX);
    assert_int_equal(fwt_delta_method_parse("bsdiff", &me), FWT_OK);
    assert_int_equal(me, FWT_DELTA_BSDIFF);
    assert_int_equal(fwt_delta_method_parse("bsdiff2", &me), FWT_OK);
    assert_int_equal(me, FWT_DELTA_BSDIFF2);
    assert_int_equal(fwt_delta_method_parse("lzma2-dict", &me), FWT_OK);
    assert_int_equal(me, FWT_DELTA_LZDICT);
    assert_int_equal(fwt_delta_method_parse("zstd-bsdiff", &me), FWT_E_ARG);
    assert_int_equal(fwt_delta_method_parse(NULL, &me), FWT_E_ARG);
    /* The container: the skippable frame, its length, the tag, the JSON; oversized refused. */
    uint8_t *f = NULL;
    size_t flen = 0;
    assert_int_equal(fwt_delta_container("{\"a\":1}", 7, (const uint8_t *)"ZZ", 2, &f, &flen),
                     FWT_OK);
    assert_int_equal(flen, 8 + 8 + 7 + 2);
    assert_memory_equal(f, "\x5e\x2a\x4d\x18\x0f\x00\x00\x00" FWT_ENC_TAG "{\"a\":1}ZZ", flen);
    free(f);
    char *big = malloc(FWT_ENC_JSON_MAX + 1);
    assert_non_null(big);
    memset(big, ' ', FWT_ENC_JSON_MAX + 1);
    assert_int_equal(fwt_delta_container(big, FWT_ENC_JSON_MAX + 1, (const uint8_t *)"ZZ", 2, &f,
                                         &flen),
                     FWT_E_INTERNAL);
    assert_null(f);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_methods_roundtrip),
        cmocka_unit_test(test_auto_keeps_smaller),
        cmocka_unit_test(test_edge_sizes),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
