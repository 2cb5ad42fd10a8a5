/*
 * A glitched verifier: the verifier calls are wrapped at link time
 * (-Wl,--wrap=...) to return FWT_OK with a result that does not support it,
 * as a skipped branch (voltage or clock glitch) might. The agent and the
 * bootloader check the result again on their own (fwt_agent_recheck): the
 * install is refused, and the boot refuses the slot and falls back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent_tutil.h"
#include "scratch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum glitch { G_NONE, G_SIGNERS, G_HW_ID, G_COUNTER, G_KEY_VERSION, G_DIGEST_LEN, G_ANCHORS };
static enum glitch g_glitch;

/* A glitch turns a refusal into FWT_OK and leaves the result as it was. */
static fwt_err glitch(fwt_err real, struct fwt_image_info *info)
{
    if (g_glitch == G_NONE || !info) {
        return real;
    }
    switch (g_glitch) {
    case G_SIGNERS:
        info->n_signers = 0;
        break;
    case G_HW_ID:
        memcpy(info->hw_id, "hw2", 3);
        break;
    case G_COUNTER:
        info->security_counter = 0;
        break;
    case G_KEY_VERSION:
        info->has_cert = 1;
        info->key_version = 0;
        break;
    case G_DIGEST_LEN:
        info->digest_len = 0;
        break;
    case G_ANCHORS:
        /* As many signers as before, all under one anchor (what a count of keys, not of
         * anchors, would accept). */
        for (uint32_t i = 1; i < info->n_signers && i < FWT_MAX_SIGNERS; i++) {
            info->signer_anchor[i] = info->signer_anchor[0];
        }
        break;
    default:
        break;
    }
    return FWT_OK;
}

/* The agent verifies slots with fwt_verify_file_flags (slots hold plaintext). */
fwt_err __real_fwt_verify_file_flags(const char *path, const struct fwt_policy *pol,
                                     uint32_t io_flags, struct fwt_image_info *info);
fwt_err __wrap_fwt_verify_file_flags(const char *path, const struct fwt_policy *pol,
                                     uint32_t io_flags, struct fwt_image_info *info);
fwt_err __wrap_fwt_verify_file_flags(const char *path, const struct fwt_policy *pol,
                                     uint32_t io_flags, struct fwt_image_info *info)
{
    return glitch(__real_fwt_verify_file_flags(path, pol, io_flags, info), info);
}

fwt_err __real_fwt_image_verify_prehashed(const struct fwt_io *io,
                                          const struct fwt_crypto_ops *crypto,
                                          const struct fwt_policy *policy, enum fwt_hash_alg alg,
                                          const uint8_t *digest, size_t digest_len, uint8_t *work,
                                          size_t work_len, struct fwt_image_info *info);
fwt_err __wrap_fwt_image_verify_prehashed(const struct fwt_io *io,
                                          const struct fwt_crypto_ops *crypto,
                                          const struct fwt_policy *policy, enum fwt_hash_alg alg,
                                          const uint8_t *digest, size_t digest_len, uint8_t *work,
                                          size_t work_len, struct fwt_image_info *info);
fwt_err __wrap_fwt_image_verify_prehashed(const struct fwt_io *io,
                                          const struct fwt_crypto_ops *crypto,
                                          const struct fwt_policy *policy, enum fwt_hash_alg alg,
                                          const uint8_t *digest, size_t digest_len, uint8_t *work,
                                          size_t work_len, struct fwt_image_info *info)
{
    return glitch(__real_fwt_image_verify_prehashed(io, crypto, policy, alg, digest, digest_len,
                                                    work, work_len, info),
                  info);
}

static char g_dir[256], g_key[300], g_key2[300], g_v1[300], g_v2[300], g_w1[300], g_w2[300];

static void sign(const char *out, const char *ver, uint32_t sc)
{
    tu_sign(g_dir, g_key, NULL, out, ver, sc, 5000);
}

static int group_setup(void **state)
{
    (void)state;
    assert_int_equal(ts_mkscratch(g_dir, sizeof(g_dir), "glitch-test"), 0);
    snprintf(g_key, sizeof(g_key), "%s/k.pem", g_dir);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ED25519, g_key, NULL), FWT_OK);
    snprintf(g_v1, sizeof(g_v1), "%s/v1.bin", g_dir);
    snprintf(g_v2, sizeof(g_v2), "%s/v2.bin", g_dir);
    sign(g_v1, "1.0.0", 1);
    sign(g_v2, "2.0.0", 2);
    /* Signed by two keys, for a device that trusts both with threshold 2. */
    snprintf(g_key2, sizeof(g_key2), "%s/k2.pem", g_dir);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ED25519, g_key2, NULL), FWT_OK);
    snprintf(g_w1, sizeof(g_w1), "%s/w1.bin", g_dir);
    snprintf(g_w2, sizeof(g_w2), "%s/w2.bin", g_dir);
    tu_sign(g_dir, g_key, g_key2, g_w1, "1.0.0", 1, 5000);
    tu_sign(g_dir, g_key, g_key2, g_w2, "2.0.0", 2, 5000);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return ts_rmrf(g_dir);
}

