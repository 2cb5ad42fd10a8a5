/*
 * The signing transparency log: RFC 9162-style Merkle tree over log entries,
 * stored in SQLite, with a signed tree head (STH) after every append.
 *
 * Schema (format "fwtrust-signlog-1"):
 *   meta(name TEXT PRIMARY KEY, value BLOB)     format, key_spec, pubkey (PEM), log_id (hex)
 *   entries(idx INTEGER PRIMARY KEY, entry BLOB, leaf_hash BLOB)
 *   sths(tree_size INTEGER PRIMARY KEY, timestamp INTEGER, root BLOB, sig BLOB)
 *
 * Nothing stored is trusted: appends re-check the log against its newest tree
 * head before extending it, and fwt_signlog_verify recomputes everything.
 */
#include "keys_priv.h"
#include <fwtrust/fwt_imagefile.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIGNLOG_FORMAT "fwtrust-signlog-1"

struct fwt_signlog {
    sqlite3 *db;
    int writable;
    char *path;
    char *key_spec;
    fwt_pubkey *pub;
    uint8_t log_id[32];
    fwt_signlog_progress_fn progress;
    void *progress_ctx;
};

/*
 * Crash test hook: with FWT_SIGNLOG_FAULT_AT=NAME in the environment the
 * process kills itself (SIGKILL, nothing cleaned up) at the point NAME:
 * "append" (entries and tree head written, not committed), "commit" (inside
 * COMMIT: the rollback journal synced and the database written, the journal
 * not yet deleted: a hot journal is left), "logged" (committed, the signed
 * image not yet renamed into place). See tests/keys/log_crash.sh.
 */
static void fault_point(const char *name)
{
    const char *at = getenv("FWT_SIGNLOG_FAULT_AT");
    if (at && strcmp(at, name) == 0) {
        raise(SIGKILL);
    }
}

/* "commit": a VFS that is the default one except that deleting a rollback
 * journal (the last step of a commit) is the fault point. */
static sqlite3_vfs g_fault_vfs;
static int (*g_real_delete)(sqlite3_vfs *, const char *, int);

static int fault_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    size_t n = strlen(name);
    if (n > 8 && strcmp(name + n - 8, "-journal") == 0) {
        fault_point("commit");
    }
    return g_real_delete(vfs, name, sync_dir);
}

static const char *fault_vfs(void)
{
    const char *at = getenv("FWT_SIGNLOG_FAULT_AT");
    if (!at || strcmp(at, "commit") != 0) {
        return NULL;
    }
    if (!g_real_delete) {
        sqlite3_vfs *def = sqlite3_vfs_find(NULL);
        if (!def) {
            return NULL;
        }
        g_fault_vfs = *def;
        g_fault_vfs.zName = "fwt-signlog-fault";
        g_real_delete = def->xDelete;
        g_fault_vfs.xDelete = fault_delete;
        if (sqlite3_vfs_register(&g_fault_vfs, 0) != SQLITE_OK) {
            g_real_delete = NULL;
            return NULL;
        }
    }
    return g_fault_vfs.zName;
}

void fwt_signlog_set_progress(fwt_signlog *log, fwt_signlog_progress_fn fn, void *ctx)
{
    log->progress = fn;
    log->progress_ctx = ctx;
}

void fwt_signlog_report_progress(fwt_signlog *log, uint64_t done, uint64_t total)
{
    if (log->progress && (done % 256 == 0 || done == total)) {
        log->progress(log->progress_ctx, done, total);
    }
}

static fwt_err db_fail(fwt_signlog *log, const char *what)
{
    return fwt_fail(FWT_E_IO, "%s: %s: %s", log->path, what, sqlite3_errmsg(log->db));
}

static fwt_err exec(fwt_signlog *log, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(log->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fwt_err e = fwt_fail(FWT_E_IO, "%s: %s", log->path, msg ? msg : "SQLite error");
        sqlite3_free(msg);
        return e;
    }
    return FWT_OK;
}

static fwt_err prepare(fwt_signlog *log, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(log->db, sql, -1, st, NULL) != SQLITE_OK) {
        return db_fail(log, "cannot read the log (not a signing log?)");
    }
    return FWT_OK;
}

static fwt_err meta_get(fwt_signlog *log, const char *name, char **out)
{
    *out = NULL;
    sqlite3_stmt *st = NULL;
    fwt_err e = prepare(log, "SELECT value FROM meta WHERE name = ?1", &st);
    if (e != FWT_OK) {
        return fwt_fail(FWT_E_STATE, "%s: not a signing log (no meta table)", log->path);
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        if (n < 0 || n > 65536 || (n > 0 && !b) || memchr(b ? b : "", '\0', (size_t)n)) {
            e = fwt_fail(FWT_E_STATE, "%s: meta value %s is invalid", log->path, name);
        } else if (!(*out = malloc((size_t)n + 1))) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else {
            if (n) {
                memcpy(*out, b, (size_t)n);
            }
            (*out)[n] = '\0';
        }
    } else if (rc == SQLITE_DONE) {
        e = fwt_fail(FWT_E_STATE, "%s: meta value %s is missing", log->path, name);
    } else {
        e = db_fail(log, "read");
    }
    sqlite3_finalize(st);
    return e;
}

static fwt_err meta_put(fwt_signlog *log, const char *name, const char *value)
{
    sqlite3_stmt *st = NULL;
    fwt_err e = prepare(log, "INSERT INTO meta(name, value) VALUES (?1, ?2)", &st);
    if (e != FWT_OK) {
        return e;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, value, (int)strlen(value), SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        e = db_fail(log, "write");
    }
    sqlite3_finalize(st);
    return e;
}

void fwt_signlog_close(fwt_signlog *log)
{
    if (!log) {
        return;
    }
    if (log->db) {
        sqlite3_close(log->db);
    }
    fwt_pubkey_free(log->pub);
    free(log->path);
    free(log->key_spec);
    free(log);
}

/* Read the schema: where SQLite first looks at the file (and its journal). */
static int probe(sqlite3 *db)
{
    return sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
}

/*
 * A writer killed in the middle of a commit leaves a hot rollback journal,
 * and a read-only connection cannot roll it back: every read fails with
 * SQLITE_READONLY_ROLLBACK. Rolling it back restores the last committed
 * state (the interrupted append never happened), which is what the next
 * writer does first anyway and what every reader must see; so a brief
 * writable connection does it, under SQLite's own locking (a journal that a
 * live writer still holds is not hot and is left alone). Then the caller's
 * read-only connection reads as usual.
 */
