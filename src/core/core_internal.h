/*
 * Private helpers of the verifier core (not installed, not public API).
 * Freestanding: nothing here may need libc beyond memcpy/memset.
 */
#ifndef FWT_CORE_INTERNAL_H
#define FWT_CORE_INTERNAL_H

#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust.h>

#include <stddef.h>
#include <stdint.h>

/* Fault-injection hardening: fwt_fih and FWT_FIH_SUCCESS/FAILURE are public
 * (fwt_verify.h), so a bootloader checks the same values the core decides with. */

/* Little-endian loads. */
static inline uint16_t fwt_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)(p[1] << 8));
}
static inline uint32_t fwt_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static inline uint64_t fwt_le64(const uint8_t *p)
{
    return (uint64_t)fwt_le32(p) | ((uint64_t)fwt_le32(p + 4) << 32);
}

/* Loads in an image's byte order (FWT_ORDER_*): the header, TLV headers, integer TLVs. */
static inline uint16_t fwt_ld16(unsigned order, const uint8_t *p)
{
    return order == FWT_ORDER_BIG ? (uint16_t)((uint16_t)(p[0] << 8) | p[1]) : fwt_le16(p);
}
static inline uint32_t fwt_ld32(unsigned order, const uint8_t *p)
{
    return order == FWT_ORDER_BIG ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
                                        ((uint32_t)p[2] << 8) | (uint32_t)p[3]
                                  : fwt_le32(p);
}

/* a + b into *out; 0 on success, -1 on 32-bit overflow. */
static inline FWT_MUST_CHECK int fwt_add_u32(uint32_t a, uint32_t b, uint32_t *out)
{
    if (a > UINT32_MAX - b) {
        return -1;
    }
    *out = a + b;
    return 0;
}

/* Read [off, off+len) through io, after checking it lies inside io->size. */
FWT_MUST_CHECK fwt_err fwt_core_read(const struct fwt_io *io, uint32_t off, void *buf, size_t len);

/* Hash len bytes through the ops (one-shot); out_len must match the algorithm. */
FWT_MUST_CHECK fwt_err fwt_core_hash(const struct fwt_crypto_ops *c, enum fwt_hash_alg alg,
                                     const uint8_t *data, size_t len, uint8_t *out,
                                     size_t out_len);

/* Digest size of a hash algorithm; 0 for none/unknown. */
size_t fwt_hash_size(enum fwt_hash_alg alg);

/* The core's rows of the algorithm tables (fwt_alg.h; src/core/alg.c): numbers only. */
struct fwt_core_hash {
    uint8_t alg;  /* enum fwt_hash_alg */
    uint8_t size; /* digest bytes */
    uint16_t tlv; /* hash TLV type */
};
struct fwt_core_alg {
    uint8_t key;      /* enum fwt_key_type */
    uint8_t sig;      /* enum fwt_sig_alg over the digest */
    uint8_t pure_sig; /* enum fwt_sig_alg over the bytes, or FWT_SIG_NONE */
    uint8_t hashes;   /* FWT_HASH_BIT set of the image hashes it may sign */
    uint16_t sig_tlv;
    uint16_t sig_min, sig_max; /* signature TLV length bounds */
    uint16_t sig_size;         /* the largest signature (DER ECDSA: imgtool --pad-sig's size) */
};
/* The row whose field (FWT_CORE_BY_*) is v, or NULL when the table has none
 * (one search loop each keeps the core small; use the wrappers below). */
#define FWT_CORE_BY_ALG 0U
#define FWT_CORE_BY_TLV 1U
#define FWT_CORE_BY_SIZE 2U
const struct fwt_core_hash *fwt_core_hash_find(unsigned field, size_t v);
/* by_tlv 0: by key type; 1: the first row with this signature TLV type. */
const struct fwt_core_alg *fwt_core_alg_find(int by_tlv, unsigned v);
static inline const struct fwt_core_hash *fwt_core_hash_by_alg(enum fwt_hash_alg alg)
{
    return fwt_core_hash_find(FWT_CORE_BY_ALG, (size_t)alg);
}
static inline const struct fwt_core_hash *fwt_core_hash_by_tlv(uint16_t tlv)
{
    return fwt_core_hash_find(FWT_CORE_BY_TLV, tlv);
}
static inline const struct fwt_core_hash *fwt_core_hash_by_size(size_t size)
{
    return fwt_core_hash_find(FWT_CORE_BY_SIZE, size);
}
static inline const struct fwt_core_alg *fwt_core_alg_by_key(enum fwt_key_type key)
{
    return fwt_core_alg_find(0, (unsigned)key);
}
static inline const struct fwt_core_alg *fwt_core_alg_by_tlv(uint16_t sig_tlv)
{
    return fwt_core_alg_find(1, sig_tlv);
}
/*
 * The signature algorithm for a signature TLV made by a key of type kt over an
 * image hashed with h (pure: SIG_PURE image). FWT_E_SIGNATURE when such a key
 * never makes this kind of signature, FWT_E_UNSUPPORTED for a pairing the table
 * does not allow (pure mode without a pure algorithm, a hash not in the row's
 * set), FWT_E_INTERNAL for a TLV that is no signature TLV.
 */
FWT_MUST_CHECK fwt_err fwt_core_sig_alg(uint16_t tlv, enum fwt_key_type kt, enum fwt_hash_alg h,
                                        int pure, enum fwt_sig_alg *alg);

/* Is this crypto ops table complete? */
FWT_MUST_CHECK int fwt_core_ops_ok(const struct fwt_crypto_ops *c);

/*
 * Certificate check with the image verifier's finer outcome: FWT_E_UNKNOWN_KEY
 * when no policy root matches the certificate's root key hash (no trust at all,
 * as opposed to FWT_E_CERT: a trusted root's certificate that is invalid).
 * *fih is set to FWT_FIH_SUCCESS only on the success path. *root_index is the
 * index in policy->roots of the root the certificate names (policy->n_roots
 * when none does): the trust anchor a signature by the certified key counts for.
 */
FWT_MUST_CHECK fwt_err fwt_cert_check(const uint8_t *buf, size_t len,
                                      const struct fwt_crypto_ops *crypto,
                                      const struct fwt_policy *policy, struct fwt_cert *cert,
                                      volatile fwt_fih *fih, size_t *root_index);

/* Largest signature the core accepts (RSA-3072 PSS is 384 bytes). */
#define FWT_SIG_MAX 512U

/* Structure of an image (what fwt_image_parse learns), internal form. */
struct fwt_layout {
    struct fwt_image_header hdr;
    uint32_t prot_off;   /* start of the protected area (== hdr_size + img_size) */
    uint32_t unprot_off; /* start of the unprotected area (== end of signed region) */
    uint32_t unprot_end;
    int pure;            /* SIG_PURE marker present (either area, once) */
};

/* Parse and check the whole structure; fills info (non-NULL) and lay. */
FWT_MUST_CHECK fwt_err fwt_core_parse(const struct fwt_io *io, uint8_t *work, size_t work_len,
                                      struct fwt_image_info *info, struct fwt_layout *lay);

#endif /* FWT_CORE_INTERNAL_H */
