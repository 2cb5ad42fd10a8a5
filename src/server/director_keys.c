/*
 * The director's root and online keys (docs/server.md "Keys"): loading the
 * newest DIR/director/N.root.json with the targets/snapshot/timestamp keys it
 * names, taking up a rotation made meanwhile (by `director rotate-root`, in this
 * or another process), and the rotation itself (TUF 1.0 section 5.3.4: root
 * N+1 signed by a threshold of root N's keys and of its own).
 *
 * Online keys live in DIR/director/ROLE.key. A rotation writes the new ones as
 * ROLE.key.new, then (N+1).root.json, then renames them into place: whatever
 * moment it is cut at, the loader finds for each role the file whose key the
 * newest root names (ROLE.key, else ROLE.key.new), and refuses to start with
 * none (it would sign metadata the devices refuse).
 *
 * Every device's director metadata is re-signed with the new online keys at its
 * next fetch: the digest of what a device's metadata says (director.c) covers
 * the online key ids, so new keys make new versions.
 */
#include "srv.h"

#include <fwtrust/fwt_director.h>
#include <fwtrust/fwt_keys.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const k_roles[3] = {"targets", "snapshot", "timestamp"};

static char *root_path(const fwt_srv *s, uint64_t v)
{
    char name[64];
    snprintf(name, sizeof(name), "director/%llu.root.json", (unsigned long long)v);
    return srv_path(s->dir, name);
}

static int exists(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0;
}

/* A role's key ids in a root's signed part. */
static json_t *role_keyids(json_t *signed_, const char *role)
{
    return json_object_get(json_object_get(json_object_get(signed_, "roles"), role), "keyids");
}

static int listed(json_t *keyids, const char *keyid)
{
    size_t i;
    json_t *v;
    json_array_foreach(keyids, i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), keyid)) {
            return 1;
        }
    }
    return 0;
}

struct loaded {
    char *root_json;
    size_t root_len;
    uint64_t version;
    struct repo_key dk[3];
    char *dk_spec[3];
};

static void loaded_free(struct loaded *l)
{
    free(l->root_json);
    for (int i = 0; i < 3; i++) {
        repo_key_free(&l->dk[i]);
        free(l->dk_spec[i]);
    }
    memset(l, 0, sizeof(*l));
}

/* The newest root from version `from` on, and the online keys it names. */
static fwt_err load_from(const fwt_srv *s, uint64_t from, struct loaded *l)
{
    memset(l, 0, sizeof(*l));
    uint64_t v = from;
    for (;; v++) {
        char *p = root_path(s, v + 1);
        int more = exists(p);
        free(p);
        if (!more) {
            break;
        }
    }
    char *p = root_path(s, v);
    uint8_t *buf = NULL;
    fwt_err e = p ? fwt_read_file(p, 1 << 20, &buf, &l->root_len) : fwt_fail(FWT_E_NOMEM, "out of memory");
    if (e == FWT_E_NOT_FOUND) {
        e = fwt_fail(FWT_E_NOT_FOUND, "%s: no director root", p);
    }
    free(p);
    if (e != FWT_OK) {
        return e;
    }
    l->root_json = (char *)buf;
    l->version = v;
    json_t *root = json_loadb(l->root_json, l->root_len, JSON_REJECT_DUPLICATES, NULL);
    json_t *sg = json_object_get(root, "signed");
    if (!json_is_object(sg) || json_integer_value(json_object_get(sg, "version")) != (json_int_t)v) {
        e = fwt_fail(FWT_E_STATE, "%s/director/%llu.root.json: not director root version %llu", s->dir,
                     (unsigned long long)v, (unsigned long long)v);
    }
    for (int i = 0; e == FWT_OK && i < 3; i++) {
        json_t *ids = role_keyids(sg, k_roles[i]);
        static const char *const suffix[2] = {".key", ".key.new"};
        for (int k = 0; k < 2 && !l->dk_spec[i] && e == FWT_OK; k++) {
            char name[64];
            snprintf(name, sizeof(name), "director/%s%s", k_roles[i], suffix[k]);
            char *kp = srv_path(s->dir, name);
            struct repo_key key;
            memset(&key, 0, sizeof(key));
            if (!kp) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
            } else if (exists(kp) && (e = repo_key_load(kp, NULL, 1, &key)) == FWT_OK && listed(ids, key.keyid)) {
                l->dk[i] = key;
                l->dk_spec[i] = kp;
                kp = NULL;
            } else {
                repo_key_free(&key);
            }
            free(kp);
        }
        if (e == FWT_OK && !l->dk_spec[i]) {
            e = fwt_fail(FWT_E_KEY, "%s/director/%s.key is not the %s key of director root version %llu (a "
                         "rotation's new keys missing?)", s->dir, k_roles[i], k_roles[i], (unsigned long long)v);
        }
    }
    json_decref(root);
    if (e != FWT_OK) {
        loaded_free(l);
    }
    return e;
}

