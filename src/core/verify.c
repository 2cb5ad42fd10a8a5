/*
 * fwt_image_verify: structure, digest, signatures (threshold, certificates),
 * hardware id and security counter, decided with fault-injection hardening.
 *
 * Every required property lives in its own fwt_fih variable that starts as
 * FWT_FIH_FAILURE and is set to FWT_FIH_SUCCESS only by its own check. The
 * final decision reads all of them twice (volatile, so the compiler must
 * re-load them), and FWT_OK is returned only when both passes agree.
 *
 * Work buffer layout during the signature phase:
 *   [0, FWT_CERT_MAX)                     certificate or PUBKEY value
 *   [FWT_CERT_MAX, FWT_CERT_MAX + FWT_SIG_MAX)  signature
 * FWT_WORK_MIN covers both. Freestanding.
 */
#include "core_internal.h"

#include <string.h>

#if FWT_CERT_MAX + FWT_SIG_MAX > FWT_WORK_MIN
#error "FWT_WORK_MIN must hold a certificate and a signature"
#endif

struct props {
    volatile fwt_fih digest;
    volatile fwt_fih sig;
    volatile fwt_fih cert;
    volatile fwt_fih hw_id;
    volatile fwt_fih counter;
};

struct sigstate {
    uint32_t n_valid;   /* distinct trusted signing keys */
    uint32_t n_bad;     /* invalid signatures by trusted keys */
    uint32_t n_unknown; /* signatures by keys we do not trust */
    fwt_err cert_err;   /* first certificate failure (FWT_E_CERT / FWT_E_KEY_VERSION) */
    uint8_t ids[FWT_MAX_SIGNERS][32];
    uint32_t anchor[FWT_MAX_SIGNERS]; /* the trust anchor of each signer (fwt_image_info) */
    uint32_t key_version;
    int has_cert;
    uint64_t not_after; /* earliest expiry of the certificates used (0: none expires) */
};

/* Anchor i of the policy: keys[0 .. n_keys), then roots[0 .. n_roots). */
static const struct fwt_trusted_key *anchor_at(const struct fwt_policy *p, size_t i)
{
    return i < p->n_keys ? &p->keys[i] : &p->roots[i - p->n_keys];
}

fwt_err fwt_policy_check(const struct fwt_policy *p)
{
    if (!p) {
        return FWT_E_ARG;
    }
    if (p->n_keys == 0 && p->n_roots == 0) {
        return FWT_E_NO_TRUST;
    }
    if ((p->n_keys > 0 && !p->keys) || (p->n_roots > 0 && !p->roots)) {
        return FWT_E_ARG;
    }
    if (p->n_keys > FWT_MAX_ANCHORS || p->n_roots > FWT_MAX_ANCHORS ||
        p->n_keys + p->n_roots > FWT_MAX_ANCHORS) {
        return FWT_E_ARG;
    }
    if (p->threshold == 0 || p->threshold > FWT_MAX_SIGNERS ||
        (uint64_t)p->threshold > (uint64_t)p->n_keys + (uint64_t)p->n_roots) {
        return FWT_E_ARG;
    }
    if (p->hw_id_len > FWT_HW_ID_MAX || (p->hw_id_len > 0 && !p->hw_id)) {
        return FWT_E_ARG;
    }
    for (size_t i = 0; i < p->n_keys + p->n_roots; i++) {
        const struct fwt_trusted_key *k = anchor_at(p, i);
        if (!k->key || k->key_len == 0 || k->key_len > FWT_PUBKEY_MAX || !fwt_core_alg_by_key(k->type)) {
            return FWT_E_ARG;
        }
        /* One key is one anchor: listed twice (as two keys, two roots, or a key and a root)
         * it would count twice. Refused rather than merged, so the threshold's bound
         * (n_keys + n_roots) is the number of distinct anchors. */
        for (size_t j = 0; j < i; j++) {
            const struct fwt_trusted_key *o = anchor_at(p, j);
            if (o->key_len == k->key_len && fwt_ct_compare(o->key, k->key, k->key_len) == 0) {
                return FWT_E_ARG;
            }
        }
    }
    return FWT_OK;
}

/*
 * The threshold rule: the distinct anchors among n signer anchors, each of
 * which must be an anchor of the policy; *met becomes FWT_FIH_SUCCESS only
 * when they are at least the threshold. The policy was checked already.
 */
