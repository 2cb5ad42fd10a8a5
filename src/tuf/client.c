/*
 * fwtrust TUF client, the updater: the client workflow of tuf-spec.md section
 * 5, in its order (fwt_tuf.h), with its I/O (fetching, the metadata directory,
 * the clock). What is trusted is decided by the state machine in
 * client_trusted.c: root, timestamp, snapshot, targets and the delegated roles
 * loaded so far. Files in the metadata directory are
 * loaded as intermediate trusted state (they give the versions a rollback is
 * measured against) and are only replaced by metadata that verified fully.
 */
#include "client_internal.h"
#include "client_trusted.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEF_MAX_ROOT FWT_TUF_DEFAULT_MAX_ROOT_SIZE
#define DEF_MAX_TIMESTAMP FWT_TUF_DEFAULT_MAX_TIMESTAMP_SIZE
#define DEF_MAX_SNAPSHOT FWT_TUF_DEFAULT_MAX_SNAPSHOT_SIZE
#define DEF_MAX_TARGETS FWT_TUF_DEFAULT_MAX_TARGETS_SIZE
#define DEF_ROOT_ROTATIONS 32u
#define DEF_DELEGATIONS 32u
#define LIST_MAX_ROLES 100000u
#define FLOOR_FILE "time-floor"

struct fwt_tuf_client {
    char *dir, *murl, *turl;
    struct fwt_tuf_limits lim;
    struct fwt_tuf_transport tr;
    char *tr_str[4];
    time_t fixed_now;
    int no_floor;
    char *floor_path; /* METADATA_DIR/time-floor unless the caller names another file */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    struct tuf_fetcher *f;
    struct tuf_trusted t; /* the trusted metadata (client_trusted.c) */
    int refreshed;
    /* strings of the last target handed out */
    char *t_name, *t_role, *t_sha256, *t_sha512, *t_custom;
};

/* ---- Small helpers ---- */

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char *with_slash(const char *url)
{
    if (!url) {
        return NULL;
    }
    size_t n = strlen(url);
    char *o = malloc(n + 2);
    if (o) {
        memcpy(o, url, n + 1);
        if (n == 0 || url[n - 1] != '/') {
            o[n] = '/';
            o[n + 1] = 0;
        }
    }
    return o;
}

static char *fmt(const char *f, ...) FWT_PRINTF(1, 2);
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) {
        s = NULL;
    }
    va_end(ap);
    return s;
}

static time_t clock_now(const fwt_tuf_client *c)
{
    if (c->fixed_now) {
        return c->fixed_now;
    }
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        return time(NULL);
    }
    return ts.tv_sec;
}

static int consistent(const fwt_tuf_client *c)
{
    return json_is_true(json_object_get(c->t.root->signed_, "consistent_snapshot"));
}

/* METADATA_DIR/ENCODED-ROLE.json */
static char *role_path(const fwt_tuf_client *c, const char *role)
{
    char *q = tuf_quote(role, 0);
    char *p = q ? fmt("%s/%s.json", c->dir, q) : NULL;
    free(q);
    return p;
}

static fwt_err persist(const fwt_tuf_client *c, const char *role, const struct tuf_md *m)
{
    char *p = role_path(c, role);
    if (!p) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err err = fwt_write_file_atomic(p, m->raw, m->raw_len, 0644);
    free(p);
    return err;
}

/* Local copy of a role, or FWT_E_NOT_FOUND. */
static fwt_err read_local(const fwt_tuf_client *c, const char *role, uint64_t cap, uint8_t **buf, size_t *len)
{
    char *p = role_path(c, role);
    if (!p) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err err = access(p, F_OK) == 0 ? fwt_read_file(p, cap > SIZE_MAX ? SIZE_MAX : (size_t)cap, buf, len)
                                       : fwt_fail(FWT_E_NOT_FOUND, "%s: none", p);
    free(p);
    return err;
}

/*
 * The download cap of a role file: the length its referrer gives, never more
 * than the configured limit (a referrer naming a length above the limit is
 * refused before anything is fetched); the limit when it gives none.
 */
static fwt_err meta_cap(const json_t *meta, uint64_t limit, const char *file, const char *referrer,
                        uint64_t *cap)
{
    const json_t *l = json_object_get(meta, "length");
    *cap = limit;
    if (!l) {
        return FWT_OK;
    }
    uint64_t len = (uint64_t)json_integer_value(l);
    if (len > limit) {
        return fwt_fail(FWT_E_TOO_LARGE, "%s gives %.80s a length of %llu bytes, above the limit of %llu bytes", referrer,
                        file, (unsigned long long)len, (unsigned long long)limit);
    }
    *cap = len;
    return FWT_OK;
}

static fwt_err fetch_meta(fwt_tuf_client *c, const char *file, uint64_t cap, uint8_t **buf, size_t *len)
{
    char *url = fmt("%s%s", c->murl, file);
    if (!url) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err err = tuf_fetch_mem(c->f, url, cap, buf, len);
    free(url);
    return err;
}

/* ---- Time floor ---- */

static fwt_err floor_read(const fwt_tuf_client *c, time_t *out)
{
    *out = 0;
    if (c->no_floor) {
        return FWT_OK;
    }
    int64_t v = 0;
    fwt_err err = fwt_time_floor_read(c->floor_path, &v);
    if (err == FWT_OK && (int64_t)(time_t)v != v) {
        err = fwt_fail(FWT_E_STATE, "%s: a time this system cannot represent", c->floor_path);
    }
    if (err == FWT_OK) {
        *out = (time_t)v;
    }
    return err;
}

