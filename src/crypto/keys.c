/*
 * Keys: loading (PEM files or PKCS#11 URIs), the MCUboot and raw encodings,
 * signing (file keys through OpenSSL, token keys through pkcs11.c), key
 * generation, and recognition of published sample keys.
 */
#include "keys_internal.h"

#include <fwtrust/fwt_util.h>
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* Largest key file we read (an RSA-4096 PEM is about 3.3 KB). */
#define KEY_FILE_MAX (64U * 1024U)
/* Longest passphrase (the first line of a passphrase file, read by secret.c). */
#define SECRET_MAX 1024U

void fwt_zeroize(void *p, size_t len)
{
    if (p != NULL && len > 0) {
        OPENSSL_cleanse(p, len);
    }
}

fwt_err fwt_random(void *buf, size_t len)
{
    if (len > (size_t)INT32_MAX) {
        return fwt_fail(FWT_E_ARG, "random: %zu bytes asked, at most %d", len, INT32_MAX);
    }
    if (len > 0 && RAND_bytes(buf, (int)len) != 1) {
        return fwt_fail(FWT_E_CRYPTO, "random: the OpenSSL generator failed");
    }
    return FWT_OK;
}

const char *fwt_ossl_reason(void)
{
    static _Thread_local char buf[160];
    unsigned long e = ERR_peek_last_error();
    if (e == 0) {
        return "no further detail";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

fwt_err fwt_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    if (data == NULL && len > 0) {
        return FWT_E_ARG;
    }
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        return fwt_fail(FWT_E_CRYPTO, "SHA-256 failed: %s", fwt_ossl_reason());
    }
    return FWT_OK;
}

/* ---- key types ---- */

const char *fwt_key_type_name(enum fwt_key_type type)
{
    const struct fwt_alg_desc *a = fwt_alg_by_key(type);
    return a ? a->name : "none";
}

enum fwt_key_type fwt_key_type_from_name(const char *name)
{
    const struct fwt_alg_desc *a = fwt_alg_by_name(name);
    return a ? a->key : FWT_KEY_NONE;
}

enum fwt_key_type fwt_pkey_type(const EVP_PKEY *pkey)
{
    if (pkey == NULL) {
        return FWT_KEY_NONE;
    }
    char group[64] = "";
    size_t glen = 0;
    int have_group = EVP_PKEY_is_a(pkey, "EC") &&
                     EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                    sizeof(group), &glen) == 1;
    const struct fwt_alg_desc *a;
    for (size_t i = 0; (a = fwt_alg_at(i)) != NULL; i++) {
        if (!EVP_PKEY_is_a(pkey, a->ossl_type)) {
            continue;
        }
        if (a->ossl_group != NULL) {
            /* OpenSSL names the group "prime256v1" or "P-256": compare by NID */
            int nid = EC_curve_nist2nid(a->ossl_group);
            if (have_group && (strcmp(group, a->ossl_group) == 0 ||
                               (nid != NID_undef && OBJ_sn2nid(group) == nid))) {
                return a->key;
            }
        } else if (a->mod_bits == 0 || EVP_PKEY_get_bits(pkey) == (int)a->mod_bits) {
            return a->key;
        }
    }
    return FWT_KEY_NONE;
}

static fwt_err unsupported_key(const char *what, const EVP_PKEY *pkey)
{
    const char *t = EVP_PKEY_get0_type_name(pkey);
    if (pkey != NULL && EVP_PKEY_is_a(pkey, "RSA")) {
        return fwt_fail(FWT_E_UNSUPPORTED, "%s: RSA-%d keys are not supported (RSA-2048 or RSA-3072)",
                        what, EVP_PKEY_get_bits(pkey));
    }
    return fwt_fail(FWT_E_UNSUPPORTED,
                    "%s: unsupported key type %s (%s)", what, t ? t : "unknown", fwt_alg_names());
}

/* ---- PEM decoding ---- */

struct pw_state {
    const char *pass; /* NULL: none given */
    int asked;
};

static int pem_pw_cb(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    struct pw_state *s = u;
    s->asked = 1;
    if (s->pass == NULL) {
        return -1;
    }
    size_t n = strlen(s->pass);
    if (size <= 0 || n > (size_t)size) {
        return -1;
    }
    memcpy(buf, s->pass, n);
    return (int)n;
}

/*
 * Decode a PEM key. want_private: the file must hold a private key. Otherwise
 * a public key (SPKI or PKCS#1) or a private key (its public half) is fine.
 */
