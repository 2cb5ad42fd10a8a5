/*
 * The ARM Thumb-2 transform of "bsdiff2" patches (src/delta/thumb.h) and the
 * patches made with it (issue 17): exact round trips on real Cortex-M4 code
 * (the Pybricks images in examples/firmware) and on data that only looks
 * like instructions, instruction encodings checked against hand-assembled
 * ones, 32-bit instructions across block ends, odd sizes, the decoder fed a
 * byte at a time, and the size the transform buys on a real version pair.
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

#include "delta/thumb.h"

static uint8_t *load(const char *name, size_t *n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/firmware/%s", FWT_EXAMPLES, name);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(fwt_read_file(path, 4U << 20, &buf, &len), FWT_OK);
    *n = len;
    return buf;
}

static uint8_t *rnd(size_t n, uint32_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245U + 12345U;
        p[i] = (uint8_t)(seed >> 16);
    }
    return p;
}

/* fwd then inv over buf (as blocks at image offsets), every flag set: exactly the input. */
static size_t roundtrip_blocks(const uint8_t *img, size_t n, unsigned flags)
{
    uint8_t *t = malloc(n ? n : 1);
    assert_non_null(t);
    memcpy(t, img, n);
    fwt_thumb_fwd_image(t, n, flags, NULL, NULL);
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        changed += t[i] != img[i];
    }
    for (size_t off = 0; off < n; off += FWT_THUMB_BLOCK) {
        size_t k = n - off < FWT_THUMB_BLOCK ? n - off : FWT_THUMB_BLOCK;
        fwt_thumb_inv(t + off, k, off, flags);
    }
    assert_memory_equal(t, img, n);
    free(t);
    return changed;
}

