/*
 * fwtrust repo publish and timestamp: staged metadata becomes the published, versioned metadata
 * with a new snapshot and timestamp. Checks everything first, then writes through one transaction.
 */
#include "repo_cmd.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static fwt_err check_not_expired(const struct repo *r, const char *role, const json_t *env)
{
    time_t t;
    fwt_err err = fwt_tuf_time_parse(json_string_value(json_object_get(SIGNED(env), "expires")), &t);
    if (err == FWT_OK && t <= r->now) {
        char fix[300];
        repo_renew_hint(r, role, fix, sizeof(fix));
        err = fwt_fail(FWT_E_META_EXPIRED, "%s version %lld expired at %s: %s", role, (long long)repo_version_of(env),
                       json_string_value(json_object_get(SIGNED(env), "expires")), fix);
    }
    return err;
}

/* Build, sign and serialise a new timestamp for the snapshot bytes. */
static fwt_err make_timestamp(const struct repo *r, const json_t *root_env, const json_t *old_root,
                              json_int_t snap_version, const char *snap_bytes, size_t snap_len,
                              const struct repo_keyring *kr, char **out, size_t *out_len, json_int_t *version)
{
    json_t *prev = NULL;
    json_int_t v = 1;
    fwt_err err = repo_published(r, "timestamp", &prev);
    if (err == FWT_OK) {
        v = repo_version_of(prev) + 1;
        json_decref(prev);
    } else if (err != FWT_E_NOT_FOUND) {
        return err;
    }
    fwt_detail_clear();
    uint8_t dg[32];
    char hex[65];
    err = fwt_sha256(snap_bytes, snap_len, dg);
    if (err != FWT_OK) {
        return err;
    }
    fwt_hex_encode(dg, 32, hex);
    char exp[21];
    repo_expires_in(r, "timestamp", exp);
    json_t *sd = json_pack("{s:s, s:s, s:I, s:s, s:{s:{s:I, s:I, s:{s:s}}}}", "_type", "timestamp",
                           "spec_version", REPO_SPEC_VERSION, "version", v, "expires", exp, "meta",
                           "snapshot.json", "version", snap_version, "length", (json_int_t)snap_len,
                           "hashes", "sha256", hex);
    json_t *env = sd ? repo_new_env(sd) : NULL;
    if (!env) {
        return repo_oom();
    }
    /* The timestamp keys of the root clients will hold when they read this timestamp. */
    json_t *rsd = SIGNED(root_env);
    struct repo_role_keys rk = {json_object_get(rsd, "keys"),
                                json_object_get(json_object_get(rsd, "roles"), "timestamp")};
    size_t added = 0;
    err = repo_sign_env(env, &rk, kr, &added);
    if (err == FWT_OK && old_root) {
        /* Also by the previous root's timestamp keys given: see publish_order(). */
        json_t *osd = SIGNED(old_root);
        struct repo_role_keys ork = {json_object_get(osd, "keys"),
                                     json_object_get(json_object_get(osd, "roles"), "timestamp")};
        err = repo_sign_env(env, &ork, kr, &added);
    }
    if (err == FWT_OK) {
        err = repo_threshold_met("timestamp", env, &rk, NULL, NULL);
        if (err == FWT_E_META_SIG) {
            err = fwt_fail(FWT_E_META_SIG, "%s: give the timestamp key(s) with --key", fwt_detail());
        }
    }
    if (err == FWT_OK) {
        err = repo_json_dump(env, out, out_len);
        *version = v;
    }
    json_decref(env);
    return err;
}

/* publish --key: every key must sign something publish signs: the snapshot or timestamp
 * (keys of the root being published or of the published one), or a staged role. */
