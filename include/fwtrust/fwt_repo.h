/*
 * fwtrust TUF repository tool (`fwtrust repo`): the repository, key rings and
 * the commands, which `fwtrust repo` calls after parsing its options; and the
 * header of encoded targets (`fwtrust delta` output) as the tool reads them.
 * Internal helpers of the module stay in src/tuf/repo.h.
 *
 * A repository is a directory:
 *   DIR/repo.json           fwtrust settings (default expiry per role)
 *   DIR/staged/ROLE.json    metadata being prepared (full envelopes, maybe not yet
 *                           signed by enough keys)
 *   DIR/metadata/           published metadata (serve this)
 *   DIR/targets/            published target files (serve this)
 *   DIR/.txn/               a transaction in progress (src/tuf/repo.h, repo_txn)
 *
 * Hosted C (jansson); library fwt_tuf_repo. Includes <fwtrust/fwt_util.h>.
 */
#ifndef FWT_REPO_H
#define FWT_REPO_H

#include <fwtrust/fwt_util.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define REPO_MAX_KEYS 32
#define REPO_KEYID_LEN 64

/* ---- Keys ---- */

struct repo_key {
    const char *spec;   /* as given on the command line */
    fwt_privkey *priv;  /* NULL when only the public half is available */
    fwt_pubkey *pub;
    json_t *tuf;        /* {"keytype","scheme","keyval":{"public"}} */
    char keyid[REPO_KEYID_LEN + 1];
};

struct repo_keyring {
    struct repo_key keys[REPO_MAX_KEYS];
    size_t n;
};

/* Load a key spec (PEM file, public or private, or pkcs11: URI). need_private:
 * fail unless the private half can sign. A PEM file holding a private key must
 * load as one (a wrong passphrase is an error, never a silent "public only"). */
FWT_MUST_CHECK fwt_err repo_key_load(const char *spec, const struct fwt_key_opts *ko,
                                     int need_private, struct repo_key *out);
void repo_key_free(struct repo_key *k);
FWT_MUST_CHECK fwt_err repo_keyring_add(struct repo_keyring *kr, const char *spec,
                                        const struct fwt_key_opts *ko, int need_private,
                                        struct repo_key **added);
void repo_keyring_free(struct repo_keyring *kr);

/* ---- The repository ---- */

struct repo_expiry {
    int days[5]; /* root, targets, snapshot, timestamp, delegated */
};

struct repo {
    char *dir;
    json_t *config;
    struct repo_expiry exp;
    time_t now;
    int locked;  /* lock_fd holds an exclusive flock on DIR/repo.json until repo_close */
    int lock_fd;
};

/* Open an existing repository (DIR/repo.json must exist). now: time for expiry. One command
 * at a time: the repository is locked (flock on repo.json) until repo_close; FWT_E_LOCKED
 * when another command holds it. */
FWT_MUST_CHECK fwt_err repo_open(const char *dir, struct repo *r);
void repo_close(struct repo *r);

/* ---- Commands (cmd_repo.c parses options, these do the work) ---- */

struct repo_init_opts {
    const char *root_keys[REPO_MAX_KEYS];
    size_t n_root;
    const char *targets_keys[REPO_MAX_KEYS];
    size_t n_targets;
    const char *snapshot_keys[REPO_MAX_KEYS];
    size_t n_snapshot;
    const char *timestamp_keys[REPO_MAX_KEYS];
    size_t n_timestamp;
    size_t thresholds[4]; /* 0 = 1 */
    struct repo_expiry exp;
};
FWT_MUST_CHECK fwt_err repo_cmd_init(const char *dir, const struct repo_init_opts *o,
                                     const struct fwt_key_opts *ko, json_t *report);

#define REPO_MAX_ADD 100000 /* files in one add-target */

struct repo_target_opts {
    const char *const *files; /* n_files target files */
    size_t n_files;
    const char *name;   /* one file only; NULL: basename of the file */
    const char *prefix; /* prepended to the base names (e.g. "board-a/"), or NULL */
    const char *custom; /* JSON object text or NULL */
    const char *role;   /* NULL: targets */
    const char *verify_keys[REPO_MAX_KEYS];
    size_t n_verify;
    int no_image;       /* do not read fwtrust image facts */
    void (*progress)(void *ctx, uint64_t done, uint64_t total); /* may be NULL */
    void *progress_ctx;
    /* DSSE provenance envelopes of the (one) image: checked against DIR/provenance-policy.json
     * and published beside it as targets NAME.intoto-N.json (docs/provenance.md). */
    const char *provenance[16];
    size_t n_provenance;
    /* The device's decryption key (fwt_enckey_load spec), for the policy's check of an
     * encrypted image: its plaintext is what the envelopes must name. NULL: none. */
    const char *decrypt_key;
};
FWT_MUST_CHECK fwt_err repo_cmd_add_target(struct repo *r, const struct repo_target_opts *o,
                                           const struct repo_keyring *kr, const struct fwt_key_opts *ko,
                                           json_t *report);
FWT_MUST_CHECK fwt_err repo_cmd_remove_target(struct repo *r, const char *name, const char *role,
                                              const struct repo_keyring *kr, json_t *report);

