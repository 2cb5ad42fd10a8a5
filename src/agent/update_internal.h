/*
 * The network update (update.c) and the decoder of encoded targets (delta.c):
 * internal API of the device agent, used by fwtrust-agent's `update` command
 * and the tests.
 */
#ifndef FWT_UPDATE_INTERNAL_H
#define FWT_UPDATE_INTERNAL_H

#include "fwt_util.h"

#include <fwtrust/fwt_agent.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- Streaming decoder of encoded images (delta.c) ----
 *
 * Takes the bytes of an encoded target (src/agent/delta_format.h) as they
 * arrive, skips the describing header, decodes the one zstd frame (with the
 * base image as reference prefix for a patch) and hands the image bytes to
 * sink as they come out. Memory: the decoder's window (at most 8 MiB for a
 * compressed image or a bsdiff patch, FWT_ENC_PATCH_WINDOWLOG_MAX for a
 * prefix patch) and three 128 KiB buffers; never the whole image. Output beyond max_out is FWT_E_TOO_LARGE.
 */
typedef fwt_err (*fwt_dec_sink)(void *ctx, const uint8_t *data, size_t len);
typedef struct fwt_dec fwt_dec;

enum fwt_dec_method {
    FWT_DEC_PLAIN = 0,  /* "zstd": the frame holds the image */
    FWT_DEC_PREFIX = 1, /* "zstd-patch": base is the frame's reference prefix */
    FWT_DEC_BSDIFF = 2  /* "zstd-bsdiff": the frame holds records applied to base */
};
/* base: the base image of a patch (must stay mapped until fwt_dec_free), NULL for PLAIN. */
FWT_MUST_CHECK fwt_err fwt_dec_new(enum fwt_dec_method method, const uint8_t *base,
                                   size_t base_len, uint64_t max_out, fwt_dec_sink sink,
                                   void *sink_ctx, fwt_dec **out);
FWT_MUST_CHECK fwt_err fwt_dec_feed(fwt_dec *d, const uint8_t *in, size_t len);
/* End of input: the frame must be complete (FWT_E_MALFORMED otherwise); the last staged
 * output goes to the sink. Output reaches the sink in chunks of up to 128 KiB. */
FWT_MUST_CHECK fwt_err fwt_dec_end(fwt_dec *d);
uint64_t fwt_dec_out(const fwt_dec *d);
void fwt_dec_free(fwt_dec *d);

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
