/*
 * The agent's provenance binding (fwt_agent_install_expect_provenance): an image
 * whose protected FWT_TLV_PROVENANCE is another envelope's digest than the one the
 * repository published with it is refused (FWT_E_DIGEST) and nothing is put on
 * trial; an image without the TLV is refused too; the right one installs. This is
 * the branch the shell tests cannot reach (fwtrust's tools refuse to publish such
 * a pair).
 */
#include "agent_tutil.h"
#include "scratch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[256];

static void sign_with(const char *key, const uint8_t *prov, const char *out)
{
    char raw[512];
    snprintf(raw, sizeof(raw), "%s/payload.bin", g_dir);
    FILE *f = fopen(raw, "wb");
    assert_non_null(f);
    for (int i = 0; i < 8192; i++) {
        fputc(i * 13 & 0xff, f);
    }
    assert_int_equal(fclose(f), 0);
    struct fwt_sign_opts o;
    memset(&o, 0, sizeof(o));
    assert_int_equal(fwt_version_parse("1.0.0", &o.version), FWT_OK);
    o.header_size = 0x200;
    o.pad_header = 1;
    o.align = 1;
    o.erased_val = 0xff;
    o.hw_id = (const uint8_t *)"hw1";
    o.hw_id_len = 3;
    o.write_format_tlv = 1;
    o.provenance = prov;
    assert_int_equal(fwt_privkey_load(key, NULL, &o.keys[0]), FWT_OK);
    o.n_keys = 1;
    assert_int_equal(fwt_sign_file(raw, out, &o), FWT_OK);
    fwt_privkey_free(o.keys[0]);
}

/* Install path through the streaming API with an expected envelope digest (NULL: none). */
static fwt_err install(fwt_agent *dev, const char *path, const uint8_t *want)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(fwt_read_file(path, 1U << 24, &buf, &len), FWT_OK);
    fwt_agent_install *inst = NULL;
    fwt_err e = fwt_agent_install_begin(dev, len, 0, &inst);
    if (e == FWT_OK && want) {
        fwt_agent_install_expect_provenance(inst, want);
    }
    if (e == FWT_OK) {
        e = fwt_agent_install_write(inst, buf, len);
        if (e != FWT_OK) {
            fwt_agent_install_abort(inst);
        }
    }
    struct fwt_agent_image img;
    if (e == FWT_OK) {
        e = fwt_agent_install_finish(inst, &img);
    }
    free(buf);
    return e;
}

static void test_binding(void **state)
{
    (void)state;
    char key[512], good[512], other[512], none[512];
    snprintf(key, sizeof(key), "%s/k.pem", g_dir);
    snprintf(good, sizeof(good), "%s/good.bin", g_dir);
    snprintf(other, sizeof(other), "%s/other.bin", g_dir);
    snprintf(none, sizeof(none), "%s/none.bin", g_dir);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ED25519, key, NULL), FWT_OK);
    uint8_t env_a[32], env_b[32];
    memset(env_a, 0xa1, sizeof(env_a));
    memset(env_b, 0xb2, sizeof(env_b));
    sign_with(key, env_a, good);
    sign_with(key, env_b, other);
    sign_with(key, NULL, none);
    fwt_agent *dev = tu_device(g_dir, "dev", key, 0, 0, NULL, 0);
    struct fwt_agent_status st;

    assert_int_equal(install(dev, other, env_a), FWT_E_DIGEST);
    assert_non_null(strstr(fwt_detail(), "another provenance envelope"));
    assert_int_equal(fwt_agent_status_get(dev, &st), FWT_OK);
    assert_int_equal(st.trial, FWT_SLOT_NONE);
    assert_int_equal(install(dev, none, env_a), FWT_E_DIGEST);
    assert_non_null(strstr(fwt_detail(), "binds no provenance"));
    assert_int_equal(fwt_agent_status_get(dev, &st), FWT_OK);
    assert_int_equal(st.trial, FWT_SLOT_NONE);
    /* Without an expectation (and without require_provenance) the TLV is not demanded. */
    assert_int_equal(install(dev, none, NULL), FWT_OK);
    fwt_agent_close(dev);
    dev = tu_device(g_dir, "dev2", key, 0, 0, NULL, 0);
    assert_int_equal(install(dev, good, env_a), FWT_OK);
    assert_int_equal(fwt_agent_status_get(dev, &st), FWT_OK);
    assert_int_not_equal(st.trial, FWT_SLOT_NONE);
    fwt_agent_close(dev);
}

static int setup(void **state)
{
    (void)state;
    return ts_mkscratch(g_dir, sizeof(g_dir), "agent-prov");
}

static int teardown(void **state)
{
    (void)state;
    return ts_rmrf(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binding),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
