/*
 * fwtrust key custody: boot-key certificate issuing and the signing
 * transparency log. See docs/key-custody.md.
 *
 * Hosted C (OpenSSL, SQLite, jansson); library fwt_keys.
 */
#ifndef FWT_KEYS_H
#define FWT_KEYS_H

#include "fwtrust_host.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Boot-key certificates (encoding: fwt_cert.h) ---- */

struct fwt_cert_req {
    uint32_t key_version;
    uint64_t not_after;   /* seconds since 1970; 0 = no expiry */
    const uint8_t *hw_id; /* NULL/0 = any hardware; at most FWT_HW_ID_MAX bytes */
    size_t hw_id_len;
    int allow_test_key; /* certify with/for a published sample key (tests only) */
};

/*
 * Issue a certificate: root certifies key. out gets at most FWT_CERT_MAX
 * bytes; *out_len in: buffer size, out: certificate length. The result is
 * parsed back with fwt_cert_parse and its signature checked with the root's
 * public key before it is returned.
 */
FWT_MUST_CHECK fwt_err fwt_cert_issue(fwt_privkey *root, const fwt_pubkey *key,
                                      const struct fwt_cert_req *req, uint8_t *out,
                                      size_t *out_len);

/* ---- Signing transparency log (RFC 9162-style Merkle tree in SQLite) ---- */

#define FWT_SIGNLOG_SIGNER_MAX 128U
#define FWT_SIGNLOG_ENTRY_MAX 4096U /* largest encoded entry accepted */
#define FWT_SIGNLOG_SIG_MAX 1024U
#define FWT_SIGNLOG_PATH_MAX 66U /* hashes in a proof */
#define FWT_SIGNLOG_SIZE_MAX ((uint64_t)1 << 62) /* entries a log may hold */
#define FWT_SIGNLOG_STH_MAGIC "FWTSTH\x00\x01" /* 8 bytes, starts the signed bytes */

/* One signature fwtrust made. */
struct fwt_signlog_record {
    uint8_t digest[FWT_DIGEST_MAX]; /* image digest (the hash TLV value) */
    size_t digest_len;              /* 32 (SHA-256), 48 (SHA-384) or 64 (SHA-512) */
    struct fwt_version version;
    int has_security_counter;
    uint32_t security_counter;
    uint8_t keyhash[FWT_KEYHASH_SIZE]; /* key id: SHA-256 of the signing key's MCUboot encoding */
    uint8_t hw_id[FWT_HW_ID_MAX];
    size_t hw_id_len;
    char signer[FWT_SIGNLOG_SIGNER_MAX]; /* who signed (printable ASCII, non-empty) */
    uint64_t time;                       /* seconds since 1970 */
};

/*
 * Canonical encoding of a record: compact JSON, keys sorted, fixed set of
 * fields (see docs/key-custody.md). *out is NUL-terminated; free().
 */
FWT_MUST_CHECK fwt_err fwt_signlog_record_encode(const struct fwt_signlog_record *rec, char **out,
                                                 size_t *out_len);
/* Strict parse: exactly the canonical encoding, else FWT_E_MALFORMED. */
FWT_MUST_CHECK fwt_err fwt_signlog_record_parse(const uint8_t *buf, size_t len,
                                                struct fwt_signlog_record *rec);

/* A signed tree head. */
struct fwt_signlog_sth {
    uint8_t log_id[32]; /* key hash of the log key */
    uint64_t tree_size;
    uint64_t timestamp;
    uint8_t root[32];
    uint8_t sig[FWT_SIGNLOG_SIG_MAX];
    size_t sig_len;
};
/*
 * The bytes an STH signature covers (88 bytes, big endian, see docs/key-custody.md):
 * magic[8] log_id[32] tree_size[8] timestamp[8] root[32]. Signed with the log
 * key through fwt_sign_message.
 */
