/*
 * Fleet server storage and records, against the backend FWT_TEST_DB_URL names
 * (a PostgreSQL started by with_pg.sh) or, without it, SQLite in a temporary
 * directory: schema migrations, one-time expiring tokens, enrollment in one
 * transaction, replay and rate limits, director versions and root rotation,
 * enrollment with a factory certificate (each refusal writing nothing),
 * revocation and CRL, roles, the audit log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/srv.h"

#include <fwtrust/fwt_fleet.h>
#include <fwtrust/fwt_keys.h>

#include <libpq-fe.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_tmp[256];
static char g_dir[300];

static const char *pg_url(void)
{
    const char *u = getenv("FWT_TEST_DB_URL");
    return u && *u ? u : NULL;
}

/* A fresh database for each test: an empty schema on PostgreSQL, a new directory on SQLite. */
static void reset_pg(void)
{
    if (!pg_url()) {
        return;
    }
    PGconn *c = PQconnectdb(pg_url());
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SET client_min_messages TO warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/fwt-srv-test.XXXXXX");
    assert_non_null(mkdtemp(g_tmp));
    char pins[300];
    snprintf(pins, sizeof(pins), "%s/pins", g_tmp);
    setenv("FWTRUST_SIGNLOG_PINS", pins, 1);
    snprintf(g_dir, sizeof(g_dir), "%s/srv", g_tmp);
    reset_pg();
    struct fwt_srv_init_opts o = {pg_url(), NULL, NULL, 0, 0, NULL, NULL};
    json_t *sum = NULL;
    assert_int_equal(fwt_srv_init(g_dir, &o, &sum), FWT_OK);
    assert_string_equal(json_string_value(json_object_get(sum, "db")), pg_url() ? "postgresql" : "sqlite");
    json_decref(sum);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static fwt_srv *open_srv(void)
{
    fwt_srv *s = NULL;
    assert_int_equal(fwt_srv_open(g_dir, NULL, &s), FWT_OK);
    return s;
}

static struct fwt_srv_actor approver(void)
{
    struct fwt_srv_actor w = {"cli:test", FWT_SRV_APPROVER};
    return w;
}

static char *one_token(fwt_srv *s)
{
    struct fwt_srv_actor w = approver();
    json_t *info = NULL;
    assert_int_equal(fwt_srv_enroll_token_create(s, &w, 0, 1, &info), FWT_OK);
    char *t = strdup(json_string_value(json_object_get(info, "token")));
    json_decref(info);
    return t;
}

static int64_t count(fwt_srv *s, const char *sql)
{
    int64_t n = -1;
    assert_int_equal(db_query_int(s->db, sql, NULL, 0, &n), FWT_OK);
    return n;
}

/* Enroll a device with a new P-256 key; returns FWT_OK or the refusal. */
static fwt_err enroll(fwt_srv *s, const char *token, const char *serial, char id[65], struct ca_issued *cert)
{
    struct fwt_srv_enroll_req r;
    memset(&r, 0, sizeof(r));
    snprintf(r.token, sizeof(r.token), "%s", token);
    snprintf(r.hardware_id, sizeof(r.hardware_id), "board-1");
    snprintf(r.serial, sizeof(r.serial), "%s", serial);
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(k);
    fwt_err e = srv_enroll(s, &r, k, id, cert);
    EVP_PKEY_free(k);
    return e;
}

static void test_migrations(void **state)
{
    (void)state;
    fwt_srv *s = open_srv();
    int64_t v = 0;
    assert_int_equal(fwt_srv_db_schema_version(s->db, &v), FWT_OK);
    assert_int_equal(v, DB_SCHEMA_VERSION);
    /* again: nothing to do */
    assert_int_equal(db_migrate(s->db), FWT_OK);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM schema_migrations"), DB_SCHEMA_VERSION);
    /* a newer schema than this server knows is refused, not used */
    struct db_param p[] = {DBI(DB_SCHEMA_VERSION + 1), DBI(0)};
    assert_int_equal(db_exec(s->db, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", p, 2, NULL, NULL),
                     FWT_OK);
    fwt_srv_close(s);
    fwt_srv *s2 = NULL;
    assert_int_equal(fwt_srv_open(g_dir, NULL, &s2), FWT_E_UNSUPPORTED);
    assert_non_null(strstr(fwt_detail(), "newer"));
}

/* Statements are compiled once and kept (SQLite: compiled; PostgreSQL: prepared on the
 * connection): a second pass over as many texts as a busy server runs compiles nothing. */
static void test_statements_kept(void **state)
{
    (void)state;
    fwt_srv *s = open_srv();
    uint64_t before = db_prepared(s->db);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 48; i++) {
            char sql[64];
            snprintf(sql, sizeof(sql), "SELECT %d + COUNT(*) FROM devices WHERE serial <> ?", i);
            struct db_param p[] = {DBT("none")};
            int64_t n = -1;
            assert_int_equal(db_query_int(s->db, sql, p, 1, &n), FWT_OK);
            assert_int_equal(n, i);
        }
        assert_int_equal(db_prepared(s->db) - before, 48);
    }
    if (pg_url()) {
        /* prepared statements dropped behind the server's back (a pooler, an operator): the
         * statement still runs, and is prepared again */
        assert_int_equal(db_exec(s->db, "DEALLOCATE ALL", NULL, 0, NULL, NULL), FWT_OK);
        struct db_param p[] = {DBT("none")};
        int64_t n = -1;
        assert_int_equal(db_query_int(s->db, "SELECT 7 + COUNT(*) FROM devices WHERE serial <> ?", p, 1, &n), FWT_OK);
        assert_int_equal(n, 7);
        assert_int_equal(db_query_int(s->db, "SELECT 7 + COUNT(*) FROM devices WHERE serial <> ?", p, 1, &n), FWT_OK);
        assert_int_equal(n, 7);
        assert_int_equal(db_prepared(s->db) - before, 50); /* DEALLOCATE ALL, then that one again */
        /* and inside a transaction the error stands, then the statement works again */
        assert_int_equal(db_exec(s->db, "DEALLOCATE ALL", NULL, 0, NULL, NULL), FWT_OK);
        assert_int_equal(db_begin(s->db), FWT_OK);
        assert_int_not_equal(db_query_int(s->db, "SELECT 7 + COUNT(*) FROM devices WHERE serial <> ?", p, 1, &n),
                             FWT_OK);
        db_rollback(s->db);
        assert_int_equal(db_query_int(s->db, "SELECT 7 + COUNT(*) FROM devices WHERE serial <> ?", p, 1, &n), FWT_OK);
        assert_int_equal(n, 7);
    }
    fwt_srv_close(s);
}

