/*
 * Unit tests of the update's reading of target metadata
 * (fwt_update_check_target). The decoder's tests are in tests/delta/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/update_internal.h"

static fwt_err check(const char *custom, uint64_t length, const char *sha, char *why)
{
    struct fwt_tuf_target t;
    memset(&t, 0, sizeof(t));
    t.name = "fw/x.bin";
    t.role = "targets";
    t.length = length;
    t.sha256 = sha;
    t.custom_json = custom;
    return fwt_update_check_target(&t, why, 128);
}

#define SHA "69e192f721b92636a61b3d20183e383f67bafd7cd07aec762dfd3228a910194c"
#define DIG "{\"sha256\": \"20cfe9995569eb2533384dde5eb4efbd0f9780771d8eb89aa6ba17157d417086\"}"

static void test_target_metadata(void **state)
{
    (void)state;
    char why[128];
    const char *full = "{\"fwtrust\": {\"version\": \"4.0.0+5\", \"security_counter\": 3, "
                       "\"hw_id_hex\": \"6869\", \"image_digest\": " DIG "}}";
    assert_int_equal(check(full, 100, SHA, why), FWT_OK);
    /* A full image needs a sha256 in the target hashes. */
    assert_int_equal(check(full, 100, NULL, why), FWT_E_META);
    assert_non_null(strstr(why, "sha256"));
    const char *patch = "{\"fwtrust\": {\"encoding\": \"zstd-patch\", \"version\": \"4.0.0+5\", "
                        "\"hw_id_hex\": \"6869\", \"image_digest\": " DIG ", \"image_length\": 9, "
                        "\"image_sha256\": \"" SHA "\", \"base\": {\"length\": 5, \"sha256\": \"" SHA
                        "\", \"image_digest\": " DIG "}}}";
    assert_int_equal(check(patch, 100, SHA, why), FWT_OK);
    static const char *const bad[] = {
        NULL,
        "{}",
        "{\"fwtrust\": 1}",
        /* duplicate key */
        "{\"fwtrust\": {\"version\": \"1\", \"version\": \"2\"}}",
        /* no version / bad version */
        "{\"fwtrust\": {\"hw_id_hex\": \"6869\", \"image_digest\": " DIG "}}",
        "{\"fwtrust\": {\"version\": \"x.y\", \"hw_id_hex\": \"6869\", \"image_digest\": " DIG "}}",
        /* no hardware id; odd hex; too long */
        "{\"fwtrust\": {\"version\": \"1.0.0\", \"image_digest\": " DIG "}}",
        "{\"fwtrust\": {\"version\": \"1.0.0\", \"hw_id_hex\": \"686\", \"image_digest\": " DIG "}}",
        /* counter out of range */
        "{\"fwtrust\": {\"version\": \"1.0.0\", \"security_counter\": 4294967296, \"hw_id_hex\": "
        "\"6869\", \"image_digest\": " DIG "}}",
        "{\"fwtrust\": {\"version\": \"1.0.0\", \"security_counter\": -1, \"hw_id_hex\": "
        "\"6869\", \"image_digest\": " DIG "}}",
        /* digest: two, unknown algorithm, short */
        "{\"fwtrust\": {\"version\": \"1.0.0\", \"hw_id_hex\": \"6869\", \"image_digest\": "
        "{\"sha256\": \"" SHA "\", \"sha512\": \"" SHA "\"}}}",
        "{\"fwtrust\": {\"version\": \"1.0.0\", \"hw_id_hex\": \"6869\", \"image_digest\": "
        "{\"md5\": \"" SHA "\"}}}",
        "{\"fwtrust\": {\"version\": \"1.0.0\", \"hw_id_hex\": \"6869\", \"image_digest\": "
        "{\"sha256\": \"abcd\"}}}",
        /* unknown encoding; encoded without image length/sha; patch without base */
        "{\"fwtrust\": {\"encoding\": \"bsdiff\", \"version\": \"1.0.0\", \"hw_id_hex\": \"6869\", "
        "\"image_digest\": " DIG "}}",
        "{\"fwtrust\": {\"encoding\": \"zstd\", \"version\": \"1.0.0\", \"hw_id_hex\": \"6869\", "
        "\"image_digest\": " DIG "}}",
        "{\"fwtrust\": {\"encoding\": \"zstd\", \"version\": \"1.0.0\", \"hw_id_hex\": \"6869\", "
        "\"image_digest\": " DIG ", \"image_length\": 0, \"image_sha256\": \"" SHA "\"}}",
        "{\"fwtrust\": {\"encoding\": \"zstd-patch\", \"version\": \"1.0.0\", \"hw_id_hex\": "
        "\"6869\", \"image_digest\": " DIG ", \"image_length\": 9, \"image_sha256\": \"" SHA "\"}}",
        "{\"fwtrust\": {\"encoding\": \"zstd-patch\", \"version\": \"1.0.0\", \"hw_id_hex\": "
        "\"6869\", \"image_digest\": " DIG ", \"image_length\": 9, \"image_sha256\": \"" SHA
        "\", \"base\": {\"length\": 5, \"sha256\": \"zz\", \"image_digest\": " DIG "}}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (check(bad[i], 100, SHA, why) != FWT_E_META) {
            fail_msg("custom metadata %zu accepted: %s", i, bad[i] ? bad[i] : "(none)");
        }
        assert_true(why[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
