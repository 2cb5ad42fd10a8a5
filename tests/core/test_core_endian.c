/*
 * Verifier core: images of imgtool --endian big. The byte order comes from the
 * header magic alone; every structural rule holds as strictly as for little
 * endian. Mock backend (no OpenSSL): also runs in the -m32 core-only build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_internal.h"
#include "mock.h"

static struct mock_key kA;
static struct fwt_trusted_key tA;
static struct tb B, L;

static int setup(void **state)
{
    (void)state;
    mock_anchor(&kA, &tA, FWT_KEY_ED25519, 1);
    return 0;
}

/* tb_standard's image in either byte order (the counter value in that order too). */
static uint32_t build(struct tb *b, int big, uint32_t counter)
{
    tb_init(b, 32, 200);
    b->big_endian = big;
    uint8_t cnt[4];
    (big ? tb_put32be : tb_put32)(cnt, counter);
    uint8_t fmt[4] = {1, 1, 0, 0};
    tb_prot(b, FWT_TLV_SEC_CNT, cnt, 4);
    tb_prot(b, FWT_TLV_FORMAT, fmt, 4);
    tb_prot(b, FWT_TLV_HW_ID, "board-a", 7);
    return tb_sign_by(b, &kA);
}

static void test_big_endian_image_verifies(void **state)
{
    (void)state;
    build(&B, 1, 5);
    /* The bytes imgtool writes: magic '>I', hdr_size '>H', the first TLV 'BBH'. */
    static const uint8_t magic_be[4] = {0x96, 0xf3, 0xb8, 0x3d};
    assert_memory_equal(B.img, magic_be, 4);
    assert_int_equal(B.img[8], 0);
    assert_int_equal(B.img[9], 32);
    assert_int_equal(B.img[232], 0x69); /* protected info magic 0x6908, '>H' */
    assert_int_equal(B.img[233], 0x08);
    assert_int_equal(B.img[236], FWT_TLV_SEC_CNT); /* type byte, then zero */
    assert_int_equal(B.img[237], 0);
    struct fwt_policy p = mock_policy(&tA, 1, NULL, 0, 1);
    p.min_security_counter = 5;
    struct fwt_image_info info;
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
    assert_int_equal(info.hdr.byte_order, FWT_ORDER_BIG);
    assert_int_equal(info.hdr.magic, FWT_IMAGE_MAGIC);
    assert_int_equal(info.hdr.hdr_size, 32);
    assert_int_equal(info.hdr.img_size, 200);
    assert_int_equal(info.hdr.load_addr, 0x08000000U);
    assert_int_equal(info.hdr.version.revision, 3);
    assert_int_equal(info.hdr.version.build, 4);
    assert_int_equal(info.security_counter, 5);
    assert_int_equal(info.format_version, 1);
    assert_memory_equal(info.hw_id, "board-a", 7);
    assert_int_equal(info.total_size, B.len);
    assert_int_equal(info.n_signers, 1);
    /* The counter is read big endian: 5, so a minimum of 6 is not met. */
    p.min_security_counter = 6;
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_COUNTER);
}

static void test_both_orders_same_structure(void **state)
{
    (void)state;
    build(&B, 1, 0x01020304);
    build(&L, 0, 0x01020304);
    assert_int_equal(B.len, L.len);
    assert_memory_not_equal(B.img, L.img, 32);
    uint8_t work[FWT_WORK_MIN];
    struct mem_io mb, ml;
    mem_io_init(&mb, B.img, B.len);
    mem_io_init(&ml, L.img, L.len);
    struct fwt_image_info ib, il;
    assert_int_equal(fwt_image_parse(&mb.io, work, sizeof(work), &ib), FWT_OK);
    assert_int_equal(fwt_image_parse(&ml.io, work, sizeof(work), &il), FWT_OK);
    assert_int_equal(ib.hdr.byte_order, FWT_ORDER_BIG);
    assert_int_equal(il.hdr.byte_order, FWT_ORDER_LITTLE);
    ib.hdr.byte_order = il.hdr.byte_order;
    assert_memory_equal(&ib.hdr, &il.hdr, sizeof(ib.hdr));
    ib.hdr.byte_order = FWT_ORDER_BIG;
    assert_int_equal(ib.security_counter, 0x01020304);
    assert_int_equal(il.security_counter, 0x01020304);
    assert_int_equal(ib.unprot_off, il.unprot_off);
    assert_int_equal(ib.unprot_size, il.unprot_size);
    /* Both TLV iterators see the same types and lengths. */
    struct fwt_tlv_iter a, b;
    for (int area = 1; area >= 0; area--) {
        assert_int_equal(fwt_tlv_iter_begin(&a, &mb.io, &ib.hdr, area), FWT_OK);
        assert_int_equal(fwt_tlv_iter_begin(&b, &ml.io, &il.hdr, area), FWT_OK);
        for (;;) {
            uint16_t ta, tb, la, lb;
            uint32_t oa, ob;
            fwt_err ea = fwt_tlv_next(&a, &ta, &oa, &la);
            fwt_err eb = fwt_tlv_next(&b, &tb, &ob, &lb);
            assert_int_equal(ea, eb);
            if (ea != FWT_OK) {
                assert_int_equal(ea, FWT_E_NOT_FOUND);
                break;
            }
            assert_int_equal(ta, tb);
            assert_int_equal(la, lb);
            assert_int_equal(oa, ob);
        }
    }
}

