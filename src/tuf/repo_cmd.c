/*
 * fwtrust repo commands: what the operations share (repo_cmd.h): staging, signing with a key ring,
 * threshold checks and the hints that name the command that fixes a role.
 */
#include "repo_cmd.h"

#include <stdlib.h>
#include <string.h>

fwt_err repo_oom(void)
{
    return fwt_fail(FWT_E_NOMEM, "out of memory");
}

json_int_t repo_version_of(const json_t *env)
{
    return json_integer_value(json_object_get(SIGNED(env), "version"));
}

void repo_expires_in(const struct repo *r, const char *role, char out[21])
{
    fwt_tuf_time_format(r->now + (time_t)repo_expiry_days(r, role) * 86400, out);
}

json_t *repo_new_env(json_t *signed_obj)
{
    return json_pack("{s:[], s:o}", "signatures", "signed", signed_obj);
}

/* Threshold state of env under rk: FWT_OK when met, FWT_E_META_SIG naming what is missing. */
fwt_err repo_threshold_met(const char *what, const json_t *env, const struct repo_role_keys *rk,
                           size_t *valid_out, size_t *th_out)
{
    size_t th = 0, valid = 0;
    fwt_err err = repo_role_threshold(rk->role, what, &th);
    if (err == FWT_OK) {
        err = repo_count_signatures(env, rk, &valid, NULL);
    }
    if (valid_out) {
        *valid_out = valid;
    }
    if (th_out) {
        *th_out = th;
    }
    if (err == FWT_OK && valid < th) {
        err = fwt_fail(FWT_E_META_SIG, "%s has %zu of the %zu signatures it needs", what, valid, th);
    }
    return err;
}

/* Add role keys from a keyring to a keys map and a role object. */
fwt_err repo_add_role_keys(json_t *keys, json_t *role, struct repo_key *const *ks, size_t n)
{
    json_t *ids = json_object_get(role, "keyids");
    for (size_t i = 0; i < n; i++) {
        if (json_object_set(keys, ks[i]->keyid, ks[i]->tuf) != 0) {
            return repo_oom();
        }
        int present = 0;
        size_t j;
        json_t *v;
        json_array_foreach(ids, j, v) {
            if (repo_streq(json_string_value(v), ks[i]->keyid)) {
                present = 1;
            }
        }
        if (!present && json_array_append_new(ids, json_string(ks[i]->keyid)) != 0) {
            return repo_oom();
        }
    }
    return FWT_OK;
}

fwt_err repo_load_keys(struct repo_keyring *kr, const char *const *specs, size_t n,
                       const struct fwt_key_opts *ko, struct repo_key **out)
{
    for (size_t i = 0; i < n; i++) {
        fwt_err err = repo_keyring_add(kr, specs[i], ko, 0, &out[i]);
        if (err != FWT_OK) {
            return err;
        }
    }
    return FWT_OK;
}

fwt_err repo_staged_path(const struct repo *r, const char *role, char **p)
{
    *p = repo_path(r, "staged/%s.json", role);
    return *p ? FWT_OK : repo_oom();
}

/* The first n keys of kr (given to sign role) must each be a key of role: for root, of the
 * current root or of the published one (both sign a new root); else of the role's current
 * delegator. extra (may be NULL) is one more acceptable role. */
