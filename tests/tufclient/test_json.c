/*
 * Canonical JSON (the encoding TUF signs), key ids, key objects, verifiers and
 * time stamps of the TUF module (src/tuf/tuf_json.c).
 */
#define FWTRUST_INTERNAL 1
#include "tuf/tuf_json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

static char *canon_of(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    char *c = NULL;
    size_t l = 0;
    assert_int_equal(fwt_tuf_canonical(v, &c, &l), FWT_OK);
    assert_int_equal(strlen(c), l);
    json_decref(v);
    return c;
}

static void test_canonical_vectors(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        /* keys sorted, no whitespace */
        {"{ \"b\": 1, \"a\": [true, false, null], \"c\": {\"z\": \"\", \"y\": -5} }",
         "{\"a\":[true,false,null],\"b\":1,\"c\":{\"y\":-5,\"z\":\"\"}}"},
        /* only '\"' and '\\' are escaped; other bytes (newline, UTF-8) are written as they are */
        {"{\"s\": \"q\\\"b\\\\n\\nt\\u00e9\"}", "{\"s\":\"q\\\"b\\\\n\nt\xc3\xa9\"}"},
        /* code point order: upper case before lower case, "a" before "ab", é after z */
        {"{\"ab\": 1, \"a\": 2, \"B\": 3, \"\\u00e9\": 4, \"z\": 5}",
         "{\"B\":3,\"a\":2,\"ab\":1,\"z\":5,\"\xc3\xa9\":4}"},
        {"[]", "[]"},
        {"{}", "{}"},
        {"9007199254740993", "9007199254740993"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *c = canon_of(cases[i][0]);
        assert_string_equal(c, cases[i][1]);
        free(c);
    }
}

static void test_canonical_refuses_floats_and_depth(void **state)
{
    (void)state;
    json_t *v = json_loads("{\"x\": 1.5}", 0, NULL);
    char *c = NULL;
    size_t l = 0;
    assert_int_equal(fwt_tuf_canonical(v, &c, &l), FWT_E_META);
    json_decref(v);
    json_t *deep = json_array();
    json_t *cur = deep;
    for (int i = 0; i < 80; i++) {
        json_t *n = json_array();
        json_array_append_new(cur, n);
        cur = n;
    }
    assert_int_equal(fwt_tuf_canonical(deep, &c, &l), FWT_E_META);
    json_decref(deep);
}

static void test_json_load_strict(void **state)
{
    (void)state;
    json_t *v = NULL;
    const char dup[] = "{\"a\": 1, \"a\": 1}";
    assert_int_equal(fwt_tuf_json_load((const uint8_t *)dup, strlen(dup), "x", &v), FWT_E_META);
    const char trailing[] = "{\"a\": 1} {}";
    assert_int_equal(fwt_tuf_json_load((const uint8_t *)trailing, strlen(trailing), "x", &v), FWT_E_META);
    const char ok[] = "{\"a\": 1}";
    assert_int_equal(fwt_tuf_json_load((const uint8_t *)ok, strlen(ok), "x", &v), FWT_OK);
    json_decref(v);
}

/* Key id of a known key object: SHA-256 of its canonical form (computed independently). */
static void test_keyid(void **state)
{
    (void)state;
    json_t *k = json_pack("{s:s, s:s, s:{s:s}}", "keytype", "ed25519", "scheme", "ed25519", "keyval", "public",
                          "edcd0a32a07dce33f7c7873aaffbff36d20ea30787574ead335eefd337e4dacd");
    char id[65];
    assert_int_equal(fwt_tuf_keyid(k, id), FWT_OK);
    /* sha256 of {"keytype":"ed25519","keyval":{"public":"edcd...dacd"},"scheme":"ed25519"} */
    char *c = NULL;
    size_t l = 0;
    assert_int_equal(fwt_tuf_canonical(k, &c, &l), FWT_OK);
    assert_string_equal(c, "{\"keytype\":\"ed25519\",\"keyval\":{\"public\":"
                           "\"edcd0a32a07dce33f7c7873aaffbff36d20ea30787574ead335eefd337e4dacd\"},\"scheme\":\"ed25519\"}");
    uint8_t d[32];
    char hex[65];
    assert_int_equal(fwt_sha256(c, l, d), FWT_OK);
    fwt_hex_encode(d, 32, hex);
    assert_string_equal(id, hex);
    free(c);
    /* verifier from it; material is the same for an alias object with an extra field */
    struct fwt_tuf_vkey *a = NULL, *b = NULL;
    assert_int_equal(fwt_tuf_vkey_new(k, &a), FWT_OK);
    json_t *alias = json_deep_copy(k);
    json_object_set_new(alias, "x", json_true());
    assert_int_equal(fwt_tuf_vkey_new(alias, &b), FWT_OK);
    size_t la, lb;
    const uint8_t *ma = fwt_tuf_vkey_material(a, &la), *mb = fwt_tuf_vkey_material(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ma, mb, la);
    /* a bad signature does not verify */
    uint8_t sig[64] = {0};
    assert_int_equal(fwt_tuf_vkey_verify(a, (const uint8_t *)"m", 1, sig, sizeof(sig)), FWT_E_SIGNATURE);
    fwt_tuf_vkey_free(a);
    fwt_tuf_vkey_free(b);
    /* unsupported and malformed keys */
    json_object_set_new(alias, "scheme", json_string("ed448"));
    assert_int_equal(fwt_tuf_vkey_new(alias, &a), FWT_E_UNSUPPORTED);
    json_object_set_new(alias, "keyval", json_string("x"));
    assert_int_equal(fwt_tuf_vkey_new(alias, &a), FWT_E_META);
    json_decref(alias);
    json_decref(k);
}

