/*
 * Streaming decoder of encoded targets (compressed images and patches,
 * <fwtrust/fwt_delta.h>): header skipped, one zstd frame decoded with
 * ZSTD_decompressStream (or, for a "bsdiff2" patch, one raw LZMA2 stream
 * with liblzma), output handed on as it comes, bounded. The agent's
 * update decodes into its slot with it; `fwtrust delta` checks what it makes
 * (fwt_delta_decode).
 */
#include <fwtrust/fwt_util.h>

#include <fwtrust/fwt_delta.h>

#include "thumb.h"

#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

enum dec_stage {
    DEC_START,  /* collecting the first 8 bytes of a frame */
    DEC_SKIP,   /* skipping the describing header */
    DEC_FRAME,  /* inside the zstd frame */
    DEC_DONE    /* frame complete: nothing may follow */
};

struct fwt_dec {
    ZSTD_DCtx *dc;
    enum dec_stage stage;
    uint8_t head[8];
    size_t head_len;
    uint64_t skip_left;
    int skipped;          /* a header was skipped (only one allowed) */
    uint64_t max_out;
    uint64_t out_total;
    fwt_dec_sink sink;
    void *sink_ctx;
    uint8_t *obuf;
    size_t obuf_len;
    fwt_err failed;       /* sticky */
    /* The base image, and the bsdiff record state. */
    enum fwt_dec_method method;
    const uint8_t *base;
    uint64_t base_len;
    uint8_t rec[FWT_ENC_BSDIFF_REC];
    size_t rec_have;      /* bytes of the record header collected */
    int in_rec;           /* inside a record's add/copy bytes */
    uint64_t add_left, copy_left;
    int64_t seek;
    uint64_t old_pos;
    uint8_t *tbuf;        /* add output */
    uint8_t *sbuf;        /* output staged for the sink: few, large writes (flash likes them) */
    size_t sbuf_len;
    /* "bsdiff2": the preamble, the LZMA2 decoder, and the transform's two blocks. */
    struct fwt_delta_pre pre;
    int have_pre;
    lzma_stream lz;
    int lz_on;
    uint8_t *bblk;        /* the transformed base block bblk_idx (UINT64_MAX: none) */
    uint64_t bblk_idx;
    uint8_t *nblk;        /* transformed output collected until a block is complete */
    size_t nblk_len;
    /* "thumb2-map": the address map read from the start of the records. */
    int map_want;         /* 1: still reading it */
    uint8_t mh[8];
    size_t mh_have;
    int mh_done;          /* its 8-byte head (load, n) is in */
    uint32_t *mstart;
    int32_t *mdelta;
    size_t mgot;
    struct fwt_xmap xmap;
    /* FWT_XF_RANGES: the code ranges after the map's entries (base's, then the image's). */
    int rh_done;          /* their 8-byte head (nb, nn) is in */
    size_t rwant, rgot;   /* pairs expected, read */
    uint32_t *ranges;     /* 2 * rwant: the base's nb pairs, then the image's */
    struct fwt_xranges bcode, ncode;
    /* "lzma2-dict": 1 while the LZMA2 stream of the map runs, 2 the image's. */
    int lz_phase;
    uint64_t max_window;  /* 0: the defaults (FWT_ENC_*WINDOWLOG*) only */
    int window_refused;   /* the input needed a larger window than allowed */
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

fwt_err fwt_dec_new(enum fwt_dec_method method, const uint8_t *base, size_t base_len,
                    uint64_t max_out, fwt_dec_sink sink, void *sink_ctx, fwt_dec **out)
{
    *out = NULL;
    if (!sink || method > FWT_DEC_BSDIFF2 || (method == FWT_DEC_PLAIN) != (base == NULL) ||
        (base != NULL && base_len == 0)) {
        return fwt_fail(FWT_E_ARG, "decoder: bad arguments");
    }
    fwt_dec *d = calloc(1, sizeof(*d));
    if (!d) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    d->obuf_len = ZSTD_DStreamOutSize();
    d->obuf = malloc(d->obuf_len);
    d->tbuf = malloc(d->obuf_len);
    d->sbuf = malloc(d->obuf_len);
    d->dc = ZSTD_createDCtx();
    d->bblk_idx = UINT64_MAX;
    if (method == FWT_DEC_BSDIFF2) {
        d->bblk = malloc(FWT_THUMB_BLOCK);
        d->nblk = malloc(FWT_THUMB_BLOCK);
    }
    if (!d->obuf || !d->tbuf || !d->sbuf || !d->dc ||
        (method == FWT_DEC_BSDIFF2 && (!d->bblk || !d->nblk))) {
        fwt_dec_free(d);
        return fwt_fail(FWT_E_NOMEM, "out of memory for the zstd decoder");
    }
    /* The window bounds the decoder's memory: refuse frames asking for more. */
    int wl = method == FWT_DEC_PREFIX ? FWT_ENC_PATCH_WINDOWLOG_MAX : FWT_ENC_ZSTD_WINDOWLOG;
    size_t rc = ZSTD_DCtx_setParameter(d->dc, ZSTD_d_windowLogMax, wl);
    if (!ZSTD_isError(rc) && method == FWT_DEC_PREFIX) {
        /* Referenced, not copied: the base image stays where it is (the running slot). */
        rc = ZSTD_DCtx_refPrefix(d->dc, base, base_len);
    }
    if (ZSTD_isError(rc)) {
        fwt_dec_free(d);
        return fwt_fail(FWT_E_INTERNAL, "zstd decoder set-up: %s", ZSTD_getErrorName(rc));
    }
    d->method = method;
    d->base = base;
    d->base_len = base_len;
    d->max_out = max_out;
    d->sink = sink;
    d->sink_ctx = sink_ctx;
    *out = d;
    return FWT_OK;
}

fwt_err fwt_dec_set_max_window(fwt_dec *d, uint64_t bytes)
{
    if (bytes < 1024 || d->stage != DEC_START || d->head_len != 0 || d->skipped) {
        return fwt_fail(FWT_E_ARG, "decoder: the window limit is set before any input, "
                                   "at least 1 KiB");
    }
    int wl = 10;
    while (wl < 62 && (1ULL << (wl + 1)) <= bytes) {
        wl++;
    }
    int cur = d->method == FWT_DEC_PREFIX ? FWT_ENC_PATCH_WINDOWLOG_MAX : FWT_ENC_ZSTD_WINDOWLOG;
    size_t rc = ZSTD_DCtx_setParameter(d->dc, ZSTD_d_windowLogMax, wl < cur ? wl : cur);
    if (ZSTD_isError(rc)) {
        return fwt_fail(FWT_E_INTERNAL, "zstd decoder set-up: %s", ZSTD_getErrorName(rc));
    }
    d->max_window = bytes;
    return FWT_OK;
}

void fwt_dec_free(fwt_dec *d)
{
    if (!d) {
        return;
    }
    ZSTD_freeDCtx(d->dc);
    if (d->lz_on) {
        lzma_end(&d->lz);
    }
    free(d->bblk);
    free(d->nblk);
    free(d->mstart);
    free(d->mdelta);
    free(d->ranges);
    free(d->obuf);
    free(d->tbuf);
    free(d->sbuf);
    free(d);
}

int fwt_dec_window_refused(const fwt_dec *d)
{
    return d->window_refused;
}

uint64_t fwt_dec_out(const fwt_dec *d)
{
    return d->out_total;
}

static fwt_err dec_error(fwt_dec *d, fwt_err err)
{
    d->failed = err;
    return err;
}

static fwt_err flush(fwt_dec *d)
{
    if (d->sbuf_len == 0) {
        return FWT_OK;
    }
    fwt_err err = d->sink(d->sink_ctx, d->sbuf, d->sbuf_len);
    d->sbuf_len = 0;
    return err == FWT_OK ? FWT_OK : dec_error(d, err);
}

/* Image bytes out: bounded by max_out, staged, then to the sink in buffer-sized writes. */
static fwt_err out_bytes(fwt_dec *d, const uint8_t *p, size_t n)
{
    if (n > d->max_out - d->out_total) {
        return dec_error(d, fwt_fail(FWT_E_TOO_LARGE,
                                     "the encoded image decodes to more than the %llu bytes its "
                                     "metadata gives",
                                     (unsigned long long)d->max_out));
    }
    d->out_total += n;
    while (n > 0) {
        size_t k = d->obuf_len - d->sbuf_len;
        k = k < n ? k : n;
        memcpy(d->sbuf + d->sbuf_len, p, k);
        d->sbuf_len += k;
        p += k;
        n -= k;
        if (d->sbuf_len == d->obuf_len) {
            fwt_err err = flush(d);
            if (err != FWT_OK) {
                return err;
            }
        }
    }
    return FWT_OK;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Transformed output ("bsdiff2"): collected a block at a time, the transform undone, out. */
static fwt_err xout_flush(fwt_dec *d)
{
    if (d->nblk_len == 0) {
        return FWT_OK;
    }
    /* The block starts at the image offset of everything sent before it. */
    fwt_thumb_inv_code(d->nblk, d->nblk_len, d->out_total,
                       d->pre.xflags & (FWT_THUMB_ALL | FWT_XF_ARM),
                       (d->pre.xflags & FWT_XF_RANGES) ? &d->ncode : NULL);
    size_t n = d->nblk_len;
    d->nblk_len = 0;
    return out_bytes(d, d->nblk, n);
}

static fwt_err xout_bytes(fwt_dec *d, const uint8_t *p, size_t n)
{
    if (d->method != FWT_DEC_BSDIFF2 || d->pre.xform == FWT_ENC_XFORM_NONE) {
        return out_bytes(d, p, n);
    }
    if (n > d->max_out - d->out_total - d->nblk_len) {
        return out_bytes(d, p, n); /* fails: more than max_out */
    }
    while (n > 0) {
        size_t k = FWT_THUMB_BLOCK - d->nblk_len;
        k = k < n ? k : n;
        memcpy(d->nblk + d->nblk_len, p, k);
        d->nblk_len += k;
        p += k;
        n -= k;
        if (d->nblk_len == FWT_THUMB_BLOCK) {
            fwt_err err = xout_flush(d);
            if (err != FWT_OK) {
                return err;
            }
        }
    }
    return FWT_OK;
}

/* Base bytes from pos on as the records see them: *avail contiguous bytes (at least 1;
 * pos < base_len). Transformed a block at a time for "bsdiff2" with a transform. */
static const uint8_t *base_at(fwt_dec *d, uint64_t pos, size_t *avail)
{
    if (d->method != FWT_DEC_BSDIFF2 || d->pre.xform == FWT_ENC_XFORM_NONE) {
        *avail = (size_t)(d->base_len - pos < SIZE_MAX ? d->base_len - pos : SIZE_MAX);
        return d->base + pos;
    }
    uint64_t idx = pos / FWT_THUMB_BLOCK, start = idx * FWT_THUMB_BLOCK;
    size_t blen = (size_t)(d->base_len - start < FWT_THUMB_BLOCK ? d->base_len - start
                                                                 : FWT_THUMB_BLOCK);
    if (d->bblk_idx != idx) {
        memcpy(d->bblk, d->base + start, blen);
        fwt_thumb_base(d->bblk, blen, start, d->pre.xflags,
                       d->pre.xform >= FWT_ENC_XFORM_THUMB2_MAP ? &d->xmap : NULL);
        d->bblk_idx = idx;
    }
    *avail = blen - (size_t)(pos - start);
    return d->bblk + (pos - start);
}

/* One 8-byte unit (d->mh) of the code ranges after the map's entries: their head (nb, nn),
 * then nb base ranges and nn image ranges (start, end), each list increasing and disjoint,
 * within the base and within the image's length. */
static fwt_err range_unit(fwt_dec *d)
{
    uint32_t a = le32(d->mh), b = le32(d->mh + 4);
    if (!d->rh_done) {
        if (a > FWT_XRANGE_MAX || b > FWT_XRANGE_MAX) {
            return dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                         "patch code ranges: %u and %u (at most %u each)",
                                         (unsigned)a, (unsigned)b, FWT_XRANGE_MAX));
        }
        d->rh_done = 1;
        d->rwant = (size_t)a + b;
        d->ranges = malloc((d->rwant ? d->rwant : 1) * 2 * sizeof(*d->ranges));
        if (!d->ranges) {
            return dec_error(d, fwt_fail(FWT_E_NOMEM, "out of memory for the code ranges"));
        }
        d->bcode = (struct fwt_xranges){a, d->ranges};
        d->ncode = (struct fwt_xranges){b, d->ranges + 2 * (size_t)a};
        d->xmap.code = &d->bcode;
        return FWT_OK;
    }
    int in_base = d->rgot < d->bcode.n;
    uint64_t lim = in_base ? d->base_len : d->max_out;
    int first = d->rgot == 0 || d->rgot == d->bcode.n;
    if (a >= b || b > lim || (!first && a < d->ranges[2 * d->rgot - 1])) {
        return dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                     "patch code range %u..%u of the %s is empty, out of order "
                                     "or beyond its %llu bytes", (unsigned)a, (unsigned)b,
                                     in_base ? "base" : "image", (unsigned long long)lim));
    }
    d->ranges[2 * d->rgot] = a;
    d->ranges[2 * d->rgot + 1] = b;
    d->rgot++;
    return FWT_OK;
}

