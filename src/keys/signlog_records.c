/*
 * Every record of a signing log, after checking the whole log against a key
 * pinned outside it (fwt_signlog_verify): what a verifier builds its catalog of
 * signed images from (`fwtrust attest catalog`, the fleet server's attest.json
 * "signlog"; docs/attestation.md).
 */
#include "keys_priv.h"

#include <stdlib.h>
#include <string.h>

fwt_err fwt_signlog_records(const char *path, const fwt_pubkey *pub, struct fwt_signlog_record **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    fwt_signlog *log = NULL;
    uint64_t size = 0;
    fwt_err err = fwt_signlog_open(path, 0, &log);
    if (err == FWT_OK && (err = fwt_signlog_verify(log, pub, NULL, NULL)) == FWT_OK) {
        err = fwt_signlog_size(log, &size);
    }
    if (err == FWT_OK && size > (uint64_t)SIZE_MAX / sizeof(struct fwt_signlog_record)) {
        err = fwt_fail(FWT_E_TOO_LARGE, "%s: %llu entries", path, (unsigned long long)size);
    }
    struct fwt_signlog_record *v = NULL;
    if (err == FWT_OK && size && (v = calloc((size_t)size, sizeof(*v))) == NULL) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    size_t k = 0; /* records; events (approvals, fleet admin actions) sign no image */
    for (uint64_t i = 0; err == FWT_OK && i < size; i++) {
        char *text = NULL;
        size_t tl = 0;
        struct fwt_signlog_event ev;
        if ((err = fwt_signlog_entry(log, i, &text, &tl)) == FWT_OK) {
            err = fwt_signlog_record_parse((const uint8_t *)text, tl, &v[k]);
            if (err == FWT_OK) {
                k++;
            } else if (fwt_signlog_event_parse((const uint8_t *)text, tl, &ev) == FWT_OK) {
                err = FWT_OK;
            }
        }
        free(text);
    }
    fwt_signlog_close(log);
    if (err != FWT_OK) {
        free(v);
        return err;
    }
    *out = v;
    *n = k;
    return FWT_OK;
}
