/*
 * Attestation documents (fwt_attest_doc): JSON objects with a "type" and hex
 * fields, strict on reading; and the catalog list.
 */
#include "attest_internal.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define DOC_MAX (4U << 20)

struct fwt_attest_doc {
    json_t *o;
};

fwt_err fwt_attest_doc_new(const char *type, fwt_attest_doc **d)
{
    *d = calloc(1, sizeof(**d));
    if (!*d || ((*d)->o = json_pack("{s:s}", "type", type)) == NULL) {
        free(*d);
        *d = NULL;
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    return FWT_OK;
}

static fwt_err load(const char *json, size_t len, const char *what, json_t **out)
{
    *out = NULL;
    if (len > DOC_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE, "%s of %zu bytes (at most %u)", what, len, DOC_MAX);
    }
    if (memchr(json, '\0', len)) {
        return fwt_fail(FWT_E_MALFORMED, "%s contains a NUL byte", what);
    }
    json_error_t je;
    *out = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out) {
        return fwt_fail(FWT_E_MALFORMED, "%s is not JSON: %s (line %d)", what, je.text,
                        je.line);
    }
    return FWT_OK;
}

fwt_err fwt_attest_doc_parse(const char *json, size_t len, const char *type, fwt_attest_doc **d)
{
    *d = NULL;
    json_t *o = NULL;
    fwt_err err = load(json, len, type, &o);
    if (err != FWT_OK) {
        return err;
    }
    const char *t = json_string_value(json_object_get(o, "type"));
    if (!json_is_object(o) || !t || (type && strcmp(t, type) != 0)) {
        json_decref(o);
        return fwt_fail(FWT_E_MALFORMED, "not a %s document (type %s)", type ? type : "typed",
                        t ? t : "missing");
    }
    if ((*d = calloc(1, sizeof(**d))) == NULL) {
        json_decref(o);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    (*d)->o = o;
    return FWT_OK;
}

const char *fwt_attest_doc_type(const fwt_attest_doc *d)
{
    return json_string_value(json_object_get(d->o, "type"));
}

fwt_err fwt_attest_doc_set_hex(fwt_attest_doc *d, const char *field, const uint8_t *b, size_t n)
{
    if (n > DOC_MAX / 2) {
        return fwt_fail(FWT_E_TOO_LARGE, "%s of %zu bytes", field, n);
    }
    char *h = malloc(2 * n + 1);
    if (!h) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_hex_encode(b, n, h);
    int rc = json_object_set_new(d->o, field, json_string(h));
    free(h);
    return rc == 0 ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
}

fwt_err fwt_attest_doc_set_int(fwt_attest_doc *d, const char *field, int64_t v)
{
    return json_object_set_new(d->o, field, json_integer(v)) == 0
               ? FWT_OK
               : fwt_fail(FWT_E_NOMEM, "out of memory");
}

static fwt_err hex_field(json_t *o, const char *what, const char *field, size_t max,
                         uint8_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const char *h = json_string_value(json_object_get(o, field));
    size_t hl = h ? strlen(h) : 0;
    if (!h || hl % 2 || hl / 2 > max) {
        return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" missing, not hex or over %zu bytes", what,
                        field, max);
    }
    uint8_t *b = malloc(hl / 2 + 1);
    if (!b) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (fwt_hex_decode(h, b, hl / 2) != FWT_OK) {
        free(b);
        return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" is not hex", what, field);
    }
    *out = b;
    *n = hl / 2;
    return FWT_OK;
}

fwt_err fwt_attest_doc_get_hex(const fwt_attest_doc *d, const char *field, size_t max,
                               uint8_t **out, size_t *n)
{
    return hex_field(d->o, fwt_attest_doc_type(d), field, max, out, n);
}

fwt_err fwt_attest_doc_get_int(const fwt_attest_doc *d, const char *field, int64_t dflt,
                               int64_t *v)
{
    json_t *j = json_object_get(d->o, field);
    if (!j) {
        *v = dflt;
        return FWT_OK;
    }
    if (!json_is_integer(j)) {
        return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" is not an integer", fwt_attest_doc_type(d),
                        field);
    }
    *v = json_integer_value(j);
    return FWT_OK;
}

fwt_err fwt_attest_doc_dump(const fwt_attest_doc *d, char **out)
{
    *out = json_dumps(d->o, JSON_INDENT(2) | JSON_SORT_KEYS);
    return *out ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
}

void fwt_attest_doc_free(fwt_attest_doc *d)
{
    if (d) {
        json_decref(d->o);
        free(d);
    }
}

fwt_err fwt_attest_catalog_parse(const char *json, size_t len, struct fwt_attest_image **out,
                                 size_t *n)
{
    *out = NULL;
    *n = 0;
    json_t *a = NULL;
    fwt_err err = load(json, len, "catalog", &a);
    if (err != FWT_OK) {
        return err;
    }
    size_t cnt = json_array_size(a), strs = 0;
    if (!json_is_array(a) || cnt > 100000) {
        json_decref(a);
        return fwt_fail(FWT_E_MALFORMED, "catalog: not an array of at most 100000 images");
    }
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_array_get(a, i);
        const char *nm = json_string_value(json_object_get(e, "name"));
        const char *v = json_string_value(json_object_get(e, "version"));
        if (!json_is_object(e) || !nm || !v || !*nm || strlen(nm) > 1024 || strlen(v) > 64) {
            json_decref(a);
            return fwt_fail(FWT_E_MALFORMED, "catalog entry %zu: needs a name (1 to 1024 bytes) "
                            "and a version", i);
        }
        strs += strlen(nm) + strlen(v) + 2;
    }
    struct fwt_attest_image *imgs = calloc(1, cnt * sizeof(*imgs) + strs + 1);
    if (!imgs) {
        json_decref(a);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    char *sp = (char *)(imgs + cnt);
    for (size_t i = 0; i < cnt && err == FWT_OK; i++) {
        json_t *e = json_array_get(a, i);
        struct fwt_attest_image *im = &imgs[i];
        uint8_t *b = NULL;
        size_t bl = 0;
        const char *nm = json_string_value(json_object_get(e, "name"));
        const char *v = json_string_value(json_object_get(e, "version"));
        im->name = strcpy(sp, nm);
        sp += strlen(nm) + 1;
        im->version = strcpy(sp, v);
        sp += strlen(v) + 1;
        err = hex_field(e, "catalog entry", "image_digest", sizeof(im->digest), &b, &bl);
        if (err == FWT_OK && bl != 32 && bl != 48 && bl != 64) {
            err = fwt_fail(FWT_E_MALFORMED, "catalog entry %zu: image_digest of %zu bytes", i,
                           bl);
        }
        if (err == FWT_OK) {
            memcpy(im->digest, b, bl);
            im->digest_len = bl;
        }
        free(b);
        b = NULL;
        if (err == FWT_OK) {
            err = hex_field(e, "catalog entry", "signer_keyhash", 32, &b, &bl);
            if (err == FWT_OK && bl != 32) {
                err = fwt_fail(FWT_E_MALFORMED, "catalog entry %zu: signer_keyhash of %zu "
                               "bytes", i, bl);
            }
            if (err == FWT_OK) {
                memcpy(im->signer_keyhash, b, 32);
            }
            free(b);
        }
    }
    json_decref(a);
    if (err != FWT_OK) {
        free(imgs);
        return err;
    }
    *out = imgs;
    *n = cnt;
    return FWT_OK;
}