/* The address map at the start of a "thumb2-map" patch's records (with FWT_XF_RANGES, the code
 * ranges after its entries): *used bytes of p[0..n). */
static fwt_err map_bytes(fwt_dec *d, const uint8_t *p, size_t n, size_t *used)
{
    *used = 0;
    while (n > 0 && d->map_want) {
        size_t take = sizeof(d->mh) - d->mh_have;
        take = take < n ? take : n;
        memcpy(d->mh + d->mh_have, p, take);
        d->mh_have += take;
        p += take;
        n -= take;
        *used += take;
        if (d->mh_have < sizeof(d->mh)) {
            break;
        }
        d->mh_have = 0;
        if (!d->mh_done) {
            uint32_t cnt = le32(d->mh + 4);
            if (cnt > FWT_XMAP_MAX) {
                return dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                             "patch address map of %u entries (at most %u)",
                                             (unsigned)cnt, FWT_XMAP_MAX));
            }
            d->mh_done = 1;
            d->xmap.load = le32(d->mh);
            d->xmap.base_len = (uint32_t)d->base_len;
            d->xmap.n = cnt;
            d->mstart = malloc((cnt ? cnt : 1) * sizeof(*d->mstart));
            d->mdelta = malloc((cnt ? cnt : 1) * sizeof(*d->mdelta));
            if (!d->mstart || !d->mdelta) {
                return dec_error(d, fwt_fail(FWT_E_NOMEM, "out of memory for the address map"));
            }
        } else if (d->mgot < d->xmap.n) {
            uint32_t st = le32(d->mh);
            if (d->mgot > 0 && st <= d->mstart[d->mgot - 1]) {
                return dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                             "patch address map is not in increasing order"));
            }
            d->mstart[d->mgot] = st;
            d->mdelta[d->mgot] = (int32_t)le32(d->mh + 4);
            d->mgot++;
        } else {
            fwt_err err = range_unit(d);
            if (err != FWT_OK) {
                return err;
            }
        }
        if (d->mgot == d->xmap.n &&
            (!(d->pre.xflags & FWT_XF_RANGES) || (d->rh_done && d->rgot == d->rwant))) {
            d->xmap.start = d->mstart;
            d->xmap.delta = d->mdelta;
            d->map_want = 0;
        }
    }
    return FWT_OK;
}

