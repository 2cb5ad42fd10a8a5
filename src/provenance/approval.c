/*
 * Approvals of a short-lived signing certificate bound to one build's provenance:
 * each approver signs (DSSE) the provenance envelope's digest, the builder id and the
 * signing key id; `fwtrust cert issue` certifies the key only after k distinct
 * approvers did (docs/key-custody.md, "Short-lived signing certificates").
 */
#include "prov_internal.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALID_MAX (7 * 24 * 3600)

/* The provenance's digest and builder id. */
static fwt_err prov_facts(const uint8_t *env, size_t env_len, uint8_t sha[32], char *builder, size_t blen)
{
    struct fwt_dsse_envelope e;
    fwt_err err = fwt_dsse_parse(env, env_len, &e);
    if (err != FWT_OK) {
        return fwt_fail(err, "provenance: %s", fwt_detail());
    }
    struct fwt_provenance p;
    memset(&p, 0, sizeof(p));
    if (strcmp(e.payload_type, FWT_INTOTO_PAYLOAD_TYPE) != 0) {
        err = fwt_fail(FWT_E_META, "provenance: payload type \"%.80s\" is not in-toto", e.payload_type);
    } else if ((err = fwt_provenance_parse(e.payload, e.payload_len, &p)) != FWT_OK) {
        err = fwt_fail(err, "provenance: %s", fwt_detail());
    } else if (p.builder_id == NULL || strlen(p.builder_id) >= blen) {
        err = fwt_fail(FWT_E_MALFORMED, "provenance: no SLSA builder id (or one over %zu bytes)", blen - 1);
    } else {
        snprintf(builder, blen, "%s", p.builder_id);
        err = fwt_sha256(env, env_len, sha);
    }
    fwt_provenance_free(&p);
    fwt_dsse_free(&e);
    return err;
}

fwt_err fwt_approval_make(fwt_privkey *approver, const uint8_t *env, size_t env_len,
                          const fwt_pubkey *signing_key, int64_t now, int64_t valid_for, char **out,
                          size_t *out_len)
{
    if (approver == NULL || env == NULL || signing_key == NULL || out == NULL) {
        return fwt_fail(FWT_E_ARG, "approval: missing argument");
    }
    if (valid_for < 1 || valid_for > VALID_MAX) {
        return fwt_fail(FWT_E_ARG, "approval: valid for 1 s to 7 days");
    }
    uint8_t sha[32];
    char builder[256], hex[65], kid[65];
    fwt_err err = prov_facts(env, env_len, sha, builder, sizeof(builder));
    if (err == FWT_OK) {
        err = prov_key_id(signing_key, kid);
    }
    if (err != FWT_OK) {
        return err;
    }
    fwt_hex_encode(sha, 32, hex);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "_type", FWT_APPROVAL_TYPE, "provenance_sha256", hex,
                          "builder_id", builder, "signing_key_id", kid, "approved_at", (json_int_t)now, "expires",
                          (json_int_t)(now + valid_for));
    char *payload = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (payload == NULL) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    struct fwt_dsse_envelope e;
    err = fwt_dsse_init(&e, FWT_APPROVAL_PAYLOAD_TYPE, (const uint8_t *)payload, strlen(payload));
    free(payload);
    if (err == FWT_OK) {
        err = fwt_dsse_sign(&e, approver);
    }
    if (err == FWT_OK) {
        err = fwt_dsse_serialize(&e, out, out_len);
    }
    fwt_dsse_free(&e);
    return err;
}

