/*
 * fwtrust repo commands: the helpers they share (internal to fwt_tuf_repo). One file
 * per operation: repo_init.c, repo_targets.c (add-target, remove-target),
 * repo_delegate.c, repo_sign.c, repo_publish.c (publish, timestamp), repo_rotate.c
 * (rotate-key, revoke-key), repo_status.c (status, its --check-expiry, recover),
 * repo_list.c (list); repo_cmd.c holds what they share: staging, signing and threshold
 * checks.
 */
#ifndef FWT_TUF_REPO_CMD_H
#define FWT_TUF_REPO_CMD_H

#include "repo.h"

#define SIGNED(env) json_object_get((env), "signed")

FWT_MUST_CHECK fwt_err repo_oom(void);

json_int_t repo_version_of(const json_t *env);

void repo_expires_in(const struct repo *r, const char *role, char out[21]);

json_t *repo_new_env(json_t *signed_obj);

/* Threshold state of env under rk: FWT_OK when met, FWT_E_META_SIG naming what is missing. */
fwt_err repo_threshold_met(const char *what, const json_t *env, const struct repo_role_keys *rk,
                           size_t *valid_out, size_t *th_out);

/* Add role keys from a keyring to a keys map and a role object. */
FWT_MUST_CHECK fwt_err repo_add_role_keys(json_t *keys, json_t *role, struct repo_key *const *ks, size_t n);

FWT_MUST_CHECK fwt_err repo_load_keys(struct repo_keyring *kr, const char *const *specs, size_t n,
                                      const struct fwt_key_opts *ko, struct repo_key **out);

FWT_MUST_CHECK fwt_err repo_staged_path(const struct repo *r, const char *role, char **p);

/* The first n keys of kr (given to sign role) must each be a key of role: for root, of the
 * current root or of the published one (both sign a new root); else of the role's current
 * delegator. extra (may be NULL) is one more acceptable role. */
FWT_MUST_CHECK fwt_err repo_check_signers(const struct repo *r, const struct repo_keyring *kr, size_t n, const char *role,
                                          const struct repo_role_keys *extra);

/* Sign env (role) with every suitable key of kr; for root also with the published root's keys.
 * Nothing malformed is ever signed: the role's structure is checked first. */
FWT_MUST_CHECK fwt_err repo_sign_role(const struct repo *r, const char *role, json_t *env, const struct repo_keyring *kr,
                                      size_t *added);

/* Is the staged/current role's threshold met (root: old and new)? Fills report fields. */
FWT_MUST_CHECK fwt_err repo_role_signed_enough(const struct repo *r, const char *role, const json_t *env, json_t *info);

/* Stage env for role: write staged/ROLE.json (after signing with kr). */
FWT_MUST_CHECK fwt_err repo_stage_and_sign(const struct repo *r, const char *role, json_t *env,
                                           const struct repo_keyring *kr, struct repo_txn *txn, json_t *report);

void repo_report_init(json_t *report);

/* The command that renews role's metadata. */
void repo_renew_hint(const struct repo *r, const char *role, char *out, size_t cap);

/* The read-only commands (status, list): FWT_E_STATE while an operation a crash interrupted
 * is pending (report "interrupted" says in which state; the message names the command that
 * completes or rolls it back). */
FWT_MUST_CHECK fwt_err repo_refuse_pending(const struct repo *r, json_t *report);

#endif
