/*
 * fwtrust repo: the commands (init, add-target, remove-target, delegate,
 * publish, timestamp, rotate/revoke-key, sign, status). Each checks
 * everything first and then writes through one transaction.
 */
#include "repo.h"
#include "repo_encoded.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIGNED(env) json_object_get((env), "signed")

static fwt_err oom(void)
{
    return fwt_fail(FWT_E_NOMEM, "out of memory");
}

static json_int_t version_of(const json_t *env)
{
    return json_integer_value(json_object_get(SIGNED(env), "version"));
}

static void expires_in(const struct repo *r, const char *role, char out[21])
{
    repo_time_format(r->now + (time_t)repo_expiry_days(r, role) * 86400, out);
}

static json_t *new_env(json_t *signed_obj)
{
    return json_pack("{s:[], s:o}", "signatures", "signed", signed_obj);
}

/* Threshold state of env under rk: FWT_OK when met, FWT_E_META_SIG naming what is missing. */
static fwt_err threshold_met(const char *what, const json_t *env, const struct repo_role_keys *rk,
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
static fwt_err add_role_keys(json_t *keys, json_t *role, struct repo_key *const *ks, size_t n)
{
    json_t *ids = json_object_get(role, "keyids");
    for (size_t i = 0; i < n; i++) {
        if (json_object_set(keys, ks[i]->keyid, ks[i]->tuf) != 0) {
            return oom();
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
            return oom();
        }
    }
    return FWT_OK;
}

static fwt_err load_keys(struct repo_keyring *kr, const char *const *specs, size_t n,
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

/* ---- init ---- */

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
        return oom();
    }
    r.exp = o->exp;
    r.now = time(NULL);

    struct repo_keyring kr;
    memset(&kr, 0, sizeof(kr));
    struct repo_key *rolekeys[4][REPO_MAX_KEYS];
    json_t *root = NULL, *targets = NULL, *config = NULL;
    struct repo_txn txn;
    memset(&txn, 0, sizeof(txn));
    char *p = NULL;
    fwt_err err = FWT_OK;

    for (int i = 0; i < 4 && err == FWT_OK; i++) {
        err = load_keys(&kr, specs[i], counts[i], ko, rolekeys[i]);
    }
    if (err != FWT_OK) {
        goto out;
    }
    char exp[21];
    expires_in(&r, "root", exp);
    json_t *keys = json_object();
    json_t *rolemap = json_object();
    json_t *rs = json_pack("{s:s, s:s, s:b, s:i, s:s, s:o, s:o}", "_type", "root", "spec_version",
                           REPO_SPEC_VERSION, "consistent_snapshot", 1, "version", 1, "expires", exp,
                           "keys", keys, "roles", rolemap);
    root = rs ? new_env(rs) : NULL;
    if (!root) {
        err = oom();
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
            err = oom();
            break;
        }
        err = add_role_keys(keys, role, rolekeys[i], counts[i]);
    }
    if (err != FWT_OK) {
        goto out;
    }
    expires_in(&r, "targets", exp);
    json_t *ts = json_pack("{s:s, s:s, s:i, s:s, s:{}}", "_type", "targets", "spec_version",
                           REPO_SPEC_VERSION, "version", 1, "expires", exp, "targets");
    targets = ts ? new_env(ts) : NULL;
    config = json_pack("{s:i, s:{s:i, s:i, s:i, s:i, s:i}}", "fwtrust_repo", 1, "expires", "root",
                       o->exp.days[0], "targets", o->exp.days[1], "snapshot", o->exp.days[2],
                       "timestamp", o->exp.days[3], "delegated", o->exp.days[4]);
    if (!targets || !config) {
        err = oom();
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
    if (stat(dir, &st) != 0 && mkdir(dir, 0755) != 0) {
        err = fwt_fail(FWT_E_IO, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    if ((p = repo_path(&r, "repo.json")) == NULL) {
        err = oom();
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
        (void)rmdir(dir); /* only succeeds when we left it empty */
        goto out;
    }
    for (int i = 0; i < 4; i++) {
        json_t *ids = json_object_get(json_object_get(rolemap, roles[i]), "keyids");
        json_object_set_new(report, roles[i], json_pack("{s:O, s:O}", "keyids", ids, "threshold",
                                                        json_object_get(json_object_get(rolemap, roles[i]), "threshold")));
    }
    {
        size_t v = 0, th = 0;
        rk.role = json_object_get(rolemap, "root");
        (void)threshold_met("root", root, &rk, &v, &th);
        fwt_detail_clear();
        json_object_set_new(report, "staged_root_signatures", json_integer((json_int_t)v));
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

/* ---- helpers for staging ---- */

static fwt_err staged_path(const struct repo *r, const char *role, char **p)
{
    *p = repo_path(r, "staged/%s.json", role);
    return *p ? FWT_OK : oom();
}

/* Sign env (role) with every suitable key of kr; for root also with the published root's keys.
 * Nothing malformed is ever signed: the role's structure is checked first. */
static fwt_err sign_role(const struct repo *r, const char *role, json_t *env, const struct repo_keyring *kr,
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
static fwt_err role_signed_enough(const struct repo *r, const char *role, const json_t *env, json_t *info)
{
    fwt_err err;
    size_t v = 0, th = 0;
    if (!strcmp(role, "root")) {
        json_t *sd = SIGNED(env);
        struct repo_role_keys rk = {json_object_get(sd, "keys"),
                                    json_object_get(json_object_get(sd, "roles"), "root")};
        err = threshold_met("root (new keys)", env, &rk, &v, &th);
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
            if (version_of(old) + 1 != version_of(env)) {
                e2 = fwt_fail(FWT_E_META, "staged root is version %lld but the published one is %lld",
                              (long long)version_of(env), (long long)version_of(old));
            } else {
                struct repo_role_keys ork = {json_object_get(osd, "keys"),
                                             json_object_get(json_object_get(osd, "roles"), "root")};
                size_t ov = 0, oth = 0;
                e2 = threshold_met("root (keys of the previous root)", env, &ork, &ov, &oth);
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
        err = threshold_met(role, env, &rk, &v, &th);
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
static fwt_err stage_and_sign(const struct repo *r, const char *role, json_t *env,
                              const struct repo_keyring *kr, struct repo_txn *txn, json_t *report)
{
    size_t added = 0;
    fwt_err err = sign_role(r, role, env, kr, &added);
    char *p = NULL;
    if (err == FWT_OK) {
        err = staged_path(r, role, &p);
    }
    if (err == FWT_OK) {
        err = repo_txn_write_json(txn, p, env);
    }
    free(p);
    if (err == FWT_OK && report) {
        json_t *info = json_pack("{s:s, s:I, s:I}", "role", role, "version", version_of(env),
                                 "signatures_added", (json_int_t)added);
        if (info) {
            fwt_err e = role_signed_enough(r, role, env, info);
            json_object_set_new(info, "threshold_met", json_boolean(e == FWT_OK));
            fwt_detail_clear();
            json_array_append_new(json_object_get(report, "staged"), info);
        }
    }
    return err;
}

static void report_init(json_t *report)
{
    if (!json_object_get(report, "staged")) {
        json_object_set_new(report, "staged", json_array());
    }
}

/* ---- add-target / remove-target ---- */

static fwt_err check_target_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200) {
        return fwt_fail(FWT_E_ARG, "target name must be 1..200 characters");
    }
    if (name[0] == '/' || name[n - 1] == '/') {
        return fwt_fail(FWT_E_ARG, "target name '%s' must not start or end with '/'", name);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '%') {
            return fwt_fail(FWT_E_ARG, "target name has a character that is not allowed (0x%02x)", c);
        }
    }
    const char *s = name;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t cl = e ? (size_t)(e - s) : strlen(s);
        if (cl == 0 || (cl == 1 && s[0] == '.') || (cl == 2 && s[0] == '.' && s[1] == '.')) {
            return fwt_fail(FWT_E_ARG, "target name '%s' has an empty, '.' or '..' component", name);
        }
        if (!e && cl > 180) {
            return fwt_fail(FWT_E_ARG, "target file name too long (%zu > 180)", cl);
        }
        s = e ? e + 1 : s + cl;
    }
    return FWT_OK;
}

static int paths_match(const json_t *delegation, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(delegation, "paths"), i, p) {
        const char *pat = json_string_value(p);
        if (pat && fnmatch(pat, name, FNM_PATHNAME) == 0) {
            return 1;
        }
    }
    return 0;
}

/* mkdir -p below base for the directory part of rel; remember created dirs. */
static fwt_err mkdirs(const char *path, json_t *made)
{
    char *tmp = strdup(path);
    if (!tmp) {
        return oom();
    }
    fwt_err err = FWT_OK;
    for (char *s = tmp + 1; *s && err == FWT_OK; s++) {
        if (*s != '/') {
            continue;
        }
        *s = '\0';
        struct stat st;
        if (stat(tmp, &st) != 0) {
            if (mkdir(tmp, 0755) != 0) {
                err = fwt_fail(FWT_E_IO, "cannot create %s: %s", tmp, strerror(errno));
            } else if (json_array_append_new(made, json_string(tmp)) != 0) {
                err = oom();
            }
        } else if (!S_ISDIR(st.st_mode)) {
            err = fwt_fail(FWT_E_IO, "%s is not a directory", tmp);
        }
        *s = '/';
    }
    free(tmp);
    return err;
}

/* Copy src into the targets/ tree as HASH.base; sha256 hex out; *created when new. */
static fwt_err copy_target(const struct repo *r, const struct repo_target_opts *o, const char *src,
                           const char *name, char sha[65], uint64_t *length, char **dest_out, int *created,
                           json_t *made)
{
    fwt_err err = FWT_OK;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        return fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "%s: %s", src, strerror(errno));
    }
    struct stat st;
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return fwt_fail(FWT_E_ARG, "%s is not a regular file", src);
    }
    char *tmpl = repo_path(r, "targets/.add-target.XXXXXX");
    if (!tmpl) {
        close(in);
        return oom();
    }
    err = mkdirs(tmpl, made);
    int out = err == FWT_OK ? mkstemp(tmpl) : -1;
    if (err == FWT_OK && out < 0) {
        err = fwt_fail(FWT_E_IO, "cannot create a file in %s/targets: %s", r->dir, strerror(errno));
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (err == FWT_OK && (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)) {
        err = fwt_fail(FWT_E_CRYPTO, "SHA-256 unavailable");
    }
    uint8_t buf[65536];
    uint64_t total = 0;
    while (err == FWT_OK) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = fwt_fail(FWT_E_IO, "%s: %s", src, strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
            err = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
            break;
        }
        for (ssize_t off = 0; off < n && err == FWT_OK;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                err = fwt_fail(FWT_E_IO, "writing %s: %s", tmpl, strerror(errno));
            } else {
                off += w;
            }
        }
        total += (uint64_t)n;
        if (o->progress) {
            o->progress(o->progress_ctx, total, (uint64_t)st.st_size);
        }
    }
    close(in);
    uint8_t dg[32];
    unsigned dl = 0;
    if (err == FWT_OK && (EVP_DigestFinal_ex(md, dg, &dl) != 1 || dl != 32)) {
        err = fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    EVP_MD_CTX_free(md);
    if (out >= 0 && err == FWT_OK && fsync(out) != 0) {
        err = fwt_fail(FWT_E_IO, "fsync %s: %s", tmpl, strerror(errno));
    }
    if (out >= 0) {
        close(out);
    }
    char *dest = NULL;
    if (err == FWT_OK) {
        fwt_hex_encode(dg, 32, sha);
        const char *slash = strrchr(name, '/');
        if (slash) {
            dest = repo_path(r, "targets/%.*s/%s.%s", (int)(slash - name), name, sha, slash + 1);
        } else {
            dest = repo_path(r, "targets/%s.%s", sha, name);
        }
        if (!dest) {
            err = oom();
        }
    }
    if (err == FWT_OK) {
        err = mkdirs(dest, made);
    }
    *created = 0;
    if (err == FWT_OK) {
        struct stat ds;
        if (stat(dest, &ds) == 0) {
            (void)unlink(tmpl); /* same content already published under this name */
        } else if (rename(tmpl, dest) != 0) {
            err = fwt_fail(FWT_E_IO, "rename to %s: %s", dest, strerror(errno));
        } else {
            *created = 1;
            if (chmod(dest, 0644) != 0 || fwt_fsync_parent(dest) != FWT_OK) {
                err = fwt_fail(FWT_E_IO, "%s: cannot make it readable and durable", dest);
            }
        }
    }
    if (err != FWT_OK) {
        (void)unlink(tmpl);
        if (*created) {
            (void)unlink(dest);
            *created = 0;
        }
        free(dest);
        dest = NULL;
    }
    free(tmpl);
    *length = total;
    *dest_out = dest;
    return err;
}

