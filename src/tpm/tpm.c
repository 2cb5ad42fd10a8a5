/*
 * Device-side TPM 2.0 through tpm2-tss ESAPI (include/fwtrust/fwt_tpm.h).
 *
 * Every transient object (EK, AK) and every session is flushed before a
 * call returns: the TPM may be reached without a resource manager, where a
 * leaked handle would stay in the TPM's few object slots until reset.
 */
#include <fwtrust/fwt_tpm.h>

#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tcti_device.h>
#include <tss2/tss2_tcti_swtpm.h>

struct fwt_tpm {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    char ak_label[FWT_TPM_AK_LABEL_MAX + 1];
};

static fwt_err tpm_fail(TSS2_RC rc, const char *what)
{
    return fwt_fail(FWT_E_IO, "TPM %s: %s (0x%x)", what, Tss2_RC_Decode(rc), (unsigned)rc);
}

static void flush(fwt_tpm *t, ESYS_TR *h)
{
    if (*h != ESYS_TR_NONE) {
        (void)Esys_FlushContext(t->esys, *h);
        *h = ESYS_TR_NONE;
    }
}

fwt_err fwt_tpm_open(const char *spec, const char *ak_label, fwt_tpm **out)
{
    *out = NULL;
    if (!ak_label) {
        ak_label = FWT_TPM_DEFAULT_AK_LABEL;
    }
    if (!spec || !*ak_label || strlen(ak_label) > FWT_TPM_AK_LABEL_MAX) {
        return fwt_fail(FWT_E_ARG, "TPM: no TPM given, or an AK label not 1 to %u bytes",
                        FWT_TPM_AK_LABEL_MAX);
    }
    TSS2_RC (*init)(TSS2_TCTI_CONTEXT *, size_t *, const char *);
    const char *conf;
    if (strncmp(spec, "swtpm:", 6) == 0) {
        init = Tss2_Tcti_Swtpm_Init;
        conf = spec + 6;
    } else if (strncmp(spec, "device:", 7) == 0) {
        init = Tss2_Tcti_Device_Init;
        conf = spec + 7;
    } else if (strncmp(spec, "/dev/", 5) == 0) {
        init = Tss2_Tcti_Device_Init;
        conf = spec;
    } else {
        return fwt_fail(FWT_E_ARG, "TPM '%s': not swtpm:host=H,port=P, device:PATH or /dev/PATH",
                        spec);
    }
    fwt_tpm *t = calloc(1, sizeof(*t));
    if (!t) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    snprintf(t->ak_label, sizeof(t->ak_label), "%s", ak_label);
    size_t size = 0;
    TSS2_RC rc = init(NULL, &size, conf);
    if (rc == TSS2_RC_SUCCESS && (t->tcti = calloc(1, size)) == NULL) {
        free(t);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (rc == TSS2_RC_SUCCESS) {
        rc = init(t->tcti, &size, conf);
    }
    if (rc != TSS2_RC_SUCCESS) {
        free(t->tcti);
        free(t);
        return fwt_fail(FWT_E_IO, "TPM '%s': cannot connect: %s", spec, Tss2_RC_Decode(rc));
    }
    rc = Esys_Initialize(&t->esys, t->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Tss2_Tcti_Finalize(t->tcti);
        free(t->tcti);
        free(t);
        return tpm_fail(rc, "ESAPI initialisation");
    }
    rc = Esys_Startup(t->esys, TPM2_SU_CLEAR);
    if (rc != TSS2_RC_SUCCESS && (rc & ~TSS2_RC_LAYER_MASK) != TPM2_RC_INITIALIZE) {
        fwt_tpm_close(t);
        return tpm_fail(rc, "startup");
    }
    *out = t;
    return FWT_OK;
}

void fwt_tpm_close(fwt_tpm *t)
{
    if (!t) {
        return;
    }
    if (t->esys) {
        Esys_Finalize(&t->esys);
    }
    if (t->tcti) {
        Tss2_Tcti_Finalize(t->tcti);
        free(t->tcti);
    }
    free(t);
}

/* ---- PCRs ---- */

static void pcr_select(TPML_PCR_SELECTION *sel, uint32_t mask)
{
    memset(sel, 0, sizeof(*sel));
    sel->count = 1;
    sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel->pcrSelections[0].sizeofSelect = 3;
    for (unsigned i = 0; i < FWT_TPM_PCRS; i++) {
        if (mask & (1U << i)) {
            sel->pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1U << (i % 8));
        }
    }
}

