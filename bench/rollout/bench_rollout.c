/*
 * bench-rollout: decision speed of governed rollouts (docs/rollouts.md). A server
 * directory in a temporary place with N devices (SQLite, or the PostgreSQL of
 * FWT_TEST_DB_URL), then, timed:
 *   create   selection, cohorts (a hash of rollout and device id) of N devices, first
 *            group (10%) admitted
 *   tick     one evaluation of the rollout over N devices with nothing to change
 *   approve  the approval that starts group 2 (50%): thresholds, admissions
 *   halt     the automatic halt after failures: not-started devices revert
 * Goal: each under 1 s for 10,000 devices. Prints JSON.
 *
 *   bench-rollout [DEVICES]   (default 10000)
 */
#include "server/srv.h"

#include <fwtrust/fwt_rollout.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int check(fwt_err e, const char *what)
{
    if (e != FWT_OK) {
        fprintf(stderr, "bench-rollout: %s: %s\n", what, fwt_detail());
        exit(1);
    }
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    if (n < 10 || n > 1000000) {
        fprintf(stderr, "usage: bench-rollout [DEVICES (10..1000000)]\n");
        return 1;
    }
    char tmp[] = "/tmp/fwt-bench-rollout.XXXXXX", dir[64], pins[64];
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(dir, sizeof(dir), "%s/srv", tmp);
    snprintf(pins, sizeof(pins), "%s/pins", tmp);
    setenv("FWTRUST_SIGNLOG_PINS", pins, 1);
    const char *url = getenv("FWT_TEST_DB_URL");
    struct fwt_srv_init_opts o = {.db_url = url && *url ? url : NULL};
    json_t *sum = NULL;
    check(fwt_srv_init(dir, &o, &sum), "init");
    json_decref(sum);
    fwt_srv *s = NULL;
    check(fwt_srv_open(dir, NULL, &s), "open");
    check(db_begin(s->db), "begin");
    for (long i = 0; i < n; i++) {
        char id[32], serial[40];
        snprintf(id, sizeof(id), "dev-%06ld", i);
        snprintf(serial, sizeof(serial), "sn-%06ld", i);
        struct db_param p[] = {DBT(id), DBT(serial)};
        check(db_exec(s->db, "INSERT INTO devices (id, hardware_id, serial, status, enrolled_at)"
                             " VALUES (?, 'board-a', ?, 'active', 0)", p, 2, NULL, NULL), "devices");
    }
    check(db_commit(s->db), "commit");
    json_t *spec = json_pack("{s:s, s:s, s:I, s:s, s:s, s:{s:s}, s:[{s:i, s:i, s:i}, {s:i, s:i}, {s:i, s:i}]}",
                             "name", "bench", "target", "fw-2.bin", "length", (json_int_t)1000, "sha256",
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "hardware_id", "board-a",
                             "select", "hardware_id", "board-a", "groups", "percent", 10, "error_threshold_count", 3,
                             "min_sample", 3, "percent", 50, "error_threshold_percent", 5, "percent", 100,
                             "error_threshold_percent", 5);
    struct fwt_srv_actor alice = {"admin:alice", FWT_SRV_OPERATOR}, bob = {"admin:bob", FWT_SRV_APPROVER};
    json_t *info = NULL;
    double t0 = now_s();
    check(fwt_srv_rollout_create(s, &alice, spec, &info), "create");
    double t_create = now_s() - t0;
    char rid[40];
    snprintf(rid, sizeof(rid), "%s", json_string_value(json_object_get(info, "id")));
    json_decref(info);
    json_decref(spec);
    t0 = now_s();
    check(fwt_srv_rollout_tick(s, time(NULL)), "tick");
    double t_tick = now_s() - t0;
    /* group 1 confirms, then the approval starts group 2 */
    struct db_param pr[] = {DBT(rid)};
    check(db_exec(s->db, "UPDATE rollout_devices SET state = 'confirmed' WHERE rollout_id = ? AND grp = 0", pr, 1, NULL,
                  NULL), "confirm");
    t0 = now_s();
    check(fwt_srv_rollout_approve(s, &bob, rid), "approve");
    double t_approve = now_s() - t0;
    int64_t assigned = 0;
    check(db_query_int(s->db, "SELECT COUNT(*) FROM rollout_devices WHERE state = 'assigned'", NULL, 0, &assigned),
          "count");
    /* failures in group 2: the automatic halt reverts every device that had not started */
    struct db_rows q;
    check(db_exec(s->db, "SELECT device_id FROM rollout_devices WHERE grp = 1 AND state = 'assigned' ORDER BY device_id"
                         " LIMIT 20", NULL, 0, &q, NULL), "pick");
    double t_halt = 0;
    for (size_t i = 0; i < q.nrows; i++) {
        t0 = now_s();
        check(fwt_srv_rollout_observe(s, db_cell(&q, i, 0), "fw-2.bin", "failed", "FWT_E_IO", time(NULL)), "observe");
        double dt = now_s() - t0;
        if (dt > t_halt) {
            t_halt = dt;
        }
    }
    db_rows_free(&q);
    json_t *st = NULL;
    check(fwt_srv_rollout_status(s, rid, &st), "status");
    printf("{\"devices\": %ld, \"backend\": \"%s\", \"create_s\": %.3f, \"tick_s\": %.3f, \"approve_s\": %.3f,"
           " \"admitted_by_approval\": %lld, \"halt_s\": %.3f, \"state\": \"%s\"}\n",
           n, fwt_srv_db_backend(s->db), t_create, t_tick, t_approve, (long long)assigned, t_halt,
           json_string_value(json_object_get(st, "state")));
    json_decref(st);
    fwt_srv_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : 1;
}
