/*
 * The encoded-image container and its names (<fwtrust/fwt_delta.h>): the one
 * place mapping encoding names ("zstd", "zstd-patch", "zstd-bsdiff", "bsdiff2")
 * and patch method names ("auto", "prefix", "bsdiff", "bsdiff2") to their
 * enums, and reading the preamble of a "bsdiff2" frame.
 */
#include <fwtrust/fwt_util.h>

#include <fwtrust/fwt_delta.h>

#include "thumb.h"

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader: the window of a frame */
#include <zstd.h>

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    enum fwt_dec_method m;
} k_encodings[] = {
    {FWT_ENC_ZSTD, FWT_DEC_PLAIN},
    {FWT_ENC_PATCH, FWT_DEC_PREFIX},
    {FWT_ENC_BSDIFF, FWT_DEC_BSDIFF},
    {FWT_ENC_BSDIFF2, FWT_DEC_BSDIFF2},
};

static const struct {
    const char *name;
    enum fwt_delta_method m;
} k_methods[] = {
    {"auto", FWT_DELTA_AUTO},
    {"prefix", FWT_DELTA_PREFIX},
    {"bsdiff", FWT_DELTA_BSDIFF},
    {"bsdiff2", FWT_DELTA_BSDIFF2},
    {"lzma2-dict", FWT_DELTA_LZDICT},
};

const char *fwt_delta_encoding_name(enum fwt_dec_method m)
{
    for (size_t i = 0; i < sizeof(k_encodings) / sizeof(k_encodings[0]); i++) {
        if (k_encodings[i].m == m) {
            return k_encodings[i].name;
        }
    }
    return "unknown";
}

fwt_err fwt_delta_encoding_parse(const char *name, enum fwt_dec_method *m)
{
    for (size_t i = 0; name && i < sizeof(k_encodings) / sizeof(k_encodings[0]); i++) {
        if (!strcmp(name, k_encodings[i].name)) {
            *m = k_encodings[i].m;
            return FWT_OK;
        }
    }
    return FWT_E_UNSUPPORTED;
}

fwt_err fwt_delta_method_parse(const char *name, enum fwt_delta_method *m)
{
    for (size_t i = 0; name && i < sizeof(k_methods) / sizeof(k_methods[0]); i++) {
        if (!strcmp(name, k_methods[i].name)) {
            *m = k_methods[i].m;
            return FWT_OK;
        }
    }
    return FWT_E_ARG;
}

fwt_err fwt_delta_pre_parse(const uint8_t *frame, size_t len, struct fwt_delta_pre *pre)
{
    if (len < FWT_ENC_PRE_LEN || memcmp(frame, FWT_ENC_PRE_MAGIC, 4) != 0) {
        return fwt_fail(FWT_E_MALFORMED, "bsdiff2 patch: no preamble");
    }
    pre->xform = frame[4];
    pre->xflags = frame[5];
    pre->entropy = frame[6];
    pre->dictlog = frame[7];
    /* Flags: 1 2 4 8 instructions, 16 pointers (with a map), 32 A32 (its own transform),
     * 64 code ranges after the map's entries (map transforms only). */
    unsigned allowed = pre->xform == FWT_ENC_XFORM_THUMB2   ? 0x0FU
                       : pre->xform == FWT_ENC_XFORM_THUMB2_MAP ? 0x5FU
                       : pre->xform == FWT_ENC_XFORM_ARM32_MAP  ? 0x7FU
                                                                : 0U;
    if (pre->xform > FWT_ENC_XFORM_ARM32_MAP ||
        (pre->xform == FWT_ENC_XFORM_NONE) != (pre->xflags == 0) ||
        (pre->xflags & ~allowed) != 0 ||
        (pre->xform == FWT_ENC_XFORM_ARM32_MAP) != ((pre->xflags & 0x20U) != 0)) {
        return fwt_fail(FWT_E_UNSUPPORTED, "bsdiff2 patch: unknown transform %u (flags 0x%02x)",
                        pre->xform, pre->xflags);
    }
    if (pre->entropy == FWT_ENC_ENTROPY_ZSTD ? pre->dictlog != 0
        : pre->entropy >= FWT_ENC_ENTROPY_LZMA2 && pre->entropy <= FWT_ENC_ENTROPY_LZMA2_DICT
            ? (pre->dictlog < 12 || pre->dictlog > FWT_ENC_LZMA_DICTLOG_MAX)
            : 1) {
        return fwt_fail(FWT_E_UNSUPPORTED,
                        "bsdiff2 patch: unknown entropy coder %u or dictionary 2^%u", pre->entropy,
                        pre->dictlog);
    }
    return FWT_OK;
}