/* Apply bsdiff records (decompressed bytes p[0..n)) to the base. */
static fwt_err bsdiff_bytes(fwt_dec *d, const uint8_t *p, size_t n)
{
    if (d->map_want) {
        size_t used;
        fwt_err err = map_bytes(d, p, n, &used);
        if (err != FWT_OK) {
            return err;
        }
        p += used;
        n -= used;
    }
    while (n > 0) {
        if (!d->in_rec) {
            size_t take = FWT_ENC_BSDIFF_REC - d->rec_have;
            take = take < n ? take : n;
            memcpy(d->rec + d->rec_have, p, take);
            d->rec_have += take;
            p += take;
            n -= take;
            if (d->rec_have < FWT_ENC_BSDIFF_REC) {
                break;
            }
            d->rec_have = 0;
            d->add_left = le32(d->rec);
            d->copy_left = le32(d->rec + 4);
            d->seek = (int64_t)le64(d->rec + 8);
            if (d->add_left > d->base_len - d->old_pos) {
                return dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                             "patch record reads base bytes %llu..%llu of %llu",
                                             (unsigned long long)d->old_pos,
                                             (unsigned long long)(d->old_pos + d->add_left),
                                             (unsigned long long)d->base_len));
            }
            d->in_rec = 1;
        } else if (d->add_left > 0) {
            size_t k = d->add_left < n ? (size_t)d->add_left : n, avail;
            k = k < d->obuf_len ? k : d->obuf_len;
            const uint8_t *b = base_at(d, d->old_pos, &avail);
            k = k < avail ? k : avail;
            for (size_t i = 0; i < k; i++) {
                d->tbuf[i] = (uint8_t)(p[i] + b[i]);
            }
            fwt_err err = xout_bytes(d, d->tbuf, k);
            if (err != FWT_OK) {
                return err;
            }
            d->old_pos += k;
            d->add_left -= k;
            p += k;
            n -= k;
        } else if (d->copy_left > 0) {
            size_t k = d->copy_left < n ? (size_t)d->copy_left : n;
            fwt_err err = xout_bytes(d, p, k);
            if (err != FWT_OK) {
                return err;
            }
            d->copy_left -= k;
            p += k;
            n -= k;
        }
        if (d->in_rec && d->add_left == 0 && d->copy_left == 0) {
            /* End of the record: move in the base (anywhere from 0 to its end). */
            int64_t pos = (int64_t)d->old_pos;
            if ((d->seek < 0 && -(d->seek + 1) >= pos) ||
                (d->seek > 0 && (uint64_t)d->seek > d->base_len - d->old_pos)) {
                return dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                             "patch record seeks outside the base image"));
            }
            d->old_pos = (uint64_t)(pos + d->seek);
            d->in_rec = 0;
        }
    }
    return FWT_OK;
}

