/*
 * Anomaly alerts over the event stream, containment, and signed webhook
 * deliveries (fwt_rollout.h). Deliveries are rows of webhook_deliveries; the
 * daemon's delivery thread (own database connection) sends them with libcurl,
 * so a receiver that hangs or fails never holds up device requests.
 */
#include "srv.h"

#include <fwtrust/fwt_crypto.h>
#include <fwtrust/fwt_fleet.h>
#include <fwtrust/fwt_rollout.h>

#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct fwt_srv_actor k_alerts = {"server:alerts", FWT_SRV_APPROVER};

static const char *const k_rules[] = {"failures-above-baseline", "unknown-image-digest", "unexpected-signer",
                                      "identity-two-places",     "clock-backwards",      "checkin-storm",
                                      "audit-head-backwards",    "attestation-failed",   "publish-gate",
                                      NULL};

/* ---- configuration ---- */

static fwt_err int_opt(json_t *c, const char *k, int64_t lo, int64_t hi)
{
    json_t *v = json_object_get(c, k);
    if (v && (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)) {
        return fwt_fail(FWT_E_ARG, "alerts.json: %s must be an integer from %" PRId64 " to %" PRId64, k, lo, hi);
    }
    return FWT_OK;
}

fwt_err fwt_srv_alert_config_parse(const uint8_t *buf, size_t len, json_t **cfg)
{
    *cfg = NULL;
    json_error_t je;
    json_t *c = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!c || !json_is_object(c)) {
        json_decref(c);
        return fwt_fail(FWT_E_ARG, "alerts.json: not a JSON object (%s)", c ? "" : je.text);
    }
    static const char *const keys[] = {"webhooks", "timeout", "max_attempts", "known_images", "catalog",
                                       "allowed_key_versions", "failure_window", "failure_min", "failure_factor",
                                       "storm_per_minute", "two_places_seconds", "containment", NULL};
    fwt_err e = FWT_OK;
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k)) {
            i++;
        }
        if (!keys[i]) {
            e = fwt_fail(FWT_E_ARG, "alerts.json: unknown field '%s'", k);
            break;
        }
    }
    struct { const char *k; int64_t lo, hi; } ints[] = {
        {"timeout", 1, 60}, {"max_attempts", 1, 20}, {"failure_window", 60, 86400}, {"failure_min", 1, 1000000},
        {"failure_factor", 1, 1000}, {"storm_per_minute", 1, 100000000}, {"two_places_seconds", 1, 86400}};
    for (size_t i = 0; e == FWT_OK && i < sizeof(ints) / sizeof(ints[0]); i++) {
        e = int_opt(c, ints[i].k, ints[i].lo, ints[i].hi);
    }
    json_t *w = json_object_get(c, "webhooks");
    if (e == FWT_OK && w && (!json_is_array(w) || json_array_size(w) > 16)) {
        e = fwt_fail(FWT_E_ARG, "alerts.json: webhooks must be an array of at most 16");
    }
    size_t i;
    json_array_foreach(w, i, v) {
        const char *url = json_string_value(json_object_get(v, "url"));
        const char *sec = json_string_value(json_object_get(v, "secret"));
        if (e == FWT_OK && (!json_is_object(v) || json_object_size(v) != 2 || !url || !sec ||
                            (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) || strlen(url) > 500 ||
                            strlen(sec) < 16 || strlen(sec) > 128)) {
            e = fwt_fail(FWT_E_ARG, "alerts.json: webhooks[%zu] must be {\"url\": http(s)://..., \"secret\": 16 to "
                         "128 characters}", i);
        }
    }
    json_t *ki = json_object_get(c, "known_images");
    if (e == FWT_OK && ki && !json_is_array(ki)) {
        e = fwt_fail(FWT_E_ARG, "alerts.json: known_images must be an array of SHA-256 hex strings");
    }
    json_array_foreach(ki, i, v) {
        const char *h = json_string_value(v);
        if (e == FWT_OK && (!h || strlen(h) != 64 || strspn(h, "0123456789abcdef") != 64)) {
            e = fwt_fail(FWT_E_ARG, "alerts.json: known_images[%zu] is not 64 lower-case hex digits", i);
        }
    }
    json_t *kv = json_object_get(c, "allowed_key_versions");
    if (e == FWT_OK && kv && (!json_is_array(kv) || json_array_size(kv) == 0)) {
        e = fwt_fail(FWT_E_ARG, "alerts.json: allowed_key_versions must be a non-empty array of integers");
    }
    json_array_foreach(kv, i, v) {
        if (e == FWT_OK && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)) {
            e = fwt_fail(FWT_E_ARG, "alerts.json: allowed_key_versions[%zu] is not a key version", i);
        }
    }
    if (e == FWT_OK && json_object_get(c, "catalog") && !json_is_boolean(json_object_get(c, "catalog"))) {
        e = fwt_fail(FWT_E_ARG, "alerts.json: catalog must be true or false");
    }
    json_t *ct = json_object_get(c, "containment");
    if (e == FWT_OK && ct && !json_is_object(ct)) {
        e = fwt_fail(FWT_E_ARG, "alerts.json: containment must be an object {rule: action}");
    }
    json_object_foreach(ct, k, v) {
        size_t r = 0;
        while (k_rules[r] && strcmp(k_rules[r], k)) {
            r++;
        }
        const char *a = json_string_value(v);
        if (e == FWT_OK && !k_rules[r]) {
            e = fwt_fail(FWT_E_ARG, "alerts.json: containment: unknown rule '%s'", k);
        } else if (e == FWT_OK && (!a || (strcmp(a, "none") && strcmp(a, "quarantine") && strcmp(a, "halt-version")))) {
            e = fwt_fail(FWT_E_ARG, "alerts.json: containment.%s must be none, quarantine or halt-version", k);
        }
    }
    if (e != FWT_OK) {
        json_decref(c);
        return e;
    }
    *cfg = c;
    return FWT_OK;
}

