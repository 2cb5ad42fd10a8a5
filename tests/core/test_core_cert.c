/* Boot-key certificates in the verifier core, with the mock backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mock.h"

static struct mock_key root, root2, signer, other;
static struct fwt_trusted_key troot, troot2, tsigner;
static struct tb B;
static uint8_t cert[FWT_CERT_MAX];

static int setup(void **state)
{
    (void)state;
    mock_key(&root, FWT_KEY_ED25519, 10);
    mock_key(&root2, FWT_KEY_ECDSA_P256, 11);
    mock_key(&signer, FWT_KEY_ECDSA_P256, 12);
    mock_key(&other, FWT_KEY_ECDSA_P256, 13);
    mock_trusted(&troot, &root);
    mock_trusted(&troot2, &root2);
    mock_trusted(&tsigner, &signer);
    return 0;
}

static struct fwt_policy roots(const struct fwt_trusted_key *r)
{
    struct fwt_policy p;
    memset(&p, 0, sizeof(p));
    p.roots = r;
    p.n_roots = 1;
    p.threshold = 1;
    return p;
}

static void build(const struct mock_key *k, const uint8_t *c, size_t cl, int pubkey)
{
    tb_init(&B, 32, 128);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, k, pubkey, c, cl);
    tb_finish(&B);
}

static void test_valid_certificate(void **state)
{
    (void)state;
    size_t cl = mock_cert(cert, &root, &signer, 3, 2000000000ULL, "dev");
    struct fwt_policy p = roots(&troot);
    p.now = 1700000000ULL;
    p.hw_id = (const uint8_t *)"dev";
    p.hw_id_len = 3;
    p.min_key_version = 3;
    for (int pk = 0; pk < 2; pk++) {
        build(&signer, cert, cl, pk);
        struct fwt_image_info info;
        p.hw_id_len = 0; /* the image itself has no hw id TLV */
        assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
        assert_int_equal(info.has_cert, 1);
        assert_int_equal(info.key_version, 3);
        assert_int_equal(info.n_signers, 1);
    }
    /* standalone */
    struct fwt_crypto_ops ops;
    struct mock_crypto mc;
    struct fwt_cert c;
    mock_ops(&ops, &mc);
    p.hw_id_len = 3;
    assert_int_equal(fwt_cert_verify(cert, cl, &ops, &p, &c), FWT_OK);
    assert_int_equal(c.key_type, FWT_KEY_ECDSA_P256);
    assert_int_equal(c.root_sig_alg, FWT_SIG_ED25519);
    assert_int_equal(c.key_version, 3);
    assert_true(c.not_after == 2000000000ULL);
    assert_int_equal(c.hw_id_len, 3);
    assert_memory_equal(c.hw_id, "dev", 3);
    assert_int_equal(c.key_len, MOCK_KEY_LEN);
    assert_memory_equal(c.key, signer.enc, MOCK_KEY_LEN);
    assert_int_equal(c.tbs_len, 56 + 3 + MOCK_KEY_LEN);
    /* no clock: expiry not checked; no expiry: never expires */
    p.now = 0;
    size_t cl2 = mock_cert(cert, &root, &signer, 3, 1, NULL);
    assert_int_equal(fwt_cert_verify(cert, cl2, &ops, &p, &c), FWT_OK);
    p.now = UINT64_MAX;
    cl2 = mock_cert(cert, &root, &signer, 3, 0, NULL);
    assert_int_equal(fwt_cert_verify(cert, cl2, &ops, &p, &c), FWT_OK);
    /* an ECDSA root */
    struct fwt_policy p2 = roots(&troot2);
    cl2 = mock_cert(cert, &root2, &signer, 1, 0, NULL);
    assert_int_equal(fwt_cert_verify(cert, cl2, &ops, &p2, &c), FWT_OK);
    build(&signer, cert, cl2, 0);
    assert_int_equal(mock_verify(B.img, B.len, &p2, NULL), FWT_OK);
}

