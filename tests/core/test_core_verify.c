/*
 * Verifier core: structure, policy and bad-input tests with the mock backend
 * (no OpenSSL: these also run in the -m32 core-only build).
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

static struct mock_key kA, kB, kC, kD;
static struct fwt_trusted_key tA, tB, tC, tD;
static struct tb B; /* the image being built */

static int setup(void **state)
{
    (void)state;
    mock_key(&kA, FWT_KEY_ED25519, 1);
    mock_key(&kB, FWT_KEY_ECDSA_P256, 2);
    mock_key(&kC, FWT_KEY_RSA3072, 3);
    mock_key(&kD, FWT_KEY_ED25519, 4);
    mock_trusted(&tA, &kA);
    mock_trusted(&tB, &kB);
    mock_trusted(&tC, &kC);
    mock_trusted(&tD, &kD);
    return 0;
}

static struct fwt_policy pol1(const struct fwt_trusted_key *k)
{
    struct fwt_policy p;
    memset(&p, 0, sizeof(p));
    p.keys = k;
    p.n_keys = 1;
    p.threshold = 1;
    return p;
}

static fwt_err verify_b(const struct fwt_policy *p)
{
    return mock_verify(B.img, B.len, p, NULL);
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v);
    put16(p + 2, v >> 16);
}

/* ---- the good path ---- */

static void test_standard_image_verifies(void **state)
{
    (void)state;
    tb_standard(&B, &kA);
    struct fwt_policy p = pol1(&tA);
    struct fwt_image_info info;
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
    assert_int_equal(info.hdr.magic, FWT_IMAGE_MAGIC);
    assert_int_equal(info.hdr.hdr_size, 32);
    assert_int_equal(info.hdr.img_size, 200);
    assert_int_equal(info.hdr.version.major, 1);
    assert_int_equal(info.hdr.version.minor, 2);
    assert_int_equal(info.hdr.version.revision, 3);
    assert_int_equal(info.hdr.version.build, 4);
    assert_int_equal(info.format_version, 1);
    assert_int_equal(info.has_security_counter, 1);
    assert_int_equal(info.security_counter, 5);
    assert_int_equal(info.hw_id_len, 7);
    assert_memory_equal(info.hw_id, "board-a", 7);
    assert_int_equal(info.hash_alg, FWT_HASH_SHA256);
    assert_int_equal(info.digest_len, 32);
    assert_memory_equal(info.digest, B.digest, 32);
    assert_int_equal(info.prot_off, 232);
    assert_int_equal(info.unprot_off, B.signed_len);
    assert_int_equal(info.total_size, B.len);
    assert_int_equal(info.unprot_off + info.unprot_size, B.len);
    assert_int_equal(info.n_signers, 1);
    uint8_t kh[32];
    mock_hash(FWT_HASH_SHA256, kA.enc, sizeof(kA.enc), kh, 32);
    assert_memory_equal(info.signer_keyhash[0], kh, 32);
    assert_int_equal(info.has_cert, 0);
}

static void test_every_key_type(void **state)
{
    (void)state;
    const struct mock_key *keys[] = {&kA, &kB, &kC};
    const struct fwt_trusted_key *tk[] = {&tA, &tB, &tC};
    for (int i = 0; i < 3; i++) {
        tb_standard(&B, keys[i]);
        struct fwt_policy p = pol1(tk[i]);
        assert_int_equal(verify_b(&p), FWT_OK);
        /* and with the others' keys: signed, but not by a trusted key */
        struct fwt_policy q = pol1(tk[(i + 1) % 3]);
        assert_int_equal(verify_b(&q), FWT_E_UNKNOWN_KEY);
    }
    /* P-384 and RSA-2048 with their hashes */
    struct mock_key k384, k2048;
    struct fwt_trusted_key t384, t2048;
    mock_key(&k384, FWT_KEY_ECDSA_P384, 5);
    mock_key(&k2048, FWT_KEY_RSA2048, 6);
    mock_trusted(&t384, &k384);
    mock_trusted(&t2048, &k2048);
    tb_init(&B, 64, 100);
    B.hash = FWT_HASH_SHA384;
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &k384, 0, NULL, 0);
    tb_finish(&B);
    struct fwt_policy p = pol1(&t384);
    assert_int_equal(verify_b(&p), FWT_OK);
    tb_init(&B, 64, 100);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &k2048, 0, NULL, 0);
    tb_finish(&B);
    p = pol1(&t2048);
    assert_int_equal(verify_b(&p), FWT_OK);
    /* P-384 signature over a SHA-256 digest: MCUboot pairs P-384 with SHA-384 only */
    tb_init(&B, 64, 100);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &k384, 0, NULL, 0);
    tb_finish(&B);
    p = pol1(&t384);
    assert_int_equal(verify_b(&p), FWT_E_UNSUPPORTED);
}

static void test_plain_mcuboot_image(void **state)
{
    (void)state;
    /* No protected area at all, header padded to 0x200 as imgtool does. */
    tb_init(&B, 0x200, 1000);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    struct fwt_policy p = pol1(&tA);
    struct fwt_image_info info;
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
    assert_int_equal(info.format_version, 0);
    assert_int_equal(info.has_security_counter, 0);
    assert_int_equal(info.prot_off, info.unprot_off);
    /* The slot may hold more than the image (padding, trailer). */
    memset(B.img + B.len, 0xff, 100);
    assert_int_equal(mock_verify(B.img, B.len + 100, &p, NULL), FWT_OK);
}

static void test_pubkey_tlv(void **state)
{
    (void)state;
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kB, 1, NULL, 0);
    tb_finish(&B);
    struct fwt_policy p = pol1(&tB);
    assert_int_equal(verify_b(&p), FWT_OK);
    p = pol1(&tA);
    assert_int_equal(verify_b(&p), FWT_E_UNKNOWN_KEY);
}

static void test_pure_ed25519(void **state)
{
    (void)state;
    tb_init(&B, 32, 300);
    B.pure = 1;
    uint8_t one = 1;
    tb_prot(&B, FWT_TLV_SIG_PURE, &one, 1);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    struct fwt_policy p = pol1(&tA);
    assert_int_equal(verify_b(&p), FWT_OK);
    /* a digest-mode signature in a pure image does not verify */
    B.pure = 0;
    B.n_unprot = 0;
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_SIGNATURE);
    /* pure with an ECDSA key: unsupported */
    B.pure = 0;
    B.n_unprot = 0;
    tb_add_hash(&B);
    tb_add_sig(&B, &kB, 0, NULL, 0);
    tb_finish(&B);
    p = pol1(&tB);
    assert_int_equal(verify_b(&p), FWT_E_UNSUPPORTED);
    /* the marker must be exactly one byte, value 1 */
    uint8_t two = 2;
    {
        struct fwt_image_info info;
        B.pure = 1;
        B.n_unprot = 0;
        tb_add_hash(&B);
        tb_add_sig(&B, &kA, 0, NULL, 0);
        tb_finish(&B);
        p = pol1(&tA);
        assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
        assert_int_equal(info.pure, 1); /* found in the protected area */
    }
    tb_init(&B, 32, 300);
    tb_prot(&B, FWT_TLV_SIG_PURE, &two, 1);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    p = pol1(&tA);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
}

/* imgtool --pure: SHA-512 hash TLV, then SIG_PURE in the UNPROTECTED area, a
 * 64-byte key hash and the Ed25519 signature over the signed region. MCUboot
 * allows this one non-key, non-signature TLV there. */
static void build_imgtool_pure(int sig_pure_pos, const void *val, size_t len)
{
    tb_init(&B, 0x200, 300);
    uint8_t cnt[4] = {5, 0, 0, 0};
    tb_prot(&B, FWT_TLV_SEC_CNT, cnt, 4);
    B.hash = FWT_HASH_SHA512;
    B.pure = 1;
    tb_layout(&B);
    if (sig_pure_pos == 0) {
        tb_unprot(&B, FWT_TLV_SIG_PURE, val, len);
    }
    tb_add_hash(&B);
    if (sig_pure_pos == 1) {
        tb_unprot(&B, FWT_TLV_SIG_PURE, val, len);
    }
    tb_add_sig(&B, &kA, 0, NULL, 0);
    if (sig_pure_pos == 2) {
        tb_unprot(&B, FWT_TLV_SIG_PURE, val, len);
    }
    tb_finish(&B);
}