/* DIR/alerts.json, or an empty configuration when there is none. */
static fwt_err config(fwt_srv *s, json_t **cfg)
{
    char *p = srv_path(s->dir, "alerts.json");
    if (!p) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    FILE *f = fopen(p, "rb");
    fwt_err e;
    if (!f) {
        *cfg = json_object();
        e = FWT_OK;
    } else {
        fclose(f);
        e = fwt_read_file(p, 1 << 20, &buf, &len);
        if (e == FWT_OK) {
            e = fwt_srv_alert_config_parse(buf, len, cfg);
        }
    }
    free(buf);
    free(p);
    return e;
}

static int64_t cfg_int(json_t *c, const char *k, int64_t def)
{
    json_t *v = json_object_get(c, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

/* ---- raising ---- */

static fwt_err hmac_hex(const char *secret, const char *msg, char out[65])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, strlen(msg), mac, &n) || n != 32) {
        return fwt_fail(FWT_E_CRYPTO, "HMAC-SHA256 failed");
    }
    fwt_hex_encode(mac, 32, out);
    return FWT_OK;
}

/* Record an alert (unless the same rule and subject fired in the last 10 minutes),
 * queue it for every webhook, and contain. */
static fwt_err raise_alert(fwt_srv *s, json_t *cfg, const char *rule, const char *device_id, const char *subject,
                           const char *detail, time_t now)
{
    int64_t recent = 0;
    struct db_param pr[] = {DBT(rule), DBT(subject), DBI((int64_t)now - 600)};
    fwt_err e = db_query_int(s->db, "SELECT COUNT(*) FROM alerts WHERE rule = ? AND subject = ? AND time > ?", pr, 3,
                             &recent);
    if (e != FWT_OK || recent) {
        return e;
    }
    const char *action = json_string_value(json_object_get(json_object_get(cfg, "containment"), rule));
    if (!action) {
        action = "none";
    }
    if ((e = db_begin(s->db)) != FWT_OK) {
        return e;
    }
    struct db_param p[] = {DBI(now), DBT(rule), device_id ? DBT(device_id) : DBN, DBT(subject), DBT(detail),
                           DBT(action)};
    e = db_exec(s->db, "INSERT INTO alerts (time, rule, device_id, subject, detail, action) VALUES (?, ?, ?, ?, ?, ?)",
                p, 6, NULL, NULL);
    int64_t id = 0;
    if (e == FWT_OK) {
        e = db_query_int(s->db, "SELECT MAX(id) FROM alerts", NULL, 0, &id);
    }
    char ad[700];
    snprintf(ad, sizeof(ad), "%s: %s (containment: %s)", rule, detail, action);
    if (e == FWT_OK) {
        e = srv_audit(s, &k_alerts, "alert", subject, ad);
    }
    json_t *body = json_pack("{s:I, s:I, s:s, s:s?, s:s, s:s, s:s}", "id", (json_int_t)id, "time", (json_int_t)now,
                             "rule", rule, "device_id", device_id, "subject", subject, "detail", detail, "containment",
                             action);
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(body);
    if (e == FWT_OK && !text) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(cfg, "webhooks"), i, w) {
        if (e != FWT_OK) {
            break;
        }
        struct db_param pw[] = {DBI(id), DBT(json_string_value(json_object_get(w, "url"))), DBT(text), DBI(now)};
        e = db_exec(s->db, "INSERT INTO webhook_deliveries (alert_id, url, body, state, next_at)"
                           " VALUES (?, ?, ?, 'pending', ?)", pw, 4, NULL, NULL);
    }
    free(text);
    if (e == FWT_OK) {
        e = db_commit(s->db);
    } else {
        db_rollback(s->db);
        return e;
    }
    if (e != FWT_OK) {
        return e;
    }
    /* containment (each an audited admin action of its own) */
    if (!strcmp(action, "quarantine") && device_id) {
        e = fwt_srv_quarantine(s, &k_alerts, device_id, 1, ad);
    } else if (!strcmp(action, "halt-version")) {
        struct db_param pt[] = {DBT(subject)};
        struct db_rows q;
        if ((e = db_exec(s->db, "SELECT id FROM rollouts WHERE target = ? AND state IN ('active','paused')", pt, 1, &q,
                         NULL)) == FWT_OK) {
            for (size_t k = 0; e == FWT_OK && k < q.nrows; k++) {
                e = fwt_srv_rollout_action(s, &k_alerts, db_cell(&q, k, 0), "halt", ad);
            }
            db_rows_free(&q);
        }
    }
    return e;
}

