/*
 * The fleet CA: an ECDSA P-256 key in a PEM file and a self-signed
 * certificate; it issues the server's TLS certificate and short-lived device
 * certificates (CN = device id, clientAuth), and signs the CRL of revoked
 * devices. X.509 through OpenSSL; nothing hand-made.
 */
#include "srv.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FWT_CA_SIG_MAX 80 /* an ECDSA P-256 DER signature: at most 72 bytes */

static fwt_err ossl_fail(fwt_err e, const char *what)
{
    unsigned long code = ERR_get_error();
    char buf[256] = "";
    if (code) {
        ERR_error_string_n(code, buf, sizeof(buf));
    }
    ERR_clear_error();
    return fwt_fail(e, "%s%s%s", what, code ? ": " : "", buf);
}

static EVP_PKEY *p256_new(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int is_p256(EVP_PKEY *k)
{
    char name[32];
    size_t n = 0;
    return EVP_PKEY_is_a(k, "EC") &&
           EVP_PKEY_get_utf8_string_param(k, "group", name, sizeof(name), &n) == 1 &&
           !strcmp(name, "prime256v1");
}

static fwt_err write_pem(const char *path, int (*wr)(BIO *, void *), void *obj, unsigned mode)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b || wr(b, obj) != 1) {
        BIO_free(b);
        return ossl_fail(FWT_E_CRYPTO, "PEM encoding");
    }
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    fwt_err e = fwt_write_file_atomic(path, data, (size_t)n, mode);
    BIO_free(b);
    return e;
}

