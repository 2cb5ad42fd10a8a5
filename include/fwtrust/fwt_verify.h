/*
 * fwtrust verifier core: the platform interface and the one verify call.
 *
 * The core never allocates, never calls libc I/O and never touches the OS.
 * It reads the image through fwt_io (flash-like: offset, length) into a work
 * buffer the caller provides, and does crypto through fwt_crypto_ops. Zero
 * every struct before filling it, so fields added later default to "off".
 *
 * Freestanding.
 */
#ifndef FWT_VERIFY_H
#define FWT_VERIFY_H

#if !defined(FWTRUST_INSIDE_FWTRUST_H) && !defined(FWTRUST_INTERNAL)
#error "include <fwtrust/fwtrust.h>, not this header"
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Smallest work buffer fwt_image_verify() and fwt_image_parse() accept
 * (FWT_E_BUFFER below it); larger reads faster. It holds a certificate
 * (FWT_CERT_MAX) and a signature at the same time.
 */
#define FWT_WORK_MIN 2048U
size_t fwt_work_min(void); /* == FWT_WORK_MIN, for binding/ABI cross-checks */

/* Reading the image (a flash slot, a file, a memory buffer). */
struct fwt_io {
    void *ctx;
    /* Read exactly len bytes at off into buf. FWT_OK or FWT_E_IO. */
    fwt_err (*read)(void *ctx, uint32_t off, void *buf, size_t len);
    uint32_t size; /* bytes readable from offset 0 (slot or file size) */
    uint32_t flags; /* FWT_IO_*; 0 for a plain reader */
};
/*
 * The reader delivers the plaintext of an encrypted image (ENCRYPTED_AES128 or
 * _AES256 in the header): it decrypted the payload with the key from the
 * image's ENC_* TLV (the host's fwt_decrypt_io, a bootloader's own AES-CTR),
 * or the payload was stored in clear (imgtool --clear; MCUboot's primary
 * slot). Only then does fwt_image_verify() accept an encrypted image: the
 * digest and signatures are checked over the plaintext, as MCUboot does.
 * Without it an encrypted image is FWT_E_UNSUPPORTED.
 */
#define FWT_IO_PLAINTEXT 0x1U

enum fwt_hash_alg {
    FWT_HASH_NONE = 0,
    FWT_HASH_SHA256 = 1,
    FWT_HASH_SHA384 = 2,
    FWT_HASH_SHA512 = 3
};

enum fwt_key_type {
    FWT_KEY_NONE = 0,
    FWT_KEY_ED25519 = 1,
    FWT_KEY_ECDSA_P256 = 2,
    FWT_KEY_ECDSA_P384 = 3,
    FWT_KEY_RSA2048 = 4,
    FWT_KEY_RSA3072 = 5
};

enum fwt_sig_alg {
    FWT_SIG_NONE = 0,
    FWT_SIG_ED25519 = 1,      /* Ed25519 over the image digest bytes (MCUboot default) */
    FWT_SIG_ED25519_PURE = 2, /* Ed25519 over header+payload+protected TLVs */
    FWT_SIG_ECDSA_P256 = 3,   /* ECDSA P-256, SHA-256 digest, DER signature */
    FWT_SIG_ECDSA_P384 = 4,   /* ECDSA P-384, SHA-384 digest, DER signature */
    FWT_SIG_RSA2048_PSS = 5,  /* RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 */
    FWT_SIG_RSA3072_PSS = 6
};

/*
 * Crypto operations. One hash runs at a time; the backend keeps its state
 * in ctx. verify() returns FWT_OK only for a valid signature, FWT_E_SIGNATURE
 * for an invalid one, FWT_E_CRYPTO/FWT_E_KEY when it could not run.
 *
 * key/key_len: the public key in MCUboot's encoding (the bytes whose SHA-256
 * is the KEYHASH TLV): SubjectPublicKeyInfo DER for Ed25519 and ECDSA,
 * PKCS#1 RSAPublicKey DER for RSA.
 *
 * msg/msg_len: the digest for every algorithm but FWT_SIG_ED25519_PURE; for
 * that one msg is NULL and the backend reads the signed region [0, msg_len)
 * through io itself. Ed25519 cannot verify a stream: the backend needs the
 * whole region at once (mapped flash, or a buffer as large as the image; see
 * docs/verifier-core.md, "Pure Ed25519").
 */
struct fwt_crypto_ops {
    void *ctx;
    fwt_err (*hash_init)(void *ctx, enum fwt_hash_alg alg);
    fwt_err (*hash_update)(void *ctx, const void *data, size_t len);
    fwt_err (*hash_final)(void *ctx, uint8_t *out, size_t out_len);
    fwt_err (*verify)(void *ctx, enum fwt_sig_alg alg, const uint8_t *key, size_t key_len,
                      const uint8_t *msg, size_t msg_len, const struct fwt_io *io,
                      const uint8_t *sig, size_t sig_len);
};

