/* Unit tests of the target description (src/tuf/target_desc.c): what the
 * repository writes the device reads back unchanged, and a malformed
 * description is refused with the field named. */
#include <fwtrust/fwt_target_desc.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(seed + 7 * i);
    }
}

/* to_json, dump, load, parse: the same struct again. */
static void round_trip(const struct fwt_target_desc *d)
{
    json_t *j = fwt_target_desc_to_json(d);
    assert_non_null(j);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    assert_non_null(text);
    json_error_t je;
    json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    free(text);
    assert_non_null(back);
    struct fwt_target_desc e;
    char why[128];
    assert_int_equal(fwt_target_desc_parse(back, &e, why, sizeof(why)), FWT_OK);
    json_decref(back);
    assert_memory_equal(d, &e, sizeof(e));
}

static void test_round_trip_image(void **state)
{
    (void)state;
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    info.hdr.version.major = 2;
    info.hdr.version.minor = 255;
    info.hdr.version.revision = 65535;
    info.hdr.version.build = 4294967295U;
    info.hash_alg = FWT_HASH_SHA384;
    info.digest_len = 48;
    fill(info.digest, 48, 1);
    info.has_security_counter = 1;
    info.security_counter = 4294967295U;
    memcpy(info.hw_id, "board-7", 7);
    info.hw_id_len = 7;
    info.n_signers = 2;
    fill(info.signer_keyhash[0], FWT_KEYHASH_SIZE, 3);
    fill(info.signer_keyhash[1], FWT_KEYHASH_SIZE, 9);
    struct fwt_target_desc d;
    fwt_target_desc_from_image(&info, 1, &d);
    assert_int_equal(d.digest.len, 48);
    assert_int_equal(d.n_signers, 2);
    round_trip(&d);

    /* The names the device and `fwtrust delta` depend on. */
    json_t *j = fwt_target_desc_to_json(&d);
    assert_string_equal(json_string_value(json_object_get(j, "version")), "2.255.65535+4294967295");
    assert_string_equal(json_string_value(json_object_get(j, "hw_id")), "board-7");
    assert_string_equal(json_string_value(json_object_get(j, "hw_id_hex")), "626f6172642d37");
    assert_non_null(json_object_get(json_object_get(j, "image_digest"), "sha384"));
    assert_int_equal(json_array_size(json_object_get(j, "verified_signers")), 2);
    assert_null(json_object_get(j, "encoding"));
    json_decref(j);

    /* Not printable: no "hw_id", only its hex; no counter, no signers. */
    info.hw_id[0] = 0x01;
    info.has_security_counter = 0;
    info.hash_alg = FWT_HASH_SHA256;
    info.digest_len = 32;
    fwt_target_desc_from_image(&info, 0, &d);
    j = fwt_target_desc_to_json(&d);
    assert_null(json_object_get(j, "hw_id"));
    assert_null(json_object_get(j, "security_counter"));
    assert_null(json_object_get(j, "verified_signers"));
    assert_string_equal(json_string_value(json_object_get(j, "hw_id_hex")), "016f6172642d37");
    json_decref(j);
    round_trip(&d);

    /* No hardware id at all: written without one, read as hw_id_len 0. */
    info.hw_id_len = 0;
    fwt_target_desc_from_image(&info, 0, &d);
    round_trip(&d);
}

static void test_round_trip_encoded(void **state)
{
    (void)state;
    struct fwt_target_desc d;
    memset(&d, 0, sizeof(d));
    d.version.major = 1;
    d.version.build = 3;
    d.digest.len = 64;
    fill(d.digest.v, 64, 5);
    memcpy(d.hw_id, "hw", 2);
    d.hw_id_len = 2;
    d.image_len = 123456;
    fill(d.image_sha, 32, 11);
    for (int e = FWT_TDESC_ZSTD; e <= FWT_TDESC_BSDIFF2; e++) {
        d.enc = (enum fwt_tdesc_enc)e;
        if (FWT_TDESC_IS_PATCH(d.enc)) {
            d.has_base_version = 1;
            d.base_version.minor = 9;
            d.base_len = 77;
            fill(d.base_sha, 32, 13);
            d.base_digest.len = 32;
            fill(d.base_digest.v, 32, 17);
        }
        round_trip(&d);
        d.window = 1ULL << 20; /* decode_window, when the repository declares it */
        round_trip(&d);
        d.window = 0;
    }
}

/* decode_window: written as its bytes for an encoded target, absent when not declared. */
static void test_decode_window(void **state)
{
    (void)state;
    struct fwt_target_desc d;
    memset(&d, 0, sizeof(d));
    d.version.major = 1;
    d.digest.len = 32;
    memcpy(d.hw_id, "hw", 2);
    d.hw_id_len = 2;
    d.image_len = 10;
    d.enc = FWT_TDESC_ZSTD;
    d.window = 262144;
    json_t *j = fwt_target_desc_to_json(&d);
    assert_int_equal(json_integer_value(json_object_get(j, "decode_window")), 262144);
    json_decref(j);
    d.window = 0;
    j = fwt_target_desc_to_json(&d);
    assert_null(json_object_get(j, "decode_window"));
    char why[128];
    struct fwt_target_desc e;
    assert_int_equal(fwt_target_desc_parse(j, &e, why, sizeof(why)), FWT_OK);
    assert_int_equal(e.window, 0); /* an older repository: nothing declared */
    json_decref(j);
}