#define FWT_SIGNLOG_STH_TBS_SIZE 88U
void fwt_signlog_sth_tbs(const struct fwt_signlog_sth *sth, uint8_t out[FWT_SIGNLOG_STH_TBS_SIZE]);
/* FWT_OK when the STH is signed by pub (and log_id is pub's key hash), else FWT_E_SIGNATURE. */
FWT_MUST_CHECK fwt_err fwt_signlog_sth_verify(const struct fwt_signlog_sth *sth,
                                              const fwt_pubkey *pub);
/* STH file (JSON) text, NUL-terminated, free(); and strict parsing back. */
FWT_MUST_CHECK fwt_err fwt_signlog_sth_to_json(const struct fwt_signlog_sth *sth, char **out);
FWT_MUST_CHECK fwt_err fwt_signlog_sth_from_json(const char *text, size_t len,
                                                 struct fwt_signlog_sth *sth);

/* Inclusion proof of one entry in a tree of tree_size entries. */
struct fwt_signlog_proof {
    uint64_t index;
    uint64_t tree_size;
    char *entry; /* canonical entry text (malloc'd, NUL-terminated) */
    size_t entry_len;
    uint8_t path[FWT_SIGNLOG_PATH_MAX][32];
    size_t path_len;
};
void fwt_signlog_proof_free(struct fwt_signlog_proof *p);
FWT_MUST_CHECK fwt_err fwt_signlog_proof_to_json(const struct fwt_signlog_proof *p, char **out);
FWT_MUST_CHECK fwt_err fwt_signlog_proof_from_json(const char *text, size_t len,
                                                   struct fwt_signlog_proof *p);
/* The entry is in the tree of the STH: FWT_OK, else FWT_E_DIGEST (or FWT_E_ARG on size mismatch). */
FWT_MUST_CHECK fwt_err fwt_signlog_proof_check(const struct fwt_signlog_proof *p,
                                               const struct fwt_signlog_sth *sth);

/* Consistency proof: the tree of `to` entries extends the tree of `from` entries. */
struct fwt_signlog_consistency {
    uint64_t from, to;
    uint8_t from_root[32], to_root[32];
    uint8_t path[FWT_SIGNLOG_PATH_MAX][32];
    size_t path_len;
};
FWT_MUST_CHECK fwt_err fwt_signlog_consistency_to_json(const struct fwt_signlog_consistency *c,
                                                       char **out);
FWT_MUST_CHECK fwt_err fwt_signlog_consistency_from_json(const char *text, size_t len,
                                                         struct fwt_signlog_consistency *c);
/* Check c against two STHs (from_sth->tree_size == c->from, roots equal, ...). */
FWT_MUST_CHECK fwt_err fwt_signlog_consistency_check(const struct fwt_signlog_consistency *c,
                                                     const struct fwt_signlog_sth *from_sth,
                                                     const struct fwt_signlog_sth *to_sth);

typedef struct fwt_signlog fwt_signlog;

/*
 * Create a new log database (refuses an existing file). key_spec (PEM path or
 * pkcs11: URI) is recorded for reference only (a URI naming a module or a PIN
 * file is refused: fwt_key_spec_check_inert); the public key is stored too.
 * The empty tree's STH is signed at once. Nothing read back from a log ever
 * selects the key, module or PIN that appends use: the caller loads the log
 * key (see fwt_signlog_pin) and passes it to the append functions.
 */
FWT_MUST_CHECK fwt_err fwt_signlog_create(const char *db, const char *key_spec,
                                          const struct fwt_key_opts *ko);
/* Open an existing log (FWT_E_NOT_FOUND when there is none). A writable open
 * refuses a log whose stored key URI names a module or PIN file (FWT_E_STATE). */
FWT_MUST_CHECK fwt_err fwt_signlog_open(const char *db, int writable, fwt_signlog **out);
void fwt_signlog_close(fwt_signlog *log);
/* Progress of the long walks over all entries (verify, audit, appends' checks):
 * fn(ctx, entries done, entries in all), now and then. fn NULL: none. */
typedef void (*fwt_signlog_progress_fn)(void *ctx, uint64_t done, uint64_t total);
void fwt_signlog_set_progress(fwt_signlog *log, fwt_signlog_progress_fn fn, void *ctx);

