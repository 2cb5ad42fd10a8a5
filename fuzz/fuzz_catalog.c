/*
 * libFuzzer target: the catalog annotations file reader (fwt_catalog_load,
 * src/keys/catalog.c) and, on what it accepts, an annotation written back and read
 * again (fwt_catalog_annotate keeps the file readable). Each input is accepted or
 * refused with a reason.
 */
#include <fwtrust/fwt_keys.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/fuzz_catalog.%ld.json", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) {
        return 0;
    }
    size_t w = fwrite(data, 1, size, f);
    fclose(f);
    if (w != size) {
        unlink(path);
        return 0;
    }
    json_t *a = NULL;
    fwt_err e = fwt_catalog_load(path, &a);
    if (e != FWT_OK) {
        if (e != FWT_E_MALFORMED || fwt_detail()[0] == 0) {
            abort();
        }
        unlink(path);
        return 0;
    }
    json_decref(a);
    static const char dg[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    if (fwt_catalog_annotate(path, dg, 1, "fuzz", "CVE-0000-0001", "low", NULL) == FWT_OK) {
        if (fwt_catalog_load(path, &a) != FWT_OK) {
            abort(); /* an annotated file must read back */
        }
        json_t *img = json_object_get(json_object_get(a, "images"), dg);
        if (!json_is_true(json_object_get(img, "withdrawn"))) {
            abort();
        }
        json_decref(a);
    }
    unlink(path);
    return 0;
}
