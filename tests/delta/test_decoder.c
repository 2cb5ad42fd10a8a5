/*
 * Unit tests of the delta engine's streaming decoder (src/delta/decode.c):
 * chunking, patch kinds, wrong base, bounds, malformed input refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include <fwtrust/fwt_util.h>

#include <fwtrust/fwt_delta.h>

struct out {
    uint8_t *buf;
    size_t len, cap;
    int fail_after; /* >0: the sink fails once this many bytes arrived */
};

static fwt_err sink(void *ctx, const uint8_t *data, size_t len)
{
    struct out *o = ctx;
    if (o->fail_after > 0 && o->len + len > (size_t)o->fail_after) {
        return fwt_fail(FWT_E_IO, "sink full");
    }
    if (o->len + len > o->cap) {
        o->cap = (o->len + len) * 2;
        o->buf = realloc(o->buf, o->cap);
        assert_non_null(o->buf);
    }
    memcpy(o->buf + o->len, data, len);
    o->len += len;
    return FWT_OK;
}

/* Deterministic test data: text-like with repeats, so it compresses. */
static uint8_t *make_data(size_t n, uint32_t seed)
{
    uint8_t *b = malloc(n);
    assert_non_null(b);
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245U + 12345U;
        b[i] = (uint8_t)("firmware image bytes "[(x >> 16) % 21] + ((i / 4096) % 3));
    }
    return b;
}

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Container: header frame (tag + "{}" JSON) then one zstd frame of data, with an optional prefix. */
static uint8_t *encode(const uint8_t *data, size_t n, const uint8_t *prefix, size_t plen, int wlog,
                       size_t *out_len)
{
    size_t cap = ZSTD_compressBound(n) + 64;
    uint8_t *b = malloc(cap);
    assert_non_null(b);
    const char *json = "{}";
    le32(b, FWT_ENC_SKIPPABLE_MAGIC);
    le32(b + 4, (uint32_t)(FWT_ENC_TAG_LEN + strlen(json)));
    memcpy(b + 8, FWT_ENC_TAG, FWT_ENC_TAG_LEN);
    memcpy(b + 8 + FWT_ENC_TAG_LEN, json, strlen(json));
    size_t off = 8 + FWT_ENC_TAG_LEN + strlen(json);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    assert_non_null(cc);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3)));
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1)));
    if (wlog) {
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, wlog)));
    }
    if (prefix) {
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_enableLongDistanceMatching, 1)));
        assert_false(ZSTD_isError(ZSTD_CCtx_refPrefix(cc, prefix, plen)));
    }
    size_t rc = ZSTD_compress2(cc, b + off, cap - off, data, n);
    assert_false(ZSTD_isError(rc));
    ZSTD_freeCCtx(cc);
    *out_len = off + rc;
    return b;
}

/* The method run_dec uses with a prefix (PREFIX unless a test sets BSDIFF). */
static enum fwt_dec_method g_method = FWT_DEC_PLAIN;

/* Feed in chunks of `chunk` bytes; return feed/end result. */
static fwt_err run_dec(const uint8_t *in, size_t n, size_t chunk, const uint8_t *prefix,
                       size_t plen, uint64_t max_out, struct out *o)
{
    fwt_dec *d = NULL;
    fwt_err err = fwt_dec_new(g_method != FWT_DEC_PLAIN ? g_method : prefix ? FWT_DEC_PREFIX : FWT_DEC_PLAIN,
                              prefix, plen, max_out, sink, o, &d);
    assert_int_equal(err, FWT_OK);
    for (size_t i = 0; i < n && err == FWT_OK; i += chunk) {
        err = fwt_dec_feed(d, in + i, n - i < chunk ? n - i : chunk);
    }
    if (err == FWT_OK) {
        err = fwt_dec_end(d);
    }
    if (err == FWT_OK) {
        assert_int_equal(fwt_dec_out(d), o->len);
    }
    fwt_dec_free(d);
    return err;
}