static void test_tokens_one_time_and_expiring(void **state)
{
    (void)state;
    fwt_srv *s = open_srv();
    char *t = one_token(s);
    char h[65];
    assert_int_equal(srv_hash_token(t, h), FWT_OK);
    /* stored hashed, never in clear */
    struct db_param p[] = {DBT(t)};
    int64_t n = -1;
    assert_int_equal(db_query_int(s->db, "SELECT COUNT(*) FROM enroll_tokens WHERE hash = ?", p, 1, &n), FWT_OK);
    assert_int_equal(n, 0);
    char id[65], id2[65];
    struct ca_issued c, c2;
    assert_int_equal(enroll(s, t, "SN-1", id, &c), FWT_OK);
    assert_int_equal(strncmp(id, "dev-", 4), 0);
    ca_issued_free(&c);
    /* used: refused, and nothing written */
    int64_t before = count(s, "SELECT COUNT(*) FROM devices");
    assert_int_equal(enroll(s, t, "SN-2", id2, &c2), FWT_E_KEY);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM devices"), before);
    /* expired: refused */
    char *t2 = one_token(s);
    assert_int_equal(db_exec(s->db, "UPDATE enroll_tokens SET expires_at = 1 WHERE used_at IS NULL", NULL, 0, NULL, NULL),
                     FWT_OK);
    assert_int_equal(enroll(s, t2, "SN-3", id2, &c2), FWT_E_KEY);
    /* an unknown token */
    assert_int_equal(enroll(s, "00000000000000000000000000000000000000000000000000000000000000ff", "SN-4", id2, &c2),
                     FWT_E_KEY);
    free(t);
    free(t2);
    fwt_srv_close(s);
}

static void test_enroll_is_one_transaction(void **state)
{
    (void)state;
    fwt_srv *s = open_srv();
    char *t1 = one_token(s), *t2 = one_token(s);
    char id[65];
    struct ca_issued c;
    assert_int_equal(enroll(s, t1, "SN-dup", id, &c), FWT_OK);
    ca_issued_free(&c);
    /* the serial is taken: 409, and the second token stays unused (rolled back) */
    assert_int_equal(enroll(s, t2, "SN-dup", id, &c), FWT_E_STATE);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM enroll_tokens WHERE used_at IS NULL"), 1);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM devices"), 1);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM device_certs"), 1);
    free(t1);
    free(t2);
    fwt_srv_close(s);
}

static void device_of(fwt_srv *s, const struct ca_issued *c, struct srv_device *d)
{
    assert_int_equal(srv_device_by_fp(s, c->fp, d), FWT_OK);
}

static void test_checkin_replay_and_rate(void **state)
{
    (void)state;
    fwt_srv *s = open_srv();
    char *t = one_token(s);
    char id[65];
    struct ca_issued c;
    assert_int_equal(enroll(s, t, "SN-r", id, &c), FWT_OK);
    struct srv_device d;
    device_of(s, &c, &d);
    assert_string_equal(d.id, id);
    assert_string_equal(d.status, "active");
    s->set.checkin_burst = 3;
    s->set.checkin_window = 3600;
    assert_int_equal(srv_checkin(s, &d, 5, "{}", "checkin", "c5"), FWT_OK);
    assert_int_equal(srv_checkin(s, &d, 5, "{}", "checkin", "c5"), FWT_E_META_ROLLBACK);
    assert_int_equal(srv_checkin(s, &d, 4, "{}", "checkin", "c4"), FWT_E_META_ROLLBACK);
    assert_int_equal(srv_checkin(s, &d, 6, "{}", "checkin", "c6"), FWT_OK);
    assert_int_equal(srv_checkin(s, &d, 7, NULL, "report", "r7"), FWT_OK);
    /* the fourth in the window: refused, and the counter stays */
    assert_int_equal(srv_checkin(s, &d, 8, "{}", "checkin", "c8"), FWT_E_LOCKED);
    assert_int_equal(count(s, "SELECT counter FROM devices"), 7);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM events WHERE kind IN ('checkin', 'report')"), 3);
    srv_device_free(&d);
    ca_issued_free(&c);
    free(t);
    fwt_srv_close(s);
}

/* Group commit (db_batch_begin): the check-ins of a batch see each other (replay refused
 * inside it), nobody else sees them before the batch commits; a request's savepoint is
 * undone alone; a failed statement outside a savepoint rolls the whole batch back. */