static fwt_err image_facts(const char *path, const struct repo_target_opts *o, const struct fwt_key_opts *ko,
                           json_t **facts)
{
    *facts = NULL;
    struct fwt_file_io fio;
    fwt_err err = fwt_file_io_open(&fio, path);
    if (err != FWT_OK) {
        return err;
    }
    uint8_t magic[4];
    if (fio.io.size < FWT_IMAGE_HEADER_SIZE || fio.io.read(fio.io.ctx, 0, magic, 4) != FWT_OK ||
        (uint32_t)(magic[0] | magic[1] << 8 | magic[2] << 16 | (uint32_t)magic[3] << 24) != FWT_IMAGE_MAGIC) {
        fwt_file_io_close(&fio);
        fwt_detail_clear();
        /* An encoded image (`fwtrust delta`): facts from its header (docs/updates.md). */
        err = repo_encoded_facts(path, facts);
        if (err == FWT_OK && o->n_verify > 0) {
            json_decref(*facts);
            *facts = NULL;
            return fwt_fail(FWT_E_ARG, "%s is an encoded image: verify it with `fwtrust delta --verify-key` "
                            "when making it, and add it without --verify-key", path);
        }
        if (err != FWT_E_NOT_FOUND) {
            return err;
        }
        fwt_detail_clear();
        if (o->n_verify > 0) {
            return fwt_fail(FWT_E_MALFORMED, "%s is not an fwtrust image, but --verify-key was given", path);
        }
        return FWT_OK; /* not an image: a plain target */
    }
    static uint8_t work[16384];
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    err = fwt_image_parse(&fio.io, work, sizeof(work), &info);
    fwt_file_io_close(&fio);
    if (err != FWT_OK) {
        if (fwt_detail()[0] == '\0') {
            (void)fwt_fail(err, "%s looks like an fwtrust image but does not parse", path);
        }
        return err;
    }
    json_t *signers = NULL;
    if (o->n_verify > 0) {
        struct fwt_trusted_key tk[REPO_MAX_KEYS];
        uint8_t enc[REPO_MAX_KEYS][1024];
        memset(tk, 0, sizeof(tk));
        for (size_t i = 0; i < o->n_verify && err == FWT_OK; i++) {
            fwt_pubkey *pub = NULL;
            err = fwt_pubkey_load(o->verify_keys[i], ko, &pub);
            size_t len = sizeof(enc[i]);
            if (err == FWT_OK) {
                err = fwt_pubkey_mcuboot(pub, enc[i], &len);
                tk[i].type = fwt_pubkey_type(pub);
                tk[i].key = enc[i];
                tk[i].key_len = len;
            }
            fwt_pubkey_free(pub);
        }
        if (err != FWT_OK) {
            return err;
        }
        struct fwt_policy pol;
        memset(&pol, 0, sizeof(pol));
        pol.keys = tk;
        pol.n_keys = o->n_verify;
        pol.threshold = 1;
        memset(&info, 0, sizeof(info));
        err = fwt_verify_file(path, &pol, &info);
        if (err != FWT_OK) {
            return err;
        }
        signers = json_array();
        for (uint32_t i = 0; i < info.n_signers && i < FWT_MAX_SIGNERS; i++) {
            char h[2 * FWT_KEYHASH_SIZE + 1];
            fwt_hex_encode(info.signer_keyhash[i], FWT_KEYHASH_SIZE, h);
            json_array_append_new(signers, json_string(h));
        }
    }
    char ver[48];
    snprintf(ver, sizeof(ver), "%u.%u.%u+%lu", (unsigned)info.hdr.version.major,
             (unsigned)info.hdr.version.minor, (unsigned)info.hdr.version.revision,
             (unsigned long)info.hdr.version.build);
    char dg[2 * FWT_DIGEST_MAX + 1];
    size_t dlen = info.digest_len <= FWT_DIGEST_MAX ? info.digest_len : FWT_DIGEST_MAX;
    fwt_hex_encode(info.digest, dlen, dg);
    const struct fwt_hash_desc *hd = fwt_hash_by_alg(info.hash_alg);
    const char *alg = hd ? hd->name : "sha256";
    json_t *f = json_pack("{s:s, s:{s:s}}", "version", ver, "image_digest", alg, dg);
    if (!f) {
        json_decref(signers);
        return oom();
    }
    if (info.has_security_counter) {
        json_object_set_new(f, "security_counter", json_integer((json_int_t)info.security_counter));
    }
    if (info.hw_id_len > 0 && info.hw_id_len <= FWT_HW_ID_MAX) {
        char hx[2 * FWT_HW_ID_MAX + 1];
        fwt_hex_encode(info.hw_id, info.hw_id_len, hx);
        json_object_set_new(f, "hw_id_hex", json_string(hx));
        int printable = 1;
        for (size_t i = 0; i < info.hw_id_len; i++) {
            printable &= info.hw_id[i] >= 0x20 && info.hw_id[i] < 0x7f;
        }
        if (printable) {
            json_object_set_new(f, "hw_id", json_stringn((const char *)info.hw_id, info.hw_id_len));
        }
    }
    if (signers) {
        json_object_set_new(f, "verified_signers", signers);
    }
    *facts = f;
    return FWT_OK;
}

