/* fwtrust fleet server, internal: the image repository check of a rollout's target (imagerepo.c). */
#ifndef FWT_SRV_IMAGEREPO_H
#define FWT_SRV_IMAGEREPO_H

#include "srv.h"

#include <fwtrust/fwt_tuf.h>

/* With an image repository configured (fwt_srv_image_repo_set): refresh it (TUF, verified) and
 * require target listed with this length and SHA-256, for hardware hw. FWT_OK without one.
 * *n_signers: the distinct keys whose image signatures the target description records as
 * verified (verified_signers; 0 when it records none), -1 without an image repository. */
FWT_MUST_CHECK fwt_err srv_image_repo_check(fwt_srv *s, const char *target, uint64_t length, const char *sha256,
                                            const char *hw, int *n_signers);

/* With an image repository configured: a TUF client of it, refreshed (verified), in *c, and its
 * metadata URL in *url (both the caller's); *c NULL and FWT_OK without one. The verified
 * metadata is in DIR/image-repo/metadata/ (targets.json: the published targets). */
FWT_MUST_CHECK fwt_err srv_image_repo_open(fwt_srv *s, fwt_tuf_client **c, char **url);

#endif /* FWT_SRV_IMAGEREPO_H */
