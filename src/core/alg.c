/*
 * The verifier core's view of the algorithm tables (fwt_alg.h): numbers only,
 * no names, so a bootloader links no strings. Freestanding.
 */
#include "core_internal.h"

#define HASH_ROW(alg, tlv, size, name, upper) {(uint8_t)(alg), (uint8_t)(size), (uint16_t)(tlv)},
static const struct fwt_core_hash k_hashes[] = {FWT_HASH_TABLE(HASH_ROW)};
#undef HASH_ROW

#define ALG_ROW(key, sig, pure_sig, sig_tlv, hash, hashes, sig_min, sig_max, sig_size, mod_bits, name,   \
                tuf_keytype, tuf_scheme, ossl_type, ossl_group)                                \
    {(uint8_t)(key),    (uint8_t)(sig),     (uint8_t)(pure_sig), (uint8_t)(hashes),           \
     (uint16_t)(sig_tlv), (uint16_t)(sig_min), (uint16_t)(sig_max), (uint16_t)(sig_size)},
static const struct fwt_core_alg k_algs[] = {FWT_ALG_TABLE(ALG_ROW)};
#undef ALG_ROW

/* What the rest of the core relies on: every digest fits FWT_DIGEST_MAX, every
 * signature the work buffer's FWT_SIG_MAX, every hash set a uint8_t. */
#define HASH_CHECK(alg, tlv, size, name, upper)                                                \
    _Static_assert((size) > 0 && (size) <= FWT_DIGEST_MAX && (unsigned)(alg) < 8U,             \
                   "hash row out of the core's bounds");
FWT_HASH_TABLE(HASH_CHECK)
#undef HASH_CHECK
#define ALG_CHECK(key, sig, pure_sig, sig_tlv, hash, hashes, sig_min, sig_max, sig_size, mod_bits, name, \
                  tuf_keytype, tuf_scheme, ossl_type, ossl_group)                              \
    _Static_assert((sig_min) > 0 && (sig_min) <= (sig_max) && (sig_max) <= FWT_SIG_MAX &&      \
                       (sig_size) >= (sig_min) && (sig_size) <= (sig_max) &&                  \
                       (hashes) <= 0xffU && ((hashes) & FWT_HASH_BIT(hash)) != 0,              \
                   "signature row out of the core's bounds");
FWT_ALG_TABLE(ALG_CHECK)
#undef ALG_CHECK

#define N_HASHES (sizeof(k_hashes) / sizeof(k_hashes[0]))
#define N_ALGS (sizeof(k_algs) / sizeof(k_algs[0]))

const struct fwt_core_hash *fwt_core_hash_find(unsigned field, size_t v)
{
    for (size_t i = 0; i < N_HASHES; i++) {
        const struct fwt_core_hash *h = &k_hashes[i];
        size_t have = field == FWT_CORE_BY_ALG ? h->alg : field == FWT_CORE_BY_TLV ? h->tlv : h->size;
        if (have == v) {
            return h;
        }
    }
    return NULL;
}

size_t fwt_hash_size(enum fwt_hash_alg alg)
{
    const struct fwt_core_hash *h = fwt_core_hash_by_alg(alg);
    return h ? h->size : 0;
}

const struct fwt_core_alg *fwt_core_alg_find(int by_tlv, unsigned v)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        if ((by_tlv ? k_algs[i].sig_tlv : k_algs[i].key) == v) {
            return &k_algs[i];
        }
    }
    return NULL;
}

fwt_err fwt_core_sig_alg(uint16_t tlv, enum fwt_key_type kt, enum fwt_hash_alg h, int pure,
                         enum fwt_sig_alg *alg)
{
    *alg = FWT_SIG_NONE;
    int tlv_known = 0, tlv_pure = 0;
    const struct fwt_core_alg *row = NULL;
    for (size_t i = 0; i < N_ALGS; i++) {
        if (k_algs[i].sig_tlv != tlv) {
            continue;
        }
        tlv_known = 1;
        tlv_pure |= k_algs[i].pure_sig != FWT_SIG_NONE;
        if (k_algs[i].key == (unsigned)kt) {
            row = &k_algs[i];
        }
    }
    if (pure && !tlv_pure) {
        return FWT_E_UNSUPPORTED; /* MCUboot's pure mode is Ed25519 only */
    }
    if (!tlv_known) {
        return FWT_E_INTERNAL; /* parse admits only the table's signature TLVs */
    }
    if (!row) {
        return FWT_E_SIGNATURE; /* a key of this type never makes this kind of signature */
    }
    if (pure) {
        *alg = (enum fwt_sig_alg)row->pure_sig;
        return FWT_OK;
    }
    *alg = (enum fwt_sig_alg)row->sig;
    return (row->hashes & FWT_HASH_BIT(h)) != 0 && h != FWT_HASH_NONE ? FWT_OK
                                                                      : FWT_E_UNSUPPORTED;
}
