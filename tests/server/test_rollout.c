/*
 * Governed rollouts and fleet metrics (fwt_rollout.h) against SQLite in a temporary
 * server directory, or the PostgreSQL FWT_TEST_DB_URL names: bad specifications
 * refused with nothing created, deterministic cohorts, waves with approval by a
 * second administrator, the automatic halt (at most the devices in flight keep the
 * assignment, the others' director metadata reverts), time-outs, retries, pause,
 * urgent rollouts with two approvals, the critical tier, maintenance windows,
 * quarantine, conflicts, admin actions in the audit log, and every metric against
 * a scripted scenario.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/srv.h"

#include <fwtrust/fwt_fleet.h>
#include <fwtrust/fwt_rollout.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char g_tmp[256];
static char g_dir[300];
static fwt_srv *g_s;
static const char *k_sha = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static const char *pg_url(void)
{
    const char *u = getenv("FWT_TEST_DB_URL");
    return u && *u ? u : NULL;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/fwt-rollout-test.XXXXXX");
    assert_non_null(mkdtemp(g_tmp));
    char pins[300];
    snprintf(pins, sizeof(pins), "%s/pins", g_tmp);
    setenv("FWTRUST_SIGNLOG_PINS", pins, 1);
    snprintf(g_dir, sizeof(g_dir), "%s/srv", g_tmp);
    if (pg_url()) {
        PGconn *c = PQconnectdb(pg_url());
        assert_int_equal(PQstatus(c), CONNECTION_OK);
        PGresult *r = PQexec(c, "SET client_min_messages TO warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
        PQfinish(c);
    }
    struct fwt_srv_init_opts o = {.db_url = pg_url()};
    json_t *sum = NULL;
    assert_int_equal(fwt_srv_init(g_dir, &o, &sum), FWT_OK);
    json_decref(sum);
    assert_int_equal(fwt_srv_open(g_dir, NULL, &g_s), FWT_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fwt_srv_close(g_s);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static const struct fwt_srv_actor k_alice = {"admin:alice", FWT_SRV_OPERATOR};
static const struct fwt_srv_actor k_bob = {"admin:bob", FWT_SRV_APPROVER};
static const struct fwt_srv_actor k_carol = {"admin:carol", FWT_SRV_APPROVER};
static const struct fwt_srv_actor k_viewer = {"admin:vic", FWT_SRV_VIEWER};

static int64_t count(const char *sql, const char *arg)
{
    int64_t n = -1;
    struct db_param p[] = {DBT(arg)};
    assert_int_equal(db_query_int(g_s->db, sql, p, arg ? 1 : 0, &n), FWT_OK);
    return n;
}

/* n devices "PREFIX-%03d" of hardware hw, each with the tags given (NULL-terminated). */
static void add_devices(const char *prefix, int n, const char *hw, ...)
{
    for (int i = 0; i < n; i++) {
        char id[65], serial[80];
        snprintf(id, sizeof(id), "%s-%03d", prefix, i);
        snprintf(serial, sizeof(serial), "sn-%s", id);
        struct db_param p[] = {DBT(id), DBT(hw), DBT(serial)};
        assert_int_equal(db_exec(g_s->db, "INSERT INTO devices (id, hardware_id, serial, status, enrolled_at)"
                                          " VALUES (?, ?, ?, 'active', 0)", p, 3, NULL, NULL), FWT_OK);
        va_list ap;
        va_start(ap, hw);
        for (const char *t = va_arg(ap, const char *); t; t = va_arg(ap, const char *)) {
            struct db_param pt[] = {DBT(id), DBT(t)};
            assert_int_equal(db_exec(g_s->db, "INSERT INTO device_tags (device_id, tag) VALUES (?, ?)", pt, 2, NULL,
                                     NULL), FWT_OK);
        }
        va_end(ap);
    }
}

static json_t *spec(const char *extra_json)
{
    char buf[4096];
    snprintf(buf, sizeof(buf),
             "{\"name\": \"r\", \"target\": \"fw-2.bin\", \"length\": 1000, \"sha256\": \"%s\","
             " \"hardware_id\": \"board-a\", \"release_counter\": 2, \"select\": {\"hardware_id\": \"board-a\"}%s%s}",
             k_sha, extra_json ? ", " : "", extra_json ? extra_json : "");
    json_error_t je;
    json_t *j = json_loads(buf, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        fail_msg("bad test spec: %s: %s", je.text, buf);
    }
    return j;
}

static const char *k_waves = "\"groups\": [{\"percent\": 10, \"error_threshold_count\": 3, \"min_sample\": 3},"
                             " {\"percent\": 100, \"error_threshold_percent\": 20}]";

static char *create(const struct fwt_srv_actor *who, const char *extra, fwt_err want)
{
    json_t *j = spec(extra), *info = NULL;
    fwt_err e = fwt_srv_rollout_create(g_s, who, j, &info);
    json_decref(j);
    if (e != want) {
        fail_msg("create: %d (%s), wanted %d", e, fwt_detail(), want);
    }
    char *id = e == FWT_OK ? strdup(json_string_value(json_object_get(info, "id"))) : NULL;
    json_decref(info);
    return id;
}

static json_t *status(const char *id)
{
    json_t *o = NULL;
    assert_int_equal(fwt_srv_rollout_status(g_s, id, &o), FWT_OK);
    return o;
}

static const char *rstate(const char *id)
{
    static char st[16];
    json_t *o = status(id);
    snprintf(st, sizeof(st), "%s", json_string_value(json_object_get(o, "state")));
    json_decref(o);
    return st;
}

/* Devices of the rollout in a state, in group grp (-1: any). */
static json_t *devs_in(const char *rid, const char *state, int grp)
{
    struct db_param p[] = {DBT(rid), DBT(state), DBI(grp)};
    struct db_rows r;
    assert_int_equal(db_exec(g_s->db, "SELECT device_id FROM rollout_devices WHERE rollout_id = ? AND state = ?"
                                      " AND (? < 0 OR grp = ?) ORDER BY device_id",
                             (struct db_param[]){p[0], p[1], p[2], p[2]}, 4, &r, NULL), FWT_OK);
    json_t *a = json_array();
    for (size_t i = 0; i < r.nrows; i++) {
        json_array_append_new(a, json_string(db_cell(&r, i, 0)));
    }
    db_rows_free(&r);
    return a;
}

static void observe_all(json_t *ids, const char *state, const char *reason, time_t at)
{
    size_t i;
    json_t *x;
    json_array_foreach(ids, i, x) {
        assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(x), "fw-2.bin", state, reason, at), FWT_OK);
    }
}

/* Does the device's director metadata (refreshed now) name a target? */
static int director_names_target(const char *did)
{
    uint64_t tv = 0;
    assert_int_equal(director_refresh(g_s, did, &tv), FWT_OK);
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(director_get(g_s, did, "targets", &body, &len), FWT_OK);
    int named = strstr(body, "fw-2.bin") != NULL;
    free(body);
    return named;
}

/* ---- bad input: a clear error, nothing created ---- */