fwt_err repo_check_signers(const struct repo *r, const struct repo_keyring *kr, size_t n, const char *role,
                           const struct repo_role_keys *extra)
{
    if (n == 0) {
        return FWT_OK;
    }
    struct repo_role_keys rks[3];
    size_t n_rks = 0;
    json_t *holder = NULL, *old = NULL;
    char *hn = NULL;
    fwt_err err = repo_role_keys(r, role, &holder, &hn, &rks[n_rks]);
    if (err != FWT_OK) {
        return err;
    }
    n_rks++;
    if (!strcmp(role, "root")) {
        err = repo_published(r, "root", &old);
        if (err == FWT_OK) {
            json_t *osd = SIGNED(old);
            rks[n_rks].keys = json_object_get(osd, "keys");
            rks[n_rks].role = json_object_get(json_object_get(osd, "roles"), "root");
            n_rks++;
        } else if (err == FWT_E_NOT_FOUND) {
            err = FWT_OK;
            fwt_detail_clear();
        }
    }
    if (extra) {
        rks[n_rks++] = *extra;
    }
    if (err == FWT_OK) {
        char what[96];
        snprintf(what, sizeof(what), "role '%s'", role);
        err = repo_keys_belong(kr, n, what, rks, n_rks);
    }
    json_decref(holder);
    json_decref(old);
    free(hn);
    return err;
}

/* Sign env (role) with every suitable key of kr; for root also with the published root's keys.
 * Nothing malformed is ever signed: the role's structure is checked first. */
fwt_err repo_sign_role(const struct repo *r, const char *role, json_t *env, const struct repo_keyring *kr,
                       size_t *added)
{
    size_t a1 = 0, a2 = 0;
    fwt_err err = !strcmp(role, "root") ? repo_root_check(SIGNED(env)) : repo_delegations_check(SIGNED(env), role);
    if (err != FWT_OK) {
        return err;
    }
    if (!strcmp(role, "root")) {
        json_t *sd = SIGNED(env);
        struct repo_role_keys rk = {json_object_get(sd, "keys"),
                                    json_object_get(json_object_get(sd, "roles"), "root")};
        err = repo_sign_env(env, &rk, kr, &a1);
        json_t *old = NULL;
        if (err == FWT_OK) {
            err = repo_published(r, "root", &old);
            if (err == FWT_OK) {
                json_t *osd = SIGNED(old);
                struct repo_role_keys ork = {json_object_get(osd, "keys"),
                                             json_object_get(json_object_get(osd, "roles"), "root")};
                err = repo_sign_env(env, &ork, kr, &a2);
                json_decref(old);
            } else if (err == FWT_E_NOT_FOUND) {
                err = FWT_OK;
            }
        }
    } else {
        json_t *holder = NULL;
        char *hn = NULL;
        struct repo_role_keys rk;
        err = repo_role_keys(r, role, &holder, &hn, &rk);
        if (err == FWT_OK) {
            err = repo_sign_env(env, &rk, kr, &a1);
        }
        json_decref(holder);
        free(hn);
    }
    if (added) {
        *added = a1 + a2;
    }
    return err;
}

/* Is the staged/current role's threshold met (root: old and new)? Fills report fields. */
fwt_err repo_role_signed_enough(const struct repo *r, const char *role, const json_t *env, json_t *info)
{
    fwt_err err;
    size_t v = 0, th = 0;
    if (!strcmp(role, "root")) {
        json_t *sd = SIGNED(env);
        struct repo_role_keys rk = {json_object_get(sd, "keys"),
                                    json_object_get(json_object_get(sd, "roles"), "root")};
        err = repo_threshold_met("root (new keys)", env, &rk, &v, &th);
        if (info) {
            json_object_set_new(info, "signatures", json_integer((json_int_t)v));
            json_object_set_new(info, "threshold", json_integer((json_int_t)th));
        }
        if (err != FWT_OK && !info) {
            return err;
        }
        char saved[512];
        snprintf(saved, sizeof(saved), "%s", fwt_detail());
        json_t *old = NULL;
        fwt_err e2 = repo_published(r, "root", &old);
        if (e2 == FWT_OK) {
            json_t *osd = SIGNED(old);
            if (repo_version_of(old) + 1 != repo_version_of(env)) {
                e2 = fwt_fail(FWT_E_META, "staged root is version %lld but the published one is %lld",
                              (long long)repo_version_of(env), (long long)repo_version_of(old));
            } else {
                struct repo_role_keys ork = {json_object_get(osd, "keys"),
                                             json_object_get(json_object_get(osd, "roles"), "root")};
                size_t ov = 0, oth = 0;
                e2 = repo_threshold_met("root (keys of the previous root)", env, &ork, &ov, &oth);
                if (info) {
                    json_object_set_new(info, "old_root_signatures", json_integer((json_int_t)ov));
                    json_object_set_new(info, "old_root_threshold", json_integer((json_int_t)oth));
                }
            }
            json_decref(old);
        } else if (e2 == FWT_E_NOT_FOUND) {
            e2 = FWT_OK;
            fwt_detail_clear();
        }
        if (err == FWT_OK) {
            err = e2;
        } else {
            (void)fwt_fail(err, "%s", saved);
        }
        return err;
    }
    json_t *holder = NULL;
    char *hn = NULL;
    struct repo_role_keys rk;
    err = repo_role_keys(r, role, &holder, &hn, &rk);
    if (err == FWT_OK) {
        err = repo_threshold_met(role, env, &rk, &v, &th);
        if (info) {
            json_object_set_new(info, "signatures", json_integer((json_int_t)v));
            json_object_set_new(info, "threshold", json_integer((json_int_t)th));
        }
    }
    json_decref(holder);
    free(hn);
    return err;
}

