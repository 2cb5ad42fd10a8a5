/*
 * Governed rollouts (fwt_rollout.h, docs/rollouts.md): the specification, the
 * deterministic cohorts, the policy that starts groups, halts on errors and waits
 * for approvals, and the admissions that turn a rollout into per-device
 * assignments the director serves (scope "device", created_by "rollout:ID"; a
 * device's own earlier assignment is kept and put back when the rollout lets go).
 */
#include "imagerepo.h"
#include "srv.h"

#include <fwtrust/fwt_crypto.h>
#include <fwtrust/fwt_fleet.h>
#include <fwtrust/fwt_rollout.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the specification ---- */

struct group {
    char name[65];
    int percent;      /* cumulative, 1..100; 0: a tag group */
    char tag[65];
    int success;      /* percent confirmed, 1..100 */
    int pause;        /* success action: pause for a human (else: next group) */
    int64_t err_count; /* 0: none */
    int err_percent;  /* 0: none */
    int64_t min_sample;
};

struct window {
    char tag[65];
    struct fwt_cron cron;
    char tz[65];
    uint64_t duration;
};

struct spec {
    size_t n_groups; /* the spec's; a critical group may follow */
    struct group g[FWT_ROLLOUT_MAX_GROUPS + 1];
    size_t n_windows;
    struct window w[FWT_ROLLOUT_MAX_WINDOWS];
    int64_t confirm_timeout, start_at, retries;
    int forced, urgent;
    char critical_tag[65];
    int attest;          /* require_attestation: 0 none, 1 the critical tier, 2 every device */
    int64_t crit_signers; /* critical_min_signers: distinct image signers the critical tier needs (0: none) */
    int64_t attest_age;  /* attestation_max_age: seconds a pass stays fresh */
};

static int tag_text_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n > 64) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.')) {
            return 0;
        }
    }
    return 1;
}

static int hex64(const char *s)
{
    if (!s || strlen(s) != 64) {
        return 0;
    }
    for (size_t i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* Every key of o must be in allowed. */
static fwt_err only_keys(const json_t *o, const char *where, const char *const *allowed)
{
    for (void *it = json_object_iter((json_t *)(uintptr_t)o); it; it = json_object_iter_next((json_t *)(uintptr_t)o, it)) {
        const char *k = json_object_iter_key(it);
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k) != 0) {
            i++;
        }
        if (!allowed[i]) {
            return fwt_fail(FWT_E_ARG, "%s: unknown field '%s'", where, k);
        }
    }
    return FWT_OK;
}

/* An optional integer field in [lo, hi]; *out keeps its default when absent. */
static fwt_err int_field(const json_t *o, const char *where, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!v) {
        return FWT_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        return fwt_fail(FWT_E_ARG, "%s.%s must be an integer from %" PRId64 " to %" PRId64, where, name, lo, hi);
    }
    *out = json_integer_value(v);
    return FWT_OK;
}

static fwt_err str_field(const json_t *o, const char *where, const char *name, int required, size_t max,
                         const char **out)
{
    json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!v) {
        return required ? fwt_fail(FWT_E_ARG, "%s.%s is required", where, name) : FWT_OK;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return fwt_fail(FWT_E_ARG, "%s.%s must be a string of 1 to %zu characters", where, name, max);
    }
    *out = json_string_value(v);
    if (strchr(*out, '"') || strchr(*out, '\\')) {
        return fwt_fail(FWT_E_ARG, "%s.%s must not contain '\"' or '\\'", where, name);
    }
    for (const char *p = *out; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
            return fwt_fail(FWT_E_ARG, "%s.%s must be printable ASCII", where, name);
        }
    }
    return FWT_OK;
}

static fwt_err bool_field(const json_t *o, const char *where, const char *name, int *out)
{
    json_t *v = json_object_get(o, name);
    if (!v) {
        return FWT_OK;
    }
    if (!json_is_boolean(v)) {
        return fwt_fail(FWT_E_ARG, "%s.%s must be true or false", where, name);
    }
    *out = json_is_true(v);
    return FWT_OK;
}

static fwt_err str_array(const json_t *o, const char *where, const char *name, size_t max_items, int tags)
{
    json_t *v = json_object_get(o, name);
    if (!v) {
        return FWT_OK;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > max_items) {
        return fwt_fail(FWT_E_ARG, "%s.%s must be an array of 1 to %zu strings", where, name, max_items);
    }
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        const char *s = json_string_value(x);
        if (!s || (tags ? !tag_text_ok(s) : !fwt_fleet_device_id_valid(s))) {
            return fwt_fail(FWT_E_ARG, "%s.%s[%zu] is not a valid %s", where, name, i, tags ? "tag" : "device id");
        }
    }
    return FWT_OK;
}

