/*
 * fwtrust repo: files, transactions, metadata parsing and the repository's
 * published/staged state.
 */
#include "repo.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- paths ---- */

char *repo_path(const struct repo *r, const char *fmt, ...)
{
    char rel[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(rel)) {
        return NULL;
    }
    size_t len = strlen(r->dir) + 1 + (size_t)n + 1;
    char *p = malloc(len);
    if (p) {
        snprintf(p, len, "%s/%s", r->dir, rel);
    }
    return p;
}

/* ---- time ---- */

void repo_time_format(time_t t, char out[21])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20) {
        memcpy(out, "1970-01-01T00:00:00Z", 21);
    }
}

fwt_err repo_time_parse(const char *s, time_t *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (s == NULL) {
        return fwt_fail(FWT_E_META, "expires is missing");
    }
    if (strlen(s) != 20) {
        return fwt_fail(FWT_E_META, "expires '%.40s' is not YYYY-MM-DDTHH:MM:SSZ", s);
    }
    for (size_t i = 0; i < 20; i++) {
        char c = s[i];
        int digit = c >= '0' && c <= '9';
        int want_digit = !(i == 4 || i == 7 || i == 10 || i == 13 || i == 16 || i == 19);
        if (want_digit != digit) {
            return fwt_fail(FWT_E_META, "expires '%s' is not YYYY-MM-DDTHH:MM:SSZ", s);
        }
    }
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z') {
        return fwt_fail(FWT_E_META, "expires '%s' is not YYYY-MM-DDTHH:MM:SSZ", s);
    }
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end != '\0' || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60) {
        return fwt_fail(FWT_E_META, "expires '%s' is not a valid time", s);
    }
    *t = timegm(&tm);
    return FWT_OK;
}

/* ---- JSON files ---- */

fwt_err repo_json_dump(const json_t *v, char **buf, size_t *len)
{
    char *s = json_dumps(v, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (!s) {
        return fwt_fail(FWT_E_NOMEM, "cannot serialise JSON");
    }
    size_t n = strlen(s);
    char *out = realloc(s, n + 2);
    if (!out) {
        free(s);
        return fwt_fail(FWT_E_NOMEM, "cannot serialise JSON");
    }
    out[n] = '\n';
    out[n + 1] = '\0';
    *buf = out;
    *len = n + 1;
    return FWT_OK;
}

static int is_hex(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max || n % 2) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

fwt_err repo_meta_parse(const uint8_t *buf, size_t len, const char *type, const char *what,
                        json_t **env)
{
    json_error_t jerr;
    json_t *v = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        return fwt_fail(FWT_E_META, "%s: not valid JSON (line %d: %s)", what, jerr.line, jerr.text);
    }
    json_t *sigs = json_object_get(v, "signatures");
    json_t *sd = json_object_get(v, "signed");
    if (!json_is_object(v) || !json_is_array(sigs) || !json_is_object(sd)) {
        json_decref(v);
        return fwt_fail(FWT_E_META, "%s: not TUF metadata (needs \"signatures\" array and \"signed\" object)", what);
    }
    const char *t = json_string_value(json_object_get(sd, "_type"));
    if (!t || strcmp(t, type) != 0) {
        fwt_err e = fwt_fail(FWT_E_META, "%s: _type is '%.40s', expected '%s'", what, t ? t : "(missing)", type);
        json_decref(v);
        return e;
    }
    json_t *ver = json_object_get(sd, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) < 1) {
        json_decref(v);
        return fwt_fail(FWT_E_META, "%s: version must be an integer >= 1", what);
    }
    const char *exp = json_string_value(json_object_get(sd, "expires"));
    time_t tt;
    if (!exp || repo_time_parse(exp, &tt) != FWT_OK) {
        json_decref(v);
        return fwt_fail(FWT_E_META, "%s: missing or invalid \"expires\"", what);
    }
    if (!json_is_string(json_object_get(sd, "spec_version"))) {
        json_decref(v);
        return fwt_fail(FWT_E_META, "%s: missing \"spec_version\"", what);
    }
    size_t i;
    json_t *s;
    json_array_foreach(sigs, i, s) {
        const char *kid = json_string_value(json_object_get(s, "keyid"));
        const char *sig = json_string_value(json_object_get(s, "sig"));
        if (!json_is_object(s) || !kid || !sig || !is_hex(kid, 64, 64) || !is_hex(sig, 0, 4096)) {
            json_decref(v);
            return fwt_fail(FWT_E_META, "%s: signature %zu is not {\"keyid\": 64 hex, \"sig\": hex}", what, i);
        }
    }
    *env = v;
    return FWT_OK;
}

