/*
 * fwtrust delta: make the encoded targets a device can update from.
 *
 *   fwtrust delta --from OLD.signed.bin --to NEW.signed.bin -o PATCH   zstd patch (OLD is the
 *                                                                      reference prefix)
 *   fwtrust delta --to NEW.signed.bin -o NEW.zst                       zstd-compressed image
 *   fwtrust delta --info FILE                                          show an encoded file's header
 *   fwtrust delta --apply PATCH [--from OLD.signed.bin] -o NEW         decode (host side check)
 *
 * The output is the container of <fwtrust/fwt_delta.h> (docs/updates.md):
 * a zstd skippable frame describing the image (and the base image of a
 * patch), then one zstd frame. Plain `zstd -d` (with --patch-from=OLD for a
 * patch) decodes it too. The encoding and decoding are the delta engine's
 * (src/delta); this file reads the images, builds the header and prints.
 */
#include "image_cmd.h"
#include <fwtrust/fwt_repo.h>
#include <fwtrust/fwt_target_desc.h>

#include <fwtrust/fwt_delta.h>

#include <stdlib.h>

static const char *const k_prog = "fwtrust delta";

#define MAX_VERIFY 8
/* A full image compressed with zstd: any size a slot can hold (4 GiB - 1, as the core reads). */
#define FULL_MAX 0xffffffffULL
/* A patch: base and new image together within the largest window a device accepts. */
#define PATCH_MAX (1ULL << FWT_ENC_PATCH_WINDOWLOG_MAX)
/* An ELF file given as a hint: at most 256 MiB (debug information included). */
#define ELF_MAX (256U << 20)

static struct fwt_key_opts g_ko;
static const char *g_from, *g_to, *g_out, *g_info, *g_apply, *g_method, *g_from_elf, *g_to_elf;
static const char *g_vkeys[MAX_VERIFY];
static struct fwt_opt_list g_vkey_list = {g_vkeys, 0, MAX_VERIFY};
static uint64_t g_level; /* 0: see make() */
static uint64_t g_max_window; /* 0: no cap beyond a device's maxima */
static int g_json;

static const struct fwt_opt k_opts[] = {
    FWT_OPT_STR_(0, "from", "OLD", &g_from, "base image (a signed fwtrust image; its image bytes, without\n"
                                           "any padding after the TLVs, are the reference)"),
    FWT_OPT_STR_(0, "to", "NEW", &g_to, "the image to encode (a signed fwtrust image)"),
    FWT_OPT_STR_('o', "output", "OUT", &g_out, "the encoded file (the decoded image with --apply)"),
    FWT_OPT_STR_(0, "method", "M", &g_method, "auto, prefix, bsdiff, bsdiff2 or lzma2-dict (patches only;\n"
                                                        "default auto)"),
    FWT_OPT_STR_(0, "from-elf", "OLD.elf", &g_from_elf, "the ELF file OLD's payload was made from (with --to-elf):\n"
                                                         "bsdiff2 rewrites instructions only in its code sections"),
    FWT_OPT_STR_(0, "to-elf", "NEW.elf", &g_to_elf, "the ELF file NEW's payload was made from (with --from-elf)"),
    FWT_OPT_U64_(0, "level", "N", &g_level, 1, FWT_DELTA_LEVEL_MAX,
                 "zstd level 1..22 (default 22 for a patch of images up to\n"
                 "16 MiB together, else 19)"),
    FWT_OPT_U64_(0, "max-window", "BYTES", &g_max_window, 1024, 1ULL << FWT_ENC_PATCH_WINDOWLOG_MAX,
                 "the decoding window a device can give (RAM for the zstd window\n"
                 "or LZMA2 dictionary, docs/updates.md): make only patches that\n"
                 "need at most BYTES; with --apply, refuse a file needing more"),
    FWT_OPT_LIST_(0, "verify-key", "PUB", &g_vkey_list, "verify NEW (and OLD) first: one valid signature by one of\n"
                                                        "the keys (repeatable, up to 8)"),
    FWT_OPT_STR_(0, "info", "FILE", &g_info, "print the header of an encoded file"),
    FWT_OPT_STR_(0, "apply", "FILE", &g_apply, "decode FILE (with --from OLD for a patch) into OUT"),
    FWT_OPT_FLAG_(0, "json", &g_json, "print the result as JSON"),
    FWT_KEY_OPTS(g_ko),
    FWT_OPT_END_,
};
_Static_assert(FWT_DELTA_LEVEL_MAX == 22 && MAX_VERIFY == 8, "the help texts of --level and --verify-key");

