/*
 * fwtrust delta: make the encoded targets a device can update from.
 *
 *   fwtrust delta --from OLD.signed.bin --to NEW.signed.bin -o PATCH   zstd patch (OLD is the
 *                                                                      reference prefix)
 *   fwtrust delta --to NEW.signed.bin -o NEW.zst                       zstd-compressed image
 *   fwtrust delta --info FILE                                          show an encoded file's header
 *   fwtrust delta --apply PATCH [--from OLD.signed.bin] -o NEW         decode (host side check)
 *
 * The output is the container of src/agent/delta_format.h (docs/updates.md):
 * a zstd skippable frame describing the image (and the base image of a
 * patch), then one zstd frame. Plain `zstd -d` (with --patch-from=OLD for a
 * patch) decodes it too.
 */
#include "agent/delta_format.h"
#include "image_cmd.h"
#include "tuf/repo_encoded.h"

#include "agent/update_internal.h"

#include <divsufsort.h>
#include <stdlib.h>
#include <zstd.h>

static const char *const k_prog = "fwtrust delta";

enum {
    OPT_FROM = OPT_CMD_FIRST,
    OPT_TO,
    OPT_LEVEL,
    OPT_VERIFY_KEY,
    OPT_INFO,
    OPT_APPLY,
    OPT_METHOD,
};

#define MAX_VERIFY 8
/* A full image compressed with zstd: any size a slot can hold (4 GiB - 1, as the core reads). */
#define FULL_MAX 0xffffffffULL
/* A patch: base and new image together within the largest window a device accepts. */
#define PATCH_MAX (1ULL << FWT_ENC_PATCH_WINDOWLOG_MAX)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fwtrust delta [--from OLD.signed.bin] --to NEW.signed.bin -o OUT [options]\n"
            "       fwtrust delta --info FILE [--json]\n"
            "       fwtrust delta --apply FILE [--from OLD.signed.bin] -o NEW.signed.bin\n\n"
            "Encode a signed image for publishing (docs/updates.md). With --from, OUT is a patch\n"
            "a device running OLD rebuilds NEW from, of one of two kinds (--method):\n"
            "  prefix  zstd with OLD's image bytes as the reference prefix (zstd --patch-from,\n"
            "          long distance matching): encoding \"zstd-patch\"\n"
            "  bsdiff  bsdiff-style records (suffix array matches, byte differences, literals),\n"
            "          compressed with zstd: encoding \"zstd-bsdiff\"; usually smaller on code\n"
            "  auto    (default) make both and keep the smaller\n"
            "Without --from, OUT is NEW compressed with zstd (encoding \"zstd\"). OUT starts with\n"
            "a header (a zstd skippable frame) naming the encoding, NEW's version, security\n"
            "counter, hardware id, digests and length, and OLD's (the base) length, SHA-256 and\n"
            "image digest; `fwtrust repo add-target` copies it into the target's custom\n"
            "metadata. OUT is decoded again with the device's decoder before it is written\n"
            "(atomically).\n\n"
            "  --from OLD            base image (a signed fwtrust image; its image bytes, without\n"
            "                        any padding after the TLVs, are the reference)\n"
            "  --to NEW              the image to encode (a signed fwtrust image)\n"
            "  -o, --output OUT      the encoded file (the decoded image with --apply)\n"
            "  --method M            auto, prefix or bsdiff (patches only; default auto)\n"
            "  --level N             zstd level 1..22 (default 22 for a patch of images up to\n"
            "                        16 MiB together, else 19)\n"
            "  --verify-key PUB      verify NEW (and OLD) first: one valid signature by one of\n"
            "                        the keys (repeatable)\n"
            "  --info FILE           print the header of an encoded file\n"
            "  --apply FILE          decode FILE (with --from OLD for a patch) into OUT\n"
            "  --json                print the result as JSON\n" FWT_KEY_HELP
            "  -h, --help            this text\n\n"
            "Exit status (docs/exit-codes.md): 0 done; 1 usage; 2 I/O; 8 a file is missing;\n"
            "20 an input is not an fwtrust image, or FILE not an encoded image; 21 the base\n"
            "does not match the patch; 33 images too large for a patch (base + new above\n"
            "128 MiB: publish them compressed); 22-31 --verify-key failed.\n");
}

struct img {
    uint8_t *buf;
    size_t len;        /* file bytes */
    uint32_t total;    /* image bytes (header, payload, TLV areas) */
    struct fwt_image_info info;
};

