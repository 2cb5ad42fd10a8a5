/*
 * Quote verification (docs/attestation.md), in a fixed order with each step
 * named (Keylime's checkquote order, then the catalog): every property starts
 * as failed and is set only by its own check.
 */
#include "attest_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#define FWT_ATTEST_R_NAME(n, s) s,
static const char *const k_reasons[] = {FWT_ATTEST_REASONS(FWT_ATTEST_R_NAME)};
#undef FWT_ATTEST_R_NAME

const char *fwt_attest_reason_name(enum fwt_attest_reason r)
{
    return (unsigned)r < FWT_ATTEST_R__COUNT ? k_reasons[r] : "unknown";
}

static fwt_err refuse(struct fwt_attest_result *res, enum fwt_attest_reason r, const char *fmt,
                      ...) FWT_PRINTF(3, 4);
static fwt_err refuse(struct fwt_attest_result *res, enum fwt_attest_reason r, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
    va_end(ap);
    res->verdict = FWT_ATTEST_FAIL;
    res->reason = r;
    return FWT_OK;
}

static fwt_err ak_key(const struct fwt_tpm_public *p, EVP_PKEY **out)
{
    *out = NULL;
    uint8_t pt[65];
    pt[0] = 0x04;
    memcpy(pt + 1, p->unique, 32);
    memcpy(pt + 33, p->unique_y, 32);
    OSSL_PARAM params[3] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt)),
        OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    int ok = pc && EVP_PKEY_fromdata_init(pc) == 1 &&
             EVP_PKEY_fromdata(pc, out, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(pc);
    return ok ? FWT_OK : fwt_fail(FWT_E_KEY, "AK: not a point on P-256");
}

/* 1: valid, 0: not valid, -1: could not run. */
static int ecdsa_verify(EVP_PKEY *pk, const struct fwt_tpmt_signature *s, const uint8_t *msg,
                        size_t len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(s->r, (int)s->r_len, NULL), *sv = BN_bin2bn(s->s, (int)s->s_len, NULL);
    if (!es || !r || !sv || ECDSA_SIG_set0(es, r, sv) != 1) {
        BN_free(r);
        BN_free(sv);
        ECDSA_SIG_free(es);
        return -1;
    }
    unsigned char *der = NULL;
    int dl = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (dl <= 0) {
        return -1;
    }
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    int rc = -1;
    if (mc && EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, pk) == 1) {
        rc = EVP_DigestVerify(mc, der, (size_t)dl, msg, len) == 1 ? 1 : 0;
    }
    EVP_MD_CTX_free(mc);
    OPENSSL_free(der);
    return rc;
}

struct walk {
    const struct fwt_attest_input *in;
    struct fwt_attest_result *res;
    const struct fwt_attest_image *pending; /* image whose signer event is due */
    uint8_t image[32];                      /* its measured digest */
    enum fwt_attest_reason why;
    char detail[200];
};

/* A catalog entry for a measured image digest (and, when given, that signer). */
static const struct fwt_attest_image *find_image(const struct fwt_attest_input *in,
                                                 const uint8_t d[32], const uint8_t *signer)
{
    for (size_t i = 0; i < in->n_catalog; i++) {
        const struct fwt_attest_image *c = &in->catalog[i];
        uint8_t h[32];
        const uint8_t *cmp = c->digest;
        if (c->digest_len != 32) {
            if (c->digest_len == 0 || c->digest_len > sizeof(c->digest) ||
                fwt_sha256(c->digest, c->digest_len, h) != FWT_OK) {
                continue;
            }
            cmp = h;
        }
        if (fwt_ct_compare(cmp, d, 32) == 0 &&
            (!signer || fwt_ct_compare(c->signer_keyhash, signer, 32) == 0)) {
            return c;
        }
    }
    return NULL;
}

static int walk_fail(struct walk *w, enum fwt_attest_reason r, const char *fmt, ...)
    FWT_PRINTF(3, 4);
static int walk_fail(struct walk *w, enum fwt_attest_reason r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->detail, sizeof(w->detail), fmt, ap);
    va_end(ap);
    w->why = r;
    return 1;
}