static fwt_err floor_write(const fwt_tuf_client *c, time_t t)
{
    if (c->no_floor) {
        return FWT_OK;
    }
    time_t old = 0;
    fwt_err err = floor_read(c, &old);
    if (err != FWT_OK || t <= old) {
        return err;
    }
    char text[32];
    size_t n = fwt_time_floor_text((int64_t)t, text);
    return fwt_write_file_atomic(c->floor_path, text, n, 0644);
}

static fwt_err load_timestamp(fwt_tuf_client *c)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int equal = 0;
    uint64_t cap = c->lim.max_timestamp_size;
    if (read_local(c, "timestamp", cap, &buf, &len) == FWT_OK) {
        (void)tuf_trusted_update_timestamp(&c->t, buf, len, "local timestamp.json", &equal);
    }
    free(buf);
    buf = NULL;
    fwt_detail_clear();
    fwt_err err = fetch_meta(c, "timestamp.json", cap, &buf, &len);
    if (err == FWT_OK) {
        err = tuf_trusted_update_timestamp(&c->t, buf, len, "timestamp.json", &equal);
    }
    if (err == FWT_OK && !equal) {
        err = persist(c, "timestamp", c->t.ts);
    }
    free(buf);
    return err;
}

static fwt_err load_snapshot(fwt_tuf_client *c)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = tuf_trusted_final_timestamp(&c->t);
    if (err != FWT_OK) {
        return err;
    }
    const json_t *meta = tuf_trusted_snapshot_meta(&c->t);
    uint64_t cap = 0;
    err = meta_cap(meta, c->lim.max_snapshot_size, "snapshot.json", "the timestamp", &cap);
    if (err != FWT_OK) {
        return err;
    }
    if (read_local(c, "snapshot", cap, &buf, &len) == FWT_OK) {
        err = tuf_trusted_update_snapshot(&c->t, buf, len, "local snapshot.json", 1);
        free(buf);
        buf = NULL;
        if (err == FWT_OK) {
            return FWT_OK;
        }
    }
    fwt_detail_clear();
    char file[64];
    if (consistent(c)) {
        snprintf(file, sizeof(file), "%" JSON_INTEGER_FORMAT ".snapshot.json",
                 json_integer_value(json_object_get(meta, "version")));
    } else {
        snprintf(file, sizeof(file), "snapshot.json");
    }
    err = fetch_meta(c, file, cap, &buf, &len);
    if (err == FWT_OK) {
        err = tuf_trusted_update_snapshot(&c->t, buf, len, file, 0);
    }
    if (err == FWT_OK) {
        err = persist(c, "snapshot", c->t.snap);
    }
    free(buf);
    return err;
}

