/*
 * Storage: opening by URL, the versioned schema migrations, small helpers.
 */
#include "db.h"

#include <fwtrust/fwt_server.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void db_rows_free(struct db_rows *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; r->v && i < r->nrows * r->ncols; i++) {
        free(r->v[i]);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

fwt_err db_exec(struct fwt_srv_db *db, const char *sql, const struct db_param *p, size_t np,
                struct db_rows *rows, uint64_t *changes)
{
    fwt_err e = db->be->exec(db->h, sql, p, np, rows, changes);
    if (e != FWT_OK && db->batch && db->sp_depth == 0) {
        db->batch_failed = 1; /* (PostgreSQL: the whole transaction is aborted) */
    }
    return e;
}

static fwt_err sp_exec(struct fwt_srv_db *db, const char *sql)
{
    return db->be->exec(db->h, sql, NULL, 0, NULL, NULL);
}

void *db_stmts_find(struct db_stmts *k, const char *sql, size_t *slot, void **old)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)sql; *c; c++) {
        h = (h ^ *c) * 16777619u;
    }
    size_t set = h % DB_STMT_SETS, free_slot = DB_STMT_SLOTS;
    for (size_t w = 0; w < DB_STMT_WAYS; w++) {
        size_t i = set * DB_STMT_WAYS + w;
        if (k->kept[i].sql && !strcmp(k->kept[i].sql, sql)) {
            return k->kept[i].st;
        }
        if (!k->kept[i].sql && free_slot == DB_STMT_SLOTS) {
            free_slot = i;
        }
    }
    if (free_slot == DB_STMT_SLOTS) {
        free_slot = set * DB_STMT_WAYS + k->victim[set];
        k->victim[set] = (unsigned char)((k->victim[set] + 1) % DB_STMT_WAYS);
    }
    *slot = free_slot;
    *old = k->kept[free_slot].st;
    return NULL;
}

fwt_err db_stmts_put(struct db_stmts *k, size_t slot, const char *sql, void *st)
{
    free(k->kept[slot].sql);
    k->kept[slot].sql = NULL;
    k->kept[slot].st = NULL;
    char *copy = strdup(sql);
    if (!copy) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    k->kept[slot].sql = copy;
    k->kept[slot].st = st;
    k->prepares++;
    return FWT_OK;
}

void *db_stmts_take(struct db_stmts *k, const char *sql)
{
    size_t slot = 0;
    void *old = NULL;
    if (!db_stmts_find(k, sql, &slot, &old)) {
        return NULL;
    }
    for (size_t i = 0; i < DB_STMT_SLOTS; i++) {
        if (k->kept[i].sql && !strcmp(k->kept[i].sql, sql)) {
            void *st = k->kept[i].st;
            free(k->kept[i].sql);
            k->kept[i].sql = NULL;
            k->kept[i].st = NULL;
            return st;
        }
    }
    return NULL;
}

void db_stmts_clear(struct db_stmts *k, void (*drop)(void *ctx, void *st), void *ctx)
{
    for (size_t i = 0; i < DB_STMT_SLOTS; i++) {
        if (k->kept[i].sql && drop) {
            drop(ctx, k->kept[i].st);
        }
        free(k->kept[i].sql);
        k->kept[i].sql = NULL;
        k->kept[i].st = NULL;
    }
}

uint64_t db_prepared(const struct fwt_srv_db *db)
{
    return db->be->prepared ? db->be->prepared(db->h) : 0;
}

fwt_err db_begin(struct fwt_srv_db *db)
{
    if (db->batch) {
        fwt_err e = sp_exec(db, "SAVEPOINT fwt_sp");
        if (e == FWT_OK) {
            db->sp_depth++;
        } else {
            db->batch_failed = 1;
        }
        return e;
    }
    fwt_err e = db->be->begin(db->h);
    db->in_txn = e == FWT_OK;
    return e;
}