static void test_roundtrip_real_and_random(void **state)
{
    (void)state;
    size_t n;
    uint8_t *fw = load("pybricks-primehub-v4.0.0b5.bin", &n);
    static const unsigned fl[] = {FWT_THUMB_ALL, FWT_THUMB_BL, FWT_THUMB_BCOND, FWT_THUMB_LDR16,
                                  FWT_THUMB_LDR32};
    for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
        /* Real code: the transform finds (many) instructions, and undoes them exactly. */
        assert_true(roundtrip_blocks(fw, n, fl[i]) > 100);
        /* Odd sizes and a final partial block of every parity. */
        for (size_t cut = n - 7; cut < n; cut++) {
            roundtrip_blocks(fw, cut, fl[i]);
        }
    }
    /* Data that only looks like instructions (random bytes hit every pattern). */
    for (uint32_t seed = 1; seed < 40; seed++) {
        size_t len = 3 * FWT_THUMB_BLOCK + seed;
        uint8_t *r = rnd(len, seed);
        assert_true(roundtrip_blocks(r, len, FWT_THUMB_ALL) > 0);
        free(r);
    }
    /* A32 mode over the same bytes (every word a candidate) and over random ones. */
    assert_true(roundtrip_blocks(fw, n, FWT_XF_ARM | FWT_THUMB_BL | FWT_THUMB_LDR32) > 0);
    for (uint32_t seed = 1; seed < 10; seed++) {
        uint8_t *r = rnd(2 * FWT_THUMB_BLOCK + seed, seed);
        roundtrip_blocks(r, 2 * FWT_THUMB_BLOCK + seed, FWT_XF_ARM | FWT_THUMB_ALL);
        free(r);
    }
    roundtrip_blocks(fw, 0, FWT_THUMB_ALL);
    roundtrip_blocks(fw, 1, FWT_THUMB_ALL);
    free(fw);
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void test_encodings(void **state)
{
    (void)state;
    uint8_t b[FWT_THUMB_BLOCK];
    memset(b, 0, sizeof(b)); /* 0x0000: MOVS r0, r0 (16-bit) */
    /* BL at 0x100 to 0x100 + 4 + 0x1234: f001 f91a. Absolute: the target 0x1338 as if the
     * instruction were at -4: S=0 imm10=0x001 imm11=0x19c (0x1338 >> 1 = 0x99c). */
    put16(b + 0x100, 0xF001);
    put16(b + 0x102, 0xF91A);
    /* The same call one block later (position 0x1100) reads the same after the transform. */
    /* B.W (T4) at 0x200 back by 0x104 (offset -0x82 halfwords): target 0x100: f7ff bf7e. */
    put16(b + 0x200, 0xF7FF);
    put16(b + 0x202, 0xBF7E);
    /* BNE.W (T3) at 0x300 forward 0x40: f040 8020 -> cond 1 (NE). */
    put16(b + 0x300, 0xF040);
    put16(b + 0x302, 0x8020);
    /* LDR r3, [pc, #8] at 0x402: 4b02 -> Align(0x406, 4) + 8 = 0x40c, word 0x103. */
    put16(b + 0x402, 0x4B02);
    /* LDR.W r1, [pc, #0x10] at 0x500: f8df 1010 -> 0x504 + 0x10 = 0x514. */
    put16(b + 0x500, 0xF8DF);
    put16(b + 0x502, 0x1010);
    /* A BL whose second halfword is past the block's end: left alone. */
    put16(b + FWT_THUMB_BLOCK - 2, 0xF001);
    uint8_t t[FWT_THUMB_BLOCK];
    memcpy(t, b, sizeof(t));
    fwt_thumb_fwd(t, sizeof(t), 0, FWT_THUMB_ALL);
    assert_int_equal(t[0x100] | t[0x101] << 8, 0xF001);
    assert_int_equal(t[0x102] | t[0x103] << 8, 0xF800 | 0x19C); /* J1=J2=1 (I1=I2=0, S=0) */
    /* B.W: target 0x100 -> halfword 0x80: imm11 0x080, imm10 0, S=0 -> f000 b880. */
    assert_int_equal(t[0x200] | t[0x201] << 8, 0xF000);
    assert_int_equal(t[0x202] | t[0x203] << 8, 0xB880);
    /* BNE.W: target 0x344 -> halfword 0x1a2: imm11 0x1a2, imm6 0, cond kept: f040 81a2...
     * with J1=J2=0 in T3 (no inversion): 0x8000 | 0x1a2. */
    assert_int_equal(t[0x300] | t[0x301] << 8, 0xF040);
    assert_int_equal(t[0x302] | t[0x303] << 8, 0x81A2);
    assert_int_equal(t[0x402] | t[0x403] << 8, 0x4B03);
    assert_int_equal(t[0x502] | t[0x503] << 8, 0x1514);
    assert_int_equal(t[FWT_THUMB_BLOCK - 2] | t[FWT_THUMB_BLOCK - 1] << 8, 0xF001);
    /* Position matters: the same block at the next block offset gives other bytes, and each
     * undoes to the original. */
    uint8_t u[FWT_THUMB_BLOCK];
    memcpy(u, b, sizeof(u));
    fwt_thumb_fwd(u, sizeof(u), FWT_THUMB_BLOCK, FWT_THUMB_ALL);
    assert_memory_not_equal(u, t, sizeof(u));
    fwt_thumb_inv(t, sizeof(t), 0, FWT_THUMB_ALL);
    fwt_thumb_inv(u, sizeof(u), FWT_THUMB_BLOCK, FWT_THUMB_ALL);
    assert_memory_equal(t, b, sizeof(b));
    assert_memory_equal(u, b, sizeof(b));
    /* A call that moved with its caller: relative form differs, absolute form is equal. */
    uint8_t c1[FWT_THUMB_BLOCK], c2[FWT_THUMB_BLOCK];
    memset(c1, 0, sizeof(c1));
    memset(c2, 0, sizeof(c2));
    put16(c1 + 0x10, 0xF001); /* at 0x10 -> 0x10 + 4 + 0x1234 */
    put16(c1 + 0x12, 0xF91A);
    put16(c2 + 0x20, 0xF001); /* at 0x20 -> same target: offset 0x1224 */
    put16(c2 + 0x22, 0xF912);
    fwt_thumb_fwd(c1, sizeof(c1), 0, FWT_THUMB_BL);
    fwt_thumb_fwd(c2, sizeof(c2), 0, FWT_THUMB_BL);
    assert_memory_equal(c1 + 0x10, c2 + 0x20, 4);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v & 0xFFFFU);
    put16(p + 2, v >> 16);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_arm(void **state)
{
    (void)state;
    uint8_t b[64];
    memset(b, 0, sizeof(b));
    put32(b + 8, 0xEB000010U);  /* BL at 8: target 8 + 8 + 0x40 = 0x50, word 0x14 */
    put32(b + 16, 0x1BFFFFFEU); /* BLNE at 16 to itself: word 4 */
    put32(b + 24, 0xE59F1010U); /* LDR r1, [pc, #16] at 24: 24 + 8 + 16 = 0x30 */
    put32(b + 32, 0xFB000010U); /* cond 1111 (BLX): left alone */
    put32(b + 40, 0xE51F1010U); /* LDR with U=0: left alone */
    uint8_t t[64];
    memcpy(t, b, sizeof(t));
    unsigned fl = FWT_XF_ARM | FWT_THUMB_BL | FWT_THUMB_LDR32;
    fwt_thumb_fwd(t, sizeof(t), 0, fl);
    assert_int_equal(get32(t + 8), 0xEB000014U);
    assert_int_equal(get32(t + 16), 0x1B000004U);
    assert_int_equal(get32(t + 24), 0xE59F1030U);
    assert_int_equal(get32(t + 32), 0xFB000010U);
    assert_int_equal(get32(t + 40), 0xE51F1010U);
    fwt_thumb_inv(t, sizeof(t), 0, fl);
    assert_memory_equal(t, b, sizeof(b));
}