fwt_err repo_meta_read(const char *path, const char *type, json_t **env)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(path, REPO_MAX_META, &buf, &len);
    if (err != FWT_OK) {
        return err;
    }
    err = repo_meta_parse(buf, len, type, path, env);
    free(buf);
    return err;
}

/* ---- transactions ---- */

static fwt_err txn_add(struct repo_txn *t, const char *path, const void *data, size_t len, int del)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct repo_txn_entry *e = realloc(t->e, cap * sizeof(*e));
        if (!e) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        t->e = e;
        t->cap = cap;
    }
    struct repo_txn_entry *e = &t->e[t->n];
    memset(e, 0, sizeof(*e));
    e->path = strdup(path);
    if (!e->path) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    e->is_delete = del;
    if (!del) {
        e->data = malloc(len ? len : 1);
        if (!e->data) {
            free(e->path);
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        memcpy(e->data, data, len);
        e->len = len;
    }
    t->n++;
    return FWT_OK;
}

fwt_err repo_txn_write(struct repo_txn *t, const char *path, const void *data, size_t len)
{
    return txn_add(t, path, data, len, 0);
}

fwt_err repo_txn_delete(struct repo_txn *t, const char *path)
{
    return txn_add(t, path, NULL, 0, 1);
}

fwt_err repo_txn_write_json(struct repo_txn *t, const char *path, const json_t *v)
{
    char *buf = NULL;
    size_t len = 0;
    fwt_err err = repo_json_dump(v, &buf, &len);
    if (err == FWT_OK) {
        err = repo_txn_write(t, path, buf, len);
    }
    free(buf);
    return err;
}

/* Create the parent directory of path if missing (one level), remembering it. */
static fwt_err txn_mkparent(struct repo_txn *t, const char *path)
{
    char *dir = strdup(path);
    if (!dir) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        struct stat st;
        if (stat(dir, &st) != 0) {
            if (mkdir(dir, 0755) != 0) {
                fwt_err e = fwt_fail(FWT_E_IO, "cannot create directory %s: %s", dir, strerror(errno));
                free(dir);
                return e;
            }
            if (t->n_dirs < sizeof(t->made_dirs) / sizeof(t->made_dirs[0])) {
                t->made_dirs[t->n_dirs++] = dir;
                return FWT_OK;
            }
        } else if (!S_ISDIR(st.st_mode)) {
            fwt_err e = fwt_fail(FWT_E_IO, "%s is not a directory", dir);
            free(dir);
            return e;
        }
    }
    free(dir);
    return FWT_OK;
}

void repo_txn_undo(struct repo_txn *t)
{
    for (size_t i = t->n; i-- > 0;) {
        struct repo_txn_entry *e = &t->e[i];
        if (!e->done) {
            continue;
        }
        if (e->existed) {
            if (fwt_write_file_atomic(e->path, e->old, e->old_len, 0644) != FWT_OK) {
                fprintf(stderr, "fwtrust repo: could not restore %s\n", e->path);
            }
        } else {
            (void)unlink(e->path);
        }
        e->done = 0;
    }
    for (size_t i = t->n_dirs; i-- > 0;) {
        (void)rmdir(t->made_dirs[i]);
    }
}

fwt_err repo_txn_commit(struct repo_txn *t)
{
    fwt_err err = FWT_OK;
    /* Save what is there now, before anything changes. */
    for (size_t i = 0; i < t->n; i++) {
        struct repo_txn_entry *e = &t->e[i];
        struct stat st;
        if (stat(e->path, &st) == 0) {
            err = fwt_read_file(e->path, (size_t)1 << 30, &e->old, &e->old_len);
            if (err != FWT_OK) {
                return err;
            }
            e->existed = 1;
        } else if (errno != ENOENT) {
            return fwt_fail(FWT_E_IO, "%s: %s", e->path, strerror(errno));
        }
    }
    for (size_t i = 0; i < t->n && err == FWT_OK; i++) {
        struct repo_txn_entry *e = &t->e[i];
        if (e->is_delete) {
            if (e->existed) {
                if (unlink(e->path) != 0) {
                    err = fwt_fail(FWT_E_IO, "cannot remove %s: %s", e->path, strerror(errno));
                } else {
                    e->done = 1;
                    err = fwt_fsync_parent(e->path);
                }
            }
            continue;
        }
        err = txn_mkparent(t, e->path);
        if (err == FWT_OK) {
            err = fwt_write_file_atomic(e->path, e->data, e->len, 0644);
            if (err == FWT_OK) {
                e->done = 1;
            }
        }
    }
    if (err != FWT_OK) {
        repo_txn_undo(t);
    }
    return err;
}

