/* Test-only mock backend, memory io and image builder (see mock.h). Not crypto. */
#include "mock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV_OFF 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * FNV_PRIME;
    }
    return h;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void expand(uint64_t seed, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0) {
            uint64_t s2 = seed + i;
            seed ^= splitmix(&s2);
        }
        out[i] = (uint8_t)(seed >> (8 * (i % 8)));
    }
}

static size_t hlen(enum fwt_hash_alg a)
{
    return a == FWT_HASH_SHA256 ? 32 : a == FWT_HASH_SHA384 ? 48 : a == FWT_HASH_SHA512 ? 64 : 0;
}

void mock_hash(enum fwt_hash_alg alg, const void *data, size_t len, uint8_t *out, size_t out_len)
{
    uint8_t a = (uint8_t)alg;
    uint64_t h = fnv(FNV_OFF, &a, 1);
    h = fnv(h, data, len);
    expand(h, out, out_len);
}

static fwt_err m_init(void *ctx, enum fwt_hash_alg alg)
{
    struct mock_crypto *m = ctx;
    if (m->fail_hash || hlen(alg) == 0) {
        return FWT_E_CRYPTO;
    }
    uint8_t a = (uint8_t)alg;
    m->state = fnv(FNV_OFF, &a, 1);
    m->alg = alg;
    m->hashing = 1;
    return FWT_OK;
}

static fwt_err m_update(void *ctx, const void *data, size_t len)
{
    struct mock_crypto *m = ctx;
    if (m->fail_hash || !m->hashing) {
        return FWT_E_CRYPTO;
    }
    m->state = fnv(m->state, data, len);
    return FWT_OK;
}

static fwt_err m_final(void *ctx, uint8_t *out, size_t out_len)
{
    struct mock_crypto *m = ctx;
    if (m->fail_hash || !m->hashing || out_len != hlen(m->alg)) {
        return FWT_E_CRYPTO;
    }
    expand(m->state, out, out_len);
    m->hashing = 0;
    return FWT_OK;
}

size_t mock_sig_len(enum fwt_sig_alg alg)
{
    switch (alg) {
    case FWT_SIG_ED25519:
    case FWT_SIG_ED25519_PURE:
        return 64;
    case FWT_SIG_ECDSA_P256:
        return 70;
    case FWT_SIG_ECDSA_P384:
        return 102;
    case FWT_SIG_RSA2048_PSS:
        return 256;
    case FWT_SIG_RSA3072_PSS:
        return 384;
    default:
        return 0;
    }
}

void mock_sign(enum fwt_sig_alg alg, const uint8_t *key, size_t key_len, const uint8_t *msg,
               size_t msg_len, uint8_t *sig, size_t sig_len)
{
    uint64_t seed = fnv(FNV_OFF, key, key_len) * 31U;
    seed ^= fnv(FNV_OFF ^ (uint64_t)alg, msg, msg_len);
    expand(seed, sig, sig_len);
}

static fwt_err m_verify(void *ctx, enum fwt_sig_alg alg, const uint8_t *key, size_t key_len,
                        const uint8_t *msg, size_t msg_len, const struct fwt_io *io,
                        const uint8_t *sig, size_t sig_len)
{
    struct mock_crypto *m = ctx;
    m->verify_calls++;
    if (m->fail_verify) {
        return FWT_E_CRYPTO;
    }
    uint8_t region[64];
    if (alg == FWT_SIG_ED25519_PURE) {
        /* The pure "message" is read through io, like a real backend would. */
        if (msg || !io) {
            return FWT_E_CRYPTO;
        }
        uint8_t *buf = malloc(msg_len ? msg_len : 1);
        if (!buf || io->read(io->ctx, 0, buf, msg_len) != FWT_OK) {
            free(buf);
            return FWT_E_CRYPTO;
        }
        mock_hash(FWT_HASH_SHA512, buf, msg_len, region, sizeof(region));
        free(buf);
        msg = region;
        msg_len = sizeof(region);
    }
    if (sig_len != mock_sig_len(alg) || !msg) {
        return FWT_E_SIGNATURE;
    }
    uint8_t want[512];
    mock_sign(alg, key, key_len, msg, msg_len, want, sig_len);
    return memcmp(want, sig, sig_len) == 0 ? FWT_OK : FWT_E_SIGNATURE;
}

