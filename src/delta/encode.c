/*
 * The encoder of encoded images (<fwtrust/fwt_delta.h>): zstd compression,
 * zstd reference-prefix patches ("zstd-patch", as `zstd --patch-from`),
 * bsdiff-style patches ("zstd-bsdiff", suffix array by libdivsufsort) and the
 * same records between Thumb-2-transformed images, coded with zstd or LZMA2
 * (liblzma), whichever is smaller ("bsdiff2").
 * The output for given inputs and level is deterministic: the repository's
 * published patches and the bench figures depend on it.
 */
#include <fwtrust/fwt_util.h>

#include <fwtrust/fwt_delta.h>

#include "thumb.h"

#include <divsufsort.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static unsigned window_log_for(uint64_t n)
{
    unsigned wl = 10; /* ZSTD_WINDOWLOG_ABSOLUTEMIN */
    while (wl < 31 && (1ULL << wl) < n) {
        wl++;
    }
    return wl;
}

/* The largest window log within max_window bytes (0: no cap), at most 63. */
static unsigned cap_log(uint64_t max_window)
{
    unsigned l = 63;
    while (max_window && l > 0 && (1ULL << l) > max_window) {
        l--;
    }
    return l;
}

static fwt_err zfail(size_t rc, const char *what)
{
    return fwt_fail(FWT_E_INTERNAL, "zstd %s: %s", what, ZSTD_getErrorName(rc));
}

/*
 * Compress data into one zstd frame: with prefix (a "zstd-patch": a window
 * covering base and new image, as `zstd --patch-from`, so every byte of the
 * base can be matched, and long distance matching to find matches far back in
 * it), or without (window at most 8 MiB, what a device accepts).
 */
static fwt_err encode(const uint8_t *prefix, size_t prefix_len, const uint8_t *data, size_t len,
                      int level, unsigned wl_max, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    size_t cap = ZSTD_compressBound(len);
    uint8_t *buf = ZSTD_isError(cap) ? NULL : malloc(cap);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    fwt_err err = FWT_OK;
    if (!buf || !cc) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory to compress %zu bytes", len);
        goto out;
    }
    size_t rc;
