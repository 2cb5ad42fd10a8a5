/*
 * The signed revocation list: key ids, certificate key versions and image
 * digests that devices refuse, with a version that only grows. The payload
 * format is here; the envelope is DSSE (dsse.c).
 */
#include "prov_internal.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fwt_revocation_free(struct fwt_revocation *r)
{
    if (r == NULL) {
        return;
    }
    free(r->key_ids);
    free(r->key_versions);
    free(r->digests);
    memset(r, 0, sizeof(*r));
}

static int cmp_kid(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_dg(const void *a, const void *b)
{
    const struct fwt_prov_digest *x = a, *y = b;
    if (x->alg != y->alg) {
        return x->alg < y->alg ? -1 : 1;
    }
    return memcmp(x->value, y->value, x->len);
}

fwt_err fwt_revocation_encode(const struct fwt_revocation *r, char **out, size_t *out_len)
{
    if (r == NULL || out == NULL || r->version == 0 || r->version > ((uint64_t)1 << 53) ||
        r->n_key_ids > FWT_REVOCATION_ENTRIES_MAX || r->n_key_versions > FWT_REVOCATION_ENTRIES_MAX ||
        r->n_digests > FWT_REVOCATION_ENTRIES_MAX) {
        return fwt_fail(FWT_E_ARG, "revocation list: version 1 to 2^53 and at most %u entries per list",
                        FWT_REVOCATION_ENTRIES_MAX);
    }
    /* sorted copies: one list, one encoding */
    uint8_t(*k)[32] = malloc((r->n_key_ids ? r->n_key_ids : 1) * 32);
    uint32_t *v = malloc((r->n_key_versions ? r->n_key_versions : 1) * sizeof(uint32_t));
    struct fwt_prov_digest *d = malloc((r->n_digests ? r->n_digests : 1) * sizeof(*d));
    json_t *o = json_object(), *ka = json_array(), *va = json_array(), *da = json_array();
    int bad = !k || !v || !d || !o || !ka || !va || !da;
    if (!bad) {
        if (r->n_key_ids) {
            memcpy(k, r->key_ids, r->n_key_ids * 32);
        }
        if (r->n_key_versions) {
            memcpy(v, r->key_versions, r->n_key_versions * sizeof(uint32_t));
        }
        if (r->n_digests) {
            memcpy(d, r->digests, r->n_digests * sizeof(*d));
        }
        qsort(k, r->n_key_ids, 32, cmp_kid);
        qsort(v, r->n_key_versions, sizeof(uint32_t), cmp_u32);
        qsort(d, r->n_digests, sizeof(*d), cmp_dg);
        for (size_t i = 0; i < r->n_key_ids; i++) {
            if (i && !memcmp(k[i], k[i - 1], 32)) {
                continue;
            }
            char hex[65];
            fwt_hex_encode(k[i], 32, hex);
            bad |= json_array_append_new(ka, json_string(hex)) != 0;
        }
        for (size_t i = 0; i < r->n_key_versions; i++) {
            if (i == 0 || v[i] != v[i - 1]) {
                bad |= json_array_append_new(va, json_integer(v[i])) != 0;
            }
        }
        for (size_t i = 0; i < r->n_digests; i++) {
            const struct fwt_hash_desc *h = fwt_hash_by_alg(d[i].alg);
            if (h == NULL || h->size != d[i].len) {
                bad = 1;
                break;
            }
            if (i && !cmp_dg(&d[i], &d[i - 1])) {
                continue;
            }
            char hex[2 * FWT_DIGEST_MAX + 1];
            fwt_hex_encode(d[i].value, d[i].len, hex);
            bad |= json_array_append_new(da, json_pack("{s:s}", h->name, hex)) != 0;
        }
    }
    free(k);
    free(v);
    free(d);
    if (!bad) {
        bad |= json_object_set_new(o, "_type", json_string(FWT_REVOCATION_TYPE)) != 0;
        bad |= json_object_set_new(o, "version", json_integer((json_int_t)r->version)) != 0;
        bad |= json_object_set_new(o, "issued", json_string(r->issued[0] ? r->issued : "1970-01-01T00:00:00Z")) != 0;
        bad |= json_object_set(o, "key_ids", ka) != 0;
        bad |= json_object_set(o, "key_versions", va) != 0;
        bad |= json_object_set(o, "image_digests", da) != 0;
    }
    json_decref(ka);
    json_decref(va);
    json_decref(da);
    char *s = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (s == NULL) {
        return fwt_fail(FWT_E_ARG, "revocation list: an entry is invalid (digest length) or memory ran out");
    }
    *out = s;
    if (out_len) {
        *out_len = strlen(s);
    }
    return FWT_OK;
}

static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static fwt_err list_of(json_t *o, const char *name, json_t **out)
{
    json_t *a = json_object_get(o, name);
    if (!json_is_array(a) || json_array_size(a) > FWT_REVOCATION_ENTRIES_MAX) {
        return fwt_fail(FWT_E_MALFORMED, "revocation list: \"%s\" must be a list of at most %u",
                        name, FWT_REVOCATION_ENTRIES_MAX);
    }
    *out = a;
    return FWT_OK;
}

fwt_err fwt_revocation_parse(const uint8_t *buf, size_t len, struct fwt_revocation *r)
{
    if (buf == NULL || r == NULL) {
        return FWT_E_ARG;
    }
    memset(r, 0, sizeof(*r));
    json_error_t je;
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        return fwt_fail(FWT_E_MALFORMED, "revocation list: not JSON (line %d: %s)", je.line, je.text);
    }
    fwt_err e = FWT_OK;
    const char *k;
    json_t *v, *ka = NULL, *va = NULL, *da = NULL;
    if (!json_is_object(o)) {
        e = fwt_fail(FWT_E_MALFORMED, "revocation list: not an object");
        goto out;
    }
    json_object_foreach(o, k, v)
    {
        if (strcmp(k, "_type") && strcmp(k, "version") && strcmp(k, "issued") && strcmp(k, "key_ids") &&
            strcmp(k, "key_versions") && strcmp(k, "image_digests")) {
            e = fwt_fail(FWT_E_MALFORMED, "revocation list: unknown member \"%.40s\"", k);
            goto out;
        }
    }
    v = json_object_get(o, "_type");
    if (!json_is_string(v) || strcmp(json_string_value(v), FWT_REVOCATION_TYPE) != 0) {
        e = fwt_fail(FWT_E_MALFORMED, "revocation list: _type is not \"%s\"", FWT_REVOCATION_TYPE);
        goto out;
    }
    v = json_object_get(o, "version");
    if (!json_is_integer(v) || json_integer_value(v) < 1 ||
        (uint64_t)json_integer_value(v) > ((uint64_t)1 << 53)) {
        e = fwt_fail(FWT_E_MALFORMED, "revocation list: version must be an integer from 1 to 2^53");
        goto out;
    }
    r->version = (uint64_t)json_integer_value(v);
    v = json_object_get(o, "issued");
    if (!json_is_string(v) || json_string_length(v) >= sizeof(r->issued)) {
        e = fwt_fail(FWT_E_MALFORMED, "revocation list: issued must be an RFC 3339 time");
        goto out;
    }
    snprintf(r->issued, sizeof(r->issued), "%s", json_string_value(v));
    if ((e = list_of(o, "key_ids", &ka)) != FWT_OK || (e = list_of(o, "key_versions", &va)) != FWT_OK ||
        (e = list_of(o, "image_digests", &da)) != FWT_OK) {
        goto out;
    }
    r->key_ids = malloc((json_array_size(ka) ? json_array_size(ka) : 1) * 32);
    r->key_versions = malloc((json_array_size(va) ? json_array_size(va) : 1) * sizeof(uint32_t));
    r->digests = malloc((json_array_size(da) ? json_array_size(da) : 1) * sizeof(*r->digests));
    if (!r->key_ids || !r->key_versions || !r->digests) {
        e = FWT_E_NOMEM;
        goto out;
    }
    size_t i;
    json_array_foreach(ka, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) != 64 || !lower_hex(json_string_value(v), 64) ||
            fwt_hex_decode(json_string_value(v), r->key_ids[i], 32) != FWT_OK) {
            e = fwt_fail(FWT_E_MALFORMED, "revocation list: key id %zu is not 64 lower-case hex digits", i);
            goto out;
        }
        r->n_key_ids++;
    }
    json_array_foreach(va, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX) {
            e = fwt_fail(FWT_E_MALFORMED, "revocation list: key version %zu is not 0 to 4294967295", i);
            goto out;
        }
        r->key_versions[r->n_key_versions++] = (uint32_t)json_integer_value(v);
    }
    json_array_foreach(da, i, v)
    {
        const char *alg;
        json_t *hx;
        if (!json_is_object(v) || json_object_size(v) != 1) {
            e = fwt_fail(FWT_E_MALFORMED, "revocation list: image digest %zu must be {\"ALG\": HEX}", i);
            goto out;
        }
        json_object_foreach(v, alg, hx)
        {
            const struct fwt_hash_desc *h = fwt_hash_by_name(alg);
            if (h == NULL || !json_is_string(hx) || json_string_length(hx) != 2u * h->size ||
                !lower_hex(json_string_value(hx), 2u * h->size)) {
                e = fwt_fail(FWT_E_MALFORMED, "revocation list: image digest %zu: sha256, sha384 or sha512 "
                             "with its length in lower-case hex", i);
                goto out;
            }
            struct fwt_prov_digest *d = &r->digests[r->n_digests];
            memset(d, 0, sizeof(*d));
            d->alg = h->alg;
            d->len = h->size;
            if (fwt_hex_decode(json_string_value(hx), d->value, d->len) != FWT_OK) {
                e = fwt_fail(FWT_E_MALFORMED, "revocation list: image digest %zu: bad hex", i);
                goto out;
            }
            r->n_digests++;
        }
    }