struct repo_delegate_opts {
    const char *name;
    const char *from; /* NULL: targets */
    const char *keys[REPO_MAX_KEYS];
    size_t n_keys;
    const char *paths[64];
    size_t n_paths;
    size_t threshold; /* 0 = 1 */
    int terminating;
};
FWT_MUST_CHECK fwt_err repo_cmd_delegate(struct repo *r, const struct repo_delegate_opts *o,
                                         struct repo_keyring *kr, const struct fwt_key_opts *ko,
                                         json_t *report);

FWT_MUST_CHECK fwt_err repo_cmd_publish(struct repo *r, const struct repo_keyring *kr, int force,
                                        json_t *report);
FWT_MUST_CHECK fwt_err repo_cmd_timestamp(struct repo *r, const struct repo_keyring *kr, json_t *report);

struct repo_rotate_opts {
    const char *role;
    const char *new_keys[REPO_MAX_KEYS];
    size_t n_new;
    const char *old_keys[REPO_MAX_KEYS]; /* key specs or key ids */
    size_t n_old;
    size_t threshold; /* 0 = keep (clamped errors are reported) */
};
FWT_MUST_CHECK fwt_err repo_cmd_rotate(struct repo *r, const struct repo_rotate_opts *o,
                                       struct repo_keyring *kr, const struct fwt_key_opts *ko,
                                       json_t *report);
FWT_MUST_CHECK fwt_err repo_cmd_sign(struct repo *r, const char *role, const struct repo_keyring *kr,
                                     json_t *report);
/* Status; FWT_E_STATE (11) when an interrupted operation is pending (report "interrupted"). */
FWT_MUST_CHECK fwt_err repo_cmd_status(struct repo *r, json_t *report);
/* After repo_cmd_status (its report "roles"): every role whose published metadata expires
 * within days days of r->now, or has expired, goes into report "expiring" ([{role, version,
 * expires, expired, fix}]; fix: the command that re-signs it); FWT_E_META_EXPIRED (42) naming
 * each such role and its command when there is one, FWT_OK otherwise. Reads only. */
FWT_MUST_CHECK fwt_err repo_cmd_check_expiry(const struct repo *r, uint32_t days, json_t *report);
/* The targets of targets and every delegated role (role NULL), or of one targets role:
 * report "targets" = [{name, role, length, hashes, staged, custom, version, encoding}] from
 * the current metadata (staged, else published; staged says which), by role in delegation
 * pre-order, then by name; version and encoding from custom.fwtrust (custom_error when it
 * cannot be read). FWT_E_STATE while an interrupted operation is pending (as status);
 * FWT_E_NOT_FOUND for a role not delegated; FWT_E_ARG for root, snapshot or timestamp. */
FWT_MUST_CHECK fwt_err repo_cmd_list(struct repo *r, const char *role, json_t *report);

/*
 * Publish gates (docs/key-custody.md): the image targets a publish would make new
 * (staged with custom.fwtrust, not published before with the same sha256), as
 * [{"name", "role", "sha256", "path"}] (*out: caller decrefs); and the record of each
 * gate decision with findings (an alert): one JSON line {"time", "outcome": "refused" or
 * "overridden", "reason" (overridden: required), "by", "findings"} appended (fsynced) to
 * DIR/publish-gate.jsonl.
 */
#define REPO_GATE_LOG "publish-gate.jsonl"
/* The file in the repository holding target name with this sha256 (hex): malloc'd path
 * (NULL: out of memory). The file exists once the target was added. */
char *repo_target_file(const struct repo *r, const char *name, const char *sha256);
FWT_MUST_CHECK fwt_err repo_cmd_new_images(struct repo *r, json_t **out);
FWT_MUST_CHECK fwt_err repo_record_gate(struct repo *r, const char *outcome, const char *reason,
                                        const json_t *findings);
/* Complete or roll back an operation a crash interrupted (report "recovered" says which). */
FWT_MUST_CHECK fwt_err repo_cmd_recover(struct repo *r, json_t *report);

/* ---- Encoded targets (src/tuf/repo_encoded.c; no zstd decoding happens there) ---- */

/*
 * Read and check the header of an encoded file. FWT_E_NOT_FOUND (no detail)
 * when path does not start with the fwtrust header (not an encoded file);
 * FWT_E_MALFORMED / FWT_E_UNSUPPORTED naming the fault when it does but the
 * header is broken. On FWT_OK *hdr is the header object (caller decrefs),
 * *frame_off the offset of the zstd frame, *file_len the file's size.
 */
FWT_MUST_CHECK fwt_err repo_encoded_read(const char *path, json_t **hdr, uint64_t *frame_off,
                                         uint64_t *file_len);

/* Check a header object (the JSON of the file, already parsed). */
FWT_MUST_CHECK fwt_err repo_encoded_check(const json_t *hdr);

/*
 * The custom.fwtrust object for an encoded target: the image's facts
 * (version, security_counter, hw_id, hw_id_hex, image_digest) as for a plain
 * image, plus "encoding", "image_length", "image_sha256" and, for a patch,
 * "base" {length, sha256, version, image_digest}. FWT_E_NOT_FOUND when path
 * is not an encoded file.
 */
FWT_MUST_CHECK fwt_err repo_encoded_facts(const char *path, json_t **facts);

#ifdef __cplusplus
}
#endif

#endif /* FWT_REPO_H */
