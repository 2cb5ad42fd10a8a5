/*
 * fwtrust repo rotate-key and revoke-key: a role's keys change in its delegator. Checks everything
 * first, then writes through one transaction.
 */
#include "repo_cmd.h"

#include <stdlib.h>
#include <string.h>

/* Find a key by spec (already in kr) or by key id (64 hex). */
static fwt_err resolve_keyid(struct repo_keyring *kr, const char *spec, const struct fwt_key_opts *ko,
                             char keyid[REPO_KEYID_LEN + 1])
{
    size_t n = strlen(spec);
    int hex = n == REPO_KEYID_LEN;
    for (size_t i = 0; i < n && hex; i++) {
        hex = (spec[i] >= '0' && spec[i] <= '9') || (spec[i] >= 'a' && spec[i] <= 'f');
    }
    if (hex) {
        memcpy(keyid, spec, REPO_KEYID_LEN + 1);
        return FWT_OK;
    }
    struct repo_key *k = NULL;
    fwt_err err = repo_keyring_add(kr, spec, ko, 0, &k);
    if (err == FWT_OK) {
        memcpy(keyid, k->keyid, REPO_KEYID_LEN + 1);
    }
    return err;
}

static int keyid_used(json_t *roles_obj_or_arr, const char *keyid)
{
    json_t *role;
    if (json_is_object(roles_obj_or_arr)) {
        const char *k;
        json_object_foreach(roles_obj_or_arr, k, role) {
            size_t i;
            json_t *v;
            json_array_foreach(json_object_get(role, "keyids"), i, v) {
                if (repo_streq(json_string_value(v), keyid)) {
                    return 1;
                }
            }
        }
    } else {
        size_t j;
        json_array_foreach(roles_obj_or_arr, j, role) {
            size_t i;
            json_t *v;
            json_array_foreach(json_object_get(role, "keyids"), i, v) {
                if (repo_streq(json_string_value(v), keyid)) {
                    return 1;
                }
            }
        }
    }
    return 0;
}

