/*
 * fwtrust device agent: a device with A/B slots, boot control, anti-rollback
 * state, an audit log, and the streaming install every installer uses (the
 * local `fwtrust-agent install`, and the network `update`).
 *
 * A device is a directory DIR holding (docs/agent.md):
 *   DIR/device.ini            configuration (INI): hardware id, slots, trust anchors, update source
 *   DIR/bootctl.0, bootctl.1  boot control, two redundant checksummed copies
 *   DIR/rollback.0, .1        anti-rollback minimums (file backend of fwt_rollback_backend)
 *   DIR/audit.log             JSON lines, each carrying the SHA-256 of the line before
 *   DIR/eventlog.jsonl, pcr   measured boot (written by fwtrust-boot)
 *   DIR/keys/                 the trust anchors, copied in by init
 *   DIR/tuf/                  free for the TUF client's trusted metadata
 *   DIR/lock                  flock(2) lock: one agent (or bootloader) at a time
 *
 * Every state write is power-fail safe: a torn or corrupt copy is detected
 * and ignored. Nothing here ever writes the running slot. Every image is
 * judged by the verifier core (fwt_image_verify, directly or through
 * fwt_verify_file).
 *
 * Hosted C. Include <fwtrust/fwtrust_host.h> (or <fwtrust/fwt_util.h> first,
 * which defines FWTRUST_INTERNAL), then this header. Library: fwt_agent.
 *
 * Stability: the declarations below are the interface other modules build
 * on (the network update in src/agent/update.c); they only grow.
 */
#ifndef FWT_AGENT_H
#define FWT_AGENT_H

#if !defined(FWTRUST_INSIDE_FWTRUST_H) && !defined(FWTRUST_INTERNAL)
#error "include <fwtrust/fwtrust_host.h> (or <fwtrust/fwt_util.h> before this header)"
#endif

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FWT_AGENT_CONFIG_NAME "device.ini"
#define FWT_AGENT_MAX_ANCHORS 8U   /* trust keys, and root keys, each */
#define FWT_AGENT_DEFAULT_TRIES 3U /* boots a trial image gets before it rolls back */
#define FWT_AGENT_MAX_TRIES 100U
#define FWT_AGENT_TARGETS_MAX 512U /* bytes of the [update] targets pattern */

/* Slot numbers. */
enum fwt_agent_slot { FWT_SLOT_A = 0, FWT_SLOT_B = 1, FWT_SLOT_NONE = 0xff };

/* 'a', 'b' or '-' for FWT_SLOT_NONE. */
char fwt_agent_slot_char(enum fwt_agent_slot s);

/*
 * The device configuration, as read from DIR/device.ini. Paths are absolute
 * (relative ones in the file are taken relative to DIR). Optional strings are
 * NULL when not configured.
 */
#define FWT_AGENT_MAX_IMAGES 8U /* other images a device can declare ([images]) */

