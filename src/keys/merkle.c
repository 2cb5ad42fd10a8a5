/* RFC 9162 Merkle tree hashing, proofs and proof verification (see merkle.h). */
#include "merkle.h"

#include <openssl/evp.h>
#include <string.h>

static fwt_err sha256_parts(uint8_t prefix, const uint8_t *a, size_t alen, const uint8_t *b,
                            size_t blen, uint8_t out[FWT_MERKLE_HASH])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int olen = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, &prefix, 1) == 1 &&
             (alen == 0 || EVP_DigestUpdate(ctx, a, alen) == 1) &&
             (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1) &&
             EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == FWT_MERKLE_HASH;
    EVP_MD_CTX_free(ctx);
    return ok ? FWT_OK : fwt_fail(FWT_E_CRYPTO, "SHA-256 failed in the Merkle tree");
}

fwt_err fwt_merkle_leaf_hash(const uint8_t *entry, size_t len, uint8_t out[FWT_MERKLE_HASH])
{
    if (!entry && len) {
        return FWT_E_ARG;
    }
    return sha256_parts(0x00, entry, len, NULL, 0, out);
}

fwt_err fwt_merkle_node_hash(const uint8_t l[FWT_MERKLE_HASH], const uint8_t r[FWT_MERKLE_HASH],
                             uint8_t out[FWT_MERKLE_HASH])
{
    return sha256_parts(0x01, l, FWT_MERKLE_HASH, r, FWT_MERKLE_HASH, out);
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k < n - k) {
        k <<= 1;
    }
    return k;
}

static fwt_err mth(const uint8_t (*d)[FWT_MERKLE_HASH], uint64_t n, uint8_t out[FWT_MERKLE_HASH])
{
    if (n == 1) {
        memcpy(out, d[0], FWT_MERKLE_HASH);
        return FWT_OK;
    }
    uint64_t k = split_point(n);
    uint8_t l[FWT_MERKLE_HASH], r[FWT_MERKLE_HASH];
    fwt_err e = mth(d, k, l);
    if (e == FWT_OK) {
        e = mth(d + k, n - k, r);
    }
    if (e == FWT_OK) {
        e = fwt_merkle_node_hash(l, r, out);
    }
    return e;
}

fwt_err fwt_merkle_root(const uint8_t (*leaves)[FWT_MERKLE_HASH], uint64_t n,
                        uint8_t out[FWT_MERKLE_HASH])
{
    if (n == 0) {
        /* SHA-256 of the empty string. */
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned int olen = 0;
        int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
                 EVP_DigestFinal_ex(ctx, out, &olen) == 1 && olen == FWT_MERKLE_HASH;
        EVP_MD_CTX_free(ctx);
        return ok ? FWT_OK : fwt_fail(FWT_E_CRYPTO, "SHA-256 failed in the Merkle tree");
    }
    if (!leaves) {
        return FWT_E_ARG;
    }
    return mth(leaves, n, out);
}

void fwt_merkle_stack_init(struct fwt_merkle_stack *s)
{
    memset(s, 0, sizeof(*s));
}

fwt_err fwt_merkle_stack_push(struct fwt_merkle_stack *s, const uint8_t leaf[FWT_MERKLE_HASH])
{
    if (s->count == UINT64_MAX >> 1 || s->depth >= 64) {
        return fwt_fail(FWT_E_TOO_LARGE, "Merkle tree too large");
    }
    memcpy(s->hash[s->depth], leaf, FWT_MERKLE_HASH);
    s->size[s->depth] = 1;
    s->depth++;
    /* Merge equal-sized perfect subtrees: the stack always holds the binary
     * decomposition of count, largest first. */
    while (s->depth >= 2 && s->size[s->depth - 2] == s->size[s->depth - 1]) {
        uint8_t h[FWT_MERKLE_HASH];
        fwt_err e = fwt_merkle_node_hash(s->hash[s->depth - 2], s->hash[s->depth - 1], h);
        if (e != FWT_OK) {
            return e;
        }
        memcpy(s->hash[s->depth - 2], h, FWT_MERKLE_HASH);
        s->size[s->depth - 2] *= 2;
        s->depth--;
    }
    s->count++;
    return FWT_OK;
}