static fwt_err load_targets(fwt_tuf_client *c, const char *role, const char *parent, struct tuf_md **out)
{
    *out = tuf_trusted_role_via(&c->t, role, parent);
    if (*out) {
        return FWT_OK;
    }
    fwt_err err = tuf_trusted_final_snapshot(&c->t);
    if (err != FWT_OK) {
        return err;
    }
    const struct tuf_md *other = tuf_trusted_role(&c->t, role);
    if (other) {
        /* loaded through another delegator: these bytes must satisfy this one too */
        uint8_t *copy = malloc(other->raw_len ? other->raw_len : 1);
        if (!copy) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        memcpy(copy, other->raw, other->raw_len);
        err = tuf_trusted_update_targets(&c->t, copy, other->raw_len, role, parent, "delegated role (via another delegator)");
        free(copy);
        if (err == FWT_OK) {
            *out = tuf_trusted_role_via(&c->t, role, parent);
        }
        return err;
    }
    char *mname = fmt("%s.json", role);
    if (!mname) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    const json_t *meta = json_object_get(json_object_get(c->t.snap->signed_, "meta"), mname);
    free(mname);
    if (!meta) {
        return fwt_fail(FWT_E_META, "the snapshot does not list role '%.64s'", role);
    }
    uint64_t cap = 0;
    err = meta_cap(meta, c->lim.max_targets_size, role, "the snapshot", &cap);
    if (err != FWT_OK) {
        return err;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (read_local(c, role, cap, &buf, &len) == FWT_OK) {
        err = tuf_trusted_update_targets(&c->t, buf, len, role, parent, "local metadata");
        free(buf);
        buf = NULL;
        if (err == FWT_OK) {
            *out = tuf_trusted_role_via(&c->t, role, parent);
            return FWT_OK;
        }
    }
    fwt_detail_clear();
    char *q = tuf_quote(role, 0);
    char *file = !q ? NULL
                 : consistent(c) ? fmt("%" JSON_INTEGER_FORMAT ".%s.json", json_integer_value(json_object_get(meta, "version")), q)
                                 : fmt("%s.json", q);
    free(q);
    if (!file) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    err = fetch_meta(c, file, cap, &buf, &len);
    if (err == FWT_OK) {
        err = tuf_trusted_update_targets(&c->t, buf, len, role, parent, file);
    }
    if (err == FWT_OK) {
        *out = tuf_trusted_role_via(&c->t, role, parent);
        err = persist(c, role, *out);
    }
    free(buf);
    free(file);
    return err;
}

/* ---- Public API ---- */

/* Largest trusted root.json init reads to compare (a refresh may have stored one above the default cap). */
#define INIT_OLD_ROOT_MAX (16u * 1024u * 1024u)

/*
 * May init put new (verified) over the trusted root at path? Absent, or the
 * same bytes (*same = 1): yes. A newer version: yes. An older version, the
 * same version with other bytes, or a file that is not root metadata: only
 * with FWT_TUF_INIT_REPLACE.
 */
static fwt_err init_may_replace(const char *path, const struct tuf_md *new, unsigned flags, int *same)
{
    *same = 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(path, INIT_OLD_ROOT_MAX, &buf, &len);
    if (err == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        return FWT_OK;
    }
    if (err == FWT_OK && len == new->raw_len && memcmp(buf, new->raw, len) == 0) {
        *same = 1;
        free(buf);
        return FWT_OK;
    }
    if (flags & FWT_TUF_INIT_REPLACE) {
        free(buf);
        fwt_detail_clear();
        return FWT_OK;
    }
    struct tuf_md *old = NULL;
    if (err == FWT_OK) {
        err = tuf_md_parse(buf, len, "root", path, &old);
    }
    free(buf);
    if (err != FWT_OK) {
        char why[256];
        snprintf(why, sizeof(why), "%s", fwt_detail());
        return fwt_fail(FWT_E_STATE, "%s holds a trusted root that cannot be read (%s); init replaces it only when asked to (--force)",
                        path, why);
    }
    int64_t have = old->version;
    tuf_md_free(old);
    if (new->version < have) {
        return fwt_fail(FWT_E_META_ROLLBACK, "root version %lld is older than the trusted root version %lld in %s; init "
                                             "replaces it only when asked to (--force)",
                        (long long)new->version, (long long)have, path);
    }
    if (new->version == have) {
        return fwt_fail(FWT_E_META_MISMATCH, "root version %lld differs from the trusted root of the same version in %s; "
                                             "init replaces it only when asked to (--force)",
                        (long long)have, path);
    }
    return FWT_OK;
}

fwt_err fwt_tuf_init(const char *metadata_dir, const uint8_t *root, size_t len)
{
    return fwt_tuf_init_flags(metadata_dir, root, len, 0);
}

fwt_err fwt_tuf_init_flags(const char *metadata_dir, const uint8_t *root, size_t len, unsigned flags)
{
    if (!metadata_dir || !root) {
        return fwt_fail(FWT_E_ARG, "metadata directory and root are required");
    }
    if (flags & ~(unsigned)FWT_TUF_INIT_REPLACE) {
        return fwt_fail(FWT_E_ARG, "unknown init flags 0x%x", flags);
    }
    struct tuf_md *m = NULL;
    fwt_err err = tuf_trusted_load_root(root, len, &m);
    if (err != FWT_OK) {
        return err;
    }
    err = fwt_mkdirs(metadata_dir, 0755); /* and the directories above it */
    if (err != FWT_OK) {
        tuf_md_free(m);
        return err;
    }
    char *p = fmt("%s/root.json", metadata_dir);
    int same = 0;
    err = p ? init_may_replace(p, m, flags, &same) : fwt_fail(FWT_E_NOMEM, "out of memory");
    tuf_md_free(m);
    if (err == FWT_OK && !same) {
        err = fwt_write_file_atomic(p, root, len, 0644);
    }
    free(p);
    return err;
}

void fwt_tuf_client_free(fwt_tuf_client *c)
{
    if (!c) {
        return;
    }
    tuf_trusted_free(&c->t);
    tuf_fetcher_free(c->f);
    for (int i = 0; i < 4; i++) {
        free(c->tr_str[i]);
    }
    free(c->dir);
    free(c->floor_path);
    free(c->murl);
    free(c->turl);
    free(c->t_name);
    free(c->t_role);
    free(c->t_sha256);
    free(c->t_sha512);
    free(c->t_custom);
    free(c);
}

fwt_err fwt_tuf_client_open(const struct fwt_tuf_client_opts *o, fwt_tuf_client **out)
{
    *out = NULL;
    if (!o || !o->metadata_dir) {
        return fwt_fail(FWT_E_ARG, "a metadata directory is required");
    }
    fwt_tuf_client *c = calloc(1, sizeof(*c));
    if (!c) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    c->lim = o->limits;
    if (!c->lim.max_root_size) c->lim.max_root_size = DEF_MAX_ROOT;
    if (!c->lim.max_timestamp_size) c->lim.max_timestamp_size = DEF_MAX_TIMESTAMP;
    if (!c->lim.max_snapshot_size) c->lim.max_snapshot_size = DEF_MAX_SNAPSHOT;
    if (!c->lim.max_targets_size) c->lim.max_targets_size = DEF_MAX_TARGETS;
    if (!c->lim.max_root_rotations) c->lim.max_root_rotations = DEF_ROOT_ROTATIONS;
    if (!c->lim.max_delegations) c->lim.max_delegations = DEF_DELEGATIONS;
    c->tr = o->transport;
    const char **s[4] = {&c->tr.ca_file, &c->tr.pinned_pubkey, &c->tr.client_cert, &c->tr.client_key};
    int oom = 0;
    for (int i = 0; i < 4; i++) {
        if (*s[i]) {
            c->tr_str[i] = strdup(*s[i]);
            oom |= !c->tr_str[i];
            *s[i] = c->tr_str[i];
        }
    }
    c->fixed_now = o->fixed_now;
    c->no_floor = o->no_time_floor;
    c->floor_path = o->time_floor_path ? xstrdup(o->time_floor_path) : fmt("%s/%s", o->metadata_dir, FLOOR_FILE);
    oom |= !c->floor_path;
    c->progress = o->progress;
    c->progress_ctx = o->progress_ctx;
    c->dir = xstrdup(o->metadata_dir);
    c->murl = with_slash(o->metadata_url);
    c->turl = with_slash(o->targets_url);
    if (oom || !c->dir || (o->metadata_url && !c->murl) || (o->targets_url && !c->turl)) {
        fwt_tuf_client_free(c);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = read_local(c, "root", c->lim.max_root_size, &buf, &len);
    if (err == FWT_E_NOT_FOUND) {
        err = fwt_fail(FWT_E_STATE, "%s/root.json: no trusted root (initialise the client first)", c->dir);
    }
    if (err == FWT_OK) {
        err = tuf_trusted_load_root(buf, len, &c->t.root);
    }
    free(buf);
    if (err == FWT_OK) {
        err = tuf_fetcher_new(&c->tr, &c->f);
    }
    if (err != FWT_OK) {
        fwt_tuf_client_free(c);
        return err;
    }
    *out = c;
    return FWT_OK;
}

/* Did the keys or threshold of role change between two roots? */
static int role_rotated(const json_t *a, const json_t *b, const char *role)
{
    const json_t *ra = json_object_get(json_object_get(a, "roles"), role);
    const json_t *rb = json_object_get(json_object_get(b, "roles"), role);
    if (!json_equal(json_object_get(ra, "threshold"), json_object_get(rb, "threshold")) ||
        !json_equal(json_object_get(ra, "keyids"), json_object_get(rb, "keyids"))) {
        return 1;
    }
    const json_t *ids = json_object_get(rb, "keyids");
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        if (!json_equal(json_object_get(json_object_get(a, "keys"), id),
                        json_object_get(json_object_get(b, "keys"), id))) {
            return 1;
        }
    }
    return 0;
}

/* Remove a trusted role file (durably). */
static fwt_err forget_file(const fwt_tuf_client *c, const char *role)
{
    char *p = role_path(c, role);
    if (!p) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err err = FWT_OK;
    if (unlink(p) == 0) {
        err = fwt_fsync_parent(p);
    } else if (errno != ENOENT) {
        err = fwt_fail(FWT_E_IO, "%s: cannot remove: %s", p, strerror(errno));
    }
    free(p);
    return err;
}

/* 5.3: the root chain, one version at a time, each verified and persisted; then 5.3.10. */
static fwt_err update_root(fwt_tuf_client *c)
{
    fwt_err err = FWT_OK;
    for (unsigned i = 0; i < c->lim.max_root_rotations; i++) {
        int64_t next = c->t.root->version + 1;
        char file[48];
        snprintf(file, sizeof(file), "%lld.root.json", (long long)next);
        uint8_t *buf = NULL;
        size_t len = 0;
        err = fetch_meta(c, file, c->lim.max_root_size, &buf, &len);
        if (err == FWT_E_NOT_FOUND) {
            fwt_detail_clear();
            err = FWT_OK;
            break;
        }
        int same = 0;
        json_t *prev = json_incref(c->t.root->signed_);
        if (err == FWT_OK) {
            err = tuf_trusted_update_root(&c->t, buf, len, next, &same);
        }
        free(buf);
        if (err == FWT_OK && same) {
            json_decref(prev);
            break; /* the trusted version again: discarded, go on with the trusted root */
        }
        /* 5.3.11: timestamp or snapshot keys rotated: delete the trusted timestamp and
         * snapshot (fast-forward recovery). Done as each root is accepted, before it is
         * persisted: a refresh that fails later (a bad next root, an expired final root)
         * must not leave a rotated root on disk beside the fast-forwarded files, which
         * the next refresh, starting from that root, would see no rotation for. (A local
         * copy whose keys were rotated away would not verify anyway.) */
        if (err == FWT_OK &&
            (role_rotated(prev, c->t.root->signed_, "timestamp") || role_rotated(prev, c->t.root->signed_, "snapshot"))) {
            err = forget_file(c, "timestamp");
            if (err == FWT_OK) {
                err = forget_file(c, "snapshot");
            }
        }
        json_decref(prev);
        if (err == FWT_OK) {
            err = persist(c, "root", c->t.root);
        }
        if (err != FWT_OK) {
            return err;
        }
    }
    /* 5.3.10: freeze attack on root (after persisting the chain). */
    return tuf_trusted_check_expiry(&c->t, c->t.root, "root");
}

/* 5.1: one fixed time for the whole update, never before the persisted floor. */
static fwt_err begin_update(fwt_tuf_client *c, time_t *now)
{
    if (!c->murl) {
        return fwt_fail(FWT_E_ARG, "no metadata URL given");
    }
    time_t floor = 0;
    *now = clock_now(c);
    fwt_err err = floor_read(c, &floor);
    if (err != FWT_OK) {
        return err;
    }
    c->t.ref = *now > floor ? *now : floor;
    c->refreshed = 0;
    tuf_trusted_set(&c->t.ts, NULL);
    tuf_trusted_set(&c->t.snap, NULL);
    tuf_trusted_forget_targets(&c->t);
    return FWT_OK;
}

fwt_err fwt_tuf_refresh_root(fwt_tuf_client *c)
{
    time_t now = 0;
    fwt_err err = begin_update(c, &now);
    if (err == FWT_OK) {
        err = update_root(c);
    }
    return err;
}

fwt_err fwt_tuf_refresh(fwt_tuf_client *c)
{
    time_t now = 0;
    fwt_err err = begin_update(c, &now);
    if (err != FWT_OK) {
        return err;
    }
    if ((err = update_root(c)) != FWT_OK) {
        return err;
    }
    if ((err = load_timestamp(c)) != FWT_OK) {
        return err;
    }
    if ((err = load_snapshot(c)) != FWT_OK) {
        return err;
    }
    struct tuf_md *t = NULL;
    if ((err = load_targets(c, "targets", "root", &t)) != FWT_OK) {
        return err;
    }
    if ((err = floor_write(c, now)) != FWT_OK) {
        return err;
    }
    c->refreshed = 1;
    return FWT_OK;
}

static fwt_err fill_target(fwt_tuf_client *c, const char *name, const char *role, const json_t *t,
                           struct fwt_tuf_target *out)
{
    /* new strings first: name may be the previous target's (a caller looking it up again) */
    const json_t *h = json_object_get(t, "hashes");
    const json_t *cu = json_object_get(t, "custom");
    char *n = strdup(name), *r = strdup(role);
    char *s256 = xstrdup(json_string_value(json_object_get(h, "sha256")));
    char *s512 = xstrdup(json_string_value(json_object_get(h, "sha512")));
    char *cj = cu ? json_dumps(cu, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    free(c->t_name);
    free(c->t_role);
    free(c->t_sha256);
    free(c->t_sha512);
    free(c->t_custom);
    c->t_name = n;
    c->t_role = r;
    c->t_sha256 = s256;
    c->t_sha512 = s512;
    c->t_custom = cj;
    if (!n || !r || (cu && !cj) || (json_object_get(h, "sha256") && !s256) ||
        (json_object_get(h, "sha512") && !s512)) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    out->name = c->t_name;
    out->role = c->t_role;
    out->length = (uint64_t)json_integer_value(json_object_get(t, "length"));
    out->sha256 = c->t_sha256;
    out->sha512 = c->t_sha512;
    out->custom_json = c->t_custom;
    return FWT_OK;
}

struct walk_item {
    char *role, *parent;
};

static void walk_free(struct walk_item *st, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(st[i].role);
        free(st[i].parent);
    }
}

/*
 * 5.6.7: pre-order depth-first walk of the delegations from targets, for one
 * target name (sc->name: a delegation is followed when it matches the name, a
 * terminating one ends the walk after its subtree) or for a scope pattern
 * (sc->pattern: followed when it may hold a name of the scope, ending the walk
 * only when it certainly covers all of them). Each role visited is loaded
 * (verified, persisted) and given to visit, which returns nonzero to stop. A
 * role that fails to load fails the walk. At most sc->budget roles are loaded:
 * a name search then ends (not found), a scope walk fails (it would miss roles).
 */
struct scope {
    const char *name, *pattern;
    unsigned budget;
};
typedef int (*walk_visit)(void *ctx, const char *role, const struct tuf_md *md);

static fwt_err walk(fwt_tuf_client *c, const struct scope *sc, walk_visit visit, void *vctx)
{
    size_t cap = 64, n = 0, nvis = 0;
    unsigned budget = sc->budget;
    struct walk_item *st = malloc(cap * sizeof(*st));
    char **visited = calloc(budget, sizeof(*visited));
    fwt_err err = FWT_OK;
    if (!st || !visited) {
        free(st);
        free(visited);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    st[n].role = strdup("targets");
    st[n].parent = strdup("root");
    n++;
    while (n > 0 && err == FWT_OK) {
        if (budget == 0) {
            if (sc->pattern) {
                err = fwt_fail(FWT_E_TOO_LARGE, "more than %u targets roles can hold targets "
                               "matching '%.200s'", sc->budget, sc->pattern);
            }
            break;
        }
        struct walk_item it = st[--n];
        int seen = 0;
        for (size_t i = 0; i < nvis; i++) {
            seen |= it.role && !strcmp(visited[i], it.role);
        }
        if (!it.role || !it.parent) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        struct tuf_md *md = NULL;
        if (err == FWT_OK && !seen) {
            err = load_targets(c, it.role, it.parent, &md);
            if (err != FWT_OK && sc->pattern && err != FWT_E_NOMEM) {
                char d[600];
                snprintf(d, sizeof(d), "%s", fwt_detail());
                err = fwt_fail(err, "role '%.64s' (delegated by '%.64s'), which can hold targets "
                               "matching '%.200s': %s", it.role, it.parent, sc->pattern, d);
            }
        }
        if (err == FWT_OK && md) {
            if (visit(vctx, it.role, md)) {
                free(it.role);
                free(it.parent);
                break;
            }
            visited[nvis++] = it.role;
            it.role = NULL;
            budget--;
            const json_t *d = json_object_get(md->signed_, "delegations");
            const json_t *roles = json_object_get(d, "roles");
            const json_t *succ = json_object_get(d, "succinct_roles");
            size_t first = n;
            const char *parent = visited[nvis - 1];
            /* the children to push: one bin for a name, every bin for a scope */
            uint64_t nbins = 0;
            if (d && succ) {
                int bits = (int)json_integer_value(json_object_get(succ, "bit_length"));
                nbins = sc->name ? 1 : bits >= 1 && bits <= 32 ? (uint64_t)1 << bits : 0;
                if (sc->pattern && nbins > budget) {
                    err = fwt_fail(FWT_E_TOO_LARGE, "%llu hash-bin roles can hold targets matching "
                                   "'%.200s', more than %u", (unsigned long long)nbins,
                                   sc->pattern ? sc->pattern : "", sc->budget);
                }
            }
            size_t nkids = succ ? (size_t)nbins : json_array_size(roles);
            for (size_t i = 0; d && i < nkids && err == FWT_OK; i++) {
                char *child = NULL;
                int term = 0;
                if (succ) {
                    if (sc->name) {
                        child = tuf_succinct_role_for(succ, sc->name);
                    } else {
                        const char *pre = json_string_value(json_object_get(succ, "name_prefix"));
                        char tmp[16];
                        int width = snprintf(tmp, sizeof(tmp), "%llx", (unsigned long long)(nbins - 1));
                        child = pre ? fmt("%s-%0*llx", pre, width, (unsigned long long)i) : NULL;
                    }
                    /* each name is in exactly one bin, and a bin delegation is terminating */
                    term = i == 0;
                    if (!child) {
                        err = fwt_fail(FWT_E_NOMEM, "out of memory");
                        break;
                    }
                } else {
                    const json_t *r = json_array_get(roles, i);
                    if (sc->name ? !tuf_role_matches(r, sc->name) : !tuf_role_may_hold(r, sc->pattern)) {
                        continue;
                    }
                    child = strdup(json_string_value(json_object_get(r, "name")));
                    term = json_is_true(json_object_get(r, "terminating")) &&
                           (sc->name || tuf_role_covers(r, sc->pattern));
                }
                if (term) {
                    /* a terminating role ends the search after its subtree: drop what was left */
                    walk_free(st, first);
                    memmove(st, st + first, (n - first) * sizeof(*st));
                    n -= first;
                    first = 0;
                }
                if (n == cap) {
                    struct walk_item *ns = realloc(st, 2 * cap * sizeof(*st));
                    if (!ns) {
                        free(child);
                        err = fwt_fail(FWT_E_NOMEM, "out of memory");
                        break;
                    }
                    st = ns;
                    cap *= 2;
                }
                st[n].role = child;
                st[n].parent = strdup(parent);
                n++;
                if (term && !succ) {
                    break;
                }
            }
            /* children were appended in order; visit the first one first */
            for (size_t a = first, b = n; a + 1 < b; a++, b--) {
                struct walk_item tmp = st[a];
                st[a] = st[b - 1];
                st[b - 1] = tmp;
            }
        }
        free(it.role);
        free(it.parent);
    }
    walk_free(st, n);
    free(st);
    for (size_t i = 0; i < nvis; i++) {
        free(visited[i]);
    }
    free(visited);
    return err;
}

struct found {
    fwt_tuf_client *c;
    const char *name;
    const char *role;
    const json_t *t;
};

static int found_visit(void *ctx, const char *role, const struct tuf_md *md)
{
    struct found *f = ctx;
    const json_t *t = json_object_get(json_object_get(md->signed_, "targets"), f->name);
    if (!t) {
        return 0;
    }
    f->t = t;
    f->role = tuf_trusted_role(&f->c->t, role) == f->c->t.targets ? "targets" : NULL;
    for (size_t i = 0; i < f->c->t.ndr && !f->role; i++) {
        if (f->c->t.dr[i].md == md) {
            f->role = f->c->t.dr[i].name;
        }
    }
    return 1;
}

/* 5.6.7: the search for name. found_role, found: where it is (NULL: not found). */
static fwt_err search(fwt_tuf_client *c, const char *name, const char **found_role, const json_t **found)
{
    struct scope sc = {name, NULL, c->lim.max_delegations};
    struct found f = {c, name, NULL, NULL};
    fwt_err err = walk(c, &sc, found_visit, &f);
    *found_role = err == FWT_OK ? f.role : NULL;
    *found = err == FWT_OK ? f.t : NULL;
    return err;
}

static fwt_err ensure_refreshed(fwt_tuf_client *c)
{
    return c->refreshed ? FWT_OK : fwt_tuf_refresh(c);
}

fwt_err fwt_tuf_get_target(fwt_tuf_client *c, const char *name, struct fwt_tuf_target *out)
{
    if (!name) {
        return fwt_fail(FWT_E_ARG, "no target name");
    }
    fwt_err err = ensure_refreshed(c);
    const char *role = NULL;
    const json_t *t = NULL;
    if (err == FWT_OK) {
        err = search(c, name, &role, &t);
    }
    if (err == FWT_OK && !t) {
        err = fwt_fail(FWT_E_NOT_FOUND, "target '%.200s': no trusted role lists it", name);
    }
    if (err == FWT_OK) {
        err = fill_target(c, name, role, t, out);
    }
    return err;
}

/* Each name (keys of names) as the search resolves it, to cb; names no trusted role
 * delivers are left out (listed only by a role not delegated that path). */
static fwt_err resolve_names(fwt_tuf_client *c, json_t *names, fwt_tuf_target_cb cb, void *ctx)
{
    const char *n;
    json_t *v;
    fwt_err err = FWT_OK;
    json_object_foreach(names, n, v) {
        const char *role = NULL;
        const json_t *t = NULL;
        struct fwt_tuf_target tg;
        if ((err = search(c, n, &role, &t)) != FWT_OK) {
            break;
        }
        if (t && ((err = fill_target(c, n, role, t, &tg)) != FWT_OK || cb(ctx, &tg) != 0)) {
            break;
        }
    }
    return err;
}

fwt_err fwt_tuf_list_targets(fwt_tuf_client *c, fwt_tuf_target_cb cb, void *ctx)
{
    fwt_err err = ensure_refreshed(c);
    if (err != FWT_OK) {
        return err;
    }
    /* 1. every target name of every reachable role (breadth first, bounded). A role
     * that fails to load through one delegator may still load through another (the
     * search, depth first, may reach it that way): the listing fails only when a
     * reachable role loads through none of the delegators it was reached through. */
    json_t *names = json_object();
    json_t *queue = json_array(), *seen = json_object(), *tried = json_object();
    fwt_err first_err = FWT_OK;
    char *first_detail = NULL;
    if (!names || !queue || !seen || !tried ||
        json_array_append_new(queue, json_pack("[ss]", "targets", "root")) != 0) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (size_t qi = 0; err == FWT_OK && qi < json_array_size(queue); qi++) {
        if (qi >= LIST_MAX_ROLES) {
            err = fwt_fail(FWT_E_TOO_LARGE, "more than %u delegated roles", LIST_MAX_ROLES);
            break;
        }
        const char *role = json_string_value(json_array_get(json_array_get(queue, qi), 0));
        const char *parent = json_string_value(json_array_get(json_array_get(queue, qi), 1));
        json_t *via = json_object_get(tried, role);
        if (json_object_get(seen, role) || json_object_get(via, parent)) {
            continue;
        }
        if (!via && (json_object_set_new(tried, role, json_object()) != 0 || !(via = json_object_get(tried, role)))) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
            break;
        }
        json_object_set_new(via, parent, json_true());
        struct tuf_md *md = NULL;
        if ((err = load_targets(c, role, parent, &md)) != FWT_OK) {
            if (err == FWT_E_NOMEM) {
                break;
            }
            if (first_err == FWT_OK) {
                first_err = err;
                first_detail = strdup(fwt_detail());
            }
            err = FWT_OK;
            continue;
        }
        json_object_set_new(seen, role, json_true());
        const char *n;
        json_t *v;
        json_object_foreach(json_object_get(md->signed_, "targets"), n, v) {
            json_object_set_new(names, n, json_true());
        }
        const json_t *d = json_object_get(md->signed_, "delegations");
        const json_t *roles = json_object_get(d, "roles");
        for (size_t i = 0; i < json_array_size(roles); i++) {
            json_array_append_new(queue, json_pack("[ss]", json_string_value(json_object_get(json_array_get(roles, i), "name")), role));
        }
        const json_t *succ = json_object_get(d, "succinct_roles");
        if (succ) {
            int bits = (int)json_integer_value(json_object_get(succ, "bit_length"));
            const char *prefix = json_string_value(json_object_get(succ, "name_prefix"));
            uint64_t nb = (uint64_t)1 << bits;
            char tmp[16];
            int width = snprintf(tmp, sizeof(tmp), "%llx", (unsigned long long)(nb - 1));
            for (uint64_t b = 0; b < nb && json_array_size(queue) <= LIST_MAX_ROLES; b++) {
                char *bn = fmt("%s-%0*llx", prefix, width, (unsigned long long)b);
                json_array_append_new(queue, json_pack("[ss]", bn ? bn : "", role));
                free(bn);
            }
        }
    }
    const char *n;
    json_t *v;
    json_object_foreach(err == FWT_OK && first_err != FWT_OK ? tried : NULL, n, v) {
        if (!json_object_get(seen, n)) {
            err = fwt_fail(first_err, "%s", first_detail ? first_detail : "a delegated role could not be loaded");
            break;
        }
    }
    free(first_detail);
    /* 2. each name resolved by the real search (delegated paths respected) */
    if (err == FWT_OK) {
        err = resolve_names(c, names, cb, ctx);
    }
    json_decref(names);
    json_decref(queue);
    json_decref(seen);
    json_decref(tried);
    return err;
}

struct scope_names {
    const char *pattern;
    json_t *names;
    int oom;
};

/* Target path against a scope pattern, as a delegation's paths are matched. */
static int scope_visit(void *ctx, const char *role, const struct tuf_md *md)
{
    struct scope_names *sn = ctx;
    json_t *paths = json_pack("{s:[s]}", "paths", sn->pattern);
    const char *n;
    json_t *v;
    (void)role;
    sn->oom |= !paths;
    json_object_foreach(json_object_get(md->signed_, "targets"), n, v) {
        if (paths && tuf_role_matches(paths, n) && json_object_set_new(sn->names, n, json_true()) != 0) {
            sn->oom = 1;
        }
    }
    json_decref(paths);
    return sn->oom;
}

fwt_err fwt_tuf_list_targets_matching(fwt_tuf_client *c, const char *pattern, fwt_tuf_target_cb cb, void *ctx)
{
    if (!pattern || !*pattern) {
        return fwt_fail(FWT_E_ARG, "no target pattern");
    }
    fwt_err err = ensure_refreshed(c);
    if (err != FWT_OK) {
        return err;
    }
    /* 1. the names in scope, from the roles that can hold them (and no other) */
    struct scope sc = {NULL, pattern, LIST_MAX_ROLES};
    struct scope_names sn = {pattern, json_object(), 0};
    err = sn.names ? walk(c, &sc, scope_visit, &sn) : FWT_OK;
    if (err == FWT_OK && (sn.oom || !sn.names)) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    /* 2. each resolved by the real search (a role listing a path it was not delegated,
     * or shadowed by a terminating delegation, does not deliver it) */
    if (err == FWT_OK) {
        err = resolve_names(c, sn.names, cb, ctx);
    }
    json_decref(sn.names);
    return err;
}

struct dl {
    fwt_tuf_client *c;
    struct tuf_hash_state hs;
    fwt_tuf_write_cb write;
    void *ctx;
    uint64_t done, total;
    int hash_failed;
};

static int dl_sink(void *ctx, const uint8_t *data, size_t len)
{
    struct dl *d = ctx;
    if (tuf_hash_state_update(&d->hs, data, len) != FWT_OK) {
        d->hash_failed = 1;
        return -1;
    }
    d->done += len;
    if (d->c->progress) {
        d->c->progress(d->c->progress_ctx, d->done, d->total);
    }
    return d->write(d->ctx, data, len);
}

/* The target entry as trusted metadata holds it (for t from this client). */
static const json_t *target_entry(const fwt_tuf_client *c, const struct fwt_tuf_target *t)
{
    const struct tuf_md *md = t->role ? tuf_trusted_role(&c->t, t->role) : NULL;
    return md && t->name ? json_object_get(json_object_get(md->signed_, "targets"), t->name) : NULL;
}

fwt_err fwt_tuf_download(fwt_tuf_client *c, const struct fwt_tuf_target *t, fwt_tuf_write_cb write, void *ctx)
{
    if (!c->turl) {
        return fwt_fail(FWT_E_ARG, "no target base URL given");
    }
    const json_t *e = target_entry(c, t);
    if (!e) {
        return fwt_fail(FWT_E_ARG, "target '%.200s' is not from this client's trusted metadata", t->name ? t->name : "");
    }
    const json_t *hashes = json_object_get(e, "hashes");
    uint64_t length = (uint64_t)json_integer_value(json_object_get(e, "length"));
    /* 5.7.3: consistent snapshots fetch DIR/HASH.BASENAME (the first hash listed) */
    char *path = NULL;
    if (consistent(c)) {
        const char *h = NULL;
        const char *alg;
        json_t *v;
        json_object_foreach((json_t *)(uintptr_t)hashes, alg, v) {
            h = json_string_value(v);
            break;
        }
        const char *slash = strrchr(t->name, '/');
        size_t dl = slash ? (size_t)(slash - t->name + 1) : 0;
        path = fmt("%.*s%s.%s", (int)dl, t->name, h ? h : "", t->name + dl);
    } else {
        path = strdup(t->name);
    }
    char *q = path ? tuf_quote(path, 1) : NULL;
    char *url = q ? fmt("%s%s", c->turl, q) : NULL;
    free(path);
    free(q);
    if (!url) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    struct dl d = {c, {{0}, {0}, {0}, 0}, write, ctx, 0, length, 0};
    fwt_err err = tuf_hash_state_init(&d.hs, hashes, t->name);
    if (err == FWT_OK) {
        err = tuf_fetch(c->f, url, length, dl_sink, &d);
        if (err == FWT_E_IO && d.hash_failed) {
            err = fwt_fail(FWT_E_CRYPTO, "hashing failed");
        }
        if (err == FWT_OK && d.done != length) {
            err = fwt_fail(FWT_E_META_MISMATCH, "target '%.200s': %llu bytes, the metadata says %llu", t->name,
                           (unsigned long long)d.done, (unsigned long long)length);
        }
        if (err == FWT_OK) {
            err = tuf_hash_state_final(&d.hs, t->name);
            if (err == FWT_E_META_MISMATCH) {
                fwt_fail(err, "target '%.200s': %s", t->name, fwt_detail());
            }
        } else {
            tuf_hash_state_free(&d.hs);
        }
    }
    free(url);
    return err;
}

struct file_sink {
    int fd;
};

static int fd_write(void *ctx, const uint8_t *data, size_t len)
{
    struct file_sink *s = ctx;
    while (len) {
        ssize_t w = write(s->fd, data, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

fwt_err fwt_tuf_download_file(fwt_tuf_client *c, const struct fwt_tuf_target *t, const char *path, int *cached)
{
    if (cached) {
        *cached = 0;
    }
    const json_t *e = target_entry(c, t);
    if (!e || !path) {
        return fwt_fail(FWT_E_ARG, "target '%.200s' is not from this client's trusted metadata",
                        t && t->name ? t->name : "");
    }
    uint64_t length = (uint64_t)json_integer_value(json_object_get(e, "length"));
    /* already there with the right length and hashes: nothing to fetch */
    if (access(path, F_OK) == 0 && length < SIZE_MAX) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (fwt_read_file(path, (size_t)length, &buf, &len) == FWT_OK && len == length &&
            tuf_check_metafile_bytes(e, buf, len, t->name) == FWT_OK) {
            free(buf);
            if (cached) {
                *cached = 1;
            }
            return FWT_OK;
        }
        free(buf);
        fwt_detail_clear();
    }
    char *tmp = fmt("%s.tmp.XXXXXX", path);
    if (!tmp) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    struct file_sink s = {mkstemp(tmp)};
    if (s.fd < 0) {
        fwt_err err = fwt_fail(FWT_E_IO, "%s: cannot create a temporary file: %s", path, strerror(errno));
        free(tmp);
        return err;
    }
    fwt_err err = fwt_tuf_download(c, t, fd_write, &s);
    if (err == FWT_OK && (fchmod(s.fd, 0644) != 0 || fsync(s.fd) != 0)) {
        err = fwt_fail(FWT_E_IO, "%s: %s", tmp, strerror(errno));
    }
    if (close(s.fd) != 0 && err == FWT_OK) {
        err = fwt_fail(FWT_E_IO, "%s: %s", tmp, strerror(errno));
    }
    if (err == FWT_OK && rename(tmp, path) != 0) {
        err = fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
    }
    if (err == FWT_OK) {
        err = fwt_fsync_parent(path);
    } else {
        unlink(tmp);
    }
    free(tmp);
    return err;
}

uint64_t fwt_tuf_role_version(const fwt_tuf_client *c, const char *role)
{
    const struct tuf_md *m = !strcmp(role, "root") ? c->t.root
                             : !strcmp(role, "timestamp") ? c->t.ts
                             : !strcmp(role, "snapshot") ? c->t.snap
                                                         : tuf_trusted_role(&c->t, role);
    return m ? (uint64_t)m->version : 0;
}

time_t fwt_tuf_role_expires(const fwt_tuf_client *c, const char *role)
{
    const struct tuf_md *m = !strcmp(role, "root") ? c->t.root
                             : !strcmp(role, "timestamp") ? c->t.ts
                             : !strcmp(role, "snapshot") ? c->t.snap
                                                         : tuf_trusted_role(&c->t, role);
    return m ? m->expires : 0;
}
