/*
 * Where fwtrust-tuf-client stores a target (fwt_tuf_target_path): the
 * percent-encoded name of the conformance protocol, or the plain name below the
 * directory (parents created) that never leaves it (fwt_mkdirs: test_util).
 */
#include <fwtrust/fwtrust_host.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char g_dir[64];

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_quoted(void **state)
{
    (void)state;
    char *p = NULL;
    assert_int_equal(fwt_tuf_target_path(g_dir, "hw/fw.bin", 0, &p), FWT_OK);
    char want[128];
    snprintf(want, sizeof(want), "%s/hw%%2Ffw.bin", g_dir);
    assert_string_equal(p, want);
    free(p);
    /* quoted, even ".." is a plain file name */
    assert_int_equal(fwt_tuf_target_path(g_dir, "../x", 0, &p), FWT_OK);
    snprintf(want, sizeof(want), "%s/..%%2Fx", g_dir);
    assert_string_equal(p, want);
    free(p);
}

static void test_plain(void **state)
{
    (void)state;
    char *p = NULL;
    assert_int_equal(fwt_tuf_target_path(g_dir, "hw/rev2/fw.bin", FWT_TUF_PATH_PLAIN, &p), FWT_OK);
    char want[128];
    snprintf(want, sizeof(want), "%s/hw/rev2/fw.bin", g_dir);
    assert_string_equal(p, want);
    free(p);
    snprintf(want, sizeof(want), "%s/hw/rev2", g_dir);
    assert_true(is_dir(want)); /* the parents are created */
    assert_int_equal(fwt_tuf_target_path(g_dir, "a.bin", FWT_TUF_PATH_PLAIN, &p), FWT_OK);
    free(p);
    /* names that would leave the directory, or be ambiguous, are refused */
    static const char *const bad[] = {"../x", "a/../../x", "/etc/passwd", "", "a//b", "a/", "./a", "a/.",
                                      "..", "a\\b", "a\nb", "a\x7f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = (char *)1;
        assert_int_equal(fwt_tuf_target_path(g_dir, bad[i], FWT_TUF_PATH_PLAIN, &p), FWT_E_ARG);
        assert_null(p);
        assert_non_null(strstr(fwt_detail(), "target '"));
    }
    /* a file where a directory must go */
    snprintf(want, sizeof(want), "%s/file", g_dir);
    FILE *f = fopen(want, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(fwt_tuf_target_path(g_dir, "file/x.bin", FWT_TUF_PATH_PLAIN, &p), FWT_E_IO);
    assert_non_null(strstr(fwt_detail(), "is not a directory"));
    assert_int_equal(fwt_tuf_target_path(g_dir, "x", 2, &p), FWT_E_ARG);
}

int main(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/fwt-tpath-XXXXXX");
    if (!mkdtemp(g_dir)) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoted),
        cmocka_unit_test(test_plain),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) {
        rc = rc ? rc : 1;
    }
    return rc;
}
