/*
 * fwtrust TUF client: The Update Framework 1.0 client workflow
 * (theupdateframework/specification tuf-spec.md, section 5, in its order).
 *
 * Hosted C (libcurl, jansson, OpenSSL through fwt_crypto). A client works on a
 * metadata directory that holds the trusted metadata as unversioned files
 * (root.json, timestamp.json, snapshot.json, targets.json, and one file per
 * delegated role, its name percent-encoded: NAME.json), each the exact bytes
 * received, written atomically and only after they verified. Beside them the
 * file "time-floor" keeps the persisted time floor (see fwt_tuf_client_opts).
 *
 * Every function returns FWT_OK or an fwt_err with a detail (fwt_detail())
 * naming the cause: FWT_E_META (malformed / wrong type), FWT_E_META_SIG
 * (threshold not met), FWT_E_META_EXPIRED, FWT_E_META_ROLLBACK,
 * FWT_E_META_MISMATCH (length, hash or version differs from the referencing
 * role), FWT_E_NETWORK (transport, HTTP status), FWT_E_TOO_LARGE (a download
 * ran past its cap, or a referrer gives a length above the limit;
 * fwt_tuf_limits), FWT_E_NOT_FOUND (no such target), FWT_E_IO, FWT_E_NOMEM.
 *
 * Not thread-safe: one client per thread.
 */
#ifndef FWT_TUF_H
#define FWT_TUF_H

#if !defined(FWTRUST_INSIDE_FWTRUST_H) && !defined(FWTRUST_INTERNAL)
#error "include <fwtrust/fwtrust_host.h>, not this header"
#endif

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Transport (libcurl): http, https and file:// URLs. No request is ever retried. */
struct fwt_tuf_transport {
    const char *ca_file;       /* PEM CA bundle for https; NULL: the system default */
    const char *pinned_pubkey; /* "sha256//BASE64[;sha256//...]" or a PEM/DER file (CURLOPT_PINNEDPUBLICKEY); NULL: none */
    const char *client_cert;   /* PEM client certificate for mutual TLS, or NULL */
    const char *client_key;    /* its PEM private key (NULL: in client_cert) */
    long connect_timeout_s;    /* 0: 30 s */
    long timeout_s;            /* whole transfer of one file; 0: 300 s */
    long low_speed_limit;      /* bytes per second (slow retrieval); 0: 1024 */
    long low_speed_time_s;     /* ... for this long aborts the transfer; 0: 30 s */
    /* TLS session resumption with a client certificate (NULL: none): the session of the
     * last connection, kept in this file (0600, bound to the client certificate file) and
     * offered at the next; *tls_resumed (may be NULL) gets 1 when a handshake resumed. */
    const char *tls_session_file;
    int *tls_resumed;
};

/* Default download caps of metadata files, in bytes (python-tuf's defaults). */
#define FWT_TUF_DEFAULT_MAX_ROOT_SIZE 512000u
#define FWT_TUF_DEFAULT_MAX_TIMESTAMP_SIZE 16384u
#define FWT_TUF_DEFAULT_MAX_SNAPSHOT_SIZE 2000000u
#define FWT_TUF_DEFAULT_MAX_TARGETS_SIZE 5000000u

/*
 * Size caps and bounds (0: the default in brackets). Every metadata download
 * stops as soon as the body runs past its cap (FWT_E_TOO_LARGE). A snapshot
 * or targets role whose referrer gives a length is capped at that length, and
 * a length above the limit is refused before anything is fetched.
 */
struct fwt_tuf_limits {
    uint64_t max_root_size;      /* [512000] a root file (also fwt_tuf_init's input, via the CLI) */
    uint64_t max_timestamp_size; /* [16384] timestamp.json */
    uint64_t max_snapshot_size;  /* [2000000] snapshot.json */
    uint64_t max_targets_size;   /* [5000000] targets.json and each delegated targets role */
    unsigned max_root_rotations; /* [32] new root versions fetched in one refresh */
    unsigned max_delegations;    /* [32] targets roles visited in one target search */
};