static fwt_err decode_pem(const char *what, const uint8_t *data, size_t len, int want_private,
                          const char *passphrase, EVP_PKEY **out)
{
    *out = NULL;
    if (len > INT32_MAX || memmem(data, len, "-----BEGIN ", 11) == NULL) {
        return fwt_fail(FWT_E_KEY, "%s: not a PEM key file", what);
    }
    int is_private = memmem(data, len, "PRIVATE KEY-----", 16) != NULL;
    if (want_private && !is_private) {
        return fwt_fail(FWT_E_KEY, "%s: holds no private key (a public key cannot sign)", what);
    }
    struct pw_state pw = {passphrase, 0};
    EVP_PKEY *pkey = NULL;
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL) {
        return FWT_E_NOMEM;
    }
    if (is_private) {
        pkey = PEM_read_bio_PrivateKey(bio, NULL, pem_pw_cb, &pw);
    } else {
        OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL,
                                                               EVP_PKEY_PUBLIC_KEY, NULL, NULL);
        if (dctx != NULL) {
            if (OSSL_DECODER_from_bio(dctx, bio) != 1) {
                EVP_PKEY_free(pkey);
                pkey = NULL;
            }
            OSSL_DECODER_CTX_free(dctx);
        }
    }
    BIO_free(bio);
    if (pkey == NULL) {
        if (pw.asked && passphrase == NULL) {
            return fwt_fail(FWT_E_KEY, "%s: the key is encrypted; give its passphrase with "
                                       "--passphrase-file", what);
        }
        if (pw.asked) {
            ERR_clear_error();
            return fwt_fail(FWT_E_KEY, "%s: wrong passphrase, or a damaged key file", what);
        }
        return fwt_fail(FWT_E_KEY, "%s: cannot decode the key (%s)", what, fwt_ossl_reason());
    }
    *out = pkey;
    return FWT_OK;
}

static fwt_err load_pem_file(const char *path, int want_private, const struct fwt_key_opts *opts,
                             EVP_PKEY **out)
{
    uint8_t *data = NULL;
    size_t len = 0;
    fwt_err e = fwt_secret_read_file(path, "key", KEY_FILE_MAX, &data, &len);
    if (e != FWT_OK) {
        if (e == FWT_E_TOO_LARGE) {
            return fwt_fail(FWT_E_KEY, "%s: too large for a key file", path);
        }
        /* A key that cannot be read is a key error, whatever the I/O cause. */
        char why[256];
        snprintf(why, sizeof(why), "%s", fwt_detail());
        return fwt_fail(FWT_E_KEY, "%s", why);
    }
    char pass[SECRET_MAX];
    const char *pp = NULL;
    if (opts != NULL && opts->passphrase_file != NULL) {
        e = fwt_secret_read_line(opts->passphrase_file, "passphrase", pass, sizeof(pass), NULL);
        if (e != FWT_OK) {
            fwt_secret_free(data, len);
            return e;
        }
        pp = pass;
    }
    e = decode_pem(path, data, len, want_private, pp, out);
    fwt_zeroize(pass, sizeof(pass));
    fwt_secret_free(data, len);
    if (e == FWT_OK && fwt_pkey_type(*out) == FWT_KEY_NONE) {
        e = unsupported_key(path, *out);
        EVP_PKEY_free(*out);
        *out = NULL;
    }
    return e;
}

/* ---- private keys ---- */

fwt_err fwt_privkey_load(const char *spec, const struct fwt_key_opts *opts, fwt_privkey **out)
{
    if (spec == NULL || out == NULL) {
        return FWT_E_ARG;
    }
    *out = NULL;
    fwt_privkey *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        return FWT_E_NOMEM;
    }
    fwt_err e;
    if (fwt_p11_is_uri(spec)) {
        e = fwt_p11_open(spec, opts, 1, &k->p11, &k->pkey, &k->type);
    } else {
        e = load_pem_file(spec, 1, opts, &k->pkey);
        if (e == FWT_OK) {
            k->type = fwt_pkey_type(k->pkey);
        }
    }
    if (e != FWT_OK) {
        fwt_privkey_free(k);
        return e;
    }
    *out = k;
    return FWT_OK;
}

void fwt_privkey_free(fwt_privkey *key)
{
    if (key == NULL) {
        return;
    }
    fwt_p11_close(key->p11);
    EVP_PKEY_free(key->pkey); /* OpenSSL clears private key material on free */
    fwt_zeroize(key, sizeof(*key));
    free(key);
}

enum fwt_key_type fwt_privkey_type(const fwt_privkey *key)
{
    return key ? key->type : FWT_KEY_NONE;
}

/*
 * Ed25519 public keys of small order (and their non-canonical encodings):
 * with one of them a forged signature (R of small order, S = 0) passes the
 * cofactorless verification equation for any message. The sign bit is
 * ignored in the comparison.
 */
