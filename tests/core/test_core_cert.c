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
    mock_anchor(&root, &troot, FWT_KEY_ED25519, 10);
    mock_anchor(&root2, &troot2, FWT_KEY_ECDSA_P256, 11);
    mock_anchor(&signer, &tsigner, FWT_KEY_ECDSA_P256, 12);
    mock_key(&other, FWT_KEY_ECDSA_P256, 13);
    return 0;
}

static struct fwt_policy roots(const struct fwt_trusted_key *r)
{
    return mock_policy(NULL, 0, r, 1, 1);
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
    struct fwt_policy p = mock_policy(&tsigner, 1, NULL, 0, 1);
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

/* An image signed by n keys, each after its certificate (cert[i] NULL: signed directly). */
static void build_n(const struct mock_key *const *k, const uint8_t *const *c, const size_t *cl,
                    size_t n)
{
    tb_init(&B, 32, 16);
    tb_layout(&B);
    tb_add_hash(&B);
    for (size_t i = 0; i < n; i++) {
        tb_add_sig(&B, k[i], 0, c[i], c[i] ? cl[i] : 0);
    }
    tb_finish(&B);
}

static void test_threshold_with_roots(void **state)
{
    (void)state;
    /* Pitfall 17: the threshold counts trust anchors (a policy key, or a root), not the keys
     * a root certified: one root can mint any number of keys. */
    struct fwt_trusted_key both[2] = {troot, troot2};
    struct fwt_policy p = mock_policy(NULL, 0, both, 2, 2);
    uint8_t c1[FWT_CERT_MAX], c2[FWT_CERT_MAX], c3[FWT_CERT_MAX], c4[FWT_CERT_MAX];
    size_t cl[2];
    size_t l1 = mock_cert(c1, &root, &signer, 1, 0, NULL);  /* root certifies signer */
    size_t l2 = mock_cert(c2, &root, &other, 1, 0, NULL);   /* root certifies other */
    size_t l3 = mock_cert(c3, &root2, &other, 1, 0, NULL);  /* root2 certifies other */
    size_t l4 = mock_cert(c4, &root2, &signer, 1, 0, NULL); /* root2 certifies signer */
    const struct mock_key *so[2] = {&signer, &other};
    struct fwt_image_info info;

    /* --root R1 --root R2 --threshold 2: two keys of R1, R2 absent: refused */
    const uint8_t *c11[2] = {c1, c2};
    cl[0] = l1;
    cl[1] = l2;
    build_n(so, c11, cl, 2);
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_E_THRESHOLD);
    assert_int_equal(info.n_signers, 2); /* two valid signing keys ... */
    assert_int_equal(info.n_anchors, 1); /* ... one anchor */
    assert_int_equal(info.signer_anchor[0], 0);
    assert_int_equal(info.signer_anchor[1], 0);
    p.threshold = 1;
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
    p.threshold = 2;

