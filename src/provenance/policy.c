/*
 * Provenance policy: which builders (ids and their keys) may vouch for an
 * artifact, from which source, and how many must agree. Parsing and the
 * verification of envelopes against it (docs/provenance.md).
 */
#include "prov_internal.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void fwt_prov_policy_free(struct fwt_prov_policy *pol)
{
    if (pol == NULL) {
        return;
    }
    free(pol->predicate_type);
    free(pol->build_type);
    free(pol->source_uri);
    free(pol->source_revision);
    for (size_t i = 0; i < pol->n_builders; i++) {
        free(pol->builders[i].id);
        for (size_t j = 0; j < pol->builders[i].n_keys; j++) {
            fwt_pubkey_free(pol->builders[i].keys[j]);
        }
    }
    memset(pol, 0, sizeof(*pol));
}

static fwt_err pol_str(json_t *o, const char *name, int required, char **out)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL && !required) {
        return FWT_OK;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return fwt_fail(FWT_E_MALFORMED, "policy: \"%s\" %s", name,
                        v == NULL ? "is required" : "must be a non-empty string");
    }
    return (*out = strdup(json_string_value(v))) ? FWT_OK : FWT_E_NOMEM;
}

static fwt_err pol_u32(json_t *o, const char *name, uint32_t def, uint32_t *out)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL) {
        *out = def;
        return FWT_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 64) {
        return fwt_fail(FWT_E_MALFORMED, "policy: \"%s\" must be an integer from 1 to 64", name);
    }
    *out = (uint32_t)json_integer_value(v);
    return FWT_OK;
}

static fwt_err parse_builder(json_t *b, size_t idx, struct fwt_prov_policy *pol,
                             char ids[][65], size_t *n_ids)
{
    struct fwt_prov_builder *pb = &pol->builders[idx];
    const char *k;
    json_t *v;
    if (!json_is_object(b)) {
        return fwt_fail(FWT_E_MALFORMED, "policy: builder %zu is not an object", idx);
    }
    json_object_foreach(b, k, v)
    {
        if (strcmp(k, "id") && strcmp(k, "keys")) {
            return fwt_fail(FWT_E_MALFORMED, "policy: builder %zu: unknown member \"%.40s\"", idx, k);
        }
    }
    fwt_err e = pol_str(b, "id", 1, &pb->id);
    if (e != FWT_OK) {
        return fwt_fail(e, "policy: builder %zu: %s", idx, fwt_detail());
    }
    for (size_t i = 0; i < idx; i++) {
        if (!strcmp(pol->builders[i].id, pb->id)) {
            return fwt_fail(FWT_E_MALFORMED, "policy: builder id \"%.80s\" listed twice", pb->id);
        }
    }
    json_t *keys = json_object_get(b, "keys");
    if (!json_is_array(keys) || json_array_size(keys) == 0 ||
        json_array_size(keys) > FWT_POLICY_KEYS_MAX) {
        return fwt_fail(FWT_E_MALFORMED, "policy: builder \"%.80s\": \"keys\" must list 1 to %u PEM public keys",
                        pb->id, FWT_POLICY_KEYS_MAX);
    }
    size_t i;
    json_array_foreach(keys, i, v)
    {
        if (!json_is_string(v)) {
            return fwt_fail(FWT_E_MALFORMED, "policy: builder \"%.80s\": key %zu is not PEM text", pb->id, i);
        }
        fwt_pubkey *key = NULL;
        if (fwt_pubkey_from_pem(json_string_value(v), json_string_length(v), &key) != FWT_OK) {
            return fwt_fail(FWT_E_MALFORMED, "policy: builder \"%.80s\": key %zu is not a PEM public key",
                            pb->id, i);
        }
        pb->keys[pb->n_keys++] = key;
        if (*n_ids >= FWT_POLICY_BUILDERS_MAX * FWT_POLICY_KEYS_MAX) {
            return FWT_E_INTERNAL;
        }
        if ((e = prov_key_id(key, ids[*n_ids])) != FWT_OK) {
            return e;
        }
        for (size_t j = 0; j < *n_ids; j++) {
            if (!strcmp(ids[j], ids[*n_ids])) {
                /* one key under two builders would let one machine be two builders */
                return fwt_fail(FWT_E_MALFORMED, "policy: key %.16s is listed twice (builder \"%.80s\")",
                                ids[j], pb->id);
            }
        }
        (*n_ids)++;
    }
    return FWT_OK;
}

