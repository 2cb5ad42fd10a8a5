/*
 * The algorithm tables: one row per hash algorithm and one per signature
 * algorithm, read by the verifier core, the crypto backends, the signer, the
 * TUF key code and the CLIs. Adding an algorithm is one row here plus its
 * backend (docs/contributing.md, "Adding a signature algorithm").
 *
 * The rows are X-macros so that each user expands the columns it needs: the
 * core keeps only numbers (src/core/alg.c: no strings, small on Cortex-M),
 * host code gets the names as well (fwt_alg_get(), fwt_hash_get()).
 *
 * Freestanding.
 */
#ifndef FWT_ALG_H
#define FWT_ALG_H

#if !defined(FWTRUST_INSIDE_FWTRUST_H) && !defined(FWTRUST_INTERNAL)
#error "include <fwtrust/fwtrust.h>, not this header"
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Hash algorithms: X(alg, tlv, size, name, upper)
 *   alg    enum fwt_hash_alg
 *   tlv    MCUboot hash TLV type; its value is size bytes
 *   size   digest bytes (also a KEYHASH TLV of that length uses this hash)
 *   name   lower case: CLI and JSON output, TUF "hashes" keys ("sha256")
 *   upper  OpenSSL digest name (EVP_get_digestbyname) and `fwtrust inspect`'s TLV name
 */
#define FWT_HASH_TABLE(X)                                        \
    X(FWT_HASH_SHA256, FWT_TLV_SHA256, 32U, "sha256", "SHA256") \
    X(FWT_HASH_SHA384, FWT_TLV_SHA384, 48U, "sha384", "SHA384") \
    X(FWT_HASH_SHA512, FWT_TLV_SHA512, 64U, "sha512", "SHA512")

/* A set of hash algorithms (the hashes column below). */
#define FWT_HASH_BIT(alg) (1U << (unsigned)(alg))

/*
 * Signature algorithms, one row per key type:
 * X(key, sig, pure_sig, sig_tlv, hash, hashes, sig_min, sig_max, sig_size, mod_bits,
 *   name, tuf_keytype, tuf_scheme, ossl_type, ossl_group)
 *   key          enum fwt_key_type
 *   sig          enum fwt_sig_alg: the signature over the image digest
 *   pure_sig     enum fwt_sig_alg over the image bytes (SIG_PURE), FWT_SIG_NONE if none
 *   sig_tlv      MCUboot signature TLV type (ECDSA P-256 and P-384 share one: by key)
 *   hash         the image hash the signer uses by default
 *   hashes       the image hashes a signature by this key may be over (FWT_HASH_BIT set)
 *   sig_min/max  bounds of the signature TLV's length (per TLV type: rows that share
 *                a TLV give the same bounds; DER ECDSA varies, the backend checks it)
 *   sig_size     the largest signature such a key makes (the signer's buffer)
 *   mod_bits     RSA modulus bits, 0 for other keys
 *   name         fwtrust's name: keygen --type, fwt_key_type_name(), inspect/verify output
 *   tuf_keytype  TUF key object "keytype" fwtrust writes
 *   tuf_scheme   TUF key object "scheme"
 *   ossl_type    OpenSSL key type (EVP_PKEY_is_a)
 *   ossl_group   EC group (NIST name, EC_curve_nist2nid), NULL for non-EC keys
 */
#define FWT_ALG_TABLE(X)                                                                        \
    X(FWT_KEY_ED25519, FWT_SIG_ED25519, FWT_SIG_ED25519_PURE, FWT_TLV_ED25519, FWT_HASH_SHA256, \
      FWT_HASH_BIT(FWT_HASH_SHA256) | FWT_HASH_BIT(FWT_HASH_SHA512), 64U, 64U, 64U, 0U, "ed25519",   \
      "ed25519", "ed25519", "ED25519", NULL)                                                    \
    X(FWT_KEY_ECDSA_P256, FWT_SIG_ECDSA_P256, FWT_SIG_NONE, FWT_TLV_ECDSA_SIG, FWT_HASH_SHA256, \
      FWT_HASH_BIT(FWT_HASH_SHA256), 8U, 512U, 72U, 0U, "ecdsa-p256", "ecdsa",                        \
      "ecdsa-sha2-nistp256", "EC", "P-256")                                                     \
    X(FWT_KEY_ECDSA_P384, FWT_SIG_ECDSA_P384, FWT_SIG_NONE, FWT_TLV_ECDSA_SIG, FWT_HASH_SHA384, \
      FWT_HASH_BIT(FWT_HASH_SHA384), 8U, 512U, 104U, 0U, "ecdsa-p384", "ecdsa",                        \
      "ecdsa-sha2-nistp384", "EC", "P-384")                                                     \
    X(FWT_KEY_RSA2048, FWT_SIG_RSA2048_PSS, FWT_SIG_NONE, FWT_TLV_RSA2048_PSS, FWT_HASH_SHA256, \
      FWT_HASH_BIT(FWT_HASH_SHA256), 256U, 256U, 256U, 2048U, "rsa-2048", "rsa", "rsassa-pss-sha256", \
      "RSA", NULL)                                                                              \
    X(FWT_KEY_RSA3072, FWT_SIG_RSA3072_PSS, FWT_SIG_NONE, FWT_TLV_RSA3072_PSS, FWT_HASH_SHA256, \
      FWT_HASH_BIT(FWT_HASH_SHA256), 384U, 384U, 384U, 3072U, "rsa-3072", "rsa", "rsassa-pss-sha256", \
      "RSA", NULL)

/* A hash row (host code; the core uses its own numbers-only copy). */
struct fwt_hash_desc {
    enum fwt_hash_alg alg;
    uint16_t tlv;
    uint8_t size;
    const char *name;
    const char *upper;
};

/* A signature algorithm row (host code). */
struct fwt_alg_desc {
    enum fwt_key_type key;
    enum fwt_sig_alg sig;
    enum fwt_sig_alg pure_sig;
    uint16_t sig_tlv;
    enum fwt_hash_alg hash;
    uint32_t hashes;
    uint16_t sig_min, sig_max;
    uint16_t sig_size;
    uint16_t mod_bits;
    const char *name;
    const char *tuf_keytype;
    const char *tuf_scheme;
    const char *ossl_type;
    const char *ossl_group;
};

#ifdef __cplusplus
}
#endif

#endif /* FWT_ALG_H */
