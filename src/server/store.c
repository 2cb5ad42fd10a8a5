/*
 * Fleet records: enrollment and admin tokens, devices, tags, assignments,
 * events; the admin actions' audit entries. Every change is one database
 * transaction; an admin action commits only once its audit entry is in the
 * Merkle log.
 */
#include "srv.h"

#include <fwtrust/fwt_keys.h>
#include <fwtrust/fwt_rollout.h>

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

fwt_err srv_random_hex(size_t bytes, char *out)
{
    uint8_t b[64];
    if (bytes > sizeof(b) || RAND_bytes(b, (int)bytes) != 1) {
        return fwt_fail(FWT_E_CRYPTO, "no random bytes");
    }
    fwt_hex_encode(b, bytes, out);
    fwt_zeroize(b, sizeof(b));
    return FWT_OK;
}

fwt_err srv_hash_token(const char *token, char out[65])
{
    uint8_t h[32];
    fwt_err e = fwt_sha256(token, strlen(token), h);
    if (e == FWT_OK) {
        fwt_hex_encode(h, 32, out);
    }
    return e;
}

/* Printable ASCII without '"' and '\' (the audit log's text rule), '?' otherwise. */
static void log_text(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++) {
        char c = src[i];
        dst[i] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : c;
    }
    dst[i] = 0;
}

fwt_err srv_audit(fwt_srv *s, const struct fwt_srv_actor *who, const char *action, const char *subject,
                  const char *detail)
{
    struct fwt_signlog_event ev;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.action, sizeof(ev.action), "%s", action);
    log_text(ev.actor, sizeof(ev.actor), who->name[0] ? who->name : "unknown");
    log_text(ev.subject, sizeof(ev.subject), subject);
    log_text(ev.detail, sizeof(ev.detail), detail);
    ev.time = srv_now();
    fwt_signlog *log = NULL;
    fwt_err e = fwt_signlog_open(s->audit_path, 1, &log);
    if (e == FWT_OK) {
        e = fwt_signlog_append_event(log, &ev, s->log_key, NULL);
        fwt_signlog_close(log);
    }
    if (e != FWT_OK) {
        return fwt_fail(e, "audit log %s: %s", s->audit_path, fwt_detail());
    }
    return srv_event(s, NULL, action, ev.actor, ev.detail);
}

fwt_err srv_event(fwt_srv *s, const char *device_id, const char *kind, const char *actor, const char *detail)
{
    struct db_param p[] = {DBI(srv_now()), device_id ? DBT(device_id) : DBN, DBT(kind), DBT(actor),
                           DBT(detail ? detail : "")};
    fwt_err e = db_exec(s->db, "INSERT INTO events (time, device_id, kind, actor, detail) VALUES (?, ?, ?, ?, ?)",
                        p, 5, NULL, NULL);
    if (e == FWT_OK && !strcmp(kind, "checkin")) {
        s->storm_local++; /* the storm rule's estimate (alerts.c; a rolled back one only overestimates) */
    }
    return e;
}

static int role_at_least(const struct fwt_srv_actor *who, enum fwt_srv_role need)
{
    return who && who->role >= need;
}

static fwt_err need_role(const struct fwt_srv_actor *who, enum fwt_srv_role need)
{
    if (!role_at_least(who, need)) {
        return fwt_fail(FWT_E_KEY, "%s needs the %s role (has %s)", who ? who->name : "nobody",
                        fwt_srv_role_name(need), who ? fwt_srv_role_name(who->role) : "none");
    }
    return FWT_OK;
}

/* Run the statements in a transaction; commit on FWT_OK, roll back otherwise. */
#define TXN(s, ...)                                                                                    \
    do {                                                                                                \
        e = db_begin((s)->db);                                                                          \
        if (e == FWT_OK) {                                                                              \
            __VA_ARGS__;                                                                                \
            if (e == FWT_OK) {                                                                          \
                e = db_commit((s)->db);                                                                 \
            } else {                                                                                    \
                db_rollback((s)->db);                                                                   \
            }                                                                                           \
        }                                                                                               \
    } while (0)

/* ---- tokens ---- */

fwt_err fwt_srv_enroll_token_create(fwt_srv *s, const struct fwt_srv_actor *who, uint64_t ttl, size_t count,
                                    json_t **info)
{
    *info = NULL;
    fwt_err e = need_role(who, FWT_SRV_OPERATOR);
    if (e != FWT_OK) {
        return e;
    }
    if (ttl == 0) {
        ttl = s->set.token_days * 86400;
    }
    if (ttl > 365ULL * 86400) {
        return fwt_fail(FWT_E_ARG, "token lifetime of %llu s: at most a year", (unsigned long long)ttl);
    }
    if (count == 0 || count > FWT_SRV_TOKENS_MAX) {
        return fwt_fail(FWT_E_ARG, "%zu tokens: 1 to %u at a time", count, FWT_SRV_TOKENS_MAX);
    }
    uint64_t now = srv_now();
    json_t *toks = json_array();
    if (!toks) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    char first_hash[65] = "";
    TXN(s, {
        for (size_t i = 0; e == FWT_OK && i < count; i++) {
            char token[65], h[65];
            if ((e = srv_random_hex(32, token)) != FWT_OK || (e = srv_hash_token(token, h)) != FWT_OK) {
                break;
            }
            if (i == 0) {
                memcpy(first_hash, h, 65);
            }
            struct db_param p[] = {DBT(h), DBI(now), DBI(now + ttl)};
            e = db_exec(s->db, "INSERT INTO enroll_tokens (hash, created_at, expires_at) VALUES (?, ?, ?)", p, 3,
                        NULL, NULL);
            if (e == FWT_OK && json_array_append_new(toks, json_string(token)) != 0) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
            }
            fwt_zeroize(token, sizeof(token));
        }
        if (e == FWT_OK) {
            char d[128];
            snprintf(d, sizeof(d), "%zu token(s), expires %llu", count, (unsigned long long)(now + ttl));
            e = srv_audit(s, who, "enroll-token-create", first_hash, d);
        }
    });
    if (e != FWT_OK) {
        json_decref(toks);
        return e;
    }
    *info = json_pack("{s:o, s:I}", "tokens", toks, "expires", (json_int_t)(now + ttl));
    if (count == 1) {
        json_object_set(*info, "token", json_array_get(toks, 0));
    }
    return FWT_OK;
}

