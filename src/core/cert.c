/*
 * Boot-key certificates (encoding in fwt_cert.h): a trusted root certifies an
 * image signing key, with a key version, an expiry and a hardware id.
 * Freestanding.
 */
#include "core_internal.h"

#include <string.h>

static FWT_MUST_CHECK int valid_key_type(unsigned t)
{
    return fwt_core_alg_by_key((enum fwt_key_type)t) != NULL;
}

fwt_err fwt_cert_parse(const uint8_t *buf, size_t len, struct fwt_cert *cert)
{
    if (!buf || !cert) {
        return FWT_E_ARG;
    }
    memset(cert, 0, sizeof(*cert));
    if (len < FWT_CERT_FIXED_SIZE + 2 || len > FWT_CERT_MAX) {
        return FWT_E_MALFORMED;
    }
    if (memcmp(buf, FWT_CERT_MAGIC, 4) != 0) {
        return FWT_E_MALFORMED;
    }
    if (buf[4] != FWT_CERT_VERSION) {
        return FWT_E_UNSUPPORTED;
    }
    unsigned kt = buf[5], alg = buf[6];
    if (!valid_key_type(kt)) {
        return FWT_E_MALFORMED;
    }
    if (alg != FWT_SIG_ED25519 && alg != FWT_SIG_ECDSA_P256 && alg != FWT_SIG_ECDSA_P384 &&
        alg != FWT_SIG_RSA2048_PSS && alg != FWT_SIG_RSA3072_PSS) {
        return FWT_E_MALFORMED;
    }
    if (buf[7] != 0) {
        return FWT_E_MALFORMED;
    }
    size_t hw_len = fwt_le16(buf + 52);
    size_t key_len = fwt_le16(buf + 54);
    if (hw_len > FWT_HW_ID_MAX || key_len == 0 || key_len > FWT_PUBKEY_MAX) {
        return FWT_E_MALFORMED;
    }
    /* All terms are bounded (<= 64 + 600 + 56 + 2), so no overflow. */
    size_t tbs = FWT_CERT_FIXED_SIZE + hw_len + key_len;
    if (tbs + 2 > len) {
        return FWT_E_MALFORMED;
    }
    size_t sig_len = fwt_le16(buf + tbs);
    if (sig_len == 0 || sig_len > FWT_SIG_MAX || tbs + 2 + sig_len != len) {
        return FWT_E_MALFORMED; /* short, or trailing bytes */
    }
    cert->key_type = (enum fwt_key_type)kt;
    cert->root_sig_alg = (enum fwt_sig_alg)alg;
    cert->key_version = fwt_le32(buf + 8);
    cert->not_after = fwt_le64(buf + 12);
    memcpy(cert->root_keyhash, buf + 20, 32);
    cert->hw_id = hw_len ? buf + FWT_CERT_FIXED_SIZE : NULL;
    cert->hw_id_len = hw_len;
    cert->key = buf + FWT_CERT_FIXED_SIZE + hw_len;
    cert->key_len = key_len;
    cert->tbs_len = tbs;
    cert->sig = buf + tbs + 2;
    cert->sig_len = sig_len;
    return FWT_OK;
}

/* The algorithm a root of this type signs certificates with. */
static enum fwt_sig_alg root_alg(enum fwt_key_type t)
{
    const struct fwt_core_alg *a = fwt_core_alg_by_key(t);
    return a ? (enum fwt_sig_alg)a->sig : FWT_SIG_NONE;
}

fwt_err fwt_cert_check(const uint8_t *buf, size_t len, const struct fwt_crypto_ops *crypto,
                       const struct fwt_policy *policy, struct fwt_cert *cert,
                       volatile fwt_fih *fih, size_t *root_index)
{
    *fih = FWT_FIH_FAILURE;
    *root_index = policy->n_roots; /* none */
    fwt_err e = fwt_cert_parse(buf, len, cert);
    if (e != FWT_OK) {
        return e;
    }
    /* Find the root by the SHA-256 of its MCUboot encoding. */
    const struct fwt_trusted_key *root = NULL;
    uint8_t h[32];
    for (size_t i = 0; i < policy->n_roots; i++) {
        const struct fwt_trusted_key *r = &policy->roots[i];
        if ((e = fwt_core_hash(crypto, FWT_HASH_SHA256, r->key, r->key_len, h, 32)) != FWT_OK) {
            return e;
        }
        if (fwt_ct_compare(h, cert->root_keyhash, 32) == 0) {
            root = r;
            *root_index = i;
            break;
        }
    }
    if (!root) {
        return FWT_E_UNKNOWN_KEY;
    }
    if (root_alg(root->type) != cert->root_sig_alg) {
        return FWT_E_CERT;
    }
    if ((e = fwt_core_hash(crypto, FWT_HASH_SHA256, buf, cert->tbs_len, h, 32)) != FWT_OK) {
        return e;
    }
    e = crypto->verify(crypto->ctx, cert->root_sig_alg, root->key, root->key_len, h, 32, NULL,
                       cert->sig, cert->sig_len);
    if (e == FWT_E_SIGNATURE) {
        return FWT_E_CERT; /* forged or corrupted */
    }
    if (e != FWT_OK) {
        return e == FWT_E_KEY ? FWT_E_KEY : FWT_E_CRYPTO;
    }
    if (policy->now != 0 && cert->not_after != 0 && policy->now > cert->not_after) {
        return FWT_E_CERT; /* expired */
    }
    if (policy->hw_id_len > 0 && cert->hw_id_len > 0 &&
        (cert->hw_id_len != policy->hw_id_len ||
         fwt_ct_compare(cert->hw_id, policy->hw_id, cert->hw_id_len) != 0)) {
        return FWT_E_CERT; /* for other hardware */
    }
    if (cert->key_version < policy->min_key_version) {
        return FWT_E_KEY_VERSION; /* revoked */
    }
    *fih = FWT_FIH_SUCCESS;
    return FWT_OK;
}

fwt_err fwt_cert_verify(const uint8_t *buf, size_t len, const struct fwt_crypto_ops *crypto,
                        const struct fwt_policy *policy, struct fwt_cert *cert)
{
    if (!buf || !cert || !policy || !fwt_core_ops_ok(crypto)) {
        return FWT_E_ARG;
    }
    if (policy->n_roots == 0) {
        memset(cert, 0, sizeof(*cert));
        return FWT_E_NO_TRUST;
    }
    if (!policy->roots || (policy->hw_id_len > 0 && !policy->hw_id)) {
        return FWT_E_ARG;
    }
    volatile fwt_fih fih = FWT_FIH_FAILURE;
    size_t root_index;
    fwt_err e = fwt_cert_check(buf, len, crypto, policy, cert, &fih, &root_index);
    if (e == FWT_E_UNKNOWN_KEY) {
        return FWT_E_CERT; /* not signed by one of policy->roots */
    }
    if (e != FWT_OK) {
        return e;
    }
    if (fih != FWT_FIH_SUCCESS) {
        return FWT_E_CERT;
    }
    if (fih != FWT_FIH_SUCCESS) {
        return FWT_E_CERT;
    }
    return FWT_OK;
}