static void test_time(void **state)
{
    (void)state;
    time_t t = 0;
    assert_int_equal(fwt_tuf_time_parse("1970-01-01T00:00:00Z", &t), FWT_OK);
    assert_int_equal(t, 0);
    assert_int_equal(fwt_tuf_time_parse("2030-02-28T12:34:56Z", &t), FWT_OK);
    assert_int_equal((long long)t, 1898512496LL);
    char out[21];
    fwt_tuf_time_format(t, out);
    assert_string_equal(out, "2030-02-28T12:34:56Z");
    assert_int_equal(fwt_tuf_time_parse("2024-02-29T00:00:00Z", &t), FWT_OK);
    static const char *const bad[] = {"2023-02-29T00:00:00Z", "2030-02-28T12:34:56",  "2030-02-28 12:34:56Z",
                                      "2030-13-01T00:00:00Z", "2030-02-28T24:00:00Z", "2030-02-28T12:34:56.1Z",
                                      "",                     "2030-2-28T12:34:56Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(fwt_tuf_time_parse(bad[i], &t), FWT_E_META);
    }
    assert_int_equal(fwt_tuf_time_parse(NULL, &t), FWT_E_META);
}

/* PEM (SPKI) of a key pair's public half */
static char *pub_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    return out;
}

/* Sign msg with OpenSSL as another implementation would: pad 1 = PKCS#1 v1.5, 2 = PSS with
 * the largest salt, 0 = the key's default (ECDSA). */
static size_t ossl_sign(EVP_PKEY *k, int pad, const char *md, const char *msg, uint8_t *sig, size_t cap)
{
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    assert_int_equal(EVP_DigestSignInit_ex(mc, &pc, md, NULL, NULL, k, NULL), 1);
    if (pad == 1) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING), 1);
    } else if (pad == 2) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_MAX), 1);
    }
    size_t len = cap;
    assert_int_equal(EVP_DigestSign(mc, sig, &len, (const uint8_t *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(mc);
    return len;
}

static void check_scheme(EVP_PKEY *k, const char *keytype, const char *scheme, int pad, const char *md)
{
    char *pem = pub_pem(k);
    json_t *obj = json_pack("{s:s, s:s, s:{s:s}}", "keytype", keytype, "scheme", scheme, "keyval", "public", pem);
    struct fwt_tuf_vkey *v = NULL;
    assert_int_equal(fwt_tuf_vkey_new(obj, &v), FWT_OK);
    uint8_t sig[1024];
    size_t sl = ossl_sign(k, pad, md, "signed bytes", sig, sizeof(sig));
    assert_int_equal(fwt_tuf_vkey_verify(v, (const uint8_t *)"signed bytes", 12, sig, sl), FWT_OK);
    assert_int_equal(fwt_tuf_vkey_verify(v, (const uint8_t *)"signed bytez", 12, sig, sl), FWT_E_SIGNATURE);
    sig[sl / 2] ^= 1;
    assert_int_equal(fwt_tuf_vkey_verify(v, (const uint8_t *)"signed bytes", 12, sig, sl), FWT_E_SIGNATURE);
    fwt_tuf_vkey_free(v);
    json_decref(obj);
    free(pem);
}

/* The schemes other implementations sign with (the conformance suite's default is RSA PKCS#1 v1.5). */
static void test_schemes(void **state)
{
    (void)state;
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
    assert_non_null(rsa);
    check_scheme(rsa, "rsa", "rsa-pkcs1v15-sha256", 1, "SHA256");
    check_scheme(rsa, "rsa", "rsassa-pss-sha256", 2, "SHA256");
    /* a PKCS#1 v1.5 signature is not a PSS one */
    char *pem = pub_pem(rsa);
    json_t *obj = json_pack("{s:s, s:s, s:{s:s}}", "keytype", "rsa", "scheme", "rsassa-pss-sha256", "keyval", "public",
                            pem);
    struct fwt_tuf_vkey *v = NULL;
    assert_int_equal(fwt_tuf_vkey_new(obj, &v), FWT_OK);
    uint8_t sig[1024];
    size_t sl = ossl_sign(rsa, 1, "SHA256", "m", sig, sizeof(sig));
    assert_int_equal(fwt_tuf_vkey_verify(v, (const uint8_t *)"m", 1, sig, sl), FWT_E_SIGNATURE);
    fwt_tuf_vkey_free(v);
    json_decref(obj);
    free(pem);
    EVP_PKEY_free(rsa);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    check_scheme(ec, "ecdsa", "ecdsa-sha2-nistp256", 0, "SHA256");
    check_scheme(ec, "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", 0, "SHA256");
    EVP_PKEY_free(ec);
    ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    check_scheme(ec, "ecdsa", "ecdsa-sha2-nistp384", 0, "SHA384");
    EVP_PKEY_free(ec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_vectors),
        cmocka_unit_test(test_canonical_refuses_floats_and_depth),
        cmocka_unit_test(test_json_load_strict),
        cmocka_unit_test(test_keyid),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_schemes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