/* Every single corrupted byte of a big-endian image is refused. */
static void test_big_endian_every_byte_flip_refused(void **state)
{
    (void)state;
    build(&B, 1, 5);
    struct fwt_policy p = mock_policy(&tA, 1, NULL, 0, 1);
    for (uint32_t i = 0; i < B.len; i++) {
        B.img[i] ^= 0x01;
        fwt_err e = mock_verify(B.img, B.len, &p, NULL);
        if (e == FWT_OK) {
            fail_msg("flipping byte %u still verifies", (unsigned)i);
        }
        B.img[i] ^= 0x01;
    }
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_OK);
}

static void test_mixed_and_garbage_magic_refused(void **state)
{
    (void)state;
    struct fwt_policy p = mock_policy(&tA, 1, NULL, 0, 1);
    static const uint8_t bad[][4] = {
        {0x3d, 0xb8, 0x96, 0xf3}, /* halves of each order */
        {0x96, 0xf3, 0xf3, 0x96},
        {0xf3, 0x96, 0x3d, 0xb8}, /* 16-bit words swapped */
        {0x00, 0x00, 0x00, 0x00},
        {0xff, 0xff, 0xff, 0xff},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned order = 7;
        assert_int_equal(fwt_image_order(bad[i], &order), FWT_E_MALFORMED);
        build(&B, 1, 5);
        memcpy(B.img, bad[i], 4);
        assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_MALFORMED);
        struct fwt_image_header h;
        assert_int_equal(fwt_header_decode(B.img, &h), FWT_E_MALFORMED);
    }
    /* A big-endian header on little-endian TLV areas (and the other way round):
     * the areas' info magic does not read as 0x6908 / 0x6907 in the header's order. */
    build(&B, 1, 5);
    build(&L, 0, 5);
    uint8_t img[TB_MAX];
    memcpy(img, L.img, L.len);
    memcpy(img, B.img, 32);
    assert_int_equal(mock_verify(img, L.len, &p, NULL), FWT_E_MALFORMED);
    memcpy(img, B.img, B.len);
    memcpy(img, L.img, 32);
    assert_int_equal(mock_verify(img, B.len, &p, NULL), FWT_E_MALFORMED);
    /* Only the unprotected area in the other order. */
    memcpy(img, B.img, B.len);
    memcpy(img + B.signed_len, L.img + L.signed_len, L.len - L.signed_len);
    assert_int_equal(mock_verify(img, B.len, &p, NULL), FWT_E_MALFORMED);
}

/* Length and offset checks stay as strict: a TLV length one too long, an area
 * total one too long or short, the header's protected size off by one. */
static void test_big_endian_lengths_strict(void **state)
{
    (void)state;
    struct fwt_policy p = mock_policy(&tA, 1, NULL, 0, 1);
    build(&B, 1, 5);
    uint32_t prot = 32 + 200;
    uint32_t unprot = B.signed_len;
    const uint32_t at[] = {
        10,         /* header prot_tlv_size (low byte, big endian: byte 11) */
        prot + 2,   /* protected area total */
        prot + 6,   /* the first protected TLV's length */
        unprot + 2, /* unprotected area total */
        unprot + 6, /* the hash TLV's length */
    };
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        for (int d = -1; d <= 1; d += 2) {
            build(&B, 1, 5);
            uint32_t o = at[i];
            uint16_t v = (uint16_t)((B.img[o] << 8) | B.img[o + 1]);
            tb_put16be(B.img + o, (uint16_t)(v + d));
            fwt_err e = mock_verify(B.img, B.len, &p, NULL);
            if (e == FWT_OK) {
                fail_msg("a length at %u off by %d verifies", (unsigned)o, d);
            }
        }
    }
}

