/*
 * fwtrust repo sign: more signatures on a staged (or the current) role. Checks everything first,
 * then writes through one transaction.
 */
#include "repo_cmd.h"

#include <stdlib.h>
#include <string.h>

fwt_err repo_cmd_sign(struct repo *r, const char *role, const struct repo_keyring *kr, json_t *report)
{
    if (!strcmp(role, "snapshot") || !strcmp(role, "timestamp")) {
        return fwt_fail(FWT_E_ARG, "%s is signed by 'fwtrust repo publish'/'timestamp', not by sign", role);
    }
    if (!tuf_is_top_role(role) && !repo_role_name_ok(role)) {
        return fwt_fail(FWT_E_ARG, "'%s' is not a role name", role);
    }
    json_t *env = NULL;
    fwt_err err = repo_check_signers(r, kr, kr->n, role, NULL);
    if (err != FWT_OK) {
        return err;
    }
    err = repo_staged(r, role, &env);
    int bumped = 0;
    if (err == FWT_E_NOT_FOUND) {
        err = repo_stage_for_change(r, role, &env); /* a new version, fresh expiry */
        bumped = 1;
    }
    if (err != FWT_OK) {
        return err;
    }
    size_t added = 0;
    err = repo_sign_role(r, role, env, kr, &added);
    if (err == FWT_OK && added == 0) {
        err = fwt_fail(FWT_E_KEY, "none of the given keys can add a signature to %s (not one of its keys, "
                       "public only, or it signed already)", role);
    }
    struct repo_txn txn;
    repo_txn_init(&txn, r->dir);
    char *p = NULL;
    if (err == FWT_OK) {
        err = repo_staged_path(r, role, &p);
    }
    if (err == FWT_OK) {
        err = repo_txn_write_json(&txn, p, env);
    }
    if (err == FWT_OK) {
        err = repo_txn_commit(&txn);
    }
    if (err == FWT_OK) {
        json_t *info = json_pack("{s:s, s:I, s:I, s:b}", "role", role, "version", repo_version_of(env),
                                 "signatures_added", (json_int_t)added, "new_version", bumped);
        fwt_err e = repo_role_signed_enough(r, role, env, info);
        json_object_set_new(info, "threshold_met", json_boolean(e == FWT_OK));
        fwt_detail_clear();
        repo_report_init(report);
        json_array_append_new(json_object_get(report, "staged"), info);
    }
    free(p);
    repo_txn_free(&txn);
    json_decref(env);
    return err;
}