static void test_bad_specs(void **state)
{
    (void)state;
    add_devices("a", 5, "board-a", NULL);
    add_devices("b", 1, "board-b", NULL);
    static const char *const bad[] = {
        "\"groups\": [{\"percent\": 100, \"error_threshold_count\": 1}], \"color\": 1",
        "\"groups\": [{\"percent\": 101, \"error_threshold_count\": 1}]",
        "\"groups\": [{\"percent\": 50, \"error_threshold_count\": 1}]",
        "\"groups\": [{\"percent\": 100}]",
        "\"groups\": [{\"percent\": 100, \"error_threshold_percent\": 0}]",
        "\"groups\": [{\"percent\": 100, \"error_threshold_count\": 1, \"success_threshold\": 120}]",
        "\"groups\": [{\"percent\": 60, \"error_threshold_count\": 1}, {\"percent\": 40, \"error_threshold_count\": 1}]",
        "\"groups\": [{\"percent\": 100, \"error_threshold_count\": 1, \"success_action\": \"jump\"}]",
        "\"groups\": [{\"percent\": 100, \"error_threshold_count\": 1}], \"windows\": [{\"tag\": \"eu\", \"cron\": "
        "\"61 * * * *\", \"duration\": 3600, \"tz\": \"UTC\"}]",
        "\"groups\": [{\"percent\": 100, \"error_threshold_count\": 1}], \"windows\": [{\"tag\": \"eu\", \"cron\": "
        "\"0 2 * *\", \"duration\": 3600, \"tz\": \"UTC\"}]",
        "\"groups\": [{\"percent\": 100, \"error_threshold_count\": 1}], \"windows\": [{\"tag\": \"eu\", \"cron\": "
        "\"0 2 * * *\", \"duration\": 3600, \"tz\": \"Mars/Olympus\"}]",
        "\"groups\": [{\"percent\": 100, \"error_threshold_count\": 1}], \"windows\": [{\"tag\": \"eu\", \"cron\": "
        "\"0 2 * * *\", \"duration\": 3600, \"tz\": \"../../etc/passwd\"}]",
        "\"groups\": []",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *id = create(&k_alice, bad[i], FWT_E_ARG);
        assert_null(id);
        assert_true(strlen(fwt_detail()) > 0);
    }
    /* a target for other hardware than the selection */
    json_t *j = spec("\"groups\": [{\"percent\": 100, \"error_threshold_count\": 1}]");
    json_object_set_new(json_object_get(j, "select"), "hardware_id", json_string("board-b"));
    json_t *info = NULL;
    assert_int_equal(fwt_srv_rollout_create(g_s, &k_alice, j, &info), FWT_E_ARG);
    assert_non_null(strstr(fwt_detail(), "board-b"));
    /* an explicitly selected device of other hardware */
    json_object_set_new(j, "select", json_pack("{s:[s]}", "devices", "b-000"));
    assert_int_equal(fwt_srv_rollout_create(g_s, &k_alice, j, &info), FWT_E_ARG);
    assert_non_null(strstr(fwt_detail(), "b-000"));
    /* no such device */
    json_object_set_new(j, "select", json_pack("{s:[s]}", "devices", "nope"));
    assert_int_equal(fwt_srv_rollout_create(g_s, &k_alice, j, &info), FWT_E_NOT_FOUND);
    /* a viewer may not create */
    json_object_set_new(j, "select", json_pack("{s:s}", "hardware_id", "board-a"));
    assert_int_equal(fwt_srv_rollout_create(g_s, &k_viewer, j, &info), FWT_E_KEY);
    json_decref(j);
    assert_int_equal(count("SELECT COUNT(*) FROM rollouts", NULL), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices", NULL), 0);
    assert_int_equal(count("SELECT COUNT(*) FROM assignments", NULL), 0);
    /* the parser alone */
    json_t *out = NULL;
    assert_int_equal(fwt_srv_rollout_spec_check((const uint8_t *)"{\"name\":1", 9, &out), FWT_E_ARG);
    assert_int_equal(fwt_srv_rollout_spec_check((const uint8_t *)"{\"a\":1,\"a\":2}", 13, &out), FWT_E_ARG);
    /* explicit ids alone select exactly those devices */
    j = spec("\"groups\": [{\"percent\": 100, \"error_threshold_count\": 1}]");
    json_object_set_new(j, "select", json_pack("{s:[s, s]}", "devices", "a-001", "a-003"));
    assert_int_equal(fwt_srv_rollout_create(g_s, &k_alice, j, &info), FWT_OK);
    assert_int_equal(json_integer_value(json_object_get(info, "devices")), 2);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE device_id IN ('a-001', 'a-003')", NULL), 2);
    json_decref(info);
    json_decref(j);
}

/* ---- cohorts, waves, approval ---- */

static void test_waves_and_approval(void **state)
{
    (void)state;
    add_devices("a", 100, "board-a", NULL);
    char *id = create(&k_alice, k_waves, FWT_OK);
    json_t *st = status(id);
    json_t *g0 = json_array_get(json_object_get(st, "groups"), 0), *g1 = json_array_get(json_object_get(st, "groups"), 1);
    int64_t n0 = json_integer_value(json_object_get(g0, "devices"));
    int64_t n1 = json_integer_value(json_object_get(g1, "devices"));
    assert_int_equal(n0 + n1, 100);
    assert_true(n0 >= 3 && n0 <= 25); /* about 10% */
    json_decref(st);
    /* group 0 assigned at once, group 1 not */
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE state = 'assigned'", NULL), n0);
    assert_int_equal(count("SELECT COUNT(*) FROM assignments WHERE created_by LIKE 'rollout:%'", NULL), n0);
    /* cohorts are a function of (rollout id, device id): recomputing gives the same groups */
    json_t *in0 = devs_in(id, "assigned", 0);
    assert_int_equal((int64_t)json_array_size(in0), n0);
    assert_true(director_names_target(json_string_value(json_array_get(in0, 0))));
    /* all of group 0 confirm: the next group waits for an approval */
    observe_all(in0, "downloading", NULL, time(NULL));
    observe_all(in0, "confirmed", NULL, time(NULL));
    st = status(id);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "active");
    assert_int_equal(json_integer_value(json_object_get(st, "current_group")), 0);
    assert_non_null(strstr(json_string_value(json_object_get(st, "reason")), "approval"));
    json_decref(st);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE state = 'assigned'", NULL), 0);
    /* the creator cannot approve; a viewer or operator cannot; the same approver only once */
    assert_int_equal(fwt_srv_rollout_approve(g_s, &k_alice, id), FWT_E_KEY);
    struct fwt_srv_actor alice_approver = {"admin:alice", FWT_SRV_APPROVER};
    assert_int_equal(fwt_srv_rollout_approve(g_s, &alice_approver, id), FWT_E_KEY);
    assert_non_null(strstr(fwt_detail(), "cannot approve"));
    assert_int_equal(fwt_srv_rollout_approve(g_s, &k_viewer, id), FWT_E_KEY);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_approvals", NULL), 0);
    assert_int_equal(fwt_srv_rollout_approve(g_s, &k_bob, id), FWT_OK);
    assert_int_equal(fwt_srv_rollout_approve(g_s, &k_bob, id), FWT_E_STATE);
    /* group 1 starts */
    json_t *in1 = devs_in(id, "assigned", 1);
    assert_int_equal((int64_t)json_array_size(in1), n1);
    observe_all(in1, "confirmed", NULL, time(NULL));
    assert_string_equal(rstate(id), "done");
    /* every decision in the audit log (events mirror it) */
    assert_int_equal(count("SELECT COUNT(*) FROM events WHERE kind = 'rollout-create'", NULL), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM events WHERE kind = 'rollout-approve'", NULL), 1);
    /* group 2, then the (empty) critical tier */
    assert_int_equal(count("SELECT COUNT(*) FROM events WHERE kind = 'rollout-group-start'", NULL), 2);
    assert_int_equal(count("SELECT COUNT(*) FROM events WHERE kind = 'rollout-done'", NULL), 1);
    /* the same ids in a second rollout land in the same groups as a function of its own id */
    json_decref(in0);
    json_decref(in1);
    free(id);
}

/* ---- the automatic halt ---- */

static void test_auto_halt(void **state)
{
    (void)state;
    add_devices("a", 200, "board-a", NULL);
    char *id = create(&k_alice, "\"groups\": [{\"percent\": 20, \"error_threshold_count\": 3, \"min_sample\": 3},"
                                " {\"percent\": 100, \"error_threshold_count\": 3}]", FWT_OK);
    json_t *in0 = devs_in(id, "assigned", 0);
    size_t n0 = json_array_size(in0);
    assert_true(n0 >= 20);
    /* two devices start (in flight), three fail: the threshold (3 of a minimum sample of 3) is crossed */
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(json_array_get(in0, i)), "fw-2.bin",
                                                 "downloading", NULL, time(NULL)), FWT_OK);
    }
    for (size_t i = 2; i < 4; i++) {
        assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(json_array_get(in0, i)), "fw-2.bin", "failed",
                                                 "FWT_E_IO", time(NULL)), FWT_OK);
        assert_string_equal(rstate(id), "active");
    }
    assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(json_array_get(in0, 4)), "fw-2.bin", "rolled-back",
                                             NULL, time(NULL)), FWT_OK);
    json_t *st = status(id);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "halted");
    assert_non_null(strstr(json_string_value(json_object_get(st, "reason")), "automatic halt"));
    json_decref(st);
    /* at most the devices in flight keep the assignment; the others' metadata reverts */
    assert_int_equal(count("SELECT COUNT(*) FROM assignments WHERE created_by LIKE 'rollout:%'", NULL), 2);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE state = 'in_flight'", NULL), 2);
    assert_true(director_names_target(json_string_value(json_array_get(in0, 0))));
    assert_false(director_names_target(json_string_value(json_array_get(in0, 10))));
    /* further evaluations admit nobody; reports of other devices change nothing */
    assert_int_equal(fwt_srv_rollout_tick(g_s, time(NULL) + 10), FWT_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM assignments WHERE created_by LIKE 'rollout:%'", NULL), 2);
    assert_int_equal(count("SELECT COUNT(*) FROM events WHERE kind = 'rollout-halt' AND actor = 'server:rollout-policy'",
                           NULL), 1);
    /* retry-failed, then resume: the failed devices are admitted again */
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_viewer, id, "retry-failed", NULL), FWT_E_KEY);
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_alice, id, "retry-failed", "fixed the mirror"), FWT_OK);
    assert_string_equal(rstate(id), "halted");
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_alice, id, "resume", NULL), FWT_OK);
    assert_string_equal(rstate(id), "active");
    assert_int_equal(count("SELECT COUNT(*) FROM assignments WHERE created_by LIKE 'rollout:%'", NULL), (int64_t)n0);
    /* a manual halt, then cancel: the not-started devices revert, in-flight ones keep it */
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_alice, id, "halt", "operator stop"), FWT_OK);
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_alice, id, "halt", NULL), FWT_E_STATE);
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_alice, id, "cancel", NULL), FWT_OK);
    assert_string_equal(rstate(id), "cancelled");
    assert_int_equal(count("SELECT COUNT(*) FROM assignments WHERE created_by LIKE 'rollout:%'", NULL), 2);
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_alice, id, "resume", NULL), FWT_E_STATE);
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_alice, id, "explode", NULL), FWT_E_ARG);
    assert_int_equal(count("SELECT COUNT(*) FROM events WHERE kind IN ('rollout-retry-failed','rollout-resume',"
                           "'rollout-cancel')", NULL), 3);
    json_decref(in0);
    free(id);
}

