/*
 * fwtrust TUF module: the metadata model of the client and the repository
 * tool: parsing and checks (envelope, root, timestamp, snapshot, targets,
 * delegations), threshold signature verification, and delegation path
 * matching. Strict JSON (duplicate keys refused); fields the spec does not
 * name are kept (signatures cover the parsed object as a whole).
 */
#include "tuf_meta.h"

#define FWTRUST_INTERNAL 1
#include <fwtrust/fwt_verify.h>

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static const char *const TOP_ROLES[4] = {"root", "timestamp", "snapshot", "targets"};

int tuf_is_top_role(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (!strcmp(name, TOP_ROLES[i])) {
            return 1;
        }
    }
    return 0;
}

void tuf_md_free(struct tuf_md *m)
{
    if (!m) {
        return;
    }
    json_decref(m->env);
    free(m->raw);
    free(m->canon);
    free(m);
}

static int is_uint(const json_t *v, int64_t min)
{
    return json_is_integer(v) && json_integer_value(v) >= min;
}

/* Has s been added to the set (a JSON object used as a hash set) before? Adds it.
 * Duplicate checks over attacker-sized lists stay linear (comparing every pair of
 * tens of thousands of entries, before any signature is checked, stalls the CPU). */
static fwt_err seen_before(json_t *set, const char *s, int *dup)
{
    *dup = json_object_get(set, s) != NULL;
    if (!*dup && json_object_set_new(set, s, json_true()) != 0) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    return FWT_OK;
}

/* A role: {"keyids": [unique strings], "threshold": >= 1}. */
fwt_err tuf_check_role(const json_t *r, const char *name)
{
    const json_t *ids = json_object_get(r, "keyids");
    const json_t *th = json_object_get(r, "threshold");
    if (!json_is_object(r) || !json_is_array(ids) || !json_is_integer(th)) {
        return fwt_fail(FWT_E_META, "role '%.64s' needs \"keyids\" (array) and \"threshold\" (integer)", name);
    }
    if (json_integer_value(th) < 1) {
        return fwt_fail(FWT_E_META, "role '%.64s' has threshold %" JSON_INTEGER_FORMAT " (must be at least 1)", name,
                        json_integer_value(th));
    }
    json_t *seen = json_object();
    fwt_err err = seen ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < json_array_size(ids) && err == FWT_OK; i++) {
        const char *a = json_string_value(json_array_get(ids, i));
        int dup = 0;
        if (!a) {
            err = fwt_fail(FWT_E_META, "role '%.64s': key ids must be strings", name);
        } else if ((err = seen_before(seen, a, &dup)) == FWT_OK && dup) {
            err = fwt_fail(FWT_E_META, "role '%.64s' lists key id %.16s... twice", name, a);
        }
    }
    json_decref(seen);
    return err;
}

/* "keys": {keyid: key}: every key well formed (types we cannot verify are kept, and never count). */
static fwt_err check_keys(const json_t *keys)
{
    if (!json_is_object(keys)) {
        return fwt_fail(FWT_E_META, "\"keys\" must be an object");
    }
    const char *id;
    json_t *k;
    json_object_foreach((json_t *)(uintptr_t)keys, id, k) {
        const json_t *kv = json_object_get(k, "keyval");
        if (!json_is_object(k) || !json_is_string(json_object_get(k, "keytype")) ||
            !json_is_string(json_object_get(k, "scheme")) || !json_is_object(kv)) {
            return fwt_fail(FWT_E_META, "key %.16s... needs \"keytype\", \"scheme\" and \"keyval\"", id);
        }
    }
    return FWT_OK;
}

/* MetaFile: {"version" >= 1, "length" >= 0 (optional), "hashes" non-empty (optional)}. */
static fwt_err check_hashes(const json_t *h, const char *what)
{
    if (!json_is_object(h) || json_object_size(h) == 0) {
        return fwt_fail(FWT_E_META, "%.80s: \"hashes\" must be a non-empty object", what);
    }
    const char *alg;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)h, alg, v) {
        if (!json_is_string(v)) {
            return fwt_fail(FWT_E_META, "%.80s: hash '%.16s' is not a string", what, alg);
        }
    }
    return FWT_OK;
}