static void anchors_meet(const struct fwt_policy *p, const uint32_t *anchor, uint32_t n,
                         volatile fwt_fih *met, uint32_t *n_anchors)
{
    *met = FWT_FIH_FAILURE;
    *n_anchors = 0;
    if (n > FWT_MAX_SIGNERS) {
        return;
    }
    uint32_t distinct = 0;
    for (uint32_t i = 0; i < n; i++) {
        if ((size_t)anchor[i] >= p->n_keys + p->n_roots) {
            return; /* names no anchor of this policy: nothing counts */
        }
        uint32_t seen = 0;
        for (uint32_t j = 0; j < i; j++) {
            seen |= (uint32_t)(anchor[j] == anchor[i]);
        }
        distinct += seen ? 0U : 1U;
    }
    *n_anchors = distinct;
    if (distinct >= p->threshold && p->threshold > 0) {
        *met = FWT_FIH_SUCCESS;
    }
}

fwt_err fwt_policy_threshold_met(const struct fwt_policy *policy,
                                 const struct fwt_image_info *info)
{
    if (!info) {
        return FWT_E_ARG;
    }
    fwt_err e = fwt_policy_check(policy);
    if (e != FWT_OK) {
        return e;
    }
    volatile fwt_fih met = FWT_FIH_FAILURE;
    uint32_t n = 0;
    anchors_meet(policy, info->signer_anchor, info->n_signers, &met, &n);
    if (met != FWT_FIH_SUCCESS) {
        return FWT_E_THRESHOLD;
    }
    if (met != FWT_FIH_SUCCESS || n < policy->threshold) {
        return FWT_E_THRESHOLD;
    }
    return FWT_OK;
}

/* Hash [0, end) of the image through the work buffer. */
static FWT_MUST_CHECK fwt_err image_digest(const struct fwt_io *io, const struct fwt_crypto_ops *c,
                            enum fwt_hash_alg alg, uint32_t end, uint8_t *work, size_t work_len,
                            uint8_t *out, size_t out_len)
{
    fwt_err e = c->hash_init(c->ctx, alg);
    uint32_t off = 0;
    while (e == FWT_OK && off < end) {
        size_t n = (size_t)(end - off) < work_len ? (size_t)(end - off) : work_len;
        e = fwt_core_read(io, off, work, n);
        if (e == FWT_OK) {
            e = c->hash_update(c->ctx, work, n) == FWT_OK ? FWT_OK : FWT_E_CRYPTO;
        }
        off += (uint32_t)n;
    }
    if (e == FWT_OK) {
        e = c->hash_final(c->ctx, out, out_len) == FWT_OK ? FWT_OK : FWT_E_CRYPTO;
    } else if (e != FWT_E_IO) {
        e = FWT_E_CRYPTO;
    }
    return e;
}

/* Does the key TLV (KEYHASH value kh/kh_len, or PUBKEY bytes pk/pk_len) name key? */
static FWT_MUST_CHECK fwt_err key_matches(const struct fwt_crypto_ops *c, uint16_t key_tlv, const uint8_t *val,
                           size_t val_len, const uint8_t *key, size_t key_len, int *match)
{
    *match = 0;
    if (key_tlv == FWT_TLV_PUBKEY) {
        *match = val_len == key_len && fwt_ct_compare(val, key, key_len) == 0;
        return FWT_OK;
    }
    const struct fwt_core_hash *kh = fwt_core_hash_by_size(val_len); /* parse checked it */
    if (!kh) {
        return FWT_E_MALFORMED;
    }
    uint8_t h[FWT_DIGEST_MAX];
    fwt_err e = fwt_core_hash(c, (enum fwt_hash_alg)kh->alg, key, key_len, h, val_len);
    if (e == FWT_OK) {
        *match = fwt_ct_compare(h, val, val_len) == 0;
    }
    return e;
}

/* Record a valid signature by key, vouched for by anchor; the same key twice
 * counts once, for the anchor it was first found under. */
static FWT_MUST_CHECK fwt_err add_signer(const struct fwt_crypto_ops *c, struct sigstate *s, const uint8_t *key,
                          size_t key_len, uint32_t anchor)
{
    uint8_t id[32];
    fwt_err e = fwt_core_hash(c, FWT_HASH_SHA256, key, key_len, id, sizeof(id));
    if (e != FWT_OK) {
        return e;
    }
    for (uint32_t i = 0; i < s->n_valid; i++) {
        if (fwt_ct_compare(s->ids[i], id, sizeof(id)) == 0) {
            return FWT_OK;
        }
    }
    if (s->n_valid < FWT_MAX_SIGNERS) {
        memcpy(s->ids[s->n_valid], id, sizeof(id));
        s->anchor[s->n_valid] = anchor;
        s->n_valid++;
    }
    return FWT_OK;
}