static fwt_err publish_check_signers(const struct repo *r, const struct repo_keyring *kr, const json_t *root_env,
                                     json_t *staged)
{
    size_t cap = 4 + json_object_size(staged) + 1;
    struct repo_role_keys *rks = calloc(cap, sizeof(*rks));
    json_t *keep = json_array(), *old = NULL;
    if (!rks || !keep) {
        free(rks);
        json_decref(keep);
        return repo_oom();
    }
    size_t n = 0;
    static const char *const online[2] = {"snapshot", "timestamp"};
    fwt_err err = repo_published(r, "root", &old);
    if (err == FWT_E_NOT_FOUND) {
        err = FWT_OK;
        fwt_detail_clear();
    }
    for (int i = 0; i < 2 && err == FWT_OK; i++) {
        const json_t *roots[2] = {root_env, old};
        for (int j = 0; j < 2; j++) {
            if (roots[j]) {
                json_t *sd = SIGNED(roots[j]);
                rks[n].keys = json_object_get(sd, "keys");
                rks[n++].role = json_object_get(json_object_get(sd, "roles"), online[i]);
            }
        }
    }
    const char *role;
    json_t *env;
    json_object_foreach(staged, role, env) {
        if (err != FWT_OK) {
            break;
        }
        json_t *holder = NULL;
        char *hn = NULL;
        if (!strcmp(role, "root")) {
            json_t *sd = SIGNED(env);
            rks[n].keys = json_object_get(sd, "keys");
            rks[n++].role = json_object_get(json_object_get(sd, "roles"), "root");
            if (old && n < cap) {
                json_t *osd = SIGNED(old);
                rks[n].keys = json_object_get(osd, "keys");
                rks[n++].role = json_object_get(json_object_get(osd, "roles"), "root");
            }
            continue;
        }
        err = repo_role_keys(r, role, &holder, &hn, &rks[n]);
        free(hn);
        if (err == FWT_OK) {
            n++;
            json_array_append_new(keep, holder);
        }
    }
    if (err == FWT_OK) {
        err = repo_keys_belong(kr, kr->n, "the snapshot or timestamp role, nor of a staged role", rks, n);
    }
    free(rks);
    json_decref(keep);
    json_decref(old);
    return err;
}

/* A version-prefixed file: never overwritten with other bytes; the same bytes (a publish
 * that a crash interrupted, redone) are accepted. env (serialised) or bytes. */
static fwt_err write_versioned(struct repo_txn *txn, const char *path, const json_t *env, const char *bytes,
                               size_t len)
{
    char *buf = NULL;
    fwt_err err = FWT_OK;
    if (env) {
        err = repo_json_dump(env, &buf, &len);
        bytes = buf;
    }
    struct stat st;
    if (err == FWT_OK && lstat(path, &st) == 0) {
        uint8_t *cur = NULL;
        size_t cur_len = 0;
        err = fwt_read_file(path, REPO_MAX_META, &cur, &cur_len);
        if (err == FWT_OK && (cur_len != len || memcmp(cur, bytes, len) != 0)) {
            err = fwt_fail(FWT_E_STATE, "%s already exists with other content: published metadata is never "
                           "overwritten", path);
        }
        free(cur);
    }
    if (err == FWT_OK) {
        err = repo_txn_write(txn, path, bytes, len);
    }
    free(buf);
    return err;
}

/* Does env meet the threshold of role in root_env? (No detail kept.) */
static int meets(const json_t *root_env, const char *role, const json_t *env)
{
    if (!root_env || !env) {
        return 0;
    }
    json_t *sd = SIGNED(root_env);
    struct repo_role_keys rk = {json_object_get(sd, "keys"), json_object_get(json_object_get(sd, "roles"), role)};
    fwt_err err = repo_threshold_met(role, env, &rk, NULL, NULL);
    fwt_detail_clear();
    return err == FWT_OK;
}

/*
 * Publishing a new root: in which order may N+1.root.json and timestamp.json appear?
 * A client first fetches the root chain, then the timestamp, the snapshot and targets,
 * verifying each with the newest root it found. Between the two renames a client sees
 * either (old root, new timestamp -> new snapshot -> new targets) when the timestamp goes
 * first, or (new root, old timestamp -> old snapshot -> old targets) when the root goes
 * first. The order chosen is the one whose in-between state verifies completely; for that,
 * the new timestamp and snapshot are signed by the keys of both roots (publish --key with
 * the previous timestamp/snapshot keys too). When neither order keeps the timestamp and
 * snapshot valid, publish refuses (nothing is written). When only the targets role (its
 * key rotated without the old key signing the new version) fails in between, the order
 * that keeps timestamp and snapshot valid is used and the report warns.
 */
