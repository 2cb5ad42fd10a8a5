/*
 * The measured-boot event log: TCG PC Client Platform Firmware Profile,
 * crypto-agile format (little-endian), restricted to one bank, SHA-256.
 *
 *   header  TCG_PCR_EVENT: pcrIndex 0, EV_NO_ACTION, 20 zero bytes, size,
 *           TCG_EfiSpecIDEvent "Spec ID Event03" (platform class 0, spec 2.0,
 *           uintnSize 2, one algorithm: 0x000b / 32, vendorInfoSize 0)
 *   events  TCG_PCR_EVENT2: pcrIndex, eventType, TPML_DIGEST_VALUES (count 1,
 *           0x000b, 32 bytes), eventSize, event; fwtrust's events are
 *           EV_EVENT_TAG with TCG_PCClientTaggedEvent {taggedEventID,
 *           taggedEventDataSize, data}.
 */
#include "attest_internal.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t k_spec_sig[16] = "Spec ID Event03";

static void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define SPEC_EVENT_LEN 33U
#define HEADER_LEN (4U + 4U + 20U + 4U + SPEC_EVENT_LEN)

fwt_err fwt_tcglog_header(uint8_t **out, size_t *len)
{
    uint8_t *b = calloc(1, HEADER_LEN);
    if (!b) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    le32(b + 4, FWT_EV_NO_ACTION);
    le32(b + 28, SPEC_EVENT_LEN);
    uint8_t *e = b + 32;
    memcpy(e, k_spec_sig, 16);
    /* platformClass 0, specVersionMinor 0, specVersionMajor 2, specErrata 0, uintnSize 2 */
    e[21] = 2;
    e[23] = 2;
    le32(e + 24, 1);
    e[28] = 0x0b; /* TPM_ALG_SHA256, little-endian */
    e[30] = 32;
    /* vendorInfoSize 0 */
    *out = b;
    *len = HEADER_LEN;
    return FWT_OK;
}

fwt_err fwt_tcglog_event(uint32_t pcr, uint32_t tag, const uint8_t digest[32],
                         const uint8_t *data, size_t data_len, uint8_t **out, size_t *len)
{
    if (pcr > 23 || data_len > FWT_EVENT_DATA_MAX - 8) {
        return fwt_fail(FWT_E_ARG, "event for PCR %u with %zu bytes of data", (unsigned)pcr,
                        data_len);
    }
    size_t n = 4 + 4 + 4 + 2 + 32 + 4 + 8 + data_len;
    uint8_t *b = malloc(n);
    if (!b) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    le32(b, pcr);
    le32(b + 4, FWT_EV_EVENT_TAG);
    le32(b + 8, 1);
    b[12] = 0x0b;
    b[13] = 0;
    memcpy(b + 14, digest, 32);
    le32(b + 46, (uint32_t)(8 + data_len));
    le32(b + 50, tag);
    le32(b + 54, (uint32_t)data_len);
    if (data_len) {
        memcpy(b + 58, data, data_len);
    }
    *out = b;
    *len = n;
    return FWT_OK;
}

fwt_err fwt_tcglog_parse(const uint8_t *buf, size_t len, fwt_tcglog_cb cb, void *ctx)
{
    if (len > FWT_EVENTLOG_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE, "event log of %zu bytes (at most %u)", len,
                        FWT_EVENTLOG_MAX);
    }
    if (len < HEADER_LEN) {
        return fwt_fail(FWT_E_MALFORMED, "event log of %zu bytes: no Spec ID header", len);
    }
    static const uint8_t zero20[20] = {0};
    const uint8_t *e = buf + 32;
    uint32_t esize = get32(buf + 28);
    if (get32(buf) != 0 || get32(buf + 4) != FWT_EV_NO_ACTION || memcmp(buf + 8, zero20, 20) ||
        esize < SPEC_EVENT_LEN || esize > len - 32 || memcmp(e, k_spec_sig, 16) != 0) {
        return fwt_fail(FWT_E_MALFORMED, "event log: the first record is not a Spec ID Event03");
    }
    if (e[21] != 2 || e[23] != 2 || get32(e + 24) != 1 || e[28] != 0x0b || e[29] != 0 ||
        e[30] != 32 || e[31] != 0 || esize != SPEC_EVENT_LEN + (size_t)e[32]) {
        return fwt_fail(FWT_E_MALFORMED, "event log: the header must declare exactly one bank, "
                        "SHA-256 (spec 2.0, 64-bit UINTN)");
    }
    size_t off = 32 + (size_t)esize;
    unsigned idx = 0;
    while (off < len) {
        idx++;
        size_t left = len - off;
        const uint8_t *p = buf + off;
        if (left < 4 + 4 + 4 + 2 + 32 + 4) {
            return fwt_fail(FWT_E_MALFORMED, "event log: record %u truncated (%zu bytes left)",
                            idx, left);
        }
        struct fwt_tcg_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.pcr = get32(p);
        ev.type = get32(p + 4);
        uint32_t count = get32(p + 8);
        if (ev.pcr > 23) {
            return fwt_fail(FWT_E_MALFORMED, "event log: record %u for PCR %u", idx,
                            (unsigned)ev.pcr);
        }
        if (count != 1 || p[12] != 0x0b || p[13] != 0) {
            return fwt_fail(FWT_E_MALFORMED, "event log: record %u has %u digests or a bank "
                            "other than SHA-256", idx, (unsigned)count);
        }
        memcpy(ev.digest, p + 14, 32);
        uint32_t dl = get32(p + 46);
        if (dl > FWT_EVENT_DATA_MAX || dl > left - 50) {
            return fwt_fail(FWT_E_MALFORMED, "event log: record %u: event size %u %s", idx,
                            (unsigned)dl, dl > FWT_EVENT_DATA_MAX ? "too large" : "runs past "
                            "the end (truncated)");
        }
        ev.data = p + 50;
        ev.data_len = dl;
        if (ev.type == FWT_EV_EVENT_TAG) {
            if (dl < 8 || get32(p + 54) != dl - 8) {
                return fwt_fail(FWT_E_MALFORMED, "event log: record %u: tagged event size "
                                "disagrees with its event size", idx);
            }
            ev.tag = get32(p + 50);
            ev.data = p + 58;
            ev.data_len = dl - 8;
        }
        off += 50 + (size_t)dl;
        if (ev.type == FWT_EV_NO_ACTION) {
            continue; /* informational: never extended */
        }
        if (cb && cb(ctx, &ev) != 0) {
            return fwt_fail(FWT_E_ARG, "event log: record %u refused by the caller", idx);
        }
    }
    return FWT_OK;
}

static int replay_cb(void *ctx, const struct fwt_tcg_event *ev)
{
    uint8_t (*pcrs)[32] = ctx;
    uint8_t b[64];
    memcpy(b, pcrs[ev->pcr], 32);
    memcpy(b + 32, ev->digest, 32);
    return fwt_sha256(b, sizeof(b), pcrs[ev->pcr]) == FWT_OK ? 0 : 1;
}

fwt_err fwt_tcglog_replay(const uint8_t *buf, size_t len, uint8_t pcrs[24][32])
{
    memset(pcrs, 0, 24 * 32);
    return fwt_tcglog_parse(buf, len, replay_cb, pcrs);
}
