/*
 * The network update (update.c): internal API of the device agent, used by
 * fwtrust-agent's `update` command and the tests. Encoded targets are decoded
 * with the delta engine's streaming decoder (<fwtrust/fwt_delta.h>).
 */
#ifndef FWT_UPDATE_INTERNAL_H
#define FWT_UPDATE_INTERNAL_H

#include <fwtrust/fwt_util.h>

#include <fwtrust/fwt_agent.h>
#include <fwtrust/fwt_delta.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- The update (update.c) ---- */

struct fwt_agent_update_opts {
    const char *target;  /* a target name, or NULL: the newest suitable one */
    int no_delta;        /* never use a patch */
    int check_only;      /* choose and report, download nothing */
    int force;           /* offer releases that rolled back on this device too */
    time_t fixed_now;    /* nonzero: TUF expiry against this time (tests) */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
};

struct fwt_agent_update_result {
    char target[512];          /* the target installed (or chosen, check_only) */
    const char *encoding;      /* "none", "zstd" or "zstd-patch" */
    uint64_t downloaded;       /* bytes fetched (the target's length) */
    uint64_t image_length;     /* bytes written to the slot */
    char version[48];          /* the new image's version */
    int had_running;           /* an image ran before */
    char running_version[48];
    int delta_skipped;         /* a patch for the image existed but did not fit */
    char note[256];            /* why (delta skipped), or "" */
    struct fwt_agent_image img; /* the installed image (not check_only) */
};

/*
 * TUF refresh, choose, download into the inactive slot through the install
 * API (decoding on the fly), verify, mark for trial. The device must be open
 * (exclusive). FWT_E_NO_UPDATE when nothing newer is published.
 */
FWT_MUST_CHECK fwt_err fwt_agent_update(fwt_agent *dev, const struct fwt_agent_update_opts *opts,
                                        struct fwt_agent_update_result *res);

/*
 * Read a target's description (custom.fwtrust: encoding, version, counter,
 * hardware id, digests, base) as the update does: FWT_OK when it is an
 * fwtrust image the update can use, FWT_E_META with why filled otherwise.
 */
FWT_MUST_CHECK fwt_err fwt_update_check_target(const struct fwt_tuf_target *t, char *why,
                                               size_t why_len);

/* The `update` subcommand: fwt_agent_update_main() in fwt_agent.h. */

#endif /* FWT_UPDATE_INTERNAL_H */
