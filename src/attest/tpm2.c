/*
 * Strict parsers of the TPM 2.0 structures a verifier reads (TPM 2.0 Part 2:
 * big-endian, TPM2B = 16-bit size then bytes). Every read is bounds-checked
 * against what is left; every structure must use its input to the last byte.
 */
#include "attest_internal.h"

#include <string.h>

#include <openssl/evp.h>

void rd_init(struct rd *r, const uint8_t *p, size_t n)
{
    r->p = p;
    r->n = n;
    r->bad = 0;
}

static int take(struct rd *r, size_t k, const uint8_t **out)
{
    if (r->bad || r->n < k) {
        r->bad = 1;
        return 0;
    }
    *out = r->p;
    r->p += k;
    r->n -= k;
    return 1;
}

uint8_t rd_u8(struct rd *r)
{
    const uint8_t *b;
    return take(r, 1, &b) ? b[0] : 0;
}

uint16_t rd_u16(struct rd *r)
{
    const uint8_t *b;
    return take(r, 2, &b) ? (uint16_t)(b[0] << 8 | b[1]) : 0;
}

uint32_t rd_u32(struct rd *r)
{
    const uint8_t *b;
    return take(r, 4, &b) ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
                          : 0;
}

uint64_t rd_u64(struct rd *r)
{
    uint64_t hi = rd_u32(r);
    return hi << 32 | rd_u32(r);
}

/* A TPM2B of at most max bytes into out. */
void rd_2b(struct rd *r, uint8_t *out, size_t max, size_t *len)
{
    uint16_t n = rd_u16(r);
    const uint8_t *b;
    *len = 0;
    if (r->bad || n > max) {
        r->bad = 1;
        return;
    }
    if (take(r, n, &b)) {
        memcpy(out, b, n);
        *len = n;
    }
}

fwt_err fwt_tpm_public_parse(const uint8_t *buf, size_t len, struct fwt_tpm_public *o)
{
    memset(o, 0, sizeof(*o));
    struct rd r;
    rd_init(&r, buf, len);
    uint16_t size = rd_u16(&r);
    if (r.bad || size != r.n) {
        return fwt_fail(FWT_E_MALFORMED, "TPM2B_PUBLIC: size %u, %zu bytes follow", size, r.n);
    }
    const uint8_t *area = r.p;
    o->type = rd_u16(&r);
    o->name_alg = rd_u16(&r);
    o->attributes = rd_u32(&r);
    rd_2b(&r, o->auth_policy, sizeof(o->auth_policy), &o->auth_policy_len);
    if (r.bad) {
        return fwt_fail(FWT_E_MALFORMED, "TPM2B_PUBLIC: truncated header");
    }
    if (o->name_alg != FWT_TPM_ALG_SHA256) {
        return fwt_fail(FWT_E_UNSUPPORTED, "TPM2B_PUBLIC: nameAlg 0x%04x, not SHA-256", o->name_alg);
    }
    /* symmetric: TPMT_SYM_DEF_OBJECT */
    o->sym_alg = rd_u16(&r);
    if (o->sym_alg != FWT_TPM_ALG_NULL) {
        o->sym_bits = rd_u16(&r);
        o->sym_mode = rd_u16(&r);
    }
    o->scheme = rd_u16(&r);
    if (o->scheme != FWT_TPM_ALG_NULL) {
        o->scheme_hash = rd_u16(&r);
    }
    if (o->type == FWT_TPM_ALG_RSA) {
        o->rsa_bits = rd_u16(&r);
        o->rsa_exponent = rd_u32(&r);
        rd_2b(&r, o->unique, sizeof(o->unique), &o->unique_len);
    } else if (o->type == FWT_TPM_ALG_ECC) {
        o->curve = rd_u16(&r);
        o->kdf = rd_u16(&r);
        if (o->kdf != FWT_TPM_ALG_NULL) {
            (void)rd_u16(&r);
        }
        rd_2b(&r, o->unique, 66, &o->unique_len);
        rd_2b(&r, o->unique_y, 66, &o->unique_y_len);
    } else {
        return fwt_fail(FWT_E_UNSUPPORTED, "TPM2B_PUBLIC: key type 0x%04x, not RSA or ECC",
                        o->type);
    }
    if (r.bad || r.n != 0) {
        return fwt_fail(FWT_E_MALFORMED, "TPM2B_PUBLIC: %s", r.bad ? "truncated or a size "
                        "out of bounds" : "bytes after the public area");
    }
    o->name[0] = 0x00;
    o->name[1] = 0x0b;
    unsigned int dl = 0;
    if (EVP_Digest(area, size, o->name + 2, &dl, EVP_sha256(), NULL) != 1 || dl != 32) {
        return fwt_fail(FWT_E_CRYPTO, "SHA-256 failed");
    }
    return FWT_OK;
}