static void test_checkin_group_commit(void **state)
{
    (void)state;
    fwt_srv *s = open_srv(), *other = open_srv();
    char *t = one_token(s);
    char id[65];
    struct ca_issued c;
    assert_int_equal(enroll(s, t, "SN-g", id, &c), FWT_OK);
    struct srv_device d;
    device_of(s, &c, &d);
    s->set.checkin_burst = 100;
    assert_int_equal(db_batch_begin(s->db), FWT_OK);
    assert_int_equal(srv_checkin(s, &d, 5, "{}", "checkin", "c5"), FWT_OK);
    assert_int_equal(srv_checkin(s, &d, 5, "{}", "checkin", "c5"), FWT_E_META_ROLLBACK);
    assert_int_equal(srv_checkin(s, &d, 6, "{}", "checkin", "c6"), FWT_OK);
    assert_int_equal(count(other, "SELECT COUNT(*) FROM events WHERE kind = 'checkin'"), 0); /* not yet */
    assert_int_equal(db_batch_commit(s->db), FWT_OK);
    assert_int_equal(count(other, "SELECT COUNT(*) FROM events WHERE kind = 'checkin'"), 2);
    assert_int_equal(count(other, "SELECT counter FROM devices"), 6);
    /* a savepoint undone alone; the rest commits */
    assert_int_equal(db_batch_begin(s->db), FWT_OK);
    assert_int_equal(db_begin(s->db), FWT_OK);
    assert_int_equal(db_exec(s->db, "UPDATE devices SET counter = 100", NULL, 0, NULL, NULL), FWT_OK);
    db_rollback(s->db);
    assert_int_equal(srv_checkin(s, &d, 8, "{}", "checkin", "c8"), FWT_OK);
    assert_int_equal(db_batch_commit(s->db), FWT_OK);
    assert_int_equal(count(other, "SELECT counter FROM devices"), 8);
    /* a failed statement outside a savepoint: nothing of the batch stays */
    assert_int_equal(db_batch_begin(s->db), FWT_OK);
    assert_int_equal(srv_checkin(s, &d, 9, "{}", "checkin", "c9"), FWT_OK);
    assert_int_not_equal(db_exec(s->db, "SELECT nothing FROM no_such_table", NULL, 0, NULL, NULL), FWT_OK);
    assert_int_equal(db_batch_commit(s->db), FWT_E_IO);
    assert_int_equal(count(other, "SELECT counter FROM devices"), 8);
    assert_int_equal(count(s, "SELECT counter FROM devices"), 8);
    /* and the connection works on, outside a batch */
    assert_int_equal(srv_checkin(s, &d, 9, "{}", "checkin", "c9"), FWT_OK);
    assert_int_equal(count(other, "SELECT counter FROM devices"), 9);
    srv_device_free(&d);
    ca_issued_free(&c);
    free(t);
    fwt_srv_close(other);
    fwt_srv_close(s);
}

static int64_t role_version(fwt_srv *s, const char *id, const char *role)
{
    struct db_param p[] = {DBT(id), DBT(role)};
    int64_t v = -1;
    assert_int_equal(db_query_int(s->db, "SELECT version FROM director_meta WHERE device_id = ? AND role = ?", p, 2, &v),
                     FWT_OK);
    return v;
}

static void test_director_versions(void **state)
{
    (void)state;
    fwt_srv *s = open_srv();
    char *t = one_token(s);
    char id[65];
    struct ca_issued c;
    assert_int_equal(enroll(s, t, "SN-d", id, &c), FWT_OK);
    uint64_t tv = 0;
    assert_int_equal(director_refresh(s, id, &tv), FWT_OK);
    assert_int_equal(tv, 1);
    assert_int_equal(director_refresh(s, id, &tv), FWT_OK);
    assert_int_equal(tv, 1); /* nothing changed: same version */
    struct fwt_srv_actor w = approver();
    const char *tag[] = {"canary"};
    assert_int_equal(fwt_srv_device_tag(s, &w, id, tag, 1, NULL, 0), FWT_OK);
    struct fwt_srv_assignment a = {"tag", "canary", "fw-2.bin", 100,
                                   "1111111111111111111111111111111111111111111111111111111111111111", 2};
    json_t *info = NULL;
    assert_int_equal(fwt_srv_assign(s, &w, &a, &info), FWT_OK);
    json_decref(info);
    assert_int_equal(director_refresh(s, id, &tv), FWT_OK);
    assert_int_equal(tv, 2);
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(director_get(s, id, "targets", &body, &len), FWT_OK);
    assert_non_null(strstr(body, "\"fw-2.bin\""));
    free(body);
    /* the device's own assignment wins over its tag's */
    struct fwt_srv_assignment a2 = {"device", id, "fw-3.bin", 100,
                                    "2222222222222222222222222222222222222222222222222222222222222222", 3};
    assert_int_equal(fwt_srv_assign(s, &w, &a2, &info), FWT_OK);
    json_decref(info);
    assert_int_equal(director_refresh(s, id, &tv), FWT_OK);
    assert_int_equal(tv, 3);
    assert_int_equal(role_version(s, id, "snapshot"), 3);
    assert_int_equal(role_version(s, id, "timestamp"), 3);
    assert_int_equal(director_get(s, id, "targets", &body, &len), FWT_OK);
    assert_non_null(strstr(body, "\"fw-3.bin\""));
    assert_non_null(strstr(body, "\"release_counter\":3"));
    free(body);
    /* a timestamp near expiry: only the timestamp moves */
    assert_int_equal(db_exec(s->db, "UPDATE director_meta SET expires_at = 0 WHERE role = 'timestamp'", NULL, 0, NULL, NULL),
                     FWT_OK);
    assert_int_equal(director_refresh(s, id, &tv), FWT_OK);
    assert_int_equal(tv, 3);
    assert_int_equal(role_version(s, id, "timestamp"), 4);
    assert_int_equal(role_version(s, id, "snapshot"), 3);
    ca_issued_free(&c);
    free(t);
    fwt_srv_close(s);
}