struct group {
    uint16_t key_tlv;
    uint32_t key_off;
    uint16_t key_len;
    int has_cert;
    uint32_t cert_off;
    uint16_t cert_len;
};

/* imgtool --pad-sig's padding (fwt_verify.h: fwt_sig_unpadded_len). MCUboot parses the DER
 * SEQUENCE and ignores what follows it; here the padding must be zeros and the padded length no
 * more than the curve's largest DER size (fail closed). */
size_t fwt_sig_unpadded_len(enum fwt_sig_alg alg, enum fwt_key_type kt, const uint8_t *sig,
                            size_t sig_len)
{
    const struct fwt_core_alg *a = fwt_core_alg_by_key(kt);
    if ((alg != FWT_SIG_ECDSA_P256 && alg != FWT_SIG_ECDSA_P384) || a == NULL || sig_len < 2 ||
        sig_len > a->sig_size || sig[0] != 0x30 || sig[1] >= 0x80) {
        return sig_len; /* both curves' DER fits the short length form */
    }
    size_t der_len = 2U + sig[1];
    if (der_len >= sig_len) {
        return sig_len;
    }
    for (size_t i = der_len; i < sig_len; i++) {
        if (sig[i] != 0) {
            return sig_len; /* not padding: the backend refuses the trailing bytes */
        }
    }
    return der_len;
}

/* One [CERT] KEY SIG group. Returns an error only for what stops verification. */
static FWT_MUST_CHECK fwt_err check_group(const struct fwt_io *io, const struct fwt_crypto_ops *c,
                           const struct fwt_policy *p, const struct fwt_layout *lay,
                           const struct fwt_image_info *info, const struct group *g,
                           uint16_t sig_tlv, uint32_t sig_off, uint16_t sig_len, uint8_t *work,
                           struct sigstate *s)
{
    uint8_t kval[FWT_DIGEST_MAX];
    const uint8_t *val;
    fwt_err e;
    /* The key TLV value: a hash (<= 64 bytes, on the stack) or a key (in work). */
    if (g->key_tlv == FWT_TLV_KEYHASH) {
        if ((e = fwt_core_read(io, g->key_off, kval, g->key_len)) != FWT_OK) {
            return e;
        }
        val = kval;
    } else {
        if ((e = fwt_core_read(io, g->key_off, work, g->key_len)) != FWT_OK) {
            return e;
        }
        val = work;
    }
    const uint8_t *key = NULL;
    size_t key_len = 0;
    enum fwt_key_type kt = FWT_KEY_NONE;
    uint32_t anchor = 0; /* the key's index, or n_keys + the root's (< FWT_MAX_ANCHORS) */
    for (size_t i = 0; i < p->n_keys && !key; i++) {
        int m;
        e = key_matches(c, g->key_tlv, val, g->key_len, p->keys[i].key, p->keys[i].key_len, &m);
        if (e != FWT_OK) {
            return e;
        }
        if (m) {
            key = p->keys[i].key;
            key_len = p->keys[i].key_len;
            kt = p->keys[i].type;
            anchor = (uint32_t)i;
        }
    }
    if (!key && g->has_cert) {
        /* Not trusted directly: through a certificate from a trusted root?
         * (The certificate overwrites a PUBKEY value in work; it is re-read below.) */
        struct fwt_cert cert;
        volatile fwt_fih cfih = FWT_FIH_FAILURE;
        size_t root_index = p->n_roots;
        if ((e = fwt_core_read(io, g->cert_off, work, g->cert_len)) != FWT_OK) {
            return e;
        }
        e = fwt_cert_check(work, g->cert_len, c, p, &cert, &cfih, &root_index);
        if (e == FWT_E_UNKNOWN_KEY) {
            s->n_unknown++;
            return FWT_OK;
        }
        if (e == FWT_E_CERT || e == FWT_E_KEY_VERSION) {
            if (s->cert_err == FWT_OK) {
                s->cert_err = e;
            }
            return FWT_OK;
        }
        if (e != FWT_OK) {
            return e; /* malformed (parse checked it already), crypto failure */
        }
        if (cfih != FWT_FIH_SUCCESS || root_index >= p->n_roots) {
            return FWT_E_INTERNAL;
        }
        int m = 0;
        if (g->key_tlv == FWT_TLV_KEYHASH) {
            e = key_matches(c, g->key_tlv, kval, g->key_len, cert.key, cert.key_len, &m);
        } else {
            /* PUBKEY: compare the image's key bytes with the certified key in place. */
            uint8_t chunk[64];
            m = g->key_len == cert.key_len;
            for (uint32_t done = 0; e == FWT_OK && m && done < g->key_len;) {
                uint32_t n = g->key_len - done > sizeof(chunk) ? sizeof(chunk) : g->key_len - done;
                e = fwt_core_read(io, g->key_off + done, chunk, n);
                m = e == FWT_OK && fwt_ct_compare(chunk, cert.key + done, n) == 0;
                done += n;
            }
        }
        if (e != FWT_OK) {
            return e;
        }
        if (!m) {
            if (s->cert_err == FWT_OK) {
                s->cert_err = FWT_E_CERT; /* the certificate is for another key */
            }
            return FWT_OK;
        }
        key = cert.key; /* inside work[0, FWT_CERT_MAX) */
        key_len = cert.key_len;
        kt = cert.key_type;
        anchor = (uint32_t)(p->n_keys + root_index); /* the root vouches, not the key */
        s->has_cert = 1;
        s->key_version = cert.key_version;
        if (cert.not_after != 0 && (s->not_after == 0 || cert.not_after < s->not_after)) {
            s->not_after = cert.not_after;
        }
    }
    if (!key) {
        s->n_unknown++;
        return FWT_OK;
    }
    enum fwt_sig_alg alg;
    e = fwt_core_sig_alg(sig_tlv, kt, info->hash_alg, lay->pure, &alg);
    if (e == FWT_E_SIGNATURE) {
        s->n_bad++; /* a trusted key never makes this kind of signature */
        return FWT_OK;
    }
    if (e != FWT_OK) {
        return e;
    }
    uint8_t *sig = work + FWT_CERT_MAX;
    if ((e = fwt_core_read(io, sig_off, sig, sig_len)) != FWT_OK) {
        return e;
    }
    if (alg == FWT_SIG_ED25519_PURE) {
        e = c->verify(c->ctx, alg, key, key_len, NULL, lay->unprot_off, io, sig, sig_len);
    } else {
        e = c->verify(c->ctx, alg, key, key_len, info->digest, info->digest_len, io, sig,
                      fwt_sig_unpadded_len(alg, kt, sig, sig_len));
    }
    if (e == FWT_OK) {
        return add_signer(c, s, key, key_len, anchor);
    }
    if (e == FWT_E_SIGNATURE) {
        s->n_bad++;
        return FWT_OK;
    }
    return e == FWT_E_KEY ? FWT_E_KEY : FWT_E_CRYPTO;
}