static void test_timeout_retry_pause(void **state)
{
    (void)state;
    add_devices("a", 10, "board-a", NULL);
    char *id = create(&k_alice, "\"confirm_timeout\": 60, \"retries\": 1, \"groups\": [{\"tag\": \"none\", "
                                "\"error_threshold_count\": 1, \"success_action\": \"pause\"}, {\"percent\": 100, "
                                "\"error_threshold_count\": 1, \"success_threshold\": 50}]", FWT_OK);
    /* the tag group is empty: it succeeds at once and pauses for a human */
    assert_string_equal(rstate(id), "paused");
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE state = 'assigned'", NULL), 0);
    assert_int_equal(fwt_srv_rollout_approve(g_s, &k_bob, id), FWT_OK);
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_alice, id, "resume", NULL), FWT_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE state = 'assigned'", NULL), 10);
    /* not confirmed within 60 s: the first time a retry (still assigned), the second time failed -> halt */
    time_t t0 = time(NULL);
    assert_int_equal(fwt_srv_rollout_tick(g_s, t0 + 61), FWT_OK);
    assert_string_equal(rstate(id), "active");
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE state = 'assigned' AND attempts = 1", NULL), 10);
    assert_int_equal(fwt_srv_rollout_tick(g_s, t0 + 200), FWT_OK);
    json_t *st = status(id);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "halted");
    json_decref(st);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE detail LIKE 'not confirmed within 60 s'", NULL),
                     10);
    free(id);
}

static void test_urgent_critical_conflict_quarantine_windows(void **state)
{
    (void)state;
    add_devices("a", 8, "board-a", NULL);
    add_devices("c", 2, "board-a", "critical", NULL);
    add_devices("q", 1, "board-a", NULL);
    add_devices("w", 2, "board-a", "eu", NULL);
    assert_int_equal(fwt_srv_quarantine(g_s, &k_alice, "q-000", 1, "test"), FWT_OK);
    /* a window that is closed now: its minute is half an hour away */
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char extra[1024];
    snprintf(extra, sizeof(extra), "\"urgent\": true, \"windows\": [{\"tag\": \"eu\", \"cron\": \"%d * * * *\", "
             "\"duration\": 60, \"tz\": \"UTC\"}], \"groups\": [{\"percent\": 100, \"error_threshold_count\": 1, "
             "\"success_threshold\": 60}]", (tm.tm_min + 30) % 60);
    char *id = create(&k_alice, extra, FWT_OK);
    /* urgent: nothing before two approvals */
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE state = 'assigned'", NULL), 0);
    assert_int_equal(fwt_srv_rollout_approve(g_s, &k_bob, id), FWT_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE state = 'assigned'", NULL), 0);
    assert_int_equal(fwt_srv_rollout_approve(g_s, &k_carol, id), FWT_OK);
    /* every wave at once, but not the critical tier, not the quarantined device, not "eu" outside its window */
    json_t *as = devs_in(id, "assigned", -1);
    assert_int_equal((int64_t)json_array_size(as), 8);
    size_t i;
    json_t *x;
    json_array_foreach(as, i, x) {
        assert_int_equal(strncmp(json_string_value(x), "a-", 2), 0);
    }
    /* a second rollout claiming the same devices is refused, nothing created */
    int64_t before = count("SELECT COUNT(*) FROM rollouts", NULL);
    free(create(&k_alice, k_waves, FWT_E_STATE));
    assert_non_null(strstr(fwt_detail(), id));
    assert_int_equal(count("SELECT COUNT(*) FROM rollouts", NULL), before);
    /* the others succeed: the critical tier joins */
    observe_all(as, "confirmed", NULL, time(NULL));
    json_t *crit = devs_in(id, "assigned", -1);
    assert_int_equal((int64_t)json_array_size(crit), 2);
    assert_int_equal(strncmp(json_string_value(json_array_get(crit, 0)), "c-", 2), 0);
    /* released from quarantine, the device joins (it is in an urgent rollout's started group) */
    assert_int_equal(fwt_srv_quarantine(g_s, &k_alice, "q-000", 0, NULL), FWT_OK);
    assert_int_equal(fwt_srv_rollout_tick(g_s, time(NULL)), FWT_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE device_id = 'q-000' AND state = 'assigned'",
                           NULL), 1);
    json_decref(as);
    json_decref(crit);
    free(id);
}

