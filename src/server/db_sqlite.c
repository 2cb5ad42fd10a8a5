/*
 * Storage backend: SQLite (the default; one file, nothing to start). WAL
 * journal with synchronous=FULL: a committed transaction survives a killed
 * process and a power cut; an uncommitted one leaves no trace.
 *
 * Statements are prepared once and kept (db_stmts, db.h): a check-in runs the same dozen
 * each time.
 * The page cache may grow to SQ_CACHE_KIB (SQLite's default, 2 MiB, holds less than the
 * pages check-ins touch at a few thousand devices: each was read again from the file).
 */
#include "db.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static fwt_err sq_fail(sqlite3 *db, const char *what)
{
    int rc = sqlite3_extended_errcode(db);
    fwt_err e = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? FWT_E_LOCKED
              : (rc & 0xff) == SQLITE_CONSTRAINT ? FWT_E_STATE
              : (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB ? FWT_E_STATE
                                                                             : FWT_E_IO;
    return fwt_fail(e, "sqlite: %s: %s", what, sqlite3_errmsg(db));
}

#define SQ_CACHE_KIB 32768
#define SQ_STR2(x) #x
#define SQ_STR(x) SQ_STR2(x)

struct sq {
    sqlite3 *db;
    struct db_stmts kept;
};

/* The prepared statement of sql: kept, or prepared and kept. */
static sqlite3_stmt *sq_stmt(struct sq *q, const char *sql)
{
    size_t slot = 0;
    void *old = NULL;
    sqlite3_stmt *st = db_stmts_find(&q->kept, sql, &slot, &old);
    if (st) {
        return st;
    }
    if (sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        return NULL;
    }
    sqlite3_finalize(old);
    if (db_stmts_put(&q->kept, slot, sql, st) != FWT_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static fwt_err sq_exec(void *h, const char *sql, const struct db_param *p, size_t np,
                       struct db_rows *rows, uint64_t *changes)
{
    struct sq *q = h;
    sqlite3 *db = q->db;
    if (rows) {
        memset(rows, 0, sizeof(*rows));
    }
    sqlite3_stmt *st = sq_stmt(q, sql);
    if (!st) {
        return sq_fail(db, "prepare");
    }
    fwt_err e = FWT_OK;
    for (size_t i = 0; i < np && e == FWT_OK; i++) {
        int rc = p[i].type == DB_INT    ? sqlite3_bind_int64(st, (int)i + 1, p[i].i)
               : p[i].type == DB_TEXT && p[i].s
                   ? sqlite3_bind_text(st, (int)i + 1, p[i].s, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, (int)i + 1);
        if (rc != SQLITE_OK) {
            e = sq_fail(db, "bind");
        }
    }
    size_t cap = 0;
    int rc = SQLITE_DONE;
    while (e == FWT_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!rows) {
            continue;
        }
        size_t nc = (size_t)sqlite3_column_count(st);
        rows->ncols = nc;
        if ((rows->nrows + 1) * nc > cap) {
            size_t ncap = cap ? cap * 2 : 16 * (nc ? nc : 1);
            while (ncap < (rows->nrows + 1) * nc) {
                ncap *= 2;
            }
            char **nv = realloc(rows->v, ncap * sizeof(*nv));
            if (!nv) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
                break;
            }
            rows->v = nv;
            cap = ncap;
        }
        for (size_t c = 0; c < nc; c++) {
            const unsigned char *t = sqlite3_column_text(st, (int)c);
            char *copy = NULL;
            if (t && !(copy = strdup((const char *)t))) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
            }
            rows->v[rows->nrows * nc + c] = copy;
        }
        rows->nrows++;
    }
    if (e == FWT_OK && rc != SQLITE_DONE) {
        e = sq_fail(db, "step");
    }
    if (e == FWT_OK && changes) {
        *changes = (uint64_t)sqlite3_changes64(db);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (e != FWT_OK && rows) {
        db_rows_free(rows);
    }
    return e;
}

static fwt_err sq_simple(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fwt_err e = sq_fail(db, sql);
        sqlite3_free(msg);
        return e;
    }
    return FWT_OK;
}

static fwt_err sq_begin(void *h)
{
    return sq_simple(((struct sq *)h)->db, "BEGIN IMMEDIATE");
}

static fwt_err sq_commit(void *h)
{
    return sq_simple(((struct sq *)h)->db, "COMMIT");
}

static void sq_rollback(void *h)
{
    char *msg = NULL;
    if (sqlite3_exec(((struct sq *)h)->db, "ROLLBACK", NULL, NULL, &msg) != SQLITE_OK) {
        sqlite3_free(msg);
    }
}

static void sq_drop(void *ctx, void *st)
{
    (void)ctx;
    sqlite3_finalize(st);
}

static void sq_close(void *h)
{
    struct sq *q = h;
    db_stmts_clear(&q->kept, sq_drop, NULL);
    sqlite3_close(q->db);
    free(q);
}

static uint64_t sq_prepared(void *h)
{
    return ((struct sq *)h)->kept.prepares;
}

static const struct db_backend k_sqlite = {
    .name = "sqlite",
    .exec = sq_exec,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .close = sq_close,
    .prepared = sq_prepared,
    .dialect_pg = 0,
};

fwt_err db_sqlite_open(const char *path, const struct db_backend **be, void **h)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        fwt_err e = fwt_fail(FWT_E_IO, "sqlite: %s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return e;
    }
    sqlite3_busy_timeout(db, 10000);
    fwt_err e = sq_simple(db, "PRAGMA journal_mode=WAL");
    if (e == FWT_OK) {
        e = sq_simple(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-" SQ_STR(SQ_CACHE_KIB));
    }
    struct sq *q = e == FWT_OK ? calloc(1, sizeof(*q)) : NULL;
    if (e == FWT_OK && !q) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (e != FWT_OK) {
        e = fwt_fail(e, "%s: %s", path, fwt_detail());
        sqlite3_close(db);
        return e;
    }
    q->db = db;
    *be = &k_sqlite;
    *h = q;
    return FWT_OK;
}
