/*
 * Host crypto (src/crypto): key files, signing and verification through the
 * public API and the core's ops table, encodings, sample-key recognition, and
 * signature edge cases in the style of Wycheproof.
 */
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

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <fwtrust/fwt_util.h>

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const enum fwt_key_type k_types[] = {FWT_KEY_ED25519, FWT_KEY_ECDSA_P256, FWT_KEY_ECDSA_P384,
                                            FWT_KEY_RSA2048, FWT_KEY_RSA3072};

static size_t digest_len_for(enum fwt_key_type t)
{
    return t == FWT_KEY_ECDSA_P384 ? 48 : 32;
}

/* Verify an image-digest signature through the core's ops, as the verifier does. */
static fwt_err ops_verify(const fwt_pubkey *pub, enum fwt_sig_alg alg, const uint8_t *digest,
                          size_t dlen, const uint8_t *sig, size_t slen)
{
    struct fwt_crypto_ops ops;
    assert_int_equal(fwt_openssl_ops_init(&ops), FWT_OK);
    uint8_t enc[1024];
    size_t elen = sizeof(enc);
    assert_int_equal(fwt_pubkey_mcuboot(pub, enc, &elen), FWT_OK);
    fwt_err e = ops.verify(ops.ctx, alg, enc, elen, digest, dlen, NULL, sig, slen);
    fwt_openssl_ops_free(&ops);
    return e;
}

/* Every key type: generate, load, sign a digest and a message, verify, tamper. */
static void test_roundtrip_all_types(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(k_types) / sizeof(k_types[0]); i++) {
        enum fwt_key_type t = k_types[i];
        char name[64];
        snprintf(name, sizeof(name), "rt-%s.pem", fwt_key_type_name(t));
        const char *path = ts_path(name);
        assert_int_equal(fwt_keygen_file(t, path, NULL), FWT_OK);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);

        fwt_privkey *k = NULL;
        assert_int_equal(fwt_privkey_load(path, NULL, &k), FWT_OK);
        assert_int_equal(fwt_privkey_type(k), t);
        fwt_pubkey *pub = NULL;
        assert_int_equal(fwt_privkey_public(k, &pub), FWT_OK);
        assert_int_equal(fwt_pubkey_type(pub), t);
        assert_int_equal(fwt_pubkey_is_test_key(pub), 0);

        uint8_t digest[48];
        for (size_t j = 0; j < sizeof(digest); j++) {
            digest[j] = (uint8_t)(j * 7 + 1);
        }
        size_t dl = digest_len_for(t);
        uint8_t sig[512];
        size_t sl = sizeof(sig);
        assert_int_equal(fwt_sign_digest(k, digest, dl, sig, &sl), FWT_OK);
        assert_true(sl <= fwt_privkey_sig_max(k));
        enum fwt_sig_alg alg = fwt_privkey_sig_alg(k, 0);
        assert_int_equal(ops_verify(pub, alg, digest, dl, sig, sl), FWT_OK);
        digest[3] ^= 1;
        assert_int_equal(ops_verify(pub, alg, digest, dl, sig, sl), FWT_E_SIGNATURE);
        digest[3] ^= 1;
        sig[sl / 2] ^= 0x10;
        assert_int_not_equal(ops_verify(pub, alg, digest, dl, sig, sl), FWT_OK);

        const uint8_t msg[] = "{\"signed\":{\"_type\":\"timestamp\"}}";
        sl = sizeof(sig);
        assert_int_equal(fwt_sign_message(k, msg, sizeof(msg) - 1, sig, &sl), FWT_OK);
        assert_int_equal(fwt_verify_message(pub, msg, sizeof(msg) - 1, sig, sl), FWT_OK);
        assert_int_equal(fwt_verify_message(pub, msg, sizeof(msg) - 2, sig, sl), FWT_E_SIGNATURE);

        /* The signature TLV follows MCUboot's table. */
        uint16_t tlv = fwt_privkey_sig_tlv(k, 0);
        assert_int_equal(tlv, t == FWT_KEY_ED25519     ? FWT_TLV_ED25519
                              : t == FWT_KEY_RSA2048   ? FWT_TLV_RSA2048_PSS
                              : t == FWT_KEY_RSA3072   ? FWT_TLV_RSA3072_PSS
                                                       : FWT_TLV_ECDSA_SIG);
        fwt_pubkey_free(pub);
        fwt_privkey_free(k);
    }
}