static void test_revoke_crl_roles_audit(void **state)
{
    (void)state;
    fwt_srv *s = open_srv();
    char *t = one_token(s);
    char id[65];
    struct ca_issued c;
    assert_int_equal(enroll(s, t, "SN-v", id, &c), FWT_OK);
    /* roles: a viewer may not assign, an operator may not revoke */
    struct fwt_srv_actor viewer = {"admin:v", FWT_SRV_VIEWER}, op = {"admin:o", FWT_SRV_OPERATOR};
    struct fwt_srv_assignment a = {"device", id, "fw.bin", 1,
                                   "3333333333333333333333333333333333333333333333333333333333333333", 0};
    json_t *info = NULL;
    assert_int_equal(fwt_srv_assign(s, &viewer, &a, &info), FWT_E_KEY);
    assert_int_equal(fwt_srv_device_revoke(s, &op, id, 0), FWT_E_KEY);
    struct fwt_srv_actor w = approver();
    assert_int_equal(fwt_srv_device_revoke(s, &w, id, 0), FWT_OK);
    struct srv_device d;
    device_of(s, &c, &d);
    assert_string_equal(d.status, "revoked");
    /* a revoked device's check-in is refused */
    assert_int_equal(srv_checkin(s, &d, 1, "{}", "checkin", "x"), FWT_E_CERT);
    srv_device_free(&d);
    /* the CRL names its certificate */
    FILE *f = fopen(s->crl_path, "r");
    assert_non_null(f);
    X509_CRL *crl = PEM_read_X509_CRL(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(crl);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);
    BIGNUM *bn = NULL;
    assert_true(BN_hex2bn(&bn, c.serial) > 0);
    ASN1_INTEGER *sn = BN_to_ASN1_INTEGER(bn, NULL);
    X509_REVOKED *rv = NULL;
    assert_int_equal(X509_CRL_get0_by_serial(crl, &rv, sn), 1);
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(s->ca_cert)), 1);
    X509_CRL_free(crl);
    /* the audit log holds the admin actions and verifies against its pinned key */
    fwt_signlog *log = NULL;
    assert_int_equal(fwt_signlog_open(s->audit_path, 0, &log), FWT_OK);
    uint64_t n = 0;
    assert_int_equal(fwt_signlog_size(log, &n), FWT_OK);
    assert_int_equal(n, 2); /* enroll-token-create, device-revoke */
    struct fwt_signlog_pin pin;
    assert_int_equal(fwt_signlog_pin_load(s->audit_path, &pin), FWT_OK);
    assert_int_equal(fwt_signlog_verify(log, pin.pub, NULL, NULL), FWT_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(fwt_signlog_entry(log, 1, &text, &len), FWT_OK);
    struct fwt_signlog_event ev;
    assert_int_equal(fwt_signlog_event_parse((const uint8_t *)text, len, &ev), FWT_OK);
    assert_string_equal(ev.action, "device-revoke");
    free(text);
    fwt_signlog_pin_free(&pin);
    fwt_signlog_close(log);
    ca_issued_free(&c);
    free(t);
    fwt_srv_close(s);
}

