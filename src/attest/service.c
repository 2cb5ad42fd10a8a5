/*
 * The verifier's steps on documents: enrollment (challenge, finish), a
 * directory nonce store, and verification from the device's evidence to the
 * signed record.
 */
#include "attest_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#define PUB_MAX 1024U
#define CERT_MAX 8192U

fwt_err fwt_attest_enroll_challenge(const char *request, size_t len, const char *ca_file,
                                    char **challenge, char **pending)
{
    *challenge = *pending = NULL;
    fwt_attest_doc *rq = NULL, *ch = NULL, *pd = NULL;
    uint8_t *cert = NULL, *ek = NULL, *ak = NULL, *blob = NULL, *sec = NULL;
    size_t cl = 0, el = 0, al = 0, bl = 0, sl = 0;
    uint8_t cred[32];
    struct fwt_tpm_public akp;
    fwt_err err = fwt_attest_doc_parse(request, len, FWT_DOC_ENROLL_REQUEST, &rq);
    if (err == FWT_OK && (err = fwt_attest_doc_get_hex(rq, "ek_cert", CERT_MAX, &cert, &cl)) ==
                             FWT_OK &&
        (err = fwt_attest_doc_get_hex(rq, "ek_public", PUB_MAX, &ek, &el)) == FWT_OK) {
        err = fwt_attest_doc_get_hex(rq, "ak_public", PUB_MAX, &ak, &al);
    }
    if (err == FWT_OK) {
        err = fwt_attest_check_ek(cert, cl, ca_file, ek, el);
    }
    if (err == FWT_OK) {
        err = fwt_attest_check_ak(ak, al, &akp);
    }
    if (err == FWT_OK && RAND_bytes(cred, sizeof(cred)) != 1) {
        err = fwt_fail(FWT_E_CRYPTO, "no random bytes");
    }
    if (err == FWT_OK) {
        err = fwt_attest_make_credential(ek, el, akp.name, cred, sizeof(cred), &blob, &bl, &sec,
                                         &sl);
    }
    if (err == FWT_OK && (err = fwt_attest_doc_new(FWT_DOC_CHALLENGE, &ch)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(ch, "credential_blob", blob, bl)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(ch, "secret", sec, sl)) == FWT_OK &&
        (err = fwt_attest_doc_new(FWT_DOC_PENDING, &pd)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(pd, "ek_cert", cert, cl)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(pd, "ek_public", ek, el)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(pd, "ak_public", ak, al)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(pd, "credential", cred, sizeof(cred))) == FWT_OK &&
        (err = fwt_attest_doc_dump(ch, challenge)) == FWT_OK) {
        err = fwt_attest_doc_dump(pd, pending);
    }
    if (err != FWT_OK) {
        free(*challenge);
        *challenge = NULL;
    }
    fwt_zeroize(cred, sizeof(cred));
    fwt_attest_doc_free(rq);
    fwt_attest_doc_free(ch);
    fwt_attest_doc_free(pd);
    free(cert);
    free(ek);
    free(ak);
    free(blob);
    free(sec);
    return err;
}

fwt_err fwt_attest_enroll_finish(const char *pending, size_t plen, const char *activation,
                                 size_t alen, char **ak_doc)
{
    *ak_doc = NULL;
    fwt_attest_doc *pd = NULL, *ac = NULL, *out = NULL;
    uint8_t *want = NULL, *got = NULL, *ek = NULL, *ak = NULL;
    size_t wl = 0, gl = 0, el = 0, al = 0;
    fwt_err err = fwt_attest_doc_parse(pending, plen, FWT_DOC_PENDING, &pd);
    if (err == FWT_OK) {
        err = fwt_attest_doc_parse(activation, alen, FWT_DOC_ACTIVATION, &ac);
    }
    if (err == FWT_OK && (err = fwt_attest_doc_get_hex(pd, "credential", 32, &want, &wl)) ==
                             FWT_OK &&
        (err = fwt_attest_doc_get_hex(ac, "credential", 64, &got, &gl)) == FWT_OK &&
        (err = fwt_attest_doc_get_hex(pd, "ek_public", PUB_MAX, &ek, &el)) == FWT_OK) {
        err = fwt_attest_doc_get_hex(pd, "ak_public", PUB_MAX, &ak, &al);
    }
    if (err == FWT_OK && (wl != 32 || gl != wl || fwt_ct_compare(want, got, wl) != 0)) {
        err = fwt_fail(FWT_E_SIGNATURE, "the device did not recover the credential: its AK is "
                       "not bound to the certified EK");
    }
    if (err == FWT_OK && (err = fwt_attest_doc_new(FWT_DOC_AK, &out)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(out, "ak_public", ak, al)) == FWT_OK &&
        (err = fwt_attest_doc_set_hex(out, "ek_public", ek, el)) == FWT_OK &&
        (err = fwt_attest_doc_set_int(out, "activated", 1)) == FWT_OK) {
        err = fwt_attest_doc_dump(out, ak_doc);
    }
    if (want) {
        fwt_zeroize(want, wl);
    }
    fwt_attest_doc_free(pd);
    fwt_attest_doc_free(ac);
    fwt_attest_doc_free(out);
    free(want);
    free(got);
    free(ek);
    free(ak);
    return err;
}

