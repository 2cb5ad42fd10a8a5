/*
 * libFuzzer target: the target description (custom.fwtrust) reader,
 * fwt_target_desc_parse (src/tuf/target_desc.c), which the device's update
 * and `fwtrust repo add-target` (encoded targets) both use. Each input is
 * accepted or refused with a reason; an accepted one, written again by the
 * writer and read back, gives the same description (the writer and the reader
 * agree on every field).
 */
#include <fwtrust/fwt_target_desc.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        return 0;
    }
    struct fwt_target_desc d, e;
    char why[128];
    fwt_err err = fwt_target_desc_parse(j, &d, why, sizeof(why));
    json_decref(j);
    if (err != FWT_OK) {
        if (err != FWT_E_META || why[0] == '\0') {
            abort();
        }
        return 0;
    }
    json_t *again = fwt_target_desc_to_json(&d);
    if (!again) {
        return 0; /* out of memory */
    }
    err = fwt_target_desc_parse(again, &e, why, sizeof(why));
    json_decref(again);
    if (err != FWT_OK || memcmp(&d, &e, sizeof(d)) != 0) {
        abort();
    }
    return 0;
}