static FWT_MUST_CHECK fwt_err check_signatures(const struct fwt_io *io, const struct fwt_crypto_ops *c,
                                const struct fwt_policy *p, const struct fwt_layout *lay,
                                const struct fwt_image_info *info, uint8_t *work,
                                struct sigstate *s)
{
    struct fwt_tlv_iter it;
    fwt_err e = fwt_tlv_iter_begin(&it, io, &lay->hdr, 0);
    if (e != FWT_OK) {
        return e == FWT_E_NOT_FOUND ? FWT_E_MALFORMED : e;
    }
    struct group g;
    memset(&g, 0, sizeof(g));
    for (;;) {
        uint16_t t, len;
        uint32_t off;
        e = fwt_tlv_next(&it, &t, &off, &len);
        if (e == FWT_E_NOT_FOUND) {
            return FWT_OK;
        }
        if (e != FWT_OK) {
            return e;
        }
        switch (t) {
        case FWT_TLV_CERT:
            g.has_cert = 1;
            g.cert_off = off;
            g.cert_len = len;
            break;
        case FWT_TLV_KEYHASH:
        case FWT_TLV_PUBKEY:
            g.key_tlv = t;
            g.key_off = off;
            g.key_len = len;
            break;
        default:
            if (!fwt_core_alg_by_tlv(t)) {
                break; /* the hash TLV */
            }
            /* a signature TLV */
            if (g.key_tlv == 0) {
                return FWT_E_MALFORMED; /* parse refused this already */
            }
            e = check_group(io, c, p, lay, info, &g, t, off, len, work, s);
            if (e != FWT_OK) {
                return e;
            }
            memset(&g, 0, sizeof(g));
            break;
        }
    }
}

/* The caller's digest of [0, unprot_off) when it hashed the bytes itself (pre != NULL). */
struct prehash {
    enum fwt_hash_alg alg;
    const uint8_t *digest;
    size_t len;
};