void mock_ops(struct fwt_crypto_ops *ops, struct mock_crypto *m)
{
    memset(m, 0, sizeof(*m));
    memset(ops, 0, sizeof(*ops));
    ops->ctx = m;
    ops->hash_init = m_init;
    ops->hash_update = m_update;
    ops->hash_final = m_final;
    ops->verify = m_verify;
}

static fwt_err mem_read(void *ctx, uint32_t off, void *buf, size_t len)
{
    struct mem_io *m = ctx;
    if ((uint64_t)off + len > m->io.size) {
        return FWT_E_IO;
    }
    if (m->fail_at != UINT32_MAX && m->fail_at >= off && (uint64_t)m->fail_at < (uint64_t)off + len) {
        return FWT_E_IO;
    }
    memcpy(buf, m->buf + off, len);
    return FWT_OK;
}

void mem_io_init(struct mem_io *m, const uint8_t *buf, uint32_t size)
{
    memset(m, 0, sizeof(*m));
    m->io.ctx = m;
    m->io.read = mem_read;
    m->io.size = size;
    m->buf = buf;
    m->fail_at = UINT32_MAX;
}

void mock_key(struct mock_key *k, enum fwt_key_type type, int id)
{
    memset(k, 0, sizeof(*k));
    k->type = type;
    snprintf((char *)k->enc, sizeof(k->enc), "mock-key type=%d id=%d", (int)type, id);
}

void mock_trusted(struct fwt_trusted_key *t, const struct mock_key *k)
{
    t->type = k->type;
    t->key = k->enc;
    t->key_len = sizeof(k->enc);
}

uint16_t mock_sig_tlv(enum fwt_key_type t)
{
    switch (t) {
    case FWT_KEY_ED25519:
        return FWT_TLV_ED25519;
    case FWT_KEY_ECDSA_P256:
    case FWT_KEY_ECDSA_P384:
        return FWT_TLV_ECDSA_SIG;
    case FWT_KEY_RSA2048:
        return FWT_TLV_RSA2048_PSS;
    default:
        return FWT_TLV_RSA3072_PSS;
    }
}

enum fwt_sig_alg mock_sig_alg(enum fwt_key_type t, int pure)
{
    switch (t) {
    case FWT_KEY_ED25519:
        return pure ? FWT_SIG_ED25519_PURE : FWT_SIG_ED25519;
    case FWT_KEY_ECDSA_P256:
        return FWT_SIG_ECDSA_P256;
    case FWT_KEY_ECDSA_P384:
        return FWT_SIG_ECDSA_P384;
    case FWT_KEY_RSA2048:
        return FWT_SIG_RSA2048_PSS;
    default:
        return FWT_SIG_RSA3072_PSS;
    }
}

void mock_anchor(struct mock_key *k, struct fwt_trusted_key *t, enum fwt_key_type type, int id)
{
    mock_key(k, type, id);
    mock_trusted(t, k);
}

struct fwt_policy mock_policy(const struct fwt_trusted_key *keys, size_t n_keys,
                              const struct fwt_trusted_key *roots, size_t n_roots, uint32_t threshold)
{
    struct fwt_policy p;
    memset(&p, 0, sizeof(p));
    p.keys = keys;
    p.n_keys = n_keys;
    p.roots = roots;
    p.n_roots = n_roots;
    p.threshold = threshold;
    return p;
}

void tb_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void tb_put32(uint8_t *p, uint32_t v)
{
    tb_put16(p, v);
    tb_put16(p + 2, v >> 16);
}

void tb_put16be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void tb_put32be(uint8_t *p, uint32_t v)
{
    tb_put16be(p, v >> 16);
    tb_put16be(p + 2, v);
}

/* Stores in the builder's byte order. */
static void st16(const struct tb *b, uint8_t *p, uint32_t v)
{
    (b->big_endian ? tb_put16be : tb_put16)(p, v);
}

static void st32(const struct tb *b, uint8_t *p, uint32_t v)
{
    (b->big_endian ? tb_put32be : tb_put32)(p, v);
}

