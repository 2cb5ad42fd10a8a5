/*
 * fwtrust provenance: DSSE envelopes (secure-systems-lab/dsse v1.0.0), in-toto
 * Statement v1 and SLSA Provenance v1 predicates, and a verification policy.
 * See docs/provenance.md.
 *
 * Hosted C (OpenSSL, jansson); library fwt_provenance. Signing and key
 * loading go through fwt_crypto (PEM files and PKCS#11 tokens alike).
 */
#ifndef FWT_PROVENANCE_H
#define FWT_PROVENANCE_H

#include "fwtrust_host.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FWT_INTOTO_PAYLOAD_TYPE "application/vnd.in-toto+json"
#define FWT_INTOTO_STATEMENT_V1 "https://in-toto.io/Statement/v1"
#define FWT_SLSA_PROVENANCE_V1 "https://slsa.dev/provenance/v1"
/* The build type fwtrust's own provenance uses (docs/provenance.md). */
#define FWT_PROV_BUILD_TYPE "https://fwtrust.dev/provenance/build/v1"

#define FWT_DSSE_MAX 1048576U  /* largest envelope accepted (bytes) */
#define FWT_DSSE_SIGS_MAX 16U  /* signatures an envelope may carry */
#define FWT_DSSE_KEYS_MAX 128U /* trusted keys one verification may try (16 builders x 8 keys) */
#define FWT_PROV_SUBJECTS_MAX 16U
#define FWT_PROV_DEPS_MAX 64U

/* ---- DSSE ---- */

/*
 * PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
 * (LEN: ASCII decimal, no leading zeros). *out: malloc'd, caller frees.
 */
FWT_MUST_CHECK fwt_err fwt_dsse_pae(const char *type, const uint8_t *body, size_t body_len,
                                    uint8_t **out, size_t *out_len);

/*
 * Base64 decoding as DSSE requires: the standard and the URL-safe alphabet are
 * both accepted (one alphabet per string), padding optional; anything else is
 * FWT_E_MALFORMED. *out malloc'd (NUL-terminated for convenience), free().
 */
FWT_MUST_CHECK fwt_err fwt_base64_decode(const char *in, size_t in_len, uint8_t **out,
                                         size_t *out_len);
/* Standard base64 with padding; *out malloc'd and NUL-terminated. */
FWT_MUST_CHECK fwt_err fwt_base64_encode(const uint8_t *in, size_t len, char **out);

struct fwt_dsse_sig {
    char *keyid; /* may be NULL; a hint only, never used to decide */
    uint8_t *sig;
    size_t sig_len;
};

struct fwt_dsse_envelope {
    char *payload_type;
    uint8_t *payload;
    size_t payload_len;
    struct fwt_dsse_sig sigs[FWT_DSSE_SIGS_MAX];
    size_t n_sigs;
};

/* A new unsigned envelope (copies type and payload). Free with fwt_dsse_free. */
FWT_MUST_CHECK fwt_err fwt_dsse_init(struct fwt_dsse_envelope *env, const char *payload_type,
                                     const uint8_t *payload, size_t payload_len);
void fwt_dsse_free(struct fwt_dsse_envelope *env);
/*
 * Add a signature over PAE(payload_type, payload) with key (fwt_sign_message:
 * Ed25519; ECDSA DER over SHA-256/384; RSA-PSS SHA-256). keyid is the
 * lower-case hex SHA-256 of the key's MCUboot encoding (the fwtrust key id).
 * FWT_E_ARG when this key already signed the envelope.
 */
FWT_MUST_CHECK fwt_err fwt_dsse_sign(struct fwt_dsse_envelope *env, fwt_privkey *key);
/* The envelope as JSON: {"payload","payloadType","signatures":[{"keyid","sig"}]}. free(). */
FWT_MUST_CHECK fwt_err fwt_dsse_serialize(const struct fwt_dsse_envelope *env, char **out,
                                          size_t *out_len);
/*
 * Strict parse: a JSON object with a string payloadType (non-empty), a
 * base64 payload and 1..FWT_DSSE_SIGS_MAX signatures, each an object with a
 * base64 "sig" and an optional string "keyid"; no other members. Errors:
 * FWT_E_MALFORMED naming the cause, FWT_E_TOO_LARGE above FWT_DSSE_MAX.
 */
