/*
 * The director's per-device metadata: what the device should install now
 * (its own assignment, else its first tagged one by tag name), as TUF
 * targets/snapshot/timestamp (fwt_director.h) stored with their versions.
 * Regenerated when the assignment changed or a role is past half its
 * lifetime; a version only ever goes up. Two server processes racing on one
 * device: the update is conditional on the version read, the loser retries.
 */
#include "srv.h"

#include <fwtrust/fwt_director.h>

#include <stdlib.h>
#include <string.h>

static const char *const k_roles[] = {"targets", "snapshot", "timestamp"};

struct stored {
    int present;
    int64_t version, expires;
    char digest[65];
};

static fwt_err load_stored(fwt_srv *s, const char *id, struct stored st[3])
{
    memset(st, 0, 3 * sizeof(*st));
    struct db_param p[] = {DBT(id)};
    struct db_rows r;
    fwt_err e = db_exec(s->db, "SELECT role, version, expires_at, digest FROM director_meta WHERE device_id = ?", p, 1,
                        &r, NULL);
    for (size_t i = 0; e == FWT_OK && i < r.nrows; i++) {
        for (int k = 0; k < 3; k++) {
            if (!strcmp(db_cell(&r, i, 0), k_roles[k])) {
                st[k].present = 1;
                if ((e = db_to_i64(db_cell(&r, i, 1), &st[k].version)) == FWT_OK) {
                    e = db_to_i64(db_cell(&r, i, 2), &st[k].expires);
                }
                snprintf(st[k].digest, sizeof(st[k].digest), "%s", db_cell(&r, i, 3));
            }
        }
    }
    db_rows_free(&r);
    return e;
}

/* The assignment in force for a device, as a digest of everything targets.json says. */
struct wanted {
    int has;
    char target[256], sha256[65], hardware_id[129];
    int64_t length, release_counter;
    char digest[65];
};