static fwt_err publish_order(const struct repo *r, const json_t *old_root, const json_t *new_root, json_t *staged,
                             const json_t *snapenv, const char *ts_bytes, size_t ts_len, int *root_first,
                             json_t *report)
{
    json_t *ts_new = NULL, *ts_old = NULL, *snap_old = NULL, *tg_old = NULL;
    fwt_err err = repo_meta_parse((const uint8_t *)ts_bytes, ts_len, "timestamp", "new timestamp", &ts_new);
    if (err != FWT_OK) {
        return err;
    }
    /* Nothing published yet but a root: no client can hold an older chain. */
    if (repo_published(r, "timestamp", &ts_old) != FWT_OK || repo_published(r, "snapshot", &snap_old) != FWT_OK) {
        fwt_detail_clear();
        json_decref(ts_new);
        json_decref(ts_old);
        json_decref(snap_old);
        *root_first = 1;
        return FWT_OK;
    }
    if (repo_published(r, "targets", &tg_old) != FWT_OK) {
        fwt_detail_clear();
    }
    json_t *tg_new = json_object_get(staged, "targets");
    if (!tg_new) {
        tg_new = tg_old;
    }
    int new_online = meets(old_root, "timestamp", ts_new) && meets(old_root, "snapshot", snapenv);
    int new_targets = meets(old_root, "targets", tg_new);
    int old_online = meets(new_root, "timestamp", ts_old) && meets(new_root, "snapshot", snap_old);
    int old_targets = meets(new_root, "targets", tg_old);
    if (new_online && new_targets) {
        *root_first = 0;
    } else if (old_online && old_targets) {
        *root_first = 1;
    } else if (new_online || old_online) {
        *root_first = !new_online;
        json_object_set_new(report, "warning",
                            json_string("the targets keys change with this root and the new targets metadata is "
                                        "not also signed by the previous targets key: while publish runs, a "
                                        "client may fail once to verify targets (and succeed when it retries)"));
    } else {
        err = fwt_fail(FWT_E_META_SIG, "root version %lld changes the timestamp or snapshot keys: sign the new "
                       "timestamp and snapshot also with the previous root's timestamp and snapshot keys (give them "
                       "with --key too), so that clients accept them under either root while publish runs",
                       (long long)repo_version_of(new_root));
    }
    json_object_set_new(report, "order", json_string(*root_first ? "root before timestamp" : "timestamp before root"));
    json_decref(ts_new);
    json_decref(ts_old);
    json_decref(snap_old);
    json_decref(tg_old);
    return err;
}

