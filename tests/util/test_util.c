/*
 * src/util: error details (PIN redaction, self-reference), hex, number parsing,
 * atomic file writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <fwtrust/fwt_util.h>

static void test_detail_redacts_pins(void **state)
{
    (void)state;
    assert_int_equal(fwt_fail(FWT_E_ARG, "key %s: refused", "pkcs11:token=t;object=o?pin-value=123456"),
                     FWT_E_ARG);
    assert_null(strstr(fwt_detail(), "123456"));
    assert_non_null(strstr(fwt_detail(), "pin-value=***"));
    assert_non_null(strstr(fwt_detail(), " refused"));
    /* Several occurrences, a value ending at '&', and an empty value. */
    fwt_fail(FWT_E_ARG, "a?pin-value=secret1&module-name=x b?pin-value=s2;c pin-value=");
    assert_null(strstr(fwt_detail(), "secret1"));
    assert_null(strstr(fwt_detail(), "s2;"));
    assert_non_null(strstr(fwt_detail(), "&module-name=x"));
    /* A detail may include the previous detail. */
    fwt_fail(FWT_E_IO, "inner");
    fwt_fail(FWT_E_IO, "outer: %s", fwt_detail());
    assert_string_equal(fwt_detail(), "outer: inner");
    fwt_detail_clear();
    assert_string_equal(fwt_detail(), "");
}

/* The cause of a failure survives context added with the same error, not another failure. */
static void test_cause(void **state)
{
    (void)state;
    fwt_detail_clear();
    assert_int_equal(fwt_cause(), FWT_CAUSE_NONE);
    fwt_err e = fwt_fail_cause(fwt_fail(FWT_E_NETWORK, "https://x: SSL peer certificate"), FWT_CAUSE_TLS_CA);
    assert_int_equal(e, FWT_E_NETWORK);
    assert_int_equal(fwt_cause(), FWT_CAUSE_TLS_CA);
    (void)fwt_fail(FWT_E_NETWORK, "timestamp.json: %s", fwt_detail()); /* context */
    assert_int_equal(fwt_cause(), FWT_CAUSE_TLS_CA);
    assert_string_equal(fwt_detail(), "timestamp.json: https://x: SSL peer certificate");
    (void)fwt_fail(FWT_E_IO, "another failure");
    assert_int_equal(fwt_cause(), FWT_CAUSE_NONE);
    (void)fwt_fail(FWT_E_NETWORK, "a later network failure of another kind");
    assert_int_equal(fwt_cause(), FWT_CAUSE_NONE);
    (void)fwt_fail_cause(FWT_E_NETWORK, FWT_CAUSE_TLS_PIN);
    fwt_detail_clear();
    assert_int_equal(fwt_cause(), FWT_CAUSE_NONE);
}

static void test_mkdirs(void **state)
{
    (void)state;
    char dir[] = "/tmp/fwt-mkdirs-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[128];
    snprintf(p, sizeof(p), "%s/a/b/c", dir);
    assert_int_equal(fwt_mkdirs(p, 0755), FWT_OK);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(fwt_mkdirs(p, 0755), FWT_OK);
    snprintf(p, sizeof(p), "%s/a/b/c/f", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/a/b/c/f/g", dir);
    assert_int_equal(fwt_mkdirs(p, 0755), FWT_E_IO);
    assert_non_null(strstr(fwt_detail(), "is not a directory"));
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Who holds a lock: the other process's pid and command line, from /proc/locks. */
static void test_lock_holder(void **state)
{
    (void)state;
    char path[] = "/tmp/fwt-lock-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char who[256];
    assert_int_equal(fwt_lock_holder(fd, who, sizeof(who)), 0); /* nobody */
    assert_string_equal(who, "");
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int cfd = open(path, O_RDONLY);
        char c = 'x';
        if (cfd < 0 || flock(cfd, LOCK_EX) != 0 || write(ready[1], &c, 1) != 1) {
            _exit(1);
        }
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(fwt_lock_holder(fd, who, sizeof(who)), 1);
    char want[64];
    snprintf(want, sizeof(want), "pid %ld (", (long)child);
    assert_non_null(strstr(who, want)); /* the child runs this test's own command line */
    assert_non_null(strstr(who, "test_util"));
    /* cut to fit */
    char small[12];
    assert_int_equal(fwt_lock_holder(fd, small, sizeof(small)), 1);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(ready[0]);
    close(ready[1]);
    close(fd);
    unlink(path);
}

static void test_hex_and_numbers(void **state)
{
    (void)state;
    char hex[9];
    const uint8_t b[4] = {0xde, 0xad, 0x00, 0x1f};
    fwt_hex_encode(b, 4, hex);
    assert_string_equal(hex, "dead001f");
    uint8_t o[4];
    assert_int_equal(fwt_hex_decode("DEAD001f", o, 4), FWT_OK);
    assert_memory_equal(o, b, 4);
    assert_int_equal(fwt_hex_decode("dead00", o, 4), FWT_E_ARG);
    assert_int_equal(fwt_hex_decode("dead001g", o, 4), FWT_E_ARG);
    uint32_t u = 0;
    assert_int_equal(fwt_parse_u32("0x200", &u), FWT_OK);
    assert_int_equal(u, 0x200);
    assert_int_equal(fwt_parse_u32("4294967295", &u), FWT_OK);
    assert_int_equal(fwt_parse_u32("4294967296", &u), FWT_E_ARG);
    assert_int_equal(fwt_parse_u32("-1", &u), FWT_E_ARG);
    assert_int_equal(fwt_parse_u32("12x", &u), FWT_E_ARG);
    assert_int_equal(fwt_parse_u32("", &u), FWT_E_ARG);
    size_t s = 0;
    assert_int_equal(fwt_add_size((size_t)-1, 1, &s), -1);
    assert_int_equal(fwt_add_size(2, 3, &s), 0);
    assert_int_equal(s, 5);
}

static void test_atomic_write(void **state)
{
    (void)state;
    char dir[] = "/tmp/fwt-util-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/f", dir);
    assert_int_equal(fwt_write_file_atomic(path, "one", 3, 0600), FWT_OK);
    assert_int_equal(fwt_write_file_atomic(path, "second", 6, 0644), FWT_OK);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(fwt_read_file(path, 100, &buf, &len), FWT_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(buf, "second", 6);
    free(buf);
    assert_int_equal(fwt_read_file(path, 3, &buf, &len), FWT_E_TOO_LARGE);
    char missing[80];
    snprintf(missing, sizeof(missing), "%s/nodir/f", dir);
    assert_int_not_equal(fwt_write_file_atomic(missing, "x", 1, 0600), FWT_OK);
    assert_int_equal(fwt_read_file(missing, 10, &buf, &len), FWT_E_NOT_FOUND);
    /* No temporary file is left behind. */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1 && rm -rf '%s'", dir, dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detail_redacts_pins),
        cmocka_unit_test(test_cause),
        cmocka_unit_test(test_mkdirs),
        cmocka_unit_test(test_lock_holder),
        cmocka_unit_test(test_hex_and_numbers),
        cmocka_unit_test(test_atomic_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
