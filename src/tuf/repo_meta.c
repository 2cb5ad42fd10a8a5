/*
 * fwtrust repo: structural checks of root and targets metadata before the
 * repository tool signs or publishes them (a staged file may have been edited
 * or damaged by hand).
 */
#include "repo.h"

#include <string.h>

static fwt_err check_keys_map(json_t *keys, const char *where)
{
    if (!json_is_object(keys)) {
        return fwt_fail(FWT_E_META, "%s: \"keys\" must be an object", where);
    }
    const char *kid;
    json_t *k;
    json_object_foreach(keys, kid, k) {
        fwt_pubkey *pub = NULL;
        fwt_err err = repo_tuf_key_to_pub(k, kid, &pub);
        fwt_pubkey_free(pub);
        if (err != FWT_OK) {
            return fwt_fail(FWT_E_META, "%s: key %.16s...: %s", where, kid, fwt_detail());
        }
    }
    return FWT_OK;
}

static fwt_err check_role_keys(const json_t *role, const json_t *keys, const char *name, const char *where)
{
    size_t th = 0;
    fwt_err err = repo_role_threshold(role, name, &th);
    if (err != FWT_OK) {
        return fwt_fail(err, "%s: %s", where, fwt_detail());
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(role, "keyids"), i, v) {
        if (!json_object_get(keys, json_string_value(v))) {
            return fwt_fail(FWT_E_META, "%s: role '%s' names key %.16s... that is not in \"keys\"", where, name,
                            json_string_value(v));
        }
    }
    return FWT_OK;
}

fwt_err repo_root_check(const json_t *sd)
{
    static const char *const roles[4] = {"root", "targets", "snapshot", "timestamp"};
    if (!json_is_object(sd)) {
        return fwt_fail(FWT_E_META, "root: \"signed\" is not an object");
    }
    if (!json_is_true(json_object_get(sd, "consistent_snapshot"))) {
        return fwt_fail(FWT_E_META, "root: consistent_snapshot must be true (fwtrust publishes consistent snapshots)");
    }
    json_t *keys = json_object_get(sd, "keys");
    fwt_err err = check_keys_map(keys, "root");
    if (err != FWT_OK) {
        return err;
    }
    json_t *rmap = json_object_get(sd, "roles");
    if (!json_is_object(rmap)) {
        return fwt_fail(FWT_E_META, "root: \"roles\" must be an object");
    }
    for (int i = 0; i < 4; i++) {
        json_t *role = json_object_get(rmap, roles[i]);
        if (!json_is_object(role)) {
            return fwt_fail(FWT_E_META, "root: role '%s' is missing", roles[i]);
        }
        err = check_role_keys(role, keys, roles[i], "root");
        if (err != FWT_OK) {
            return err;
        }
    }
    return FWT_OK;
}

int repo_is_hex(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (!s || n < min || n > max || n % 2) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

fwt_err repo_delegations_check(const json_t *sd, const char *where)
{
    json_t *targets = json_object_get(sd, "targets");
    if (!json_is_object(targets)) {
        return fwt_fail(FWT_E_META, "%s: \"targets\" must be an object", where);
    }
    const char *name;
    json_t *t;
    json_object_foreach(targets, name, t) {
        json_t *len = json_object_get(t, "length");
        json_t *hashes = json_object_get(t, "hashes");
        if (!json_is_integer(len) || json_integer_value(len) < 0 || !json_is_object(hashes) ||
            json_object_size(hashes) == 0) {
            return fwt_fail(FWT_E_META, "%s: target '%.80s' needs a length >= 0 and hashes", where, name);
        }
        const char *alg;
        json_t *h;
        json_object_foreach(hashes, alg, h) {
            if (!repo_is_hex(json_string_value(h), 2, 256)) {
                return fwt_fail(FWT_E_META, "%s: target '%.80s' hash %s is not lower-case hex", where, name, alg);
            }
        }
        json_t *custom = json_object_get(t, "custom");
        if (custom && !json_is_object(custom)) {
            return fwt_fail(FWT_E_META, "%s: target '%.80s' custom must be an object", where, name);
        }
    }
    json_t *dl = json_object_get(sd, "delegations");
    if (!dl) {
        return FWT_OK;
    }
    json_t *keys = json_object_get(dl, "keys");
    json_t *roles = json_object_get(dl, "roles");
    if (!json_is_object(dl) || !json_is_array(roles)) {
        return fwt_fail(FWT_E_META, "%s: \"delegations\" needs \"keys\" and \"roles\"", where);
    }
    fwt_err err = check_keys_map(keys, where);
    if (err != FWT_OK) {
        return err;
    }
    size_t i;
    json_t *d;
    json_array_foreach(roles, i, d) {
        const char *rn = json_string_value(json_object_get(d, "name"));
        if (!rn || !repo_role_name_ok(rn)) {
            return fwt_fail(FWT_E_META, "%s: delegation %zu has a missing or disallowed name", where, i);
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(rn, json_string_value(json_object_get(json_array_get(roles, j), "name")))) {
                return fwt_fail(FWT_E_META, "%s: role '%s' is delegated twice", where, rn);
            }
        }
        err = check_role_keys(d, keys, rn, where);
        if (err != FWT_OK) {
            return err;
        }
        json_t *paths = json_object_get(d, "paths");
        if (json_object_get(d, "path_hash_prefixes")) {
            return fwt_fail(FWT_E_UNSUPPORTED, "%s: role '%s' uses path_hash_prefixes (not supported by "
                            "fwtrust repo)", where, rn);
        }
        if (!json_is_array(paths)) {
            return fwt_fail(FWT_E_META, "%s: role '%s' needs \"paths\"", where, rn);
        }
        size_t k;
        json_t *p;
        json_array_foreach(paths, k, p) {
            if (!json_is_string(p)) {
                return fwt_fail(FWT_E_META, "%s: role '%s': path %zu is not a string", where, rn, k);
            }
        }
        json_t *term = json_object_get(d, "terminating");
        if (term && !json_is_boolean(term)) {
            return fwt_fail(FWT_E_META, "%s: role '%s': terminating must be true or false", where, rn);
        }
    }
    return FWT_OK;
}
