/*
 * fwtrust TUF repository tool (`fwtrust repo`): internal API. The repository, key rings
 * and the commands the CLI calls are public: <fwtrust/fwt_repo.h>.
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
 *   DIR/.txn/               a transaction in progress (see repo_txn below)
 *
 * Every command checks everything first, then writes through one journaled
 * transaction (struct repo_txn): a failed command leaves the repository as it was,
 * and a crash is completed or rolled back by the next command.
 *
 * Hosted C; jansson (JSON_REJECT_DUPLICATES) for all parsing; canonical JSON,
 * key ids and signatures through the TUF module (fwt_tuf.h).
 */
#ifndef FWT_TUF_REPO_H
#define FWT_TUF_REPO_H

#include <fwtrust/fwt_repo.h>
#include <fwtrust/fwt_util.h>

#include "tuf_json.h"
#include "tuf_meta.h"

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

/* TUF key objects, key ids and canonical JSON: fwt_tuf_key_object, fwt_tuf_keyid and
 * fwt_tuf_canonical (tuf_json.h), the client's. */
/* Public key of a TUF key object, checking that keyid is its key id and its scheme is one
 * we verify (ed25519; ecdsa-sha2-nistp256/384; rsassa-pss-sha256). */
FWT_MUST_CHECK fwt_err repo_tuf_key_to_pub(const json_t *key, const char *keyid, fwt_pubkey **pub);

/* Role keys: the "keys" map and the role object ({"keyids": [...], "threshold": N}). */
struct repo_role_keys {
    const json_t *keys; /* keyid -> TUF key */
    const json_t *role; /* keyids + threshold */
};

/* Count valid signatures of env by distinct keys of rk: tuf_count_role_sigs, the
 * client's rule, over the canonical bytes of env's "signed". *valid gets the count;
 * signed_by (may be NULL) collects the key ids that signed validly (array). */
FWT_MUST_CHECK fwt_err repo_count_signatures(const json_t *env, const struct repo_role_keys *rk,
                                             size_t *valid, json_t *signed_by);
/* Add a signature by every private key of kr that belongs to rk and has not signed yet.
 * *added: how many signatures were added. */
FWT_MUST_CHECK fwt_err repo_sign_env(json_t *env, const struct repo_role_keys *rk,
                                     const struct repo_keyring *kr, size_t *added);
/* The first n keys of kr (the keys given to sign with) must each belong to one of the n_rks
 * roles (a key id listed by the role and present in its keys map): a key that would sign
 * nothing is refused (FWT_E_KEY) naming the key and the key ids that would do. what names
 * the role(s) in the message ("role 'targets'"). */
FWT_MUST_CHECK fwt_err repo_keys_belong(const struct repo_keyring *kr, size_t n, const char *what,
                                        const struct repo_role_keys *rks, size_t n_rks);
/* Threshold of a role object, checked: the client's role check (tuf_check_role) and
 * threshold <= number of key ids (a threshold no set of keys can meet is refused). */
FWT_MUST_CHECK fwt_err repo_role_threshold(const json_t *role, const char *name, size_t *threshold);

/* ---- Files and transactions ----
 *
 * A command's writes form one journaled transaction (repo_store.c, docs/repository.md
 * "Atomicity"): new files are prepared in DIR/.txn/ (beside metadata/ and targets/, never
 * in a served directory), then a journal commits them, then they are renamed into place in
 * the order they were added. A crash before the journal leaves nothing visible (the next
 * command discards .txn/); after it, the next command completes the transaction. A failure
 * while applying rolls it back. Paths are absolute, inside the repository directory. */

#define REPO_TXN_DIR ".txn"
#define REPO_FAULT_EXIT 99 /* exit status of a simulated crash (crash-test build only) */

struct repo_txn_entry {
    char *path;
    const char *rel; /* path relative to the repository (points into path) */
    unsigned id;     /* .txn/ID holds the new bytes; .txn/old.ID the file replaced */
    int is_delete;
    int same;        /* the file already holds these bytes: nothing to do */
    int backup;      /* .txn/old.ID exists */
    uint8_t sha[32];
};

struct repo_txn {
    const char *dir; /* the repository (borrowed from the caller) */
    char *jdir;      /* DIR/.txn, once the transaction has started */
    struct repo_txn_entry *e;
    size_t n, cap;
    unsigned next_id;
    int have_jdir;       /* .txn/ created by this transaction and not yet removed */
    char *made_dirs[32]; /* directories created while applying (removed on roll back) */
    size_t n_dirs;
};