static void test_cron(void **state)
{
    (void)state;
    struct fwt_cron c;
    static const char *const good[] = {"* * * * *", "0 2 * * 1-5", "*/15 0-6 1,15 * 0", "5 4 * 1-12/2 7"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(fwt_cron_parse(good[i], &c), FWT_OK);
    }
    static const char *const bad[] = {"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
                                      "* * * 13 *", "* * * * 8", "5-1 * * * *", "*/0 * * * *", "a * * * *", "1- * * * *"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(fwt_cron_parse(bad[i], &c), FWT_E_ARG);
    }
    assert_int_equal(fwt_tz_check("Europe/Berlin"), FWT_OK);
    assert_int_equal(fwt_tz_check("UTC"), FWT_OK);
    assert_int_equal(fwt_tz_check("Europe/Atlantis"), FWT_E_ARG);
    assert_int_equal(fwt_tz_check("/etc/passwd"), FWT_E_ARG);
    /* 02:00-04:00 Berlin time; 2026-01-15 01:30 UTC is 02:30 CET (open), 03:30 UTC is 04:30 (closed) */
    assert_int_equal(fwt_cron_parse("0 2 * * *", &c), FWT_OK);
    int open = 0;
    assert_int_equal(fwt_cron_window_open(&c, "Europe/Berlin", 7200, 1768440600, &open), FWT_OK);
    assert_true(open);
    assert_int_equal(fwt_cron_window_open(&c, "Europe/Berlin", 7200, 1768447800, &open), FWT_OK);
    assert_false(open);
    assert_int_equal(fwt_cron_window_open(&c, "UTC", 7200, 1768440600, &open), FWT_OK);
    assert_false(open);
}

/* ---- blocked images (catalog marks) and exposure ---- */

/* A manifest whose confirmed slot runs the image with SHA-256 sha. */
static void set_running(const char *did, const char *version, const char *sha)
{
    json_t *o = json_pack("{s:{s:[{s:s, s:s, s:s, s:{s:s}}]}}", "signed", "slots", "slot", "a", "state", "confirmed",
                          "version", version, "hashes", "sha256", sha);
    char *m = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct db_param p[] = {DBT(m), DBT(did)};
    assert_int_equal(db_exec(g_s->db, "UPDATE devices SET last_manifest = ? WHERE id = ?", p, 2, NULL, NULL), FWT_OK);
    free(m);
}

static void test_image_block_exposure(void **state)
{
    (void)state;
    add_devices("b", 20, "board-a", NULL);
    char *id = create(&k_alice, k_waves, FWT_OK);
    assert_string_equal(rstate(id), "active");
    json_t *info = NULL;
    /* a viewer cannot block; the digest must be 64 lower-case hex digits */
    assert_int_equal(fwt_srv_image_block(g_s, &k_viewer, k_sha, 1, "x", &info), FWT_E_KEY);
    assert_int_equal(fwt_srv_image_block(g_s, &k_alice, "AAAA", 1, "x", &info), FWT_E_ARG);
    assert_string_equal(rstate(id), "active");
    /* blocking halts the image's rollout at once */
    assert_int_equal(fwt_srv_image_block(g_s, &k_alice, k_sha, 1, "CVE-2026-1234 (withdrawn)", &info), FWT_OK);
    assert_string_equal(json_string_value(json_array_get(json_object_get(info, "halted"), 0)), id);
    json_decref(info);
    json_t *st = status(id);
    assert_string_equal(json_string_value(json_object_get(st, "state")), "halted");
    assert_non_null(strstr(json_string_value(json_object_get(st, "reason")), "CVE-2026-1234"));
    json_decref(st);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE state = 'assigned'", NULL), 0);
    /* neither resumed nor created while blocked */
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_alice, id, "resume", NULL), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "blocked"));
    assert_string_equal(rstate(id), "halted");
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_alice, id, "cancel", NULL), FWT_OK);
    free(create(&k_alice, k_waves, FWT_E_STATE));
    assert_non_null(strstr(fwt_detail(), "is blocked"));
    assert_int_equal(count("SELECT COUNT(*) FROM rollouts", NULL), 1);
    /* exposure: who runs what */
    const char *other = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    set_running("b-000", "1.0.0", k_sha);
    set_running("b-001", "1.0.0", k_sha);
    set_running("b-002", "1.0.0", k_sha);
    set_running("b-003", "2.0.0", other);
    json_t *arr = NULL;
    assert_int_equal(fwt_srv_image_exposure(g_s, NULL, &arr), FWT_OK);
    assert_int_equal(json_array_size(arr), 2);
    json_t *a = json_array_get(arr, 0), *b = json_array_get(arr, 1);
    if (strcmp(json_string_value(json_object_get(a, "sha256")), k_sha) != 0) {
        json_t *t = a;
        a = b;
        b = t;
    }
    assert_string_equal(json_string_value(json_object_get(a, "sha256")), k_sha);
    assert_int_equal(json_integer_value(json_object_get(a, "count")), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(a, "devices"), 2), "id")),
                        "b-002");
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(a, "blocked"), "reason")), "CVE"));
    assert_int_equal(json_integer_value(json_object_get(b, "count")), 1);
    assert_true(json_is_null(json_object_get(b, "blocked")));
    json_decref(arr);
    assert_int_equal(fwt_srv_image_exposure(g_s, other, &arr), FWT_OK);
    assert_int_equal(json_array_size(arr), 1);
    json_decref(arr);
    /* unblocked: a rollout of it may be created again */
    assert_int_equal(fwt_srv_image_block(g_s, &k_alice, k_sha, 0, NULL, &info), FWT_OK);
    json_decref(info);
    char *id2 = create(&k_alice, k_waves, FWT_OK);
    assert_string_equal(rstate(id2), "active");
    assert_int_equal(count("SELECT COUNT(*) FROM blocked_images", NULL), 0);
    free(id2);
    free(id);
}

/* ---- metrics against a scripted scenario ---- */

static void set_manifest(const char *did, const char *version, int64_t last_seen)
{
    json_t *o = json_pack("{s:{s:[{s:s, s:s, s:s}]}}", "signed", "slots", "slot", "a", "state", "confirmed",
                          "version", version);
    char *m = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct db_param p[] = {DBT(m), DBI(last_seen), DBT(did)};
    assert_int_equal(db_exec(g_s->db, "UPDATE devices SET last_manifest = ?, last_seen = ? WHERE id = ?", p, 3, NULL,
                             NULL), FWT_OK);
    free(m);
}