fwt_err fwt_prov_policy_parse(const uint8_t *buf, size_t len, struct fwt_prov_policy *pol)
{
    if (buf == NULL || pol == NULL) {
        return FWT_E_ARG;
    }
    memset(pol, 0, sizeof(*pol));
    if (len > FWT_DSSE_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE, "policy: larger than %u bytes", FWT_DSSE_MAX);
    }
    json_error_t je;
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        return fwt_fail(FWT_E_MALFORMED, "policy: not JSON (line %d: %s)", je.line, je.text);
    }
    fwt_err e = FWT_OK;
    static const char *const known[] = {"version",         "predicate_type", "build_type",
                                        "source_uri",      "source_revision", "threshold",
                                        "required_builders", "builders"};
    const char *k;
    json_t *v;
    if (!json_is_object(o)) {
        e = fwt_fail(FWT_E_MALFORMED, "policy: not a JSON object");
        goto out;
    }
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            ok |= !strcmp(k, known[i]);
        }
        if (!ok) {
            e = fwt_fail(FWT_E_MALFORMED, "policy: unknown member \"%.40s\"", k);
            goto out;
        }
    }
    json_t *ver = json_object_get(o, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        e = fwt_fail(FWT_E_MALFORMED, "policy: \"version\" must be 1");
        goto out;
    }
    if ((e = pol_str(o, "predicate_type", 0, &pol->predicate_type)) != FWT_OK ||
        (e = pol_str(o, "build_type", 0, &pol->build_type)) != FWT_OK ||
        (e = pol_str(o, "source_uri", 1, &pol->source_uri)) != FWT_OK ||
        (e = pol_str(o, "source_revision", 0, &pol->source_revision)) != FWT_OK ||
        (e = pol_u32(o, "threshold", 1, &pol->threshold)) != FWT_OK ||
        (e = pol_u32(o, "required_builders", 1, &pol->required_builders)) != FWT_OK) {
        goto out;
    }
    if (pol->predicate_type == NULL && (pol->predicate_type = strdup(FWT_SLSA_PROVENANCE_V1)) == NULL) {
        e = FWT_E_NOMEM;
        goto out;
    }
    json_t *bl = json_object_get(o, "builders");
    if (!json_is_array(bl) || json_array_size(bl) == 0 ||
        json_array_size(bl) > FWT_POLICY_BUILDERS_MAX) {
        e = fwt_fail(FWT_E_MALFORMED, "policy: \"builders\" must list 1 to %u builders",
                     FWT_POLICY_BUILDERS_MAX);
        goto out;
    }
    char ids[FWT_POLICY_BUILDERS_MAX * FWT_POLICY_KEYS_MAX][65];
    size_t n_ids = 0, i;
    json_array_foreach(bl, i, v)
    {
        pol->n_builders++;
        if ((e = parse_builder(v, i, pol, ids, &n_ids)) != FWT_OK) {
            goto out;
        }
        if (pol->builders[i].n_keys < pol->threshold) {
            e = fwt_fail(FWT_E_MALFORMED, "policy: builder \"%.80s\" has %zu key(s), below the threshold %u",
                         pol->builders[i].id, pol->builders[i].n_keys, pol->threshold);
            goto out;
        }
    }
    if (pol->required_builders > pol->n_builders) {
        e = fwt_fail(FWT_E_MALFORMED, "policy: required_builders %u but only %zu builder(s) listed",
                     pol->required_builders, pol->n_builders);
    }