/* Run the zstd decoder over in (possibly empty: flush); *done when the frame ended. */
static fwt_err run_frame(fwt_dec *d, ZSTD_inBuffer *in, int *progress)
{
    *progress = 0;
    for (;;) {
        ZSTD_outBuffer ob = {d->obuf, d->obuf_len, 0};
        size_t in_before = in->pos;
        size_t rc = ZSTD_decompressStream(d->dc, &ob, in);
        if (ZSTD_isError(rc)) {
            ZSTD_ErrorCode code = ZSTD_getErrorCode(rc);
            if (code == ZSTD_error_frameParameter_windowTooLarge) {
                d->window_refused = 1;
                int wl = d->method == FWT_DEC_PREFIX ? FWT_ENC_PATCH_WINDOWLOG_MAX
                                                     : FWT_ENC_ZSTD_WINDOWLOG;
                return dec_error(d, fwt_fail(FWT_E_TOO_LARGE,
                                             "the encoded image needs a larger decoding window "
                                             "than this decoder allows (%llu bytes)",
                                             d->max_window && d->max_window < (1ULL << wl)
                                                 ? (unsigned long long)d->max_window
                                                 : 1ULL << wl));
            }
            return dec_error(d, fwt_fail(FWT_E_MALFORMED, "the encoded image does not decode: %s",
                                         ZSTD_getErrorName(rc)));
        }
        int moved = ob.pos > 0 || in->pos > in_before;
        *progress |= moved;
        if (ob.pos > 0) {
            fwt_err err = d->method >= FWT_DEC_BSDIFF ? bsdiff_bytes(d, d->obuf, ob.pos)
                                                      : out_bytes(d, d->obuf, ob.pos);
            if (err != FWT_OK) {
                return err;
            }
        }
        if (rc == 0) {
            d->stage = DEC_DONE;
            return FWT_OK;
        }
        /* More output may be pending while the buffer was full; else wait for input. */
        if (!moved || (ob.pos < ob.size && in->pos == in->size)) {
            return FWT_OK;
        }
    }
}