/* A trusted public key (image signing key, or certificate root). */
struct fwt_trusted_key {
    enum fwt_key_type type;
    const uint8_t *key; /* MCUboot encoding, see above */
    size_t key_len;
};

/* What the device demands of an image. */
struct fwt_policy {
    /* Keys trusted to sign images directly. */
    const struct fwt_trusted_key *keys;
    size_t n_keys;
    /* Root keys trusted to certify signing keys (FWT_TLV_CERT). */
    const struct fwt_trusted_key *roots;
    size_t n_roots;
    /* Valid signatures vouched for by this many distinct trust anchors are
     * required. An anchor is one entry of keys[] or of roots[]: a signature
     * by a directly trusted key counts for that key, one by a key a root
     * certified counts for the root, so one root never meets a threshold
     * above 1 however many keys it certified. Each signing key counts once,
     * for one anchor (a key that is trusted directly counts for itself, even
     * when it also carries a certificate). 0, above n_keys + n_roots, or
     * above FWT_MAX_SIGNERS is refused (FWT_E_ARG); so is a policy that lists
     * the same key bytes twice (in keys[], in roots[] or in both). */
    uint32_t threshold;
    /* When hw_id_len > 0 the image must carry exactly this hardware id. */
    const uint8_t *hw_id;
    size_t hw_id_len;
    uint32_t min_security_counter;
    uint32_t min_key_version; /* certificates below this are revoked */
    uint64_t now;             /* seconds since 1970 for certificate expiry; 0 = no clock */
};

#define FWT_MAX_SIGNERS 8U
/* At most this many trust anchors (n_keys + n_roots); more is FWT_E_ARG. */
#define FWT_MAX_ANCHORS 64U

/* Everything the verifier learned. Valid fields only when the call says so. */
struct fwt_image_info {
    struct fwt_image_header hdr;
    uint32_t format_version; /* 0 = plain MCUboot image (no FWT_TLV_FORMAT) */
    uint32_t security_counter;
    uint8_t has_security_counter;
    uint8_t hw_id[FWT_HW_ID_MAX];
    size_t hw_id_len;
    uint8_t provenance[32];
    uint8_t has_provenance;
    enum fwt_hash_alg hash_alg;
    uint8_t digest[FWT_DIGEST_MAX]; /* the image digest (hash TLV value) */
    size_t digest_len;
    uint32_t prot_off;   /* offset of the protected area (== hdr_size + img_size) */
    uint32_t unprot_off; /* offset of the unprotected area */
    uint32_t unprot_size;
    uint32_t total_size; /* header + payload + both TLV areas */
    /* Distinct trusted keys with a valid signature, by key hash. */
    uint32_t n_signers;
    uint8_t signer_keyhash[FWT_MAX_SIGNERS][FWT_KEYHASH_SIZE];
    /* The trust anchor that vouches for each signer: i < policy->n_keys is
     * policy->keys[i], n_keys + j is policy->roots[j]. */
    uint32_t signer_anchor[FWT_MAX_SIGNERS];
    /* Distinct anchors among the signers: what policy->threshold counts. */
    uint32_t n_anchors;
    /* From a boot-key certificate, when one was used. */
    uint8_t has_cert;
    uint32_t key_version;
    uint64_t cert_not_after; /* earliest expiry of those certificates (0: none expires) */
    /* SIG_PURE: the Ed25519 signatures are over [0, unprot_off) itself. */
    uint8_t pure;
    /* Encrypted image: the AES key size (16 or 32; 0 = not encrypted), and
     * where its ENC_* TLV is (type FWT_TLV_ENC_*, offset and length of the
     * value; the parser checked the length against the type and key size). */
    uint8_t enc_key_len;
    uint16_t enc_tlv;
    uint32_t enc_tlv_off;
    uint16_t enc_tlv_len;
};

/*
 * The length an ENC_* TLV value must have for an AES key of key_len bytes
 * (16 or 32); 0 for a type that is not an ENC_* TLV or a bad key size.
 */
uint32_t fwt_enc_tlv_len(uint16_t tlv, uint32_t key_len);

/*
 * Fault-injection hardening: a decision is a 32-bit value, never a 0/1 flag.
 * SUCCESS and FAILURE are far apart (Hamming distance 32: one is the other's
 * complement) and neither is 0, 1 or all-ones, so a single flipped bit, a
 * zeroed register or a skipped store cannot turn one into the other. The core
 * decides every property with these internally; fwt_image_verify_fih() hands
 * the verdict out. FWT_FIH_MASK makes the verdict's second copy (verdict ^
 * mask) differ from both values, so no copy of one verdict equals another.
 */