fwt_err fwt_tpm_pcr_read(fwt_tpm *t, uint32_t mask, uint8_t values[FWT_TPM_PCRS][32])
{
    if (mask == 0 || (FWT_TPM_PCRS < 32 && (mask >> FWT_TPM_PCRS) != 0)) {
        return fwt_fail(FWT_E_ARG, "PCR selection 0x%x: empty or above PCR 23", (unsigned)mask);
    }
    uint32_t left = mask;
    while (left) {
        TPML_PCR_SELECTION sel, *got = NULL;
        TPML_DIGEST *vals = NULL;
        UINT32 counter;
        pcr_select(&sel, left);
        TSS2_RC rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel,
                                   &counter, &got, &vals);
        if (rc != TSS2_RC_SUCCESS) {
            return tpm_fail(rc, "PCR read");
        }
        /* The TPM answers with the PCRs it returned, lowest first (at most 8 per call). */
        uint32_t done = 0;
        size_t k = 0;
        fwt_err err = FWT_OK;
        for (UINT32 s = 0; s < got->count && err == FWT_OK; s++) {
            const TPMS_PCR_SELECTION *ps = &got->pcrSelections[s];
            if (ps->hash != TPM2_ALG_SHA256) {
                continue;
            }
            for (unsigned i = 0; i < FWT_TPM_PCRS && i / 8 < ps->sizeofSelect; i++) {
                if (!(ps->pcrSelect[i / 8] & (1U << (i % 8)))) {
                    continue;
                }
                if (k >= vals->count || vals->digests[k].size != 32 || !(left & (1U << i))) {
                    err = fwt_fail(FWT_E_IO, "TPM PCR read: answer does not match the request");
                    break;
                }
                memcpy(values[i], vals->digests[k].buffer, 32);
                done |= 1U << i;
                k++;
            }
        }
        Esys_Free(got);
        Esys_Free(vals);
        if (err != FWT_OK) {
            return err;
        }
        if (done == 0) {
            return fwt_fail(FWT_E_IO, "TPM PCR read: the SHA-256 bank is not active");
        }
        left &= ~done;
    }
    return FWT_OK;
}

fwt_err fwt_tpm_pcr_extend(fwt_tpm *t, unsigned pcr, const uint8_t digest[32])
{
    if (pcr >= FWT_TPM_PCRS) {
        return fwt_fail(FWT_E_ARG, "PCR %u does not exist", pcr);
    }
    TPML_DIGEST_VALUES d;
    memset(&d, 0, sizeof(d));
    d.count = 1;
    d.digests[0].hashAlg = TPM2_ALG_SHA256;
    memcpy(d.digests[0].digest.sha256, digest, 32);
    TSS2_RC rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, &d);
    return rc == TSS2_RC_SUCCESS ? FWT_OK : tpm_fail(rc, "PCR extend");
}

/* ---- keys ---- */

/* PolicySecret(TPM_RH_ENDORSEMENT): the EK template's authPolicy (EK Credential Profile). */
static const uint8_t k_ek_policy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

static void ek_template(TPM2B_PUBLIC *p)
{
    memset(p, 0, sizeof(*p));
    TPMT_PUBLIC *a = &p->publicArea;
    a->type = TPM2_ALG_RSA;
    a->nameAlg = TPM2_ALG_SHA256;
    a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    a->authPolicy.size = 32;
    memcpy(a->authPolicy.buffer, k_ek_policy, 32);
    a->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
    a->parameters.rsaDetail.symmetric.keyBits.aes = 128;
    a->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    a->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    a->parameters.rsaDetail.keyBits = 2048;
    a->parameters.rsaDetail.exponent = 0;
    a->unique.rsa.size = 256; /* 256 zero bytes */
}

static void ak_template(const fwt_tpm *t, TPM2B_PUBLIC *p)
{
    memset(p, 0, sizeof(*p));
    TPMT_PUBLIC *a = &p->publicArea;
    a->type = TPM2_ALG_ECC;
    a->nameAlg = TPM2_ALG_SHA256;
    a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
    a->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    a->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    a->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    a->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    size_t l = strlen(t->ak_label);
    a->unique.ecc.x.size = (UINT16)l;
    memcpy(a->unique.ecc.x.buffer, t->ak_label, l);
}