/*
 * Append one record and sign the new tree head with log_key (which must be the
 * log's key, else FWT_E_KEY), in one transaction: on failure the log is
 * unchanged. index (may be NULL) gets the entry number.
 */
FWT_MUST_CHECK fwt_err fwt_signlog_append(fwt_signlog *log, const struct fwt_signlog_record *rec,
                                          fwt_privkey *log_key, uint64_t *index);

/*
 * Events: entries that record an action rather than a signature (the fleet
 * server's admin actions and assignments). Canonical encoding: compact JSON,
 * sorted keys, {"action","actor","detail","subject","time","type":"event"};
 * text fields printable ASCII without '"' or '\'. `log verify` checks them
 * like every entry; find and audit skip them.
 */
#define FWT_SIGNLOG_ACTION_MAX 32U
struct fwt_signlog_event {
    char action[FWT_SIGNLOG_ACTION_MAX]; /* a-z 0-9 - . , e.g. "assign" */
    char actor[128];                     /* who, e.g. "admin:alice", "cli:root@host" */
    char subject[128];                   /* what it acted on, e.g. "device:dev-1f..." */
    char detail[1024];
    uint64_t time; /* seconds since 1970 */
};
FWT_MUST_CHECK fwt_err fwt_signlog_event_encode(const struct fwt_signlog_event *ev, char **out,
                                                size_t *out_len);
/* Strict parse: exactly the canonical encoding, else FWT_E_MALFORMED. */
FWT_MUST_CHECK fwt_err fwt_signlog_event_parse(const uint8_t *buf, size_t len,
                                               struct fwt_signlog_event *ev);
/* Append one event and sign the new tree head, in one transaction (as fwt_signlog_append). */
FWT_MUST_CHECK fwt_err fwt_signlog_append_event(fwt_signlog *log, const struct fwt_signlog_event *ev,
                                                fwt_privkey *log_key, uint64_t *index);

/*
 * For `sign --log` / `cosign --log`: record the signatures of keys[] on the
 * signed image at pending (binary or .hex), then rename pending to final.
 * signer: who signs (NULL: fwt_signlog_default_signer). On failure pending is
 * removed, final is untouched and the log unchanged. first (may be NULL)
 * gets the index of the first new entry.
 */
FWT_MUST_CHECK fwt_err fwt_signlog_commit_image(const char *db, const char *pending,
                                                const char *final_path, fwt_privkey *const *keys,
                                                size_t n_keys, const char *signer,
                                                fwt_privkey *log_key, uint64_t *first);
/* $FWTRUST_SIGNER if set, else LOGIN@HOSTNAME (printable, truncated to fit). */
void fwt_signlog_default_signer(char out[FWT_SIGNLOG_SIGNER_MAX]);
/*
 * `log append`: record signatures made elsewhere (another tool, an appliance).
 * Each of keys[] must have a valid signature on the image (checked with the
 * verifier core, that key as the only trust); otherwise nothing is appended
 * (FWT_E_UNKNOWN_KEY, or the verifier's error). signer as for commit_image.
 */
FWT_MUST_CHECK fwt_err fwt_signlog_append_image(fwt_signlog *log, const char *image,
                                                const fwt_pubkey *const *keys, size_t n_keys,
                                                const char *signer, fwt_privkey *log_key,
                                                uint64_t *first);
/* A pending file name next to final_path, with the same extension (free()):
 * .BASE.pending-PID.EXT. */
FWT_MUST_CHECK fwt_err fwt_signlog_pending_name(const char *final_path, char **out);
/*
 * Remove the pending files (and their temporary files) that signers killed
 * before their signatures were logged left next to final_path: only those of
 * processes that no longer run on this host. Signed images that were never
 * logged must not lie around. *removed (may be NULL) gets how many went.
 */
FWT_MUST_CHECK fwt_err fwt_signlog_pending_cleanup(const char *final_path, size_t *removed);

