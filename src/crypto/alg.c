/*
 * Host view of the algorithm tables (fwt_alg.h): every column, names included,
 * and the OpenSSL digest of a hash row. The one place host code turns an
 * algorithm into a name, a size or an EVP_MD and back.
 */
#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust_host.h>

#include <openssl/evp.h>
#include <string.h>

#include "keys_internal.h"

#define HASH_ROW(alg, tlv, size, name, upper) {(alg), (uint16_t)(tlv), (uint8_t)(size), (name), (upper)},
static const struct fwt_hash_desc k_hashes[] = {FWT_HASH_TABLE(HASH_ROW)};
#undef HASH_ROW

#define ALG_ROW(key, sig, pure_sig, sig_tlv, hash, hashes, sig_min, sig_max, sig_size, mod_bits, name,   \
                tuf_keytype, tuf_scheme, ossl_type, ossl_group)                                \
    {(key),       (sig),         (pure_sig),  (uint16_t)(sig_tlv),                             \
     (hash),      (hashes),      (uint16_t)(sig_min), (uint16_t)(sig_max),                     \
     (uint16_t)(sig_size), (uint16_t)(mod_bits), (name), (tuf_keytype), (tuf_scheme), (ossl_type), (ossl_group)},
static const struct fwt_alg_desc k_algs[] = {FWT_ALG_TABLE(ALG_ROW)};
#undef ALG_ROW

#define N_HASHES (sizeof(k_hashes) / sizeof(k_hashes[0]))
#define N_ALGS (sizeof(k_algs) / sizeof(k_algs[0]))

const struct fwt_hash_desc *fwt_hash_by_alg(enum fwt_hash_alg alg)
{
    for (size_t i = 0; i < N_HASHES; i++) {
        if (k_hashes[i].alg == alg) {
            return &k_hashes[i];
        }
    }
    return NULL;
}

const struct fwt_hash_desc *fwt_hash_by_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < N_HASHES; i++) {
        if (strcmp(k_hashes[i].name, name) == 0) {
            return &k_hashes[i];
        }
    }
    return NULL;
}

const struct fwt_hash_desc *fwt_hash_by_size(size_t size)
{
    for (size_t i = 0; i < N_HASHES; i++) {
        if (k_hashes[i].size == size) {
            return &k_hashes[i];
        }
    }
    return NULL;
}

const struct fwt_hash_desc *fwt_hash_by_tlv(uint16_t tlv)
{
    for (size_t i = 0; i < N_HASHES; i++) {
        if (k_hashes[i].tlv == tlv) {
            return &k_hashes[i];
        }
    }
    return NULL;
}

const char *fwt_hash_name(enum fwt_hash_alg alg)
{
    const struct fwt_hash_desc *h = fwt_hash_by_alg(alg);
    return h ? h->name : "none";
}

const EVP_MD *fwt_hash_md(enum fwt_hash_alg alg)
{
    const struct fwt_hash_desc *h = fwt_hash_by_alg(alg);
    return h ? EVP_get_digestbyname(h->upper) : NULL;
}

const struct fwt_alg_desc *fwt_alg_by_key(enum fwt_key_type key)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        if (k_algs[i].key == key) {
            return &k_algs[i];
        }
    }
    return NULL;
}

const struct fwt_alg_desc *fwt_alg_by_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < N_ALGS; i++) {
        if (strcmp(k_algs[i].name, name) == 0) {
            return &k_algs[i];
        }
    }
    return NULL;
}

const struct fwt_alg_desc *fwt_alg_by_sig(enum fwt_sig_alg sig)
{
    for (size_t i = 0; sig != FWT_SIG_NONE && i < N_ALGS; i++) {
        if (k_algs[i].sig == sig || k_algs[i].pure_sig == sig) {
            return &k_algs[i];
        }
    }
    return NULL;
}

/* ", ed25519, ecdsa-p256, ..." at compile time; the list starts after the first ", ". */
#define NAME_ITEM(key, sig, pure_sig, sig_tlv, hash, hashes, sig_min, sig_max, sig_size, mod_bits, \
                  name, tuf_keytype, tuf_scheme, ossl_type, ossl_group)                            \
    ", " name
static const char k_names[] = FWT_ALG_TABLE(NAME_ITEM);
#undef NAME_ITEM

const char *fwt_alg_names(void)
{
    return k_names + 2;
}

const struct fwt_alg_desc *fwt_alg_at(size_t i)
{
    return i < N_ALGS ? &k_algs[i] : NULL;
}