struct fwt_agent_config {
    char *dir;                       /* the device directory (absolute) */
    char *hw_id;                     /* hardware id (1..64 bytes, printable) */
    char *slot_path[2];              /* slot A, slot B: regular files or block devices */
    uint64_t slot_size;              /* bytes an image may use in a slot; 0 = no limit for files,
                                        the device size for block devices */
    uint32_t tries;                  /* boots a trial image gets (default 3) */
    int readback_full;               /* [slots] readback = full: FWT_AGENT_INSTALL_READBACK_FULL
                                        for every install (default: metadata) */
    char *keys[FWT_AGENT_MAX_ANCHORS]; /* trusted image signing keys (PEM public keys) */
    size_t n_keys;
    char *roots[FWT_AGENT_MAX_ANCHORS]; /* trusted certificate roots (fwt_cert.h) */
    size_t n_roots;
    uint32_t threshold;              /* distinct valid signatures required (default 1) */
    /* [update]: for the network update (TUF). */
    char *tuf_root;                  /* trusted TUF root.json (initial root of trust) */
    char *repo_url;                  /* repository base URL */
    char *tls_ca;                    /* CA bundle or pinned server certificate (PEM) */
    char *tls_client_cert;           /* client certificate (PEM) for mutual TLS */
    char *tls_client_key;            /* its private key (PEM) */
    char *tls_pinned_pubkey;         /* curl CURLOPT_PINNEDPUBLICKEY: "sha256//BASE64;..." or file */
    char *targets;                   /* [update] targets: the path pattern of this device's
                                        targets (fwt_tuf_list_targets_matching); NULL: every
                                        target, every delegated role must then load */
    int rollback_tpm;                /* [device] rollback = tpm: the anti-rollback minimums
                                        in TPM NV counters (needs tpm); default file */
    char *tpm;                       /* [device] tpm: the TPM 2.0 for measured boot and
                                        attestation (fwt_tpm_open spec), NULL: none (the
                                        file register only, lower assurance) */
    /* [revocation]: the signed revocation list (docs/provenance.md). */
    char *revocation_keys[FWT_AGENT_MAX_ANCHORS]; /* PEM public keys that sign revocation lists */
    size_t n_revocation_keys;
    uint32_t revocation_threshold;   /* distinct revocation keys required (default 1) */
    char *revocation_target;         /* TUF target name of the list (default
                                        FWT_AGENT_REVOCATION_TARGET); fetched at each update */
    uint64_t decode_window;          /* [update] decode_window = BYTES: the largest decoding
                                        window (zstd window, LZMA2 dictionary) a patch or
                                        compressed image may need (0: the decoder's maxima);
                                        larger ones are refused (fwt_dec_set_max_window) */
    int require_provenance;          /* [update] require_provenance = yes: every image must bind
                                        a provenance envelope (FWT_TLV_PROVENANCE); update fetches
                                        the repository's bound envelope and compares its SHA-256 */
    /* [images]: the other images of a multi-image device (an application and a
     * network core...), each an agent device directory of its own: image id
     * other_ids[i] is managed in other_dirs[i]. An image's DEPENDENCY TLVs
     * are checked against them before it is installed. */
    uint8_t other_ids[FWT_AGENT_MAX_IMAGES];
    char *other_dirs[FWT_AGENT_MAX_IMAGES];
    size_t n_others;
    char *decrypt_key;               /* [decrypt] key: the device's image decryption key
                                        (fwt_enckey_load: X25519/P-256/RSA-2048 PEM or an
                                        AES-KW base64 file); NULL: encrypted images refused */
    /* [fleet]: the fleet server (docs/fleet-protocol.md), written by enroll; fleet_server
       NULL: no server, the device updates straight from the image repository. */
    char *fleet_server;              /* server base URL ("https://host:port") */
    char *fleet_device_id;           /* the device id the server gave at enrollment */
    char *fleet_serial;              /* this device's serial number */
    char *fleet_key;                 /* device private key (PEM file; a TPM key later) */
    char *fleet_cert;                /* device certificate (PEM), issued by the fleet CA */
    char *fleet_ca;                  /* the fleet CA (PEM): the server must chain to it */
    char *fleet_director_root;       /* the director's root.json trusted at enrollment */
    uint32_t fleet_interval;         /* check-in interval in seconds (the server's; 0: 3600) */
    uint32_t fleet_jitter;           /* up to this many seconds added at random (0: none) */
};

#define FWT_AGENT_REVOCATION_TARGET "revocation.json"
#define FWT_AGENT_REVOCATION_MAX (1024U * 1024U) /* bytes of a revocation list envelope */

typedef struct fwt_agent fwt_agent;
typedef struct fwt_agent_install fwt_agent_install;

/* ---- Creating a device ---- */

struct fwt_agent_init_opts {
    const char *hw_id;                    /* required */
    const char *slot_path[2];             /* required; regular files are created when absent */
    uint64_t slot_size;                   /* 0: see fwt_agent_config.slot_size */
    uint32_t tries;                       /* 0: FWT_AGENT_DEFAULT_TRIES */
    int readback_full;                    /* fwt_agent_config.readback_full */
    const char *keys[FWT_AGENT_MAX_ANCHORS]; /* PEM public (or private) keys; copied as public */
    size_t n_keys;
    const char *roots[FWT_AGENT_MAX_ANCHORS];
    size_t n_roots;
    uint32_t threshold;                   /* 0: 1 */
    uint32_t min_security_counter;        /* initial anti-rollback minimums (factory) */
    uint32_t min_key_version;
    const char *tuf_root;                 /* copied to DIR/tuf-root.json */
    const char *repo_url;
    const char *tls_ca, *tls_client_cert, *tls_client_key; /* copied into DIR/tls/ */
    const char *tls_pinned_pubkey;
    const char *targets;                  /* fwt_agent_config.targets, or NULL */
    const char *revocation_keys[FWT_AGENT_MAX_ANCHORS]; /* copied into DIR/keys/ as public */
    size_t n_revocation_keys;
    uint32_t revocation_threshold;        /* 0: 1 */
    const char *revocation_target;        /* NULL: FWT_AGENT_REVOCATION_TARGET */
    int require_provenance;               /* fwt_agent_config.require_provenance */
};

/*
 * Create the device directory DIR (it may exist but must not hold a
 * device.ini: FWT_E_IO "already initialised"). A device without any key or
 * root is created (so it can be provisioned later) but refuses every image
 * with FWT_E_NO_TRUST.
 */
FWT_MUST_CHECK fwt_err fwt_agent_init(const char *dir, const struct fwt_agent_init_opts *opts);

/* ---- Opening ---- */

/*
 * Open the device in dir: read the configuration and state, take the lock.
 * A second opener gets FWT_E_LOCKED with a sentence naming the lock file.
 * Exclusive lock; a confirm interrupted by a power cut is completed here.
 */
FWT_MUST_CHECK fwt_err fwt_agent_open(const char *dir, fwt_agent **out);