static fwt_err check_metafile(const json_t *m, const char *what)
{
    if (!json_is_object(m) || !is_uint(json_object_get(m, "version"), 1)) {
        return fwt_fail(FWT_E_META, "meta '%.80s' needs \"version\" >= 1", what);
    }
    const json_t *l = json_object_get(m, "length");
    if (l && !is_uint(l, 0)) {
        return fwt_fail(FWT_E_META, "meta '%.80s': bad \"length\"", what);
    }
    const json_t *h = json_object_get(m, "hashes");
    return h ? check_hashes(h, what) : FWT_OK;
}

static fwt_err check_root(const json_t *s)
{
    const json_t *cs = json_object_get(s, "consistent_snapshot");
    if (cs && !json_is_boolean(cs)) {
        return fwt_fail(FWT_E_META, "root: \"consistent_snapshot\" must be a boolean");
    }
    const json_t *keys = json_object_get(s, "keys");
    const json_t *roles = json_object_get(s, "roles");
    fwt_err err = check_keys(keys);
    if (err != FWT_OK) {
        return err;
    }
    if (!json_is_object(roles) || json_object_size(roles) != 4) {
        return fwt_fail(FWT_E_META, "root: \"roles\" must name exactly root, timestamp, snapshot and targets");
    }
    for (int i = 0; i < 4; i++) {
        const json_t *r = json_object_get(roles, TOP_ROLES[i]);
        if (!r) {
            return fwt_fail(FWT_E_META, "root: no role '%s'", TOP_ROLES[i]);
        }
        if ((err = tuf_check_role(r, TOP_ROLES[i])) != FWT_OK) {
            return err;
        }
    }
    return FWT_OK;
}

/* A delegated role's own fields: "terminating", and exactly one of "paths" and
 * "path_hash_prefixes" (an array of strings). */
static fwt_err check_delegated_role(const json_t *r, const char *name)
{
    if (!json_is_boolean(json_object_get(r, "terminating"))) {
        return fwt_fail(FWT_E_META, "delegated role '%.64s' needs \"terminating\" (boolean)", name);
    }
    const json_t *paths = json_object_get(r, "paths");
    const json_t *pref = json_object_get(r, "path_hash_prefixes");
    if ((paths != NULL) == (pref != NULL)) {
        return fwt_fail(FWT_E_META, "delegated role '%.64s' needs exactly one of \"paths\" and \"path_hash_prefixes\"",
                        name);
    }
    const json_t *list = paths ? paths : pref;
    if (!json_is_array(list)) {
        return fwt_fail(FWT_E_META, "delegated role '%.64s': paths must be an array", name);
    }
    for (size_t j = 0; j < json_array_size(list); j++) {
        if (!json_is_string(json_array_get(list, j))) {
            return fwt_fail(FWT_E_META, "delegated role '%.64s': paths must be strings", name);
        }
    }
    return FWT_OK;
}

static fwt_err check_delegations(const json_t *d)
{
    if (!json_is_object(d)) {
        return fwt_fail(FWT_E_META, "\"delegations\" must be an object");
    }
    fwt_err err = check_keys(json_object_get(d, "keys"));
    if (err != FWT_OK) {
        return err;
    }
    const json_t *roles = json_object_get(d, "roles");
    const json_t *succ = json_object_get(d, "succinct_roles");
    if ((roles != NULL) == (succ != NULL)) {
        return fwt_fail(FWT_E_META, "delegations need exactly one of \"roles\" and \"succinct_roles\"");
    }
    if (succ) {
        const json_t *bl = json_object_get(succ, "bit_length");
        if ((err = tuf_check_role(succ, "succinct_roles")) != FWT_OK) {
            return err;
        }
        if (!json_is_integer(bl) || json_integer_value(bl) < 1 || json_integer_value(bl) > 32 ||
            !json_is_string(json_object_get(succ, "name_prefix"))) {
            return fwt_fail(FWT_E_META, "succinct_roles need \"bit_length\" 1..32 and \"name_prefix\"");
        }
        return FWT_OK;
    }
    if (!json_is_array(roles)) {
        return fwt_fail(FWT_E_META, "delegations: \"roles\" must be an array");
    }
    json_t *names = json_object();
    if (!names) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < json_array_size(roles); i++) {
        const json_t *r = json_array_get(roles, i);
        const char *name = json_string_value(json_object_get(r, "name"));
        int dup = 0;
        if (!name) {
            err = fwt_fail(FWT_E_META, "delegated role %zu has no \"name\"", i);
        } else if (tuf_is_top_role(name)) {
            err = fwt_fail(FWT_E_META, "delegated role named '%s' (a top-level role name)", name);
        } else if ((err = seen_before(names, name, &dup)) == FWT_OK && dup) {
            err = fwt_fail(FWT_E_META, "delegated role '%.64s' listed twice", name);
        }
        if (err == FWT_OK) {
            err = tuf_check_role(r, name);
        }
        if (err == FWT_OK) {
            err = check_delegated_role(r, name);
        }
        if (err != FWT_OK) {
            json_decref(names);
            return err;
        }
    }
    json_decref(names);
    return FWT_OK;
}

