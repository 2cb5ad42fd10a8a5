/*
 * Storage backend: PostgreSQL through libpq, for fleets that outgrow one
 * machine: several fwtrust-server processes share one database. Statements
 * come with '?' placeholders (db.h) and are numbered here ($1, $2, ...);
 * values travel as text.
 */
#include "db.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_MAX_PARAMS 32

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

static fwt_err pg_exec(void *h, const char *sql, const struct db_param *p, size_t np,
                       struct db_rows *rows, uint64_t *changes)
{
    PGconn *c = h;
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
        PQreset(c); /* the server restarted or the network dropped: one reconnect per statement */
    }
    PGresult *r = PQexecParams(c, text, (int)np, NULL, vals, NULL, NULL, 0);
    free(text);
    ExecStatusType st = PQresultStatus(r);
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
    if (PQstatus(h) == CONNECTION_BAD) {
        PQreset(h);
    }
    return pg_simple(h, "BEGIN");
}

static fwt_err pg_commit(void *h)
{
    /* COMMIT of a transaction a failed statement aborted answers "ROLLBACK", not an error */
    PGresult *r = PQexec(h, "COMMIT");
    fwt_err e = PQresultStatus(r) != PGRES_COMMAND_OK ? pg_fail(h, r, "COMMIT")
                : strcmp(PQcmdStatus(r), "COMMIT") != 0
                    ? fwt_fail(FWT_E_IO, "postgresql: the transaction was rolled back (a statement in it failed)")
                    : FWT_OK;
    PQclear(r);
    return e;
}

static void pg_rollback(void *h)
{
    PQclear(PQexec(h, "ROLLBACK"));
}

static void pg_close(void *h)
{
    PQfinish(h);
}

static const struct db_backend k_pg = {
    .name = "postgresql",
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .close = pg_close,
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
    if (e != FWT_OK) {
        PQfinish(c);
        return e;
    }
    *be = &k_pg;
    *h = c;
    return FWT_OK;
}