/* ---- the rules ---- */

fwt_err fwt_srv_alerts_attestation(fwt_srv *s, const char *device_id, const char *detail, time_t now)
{
    json_t *cfg = NULL;
    fwt_err e = config(s, &cfg);
    if (e == FWT_OK) {
        e = raise_alert(s, cfg, "attestation-failed", device_id, device_id, detail, now);
    }
    json_decref(cfg);
    return e;
}

fwt_err fwt_srv_alerts_failures(fwt_srv *s, time_t now)
{
    json_t *cfg = NULL;
    fwt_err e = config(s, &cfg);
    if (e != FWT_OK) {
        return e;
    }
    int64_t w = cfg_int(cfg, "failure_window", 3600), min = cfg_int(cfg, "failure_min", 3),
            factor = cfg_int(cfg, "failure_factor", 3);
    struct db_param p[] = {DBI((int64_t)now - w), DBI((int64_t)now - 25 * w), DBI((int64_t)now - w)};
    struct db_rows q;
    e = db_exec(s->db, "SELECT target, SUM(CASE WHEN at > ? THEN 1 ELSE 0 END),"
                       " SUM(CASE WHEN at > ? AND at <= ? THEN 1 ELSE 0 END) FROM incidents"
                       " WHERE kind IN ('failed','refused','rolled-back') GROUP BY target", p, 3, &q, NULL);
    for (size_t i = 0; e == FWT_OK && i < q.nrows; i++) {
        int64_t recent = 0, before = 0;
        if ((e = db_to_i64(db_cell(&q, i, 1), &recent)) != FWT_OK || (e = db_to_i64(db_cell(&q, i, 2), &before)) != FWT_OK) {
            break;
        }
        /* baseline: failures per window over the 24 windows before */
        if (recent >= min && recent * 24 > factor * before) {
            char d[400];
            snprintf(d, sizeof(d), "%" PRId64 " failed, refused or rolled-back installs of %s in the last %" PRId64
                     " s (baseline %.2f per window)", recent, db_cell(&q, i, 0)[0] ? db_cell(&q, i, 0) : "(none)", w,
                     (double)before / 24.0);
            e = raise_alert(s, cfg, "failures-above-baseline", NULL, db_cell(&q, i, 0), d, now);
        }
    }
    if (e == FWT_OK) {
        db_rows_free(&q);
    }
    json_decref(cfg);
    return e;
}

