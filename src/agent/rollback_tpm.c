/*
 * The anti-rollback minimums in TPM NV counters ([device] rollback = tpm;
 * fwt_rollback_tpm_backend in fwt_agent.h, fwt_tpm_nv_* in fwt_tpm.h).
 */
#include "agent_internal.h"

#include <fwtrust/fwt_tpm.h>

#include <stdlib.h>
#include <string.h>

#define RAISE_STEPS_MAX 100000U /* increments one raise may take */

struct tpm_rb {
    char *spec;
};

static fwt_err tb_read(void *ctx, struct fwt_rollback_state *st)
{
    struct tpm_rb *b = ctx;
    fwt_tpm *t = NULL;
    uint64_t v[2];
    fwt_err err = fwt_tpm_open(b->spec, NULL, &t);
    if (err == FWT_OK) {
        err = fwt_tpm_nv_read(t, v);
    }
    fwt_tpm_close(t);
    if (err == FWT_OK) {
        st->min_security_counter = (uint32_t)v[0];
        st->min_key_version = (uint32_t)v[1];
    }
    return err;
}

static fwt_err tb_raise(void *ctx, const struct fwt_rollback_state *want)
{
    struct tpm_rb *b = ctx;
    fwt_tpm *t = NULL;
    uint64_t v[2];
    const uint64_t to[2] = {want->min_security_counter, want->min_key_version};
    fwt_err err = fwt_tpm_open(b->spec, NULL, &t);
    if (err == FWT_OK) {
        err = fwt_tpm_nv_read(t, v);
    }
    for (int i = 0; i < 2 && err == FWT_OK; i++) {
        if (to[i] > v[i] && to[i] - v[i] > RAISE_STEPS_MAX) {
            err = fwt_fail(FWT_E_ARG, "raising a TPM counter by %llu (at most %u per raise: "
                           "one NV write each)", (unsigned long long)(to[i] - v[i]),
                           RAISE_STEPS_MAX);
        }
        while (err == FWT_OK && v[i] < to[i]) {
            fwt_f_point(); /* a power cut between increments: a value in between */
            if ((err = fwt_tpm_nv_increment(t, i)) == FWT_OK) {
                v[i]++;
            }
        }
    }
    fwt_tpm_close(t);
    return err;
}

static void tb_close(void *ctx)
{
    struct tpm_rb *b = ctx;
    if (b) {
        free(b->spec);
        free(b);
    }
}

fwt_err fwt_rollback_tpm_backend(const char *tpm, const char *dir, int writable,
                                 struct fwt_rollback_backend *out)
{
    memset(out, 0, sizeof(*out));
    struct tpm_rb *b = calloc(1, sizeof(*b));
    if (!b || !(b->spec = strdup(tpm))) {
        free(b);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_tpm *t = NULL;
    int provisioned = 0;
    fwt_err err = FWT_OK;
    if (!writable) {
        goto done; /* readers only read (fwt_tpm_nv_read refuses unprovisioned counters) */
    }
    err = fwt_tpm_open(tpm, NULL, &t);
    if (err == FWT_OK) {
        err = fwt_tpm_nv_provisioned(t, &provisioned);
    }
    if (err == FWT_OK && !provisioned) {
        /* Take over the file backend's minimums (switching never lowers one): they must be
         * readable until the provisioning, resumed after a cut, completes. */
        struct fwt_rollback_backend fb;
        struct fwt_rollback_state fs;
        if ((err = fwt_rollback_file_backend(dir, &fb)) == FWT_OK) {
            err = fb.read(fb.ctx, &fs);
            fb.close(fb.ctx);
        }
        if (err == FWT_OK) {
            const uint64_t initial[2] = {fs.min_security_counter, fs.min_key_version};
            err = fwt_tpm_nv_provision(t, initial);
        } else {
            err = fwt_fail(err, "taking the minimums over into the TPM: %s", fwt_detail());
        }
    }
    fwt_tpm_close(t);
done:
    if (err != FWT_OK) {
        tb_close(b);
        return err;
    }
    out->ctx = b;
    out->read = tb_read;
    out->raise = tb_raise;
    out->close = tb_close;
    return FWT_OK;
}