fwt_err fwt_srv_admin_token_create(fwt_srv *s, const struct fwt_srv_actor *who, const char *name,
                                   enum fwt_srv_role role, char token[65], json_t **info)
{
    *info = NULL;
    fwt_err e = need_role(who, FWT_SRV_APPROVER);
    if (e != FWT_OK) {
        return e;
    }
    if (!name || !*name || strlen(name) > 64) {
        return fwt_fail(FWT_E_ARG, "admin name must be 1 to 64 characters");
    }
    char h[65];
    if ((e = srv_random_hex(32, token)) != FWT_OK || (e = srv_hash_token(token, h)) != FWT_OK) {
        return e;
    }
    struct db_param p[] = {DBT(h), DBT(name), DBT(fwt_srv_role_name(role)), DBI(srv_now())};
    TXN(s, {
        e = db_exec(s->db, "INSERT INTO admin_tokens (hash, name, role, created_at) VALUES (?, ?, ?, ?)", p, 4,
                    NULL, NULL);
        if (e == FWT_OK) {
            e = srv_audit(s, who, "admin-token-create", name, fwt_srv_role_name(role));
        }
    });
    if (e == FWT_OK) {
        *info = json_pack("{s:s, s:s, s:s}", "token", token, "name", name, "role", fwt_srv_role_name(role));
    }
    return e;
}

