/*
 * Unit tests of the PKCS#11 URI parser (RFC 7512): attributes, percent-
 * decoding, the characters allowed unencoded in the path and the query,
 * and everything it must refuse (unknown or duplicate attributes, pin-value,
 * empty values, over-long fields, control characters, bad numbers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/keys_internal.h"
#include "crypto/pkcs11_uri.h"
#include <fwtrust/fwt_util.h>

/* Parse, expecting failure with FWT_E_ARG and a detail containing msg; the struct stays empty. */
static void refused(const char *uri, const char *msg)
{
    struct fwt_p11_uri u;
    memset(&u, 0x5a, sizeof(u));
    fwt_detail_clear();
    fwt_err e = fwt_p11_uri_parse(uri, &u);
    if (e != FWT_E_ARG || strstr(fwt_detail(), msg) == NULL) {
        print_error("%s: got %d '%s', wanted FWT_E_ARG with '%s'\n", uri ? uri : "(null)", e,
                    fwt_detail(), msg);
        fail();
    }
    assert_null(u.token);
    assert_null(u.object);
    assert_null(u.id);
    assert_null(u.pin_source);
    assert_null(u.module_path);
    assert_int_equal(u.has_slot_id, 0);
}

static void parsed(const char *uri, struct fwt_p11_uri *u)
{
    fwt_err e = fwt_p11_uri_parse(uri, u);
    if (e != FWT_OK) {
        print_error("%s: %s\n", uri, fwt_detail());
        fail();
    }
}

static void test_is_uri(void **state)
{
    (void)state;
    assert_true(fwt_p11_is_uri("pkcs11:object=a"));
    assert_true(fwt_p11_is_uri("PKCS11:"));
    assert_true(fwt_p11_is_uri("Pkcs11:token=x"));
    assert_false(fwt_p11_is_uri("pkcs11"));
    assert_false(fwt_p11_is_uri("pkcs1:object=a"));
    assert_false(fwt_p11_is_uri("keys/pkcs11:a.pem"));
    assert_false(fwt_p11_is_uri(""));
    assert_false(fwt_p11_is_uri(NULL));
}

static void test_basic(void **state)
{
    (void)state;
    struct fwt_p11_uri u;
    parsed("pkcs11:token=release;object=fw-signing-2026", &u);
    assert_string_equal(u.token, "release");
    assert_string_equal(u.object, "fw-signing-2026");
    assert_null(u.id);
    assert_null(u.pin_source);
    assert_int_equal(u.type, FWT_P11_TYPE_ANY);
    fwt_p11_uri_free(&u);
    assert_null(u.token);

    /* The scheme is case-insensitive; an empty path is allowed (it names everything). */
    parsed("PKCS11:object=k", &u);
    assert_string_equal(u.object, "k");
    fwt_p11_uri_free(&u);
    parsed("pkcs11:", &u);
    assert_null(u.object);
    fwt_p11_uri_free(&u);
    parsed("pkcs11:object=a?", &u); /* empty query */
    assert_string_equal(u.object, "a");
    fwt_p11_uri_free(&u);
}

static void test_all_attributes(void **state)
{
    (void)state;
    struct fwt_p11_uri u;
    parsed("pkcs11:token=Tok;manufacturer=SoftHSM%20project;serial=0123456789abcdef;model=SoftHSM%20v2;"
           "slot-id=42;slot-description=Slot%201;slot-manufacturer=Maker;"
           "library-manufacturer=Lib%20Co;library-description=Lib;library-version=2.40;"
           "object=key;id=%01%02%ff;type=private"
           "?pin-source=/run/pin&module-path=/usr/lib/softhsm/libsofthsm2.so&module-name=softhsm2",
           &u);
    assert_string_equal(u.token, "Tok");
    assert_string_equal(u.manufacturer, "SoftHSM project");
    assert_string_equal(u.serial, "0123456789abcdef");
    assert_string_equal(u.model, "SoftHSM v2");
    assert_int_equal(u.has_slot_id, 1);
    assert_int_equal(u.slot_id, 42);
    assert_string_equal(u.slot_description, "Slot 1");
    assert_string_equal(u.slot_manufacturer, "Maker");
    assert_string_equal(u.library_manufacturer, "Lib Co");
    assert_string_equal(u.library_description, "Lib");
    assert_int_equal(u.has_library_version, 1);
    assert_int_equal(u.library_version_major, 2);
    assert_int_equal(u.library_version_minor, 40);
    assert_string_equal(u.object, "key");
    assert_int_equal(u.id_len, 3);
    static const uint8_t id[] = {0x01, 0x02, 0xff};
    assert_memory_equal(u.id, id, 3);
    assert_int_equal(u.type, FWT_P11_TYPE_PRIVATE);
    assert_string_equal(u.pin_source, "/run/pin");
    assert_string_equal(u.module_path, "/usr/lib/softhsm/libsofthsm2.so");
    assert_string_equal(u.module_name, "softhsm2");
    fwt_p11_uri_free(&u);

    parsed("pkcs11:library-version=3;type=public;object=x", &u);
    assert_int_equal(u.library_version_major, 3);
    assert_int_equal(u.library_version_minor, 0);
    assert_int_equal(u.type, FWT_P11_TYPE_PUBLIC);
    fwt_p11_uri_free(&u);
}

