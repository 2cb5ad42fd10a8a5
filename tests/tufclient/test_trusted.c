/*
 * The client's trusted-metadata state machine (src/tuf/client_trusted.c) driven
 * with byte buffers and a reference time, no files, network or clock: what it
 * trusts after each update, what it refuses, and that a refused update leaves
 * the trusted set as it was. Repositories from trepo.c (signed in memory).
 */
#include "trepo.h"
#include "tuf/client_trusted.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static uint8_t *published(const struct trepo *r, const char *name, size_t *len)
{
    char p[800];
    snprintf(p, sizeof(p), "%s/%s", r->meta, name);
    uint8_t *b = tr_read(p, len);
    assert_non_null(b);
    return b;
}

/* A trusted set holding root, timestamp, snapshot and targets of a fresh repository. */
static void load_all(struct trepo *r, struct tuf_trusted *t)
{
    memset(t, 0, sizeof(*t));
    t->ref = r->now;
    size_t len = 0;
    uint8_t *b = published(r, "1.root.json", &len);
    assert_int_equal(tuf_trusted_load_root(b, len, &t->root), FWT_OK);
    free(b);
    int equal = 1;
    b = published(r, "timestamp.json", &len);
    assert_int_equal(tuf_trusted_update_timestamp(t, b, len, "timestamp.json", &equal), FWT_OK);
    assert_int_equal(equal, 0);
    free(b);
    b = published(r, "1.snapshot.json", &len);
    assert_int_equal(tuf_trusted_update_snapshot(t, b, len, "1.snapshot.json", 0), FWT_OK);
    free(b);
    b = published(r, "1.targets.json", &len);
    assert_int_equal(tuf_trusted_update_targets(t, b, len, "targets", "root", "1.targets.json"), FWT_OK);
    free(b);
}

static void test_order_and_success(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    struct tuf_trusted t;
    memset(&t, 0, sizeof(t));
    t.ref = r.now;
    size_t len = 0;
    uint8_t *root = published(&r, "1.root.json", &len);
    assert_int_equal(tuf_trusted_load_root(root, len, &t.root), FWT_OK);
    free(root);
    /* the snapshot before any timestamp, targets before any snapshot: refused */
    uint8_t *snap = published(&r, "1.snapshot.json", &len);
    assert_int_equal(tuf_trusted_update_snapshot(&t, snap, len, "snapshot", 0), FWT_E_INTERNAL);
    assert_null(t.snap);
    free(snap);
    uint8_t *tg = published(&r, "1.targets.json", &len);
    assert_int_equal(tuf_trusted_update_targets(&t, tg, len, "targets", "root", "targets"), FWT_E_INTERNAL);
    assert_null(t.targets);
    free(tg);
    tuf_trusted_free(&t);

    load_all(&r, &t);
    assert_non_null(t.targets);
    assert_ptr_equal(tuf_trusted_role(&t, "targets"), t.targets);
    assert_non_null(json_object_get(json_object_get(t.targets->signed_, "targets"), "a.bin"));
    tuf_trusted_free(&t);
    assert_null(t.root);
    tr_free(&r);
}

/* A timestamp: an older version is a rollback, another key's signature does not count,
 * the same version again is kept; refused updates change nothing. */
static void test_timestamp(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    struct tuf_trusted t;
    load_all(&r, &t);
    size_t v1_len = 0;
    uint8_t *v1 = published(&r, "timestamp.json", &v1_len);
    json_t *ts = json_object_get(r.md, "timestamp");
    json_object_set_new(ts, "version", json_integer(2));
    size_t v2_len = 0, bad_len = 0;
    uint8_t *v2 = tr_sign(&r, ts, NULL, -1, &v2_len);
    const int other[1] = {1}; /* the targets key */
    json_object_set_new(ts, "version", json_integer(3));
    uint8_t *bad = tr_sign(&r, ts, other, 1, &bad_len);

    int equal = 0;
    assert_int_equal(tuf_trusted_update_timestamp(&t, v2, v2_len, "v2", &equal), FWT_OK);
    assert_int_equal(t.ts->version, 2);
    struct tuf_md *before = t.ts;
    assert_int_equal(tuf_trusted_update_timestamp(&t, v1, v1_len, "v1", &equal), FWT_E_META_ROLLBACK);
    assert_ptr_equal(t.ts, before);
    assert_int_equal(tuf_trusted_update_timestamp(&t, bad, bad_len, "v3", &equal), FWT_E_META_SIG);
    assert_ptr_equal(t.ts, before);
    assert_int_equal(tuf_trusted_update_timestamp(&t, v2, v2_len, "v2 again", &equal), FWT_OK);
    assert_int_equal(equal, 1);
    assert_ptr_equal(t.ts, before);
    free(v1);
    free(v2);
    free(bad);
    tuf_trusted_free(&t);
    tr_free(&r);
}

/* The reference time decides expiry: the same bytes verify before it and not after. */
static void test_reference_time(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    struct tuf_trusted t;
    load_all(&r, &t);
    tuf_trusted_set(&t.ts, NULL);
    size_t len = 0;
    uint8_t *b = published(&r, "timestamp.json", &len);
    int equal = 0;
    t.ref = r.now + 3650L * 86400;
    assert_int_equal(tuf_trusted_update_timestamp(&t, b, len, "timestamp", &equal), FWT_E_META_EXPIRED);
    assert_null(t.ts);
    t.ref = r.now;
    assert_int_equal(tuf_trusted_update_timestamp(&t, b, len, "timestamp", &equal), FWT_OK);
    assert_non_null(t.ts);
    free(b);
    tuf_trusted_free(&t);
    tr_free(&r);
}

/* Targets must be the version the snapshot names; a role the snapshot does not list is refused. */
static void test_targets_against_snapshot(void **state)
{
    (void)state;
    struct trepo r;
    tr_setup(&r, 1);
    struct tuf_trusted t;
    load_all(&r, &t);
    tuf_trusted_forget_targets(&t);
    json_t *tg = json_object_get(r.md, "targets");
    json_object_set_new(tg, "version", json_integer(2));
    size_t len = 0;
    uint8_t *b = tr_sign(&r, tg, NULL, -1, &len);
    assert_int_equal(tuf_trusted_update_targets(&t, b, len, "targets", "root", "2.targets.json"),
                     FWT_E_META_MISMATCH);
    assert_null(t.targets);
    assert_int_equal(tuf_trusted_update_targets(&t, b, len, "hw", "targets", "hw.json"), FWT_E_INTERNAL);
    free(b);
    tuf_trusted_free(&t);
    tr_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_success),
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_reference_time),
        cmocka_unit_test(test_targets_against_snapshot),
    };
    return cmocka_run_group_tests(tests, tk_group_setup, tk_group_teardown);
}
