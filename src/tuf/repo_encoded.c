/* Encoded targets (zstd-compressed images, zstd patches): header reading for `fwtrust repo`. */
#include "repo.h"
#include <fwtrust/fwt_repo.h>
#include <fwtrust/fwt_target_desc.h>

#include <fwtrust/fwt_delta.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int u32_field(const json_t *o, const char *k, int required)
{
    json_t *v = json_object_get(o, k);
    if (!v) {
        return !required;
    }
    return json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 0xffffffffLL;
}

/* An image description: length, sha256, version, image_digest; optional counter and hw id. */
static fwt_err check_desc(const json_t *d, const char *which)
{
    if (!json_is_object(d)) {
        return fwt_fail(FWT_E_MALFORMED, "encoded image header: \"%s\" is not an object", which);
    }
    json_t *len = json_object_get(d, "length");
    if (!json_is_integer(len) || json_integer_value(len) < 1 ||
        json_integer_value(len) > 0xffffffffLL) {
        return fwt_fail(FWT_E_MALFORMED, "encoded image header: %s.length must be 1 to 4294967295",
                        which);
    }
    if (!repo_is_hex(json_string_value(json_object_get(d, "sha256")), 64, 64)) {
        return fwt_fail(FWT_E_MALFORMED, "encoded image header: %s.sha256 must be 64 hex digits",
                        which);
    }
    struct fwt_version v;
    const char *vs = json_string_value(json_object_get(d, "version"));
    if (!vs || fwt_version_parse(vs, &v) != FWT_OK) {
        return fwt_fail(FWT_E_MALFORMED, "encoded image header: %s.version is not a version",
                        which);
    }
    json_t *dg = json_object_get(d, "image_digest");
    const char *alg;
    json_t *hv;
    size_t n = 0;
    if (!json_is_object(dg) || json_object_size(dg) != 1) {
        return fwt_fail(FWT_E_MALFORMED,
                        "encoded image header: %s.image_digest must name one digest", which);
    }
    json_object_foreach(dg, alg, hv) {
        const struct fwt_hash_desc *hd = fwt_hash_by_name(alg);
        size_t want = hd ? 2U * hd->size : 0; /* hex digits */
        if (want == 0 || !repo_is_hex(json_string_value(hv), want, want)) {
            return fwt_fail(FWT_E_MALFORMED,
                            "encoded image header: %s.image_digest.%s is not a digest", which, alg);
        }
        n++;
    }
    if (!u32_field(d, "security_counter", 0)) {
        return fwt_fail(FWT_E_MALFORMED,
                        "encoded image header: %s.security_counter is not a 32-bit number", which);
    }
    json_t *hx = json_object_get(d, "hw_id_hex"), *hs = json_object_get(d, "hw_id");
    if (hx && !repo_is_hex(json_string_value(hx), 2, 2 * FWT_HW_ID_MAX)) {
        return fwt_fail(FWT_E_MALFORMED, "encoded image header: %s.hw_id_hex is not 1 to %u bytes",
                        which, FWT_HW_ID_MAX);
    }
    if (hs && (!json_is_string(hs) || !hx ||
               json_string_length(hs) * 2 != strlen(json_string_value(hx)))) {
        return fwt_fail(FWT_E_MALFORMED,
                        "encoded image header: %s.hw_id disagrees with hw_id_hex", which);
    }
    return n == 1 ? FWT_OK : FWT_E_INTERNAL;
}

fwt_err repo_encoded_check(const json_t *hdr)
{
    if (!json_is_object(hdr)) {
        return fwt_fail(FWT_E_MALFORMED, "encoded image header is not a JSON object");
    }
    json_t *fmt = json_object_get(hdr, "fwtrust_encoded");
    if (!json_is_integer(fmt)) {
        return fwt_fail(FWT_E_MALFORMED, "encoded image header lacks \"fwtrust_encoded\"");
    }
    if (json_integer_value(fmt) != FWT_ENC_FORMAT) {
        return fwt_fail(FWT_E_UNSUPPORTED, "encoded image format %lld is not supported (only %d)",
                        (long long)json_integer_value(fmt), FWT_ENC_FORMAT);
    }
    const char *enc = json_string_value(json_object_get(hdr, "encoding"));
    enum fwt_dec_method m;
    if (fwt_delta_encoding_parse(enc, &m) != FWT_OK) {
        return fwt_fail(FWT_E_UNSUPPORTED, "encoding %s%s%s is not supported (zstd, zstd-patch, zstd-bsdiff, bsdiff2)",
                        enc ? "'" : "", enc ? enc : "(none)", enc ? "'" : "");
    }
    fwt_err err = check_desc(json_object_get(hdr, "image"), "image");
    if (err != FWT_OK) {
        return err;
    }
    json_t *base = json_object_get(hdr, "base");
    if (m != FWT_DEC_PLAIN) {
        return check_desc(base, "base");
    }
    if (base) {
        return fwt_fail(FWT_E_MALFORMED, "encoded image header: a zstd image has no \"base\"");
    }
    return FWT_OK;
}

static fwt_err read_at(int fd, void *buf, size_t len, off_t off, const char *path)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return fwt_fail(FWT_E_IO, "%s: read failed: %s", path, n < 0 ? strerror(errno) : "short file");
        }
        done += (size_t)n;
    }
    return FWT_OK;
}