static fwt_err recover_journal(const char *path)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        sqlite3_extended_result_codes(db, 1);
        rc = probe(db);
    }
    fwt_err e = FWT_OK;
    if (rc != SQLITE_OK) {
        e = fwt_fail(FWT_E_STATE, "%s: an append was interrupted and left a journal that only a "
                                  "writable open can roll back (%s): run this as a user who may "
                                  "write the log and its directory",
                     path, db ? sqlite3_errmsg(db) : "out of memory");
    }
    sqlite3_close(db);
    return e;
}

static fwt_err open_db(const char *path, int flags, fwt_signlog **out)
{
    *out = NULL;
    fwt_signlog *log = calloc(1, sizeof(*log));
    if (!log || !(log->path = strdup(path))) {
        free(log);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    log->writable = (flags & SQLITE_OPEN_READWRITE) != 0;
    if (sqlite3_open_v2(path, &log->db, flags | SQLITE_OPEN_NOMUTEX, fault_vfs()) != SQLITE_OK) {
        fwt_err e = fwt_fail(FWT_E_IO, "%s: cannot open the signing log: %s", path,
                             log->db ? sqlite3_errmsg(log->db) : "out of memory");
        fwt_signlog_close(log);
        return e;
    }
    sqlite3_busy_timeout(log->db, 10000);
    sqlite3_extended_result_codes(log->db, 1);
    fwt_err e = FWT_OK;
    if (!log->writable && probe(log->db) == SQLITE_READONLY_ROLLBACK) {
        sqlite3_close(log->db);
        log->db = NULL;
        e = recover_journal(path);
        if (e == FWT_OK &&
            sqlite3_open_v2(path, &log->db, flags | SQLITE_OPEN_NOMUTEX, fault_vfs()) != SQLITE_OK) {
            e = fwt_fail(FWT_E_IO, "%s: cannot open the signing log: %s", path,
                         log->db ? sqlite3_errmsg(log->db) : "out of memory");
        }
        if (e != FWT_OK) {
            fwt_signlog_close(log);
            return e;
        }
        sqlite3_busy_timeout(log->db, 10000);
        sqlite3_extended_result_codes(log->db, 1);
    }
    e = exec(log, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
    if (e != FWT_OK) {
        fwt_signlog_close(log);
        return e;
    }
    *out = log;
    return FWT_OK;
}

fwt_err fwt_signlog_open(const char *db, int writable, fwt_signlog **out)
{
    *out = NULL;
    if (!db || !db[0]) {
        return fwt_fail(FWT_E_ARG, "no signing log given");
    }
    struct stat sb;
    if (stat(db, &sb) != 0) {
        return fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO,
                        "%s: no signing log here (create one with 'fwtrust log init'): %s", db,
                        strerror(errno));
    }
    if (!S_ISREG(sb.st_mode)) {
        return fwt_fail(FWT_E_ARG, "%s: not a regular file", db);
    }
    fwt_signlog *log = NULL;
    fwt_err e = open_db(db, writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, &log);
    if (e != FWT_OK) {
        return e;
    }
    char *fmt = NULL, *pem = NULL, *id = NULL;
    uint8_t kh[32], idb[32];
    e = meta_get(log, "format", &fmt);
    if (e == FWT_OK && strcmp(fmt, SIGNLOG_FORMAT) != 0) {
        e = fwt_fail(FWT_E_UNSUPPORTED, "%s: log format '%.40s' (this fwtrust reads %s)", db, fmt,
                     SIGNLOG_FORMAT);
    }
    if (e == FWT_OK) {
        e = meta_get(log, "key_spec", &log->key_spec);
    }
    /* The stored key spec is a record only: the log key comes from the operator
     * (fwt_signlog_pin, the command line). A stored URI that names a module or a
     * PIN file is refused outright before anything is appended. */
    if (e == FWT_OK && writable && fwt_key_spec_check_inert(log->key_spec) != FWT_OK) {
        e = fwt_fail(FWT_E_STATE, "%s: the log key stored in the log names code or a secret "
                                  "(%s): refusing to use this log (a log never chooses the module "
                                  "loaded or the PIN read)",
                     db, fwt_detail());
    }
    if (e == FWT_OK) {
        e = meta_get(log, "pubkey", &pem);
    }
    if (e == FWT_OK) {
        e = meta_get(log, "log_id", &id);
    }
    if (e == FWT_OK && fwt_pubkey_from_pem(pem, strlen(pem), &log->pub) != FWT_OK) {
        e = fwt_fail(FWT_E_STATE, "%s: the stored log key is not a public key", db);
    }
    if (e == FWT_OK && (e = fwt_pubkey_keyhash(log->pub, kh)) == FWT_OK) {
        if (strlen(id) != 64 || fwt_hex_decode(id, idb, 32) != FWT_OK ||
            fwt_ct_compare(idb, kh, 32) != 0) {
            e = fwt_fail(FWT_E_STATE, "%s: the stored log id is not the log key's hash", db);
        }
        memcpy(log->log_id, kh, 32);
    }
    free(fmt);
    free(pem);
    free(id);
    if (e != FWT_OK) {
        fwt_signlog_close(log);
        return e;
    }
    *out = log;
    return FWT_OK;
}

fwt_err fwt_signlog_pubkey(fwt_signlog *log, fwt_pubkey **out)
{
    char *pem = NULL;
    *out = NULL;
    fwt_err e = fwt_pubkey_pem(log->pub, &pem);
    if (e == FWT_OK) {
        e = fwt_pubkey_from_pem(pem, strlen(pem), out);
    }
    free(pem);
    return e;
}

/* ---- Reading ---- */

fwt_err fwt_signlog_size(fwt_signlog *log, uint64_t *n)
{
    sqlite3_stmt *st = NULL;
    fwt_err e = prepare(log, "SELECT count(*) FROM entries", &st);
    if (e != FWT_OK) {
        return e;
    }
    if (sqlite3_step(st) == SQLITE_ROW) {
        *n = (uint64_t)sqlite3_column_int64(st, 0);
    } else {
        e = db_fail(log, "read");
    }
    sqlite3_finalize(st);
    return e;
}

static fwt_err sth_from_row(fwt_signlog *log, sqlite3_stmt *st, struct fwt_signlog_sth *sth)
{
    memset(sth, 0, sizeof(*sth));
    sqlite3_int64 size = sqlite3_column_int64(st, 0), ts = sqlite3_column_int64(st, 1);
    const void *root = sqlite3_column_blob(st, 2);
    int rl = sqlite3_column_bytes(st, 2);
    const void *sig = sqlite3_column_blob(st, 3);
    int sl = sqlite3_column_bytes(st, 3);
    if (size < 0 || (uint64_t)size > FWT_SIGNLOG_SIZE_MAX || ts < 0 || rl != 32 || !root ||
        sl <= 0 || (size_t)sl > FWT_SIGNLOG_SIG_MAX || !sig) {
        return fwt_fail(FWT_E_STATE, "%s: a stored tree head is malformed", log->path);
    }
    memcpy(sth->log_id, log->log_id, 32);
    sth->tree_size = (uint64_t)size;
    sth->timestamp = (uint64_t)ts;
    memcpy(sth->root, root, 32);
    memcpy(sth->sig, sig, (size_t)sl);
    sth->sig_len = (size_t)sl;
    return FWT_OK;
}

static fwt_err sth_query(fwt_signlog *log, const char *sql, int has_arg, uint64_t arg,
                         struct fwt_signlog_sth *sth)
{
    sqlite3_stmt *st = NULL;
    fwt_err e = prepare(log, sql, &st);
    if (e != FWT_OK) {
        return e;
    }
    if (has_arg) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)arg);
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        e = sth_from_row(log, st, sth);
    } else if (rc == SQLITE_DONE) {
        e = has_arg ? fwt_fail(FWT_E_NOT_FOUND, "%s: no tree head of size %llu was signed",
                               log->path, (unsigned long long)arg)
                    : fwt_fail(FWT_E_STATE, "%s: the log has no signed tree head", log->path);
    } else {
        e = db_fail(log, "read");
    }
    sqlite3_finalize(st);
    return e;
}

