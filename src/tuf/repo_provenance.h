/* The repository's provenance policy (repo_provenance.c), used by add-target. */
#ifndef FWT_REPO_PROVENANCE_H
#define FWT_REPO_PROVENANCE_H

#include <fwtrust/fwtrust_host.h>
#include <fwtrust/fwt_repo.h>

#define REPO_PROVENANCE_POLICY "provenance-policy.json" /* DIR/provenance-policy.json */
#define REPO_MAX_PROVENANCE 16U

/*
 * Does the repository in dir have a provenance policy? 1 yes, 0 no.
 */
int repo_provenance_has_policy(const char *dir);

/*
 * An image target must satisfy the repository's policy (when it has one) with
 * the envelopes given: fwt_prov_verify_builders over the SHA-256 of the image's
 * payload (the bytes the builders built: header excluded), so that at least
 * required_builders independent builders name that digest; and the image's
 * protected FWT_TLV_PROVENANCE must be the SHA-256 of one envelope that passed
 * (fwtrust sign --provenance). Envelopes without a policy: FWT_E_ARG (nothing
 * to check them against). *summary (caller decrefs): {"builders": [ids of the
 * envelopes that passed], "passed": [their indexes in envs], "bound": index of the
 * bound envelope, "payload_sha256": hex, "required_builders": k, "encrypted": bool}.
 * An encrypted image (ENCRYPTED flag) is judged by its plaintext: dkey (the device's
 * decryption key) decrypts it, the plaintext must match the hash TLV (FWT_E_DIGEST), and
 * the payload digest the envelopes must name is the plaintext's, with or without the zero
 * bytes that fill its last AES block; without dkey, FWT_E_UNSUPPORTED. An envelope naming
 * the ciphertext does not count: provenance describes what was built, before encryption.
 * Errors name the envelope and the step that failed; nothing is changed.
 */
FWT_MUST_CHECK fwt_err repo_provenance_check(const char *dir, const char *image,
                                             const char *const *envs, size_t n,
                                             const fwt_enckey *dkey, json_t **summary);

#endif /* FWT_REPO_PROVENANCE_H */