static void test_map(void **state)
{
    (void)state;
    uint32_t st[] = {0x100, 0x2000};
    int32_t dl[] = {8, -4};
    struct fwt_xmap m = {0x08000000U, 0x10000, 2, st, dl, NULL};
    assert_int_equal(fwt_xmap_apply(&m, 0x50), 0x50);
    assert_int_equal(fwt_xmap_apply(&m, 0x100), 0x108);
    assert_int_equal(fwt_xmap_apply(&m, 0x1FFF), 0x2007);
    assert_int_equal(fwt_xmap_apply(&m, 0x3000), 0x2FFC);
    /* A pointer into the image is mapped, one outside it is not; and a BL target too. */
    uint8_t b[16] = {0x01, 0x11, 0x00, 0x08, /* 0x08001101 -> 0x08001109 */
                     0x00, 0x00, 0x01, 0x08, /* 0x08010000: past the image, kept */
                     0x00, 0xF0, 0x00, 0xF8, /* BL at 8 to 0xc: below 0x100, kept */
                     0x00, 0x00, 0x00, 0x20};
    fwt_thumb_base(b, sizeof(b), 0, FWT_XF_PTR | FWT_THUMB_BL, &m);
    assert_int_equal(b[0], 0x09);
    assert_int_equal(b[1], 0x11);
    assert_int_equal(b[6], 0x01);
    assert_int_equal(b[10] | b[11] << 8, 0xF806); /* absolute 0xc -> halfword 6 */
}

/* The decoder fed one byte at a time, output compared. */
static fwt_err cmp_sink(void *ctx, const uint8_t *data, size_t len)
{
    uint8_t **p = ctx;
    if (memcmp(*p, data, len) != 0) {
        return fwt_fail(FWT_E_INTERNAL, "mismatch");
    }
    *p += len;
    return FWT_OK;
}