fwt_err repo_cmd_add_target(struct repo *r, const struct repo_target_opts *o, const struct repo_keyring *kr,
                            const struct fwt_key_opts *ko, json_t *report)
{
    const char *role = o->role ? o->role : "targets";
    if (o->n_files == 0 || o->n_files > REPO_MAX_ADD) {
        return fwt_fail(FWT_E_ARG, "add-target takes 1 to %d files", REPO_MAX_ADD);
    }
    if (o->name && o->n_files != 1) {
        return fwt_fail(FWT_E_ARG, "--name is for a single file; use --prefix with several");
    }
    json_t *custom = NULL;
    if (o->custom) {
        json_error_t jerr;
        custom = json_loads(o->custom, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(custom)) {
            json_decref(custom);
            return fwt_fail(FWT_E_ARG, "--custom must be a JSON object (%s)", custom ? "not an object" : jerr.text);
        }
    }
    fwt_err err = FWT_OK;
    json_t *env = NULL, *holder = NULL, *created = json_array(), *made = json_array(), *added = json_array();
    char *hn = NULL;
    struct repo_txn txn;
    memset(&txn, 0, sizeof(txn));
    struct repo_role_keys rk;
    char **names = calloc(o->n_files, sizeof(*names));
    if (!created || !made || !added || !names) {
        err = oom();
        goto out;
    }
    /* Names first: every one valid, no two the same, inside the role's paths. */
    if (strcmp(role, "targets") != 0) {
        if (repo_is_top_role(role)) {
            err = fwt_fail(FWT_E_ARG, "targets are added to 'targets' or a delegated role, not '%s'", role);
            goto out;
        }
        err = repo_role_keys(r, role, &holder, &hn, &rk);
        if (err != FWT_OK) {
            goto out;
        }
    }
    for (size_t i = 0; i < o->n_files && err == FWT_OK; i++) {
        const char *base = o->name;
        if (!base) {
            const char *slash = strrchr(o->files[i], '/');
            base = slash ? slash + 1 : o->files[i];
        }
        size_t len = strlen(o->prefix ? o->prefix : "") + strlen(base) + 1;
        names[i] = malloc(len);
        if (!names[i]) {
            err = oom();
            break;
        }
        snprintf(names[i], len, "%s%s", o->prefix ? o->prefix : "", base);
        err = check_target_name(names[i]);
        for (size_t j = 0; j < i && err == FWT_OK; j++) {
            if (!strcmp(names[i], names[j])) {
                err = fwt_fail(FWT_E_ARG, "target name '%s' given twice", names[i]);
            }
        }
        if (err == FWT_OK && holder && !paths_match(rk.role, names[i])) {
            err = fwt_fail(FWT_E_ARG, "target '%s' is outside the paths delegated to '%s'", names[i], role);
        }
    }
    if (err != FWT_OK) {
        goto out;
    }
    err = repo_stage_for_change(r, role, &env);
    if (err != FWT_OK) {
        goto out;
    }
    json_t *tmap = json_object_get(SIGNED(env), "targets");
    if (!json_is_object(tmap)) {
        err = fwt_fail(FWT_E_META, "%s metadata has no \"targets\" object", role);
        goto out;
    }
    for (size_t i = 0; i < o->n_files && err == FWT_OK; i++) {
        json_t *cust = custom ? json_deep_copy(custom) : json_object();
        json_t *facts = NULL;
        if (!cust) {
            err = oom();
            break;
        }
        if (!o->no_image) {
            err = image_facts(o->files[i], o, ko, &facts);
            if (err == FWT_OK && facts) {
                json_object_set_new(cust, "fwtrust", facts);
            }
        }
        char sha[65];
        uint64_t length = 0;
        char *dest = NULL;
        int was_created = 0;
        if (err == FWT_OK) {
            err = copy_target(r, o, o->files[i], names[i], sha, &length, &dest, &was_created, made);
        }
        if (err == FWT_OK && was_created) {
            json_array_append_new(created, json_string(dest));
        }
        free(dest);
        if (err == FWT_OK) {
            json_t *entry = json_pack("{s:I, s:{s:s}}", "length", (json_int_t)length, "hashes", "sha256", sha);
            if (!entry) {
                err = oom();
            } else {
                if (json_object_size(cust) > 0) {
                    json_object_set(entry, "custom", cust);
                }
                json_object_set_new(tmap, names[i], entry);
                json_array_append_new(added, json_pack("{s:s, s:I, s:s, s:O}", "name", names[i], "length",
                                                       (json_int_t)length, "sha256", sha, "custom", cust));
            }
        }
        json_decref(cust);
    }
    if (err != FWT_OK) {
        goto out;
    }
    report_init(report);
    err = stage_and_sign(r, role, env, kr, &txn, report);
    if (err == FWT_OK) {
        err = repo_txn_commit(&txn);
    }
    if (err == FWT_OK) {
        json_object_set(report, "targets", added);
        if (json_array_size(added) == 1) {
            json_object_set(report, "target", json_array_get(added, 0));
        }
    }
out:
    if (err != FWT_OK) {
        size_t i;
        json_t *v;
        json_array_foreach(created, i, v) {
            (void)unlink(json_string_value(v));
        }
        for (i = json_array_size(made); i-- > 0;) {
            (void)rmdir(json_string_value(json_array_get(made, i)));
        }
    }
    if (names) {
        for (size_t i = 0; i < o->n_files; i++) {
            free(names[i]);
        }
        free(names);
    }
    repo_txn_free(&txn);
    json_decref(env);
    json_decref(holder);
    json_decref(custom);
    json_decref(created);
    json_decref(made);
    json_decref(added);
    free(hn);
    return err;
}