static fwt_err check_targets(const json_t *s)
{
    const json_t *t = json_object_get(s, "targets");
    if (!json_is_object(t)) {
        return fwt_fail(FWT_E_META, "targets: \"targets\" must be an object");
    }
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)t, name, v) {
        if (!json_is_object(v) || !is_uint(json_object_get(v, "length"), 0)) {
            return fwt_fail(FWT_E_META, "target '%.80s' needs \"length\" >= 0", name);
        }
        fwt_err err = check_hashes(json_object_get(v, "hashes"), name);
        if (err != FWT_OK) {
            return err;
        }
        const json_t *c = json_object_get(v, "custom");
        if (c && !json_is_object(c)) {
            return fwt_fail(FWT_E_META, "target '%.80s': \"custom\" must be an object", name);
        }
    }
    const json_t *d = json_object_get(s, "delegations");
    return d ? check_delegations(d) : FWT_OK;
}

fwt_err tuf_md_parse(const uint8_t *buf, size_t len, const char *type, const char *what, struct tuf_md **out)
{
    *out = NULL;
    json_t *env = NULL;
    fwt_err err = fwt_tuf_json_load(buf, len, what, &env);
    if (err != FWT_OK) {
        return err;
    }
    struct tuf_md *m = calloc(1, sizeof(*m));
    if (!m) {
        json_decref(env);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    m->env = env;
    const json_t *sigs = json_object_get(env, "signatures");
    m->signed_ = json_object_get(env, "signed");
    if (!json_is_object(env) || !json_is_array(sigs) || !json_is_object(m->signed_)) {
        err = fwt_fail(FWT_E_META, "%s: needs \"signatures\" (array) and \"signed\" (object)", what);
        goto fail;
    }
    {
        /* key ids seen so far, in a hash table: an attacker's file may hold tens of
         * thousands of signatures, and comparing every pair would stall the CPU */
        json_t *ids = json_object();
        if (!ids) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < json_array_size(sigs) && err == FWT_OK; i++) {
            const json_t *s = json_array_get(sigs, i);
            const char *id = json_string_value(json_object_get(s, "keyid"));
            if (!json_is_object(s) || !id || !json_is_string(json_object_get(s, "sig"))) {
                err = fwt_fail(FWT_E_META, "%s: signature %zu needs \"keyid\" and \"sig\" strings", what, i);
            } else if (json_object_get(ids, id)) {
                err = fwt_fail(FWT_E_META, "%s: two signatures with key id %.16s...", what, id);
            } else if (json_object_set_new(ids, id, json_true()) != 0) {
                err = fwt_fail(FWT_E_NOMEM, "out of memory");
            }
        }
        json_decref(ids);
        if (err != FWT_OK) {
            goto fail;
        }
    }
    const char *t = json_string_value(json_object_get(m->signed_, "_type"));
    if (!t || strcmp(t, type) != 0) {
        err = fwt_fail(FWT_E_META, "%s: _type is '%.20s', expected '%s'", what, t ? t : "(none)", type);
        goto fail;
    }
    const char *sv = json_string_value(json_object_get(m->signed_, "spec_version"));
    if (!sv || strncmp(sv, "1.", 2) != 0 || strlen(sv) > 32) {
        err = fwt_fail(FWT_E_META, "%s: unsupported spec_version '%.32s'", what, sv ? sv : "(none)");
        goto fail;
    }
    {
        /* "1.N" or "1.N.M", digits only */
        int parts = 1, digits = 0;
        for (const char *p = sv + 2; ; p++) {
            if (*p >= '0' && *p <= '9') {
                digits++;
            } else if (*p == '.' || *p == 0) {
                if (!digits) {
                    parts = 99;
                    break;
                }
                parts++;
                digits = 0;
                if (*p == 0) {
                    break;
                }
            } else {
                parts = 99;
                break;
            }
        }
        if (parts < 2 || parts > 3) {
            err = fwt_fail(FWT_E_META, "%s: malformed spec_version '%.32s'", what, sv);
            goto fail;
        }
    }
    const json_t *ver = json_object_get(m->signed_, "version");
    if (!is_uint(ver, 1)) {
        err = fwt_fail(FWT_E_META, "%s: \"version\" must be an integer >= 1", what);
        goto fail;
    }
    m->version = json_integer_value(ver);
    err = fwt_tuf_time_parse(json_string_value(json_object_get(m->signed_, "expires")), &m->expires);
    if (err != FWT_OK) {
        fwt_fail(err, "%s: \"expires\": %s", what, fwt_detail());
        goto fail;
    }
    if (!strcmp(type, "root")) {
        err = check_root(m->signed_);
    } else if (!strcmp(type, "timestamp")) {
        const json_t *meta = json_object_get(m->signed_, "meta");
        const json_t *sm = json_object_get(meta, "snapshot.json");
        err = json_is_object(meta) && sm ? check_metafile(sm, "snapshot.json")
                                         : fwt_fail(FWT_E_META, "timestamp: no \"meta\": {\"snapshot.json\"}");
    } else if (!strcmp(type, "snapshot")) {
        const json_t *meta = json_object_get(m->signed_, "meta");
        if (!json_is_object(meta)) {
            err = fwt_fail(FWT_E_META, "snapshot: \"meta\" must be an object");
        } else {
            const char *n;
            json_t *v;
            json_object_foreach((json_t *)(uintptr_t)meta, n, v) {
                if ((err = check_metafile(v, n)) != FWT_OK) {
                    break;
                }
            }
        }
    } else {
        err = check_targets(m->signed_);
    }
    if (err != FWT_OK) {
        fwt_fail(err, "%s: %s", what, fwt_detail());
        goto fail;
    }
    err = fwt_tuf_canonical(m->signed_, &m->canon, &m->canon_len);
    if (err != FWT_OK) {
        goto fail;
    }
    m->raw = malloc(len ? len : 1);
    if (!m->raw) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(m->raw, buf, len);
    m->raw_len = len;
    *out = m;
    return FWT_OK;
fail:
    tuf_md_free(m);
    return err;
}