#define ZSET(p, v)                                                                                 \
    do {                                                                                           \
        rc = ZSTD_CCtx_setParameter(cc, p, v);                                                     \
        if (ZSTD_isError(rc)) {                                                                    \
            err = zfail(rc, #p);                                                                   \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)
    ZSET(ZSTD_c_compressionLevel, level);
    ZSET(ZSTD_c_checksumFlag, 1);
    ZSET(ZSTD_c_contentSizeFlag, 1);
    if (prefix) {
        ZSET(ZSTD_c_windowLog, (int)window_log_for((uint64_t)prefix_len + len));
        ZSET(ZSTD_c_enableLongDistanceMatching, 1);
    } else {
        unsigned wl = window_log_for(len);
        wl = wl < FWT_ENC_ZSTD_WINDOWLOG ? wl : FWT_ENC_ZSTD_WINDOWLOG;
        ZSET(ZSTD_c_windowLog, (int)(wl < wl_max ? wl : wl_max));
    }
#undef ZSET
    rc = ZSTD_CCtx_setPledgedSrcSize(cc, len);
    if (!ZSTD_isError(rc) && prefix) {
        rc = ZSTD_CCtx_refPrefix(cc, prefix, prefix_len);
    }
    if (!ZSTD_isError(rc)) {
        rc = ZSTD_compress2(cc, buf, cap, data, len);
    }
    if (ZSTD_isError(rc)) {
        err = zfail(rc, "compress");
        goto out;
    }
    *out = buf;
    *out_len = rc;
    buf = NULL;
out:
    ZSTD_freeCCtx(cc);
    free(buf);
    return err;
}

/* ---- bsdiff-style records (<fwtrust/fwt_delta.h>, "zstd-bsdiff") ----
 *
 * Colin Percival's method ("Naive differences of executable code", 2003),
 * implemented here from its description: a suffix array of the base finds,
 * at each position of the new image, the longest exact match in the base;
 * regions where the previous alignment still matches approximately are
 * extended forwards and backwards and stored as byte differences (mostly
 * zeros when code moved and pointers changed), the rest as literal bytes.
 */
struct growbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
};

static void gb_put(struct growbuf *g, const void *d, size_t n)
{
    if (g->oom) {
        return;
    }
    if (n > g->cap - g->len) {
        size_t nc = g->cap ? g->cap : 65536;
        while (nc - g->len < n) {
            nc *= 2;
        }
        uint8_t *np = realloc(g->p, nc);
        if (!np) {
            g->oom = 1;
            return;
        }
        g->p = np;
        g->cap = nc;
    }
    memcpy(g->p + g->len, d, n);
    g->len += n;
}

static size_t match_len(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t i = 0, n = an < bn ? an : bn;
    while (i < n && a[i] == b[i]) {
        i++;
    }
    return i;
}

/* Longest match of nw[0..nn) among the base suffixes sa[lo..hi]; *pos gets its start. */
static size_t sfx_search(const saidx_t *sa, const uint8_t *old, size_t on, const uint8_t *nw,
                        size_t nn, size_t lo, size_t hi, size_t *pos)
{
    while (hi - lo >= 2) {
        size_t mid = lo + (hi - lo) / 2;
        size_t o = (size_t)sa[mid];
        size_t cmp_n = on - o < nn ? on - o : nn;
        if (memcmp(old + o, nw, cmp_n) < 0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    size_t a = match_len(old + sa[lo], on - (size_t)sa[lo], nw, nn);
    size_t b = match_len(old + sa[hi], on - (size_t)sa[hi], nw, nn);
    *pos = (size_t)(a > b ? sa[lo] : sa[hi]);
    return a > b ? a : b;
}

static void put_rec(struct growbuf *g, size_t add, size_t copy, int64_t seek)
{
    uint8_t r[FWT_ENC_BSDIFF_REC];
    uint64_t s = (uint64_t)seek;
    for (int i = 0; i < 4; i++) {
        r[i] = (uint8_t)(add >> (8 * i));
        r[4 + i] = (uint8_t)(copy >> (8 * i));
    }
    for (int i = 0; i < 8; i++) {
        r[8 + i] = (uint8_t)(s >> (8 * i));
    }
    gb_put(g, r, sizeof(r));
}

/* segs (may be NULL) gets each approximate match: u32 old start, u32 new start, u32 length. */
/* slack: how much longer than the current alignment's agreement a new exact match must be to
 * start a record (Percival's 8; larger keeps long approximate alignments across new code). */
static fwt_err bsdiff_records(const uint8_t *old, size_t on, const uint8_t *nw, size_t nn,
                              struct growbuf *g, struct growbuf *segs, int64_t slack,
                              fwt_delta_progress progress, void *pctx)
{
    size_t next_report = 0;
    if (on == 0 || on > 0x7fffffffU || nn > 0xffffffffU) {
        return fwt_fail(FWT_E_TOO_LARGE, "images too large for a bsdiff patch");
    }
    saidx_t *sa = malloc(on * sizeof(*sa));
    if (!sa) {
        return fwt_fail(FWT_E_NOMEM, "out of memory for the suffix array");
    }
    if (divsufsort(old, sa, (saidx_t)on) != 0) {
        free(sa);
        return fwt_fail(FWT_E_INTERNAL, "divsufsort failed");
    }
    size_t scan = 0, len = 0, pos = 0, last_scan = 0, last_pos = 0;
    int64_t last_off = 0;
    while (scan < nn) {
        if (scan >= next_report) {
            if (progress) {
                progress(pctx, scan, nn);
            }
            next_report = scan + (1U << 20);
        }
        int64_t old_score = 0;
        size_t sc;
        for (sc = scan += len; scan < nn; scan++) {
            len = sfx_search(sa, old, on, nw + scan, nn - scan, 0, on - 1, &pos);
            for (; sc < scan + len; sc++) {
                int64_t o = (int64_t)sc + last_off;
                if (o >= 0 && (size_t)o < on && old[o] == nw[sc]) {
                    old_score++;
                }
            }
            if (((int64_t)len == old_score && len != 0) || (int64_t)len > old_score + slack) {
                break;
            }
            int64_t o = (int64_t)scan + last_off;
            if (o >= 0 && (size_t)o < on && old[o] == nw[scan]) {
                old_score--;
            }
        }
        if ((int64_t)len == old_score && scan != nn) {
            continue;
        }
        /* Extend the previous alignment forwards (lenf) and this one backwards (lenb). */
        size_t lenf = 0, lenb = 0;
        long s = 0, best = 0;
        for (size_t i = 0; last_scan + i < scan && last_pos + i < on; i++) {
            if (old[last_pos + i] == nw[last_scan + i]) {
                s++;
            }
            if (s * 2 - (long)(i + 1) > best * 2 - (long)lenf) {
                best = s;
                lenf = i + 1;
            }
        }
        if (scan < nn) {
            s = 0;
            best = 0;
            for (size_t i = 1; scan >= last_scan + i && pos >= i; i++) {
                if (old[pos - i] == nw[scan - i]) {
                    s++;
                }
                if (s * 2 - (long)i > best * 2 - (long)lenb) {
                    best = s;
                    lenb = i;
                }
            }
        }
        if (last_scan + lenf > scan - lenb) {
            /* The two overlap: split where the forward one stops paying. */
            size_t overlap = (last_scan + lenf) - (scan - lenb), lens = 0;
            s = 0;
            best = 0;
            for (size_t i = 0; i < overlap; i++) {
                if (nw[last_scan + lenf - overlap + i] == old[last_pos + lenf - overlap + i]) {
                    s++;
                }
                if (nw[scan - lenb + i] == old[pos - lenb + i]) {
                    s--;
                }
                if (s > best) {
                    best = s;
                    lens = i + 1;
                }
            }
            lenf = lenf + lens - overlap;
            lenb -= lens;
        }
        size_t copy = (scan - lenb) - (last_scan + lenf);
        int64_t seek = (int64_t)(pos - lenb) - (int64_t)(last_pos + lenf);
        put_rec(g, lenf, copy, seek);
        if (segs && lenf > 0) {
            uint32_t sg[3] = {(uint32_t)last_pos, (uint32_t)last_scan, (uint32_t)lenf};
            gb_put(segs, sg, sizeof(sg));
        }
        uint8_t dl[4096];
        for (size_t i = 0; i < lenf && !g->oom; i += sizeof(dl)) {
            size_t k = lenf - i < sizeof(dl) ? lenf - i : sizeof(dl);
            for (size_t j = 0; j < k; j++) {
                dl[j] = (uint8_t)(nw[last_scan + i + j] - old[last_pos + i + j]);
            }
            gb_put(g, dl, k);
        }
        gb_put(g, nw + last_scan + lenf, copy);
        last_scan = scan - lenb;
        last_pos = pos - lenb;
        last_off = (int64_t)pos - (int64_t)scan;
    }
    free(sa);
    if (progress) {
        progress(pctx, nn, nn);
    }
    return g->oom ? fwt_fail(FWT_E_NOMEM, "out of memory for the patch") : FWT_OK;
}

static fwt_err check_level(int level)
{
    if (level < 1 || level > FWT_DELTA_LEVEL_MAX || level > ZSTD_maxCLevel()) {
        return fwt_fail(FWT_E_ARG, "zstd level %d is not 1 to %d", level, FWT_DELTA_LEVEL_MAX);
    }
    return FWT_OK;
}

fwt_err fwt_delta_compress(const uint8_t *data, size_t len, int level, uint8_t **out,
                           size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    fwt_err err = check_level(level);
    if (err != FWT_OK) {
        return err;
    }
    return encode(NULL, 0, data, len, level, FWT_ENC_ZSTD_WINDOWLOG, out, out_len);
}

/* Raw LZMA2 (liblzma) of data, dictionary 2^dictlog, literal/position bits lc, lp, pb. */
static fwt_err lzma2_encode(const uint8_t *data, size_t len, unsigned dictlog, uint32_t lc,
                            uint32_t lp, uint32_t pb, const uint8_t *pdict, size_t pdict_len,
                            uint8_t **out, size_t *out_len)
{
    *out = NULL;
    lzma_options_lzma opt;
    if (lzma_lzma_preset(&opt, 9U | LZMA_PRESET_EXTREME)) {
        return fwt_fail(FWT_E_INTERNAL, "liblzma preset");
    }
    opt.dict_size = 1U << dictlog;
    opt.lc = lc;
    opt.lp = lp;
    opt.pb = pb;
    opt.nice_len = 273;
    opt.preset_dict = pdict;
    opt.preset_dict_size = (uint32_t)pdict_len;
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    size_t cap = len + len / 3 + 1024;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        return fwt_fail(FWT_E_NOMEM, "out of memory to compress %zu bytes", len);
    }
    size_t pos = 0;
    lzma_ret r = lzma_raw_buffer_encode(filters, NULL, data, len, buf, &pos, cap);
    if (r != LZMA_OK) {
        free(buf);
        return fwt_fail(FWT_E_INTERNAL, "liblzma encode failed (%d)", (int)r);
    }
    *out = buf;
    *out_len = pos;
    return FWT_OK;
}

/* Keep cand (len n) in *best (len *best_len) if smaller: frees the loser. */
static void keep_smaller(uint8_t **best, size_t *best_len, uint8_t *cand, size_t n)
{
    if (!*best || n < *best_len) {
        free(*best);
        *best = cand;
        *best_len = n;
    } else {
        free(cand);
    }
}

/* The transforms a "bsdiff2" patch tries: thumb.h flags, and whether through the address map. */
static const struct {
    unsigned flags;
    int map;
} k_xforms[] = {
    {0, 0},
    {FWT_THUMB_ALL, 0},
    {FWT_THUMB_BL | FWT_THUMB_LDR16 | FWT_THUMB_LDR32, 0},
    {FWT_THUMB_ALL | FWT_XF_PTR, 1},
    {FWT_THUMB_BL | FWT_THUMB_LDR16 | FWT_THUMB_LDR32 | FWT_XF_PTR, 1},
    {FWT_THUMB_ALL, 1},
    {FWT_XF_PTR, 1},
    {FWT_XF_ARM | FWT_THUMB_BL | FWT_THUMB_LDR32 | FWT_XF_PTR, 1},
    {FWT_XF_ARM | FWT_THUMB_BL | FWT_THUMB_LDR32, 1},
};
/* The LZMA2 literal/position settings it tries: xz's default, and 2-byte aligned code. */
static const uint32_t k_lzma_lclppb[][3] = {{3, 0, 2}, {0, 1, 1}, {1, 1, 1}, {3, 0, 0}};

static int cmp_seg(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[2] > y[2] ? -1 : x[2] < y[2] ? 1 : 0;
}

/* The address map from the matches of a plain bsdiff pass: matches of at least minlen bytes,
 * ordered by base offset, one breakpoint where the shift changes. */
static fwt_err build_map(uint32_t *segs, size_t nseg, size_t minlen, uint32_t **start,
                         int32_t **delta, size_t *n)
{
    *start = malloc((nseg ? nseg : 1) * sizeof(**start));
    *delta = malloc((nseg ? nseg : 1) * sizeof(**delta));
    *n = 0;
    if (!*start || !*delta) {
        free(*start);
        free(*delta);
        *start = NULL;
        *delta = NULL;
        return fwt_fail(FWT_E_NOMEM, "out of memory for the address map");
    }
    if (nseg > 0) {
        qsort(segs, nseg, 3 * sizeof(uint32_t), cmp_seg);
    }
    for (size_t i = 0; i < nseg; i++) {
        const uint32_t *sg = segs + 3 * i;
        if (sg[2] < minlen || (*n > 0 && (*start)[*n - 1] == sg[0])) {
            continue;
        }
        int32_t dl = (int32_t)(sg[1] - sg[0]);
        if (*n > 0 && (*delta)[*n - 1] == dl) {
            continue;
        }
        (*start)[*n] = sg[0];
        (*delta)[*n] = dl;
        (*n)++;
    }
    return FWT_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Aligned words of w[0..n) (sorted) in [lo, lo + len). */
static size_t count_in(const uint32_t *w, size_t n, uint64_t lo, uint64_t len)
{
    size_t a = 0, b = n;
    while (a < b) { /* first >= lo */
        size_t mid = a + (b - a) / 2;
        if (w[mid] < lo) {
            a = mid + 1;
        } else {
            b = mid;
        }
    }
    size_t c = a, d = n;
    while (c < d) { /* first >= lo + len */
        size_t mid = c + (d - c) / 2;
        if ((uint64_t)w[mid] < lo + len) {
            c = mid + 1;
        } else {
            d = mid;
        }
    }
    return c - a;
}

/* Thumb function pointers (odd words) of w[0..nw) that land, with load address l, on a PUSH
 * (B4xx/B5xx, or STMDB SP! E92D): how well l explains the image's pointers. */
static size_t push_score(const uint8_t *b, size_t n, const uint32_t *w, size_t nw, uint64_t l)
{
    size_t c = 0;
    for (size_t i = 0; i < nw; i++) {
        uint64_t o = (uint64_t)w[i] - 1;
        if ((w[i] & 1U) && w[i] >= l && o - l + 2 <= n) {
            const uint8_t *p = b + (o - l);
            c += (p[1] & 0xFEU) == 0xB4U || (p[1] == 0xE9U && p[0] == 0x2DU);
        }
    }
    return c;
}

/* The load address of an image: 0 for a vector table of offsets; else, among the multiples of
 * 256 where (nearly) the most aligned 32-bit words point into the image, the one where most
 * odd ones land on a function's PUSH (a header before the code shifts the image's start). */
static uint32_t guess_load(const uint8_t *b, size_t n)
{
    int at_zero = n >= 16;
    for (size_t i = 4; at_zero && i < 16; i += 4) {
        uint32_t v = (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 |
                     (uint32_t)b[i + 3] << 24;
        at_zero = (v & 1U) && v < n;
    }
    if (at_zero) {
        return 0;
    }
    size_t nw = n / 4;
    uint32_t *w = malloc((nw ? nw : 1) * sizeof(*w));
    uint32_t *hist = calloc(65536, sizeof(*hist));
    uint64_t best_l = 0;
    if (w && hist && nw) {
        for (size_t i = 0; i < nw; i++) {
            const uint8_t *p = b + 4 * i;
            w[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                   (uint32_t)p[3] << 24;
            hist[w[i] >> 16]++;
        }
        uint32_t top = 1;
        for (uint32_t h = 1; h < 0xFFFFU; h++) {
            top = hist[h] > hist[top] ? h : top;
        }
        qsort(w, nw, sizeof(*w), cmp_u32);
        uint64_t hi = (uint64_t)top << 16;
        uint64_t lo = hi > n ? (hi - n) & ~(uint64_t)0xFF : 0;
        size_t max_c = 0;
        for (uint64_t l = lo; l <= hi + 0xFF00U; l += 0x100) {
            size_t c = count_in(w, nw, l, n);
            max_c = c > max_c ? c : max_c;
        }
        /* The candidates within 1 % of the most, highest first, at most 64 of them. */
        size_t best_s = 0, tried = 0;
        for (uint64_t l = hi + 0xFF00U; l + 0x100 > lo && tried < 64; l -= 0x100) {
            if (count_in(w, nw, l, n) * 100 >= max_c * 99) {
                size_t sc = push_score(b, n, w, nw, l);
                if (tried++ == 0 || sc > best_s) {
                    best_s = sc;
                    best_l = l;
                }
            }
            if (l < 0x100) {
                break;
            }
        }
    }
    free(w);
    free(hist);
    return (uint32_t)best_l;
}

/* The records of a map (load, n, n x (start, delta), little-endian) before the records; with
 * the base's code ranges (m->code) then nb, nn and the base's and the image's (ncode) ranges. */
static void put_map(struct growbuf *g, const struct fwt_xmap *m, const struct fwt_xranges *ncode)
{
    uint8_t h[8];
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)(m->load >> (8 * i));
        h[4 + i] = (uint8_t)((uint32_t)m->n >> (8 * i));
    }
    gb_put(g, h, sizeof(h));
    for (size_t k = 0; k < m->n; k++) {
        for (int i = 0; i < 4; i++) {
            h[i] = (uint8_t)(m->start[k] >> (8 * i));
            h[4 + i] = (uint8_t)((uint32_t)m->delta[k] >> (8 * i));
        }
        gb_put(g, h, sizeof(h));
    }
    if (!m->code) {
        return;
    }
    const struct fwt_xranges *lists[2] = {m->code, ncode};
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)((uint32_t)m->code->n >> (8 * i));
        h[4 + i] = (uint8_t)((uint32_t)ncode->n >> (8 * i));
    }
    gb_put(g, h, sizeof(h));
    for (int l = 0; l < 2; l++) {
        for (size_t k = 0; k < 2 * lists[l]->n; k++) {
            for (int i = 0; i < 4; i++) {
                h[i] = (uint8_t)(lists[l]->r[k] >> (8 * i));
            }
            gb_put(g, h, 4);
        }
    }
}

/* pre || the records g, coded with zstd and LZMA2 variants: the smallest into *best. The
 * LZMA2 ones twice: alone, and with the base image as its preset dictionary (literal bytes of
 * new code found anywhere in the base; the dictionary then covers base and records). */
static fwt_err code_records(uint8_t pre[FWT_ENC_PRE_LEN], const struct growbuf *g, int level,
                            const uint8_t *base, size_t bn, unsigned wl_max, uint8_t **best,
                            size_t *best_len)
{
    uint8_t *z = NULL;
    size_t zl = 0;
    size_t nv = sizeof(k_lzma_lclppb) / sizeof(k_lzma_lclppb[0]);
    for (size_t v = 0; v <= 2 * nv; v++) {
        int with_base = v > nv;
        size_t k = with_base ? v - nv - 1 : v - 1;
        unsigned dl = window_log_for(g->len + (with_base ? bn : 0));
        dl = dl < 12 ? 12 : dl;
        unsigned dmax = wl_max < FWT_ENC_LZMA_DICTLOG_MAX ? wl_max : FWT_ENC_LZMA_DICTLOG_MAX;
        if (v > 0 && dmax < 12) {
            continue; /* no LZMA2 dictionary fits the window */
        }
        if (dl > dmax) {
            if (with_base) {
                continue; /* base and records above what the decoder accepts */
            }
            dl = dmax;
        }
        fwt_err err = v == 0 ? encode(NULL, 0, g->p, g->len, level, wl_max, &z, &zl)
                             : lzma2_encode(g->p, g->len, dl, k_lzma_lclppb[k][0],
                                            k_lzma_lclppb[k][1], k_lzma_lclppb[k][2],
                                            with_base ? base : NULL, with_base ? bn : 0, &z,
                                            &zl);
        if (err != FWT_OK) {
            return err;
        }
        uint8_t *c = malloc(FWT_ENC_PRE_LEN + zl);
        if (!c) {
            free(z);
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        pre[6] = (uint8_t)(v == 0 ? FWT_ENC_ENTROPY_ZSTD
                           : with_base ? FWT_ENC_ENTROPY_LZMA2_BASE : FWT_ENC_ENTROPY_LZMA2);
        pre[7] = (uint8_t)(v == 0 ? 0 : dl);
        memcpy(c, pre, FWT_ENC_PRE_LEN);
        memcpy(c + FWT_ENC_PRE_LEN, z, zl);
        free(z);
        keep_smaller(best, best_len, c, FWT_ENC_PRE_LEN + zl);
    }
    return FWT_OK;
}

/* The LZMA2 literal/position settings of the "lzma2-dict" coder: 2-byte aligned Thumb code
 * (lp 1, pb 1), 4-byte aligned A32 code and data (lp 2, pb 2). */
static const uint32_t k_dict_lclppb[][3] = {{1, 1, 1}, {0, 2, 2}};

/* Base and new image within the window: the dictionary log of a "lzma2-dict" image stream
 * (0: not possible under max_window, see fwt_delta_window_need). */
static unsigned dict_log_for(size_t bn, size_t nn, int transformed, uint64_t max_window)
{
    unsigned dl = window_log_for((uint64_t)bn + nn);
    dl = dl < 12 ? 12 : dl;
    dl = dl > FWT_ENC_LZMA_DICTLOG_MAX ? FWT_ENC_LZMA_DICTLOG_MAX : dl;
    while (dl >= 12 && max_window &&
           fwt_delta_window_need(transformed ? FWT_ENC_XFORM_THUMB2 : FWT_ENC_XFORM_NONE,
                                 FWT_ENC_ENTROPY_LZMA2_DICT, dl, bn) > max_window) {
        dl--;
    }
    return dl >= 12 ? dl : 0;
}

/*
 * A "lzma2-dict" frame (coder 4 of "bsdiff2", no records): pre, then for a transform with an
 * address map the map (load, n, n x (start, delta)) as one raw LZMA2 stream (dictionary
 * 2^FWT_ENC_MAP_DICTLOG), then the transformed new image tn as one raw LZMA2 stream whose
 * preset dictionary is the transformed base tb (LZMA's optimal parser, repeated-match
 * distances and literal contexts: matches anywhere in the base, no record overhead).
 * The smallest of the literal/position settings into *best.
 */
static fwt_err code_dict(uint8_t pre[FWT_ENC_PRE_LEN], const struct fwt_xmap *m,
                         const struct fwt_xranges *ncode,
                         const uint8_t *tb, size_t bn, const uint8_t *tn, size_t nn,
                         uint64_t max_window, size_t nvariants, uint8_t **best, size_t *best_len)
{
    unsigned dl = dict_log_for(bn, nn, pre[4] != FWT_ENC_XFORM_NONE, max_window);
    if (dl == 0) {
        return FWT_OK; /* the dictionary would not fit the decoder's window */
    }
    uint8_t *mz = NULL;
    size_t ml = 0;
    if (m) {
        struct growbuf g = {NULL, 0, 0, 0};
        put_map(&g, m, ncode);
        fwt_err err = g.oom ? fwt_fail(FWT_E_NOMEM, "out of memory for the address map")
                            : lzma2_encode(g.p, g.len, FWT_ENC_MAP_DICTLOG, 0, 2, 2, NULL, 0,
                                           &mz, &ml);
        free(g.p);
        if (err != FWT_OK) {
            return err;
        }
    }
    fwt_err err = FWT_OK;
    size_t nv = sizeof(k_dict_lclppb) / sizeof(k_dict_lclppb[0]);
    for (size_t v = 0; err == FWT_OK && v < nv && v < nvariants; v++) {
        uint8_t *z = NULL;
        size_t zl = 0;
        err = lzma2_encode(tn, nn, dl, k_dict_lclppb[v][0], k_dict_lclppb[v][1],
                           k_dict_lclppb[v][2], tb, bn, &z, &zl);
        uint8_t *c = err == FWT_OK ? malloc(FWT_ENC_PRE_LEN + ml + zl) : NULL;
        if (err == FWT_OK && !c) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        if (c) {
            pre[6] = FWT_ENC_ENTROPY_LZMA2_DICT;
            pre[7] = (uint8_t)dl;
            memcpy(c, pre, FWT_ENC_PRE_LEN);
            if (ml) {
                memcpy(c + FWT_ENC_PRE_LEN, mz, ml);
            }
            memcpy(c + FWT_ENC_PRE_LEN + ml, z, zl);
            keep_smaller(best, best_len, c, FWT_ENC_PRE_LEN + ml + zl);
        }
        free(z);
    }
    free(mz);
    return err;
}

/* The smallest "bsdiff2" frame over every transform and entropy coder. */
static fwt_err bsdiff2_patch(const uint8_t *base, size_t bn, const uint8_t *nw, size_t nn,
                             int level, uint64_t max_window, int records,
                             const struct fwt_delta_code *code,
                             fwt_delta_progress progress, void *pctx, uint8_t **out,
                             size_t *out_len)
{
    *out = NULL;
    uint8_t *tb = malloc(bn), *tn = malloc(nn ? nn : 1);
    fwt_err err = FWT_OK;
    if (!tb || !tn) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory for the transformed images");
    }
    uint8_t *best = NULL;
    size_t best_len = 0;
    struct growbuf segs = {NULL, 0, 0, 0};
    uint32_t *mstart = NULL;
    int32_t *mdelta = NULL;
    struct fwt_xmap map = {0, (uint32_t)bn, 0, NULL, NULL, NULL};
    /* Code ranges (a hint): instructions are rewritten only there, through the map. */
    struct fwt_xranges bcode = {code ? code->n_base : 0, code ? code->base : NULL};
    struct fwt_xranges ncode = {code ? code->n_nw : 0, code ? code->nw : NULL};
    /* Every transform with Percival's slack (8); then, with a larger one (it wins on releases
     * far apart: long alignments kept across new code), the plain pass again (its matches make
     * a second map) and the best transform through that map. */
    size_t nx = sizeof(k_xforms) / sizeof(k_xforms[0]), best_x = 0, best_seen = 0;
    int map_ready = 0;
    for (size_t it = 0; err == FWT_OK && it < (records ? nx + 2 : nx); it++) {
        size_t x = it < nx ? it : it == nx ? 0 : best_x;
        int64_t slack = it < nx ? 8 : 64;
        if (code && x != 0 && !k_xforms[x].map) {
            continue; /* with code ranges only the map transforms (which carry them) */
        }
        unsigned xflags = k_xforms[x].flags | (code && x != 0 ? FWT_XF_RANGES : 0U);
        if (it == nx) {
            segs.len = 0; /* collect the plain pass's matches again */
        } else if (it == nx + 1) {
            map_ready = 0;
        }
        if (k_xforms[x].map && !map_ready) {
            map_ready = 1;
            /* The map, from the matches of the plain pass (x == 0, first). */
            if (segs.oom) {
                err = fwt_fail(FWT_E_NOMEM, "out of memory for the matches");
                break;
            }
            size_t nseg = segs.len / (3 * sizeof(uint32_t)), minlen = 16;
            do {
                free(mstart);
                free(mdelta);
                err = build_map((uint32_t *)(void *)segs.p, nseg, minlen, &mstart, &mdelta,
                                &map.n);
                minlen *= 2;
            } while (err == FWT_OK && map.n > FWT_XMAP_MAX);
            if (err != FWT_OK) {
                break;
            }
            map.start = mstart;
            map.delta = mdelta;
            map.load = guess_load(base, bn);
            map.code = code ? &bcode : NULL;
        }
        const struct fwt_xmap *m = k_xforms[x].map ? &map : NULL;
        memcpy(tb, base, bn);
        if (nn) {
            memcpy(tn, nw, nn);
        }
        fwt_thumb_fwd_image(tb, bn, xflags, m, NULL);
        fwt_thumb_fwd_image(tn, nn, xflags & (FWT_THUMB_ALL | FWT_XF_ARM), NULL,
                            m && m->code ? &ncode : NULL);
        struct growbuf g = {NULL, 0, 0, 0};
        if (m) {
            put_map(&g, m, &ncode);
        }
        if (records || x == 0) { /* (the plain pass's matches make the map) */
            err = bsdiff_records(tb, bn, tn, nn, &g, x == 0 ? &segs : NULL, slack,
                                 it == 0 ? progress : NULL, pctx);
        }
        uint8_t pre[FWT_ENC_PRE_LEN];
        memcpy(pre, FWT_ENC_PRE_MAGIC, 4);
        pre[4] = (uint8_t)((k_xforms[x].flags & FWT_XF_ARM) ? FWT_ENC_XFORM_ARM32_MAP
                           : m ? FWT_ENC_XFORM_THUMB2_MAP
                           : k_xforms[x].flags ? FWT_ENC_XFORM_THUMB2 : FWT_ENC_XFORM_NONE);
        pre[5] = (uint8_t)xflags;
        if (err == FWT_OK && g.oom) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory for the patch");
        }
        if (err == FWT_OK && records) {
            err = code_records(pre, &g, level, base, bn, cap_log(max_window), &best, &best_len);
        }
        if (err == FWT_OK && it < nx) {
            /* The same transform, no records: the image as LZMA2 over the base. */
            err = code_dict(pre, m, &ncode, tb, bn, tn, nn, max_window, SIZE_MAX, &best,
                            &best_len);
        }
        if (err == FWT_OK && it < nx && (it == 0 || best_len < best_seen)) {
            best_x = x;
            best_seen = best_len;
        }
        free(g.p);
    }
    free(segs.p);
    free(mstart);
    free(mdelta);
    free(tb);
    free(tn);
    if (err != FWT_OK) {
        free(best);
        return err;
    }
    *out = best;
    *out_len = best_len;
    return FWT_OK;
}

