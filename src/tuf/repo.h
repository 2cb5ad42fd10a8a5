/*
 * fwtrust TUF repository tool (`fwtrust repo`): internal API. The public part
 * (the repository, key rings, the commands) is <fwtrust/fwt_repo.h>.
 *
 * A repository is a directory:
 *   DIR/repo.json           fwtrust settings (default expiry per role)
 *   DIR/staged/ROLE.json    metadata being prepared: full envelopes
 *                           {"signatures": [...], "signed": {...}}, possibly not yet
 *                           signed by enough keys
 *   DIR/metadata/           published metadata (serve this): N.root.json for every root
 *                           version and root.json (latest), N.targets.json,
 *                           N.ROLE.json, N.snapshot.json, timestamp.json
 *   DIR/targets/            published target files, [DIR/]SHA256.NAME (serve this)
 *
 * Every command checks everything first, then writes through a transaction
 * (struct repo_txn) that writes each file atomically and, when a later write
 * fails, restores what it wrote: a failed command leaves the repository as it was.
 *
 * Hosted C; jansson (JSON_REJECT_DUPLICATES) for all parsing; canonical JSON,
 * key ids and signatures through the TUF module (fwt_tuf.h).
 */
#ifndef FWT_TUF_REPO_H
#define FWT_TUF_REPO_H

#include <fwtrust/fwt_util.h>
#include <fwtrust/fwt_repo.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define REPO_SPEC_VERSION "1.0.31"
#define REPO_MAX_META (16u * 1024u * 1024u) /* largest metadata file we read */
#define REPO_MAX_ROLES 1024 /* delegated roles in one repository */

/* String equality that is false when either side is missing (json_string_value of a
 * non-string gives NULL: hostile metadata must not crash the tool). */
static inline int repo_streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* ---- Keys ---- */

/* TUF key object and key id for a public key. */
FWT_MUST_CHECK fwt_err repo_tuf_key(const fwt_pubkey *pub, json_t **key, char keyid[REPO_KEYID_LEN + 1]);
/* Public key of a TUF key object, checking that keyid is its key id and its scheme is one
 * we verify (ed25519; ecdsa-sha2-nistp256/384; rsassa-pss-sha256). */
FWT_MUST_CHECK fwt_err repo_tuf_key_to_pub(const json_t *key, const char *keyid, fwt_pubkey **pub);
/* Canonical JSON bytes of a value (the signed bytes of TUF). Caller frees *buf. */
FWT_MUST_CHECK fwt_err repo_canonical(const json_t *v, char **buf, size_t *len);

/* Role keys: the "keys" map and the role object ({"keyids": [...], "threshold": N}). */
struct repo_role_keys {
    const json_t *keys; /* keyid -> TUF key */
    const json_t *role; /* keyids + threshold */
};

/* Count valid signatures of env by distinct keys of rk (a key id counted once,
 * the same key material under two ids counted once). *valid gets the count;
 * signed_by (may be NULL) collects the key ids that signed validly (array). */
FWT_MUST_CHECK fwt_err repo_count_signatures(const json_t *env, const struct repo_role_keys *rk,
                                             size_t *valid, json_t *signed_by);
/* Add a signature by every private key of kr that belongs to rk and has not signed yet.
 * *added: how many signatures were added. */
FWT_MUST_CHECK fwt_err repo_sign_env(json_t *env, const struct repo_role_keys *rk,
                                     const struct repo_keyring *kr, size_t *added);
/* Threshold of a role object, checked: 1 <= threshold <= number of distinct key ids. */
FWT_MUST_CHECK fwt_err repo_role_threshold(const json_t *role, const char *name, size_t *threshold);

/* ---- Files and transactions ---- */

struct repo_txn_entry {
    char *path;
    uint8_t *old;   /* previous content when the file existed */
    size_t old_len;
    int existed;
    int done;
    int is_delete;
    uint8_t *data;  /* new content (not for deletes) */
    size_t len;
};

struct repo_txn {
    struct repo_txn_entry *e;
    size_t n, cap;
    char *made_dirs[16]; /* directories created by commit (removed on rollback) */
    size_t n_dirs;
};