static int walk_cb(void *ctx, const struct fwt_tcg_event *ev)
{
    struct walk *w = ctx;
    char hex[65];
    if (!(FWT_PCR_MASK & (1U << ev->pcr))) {
        return 0; /* another PCR: replayed, not ours to judge */
    }
    uint32_t want = ev->pcr == FWT_PCR_IMAGE    ? FWT_TAG_IMAGE
                    : ev->pcr == FWT_PCR_SIGNER ? FWT_TAG_SIGNER
                                                : FWT_TAG_CONFIG;
    if (ev->type != FWT_EV_EVENT_TAG || ev->tag != want) {
        return walk_fail(w, FWT_ATTEST_R_UNEXPECTED_EVENT, "PCR %u holds an event (type 0x%x, "
                         "tag 0x%x) that fwtrust-boot does not make", (unsigned)ev->pcr,
                         (unsigned)ev->type, (unsigned)ev->tag);
    }
    unsigned *seen = ev->pcr == FWT_PCR_IMAGE    ? &w->res->images
                     : ev->pcr == FWT_PCR_SIGNER ? &w->res->signers
                                                 : &w->res->configs;
    if (++*seen > 1) {
        return walk_fail(w, FWT_ATTEST_R_MEASURED_AFTER_BOOT, "PCR %u was extended %u times "
                         "since the TPM's reset: the bootloader measures once per reset",
                         (unsigned)ev->pcr, *seen);
    }
    if (ev->pcr == FWT_PCR_IMAGE) {
        const struct fwt_attest_image *c = find_image(w->in, ev->digest, NULL);
        if (!c) {
            fwt_hex_encode(ev->digest, 32, hex);
            return walk_fail(w, FWT_ATTEST_R_UNKNOWN_IMAGE, "measured image %s is in no "
                             "catalog entry", hex);
        }
        w->pending = c;
        memcpy(w->image, ev->digest, 32);
    } else if (ev->pcr == FWT_PCR_SIGNER) {
        /* the catalog may list an image once per signer */
        const struct fwt_attest_image *c =
            w->pending ? find_image(w->in, w->image, ev->digest) : NULL;
        if (!c) {
            fwt_hex_encode(ev->digest, 32, hex);
            return walk_fail(w, FWT_ATTEST_R_SIGNER_MISMATCH, "signer %s is not the catalog's "
                             "signer of %s", hex, w->pending ? w->pending->name
                                                            : "(no image measured before it)");
        }
        w->pending = NULL;
        w->res->running = c;
    } else {
        memcpy(w->res->config_digest, ev->digest, 32);
        w->res->have_config = 1;
    }
    return 0;
}

