/*
 * The catalog of signed images: the signing log (what was signed, by whom, when)
 * joined with the repository (what is published) and with the annotations kept in
 * the catalog file (withdrawn, vulnerabilities). See docs/catalog.md.
 */
#include "keys_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const k_severities[] = {"low", "medium", "high", "critical"};

fwt_err fwt_catalog_load(const char *path, json_t **annotations)
{
    *annotations = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err e = fwt_read_file(path, 16U * 1024U * 1024U, &buf, &len);
    if (e == FWT_E_NOT_FOUND) {
        fwt_detail_clear();
        *annotations = json_pack("{s:i, s:{}}", "version", 1, "images");
        return *annotations ? FWT_OK : FWT_E_NOMEM;
    }
    if (e != FWT_OK) {
        return e;
    }
    json_error_t je;
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    json_t *imgs = json_object_get(o, "images");
    if (!json_is_object(o) || !json_is_integer(json_object_get(o, "version")) ||
        json_integer_value(json_object_get(o, "version")) != 1 || !json_is_object(imgs)) {
        json_decref(o);
        return fwt_fail(FWT_E_MALFORMED, "%s: not a catalog file ({\"version\": 1, \"images\": {...}})", path);
    }
    const char *k;
    json_t *v;
    json_object_foreach(imgs, k, v) {
        if (!json_is_object(v) || !json_is_array(json_object_get(v, "vulnerabilities")) ||
            !json_is_boolean(json_object_get(v, "withdrawn"))) {
            fwt_err e2 = fwt_fail(FWT_E_MALFORMED, "%s: image %.16s: an object with withdrawn and a "
                                  "vulnerabilities list expected", path, k);
            json_decref(o); /* after the message: k belongs to o */
            return e2;
        }
    }
    *annotations = o;
    return FWT_OK;
}