static const uint8_t k_small_order[][32] = {
    {0x00}, /* order 4 */
    {0x01}, /* the identity, order 1 */
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
     0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
     0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, /* p-1 */
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, /* p */
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, /* p+1 */
};

int fwt_pkey_weak(const EVP_PKEY *pkey)
{
    if (pkey == NULL || !EVP_PKEY_is_a(pkey, "ED25519")) {
        return 0;
    }
    uint8_t raw[32];
    size_t n = sizeof(raw);
    if (EVP_PKEY_get_raw_public_key(pkey, raw, &n) != 1 || n != 32) {
        return 1;
    }
    raw[31] &= 0x7f;
    for (size_t i = 0; i < sizeof(k_small_order) / sizeof(k_small_order[0]); i++) {
        if (memcmp(raw, k_small_order[i], 32) == 0) {
            return 1;
        }
    }
    return 0;
}

static fwt_err pubkey_wrap(EVP_PKEY *pkey, fwt_pubkey **out)
{
    if (fwt_pkey_weak(pkey)) {
        EVP_PKEY_free(pkey);
        return fwt_fail(FWT_E_KEY, "refusing an Ed25519 public key of small order");
    }
    enum fwt_key_type t = fwt_pkey_type(pkey);
    if (t == FWT_KEY_NONE) {
        fwt_err e = unsupported_key("public key", pkey);
        EVP_PKEY_free(pkey);
        return e;
    }
    fwt_pubkey *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        EVP_PKEY_free(pkey);
        return FWT_E_NOMEM;
    }
    p->type = t;
    p->pkey = pkey;
    *out = p;
    return FWT_OK;
}

/* A public-only copy of a key (never shares private material). */
static fwt_err public_copy(const EVP_PKEY *pkey, EVP_PKEY **out)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pkey, &der);
    if (n <= 0) {
        return fwt_fail(FWT_E_KEY, "cannot encode the public key: %s", fwt_ossl_reason());
    }
    const unsigned char *p = der;
    *out = d2i_PUBKEY(NULL, &p, n);
    OPENSSL_free(der);
    if (*out == NULL) {
        return fwt_fail(FWT_E_KEY, "cannot decode the public key: %s", fwt_ossl_reason());
    }
    return FWT_OK;
}

fwt_err fwt_privkey_public(const fwt_privkey *key, fwt_pubkey **out)
{
    if (key == NULL || out == NULL) {
        return FWT_E_ARG;
    }
    *out = NULL;
    EVP_PKEY *pub = NULL;
    fwt_err e = public_copy(key->pkey, &pub);
    if (e != FWT_OK) {
        return e;
    }
    return pubkey_wrap(pub, out);
}

size_t fwt_privkey_sig_max(const fwt_privkey *key)
{
    const struct fwt_alg_desc *a = key ? fwt_alg_by_key(key->type) : NULL;
    return a ? a->sig_size : 0;
}

uint16_t fwt_privkey_sig_tlv(const fwt_privkey *key, int pure)
{
    (void)pure; /* pure Ed25519 uses the same TLV; the format TLV tells them apart */
    const struct fwt_alg_desc *a = key ? fwt_alg_by_key(key->type) : NULL;
    return a ? a->sig_tlv : 0;
}

enum fwt_sig_alg fwt_privkey_sig_alg(const fwt_privkey *key, int pure)
{
    const struct fwt_alg_desc *a = key ? fwt_alg_by_key(key->type) : NULL;
    if (a == NULL) {
        return FWT_SIG_NONE;
    }
    return pure && a->pure_sig != FWT_SIG_NONE ? a->pure_sig : a->sig;
}

/* ---- ECDSA signature normalisation ---- */

/* Re-encode an ECDSA DER signature with low S (s <= n/2), in place. */
static fwt_err ecdsa_low_s(const EVP_PKEY *pkey, uint8_t *sig, size_t *sig_len, size_t cap)
{
    fwt_err e = FWT_E_CRYPTO;
    const unsigned char *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)*sig_len);
    BIGNUM *order = BN_new();
    BIGNUM *half = BN_new();
    BIGNUM *ns = NULL;
    char group[64];
    size_t glen = 0;
    EC_GROUP *g = NULL;
    if (es == NULL || order == NULL || half == NULL ||
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &glen) != 1) {
        goto out;
    }
    g = EC_GROUP_new_by_curve_name(OBJ_sn2nid(group));
    if (g == NULL || EC_GROUP_get_order(g, order, NULL) != 1 || BN_rshift1(half, order) != 1) {
        goto out;
    }
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;
    ECDSA_SIG_get0(es, &r, &s);
    if (BN_cmp(s, half) > 0) {
        BIGNUM *nr = BN_dup(r);
        ns = BN_new();
        if (nr == NULL || ns == NULL || BN_sub(ns, order, s) != 1 || ECDSA_SIG_set0(es, nr, ns) != 1) {
            BN_free(nr);
            BN_free(ns);
            goto out;
        }
        int n = i2d_ECDSA_SIG(es, NULL);
        if (n <= 0 || (size_t)n > cap) {
            goto out;
        }
        unsigned char *q = sig;
        if (i2d_ECDSA_SIG(es, &q) != n) {
            goto out;
        }
        *sig_len = (size_t)n;
    }
    e = FWT_OK;
