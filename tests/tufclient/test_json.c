/*
 * Canonical JSON (the encoding TUF signs), key ids, key objects, verifiers and
 * time stamps of the TUF module (src/tuf/tuf_json.c).
 */
#define FWTRUST_INTERNAL 1
#include "tuf/tuf_json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *canon_of(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    char *c = NULL;
    size_t l = 0;
    assert_int_equal(fwt_tuf_canonical(v, &c, &l), FWT_OK);
    assert_int_equal(strlen(c), l);
    json_decref(v);
    return c;
}

static void test_canonical_vectors(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        /* keys sorted, no whitespace */
        {"{ \"b\": 1, \"a\": [true, false, null], \"c\": {\"z\": \"\", \"y\": -5} }",
         "{\"a\":[true,false,null],\"b\":1,\"c\":{\"y\":-5,\"z\":\"\"}}"},
        /* only '\"' and '\\' are escaped; other bytes (newline, UTF-8) are written as they are */
        {"{\"s\": \"q\\\"b\\\\n\\nt\\u00e9\"}", "{\"s\":\"q\\\"b\\\\n\nt\xc3\xa9\"}"},
        /* code point order: upper case before lower case, "a" before "ab", é after z */
        {"{\"ab\": 1, \"a\": 2, \"B\": 3, \"\\u00e9\": 4, \"z\": 5}",
         "{\"B\":3,\"a\":2,\"ab\":1,\"z\":5,\"\xc3\xa9\":4}"},
        {"[]", "[]"},
        {"{}", "{}"},
        {"9007199254740993", "9007199254740993"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *c = canon_of(cases[i][0]);
        assert_string_equal(c, cases[i][1]);
        free(c);
    }
}

static void test_canonical_refuses_floats_and_depth(void **state)
{
    (void)state;
    json_t *v = json_loads("{\"x\": 1.5}", 0, NULL);
    char *c = NULL;
    size_t l = 0;
    assert_int_equal(fwt_tuf_canonical(v, &c, &l), FWT_E_META);
    json_decref(v);
    json_t *deep = json_array();
    json_t *cur = deep;
    for (int i = 0; i < 80; i++) {
        json_t *n = json_array();
        json_array_append_new(cur, n);
        cur = n;
    }
    assert_int_equal(fwt_tuf_canonical(deep, &c, &l), FWT_E_META);
    json_decref(deep);
}

static void test_json_load_strict(void **state)
{
    (void)state;
    json_t *v = NULL;
    const char dup[] = "{\"a\": 1, \"a\": 1}";
    assert_int_equal(fwt_tuf_json_load((const uint8_t *)dup, strlen(dup), "x", &v), FWT_E_META);
    const char trailing[] = "{\"a\": 1} {}";
    assert_int_equal(fwt_tuf_json_load((const uint8_t *)trailing, strlen(trailing), "x", &v), FWT_E_META);
    const char ok[] = "{\"a\": 1}";
    assert_int_equal(fwt_tuf_json_load((const uint8_t *)ok, strlen(ok), "x", &v), FWT_OK);
    json_decref(v);
}

/* Key id of a known key object: SHA-256 of its canonical form (computed independently). */
static void test_keyid(void **state)
{
    (void)state;
    json_t *k = json_pack("{s:s, s:s, s:{s:s}}", "keytype", "ed25519", "scheme", "ed25519", "keyval", "public",
                          "edcd0a32a07dce33f7c7873aaffbff36d20ea30787574ead335eefd337e4dacd");
    char id[65];
    assert_int_equal(fwt_tuf_keyid(k, id), FWT_OK);
    /* sha256 of {"keytype":"ed25519","keyval":{"public":"edcd...dacd"},"scheme":"ed25519"} */
    char *c = NULL;
    size_t l = 0;
    assert_int_equal(fwt_tuf_canonical(k, &c, &l), FWT_OK);
    assert_string_equal(c, "{\"keytype\":\"ed25519\",\"keyval\":{\"public\":"
                           "\"edcd0a32a07dce33f7c7873aaffbff36d20ea30787574ead335eefd337e4dacd\"},\"scheme\":\"ed25519\"}");
    uint8_t d[32];
    char hex[65];
    assert_int_equal(fwt_sha256(c, l, d), FWT_OK);
    fwt_hex_encode(d, 32, hex);
    assert_string_equal(id, hex);
    free(c);
    /* verifier from it; material is the same for an alias object with an extra field */
    struct fwt_tuf_vkey *a = NULL, *b = NULL;
    assert_int_equal(fwt_tuf_vkey_new(k, &a), FWT_OK);
    json_t *alias = json_deep_copy(k);
    json_object_set_new(alias, "x", json_true());
    assert_int_equal(fwt_tuf_vkey_new(alias, &b), FWT_OK);
    size_t la, lb;
    const uint8_t *ma = fwt_tuf_vkey_material(a, &la), *mb = fwt_tuf_vkey_material(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ma, mb, la);
    /* a bad signature does not verify */
    uint8_t sig[64] = {0};
    assert_int_equal(fwt_tuf_vkey_verify(a, (const uint8_t *)"m", 1, sig, sizeof(sig)), FWT_E_SIGNATURE);
    fwt_tuf_vkey_free(a);
    fwt_tuf_vkey_free(b);
    /* unsupported and malformed keys */
    json_object_set_new(alias, "scheme", json_string("ed448"));
    assert_int_equal(fwt_tuf_vkey_new(alias, &a), FWT_E_UNSUPPORTED);
    json_object_set_new(alias, "keyval", json_string("x"));
    assert_int_equal(fwt_tuf_vkey_new(alias, &a), FWT_E_META);
    json_decref(alias);
    json_decref(k);
}

static void test_time(void **state)
{
    (void)state;
    time_t t = 0;
    assert_int_equal(fwt_tuf_time_parse("1970-01-01T00:00:00Z", &t), FWT_OK);
    assert_int_equal(t, 0);
    assert_int_equal(fwt_tuf_time_parse("2030-02-28T12:34:56Z", &t), FWT_OK);
    assert_int_equal((long long)t, 1898512496LL);
    char out[21];
    fwt_tuf_time_format(t, out);
    assert_string_equal(out, "2030-02-28T12:34:56Z");
    assert_int_equal(fwt_tuf_time_parse("2024-02-29T00:00:00Z", &t), FWT_OK);
    static const char *const bad[] = {"2023-02-29T00:00:00Z", "2030-02-28T12:34:56",  "2030-02-28 12:34:56Z",
                                      "2030-13-01T00:00:00Z", "2030-02-28T24:00:00Z", "2030-02-28T12:34:56.1Z",
                                      "",                     "2030-2-28T12:34:56Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(fwt_tuf_time_parse(bad[i], &t), FWT_E_META);
    }
    assert_int_equal(fwt_tuf_time_parse(NULL, &t), FWT_E_META);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_vectors),
        cmocka_unit_test(test_canonical_refuses_floats_and_depth),
        cmocka_unit_test(test_json_load_strict),
        cmocka_unit_test(test_keyid),
        cmocka_unit_test(test_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