static fwt_err start_dict(fwt_dec *d);

/* The LZMA2 stream of a "bsdiff2" patch: as run_frame. Empty input with finish: flush. */
static fwt_err run_lzma(fwt_dec *d, ZSTD_inBuffer *in, int finish, int *progress)
{
    *progress = 0;
    d->lz.next_in = in->src ? (const uint8_t *)in->src + in->pos : NULL; /* NULL: the end */
    d->lz.avail_in = in->size - in->pos;
    for (;;) {
        d->lz.next_out = d->obuf;
        d->lz.avail_out = d->obuf_len;
        size_t before = d->lz.avail_in;
        lzma_ret r = lzma_code(&d->lz, finish ? LZMA_FINISH : LZMA_RUN);
        size_t produced = d->obuf_len - d->lz.avail_out;
        in->pos = in->size - d->lz.avail_in;
        int moved = produced > 0 || d->lz.avail_in < before;
        *progress |= moved;
        if (r != LZMA_OK && r != LZMA_STREAM_END && r != LZMA_BUF_ERROR) {
            return dec_error(d, fwt_fail(r == LZMA_MEMLIMIT_ERROR ? FWT_E_TOO_LARGE : FWT_E_MALFORMED,
                                         "the encoded image does not decode: LZMA2 error %d",
                                         (int)r));
        }
        if (produced > 0) {
            fwt_err err;
            if (d->lz_phase == 1) {
                size_t used = 0;
                err = map_bytes(d, d->obuf, produced, &used);
                if (err == FWT_OK && used != produced) {
                    err = dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                                "bsdiff2 patch: bytes after its address map"));
                }
            } else {
                err = d->lz_phase == 2 ? xout_bytes(d, d->obuf, produced)
                                       : bsdiff_bytes(d, d->obuf, produced);
            }
            if (err != FWT_OK) {
                return err;
            }
        }
        if (r == LZMA_STREAM_END && d->lz_phase == 1) {
            /* The map is in: the image's stream follows, over the transformed base. */
            if (d->map_want) {
                return dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                             "bsdiff2 patch: its address map ends early"));
            }
            const uint8_t *next = d->lz.next_in;
            size_t avail = d->lz.avail_in;
            lzma_end(&d->lz);
            d->lz_on = 0;
            fwt_err err = start_dict(d);
            if (err != FWT_OK) {
                return err;
            }
            d->lz.next_in = next;
            d->lz.avail_in = avail;
            continue;
        }
        if (r == LZMA_STREAM_END) {
            d->stage = DEC_DONE;
            return FWT_OK;
        }
        if (!moved || (d->lz.avail_out > 0 && d->lz.avail_in == 0)) {
            return FWT_OK;
        }
    }
}