out:
    if (e != FWT_OK) {
        fwt_fail(e, "cannot normalise the ECDSA signature: %s", fwt_ossl_reason());
    }
    EC_GROUP_free(g);
    BN_free(order);
    BN_free(half);
    ECDSA_SIG_free(es);
    return e;
}

/* ---- signing ---- */

static int is_rsa(enum fwt_key_type t)
{
    const struct fwt_alg_desc *a = fwt_alg_by_key(t);
    return a != NULL && a->mod_bits != 0;
}

static int is_ec(enum fwt_key_type t)
{
    const struct fwt_alg_desc *a = fwt_alg_by_key(t);
    return a != NULL && a->ossl_group != NULL;
}

/* Sign a prehashed value with a file key (ECDSA or RSA-PSS). */
static fwt_err sign_prehashed(fwt_privkey *key, const EVP_MD *md, const uint8_t *h, size_t hlen,
                              uint8_t *sig, size_t *sig_len)
{
    fwt_err e = FWT_E_CRYPTO;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (pc == NULL || EVP_PKEY_sign_init(pc) != 1) {
        goto out;
    }
    if (is_rsa(key->type)) {
        if (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_signature_md(pc, md) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pc, md) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) != 1) {
            goto out;
        }
    } else if (EVP_PKEY_CTX_set_signature_md(pc, md) != 1) {
        goto out;
    }
    size_t n = *sig_len;
    if (EVP_PKEY_sign(pc, sig, &n, h, hlen) != 1) {
        goto out;
    }
    *sig_len = n;
    e = FWT_OK;
out:
    if (e != FWT_OK) {
        fwt_fail(e, "signing failed: %s", fwt_ossl_reason());
    }
    EVP_PKEY_CTX_free(pc);
    return e;
}

static fwt_err sign_ed25519_file(fwt_privkey *key, const uint8_t *msg, size_t len, uint8_t *sig,
                                 size_t *sig_len)
{
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    size_t n = *sig_len;
    int ok = mc != NULL && EVP_DigestSignInit_ex(mc, NULL, NULL, NULL, NULL, key->pkey, NULL) == 1 &&
             EVP_DigestSign(mc, sig, &n, msg, len) == 1;
    EVP_MD_CTX_free(mc);
    if (!ok || n != 64) {
        return fwt_fail(FWT_E_CRYPTO, "Ed25519 signing failed: %s", fwt_ossl_reason());
    }
    *sig_len = n;
    return FWT_OK;
}

/* The digest a key of type t signs (the table's default hash for it). */
static const EVP_MD *key_md(enum fwt_key_type t)
{
    const struct fwt_alg_desc *a = fwt_alg_by_key(t);
    return a ? fwt_hash_md(a->hash) : NULL;
}

fwt_err fwt_sign_digest(fwt_privkey *key, const uint8_t *digest, size_t digest_len, uint8_t *sig,
                        size_t *sig_len)
{
    if (key == NULL || digest == NULL || sig == NULL || sig_len == NULL) {
        return FWT_E_ARG;
    }
    size_t cap = *sig_len;
    if (cap < fwt_privkey_sig_max(key)) {
        return fwt_fail(FWT_E_BUFFER, "signature buffer too small");
    }
    if (key->type == FWT_KEY_ED25519) {
        if (key->p11 != NULL) {
            return fwt_p11_sign(key->p11, key->type, digest, digest_len, sig, sig_len);
        }
        return sign_ed25519_file(key, digest, digest_len, sig, sig_len);
    }
    const EVP_MD *md = key_md(key->type);
    if (md == NULL) {
        return fwt_fail(FWT_E_UNSUPPORTED, "no digest for key type %s", fwt_key_type_name(key->type));
    }
    /* ECDSA P-384 also signs a SHA-256 prehash: boot-key certificates carry one for every root. */
    if (key->type == FWT_KEY_ECDSA_P384 && digest_len == 32) {
        md = EVP_sha256();
    }
    if (digest_len != (size_t)EVP_MD_get_size(md)) {
        return fwt_fail(FWT_E_ARG, "a %s key signs a %d-byte digest, not %zu bytes",
                        fwt_key_type_name(key->type), EVP_MD_get_size(md), digest_len);
    }
    fwt_err e;
    if (key->p11 != NULL) {
        e = fwt_p11_sign(key->p11, key->type, digest, digest_len, sig, sig_len);
    } else {
        e = sign_prehashed(key, md, digest, digest_len, sig, sig_len);
    }
    if (e == FWT_OK && is_ec(key->type)) {
        e = ecdsa_low_s(key->pkey, sig, sig_len, cap);
    }
    return e;
}

