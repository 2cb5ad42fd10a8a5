/*
 * fwtrust device-side TPM 2.0 access (docs/attestation.md): PCR read and
 * extend, the endorsement key (EK) and its certificate, the attestation key
 * (AK), credential activation and quotes. Library fwt_tpm (tpm2-tss ESAPI).
 *
 * No resource manager is assumed: every transient object and session this
 * library creates is flushed before the call returns, on every path.
 *
 * Keys, both re-created from their templates on demand (a primary key is a
 * deterministic function of the hierarchy's seed and its template, so nothing
 * is stored on the device):
 *   EK  the TCG EK Credential Profile "L-1" template: RSA 2048, restricted
 *       decryption, AES-128-CFB, policy PolicySecret(TPM_RH_ENDORSEMENT); its
 *       certificate is read from NV index 0x01c00002 (as swtpm_setup and
 *       manufacturers store it).
 *   AK  a restricted ECDSA P-256 / SHA-256 signing key, primary in the
 *       endorsement hierarchy, fixedTPM, userWithAuth with an empty
 *       password, noDA (power cuts count as DA failures and would lock it out); the template's unique.x carries a label ("fwtrust-ak"
 *       unless set), so one TPM can hold distinct AKs.
 *
 * Hosted C. Include <fwtrust/fwt_util.h> first.
 */
#ifndef FWT_TPM_H
#define FWT_TPM_H

#include <fwtrust/fwt_util.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FWT_TPM_PCRS 24U
#define FWT_TPM_NONCE_MAX 64U          /* TPM2B_DATA: at most sizeof(TPMT_HA) bytes */
#define FWT_TPM_AK_LABEL_MAX 32U
#define FWT_TPM_DEFAULT_AK_LABEL "fwtrust-ak"
#define FWT_TPM_EK_CERT_NV 0x01c00002U /* RSA 2048 EK certificate */

typedef struct fwt_tpm fwt_tpm;

/*
 * Open a TPM. spec: "swtpm:host=H,port=P" (swtpm's TCP interface; port + 1 is
 * its control channel), "device:/dev/tpmrm0" or a path starting with "/dev/".
 * Nothing else is accepted: the spec comes from device.ini and must never name
 * a library to load (no TCTI loader). TPM2_Startup(CLEAR) is sent; a TPM that
 * firmware already started answers TPM_RC_INITIALIZE, which is accepted.
 * ak_label: NULL for FWT_TPM_DEFAULT_AK_LABEL; at most FWT_TPM_AK_LABEL_MAX bytes.
 */
FWT_MUST_CHECK fwt_err fwt_tpm_open(const char *spec, const char *ak_label, fwt_tpm **out);
void fwt_tpm_close(fwt_tpm *t);

/* Read the SHA-256 bank PCRs in mask (bit i = PCR i) into values[i]. */
FWT_MUST_CHECK fwt_err fwt_tpm_pcr_read(fwt_tpm *t, uint32_t mask,
                                        uint8_t values[FWT_TPM_PCRS][32]);
/* Extend PCR pcr's SHA-256 bank with digest (other banks are not extended). */
FWT_MUST_CHECK fwt_err fwt_tpm_pcr_extend(fwt_tpm *t, unsigned pcr, const uint8_t digest[32]);

/* The EK certificate (DER) from NV; caller frees. FWT_E_NOT_FOUND without one. */
FWT_MUST_CHECK fwt_err fwt_tpm_ek_cert(fwt_tpm *t, uint8_t **der, size_t *len);
/* The EK's and the AK's public areas as marshalled TPM2B_PUBLIC; caller frees. */
FWT_MUST_CHECK fwt_err fwt_tpm_ek_public(fwt_tpm *t, uint8_t **pub, size_t *len);
FWT_MUST_CHECK fwt_err fwt_tpm_ak_public(fwt_tpm *t, uint8_t **pub, size_t *len);

/*
 * TPM2_ActivateCredential of the AK with the EK: blob is a marshalled
 * TPM2B_ID_OBJECT, secret a marshalled TPM2B_ENCRYPTED_SECRET (as the
 * verifier's fwt_attest_make_credential writes them). The recovered
 * credential goes to cred (cred_len: in the buffer size, out the length).
 * FWT_E_SIGNATURE when the TPM refuses the credential (integrity check: not
 * made for this EK and this AK).
 */
FWT_MUST_CHECK fwt_err fwt_tpm_activate(fwt_tpm *t, const uint8_t *blob, size_t blob_len,
                                        const uint8_t *secret, size_t secret_len, uint8_t *cred,
                                        size_t *cred_len);

/* A quote: the TPMS_ATTEST bytes the AK signed and the marshalled TPMT_SIGNATURE. */
struct fwt_tpm_quote {
    uint8_t *attest;
    size_t attest_len;
    uint8_t *sig;
    size_t sig_len;
};
/* TPM2_Quote over the SHA-256 bank PCRs in mask with nonce as qualifyingData (1 to
 * FWT_TPM_NONCE_MAX bytes). */
FWT_MUST_CHECK fwt_err fwt_tpm_quote(fwt_tpm *t, uint32_t mask, const uint8_t *nonce,
                                     size_t nonce_len, struct fwt_tpm_quote *q);
void fwt_tpm_quote_free(struct fwt_tpm_quote *q);

/*
 * Anti-rollback minimums in TPM NV counters (docs/attestation.md, "NV counters").
 * A TPM counter only counts up, by one per TPM2_NV_Increment, and starts at the
 * highest count any counter of the TPM ever had; so each minimum is a counter
 * minus its base, and the two bases live in a write-once index locked at
 * provisioning (TPMA_NV_WRITEDEFINE + TPM2_NV_WriteLock: unwritable until the
 * owner deletes the index).
 *   0x01465700  the bases: two 8-byte big-endian values, write-once
 *   0x01465701  counter: minimum security counter + base
 *   0x01465702  counter: minimum key version + base
 * Defining the indices needs the owner hierarchy's authorisation (empty here).
 */
#define FWT_TPM_NV_BASE 0x01465700U
#define FWT_TPM_NV_SC 0x01465701U
#define FWT_TPM_NV_KV 0x01465702U
/* *done = 1 when the counters are provisioned (the bases locked). */
FWT_MUST_CHECK fwt_err fwt_tpm_nv_provisioned(fwt_tpm *t, int *done);
/*
 * Provision: define and initialise the counters, write the bases, count the
 * counters up to initial[0] and initial[1], and only then lock the bases; a
 * provisioning a power cut interrupted is resumed by calling again (with the
 * same initial values). FWT_OK at once when already done.
 */
FWT_MUST_CHECK fwt_err fwt_tpm_nv_provision(fwt_tpm *t, const uint64_t initial[2]);
/* The two minimums (counter - base); FWT_E_STATE when not provisioned or inconsistent. */
FWT_MUST_CHECK fwt_err fwt_tpm_nv_read(fwt_tpm *t, uint64_t min[2]);
/* Count minimum which (0: security counter, 1: key version) up by one. */
FWT_MUST_CHECK fwt_err fwt_tpm_nv_increment(fwt_tpm *t, int which);

#ifdef __cplusplus
}
#endif

#endif /* FWT_TPM_H */
