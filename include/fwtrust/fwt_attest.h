/*
 * fwtrust remote attestation, verifier side (docs/attestation.md), and the
 * formats both sides share: the measured-boot event log (TCG PC Client
 * crypto-agile format), the TPM 2.0 structures a verifier reads (TPM2B_PUBLIC,
 * TPMS_ATTEST, TPMT_SIGNATURE: strict parsers, each with a fuzz target),
 * software MakeCredential (TPM 2.0 Part 1, 24; OpenSSL only, no TPM on the
 * server), and quote verification against a catalog of signed images, whose
 * result is an EAT-shaped claims record (RFC 9711 claim names) signed by the
 * server. Library fwt_attest (OpenSSL, jansson; no tpm2-tss).
 *
 * Hosted C. Include <fwtrust/fwt_util.h> first.
 */
#ifndef FWT_ATTEST_H
#define FWT_ATTEST_H

#include <fwtrust/fwt_util.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- PCR usage of fwtrust-boot (docs/attestation.md) ---- */
#define FWT_PCR_IMAGE 8U   /* the booted image's digest */
#define FWT_PCR_SIGNER 9U  /* the key hash of its signer */
#define FWT_PCR_CONFIG 11U /* SHA-256 of DIR/device.ini */
#define FWT_PCR_MASK ((1U << FWT_PCR_IMAGE) | (1U << FWT_PCR_SIGNER) | (1U << FWT_PCR_CONFIG))

/* ---- Event log: TCG PC Client Platform Firmware Profile, crypto-agile (SHA-256 only) ---- */

#define FWT_EV_NO_ACTION 0x00000003U
#define FWT_EV_EVENT_TAG 0x00000006U
/* taggedEventID of fwtrust's EV_EVENT_TAG events ("FWT" and a number). */
#define FWT_TAG_IMAGE 0x46575401U
#define FWT_TAG_SIGNER 0x46575402U
#define FWT_TAG_CONFIG 0x46575403U
#define FWT_EVENTLOG_MAX (1U << 20)   /* bytes */
#define FWT_EVENT_DATA_MAX 4096U      /* bytes of one event's data */

struct fwt_tcg_event {
    uint32_t pcr;
    uint32_t type;       /* FWT_EV_EVENT_TAG for fwtrust's events */
    uint8_t digest[32];  /* the SHA-256 bank's digest */
    uint32_t tag;        /* taggedEventID when type is FWT_EV_EVENT_TAG, else 0 */
    const uint8_t *data; /* the tagged event's data (or the whole event data) */
    size_t data_len;
};

/* The log's first record: the Spec ID Event03 header declaring one bank, SHA-256.
 * *out is malloc'd. */
FWT_MUST_CHECK fwt_err fwt_tcglog_header(uint8_t **out, size_t *len);
/* One TCG_PCR_EVENT2 record of type EV_EVENT_TAG (tag, data as given). */
FWT_MUST_CHECK fwt_err fwt_tcglog_event(uint32_t pcr, uint32_t tag, const uint8_t digest[32],
                                        const uint8_t *data, size_t data_len, uint8_t **out,
                                        size_t *len);
/*
 * Strict parse of a whole log: the header (Spec ID Event03, exactly the SHA-256
 * bank), then records to the last byte (a truncated record is FWT_E_MALFORMED;
 * so are PCR indexes above 23, other banks, an EV_EVENT_TAG whose inner size
 * disagrees with its event size, sizes above the limits). cb is called per
 * record after the header (not for EV_NO_ACTION); a non-zero return stops the
 * walk with FWT_E_ARG. At most FWT_EVENTLOG_MAX bytes.
 */
typedef int (*fwt_tcglog_cb)(void *ctx, const struct fwt_tcg_event *ev);
FWT_MUST_CHECK fwt_err fwt_tcglog_parse(const uint8_t *buf, size_t len, fwt_tcglog_cb cb,
                                        void *ctx);
/* Replay: PCR i := SHA-256(PCR i || digest) from zero for every event; pcrs[24][32]. */
FWT_MUST_CHECK fwt_err fwt_tcglog_replay(const uint8_t *buf, size_t len, uint8_t pcrs[24][32]);

/* ---- TPM 2.0 structures ---- */

