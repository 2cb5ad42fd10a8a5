/*
 * A client's scope against delegations (tuf_meta.c): tuf_role_may_hold never
 * says no to a delegation that can list a name of the scope (or the agent would
 * miss firmware), tuf_role_covers never says yes to one that might miss a name
 * (or a terminating delegation would hide roles that hold some of them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tuf_meta.h"

#include <jansson.h>

static json_t *paths(const char *p1, const char *p2)
{
    json_t *a = json_array();
    json_array_append_new(a, json_string(p1));
    if (p2) {
        json_array_append_new(a, json_string(p2));
    }
    return json_pack("{s:o}", "paths", a);
}

static void check(const char *pattern, const char *scope, int may, int covers)
{
    json_t *r = paths(pattern, NULL);
    assert_non_null(r);
    if (tuf_role_may_hold(r, scope) != may || tuf_role_covers(r, scope) != covers) {
        print_error("paths ['%s'] vs scope '%s': may %d covers %d, expected %d %d\n", pattern,
                    scope, tuf_role_may_hold(r, scope), tuf_role_covers(r, scope), may, covers);
        fail();
    }
    json_decref(r);
}

static void test_paths_vs_scope(void **state)
{
    (void)state;
    check("primehub/*", "primehub/*", 1, 1);
    check("*/*", "primehub/*", 1, 1);
    check("a/*", "primehub/*", 0, 0);
    check("*", "primehub/*", 0, 0);           /* one part: never a two-part name */
    check("primehub/*/*", "primehub/*", 0, 0); /* three parts */
    check("primehub/b*", "primehub/*", 1, 0);  /* some names only */
    check("primehub/*", "primehub/b*.bin", 1, 1);
    check("primehub/x*", "primehub/b*.bin", 0, 0);
    check("primehub/*.zst", "primehub/b*.bin", 1, 0); /* (b.zst.bin? unsure: may) */
    check("primehub/b5.bin", "primehub/*", 1, 0);
    check("prime?ub/*", "primehub/*", 1, 1); /* matches the literal part */
    check("[p]rimehub/*", "primehub/*", 1, 1);
    check("prime?ub/*", "prime*/*", 1, 0);     /* two globs: unsure */
    /* A name without wildcards: exactly the search's own test. */
    check("primehub/*", "primehub/b5.bin", 1, 1);
    check("a/*", "primehub/b5.bin", 0, 0);
    /* path_hash_prefixes: any name of a pattern may hash into them, none surely does. */
    json_t *h = json_pack("{s:[s]}", "path_hash_prefixes", "ab");
    assert_int_equal(tuf_role_may_hold(h, "primehub/*"), 1);
    assert_int_equal(tuf_role_covers(h, "primehub/*"), 0);
    json_decref(h);
    h = json_pack("{s:[]}", "path_hash_prefixes");
    assert_int_equal(tuf_role_may_hold(h, "primehub/*"), 0);
    json_decref(h);
    /* Several paths: any one decides. */
    json_t *r = paths("a/*", "primehub/*");
    assert_int_equal(tuf_role_may_hold(r, "primehub/*"), 1);
    assert_int_equal(tuf_role_covers(r, "primehub/*"), 1);
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_vs_scope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