void repo_txn_free(struct repo_txn *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].path);
        free(t->e[i].old);
        free(t->e[i].data);
    }
    free(t->e);
    for (size_t i = 0; i < t->n_dirs; i++) {
        free(t->made_dirs[i]);
    }
    memset(t, 0, sizeof(*t));
}

/* ---- repository ---- */

static const char *const k_exp_names[5] = {"root", "targets", "snapshot", "timestamp", "delegated"};

int repo_is_top_role(const char *role)
{
    return !strcmp(role, "root") || !strcmp(role, "targets") || !strcmp(role, "snapshot") ||
           !strcmp(role, "timestamp");
}

int repo_role_name_ok(const char *role)
{
    size_t n = strlen(role);
    if (n == 0 || n > 64 || repo_is_top_role(role)) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = role[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
            return 0;
        }
    }
    return 1;
}

int repo_expiry_days(const struct repo *r, const char *role)
{
    for (int i = 0; i < 4; i++) {
        if (!strcmp(role, k_exp_names[i])) {
            return r->exp.days[i];
        }
    }
    return r->exp.days[4];
}

fwt_err repo_open(const char *dir, struct repo *r)
{
    memset(r, 0, sizeof(*r));
    r->now = time(NULL);
    r->dir = strdup(dir);
    if (!r->dir) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    size_t dl = strlen(r->dir);
    while (dl > 1 && r->dir[dl - 1] == '/') {
        r->dir[--dl] = '\0';
    }
    char *p = repo_path(r, "repo.json");
    if (!p) {
        repo_close(r);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    struct stat st;
    if (stat(p, &st) != 0) {
        fwt_err e = fwt_fail(FWT_E_NOT_FOUND, "%s is not an fwtrust repository (no repo.json; see 'fwtrust repo init')", dir);
        free(p);
        repo_close(r);
        return e;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(p, 65536, &buf, &len);
    if (err == FWT_OK) {
        json_error_t jerr;
        r->config = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
        free(buf);
        json_t *exp = json_object_get(r->config, "expires");
        if (!json_is_object(r->config) || json_integer_value(json_object_get(r->config, "fwtrust_repo")) != 1 ||
            !json_is_object(exp)) {
            err = fwt_fail(FWT_E_STATE, "%s: not an fwtrust repository settings file (format 1)", p);
        }
        for (int i = 0; i < 5 && err == FWT_OK; i++) {
            json_t *d = json_object_get(exp, k_exp_names[i]);
            if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 36500) {
                err = fwt_fail(FWT_E_STATE, "%s: expires.%s must be 1..36500 days", p, k_exp_names[i]);
            } else {
                r->exp.days[i] = (int)json_integer_value(d);
            }
        }
    }
    free(p);
    if (err != FWT_OK) {
        repo_close(r);
    }
    return err;
}

void repo_close(struct repo *r)
{
    free(r->dir);
    json_decref(r->config);
    memset(r, 0, sizeof(*r));
}

static fwt_err read_role_file(const struct repo *r, const char *rel, const char *type, json_t **env)
{
    char *p = repo_path(r, "%s", rel);
    if (!p) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    struct stat st;
    fwt_err err;
    if (stat(p, &st) != 0) {
        err = FWT_E_NOT_FOUND;
        fwt_detail_clear();
    } else {
        err = repo_meta_read(p, type, env);
    }
    free(p);
    return err;
}

static const char *role_type(const char *role)
{
    if (!strcmp(role, "root") || !strcmp(role, "snapshot") || !strcmp(role, "timestamp")) {
        return role;
    }
    return "targets";
}

/* Version of role in the published snapshot (0 when absent). */
static fwt_err snapshot_version_of(const json_t *snap, const char *role, json_int_t *v)
{
    char key[80];
    snprintf(key, sizeof(key), "%s.json", role);
    json_t *m = json_object_get(json_object_get(json_object_get(snap, "signed"), "meta"), key);
    *v = 0;
    if (!m) {
        return FWT_OK;
    }
    json_t *ver = json_object_get(m, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) < 1) {
        return fwt_fail(FWT_E_META, "published snapshot: meta %s has no valid version", key);
    }
    *v = json_integer_value(ver);
    return FWT_OK;
}