static int in_catalog(fwt_srv *s, json_t *cfg, const char *hex)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(cfg, "known_images"), i, v) {
        if (!strcmp(json_string_value(v), hex)) {
            return 1;
        }
    }
    int64_t n = 0;
    struct db_param p[] = {DBT(hex), DBT(hex)};
    return db_query_int(s->db, "SELECT (SELECT COUNT(*) FROM rollouts WHERE sha256 = ?) +"
                               " (SELECT COUNT(*) FROM assignments WHERE sha256 = ?)", p, 2, &n) != FWT_OK || n > 0;
}

fwt_err fwt_srv_alerts_manifest(fwt_srv *s, const char *device_id, const struct fwt_fleet_manifest *m, const char *addr,
                                time_t now)
{
    json_t *cfg = NULL;
    fwt_err e = config(s, &cfg);
    if (e != FWT_OK) {
        return e;
    }
    char d[600];
    /* images: catalog and signer */
    for (size_t i = 0; e == FWT_OK && i < m->n_slots; i++) {
        const struct fwt_fleet_slot *sl = &m->slots[i];
        if (!sl->has_image || (sl->state != FWT_FLEET_SLOT_CONFIRMED && sl->state != FWT_FLEET_SLOT_TRIAL)) {
            continue;
        }
        char hex[65];
        fwt_hex_encode(sl->sha256, 32, hex);
        if (json_is_true(json_object_get(cfg, "catalog")) && !in_catalog(s, cfg, hex)) {
            snprintf(d, sizeof(d), "slot %c runs an image (sha256 %s) that is in no catalog", sl->slot, hex);
            e = raise_alert(s, cfg, "unknown-image-digest", device_id, device_id, d, now);
        }
        json_t *kv = json_object_get(cfg, "allowed_key_versions");
        if (e == FWT_OK && kv && sl->has_key_version) {
            int ok = 0;
            size_t k;
            json_t *v;
            json_array_foreach(kv, k, v) {
                ok = ok || (uint32_t)json_integer_value(v) == sl->key_version;
            }
            if (!ok) {
                snprintf(d, sizeof(d), "slot %c was signed with key version %u, not an allowed one", sl->slot,
                         (unsigned)sl->key_version);
                e = raise_alert(s, cfg, "unexpected-signer", device_id, device_id, d, now);
            }
        }
    }
    /* where and when it was seen before */
    struct db_param pd[] = {DBT(device_id)};
    struct db_rows q;
    if (e == FWT_OK && (e = db_exec(s->db, "SELECT addr, at, manifest_time, audit_size, audit_root FROM device_seen"
                                           " WHERE device_id = ?", pd, 1, &q, NULL)) == FWT_OK) {
        char root[65] = "";
        if (m->has_audit_head) {
            fwt_hex_encode(m->audit_head.root, 32, root);
        }
        if (q.nrows == 1) {
            int64_t at = 0, mt = 0, asz = -1;
            if ((e = db_to_i64(db_cell(&q, 0, 1), &at)) == FWT_OK && (e = db_to_i64(db_cell(&q, 0, 2), &mt)) == FWT_OK) {
                e = db_to_i64(db_cell(&q, 0, 3), &asz);
            }
            int64_t two = cfg_int(cfg, "two_places_seconds", 60);
            if (e == FWT_OK && strcmp(db_cell(&q, 0, 0), addr) != 0 && (int64_t)now - at < two) {
                snprintf(d, sizeof(d), "checked in from %s and %.64s within %" PRId64 " s", addr, db_cell(&q, 0, 0),
                         (int64_t)now - at);
                e = raise_alert(s, cfg, "identity-two-places", device_id, device_id, d, now);
            }
            if (e == FWT_OK && (int64_t)m->time < mt) {
                snprintf(d, sizeof(d), "manifest time %lld is %lld s before the previous one", (long long)m->time,
                         (long long)(mt - (int64_t)m->time));
                e = raise_alert(s, cfg, "clock-backwards", device_id, device_id, d, now);
            }
            if (e == FWT_OK && m->has_audit_head && asz >= 0 &&
                ((int64_t)m->audit_head.size < asz ||
                 ((int64_t)m->audit_head.size == asz && strcmp(root, db_cell(&q, 0, 4)) != 0))) {
                snprintf(d, sizeof(d), "audit log head went from %" PRId64 " entries to %llu%s", asz,
                         (unsigned long long)m->audit_head.size,
                         (int64_t)m->audit_head.size == asz ? " with another root" : "");
                e = raise_alert(s, cfg, "audit-head-backwards", device_id, device_id, d, now);
            }
        }
        db_rows_free(&q);
        int64_t mt_keep = (int64_t)m->time;
        struct db_param pu[] = {DBT(device_id), DBT(addr), DBI(now), DBI(mt_keep),
                                DBI(m->has_audit_head ? (int64_t)m->audit_head.size : -1), DBT(root)};
        if (e == FWT_OK) {
            /* keep the latest time and the longest audit head seen */
            e = db_exec(s->db, "INSERT INTO device_seen (device_id, addr, at, manifest_time, audit_size, audit_root)"
                               " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET addr = excluded.addr,"
                               " at = excluded.at,"
                               " manifest_time = CASE WHEN excluded.manifest_time > device_seen.manifest_time"
                               " THEN excluded.manifest_time ELSE device_seen.manifest_time END,"
                               " audit_root = CASE WHEN excluded.audit_size >= device_seen.audit_size"
                               " THEN excluded.audit_root ELSE device_seen.audit_root END,"
                               " audit_size = CASE WHEN excluded.audit_size > device_seen.audit_size"
                               " THEN excluded.audit_size ELSE device_seen.audit_size END", pu, 6, NULL, NULL);
        }
    }
    /* check-in storm: check-ins of the whole fleet in the last minute. Counted in the
     * database at most once a second per process while under the limit: within the same
     * second the count can only have grown by the check-ins written since, this process's
     * counted by srv_event (those of other processes sharing the database are seen at the
     * next second). An estimate over the limit is always counted again before an alert. */
    int64_t lim = cfg_int(cfg, "storm_per_minute", 0);
    int64_t iv = (int64_t)(s->set.checkin_interval ? s->set.checkin_interval : 300);
    if (e == FWT_OK && (int64_t)now < s->storm_quiet_until) {
        json_decref(cfg); /* a storm alert is in the database: none again before its 10 minutes end */
        return FWT_OK;
    }
    if (e == FWT_OK && (int64_t)now == s->storm_at && s->storm_n >= 0 &&
        s->storm_n + s->storm_local <= (lim ? lim : 100 + 5 * s->storm_active * 60 / iv)) {
        json_decref(cfg);
        return FWT_OK;
    }
    int64_t n = 0;
    struct db_param ps[] = {DBI((int64_t)now - 60)};
    s->storm_n = -1; /* unknown until counted */
    s->storm_local = 0;
    if (e == FWT_OK && (e = db_query_int(s->db, "SELECT COUNT(*) FROM events WHERE kind = 'checkin' AND time > ?", ps,
                                         1, &n)) == FWT_OK) {
        int64_t active = 0;
        if (!lim) {
            e = db_query_int(s->db, "SELECT COUNT(*) FROM devices WHERE status = 'active'", NULL, 0, &active);
            lim = 100 + 5 * active * 60 / iv;
        }
        if (e == FWT_OK) {
            s->storm_at = (int64_t)now;
            s->storm_n = n;
            s->storm_active = active;
        }
        if (e == FWT_OK && n > lim) {
            snprintf(d, sizeof(d), "%" PRId64 " check-ins in the last minute (limit %" PRId64 ")", n, lim);
            e = raise_alert(s, cfg, "checkin-storm", NULL, "fleet", d, now);
            /* raised now or before: when the next one may be (alerts are never deleted) */
            int64_t last = 0;
            if (e == FWT_OK && (e = db_query_int(s->db, "SELECT COALESCE(MAX(time), 0) FROM alerts WHERE rule ="
                                                        " 'checkin-storm' AND subject = 'fleet'", NULL, 0, &last)) ==
                                   FWT_OK) {
                s->storm_quiet_until = last + 600;
            }
        }
    }
    json_decref(cfg);
    return e;
}