/*
 * Count the role's key ids (each listed once) that have a key in keys and a valid
 * signature in sigs over msg; the same key material under several ids counts once.
 * Keys we cannot use (unknown type or scheme, malformed) never count.
 */
fwt_err tuf_count_role_sigs(const json_t *sigs, const char *msg, size_t msg_len, const json_t *keys,
                            const json_t *role, size_t *valid, json_t *signed_by)
{
    const json_t *ids = json_object_get(role, "keyids");
    size_t n = json_array_size(ids);
    *valid = 0;
    uint8_t **seen = calloc(n ? n : 1, sizeof(*seen));
    size_t *seen_len = calloc(n ? n : 1, sizeof(*seen_len));
    if (!seen || !seen_len) {
        free(seen);
        free(seen_len);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    size_t count = 0;
    fwt_err err = FWT_OK;
    for (size_t i = 0; i < n && err == FWT_OK; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        const json_t *key = id ? json_object_get(keys, id) : NULL;
        const json_t *sig = NULL;
        for (size_t j = 0; j < json_array_size(sigs) && key; j++) {
            const json_t *s = json_array_get(sigs, j);
            const char *sid = json_string_value(json_object_get(s, "keyid"));
            if (sid && !strcmp(id, sid)) {
                sig = s;
                break;
            }
        }
        const char *hex = json_string_value(json_object_get(sig, "sig"));
        if (!key || !hex) {
            continue;
        }
        struct fwt_tuf_vkey *vk = NULL;
        if (fwt_tuf_vkey_new(key, &vk) != FWT_OK) {
            fwt_detail_clear();
            continue; /* a key we cannot use never counts */
        }
        size_t hl = strlen(hex);
        uint8_t *raw = hl && hl % 2 == 0 ? malloc(hl / 2) : NULL;
        if (raw && fwt_hex_decode(hex, raw, hl / 2) == FWT_OK &&
            fwt_tuf_vkey_verify(vk, (const uint8_t *)msg, msg_len, raw, hl / 2) == FWT_OK) {
            size_t ml;
            const uint8_t *mat = fwt_tuf_vkey_material(vk, &ml);
            int dup = 0;
            for (size_t k = 0; k < count; k++) {
                if (seen_len[k] == ml && memcmp(seen[k], mat, ml) == 0) {
                    dup = 1;
                    break;
                }
            }
            if (!dup) {
                seen[count] = malloc(ml);
                if (!seen[count]) {
                    err = fwt_fail(FWT_E_NOMEM, "out of memory");
                } else {
                    memcpy(seen[count], mat, ml);
                    seen_len[count] = ml;
                    count++;
                    if (signed_by && json_array_append_new(signed_by, json_string(id)) != 0) {
                        err = fwt_fail(FWT_E_NOMEM, "out of memory");
                    }
                }
            }
        }
        fwt_detail_clear();
        free(raw);
        fwt_tuf_vkey_free(vk);
    }
    for (size_t k = 0; k < count; k++) {
        free(seen[k]);
    }
    free(seen);
    free(seen_len);
    *valid = count;
    return err;
}

/* Threshold: tuf_count_role_sigs over md's canonical signed bytes. */
fwt_err tuf_verify_role(const struct tuf_md *md, const json_t *keys, const json_t *role, const char *role_name,
                        const char *what)
{
    json_int_t threshold = json_integer_value(json_object_get(role, "threshold"));
    if (threshold < 1) {
        return fwt_fail(FWT_E_META, "%s: role '%.64s' has no valid threshold", what, role_name);
    }
    size_t count = 0;
    fwt_err err = tuf_count_role_sigs(json_object_get(md->env, "signatures"), md->canon, md->canon_len, keys, role,
                                      &count, NULL);
    if (err != FWT_OK) {
        return err;
    }
    if (count < (size_t)threshold) {
        return fwt_fail(FWT_E_META_SIG, "%s: %zu valid signature(s) from distinct %.64s keys, threshold is %" JSON_INTEGER_FORMAT,
                        what, count, role_name, threshold);
    }
    return FWT_OK;
}

fwt_err tuf_check_metafile_bytes(const json_t *meta, const uint8_t *data, size_t len, const char *what)
{
    const json_t *l = json_object_get(meta, "length");
    if (l && (uint64_t)json_integer_value(l) != (uint64_t)len) {
        return fwt_fail(FWT_E_META_MISMATCH, "%s: %zu bytes, the referencing metadata says %" JSON_INTEGER_FORMAT, what,
                        len, json_integer_value(l));
    }
    const json_t *h = json_object_get(meta, "hashes");
    return h ? tuf_check_hashes(h, data, len, what) : FWT_OK;
}

fwt_err tuf_hash_state_init(struct tuf_hash_state *hs, const json_t *hashes, const char *what)
{
    memset(hs, 0, sizeof(*hs));
    const char *alg;
    json_t *v;
    json_object_foreach((json_t *)(uintptr_t)hashes, alg, v) {
        const struct fwt_hash_desc *hd = fwt_hash_by_name(alg);
        const EVP_MD *md = hd ? fwt_hash_md(hd->alg) : NULL;
        if (md == NULL) {
            continue; /* counted below: a listed algorithm we cannot check fails closed */
        }
        if (hs->n >= TUF_MAX_HASHES) {
            break;
        }
        hs->ctx[hs->n] = EVP_MD_CTX_new();
        if (!hs->ctx[hs->n] || EVP_DigestInit_ex(hs->ctx[hs->n], md, NULL) != 1) {
            tuf_hash_state_free(hs);
            return fwt_fail(FWT_E_CRYPTO, "cannot start %s", alg);
        }
        hs->expect[hs->n] = json_string_value(v);
        hs->alg[hs->n] = alg;
        hs->n++;
    }
    if (hs->n == 0) {
        return fwt_fail(FWT_E_UNSUPPORTED, "%s: no hash algorithm we support (sha256, sha384, sha512)", what);
    }
    if (hs->n != json_object_size(hashes)) {
        tuf_hash_state_free(hs);
        return fwt_fail(FWT_E_UNSUPPORTED, "%s: an unsupported hash algorithm is listed", what);
    }
    return FWT_OK;
}

fwt_err tuf_hash_state_update(struct tuf_hash_state *hs, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < hs->n; i++) {
        if (EVP_DigestUpdate(hs->ctx[i], data, len) != 1) {
            return fwt_fail(FWT_E_CRYPTO, "hashing failed");
        }
    }
    return FWT_OK;
}

