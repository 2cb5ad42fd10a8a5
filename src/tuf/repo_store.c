/*
 * fwtrust repo: files, transactions, metadata parsing and the repository's
 * published/staged state.
 */
#include "repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
    *env = NULL;
    struct tuf_md *m = NULL;
    fwt_err err = tuf_md_parse(buf, len, type, what, &m);
    if (err != FWT_OK) {
        return err;
    }
    json_t *sigs = json_object_get(m->env, "signatures");
    size_t i;
    json_t *s;
    json_array_foreach(sigs, i, s) {
        const char *kid = json_string_value(json_object_get(s, "keyid"));
        const char *sig = json_string_value(json_object_get(s, "sig"));
        if (!is_hex(kid, 64, 64) || !is_hex(sig, 0, 4096)) {
            tuf_md_free(m);
            return fwt_fail(FWT_E_META, "%s: signature %zu is not {\"keyid\": 64 hex, \"sig\": hex}", what, i);
        }
    }
    *env = json_incref(m->env);
    tuf_md_free(m);
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

/* ---- state-changing file operations ----
 *
 * Every call that changes the file system goes through one of these: in the crash-test
 * build (FWT_REPO_FAULT_HOOK, only in the test program fwtrust-repo-crashtest, never in
 * fwtrust) FWT_FAULT_AT=N makes the N-th such call _exit(REPO_FAULT_EXIT) instead, as if
 * the machine lost power there. In every other build fault_point() is empty. */

#ifdef FWT_REPO_FAULT_HOOK
static void fault_point(void)
{
    static long at = -1;
    static long count;
    if (at < 0) {
        const char *e = getenv("FWT_FAULT_AT");
        char *end = NULL;
        long v = e && *e ? strtol(e, &end, 10) : 0;
        at = (end && *end == '\0' && v > 0) ? v : 0;
    }
    if (at > 0 && ++count == at) {
        _exit(REPO_FAULT_EXIT);
    }
}
#else
static inline void fault_point(void)
{
}
#endif

int repo_fs_mkdir(const char *path)
{
    fault_point();
    return mkdir(path, 0755);
}

int repo_fs_rmdir(const char *path)
{
    fault_point();
    return rmdir(path);
}

static int fs_rename(const char *from, const char *to)
{
    fault_point();
    return rename(from, to);
}

static int fs_unlink(const char *path)
{
    fault_point();
    return unlink(path);
}

static int fs_link(const char *from, const char *to)
{
    fault_point();
    return link(from, to);
}

static int fs_create(const char *path)
{
    fault_point();
    return open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
}

static int fs_fsync(int fd)
{
    fault_point();
    return fsync(fd);
}

fwt_err repo_fs_write_all(int fd, const void *buf, size_t len, const char *what)
{
    fault_point();
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return fwt_fail(FWT_E_IO, "writing %s: %s", what, w < 0 ? strerror(errno) : "no progress (disk full?)");
        }
        p += w;
        len -= (size_t)w;
    }
    return FWT_OK;
}

static fwt_err fs_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "%s: %s", dir, strerror(errno));
    }
    int rc = fs_fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) {
        return fwt_fail(FWT_E_IO, "%s: fsync: %s", dir, strerror(e));
    }
    return FWT_OK;
}

static fwt_err fs_fsync_parent(const char *path)
{
    char *d = strdup(path);
    if (!d) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    char *slash = strrchr(d, '/');
    fwt_err err = FWT_OK;
    if (slash && slash != d) {
        *slash = '\0';
        err = fs_fsync_dir(d);
    }
    free(d);
    return err;
}

/* Write a whole new file (it must not exist) and fsync it. */
static fwt_err fs_write_new(const char *path, const void *buf, size_t len)
{
    int fd = fs_create(path);
    if (fd < 0) {
        return fwt_fail(FWT_E_IO, "cannot create %s: %s", path, strerror(errno));
    }
    fwt_err err = repo_fs_write_all(fd, buf, len, path);
    if (err == FWT_OK && fs_fsync(fd) != 0) {
        err = fwt_fail(FWT_E_IO, "fsync %s: %s", path, strerror(errno));
    }
    if (close(fd) != 0 && err == FWT_OK) {
        err = fwt_fail(FWT_E_IO, "close %s: %s", path, strerror(errno));
    }
    return err;
}