fwt_err fwt_srv_alert_list(fwt_srv *s, size_t limit, json_t **arr)
{
    *arr = json_array();
    struct db_param p[] = {DBI(limit ? (int64_t)limit : 100)};
    struct db_rows q;
    fwt_err e = db_exec(s->db, "SELECT a.id, a.time, a.rule, a.device_id, a.subject, a.detail, a.action,"
                               " (SELECT COUNT(*) FROM webhook_deliveries w WHERE w.alert_id = a.id AND w.state = 'delivered'),"
                               " (SELECT COUNT(*) FROM webhook_deliveries w WHERE w.alert_id = a.id)"
                               " FROM alerts a ORDER BY a.id DESC LIMIT ?", p, 1, &q, NULL);
    for (size_t i = 0; e == FWT_OK && i < q.nrows; i++) {
        int64_t id = 0, t = 0, dl = 0, all = 0;
        if (db_to_i64(db_cell(&q, i, 0), &id) == FWT_OK && db_to_i64(db_cell(&q, i, 1), &t) == FWT_OK &&
            db_to_i64(db_cell(&q, i, 7), &dl) == FWT_OK && db_to_i64(db_cell(&q, i, 8), &all) == FWT_OK) {
            json_array_append_new(*arr, json_pack("{s:I, s:I, s:s, s:s?, s:s, s:s, s:s, s:I, s:I}", "id", (json_int_t)id,
                                                  "time", (json_int_t)t, "rule", db_cell(&q, i, 2), "device_id",
                                                  db_cell(&q, i, 3), "subject", db_cell(&q, i, 4), "detail",
                                                  db_cell(&q, i, 5), "containment", db_cell(&q, i, 6), "delivered",
                                                  (json_int_t)dl, "webhooks", (json_int_t)all));
        }
    }
    if (e == FWT_OK) {
        db_rows_free(&q);
    }
    return e;
}

