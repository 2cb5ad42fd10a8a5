/*
 * libFuzzer target: the redundant state records (boot control and
 * anti-rollback). Any bytes decode or are refused; an accepted record
 * re-encodes to exactly the same bytes (no two encodings of one state).
 */
#include "agent/agent_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t p[FWT_BOOTCTL_SIZE], again[FWT_REC_HDR + FWT_BOOTCTL_SIZE + 32];
    uint64_t seq;
    if (fwt_rec_decode(data, size, FWT_REC_KIND_BOOTCTL, p, FWT_BOOTCTL_SIZE, &seq) == FWT_OK) {
        struct fwt_bootctl bc;
        if (fwt_bootctl_decode(p, &bc) == FWT_OK) {
            uint8_t q[FWT_BOOTCTL_SIZE];
            fwt_bootctl_encode(&bc, q);
            if (memcmp(p, q, sizeof(q)) != 0) {
                abort();
            }
        }
        fwt_rec_encode(FWT_REC_KIND_BOOTCTL, seq, p, FWT_BOOTCTL_SIZE, again);
        if (size != sizeof(again) || memcmp(again, data, size) != 0) {
            abort();
        }
    }
    uint8_t r[FWT_ROLLBACK_SIZE];
    if (fwt_rec_decode(data, size, FWT_REC_KIND_ROLLBACK, r, FWT_ROLLBACK_SIZE, &seq) == FWT_OK) {
        struct fwt_rollback_state st;
        if (fwt_rollback_decode(r, &st) == FWT_OK) {
            uint8_t q[FWT_ROLLBACK_SIZE];
            fwt_rollback_encode(&st, q);
            if (memcmp(r, q, sizeof(q)) != 0) {
                abort();
            }
        }
    }
    /* The payload decoders on raw bytes too (the checksum hides them from the fuzzer). */
    if (size >= FWT_BOOTCTL_SIZE) {
        struct fwt_bootctl bc;
        if (fwt_bootctl_decode(data, &bc) == FWT_OK) {
            uint8_t q[FWT_BOOTCTL_SIZE];
            fwt_bootctl_encode(&bc, q);
            if (memcmp(data, q, sizeof(q)) != 0) {
                abort();
            }
        }
    }
    if (size >= FWT_ROLLBACK_SIZE) {
        struct fwt_rollback_state st;
        (void)fwt_rollback_decode(data, &st);
    }
    return 0;
}
