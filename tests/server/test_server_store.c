/*
 * Fleet server storage and records, against the backend FWT_TEST_DB_URL names
 * (a PostgreSQL started by with_pg.sh) or, without it, SQLite in a temporary
 * directory: schema migrations, one-time expiring tokens, enrollment in one
 * transaction, replay and rate limits, director versions, revocation and CRL,
 * roles, the audit log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/srv.h"

#include <fwtrust/fwt_keys.h>

#include <libpq-fe.h>
#include <openssl/pem.h>
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
        cmocka_unit_test_setup_teardown(test_tokens_one_time_and_expiring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enroll_is_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkin_replay_and_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkin_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_director_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_crl_roles_audit, setup, teardown),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_event_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