static void test_pure_marker_in_unprotected_area(void **state)
{
    (void)state;
    uint8_t one = 1, two = 2, ones[2] = {1, 1};
    struct fwt_policy p = pol1(&tA);
    struct fwt_image_info info;
    /* imgtool's layout (after the hash), and before the hash or after the signer */
    for (int pos = 0; pos < 3; pos++) {
        build_imgtool_pure(pos, &one, 1);
        memset(&info, 0xa5, sizeof(info));
        assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
        assert_int_equal(info.pure, 1);
        assert_int_equal(info.hash_alg, FWT_HASH_SHA512);
        assert_int_equal(info.n_signers, 1);
    }
    /* the region signature is checked, not the digest one */
    build_imgtool_pure(1, &one, 1);
    B.img[0x200 + 7] ^= 1; /* payload byte: digest mismatch first */
    assert_int_equal(verify_b(&p), FWT_E_DIGEST);
    build_imgtool_pure(1, &one, 1);
    B.img[B.len - 1] ^= 1; /* the signature */
    assert_int_equal(verify_b(&p), FWT_E_SIGNATURE);
    /* the marker is one byte, value 1, once, and never inside a signer group */
    build_imgtool_pure(1, &two, 1);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    build_imgtool_pure(1, ones, 2);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    build_imgtool_pure(1, &one, 1);
    B.n_unprot = 0;
    tb_add_hash(&B);
    tb_unprot(&B, FWT_TLV_SIG_PURE, &one, 1);
    tb_unprot(&B, FWT_TLV_SIG_PURE, &one, 1);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    /* ... nor in both areas */
    tb_init(&B, 0x200, 300);
    tb_prot(&B, FWT_TLV_SIG_PURE, &one, 1);
    B.hash = FWT_HASH_SHA512;
    B.pure = 1;
    tb_layout(&B);
    tb_add_hash(&B);
    tb_unprot(&B, FWT_TLV_SIG_PURE, &one, 1);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    /* between the key hash and its signature */
    build_imgtool_pure(1, &one, 1);
    B.n_unprot = 0;
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    B.unprot[B.n_unprot] = B.unprot[B.n_unprot - 1]; /* move the signature one on */
    B.unprot[B.n_unprot - 1].type = FWT_TLV_SIG_PURE;
    B.unprot[B.n_unprot - 1].len = 1;
    B.unprot[B.n_unprot - 1].val[0] = 1;
    B.n_unprot++;
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    /* An attacker adding the (unsigned) marker to a digest-signed image, or
     * removing it from a pure one, gets a signature that does not verify. */
    tb_init(&B, 0x200, 300);
    B.hash = FWT_HASH_SHA512;
    tb_layout(&B);
    tb_add_hash(&B);
    tb_unprot(&B, FWT_TLV_SIG_PURE, &one, 1);
    tb_add_sig(&B, &kA, 0, NULL, 0); /* B.pure == 0: over the digest */
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_SIGNATURE);
    build_imgtool_pure(1, &one, 1);
    B.n_unprot = 0;
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0); /* over the region, marker gone */
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_SIGNATURE);
    /* a pure marker with an ECDSA signer: unsupported, as before */
    tb_init(&B, 0x200, 300);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_unprot(&B, FWT_TLV_SIG_PURE, &one, 1);
    tb_add_sig(&B, &kB, 0, NULL, 0);
    tb_finish(&B);
    p = pol1(&tB);
    assert_int_equal(verify_b(&p), FWT_E_UNSUPPORTED);
}

/* imgtool --sha 512 with an Ed25519 key (not pure): Ed25519 over the 64-byte
 * SHA-512 digest, 64-byte key hash; MCUboot built with SHA-512 checks it so. */
static void test_ed25519_sha512_digest(void **state)
{
    (void)state;
    tb_init(&B, 0x200, 300);
    B.hash = FWT_HASH_SHA512;
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    struct fwt_policy p = pol1(&tA);
    struct fwt_image_info info;
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
    assert_int_equal(info.pure, 0);
    assert_int_equal(info.digest_len, 64);
    /* SHA-384 stays unsupported for Ed25519 (imgtool never pairs them) */
    tb_init(&B, 0x200, 300);
    B.hash = FWT_HASH_SHA384;
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_UNSUPPORTED);
}

/* ---- work buffer and constants ---- */

static void test_work_min(void **state)
{
    (void)state;
    assert_int_equal(fwt_work_min(), FWT_WORK_MIN);
    assert_true(FWT_WORK_MIN >= FWT_CERT_MAX + FWT_SIG_MAX);
    tb_standard(&B, &kA);
    struct fwt_policy p = pol1(&tA);
    struct fwt_crypto_ops ops;
    struct mock_crypto mc;
    struct mem_io mio;
    mock_ops(&ops, &mc);
    mem_io_init(&mio, B.img, B.len);
    /* exactly FWT_WORK_MIN bytes on the heap: ASan catches any overrun */
    uint8_t *w = malloc(FWT_WORK_MIN);
    assert_non_null(w);
    assert_int_equal(fwt_image_verify(&mio.io, &ops, &p, w, FWT_WORK_MIN, NULL), FWT_OK);
    assert_int_equal(fwt_image_verify(&mio.io, &ops, &p, w, FWT_WORK_MIN - 1, NULL),
                     FWT_E_BUFFER);
    struct fwt_image_info info;
    assert_int_equal(fwt_image_parse(&mio.io, w, FWT_WORK_MIN, &info), FWT_OK);
    assert_int_equal(fwt_image_parse(&mio.io, w, FWT_WORK_MIN - 1, &info), FWT_E_BUFFER);
    free(w);
}

static void test_fih_values(void **state)
{
    (void)state;
    fwt_fih ok = FWT_FIH_SUCCESS, bad = FWT_FIH_FAILURE;
    assert_true(ok != 0 && ok != 1 && ok != UINT32_MAX);
    assert_true(bad != 0 && bad != 1 && bad != UINT32_MAX);
    assert_int_equal((uint32_t)(ok ^ bad), UINT32_MAX); /* every bit differs */
    int pop = 0;
    for (int i = 0; i < 32; i++) {
        pop += (int)((ok >> i) & 1U);
    }
    assert_int_equal(pop, 16); /* balanced: neither stuck-at-0 nor stuck-at-1 */
    for (int i = 0; i < 32; i++) {
        fwt_fih f = ok ^ (1U << i);
        assert_true(f != FWT_FIH_SUCCESS);
        assert_true(f != FWT_FIH_FAILURE);
        fwt_fih g = bad ^ (1U << i);
        assert_true(g != FWT_FIH_SUCCESS);
    }
}

/* The hardened entry point: exactly FWT_FIH_SUCCESS (and its masked copy) for a
 * good image, FWT_FIH_FAILURE for every failure, never success after one flipped
 * bit in either copy. (mock_verify checks it agrees with fwt_image_verify on
 * every image the other tests build, too.) */
static fwt_fih verify_fih_b(const struct fwt_policy *p, struct mock_crypto *mc, struct mem_io *mio,
                            size_t work_len, volatile fwt_fih *check, fwt_err *reason)
{
    static uint8_t w[FWT_WORK_MIN];
    struct fwt_crypto_ops ops;
    mock_ops(&ops, mc);
    struct fwt_image_info info;
    return fwt_image_verify_fih(&mio->io, &ops, p, w, work_len, &info, check, reason);
}

static void assert_fih_failure(fwt_fih v, fwt_fih check)
{
    assert_true(v == FWT_FIH_FAILURE);
    assert_true(check == (FWT_FIH_FAILURE ^ FWT_FIH_MASK));
    assert_false(FWT_FIH_VERDICT_OK(v, check));
}