static void test_roundtrip_chunks(void **state)
{
    (void)state;
    size_t n = 700000, elen;
    uint8_t *data = make_data(n, 1);
    uint8_t *enc = encode(data, n, NULL, 0, 0, &elen);
    static const size_t chunks[] = {1, 7, 4096, 1 << 20};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        if (chunks[c] == 1 && elen > 200000) {
            continue;
        }
        struct out o = {0};
        assert_int_equal(run_dec(enc, elen, chunks[c], NULL, 0, n, &o), FWT_OK);
        assert_int_equal(o.len, n);
        assert_memory_equal(o.buf, data, n);
        free(o.buf);
    }
    /* Byte by byte on a small input too. */
    size_t slen;
    uint8_t *small = encode(data, 5000, NULL, 0, 0, &slen);
    struct out o = {0};
    assert_int_equal(run_dec(small, slen, 1, NULL, 0, 5000, &o), FWT_OK);
    assert_memory_equal(o.buf, data, 5000);
    free(o.buf);
    /* Without the header frame (plain zstd) it decodes as well. */
    size_t hdr = 8 + FWT_ENC_TAG_LEN + 2;
    o = (struct out){0};
    assert_int_equal(run_dec(enc + hdr, elen - hdr, 4096, NULL, 0, n, &o), FWT_OK);
    assert_int_equal(o.len, n);
    free(o.buf);
    free(small);
    free(enc);
    free(data);
}

static void test_patch(void **state)
{
    (void)state;
    size_t n = 300000, elen, flen;
    uint8_t *base = make_data(n, 7);
    uint8_t *nw = malloc(n + 1000);
    assert_non_null(nw);
    /* The new image: the base with an insertion and a few changed bytes. */
    memcpy(nw, base, 1000);
    memset(nw + 1000, 0x5a, 1000);
    memcpy(nw + 2000, base + 1000, n - 1000);
    nw[150000] ^= 0xff;
    uint8_t *patch = encode(nw, n + 1000, base, n, 0, &elen);
    uint8_t *full = encode(nw, n + 1000, NULL, 0, 0, &flen);
    assert_true(elen * 10 < flen); /* a patch is much smaller than the compressed image */
    struct out o = {0};
    assert_int_equal(run_dec(patch, elen, 1000, base, n, n + 1000, &o), FWT_OK);
    assert_int_equal(o.len, n + 1000);
    assert_memory_equal(o.buf, nw, n + 1000);
    free(o.buf);
    /* Another base: the frame's checksum (or its structure) catches it. */
    uint8_t *other = make_data(n, 8);
    o = (struct out){0};
    assert_int_equal(run_dec(patch, elen, 4096, other, n, n + 1000, &o), FWT_E_MALFORMED);
    free(o.buf);
    /* No base at all. */
    o = (struct out){0};
    assert_int_equal(run_dec(patch, elen, 4096, NULL, 0, n + 1000, &o), FWT_E_MALFORMED);
    free(o.buf);
    free(other);
    free(patch);
    free(full);
    free(nw);
    free(base);
}