/* Another key of the same type never verifies. */
static void test_wrong_key(void **state)
{
    (void)state;
    assert_int_equal(fwt_keygen_file(FWT_KEY_ED25519, ts_path("wk1.pem"), NULL), FWT_OK);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ED25519, ts_path("wk2.pem"), NULL), FWT_OK);
    fwt_privkey *k = NULL;
    fwt_pubkey *other = NULL;
    assert_int_equal(fwt_privkey_load(ts_path("wk1.pem"), NULL, &k), FWT_OK);
    assert_int_equal(fwt_pubkey_load(ts_path("wk2.pem"), NULL, &other), FWT_OK);
    uint8_t d[32] = {1, 2, 3};
    uint8_t sig[64];
    size_t sl = sizeof(sig);
    assert_int_equal(fwt_sign_digest(k, d, 32, sig, &sl), FWT_OK);
    assert_int_equal(ops_verify(other, FWT_SIG_ED25519, d, 32, sig, sl), FWT_E_SIGNATURE);
    /* A key of the wrong type for the algorithm is a key error, not a signature. */
    assert_int_equal(ops_verify(other, FWT_SIG_ECDSA_P256, d, 32, sig, sl), FWT_E_KEY);
    fwt_pubkey_free(other);
    fwt_privkey_free(k);
}

static void test_encrypted_key(void **state)
{
    (void)state;
    write_text(ts_path("pass"), "correct horse battery staple\n");
    write_text(ts_path("badpass"), "wrong\n");
    write_text(ts_path("emptypass"), "\n");
    char key[320];
    snprintf(key, sizeof(key), "%s", ts_path("enc.pem"));
    assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P256, key, ts_path("pass")), FWT_OK);
    uint8_t *text = NULL;
    size_t len = 0;
    assert_int_equal(fwt_read_file(key, 65536, &text, &len), FWT_OK);
    assert_non_null(strstr((char *)text, "ENCRYPTED PRIVATE KEY"));
    free(text);

    fwt_privkey *k = NULL;
    assert_int_equal(fwt_privkey_load(key, NULL, &k), FWT_E_KEY);
    assert_non_null(strstr(fwt_detail(), "--passphrase-file"));
    struct fwt_key_opts bad = {ts_path("badpass"), NULL, NULL};
    assert_int_equal(fwt_privkey_load(key, &bad, &k), FWT_E_KEY);
    assert_non_null(strstr(fwt_detail(), "wrong passphrase"));
    struct fwt_key_opts empty = {ts_path("emptypass"), NULL, NULL};
    assert_int_equal(fwt_privkey_load(key, &empty, &k), FWT_E_ARG);
    struct fwt_key_opts good = {ts_path("pass"), NULL, NULL};
    assert_int_equal(fwt_privkey_load(key, &good, &k), FWT_OK);
    assert_int_equal(fwt_privkey_type(k), FWT_KEY_ECDSA_P256);
    fwt_privkey_free(k);
    /* The public half of an encrypted key file also needs the passphrase. */
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_pubkey_load(key, &good, &pub), FWT_OK);
    fwt_pubkey_free(pub);
}