fwt_err fwt_sign_message(fwt_privkey *key, const uint8_t *msg, size_t msg_len, uint8_t *sig,
                         size_t *sig_len)
{
    if (key == NULL || (msg == NULL && msg_len > 0) || sig == NULL || sig_len == NULL) {
        return FWT_E_ARG;
    }
    static const uint8_t empty[1] = {0};
    if (msg == NULL) {
        msg = empty;
    }
    if (key->type == FWT_KEY_ED25519) {
        if (*sig_len < 64) {
            return fwt_fail(FWT_E_BUFFER, "signature buffer too small");
        }
        if (key->p11 != NULL) {
            return fwt_p11_sign(key->p11, key->type, msg, msg_len, sig, sig_len);
        }
        return sign_ed25519_file(key, msg, msg_len, sig, sig_len);
    }
    const EVP_MD *md = key_md(key->type);
    if (md == NULL) {
        return fwt_fail(FWT_E_UNSUPPORTED, "no digest for key type %s", fwt_key_type_name(key->type));
    }
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    if (EVP_Digest(msg, msg_len, h, &hl, md, NULL) != 1) {
        return fwt_fail(FWT_E_CRYPTO, "hashing failed: %s", fwt_ossl_reason());
    }
    return fwt_sign_digest(key, h, hl, sig, sig_len);
}

/* ---- public keys ---- */

fwt_err fwt_pubkey_load(const char *spec, const struct fwt_key_opts *opts, fwt_pubkey **out)
{
    if (spec == NULL || out == NULL) {
        return FWT_E_ARG;
    }
    *out = NULL;
    EVP_PKEY *pkey = NULL;
    fwt_err e;
    if (fwt_p11_is_uri(spec)) {
        enum fwt_key_type t = FWT_KEY_NONE;
        e = fwt_p11_open(spec, opts, 0, NULL, &pkey, &t);
        if (e != FWT_OK) {
            return e;
        }
        return pubkey_wrap(pkey, out);
    }
    e = load_pem_file(spec, 0, opts, &pkey);
    if (e != FWT_OK) {
        return e;
    }
    EVP_PKEY *pub = NULL;
    e = public_copy(pkey, &pub);
    EVP_PKEY_free(pkey);
    if (e != FWT_OK) {
        return e;
    }
    return pubkey_wrap(pub, out);
}

fwt_err fwt_pubkey_from_pem(const char *pem, size_t len, fwt_pubkey **out)
{
    if (pem == NULL || out == NULL) {
        return FWT_E_ARG;
    }
    *out = NULL;
    if (memmem(pem, len, "PRIVATE KEY", 11) != NULL) {
        return fwt_fail(FWT_E_KEY, "expected a public key, found a private key");
    }
    EVP_PKEY *pkey = NULL;
    fwt_err e = decode_pem("public key", (const uint8_t *)pem, len, 0, NULL, &pkey);
    if (e != FWT_OK) {
        return e;
    }
    return pubkey_wrap(pkey, out);
}

fwt_err fwt_pubkey_from_mcuboot(const uint8_t *der, size_t len, fwt_pubkey **out)
{
    if (der == NULL || out == NULL || len == 0 || len > 4096) {
        return FWT_E_ARG;
    }
    *out = NULL;
    const unsigned char *p = der;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);
    if (pkey == NULL || p != der + len) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        p = der;
        pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
        if (pkey == NULL || p != der + len) {
            EVP_PKEY_free(pkey);
            ERR_clear_error();
            return fwt_fail(FWT_E_KEY, "not a public key in MCUboot encoding (SPKI or PKCS#1 DER)");
        }
    } else if (EVP_PKEY_is_a(pkey, "RSA")) {
        /* MCUboot encodes RSA keys as PKCS#1; accept SPKI too, it is unambiguous. */
    }
    return pubkey_wrap(pkey, out);
}