static void test_refusals(void **state)
{
    (void)state;
    size_t n = 100000, elen;
    uint8_t *data = make_data(n, 3);
    uint8_t *enc = encode(data, n, NULL, 0, 0, &elen);
    struct out o = {0};
    /* More output than the metadata allows: refused at the cap. */
    assert_int_equal(run_dec(enc, elen, 4096, NULL, 0, n - 1, &o), FWT_E_TOO_LARGE);
    assert_true(o.len <= n - 1);
    free(o.buf);
    /* Truncated. */
    o = (struct out){0};
    assert_int_equal(run_dec(enc, elen - 10, 4096, NULL, 0, n, &o), FWT_E_MALFORMED);
    assert_non_null(strstr(fwt_detail(), "ends before"));
    free(o.buf);
    /* Trailing bytes after the frame. */
    uint8_t *tail = malloc(elen + 3);
    assert_non_null(tail);
    memcpy(tail, enc, elen);
    memcpy(tail + elen, "abc", 3);
    o = (struct out){0};
    assert_int_equal(run_dec(tail, elen + 3, 4096, NULL, 0, n, &o), FWT_E_MALFORMED);
    free(o.buf);
    /* A second frame after the first is refused the same way (one image per target). */
    uint8_t *two = malloc(2 * elen);
    assert_non_null(two);
    memcpy(two, enc, elen);
    memcpy(two + elen, enc, elen);
    o = (struct out){0};
    assert_int_equal(run_dec(two, 2 * elen, 4096, NULL, 0, 2 * n, &o), FWT_E_MALFORMED);
    free(o.buf);
    /* Two header frames. */
    size_t hdr = 8 + FWT_ENC_TAG_LEN + 2;
    uint8_t *hh = malloc(elen + hdr);
    assert_non_null(hh);
    memcpy(hh, enc, hdr);
    memcpy(hh + hdr, enc, elen);
    o = (struct out){0};
    assert_int_equal(run_dec(hh, elen + hdr, 4096, NULL, 0, n, &o), FWT_E_MALFORMED);
    free(o.buf);
    /* An oversized header frame. */
    le32(hh + 4, FWT_ENC_TAG_LEN + FWT_ENC_JSON_MAX + 1);
    o = (struct out){0};
    assert_int_equal(run_dec(hh, elen + hdr, 4096, NULL, 0, n, &o), FWT_E_MALFORMED);
    free(o.buf);
    /* Not zstd at all. */
    memcpy(hh, "\x7f" "ELF\x02\x01\x01\x00", 8);
    o = (struct out){0};
    assert_int_equal(run_dec(hh, 64, 4096, NULL, 0, n, &o), FWT_E_MALFORMED);
    free(o.buf);
    /* Empty input. */
    o = (struct out){0};
    assert_int_equal(run_dec(enc, 0, 4096, NULL, 0, n, &o), FWT_E_MALFORMED);
    free(o.buf);
    /* The sink gets few, large writes (output is staged in 128 KiB), and its failure stops
     * the decoder and stays (sticky). */
    size_t bn = 400000, blen;
    uint8_t *big = make_data(bn, 4);
    uint8_t *benc = encode(big, bn, NULL, 0, 0, &blen);
    o = (struct out){0};
    o.fail_after = 200000;
    fwt_dec *d = NULL;
    assert_int_equal(fwt_dec_new(FWT_DEC_PLAIN, NULL, 0, bn, sink, &o, &d), FWT_OK);
    assert_int_equal(fwt_dec_feed(d, benc, blen), FWT_E_IO);
    assert_int_equal(o.len, ZSTD_DStreamOutSize()); /* one full chunk got through */
    assert_int_equal(fwt_dec_feed(d, benc, 1), FWT_E_IO);
    assert_int_equal(fwt_dec_end(d), FWT_E_IO);
    fwt_dec_free(d);
    free(o.buf);
    free(benc);
    free(big);
    /* Bad arguments. */
    assert_int_equal(fwt_dec_new(FWT_DEC_PREFIX, data, 0, n, sink, &o, &d), FWT_E_ARG);
    assert_int_equal(fwt_dec_new(FWT_DEC_PLAIN, data, n, n, sink, &o, &d), FWT_E_ARG);
    assert_int_equal(fwt_dec_new(FWT_DEC_BSDIFF, NULL, 0, n, sink, &o, &d), FWT_E_ARG);
    assert_int_equal(fwt_dec_new(FWT_DEC_PLAIN, NULL, 0, n, NULL, &o, &d), FWT_E_ARG);
    free(hh);
    free(two);
    free(tail);
    free(enc);
    free(data);
}

static void test_window_bound(void **state)
{
    (void)state;
    /* A compressed image asking for a 16 MiB window (above the 8 MiB bound) is refused. */
    size_t n = 9u << 20, elen;
    uint8_t *data = calloc(1, n);
    assert_non_null(data);
    data[n - 1] = 1;
    uint8_t *enc = encode(data, n, NULL, 0, 24, &elen);
    struct out o = {0};
    assert_int_equal(run_dec(enc, elen, 1 << 16, NULL, 0, n, &o), FWT_E_TOO_LARGE);
    assert_int_equal(o.len, 0);
    free(o.buf);
    /* Within the bound it decodes. */
    free(enc);
    enc = encode(data, n, NULL, 0, FWT_ENC_ZSTD_WINDOWLOG, &elen);
    o = (struct out){0};
    assert_int_equal(run_dec(enc, elen, 1 << 16, NULL, 0, n, &o), FWT_OK);
    assert_int_equal(o.len, n);
    free(o.buf);
    free(enc);
    free(data);
}

static fwt_err sink_none(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return FWT_OK;
}