/* A device running v1 (confirmed in slot a; minimum security counter 1, key version 1). */
static fwt_agent *device(const char *name)
{
    /* Key version 1 applies to certificates only: these images are signed directly. */
    fwt_agent *dev = tu_device(g_dir, name, g_key, 1, 1, NULL, 0);
    g_glitch = G_NONE;
    assert_int_equal(fwt_agent_install_file(dev, g_v1, 0, NULL, NULL, NULL), FWT_OK);
    struct fwt_agent_boot_result r;
    assert_int_equal(fwt_agent_boot(dev, &r), FWT_OK);
    assert_int_equal(fwt_agent_confirm(dev, NULL), FWT_OK);
    return dev;
}

static void test_install_rechecks(void **state)
{
    (void)state;
    fwt_agent *dev = device("inst");
    const enum glitch all[] = {G_SIGNERS, G_HW_ID, G_COUNTER, G_KEY_VERSION, G_DIGEST_LEN};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        g_glitch = all[i];
        assert_int_equal(fwt_agent_install_file(dev, g_v2, 0, NULL, NULL, NULL), FWT_E_INTERNAL);
        assert_non_null(strstr(fwt_detail(), "refused as a fault"));
        struct fwt_agent_status st;
        assert_int_equal(fwt_agent_status_get(dev, &st), FWT_OK);
        assert_int_equal(st.trial, FWT_SLOT_NONE);
        assert_true(st.bad[FWT_SLOT_B]);
    }
    g_glitch = G_NONE;
    assert_int_equal(fwt_agent_install_file(dev, g_v2, 0, NULL, NULL, NULL), FWT_OK);
    fwt_agent_close(dev);
}

static void test_boot_rechecks(void **state)
{
    (void)state;
    fwt_agent *dev = device("boot");
    assert_int_equal(fwt_agent_install_file(dev, g_v2, 0, NULL, NULL, NULL), FWT_OK);
    /* The glitch hits both slots alike: nothing boots. A fault is no verdict on the
     * images: no slot is marked bad, no try used up, and the next boot (no glitch)
     * boots the trial slot as if nothing had happened. */
    g_glitch = G_SIGNERS;
    struct fwt_agent_boot_result r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(fwt_agent_boot(dev, &r), FWT_E_INTERNAL);
    assert_int_equal(r.failed[FWT_SLOT_B], FWT_E_INTERNAL);
    assert_int_equal(r.failed[FWT_SLOT_A], FWT_E_INTERNAL);
    g_glitch = G_NONE;
    struct fwt_agent_status st;
    assert_int_equal(fwt_agent_status_get(dev, &st), FWT_OK);
    assert_false(st.bad[FWT_SLOT_A] || st.bad[FWT_SLOT_B]);
    assert_int_equal(st.trial, FWT_SLOT_B);
    memset(&r, 0, sizeof(r));
    assert_int_equal(fwt_agent_boot(dev, &r), FWT_OK);
    assert_int_equal(r.slot, FWT_SLOT_B);
    assert_true(r.trial);
    struct fwt_agent_image img;
    assert_int_equal(fwt_agent_verify_slot(dev, FWT_SLOT_A, &img), FWT_OK);
    g_glitch = G_HW_ID;
    assert_int_equal(fwt_agent_verify_slot(dev, FWT_SLOT_A, &img), FWT_E_INTERNAL);
    g_glitch = G_NONE;
    fwt_agent_close(dev);
}

/* Threshold 2 over two trusted keys: the re-check counts anchors by the core's rule, so a
 * result with two signers under one anchor is refused as a fault, at install and at boot. */
static void test_anchor_recheck(void **state)
{
    (void)state;
    struct fwt_agent_init_opts io;
    memset(&io, 0, sizeof(io));
    io.hw_id = "hw1";
    io.keys[0] = g_key;
    io.keys[1] = g_key2;
    io.n_keys = 2;
    io.threshold = 2;
    g_glitch = G_NONE;
    fwt_agent *dev = tu_device_opts(g_dir, "two", &io, NULL, 0);
    assert_int_equal(fwt_agent_install_file(dev, g_v1, 0, NULL, NULL, NULL), FWT_E_THRESHOLD);
    g_glitch = G_ANCHORS;
    assert_int_equal(fwt_agent_install_file(dev, g_w1, 0, NULL, NULL, NULL), FWT_E_INTERNAL);
    assert_non_null(strstr(fwt_detail(), "refused as a fault"));
    g_glitch = G_NONE;
    assert_int_equal(fwt_agent_install_file(dev, g_w1, 0, NULL, NULL, NULL), FWT_OK);
    struct fwt_agent_boot_result r;
    g_glitch = G_ANCHORS;
    memset(&r, 0, sizeof(r));
    assert_int_not_equal(fwt_agent_boot(dev, &r), FWT_OK);
    assert_int_equal(r.failed[FWT_SLOT_A], FWT_E_INTERNAL);
    g_glitch = G_NONE;
    struct fwt_agent_image img;
    assert_int_equal(fwt_agent_verify_slot(dev, FWT_SLOT_A, &img), FWT_OK);
    g_glitch = G_ANCHORS;
    assert_int_equal(fwt_agent_verify_slot(dev, FWT_SLOT_A, &img), FWT_E_INTERNAL);
    g_glitch = G_NONE;
    fwt_agent_close(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install_rechecks),
        cmocka_unit_test(test_boot_rechecks),
        cmocka_unit_test(test_anchor_recheck),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