static fwt_err load_image(const char *path, uint64_t max, struct img *im)
{
    memset(im, 0, sizeof(*im));
    fwt_err err = fwt_read_file(path, (size_t)max, &im->buf, &im->len);
    if (err == FWT_E_TOO_LARGE) {
        return fwt_fail(err, "%s is larger than %llu bytes", path, (unsigned long long)max);
    }
    if (err != FWT_OK) {
        return err;
    }
    struct fwt_file_io fio;
    err = fwt_file_io_open(&fio, path);
    if (err != FWT_OK) {
        return err;
    }
    static uint8_t work[16384];
    err = fwt_image_parse(&fio.io, work, sizeof(work), &im->info);
    fwt_file_io_close(&fio);
    if (err != FWT_OK) {
        return fwt_fail(err, "%s is not a valid fwtrust image (%s)", path,
                        fwt_detail()[0] ? fwt_detail() : fwt_strerror(err));
    }
    if (im->info.total_size > im->len || im->len != (size_t)fio.io.size) {
        return fwt_fail(FWT_E_IO, "%s changed while it was read", path);
    }
    im->total = im->info.total_size;
    return FWT_OK;
}

static fwt_err verify_image(const char *path, const char *const *keys, size_t n,
                            const struct fwt_key_opts *ko)
{
    struct fwt_trusted_key tk[MAX_VERIFY];
    uint8_t enc[MAX_VERIFY][FWT_PUBKEY_MAX];
    memset(tk, 0, sizeof(tk));
    for (size_t i = 0; i < n; i++) {
        fwt_pubkey *pub = NULL;
        fwt_err err = fwt_pubkey_load(keys[i], ko, &pub);
        size_t len = sizeof(enc[i]);
        if (err == FWT_OK) {
            err = fwt_pubkey_mcuboot(pub, enc[i], &len);
            tk[i].type = fwt_pubkey_type(pub);
            tk[i].key = enc[i];
            tk[i].key_len = len;
        }
        fwt_pubkey_free(pub);
        if (err != FWT_OK) {
            return err;
        }
    }
    struct fwt_policy pol;
    memset(&pol, 0, sizeof(pol));
    pol.keys = tk;
    pol.n_keys = n;
    pol.threshold = 1;
    struct fwt_image_info info;
    fwt_err err = fwt_verify_file(path, &pol, &info);
    if (err != FWT_OK && fwt_detail()[0] == '\0') {
        return fwt_fail(err, "%s does not verify with the --verify-key keys", path);
    }
    return err;
}

static const char *hash_name(enum fwt_hash_alg a)
{
    return a == FWT_HASH_SHA384 ? "sha384" : a == FWT_HASH_SHA512 ? "sha512" : "sha256";
}

/* The image's facts, as `fwtrust repo add-target` puts them in custom.fwtrust,
 * plus the length and SHA-256 of the bytes (len of them). */
static json_t *facts(const struct img *im, size_t len)
{
    uint8_t sha[32];
    char shahex[65], ver[48], dg[2 * FWT_DIGEST_MAX + 1];
    if (fwt_sha256(im->buf, len, sha) != FWT_OK) {
        return NULL;
    }
    fwt_hex_encode(sha, 32, shahex);
    fwt_version_format(&im->info.hdr.version, ver, sizeof(ver));
    size_t dlen = im->info.digest_len <= FWT_DIGEST_MAX ? im->info.digest_len : FWT_DIGEST_MAX;
    fwt_hex_encode(im->info.digest, dlen, dg);
    json_t *f = json_pack("{s:I, s:s, s:s, s:{s:s}}", "length", (json_int_t)len, "sha256", shahex,
                          "version", ver, "image_digest", hash_name(im->info.hash_alg), dg);
    if (!f) {
        return NULL;
    }
    if (im->info.has_security_counter) {
        json_object_set_new(f, "security_counter", json_integer(im->info.security_counter));
    }
    if (im->info.hw_id_len > 0 && im->info.hw_id_len <= FWT_HW_ID_MAX) {
        char hx[2 * FWT_HW_ID_MAX + 1];
        fwt_hex_encode(im->info.hw_id, im->info.hw_id_len, hx);
        json_object_set_new(f, "hw_id_hex", json_string(hx));
        if (fwt_is_printable(im->info.hw_id, im->info.hw_id_len)) {
            json_object_set_new(f, "hw_id", json_stringn((const char *)im->info.hw_id,
                                                         im->info.hw_id_len));
        }
    }
    return f;
}

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