fwt_err fwt_signlog_latest_sth(fwt_signlog *log, struct fwt_signlog_sth *sth)
{
    return sth_query(log,
                     "SELECT tree_size, timestamp, root, sig FROM sths ORDER BY tree_size DESC "
                     "LIMIT 1",
                     0, 0, sth);
}

fwt_err fwt_signlog_sth_at(fwt_signlog *log, uint64_t tree_size, struct fwt_signlog_sth *sth)
{
    return sth_query(log, "SELECT tree_size, timestamp, root, sig FROM sths WHERE tree_size = ?1",
                     1, tree_size, sth);
}

fwt_err fwt_signlog_entry(fwt_signlog *log, uint64_t index, char **text, size_t *len)
{
    *text = NULL;
    sqlite3_stmt *st = NULL;
    if (index > FWT_SIGNLOG_SIZE_MAX) {
        return fwt_fail(FWT_E_NOT_FOUND, "%s: no entry %llu", log->path,
                        (unsigned long long)index);
    }
    fwt_err e = prepare(log, "SELECT entry FROM entries WHERE idx = ?1", &st);
    if (e != FWT_OK) {
        return e;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        if (n <= 0 || (size_t)n > FWT_SIGNLOG_ENTRY_MAX || !b) {
            e = fwt_fail(FWT_E_STATE, "%s: entry %llu is empty or too large", log->path,
                         (unsigned long long)index);
        } else if (!(*text = malloc((size_t)n + 1))) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else {
            memcpy(*text, b, (size_t)n);
            (*text)[n] = '\0';
            if (len) {
                *len = (size_t)n;
            }
        }
    } else if (rc == SQLITE_DONE) {
        e = fwt_fail(FWT_E_NOT_FOUND, "%s: no entry %llu", log->path, (unsigned long long)index);
    } else {
        e = db_fail(log, "read");
    }
    sqlite3_finalize(st);
    return e;
}

/* Visit every entry in index order; checks indices are 0..n-1 and that the
 * stored leaf hash is the hash of the stored text. strict: parse each entry. */
typedef fwt_err (*entry_fn)(void *ctx, uint64_t idx, const uint8_t *entry, size_t len,
                            const uint8_t leaf[32]);

static fwt_err scan(fwt_signlog *log, int strict, entry_fn fn, void *ctx, uint64_t *count)
{
    sqlite3_stmt *st = NULL;
    fwt_err e = prepare(log, "SELECT idx, entry, leaf_hash FROM entries ORDER BY idx", &st);
    if (e != FWT_OK) {
        return e;
    }
    uint64_t n = 0, total = 0;
    if (log->progress && (e = fwt_signlog_size(log, &total)) != FWT_OK) {
        sqlite3_finalize(st);
        return e;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fwt_signlog_report_progress(log, n, total);
        sqlite3_int64 idx = sqlite3_column_int64(st, 0);
        const uint8_t *b = sqlite3_column_blob(st, 1);
        int bl = sqlite3_column_bytes(st, 1);
        const uint8_t *stored = sqlite3_column_blob(st, 2);
        int sl = sqlite3_column_bytes(st, 2);
        uint8_t leaf[32];
        if (idx < 0 || (uint64_t)idx != n) {
            e = fwt_fail(FWT_E_STATE, "%s: entry %llu is missing (next stored entry is %lld)",
                         log->path, (unsigned long long)n, (long long)idx);
            break;
        }
        if (bl <= 0 || (size_t)bl > FWT_SIGNLOG_ENTRY_MAX || !b || sl != 32 || !stored) {
            e = fwt_fail(FWT_E_STATE, "%s: entry %llu is malformed", log->path,
                         (unsigned long long)n);
            break;
        }
        if ((e = fwt_merkle_leaf_hash(b, (size_t)bl, leaf)) != FWT_OK) {
            break;
        }
        if (fwt_ct_compare(leaf, stored, 32) != 0) {
            e = fwt_fail(FWT_E_STATE, "%s: entry %llu was edited: its text no longer hashes to "
                                      "its leaf hash",
                         log->path, (unsigned long long)n);
            break;
        }
        if (strict) {
            struct fwt_signlog_record rec;
            struct fwt_signlog_event ev;
            if (fwt_signlog_record_parse(b, (size_t)bl, &rec) != FWT_OK &&
                fwt_signlog_event_parse(b, (size_t)bl, &ev) != FWT_OK) {
                e = fwt_fail(FWT_E_STATE, "%s: entry %llu is not a valid log entry: %s",
                             log->path, (unsigned long long)n, fwt_detail());
                break;
            }
        }
        if (fn && (e = fn(ctx, n, b, (size_t)bl, leaf)) != FWT_OK) {
            break;
        }
        n++;
    }
    if (e == FWT_OK && rc != SQLITE_DONE) {
        e = db_fail(log, "read");
    }
    if (e == FWT_OK) {
        fwt_signlog_report_progress(log, n, n > total ? n : total);
    }
    sqlite3_finalize(st);
    if (count) {
        *count = n;
    }
    return e;
}

struct leaves {
    uint8_t (*h)[32];
    size_t n, cap;
};