/* Undo the innermost savepoint. */
static void sp_rollback(struct fwt_srv_db *db)
{
    if (sp_exec(db, "ROLLBACK TO SAVEPOINT fwt_sp") != FWT_OK || sp_exec(db, "RELEASE SAVEPOINT fwt_sp") != FWT_OK) {
        db->batch_failed = 1;
        fwt_detail_clear();
    }
    db->sp_depth--;
}

fwt_err db_commit(struct fwt_srv_db *db)
{
    if (db->batch) {
        if (db->sp_depth == 0) {
            return fwt_fail(FWT_E_INTERNAL, "database: commit without a transaction");
        }
        fwt_err e = sp_exec(db, "RELEASE SAVEPOINT fwt_sp");
        if (e == FWT_OK) {
            db->sp_depth--;
        } else {
            char why[256];
            snprintf(why, sizeof(why), "%s", fwt_detail());
            sp_rollback(db);
            e = fwt_fail(e, "%s", why);
        }
        return e;
    }
    fwt_err e = db->be->commit(db->h);
    if (e != FWT_OK) {
        db->be->rollback(db->h);
    }
    db->in_txn = 0;
    return e;
}

void db_rollback(struct fwt_srv_db *db)
{
    if (db->batch) {
        if (db->sp_depth > 0) {
            sp_rollback(db);
        }
        return;
    }
    if (db->in_txn) {
        db->be->rollback(db->h);
    }
    db->in_txn = 0;
}

fwt_err db_batch_begin(struct fwt_srv_db *db)
{
    if (db->batch || db->in_txn) {
        return fwt_fail(FWT_E_INTERNAL, "database: a batch inside a transaction");
    }
    fwt_err e = db->be->begin(db->h);
    db->batch = e == FWT_OK;
    db->batch_failed = 0;
    db->sp_depth = 0;
    return e;
}

fwt_err db_batch_commit(struct fwt_srv_db *db)
{
    if (!db->batch) {
        return fwt_fail(FWT_E_INTERNAL, "database: no batch to commit");
    }
    db->batch = 0;
    fwt_err e = FWT_OK;
    if (db->batch_failed || db->sp_depth != 0) {
        e = fwt_fail(FWT_E_IO, "database: a statement of the batch failed: it is rolled back");
    } else if ((e = db->be->commit(db->h)) != FWT_OK) {
        e = fwt_fail(FWT_E_IO, "database: the batch commit failed: %s", fwt_detail());
    }
    if (e != FWT_OK) {
        db->be->rollback(db->h);
    }
    db->batch_failed = 0;
    db->sp_depth = 0;
    return e;
}

fwt_err db_to_i64(const char *s, int64_t *out)
{
    if (!s || !*s) {
        return fwt_fail(FWT_E_STATE, "database: a number is missing");
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) {
        return fwt_fail(FWT_E_STATE, "database: '%s' is not a number", s);
    }
    *out = v;
    return FWT_OK;
}