fwt_err fwt_srv_admin_token_check(fwt_srv *s, const char *token, struct fwt_srv_actor *who)
{
    memset(who, 0, sizeof(*who));
    char h[65];
    if (!token || strlen(token) != 64 || srv_hash_token(token, h) != FWT_OK) {
        return fwt_fail(FWT_E_KEY, "not an admin token");
    }
    struct db_param p[] = {DBT(h)};
    struct db_rows r;
    fwt_err e = db_exec(s->db, "SELECT name, role FROM admin_tokens WHERE hash = ?", p, 1, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    if (r.nrows != 1 || fwt_srv_role_parse(db_cell(&r, 0, 1), &who->role) != FWT_OK) {
        e = fwt_fail(FWT_E_KEY, "unknown admin token");
    } else {
        snprintf(who->name, sizeof(who->name), "admin:%s", db_cell(&r, 0, 0));
    }
    db_rows_free(&r);
    return e;
}

static int tag_ok(const char *t);

fwt_err fwt_srv_admin_cert_create(fwt_srv *s, const struct fwt_srv_actor *who, const char *name,
                                  enum fwt_srv_role role, char **key_pem, char **cert_pem, json_t **info)
{
    *key_pem = *cert_pem = NULL;
    *info = NULL;
    fwt_err e = need_role(who, FWT_SRV_APPROVER);
    if (e != FWT_OK) {
        return e;
    }
    if (!tag_ok(name)) {
        return fwt_fail(FWT_E_ARG, "admin name '%s': 1 to 64 of A-Z a-z 0-9 - _ .", name ? name : "");
    }
    struct ca_issued c;
    char *key = NULL;
    if ((e = ca_issue_admin(s, name, &key, &c)) != FWT_OK) {
        return e;
    }
    struct db_param p[] = {DBT(c.fp), DBT(name), DBT(fwt_srv_role_name(role)), DBT(c.serial), DBI(srv_now()),
                           DBI(c.not_after)};
    TXN(s, {
        e = db_exec(s->db, "INSERT INTO admin_certs (fp, name, role, serial_hex, created_at, not_after)"
                           " VALUES (?, ?, ?, ?, ?, ?)", p, 6, NULL, NULL);
        if (e == FWT_OK) {
            char d[160];
            snprintf(d, sizeof(d), "%s certificate %s", fwt_srv_role_name(role), c.fp);
            e = srv_audit(s, who, "admin-cert-create", name, d);
        }
    });
    if (e == FWT_OK) {
        *info = json_pack("{s:s, s:s, s:s, s:s, s:I}", "name", name, "role", fwt_srv_role_name(role), "fingerprint",
                          c.fp, "serial", c.serial, "not_after", (json_int_t)c.not_after);
        *key_pem = key;
        *cert_pem = c.pem;
        c.pem = NULL;
        key = NULL;
    }
    if (key) {
        fwt_zeroize(key, strlen(key));
        free(key);
    }
    ca_issued_free(&c);
    return e;
}

fwt_err fwt_srv_admin_cert_check(fwt_srv *s, const char *fp, struct fwt_srv_actor *who)
{
    memset(who, 0, sizeof(*who));
    struct db_param p[] = {DBT(fp ? fp : "")};
    struct db_rows r;
    fwt_err e = db_exec(s->db, "SELECT name, role FROM admin_certs WHERE fp = ? AND not_after > ?",
                        (struct db_param[]){p[0], DBI(srv_now())}, 2, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    if (r.nrows != 1 || fwt_srv_role_parse(db_cell(&r, 0, 1), &who->role) != FWT_OK) {
        e = fwt_fail(FWT_E_KEY, "no administrator has this certificate");
    } else {
        snprintf(who->name, sizeof(who->name), "admin:%s", db_cell(&r, 0, 0));
    }
    db_rows_free(&r);
    return e;
}

/* ---- devices ---- */

static json_t *num_or_null(const char *v)
{
    int64_t i;
    return v && db_to_i64(v, &i) == FWT_OK ? json_integer((json_int_t)i) : json_null();
}

#define DEVICE_COLS "d.id, d.hardware_id, d.serial, d.status, d.enrolled_at, d.last_seen, d.counter, d.last_manifest"

static fwt_err tags_of(fwt_srv *s, const char *id, json_t **arr)
{
    struct db_param p[] = {DBT(id)};
    struct db_rows r;
    fwt_err e = db_exec(s->db, "SELECT tag FROM device_tags WHERE device_id = ? ORDER BY tag", p, 1, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    *arr = json_array();
    for (size_t i = 0; i < r.nrows; i++) {
        json_array_append_new(*arr, json_string(db_cell(&r, i, 0)));
    }
    db_rows_free(&r);
    return FWT_OK;
}

/* tags: the device's tags (stolen), or NULL to look them up. */
static fwt_err device_json(fwt_srv *s, const struct db_rows *r, size_t i, int full, json_t *tags, json_t **out)
{
    fwt_err e = tags ? FWT_OK : tags_of(s, db_cell(r, i, 0), &tags);
    if (e != FWT_OK) {
        return e;
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id", db_cell(r, i, 0), "hardware_id",
                          db_cell(r, i, 1), "serial", db_cell(r, i, 2), "status", db_cell(r, i, 3),
                          "enrolled_at", num_or_null(db_cell(r, i, 4)), "last_seen",
                          num_or_null(db_cell(r, i, 5)), "counter", num_or_null(db_cell(r, i, 6)), "tags", tags);
    /* What it runs: the confirmed (else trial) slot of its last manifest. */
    const char *m = db_cell(r, i, 7);
    json_t *man = m ? json_loads(m, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *sig = json_object_get(man, "signed");
    json_t *running = json_null();
    size_t k;
    json_t *slot;
    json_array_foreach(json_object_get(sig, "slots"), k, slot)
    {
        const char *st = json_string_value(json_object_get(slot, "state"));
        if (st && (!strcmp(st, "confirmed") || (!strcmp(st, "trial") && json_is_null(running)))) {
            json_decref(running);
            running = json_pack("{s:O*, s:O*, s:s, s:O*}", "name", json_object_get(slot, "name"), "version",
                                json_object_get(slot, "version"), "state", st, "sha256",
                                json_object_get(json_object_get(slot, "hashes"), "sha256"));
        }
    }
    if (!o) {
        json_decref(running);
        json_decref(man);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    json_object_set_new(o, "running", running ? running : json_null());
    json_object_set(o, "last_install", json_object_get(sig, "last_install") ? json_object_get(sig, "last_install") : json_null());
    if (full) {
        json_object_set(o, "last_manifest", sig ? sig : json_null());
        struct db_param pa[] = {DBT(db_cell(r, i, 0))};
        struct db_rows ar;
        json_t *attrs = json_object();
        if ((e = db_exec(s->db, "SELECT key, value FROM device_attrs WHERE device_id = ? ORDER BY key", pa, 1, &ar,
                         NULL)) == FWT_OK) {
            for (size_t ai = 0; ai < ar.nrows; ai++) {
                json_object_set_new(attrs, db_cell(&ar, ai, 0), json_string(db_cell(&ar, ai, 1)));
            }
            db_rows_free(&ar);
        }
        json_object_set_new(o, "attrs", attrs);
    }
    json_decref(man);
    /* remote attestation: the key's state and the newest signed record (attest.c) */
    json_t *att = NULL;
    char ak[16];
    if (full && (e = srv_attest_key_state(s, db_cell(r, i, 0), ak)) == FWT_OK &&
        (e = srv_attest_latest(s, db_cell(r, i, 0), &att)) == FWT_OK) {
        json_object_set_new(o, "attestation_key", json_string(ak));
        json_object_set_new(o, "attestation", att ? att : json_null());
    }
    if (e != FWT_OK) {
        json_decref(o);
        return e;
    }
    *out = o;
    return FWT_OK;
}

fwt_err fwt_srv_device_list(fwt_srv *s, const char *tag, json_t **arr)
{
    *arr = NULL;
    struct db_rows r;
    struct db_param p[] = {DBT(tag)};
    fwt_err e = tag ? db_exec(s->db, "SELECT " DEVICE_COLS " FROM devices d JOIN device_tags t ON t.device_id = d.id"
                                     " WHERE t.tag = ? ORDER BY d.id", p, 1, &r, NULL)
                    : db_exec(s->db, "SELECT " DEVICE_COLS " FROM devices d ORDER BY d.id", NULL, 0, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    /* every device's tags in one query, mapped by device id */
    struct db_rows tr;
    e = tag ? db_exec(s->db, "SELECT t.device_id, t.tag FROM device_tags t WHERE t.device_id IN"
                             " (SELECT device_id FROM device_tags WHERE tag = ?) ORDER BY t.tag",
                      p, 1, &tr, NULL)
            : db_exec(s->db, "SELECT device_id, tag FROM device_tags ORDER BY tag", NULL, 0, &tr, NULL);
    if (e != FWT_OK) {
        db_rows_free(&r);
        return e;
    }
    json_t *map = json_object();
    for (size_t k = 0; map && k < tr.nrows; k++) {
        json_t *t = json_object_get(map, db_cell(&tr, k, 0));
        if (!t) {
            json_object_set_new(map, db_cell(&tr, k, 0), t = json_array());
        }
        json_array_append_new(t, json_string(db_cell(&tr, k, 1)));
    }
    json_t *a = json_array();
    for (size_t i = 0; e == FWT_OK && i < r.nrows; i++) {
        json_t *tags = json_object_get(map, db_cell(&r, i, 0)), *o = NULL;
        tags = tags ? json_incref(tags) : json_array();
        if ((e = device_json(s, &r, i, 0, tags, &o)) == FWT_OK) {
            json_array_append_new(a, o);
        }
    }
    json_decref(map);
    db_rows_free(&tr);
    db_rows_free(&r);
    if (e != FWT_OK) {
        json_decref(a);
        return e;
    }
    *arr = a;
    return FWT_OK;
}

fwt_err fwt_srv_device_show(fwt_srv *s, const char *id, json_t **obj)
{
    *obj = NULL;
    struct db_param p[] = {DBT(id)};
    struct db_rows r;
    fwt_err e = db_exec(s->db, "SELECT " DEVICE_COLS " FROM devices d WHERE d.id = ?", p, 1, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    if (r.nrows == 0) {
        e = fwt_fail(FWT_E_NOT_FOUND, "no device '%s'", id);
    } else {
        e = device_json(s, &r, 0, 1, NULL, obj);
    }
    db_rows_free(&r);
    return e;
}

static fwt_err device_exists(fwt_srv *s, const char *id)
{
    int64_t n = 0;
    struct db_param p[] = {DBT(id)};
    fwt_err e = db_query_int(s->db, "SELECT COUNT(*) FROM devices WHERE id = ?", p, 1, &n);
    if (e == FWT_OK && n == 0) {
        e = fwt_fail(FWT_E_NOT_FOUND, "no device '%s'", id);
    }
    return e;
}

static int tag_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > 64) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.')) {
            return 0;
        }
    }
    return 1;
}

fwt_err fwt_srv_device_tag(fwt_srv *s, const struct fwt_srv_actor *who, const char *id, const char *const *add,
                           size_t n_add, const char *const *remove, size_t n_remove)
{
    fwt_err e = need_role(who, FWT_SRV_OPERATOR);
    for (size_t i = 0; e == FWT_OK && i < n_add + n_remove; i++) {
        const char *t = i < n_add ? add[i] : remove[i - n_add];
        if (!tag_ok(t)) {
            e = fwt_fail(FWT_E_ARG, "tag '%s': 1 to 64 of A-Z a-z 0-9 - _ .", t);
        }
    }
    if (e != FWT_OK) {
        return e;
    }
    char detail[1024] = "";
    size_t used = 0;
    TXN(s, {
        e = device_exists(s, id);
        for (size_t i = 0; e == FWT_OK && i < n_add + n_remove; i++) {
            const char *t = i < n_add ? add[i] : remove[i - n_add];
            struct db_param p[] = {DBT(id), DBT(t)};
            e = db_exec(s->db, i < n_add ? "INSERT INTO device_tags (device_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING"
                                         : "DELETE FROM device_tags WHERE device_id = ? AND tag = ?",
                        p, 2, NULL, NULL);
            int w = snprintf(detail + used, sizeof(detail) - used, "%s%c%s", used ? " " : "", i < n_add ? '+' : '-', t);
            used = w > 0 && (size_t)w < sizeof(detail) - used ? used + (size_t)w : used;
        }
        if (e == FWT_OK) {
            char subj[96];
            snprintf(subj, sizeof(subj), "device:%s", id);
            e = srv_audit(s, who, "device-tag", subj, detail);
        }
    });
    return e;
}

static int attr_value_ok(const char *v)
{
    size_t n = v ? strlen(v) : SIZE_MAX;
    if (n > 128) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0x20 || v[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

fwt_err fwt_srv_device_attr(fwt_srv *s, const struct fwt_srv_actor *who, const char *id, const char *const *keys,
                            const char *const *values, size_t n_set, const char *const *unset, size_t n_unset)
{
    fwt_err e = need_role(who, FWT_SRV_OPERATOR);
    if (e == FWT_OK && n_set + n_unset == 0) {
        e = fwt_fail(FWT_E_ARG, "no attribute to set or remove");
    }
    if (e == FWT_OK && (n_set > FWT_SRV_MAX_ATTRS || n_unset > FWT_SRV_MAX_ATTRS)) {
        e = fwt_fail(FWT_E_ARG, "at most %d attributes per device", FWT_SRV_MAX_ATTRS);
    }
    for (size_t i = 0; e == FWT_OK && i < n_set + n_unset; i++) {
        const char *k = i < n_set ? keys[i] : unset[i - n_set];
        if (!tag_ok(k)) {
            e = fwt_fail(FWT_E_ARG, "attribute key '%s': 1 to 64 of A-Z a-z 0-9 - _ .", k ? k : "");
        } else if (i < n_set && !attr_value_ok(values[i])) {
            e = fwt_fail(FWT_E_ARG, "attribute %s: the value must be 0 to 128 printable ASCII characters", k);
        }
    }
    if (e != FWT_OK) {
        return e;
    }
    char detail[1024] = "";
    size_t used = 0;
    TXN(s, {
        e = device_exists(s, id);
        for (size_t i = 0; e == FWT_OK && i < n_set + n_unset; i++) {
            const char *k = i < n_set ? keys[i] : unset[i - n_set];
            struct db_param p[] = {DBT(id), DBT(k), DBT(i < n_set ? values[i] : "")};
            e = i < n_set ? db_exec(s->db, "INSERT INTO device_attrs (device_id, key, value) VALUES (?, ?, ?)"
                                           " ON CONFLICT (device_id, key) DO UPDATE SET value = excluded.value",
                                    p, 3, NULL, NULL)
                          : db_exec(s->db, "DELETE FROM device_attrs WHERE device_id = ? AND key = ?", p, 2, NULL,
                                    NULL);
            int w = i < n_set ? snprintf(detail + used, sizeof(detail) - used, "%s%s=%s", used ? " " : "", k, values[i])
                              : snprintf(detail + used, sizeof(detail) - used, "%s-%s", used ? " " : "", k);
            used = w > 0 && (size_t)w < sizeof(detail) - used ? used + (size_t)w : used;
        }
        int64_t n = 0;
        struct db_param pc[] = {DBT(id)};
        if (e == FWT_OK && (e = db_query_int(s->db, "SELECT COUNT(*) FROM device_attrs WHERE device_id = ?", pc, 1,
                                             &n)) == FWT_OK && n > FWT_SRV_MAX_ATTRS) {
            e = fwt_fail(FWT_E_ARG, "device %s would have %" PRId64 " attributes (at most %d)", id, n,
                         FWT_SRV_MAX_ATTRS);
        }
        if (e == FWT_OK) {
            char subj[96];
            snprintf(subj, sizeof(subj), "device:%s", id);
            e = srv_audit(s, who, "device-attr", subj, detail);
        }
    });
    return e;
}

fwt_err fwt_srv_device_revoke(fwt_srv *s, const struct fwt_srv_actor *who, const char *id, int decommission)
{
    fwt_err e = need_role(who, FWT_SRV_APPROVER);
    if (e != FWT_OK) {
        return e;
    }
    const char *st = decommission ? "decommissioned" : "revoked";
    TXN(s, {
        e = device_exists(s, id);
        struct db_param p[] = {DBT(st), DBT(id)};
        if (e == FWT_OK) {
            e = db_exec(s->db, "UPDATE devices SET status = ? WHERE id = ?", p, 2, NULL, NULL);
        }
        if (e == FWT_OK) {
            char subj[96];
            snprintf(subj, sizeof(subj), "device:%s", id);
            e = srv_audit(s, who, decommission ? "device-decommission" : "device-revoke", subj, st);
        }
    });
    /* The CRL follows the database; a failure here is reported (the API refuses the device
     * already), and the next revocation or start rewrites it. */
    if (e == FWT_OK) {
        e = ca_write_crl(s);
    }
    return e;
}

/* ---- assignments ---- */

fwt_err fwt_srv_assign(fwt_srv *s, const struct fwt_srv_actor *who, const struct fwt_srv_assignment *a,
                       json_t **info)
{
    *info = NULL;
    fwt_err e = need_role(who, FWT_SRV_APPROVER);
    if (e != FWT_OK) {
        return e;
    }
    uint8_t h[32];
    if (!a->scope || (strcmp(a->scope, "device") && strcmp(a->scope, "tag"))) {
        return fwt_fail(FWT_E_ARG, "scope must be \"device\" or \"tag\"");
    }
    if (!a->subject || !tag_ok(a->subject)) {
        return fwt_fail(FWT_E_ARG, "subject '%s': not a device id or tag", a->subject ? a->subject : "");
    }
    if (!a->target || !*a->target || strlen(a->target) > 255 || strchr(a->target, '"') || strchr(a->target, '\\')) {
        return fwt_fail(FWT_E_ARG, "target name must be 1 to 255 characters without '\"' or '\\'");
    }
    if (!a->sha256 || strlen(a->sha256) != 64 || fwt_hex_decode(a->sha256, h, 32) != FWT_OK) {
        return fwt_fail(FWT_E_ARG, "sha256 must be 64 hex digits");
    }
    for (const char *c = a->sha256; *c; c++) {
        if (*c >= 'A' && *c <= 'F') {
            return fwt_fail(FWT_E_ARG, "sha256 must be lower-case hex");
        }
    }
    if (a->length == 0 || a->length > (uint64_t)INT64_MAX || a->release_counter > (uint64_t)INT64_MAX) {
        return fwt_fail(FWT_E_ARG, "length must be positive, and both numbers below 2^63");
    }
    struct db_param p[] = {DBT(a->scope), DBT(a->subject), DBT(a->target), DBI(a->length), DBT(a->sha256),
                           DBI(a->release_counter), DBI(srv_now()), DBT(who->name)};
    TXN(s, {
        if (!strcmp(a->scope, "device")) {
            e = device_exists(s, a->subject);
        }
        if (e == FWT_OK) {
            e = db_exec(s->db,
                        "INSERT INTO assignments (scope, subject, target, length, sha256, release_counter,"
                        " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, subject)"
                        " DO UPDATE SET target = excluded.target, length = excluded.length, sha256 = excluded.sha256,"
                        " release_counter = excluded.release_counter, created_at = excluded.created_at,"
                        " created_by = excluded.created_by",
                        p, 8, NULL, NULL);
        }
        if (e == FWT_OK) {
            char subj[96], d[512];
            snprintf(subj, sizeof(subj), "%s:%s", a->scope, a->subject);
            snprintf(d, sizeof(d), "target %s length %llu sha256 %s release_counter %llu", a->target,
                     (unsigned long long)a->length, a->sha256, (unsigned long long)a->release_counter);
            e = srv_audit(s, who, "assign", subj, d);
        }
    });
    if (e == FWT_OK) {
        *info = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I}", "scope", a->scope, "subject", a->subject, "target",
                          a->target, "length", (json_int_t)a->length, "sha256", a->sha256, "release_counter",
                          (json_int_t)a->release_counter);
    }
    return e;
}

fwt_err fwt_srv_assignment_list(fwt_srv *s, json_t **arr)
{
    struct db_rows r;
    fwt_err e = db_exec(s->db, "SELECT scope, subject, target, length, sha256, release_counter, created_at, created_by"
                               " FROM assignments ORDER BY scope, subject", NULL, 0, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    *arr = json_array();
    for (size_t i = 0; i < r.nrows; i++) {
        json_array_append_new(*arr, json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:s}", "scope", db_cell(&r, i, 0),
                                              "subject", db_cell(&r, i, 1), "target", db_cell(&r, i, 2), "length",
                                              num_or_null(db_cell(&r, i, 3)), "sha256", db_cell(&r, i, 4),
                                              "release_counter", num_or_null(db_cell(&r, i, 5)), "created_at",
                                              num_or_null(db_cell(&r, i, 6)), "created_by", db_cell(&r, i, 7)));
    }
    db_rows_free(&r);
    return FWT_OK;
}

fwt_err fwt_srv_event_list(fwt_srv *s, const char *device_id, size_t limit, json_t **arr)
{
    struct db_rows r;
    struct db_param p[] = {DBT(device_id), DBI(limit ? limit : 100)};
    fwt_err e = device_id ? db_exec(s->db, "SELECT id, time, device_id, kind, actor, detail FROM events WHERE device_id = ?"
                                           " ORDER BY id DESC LIMIT ?", p, 2, &r, NULL)
                          : db_exec(s->db, "SELECT id, time, device_id, kind, actor, detail FROM events"
                                           " ORDER BY id DESC LIMIT ?", p + 1, 1, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    *arr = json_array();
    for (size_t i = 0; i < r.nrows; i++) {
        const char *dev = db_cell(&r, i, 2);
        json_array_append_new(*arr, json_pack("{s:o, s:o, s:o, s:s, s:s, s:s}", "id", num_or_null(db_cell(&r, i, 0)),
                                              "time", num_or_null(db_cell(&r, i, 1)), "device_id",
                                              dev ? json_string(dev) : json_null(), "kind", db_cell(&r, i, 3),
                                              "actor", db_cell(&r, i, 4), "detail", db_cell(&r, i, 5)));
    }
    db_rows_free(&r);
    return FWT_OK;
}

/* ---- the device API's records ---- */

void srv_device_free(struct srv_device *d)
{
    free(d->pubkey_pem);
    memset(d, 0, sizeof(*d));
}

fwt_err srv_device_by_fp(fwt_srv *s, const char *fp, struct srv_device *d)
{
    memset(d, 0, sizeof(*d));
    struct db_param p[] = {DBT(fp)};
    struct db_rows r;
    fwt_err e = db_exec(s->db,
                        "SELECT d.id, d.hardware_id, d.serial, d.status, d.counter, c.pubkey, c.not_after,"
                        " d.rate_window, d.rate_count FROM device_certs c JOIN devices d ON d.id = c.device_id"
                        " WHERE c.fp = ?",
                        p, 1, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    if (r.nrows != 1) {
        db_rows_free(&r);
        return fwt_fail(FWT_E_NOT_FOUND, "no device has this certificate");
    }
    snprintf(d->id, sizeof(d->id), "%s", db_cell(&r, 0, 0));
    snprintf(d->hardware_id, sizeof(d->hardware_id), "%s", db_cell(&r, 0, 1));
    snprintf(d->serial, sizeof(d->serial), "%s", db_cell(&r, 0, 2));
    snprintf(d->status, sizeof(d->status), "%s", db_cell(&r, 0, 3));
    if ((e = db_to_i64(db_cell(&r, 0, 4), &d->counter)) == FWT_OK &&
        (e = db_to_i64(db_cell(&r, 0, 6), &d->cert_not_after)) == FWT_OK &&
        (e = db_to_i64(db_cell(&r, 0, 7), &d->rate_window)) == FWT_OK &&
        (e = db_to_i64(db_cell(&r, 0, 8), &d->rate_count)) == FWT_OK &&
        !(d->pubkey_pem = strdup(db_cell(&r, 0, 5) ? db_cell(&r, 0, 5) : ""))) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    db_rows_free(&r);
    if (e != FWT_OK) {
        srv_device_free(d);
    }
    return e;
}

static fwt_err insert_cert(fwt_srv *s, const char *id, const struct ca_issued *c)
{
    struct db_param p[] = {DBT(c->fp), DBT(id), DBT(c->serial), DBT(c->pubkey_pem), DBI(srv_now()),
                           DBI(c->not_after)};
    return db_exec(s->db, "INSERT INTO device_certs (fp, device_id, serial_hex, pubkey, issued_at, not_after)"
                          " VALUES (?, ?, ?, ?, ?, ?)", p, 6, NULL, NULL);
}

fwt_err srv_device_create(fwt_srv *s, const char *device_id, const char *hardware_id, const char *serial,
                          EVP_PKEY *pub, const char *how, struct ca_issued *cert)
{
    int64_t taken = 0;
    struct db_param sp[] = {DBT(serial)};
    fwt_err e = db_query_int(s->db, "SELECT COUNT(*) FROM devices WHERE serial = ?", sp, 1, &taken);
    if (e == FWT_OK && taken) {
        e = fwt_fail(FWT_E_STATE, "serial '%s' is already enrolled", serial);
    }
    if (e == FWT_OK) {
        struct db_param dp[] = {DBT(device_id), DBT(hardware_id), DBT(serial), DBI(srv_now())};
        e = db_exec(s->db, "INSERT INTO devices (id, hardware_id, serial, status, enrolled_at) VALUES"
                           " (?, ?, ?, 'active', ?)", dp, 4, NULL, NULL);
    }
    if (e == FWT_OK && (e = ca_issue_device(s, pub, device_id, cert)) == FWT_OK) {
        e = insert_cert(s, device_id, cert);
    }
    if (e == FWT_OK) {
        char d[600];
        snprintf(d, sizeof(d), "hardware_id %s serial %s%s%s", hardware_id, serial, how && *how ? " " : "",
                 how ? how : "");
        e = srv_event(s, device_id, "enroll", "device", d);
    }
    return e;
}

fwt_err srv_need_role(const struct fwt_srv_actor *who, enum fwt_srv_role need)
{
    return need_role(who, need);
}

int srv_name_ok(const char *name)
{
    return tag_ok(name);
}

fwt_err srv_enroll(fwt_srv *s, const struct fwt_srv_enroll_req *req, EVP_PKEY *pub, char device_id[65],
                   struct ca_issued *cert)
{
    char h[65], rnd[33];
    fwt_err e = srv_hash_token(req->token, h);
    if (e == FWT_OK) {
        e = srv_random_hex(16, rnd);
    }
    if (e != FWT_OK) {
        return e;
    }
    snprintf(device_id, 65, "dev-%s", rnd);
    memset(cert, 0, sizeof(*cert));
    uint64_t now = srv_now();
    TXN(s, {
        uint64_t n = 0;
        struct db_param tp[] = {DBI(now), DBT(device_id), DBT(h), DBI(now)};
        /* The token is used up here, once, whichever server process gets it first. */
        e = db_exec(s->db, "UPDATE enroll_tokens SET used_at = ?, used_by = ? WHERE hash = ? AND used_at IS NULL"
                           " AND expires_at > ?", tp, 4, NULL, &n);
        if (e == FWT_OK && n != 1) {
            e = fwt_fail(FWT_E_KEY, "enrollment token unknown, used or expired");
        }
        if (e == FWT_OK) {
            e = srv_device_create(s, device_id, req->hardware_id, req->serial, pub, "", cert);
        }
    });
    if (e != FWT_OK) {
        ca_issued_free(cert);
    }
    return e;
}

fwt_err srv_renew(fwt_srv *s, const struct srv_device *d, EVP_PKEY *pub, struct ca_issued *cert)
{
    fwt_err e;
    TXN(s, {
        e = ca_issue_device(s, pub, d->id, cert);
        if (e == FWT_OK) {
            e = insert_cert(s, d->id, cert);
        }
        if (e == FWT_OK) {
            e = srv_event(s, d->id, "renew", "device", cert->fp);
        }
    });
    if (e != FWT_OK) {
        ca_issued_free(cert);
    }
    return e;
}

fwt_err srv_checkin(fwt_srv *s, const struct srv_device *d, int64_t counter, const char *manifest, const char *kind,
                    const char *detail)
{
    int64_t now = (int64_t)srv_now();
    fwt_err e;
    TXN(s, {
        struct db_rows r;
        struct db_param ip[] = {DBT(d->id)};
        e = db_exec(s->db, "SELECT counter, rate_window, rate_count, status FROM devices WHERE id = ?", ip, 1, &r, NULL);
        int64_t last = 0, win = 0, cnt = 0;
        if (e == FWT_OK && r.nrows != 1) {
            e = fwt_fail(FWT_E_NOT_FOUND, "device '%s' is gone", d->id);
        }
        if (e == FWT_OK && (e = db_to_i64(db_cell(&r, 0, 0), &last)) == FWT_OK &&
            (e = db_to_i64(db_cell(&r, 0, 1), &win)) == FWT_OK) {
            e = db_to_i64(db_cell(&r, 0, 2), &cnt);
        }
        if (e == FWT_OK && strcmp(db_cell(&r, 0, 3), "active") != 0) {
            e = fwt_fail(FWT_E_CERT, "device %s is %s", d->id, db_cell(&r, 0, 3));
        }
        db_rows_free(&r);
        if (e == FWT_OK && counter <= last) {
            e = fwt_fail(FWT_E_META_ROLLBACK, "counter %lld is not above the last one (%lld): a replay",
                         (long long)counter, (long long)last);
        }
        if (e == FWT_OK) {
            if (now - win >= (int64_t)s->set.checkin_window) {
                win = now;
                cnt = 0;
            }
            if (cnt >= (int64_t)s->set.checkin_burst) {
                e = fwt_fail(FWT_E_LOCKED, "more than %llu requests in %llu s: slow down",
                             (unsigned long long)s->set.checkin_burst, (unsigned long long)s->set.checkin_window);
            }
        }
        if (e == FWT_OK) {
            uint64_t n = 0;
            /* counter < ?: a concurrent request with the same counter (another server process) loses. */
            struct db_param up[] = {DBI(counter), DBI(now), DBI(win), DBI(cnt + 1), DBT(d->id), DBI(counter)};
            struct db_param mp[] = {DBI(counter), DBT(manifest), DBI(now), DBI(win), DBI(cnt + 1), DBT(d->id), DBI(counter)};
            e = manifest ? db_exec(s->db, "UPDATE devices SET counter = ?, last_manifest = ?, last_seen = ?, rate_window = ?,"
                                          " rate_count = ? WHERE id = ? AND counter < ?", mp, 7, NULL, &n)
                         : db_exec(s->db, "UPDATE devices SET counter = ?, last_seen = ?, rate_window = ?,"
                                          " rate_count = ? WHERE id = ? AND counter < ?", up, 6, NULL, &n);
            if (e == FWT_OK && n != 1) {
                e = fwt_fail(FWT_E_META_ROLLBACK, "counter %lld was used concurrently: a replay", (long long)counter);
            }
        }
        if (e == FWT_OK) {
            e = srv_event(s, d->id, kind, "device", detail);
        }
    });
    return e;
}

fwt_err fwt_srv_target_file(const char *path, uint64_t *length, char sha256[65])
{
    uint8_t *buf = NULL;
    size_t len = 0;
    uint8_t h[32];
    fwt_err e = fwt_read_file(path, (size_t)1 << 31, &buf, &len);
    if (e == FWT_OK && len == 0) {
        e = fwt_fail(FWT_E_ARG, "%s: empty file", path);
    }
    if (e == FWT_OK && (e = fwt_sha256(buf, len, h)) == FWT_OK) {
        fwt_hex_encode(h, 32, sha256);
        *length = len;
    }
    free(buf);
    return e;
}

/* Exposure: the devices running each image (by the SHA-256 of its bytes, the running slot
 * of their last manifest, as device_json names it), with the image's block if any. */
fwt_err fwt_srv_image_exposure(fwt_srv *s, const char *sha256, json_t **arr)
{
    *arr = NULL;
    json_t *devs = NULL, *by = json_object(), *order = json_array();
    struct db_rows b;
    memset(&b, 0, sizeof(b));
    fwt_err e = by && order ? fwt_srv_device_list(s, NULL, &devs) : fwt_fail(FWT_E_NOMEM, "out of memory");
    if (e == FWT_OK) {
        e = db_exec(s->db, "SELECT sha256, reason, at FROM blocked_images ORDER BY sha256", NULL, 0, &b, NULL);
    }
    size_t i;
    json_t *d;
    json_array_foreach(e == FWT_OK ? devs : NULL, i, d)
    {
        json_t *run = json_object_get(d, "running");
        const char *h = json_string_value(json_object_get(run, "sha256"));
        if (!h || (sha256 && strcmp(h, sha256) != 0)) {
            continue;
        }
        json_t *ent = json_object_get(by, h);
        if (!ent) {
            ent = json_pack("{s:s, s:O*, s:i, s:[], s:n}", "sha256", h, "version", json_object_get(run, "version"),
                            "count", 0, "devices", "blocked");
            if (!ent || json_object_set_new(by, h, ent) || json_array_append(order, ent)) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
                break;
            }
        }
        json_object_set_new(ent, "count", json_integer(json_integer_value(json_object_get(ent, "count")) + 1));
        json_array_append_new(json_object_get(ent, "devices"),
                              json_pack("{s:O, s:O, s:O}", "id", json_object_get(d, "id"), "hardware_id",
                                        json_object_get(d, "hardware_id"), "status", json_object_get(d, "status")));
    }
    /* blocked images no device runs are listed too (count 0) */
    for (i = 0; e == FWT_OK && i < b.nrows; i++) {
        const char *h = db_cell(&b, i, 0);
        if (sha256 && strcmp(h, sha256) != 0) {
            continue;
        }
        json_t *ent = json_object_get(by, h);
        if (!ent) {
            ent = json_pack("{s:s, s:n, s:i, s:[], s:n}", "sha256", h, "version", "count", 0, "devices", "blocked");
            if (!ent || json_object_set_new(by, h, ent) || json_array_append(order, ent)) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
                break;
            }
        }
        json_object_set_new(ent, "blocked", json_pack("{s:s, s:o}", "reason", db_cell(&b, i, 1), "at",
                                                      num_or_null(db_cell(&b, i, 2))));
    }
    db_rows_free(&b);
    json_decref(devs);
    json_decref(by);
    if (e != FWT_OK) {
        json_decref(order);
        return e;
    }
    *arr = order;
    return FWT_OK;
}