static void test_fih_verdict(void **state)
{
    (void)state;
    struct mock_crypto mc;
    struct mem_io mio;
    volatile fwt_fih check = 0;
    fwt_err reason = FWT_E_INTERNAL;
    tb_standard(&B, &kA);
    mem_io_init(&mio, B.img, B.len);
    struct fwt_policy p = pol1(&tA);
    fwt_fih v = verify_fih_b(&p, &mc, &mio, FWT_WORK_MIN, &check, &reason);
    assert_true(v == FWT_FIH_SUCCESS);
    assert_true(check == (FWT_FIH_SUCCESS ^ FWT_FIH_MASK));
    assert_int_equal(reason, FWT_OK);
    assert_true(FWT_FIH_VERDICT_OK(v, check));
    /* reason is optional */
    check = 0;
    v = verify_fih_b(&p, &mc, &mio, FWT_WORK_MIN, &check, NULL);
    assert_true(FWT_FIH_VERDICT_OK(v, check));

    /* Failure paths, each with its reason. */
    struct {
        int what;
        fwt_err want;
    } cases[] = {{0, FWT_E_BUFFER}, {1, FWT_E_CRYPTO}, {2, FWT_E_IO},  {3, FWT_E_UNKNOWN_KEY},
                 {4, FWT_E_HW_ID},  {5, FWT_E_COUNTER}, {6, FWT_E_DIGEST}, {7, FWT_E_SIGNATURE},
                 {8, FWT_E_NO_TRUST}, {9, FWT_E_MALFORMED}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tb_standard(&B, &kA);
        mem_io_init(&mio, B.img, B.len);
        p = pol1(&tA);
        size_t wl = FWT_WORK_MIN;
        memset(&mc, 0, sizeof(mc));
        switch (cases[i].what) {
        case 0: wl = FWT_WORK_MIN - 1; break;
        case 1: break; /* fail_hash set below, after mock_ops */
        case 2: mio.fail_at = 0; break;
        case 3: p = pol1(&tB); break;
        case 4: p.hw_id = (const uint8_t *)"board-b"; p.hw_id_len = 7; break;
        case 5: p.min_security_counter = 6; break;
        case 6: B.img[40] ^= 1; break; /* payload */
        case 7: B.img[B.len - 1] ^= 1; break; /* signature */
        case 8: p.n_keys = 0; break;
        case 9: B.img[0] ^= 1; break; /* magic */
        default: fail();
        }
        check = FWT_FIH_SUCCESS ^ FWT_FIH_MASK; /* a stale success copy must be overwritten */
        reason = FWT_OK;
        if (cases[i].what == 1) {
            struct fwt_crypto_ops ops;
            uint8_t w[FWT_WORK_MIN];
            struct fwt_image_info info;
            mock_ops(&ops, &mc);
            mc.fail_hash = 1;
            v = fwt_image_verify_fih(&mio.io, &ops, &p, w, wl, &info, &check, &reason);
        } else {
            v = verify_fih_b(&p, &mc, &mio, wl, &check, &reason);
        }
        assert_int_equal(reason, cases[i].want);
        assert_fih_failure(v, check);
    }
    /* NULL arguments, and no place for the second copy. */
    tb_standard(&B, &kA);
    mem_io_init(&mio, B.img, B.len);
    p = pol1(&tA);
    struct fwt_crypto_ops ops;
    uint8_t w[FWT_WORK_MIN];
    mock_ops(&ops, &mc);
    check = FWT_FIH_SUCCESS ^ FWT_FIH_MASK;
    v = fwt_image_verify_fih(NULL, &ops, &p, w, sizeof(w), NULL, &check, &reason);
    assert_int_equal(reason, FWT_E_ARG);
    assert_fih_failure(v, check);
    reason = FWT_OK;
    v = fwt_image_verify_fih(&mio.io, &ops, &p, w, sizeof(w), NULL, NULL, &reason);
    assert_true(v == FWT_FIH_FAILURE);
    assert_int_equal(reason, FWT_E_ARG);
    check = 0;
    v = fwt_image_verify_fih(&mio.io, &ops, &p, w, sizeof(w), NULL, &check, NULL);
    assert_true(FWT_FIH_VERDICT_OK(v, check)); /* info may be NULL */
}

static void test_fih_verdict_bit_flips(void **state)
{
    (void)state;
    const fwt_fih v = FWT_FIH_SUCCESS, c = FWT_FIH_SUCCESS ^ FWT_FIH_MASK;
    assert_true(FWT_FIH_VERDICT_OK(v, c));
    for (int i = 0; i < 32; i++) {
        assert_false(FWT_FIH_VERDICT_OK(v ^ (1U << i), c));
        assert_false(FWT_FIH_VERDICT_OK(v, c ^ (1U << i)));
        /* and from a failure verdict, one flip never reaches success */
        assert_false(FWT_FIH_VERDICT_OK(FWT_FIH_FAILURE ^ (1U << i),
                                        FWT_FIH_FAILURE ^ FWT_FIH_MASK));
        assert_false(FWT_FIH_VERDICT_OK(FWT_FIH_FAILURE, (FWT_FIH_FAILURE ^ FWT_FIH_MASK) ^ (1U << i)));
    }
    /* zeroed, all-ones, swapped or equal copies are no success either */
    assert_false(FWT_FIH_VERDICT_OK(0, 0));
    assert_false(FWT_FIH_VERDICT_OK(UINT32_MAX, UINT32_MAX));
    assert_false(FWT_FIH_VERDICT_OK(c, v));
    assert_false(FWT_FIH_VERDICT_OK(v, v));
    assert_false(FWT_FIH_VERDICT_OK(FWT_FIH_FAILURE, FWT_FIH_FAILURE ^ FWT_FIH_MASK));
    /* the mask keeps the second copy away from both verdicts */
    assert_true(c != FWT_FIH_SUCCESS && c != FWT_FIH_FAILURE && c != 0 && c != UINT32_MAX);
    int pop = 0;
    for (int i = 0; i < 32; i++) {
        pop += (int)((FWT_FIH_MASK >> i) & 1U);
    }
    assert_int_equal(pop, 16);
}

/* The algorithm table (fwt_alg.h) pins MCUboot's pairings: the rule the core
 * had before the table, written out, against fwt_core_sig_alg for every TLV,
 * key type, hash and mode. */
static fwt_err pairing_rule(uint16_t tlv, enum fwt_key_type kt, enum fwt_hash_alg h, int pure,
                            enum fwt_sig_alg *alg)
{
    *alg = FWT_SIG_NONE;
    if (pure && tlv != FWT_TLV_ED25519) {
        return FWT_E_UNSUPPORTED;
    }
    switch (tlv) {
    case FWT_TLV_ED25519:
        if (kt != FWT_KEY_ED25519) {
            return FWT_E_SIGNATURE;
        }
        *alg = pure ? FWT_SIG_ED25519_PURE : FWT_SIG_ED25519;
        return pure || h == FWT_HASH_SHA256 || h == FWT_HASH_SHA512 ? FWT_OK : FWT_E_UNSUPPORTED;
    case FWT_TLV_ECDSA_SIG:
        if (kt == FWT_KEY_ECDSA_P256) {
            *alg = FWT_SIG_ECDSA_P256;
            return h == FWT_HASH_SHA256 ? FWT_OK : FWT_E_UNSUPPORTED;
        }
        if (kt == FWT_KEY_ECDSA_P384) {
            *alg = FWT_SIG_ECDSA_P384;
            return h == FWT_HASH_SHA384 ? FWT_OK : FWT_E_UNSUPPORTED;
        }
        return FWT_E_SIGNATURE;
    case FWT_TLV_RSA2048_PSS:
    case FWT_TLV_RSA3072_PSS: {
        enum fwt_key_type want = tlv == FWT_TLV_RSA2048_PSS ? FWT_KEY_RSA2048 : FWT_KEY_RSA3072;
        *alg = tlv == FWT_TLV_RSA2048_PSS ? FWT_SIG_RSA2048_PSS : FWT_SIG_RSA3072_PSS;
        return kt != want ? FWT_E_SIGNATURE : h == FWT_HASH_SHA256 ? FWT_OK : FWT_E_UNSUPPORTED;
    }
    default:
        return FWT_E_INTERNAL;
    }
}