fwt_err db_query_int(struct fwt_srv_db *db, const char *sql, const struct db_param *p, size_t np,
                     int64_t *out)
{
    struct db_rows r;
    fwt_err e = db_exec(db, sql, p, np, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    if (r.nrows == 0) {
        e = FWT_E_NOT_FOUND;
    } else {
        e = db_to_i64(db_cell(&r, 0, 0), out);
    }
    db_rows_free(&r);
    return e;
}

/* ---- schema ----
 * One migration per schema version. Applied in order, each in a transaction
 * that also records its version: a crash during a migration leaves the
 * previous version, and the next start applies it again. Never edit a
 * migration that has shipped: add the next one. */
struct migration {
    int version;
    const char *common; /* both dialects */
    const char *sqlite; /* then this on SQLite */
    const char *pg;     /* or this on PostgreSQL */
};

static const struct migration k_migrations[] = {
    {1,
     "CREATE TABLE devices ("
     " id TEXT PRIMARY KEY,"
     " hardware_id TEXT NOT NULL,"
     " serial TEXT NOT NULL UNIQUE,"
     " status TEXT NOT NULL CHECK (status IN ('active','revoked','decommissioned')),"
     " enrolled_at BIGINT NOT NULL,"
     " last_seen BIGINT,"
     " counter BIGINT NOT NULL DEFAULT -1,"
     " last_manifest TEXT,"
     " rate_window BIGINT NOT NULL DEFAULT 0,"
     " rate_count BIGINT NOT NULL DEFAULT 0);"
     "CREATE TABLE device_certs ("
     " fp TEXT PRIMARY KEY,"
     " device_id TEXT NOT NULL REFERENCES devices(id),"
     " serial_hex TEXT NOT NULL,"
     " pubkey TEXT NOT NULL,"
     " issued_at BIGINT NOT NULL,"
     " not_after BIGINT NOT NULL);"
     "CREATE INDEX device_certs_device ON device_certs(device_id);"
     "CREATE TABLE device_tags ("
     " device_id TEXT NOT NULL REFERENCES devices(id),"
     " tag TEXT NOT NULL,"
     " PRIMARY KEY (device_id, tag));"
     "CREATE INDEX device_tags_tag ON device_tags(tag);"
     "CREATE TABLE enroll_tokens ("
     " hash TEXT PRIMARY KEY,"
     " created_at BIGINT NOT NULL,"
     " expires_at BIGINT NOT NULL,"
     " used_at BIGINT,"
     " used_by TEXT);"
     "CREATE TABLE admin_tokens ("
     " hash TEXT PRIMARY KEY,"
     " name TEXT NOT NULL,"
     " role TEXT NOT NULL CHECK (role IN ('viewer','operator','approver')),"
     " created_at BIGINT NOT NULL);"
     "CREATE TABLE assignments ("
     " scope TEXT NOT NULL CHECK (scope IN ('device','tag')),"
     " subject TEXT NOT NULL,"
     " target TEXT NOT NULL,"
     " length BIGINT NOT NULL,"
     " sha256 TEXT NOT NULL,"
     " release_counter BIGINT NOT NULL,"
     " created_at BIGINT NOT NULL,"
     " created_by TEXT NOT NULL,"
     " PRIMARY KEY (scope, subject));"
     "CREATE TABLE director_meta ("
     " device_id TEXT NOT NULL REFERENCES devices(id),"
     " role TEXT NOT NULL,"
     " version BIGINT NOT NULL,"
     " expires_at BIGINT NOT NULL,"
     " digest TEXT NOT NULL,"
     " body TEXT NOT NULL,"
     " PRIMARY KEY (device_id, role));",
     "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, time BIGINT NOT NULL,"
     " device_id TEXT, kind TEXT NOT NULL, actor TEXT NOT NULL, detail TEXT NOT NULL);",
     "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, time BIGINT NOT NULL,"
     " device_id TEXT, kind TEXT NOT NULL, actor TEXT NOT NULL, detail TEXT NOT NULL);"},
    /* 2: governed rollouts, quarantine, incidents (time to recover), alerts (rollout.c, alerts.c). */
    {2,
     "CREATE TABLE rollouts ("
     " id TEXT PRIMARY KEY,"
     " name TEXT NOT NULL,"
     " spec TEXT NOT NULL,"
     " target TEXT NOT NULL,"
     " length BIGINT NOT NULL,"
     " sha256 TEXT NOT NULL,"
     " release_counter BIGINT NOT NULL,"
     " hardware_id TEXT NOT NULL,"
     " state TEXT NOT NULL CHECK (state IN ('active','paused','halted','cancelled','done')),"
     " cur_group BIGINT NOT NULL,"
     " n_groups BIGINT NOT NULL,"
     " pause_ack BIGINT NOT NULL DEFAULT -1,"
     " created_by TEXT NOT NULL,"
     " created_at BIGINT NOT NULL,"
     " start_at BIGINT NOT NULL,"
     " reason TEXT NOT NULL DEFAULT '',"
     " updated_at BIGINT NOT NULL);"
     "CREATE TABLE rollout_approvals ("
     " rollout_id TEXT NOT NULL REFERENCES rollouts(id),"
     " approver TEXT NOT NULL,"
     " at BIGINT NOT NULL,"
     " PRIMARY KEY (rollout_id, approver));"
     "CREATE TABLE rollout_devices ("
     " rollout_id TEXT NOT NULL REFERENCES rollouts(id),"
     " device_id TEXT NOT NULL REFERENCES devices(id),"
     " grp BIGINT NOT NULL,"
     " state TEXT NOT NULL CHECK (state IN ('pending','assigned','in_flight','confirmed','failed','reverted')),"
     " attempts BIGINT NOT NULL DEFAULT 0,"
     " assigned_at BIGINT NOT NULL DEFAULT 0,"
     " updated_at BIGINT NOT NULL DEFAULT 0,"
     " detail TEXT NOT NULL DEFAULT '',"
     " prev TEXT,"
     " PRIMARY KEY (rollout_id, device_id));"
     "CREATE INDEX rollout_devices_device ON rollout_devices(device_id);"
     "CREATE TABLE quarantine ("
     " device_id TEXT PRIMARY KEY REFERENCES devices(id),"
     " reason TEXT NOT NULL,"
     " at BIGINT NOT NULL);"
     "CREATE TABLE vulnerable_versions ("
     " version TEXT PRIMARY KEY,"
     " at BIGINT NOT NULL);"
     "CREATE TABLE device_seen ("
     " device_id TEXT PRIMARY KEY REFERENCES devices(id),"
     " addr TEXT NOT NULL,"
     " at BIGINT NOT NULL,"
     " manifest_time BIGINT NOT NULL,"
     " audit_size BIGINT NOT NULL DEFAULT -1,"
     " audit_root TEXT NOT NULL DEFAULT '');"
     "CREATE TABLE sessions ("
     " hash TEXT PRIMARY KEY,"
     " name TEXT NOT NULL,"
     " role TEXT NOT NULL,"
     " csrf TEXT NOT NULL,"
     " expires_at BIGINT NOT NULL);",
     "CREATE TABLE incidents (id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, kind TEXT NOT NULL,"
     " reason TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', at BIGINT NOT NULL, recovered_at BIGINT);"
     "CREATE TABLE alerts (id INTEGER PRIMARY KEY AUTOINCREMENT, time BIGINT NOT NULL, rule TEXT NOT NULL,"
     " device_id TEXT, subject TEXT NOT NULL, detail TEXT NOT NULL, action TEXT NOT NULL DEFAULT '');"
     "CREATE TABLE webhook_deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id BIGINT NOT NULL,"
     " url TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,"
     " next_at BIGINT NOT NULL, last_error TEXT NOT NULL DEFAULT '');",
     "CREATE TABLE incidents (id BIGSERIAL PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL,"
     " reason TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', at BIGINT NOT NULL, recovered_at BIGINT);"
     "CREATE TABLE alerts (id BIGSERIAL PRIMARY KEY, time BIGINT NOT NULL, rule TEXT NOT NULL,"
     " device_id TEXT, subject TEXT NOT NULL, detail TEXT NOT NULL, action TEXT NOT NULL DEFAULT '');"
     "CREATE TABLE webhook_deliveries (id BIGSERIAL PRIMARY KEY, alert_id BIGINT NOT NULL,"
     " url TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL, attempts BIGINT NOT NULL DEFAULT 0,"
     " next_at BIGINT NOT NULL, last_error TEXT NOT NULL DEFAULT '');"},
    /* 3: remote attestation (src/server/attest.c, docs/attestation.md): the device's
     * attestation key (pending until credential activation), single-use nonces shared
     * by every server process, and the signed attestation records. */
    {3,
     "CREATE TABLE attest_keys ("
     " device_id TEXT PRIMARY KEY REFERENCES devices(id),"
     " state TEXT NOT NULL CHECK (state IN ('pending','active')),"
     " doc TEXT NOT NULL,"
     " created_at BIGINT NOT NULL,"
     " activated_at BIGINT);"
     "CREATE TABLE attest_nonces ("
     " nonce TEXT PRIMARY KEY,"
     " device_id TEXT NOT NULL REFERENCES devices(id),"
     " issued_at BIGINT NOT NULL,"
     " used_at BIGINT);"
     "CREATE INDEX attest_nonces_issued ON attest_nonces(issued_at);",
     "CREATE TABLE attestations (id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL,"
     " time BIGINT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,"
     " running TEXT NOT NULL DEFAULT '', record TEXT NOT NULL);"
     "CREATE INDEX attestations_device ON attestations(device_id, time);",
     "CREATE TABLE attestations (id BIGSERIAL PRIMARY KEY, device_id TEXT NOT NULL,"
     " time BIGINT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,"
     " running TEXT NOT NULL DEFAULT '', record TEXT NOT NULL);"
     "CREATE INDEX attestations_device ON attestations(device_id, time);"},
    /* 4: images whose rollouts are refused (fwt_srv_image_block: a release marked
     * vulnerable or withdrawn in the catalog, docs/catalog.md). */
    {4, "CREATE TABLE blocked_images (sha256 TEXT PRIMARY KEY, reason TEXT NOT NULL, at BIGINT NOT NULL);", "",
     ""},
    /* 5: device attributes (key=value, store.c fwt_srv_device_attr), selected by rollouts
     * (rollout.select.attrs). */
    {5,
     "CREATE TABLE device_attrs ("
     " device_id TEXT NOT NULL REFERENCES devices(id),"
     " key TEXT NOT NULL,"
     " value TEXT NOT NULL,"
     " PRIMARY KEY (device_id, key));"
     "CREATE INDEX device_attrs_key ON device_attrs(key, value);",
     NULL, NULL},
    /* 6: administrators' client certificates (mutual TLS instead of a bearer token; store.c
     * fwt_srv_admin_cert_create): the role is bound here, by the certificate's fingerprint. */
    {6,
     "CREATE TABLE admin_certs ("
     " fp TEXT PRIMARY KEY,"
     " name TEXT NOT NULL,"
     " role TEXT NOT NULL CHECK (role IN ('viewer','operator','approver')),"
     " serial_hex TEXT NOT NULL,"
     " created_at BIGINT NOT NULL,"
     " not_after BIGINT NOT NULL);",
     NULL, NULL},
    /* 7: enrollment with a factory certificate (factory.c): the manufacturers' CAs, the
     * server's single-use enrollment nonces, and which device record each factory identity
     * (factory CA, subject serialNumber) enrolled. */
    {7,
     "CREATE TABLE factory_cas ("
     " fp TEXT PRIMARY KEY,"
     " name TEXT NOT NULL,"
     " subject TEXT NOT NULL,"
     " pem TEXT NOT NULL,"
     " not_after BIGINT NOT NULL,"
     " added_at BIGINT NOT NULL,"
     " added_by TEXT NOT NULL);"
     "CREATE TABLE enroll_nonces ("
     " nonce TEXT PRIMARY KEY,"
     " issued_at BIGINT NOT NULL,"
     " used_at BIGINT);"
     "CREATE INDEX enroll_nonces_issued ON enroll_nonces(issued_at);"
     "CREATE TABLE factory_identities ("
     " identity TEXT PRIMARY KEY,"
     " device_id TEXT NOT NULL REFERENCES devices(id),"
     " ca_fp TEXT NOT NULL,"
     " cert_fp TEXT NOT NULL,"
     " enrolled_at BIGINT NOT NULL,"
     " reenroll_allowed BIGINT NOT NULL DEFAULT 0);"
     "CREATE INDEX factory_identities_device ON factory_identities(device_id);",
     NULL, NULL},
    /* 8: the check-in storm rule counts the last minute's check-ins (alerts.c): by this
     * index, not a scan of every event ever written. */
    {8, "CREATE INDEX events_kind_time ON events(kind, time);", NULL, NULL},
};

/* Run a ';'-separated script one statement at a time (libpq's extended protocol and
 * sqlite3_prepare take one each). */
static fwt_err run_script(struct fwt_srv_db *db, const char *script)
{
    fwt_err e = FWT_OK;
    const char *p = script;
    while (e == FWT_OK && p && *p) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char *one = strndup(p, n);
        if (!one) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        if (strspn(one, " \n\t") != n) {
            e = db_exec(db, one, NULL, 0, NULL, NULL);
        }
        free(one);
        p = end ? end + 1 : NULL;
    }
    return e;
}

