/*
 * fwtrust TUF client: the trusted metadata state machine (client_trusted.h):
 * tuf-spec section 5's checks over byte buffers and a reference time, no I/O.
 */
#include "client_trusted.h"

#include <stdlib.h>
#include <string.h>

static const json_t *root_role(const struct tuf_trusted *t, const char *role)
{
    return json_object_get(json_object_get(t->root->signed_, "roles"), role);
}

static const json_t *root_keys(const struct tuf_trusted *t)
{
    return json_object_get(t->root->signed_, "keys");
}

fwt_err tuf_trusted_check_expiry(const struct tuf_trusted *t, const struct tuf_md *m, const char *what)
{
    if (t->ref >= m->expires) {
        char e[21], r[21];
        fwt_tuf_time_format(m->expires, e);
        fwt_tuf_time_format(t->ref, r);
        return fwt_fail(FWT_E_META_EXPIRED, "%s version %lld expired at %s (update time %s)", what,
                        (long long)m->version, e, r);
    }
    return FWT_OK;
}


void tuf_trusted_set(struct tuf_md **slot, struct tuf_md *m)
{
    tuf_md_free(*slot);
    *slot = m;
}

void tuf_trusted_forget_targets(struct tuf_trusted *t)
{
    tuf_trusted_set(&t->targets, NULL);
    for (size_t i = 0; i < t->ndr; i++) {
        free(t->dr[i].name);
        free(t->dr[i].parent);
        tuf_md_free(t->dr[i].md);
    }
    t->ndr = 0;
}

struct tuf_md *tuf_trusted_role(const struct tuf_trusted *t, const char *role)
{
    if (!strcmp(role, "targets")) {
        return t->targets;
    }
    for (size_t i = 0; i < t->ndr; i++) {
        if (!strcmp(t->dr[i].name, role)) {
            return t->dr[i].md;
        }
    }
    return NULL;
}

/* A role loaded through this delegator (a role reached through another one is verified again). */
struct tuf_md *tuf_trusted_role_via(const struct tuf_trusted *t, const char *role, const char *parent)
{
    if (!strcmp(role, "targets")) {
        return t->targets;
    }
    for (size_t i = 0; i < t->ndr; i++) {
        if (!strcmp(t->dr[i].name, role) && !strcmp(t->dr[i].parent, parent)) {
            return t->dr[i].md;
        }
    }
    return NULL;
}

/* Root: self-signed by its own threshold (the initial root, spec 5.2). */
fwt_err tuf_trusted_load_root(const uint8_t *buf, size_t len, struct tuf_md **out)
{
    struct tuf_md *m = NULL;
    fwt_err err = tuf_md_parse(buf, len, "root", "trusted root.json", &m);
    if (err == FWT_OK) {
        err = tuf_verify_role(m, json_object_get(m->signed_, "keys"),
                              json_object_get(json_object_get(m->signed_, "roles"), "root"), "root",
                              "trusted root.json");
    }
    if (err != FWT_OK) {
        tuf_md_free(m);
        return err;
    }
    *out = m;
    return FWT_OK;
}

/* 5.3.3 - 5.3.5: a new root, version N+1, signed by the trusted and by its own root thresholds.
 * *same: the file holds the trusted version again (5.3.5: discarded, the update goes on with
 * the trusted root). */
fwt_err tuf_trusted_update_root(struct tuf_trusted *t, const uint8_t *buf, size_t len, int64_t want, int *same)
{
    *same = 0;
    char what[48];
    snprintf(what, sizeof(what), "%lld.root.json", (long long)want);
    struct tuf_md *m = NULL;
    fwt_err err = tuf_md_parse(buf, len, "root", what, &m);
    if (err == FWT_OK) {
        err = tuf_verify_role(m, root_keys(t), root_role(t, "root"), "root", what);
        if (err != FWT_OK) {
            fwt_fail(err, "%s (keys of the trusted root version %lld)", fwt_detail(), (long long)t->root->version);
        }
    }
    if (err == FWT_OK) {
        err = tuf_verify_role(m, json_object_get(m->signed_, "keys"),
                              json_object_get(json_object_get(m->signed_, "roles"), "root"), "root", what);
        if (err != FWT_OK) {
            fwt_fail(err, "%s (keys of the new root itself)", fwt_detail());
        }
    }
    if (err == FWT_OK && m->version == t->root->version) {
        *same = 1;
        tuf_md_free(m);
        return FWT_OK;
    }
    if (err == FWT_OK && m->version != want) {
        err = fwt_fail(m->version < want ? FWT_E_META_ROLLBACK : FWT_E_META_MISMATCH,
                       "%s holds root version %lld (each root must be exactly one newer than the trusted one)", what,
                       (long long)m->version);
    }
    if (err != FWT_OK) {
        tuf_md_free(m);
        return err;
    }
    tuf_trusted_set(&t->root, m);
    return FWT_OK;
}

