/*
 * The fleet server's attestation configuration (DIR/attest.json,
 * fwt_srv_attest_config_parse) and the rollout specification's attestation
 * policy (fwt_srv_rollout_spec_check): what is accepted, and each refusal named.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fwtrust/fwt_rollout.h>

#include <stdio.h>
#include <string.h>

static fwt_err cfg(const char *text)
{
    json_t *j = NULL;
    fwt_err e = fwt_srv_attest_config_parse((const uint8_t *)text, strlen(text), &j);
    assert_true((e == FWT_OK) == (j != NULL));
    json_decref(j);
    return e;
}

static void refused(const char *text, const char *why)
{
    assert_int_equal(cfg(text), FWT_E_ARG);
    if (!strstr(fwt_detail(), why)) {
        fail_msg("'%s': detail '%s' lacks '%s'", text, fwt_detail(), why);
    }
}

static void test_config_accepted(void **state)
{
    (void)state;
    assert_int_equal(cfg("{\"ek_ca\":\"ca.pem\",\"targets\":[\"t.json\"]}"), FWT_OK);
    assert_int_equal(cfg("{\"ek_ca\":\"ca.pem\",\"targets\":[\"t.json\",\"d.json\"],\"signlog\":\"l.db\","
                         "\"signlog_key\":\"l.pub\",\"nonce_ttl\":10}"), FWT_OK);
    assert_int_equal(cfg("{\"ek_ca\":\"ca.pem\",\"catalog\":\"c.json\",\"nonce_ttl\":86400}"), FWT_OK);
    assert_int_equal(cfg("{\"ek_ca\":\"ca.pem\",\"image_repo\":true}"), FWT_OK);
    assert_int_equal(cfg("{\"ek_ca\":\"ca.pem\",\"image_repo\":true,\"signlog\":\"l\",\"signlog_key\":\"k\"}"),
                     FWT_OK);
}

static void test_config_refused(void **state)
{
    (void)state;
    refused("[]", "not a JSON object");
    refused("{\"ek_ca\":\"a\",\"ek_ca\":\"b\",\"targets\":[\"t\"]}", "not a JSON object");
    refused("{\"targets\":[\"t.json\"]}", "\"ek_ca\"");
    refused("{\"ek_ca\":\"\",\"targets\":[\"t.json\"]}", "\"ek_ca\" must be a file name");
    refused("{\"ek_ca\":\"ca.pem\"}", "exactly one of");
    refused("{\"ek_ca\":\"ca.pem\",\"targets\":[\"t\"],\"catalog\":\"c\"}", "exactly one of");
    refused("{\"ek_ca\":\"ca.pem\",\"targets\":[]}", "1 to 64 file names");
    refused("{\"ek_ca\":\"ca.pem\",\"targets\":\"t.json\"}", "1 to 64 file names");
    refused("{\"ek_ca\":\"ca.pem\",\"targets\":[\"t\",3]}", "\"targets\"[1]");
    refused("{\"ek_ca\":\"ca.pem\",\"targets\":[\"t\"],\"signlog\":\"l.db\"}", "go together");
    refused("{\"ek_ca\":\"ca.pem\",\"catalog\":\"c\",\"signlog\":\"l\",\"signlog_key\":\"k\"}", "go together");
    refused("{\"ek_ca\":\"ca.pem\",\"targets\":[\"t\"],\"signlog\":5,\"signlog_key\":5}", "\"signlog\" must be");
    refused("{\"ek_ca\":\"ca.pem\",\"targets\":[\"t\"],\"nonce_ttl\":9}", "nonce_ttl");
    refused("{\"ek_ca\":\"ca.pem\",\"targets\":[\"t\"],\"nonce_ttl\":86401}", "nonce_ttl");
    refused("{\"ek_ca\":\"ca.pem\",\"targets\":[\"t\"],\"extra\":1}", "unknown key 'extra'");
    refused("{\"ek_ca\":\"ca.pem\",\"image_repo\":false}", "\"image_repo\" must be true");
    refused("{\"ek_ca\":\"ca.pem\",\"image_repo\":true,\"targets\":[\"t\"]}", "exactly one of");
}

static fwt_err spec(const char *extra)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"name\":\"n\",\"target\":\"fw.bin\",\"length\":1,\"sha256\":\"%064d\",\"hardware_id\":\"hw\","
             "\"release_counter\":1,\"select\":{\"hardware_id\":\"hw\"},\"groups\":[{\"percent\":100,"
             "\"error_threshold_count\":1}]%s}", 0, extra);
    json_t *j = NULL;
    fwt_err e = fwt_srv_rollout_spec_check((const uint8_t *)buf, strlen(buf), &j);
    json_decref(j);
    return e;
}

static void test_rollout_policy(void **state)
{
    (void)state;
    assert_int_equal(spec(""), FWT_OK);
    assert_int_equal(spec(",\"require_attestation\":\"none\""), FWT_OK);
    assert_int_equal(spec(",\"require_attestation\":\"critical\""), FWT_OK);
    assert_int_equal(spec(",\"require_attestation\":\"all\",\"attestation_max_age\":60"), FWT_OK);
    assert_int_equal(spec(",\"require_attestation\":\"sometimes\""), FWT_E_ARG);
    assert_non_null(strstr(fwt_detail(), "require_attestation"));
    assert_int_equal(spec(",\"require_attestation\":true"), FWT_E_ARG);
    assert_int_equal(spec(",\"attestation_max_age\":59"), FWT_E_ARG);
    assert_int_equal(spec(",\"attestation_max_age\":2592001"), FWT_E_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_accepted),
        cmocka_unit_test(test_config_refused),
        cmocka_unit_test(test_rollout_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