/* ---- directory nonce store ---- */

static fwt_err nonce_path(const char *dir, const char *sub, const uint8_t *n, size_t len,
                          char *out, size_t cap)
{
    char hex[2 * 64 + 1];
    if (len == 0 || len > 64) {
        return fwt_fail(FWT_E_ARG, "nonce of %zu bytes", len);
    }
    fwt_hex_encode(n, len, hex);
    if (snprintf(out, cap, "%s/%s/%s", dir, sub, hex) >= (int)cap) {
        return fwt_fail(FWT_E_ARG, "%s: path too long", dir);
    }
    return FWT_OK;
}

static fwt_err mkdirs(const char *dir)
{
    char p[PATH_MAX];
    const char *subs[] = {"", "/issued", "/used"};
    for (size_t i = 0; i < 3; i++) {
        if (snprintf(p, sizeof(p), "%s%s", dir, subs[i]) >= (int)sizeof(p)) {
            return fwt_fail(FWT_E_ARG, "%s: path too long", dir);
        }
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            return fwt_fail(FWT_E_IO, "%s: %s", p, strerror(errno));
        }
    }
    return FWT_OK;
}

fwt_err fwt_attest_nonce_dir_issue(const char *dir, uint8_t nonce[32])
{
    fwt_err err = mkdirs(dir);
    if (err != FWT_OK) {
        return err;
    }
    if (RAND_bytes(nonce, 32) != 1) {
        return fwt_fail(FWT_E_CRYPTO, "no random bytes");
    }
    char p[PATH_MAX];
    if ((err = nonce_path(dir, "issued", nonce, 32, p, sizeof(p))) != FWT_OK) {
        return err;
    }
    return fwt_write_file_atomic(p, "", 0, 0600);
}

static fwt_err dir_consume(void *ctx, const uint8_t *n, size_t len, enum fwt_nonce_state *st)
{
    const char *dir = ctx;
    char from[PATH_MAX], to[PATH_MAX];
    fwt_err err;
    if ((err = nonce_path(dir, "issued", n, len, from, sizeof(from))) != FWT_OK ||
        (err = nonce_path(dir, "used", n, len, to, sizeof(to))) != FWT_OK) {
        return err;
    }
    /* link + unlink, not rename: rename would also "succeed" onto an existing used name. */
    if (link(from, to) == 0) {
        if (unlink(from) != 0) {
            return fwt_fail(FWT_E_IO, "%s: %s", from, strerror(errno));
        }
        *st = FWT_NONCE_FRESH;
        return fwt_fsync_parent(to);
    }
    if (errno == EEXIST) {
        *st = FWT_NONCE_USED;
        return FWT_OK;
    }
    if (errno == ENOENT) {
        *st = access(to, F_OK) == 0 ? FWT_NONCE_USED : FWT_NONCE_UNKNOWN;
        return FWT_OK;
    }
    return fwt_fail(FWT_E_IO, "nonce store %s: %s", dir, strerror(errno));
}

void fwt_attest_nonce_dir_store(const char *dir, struct fwt_attest_nonce_store *st)
{
    st->ctx = (void *)(uintptr_t)dir;
    st->consume = dir_consume;
}