static void test_real_pair(void **state)
{
    (void)state;
    size_t bn, nn;
    uint8_t *b = load("pybricks-primehub-v4.0.0b4.bin", &bn);
    uint8_t *n = load("pybricks-primehub-v4.0.0b5.bin", &nn);
    uint8_t *z1 = NULL, *z2 = NULL, *out = NULL;
    size_t l1 = 0, l2 = 0;
    enum fwt_dec_method u1, u2;
    assert_int_equal(fwt_delta_patch(b, bn, n, nn, 19, FWT_DELTA_BSDIFF, 0, NULL, NULL, &z1, &l1, &u1),
                     FWT_OK);
    assert_int_equal(fwt_delta_patch(b, bn, n, nn, 19, FWT_DELTA_BSDIFF2, 0, NULL, NULL, &z2, &l2, &u2),
                     FWT_OK);
    struct fwt_delta_pre pre;
    assert_int_equal(fwt_delta_pre_parse(z2, l2, &pre), FWT_OK);
    assert_int_equal(pre.xform, FWT_ENC_XFORM_THUMB2_MAP);
    assert_true(pre.entropy >= FWT_ENC_ENTROPY_LZMA2 && pre.entropy <= FWT_ENC_ENTROPY_LZMA2_DICT);
    /* The transform's gain on real Thumb-2 code: at most 0.85 of the plain records. */
    assert_true(l2 * 100 <= l1 * 85);
    assert_int_equal(fwt_delta_decode(z2, l2, u2, b, bn, nn, 0, &out), FWT_OK);
    assert_memory_equal(out, n, nn);
    free(out);
    /* Streaming: one byte at a time, inside a container. */
    uint8_t *file = NULL;
    size_t flen = 0;
    assert_int_equal(fwt_delta_container("{}", 2, z2, l2, &file, &flen), FWT_OK);
    uint8_t *cur = n;
    fwt_dec *d = NULL;
    assert_int_equal(fwt_dec_new(FWT_DEC_BSDIFF2, b, bn, nn, cmp_sink, &cur, &d), FWT_OK);
    for (size_t i = 0; i < flen; i++) {
        assert_int_equal(fwt_dec_feed(d, file + i, 1), FWT_OK);
    }
    assert_int_equal(fwt_dec_end(d), FWT_OK);
    assert_ptr_equal(cur, n + nn);
    fwt_dec_free(d);
    /* Truncated anywhere: refused at the end, never a short image accepted. */
    for (size_t cut = 0; cut < l2; cut += l2 / 7 + 1) {
        assert_int_not_equal(fwt_delta_decode(z2, cut, u2, b, bn, nn, 0, &out), FWT_OK);
        assert_null(out);
    }
    /* A wrong base (another image): output differs, never a crash (checked by hash later). */
    if (fwt_delta_decode(z2, l2, u2, n, nn, nn, 0, &out) == FWT_OK) {
        assert_memory_not_equal(out, n, nn);
        free(out);
    }
    /* Bad preamble fields. */
    uint8_t save = z2[4];
    z2[4] = 9;
    assert_int_equal(fwt_delta_decode(z2, l2, u2, b, bn, nn, 0, &out), FWT_E_UNSUPPORTED);
    z2[4] = save;
    save = z2[6];
    z2[6] = 5; /* no such entropy coder */
    assert_int_equal(fwt_delta_decode(z2, l2, u2, b, bn, nn, 0, &out), FWT_E_UNSUPPORTED);
    z2[6] = save;
    save = z2[7];
    z2[7] = 30;
    assert_int_equal(fwt_delta_decode(z2, l2, u2, b, bn, nn, 0, &out), FWT_E_UNSUPPORTED);
    z2[7] = save;
    free(file);
    free(z1);
    free(z2);
    free(b);
    free(n);
}

/* Coder 4 ("lzma2-dict", no records) on the real pair: a map transform, the image as LZMA2 over
 * the transformed base; smaller than the plain records; one-shot and byte-at-a-time decoding;
 * truncation, a wrong base and corrupted bytes never give the image. */
static void test_dict_real_pair(void **state)
{
    (void)state;
    size_t bn, nn;
    uint8_t *b = load("pybricks-primehub-v4.0.0b4.bin", &bn);
    uint8_t *n = load("pybricks-primehub-v4.0.0b5.bin", &nn);
    uint8_t *z1 = NULL, *z = NULL, *out = NULL;
    size_t l1 = 0, l = 0;
    enum fwt_dec_method u1, u;
    assert_int_equal(fwt_delta_patch(b, bn, n, nn, 19, FWT_DELTA_BSDIFF, 0, NULL, NULL, &z1, &l1,
                                     &u1),
                     FWT_OK);
    assert_int_equal(fwt_delta_patch(b, bn, n, nn, 19, FWT_DELTA_LZDICT, 0, NULL, NULL, &z, &l, &u),
                     FWT_OK);
    assert_int_equal(u, FWT_DEC_BSDIFF2);
    struct fwt_delta_pre pre;
    assert_int_equal(fwt_delta_pre_parse(z, l, &pre), FWT_OK);
    assert_int_equal(pre.entropy, FWT_ENC_ENTROPY_LZMA2_DICT);
    assert_int_equal(pre.xform, FWT_ENC_XFORM_THUMB2_MAP);
    assert_true(pre.dictlog >= 20); /* base and new image (about 580 KiB) in the dictionary */
    assert_true(l * 100 <= l1 * 85);
    assert_int_equal(fwt_delta_decode(z, l, u, b, bn, nn, 0, &out), FWT_OK);
    assert_memory_equal(out, n, nn);
    free(out);
    out = NULL;
    uint8_t *cur = n;
    fwt_dec *d = NULL;
    assert_int_equal(fwt_dec_new(FWT_DEC_BSDIFF2, b, bn, nn, cmp_sink, &cur, &d), FWT_OK);
    for (size_t i = 0; i < l; i++) {
        assert_int_equal(fwt_dec_feed(d, z + i, 1), FWT_OK);
    }
    assert_int_equal(fwt_dec_end(d), FWT_OK);
    assert_ptr_equal(cur, n + nn);
    fwt_dec_free(d);
    for (size_t cut = 0; cut < l; cut += l / 9 + 1) {
        assert_int_not_equal(fwt_delta_decode(z, cut, u, b, bn, nn, 0, &out), FWT_OK);
        assert_null(out);
    }
    /* The base does not match (the new image given as base): never the image. */
    if (fwt_delta_decode(z, l, u, n, nn, nn, 0, &out) == FWT_OK) {
        assert_memory_not_equal(out, n, nn);
        free(out);
        out = NULL;
    }
    /* A corrupted byte in the map's stream, then in the image's: refused or not the image. */
    size_t at[] = {FWT_ENC_PRE_LEN + 40, l / 2, l - 3};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        z[at[i]] ^= 0x5A;
        if (fwt_delta_decode(z, l, u, b, bn, nn, 0, &out) == FWT_OK) {
            assert_memory_not_equal(out, n, nn);
            free(out);
            out = NULL;
        }
        z[at[i]] ^= 0x5A;
    }
    free(z1);
    free(z);
    free(b);
    free(n);
}