static fwt_err collect_leaf(void *ctx, uint64_t idx, const uint8_t *entry, size_t len,
                            const uint8_t leaf[32])
{
    (void)idx;
    (void)entry;
    (void)len;
    struct leaves *l = ctx;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        if (nc > SIZE_MAX / 32) {
            return fwt_fail(FWT_E_TOO_LARGE, "log too large for memory");
        }
        void *p = realloc(l->h, nc * 32);
        if (!p) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        l->h = p;
        l->cap = nc;
    }
    memcpy(l->h[l->n++], leaf, 32);
    return FWT_OK;
}

/* All leaf hashes, recomputed from the entries. */
static fwt_err load_leaves(fwt_signlog *log, struct leaves *l)
{
    memset(l, 0, sizeof(*l));
    fwt_err e = scan(log, 0, collect_leaf, l, NULL);
    if (e != FWT_OK) {
        free(l->h);
        memset(l, 0, sizeof(*l));
    }
    return e;
}

/* ---- Checking ---- */

struct verify_ctx {
    fwt_signlog *log;
    struct fwt_merkle_stack stack;
    struct fwt_signlog_sth *sths;
    size_t n_sths, next;
    const struct fwt_signlog_sth *earlier;
    int earlier_done;
};

static fwt_err check_heads_at(struct verify_ctx *v)
{
    uint64_t size = v->stack.count;
    uint8_t root[32];
    int need = (v->next < v->n_sths && v->sths[v->next].tree_size == size) ||
               (v->earlier && v->earlier->tree_size == size);
    if (!need) {
        return FWT_OK;
    }
    fwt_err e = fwt_merkle_stack_root(&v->stack, root);
    if (e != FWT_OK) {
        return e;
    }
    while (v->next < v->n_sths && v->sths[v->next].tree_size == size) {
        if (fwt_ct_compare(root, v->sths[v->next].root, 32) != 0) {
            return fwt_fail(FWT_E_STATE, "%s: the signed tree head of size %llu does not match "
                                         "the entries: the log was rewritten",
                            v->log->path, (unsigned long long)size);
        }
        v->next++;
    }
    if (v->earlier && v->earlier->tree_size == size) {
        if (fwt_ct_compare(root, v->earlier->root, 32) != 0) {
            return fwt_fail(FWT_E_STATE, "%s: the log is not consistent with the tree head of "
                                         "size %llu kept from earlier: entries were changed",
                            v->log->path, (unsigned long long)size);
        }
        v->earlier_done = 1;
    }
    return FWT_OK;
}

static fwt_err verify_leaf(void *ctx, uint64_t idx, const uint8_t *entry, size_t len,
                           const uint8_t leaf[32])
{
    (void)idx;
    (void)entry;
    (void)len;
    struct verify_ctx *v = ctx;
    fwt_err e = fwt_merkle_stack_push(&v->stack, leaf);
    return e == FWT_OK ? check_heads_at(v) : e;
}

static fwt_err load_sths(fwt_signlog *log, struct fwt_signlog_sth **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    fwt_err e = prepare(log, "SELECT tree_size, timestamp, root, sig FROM sths ORDER BY tree_size",
                        &st);
    if (e != FWT_OK) {
        return e;
    }
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            void *p = nc < SIZE_MAX / sizeof(**out) ? realloc(*out, nc * sizeof(**out)) : NULL;
            if (!p) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
                break;
            }
            *out = p;
            cap = nc;
        }
        if ((e = sth_from_row(log, st, &(*out)[*n])) != FWT_OK) {
            break;
        }
        (*n)++;
    }
    if (e == FWT_OK && rc != SQLITE_DONE) {
        e = db_fail(log, "read");
    }
    sqlite3_finalize(st);
    if (e != FWT_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return e;
}

fwt_err fwt_signlog_verify(fwt_signlog *log, const fwt_pubkey *pub,
                           const struct fwt_signlog_sth *earlier, uint64_t *n_sths)
{
    if (!pub) { /* never the key stored in the log: it would vouch for itself */
        return fwt_fail(FWT_E_NO_TRUST, "%s: no log key to check the log against", log->path);
    }
    {
        uint8_t kh[32];
        fwt_err e = fwt_pubkey_keyhash(pub, kh);
        if (e != FWT_OK) {
            return e;
        }
        if (fwt_ct_compare(kh, log->log_id, 32) != 0) {
            return fwt_fail(FWT_E_SIGNATURE, "%s: the log is signed by another key than the one "
                                             "given",
                            log->path);
        }
    }
    struct verify_ctx v;
    memset(&v, 0, sizeof(v));
    v.log = log;
    v.earlier = earlier;
    fwt_merkle_stack_init(&v.stack);
    fwt_err e = FWT_OK;
    if (earlier && (e = fwt_signlog_sth_verify(earlier, pub)) != FWT_OK) {
        return fwt_fail(FWT_E_SIGNATURE, "the tree head kept from earlier: %s", fwt_detail());
    }
    /* Read the whole log in one read transaction, so a concurrent append
     * cannot show us entries and heads from different moments. */
    if ((e = exec(log, "BEGIN")) != FWT_OK) {
        return e;
    }
    if ((e = load_sths(log, &v.sths, &v.n_sths)) != FWT_OK) {
        goto out;
    }
    if (v.n_sths == 0) {
        e = fwt_fail(FWT_E_STATE, "%s: the log has no signed tree head", log->path);
        goto out;
    }
    for (size_t i = 0; i < v.n_sths; i++) {
        if ((e = fwt_signlog_sth_verify(&v.sths[i], pub)) != FWT_OK) {
            e = fwt_fail(FWT_E_SIGNATURE, "%s: %s", log->path, fwt_detail());
            goto out;
        }
    }
    if ((e = check_heads_at(&v)) != FWT_OK) { /* the empty tree */
        goto out;
    }
    uint64_t count = 0;
    if ((e = scan(log, 1, verify_leaf, &v, &count)) != FWT_OK) {
        goto out;
    }
    uint64_t newest = v.sths[v.n_sths - 1].tree_size;
    if (newest > count) {
        e = fwt_fail(FWT_E_STATE, "%s: truncated: a signed tree head covers %llu entries but "
                                  "only %llu are stored",
                     log->path, (unsigned long long)newest, (unsigned long long)count);
    } else if (newest < count) {
        e = fwt_fail(FWT_E_STATE, "%s: entries %llu to %llu are not covered by any signed tree "
                                  "head (added behind the log's back)",
                     log->path, (unsigned long long)newest, (unsigned long long)count - 1);
    } else if (v.next != v.n_sths) {
        e = fwt_fail(FWT_E_INTERNAL, "tree heads left unchecked");
    } else if (earlier && !v.earlier_done) {
        e = fwt_fail(FWT_E_STATE, "%s: truncated: the tree head kept from earlier covers %llu "
                                  "entries, the log now has %llu",
                     log->path, (unsigned long long)earlier->tree_size,
                     (unsigned long long)count);
    }
    if (e == FWT_OK && n_sths) {
        *n_sths = v.n_sths;
    }
out:
    free(v.sths);
    fwt_err e2 = exec(log, "COMMIT");
    return e != FWT_OK ? e : e2;
}