static void test_bad_certificates(void **state)
{
    (void)state;
    struct fwt_policy p = roots(&troot);
    p.now = 1700000000ULL;
    /* forged: every byte of the certificate flipped, one at a time */
    size_t cl = mock_cert(cert, &root, &signer, 3, 0, NULL);
    for (size_t i = 0; i < cl; i++) {
        cert[i] ^= 0x01;
        build(&signer, cert, cl, 0);
        fwt_err e = mock_verify(B.img, B.len, &p, NULL);
        assert_int_not_equal(e, FWT_OK);
        cert[i] ^= 0x01;
    }
    /* forged signature */
    cert[cl - 1] ^= 0x40;
    build(&signer, cert, cl, 0);
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_CERT);
    /* expired */
    cl = mock_cert(cert, &root, &signer, 3, 1600000000ULL, NULL);
    build(&signer, cert, cl, 0);
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_CERT);
    p.now = 1600000000ULL; /* the last valid second */
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_OK);
    p.now = 1600000001ULL;
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_CERT);
    /* other hardware */
    cl = mock_cert(cert, &root, &signer, 3, 0, "board-x");
    build(&signer, cert, cl, 0);
    p.hw_id = (const uint8_t *)"dev";
    p.hw_id_len = 3;
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_CERT);
    p.hw_id = (const uint8_t *)"board-x";
    p.hw_id_len = 7;
    /* hw id matches the certificate, but the image has no hw id TLV */
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_HW_ID);
    p.hw_id_len = 0;
    /* key version below the minimum: revoked */
    cl = mock_cert(cert, &root, &signer, 3, 0, NULL);
    build(&signer, cert, cl, 0);
    p.min_key_version = 4;
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_KEY_VERSION);
    p.min_key_version = 3;
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_OK);
    /* untrusted root: no trust */
    struct fwt_policy p2 = roots(&troot2);
    assert_int_equal(mock_verify(B.img, B.len, &p2, NULL), FWT_E_UNKNOWN_KEY);
    /* a valid certificate for another key than the one that signed */
    cl = mock_cert(cert, &root, &other, 3, 0, NULL);
    build(&signer, cert, cl, 0);
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_CERT);
    build(&signer, cert, cl, 1);
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_CERT);
    /* the signing key trusted directly: the certificate is not needed */
    cl = mock_cert(cert, &root2, &signer, 3, 0, NULL);
    build(&signer, cert, cl, 0);
    struct fwt_policy p3;
    memset(&p3, 0, sizeof(p3));
    p3.keys = &tsigner;
    p3.n_keys = 1;
    p3.threshold = 1;
    assert_int_equal(mock_verify(B.img, B.len, &p3, NULL), FWT_OK);
    /* root type does not match the signature algorithm in the certificate */
    cl = mock_cert(cert, &root, &signer, 3, 0, NULL);
    cert[6] = FWT_SIG_ECDSA_P256;
    struct fwt_crypto_ops ops;
    struct mock_crypto mc;
    struct fwt_cert c;
    mock_ops(&ops, &mc);
    assert_int_equal(fwt_cert_verify(cert, cl, &ops, &p, &c), FWT_E_CERT);
    /* standalone: unknown root is FWT_E_CERT, no roots is FWT_E_NO_TRUST */
    cl = mock_cert(cert, &root, &signer, 3, 0, NULL);
    assert_int_equal(fwt_cert_verify(cert, cl, &ops, &p2, &c), FWT_E_CERT);
    struct fwt_policy none;
    memset(&none, 0, sizeof(none));
    assert_int_equal(fwt_cert_verify(cert, cl, &ops, &none, &c), FWT_E_NO_TRUST);
    assert_int_equal(fwt_cert_verify(NULL, cl, &ops, &p, &c), FWT_E_ARG);
    assert_int_equal(fwt_cert_verify(cert, cl, NULL, &p, &c), FWT_E_ARG);
}

