/*
 * fwtrust delta engine (library fwt_delta, src/delta/): the encoded-image
 * container, the encoding names, the streaming decoder the device uses, and
 * the encoder `fwtrust delta` uses (library fwt_delta_encode: zstd
 * compression, zstd reference-prefix patches, bsdiff-style patches).
 *
 * Encoded images (compressed and delta targets) are written by `fwtrust
 * delta`, read by `fwtrust repo add-target` and decoded by the agent's
 * update. Format (docs/updates.md):
 *
 *   u32le 0x184D2A5E                zstd skippable frame magic (zstd skips it)
 *   u32le N                         bytes that follow in this frame, 8 < N <= 8 + FWT_ENC_JSON_MAX
 *   "FWTRUSTE"                      8 bytes, this container
 *   JSON object (N - 8 bytes)       {"fwtrust_encoded": 1, "encoding": "zstd" | "zstd-patch"
 *                                    | "zstd-bsdiff" | "bsdiff2", "image": {...},
 *                                    "base": {...} (patches)}
 *   one zstd frame                  content size and checksum set, holding:
 *     "zstd"         the image itself;
 *     "zstd-patch"   the image, compressed with the base image as the reference prefix
 *                    (as `zstd --patch-from=BASE`);
 *     "zstd-bsdiff"  a bsdiff-style stream of records (Colin Percival's method, our
 *                    encoding): u32le add, u32le copy, i64le seek; then `add` bytes each
 *                    added (mod 256) to the base byte at the base position (which advances
 *                    by add), then `copy` literal bytes; then the base position moves by
 *                    seek. Records run until the image is complete. The frame itself is
 *                    compressed without a prefix (window at most 8 MiB).
 *   "bsdiff2"      instead of the zstd frame: an 8-byte preamble "FWD2", transform (0 none,
 *                  1 ARM Thumb-2, 2 ARM Thumb-2 with an address map at the start of the
 *                  records: u32le load, u32le n, n x (u32le start, i32le delta), 3 ARM
 *                  (A32) with an address map; with transform flag 64 the map is followed by
 *                  code ranges: u32le nb, u32le nn, nb base then nn image x (u32le start,
 *                  u32le end)),
 *                  transform flags, entropy coder (1 zstd, 2 LZMA2, 3 LZMA2 with the base
 *                  image as preset dictionary), LZMA2 dictionary log (12..23; 0 for zstd);
 *                  then one zstd frame (window
 *                  at most 8 MiB) or one raw LZMA2 stream, holding "zstd-bsdiff" records
 *                  between the transformed base and the transformed image: the decoder
 *                  transforms the base block by block where a record reads it and undoes
 *                  the transform on its output (src/delta/thumb.h, docs/updates.md).
 *                  Coder 4 ("lzma2-dict") has no records: after the preamble, with a map
 *                  transform, the map (load, n, entries) as one raw LZMA2 stream (dictionary
 *                  2^FWT_ENC_MAP_DICTLOG, lc 0 lp 2 pb 2); then the transformed image as one
 *                  raw LZMA2 stream whose preset dictionary is the transformed base.
 *
 * The JSON header only describes; the device trusts nothing in it. It trusts
 * the target's custom metadata (signed by the TUF targets role), the TUF
 * length and hashes of the file, the SHA-256 of the decoded image (from that
 * custom metadata) and, above all, the verifier core's verdict on the image.
 *
 * Hosted C. Include <fwtrust/fwtrust_host.h> (or <fwtrust/fwt_util.h> first,
 * which defines FWTRUST_INTERNAL), then this header. Nothing here parses
 * arguments or prints; failures set the error detail (fwt_detail()).
 */
#ifndef FWT_DELTA_H
#define FWT_DELTA_H