fwt_err fwt_merkle_stack_root(const struct fwt_merkle_stack *s, uint8_t out[FWT_MERKLE_HASH])
{
    if (s->depth == 0) {
        return fwt_merkle_root(NULL, 0, out);
    }
    /* MTH splits at the largest power of two, so the root folds the perfect
     * subtrees from the right. */
    uint8_t acc[FWT_MERKLE_HASH];
    memcpy(acc, s->hash[s->depth - 1], FWT_MERKLE_HASH);
    for (unsigned i = s->depth - 1; i > 0; i--) {
        fwt_err e = fwt_merkle_node_hash(s->hash[i - 1], acc, acc);
        if (e != FWT_OK) {
            return e;
        }
    }
    memcpy(out, acc, FWT_MERKLE_HASH);
    return FWT_OK;
}

static fwt_err proof_add(uint8_t (*proof)[FWT_MERKLE_HASH], size_t *len,
                         const uint8_t h[FWT_MERKLE_HASH])
{
    if (*len >= FWT_MERKLE_PROOF_MAX) {
        return fwt_fail(FWT_E_INTERNAL, "Merkle proof longer than %u hashes", FWT_MERKLE_PROOF_MAX);
    }
    memcpy(proof[*len], h, FWT_MERKLE_HASH);
    (*len)++;
    return FWT_OK;
}

/* RFC 9162 2.1.3.1 PATH(m, D[n]), deepest hash first. */
static fwt_err path(const uint8_t (*d)[FWT_MERKLE_HASH], uint64_t m, uint64_t n,
                    uint8_t (*proof)[FWT_MERKLE_HASH], size_t *len)
{
    if (n <= 1) {
        return FWT_OK;
    }
    uint64_t k = split_point(n);
    uint8_t h[FWT_MERKLE_HASH];
    fwt_err e;
    if (m < k) {
        if ((e = path(d, m, k, proof, len)) != FWT_OK || (e = mth(d + k, n - k, h)) != FWT_OK) {
            return e;
        }
    } else {
        if ((e = path(d + k, m - k, n - k, proof, len)) != FWT_OK || (e = mth(d, k, h)) != FWT_OK) {
            return e;
        }
    }
    return proof_add(proof, len, h);
}

fwt_err fwt_merkle_inclusion_proof(const uint8_t (*leaves)[FWT_MERKLE_HASH], uint64_t m,
                                   uint64_t n, uint8_t (*proof)[FWT_MERKLE_HASH],
                                   size_t *proof_len)
{
    *proof_len = 0;
    if (!leaves || m >= n) {
        return fwt_fail(FWT_E_ARG, "entry %llu is not in a tree of %llu entries",
                        (unsigned long long)m, (unsigned long long)n);
    }
    return path(leaves, m, n, proof, proof_len);
}