out:
    json_decref(o);
    if (e != FWT_OK) {
        fwt_prov_policy_free(pol);
    }
    return e;
}

fwt_err fwt_prov_verify(const struct fwt_prov_policy *pol, const struct fwt_dsse_envelope *env,
                        enum fwt_hash_alg alg, const uint8_t *digest, size_t digest_len,
                        const char *expected_revision, struct fwt_prov_result *res)
{
    if (pol == NULL || env == NULL || digest == NULL || res == NULL || pol->n_builders == 0) {
        return fwt_fail(FWT_E_ARG, "provenance verify: missing argument");
    }
    memset(res, 0, sizeof(*res));
    const struct fwt_hash_desc *h = fwt_hash_by_alg(alg);
    if (h == NULL || h->size != digest_len) {
        return fwt_fail(FWT_E_ARG, "provenance verify: artifact digest of %zu bytes for %s", digest_len,
                        fwt_hash_name(alg));
    }
    /* 1. signatures, against every key of the policy (each key counted once) */
    _Static_assert(FWT_POLICY_BUILDERS_MAX * FWT_POLICY_KEYS_MAX <= FWT_DSSE_KEYS_MAX, "policy keys fit a DSSE check");
    const fwt_pubkey *keys[FWT_POLICY_BUILDERS_MAX * FWT_POLICY_KEYS_MAX];
    size_t owner[FWT_POLICY_BUILDERS_MAX * FWT_POLICY_KEYS_MAX], n = 0;
    for (size_t b = 0; b < pol->n_builders; b++) {
        for (size_t j = 0; j < pol->builders[b].n_keys; j++) {
            owner[n] = b;
            keys[n++] = pol->builders[b].keys[j];
        }
    }
    uint8_t acc[FWT_POLICY_BUILDERS_MAX * FWT_POLICY_KEYS_MAX];
    fwt_err e = fwt_dsse_verify(env, keys, n, pol->threshold, NULL, acc);
    if (e != FWT_OK) {
        return fwt_fail(e, "signatures: %s", fwt_detail());
    }
    /* 2. payload type */
    if (strcmp(env->payload_type, FWT_INTOTO_PAYLOAD_TYPE) != 0) {
        return fwt_fail(FWT_E_META, "payload type: \"%.80s\", expected \"%s\"", env->payload_type,
                        FWT_INTOTO_PAYLOAD_TYPE);
    }
    /* 3. the statement */
    struct fwt_provenance *p = &res->prov;
    if ((e = fwt_provenance_parse(env->payload, env->payload_len, p)) != FWT_OK) {
        return fwt_fail(e, "statement: %s", fwt_detail());
    }
    /* 4. predicate type, build type */
    if (strcmp(p->predicate_type, pol->predicate_type) != 0 ||
        strcmp(p->predicate_type, FWT_SLSA_PROVENANCE_V1) != 0) {
        e = fwt_fail(FWT_E_META, "predicate type: \"%.80s\", the policy requires \"%s\"",
                     p->predicate_type, pol->predicate_type);
        goto fail;
    }
    if (pol->build_type && strcmp(p->build_type, pol->build_type) != 0) {
        e = fwt_fail(FWT_E_META, "build type: \"%.80s\", the policy requires \"%.80s\"", p->build_type,
                     pol->build_type);
        goto fail;
    }
    /* 5. builder on the allow-list, signed by enough of its own keys */
    size_t b;
    for (b = 0; b < pol->n_builders; b++) {
        if (!strcmp(pol->builders[b].id, p->builder_id)) {
            break;
        }
    }
    if (b == pol->n_builders) {
        e = fwt_fail(FWT_E_UNKNOWN_KEY, "builder: \"%.120s\" is not on the policy's allow-list",
                     p->builder_id);
        goto fail;
    }
    size_t own = 0;
    for (size_t j = 0; j < n; j++) {
        own += owner[j] == b && acc[j];
    }
    if (own < pol->threshold) {
        e = fwt_fail(FWT_E_THRESHOLD,
                     "builder: \"%.120s\" is vouched for by %zu of its own key(s), %u required (a "
                     "builder's id is only believed under its own keys)",
                     p->builder_id, own, pol->threshold);
        goto fail;
    }
    res->builder = b;
    res->n_valid_sigs = own;
    /* 6. source */
    if (p->source_uri == NULL || strcmp(p->source_uri, pol->source_uri) != 0) {
        e = fwt_fail(FWT_E_META_MISMATCH, "source: URI \"%.120s\", the policy requires \"%.120s\"",
                     p->source_uri ? p->source_uri : "(none)", pol->source_uri);
        goto fail;
    }
    const char *rev = pol->source_revision ? pol->source_revision : expected_revision;
    if (rev && (p->source_revision == NULL || strcmp(p->source_revision, rev) != 0)) {
        e = fwt_fail(FWT_E_META_MISMATCH, "source: revision \"%.80s\", required \"%.80s\"",
                     p->source_revision ? p->source_revision : "(none)", rev);
        goto fail;
    }
    /* 7. subject digest */
    int found = 0;
    for (size_t s = 0; s < p->n_subjects; s++) {
        for (size_t d = 0; d < p->subjects[s].n_digests; d++) {
            const struct fwt_prov_digest *pd = &p->subjects[s].digests[d];
            if (pd->alg == alg && pd->len == digest_len &&
                CRYPTO_memcmp(pd->value, digest, digest_len) == 0) {
                found = 1;
            }
        }
    }
    if (!found) {
        e = fwt_fail(FWT_E_DIGEST, "subject: no subject carries the artifact's %s digest", h->name);
        goto fail;
    }
    return FWT_OK;
fail:
    fwt_provenance_free(p);
    return e;
}