static void test_metrics(void **state)
{
    (void)state;
    add_devices("a", 10, "board-a", NULL);
    time_t now = time(NULL);
    int64_t iv = (int64_t)g_s->set.checkin_interval;
    /* versions: 6 on 1.0.0 (vulnerable), 3 on 2.0.0, 1 never checked in */
    for (int i = 0; i < 9; i++) {
        char id[16];
        snprintf(id, sizeof(id), "a-%03d", i);
        /* freshness: 0-4 fresh, 5-6 late, 7-8 stale */
        int64_t seen = i < 5 ? now - iv : i < 7 ? now - 5 * iv : now - 20 * iv;
        set_manifest(id, i < 6 ? "1.0.0" : "2.0.\"0\n", seen);
    }
    assert_int_equal(fwt_srv_version_vulnerable(g_s, &k_alice, "1.0.0", 1), FWT_OK);
    char *id = create(&k_alice, "\"groups\": [{\"percent\": 100, \"error_threshold_count\": 5}]", FWT_OK);
    json_t *as = devs_in(id, "assigned", -1);
    assert_int_equal(json_array_size(as), 10);
    /* 7 confirm, 3 fail: two refusals (bad signature, rollback), one failure */
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(json_array_get(as, i)), "fw-2.bin", "confirmed",
                                                 NULL, now), FWT_OK);
    }
    assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(json_array_get(as, 7)), "fw-2.bin", "refused",
                                             "FWT_E_SIGNATURE", now - 100), FWT_OK);
    assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(json_array_get(as, 8)), "fw-2.bin", "refused",
                                             "FWT_E_ROLLBACK", now - 50), FWT_OK);
    assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(json_array_get(as, 9)), "fw-2.bin", "failed",
                                             "FWT_E_IO", now - 10), FWT_OK);
    /* recoveries: device 7 after 100 s, device 8 after 50 s; device 9 stays open */
    assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(json_array_get(as, 7)), "", "confirmed", NULL, now),
                     FWT_OK);
    assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(json_array_get(as, 8)), "", "confirmed", NULL, now),
                     FWT_OK);
    json_t *m = NULL;
    assert_int_equal(fwt_srv_metrics(g_s, now, &m), FWT_OK);
    json_t *dv = json_object_get(m, "devices");
    assert_int_equal(json_integer_value(json_object_get(dv, "active")), 10);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(dv, "by_version"), "1.0.0")), 6);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(dv, "by_version"), "2.0.\"0\n")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(dv, "by_version"), "unknown")), 1);
    assert_int_equal(json_integer_value(json_object_get(dv, "on_vulnerable_version")), 6);
    json_t *ck = json_object_get(dv, "checkin");
    assert_int_equal(json_integer_value(json_object_get(ck, "fresh")), 5);
    assert_int_equal(json_integer_value(json_object_get(ck, "late")), 2);
    assert_int_equal(json_integer_value(json_object_get(ck, "stale")), 2);
    assert_int_equal(json_integer_value(json_object_get(ck, "never")), 1);
    json_t *r0 = json_array_get(json_object_get(json_object_get(m, "updates"), "by_rollout"), 0);
    assert_int_equal(json_integer_value(json_object_get(r0, "confirmed")), 7);
    assert_int_equal(json_integer_value(json_object_get(r0, "failed")), 3);
    assert_true(json_real_value(json_object_get(r0, "success_rate")) == 0.7);
    json_t *hw = json_object_get(json_object_get(json_object_get(m, "updates"), "by_hardware"), "board-a");
    assert_true(json_real_value(json_object_get(hw, "success_rate")) == 0.7);
    json_t *ot = json_object_get(json_object_get(m, "updates"), "over_time");
    int64_t ok = 0, bad = 0;
    size_t i;
    json_t *x;
    json_array_foreach(ot, i, x) {
        ok += json_integer_value(json_object_get(x, "confirmed"));
        bad += json_integer_value(json_object_get(x, "failed"));
    }
    assert_int_equal(ok, 7);
    assert_int_equal(bad, 3);
    json_t *rec = json_object_get(m, "recovery");
    assert_int_equal(json_integer_value(json_object_get(rec, "recovered")), 2);
    assert_int_equal(json_integer_value(json_object_get(rec, "open")), 1);
    assert_true(json_real_value(json_object_get(rec, "mean_seconds")) == 75.0);
    assert_int_equal(json_integer_value(json_object_get(rec, "p90_seconds")), 100);
    json_t *tb = json_object_get(json_object_get(m, "tamper"), "by_reason");
    assert_int_equal(json_integer_value(json_object_get(tb, "FWT_E_SIGNATURE")), 1);
    assert_int_equal(json_integer_value(json_object_get(tb, "FWT_E_ROLLBACK")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "tamper"), "total")), 2);
    /* boot verification failures: the image verification errors only (not FWT_E_ROLLBACK, FWT_E_IO) */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "tamper"), "boot_verification_failures")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "tamper"), "manifest_signature_failures")), 0);
    /* the Prometheus text: the same values, hostile label values escaped */
    char *text = NULL;
    assert_int_equal(fwt_srv_metrics_prometheus(m, &text), FWT_OK);
    assert_non_null(strstr(text, "fwtrust_devices_active 10\n"));
    assert_non_null(strstr(text, "fwtrust_devices_by_version{version=\"1.0.0\"} 6\n"));
    assert_non_null(strstr(text, "fwtrust_devices_by_version{version=\"2.0.\\\"0\\n\"} 3\n"));
    assert_non_null(strstr(text, "fwtrust_devices_on_vulnerable_version 6\n"));
    assert_non_null(strstr(text, "fwtrust_devices_checkin{freshness=\"late\"} 2\n"));
    assert_non_null(strstr(text, "fwtrust_time_to_recover_seconds{stat=\"mean\"} 75\n"));
    assert_non_null(strstr(text, "fwtrust_time_to_recover_seconds{stat=\"p90\"} 100\n"));
    assert_non_null(strstr(text, "fwtrust_tamper_detections_total{reason=\"FWT_E_SIGNATURE\"} 1\n"));
    assert_non_null(strstr(text, "fwtrust_update_success_ratio_by_hardware{hardware_id=\"board-a\"} 0.69999999999999996\n"));
    assert_non_null(strstr(text, "fwtrust_boot_verification_failures_total 1\n"));
    assert_non_null(strstr(text, "fwtrust_manifest_signature_failures_total 0\n"));
    free(text);
    json_decref(m);
    /* refused check-ins (events the daemon writes, http.c) and a manifest's verification failure */
    assert_int_equal(srv_event(g_s, "a-000", "signature-refused", "server", "check-in refused: bad"), FWT_OK);
    assert_int_equal(srv_event(g_s, "a-001", "signature-refused", "server", "report refused: bad"), FWT_OK);
    assert_int_equal(srv_event(g_s, "a-001", "checkin", "device", "not a refusal"), FWT_OK);
    assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(json_array_get(as, 9)), "fw-2.bin", "rolled-back",
                                             "FWT_E_NO_BOOTABLE", now), FWT_OK);
    assert_int_equal(fwt_srv_metrics(g_s, now, &m), FWT_OK);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "tamper"), "boot_verification_failures")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "tamper"), "manifest_signature_failures")), 2);
    assert_int_equal(fwt_srv_metrics_prometheus(m, &text), FWT_OK);
    assert_non_null(strstr(text, "fwtrust_boot_verification_failures_total 2\n"));
    assert_non_null(strstr(text, "fwtrust_manifest_signature_failures_total 2\n"));
    free(text);
    json_decref(m);
    json_decref(as);
    free(id);
}

/* ---- device attributes and selection by them ---- */