/* ---- transactions (journaled; docs/repository.md "Atomicity") ----
 *
 * DIR/.txn/ holds a transaction in progress, beside metadata/ and targets/ (never in a
 * served directory, on the same file system so renames are atomic):
 *   ID          the new bytes of entry ID (written and fsynced before the journal)
 *   old.ID      a hard link to the file entry ID replaces or deletes (for roll back)
 *   journal     the list of entries: once it exists the transaction is committed and is
 *               completed (rolled forward) by whoever finds it
 *   undo        the journal, renamed when a failure during apply rolls the transaction back
 * Without journal or undo, .txn/ holds an uncommitted transaction: it is discarded. */

struct txn_op {
    const char *rel;
    unsigned id;
    int is_delete, same, backup;
    const uint8_t *sha;
};

static char *txn_jpath(const char *jdir, const char *prefix, unsigned id)
{
    size_t len = strlen(jdir) + strlen(prefix) + 16;
    char *p = malloc(len);
    if (p) {
        snprintf(p, len, "%s/%s%u", jdir, prefix, id);
    }
    return p;
}

static char *txn_join(const char *a, const char *b)
{
    size_t len = strlen(a) + strlen(b) + 2;
    char *p = malloc(len);
    if (p) {
        snprintf(p, len, "%s/%s", a, b);
    }
    return p;
}

/* 1 when path is a regular file whose SHA-256 is sha (streamed: target files may be large). */
static int file_has_sha(const char *path, const uint8_t sha[32])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) {
            close(fd);
        }
        return 0;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = ok ? read(fd, buf, sizeof(buf)) : 0;
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            ok = 0;
        }
        if (n <= 0) {
            break;
        }
        ok = EVP_DigestUpdate(md, buf, (size_t)n) == 1;
    }
    close(fd);
    uint8_t dg[32];
    unsigned dl = 0;
    ok = ok && EVP_DigestFinal_ex(md, dg, &dl) == 1 && dl == 32 && fwt_ct_compare(dg, sha, 32) == 0;
    EVP_MD_CTX_free(md);
    return ok;
}

/* Create the missing directories above path (below dir). made (may be NULL) collects them. */
static fwt_err txn_mkparents(const char *dir, const char *path, char **made, size_t *n_made, size_t cap)
{
    char *tmp = strdup(path);
    if (!tmp) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err err = FWT_OK;
    for (char *s = tmp + strlen(dir) + 1; *s && err == FWT_OK; s++) {
        if (*s != '/') {
            continue;
        }
        *s = '\0';
        struct stat st;
        if (lstat(tmp, &st) != 0) {
            if (repo_fs_mkdir(tmp) != 0 && errno != EEXIST) {
                err = fwt_fail(FWT_E_IO, "cannot create directory %s: %s", tmp, strerror(errno));
            } else {
                err = fs_fsync_parent(tmp);
                if (made && *n_made < cap) {
                    made[(*n_made)++] = strdup(tmp);
                }
            }
        } else if (!S_ISDIR(st.st_mode)) {
            err = fwt_fail(FWT_E_IO, "%s is not a directory", tmp);
        }
        *s = '/';
    }
    free(tmp);
    return err;
}

/* Make one entry happen. Idempotent: an entry done before a crash is recognised (the new
 * file gone from .txn/ and the bytes in place, or the deleted file gone). */