static void test_alg_table(void **state)
{
    (void)state;
    const uint16_t tlvs[] = {FWT_TLV_ED25519, FWT_TLV_ECDSA_SIG, FWT_TLV_RSA2048_PSS,
                             FWT_TLV_RSA3072_PSS, FWT_TLV_ECDSA224, FWT_TLV_SHA256};
    for (size_t i = 0; i < sizeof(tlvs) / sizeof(tlvs[0]); i++) {
        for (int kt = FWT_KEY_NONE; kt <= FWT_KEY_RSA3072 + 1; kt++) {
            for (int h = FWT_HASH_NONE; h <= FWT_HASH_SHA512 + 1; h++) {
                for (int pure = 0; pure < 2; pure++) {
                    enum fwt_sig_alg want_alg, got_alg;
                    fwt_err want = pairing_rule(tlvs[i], (enum fwt_key_type)kt,
                                                (enum fwt_hash_alg)h, pure, &want_alg);
                    fwt_err got = fwt_core_sig_alg(tlvs[i], (enum fwt_key_type)kt,
                                                   (enum fwt_hash_alg)h, pure, &got_alg);
                    assert_int_equal(got, want);
                    if (want == FWT_OK) {
                        assert_int_equal(got_alg, want_alg);
                    }
                }
            }
        }
    }
    /* hashes: TLV type, size and KEYHASH length agree both ways */
    const struct {
        enum fwt_hash_alg alg;
        uint16_t tlv;
        size_t size;
    } hs[] = {{FWT_HASH_SHA256, FWT_TLV_SHA256, 32},
              {FWT_HASH_SHA384, FWT_TLV_SHA384, 48},
              {FWT_HASH_SHA512, FWT_TLV_SHA512, 64}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(fwt_hash_size(hs[i].alg), hs[i].size);
        assert_ptr_equal(fwt_core_hash_by_tlv(hs[i].tlv), fwt_core_hash_by_alg(hs[i].alg));
        assert_ptr_equal(fwt_core_hash_by_size(hs[i].size), fwt_core_hash_by_alg(hs[i].alg));
    }
    assert_int_equal(fwt_hash_size(FWT_HASH_NONE), 0);
    assert_null(fwt_core_hash_by_size(20));
    assert_null(fwt_core_hash_by_tlv(FWT_TLV_ECDSA_SIG));
    /* every key type has a row; rows sharing a signature TLV share its length bounds */
    for (int kt = FWT_KEY_ED25519; kt <= FWT_KEY_RSA3072; kt++) {
        const struct fwt_core_alg *a = fwt_core_alg_by_key((enum fwt_key_type)kt);
        assert_non_null(a);
        const struct fwt_core_alg *first = fwt_core_alg_by_tlv(a->sig_tlv);
        assert_int_equal(a->sig_min, first->sig_min);
        assert_int_equal(a->sig_max, first->sig_max);
    }
    assert_null(fwt_core_alg_by_key(FWT_KEY_NONE));
    assert_null(fwt_core_alg_by_tlv(FWT_TLV_ECDSA224));
}

static void test_ct_compare(void **state)
{
    (void)state;
    uint8_t a[40], b[40];
    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));
    assert_int_equal(fwt_ct_compare(a, b, sizeof(a)), 0);
    assert_int_equal(fwt_ct_compare(a, b, 0), 0);
    for (size_t i = 0; i < sizeof(a); i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1U << bit);
            assert_int_not_equal(fwt_ct_compare(a, b, sizeof(a)), 0);
            b[i] ^= (uint8_t)(1U << bit);
        }
    }
}

/* ---- arguments and policy ---- */

static void test_policy_arguments(void **state)
{
    (void)state;
    tb_standard(&B, &kA);
    struct fwt_policy p;
    memset(&p, 0, sizeof(p));
    p.threshold = 1;
    assert_int_equal(verify_b(&p), FWT_E_NO_TRUST); /* no trust anchor: refuse all */
    p.threshold = 0;
    assert_int_equal(verify_b(&p), FWT_E_NO_TRUST);
    p = pol1(&tA);
    p.threshold = 0;
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    p.threshold = 2;
    assert_int_equal(verify_b(&p), FWT_E_ARG); /* more than keys */
    p = pol1(&tA);
    p.keys = NULL;
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    p = pol1(&tA);
    p.hw_id_len = 3;
    assert_int_equal(verify_b(&p), FWT_E_ARG); /* length without bytes */
    p.hw_id = (const uint8_t *)"x";
    p.hw_id_len = FWT_HW_ID_MAX + 1;
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    struct fwt_trusted_key bad = tA;
    bad.key_len = 0;
    p = pol1(&bad);
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    bad = tA;
    bad.type = FWT_KEY_NONE;
    p = pol1(&bad);
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    /* NULL arguments */
    p = pol1(&tA);
    struct fwt_crypto_ops ops;
    struct mock_crypto mc;
    struct mem_io mio;
    uint8_t w[FWT_WORK_MIN];
    mock_ops(&ops, &mc);
    mem_io_init(&mio, B.img, B.len);
    assert_int_equal(fwt_image_verify(NULL, &ops, &p, w, sizeof(w), NULL), FWT_E_ARG);
    assert_int_equal(fwt_image_verify(&mio.io, NULL, &p, w, sizeof(w), NULL), FWT_E_ARG);
    assert_int_equal(fwt_image_verify(&mio.io, &ops, NULL, w, sizeof(w), NULL), FWT_E_ARG);
    assert_int_equal(fwt_image_verify(&mio.io, &ops, &p, NULL, sizeof(w), NULL), FWT_E_ARG);
    ops.verify = NULL;
    assert_int_equal(fwt_image_verify(&mio.io, &ops, &p, w, sizeof(w), NULL), FWT_E_ARG);
    assert_int_equal(fwt_image_parse(NULL, w, sizeof(w), NULL), FWT_E_ARG);
    assert_int_equal(fwt_image_parse(&mio.io, NULL, sizeof(w), NULL), FWT_E_ARG);
}

static void test_backend_and_io_failures(void **state)
{
    (void)state;
    tb_standard(&B, &kA);
    struct fwt_policy p = pol1(&tA);
    struct fwt_crypto_ops ops;
    struct mock_crypto mc;
    struct mem_io mio;
    uint8_t w[FWT_WORK_MIN];
    mock_ops(&ops, &mc);
    mem_io_init(&mio, B.img, B.len);
    mc.fail_hash = 1;
    assert_int_equal(fwt_image_verify(&mio.io, &ops, &p, w, sizeof(w), NULL), FWT_E_CRYPTO);
    mc.fail_hash = 0;
    mc.fail_verify = 1;
    assert_int_equal(fwt_image_verify(&mio.io, &ops, &p, w, sizeof(w), NULL), FWT_E_CRYPTO);
    mc.fail_verify = 0;
    /* a read failure anywhere is FWT_E_IO, never success */
    for (uint32_t at = 0; at < B.len; at += 7) {
        mio.fail_at = at;
        fwt_err e = fwt_image_verify(&mio.io, &ops, &p, w, sizeof(w), NULL);
        assert_int_equal(e, FWT_E_IO);
    }
}

/* ---- bad input ---- */

static void test_flip_every_byte(void **state)
{
    (void)state;
    tb_standard(&B, &kA);
    struct fwt_policy p = pol1(&tA);
    p.hw_id = (const uint8_t *)"board-a";
    p.hw_id_len = 7;
    p.min_security_counter = 5;
    assert_int_equal(verify_b(&p), FWT_OK);
    for (uint32_t i = 0; i < B.len; i++) {
        for (unsigned bit = 0; bit < 8; bit += 3) {
            B.img[i] ^= (uint8_t)(1U << bit);
            fwt_err e = verify_b(&p);
            if (e == FWT_OK) {
                fail_msg("flipping bit %u of byte %u still verifies", bit, (unsigned)i);
            }
            /* the signed region: digest mismatch or a structural refusal */
            if (i >= 32 && i < 232) {
                assert_int_equal(e, FWT_E_DIGEST); /* payload */
            }
            B.img[i] ^= (uint8_t)(1U << bit);
        }
    }
    /* the signature's bytes, each flipped: FWT_E_SIGNATURE */
    uint32_t sig_off = B.len - 64;
    for (uint32_t i = sig_off; i < B.len; i++) {
        B.img[i] ^= 0x80;
        assert_int_equal(verify_b(&p), FWT_E_SIGNATURE);
        B.img[i] ^= 0x80;
    }
    assert_int_equal(verify_b(&p), FWT_OK);
}

static void test_truncation_every_offset(void **state)
{
    (void)state;
    tb_standard(&B, &kA);
    struct fwt_policy p = pol1(&tA);
    struct fwt_image_info info;
    uint8_t w[FWT_WORK_MIN];
    for (uint32_t n = 0; n < B.len; n++) {
        assert_int_equal(mock_verify(B.img, n, &p, NULL), FWT_E_MALFORMED);
        struct mem_io mio;
        mem_io_init(&mio, B.img, n);
        assert_int_equal(fwt_image_parse(&mio.io, w, sizeof(w), &info), FWT_E_MALFORMED);
    }
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_OK);
}

