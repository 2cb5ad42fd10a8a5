/*
 * The network update (update.c): internal API of the device agent, used by
 * the tests and the fuzz targets (the update itself, fwt_agent_update(), is
 * public in <fwtrust/fwt_agent.h>). Encoded targets are decoded
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

/*
 * Read a target's description (custom.fwtrust: encoding, version, counter,
 * hardware id, digests, base) as the update does: FWT_OK when it is an
 * fwtrust image the update can use, FWT_E_META with why filled otherwise.
 */
FWT_MUST_CHECK fwt_err fwt_update_check_target(const struct fwt_tuf_target *t, char *why,
                                               size_t why_len);

#endif /* FWT_UPDATE_INTERNAL_H */