/* Check a specification object and read it into sp (defaults filled). */
static fwt_err spec_read(const json_t *j, struct spec *sp)
{
    memset(sp, 0, sizeof(*sp));
    sp->confirm_timeout = 3600;
    snprintf(sp->critical_tag, sizeof(sp->critical_tag), "critical");
    if (!json_is_object(j)) {
        return fwt_fail(FWT_E_ARG, "rollout: the specification must be a JSON object");
    }
    static const char *const top[] = {"name", "target", "length", "sha256", "hardware_id", "release_counter",
                                      "select", "groups", "confirm_timeout", "start_at", "windows", "forced",
                                      "retries", "urgent", "critical_tag", "require_attestation",
                                      "attestation_max_age", "critical_min_signers", NULL};
    fwt_err e = only_keys(j, "rollout", top);
    const char *s = NULL;
    int64_t v = 0;
    if (e == FWT_OK) {
        e = str_field(j, "rollout", "name", 1, 64, &s);
    }
    if (e == FWT_OK) {
        e = str_field(j, "rollout", "target", 1, 255, &s);
    }
    if (e == FWT_OK) {
        e = str_field(j, "rollout", "hardware_id", 1, 64, &s);
    }
    if (e == FWT_OK && !json_is_integer(json_object_get(j, "length"))) {
        e = fwt_fail(FWT_E_ARG, "rollout.length is required (the target's length in bytes)");
    }
    if (e == FWT_OK) {
        e = int_field(j, "rollout", "length", 1, INT64_MAX, &v);
    }
    if (e == FWT_OK && !hex64(json_string_value(json_object_get(j, "sha256")))) {
        e = fwt_fail(FWT_E_ARG, "rollout.sha256 must be 64 lower-case hex digits");
    }
    if (e == FWT_OK) {
        e = int_field(j, "rollout", "release_counter", 0, INT64_MAX, &v);
    }
    if (e == FWT_OK) {
        e = int_field(j, "rollout", "confirm_timeout", 60, 30 * 86400, &sp->confirm_timeout);
    }
    if (e == FWT_OK) {
        e = int_field(j, "rollout", "start_at", 0, INT64_MAX / 2, &sp->start_at);
    }
    if (e == FWT_OK) {
        e = int_field(j, "rollout", "retries", 0, 10, &sp->retries);
    }
    if (e == FWT_OK) {
        e = bool_field(j, "rollout", "forced", &sp->forced);
    }
    if (e == FWT_OK) {
        e = bool_field(j, "rollout", "urgent", &sp->urgent);
    }
    sp->attest_age = 3600;
    if (e == FWT_OK && (e = str_field(j, "rollout", "require_attestation", 0, 16, &s)) == FWT_OK && s) {
        if (strcmp(s, "none") && strcmp(s, "critical") && strcmp(s, "all")) {
            e = fwt_fail(FWT_E_ARG, "rollout.require_attestation must be \"none\", \"critical\" or \"all\"");
        }
        sp->attest = !strcmp(s, "all") ? 2 : !strcmp(s, "critical") ? 1 : 0;
    }
    if (e == FWT_OK) {
        e = int_field(j, "rollout", "attestation_max_age", 60, 30 * 86400, &sp->attest_age);
    }
    if (e == FWT_OK) {
        e = int_field(j, "rollout", "critical_min_signers", 1, FWT_MAX_SIGNERS, &sp->crit_signers);
    }
    if (e == FWT_OK && (e = str_field(j, "rollout", "critical_tag", 0, 64, &s)) == FWT_OK && s) {
        if (!tag_text_ok(s)) {
            e = fwt_fail(FWT_E_ARG, "rollout.critical_tag is not a valid tag");
        } else {
            snprintf(sp->critical_tag, sizeof(sp->critical_tag), "%s", s);
        }
    }
    /* selection */
    json_t *sel = json_object_get(j, "select");
    if (e == FWT_OK && !json_is_object(sel)) {
        e = fwt_fail(FWT_E_ARG, "rollout.select is required: an object with hardware_id, tags, attrs and/or devices");
    }
    if (e == FWT_OK) {
        static const char *const sk[] = {"hardware_id", "tags", "attrs", "devices", NULL};
        e = only_keys(sel, "rollout.select", sk);
    }
    if (e == FWT_OK && json_object_size(sel) == 0) {
        e = fwt_fail(FWT_E_ARG, "rollout.select selects nothing: give hardware_id, tags, attrs or devices");
    }
    /* attrs: {KEY: VALUE}, every one equal on the device (device attributes, fwt_srv_device_attr) */
    json_t *sattrs = json_object_get(sel, "attrs");
    if (e == FWT_OK && sattrs &&
        (!json_is_object(sattrs) || json_object_size(sattrs) == 0 || json_object_size(sattrs) > 16)) {
        e = fwt_fail(FWT_E_ARG, "rollout.select.attrs must be an object of 1 to 16 attributes {\"KEY\": \"VALUE\"}");
    }
    if (e == FWT_OK && sattrs) {
        const char *k;
        json_t *av;
        json_object_foreach(sattrs, k, av) {
            const char *vs = json_string_value(av);
            if (e == FWT_OK && (!tag_text_ok(k) || !vs || strlen(vs) > 128)) {
                e = fwt_fail(FWT_E_ARG, "rollout.select.attrs.%.64s: the key must be a valid attribute key (1 to 64 of "
                             "A-Z a-z 0-9 - _ .) and the value a string of at most 128 characters", k);
            }
        }
    }
    if (e == FWT_OK) {
        e = str_field(sel, "rollout.select", "hardware_id", 0, 64, &s);
    }
    if (e == FWT_OK && s && strcmp(s, json_string_value(json_object_get(j, "hardware_id"))) != 0) {
        e = fwt_fail(FWT_E_ARG, "rollout: the target is for hardware '%s', the selection names '%s'",
                     json_string_value(json_object_get(j, "hardware_id")), s);
    }
    if (e == FWT_OK) {
        e = str_array(sel, "rollout.select", "tags", 16, 1);
    }
    if (e == FWT_OK) {
        e = str_array(sel, "rollout.select", "devices", 100000, 0);
    }
    /* groups */
    json_t *gs = json_object_get(j, "groups");
    if (e == FWT_OK && (!json_is_array(gs) || json_array_size(gs) == 0 || json_array_size(gs) > FWT_ROLLOUT_MAX_GROUPS)) {
        e = fwt_fail(FWT_E_ARG, "rollout.groups must be an array of 1 to %d groups", FWT_ROLLOUT_MAX_GROUPS);
    }
    int last_pct = 0;
    for (size_t i = 0; e == FWT_OK && i < json_array_size(gs); i++) {
        json_t *g = json_array_get(gs, i);
        char where[48];
        snprintf(where, sizeof(where), "rollout.groups[%zu]", i);
        struct group *gr = &sp->g[i];
        static const char *const gk[] = {"name", "percent", "tag", "success_threshold", "success_action",
                                         "error_threshold_count", "error_threshold_percent", "min_sample", NULL};
        if (!json_is_object(g)) {
            e = fwt_fail(FWT_E_ARG, "%s must be an object", where);
            break;
        }
        e = only_keys(g, where, gk);
        if (e == FWT_OK && (e = str_field(g, where, "name", 0, 64, &s)) == FWT_OK) {
            snprintf(gr->name, sizeof(gr->name), "%s", s ? s : "");
        }
        if (e == FWT_OK && !gr->name[0]) {
            snprintf(gr->name, sizeof(gr->name), "group %zu", i + 1);
        }
        int64_t pct = 0, succ = 100, ec = 0, ep = 0, ms = 1;
        if (e == FWT_OK) {
            e = int_field(g, where, "percent", 1, 100, &pct);
        }
        if (e == FWT_OK && (e = str_field(g, where, "tag", 0, 64, &s)) == FWT_OK) {
            if (!pct == !s) {
                e = fwt_fail(FWT_E_ARG, "%s: give exactly one of percent and tag", where);
            } else if (s && !tag_text_ok(s)) {
                e = fwt_fail(FWT_E_ARG, "%s.tag is not a valid tag", where);
            } else if (s) {
                snprintf(gr->tag, sizeof(gr->tag), "%s", s);
            }
        }
        if (e == FWT_OK && pct && pct <= last_pct) {
            e = fwt_fail(FWT_E_ARG, "%s.percent %" PRId64 " must be above the previous group's %d (percentages "
                         "are cumulative)", where, pct, last_pct);
        }
        if (pct) {
            last_pct = (int)pct;
        }
        gr->percent = (int)pct;
        if (e == FWT_OK) {
            e = int_field(g, where, "success_threshold", 1, 100, &succ);
        }
        if (e == FWT_OK && (e = str_field(g, where, "success_action", 0, 16, &s)) == FWT_OK && s) {
            if (strcmp(s, "next") && strcmp(s, "pause")) {
                e = fwt_fail(FWT_E_ARG, "%s.success_action must be \"next\" or \"pause\"", where);
            }
            gr->pause = !strcmp(s, "pause");
        }
        if (e == FWT_OK) {
            e = int_field(g, where, "error_threshold_count", 1, 1000000, &ec);
        }
        if (e == FWT_OK) {
            e = int_field(g, where, "error_threshold_percent", 1, 100, &ep);
        }
        if (e == FWT_OK) {
            e = int_field(g, where, "min_sample", 1, 1000000, &ms);
        }
        if (e == FWT_OK && !ec && !ep) {
            e = fwt_fail(FWT_E_ARG, "%s: an error threshold is required (error_threshold_count or "
                         "error_threshold_percent)", where);
        }
        gr->success = (int)succ;
        gr->err_count = ec;
        gr->err_percent = (int)ep;
        gr->min_sample = ms;
    }
    if (e == FWT_OK && last_pct != 100) {
        e = fwt_fail(FWT_E_ARG, "rollout.groups: the last percentage group must reach 100 (every selected device "
                     "needs a group)");
    }
    if (e == FWT_OK) {
        sp->n_groups = json_array_size(gs);
        /* The critical tier: a last group of its own, the strictest thresholds. */
        struct group *c = &sp->g[sp->n_groups];
        snprintf(c->name, sizeof(c->name), "critical");
        snprintf(c->tag, sizeof(c->tag), "%s", sp->critical_tag);
        c->success = 100;
        c->err_count = 1;
        c->min_sample = 1;
    }
    /* maintenance windows */
    json_t *ws = json_object_get(j, "windows");
    if (e == FWT_OK && ws && (!json_is_array(ws) || json_array_size(ws) > FWT_ROLLOUT_MAX_WINDOWS)) {
        e = fwt_fail(FWT_E_ARG, "rollout.windows must be an array of at most %d windows", FWT_ROLLOUT_MAX_WINDOWS);
    }
    for (size_t i = 0; e == FWT_OK && ws && i < json_array_size(ws); i++) {
        json_t *w = json_array_get(ws, i);
        char where[48];
        snprintf(where, sizeof(where), "rollout.windows[%zu]", i);
        static const char *const wk[] = {"tag", "cron", "duration", "tz", NULL};
        if (!json_is_object(w)) {
            e = fwt_fail(FWT_E_ARG, "%s must be an object", where);
            break;
        }
        struct window *wi = &sp->w[i];
        int64_t dur = 0;
        e = only_keys(w, where, wk);
        if (e == FWT_OK && (e = str_field(w, where, "tag", 1, 64, &s)) == FWT_OK) {
            if (!tag_text_ok(s)) {
                e = fwt_fail(FWT_E_ARG, "%s.tag is not a valid tag", where);
            } else {
                snprintf(wi->tag, sizeof(wi->tag), "%s", s);
            }
        }
        if (e == FWT_OK && (e = str_field(w, where, "cron", 1, 100, &s)) == FWT_OK &&
            (e = fwt_cron_parse(s, &wi->cron)) != FWT_OK) {
            e = fwt_fail(e, "%s: %s", where, fwt_detail());
        }
        if (e == FWT_OK && (e = str_field(w, where, "tz", 1, 64, &s)) == FWT_OK) {
            if ((e = fwt_tz_check(s)) != FWT_OK) {
                e = fwt_fail(e, "%s: %s", where, fwt_detail());
            } else {
                snprintf(wi->tz, sizeof(wi->tz), "%s", s);
            }
        }
        if (e == FWT_OK && !json_object_get(w, "duration")) {
            e = fwt_fail(FWT_E_ARG, "%s.duration is required (seconds)", where);
        }
        if (e == FWT_OK) {
            e = int_field(w, where, "duration", 60, 7 * 86400, &dur);
        }
        wi->duration = (uint64_t)dur;
    }
    if (e == FWT_OK && ws) {
        sp->n_windows = json_array_size(ws);
    }
    return e;
}

fwt_err fwt_srv_rollout_spec_check(const uint8_t *body, size_t len, json_t **out)
{
    *out = NULL;
    if (len > FWT_SRV_BODY_MAX) {
        return fwt_fail(FWT_E_ARG, "rollout specification above %u bytes", FWT_SRV_BODY_MAX);
    }
    json_error_t je;
    json_t *j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        return fwt_fail(FWT_E_ARG, "rollout specification: not JSON (%s, line %d)", je.text, je.line);
    }
    struct spec *sp = malloc(sizeof(*sp));
    fwt_err e = sp ? spec_read(j, sp) : fwt_fail(FWT_E_NOMEM, "out of memory");
    free(sp);
    if (e != FWT_OK) {
        json_decref(j);
        return e;
    }
    *out = j;
    return FWT_OK;
}

