/* docs/image-format.md's TLV table agrees with fwt_image.h (parsed, both ways). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust.h>

#define C(x) {#x, x, 0}
static struct {
    const char *name;
    unsigned value;
    int seen;
} k_consts[] = {
    C(FWT_TLV_KEYHASH),     C(FWT_TLV_PUBKEY),       C(FWT_TLV_SHA256),
    C(FWT_TLV_SHA384),      C(FWT_TLV_SHA512),       C(FWT_TLV_RSA2048_PSS),
    C(FWT_TLV_ECDSA224),    C(FWT_TLV_ECDSA_SIG),    C(FWT_TLV_RSA3072_PSS),
    C(FWT_TLV_ED25519),     C(FWT_TLV_SIG_PURE),     C(FWT_TLV_DEPENDENCY),
    C(FWT_TLV_ENC_RSA2048), C(FWT_TLV_ENC_KW),       C(FWT_TLV_ENC_EC256),
    C(FWT_TLV_ENC_X25519),  C(FWT_TLV_ENC_X25519_SHA512),
    C(FWT_TLV_SEC_CNT),     C(FWT_TLV_BOOT_RECORD),  C(FWT_TLV_FORMAT),
    C(FWT_TLV_HW_ID),       C(FWT_TLV_PROVENANCE),   C(FWT_TLV_CERT),
};
#undef C
#define N_CONSTS (sizeof(k_consts) / sizeof(k_consts[0]))

static void test_tlv_table_matches_header(void **state)
{
    (void)state;
    FILE *f = fopen(FWT_DOCS_DIR "/image-format.md", "r");
    assert_non_null(f);
    char line[1024];
    int rows = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned type;
        char name[128];
        /* rows look like: | 0x0010 | FWT_TLV_SHA256 | area | length | meaning | */
        if (sscanf(line, "| 0x%x | %127[A-Z0-9_] |", &type, name) != 2) {
            continue;
        }
        rows++;
        size_t i;
        for (i = 0; i < N_CONSTS; i++) {
            if (strcmp(k_consts[i].name, name) == 0) {
                break;
            }
        }
        if (i == N_CONSTS) {
            fail_msg("docs/image-format.md names %s, which fwt_image.h does not define", name);
        }
        if (k_consts[i].value != type) {
            fail_msg("docs/image-format.md: %s is 0x%04x, fwt_image.h says 0x%04x", name, type,
                     k_consts[i].value);
        }
        if (k_consts[i].seen++) {
            fail_msg("docs/image-format.md lists %s twice", name);
        }
    }
    fclose(f);
    for (size_t i = 0; i < N_CONSTS; i++) {
        if (!k_consts[i].seen) {
            fail_msg("docs/image-format.md's TLV table lacks %s", k_consts[i].name);
        }
    }
    assert_int_equal(rows, (int)N_CONSTS);
    /* the vendor range: every fwtrust TLV lies inside it */
    assert_true(FWT_TLV_FORMAT >= FWT_TLV_VENDOR_FIRST && FWT_TLV_CERT <= FWT_TLV_VENDOR_LAST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlv_table_matches_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
