/*
 * fwtrust TUF module, internal: the metadata model shared by the client and the
 * repository tool (tuf_meta.c): parsed metadata and its per-type checks, role
 * signature counting, hashes, delegation path matching.
 */
#ifndef FWT_TUF_META_H
#define FWT_TUF_META_H

#include "tuf_json.h"

#include <openssl/evp.h>

/* One metadata file: the exact bytes, the parsed envelope, the canonical signed bytes. */
struct tuf_md {
    json_t *env;
    json_t *signed_; /* borrowed from env */
    uint8_t *raw;
    size_t raw_len;
    char *canon;
    size_t canon_len;
    int64_t version;
    time_t expires;
};

int tuf_is_top_role(const char *name);

/* Parse and check structure (no signatures): strict JSON, envelope, _type == type,
 * spec_version 1.x, version >= 1, expires, and the type's fields. */
FWT_MUST_CHECK fwt_err tuf_md_parse(const uint8_t *buf, size_t len, const char *type, const char *what,
                                    struct tuf_md **out);
void tuf_md_free(struct tuf_md *m);

/* A role object {"keyids": [unique strings], "threshold": >= 1} (FWT_E_META). */
FWT_MUST_CHECK fwt_err tuf_check_role(const json_t *role, const char *name);

/* Role signature counting, the one rule of the client and the repository tool: the
 * role's key ids (each once) with a key in keys ({keyid: key}) and a valid signature
 * in sigs (the envelope's array) over msg (the canonical signed bytes); the same key
 * material under several ids counts once; keys we cannot use never count. *valid gets
 * the count; signed_by (may be NULL) gets the key ids counted (array, role order). */
FWT_MUST_CHECK fwt_err tuf_count_role_sigs(const json_t *sigs, const char *msg, size_t msg_len,
                                           const json_t *keys, const json_t *role, size_t *valid,
                                           json_t *signed_by);

/* Threshold check of md's signatures for role ({"keyids","threshold"}) with keys
 * ({keyid: key}). FWT_E_META_SIG when not met. */
FWT_MUST_CHECK fwt_err tuf_verify_role(const struct tuf_md *md, const json_t *keys, const json_t *role,
                                       const char *role_name, const char *what);

/* Length and hashes of a MetaFile / target against bytes (FWT_E_META_MISMATCH). */
FWT_MUST_CHECK fwt_err tuf_check_metafile_bytes(const json_t *meta, const uint8_t *data, size_t len,
                                                const char *what);
FWT_MUST_CHECK fwt_err tuf_check_hashes(const json_t *hashes, const uint8_t *data, size_t len, const char *what);

#define TUF_MAX_HASHES 4
struct tuf_hash_state {
    EVP_MD_CTX *ctx[TUF_MAX_HASHES];
    const char *expect[TUF_MAX_HASHES];
    const char *alg[TUF_MAX_HASHES];
    size_t n;
};
FWT_MUST_CHECK fwt_err tuf_hash_state_init(struct tuf_hash_state *hs, const json_t *hashes, const char *what);
FWT_MUST_CHECK fwt_err tuf_hash_state_update(struct tuf_hash_state *hs, const uint8_t *data, size_t len);
/* Compares (constant time) and frees. */
FWT_MUST_CHECK fwt_err tuf_hash_state_final(struct tuf_hash_state *hs, const char *what);
void tuf_hash_state_free(struct tuf_hash_state *hs);

/* Does a delegated role ("paths" or "path_hash_prefixes") cover target? */
int tuf_role_matches(const json_t *role, const char *target);
/* Against a scope (a path pattern, or one name): might the role list a target the
 * scope matches (never 0 when it might), does it certainly match every one (never 1
 * when unsure)? For a name without wildcards both are tuf_role_matches. */
int tuf_role_may_hold(const json_t *role, const char *scope);
int tuf_role_covers(const json_t *role, const char *scope);
/* Succinct roles: the bin role name for target (caller frees); is role one of the bins? */
char *tuf_succinct_role_for(const json_t *succ, const char *target);
int tuf_succinct_is_member(const json_t *succ, const char *role);

#endif