static void test_percent_decoding(void **state)
{
    (void)state;
    struct fwt_p11_uri u;
    /* Encoded delimiters become data; hex digits in either case. */
    parsed("pkcs11:object=a%3bb%3Fc%25d%2fe%3D", &u);
    assert_string_equal(u.object, "a;b?c%d/e=");
    fwt_p11_uri_free(&u);
    /* Sub-delimiters allowed unencoded in the path, '&' included; '=' inside a value. */
    parsed("pkcs11:object=a=b&c:d[e]@!$'(f)*+,g~h", &u);
    assert_string_equal(u.object, "a=b&c:d[e]@!$'(f)*+,g~h");
    fwt_p11_uri_free(&u);
    /* UTF-8, percent-encoded. */
    parsed("pkcs11:token=caf%C3%A9", &u);
    assert_string_equal(u.token, "caf\xc3\xa9");
    fwt_p11_uri_free(&u);
    /* id is binary: NUL and any byte are fine. */
    parsed("pkcs11:id=%00%00%7f%80", &u);
    assert_int_equal(u.id_len, 4);
    assert_int_equal(u.id[0], 0);
    assert_int_equal(u.id[3], 0x80);
    fwt_p11_uri_free(&u);
    /* An unencoded id is its ASCII bytes. */
    parsed("pkcs11:id=ab", &u);
    assert_int_equal(u.id_len, 2);
    assert_memory_equal(u.id, "ab", 2);
    fwt_p11_uri_free(&u);
    /* '/', '?' and '|' are allowed in the query. */
    parsed("pkcs11:object=a?pin-source=/p/a?b|c", &u);
    assert_string_equal(u.pin_source, "/p/a?b|c");
    fwt_p11_uri_free(&u);
}

static void test_bad_percent(void **state)
{
    (void)state;
    refused("pkcs11:object=a%", "bad percent-encoding in object=");
    refused("pkcs11:object=a%4", "bad percent-encoding in object=");
    refused("pkcs11:object=%zz", "bad percent-encoding");
    refused("pkcs11:object=%4g", "bad percent-encoding");
    refused("pkcs11:id=%", "bad percent-encoding in id=");
}

static void test_must_encode(void **state)
{
    (void)state;
    refused("pkcs11:object=my key", "character ' '");
    refused("pkcs11:object=a\"b", "'\"' in object= must be percent-encoded (%22)");
    refused("pkcs11:object=a#b", "(%23)");
    refused("pkcs11:object=a/b", "'/' in object= must be percent-encoded");
    refused("pkcs11:object=a|b", "'|' in object=");
    refused("pkcs11:object=caf\xc3\xa9", "byte 0xc3 in object=");
    refused("pkcs11:object=a\tb", "byte 0x09");
    refused("pkcs11:object=a?pin-source=/a;b", "';' in pin-source=");
    /* A '?' ends the path: what follows must be query attributes. */
    refused("pkcs11:object=a?b", "attribute b has no '='");
}

static void test_control_chars(void **state)
{
    (void)state;
    refused("pkcs11:object=a%00b", "object= contains a control character (byte 0x00)");
    refused("pkcs11:token=a%0ab", "control character (byte 0x0a)");
    refused("pkcs11:object=%7f", "byte 0x7f");
    refused("pkcs11:object=a?pin-source=/p%0a", "pin-source= contains a control character");
}