/* A TLV header's type, written as imgtool does (not with the core's encoder). */
static void st_type(const struct tb *b, uint8_t *p, uint16_t t)
{
    if (b->big_endian && t < 0xa0) {
        p[0] = (uint8_t)t; /* imgtool: struct.pack('>BBH', type, 0, len) */
        p[1] = 0;
    } else {
        st16(b, p, t); /* '<BBH' is '<H' for a one-byte type; '>HH' for custom ones */
    }
}

void tb_init(struct tb *b, uint32_t hdr_size, uint32_t payload_len)
{
    memset(b, 0, sizeof(*b));
    b->hdr_size = hdr_size;
    b->payload_len = payload_len;
    b->hash = FWT_HASH_SHA256;
}

static void add(struct tb_tlv *list, size_t *n, uint16_t type, const void *val, size_t len)
{
    if (*n >= TB_TLVS || len > sizeof(list[0].val)) {
        abort();
    }
    list[*n].type = type;
    list[*n].len = (uint16_t)len;
    if (len) {
        memcpy(list[*n].val, val, len);
    }
    (*n)++;
}

void tb_prot(struct tb *b, uint16_t type, const void *val, size_t len)
{
    add(b->prot, &b->n_prot, type, val, len);
}

void tb_unprot(struct tb *b, uint16_t type, const void *val, size_t len)
{
    add(b->unprot, &b->n_unprot, type, val, len);
}

static uint32_t write_area(const struct tb *b, uint8_t *at, uint16_t magic,
                           const struct tb_tlv *l, size_t n)
{
    uint32_t pos = 4;
    for (size_t i = 0; i < n; i++) {
        st_type(b, at + pos, l[i].type);
        st16(b, at + pos + 2, l[i].len);
        memcpy(at + pos + 4, l[i].val, l[i].len);
        pos += 4U + l[i].len;
    }
    st16(b, at, magic);
    st16(b, at + 2, pos);
    return pos;
}

void tb_layout(struct tb *b)
{
    uint8_t *h = b->img;
    memset(h, 0, b->hdr_size);
    st32(b, h, FWT_IMAGE_MAGIC);
    st32(b, h + 4, 0x08000000U);
    st16(b, h + 8, b->hdr_size);
    st32(b, h + 12, b->payload_len);
    st32(b, h + 16, b->flags);
    h[20] = 1;
    h[21] = 2;
    st16(b, h + 22, 3);
    st32(b, h + 24, 4);
    for (uint32_t i = 0; i < b->payload_len; i++) {
        h[b->hdr_size + i] = (uint8_t)(i * 7 + 3);
    }
    uint32_t off = b->hdr_size + b->payload_len;
    uint32_t psize = 0;
    if (b->n_prot) {
        psize = write_area(b, h + off, FWT_TLV_PROT_INFO_MAGIC, b->prot, b->n_prot);
    }
    st16(b, h + 10, psize);
    b->signed_len = off + psize;
    mock_hash(b->hash, h, b->signed_len, b->digest, hlen(b->hash));
}

void tb_add_hash(struct tb *b)
{
    uint16_t t = b->hash == FWT_HASH_SHA256 ? FWT_TLV_SHA256
                 : b->hash == FWT_HASH_SHA384 ? FWT_TLV_SHA384
                                              : FWT_TLV_SHA512;
    tb_unprot(b, t, b->digest, hlen(b->hash));
}

void tb_add_sig(struct tb *b, const struct mock_key *k, int pubkey, const uint8_t *cert,
                size_t cert_len)
{
    if (cert) {
        tb_unprot(b, FWT_TLV_CERT, cert, cert_len);
    }
    if (pubkey) {
        tb_unprot(b, FWT_TLV_PUBKEY, k->enc, sizeof(k->enc));
    } else {
        uint8_t kh[32];
        mock_hash(FWT_HASH_SHA256, k->enc, sizeof(k->enc), kh, sizeof(kh));
        tb_unprot(b, FWT_TLV_KEYHASH, kh, sizeof(kh));
    }
    enum fwt_sig_alg alg = mock_sig_alg(k->type, b->pure);
    uint8_t sig[512];
    size_t sl = mock_sig_len(alg);
    if (b->pure) {
        uint8_t region[64];
        mock_hash(FWT_HASH_SHA512, b->img, b->signed_len, region, sizeof(region));
        mock_sign(alg, k->enc, sizeof(k->enc), region, sizeof(region), sig, sl);
    } else {
        mock_sign(alg, k->enc, sizeof(k->enc), b->digest, hlen(b->hash), sig, sl);
    }
    tb_unprot(b, mock_sig_tlv(k->type), sig, sl);
}