static void test_bad_key_files(void **state)
{
    (void)state;
    fwt_privkey *k = NULL;
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_privkey_load(ts_path("missing.pem"), NULL, &k), FWT_E_KEY);
    assert_non_null(strstr(fwt_detail(), "missing.pem"));
    write_text(ts_path("garbage.pem"), "this is not a key\n");
    assert_int_equal(fwt_privkey_load(ts_path("garbage.pem"), NULL, &k), FWT_E_KEY);
    assert_int_equal(fwt_pubkey_load(ts_path("garbage.pem"), NULL, &pub), FWT_E_KEY);
    write_text(ts_path("broken.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    assert_int_equal(fwt_privkey_load(ts_path("broken.pem"), NULL, &k), FWT_E_KEY);

    /* A public key cannot sign. */
    char pubpath[512];
    snprintf(pubpath, sizeof(pubpath), "%s/vectors/ed25519.pub.pem", FWT_TEST_DATA);
    assert_int_equal(fwt_privkey_load(pubpath, NULL, &k), FWT_E_KEY);
    assert_non_null(strstr(fwt_detail(), "no private key"));
    assert_int_equal(fwt_pubkey_load(pubpath, NULL, &pub), FWT_OK);
    assert_int_equal(fwt_pubkey_type(pub), FWT_KEY_ED25519);
    fwt_pubkey_free(pub);

    /* Unsupported algorithms and sizes are named. */
    EVP_PKEY *rsa1k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    assert_non_null(rsa1k);
    assert_non_null(k1);
    FILE *f = fopen(ts_path("rsa1024.pem"), "w");
    assert_int_equal(PEM_write_PrivateKey(f, rsa1k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    f = fopen(ts_path("k1.pem"), "w");
    assert_int_equal(PEM_write_PrivateKey(f, k1, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    EVP_PKEY_free(rsa1k);
    EVP_PKEY_free(k1);
    assert_int_equal(fwt_privkey_load(ts_path("rsa1024.pem"), NULL, &k), FWT_E_UNSUPPORTED);
    assert_non_null(strstr(fwt_detail(), "RSA-1024"));
    assert_int_equal(fwt_privkey_load(ts_path("k1.pem"), NULL, &k), FWT_E_UNSUPPORTED);
    assert_int_equal(fwt_pubkey_load(ts_path("k1.pem"), NULL, &pub), FWT_E_UNSUPPORTED);
    assert_null(k);
    assert_null(pub);
}

/* Encodings round-trip: MCUboot (SPKI / PKCS#1), raw, PEM. */
static void test_encodings(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(k_types) / sizeof(k_types[0]); i++) {
        enum fwt_key_type t = k_types[i];
        char name[64];
        snprintf(name, sizeof(name), "enc-%s.pem", fwt_key_type_name(t));
        assert_int_equal(fwt_keygen_file(t, ts_path(name), NULL), FWT_OK);
        fwt_pubkey *pub = NULL;
        assert_int_equal(fwt_pubkey_load(ts_path(name), NULL, &pub), FWT_OK);
        uint8_t kh[32], kh2[32];
        assert_int_equal(fwt_pubkey_keyhash(pub, kh), FWT_OK);

        uint8_t enc[1024];
        size_t elen = sizeof(enc);
        assert_int_equal(fwt_pubkey_mcuboot(pub, enc, &elen), FWT_OK);
        /* SPKI starts with SEQUENCE { SEQUENCE { OID ... } }; PKCS#1 RSA with SEQUENCE { INTEGER } */
        assert_int_equal(enc[0], 0x30);
        fwt_pubkey *p2 = NULL;
        assert_int_equal(fwt_pubkey_from_mcuboot(enc, elen, &p2), FWT_OK);
        assert_int_equal(fwt_pubkey_keyhash(p2, kh2), FWT_OK);
        assert_memory_equal(kh, kh2, 32);
        fwt_pubkey_free(p2);
        /* Trailing bytes are refused. */
        enc[elen] = 0;
        assert_int_not_equal(fwt_pubkey_from_mcuboot(enc, elen + 1, &p2), FWT_OK);
        /* A too-small buffer is an error, not an overflow. */
        size_t small = 8;
        assert_int_equal(fwt_pubkey_mcuboot(pub, enc, &small), FWT_E_BUFFER);

        uint8_t raw[1024];
        size_t rlen = sizeof(raw);
        assert_int_equal(fwt_pubkey_raw(pub, raw, &rlen), FWT_OK);
        if (t == FWT_KEY_ED25519) {
            assert_int_equal(rlen, 32);
        } else if (t == FWT_KEY_ECDSA_P256) {
            assert_int_equal(rlen, 65);
        } else if (t == FWT_KEY_ECDSA_P384) {
            assert_int_equal(rlen, 97);
        }
        assert_int_equal(fwt_pubkey_from_raw(t, raw, rlen, &p2), FWT_OK);
        assert_int_equal(fwt_pubkey_keyhash(p2, kh2), FWT_OK);
        assert_memory_equal(kh, kh2, 32);
        fwt_pubkey_free(p2);
        /* Raw bytes of one type are not a key of another. */
        enum fwt_key_type other = t == FWT_KEY_ED25519 ? FWT_KEY_ECDSA_P256 : FWT_KEY_ED25519;
        assert_int_not_equal(fwt_pubkey_from_raw(other, raw, rlen, &p2), FWT_OK);

        char *pem = NULL;
        assert_int_equal(fwt_pubkey_pem(pub, &pem), FWT_OK);
        assert_non_null(strstr(pem, "BEGIN PUBLIC KEY"));
        assert_int_equal(fwt_pubkey_from_pem(pem, strlen(pem), &p2), FWT_OK);
        assert_int_equal(fwt_pubkey_keyhash(p2, kh2), FWT_OK);
        assert_memory_equal(kh, kh2, 32);
        fwt_pubkey_free(p2);
        free(pem);
        fwt_pubkey_free(pub);
    }
}

/* Raw EC points must be on the curve; lengths are exact. */
static void test_raw_point_checks(void **state)
{
    (void)state;
    fwt_pubkey *p = NULL;
    uint8_t pt[65];
    memset(pt, 0x11, sizeof(pt));
    pt[0] = 0x04;
    assert_int_equal(fwt_pubkey_from_raw(FWT_KEY_ECDSA_P256, pt, sizeof(pt), &p), FWT_E_KEY);
    assert_int_equal(fwt_pubkey_from_raw(FWT_KEY_ECDSA_P256, pt, 64, &p), FWT_E_KEY);
    pt[0] = 0x02; /* compressed points are not accepted as raw */
    assert_int_equal(fwt_pubkey_from_raw(FWT_KEY_ECDSA_P256, pt, 33, &p), FWT_E_KEY);
    assert_int_equal(fwt_pubkey_from_raw(FWT_KEY_ED25519, pt, 31, &p), FWT_E_KEY);
    assert_null(p);
}

/* The key type names are the CLI's vocabulary. */
static void test_type_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(k_types) / sizeof(k_types[0]); i++) {
        assert_int_equal(fwt_key_type_from_name(fwt_key_type_name(k_types[i])), k_types[i]);
    }
    assert_int_equal(fwt_key_type_from_name("rsa-1024"), FWT_KEY_NONE);
    assert_int_equal(fwt_key_type_from_name(NULL), FWT_KEY_NONE);
}

/* The host view of the algorithm table (fwt_alg.h): the names, sizes and TUF
 * strings fwtrust printed and wrote before the table, and the core's view of
 * the same rows agreeing with it. */
static void test_alg_table_host(void **state)
{
    (void)state;
    const struct {
        enum fwt_key_type key;
        const char *name, *tuf_keytype, *tuf_scheme;
        uint16_t sig_tlv;
        size_t sig_size;
        enum fwt_sig_alg sig;
        enum fwt_hash_alg hash;
    } want[] = {
        {FWT_KEY_ED25519, "ed25519", "ed25519", "ed25519", FWT_TLV_ED25519, 64, FWT_SIG_ED25519,
         FWT_HASH_SHA256},
        {FWT_KEY_ECDSA_P256, "ecdsa-p256", "ecdsa", "ecdsa-sha2-nistp256", FWT_TLV_ECDSA_SIG, 72,
         FWT_SIG_ECDSA_P256, FWT_HASH_SHA256},
        {FWT_KEY_ECDSA_P384, "ecdsa-p384", "ecdsa", "ecdsa-sha2-nistp384", FWT_TLV_ECDSA_SIG, 104,
         FWT_SIG_ECDSA_P384, FWT_HASH_SHA384},
        {FWT_KEY_RSA2048, "rsa-2048", "rsa", "rsassa-pss-sha256", FWT_TLV_RSA2048_PSS, 256,
         FWT_SIG_RSA2048_PSS, FWT_HASH_SHA256},
        {FWT_KEY_RSA3072, "rsa-3072", "rsa", "rsassa-pss-sha256", FWT_TLV_RSA3072_PSS, 384,
         FWT_SIG_RSA3072_PSS, FWT_HASH_SHA256},
    };
    size_t n = 0;
    while (fwt_alg_at(n) != NULL) {
        n++;
    }
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++) {
        const struct fwt_alg_desc *a = fwt_alg_by_key(want[i].key);
        assert_non_null(a);
        assert_ptr_equal(fwt_alg_at(i), a);
        assert_string_equal(a->name, want[i].name);
        assert_string_equal(fwt_key_type_name(want[i].key), want[i].name);
        assert_ptr_equal(fwt_alg_by_name(want[i].name), a);
        assert_string_equal(a->tuf_keytype, want[i].tuf_keytype);
        assert_string_equal(a->tuf_scheme, want[i].tuf_scheme);
        assert_int_equal(a->sig_tlv, want[i].sig_tlv);
        assert_int_equal(a->sig_size, want[i].sig_size);
        assert_int_equal(a->sig, want[i].sig);
        assert_int_equal(a->hash, want[i].hash);
        assert_ptr_equal(fwt_alg_by_sig(want[i].sig), a);
        assert_true(a->sig_size >= a->sig_min && a->sig_size <= a->sig_max);
    }
    assert_ptr_equal(fwt_alg_by_sig(FWT_SIG_ED25519_PURE), fwt_alg_by_key(FWT_KEY_ED25519));
    assert_null(fwt_alg_by_sig(FWT_SIG_NONE));
    assert_null(fwt_alg_by_key(FWT_KEY_NONE));
    assert_null(fwt_alg_by_name("rsa-1024"));
    assert_null(fwt_alg_by_name(NULL));
    assert_string_equal(fwt_key_type_name(FWT_KEY_NONE), "none");
    assert_string_equal(fwt_alg_names(), "ed25519, ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072");

    const struct {
        enum fwt_hash_alg alg;
        const char *name;
        uint16_t tlv;
        size_t size;
    } hw[] = {{FWT_HASH_SHA256, "sha256", FWT_TLV_SHA256, 32},
              {FWT_HASH_SHA384, "sha384", FWT_TLV_SHA384, 48},
              {FWT_HASH_SHA512, "sha512", FWT_TLV_SHA512, 64}};
    for (size_t i = 0; i < sizeof(hw) / sizeof(hw[0]); i++) {
        const struct fwt_hash_desc *h = fwt_hash_by_alg(hw[i].alg);
        assert_non_null(h);
        assert_string_equal(h->name, hw[i].name);
        assert_string_equal(fwt_hash_name(hw[i].alg), hw[i].name);
        assert_ptr_equal(fwt_hash_by_name(hw[i].name), h);
        assert_ptr_equal(fwt_hash_by_tlv(hw[i].tlv), h);
        assert_ptr_equal(fwt_hash_by_size(hw[i].size), h);
        const EVP_MD *md = fwt_hash_md(hw[i].alg);
        assert_non_null(md);
        assert_int_equal(EVP_MD_get_size(md), (int)hw[i].size);
    }
    assert_string_equal(fwt_hash_name(FWT_HASH_NONE), "none");
    assert_null(fwt_hash_md(FWT_HASH_NONE));
    assert_null(fwt_hash_by_name("sha1"));
    assert_null(fwt_hash_by_name("SHA256")); /* TUF and CLI names are lower case */
    assert_null(fwt_hash_by_size(20));
}

/* MCUboot's published root-*.pem keys are recognised; fresh keys are not. */
static void test_sample_keys(void **state)
{
    (void)state;
    const char *names[] = {"root-ec-p256.pem", "root-ec-p384.pem", "root-ed25519-unknown.pem",
                           "root-rsa-2048.pem"};
    for (size_t i = 0; i < 4; i++) {
        char p[512];
        snprintf(p, sizeof(p), "%s/sample-keys/%s", FWT_TEST_DATA, names[i]);
        fwt_pubkey *pub = NULL;
        assert_int_equal(fwt_pubkey_load(p, NULL, &pub), FWT_OK);
        assert_int_equal(fwt_pubkey_is_test_key(pub), 1);
        fwt_pubkey_free(pub);
    }
    assert_int_equal(fwt_pubkey_is_test_key(NULL), 0);
}

/* ---- ECDSA edge cases ---- */

static void ecdsa_sig_parts(const uint8_t *sig, size_t len, BIGNUM **r, BIGNUM **s)
{
    const unsigned char *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    assert_non_null(es);
    const BIGNUM *rr, *ss;
    ECDSA_SIG_get0(es, &rr, &ss);
    *r = BN_dup(rr);
    *s = BN_dup(ss);
    ECDSA_SIG_free(es);
}

static size_t ecdsa_encode(const BIGNUM *r, const BIGNUM *s, uint8_t *out)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    assert_int_equal(ECDSA_SIG_set0(es, BN_dup(r), BN_dup(s)), 1);
    unsigned char *q = out;
    int n = i2d_ECDSA_SIG(es, &q);
    ECDSA_SIG_free(es);
    assert_true(n > 0);
    return (size_t)n;
}