static fwt_err create_primary(fwt_tpm *t, const TPM2B_PUBLIC *tmpl, const char *what,
                              ESYS_TR *h, TPM2B_PUBLIC **pub)
{
    TPM2B_SENSITIVE_CREATE sens;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION creation;
    memset(&sens, 0, sizeof(sens));
    memset(&outside, 0, sizeof(outside));
    memset(&creation, 0, sizeof(creation));
    TPM2B_CREATION_DATA *cd = NULL;
    TPM2B_DIGEST *ch = NULL;
    TPMT_TK_CREATION *tk = NULL;
    TSS2_RC rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD,
                                    ESYS_TR_NONE, ESYS_TR_NONE, &sens, tmpl, &outside, &creation,
                                    h, pub, &cd, &ch, &tk);
    Esys_Free(cd);
    Esys_Free(ch);
    Esys_Free(tk);
    if (rc != TSS2_RC_SUCCESS) {
        *h = ESYS_TR_NONE;
        return tpm_fail(rc, what);
    }
    return FWT_OK;
}

static fwt_err marshal_public(const TPM2B_PUBLIC *p, uint8_t **out, size_t *len)
{
    uint8_t buf[sizeof(TPM2B_PUBLIC)];
    size_t off = 0;
    TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Marshal(p, buf, sizeof(buf), &off);
    if (rc != TSS2_RC_SUCCESS) {
        return tpm_fail(rc, "marshalling a public area");
    }
    if ((*out = malloc(off)) == NULL) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    memcpy(*out, buf, off);
    *len = off;
    return FWT_OK;
}

static fwt_err key_public(fwt_tpm *t, int ak, uint8_t **out, size_t *len)
{
    TPM2B_PUBLIC tmpl, *pub = NULL;
    ESYS_TR h = ESYS_TR_NONE;
    if (ak) {
        ak_template(t, &tmpl);
    } else {
        ek_template(&tmpl);
    }
    fwt_err err = create_primary(t, &tmpl, ak ? "creating the AK" : "creating the EK", &h, &pub);
    flush(t, &h);
    if (err == FWT_OK) {
        err = marshal_public(pub, out, len);
    }
    Esys_Free(pub);
    return err;
}

fwt_err fwt_tpm_ek_public(fwt_tpm *t, uint8_t **pub, size_t *len)
{
    return key_public(t, 0, pub, len);
}

fwt_err fwt_tpm_ak_public(fwt_tpm *t, uint8_t **pub, size_t *len)
{
    return key_public(t, 1, pub, len);
}

fwt_err fwt_tpm_ek_cert(fwt_tpm *t, uint8_t **der, size_t *len)
{
    *der = NULL;
    *len = 0;
    ESYS_TR nv = ESYS_TR_NONE;
    TSS2_RC rc = Esys_TR_FromTPMPublic(t->esys, FWT_TPM_EK_CERT_NV, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, &nv);
    if (rc != TSS2_RC_SUCCESS) {
        return fwt_fail(FWT_E_NOT_FOUND, "TPM has no EK certificate at NV index 0x%08x: %s",
                        FWT_TPM_EK_CERT_NV, Tss2_RC_Decode(rc));
    }
    TPM2B_NV_PUBLIC *np = NULL;
    TPM2B_NAME *nm = NULL;
    rc = Esys_NV_ReadPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &np, &nm);
    fwt_err err = FWT_OK;
    size_t size = 0;
    if (rc != TSS2_RC_SUCCESS) {
        err = tpm_fail(rc, "reading the EK certificate's NV public area");
    } else if ((size = np->nvPublic.dataSize) == 0) {
        err = fwt_fail(FWT_E_NOT_FOUND, "TPM: EK certificate NV index is empty");
    }
    Esys_Free(np);
    Esys_Free(nm);
    uint8_t *buf = err == FWT_OK ? malloc(size) : NULL;
    if (err == FWT_OK && !buf) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (size_t off = 0; err == FWT_OK && off < size;) {
        UINT16 n = (UINT16)(size - off > 512 ? 512 : size - off);
        TPM2B_MAX_NV_BUFFER *data = NULL;
        rc = Esys_NV_Read(t->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                          (UINT16)off, &data);
        if (rc != TSS2_RC_SUCCESS) {
            err = tpm_fail(rc, "reading the EK certificate");
        } else if (data->size != n) {
            err = fwt_fail(FWT_E_IO, "TPM: short NV read");
        } else {
            memcpy(buf + off, data->buffer, n);
            off += n;
        }
        Esys_Free(data);
    }
    (void)Esys_TR_Close(t->esys, &nv);
    /* The index may be larger than the certificate: keep the DER's own length. */
    if (err == FWT_OK && size >= 4 && buf[0] == 0x30 && buf[1] == 0x82) {
        size_t l = 4 + ((size_t)buf[2] << 8 | buf[3]);
        if (l <= size) {
            size = l;
        }
    }
    if (err != FWT_OK) {
        free(buf);
        return err;
    }
    *der = buf;
    *len = size;
    return FWT_OK;
}