fwt_err repo_published(const struct repo *r, const char *role, json_t **env)
{
    char rel[160];
    if (!strcmp(role, "root")) {
        return read_role_file(r, "metadata/root.json", "root", env);
    }
    if (!strcmp(role, "timestamp")) {
        return read_role_file(r, "metadata/timestamp.json", "timestamp", env);
    }
    json_t *ts = NULL;
    fwt_err err = read_role_file(r, "metadata/timestamp.json", "timestamp", &ts);
    if (err != FWT_OK) {
        return err;
    }
    json_t *sm = json_object_get(json_object_get(json_object_get(ts, "signed"), "meta"), "snapshot.json");
    json_int_t sv = json_integer_value(json_object_get(sm, "version"));
    json_decref(ts);
    if (sv < 1) {
        return fwt_fail(FWT_E_META, "published timestamp has no snapshot.json version");
    }
    snprintf(rel, sizeof(rel), "metadata/%lld.snapshot.json", (long long)sv);
    json_t *snap = NULL;
    err = read_role_file(r, rel, "snapshot", &snap);
    if (err == FWT_E_NOT_FOUND) {
        return fwt_fail(FWT_E_STATE, "published timestamp names snapshot version %lld but %s is missing",
                        (long long)sv, rel);
    }
    if (err != FWT_OK) {
        return err;
    }
    if (!strcmp(role, "snapshot")) {
        *env = snap;
        return FWT_OK;
    }
    json_int_t v = 0;
    err = snapshot_version_of(snap, role, &v);
    json_decref(snap);
    if (err != FWT_OK) {
        return err;
    }
    if (v == 0) {
        return FWT_E_NOT_FOUND;
    }
    snprintf(rel, sizeof(rel), "metadata/%lld.%s.json", (long long)v, role);
    err = read_role_file(r, rel, "targets", env);
    if (err == FWT_E_NOT_FOUND) {
        return fwt_fail(FWT_E_STATE, "published snapshot names %s version %lld but %s is missing", role,
                        (long long)v, rel);
    }
    return err;
}

fwt_err repo_staged(const struct repo *r, const char *role, json_t **env)
{
    char rel[160];
    snprintf(rel, sizeof(rel), "staged/%s.json", role);
    return read_role_file(r, rel, role_type(role), env);
}

fwt_err repo_current(const struct repo *r, const char *role, json_t **env)
{
    fwt_err err = repo_staged(r, role, env);
    if (err == FWT_E_NOT_FOUND) {
        err = repo_published(r, role, env);
    }
    return err;
}

fwt_err repo_stage_for_change(const struct repo *r, const char *role, json_t **env)
{
    json_t *e = NULL;
    fwt_err err = repo_staged(r, role, &e);
    if (err == FWT_OK) {
        json_object_set_new(e, "signatures", json_array());
        *env = e;
        return FWT_OK;
    }
    if (err != FWT_E_NOT_FOUND) {
        return err;
    }
    err = repo_published(r, role, &e);
    if (err == FWT_E_NOT_FOUND) {
        return fwt_fail(FWT_E_NOT_FOUND, "role '%s' does not exist in this repository", role);
    }
    if (err != FWT_OK) {
        return err;
    }
    json_t *sd = json_object_get(e, "signed");
    json_int_t v = json_integer_value(json_object_get(sd, "version"));
    if (v >= ((json_int_t)1 << 53)) {
        json_decref(e);
        return fwt_fail(FWT_E_META, "%s: version %lld cannot grow", role, (long long)v);
    }
    char exp[21];
    repo_time_format(r->now + (time_t)repo_expiry_days(r, role) * 86400, exp);
    json_object_set_new(sd, "version", json_integer(v + 1));
    json_object_set_new(sd, "expires", json_string(exp));
    json_object_set_new(e, "signatures", json_array());
    *env = e;
    return FWT_OK;
}

