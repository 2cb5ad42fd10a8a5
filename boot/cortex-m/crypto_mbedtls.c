/*
 * fwt_crypto_ops backed by mbedTLS 2.28, as MCUboot's bootutil uses it: SHA-256 streaming, and
 * signature verification over the image digest. Keys arrive in MCUboot's encoding
 * (SubjectPublicKeyInfo DER for ECDSA, PKCS#1 RSAPublicKey DER for RSA) and are parsed by
 * mbedtls_pk_parse_public_key, which accepts both. Heap: a static buffer handed to mbedTLS's
 * buffer allocator (no libc malloc). Anything mbedTLS cannot run (parse, memory) is
 * FWT_E_KEY/FWT_E_CRYPTO, a signature that does not verify FWT_E_SIGNATURE: the core tells the
 * two apart.
 */
#include "crypto_mbedtls.h"

#include <string.h>

#include "mbedtls/ecdsa.h"
#include "mbedtls/ecp.h"
#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/pk.h"
#include "mbedtls/rsa.h"
#include "mbedtls/sha256.h"

/* Enough for RSA-3072 and P-256 verification (measured peak in docs/mcu-boot.md). */
#define HEAP_SIZE 8192U
static unsigned char heap[HEAP_SIZE];
static int heap_ready;

struct mbed_ctx {
    mbedtls_sha256_context sha;
    int hashing;
};
static struct mbed_ctx g_ctx;

static fwt_err m_hash_init(void *ctx, enum fwt_hash_alg alg)
{
    struct mbed_ctx *c = ctx;
    if (alg != FWT_HASH_SHA256) {
        return FWT_E_UNSUPPORTED; /* this build carries SHA-256 only */
    }
    mbedtls_sha256_init(&c->sha);
    if (mbedtls_sha256_starts_ret(&c->sha, 0) != 0) {
        return FWT_E_CRYPTO;
    }
    c->hashing = 1;
    return FWT_OK;
}

static fwt_err m_hash_update(void *ctx, const void *data, size_t len)
{
    struct mbed_ctx *c = ctx;
    if (!c->hashing) {
        return FWT_E_CRYPTO;
    }
    return mbedtls_sha256_update_ret(&c->sha, data, len) == 0 ? FWT_OK : FWT_E_CRYPTO;
}

static fwt_err m_hash_final(void *ctx, uint8_t *out, size_t out_len)
{
    struct mbed_ctx *c = ctx;
    if (!c->hashing || out_len != 32U) {
        return FWT_E_CRYPTO;
    }
    c->hashing = 0;
    int rc = mbedtls_sha256_finish_ret(&c->sha, out);
    mbedtls_sha256_free(&c->sha);
    return rc == 0 ? FWT_OK : FWT_E_CRYPTO;
}

static fwt_err verify_ecdsa(mbedtls_pk_context *pk, const uint8_t *msg, size_t msg_len,
                            const uint8_t *sig, size_t sig_len)
{
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY ||
        mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1 || msg_len != 32U) {
        return FWT_E_KEY;
    }
    /* DER signature; trailing bytes are refused by mbedTLS (SIG_LEN_MISMATCH). */
    int rc = mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, msg, msg_len, sig, sig_len);
    return rc == 0 ? FWT_OK : FWT_E_SIGNATURE;
}

static fwt_err verify_rsa_pss(mbedtls_pk_context *pk, size_t modulus_len, const uint8_t *msg,
                              size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_RSA || msg_len != 32U) {
        return FWT_E_KEY;
    }
    mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);
    if (mbedtls_rsa_get_len(rsa) != modulus_len) {
        return FWT_E_KEY;
    }
    if (sig_len != modulus_len) {
        return FWT_E_SIGNATURE;
    }
    /* RSASSA-PSS, SHA-256, MGF1-SHA-256, salt exactly 32 bytes (MCUboot's fixed choice). */
    int rc = mbedtls_rsa_rsassa_pss_verify_ext(rsa, NULL, NULL, MBEDTLS_RSA_PUBLIC,
                                               MBEDTLS_MD_SHA256, (unsigned int)msg_len, msg,
                                               MBEDTLS_MD_SHA256, 32, sig);
    return rc == 0 ? FWT_OK : FWT_E_SIGNATURE;
}

static fwt_err m_verify(void *ctx, enum fwt_sig_alg alg, const uint8_t *key, size_t key_len,
                        const uint8_t *msg, size_t msg_len, const struct fwt_io *io,
                        const uint8_t *sig, size_t sig_len)
{
    (void)ctx;
    (void)io; /* every algorithm here verifies a digest */
    if (!key || !msg || !sig) {
        return FWT_E_CRYPTO;
    }
    if (alg != FWT_SIG_ECDSA_P256 && alg != FWT_SIG_RSA2048_PSS && alg != FWT_SIG_RSA3072_PSS) {
        return FWT_E_UNSUPPORTED; /* Ed25519, P-384: not in this build (docs/mcu-boot.md) */
    }
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    fwt_err e;
    if (mbedtls_pk_parse_public_key(&pk, key, key_len) != 0) {
        e = FWT_E_KEY;
    } else if (alg == FWT_SIG_ECDSA_P256) {
        e = verify_ecdsa(&pk, msg, msg_len, sig, sig_len);
    } else {
        e = verify_rsa_pss(&pk, alg == FWT_SIG_RSA2048_PSS ? 256U : 384U, msg, msg_len, sig,
                           sig_len);
    }
    mbedtls_pk_free(&pk);
    return e;
}

void fwt_mbedtls_ops_init(struct fwt_crypto_ops *ops)
{
    if (!heap_ready) {
        mbedtls_memory_buffer_alloc_init(heap, sizeof(heap));
        heap_ready = 1;
    }
    memset(&g_ctx, 0, sizeof(g_ctx));
    memset(ops, 0, sizeof(*ops));
    ops->ctx = &g_ctx;
    ops->hash_init = m_hash_init;
    ops->hash_update = m_hash_update;
    ops->hash_final = m_hash_final;
    ops->verify = m_verify;
}

size_t fwt_mbedtls_heap_peak(void)
{
#if defined(MBEDTLS_MEMORY_DEBUG)
    size_t used, blocks;
    mbedtls_memory_buffer_alloc_max_get(&used, &blocks);
    return used;
#else
    return 0;
#endif
}