fwt_err fwt_tpm_activate(fwt_tpm *t, const uint8_t *blob, size_t blob_len, const uint8_t *secret,
                         size_t secret_len, uint8_t *cred, size_t *cred_len)
{
    TPM2B_ID_OBJECT id;
    TPM2B_ENCRYPTED_SECRET sec;
    memset(&id, 0, sizeof(id));
    memset(&sec, 0, sizeof(sec));
    size_t o1 = 0, o2 = 0;
    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob, blob_len, &o1, &id) != TSS2_RC_SUCCESS ||
        o1 != blob_len ||
        Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(secret, secret_len, &o2, &sec) !=
            TSS2_RC_SUCCESS ||
        o2 != secret_len) {
        return fwt_fail(FWT_E_MALFORMED, "credential blob or secret is not a TPM2B_ID_OBJECT / "
                        "TPM2B_ENCRYPTED_SECRET");
    }
    TPM2B_PUBLIC ekt, akt, *ekp = NULL, *akp = NULL;
    ek_template(&ekt);
    ak_template(t, &akt);
    ESYS_TR ek = ESYS_TR_NONE, ak = ESYS_TR_NONE, sess = ESYS_TR_NONE;
    fwt_err err = create_primary(t, &ekt, "creating the EK", &ek, &ekp);
    if (err == FWT_OK) {
        err = create_primary(t, &akt, "creating the AK", &ak, &akp);
    }
    TSS2_RC rc;
    if (err == FWT_OK) {
        TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
        rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym,
                                   TPM2_ALG_SHA256, &sess);
        if (rc != TSS2_RC_SUCCESS) {
            sess = ESYS_TR_NONE;
            err = tpm_fail(rc, "starting a policy session");
        }
    }
    if (err == FWT_OK) {
        TPM2B_TIMEOUT *to = NULL;
        TPMT_TK_AUTH *tk = NULL;
        rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, sess, ESYS_TR_PASSWORD,
                               ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0, &to, &tk);
        Esys_Free(to);
        Esys_Free(tk);
        if (rc != TSS2_RC_SUCCESS) {
            err = tpm_fail(rc, "PolicySecret(endorsement)");
        }
    }
    if (err == FWT_OK) {
        TPM2B_DIGEST *info = NULL;
        rc = Esys_ActivateCredential(t->esys, ak, ek, ESYS_TR_PASSWORD, sess, ESYS_TR_NONE, &id,
                                     &sec, &info);
        if (rc != TSS2_RC_SUCCESS) {
            /* TPM_RC_INTEGRITY / TPM_RC_VALUE: the blob was not made for this EK and AK. */
            err = fwt_fail(FWT_E_SIGNATURE, "TPM refused the credential: %s", Tss2_RC_Decode(rc));
        } else if (info->size > *cred_len) {
            err = fwt_fail(FWT_E_BUFFER, "credential of %u bytes", (unsigned)info->size);
        } else {
            memcpy(cred, info->buffer, info->size);
            *cred_len = info->size;
        }
        if (info) {
            fwt_zeroize(info->buffer, sizeof(info->buffer));
        }
        Esys_Free(info);
    }
    flush(t, &sess);
    flush(t, &ak);
    flush(t, &ek);
    Esys_Free(ekp);
    Esys_Free(akp);
    return err;
}