static void test_parsers(void **state)
{
    (void)state;
    struct fwt_srv_enroll_req r;
    const char *ok = "{\"token\":\"00000000000000000000000000000000000000000000000000000000000000aa\","
                     "\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\",\"hardware_id\":\"b\",\"serial\":\"S N\"}";
    assert_int_equal(fwt_srv_parse_enroll((const uint8_t *)ok, strlen(ok), &r), FWT_OK);
    fwt_srv_enroll_req_free(&r);
    static const char *const bad[] = {
        "", "[]", "{\"token\":1}", "{\"token\":\"aa\",\"csr\":\"x\",\"hardware_id\":\"b\",\"serial\":\"s\"}",
        /* duplicate key */
        "{\"token\":\"00000000000000000000000000000000000000000000000000000000000000aa\",\"token\":\"00000000000000000000000000000000000000000000000000000000000000aa\","
        "\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\",\"hardware_id\":\"b\",\"serial\":\"s\"}",
        /* unknown field */
        "{\"token\":\"00000000000000000000000000000000000000000000000000000000000000aa\",\"x\":1,"
        "\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\",\"hardware_id\":\"b\",\"serial\":\"s\"}",
        /* quote in the serial */
        "{\"token\":\"00000000000000000000000000000000000000000000000000000000000000aa\","
        "\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\",\"hardware_id\":\"b\",\"serial\":\"s\\\"\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(fwt_srv_parse_enroll((const uint8_t *)bad[i], strlen(bad[i]), &r), FWT_E_MALFORMED);
    }
    /* with a factory certificate instead of a token */
    const char *fok = "{\"factory_cert\":\"-----BEGIN CERTIFICATE-----\\n\","
                      "\"nonce\":\"00000000000000000000000000000000000000000000000000000000000000aa\","
                      "\"signature\":\"3045ff\",\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\","
                      "\"hardware_id\":\"b\",\"serial\":\"FAC-1\"}";
    assert_int_equal(fwt_srv_parse_enroll((const uint8_t *)fok, strlen(fok), &r), FWT_OK);
    assert_non_null(r.factory_cert);
    assert_string_equal(r.token, "");
    assert_int_equal(r.signature_len, 3);
    assert_int_equal(r.signature[2], 0xff);
    fwt_srv_enroll_req_free(&r);
    static const char *const fbad[] = {
        /* a token beside the factory certificate */
        "{\"factory_cert\":\"-----BEGIN CERTIFICATE-----\\n\",\"token\":\"00\","
        "\"nonce\":\"00000000000000000000000000000000000000000000000000000000000000aa\",\"signature\":\"30\","
        "\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\",\"hardware_id\":\"b\",\"serial\":\"s\"}",
        /* a short nonce */
        "{\"factory_cert\":\"-----BEGIN CERTIFICATE-----\\n\",\"nonce\":\"00aa\",\"signature\":\"30\","
        "\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\",\"hardware_id\":\"b\",\"serial\":\"s\"}",
        /* an odd-length signature */
        "{\"factory_cert\":\"-----BEGIN CERTIFICATE-----\\n\","
        "\"nonce\":\"00000000000000000000000000000000000000000000000000000000000000aa\",\"signature\":\"304\","
        "\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\",\"hardware_id\":\"b\",\"serial\":\"s\"}",
        /* not a PEM certificate */
        "{\"factory_cert\":\"MIIB\","
        "\"nonce\":\"00000000000000000000000000000000000000000000000000000000000000aa\",\"signature\":\"30\","
        "\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\",\"hardware_id\":\"b\",\"serial\":\"s\"}",
        /* no signature */
        "{\"factory_cert\":\"-----BEGIN CERTIFICATE-----\\n\","
        "\"nonce\":\"00000000000000000000000000000000000000000000000000000000000000aa\","
        "\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\",\"hardware_id\":\"b\",\"serial\":\"s\"}",
    };
    for (size_t i = 0; i < sizeof(fbad) / sizeof(fbad[0]); i++) {
        assert_int_equal(fwt_srv_parse_enroll((const uint8_t *)fbad[i], strlen(fbad[i]), &r), FWT_E_MALFORMED);
    }
    char *big = calloc(1, FWT_SRV_BODY_MAX + 2);
    memset(big, ' ', FWT_SRV_BODY_MAX + 1);
    assert_int_equal(fwt_srv_parse_enroll((const uint8_t *)big, FWT_SRV_BODY_MAX + 1, &r), FWT_E_TOO_LARGE);
    free(big);
    json_t *o = NULL;
    static const char *const allowed[] = {"add", "ttl", NULL};
    const char *body = "{\"add\":[\"a\"],\"ttl\":5}";
    assert_int_equal(fwt_srv_parse_admin_body((const uint8_t *)body, strlen(body), allowed, &o), FWT_OK);
    json_decref(o);
    assert_int_equal(fwt_srv_parse_admin_body((const uint8_t *)"{\"add\":[1]}", 11, allowed, &o), FWT_E_MALFORMED);
    assert_int_equal(fwt_srv_parse_admin_body((const uint8_t *)"{\"ttl\":-1}", 10, allowed, &o), FWT_E_MALFORMED);
    assert_int_equal(fwt_srv_parse_admin_body((const uint8_t *)"{\"rm\":1}", 8, allowed, &o), FWT_E_MALFORMED);
}

/* Director root rotation (director_keys.c): root N+1 signed by the old and the new root key;
 * new online keys; every device's metadata re-signed at its next refresh, versions up; a key
 * that is not the trusted root's, or a role below approver, rotates nothing; a rotation cut
 * after its root (keys still ROLE.key.new) loads; keys no root names are refused. */
