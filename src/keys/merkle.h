/*
 * RFC 9162 Merkle tree (the signing log's hash tree), internal to fwt_keys.
 *
 *   leaf hash  = SHA-256(0x00 || entry)
 *   node hash  = SHA-256(0x01 || left || right)
 *   MTH({})    = SHA-256("")
 *
 * Proof generation works on an array of leaf hashes; verification implements
 * the algorithms of RFC 9162 sections 2.1.3.2 (inclusion) and 2.1.4.2
 * (consistency). Every function checks sizes and returns FWT_E_ARG for
 * impossible indices and FWT_E_DIGEST when a proof does not lead to the root.
 */
#ifndef FWT_KEYS_MERKLE_H
#define FWT_KEYS_MERKLE_H

#include <fwtrust/fwt_util.h>

#include <stddef.h>
#include <stdint.h>

#define FWT_MERKLE_HASH 32U
/* A proof for a tree of up to 2^63 leaves has at most 64 (+1) hashes. */
#define FWT_MERKLE_PROOF_MAX 66U

FWT_MUST_CHECK fwt_err fwt_merkle_leaf_hash(const uint8_t *entry, size_t len,
                                            uint8_t out[FWT_MERKLE_HASH]);
FWT_MUST_CHECK fwt_err fwt_merkle_node_hash(const uint8_t l[FWT_MERKLE_HASH],
                                            const uint8_t r[FWT_MERKLE_HASH],
                                            uint8_t out[FWT_MERKLE_HASH]);

/* The root of the first n leaves (n may be 0). */
FWT_MUST_CHECK fwt_err fwt_merkle_root(const uint8_t (*leaves)[FWT_MERKLE_HASH], uint64_t n,
                                       uint8_t out[FWT_MERKLE_HASH]);

/*
 * Incremental root computation: push leaves in order, read the root of the
 * leaves pushed so far at any time. O(log n) memory.
 */
struct fwt_merkle_stack {
    uint8_t hash[64][FWT_MERKLE_HASH];
    uint64_t size[64];
    unsigned depth;
    uint64_t count;
};
void fwt_merkle_stack_init(struct fwt_merkle_stack *s);
FWT_MUST_CHECK fwt_err fwt_merkle_stack_push(struct fwt_merkle_stack *s,
                                             const uint8_t leaf[FWT_MERKLE_HASH]);
FWT_MUST_CHECK fwt_err fwt_merkle_stack_root(const struct fwt_merkle_stack *s,
                                             uint8_t out[FWT_MERKLE_HASH]);

/* Inclusion proof of leaf m in the tree of the first n leaves (m < n). */
FWT_MUST_CHECK fwt_err fwt_merkle_inclusion_proof(const uint8_t (*leaves)[FWT_MERKLE_HASH],
                                                  uint64_t m, uint64_t n,
                                                  uint8_t (*proof)[FWT_MERKLE_HASH],
                                                  size_t *proof_len);
/* FWT_OK when the proof leads from leaf (index m of a tree of size n) to root. */
FWT_MUST_CHECK fwt_err fwt_merkle_inclusion_verify(const uint8_t leaf[FWT_MERKLE_HASH],
                                                   uint64_t m, uint64_t n,
                                                   const uint8_t (*proof)[FWT_MERKLE_HASH],
                                                   size_t proof_len,
                                                   const uint8_t root[FWT_MERKLE_HASH]);

/* Consistency proof between the trees of the first m and the first n leaves (0 < m <= n). */
FWT_MUST_CHECK fwt_err fwt_merkle_consistency_proof(const uint8_t (*leaves)[FWT_MERKLE_HASH],
                                                    uint64_t m, uint64_t n,
                                                    uint8_t (*proof)[FWT_MERKLE_HASH],
                                                    size_t *proof_len);
/* FWT_OK when the proof shows the tree (n, root2) extends the tree (m, root1). */
FWT_MUST_CHECK fwt_err fwt_merkle_consistency_verify(uint64_t m, uint64_t n,
                                                     const uint8_t root1[FWT_MERKLE_HASH],
                                                     const uint8_t root2[FWT_MERKLE_HASH],
                                                     const uint8_t (*proof)[FWT_MERKLE_HASH],
                                                     size_t proof_len);

#endif /* FWT_KEYS_MERKLE_H */