static void test_ecdsa_low_s_and_high_s(void **state)
{
    (void)state;
    assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P256, ts_path("ls.pem"), NULL), FWT_OK);
    fwt_privkey *k = NULL;
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_privkey_load(ts_path("ls.pem"), NULL, &k), FWT_OK);
    assert_int_equal(fwt_privkey_public(k, &pub), FWT_OK);
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *n = BN_new(), *half = BN_new();
    assert_int_equal(EC_GROUP_get_order(g, n, NULL), 1);
    assert_int_equal(BN_rshift1(half, n), 1);
    for (int i = 0; i < 40; i++) {
        uint8_t d[32];
        memset(d, i, sizeof(d));
        uint8_t sig[80];
        size_t sl = sizeof(sig);
        assert_int_equal(fwt_sign_digest(k, d, 32, sig, &sl), FWT_OK);
        BIGNUM *r, *s;
        ecdsa_sig_parts(sig, sl, &r, &s);
        assert_true(BN_cmp(s, half) <= 0); /* we emit low S */
        /* The high-S twin is valid ECDSA; imgtool emits such signatures, so it verifies. */
        BIGNUM *hs = BN_new();
        assert_int_equal(BN_sub(hs, n, s), 1);
        uint8_t twin[80];
        size_t tl = ecdsa_encode(r, hs, twin);
        assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P256, d, 32, twin, tl), FWT_OK);
        /* s = 0 and r = 0 are invalid. */
        BIGNUM *zero = BN_new();
        BN_zero(zero);
        tl = ecdsa_encode(r, zero, twin);
        assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P256, d, 32, twin, tl), FWT_E_SIGNATURE);
        tl = ecdsa_encode(zero, s, twin);
        assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P256, d, 32, twin, tl), FWT_E_SIGNATURE);
        /* s = n is out of range. */
        tl = ecdsa_encode(r, n, twin);
        assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P256, d, 32, twin, tl), FWT_E_SIGNATURE);
        BN_free(zero);
        BN_free(hs);
        BN_free(r);
        BN_free(s);
    }
    BN_free(n);
    BN_free(half);
    EC_GROUP_free(g);
    fwt_pubkey_free(pub);
    fwt_privkey_free(k);
}