#define FWT_AGENT_OPEN_READONLY 0x1U /* shared lock (readers only), no state repair */
#define FWT_AGENT_OPEN_NOWAIT 0x0U   /* (default) never block on the lock */
FWT_MUST_CHECK fwt_err fwt_agent_open_ex(const char *dir, unsigned flags, fwt_agent **out);

/* Release the lock and free everything. NULL is fine. */
void fwt_agent_close(fwt_agent *dev);

/* The configuration (owned by dev). */
const struct fwt_agent_config *fwt_agent_get_config(const fwt_agent *dev);

/* ---- What the device runs ---- */

/* A slot's image, as the verifier core accepted it. */
struct fwt_agent_image {
    enum fwt_agent_slot slot;
    const char *path; /* the slot's path (owned by dev) */
    struct fwt_version version;
    int has_security_counter;
    uint32_t security_counter;
    enum fwt_hash_alg hash_alg;
    uint8_t digest[FWT_DIGEST_MAX]; /* image digest (the hash TLV value) */
    size_t digest_len;
    uint32_t total_size;            /* bytes of the image from the slot's offset 0 */
    uint8_t signer_keyhash[FWT_KEYHASH_SIZE]; /* first valid signer */
    int has_cert;
    uint32_t key_version;           /* certificate key version (has_cert) */
    uint64_t cert_not_after;        /* earliest certificate expiry (has_cert; 0: none) */
    uint8_t hw_id[FWT_HW_ID_MAX];
    size_t hw_id_len;
};

/* Boot control and anti-rollback state. */
struct fwt_agent_status {
    enum fwt_agent_slot confirmed; /* the known-good slot (NONE on a new device) */
    enum fwt_agent_slot trial;     /* installed, waiting for boot + confirm (or NONE) */
    enum fwt_agent_slot booted;    /* what the bootloader last booted (NONE before the first boot) */
    enum fwt_agent_slot running;   /* booted, else confirmed */
    enum fwt_agent_slot inactive;  /* where the next install goes (NONE: none allowed now) */
    int booted_trial;              /* the last boot was a trial boot of `trial` */
    uint32_t tries_left;           /* trial boots left */
    int bad[2];                    /* slot failed verification / is being written */
    uint32_t boot_count;
    uint32_t min_security_counter;
    uint32_t min_key_version;
    int raise_pending;             /* confirm recorded, minimums not yet raised */
    uint64_t seq;                  /* boot control sequence number */
    int recorded[2];               /* the digest of the image installed in the slot is recorded */
    uint64_t time_floor;           /* certificate expiry is never judged before this time */
};
FWT_MUST_CHECK fwt_err fwt_agent_status_get(fwt_agent *dev, struct fwt_agent_status *st);

/*
 * Verify the image in a slot now, against the device's trust anchors, hw id
 * and stored minimums. FWT_E_NOT_FOUND for an empty slot, FWT_E_IO for a slot
 * path that is not there; otherwise the verifier's result, with fwt_detail()
 * naming the cause.
 */
FWT_MUST_CHECK fwt_err fwt_agent_verify_slot(fwt_agent *dev, enum fwt_agent_slot slot,
                                             struct fwt_agent_image *img);

/*
 * Is img (from fwt_agent_verify_slot) the image the agent installed in its
 * slot? FWT_OK; FWT_E_DIGEST when the slot now holds another image
 * (tampering); FWT_E_NOT_FOUND when no installed image is recorded there.
 */
FWT_MUST_CHECK fwt_err fwt_agent_slot_matches(fwt_agent *dev, enum fwt_agent_slot slot,
                                              const struct fwt_agent_image *img);

/* ---- Revocation list (src/agent/revocation.c, docs/provenance.md) ---- */

/*
 * Accept a signed revocation list (a DSSE envelope, fwt_revocation_open): signed
 * by [revocation] threshold distinct [revocation] keys, with a version above the
 * stored one (FWT_E_META_ROLLBACK for a lower one; the same version with the same
 * bytes is FWT_E_NO_UPDATE, with other bytes FWT_E_META_ROLLBACK). Stored
 * power-fail safe (the envelope under its digest, then a redundant record naming
 * version and digest), enforced from then on by every verification of the
 * device (install, update, verify-slots, and fwtrust-boot at the next boot).
 * FWT_E_NO_TRUST when the device trusts no revocation key. *version gets the
 * list's version (may be NULL).
 */
FWT_MUST_CHECK fwt_err fwt_agent_revocation_apply(fwt_agent *dev, const uint8_t *env,
                                                  size_t env_len, uint64_t *version);
/* The version of the stored list: 0 when none is stored. FWT_E_STATE when it is damaged. */
FWT_MUST_CHECK fwt_err fwt_agent_revocation_version(fwt_agent *dev, uint64_t *version);

/* The running image (verified): FWT_E_NOT_FOUND when nothing runs yet. */
FWT_MUST_CHECK fwt_err fwt_agent_running(fwt_agent *dev, struct fwt_agent_image *img);

/* ---- Installing (streaming) ---- */