fwt_err fwt_pubkey_from_raw(enum fwt_key_type type, const uint8_t *raw, size_t len, fwt_pubkey **out)
{
    if (raw == NULL || out == NULL) {
        return FWT_E_ARG;
    }
    *out = NULL;
    EVP_PKEY *pkey = NULL;
    if (type == FWT_KEY_ED25519) {
        if (len != 32) {
            return fwt_fail(FWT_E_KEY, "an Ed25519 public key is 32 bytes, not %zu", len);
        }
        pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, len);
    } else if (is_ec(type)) {
        size_t want = type == FWT_KEY_ECDSA_P256 ? 65 : 97;
        if (len != want || raw[0] != 0x04) {
            return fwt_fail(FWT_E_KEY, "an uncompressed %s point is %zu bytes starting 04",
                            fwt_key_type_name(type), want);
        }
        OSSL_PARAM params[3];
        uint8_t point[97];
        memcpy(point, raw, len);
        char group[16];
        strcpy(group, type == FWT_KEY_ECDSA_P256 ? "prime256v1" : "secp384r1");
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, len);
        params[2] = OSSL_PARAM_construct_end();
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (pc == NULL || EVP_PKEY_fromdata_init(pc) != 1 ||
            EVP_PKEY_fromdata(pc, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
            pkey = NULL;
        }
        EVP_PKEY_CTX_free(pc);
        if (pkey != NULL) {
            /* fromdata does not check the point is on the curve */
            EVP_PKEY_CTX *cc = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
            int ok = cc != NULL && EVP_PKEY_public_check(cc) == 1;
            EVP_PKEY_CTX_free(cc);
            if (!ok) {
                EVP_PKEY_free(pkey);
                pkey = NULL;
            }
        }
    } else if (is_rsa(type)) {
        const unsigned char *p = raw;
        pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
        if (pkey != NULL && p != raw + len) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    } else {
        return fwt_fail(FWT_E_UNSUPPORTED, "unknown key type");
    }
    if (pkey == NULL) {
        ERR_clear_error();
        return fwt_fail(FWT_E_KEY, "invalid %s public key", fwt_key_type_name(type));
    }
    if (fwt_pkey_type(pkey) != type) {
        EVP_PKEY_free(pkey);
        return fwt_fail(FWT_E_KEY, "the public key is not a %s key", fwt_key_type_name(type));
    }
    return pubkey_wrap(pkey, out);
}

void fwt_pubkey_free(fwt_pubkey *key)
{
    if (key != NULL) {
        EVP_PKEY_free(key->pkey);
        free(key);
    }
}

enum fwt_key_type fwt_pubkey_type(const fwt_pubkey *key)
{
    return key ? key->type : FWT_KEY_NONE;
}

fwt_err fwt_pubkey_mcuboot(const fwt_pubkey *key, uint8_t *out, size_t *len)
{
    if (key == NULL || out == NULL || len == NULL) {
        return FWT_E_ARG;
    }
    unsigned char *der = NULL;
    int n = is_rsa(key->type) ? i2d_PublicKey(key->pkey, &der) : i2d_PUBKEY(key->pkey, &der);
    if (n <= 0) {
        return fwt_fail(FWT_E_KEY, "cannot encode the public key: %s", fwt_ossl_reason());
    }
    if ((size_t)n > *len) {
        OPENSSL_free(der);
        return fwt_fail(FWT_E_BUFFER, "public key encoding (%d bytes) larger than the buffer", n);
    }
    memcpy(out, der, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(der);
    return FWT_OK;
}

fwt_err fwt_pubkey_keyhash(const fwt_pubkey *key, uint8_t out[32])
{
    uint8_t der[1024];
    size_t n = sizeof(der);
    fwt_err e = fwt_pubkey_mcuboot(key, der, &n);
    if (e != FWT_OK) {
        return e;
    }
    return fwt_sha256(der, n, out);
}

fwt_err fwt_pubkey_pem(const fwt_pubkey *key, char **pem)
{
    if (key == NULL || pem == NULL) {
        return FWT_E_ARG;
    }
    *pem = NULL;
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL) {
        return FWT_E_NOMEM;
    }
    fwt_err e = FWT_OK;
    if (PEM_write_bio_PUBKEY(b, key->pkey) != 1) {
        e = fwt_fail(FWT_E_KEY, "cannot write the public key as PEM: %s", fwt_ossl_reason());
    } else {
        char *p = NULL;
        long n = BIO_get_mem_data(b, &p);
        char *s = n > 0 ? malloc((size_t)n + 1) : NULL;
        if (s == NULL) {
            e = FWT_E_NOMEM;
        } else {
            memcpy(s, p, (size_t)n);
            s[n] = '\0';
            *pem = s;
        }
    }
    BIO_free(b);
    return e;
}