static void test_ecdsa_malformed_der(void **state)
{
    (void)state;
    assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P256, ts_path("der.pem"), NULL), FWT_OK);
    fwt_privkey *k = NULL;
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_privkey_load(ts_path("der.pem"), NULL, &k), FWT_OK);
    assert_int_equal(fwt_privkey_public(k, &pub), FWT_OK);
    uint8_t d[32] = {9};
    uint8_t sig[90];
    size_t sl = 80;
    assert_int_equal(fwt_sign_digest(k, d, 32, sig, &sl), FWT_OK);
    assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P256, d, 32, sig, sl), FWT_OK);

    /* Trailing garbage after the DER sequence. */
    uint8_t bad[96];
    memcpy(bad, sig, sl);
    bad[sl] = 0;
    assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P256, d, 32, bad, sl + 1), FWT_E_SIGNATURE);
    /* Truncated. */
    assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P256, d, 32, sig, sl - 1), FWT_E_SIGNATURE);
    /* Wrong outer length byte. */
    memcpy(bad, sig, sl);
    bad[1] ^= 1;
    assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P256, d, 32, bad, sl), FWT_E_SIGNATURE);
    /* Non-minimal (long-form) outer length: BER, not DER. */
    bad[0] = 0x30;
    bad[1] = 0x81;
    bad[2] = sig[1];
    memcpy(bad + 3, sig + 2, sl - 2);
    assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P256, d, 32, bad, sl + 1), FWT_E_SIGNATURE);
    /* Raw r||s (64 bytes) is not DER. */
    memset(bad, 0x42, 64);
    assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P256, d, 32, bad, 64), FWT_E_SIGNATURE);
    /* Empty. */
    assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P256, d, 32, sig, 0), FWT_E_SIGNATURE);
    fwt_pubkey_free(pub);
    fwt_privkey_free(k);
}