FWT_MUST_CHECK fwt_err fwt_dsse_parse(const uint8_t *buf, size_t len,
                                      struct fwt_dsse_envelope *env);

/*
 * (t, n) verification (DSSE protocol, "Multi-signature Verification"): every
 * signature is checked against each trusted key; the set of keys that
 * verified one is ACCEPTED. Keys are counted once each, by key id (the same
 * key given twice, or signing twice, counts once). Order: signatures, then
 * payload type. FWT_E_THRESHOLD when fewer than threshold keys accepted
 * (threshold 0 is refused as FWT_E_ARG); FWT_E_META when the payload type
 * differs from expected_type. accepted (optional, n_keys entries) gets 1 for
 * each key that verified a signature. ECDSA signatures are accepted in DER
 * or as raw r||s (IEEE P1363, as the DSSE test vector is written).
 */
FWT_MUST_CHECK fwt_err fwt_dsse_verify(const struct fwt_dsse_envelope *env,
                                       const fwt_pubkey *const *keys, size_t n_keys,
                                       size_t threshold, const char *expected_type,
                                       uint8_t *accepted);

/* ---- in-toto Statement v1 with a SLSA Provenance v1 predicate ---- */

struct fwt_prov_digest {
    enum fwt_hash_alg alg;
    uint8_t value[FWT_DIGEST_MAX];
    size_t len;
};

struct fwt_prov_subject {
    char *name;
    struct fwt_prov_digest digests[3]; /* sha256, sha384, sha512: at most one each */
    size_t n_digests;
};

struct fwt_prov_dep {
    char *uri;
    char *digest_alg; /* "sha256", "gitCommit", ...: as written */
    char *digest_hex;
};

/* What a builder states (make: the input; parse: the result). */
struct fwt_provenance {
    struct fwt_prov_subject subjects[FWT_PROV_SUBJECTS_MAX];
    size_t n_subjects;
    char *predicate_type;
    char *build_type;
    char *builder_id;
    char *source_uri;      /* externalParameters.source.uri */
    char *source_revision; /* externalParameters.source.revision */
    char *invocation_id;   /* runDetails.metadata.invocationId; may be NULL */
    char *started_on;      /* RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" */
    char *finished_on;
    struct fwt_prov_dep deps[FWT_PROV_DEPS_MAX];
    size_t n_deps;
};

void fwt_provenance_free(struct fwt_provenance *p);
/*
 * The in-toto Statement (compact JSON, sorted keys) for p: subjects, SLSA v1
 * predicate (buildDefinition: buildType, externalParameters.source,
 * resolvedDependencies; runDetails: builder.id, metadata). *out free().
 */
FWT_MUST_CHECK fwt_err fwt_provenance_statement(const struct fwt_provenance *p, char **out,
                                                size_t *out_len);
/*
 * Parse a Statement: _type must be in-toto Statement v1; 1..SUBJECTS_MAX
 * subjects, each with a name and a digest map of sha256/sha384/sha512 values of
 * exactly their length in lower-case hex (another algorithm, a wrong length
 * or no digest: FWT_E_MALFORMED); predicateType as written (the policy checks
 * it); for the SLSA v1 predicate, builder id and source are read.
 */
FWT_MUST_CHECK fwt_err fwt_provenance_parse(const uint8_t *buf, size_t len,
                                            struct fwt_provenance *p);
/*
 * Binding provenance into an image (fwtrust sign --provenance): the envelope in
 * env must be a DSSE envelope of an in-toto Statement (signatures are not
 * checked here: the repository and devices check them against their policy)
 * with a subject whose sha256 equals the SHA-256 of the file at artifact (the
 * build output being signed); digest gets the SHA-256 of the envelope's bytes,
 * the value of the image's FWT_TLV_PROVENANCE. FWT_E_DIGEST when no subject is
 * the artifact.
 */
FWT_MUST_CHECK fwt_err fwt_provenance_bind(const uint8_t *env, size_t env_len, const char *artifact,
                                           uint8_t digest[32]);
/* The digest of a whole file (streamed). out: FWT_DIGEST_MAX bytes; *len gets the size. */
FWT_MUST_CHECK fwt_err fwt_prov_file_digest(const char *path, enum fwt_hash_alg alg, uint8_t *out,
                                            size_t *len);
/* RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" of t, into buf (at least 21 bytes). */
void fwt_rfc3339(int64_t t, char buf[32]);