/* ---- webhook deliveries ---- */

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return sz * n;
}

fwt_err fwt_srv_webhooks_deliver(fwt_srv *s, time_t now, size_t *attempted)
{
    *attempted = 0;
    json_t *cfg = NULL;
    fwt_err e = config(s, &cfg);
    if (e != FWT_OK) {
        return e;
    }
    long timeout = (long)cfg_int(cfg, "timeout", 5);
    int64_t max_attempts = cfg_int(cfg, "max_attempts", 5);
    struct db_param p[] = {DBI(now)};
    struct db_rows q;
    e = db_exec(s->db, "SELECT id, url, body, attempts FROM webhook_deliveries WHERE state = 'pending' AND next_at <= ?"
                       " ORDER BY id LIMIT 20", p, 1, &q, NULL);
    CURL *c = e == FWT_OK ? curl_easy_init() : NULL;
    if (e == FWT_OK && !c) {
        e = fwt_fail(FWT_E_NOMEM, "libcurl");
    }
    for (size_t i = 0; e == FWT_OK && i < q.nrows; i++) {
        const char *url = db_cell(&q, i, 1), *body = db_cell(&q, i, 2);
        const char *secret = NULL;
        size_t k;
        json_t *w;
        json_array_foreach(json_object_get(cfg, "webhooks"), k, w) {
            if (!strcmp(json_string_value(json_object_get(w, "url")), url)) {
                secret = json_string_value(json_object_get(w, "secret"));
            }
        }
        int64_t id = 0, att = 0;
        if ((e = db_to_i64(db_cell(&q, i, 0), &id)) != FWT_OK || (e = db_to_i64(db_cell(&q, i, 3), &att)) != FWT_OK) {
            break;
        }
        char err[200] = "";
        long code = 0;
        if (!secret) {
            snprintf(err, sizeof(err), "the webhook is no longer configured");
            att = max_attempts - 1;
        } else {
            /* signature over "TIMESTAMP.BODY" so a receiver can refuse replays */
            char ts[32], *msg = NULL, mac[65], h_sig[100], h_ts[64], h_id[64];
            snprintf(ts, sizeof(ts), "%lld", (long long)now);
            size_t ml = strlen(ts) + 1 + strlen(body) + 1;
            if (!(msg = malloc(ml))) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
                break;
            }
            snprintf(msg, ml, "%s.%s", ts, body);
            e = hmac_hex(secret, msg, mac);
            free(msg);
            if (e != FWT_OK) {
                break;
            }
            snprintf(h_sig, sizeof(h_sig), "X-Fwtrust-Signature: sha256=%s", mac);
            snprintf(h_ts, sizeof(h_ts), "X-Fwtrust-Timestamp: %s", ts);
            snprintf(h_id, sizeof(h_id), "X-Fwtrust-Delivery: %" PRId64, id);
            struct curl_slist *hd = NULL, *t;
            const char *hs[] = {"Content-Type: application/json", h_sig, h_ts, h_id};
            for (size_t j = 0; j < 4; j++) {
                if (!(t = curl_slist_append(hd, hs[j]))) {
                    break;
                }
                hd = t;
            }
            curl_easy_reset(c);
            curl_easy_setopt(c, CURLOPT_URL, url);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
            curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
            curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
            curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
            CURLcode rc = curl_easy_perform(c);
            curl_slist_free_all(hd);
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
            if (rc != CURLE_OK) {
                snprintf(err, sizeof(err), "%s", curl_easy_strerror(rc));
            } else if (code < 200 || code > 299) {
                snprintf(err, sizeof(err), "HTTP %ld", code);
            }
        }
        (*attempted)++;
        att++;
        /* back-off: 1, 2, 4, ... seconds, at most 300; failed for good after max_attempts */
        int64_t delay = att >= 9 ? 300 : (int64_t)1 << (att - 1);
        const char *state = !err[0] ? "delivered" : att >= max_attempts ? "failed" : "pending";
        struct db_param pu[] = {DBT(state), DBI(att), DBI((int64_t)time(NULL) + delay), DBT(err), DBI(id)};
        e = db_exec(s->db, "UPDATE webhook_deliveries SET state = ?, attempts = ?, next_at = ?, last_error = ?"
                           " WHERE id = ?", pu, 5, NULL, NULL);
    }
    if (c) {
        curl_easy_cleanup(c);
    }
    if (q.v) {
        db_rows_free(&q);
    }
    json_decref(cfg);
    return e;
}