/* ---- bsdiff-style records (delta_format.h, "zstd-bsdiff") ----
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
                              struct growbuf *g)
{
    struct fwt_progress pr;
    fwt_progress_start(&pr, "bsdiff", nn);
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
            fwt_progress_update(&pr, scan);
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
    fwt_progress_update(&pr, nn);
    fwt_progress_finish(&pr);
    return g->oom ? fwt_fail(FWT_E_NOMEM, "out of memory for the patch") : FWT_OK;
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

/* Decode an encoded file (or its frame) with the device's decoder into exactly want bytes. */
static fwt_err decode(const uint8_t *in, size_t len, enum fwt_dec_method m, const uint8_t *base,
                      size_t base_len, uint8_t **out, size_t want)
{
    *out = NULL;
    struct collect c = {malloc(want ? want : 1), 0, want};
    if (!c.buf) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_dec *d = NULL;
    fwt_err err = fwt_dec_new(m, m == FWT_DEC_PLAIN ? NULL : base, m == FWT_DEC_PLAIN ? 0 : base_len,
                              want, collect_sink, &c, &d);
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

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int run_info(const char *path, int json)
{
    json_t *hdr = NULL;
    uint64_t frame_off = 0, file_len = 0;
    fwt_err err = repo_encoded_read(path, &hdr, &frame_off, &file_len);
    if (err == FWT_E_NOT_FOUND) {
        err = fwt_fail(FWT_E_MALFORMED, "%s is not an encoded image (no fwtrust header)", path);
    }
    if (err != FWT_OK) {
        if (json) {
            fwt_cli_json_print(fwt_cli_json_error(err));
        }
        return fwt_cli_error(k_prog, err);
    }
    if (json) {
        json_t *o = json_pack("{s:b, s:s, s:I, s:I, s:O}", "ok", 1, "file", path, "file_length",
                              (json_int_t)file_len, "zstd_frame_offset", (json_int_t)frame_off,
                              "header", hdr);
        fwt_cli_json_print(o);
    } else {
        json_t *im = json_object_get(hdr, "image"), *b = json_object_get(hdr, "base");
        printf("%s: %s, %llu bytes\n", path, json_string_value(json_object_get(hdr, "encoding")),
               (unsigned long long)file_len);
        printf("  image: version %s, %lld bytes, sha256 %s\n",
               json_string_value(json_object_get(im, "version")),
               (long long)json_integer_value(json_object_get(im, "length")),
               json_string_value(json_object_get(im, "sha256")));
        if (b) {
            printf("  base:  version %s, %lld bytes, sha256 %s\n",
                   json_string_value(json_object_get(b, "version")),
                   (long long)json_integer_value(json_object_get(b, "length")),
                   json_string_value(json_object_get(b, "sha256")));
        }
    }
    json_decref(hdr);
    return 0;
}

static fwt_err apply(const char *patch, const char *from, const char *out, json_t **report)
{
    json_t *hdr = NULL;
    uint64_t frame_off = 0, file_len = 0;
    uint8_t *pbuf = NULL, *dec = NULL;
    size_t plen = 0;
    struct img base;
    memset(&base, 0, sizeof(base));
    fwt_err err = repo_encoded_read(patch, &hdr, &frame_off, &file_len);
    if (err == FWT_E_NOT_FOUND) {
        err = fwt_fail(FWT_E_MALFORMED, "%s is not an encoded image (no fwtrust header)", patch);
    }
    if (err != FWT_OK) {
        goto out;
    }
    const char *enc = json_string_value(json_object_get(hdr, "encoding"));
    json_t *im = json_object_get(hdr, "image"), *b = json_object_get(hdr, "base");
    uint64_t want = (uint64_t)json_integer_value(json_object_get(im, "length"));
    enum fwt_dec_method m = !strcmp(enc, FWT_ENC_PATCH)    ? FWT_DEC_PREFIX
                            : !strcmp(enc, FWT_ENC_BSDIFF) ? FWT_DEC_BSDIFF
                                                           : FWT_DEC_PLAIN;
    int is_patch = m != FWT_DEC_PLAIN;
    if (is_patch && !from) {
        err = fwt_fail(FWT_E_ARG, "%s is a patch: give its base with --from", patch);
        goto out;
    }
    if (!is_patch && from) {
        err = fwt_fail(FWT_E_ARG, "%s is not a patch: --from is not used", patch);
        goto out;
    }
    err = fwt_read_file(patch, (size_t)file_len + 1, &pbuf, &plen);
    if (err == FWT_OK && plen != file_len) {
        err = fwt_fail(FWT_E_IO, "%s changed while it was read", patch);
    }
    if (err == FWT_OK && is_patch) {
        err = load_image(from, PATCH_MAX, &base);
        uint8_t sha[32], want_sha[32];
        if (err == FWT_OK) {
            err = fwt_sha256(base.buf, base.total, sha);
        }
        const char *bs = json_string_value(json_object_get(b, "sha256"));
        if (err == FWT_OK && (!bs || fwt_hex_decode(bs, want_sha, 32) != FWT_OK)) {
            err = fwt_fail(FWT_E_MALFORMED, "%s: the header's base sha256 is not 64 hex digits", patch);
        }
        if (err == FWT_OK && ((uint64_t)base.total != (uint64_t)json_integer_value(json_object_get(b, "length")) ||
                              fwt_ct_compare(sha, want_sha, 32) != 0)) {
            err = fwt_fail(FWT_E_DIGEST, "%s is not the base of %s (its image bytes differ)", from, patch);
        }
    }
    if (err == FWT_OK && want > FULL_MAX) {
        err = fwt_fail(FWT_E_TOO_LARGE, "%s: image length %llu is too large", patch,
                       (unsigned long long)want);
    }
    if (err == FWT_OK) {
        err = decode(pbuf, plen, m, base.buf, base.total, &dec, (size_t)want);
        if (err != FWT_OK && is_patch && err != FWT_E_NOMEM) {
            err = fwt_fail(FWT_E_DIGEST, "%s does not decode against %s: %s", patch, from, fwt_detail());
        }
    }
    uint8_t sha[32], want_sha[32];
    const char *is = json_string_value(json_object_get(im, "sha256"));
    if (err == FWT_OK && (fwt_sha256(dec, (size_t)want, sha) != FWT_OK || !is ||
                          fwt_hex_decode(is, want_sha, 32) != FWT_OK ||
                          fwt_ct_compare(sha, want_sha, 32) != 0)) {
        err = fwt_fail(FWT_E_DIGEST, "%s: the decoded image's SHA-256 differs from the header's", patch);
    }
    if (err == FWT_OK) {
        err = fwt_write_file_atomic(out, dec, (size_t)want, 0644);
    }
    if (err == FWT_OK) {
        *report = json_pack("{s:b, s:s, s:s, s:I}", "ok", 1, "encoding", enc, "output", out,
                            "length", (json_int_t)want);
    }
out:
    json_decref(hdr);
    free(pbuf);
    free(dec);
    free(base.buf);
    return err;
}

enum method { M_AUTO, M_PREFIX, M_BSDIFF };

/* Both patch kinds, or one; the smaller is kept. */
static fwt_err make_patch(const struct img *base, const struct img *nw, int level, enum method me,
                          uint8_t **z, size_t *zlen, const char **enc)
{
    uint8_t *zp = NULL, *zb = NULL;
    size_t lp = 0, lb = 0;
    fwt_err err = FWT_OK;
    if (me != M_BSDIFF) {
        err = encode(base->buf, base->total, nw->buf, nw->len, level, &zp, &lp);
    }
    if (err == FWT_OK && me != M_PREFIX) {
        struct growbuf g = {NULL, 0, 0, 0};
        err = bsdiff_records(base->buf, base->total, nw->buf, nw->len, &g);
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
        *z = zb;
        *zlen = lb;
        *enc = FWT_ENC_BSDIFF;
    } else {
        free(zb);
        *z = zp;
        *zlen = lp;
        *enc = FWT_ENC_PATCH;
    }
    return FWT_OK;
}

static fwt_err make(const char *from, const char *to, const char *out, int level, enum method me,
                    const char *const *vkeys, size_t n_vkeys, const struct fwt_key_opts *ko,
                    json_t **report)
{
    struct img base, nw;
    memset(&base, 0, sizeof(base));
    memset(&nw, 0, sizeof(nw));
    uint8_t *z = NULL, *check = NULL, *file = NULL;
    size_t zlen = 0;
    char *hjson = NULL;
    json_t *hdr = NULL;
    fwt_err err = load_image(to, from ? PATCH_MAX : FULL_MAX, &nw);
    if (err == FWT_OK && from) {
        err = load_image(from, PATCH_MAX, &base);
    }
    if (err == FWT_OK && from && (uint64_t)base.total + nw.len > PATCH_MAX) {
        err = fwt_fail(FWT_E_TOO_LARGE,
                       "base (%u bytes) and new image (%zu bytes) together exceed the %llu byte "
                       "window a device accepts for a patch: publish the image compressed",
                       (unsigned)base.total, nw.len, (unsigned long long)PATCH_MAX);
    }
    if (level == 0) {
        /* Level 22 for patches of firmware-sized images (its tables stay modest); 19 for
         * compressed images and larger patches. */
        level = from && (uint64_t)base.total + nw.len <= (16U << 20) ? 22 : 19;
    }
    for (size_t i = 0; err == FWT_OK && n_vkeys > 0 && i < (from ? 2U : 1U); i++) {
        err = verify_image(i == 0 ? to : from, vkeys, n_vkeys, ko);
    }
    json_t *nf = NULL, *bf = NULL;
    if (err == FWT_OK) {
        nf = facts(&nw, nw.len);
        bf = from ? facts(&base, base.total) : NULL;
        hdr = json_pack("{s:i, s:s, s:o}", "fwtrust_encoded", FWT_ENC_FORMAT, "encoding",
                        FWT_ENC_ZSTD, "image", nf);
        if (!nf || !hdr || (from && !bf)) {
            json_decref(bf);
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else if (bf) {
            json_object_set_new(hdr, "base", bf);
        }
    }
    const char *enc = FWT_ENC_ZSTD;
    if (err == FWT_OK) {
        err = from ? make_patch(&base, &nw, level, me, &z, &zlen, &enc)
                   : encode(NULL, 0, nw.buf, nw.len, level, &z, &zlen);
    }
    if (err == FWT_OK) {
        json_object_set_new(hdr, "encoding", json_string(enc));
        /* Decode it again, with the device's decoder, before anyone publishes it. */
        enum fwt_dec_method m = !strcmp(enc, FWT_ENC_PATCH)    ? FWT_DEC_PREFIX
                                : !strcmp(enc, FWT_ENC_BSDIFF) ? FWT_DEC_BSDIFF
                                                               : FWT_DEC_PLAIN;
        err = decode(z, zlen, m, base.buf, base.total, &check, nw.len);
        if (err == FWT_OK && memcmp(check, nw.buf, nw.len) != 0) {
            err = fwt_fail(FWT_E_INTERNAL, "the encoded image does not decode to %s", to);
        }
    }
    size_t hlen = 0, total = 0;
    if (err == FWT_OK) {
        hjson = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
        hlen = hjson ? strlen(hjson) : 0;
        if (!hjson) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else if (hlen > FWT_ENC_JSON_MAX) {
            err = fwt_fail(FWT_E_INTERNAL, "header of %zu bytes is too large", hlen);
        }
    }
    if (err == FWT_OK) {
        total = 8 + FWT_ENC_TAG_LEN + hlen + zlen;
        file = malloc(total);
        if (!file) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    if (err == FWT_OK) {
        put_le32(file, FWT_ENC_SKIPPABLE_MAGIC);
        put_le32(file + 4, (uint32_t)(FWT_ENC_TAG_LEN + hlen));
        memcpy(file + 8, FWT_ENC_TAG, FWT_ENC_TAG_LEN);
        memcpy(file + 8 + FWT_ENC_TAG_LEN, hjson, hlen);
        memcpy(file + 8 + FWT_ENC_TAG_LEN + hlen, z, zlen);
        err = fwt_write_file_atomic(out, file, total, 0644);
    }
    if (err == FWT_OK) {
        *report = json_pack("{s:b, s:s, s:I, s:I, s:O}", "ok", 1, "output", out, "length",
                            (json_int_t)total, "image_length", (json_int_t)nw.len, "header", hdr);
    }
    free(hjson);
    free(file);
    free(z);
    free(check);
    free(base.buf);
    free(nw.buf);
    json_decref(hdr);
    return err;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"output", required_argument, NULL, 'o'},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"verify-key", required_argument, NULL, OPT_VERIFY_KEY},
        {"info", required_argument, NULL, OPT_INFO},
        {"apply", required_argument, NULL, OPT_APPLY},
        {"method", required_argument, NULL, OPT_METHOD},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        FWT_KEY_LONGOPTS,
        {NULL, 0, NULL, 0}};
    struct fwt_key_opts ko = {NULL, NULL, NULL};
    const char *from = NULL, *to = NULL, *out = NULL, *info = NULL, *apply_in = NULL;
    const char *vkeys[MAX_VERIFY];
    size_t n_vkeys = 0;
    uint32_t level = 0; /* default: see make() */
    enum method me = M_AUTO;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (fwt_key_opt(c, optarg, &ko)) {
            continue;
        }
        switch (c) {
        case OPT_FROM:
            from = optarg;
            break;
        case OPT_TO:
            to = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case OPT_LEVEL:
            if (fwt_parse_u32(optarg, &level) != FWT_OK || level < 1 ||
                (int)level > ZSTD_maxCLevel()) {
                return fwt_cli_usage_error(k_prog, "--level: a number from 1 to %d",
                                           ZSTD_maxCLevel());
            }
            break;
        case OPT_VERIFY_KEY:
            if (n_vkeys == MAX_VERIFY) {
                return fwt_cli_usage_error(k_prog, "at most %d --verify-key", MAX_VERIFY);
            }
            vkeys[n_vkeys++] = optarg;
            break;
        case OPT_INFO:
            info = optarg;
            break;
        case OPT_APPLY:
            apply_in = optarg;
            break;
        case OPT_METHOD:
            if (!strcmp(optarg, "auto")) {
                me = M_AUTO;
            } else if (!strcmp(optarg, "prefix")) {
                me = M_PREFIX;
            } else if (!strcmp(optarg, "bsdiff")) {
                me = M_BSDIFF;
            } else {
                return fwt_cli_usage_error(k_prog, "--method: auto, prefix or bsdiff");
            }
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return fwt_getopt_error(k_prog, argv);
        }
    }
    if (optind != argc) {
        return fwt_cli_usage_error(k_prog, "unexpected argument '%s'", argv[optind]);
    }
    if (info) {
        if (from || to || out || apply_in) {
            return fwt_cli_usage_error(k_prog, "--info takes no other file");
        }
        return run_info(info, json);
    }
    json_t *report = NULL;
    fwt_err err;
    if (apply_in) {
        if (to || !out) {
            return fwt_cli_usage_error(k_prog, "--apply FILE needs -o OUT (and --from OLD for a "
                                               "patch), not --to");
        }
        err = apply(apply_in, from, out, &report);
    } else {
        if (!to || !out) {
            return fwt_cli_usage_error(k_prog, "--to NEW and -o OUT are required");
        }
        err = make(from, to, out, (int)level, me, vkeys, n_vkeys, &ko, &report);
    }
    if (err != FWT_OK) {
        if (json) {
            fwt_cli_json_print(fwt_cli_json_error(err));
        }
        return fwt_cli_error(k_prog, err);
    }
    if (json) {
        fwt_cli_json_print(report);
        return 0;
    }
    if (apply_in) {
        printf("%s: %lld bytes decoded from %s\n", out,
               (long long)json_integer_value(json_object_get(report, "length")), apply_in);
    } else {
        json_t *h = json_object_get(report, "header");
        long long len = (long long)json_integer_value(json_object_get(report, "length"));
        long long ilen = (long long)json_integer_value(json_object_get(report, "image_length"));
        const char *enc = json_string_value(json_object_get(h, "encoding"));
        printf("%s: %s of %s (%s), %lld bytes for a %lld byte image (%.1f%%)\n", out,
               !strcmp(enc, FWT_ENC_BSDIFF)  ? "bsdiff patch (zstd-bsdiff)"
               : !strcmp(enc, FWT_ENC_PATCH) ? "zstd patch (zstd-patch)"
                                             : "zstd-compressed image", to,
               json_string_value(json_object_get(json_object_get(h, "image"), "version")), len,
               ilen, ilen ? 100.0 * (double)len / (double)ilen : 0.0);
        if (from) {
            printf("  base: %s (%s), sha256 %s\n", from,
                   json_string_value(json_object_get(json_object_get(h, "base"), "version")),
                   json_string_value(json_object_get(json_object_get(h, "base"), "sha256")));
        }
    }
    json_decref(report);
    return 0;
}

const struct fwt_command fwt_cmd_delta = {"delta", "make a zstd patch or compressed image for updates",
                                          run};