/* The decoding-window cap: patches made under it need at most it and decode with a decoder
 * capped there; a decoder capped below what a patch needs refuses it (FWT_E_TOO_LARGE), for
 * an LZMA2 dictionary and for a zstd window; a prefix patch that cannot fit is not made. */
static void test_window_cap(void **state)
{
    (void)state;
    size_t bn, nn;
    uint8_t *b = load("pybricks-primehub-v4.0.0b4.bin", &bn);
    uint8_t *n = load("pybricks-primehub-v4.0.0b5.bin", &nn);
    uint8_t *z = NULL, *out = NULL;
    size_t l = 0;
    enum fwt_dec_method u;
    /* Uncapped lzma2-dict: its dictionary covers base and image (1 MiB); a 256 KiB decoder
     * refuses it before decoding anything. */
    assert_int_equal(fwt_delta_patch(b, bn, n, nn, 19, FWT_DELTA_LZDICT, 0, NULL, NULL, &z, &l, &u),
                     FWT_OK);
    struct fwt_delta_pre pre;
    assert_int_equal(fwt_delta_pre_parse(z, l, &pre), FWT_OK);
    uint64_t need = fwt_delta_window_need(pre.xform, pre.entropy, pre.dictlog, bn);
    assert_true(need > (256U << 10));
    assert_int_equal(fwt_delta_decode(z, l, u, b, bn, nn, 256U << 10, &out), FWT_E_TOO_LARGE);
    assert_non_null(strstr(fwt_detail(), "window"));
    assert_null(out);
    assert_int_equal(fwt_delta_decode(z, l, u, b, bn, nn, need, &out), FWT_OK);
    assert_memory_equal(out, n, nn);
    free(out);
    out = NULL;
    free(z);
    /* Capped at 256 KiB: every method's patch fits it and decodes under it. */
    static const enum fwt_delta_method ms[] = {FWT_DELTA_AUTO, FWT_DELTA_BSDIFF2,
                                               FWT_DELTA_LZDICT, FWT_DELTA_BSDIFF};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        assert_int_equal(fwt_delta_patch(b, bn, n, nn, 19, ms[i], 256U << 10, NULL, NULL, &z, &l,
                                         &u),
                         FWT_OK);
        if (u == FWT_DEC_BSDIFF2) {
            assert_int_equal(fwt_delta_pre_parse(z, l, &pre), FWT_OK);
            if (pre.entropy != FWT_ENC_ENTROPY_ZSTD) {
                assert_true(fwt_delta_window_need(pre.xform, pre.entropy, pre.dictlog, bn) <=
                            (256U << 10));
            }
        }
        assert_int_equal(fwt_delta_decode(z, l, u, b, bn, nn, 256U << 10, &out), FWT_OK);
        assert_memory_equal(out, n, nn);
        free(out);
        out = NULL;
        free(z);
        z = NULL;
    }
    /* A prefix patch needs base + image in its window: not made under the cap ... */
    assert_int_equal(fwt_delta_patch(b, bn, n, nn, 3, FWT_DELTA_PREFIX, 256U << 10, NULL, NULL,
                                     &z, &l, &u),
                     FWT_E_TOO_LARGE);
    assert_null(z);
    /* ... and one made without it is refused by a capped decoder (the zstd window check). */
    assert_int_equal(fwt_delta_patch(b, bn, n, nn, 3, FWT_DELTA_PREFIX, 0, NULL, NULL, &z, &l, &u),
                     FWT_OK);
    assert_int_equal(fwt_delta_decode(z, l, u, b, bn, nn, 256U << 10, &out), FWT_E_TOO_LARGE);
    assert_non_null(strstr(fwt_detail(), "window"));
    free(z);
    /* The cap itself: at least 1 KiB, set before any input. */
    assert_int_equal(fwt_delta_patch(b, bn, n, nn, 3, FWT_DELTA_BSDIFF, 1000, NULL, NULL, &z, &l,
                                     &u),
                     FWT_E_ARG);
    uint8_t *cur = n;
    fwt_dec *d = NULL;
    assert_int_equal(fwt_dec_new(FWT_DEC_BSDIFF2, b, bn, nn, cmp_sink, &cur, &d), FWT_OK);
    assert_int_equal(fwt_dec_set_max_window(d, 1000), FWT_E_ARG);
    assert_int_equal(fwt_dec_feed(d, (const uint8_t *)"FWD2", 4), FWT_OK);
    assert_int_equal(fwt_dec_set_max_window(d, 1U << 20), FWT_E_ARG);
    fwt_dec_free(d);
    free(b);
    free(n);
}