static void take(fwt_srv *s, struct loaded *l)
{
    free(s->root_json);
    s->root_json = l->root_json;
    s->root_len = l->root_len;
    s->root_version = l->version;
    for (int i = 0; i < 3; i++) {
        repo_key_free(&s->dk[i]);
        free(s->dk_spec[i]);
        s->dk[i] = l->dk[i];
        s->dk_spec[i] = l->dk_spec[i];
    }
    memset(l, 0, sizeof(*l));
}

fwt_err srv_director_load(fwt_srv *s)
{
    struct loaded l;
    fwt_err e = load_from(s, 1, &l);
    if (e == FWT_OK) {
        take(s, &l);
    }
    return e;
}

fwt_err srv_director_reload(fwt_srv *s)
{
    char *p = root_path(s, s->root_version + 1);
    int newer = exists(p);
    free(p);
    if (!newer) {
        return FWT_OK;
    }
    struct loaded l;
    fwt_err e = load_from(s, s->root_version + 1, &l);
    if (e == FWT_OK) {
        take(s, &l);
    }
    return e;
}

fwt_err fwt_srv_director_status(fwt_srv *s, json_t **info)
{
    *info = NULL;
    fwt_err e = srv_director_reload(s);
    if (e != FWT_OK) {
        return e;
    }
    json_t *root = json_loadb(s->root_json, s->root_len, JSON_REJECT_DUPLICATES, NULL);
    json_t *sg = json_object_get(root, "signed");
    json_t *versions = json_array();
    for (uint64_t v = 1; versions && v <= s->root_version; v++) {
        json_array_append_new(versions, json_integer((json_int_t)v));
    }
    *info = json_pack("{s:I, s:O*, s:O*, s:{s:s, s:s, s:s}, s:o*}", "version", (json_int_t)s->root_version,
                      "expires", json_object_get(sg, "expires"), "root_keyids", role_keyids(sg, "root"), "keyids",
                      "targets", s->dk[0].keyid, "snapshot", s->dk[1].keyid, "timestamp", s->dk[2].keyid,
                      "versions", versions);
    json_decref(root);
    return *info ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
}

/* ---- rotation ---- */

