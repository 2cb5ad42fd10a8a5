/*
 * The catalog from the published targets (custom.fwtrust: version, image digest,
 * verified signers) and the signing log (which signatures were really made).
 */
#include "attest_internal.h"

#include <fwtrust/fwt_target_desc.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static int logged(const struct fwt_attest_signed *l, size_t n, const uint8_t *d, size_t dl,
                  const uint8_t kh[32])
{
    for (size_t i = 0; i < n; i++) {
        if (l[i].digest_len == dl && memcmp(l[i].digest, d, dl) == 0 &&
            (!kh || memcmp(l[i].keyhash, kh, 32) == 0)) {
            return 1;
        }
    }
    return 0;
}

static fwt_err add(json_t *cat, const char *name, const struct fwt_target_desc *td,
                   const uint8_t kh[32])
{
    char v[48], dig[2 * 64 + 1], khx[65];
    fwt_version_format(&td->version, v, sizeof(v));
    fwt_hex_encode(td->digest.v, td->digest.len, dig);
    fwt_hex_encode(kh, 32, khx);
    /* sorted by name, then signer; the same pair from two roles or two files once */
    size_t i, at = json_array_size(cat);
    json_t *e;
    json_array_foreach(cat, i, e) {
        int c = strcmp(json_string_value(json_object_get(e, "name")), name);
        if (c == 0) {
            c = strcmp(json_string_value(json_object_get(e, "signer_keyhash")), khx);
        }
        if (c == 0) {
            return FWT_OK;
        }
        if (c > 0) {
            at = i;
            break;
        }
    }
    return json_array_insert_new(cat, at, json_pack("{s:s, s:s, s:s, s:s}", "name", name, "version",
                                                    v, "image_digest", dig, "signer_keyhash",
                                                    khx)) == 0
               ? FWT_OK
               : fwt_fail(FWT_E_NOMEM, "out of memory");
}

fwt_err fwt_attest_catalog_build(const char *const *targets, const size_t *lens, size_t n,
                                 const struct fwt_attest_signed *lg, size_t n_logged, int use_log,
                                 char **out)
{
    *out = NULL;
    json_t *cat = json_array();
    if (!cat) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err err = FWT_OK;
    for (size_t f = 0; f < n && err == FWT_OK; f++) {
        json_error_t je;
        if (lens[f] > (16U << 20) || memchr(targets[f], '\0', lens[f])) {
            err = fwt_fail(FWT_E_META, "targets file %zu: too large or holds a NUL byte", f + 1);
            break;
        }
        json_t *md = json_loadb(targets[f], lens[f], JSON_REJECT_DUPLICATES, &je);
        json_t *tg = json_object_get(json_object_get(md, "signed"), "targets");
        const char *type = json_string_value(json_object_get(json_object_get(md, "signed"), "_type"));
        if (!md || !json_is_object(tg) || !type || strcmp(type, "targets") != 0) {
            json_decref(md);
            err = fwt_fail(FWT_E_META, "targets file %zu is not TUF targets metadata%s%s", f + 1,
                           md ? "" : ": ", md ? "" : je.text);
            break;
        }
        const char *name;
        json_t *t;
        json_object_foreach(tg, name, t) {
            json_t *fw = json_object_get(json_object_get(t, "custom"), "fwtrust");
            if (!fw) {
                continue; /* not an fwtrust image */
            }
            if (strlen(name) == 0 || strlen(name) > 1024) {
                err = fwt_fail(FWT_E_META, "a target name of %zu bytes (1 to 1024)", strlen(name));
                break;
            }
            struct fwt_target_desc td;
            char why[160];
            if (fwt_target_desc_parse(fw, &td, why, sizeof(why)) != FWT_OK) {
                err = fwt_fail(FWT_E_META, "target %s: %s", name, why);
                break;
            }
            if (td.has_signers && td.n_signers) {
                for (size_t k = 0; k < td.n_signers && err == FWT_OK; k++) {
                    if (!use_log || logged(lg, n_logged, td.digest.v, td.digest.len, td.signers[k])) {
                        err = add(cat, name, &td, td.signers[k]);
                    }
                }
            } else {
                for (size_t k = 0; k < n_logged && err == FWT_OK; k++) {
                    if (lg[k].digest_len == td.digest.len &&
                        memcmp(lg[k].digest, td.digest.v, td.digest.len) == 0) {
                        err = add(cat, name, &td, lg[k].keyhash);
                    }
                }
            }
            if (err != FWT_OK) {
                break;
            }
        }
        json_decref(md);
    }
    if (err == FWT_OK && (*out = json_dumps(cat, JSON_INDENT(2))) == NULL) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    json_decref(cat);
    return err;
}