#define FWT_TPM_ALG_RSA 0x0001U
#define FWT_TPM_ALG_SHA256 0x000bU
#define FWT_TPM_ALG_NULL 0x0010U
#define FWT_TPM_ALG_ECDSA 0x0018U
#define FWT_TPM_ALG_ECC 0x0023U
#define FWT_TPM_ECC_NIST_P256 0x0003U
#define FWT_TPM_GENERATED 0xff544347U
#define FWT_TPM_ST_ATTEST_QUOTE 0x8018U

struct fwt_tpm_public {
    uint16_t type, name_alg;
    uint32_t attributes;
    uint8_t auth_policy[64];
    size_t auth_policy_len;
    uint16_t sym_alg, sym_bits, sym_mode;
    uint16_t scheme, scheme_hash;
    uint16_t rsa_bits;
    uint32_t rsa_exponent;
    uint16_t curve, kdf;
    uint8_t unique[512]; /* RSA modulus, or the ECC point's x */
    size_t unique_len;
    uint8_t unique_y[128];
    size_t unique_y_len;
    uint8_t name[34]; /* nameAlg (SHA-256) || SHA-256(TPMT_PUBLIC) */
};
/* A marshalled TPM2B_PUBLIC (RSA or ECC; nameAlg SHA-256), every byte consumed. */
FWT_MUST_CHECK fwt_err fwt_tpm_public_parse(const uint8_t *buf, size_t len,
                                            struct fwt_tpm_public *out);

struct fwt_tpms_attest {
    uint32_t magic;
    uint16_t type;
    uint8_t extra[64]; /* qualifying data: the nonce */
    size_t extra_len;
    uint64_t clock;
    uint32_t reset_count, restart_count;
    uint8_t safe;
    uint64_t firmware_version;
    uint16_t pcr_hash;  /* the one bank selected */
    uint32_t pcr_mask;  /* PCRs selected in it */
    uint8_t pcr_digest[64];
    size_t pcr_digest_len;
};
/*
 * A TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE, every byte consumed, sizes
 * bounded. The magic and type are returned as read (the verifier names them
 * when wrong); a selection of more than one bank is FWT_E_MALFORMED.
 */
FWT_MUST_CHECK fwt_err fwt_tpms_attest_parse(const uint8_t *buf, size_t len,
                                             struct fwt_tpms_attest *out);

struct fwt_tpmt_signature {
    uint16_t alg, hash;
    uint8_t r[66], s[66];
    size_t r_len, s_len;
};
/* A marshalled TPMT_SIGNATURE: ECDSA only; every byte consumed. */
FWT_MUST_CHECK fwt_err fwt_tpmt_signature_parse(const uint8_t *buf, size_t len,
                                                struct fwt_tpmt_signature *out);

/* ---- Enrollment: EK certificate, MakeCredential ---- */

/*
 * Check an EK: ek_cert (DER) chains to a CA in ca_file (PEM, the TPM
 * manufacturers' roots and intermediates the server trusts), ek_pub (TPM2B_PUBLIC)
 * is the EK template's RSA 2048 restricted decryption key (fwt_tpm.h) and holds
 * the certificate's public key. FWT_E_CERT naming the failed check.
 */
FWT_MUST_CHECK fwt_err fwt_attest_check_ek(const uint8_t *ek_cert, size_t cert_len,
                                           const char *ca_file, const uint8_t *ek_pub,
                                           size_t ek_len);
/* Check an AK's public area: restricted ECDSA P-256 SHA-256 signing key, fixedTPM,
 * fixedParent, sensitiveDataOrigin, userWithAuth, noDA, not decrypt. FWT_E_KEY naming what differs. */
FWT_MUST_CHECK fwt_err fwt_attest_check_ak(const uint8_t *ak_pub, size_t ak_len,
                                           struct fwt_tpm_public *out);
/*
 * TPM2_MakeCredential in software: protect cred (1..32 bytes) to the EK (RSA,
 * OAEP-SHA256 seed with label "IDENTITY") for the object named ak_name (34 bytes).
 * blob gets a marshalled TPM2B_ID_OBJECT, secret a TPM2B_ENCRYPTED_SECRET
 * (both malloc'd).
 */
FWT_MUST_CHECK fwt_err fwt_attest_make_credential(const uint8_t *ek_pub, size_t ek_len,
                                                  const uint8_t ak_name[34], const uint8_t *cred,
                                                  size_t cred_len, uint8_t **blob,
                                                  size_t *blob_len, uint8_t **secret,
                                                  size_t *secret_len);