/* ---- policy ---- */

#define FWT_POLICY_BUILDERS_MAX 16U
#define FWT_POLICY_KEYS_MAX 8U

struct fwt_prov_builder {
    char *id;
    fwt_pubkey *keys[FWT_POLICY_KEYS_MAX];
    size_t n_keys;
};

struct fwt_prov_policy {
    char *predicate_type; /* default FWT_SLSA_PROVENANCE_V1 */
    char *build_type;     /* NULL: any */
    char *source_uri;     /* required */
    char *source_revision; /* NULL: any (the caller may demand one) */
    struct fwt_prov_builder builders[FWT_POLICY_BUILDERS_MAX];
    size_t n_builders;
    uint32_t threshold;         /* signatures by distinct keys of the builder, >= 1 */
    uint32_t required_builders; /* independent builders that must agree, >= 1 */
};

/*
 * Parse a policy (JSON, docs/provenance.md): {"version":1, "source_uri", ...,
 * "builders":[{"id", "keys":[PEM text]}], "threshold", "required_builders"}.
 * Unknown members, a missing source_uri or builder list, duplicate builder
 * ids, a key under two builders, thresholds of 0 or above the keys a builder
 * has, required_builders above the builders listed: FWT_E_MALFORMED naming
 * the cause. Keys are PEM text only: a policy never names a file, a module or
 * a token.
 */
FWT_MUST_CHECK fwt_err fwt_prov_policy_parse(const uint8_t *buf, size_t len,
                                             struct fwt_prov_policy *pol);
void fwt_prov_policy_free(struct fwt_prov_policy *pol);

/* The verdict on one envelope. */
struct fwt_prov_result {
    size_t builder;  /* index in pol->builders */
    size_t n_valid_sigs;
    struct fwt_provenance prov; /* parsed statement (fwt_provenance_free) */
};

/*
 * Verify one envelope for an artifact with digest (alg, digest), in this order,
 * each failure naming its step: (1) DSSE signatures against every policy key;
 * (2) payload type in-toto; (3) statement parses; (4) predicate type and build
 * type; (5) builder id on the allow-list, and at least threshold accepted
 * keys belong to that builder; (6) source URI and revision (revision: the
 * policy's, else expected_revision when not NULL); (7) a subject carries the
 * artifact's digest for alg (constant-time compare). Errors: FWT_E_THRESHOLD,
 * FWT_E_META (type), FWT_E_MALFORMED, FWT_E_UNKNOWN_KEY (builder),
 * FWT_E_META_MISMATCH (source), FWT_E_DIGEST (subject).
 */
FWT_MUST_CHECK fwt_err fwt_prov_verify(const struct fwt_prov_policy *pol,
                                       const struct fwt_dsse_envelope *env,
                                       enum fwt_hash_alg alg, const uint8_t *digest,
                                       size_t digest_len, const char *expected_revision,
                                       struct fwt_prov_result *res);

/*
 * Several envelopes for one artifact: each verified by fwt_prov_verify; the
 * distinct builders among those that pass are counted, and fewer than
 * pol->required_builders is FWT_E_THRESHOLD (naming the builders that agreed
 * and why the others failed). *n_agree: distinct builders that passed.
 * ok (optional, n entries): 1 for each envelope that passed.
 */
FWT_MUST_CHECK fwt_err fwt_prov_verify_builders(const struct fwt_prov_policy *pol,
                                                const struct fwt_dsse_envelope *envs, size_t n,
                                                enum fwt_hash_alg alg, const uint8_t *digest,
                                                size_t digest_len, const char *expected_revision,
                                                size_t *n_agree, uint8_t *ok);

/* ---- Approvals of a short-lived signing certificate (docs/key-custody.md) ---- */

#define FWT_APPROVAL_PAYLOAD_TYPE "application/vnd.fwtrust.cert-approval+json"
#define FWT_APPROVAL_TYPE "https://fwtrust.dev/cert-approval/v1"
#define FWT_APPROVALS_MAX 16U

/*
 * An approver's consent that signing_key be certified for the one build whose
 * provenance envelope is env: a DSSE envelope (payload type FWT_APPROVAL_PAYLOAD_TYPE)
 * signed by approver, over {"_type", "provenance_sha256", "builder_id", "signing_key_id",
 * "approved_at", "expires"} (expires = now + valid_for seconds, 1 s to 7 days). The
 * provenance must be an in-toto statement with a builder id. *out: free().
 */
