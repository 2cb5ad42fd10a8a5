/*
 * Test helper for the attestation tests: TPM operations the agent never does
 * (a quote over another PCR selection, another AK's public area), built on the
 * same library (fwt_tpm) so the attacks use a real TPM.
 *   tpm_helper quote SPEC MASK NONCE_HEX EVENTLOG OUT  evidence over PCR mask MASK
 *   tpm_helper akpub SPEC LABEL                        the AK of LABEL (hex TPM2B_PUBLIC)
 *   tpm_helper extend SPEC PCR DIGEST_HEX              extend one PCR (SHA-256)
 */
#include <fwtrust/fwt_attest.h>
#include <fwtrust/fwt_tpm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *what)
{
    fprintf(stderr, "tpm_helper: %s: %s\n", what, fwt_detail());
    return 1;
}

int main(int argc, char **argv)
{
    fwt_tpm *t = NULL;
    if (argc < 3 || fwt_tpm_open(argv[2], argc > 3 && !strcmp(argv[1], "akpub") ? argv[3] : NULL,
                                 &t) != FWT_OK) {
        return die("open");
    }
    int rc = 0;
    if (!strcmp(argv[1], "akpub") && argc == 4) {
        uint8_t *p = NULL;
        size_t n = 0;
        if (fwt_tpm_ak_public(t, &p, &n) != FWT_OK) {
            rc = die("akpub");
        } else {
            char *h = malloc(2 * n + 1);
            fwt_hex_encode(p, n, h);
            printf("%s\n", h);
            free(h);
            free(p);
        }
    } else if (!strcmp(argv[1], "extend") && argc == 5) {
        uint8_t d[32];
        if (fwt_hex_decode(argv[4], d, 32) != FWT_OK ||
            fwt_tpm_pcr_extend(t, (unsigned)atoi(argv[3]), d) != FWT_OK) {
            rc = die("extend");
        }
    } else if (!strcmp(argv[1], "quote") && argc == 7) {
        uint32_t mask = (uint32_t)strtoul(argv[3], NULL, 0);
        uint8_t nonce[32], pcrs[FWT_TPM_PCRS][32];
        struct fwt_tpm_quote q;
        uint8_t *log = NULL;
        size_t ll = 0;
        fwt_attest_doc *d = NULL;
        char *out = NULL;
        memset(pcrs, 0, sizeof(pcrs));
        if (fwt_hex_decode(argv[4], nonce, 32) != FWT_OK ||
            fwt_tpm_quote(t, mask, nonce, 32, &q) != FWT_OK ||
            fwt_tpm_pcr_read(t, FWT_PCR_MASK, pcrs) != FWT_OK ||
            fwt_read_file(argv[5], FWT_EVENTLOG_MAX, &log, &ll) != FWT_OK ||
            fwt_attest_doc_new(FWT_DOC_EVIDENCE, &d) != FWT_OK ||
            fwt_attest_doc_set_hex(d, "quote", q.attest, q.attest_len) != FWT_OK ||
            fwt_attest_doc_set_hex(d, "signature", q.sig, q.sig_len) != FWT_OK ||
            fwt_attest_doc_set_hex(d, "pcr8", pcrs[8], 32) != FWT_OK ||
            fwt_attest_doc_set_hex(d, "pcr9", pcrs[9], 32) != FWT_OK ||
            fwt_attest_doc_set_hex(d, "pcr11", pcrs[11], 32) != FWT_OK ||
            fwt_attest_doc_set_hex(d, "eventlog", log, ll) != FWT_OK ||
            fwt_attest_doc_dump(d, &out) != FWT_OK ||
            fwt_write_file_atomic(argv[6], out, strlen(out), 0644) != FWT_OK) {
            rc = die("quote");
        }
        fwt_tpm_quote_free(&q);
        fwt_attest_doc_free(d);
        free(log);
        free(out);
    } else {
        fprintf(stderr, "tpm_helper: bad usage\n");
        rc = 1;
    }
    fwt_tpm_close(t);
    return rc;
}
