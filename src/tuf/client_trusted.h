/*
 * fwtrust TUF client, internal: the trusted metadata and its state machine
 * (client_trusted.c), in the manner of python-tuf's TrustedMetadataSet. Pure
 * functions over byte buffers and a reference time: no file, network or clock.
 * The updater (client.c) fetches and persists; these decide what is trusted.
 *
 * Each update_* parses and verifies one file against the trusted set (tuf-spec
 * section 5) and on success makes it trusted; on failure the trusted set is
 * unchanged. The caller sets ref (the update's reference time) before updating.
 */
#ifndef FWT_TUF_CLIENT_TRUSTED_H
#define FWT_TUF_CLIENT_TRUSTED_H

#include "tuf_meta.h"

struct tuf_loaded_role {
    char *name;
    char *parent; /* the delegator it was verified against */
    struct tuf_md *md;
};

struct tuf_trusted {
    struct tuf_md *root, *ts, *snap, *targets;
    struct tuf_loaded_role *dr; /* delegated roles loaded so far */
    size_t ndr, capdr;
    time_t ref; /* reference time: metadata expiring at or before it is refused */
};

/* Frees everything trusted; t is left empty. */
void tuf_trusted_free(struct tuf_trusted *t);
/* Replace *slot by m (freeing the old one; m may be NULL). */
void tuf_trusted_set(struct tuf_md **slot, struct tuf_md *m);
/* Drop targets and every delegated role. */
void tuf_trusted_forget_targets(struct tuf_trusted *t);
/* A loaded targets role ("targets" or delegated), or NULL; via: only as verified through parent. */
struct tuf_md *tuf_trusted_role(const struct tuf_trusted *t, const char *role);
struct tuf_md *tuf_trusted_role_via(const struct tuf_trusted *t, const char *role, const char *parent);
/* FWT_E_META_EXPIRED when m expires at or before t->ref. */
FWT_MUST_CHECK fwt_err tuf_trusted_check_expiry(const struct tuf_trusted *t, const struct tuf_md *m,
                                                const char *what);

/* A root signed by a threshold of its own root keys (the initial trusted root, 5.2). */
FWT_MUST_CHECK fwt_err tuf_trusted_load_root(const uint8_t *buf, size_t len, struct tuf_md **out);
/* 5.3.3 - 5.3.5: root version want (trusted + 1), signed by the trusted and by its own root
 * thresholds. *same: the file holds the trusted version again (discarded). */
FWT_MUST_CHECK fwt_err tuf_trusted_update_root(struct tuf_trusted *t, const uint8_t *buf, size_t len,
                                               int64_t want, int *same);
/* 5.4: timestamp (root must not be expired). *equal: same version as the trusted one (kept). */
fwt_err tuf_trusted_update_timestamp(struct tuf_trusted *t, const uint8_t *buf, size_t len, const char *what,
                                     int *equal);
const json_t *tuf_trusted_snapshot_meta(const struct tuf_trusted *t);
FWT_MUST_CHECK fwt_err tuf_trusted_final_timestamp(const struct tuf_trusted *t);
/* 5.5: snapshot. from_disk: the local copy (its bytes are not checked against the timestamp). */
FWT_MUST_CHECK fwt_err tuf_trusted_update_snapshot(struct tuf_trusted *t, const uint8_t *buf, size_t len,
                                                   const char *what, int from_disk);
FWT_MUST_CHECK fwt_err tuf_trusted_final_snapshot(const struct tuf_trusted *t);
/* 5.6: a targets role, top-level (parent "root") or delegated by the loaded role parent. */
FWT_MUST_CHECK fwt_err tuf_trusted_update_targets(struct tuf_trusted *t, const uint8_t *buf, size_t len,
                                                  const char *role, const char *parent, const char *what);

#endif