fwt_err fwt_prov_verify_builders(const struct fwt_prov_policy *pol,
                                 const struct fwt_dsse_envelope *envs, size_t n,
                                 enum fwt_hash_alg alg, const uint8_t *digest, size_t digest_len,
                                 const char *expected_revision, size_t *n_agree, uint8_t *ok)
{
    if (pol == NULL || (envs == NULL && n > 0) || n_agree == NULL) {
        return FWT_E_ARG;
    }
    uint8_t seen[FWT_POLICY_BUILDERS_MAX];
    memset(seen, 0, sizeof(seen));
    size_t agree = 0;
    char why[512] = "";
    size_t wl = 0;
    fwt_err first = FWT_E_THRESHOLD;
    for (size_t i = 0; i < n; i++) {
        struct fwt_prov_result r;
        fwt_err e = fwt_prov_verify(pol, &envs[i], alg, digest, digest_len, expected_revision, &r);
        if (ok) {
            ok[i] = e == FWT_OK;
        }
        if (e == FWT_OK) {
            if (!seen[r.builder]) {
                seen[r.builder] = 1;
                agree++;
            }
            fwt_provenance_free(&r.prov);
        } else if (first == FWT_E_THRESHOLD && e != FWT_E_THRESHOLD) {
            first = e;
        }
        if (e != FWT_OK && wl < sizeof(why) - 1) {
            int w = snprintf(why + wl, sizeof(why) - wl, "%senvelope %zu: %s", wl ? "; " : "", i + 1,
                             fwt_detail());
            wl = w < 0 ? sizeof(why) - 1 : wl + (size_t)w;
            if (wl >= sizeof(why)) {
                wl = sizeof(why) - 1;
            }
        }
    }
    *n_agree = agree;
    if (agree == 0 && n == 1) {
        return fwt_fail(first, "%s", why); /* one envelope: its own failure, not a count */
    }
    if (agree < pol->required_builders) {
        return fwt_fail(FWT_E_THRESHOLD, "%zu independent builder(s) agree on this digest, %u required%s%s",
                        agree, pol->required_builders, wl ? ": " : "", why);
    }
    return FWT_OK;
}