/*
 * Start writing an image into the inactive slot. The slot is first marked
 * bad in boot control (never bootable while it is written). expected_len:
 * the exact image length when known (0 = unknown); above the slot size is
 * FWT_E_TOO_LARGE at once. Fails with FWT_E_NO_TRUST when the device has no
 * trust anchor, FWT_E_STATE when the running slot is itself on trial (confirm
 * or roll back first). Memory use is constant.
 */
#define FWT_AGENT_INSTALL_ALLOW_OLDER 0x1U /* accept a version older than the running image's
                                              (the security counter minimum still applies) */
#define FWT_AGENT_INSTALL_READBACK_FULL 0x2U /* after the fsync, read the whole slot back from
                                                the medium (page cache dropped) and hash it
                                                again; the default reads back the header and
                                                TLV areas only (readback = full in device.ini
                                                sets this for every install) */
FWT_MUST_CHECK fwt_err fwt_agent_install_begin(fwt_agent *dev, uint64_t expected_len,
                                               unsigned flags, fwt_agent_install **out);

/*
 * The image must bind exactly this provenance envelope (its SHA-256 in the protected
 * FWT_TLV_PROVENANCE): checked with the installed image's verification; a missing or
 * other digest is FWT_E_DIGEST. (Devices with require_provenance refuse images without
 * the TLV in any case.)
 */
void fwt_agent_install_expect_provenance(fwt_agent_install *inst, const uint8_t sha256[32]);

/* Where the image came from, for the audit log ("stdin", a path or URL). Optional. */
void fwt_agent_install_set_source(fwt_agent_install *inst, const char *source);

/* Append bytes: written to the slot and hashed (SHA-256) as written. */
FWT_MUST_CHECK fwt_err fwt_agent_install_write(fwt_agent_install *inst, const void *buf,
                                               size_t len);

/* Bytes written so far, and their SHA-256. */
uint64_t fwt_agent_install_written(const fwt_agent_install *inst);
FWT_MUST_CHECK fwt_err fwt_agent_install_sha256(const fwt_agent_install *inst, uint8_t out[32]);

/*
 * Finish: fsync the slot, read back its header and TLV areas and compare them
 * with the stream's (with READBACK_FULL, or for an image hashed with SHA-384:
 * every byte written), verify the slot with the verifier core, whose digest
 * is the one the stream computed as it was written (READBACK_FULL: its own
 * pass over the slot, which must agree)
 * (trust anchors, threshold, hw id, minimum security counter and key version;
 * the image must lie within the bytes written; with expected_len, exactly
 * that many bytes), refuse a security counter below the running image's and
 * (without ALLOW_OLDER) an older version; only then mark the slot for trial
 * with the configured tries. img (may be NULL) gets the image. Frees inst,
 * whatever the result; on failure the slot stays marked bad and the running
 * slot and boot choice are unchanged.
 */
FWT_MUST_CHECK fwt_err fwt_agent_install_finish(fwt_agent_install *inst,
                                                struct fwt_agent_image *img);

/* Give up (frees inst); the slot stays marked bad. NULL is fine. */
void fwt_agent_install_abort(fwt_agent_install *inst);

/* Install a whole file ("-" = standard input) through the calls above. */
/*
 * A set of images for a multi-image device: image_id -1 is for dev itself,
 * another id for the device [images] declares for it. The whole set is checked
 * first (each image's DEPENDENCY TLVs met by an image of the set or by what
 * that device runs next; ids declared and given once; no cycle): refused
 * before anything is installed. Then each is installed with
 * fwt_agent_install_file(flags) in an order that installs what an image
 * depends on before it, so no image ever goes on trial with an unmet
 * dependency. order[0..n) receives that order, *done how many were installed
 * (a failure stops there: those before it stay installed, each with its
 * dependencies met). At most FWT_AGENT_MAX_IMAGES + 1 items.
 */
struct fwt_agent_set_item {
    int image_id;
    const char *path;
};
FWT_MUST_CHECK fwt_err fwt_agent_install_set(fwt_agent *dev,
                                             const struct fwt_agent_set_item *items, size_t n,
                                             unsigned flags, size_t *order, size_t *done);

FWT_MUST_CHECK fwt_err fwt_agent_install_file(fwt_agent *dev, const char *path, unsigned flags,
                                              void (*progress)(void *ctx, uint64_t done,
                                                               uint64_t total),
                                              void *progress_ctx, struct fwt_agent_image *img);

/* ---- After the boot ---- */

/*
 * The trial slot booted (the bootloader recorded a trial boot of it): make it
 * confirmed, then raise the minimum security counter and key version to the
 * image's. FWT_E_NO_UPDATE when there is nothing to confirm.
 */
FWT_MUST_CHECK fwt_err fwt_agent_confirm(fwt_agent *dev, struct fwt_agent_image *img);

/*
 * Cancel a pending trial (the next boot takes the confirmed slot); with no
 * trial, make the other slot confirmed if it holds an image valid under the
 * current minimums. *next gets the slot the next boot will take.
 * FWT_E_NO_UPDATE when there is nothing to roll back to.
 */
