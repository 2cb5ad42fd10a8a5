/*
 * Fuzz the attestation documents (typed JSON with hex fields) and the catalog
 * parser.
 */
#include <fwtrust/fwt_attest.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fwt_attest_doc *d = NULL;
    if (fwt_attest_doc_parse((const char *)data, size, NULL, &d) == FWT_OK) {
        static const char *const fields[] = {"quote", "signature", "eventlog", "ak_public",
                                             "ek_public", "credential", "pcr8"};
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            uint8_t *b = NULL;
            size_t n = 0;
            if (fwt_attest_doc_get_hex(d, fields[i], 1U << 20, &b, &n) == FWT_OK) {
                free(b);
            }
        }
        int64_t v;
        (void)fwt_attest_doc_get_int(d, "activated", 0, &v);
        char *out = NULL;
        if (fwt_attest_doc_dump(d, &out) == FWT_OK) {
            free(out);
        }
        fwt_attest_doc_free(d);
    }
    struct fwt_attest_image *imgs = NULL;
    size_t n = 0;
    if (fwt_attest_catalog_parse((const char *)data, size, &imgs, &n) == FWT_OK) {
        for (size_t i = 0; i < n; i++) {
            if (imgs[i].digest_len > sizeof(imgs[i].digest) || !imgs[i].name) {
                abort();
            }
        }
        free(imgs);
    }
    return 0;
}