fwt_err fwt_delta_patch(const uint8_t *base, size_t base_len, const uint8_t *nw, size_t nw_len,
                        int level, enum fwt_delta_method method, uint64_t max_window,
                        fwt_delta_progress progress,
                        void *progress_ctx, uint8_t **out, size_t *out_len,
                        enum fwt_dec_method *used)
{
    return fwt_delta_patch_code(base, base_len, nw, nw_len, level, method, max_window, NULL,
                                progress, progress_ctx, out, out_len, used);
}

_Static_assert(FWT_DELTA_CODE_MAX == FWT_XRANGE_MAX && FWT_DELTA_XF_CODE == FWT_XF_RANGES,
               "the code ranges the decoder accepts");

/* Ranges as the decoder accepts them: at most FWT_XRANGE_MAX, each non-empty, increasing,
 * disjoint, within len bytes. */
static fwt_err check_ranges(const uint32_t *r, size_t n, size_t len, const char *which)
{
    if (n > FWT_XRANGE_MAX || (n > 0 && !r)) {
        return fwt_fail(FWT_E_ARG, "%zu code ranges of the %s (at most %u)", n, which,
                        FWT_XRANGE_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        if (r[2 * i] >= r[2 * i + 1] || r[2 * i + 1] > len || (i > 0 && r[2 * i] < r[2 * i - 1])) {
            return fwt_fail(FWT_E_ARG, "code range %u..%u of the %s is empty, out of order or "
                            "beyond its %zu bytes", (unsigned)r[2 * i], (unsigned)r[2 * i + 1],
                            which, len);
        }
    }
    return FWT_OK;
}

/* Every patch kind, or one; the smallest is kept. */
fwt_err fwt_delta_patch_code(const uint8_t *base, size_t base_len, const uint8_t *nw,
                             size_t nw_len, int level, enum fwt_delta_method method,
                             uint64_t max_window, const struct fwt_delta_code *code,
                             fwt_delta_progress progress, void *progress_ctx, uint8_t **out,
                             size_t *out_len, enum fwt_dec_method *used)
{
    *out = NULL;
    *out_len = 0;
    if (!base || base_len == 0 || method > FWT_DELTA_LZDICT) {
        return fwt_fail(FWT_E_ARG, "a patch needs a base image of at least one byte");
    }
    fwt_err err = check_level(level);
    if (err == FWT_OK && code) {
        err = check_ranges(code->base, code->n_base, base_len, "base");
        if (err == FWT_OK) {
            err = check_ranges(code->nw, code->n_nw, nw_len, "new image");
        }
    }
    if (err != FWT_OK) {
        return err;
    }
    if ((uint64_t)base_len + nw_len > (1ULL << FWT_ENC_PATCH_WINDOWLOG_MAX)) {
        return fwt_fail(FWT_E_TOO_LARGE,
                        "base (%zu bytes) and new image (%zu bytes) together exceed the %llu byte "
                        "window a device accepts for a patch",
                        base_len, nw_len, 1ULL << FWT_ENC_PATCH_WINDOWLOG_MAX);
    }
    /* The decoder's window: a zstd frame's at most 2^wl_max bytes (the decoder checks the
     * frame's window log); a prefix patch's covers base and new image. */
    unsigned wl_max = cap_log(max_window);
    if (wl_max < 10) {
        return fwt_fail(FWT_E_ARG, "a decoding window of %llu bytes is below the 1 KiB minimum",
                        (unsigned long long)max_window);
    }
    int prefix_fits = window_log_for((uint64_t)base_len + nw_len) <= wl_max;
    if (method == FWT_DELTA_PREFIX && !prefix_fits) {
        return fwt_fail(FWT_E_TOO_LARGE,
                        "a prefix patch of these images needs a window of %llu bytes, above the "
                        "%llu allowed",
                        1ULL << window_log_for((uint64_t)base_len + nw_len),
                        (unsigned long long)max_window);
    }
    uint8_t *zp = NULL, *zb = NULL, *z2 = NULL;
    size_t lp = 0, lb = 0, l2 = 0;
    if ((method == FWT_DELTA_AUTO && prefix_fits) || method == FWT_DELTA_PREFIX) {
        err = encode(base, base_len, nw, nw_len, level, wl_max, &zp, &lp);
    }
    if (err == FWT_OK && (method == FWT_DELTA_AUTO || method == FWT_DELTA_BSDIFF2 ||
                          method == FWT_DELTA_LZDICT)) {
        err = bsdiff2_patch(base, base_len, nw, nw_len, level, max_window,
                            method != FWT_DELTA_LZDICT, code,
                            method != FWT_DELTA_AUTO ? progress : NULL, progress_ctx, &z2, &l2);
    }
    if (err == FWT_OK && (method == FWT_DELTA_AUTO || method == FWT_DELTA_BSDIFF)) {
        struct growbuf g = {NULL, 0, 0, 0};
        err = bsdiff_records(base, base_len, nw, nw_len, &g, NULL, 8, progress, progress_ctx);
        if (err == FWT_OK) {
            err = encode(NULL, 0, g.p, g.len, level, wl_max, &zb, &lb);
        }
        free(g.p);
    }
    if (err != FWT_OK) {
        free(zp);
        free(zb);
        free(z2);
        return err;
    }
    /* bsdiff2 only where strictly smaller: older devices decode the other two. */
    if (z2 && ((!zb && !zp) || (zb && l2 < lb && (!zp || l2 < lp)) || (!zb && zp && l2 < lp))) {
        free(zp);
        free(zb);
        *out = z2;
        *out_len = l2;
        *used = FWT_DEC_BSDIFF2;
    } else if (zb && (!zp || lb <= lp)) {
        free(zp);
        free(z2);
        *out = zb;
        *out_len = lb;
        *used = FWT_DEC_BSDIFF;
    } else {
        free(zb);
        free(z2);
        *out = zp;
        *out_len = lp;
        *used = FWT_DEC_PREFIX;
    }
    return FWT_OK;
}