    /* a key of R1 and a key of R2: two anchors */
    const uint8_t *c12[2] = {c1, c3};
    cl[1] = l3;
    build_n(so, c12, cl, 2);
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_OK);
    assert_int_equal(info.n_signers, 2);
    assert_int_equal(info.n_anchors, 2);
    assert_int_equal(info.signer_anchor[0], 0);
    assert_int_equal(info.signer_anchor[1], 1);
    assert_int_equal(fwt_policy_threshold_met(&p, &info), FWT_OK);

    /* the same certified key twice: one signer */
    const struct mock_key *ss[2] = {&signer, &signer};
    const uint8_t *c11s[2] = {c1, c1};
    cl[1] = l1;
    build_n(ss, c11s, cl, 2);
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_E_THRESHOLD);
    assert_int_equal(info.n_signers, 1);
    /* one key certified by both roots is still one signer, for one anchor */
    const uint8_t *c14[2] = {c1, c4};
    cl[1] = l4;
    build_n(ss, c14, cl, 2);
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_E_THRESHOLD);
    assert_int_equal(info.n_signers, 1);
    assert_int_equal(info.n_anchors, 1);

    /* --key K --root R1 --threshold 2, K absent: two keys R1 certified are one anchor */
    struct mock_key k1;
    struct fwt_trusted_key tk1;
    mock_anchor(&k1, &tk1, FWT_KEY_ED25519, 14);
    struct fwt_policy pk;
    memset(&pk, 0, sizeof(pk));
    pk.keys = &tk1;
    pk.n_keys = 1;
    pk.roots = &troot;
    pk.n_roots = 1;
    pk.threshold = 2;
    cl[1] = l2;
    build_n(so, c11, cl, 2);
    assert_int_equal(mock_verify(B.img, B.len, &pk, &info), FWT_E_THRESHOLD);
    assert_int_equal(info.n_anchors, 1);
    /* K itself and a key R1 certified: two anchors */
    const struct mock_key *ko[2] = {&k1, &other};
    const uint8_t *cko[2] = {NULL, c2};
    build_n(ko, cko, cl, 2);
    assert_int_equal(mock_verify(B.img, B.len, &pk, &info), FWT_OK);
    assert_int_equal(info.n_anchors, 2);
    assert_int_equal(info.signer_anchor[0], 0); /* the key */
    assert_int_equal(info.signer_anchor[1], 1); /* n_keys + the root's index */

    /* A key trusted directly AND certified by the root (--key S --root R1): */
    pk.keys = &tsigner;
    /* signing with and without its certificate is one key, one anchor */
    const uint8_t *cs[2] = {c1, NULL};
    build_n(ss, cs, cl, 2);
    assert_int_equal(mock_verify(B.img, B.len, &pk, &info), FWT_E_THRESHOLD);
    assert_int_equal(info.n_signers, 1);
    assert_int_equal(info.signer_anchor[0], 0); /* counted for the key, not the root */
    /* S (certificate attached or not) and another key of R1: S counts for itself, the other
     * key for R1: two anchors, as S's holder and R1's holder both signed */
    build_n(so, c11, cl, 2);
    assert_int_equal(mock_verify(B.img, B.len, &pk, &info), FWT_OK);
    assert_int_equal(info.n_anchors, 2);
    /* ... but R1's keys alone, without S's signature, are one anchor */
    struct mock_key third;
    mock_key(&third, FWT_KEY_ECDSA_P256, 15);
    uint8_t c5[FWT_CERT_MAX];
    size_t l5 = mock_cert(c5, &root, &third, 1, 0, NULL);
    const struct mock_key *ot[2] = {&other, &third};
    const uint8_t *c25[2] = {c2, c5};
    cl[0] = l2;
    cl[1] = l5;
    build_n(ot, c25, cl, 2);
    assert_int_equal(mock_verify(B.img, B.len, &pk, &info), FWT_E_THRESHOLD);
    assert_int_equal(info.n_signers, 2);

    /* the root also listed as a key, or a root listed twice: refused (one key, one anchor) */
    pk.keys = &troot;
    assert_int_equal(mock_verify(B.img, B.len, &pk, &info), FWT_E_ARG);
    struct fwt_trusted_key rr[2] = {troot, troot};
    p.roots = rr;
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_E_ARG);
    p.threshold = 1;
    assert_int_equal(mock_verify(B.img, B.len, &p, &info), FWT_E_ARG);
}

/* The threshold rule on a result, as a caller checking the verifier again applies it. */
static void test_threshold_met(void **state)
{
    (void)state;
    struct mock_key k1;
    struct fwt_trusted_key anchors[2];
    mock_anchor(&k1, &anchors[0], FWT_KEY_ED25519, 16);
    anchors[1] = troot;
    struct fwt_policy p = mock_policy(anchors, 1, &anchors[1], 1, 2);
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    info.n_signers = 2;
    info.signer_anchor[0] = 1;
    info.signer_anchor[1] = 1; /* two keys, one root */
    assert_int_equal(fwt_policy_threshold_met(&p, &info), FWT_E_THRESHOLD);
    info.n_anchors = 2; /* a count that says otherwise is not believed */
    assert_int_equal(fwt_policy_threshold_met(&p, &info), FWT_E_THRESHOLD);
    info.signer_anchor[0] = 0;
    assert_int_equal(fwt_policy_threshold_met(&p, &info), FWT_OK);
    info.signer_anchor[0] = 2; /* no such anchor */
    assert_int_equal(fwt_policy_threshold_met(&p, &info), FWT_E_THRESHOLD);
    info.signer_anchor[0] = 0;
    info.n_signers = 1;
    assert_int_equal(fwt_policy_threshold_met(&p, &info), FWT_E_THRESHOLD);
    info.n_signers = FWT_MAX_SIGNERS + 1;
    assert_int_equal(fwt_policy_threshold_met(&p, &info), FWT_E_THRESHOLD);
    info.n_signers = 2;
    p.threshold = 0;
    assert_int_equal(fwt_policy_threshold_met(&p, &info), FWT_E_ARG);
    p.threshold = 3;
    assert_int_equal(fwt_policy_threshold_met(&p, &info), FWT_E_ARG);
    p.threshold = 2;
    assert_int_equal(fwt_policy_threshold_met(&p, NULL), FWT_E_ARG);
    assert_int_equal(fwt_policy_threshold_met(NULL, &info), FWT_E_ARG);
    anchors[1] = anchors[0]; /* one key as key and root */
    assert_int_equal(fwt_policy_threshold_met(&p, &info), FWT_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_certificate),
        cmocka_unit_test(test_bad_certificates),
        cmocka_unit_test(test_cert_parse),
        cmocka_unit_test(test_threshold_with_roots),
        cmocka_unit_test(test_threshold_met),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