/* ---- the publish gate's record (fwtrust repo publish: DIR/publish-gate.jsonl) ---- */

fwt_err fwt_srv_publish_gate_parse(const uint8_t *line, size_t len, json_t **rec)
{
    *rec = NULL;
    if (!line || len == 0 || len > FWT_SRV_BODY_MAX) {
        return fwt_fail(FWT_E_MALFORMED, "publish-gate record: %zu bytes (1 to %u allowed)", len, FWT_SRV_BODY_MAX);
    }
    json_error_t je;
    json_t *o = json_loadb((const char *)line, len, JSON_REJECT_DUPLICATES, &je);
    fwt_err e = o && json_is_object(o) ? FWT_OK : fwt_fail(FWT_E_MALFORMED, "publish-gate record: not a JSON object%s%s",
                                                         o ? "" : ": ", o ? "" : je.text);
    const char *k;
    json_t *v;
    json_object_foreach(e == FWT_OK ? o : NULL, k, v)
    {
        if (strcmp(k, "time") && strcmp(k, "outcome") && strcmp(k, "by") && strcmp(k, "findings") &&
            strcmp(k, "reason")) {
            e = fwt_fail(FWT_E_MALFORMED, "publish-gate record: unknown field \"%s\"", k);
            break;
        }
    }
    json_t *t = json_object_get(o, "time"), *oc = json_object_get(o, "outcome"), *f = json_object_get(o, "findings");
    const char *ocs = json_string_value(oc);
    if (e == FWT_OK && (!json_is_integer(t) || json_integer_value(t) < 0)) {
        e = fwt_fail(FWT_E_MALFORMED, "publish-gate record: \"time\" must be seconds since 1970");
    }
    if (e == FWT_OK && (!ocs || (strcmp(ocs, "refused") && strcmp(ocs, "overridden")))) {
        e = fwt_fail(FWT_E_MALFORMED, "publish-gate record: \"outcome\" must be \"refused\" or \"overridden\"");
    }
    if (e == FWT_OK && (!json_is_string(json_object_get(o, "by")) ||
                        (json_object_get(o, "reason") && !json_is_string(json_object_get(o, "reason"))))) {
        e = fwt_fail(FWT_E_MALFORMED, "publish-gate record: \"by\" and \"reason\" must be strings");
    }
    if (e == FWT_OK && (!json_is_array(f) || json_array_size(f) == 0)) {
        e = fwt_fail(FWT_E_MALFORMED, "publish-gate record: \"findings\" must be a non-empty array");
    }
    size_t i;
    json_array_foreach(e == FWT_OK ? f : NULL, i, v)
    {
        if (!json_is_object(v) || json_object_size(v) != 3 || !json_is_string(json_object_get(v, "image")) ||
            !json_is_string(json_object_get(v, "kind")) || !json_is_string(json_object_get(v, "text"))) {
            e = fwt_fail(FWT_E_MALFORMED, "publish-gate record: finding %zu must be {image, kind, text}", i);
            break;
        }
    }
    if (e != FWT_OK) {
        json_decref(o);
        return e;
    }
    *rec = o;
    return FWT_OK;
}