#if !defined(FWTRUST_INSIDE_FWTRUST_H) && !defined(FWTRUST_INTERNAL)
#error "include <fwtrust/fwtrust_host.h> (or <fwtrust/fwt_util.h> before this header)"
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FWT_ENC_SKIPPABLE_MAGIC 0x184D2A5EU
#define FWT_ENC_ZSTD_MAGIC 0xFD2FB528U
#define FWT_ENC_TAG "FWTRUSTE"
#define FWT_ENC_TAG_LEN 8U
#define FWT_ENC_JSON_MAX 16384U
#define FWT_ENC_FORMAT 1

/* The encoding names of the header and of custom.fwtrust "encoding". */
#define FWT_ENC_NONE "none"         /* a full image (not encoded) */
#define FWT_ENC_ZSTD "zstd"         /* zstd-compressed image */
#define FWT_ENC_PATCH "zstd-patch"  /* zstd patch against a base image (reference prefix) */
#define FWT_ENC_BSDIFF "zstd-bsdiff" /* bsdiff-style records against a base image, zstd-compressed */
#define FWT_ENC_BSDIFF_REC 16U       /* bytes of a record header */
#define FWT_ENC_BSDIFF2 "bsdiff2"    /* bsdiff records between transformed images, zstd or LZMA2 */
#define FWT_ENC_PRE_MAGIC "FWD2"     /* the preamble of a "bsdiff2" patch ... */
#define FWT_ENC_PRE_LEN 8U           /* ... and its length */
#define FWT_ENC_XFORM_NONE 0U        /* transforms of "bsdiff2" */
#define FWT_ENC_XFORM_THUMB2 1U
#define FWT_ENC_XFORM_THUMB2_MAP 2U  /* Thumb-2, the base's targets and pointers through an address map */
#define FWT_ENC_XFORM_ARM32_MAP 3U   /* the same for 32-bit ARM code (BL, LDR literal; ARM7/ARM9) */
#define FWT_ENC_ENTROPY_ZSTD 1U      /* entropy coders of "bsdiff2" */
#define FWT_ENC_ENTROPY_LZMA2 2U
#define FWT_ENC_ENTROPY_LZMA2_BASE 3U /* LZMA2, the base image (untransformed) as preset dictionary */
#define FWT_ENC_ENTROPY_LZMA2_DICT 4U /* no records: the transformed image as LZMA2 with the
                                       * transformed base as preset dictionary ("lzma2-dict") */
#define FWT_ENC_LZMA_DICTLOG_MAX 23  /* LZMA2 dictionary at most 8 MiB */
#define FWT_ENC_MAP_DICTLOG 17       /* the LZMA2 stream of a "lzma2-dict" address map */

/*
 * Decoder memory bounds: the window a frame may ask for. A compressed image
 * needs at most an 8 MiB window whatever the image size; a patch needs a
 * window covering base and new image, at most 128 MiB (images up to about
 * 64 MiB each; larger ones are published full or compressed). A bsdiff patch
 * needs 8 MiB like a compressed image (the base is read where it lies).
 */
#define FWT_ENC_ZSTD_WINDOWLOG 23
#define FWT_ENC_PATCH_WINDOWLOG_MAX 27

/* How the zstd frame of an encoded image is decoded: one per encoding. */
enum fwt_dec_method {
    FWT_DEC_PLAIN = 0,  /* "zstd": the frame holds the image */
    FWT_DEC_PREFIX = 1, /* "zstd-patch": base is the frame's reference prefix */
    FWT_DEC_BSDIFF = 2, /* "zstd-bsdiff": the frame holds records applied to base */
    FWT_DEC_BSDIFF2 = 3 /* "bsdiff2": preamble, then records between transformed images */
};

/* The encoding name of a method ("zstd", "zstd-patch", "zstd-bsdiff", "bsdiff2"). */
const char *fwt_delta_encoding_name(enum fwt_dec_method m);
/* The method of an encoding name: FWT_E_UNSUPPORTED (no detail) for any other name or NULL. */
FWT_MUST_CHECK fwt_err fwt_delta_encoding_parse(const char *name, enum fwt_dec_method *m);

