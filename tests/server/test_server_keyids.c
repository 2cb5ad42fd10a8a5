/*
 * The server's key id table (src/server/keyids.c): the key id of each certificate's key,
 * per certificate fingerprint. A new certificate (renewal: another fingerprint) gets its
 * own key's id, also when it takes the slot of another; the table keeps nothing else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/srv.h"

#include <fwtrust/fwt_fleet.h>
#include <fwtrust/fwt_keys.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_tmp[64];
static fwt_pubkey *pub_a, *pub_b;
static char id_a[65], id_b[65];

static fwt_pubkey *gen(const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s.pem", g_tmp, name);
    assert_int_equal(fwt_keygen_file(FWT_KEY_ECDSA_P256, path, NULL), FWT_OK);
    fwt_privkey *k = NULL;
    fwt_pubkey *p = NULL;
    assert_int_equal(fwt_privkey_load(path, NULL, &k), FWT_OK);
    assert_int_equal(fwt_privkey_public(k, &p), FWT_OK);
    fwt_privkey_free(k);
    return p;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/fwt-keyids-XXXXXX");
    assert_non_null(mkdtemp(g_tmp));
    pub_a = gen("a");
    pub_b = gen("b");
    assert_int_equal(fwt_fleet_keyid(pub_a, id_a), FWT_OK);
    assert_int_equal(fwt_fleet_keyid(pub_b, id_b), FWT_OK);
    assert_string_not_equal(id_a, id_b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fwt_pubkey_free(pub_a);
    fwt_pubkey_free(pub_b);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", g_tmp);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* fingerprints: the same first bytes (one slot in any table), then different */
static const char FP1[] = "00000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char FP2[] = "00000000bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
static const char NOT_FP[] = "0000000000000000000000000000000000000000000000000000000000000zzz"; /* not hex */

static void test_kept_per_certificate(void **state)
{
    (void)state;
    struct srv_keyids *k = NULL;
    char id[65];
    assert_int_equal(srv_keyids_new(1024, &k), FWT_OK);
    assert_int_equal(srv_keyid(k, FP1, pub_a, id), FWT_OK);
    assert_string_equal(id, id_a);
    /* kept: a second look-up of this certificate does not compute (the key given is not used) */
    assert_int_equal(srv_keyid(k, FP1, pub_b, id), FWT_OK);
    assert_string_equal(id, id_a);
    /* a renewed certificate (another fingerprint, here on the same slot): its new key's id */
    assert_int_equal(srv_keyid(k, FP2, pub_b, id), FWT_OK);
    assert_string_equal(id, id_b);
    assert_int_equal(srv_keyid(k, FP2, pub_a, id), FWT_OK);
    assert_string_equal(id, id_b);
    /* the first one was replaced: computed again from its key */
    assert_int_equal(srv_keyid(k, FP1, pub_a, id), FWT_OK);
    assert_string_equal(id, id_a);
    srv_keyids_free(k);
}

static void test_without_table(void **state)
{
    (void)state;
    char id[65];
    struct srv_keyids *k = NULL;
    /* no table, or no fingerprint: always computed from the key */
    assert_int_equal(srv_keyid(NULL, FP1, pub_b, id), FWT_OK);
    assert_string_equal(id, id_b);
    assert_int_equal(srv_keyids_new(0, &k), FWT_E_ARG);
    assert_null(k);
    assert_int_equal(srv_keyids_new(16, &k), FWT_OK);
    assert_int_equal(srv_keyid(k, NOT_FP, pub_a, id), FWT_OK);
    assert_string_equal(id, id_a);
    assert_int_equal(srv_keyid(k, NOT_FP, pub_b, id), FWT_OK);
    assert_string_equal(id, id_b);
    srv_keyids_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_per_certificate),
        cmocka_unit_test(test_without_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
