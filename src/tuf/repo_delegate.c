/*
 * fwtrust repo delegate: a delegated targets role, its keys, threshold and paths. Checks
 * everything first, then writes through one transaction.
 */
#include "repo_cmd.h"

#include <stdlib.h>
#include <string.h>

fwt_err repo_cmd_delegate(struct repo *r, const struct repo_delegate_opts *o, struct repo_keyring *kr,
                          const struct fwt_key_opts *ko, json_t *report)
{
    const char *from = o->from ? o->from : "targets";
    if (!repo_role_name_ok(o->name)) {
        return fwt_fail(FWT_E_ARG, "role name '%s' is not allowed ([A-Za-z0-9][A-Za-z0-9._-]*, at most 64, "
                                   "not a top-level role)", o->name);
    }
    if (tuf_is_top_role(from) && strcmp(from, "targets") != 0) {
        return fwt_fail(FWT_E_ARG, "only targets roles delegate (--from '%s')", from);
    }
    if (o->n_keys == 0 || o->n_paths == 0) {
        return fwt_fail(FWT_E_ARG, "delegate needs at least one --key and one --paths");
    }
    for (size_t i = 0; i < o->n_paths; i++) {
        if (o->paths[i][0] == '\0' || strlen(o->paths[i]) > 200) {
            return fwt_fail(FWT_E_ARG, "path pattern %zu is empty or too long", i + 1);
        }
    }
    json_t *names = NULL;
    fwt_err err = repo_delegated_roles(r, &names);
    if (err != FWT_OK) {
        return err;
    }
    size_t i;
    json_t *nv;
    json_array_foreach(names, i, nv) {
        if (repo_streq(json_string_value(nv), o->name)) {
            json_decref(names);
            return fwt_fail(FWT_E_ARG, "role '%s' is already delegated", o->name);
        }
    }
    json_decref(names);
    err = repo_check_signers(r, kr, kr->n, from, NULL); /* --sign-key: keys of the delegating role */
    if (err != FWT_OK) {
        return err;
    }
    struct repo_key *ks[REPO_MAX_KEYS];
    err = repo_load_keys(kr, o->keys, o->n_keys, ko, ks);
    if (err != FWT_OK) {
        return err;
    }
    size_t distinct = 0;
    for (size_t a = 0; a < o->n_keys; a++) {
        int dup = 0;
        for (size_t b = 0; b < a; b++) {
            dup |= ks[a] == ks[b];
        }
        distinct += !dup;
    }
    size_t th = o->threshold ? o->threshold : 1;
    if (th > distinct) {
        return fwt_fail(FWT_E_ARG, "threshold %zu is above the %zu distinct keys of '%s'", th, distinct, o->name);
    }
    json_t *denv = NULL, *renv = NULL;
    struct repo_txn txn;
    repo_txn_init(&txn, r->dir);
    err = repo_stage_for_change(r, from, &denv);
    if (err != FWT_OK) {
        return err;
    }
    json_t *sd = SIGNED(denv);
    json_t *dl = json_object_get(sd, "delegations");
    if (!dl) {
        dl = json_pack("{s:{}, s:[]}", "keys", "roles");
        json_object_set_new(sd, "delegations", dl);
    }
    json_t *dkeys = json_object_get(dl, "keys");
    json_t *droles = json_object_get(dl, "roles");
    json_t *paths = json_array();
    for (size_t k = 0; k < o->n_paths; k++) {
        json_array_append_new(paths, json_string(o->paths[k]));
    }
    json_t *role = json_pack("{s:s, s:[], s:I, s:o, s:b}", "name", o->name, "keyids", "threshold",
                             (json_int_t)th, "paths", paths, "terminating", o->terminating);
    if (!json_is_object(dkeys) || !json_is_array(droles) || !role) {
        json_decref(role);
        err = fwt_fail(FWT_E_META, "%s: \"delegations\" is malformed", from);
        goto out;
    }
    json_array_append_new(droles, role);
    err = repo_add_role_keys(dkeys, role, ks, o->n_keys);
    if (err != FWT_OK) {
        goto out;
    }
    char exp[21];
    repo_expires_in(r, o->name, exp);
    json_t *rs = json_pack("{s:s, s:s, s:i, s:s, s:{}}", "_type", "targets", "spec_version", REPO_SPEC_VERSION,
                           "version", 1, "expires", exp, "targets");
    renv = rs ? repo_new_env(rs) : NULL;
    if (!renv) {
        err = repo_oom();
        goto out;
    }
    repo_report_init(report);
    /* Stage the delegator first: signing the new role looks its keys up there. */
    err = repo_stage_and_sign(r, from, denv, kr, &txn, NULL);
    if (err == FWT_OK) {
        struct repo_role_keys rk = {dkeys, role};
        size_t added = 0;
        char *p = NULL;
        err = repo_sign_env(renv, &rk, kr, &added);
        if (err == FWT_OK) {
            err = repo_staged_path(r, o->name, &p);
        }
        if (err == FWT_OK) {
            err = repo_txn_write_json(&txn, p, renv);
        }
        free(p);
        if (err == FWT_OK) {
            size_t v = 0;
            if (repo_count_signatures(renv, &rk, &v, NULL) != FWT_OK) {
                v = 0;
                fwt_detail_clear();
            }
            json_array_append_new(json_object_get(report, "staged"),
                                  json_pack("{s:s, s:i, s:I, s:I, s:b}", "role", o->name, "version", 1,
                                            "signatures", (json_int_t)v, "threshold", (json_int_t)th,
                                            "threshold_met", v >= th));
        }
    }
    if (err == FWT_OK) {
        json_t *info = json_pack("{s:s, s:I}", "role", from, "version", repo_version_of(denv));
        fwt_err e = repo_role_signed_enough(r, from, denv, info);
        json_object_set_new(info, "threshold_met", json_boolean(e == FWT_OK));
        fwt_detail_clear();
        json_array_append_new(json_object_get(report, "staged"), info);
        err = repo_txn_commit(&txn);
    }
out:
    repo_txn_free(&txn);
    json_decref(denv);
    json_decref(renv);
    return err;
}