FWT_MUST_CHECK fwt_err fwt_agent_rollback(fwt_agent *dev, enum fwt_agent_slot *next);

/* ---- Outcomes of trials (outcome.c) ----
 *
 * The device remembers how its last install ended and which releases failed
 * their trial (power-fail safe, DIR/outcome.0/.1), so that `update` does not
 * install a release again that already rolled back on it. A trial's end is
 * seen from boot control: the trial slot no longer on trial and not confirmed
 * while still holding the image means it rolled back (the bootloader used up
 * its tries or found it invalid, or `rollback` cancelled it).
 */
#define FWT_AGENT_FAILED_MAX 8U /* releases remembered as failed (the oldest is forgotten) */

enum fwt_agent_outcome_kind {
    FWT_OUTCOME_NONE = 0,        /* nothing installed yet (or the install did not complete) */
    FWT_OUTCOME_TRIAL = 1,       /* installed, on trial: waiting for boot and confirm */
    FWT_OUTCOME_CONFIRMED = 2,   /* the trial was confirmed */
    FWT_OUTCOME_ROLLED_BACK = 3, /* the trial ended without a confirm */
    FWT_OUTCOME_REFUSED = 4      /* the image was refused by the install's checks */
};
const char *fwt_agent_outcome_name(enum fwt_agent_outcome_kind k); /* "rolled_back", ... */

struct fwt_agent_release {
    struct fwt_version version;
    uint8_t digest[FWT_DIGEST_MAX]; /* the image digest (hash TLV); digest_len 0: unknown */
    size_t digest_len;
    uint64_t time;                  /* when the outcome was recorded (seconds since the epoch) */
};

struct fwt_agent_outcome {
    enum fwt_agent_outcome_kind last;
    enum fwt_agent_slot slot;        /* the slot of the last install */
    struct fwt_agent_release img;    /* the image it concerns */
    char reason[160];                /* why (rolled back, refused), printable ASCII */
    size_t n_failed;                 /* releases that failed their trial, newest first */
    struct fwt_agent_release failed[FWT_AGENT_FAILED_MAX];
};

/* The recorded outcome, brought up to date with boot control (nothing is written:
 * works on a device opened read-only). */
FWT_MUST_CHECK fwt_err fwt_agent_outcome_get(fwt_agent *dev, struct fwt_agent_outcome *out);
/* Did the release with this image digest fail its trial on this device? Its entry or NULL. */
const struct fwt_agent_release *fwt_agent_outcome_failed(const struct fwt_agent_outcome *o,
                                                         const uint8_t *digest, size_t len);

/* ---- Audit log ---- */

/* Append an event ("update", ...) with a sentence of detail. */
FWT_MUST_CHECK fwt_err fwt_agent_log_event(fwt_agent *dev, const char *event, const char *detail);

/*
 * Check the audit log's hash chain. *n_entries gets the entries; *torn gets 1
 * when the last line was cut short by a power failure (it is ignored, and
 * dropped by the next append). FWT_E_STATE names the first broken line.
 */
FWT_MUST_CHECK fwt_err fwt_agent_log_verify(fwt_agent *dev, uint64_t *n_entries, int *torn);
/*
 * The same, and against the log's anchor in the device state (entry count and
 * last entry's hash, written after each entry): fewer entries than anchored,
 * another last entry, junk after the last line: FWT_E_STATE (tampering).
 * *unanchored = 1 when the log holds exactly one entry past the anchor (a power
 * cut between the entry and its anchor; the next entry anchors it); *torn = 1
 * for a last line cut short (a prefix of an entry, ignored). fwt_agent_log_verify
 * checks the anchor too.
 */
FWT_MUST_CHECK fwt_err fwt_agent_log_verify_anchored(fwt_agent *dev, uint64_t *n_entries,
                                                     int *torn, int *unanchored);

/* One audit log entry (fwt_agent_log_read); the pointers live during the callback. */
struct fwt_agent_log_entry {
    uint64_t seq;       /* 1, 2, ... */
    uint64_t time;      /* seconds since 1970 (UTC) */
    const char *event;  /* "install", "confirm", ... */
    const char *detail; /* a sentence, printable ASCII */
    const char *line;   /* the entry as stored: one compact JSON object */
};
/*
 * Walk the audit log in order with the checks of fwt_agent_log_verify_anchored:
 * cb gets each entry after its line is checked against the hash chain (so a
 * tampered log yields the intact entries before the damage, then FWT_E_STATE
 * naming it). cb returning nonzero stops the walk with FWT_OK. *n_entries (may
 * be NULL) gets the entries passed to cb. A last line cut short is ignored.
 */
FWT_MUST_CHECK fwt_err fwt_agent_log_read(fwt_agent *dev,
                                          int (*cb)(void *ctx, const struct fwt_agent_log_entry *e),
                                          void *ctx, uint64_t *n_entries);

