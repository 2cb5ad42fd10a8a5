/*
 * Test-only helpers for the verifier core: a mock crypto backend (NOT crypto:
 * a checksum as "hash", signatures a deterministic function of key and
 * message), an in-memory fwt_io, and an image builder. Needs no OpenSSL, so
 * the same tests run in the -m32 core-only build.
 */
#ifndef FWT_TEST_MOCK_H
#define FWT_TEST_MOCK_H

#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust.h>

#include <stddef.h>
#include <stdint.h>

/* ---- mock crypto ---- */
struct mock_crypto {
    uint64_t state;
    enum fwt_hash_alg alg;
    int hashing;
    unsigned verify_calls;
    int fail_hash;   /* hash_* return FWT_E_CRYPTO */
    int fail_verify; /* verify returns FWT_E_CRYPTO */
};
void mock_ops(struct fwt_crypto_ops *ops, struct mock_crypto *m);
/* One-shot mock hash of data (what the ops compute). */
void mock_hash(enum fwt_hash_alg alg, const void *data, size_t len, uint8_t *out, size_t out_len);
/* The mock signature of msg by key for alg, sig_len bytes. */
void mock_sign(enum fwt_sig_alg alg, const uint8_t *key, size_t key_len, const uint8_t *msg,
               size_t msg_len, uint8_t *sig, size_t sig_len);
size_t mock_sig_len(enum fwt_sig_alg alg);

/* ---- memory io ---- */
struct mem_io {
    struct fwt_io io;
    const uint8_t *buf;
    uint32_t fail_at; /* reads touching this offset fail (UINT32_MAX: never) */
};
void mem_io_init(struct mem_io *m, const uint8_t *buf, uint32_t size);

/* ---- mock keys ---- */
#define MOCK_KEY_LEN 44
struct mock_key {
    enum fwt_key_type type;
    uint8_t enc[MOCK_KEY_LEN];
};
void mock_key(struct mock_key *k, enum fwt_key_type type, int id);
void mock_trusted(struct fwt_trusted_key *t, const struct mock_key *k);
/* mock_key k, and t the trusted key of it. */
void mock_anchor(struct mock_key *k, struct fwt_trusted_key *t, enum fwt_key_type type, int id);
/* A policy: keys[0..n_keys), roots[0..n_roots), threshold. */
struct fwt_policy mock_policy(const struct fwt_trusted_key *keys, size_t n_keys,
                              const struct fwt_trusted_key *roots, size_t n_roots, uint32_t threshold);

/* Little-endian stores (the image format's usual byte order). */
void tb_put16(uint8_t *p, uint32_t v);
void tb_put32(uint8_t *p, uint32_t v);
/* Big-endian stores (imgtool --endian big). */
void tb_put16be(uint8_t *p, uint32_t v);
void tb_put32be(uint8_t *p, uint32_t v);

/* ---- image builder ---- */
#define TB_MAX 16384
#define TB_TLVS 24
struct tb_tlv {
    uint16_t type;
    uint16_t len;
    uint8_t val[1600];
};
struct tb {
    uint8_t img[TB_MAX];
    uint32_t hdr_size;
    uint32_t payload_len;
    uint32_t flags;
    struct tb_tlv prot[TB_TLVS];
    size_t n_prot;
    struct tb_tlv unprot[TB_TLVS];
    size_t n_unprot;
    enum fwt_hash_alg hash;
    int pure;
    /* imgtool --endian big: header, info headers, TLV headers (its 'BBH' for types
     * below 0xa0, 'HH' above) big endian. Integer TLV values are the caller's bytes. */
    int big_endian;
    /* results of tb_build */
    uint32_t signed_len;
    uint32_t len;
    uint8_t digest[64];
};
/* A header and payload; no TLVs yet. */
void tb_init(struct tb *b, uint32_t hdr_size, uint32_t payload_len);
void tb_prot(struct tb *b, uint16_t type, const void *val, size_t len);
void tb_unprot(struct tb *b, uint16_t type, const void *val, size_t len);
/* Lay out header, payload and protected area and compute the digest. */
void tb_layout(struct tb *b);
/* Add the hash TLV (after tb_layout). */
void tb_add_hash(struct tb *b);
/* Add [CERT] KEYHASH|PUBKEY SIG for key (after tb_layout). */
void tb_add_sig(struct tb *b, const struct mock_key *k, int pubkey, const uint8_t *cert,
                size_t cert_len);
/* Write the unprotected area; b->len is the image length. */
uint32_t tb_finish(struct tb *b);
/* tb_layout, tb_add_hash, k's signature (key hash, no certificate), tb_finish. */
uint32_t tb_sign_by(struct tb *b, const struct mock_key *k);
/* The usual image: counter 5, format 1, hw id "board-a", hash, signed by k. */
uint32_t tb_standard(struct tb *b, const struct mock_key *k);

/* A mock certificate by root for key. sig_alg from root type. Returns length. */
size_t mock_cert(uint8_t *out, const struct mock_key *root, const struct mock_key *key,
                 uint32_t key_version, uint64_t not_after, const char *hw_id);

/* Signature TLV and algorithm for a key type (non-pure). */
uint16_t mock_sig_tlv(enum fwt_key_type t);
enum fwt_sig_alg mock_sig_alg(enum fwt_key_type t, int pure);

/* Verify with the mock ops and a policy. */
fwt_err mock_verify(const uint8_t *img, uint32_t len, const struct fwt_policy *p,
                    struct fwt_image_info *info);

#endif