fwt_err fwt_pubkey_raw(const fwt_pubkey *key, uint8_t *out, size_t *len)
{
    if (key == NULL || out == NULL || len == NULL) {
        return FWT_E_ARG;
    }
    if (key->type == FWT_KEY_ED25519) {
        size_t n = *len;
        if (n < 32 || EVP_PKEY_get_raw_public_key(key->pkey, out, &n) != 1 || n != 32) {
            return fwt_fail(FWT_E_BUFFER, "cannot export the Ed25519 public key");
        }
        *len = n;
        return FWT_OK;
    }
    if (is_ec(key->type)) {
        size_t n = 0;
        if (EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_PUB_KEY, NULL, 0, &n) != 1 ||
            n > *len ||
            EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_PUB_KEY, out, *len, &n) != 1) {
            return fwt_fail(FWT_E_BUFFER, "cannot export the EC public point");
        }
        if (n == 0 || out[0] != 0x04) {
            return fwt_fail(FWT_E_KEY, "the EC public point is not uncompressed");
        }
        *len = n;
        return FWT_OK;
    }
    return fwt_pubkey_mcuboot(key, out, len);
}

fwt_err fwt_verify_message(const fwt_pubkey *key, const uint8_t *msg, size_t msg_len,
                           const uint8_t *sig, size_t sig_len)
{
    if (key == NULL || (msg == NULL && msg_len > 0) || sig == NULL) {
        return FWT_E_ARG;
    }
    static const uint8_t empty[1] = {0};
    if (msg == NULL) {
        msg = empty;
    }
    const EVP_MD *md = NULL;
    if (is_ec(key->type) || is_rsa(key->type)) {
        md = key_md(key->type);
    } else if (key->type == FWT_KEY_ED25519) {
        if (sig_len != 64) {
            return FWT_E_SIGNATURE;
        }
    } else {
        return FWT_E_KEY;
    }
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    int ok = mc != NULL && EVP_DigestVerifyInit_ex(mc, &pc, md ? EVP_MD_get0_name(md) : NULL, NULL,
                                                   NULL, key->pkey, NULL) == 1;
    if (ok && is_rsa(key->type)) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pc, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) == 1;
    }
    if (!ok) {
        EVP_MD_CTX_free(mc);
        return fwt_fail(FWT_E_CRYPTO, "cannot set up verification: %s", fwt_ossl_reason());
    }
    int r = EVP_DigestVerify(mc, sig, sig_len, msg, msg_len);
    EVP_MD_CTX_free(mc);
    ERR_clear_error();
    return r == 1 ? FWT_OK : FWT_E_SIGNATURE;
}

/* ---- key generation ---- */

static EVP_PKEY *generate(enum fwt_key_type type)
{
    const struct fwt_alg_desc *a = fwt_alg_by_key(type);
    if (a == NULL) {
        return NULL;
    }
    if (a->ossl_group != NULL) {
        return EVP_PKEY_Q_keygen(NULL, NULL, a->ossl_type, a->ossl_group);
    }
    if (a->mod_bits != 0) {
        return EVP_PKEY_Q_keygen(NULL, NULL, a->ossl_type, (size_t)a->mod_bits);
    }
    return EVP_PKEY_Q_keygen(NULL, NULL, a->ossl_type);
}

fwt_err fwt_keygen_file(enum fwt_key_type type, const char *path, const char *passphrase_file)
{
    if (path == NULL || fwt_key_type_name(type)[0] == 'n') {
        return fwt_fail(FWT_E_ARG, "unknown key type");
    }
    char pass[SECRET_MAX];
    int have_pass = 0;
    if (passphrase_file != NULL) {
        fwt_err e = fwt_secret_read_line(passphrase_file, "passphrase", pass, sizeof(pass), NULL);
        if (e != FWT_OK) {
            return e;
        }
        have_pass = 1;
    }
    EVP_PKEY *pkey = generate(type);
    if (pkey == NULL) {
        fwt_zeroize(pass, sizeof(pass));
        return fwt_fail(FWT_E_KEY, "key generation failed: %s", fwt_ossl_reason());
    }
    BIO *b = BIO_new(BIO_s_secmem());
    if (b == NULL) {
        b = BIO_new(BIO_s_mem());
    }
    fwt_err e = FWT_OK;
    int ok = b != NULL &&
             (have_pass ? PEM_write_bio_PKCS8PrivateKey(b, pkey, EVP_aes_256_cbc(), NULL, 0, NULL,
                                                         pass)
                        : PEM_write_bio_PKCS8PrivateKey(b, pkey, NULL, NULL, 0, NULL, NULL)) == 1;
    fwt_zeroize(pass, sizeof(pass));
    EVP_PKEY_free(pkey);
    if (!ok) {
        e = fwt_fail(FWT_E_KEY, "cannot encode the new key: %s", fwt_ossl_reason());
    } else {
        char *p = NULL;
        long n = BIO_get_mem_data(b, &p);
        if (n <= 0) {
            e = fwt_fail(FWT_E_KEY, "cannot encode the new key");
        } else {
            e = fwt_write_file_atomic(path, p, (size_t)n, 0600);
            if (e != FWT_OK) {
                e = fwt_fail(e, "cannot write %s: %s", path, fwt_detail());
            }
        }
    }
    BIO_free(b); /* secure/mem BIO: freed memory is cleansed by the secmem BIO */
    return e;
}