static fwt_err wanted_of(fwt_srv *s, const char *id, struct wanted *w)
{
    memset(w, 0, sizeof(*w));
    struct db_param p[] = {DBT(id), DBT(id)};
    struct db_rows r;
    fwt_err e = db_exec(s->db,
                        "SELECT a.target, a.length, a.sha256, a.release_counter, d.hardware_id, a.scope, a.subject"
                        " FROM devices d JOIN assignments a ON (a.scope = 'device' AND a.subject = d.id)"
                        " OR (a.scope = 'tag' AND a.subject IN (SELECT tag FROM device_tags WHERE device_id = ?))"
                        " WHERE d.id = ? ORDER BY CASE a.scope WHEN 'device' THEN 0 ELSE 1 END, a.subject LIMIT 1",
                        p, 2, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    char text[1024] = "none";
    if (r.nrows == 1) {
        w->has = 1;
        snprintf(w->target, sizeof(w->target), "%s", db_cell(&r, 0, 0));
        snprintf(w->sha256, sizeof(w->sha256), "%s", db_cell(&r, 0, 2));
        snprintf(w->hardware_id, sizeof(w->hardware_id), "%s", db_cell(&r, 0, 4));
        if ((e = db_to_i64(db_cell(&r, 0, 1), &w->length)) == FWT_OK) {
            e = db_to_i64(db_cell(&r, 0, 3), &w->release_counter);
        }
        snprintf(text, sizeof(text), "%s\n%lld\n%s\n%lld\n%s", w->target, (long long)w->length, w->sha256,
                 (long long)w->release_counter, w->hardware_id);
    }
    db_rows_free(&r);
    /* the online keys are part of what the metadata says: new keys (a rotation) make new versions */
    size_t tl = strlen(text);
    snprintf(text + tl, sizeof(text) - tl, "\nkeys %s %s %s", s->dk[0].keyid, s->dk[1].keyid, s->dk[2].keyid);
    uint8_t h[32];
    if (e == FWT_OK && (e = fwt_sha256(text, strlen(text), h)) == FWT_OK) {
        fwt_hex_encode(h, 32, w->digest);
    }
    return e;
}

fwt_err director_assigned_target(fwt_srv *s, const char *device_id, char *target, size_t cap, char sha256[65],
                                 int *has)
{
    struct wanted w;
    fwt_err e = wanted_of(s, device_id, &w);
    *has = e == FWT_OK && w.has;
    snprintf(target, cap, "%s", *has ? w.target : "");
    snprintf(sha256, 65, "%s", *has ? w.sha256 : "");
    return e;
}


/* Store one role: insert the first version, else update the version read (0 rows: a race). */
static fwt_err put_role(fwt_srv *s, const char *id, int k, const struct stored *old, int64_t version,
                        int64_t expires, const char *digest, const char *body)
{
    uint64_t n = 0;
    fwt_err e;
    if (!old->present) {
        struct db_param p[] = {DBT(id), DBT(k_roles[k]), DBI(version), DBI(expires), DBT(digest), DBT(body)};
        e = db_exec(s->db, "INSERT INTO director_meta (device_id, role, version, expires_at, digest, body)"
                           " VALUES (?, ?, ?, ?, ?, ?)", p, 6, NULL, &n);
    } else {
        struct db_param p[] = {DBI(version), DBI(expires), DBT(digest), DBT(body), DBT(id), DBT(k_roles[k]),
                               DBI(old->version)};
        e = db_exec(s->db, "UPDATE director_meta SET version = ?, expires_at = ?, digest = ?, body = ?"
                           " WHERE device_id = ? AND role = ? AND version = ?", p, 7, NULL, &n);
    }
    if (e == FWT_OK && n != 1) {
        e = fwt_fail(FWT_E_LOCKED, "director metadata of %s changed meanwhile", id);
    }
    return e;
}

static fwt_err refresh_once(fwt_srv *s, const char *id, uint64_t *targets_version)
{
    struct stored st[3];
    struct wanted w;
    fwt_err e = load_stored(s, id, st);
    if (e == FWT_OK) {
        e = wanted_of(s, id, &w);
    }
    if (e != FWT_OK) {
        return e;
    }
    int64_t now = (int64_t)srv_now();
    int64_t long_life = (int64_t)s->set.targets_days * 86400, ts_life = (int64_t)s->set.timestamp_hours * 3600;
    int new_targets = !st[0].present || !st[1].present || strcmp(st[0].digest, w.digest) != 0 ||
                      st[0].expires - now < long_life / 2 || st[1].expires - now < long_life / 2;
    int new_ts = new_targets || !st[2].present || st[2].expires - now < ts_life / 2;
    *targets_version = (uint64_t)st[0].version;
    if (!new_ts) {
        return FWT_OK;
    }
    char *tb = NULL, *sb = NULL, *xb = NULL;
    size_t tl = 0, sl = 0, xl = 0;
    int64_t tv = st[0].version + (new_targets ? 1 : 0), sv = st[1].version + (new_targets ? 1 : 0);
    int64_t xv = st[2].version + 1;
    struct fwt_director_target t = {w.target, (uint64_t)w.length, w.sha256, id, w.hardware_id,
                                    (uint64_t)w.release_counter};
    e = db_begin(s->db);
    if (e == FWT_OK && new_targets) {
        if ((e = fwt_director_targets(&s->dk[0], w.has ? &t : NULL, (uint64_t)tv, (time_t)(now + long_life), &tb,
                                      &tl)) == FWT_OK &&
            (e = put_role(s, id, 0, &st[0], tv, now + long_life, w.digest, tb)) == FWT_OK &&
            (e = fwt_director_snapshot(&s->dk[1], (uint64_t)tv, (uint64_t)sv, (time_t)(now + long_life), &sb, &sl)) ==
                FWT_OK) {
            e = put_role(s, id, 1, &st[1], sv, now + long_life, w.digest, sb);
        }
    }
    if (e == FWT_OK && !new_targets) {
        /* the timestamp names the stored snapshot: its bytes are needed for the hash */
        e = director_get(s, id, "snapshot", &sb, &sl);
    }
    if (e == FWT_OK && (e = fwt_director_timestamp(&s->dk[2], (const uint8_t *)sb, sl, (uint64_t)sv, (uint64_t)xv,
                                                   (time_t)(now + ts_life), &xb, &xl)) == FWT_OK) {
        e = put_role(s, id, 2, &st[2], xv, now + ts_life, w.digest, xb);
    }
    if (e == FWT_OK && new_targets) {
        char d[128];
        snprintf(d, sizeof(d), "targets version %lld%s", (long long)tv, w.has ? "" : " (nothing assigned)");
        e = srv_event(s, id, "director", "server", d);
    }
    if (e == FWT_OK) {
        e = db_commit(s->db);
    } else {
        db_rollback(s->db);
    }
    free(tb);
    free(sb);
    free(xb);
    if (e == FWT_OK) {
        *targets_version = (uint64_t)tv;
    }
    return e;
}

fwt_err director_refresh(fwt_srv *s, const char *device_id, uint64_t *targets_version)
{
    fwt_err e = srv_director_reload(s); /* a rotation made meanwhile signs from now on */
    if (e != FWT_OK) {
        return e;
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        e = refresh_once(s, device_id, targets_version);
        if (e != FWT_E_LOCKED && e != FWT_E_STATE) {
            break;
        }
    }
    return e;
}

fwt_err director_get(fwt_srv *s, const char *device_id, const char *role, char **body, size_t *len)
{
    *body = NULL;
    struct db_param p[] = {DBT(device_id), DBT(role)};
    struct db_rows r;
    fwt_err e = db_exec(s->db, "SELECT body FROM director_meta WHERE device_id = ? AND role = ?", p, 2, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    if (r.nrows != 1 || !db_cell(&r, 0, 0)) {
        e = fwt_fail(FWT_E_NOT_FOUND, "no %s.json for %s yet", role, device_id);
    } else if (!(*body = strdup(db_cell(&r, 0, 0)))) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    } else {
        *len = strlen(*body);
    }
    db_rows_free(&r);
    return e;
}

fwt_err director_root_file(fwt_srv *s, const char *name, char **body, size_t *len)
{
    *body = NULL;
    fwt_err re = srv_director_reload(s);
    if (re != FWT_OK) {
        return re;
    }
    if (!strcmp(name, "root.json")) {
        if (!(*body = malloc(s->root_len + 1))) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        memcpy(*body, s->root_json, s->root_len + 1);
        *len = s->root_len;
        return FWT_OK;
    }
    /* N.root.json: digits only, so the name never leaves DIR/director */
    size_t n = strspn(name, "0123456789");
    if (n == 0 || n > 19 || strcmp(name + n, ".root.json") != 0 || name[0] == '0') {
        return fwt_fail(FWT_E_NOT_FOUND, "no director file '%s'", name);
    }
    char rel[64];
    snprintf(rel, sizeof(rel), "director/%s", name);
    char *p = srv_path(s->dir, rel);
    uint8_t *buf = NULL;
    fwt_err e = p ? fwt_read_file(p, 1 << 20, &buf, len) : fwt_fail(FWT_E_NOMEM, "out of memory");
    free(p);
    if (e != FWT_OK) {
        return fwt_fail(FWT_E_NOT_FOUND, "no director file '%s'", name);
    }
    *body = (char *)buf;
    return FWT_OK;
}