/* ---- Remote attestation with the device's TPM ([device] tpm; docs/attestation.md) ---- */

/*
 * Enrollment request: the EK certificate (from the TPM's NV), the EK's and
 * the AK's public areas, as an fwt_attest_doc of type "fwtrust-attest-enroll-request"
 * (*json malloc'd). FWT_E_ARG when no TPM is configured.
 */
FWT_MUST_CHECK fwt_err fwt_agent_attest_request(fwt_agent *dev, char **json);
/* Credential activation: the verifier's challenge in, the activation document
 * ("fwtrust-attest-activation", the recovered credential) out. FWT_E_SIGNATURE
 * when the TPM refuses the credential (not made for this TPM's EK and AK). */
FWT_MUST_CHECK fwt_err fwt_agent_attest_activate(fwt_agent *dev, const char *challenge,
                                                 size_t len, char **json);
/*
 * A quote with the verifier's nonce over PCRs 8, 9, 11 (SHA-256), the PCR
 * values and the TPM event log (DIR/tpm-eventlog.bin): "fwtrust-attest-evidence".
 * ak_label: NULL for the default AK.
 */
FWT_MUST_CHECK fwt_err fwt_agent_attest_quote(fwt_agent *dev, const uint8_t *nonce,
                                              size_t nonce_len, const char *ak_label,
                                              char **json);

/* ---- The reference bootloader (fwtrust-boot) ---- */

struct fwt_agent_boot_result {
    enum fwt_agent_slot slot; /* what was booted */
    int trial;                /* a trial boot */
    uint32_t tries_left;      /* after this boot */
    int rolled_back;          /* a trial ran out of tries and was abandoned */
    int fell_back;            /* the preferred slot failed verification */
    fwt_err failed[2];        /* verification result of each slot tried (FWT_OK: not tried/ok) */
    struct fwt_agent_image img;
    uint32_t boot_count;
    uint8_t pcr[32];          /* measurement register after this boot */
    int tpm_measured;         /* also measured into the TPM ([device] tpm): PCRs 8, 9, 11 and
                                 DIR/tpm-eventlog.bin (docs/attestation.md) */
    uint8_t tpm_pcrs[3][32];  /* the TPM's PCR 8, 9, 11 after the extends */
};

/*
 * Choose, verify and "boot" a slot (docs/bootloader.md): the trial slot while
 * it has tries (decremented before booting), else the confirmed one; a slot
 * whose image gets a verdict (20-33 but FWT_E_NO_TRUST, or empty) is marked
 * bad and the other is tried; other failures mark nothing. Extends the
 * measurement register and appends the event log. FWT_E_NO_BOOTABLE: no
 * valid slot, recovery needed. When nothing boots and a failure was not a
 * verdict, that error is returned and nothing is recorded.
 */
FWT_MUST_CHECK fwt_err fwt_agent_boot(fwt_agent *dev, struct fwt_agent_boot_result *res);

/* ---- The network update (src/agent/update.c) ---- */

/*
 * A director (Uptane, docs/fleet-protocol.md): a TUF repository of this
 * device's own that names the one image it should install. With a director,
 * fwt_agent_update performs Uptane full verification: the director's chain
 * first, then the image repository's, and installs only the director's target,
 * and only when the image repository lists it with the same length and hashes,
 * its custom names this device id and hardware id, and its release counter is
 * not below the installed one (fwt_agent_fleet_state).
 */
struct fwt_agent_director {
    const char *root;          /* the director root.json trusted at enrollment: installed into
                                  metadata_dir when that holds no root yet */
    const char *metadata_dir;  /* the trusted director metadata; NULL: DIR/director */
    const char *metadata_url;  /* base URL of the director's metadata (.../v1/director/) */
    const char *device_id;     /* this device's id in the fleet */
    struct fwt_tuf_transport transport; /* TLS to the director (the device certificate) */
};

struct fwt_agent_update_opts {
    const char *target;  /* a target name, or NULL: the newest suitable one */
    int no_delta;        /* never use a patch */
    int check_only;      /* choose and report, download nothing */
    int force;           /* offer releases that rolled back on this device too */
    time_t fixed_now;    /* nonzero: TUF expiry against this time (tests) */
    /* may be NULL: called as the download advances (total: the target's length);
     * the caller shows it (fwtrust-agent: on a terminal) */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
    const struct fwt_agent_director *director; /* NULL: choose from the image repository alone */
    /* may be NULL: called once the target is chosen and its download starts (state
     * FWT_FLEET_DOWNLOADING of fwt_fleet.h), so the caller can report it */
    void (*on_state)(void *ctx, int state, const char *target);
    void *state_ctx;
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
    int window_fallback;       /* the decoder refused a target for [update] decode_window (one
                                  declaring no decode_window) and the same image was fetched in
                                  another encoding (note names it) */
    struct fwt_agent_image img; /* the installed image (not check_only) */
    uint64_t revocation_version; /* the revocation list in force after the update (0: none) */
    int revocation_updated;      /* a newer list was fetched and stored by this update */
    /* With a director: */
    int refused;                /* a check refused the director's choice or its metadata (a
                                   report says "refused"; otherwise a failure is "failed") */
    uint64_t release_counter;   /* the director's release counter of the target */
    uint64_t director_version;  /* the version of the director's targets metadata */
};

