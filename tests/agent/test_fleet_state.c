/*
 * The device's fleet state (src/agent/fleet.c): the manifest/report counter
 * only goes up and never falls below the clock in milliseconds; the release
 * counter of the director's installs is kept; a damaged copy of the record,
 * either one, never takes a counter back (both copies hold the new values);
 * both copies damaged is reported, never replaced by zeros; [fleet] in
 * device.ini is read strictly and written back.
 */
#include "agent_tutil.h"
#include "update_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>

static char g_dir[64], g_key[128];

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/fwt-fleetstate-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_key, sizeof(g_key), "%s/key.pem", g_dir);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ED25519, g_key, NULL), FWT_OK);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return tu_rmrf(g_dir);
}

static fwt_agent *device(const char *name)
{
    char slot[512];
    return tu_device(g_dir, name, g_key, 0, 0, slot, sizeof(slot));
}

static uint64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000U + (uint64_t)tv.tv_usec / 1000U;
}

static void flip(const char *name, const char *copy)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s/fleet.%s", g_dir, name, copy);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 40, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, 40, SEEK_SET), 0);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static void test_counter(void **state)
{
    (void)state;
    fwt_agent *dev = device("c");
    struct fwt_agent_fleet_state st;
    assert_int_equal(fwt_agent_fleet_state_get(dev, &st), FWT_OK);
    assert_int_equal(st.counter, 0);
    uint64_t before = now_ms(), a = 0, b = 0;
    assert_int_equal(fwt_agent_fleet_next_counter(dev, &a), FWT_OK);
    assert_true(a >= before);
    assert_int_equal(fwt_agent_fleet_next_counter(dev, &b), FWT_OK);
    assert_true(b > a);
    for (int i = 0; i < 50; i++) { /* faster than the clock: still strictly increasing */
        uint64_t c = 0;
        assert_int_equal(fwt_agent_fleet_next_counter(dev, &c), FWT_OK);
        assert_true(c > b);
        b = c;
    }
    assert_int_equal(fwt_agent_fleet_state_get(dev, &st), FWT_OK);
    assert_int_equal(st.counter, b);
    fwt_agent_close(dev);
    /* persisted: a reopened device goes on above it */
    char path[256];
    snprintf(path, sizeof(path), "%s/c", g_dir);
    assert_int_equal(fwt_agent_open(path, &dev), FWT_OK);
    uint64_t c = 0;
    assert_int_equal(fwt_agent_fleet_next_counter(dev, &c), FWT_OK);
    assert_true(c > b);
    fwt_agent_close(dev);
}

/* A device "NAME" whose fleet state went through a few installs: release counter 9, version 8. */
static fwt_agent *installed(const char *name)
{
    fwt_agent *dev = device(name);
    assert_int_equal(fwt_agent_fleet_note_install(dev, 5, 7), FWT_OK);
    struct fwt_agent_fleet_state st;
    assert_int_equal(fwt_agent_fleet_state_get(dev, &st), FWT_OK);
    assert_int_equal(st.release_counter, 5);
    assert_int_equal(st.director_version, 7);
    /* never lowered through this call */
    assert_int_equal(fwt_agent_fleet_note_install(dev, 4, 8), FWT_E_INTERNAL);
    assert_int_equal(fwt_agent_fleet_note_install(dev, 9, 8), FWT_OK);
    return dev;
}

static void test_release_counter_and_damage(void **state)
{
    (void)state;
    char path[256];
    struct fwt_agent_fleet_state st;
    /* either copy damaged (one of them is the newest): the values stay */
    const char *copies[] = {"0", "1"};
    for (int i = 0; i < 2; i++) {
        char name[8];
        snprintf(name, sizeof(name), "r%d", i);
        fwt_agent *dev = installed(name);
        fwt_agent_close(dev);
        flip(name, copies[i]);
        snprintf(path, sizeof(path), "%s/%s", g_dir, name);
        assert_int_equal(fwt_agent_open(path, &dev), FWT_OK);
        assert_int_equal(fwt_agent_fleet_state_get(dev, &st), FWT_OK);
        assert_int_equal(st.release_counter, 9);
        assert_int_equal(st.director_version, 8);
        fwt_agent_close(dev);
    }
    /* both damaged: reported, not replaced by zeros */
    fwt_agent *dev = installed("r2");
    fwt_agent_close(dev);
    flip("r2", "0");
    flip("r2", "1");
    snprintf(path, sizeof(path), "%s/r2", g_dir);
    assert_int_equal(fwt_agent_open(path, &dev), FWT_OK);
    assert_int_equal(fwt_agent_fleet_state_get(dev, &st), FWT_E_STATE);
    uint64_t c = 0;
    assert_int_equal(fwt_agent_fleet_next_counter(dev, &c), FWT_E_STATE);
    fwt_agent_close(dev);
}