static fwt_err txn_apply(const char *dir, const char *jdir, const struct txn_op *op, char **made, size_t *n_made,
                         size_t cap)
{
    char *path = txn_join(dir, op->rel);
    char *tmp = txn_jpath(jdir, "", op->id);
    fwt_err err = FWT_OK;
    struct stat st;
    if (!path || !tmp) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    } else if (op->is_delete) {
        if (fs_unlink(path) != 0 && errno != ENOENT) {
            err = fwt_fail(FWT_E_IO, "cannot remove %s: %s", path, strerror(errno));
        } else {
            err = fs_fsync_parent(path);
        }
    } else if (op->same) {
        /* the file holds these bytes already */
    } else if (lstat(tmp, &st) == 0) {
        err = txn_mkparents(dir, path, made, n_made, cap);
        if (err == FWT_OK && fs_rename(tmp, path) != 0) {
            err = fwt_fail(FWT_E_IO, "cannot rename into %s: %s", path, strerror(errno));
        }
        if (err == FWT_OK) {
            err = fs_fsync_parent(path);
        }
    } else if (!file_has_sha(path, op->sha)) {
        err = fwt_fail(FWT_E_STATE, "cannot complete the interrupted operation: %s has neither its new bytes "
                       "nor a copy in %s", path, jdir);
    }
    free(path);
    free(tmp);
    return err;
}

/* Undo one entry (idempotent as well). */
static fwt_err txn_revert(const char *dir, const char *jdir, const struct txn_op *op)
{
    char *path = txn_join(dir, op->rel);
    char *old = txn_jpath(jdir, "old.", op->id);
    fwt_err err = FWT_OK;
    struct stat st;
    if (!path || !old) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    } else if (op->same) {
        /* nothing was changed */
    } else if (op->backup) {
        if (lstat(old, &st) == 0) {
            if (fs_rename(old, path) != 0) {
                err = fwt_fail(FWT_E_IO, "cannot restore %s: %s", path, strerror(errno));
            } else {
                err = fs_fsync_parent(path);
            }
        }
    } else if (!op->is_delete && file_has_sha(path, op->sha)) {
        if (fs_unlink(path) != 0) {
            err = fwt_fail(FWT_E_IO, "cannot remove %s: %s", path, strerror(errno));
        } else {
            err = fs_fsync_parent(path);
        }
    }
    free(path);
    free(old);
    return err;
}

/* Remove .txn/ (journal first, so a crash here leaves an uncommitted, discardable one). */
static fwt_err txn_discard(const char *dir, const char *jdir)
{
    static const char *const first[2] = {"journal", "undo"};
    fwt_err err = FWT_OK;
    for (int i = 0; i < 2 && err == FWT_OK; i++) {
        char *p = txn_join(jdir, first[i]);
        if (!p) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        if (fs_unlink(p) == 0) {
            err = fs_fsync_dir(jdir);
        } else if (errno != ENOENT) {
            err = fwt_fail(FWT_E_IO, "cannot remove %s: %s", p, strerror(errno));
        }
        free(p);
    }
    DIR *d = err == FWT_OK ? opendir(jdir) : NULL;
    if (err == FWT_OK && !d) {
        return errno == ENOENT ? FWT_OK : fwt_fail(FWT_E_IO, "%s: %s", jdir, strerror(errno));
    }
    struct dirent *de;
    while (err == FWT_OK && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        char *p = txn_join(jdir, de->d_name);
        if (!p) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else if (fs_unlink(p) != 0 && errno != ENOENT) {
            err = fwt_fail(FWT_E_IO, "cannot remove %s: %s", p, strerror(errno));
        }
        free(p);
    }
    if (d) {
        closedir(d);
    }
    if (err == FWT_OK && repo_fs_rmdir(jdir) != 0 && errno != ENOENT) {
        err = fwt_fail(FWT_E_IO, "cannot remove %s: %s", jdir, strerror(errno));
    }
    if (err == FWT_OK) {
        err = fs_fsync_dir(dir);
    }
    return err;
}

void repo_txn_init(struct repo_txn *t, const char *dir)
{
    memset(t, 0, sizeof(*t));
    t->dir = dir; /* borrowed: allocates nothing, so an early return needs no repo_txn_free */
}

