/*
 * Storage backend: PostgreSQL through libpq, for fleets that outgrow one
 * machine: several fwtrust-server processes share one database. Statements
 * come with '?' placeholders (db.h) and are numbered here ($1, $2, ...);
 * values travel as text.
 *
 * Statements are prepared on the connection once and kept (db_stmts, db.h): a check-in runs
 * about a dozen, each parsed and planned anew before. A connection reset (PQreset) loses
 * them: the kept names are forgotten then. A kept name the server does not know (26000: a
 * pooler in front, a DEALLOCATE) or a plan the schema outdated (0A000) is dropped and the
 * statement runs unprepared once, outside a transaction; inside one the error stands (the
 * transaction is aborted anyway) and the next run prepares it again.
 */
#include "db.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_MAX_PARAMS 32

struct pg {
    PGconn *c;
    struct db_stmts kept; /* st: a struct pg_stmt */
    uint64_t serial;      /* names of prepared statements: "fwt_N" */
};

struct pg_stmt {
    char name[32];
    size_t np;
};

static fwt_err pg_fail(PGconn *c, const PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
    char one[512];
    snprintf(one, sizeof(one), "%s", msg ? msg : "");
    for (char *q = one; *q; q++) {
        if (*q == '\n') {
            *q = ' ';
        }
    }
    fwt_err e = PQstatus(c) != CONNECTION_OK                     ? FWT_E_NETWORK
              : state && (!strcmp(state, "40001") || !strcmp(state, "40P01")) ? FWT_E_LOCKED
              : state && !strncmp(state, "23", 2)                ? FWT_E_STATE
                                                                  : FWT_E_IO;
    return fwt_fail(e, "postgresql: %s: %s", what, one);
}