/* ---- Proofs ---- */

fwt_err fwt_signlog_prove(fwt_signlog *log, uint64_t index, uint64_t tree_size,
                          struct fwt_signlog_proof *p)
{
    memset(p, 0, sizeof(*p));
    struct leaves l;
    struct fwt_signlog_sth sth;
    fwt_err e;
    if (tree_size == 0) {
        if ((e = fwt_signlog_latest_sth(log, &sth)) != FWT_OK) {
            return e;
        }
        tree_size = sth.tree_size;
    }
    if ((e = load_leaves(log, &l)) != FWT_OK) {
        return e;
    }
    if (tree_size > l.n) {
        e = fwt_fail(FWT_E_STATE, "%s: a tree of %llu entries is asked for, the log has %zu",
                     log->path, (unsigned long long)tree_size, l.n);
    } else if (index >= tree_size) {
        e = fwt_fail(FWT_E_NOT_FOUND, "%s: entry %llu is not in the tree of %llu entries",
                     log->path, (unsigned long long)index, (unsigned long long)tree_size);
    } else {
        e = fwt_merkle_inclusion_proof((const uint8_t(*)[32])l.h, index, tree_size, p->path,
                                       &p->path_len);
    }
    free(l.h);
    if (e == FWT_OK) {
        e = fwt_signlog_entry(log, index, &p->entry, &p->entry_len);
    }
    if (e != FWT_OK) {
        fwt_signlog_proof_free(p);
        return e;
    }
    p->index = index;
    p->tree_size = tree_size;
    return FWT_OK;
}

fwt_err fwt_signlog_prove_consistency(fwt_signlog *log, uint64_t from, uint64_t to,
                                      struct fwt_signlog_consistency *c)
{
    memset(c, 0, sizeof(*c));
    struct leaves l;
    fwt_err e = load_leaves(log, &l);
    if (e != FWT_OK) {
        return e;
    }
    if (to == 0) {
        to = l.n;
    }
    if (from > to || to > l.n) {
        e = fwt_fail(FWT_E_ARG, "%s: no consistency proof from %llu to %llu entries (the log has "
                                "%zu)",
                     log->path, (unsigned long long)from, (unsigned long long)to, l.n);
    }
    if (e == FWT_OK) {
        e = fwt_merkle_root((const uint8_t(*)[32])l.h, from, c->from_root);
    }
    if (e == FWT_OK) {
        e = fwt_merkle_root((const uint8_t(*)[32])l.h, to, c->to_root);
    }
    if (e == FWT_OK && from > 0) {
        e = fwt_merkle_consistency_proof((const uint8_t(*)[32])l.h, from, to, c->path,
                                         &c->path_len);
    }
    free(l.h);
    c->from = from;
    c->to = to;
    return e;
}

/* ---- Writing ---- */

/* The caller's log key must be the one the log was created with. */
static fwt_err check_log_key(fwt_signlog *log, fwt_privkey *key)
{
    if (!key) {
        return fwt_fail(FWT_E_KEY, "%s: no log key to sign the tree head with", log->path);
    }
    fwt_pubkey *pub = NULL;
    uint8_t kh[32];
    fwt_err e;
    if ((e = fwt_privkey_public(key, &pub)) == FWT_OK &&
        (e = fwt_pubkey_keyhash(pub, kh)) == FWT_OK && fwt_ct_compare(kh, log->log_id, 32) != 0) {
        e = fwt_fail(FWT_E_KEY, "%s: the log key given is not the key this log was created with",
                     log->path);
    }
    fwt_pubkey_free(pub);
    return e;
}

static fwt_err sign_sth(fwt_privkey *key, struct fwt_signlog_sth *sth)
{
    uint8_t tbs[FWT_SIGNLOG_STH_TBS_SIZE];
    fwt_signlog_sth_tbs(sth, tbs);
    sth->sig_len = sizeof(sth->sig);
    return fwt_sign_message(key, tbs, sizeof(tbs), sth->sig, &sth->sig_len);
}

static fwt_err insert_sth(fwt_signlog *log, const struct fwt_signlog_sth *sth)
{
    sqlite3_stmt *st = NULL;
    fwt_err e = prepare(log,
                        "INSERT INTO sths(tree_size, timestamp, root, sig) VALUES (?1, ?2, ?3, ?4)",
                        &st);
    if (e != FWT_OK) {
        return e;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)sth->tree_size);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)sth->timestamp);
    sqlite3_bind_blob(st, 3, sth->root, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, sth->sig, (int)sth->sig_len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        e = db_fail(log, "cannot store the tree head");
    }
    sqlite3_finalize(st);
    return e;
}

static uint64_t now_seconds(void)
{
    time_t t = time(NULL);
    return t < 0 ? 0 : (uint64_t)t;
}

static fwt_err stack_push_leaf(void *ctx, uint64_t idx, const uint8_t *entry, size_t len,
                               const uint8_t leaf[32])
{
    (void)idx;
    (void)entry;
    (void)len;
    return fwt_merkle_stack_push(ctx, leaf);
}