static int wr_key(BIO *b, void *k)
{
    return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

static int wr_cert(BIO *b, void *c)
{
    return PEM_write_bio_X509(b, c);
}

static int wr_crl(BIO *b, void *c)
{
    return PEM_write_bio_X509_CRL(b, c);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ex && X509_add_ext(cert, ex, -1) == 1;
    X509_EXTENSION_free(ex);
    return ok;
}

/*
 * Sign a certificate or CRL through the crypto layer, so the CA key may be a PEM file or a
 * PKCS#11 token key (fwt_privkey_load). OpenSSL signs only with its own keys, so: a first
 * signature by a placeholder P-256 key sets the algorithm (ecdsa-with-SHA256) in the
 * to-be-signed part and the outer structure; then the TBS bytes are signed with
 * fwt_sign_message (ECDSA P-256, SHA-256, DER) and that signature replaces the
 * placeholder's; the result is verified with the CA's public key before it is used.
 */
static EVP_PKEY *placeholder_key(void)
{
    static EVP_PKEY *k;
    if (!k) {
        k = p256_new(); /* kept for the process's life */
    }
    return k;
}

static fwt_err put_sig(fwt_privkey *k, const unsigned char *tbs, int n, const ASN1_BIT_STRING *csig)
{
    if (fwt_privkey_type(k) != FWT_KEY_ECDSA_P256) {
        return fwt_fail(FWT_E_KEY, "the fleet CA key must be ECDSA P-256");
    }
    /* the signature member OpenSSL hands out read-only (it has no setter for it) */
    ASN1_BIT_STRING *sig = (ASN1_BIT_STRING *)(uintptr_t)csig;
    uint8_t buf[FWT_CA_SIG_MAX];
    size_t sl = sizeof(buf);
    fwt_err e = n > 0 ? fwt_sign_message(k, tbs, (size_t)n, buf, &sl) : fwt_fail(FWT_E_CRYPTO, "TBS encoding");
    if (e == FWT_OK && ASN1_BIT_STRING_set(sig, buf, (int)sl) != 1) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (e == FWT_OK) {
        sig->flags &= ~0x07;
        sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    }
    return e;
}

static fwt_err sign_x509(X509 *c, fwt_privkey *k, EVP_PKEY *pub)
{
    EVP_PKEY *ph = placeholder_key();
    if (!ph || X509_sign(c, ph, EVP_sha256()) <= 0) {
        return ossl_fail(FWT_E_CRYPTO, "certificate signature algorithm");
    }
    const ASN1_BIT_STRING *psig = NULL;
    const X509_ALGOR *palg = NULL;
    X509_get0_signature(&psig, &palg, c);
    unsigned char *tbs = NULL;
    int n = i2d_re_X509_tbs(c, &tbs);
    fwt_err e = put_sig(k, tbs, n, psig);
    OPENSSL_free(tbs);
    if (e == FWT_OK && X509_verify(c, pub) != 1) {
        e = ossl_fail(FWT_E_SIGNATURE, "the fleet CA's signature on a new certificate does not verify");
    }
    return e;
}

static fwt_err sign_crl(X509_CRL *crl, fwt_privkey *k, EVP_PKEY *pub)
{
    EVP_PKEY *ph = placeholder_key();
    if (!ph || X509_CRL_sign(crl, ph, EVP_sha256()) <= 0) {
        return ossl_fail(FWT_E_CRYPTO, "CRL signature algorithm");
    }
    const ASN1_BIT_STRING *psig = NULL;
    const X509_ALGOR *palg = NULL;
    X509_CRL_get0_signature(crl, &psig, &palg);
    unsigned char *tbs = NULL;
    int n = i2d_re_X509_CRL_tbs(crl, &tbs);
    fwt_err e = put_sig(k, tbs, n, psig);
    OPENSSL_free(tbs);
    if (e == FWT_OK && X509_CRL_verify(crl, pub) != 1) {
        e = ossl_fail(FWT_E_SIGNATURE, "the fleet CA's signature on the CRL does not verify");
    }
    return e;
}

/* A certificate for pub, issued by (issuer, ikey, ipub); issuer NULL: self-signed. */
static X509 *make_cert(EVP_PKEY *pub, const char *cn, uint64_t days, X509 *issuer, fwt_privkey *ikey,
                       EVP_PKEY *ipub, const char *const *exts, char serial_hex[41])
{
    X509 *c = X509_new();
    uint8_t sn[16];
    BIGNUM *bn = NULL;
    int ok = c && RAND_bytes(sn, sizeof(sn)) == 1;
    if (ok) {
        sn[0] &= 0x7f; /* positive */
        sn[0] |= 0x01;
        bn = BN_bin2bn(sn, sizeof(sn), NULL);
        ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) != NULL;
        if (ok && serial_hex) {
            fwt_hex_encode(sn, sizeof(sn), serial_hex);
        }
    }
    BN_free(bn);
    ok = ok && X509_set_version(c, 2) == 1;
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(c), -300) != NULL;
    ok = ok && X509_gmtime_adj(X509_getm_notAfter(c), (long)(days * 86400)) != NULL;
    ok = ok && X509_set_pubkey(c, pub) == 1;
    X509_NAME *name = ok ? X509_get_subject_name(c) : NULL;
    ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    ok = ok && X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name) == 1;
    for (size_t i = 0; ok && exts[i]; i += 2) {
        ok = add_ext(c, issuer ? issuer : c, OBJ_txt2nid(exts[i]), exts[i + 1]);
    }
    ok = ok && sign_x509(c, ikey, ipub) == FWT_OK;
    if (!ok) {
        X509_free(c);
        return NULL;
    }
    return c;
}

/* The public half of a crypto-layer key as an OpenSSL key (for X509_set_pubkey and checks). */
static fwt_err pub_of(fwt_privkey *k, EVP_PKEY **out)
{
    fwt_pubkey *pk = NULL;
    char *pem = NULL;
    fwt_err e = fwt_privkey_public(k, &pk);
    if (e == FWT_OK) {
        e = fwt_pubkey_pem(pk, &pem);
    }
    BIO *b = e == FWT_OK ? BIO_new_mem_buf(pem, -1) : NULL;
    *out = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    if (e == FWT_OK && !*out) {
        e = ossl_fail(FWT_E_KEY, "the fleet CA's public key");
    }
    BIO_free(b);
    free(pem);
    fwt_pubkey_free(pk);
    return e;
}