fwt_err tuf_hash_state_final(struct tuf_hash_state *hs, const char *what)
{
    fwt_err err = FWT_OK;
    for (size_t i = 0; i < hs->n && err == FWT_OK; i++) {
        uint8_t d[EVP_MAX_MD_SIZE];
        unsigned dl = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        if (EVP_DigestFinal_ex(hs->ctx[i], d, &dl) != 1) {
            err = fwt_fail(FWT_E_CRYPTO, "hashing failed");
            break;
        }
        fwt_hex_encode(d, dl, hex);
        const char *want = hs->expect[i];
        if (strlen(want) != 2u * dl || fwt_ct_compare(hex, want, 2u * dl) != 0) {
            err = fwt_fail(FWT_E_META_MISMATCH, "%s: %s hash differs from the one in the metadata", what, hs->alg[i]);
        }
    }
    tuf_hash_state_free(hs);
    return err;
}

void tuf_hash_state_free(struct tuf_hash_state *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        EVP_MD_CTX_free(hs->ctx[i]);
        hs->ctx[i] = NULL;
    }
    hs->n = 0;
}

fwt_err tuf_check_hashes(const json_t *hashes, const uint8_t *data, size_t len, const char *what)
{
    struct tuf_hash_state hs;
    fwt_err err = tuf_hash_state_init(&hs, hashes, what);
    if (err == FWT_OK) {
        err = tuf_hash_state_update(&hs, data, len);
        if (err != FWT_OK) {
            tuf_hash_state_free(&hs);
            return err;
        }
        err = tuf_hash_state_final(&hs, what);
    }
    return err;
}