fwt_err fwt_attest_verify(const struct fwt_attest_input *in, struct fwt_attest_result *res)
{
    memset(res, 0, sizeof(*res));
    res->verdict = FWT_ATTEST_UNKNOWN;
    res->reason = FWT_ATTEST_R_INTERNAL;
    if (!in->ak_pub || !in->nonces || !in->nonces->consume || !in->quote || !in->sig ||
        !in->pcrs || !in->eventlog || (in->n_catalog && !in->catalog)) {
        snprintf(res->detail, sizeof(res->detail), "verifier called without all its inputs");
        return fwt_fail(FWT_E_ARG, "%s", res->detail);
    }
    /* 1. The AK was bound to a certified EK by credential activation. */
    if (in->ak_activated != 1) {
        return refuse(res, FWT_ATTEST_R_AK_NOT_ACTIVATED, "the AK never completed credential "
                      "activation: nothing ties it to a TPM");
    }
    res->steps_passed++;
    struct fwt_tpm_public ak;
    if (fwt_attest_check_ak(in->ak_pub, in->ak_len, &ak) != FWT_OK) {
        return refuse(res, FWT_ATTEST_R_AK_NOT_ACTIVATED, "enrolled AK: %s", fwt_detail());
    }
    /* 2. Signature by the enrolled AK over the quote bytes. */
    struct fwt_tpmt_signature sig;
    if (fwt_tpmt_signature_parse(in->sig, in->sig_len, &sig) != FWT_OK) {
        return refuse(res, FWT_ATTEST_R_QUOTE_MALFORMED, "%s", fwt_detail());
    }
    if (sig.hash != FWT_TPM_ALG_SHA256) {
        return refuse(res, FWT_ATTEST_R_SIGNATURE, "signature hash 0x%04x, not SHA-256",
                      sig.hash);
    }
    EVP_PKEY *pk = NULL;
    if (ak_key(&ak, &pk) != FWT_OK) {
        return refuse(res, FWT_ATTEST_R_AK_NOT_ACTIVATED, "%s", fwt_detail());
    }
    int v = ecdsa_verify(pk, &sig, in->quote, in->quote_len);
    EVP_PKEY_free(pk);
    if (v < 0) {
        snprintf(res->detail, sizeof(res->detail), "ECDSA verification could not run");
        return fwt_fail(FWT_E_CRYPTO, "%s", res->detail);
    }
    if (v != 1) {
        return refuse(res, FWT_ATTEST_R_SIGNATURE, "the quote is not signed by the enrolled AK");
    }
    res->steps_passed++;
    /* 3. Structure: magic and type (only now: the bytes are the TPM's). */
    struct fwt_tpms_attest *a = &res->attest;
    if (fwt_tpms_attest_parse(in->quote, in->quote_len, a) != FWT_OK) {
        return refuse(res, FWT_ATTEST_R_QUOTE_MALFORMED, "%s", fwt_detail());
    }
    res->have_attest = 1;
    if (a->magic != FWT_TPM_GENERATED) {
        return refuse(res, FWT_ATTEST_R_MAGIC, "magic 0x%08x, not TPM_GENERATED_VALUE",
                      (unsigned)a->magic);
    }
    if (a->type != FWT_TPM_ST_ATTEST_QUOTE) {
        return refuse(res, FWT_ATTEST_R_TYPE, "attestation type 0x%04x, not a quote", a->type);
    }
    res->steps_passed++;
    /* 4. Nonce: the one issued, and single use. */
    if (in->nonce && (in->nonce_len != a->extra_len ||
                      fwt_ct_compare(in->nonce, a->extra, a->extra_len) != 0)) {
        return refuse(res, FWT_ATTEST_R_NONCE_MISMATCH, "the quote's nonce is not the one "
                      "issued for this request");
    }
    if (a->extra_len == 0) {
        return refuse(res, FWT_ATTEST_R_NONCE_MISMATCH, "the quote carries no nonce");
    }
    enum fwt_nonce_state ns = 0;
    fwt_err err = in->nonces->consume(in->nonces->ctx, a->extra, a->extra_len, &ns);
    if (err != FWT_OK) {
        snprintf(res->detail, sizeof(res->detail), "nonce store: %s", fwt_detail());
        return err;
    }
    if (ns == FWT_NONCE_USED) {
        return refuse(res, FWT_ATTEST_R_NONCE_REPLAYED, "the nonce was already used: a replayed "
                      "quote");
    }
    if (ns != FWT_NONCE_FRESH) {
        return refuse(res, FWT_ATTEST_R_NONCE_UNKNOWN, "the nonce was never issued");
    }
    res->steps_passed++;
    /* 5. PCR selection: exactly the SHA-256 bank, fwtrust's PCRs. */
    if (a->pcr_hash != FWT_TPM_ALG_SHA256 || a->pcr_mask != FWT_PCR_MASK) {
        return refuse(res, FWT_ATTEST_R_PCR_SELECTION, "quote selects bank 0x%04x PCRs 0x%06x, "
                      "not SHA-256 PCRs 0x%06x", a->pcr_hash, (unsigned)a->pcr_mask,
                      FWT_PCR_MASK);
    }
    res->steps_passed++;
    /* 6. PCR digest over the reported values. */
    uint8_t cat[24 * 32], d[32];
    size_t cl = 0;
    for (unsigned i = 0; i < 24; i++) {
        if (FWT_PCR_MASK & (1U << i)) {
            memcpy(cat + cl, in->pcrs[i], 32);
            cl += 32;
        }
    }
    if ((err = fwt_sha256(cat, cl, d)) != FWT_OK) {
        return err;
    }
    if (a->pcr_digest_len != 32 || fwt_ct_compare(d, a->pcr_digest, 32) != 0) {
        return refuse(res, FWT_ATTEST_R_PCR_DIGEST, "the reported PCR values are not the "
                      "quoted ones");
    }
    res->steps_passed++;
    /* 7. Event log: parse and replay to the quoted values. */
    uint8_t replay[24][32];
    if (fwt_tcglog_replay(in->eventlog, in->eventlog_len, replay) != FWT_OK) {
        return refuse(res, FWT_ATTEST_R_EVENTLOG_MALFORMED, "%s", fwt_detail());
    }
    for (unsigned i = 0; i < 24; i++) {
        if ((FWT_PCR_MASK & (1U << i)) && fwt_ct_compare(replay[i], in->pcrs[i], 32) != 0) {
            return refuse(res, FWT_ATTEST_R_EVENTLOG_REPLAY, "the event log does not replay to "
                          "the quoted PCR %u", i);
        }
    }
    res->steps_passed++;
    /* 8. Catalog: every image measured is a signed image, with its signer. */
    struct walk w = {.in = in, .res = res, .why = FWT_ATTEST_R_NONE};
    if (fwt_tcglog_parse(in->eventlog, in->eventlog_len, walk_cb, &w) != FWT_OK) {
        if (w.why == FWT_ATTEST_R_NONE) {
            return refuse(res, FWT_ATTEST_R_EVENTLOG_MALFORMED, "%s", fwt_detail());
        }
        return refuse(res, w.why, "%s", w.detail);
    }
    if (res->images == 0) {
        return refuse(res, FWT_ATTEST_R_NO_IMAGE, "the event log measures no image");
    }
    if (w.pending || !res->running) {
        return refuse(res, FWT_ATTEST_R_SIGNER_MISMATCH, "image %s has no signer event",
                      w.pending ? w.pending->name : "(measured)");
    }
    res->steps_passed++;
    /* 9. The running image is the release assigned to this device. */
    if (in->assigned && strcmp(in->assigned, res->running->name) != 0) {
        return refuse(res, FWT_ATTEST_R_NOT_ASSIGNED, "the device runs %s, not its assigned %s",
                      res->running->name, in->assigned);
    }
    res->steps_passed++;
    res->verdict = FWT_ATTEST_PASS;
    res->reason = FWT_ATTEST_R_NONE;
    snprintf(res->detail, sizeof(res->detail), "the TPM quote proves %s %s", res->running->name,
             res->running->version ? res->running->version : "");
    return FWT_OK;
}