typedef uint32_t fwt_fih;
#define FWT_FIH_SUCCESS ((fwt_fih)0x3CA5965AU)
#define FWT_FIH_FAILURE ((fwt_fih)0xC35A69A5U)
#define FWT_FIH_MASK ((fwt_fih)0xA5C35A96U)

/*
 * Verify an image against a policy. Returns FWT_OK only when the structure is
 * valid, the digest matches, valid signatures vouched for by at least
 * policy->threshold distinct trust anchors (a key trusted directly, or a root
 * that certified the signing key) are present, the hardware id and security
 * counter satisfy the policy. info may be NULL.
 */
FWT_MUST_CHECK fwt_err fwt_image_verify(const struct fwt_io *io, const struct fwt_crypto_ops *crypto,
                                        const struct fwt_policy *policy, uint8_t *work,
                                        size_t work_len, struct fwt_image_info *info);

/*
 * fwt_image_verify() for an image whose digest the caller computed itself as
 * the bytes went by (an installer hashing a stream as it writes it to a slot):
 * digest is the caller's hash (alg) of [0, unprot_off) -- header, payload and
 * protected TLVs -- of the very bytes io reads. The core reads only the header
 * and the TLV areas, checks the hash TLV against digest, then signatures and
 * policy exactly as fwt_image_verify() does. The caller vouches that io holds
 * the bytes it hashed (e.g. by comparing its own read-back of the header and
 * TLV areas); a bootloader never uses this. FWT_E_UNSUPPORTED when the image's
 * hash algorithm or digest length is not alg's; FWT_E_ARG without a digest.
 * A pure Ed25519 image (SIG_PURE) is handled too: its signatures are over the
 * bytes, not the digest, so they are checked over the region io reads (the
 * backend reads [0, unprot_off) once more), never over the caller's digest.
 */
FWT_MUST_CHECK fwt_err fwt_image_verify_prehashed(const struct fwt_io *io,
                                                  const struct fwt_crypto_ops *crypto,
                                                  const struct fwt_policy *policy,
                                                  enum fwt_hash_alg alg, const uint8_t *digest,
                                                  size_t digest_len, uint8_t *work,
                                                  size_t work_len, struct fwt_image_info *info);

/*
 * fwt_image_verify() for a bootloader that hardens its own branch against
 * fault injection (MCUboot's FIH_CALL): returns FWT_FIH_SUCCESS only when
 * fwt_image_verify() would return FWT_OK, and FWT_FIH_FAILURE otherwise (never
 * 0 for success). *check receives the verdict's second copy, verdict ^
 * FWT_FIH_MASK; the caller tests both with FWT_FIH_VERDICT_OK() -- twice, with
 * the copies in volatile variables -- before it jumps. *reason (may be NULL)
 * receives the fwt_err fwt_image_verify() gives, for logging only: never
 * branch on it. check NULL: FWT_FIH_FAILURE, nothing read. The verdict is
 * built from the core's five property values, not from the fwt_err.
 */
FWT_MUST_CHECK fwt_fih fwt_image_verify_fih(const struct fwt_io *io,
                                            const struct fwt_crypto_ops *crypto,
                                            const struct fwt_policy *policy, uint8_t *work,
                                            size_t work_len, struct fwt_image_info *info,
                                            volatile fwt_fih *check, fwt_err *reason);

/* The caller-side check of a verdict and its second copy: non-zero only for
 * exactly (FWT_FIH_SUCCESS, FWT_FIH_SUCCESS ^ FWT_FIH_MASK). Any one flipped
 * bit in either copy fails it. Evaluate it twice (see docs/verifier-core.md). */
#define FWT_FIH_VERDICT_OK(verdict, check)                                                   \
    ((fwt_fih)(verdict) == FWT_FIH_SUCCESS &&                                                \
     ((fwt_fih)(check) ^ FWT_FIH_MASK) == FWT_FIH_SUCCESS &&                                \
     ((fwt_fih)(verdict) ^ (fwt_fih)(check)) == FWT_FIH_MASK)

/*
 * The policy's own rules, without an image: FWT_E_NO_TRUST without any trust
 * anchor; FWT_E_ARG for missing arrays, a bad key entry, more than
 * FWT_MAX_ANCHORS anchors, the same key bytes listed twice (keys[] and roots[]
 * together), a bad hardware id, or a threshold of 0, above FWT_MAX_SIGNERS or
 * above n_keys + n_roots. fwt_image_verify() starts with this check.
 */
