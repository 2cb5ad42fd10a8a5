/*
 * X.509 for device identity (the fleet, docs/fleet-protocol.md): a
 * certificate signing request made with any fwt_privkey (the to-be-signed
 * part is signed through fwt_sign_message, so a key in a token or, later, a
 * TPM signs it without leaving it), and the checks a device makes on the
 * certificate it receives. OpenSSL does the encoding; nothing is hand-made.
 */
#include "keys_internal.h"

#include <fwtrust/fwt_util.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define CN_MAX 64

static int sig_nid(enum fwt_key_type t)
{
    switch (t) {
    case FWT_KEY_ECDSA_P256:
        return NID_ecdsa_with_SHA256;
    case FWT_KEY_ECDSA_P384:
        return NID_ecdsa_with_SHA384;
    case FWT_KEY_ED25519:
        return NID_ED25519;
    default:
        return NID_undef;
    }
}

static fwt_err bio_text(BIO *b, char **out)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    if (n <= 0 || !p) {
        return fwt_fail(FWT_E_CRYPTO, "PEM encoding failed");
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    *out = s;
    return FWT_OK;
}

fwt_err fwt_privkey_csr(fwt_privkey *key, const char *cn, char **pem)
{
    *pem = NULL;
    int nid = sig_nid(key->type);
    if (nid == NID_undef) {
        return fwt_fail(FWT_E_UNSUPPORTED, "certificate request: %s keys are not supported (ECDSA or Ed25519)",
                        fwt_key_type_name(key->type));
    }
    if (!cn || !*cn || strlen(cn) > CN_MAX) {
        return fwt_fail(FWT_E_ARG, "certificate request: the common name must be 1 to %d bytes", CN_MAX);
    }
    X509_REQ *req = X509_REQ_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();
    BIO *b = BIO_new(BIO_s_mem());
    unsigned char *tbs = NULL;
    uint8_t sig[512]; /* above any signature fwt_privkey_sig_max gives */
    size_t sl = sizeof(sig);
    fwt_err err = FWT_OK;
    if (!req || !alg || !bs || !b) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
        goto out;
    }
    if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
        X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                                   -1, -1, 0) != 1 ||
        X509_REQ_set_pubkey(req, key->pkey) != 1 ||
        X509_ALGOR_set0(alg, OBJ_nid2obj(nid), V_ASN1_UNDEF, NULL) != 1 ||
        X509_REQ_set1_signature_algo(req, alg) != 1) {
        err = fwt_fail(FWT_E_CRYPTO, "certificate request: OpenSSL could not build it");
        goto out;
    }
    int tl = i2d_re_X509_REQ_tbs(req, &tbs);
    if (tl <= 0) {
        err = fwt_fail(FWT_E_CRYPTO, "certificate request: encoding failed");
        goto out;
    }
    err = fwt_sign_message(key, tbs, (size_t)tl, sig, &sl);
    if (err != FWT_OK) {
        goto out;
    }
    if (ASN1_BIT_STRING_set(bs, sig, (int)sl) != 1) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
        goto out;
    }
    bs->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    X509_REQ_set0_signature(req, bs);
    bs = NULL;
    /* what we made must verify with the key it carries */
    if (X509_REQ_verify(req, key->pkey) != 1) {
        err = fwt_fail(FWT_E_CRYPTO, "certificate request: its signature does not verify");
        goto out;
    }
    if (PEM_write_bio_X509_REQ(b, req) != 1) {
        err = fwt_fail(FWT_E_CRYPTO, "certificate request: PEM encoding failed");
        goto out;
    }
    err = bio_text(b, pem);
out:
    ERR_clear_error();
    OPENSSL_free(tbs);
    ASN1_BIT_STRING_free(bs);
    X509_ALGOR_free(alg);
    X509_REQ_free(req);
    BIO_free(b);
    return err;
}

fwt_err fwt_x509_check(const char *pem, size_t len, const fwt_pubkey *key, const char *cn, int64_t *not_after)
{
    if (len == 0 || len > 65536) {
        return fwt_fail(FWT_E_CERT, "certificate: %zu bytes of PEM", len);
    }
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    fwt_err err = FWT_OK;
    if (!x) {
        err = fwt_fail(FWT_E_CERT, "certificate: not a PEM X.509 certificate");
        goto out;
    }
    if (key) {
        EVP_PKEY *pk = X509_get0_pubkey(x);
        if (!pk || EVP_PKEY_eq(pk, key->pkey) != 1) {
            err = fwt_fail(FWT_E_CERT, "certificate: it certifies another key than this device's");
            goto out;
        }
    }
    if (cn) {
        char got[CN_MAX + 2];
        int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, got, sizeof(got));
        if (n < 0 || (size_t)n > CN_MAX || strcmp(got, cn) != 0) {
            err = fwt_fail(FWT_E_CERT, "certificate: subject CN is not '%s'", cn);
            goto out;
        }
    }
    if (not_after) {
        struct tm tm;
        const ASN1_TIME *na = X509_get0_notAfter(x);
        if (!na || ASN1_TIME_to_tm(na, &tm) != 1) {
            err = fwt_fail(FWT_E_CERT, "certificate: unreadable notAfter");
            goto out;
        }
        *not_after = (int64_t)timegm(&tm);
    }
out:
    ERR_clear_error();
    X509_free(x);
    BIO_free(b);
    return err;
}