FWT_MUST_CHECK fwt_err fwt_approval_make(fwt_privkey *approver, const uint8_t *env, size_t env_len,
                                         const fwt_pubkey *signing_key, int64_t now,
                                         int64_t valid_for, char **out, size_t *out_len);

/* What a set of approvals established (fwt_approval_check). */
struct fwt_approval_result {
    uint8_t provenance_sha256[32];
    char builder_id[256];
    size_t n_approvers;                /* distinct approver keys with a valid approval */
    uint8_t approvers[FWT_APPROVALS_MAX][32]; /* their key ids */
    int64_t expires;                   /* the earliest expiry among them */
};

/*
 * k-of-n: at least k distinct keys among approvers (n_approvers, counted by key id)
 * each made a valid approval (signature by that key, payload type, format) naming
 * this provenance envelope's SHA-256, its builder id and signing_key, not expired at
 * now. Approvals by unknown keys, for another build or key, or expired, do not count
 * (the detail names why each failed). FWT_E_THRESHOLD below k; k 0 is FWT_E_ARG.
 */
FWT_MUST_CHECK fwt_err fwt_approval_check(const uint8_t *const *approvals, const size_t *lens, size_t n,
                                          const fwt_pubkey *const *approvers, size_t n_approvers,
                                          size_t k, const uint8_t *env, size_t env_len,
                                          const fwt_pubkey *signing_key, int64_t now,
                                          struct fwt_approval_result *res);

/* ---- Revocation list (docs/provenance.md, "Revocation list") ---- */

#define FWT_REVOCATION_PAYLOAD_TYPE "application/vnd.fwtrust.revocation+json"
#define FWT_REVOCATION_TYPE "https://fwtrust.dev/revocation/v1"
#define FWT_REVOCATION_ENTRIES_MAX 4096U /* per list */

/*
 * A revocation list: signed (DSSE, payload type FWT_REVOCATION_PAYLOAD_TYPE)
 * by the keys devices trust for revocation, published as a TUF target, with a
 * version that only grows. key_ids: fwtrust key ids (SHA-256 of the MCUboot
 * key encoding: a directly trusted image key, a certified signing key, or a
 * certificate root); key_versions: certificate key versions; digests: image
 * digests (the hash TLV value).
 */
struct fwt_revocation {
    uint64_t version; /* >= 1 */
    char issued[32];  /* RFC 3339 */
    uint8_t (*key_ids)[32];
    size_t n_key_ids;
    uint32_t *key_versions;
    size_t n_key_versions;
    struct fwt_prov_digest *digests;
    size_t n_digests;
};
void fwt_revocation_free(struct fwt_revocation *r);
/* The payload (compact JSON, sorted keys and sorted, de-duplicated entries). free(). */
FWT_MUST_CHECK fwt_err fwt_revocation_encode(const struct fwt_revocation *r, char **out,
                                             size_t *out_len);
/*
 * Strict parse of a payload: _type, version (1..2^53), issued, key_ids (64 hex),
 * key_versions (0..2^32-1), image_digests ({"sha256"|"sha384"|"sha512": hex});
 * no other members, at most FWT_REVOCATION_ENTRIES_MAX entries in each list.
 * FWT_E_MALFORMED naming the cause.
 */
FWT_MUST_CHECK fwt_err fwt_revocation_parse(const uint8_t *buf, size_t len,
                                            struct fwt_revocation *r);
/*
 * A signed list: parse the envelope, check threshold signatures by distinct
 * keys among keys (fwt_dsse_verify), the payload type, then parse the payload.
 */
FWT_MUST_CHECK fwt_err fwt_revocation_open(const uint8_t *env, size_t env_len,
                                           const fwt_pubkey *const *keys, size_t n_keys,
                                           size_t threshold, struct fwt_revocation *r);
/* 1 when listed (constant-time compares), 0 otherwise. */
int fwt_revocation_has_key(const struct fwt_revocation *r, const uint8_t key_id[32]);
int fwt_revocation_has_key_version(const struct fwt_revocation *r, uint32_t key_version);
int fwt_revocation_has_digest(const struct fwt_revocation *r, const uint8_t *digest, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* FWT_PROVENANCE_H */