static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust delta",
    .operands = "",
    .description =
        "fwtrust delta [--from OLD.signed.bin] --to NEW.signed.bin -o OUT [options]\n"
        "fwtrust delta --info FILE [--json]\n"
        "fwtrust delta --apply FILE [--from OLD.signed.bin] -o NEW.signed.bin\n\n"
        "Encode a signed image for publishing (docs/updates.md). With --from, OUT is a patch\n"
        "a device running OLD rebuilds NEW from, of one of these kinds (--method):\n"
        "  prefix  zstd with OLD's image bytes as the reference prefix (zstd --patch-from,\n"
        "          long distance matching): encoding \"zstd-patch\"\n"
        "  bsdiff  bsdiff-style records (suffix array matches, byte differences, literals),\n"
        "          compressed with zstd: encoding \"zstd-bsdiff\"; usually smaller on code\n"
        "  bsdiff2 the same records between transformed images: ARM Thumb-2 branch and\n"
        "          literal-load targets made absolute, and in the base mapped (with its\n"
        "          32-bit pointers) through an address map shipped in the patch; coded with\n"
        "          zstd or LZMA2, or no records: the transformed image as LZMA2 with the\n"
        "          transformed base as its dictionary; the smallest: encoding \"bsdiff2\"\n"
        "  lzma2-dict only that last variant of bsdiff2 (encoding \"bsdiff2\")\n"
        "  auto    (default) make prefix, bsdiff and bsdiff2 and keep the smallest\n"
        "bsdiff2 finds code by scanning the images; with --from-elf and --to-elf (32-bit ARM\n"
        "executables whose loaded sections are the images' payloads, as objcopy -O binary\n"
        "lays them out) it rewrites instructions only in their code sections, never in data.\n"
        "          (bsdiff2 only where strictly smaller: older devices decode the others)\n"
        "Without --from, OUT is NEW compressed with zstd (encoding \"zstd\"). OUT starts with\n"
        "a header (a zstd skippable frame) naming the encoding, NEW's version, security\n"
        "counter, hardware id, digests and length, and OLD's (the base) length, SHA-256 and\n"
        "image digest; `fwtrust repo add-target` copies it into the target's custom\n"
        "metadata. OUT is decoded again with the device's decoder before it is written\n"
        "(atomically).",
    .opts = k_opts,
    .epilog = "Exit status (docs/exit-codes.md): 0 done; 1 usage; 2 I/O; 8 a file is missing;\n"
              "20 an input is not an fwtrust image, or FILE not an encoded image, or an ELF file\n"
              "is malformed; 21 the base does not match the patch, or an ELF file is not its\n"
              "image's; 27 an ELF file is not a 32-bit little-endian ARM executable; 33 images\n"
              "too large for a patch (base + new above 128 MiB: publish them compressed), or a\n"
              "file needing a larger decoding window than --max-window; 22-31 --verify-key\n"
              "failed.",
};

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
    fwt_err err = fwt_verify_file_any_key(path, keys, n, ko, NULL);
    if (err != FWT_OK && fwt_detail()[0] == '\0') {
        return fwt_fail(err, "%s does not verify with the --verify-key keys", path);
    }
    return err;
}

/* The image's facts, as `fwtrust repo add-target` puts them in custom.fwtrust
 * (the target description, tuf/target_desc.h), plus the length and SHA-256 of
 * the bytes (len of them). */