/* Append encoded entries in one transaction and sign one new tree head. */
static fwt_err append_texts(fwt_signlog *log, char **texts, const size_t *lens, size_t n,
                            fwt_privkey *key, uint64_t *first)
{
    fwt_err e = check_log_key(log, key);
    int in_tx = 0;
    if (e == FWT_OK && (e = exec(log, "BEGIN IMMEDIATE")) == FWT_OK) {
        in_tx = 1;
    }
    /* Refuse to sign over a log that is not what its newest tree head says. */
    struct fwt_merkle_stack stack;
    fwt_merkle_stack_init(&stack);
    struct fwt_signlog_sth prev, sth;
    uint64_t count = 0;
    if (e == FWT_OK) {
        e = fwt_signlog_latest_sth(log, &prev);
    }
    if (e == FWT_OK && (e = fwt_signlog_sth_verify(&prev, log->pub)) != FWT_OK) {
        e = fwt_fail(FWT_E_STATE, "%s: refusing to append: %s", log->path, fwt_detail());
    }
    if (e == FWT_OK && (e = scan(log, 0, stack_push_leaf, &stack, &count)) != FWT_OK) {
        e = fwt_fail(e, "refusing to append: %s", fwt_detail());
    }
    if (e == FWT_OK && count != prev.tree_size) {
        e = fwt_fail(FWT_E_STATE, "%s: refusing to append: the newest tree head covers %llu "
                                  "entries, %llu are stored (run 'fwtrust log verify')",
                     log->path, (unsigned long long)prev.tree_size, (unsigned long long)count);
    }
    if (e == FWT_OK && (e = fwt_merkle_stack_root(&stack, sth.root)) == FWT_OK &&
        fwt_ct_compare(sth.root, prev.root, 32) != 0) {
        e = fwt_fail(FWT_E_STATE, "%s: refusing to append: the entries do not match the newest "
                                  "tree head (run 'fwtrust log verify')",
                     log->path);
    }
    if (e == FWT_OK && count + n > FWT_SIGNLOG_SIZE_MAX) {
        e = fwt_fail(FWT_E_TOO_LARGE, "%s: the log is full", log->path);
    }
    sqlite3_stmt *st = NULL;
    if (e == FWT_OK) {
        e = prepare(log, "INSERT INTO entries(idx, entry, leaf_hash) VALUES (?1, ?2, ?3)", &st);
    }
    for (size_t i = 0; e == FWT_OK && i < n; i++) {
        uint8_t leaf[32];
        if ((e = fwt_merkle_leaf_hash((const uint8_t *)texts[i], lens[i], leaf)) != FWT_OK ||
            (e = fwt_merkle_stack_push(&stack, leaf)) != FWT_OK) {
            break;
        }
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)(count + i));
        sqlite3_bind_blob(st, 2, texts[i], (int)lens[i], SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, leaf, 32, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) {
            e = db_fail(log, "cannot store the entry");
        }
    }
    sqlite3_finalize(st);
    if (e == FWT_OK) {
        memcpy(sth.log_id, log->log_id, 32);
        sth.tree_size = count + n;
        sth.timestamp = now_seconds();
        if (sth.timestamp < prev.timestamp) {
            sth.timestamp = prev.timestamp; /* tree head times never go back */
        }
        if ((e = fwt_merkle_stack_root(&stack, sth.root)) == FWT_OK &&
            (e = sign_sth(key, &sth)) == FWT_OK) {
            e = insert_sth(log, &sth);
        }
    }
    if (e == FWT_OK) {
        fault_point("append");
        e = exec(log, "COMMIT");
        if (e == FWT_OK) {
            in_tx = 0;
        }
    }
    if (in_tx) {
        char *msg = NULL;
        sqlite3_exec(log->db, "ROLLBACK", NULL, NULL, &msg);
        sqlite3_free(msg);
    }
    if (e == FWT_OK && first) {
        *first = count;
    }
    return e;
}

/* Append records in one transaction and sign one new tree head. */
static fwt_err append_records(fwt_signlog *log, const struct fwt_signlog_record *recs, size_t n,
                              fwt_privkey *key, uint64_t *first)
{
    if (!log->writable) {
        return fwt_fail(FWT_E_ARG, "%s: opened read-only", log->path);
    }
    if (n == 0) {
        return fwt_fail(FWT_E_ARG, "nothing to append");
    }
    char **texts = calloc(n, sizeof(*texts));
    size_t *lens = calloc(n, sizeof(*lens));
    fwt_err e = texts && lens ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    for (size_t i = 0; e == FWT_OK && i < n; i++) {
        e = fwt_signlog_record_encode(&recs[i], &texts[i], &lens[i]);
    }
    if (e == FWT_OK) {
        e = append_texts(log, texts, lens, n, key, first);
    }
    for (size_t i = 0; texts && i < n; i++) {
        free(texts[i]);
    }
    free(texts);
    free(lens);
    return e;
}

fwt_err fwt_signlog_append(fwt_signlog *log, const struct fwt_signlog_record *rec,
                           fwt_privkey *log_key, uint64_t *index)
{
    return append_records(log, rec, 1, log_key, index);
}

fwt_err fwt_signlog_append_event(fwt_signlog *log, const struct fwt_signlog_event *ev,
                                 fwt_privkey *log_key, uint64_t *index)
{
    if (!log->writable) {
        return fwt_fail(FWT_E_ARG, "%s: opened read-only", log->path);
    }
    char *text = NULL;
    size_t len = 0;
    fwt_err e = fwt_signlog_event_encode(ev, &text, &len);
    if (e == FWT_OK) {
        e = append_texts(log, &text, &len, 1, log_key, index);
    }
    free(text);
    return e;
}

static const char k_schema[] =
    "CREATE TABLE meta(name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE entries(idx INTEGER PRIMARY KEY CHECK (idx >= 0), entry BLOB NOT NULL,"
    " leaf_hash BLOB NOT NULL);"
    "CREATE TABLE sths(tree_size INTEGER PRIMARY KEY CHECK (tree_size >= 0),"
    " timestamp INTEGER NOT NULL, root BLOB NOT NULL, sig BLOB NOT NULL);";

