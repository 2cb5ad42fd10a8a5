/*
 * Fleet metrics (fwt_rollout.h, docs/rollouts.md#metrics): computed from the
 * database on request, as JSON and as the Prometheus text exposition format
 * (version 0.0.4). Device-reported strings (versions) are label values and
 * escaped as the format requires.
 */
#include "srv.h"

#include <fwtrust/fwt_rollout.h>

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void add_count(json_t *obj, const char *key, json_int_t n)
{
    json_t *v = json_object_get(obj, key);
    json_object_set_new(obj, key, json_integer((v ? json_integer_value(v) : 0) + n));
}

static json_t *rate(int64_t ok, int64_t bad)
{
    return ok + bad ? json_real((double)ok / (double)(ok + bad)) : json_null();
}

/* outcome counts per key into obj: {key: {"confirmed", "failed", "success_rate"}} */
static void add_outcome(json_t *obj, const char *key, int64_t ok, int64_t bad)
{
    json_t *o = json_object_get(obj, key);
    if (!o) {
        o = json_pack("{s:I, s:I}", "confirmed", (json_int_t)0, "failed", (json_int_t)0);
        json_object_set_new(obj, key, o);
    }
    ok += json_integer_value(json_object_get(o, "confirmed"));
    bad += json_integer_value(json_object_get(o, "failed"));
    json_object_set_new(o, "confirmed", json_integer(ok));
    json_object_set_new(o, "failed", json_integer(bad));
    json_object_set_new(o, "success_rate", rate(ok, bad));
}