FWT_MUST_CHECK fwt_err fwt_signlog_size(fwt_signlog *log, uint64_t *n);
/* The log key's public half as recorded in the log (caller frees). Never a
 * trust anchor for the log itself: check against a pinned key. */
FWT_MUST_CHECK fwt_err fwt_signlog_pubkey(fwt_signlog *log, fwt_pubkey **out);
/* The newest STH (largest tree size). */
FWT_MUST_CHECK fwt_err fwt_signlog_latest_sth(fwt_signlog *log, struct fwt_signlog_sth *sth);
/* The STH of exactly tree_size entries (FWT_E_NOT_FOUND when none was signed). */
FWT_MUST_CHECK fwt_err fwt_signlog_sth_at(fwt_signlog *log, uint64_t tree_size,
                                          struct fwt_signlog_sth *sth);
/* Entry text (free()). */
FWT_MUST_CHECK fwt_err fwt_signlog_entry(fwt_signlog *log, uint64_t index, char **text,
                                         size_t *len);

/*
 * Check the whole log: every entry parses and its stored leaf hash matches,
 * indices are contiguous, every STH is signed by pub (required: a key pinned
 * outside the log; NULL is refused with FWT_E_NO_TRUST, the key stored in the
 * log never vouches for it)
 * and its root is the recomputed root at its size, the newest STH covers
 * every entry, and (when given) the log is consistent with a tree head kept
 * from earlier. FWT_E_STATE for a log that is not intact, FWT_E_SIGNATURE
 * for a bad STH signature. n_sths (may be NULL) gets the STHs checked.
 */
FWT_MUST_CHECK fwt_err fwt_signlog_verify(fwt_signlog *log, const fwt_pubkey *pub,
                                          const struct fwt_signlog_sth *earlier,
                                          uint64_t *n_sths);

/*
 * Every record of the log at path (in order; *out malloc'd), after
 * fwt_signlog_verify with pub (required: a key pinned outside the log).
 */
FWT_MUST_CHECK fwt_err fwt_signlog_records(const char *path, const fwt_pubkey *pub,
                                           struct fwt_signlog_record **out, size_t *n);

/* Inclusion proof of entry index in the tree of tree_size entries (0: the current size). */
FWT_MUST_CHECK fwt_err fwt_signlog_prove(fwt_signlog *log, uint64_t index, uint64_t tree_size,
                                         struct fwt_signlog_proof *p);
FWT_MUST_CHECK fwt_err fwt_signlog_prove_consistency(fwt_signlog *log, uint64_t from, uint64_t to,
                                                     struct fwt_signlog_consistency *c);

/*
 * The consistency of the log with a tree head kept from earlier (old), as
 * handed out: old must be signed by log_key, and so must the newest STH; the
 * proof from old to the newest head is built and checked before it is
 * returned in *c. FWT_E_STATE when the log shrank or the proof does not hold
 * (the log was rewritten). old_name and log_name name them in the detail.
 */
FWT_MUST_CHECK fwt_err fwt_signlog_consistency_since(fwt_signlog *log, const fwt_pubkey *log_key,
                                                     const struct fwt_signlog_sth *old,
                                                     const char *old_name, const char *log_name,
                                                     struct fwt_signlog_consistency *c);

/* ---- Finding an image in the log ---- */

#define FWT_SIGNLOG_SIGNERS_MAX 32U

/* An image's signatures as the log knows keys: by SHA-256 key hash. */
struct fwt_signlog_signers {
    struct fwt_image_info info;                /* the image (its digest) */
    uint8_t keyhash[FWT_SIGNLOG_SIGNERS_MAX][32]; /* KEYHASH TLVs, and PUBKEY TLVs hashed */
    size_t n;
    size_t n_other; /* SHA-384/512 KEYHASH TLVs, which no SHA-256 key id matches */
    /* set by fwt_signlog_find_image: */
    int found[FWT_SIGNLOG_SIGNERS_MAX]; /* keyhash[k] is in an entry for the image */
    size_t n_missing;                   /* of n, not in the log */
    uint8_t first_missing[32];          /* the first of them */
};