/* imgtool's big-endian TLV types: one encoding per type, refused otherwise. */
static void test_tlv_type_codec(void **state)
{
    (void)state;
    uint8_t b[2];
    uint16_t t;
    for (uint32_t v = 0; v <= 0xffff; v++) {
        /* Little endian: a plain u16, every value. */
        assert_int_equal(fwt_tlv_type_encode(FWT_ORDER_LITTLE, (uint16_t)v, b), FWT_OK);
        assert_int_equal(b[0] | b[1] << 8, v);
        assert_int_equal(fwt_tlv_type_decode(FWT_ORDER_LITTLE, b, &t), FWT_OK);
        assert_int_equal(t, v);
        /* Big endian: encodable unless >= 0x100 with a zero low byte; round trips. */
        fwt_err e = fwt_tlv_type_encode(FWT_ORDER_BIG, (uint16_t)v, b);
        if (v >= 0x100 && (v & 0xff) == 0) {
            assert_int_equal(e, FWT_E_ARG);
        } else {
            assert_int_equal(e, FWT_OK);
            assert_int_equal(fwt_tlv_type_decode(FWT_ORDER_BIG, b, &t), FWT_OK);
            assert_int_equal(t, v);
        }
        /* Every byte pair decodes to at most one type, and only from its encoding. */
        uint8_t raw[2] = {(uint8_t)(v >> 8), (uint8_t)v};
        if (fwt_tlv_type_decode(FWT_ORDER_BIG, raw, &t) == FWT_OK) {
            assert_int_equal(fwt_tlv_type_encode(FWT_ORDER_BIG, t, b), FWT_OK);
            assert_memory_equal(b, raw, 2);
        }
    }
    /* imgtool's bytes: SHA256 'BBH' = 10 00, custom 0x00a1 'HH' = 00 a1, 0x46a0 = 46 a0. */
    static const uint8_t sha[2] = {0x10, 0x00}, c1[2] = {0x00, 0xa1}, fw[2] = {0x46, 0xa0};
    assert_int_equal(fwt_tlv_type_decode(FWT_ORDER_BIG, sha, &t), FWT_OK);
    assert_int_equal(t, FWT_TLV_SHA256);
    assert_int_equal(fwt_tlv_type_decode(FWT_ORDER_BIG, c1, &t), FWT_OK);
    assert_int_equal(t, 0xa1);
    assert_int_equal(fwt_tlv_type_decode(FWT_ORDER_BIG, fw, &t), FWT_OK);
    assert_int_equal(t, FWT_TLV_FORMAT);
    /* The other spellings: SHA256 as a u16 (00 10), 0x00a1 as 'BBH' (a1 00). */
    static const uint8_t sha_u16[2] = {0x00, 0x10}, c1_bbh[2] = {0xa1, 0x00};
    assert_int_equal(fwt_tlv_type_decode(FWT_ORDER_BIG, sha_u16, &t), FWT_E_MALFORMED);
    assert_int_equal(fwt_tlv_type_decode(FWT_ORDER_BIG, c1_bbh, &t), FWT_E_MALFORMED);
    assert_int_equal(fwt_image_u16(FWT_ORDER_BIG, sha), 0x1000);
    assert_int_equal(fwt_image_u32(FWT_ORDER_BIG, (const uint8_t *)"\x01\x02\x03\x04"),
                     0x01020304);
    assert_int_equal(fwt_image_u32(FWT_ORDER_LITTLE, (const uint8_t *)"\x01\x02\x03\x04"),
                     0x04030201);
}

/* An image whose hash TLV type is spelled 00 10 (a u16) instead of imgtool's 10 00. */
static void test_big_endian_noncanonical_type_refused(void **state)
{
    (void)state;
    build(&B, 1, 5);
    uint32_t hash_hdr = B.signed_len + 4;
    assert_int_equal(B.img[hash_hdr], FWT_TLV_SHA256);
    assert_int_equal(B.img[hash_hdr + 1], 0);
    B.img[hash_hdr] = 0;
    B.img[hash_hdr + 1] = FWT_TLV_SHA256;
    struct fwt_policy p = mock_policy(&tA, 1, NULL, 0, 1);
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_endian_image_verifies),
        cmocka_unit_test(test_both_orders_same_structure),
        cmocka_unit_test(test_big_endian_every_byte_flip_refused),
        cmocka_unit_test(test_mixed_and_garbage_magic_refused),
        cmocka_unit_test(test_big_endian_lengths_strict),
        cmocka_unit_test(test_tlv_type_codec),
        cmocka_unit_test(test_big_endian_noncanonical_type_refused),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
