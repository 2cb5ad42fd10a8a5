/*
 * Attestation benchmark (bench/attest/run.sh):
 *   bench_attest verify AK.json EVIDENCE.json CATALOG.json SECONDS
 *     quote verifications per second on one core (fwt_attest_verify: AK check, ECDSA,
 *     structure, nonce (an in-memory store that answers "fresh": the server's database
 *     lookup is not measured), PCR digest, event log replay, catalog), beside the bare
 *     ECDSA P-256 verification rate of the same OpenSSL (EVP_DigestVerify over the same
 *     quote bytes, key already loaded) in the same run.
 *   bench_attest quote TPM_SPEC N
 *     device side: mean time of one quote (AK re-created, quote, flush) against the TPM.
 */
#include <fwtrust/fwt_attest.h>
#include <fwtrust/fwt_tpm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static fwt_err fresh(void *ctx, const uint8_t *n, size_t l, enum fwt_nonce_state *st)
{
    (void)ctx;
    (void)n;
    (void)l;
    *st = FWT_NONCE_FRESH;
    return FWT_OK;
}

static char *slurp(const char *p, size_t *n)
{
    uint8_t *b = NULL;
    if (fwt_read_file(p, 4U << 20, &b, n) != FWT_OK) {
        fprintf(stderr, "bench_attest: %s: %s\n", p, fwt_detail());
        exit(1);
    }
    return (char *)b;
}

static uint8_t *hexf(fwt_attest_doc *d, const char *f, size_t *n)
{
    uint8_t *b = NULL;
    if (fwt_attest_doc_get_hex(d, f, 1U << 20, &b, n) != FWT_OK) {
        fprintf(stderr, "bench_attest: %s\n", fwt_detail());
        exit(1);
    }
    return b;
}

static int bench_verify(char **argv)
{
    size_t akl, evl, catl, n_img;
    char *akt = slurp(argv[2], &akl), *evt = slurp(argv[3], &evl), *catt = slurp(argv[4], &catl);
    double secs = atof(argv[5]);
    fwt_attest_doc *ak = NULL, *ev = NULL;
    struct fwt_attest_image *cat = NULL;
    if (fwt_attest_doc_parse(akt, akl, FWT_DOC_AK, &ak) != FWT_OK ||
        fwt_attest_doc_parse(evt, evl, FWT_DOC_EVIDENCE, &ev) != FWT_OK ||
        fwt_attest_catalog_parse(catt, catl, &cat, &n_img) != FWT_OK) {
        fprintf(stderr, "bench_attest: %s\n", fwt_detail());
        return 1;
    }
    size_t apl, ql, sl, ll, pl;
    uint8_t *ap = hexf(ak, "ak_public", &apl), *q = hexf(ev, "quote", &ql);
    uint8_t *s = hexf(ev, "signature", &sl), *log = hexf(ev, "eventlog", &ll);
    uint8_t pcrs[24][32];
    memset(pcrs, 0, sizeof(pcrs));
    const char *names[3] = {"pcr8", "pcr9", "pcr11"};
    const unsigned idx[3] = {8, 9, 11};
    for (int i = 0; i < 3; i++) {
        uint8_t *b = hexf(ev, names[i], &pl);
        memcpy(pcrs[idx[i]], b, 32);
        free(b);
    }
    struct fwt_attest_nonce_store st = {NULL, fresh};
    struct fwt_attest_input in = {
        .ak_pub = ap, .ak_len = apl, .ak_activated = 1, .nonces = &st, .quote = q,
        .quote_len = ql, .sig = s, .sig_len = sl, .pcrs = (const uint8_t(*)[32])pcrs,
        .eventlog = log, .eventlog_len = ll, .catalog = cat, .n_catalog = n_img};
    struct fwt_attest_result res;
    if (fwt_attest_verify(&in, &res) != FWT_OK || res.verdict != FWT_ATTEST_PASS) {
        fprintf(stderr, "bench_attest: the evidence does not verify: %s\n", res.detail);
        return 1;
    }
    /* The baseline: a P-256 key and a signature of the same bytes, verified with
     * EVP_DigestVerify (a fresh context per verification, as any verifier needs). */
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    uint8_t sig[80];
    size_t sigl = sizeof(sig);
    if (!k || !mc || EVP_DigestSignInit(mc, NULL, EVP_sha256(), NULL, k) != 1 ||
        EVP_DigestSign(mc, sig, &sigl, q, ql) != 1) {
        return 1;
    }
    EVP_MD_CTX_free(mc);
    /* Ten alternating slices of each, so that load on a shared machine hits both alike. */
    unsigned long n = 0, m = 0;
    double tn = 0, tm = 0;
    for (int round = 0; round < 10; round++) {
        double t0 = now(), t;
        do {
            for (int i = 0; i < 20; i++) {
                if (fwt_attest_verify(&in, &res) != FWT_OK || res.verdict != FWT_ATTEST_PASS) {
                    return 1;
                }
            }
            n += 20;
        } while ((t = now() - t0) < secs / 10);
        tn += t;
        t0 = now();
        do {
            for (int i = 0; i < 20; i++) {
                EVP_MD_CTX *c = EVP_MD_CTX_new();
                if (EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, k) != 1 ||
                    EVP_DigestVerify(c, sig, sigl, q, ql) != 1) {
                    return 1;
                }
                EVP_MD_CTX_free(c);
            }
            m += 20;
        } while ((t = now() - t0) < secs / 10);
        tm += t;
    }
    double rate = (double)n / tn, base = (double)m / tm;
    printf("  quote verifications (fwt_attest_verify)      %9.0f /s\n", rate);
    printf("  bare ECDSA P-256 verify (%s) %9.0f /s\n", OpenSSL_version(0), base);
    printf("  ratio                                        %9.2f (goal >= 0.50)\n", rate / base);
    EVP_PKEY_free(k);
    free(ap);
    free(q);
    free(s);
    free(log);
    free(cat);
    free(akt);
    free(evt);
    free(catt);
    fwt_attest_doc_free(ak);
    fwt_attest_doc_free(ev);
    return 0;
}

static int bench_quote(char **argv)
{
    fwt_tpm *t = NULL;
    int n = atoi(argv[3]);
    if (n < 1 || fwt_tpm_open(argv[2], NULL, &t) != FWT_OK) {
        fprintf(stderr, "bench_attest: %s\n", fwt_detail());
        return 1;
    }
    uint8_t nonce[32] = {1};
    double t0 = now();
    for (int i = 0; i < n; i++) {
        struct fwt_tpm_quote q;
        nonce[0] = (uint8_t)i;
        if (fwt_tpm_quote(t, FWT_PCR_MASK, nonce, sizeof(nonce), &q) != FWT_OK) {
            fprintf(stderr, "bench_attest: %s\n", fwt_detail());
            return 1;
        }
        fwt_tpm_quote_free(&q);
    }
    double per = (now() - t0) / n * 1000.0;
    printf("  device: one quote against swtpm (AK re-created, quote, flush) %7.2f ms (mean of %d)\n",
           per, n);
    fwt_tpm_close(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "verify")) {
        return bench_verify(argv);
    }
    if (argc == 4 && !strcmp(argv[1], "quote")) {
        return bench_quote(argv);
    }
    fprintf(stderr, "usage: bench_attest verify AK EVIDENCE CATALOG SECONDS | quote SPEC N\n");
    return 1;
}