struct fwt_attest_image;

/* ---- Documents exchanged between device, verifier and their stores ---- */

/*
 * A JSON object {"type": TYPE, FIELD: "hex", ...}: the one model of every
 * attestation document (docs/attestation.md lists them): enrollment request
 * (ek_cert, ek_public, ak_public), challenge (credential_blob, secret),
 * activation (credential), the verifier's pending enrollment and enrolled AK,
 * the quote evidence (quote, signature, pcr8, pcr9, pcr11, eventlog).
 * parse: strict JSON (duplicate keys refused), at most 4 MiB, type must match.
 */
#define FWT_DOC_ENROLL_REQUEST "fwtrust-attest-enroll-request"
#define FWT_DOC_CHALLENGE "fwtrust-attest-challenge"
#define FWT_DOC_ACTIVATION "fwtrust-attest-activation"
#define FWT_DOC_PENDING "fwtrust-attest-pending"
#define FWT_DOC_AK "fwtrust-attest-ak"
#define FWT_DOC_EVIDENCE "fwtrust-attest-evidence"
typedef struct fwt_attest_doc fwt_attest_doc;
FWT_MUST_CHECK fwt_err fwt_attest_doc_new(const char *type, fwt_attest_doc **d);
FWT_MUST_CHECK fwt_err fwt_attest_doc_parse(const char *json, size_t len, const char *type,
                                            fwt_attest_doc **d);
const char *fwt_attest_doc_type(const fwt_attest_doc *d);
FWT_MUST_CHECK fwt_err fwt_attest_doc_set_hex(fwt_attest_doc *d, const char *field,
                                              const uint8_t *b, size_t n);
FWT_MUST_CHECK fwt_err fwt_attest_doc_set_int(fwt_attest_doc *d, const char *field, int64_t v);
/* A required hex field of at most max bytes (malloc'd); FWT_E_MALFORMED naming it. */
FWT_MUST_CHECK fwt_err fwt_attest_doc_get_hex(const fwt_attest_doc *d, const char *field,
                                              size_t max, uint8_t **out, size_t *n);
/* An integer field; *v = dflt when absent. */
FWT_MUST_CHECK fwt_err fwt_attest_doc_get_int(const fwt_attest_doc *d, const char *field,
                                              int64_t dflt, int64_t *v);
FWT_MUST_CHECK fwt_err fwt_attest_doc_dump(const fwt_attest_doc *d, char **out);
void fwt_attest_doc_free(fwt_attest_doc *d);

/*
 * The catalog the verifier checks measurements against: a JSON array of
 * {"name", "version", "image_digest" (hex, the image's hash TLV value),
 * "signer_keyhash" (hex, SHA-256 of the signing key as fwtrust-boot measures
 * it)}, built by the server from its published targets and signing-log entries.
 * Strict; *out and its strings are one allocation (free(*out)).
 */
FWT_MUST_CHECK fwt_err fwt_attest_catalog_parse(const char *json, size_t len,
                                                struct fwt_attest_image **out, size_t *n);

/* A (digest, signer) pair of the signing log (fwt_signlog_record's digest and keyhash). */
struct fwt_attest_signed {
    uint8_t digest[64];
    size_t digest_len;
    uint8_t keyhash[32];
};
/*
 * Build the catalog (the JSON fwt_attest_catalog_parse reads) from published TUF
 * targets metadata (targets[i]: whole metadata files, the top-level targets role and
 * delegated roles, as the caller's own repository holds them: not checked for
 * signatures here) and the signing log: one entry per fwtrust target (custom.fwtrust)
 * and signer; the signers are the target's verified_signers, or, when it lists none,
 * the signing log's signers of its digest; with use_log, only (digest, signer) pairs
 * the log holds are kept (published and logged). Targets without custom.fwtrust are
 * skipped; a malformed one is FWT_E_META naming it. *out malloc'd.
 */
FWT_MUST_CHECK fwt_err fwt_attest_catalog_build(const char *const *targets, const size_t *lens,
                                                size_t n, const struct fwt_attest_signed *logged,
                                                size_t n_logged, int use_log, char **out);

/* ---- Quote verification ---- */

enum fwt_attest_verdict { FWT_ATTEST_PASS = 1, FWT_ATTEST_FAIL = 2, FWT_ATTEST_UNKNOWN = 3 };