static fwt_err txn_start(struct repo_txn *t)
{
    if (t->have_jdir) {
        return FWT_OK;
    }
    if (!t->jdir && t->dir) {
        t->jdir = txn_join(t->dir, REPO_TXN_DIR);
    }
    if (!t->dir || !t->jdir) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (repo_fs_mkdir(t->jdir) != 0) {
        if (errno == EEXIST) {
            return fwt_fail(FWT_E_STATE, "%s exists: another command is running, or one was interrupted "
                            "(see 'fwtrust repo status %s')", t->jdir, t->dir);
        }
        return fwt_fail(FWT_E_IO, "cannot create %s: %s", t->jdir, strerror(errno));
    }
    t->have_jdir = 1;
    return FWT_OK;
}

static fwt_err txn_add(struct repo_txn *t, const char *path, int del, unsigned id, const uint8_t sha[32])
{
    size_t dl = t->dir ? strlen(t->dir) : 0;
    if (!t->dir || strncmp(path, t->dir, dl) != 0 || path[dl] != '/' || path[dl + 1] == '\0') {
        return fwt_fail(FWT_E_INTERNAL, "%s is outside the repository", path);
    }
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(t->e[i].path, path)) {
            return fwt_fail(FWT_E_INTERNAL, "%s is written twice in one transaction", path);
        }
    }
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
    e->rel = e->path + dl + 1;
    e->is_delete = del;
    e->id = id;
    if (sha) {
        memcpy(e->sha, sha, 32);
    }
    t->n++;
    return FWT_OK;
}

fwt_err repo_txn_write(struct repo_txn *t, const char *path, const void *data, size_t len)
{
    fwt_err err = txn_start(t);
    if (err != FWT_OK) {
        return err;
    }
    unsigned id = t->next_id++;
    uint8_t sha[32];
    char *tmp = txn_jpath(t->jdir, "", id);
    if (!tmp) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    err = fwt_sha256(data, len, sha);
    if (err == FWT_OK) {
        err = fs_write_new(tmp, data, len);
    }
    if (err == FWT_OK) {
        err = txn_add(t, path, 0, id, sha);
    }
    free(tmp);
    return err;
}

fwt_err repo_txn_delete(struct repo_txn *t, const char *path)
{
    return txn_add(t, path, 1, t->next_id++, NULL);
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

fwt_err repo_txn_file_begin(struct repo_txn *t, int *fd, unsigned *id)
{
    fwt_err err = txn_start(t);
    if (err != FWT_OK) {
        return err;
    }
    *id = t->next_id++;
    char *tmp = txn_jpath(t->jdir, "", *id);
    if (!tmp) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    *fd = fs_create(tmp);
    if (*fd < 0) {
        err = fwt_fail(FWT_E_IO, "cannot create %s: %s", tmp, strerror(errno));
    }
    free(tmp);
    return err;
}

fwt_err repo_txn_file_end(struct repo_txn *t, int fd, unsigned id, const char *path, const uint8_t sha[32])
{
    fwt_err err = FWT_OK;
    if (fchmod(fd, 0644) != 0 || fs_fsync(fd) != 0) {
        err = fwt_fail(FWT_E_IO, "%s/%u: %s", t->jdir, id, strerror(errno));
    }
    if (close(fd) != 0 && err == FWT_OK) {
        err = fwt_fail(FWT_E_IO, "%s/%u: close: %s", t->jdir, id, strerror(errno));
    }
    if (err == FWT_OK && path) {
        err = txn_add(t, path, 0, id, sha);
    }
    return err;
}

static void op_of(const struct repo_txn_entry *e, struct txn_op *op)
{
    op->rel = e->rel;
    op->id = e->id;
    op->is_delete = e->is_delete;
    op->same = e->same;
    op->backup = e->backup;
    op->sha = e->sha;
}

static fwt_err txn_write_journal(struct repo_txn *t)
{
    json_t *ents = json_array();
    json_t *j = json_pack("{s:i, s:o}", "fwtrust_txn", 1, "entries", ents);
    if (!j) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct repo_txn_entry *e = &t->e[i];
        char hex[65];
        fwt_hex_encode(e->sha, 32, hex);
        json_array_append_new(ents, json_pack("{s:s, s:s, s:I, s:s, s:b, s:b}", "op", e->is_delete ? "delete" : "write",
                                              "path", e->rel, "id", (json_int_t)e->id, "sha256", hex, "same", e->same,
                                              "backup", e->backup));
    }
    char *buf = NULL;
    size_t len = 0;
    fwt_err err = repo_json_dump(j, &buf, &len);
    json_decref(j);
    char *tmp = txn_join(t->jdir, "journal.new");
    char *fin = txn_join(t->jdir, "journal");
    if (err == FWT_OK && (!tmp || !fin)) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (err == FWT_OK) {
        err = fs_write_new(tmp, buf, len);
    }
    if (err == FWT_OK && fs_rename(tmp, fin) != 0) {
        err = fwt_fail(FWT_E_IO, "cannot rename %s: %s", tmp, strerror(errno));
    }
    if (err == FWT_OK) {
        err = fs_fsync_dir(t->jdir);
    }
    free(buf);
    free(tmp);
    free(fin);
    return err;
}