fwt_err fwt_srv_metrics(fwt_srv *s, time_t now, json_t **obj)
{
    *obj = NULL;
    json_t *devs = NULL;
    fwt_err e = fwt_srv_device_list(s, NULL, &devs);
    if (e != FWT_OK) {
        return e;
    }
    json_t *vuln = json_array(), *by_version = json_object(), *fresh = json_pack("{s:i, s:i, s:i, s:i}", "fresh", 0,
                                                                                 "late", 0, "stale", 0, "never", 0);
    struct db_rows q;
    if ((e = db_exec(s->db, "SELECT version FROM vulnerable_versions ORDER BY version", NULL, 0, &q, NULL)) == FWT_OK) {
        for (size_t i = 0; i < q.nrows; i++) {
            json_array_append_new(vuln, json_string(db_cell(&q, i, 0)));
        }
        db_rows_free(&q);
    }
    int64_t active = 0, on_vuln = 0;
    int64_t iv = (int64_t)(s->set.checkin_interval ? s->set.checkin_interval : 300);
    size_t i;
    json_t *d;
    json_array_foreach(devs, i, d) {
        if (strcmp(json_string_value(json_object_get(d, "status")), "active") != 0) {
            continue;
        }
        active++;
        const char *v = json_string_value(json_object_get(json_object_get(d, "running"), "version"));
        add_count(by_version, v ? v : "unknown", 1);
        size_t k;
        json_t *x;
        json_array_foreach(vuln, k, x) {
            on_vuln += v && !strcmp(v, json_string_value(x));
        }
        json_t *ls = json_object_get(d, "last_seen");
        int64_t age = json_is_integer(ls) ? (int64_t)now - json_integer_value(ls) : -1;
        add_count(fresh, age < 0 ? "never" : age <= 2 * iv ? "fresh" : age <= 10 * iv ? "late" : "stale", 1);
    }
    json_decref(devs);
    /* update outcomes: per rollout, hardware model, target (version), hour */
    json_t *by_rollout = json_array(), *by_hw = json_object(), *by_target = json_object(), *by_hour = json_object();
    if (e == FWT_OK &&
        (e = db_exec(s->db, "SELECT r.id, r.name, r.target, r.hardware_id, r.state,"
                            " SUM(CASE WHEN rd.state = 'confirmed' THEN 1 ELSE 0 END),"
                            " SUM(CASE WHEN rd.state = 'failed' THEN 1 ELSE 0 END), COUNT(*)"
                            " FROM rollouts r JOIN rollout_devices rd ON rd.rollout_id = r.id"
                            " GROUP BY r.id, r.name, r.target, r.hardware_id, r.state, r.created_at"
                            " ORDER BY r.created_at, r.id", NULL, 0, &q, NULL)) == FWT_OK) {
        for (size_t k = 0; e == FWT_OK && k < q.nrows; k++) {
            int64_t ok = 0, bad = 0, n = 0;
            if ((e = db_to_i64(db_cell(&q, k, 5), &ok)) == FWT_OK && (e = db_to_i64(db_cell(&q, k, 6), &bad)) == FWT_OK &&
                (e = db_to_i64(db_cell(&q, k, 7), &n)) == FWT_OK) {
                json_array_append_new(by_rollout,
                                      json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "rollout",
                                                db_cell(&q, k, 0), "name", db_cell(&q, k, 1), "target", db_cell(&q, k, 2),
                                                "hardware_id", db_cell(&q, k, 3), "state", db_cell(&q, k, 4), "devices",
                                                (json_int_t)n, "confirmed", (json_int_t)ok, "failed", (json_int_t)bad,
                                                "success_rate", rate(ok, bad)));
                add_outcome(by_hw, db_cell(&q, k, 3), ok, bad);
                add_outcome(by_target, db_cell(&q, k, 2), ok, bad);
            }
        }
        db_rows_free(&q);
    }
    if (e == FWT_OK &&
        (e = db_exec(s->db, "SELECT updated_at - updated_at % 3600, state, COUNT(*) FROM rollout_devices"
                            " WHERE state IN ('confirmed','failed') GROUP BY updated_at - updated_at % 3600, state",
                            NULL, 0, &q, NULL)) == FWT_OK) {
        for (size_t k = 0; k < q.nrows; k++) {
            int64_t n = 0;
            if (db_to_i64(db_cell(&q, k, 2), &n) == FWT_OK) {
                int ok = !strcmp(db_cell(&q, k, 1), "confirmed");
                add_outcome(by_hour, db_cell(&q, k, 0), ok ? n : 0, ok ? 0 : n);
            }
        }
        db_rows_free(&q);
    }
    json_t *over_time = json_array();
    const char *hk;
    json_t *hv;
    json_object_foreach(by_hour, hk, hv) {
        int64_t h = 0;
        if (db_to_i64(hk, &h) == FWT_OK) {
            json_t *o = json_deep_copy(hv);
            json_object_set_new(o, "hour", json_integer(h));
            json_array_append_new(over_time, o);
        }
    }
    json_decref(by_hour);
    /* time to recover */
    int64_t *ttr = NULL;
    size_t n_ttr = 0;
    int64_t open = 0;
    if (e == FWT_OK && (e = db_exec(s->db, "SELECT at, recovered_at FROM incidents", NULL, 0, &q, NULL)) == FWT_OK) {
        ttr = calloc(q.nrows ? q.nrows : 1, sizeof(*ttr));
        for (size_t k = 0; ttr && k < q.nrows; k++) {
            int64_t a = 0, b = 0;
            if (!db_cell(&q, k, 1)) {
                open++;
            } else if (db_to_i64(db_cell(&q, k, 0), &a) == FWT_OK && db_to_i64(db_cell(&q, k, 1), &b) == FWT_OK) {
                ttr[n_ttr++] = b - a;
            }
        }
        if (!ttr) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        db_rows_free(&q);
    }
    json_t *recovery = NULL;
    if (e == FWT_OK) {
        qsort(ttr, n_ttr, sizeof(*ttr), cmp_i64);
        double sum = 0;
        for (size_t k = 0; k < n_ttr; k++) {
            sum += (double)ttr[k];
        }
        /* p90: nearest rank, ceil(0.9 n) */
        size_t rank = n_ttr ? (size_t)ceil(0.9 * (double)n_ttr) : 0;
        recovery = json_pack("{s:I, s:I, s:o, s:o}", "recovered", (json_int_t)n_ttr, "open", (json_int_t)open,
                             "mean_seconds", n_ttr ? json_real(sum / (double)n_ttr) : json_null(), "p90_seconds",
                             n_ttr ? json_integer(ttr[rank - 1]) : json_null());
    }
    free(ttr);
    /* tamper detections: refused images and failed verifications, by reason */
    json_t *tamper = json_object();
    int64_t tamper_total = 0;
    if (e == FWT_OK && (e = db_exec(s->db, "SELECT reason, COUNT(*) FROM incidents WHERE kind = 'refused'"
                                           " GROUP BY reason ORDER BY reason", NULL, 0, &q, NULL)) == FWT_OK) {
        for (size_t k = 0; k < q.nrows; k++) {
            int64_t n = 0;
            if (db_to_i64(db_cell(&q, k, 1), &n) == FWT_OK) {
                add_count(tamper, db_cell(&q, k, 0)[0] ? db_cell(&q, k, 0) : "unknown", n);
                tamper_total += n;
            }
        }
        db_rows_free(&q);
    }
    /* and failed remote attestations (src/server/attest.c), as "attestation:REASON" */
    if (e == FWT_OK && (e = db_exec(s->db, "SELECT reason, COUNT(*) FROM attestations WHERE verdict = 'fail'"
                                           " GROUP BY reason ORDER BY reason", NULL, 0, &q, NULL)) == FWT_OK) {
        for (size_t k = 0; k < q.nrows; k++) {
            int64_t n = 0;
            char name[80];
            snprintf(name, sizeof(name), "attestation:%s", db_cell(&q, k, 0));
            if (db_to_i64(db_cell(&q, k, 1), &n) == FWT_OK) {
                add_count(tamper, name, n);
                tamper_total += n;
            }
        }
        db_rows_free(&q);
    }
    /* boot verification failures: devices' failures (reports and manifests) whose error is an
     * image verification one; manifest signature failures: check-ins and reports refused because
     * the device's certificate does not sign them (events "signature-refused", http.c) */
    int64_t boot_verify = 0, manifest_sig = 0;
    if (e == FWT_OK) {
        static const fwt_err verify_errs[] = {FWT_E_DIGEST,      FWT_E_SIGNATURE, FWT_E_UNSIGNED, FWT_E_UNKNOWN_KEY,
                                              FWT_E_THRESHOLD,   FWT_E_CERT,      FWT_E_KEY_VERSION, FWT_E_REVOKED,
                                              FWT_E_TEST_KEY,    FWT_E_NO_BOOTABLE};
        enum { NV = sizeof(verify_errs) / sizeof(verify_errs[0]) };
        struct db_param vp[NV];
        for (size_t k = 0; k < NV; k++) {
            vp[k] = DBT(fwt_err_name(verify_errs[k]));
        }
        if ((e = db_query_int(s->db, "SELECT COUNT(*) FROM incidents WHERE reason IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              vp, NV, &boot_verify)) == FWT_OK) {
            e = db_query_int(s->db, "SELECT COUNT(*) FROM events WHERE kind = 'signature-refused'", NULL, 0,
                             &manifest_sig);
        }
    }
    json_t *alerts = json_object();
    if (e == FWT_OK && (e = db_exec(s->db, "SELECT rule, COUNT(*) FROM alerts GROUP BY rule ORDER BY rule", NULL, 0,
                                    &q, NULL)) == FWT_OK) {
        for (size_t k = 0; k < q.nrows; k++) {
            int64_t n = 0;
            if (db_to_i64(db_cell(&q, k, 1), &n) == FWT_OK) {
                add_count(alerts, db_cell(&q, k, 0), n);
            }
        }
        db_rows_free(&q);
    }
    if (e == FWT_OK) {
        *obj = json_pack("{s:I, s:{s:I, s:o, s:o, s:I, s:o}, s:{s:o, s:o, s:o, s:o}, s:o, s:{s:o, s:I, s:I, s:I}, s:o}",
                         "time",
                         (json_int_t)now, "devices", "active", (json_int_t)active, "by_version", by_version,
                         "vulnerable_versions", vuln, "on_vulnerable_version", (json_int_t)on_vuln, "checkin", fresh,
                         "updates", "by_rollout", by_rollout, "by_hardware", by_hw, "by_target", by_target, "over_time",
                         over_time, "recovery", recovery, "tamper", "by_reason", tamper, "total",
                         (json_int_t)tamper_total, "boot_verification_failures", (json_int_t)boot_verify,
                         "manifest_signature_failures", (json_int_t)manifest_sig, "alerts", alerts);
        if (!*obj) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    } else {
        json_decref(by_version);
        json_decref(vuln);
        json_decref(fresh);
        json_decref(by_rollout);
        json_decref(by_hw);
        json_decref(by_target);
        json_decref(over_time);
        json_decref(recovery);
        json_decref(tamper);
        json_decref(alerts);
    }
    return e;
}

fwt_err fwt_srv_version_vulnerable(fwt_srv *s, const struct fwt_srv_actor *who, const char *version, int on)
{
    if (!who || who->role < FWT_SRV_OPERATOR) {
        return fwt_fail(FWT_E_KEY, "marking versions needs the operator role");
    }
    if (!version || !*version || strlen(version) > 64) {
        return fwt_fail(FWT_E_ARG, "version must be 1 to 64 characters");
    }
    fwt_err e = db_begin(s->db);
    if (e != FWT_OK) {
        return e;
    }
    struct db_param p[] = {DBT(version), DBI(srv_now())};
    e = on ? db_exec(s->db, "INSERT INTO vulnerable_versions (version, at) VALUES (?, ?) ON CONFLICT (version)"
                            " DO NOTHING", p, 2, NULL, NULL)
           : db_exec(s->db, "DELETE FROM vulnerable_versions WHERE version = ?", p, 1, NULL, NULL);
    if (e == FWT_OK) {
        e = srv_audit(s, who, on ? "version-vulnerable" : "version-not-vulnerable", version, "");
    }
    if (e == FWT_OK) {
        return db_commit(s->db);
    }
    db_rollback(s->db);
    return e;
}

/* ---- Prometheus text format ---- */

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    for (int tries = 0; tries < 2 && !b->oom; tries++) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* A label value: backslash, double quote and line feed escaped. */
static void put_label(struct buf *b, const char *v)
{
    for (const char *c = v; *c; c++) {
        if (*c == '\\') {
            put(b, "\\\\");
        } else if (*c == '"') {
            put(b, "\\\"");
        } else if (*c == '\n') {
            put(b, "\\n");
        } else {
            put(b, "%c", *c);
        }
    }
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct buf *b, const char *name, const char *l1, const char *v1, const char *l2, const char *v2,
                   const json_t *value)
{
    put(b, "%s", name);
    if (l1) {
        put(b, "{%s=\"", l1);
        put_label(b, v1);
        put(b, "\"");
        if (l2) {
            put(b, ",%s=\"", l2);
            put_label(b, v2);
            put(b, "\"");
        }
        put(b, "}");
    }
    if (json_is_integer(value)) {
        put(b, " %" PRId64 "\n", (int64_t)json_integer_value(value));
    } else if (json_is_real(value)) {
        put(b, " %.17g\n", json_real_value(value));
    } else {
        put(b, " NaN\n");
    }
}

fwt_err fwt_srv_metrics_prometheus(const json_t *m, char **text)
{
    *text = NULL;
    struct buf b = {0};
    json_t *dv = json_object_get(m, "devices"), *up = json_object_get(m, "updates"), *rec = json_object_get(m, "recovery"),
           *tam = json_object_get(m, "tamper");
    const char *k;
    json_t *v;
    size_t i;
    head(&b, "fwtrust_devices_active", "gauge", "Active (enrolled, not revoked) devices.");
    sample(&b, "fwtrust_devices_active", NULL, NULL, NULL, NULL, json_object_get(dv, "active"));
    head(&b, "fwtrust_devices_by_version", "gauge", "Active devices by the version they run.");
    json_object_foreach(json_object_get(dv, "by_version"), k, v) {
        sample(&b, "fwtrust_devices_by_version", "version", k, NULL, NULL, v);
    }
    head(&b, "fwtrust_devices_on_vulnerable_version", "gauge", "Active devices running a version marked vulnerable.");
    sample(&b, "fwtrust_devices_on_vulnerable_version", NULL, NULL, NULL, NULL, json_object_get(dv, "on_vulnerable_version"));
    head(&b, "fwtrust_devices_checkin", "gauge",
         "Active devices by check-in freshness (fresh: within 2 intervals, late: within 10, stale: older, never).");
    json_object_foreach(json_object_get(dv, "checkin"), k, v) {
        sample(&b, "fwtrust_devices_checkin", "freshness", k, NULL, NULL, v);
    }
    head(&b, "fwtrust_rollout_devices", "gauge", "Devices of a rollout by outcome.");
    json_array_foreach(json_object_get(up, "by_rollout"), i, v) {
        const char *r = json_string_value(json_object_get(v, "rollout"));
        sample(&b, "fwtrust_rollout_devices", "rollout", r, "outcome", "confirmed", json_object_get(v, "confirmed"));
        sample(&b, "fwtrust_rollout_devices", "rollout", r, "outcome", "failed", json_object_get(v, "failed"));
        sample(&b, "fwtrust_rollout_devices", "rollout", r, "outcome", "all", json_object_get(v, "devices"));
    }
    head(&b, "fwtrust_rollout_success_ratio", "gauge", "Confirmed / (confirmed + failed) devices of a rollout.");
    json_array_foreach(json_object_get(up, "by_rollout"), i, v) {
        sample(&b, "fwtrust_rollout_success_ratio", "rollout", json_string_value(json_object_get(v, "rollout")), "target",
               json_string_value(json_object_get(v, "target")), json_object_get(v, "success_rate"));
    }
    head(&b, "fwtrust_update_success_ratio_by_hardware", "gauge", "Update success ratio by hardware model.");
    json_object_foreach(json_object_get(up, "by_hardware"), k, v) {
        sample(&b, "fwtrust_update_success_ratio_by_hardware", "hardware_id", k, NULL, NULL,
               json_object_get(v, "success_rate"));
    }
    head(&b, "fwtrust_update_success_ratio_by_target", "gauge", "Update success ratio by target (version).");
    json_object_foreach(json_object_get(up, "by_target"), k, v) {
        sample(&b, "fwtrust_update_success_ratio_by_target", "target", k, NULL, NULL, json_object_get(v, "success_rate"));
    }
    head(&b, "fwtrust_time_to_recover_seconds", "gauge",
         "Time from a failed update, rollback or refusal to the device's next confirmed image.");
    sample(&b, "fwtrust_time_to_recover_seconds", "stat", "mean", NULL, NULL, json_object_get(rec, "mean_seconds"));
    sample(&b, "fwtrust_time_to_recover_seconds", "stat", "p90", NULL, NULL, json_object_get(rec, "p90_seconds"));
    head(&b, "fwtrust_incidents_open", "gauge", "Devices' failures not yet recovered from.");
    sample(&b, "fwtrust_incidents_open", NULL, NULL, NULL, NULL, json_object_get(rec, "open"));
    head(&b, "fwtrust_tamper_detections_total", "counter", "Images refused by devices and failed remote attestations (attestation:REASON), by reason.");
    json_object_foreach(json_object_get(tam, "by_reason"), k, v) {
        sample(&b, "fwtrust_tamper_detections_total", "reason", k, NULL, NULL, v);
    }
    head(&b, "fwtrust_boot_verification_failures_total", "counter",
         "Devices' failed installs and boots (reports and manifests) refused by image verification (digest, signature, key, revocation, no bootable slot).");
    sample(&b, "fwtrust_boot_verification_failures_total", NULL, NULL, NULL, NULL,
           json_object_get(tam, "boot_verification_failures"));
    head(&b, "fwtrust_manifest_signature_failures_total", "counter",
         "Device check-ins (manifests) and reports refused because the device's certificate does not sign them.");
    sample(&b, "fwtrust_manifest_signature_failures_total", NULL, NULL, NULL, NULL,
           json_object_get(tam, "manifest_signature_failures"));
    head(&b, "fwtrust_alerts_total", "counter", "Anomaly alerts raised, by rule.");
    json_object_foreach(json_object_get(m, "alerts"), k, v) {
        sample(&b, "fwtrust_alerts_total", "rule", k, NULL, NULL, v);
    }
    if (b.oom) {
        free(b.p);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    *text = b.p;
    return FWT_OK;
}