/* Why a quote failed, in the order the checks run; each has its own name. */
#define FWT_ATTEST_REASONS(X)                                                                      \
    X(NONE, "none")                                                                                \
    X(AK_NOT_ACTIVATED, "ak_not_activated")                                                        \
    X(QUOTE_MALFORMED, "quote_malformed")                                                          \
    X(SIGNATURE, "signature")                                                                      \
    X(MAGIC, "not_tpm_generated")                                                                  \
    X(TYPE, "not_a_quote")                                                                         \
    X(NONCE_MISMATCH, "nonce_mismatch")                                                            \
    X(NONCE_UNKNOWN, "nonce_unknown")                                                              \
    X(NONCE_REPLAYED, "nonce_replayed")                                                            \
    X(PCR_SELECTION, "pcr_selection")                                                              \
    X(PCR_DIGEST, "pcr_digest")                                                                    \
    X(EVENTLOG_MALFORMED, "eventlog_malformed")                                                    \
    X(EVENTLOG_REPLAY, "eventlog_replay")                                                          \
    X(UNEXPECTED_EVENT, "unexpected_event")                                                        \
    X(MEASURED_AFTER_BOOT, "measured_after_boot")                                                  \
    X(NO_IMAGE, "no_image_measured")                                                               \
    X(UNKNOWN_IMAGE, "unknown_image")                                                              \
    X(SIGNER_MISMATCH, "signer_mismatch")                                                          \
    X(NOT_ASSIGNED, "not_assigned_release")                                                        \
    X(INTERNAL, "verifier_error")
#define FWT_ATTEST_R_ENUM(n, s) FWT_ATTEST_R_##n,
enum fwt_attest_reason { FWT_ATTEST_REASONS(FWT_ATTEST_R_ENUM) FWT_ATTEST_R__COUNT };
#undef FWT_ATTEST_R_ENUM
const char *fwt_attest_reason_name(enum fwt_attest_reason r);

/* Single-use nonces: the caller's store (a database on the server). consume marks
 * the nonce used and says what it was before. */
enum fwt_nonce_state { FWT_NONCE_FRESH = 1, FWT_NONCE_USED = 2, FWT_NONCE_UNKNOWN = 3 };
struct fwt_attest_nonce_store {
    void *ctx;
    fwt_err (*consume)(void *ctx, const uint8_t *nonce, size_t len, enum fwt_nonce_state *state);
};

/* One signed image the device may run: from the published TUF targets and the
 * signing log (the server feeds them). digest: the image digest (hash TLV). */
struct fwt_attest_image {
    const char *name;    /* target name */
    const char *version; /* image version */
    uint8_t digest[64];
    size_t digest_len;
    uint8_t signer_keyhash[32];
};

struct fwt_attest_input {
    const uint8_t *ak_pub; /* the enrolled AK (TPM2B_PUBLIC) */
    size_t ak_len;
    int ak_activated;      /* credential activation completed at enrollment */
    const uint8_t *nonce;  /* the nonce this request was issued (may be NULL: extraData alone) */
    size_t nonce_len;
    const struct fwt_attest_nonce_store *nonces; /* required */
    const uint8_t *quote;  /* TPMS_ATTEST bytes */
    size_t quote_len;
    const uint8_t *sig;    /* TPMT_SIGNATURE */
    size_t sig_len;
    const uint8_t (*pcrs)[32]; /* [24]: the reported values of FWT_PCR_MASK's PCRs */
    const uint8_t *eventlog;
    size_t eventlog_len;
    const struct fwt_attest_image *catalog;
    size_t n_catalog;
    const char *assigned;  /* target name the device should run; NULL: not checked */
};

struct fwt_attest_result {
    enum fwt_attest_verdict verdict;
    enum fwt_attest_reason reason;
    char detail[256];
    int steps_passed; /* how many of the checks passed before the verdict */
    struct fwt_tpms_attest attest; /* valid once the quote parsed */
    int have_attest;
    const struct fwt_attest_image *running; /* the last image measured, if in the catalog */
    unsigned images, signers, configs;       /* events seen */
    uint8_t config_digest[32];
    int have_config;
};

