/*
 * fwtrust repo init: a new repository directory, its settings, keys and the first signed metadata.
 * Checks everything first, then writes through one transaction.
 */
#include "repo_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

fwt_err repo_cmd_init(const char *dir, const struct repo_init_opts *o, const struct fwt_key_opts *ko,
                      json_t *report)
{
    static const char *const roles[4] = {"root", "targets", "snapshot", "timestamp"};
    const char *const *specs[4] = {o->root_keys, o->targets_keys, o->snapshot_keys, o->timestamp_keys};
    const size_t counts[4] = {o->n_root, o->n_targets, o->n_snapshot, o->n_timestamp};

    struct stat st;
    if (stat(dir, &st) == 0) {
        DIR *d = opendir(dir);
        if (!d) {
            return fwt_fail(FWT_E_IO, "%s: %s", dir, strerror(errno));
        }
        struct dirent *de;
        int empty = 1;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                empty = 0;
            }
        }
        closedir(d);
        if (!empty) {
            return fwt_fail(FWT_E_ARG, "%s exists and is not empty: refusing to initialise a repository there", dir);
        }
    }
    for (int i = 0; i < 4; i++) {
        if (counts[i] == 0) {
            return fwt_fail(FWT_E_ARG, "no %s key given (--%s-key)", roles[i], roles[i]);
        }
    }

    struct repo r;
    memset(&r, 0, sizeof(r));
    r.dir = strdup(dir);
    if (!r.dir) {
        return repo_oom();
    }
    r.exp = o->exp;
    r.now = time(NULL);

    struct repo_keyring kr;
    memset(&kr, 0, sizeof(kr));
    struct repo_key *rolekeys[4][REPO_MAX_KEYS];
    json_t *root = NULL, *targets = NULL, *config = NULL;
    struct repo_txn txn;
    repo_txn_init(&txn, dir);
    char *p = NULL;
    fwt_err err = FWT_OK;

    for (int i = 0; i < 4 && err == FWT_OK; i++) {
        err = repo_load_keys(&kr, specs[i], counts[i], ko, rolekeys[i]);
    }
    if (err != FWT_OK) {
        goto out;
    }
    char exp[21];
    repo_expires_in(&r, "root", exp);
    json_t *keys = json_object();
    json_t *rolemap = json_object();
    json_t *rs = json_pack("{s:s, s:s, s:b, s:i, s:s, s:o, s:o}", "_type", "root", "spec_version",
                           REPO_SPEC_VERSION, "consistent_snapshot", 1, "version", 1, "expires", exp,
                           "keys", keys, "roles", rolemap);
    root = rs ? repo_new_env(rs) : NULL;
    if (!root) {
        err = repo_oom();
        goto out;
    }
    for (int i = 0; i < 4 && err == FWT_OK; i++) {
        size_t th = o->thresholds[i] ? o->thresholds[i] : 1;
        /* Distinct keys only: the same key named twice counts once. */
        size_t distinct = 0;
        for (size_t a = 0; a < counts[i]; a++) {
            int dup = 0;
            for (size_t b = 0; b < a; b++) {
                dup |= rolekeys[i][a] == rolekeys[i][b];
            }
            distinct += !dup;
        }
        if (th > distinct) {
            err = fwt_fail(FWT_E_ARG, "%s threshold %zu is above its %zu distinct keys", roles[i], th, distinct);
            break;
        }
        json_t *role = json_pack("{s:[], s:I}", "keyids", "threshold", (json_int_t)th);
        if (!role || json_object_set_new(rolemap, roles[i], role) != 0) {
            err = repo_oom();
            break;
        }
        err = repo_add_role_keys(keys, role, rolekeys[i], counts[i]);
    }
    if (err != FWT_OK) {
        goto out;
    }
    repo_expires_in(&r, "targets", exp);
    json_t *ts = json_pack("{s:s, s:s, s:i, s:s, s:{}}", "_type", "targets", "spec_version",
                           REPO_SPEC_VERSION, "version", 1, "expires", exp, "targets");
    targets = ts ? repo_new_env(ts) : NULL;
    config = json_pack("{s:i, s:{s:i, s:i, s:i, s:i, s:i}}", "fwtrust_repo", 1, "expires", "root",
                       o->exp.days[0], "targets", o->exp.days[1], "snapshot", o->exp.days[2],
                       "timestamp", o->exp.days[3], "delegated", o->exp.days[4]);
    if (!targets || !config) {
        err = repo_oom();
        goto out;
    }
    struct repo_role_keys rk = {keys, json_object_get(rolemap, "root")};
    size_t added = 0;
    err = repo_sign_env(root, &rk, &kr, &added);
    if (err == FWT_OK) {
        rk.role = json_object_get(rolemap, "targets");
        err = repo_sign_env(targets, &rk, &kr, &added);
    }
    if (err != FWT_OK) {
        goto out;
    }
    if (stat(dir, &st) != 0 && repo_fs_mkdir(dir) != 0) {
        err = fwt_fail(FWT_E_IO, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    if ((p = repo_path(&r, "repo.json")) == NULL) {
        err = repo_oom();
        goto out;
    }
    err = repo_txn_write_json(&txn, p, config);
    free(p);
    p = NULL;
    if (err == FWT_OK && (p = repo_path(&r, "staged/root.json")) != NULL) {
        err = repo_txn_write_json(&txn, p, root);
        free(p);
        p = repo_path(&r, "staged/targets.json");
        if (err == FWT_OK && p) {
            err = repo_txn_write_json(&txn, p, targets);
        }
    }
    if (err == FWT_OK) {
        err = repo_txn_commit(&txn);
    }
    if (err != FWT_OK) {
        repo_txn_free(&txn);
        (void)repo_fs_rmdir(dir); /* only succeeds when we left it empty */
        goto out;
    }
    for (int i = 0; i < 4; i++) {
        json_t *ids = json_object_get(json_object_get(rolemap, roles[i]), "keyids");
        json_object_set_new(report, roles[i], json_pack("{s:O, s:O}", "keyids", ids, "threshold",
                                                        json_object_get(json_object_get(rolemap, roles[i]), "threshold")));
    }
    {
        /* What to run next: the signatures still missing (offline keys given as public
         * halves), then publish with the online keys. */
        json_t *next = json_array();
        static const char *const staged_roles[2] = {"root", "targets"};
        json_t *envs[2] = {root, targets};
        for (int i = 0; i < 2; i++) {
            size_t v = 0, th = 0;
            rk.role = json_object_get(rolemap, staged_roles[i]);
            (void)repo_threshold_met(staged_roles[i], envs[i], &rk, &v, &th);
            fwt_detail_clear();
            if (i == 0) {
                json_object_set_new(report, "staged_root_signatures", json_integer((json_int_t)v));
            }
            if (v < th) {
                json_array_append_new(next, json_sprintf("fwtrust repo sign %s %s --key %s_KEY   # %zu more "
                                                         "signature(s) needed", dir, staged_roles[i],
                                                         i == 0 ? "ROOT" : "TARGETS", th - v));
            }
        }
        json_array_append_new(next, json_sprintf("fwtrust repo publish %s --key SNAPSHOT_KEY --key TIMESTAMP_KEY",
                                                 dir));
        json_object_set_new(report, "next", next);
    }
out:
    free(p);
    repo_txn_free(&txn);
    json_decref(root);
    json_decref(targets);
    json_decref(config);
    repo_keyring_free(&kr);
    free(r.dir);
    return err;
}