/* ---- cohorts ---- */

/* A device's bucket in [0, 10000): SHA-256 of "rollout id \n device id". */
static fwt_err bucket_of(const char *rid, const char *did, int *bucket)
{
    char buf[200];
    int n = snprintf(buf, sizeof(buf), "%s\n%s", rid, did);
    uint8_t h[32];
    fwt_err e = fwt_sha256(buf, (size_t)n, h);
    if (e == FWT_OK) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) {
            v = v << 8 | h[i];
        }
        *bucket = (int)(v % 10000);
    }
    return e;
}

static int has_tag(json_t *tags, const char *t)
{
    size_t i;
    json_t *x;
    json_array_foreach(tags, i, x) {
        if (!strcmp(json_string_value(x), t)) {
            return 1;
        }
    }
    return 0;
}

/* The group of a device: critical tier last, else the first tag group it has, else by bucket. */
static fwt_err group_of(const struct spec *sp, const char *rid, const char *did, json_t *tags, int64_t *grp)
{
    if (has_tag(tags, sp->critical_tag)) {
        *grp = (int64_t)sp->n_groups;
        return FWT_OK;
    }
    for (size_t i = 0; i < sp->n_groups; i++) {
        if (sp->g[i].tag[0] && has_tag(tags, sp->g[i].tag)) {
            *grp = (int64_t)i;
            return FWT_OK;
        }
    }
    int b = 0;
    fwt_err e = bucket_of(rid, did, &b);
    for (size_t i = 0; e == FWT_OK && i < sp->n_groups; i++) {
        if (sp->g[i].percent && b < sp->g[i].percent * 100) {
            *grp = (int64_t)i;
            return FWT_OK;
        }
    }
    return e == FWT_OK ? fwt_fail(FWT_E_INTERNAL, "no group for %s", did) : e;
}

/* ---- helpers ---- */

static const struct fwt_srv_actor k_policy = {"server:rollout-policy", FWT_SRV_APPROVER};

static fwt_err need(const struct fwt_srv_actor *who, enum fwt_srv_role r)
{
    if (!who || who->role < r) {
        return fwt_fail(FWT_E_KEY, "%s needs the %s role (has %s)", who ? who->name : "nobody", fwt_srv_role_name(r),
                        who ? fwt_srv_role_name(who->role) : "none");
    }
    return FWT_OK;
}

static fwt_err begin(fwt_srv *s)
{
    return db_begin(s->db);
}

static fwt_err end(fwt_srv *s, fwt_err e)
{
    if (e == FWT_OK) {
        return db_commit(s->db);
    }
    db_rollback(s->db);
    return e;
}

/* Devices (active ones) with their hardware id, tags and attributes:
 * {id: {"hw": ..., "tags": [...], "attrs": {...}}}. */