/*
 * Verify, in order: AK activated, signature (AK, ECDSA over SHA-256 of the
 * quote), magic, type, nonce (equal to the issued one, then consumed from the
 * store: unknown and used are refused), PCR selection (exactly the SHA-256
 * bank, FWT_PCR_MASK), PCR digest (over the reported values), event log (parse,
 * replay equal to the reported values), on PCRs 8, 9, 11 exactly one boot's
 * events (fwtrust's image, signer and configuration events, once each: a
 * bootloader runs once per TPM reset, so more is code after the boot measuring
 * on its behalf), the image in the catalog and its signer event matching that
 * image's signer, the running image being the assigned one. FWT_OK when the verification ran (the verdict, pass or fail with
 * its reason, is in res); another error (res->verdict UNKNOWN) when it could
 * not run: bad arguments, the nonce store failing, memory.
 */
FWT_MUST_CHECK fwt_err fwt_attest_verify(const struct fwt_attest_input *in,
                                         struct fwt_attest_result *res);

/*
 * The attestation record: EAT-shaped claims (eat_nonce, ueid, hwmodel, swname,
 * swversion, bootcount, measurements, measres, iat, and "fwtrust" with the
 * verdict, reason, detail and the TPM clock info) as a TUF-style envelope
 * {"signed": claims, "signatures": [{"keyid", "sig"}]} signed by key over
 * the canonical JSON. ueid: 0x01 (RAND type) || SHA-256 of ek_pub, base64url.
 * *out malloc'd, NUL-terminated.
 */
FWT_MUST_CHECK fwt_err fwt_attest_record(const struct fwt_attest_input *in,
                                         const struct fwt_attest_result *res,
                                         const uint8_t *ek_pub, size_t ek_len,
                                         const char *hw_id, int64_t now, fwt_privkey *key,
                                         char **out);

/* ---- The verifier's steps on documents (what a server or `fwtrust attest` calls) ---- */

/*
 * Enrollment, step 1: check the request's EK (fwt_attest_check_ek with ca_file)
 * and AK (fwt_attest_check_ak), draw a 32-byte credential and make it for them.
 * *challenge (for the device) and *pending (the verifier keeps it, secret: it
 * holds the credential) are malloc'd documents. FWT_E_CERT / FWT_E_KEY on a
 * refused EK / AK.
 */
FWT_MUST_CHECK fwt_err fwt_attest_enroll_challenge(const char *request, size_t len,
                                                   const char *ca_file, char **challenge,
                                                   char **pending);
/* Step 2: the device's activation must hold the pending credential (constant-time
 * compare; FWT_E_SIGNATURE otherwise). *ak is the enrolled-AK document. */
FWT_MUST_CHECK fwt_err fwt_attest_enroll_finish(const char *pending, size_t plen,
                                                const char *activation, size_t alen, char **ak);

/*
 * A nonce store in a directory (for the command-line verifier and tests; a
 * server keeps nonces in its database): issue writes DIR/issued/HEX; consume
 * renames it to DIR/used/HEX (atomic: one consumer wins), so a nonce is fresh
 * once, then used; a name never issued is unknown.
 */
FWT_MUST_CHECK fwt_err fwt_attest_nonce_dir_issue(const char *dir, uint8_t nonce[32]);
void fwt_attest_nonce_dir_store(const char *dir, struct fwt_attest_nonce_store *st);

struct fwt_attest_verify_docs {
    const char *ak;       /* enrolled AK document (a pending one: never activated) */
    size_t ak_len;
    const char *evidence; /* the device's evidence document */
    size_t evidence_len;
    const struct fwt_attest_image *catalog;
    size_t n_catalog;
    const uint8_t *nonce; /* the nonce issued for this request, or NULL */
    size_t nonce_len;
    const struct fwt_attest_nonce_store *nonces;
    const char *assigned; /* or NULL */
    const char *hw_id;    /* the device's hardware id (hwmodel), or NULL */
    int64_t now;          /* iat */
    fwt_privkey *key;     /* the server's record signing key */
};
/*
 * Parse the documents, verify (fwt_attest_verify) and sign the record
 * (fwt_attest_record; *record malloc'd, also for a failed verdict). FWT_OK
 * when a verdict was reached (res->verdict says which); FWT_E_MALFORMED for
 * unreadable documents (no record then).
 */
FWT_MUST_CHECK fwt_err fwt_attest_verify_documents(const struct fwt_attest_verify_docs *in,
                                                   struct fwt_attest_result *res, char **record);

#ifdef __cplusplus
}
#endif

#endif /* FWT_ATTEST_H */