/* ---- Streaming decoder (library fwt_delta, src/delta/decode.c) ----
 *
 * Takes the bytes of an encoded target as they arrive, skips the describing
 * header, decodes the one zstd frame (with the base image as reference prefix
 * for a patch) and hands the image bytes to sink as they come out. Memory:
 * the decoder's window (at most 8 MiB for a compressed image or a bsdiff
 * patch, FWT_ENC_PATCH_WINDOWLOG_MAX for a prefix patch) and three 128 KiB
 * buffers; never the whole image. Output beyond max_out is FWT_E_TOO_LARGE.
 */
typedef fwt_err (*fwt_dec_sink)(void *ctx, const uint8_t *data, size_t len);
typedef struct fwt_dec fwt_dec;

/* base: the base image of a patch (must stay mapped until fwt_dec_free), NULL for PLAIN. */
FWT_MUST_CHECK fwt_err fwt_dec_new(enum fwt_dec_method method, const uint8_t *base,
                                   size_t base_len, uint64_t max_out, fwt_dec_sink sink,
                                   void *sink_ctx, fwt_dec **out);
/*
 * Cap the decoding window (bytes, at least 1024; before the first fwt_dec_feed): a frame
 * whose zstd window exceeds the largest power of two within it, or a "bsdiff2" LZMA2 coder
 * whose fwt_delta_window_need exceeds it, is refused with FWT_E_TOO_LARGE naming both
 * sizes. Without it: 2^FWT_ENC_ZSTD_WINDOWLOG (2^FWT_ENC_PATCH_WINDOWLOG_MAX for a prefix
 * patch) and 2^FWT_ENC_LZMA_DICTLOG_MAX. FWT_E_ARG after input or below 1 KiB.
 */
FWT_MUST_CHECK fwt_err fwt_dec_set_max_window(fwt_dec *d, uint64_t bytes);
FWT_MUST_CHECK fwt_err fwt_dec_feed(fwt_dec *d, const uint8_t *in, size_t len);
/* End of input: the frame must be complete (FWT_E_MALFORMED otherwise); the last staged
 * output goes to the sink. Output reaches the sink in chunks of up to 128 KiB. */
FWT_MUST_CHECK fwt_err fwt_dec_end(fwt_dec *d);
uint64_t fwt_dec_out(const fwt_dec *d);
/* 1 when the decoder refused its input for the window it needs (the FWT_E_TOO_LARGE of
 * fwt_dec_set_max_window's cap or the default maxima), not for anything else. */
int fwt_dec_window_refused(const fwt_dec *d);
void fwt_dec_free(fwt_dec *d);

/*
 * Decode in[0..len) (an encoded file, or its zstd frame alone) in one go
 * into exactly want bytes: *out (malloc'd, caller frees) on FWT_OK. base is
 * ignored for FWT_DEC_PLAIN. max_window: as fwt_dec_set_max_window (0: the defaults).
 */
FWT_MUST_CHECK fwt_err fwt_delta_decode(const uint8_t *in, size_t len, enum fwt_dec_method m,
                                        const uint8_t *base, size_t base_len, size_t want,
                                        uint64_t max_window, uint8_t **out);

/* ---- Encoder (library fwt_delta_encode, src/delta/encode.c) ---- */

/* Which patch `fwt_delta_patch` makes: every kind and keep the smallest, or one. */
enum fwt_delta_method {
    FWT_DELTA_AUTO = 0,    /* "auto" */
    FWT_DELTA_PREFIX = 1,  /* "prefix": a "zstd-patch" */
    FWT_DELTA_BSDIFF = 2,  /* "bsdiff": a "zstd-bsdiff" */
    FWT_DELTA_BSDIFF2 = 3, /* "bsdiff2": a "bsdiff2" (the smallest of its transforms and coders) */
    FWT_DELTA_LZDICT = 4   /* "lzma2-dict": a "bsdiff2" of coder 4 only (no records) */
};
/* The method of a name ("auto", "prefix", "bsdiff", "bsdiff2", "lzma2-dict"): FWT_E_ARG (no
 * detail) otherwise. */