uint64_t fwt_delta_window_need(unsigned xform, unsigned entropy, unsigned dictlog,
                               uint64_t base_len)
{
    uint64_t dict = 1ULL << (dictlog < 63 ? dictlog : 63);
    if (entropy == FWT_ENC_ENTROPY_LZMA2_DICT && xform != FWT_ENC_XFORM_NONE) {
        /* The transformed copy starts at a block boundary: up to a block more. */
        uint64_t copy = dict + FWT_THUMB_BLOCK - 1;
        return dict + (base_len < copy ? base_len : copy);
    }
    return dict;
}

/* The window a zstd frame header asks for, as the decoder's cap counts it (a power of two). */
static fwt_err zstd_window(const uint8_t *frame, size_t len, uint64_t *need)
{
    ZSTD_frameHeader zfh;
    size_t rc = ZSTD_getFrameHeader(&zfh, frame, len);
    if (rc != 0 || zfh.frameType != ZSTD_frame) {
        return fwt_fail(FWT_E_MALFORMED, "encoded image: %s",
                        ZSTD_isError(rc) ? "its zstd frame header does not parse"
                        : rc != 0        ? "its zstd frame header is cut short"
                                         : "a skippable frame where its zstd frame should be");
    }
    uint64_t w = 1024; /* fwt_dec_set_max_window's smallest cap */
    while (w < zfh.windowSize && w < (1ULL << 62)) {
        w <<= 1;
    }
    *need = w;
    return FWT_OK;
}

fwt_err fwt_delta_frame_window(const uint8_t *frame, size_t len, enum fwt_dec_method m,
                               uint64_t base_len, uint64_t *need)
{
    *need = 0;
    if (m != FWT_DEC_BSDIFF2) {
        return zstd_window(frame, len, need);
    }
    struct fwt_delta_pre pre;
    fwt_err err = fwt_delta_pre_parse(frame, len, &pre);
    if (err != FWT_OK) {
        return err;
    }
    if (pre.entropy == FWT_ENC_ENTROPY_ZSTD) {
        return zstd_window(frame + FWT_ENC_PRE_LEN, len - FWT_ENC_PRE_LEN, need);
    }
    *need = fwt_delta_window_need(pre.xform, pre.entropy, pre.dictlog, base_len);
    return FWT_OK;
}

const char *fwt_delta_xform_name(unsigned xform)
{
    return xform == FWT_ENC_XFORM_NONE         ? "none"
           : xform == FWT_ENC_XFORM_THUMB2     ? "thumb2"
           : xform == FWT_ENC_XFORM_THUMB2_MAP ? "thumb2-map"
           : xform == FWT_ENC_XFORM_ARM32_MAP  ? "arm32-map"
                                               : "unknown";
}

const char *fwt_delta_entropy_name(unsigned entropy)
{
    return entropy == FWT_ENC_ENTROPY_ZSTD         ? "zstd"
           : entropy == FWT_ENC_ENTROPY_LZMA2      ? "lzma2"
           : entropy == FWT_ENC_ENTROPY_LZMA2_BASE ? "lzma2-base"
           : entropy == FWT_ENC_ENTROPY_LZMA2_DICT ? "lzma2-dict"
                                                   : "unknown";
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

fwt_err fwt_delta_container(const char *hjson, size_t hlen, const uint8_t *frame,
                            size_t frame_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    if (hlen > FWT_ENC_JSON_MAX) {
        return fwt_fail(FWT_E_INTERNAL, "header of %zu bytes is too large", hlen);
    }
    size_t head = 8 + FWT_ENC_TAG_LEN + hlen;
    if (frame_len > SIZE_MAX - head) {
        return fwt_fail(FWT_E_TOO_LARGE, "encoded image too large");
    }
    uint8_t *file = malloc(head + frame_len);
    if (!file) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    put_le32(file, FWT_ENC_SKIPPABLE_MAGIC);
    put_le32(file + 4, (uint32_t)(FWT_ENC_TAG_LEN + hlen));
    memcpy(file + 8, FWT_ENC_TAG, FWT_ENC_TAG_LEN);
    memcpy(file + 8 + FWT_ENC_TAG_LEN, hjson, hlen);
    memcpy(file + head, frame, frame_len);
    *out = file;
    *out_len = head + frame_len;
    return FWT_OK;
}