static void test_random_mutations(void **state)
{
    (void)state;
    tb_standard(&B, &kA);
    struct fwt_policy p = pol1(&tA);
    uint8_t orig[TB_MAX];
    memcpy(orig, B.img, B.len);
    uint32_t seed = 12345;
    for (int round = 0; round < 3000; round++) {
        memcpy(B.img, orig, B.len);
        int changed = 0;
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245U + 12345U;
            uint32_t pos = (seed >> 8) % B.len;
            seed = seed * 1103515245U + 12345U;
            uint8_t v = (uint8_t)(seed >> 16);
            changed |= B.img[pos] != v;
            B.img[pos] = v;
        }
        fwt_err e = verify_b(&p);
        if (changed) {
            assert_int_not_equal(e, FWT_OK);
        }
    }
}

static void test_header_sizes(void **state)
{
    (void)state;
    struct fwt_policy p = pol1(&tA);
    tb_standard(&B, &kA);
    uint8_t orig[TB_MAX];
    memcpy(orig, B.img, B.len);
    static const uint32_t img_sizes[] = {0xffffffffU, 0xfffffff0U, 0xffffffe0U, 0x80000000U,
                                         0x10000U, 201};
    for (size_t i = 0; i < sizeof(img_sizes) / sizeof(img_sizes[0]); i++) {
        memcpy(B.img, orig, B.len);
        put32(B.img + 12, img_sizes[i]); /* hdr_size + img_size beyond the file, or wraps */
        assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    }
    static const uint16_t hdr_sizes[] = {0, 1, 31, 0xffff, 0x8000};
    for (size_t i = 0; i < sizeof(hdr_sizes) / sizeof(hdr_sizes[0]); i++) {
        memcpy(B.img, orig, B.len);
        put16(B.img + 8, hdr_sizes[i]);
        assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    }
    /* protected size in the header disagrees with the area */
    static const uint16_t psizes[] = {0, 1, 3, 4, 0xffff, 8, 40};
    for (size_t i = 0; i < sizeof(psizes) / sizeof(psizes[0]); i++) {
        memcpy(B.img, orig, B.len);
        put16(B.img + 10, psizes[i]);
        assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    }
    /* wrong image magic */
    memcpy(B.img, orig, B.len);
    B.img[0] ^= 1;
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    /* encrypted and unknown flags */
    memcpy(B.img, orig, B.len);
    put32(B.img + 16, FWT_IMAGE_F_ENCRYPTED_AES128);
    assert_int_equal(verify_b(&p), FWT_E_UNSUPPORTED);
    put32(B.img + 16, FWT_IMAGE_F_ENCRYPTED_AES256);
    assert_int_equal(verify_b(&p), FWT_E_UNSUPPORTED);
    put32(B.img + 16, 0x200); /* compression, or anything we do not know */
    assert_int_equal(verify_b(&p), FWT_E_UNSUPPORTED);
}

static void test_erased_images(void **state)
{
    (void)state;
    struct fwt_policy p = pol1(&tA);
    uint8_t w[FWT_WORK_MIN];
    struct fwt_image_info info;
    static uint8_t erased[4096];
    for (int v = 0; v < 2; v++) {
        memset(erased, v ? 0xff : 0x00, sizeof(erased));
        assert_int_equal(mock_verify(erased, sizeof(erased), &p, NULL), FWT_E_MALFORMED);
        struct mem_io mio;
        mem_io_init(&mio, erased, sizeof(erased));
        assert_int_equal(fwt_image_parse(&mio.io, w, sizeof(w), &info), FWT_E_MALFORMED);
    }
    /* a valid header followed by erased flash where the TLVs should be */
    tb_standard(&B, &kA);
    memset(B.img + B.signed_len, 0xff, B.len - B.signed_len);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    memset(B.img + B.signed_len, 0x00, B.len - B.signed_len);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
}

static void test_tlv_magic_and_area_sizes(void **state)
{
    (void)state;
    struct fwt_policy p = pol1(&tA);
    tb_standard(&B, &kA);
    uint8_t orig[TB_MAX];
    memcpy(orig, B.img, B.len);
    uint32_t po = 232, uo = B.signed_len;
    /* wrong magics */
    put16(B.img + uo, 0x6906);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    put16(B.img + uo, FWT_TLV_PROT_INFO_MAGIC);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    memcpy(B.img, orig, B.len);
    put16(B.img + po, FWT_TLV_INFO_MAGIC);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    /* unprotected total: too small for its own info header, past the end, short by 1..3 */
    static const uint16_t tots[] = {0, 1, 3, 0xffff};
    for (size_t i = 0; i < sizeof(tots) / sizeof(tots[0]); i++) {
        memcpy(B.img, orig, B.len);
        put16(B.img + uo + 2, tots[i]);
        assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    }
    for (uint32_t d = 1; d <= 3; d++) {
        memcpy(B.img, orig, B.len);
        put16(B.img + uo + 2, B.len - uo - d); /* the last TLV runs past the area */
        assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
        memcpy(B.img, orig, B.len);
        put16(B.img + uo + 2, B.len - uo + d); /* the area runs past the file */
        assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    }
    /* a protected area the header does not declare (prot size 0): its magic is not 0x6907 */
    tb_standard(&B, &kA);
    put16(B.img + 10, 0);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
}

static void test_tlv_lengths(void **state)
{
    (void)state;
    struct fwt_policy p = pol1(&tA);
    tb_standard(&B, &kA);
    uint8_t orig[TB_MAX];
    memcpy(orig, B.img, B.len);
    uint32_t uo = B.signed_len;
    /* each unprotected TLV's length: runs past the end, overlaps the next, wraps */
    uint32_t tlv[3] = {uo + 4, uo + 4 + 36, uo + 4 + 36 + 36};
    static const uint16_t lens[] = {0, 1, 31, 33, 63, 65, 0x7fff, 0xfffc, 0xffff};
    for (int t = 0; t < 3; t++) {
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            memcpy(B.img, orig, B.len);
            put16(B.img + tlv[t] + 2, lens[i]);
            assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
        }
    }
    /* protected TLV lengths: the counter is 4 bytes; others run past/overlap */
    uint32_t po = 232;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        memcpy(B.img, orig, B.len);
        put16(B.img + po + 4 + 2, lens[i]);
        fwt_err e = verify_b(&p);
        assert_true(e == FWT_E_MALFORMED || e == FWT_E_DIGEST);
        struct mem_io mio;
        uint8_t w[FWT_WORK_MIN];
        struct fwt_image_info info;
        mem_io_init(&mio, B.img, B.len);
        assert_int_equal(fwt_image_parse(&mio.io, w, sizeof(w), &info), FWT_E_MALFORMED);
    }
    /* too-short hash TLV (MCUboot 1.7 fix), wrong-length key hash, signature */
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_unprot(&B, FWT_TLV_SHA256, B.digest, 31);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_unprot(&B, FWT_TLV_KEYHASH, B.digest, 20);
    tb_unprot(&B, FWT_TLV_ED25519, B.img, 64);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    B.unprot[B.n_unprot - 1].len = 63; /* Ed25519 is 64 bytes */
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
}

static void test_hash_tlv_count(void **state)
{
    (void)state;
    struct fwt_policy p = pol1(&tA);
    /* missing */
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    /* duplicate, same and different algorithm, before and after the signature */
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    uint8_t d384[48] = {0};
    tb_unprot(&B, FWT_TLV_SHA384, d384, 48);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    /* in the protected area */
    tb_init(&B, 32, 64);
    tb_prot(&B, FWT_TLV_SHA256, d384, 32);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
}

static void test_signature_presence(void **state)
{
    (void)state;
    struct fwt_policy p = pol1(&tA);
    /* only the hash: unsigned, a distinct failure */
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_UNSIGNED);
    struct fwt_image_info info;
    uint8_t w[FWT_WORK_MIN];
    struct mem_io mio;
    mem_io_init(&mio, B.img, B.len);
    assert_int_equal(fwt_image_parse(&mio.io, w, sizeof(w), &info), FWT_OK); /* structure is fine */
    /* a key hash with no signature after it */
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    B.n_unprot--;
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    /* a signature with no key TLV before it */
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    B.unprot[1] = B.unprot[2];
    B.n_unprot = 2;
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    /* two key TLVs before one signature */
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    B.unprot[3] = B.unprot[2];
    B.unprot[2] = B.unprot[1];
    B.n_unprot = 4;
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    /* signed by an untrusted key */
    tb_standard(&B, &kD);
    assert_int_equal(verify_b(&p), FWT_E_UNKNOWN_KEY);
    /* a trusted key's signature of the wrong kind: invalid */
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    uint8_t rsa[384] = {0};
    B.unprot[2].type = FWT_TLV_RSA3072_PSS;
    B.unprot[2].len = 384;
    memcpy(B.unprot[2].val, rsa, 384);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_SIGNATURE);
    /* ECDSA224 is withdrawn: unsupported */
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    B.unprot[2].type = FWT_TLV_ECDSA224;
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_UNSUPPORTED);
}