fwt_err fwt_tpm_quote(fwt_tpm *t, uint32_t mask, const uint8_t *nonce, size_t nonce_len,
                      struct fwt_tpm_quote *q)
{
    memset(q, 0, sizeof(*q));
    if (nonce_len == 0 || nonce_len > FWT_TPM_NONCE_MAX) {
        return fwt_fail(FWT_E_ARG, "nonce of %zu bytes (1 to %u)", nonce_len, FWT_TPM_NONCE_MAX);
    }
    if (mask == 0 || (mask >> FWT_TPM_PCRS) != 0) {
        return fwt_fail(FWT_E_ARG, "PCR selection 0x%x: empty or above PCR 23", (unsigned)mask);
    }
    TPM2B_PUBLIC akt, *akp = NULL;
    ak_template(t, &akt);
    ESYS_TR ak = ESYS_TR_NONE;
    fwt_err err = create_primary(t, &akt, "creating the AK", &ak, &akp);
    Esys_Free(akp);
    if (err != FWT_OK) {
        return err;
    }
    TPM2B_DATA qd;
    memset(&qd, 0, sizeof(qd));
    qd.size = (UINT16)nonce_len;
    memcpy(qd.buffer, nonce, nonce_len);
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
    TPML_PCR_SELECTION sel;
    pcr_select(&sel, mask);
    TPM2B_ATTEST *att = NULL;
    TPMT_SIGNATURE *sig = NULL;
    TSS2_RC rc = Esys_Quote(t->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qd,
                            &scheme, &sel, &att, &sig);
    flush(t, &ak);
    if (rc != TSS2_RC_SUCCESS) {
        return tpm_fail(rc, "quote");
    }
    uint8_t sbuf[sizeof(TPMT_SIGNATURE)];
    size_t soff = 0;
    rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sbuf, sizeof(sbuf), &soff);
    if (rc != TSS2_RC_SUCCESS) {
        err = tpm_fail(rc, "marshalling the signature");
    } else if ((q->attest = malloc(att->size)) == NULL || (q->sig = malloc(soff)) == NULL) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    } else {
        memcpy(q->attest, att->attestationData, att->size);
        q->attest_len = att->size;
        memcpy(q->sig, sbuf, soff);
        q->sig_len = soff;
    }
    Esys_Free(att);
    Esys_Free(sig);
    if (err != FWT_OK) {
        fwt_tpm_quote_free(q);
    }
    return err;
}

void fwt_tpm_quote_free(struct fwt_tpm_quote *q)
{
    if (q) {
        free(q->attest);
        free(q->sig);
        memset(q, 0, sizeof(*q));
    }
}

/* ---- anti-rollback minimums in NV counters ---- */

/* The index's ESYS handle and its attributes; FWT_E_NOT_FOUND when it is not defined. */
static fwt_err nv_open(fwt_tpm *t, TPM2_HANDLE idx, ESYS_TR *tr, TPMA_NV *attrs)
{
    *tr = ESYS_TR_NONE;
    TSS2_RC rc = Esys_TR_FromTPMPublic(t->esys, idx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, tr);
    if (rc != TSS2_RC_SUCCESS) {
        *tr = ESYS_TR_NONE;
        return fwt_fail(FWT_E_NOT_FOUND, "TPM NV index 0x%08x is not defined", (unsigned)idx);
    }
    TPM2B_NV_PUBLIC *np = NULL;
    TPM2B_NAME *nm = NULL;
    rc = Esys_NV_ReadPublic(t->esys, *tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &np, &nm);
    if (rc == TSS2_RC_SUCCESS) {
        *attrs = np->nvPublic.attributes;
    }
    Esys_Free(np);
    Esys_Free(nm);
    if (rc != TSS2_RC_SUCCESS) {
        (void)Esys_TR_Close(t->esys, tr);
        return tpm_fail(rc, "reading an NV public area");
    }
    return FWT_OK;
}

static fwt_err nv_define(fwt_tpm *t, TPM2_HANDLE idx, TPMA_NV attrs, uint16_t size, ESYS_TR *tr)
{
    TPM2B_AUTH auth;
    TPM2B_NV_PUBLIC pub;
    memset(&auth, 0, sizeof(auth));
    memset(&pub, 0, sizeof(pub));
    pub.nvPublic.nvIndex = idx;
    pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
    pub.nvPublic.attributes = attrs;
    pub.nvPublic.dataSize = size;
    TSS2_RC rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &auth, &pub, tr);
    if (rc != TSS2_RC_SUCCESS) {
        *tr = ESYS_TR_NONE;
        return tpm_fail(rc, "defining an NV index (owner authorisation)");
    }
    return FWT_OK;
}