fwt_err repo_cmd_publish(struct repo *r, const struct repo_keyring *kr, int force, json_t *report)
{
    json_t *names = NULL, *staged = json_object(), *snapmeta = json_object();
    json_t *snapenv = NULL, *root_env = NULL, *old_root = NULL;
    char *snap_bytes = NULL, *ts_bytes = NULL, *p = NULL;
    size_t snap_len = 0, ts_len = 0;
    struct repo_txn txn;
    repo_txn_init(&txn, r->dir);
    fwt_err err = FWT_OK;
    if (!staged || !snapmeta) {
        err = repo_oom();
        goto out;
    }
    /* Nothing staged for snapshot/timestamp: publish makes those. */
    static const char *const never[2] = {"snapshot", "timestamp"};
    for (int i = 0; i < 2; i++) {
        json_t *e = NULL;
        if (repo_staged(r, never[i], &e) == FWT_OK) {
            json_decref(e);
            err = fwt_fail(FWT_E_STATE, "staged/%s.json should not exist: publish makes it", never[i]);
            goto out;
        }
        fwt_detail_clear();
    }
    /* 1. root */
    err = repo_published(r, "root", &old_root);
    if (err == FWT_E_NOT_FOUND) {
        err = FWT_OK;
        fwt_detail_clear();
    }
    if (err != FWT_OK) {
        goto out;
    }
    err = repo_staged(r, "root", &root_env);
    int stale_root = 0;
    if (err == FWT_OK && old_root && json_equal(SIGNED(root_env), SIGNED(old_root))) {
        /* The staged root is the published one (left by an interrupted publish of an
         * earlier fwtrust): it is removed, not published again. */
        json_decref(root_env);
        root_env = json_incref(old_root);
        stale_root = 1;
    } else if (err == FWT_OK) {
        err = repo_root_check(SIGNED(root_env));
        if (err == FWT_OK) {
            err = repo_sign_role(r, "root", root_env, kr, NULL);
        }
        if (err == FWT_OK) {
            err = repo_role_signed_enough(r, "root", root_env, NULL);
            if (err == FWT_E_META_SIG) {
                err = fwt_fail(FWT_E_META_SIG, "staged %s; add signatures with 'fwtrust repo sign %s root "
                               "--key ROOT_KEY'", fwt_detail(), r->dir);
            }
        }
        if (err != FWT_OK) {
            goto out;
        }
        json_object_set(staged, "root", root_env);
    } else if (err != FWT_E_NOT_FOUND) {
        goto out;
    } else {
        err = repo_published(r, "root", &root_env);
        if (err == FWT_E_NOT_FOUND) {
            err = fwt_fail(FWT_E_STATE, "no root metadata, staged or published");
        }
        if (err != FWT_OK) {
            goto out;
        }
    }
    err = check_not_expired(r, "root", root_env);
    if (err != FWT_OK) {
        goto out;
    }
    /* 2. targets roles (staged ones signed and checked; published ones re-checked under current keys) */
    err = repo_delegated_roles(r, &names);
    if (err != FWT_OK) {
        goto out;
    }
    json_array_insert_new(names, 0, json_string("targets"));
    size_t i;
    json_t *nv;
    json_array_foreach(names, i, nv) {
        const char *role = json_string_value(nv);
        json_t *env = NULL;
        err = repo_staged(r, role, &env);
        int is_staged = err == FWT_OK;
        if (err == FWT_E_NOT_FOUND) {
            err = repo_published(r, role, &env);
            if (err == FWT_E_NOT_FOUND) {
                err = fwt_fail(FWT_E_STATE, "role '%s' has no metadata", role);
            }
        }
        if (err == FWT_OK) {
            err = repo_delegations_check(SIGNED(env), role);
        }
        if (err == FWT_OK && is_staged) {
            err = repo_sign_role(r, role, env, kr, NULL);
        }
        if (err == FWT_OK) {
            err = repo_role_signed_enough(r, role, env, NULL);
            if (err == FWT_E_META_SIG && !is_staged) {
                err = fwt_fail(FWT_E_META_SIG, "published %s no longer meets its threshold under the "
                               "current keys (%s): re-sign it with 'fwtrust repo sign DIR %s --key K'",
                               role, fwt_detail(), role);
            } else if (err == FWT_E_META_SIG) {
                err = fwt_fail(FWT_E_META_SIG, "staged %s: %s; add signatures with 'fwtrust repo sign DIR %s "
                               "--key K'", role, fwt_detail(), role);
            }
        }
        if (err == FWT_OK) {
            err = check_not_expired(r, role, env);
        }
        if (err == FWT_OK) {
            char key[80];
            snprintf(key, sizeof(key), "%s.json", role);
            json_object_set_new(snapmeta, key, json_pack("{s:I}", "version", repo_version_of(env)));
            if (is_staged) {
                json_object_set(staged, role, env);
            }
        }
        json_decref(env);
        if (err != FWT_OK) {
            goto out;
        }
    }
    err = publish_check_signers(r, kr, root_env, staged);
    if (err != FWT_OK) {
        goto out;
    }
    if (json_object_size(staged) == 0 && !force && !stale_root) {
        err = fwt_fail(FWT_E_NO_UPDATE, "nothing is staged (use --force for a new snapshot, or "
                       "'fwtrust repo timestamp' to refresh only the timestamp)");
        goto out;
    }
    /* 3. snapshot */
    json_t *prev = NULL;
    json_int_t sv = 1;
    err = repo_published(r, "snapshot", &prev);
    if (err == FWT_OK) {
        sv = repo_version_of(prev) + 1;
        json_decref(prev);
    } else if (err != FWT_E_NOT_FOUND) {
        goto out;
    }
    fwt_detail_clear();
    char exp[21];
    repo_expires_in(r, "snapshot", exp);
    json_t *ssd = json_pack("{s:s, s:s, s:I, s:s, s:O}", "_type", "snapshot", "spec_version", REPO_SPEC_VERSION,
                            "version", sv, "expires", exp, "meta", snapmeta);
    snapenv = ssd ? repo_new_env(ssd) : NULL;
    if (!snapenv) {
        err = repo_oom();
        goto out;
    }
    {
        /* The snapshot keys of the root being published. */
        json_t *rsd = SIGNED(root_env);
        struct repo_role_keys rk = {json_object_get(rsd, "keys"),
                                    json_object_get(json_object_get(rsd, "roles"), "snapshot")};
        size_t added = 0;
        err = repo_sign_env(snapenv, &rk, kr, &added);
        if (err == FWT_OK && old_root && json_object_get(staged, "root")) {
            /* Also by the previous root's snapshot keys given: see publish_order(). */
            json_t *osd = SIGNED(old_root);
            struct repo_role_keys ork = {json_object_get(osd, "keys"),
                                         json_object_get(json_object_get(osd, "roles"), "snapshot")};
            err = repo_sign_env(snapenv, &ork, kr, &added);
        }
        if (err == FWT_OK) {
            err = repo_threshold_met("snapshot", snapenv, &rk, NULL, NULL);
            if (err == FWT_E_META_SIG) {
                err = fwt_fail(FWT_E_META_SIG, "%s: give the snapshot key(s) with --key", fwt_detail());
            }
        }
    }
    if (err == FWT_OK) {
        err = repo_json_dump(snapenv, &snap_bytes, &snap_len);
    }
    json_int_t tv = 0;
    if (err == FWT_OK) {
        err = make_timestamp(r, root_env, json_object_get(staged, "root") ? old_root : NULL, sv, snap_bytes,
                             snap_len, kr, &ts_bytes, &ts_len, &tv);
    }
    int root_first = 0;
    if (err == FWT_OK && old_root && json_object_get(staged, "root")) {
        err = publish_order(r, old_root, root_env, staged, snapenv, ts_bytes, ts_len, &root_first, report);
    }
    if (err != FWT_OK) {
        goto out;
    }
    /* 4. write, in the order publish_order() chose: the roles' versioned files and the
     * snapshot (no client reads them before a timestamp names them), then root and
     * timestamp.json in the safe order; then clear staged/. */
    const char *role;
    json_t *env;
    json_object_foreach(staged, role, env) {
        if (strcmp(role, "root") != 0) {
            p = repo_path(r, "metadata/%lld.%s.json", (long long)repo_version_of(env), role);
            err = p ? write_versioned(&txn, p, env, NULL, 0) : repo_oom();
            free(p);
            p = NULL;
            if (err != FWT_OK) {
                goto out;
            }
        }
    }
    p = repo_path(r, "metadata/%lld.snapshot.json", (long long)sv);
    err = p ? write_versioned(&txn, p, NULL, snap_bytes, snap_len) : repo_oom();
    free(p);
    p = NULL;
    env = json_object_get(staged, "root");
    for (int step = 0; step < 2 && err == FWT_OK; step++) {
        if ((step == 0) == (root_first != 0) && env) {
            p = repo_path(r, "metadata/%lld.root.json", (long long)repo_version_of(env));
            err = p ? write_versioned(&txn, p, env, NULL, 0) : repo_oom();
            free(p);
            p = repo_path(r, "metadata/root.json");
            if (err == FWT_OK) {
                err = p ? repo_txn_write_json(&txn, p, env) : repo_oom();
            }
        } else if ((step == 0) != (root_first != 0)) {
            p = repo_path(r, "metadata/timestamp.json");
            err = p ? repo_txn_write(&txn, p, ts_bytes, ts_len) : repo_oom();
        }
        free(p);
        p = NULL;
    }
    if (err == FWT_OK && stale_root) {
        err = repo_staged_path(r, "root", &p);
        if (err == FWT_OK) {
            err = repo_txn_delete(&txn, p);
        }
        free(p);
        p = NULL;
    }
    json_object_foreach(staged, role, env) {
        if (err == FWT_OK) {
            err = repo_staged_path(r, role, &p);
            if (err == FWT_OK) {
                err = repo_txn_delete(&txn, p);
            }
            free(p);
            p = NULL;
        }
    }
    if (err == FWT_OK) {
        err = repo_txn_commit(&txn);
    }
    if (err == FWT_OK) {
        json_t *pub = json_object();
        json_object_foreach(staged, role, env) {
            json_object_set_new(pub, role, json_integer(repo_version_of(env)));
        }
        json_object_set_new(pub, "snapshot", json_integer(sv));
        json_object_set_new(pub, "timestamp", json_integer(tv));
        json_object_set_new(report, "published", pub);
    }
out:
    free(p);
    repo_txn_free(&txn);
    json_decref(names);
    json_decref(staged);
    json_decref(snapmeta);
    json_decref(snapenv);
    json_decref(root_env);
    json_decref(old_root);
    free(snap_bytes);
    free(ts_bytes);
    return err;
}