fwt_err repo_cmd_rotate(struct repo *r, const struct repo_rotate_opts *o, struct repo_keyring *kr,
                        const struct fwt_key_opts *ko, json_t *report)
{
    const char *role = o->role;
    if (o->n_new == 0 && o->n_old == 0) {
        return fwt_fail(FWT_E_ARG, "nothing to do: give --new-key and/or --old-key");
    }
    int top = tuf_is_top_role(role);
    const size_t n_sign = kr->n; /* --sign-key: the holder's keys, or a new key of the role */
    json_t *holder = NULL, *henv = NULL, *renv = NULL;
    char *hn = NULL;
    struct repo_role_keys rk;
    struct repo_txn txn;
    repo_txn_init(&txn, r->dir);
    fwt_err err = repo_role_keys(r, role, &holder, &hn, &rk);
    if (err != FWT_OK) {
        return err;
    }
    json_decref(holder);
    holder = NULL;
    err = repo_stage_for_change(r, hn, &henv);
    if (err != FWT_OK) {
        goto out;
    }
    /* Sign the changed holder with what was there before too (root: old keys sign the new root). */
    json_t *hsd = SIGNED(henv);
    json_t *keys, *roleobj, *roleset;
    if (top) {
        keys = json_object_get(hsd, "keys");
        roleset = json_object_get(hsd, "roles");
        roleobj = json_object_get(roleset, role);
    } else {
        json_t *dl = json_object_get(hsd, "delegations");
        keys = json_object_get(dl, "keys");
        roleset = json_object_get(dl, "roles");
        roleobj = NULL;
        size_t i;
        json_t *d;
        json_array_foreach(roleset, i, d) {
            if (repo_streq(json_string_value(json_object_get(d, "name")), role)) {
                roleobj = d;
            }
        }
    }
    json_t *ids = json_object_get(roleobj, "keyids");
    if (!json_is_object(keys) || !json_is_array(ids)) {
        err = fwt_fail(FWT_E_META, "%s: role '%s' is malformed", hn, role);
        goto out;
    }
    json_t *removed = json_array();
    for (size_t i = 0; i < o->n_old && err == FWT_OK; i++) {
        char kid[REPO_KEYID_LEN + 1];
        err = resolve_keyid(kr, o->old_keys[i], ko, kid);
        if (err != FWT_OK) {
            break;
        }
        size_t idx = (size_t)-1, j;
        json_t *v;
        json_array_foreach(ids, j, v) {
            if (repo_streq(json_string_value(v), kid)) {
                idx = j;
            }
        }
        if (idx == (size_t)-1) {
            err = fwt_fail(FWT_E_NOT_FOUND, "key %.16s... (%s) is not a key of role '%s'", kid, o->old_keys[i], role);
            break;
        }
        json_array_remove(ids, idx);
        json_array_append_new(removed, json_string(kid));
    }
    struct repo_key *nks[REPO_MAX_KEYS];
    if (err == FWT_OK) {
        err = repo_load_keys(kr, o->new_keys, o->n_new, ko, nks);
    }
    if (err == FWT_OK) {
        err = repo_add_role_keys(keys, roleobj, nks, o->n_new);
    }
    if (err == FWT_OK && o->threshold) {
        json_object_set_new(roleobj, "threshold", json_integer((json_int_t)o->threshold));
    }
    size_t th = 0;
    if (err == FWT_OK) {
        size_t n = json_array_size(ids);
        th = (size_t)json_integer_value(json_object_get(roleobj, "threshold"));
        if (n == 0) {
            err = fwt_fail(FWT_E_ARG, "role '%s' would have no keys left", role);
        } else if (th < 1 || th > n) {
            err = fwt_fail(FWT_E_ARG, "role '%s' would have %zu key(s) but threshold %zu (use --threshold)",
                           role, n, th);
        }
    }
    /* Drop keys no role uses any more. */
    if (err == FWT_OK) {
        size_t j;
        json_t *v;
        json_array_foreach(removed, j, v) {
            if (!keyid_used(roleset, json_string_value(v))) {
                json_object_del(keys, json_string_value(v));
            }
        }
    }
    json_decref(removed);
    if (err == FWT_OK) {
        struct repo_role_keys nrk = {keys, roleobj};
        err = repo_check_signers(r, kr, n_sign, hn, &nrk);
    }
    if (err != FWT_OK) {
        goto out;
    }
    repo_report_init(report);
    err = repo_stage_and_sign(r, hn, henv, kr, &txn, report);
    if (err != FWT_OK) {
        goto out;
    }
    /* The role's own metadata must be signed by its new keys: stage a new version
     * (snapshot and timestamp are made by publish anyway). */
    if (strcmp(role, "root") != 0 && strcmp(role, "snapshot") != 0 && strcmp(role, "timestamp") != 0) {
        /* Signed by the role's keys as the changed holder lists them; one transaction with
         * the holder (a crash between the two would leave the role unsigned by its keys). */
        struct repo_role_keys nrk = {keys, roleobj};
        size_t added = 0, v = 0, rth = 0;
        char *p = NULL;
        err = repo_stage_for_change(r, role, &renv);
        if (err == FWT_OK) {
            err = repo_delegations_check(SIGNED(renv), role);
        }
        if (err == FWT_OK) {
            err = repo_sign_env(renv, &nrk, kr, &added);
        }
        if (err == FWT_OK) {
            err = repo_staged_path(r, role, &p);
        }
        if (err == FWT_OK) {
            err = repo_txn_write_json(&txn, p, renv);
        }
        free(p);
        if (err != FWT_OK) {
            goto out;
        }
        fwt_err e = repo_threshold_met(role, renv, &nrk, &v, &rth);
        fwt_detail_clear();
        json_array_append_new(json_object_get(report, "staged"),
                              json_pack("{s:s, s:I, s:I, s:I, s:I, s:b}", "role", role, "version", repo_version_of(renv),
                                        "signatures_added", (json_int_t)added, "signatures", (json_int_t)v,
                                        "threshold", (json_int_t)rth, "threshold_met", e == FWT_OK));
    }
    err = repo_txn_commit(&txn);
out:
    repo_txn_free(&txn);
    json_decref(henv);
    json_decref(renv);
    free(hn);
    return err;
}
