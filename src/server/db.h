/*
 * fwtrust fleet server, storage: one schema, two backends (SQLite, the default,
 * one file; PostgreSQL through libpq) behind one small interface. Internal to
 * src/server (library fwt_server); the CLI uses <fwtrust/fwt_server.h>.
 *
 * Statements are written once, with '?' placeholders; the PostgreSQL backend
 * numbers them ($1, $2, ...). Every value goes in and comes out as text (or an
 * int64 bound as such), so both backends see the same SQL. Only the schema
 * migrations differ where the dialects do (auto-increment keys).
 */
#ifndef FWT_SRV_DB_H
#define FWT_SRV_DB_H

#include <fwtrust/fwt_util.h>

#include <stddef.h>
#include <stdint.h>

enum db_ptype { DB_NULL = 0, DB_TEXT, DB_INT };
struct db_param {
    enum db_ptype type;
    const char *s;
    int64_t i;
};
#define DBT(x) ((struct db_param){DB_TEXT, (x), 0})
#define DBI(x) ((struct db_param){DB_INT, NULL, (int64_t)(x)})
#define DBN ((struct db_param){DB_NULL, NULL, 0})

/* A result: nrows x ncols strings (NULL for SQL NULL), row-major. */
struct db_rows {
    size_t nrows, ncols;
    char **v;
};
void db_rows_free(struct db_rows *r);
static inline const char *db_cell(const struct db_rows *r, size_t row, size_t col)
{
    return (row < r->nrows && col < r->ncols) ? r->v[row * r->ncols + col] : NULL;
}

struct db_backend {
    const char *name; /* "sqlite", "postgresql" */
    /* Run one statement. rows (may be NULL) gets the result; changes (may be NULL) the
     * rows inserted, updated or deleted. */
    fwt_err (*exec)(void *h, const char *sql, const struct db_param *p, size_t np,
                    struct db_rows *rows, uint64_t *changes);
    fwt_err (*begin)(void *h);   /* a write transaction */
    fwt_err (*commit)(void *h);
    void (*rollback)(void *h);
    void (*close)(void *h);
    /* statements compiled so far (NULL: the backend keeps none; PostgreSQL plans each) */
    uint64_t (*prepared)(void *h);
    int dialect_pg;
};

struct fwt_srv_db {
    const struct db_backend *be;
    void *h;
    int in_txn;
    /* group commit (db_batch_begin): one transaction around several requests; their own
     * transactions are savepoints in it */
    int batch;
    int batch_failed; /* a statement failed outside a savepoint: the batch cannot commit */
    unsigned sp_depth;
};

/* Statements a backend keeps, by SQL text: DB_STMT_SETS sets of DB_STMT_WAYS slots, a set
 * chosen by a hash of the text; a text whose set is full replaces one of it, in turn. (One
 * slot a hash was too few: two check-in statements sharing one were compiled again at
 * every check-in.) st is the backend's: a compiled statement, a prepared statement's name. */
#define DB_STMT_SETS 64
#define DB_STMT_WAYS 4
#define DB_STMT_SLOTS (DB_STMT_SETS * DB_STMT_WAYS)
struct db_stmts {
    struct {
        char *sql;
        void *st;
    } kept[DB_STMT_SLOTS];
    unsigned char victim[DB_STMT_SETS]; /* per set: the way replaced next */
    uint64_t prepares;                  /* statements compiled (db_prepared) */
};
/* The kept statement of sql, or NULL; then *slot is where the caller keeps the one it
 * compiles (db_stmts_put), after dropping what *old holds there (NULL: a free slot). */
void *db_stmts_find(struct db_stmts *k, const char *sql, size_t *slot, void **old);
/* Keep st for sql in slot (counted as compiled). FWT_E_NOMEM: st not kept (the caller
 * drops it). */
FWT_MUST_CHECK fwt_err db_stmts_put(struct db_stmts *k, size_t slot, const char *sql, void *st);
/* Forget sql's statement: its st (the caller drops it), or NULL when none is kept. */
void *db_stmts_take(struct db_stmts *k, const char *sql);
/* Forget every statement, each st handed to drop(ctx, st) first (drop may be NULL). */
void db_stmts_clear(struct db_stmts *k, void (*drop)(void *ctx, void *st), void *ctx);

/* Backends. */
fwt_err db_sqlite_open(const char *path, const struct db_backend **be, void **h);
fwt_err db_pg_open(const char *conninfo, const struct db_backend **be, void **h);

/* Schema: the migrations, applied in order, each in its own transaction. */
#define DB_SCHEMA_VERSION 8
fwt_err db_migrate(struct fwt_srv_db *db);

/* Helpers over db->be. */
FWT_MUST_CHECK fwt_err db_exec(struct fwt_srv_db *db, const char *sql, const struct db_param *p,
                               size_t np, struct db_rows *rows, uint64_t *changes);
/* Statements the backend compiled so far: a statement kept is not counted again (0: it
 * keeps none). */
uint64_t db_prepared(const struct fwt_srv_db *db);
FWT_MUST_CHECK fwt_err db_begin(struct fwt_srv_db *db);
FWT_MUST_CHECK fwt_err db_commit(struct fwt_srv_db *db);
void db_rollback(struct fwt_srv_db *db);
/* Group commit: db_batch_begin opens a transaction in which db_begin/db_commit/db_rollback
 * are savepoints (the work of one request is undone alone); db_batch_commit commits it all
 * at once (one sync to disk for all), or rolls it all back (FWT_E_IO) when any statement
 * outside a savepoint failed or the commit failed. Nothing is durable, so nothing may be
 * answered as done, before db_batch_commit returned FWT_OK. */
FWT_MUST_CHECK fwt_err db_batch_begin(struct fwt_srv_db *db);
FWT_MUST_CHECK fwt_err db_batch_commit(struct fwt_srv_db *db);
/* One row, one column as int64 (FWT_E_NOT_FOUND without a row). */
FWT_MUST_CHECK fwt_err db_query_int(struct fwt_srv_db *db, const char *sql, const struct db_param *p,
                                    size_t np, int64_t *out);
/* Text to int64, strictly (FWT_E_STATE otherwise). */
FWT_MUST_CHECK fwt_err db_to_i64(const char *s, int64_t *out);

#endif /* FWT_SRV_DB_H */