fwt_err repo_cmd_timestamp(struct repo *r, const struct repo_keyring *kr, json_t *report)
{
    json_t *snap = NULL;
    fwt_err err = repo_published(r, "snapshot", &snap);
    if (err == FWT_E_NOT_FOUND) {
        return fwt_fail(FWT_E_STATE, "nothing is published yet: run 'fwtrust repo publish' first");
    }
    if (err != FWT_OK) {
        return err;
    }
    err = check_not_expired(r, "snapshot", snap);
    if (err == FWT_E_META_EXPIRED) {
        err = fwt_fail(FWT_E_META_EXPIRED, "%s; run 'fwtrust repo publish --force' for a new snapshot",
                       fwt_detail());
    }
    json_int_t sv = repo_version_of(snap);
    json_decref(snap);
    if (err != FWT_OK) {
        return err;
    }
    /* The exact published snapshot bytes (hash and length go into the timestamp). */
    char *p = repo_path(r, "metadata/%lld.snapshot.json", (long long)sv);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (!p) {
        return repo_oom();
    }
    err = fwt_read_file(p, REPO_MAX_META, &bytes, &len);
    free(p);
    char *ts = NULL;
    size_t ts_len = 0;
    json_int_t tv = 0;
    /* Signed for the published root (a staged root is not trusted by clients yet). */
    json_t *root = NULL;
    if (err == FWT_OK) {
        err = repo_published(r, "root", &root);
        if (err == FWT_E_NOT_FOUND) {
            err = fwt_fail(FWT_E_STATE, "metadata/root.json is missing");
        }
    }
    if (err == FWT_OK) {
        json_t *rsd = SIGNED(root);
        struct repo_role_keys trk = {json_object_get(rsd, "keys"),
                                     json_object_get(json_object_get(rsd, "roles"), "timestamp")};
        err = repo_keys_belong(kr, kr->n, "role 'timestamp' of the published root", &trk, 1);
    }
    if (err == FWT_OK) {
        err = make_timestamp(r, root, NULL, sv, (const char *)bytes, len, kr, &ts, &ts_len, &tv);
    }
    json_decref(root);
    free(bytes);
    struct repo_txn txn;
    repo_txn_init(&txn, r->dir);
    if (err == FWT_OK) {
        p = repo_path(r, "metadata/timestamp.json");
        err = p ? repo_txn_write(&txn, p, ts, ts_len) : repo_oom();
        free(p);
    }
    if (err == FWT_OK) {
        err = repo_txn_commit(&txn);
    }
    if (err == FWT_OK) {
        json_object_set_new(report, "published", json_pack("{s:I}", "timestamp", tv));
    }
    repo_txn_free(&txn);
    free(ts);
    return err;
}
