/*
 * The encoder of encoded images (<fwtrust/fwt_delta.h>): zstd compression,
 * zstd reference-prefix patches ("zstd-patch", as `zstd --patch-from`) and
 * bsdiff-style patches ("zstd-bsdiff", suffix array by libdivsufsort).
 * The output for given inputs and level is deterministic: the repository's
 * published patches and the bench figures depend on it.
 */
#include <fwtrust/fwt_util.h>

#include <fwtrust/fwt_delta.h>

#include <divsufsort.h>
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
                      int level, uint8_t **out, size_t *out_len)
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
        ZSET(ZSTD_c_windowLog, (int)(wl < FWT_ENC_ZSTD_WINDOWLOG ? wl : FWT_ENC_ZSTD_WINDOWLOG));
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

static fwt_err bsdiff_records(const uint8_t *old, size_t on, const uint8_t *nw, size_t nn,
                              struct growbuf *g, fwt_delta_progress progress, void *pctx)
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
            if (((int64_t)len == old_score && len != 0) || (int64_t)len > old_score + 8) {
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
    return encode(NULL, 0, data, len, level, out, out_len);
}

/* Both patch kinds, or one; the smaller is kept. */
fwt_err fwt_delta_patch(const uint8_t *base, size_t base_len, const uint8_t *nw, size_t nw_len,
                        int level, enum fwt_delta_method method, fwt_delta_progress progress,
                        void *progress_ctx, uint8_t **out, size_t *out_len,
                        enum fwt_dec_method *used)
{
    *out = NULL;
    *out_len = 0;
    if (!base || base_len == 0 || method > FWT_DELTA_BSDIFF) {
        return fwt_fail(FWT_E_ARG, "a patch needs a base image of at least one byte");
    }
    fwt_err err = check_level(level);
    if (err != FWT_OK) {
        return err;
    }
    if ((uint64_t)base_len + nw_len > (1ULL << FWT_ENC_PATCH_WINDOWLOG_MAX)) {
        return fwt_fail(FWT_E_TOO_LARGE,
                        "base (%zu bytes) and new image (%zu bytes) together exceed the %llu byte "
                        "window a device accepts for a patch",
                        base_len, nw_len, 1ULL << FWT_ENC_PATCH_WINDOWLOG_MAX);
    }
    uint8_t *zp = NULL, *zb = NULL;
    size_t lp = 0, lb = 0;
    if (method != FWT_DELTA_BSDIFF) {
        err = encode(base, base_len, nw, nw_len, level, &zp, &lp);
    }
    if (err == FWT_OK && method != FWT_DELTA_PREFIX) {
        struct growbuf g = {NULL, 0, 0, 0};
        err = bsdiff_records(base, base_len, nw, nw_len, &g, progress, progress_ctx);
        if (err == FWT_OK) {
            err = encode(NULL, 0, g.p, g.len, level, &zb, &lb);
        }
        free(g.p);
    }
    if (err != FWT_OK) {
        free(zp);
        free(zb);
        return err;
    }
    if (zb && (!zp || lb <= lp)) {
        free(zp);
        *out = zb;
        *out_len = lb;
        *used = FWT_DEC_BSDIFF;
    } else {
        free(zb);
        *out = zp;
        *out_len = lp;
        *used = FWT_DEC_PREFIX;
    }
    return FWT_OK;
}