static void test_device_attrs(void **state)
{
    (void)state;
    add_devices("a", 6, "board-a", NULL);
    const char *k_region[] = {"region"}, *v_eu[] = {"eu"}, *v_us[] = {"us"};
    const char *k_two[] = {"region", "site"}, *v_two[] = {"eu", "line-3"};
    /* a-000, a-001: region=eu (a-001 also site); a-002: region=us; the rest none */
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-000", k_region, v_eu, 1, NULL, 0), FWT_OK);
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-001", k_two, v_two, 2, NULL, 0), FWT_OK);
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-002", k_region, v_eu, 1, NULL, 0), FWT_OK);
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-002", k_region, v_us, 1, NULL, 0), FWT_OK); /* replaced */
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-003", k_two, v_two, 2, NULL, 0), FWT_OK);
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-003", NULL, NULL, 0, k_region, 1), FWT_OK); /* removed */
    json_t *d = NULL;
    assert_int_equal(fwt_srv_device_show(g_s, "a-002", &d), FWT_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "attrs"), "region")), "us");
    json_decref(d);
    assert_int_equal(fwt_srv_device_show(g_s, "a-003", &d), FWT_OK);
    assert_null(json_object_get(json_object_get(d, "attrs"), "region"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "attrs"), "site")), "line-3");
    json_decref(d);
    /* refused, nothing changed: role, key, value, unknown device, nothing to do */
    int64_t n0 = count("SELECT COUNT(*) FROM device_attrs", NULL);
    const char *k_bad[] = {"re gion"}, *v_bad[] = {"e\nu"}, *k_null[] = {NULL};
    assert_int_equal(fwt_srv_device_attr(g_s, &k_viewer, "a-004", k_region, v_eu, 1, NULL, 0), FWT_E_KEY);
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-004", k_bad, v_eu, 1, NULL, 0), FWT_E_ARG);
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-004", k_region, v_bad, 1, NULL, 0), FWT_E_ARG);
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-004", NULL, NULL, 0, k_null, 1), FWT_E_ARG);
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "nobody", k_region, v_eu, 1, NULL, 0), FWT_E_NOT_FOUND);
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-004", NULL, NULL, 0, NULL, 0), FWT_E_ARG);
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    const char *v_big[] = {big};
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-004", k_region, v_big, 1, NULL, 0), FWT_E_ARG);
    /* the per-device limit counts what the device already has */
    char kk[FWT_SRV_MAX_ATTRS][16];
    const char *ks[FWT_SRV_MAX_ATTRS], *vs[FWT_SRV_MAX_ATTRS];
    for (int i = 0; i < FWT_SRV_MAX_ATTRS; i++) {
        snprintf(kk[i], sizeof(kk[i]), "k%d", i);
        ks[i] = kk[i];
        vs[i] = "v";
    }
    assert_int_equal(fwt_srv_device_attr(g_s, &k_alice, "a-001", ks, vs, FWT_SRV_MAX_ATTRS, NULL, 0), FWT_E_ARG);
    assert_int_equal(count("SELECT COUNT(*) FROM device_attrs", NULL), n0);
    /* selection: every attribute given must be equal; with hardware_id */
    char *id = create(&k_alice, "\"groups\": [{\"percent\": 100, \"error_threshold_count\": 5}]", FWT_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE rollout_id = ?", id), 6);
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_bob, id, "cancel", "next"), FWT_OK);
    free(id);
    json_t *j = spec("\"groups\": [{\"percent\": 100, \"error_threshold_count\": 5}]"), *info = NULL;
    json_object_set_new(json_object_get(j, "select"), "attrs", json_pack("{s:s}", "region", "eu"));
    assert_int_equal(fwt_srv_rollout_create(g_s, &k_alice, j, &info), FWT_OK);
    json_t *in = devs_in(json_string_value(json_object_get(info, "id")), "assigned", -1);
    assert_int_equal(json_array_size(in), 2);
    assert_string_equal(json_string_value(json_array_get(in, 0)), "a-000");
    assert_string_equal(json_string_value(json_array_get(in, 1)), "a-001");
    json_decref(in);
    assert_int_equal(fwt_srv_rollout_action(g_s, &k_bob, json_string_value(json_object_get(info, "id")), "cancel",
                                            "next"), FWT_OK);
    json_decref(info);
    json_object_set_new(json_object_get(j, "select"), "attrs", json_pack("{s:s, s:s}", "region", "eu", "site", "line-3"));
    assert_int_equal(fwt_srv_rollout_create(g_s, &k_alice, j, &info), FWT_OK);
    in = devs_in(json_string_value(json_object_get(info, "id")), "assigned", -1);
    assert_int_equal(json_array_size(in), 1);
    assert_string_equal(json_string_value(json_array_get(in, 0)), "a-001");
    json_decref(in);
    json_decref(info);
    /* nobody matches; bad attrs refused by the specification check */
    json_object_set_new(json_object_get(j, "select"), "attrs", json_pack("{s:s}", "region", "mars"));
    assert_int_equal(fwt_srv_rollout_create(g_s, &k_alice, j, &info), FWT_E_ARG);
    json_object_set_new(json_object_get(j, "select"), "attrs", json_pack("{s:i}", "region", 1));
    assert_int_equal(fwt_srv_rollout_create(g_s, &k_alice, j, &info), FWT_E_ARG);
    assert_non_null(strstr(fwt_detail(), "rollout.select.attrs.region"));
    json_object_set_new(json_object_get(j, "select"), "attrs", json_object());
    assert_int_equal(fwt_srv_rollout_create(g_s, &k_alice, j, &info), FWT_E_ARG);
    json_object_set_new(json_object_get(j, "select"), "attrs", json_pack("{s:s}", "bad key", "x"));
    assert_int_equal(fwt_srv_rollout_create(g_s, &k_alice, j, &info), FWT_E_ARG);
    json_decref(j);
}

/* critical_min_signers: without an image repository the signers are unknown, so a selection
 * with critical devices is refused (fail closed); one without is not (tests/server/imagerepo.sh
 * checks the counts against a real repository) */
static void test_critical_min_signers(void **state)
{
    (void)state;
    add_devices("a", 3, "board-a", NULL);
    add_devices("c", 1, "board-a", "critical", NULL);
    int64_t n0 = count("SELECT COUNT(*) FROM rollouts", NULL);
    create(&k_alice, "\"critical_min_signers\": 2, \"groups\": [{\"percent\": 100, \"error_threshold_count\": 5}]",
           FWT_E_ARG);
    assert_non_null(strstr(fwt_detail(), "critical_min_signers"));
    assert_int_equal(count("SELECT COUNT(*) FROM rollouts", NULL), n0);
    create(&k_alice, "\"critical_min_signers\": 9, \"groups\": [{\"percent\": 100, \"error_threshold_count\": 5}]",
           FWT_E_ARG);
    create(&k_alice, "\"critical_min_signers\": 0, \"groups\": [{\"percent\": 100, \"error_threshold_count\": 5}]",
           FWT_E_ARG);
    /* no critical device selected: the policy has nothing to hold back */
    char *id = create(&k_alice, "\"critical_min_signers\": 2, \"critical_tag\": \"none-here\","
                                " \"groups\": [{\"percent\": 100, \"error_threshold_count\": 5}]", FWT_OK);
    free(id);
}

/* ---- anomaly alerts and containment ---- */

static void write_alerts(const char *json)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/alerts.json", g_dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
}

static struct fwt_fleet_manifest *mk_manifest(const char *did, time_t t, uint8_t img, int key_version, int64_t audit)
{
    struct fwt_fleet_manifest *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    snprintf(m->device_id, sizeof(m->device_id), "%s", did);
    m->time = t;
    m->n_slots = 1;
    m->slots[0].slot = 'a';
    m->slots[0].state = FWT_FLEET_SLOT_CONFIRMED;
    m->slots[0].has_image = 1;
    memset(m->slots[0].sha256, img, 32);
    if (key_version >= 0) {
        m->slots[0].has_key_version = 1;
        m->slots[0].key_version = (uint32_t)key_version;
    }
    if (audit >= 0) {
        m->has_audit_head = 1;
        m->audit_head.size = (uint64_t)audit;
        memset(m->audit_head.root, (int)(audit & 0xff), 32);
    }
    return m;
}