/* Search the delegations of targets role `from` (and below) for role. */
static fwt_err find_delegator(const struct repo *r, const char *from, const char *role, int depth,
                              json_t *visited, json_t **holder, char **holder_name)
{
    if (depth > 32) {
        return fwt_fail(FWT_E_META, "delegations nested deeper than 32");
    }
    if (json_object_get(visited, from)) {
        return FWT_E_NOT_FOUND;
    }
    json_object_set_new(visited, from, json_true());
    json_t *env = NULL;
    fwt_err err = repo_current(r, from, &env);
    if (err != FWT_OK) {
        return err;
    }
    json_t *roles = json_object_get(json_object_get(json_object_get(env, "signed"), "delegations"), "roles");
    size_t i;
    json_t *d;
    json_array_foreach(roles, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        if (name && !strcmp(name, role)) {
            *holder = env;
            *holder_name = strdup(from);
            return *holder_name ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    json_array_foreach(roles, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        if (!name) {
            continue;
        }
        err = find_delegator(r, name, role, depth + 1, visited, holder, holder_name);
        if (err != FWT_E_NOT_FOUND) {
            json_decref(env);
            return err;
        }
    }
    json_decref(env);
    return FWT_E_NOT_FOUND;
}

fwt_err repo_role_keys(const struct repo *r, const char *role, json_t **holder, char **holder_name,
                       struct repo_role_keys *rk)
{
    *holder = NULL;
    *holder_name = NULL;
    if (repo_is_top_role(role)) {
        json_t *root = NULL;
        fwt_err err = repo_current(r, "root", &root);
        if (err == FWT_E_NOT_FOUND) {
            return fwt_fail(FWT_E_STATE, "the repository has no root metadata");
        }
        if (err != FWT_OK) {
            return err;
        }
        json_t *sd = json_object_get(root, "signed");
        err = repo_root_check(sd);
        if (err != FWT_OK) {
            json_decref(root);
            return err;
        }
        rk->keys = json_object_get(sd, "keys");
        rk->role = json_object_get(json_object_get(sd, "roles"), role);
        if (!json_is_object(rk->keys) || !json_is_object(rk->role)) {
            json_decref(root);
            return fwt_fail(FWT_E_META, "root metadata does not define role '%s'", role);
        }
        *holder = root;
        *holder_name = strdup("root");
        return *holder_name ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    json_t *visited = json_object();
    if (!visited) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err err = find_delegator(r, "targets", role, 0, visited, holder, holder_name);
    json_decref(visited);
    if (err == FWT_E_NOT_FOUND) {
        return fwt_fail(FWT_E_NOT_FOUND, "no role named '%s' is delegated in this repository", role);
    }
    if (err != FWT_OK) {
        return err;
    }
    err = repo_delegations_check(json_object_get(*holder, "signed"), *holder_name);
    if (err != FWT_OK) {
        json_decref(*holder);
        free(*holder_name);
        *holder = NULL;
        *holder_name = NULL;
        return err;
    }
    json_t *dl = json_object_get(json_object_get(*holder, "signed"), "delegations");
    rk->keys = json_object_get(dl, "keys");
    rk->role = NULL;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(dl, "roles"), i, d) {
        if (repo_streq(json_string_value(json_object_get(d, "name")), role)) {
            rk->role = d;
            break;
        }
    }
    if (!json_is_object(rk->keys) || !rk->role) {
        json_decref(*holder);
        free(*holder_name);
        *holder = NULL;
        *holder_name = NULL;
        return fwt_fail(FWT_E_META, "delegation of '%s' has no keys", role);
    }
    return FWT_OK;
}

static fwt_err collect_roles(const struct repo *r, const char *from, int depth, json_t *names)
{
    if (depth > 32) {
        return fwt_fail(FWT_E_META, "delegations nested deeper than 32");
    }
    json_t *env = NULL;
    fwt_err err = repo_current(r, from, &env);
    if (err == FWT_E_NOT_FOUND && depth > 0) {
        return fwt_fail(FWT_E_STATE, "delegated role '%s' has no metadata (staged or published)", from);
    }
    if (err != FWT_OK) {
        return err;
    }
    json_t *roles = json_object_get(json_object_get(json_object_get(env, "signed"), "delegations"), "roles");
    size_t i;
    json_t *d;
    json_array_foreach(roles, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        if (!name || !repo_role_name_ok(name)) {
            err = fwt_fail(FWT_E_META, "%s: delegation name '%.64s' is missing or not allowed", from,
                           name ? name : "");
            break;
        }
        int seen = 0;
        size_t j;
        json_t *n;
        json_array_foreach(names, j, n) {
            if (repo_streq(json_string_value(n), name)) {
                seen = 1;
            }
        }
        if (seen) {
            continue;
        }
        if (json_array_size(names) >= REPO_MAX_ROLES) {
            err = fwt_fail(FWT_E_TOO_LARGE, "more than %d delegated roles", REPO_MAX_ROLES);
            break;
        }
        json_array_append_new(names, json_string(name));
        err = collect_roles(r, name, depth + 1, names);
        if (err != FWT_OK) {
            break;
        }
    }
    json_decref(env);
    return err;
}

fwt_err repo_delegated_roles(const struct repo *r, json_t **names)
{
    *names = json_array();
    if (!*names) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err err = collect_roles(r, "targets", 0, *names);
    if (err != FWT_OK) {
        json_decref(*names);
        *names = NULL;
    }
    return err;
}
