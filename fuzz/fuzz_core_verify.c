/*
 * libFuzzer: arbitrary bytes as an image for fwt_image_parse, fwt_image_verify
 * and fwt_image_verify_prehashed (with the digest the mock backend computes
 * over the bytes, the two verifies must agree), and fwt_image_verify_fih (the
 * same decision as a fault-injection-hardened verdict).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_core_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > UINT32_MAX) {
        return 0;
    }
    /* The work buffer is exactly FWT_WORK_MIN on the heap: ASan sees any overrun. */
    uint8_t *work = malloc(FWT_WORK_MIN);
    if (!work) {
        return 0;
    }
    struct mem_io mio;
    mem_io_init(&mio, data, (uint32_t)size);
    struct fwt_image_info info;
    fwt_err pe = fwt_image_parse(&mio.io, work, FWT_WORK_MIN, &info);
    if (pe == FWT_OK && (info.total_size > size || info.unprot_off > info.total_size)) {
        abort(); /* parse must never describe bytes beyond the input */
    }
    struct fuzz_keys fk;
    struct fwt_policy p;
    fuzz_policy(&fk, &p, size ? data[size - 1] : 0);
    struct fwt_crypto_ops ops;
    struct mock_crypto mc;
    mock_ops(&ops, &mc);
    fwt_err ve = fwt_image_verify(&mio.io, &ops, &p, work, FWT_WORK_MIN, &info);
    if (ve == FWT_OK && pe != FWT_OK) {
        abort(); /* verify accepted what parse refused: the two must agree */
    }
    if (ve == FWT_OK && (info.n_signers < p.threshold || info.n_signers > FWT_MAX_SIGNERS)) {
        abort();
    }
    /* Accepted: distinct trust anchors (not keys) meet the threshold, by the rule a caller's
     * second check applies; never more anchors than signers. */
    if (ve == FWT_OK && (info.n_anchors < p.threshold || info.n_anchors > info.n_signers ||
                         fwt_policy_threshold_met(&p, &info) != FWT_OK)) {
        abort();
    }
    /* The hardened entry point decides exactly alike, with the same reason. */
    volatile fwt_fih check = 0;
    fwt_err reason = FWT_E_INTERNAL;
    struct fwt_image_info fi;
    fwt_fih verdict =
        fwt_image_verify_fih(&mio.io, &ops, &p, work, FWT_WORK_MIN, &fi, &check, &reason);
    if (reason != ve || (ve == FWT_OK) != (FWT_FIH_VERDICT_OK(verdict, check) != 0) ||
        (ve != FWT_OK && verdict != FWT_FIH_FAILURE)) {
        abort();
    }
    /* The caller's digest of [0, unprot_off), as a streaming installer has it. */
    struct fwt_image_info pi;
    if (pe == FWT_OK && info.hash_alg != FWT_HASH_NONE && info.digest_len > 0) {
        uint8_t dig[FWT_DIGEST_MAX];
        mock_hash(info.hash_alg, data, info.unprot_off, dig, info.digest_len);
        fwt_err he = fwt_image_verify_prehashed(&mio.io, &ops, &p, info.hash_alg, dig,
                                                info.digest_len, work, FWT_WORK_MIN, &pi);
        if ((he == FWT_OK) != (ve == FWT_OK)) {
            abort(); /* the same bytes, the same digest: the same decision */
        }
        if (he == FWT_OK && (pi.n_signers != info.n_signers || pi.n_anchors != info.n_anchors ||
                             pi.total_size != info.total_size)) {
            abort();
        }
    }
    free(work);
    return 0;
}