struct fwt_tuf_client_opts {
    const char *metadata_dir; /* required: holds root.json at least (fwt_tuf_init) */
    const char *metadata_url; /* base URL of the metadata ("/" appended if missing) */
    const char *targets_url;  /* base URL of target files; NULL: no downloads */
    struct fwt_tuf_transport transport;
    struct fwt_tuf_limits limits;
    /*
     * Time. Expiry is checked against one time fixed at the start of each
     * refresh: max(clock, time floor). The time floor is the clock at the start
     * of the last successful refresh, persisted in METADATA_DIR/time-floor; so
     * a device whose clock is reset to an earlier time still refuses metadata
     * that had expired by then. The floor only moves forward, and only after a
     * refresh succeeded (every trusted role unexpired at that time), so a clock
     * that ran ahead fails the refresh and cannot poison the floor.
     */
    time_t fixed_now;            /* nonzero: use this instead of the clock (tests) */
    int no_time_floor;           /* 1: neither read nor write the floor */
    const char *time_floor_path; /* where the floor is kept; NULL: METADATA_DIR/time-floor */
    /* Download progress (target files only); may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
};

typedef struct fwt_tuf_client fwt_tuf_client;

/*
 * Install the initial trusted root: data must be root metadata signed by a
 * threshold of its own root keys; written to METADATA_DIR/root.json as given
 * (atomically; the directory is created if missing). Existing timestamp,
 * snapshot and targets files are left alone (a later refresh checks them).
 *
 * A trusted root already there is never silently replaced by one that is not
 * newer: the same bytes again is FWT_OK (nothing written); a higher version
 * replaces it; an older version is FWT_E_META_ROLLBACK, the same version with
 * other bytes FWT_E_META_MISMATCH, a root.json that is not root metadata
 * FWT_E_STATE, unless flags has FWT_TUF_INIT_REPLACE. Nothing is written on
 * failure. fwt_tuf_init is fwt_tuf_init_flags with flags 0.
 */
#define FWT_TUF_INIT_REPLACE 1u /* replace a trusted root of any version (re-provisioning) */
FWT_MUST_CHECK fwt_err fwt_tuf_init(const char *metadata_dir, const uint8_t *root, size_t len);
FWT_MUST_CHECK fwt_err fwt_tuf_init_flags(const char *metadata_dir, const uint8_t *root, size_t len,
                                          unsigned flags);

/* Open a client: loads and checks the trusted root (no network). */
FWT_MUST_CHECK fwt_err fwt_tuf_client_open(const struct fwt_tuf_client_opts *opts, fwt_tuf_client **out);
void fwt_tuf_client_free(fwt_tuf_client *c);

/*
 * The top-level update (spec 5.1 to 5.6.6): root chain one version at a time,
 * timestamp, snapshot, targets; each verified, then persisted. Fails closed:
 * on any error the trusted files are those of the last successful step, and
 * nothing that failed verification is written.
 */
FWT_MUST_CHECK fwt_err fwt_tuf_refresh(fwt_tuf_client *c);
/*
 * The root part of that update alone (spec 5.3, with 5.3.10 and 5.3.11): each
 * newer N.root.json in turn, verified by a threshold of the trusted root's keys
 * and of its own, exactly one version newer, persisted; a rotation of the
 * timestamp or snapshot keys deletes their trusted files. For a client told a
 * newer root exists (the fleet server's check-in answer) without a full refresh.
 * fwt_tuf_role_version(c, "root") gives the trusted version after it.
 */
FWT_MUST_CHECK fwt_err fwt_tuf_refresh_root(fwt_tuf_client *c);

/* A target as the trusted metadata describes it. Valid until the next call on the client. */
struct fwt_tuf_target {
    const char *name;        /* target path */
    const char *role;        /* role that listed it ("targets" or a delegated role) */
    uint64_t length;
    const char *sha256;      /* lower-case hex, or NULL when the role gave none */
    const char *sha512;      /* lower-case hex, or NULL */
    const char *custom_json; /* compact JSON text of "custom", or NULL */
};

/*
 * Look a target up (refreshes first if this client has not refreshed): a
 * pre-order depth-first search of the delegations (spec 5.6.7), loading
 * delegated roles as needed (verified and persisted like the top-level ones),
 * bounded by limits.max_delegations. FWT_E_NOT_FOUND when no trusted role
 * lists it for its delegated paths.
 */
FWT_MUST_CHECK fwt_err fwt_tuf_get_target(fwt_tuf_client *c, const char *name, struct fwt_tuf_target *out);

/*
 * Every target the trusted metadata delivers, each resolved as
 * fwt_tuf_get_target would resolve it (so a delegated role cannot list a
 * path it was not delegated). Loads every reachable delegated role. cb
 * returns 0 to go on, nonzero to stop (fwt_tuf_list_targets then returns FWT_OK).
 */
typedef int (*fwt_tuf_target_cb)(void *ctx, const struct fwt_tuf_target *t);
FWT_MUST_CHECK fwt_err fwt_tuf_list_targets(fwt_tuf_client *c, fwt_tuf_target_cb cb, void *ctx);

/*
 * The targets whose names match pattern (a path pattern as delegations use:
 * '/'-separated parts, the same number in the name, each a shell glob, as in
 * "board/fw-?.*"), each resolved as fwt_tuf_get_target would. Loads only the
 * roles that can hold such a name, walking the delegations in the search's
 * order (pre-order, depth first): a delegation is followed when its paths may
 * match a name of the pattern (path_hash_prefixes and hash bins always may),
 * and a terminating one that certainly covers every such name ends the walk
 * after its subtree. So a role that cannot hold these targets, expired or
 * badly signed, never stops the listing; one that can hold them and does not
 * verify fails it (fail closed).
 */
FWT_MUST_CHECK fwt_err fwt_tuf_list_targets_matching(fwt_tuf_client *c, const char *pattern,
                                                     fwt_tuf_target_cb cb, void *ctx);

/*
 * Download a target (from fwt_tuf_get_target / list): at most t->length bytes
 * are accepted (a longer body aborts the transfer), then the length and every
 * hash the metadata gives are checked. The bytes stream to write() as they
 * arrive and are UNVERIFIED until this returns FWT_OK: the caller must stage
 * them and commit nothing unless it does (on failure it gets FWT_E_TOO_LARGE,
 * FWT_E_META_MISMATCH, FWT_E_NETWORK, ...). write returns 0, nonzero to abort
 * (FWT_E_IO). With consistent snapshots the file fetched is DIR/HASH.BASENAME.
 */
typedef int (*fwt_tuf_write_cb)(void *ctx, const uint8_t *data, size_t len);
FWT_MUST_CHECK fwt_err fwt_tuf_download(fwt_tuf_client *c, const struct fwt_tuf_target *t,
                                        fwt_tuf_write_cb write, void *ctx);

/*
 * Download a target into a file: written to a temporary file beside path,
 * verified, then renamed over path (fsync'ed); path is untouched on failure.
 * If path already holds bytes of the right length and hashes, nothing is
 * fetched (*cached = 1; cached may be NULL).
 */
FWT_MUST_CHECK fwt_err fwt_tuf_download_file(fwt_tuf_client *c, const struct fwt_tuf_target *t,
                                             const char *path, int *cached);

/* Version of a trusted role (0 when none is loaded). */
uint64_t fwt_tuf_role_version(const fwt_tuf_client *c, const char *role);
/* Expiry of a trusted role (0 when none is loaded). */
time_t fwt_tuf_role_expires(const fwt_tuf_client *c, const char *role);

/*
 * One HTTP(S) POST of a JSON body with t's TLS settings (CA file, pinned key,
 * client certificate), no redirects, the same time limits as downloads: for
 * the fleet's device API (docs/fleet-protocol.md), which shares this
 * transport. The answer is taken whatever its HTTP status (*status): *resp
 * (NUL-terminated, free()) holds its body, at most cap bytes (a longer one:
 * FWT_E_TOO_LARGE). FWT_E_NETWORK when no answer came (connect, TLS, timeout).
 */
FWT_MUST_CHECK fwt_err fwt_http_post_json(const struct fwt_tuf_transport *t, const char *url, const char *body,
                                          size_t len, uint64_t cap, uint8_t **resp, size_t *resp_len,
                                          long *status);

/* Percent-encode a role or target name as file names and URLs use it (every byte
 * but A-Z a-z 0-9 - . _ ~ becomes %XX). Caller frees; NULL when out of memory. */
char *fwt_tuf_quote(const char *name);

/*
 * Where a target is stored under dir: dir/NAME percent-encoded (the conformance
 * protocol's file name; flags 0), or with FWT_TUF_PATH_PLAIN under its plain
 * name, dir/hw/fw.bin for "hw/fw.bin", the directories above it created. A
 * plain name must be relative, without empty, "." or ".." components,
 * backslashes or control characters (FWT_E_ARG names the part): it never
 * leaves dir. *path is malloc'ed.
 */
#define FWT_TUF_PATH_PLAIN 1u
FWT_MUST_CHECK fwt_err fwt_tuf_target_path(const char *dir, const char *name, unsigned flags, char **path);

/*
 * One-signature envelopes for documents that are not TUF metadata (attestation
 * records, fleet reports): {"signed": DOC, "signatures": [{"keyid", "sig"}]},
 * the signature over the canonical JSON of DOC (the metadata's encoder), keyid
 * the TUF key id of the key. Library fwt_tuf_meta.
 * sign: signed_json is a JSON object; *out (malloc'd) is the envelope.
 * verify: exactly one signature, by key (FWT_E_UNKNOWN_KEY for another key id,
 * FWT_E_SIGNATURE for a bad signature, FWT_E_META for a malformed envelope);
 * *signed_out (malloc'd) is DOC.
 */
FWT_MUST_CHECK fwt_err fwt_tuf_envelope_sign(const char *signed_json, size_t len,
                                             fwt_privkey *key, char **out);
FWT_MUST_CHECK fwt_err fwt_tuf_envelope_verify(const char *env_json, size_t len,
                                               const fwt_pubkey *key, char **signed_out);

#ifdef __cplusplus
}
#endif

#endif /* FWT_TUF_H */
