/*
 * Real crypto: MCUboot imgtool 2.4.0 vectors (tests/data/vectors/) through the
 * core with an OpenSSL backend written here, in the test, independently of
 * src/crypto. Each verifies with its own key and is refused with the others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust.h>

/* ---- a minimal OpenSSL backend for the core's ops ---- */
struct ossl {
    EVP_MD_CTX *md;
};

static fwt_err o_init(void *ctx, enum fwt_hash_alg alg)
{
    struct ossl *o = ctx;
    const EVP_MD *m = alg == FWT_HASH_SHA256   ? EVP_sha256()
                      : alg == FWT_HASH_SHA384 ? EVP_sha384()
                      : alg == FWT_HASH_SHA512 ? EVP_sha512()
                                               : NULL;
    return m && EVP_DigestInit_ex(o->md, m, NULL) == 1 ? FWT_OK : FWT_E_CRYPTO;
}
static fwt_err o_update(void *ctx, const void *d, size_t n)
{
    struct ossl *o = ctx;
    return EVP_DigestUpdate(o->md, d, n) == 1 ? FWT_OK : FWT_E_CRYPTO;
}
static fwt_err o_final(void *ctx, uint8_t *out, size_t out_len)
{
    struct ossl *o = ctx;
    unsigned n = 0;
    if ((size_t)EVP_MD_CTX_get_size(o->md) != out_len) {
        return FWT_E_CRYPTO;
    }
    return EVP_DigestFinal_ex(o->md, out, &n) == 1 && n == out_len ? FWT_OK : FWT_E_CRYPTO;
}

static EVP_PKEY *decode_key(enum fwt_sig_alg alg, const uint8_t *key, size_t len)
{
    const unsigned char *p = key;
    if (alg == FWT_SIG_RSA2048_PSS || alg == FWT_SIG_RSA3072_PSS) {
        return d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
    }
    return d2i_PUBKEY(NULL, &p, (long)len);
}

static fwt_err o_verify(void *ctx, enum fwt_sig_alg alg, const uint8_t *key, size_t key_len,
                        const uint8_t *msg, size_t msg_len, const struct fwt_io *io,
                        const uint8_t *sig, size_t sig_len)
{
    (void)ctx;
    EVP_PKEY *pk = decode_key(alg, key, key_len);
    if (!pk) {
        return FWT_E_KEY;
    }
    int ok = 0;
    uint8_t *whole = NULL;
    if (alg == FWT_SIG_ED25519 || alg == FWT_SIG_ED25519_PURE) {
        if (alg == FWT_SIG_ED25519_PURE) {
            whole = malloc(msg_len ? msg_len : 1);
            if (!whole || io->read(io->ctx, 0, whole, msg_len) != FWT_OK) {
                free(whole);
                EVP_PKEY_free(pk);
                return FWT_E_IO;
            }
            msg = whole;
        }
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        ok = c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) == 1 &&
             EVP_DigestVerify(c, sig, sig_len, msg, msg_len) == 1;
        EVP_MD_CTX_free(c);
    } else {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
        int r = c && EVP_PKEY_verify_init(c) == 1;
        if (r && (alg == FWT_SIG_RSA2048_PSS || alg == FWT_SIG_RSA3072_PSS)) {
            r = EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) == 1 &&
                EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
                EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) == 1 &&
                EVP_PKEY_CTX_set_rsa_pss_saltlen(c, 32) == 1;
        }
        ok = r && EVP_PKEY_verify(c, sig, sig_len, msg, msg_len) == 1;
        EVP_PKEY_CTX_free(c);
    }
    free(whole);
    EVP_PKEY_free(pk);
    return ok ? FWT_OK : FWT_E_SIGNATURE;
}

/* ---- test data ---- */
static uint8_t *slurp(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/vectors/%s", FWT_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

struct vec {
    const char *image;
    const char *pub;
    enum fwt_key_type type;
    uint8_t enc[600];
    size_t enc_len;
};
static struct vec V[3] = {
    {"primehub-v4.0.0b5.ed25519.signed.bin", "ed25519.pub.pem", FWT_KEY_ED25519, {0}, 0},
    {"primehub-v4.0.0b5.ecdsa-p256.signed.bin", "ecdsa-p256.pub.pem", FWT_KEY_ECDSA_P256, {0}, 0},
    {"primehub-v4.0.0b5.rsa-3072.signed.bin", "rsa-3072.pub.pem", FWT_KEY_RSA3072, {0}, 0},
};

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        size_t n;
        uint8_t *pem = slurp(V[i].pub, &n);
        BIO *bio = BIO_new_mem_buf(pem, (int)n);
        EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        BIO_free(bio);
        free(pem);
        if (!pk) {
            return -1;
        }
        unsigned char *out = NULL;
        int len = V[i].type == FWT_KEY_RSA3072 ? i2d_PublicKey(pk, &out) : i2d_PUBKEY(pk, &out);
        EVP_PKEY_free(pk);
        if (len <= 0 || (size_t)len > sizeof(V[i].enc)) {
            return -1;
        }
        memcpy(V[i].enc, out, (size_t)len);
        V[i].enc_len = (size_t)len;
        OPENSSL_free(out);
    }
    return 0;
}

struct buf_io {
    struct fwt_io io;
    const uint8_t *b;
};
static fwt_err bread(void *ctx, uint32_t off, void *out, size_t len)
{
    struct buf_io *b = ctx;
    if ((uint64_t)off + len > b->io.size) {
        return FWT_E_IO;
    }
    memcpy(out, b->b + off, len);
    return FWT_OK;
}