static void test_director_rotation(void **state)
{
    (void)state;
    fwt_srv *s = open_srv();
    char *t = one_token(s);
    char id[65], path[400], newroot[400];
    struct ca_issued c;
    assert_int_equal(enroll(s, t, "SN-rot", id, &c), FWT_OK);
    uint64_t tv = 0;
    assert_int_equal(director_refresh(s, id, &tv), FWT_OK);
    assert_int_equal(tv, 1);
    char old_ts[65];
    snprintf(old_ts, sizeof(old_ts), "%s", s->dk[2].keyid);
    struct fwt_srv_actor w = approver(), viewer = {"admin:v", FWT_SRV_VIEWER};
    snprintf(newroot, sizeof(newroot), "%s/newroot.pem", g_tmp);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P256, newroot, NULL), FWT_OK);
    struct fwt_srv_rotate_opts o = {NULL, newroot, 1, 0, NULL};
    json_t *info = NULL;
    int64_t audits = count(s, "SELECT COUNT(*) FROM events WHERE kind = 'director-rotate-root'");
    /* refused: a viewer; a root key that is not root 1's */
    assert_int_equal(fwt_srv_director_rotate(s, &viewer, &o, &info), FWT_E_KEY);
    struct fwt_srv_rotate_opts bogus = {newroot, newroot, 1, 0, NULL};
    assert_int_equal(fwt_srv_director_rotate(s, &w, &bogus, &info), FWT_E_KEY);
    assert_non_null(strstr(fwt_detail(), "is not a root key of director root version 1"));
    snprintf(path, sizeof(path), "%s/director/2.root.json", g_dir);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM events WHERE kind = 'director-rotate-root'"), audits);
    /* the rotation */
    assert_int_equal(fwt_srv_director_rotate(s, &w, &o, &info), FWT_OK);
    assert_int_equal(json_integer_value(json_object_get(info, "version")), 2);
    json_decref(info);
    assert_int_equal(s->root_version, 2);
    assert_string_not_equal(s->dk[2].keyid, old_ts);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM events WHERE kind = 'director-rotate-root'"), audits + 1);
    json_t *root = json_loadb(s->root_json, s->root_len, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(root, "signatures")), 2);
    json_decref(root);
    /* the device's metadata: new versions, signed by the new timestamp key */
    assert_int_equal(director_refresh(s, id, &tv), FWT_OK);
    assert_int_equal(tv, 2);
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(director_get(s, id, "timestamp", &body, &len), FWT_OK);
    assert_non_null(strstr(body, s->dk[2].keyid));
    assert_null(strstr(body, old_ts));
    free(body);
    /* another process sees the rotation by itself */
    fwt_srv *s2 = open_srv();
    assert_int_equal(s2->root_version, 2);
    struct fwt_srv_rotate_opts online = {newroot, NULL, 1, 0, NULL};
    assert_int_equal(fwt_srv_director_rotate(s2, &w, &online, &info), FWT_OK);
    json_decref(info);
    assert_int_equal(director_refresh(s, id, &tv), FWT_OK); /* s takes root 3 up */
    assert_int_equal(s->root_version, 3);
    assert_string_equal(s->dk[2].keyid, s2->dk[2].keyid);
    assert_int_equal(tv, 3);
    fwt_srv_close(s2);
    /* cut after root 3 was written: the timestamp key still ROLE.key.new, an old one in place */
    char key[400], key_new[400];
    snprintf(key, sizeof(key), "%s/director/timestamp.key", g_dir);
    snprintf(key_new, sizeof(key_new), "%s/director/timestamp.key.new", g_dir);
    assert_int_equal(rename(key, key_new), 0);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P256, key, NULL), FWT_OK);
    s2 = open_srv();
    assert_string_equal(s2->dk[2].keyid, s->dk[2].keyid);
    fwt_srv_close(s2);
    /* no file holds a key root 3 names: the server does not start */
    assert_int_equal(unlink(key_new), 0);
    assert_int_equal(fwt_srv_open(g_dir, NULL, &s2), FWT_E_KEY);
    assert_non_null(strstr(fwt_detail(), "is not the timestamp key of director root version 3"));
    ca_issued_free(&c);
    free(t);
    fwt_srv_close(s);
}

/* ---- enrollment with a factory certificate (factory.c) ---- */

/* A certificate for key: subject CN cn (and serialNumber serial, if any), issued by issuer
 * (NULL: self-signed) with ikey, valid from..to days from now, a CA or not. */
static X509 *mk_cert(EVP_PKEY *key, const char *cn, const char *serial, X509 *issuer, EVP_PKEY *ikey, int ca,
                     long from, long to)
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(rand() & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(x), from * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to * 86400);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    if (serial) {
        X509_NAME_add_entry_by_txt(n, "serialNumber", MBSTRING_ASC, (const unsigned char *)serial, -1, -1, 0);
    }
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_set_pubkey(x, key);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    assert_non_null(bc);
    X509_add_ext(x, bc, -1);
    X509_EXTENSION_free(bc);
    assert_true(X509_sign(x, ikey, EVP_sha256()) > 0);
    return x;
}

static char *pem_of(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    char *d = NULL;
    long n = BIO_get_mem_data(b, &d);
    char *out = strndup(d, (size_t)n);
    BIO_free(b);
    return out;
}

/* The crypto layer's handle of an OpenSSL key (through a PEM file). */
static fwt_privkey *as_privkey(EVP_PKEY *k, const char *name)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/%s.pem", g_tmp, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    fwt_privkey *pk = NULL;
    assert_int_equal(fwt_privkey_load(p, NULL, &pk), FWT_OK);
    return pk;
}

/* A request: cert_pem, a fresh nonce, signed by signer over csr text, hardware id, serial. */
static void factory_req(fwt_srv *s, struct fwt_srv_enroll_req *r, const char *cert_pem, fwt_privkey *signer,
                        const char *serial, const char *nonce)
{
    memset(r, 0, sizeof(*r));
    int64_t exp = 0;
    if (nonce) {
        snprintf(r->nonce, sizeof(r->nonce), "%s", nonce);
    } else {
        assert_int_equal(srv_enroll_nonce(s, r->nonce, &exp), FWT_OK);
    }
    r->csr = strdup("-----BEGIN CERTIFICATE REQUEST-----\n(the key goes separately here)\n");
    r->factory_cert = strdup(cert_pem);
    snprintf(r->hardware_id, sizeof(r->hardware_id), "board-1");
    snprintf(r->serial, sizeof(r->serial), "%s", serial);
    char *msg = NULL;
    size_t ml = 0;
    assert_int_equal(fwt_fleet_factory_message(r->nonce, r->csr, r->hardware_id, r->serial, &msg, &ml), FWT_OK);
    r->signature_len = sizeof(r->signature);
    assert_int_equal(fwt_sign_message(signer, (const uint8_t *)msg, ml, r->signature, &r->signature_len), FWT_OK);
    free(msg);
}

static int64_t written(fwt_srv *s)
{
    return count(s, "SELECT COUNT(*) FROM devices") * 1000000 + count(s, "SELECT COUNT(*) FROM factory_identities") * 10000 +
           count(s, "SELECT COUNT(*) FROM enroll_nonces WHERE used_at IS NOT NULL") * 100 +
           count(s, "SELECT COUNT(*) FROM device_certs");
}