FWT_MUST_CHECK fwt_err repo_txn_write(struct repo_txn *t, const char *path, const void *data, size_t len);
FWT_MUST_CHECK fwt_err repo_txn_write_json(struct repo_txn *t, const char *path, const json_t *v);
FWT_MUST_CHECK fwt_err repo_txn_delete(struct repo_txn *t, const char *path);
/* Perform all writes in order; on failure restore everything already done. */
FWT_MUST_CHECK fwt_err repo_txn_commit(struct repo_txn *t);
/* Undo a transaction's writes (also after a successful commit, before repo_txn_free). */
void repo_txn_undo(struct repo_txn *t);
void repo_txn_free(struct repo_txn *t);

/* Serialised form of a metadata file (what we write and what snapshot/timestamp hash). */
FWT_MUST_CHECK fwt_err repo_json_dump(const json_t *v, char **buf, size_t *len);

/* ---- Metadata ---- */

/* "YYYY-MM-DDTHH:MM:SSZ" for t; and back (FWT_E_META for anything else). */
void repo_time_format(time_t t, char out[21]);
FWT_MUST_CHECK fwt_err repo_time_parse(const char *s, time_t *t);

/* Parse a metadata envelope from bytes: strict JSON, {"signatures": [...], "signed": {...}},
 * signed._type == type ("root", "targets", "snapshot", "timestamp"), version >= 1,
 * valid expires; each signature {"keyid": hex, "sig": hex}. */
FWT_MUST_CHECK fwt_err repo_meta_parse(const uint8_t *buf, size_t len, const char *type,
                                       const char *what, json_t **env);
FWT_MUST_CHECK fwt_err repo_meta_read(const char *path, const char *type, json_t **env);

/* Check a root "signed" object: keys well formed (key id matches the key), the four
 * roles present with thresholds 1..number of keys, every key id known. */
FWT_MUST_CHECK fwt_err repo_root_check(const json_t *root_signed);
/* Check the delegations of a targets "signed" object the same way (names, paths). */
FWT_MUST_CHECK fwt_err repo_delegations_check(const json_t *targets_signed, const char *role);

/* ---- The repository ---- */

enum repo_role_kind { REPO_ROOT = 0, REPO_TARGETS = 1, REPO_SNAPSHOT = 2, REPO_TIMESTAMP = 3, REPO_DELEGATED = 4 };

/* Paths (caller frees). */
char *repo_path(const struct repo *r, const char *fmt, ...) FWT_PRINTF(2, 3);

/* Published metadata of a role; FWT_E_NOT_FOUND before the first publish. */
FWT_MUST_CHECK fwt_err repo_published(const struct repo *r, const char *role, json_t **env);
/* Staged metadata; FWT_E_NOT_FOUND when nothing is staged for role. */
FWT_MUST_CHECK fwt_err repo_staged(const struct repo *r, const char *role, json_t **env);
/* Staged if present, else published. */
FWT_MUST_CHECK fwt_err repo_current(const struct repo *r, const char *role, json_t **env);

/* Where the keys of role are listed: root for top-level roles, the delegating
 * targets role for delegated ones (current versions). *holder gets a reference to
 * the holder's envelope and *holder_name its role name ("root" or a targets role). */
FWT_MUST_CHECK fwt_err repo_role_keys(const struct repo *r, const char *role, json_t **holder,
                                      char **holder_name, struct repo_role_keys *rk);
/* All delegated role names in pre-order (current versions), NUL-separated list in a json array. */
FWT_MUST_CHECK fwt_err repo_delegated_roles(const struct repo *r, json_t **names);
int repo_is_top_role(const char *role);
/* Role names that may be delegated: [A-Za-z0-9][A-Za-z0-9._-]{0,63}, not a top-level name. */
int repo_role_name_ok(const char *role);

/* Make a staged copy of role to change: the staged one (signatures dropped, they would no
 * longer match), or a new version of the published one with fresh expiry. */
FWT_MUST_CHECK fwt_err repo_stage_for_change(const struct repo *r, const char *role, json_t **env);
int repo_expiry_days(const struct repo *r, const char *role);

#endif /* FWT_TUF_REPO_H */