/* A hand-made "thumb2-map" frame with code ranges (flag 64), records coded with zstd. */
static fwt_err ranges_frame(const uint8_t *recs, size_t n, const uint8_t *base, size_t bn,
                            size_t want, uint8_t **out)
{
    uint8_t *z = NULL;
    size_t zl = 0;
    assert_int_equal(fwt_delta_compress(recs, n, 3, &z, &zl), FWT_OK);
    uint8_t *f = malloc(FWT_ENC_PRE_LEN + zl);
    assert_non_null(f);
    memcpy(f, "FWD2\x02\x41\x01\x00", FWT_ENC_PRE_LEN); /* thumb2-map, BL + ranges, zstd */
    memcpy(f + FWT_ENC_PRE_LEN, z, zl);
    fwt_err err = fwt_delta_decode(f, FWT_ENC_PRE_LEN + zl, FWT_DEC_BSDIFF2, base, bn, want, 0,
                                   out);
    free(z);
    free(f);
    return err;
}

/* Code ranges (the ELF hint): instructions rewritten only inside them, by the transform and by
 * the decoder's inverse; data shaped like instructions outside them left as it is. */
static void test_code_ranges(void **state)
{
    (void)state;
    /* Two blocks full of BL-shaped halfword pairs. */
    size_t n = 2 * FWT_THUMB_BLOCK;
    uint8_t *img = malloc(n), *t = malloc(n);
    assert_non_null(img);
    assert_non_null(t);
    for (size_t i = 0; i < n; i += 4) {
        put16(img + i, 0xF000U | (unsigned)(i * 37U & 0x7FFU));
        put16(img + i + 2, 0xF800U | (unsigned)(i * 91U & 0x7FFU));
    }
    /* One range inside the first block, one across the block boundary. */
    const uint32_t r[] = {0x100, 0x300, 0xF00, 0x1100};
    struct fwt_xranges code = {2, r};
    memcpy(t, img, n);
    fwt_thumb_fwd_image(t, n, FWT_THUMB_ALL, NULL, &code);
    size_t in_changed = 0;
    for (size_t i = 0; i < n; i++) {
        int inside = (i >= 0x100 && i < 0x300) || (i >= 0xF00 && i < 0x1100);
        if (!inside && t[i] != img[i]) {
            fail_msg("byte 0x%zx outside the code ranges was rewritten", i);
        }
        in_changed += inside && t[i] != img[i];
    }
    assert_true(in_changed > 0x200); /* every pair inside is a BL, rewritten */
    for (size_t off = 0; off < n; off += FWT_THUMB_BLOCK) {
        fwt_thumb_inv_code(t + off, FWT_THUMB_BLOCK, off, FWT_THUMB_ALL, &code);
    }
    assert_memory_equal(t, img, n);
    /* The base transform through a map takes the base's ranges from the map. */
    int32_t dl[1] = {0};
    uint32_t st[1] = {0};
    struct fwt_xmap m = {0x08000000U, (uint32_t)n, 1, st, dl, &code};
    memcpy(t, img, n);
    fwt_thumb_fwd_image(t, n, FWT_THUMB_ALL, &m, NULL);
    assert_memory_equal(t, img, 0x100);
    assert_memory_not_equal(t + 0x100, img + 0x100, 0x200);
    assert_memory_equal(t + 0x300, img + 0x300, 0xF00 - 0x300);

    /* The decoder: an image of two BLs, its range covering only the first. The records (map
     * of no entries, ranges, one record copying 8 transformed bytes) give the first BL undone
     * and the second as it was written. */
    uint8_t base[64];
    memset(base, 0x11, sizeof(base));
    uint8_t recs[8 + 8 + 8 + 8 + 16 + 8];
    memset(recs, 0, sizeof(recs));
    put32(recs + 8, 1);      /* nb */
    put32(recs + 12, 1);     /* nn */
    put32(recs + 20, 64);    /* base range 0..64 */
    put32(recs + 28, 4);     /* image range 0..4 */
    put32(recs + 36, 8);     /* record: add 0, copy 8, seek 0 */
    put16(recs + 48, 0xF000); /* absolute target halfword 0x10 at 0 ... */
    put16(recs + 50, 0xF810);
    put16(recs + 52, 0xF000); /* ... and the same bytes at 4, outside the range */
    put16(recs + 54, 0xF810);
    uint8_t *out = NULL;
    assert_int_equal(ranges_frame(recs, sizeof(recs), base, sizeof(base), 8, &out), FWT_OK);
    uint8_t want[8];
    memcpy(want, recs + 48, 8);
    fwt_thumb_inv(want, 4, 0, FWT_THUMB_BL); /* only the first instruction */
    assert_memory_not_equal(want, recs + 48, 4);
    assert_memory_equal(out, want, 8);
    free(out);
    out = NULL;
    /* Refused: an empty range, one beyond the base or the image, out of order, too many. */
    static const uint32_t bad[][5] = {
        {1, 0, 10, 10, 0},               /* base 10..10: empty */
        {1, 0, 0, 65, 0},                /* beyond the 64-byte base */
        {0, 1, 0, 9, 0},                 /* beyond the 8-byte image */
        {2, 0, 8, 16, 0},                /* second base range 0..0 below the first (see below) */
        {FWT_XRANGE_MAX + 1, 0, 0, 1, 0} /* too many */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t b[8 + 8 + 16];
        memset(b, 0, sizeof(b));
        put32(b + 8, bad[i][0]);
        put32(b + 12, bad[i][1]);
        put32(b + 16, bad[i][2]);
        put32(b + 20, bad[i][3]);
        if (i == 3) {
            put32(b + 24, 4); /* 4..8 after 8..16 */
            put32(b + 28, 8);
        }
        fwt_detail_clear();
        assert_int_equal(ranges_frame(b, sizeof(b), base, sizeof(base), 8, &out), FWT_E_MALFORMED);
        assert_non_null(strstr(fwt_detail(), "code range"));
    }
    free(img);
    free(t);
}