static void test_factory_enroll(void **state)
{
    (void)state;
    fwt_srv *s = open_srv();
    struct fwt_srv_actor w = approver(), viewer = {"admin:v", FWT_SRV_VIEWER};
    EVP_PKEY *cak = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *otk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *dk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *wk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *ca = mk_cert(cak, "Acme CA", NULL, NULL, cak, 1, -1, 3650), *other = mk_cert(otk, "Other", NULL, NULL, otk, 1, -1, 3650);
    X509 *good = mk_cert(dk, "widget", "FAC-1", ca, cak, 0, -1, 365);
    X509 *expired = mk_cert(dk, "widget", "FAC-2", ca, cak, 0, -400, -1);
    X509 *unknown = mk_cert(dk, "widget", "FAC-3", other, otk, 0, -1, 365);
    char *ca_pem = pem_of(ca), *good_pem = pem_of(good), *exp_pem = pem_of(expired), *unk_pem = pem_of(unknown);
    fwt_privkey *dpk = as_privkey(dk, "factory"), *wpk = as_privkey(wk, "wrong");
    json_t *info = NULL;
    /* the CA: approver only; a device certificate is no CA */
    assert_int_equal(fwt_srv_factory_ca_add(s, &viewer, "acme", ca_pem, strlen(ca_pem), &info), FWT_E_KEY);
    assert_int_equal(fwt_srv_factory_ca_add(s, &w, "acme", good_pem, strlen(good_pem), &info), FWT_E_CERT);
    assert_int_equal(fwt_srv_factory_ca_add(s, &w, "acme", ca_pem, strlen(ca_pem), &info), FWT_OK);
    json_decref(info);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM events WHERE kind = 'factory-ca-add'"), 1);
    struct fwt_srv_enroll_req r;
    char id[65], id2[65];
    struct ca_issued c, c2;
    int reused = 0;
    int64_t before = written(s);
    /* refusals: nothing written */
    EVP_PKEY *pub = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    factory_req(s, &r, good_pem, wpk, "FAC-1", NULL);
    assert_int_equal(srv_factory_enroll(s, &r, pub, id, &c, &reused), FWT_E_SIGNATURE);
    fwt_srv_enroll_req_free(&r);
    factory_req(s, &r, exp_pem, dpk, "FAC-2", NULL);
    assert_int_equal(srv_factory_enroll(s, &r, pub, id, &c, &reused), FWT_E_CERT);
    assert_non_null(strstr(fwt_detail(), "expired"));
    fwt_srv_enroll_req_free(&r);
    factory_req(s, &r, unk_pem, dpk, "FAC-3", NULL);
    assert_int_equal(srv_factory_enroll(s, &r, pub, id, &c, &reused), FWT_E_CERT);
    assert_non_null(strstr(fwt_detail(), "not issued by a configured factory CA"));
    fwt_srv_enroll_req_free(&r);
    factory_req(s, &r, good_pem, dpk, "FAC-9", NULL); /* the request's serial is not the certificate's */
    assert_int_equal(srv_factory_enroll(s, &r, pub, id, &c, &reused), FWT_E_CERT);
    fwt_srv_enroll_req_free(&r);
    factory_req(s, &r, good_pem, dpk, "FAC-1", NULL); /* the device key is the factory key */
    assert_int_equal(srv_factory_enroll(s, &r, dk, id, &c, &reused), FWT_E_STATE);
    assert_int_equal(reused, 1);
    fwt_srv_enroll_req_free(&r);
    factory_req(s, &r, good_pem, dpk, "FAC-1", "00000000000000000000000000000000000000000000000000000000000000aa");
    assert_int_equal(srv_factory_enroll(s, &r, pub, id, &c, &reused), FWT_E_KEY); /* a nonce never issued */
    fwt_srv_enroll_req_free(&r);
    assert_int_equal(written(s), before);
    /* the good one; then its nonce and its identity are used up */
    factory_req(s, &r, good_pem, dpk, "FAC-1", NULL);
    assert_int_equal(srv_factory_enroll(s, &r, pub, id, &c, &reused), FWT_OK);
    char nonce[65];
    snprintf(nonce, sizeof(nonce), "%s", r.nonce);
    fwt_srv_enroll_req_free(&r);
    assert_int_equal(count(s, "SELECT COUNT(*) FROM factory_identities"), 1);
    EVP_PKEY *pub2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    before = written(s);
    factory_req(s, &r, good_pem, dpk, "FAC-1", nonce);
    assert_int_equal(srv_factory_enroll(s, &r, pub2, id2, &c2, &reused), FWT_E_KEY);
    fwt_srv_enroll_req_free(&r);
    factory_req(s, &r, good_pem, dpk, "FAC-1", NULL);
    assert_int_equal(srv_factory_enroll(s, &r, pub2, id2, &c2, &reused), FWT_E_STATE);
    assert_int_equal(reused, 0);
    assert_non_null(strstr(fwt_detail(), "already enrolled as device"));
    fwt_srv_enroll_req_free(&r);
    factory_req(s, &r, good_pem, dpk, "FAC-1", NULL); /* a key a device has */
    assert_int_equal(srv_factory_enroll(s, &r, pub, id2, &c2, &reused), FWT_E_STATE);
    assert_int_equal(reused, 1);
    fwt_srv_enroll_req_free(&r);
    assert_int_equal(written(s), before);
    /* revoked: refused until allowed, then once, as a new record */
    assert_int_equal(fwt_srv_device_allow_reenroll(s, &w, id), FWT_E_STATE); /* active */
    assert_int_equal(fwt_srv_device_revoke(s, &w, id, 0), FWT_OK);
    factory_req(s, &r, good_pem, dpk, "FAC-1", NULL);
    assert_int_equal(srv_factory_enroll(s, &r, pub2, id2, &c2, &reused), FWT_E_STATE);
    fwt_srv_enroll_req_free(&r);
    assert_int_equal(fwt_srv_device_allow_reenroll(s, &viewer, id), FWT_E_KEY);
    assert_int_equal(fwt_srv_device_allow_reenroll(s, &w, id), FWT_OK);
    factory_req(s, &r, good_pem, dpk, "FAC-1", NULL);
    assert_int_equal(srv_factory_enroll(s, &r, pub2, id2, &c2, &reused), FWT_OK);
    fwt_srv_enroll_req_free(&r);
    assert_string_not_equal(id, id2);
    json_t *old = NULL;
    assert_int_equal(fwt_srv_device_show(s, id, &old), FWT_OK);
    char moved[200];
    snprintf(moved, sizeof(moved), "FAC-1@%s", id);
    assert_string_equal(json_string_value(json_object_get(old, "serial")), moved);
    assert_string_equal(json_string_value(json_object_get(old, "status")), "revoked");
    json_decref(old);
    EVP_PKEY *pub3 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char id3[65];
    struct ca_issued c3;
    factory_req(s, &r, good_pem, dpk, "FAC-1", NULL); /* allowed once */
    assert_int_equal(srv_factory_enroll(s, &r, pub3, id3, &c3, &reused), FWT_E_STATE);
    fwt_srv_enroll_req_free(&r);
    /* the CA removed: nothing enrolls through it */
    char fp[65];
    assert_int_equal(ca_cert_fp(ca, fp), FWT_OK);
    assert_int_equal(fwt_srv_factory_ca_remove(s, &w, fp), FWT_OK);
    assert_int_equal(fwt_srv_factory_ca_remove(s, &w, fp), FWT_E_NOT_FOUND);
    factory_req(s, &r, good_pem, dpk, "FAC-1", NULL);
    assert_int_equal(srv_factory_enroll(s, &r, pub3, id3, &c3, &reused), FWT_E_CERT);
    fwt_srv_enroll_req_free(&r);
    ca_issued_free(&c);
    ca_issued_free(&c2);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(pub2);
    EVP_PKEY_free(pub3);
    fwt_privkey_free(dpk);
    fwt_privkey_free(wpk);
    free(ca_pem);
    free(good_pem);
    free(exp_pem);
    free(unk_pem);
    X509_free(ca);
    X509_free(other);
    X509_free(good);
    X509_free(expired);
    X509_free(unknown);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(otk);
    EVP_PKEY_free(dk);
    EVP_PKEY_free(wk);
    fwt_srv_close(s);
}

