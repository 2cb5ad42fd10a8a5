/*
 * X.509 for device identity (src/crypto/x509.c): certificate requests signed
 * through fwt_sign_message, checked here with OpenSSL itself (signature,
 * subject, public key); the certificate checks a device makes (its key, its
 * CN, the expiry) against certificates OpenSSL makes here.
 */
#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust_host.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static char g_dir[64];

static void key_path(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s.pem", g_dir, name);
}

static fwt_privkey *gen(enum fwt_key_type t, const char *name)
{
    char p[128];
    key_path(name, p, sizeof(p));
    assert_int_equal(fwt_keygen_file(t, p, NULL), FWT_OK);
    fwt_privkey *k = NULL;
    assert_int_equal(fwt_privkey_load(p, NULL, &k), FWT_OK);
    return k;
}

static EVP_PKEY *ossl_key(const char *name)
{
    char p[128];
    key_path(name, p, sizeof(p));
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(k);
    return k;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/fwt-x509-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
    return system(cmd);
}

static void check_csr(enum fwt_key_type t, const char *name, int md_nid)
{
    fwt_privkey *k = gen(t, name);
    char *pem = NULL;
    assert_int_equal(fwt_privkey_csr(k, "SN 0001", &pem), FWT_OK);
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
    assert_non_null(req);
    EVP_PKEY *pk = ossl_key(name);
    assert_int_equal(X509_REQ_verify(req, pk), 1); /* OpenSSL's own verdict */
    assert_int_equal(EVP_PKEY_eq(X509_REQ_get0_pubkey(req), pk), 1);
    char cn[64];
    assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "SN 0001");
    assert_int_equal(X509_REQ_get_signature_nid(req), md_nid);
    /* one changed byte of the signed part: OpenSSL refuses it */
    char *p = strstr(pem, "-----\n");
    assert_non_null(p);
    p[30] = p[30] == 'A' ? 'B' : 'A';
    BIO *b2 = BIO_new_mem_buf(pem, -1);
    X509_REQ *bad = PEM_read_bio_X509_REQ(b2, NULL, NULL, NULL);
    assert_true(!bad || X509_REQ_verify(bad, pk) != 1);
    X509_REQ_free(bad);
    BIO_free(b2);
    EVP_PKEY_free(pk);
    X509_REQ_free(req);
    BIO_free(b);
    free(pem);
    fwt_privkey_free(k);
}

static void test_csr(void **state)
{
    (void)state;
    check_csr(FWT_KEY_ECDSA_P256, "p256", NID_ecdsa_with_SHA256);
    check_csr(FWT_KEY_ECDSA_P384, "p384", NID_ecdsa_with_SHA384);
    check_csr(FWT_KEY_ED25519, "ed", NID_ED25519);
    fwt_privkey *k = gen(FWT_KEY_RSA2048, "rsa");
    char *pem = NULL;
    assert_int_equal(fwt_privkey_csr(k, "x", &pem), FWT_E_UNSUPPORTED);
    fwt_privkey_free(k);
    k = gen(FWT_KEY_ECDSA_P256, "p256b");
    char longcn[80];
    memset(longcn, 'a', sizeof(longcn) - 1);
    longcn[sizeof(longcn) - 1] = '\0';
    assert_int_equal(fwt_privkey_csr(k, longcn, &pem), FWT_E_ARG);
    assert_int_equal(fwt_privkey_csr(k, "", &pem), FWT_E_ARG);
    assert_null(pem);
    fwt_privkey_free(k);
}

/* A certificate for the key in file name, CN cn, valid for days, self-signed by it. */
static char *make_cert(const char *name, const char *cn, long days)
{
    EVP_PKEY *pk = ossl_key(name);
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, pk);
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(pk);
    return out;
}

static void test_check(void **state)
{
    (void)state;
    fwt_privkey *k = gen(FWT_KEY_ECDSA_P256, "dev");
    fwt_privkey *o = gen(FWT_KEY_ECDSA_P256, "other");
    fwt_pubkey *pub = NULL, *opub = NULL;
    assert_int_equal(fwt_privkey_public(k, &pub), FWT_OK);
    assert_int_equal(fwt_privkey_public(o, &opub), FWT_OK);
    char *cert = make_cert("dev", "dev-42", 30);
    int64_t na = 0;
    time_t now = time(NULL);
    assert_int_equal(fwt_x509_check(cert, strlen(cert), pub, "dev-42", &na), FWT_OK);
    assert_true(na >= (int64_t)now + 30 * 86400 - 60 && na <= (int64_t)now + 30 * 86400 + 60);
    assert_int_equal(fwt_x509_check(cert, strlen(cert), NULL, NULL, NULL), FWT_OK);
    assert_int_equal(fwt_x509_check(cert, strlen(cert), opub, "dev-42", &na), FWT_E_CERT);
    assert_non_null(strstr(fwt_detail(), "another key"));
    assert_int_equal(fwt_x509_check(cert, strlen(cert), pub, "dev-43", &na), FWT_E_CERT);
    assert_non_null(strstr(fwt_detail(), "CN"));
    assert_int_equal(fwt_x509_check("junk", 4, NULL, NULL, NULL), FWT_E_CERT);
    assert_int_equal(fwt_x509_check(cert, 0, NULL, NULL, NULL), FWT_E_CERT);
    free(cert);
    fwt_pubkey_free(pub);
    fwt_pubkey_free(opub);
    fwt_privkey_free(k);
    fwt_privkey_free(o);
}

static void test_random(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    assert_int_equal(fwt_random(a, sizeof(a)), FWT_OK);
    assert_int_equal(fwt_random(b, sizeof(b)), FWT_OK);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(fwt_random(a, 0), FWT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csr),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