/* fwt_delta_frame_window: the window the decoder's cap must allow, and what it refuses below. */
static void test_frame_window(void **state)
{
    (void)state;
    size_t n = 300000, elen;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++) {
        data[i] = (uint8_t)(i * 2654435761U >> 13);
    }
    uint8_t *enc = encode(data, n, NULL, 0, 0, &elen);
    const size_t off = 8 + FWT_ENC_TAG_LEN + 2; /* encode()'s header: "{}" */
    uint64_t need = 0;
    /* A single-segment frame: its window is the content size, rounded up to a power of two. */
    assert_int_equal(fwt_delta_frame_window(enc + off, FWT_ENC_FRAME_HEAD_MAX, FWT_DEC_PLAIN, 0,
                                            &need), FWT_OK);
    assert_int_equal(need, 512U << 10);
    uint8_t *out = NULL;
    assert_int_equal(fwt_delta_decode(enc, elen, FWT_DEC_PLAIN, NULL, 0, n, need, &out), FWT_OK);
    assert_memory_equal(out, data, n);
    free(out);
    out = NULL;
    fwt_dec *d = NULL;
    assert_int_equal(fwt_dec_new(FWT_DEC_PLAIN, NULL, 0, n, sink_none, NULL, &d), FWT_OK);
    assert_int_equal(fwt_dec_set_max_window(d, need - 1), FWT_OK);
    assert_int_equal(fwt_dec_window_refused(d), 0);
    assert_int_equal(fwt_dec_feed(d, enc, elen), FWT_E_TOO_LARGE);
    assert_int_equal(fwt_dec_window_refused(d), 1);
    fwt_dec_free(d);
    /* Output beyond max_out is FWT_E_TOO_LARGE too, but not a window refusal. */
    assert_int_equal(fwt_dec_new(FWT_DEC_PLAIN, NULL, 0, 10, sink_none, NULL, &d), FWT_OK);
    assert_int_equal(fwt_dec_feed(d, enc, elen), FWT_E_TOO_LARGE);
    assert_int_equal(fwt_dec_window_refused(d), 0);
    fwt_dec_free(d);

    /* "bsdiff2": LZMA2 coders from the preamble alone; lzma2-dict with a transform adds the
     * transformed base's copy. */
    uint8_t pre[FWT_ENC_PRE_LEN] = {'F', 'W', 'D', '2', FWT_ENC_XFORM_NONE, 0, FWT_ENC_ENTROPY_LZMA2, 16};
    assert_int_equal(fwt_delta_frame_window(pre, sizeof(pre), FWT_DEC_BSDIFF2, 100000, &need), FWT_OK);
    assert_int_equal(need, 65536);
    uint8_t pre2[FWT_ENC_PRE_LEN] = {'F', 'W', 'D', '2', FWT_ENC_XFORM_THUMB2_MAP, 0x1F,
                                     FWT_ENC_ENTROPY_LZMA2_DICT, 16};
    assert_int_equal(fwt_delta_frame_window(pre2, sizeof(pre2), FWT_DEC_BSDIFF2, 100000, &need), FWT_OK);
    assert_int_equal(need, 65536 + 65536 + 4095);
    assert_int_equal(need, fwt_delta_window_need(FWT_ENC_XFORM_THUMB2_MAP, FWT_ENC_ENTROPY_LZMA2_DICT,
                                                 16, 100000));
    /* ... and a zstd coder from its frame after the preamble. */
    uint8_t zpre[FWT_ENC_FRAME_HEAD_MAX] = {'F', 'W', 'D', '2', 0, 0, FWT_ENC_ENTROPY_ZSTD, 0};
    memcpy(zpre + FWT_ENC_PRE_LEN, enc + off, sizeof(zpre) - FWT_ENC_PRE_LEN);
    assert_int_equal(fwt_delta_frame_window(zpre, sizeof(zpre), FWT_DEC_BSDIFF2, 1, &need), FWT_OK);
    assert_int_equal(need, 512U << 10);

    /* Refusals, each with a detail: cut short, a skippable frame, no preamble, a bad coder. */
    const struct {
        const uint8_t *p;
        size_t len;
        enum fwt_dec_method m;
    } bad[] = {
        {enc + off, 3, FWT_DEC_PLAIN},
        {enc, elen, FWT_DEC_PLAIN},
        {enc + off, FWT_ENC_FRAME_HEAD_MAX, FWT_DEC_BSDIFF2},
        {pre, 4, FWT_DEC_BSDIFF2},
        {zpre, FWT_ENC_PRE_LEN + 2, FWT_DEC_BSDIFF2},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fwt_detail_clear();
        need = 7;
        assert_int_not_equal(fwt_delta_frame_window(bad[i].p, bad[i].len, bad[i].m, 1, &need), FWT_OK);
        assert_int_equal(need, 0);
        assert_true(fwt_detail()[0] != '\0');
    }
    pre[6] = 9; /* no such coder */
    assert_int_equal(fwt_delta_frame_window(pre, sizeof(pre), FWT_DEC_BSDIFF2, 1, &need),
                     FWT_E_UNSUPPORTED);
    free(enc);
    free(data);
}