/* 5.4: timestamp. *equal: same version as the trusted one (kept, the new one dropped). */
fwt_err tuf_trusted_update_timestamp(struct tuf_trusted *t, const uint8_t *buf, size_t len, const char *what, int *equal)
{
    *equal = 0;
    fwt_err err = tuf_trusted_check_expiry(t, t->root, "root");
    if (err != FWT_OK) {
        return err;
    }
    struct tuf_md *m = NULL;
    err = tuf_md_parse(buf, len, "timestamp", what, &m);
    if (err == FWT_OK) {
        err = tuf_verify_role(m, root_keys(t), root_role(t, "timestamp"), "timestamp", what);
    }
    if (err == FWT_OK && t->ts) {
        if (m->version < t->ts->version) {
            err = fwt_fail(FWT_E_META_ROLLBACK, "%s: version %lld is older than the trusted version %lld", what,
                           (long long)m->version, (long long)t->ts->version);
        } else if (m->version == t->ts->version) {
            *equal = 1;
            tuf_md_free(m);
            return FWT_OK;
        } else {
            json_int_t nv = json_integer_value(
                json_object_get(json_object_get(json_object_get(m->signed_, "meta"), "snapshot.json"), "version"));
            json_int_t ov = json_integer_value(
                json_object_get(json_object_get(json_object_get(t->ts->signed_, "meta"), "snapshot.json"), "version"));
            if (nv < ov) {
                err = fwt_fail(FWT_E_META_ROLLBACK,
                               "%s: snapshot version %" JSON_INTEGER_FORMAT " is older than the trusted %" JSON_INTEGER_FORMAT,
                               what, nv, ov);
            }
        }
    }
    if (err != FWT_OK) {
        tuf_md_free(m);
        return err;
    }
    tuf_trusted_set(&t->ts, m);
    return tuf_trusted_check_expiry(t, m, "timestamp");
}

const json_t *tuf_trusted_snapshot_meta(const struct tuf_trusted *t)
{
    return json_object_get(json_object_get(t->ts->signed_, "meta"), "snapshot.json");
}

fwt_err tuf_trusted_final_timestamp(const struct tuf_trusted *t)
{
    if (!t->ts) {
        return fwt_fail(FWT_E_INTERNAL, "no trusted timestamp");
    }
    return tuf_trusted_check_expiry(t, t->ts, "timestamp");
}

/* 5.5: snapshot. from_disk: the local copy (its bytes are not re-checked against the timestamp). */
fwt_err tuf_trusted_update_snapshot(struct tuf_trusted *t, const uint8_t *buf, size_t len, const char *what, int from_disk)
{
    fwt_err err = tuf_trusted_final_timestamp(t);
    if (err != FWT_OK) {
        return err;
    }
    const json_t *meta = tuf_trusted_snapshot_meta(t);
    if (!from_disk && (err = tuf_check_metafile_bytes(meta, buf, len, what)) != FWT_OK) {
        return err;
    }
    struct tuf_md *m = NULL;
    err = tuf_md_parse(buf, len, "snapshot", what, &m);
    if (err == FWT_OK) {
        err = tuf_verify_role(m, root_keys(t), root_role(t, "snapshot"), "snapshot", what);
    }
    if (err == FWT_OK && t->snap) {
        const json_t *om = json_object_get(t->snap->signed_, "meta");
        const json_t *nm = json_object_get(m->signed_, "meta");
        const char *name;
        json_t *ov;
        json_object_foreach((json_t *)(uintptr_t)om, name, ov) {
            const json_t *nv = json_object_get(nm, name);
            if (!nv) {
                err = fwt_fail(FWT_E_META_ROLLBACK, "%s: '%.80s' is no longer listed (it was in the trusted snapshot)",
                               what, name);
                break;
            }
            json_int_t a = json_integer_value(json_object_get(nv, "version"));
            json_int_t b = json_integer_value(json_object_get(ov, "version"));
            if (a < b) {
                err = fwt_fail(FWT_E_META_ROLLBACK,
                               "%s: '%.80s' version %" JSON_INTEGER_FORMAT " is older than the trusted %" JSON_INTEGER_FORMAT,
                               what, name, a, b);
                break;
            }
        }
    }
    if (err != FWT_OK) {
        tuf_md_free(m);
        return err;
    }
    tuf_trusted_set(&t->snap, m);
    err = tuf_trusted_check_expiry(t, m, "snapshot");
    json_int_t want = json_integer_value(json_object_get(meta, "version"));
    if (err == FWT_OK && m->version != want) {
        err = fwt_fail(FWT_E_META_MISMATCH, "%s: version %lld, the timestamp says %" JSON_INTEGER_FORMAT, what,
                       (long long)m->version, want);
    }
    return err;
}