static fwt_err run(const uint8_t *img, size_t len, const struct fwt_trusted_key *keys, size_t n,
                   struct fwt_image_info *info)
{
    struct ossl o = {EVP_MD_CTX_new()};
    struct fwt_crypto_ops ops = {&o, o_init, o_update, o_final, o_verify};
    struct buf_io bio = {{NULL, bread, (uint32_t)len, 0}, img};
    bio.io.ctx = &bio;
    struct fwt_policy p;
    memset(&p, 0, sizeof(p));
    p.keys = keys;
    p.n_keys = n;
    p.threshold = 1;
    static uint8_t work[FWT_WORK_MIN];
    fwt_err e = fwt_image_verify(&bio.io, &ops, &p, work, sizeof(work), info);
    EVP_MD_CTX_free(o.md);
    return e;
}

static const uint8_t k_digest[32] = {
    0x72, 0x7f, 0x9d, 0x86, 0x3b, 0xfb, 0x70, 0xce, 0xbc, 0xc1, 0x84, 0x75, 0x52, 0x89, 0x16, 0xb2,
    0x06, 0x6a, 0x76, 0x95, 0xb4, 0x42, 0x9b, 0x79, 0xd1, 0x94, 0x37, 0x49, 0x93, 0x91, 0xdf, 0x6f};

static void test_vectors_verify(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        size_t len;
        uint8_t *img = slurp(V[i].image, &len);
        struct fwt_trusted_key k = {V[i].type, V[i].enc, V[i].enc_len};
        struct fwt_image_info info;
        assert_int_equal(run(img, len, &k, 1, &info), FWT_OK);
        assert_int_equal(info.hdr.version.major, 4);
        assert_int_equal(info.hdr.version.minor, 0);
        assert_int_equal(info.hdr.version.revision, 0);
        assert_int_equal(info.hdr.version.build, 5);
        assert_int_equal(info.hdr.hdr_size, 0x200);
        assert_int_equal(info.has_security_counter, 1);
        assert_int_equal(info.security_counter, 5);
        assert_int_equal(info.hash_alg, FWT_HASH_SHA256);
        assert_memory_equal(info.digest, k_digest, 32);
        assert_int_equal(info.n_signers, 1);
        assert_int_equal(info.format_version, 0);
        /* the other two keys: signed, but not by a trusted key */
        for (int j = 1; j < 3; j++) {
            const struct vec *o = &V[(i + j) % 3];
            struct fwt_trusted_key ok = {o->type, o->enc, o->enc_len};
            assert_int_equal(run(img, len, &ok, 1, NULL), FWT_E_UNKNOWN_KEY);
        }
        /* the right key among others */
        struct fwt_trusted_key all[3];
        for (int j = 0; j < 3; j++) {
            all[j] = (struct fwt_trusted_key){V[j].type, V[j].enc, V[j].enc_len};
        }
        assert_int_equal(run(img, len, all, 3, NULL), FWT_OK);
        free(img);
    }
}

static void test_vectors_tampered(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        size_t len;
        uint8_t *img = slurp(V[i].image, &len);
        struct fwt_trusted_key k = {V[i].type, V[i].enc, V[i].enc_len};
        struct fwt_image_info info;
        assert_int_equal(run(img, len, &k, 1, &info), FWT_OK);
        uint32_t end = info.total_size;
        /* last byte of the signature (Ed25519 S, RSA, or the DER's s) */
        img[end - 1] ^= 0x01;
        fwt_err e = run(img, len, &k, 1, NULL);
        assert_true(e == FWT_E_SIGNATURE);
        img[end - 1] ^= 0x01;
        /* payload and header */
        img[0x200 + 1000] ^= 0x20;
        assert_int_equal(run(img, len, &k, 1, NULL), FWT_E_DIGEST);
        img[0x200 + 1000] ^= 0x20;
        img[20] ^= 1; /* version major */
        assert_int_equal(run(img, len, &k, 1, NULL), FWT_E_DIGEST);
        img[20] ^= 1;
        /* truncated inside the TLVs */
        assert_int_equal(run(img, end - 1, &k, 1, NULL), FWT_E_MALFORMED);
        assert_int_equal(run(img, len, &k, 1, NULL), FWT_OK);
        free(img);
    }
}

static void test_vector_signature_edge_cases(void **state)
{
    (void)state;
    /* Ed25519: S >= L (non-canonical) is refused by the backend: add L to S. */
    size_t len;
    uint8_t *img = slurp(V[0].image, &len);
    struct fwt_trusted_key k = {V[0].type, V[0].enc, V[0].enc_len};
    struct fwt_image_info info;
    assert_int_equal(run(img, len, &k, 1, &info), FWT_OK);
    uint8_t *s = img + info.total_size - 32;
    static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                  0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                  0,    0,    0,    0,    0,    0,    0,    0,
                                  0,    0,    0,    0,    0,    0,    0,    0x10};
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned v = s[i] + L[i] + carry;
        s[i] = (uint8_t)v;
        carry = v >> 8;
    }
    assert_int_equal(run(img, len, &k, 1, NULL), FWT_E_SIGNATURE);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_verify),
        cmocka_unit_test(test_vectors_tampered),
        cmocka_unit_test(test_vector_signature_edge_cases),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
