/*
 * Fuzz the attestation documents (typed JSON with hex fields), the catalog
 * parser, and the catalog builder's reading of TUF targets metadata (a catalog it
 * builds must parse back).
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
    /* the same bytes as TUF targets metadata for the catalog builder, with and without a log */
    const char *texts[1] = {(const char *)data};
    size_t lens[1] = {size};
    struct fwt_attest_signed lg = {{0}, 32, {0}};
    char *cat = NULL;
    for (int use_log = 0; use_log < 2; use_log++) {
        if (fwt_attest_catalog_build(texts, lens, 1, &lg, 1, use_log, &cat) == FWT_OK) {
            struct fwt_attest_image *back = NULL;
            size_t nb = 0;
            /* what the builder writes, the parser reads */
            if (fwt_attest_catalog_parse(cat, strlen(cat), &back, &nb) != FWT_OK) {
                abort();
            }
            free(back);
            free(cat);
            cat = NULL;
        }
    }
    return 0;
}