FWT_MUST_CHECK fwt_err fwt_delta_method_parse(const char *name, enum fwt_delta_method *m);

/* zstd compression levels the encoder takes (1 .. 22, zstd's maximum). */
#define FWT_DELTA_LEVEL_MAX 22

/* Progress of the bsdiff matching: done of total new-image bytes (0 at the start, about
 * every MiB, total at the end). The callback must not fail. */
typedef void (*fwt_delta_progress)(void *ctx, uint64_t done, uint64_t total);

/*
 * The zstd frame of a "zstd" image: data compressed at level (1..FWT_DELTA_LEVEL_MAX), window
 * at most 2^FWT_ENC_ZSTD_WINDOWLOG. *out (malloc'd) and *out_len on FWT_OK.
 */
FWT_MUST_CHECK fwt_err fwt_delta_compress(const uint8_t *data, size_t len, int level,
                                          uint8_t **out, size_t *out_len);

/*
 * The zstd frame of a patch rebuilding nw from base (base_len >= 1;
 * base_len + nw_len at most 2^FWT_ENC_PATCH_WINDOWLOG_MAX, what a device
 * accepts): with FWT_DELTA_AUTO both kinds are made and the smaller kept (the
 * bsdiff one when equal). *used is the method it decodes with
 * (FWT_DEC_PREFIX, FWT_DEC_BSDIFF or FWT_DEC_BSDIFF2). progress may be NULL.
 * max_window (0: no cap): the largest decoding window (bytes, fwt_dec_set_max_window) the
 * patch may need; methods and coders needing more are not made (a prefix patch whose
 * window would exceed it is FWT_E_TOO_LARGE with FWT_DELTA_PREFIX; below 1 KiB FWT_E_ARG).
 */
FWT_MUST_CHECK fwt_err fwt_delta_patch(const uint8_t *base, size_t base_len, const uint8_t *nw,
                                       size_t nw_len, int level, enum fwt_delta_method method,
                                       uint64_t max_window, fwt_delta_progress progress,
                                       void *progress_ctx,
                                       uint8_t **out, size_t *out_len, enum fwt_dec_method *used);

/*
 * Code ranges: the parts of an image holding instructions, as image offsets [r[2i], r[2i+1])
 * (increasing, disjoint), at most FWT_DELTA_CODE_MAX of them. Given for base and new image
 * (from their ELF files: fwt_delta_elf_code), the "bsdiff2" transforms rewrite instructions
 * only there (transform flag 64, the ranges shipped after the address map: docs/updates.md);
 * without them the whole image is scanned.
 */
#define FWT_DELTA_CODE_MAX 4096U
#define FWT_DELTA_XF_CODE 0x40U /* the preamble's transform flag: code ranges follow the map */
struct fwt_delta_code {
    const uint32_t *base; /* 2 * n_base */
    size_t n_base;
    const uint32_t *nw;   /* 2 * n_nw */
    size_t n_nw;
};

/*
 * The code ranges of img (img_len bytes, its payload at payload_off) from the ELF file it was
 * made from (elf_len bytes; library fwt_delta_encode, src/delta/elf.c): the loaded PROGBITS
 * sections with SHF_EXECINSTR, placed by their load addresses relative to the lowest load
 * address of the loaded sections (as `objcopy -O binary` lays them out), merged where they
 * touch. Only 32-bit little-endian ARM executables: FWT_E_MALFORMED for a file that is not
 * ELF or whose headers, segments or sections do not fit it, FWT_E_UNSUPPORTED for another
 * class, byte order, machine or type, FWT_E_DIGEST when a code section's bytes are not the
 * image's at their place (not this image's ELF file), FWT_E_TOO_LARGE above
 * FWT_DELTA_CODE_MAX sections. *ranges (malloc'd, 2 * *n) on FWT_OK.
 */