FWT_MUST_CHECK fwt_err fwt_policy_check(const struct fwt_policy *policy);

/*
 * The threshold rule on its own, over a verifier result: FWT_OK when
 * info->signer_anchor[0 .. n_signers) names at least policy->threshold
 * distinct anchors of the policy, FWT_E_THRESHOLD when it does not (or names
 * an anchor the policy does not have), FWT_E_ARG / FWT_E_NO_TRUST as
 * fwt_policy_check(). fwt_image_verify() decides with this rule; a caller that
 * checks the result again before acting on it (a bootloader before its jump,
 * the device agent) calls this, never a count of its own.
 */
FWT_MUST_CHECK fwt_err fwt_policy_threshold_met(const struct fwt_policy *policy,
                                                const struct fwt_image_info *info);

/*
 * Parse and check structure only (header, TLV areas, digest not checked, no
 * signatures): for inspection tools. Never a basis for trust.
 */
FWT_MUST_CHECK fwt_err fwt_image_parse(const struct fwt_io *io, uint8_t *work, size_t work_len,
                                       struct fwt_image_info *info);

/* Decode the 32-byte header in the byte order its magic declares (hdr->byte_order).
 * FWT_E_MALFORMED on wrong magic. */
FWT_MUST_CHECK fwt_err fwt_header_decode(const uint8_t raw[32], struct fwt_image_header *hdr);

/* The byte order an image's first 4 bytes (the magic) declare: *order is
 * FWT_ORDER_LITTLE or FWT_ORDER_BIG; FWT_E_MALFORMED when they are neither magic. */
FWT_MUST_CHECK fwt_err fwt_image_order(const uint8_t magic[4], unsigned *order);

/* Integer loads in an image's byte order (FWT_ORDER_*; any other value reads little endian). */
uint16_t fwt_image_u16(unsigned order, const uint8_t *p);
uint32_t fwt_image_u32(unsigned order, const uint8_t *p);

/*
 * A TLV header's type field (its first two bytes) in an image's byte order.
 * Little endian: a u16. Big endian, as imgtool --endian big writes it: MCUboot's
 * own types (below 0xa0) as one type byte and a zero byte (imgtool packs them
 * 'BBH'), every other type as a big-endian u16 (imgtool's 'HH' for custom
 * TLVs). So each type has exactly one encoding: decode refuses the others
 * (FWT_E_MALFORMED: a zero second byte after a byte >= 0xa0, or a zero first
 * byte before one < 0xa0), and a type >= 0x100 whose low byte is zero has none
 * in a big-endian image (encode: FWT_E_ARG; its bytes would read as another type).
 */
FWT_MUST_CHECK fwt_err fwt_tlv_type_decode(unsigned order, const uint8_t b[2], uint16_t *type);
FWT_MUST_CHECK fwt_err fwt_tlv_type_encode(unsigned order, uint16_t type, uint8_t b[2]);

/* Bounded iteration over one TLV area. */
struct fwt_tlv_iter {
    const struct fwt_io *io;
    uint32_t pos; /* next TLV header */
    uint32_t end; /* end of the area */
    unsigned order; /* the image's byte order (hdr->byte_order) */
};
/* Area: 1 = protected, 0 = unprotected. FWT_E_NOT_FOUND if the image has no such area. */
FWT_MUST_CHECK fwt_err fwt_tlv_iter_begin(struct fwt_tlv_iter *it, const struct fwt_io *io,
                                          const struct fwt_image_header *hdr, int protected_area);
/* Next TLV: FWT_OK with type/offset/length of its value; FWT_E_NOT_FOUND at the end;
 * FWT_E_MALFORMED when a TLV runs past the area or its type bytes are not the
 * one encoding of a type (fwt_tlv_type_decode). */
FWT_MUST_CHECK fwt_err fwt_tlv_next(struct fwt_tlv_iter *it, uint16_t *type, uint32_t *val_off,
                                    uint16_t *val_len);

/*
 * imgtool --pad-sig: an ECDSA signature (DER) followed by zeros up to the curve's largest DER
 * size (72 bytes for P-256, 104 for P-384: the TLV has a fixed length). The length of the DER
 * signature without its padding; sig_len when there is none, when alg is not ECDSA, or when
 * what follows the DER is not such padding (a backend then refuses the trailing bytes).
 */
size_t fwt_sig_unpadded_len(enum fwt_sig_alg alg, enum fwt_key_type kt, const uint8_t *sig,
                            size_t sig_len);

/* Constant-time comparison: 0 when equal. */
FWT_MUST_CHECK int fwt_ct_compare(const void *a, const void *b, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* FWT_VERIFY_H */