fwt_err repo_txn_commit(struct repo_txn *t)
{
    if (t->n == 0) {
        return FWT_OK;
    }
    fwt_err err = txn_start(t);
    /* 1. What is there now: identical files are left alone, others are kept as old.ID. */
    for (size_t i = 0; i < t->n && err == FWT_OK; i++) {
        struct repo_txn_entry *e = &t->e[i];
        struct stat st;
        if (lstat(e->path, &st) != 0) {
            if (errno != ENOENT) {
                err = fwt_fail(FWT_E_IO, "%s: %s", e->path, strerror(errno));
            }
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            err = fwt_fail(FWT_E_IO, "%s is not a regular file", e->path);
            break;
        }
        if (!e->is_delete && file_has_sha(e->path, e->sha)) {
            e->same = 1;
            continue;
        }
        char *old = txn_jpath(t->jdir, "old.", e->id);
        if (!old) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else if (fs_link(e->path, old) != 0) {
            err = fwt_fail(FWT_E_IO, "cannot keep a copy of %s: %s", e->path, strerror(errno));
        } else {
            e->backup = 1;
        }
        free(old);
    }
    /* 2. The new files and the copies are durable; then the journal commits. */
    if (err == FWT_OK) {
        err = fs_fsync_dir(t->jdir);
    }
    if (err == FWT_OK) {
        err = fs_fsync_dir(t->dir);
    }
    if (err == FWT_OK) {
        err = txn_write_journal(t);
    }
    if (err != FWT_OK) {
        fwt_err e2 = txn_discard(t->dir, t->jdir);
        t->have_jdir = e2 != FWT_OK;
        return err;
    }
    /* 3. Apply in order. */
    size_t done = 0;
    for (; done < t->n && err == FWT_OK; done++) {
        struct txn_op op;
        op_of(&t->e[done], &op);
        err = txn_apply(t->dir, t->jdir, &op, t->made_dirs, &t->n_dirs,
                        sizeof(t->made_dirs) / sizeof(t->made_dirs[0]));
    }
    if (err == FWT_OK) {
        err = txn_discard(t->dir, t->jdir);
        t->have_jdir = err != FWT_OK;
        if (err != FWT_OK) {
            /* Committed and applied: only .txn/ is left over; the next command removes it. */
            fwt_detail_clear();
            err = FWT_OK;
        }
        return err;
    }
    /* 4. A failure while applying: roll back (the journal becomes the undo list first, so a
     * crash during the roll back is rolled back too). */
    char saved[512];
    snprintf(saved, sizeof(saved), "%s", fwt_detail());
    char *j = txn_join(t->jdir, "journal");
    char *u = txn_join(t->jdir, "undo");
    if (j && u && fs_rename(j, u) == 0 && fs_fsync_dir(t->jdir) == FWT_OK) {
        fwt_err e2 = FWT_OK;
        for (size_t i = done; i-- > 0;) {
            struct txn_op op;
            op_of(&t->e[i], &op);
            if (txn_revert(t->dir, t->jdir, &op) != FWT_OK) {
                e2 = FWT_E_IO;
            }
        }
        for (size_t i = t->n_dirs; i-- > 0;) {
            (void)repo_fs_rmdir(t->made_dirs[i]);
        }
        if (e2 == FWT_OK && txn_discard(t->dir, t->jdir) == FWT_OK) {
            t->have_jdir = 0;
        }
    }
    free(j);
    free(u);
    return fwt_fail(err, "%s", saved);
}