static int64_t alerts_of(const char *rule)
{
    return count("SELECT COUNT(*) FROM alerts WHERE rule = ?", rule);
}

static void manifest_from(const char *did, const char *addr, time_t now, time_t t, uint8_t img, int kv, int64_t audit)
{
    struct fwt_fleet_manifest *m = mk_manifest(did, t, img, kv, audit);
    assert_int_equal(fwt_srv_alerts_manifest(g_s, did, m, addr, now), FWT_OK);
    free(m);
}

static void test_alert_rules(void **state)
{
    (void)state;
    add_devices("a", 8, "board-a", NULL);
    char known[65];
    memset(known, 'c', 64); /* 0xcc.. */
    known[64] = 0;
    char cfg[1024];
    snprintf(cfg, sizeof(cfg), "{\"catalog\": true, \"known_images\": [\"%s\"], \"allowed_key_versions\": [2],"
             " \"storm_per_minute\": 3, \"two_places_seconds\": 60, \"containment\": {\"identity-two-places\":"
             " \"quarantine\", \"unknown-image-digest\": \"quarantine\"}}", known);
    write_alerts(cfg);
    time_t now = time(NULL);
    /* a quiet device: nothing */
    manifest_from("a-000", "10.0.0.1", now, now, 0xcc, 2, 5);
    manifest_from("a-000", "10.0.0.1", now + 70, now + 70, 0xcc, 2, 6);
    assert_int_equal(count("SELECT COUNT(*) FROM alerts", NULL), 0);
    /* one identity, two places within a minute: alert and quarantine */
    manifest_from("a-001", "10.0.0.1", now, now, 0xcc, 2, -1);
    manifest_from("a-001", "10.0.0.2", now + 5, now + 5, 0xcc, 2, -1);
    assert_int_equal(alerts_of("identity-two-places"), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM quarantine WHERE device_id = 'a-001'", NULL), 1);
    /* the same again within 10 minutes: not a second alert */
    manifest_from("a-001", "10.0.0.1", now + 6, now + 6, 0xcc, 2, -1);
    assert_int_equal(alerts_of("identity-two-places"), 1);
    /* the clock goes backwards */
    manifest_from("a-002", "10.0.0.3", now, now, 0xcc, 2, -1);
    manifest_from("a-002", "10.0.0.3", now + 70, now - 3600, 0xcc, 2, -1);
    assert_int_equal(alerts_of("clock-backwards"), 1);
    /* the audit log head goes backwards; then the same length with another root */
    manifest_from("a-003", "10.0.0.4", now, now, 0xcc, 2, 10);
    manifest_from("a-003", "10.0.0.4", now + 70, now + 70, 0xcc, 2, 4);
    assert_int_equal(alerts_of("audit-head-backwards"), 1);
    manifest_from("a-004", "10.0.0.5", now, now, 0xcc, 2, 10);
    struct fwt_fleet_manifest *m = mk_manifest("a-004", now + 70, 0xcc, 2, 10);
    m->audit_head.root[0] ^= 1;
    assert_int_equal(fwt_srv_alerts_manifest(g_s, "a-004", m, "10.0.0.5", now + 70), FWT_OK);
    free(m);
    assert_int_equal(alerts_of("audit-head-backwards"), 2);
    /* an image in no catalog: alert and quarantine; a known one: none */
    manifest_from("a-005", "10.0.0.6", now, now, 0x11, 2, -1);
    assert_int_equal(alerts_of("unknown-image-digest"), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM quarantine WHERE device_id = 'a-005'", NULL), 1);
    /* an unexpected signer key version */
    manifest_from("a-006", "10.0.0.7", now, now, 0xcc, 1, -1);
    assert_int_equal(alerts_of("unexpected-signer"), 1);
    /* a check-in storm: more than 3 check-ins in the last minute. In the same second as the
     * rules above (counted then, under the limit): the check-ins written since are added */
    time_t t = time(NULL);
    manifest_from("a-007", "10.0.0.8", t, t, 0xcc, 2, -1);
    assert_int_equal(alerts_of("checkin-storm"), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(srv_event(g_s, "a-007", "checkin", "device:a-007", ""), FWT_OK);
    }
    manifest_from("a-007", "10.0.0.8", t, t, 0xcc, 2, -1);
    assert_int_equal(alerts_of("checkin-storm"), 1);
    /* still a storm: no second alert within 10 minutes */
    for (int i = 0; i < 4; i++) {
        assert_int_equal(srv_event(g_s, "a-007", "checkin", "device:a-007", ""), FWT_OK);
    }
    manifest_from("a-007", "10.0.0.8", t + 1, t + 1, 0xcc, 2, -1);
    assert_int_equal(alerts_of("checkin-storm"), 1);
    /* every alert is in the audit log; the list shows them newest first */
    assert_int_equal(count("SELECT COUNT(*) FROM events WHERE kind = 'alert'", NULL),
                     count("SELECT COUNT(*) FROM alerts", NULL));
    json_t *list = NULL;
    assert_int_equal(fwt_srv_alert_list(g_s, 100, &list), FWT_OK);
    assert_int_equal((int64_t)json_array_size(list), count("SELECT COUNT(*) FROM alerts", NULL));
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "rule")), "checkin-storm");
    json_decref(list);
    /* a bad configuration: the cause named, nothing raised */
    json_t *c = NULL;
    static const char *const bad[] = {"[]", "{\"colour\": 1}", "{\"timeout\": 0}",
                                      "{\"webhooks\": [{\"url\": \"ftp://x\", \"secret\": \"0123456789abcdef\"}]}",
                                      "{\"webhooks\": [{\"url\": \"http://x\", \"secret\": \"short\"}]}",
                                      "{\"known_images\": [\"xyz\"]}", "{\"containment\": {\"nope\": \"quarantine\"}}",
                                      "{\"containment\": {\"checkin-storm\": \"explode\"}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(fwt_srv_alert_config_parse((const uint8_t *)bad[i], strlen(bad[i]), &c), FWT_E_ARG);
    }
}