uint32_t tb_finish(struct tb *b)
{
    uint32_t n = write_area(b, b->img + b->signed_len, FWT_TLV_INFO_MAGIC, b->unprot, b->n_unprot);
    b->len = b->signed_len + n;
    return b->len;
}

uint32_t tb_sign_by(struct tb *b, const struct mock_key *k)
{
    tb_layout(b);
    tb_add_hash(b);
    tb_add_sig(b, k, 0, NULL, 0);
    return tb_finish(b);
}

uint32_t tb_standard(struct tb *b, const struct mock_key *k)
{
    tb_init(b, 32, 200);
    uint8_t cnt[4] = {5, 0, 0, 0};
    uint8_t fmt[4] = {1, 1, 0, 0};
    tb_prot(b, FWT_TLV_SEC_CNT, cnt, 4);
    tb_prot(b, FWT_TLV_FORMAT, fmt, 4);
    tb_prot(b, FWT_TLV_HW_ID, "board-a", 7);
    return tb_sign_by(b, k);
}

static enum fwt_sig_alg root_alg(enum fwt_key_type t)
{
    return mock_sig_alg(t, 0);
}

size_t mock_cert(uint8_t *out, const struct mock_key *root, const struct mock_key *key,
                 uint32_t key_version, uint64_t not_after, const char *hw_id)
{
    size_t hw = hw_id ? strlen(hw_id) : 0;
    memcpy(out, FWT_CERT_MAGIC, 4);
    out[4] = FWT_CERT_VERSION;
    out[5] = (uint8_t)key->type;
    out[6] = (uint8_t)root_alg(root->type);
    out[7] = 0;
    tb_put32(out + 8, key_version);
    tb_put32(out + 12, (uint32_t)not_after);
    tb_put32(out + 16, (uint32_t)(not_after >> 32));
    mock_hash(FWT_HASH_SHA256, root->enc, sizeof(root->enc), out + 20, 32);
    tb_put16(out + 52, (uint32_t)hw);
    tb_put16(out + 54, sizeof(key->enc));
    memcpy(out + 56, hw_id ? hw_id : "", hw);
    memcpy(out + 56 + hw, key->enc, sizeof(key->enc));
    size_t tbs = 56 + hw + sizeof(key->enc);
    uint8_t d[32];
    mock_hash(FWT_HASH_SHA256, out, tbs, d, sizeof(d));
    size_t sl = mock_sig_len(root_alg(root->type));
    tb_put16(out + tbs, (uint32_t)sl);
    mock_sign(root_alg(root->type), root->enc, sizeof(root->enc), d, sizeof(d), out + tbs + 2, sl);
    return tbs + 2 + sl;
}

fwt_err mock_verify(const uint8_t *img, uint32_t len, const struct fwt_policy *p,
                    struct fwt_image_info *info)
{
    struct fwt_crypto_ops ops;
    struct mock_crypto mc;
    struct mem_io mio;
    static uint8_t work[FWT_WORK_MIN];
    mock_ops(&ops, &mc);
    mem_io_init(&mio, img, len);
    fwt_err e = fwt_image_verify(&mio.io, &ops, p, work, sizeof(work), info);
    /* Every verify in the core tests also checks the hardened entry point: it
     * decides exactly as fwt_image_verify does, on every failure path. */
    struct fwt_image_info info2;
    volatile fwt_fih check = 0;
    fwt_err reason = FWT_E_INTERNAL;
    mock_ops(&ops, &mc);
    fwt_fih v = fwt_image_verify_fih(&mio.io, &ops, p, work, sizeof(work), &info2, &check,
                                     &reason);
    if (reason != e || (e == FWT_OK) != (v == FWT_FIH_SUCCESS) ||
        (e == FWT_OK) != (FWT_FIH_VERDICT_OK(v, check) != 0) ||
        (e != FWT_OK && (v != FWT_FIH_FAILURE || check != (FWT_FIH_FAILURE ^ FWT_FIH_MASK))) ||
        (info && e == FWT_OK && memcmp(info, &info2, sizeof(info2)) != 0)) {
        abort();
    }
    return e;
}