fwt_err fwt_tpms_attest_parse(const uint8_t *buf, size_t len, struct fwt_tpms_attest *o)
{
    memset(o, 0, sizeof(*o));
    struct rd r;
    rd_init(&r, buf, len);
    uint8_t name[68];
    size_t nl;
    o->magic = rd_u32(&r);
    o->type = rd_u16(&r);
    rd_2b(&r, name, sizeof(name), &nl); /* qualifiedSigner */
    rd_2b(&r, o->extra, sizeof(o->extra), &o->extra_len);
    o->clock = rd_u64(&r);
    o->reset_count = rd_u32(&r);
    o->restart_count = rd_u32(&r);
    o->safe = rd_u8(&r);
    o->firmware_version = rd_u64(&r);
    if (r.bad) {
        return fwt_fail(FWT_E_MALFORMED, "TPMS_ATTEST: truncated or a size out of bounds");
    }
    if (o->safe > 1) {
        return fwt_fail(FWT_E_MALFORMED, "TPMS_ATTEST: clockInfo.safe is %u", o->safe);
    }
    if (o->type != FWT_TPM_ST_ATTEST_QUOTE) {
        return FWT_OK; /* the caller names the wrong type; the rest is not a quote's */
    }
    uint32_t count = rd_u32(&r);
    if (r.bad || count != 1) {
        return fwt_fail(FWT_E_MALFORMED, "TPMS_QUOTE_INFO: %u PCR banks selected, not one",
                        (unsigned)count);
    }
    o->pcr_hash = rd_u16(&r);
    uint8_t sz = rd_u8(&r);
    if (r.bad || sz < 3 || sz > 4) {
        return fwt_fail(FWT_E_MALFORMED, "TPMS_PCR_SELECTION: sizeofSelect %u", sz);
    }
    for (unsigned i = 0; i < sz; i++) {
        uint8_t b = rd_u8(&r);
        if (i == 3 && b != 0) {
            return fwt_fail(FWT_E_MALFORMED, "TPMS_PCR_SELECTION: PCRs above 23 selected");
        }
        if (i < 3) {
            o->pcr_mask |= (uint32_t)b << (8 * i);
        }
    }
    rd_2b(&r, o->pcr_digest, sizeof(o->pcr_digest), &o->pcr_digest_len);
    if (r.bad || r.n != 0) {
        return fwt_fail(FWT_E_MALFORMED, "TPMS_ATTEST: %s",
                        r.bad ? "truncated quote info" : "bytes after the quote info");
    }
    return FWT_OK;
}

fwt_err fwt_tpmt_signature_parse(const uint8_t *buf, size_t len, struct fwt_tpmt_signature *o)
{
    memset(o, 0, sizeof(*o));
    struct rd r;
    rd_init(&r, buf, len);
    o->alg = rd_u16(&r);
    if (r.bad || o->alg != FWT_TPM_ALG_ECDSA) {
        return fwt_fail(FWT_E_UNSUPPORTED, "TPMT_SIGNATURE: algorithm 0x%04x, not ECDSA", o->alg);
    }
    o->hash = rd_u16(&r);
    rd_2b(&r, o->r, sizeof(o->r), &o->r_len);
    rd_2b(&r, o->s, sizeof(o->s), &o->s_len);
    if (r.bad || r.n != 0 || o->r_len == 0 || o->s_len == 0) {
        return fwt_fail(FWT_E_MALFORMED, "TPMT_SIGNATURE: truncated, empty or trailing bytes");
    }
    return FWT_OK;
}