/* Stage env for role: write staged/ROLE.json (after signing with kr). */
fwt_err repo_stage_and_sign(const struct repo *r, const char *role, json_t *env,
                            const struct repo_keyring *kr, struct repo_txn *txn, json_t *report)
{
    size_t added = 0;
    fwt_err err = repo_sign_role(r, role, env, kr, &added);
    char *p = NULL;
    if (err == FWT_OK) {
        err = repo_staged_path(r, role, &p);
    }
    if (err == FWT_OK) {
        err = repo_txn_write_json(txn, p, env);
    }
    free(p);
    if (err == FWT_OK && report) {
        json_t *info = json_pack("{s:s, s:I, s:I}", "role", role, "version", repo_version_of(env),
                                 "signatures_added", (json_int_t)added);
        if (info) {
            fwt_err e = repo_role_signed_enough(r, role, env, info);
            json_object_set_new(info, "threshold_met", json_boolean(e == FWT_OK));
            fwt_detail_clear();
            json_array_append_new(json_object_get(report, "staged"), info);
        }
    }
    return err;
}

void repo_report_init(json_t *report)
{
    if (!json_object_get(report, "staged")) {
        json_object_set_new(report, "staged", json_array());
    }
}

/* The command that renews role's metadata. */
void repo_renew_hint(const struct repo *r, const char *role, char *out, size_t cap)
{
    if (!strcmp(role, "timestamp")) {
        snprintf(out, cap, "run 'fwtrust repo timestamp %s --key TIMESTAMP_KEY'", r->dir);
    } else if (!strcmp(role, "snapshot")) {
        snprintf(out, cap, "run 'fwtrust repo publish %s --force --key SNAPSHOT_KEY --key TIMESTAMP_KEY'", r->dir);
    } else {
        snprintf(out, cap, "stage a new version with 'fwtrust repo sign %s %s --key KEY', then publish", r->dir,
                 role);
    }
}

fwt_err repo_refuse_pending(const struct repo *r, json_t *report)
{
    enum repo_txn_state pend = REPO_TXN_NONE;
    fwt_err perr = repo_txn_pending(r->dir, &pend);
    if (perr != FWT_OK) {
        return perr;
    }
    if (pend != REPO_TXN_NONE) {
        static const char *const what[4] = {NULL, "prepared but not committed (it will be discarded)",
                                            "committed but not complete (it will be completed)",
                                            "failed and not completely rolled back (it will be rolled back)"};
        json_object_set_new(report, "interrupted", json_string(what[pend]));
        return fwt_fail(FWT_E_STATE, "an interrupted operation is pending in %s/%s: %s by the next command "
                        "that changes the repository, or by 'fwtrust repo recover %s'",
                        r->dir, REPO_TXN_DIR, what[pend], r->dir);
    }
    return FWT_OK;
}