/* fwt_delta_patch_code: patches with code ranges rebuild the image; bad ranges are refused. */
static void test_patch_code(void **state)
{
    (void)state;
    size_t bn = 3 * FWT_THUMB_BLOCK, nn = bn + 64;
    uint8_t *b = rnd(bn, 5), *nw = malloc(nn);
    assert_non_null(nw);
    for (size_t i = 0; i < 0x1800; i += 4) { /* code: calls to fixed targets */
        put16(b + i, 0xF000U | (unsigned)(i % 7));
        put16(b + i + 2, 0xF800U | (unsigned)((0x1800U - i) / 2 & 0x7FFU));
    }
    memcpy(nw, b, 0x400);
    memset(nw + 0x400, 0x5A, 64); /* 64 bytes of new code moves everything after it */
    memcpy(nw + 0x440, b + 0x400, bn - 0x400);
    const uint32_t rb[] = {0, 0x1800}, rn[] = {0, 0x1840};
    struct fwt_delta_code code = {rb, 1, rn, 1};
    for (int me = FWT_DELTA_BSDIFF2; me <= FWT_DELTA_LZDICT; me++) {
        uint8_t *p = NULL, *out = NULL;
        size_t pl = 0;
        enum fwt_dec_method used;
        assert_int_equal(fwt_delta_patch_code(b, bn, nw, nn, 3, (enum fwt_delta_method)me, 0,
                                              &code, NULL, NULL, &p, &pl, &used),
                         FWT_OK);
        assert_int_equal(used, FWT_DEC_BSDIFF2);
        struct fwt_delta_pre pre;
        assert_int_equal(fwt_delta_pre_parse(p, pl, &pre), FWT_OK);
        /* Only a map transform (carrying the ranges) or none. */
        assert_true(pre.xform == FWT_ENC_XFORM_NONE ||
                    ((pre.xflags & FWT_DELTA_XF_CODE) && pre.xform >= FWT_ENC_XFORM_THUMB2_MAP));
        assert_int_equal(fwt_delta_decode(p, pl, FWT_DEC_BSDIFF2, b, bn, nn, 0, &out), FWT_OK);
        assert_memory_equal(out, nw, nn);
        free(out);
        free(p);
    }
    const uint32_t beyond[] = {0, (uint32_t)bn + 1}, order[] = {8, 16, 0, 4}, empty[] = {4, 4};
    const struct fwt_delta_code bad[] = {
        {beyond, 1, rn, 1}, {rb, 1, order, 2}, {empty, 1, rn, 1}, {rb, FWT_DELTA_CODE_MAX + 1, rn, 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *p = NULL;
        size_t pl = 0;
        enum fwt_dec_method used;
        assert_int_equal(fwt_delta_patch_code(b, bn, nw, nn, 3, FWT_DELTA_BSDIFF2, 0, &bad[i],
                                              NULL, NULL, &p, &pl, &used),
                         FWT_E_ARG);
        assert_null(p);
    }
    free(b);
    free(nw);
}

/* A map out of order, or too large, is refused (the records made by hand, coded with zstd). */
static void test_bad_map(void **state)
{
    (void)state;
    uint8_t base[64];
    memset(base, 0x11, sizeof(base));
    uint8_t recs[8 + 16];
    memset(recs, 0, sizeof(recs));
    recs[4] = 2;       /* n = 2 */
    recs[8] = 0x10;    /* start 0x10 */
    recs[16] = 0x08;   /* start 0x08: not increasing */
    uint8_t *z = NULL, *out = NULL;
    size_t zl = 0;
    assert_int_equal(fwt_delta_compress(recs, sizeof(recs), 3, &z, &zl), FWT_OK);
    uint8_t *f = malloc(FWT_ENC_PRE_LEN + zl);
    assert_non_null(f);
    memcpy(f, "FWD2\x02\x01\x01\x00", FWT_ENC_PRE_LEN);
    memcpy(f + FWT_ENC_PRE_LEN, z, zl);
    assert_int_equal(fwt_delta_decode(f, FWT_ENC_PRE_LEN + zl, FWT_DEC_BSDIFF2, base,
                                      sizeof(base), 0, 0, &out),
                     FWT_E_MALFORMED);
    free(z);
    recs[5] = 0x70; /* n = 0x7002: above FWT_XMAP_MAX */
    assert_int_equal(fwt_delta_compress(recs, sizeof(recs), 3, &z, &zl), FWT_OK);
    memcpy(f + FWT_ENC_PRE_LEN, z, zl);
    assert_int_equal(fwt_delta_decode(f, FWT_ENC_PRE_LEN + zl, FWT_DEC_BSDIFF2, base,
                                      sizeof(base), 0, 0, &out),
                     FWT_E_MALFORMED);
    free(z);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_real_and_random),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_arm),
        cmocka_unit_test(test_real_pair),
        cmocka_unit_test(test_dict_real_pair),
        cmocka_unit_test(test_window_cap),
        cmocka_unit_test(test_bad_map),
        cmocka_unit_test(test_code_ranges),
        cmocka_unit_test(test_patch_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