/* ---- verification on documents ---- */

fwt_err fwt_attest_verify_documents(const struct fwt_attest_verify_docs *d,
                                    struct fwt_attest_result *res, char **record)
{
    *record = NULL;
    memset(res, 0, sizeof(*res));
    res->verdict = FWT_ATTEST_UNKNOWN;
    fwt_attest_doc *ak = NULL, *ev = NULL;
    uint8_t *akp = NULL, *ekp = NULL, *quote = NULL, *sig = NULL, *log = NULL;
    size_t akl = 0, ekl = 0, ql = 0, sl = 0, ll = 0;
    uint8_t pcrs[24][32];
    int64_t activated = 0;
    memset(pcrs, 0, sizeof(pcrs));
    fwt_err err = fwt_attest_doc_parse(d->ak, d->ak_len, NULL, &ak);
    if (err == FWT_OK && strcmp(fwt_attest_doc_type(ak), FWT_DOC_AK) != 0 &&
        strcmp(fwt_attest_doc_type(ak), FWT_DOC_PENDING) != 0) {
        err = fwt_fail(FWT_E_MALFORMED, "not an AK document (type %s)", fwt_attest_doc_type(ak));
    }
    if (err == FWT_OK && (err = fwt_attest_doc_get_hex(ak, "ak_public", PUB_MAX, &akp, &akl)) ==
                             FWT_OK &&
        (err = fwt_attest_doc_get_hex(ak, "ek_public", PUB_MAX, &ekp, &ekl)) == FWT_OK &&
        !strcmp(fwt_attest_doc_type(ak), FWT_DOC_AK)) {
        err = fwt_attest_doc_get_int(ak, "activated", 0, &activated);
    }
    if (err == FWT_OK) {
        err = fwt_attest_doc_parse(d->evidence, d->evidence_len, FWT_DOC_EVIDENCE, &ev);
    }
    if (err == FWT_OK && (err = fwt_attest_doc_get_hex(ev, "quote", 1024, &quote, &ql)) == FWT_OK &&
        (err = fwt_attest_doc_get_hex(ev, "signature", 1024, &sig, &sl)) == FWT_OK) {
        err = fwt_attest_doc_get_hex(ev, "eventlog", FWT_EVENTLOG_MAX, &log, &ll);
    }
    static const struct {
        const char *name;
        unsigned pcr;
    } k_pcrs[] = {{"pcr8", FWT_PCR_IMAGE}, {"pcr9", FWT_PCR_SIGNER}, {"pcr11", FWT_PCR_CONFIG}};
    for (size_t i = 0; i < 3 && err == FWT_OK; i++) {
        uint8_t *b = NULL;
        size_t bl = 0;
        err = fwt_attest_doc_get_hex(ev, k_pcrs[i].name, 32, &b, &bl);
        if (err == FWT_OK && bl != 32) {
            err = fwt_fail(FWT_E_MALFORMED, "evidence: %s is not 32 bytes", k_pcrs[i].name);
        }
        if (err == FWT_OK) {
            memcpy(pcrs[k_pcrs[i].pcr], b, 32);
        }
        free(b);
    }
    if (err == FWT_OK) {
        struct fwt_attest_input in = {
            .ak_pub = akp, .ak_len = akl, .ak_activated = activated == 1 ? 1 : 0,
            .nonce = d->nonce, .nonce_len = d->nonce_len, .nonces = d->nonces,
            .quote = quote, .quote_len = ql, .sig = sig, .sig_len = sl,
            .pcrs = (const uint8_t(*)[32])pcrs, .eventlog = log, .eventlog_len = ll,
            .catalog = d->catalog, .n_catalog = d->n_catalog, .assigned = d->assigned};
        err = fwt_attest_verify(&in, res);
        if (err == FWT_OK) {
            err = fwt_attest_record(&in, res, ekp, ekl, d->hw_id, d->now, d->key, record);
        }
    }
    fwt_attest_doc_free(ak);
    fwt_attest_doc_free(ev);
    free(akp);
    free(ekp);
    free(quote);
    free(sig);
    free(log);
    return err;
}