fwt_err ca_create(const char *dir, const char *const *names, size_t n_names, const char *ca_key,
                  const struct fwt_key_opts *ko)
{
    char *cadir = srv_path(dir, "ca");
    char *ca_file = srv_path(dir, "ca/ca.key"), *ca_crt = srv_path(dir, "ca/ca.pem");
    char *sv_key = srv_path(dir, "ca/server.key"), *sv_crt = srv_path(dir, "ca/server.pem");
    fwt_privkey *ck = NULL;
    EVP_PKEY *cpub = NULL, *sk = NULL;
    X509 *cc = NULL, *sc = NULL;
    fwt_err e = cadir && ca_file && ca_crt && sv_key && sv_crt ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    if (e == FWT_OK && mkdir(cadir, 0700) != 0) {
        e = fwt_fail(FWT_E_IO, "%s: cannot create", cadir);
    }
    /* The CA key: a new PEM file (the crypto layer's key generation), or the key named
     * (a PKCS#11 token key, made beforehand with fwtrust keygen). */
    if (e == FWT_OK && !ca_key && (e = fwt_keygen_file(FWT_KEY_ECDSA_P256, ca_file, NULL)) == FWT_OK) {
        ca_key = ca_file;
    }
    if (e == FWT_OK && (e = fwt_privkey_load(ca_key, ko, &ck)) != FWT_OK) {
        e = fwt_fail(e, "fleet CA key %s: %s", ca_key, fwt_detail());
    }
    if (e == FWT_OK) {
        e = pub_of(ck, &cpub);
    }
    static const char *const ca_exts[] = {"basicConstraints", "critical,CA:TRUE,pathlen:0", "keyUsage",
                                          "critical,keyCertSign,cRLSign", "subjectKeyIdentifier", "hash",
                                          NULL};
    if (e == FWT_OK && !(cc = make_cert(cpub, "fwtrust fleet CA", 3650, NULL, ck, cpub, ca_exts, NULL))) {
        e = fwt_fail(FWT_E_CRYPTO, "fleet CA certificate: %s", fwt_detail());
    }
    /* The server certificate: its names as subjectAltName (DNS or IP). */
    char san[2048] = "";
    size_t used = 0;
    static const char *const dflt[] = {"localhost", "127.0.0.1"};
    if (n_names == 0) {
        names = dflt;
        n_names = 2;
    }
    for (size_t i = 0; e == FWT_OK && i < n_names; i++) {
        unsigned char tmp[16];
        int ip = inet_pton(AF_INET, names[i], tmp) == 1 || inet_pton(AF_INET6, names[i], tmp) == 1;
        int w = snprintf(san + used, sizeof(san) - used, "%s%s:%s", used ? "," : "", ip ? "IP" : "DNS", names[i]);
        if (w < 0 || (size_t)w >= sizeof(san) - used || (strpbrk(names[i], ",:\n") && !ip)) {
            e = fwt_fail(FWT_E_ARG, "server name '%s': too long or contains ',' or ':'", names[i]);
        }
        used += (size_t)w;
    }
    const char *sv_exts[] = {"basicConstraints", "critical,CA:FALSE", "keyUsage", "critical,digitalSignature",
                             "extendedKeyUsage", "serverAuth", "subjectAltName", san, NULL};
    if (e == FWT_OK && (!(sk = p256_new()) || !(sc = make_cert(sk, names[0], 825, cc, ck, cpub, sv_exts, NULL)))) {
        e = fwt_fail(FWT_E_CRYPTO, "server certificate: %s", fwt_detail());
    }
    if (e == FWT_OK && (e = write_pem(ca_crt, wr_cert, cc, 0644)) == FWT_OK &&
        (e = write_pem(sv_key, wr_key, sk, 0600)) == FWT_OK) {
        e = write_pem(sv_crt, wr_cert, sc, 0644);
    }
    fwt_privkey_free(ck);
    EVP_PKEY_free(cpub);
    EVP_PKEY_free(sk);
    X509_free(cc);
    X509_free(sc);
    free(cadir);
    free(ca_file);
    free(ca_crt);
    free(sv_key);
    free(sv_crt);
    return e;
}

static char *pubkey_pem_text(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && PEM_write_bio_PUBKEY(b, k) == 1) {
        char *d = NULL;
        long n = BIO_get_mem_data(b, &d);
        out = strndup(d, (size_t)n);
    }
    BIO_free(b);
    return out;
}

