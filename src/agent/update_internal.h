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
#include <fwtrust/fwt_fleet.h>

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

/* ---- Uptane full verification (fleet.c) ---- */

/* The director's choice, after its chain verified and its fields matched this device. */
struct fwt_agent_director_pick {
    char name[FWT_FLEET_NAME_MAX + 1];
    uint64_t length;
    char sha256[65];
    char sha512[129];
    int has_sha512;
    uint64_t release_counter;
    uint64_t director_version;
};

/*
 * Refresh the director's metadata (o->director; its root installed on first
 * use) and read its one target: custom device_id and hardware_id this
 * device's, release counter not below the installed one. FWT_E_NO_UPDATE when
 * it assigns nothing. Every refusal sets res->refused and names the cause.
 */
FWT_MUST_CHECK fwt_err fwt_agent_director_refresh(fwt_agent *dev, const struct fwt_agent_update_opts *o,
                                                  struct fwt_agent_update_result *res,
                                                  struct fwt_agent_director_pick *pick);
/* A director target's custom, strictly: exactly device_id (fwt_fleet_device_id_valid),
 * hardware_id (1..64 printable bytes), release_counter (0..2^53-1). FWT_E_META otherwise. */
struct fwt_agent_director_custom {
    char device_id[FWT_FLEET_ID_MAX + 1];
    char hardware_id[FWT_FLEET_ID_MAX + 1];
    uint64_t release_counter;
};
FWT_MUST_CHECK fwt_err fwt_agent_director_custom_parse(const char *custom_json, struct fwt_agent_director_custom *out);

/* The image repository (refreshed) lists pick's name with the same length and hashes. */
FWT_MUST_CHECK fwt_err fwt_agent_director_match(fwt_tuf_client *image, const struct fwt_agent_director_pick *pick,
                                                struct fwt_agent_update_result *res);
/* Record the release counter and director version of an install (after it succeeded). */
FWT_MUST_CHECK fwt_err fwt_agent_fleet_note_install(fwt_agent *dev, uint64_t release_counter,
                                                    uint64_t director_version);

/* Record the target name of an install and its image's SHA-256 (an enrolled device: the
 * manifest names the slot holding that image). */
FWT_MUST_CHECK fwt_err fwt_agent_fleet_note_target(fwt_agent *dev, const char *name, const uint8_t sha256[32]);

#endif /* FWT_UPDATE_INTERNAL_H */