/* The entropy decoder of the frame: zstd, or LZMA2 for a "bsdiff2" patch that says so. */
static fwt_err run_entropy(fwt_dec *d, ZSTD_inBuffer *in, int finish, int *progress)
{
    if (d->method == FWT_DEC_BSDIFF2 && d->pre.entropy != FWT_ENC_ENTROPY_ZSTD) {
        return run_lzma(d, in, finish, progress);
    }
    return run_frame(d, in, progress);
}

/*
 * The image stream of "lzma2-dict": LZMA2 with the transformed base as preset dictionary.
 * liblzma copies the dictionary's last 2^dictlog bytes; only the blocks holding those are
 * transformed, into a buffer freed once the decoder holds them.
 */
static fwt_err start_dict(fwt_dec *d)
{
    lzma_options_lzma opt;
    memset(&opt, 0, sizeof(opt));
    if (lzma_lzma_preset(&opt, 6)) {
        return dec_error(d, fwt_fail(FWT_E_INTERNAL, "liblzma preset"));
    }
    uint64_t dict = 1ULL << d->pre.dictlog; /* at most 2^FWT_ENC_LZMA_DICTLOG_MAX */
    uint8_t *tb = NULL;
    opt.dict_size = (uint32_t)dict;
    if (d->pre.xform == FWT_ENC_XFORM_NONE) {
        opt.preset_dict = d->base;
        opt.preset_dict_size = (uint32_t)(d->base_len < UINT32_MAX ? d->base_len : UINT32_MAX);
    } else {
        uint64_t from = d->base_len > dict ? d->base_len - dict : 0;
        from -= from % FWT_THUMB_BLOCK;
        size_t n = (size_t)(d->base_len - from);
        tb = malloc(n);
        if (!tb) {
            return dec_error(d, fwt_fail(FWT_E_NOMEM, "out of memory for the transformed base "
                                                      "(%zu bytes)", n));
        }
        for (size_t off = 0; off < n; off += FWT_THUMB_BLOCK) {
            size_t k = n - off < FWT_THUMB_BLOCK ? n - off : FWT_THUMB_BLOCK;
            memcpy(tb + off, d->base + from + off, k);
            fwt_thumb_base(tb + off, k, from + off, d->pre.xflags,
                           d->pre.xform >= FWT_ENC_XFORM_THUMB2_MAP ? &d->xmap : NULL);
        }
        opt.preset_dict = tb;
        opt.preset_dict_size = (uint32_t)n;
    }
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    lzma_stream init = LZMA_STREAM_INIT;
    d->lz = init;
    lzma_ret r = lzma_raw_decoder(&d->lz, filters);
    free(tb);
    if (r != LZMA_OK) {
        return dec_error(d, fwt_fail(FWT_E_NOMEM, "out of memory for the LZMA2 decoder"));
    }
    d->lz_on = 1;
    d->lz_phase = 2;
    d->stage = DEC_FRAME;
    return FWT_OK;
}

