/*
 * The device's side of remote attestation (docs/attestation.md): the
 * enrollment request, credential activation and quotes, with the TPM named by
 * [device] tpm, in the documents of fwt_attest.h.
 */
#include "agent_internal.h"

#include <fwtrust/fwt_attest.h>
#include <fwtrust/fwt_tpm.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static fwt_err open_tpm(fwt_agent *dev, const char *label, fwt_tpm **t)
{
    if (!dev->cfg.tpm) {
        return fwt_fail(FWT_E_ARG, "no TPM configured for this device ([device] tpm in %s)",
                        FWT_AGENT_CONFIG_NAME);
    }
    return fwt_tpm_open(dev->cfg.tpm, label, t);
}

fwt_err fwt_agent_attest_request(fwt_agent *dev, char **json)
{
    *json = NULL;
    fwt_tpm *t = NULL;
    fwt_err err = open_tpm(dev, NULL, &t);
    if (err != FWT_OK) {
        return err;
    }
    uint8_t *cert = NULL, *ek = NULL, *ak = NULL;
    size_t cl = 0, el = 0, al = 0;
    fwt_attest_doc *d = NULL;
    if ((err = fwt_tpm_ek_cert(t, &cert, &cl)) == FWT_OK &&
        (err = fwt_tpm_ek_public(t, &ek, &el)) == FWT_OK &&
        (err = fwt_tpm_ak_public(t, &ak, &al)) == FWT_OK &&
        (err = fwt_attest_doc_new(FWT_DOC_ENROLL_REQUEST, &d)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(d, "ek_cert", cert, cl)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(d, "ek_public", ek, el)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(d, "ak_public", ak, al)) == FWT_OK) {
        err = fwt_attest_doc_dump(d, json);
    }
    fwt_attest_doc_free(d);
    free(cert);
    free(ek);
    free(ak);
    fwt_tpm_close(t);
    return err;
}

fwt_err fwt_agent_attest_activate(fwt_agent *dev, const char *challenge, size_t len, char **json)
{
    *json = NULL;
    fwt_attest_doc *c = NULL, *d = NULL;
    uint8_t *blob = NULL, *sec = NULL;
    size_t bl = 0, sl = 0;
    fwt_err err = fwt_attest_doc_parse(challenge, len, FWT_DOC_CHALLENGE, &c);
    if (err == FWT_OK) {
        err = fwt_attest_doc_get_hex(c, "credential_blob", 4096, &blob, &bl);
    }
    if (err == FWT_OK) {
        err = fwt_attest_doc_get_hex(c, "secret", 4096, &sec, &sl);
    }
    fwt_attest_doc_free(c);
    fwt_tpm *t = NULL;
    if (err == FWT_OK) {
        err = open_tpm(dev, NULL, &t);
    }
    uint8_t cred[64];
    size_t crl = sizeof(cred);
    if (err == FWT_OK) {
        err = fwt_tpm_activate(t, blob, bl, sec, sl, cred, &crl);
    }
    if (err == FWT_OK && (err = fwt_attest_doc_new(FWT_DOC_ACTIVATION, &d)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(d, "credential", cred, crl)) == FWT_OK) {
        err = fwt_attest_doc_dump(d, json);
    }
    fwt_zeroize(cred, sizeof(cred));
    fwt_attest_doc_free(d);
    fwt_tpm_close(t);
    free(blob);
    free(sec);
    return err;
}

fwt_err fwt_agent_attest_quote(fwt_agent *dev, const uint8_t *nonce, size_t nonce_len,
                               const char *ak_label, char **json)
{
    *json = NULL;
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/tpm-eventlog.bin", dev->cfg.dir) >= (int)sizeof(path)) {
        return fwt_fail(FWT_E_ARG, "path too long");
    }
    fwt_tpm *t = NULL;
    fwt_err err = open_tpm(dev, ak_label, &t);
    if (err != FWT_OK) {
        return err;
    }
    struct fwt_tpm_quote q = {0};
    uint8_t pcrs[FWT_TPM_PCRS][32];
    uint8_t *log = NULL;
    size_t ll = 0;
    fwt_attest_doc *d = NULL;
    /* The quote first, then the values it covers: the verifier checks the values
     * against the quote's digest, so an extend in between is caught, not hidden. */
    if ((err = fwt_tpm_quote(t, FWT_PCR_MASK, nonce, nonce_len, &q)) == FWT_OK &&
        (err = fwt_tpm_pcr_read(t, FWT_PCR_MASK, pcrs)) == FWT_OK) {
        err = fwt_read_file(path, FWT_EVENTLOG_MAX, &log, &ll);
        if (err == FWT_E_NOT_FOUND) {
            err = fwt_fail(FWT_E_STATE, "%s: no TPM event log (has fwtrust-boot measured into "
                           "the TPM since its reset?)", path);
        }
    }
    if (err == FWT_OK && (err = fwt_attest_doc_new(FWT_DOC_EVIDENCE, &d)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(d, "quote", q.attest, q.attest_len)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(d, "signature", q.sig, q.sig_len)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(d, "pcr8", pcrs[8], 32)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(d, "pcr9", pcrs[9], 32)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(d, "pcr11", pcrs[11], 32)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(d, "eventlog", log, ll)) == FWT_OK) {
        err = fwt_attest_doc_dump(d, json);
    }
    fwt_attest_doc_free(d);
    free(log);
    fwt_tpm_quote_free(&q);
    fwt_tpm_close(t);
    return err;
}