fwt_err fwt_merkle_inclusion_verify(const uint8_t leaf[FWT_MERKLE_HASH], uint64_t m, uint64_t n,
                                    const uint8_t (*proof)[FWT_MERKLE_HASH], size_t proof_len,
                                    const uint8_t root[FWT_MERKLE_HASH])
{
    if (m >= n) {
        return fwt_fail(FWT_E_ARG, "entry %llu is not in a tree of %llu entries",
                        (unsigned long long)m, (unsigned long long)n);
    }
    if (proof_len > FWT_MERKLE_PROOF_MAX || (proof_len && !proof)) {
        return fwt_fail(FWT_E_DIGEST, "inclusion proof has %zu hashes", proof_len);
    }
    uint64_t fn = m, sn = n - 1;
    uint8_t r[FWT_MERKLE_HASH];
    memcpy(r, leaf, FWT_MERKLE_HASH);
    for (size_t i = 0; i < proof_len; i++) {
        if (sn == 0) {
            return fwt_fail(FWT_E_DIGEST, "inclusion proof is too long for the tree size");
        }
        fwt_err e;
        if ((fn & 1) || fn == sn) {
            e = fwt_merkle_node_hash(proof[i], r, r);
            if (!(fn & 1)) {
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            e = fwt_merkle_node_hash(r, proof[i], r);
        }
        if (e != FWT_OK) {
            return e;
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) {
        return fwt_fail(FWT_E_DIGEST, "inclusion proof is too short for the tree size");
    }
    if (fwt_ct_compare(r, root, FWT_MERKLE_HASH) != 0) {
        return fwt_fail(FWT_E_DIGEST, "inclusion proof does not lead to the tree head's root hash");
    }
    return FWT_OK;
}

/* RFC 9162 2.1.4.1 SUBPROOF(m, D[n], b). */
static fwt_err subproof(const uint8_t (*d)[FWT_MERKLE_HASH], uint64_t m, uint64_t n, int b,
                        uint8_t (*proof)[FWT_MERKLE_HASH], size_t *len)
{
    uint8_t h[FWT_MERKLE_HASH];
    fwt_err e;
    if (m == n) {
        if (b) {
            return FWT_OK;
        }
        if ((e = mth(d, n, h)) != FWT_OK) {
            return e;
        }
        return proof_add(proof, len, h);
    }
    uint64_t k = split_point(n);
    if (m <= k) {
        if ((e = subproof(d, m, k, b, proof, len)) != FWT_OK ||
            (e = mth(d + k, n - k, h)) != FWT_OK) {
            return e;
        }
    } else {
        if ((e = subproof(d + k, m - k, n - k, 0, proof, len)) != FWT_OK ||
            (e = mth(d, k, h)) != FWT_OK) {
            return e;
        }
    }
    return proof_add(proof, len, h);
}

fwt_err fwt_merkle_consistency_proof(const uint8_t (*leaves)[FWT_MERKLE_HASH], uint64_t m,
                                     uint64_t n, uint8_t (*proof)[FWT_MERKLE_HASH],
                                     size_t *proof_len)
{
    *proof_len = 0;
    if (!leaves || m == 0 || m > n) {
        return fwt_fail(FWT_E_ARG, "no consistency proof from %llu to %llu entries (need 0 < from <= to)",
                        (unsigned long long)m, (unsigned long long)n);
    }
    return subproof(leaves, m, n, 1, proof, proof_len);
}

fwt_err fwt_merkle_consistency_verify(uint64_t m, uint64_t n, const uint8_t root1[FWT_MERKLE_HASH],
                                      const uint8_t root2[FWT_MERKLE_HASH],
                                      const uint8_t (*proof)[FWT_MERKLE_HASH], size_t proof_len)
{
    if (m == 0 || m > n) {
        return fwt_fail(FWT_E_ARG, "no consistency proof from %llu to %llu entries (need 0 < from <= to)",
                        (unsigned long long)m, (unsigned long long)n);
    }
    if (proof_len > FWT_MERKLE_PROOF_MAX || (proof_len && !proof)) {
        return fwt_fail(FWT_E_DIGEST, "consistency proof has %zu hashes", proof_len);
    }
    if (m == n) {
        if (proof_len != 0 || fwt_ct_compare(root1, root2, FWT_MERKLE_HASH) != 0) {
            return fwt_fail(FWT_E_DIGEST, "trees of the same size %llu differ",
                            (unsigned long long)m);
        }
        return FWT_OK;
    }
    if (proof_len == 0) {
        return fwt_fail(FWT_E_DIGEST, "empty consistency proof between different tree sizes");
    }
    /* When m is a power of two, the old root itself starts the path. */
    uint8_t path_buf[FWT_MERKLE_PROOF_MAX + 1][FWT_MERKLE_HASH];
    size_t plen = 0;
    if ((m & (m - 1)) == 0) {
        memcpy(path_buf[plen++], root1, FWT_MERKLE_HASH);
    }
    memcpy(path_buf[plen], proof, proof_len * FWT_MERKLE_HASH);
    plen += proof_len;

    uint64_t fn = m - 1, sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[FWT_MERKLE_HASH], sr[FWT_MERKLE_HASH];
    memcpy(fr, path_buf[0], FWT_MERKLE_HASH);
    memcpy(sr, path_buf[0], FWT_MERKLE_HASH);
    for (size_t i = 1; i < plen; i++) {
        if (sn == 0) {
            return fwt_fail(FWT_E_DIGEST, "consistency proof is too long for the tree sizes");
        }
        fwt_err e = FWT_OK;
        if ((fn & 1) || fn == sn) {
            if ((e = fwt_merkle_node_hash(path_buf[i], fr, fr)) != FWT_OK ||
                (e = fwt_merkle_node_hash(path_buf[i], sr, sr)) != FWT_OK) {
                return e;
            }
            if (!(fn & 1)) {
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else if ((e = fwt_merkle_node_hash(sr, path_buf[i], sr)) != FWT_OK) {
            return e;
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) {
        return fwt_fail(FWT_E_DIGEST, "consistency proof is too short for the tree sizes");
    }
    if (fwt_ct_compare(fr, root1, FWT_MERKLE_HASH) != 0) {
        return fwt_fail(FWT_E_DIGEST, "consistency proof does not lead to the old root hash");
    }
    if (fwt_ct_compare(sr, root2, FWT_MERKLE_HASH) != 0) {
        return fwt_fail(FWT_E_DIGEST, "consistency proof does not lead to the new root hash");
    }
    return FWT_OK;
}