static size_t rec(uint8_t *p, uint32_t add, uint32_t copy, int64_t seek)
{
    le32(p, add);
    le32(p + 4, copy);
    le32(p + 8, (uint32_t)(uint64_t)seek);
    le32(p + 12, (uint32_t)((uint64_t)seek >> 32));
    return FWT_ENC_BSDIFF_REC;
}

/* Records, compressed (no prefix), decoded against base with the bsdiff method. */
static fwt_err bsdiff_run(const uint8_t *recs, size_t n, const uint8_t *base, size_t blen,
                          uint64_t max_out, struct out *o)
{
    size_t elen;
    uint8_t *enc = encode(recs, n, NULL, 0, 0, &elen);
    g_method = FWT_DEC_BSDIFF;
    fwt_err err = run_dec(enc, elen, 3, base, blen, max_out, o);
    g_method = FWT_DEC_PLAIN;
    free(enc);
    return err;
}

static void test_bsdiff(void **state)
{
    (void)state;
    const uint8_t base[16] = "0123456789abcdef";
    uint8_t r[256];
    size_t n = 0;
    /* add 4 at base[0] with +1 each, copy "XY", seek +6 to base[10]; add 2 with 0, copy none. */
    n += rec(r + n, 4, 2, 6);
    memcpy(r + n, "\x01\x01\x01\x01XY", 6);
    n += 6;
    n += rec(r + n, 2, 0, -12);
    memcpy(r + n, "\x00\x00", 2);
    n += 2;
    struct out o = {0};
    assert_int_equal(bsdiff_run(r, n, base, 16, 8, &o), FWT_OK);
    assert_int_equal(o.len, 8);
    assert_memory_equal(o.buf, "1234XYab", 8);
    free(o.buf);
    /* The same with more output than allowed. */
    o = (struct out){0};
    assert_int_equal(bsdiff_run(r, n, base, 16, 7, &o), FWT_E_TOO_LARGE);
    free(o.buf);
    /* A seek before the start of the base. */
    n = rec(r, 4, 0, -5);
    memset(r + n, 0, 4);
    o = (struct out){0};
    assert_int_equal(bsdiff_run(r, n + 4, base, 16, 100, &o), FWT_E_MALFORMED);
    assert_non_null(strstr(fwt_detail(), "seeks outside"));
    free(o.buf);
    /* A seek past its end, and one exactly to its end (allowed). */
    n = rec(r, 4, 0, 13);
    memset(r + n, 0, 4);
    o = (struct out){0};
    assert_int_equal(bsdiff_run(r, n + 4, base, 16, 100, &o), FWT_E_MALFORMED);
    free(o.buf);
    n = rec(r, 4, 0, 12);
    memset(r + n, 0, 4);
    o = (struct out){0};
    assert_int_equal(bsdiff_run(r, n + 4, base, 16, 100, &o), FWT_OK);
    free(o.buf);
    /* Reading past the base's end. */
    n = rec(r, 17, 0, 0);
    memset(r + n, 0, 17);
    o = (struct out){0};
    assert_int_equal(bsdiff_run(r, n + 17, base, 16, 100, &o), FWT_E_MALFORMED);
    assert_non_null(strstr(fwt_detail(), "reads base bytes"));
    free(o.buf);
    /* Ending inside a record (header, or its bytes). */
    n = rec(r, 4, 2, 0);
    o = (struct out){0};
    assert_int_equal(bsdiff_run(r, n - 3, base, 16, 100, &o), FWT_E_MALFORMED);
    free(o.buf);
    o = (struct out){0};
    assert_int_equal(bsdiff_run(r, n + 3, base, 16, 100, &o), FWT_E_MALFORMED);
    assert_non_null(strstr(fwt_detail(), "inside a record"));
    free(o.buf);
    /* The extreme seek values are refused, not overflowed. */
    n = rec(r, 0, 0, INT64_MIN);
    o = (struct out){0};
    assert_int_equal(bsdiff_run(r, n, base, 16, 100, &o), FWT_E_MALFORMED);
    free(o.buf);
    n = rec(r, 0, 0, INT64_MAX);
    o = (struct out){0};
    assert_int_equal(bsdiff_run(r, n, base, 16, 100, &o), FWT_E_MALFORMED);
    free(o.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_chunks),
        cmocka_unit_test(test_patch),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_window_bound),
        cmocka_unit_test(test_frame_window),
        cmocka_unit_test(test_bsdiff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