static fwt_err load_devices(fwt_srv *s, json_t **out)
{
    *out = json_object();
    struct db_rows r, t;
    fwt_err e = db_exec(s->db, "SELECT id, hardware_id FROM devices WHERE status = 'active'", NULL, 0, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    for (size_t i = 0; i < r.nrows; i++) {
        json_object_set_new(*out, db_cell(&r, i, 0),
                            json_pack("{s:s, s:[], s:{}}", "hw", db_cell(&r, i, 1), "tags", "attrs"));
    }
    db_rows_free(&r);
    if ((e = db_exec(s->db, "SELECT device_id, tag FROM device_tags", NULL, 0, &t, NULL)) != FWT_OK) {
        return e;
    }
    for (size_t i = 0; i < t.nrows; i++) {
        json_t *d = json_object_get(*out, db_cell(&t, i, 0));
        if (d) {
            json_array_append_new(json_object_get(d, "tags"), json_string(db_cell(&t, i, 1)));
        }
    }
    db_rows_free(&t);
    if ((e = db_exec(s->db, "SELECT device_id, key, value FROM device_attrs", NULL, 0, &t, NULL)) != FWT_OK) {
        return e;
    }
    for (size_t i = 0; i < t.nrows; i++) {
        json_t *d = json_object_get(*out, db_cell(&t, i, 0));
        if (d) {
            json_object_set_new(json_object_get(d, "attrs"), db_cell(&t, i, 1), json_string(db_cell(&t, i, 2)));
        }
    }
    db_rows_free(&t);
    return FWT_OK;
}

static fwt_err audit(fwt_srv *s, const struct fwt_srv_actor *who, const char *action, const char *rid,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static fwt_err audit(fwt_srv *s, const struct fwt_srv_actor *who, const char *action, const char *rid,
                     const char *fmt, ...)
{
    char d[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d, sizeof(d), fmt, ap);
    va_end(ap);
    return srv_audit(s, who, action, rid, d);
}

/* ---- admissions ---- */

struct rollout {
    char id[40], name[65], target[256], sha256[65], hw[65], state[16], created_by[128], reason[300];
    int64_t length, release_counter, cur, n_groups, pause_ack, start_at;
    json_t *spec_json;
    struct spec sp;
};

#define ROLLOUT_COLS                                                                                          \
    "id, name, spec, target, length, sha256, release_counter, hardware_id, state, cur_group, n_groups, "    \
    "pause_ack, created_by, start_at, reason"

static fwt_err rollout_load(fwt_srv *s, const char *id, struct rollout *r)
{
    memset(r, 0, sizeof(*r));
    struct db_param p[] = {DBT(id)};
    struct db_rows q;
    fwt_err e = db_exec(s->db, "SELECT " ROLLOUT_COLS " FROM rollouts WHERE id = ?", p, 1, &q, NULL);
    if (e != FWT_OK) {
        return e;
    }
    if (q.nrows == 0) {
        db_rows_free(&q);
        return fwt_fail(FWT_E_NOT_FOUND, "no rollout '%s'", id);
    }
    snprintf(r->id, sizeof(r->id), "%s", db_cell(&q, 0, 0));
    snprintf(r->name, sizeof(r->name), "%s", db_cell(&q, 0, 1));
    snprintf(r->target, sizeof(r->target), "%s", db_cell(&q, 0, 3));
    snprintf(r->sha256, sizeof(r->sha256), "%s", db_cell(&q, 0, 5));
    snprintf(r->hw, sizeof(r->hw), "%s", db_cell(&q, 0, 7));
    snprintf(r->state, sizeof(r->state), "%s", db_cell(&q, 0, 8));
    snprintf(r->created_by, sizeof(r->created_by), "%s", db_cell(&q, 0, 12));
    snprintf(r->reason, sizeof(r->reason), "%s", db_cell(&q, 0, 14));
    int64_t *ints[] = {&r->length, &r->release_counter, &r->cur, &r->n_groups, &r->pause_ack, &r->start_at};
    const int cols[] = {4, 6, 9, 10, 11, 13};
    for (int i = 0; e == FWT_OK && i < 6; i++) {
        e = db_to_i64(db_cell(&q, 0, (size_t)cols[i]), ints[i]);
    }
    json_error_t je;
    if (e == FWT_OK && !(r->spec_json = json_loads(db_cell(&q, 0, 2), 0, &je))) {
        e = fwt_fail(FWT_E_STATE, "rollout %s: stored specification unreadable", id);
    }
    db_rows_free(&q);
    if (e == FWT_OK) {
        e = spec_read(r->spec_json, &r->sp);
    }
    if (e != FWT_OK) {
        json_decref(r->spec_json);
        r->spec_json = NULL;
    }
    return e;
}

static void rollout_free(struct rollout *r)
{
    json_decref(r->spec_json);
    r->spec_json = NULL;
}

static fwt_err set_dev(fwt_srv *s, const struct rollout *r, const char *did, const char *state, int64_t attempts,
                       int64_t assigned_at, const char *detail, int64_t now)
{
    struct db_param p[] = {DBT(state), DBI(attempts), DBI(assigned_at), DBI(now), DBT(detail ? detail : ""),
                           DBT(r->id), DBT(did)};
    return db_exec(s->db, "UPDATE rollout_devices SET state = ?, attempts = ?, assigned_at = ?, updated_at = ?,"
                          " detail = ? WHERE rollout_id = ? AND device_id = ?", p, 7, NULL, NULL);
}

/* Give the device the rollout's target (its own earlier assignment kept in prev). */
static fwt_err admit(fwt_srv *s, const struct rollout *r, const char *did, int64_t attempts, int64_t now)
{
    char by[64];
    snprintf(by, sizeof(by), "rollout:%s", r->id);
    struct db_param pd[] = {DBT(did)};
    struct db_rows q;
    fwt_err e = db_exec(s->db, "SELECT target, length, sha256, release_counter, created_at, created_by FROM assignments"
                               " WHERE scope = 'device' AND subject = ?", pd, 1, &q, NULL);
    if (e != FWT_OK) {
        return e;
    }
    char *prev = NULL;
    if (q.nrows == 1 && strncmp(db_cell(&q, 0, 5), "rollout:", 8) != 0) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "target", db_cell(&q, 0, 0), "length",
                              db_cell(&q, 0, 1), "sha256", db_cell(&q, 0, 2), "release_counter", db_cell(&q, 0, 3),
                              "created_at", db_cell(&q, 0, 4), "created_by", db_cell(&q, 0, 5));
        prev = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(o);
        if (!prev) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    db_rows_free(&q);
    if (e == FWT_OK && prev) {
        struct db_param p[] = {DBT(prev), DBT(r->id), DBT(did)};
        e = db_exec(s->db, "UPDATE rollout_devices SET prev = ? WHERE rollout_id = ? AND device_id = ?", p, 3, NULL,
                    NULL);
    }
    free(prev);
    if (e == FWT_OK) {
        struct db_param p[] = {DBT(did), DBT(r->target), DBI(r->length), DBT(r->sha256), DBI(r->release_counter),
                               DBI(now), DBT(by)};
        e = db_exec(s->db, "INSERT INTO assignments (scope, subject, target, length, sha256, release_counter,"
                           " created_at, created_by) VALUES ('device', ?, ?, ?, ?, ?, ?, ?)"
                           " ON CONFLICT (scope, subject) DO UPDATE SET target = excluded.target,"
                           " length = excluded.length, sha256 = excluded.sha256,"
                           " release_counter = excluded.release_counter, created_at = excluded.created_at,"
                           " created_by = excluded.created_by", p, 7, NULL, NULL);
    }
    if (e == FWT_OK) {
        e = set_dev(s, r, did, "assigned", attempts, now, "", now);
    }
    if (e == FWT_OK) {
        char d[400];
        snprintf(d, sizeof(d), "rollout %s target %s", r->id, r->target);
        e = srv_event(s, did, "rollout-assign", k_policy.name, d);
    }
    return e;
}

/* Take the rollout's assignment away again (the earlier one back); the director's
 * metadata follows at the device's next check-in or timestamp fetch. */
static fwt_err release(fwt_srv *s, const struct rollout *r, const char *did, const char *state, int64_t now)
{
    char by[64];
    snprintf(by, sizeof(by), "rollout:%s", r->id);
    struct db_param p[] = {DBT(did), DBT(by)};
    fwt_err e = db_exec(s->db, "DELETE FROM assignments WHERE scope = 'device' AND subject = ? AND created_by = ?", p, 2,
                        NULL, NULL);
    struct db_param pq[] = {DBT(r->id), DBT(did)};
    struct db_rows q;
    if (e == FWT_OK) {
        e = db_exec(s->db, "SELECT prev FROM rollout_devices WHERE rollout_id = ? AND device_id = ?", pq, 2, &q, NULL);
    }
    if (e != FWT_OK) {
        return e;
    }
    const char *prev = db_cell(&q, 0, 0);
    if (prev) {
        json_t *o = json_loads(prev, 0, NULL);
        int64_t len = 0, rc = 0, at = 0;
        const char *t = json_string_value(json_object_get(o, "target"));
        if (!o || !t || db_to_i64(json_string_value(json_object_get(o, "length")), &len) != FWT_OK ||
            db_to_i64(json_string_value(json_object_get(o, "release_counter")), &rc) != FWT_OK ||
            db_to_i64(json_string_value(json_object_get(o, "created_at")), &at) != FWT_OK) {
            e = fwt_fail(FWT_E_STATE, "rollout %s: the kept assignment of %s is unreadable", r->id, did);
        } else {
            struct db_param pi[] = {DBT(did), DBT(t), DBI(len), DBT(json_string_value(json_object_get(o, "sha256"))),
                                    DBI(rc), DBI(at), DBT(json_string_value(json_object_get(o, "created_by")))};
            e = db_exec(s->db, "INSERT INTO assignments (scope, subject, target, length, sha256, release_counter,"
                               " created_at, created_by) VALUES ('device', ?, ?, ?, ?, ?, ?, ?)"
                               " ON CONFLICT (scope, subject) DO NOTHING", pi, 7, NULL, NULL);
        }
        json_decref(o);
    }
    db_rows_free(&q);
    if (e == FWT_OK) {
        struct db_param pu[] = {DBT(state), DBI(now), DBT(r->id), DBT(did)};
        e = db_exec(s->db, "UPDATE rollout_devices SET state = ?, updated_at = ?, prev = NULL"
                           " WHERE rollout_id = ? AND device_id = ?", pu, 4, NULL, NULL);
    }
    if (e == FWT_OK) {
        char d[400];
        snprintf(d, sizeof(d), "rollout %s target %s", r->id, r->target);
        e = srv_event(s, did, "rollout-revert", k_policy.name, d);
    }
    return e;
}

/* ---- the policy ---- */

struct gstat {
    int64_t n, pending, assigned, in_flight, confirmed, failed, reverted;
};

struct devrow {
    char id[65];
    int64_t grp, attempts, assigned_at;
    char state[16];
    char detail[32];
};

static fwt_err load_rows(fwt_srv *s, const char *rid, struct devrow **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    struct db_param p[] = {DBT(rid)};
    struct db_rows q;
    fwt_err e = db_exec(s->db, "SELECT device_id, grp, state, attempts, assigned_at, detail FROM rollout_devices"
                               " WHERE rollout_id = ? ORDER BY device_id", p, 1, &q, NULL);
    if (e != FWT_OK) {
        return e;
    }
    *rows = calloc(q.nrows ? q.nrows : 1, sizeof(**rows));
    if (!*rows) {
        db_rows_free(&q);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; e == FWT_OK && i < q.nrows; i++) {
        struct devrow *d = &(*rows)[i];
        snprintf(d->id, sizeof(d->id), "%s", db_cell(&q, i, 0));
        snprintf(d->state, sizeof(d->state), "%s", db_cell(&q, i, 2));
        snprintf(d->detail, sizeof(d->detail), "%s", db_cell(&q, i, 5));
        if ((e = db_to_i64(db_cell(&q, i, 1), &d->grp)) == FWT_OK &&
            (e = db_to_i64(db_cell(&q, i, 3), &d->attempts)) == FWT_OK) {
            e = db_to_i64(db_cell(&q, i, 4), &d->assigned_at);
        }
    }
    *n = q.nrows;
    db_rows_free(&q);
    if (e != FWT_OK) {
        free(*rows);
        *rows = NULL;
    }
    return e;
}

static void stats(const struct devrow *rows, size_t n, int64_t n_groups, struct gstat *g)
{
    memset(g, 0, (size_t)(n_groups) * sizeof(*g));
    for (size_t i = 0; i < n; i++) {
        if (rows[i].grp < 0 || rows[i].grp >= n_groups) {
            continue;
        }
        struct gstat *x = &g[rows[i].grp];
        x->n++;
        const char *st = rows[i].state;
        int64_t *c = !strcmp(st, "pending")     ? &x->pending
                     : !strcmp(st, "assigned")  ? &x->assigned
                     : !strcmp(st, "in_flight") ? &x->in_flight
                     : !strcmp(st, "confirmed") ? &x->confirmed
                     : !strcmp(st, "failed")    ? &x->failed
                                                : &x->reverted;
        (*c)++;
    }
}

static int error_crossed(const struct group *g, const struct gstat *x)
{
    int64_t decided = x->confirmed + x->failed;
    if (x->failed == 0 || decided < g->min_sample) {
        return 0;
    }
    return (g->err_count && x->failed >= g->err_count) || (g->err_percent && x->failed * 100 >= g->err_percent * decided);
}

static int succeeded(const struct group *g, const struct gstat *x)
{
    return x->confirmed * 100 >= (int64_t)g->success * x->n;
}

/* Approvals that count: approvers other than the creator (checked when given). */
static fwt_err approvals(fwt_srv *s, const char *rid, int64_t *n)
{
    struct db_param p[] = {DBT(rid)};
    return db_query_int(s->db, "SELECT COUNT(*) FROM rollout_approvals WHERE rollout_id = ?", p, 1, n);
}

static fwt_err quarantined(fwt_srv *s, json_t **set)
{
    *set = json_object();
    struct db_rows q;
    fwt_err e = db_exec(s->db, "SELECT device_id FROM quarantine", NULL, 0, &q, NULL);
    for (size_t i = 0; e == FWT_OK && i < q.nrows; i++) {
        json_object_set_new(*set, db_cell(&q, i, 0), json_true());
    }
    if (e == FWT_OK) {
        db_rows_free(&q);
    }
    return e;
}

/* May the device start now (soft rollouts: inside a window of one of its tags, if any has one)? */
static fwt_err window_ok(const struct spec *sp, json_t *tags, time_t now, int *ok)
{
    *ok = 1;
    if (sp->forced) {
        return FWT_OK;
    }
    int governed = 0;
    for (size_t i = 0; i < sp->n_windows; i++) {
        if (!has_tag(tags, sp->w[i].tag)) {
            continue;
        }
        governed = 1;
        int open = 0;
        fwt_err e = fwt_cron_window_open(&sp->w[i].cron, sp->w[i].tz, sp->w[i].duration, now, &open);
        if (e != FWT_OK) {
            return e;
        }
        if (open) {
            return FWT_OK;
        }
    }
    *ok = !governed;
    return FWT_OK;
}

static fwt_err do_halt(fwt_srv *s, struct rollout *r, const struct fwt_srv_actor *who, const char *reason,
                       const char *new_state, int64_t now);

/* The attestation policy hook: when the rollout requires it for this device (every
 * device, or the critical tier), only a device whose newest attestation record is a
 * pass within attestation_max_age is admitted; the others stay pending. */
static fwt_err attestation_ok(fwt_srv *s, const struct spec *sp, const char *did, int critical, time_t now, int *ok)
{
    *ok = 1;
    if (sp->attest == 0 || (sp->attest == 1 && !critical)) {
        return FWT_OK;
    }
    return srv_attest_fresh_pass(s, did, (int64_t)now, sp->attest_age, ok);
}

/* One failure of a device: a retry while it has some left, else failed. */
static fwt_err device_failed(fwt_srv *s, struct rollout *r, struct devrow *d, const char *why, int64_t now)
{
    if (d->attempts < r->sp.retries) {
        d->attempts++;
        d->assigned_at = now;
        snprintf(d->state, sizeof(d->state), "assigned");
        return set_dev(s, r, d->id, "assigned", d->attempts, now, why, now);
    }
    snprintf(d->state, sizeof(d->state), "failed");
    return set_dev(s, r, d->id, "failed", d->attempts, d->assigned_at, why, now);
}

/* Evaluate one rollout inside the caller's transaction. */
static fwt_err evaluate(fwt_srv *s, struct rollout *r, time_t now, json_t *devices, json_t *quar)
{
    if (strcmp(r->state, "active") != 0 || now < r->start_at) {
        return FWT_OK;
    }
    int64_t napp = 0;
    fwt_err e = approvals(s, r->id, &napp);
    if (e != FWT_OK || (r->sp.urgent && napp < 2)) {
        return e;
    }
    struct devrow *rows = NULL;
    size_t n = 0;
    if ((e = load_rows(s, r->id, &rows, &n)) != FWT_OK) {
        return e;
    }
    /* not confirmed within the time limit */
    for (size_t i = 0; e == FWT_OK && i < n; i++) {
        struct devrow *d = &rows[i];
        if ((!strcmp(d->state, "assigned") || !strcmp(d->state, "in_flight")) &&
            d->assigned_at + r->sp.confirm_timeout <= (int64_t)now) {
            char why[96];
            snprintf(why, sizeof(why), "not confirmed within %" PRId64 " s", r->sp.confirm_timeout);
            e = device_failed(s, r, d, why, now);
        }
    }
    /* an urgent rollout starts every wave at once (the critical tier still waits) */
    if (e == FWT_OK && r->sp.urgent && r->cur < (int64_t)r->sp.n_groups - 1) {
        r->cur = (int64_t)r->sp.n_groups - 1;
        e = audit(s, &k_policy, "rollout-group-start", r->id, "urgent: groups 1 to %zu at once (%" PRId64
                  " approvals)", r->sp.n_groups, napp);
    }
    struct gstat g[FWT_ROLLOUT_MAX_GROUPS + 1];
    for (int rounds = 0; e == FWT_OK && rounds <= FWT_ROLLOUT_MAX_GROUPS + 1; rounds++) {
        stats(rows, n, r->n_groups, g);
        int all = 1;
        for (int64_t k = 0; k <= r->cur; k++) {
            if (error_crossed(&r->sp.g[k], &g[k])) {
                char why[300];
                snprintf(why, sizeof(why), "automatic halt: %s: %" PRId64 " of %" PRId64 " decided devices failed "
                         "(threshold: %" PRId64 " devices or %d%%, minimum sample %" PRId64 ")", r->sp.g[k].name,
                         g[k].failed, g[k].failed + g[k].confirmed, r->sp.g[k].err_count, r->sp.g[k].err_percent,
                         r->sp.g[k].min_sample);
                free(rows);
                return do_halt(s, r, &k_policy, why, "halted", now);
            }
            all = all && succeeded(&r->sp.g[k], &g[k]);
        }
        if (!all) {
            break;
        }
        if (r->cur + 1 >= r->n_groups) {
            snprintf(r->state, sizeof(r->state), "done");
            r->reason[0] = 0;
            e = audit(s, &k_policy, "rollout-done", r->id, "every group succeeded");
            break;
        }
        if (r->sp.g[r->cur].pause && r->pause_ack < r->cur) {
            snprintf(r->state, sizeof(r->state), "paused");
            snprintf(r->reason, sizeof(r->reason), "%s succeeded; paused for a human (success_action pause)",
                     r->sp.g[r->cur].name);
            e = audit(s, &k_policy, "rollout-pause", r->id, "%s", r->reason);
            break;
        }
        if (napp < 1) {
            snprintf(r->reason, sizeof(r->reason), "%s succeeded; the next group waits for an approval",
                     r->sp.g[r->cur].name);
            break;
        }
        r->cur++;
        r->reason[0] = 0;
        e = audit(s, &k_policy, "rollout-group-start", r->id, "%s (group %" PRId64 ", %" PRId64 " devices)",
                  r->sp.g[r->cur].name, r->cur + 1, g[r->cur].n);
    }
    /* admissions */
    int64_t last = r->cur;
    for (size_t i = 0; e == FWT_OK && !strcmp(r->state, "active") && i < n; i++) {
        struct devrow *d = &rows[i];
        if (strcmp(d->state, "pending") != 0 || d->grp > last || json_object_get(quar, d->id)) {
            continue;
        }
        json_t *dev = json_object_get(devices, d->id);
        if (!dev) {
            continue; /* revoked or decommissioned since */
        }
        int ok = 1;
        if ((e = window_ok(&r->sp, json_object_get(dev, "tags"), now, &ok)) == FWT_OK && ok) {
            e = attestation_ok(s, &r->sp, d->id, has_tag(json_object_get(dev, "tags"), r->sp.critical_tag), now, &ok);
        }
        if (e == FWT_OK && ok) {
            e = admit(s, r, d->id, d->attempts, now);
        }
    }
    free(rows);
    if (e == FWT_OK) {
        struct db_param p[] = {DBT(r->state), DBI(r->cur), DBT(r->reason), DBI(now), DBT(r->id)};
        e = db_exec(s->db, "UPDATE rollouts SET state = ?, cur_group = ?, reason = ?, updated_at = ? WHERE id = ?", p,
                    5, NULL, NULL);
    }
    return e;
}

/* Halt or cancel: no further admissions; devices that had not started lose the assignment. */
static fwt_err do_halt(fwt_srv *s, struct rollout *r, const struct fwt_srv_actor *who, const char *reason,
                       const char *new_state, int64_t now)
{
    struct devrow *rows = NULL;
    size_t n = 0;
    int cancel = !strcmp(new_state, "cancelled");
    fwt_err e = load_rows(s, r->id, &rows, &n);
    int64_t reverted = 0;
    for (size_t i = 0; e == FWT_OK && i < n; i++) {
        if (!strcmp(rows[i].state, "assigned")) {
            e = release(s, r, rows[i].id, cancel ? "reverted" : "pending", now);
            reverted++;
        } else if (!strcmp(rows[i].state, "failed")) {
            e = release(s, r, rows[i].id, "failed", now); /* no endless retries of a bad release */
        } else if (cancel && !strcmp(rows[i].state, "pending")) {
            e = set_dev(s, r, rows[i].id, "reverted", rows[i].attempts, rows[i].assigned_at, "cancelled", now);
        }
    }
    free(rows);
    if (e == FWT_OK) {
        snprintf(r->state, sizeof(r->state), "%s", new_state);
        snprintf(r->reason, sizeof(r->reason), "%s", reason);
        struct db_param p[] = {DBT(r->state), DBT(r->reason), DBI(now), DBT(r->id)};
        e = db_exec(s->db, "UPDATE rollouts SET state = ?, reason = ?, updated_at = ? WHERE id = ?", p, 4, NULL, NULL);
    }
    if (e == FWT_OK) {
        e = audit(s, who, cancel ? "rollout-cancel" : "rollout-halt", r->id, "%s; %" PRId64 " devices that had not "
                  "started reverted", reason, reverted);
    }
    return e;
}

static fwt_err tick_one(fwt_srv *s, const char *rid, time_t now)
{
    json_t *devices = NULL, *quar = NULL;
    struct rollout r;
    fwt_err e = begin(s);
    if (e != FWT_OK) {
        return e;
    }
    if ((e = rollout_load(s, rid, &r)) == FWT_OK) {
        if ((e = load_devices(s, &devices)) == FWT_OK && (e = quarantined(s, &quar)) == FWT_OK) {
            e = evaluate(s, &r, now, devices, quar);
        }
        rollout_free(&r);
    }
    json_decref(devices);
    json_decref(quar);
    return end(s, e);
}

fwt_err fwt_srv_rollout_tick(fwt_srv *s, time_t now)
{
    struct db_rows q;
    fwt_err e = db_exec(s->db, "SELECT id FROM rollouts WHERE state = 'active' ORDER BY created_at, id", NULL, 0, &q,
                        NULL);
    if (e != FWT_OK) {
        return e;
    }
    for (size_t i = 0; e == FWT_OK && i < q.nrows; i++) {
        e = tick_one(s, db_cell(&q, i, 0), now);
    }
    db_rows_free(&q);
    return e;
}

/* ---- blocked images ---- */

/* Whether the image with this SHA-256 (hex) is blocked; why (empty: not blocked). */
static fwt_err blocked(fwt_srv *s, const char *sha256, char why[300])
{
    why[0] = 0;
    struct db_param p[] = {DBT(sha256 ? sha256 : "")};
    struct db_rows q;
    fwt_err e = db_exec(s->db, "SELECT reason FROM blocked_images WHERE sha256 = ?", p, 1, &q, NULL);
    if (e == FWT_OK && q.nrows) {
        snprintf(why, 300, "image %s is blocked: %s", sha256, db_cell(&q, 0, 0)[0] ? db_cell(&q, 0, 0) : "(no reason)");
    }
    if (e == FWT_OK) {
        db_rows_free(&q);
    }
    return e;
}

fwt_err fwt_srv_image_block(fwt_srv *s, const struct fwt_srv_actor *who, const char *sha256, int on,
                            const char *reason, json_t **info)
{
    *info = NULL;
    fwt_err e = need(who, FWT_SRV_OPERATOR);
    if (e == FWT_OK && (!sha256 || strlen(sha256) != 64 || strspn(sha256, "0123456789abcdef") != 64)) {
        e = fwt_fail(FWT_E_ARG, "the image's SHA-256 must be 64 lower-case hex digits");
    }
    if (e == FWT_OK && reason && strlen(reason) > 200) {
        e = fwt_fail(FWT_E_ARG, "reason longer than 200 characters");
    }
    if (e != FWT_OK || (e = begin(s)) != FWT_OK) {
        return e;
    }
    int64_t now = (int64_t)srv_now();
    struct db_param p[] = {DBT(sha256), DBT(reason ? reason : ""), DBI(now)};
    e = on ? db_exec(s->db, "INSERT INTO blocked_images (sha256, reason, at) VALUES (?, ?, ?) ON CONFLICT (sha256)"
                            " DO UPDATE SET reason = excluded.reason, at = excluded.at", p, 3, NULL, NULL)
           : db_exec(s->db, "DELETE FROM blocked_images WHERE sha256 = ?", p, 1, NULL, NULL);
    if (e == FWT_OK) {
        e = srv_audit(s, who, on ? "image-block" : "image-unblock", sha256, reason ? reason : "");
    }
    /* Blocking halts the image's unfinished rollouts in the same transaction. */
    json_t *halted = json_array();
    struct db_rows q;
    memset(&q, 0, sizeof(q));
    if (e == FWT_OK && on) {
        e = db_exec(s->db, "SELECT id FROM rollouts WHERE sha256 = ? AND state IN ('active', 'paused')"
                           " ORDER BY id", p, 1, &q, NULL);
    }
    char why[300];
    snprintf(why, sizeof(why), "image blocked by %s%s%s", who->name, reason && *reason ? ": " : "",
             reason ? reason : "");
    for (size_t i = 0; e == FWT_OK && i < q.nrows; i++) {
        struct rollout r;
        if ((e = rollout_load(s, db_cell(&q, i, 0), &r)) == FWT_OK) {
            e = do_halt(s, &r, who, why, "halted", now);
            json_array_append_new(halted, json_string(r.id));
            rollout_free(&r);
        }
    }
    db_rows_free(&q);
    if ((e = end(s, e)) != FWT_OK) {
        json_decref(halted);
        return e;
    }
    *info = json_pack("{s:s, s:b, s:s, s:o}", "sha256", sha256, "blocked", on, "reason", reason ? reason : "",
                      "halted", halted);
    return *info ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
}

/* ---- admin actions ---- */

fwt_err fwt_srv_rollout_create(fwt_srv *s, const struct fwt_srv_actor *who, const json_t *spec, json_t **info)
{
    *info = NULL;
    fwt_err e = need(who, FWT_SRV_OPERATOR);
    struct spec *sp = calloc(1, sizeof(*sp));
    if (!sp) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (e == FWT_OK) {
        e = spec_read(spec, sp);
    }
    int n_signers = -1;
    if (e == FWT_OK) {
        e = srv_image_repo_check(s, json_string_value(json_object_get(spec, "target")),
                                 (uint64_t)json_integer_value(json_object_get(spec, "length")),
                                 json_string_value(json_object_get(spec, "sha256")),
                                 json_string_value(json_object_get(spec, "hardware_id")), &n_signers);
    }
    char why[300];
    if (e == FWT_OK && (e = blocked(s, json_string_value(json_object_get(spec, "sha256")), why)) == FWT_OK &&
        why[0]) {
        e = fwt_fail(FWT_E_STATE, "%s: no rollout of it (fwtrust-server image block --remove)", why);
    }
    char rid[40] = "r-";
    if (e == FWT_OK) {
        e = srv_random_hex(6, rid + 2);
    }
    char *text = e == FWT_OK ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (e == FWT_OK && !text) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    json_t *devices = NULL;
    int64_t now = (int64_t)srv_now();
    if (e == FWT_OK && (e = begin(s)) == FWT_OK) {
        const char *thw = json_string_value(json_object_get(spec, "hardware_id"));
        json_t *sel = json_object_get(spec, "select");
        const char *shw = json_string_value(json_object_get(sel, "hardware_id"));
        json_t *stags = json_object_get(sel, "tags"), *sids = json_object_get(sel, "devices"),
               *sattrs = json_object_get(sel, "attrs");
        e = load_devices(s, &devices);
        /* explicit ids must exist and be active; a set of them for the selection below */
        size_t i;
        json_t *x, *idset = json_object();
        json_array_foreach(sids, i, x) {
            if (e == FWT_OK && !json_object_get(devices, json_string_value(x))) {
                e = fwt_fail(FWT_E_NOT_FOUND, "rollout.select.devices: no active device '%s'", json_string_value(x));
            }
            json_object_set_new(idset, json_string_value(x), json_true());
        }
        /* claims by unfinished rollouts */
        json_t *claimed = json_object();
        struct db_rows q;
        if (e == FWT_OK && (e = db_exec(s->db, "SELECT rd.device_id, r.id FROM rollout_devices rd JOIN rollouts r"
                                               " ON r.id = rd.rollout_id WHERE r.state IN ('active','paused','halted')",
                                        NULL, 0, &q, NULL)) == FWT_OK) {
            for (size_t k = 0; k < q.nrows; k++) {
                json_object_set_new(claimed, db_cell(&q, k, 0), json_string(db_cell(&q, k, 1)));
            }
            db_rows_free(&q);
        }
        size_t n_sel = 0, n_crit = 0;
        const char *did;
        json_t *dev;
        struct db_param pr[] = {DBT(rid), DBT(json_string_value(json_object_get(spec, "name"))), DBT(text),
                                DBT(json_string_value(json_object_get(spec, "target"))),
                                DBI(json_integer_value(json_object_get(spec, "length"))),
                                DBT(json_string_value(json_object_get(spec, "sha256"))),
                                DBI(json_integer_value(json_object_get(spec, "release_counter"))), DBT(thw),
                                DBI((int64_t)sp->n_groups + 1), DBT(who->name), DBI(now), DBI(sp->start_at), DBI(now)};
        if (e == FWT_OK) {
            e = db_exec(s->db, "INSERT INTO rollouts (id, name, spec, target, length, sha256, release_counter,"
                               " hardware_id, state, cur_group, n_groups, created_by, created_at, start_at,"
                               " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', 0, ?, ?, ?, ?, ?)",
                        pr, 13, NULL, NULL);
        }
        json_object_foreach(devices, did, dev) {
            if (e != FWT_OK) {
                break;
            }
            const char *hw = json_string_value(json_object_get(dev, "hw"));
            json_t *tags = json_object_get(dev, "tags");
            int sel_ok = json_object_get(idset, did) != NULL;
            if (!sel_ok && (shw || stags || sattrs)) {
                sel_ok = (!shw || !strcmp(hw, shw));
                json_array_foreach(stags, i, x) {
                    sel_ok = sel_ok && has_tag(tags, json_string_value(x));
                }
                const char *ak;
                json_t *av;
                json_object_foreach(sattrs, ak, av) {
                    const char *have = json_string_value(json_object_get(json_object_get(dev, "attrs"), ak));
                    sel_ok = sel_ok && have && !strcmp(have, json_string_value(av));
                }
            }
            if (!sel_ok) {
                continue;
            }
            if (strcmp(hw, thw) != 0) {
                e = fwt_fail(FWT_E_ARG, "rollout: the target is for hardware '%s'; selected device %s is '%s'", thw,
                             did, hw);
                break;
            }
            json_t *other = json_object_get(claimed, did);
            if (other) {
                e = fwt_fail(FWT_E_STATE, "rollout: device %s belongs to unfinished rollout %s (a device is in at "
                             "most one active, paused or halted rollout: finish or cancel that one first)", did,
                             json_string_value(other));
                break;
            }
            int64_t grp = 0;
            if ((e = group_of(sp, rid, did, tags, &grp)) == FWT_OK && grp == (int64_t)sp->n_groups) {
                n_crit++;
            }
            if (e == FWT_OK) {
                struct db_param pd[] = {DBT(rid), DBT(did), DBI(grp), DBI(now)};
                e = db_exec(s->db, "INSERT INTO rollout_devices (rollout_id, device_id, grp, state, updated_at)"
                                   " VALUES (?, ?, ?, 'pending', ?)", pd, 4, NULL, NULL);
            }
            n_sel++;
        }
        json_decref(claimed);
        json_decref(idset);
        if (e == FWT_OK && n_sel == 0) {
            e = fwt_fail(FWT_E_ARG, "rollout: the selection matches no active device");
        }
        /* the critical tier's stricter signature policy: the image repository's target
         * description must record enough distinct verified signers (fail closed without one) */
        if (e == FWT_OK && sp->crit_signers && n_crit) {
            if (n_signers < 0) {
                e = fwt_fail(FWT_E_ARG, "rollout: %zu critical device(s) need an image signed by %" PRId64
                             " distinct keys (critical_min_signers); without an image repository (image-repo set) "
                             "the server cannot tell the signers", n_crit, sp->crit_signers);
            } else if (n_signers < sp->crit_signers) {
                e = fwt_fail(FWT_E_ARG, "rollout: %zu critical device(s) need an image signed by %" PRId64
                             " distinct keys (critical_min_signers); the image repository's target description "
                             "records %d verified signer(s)", n_crit, sp->crit_signers, n_signers);
            }
        }
        if (e == FWT_OK) {
            e = audit(s, who, "rollout-create", rid, "name %s target %s sha256 %s hardware %s devices %zu groups %zu%s",
                      json_string_value(json_object_get(spec, "name")),
                      json_string_value(json_object_get(spec, "target")),
                      json_string_value(json_object_get(spec, "sha256")), thw, n_sel, sp->n_groups,
                      sp->urgent ? " urgent" : "");
        }
        e = end(s, e);
    }
    json_decref(devices);
    free(text);
    free(sp);
    if (e == FWT_OK) {
        e = tick_one(s, rid, (time_t)now);
    }
    if (e == FWT_OK) {
        e = fwt_srv_rollout_status(s, rid, info);
    }
    return e;
}

fwt_err fwt_srv_rollout_approve(fwt_srv *s, const struct fwt_srv_actor *who, const char *id)
{
    fwt_err e = need(who, FWT_SRV_APPROVER);
    struct rollout r;
    if (e != FWT_OK || (e = begin(s)) != FWT_OK) {
        return e;
    }
    if ((e = rollout_load(s, id, &r)) == FWT_OK) {
        int64_t dup = 0;
        struct db_param p[] = {DBT(id), DBT(who->name), DBI(srv_now())};
        if (!strcmp(r.created_by, who->name)) {
            e = fwt_fail(FWT_E_KEY, "%s created rollout %s and cannot approve it (a second administrator must)",
                         who->name, id);
        } else if (!strcmp(r.state, "cancelled") || !strcmp(r.state, "done")) {
            e = fwt_fail(FWT_E_STATE, "rollout %s is %s", id, r.state);
        } else if ((e = db_query_int(s->db, "SELECT COUNT(*) FROM rollout_approvals WHERE rollout_id = ? AND"
                                            " approver = ?", p, 2, &dup)) == FWT_OK && dup) {
            e = fwt_fail(FWT_E_STATE, "%s already approved rollout %s", who->name, id);
        }
        if (e == FWT_OK) {
            e = db_exec(s->db, "INSERT INTO rollout_approvals (rollout_id, approver, at) VALUES (?, ?, ?)", p, 3, NULL,
                        NULL);
        }
        if (e == FWT_OK) {
            e = audit(s, who, "rollout-approve", id, "approved by %s", who->name);
        }
        rollout_free(&r);
    }
    if ((e = end(s, e)) == FWT_OK) {
        e = tick_one(s, id, (time_t)srv_now());
    }
    return e;
}

fwt_err fwt_srv_rollout_action(fwt_srv *s, const struct fwt_srv_actor *who, const char *id, const char *action,
                               const char *reason)
{
    fwt_err e = need(who, FWT_SRV_OPERATOR);
    if (e == FWT_OK && (!action || (strcmp(action, "halt") && strcmp(action, "resume") && strcmp(action, "cancel") &&
                                    strcmp(action, "retry-failed")))) {
        e = fwt_fail(FWT_E_ARG, "rollout action must be halt, resume, cancel or retry-failed");
    }
    char why[300];
    snprintf(why, sizeof(why), "%s by %s%s%s", action ? action : "", who ? who->name : "", reason && *reason ? ": " : "",
             reason ? reason : "");
    struct rollout r;
    int64_t now = (int64_t)srv_now();
    if (e != FWT_OK || (e = begin(s)) != FWT_OK) {
        return e;
    }
    if ((e = rollout_load(s, id, &r)) == FWT_OK) {
        int finished = !strcmp(r.state, "cancelled") || !strcmp(r.state, "done");
        if (finished) {
            e = fwt_fail(FWT_E_STATE, "rollout %s is %s", id, r.state);
        } else if (!strcmp(action, "halt")) {
            e = !strcmp(r.state, "halted") ? fwt_fail(FWT_E_STATE, "rollout %s is halted already", id)
                                           : do_halt(s, &r, who, why, "halted", now);
        } else if (!strcmp(action, "cancel")) {
            e = do_halt(s, &r, who, why, "cancelled", now);
        } else if (!strcmp(action, "resume")) {
            char bwhy[300];
            if (!strcmp(r.state, "active")) {
                e = fwt_fail(FWT_E_STATE, "rollout %s is active already", id);
            } else if ((e = blocked(s, r.sha256, bwhy)) == FWT_OK && bwhy[0]) {
                e = fwt_fail(FWT_E_STATE, "rollout %s cannot resume: %s", id, bwhy);
            } else if (e == FWT_OK) {
                struct db_param p[] = {DBI(!strcmp(r.state, "paused") ? r.cur : r.pause_ack), DBI(now), DBT(id)};
                e = db_exec(s->db, "UPDATE rollouts SET state = 'active', reason = '', pause_ack = ?, updated_at = ?"
                                   " WHERE id = ?", p, 3, NULL, NULL);
                if (e == FWT_OK) {
                    e = audit(s, who, "rollout-resume", id, "%s (was %s: %s)", why, r.state, r.reason);
                }
            }
        } else {
            uint64_t changed = 0;
            struct db_param p[] = {DBI(now), DBT(id)};
            e = db_exec(s->db, "UPDATE rollout_devices SET state = 'pending', attempts = 0, detail = '',"
                               " updated_at = ? WHERE rollout_id = ? AND state = 'failed'", p, 2, NULL, &changed);
            if (e == FWT_OK) {
                e = audit(s, who, "rollout-retry-failed", id, "%s; %llu failed devices pending again", why,
                          (unsigned long long)changed);
            }
        }
        rollout_free(&r);
    }
    if ((e = end(s, e)) == FWT_OK) {
        e = tick_one(s, id, (time_t)now);
    }
    return e;
}

static fwt_err observe(fwt_srv *s, const char *device_id, const char *target, const char *state, const char *reason,
                       time_t now, int incidents)
{
    int bad = !strcmp(state, "failed") || !strcmp(state, "refused") || !strcmp(state, "rolled-back");
    int ok = !strcmp(state, "confirmed");
    int started = !strcmp(state, "downloading") || !strcmp(state, "installed-trial") || !strcmp(state, "booted");
    if (!bad && !ok && !started) {
        return fwt_fail(FWT_E_ARG, "unknown device state '%s'", state);
    }
    fwt_err e = begin(s);
    if (e != FWT_OK) {
        return e;
    }
    /* incidents: time to recover runs from a failure to the next confirmation */
    if (!incidents) {
        /* a manifest repeats its last install at every check-in: no incidents from it */
    } else if (bad) {
        struct db_param p[] = {DBT(device_id), DBT(state), DBT(reason ? reason : ""), DBT(target ? target : ""),
                               DBI(now)};
        e = db_exec(s->db, "INSERT INTO incidents (device_id, kind, reason, target, at) VALUES (?, ?, ?, ?, ?)", p, 5,
                    NULL, NULL);
    } else if (ok) {
        struct db_param p[] = {DBI(now), DBT(device_id)};
        e = db_exec(s->db, "UPDATE incidents SET recovered_at = ? WHERE device_id = ? AND recovered_at IS NULL", p, 2,
                    NULL, NULL);
    }
    struct db_param p[] = {DBT(device_id), DBT(target ? target : ""), DBT(target ? target : "")};
    struct db_rows q;
    char rid[40] = "";
    if (e == FWT_OK) {
        e = db_exec(s->db, "SELECT r.id FROM rollout_devices rd JOIN rollouts r ON r.id = rd.rollout_id"
                           " WHERE rd.device_id = ? AND r.state IN ('active','paused','halted')"
                           " AND rd.state IN ('assigned','in_flight') AND (? = '' OR r.target = ?)", p, 3, &q, NULL);
    }
    if (e == FWT_OK) {
        if (q.nrows) {
            snprintf(rid, sizeof(rid), "%s", db_cell(&q, 0, 0));
        }
        db_rows_free(&q);
    }
    if (e == FWT_OK && rid[0]) {
        struct rollout r;
        if ((e = rollout_load(s, rid, &r)) == FWT_OK) {
            struct devrow *rows = NULL;
            size_t n = 0;
            if ((e = load_rows(s, rid, &rows, &n)) == FWT_OK) {
                for (size_t i = 0; i < n; i++) {
                    struct devrow *d = &rows[i];
                    if (strcmp(d->id, device_id) != 0) {
                        continue;
                    }
                    /* a manifest repeats its last install at every check-in: it speaks of this
                     * rollout's install only once the device reported installing it */
                    if (!incidents && (strcmp(d->state, "in_flight") || (strcmp(d->detail, "installed-trial") &&
                                                                         strcmp(d->detail, "booted")))) {
                        continue;
                    }
                    if (ok) {
                        e = set_dev(s, &r, d->id, "confirmed", d->attempts, d->assigned_at, "", now);
                    } else if (started) {
                        e = set_dev(s, &r, d->id, "in_flight", d->attempts, d->assigned_at, state, now);
                    } else {
                        e = device_failed(s, &r, d, state, now);
                        if (e == FWT_OK && !incidents) {
                            /* a manifest's failure of the rollout's install: one incident, as a
                             * report would have made (the device has left assigned/in flight) */
                            struct db_param pi[] = {DBT(device_id), DBT(state), DBT(reason ? reason : state),
                                                    DBT(r.target), DBI(now)};
                            e = db_exec(s->db, "INSERT INTO incidents (device_id, kind, reason, target, at)"
                                               " VALUES (?, ?, ?, ?, ?)", pi, 5, NULL, NULL);
                        }
                    }
                }
                free(rows);
            }
            rollout_free(&r);
        }
    }
    if ((e = end(s, e)) == FWT_OK && rid[0]) {
        e = tick_one(s, rid, now);
    }
    return e;
}

fwt_err fwt_srv_rollout_observe(fwt_srv *s, const char *device_id, const char *target, const char *state,
                                const char *reason, time_t now)
{
    return observe(s, device_id, target, state, reason, now, 1);
}

fwt_err fwt_srv_rollout_observe_manifest(fwt_srv *s, const char *device_id, const char *target, const char *result,
                                         const char *reason, time_t now)
{
    return observe(s, device_id, target, result, reason, now, 0);
}

fwt_err fwt_srv_quarantine(fwt_srv *s, const struct fwt_srv_actor *who, const char *device_id, int on,
                           const char *reason)
{
    fwt_err e = need(who, FWT_SRV_OPERATOR);
    if (e != FWT_OK || (e = begin(s)) != FWT_OK) {
        return e;
    }
    int64_t n = 0;
    struct db_param pd[] = {DBT(device_id)};
    if ((e = db_query_int(s->db, "SELECT COUNT(*) FROM devices WHERE id = ?", pd, 1, &n)) == FWT_OK && !n) {
        e = fwt_fail(FWT_E_NOT_FOUND, "no device '%s'", device_id);
    }
    if (e == FWT_OK && on) {
        struct db_param p[] = {DBT(device_id), DBT(reason ? reason : ""), DBI(srv_now())};
        e = db_exec(s->db, "INSERT INTO quarantine (device_id, reason, at) VALUES (?, ?, ?)"
                           " ON CONFLICT (device_id) DO NOTHING", p, 3, NULL, NULL);
    } else if (e == FWT_OK) {
        e = db_exec(s->db, "DELETE FROM quarantine WHERE device_id = ?", pd, 1, NULL, NULL);
    }
    /* a quarantined device that had not started loses rollout assignments */
    struct db_rows q;
    if (e == FWT_OK && on &&
        (e = db_exec(s->db, "SELECT rollout_id FROM rollout_devices WHERE device_id = ? AND state = 'assigned'", pd, 1,
                     &q, NULL)) == FWT_OK) {
        for (size_t i = 0; e == FWT_OK && i < q.nrows; i++) {
            struct rollout r;
            if ((e = rollout_load(s, db_cell(&q, i, 0), &r)) == FWT_OK) {
                e = release(s, &r, device_id, "pending", (int64_t)srv_now());
                rollout_free(&r);
            }
        }
        db_rows_free(&q);
    }
    if (e == FWT_OK) {
        e = srv_audit(s, who, on ? "device-quarantine" : "device-release", device_id, reason ? reason : "");
    }
    return end(s, e);
}

/* ---- status ---- */

fwt_err fwt_srv_rollout_status(fwt_srv *s, const char *id, json_t **obj)
{
    *obj = NULL;
    struct rollout r;
    fwt_err e = rollout_load(s, id, &r);
    if (e != FWT_OK) {
        return e;
    }
    struct devrow *rows = NULL;
    size_t n = 0;
    struct gstat g[FWT_ROLLOUT_MAX_GROUPS + 1];
    json_t *apps = json_array();
    struct db_param p[] = {DBT(id)};
    struct db_rows q;
    if ((e = load_rows(s, id, &rows, &n)) == FWT_OK &&
        (e = db_exec(s->db, "SELECT approver, at FROM rollout_approvals WHERE rollout_id = ? ORDER BY at, approver", p,
                     1, &q, NULL)) == FWT_OK) {
        for (size_t i = 0; i < q.nrows; i++) {
            json_array_append_new(apps, json_string(db_cell(&q, i, 0)));
        }
        db_rows_free(&q);
    }
    if (e == FWT_OK) {
        stats(rows, n, r.n_groups, g);
        json_t *groups = json_array();
        for (int64_t k = 0; k < r.n_groups; k++) {
            const struct group *gr = &r.sp.g[k];
            json_array_append_new(
                groups, json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:b}",
                                  "index", (json_int_t)k, "name", gr->name, "kind",
                                  k == (int64_t)r.sp.n_groups ? "critical" : gr->percent ? "percent" : "tag", "devices",
                                  (json_int_t)g[k].n, "pending", (json_int_t)g[k].pending, "assigned",
                                  (json_int_t)g[k].assigned, "in_flight", (json_int_t)g[k].in_flight, "confirmed",
                                  (json_int_t)g[k].confirmed, "failed", (json_int_t)g[k].failed, "reverted",
                                  (json_int_t)g[k].reverted, "success_threshold", (json_int_t)gr->success,
                                  "success_action", gr->pause ? "pause" : "next", "error_threshold_count",
                                  (json_int_t)gr->err_count, "error_threshold_percent", (json_int_t)gr->err_percent,
                                  "min_sample", (json_int_t)gr->min_sample, "started",
                                  k <= r.cur));
        }
        *obj = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:I, s:o, s:O, s:I, s:b}", "id", r.id,
                         "name", r.name, "target", r.target, "length", (json_int_t)r.length, "sha256", r.sha256,
                         "hardware_id", r.hw, "state", r.state, "reason", r.reason, "current_group", (json_int_t)r.cur,
                         "release_counter", (json_int_t)r.release_counter, "groups", groups, "devices", (json_int_t)n,
                         "approvals", apps, "spec", r.spec_json, "approvals_needed",
                         (json_int_t)(r.sp.urgent ? 2 : 1), "urgent", r.sp.urgent);
        apps = NULL;
        if (*obj) {
            json_object_set_new(*obj, "created_by", json_string(r.created_by));
        } else {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    json_decref(apps);
    free(rows);
    rollout_free(&r);
    return e;
}

fwt_err fwt_srv_rollout_list(fwt_srv *s, json_t **arr)
{
    *arr = json_array();
    struct db_rows q;
    fwt_err e = db_exec(s->db, "SELECT id FROM rollouts ORDER BY created_at DESC, id", NULL, 0, &q, NULL);
    for (size_t i = 0; e == FWT_OK && i < q.nrows; i++) {
        json_t *o = NULL;
        if ((e = fwt_srv_rollout_status(s, db_cell(&q, i, 0), &o)) == FWT_OK) {
            json_object_del(o, "spec");
            json_array_append_new(*arr, o);
        }
    }
    if (e == FWT_OK) {
        db_rows_free(&q);
    }
    return e;
}