/* '?' -> $n (the statements of db.c/store.c hold no '?' inside literals). */
static char *number_params(const char *sql, size_t *n)
{
    size_t len = strlen(sql), q = 0;
    for (const char *p = sql; *p; p++) {
        q += *p == '?';
    }
    char *out = malloc(len + q * 3 + 1);
    if (!out) {
        return NULL;
    }
    char *o = out;
    *n = 0;
    for (const char *p = sql; *p; p++) {
        if (*p == '?') {
            o += sprintf(o, "$%zu", ++*n);
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return out;
}

/* Drop a kept statement: on the server (best effort: in an aborted transaction it stays,
 * unused, until the connection ends) and here. */
static void pg_drop(void *ctx, void *st)
{
    struct pg *g = ctx;
    struct pg_stmt *ps = st;
    if (g && ps && PQstatus(g->c) == CONNECTION_OK) {
        char sql[64];
        snprintf(sql, sizeof(sql), "DEALLOCATE %s", ps->name);
        PQclear(PQexec(g->c, sql));
    }
    free(ps);
}

/* The connection is back after PQreset: it holds no prepared statements any more. */
static void pg_reconnect(struct pg *g)
{
    PQreset(g->c);
    db_stmts_clear(&g->kept, pg_drop, NULL);
}

/* The prepared statement of sql (numbered text: its n parameters), or NULL with *e set. */
static const struct pg_stmt *pg_prepare(struct pg *g, const char *sql, const char *text, size_t n, fwt_err *e)
{
    size_t slot = 0;
    void *old = NULL;
    struct pg_stmt *ps = db_stmts_find(&g->kept, sql, &slot, &old);
    if (ps) {
        return ps;
    }
    if (!(ps = calloc(1, sizeof(*ps)))) {
        *e = fwt_fail(FWT_E_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(ps->name, sizeof(ps->name), "fwt_%" PRIu64, ++g->serial);
    ps->np = n;
    PGresult *r = PQprepare(g->c, ps->name, text, (int)n, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        *e = pg_fail(g->c, r, "prepare");
        PQclear(r);
        free(ps);
        return NULL;
    }
    PQclear(r);
    pg_drop(g, old);
    if ((*e = db_stmts_put(&g->kept, slot, sql, ps)) != FWT_OK) {
        pg_drop(g, ps);
        return NULL;
    }
    return ps;
}

static fwt_err pg_exec(void *h, const char *sql, const struct db_param *p, size_t np,
                       struct db_rows *rows, uint64_t *changes)
{
    struct pg *g = h;
    PGconn *c = g->c;
    if (rows) {
        memset(rows, 0, sizeof(*rows));
    }
    if (np > PG_MAX_PARAMS) {
        return fwt_fail(FWT_E_INTERNAL, "postgresql: %zu parameters", np);
    }
    size_t n = 0;
    char *text = number_params(sql, &n);
    if (!text) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (n != np) {
        free(text);
        return fwt_fail(FWT_E_INTERNAL, "postgresql: %zu placeholders, %zu values", n, np);
    }
    char ibuf[PG_MAX_PARAMS][24];
    const char *vals[PG_MAX_PARAMS];
    for (size_t i = 0; i < np; i++) {
        if (p[i].type == DB_INT) {
            snprintf(ibuf[i], sizeof(ibuf[i]), "%" PRId64, p[i].i);
            vals[i] = ibuf[i];
        } else {
            vals[i] = p[i].type == DB_TEXT ? p[i].s : NULL;
        }
    }
    if (PQstatus(c) == CONNECTION_BAD) {
        pg_reconnect(g); /* the server restarted or the network dropped: one reconnect per statement */
    }
    fwt_err pe = FWT_OK;
    const struct pg_stmt *ps = pg_prepare(g, sql, text, np, &pe);
    if (!ps) {
        free(text);
        return pe;
    }
    PGresult *r = PQexecPrepared(c, ps->name, (int)np, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    const char *state = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state && (!strcmp(state, "26000") || !strcmp(state, "0A000"))) {
        /* the prepared statement is gone or outdated: forget it; outside a transaction the
         * statement runs once unprepared (inside, the transaction is aborted already) */
        int idle = PQtransactionStatus(c) == PQTRANS_IDLE;
        pg_drop(idle ? g : NULL, db_stmts_take(&g->kept, sql));
        if (idle) {
            PQclear(r);
            r = PQexecParams(c, text, (int)np, NULL, vals, NULL, NULL, 0);
            st = PQresultStatus(r);
        }
    }
    free(text);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fwt_err e = pg_fail(c, r, "statement");
        PQclear(r);
        return e;
    }
    fwt_err e = FWT_OK;
    if (rows && st == PGRES_TUPLES_OK) {
        size_t nr = (size_t)PQntuples(r), nc = (size_t)PQnfields(r);
        rows->ncols = nc;
        if (nr && nc) {
            rows->v = calloc(nr * nc, sizeof(char *));
            if (!rows->v) {
                e = fwt_fail(FWT_E_NOMEM, "out of memory");
            }
        }
        for (size_t i = 0; e == FWT_OK && i < nr; i++) {
            for (size_t j = 0; j < nc; j++) {
                if (!PQgetisnull(r, (int)i, (int)j) &&
                    !(rows->v[i * nc + j] = strdup(PQgetvalue(r, (int)i, (int)j)))) {
                    e = fwt_fail(FWT_E_NOMEM, "out of memory");
                }
            }
            rows->nrows = i + 1;
        }
    }
    if (e == FWT_OK && changes) {
        const char *t = PQcmdTuples(r);
        *changes = t && *t ? strtoull(t, NULL, 10) : 0;
    }
    PQclear(r);
    if (e != FWT_OK && rows) {
        db_rows_free(rows);
    }
    return e;
}

static fwt_err pg_simple(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    fwt_err e = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK
                    ? FWT_OK
                    : pg_fail(c, r, sql);
    PQclear(r);
    return e;
}

static fwt_err pg_begin(void *h)
{
    struct pg *g = h;
    if (PQstatus(g->c) == CONNECTION_BAD) {
        pg_reconnect(g);
    }
    return pg_simple(g->c, "BEGIN");
}

static fwt_err pg_commit(void *h)
{
    /* COMMIT of a transaction a failed statement aborted answers "ROLLBACK", not an error */
    PGconn *c = ((struct pg *)h)->c;
    PGresult *r = PQexec(c, "COMMIT");
    fwt_err e = PQresultStatus(r) != PGRES_COMMAND_OK ? pg_fail(c, r, "COMMIT")
                : strcmp(PQcmdStatus(r), "COMMIT") != 0
                    ? fwt_fail(FWT_E_IO, "postgresql: the transaction was rolled back (a statement in it failed)")
                    : FWT_OK;
    PQclear(r);
    return e;
}

static void pg_rollback(void *h)
{
    PQclear(PQexec(((struct pg *)h)->c, "ROLLBACK"));
}

static void pg_close(void *h)
{
    struct pg *g = h;
    db_stmts_clear(&g->kept, pg_drop, NULL); /* they end with the connection */
    PQfinish(g->c);
    free(g);
}

static uint64_t pg_prepared(void *h)
{
    return ((struct pg *)h)->kept.prepares;
}

static const struct db_backend k_pg = {
    .name = "postgresql",
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .close = pg_close,
    .prepared = pg_prepared,
    .dialect_pg = 1,
};

fwt_err db_pg_open(const char *conninfo, const struct db_backend **be, void **h)
{
    PGconn *c = PQconnectdb(conninfo);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        fwt_err e = fwt_fail(FWT_E_NETWORK, "postgresql: cannot connect: %s",
                             c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return e;
    }
    fwt_err e = pg_simple(c, "SET client_min_messages TO warning");
    struct pg *g = e == FWT_OK ? calloc(1, sizeof(*g)) : NULL;
    if (e == FWT_OK && !g) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (e != FWT_OK) {
        PQfinish(c);
        return e;
    }
    g->c = c;
    *be = &k_pg;
    *h = g;
    return FWT_OK;
}
