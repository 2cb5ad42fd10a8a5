/*
 * The OpenSSL backend of the verifier core's crypto operations
 * (struct fwt_crypto_ops): SHA-256/384/512 and signature verification of
 * keys in MCUboot's encoding.
 */
#include "keys_internal.h"

#include <fwtrust/fwt_util.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* Pure Ed25519 signs the whole signed region; we read at most this much of it. */
#define PURE_MAX (256U * 1024U * 1024U)

struct fwt_openssl_ctx {
    EVP_MD_CTX *md;
    int active;
};

static fwt_err o_hash_init(void *ctx, enum fwt_hash_alg alg)
{
    struct fwt_openssl_ctx *c = ctx;
    const EVP_MD *m = fwt_hash_md(alg);
    c->active = 0;
    if (m == NULL) {
        return FWT_E_UNSUPPORTED;
    }
    if (EVP_DigestInit_ex(c->md, m, NULL) != 1) {
        return FWT_E_CRYPTO;
    }
    c->active = 1;
    return FWT_OK;
}

static fwt_err o_hash_update(void *ctx, const void *data, size_t len)
{
    struct fwt_openssl_ctx *c = ctx;
    if (!c->active) {
        return FWT_E_STATE;
    }
    return EVP_DigestUpdate(c->md, data, len) == 1 ? FWT_OK : FWT_E_CRYPTO;
}

static fwt_err o_hash_final(void *ctx, uint8_t *out, size_t out_len)
{
    struct fwt_openssl_ctx *c = ctx;
    if (!c->active) {
        return FWT_E_STATE;
    }
    c->active = 0;
    int sz = EVP_MD_CTX_get_size(c->md);
    if (sz <= 0 || (size_t)sz != out_len) {
        return FWT_E_CRYPTO;
    }
    unsigned int n = 0;
    return EVP_DigestFinal_ex(c->md, out, &n) == 1 && n == out_len ? FWT_OK : FWT_E_CRYPTO;
}

/* Decode a key in MCUboot's encoding and check it suits the algorithm. */
static EVP_PKEY *decode_key(enum fwt_sig_alg alg, const uint8_t *key, size_t key_len)
{
    if (key == NULL || key_len == 0 || key_len > 4096) {
        return NULL;
    }
    const unsigned char *p = key;
    EVP_PKEY *pk;
    const struct fwt_alg_desc *row = fwt_alg_by_sig(alg);
    if (row == NULL) {
        return NULL;
    }
    enum fwt_key_type want = row->key;
    if (row->mod_bits != 0) { /* RSA: PKCS#1 RSAPublicKey, as MCUboot encodes it */
        pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)key_len);
    } else {
        pk = d2i_PUBKEY(NULL, &p, (long)key_len);
    }
    if (pk == NULL || p != key + key_len || fwt_pkey_type(pk) != want || fwt_pkey_weak(pk)) {
        EVP_PKEY_free(pk);
        ERR_clear_error();
        return NULL;
    }
    return pk;
}

/* Read [0, len) of the image for pure Ed25519. */
static uint8_t *read_region(const struct fwt_io *io, size_t len)
{
    if (io == NULL || io->read == NULL || len == 0 || len > PURE_MAX || len > io->size) {
        return NULL;
    }
    uint8_t *buf = malloc(len);
    if (buf == NULL) {
        return NULL;
    }
    size_t off = 0;
    while (off < len) {
        size_t n = len - off > 65536 ? 65536 : len - off;
        if (io->read(io->ctx, (uint32_t)off, buf + off, n) != FWT_OK) {
            free(buf);
            return NULL;
        }
        off += n;
    }
    return buf;
}

static fwt_err o_verify(void *ctx, enum fwt_sig_alg alg, const uint8_t *key, size_t key_len,
                        const uint8_t *msg, size_t msg_len, const struct fwt_io *io,
                        const uint8_t *sig, size_t sig_len)
{
    (void)ctx;
    if (sig == NULL || sig_len == 0) {
        return FWT_E_SIGNATURE;
    }
    EVP_PKEY *pk = decode_key(alg, key, key_len);
    if (pk == NULL) {
        return FWT_E_KEY;
    }
    fwt_err result = FWT_E_SIGNATURE;
    if (alg == FWT_SIG_ED25519 || alg == FWT_SIG_ED25519_PURE) {
        uint8_t *whole = NULL;
        const uint8_t *m = msg;
        if (alg == FWT_SIG_ED25519_PURE) {
            whole = read_region(io, msg_len);
            if (whole == NULL) {
                EVP_PKEY_free(pk);
                return FWT_E_IO;
            }
            m = whole;
        }
        if (m == NULL || sig_len != 64) {
            free(whole);
            EVP_PKEY_free(pk);
            return FWT_E_SIGNATURE;
        }
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        if (mc == NULL) {
            result = FWT_E_NOMEM;
        } else if (EVP_DigestVerifyInit_ex(mc, NULL, NULL, NULL, NULL, pk, NULL) != 1) {
            result = FWT_E_CRYPTO;
        } else if (EVP_DigestVerify(mc, sig, sig_len, m, msg_len) == 1) {
            result = FWT_OK;
        }
        EVP_MD_CTX_free(mc);
        free(whole);
    } else {
        if (msg == NULL || msg_len == 0) {
            EVP_PKEY_free(pk);
            return FWT_E_ARG;
        }
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
        int ok = pc != NULL && EVP_PKEY_verify_init(pc) == 1;
        if (ok && (alg == FWT_SIG_RSA2048_PSS || alg == FWT_SIG_RSA3072_PSS)) {
            /* MCUboot: RSASSA-PSS over the SHA-256 digest, MGF1-SHA-256, salt = 32 bytes. */
            ok = msg_len == 32 && EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
                 EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
                 EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) == 1 &&
                 EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) == 1;
            if (ok && sig_len != (size_t)EVP_PKEY_get_size(pk)) {
                ok = 0;
                result = FWT_E_SIGNATURE;
                EVP_PKEY_CTX_free(pc);
                EVP_PKEY_free(pk);
                return result;
            }
        }
        /*
         * ECDSA: no digest is bound, so the prehashed value is used as given
         * (the image digest, or a certificate's SHA-256 for any root curve).
         * OpenSSL accepts only strict DER; high S is valid ECDSA and imgtool
         * emits it, so it is accepted.
         */
        if (!ok) {
            result = FWT_E_CRYPTO;
        } else if (EVP_PKEY_verify(pc, sig, sig_len, msg, msg_len) == 1) {
            result = FWT_OK;
        }
        EVP_PKEY_CTX_free(pc);
    }
    ERR_clear_error();
    EVP_PKEY_free(pk);
    return result;
}

fwt_err fwt_openssl_ops_init(struct fwt_crypto_ops *ops)
{
    if (ops == NULL) {
        return FWT_E_ARG;
    }
    memset(ops, 0, sizeof(*ops));
    struct fwt_openssl_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return FWT_E_NOMEM;
    }
    c->md = EVP_MD_CTX_new();
    if (c->md == NULL) {
        free(c);
        return FWT_E_NOMEM;
    }
    ops->ctx = c;
    ops->hash_init = o_hash_init;
    ops->hash_update = o_hash_update;
    ops->hash_final = o_hash_final;
    ops->verify = o_verify;
    return FWT_OK;
}

void fwt_openssl_ops_free(struct fwt_crypto_ops *ops)
{
    if (ops == NULL || ops->ctx == NULL) {
        return;
    }
    struct fwt_openssl_ctx *c = ops->ctx;
    EVP_MD_CTX_free(c->md);
    free(c);
    memset(ops, 0, sizeof(*ops));
}