enum repo_txn_state {
    REPO_TXN_NONE = 0,       /* no .txn/ */
    REPO_TXN_UNCOMMITTED,    /* .txn/ without a journal: discarded by the next command */
    REPO_TXN_COMMITTED,      /* a journal: the next command completes the transaction */
    REPO_TXN_ROLLING_BACK    /* an undo list: the next command finishes rolling back */
};

/* dir: the repository directory; it must outlive the transaction. */
void repo_txn_init(struct repo_txn *t, const char *dir);
FWT_MUST_CHECK fwt_err repo_txn_write(struct repo_txn *t, const char *path, const void *data, size_t len);
FWT_MUST_CHECK fwt_err repo_txn_write_json(struct repo_txn *t, const char *path, const json_t *v);
FWT_MUST_CHECK fwt_err repo_txn_delete(struct repo_txn *t, const char *path);
/* A new file streamed by the caller: begin gives an fd in .txn/ (write with repo_fs_write_all);
 * end fsyncs and closes it and, when path is not NULL, adds it as the new content of path
 * (sha: its SHA-256). */
FWT_MUST_CHECK fwt_err repo_txn_file_begin(struct repo_txn *t, int *fd, unsigned *id);
FWT_MUST_CHECK fwt_err repo_txn_file_end(struct repo_txn *t, int fd, unsigned id, const char *path,
                                         const uint8_t sha[32]);
/* Commit and apply; on failure nothing is changed (rolled back). */
FWT_MUST_CHECK fwt_err repo_txn_commit(struct repo_txn *t);
/* Free; an uncommitted transaction's prepared files are removed. */
void repo_txn_free(struct repo_txn *t);
/* Is a transaction pending in dir (left by a crash)? */
FWT_MUST_CHECK fwt_err repo_txn_pending(const char *dir, enum repo_txn_state *state);
/* Complete (journal) or roll back (undo list, or no journal) a pending transaction; *found
 * tells which was found (REPO_TXN_NONE: nothing to do). */
FWT_MUST_CHECK fwt_err repo_recover(const char *dir, enum repo_txn_state *found);
/* Parse a journal (strict). */
FWT_MUST_CHECK fwt_err repo_txn_journal_parse(const uint8_t *buf, size_t len, json_t **out);

/* State-changing file calls outside transactions (through the crash-test hook). */
int repo_fs_mkdir(const char *path);
int repo_fs_rmdir(const char *path);
FWT_MUST_CHECK fwt_err repo_fs_write_all(int fd, const void *buf, size_t len, const char *what);

/* Serialised form of a metadata file (what we write and what snapshot/timestamp hash). */
FWT_MUST_CHECK fwt_err repo_json_dump(const json_t *v, char **buf, size_t *len);

/* ---- Metadata ---- */

/* Time stamps: fwt_tuf_time_format / fwt_tuf_time_parse (tuf_json.h), the client's. */

/* Parse a metadata envelope from bytes: everything the client's parser checks
 * (tuf_md_parse: strict JSON, envelope, _type == type, spec_version, version >= 1,
 * expires, the type's fields, no two signatures with one key id), and each signature
 * {"keyid": 64 hex, "sig": hex}. What the repository reads it can publish: the client
 * accepts its shape. */
FWT_MUST_CHECK fwt_err repo_meta_parse(const uint8_t *buf, size_t len, const char *type,
                                       const char *what, json_t **env);
FWT_MUST_CHECK fwt_err repo_meta_read(const char *path, const char *type, json_t **env);

/* Check a root "signed" object: keys well formed (key id matches the key), the four
 * roles present with thresholds 1..number of keys, every key id known. */
/* s (may be NULL) is lower-case hex of min..max digits, an even number. */
int repo_is_hex(const char *s, size_t min, size_t max);
FWT_MUST_CHECK fwt_err repo_root_check(const json_t *root_signed);
/* Check the delegations of a targets "signed" object the same way (names, paths). */
FWT_MUST_CHECK fwt_err repo_delegations_check(const json_t *targets_signed, const char *role);

/* ---- The repository (struct repo, repo_open: <fwtrust/fwt_repo.h>) ---- */

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
/* Top-level role names: tuf_is_top_role (tuf_meta.h). */
/* Role names that may be delegated: [A-Za-z0-9][A-Za-z0-9._-]{0,63}, not a top-level name. */
int repo_role_name_ok(const char *role);

/* Make a staged copy of role to change: the staged one (signatures dropped, they would no
 * longer match), or a new version of the published one with fresh expiry. */
FWT_MUST_CHECK fwt_err repo_stage_for_change(const struct repo *r, const char *role, json_t **env);
int repo_expiry_days(const struct repo *r, const char *role);

#endif /* FWT_TUF_REPO_H */