#define DIG "{\"sha256\": \"" \
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}"
#define SHA "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\""
#define HEAD "\"version\": \"1.0.0\", \"hw_id_hex\": \"6869\", \"image_digest\": " DIG

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *why; /* a part of the reason */
    } bad[] = {
        {"[]", "no custom.fwtrust"},
        {"{\"hw_id_hex\": \"6869\", \"image_digest\": " DIG "}", "version"},
        {"{\"version\": \"1.x\", \"hw_id_hex\": \"6869\", \"image_digest\": " DIG "}", "version"},
        {"{\"version\": \"1.0.0\", \"hw_id_hex\": \"6869\"}", "image_digest"},
        {"{\"version\": \"1.0.0\", \"hw_id_hex\": \"6869\", \"image_digest\": {\"md5\": \"00\"}}",
         "image_digest"},
        {"{\"version\": \"1.0.0\", \"hw_id_hex\": \"686\", \"image_digest\": " DIG "}", "hw_id_hex"},
        {"{\"version\": \"1.0.0\", \"hw_id_hex\": \"\", \"image_digest\": " DIG "}", "hw_id_hex"},
        {"{\"version\": \"1.0.0\", \"hw_id_hex\": 7, \"image_digest\": " DIG "}", "hw_id_hex"},
        {"{" HEAD ", \"security_counter\": 4294967296}", "security_counter"},
        {"{" HEAD ", \"security_counter\": \"1\"}", "security_counter"},
        {"{" HEAD ", \"verified_signers\": [\"00\"]}", "verified_signers"},
        {"{" HEAD ", \"verified_signers\": {}}", "verified_signers"},
        {"{" HEAD ", \"encoding\": \"gzip\"}", "unknown encoding 'gzip'"},
        {"{" HEAD ", \"encoding\": 1}", "encoding"},
        {"{" HEAD ", \"encoding\": \"zstd\", \"image_sha256\": " SHA "}", "image_length"},
        {"{" HEAD ", \"encoding\": \"zstd\", \"image_length\": 0, \"image_sha256\": " SHA "}",
         "image_length"},
        {"{" HEAD ", \"encoding\": \"zstd-patch\", \"image_length\": 5, \"image_sha256\": " SHA "}",
         "base"},
        {"{" HEAD ", \"encoding\": \"zstd-bsdiff\", \"image_length\": 5, \"image_sha256\": " SHA
         ", \"base\": {\"length\": 5, \"sha256\": " SHA ", \"version\": \"v1\", \"image_digest\": " DIG "}}",
         "base"},
        {"{" HEAD ", \"encoding\": \"zstd\", \"image_length\": 5, \"image_sha256\": " SHA
         ", \"decode_window\": 1023}", "decode_window"},
        {"{" HEAD ", \"encoding\": \"zstd\", \"image_length\": 5, \"image_sha256\": " SHA
         ", \"decode_window\": \"4096\"}", "decode_window"},
        {"{" HEAD ", \"encoding\": \"zstd\", \"image_length\": 5, \"image_sha256\": " SHA
         ", \"decode_window\": -1}", "decode_window"},
        {"{" HEAD ", \"decode_window\": 4096}", "decode_window on a target that is not encoded"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_error_t je;
        json_t *j = json_loads(bad[i].json, JSON_REJECT_DUPLICATES, &je);
        if (!j) {
            fail_msg("test input %zu is not JSON: %s", i, je.text);
        }
        struct fwt_target_desc d;
        char why[128] = "unset";
        fwt_err err = fwt_target_desc_parse(j, &d, why, sizeof(why));
        json_decref(j);
        if (err != FWT_E_META || !strstr(why, bad[i].why)) {
            fail_msg("description %zu: err %d, why '%s' (want '%s'): %s", i, (int)err, why,
                     bad[i].why, bad[i].json);
        }
    }
    /* The good one these are made from is accepted. */
    json_t *j = json_loads("{" HEAD ", \"encoding\": \"zstd-bsdiff\", \"image_length\": 5, \"image_sha256\": "
                           SHA ", \"base\": {\"length\": 5, \"sha256\": " SHA ", \"version\": \"1.2\", "
                           "\"image_digest\": " DIG "}}", 0, NULL);
    struct fwt_target_desc d;
    char why[128];
    assert_int_equal(fwt_target_desc_parse(j, &d, why, sizeof(why)), FWT_OK);
    assert_int_equal(d.enc, FWT_TDESC_BSDIFF);
    assert_int_equal(d.base_version.minor, 2);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_image),
        cmocka_unit_test(test_round_trip_encoded),
        cmocka_unit_test(test_decode_window),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