out:
    json_decref(o);
    if (e != FWT_OK) {
        fwt_revocation_free(r);
    }
    return e;
}

fwt_err fwt_revocation_open(const uint8_t *env_buf, size_t env_len, const fwt_pubkey *const *keys,
                            size_t n_keys, size_t threshold, struct fwt_revocation *r)
{
    if (r == NULL) {
        return FWT_E_ARG;
    }
    memset(r, 0, sizeof(*r));
    if (n_keys == 0) {
        return fwt_fail(FWT_E_NO_TRUST, "revocation list: no revocation key is trusted");
    }
    struct fwt_dsse_envelope env;
    fwt_err e = fwt_dsse_parse(env_buf, env_len, &env);
    if (e != FWT_OK) {
        return e;
    }
    e = fwt_dsse_verify(&env, keys, n_keys, threshold, FWT_REVOCATION_PAYLOAD_TYPE, NULL);
    if (e == FWT_OK) {
        e = fwt_revocation_parse(env.payload, env.payload_len, r);
    }
    fwt_dsse_free(&env);
    return e;
}

int fwt_revocation_has_key(const struct fwt_revocation *r, const uint8_t key_id[32])
{
    int hit = 0;
    for (size_t i = 0; r && i < r->n_key_ids; i++) {
        hit |= CRYPTO_memcmp(r->key_ids[i], key_id, 32) == 0;
    }
    return hit;
}

int fwt_revocation_has_key_version(const struct fwt_revocation *r, uint32_t key_version)
{
    int hit = 0;
    for (size_t i = 0; r && i < r->n_key_versions; i++) {
        hit |= r->key_versions[i] == key_version;
    }
    return hit;
}

int fwt_revocation_has_digest(const struct fwt_revocation *r, const uint8_t *digest, size_t len)
{
    int hit = 0;
    for (size_t i = 0; r && i < r->n_digests; i++) {
        hit |= r->digests[i].len == len && CRYPTO_memcmp(r->digests[i].value, digest, len) == 0;
    }
    return hit;
}