typedef int (*seg_fn)(const char *a, const char *b);

/* a against b part by part: the same number of '/'-separated parts, each pair
 * accepted by seg; too_long is the answer when a part is longer than 1023 bytes. */
static int parts_match(const char *a, const char *b, seg_fn seg, int too_long)
{
    const char *p = a, *t = b;
    char pb[1024], tb[1024];
    for (;;) {
        const char *pe = strchr(p, '/'), *te = strchr(t, '/');
        if ((pe == NULL) != (te == NULL)) {
            return 0;
        }
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), tl = te ? (size_t)(te - t) : strlen(t);
        if (pl >= sizeof(pb) || tl >= sizeof(tb)) {
            return too_long;
        }
        memcpy(pb, p, pl);
        pb[pl] = 0;
        memcpy(tb, t, tl);
        tb[tl] = 0;
        if (!seg(pb, tb)) {
            return 0;
        }
        if (!pe) {
            return 1;
        }
        p = pe + 1;
        t = te + 1;
    }
}

static int seg_fnmatch(const char *pattern, const char *name)
{
    return fnmatch(pattern, name, FNM_NOESCAPE) == 0;
}

/* Target path against a delegation pattern: same number of '/'-separated parts, each
 * matched by shell-style globbing ('*' never crosses a '/'). */
static int path_match(const char *pattern, const char *path)
{
    return parts_match(pattern, path, seg_fnmatch, 0);
}

int tuf_role_matches(const json_t *role, const char *target)
{
    const json_t *paths = json_object_get(role, "paths");
    if (paths) {
        for (size_t i = 0; i < json_array_size(paths); i++) {
            if (path_match(json_string_value(json_array_get(paths, i)), target)) {
                return 1;
            }
        }
        return 0;
    }
    const json_t *pref = json_object_get(role, "path_hash_prefixes");
    uint8_t d[32];
    char hex[65];
    if (fwt_sha256(target, strlen(target), d) != FWT_OK) {
        return 0;
    }
    fwt_hex_encode(d, 32, hex);
    for (size_t i = 0; i < json_array_size(pref); i++) {
        const char *p = json_string_value(json_array_get(pref, i));
        if (strlen(p) <= 64 && !strncmp(hex, p, strlen(p))) {
            return 1;
        }
    }
    return 0;
}

