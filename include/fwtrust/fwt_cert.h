/*
 * Boot-key certificates: a root key (the one a bootloader trusts, or whose
 * hash is fused) certifies an image signing key with a key version. Raising
 * the device's minimum key version revokes every older signing key.
 *
 * Encoding (little endian), carried in the unprotected TLV FWT_TLV_CERT:
 *
 *   off len  field
 *   0   4    magic "FWC1"
 *   4   1    cert format version (1)
 *   5   1    signing key type (enum fwt_key_type)
 *   6   1    root signature algorithm (enum fwt_sig_alg; not ED25519_PURE)
 *   7   1    reserved, 0
 *   8   4    key version
 *   12  8    not_after, seconds since 1970 (0 = no expiry)
 *   20  32   SHA-256 of the root public key (MCUboot encoding)
 *   52  2    hw_id_len (0 = any hardware)
 *   54  2    key_len
 *   56  ..   hw_id[hw_id_len], key[key_len]
 *   ..  2    sig_len
 *   ..  ..   sig[sig_len]: the root's signature over the SHA-256 of every
 *            byte before sig_len (the "to-be-signed" part)
 *
 * Total size is at most FWT_CERT_MAX. The image signature that follows the
 * certificate TLV is checked with the certified key.
 *
 * Freestanding.
 */
#ifndef FWT_CERT_H
#define FWT_CERT_H

#if !defined(FWTRUST_INSIDE_FWTRUST_H) && !defined(FWTRUST_INTERNAL)
#error "include <fwtrust/fwtrust.h>, not this header"
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FWT_CERT_MAGIC "FWC1"
#define FWT_CERT_VERSION 1U
#define FWT_CERT_FIXED_SIZE 56U
#define FWT_CERT_MAX 1536U
#define FWT_PUBKEY_MAX 600U /* RSA-3072 PKCS#1 DER is 398 bytes; SPKI forms smaller */

struct fwt_cert {
    enum fwt_key_type key_type;
    enum fwt_sig_alg root_sig_alg;
    uint32_t key_version;
    uint64_t not_after;
    uint8_t root_keyhash[32];
    const uint8_t *hw_id; /* points into the parsed buffer */
    size_t hw_id_len;
    const uint8_t *key;
    size_t key_len;
    size_t tbs_len; /* bytes covered by the signature */
    const uint8_t *sig;
    size_t sig_len;
};

/* Parse (no signature check). buf must outlive cert. */
FWT_MUST_CHECK fwt_err fwt_cert_parse(const uint8_t *buf, size_t len, struct fwt_cert *cert);

/*
 * Verify a certificate: signed by one of policy->roots, not expired against
 * policy->now (when non-zero), hw id matching policy->hw_id (when both set),
 * key version >= policy->min_key_version.
 */
FWT_MUST_CHECK fwt_err fwt_cert_verify(const uint8_t *buf, size_t len,
                                       const struct fwt_crypto_ops *crypto,
                                       const struct fwt_policy *policy, struct fwt_cert *cert);

#ifdef __cplusplus
}
#endif

#endif /* FWT_CERT_H */