static void test_cert_parse(void **state)
{
    (void)state;
    struct fwt_cert c;
    size_t cl = mock_cert(cert, &root, &signer, 3, 0, "hw");
    assert_int_equal(fwt_cert_parse(cert, cl, &c), FWT_OK);
    /* truncated at every length, and one byte too long */
    for (size_t n = 0; n < cl; n++) {
        assert_int_not_equal(fwt_cert_parse(cert, n, &c), FWT_OK);
    }
    cert[cl] = 0;
    assert_int_equal(fwt_cert_parse(cert, cl + 1, &c), FWT_E_MALFORMED);
    assert_int_equal(fwt_cert_parse(cert, FWT_CERT_MAX + 1, &c), FWT_E_MALFORMED);
    struct {
        size_t off;
        uint8_t val;
        fwt_err want;
    } cases[] = {
        {0, 'X', FWT_E_MALFORMED},                 /* magic */
        {4, 2, FWT_E_UNSUPPORTED},                 /* cert format version */
        {5, 0, FWT_E_MALFORMED},                   /* key type none */
        {5, 6, FWT_E_MALFORMED},                   /* key type unknown */
        {6, FWT_SIG_ED25519_PURE, FWT_E_MALFORMED}, /* root alg: pure not allowed */
        {6, 0, FWT_E_MALFORMED},
        {6, 7, FWT_E_MALFORMED},
        {7, 1, FWT_E_MALFORMED},                   /* reserved */
        {52, 65, FWT_E_MALFORMED},                 /* hw id too long */
        {53, 1, FWT_E_MALFORMED},                  /* hw id length past the end */
        {54, 0, FWT_E_MALFORMED},                  /* key length: 0 (low byte) */
        {55, 0x10, FWT_E_MALFORMED},               /* key length too large */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cl = mock_cert(cert, &root, &signer, 3, 0, "hw");
        if (cases[i].off == 54) {
            cert[55] = 0;
        }
        cert[cases[i].off] = cases[i].val;
        assert_int_equal(fwt_cert_parse(cert, cl, &c), cases[i].want);
    }
    /* signature length 0, or larger than the certificate */
    cl = mock_cert(cert, &root, &signer, 3, 0, "hw");
    size_t tbs = 56 + 2 + MOCK_KEY_LEN;
    cert[tbs] = 0;
    cert[tbs + 1] = 0;
    assert_int_equal(fwt_cert_parse(cert, cl, &c), FWT_E_MALFORMED);
    cert[tbs] = 0xff;
    cert[tbs + 1] = 0xff;
    assert_int_equal(fwt_cert_parse(cert, cl, &c), FWT_E_MALFORMED);
    assert_int_equal(fwt_cert_parse(NULL, cl, &c), FWT_E_ARG);
    /* a malformed certificate TLV makes the image malformed, even with a trusted key */
    cl = mock_cert(cert, &root, &signer, 3, 0, NULL);
    cert[0] = 'X';
    build(&signer, cert, cl, 0);
    struct fwt_policy p;
    memset(&p, 0, sizeof(p));
    p.keys = &tsigner;
    p.n_keys = 1;
    p.threshold = 1;
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_MALFORMED);
    /* two certificates before one key, or a certificate with nothing after it */
    cl = mock_cert(cert, &root, &signer, 3, 0, NULL);
    tb_init(&B, 32, 16);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_unprot(&B, FWT_TLV_CERT, cert, cl);
    tb_add_sig(&B, &signer, 0, cert, cl);
    tb_finish(&B);
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_MALFORMED);
    tb_init(&B, 32, 16);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &signer, 0, NULL, 0);
    tb_unprot(&B, FWT_TLV_CERT, cert, cl);
    tb_finish(&B);
    assert_int_equal(mock_verify(B.img, B.len, &p, NULL), FWT_E_MALFORMED);
}

static void test_threshold_with_roots(void **state)
{
    (void)state;
    /* two signing keys certified by the same root count as two signers */
    struct fwt_trusted_key both[2] = {troot, troot2};
    struct fwt_policy p;
    memset(&p, 0, sizeof(p));
    p.roots = both;
    p.n_roots = 2;
    p.threshold = 2;
    uint8_t c2[FWT_CERT_MAX];
    size_t cl = mock_cert(cert, &root, &signer, 1, 0, NULL);
    size_t cl2 = mock_cert(c2, &root, &other, 1, 0, NULL);
    tb_init(&B, 32, 16);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &signer, 0, cert, cl);
    tb_add_sig(&B, &other, 0, c2, cl2);
    tb_finish(&B);
    struct fwt_image_info info;
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
    assert_int_equal(info.n_signers, 2);
    /* the same certified key twice: one signer */
    tb_init(&B, 32, 16);
    tb_layout(&B);
    tb_add_hash(&B);
    tb_add_sig(&B, &signer, 0, cert, cl);
    tb_add_sig(&B, &signer, 0, cert, cl);
    tb_finish(&B);
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_E_THRESHOLD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_certificate),
        cmocka_unit_test(test_bad_certificates),
        cmocka_unit_test(test_cert_parse),
        cmocka_unit_test(test_threshold_with_roots),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
