/*
 * fwtrust repo status and recover: each role's state; an interrupted transaction finished.
 */
#include "repo_cmd.h"

#include <stdlib.h>
#include <string.h>

static json_t *role_status(const struct repo *r, const char *role)
{
    json_t *o = json_pack("{s:s}", "role", role);
    json_t *env = NULL;
    fwt_err err = repo_published(r, role, &env);
    if (err == FWT_OK) {
        time_t t = 0;
        const char *exp = json_string_value(json_object_get(SIGNED(env), "expires"));
        int expired = fwt_tuf_time_parse(exp, &t) != FWT_OK || t <= r->now;
        json_object_set_new(o, "published", json_pack("{s:I, s:s, s:b}", "version", repo_version_of(env),
                                                      "expires", exp, "expired", expired));
        if (expired) {
            char fix[300];
            repo_renew_hint(r, role, fix, sizeof(fix));
            json_object_set_new(o, "fix", json_string(fix));
        }
        json_decref(env);
    } else {
        json_object_set_new(o, "published", json_null());
    }
    fwt_detail_clear();
    env = NULL;
    if (repo_staged(r, role, &env) == FWT_OK) {
        json_t *info = json_pack("{s:I, s:s}", "version", repo_version_of(env), "expires",
                                 json_string_value(json_object_get(SIGNED(env), "expires")));
        json_t *holder = NULL;
        char *hn = NULL;
        struct repo_role_keys rk;
        json_t *by = json_array();
        if (!strcmp(role, "root")) {
            json_t *sd = SIGNED(env);
            rk.keys = json_object_get(sd, "keys");
            rk.role = json_object_get(json_object_get(sd, "roles"), "root");
            size_t v = 0;
            if (repo_count_signatures(env, &rk, &v, by) != FWT_OK) {
                fwt_detail_clear();
            }
        } else if (repo_role_keys(r, role, &holder, &hn, &rk) == FWT_OK) {
            size_t v = 0;
            if (repo_count_signatures(env, &rk, &v, by) != FWT_OK) {
                fwt_detail_clear();
            }
        }
        json_object_set_new(info, "signed_by", by);
        fwt_err e = repo_role_signed_enough(r, role, env, info);
        json_object_set_new(info, "threshold_met", json_boolean(e == FWT_OK));
        json_object_set_new(o, "staged", info);
        json_decref(holder);
        free(hn);
        json_decref(env);
    } else {
        json_object_set_new(o, "staged", json_null());
    }
    fwt_detail_clear();
    json_t *holder = NULL;
    char *hn = NULL;
    struct repo_role_keys rk;
    if (repo_role_keys(r, role, &holder, &hn, &rk) == FWT_OK) {
        json_object_set(o, "keyids", json_object_get(rk.role, "keyids"));
        json_object_set(o, "threshold", json_object_get(rk.role, "threshold"));
        if (!tuf_is_top_role(role)) {
            json_object_set_new(o, "delegated_by", json_string(hn));
            json_object_set(o, "paths", json_object_get(rk.role, "paths"));
            json_object_set(o, "terminating", json_object_get(rk.role, "terminating"));
        }
        json_decref(holder);
        free(hn);
    }
    fwt_detail_clear();
    return o;
}

fwt_err repo_cmd_recover(struct repo *r, json_t *report)
{
    enum repo_txn_state st = REPO_TXN_NONE;
    fwt_err err = repo_recover(r->dir, &st);
    static const char *const what[4] = {NULL, "discarded (it had not changed anything)", "completed",
                                        "rolled back"};
    if (err == FWT_OK && st != REPO_TXN_NONE) {
        json_object_set_new(report, "recovered", json_string(what[st]));
    }
    return err;
}

fwt_err repo_cmd_status(struct repo *r, json_t *report)
{
    fwt_err err = repo_refuse_pending(r, report);
    if (err != FWT_OK) {
        return err;
    }
    json_t *names = NULL;
    err = repo_delegated_roles(r, &names);
    if (err != FWT_OK) {
        return err;
    }
    json_t *roles = json_array();
    static const char *const top[4] = {"root", "targets", "snapshot", "timestamp"};
    for (int i = 0; i < 4; i++) {
        json_array_append_new(roles, role_status(r, top[i]));
    }
    size_t i;
    json_t *nv;
    json_array_foreach(names, i, nv) {
        json_array_append_new(roles, role_status(r, json_string_value(nv)));
    }
    json_object_set_new(report, "roles", roles);
    json_t *env = NULL;
    if (repo_current(r, "targets", &env) == FWT_OK) {
        json_object_set_new(report, "targets_count",
                            json_integer((json_int_t)json_object_size(json_object_get(SIGNED(env), "targets"))));
        json_decref(env);
    }
    fwt_detail_clear();
    json_decref(names);
    return FWT_OK;
}

fwt_err repo_cmd_check_expiry(const struct repo *r, uint32_t days, json_t *report)
{
    json_t *soon = json_array();
    if (!soon || json_object_set_new(report, "expiring", soon) != 0) {
        return repo_oom();
    }
    const time_t limit = r->now + (time_t)days * 86400;
    char msg[768] = "";
    size_t used = 0;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(report, "roles"), i, s) {
        json_t *pub = json_object_get(s, "published");
        const char *role = json_string_value(json_object_get(s, "role"));
        const char *exp = json_string_value(json_object_get(pub, "expires"));
        time_t t = 0;
        if (!role || !exp) {
            continue; /* not published: nothing a client could find expired */
        }
        /* An expiry that does not parse counts as expiring (fail closed). */
        if (fwt_tuf_time_parse(exp, &t) == FWT_OK && t > limit) {
            continue;
        }
        fwt_detail_clear();
        char fix[300];
        repo_renew_hint(r, role, fix, sizeof(fix));
        if (json_array_append_new(soon, json_pack("{s:s, s:O, s:s, s:b, s:s}", "role", role, "version",
                                                  json_object_get(pub, "version"), "expires", exp, "expired",
                                                  t <= r->now, "fix", fix)) != 0) {
            return repo_oom();
        }
        if (used < sizeof(msg)) {
            int w = snprintf(msg + used, sizeof(msg) - used, "%s%s %s %s: %s", used ? "; " : "", role,
                             t <= r->now ? "expired at" : "expires at", exp, fix);
            used += w > 0 ? (size_t)w : 0;
        }
    }
    json_object_set_new(report, "check_expiry_days", json_integer((json_int_t)days));
    if (json_array_size(soon) == 0) {
        return FWT_OK;
    }
    return fwt_fail(FWT_E_META_EXPIRED, "%zu role(s) expire within %u day(s): %s", json_array_size(soon),
                    (unsigned)days, msg);
}
