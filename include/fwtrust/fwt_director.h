/*
 * The Uptane director's metadata (docs/fleet-protocol.md, "Director metadata"):
 * a TUF repository per device, rooted in one director root. The fleet server
 * (fwtrust-server) stores and serves what these functions make; the device's
 * TUF client reads it like any repository. Every file is TUF's envelope
 * {"signed": ..., "signatures": [...]} signed over the canonical JSON of
 * "signed" (the TUF module's encoder) and written as compact JSON.
 *
 * Hosted C; library fwt_tuf_repo. Keys: struct repo_key (<fwtrust/fwt_repo.h>).
 */
#ifndef FWT_DIRECTOR_H
#define FWT_DIRECTOR_H

#include <fwtrust/fwt_repo.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The image this device should install now, as the image repository describes it. */
struct fwt_director_target {
    const char *name;       /* the image repository's target name */
    uint64_t length;
    const char *sha256;     /* 64 lower-case hex digits */
    const char *device_id;
    const char *hardware_id;
    uint64_t release_counter;
};

/*
 * root.json: the root key (kept offline after `fwtrust-server init`) and the
 * online targets, snapshot and timestamp keys, each role threshold 1;
 * consistent_snapshot false (the device fetches ROLE.json by name). root must
 * hold its private half.
 */
FWT_MUST_CHECK fwt_err fwt_director_root(const struct repo_key *root, const struct repo_key *targets,
                                         const struct repo_key *snapshot,
                                         const struct repo_key *timestamp, uint64_t version,
                                         time_t expires, char **out, size_t *len);
/*
 * root.json as fwt_director_root makes it, signed by each of signers[0..n_signers)
 * (distinct keys, private halves present): a rotation (TUF 1.0 section 5.3.4) signs
 * version N+1 with the root key of version N and with its own new root key, so a device
 * trusting N accepts N+1 and N+1 verifies by itself.
 */
FWT_MUST_CHECK fwt_err fwt_director_root_signed(const struct repo_key *root,
                                                const struct repo_key *targets,
                                                const struct repo_key *snapshot,
                                                const struct repo_key *timestamp, uint64_t version,
                                                time_t expires, const struct repo_key *const *signers,
                                                size_t n_signers, char **out, size_t *len);
/* targets.json naming t (NULL: nothing to install), with custom {device_id, hardware_id,
 * release_counter}. */
FWT_MUST_CHECK fwt_err fwt_director_targets(const struct repo_key *key,
                                            const struct fwt_director_target *t, uint64_t version,
                                            time_t expires, char **out, size_t *len);
/* snapshot.json: targets.json at targets_version. */
FWT_MUST_CHECK fwt_err fwt_director_snapshot(const struct repo_key *key, uint64_t targets_version,
                                             uint64_t version, time_t expires, char **out,
                                             size_t *len);
/* timestamp.json: snapshot.json (its bytes: length and SHA-256) at snapshot_version. */
FWT_MUST_CHECK fwt_err fwt_director_timestamp(const struct repo_key *key, const uint8_t *snapshot,
                                              size_t snapshot_len, uint64_t snapshot_version,
                                              uint64_t version, time_t expires, char **out,
                                              size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* FWT_DIRECTOR_H */