static void test_hw_id(void **state)
{
    (void)state;
    tb_standard(&B, &kA);
    struct fwt_policy p = pol1(&tA);
    assert_int_equal(verify_b(&p), FWT_OK); /* the device names none */
    p.hw_id = (const uint8_t *)"board-a";
    p.hw_id_len = 7;
    assert_int_equal(verify_b(&p), FWT_OK);
    p.hw_id = (const uint8_t *)"board-b";
    assert_int_equal(verify_b(&p), FWT_E_HW_ID);
    p.hw_id = (const uint8_t *)"board";
    p.hw_id_len = 5; /* a prefix is not a match */
    assert_int_equal(verify_b(&p), FWT_E_HW_ID);
    p.hw_id = (const uint8_t *)"board-a2";
    p.hw_id_len = 8;
    assert_int_equal(verify_b(&p), FWT_E_HW_ID);
    /* the image names none, the device requires one */
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_HW_ID);
    /* malformed: empty, too long, twice */
    uint8_t big[FWT_HW_ID_MAX + 1];
    memset(big, 'x', sizeof(big));
    size_t lens[] = {0, sizeof(big)};
    for (int i = 0; i < 2; i++) {
        tb_init(&B, 32, 64);
        tb_prot(&B, FWT_TLV_HW_ID, big, lens[i]);
        tb_layout(&B);
        tb_add_hash(&B);
        tb_add_sig(&B, &kA, 0, NULL, 0);
        tb_finish(&B);
        assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    }
    tb_init(&B, 32, 64);
    tb_prot(&B, FWT_TLV_HW_ID, "board-a", 7);
    tb_prot(&B, FWT_TLV_HW_ID, "board-a", 7);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    p.hw_id = (const uint8_t *)"board-a";
    p.hw_id_len = 7;
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
}

static void build_counter(uint32_t c)
{
    uint8_t v[4];
    put32(v, c);
    tb_init(&B, 32, 64);
    tb_prot(&B, FWT_TLV_SEC_CNT, v, 4);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
}

static void test_security_counter(void **state)
{
    (void)state;
    struct fwt_policy p = pol1(&tA);
    build_counter(10);
    p.min_security_counter = 10;
    assert_int_equal(verify_b(&p), FWT_OK); /* equal */
    p.min_security_counter = 9;
    assert_int_equal(verify_b(&p), FWT_OK); /* higher */
    p.min_security_counter = 11;
    assert_int_equal(verify_b(&p), FWT_E_COUNTER); /* lower */
    p.min_security_counter = UINT32_MAX;
    assert_int_equal(verify_b(&p), FWT_E_COUNTER);
    build_counter(UINT32_MAX);
    assert_int_equal(verify_b(&p), FWT_OK);
    p.min_security_counter = UINT32_MAX - 1;
    assert_int_equal(verify_b(&p), FWT_OK);
    build_counter(0);
    p.min_security_counter = 0;
    assert_int_equal(verify_b(&p), FWT_OK);
    p.min_security_counter = 1;
    assert_int_equal(verify_b(&p), FWT_E_COUNTER);
    /* missing counter */
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_COUNTER);
    p.min_security_counter = 0;
    assert_int_equal(verify_b(&p), FWT_OK);
    /* malformed: 3 or 8 bytes, or twice */
    uint8_t v[8] = {1, 0, 0, 0, 1, 0, 0, 0};
    for (int i = 0; i < 3; i++) {
        tb_init(&B, 32, 64);
        tb_prot(&B, FWT_TLV_SEC_CNT, v, i == 0 ? 3 : i == 1 ? 8 : 4);
        if (i == 2) {
            tb_prot(&B, FWT_TLV_SEC_CNT, v, 4);
        }
        tb_layout(&B);
        tb_add_hash(&B);
        tb_add_sig(&B, &kA, 0, NULL, 0);
        tb_finish(&B);
        assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
    }
}

static void test_security_tlv_in_unprotected_area(void **state)
{
    (void)state;
    /* CVE-2024-32883: a counter (or any non-key, non-signature TLV) in the unsigned area */
    struct fwt_policy p = pol1(&tA);
    p.min_security_counter = 5;
    uint8_t v[4] = {100, 0, 0, 0};
    uint8_t fmt[4] = {1, 1, 0, 0};
    uint8_t prov[32] = {0};
    struct {
        uint16_t t;
        const void *v;
        size_t len;
    } cases[] = {
        {FWT_TLV_SEC_CNT, v, 4},         {FWT_TLV_HW_ID, "board-a", 7},
        {FWT_TLV_FORMAT, fmt, 4},        {FWT_TLV_PROVENANCE, prov, 32},
        {FWT_TLV_SIG_PURE, prov, 1}, /* value 0: not the marker */
        {FWT_TLV_DEPENDENCY, prov, 12},
        {FWT_TLV_BOOT_RECORD, prov, 8},  {0x0030, prov, 32}, /* ENC_RSA2048 */
        {0x00a0, prov, 4},               {0x7fff, prov, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int where = 0; where < 2; where++) {
            tb_init(&B, 32, 64);
            tb_layout(&B);
            if (where == 0) {
                tb_unprot(&B, cases[i].t, cases[i].v, cases[i].len);
            }
            tb_add_hash(&B);
            tb_add_sig(&B, &kA, 0, NULL, 0);
            if (where == 1) {
                tb_unprot(&B, cases[i].t, cases[i].v, cases[i].len);
            }
            tb_finish(&B);
            fwt_err e = verify_b(&p);
            if (e != FWT_E_MALFORMED) {
                fail_msg("TLV 0x%04x in the unprotected area: %s", cases[i].t, fwt_err_name(e));
            }
        }
    }
    /* the counter honoured only from the protected area */
    build_counter(4);
    tb_unprot(&B, FWT_TLV_SEC_CNT, v, 4);
    tb_finish(&B);
    assert_int_not_equal(verify_b(&p), FWT_OK);
}

static void test_critical_and_unknown_tlvs(void **state)
{
    (void)state;
    struct fwt_policy p = pol1(&tA);
    uint8_t x[8] = {0};
    static const uint16_t crit[] = {0x46a4, 0x46b0, 0x46ff};
    for (size_t i = 0; i < 3; i++) {
        tb_init(&B, 32, 64);
        tb_prot(&B, crit[i], x, sizeof(x));
        tb_layout(&B);
        tb_add_hash(&B);
        tb_add_sig(&B, &kA, 0, NULL, 0);
        tb_finish(&B);
        assert_int_equal(verify_b(&p), FWT_E_UNSUPPORTED);
        tb_init(&B, 32, 64);
        tb_layout(&B);
        tb_add_hash(&B);
        tb_add_sig(&B, &kA, 0, NULL, 0);
        tb_unprot(&B, crit[i], x, sizeof(x));
        tb_finish(&B);
        assert_int_equal(verify_b(&p), FWT_E_UNSUPPORTED);
    }
    /* MCUboot TLVs outside our range in the protected area are signed and ignored */
    static const uint16_t ok[] = {FWT_TLV_DEPENDENCY, FWT_TLV_BOOT_RECORD, 0x469f, 0x4700, 0x00a0};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        tb_init(&B, 32, 64);
        tb_prot(&B, ok[i], x, sizeof(x));
        tb_layout(&B);
        tb_add_hash(&B);
        tb_add_sig(&B, &kA, 0, NULL, 0);
        tb_finish(&B);
        assert_int_equal(verify_b(&p), FWT_OK);
    }
    /* provenance: 32 bytes, reported */
    uint8_t prov[32];
    memset(prov, 0xab, sizeof(prov));
    tb_init(&B, 32, 64);
    tb_prot(&B, FWT_TLV_PROVENANCE, prov, 32);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    struct fwt_image_info info;
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
    assert_int_equal(info.has_provenance, 1);
    assert_memory_equal(info.provenance, prov, 32);
    tb_init(&B, 32, 64);
    tb_prot(&B, FWT_TLV_PROVENANCE, prov, 31);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
}

static fwt_err with_format(uint8_t v0, uint8_t v1, uint8_t r0, uint8_t r1, size_t len)
{
    uint8_t fmt[5] = {v0, v1, r0, r1, 0};
    tb_init(&B, 32, 64);
    tb_prot(&B, FWT_TLV_FORMAT, fmt, len);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &kA, 0, NULL, 0);
    tb_finish(&B);
    struct fwt_policy p = pol1(&tA);
    return verify_b(&p);
}