fwt_err ca_load(fwt_srv *s)
{
    struct fwt_key_opts ko;
    memset(&ko, 0, sizeof(ko));
    ko.pin_file = s->ca_pin_file;
    char *dflt = s->ca_key_spec ? NULL : srv_path(s->dir, "ca/ca.key");
    const char *spec = s->ca_key_spec ? s->ca_key_spec : dflt;
    fwt_err e = spec ? fwt_privkey_load(spec, &ko, &s->ca_key) : fwt_fail(FWT_E_NOMEM, "out of memory");
    if (e != FWT_OK) {
        e = fwt_fail(e, "fleet CA key %s: %s", spec ? spec : "", fwt_detail());
    }
    free(dflt);
    uint8_t *pem = NULL;
    size_t len = 0;
    EVP_PKEY *pub = NULL;
    if (e == FWT_OK && (e = fwt_read_file(s->ca_path, 65536, &pem, &len)) == FWT_OK) {
        BIO *b = BIO_new_mem_buf(pem, (int)len);
        s->ca_cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!s->ca_cert) {
            e = ossl_fail(FWT_E_CERT, "fleet CA certificate");
        } else if ((e = pub_of(s->ca_key, &pub)) == FWT_OK) {
            char *a = pubkey_pem_text(pub), *c = pubkey_pem_text(X509_get0_pubkey(s->ca_cert));
            if (!a || !c || strcmp(a, c) != 0) {
                e = fwt_fail(FWT_E_KEY, "the fleet CA key does not belong to %s", s->ca_path);
            }
            free(a);
            free(c);
        }
        s->ca_pem = (char *)pem;
        pem = NULL;
    }
    EVP_PKEY_free(pub);
    free(pem);
    return e;
}

fwt_err ca_csr_check(const char *pem, EVP_PKEY **pub)
{
    *pub = NULL;
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509_REQ *req = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!req) {
        return ossl_fail(FWT_E_MALFORMED, "csr is not a PEM certificate request");
    }
    EVP_PKEY *k = X509_REQ_get_pubkey(req);
    fwt_err e = FWT_OK;
    if (!k) {
        e = ossl_fail(FWT_E_MALFORMED, "csr has no usable public key");
    } else if (!is_p256(k)) {
        e = fwt_fail(FWT_E_UNSUPPORTED, "csr key is not ECDSA P-256");
    } else if (X509_REQ_verify(req, k) != 1) {
        e = ossl_fail(FWT_E_SIGNATURE, "csr signature does not verify with its key");
    }
    X509_REQ_free(req);
    if (e != FWT_OK) {
        EVP_PKEY_free(k);
        return e;
    }
    *pub = k;
    return FWT_OK;
}

void ca_issued_free(struct ca_issued *c)
{
    free(c->pem);
    free(c->pubkey_pem);
    memset(c, 0, sizeof(*c));
}

fwt_err ca_cert_fp(X509 *cert, char fp[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32) {
        return ossl_fail(FWT_E_CRYPTO, "certificate fingerprint");
    }
    fwt_hex_encode(md, 32, fp);
    return FWT_OK;
}

static char *bio_text(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    return n > 0 ? strndup(data, (size_t)n) : NULL;
}

fwt_err ca_issue_device(fwt_srv *s, EVP_PKEY *pub, const char *device_id, struct ca_issued *out)
{
    return ca_issue_client(s, pub, device_id, out);
}

fwt_err ca_issue_admin(fwt_srv *s, const char *name, char **key_pem, struct ca_issued *out)
{
    memset(out, 0, sizeof(*out));
    *key_pem = NULL;
    char cn[80];
    snprintf(cn, sizeof(cn), "admin:%s", name);
    EVP_PKEY *k = p256_new();
    if (!k) {
        return ossl_fail(FWT_E_CRYPTO, "administrator key");
    }
    fwt_err e = ca_issue_client(s, k, cn, out);
    BIO *b = e == FWT_OK ? BIO_new(BIO_s_mem()) : NULL;
    if (e == FWT_OK && (!b || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1 || !(*key_pem = bio_text(b)))) {
        e = ossl_fail(FWT_E_CRYPTO, "administrator key PEM");
        ca_issued_free(out);
    }
    if (b) {
        /* the key's PEM is a secret: wipe the memory BIO's buffer */
        char *data = NULL;
        long n = BIO_get_mem_data(b, &data);
        if (n > 0 && data) {
            OPENSSL_cleanse(data, (size_t)n);
        }
        BIO_free(b);
    }
    EVP_PKEY_free(k);
    return e;
}