static void test_alert_failures_halt_version(void **state)
{
    (void)state;
    add_devices("a", 20, "board-a", NULL);
    write_alerts("{\"failure_min\": 3, \"failure_factor\": 3, \"containment\": {\"failures-above-baseline\": "
                 "\"halt-version\"}, \"webhooks\": [{\"url\": \"http://127.0.0.1:1/hook\", \"secret\": "
                 "\"0123456789abcdef0123\"}], \"max_attempts\": 3, \"timeout\": 1}");
    char *id = create(&k_alice, "\"groups\": [{\"percent\": 100, \"error_threshold_count\": 100}]", FWT_OK);
    json_t *as = devs_in(id, "assigned", -1);
    time_t now = time(NULL);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(fwt_srv_rollout_observe(g_s, json_string_value(json_array_get(as, i)), "fw-2.bin",
                                                 i == 1 ? "rolled-back" : "failed", "FWT_E_IO", now), FWT_OK);
        assert_int_equal(fwt_srv_alerts_failures(g_s, now), FWT_OK);
        assert_int_equal(alerts_of("failures-above-baseline"), i == 2);
    }
    /* containment: every unfinished rollout of fw-2.bin is halted */
    assert_string_equal(rstate(id), "halted");
    assert_int_equal(count("SELECT COUNT(*) FROM events WHERE kind = 'rollout-halt' AND actor = 'server:alerts'", NULL),
                     1);
    /* the webhook delivery is queued; an unreachable receiver: retried with back-off, then given up */
    assert_int_equal(count("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'", NULL), 1);
    size_t n = 0;
    assert_int_equal(fwt_srv_webhooks_deliver(g_s, now, &n), FWT_OK);
    assert_int_equal(n, 1);
    assert_int_equal(count("SELECT COUNT(*) FROM webhook_deliveries WHERE attempts = 1 AND state = 'pending'", NULL), 1);
    assert_int_equal(fwt_srv_webhooks_deliver(g_s, now, &n), FWT_OK); /* not due yet */
    assert_int_equal(n, 0);
    assert_int_equal(fwt_srv_webhooks_deliver(g_s, now + 10, &n), FWT_OK);
    assert_int_equal(fwt_srv_webhooks_deliver(g_s, now + 100, &n), FWT_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM webhook_deliveries WHERE attempts = 3 AND state = 'failed'", NULL), 1);
    assert_int_equal(fwt_srv_webhooks_deliver(g_s, now + 1000, &n), FWT_OK);
    assert_int_equal(n, 0);
    json_decref(as);
    free(id);
}

/* A manifest saying the rollout's install rolled back: the device fails once, one incident. */
/* The publish gate's record (as fwtrust repo publish writes it) becomes alerts, once. */
static void test_publish_gate_alerts(void **state)
{
    (void)state;
    write_alerts("{\"webhooks\": [{\"url\": \"http://127.0.0.1:9/hook\", \"secret\": \"0123456789abcdef\"}]}");
    const char *jsonl =
        "{\"by\":\"alice\",\"findings\":[{\"image\":\"/r/staged/targets/fw.bin\",\"kind\":\"not-logged\","
        "\"text\":\"1 of its 1 signature(s) are not in the signing log\"}],\"outcome\":\"refused\",\"time\":1700000000}\n"
        "{\"by\":\"bob\",\"findings\":[{\"image\":\"/r/staged/targets/fw.bin\",\"kind\":\"outside-window\","
        "\"text\":\"log entry 3: signed at 03:00\"}],\"outcome\":\"overridden\",\"reason\":\"INC-7 hotfix\","
        "\"time\":1700000100}\n";
    json_t *info = NULL;
    if (fwt_srv_alerts_publish_gate(g_s, (const uint8_t *)jsonl, strlen(jsonl), time(NULL), &info) != FWT_OK) {
        fail_msg("import: %s", fwt_detail());
    }
    assert_int_equal(json_integer_value(json_object_get(info, "raised")), 2);
    json_decref(info);
    assert_int_equal(alerts_of("publish-gate"), 2);
    assert_int_equal(count("SELECT COUNT(*) FROM webhook_deliveries", NULL), 2);
    assert_int_equal(count("SELECT COUNT(*) FROM alerts WHERE detail LIKE ?", "overridden by bob (reason: INC-7 hotfix)%"),
                     1);
    /* imported again (the file grows): only the new record raises */
    char more[2048];
    snprintf(more, sizeof(more), "%s%s", jsonl,
             "{\"by\":\"carol\",\"findings\":[{\"image\":\"/r/staged/targets/fw2.bin\",\"kind\":\"version-down\","
             "\"text\":\"x\"}],\"outcome\":\"refused\",\"time\":1700000200}\n");
    assert_int_equal(fwt_srv_alerts_publish_gate(g_s, (const uint8_t *)more, strlen(more), time(NULL), &info), FWT_OK);
    assert_int_equal(json_integer_value(json_object_get(info, "raised")), 1);
    assert_int_equal(json_integer_value(json_object_get(info, "already")), 2);
    json_decref(info);
    assert_int_equal(alerts_of("publish-gate"), 3);
    /* a malformed line raises nothing, naming the line */
    const char *bad[] = {
        "{\"by\":\"x\",\"findings\":[],\"outcome\":\"refused\",\"time\":1}",
        "{\"by\":\"x\",\"findings\":[{\"image\":\"a\",\"kind\":\"k\",\"text\":\"t\"}],\"outcome\":\"ok\",\"time\":1}",
        "{\"by\":\"x\",\"findings\":[{\"image\":\"a\",\"kind\":\"k\",\"text\":\"t\"}],\"outcome\":\"refused\",\"time\":-1}",
        "{\"by\":\"x\",\"findings\":[{\"image\":\"a\",\"kind\":\"k\",\"text\":\"t\"}],\"outcome\":\"refused\",\"time\":1,\"x\":1}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(more, sizeof(more),
                 "{\"by\":\"d\",\"findings\":[{\"image\":\"/n.bin\",\"kind\":\"k\",\"text\":\"t\"}],"
                 "\"outcome\":\"refused\",\"time\":1700000300}\n%s\n", bad[i]);
        assert_int_equal(fwt_srv_alerts_publish_gate(g_s, (const uint8_t *)more, strlen(more), time(NULL), &info),
                         FWT_E_MALFORMED);
        assert_non_null(strstr(fwt_detail(), "line 2"));
        assert_null(info);
    }
    assert_int_equal(alerts_of("publish-gate"), 3);
}

static void test_manifest_rollback(void **state)
{
    (void)state;
    add_devices("a", 3, "board-a", NULL);
    char *id = create(&k_alice, "\"groups\": [{\"percent\": 100, \"error_threshold_count\": 2}]", FWT_OK);
    /* a stale failure in a manifest before the device installed this rollout's target: ignored */
    assert_int_equal(fwt_srv_rollout_observe_manifest(g_s, "a-000", "", "rolled-back", NULL, time(NULL)), FWT_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE state = 'failed'", NULL), 0);
    for (int i = 0; i < 3; i++) {
        char did[16];
        snprintf(did, sizeof(did), "a-%03d", i);
        assert_int_equal(fwt_srv_rollout_observe(g_s, did, "fw-2.bin", "installed-trial", NULL, time(NULL)), FWT_OK);
    }
    /* a manifest without a target name speaks of the rollout the device is installing */
    assert_int_equal(fwt_srv_rollout_observe_manifest(g_s, "a-000", "", "rolled-back", NULL, time(NULL)), FWT_OK);
    assert_int_equal(fwt_srv_rollout_observe_manifest(g_s, "a-000", "fw-2.bin", "rolled-back", NULL, time(NULL)), FWT_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM rollout_devices WHERE state = 'failed'", NULL), 1);
    assert_int_equal(count("SELECT COUNT(*) FROM incidents WHERE kind = 'rolled-back'", NULL), 1);
    assert_string_equal(rstate(id), "active");
    assert_int_equal(fwt_srv_rollout_observe_manifest(g_s, "a-001", "fw-2.bin", "failed", NULL, time(NULL)), FWT_OK);
    assert_string_equal(rstate(id), "halted");
    /* another target's failure does not count for this rollout */
    assert_int_equal(fwt_srv_rollout_observe_manifest(g_s, "a-002", "other.bin", "failed", NULL, time(NULL)), FWT_OK);
    assert_int_equal(count("SELECT COUNT(*) FROM incidents", NULL), 2);
    free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_specs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waves_and_approval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_halt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_retry_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_urgent_critical_conflict_quarantine_windows, setup, teardown),
        cmocka_unit_test(test_cron),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_image_block_exposure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_gate_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_attrs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_critical_min_signers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manifest_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_failures_halt_version, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