static void test_format_version(void **state)
{
    (void)state;
    assert_int_equal(with_format(1, 1, 0, 0, 4), FWT_OK);
    assert_int_equal(with_format(2, 1, 0, 0, 4), FWT_E_UNSUPPORTED); /* future format */
    assert_int_equal(with_format(2, 2, 0, 0, 4), FWT_E_UNSUPPORTED);
    assert_int_equal(with_format(1, 2, 0, 0, 4), FWT_E_UNSUPPORTED); /* newer reader needed */
    assert_int_equal(with_format(255, 255, 0, 0, 4), FWT_E_UNSUPPORTED);
    assert_int_equal(with_format(0, 0, 0, 0, 4), FWT_E_MALFORMED);
    assert_int_equal(with_format(1, 0, 0, 0, 4), FWT_E_MALFORMED);
    assert_int_equal(with_format(1, 1, 1, 0, 4), FWT_E_MALFORMED); /* reserved */
    assert_int_equal(with_format(1, 1, 0, 0x80, 4), FWT_E_MALFORMED);
    assert_int_equal(with_format(1, 1, 0, 0, 3), FWT_E_MALFORMED);
    assert_int_equal(with_format(1, 1, 0, 0, 5), FWT_E_MALFORMED);
}

static void build_signed_by(const struct mock_key *const *keys, size_t n)
{
    tb_init(&B, 32, 64);
    tb_layout(&B);
    tb_add_hash(&B);
    for (size_t i = 0; i < n; i++) {
        tb_add_sig(&B, keys[i], 0, NULL, 0);
    }
    tb_finish(&B);
}

static void test_threshold(void **state)
{
    (void)state;
    struct fwt_trusted_key abc[3] = {tA, tB, tC};
    struct fwt_policy p;
    memset(&p, 0, sizeof(p));
    p.keys = abc;
    p.n_keys = 3;
    const struct mock_key *ab[] = {&kA, &kB};
    build_signed_by(ab, 2);
    struct fwt_image_info info;
    for (uint32_t t = 1; t <= 2; t++) {
        p.threshold = t;
        assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
        assert_int_equal(info.n_signers, 2);
    }
    p.threshold = 3;
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_E_THRESHOLD);
    assert_int_equal(info.n_signers, 2);
    p.threshold = 4; /* more than the keys */
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    p.threshold = 0;
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    /* the same key twice counts once */
    const struct mock_key *aa[] = {&kA, &kA, &kA};
    build_signed_by(aa, 3);
    p.threshold = 2;
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_E_THRESHOLD);
    assert_int_equal(info.n_signers, 1);
    /* the same key listed twice in the policy would be two anchors for one holder: refused,
     * also at threshold 1, and also when the second copy is another buffer with the same bytes */
    struct fwt_trusted_key a2[2] = {tA, tA};
    p.keys = a2;
    p.n_keys = 2;
    build_signed_by(aa, 2);
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    assert_int_equal(fwt_policy_check(&p), FWT_E_ARG);
    p.threshold = 1;
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    p.threshold = 2;
    struct mock_key kA2 = kA;
    mock_trusted(&a2[1], &kA2);
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    /* the same bytes as a key and as a root: one anchor, refused too */
    p.keys = &tA;
    p.n_keys = 1;
    p.roots = &a2[1];
    p.n_roots = 1;
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    p.roots = NULL;
    p.n_roots = 0;
    /* valid + untrusted signer: threshold 1 passes, 2 does not */
    p.keys = abc;
    p.n_keys = 3;
    const struct mock_key *ad[] = {&kA, &kD};
    build_signed_by(ad, 2);
    p.threshold = 1;
    assert_int_equal(verify_b(&p), FWT_OK);
    p.threshold = 2;
    assert_int_equal(verify_b(&p), FWT_E_THRESHOLD);
    /* an invalid signature by a trusted key is never outvoted */
    const struct mock_key *abc_k[] = {&kA, &kB, &kC};
    build_signed_by(abc_k, 3);
    B.img[B.len - 1] ^= 1; /* C's signature */
    p.threshold = 2;
    assert_int_equal(verify_b(&p), FWT_E_SIGNATURE);
    /* threshold above FWT_MAX_SIGNERS cannot be counted: refused */
    struct mock_key mk[FWT_MAX_SIGNERS + 1];
    struct fwt_trusted_key many[FWT_MAX_SIGNERS + 1];
    for (size_t i = 0; i < FWT_MAX_SIGNERS + 1; i++) {
        mock_key(&mk[i], FWT_KEY_ED25519, 100 + (int)i);
        mock_trusted(&many[i], &mk[i]);
    }
    p.keys = many;
    p.n_keys = FWT_MAX_SIGNERS + 1;
    p.threshold = FWT_MAX_SIGNERS;
    assert_int_equal(fwt_policy_check(&p), FWT_OK); /* distinct keys: a valid policy */
    p.threshold = FWT_MAX_SIGNERS + 1;
    assert_int_equal(verify_b(&p), FWT_E_ARG);
    assert_int_equal(fwt_policy_check(&p), FWT_E_ARG);
}

static void test_error_precedence(void **state)
{
    (void)state;
    /* digest before signatures: a tampered payload signed by nobody is a digest failure */
    tb_standard(&B, &kD);
    struct fwt_policy p = pol1(&tA);
    B.img[100] ^= 1;
    assert_int_equal(verify_b(&p), FWT_E_DIGEST);
    /* signatures before hardware id and counter */
    tb_standard(&B, &kD);
    p.hw_id = (const uint8_t *)"other";
    p.hw_id_len = 5;
    p.min_security_counter = 99;
    assert_int_equal(verify_b(&p), FWT_E_UNKNOWN_KEY);
    /* hardware id before counter */
    tb_standard(&B, &kA);
    assert_int_equal(verify_b(&p), FWT_E_HW_ID);
    /* structure before digest */
    tb_standard(&B, &kA);
    B.img[100] ^= 1;
    put16(B.img + B.signed_len, 0x1234);
    assert_int_equal(verify_b(&p), FWT_E_MALFORMED);
}

static void test_tlv_iter(void **state)
{
    (void)state;
    tb_standard(&B, &kA);
    struct mem_io mio;
    mem_io_init(&mio, B.img, B.len);
    struct fwt_image_header hdr;
    assert_int_equal(fwt_header_decode(B.img, &hdr), FWT_OK);
    assert_int_equal(fwt_header_decode(NULL, &hdr), FWT_E_ARG);
    struct fwt_tlv_iter it;
    uint16_t t, l;
    uint32_t off;
    assert_int_equal(fwt_tlv_iter_begin(&it, &mio.io, &hdr, 1), FWT_OK);
    uint16_t want[] = {FWT_TLV_SEC_CNT, FWT_TLV_FORMAT, FWT_TLV_HW_ID};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fwt_tlv_next(&it, &t, &off, &l), FWT_OK);
        assert_int_equal(t, want[i]);
    }
    assert_int_equal(fwt_tlv_next(&it, &t, &off, &l), FWT_E_NOT_FOUND);
    assert_int_equal(fwt_tlv_next(&it, &t, &off, &l), FWT_E_NOT_FOUND);
    assert_int_equal(fwt_tlv_iter_begin(&it, &mio.io, &hdr, 0), FWT_OK);
    assert_int_equal(fwt_tlv_next(&it, &t, &off, &l), FWT_OK);
    assert_int_equal(t, FWT_TLV_SHA256);
    assert_int_equal(l, 32);
    assert_int_equal(off, B.signed_len + 8);
    /* no protected area */
    tb_init(&B, 32, 10);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_finish(&B);
    mem_io_init(&mio, B.img, B.len);
    assert_int_equal(fwt_header_decode(B.img, &hdr), FWT_OK);
    assert_int_equal(fwt_tlv_iter_begin(&it, &mio.io, &hdr, 1), FWT_E_NOT_FOUND);
    /* stray bytes after the last TLV */
    put16(B.img + B.signed_len + 2, B.len - B.signed_len + 2);
    memset(B.img + B.len, 0, 2);
    mem_io_init(&mio, B.img, B.len + 2);
    assert_int_equal(fwt_tlv_iter_begin(&it, &mio.io, &hdr, 0), FWT_OK);
    assert_int_equal(fwt_tlv_next(&it, &t, &off, &l), FWT_OK);
    assert_int_equal(fwt_tlv_next(&it, &t, &off, &l), FWT_E_MALFORMED);
    assert_int_equal(fwt_tlv_next(NULL, &t, &off, &l), FWT_E_ARG);
    assert_int_equal(fwt_tlv_iter_begin(NULL, &mio.io, &hdr, 0), FWT_E_ARG);
}