fwt_err db_migrate(struct fwt_srv_db *db)
{
    fwt_err e = db_exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,"
                            " applied_at BIGINT NOT NULL)",
                        NULL, 0, NULL, NULL);
    /* Two servers starting at once: PostgreSQL may report the concurrent CREATE as a
     * unique violation; the table is there either way. */
    if (e != FWT_OK && db->be->dialect_pg) {
        e = db_exec(db, "SELECT 1 FROM schema_migrations LIMIT 1", NULL, 0, NULL, NULL);
    }
    if (e != FWT_OK) {
        return e;
    }
    for (size_t i = 0; i < sizeof(k_migrations) / sizeof(k_migrations[0]); i++) {
        const struct migration *m = &k_migrations[i];
        if ((e = db_begin(db)) != FWT_OK) {
            return e;
        }
        /* One migrator at a time across processes (SQLite: BEGIN IMMEDIATE already). */
        if (db->be->dialect_pg) {
            e = db_exec(db, "SELECT pg_advisory_xact_lock(7104011)", NULL, 0, NULL, NULL);
        }
        int64_t have = 0;
        if (e == FWT_OK) {
            e = db_query_int(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0,
                             &have);
        }
        if (e == FWT_OK && have > DB_SCHEMA_VERSION) {
            e = fwt_fail(FWT_E_UNSUPPORTED,
                         "database schema version %" PRId64 " is newer than this server's (%d): "
                         "run the newer fwtrust-server",
                         have, DB_SCHEMA_VERSION);
        }
        if (e == FWT_OK && have < m->version) {
            if (have != m->version - 1) {
                e = fwt_fail(FWT_E_STATE, "database schema version %" PRId64 " cannot be migrated to %d",
                             have, m->version);
            }
            if (e == FWT_OK) {
                e = run_script(db, m->common);
            }
            if (e == FWT_OK) {
                e = run_script(db, db->be->dialect_pg ? m->pg : m->sqlite);
            }
            if (e == FWT_OK) {
                struct db_param p[] = {DBI(m->version), DBI(time(NULL))};
                e = db_exec(db, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", p,
                            2, NULL, NULL);
            }
        }
        if (e != FWT_OK) {
            db_rollback(db);
            return fwt_fail(e, "schema migration %d: %s", m->version, fwt_detail());
        }
        if ((e = db_commit(db)) != FWT_OK) {
            return e;
        }
    }
    return FWT_OK;
}