static void test_pin_value_refused(void **state)
{
    (void)state;
    refused("pkcs11:object=a?pin-value=123456", "pin-value= is refused");
    refused("pkcs11:object=a?pin-source=/p&pin-value=1", "pin-value= is refused");
    refused("pkcs11:pin-value=1;object=a", "pin-value= is refused");
    /* The PIN is never repeated in the error detail. */
    struct fwt_p11_uri u;
    assert_int_equal(fwt_p11_uri_parse("pkcs11:object=a?pin-value=98765", &u), FWT_E_ARG);
    assert_null(strstr(fwt_detail(), "98765"));
}

static void test_duplicates(void **state)
{
    (void)state;
    refused("pkcs11:token=a;token=b", "token= appears more than once");
    refused("pkcs11:token=a;token=a", "token= appears more than once");
    refused("pkcs11:id=%01;object=x;id=%02", "id= appears more than once");
    refused("pkcs11:object=a?pin-source=/x&pin-source=/y", "pin-source= appears more than once");
    refused("pkcs11:object=a?module-path=/x&module-path=/x", "module-path= appears more than once");
}

static void test_unknown_and_misplaced(void **state)
{
    (void)state;
    refused("pkcs11:foo=bar", "unknown attribute 'foo'");
    refused("pkcs11:x-vendor=1", "unknown attribute 'x-vendor'");
    refused("pkcs11:Token=a", "unknown attribute 'Token'"); /* names are case-sensitive */
    refused("pkcs11:object=a?foo=bar", "unknown attribute 'foo'");
    refused("pkcs11:object=a?token=b", "token= belongs in the path");
    refused("pkcs11:pin-source=/p;object=a", "pin-source= belongs in the query");
    refused("pkcs11:module-path=/m.so", "module-path= belongs in the query");
    refused("pkcs11:object", "attribute object has no '='");
    refused("pkcs11:=abc", "unknown attribute '(empty name)'");
    refused("pkcs11:ob%6aect=a", "unusual characters");
}

static void test_empty(void **state)
{
    (void)state;
    refused("pkcs11:;", "empty attribute in the path");
    refused("pkcs11:object=a;", "a stray ';'");
    refused("pkcs11:object=a;;token=b", "empty attribute in the path");
    refused("pkcs11:object=a?pin-source=/x&", "empty attribute in the query");
    refused("pkcs11:object=", "object= has an empty value");
    refused("pkcs11:id=", "id= has an empty value");
    refused("pkcs11:object=a?module-name=", "module-name= has an empty value");
}

static void test_field_lengths(void **state)
{
    (void)state;
    struct fwt_p11_uri u;
    parsed("pkcs11:token=12345678901234567890123456789012", &u); /* 32: the label field */
    fwt_p11_uri_free(&u);
    refused("pkcs11:token=123456789012345678901234567890123", "token= is 33 bytes long");
    parsed("pkcs11:serial=1234567890123456;model=1234567890123456", &u);
    fwt_p11_uri_free(&u);
    refused("pkcs11:serial=12345678901234567", "at most 16");
    refused("pkcs11:model=12345678901234567", "model= is 17 bytes");
    /* Length counts decoded bytes: 11 x "%41" is 11 bytes, not 33. */
    parsed("pkcs11:serial=%41%41%41%41%41%41%41%41%41%41%41", &u);
    assert_string_equal(u.serial, "AAAAAAAAAAA");
    fwt_p11_uri_free(&u);
    /* Whole-URI cap. */
    size_t n = FWT_P11_URI_MAX + 10;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memcpy(big, "pkcs11:object=", 14);
    memset(big + 14, 'a', n - 14);
    big[n] = 0;
    refused(big, "longer than 4096 bytes");
    big[FWT_P11_URI_MAX] = 0; /* exactly the cap */
    parsed(big, &u);
    assert_int_equal(strlen(u.object), FWT_P11_URI_MAX - 14);
    fwt_p11_uri_free(&u);
    free(big);
}