void repo_txn_free(struct repo_txn *t)
{
    if (t->have_jdir && t->jdir) {
        /* Never committed: the prepared files go. */
        char saved[512];
        snprintf(saved, sizeof(saved), "%s", fwt_detail());
        (void)txn_discard(t->dir, t->jdir);
        if (saved[0]) {
            (void)fwt_fail(FWT_E_IO, "%s", saved);
        } else {
            fwt_detail_clear();
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].path);
    }
    free(t->e);
    for (size_t i = 0; i < t->n_dirs; i++) {
        free(t->made_dirs[i]);
    }
    free(t->jdir);
    memset(t, 0, sizeof(*t));
}

/* Journal entries, read back strictly (the file is ours, but it is checked all the same). */
static fwt_err txn_read_journal(const char *path, json_t **j)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err err = fwt_read_file(path, REPO_MAX_META, &buf, &len);
    if (err != FWT_OK) {
        return err;
    }
    err = repo_txn_journal_parse(buf, len, j);
    free(buf);
    if (err != FWT_OK) {
        err = fwt_fail(err, "%s: %s", path, fwt_detail());
    }
    return err;
}

static int rel_path_ok(const char *rel)
{
    size_t n = strlen(rel);
    if (n == 0 || n > 900 || rel[0] == '/') {
        return 0;
    }
    const char *s = rel;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t cl = e ? (size_t)(e - s) : strlen(s);
        if (cl == 0 || (cl == 1 && s[0] == '.') || (cl == 2 && s[0] == '.' && s[1] == '.')) {
            return 0;
        }
        s = e ? e + 1 : s + cl;
    }
    return 1;
}

fwt_err repo_txn_journal_parse(const uint8_t *buf, size_t len, json_t **out)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *ents = json_object_get(j, "entries");
    if (!json_is_object(j) || json_integer_value(json_object_get(j, "fwtrust_txn")) != 1 || !json_is_array(ents)) {
        json_decref(j);
        return fwt_fail(FWT_E_STATE, "not an fwtrust transaction journal (format 1)");
    }
    size_t i;
    json_t *e;
    json_array_foreach(ents, i, e) {
        const char *op = json_string_value(json_object_get(e, "op"));
        const char *rel = json_string_value(json_object_get(e, "path"));
        const char *sha = json_string_value(json_object_get(e, "sha256"));
        json_t *id = json_object_get(e, "id");
        uint8_t raw[32];
        if (!op || (strcmp(op, "write") && strcmp(op, "delete")) || !rel || !rel_path_ok(rel) || !json_is_integer(id) ||
            json_integer_value(id) < 0 || json_integer_value(id) > 0xFFFFFFF || !sha || strlen(sha) != 64 ||
            fwt_hex_decode(sha, raw, 32) != FWT_OK || !json_is_boolean(json_object_get(e, "same")) ||
            !json_is_boolean(json_object_get(e, "backup"))) {
            json_decref(j);
            fwt_detail_clear();
            return fwt_fail(FWT_E_STATE, "journal entry %zu is malformed", i);
        }
    }
    *out = j;
    return FWT_OK;
}

static fwt_err txn_replay(const char *dir, const char *jdir, json_t *j, int forward)
{
    json_t *ents = json_object_get(j, "entries");
    size_t n = json_array_size(ents);
    fwt_err err = FWT_OK;
    for (size_t k = 0; k < n && err == FWT_OK; k++) {
        json_t *e = json_array_get(ents, forward ? k : n - 1 - k);
        uint8_t sha[32];
        if (fwt_hex_decode(json_string_value(json_object_get(e, "sha256")), sha, 32) != FWT_OK) {
            return fwt_fail(FWT_E_STATE, "journal entry %zu is malformed", k);
        }
        struct txn_op op = {json_string_value(json_object_get(e, "path")),
                            (unsigned)json_integer_value(json_object_get(e, "id")),
                            !strcmp(json_string_value(json_object_get(e, "op")), "delete"),
                            json_is_true(json_object_get(e, "same")), json_is_true(json_object_get(e, "backup")), sha};
        err = forward ? txn_apply(dir, jdir, &op, NULL, NULL, 0) : txn_revert(dir, jdir, &op);
    }
    return err;
}