/* One approval's payload against what it must say. */
static fwt_err approval_payload(const struct fwt_dsse_envelope *e, const char *want_hex, const char *builder,
                                const char *kid, int64_t now, int64_t *expires)
{
    json_t *o = json_loadb((const char *)e->payload, e->payload_len, JSON_REJECT_DUPLICATES, NULL);
    const char *t = json_string_value(json_object_get(o, "_type"));
    const char *ps = json_string_value(json_object_get(o, "provenance_sha256"));
    const char *b = json_string_value(json_object_get(o, "builder_id"));
    const char *k = json_string_value(json_object_get(o, "signing_key_id"));
    json_t *ex = json_object_get(o, "expires");
    fwt_err err = FWT_OK;
    if (!json_is_object(o) || !t || strcmp(t, FWT_APPROVAL_TYPE) || !ps || !b || !k || !json_is_integer(ex) ||
        json_object_size(o) != 6) {
        err = fwt_fail(FWT_E_MALFORMED, "not an approval (%s)", FWT_APPROVAL_TYPE);
    } else if (strlen(ps) != 64 || CRYPTO_memcmp(ps, want_hex, 64) != 0 || strcmp(b, builder) != 0) {
        err = fwt_fail(FWT_E_META_MISMATCH, "it approves another build");
    } else if (strlen(k) != 64 || CRYPTO_memcmp(k, kid, 64) != 0) {
        err = fwt_fail(FWT_E_META_MISMATCH, "it approves another signing key");
    } else if (json_integer_value(ex) <= now) {
        err = fwt_fail(FWT_E_META_EXPIRED, "it expired");
    } else {
        *expires = json_integer_value(ex);
    }
    json_decref(o);
    return err;
}

fwt_err fwt_approval_check(const uint8_t *const *approvals, const size_t *lens, size_t n,
                           const fwt_pubkey *const *approvers, size_t n_approvers, size_t k, const uint8_t *env,
                           size_t env_len, const fwt_pubkey *signing_key, int64_t now,
                           struct fwt_approval_result *res)
{
    if (res == NULL || (approvals == NULL && n) || (approvers == NULL && n_approvers) || env == NULL ||
        signing_key == NULL) {
        return fwt_fail(FWT_E_ARG, "approvals: missing argument");
    }
    memset(res, 0, sizeof(res[0]));
    if (k == 0) {
        return fwt_fail(FWT_E_ARG, "approvals: a threshold of 0 approves anything");
    }
    if (n > FWT_APPROVALS_MAX || n_approvers > FWT_APPROVALS_MAX) {
        return fwt_fail(FWT_E_ARG, "approvals: at most %u approvals and approvers", FWT_APPROVALS_MAX);
    }
    char hex[65], kid[65];
    fwt_err err = prov_facts(env, env_len, res->provenance_sha256, res->builder_id, sizeof(res->builder_id));
    if (err == FWT_OK) {
        err = prov_key_id(signing_key, kid);
    }
    if (err != FWT_OK) {
        return err;
    }
    fwt_hex_encode(res->provenance_sha256, 32, hex);
    char why[768] = "";
    size_t wl = 0;
    for (size_t i = 0; i < n; i++) {
        struct fwt_dsse_envelope e;
        fwt_err e1 = fwt_dsse_parse(approvals[i], lens[i], &e);
        uint8_t acc[FWT_APPROVALS_MAX];
        memset(acc, 0, sizeof(acc));
        int64_t expires = 0;
        if (e1 == FWT_OK) {
            e1 = fwt_dsse_verify(&e, approvers, n_approvers, 1, FWT_APPROVAL_PAYLOAD_TYPE, acc);
            if (e1 == FWT_OK) {
                e1 = approval_payload(&e, hex, res->builder_id, kid, now, &expires);
            }
            fwt_dsse_free(&e);
        }
        if (e1 != FWT_OK) {
            int w = snprintf(why + wl, sizeof(why) - wl, "%sapproval %zu: %s", wl ? "; " : "", i + 1, fwt_detail());
            wl = w < 0 || (size_t)w >= sizeof(why) - wl ? sizeof(why) - 1 : wl + (size_t)w;
            continue;
        }
        for (size_t j = 0; j < n_approvers; j++) {
            uint8_t id[32];
            if (!acc[j] || fwt_pubkey_keyhash(approvers[j], id) != FWT_OK) {
                continue;
            }
            int seen = 0;
            for (size_t a = 0; a < res->n_approvers; a++) {
                seen |= CRYPTO_memcmp(res->approvers[a], id, 32) == 0;
            }
            if (!seen && res->n_approvers < FWT_APPROVALS_MAX) {
                memcpy(res->approvers[res->n_approvers++], id, 32);
                if (res->expires == 0 || expires < res->expires) {
                    res->expires = expires;
                }
            }
        }
    }
    if (res->n_approvers < k) {
        return fwt_fail(FWT_E_THRESHOLD, "%zu distinct approver(s) approved this build and key, %zu required%s%s",
                        res->n_approvers, k, wl ? ": " : "", why);
    }
    return FWT_OK;
}