fwt_err fwt_srv_director_rotate(fwt_srv *s, const struct fwt_srv_actor *who, const struct fwt_srv_rotate_opts *o,
                                json_t **info)
{
    *info = NULL;
    fwt_err e = srv_need_role(who, FWT_SRV_APPROVER);
    if (e == FWT_OK && o->expires_days > 3650) {
        e = fwt_fail(FWT_E_ARG, "a director root lifetime of %llu days: at most 3650",
                     (unsigned long long)o->expires_days);
    }
    if (e == FWT_OK) {
        e = srv_director_reload(s); /* rotate from the root in force */
    }
    if (e != FWT_OK) {
        return e;
    }
    uint64_t next = s->root_version + 1;
    struct fwt_key_opts ko;
    memset(&ko, 0, sizeof(ko));
    ko.pin_file = o->pin_file;
    char *dflt = srv_path(s->dir, "offline/root.key");
    struct repo_key oldk, newk, online[3];
    memset(&oldk, 0, sizeof(oldk));
    memset(&newk, 0, sizeof(newk));
    memset(online, 0, sizeof(online));
    char *newpath[3] = {NULL, NULL, NULL}, *rp = root_path(s, next), *text = NULL;
    size_t tl = 0;
    json_t *root = json_loadb(s->root_json, s->root_len, JSON_REJECT_DUPLICATES, NULL);
    json_t *sg = json_object_get(root, "signed");
    json_t *rids = role_keyids(sg, "root");
    json_int_t thr = json_integer_value(json_object_get(json_object_get(json_object_get(sg, "roles"), "root"),
                                                        "threshold"));
    const char *spec = o->root_key ? o->root_key : dflt;
    if (!dflt || !rp) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    } else if (!json_is_array(rids) || thr != 1) {
        e = fwt_fail(FWT_E_THRESHOLD, "director root version %llu needs %lld root signatures; rotate-root signs "
                     "with one key of the trusted root", (unsigned long long)s->root_version, (long long)thr);
    } else if (exists(rp)) {
        e = fwt_fail(FWT_E_STATE, "%s exists already: another rotation is under way", rp);
    } else if ((e = repo_key_load(spec, &ko, 1, &oldk)) != FWT_OK) {
        e = fwt_fail(e, "the current root key %s: %s", spec, fwt_detail());
    } else if (!listed(rids, oldk.keyid)) {
        e = fwt_fail(FWT_E_KEY, "%s (key id %s) is not a root key of director root version %llu", spec, oldk.keyid,
                     (unsigned long long)s->root_version);
    }
    if (e == FWT_OK && o->new_root_key && (e = repo_key_load(o->new_root_key, &ko, 1, &newk)) != FWT_OK) {
        e = fwt_fail(e, "the new root key %s: %s", o->new_root_key, fwt_detail());
    }
    const struct repo_key *nroot = o->new_root_key ? &newk : &oldk;
    for (int i = 0; e == FWT_OK && i < 3; i++) {
        const struct repo_key *use = &s->dk[i];
        if (o->rotate_online) {
            char name[64];
            snprintf(name, sizeof(name), "director/%s.key.new", k_roles[i]);
            if (!(newpath[i] = srv_path(s->dir, name))) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
                break;
            }
            (void)unlink(newpath[i]); /* left by a rotation that did not get to its root */
            if ((e = fwt_keygen_file(FWT_KEY_ECDSA_P256, newpath[i], NULL)) == FWT_OK) {
                e = repo_key_load(newpath[i], NULL, 1, &online[i]);
            }
            use = &online[i];
        }
        if (e == FWT_OK && (!strcmp(use->keyid, nroot->keyid) || !strcmp(use->keyid, oldk.keyid))) {
            e = fwt_fail(FWT_E_KEY, "the %s key must not be a root key", k_roles[i]);
        }
    }
    const struct repo_key *dk[3] = {o->rotate_online ? &online[0] : &s->dk[0],
                                    o->rotate_online ? &online[1] : &s->dk[1],
                                    o->rotate_online ? &online[2] : &s->dk[2]};
    if (e == FWT_OK) {
        /* 5.3.4: signed by the trusted root's key and by the new root's own */
        const struct repo_key *signers[2] = {&oldk, &newk};
        size_t ns = o->new_root_key && strcmp(newk.keyid, oldk.keyid) != 0 ? 2 : 1;
        uint64_t days = o->expires_days ? o->expires_days : 365;
        e = fwt_director_root_signed(nroot, dk[0], dk[1], dk[2], next, (time_t)(srv_now() + days * 86400ULL),
                                     signers, ns, &text, &tl);
    }
    char detail[400] = "";
    if (e == FWT_OK) {
        snprintf(detail, sizeof(detail), "root %s targets %s snapshot %s timestamp %s", nroot->keyid, dk[0]->keyid,
                 dk[1]->keyid, dk[2]->keyid);
    }
    /* The audit entry first, then the files, then the commit: a cut leaves an entry for a
     * rotation that did not happen, never a rotation without its entry. */
    int began = 0;
    if (e == FWT_OK && (e = db_begin(s->db)) == FWT_OK) {
        began = 1;
        char subj[64];
        snprintf(subj, sizeof(subj), "director-root:%llu", (unsigned long long)next);
        e = srv_audit(s, who, "director-rotate-root", subj, detail);
    }
    int written = 0;
    if (e == FWT_OK && (e = fwt_write_file_atomic(rp, text, tl, 0644)) == FWT_OK) {
        written = 1;
        e = db_commit(s->db);
        began = 0;
    }
    if (began) {
        db_rollback(s->db);
    }
    if (e != FWT_OK) {
        /* nothing of this rotation stays but (maybe) its audit entry */
        if (written) {
            (void)unlink(rp);
        }
        for (int i = 0; i < 3; i++) {
            if (newpath[i]) {
                (void)unlink(newpath[i]);
            }
        }
    }
    /* Root N+1 is in force: its new online keys move into place (until they have, the
     * loader takes ROLE.key.new, the key this root names). */
    for (int i = 0; e == FWT_OK && o->rotate_online && i < 3; i++) {
        char name[64];
        snprintf(name, sizeof(name), "director/%s.key", k_roles[i]);
        char *kp = srv_path(s->dir, name);
        if (!kp || rename(newpath[i], kp) != 0) {
            e = fwt_fail(FWT_E_IO, "%s: %s (root %llu is written; the server uses the .new key until it is moved)",
                         newpath[i], kp ? strerror(errno) : "out of memory", (unsigned long long)next);
        }
        free(kp);
    }
    if (e == FWT_OK) {
        e = fwt_fsync_parent(rp);
    }
    if (e == FWT_OK) {
        e = srv_director_reload(s);
    }
    if (e == FWT_OK) {
        *info = json_pack("{s:I, s:s, s:s, s:b, s:s, s:s, s:s}", "version", (json_int_t)next, "file", rp,
                          "root_keyid", nroot->keyid, "online_rotated", o->rotate_online, "targets", s->dk[0].keyid,
                          "snapshot", s->dk[1].keyid, "timestamp", s->dk[2].keyid);
    }
    json_decref(root);
    free(text);
    free(rp);
    free(dflt);
    for (int i = 0; i < 3; i++) {
        free(newpath[i]);
        repo_key_free(&online[i]);
    }
    repo_key_free(&oldk);
    repo_key_free(&newk);
    return e;
}