static void test_target(void **state)
{
    (void)state;
    fwt_agent *dev = device("t");
    uint8_t sha[32];
    memset(sha, 0xab, sizeof(sha));
    assert_int_equal(fwt_agent_fleet_note_install(dev, 3, 4), FWT_OK);
    assert_int_equal(fwt_agent_fleet_note_target(dev, "primehub/fw-1.bin", sha), FWT_OK);
    struct fwt_agent_fleet_state st;
    assert_int_equal(fwt_agent_fleet_state_get(dev, &st), FWT_OK);
    assert_string_equal(st.target, "primehub/fw-1.bin");
    assert_memory_equal(st.target_sha256, sha, 32);
    assert_int_equal(st.release_counter, 3); /* the other fields are kept */
    /* a name the manifest could not carry is not recorded (the old one stays) */
    assert_int_equal(fwt_agent_fleet_note_target(dev, "bad\tname", sha), FWT_OK);
    assert_int_equal(fwt_agent_fleet_state_get(dev, &st), FWT_OK);
    assert_string_equal(st.target, "primehub/fw-1.bin");
    /* the counter does not disturb it */
    uint64_t c = 0;
    assert_int_equal(fwt_agent_fleet_next_counter(dev, &c), FWT_OK);
    assert_int_equal(fwt_agent_fleet_state_get(dev, &st), FWT_OK);
    assert_string_equal(st.target, "primehub/fw-1.bin");
    fwt_agent_close(dev);
}

static void test_config(void **state)
{
    (void)state;
    struct fwt_agent_config cfg;
    const char base[] = "[device]\nhw_id = h\n[slots]\na = a.bin\nb = b.bin\n";
    char text[1024];
    snprintf(text, sizeof(text),
             "%s[fleet]\nserver = https://127.0.0.1:8443\ndevice_id = dev-1\nserial = SN 1\nkey = fleet/device.key\n"
             "cert = fleet/device.crt\nca = fleet/server-ca.pem\ndirector_root = fleet/director-root.json\n"
             "interval = 60\njitter = 5\n",
             base);
    assert_int_equal(fwt_agent_config_parse(text, strlen(text), "/d", &cfg), FWT_OK);
    assert_string_equal(cfg.fleet_server, "https://127.0.0.1:8443");
    assert_string_equal(cfg.fleet_key, "/d/fleet/device.key");
    assert_string_equal(cfg.fleet_serial, "SN 1");
    assert_int_equal(cfg.fleet_interval, 60);
    assert_int_equal(cfg.fleet_jitter, 5);
    char *out = NULL;
    assert_int_equal(fwt_agent_config_format(&cfg, &out), FWT_OK);
    assert_non_null(strstr(out, "[fleet]\nserver = https://127.0.0.1:8443\n"));
    assert_non_null(strstr(out, "key = fleet/device.key\n"));
    struct fwt_agent_config again;
    assert_int_equal(fwt_agent_config_parse(out, strlen(out), "/d", &again), FWT_OK);
    assert_string_equal(again.fleet_director_root, "/d/fleet/director-root.json");
    fwt_agent_config_free(&again);
    free(out);
    fwt_agent_config_free(&cfg);
    /* a server without the rest, an unknown key, a zero interval, a repeated key */
    const char *bad[] = {"[fleet]\nserver = https://x\n", "[fleet]\ncolour = red\n", "[fleet]\ninterval = 0\n",
                         "[fleet]\njitter = 99999999\n", "[fleet]\nserial = a\nserial = b\n", "[fleet]\nkey =\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "%s%s", base, bad[i]);
        assert_int_equal(fwt_agent_config_parse(text, strlen(text), "/d", &cfg), FWT_E_ARG);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter),
        cmocka_unit_test(test_release_counter_and_damage),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