/* A P-384 root certifies with a 32-byte SHA-256 prehash (fwt_cert.h): that verifies. */
static void test_p384_short_prehash(void **state)
{
    (void)state;
    assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P384, ts_path("p384.pem"), NULL), FWT_OK);
    fwt_privkey *k = NULL;
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_privkey_load(ts_path("p384.pem"), NULL, &k), FWT_OK);
    assert_int_equal(fwt_privkey_public(k, &pub), FWT_OK);
    uint8_t d[32] = {5, 6, 7};
    uint8_t sig[110];
    size_t sl = sizeof(sig);
    /* The API signs a 32-byte prehash with a P-384 key (certificates)... */
    assert_int_equal(fwt_sign_digest(k, d, 32, sig, &sl), FWT_OK);
    assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P384, d, 32, sig, sl), FWT_OK);
    /* ...and other lengths are refused. */
    size_t bad = sizeof(sig);
    assert_int_equal(fwt_sign_digest(k, d, 20, sig, &bad), FWT_E_ARG);
    /* The verifier accepts such a prehash made by OpenSSL directly too. */
    EVP_PKEY *pk = NULL;
    FILE *f = fopen(ts_path("p384.pem"), "r");
    pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    assert_int_equal(EVP_PKEY_sign_init(pc), 1);
    sl = sizeof(sig);
    assert_int_equal(EVP_PKEY_sign(pc, sig, &sl, d, 32), 1);
    assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P384, d, 32, sig, sl), FWT_OK);
    d[0] ^= 1;
    assert_int_equal(ops_verify(pub, FWT_SIG_ECDSA_P384, d, 32, sig, sl), FWT_E_SIGNATURE);
    EVP_PKEY_CTX_free(pc);
    EVP_PKEY_free(pk);
    fwt_pubkey_free(pub);
    fwt_privkey_free(k);
}