static void test_error_table(void **state)
{
    (void)state;
#define E(x) {x, #x}
    static const struct {
        fwt_err e;
        const char *name;
    } all[] = {
        E(FWT_OK), E(FWT_E_ARG), E(FWT_E_IO), E(FWT_E_NOMEM), E(FWT_E_BUFFER),
        E(FWT_E_INTERNAL), E(FWT_E_CRYPTO), E(FWT_E_KEY), E(FWT_E_NOT_FOUND),
        E(FWT_E_NETWORK), E(FWT_E_LOCKED), E(FWT_E_STATE), E(FWT_E_MALFORMED),
        E(FWT_E_DIGEST), E(FWT_E_SIGNATURE), E(FWT_E_UNSIGNED), E(FWT_E_UNKNOWN_KEY),
        E(FWT_E_HW_ID), E(FWT_E_COUNTER), E(FWT_E_UNSUPPORTED), E(FWT_E_THRESHOLD),
        E(FWT_E_CERT), E(FWT_E_KEY_VERSION), E(FWT_E_NO_TRUST), E(FWT_E_TEST_KEY),
        E(FWT_E_TOO_LARGE), E(FWT_E_META), E(FWT_E_META_SIG), E(FWT_E_META_EXPIRED),
        E(FWT_E_META_ROLLBACK), E(FWT_E_META_MISMATCH), E(FWT_E_NO_BOOTABLE),
        E(FWT_E_NO_UPDATE), E(FWT_E_ATTEST),
    };
#undef E
    int named = 0;
    for (int v = 0; v < FWT_E__LAST + 5; v++) {
        const char *n = fwt_err_name((fwt_err)v);
        const char *want = NULL;
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
            if ((int)all[i].e == v) {
                want = all[i].name;
            }
        }
        if (want) {
            assert_string_equal(n, want);
            assert_string_not_equal(fwt_strerror((fwt_err)v), "unknown error");
            named++;
        } else {
            assert_string_equal(n, "FWT_E_UNKNOWN");
            assert_string_equal(fwt_strerror((fwt_err)v), "unknown error");
        }
    }
    assert_int_equal(named, (int)(sizeof(all) / sizeof(all[0])));
    assert_string_equal(fwt_err_name((fwt_err)-1), "FWT_E_UNKNOWN");
}

/* ---- a digest the caller computed (streaming installers) ---- */

static fwt_err verify_pre(const struct mem_io *mio, const struct fwt_policy *p,
                          enum fwt_hash_alg alg, const uint8_t *dig, size_t dig_len,
                          struct fwt_image_info *info)
{
    struct fwt_crypto_ops ops;
    struct mock_crypto mc;
    static uint8_t work[FWT_WORK_MIN];
    mock_ops(&ops, &mc);
    return fwt_image_verify_prehashed(&mio->io, &ops, p, alg, dig, dig_len, work, sizeof(work),
                                      info);
}

static void test_prehashed(void **state)
{
    (void)state;
    tb_standard(&B, &kA);
    struct fwt_policy p = pol1(&tA);
    struct fwt_image_info full, info;
    assert_int_equal(mock_verify(B.img, B.len, &p, &full), FWT_OK);

    /* The payload is never read: a read error inside it does not matter. */
    struct mem_io mio;
    mem_io_init(&mio, B.img, B.len);
    mio.fail_at = B.hdr_size + 100;
    assert_int_equal(verify_pre(&mio, &p, FWT_HASH_SHA256, B.digest, 32, &info), FWT_OK);
    assert_memory_equal(&info, &full, sizeof(info));
    {
        struct fwt_crypto_ops ops;
        struct mock_crypto mc;
        static uint8_t work[FWT_WORK_MIN];
        mock_ops(&ops, &mc);
        assert_int_equal(fwt_image_verify(&mio.io, &ops, &p, work, sizeof(work), NULL),
                         FWT_E_IO);
    }

    /* The caller's digest must be the signed one. */
    uint8_t bad[32];
    memcpy(bad, B.digest, 32);
    bad[31] ^= 1;
    assert_int_equal(verify_pre(&mio, &p, FWT_HASH_SHA256, bad, 32, NULL), FWT_E_DIGEST);
    /* The image decides the algorithm: another one is not compared. */
    uint8_t big[48] = {0};
    memcpy(big, B.digest, 32);
    assert_int_equal(verify_pre(&mio, &p, FWT_HASH_SHA384, big, 48, NULL), FWT_E_UNSUPPORTED);
    assert_int_equal(verify_pre(&mio, &p, FWT_HASH_SHA256, big, 48, NULL), FWT_E_UNSUPPORTED);
    assert_int_equal(verify_pre(&mio, &p, FWT_HASH_SHA256, B.digest, 31, NULL),
                     FWT_E_UNSUPPORTED);
    assert_int_equal(verify_pre(&mio, &p, FWT_HASH_SHA256, NULL, 32, &info), FWT_E_ARG);
    assert_int_equal(info.digest_len, 0);
    assert_int_equal(verify_pre(&mio, &p, FWT_HASH_SHA256, B.digest, 0, NULL), FWT_E_ARG);
    assert_int_equal(verify_pre(&mio, &p, FWT_HASH_SHA256, big, FWT_DIGEST_MAX + 1, NULL),
                     FWT_E_ARG);

    /* Signatures and policy are checked as fwt_image_verify checks them. */
    struct fwt_policy q = pol1(&tB);
    assert_int_equal(verify_pre(&mio, &q, FWT_HASH_SHA256, B.digest, 32, NULL),
                     FWT_E_UNKNOWN_KEY);
    q = p;
    q.hw_id = (const uint8_t *)"board-b";
    q.hw_id_len = 7;
    assert_int_equal(verify_pre(&mio, &q, FWT_HASH_SHA256, B.digest, 32, NULL), FWT_E_HW_ID);
    q = p;
    q.min_security_counter = 6;
    assert_int_equal(verify_pre(&mio, &q, FWT_HASH_SHA256, B.digest, 32, NULL), FWT_E_COUNTER);
    q = p;
    q.n_keys = 0;
    assert_int_equal(verify_pre(&mio, &q, FWT_HASH_SHA256, B.digest, 32, NULL), FWT_E_NO_TRUST);
    /* A changed signature (read from io) is still refused. */
    static uint8_t img2[TB_MAX];
    memcpy(img2, B.img, B.len);
    img2[B.len - 1] ^= 0x40;
    mem_io_init(&mio, img2, B.len);
    assert_int_equal(verify_pre(&mio, &p, FWT_HASH_SHA256, B.digest, 32, NULL),
                     FWT_E_SIGNATURE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_image_verifies),
        cmocka_unit_test(test_every_key_type),
        cmocka_unit_test(test_plain_mcuboot_image),
        cmocka_unit_test(test_pubkey_tlv),
        cmocka_unit_test(test_pure_ed25519),
        cmocka_unit_test(test_pure_marker_in_unprotected_area),
        cmocka_unit_test(test_ed25519_sha512_digest),
        cmocka_unit_test(test_work_min),
        cmocka_unit_test(test_fih_values),
        cmocka_unit_test(test_fih_verdict),
        cmocka_unit_test(test_fih_verdict_bit_flips),
        cmocka_unit_test(test_alg_table),
        cmocka_unit_test(test_ct_compare),
        cmocka_unit_test(test_policy_arguments),
        cmocka_unit_test(test_backend_and_io_failures),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_truncation_every_offset),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_header_sizes),
        cmocka_unit_test(test_erased_images),
        cmocka_unit_test(test_tlv_magic_and_area_sizes),
        cmocka_unit_test(test_tlv_lengths),
        cmocka_unit_test(test_hash_tlv_count),
        cmocka_unit_test(test_signature_presence),
        cmocka_unit_test(test_hw_id),
        cmocka_unit_test(test_security_counter),
        cmocka_unit_test(test_security_tlv_in_unprotected_area),
        cmocka_unit_test(test_critical_and_unknown_tlvs),
        cmocka_unit_test(test_format_version),
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_error_precedence),
        cmocka_unit_test(test_tlv_iter),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_prehashed),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