fwt_err repo_cmd_remove_target(struct repo *r, const char *name, const char *role,
                               const struct repo_keyring *kr, json_t *report)
{
    role = role ? role : "targets";
    if (repo_is_top_role(role) && strcmp(role, "targets") != 0) {
        return fwt_fail(FWT_E_ARG, "targets live in 'targets' or a delegated role, not '%s'", role);
    }
    json_t *env = NULL;
    fwt_err err = repo_stage_for_change(r, role, &env);
    if (err != FWT_OK) {
        return err;
    }
    json_t *tmap = json_object_get(SIGNED(env), "targets");
    if (!json_object_get(tmap, name)) {
        json_decref(env);
        return fwt_fail(FWT_E_NOT_FOUND, "role '%s' has no target '%s'", role, name);
    }
    json_object_del(tmap, name);
    struct repo_txn txn;
    memset(&txn, 0, sizeof(txn));
    report_init(report);
    err = stage_and_sign(r, role, env, kr, &txn, report);
    if (err == FWT_OK) {
        err = repo_txn_commit(&txn);
    }
    repo_txn_free(&txn);
    json_decref(env);
    return err;
}

/* ---- delegate ---- */

fwt_err repo_cmd_delegate(struct repo *r, const struct repo_delegate_opts *o, struct repo_keyring *kr,
                          const struct fwt_key_opts *ko, json_t *report)
{
    const char *from = o->from ? o->from : "targets";
    if (!repo_role_name_ok(o->name)) {
        return fwt_fail(FWT_E_ARG, "role name '%s' is not allowed ([A-Za-z0-9][A-Za-z0-9._-]*, at most 64, "
                                   "not a top-level role)", o->name);
    }
    if (repo_is_top_role(from) && strcmp(from, "targets") != 0) {
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
    struct repo_key *ks[REPO_MAX_KEYS];
    err = load_keys(kr, o->keys, o->n_keys, ko, ks);
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
    memset(&txn, 0, sizeof(txn));
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
    err = add_role_keys(dkeys, role, ks, o->n_keys);
    if (err != FWT_OK) {
        goto out;
    }
    char exp[21];
    expires_in(r, o->name, exp);
    json_t *rs = json_pack("{s:s, s:s, s:i, s:s, s:{}}", "_type", "targets", "spec_version", REPO_SPEC_VERSION,
                           "version", 1, "expires", exp, "targets");
    renv = rs ? new_env(rs) : NULL;
    if (!renv) {
        err = oom();
        goto out;
    }
    report_init(report);
    /* Stage the delegator first: signing the new role looks its keys up there. */
    err = stage_and_sign(r, from, denv, kr, &txn, NULL);
    if (err == FWT_OK) {
        struct repo_role_keys rk = {dkeys, role};
        size_t added = 0;
        char *p = NULL;
        err = repo_sign_env(renv, &rk, kr, &added);
        if (err == FWT_OK) {
            err = staged_path(r, o->name, &p);
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
        json_t *info = json_pack("{s:s, s:I}", "role", from, "version", version_of(denv));
        fwt_err e = role_signed_enough(r, from, denv, info);
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

/* ---- publish / timestamp ---- */

static fwt_err check_not_expired(const struct repo *r, const char *role, const json_t *env)
{
    time_t t;
    fwt_err err = repo_time_parse(json_string_value(json_object_get(SIGNED(env), "expires")), &t);
    if (err == FWT_OK && t <= r->now) {
        err = fwt_fail(FWT_E_META_EXPIRED, "%s version %lld expired at %s: stage a new version "
                       "('fwtrust repo sign DIR %s --key K')", role, (long long)version_of(env),
                       json_string_value(json_object_get(SIGNED(env), "expires")), role);
    }
    return err;
}

/* Build, sign and serialise a new timestamp for the snapshot bytes. */
static fwt_err make_timestamp(const struct repo *r, const json_t *root_env, json_int_t snap_version,
                              const char *snap_bytes, size_t snap_len, const struct repo_keyring *kr,
                              char **out, size_t *out_len, json_int_t *version)
{
    json_t *prev = NULL;
    json_int_t v = 1;
    fwt_err err = repo_published(r, "timestamp", &prev);
    if (err == FWT_OK) {
        v = version_of(prev) + 1;
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
    expires_in(r, "timestamp", exp);
    json_t *sd = json_pack("{s:s, s:s, s:I, s:s, s:{s:{s:I, s:I, s:{s:s}}}}", "_type", "timestamp",
                           "spec_version", REPO_SPEC_VERSION, "version", v, "expires", exp, "meta",
                           "snapshot.json", "version", snap_version, "length", (json_int_t)snap_len,
                           "hashes", "sha256", hex);
    json_t *env = sd ? new_env(sd) : NULL;
    if (!env) {
        return oom();
    }
    /* The timestamp keys of the root clients will hold when they read this timestamp. */
    json_t *rsd = SIGNED(root_env);
    struct repo_role_keys rk = {json_object_get(rsd, "keys"),
                                json_object_get(json_object_get(rsd, "roles"), "timestamp")};
    size_t added = 0;
    err = repo_sign_env(env, &rk, kr, &added);
    if (err == FWT_OK) {
        err = threshold_met("timestamp", env, &rk, NULL, NULL);
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

fwt_err repo_cmd_publish(struct repo *r, const struct repo_keyring *kr, int force, json_t *report)
{
    json_t *names = NULL, *staged = json_object(), *snapmeta = json_object();
    json_t *snapenv = NULL, *root_env = NULL;
    char *snap_bytes = NULL, *ts_bytes = NULL, *p = NULL;
    size_t snap_len = 0, ts_len = 0;
    struct repo_txn txn;
    memset(&txn, 0, sizeof(txn));
    fwt_err err = FWT_OK;
    if (!staged || !snapmeta) {
        err = oom();
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
    err = repo_staged(r, "root", &root_env);
    if (err == FWT_OK) {
        err = repo_root_check(SIGNED(root_env));
        if (err == FWT_OK) {
            err = sign_role(r, "root", root_env, kr, NULL);
        }
        if (err == FWT_OK) {
            err = role_signed_enough(r, "root", root_env, NULL);
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
            err = sign_role(r, role, env, kr, NULL);
        }
        if (err == FWT_OK) {
            err = role_signed_enough(r, role, env, NULL);
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
            json_object_set_new(snapmeta, key, json_pack("{s:I}", "version", version_of(env)));
            if (is_staged) {
                json_object_set(staged, role, env);
            }
        }
        json_decref(env);
        if (err != FWT_OK) {
            goto out;
        }
    }
    if (json_object_size(staged) == 0 && !force) {
        err = fwt_fail(FWT_E_NO_UPDATE, "nothing is staged (use --force for a new snapshot, or "
                       "'fwtrust repo timestamp' to refresh only the timestamp)");
        goto out;
    }
    /* 3. snapshot */
    json_t *prev = NULL;
    json_int_t sv = 1;
    err = repo_published(r, "snapshot", &prev);
    if (err == FWT_OK) {
        sv = version_of(prev) + 1;
        json_decref(prev);
    } else if (err != FWT_E_NOT_FOUND) {
        goto out;
    }
    fwt_detail_clear();
    char exp[21];
    expires_in(r, "snapshot", exp);
    json_t *ssd = json_pack("{s:s, s:s, s:I, s:s, s:O}", "_type", "snapshot", "spec_version", REPO_SPEC_VERSION,
                            "version", sv, "expires", exp, "meta", snapmeta);
    snapenv = ssd ? new_env(ssd) : NULL;
    if (!snapenv) {
        err = oom();
        goto out;
    }
    {
        /* The snapshot keys of the root being published. */
        json_t *rsd = SIGNED(root_env);
        struct repo_role_keys rk = {json_object_get(rsd, "keys"),
                                    json_object_get(json_object_get(rsd, "roles"), "snapshot")};
        size_t added = 0;
        err = repo_sign_env(snapenv, &rk, kr, &added);
        if (err == FWT_OK) {
            err = threshold_met("snapshot", snapenv, &rk, NULL, NULL);
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
        err = make_timestamp(r, root_env, sv, snap_bytes, snap_len, kr, &ts_bytes, &ts_len, &tv);
    }
    if (err != FWT_OK) {
        goto out;
    }
    /* 4. write: roles, root, snapshot, timestamp last; then clear staged/. */
    const char *role;
    json_t *env;
    json_object_foreach(staged, role, env) {
        if (!strcmp(role, "root")) {
            continue;
        }
        p = repo_path(r, "metadata/%lld.%s.json", (long long)version_of(env), role);
        struct stat st;
        if (!p) {
            err = oom();
        } else if (stat(p, &st) == 0) {
            err = fwt_fail(FWT_E_STATE, "%s already exists: published metadata is never overwritten", p);
        } else {
            err = repo_txn_write_json(&txn, p, env);
        }
        free(p);
        p = NULL;
        if (err != FWT_OK) {
            goto out;
        }
    }
    env = json_object_get(staged, "root");
    if (env) {
        p = repo_path(r, "metadata/%lld.root.json", (long long)version_of(env));
        struct stat st;
        if (!p) {
            err = oom();
        } else if (stat(p, &st) == 0) {
            err = fwt_fail(FWT_E_STATE, "%s already exists: published metadata is never overwritten", p);
        } else {
            err = repo_txn_write_json(&txn, p, env);
        }
        free(p);
        p = repo_path(r, "metadata/root.json");
        if (err == FWT_OK) {
            err = p ? repo_txn_write_json(&txn, p, env) : oom();
        }
        free(p);
        p = NULL;
        if (err != FWT_OK) {
            goto out;
        }
    }
    p = repo_path(r, "metadata/%lld.snapshot.json", (long long)sv);
    err = p ? repo_txn_write(&txn, p, snap_bytes, snap_len) : oom();
    free(p);
    p = repo_path(r, "metadata/timestamp.json");
    if (err == FWT_OK) {
        err = p ? repo_txn_write(&txn, p, ts_bytes, ts_len) : oom();
    }
    free(p);
    p = NULL;
    json_object_foreach(staged, role, env) {
        if (err == FWT_OK) {
            err = staged_path(r, role, &p);
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
            json_object_set_new(pub, role, json_integer(version_of(env)));
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
    json_int_t sv = version_of(snap);
    json_decref(snap);
    if (err != FWT_OK) {
        return err;
    }
    /* The exact published snapshot bytes (hash and length go into the timestamp). */
    char *p = repo_path(r, "metadata/%lld.snapshot.json", (long long)sv);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (!p) {
        return oom();
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
        err = make_timestamp(r, root, sv, (const char *)bytes, len, kr, &ts, &ts_len, &tv);
    }
    json_decref(root);
    free(bytes);
    struct repo_txn txn;
    memset(&txn, 0, sizeof(txn));
    if (err == FWT_OK) {
        p = repo_path(r, "metadata/timestamp.json");
        err = p ? repo_txn_write(&txn, p, ts, ts_len) : oom();
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

/* ---- rotate / revoke-key ---- */

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
    int top = repo_is_top_role(role);
    json_t *holder = NULL, *henv = NULL, *renv = NULL;
    char *hn = NULL;
    struct repo_role_keys rk;
    struct repo_txn txn;
    memset(&txn, 0, sizeof(txn));
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
        err = load_keys(kr, o->new_keys, o->n_new, ko, nks);
    }
    if (err == FWT_OK) {
        err = add_role_keys(keys, roleobj, nks, o->n_new);
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
    if (err != FWT_OK) {
        goto out;
    }
    report_init(report);
    err = stage_and_sign(r, hn, henv, kr, &txn, report);
    if (err != FWT_OK) {
        goto out;
    }
    /* The role's own metadata must be signed by its new keys: stage a new version
     * (snapshot and timestamp are made by publish anyway). */
    if (strcmp(role, "root") != 0 && strcmp(role, "snapshot") != 0 && strcmp(role, "timestamp") != 0) {
        /* Commit the holder first so the role's keys are looked up in it. */
        err = repo_txn_commit(&txn);
        if (err != FWT_OK) {
            goto out;
        }
        err = repo_stage_for_change(r, role, &renv);
        struct repo_txn t2;
        memset(&t2, 0, sizeof(t2));
        if (err == FWT_OK) {
            err = stage_and_sign(r, role, renv, kr, &t2, report);
        }
        if (err == FWT_OK) {
            err = repo_txn_commit(&t2);
        }
        repo_txn_free(&t2);
        if (err != FWT_OK) {
            repo_txn_undo(&txn); /* the command failed as a whole: undo the holder change too */
        }
        goto out;
    }
    err = repo_txn_commit(&txn);
out:
    repo_txn_free(&txn);
    json_decref(henv);
    json_decref(renv);
    free(hn);
    return err;
}

/* ---- sign ---- */

fwt_err repo_cmd_sign(struct repo *r, const char *role, const struct repo_keyring *kr, json_t *report)
{
    if (!strcmp(role, "snapshot") || !strcmp(role, "timestamp")) {
        return fwt_fail(FWT_E_ARG, "%s is signed by 'fwtrust repo publish'/'timestamp', not by sign", role);
    }
    if (!repo_is_top_role(role) && !repo_role_name_ok(role)) {
        return fwt_fail(FWT_E_ARG, "'%s' is not a role name", role);
    }
    json_t *env = NULL;
    fwt_err err = repo_staged(r, role, &env);
    int bumped = 0;
    if (err == FWT_E_NOT_FOUND) {
        err = repo_stage_for_change(r, role, &env); /* a new version, fresh expiry */
        bumped = 1;
    }
    if (err != FWT_OK) {
        return err;
    }
    size_t added = 0;
    err = sign_role(r, role, env, kr, &added);
    if (err == FWT_OK && added == 0) {
        err = fwt_fail(FWT_E_KEY, "none of the given keys can add a signature to %s (not one of its keys, "
                       "public only, or it signed already)", role);
    }
    struct repo_txn txn;
    memset(&txn, 0, sizeof(txn));
    char *p = NULL;
    if (err == FWT_OK) {
        err = staged_path(r, role, &p);
    }
    if (err == FWT_OK) {
        err = repo_txn_write_json(&txn, p, env);
    }
    if (err == FWT_OK) {
        err = repo_txn_commit(&txn);
    }
    if (err == FWT_OK) {
        json_t *info = json_pack("{s:s, s:I, s:I, s:b}", "role", role, "version", version_of(env),
                                 "signatures_added", (json_int_t)added, "new_version", bumped);
        fwt_err e = role_signed_enough(r, role, env, info);
        json_object_set_new(info, "threshold_met", json_boolean(e == FWT_OK));
        fwt_detail_clear();
        report_init(report);
        json_array_append_new(json_object_get(report, "staged"), info);
    }
    free(p);
    repo_txn_free(&txn);
    json_decref(env);
    return err;
}

/* ---- status ---- */

static json_t *role_status(const struct repo *r, const char *role)
{
    json_t *o = json_pack("{s:s}", "role", role);
    json_t *env = NULL;
    fwt_err err = repo_published(r, role, &env);
    if (err == FWT_OK) {
        time_t t = 0;
        const char *exp = json_string_value(json_object_get(SIGNED(env), "expires"));
        int expired = repo_time_parse(exp, &t) != FWT_OK || t <= r->now;
        json_object_set_new(o, "published", json_pack("{s:I, s:s, s:b}", "version", version_of(env),
                                                      "expires", exp, "expired", expired));
        json_decref(env);
    } else {
        json_object_set_new(o, "published", json_null());
    }
    fwt_detail_clear();
    env = NULL;
    if (repo_staged(r, role, &env) == FWT_OK) {
        json_t *info = json_pack("{s:I, s:s}", "version", version_of(env), "expires",
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
        fwt_err e = role_signed_enough(r, role, env, info);
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
        if (!repo_is_top_role(role)) {
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

fwt_err repo_cmd_status(struct repo *r, json_t *report)
{
    json_t *names = NULL;
    fwt_err err = repo_delegated_roles(r, &names);
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