fwt_err fwt_srv_alerts_publish_gate(fwt_srv *s, const uint8_t *buf, size_t len, time_t now, json_t **info)
{
    *info = NULL;
    json_t *cfg = NULL;
    fwt_err e = config(s, &cfg);
    size_t raised = 0, known = 0;
    /* pass 0 checks every line, pass 1 raises: a malformed file raises nothing */
    for (int pass = 0; pass < 2 && e == FWT_OK; pass++) {
    for (size_t off = 0, lineno = 0; e == FWT_OK && off < len; lineno++) {
        const uint8_t *nl = memchr(buf + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
        json_t *rec = NULL;
        if (n == 0) {
            off += 1;
            continue;
        }
        if ((e = fwt_srv_publish_gate_parse(buf + off, n, &rec)) != FWT_OK) {
            e = fwt_fail(e, "line %zu: %s", lineno + 1, fwt_detail());
            break;
        }
        off += n + (nl ? 1 : 0);
        if (pass == 0) {
            json_decref(rec);
            continue;
        }
        /* One alert per record: its subject names the record (time, first image), so
         * importing the file again raises nothing twice. */
        json_t *f0 = json_array_get(json_object_get(rec, "findings"), 0);
        char subject[300], detail[600];
        snprintf(subject, sizeof(subject), "publish-gate@%lld:%s",
                 (long long)json_integer_value(json_object_get(rec, "time")),
                 json_string_value(json_object_get(f0, "image")));
        const char *why = json_string_value(json_object_get(rec, "reason"));
        snprintf(detail, sizeof(detail), "%s by %s%s%s%s: %zu finding(s), first %s: %s",
                 json_string_value(json_object_get(rec, "outcome")), json_string_value(json_object_get(rec, "by")),
                 why ? " (reason: " : "", why ? why : "", why ? ")" : "",
                 json_array_size(json_object_get(rec, "findings")), json_string_value(json_object_get(f0, "kind")),
                 json_string_value(json_object_get(f0, "text")));
        int64_t seen = 0;
        struct db_param p[] = {DBT("publish-gate"), DBT(subject)};
        if ((e = db_query_int(s->db, "SELECT COUNT(*) FROM alerts WHERE rule = ? AND subject = ?", p, 2, &seen)) ==
            FWT_OK) {
            if (seen) {
                known++;
            } else if ((e = raise_alert(s, cfg, "publish-gate", NULL, subject, detail, now)) == FWT_OK) {
                raised++;
            }
        }
        json_decref(rec);
    }
    }
    json_decref(cfg);
    if (e != FWT_OK) {
        return e;
    }
    *info = json_pack("{s:I, s:I}", "raised", (json_int_t)raised, "already", (json_int_t)known);
    return *info ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
}