static FWT_MUST_CHECK fwt_err verify_image(const struct fwt_io *io,
                                           const struct fwt_crypto_ops *crypto,
                                           const struct fwt_policy *policy,
                                           const struct prehash *pre, uint8_t *work,
                                           size_t work_len, struct fwt_image_info *info,
                                           volatile fwt_fih *verdict)
{
    *verdict = FWT_FIH_FAILURE;
    struct fwt_image_info local;
    if (!info) {
        info = &local;
    }
    memset(info, 0, sizeof(*info));
    struct props pr;
    pr.digest = FWT_FIH_FAILURE;
    pr.sig = FWT_FIH_FAILURE;
    pr.cert = FWT_FIH_FAILURE;
    pr.hw_id = FWT_FIH_FAILURE;
    pr.counter = FWT_FIH_FAILURE;

    if (!io || !io->read || !policy || !work || !fwt_core_ops_ok(crypto)) {
        return FWT_E_ARG;
    }
    fwt_err e = fwt_policy_check(policy);
    if (e != FWT_OK) {
        return e;
    }
    if (work_len < FWT_WORK_MIN) {
        return FWT_E_BUFFER;
    }

    /* 1. Structure (the same parser as fwt_image_parse). */
    struct fwt_layout lay;
    if ((e = fwt_core_parse(io, work, work_len, info, &lay)) != FWT_OK) {
        return e;
    }
    if (info->enc_key_len != 0 && !(io->flags & FWT_IO_PLAINTEXT)) {
        return FWT_E_UNSUPPORTED; /* encrypted: only its plaintext can be verified */
    }

    /* 2. Digest over header, payload and protected TLVs, compared in constant time
     *    (the caller's own digest of those bytes when it gave one). */
    uint8_t dig[FWT_DIGEST_MAX];
    if (pre) {
        if (pre->alg != info->hash_alg || pre->len != info->digest_len) {
            return FWT_E_UNSUPPORTED;
        }
        memcpy(dig, pre->digest, pre->len);
    } else {
        e = image_digest(io, crypto, info->hash_alg, lay.unprot_off, work, work_len, dig,
                         info->digest_len);
        if (e != FWT_OK) {
            return e;
        }
    }
    if (fwt_ct_compare(dig, info->digest, info->digest_len) == 0) {
        pr.digest = FWT_FIH_SUCCESS;
    }
    if (pr.digest != FWT_FIH_SUCCESS) {
        return FWT_E_DIGEST;
    }

    /* 3. Signatures: threshold of distinct trust anchors, certificates. */
    struct sigstate s;
    memset(&s, 0, sizeof(s));
    if ((e = check_signatures(io, crypto, policy, &lay, info, work, &s)) != FWT_OK) {
        return e;
    }
    info->n_signers = s.n_valid;
    memcpy(info->signer_keyhash, s.ids, sizeof(info->signer_keyhash));
    memcpy(info->signer_anchor, s.anchor, sizeof(info->signer_anchor));
    info->has_cert = (uint8_t)s.has_cert;
    info->key_version = s.key_version;
    info->cert_not_after = s.not_after;
    if (s.n_bad > 0) {
        return FWT_E_SIGNATURE;
    }
    if (s.cert_err != FWT_OK) {
        return s.cert_err;
    }
    pr.cert = FWT_FIH_SUCCESS;
    /* Distinct anchors, not distinct keys: one root that certified several keys is one. */
    anchors_meet(policy, s.anchor, s.n_valid, &pr.sig, &info->n_anchors);
    if (pr.sig != FWT_FIH_SUCCESS) {
        return s.n_valid > 0 ? FWT_E_THRESHOLD : s.n_unknown > 0 ? FWT_E_UNKNOWN_KEY
                                                                 : FWT_E_UNSIGNED;
    }

    /* 4. Hardware id: exactly the device's, when it names one. */
    if (policy->hw_id_len == 0) {
        pr.hw_id = FWT_FIH_SUCCESS;
    } else if (info->hw_id_len == policy->hw_id_len &&
               fwt_ct_compare(info->hw_id, policy->hw_id, policy->hw_id_len) == 0) {
        pr.hw_id = FWT_FIH_SUCCESS;
    }
    if (pr.hw_id != FWT_FIH_SUCCESS) {
        return FWT_E_HW_ID;
    }

    /* 5. Security counter: present and >= the minimum, when there is one. */
    if (policy->min_security_counter == 0) {
        pr.counter = FWT_FIH_SUCCESS;
    } else if (info->has_security_counter &&
               info->security_counter >= policy->min_security_counter) {
        pr.counter = FWT_FIH_SUCCESS;
    }
    if (pr.counter != FWT_FIH_SUCCESS) {
        return FWT_E_COUNTER;
    }

    /* 6. The decision, twice: a skipped branch above still meets these. */
    if (pr.digest != FWT_FIH_SUCCESS || pr.sig != FWT_FIH_SUCCESS ||
        pr.cert != FWT_FIH_SUCCESS || pr.hw_id != FWT_FIH_SUCCESS ||
        pr.counter != FWT_FIH_SUCCESS) {
        return FWT_E_INTERNAL;
    }
    if (fwt_ct_compare(dig, info->digest, info->digest_len) != 0) {
        return FWT_E_DIGEST; /* re-check the digest itself, not only its flag */
    }
    volatile fwt_fih sig2 = FWT_FIH_FAILURE; /* and count the anchors again */
    uint32_t n_anchors2 = 0;
    anchors_meet(policy, s.anchor, s.n_valid, &sig2, &n_anchors2);
    if (sig2 != FWT_FIH_SUCCESS || n_anchors2 < policy->threshold) {
        return FWT_E_INTERNAL;
    }
    if ((pr.digest ^ pr.sig ^ pr.cert ^ pr.hw_id ^ pr.counter) != FWT_FIH_SUCCESS ||
        pr.digest != FWT_FIH_SUCCESS || pr.sig != FWT_FIH_SUCCESS ||
        pr.cert != FWT_FIH_SUCCESS || pr.hw_id != FWT_FIH_SUCCESS ||
        pr.counter != FWT_FIH_SUCCESS) {
        return FWT_E_INTERNAL;
    }
    /* The verdict comes from the five values themselves (AND: FWT_FIH_SUCCESS only
     * when every one is), not from a constant a skipped branch could reach. */
    *verdict = pr.digest & pr.sig & pr.cert & pr.hw_id & pr.counter;
    return FWT_OK;
}