fwt_err tuf_trusted_final_snapshot(const struct tuf_trusted *t)
{
    fwt_err err = tuf_trusted_final_timestamp(t);
    if (err != FWT_OK) {
        return err;
    }
    if (!t->snap) {
        return fwt_fail(FWT_E_INTERNAL, "no trusted snapshot");
    }
    err = tuf_trusted_check_expiry(t, t->snap, "snapshot");
    json_int_t want = json_integer_value(json_object_get(tuf_trusted_snapshot_meta(t), "version"));
    if (err == FWT_OK && t->snap->version != want) {
        err = fwt_fail(FWT_E_META_MISMATCH, "snapshot: version %lld, the timestamp says %" JSON_INTEGER_FORMAT,
                       (long long)t->snap->version, want);
    }
    return err;
}

/* The keys and role entry that delegate role (from parent: "root" or a loaded targets role). */
static fwt_err delegation_of(const struct tuf_trusted *t, const char *role, const char *parent, const json_t **keys,
                             const json_t **def)
{
    if (!strcmp(parent, "root")) {
        *keys = root_keys(t);
        *def = root_role(t, "targets");
        return FWT_OK;
    }
    const struct tuf_md *p = tuf_trusted_role(t, parent);
    const json_t *d = p ? json_object_get(p->signed_, "delegations") : NULL;
    if (!d) {
        return fwt_fail(FWT_E_INTERNAL, "role '%.64s' has no delegations", parent);
    }
    *keys = json_object_get(d, "keys");
    const json_t *roles = json_object_get(d, "roles");
    for (size_t i = 0; i < json_array_size(roles); i++) {
        const json_t *r = json_array_get(roles, i);
        if (!strcmp(json_string_value(json_object_get(r, "name")), role)) {
            *def = r;
            return FWT_OK;
        }
    }
    const json_t *succ = json_object_get(d, "succinct_roles");
    if (succ && tuf_succinct_is_member(succ, role)) {
        *def = succ;
        return FWT_OK;
    }
    return fwt_fail(FWT_E_META, "role '%.64s' does not delegate to '%.64s'", parent, role);
}

/* 5.6: a targets role (top-level or delegated). */
fwt_err tuf_trusted_update_targets(struct tuf_trusted *t, const uint8_t *buf, size_t len, const char *role,
                              const char *parent, const char *what)
{
    fwt_err err = tuf_trusted_final_snapshot(t);
    if (err != FWT_OK) {
        return err;
    }
    const json_t *keys = NULL, *def = NULL;
    if ((err = delegation_of(t, role, parent, &keys, &def)) != FWT_OK) {
        return err;
    }
    size_t rl = strlen(role);
    char *mname = malloc(rl + sizeof(".json"));
    if (!mname) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    memcpy(mname, role, rl);
    memcpy(mname + rl, ".json", sizeof(".json"));
    const json_t *meta = json_object_get(json_object_get(t->snap->signed_, "meta"), mname);
    free(mname);
    if (!meta) {
        return fwt_fail(FWT_E_META, "the snapshot does not list role '%.64s'", role);
    }
    if ((err = tuf_check_metafile_bytes(meta, buf, len, what)) != FWT_OK) {
        return err;
    }
    struct tuf_md *m = NULL;
    err = tuf_md_parse(buf, len, "targets", what, &m);
    if (err == FWT_OK) {
        err = tuf_verify_role(m, keys, def, role, what);
    }
    json_int_t want = json_integer_value(json_object_get(meta, "version"));
    if (err == FWT_OK && m->version != want) {
        err = fwt_fail(FWT_E_META_MISMATCH, "%s: version %lld, the snapshot says %" JSON_INTEGER_FORMAT, what,
                       (long long)m->version, want);
    }
    if (err == FWT_OK) {
        err = tuf_trusted_check_expiry(t, m, what);
    }
    if (err != FWT_OK) {
        tuf_md_free(m);
        return err;
    }
    if (!strcmp(role, "targets")) {
        tuf_trusted_set(&t->targets, m);
        return FWT_OK;
    }
    if (t->ndr == t->capdr) {
        size_t cap = t->capdr ? 2 * t->capdr : 16;
        struct tuf_loaded_role *n = realloc(t->dr, cap * sizeof(*n));
        if (!n) {
            tuf_md_free(m);
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        t->dr = n;
        t->capdr = cap;
    }
    t->dr[t->ndr].name = strdup(role);
    t->dr[t->ndr].parent = strdup(parent);
    if (!t->dr[t->ndr].name || !t->dr[t->ndr].parent) {
        free(t->dr[t->ndr].name);
        free(t->dr[t->ndr].parent);
        tuf_md_free(m);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    t->dr[t->ndr++].md = m;
    return FWT_OK;
}

void tuf_trusted_free(struct tuf_trusted *t)
{
    tuf_trusted_forget_targets(t);
    free(t->dr);
    tuf_md_free(t->root);
    tuf_md_free(t->ts);
    tuf_md_free(t->snap);
    memset(t, 0, sizeof(*t));
}
