/*
 * libFuzzer target: the trial outcome record (outcome.c): the last outcome and
 * the releases that failed their trial. Any bytes decode or are refused; an
 * accepted payload re-encodes to exactly the same bytes (one encoding per
 * state), and the lookup of a failed release stays within its count.
 */
#include "agent/agent_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fwt_agent_outcome o;
    uint8_t p[FWT_OUTCOME_SIZE], q[FWT_OUTCOME_SIZE];
    uint64_t seq;
    const uint8_t *payload = NULL;
    if (fwt_rec_decode(data, size, FWT_REC_KIND_OUTCOME, p, sizeof(p), &seq) == FWT_OK) {
        payload = p;
    } else if (size >= FWT_OUTCOME_SIZE) {
        payload = data; /* the payload decoder on raw bytes too (the checksum hides it) */
    }
    if (payload && fwt_outcome_decode(payload, &o) == FWT_OK) {
        fwt_outcome_encode(&o, q);
        if (memcmp(payload, q, sizeof(q)) != 0 || o.n_failed > FWT_AGENT_FAILED_MAX) {
            abort();
        }
        for (size_t i = 0; i < o.n_failed; i++) {
            if (fwt_agent_outcome_failed(&o, o.failed[i].digest, o.failed[i].digest_len) == NULL) {
                abort();
            }
        }
    }
    return 0;
}