fwt_err ca_issue_client(fwt_srv *s, EVP_PKEY *pub, const char *device_id, struct ca_issued *out)
{
    memset(out, 0, sizeof(*out));
    static const char *const exts[] = {"basicConstraints", "critical,CA:FALSE", "keyUsage",
                                       "critical,digitalSignature", "extendedKeyUsage", "clientAuth",
                                       "authorityKeyIdentifier", "keyid:always", NULL};
    X509 *c = make_cert(pub, device_id, s->set.cert_days, s->ca_cert, s->ca_key, X509_get0_pubkey(s->ca_cert), exts,
                        out->serial);
    if (!c) {
        return fwt_fail(FWT_E_CRYPTO, "device certificate: %s", fwt_detail());
    }
    fwt_err e = ca_cert_fp(c, out->fp);
    BIO *b = BIO_new(BIO_s_mem()), *k = BIO_new(BIO_s_mem());
    if (e == FWT_OK && (!b || !k || PEM_write_bio_X509(b, c) != 1 || PEM_write_bio_PUBKEY(k, pub) != 1 ||
                        !(out->pem = bio_text(b)) || !(out->pubkey_pem = bio_text(k)))) {
        e = ossl_fail(FWT_E_CRYPTO, "device certificate PEM");
    }
    out->not_after = srv_now() + s->set.cert_days * 86400;
    BIO_free(b);
    BIO_free(k);
    X509_free(c);
    if (e != FWT_OK) {
        ca_issued_free(out);
    }
    return e;
}

fwt_err ca_write_crl(fwt_srv *s)
{
    struct db_param p[] = {DBI((int64_t)srv_now())};
    struct db_rows r;
    fwt_err e = db_exec(s->db,
                        "SELECT c.serial_hex FROM device_certs c JOIN devices d ON d.id = c.device_id"
                        " WHERE d.status <> 'active' AND c.not_after > ? ORDER BY c.serial_hex",
                        p, 1, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    X509_CRL *crl = X509_CRL_new();
    int ok = crl && X509_CRL_set_version(crl, 1) == 1 &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(s->ca_cert)) == 1;
    ASN1_TIME *t = ASN1_TIME_new();
    ok = ok && t && X509_gmtime_adj(t, 0) && X509_CRL_set1_lastUpdate(crl, t) == 1;
    ok = ok && X509_gmtime_adj(t, (long)(s->set.cert_days * 86400)) && X509_CRL_set1_nextUpdate(crl, t) == 1;
    for (size_t i = 0; ok && i < r.nrows; i++) {
        BIGNUM *bn = NULL;
        X509_REVOKED *rv = X509_REVOKED_new();
        ASN1_INTEGER *sn = NULL;
        ok = rv && BN_hex2bn(&bn, db_cell(&r, i, 0)) > 0 && (sn = BN_to_ASN1_INTEGER(bn, NULL)) &&
             X509_REVOKED_set_serialNumber(rv, sn) == 1 && X509_gmtime_adj(t, 0) &&
             X509_REVOKED_set_revocationDate(rv, t) == 1 && X509_CRL_add0_revoked(crl, rv) == 1;
        if (!ok) {
            X509_REVOKED_free(rv);
        }
        ASN1_INTEGER_free(sn);
        BN_free(bn);
    }
    ASN1_TIME_free(t);
    db_rows_free(&r);
    ok = ok && X509_CRL_sort(crl) == 1;
    e = ok ? sign_crl(crl, s->ca_key, X509_get0_pubkey(s->ca_cert)) : ossl_fail(FWT_E_CRYPTO, "CRL");
    if (e == FWT_OK) {
        e = write_pem(s->crl_path, wr_crl, crl, 0644);
    }
    X509_CRL_free(crl);
    return e;
}