/* ---- Ed25519 edge cases ---- */

/* L, the order of the base point, little-endian. */
static const uint8_t k_L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

static void test_ed25519_edges(void **state)
{
    (void)state;
    assert_int_equal(fwt_keygen_file(FWT_KEY_ED25519, ts_path("ed.pem"), NULL), FWT_OK);
    fwt_privkey *k = NULL;
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_privkey_load(ts_path("ed.pem"), NULL, &k), FWT_OK);
    assert_int_equal(fwt_privkey_public(k, &pub), FWT_OK);
    uint8_t d[32] = {0xaa};
    uint8_t sig[65];
    size_t sl = 64;
    assert_int_equal(fwt_sign_digest(k, d, 32, sig, &sl), FWT_OK);
    assert_int_equal(ops_verify(pub, FWT_SIG_ED25519, d, 32, sig, 64), FWT_OK);

    /* Non-canonical S: S + L encodes the same scalar mod L; it must be refused. */
    uint8_t mal[64];
    memcpy(mal, sig, 64);
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned v = (unsigned)mal[32 + i] + k_L[i] + carry;
        mal[32 + i] = (uint8_t)v;
        carry = v >> 8;
    }
    if (carry == 0) { /* fits in 256 bits: only then is it an encodable malleation */
        assert_int_equal(ops_verify(pub, FWT_SIG_ED25519, d, 32, mal, 64), FWT_E_SIGNATURE);
    }
    /* Wrong lengths. */
    assert_int_equal(ops_verify(pub, FWT_SIG_ED25519, d, 32, sig, 63), FWT_E_SIGNATURE);
    sig[64] = 0;
    assert_int_equal(ops_verify(pub, FWT_SIG_ED25519, d, 32, sig, 65), FWT_E_SIGNATURE);

    /*
     * Small-order public keys (here the identity point, with R = identity and
     * S = 0) satisfy the cofactorless equation for every message: a verifier
     * that does not refuse them accepts a forgery. Refused as keys, both when
     * loaded and when the core hands one to the ops.
     */
    static const uint8_t small_order[][32] = {
        {1},                                                     /* identity */
        {0},                                                     /* order 4 */
        {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
        {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
         0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0xfa},
    };
    for (size_t i = 0; i < sizeof(small_order) / sizeof(small_order[0]); i++) {
        fwt_pubkey *weak = NULL;
        assert_int_equal(fwt_pubkey_from_raw(FWT_KEY_ED25519, small_order[i], 32, &weak), FWT_E_KEY);
        assert_null(weak);
        uint8_t spki[44] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
        memcpy(spki + 12, small_order[i], 32);
        assert_int_equal(fwt_pubkey_from_mcuboot(spki, sizeof(spki), &weak), FWT_E_KEY);
        struct fwt_crypto_ops ops;
        assert_int_equal(fwt_openssl_ops_init(&ops), FWT_OK);
        uint8_t forged[64] = {1};
        assert_int_equal(ops.verify(ops.ctx, FWT_SIG_ED25519, spki, sizeof(spki), d, 32, NULL, forged,
                                    64),
                         FWT_E_KEY);
        fwt_openssl_ops_free(&ops);
    }
    fwt_pubkey_free(pub);
    fwt_privkey_free(k);
}

/* ---- RSA-PSS parameters ---- */

