/*
 * RFC 9162 Merkle tree (src/keys/merkle.c): known vectors and exhaustive
 * proof checks. The vectors are the Certificate Transparency project's test
 * tree (entries "", 00, 10, 2021, 3031, 40414243, 50..57, 60..6f); the roots,
 * paths and proofs were computed with tests/keys/merkle_ref.py, an
 * independent Python transcription of the RFC's recursive definitions (its
 * 8-entry root is CT's published 5dc9da79...).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "keys/merkle.h"

#include <stdlib.h>
#include <string.h>

static const char *const k_entries[8] = {"", "00", "10", "2021", "3031", "40414243",
                                         "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
static const char *const k_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

static void unhex(const char *s, uint8_t *out, size_t *len)
{
    size_t n = strlen(s) / 2;
    assert_int_equal(fwt_hex_decode(s, out, n), FWT_OK);
    *len = n;
}

static void vector_leaves(uint8_t leaves[8][32])
{
    for (int i = 0; i < 8; i++) {
        uint8_t b[64];
        size_t n = 0;
        if (k_entries[i][0]) {
            unhex(k_entries[i], b, &n);
        }
        assert_int_equal(fwt_merkle_leaf_hash(b, n, leaves[i]), FWT_OK);
    }
}

static void assert_hash(const uint8_t h[32], const char *hex)
{
    uint8_t want[32];
    assert_int_equal(fwt_hex_decode(hex, want, 32), FWT_OK);
    assert_memory_equal(h, want, 32);
}

static void test_roots(void **state)
{
    (void)state;
    uint8_t leaves[8][32], root[32];
    vector_leaves(leaves);
    struct fwt_merkle_stack s;
    fwt_merkle_stack_init(&s);
    assert_int_equal(fwt_merkle_root(NULL, 0, root), FWT_OK);
    assert_hash(root, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(fwt_merkle_stack_root(&s, root), FWT_OK);
    assert_hash(root, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (int n = 1; n <= 8; n++) {
        assert_int_equal(fwt_merkle_root((const uint8_t(*)[32])leaves, (uint64_t)n, root), FWT_OK);
        assert_hash(root, k_roots[n - 1]);
        assert_int_equal(fwt_merkle_stack_push(&s, leaves[n - 1]), FWT_OK);
        assert_int_equal(fwt_merkle_stack_root(&s, root), FWT_OK);
        assert_hash(root, k_roots[n - 1]);
    }
}

static void test_vector_proofs(void **state)
{
    (void)state;
    uint8_t leaves[8][32], proof[FWT_MERKLE_PROOF_MAX][32], root8[32], r[32];
    size_t len = 0;
    vector_leaves(leaves);
    assert_int_equal(fwt_hex_decode(k_roots[7], root8, 32), FWT_OK);
    static const char *const path5[] = {
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"};
    assert_int_equal(fwt_merkle_inclusion_proof((const uint8_t(*)[32])leaves, 5, 8, proof, &len),
                     FWT_OK);
    assert_int_equal(len, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_hash(proof[i], path5[i]);
    }
    assert_int_equal(fwt_merkle_inclusion_verify(leaves[5], 5, 8, (const uint8_t(*)[32])proof, 3,
                                                 root8),
                     FWT_OK);
    static const char *const cons3[] = {
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"};
    assert_int_equal(fwt_merkle_consistency_proof((const uint8_t(*)[32])leaves, 3, 8, proof, &len),
                     FWT_OK);
    assert_int_equal(len, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_hash(proof[i], cons3[i]);
    }
    assert_int_equal(fwt_hex_decode(k_roots[2], r, 32), FWT_OK);
    assert_int_equal(fwt_merkle_consistency_verify(3, 8, r, root8, (const uint8_t(*)[32])proof, 4),
                     FWT_OK);
    /* From a power of two the old root is not in the proof. */
    assert_int_equal(fwt_merkle_consistency_proof((const uint8_t(*)[32])leaves, 4, 8, proof, &len),
                     FWT_OK);
    assert_int_equal(len, 1);
    assert_hash(proof[0], "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4");
    assert_int_equal(fwt_hex_decode(k_roots[3], r, 32), FWT_OK);
    assert_int_equal(fwt_merkle_consistency_verify(4, 8, r, root8, (const uint8_t(*)[32])proof, 1),
                     FWT_OK);
}