/* Read an image's signers (a binary or Intel HEX file). FWT_E_TOO_LARGE over
 * FWT_SIGNLOG_SIGNERS_MAX signatures. */
FWT_MUST_CHECK fwt_err fwt_signlog_image_signers(const char *path, struct fwt_signlog_signers *s);

/* An entry recording the image's digest: index, its text and the parsed record. */
typedef void (*fwt_signlog_match_fn)(void *ctx, uint64_t index, const char *text, size_t len,
                                     const struct fwt_signlog_record *r);

/*
 * Find the image of s in the log: the whole log is checked against log_key
 * first (only an intact log vouches for anything), then every entry recording
 * the image's digest goes to fn (may be NULL) in index order and marks the
 * signers it names; s->found, n_missing and first_missing get the outcome.
 * FWT_OK however many are missing (the caller judges).
 */
FWT_MUST_CHECK fwt_err fwt_signlog_find_image(fwt_signlog *log, const fwt_pubkey *log_key,
                                              struct fwt_signlog_signers *s,
                                              fwt_signlog_match_fn fn, void *ctx);

/*
 * ---- Pinned log keys (kept by the operator, outside the log) ----
 * A log is checked against its pin (or a key the caller names), never against
 * the key stored in the log. The pin also names the private log key that
 * appends sign tree heads with: a log database never names a key, a module or
 * a PIN file. One file per log, in fwt_signlog_pin_dir():
 * $FWTRUST_SIGNLOG_PINS, else $XDG_CONFIG_HOME/fwtrust/signlog-pins, else
 * $HOME/.config/fwtrust/signlog-pins. See docs/key-custody.md.
 */
struct fwt_signlog_pin {
    char *log;       /* the log's absolute path */
    fwt_pubkey *pub; /* the pinned log key */
    char *key_spec;  /* the private log key (PEM path or pkcs11: URI), or NULL */
};
void fwt_signlog_pin_free(struct fwt_signlog_pin *pin);
FWT_MUST_CHECK fwt_err fwt_signlog_pin_dir(char **out);
/* The pin file of the log db (by its absolute path; db need not exist yet); free(). */
FWT_MUST_CHECK fwt_err fwt_signlog_pin_path(const char *db, char **out);
/* Strict parse of a pin file's text (FWT_E_MALFORMED, FWT_E_UNSUPPORTED). */
FWT_MUST_CHECK fwt_err fwt_signlog_pin_parse(const char *text, size_t len,
                                             struct fwt_signlog_pin *pin);
/* The pin of db: FWT_E_NOT_FOUND when there is none, FWT_E_STATE when it is unreadable. */
FWT_MUST_CHECK fwt_err fwt_signlog_pin_load(const char *db, struct fwt_signlog_pin *pin);
/*
 * Pin pub for db, with key_spec (NULL: keep the one pinned before, if any).
 * Unless replace, a pin of another key stays and FWT_E_KEY is returned.
 */
FWT_MUST_CHECK fwt_err fwt_signlog_pin_save(const char *db, const fwt_pubkey *pub,
                                            const char *key_spec, int replace);

/* ---- Audit ---- */

enum fwt_audit_kind {
    FWT_AUDIT_UNEXPECTED_KEY = 1, /* signed by a key not in the expected set */
    FWT_AUDIT_VERSION_DOWN = 2,   /* version lower than one signed before (same hw id) */
    FWT_AUDIT_COUNTER_DOWN = 3,   /* security counter lower than one signed before (same hw id) */
    FWT_AUDIT_DIGEST_CONFLICT = 4, /* same version (and hw id) signed with another digest */
    FWT_AUDIT_OUTSIDE_WINDOW = 5  /* signed outside the allowed time window (UTC) */
};
const char *fwt_audit_kind_name(enum fwt_audit_kind k);