static void test_rsa_pss_salt(void **state)
{
    (void)state;
    assert_int_equal(fwt_keygen_file(FWT_KEY_RSA2048, ts_path("rsa.pem"), NULL), FWT_OK);
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_pubkey_load(ts_path("rsa.pem"), NULL, &pub), FWT_OK);
    FILE *f = fopen(ts_path("rsa.pem"), "r");
    EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    uint8_t d[32] = {3};
    uint8_t sig[256];
    int salts[] = {32, 20, 0};
    for (int i = 0; i < 3; i++) {
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
        assert_int_equal(EVP_PKEY_sign_init(pc), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salts[i]), 1);
        size_t sl = sizeof(sig);
        assert_int_equal(EVP_PKEY_sign(pc, sig, &sl, d, 32), 1);
        EVP_PKEY_CTX_free(pc);
        /* MCUboot fixes the salt at 32 bytes; anything else is refused. */
        assert_int_equal(ops_verify(pub, FWT_SIG_RSA2048_PSS, d, 32, sig, sl),
                         salts[i] == 32 ? FWT_OK : FWT_E_SIGNATURE);
        if (salts[i] == 32) {
            assert_int_equal(ops_verify(pub, FWT_SIG_RSA2048_PSS, d, 32, sig, sl - 1),
                             FWT_E_SIGNATURE);
            /* An RSA-2048 key is not an RSA-3072 key. */
            assert_int_equal(ops_verify(pub, FWT_SIG_RSA3072_PSS, d, 32, sig, sl), FWT_E_KEY);
        }
    }
    /* PKCS#1 v1.5 signatures are not PSS. */
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    assert_int_equal(EVP_PKEY_sign_init(pc), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()), 1);
    size_t sl = sizeof(sig);
    assert_int_equal(EVP_PKEY_sign(pc, sig, &sl, d, 32), 1);
    EVP_PKEY_CTX_free(pc);
    assert_int_equal(ops_verify(pub, FWT_SIG_RSA2048_PSS, d, 32, sig, sl), FWT_E_SIGNATURE);
    EVP_PKEY_free(pk);
    fwt_pubkey_free(pub);
}

/* ---- hashing through the ops table ---- */

static void test_ops_hash(void **state)
{
    (void)state;
    struct fwt_crypto_ops ops;
    assert_int_equal(fwt_openssl_ops_init(&ops), FWT_OK);
    uint8_t out[64];
    /* Update or final before init is a state error. */
    assert_int_equal(ops.hash_update(ops.ctx, "abc", 3), FWT_E_STATE);
    assert_int_equal(ops.hash_init(ops.ctx, FWT_HASH_SHA256), FWT_OK);
    assert_int_equal(ops.hash_update(ops.ctx, "a", 1), FWT_OK);
    assert_int_equal(ops.hash_update(ops.ctx, "bc", 2), FWT_OK);
    assert_int_equal(ops.hash_final(ops.ctx, out, 32), FWT_OK);
    static const uint8_t abc256[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                       0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                       0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    assert_memory_equal(out, abc256, 32);
    uint8_t one[32];
    assert_int_equal(fwt_sha256("abc", 3, one), FWT_OK);
    assert_memory_equal(one, abc256, 32);
    /* Wrong output length for the algorithm. */
    assert_int_equal(ops.hash_init(ops.ctx, FWT_HASH_SHA384), FWT_OK);
    assert_int_equal(ops.hash_final(ops.ctx, out, 32), FWT_E_CRYPTO);
    assert_int_equal(ops.hash_init(ops.ctx, FWT_HASH_NONE), FWT_E_UNSUPPORTED);
    assert_int_equal(ops.hash_init(ops.ctx, FWT_HASH_SHA512), FWT_OK);
    assert_int_equal(ops.hash_final(ops.ctx, out, 64), FWT_OK);
    fwt_openssl_ops_free(&ops);
    assert_null(ops.ctx);
}

/* Keys are never overwritten by keygen's atomic write to an existing directory name. */
static void test_keygen_errors(void **state)
{
    (void)state;
    assert_int_equal(fwt_keygen_file(FWT_KEY_NONE, ts_path("none.pem"), NULL), FWT_E_ARG);
    assert_int_not_equal(fwt_keygen_file(FWT_KEY_ED25519, "/nonexistent-dir/k.pem", NULL), FWT_OK);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ED25519, ts_path("k.pem"), ts_path("no-such-pass")),
                     FWT_E_NOT_FOUND);
    assert_int_equal(access(ts_path("k.pem"), F_OK), -1);
    assert_int_equal(fwt_keygen_pkcs11(FWT_KEY_ED25519, "/not/a/uri", NULL), FWT_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_alg_table_host),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_encrypted_key),
        cmocka_unit_test(test_bad_key_files),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_raw_point_checks),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_sample_keys),
        cmocka_unit_test(test_ecdsa_low_s_and_high_s),
        cmocka_unit_test(test_ecdsa_malformed_der),
        cmocka_unit_test(test_p384_short_prehash),
        cmocka_unit_test(test_ed25519_edges),
        cmocka_unit_test(test_rsa_pss_salt),
        cmocka_unit_test(test_ops_hash),
        cmocka_unit_test(test_keygen_errors),
    };
    return cmocka_run_group_tests(tests, ts_setup, ts_teardown);
}
