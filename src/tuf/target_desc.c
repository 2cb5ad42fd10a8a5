/* The target description (custom.fwtrust): build and read. target_desc.h. */
#include <fwtrust/fwt_target_desc.h>

#include <fwtrust/fwt_crypto.h>
#include <fwtrust/fwt_delta.h>

#include <stdio.h>
#include <string.h>

const char *fwt_tdesc_enc_name(enum fwt_tdesc_enc e)
{
    return e == FWT_TDESC_BSDIFF2  ? FWT_ENC_BSDIFF2
           : e == FWT_TDESC_BSDIFF  ? FWT_ENC_BSDIFF
           : e == FWT_TDESC_PATCH ? FWT_ENC_PATCH
           : e == FWT_TDESC_ZSTD  ? FWT_ENC_ZSTD
                                  : FWT_ENC_NONE;
}

/* Hash names and sizes: the algorithm table (fwt_alg.h). */
static const char *digest_name(size_t len)
{
    const struct fwt_hash_desc *h = fwt_hash_by_size(len);
    return h ? h->name : NULL;
}

void fwt_target_desc_from_image(const struct fwt_image_info *info, int with_signers,
                                struct fwt_target_desc *d)
{
    memset(d, 0, sizeof(*d));
    d->enc = FWT_TDESC_NONE;
    d->version = info->hdr.version;
    const struct fwt_hash_desc *hd = fwt_hash_by_alg(info->hash_alg);
    size_t dl = hd ? hd->size : 32;
    d->digest.len = dl;
    memcpy(d->digest.v, info->digest, info->digest_len < dl ? info->digest_len : dl);
    d->has_ctr = info->has_security_counter != 0;
    d->ctr = d->has_ctr ? info->security_counter : 0;
    if (info->hw_id_len > 0 && info->hw_id_len <= FWT_HW_ID_MAX) {
        memcpy(d->hw_id, info->hw_id, info->hw_id_len);
        d->hw_id_len = info->hw_id_len;
    }
    if (with_signers) {
        d->has_signers = 1;
        d->n_signers = info->n_signers < FWT_MAX_SIGNERS ? info->n_signers : FWT_MAX_SIGNERS;
        memcpy(d->signers, info->signer_keyhash, d->n_signers * FWT_KEYHASH_SIZE);
    }
}

static int set_hex(json_t *o, const char *k, const uint8_t *b, size_t n)
{
    char h[2 * (FWT_DIGEST_MAX > FWT_HW_ID_MAX ? FWT_DIGEST_MAX : FWT_HW_ID_MAX) + 1];
    if (n > (sizeof(h) - 1) / 2) {
        return -1;
    }
    fwt_hex_encode(b, n, h);
    return json_object_set_new(o, k, json_string(h));
}