/* ---- Patterns against patterns (a client's scope against a delegation) ----
 * A scope is a path pattern naming the targets a client looks for, e.g. every name under board/.
 * may_hold over-approximates (a delegation that might list a target in the
 * scope says yes), covers under-approximates (yes only when every name in the
 * scope certainly matches): a client that uses them loads every role that can
 * matter to it and prunes only what certainly cannot. */

static int has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* The literal characters before the first wildcard. */
static size_t literal_head(const char *s)
{
    return strcspn(s, "*?[");
}

/* Could some string without '/' match both segment patterns a and b? */
static int seg_intersect(const char *a, const char *b)
{
    if (!has_glob(a)) {
        return fnmatch(b, a, FNM_NOESCAPE) == 0;
    }
    if (!has_glob(b)) {
        return fnmatch(a, b, FNM_NOESCAPE) == 0;
    }
    size_t la = literal_head(a), lb = literal_head(b), l = la < lb ? la : lb;
    return strncmp(a, b, l) == 0; /* both wildcards: possible unless their literal heads differ */
}

/* Does every string without '/' that b matches certainly match a? */
static int seg_contains(const char *a, const char *b)
{
    if (!strcmp(a, "*") || !strcmp(a, b)) {
        return 1;
    }
    return !has_glob(b) && fnmatch(a, b, FNM_NOESCAPE) == 0;
}

static int role_vs_scope(const json_t *role, const char *scope, seg_fn seg)
{
    if (!has_glob(scope)) {
        return tuf_role_matches(role, scope); /* one name: exactly the search's test */
    }
    const json_t *paths = json_object_get(role, "paths");
    if (paths) {
        for (size_t i = 0; i < json_array_size(paths); i++) {
            const char *p = json_string_value(json_array_get(paths, i));
            /* a part too long to tell: may hold, does not cover */
            if (p && parts_match(p, scope, seg, seg == seg_intersect)) {
                return 1;
            }
        }
        return 0;
    }
    /* path_hash_prefixes: any name of the scope may hash into them; none is sure to */
    return seg == seg_intersect && json_array_size(json_object_get(role, "path_hash_prefixes")) > 0;
}

int tuf_role_may_hold(const json_t *role, const char *scope)
{
    return role_vs_scope(role, scope, seg_intersect);
}

int tuf_role_covers(const json_t *role, const char *scope)
{
    return role_vs_scope(role, scope, seg_contains);
}

char *tuf_succinct_role_for(const json_t *succ, const char *target)
{
    int bits = (int)json_integer_value(json_object_get(succ, "bit_length"));
    const char *prefix = json_string_value(json_object_get(succ, "name_prefix"));
    uint8_t d[32];
    if (bits < 1 || bits > 32 || !prefix || fwt_sha256(target, strlen(target), d) != FWT_OK) {
        return NULL;
    }
    uint32_t first = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    uint32_t bin = bits == 32 ? first : first >> (32 - bits);
    uint64_t nbins = (uint64_t)1 << bits;
    char tmp[16];
    int width = snprintf(tmp, sizeof(tmp), "%llx", (unsigned long long)(nbins - 1));
    size_t n = strlen(prefix) + 1 + (size_t)width + 1;
    char *out = malloc(n);
    if (out) {
        snprintf(out, n, "%s-%0*x", prefix, width, bin);
    }
    return out;
}

int tuf_succinct_is_member(const json_t *succ, const char *role)
{
    int bits = (int)json_integer_value(json_object_get(succ, "bit_length"));
    const char *prefix = json_string_value(json_object_get(succ, "name_prefix"));
    if (bits < 1 || bits > 32 || !prefix) {
        return 0;
    }
    size_t pl = strlen(prefix);
    if (strncmp(role, prefix, pl) != 0 || role[pl] != '-') {
        return 0;
    }
    uint64_t nbins = (uint64_t)1 << bits;
    char tmp[16];
    int width = snprintf(tmp, sizeof(tmp), "%llx", (unsigned long long)(nbins - 1));
    const char *s = role + pl + 1;
    if ((int)strlen(s) != width) {
        return 0;
    }
    uint64_t v = 0;
    for (; *s; s++) {
        int c = *s;
        int dv = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (dv < 0) {
            return 0;
        }
        v = v * 16 + (uint64_t)dv;
    }
    return v < nbins;
}