fwt_err repo_txn_pending(const char *dir, enum repo_txn_state *state)
{
    *state = REPO_TXN_NONE;
    char *jdir = txn_join(dir, REPO_TXN_DIR);
    char *j = jdir ? txn_join(jdir, "journal") : NULL;
    char *u = jdir ? txn_join(jdir, "undo") : NULL;
    fwt_err err = FWT_OK;
    struct stat st;
    if (!j || !u) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    } else if (lstat(jdir, &st) != 0) {
        if (errno != ENOENT) {
            err = fwt_fail(FWT_E_IO, "%s: %s", jdir, strerror(errno));
        }
    } else if (!S_ISDIR(st.st_mode)) {
        err = fwt_fail(FWT_E_STATE, "%s is not a directory", jdir);
    } else if (lstat(j, &st) == 0) {
        *state = REPO_TXN_COMMITTED;
    } else if (lstat(u, &st) == 0) {
        *state = REPO_TXN_ROLLING_BACK;
    } else {
        *state = REPO_TXN_UNCOMMITTED;
    }
    free(jdir);
    free(j);
    free(u);
    return err;
}

fwt_err repo_recover(const char *dir, enum repo_txn_state *found)
{
    fwt_err err = repo_txn_pending(dir, found);
    if (err != FWT_OK || *found == REPO_TXN_NONE) {
        return err;
    }
    char *jdir = txn_join(dir, REPO_TXN_DIR);
    char *jp = jdir ? txn_join(jdir, *found == REPO_TXN_COMMITTED ? "journal" : "undo") : NULL;
    if (!jp) {
        free(jdir);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (*found != REPO_TXN_UNCOMMITTED) {
        json_t *j = NULL;
        err = txn_read_journal(jp, &j);
        if (err == FWT_OK) {
            err = txn_replay(dir, jdir, j, *found == REPO_TXN_COMMITTED);
        }
        json_decref(j);
    }
    if (err == FWT_OK) {
        err = txn_discard(dir, jdir);
    }
    if (err != FWT_OK) {
        err = fwt_fail(FWT_E_STATE, "an interrupted operation in %s cannot be %s: %s", jdir,
                       *found == REPO_TXN_COMMITTED ? "completed" : "rolled back", fwt_detail());
    }
    free(jp);
    free(jdir);
    return err;
}

/* ---- repository ---- */

static const char *const k_exp_names[5] = {"root", "targets", "snapshot", "timestamp", "delegated"};

int repo_role_name_ok(const char *role)
{
    size_t n = strlen(role);
    if (n == 0 || n > 64 || tuf_is_top_role(role)) {
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
    /* One command at a time: another one's transaction in .txn/ is not a crash's. */
    r->lock_fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (r->lock_fd < 0 || flock(r->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char who[256] = "";
        if (r->lock_fd >= 0) {
            if (e == EWOULDBLOCK) {
                (void)fwt_lock_holder(r->lock_fd, who, sizeof(who));
            }
            close(r->lock_fd);
        }
        fwt_err err = e == EWOULDBLOCK ? fwt_fail(FWT_E_LOCKED, "%s is working on %s; try again when it has finished",
                                                  who[0] ? who : "another fwtrust repo command", dir)
                                       : fwt_fail(FWT_E_IO, "%s: cannot lock: %s", p, strerror(e));
        free(p);
        repo_close(r);
        return err;
    }
    r->locked = 1;
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
    if (r->locked) {
        close(r->lock_fd); /* releases the lock */
    }
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
    fwt_tuf_time_format(r->now + (time_t)repo_expiry_days(r, role) * 86400, exp);
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
    if (tuf_is_top_role(role)) {
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