static json_t *digest_json(const struct fwt_tdesc_digest *dg)
{
    const char *name = digest_name(dg->len);
    json_t *o = json_object();
    if (!name || !o || set_hex(o, name, dg->v, dg->len) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int printable(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] < 0x20 || b[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

json_t *fwt_target_desc_to_json(const struct fwt_target_desc *d)
{
    char ver[48];
    fwt_version_format(&d->version, ver, sizeof(ver));
    json_t *f = json_object();
    int bad = !f || json_object_set_new(f, "version", json_string(ver)) != 0 ||
              json_object_set_new(f, "image_digest", digest_json(&d->digest)) != 0;
    if (!bad && d->has_ctr) {
        bad = json_object_set_new(f, "security_counter", json_integer((json_int_t)d->ctr)) != 0;
    }
    if (!bad && d->hw_id_len > 0) {
        bad = set_hex(f, "hw_id_hex", d->hw_id, d->hw_id_len) != 0;
        if (!bad && printable(d->hw_id, d->hw_id_len)) {
            bad = json_object_set_new(f, "hw_id", json_stringn((const char *)d->hw_id, d->hw_id_len)) != 0;
        }
    }
    if (!bad && d->has_signers) {
        json_t *a = json_array();
        bad = json_object_set_new(f, "verified_signers", a) != 0;
        for (size_t i = 0; !bad && i < d->n_signers && i < FWT_MAX_SIGNERS; i++) {
            char h[2 * FWT_KEYHASH_SIZE + 1];
            fwt_hex_encode(d->signers[i], FWT_KEYHASH_SIZE, h);
            bad = json_array_append_new(a, json_string(h)) != 0;
        }
    }
    if (!bad && d->enc != FWT_TDESC_NONE) {
        bad = json_object_set_new(f, "image_length", json_integer((json_int_t)d->image_len)) != 0 ||
              set_hex(f, "image_sha256", d->image_sha, 32) != 0 ||
              json_object_set_new(f, "encoding", json_string(fwt_tdesc_enc_name(d->enc))) != 0;
        if (!bad && d->window) {
            bad = json_object_set_new(f, "decode_window", json_integer((json_int_t)d->window)) != 0;
        }
    }
    if (!bad && FWT_TDESC_IS_PATCH(d->enc)) {
        char bv[48];
        fwt_version_format(&d->base_version, bv, sizeof(bv));
        json_t *b = json_object();
        bad = json_object_set_new(f, "base", b) != 0 ||
              json_object_set_new(b, "length", json_integer((json_int_t)d->base_len)) != 0 ||
              set_hex(b, "sha256", d->base_sha, 32) != 0 ||
              (d->has_base_version && json_object_set_new(b, "version", json_string(bv)) != 0) ||
              json_object_set_new(b, "image_digest", digest_json(&d->base_digest)) != 0;
    }
    if (bad) {
        json_decref(f);
        return NULL;
    }
    return f;
}

/* ---- Reading ---- */

static int hex_field(const json_t *o, const char *k, uint8_t *out, size_t len)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && strlen(s) == 2 * len && fwt_hex_decode(s, out, len) == FWT_OK;
}

static int hex_field_at(const json_t *a, size_t i, uint8_t out[FWT_KEYHASH_SIZE])
{
    const char *h = json_string_value(json_array_get(a, i));
    return h && strlen(h) == 2 * FWT_KEYHASH_SIZE && fwt_hex_decode(h, out, FWT_KEYHASH_SIZE) == FWT_OK;
}

/* The one digest of an {"sha256"|"sha384"|"sha512": hex} object. */
static int digest_field(const json_t *o, struct fwt_tdesc_digest *dg)
{
    json_t *d = json_object_get(o, "image_digest");
    const char *alg;
    json_t *v;
    if (!json_is_object(d) || json_object_size(d) != 1) {
        return 0;
    }
    json_object_foreach(d, alg, v) {
        const struct fwt_hash_desc *hd = fwt_hash_by_name(alg);
        size_t n = hd ? hd->size : 0;
        const char *s = json_string_value(v);
        if (n == 0 || !s || strlen(s) != 2 * n || fwt_hex_decode(s, dg->v, n) != FWT_OK) {
            return 0;
        }
        dg->len = n;
    }
    return 1;
}

static int u64_field(const json_t *o, const char *k, uint64_t max, uint64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max) {
        return 0;
    }
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static fwt_err refuse(char *why, size_t why_len, const char *what)
{
    snprintf(why, why_len, "%s", what);
    return FWT_E_META;
}

fwt_err fwt_target_desc_parse(const json_t *f, struct fwt_target_desc *d, char *why, size_t why_len)
{
    memset(d, 0, sizeof(*d));
    if (why_len > 0) {
        why[0] = '\0';
    }
    if (!json_is_object(f)) {
        return refuse(why, why_len, "no custom.fwtrust (not an fwtrust image)");
    }
    json_t *ej = json_object_get(f, "encoding");
    const char *enc = json_string_value(ej);
    if (ej && !enc) {
        return refuse(why, why_len, "custom.fwtrust.encoding is not a string");
    }
    d->enc = !enc || !strcmp(enc, FWT_ENC_NONE) ? FWT_TDESC_NONE
             : !strcmp(enc, FWT_ENC_ZSTD)       ? FWT_TDESC_ZSTD
             : !strcmp(enc, FWT_ENC_PATCH)      ? FWT_TDESC_PATCH
             : !strcmp(enc, FWT_ENC_BSDIFF)     ? FWT_TDESC_BSDIFF
             : !strcmp(enc, FWT_ENC_BSDIFF2)    ? FWT_TDESC_BSDIFF2
                                                : (enum fwt_tdesc_enc)-1;
    if ((int)d->enc < 0) {
        snprintf(why, why_len, "unknown encoding '%s'", enc);
        return FWT_E_META;
    }
    const char *vs = json_string_value(json_object_get(f, "version"));
    if (!vs || fwt_version_parse(vs, &d->version) != FWT_OK) {
        return refuse(why, why_len, "custom.fwtrust.version missing or invalid");
    }
    uint64_t v64;
    if (json_object_get(f, "security_counter")) {
        if (!u64_field(f, "security_counter", 0xffffffffU, &v64)) {
            return refuse(why, why_len, "custom.fwtrust.security_counter invalid");
        }
        d->has_ctr = 1;
        d->ctr = (uint32_t)v64;
    }
    json_t *hj = json_object_get(f, "hw_id_hex");
    const char *hx = json_string_value(hj);
    size_t hl = hx ? strlen(hx) : 0;
    if (hj && (hl == 0 || hl % 2 || hl / 2 > FWT_HW_ID_MAX ||
               fwt_hex_decode(hx, d->hw_id, hl / 2) != FWT_OK)) {
        return refuse(why, why_len, "custom.fwtrust.hw_id_hex invalid (1 to 64 bytes in hex)");
    }
    d->hw_id_len = hl / 2;
    if (!digest_field(f, &d->digest)) {
        return refuse(why, why_len, "custom.fwtrust.image_digest missing or invalid");
    }
    json_t *vs_arr = json_object_get(f, "verified_signers");
    if (vs_arr) {
        if (!json_is_array(vs_arr) || json_array_size(vs_arr) > FWT_MAX_SIGNERS) {
            return refuse(why, why_len, "custom.fwtrust.verified_signers invalid");
        }
        for (size_t i = 0; i < json_array_size(vs_arr); i++) {
            if (!hex_field_at(vs_arr, i, d->signers[i])) {
                return refuse(why, why_len, "custom.fwtrust.verified_signers invalid");
            }
        }
        d->has_signers = 1;
        d->n_signers = json_array_size(vs_arr);
    }
    if (d->enc != FWT_TDESC_NONE) {
        if (!u64_field(f, "image_length", 0xffffffffU, &d->image_len) || d->image_len == 0 ||
            !hex_field(f, "image_sha256", d->image_sha, 32)) {
            return refuse(why, why_len, "custom.fwtrust.image_length/image_sha256 missing or invalid");
        }
        if (json_object_get(f, "decode_window") &&
            (!u64_field(f, "decode_window", 1ULL << 62, &d->window) || d->window < 1024)) {
            return refuse(why, why_len, "custom.fwtrust.decode_window invalid (1024 to 2^62 bytes)");
        }
    } else if (json_object_get(f, "decode_window")) {
        return refuse(why, why_len, "custom.fwtrust.decode_window on a target that is not encoded");
    }
    if (FWT_TDESC_IS_PATCH(d->enc)) {
        json_t *b = json_object_get(f, "base");
        json_t *bvj = json_object_get(b, "version");
        const char *bv = json_string_value(bvj);
        if (!json_is_object(b) || !u64_field(b, "length", 0xffffffffU, &d->base_len) || d->base_len == 0 ||
            !hex_field(b, "sha256", d->base_sha, 32) || !digest_field(b, &d->base_digest) ||
            (bvj && (!bv || fwt_version_parse(bv, &d->base_version) != FWT_OK))) {
            return refuse(why, why_len, "custom.fwtrust.base missing or invalid");
        }
        d->has_base_version = bvj != NULL;
    }
    return FWT_OK;
}