fwt_err fwt_signlog_create(const char *db, const char *key_spec, const struct fwt_key_opts *ko)
{
    if (!db || !db[0] || !key_spec || !key_spec[0]) {
        return fwt_fail(FWT_E_ARG, "a log path and a log key are required");
    }
    struct stat sb;
    if (lstat(db, &sb) == 0 || errno != ENOENT) {
        return fwt_fail(FWT_E_ARG, "%s already exists: refusing to replace a signing log", db);
    }
    /* A PEM path is stored absolute, so appends from any directory find it. */
    char abs[PATH_MAX];
    const char *spec = key_spec;
    if (strncasecmp(key_spec, "pkcs11:", 7) != 0) {
        if (!realpath(key_spec, abs)) {
            return fwt_fail(FWT_E_NOT_FOUND, "%s: %s", key_spec, strerror(errno));
        }
        spec = abs;
    }
    if (fwt_key_spec_check_inert(spec) != FWT_OK) {
        return fwt_fail(FWT_E_ARG, "log key %s: %s; the log key is recorded in the log, which "
                                   "must never name code or secrets: give the module with "
                                   "--pkcs11-module and the PIN with --pin-file",
                        "(URI)", fwt_detail());
    }
    fwt_privkey *key = NULL;
    fwt_pubkey *pub = NULL;
    char *pem = NULL;
    uint8_t kh[32];
    char idhex[65];
    fwt_err e = fwt_privkey_load(spec, ko, &key);
    if (e != FWT_OK) {
        return fwt_fail(e, "log key %s: %s", key_spec, fwt_detail()[0] ? fwt_detail() : "cannot load");
    }
    if ((e = fwt_privkey_public(key, &pub)) == FWT_OK &&
        (e = fwt_pubkey_pem(pub, &pem)) == FWT_OK) {
        e = fwt_pubkey_keyhash(pub, kh);
    }
    fwt_hex_encode(kh, 32, idhex);
    /* Build the database under a temporary name, then link it into place
     * (link never replaces an existing file). */
    char tmp[PATH_MAX];
    int tl = snprintf(tmp, sizeof(tmp), "%s.init-%ld", db, (long)getpid());
    if (e == FWT_OK && (tl < 0 || (size_t)tl >= sizeof(tmp))) {
        e = fwt_fail(FWT_E_ARG, "%s: path too long", db);
    }
    fwt_signlog *log = NULL;
    if (e == FWT_OK) {
        unlink(tmp);
        e = open_db(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &log);
    }
    if (e == FWT_OK && (e = exec(log, "BEGIN IMMEDIATE")) == FWT_OK) {
        if ((e = exec(log, k_schema)) == FWT_OK && (e = meta_put(log, "format", SIGNLOG_FORMAT)) == FWT_OK &&
            (e = meta_put(log, "key_spec", spec)) == FWT_OK &&
            (e = meta_put(log, "pubkey", pem)) == FWT_OK) {
            e = meta_put(log, "log_id", idhex);
        }
        if (e == FWT_OK) {
            struct fwt_signlog_sth sth;
            memset(&sth, 0, sizeof(sth));
            memcpy(sth.log_id, kh, 32);
            sth.timestamp = now_seconds();
            if ((e = fwt_merkle_root(NULL, 0, sth.root)) == FWT_OK &&
                (e = sign_sth(key, &sth)) == FWT_OK) {
                e = insert_sth(log, &sth);
            }
        }
        e = e == FWT_OK ? exec(log, "COMMIT") : e;
    }
    fwt_signlog_close(log);
    if (e == FWT_OK) {
        if (link(tmp, db) != 0) {
            e = fwt_fail(errno == EEXIST ? FWT_E_ARG : FWT_E_IO, "%s: %s", db, strerror(errno));
        } else {
            e = fwt_fsync_parent(db);
        }
    }
    if (tl > 0 && (size_t)tl < sizeof(tmp)) {
        char j[PATH_MAX + 16];
        unlink(tmp);
        snprintf(j, sizeof(j), "%s-journal", tmp);
        unlink(j);
    }
    fwt_privkey_free(key);
    fwt_pubkey_free(pub);
    free(pem);
    return e;
}

/* ---- sign --log / cosign --log ---- */

void fwt_signlog_default_signer(char out[FWT_SIGNLOG_SIGNER_MAX])
{
    const char *env = getenv("FWTRUST_SIGNER");
    if (env && env[0]) {
        snprintf(out, FWT_SIGNLOG_SIGNER_MAX, "%s", env);
        return;
    }
    char host[256] = "localhost";
    if (gethostname(host, sizeof(host) - 1) != 0) {
        strcpy(host, "localhost");
    }
    host[sizeof(host) - 1] = '\0';
    const char *user = NULL;
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name) {
        user = pw->pw_name;
    }
    char uid[24];
    if (!user) {
        snprintf(uid, sizeof(uid), "uid%lu", (unsigned long)geteuid());
        user = uid;
    }
    char both[600];
    snprintf(both, sizeof(both), "%.255s@%s", user, host);
    size_t n = strnlen(both, FWT_SIGNLOG_SIGNER_MAX - 1);
    memcpy(out, both, n);
    out[n] = '\0';
    for (char *p = out; *p; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
            *p = '_';
        }
    }
}

fwt_err fwt_signlog_pending_name(const char *final_path, char **out)
{
    *out = NULL;
    const char *slash = strrchr(final_path, '/');
    const char *base = slash ? slash + 1 : final_path;
    const char *dot = strrchr(base, '.');
    const char *ext = dot && dot != base ? dot : "";
    size_t dl = slash ? (size_t)(slash - final_path) + 1 : 0;
    size_t need = dl + strlen(base) + strlen(ext) + 48;
    char *s = malloc(need);
    if (!s) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    snprintf(s, need, "%.*s.%s.pending-%ld%s", (int)dl, final_path, base, (long)getpid(), ext);
    *out = s;
    return FWT_OK;
}

fwt_err fwt_signlog_pending_cleanup(const char *final_path, size_t *removed)
{
    if (removed) {
        *removed = 0;
    }
    const char *slash = strrchr(final_path, '/');
    const char *base = slash ? slash + 1 : final_path;
    const char *dot = strrchr(base, '.');
    const char *ext = dot && dot != base ? dot : "";
    char dir[PATH_MAX], prefix[PATH_MAX];
    int dl = slash ? snprintf(dir, sizeof(dir), "%.*s", (int)(slash - final_path), final_path)
                   : snprintf(dir, sizeof(dir), ".");
    if (slash == final_path) {
        dl = snprintf(dir, sizeof(dir), "/");
    }
    int pl = snprintf(prefix, sizeof(prefix), ".%s.pending-", base);
    if (dl < 0 || (size_t)dl >= sizeof(dir) || pl < 0 || (size_t)pl >= sizeof(prefix)) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", final_path);
    }
    DIR *d = opendir(dir);
    if (!d) {
        return errno == ENOENT ? FWT_OK : fwt_fail(FWT_E_IO, "%s: %s", dir, strerror(errno));
    }
    fwt_err e = FWT_OK;
    size_t ext_len = strlen(ext);
    struct dirent *de;
    while (e == FWT_OK && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strncmp(n, prefix, (size_t)pl) != 0) {
            continue;
        }
        /* .BASE.pending-PID EXT [.tmp.XXXXXX] (fwt_signlog_pending_name, and the
         * signer's temporary file next to it) */
        const char *p = n + pl;
        unsigned long long pid = 0;
        size_t digits = 0;
        while (p[digits] >= '0' && p[digits] <= '9' && digits < 10) {
            pid = pid * 10 + (unsigned long long)(p[digits] - '0');
            digits++;
        }
        p += digits;
        if (digits == 0 || pid == 0 || pid > INT_MAX || strncmp(p, ext, ext_len) != 0 ||
            (p[ext_len] != '\0' && strncmp(p + ext_len, ".tmp.", 5) != 0)) {
            continue;
        }
        /* Only files of signers that are gone: a live one still logs its image. */
        if ((pid_t)pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
            continue;
        }
        char full[PATH_MAX];
        int fl = snprintf(full, sizeof(full), "%s/%s", dir, n);
        if (fl < 0 || (size_t)fl >= sizeof(full)) {
            continue;
        }
        if (unlink(full) == 0) {
            if (removed) {
                (*removed)++;
            }
        } else if (errno != ENOENT) {
            e = fwt_fail(FWT_E_IO, "%s: cannot remove an unlogged signed image: %s", full,
                         strerror(errno));
        }
    }
    closedir(d);
    if (e == FWT_OK && removed && *removed) {
        e = fwt_fsync_parent(final_path);
    }
    return e;
}