fwt_err repo_encoded_read(const char *path, json_t **hdr, uint64_t *frame_off, uint64_t *file_len)
{
    *hdr = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    uint8_t head[8 + FWT_ENC_TAG_LEN];
    char *text = NULL;
    fwt_err err = FWT_OK;
    if (fstat(fd, &st) != 0) {
        err = fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (!S_ISREG(st.st_mode) || size < sizeof(head) ||
        read_at(fd, head, sizeof(head), 0, path) != FWT_OK || le32(head) != FWT_ENC_SKIPPABLE_MAGIC ||
        memcmp(head + 8, FWT_ENC_TAG, FWT_ENC_TAG_LEN) != 0) {
        fwt_detail_clear();
        err = FWT_E_NOT_FOUND; /* not ours: a plain target */
        goto out;
    }
    uint32_t n = le32(head + 4);
    if (n <= FWT_ENC_TAG_LEN || n - FWT_ENC_TAG_LEN > FWT_ENC_JSON_MAX) {
        err = fwt_fail(FWT_E_MALFORMED, "%s: encoded image header of %u bytes (allowed 9 to %u)",
                       path, (unsigned)n, FWT_ENC_TAG_LEN + FWT_ENC_JSON_MAX);
        goto out;
    }
    if ((uint64_t)n + 8 + 4 > size) {
        err = fwt_fail(FWT_E_MALFORMED, "%s: the file ends inside its header (%llu bytes)", path,
                       (unsigned long long)size);
        goto out;
    }
    size_t jlen = n - FWT_ENC_TAG_LEN;
    text = malloc(jlen);
    uint8_t zm[4];
    if (!text) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
        goto out;
    }
    err = read_at(fd, text, jlen, (off_t)sizeof(head), path);
    if (err == FWT_OK) {
        err = read_at(fd, zm, 4, (off_t)(8 + n), path);
    }
    if (err != FWT_OK) {
        goto out;
    }
    json_error_t je;
    json_t *h = json_loadb(text, jlen, JSON_REJECT_DUPLICATES, &je);
    if (!h) {
        err = fwt_fail(FWT_E_MALFORMED, "%s: encoded image header is not JSON: %s", path, je.text);
        goto out;
    }
    err = repo_encoded_check(h);
    /* A "bsdiff2" patch starts with its preamble, every other encoding with a zstd frame. */
    const char *enc = json_string_value(json_object_get(h, "encoding"));
    int pre = enc && !strcmp(enc, FWT_ENC_BSDIFF2);
    if (err == FWT_OK && pre && memcmp(zm, FWT_ENC_PRE_MAGIC, 4) != 0) {
        err = fwt_fail(FWT_E_MALFORMED, "%s: no bsdiff2 preamble after the header", path);
    } else if (err == FWT_OK && !pre && le32(zm) != FWT_ENC_ZSTD_MAGIC) {
        err = fwt_fail(FWT_E_MALFORMED, "%s: no zstd frame after the header", path);
    }
    if (err != FWT_OK) {
        json_decref(h);
        goto out;
    }
    *hdr = h;
    *frame_off = 8 + (uint64_t)n;
    *file_len = size;
out:
    free(text);
    close(fd);
    return err;
}

fwt_err repo_encoded_facts(const char *path, json_t **facts)
{
    *facts = NULL;
    json_t *hdr = NULL;
    uint64_t off = 0, len = 0;
    fwt_err err = repo_encoded_read(path, &hdr, &off, &len);
    if (err != FWT_OK) {
        return err;
    }
    /* The header's image facts under the description's names, read by the one
     * reader (tuf/target_desc.h) and written again by the one writer. */
    json_t *im = json_object_get(hdr, "image");
    /* The decoding window, from the frame itself (the header only describes). */
    enum fwt_dec_method m = FWT_DEC_PLAIN;
    uint8_t head[FWT_ENC_FRAME_HEAD_MAX];
    size_t hl = len - off < sizeof(head) ? (size_t)(len - off) : sizeof(head);
    uint64_t window = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    err = fd < 0 ? fwt_fail(FWT_E_IO, "%s: %s", path, strerror(errno))
                 : read_at(fd, head, hl, (off_t)off, path);
    if (fd >= 0) {
        close(fd);
    }
    if (err == FWT_OK && fwt_delta_encoding_parse(json_string_value(json_object_get(hdr, "encoding")),
                                                  &m) != FWT_OK) {
        err = fwt_fail(FWT_E_INTERNAL, "%s: encoding not known", path); /* checked when read */
    }
    if (err == FWT_OK) {
        json_int_t bl = json_integer_value(json_object_get(json_object_get(hdr, "base"), "length"));
        err = fwt_delta_frame_window(head, hl, m, (uint64_t)bl, &window);
        if (err != FWT_OK) {
            err = fwt_fail(err, "%s: %s", path, fwt_detail());
        }
    }
    if (err != FWT_OK) {
        json_decref(hdr);
        return err;
    }
    json_t *f = json_deep_copy(im);
    if (f) {
        json_object_set(f, "image_length", json_object_get(im, "length"));
        json_object_set(f, "image_sha256", json_object_get(im, "sha256"));
        json_object_del(f, "length");
        json_object_del(f, "sha256");
        json_object_set(f, "encoding", json_object_get(hdr, "encoding"));
        json_object_set_new(f, "decode_window", json_integer((json_int_t)window));
        json_t *base = json_object_get(hdr, "base");
        if (base) {
            json_object_set(f, "base", base);
        }
    }
    json_decref(hdr);
    if (!f) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    struct fwt_target_desc d;
    char why[128];
    err = fwt_target_desc_parse(f, &d, why, sizeof(why));
    json_decref(f);
    if (err != FWT_OK) {
        return fwt_fail(FWT_E_MALFORMED, "%s: encoded image header: %s", path, why);
    }
    *facts = fwt_target_desc_to_json(&d);
    return *facts ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
}