/* Every proof in trees of 1..70 leaves verifies, and every corruption fails. */
static void test_exhaustive(void **state)
{
    (void)state;
    enum { N = 70 };
    uint8_t leaves[N][32], roots[N + 1][32], proof[FWT_MERKLE_PROOF_MAX][32];
    for (int i = 0; i < N; i++) {
        uint8_t e[4] = {(uint8_t)i, (uint8_t)(i * 7), 0x5a, (uint8_t)(i >> 3)};
        assert_int_equal(fwt_merkle_leaf_hash(e, sizeof(e), leaves[i]), FWT_OK);
    }
    for (uint64_t n = 0; n <= N; n++) {
        assert_int_equal(fwt_merkle_root((const uint8_t(*)[32])leaves, n, roots[n]), FWT_OK);
    }
    const uint8_t(*L)[32] = (const uint8_t(*)[32])leaves;
    const uint8_t(*P)[32] = (const uint8_t(*)[32])proof;
    for (uint64_t n = 1; n <= N; n++) {
        for (uint64_t m = 0; m < n; m++) {
            size_t len = 0;
            assert_int_equal(fwt_merkle_inclusion_proof(L, m, n, proof, &len), FWT_OK);
            assert_int_equal(fwt_merkle_inclusion_verify(leaves[m], m, n, P, len, roots[n]),
                             FWT_OK);
            /* Wrong leaf, index, size, root; truncated, extended, flipped proofs. */
            assert_int_not_equal(
                fwt_merkle_inclusion_verify(leaves[(m + 1) % N], m, n, P, len, roots[n]), FWT_OK);
            if (n > 1) {
                assert_int_not_equal(
                    fwt_merkle_inclusion_verify(leaves[m], (m + 1) % n, n, P, len, roots[n]),
                    FWT_OK);
            }
            /* (The tree size is bound to the root by the signed tree head; a
             * proof for another size must fail against that size's root.) */
            if (n < N) {
                assert_int_not_equal(
                    fwt_merkle_inclusion_verify(leaves[m], m, n + 1, P, len, roots[n + 1]), FWT_OK);
            }
            assert_int_not_equal(fwt_merkle_inclusion_verify(leaves[m], m, n, P, len, roots[n - 1]),
                                 FWT_OK);
            if (len > 0) {
                assert_int_not_equal(
                    fwt_merkle_inclusion_verify(leaves[m], m, n, P, len - 1, roots[n]), FWT_OK);
                proof[len - 1][31] ^= 1;
                assert_int_not_equal(fwt_merkle_inclusion_verify(leaves[m], m, n, P, len, roots[n]),
                                     FWT_OK);
                proof[len - 1][31] ^= 1;
            }
            memcpy(proof[len], leaves[0], 32);
            assert_int_not_equal(fwt_merkle_inclusion_verify(leaves[m], m, n, P, len + 1, roots[n]),
                                 FWT_OK);
        }
        assert_int_not_equal(fwt_merkle_inclusion_verify(leaves[0], n, n, P, 0, roots[n]), FWT_OK);
        for (uint64_t m = 1; m <= n; m++) {
            size_t len = 0;
            assert_int_equal(fwt_merkle_consistency_proof(L, m, n, proof, &len), FWT_OK);
            assert_int_equal(fwt_merkle_consistency_verify(m, n, roots[m], roots[n], P, len),
                             FWT_OK);
            if (m < n) {
                /* Another old tree, a swapped pair, a corrupted or shortened proof. */
                assert_int_not_equal(
                    fwt_merkle_consistency_verify(m, n, roots[m - 1], roots[n], P, len), FWT_OK);
                assert_int_not_equal(
                    fwt_merkle_consistency_verify(m, n, roots[n], roots[m], P, len), FWT_OK);
                proof[0][0] ^= 0x80;
                assert_int_not_equal(
                    fwt_merkle_consistency_verify(m, n, roots[m], roots[n], P, len), FWT_OK);
                proof[0][0] ^= 0x80;
                assert_int_not_equal(
                    fwt_merkle_consistency_verify(m, n, roots[m], roots[n], P, len - 1), FWT_OK);
                if (m + 1 < n) {
                    assert_int_not_equal(
                        fwt_merkle_consistency_verify(m + 1, n, roots[m], roots[n], P, len),
                        FWT_OK);
                }
            } else {
                assert_int_equal(len, 0);
                assert_int_not_equal(
                    fwt_merkle_consistency_verify(m, n, roots[m], roots[n - 1], P, 0), FWT_OK);
            }
        }
    }
    /* Impossible arguments. */
    size_t len = 0;
    assert_int_equal(fwt_merkle_inclusion_proof(L, 3, 3, proof, &len), FWT_E_ARG);
    assert_int_equal(fwt_merkle_consistency_proof(L, 0, 3, proof, &len), FWT_E_ARG);
    assert_int_equal(fwt_merkle_consistency_proof(L, 4, 3, proof, &len), FWT_E_ARG);
    assert_int_not_equal(fwt_merkle_consistency_verify(0, 3, roots[0], roots[3], P, 0), FWT_OK);
    assert_int_not_equal(
        fwt_merkle_inclusion_verify(leaves[0], 0, 8, P, FWT_MERKLE_PROOF_MAX + 1, roots[8]), FWT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roots),
        cmocka_unit_test(test_vector_proofs),
        cmocka_unit_test(test_exhaustive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