struct fwt_audit_opts {
    const uint8_t (*expect_keys)[32]; /* NULL/0: no key check */
    size_t n_expect_keys;
    int has_window;
    unsigned window_start; /* minutes after midnight UTC */
    unsigned window_end;   /* exclusive; a window may wrap midnight (start > end) */
    /* Optional: called with each event entry (they are never findings), e.g. so
     * that `log audit` lists the approvals `cert issue --log` recorded. */
    void (*on_event)(void *ctx, uint64_t index, const struct fwt_signlog_event *ev);
    void *event_ctx;
};
/* Called for each finding; text is a sentence naming the cause. */
typedef void (*fwt_audit_fn)(void *ctx, uint64_t index, enum fwt_audit_kind kind,
                             const char *text);
/* Parse "HH:MM-HH:MM". */
FWT_MUST_CHECK fwt_err fwt_audit_window_parse(const char *s, struct fwt_audit_opts *o);
/* Run the audit; *n_findings gets the number of findings (FWT_OK either way). */
FWT_MUST_CHECK fwt_err fwt_signlog_audit(fwt_signlog *log, const struct fwt_audit_opts *o,
                                         fwt_audit_fn fn, void *ctx, size_t *n_findings);

/* ---- Catalog of signed images (fwtrust catalog: docs/catalog.md) ---- */

/*
 * Every image the signing log records (the log verified against log_key, pinned
 * outside it, first), grouped by image digest, joined with the repository's targets
 * (rows as `fwtrust repo list --json` gives them: name, role, staged, hashes, custom)
 * and with the annotations (the catalog file, fwt_catalog_annotate). *out: a JSON
 * array sorted by first log entry, one object per image: digest, hash, version,
 * hw_id, signers [{signer, key_id, time, log_index}], log_entries, targets
 * [{name, role, staged}], state ("published", "staged", "signed": never in the
 * repository, "withdrawn"), provenance (custom.provenance of its target, or null),
 * vulnerabilities [{id, severity, fixed_in, time}]. Images in the repository that the
 * log never saw are listed too, with state and "unlogged": true.
 */
FWT_MUST_CHECK fwt_err fwt_catalog_build(fwt_signlog *log, const fwt_pubkey *log_key,
                                         const json_t *targets, const json_t *annotations,
                                         json_t **out);
/* Read the annotations file (a missing file is an empty catalog). Strict: FWT_E_MALFORMED. */
FWT_MUST_CHECK fwt_err fwt_catalog_load(const char *path, json_t **annotations);
/*
 * Annotate the image with digest_hex (64, 96 or 128 lower-case hex digits) in the
 * file at path, written atomically: withdrawn (with reason), and/or a vulnerability
 * (id required; severity one of low, medium, high, critical; fixed_in a version or
 * NULL). An id already recorded for the image is replaced.
 */
FWT_MUST_CHECK fwt_err fwt_catalog_annotate(const char *path, const char *digest_hex, int withdrawn,
                                            const char *reason, const char *vuln_id,
                                            const char *severity, const char *fixed_in);

/* ---- Publish gate (fwtrust repo publish: docs/key-custody.md, "Publish gates") ---- */

/* One finding of the gate: kind "not-logged", or an audit kind name. */
typedef void (*fwt_gate_fn)(void *ctx, const char *image, const char *kind, const char *text);

/*
 * The images about to be published, against the signing log (checked against
 * log_key, a key pinned outside the log, first): each signature of each image
 * must be recorded (fwt_signlog_find_image), and no audit finding (o: expected
 * keys, time window; version and counter going down, digest conflicts) may
 * concern an entry that records the image's digest. Every finding goes to fn;
 * *n_findings counts them. FWT_OK however many there are (the caller decides:
 * refuse, or override with a recorded reason); an error when the log cannot
 * be read or is not intact, or an image cannot be read.
 */
FWT_MUST_CHECK fwt_err fwt_signlog_gate(fwt_signlog *log, const fwt_pubkey *log_key,
                                        const struct fwt_audit_opts *o,
                                        const char *const *images, size_t n, fwt_gate_fn fn,
                                        void *ctx, size_t *n_findings);

#ifdef __cplusplus
}
#endif

#endif /* FWT_KEYS_H */