static void test_numbers(void **state)
{
    (void)state;
    struct fwt_p11_uri u;
    parsed("pkcs11:slot-id=0", &u);
    assert_int_equal(u.has_slot_id, 1);
    assert_int_equal(u.slot_id, 0);
    fwt_p11_uri_free(&u);
    parsed("pkcs11:slot-id=18446744073709551615", &u);
    assert_true(u.slot_id == (unsigned long)-1);
    fwt_p11_uri_free(&u);
    refused("pkcs11:slot-id=18446744073709551616", "slot-id= must be a decimal number");
    refused("pkcs11:slot-id=0x10", "slot-id= must be a decimal number");
    refused("pkcs11:slot-id=-1", "slot-id= must be a decimal number");
    refused("pkcs11:slot-id=1%20", "slot-id= must be a decimal number");
    refused("pkcs11:library-version=1.", "library-version= must be MAJOR or MAJOR.MINOR");
    refused("pkcs11:library-version=.1", "library-version=");
    refused("pkcs11:library-version=1.2.3", "library-version=");
    refused("pkcs11:library-version=256", "numbers 0-255");
    refused("pkcs11:library-version=v2", "library-version=");
}

static void test_type(void **state)
{
    (void)state;
    refused("pkcs11:object=a;type=cert", "type=cert names no key pair");
    refused("pkcs11:object=a;type=secret-key", "names no key pair");
    refused("pkcs11:object=a;type=data", "names no key pair");
    refused("pkcs11:object=a;type=Private", "type= must be private, public");
    refused("pkcs11:object=a;type=key", "type= must be");
}

static void test_pin_source(void **state)
{
    (void)state;
    struct fwt_p11_uri u;
    parsed("pkcs11:object=a?pin-source=pin.txt", &u); /* relative path: from the cwd */
    assert_string_equal(u.pin_source, "pin.txt");
    fwt_p11_uri_free(&u);
    parsed("pkcs11:object=a?pin-source=file:///etc/token%20pin", &u);
    assert_string_equal(u.pin_source, "/etc/token pin");
    fwt_p11_uri_free(&u);
    parsed("pkcs11:object=a?pin-source=file:/etc/pin", &u);
    assert_string_equal(u.pin_source, "/etc/pin");
    fwt_p11_uri_free(&u);
    parsed("pkcs11:object=a?pin-source=FILE://localhost/etc/pin", &u);
    assert_string_equal(u.pin_source, "/etc/pin");
    fwt_p11_uri_free(&u);
    refused("pkcs11:object=a?pin-source=file://host/etc/pin", "another host");
    refused("pkcs11:object=a?pin-source=file:pin", "needs an absolute path");
    refused("pkcs11:object=a?pin-source=|/bin/get-pin", "pin-source=|PROGRAM is not supported");
    refused("pkcs11:object=a?pin-source=%7C/bin/get-pin", "PROGRAM is not supported");
}

static void test_module(void **state)
{
    (void)state;
    struct fwt_p11_uri u;
    parsed("pkcs11:object=a?module-name=opensc-pkcs11", &u);
    assert_string_equal(u.module_name, "opensc-pkcs11");
    fwt_p11_uri_free(&u);
    parsed("pkcs11:object=a?module-name=lib.so_1+2", &u);
    fwt_p11_uri_free(&u);
    refused("pkcs11:object=a?module-name=../x", "module-name= is a library name");
    refused("pkcs11:object=a?module-name=a/b", "module-name= is a library name");
    refused("pkcs11:object=a?module-name=.hidden", "must not start with '.'");
    refused("pkcs11:object=a?module-name=a~b", "module-name= is a library name");
    refused("pkcs11:object=a?module-path=lib/x.so", "module-path= must be an absolute path");
}

static void test_not_a_uri(void **state)
{
    (void)state;
    refused("key.pem", "not a PKCS#11 URI");
    refused("", "not a PKCS#11 URI");
    refused(NULL, "not a PKCS#11 URI");
    assert_int_equal(fwt_p11_uri_parse("pkcs11:", NULL), FWT_E_ARG);
    fwt_p11_uri_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_uri),          cmocka_unit_test(test_basic),
        cmocka_unit_test(test_all_attributes),  cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_bad_percent),     cmocka_unit_test(test_must_encode),
        cmocka_unit_test(test_control_chars),   cmocka_unit_test(test_pin_value_refused),
        cmocka_unit_test(test_duplicates),      cmocka_unit_test(test_unknown_and_misplaced),
        cmocka_unit_test(test_empty),           cmocka_unit_test(test_field_lengths),
        cmocka_unit_test(test_numbers),         cmocka_unit_test(test_type),
        cmocka_unit_test(test_pin_source),      cmocka_unit_test(test_module),
        cmocka_unit_test(test_not_a_uri),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