static int hex_digest_ok(const char *h)
{
    size_t n = strlen(h);
    if (n != 64 && n != 96 && n != 128) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

fwt_err fwt_catalog_annotate(const char *path, const char *digest_hex, int withdrawn, const char *reason,
                             const char *vuln_id, const char *severity, const char *fixed_in)
{
    if (!digest_hex || !hex_digest_ok(digest_hex)) {
        return fwt_fail(FWT_E_ARG, "image digest: 64, 96 or 128 lower-case hex digits");
    }
    if (!withdrawn && !vuln_id) {
        return fwt_fail(FWT_E_ARG, "nothing to record (withdrawn or a vulnerability id)");
    }
    if (vuln_id) {
        int ok = 0;
        for (size_t i = 0; severity && i < sizeof(k_severities) / sizeof(k_severities[0]); i++) {
            ok |= !strcmp(severity, k_severities[i]);
        }
        if (!ok || !vuln_id[0]) {
            return fwt_fail(FWT_E_ARG, "a vulnerability needs an id and a severity (low, medium, high, critical)");
        }
    }
    json_t *o = NULL;
    fwt_err e = fwt_catalog_load(path, &o);
    if (e != FWT_OK) {
        return e;
    }
    json_t *imgs = json_object_get(o, "images");
    json_t *img = json_object_get(imgs, digest_hex);
    if (!img) {
        img = json_pack("{s:b, s:[]}", "withdrawn", 0, "vulnerabilities");
        if (!img || json_object_set_new(imgs, digest_hex, img) != 0) {
            json_decref(o);
            return FWT_E_NOMEM;
        }
    }
    json_int_t now = (json_int_t)time(NULL);
    if (withdrawn) {
        json_object_set_new(img, "withdrawn", json_true());
        json_object_set_new(img, "withdrawn_reason", json_string(reason ? reason : ""));
        json_object_set_new(img, "withdrawn_time", json_integer(now));
    }
    if (vuln_id) {
        json_t *vl = json_object_get(img, "vulnerabilities");
        size_t i;
        json_t *v;
        json_array_foreach(vl, i, v) {
            if (!strcmp(json_string_value(json_object_get(v, "id")) ? json_string_value(json_object_get(v, "id")) : "",
                        vuln_id)) {
                json_array_remove(vl, i);
                break;
            }
        }
        json_t *nv = json_pack("{s:s, s:s, s:I}", "id", vuln_id, "severity", severity, "time", now);
        if (nv) {
            json_object_set_new(nv, "fixed_in", fixed_in ? json_string(fixed_in) : json_null());
        }
        if (!nv || json_array_append_new(vl, nv) != 0) {
            json_decref(o);
            return FWT_E_NOMEM;
        }
    }
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (!text) {
        return FWT_E_NOMEM;
    }
    size_t l = strlen(text);
    text[l] = '\n';
    e = fwt_write_file_atomic(path, text, l + 1, 0644);
    free(text);
    return e;
}

/* The catalog entry of digest hex (created on first sight). */
static json_t *entry_for(json_t *by_digest, json_t *order, const char *hex)
{
    json_t *e = json_object_get(by_digest, hex);
    if (e) {
        return e;
    }
    e = json_pack("{s:s, s:n, s:n, s:n, s:[], s:[], s:[], s:n, s:[], s:b, s:[]}", "digest", hex, "hash", "version",
                  "hw_id", "signers", "log_entries", "targets", "provenance", "vulnerabilities", "unlogged", 0,
                  "key_versions");
    if (e && json_object_set_new(by_digest, hex, e) == 0 && json_array_append_new(order, json_string(hex)) == 0) {
        return e;
    }
    return NULL;
}

fwt_err fwt_catalog_build(fwt_signlog *log, const fwt_pubkey *log_key, const json_t *targets,
                          const json_t *annotations, json_t **out)
{
    *out = NULL;
    if (log == NULL || log_key == NULL) {
        return fwt_fail(FWT_E_ARG, "catalog: no log or log key");
    }
    fwt_err e = fwt_signlog_verify(log, log_key, NULL, NULL);
    if (e != FWT_OK) {
        return fwt_fail(e, "signing log: %s", fwt_detail());
    }
    uint64_t n = 0;
    if ((e = fwt_signlog_size(log, &n)) != FWT_OK) {
        return e;
    }
    json_t *by = json_object(), *order = json_array();
    if (!by || !order) {
        json_decref(by);
        json_decref(order);
        return FWT_E_NOMEM;
    }
    for (uint64_t i = 0; i < n && e == FWT_OK; i++) {
        char *text = NULL;
        size_t len = 0;
        struct fwt_signlog_record rec;
        if ((e = fwt_signlog_entry(log, i, &text, &len)) != FWT_OK) {
            break;
        }
        struct fwt_signlog_event ev;
        e = fwt_signlog_record_parse((const uint8_t *)text, len, &rec);
        /* events (approvals, fleet admin actions) sign no image: not in the catalog */
        int event = e != FWT_OK && fwt_signlog_event_parse((const uint8_t *)text, len, &ev) == FWT_OK;
        free(text);
        if (event) {
            e = FWT_OK;
            continue;
        }
        if (e != FWT_OK) {
            break;
        }
        char hex[2 * FWT_DIGEST_MAX + 1], kid[65], ver[48];
        fwt_hex_encode(rec.digest, rec.digest_len, hex);
        fwt_hex_encode(rec.keyhash, 32, kid);
        fwt_version_format(&rec.version, ver, sizeof(ver));
        json_t *ent = entry_for(by, order, hex);
        const struct fwt_hash_desc *h = fwt_hash_by_size(rec.digest_len);
        if (!ent) {
            e = FWT_E_NOMEM;
            break;
        }
        json_object_set_new(ent, "hash", json_string(h ? h->name : "unknown"));
        json_object_set_new(ent, "version", json_string(ver));
        json_object_set_new(ent, "hw_id", rec.hw_id_len ? json_stringn((const char *)rec.hw_id, rec.hw_id_len)
                                                        : json_null());
        if (rec.has_security_counter) {
            json_object_set_new(ent, "security_counter", json_integer(rec.security_counter));
        }
        json_array_append_new(json_object_get(ent, "signers"),
                              json_pack("{s:s, s:s, s:I, s:I}", "signer", rec.signer, "key_id", kid, "time",
                                        (json_int_t)rec.time, "log_index", (json_int_t)i));
        json_array_append_new(json_object_get(ent, "log_entries"), json_integer((json_int_t)i));
    }
    /* The repository's view: targets whose description names an image digest. */
    size_t ti;
    json_t *row;
    json_array_foreach(targets, ti, row) {
        if (e != FWT_OK) {
            break;
        }
        json_t *fw = json_object_get(json_object_get(row, "custom"), "fwtrust");
        json_t *dg = json_object_get(fw, "image_digest");
        const char *alg;
        json_t *hv;
        json_object_foreach(dg, alg, hv) {
            const char *hex = json_string_value(hv);
            if (!hex || json_object_get(fw, "encoding")) {
                continue; /* an encoded target carries its image's digest too: listed under the plain one */
            }
            int known = json_object_get(by, hex) != NULL;
            json_t *ent = entry_for(by, order, hex);
            if (!ent) {
                e = FWT_E_NOMEM;
                break;
            }
            if (!known) {
                json_object_set_new(ent, "unlogged", json_true());
                json_object_set_new(ent, "hash", json_string(alg));
                json_object_set(ent, "version", json_object_get(fw, "version"));
            }
            json_array_append_new(json_object_get(ent, "targets"),
                                  json_pack("{s:O, s:O, s:O, s:O*, s:O*}", "name", json_object_get(row, "name"),
                                            "role", json_object_get(row, "role"), "staged",
                                            json_object_get(row, "staged"), "sha256",
                                            json_object_get(json_object_get(row, "hashes"), "sha256"), "key_version",
                                            json_object_get(row, "key_version")));
            /* key versions of its boot-key certificates (from the target files; none: []) */
            json_t *kvs = json_object_get(ent, "key_versions"), *kv = json_object_get(row, "key_version");
            int have = 0;
            size_t q;
            json_t *x;
            json_array_foreach(kvs, q, x)
            {
                have |= json_equal(x, kv);
            }
            if (json_is_integer(kv) && !have) {
                json_array_append(kvs, kv);
            }
            json_t *prov = json_object_get(json_object_get(row, "custom"), "provenance");
            if (prov) {
                json_object_set(ent, "provenance", prov);
            }
        }
    }
    json_t *imgs = json_object_get(annotations, "images");
    json_t *list = json_array();
    size_t oi;
    json_t *hv;
    json_array_foreach(order, oi, hv) {
        if (e != FWT_OK || !list) {
            break;
        }
        json_t *ent = json_object_get(by, json_string_value(hv));
        json_t *ann = json_object_get(imgs, json_string_value(hv));
        int withdrawn = json_is_true(json_object_get(ann, "withdrawn"));
        int published = 0, staged = 0;
        size_t k;
        json_t *t;
        json_array_foreach(json_object_get(ent, "targets"), k, t) {
            if (json_is_true(json_object_get(t, "staged"))) {
                staged = 1;
            } else {
                published = 1;
            }
        }
        json_object_set_new(ent, "state", json_string(withdrawn   ? "withdrawn"
                                                      : published ? "published"
                                                      : staged    ? "staged"
                                                                  : "signed"));
        if (ann) {
            json_object_set(ent, "vulnerabilities", json_object_get(ann, "vulnerabilities"));
            if (withdrawn) {
                json_object_set(ent, "withdrawn_reason", json_object_get(ann, "withdrawn_reason"));
            }
        }
        json_array_append(list, ent);
    }
    json_decref(by);
    json_decref(order);
    if (e != FWT_OK || !list) {
        json_decref(list);
        return e != FWT_OK ? e : FWT_E_NOMEM;
    }
    *out = list;
    return FWT_OK;
}