static fwt_err nv_read_bytes(fwt_tpm *t, ESYS_TR tr, uint8_t *out, uint16_t n)
{
    TPM2B_MAX_NV_BUFFER *d = NULL;
    TSS2_RC rc = Esys_NV_Read(t->esys, tr, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n, 0,
                              &d);
    fwt_err err = FWT_OK;
    if (rc != TSS2_RC_SUCCESS) {
        err = tpm_fail(rc, "reading an NV index");
    } else if (d->size != n) {
        err = fwt_fail(FWT_E_IO, "TPM: short NV read");
    } else {
        memcpy(out, d->buffer, n);
    }
    Esys_Free(d);
    return err;
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

#define NV_COUNTER_ATTRS                                                                           \
    ((TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_AUTHWRITE | TPMA_NV_AUTHREAD |          \
     TPMA_NV_NO_DA)
#define NV_BASE_ATTRS (TPMA_NV_AUTHWRITE | TPMA_NV_AUTHREAD | TPMA_NV_NO_DA | TPMA_NV_WRITEDEFINE)

fwt_err fwt_tpm_nv_increment(fwt_tpm *t, int which)
{
    ESYS_TR tr = ESYS_TR_NONE;
    TPMA_NV a = 0;
    fwt_err err = nv_open(t, which ? FWT_TPM_NV_KV : FWT_TPM_NV_SC, &tr, &a);
    if (err != FWT_OK) {
        return err == FWT_E_NOT_FOUND ? fwt_fail(FWT_E_STATE, "%s", fwt_detail()) : err;
    }
    TSS2_RC rc = Esys_NV_Increment(t->esys, tr, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
    (void)Esys_TR_Close(t->esys, &tr);
    return rc == TSS2_RC_SUCCESS ? FWT_OK : tpm_fail(rc, "incrementing an NV counter");
}

fwt_err fwt_tpm_nv_provisioned(fwt_tpm *t, int *done)
{
    ESYS_TR tr = ESYS_TR_NONE;
    TPMA_NV a = 0;
    *done = 0;
    fwt_err err = nv_open(t, FWT_TPM_NV_BASE, &tr, &a);
    if (err == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        return FWT_OK;
    }
    if (err == FWT_OK) {
        (void)Esys_TR_Close(t->esys, &tr);
        *done = (a & TPMA_NV_WRITELOCKED) != 0;
    }
    return err;
}

fwt_err fwt_tpm_nv_provision(fwt_tpm *t, const uint64_t initial[2])
{
    static const TPM2_HANDLE ctr[2] = {FWT_TPM_NV_SC, FWT_TPM_NV_KV};
    ESYS_TR tr = ESYS_TR_NONE, btr = ESYS_TR_NONE;
    TPMA_NV a = 0, ba = 0;
    int done = 0;
    fwt_err err = fwt_tpm_nv_provisioned(t, &done);
    if (err != FWT_OK || done) {
        return err;
    }
    if (initial[0] > 100000 || initial[1] > 100000) {
        return fwt_fail(FWT_E_ARG, "initial minimums above 100000 (one NV write per count)");
    }
    uint8_t cur[16], bases[16];
    for (int i = 0; i < 2; i++) {
        err = nv_open(t, ctr[i], &tr, &a);
        if (err == FWT_E_NOT_FOUND) {
            fwt_detail_clear();
            err = nv_define(t, ctr[i], NV_COUNTER_ATTRS, 8, &tr);
            a = NV_COUNTER_ATTRS;
        } else if (err == FWT_OK && (a & ~(TPMA_NV)TPMA_NV_WRITTEN) != NV_COUNTER_ATTRS) {
            err = fwt_fail(FWT_E_STATE, "TPM NV index 0x%08x is not fwtrust's counter "
                           "(attributes 0x%08x)", (unsigned)ctr[i], (unsigned)a);
        }
        if (err == FWT_OK && !(a & TPMA_NV_WRITTEN)) {
            /* the first increment sets the counter to the TPM's highest count: the base */
            TSS2_RC rc = Esys_NV_Increment(t->esys, tr, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                           ESYS_TR_NONE);
            if (rc != TSS2_RC_SUCCESS) {
                err = tpm_fail(rc, "initialising an NV counter");
            }
        }
        if (err == FWT_OK) {
            err = nv_read_bytes(t, tr, cur + 8 * i, 8);
        }
        if (tr != ESYS_TR_NONE) {
            (void)Esys_TR_Close(t->esys, &tr);
        }
        if (err != FWT_OK) {
            return err;
        }
    }
    /* The bases: written once, before any count-up (so, unwritten, they are the counters'
     * values now), and locked only after the count-up. */
    err = nv_open(t, FWT_TPM_NV_BASE, &btr, &ba);
    if (err == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        err = nv_define(t, FWT_TPM_NV_BASE, NV_BASE_ATTRS, 16, &btr);
        ba = NV_BASE_ATTRS;
    } else if (err == FWT_OK && (ba & ~(TPMA_NV)TPMA_NV_WRITTEN) != NV_BASE_ATTRS) {
        err = fwt_fail(FWT_E_STATE, "TPM NV index 0x%08x is not fwtrust's base index",
                       (unsigned)FWT_TPM_NV_BASE);
    }
    if (err == FWT_OK && !(ba & TPMA_NV_WRITTEN)) {
        TPM2B_MAX_NV_BUFFER d;
        memset(&d, 0, sizeof(d));
        d.size = 16;
        memcpy(d.buffer, cur, 16);
        TSS2_RC rc = Esys_NV_Write(t->esys, btr, btr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                   &d, 0);
        if (rc != TSS2_RC_SUCCESS) {
            err = tpm_fail(rc, "writing the NV counter bases");
        }
    }
    if (err == FWT_OK) {
        err = nv_read_bytes(t, btr, bases, 16);
    }
    for (int i = 0; i < 2 && err == FWT_OK; i++) {
        uint64_t c = be64(cur + 8 * i), b = be64(bases + 8 * i);
        if (c < b) {
            err = fwt_fail(FWT_E_STATE, "TPM NV counter 0x%08x is below its base",
                           (unsigned)ctr[i]);
        }
        for (; err == FWT_OK && c - b < initial[i]; c++) {
            err = fwt_tpm_nv_increment(t, i);
        }
    }
    if (err == FWT_OK) {
        TSS2_RC rc = Esys_NV_WriteLock(t->esys, btr, btr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                       ESYS_TR_NONE);
        if (rc != TSS2_RC_SUCCESS) {
            err = tpm_fail(rc, "locking the NV counter bases");
        }
    }
    if (btr != ESYS_TR_NONE) {
        (void)Esys_TR_Close(t->esys, &btr);
    }
    return err;
}

fwt_err fwt_tpm_nv_read(fwt_tpm *t, uint64_t min[2])
{
    static const TPM2_HANDLE ctr[2] = {FWT_TPM_NV_SC, FWT_TPM_NV_KV};
    ESYS_TR tr = ESYS_TR_NONE;
    TPMA_NV a = 0;
    uint8_t bases[16], c[8];
    fwt_err err = nv_open(t, FWT_TPM_NV_BASE, &tr, &a);
    if (err == FWT_OK && (!(a & TPMA_NV_WRITELOCKED) || (a & ~(TPMA_NV)(TPMA_NV_WRITTEN |
                                                          TPMA_NV_WRITELOCKED)) != NV_BASE_ATTRS)) {
        err = fwt_fail(FWT_E_STATE, "the TPM's anti-rollback counters are not provisioned");
    }
    if (err == FWT_OK) {
        err = nv_read_bytes(t, tr, bases, 16);
    }
    if (tr != ESYS_TR_NONE) {
        (void)Esys_TR_Close(t->esys, &tr);
    }
    for (int i = 0; i < 2 && err == FWT_OK; i++) {
        err = nv_open(t, ctr[i], &tr, &a);
        if (err == FWT_OK && (a & ~(TPMA_NV)TPMA_NV_WRITTEN) != NV_COUNTER_ATTRS) {
            err = fwt_fail(FWT_E_STATE, "TPM NV index 0x%08x is not fwtrust's counter",
                           (unsigned)ctr[i]);
        }
        if (err == FWT_OK) {
            err = nv_read_bytes(t, tr, c, 8);
        }
        if (tr != ESYS_TR_NONE) {
            (void)Esys_TR_Close(t->esys, &tr);
        }
        uint64_t v = be64(c), b = be64(bases + 8 * i);
        if (err == FWT_OK && (v < b || v - b > UINT32_MAX)) {
            err = fwt_fail(FWT_E_STATE, "TPM NV counter 0x%08x is below its base or too far "
                           "above it", (unsigned)ctr[i]);
        }
        if (err == FWT_OK) {
            min[i] = v - b;
        }
    }
    if (err == FWT_E_NOT_FOUND) {
        err = fwt_fail(FWT_E_STATE, "the TPM's anti-rollback counters are not provisioned: %s",
                       fwt_detail());
    }
    return err;
}