/* A "bsdiff2" preamble (in d->head): check it and set up the decoders it names. */
static fwt_err start_bsdiff2(fwt_dec *d)
{
    fwt_err err = fwt_delta_pre_parse(d->head, sizeof(d->head), &d->pre);
    if (err != FWT_OK) {
        return dec_error(d, err);
    }
    d->have_pre = 1;
    d->map_want = d->pre.xform >= FWT_ENC_XFORM_THUMB2_MAP;
    if (d->base_len > UINT32_MAX && d->pre.xform != FWT_ENC_XFORM_NONE) {
        return dec_error(d, fwt_fail(FWT_E_TOO_LARGE, "bsdiff2 patch: base above 4 GiB"));
    }
    if (d->pre.entropy != FWT_ENC_ENTROPY_ZSTD && d->max_window &&
        fwt_delta_window_need(d->pre.xform, d->pre.entropy, d->pre.dictlog, d->base_len) >
            d->max_window) {
        d->window_refused = 1;
        return dec_error(d, fwt_fail(FWT_E_TOO_LARGE,
                                     "bsdiff2 patch (%s) needs a decoding window of %llu bytes, "
                                     "above the %llu this decoder allows",
                                     fwt_delta_entropy_name(d->pre.entropy),
                                     (unsigned long long)fwt_delta_window_need(
                                         d->pre.xform, d->pre.entropy, d->pre.dictlog,
                                         d->base_len),
                                     (unsigned long long)d->max_window));
    }
    if (d->pre.entropy == FWT_ENC_ENTROPY_LZMA2_DICT) {
        if (!d->map_want) {
            return start_dict(d);
        }
        /* The address map's own stream first. */
        lzma_options_lzma opt;
        memset(&opt, 0, sizeof(opt));
        if (lzma_lzma_preset(&opt, 6)) {
            return dec_error(d, fwt_fail(FWT_E_INTERNAL, "liblzma preset"));
        }
        opt.dict_size = 1U << FWT_ENC_MAP_DICTLOG;
        lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
        lzma_stream init = LZMA_STREAM_INIT;
        d->lz = init;
        if (lzma_raw_decoder(&d->lz, filters) != LZMA_OK) {
            return dec_error(d, fwt_fail(FWT_E_NOMEM, "out of memory for the LZMA2 decoder"));
        }
        d->lz_on = 1;
        d->lz_phase = 1;
        d->stage = DEC_FRAME;
        return FWT_OK;
    }
    if (d->pre.entropy != FWT_ENC_ENTROPY_ZSTD) {
        lzma_options_lzma opt;
        memset(&opt, 0, sizeof(opt));
        if (lzma_lzma_preset(&opt, 6)) {
            return dec_error(d, fwt_fail(FWT_E_INTERNAL, "liblzma preset"));
        }
        opt.dict_size = 1U << d->pre.dictlog; /* at most 2^FWT_ENC_LZMA_DICTLOG_MAX */
        if (d->pre.entropy == FWT_ENC_ENTROPY_LZMA2_BASE) {
            /* The base as preset dictionary (liblzma copies what fits into its dictionary). */
            opt.preset_dict = d->base;
            opt.preset_dict_size = (uint32_t)(d->base_len < UINT32_MAX ? d->base_len : UINT32_MAX);
        }
        lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
        lzma_stream init = LZMA_STREAM_INIT;
        d->lz = init;
        if (lzma_raw_decoder(&d->lz, filters) != LZMA_OK) {
            return dec_error(d, fwt_fail(FWT_E_NOMEM, "out of memory for the LZMA2 decoder"));
        }
        d->lz_on = 1;
    }
    d->stage = DEC_FRAME;
    return FWT_OK;
}