static json_t *facts(const struct img *im, size_t len)
{
    uint8_t sha[32];
    char shahex[65];
    if (fwt_sha256(im->buf, len, sha) != FWT_OK) {
        return NULL;
    }
    fwt_hex_encode(sha, 32, shahex);
    struct fwt_target_desc d;
    fwt_target_desc_from_image(&im->info, 0, &d);
    json_t *desc = fwt_target_desc_to_json(&d);
    json_t *f = desc ? json_pack("{s:I, s:s}", "length", (json_int_t)len, "sha256", shahex) : NULL;
    if (!f || json_object_update(f, desc) != 0) {
        json_decref(f);
        f = NULL;
    }
    json_decref(desc);
    return f;
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
    enum fwt_dec_method m = FWT_DEC_PLAIN;
    if (fwt_delta_encoding_parse(enc, &m) != FWT_OK) {
        /* repo_encoded_read checked the header: a bug if reached. */
        err = fwt_fail(FWT_E_INTERNAL, "%s: encoding not known", patch);
        goto out;
    }
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
        err = fwt_delta_decode(pbuf, plen, m, base.buf, base.total, (size_t)want, g_max_window,
                               &dec);
        if (err != FWT_OK && is_patch && err != FWT_E_NOMEM && err != FWT_E_TOO_LARGE) {
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

/* Progress of the bsdiff matching, on stderr when it is a terminal. */
static void bsdiff_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct fwt_progress *pr = ctx;
    if (done == 0) {
        fwt_progress_start(pr, "bsdiff", total);
    }
    fwt_progress_update(pr, done);
    if (done == total) {
        fwt_progress_finish(pr);
    }
}

/* The code ranges of im (len bytes) from the ELF file it was made from. */
static fwt_err elf_ranges(const char *path, const struct img *im, size_t len, uint32_t **r,
                          size_t *n)
{
    uint8_t *elf = NULL;
    size_t elen = 0;
    fwt_err err = fwt_read_file(path, ELF_MAX, &elf, &elen);
    if (err == FWT_E_TOO_LARGE) {
        return fwt_fail(err, "%s is larger than %u bytes", path, (unsigned)ELF_MAX);
    }
    if (err == FWT_OK) {
        err = fwt_delta_elf_code(elf, elen, im->buf, len, im->info.hdr.hdr_size, r, n);
        if (err != FWT_OK) {
            err = fwt_fail(err, "%s: %s", path, fwt_detail());
        }
    }
    free(elf);
    return err;
}

static uint64_t range_bytes(const uint32_t *r, size_t n)
{
    uint64_t t = 0;
    for (size_t i = 0; i < n; i++) {
        t += r[2 * i + 1] - r[2 * i];
    }
    return t;
}

static fwt_err make(const char *from, const char *to, const char *from_elf, const char *to_elf,
                    const char *out, int level, enum fwt_delta_method me,
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
    /* The ELF hint: code ranges of both images. */
    uint32_t *rb = NULL, *rn = NULL;
    size_t nb = 0, nn = 0;
    if (err == FWT_OK && from_elf) {
        err = elf_ranges(from_elf, &base, base.total, &rb, &nb);
        if (err == FWT_OK) {
            err = elf_ranges(to_elf, &nw, nw.len, &rn, &nn);
        }
    }
    struct fwt_delta_code code = {rb, nb, rn, nn};
    enum fwt_dec_method m = FWT_DEC_PLAIN;
    if (err == FWT_OK) {
        struct fwt_progress pr;
        err = from ? fwt_delta_patch_code(base.buf, base.total, nw.buf, nw.len, level, me,
                                          g_max_window, from_elf ? &code : NULL, bsdiff_progress,
                                          &pr, &z, &zlen, &m)
                   : fwt_delta_compress(nw.buf, nw.len, level, &z, &zlen);
    }
    int ranges_used = 0;
    if (err == FWT_OK) {
        json_object_set_new(hdr, "encoding", json_string(fwt_delta_encoding_name(m)));
        struct fwt_delta_pre pre;
        if (m == FWT_DEC_BSDIFF2 && fwt_delta_pre_parse(z, zlen, &pre) == FWT_OK) {
            /* Describing only (the device reads the frame's own preamble). */
            json_object_set_new(hdr, "transform", json_string(fwt_delta_xform_name(pre.xform)));
            json_object_set_new(hdr, "entropy", json_string(fwt_delta_entropy_name(pre.entropy)));
            ranges_used = (pre.xflags & FWT_DELTA_XF_CODE) != 0;
            if (ranges_used) {
                json_object_set_new(hdr, "code_ranges", json_string("elf"));
            }
        }
        /* Decode it again, with the device's decoder, before anyone publishes it. */
        err = fwt_delta_decode(z, zlen, m, base.buf, base.total, nw.len, g_max_window, &check);
        if (err == FWT_OK && memcmp(check, nw.buf, nw.len) != 0) {
            err = fwt_fail(FWT_E_INTERNAL, "the encoded image does not decode to %s", to);
        }
    }
    size_t total = 0;
    uint64_t window = 0; /* what `fwtrust repo add-target` will publish as decode_window */
    if (err == FWT_OK) {
        err = fwt_delta_frame_window(z, zlen, m, base.total, &window);
    }
    if (err == FWT_OK) {
        hjson = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
        err = hjson ? fwt_delta_container(hjson, strlen(hjson), z, zlen, &file, &total)
                    : fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (err == FWT_OK) {
        err = fwt_write_file_atomic(out, file, total, 0644);
    }
    if (err == FWT_OK) {
        *report = json_pack("{s:b, s:s, s:I, s:I, s:I, s:O}", "ok", 1, "output", out, "length",
                            (json_int_t)total, "image_length", (json_int_t)nw.len,
                            "decode_window", (json_int_t)window, "header", hdr);
        if (*report && from_elf) {
            json_object_set_new(*report, "code_ranges",
                                json_pack("{s:I, s:I, s:I, s:I, s:b}", "base", (json_int_t)nb,
                                          "base_bytes", (json_int_t)range_bytes(rb, nb), "new",
                                          (json_int_t)nn, "new_bytes",
                                          (json_int_t)range_bytes(rn, nn), "used", ranges_used));
        }
    }
    free(rb);
    free(rn);
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
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    struct fwt_key_opts ko = g_ko;
    const char *from = g_from, *to = g_to, *out = g_out, *info = g_info, *apply_in = g_apply;
    const char *const *vkeys = g_vkeys;
    size_t n_vkeys = g_vkey_list.n;
    uint32_t level = (uint32_t)g_level;
    enum fwt_delta_method me = FWT_DELTA_AUTO;
    int json = g_json;
    if (g_method && fwt_delta_method_parse(g_method, &me) != FWT_OK) {
        return fwt_cli_usage_error(k_prog, "--method: auto, prefix, bsdiff, bsdiff2 or lzma2-dict");
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
        if ((g_from_elf != NULL) != (g_to_elf != NULL) || (g_from_elf && !from)) {
            return fwt_cli_usage_error(k_prog, "--from-elf and --to-elf go together, with --from");
        }
        if (g_from_elf && (me == FWT_DELTA_PREFIX || me == FWT_DELTA_BSDIFF)) {
            return fwt_cli_usage_error(k_prog, "--from-elf/--to-elf guide the bsdiff2 transform: "
                                               "not with --method prefix or bsdiff");
        }
        err = make(from, to, g_from_elf, g_to_elf, out, (int)level, me, vkeys, n_vkeys, &ko,
                   &report);
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
               !strcmp(enc, FWT_ENC_BSDIFF2)  ? "bsdiff2 patch (bsdiff2)"
               : !strcmp(enc, FWT_ENC_BSDIFF)  ? "bsdiff patch (zstd-bsdiff)"
               : !strcmp(enc, FWT_ENC_PATCH) ? "zstd patch (zstd-patch)"
                                             : "zstd-compressed image", to,
               json_string_value(json_object_get(json_object_get(h, "image"), "version")), len,
               ilen, ilen ? 100.0 * (double)len / (double)ilen : 0.0);
        if (from) {
            printf("  base: %s (%s), sha256 %s\n", from,
                   json_string_value(json_object_get(json_object_get(h, "base"), "version")),
                   json_string_value(json_object_get(json_object_get(h, "base"), "sha256")));
        }
        printf("  decoding window: %lld bytes\n",
               (long long)json_integer_value(json_object_get(report, "decode_window")));
        json_t *cr = json_object_get(report, "code_ranges");
        if (cr) {
            printf("  code ranges from the ELF files: base %lld (%lld bytes), new %lld (%lld "
                   "bytes); %s\n",
                   (long long)json_integer_value(json_object_get(cr, "base")),
                   (long long)json_integer_value(json_object_get(cr, "base_bytes")),
                   (long long)json_integer_value(json_object_get(cr, "new")),
                   (long long)json_integer_value(json_object_get(cr, "new_bytes")),
                   json_is_true(json_object_get(cr, "used"))
                       ? "the patch transforms only them"
                       : "the smallest patch uses no transform through them");
        }
    }
    json_decref(report);
    return 0;
}

const struct fwt_command fwt_cmd_delta = {"delta", "make a zstd patch or compressed image for updates",
                                          run};