fwt_err fwt_keygen_pkcs11(enum fwt_key_type type, const char *uri, const struct fwt_key_opts *opts)
{
    if (uri == NULL || !fwt_p11_is_uri(uri)) {
        return fwt_fail(FWT_E_ARG, "not a PKCS#11 URI: %s", uri ? uri : "(null)");
    }
    if (fwt_key_type_name(type)[0] == 'n') {
        return fwt_fail(FWT_E_ARG, "unknown key type");
    }
    return fwt_p11_keygen(type, uri, opts);
}

/* ---- published sample keys ---- */

/*
 * Key hashes (SHA-256 of the MCUboot encoding) of keys whose private half is
 * public: MCUboot's root-*.pem sample keys (tests/data/sample-keys/). Signing
 * with them is refused unless explicitly allowed.
 */
static const char *const k_sample_keyhashes[] = {
    "01eaed43a5b0d1b248280b16b9ba06719675a4ad8944b2508d178a9663bd1daa", /* root-ec-p256.pem */
    "6bcd1e16d80e5fe13a5307e6f1de8344c7e50e537d9962ce35ef6db5e642fae8", /* root-ec-p384.pem */
    "b1d87d60173352b9a4808979790fc699fb4c4f83b49cf1970edd96ff4adc36a6", /* root-ed25519-unknown.pem */
    "083547a4d9327e2557cccbb150d8974c03efa5f1e7ca8fe1c261cb2599bf3494", /* root-rsa-2048.pem */
};

int fwt_pubkey_is_test_key(const fwt_pubkey *key)
{
    uint8_t kh[32];
    if (key == NULL || fwt_pubkey_keyhash(key, kh) != FWT_OK) {
        return 0;
    }
    char hex[65];
    fwt_hex_encode(kh, sizeof(kh), hex);
    for (size_t i = 0; i < sizeof(k_sample_keyhashes) / sizeof(k_sample_keyhashes[0]); i++) {
        if (strcmp(hex, k_sample_keyhashes[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- decryption with a private key (MCUboot's encrypted images) ---- */

fwt_err fwt_privkey_decrypt_oaep(fwt_privkey *key, const uint8_t *in, size_t in_len, uint8_t *out,
                                 size_t *out_len)
{
    if (!key || !in || !out || !out_len) {
        return fwt_fail(FWT_E_ARG, "fwt_privkey_decrypt_oaep: missing argument");
    }
    if (key->p11) {
        return fwt_p11_decrypt_oaep(key->p11, in, in_len, out, out_len);
    }
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    int ok = c && EVP_PKEY_is_a(key->pkey, "RSA") && EVP_PKEY_decrypt_init(c) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) == 1 &&
             EVP_PKEY_decrypt(c, out, out_len, in, in_len) == 1;
    EVP_PKEY_CTX_free(c);
    return ok ? FWT_OK
              : fwt_fail(FWT_E_KEY, "RSA-OAEP decryption failed: not the key this was encrypted "
                         "for, or altered data");
}

fwt_err fwt_privkey_ecdh_p256(fwt_privkey *key, const uint8_t *point, size_t point_len,
                              uint8_t shared[32])
{
    if (!key || !point || !shared || key->type != FWT_KEY_ECDSA_P256) {
        return fwt_fail(FWT_E_KEY, "ECDH needs an EC P-256 private key");
    }
    size_t sl = 32;
    if (key->p11) {
        return fwt_p11_ecdh(key->p11, point, point_len, shared, &sl);
    }
    uint8_t pt[65];
    if (point_len != sizeof(pt)) {
        return fwt_fail(FWT_E_KEY, "an EC P-256 point is 65 bytes (uncompressed)");
    }
    memcpy(pt, point, sizeof(pt));
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *peer = NULL;
    OSSL_PARAM p[3];
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt));
    p[2] = OSSL_PARAM_construct_end();
    int ok = pc && EVP_PKEY_fromdata_init(pc) == 1 &&
             EVP_PKEY_fromdata(pc, &peer, EVP_PKEY_PUBLIC_KEY, p) == 1;
    EVP_PKEY_CTX_free(pc);
    EVP_PKEY_CTX *c = ok ? EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL) : NULL;
    ok = c && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 &&
         EVP_PKEY_derive(c, shared, &sl) == 1 && sl == 32;
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(peer);
    return ok ? FWT_OK : fwt_fail(FWT_E_KEY, "ECDH with the given point failed");
}