FWT_MUST_CHECK fwt_err fwt_delta_elf_code(const uint8_t *elf, size_t elf_len, const uint8_t *img,
                                          size_t img_len, size_t payload_off, uint32_t **ranges,
                                          size_t *n);

/*
 * fwt_delta_patch with code ranges (code NULL: as fwt_delta_patch). With them the "bsdiff2"
 * patch tries only its address-map transforms, restricted to the ranges, and no transform.
 * FWT_E_ARG for ranges that are empty, out of order or beyond their image.
 */
FWT_MUST_CHECK fwt_err fwt_delta_patch_code(const uint8_t *base, size_t base_len,
                                            const uint8_t *nw, size_t nw_len, int level,
                                            enum fwt_delta_method method, uint64_t max_window,
                                            const struct fwt_delta_code *code,
                                            fwt_delta_progress progress, void *progress_ctx,
                                            uint8_t **out, size_t *out_len,
                                            enum fwt_dec_method *used);

/* What a "bsdiff2" frame (its first FWT_ENC_PRE_LEN bytes at least) says of itself. */
struct fwt_delta_pre {
    unsigned xform;   /* FWT_ENC_XFORM_* */
    unsigned xflags;  /* which instructions the transform rewrites (src/delta/thumb.h) */
    unsigned entropy; /* FWT_ENC_ENTROPY_* */
    unsigned dictlog; /* LZMA2 dictionary log, 0 for zstd */
};
/* FWT_E_MALFORMED (with detail) unless frame starts with a valid preamble. */
FWT_MUST_CHECK fwt_err fwt_delta_pre_parse(const uint8_t *frame, size_t len,
                                           struct fwt_delta_pre *pre);
/*
 * The decoding window a "bsdiff2" frame with an LZMA2 coder needs, in bytes: the dictionary
 * (2^dictlog), and for "lzma2-dict" with a transform the transformed base's last 2^dictlog
 * bytes (from a 4 KiB block boundary) while the decoder is set up (liblzma copies its preset
 * dictionary). A zstd frame's
 * window is its frame header's. The decoder's fixed buffers (about 0.6 MiB) come on top.
 */
uint64_t fwt_delta_window_need(unsigned xform, unsigned entropy, unsigned dictlog,
                               uint64_t base_len);
/*
 * The decoding window (bytes) the frame of an encoded image needs: what fwt_dec_set_max_window
 * must allow for it to decode. frame: its first bytes (at least FWT_ENC_FRAME_HEAD_MAX, or all
 * of it); m its method; base_len the base image's length (patches). A zstd frame: its header's
 * window rounded up to a power of two (at least 1 KiB; the cap counts powers of two); "bsdiff2":
 * fwt_delta_window_need of its preamble, or its zstd frame's. `fwtrust repo add-target` publishes
 * it as custom.fwtrust.decode_window. FWT_E_MALFORMED (with detail) when the head does not parse.
 */
#define FWT_ENC_FRAME_HEAD_MAX (FWT_ENC_PRE_LEN + 18U) /* preamble + ZSTD_FRAMEHEADERSIZE_MAX */
FWT_MUST_CHECK fwt_err fwt_delta_frame_window(const uint8_t *frame, size_t len,
                                              enum fwt_dec_method m, uint64_t base_len,
                                              uint64_t *need);
/* "none" / "thumb2" / "thumb2-map", "zstd" / "lzma2": names for the header and the CLI. */
const char *fwt_delta_xform_name(unsigned xform);
const char *fwt_delta_entropy_name(unsigned entropy);

/*
 * An encoded file: the header frame holding hjson (hlen bytes, at most
 * FWT_ENC_JSON_MAX) followed by the zstd frame. *out (malloc'd), *out_len.
 */
FWT_MUST_CHECK fwt_err fwt_delta_container(const char *hjson, size_t hlen, const uint8_t *frame,
                                           size_t frame_len, uint8_t **out, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif /* FWT_DELTA_H */