fwt_err fwt_srv_db_open(const char *url, fwt_srv_db **out)
{
    *out = NULL;
    if (!url || !*url) {
        return fwt_fail(FWT_E_ARG, "no database given");
    }
    struct fwt_srv_db *db = calloc(1, sizeof(*db));
    if (!db) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err e;
    if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
        e = db_pg_open(url, &db->be, &db->h);
    } else if (!strncmp(url, "pg:", 3)) {
        e = db_pg_open(url + 3, &db->be, &db->h);
    } else {
        e = db_sqlite_open(!strncmp(url, "sqlite:", 7) ? url + 7 : url, &db->be, &db->h);
    }
    if (e != FWT_OK) {
        free(db);
        return e;
    }
    if ((e = db_migrate(db)) != FWT_OK) {
        fwt_srv_db_close(db);
        return e;
    }
    *out = db;
    return FWT_OK;
}

void fwt_srv_db_close(fwt_srv_db *db)
{
    if (db) {
        db_rollback(db);
        db->be->close(db->h);
        free(db);
    }
}

const char *fwt_srv_db_backend(const fwt_srv_db *db)
{
    return db->be->name;
}

fwt_err fwt_srv_db_schema_version(fwt_srv_db *db, int64_t *version)
{
    return db_query_int(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, version);
}