/*
 * TUF refresh, choose, download into the inactive slot through the install
 * API (decoding on the fly), verify, mark for trial. The device must be open
 * (exclusive). FWT_E_NO_UPDATE when nothing newer is published.
 */
FWT_MUST_CHECK fwt_err fwt_agent_update(fwt_agent *dev, const struct fwt_agent_update_opts *opts,
                                        struct fwt_agent_update_result *res);

/* ---- Fleet state (src/agent/fleet.c) ----
 * Power-fail safe (DIR/fleet.0/.1, two checksummed copies). */
struct fwt_agent_fleet_state {
    uint64_t counter;          /* the last manifest/report counter given out */
    uint64_t release_counter;  /* release counter of the image installed through the director */
    uint64_t director_version; /* the director targets version of that install */
    char target[256];          /* the target last installed from a repository ("": none) ... */
    uint8_t target_sha256[32]; /* ... and the SHA-256 of its image: names a slot in manifests */
};
FWT_MUST_CHECK fwt_err fwt_agent_fleet_state_get(fwt_agent *dev, struct fwt_agent_fleet_state *st);
/*
 * The next counter of this device's manifests and reports: above every one
 * given out before and never below the clock in milliseconds (so a lost or
 * damaged record cannot make it repeat one), persisted before it is returned.
 */
FWT_MUST_CHECK fwt_err fwt_agent_fleet_next_counter(fwt_agent *dev, uint64_t *counter);

/* ---- The fleet server's device API (src/agent/fleet_client.c, docs/fleet-protocol.md) ---- */

struct fwt_agent_enroll_opts {
    const char *server;     /* base URL, "https://host:port" */
    const char *token_file; /* the one-time enrollment token (its first line) */
    const char *ca;         /* PEM CA the server's TLS certificate must chain to (copied in; the
                               device keeps verifying the server with it) */
    const char *serial;     /* this device's serial number (1..64 printable bytes); with a
                               factory certificate: its subject serialNumber (must match if given) */
    const char *factory_cert; /* instead of token_file: the manufacturer's certificate of this
                                 device (PEM, intermediates after it) */
    const char *factory_key;  /* its key: a PEM file or a pkcs11: URI (crypto layer) */
    const char *factory_pin_file; /* the token PIN for a pkcs11: factory key (may be NULL) */
};
struct fwt_agent_enroll_result {
    char device_id[65];
    int64_t cert_not_after; /* the certificate's expiry (seconds since 1970) */
    uint32_t interval, jitter;
};
/*
 * Enroll: create a device key (ECDSA P-256, DIR/fleet/device.key, through the
 * crypto layer), send a certificate request with the token, hardware id and
 * serial (POST /v1/enroll, the server checked against opts->ca) -- or, with a
 * factory certificate, with that certificate and a signature by its key over a
 * fresh server nonce, the request, hardware id and serial (POST
 * /v1/enroll/nonce, then /v1/enroll; fwt_fleet_factory_message) --, check the
 * certificate (this key, CN = the device id given), install the director root
 * as the trusted root of DIR/director (fwt_tuf_init checks its signatures),
 * and write [fleet] into device.ini. Nothing changes on failure (a previous
 * enrollment stays). The device must be open (exclusive).
 */
FWT_MUST_CHECK fwt_err fwt_agent_enroll(fwt_agent *dev, const struct fwt_agent_enroll_opts *o,
                                        struct fwt_agent_enroll_result *res);

struct fwt_agent_checkin_result {
    uint64_t counter;                 /* the manifest's counter */
    uint32_t interval, jitter;        /* the server's (kept in [fleet]) */
    int64_t renew_before;             /* renew the certificate from this time on */
    uint64_t director_version;        /* the server's director targets version for this device */
    uint64_t device_director_version; /* the device's trusted one when it checked in */
    int director_newer;               /* the server's is newer: 'update' (the director may assign
                                         a release; it refreshes the device's copy) */
    int renewed;                      /* the certificate was renewed during this check-in */
    int64_t cert_not_after;           /* the (new) certificate's expiry */
    uint64_t director_root_version;   /* the device's trusted director root after the check-in */
    int director_root_updated;        /* the server named a newer director root: the chain was
                                         walked (TUF 5.3, fwt_tuf_refresh_root) */
    int tls_resumed;                  /* the check-in resumed the TLS session of the last request
                                         (DIR/fleet/tls-session) rather than a full handshake */
};
/*
 * Check in: build the device manifest from the device state (slots: state,
 * length, SHA-256, version, counters; the last install's outcome; the measured
 * boot register and its event count; the audit log's anchor; the trusted
 * director version), with a fresh nonce and the next counter
 * (fwt_agent_fleet_next_counter), sign it with the device key, POST
 * /v1/checkin over mutual TLS. From the server's renew_before on, renew the
 * certificate (POST /v1/renew, same key). When the answer names a director root
 * version above the trusted one, walk the director's root chain to it
 * (fwt_tuf_refresh_root on DIR/director; a root that does not verify fails the
 * check-in, the trusted root kept). The device must be open (exclusive).
 */