fwt_err fwt_dec_feed(fwt_dec *d, const uint8_t *in, size_t len)
{
    if (d->failed != FWT_OK) {
        return d->failed;
    }
    while (len > 0) {
        switch (d->stage) {
        case DEC_START: {
            size_t take = sizeof(d->head) - d->head_len;
            take = take < len ? take : len;
            memcpy(d->head + d->head_len, in, take);
            d->head_len += take;
            in += take;
            len -= take;
            if (d->head_len < sizeof(d->head)) {
                break;
            }
            uint32_t magic = le32(d->head);
            if ((magic & 0xFFFFFFF0U) != 0x184D2A50U && d->method == FWT_DEC_BSDIFF2 &&
                !d->have_pre) {
                /* The preamble; then the LZMA2 stream, or the zstd frame's first 8 bytes. */
                fwt_err err = start_bsdiff2(d);
                if (err != FWT_OK) {
                    return err;
                }
                d->stage = d->pre.entropy != FWT_ENC_ENTROPY_ZSTD ? DEC_FRAME : DEC_START;
                d->head_len = 0;
                break;
            }
            if ((magic & 0xFFFFFFF0U) == 0x184D2A50U && !d->have_pre) {
                /* A skippable frame: the describing header (the device trusts its
                 * TUF metadata, not this). Bounded, and only one. */
                uint32_t n = le32(d->head + 4);
                if (d->skipped || n > FWT_ENC_TAG_LEN + FWT_ENC_JSON_MAX) {
                    return dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                                 "encoded image: unexpected or oversized header "
                                                 "frame (%u bytes)",
                                                 (unsigned)n));
                }
                d->skipped = 1;
                d->skip_left = n;
                d->head_len = 0;
                d->stage = DEC_SKIP;
                break;
            }
            if (magic != FWT_ENC_ZSTD_MAGIC) {
                return dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                             "encoded image: no zstd frame (magic 0x%08x)",
                                             (unsigned)magic));
            }
            d->stage = DEC_FRAME;
            ZSTD_inBuffer hin = {d->head, sizeof(d->head), 0};
            int progress;
            fwt_err err = run_frame(d, &hin, &progress);
            if (err != FWT_OK) {
                return err;
            }
            if (hin.pos != hin.size) {
                return dec_error(d, fwt_fail(FWT_E_MALFORMED, "encoded image: data after the end of its frame"));
            }
            break;
        }
        case DEC_SKIP: {
            size_t take = d->skip_left < len ? (size_t)d->skip_left : len;
            d->skip_left -= take;
            in += take;
            len -= take;
            if (d->skip_left == 0) {
                d->stage = DEC_START;
            }
            break;
        }
        case DEC_FRAME: {
            ZSTD_inBuffer zin = {in, len, 0};
            int progress;
            fwt_err err = run_entropy(d, &zin, 0, &progress);
            if (err != FWT_OK) {
                return err;
            }
            in += zin.pos;
            len -= zin.pos;
            if (d->stage == DEC_FRAME && len > 0 && !progress) {
                return dec_error(d, fwt_fail(FWT_E_INTERNAL, "zstd decoder made no progress"));
            }
            break;
        }
        case DEC_DONE:
            return dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                         "encoded image: %zu bytes after the end of its frame",
                                         len));
        }
    }
    return FWT_OK;
}

fwt_err fwt_dec_end(fwt_dec *d)
{
    if (d->failed != FWT_OK) {
        return d->failed;
    }
    if (d->stage == DEC_FRAME) {
        /* Flush what the decoder still holds. */
        for (;;) {
            ZSTD_inBuffer zin = {NULL, 0, 0};
            int progress;
            fwt_err err = run_entropy(d, &zin, 1, &progress);
            if (err != FWT_OK) {
                return err;
            }
            if (d->stage == DEC_DONE || !progress) {
                break;
            }
        }
    }
    if (d->stage != DEC_DONE) {
        return dec_error(d, fwt_fail(FWT_E_MALFORMED,
                                     "encoded image ends before its zstd frame is complete "
                                     "(%llu bytes decoded)",
                                     (unsigned long long)d->out_total));
    }
    if (d->method >= FWT_DEC_BSDIFF && (d->in_rec || d->rec_have != 0 || d->map_want)) {
        return dec_error(d, fwt_fail(FWT_E_MALFORMED, "patch ends inside a record"));
    }
    fwt_err err = xout_flush(d);
    return err == FWT_OK ? flush(d) : err;
}

struct collect {
    uint8_t *buf;
    size_t len, cap;
};

static fwt_err collect_sink(void *ctx, const uint8_t *data, size_t len)
{
    struct collect *c = ctx;
    if (len > c->cap - c->len) {
        return fwt_fail(FWT_E_TOO_LARGE, "decoded data exceeds its expected length");
    }
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    return FWT_OK;
}

fwt_err fwt_delta_decode(const uint8_t *in, size_t len, enum fwt_dec_method m,
                         const uint8_t *base, size_t base_len, size_t want, uint64_t max_window,
                         uint8_t **out)
{
    *out = NULL;
    struct collect c = {malloc(want ? want : 1), 0, want};
    if (!c.buf) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_dec *d = NULL;
    fwt_err err = fwt_dec_new(m, m == FWT_DEC_PLAIN ? NULL : base, m == FWT_DEC_PLAIN ? 0 : base_len,
                              want, collect_sink, &c, &d);
    if (err == FWT_OK && max_window) {
        err = fwt_dec_set_max_window(d, max_window);
    }
    if (err == FWT_OK) {
        err = fwt_dec_feed(d, in, len);
    }
    if (err == FWT_OK) {
        err = fwt_dec_end(d);
    }
    fwt_dec_free(d);
    if (err == FWT_OK && c.len != want) {
        err = fwt_fail(FWT_E_MALFORMED, "the data decodes to %zu bytes, not %zu", c.len, want);
    }
    if (err != FWT_OK) {
        free(c.buf);
        return err;
    }
    *out = c.buf;
    return FWT_OK;
}