static fwt_err signer_name(const char *signer, char who[FWT_SIGNLOG_SIGNER_MAX])
{
    if (!signer) {
        fwt_signlog_default_signer(who);
        return FWT_OK;
    }
    size_t n = strlen(signer);
    if (n >= FWT_SIGNLOG_SIGNER_MAX) {
        return fwt_fail(FWT_E_ARG, "signer identity longer than %u characters",
                        FWT_SIGNLOG_SIGNER_MAX - 1);
    }
    memcpy(who, signer, n + 1);
    return FWT_OK;
}

/* One record for a signature by keyhash on the image described by info. */
static fwt_err fill_record(struct fwt_signlog_record *r, const struct fwt_image_info *info,
                           const uint8_t keyhash[32], const char *who, uint64_t now)
{
    memset(r, 0, sizeof(*r));
    if (info->digest_len == 0 || info->digest_len > sizeof(r->digest) ||
        info->hw_id_len > sizeof(r->hw_id)) {
        return fwt_fail(FWT_E_INTERNAL, "image digest or hardware id out of range");
    }
    memcpy(r->keyhash, keyhash, 32);
    memcpy(r->digest, info->digest, info->digest_len);
    r->digest_len = info->digest_len;
    r->version = info->hdr.version;
    r->has_security_counter = info->has_security_counter;
    r->security_counter = info->security_counter;
    memcpy(r->hw_id, info->hw_id, info->hw_id_len);
    r->hw_id_len = info->hw_id_len;
    snprintf(r->signer, sizeof(r->signer), "%s", who);
    r->time = now;
    return FWT_OK;
}

fwt_err fwt_signlog_append_image(fwt_signlog *log, const char *image,
                                 const fwt_pubkey *const *keys, size_t n_keys, const char *signer,
                                 fwt_privkey *log_key, uint64_t *first)
{
    if (!log || !image || !keys || n_keys == 0) {
        return fwt_fail(FWT_E_ARG, "fwt_signlog_append_image: missing argument");
    }
    char who[FWT_SIGNLOG_SIGNER_MAX];
    fwt_err e = signer_name(signer, who);
    struct fwt_signlog_record *recs = e == FWT_OK ? calloc(n_keys, sizeof(*recs)) : NULL;
    if (e == FWT_OK && !recs) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    uint64_t now = now_seconds();
    for (size_t i = 0; e == FWT_OK && i < n_keys; i++) {
        uint8_t enc[FWT_PUBKEY_MAX], kh[32];
        size_t el = sizeof(enc);
        if ((e = fwt_pubkey_mcuboot(keys[i], enc, &el)) != FWT_OK ||
            (e = fwt_pubkey_keyhash(keys[i], kh)) != FWT_OK) {
            break;
        }
        for (size_t j = 0; j < i; j++) {
            if (!memcmp(recs[j].keyhash, kh, 32)) {
                e = fwt_fail(FWT_E_ARG, "key %zu is given twice", i + 1);
            }
        }
        struct fwt_trusted_key tk = {fwt_pubkey_type(keys[i]), enc, el};
        struct fwt_policy pol;
        memset(&pol, 0, sizeof(pol));
        pol.keys = &tk;
        pol.n_keys = 1;
        pol.threshold = 1;
        struct fwt_image_info info;
        memset(&info, 0, sizeof(info));
        if (e == FWT_OK && (e = fwt_verify_file(image, &pol, &info)) != FWT_OK) {
            char kx[17];
            fwt_hex_encode(kh, 8, kx);
            e = fwt_fail(e, "%s carries no valid signature by key %zu (%s..): %s", image, i + 1, kx,
                         fwt_detail());
        }
        if (e == FWT_OK) {
            e = fill_record(&recs[i], &info, kh, who, now);
        }
    }
    if (e == FWT_OK) {
        e = append_records(log, recs, n_keys, log_key, first);
    }
    free(recs);
    return e;
}

fwt_err fwt_signlog_commit_image(const char *db, const char *pending, const char *final_path,
                                 fwt_privkey *const *keys, size_t n_keys, const char *signer,
                                 fwt_privkey *log_key, uint64_t *first)
{
    struct fwt_signlog_record *recs = NULL;
    fwt_signlog *log = NULL;
    struct fwt_file_io fio;
    int fio_open = 0;
    uint8_t *work = NULL;
    fwt_err e = FWT_OK;
    if (!db || !pending || !final_path || !keys || n_keys == 0) {
        e = fwt_fail(FWT_E_ARG, "fwt_signlog_commit_image: missing argument");
        goto out;
    }
    recs = calloc(n_keys, sizeof(*recs));
    work = malloc(8192);
    if (!recs || !work) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
        goto out;
    }
    if ((e = fwt_file_io_open_any(&fio, pending)) != FWT_OK) {
        goto out;
    }
    fio_open = 1;
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    if ((e = fwt_image_parse(&fio.io, work, 8192, &info)) != FWT_OK) {
        e = fwt_fail(e, "%s: the signed image does not parse: %s", pending, fwt_detail());
        goto out;
    }
    char who[FWT_SIGNLOG_SIGNER_MAX];
    if ((e = signer_name(signer, who)) != FWT_OK) {
        goto out;
    }
    uint64_t now = now_seconds();
    for (size_t i = 0; i < n_keys; i++) {
        fwt_pubkey *pub = NULL;
        uint8_t kh[32];
        if ((e = fwt_privkey_public(keys[i], &pub)) == FWT_OK) {
            e = fwt_pubkey_keyhash(pub, kh);
        }
        fwt_pubkey_free(pub);
        if (e != FWT_OK || (e = fill_record(&recs[i], &info, kh, who, now)) != FWT_OK) {
            goto out;
        }
    }
    fwt_file_io_close(&fio);
    fio_open = 0;
    if ((e = fwt_signlog_open(db, 1, &log)) != FWT_OK ||
        (e = append_records(log, recs, n_keys, log_key, first)) != FWT_OK) {
        goto out;
    }
    fault_point("logged");
    if (rename(pending, final_path) != 0) {
        e = fwt_fail(FWT_E_IO, "%s: cannot move the signed image into place (it is logged): %s",
                     final_path, strerror(errno));
        goto out;
    }
    e = fwt_fsync_parent(final_path);
out:
    if (fio_open) {
        fwt_file_io_close(&fio);
    }
    if (e != FWT_OK && pending) {
        unlink(pending);
    }
    fwt_signlog_close(log);
    free(recs);
    free(work);
    return e;
}