FWT_MUST_CHECK fwt_err fwt_agent_checkin(fwt_agent *dev, struct fwt_agent_checkin_result *res);
/*
 * Remote attestation to the fleet server (docs/attestation.md): on the first
 * call (no DIR/fleet/attest-ak), enroll the TPM's attestation key (POST
 * /v1/attest/enroll with the EK certificate and AK, the TPM activates the
 * server's credential, POST /v1/attest/activate); then a fresh server nonce
 * (POST /v1/attest/nonce), a TPM quote over PCRs 8, 9, 11 with the event log
 * (fwt_agent_attest_quote), POST /v1/attest/quote: the server's verdict. A
 * server that lost the key (409) or holds one never activated (verdict
 * ak_not_activated) gets a new enrollment, once. FWT_OK when the
 * server gave a verdict (pass or fail, in r), or when there is nothing to do
 * (no TPM: no_tpm; a server that does not attest, 501: not_offered);
 * FWT_E_NETWORK when the server refused (named).
 */
struct fwt_agent_attestation {
    int done;          /* the server gave a verdict */
    int no_tpm;        /* the device has no [device] tpm: nothing attested */
    int not_offered;   /* the server does not attest devices */
    int enrolled;      /* the attestation key was enrolled during this call */
    char verdict[16];  /* "pass", "fail", "unknown" */
    char reason[64];   /* fwt_attest_reason_name */
    char detail[256];
};
FWT_MUST_CHECK fwt_err fwt_agent_fleet_attest(fwt_agent *dev, struct fwt_agent_attestation *r);
/* A signed progress report (POST /v1/report): state is an enum fwt_fleet_state
 * (fwt_fleet.h), error an fwt_err number, reason one sentence (or NULL). */
FWT_MUST_CHECK fwt_err fwt_agent_report(fwt_agent *dev, const char *target, int state, int error,
                                        const char *reason);
/* Seconds until the next check-in: [fleet] interval plus a random part of jitter. */
FWT_MUST_CHECK fwt_err fwt_agent_checkin_delay(const fwt_agent *dev, uint32_t *seconds);

/*
 * Check the measured boot records: replay the event log (DIR/eventlog.jsonl)
 * entries of the boot recorded in DIR/pcr from a zero register and compare
 * with the register value stored there. *boot gets that boot's number (0 and
 * FWT_OK when nothing was measured yet); pcr (may be NULL) its register.
 * FWT_E_STATE when the log and the register disagree or a line is malformed
 * (a last line torn by a power cut is ignored).
 */
FWT_MUST_CHECK fwt_err fwt_agent_measurements_verify(fwt_agent *dev, uint32_t *boot,
                                                     uint8_t pcr[32]);

/* ---- Anti-rollback state backend ---- */

struct fwt_rollback_state {
    uint32_t min_security_counter;
    uint32_t min_key_version;
};

/*
 * Where the minimums live. The file backend keeps two redundant copies in the
 * device directory; an OTP fuse bank or a TPM NV counter can replace it.
 * raise() never lowers a value (monotonic, like the hardware) and is
 * power-fail safe: after a cut, read() gives the old or the new values.
 */
struct fwt_rollback_backend {
    void *ctx;
    fwt_err (*read)(void *ctx, struct fwt_rollback_state *st);
    fwt_err (*raise)(void *ctx, const struct fwt_rollback_state *st);
    void (*close)(void *ctx);
};
FWT_MUST_CHECK fwt_err fwt_rollback_file_backend(const char *dir, struct fwt_rollback_backend *out);
/*
 * The TPM backend ([device] rollback = tpm): the minimums in TPM NV counters
 * (fwt_tpm_nv_*), monotonic by hardware. With writable (the caller holds the
 * device's exclusive lock: two raisers could overshoot) it provisions the
 * counters on first use and raises them to the file backend's minimums in dir
 * (so switching never lowers a minimum); afterwards the files are not read. A raise increments one
 * by one (a power cut leaves a value between the old and the new one, which the
 * interrupted confirm completes: never lower than before, never above the
 * confirmed image's).
 */
FWT_MUST_CHECK fwt_err fwt_rollback_tpm_backend(const char *tpm, const char *dir, int writable,
                                                struct fwt_rollback_backend *out);
/* Replace dev's backend (dev takes ownership; its old backend is closed). */
void fwt_agent_set_rollback_backend(fwt_agent *dev, const struct fwt_rollback_backend *be);

#ifdef __cplusplus
}
#endif

#endif /* FWT_AGENT_H */
