/*
 * The audit log's anchor (audit.c): entry count and last entry's hash in the
 * power-fail-safe record audithead.{0,1}. Lines cut off the end, a rewritten
 * last entry, junk appended, the anchor removed: tampering (FWT_E_STATE). A
 * power cut between an entry and its anchor (one unanchored entry), or inside
 * an append (a torn prefix of an entry): accepted, and told apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scratch.h"

#include "agent_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* A file of the device directory, in memory. */
struct blob {
    uint8_t b[16384];
    size_t n;
};

static void load(const char *name, struct blob *o)
{
    char p[300];
    snprintf(p, sizeof(p), "%s/%s", ts_dir, name);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    o->n = fread(o->b, 1, sizeof(o->b), f);
    assert_true(o->n < sizeof(o->b));
    fclose(f);
}

static void store(const char *name, const void *b, size_t n)
{
    char p[300];
    snprintf(p, sizeof(p), "%s/%s", ts_dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* The log and both anchor copies. */
struct snap {
    struct blob log, h0, h1;
};

static void take(struct snap *s)
{
    load("audit.log", &s->log);
    load("audithead.0", &s->h0);
    load("audithead.1", &s->h1);
}

static void put(const struct snap *s)
{
    store("audit.log", s->log.b, s->log.n);
    store("audithead.0", s->h0.b, s->h0.n);
    store("audithead.1", s->h1.b, s->h1.n);
}

static fwt_err verify(uint64_t *n, int *torn, int *unanchored)
{
    return fwt_audit_verify_anchored(ts_dir, n, torn, unanchored);
}

static void append(int k)
{
    char d[32];
    snprintf(d, sizeof(d), "entry %d", k);
    assert_int_equal(fwt_audit_append(ts_dir, "test", d), FWT_OK);
}

static void test_audit_anchor(void **state)
{
    (void)state;
    uint64_t n = 0;
    int torn = 0, un = 0;
    assert_int_equal(verify(&n, &torn, &un), FWT_OK); /* nothing yet */
    for (int i = 1; i <= 3; i++) {
        append(i);
    }
    struct snap three;
    take(&three);
    append(4);
    struct snap four;
    take(&four);
    assert_int_equal(verify(&n, &torn, &un), FWT_OK);
    assert_int_equal(n, 4);
    assert_int_equal(torn + un, 0);

    /* The last entry cut off the end: the chain alone is intact, the anchor is not. */
    store("audit.log", three.log.b, three.log.n);
    assert_int_equal(verify(&n, &torn, &un), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "3 entries, but the anchor in the device state says 4: "
                                         "the last 1 were removed"));
    /* ... and an append does not paper over it by anchoring the shorter log. */
    assert_int_equal(fwt_audit_append(ts_dir, "test", "after"), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "its anchor is at entry 4"));
    store("audit.log", four.log.b, 0);
    assert_int_equal(verify(&n, &torn, &un), FWT_E_STATE);
    put(&four);

    /* Junk without a newline is not an append cut short. */
    struct blob j = four.log;
    memcpy(j.b + j.n, "garbage", 7);
    store("audit.log", j.b, j.n + 7);
    assert_int_equal(verify(&n, &torn, &un), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "not the start of an entry"));
    /* A prefix of an entry is: reported as torn, not as tampering. */
    memcpy(j.b + four.log.n, "{\"detail\":\"entr", 15);
    store("audit.log", j.b, four.log.n + 15);
    assert_int_equal(verify(&n, &torn, &un), FWT_OK);
    assert_int_equal(n, 4);
    assert_int_equal(torn, 1);
    put(&four);

    /* A power cut between entry 5 and its anchor: one unanchored entry, accepted. */
    append(5);
    struct snap five;
    take(&five);
    store("audithead.0", four.h0.b, four.h0.n);
    store("audithead.1", four.h1.b, four.h1.n);
    assert_int_equal(verify(&n, &torn, &un), FWT_OK);
    assert_int_equal(n, 5);
    assert_int_equal(un, 1);
    /* The next append anchors both. */
    append(6);
    assert_int_equal(verify(&n, &torn, &un), FWT_OK);
    assert_int_equal(n, 6);
    assert_int_equal(un, 0);
    /* Two past the anchor cannot come from one cut. */
    store("audithead.0", four.h0.b, four.h0.n);
    store("audithead.1", four.h1.b, four.h1.n);
    assert_int_equal(verify(&n, &torn, &un), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "added without the agent"));

    /* The last entry rewritten with a valid chain (entry 4 replaced): the anchor's hash differs. */
    put(&three);
    assert_int_equal(fwt_audit_append(ts_dir, "test", "entry 4, rewritten"), FWT_OK);
    store("audithead.0", four.h0.b, four.h0.n);
    store("audithead.1", four.h1.b, four.h1.n);
    assert_int_equal(verify(&n, &torn, &un), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "entry 4 is not the one anchored"));

    /* The anchor removed beside a non-empty log, or the log removed beside its anchor. */
    put(&four);
    char p[300];
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "%s/audithead.%d", ts_dir, i);
        assert_int_equal(unlink(p), 0);
    }
    assert_int_equal(verify(&n, &torn, &un), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "no anchor"));
    put(&four);
    snprintf(p, sizeof(p), "%s/audit.log", ts_dir);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(verify(&n, &torn, &un), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "the log was removed"));
    /* Both anchor copies corrupt: unreadable, never rewritten from the log. */
    put(&four);
    struct blob h = four.h0;
    h.b[40] ^= 1;
    store("audithead.0", h.b, h.n);
    h = four.h1;
    h.b[40] ^= 1;
    store("audithead.1", h.b, h.n);
    assert_int_equal(verify(&n, &torn, &un), FWT_E_STATE);
    assert_int_equal(fwt_audit_append(ts_dir, "test", "x"), FWT_E_STATE);
    assert_non_null(strstr(fwt_detail(), "anchor is unreadable"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_audit_anchor, ts_setup, ts_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