fwt_err fwt_image_verify(const struct fwt_io *io, const struct fwt_crypto_ops *crypto,
                         const struct fwt_policy *policy, uint8_t *work, size_t work_len,
                         struct fwt_image_info *info)
{
    volatile fwt_fih verdict = FWT_FIH_FAILURE;
    return verify_image(io, crypto, policy, NULL, work, work_len, info, &verdict);
}

fwt_fih fwt_image_verify_fih(const struct fwt_io *io, const struct fwt_crypto_ops *crypto,
                             const struct fwt_policy *policy, uint8_t *work, size_t work_len,
                             struct fwt_image_info *info, volatile fwt_fih *check,
                             fwt_err *reason)
{
    if (!check) {
        if (reason) {
            *reason = FWT_E_ARG;
        }
        return FWT_FIH_FAILURE;
    }
    *check = FWT_FIH_FAILURE ^ FWT_FIH_MASK;
    volatile fwt_fih verdict = FWT_FIH_FAILURE;
    fwt_err e = verify_image(io, crypto, policy, NULL, work, work_len, info, &verdict);
    if (reason) {
        *reason = e;
    }
    if (e != FWT_OK || verdict != FWT_FIH_SUCCESS) {
        return FWT_FIH_FAILURE;
    }
    /* Both copies from the re-read verdict; a skipped store leaves check at FAILURE. */
    *check = verdict ^ FWT_FIH_MASK;
    if (e != FWT_OK || verdict != FWT_FIH_SUCCESS) {
        *check = FWT_FIH_FAILURE ^ FWT_FIH_MASK;
        return FWT_FIH_FAILURE;
    }
    return verdict;
}

fwt_err fwt_image_verify_prehashed(const struct fwt_io *io, const struct fwt_crypto_ops *crypto,
                                   const struct fwt_policy *policy, enum fwt_hash_alg alg,
                                   const uint8_t *digest, size_t digest_len, uint8_t *work,
                                   size_t work_len, struct fwt_image_info *info)
{
    if (!digest || digest_len == 0 || digest_len > FWT_DIGEST_MAX) {
        if (info) {
            memset(info, 0, sizeof(*info));
        }
        return FWT_E_ARG;
    }
    struct prehash pre = {alg, digest, digest_len};
    volatile fwt_fih verdict = FWT_FIH_FAILURE;
    return verify_image(io, crypto, policy, &pre, work, work_len, info, &verdict);
}