/* The audit log's event entries: canonical only; text rules. */
static void test_event_entries(void **state)
{
    (void)state;
    struct fwt_signlog_event ev;
    memset(&ev, 0, sizeof(ev));
    strcpy(ev.action, "assign");
    strcpy(ev.actor, "admin:bob");
    strcpy(ev.subject, "tag:canary");
    strcpy(ev.detail, "target fw.bin");
    ev.time = 1796196181;
    char *t = NULL;
    size_t n = 0;
    assert_int_equal(fwt_signlog_event_encode(&ev, &t, &n), FWT_OK);
    assert_string_equal(t, "{\"action\":\"assign\",\"actor\":\"admin:bob\",\"detail\":\"target fw.bin\","
                           "\"subject\":\"tag:canary\",\"time\":1796196181,\"type\":\"event\"}");
    struct fwt_signlog_event back;
    assert_int_equal(fwt_signlog_event_parse((const uint8_t *)t, n, &back), FWT_OK);
    assert_string_equal(back.detail, "target fw.bin");
    free(t);
    static const char *const bad[] = {
        /* not canonical: space, key order */
        "{\"action\": \"assign\",\"actor\":\"a\",\"detail\":\"\",\"subject\":\"\",\"time\":1,\"type\":\"event\"}",
        "{\"actor\":\"a\",\"action\":\"assign\",\"detail\":\"\",\"subject\":\"\",\"time\":1,\"type\":\"event\"}",
        /* a signature record is no event; an unknown type */
        "{\"action\":\"assign\",\"actor\":\"a\",\"detail\":\"\",\"subject\":\"\",\"time\":1,\"type\":\"other\"}",
        /* an empty actor, an upper-case action, an extra field, an escaped quote */
        "{\"action\":\"assign\",\"actor\":\"\",\"detail\":\"\",\"subject\":\"\",\"time\":1,\"type\":\"event\"}",
        "{\"action\":\"Assign\",\"actor\":\"a\",\"detail\":\"\",\"subject\":\"\",\"time\":1,\"type\":\"event\"}",
        "{\"action\":\"assign\",\"actor\":\"a\",\"detail\":\"\",\"subject\":\"\",\"time\":1,\"type\":\"event\",\"x\":1}",
        "{\"action\":\"assign\",\"actor\":\"a\\\"\",\"detail\":\"\",\"subject\":\"\",\"time\":1,\"type\":\"event\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(fwt_signlog_event_parse((const uint8_t *)bad[i], strlen(bad[i]), &back), FWT_E_MALFORMED);
    }
    strcpy(ev.actor, "a\"b");
    assert_int_equal(fwt_signlog_event_encode(&ev, &t, &n), FWT_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statements_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tokens_one_time_and_expiring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enroll_is_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkin_replay_and_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkin_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_director_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_director_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_factory_enroll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_crl_roles_audit, setup, teardown),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_event_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
