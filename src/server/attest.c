/*
 * Remote attestation on the fleet server (docs/attestation.md, "For the fleet
 * server"; the API: docs/fleet-protocol.md). The verification is the attest
 * library's (fwt_attest.h); here: its configuration (DIR/attest.json), the
 * attestation key's enrollment state, single-use nonces in the database (so
 * every server process sharing it agrees on what was used), the catalog, the
 * device's assigned release, and the signed records stored with the device.
 * A failed verdict is an event, an alert (rule "attestation-failed") and a
 * tamper detection in the metrics.
 */
#include "imagerepo.h"
#include "srv.h"

#include <fwtrust/fwt_attest.h>
#include <fwtrust/fwt_keys.h>
#include <fwtrust/fwt_rollout.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char k_actor[] = "server:attest";

/* ---- DIR/attest.json ---- */

struct attest_cfg {
    char *ek_ca;                       /* PEM: the TPM manufacturers' CAs */
    struct fwt_attest_image *catalog; /* one allocation */
    size_t n_catalog;
    int64_t nonce_ttl;                 /* seconds a nonce may be used after issue */
};

static void cfg_free(struct attest_cfg *c)
{
    free(c->ek_ca);
    free(c->catalog);
    memset(c, 0, sizeof(*c));
}

static fwt_err read_rel(fwt_srv *s, const char *rel, size_t max, char **path, uint8_t **buf, size_t *len)
{
    *path = rel[0] == '/' ? strdup(rel) : srv_path(s->dir, rel);
    if (!*path) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    return buf ? fwt_read_file(*path, max, buf, len) : FWT_OK;
}

fwt_err fwt_srv_attest_config_parse(const uint8_t *text, size_t tl, json_t **cfg)
{
    *cfg = NULL;
    if (tl > (1U << 20)) {
        return fwt_fail(FWT_E_ARG, "attest.json: above 1 MiB");
    }
    json_error_t je;
    json_t *o = json_loadb((const char *)text, tl, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return fwt_fail(FWT_E_ARG, "attest.json: not a JSON object (%s)", je.text);
    }
    fwt_err e = FWT_OK;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int str = !strcmp(k, "ek_ca") || !strcmp(k, "catalog") || !strcmp(k, "signlog") || !strcmp(k, "signlog_key");
        if (!str && strcmp(k, "targets") && strcmp(k, "nonce_ttl") && strcmp(k, "image_repo")) {
            e = fwt_fail(FWT_E_ARG, "attest.json: unknown key '%s' (ek_ca, image_repo, targets, signlog, signlog_key, "
                         "catalog, nonce_ttl)", k);
            break;
        }
        if (!strcmp(k, "image_repo") && !json_is_true(v)) {
            e = fwt_fail(FWT_E_ARG, "attest.json: \"image_repo\" must be true (or absent)");
            break;
        }
        if (str && (!json_is_string(v) || !*json_string_value(v))) {
            e = fwt_fail(FWT_E_ARG, "attest.json: \"%s\" must be a file name", k);
            break;
        }
    }
    const char *ca = json_string_value(json_object_get(o, "ek_ca"));
    json_t *tg = json_object_get(o, "targets"), *ttl = json_object_get(o, "nonce_ttl");
    const char *cat = json_string_value(json_object_get(o, "catalog"));
    if (e == FWT_OK && !ca) {
        e = fwt_fail(FWT_E_ARG, "attest.json: \"ek_ca\" (the TPM manufacturers' CA file, PEM) is required");
    }
    int ir = json_is_true(json_object_get(o, "image_repo"));
    if (e == FWT_OK && !!cat + !!tg + ir != 1) {
        e = fwt_fail(FWT_E_ARG, "attest.json: exactly one of \"image_repo\" (the image repository of "
                     "fwtrust-server image-repo set), \"targets\" (published targets metadata files) or \"catalog\" "
                     "(a file of fwtrust attest catalog) is required");
    }
    const char *lg = json_string_value(json_object_get(o, "signlog"));
    const char *lk = json_string_value(json_object_get(o, "signlog_key"));
    if (e == FWT_OK && (!!lg != !!lk || (lg && cat))) {
        e = fwt_fail(FWT_E_ARG, "attest.json: \"signlog\" and \"signlog_key\" (its pinned public key, PEM) go "
                     "together, with \"image_repo\" or \"targets\"");
    }
    if (e == FWT_OK && tg && (!json_is_array(tg) || json_array_size(tg) == 0 || json_array_size(tg) > 64)) {
        e = fwt_fail(FWT_E_ARG, "attest.json: \"targets\" must be an array of 1 to 64 file names");
    }
    for (size_t i = 0; e == FWT_OK && tg && i < json_array_size(tg); i++) {
        const char *name = json_string_value(json_array_get(tg, i));
        if (!name || !*name) {
            e = fwt_fail(FWT_E_ARG, "attest.json: \"targets\"[%zu] must be a file name", i);
        }
    }
    if (e == FWT_OK && ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 10 ||
                               json_integer_value(ttl) > 86400)) {
        e = fwt_fail(FWT_E_ARG, "attest.json: \"nonce_ttl\" must be 10 to 86400 seconds");
    }
    if (e != FWT_OK) {
        json_decref(o);
        return e;
    }
    *cfg = o;
    return FWT_OK;
}

/* The configuration checked, then its files: the CA path and the catalog. */
static fwt_err srv_attest_config_load(fwt_srv *s, const uint8_t *text, size_t tl, struct attest_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->nonce_ttl = 300;
    json_t *o = NULL;
    fwt_err e = fwt_srv_attest_config_parse(text, tl, &o);
    if (e != FWT_OK) {
        return e;
    }
    const char *ca = json_string_value(json_object_get(o, "ek_ca"));
    json_t *tg = json_object_get(o, "targets"), *ttl = json_object_get(o, "nonce_ttl");
    const char *cat = json_string_value(json_object_get(o, "catalog"));
    const char *lg = json_string_value(json_object_get(o, "signlog"));
    const char *lk = json_string_value(json_object_get(o, "signlog_key"));
    if (ttl) {
        c->nonce_ttl = (int64_t)json_integer_value(ttl);
    }
    e = read_rel(s, ca, 0, &c->ek_ca, NULL, NULL);
    char *json = NULL;
    size_t jl = 0;
    if (e == FWT_OK && cat) {
        char *p = NULL;
        e = read_rel(s, cat, 16U << 20, &p, (uint8_t **)&json, &jl);
        free(p);
    } else if (e == FWT_OK) {
        int ir = json_is_true(json_object_get(o, "image_repo"));
        size_t n = ir ? 1 : json_array_size(tg);
        char **texts = calloc(n, sizeof(*texts));
        size_t *lens = calloc(n, sizeof(*lens));
        if (!texts || !lens) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        if (e == FWT_OK && ir) {
            /* the published targets as the server's TUF client of the image repository has
             * just verified them (refreshed now: a new release counts at once) */
            fwt_tuf_client *tc = NULL;
            char *url = NULL, *p = NULL;
            if ((e = srv_image_repo_open(s, &tc, &url)) == FWT_OK && !tc) {
                e = fwt_fail(FWT_E_NOT_FOUND, "attest.json: image_repo: no image repository is configured "
                             "(fwtrust-server image-repo set)");
            }
            if (e == FWT_OK) {
                e = read_rel(s, "image-repo/metadata/targets.json", 16U << 20, &p, (uint8_t **)&texts[0], &lens[0]);
            }
            fwt_tuf_client_free(tc);
            free(url);
            free(p);
        }
        for (size_t i = 0; e == FWT_OK && !ir && i < n; i++) {
            const char *name = json_string_value(json_array_get(tg, i));
            char *p = NULL;
            e = read_rel(s, name, 16U << 20, &p, (uint8_t **)&texts[i], &lens[i]);
            free(p);
        }
        /* the signing log, checked whole against its pinned key: only (digest, signer) pairs
         * both published and logged are in the catalog */
        struct fwt_signlog_record *rec = NULL;
        size_t n_rec = 0;
        struct fwt_attest_signed *sg = NULL;
        if (e == FWT_OK && lg) {
            char *lp = NULL, *kp = NULL;
            fwt_pubkey *pub = NULL;
            if ((e = read_rel(s, lg, 0, &lp, NULL, NULL)) == FWT_OK &&
                (e = read_rel(s, lk, 0, &kp, NULL, NULL)) == FWT_OK &&
                (e = fwt_pubkey_load(kp, NULL, &pub)) == FWT_OK) {
                e = fwt_signlog_records(lp, pub, &rec, &n_rec);
            }
            if (e != FWT_OK) {
                e = fwt_fail(e, "attest.json: signlog %s: %s", lg, fwt_detail());
            }
            fwt_pubkey_free(pub);
            free(lp);
            free(kp);
        }
        if (e == FWT_OK && n_rec && !(sg = calloc(n_rec, sizeof(*sg)))) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        for (size_t i = 0; e == FWT_OK && i < n_rec; i++) {
            memcpy(sg[i].digest, rec[i].digest, rec[i].digest_len);
            sg[i].digest_len = rec[i].digest_len;
            memcpy(sg[i].keyhash, rec[i].keyhash, 32);
        }
        if (e == FWT_OK) {
            e = fwt_attest_catalog_build((const char *const *)texts, lens, n, sg, n_rec, lg != NULL, &json);
            jl = json ? strlen(json) : 0;
        }
        free(sg);
        free(rec);
        for (size_t i = 0; texts && i < n; i++) {
            free(texts[i]);
        }
        free(texts);
        free(lens);
    }
    if (e == FWT_OK) {
        e = fwt_attest_catalog_parse(json, jl, &c->catalog, &c->n_catalog);
    }
    free(json);
    json_decref(o);
    if (e != FWT_OK) {
        cfg_free(c);
    }
    return e;
}

static fwt_err cfg_load(fwt_srv *s, struct attest_cfg *c)
{
    char *p = srv_path(s->dir, "attest.json");
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err e = p ? fwt_read_file(p, 1 << 20, &buf, &len) : fwt_fail(FWT_E_NOMEM, "out of memory");
    if (e == FWT_E_NOT_FOUND || e == FWT_E_IO) {
        e = fwt_fail(FWT_E_UNSUPPORTED, "this server does not attest devices (no %s)", p);
    }
    if (e == FWT_OK) {
        e = srv_attest_config_load(s, buf, len, c);
        /* the server's own configuration is wrong: not the device's fault (500, named) */
        if (e != FWT_OK && e != FWT_E_NOMEM) {
            e = fwt_fail(FWT_E_INTERNAL, "%s: %s", p, fwt_detail());
        }
    }
    free(p);
    free(buf);
    return e;
}

/* ---- enrollment of the attestation key ---- */

/* A JSON object body, re-serialised compactly (the library reads the documents as text). */
static fwt_err body_doc(const uint8_t *body, size_t len, char **text)
{
    json_error_t je;
    json_t *o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return fwt_fail(FWT_E_MALFORMED, "the body must be a JSON object (%s)", je.text);
    }
    *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return *text ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
}

fwt_err srv_attest_enroll(fwt_srv *s, const struct srv_device *d, const uint8_t *body, size_t len, char **challenge)
{
    *challenge = NULL;
    struct attest_cfg c;
    char *req = NULL, *pending = NULL;
    fwt_err e = cfg_load(s, &c);
    if (e == FWT_OK) {
        e = body_doc(body, len, &req);
        if (e == FWT_OK) {
            e = fwt_attest_enroll_challenge(req, strlen(req), c.ek_ca, challenge, &pending);
        }
        cfg_free(&c);
    }
    free(req);
    if (e == FWT_OK && (e = db_begin(s->db)) == FWT_OK) {
        /* A new request replaces an earlier key, pending or active: the device proves again. */
        struct db_param pd[] = {DBT(d->id)};
        struct db_param pi[] = {DBT(d->id), DBT(pending), DBI(srv_now())};
        char msg[160];
        snprintf(msg, sizeof(msg), "attestation key: credential challenge issued");
        if ((e = db_exec(s->db, "DELETE FROM attest_keys WHERE device_id = ?", pd, 1, NULL, NULL)) == FWT_OK &&
            (e = db_exec(s->db, "INSERT INTO attest_keys (device_id, state, doc, created_at)"
                                " VALUES (?, 'pending', ?, ?)", pi, 3, NULL, NULL)) == FWT_OK) {
            e = srv_event(s, d->id, "attest-enroll", k_actor, msg);
        }
        if (e == FWT_OK) {
            e = db_commit(s->db);
        } else {
            db_rollback(s->db);
        }
    }
    if (pending) {
        fwt_zeroize(pending, strlen(pending)); /* holds the credential */
        free(pending);
    }
    if (e != FWT_OK) {
        free(*challenge);
        *challenge = NULL;
    }
    return e;
}

fwt_err srv_attest_activate(fwt_srv *s, const struct srv_device *d, const uint8_t *body, size_t len)
{
    char *act = NULL, *ak = NULL;
    struct db_rows r;
    memset(&r, 0, sizeof(r));
    struct db_param p[] = {DBT(d->id)};
    fwt_err e = body_doc(body, len, &act);
    if (e == FWT_OK) {
        e = db_exec(s->db, "SELECT doc FROM attest_keys WHERE device_id = ? AND state = 'pending'", p, 1, &r, NULL);
    }
    if (e == FWT_OK && r.nrows != 1) {
        e = fwt_fail(FWT_E_STATE, "device %s has no attestation key waiting for activation (POST /v1/attest/enroll "
                     "first)", d->id);
    }
    if (e == FWT_OK) {
        const char *pend = db_cell(&r, 0, 0);
        e = fwt_attest_enroll_finish(pend, strlen(pend), act, strlen(act), &ak);
    }
    if (e == FWT_OK && (e = db_begin(s->db)) == FWT_OK) {
        struct db_param pu[] = {DBT(ak), DBI(srv_now()), DBT(d->id)};
        uint64_t ch = 0;
        e = db_exec(s->db, "UPDATE attest_keys SET state = 'active', doc = ?, activated_at = ? WHERE device_id = ?"
                           " AND state = 'pending'", pu, 3, NULL, &ch);
        if (e == FWT_OK && ch != 1) {
            e = fwt_fail(FWT_E_STATE, "device %s: the attestation key was replaced meanwhile", d->id);
        }
        if (e == FWT_OK) {
            e = srv_event(s, d->id, "attest-enroll", k_actor, "attestation key activated (credential recovered by "
                          "the TPM holding the certified EK)");
        }
        if (e == FWT_OK) {
            e = db_commit(s->db);
        } else {
            db_rollback(s->db);
        }
    } else if (e == FWT_E_SIGNATURE) {
        if (srv_event(s, d->id, "attest-enroll-refused", k_actor, fwt_detail()) != FWT_OK) {
            fwt_detail_clear();
        }
        e = fwt_fail(FWT_E_SIGNATURE, "the activation does not hold the credential: another TPM or AK");
    }
    if (r.v) {
        db_rows_free(&r);
    }
    free(act);
    free(ak);
    return e;
}

/* ---- nonces ---- */

fwt_err srv_attest_nonce(fwt_srv *s, const struct srv_device *d, char hex[65])
{
    struct attest_cfg c;
    fwt_err e = cfg_load(s, &c);
    if (e != FWT_OK) {
        return e;
    }
    int64_t now = (int64_t)srv_now(), ttl = c.nonce_ttl;
    cfg_free(&c);
    if ((e = srv_random_hex(32, hex)) != FWT_OK) {
        return e;
    }
    /* used and expired nonces are kept a day (a replay is named as such), then dropped */
    struct db_param pd[] = {DBI(now - 86400 - ttl)};
    struct db_param pi[] = {DBT(hex), DBT(d->id), DBI(now)};
    if ((e = db_exec(s->db, "DELETE FROM attest_nonces WHERE issued_at < ?", pd, 1, NULL, NULL)) == FWT_OK) {
        e = db_exec(s->db, "INSERT INTO attest_nonces (nonce, device_id, issued_at) VALUES (?, ?, ?)", pi, 3, NULL,
                    NULL);
    }
    return e;
}

struct nonce_ctx {
    fwt_srv *s;
    const char *device_id;
    int64_t now, ttl;
};

/* Consume: one UPDATE that only a fresh nonce of this device passes; under concurrency
 * exactly one transaction changes the row (PostgreSQL re-checks the condition after the
 * other's commit; SQLite serialises writers). */
static fwt_err nonce_consume(void *ctx, const uint8_t *nonce, size_t len, enum fwt_nonce_state *state)
{
    struct nonce_ctx *n = ctx;
    char hex[129];
    if (len == 0 || len > 64) {
        *state = FWT_NONCE_UNKNOWN;
        return FWT_OK;
    }
    fwt_hex_encode(nonce, len, hex);
    struct db_param p[] = {DBI(n->now), DBT(hex), DBT(n->device_id), DBI(n->now - n->ttl)};
    uint64_t ch = 0;
    fwt_err e = db_exec(n->s->db, "UPDATE attest_nonces SET used_at = ? WHERE nonce = ? AND device_id = ? AND"
                                  " used_at IS NULL AND issued_at >= ?", p, 4, NULL, &ch);
    if (e != FWT_OK) {
        return e;
    }
    if (ch == 1) {
        *state = FWT_NONCE_FRESH;
        return FWT_OK;
    }
    int64_t used = 0;
    struct db_param pu[] = {DBT(hex), DBT(n->device_id)};
    e = db_query_int(n->s->db, "SELECT COUNT(*) FROM attest_nonces WHERE nonce = ? AND device_id = ? AND used_at IS"
                               " NOT NULL", pu, 2, &used);
    *state = used ? FWT_NONCE_USED : FWT_NONCE_UNKNOWN; /* expired or never issued to this device */
    return e;
}

/* ---- quotes ---- */

/* Does the device's last manifest say a confirmed or trial slot holds the assigned image
 * (its SHA-256: the agent does not name slots)? The assigned release is checked against the
 * quote once the device says it runs it (while an update is on its way the device still
 * runs the earlier release: no reason to fail it); a device that says so and booted
 * something else fails not_assigned_release. */
static fwt_err claims_to_run(fwt_srv *s, const char *device_id, const char *sha256, int *yes)
{
    *yes = 0;
    struct db_rows r;
    struct db_param p[] = {DBT(device_id)};
    fwt_err e = db_exec(s->db, "SELECT last_manifest FROM devices WHERE id = ?", p, 1, &r, NULL);
    if (e != FWT_OK) {
        return e;
    }
    const char *m = db_cell(&r, 0, 0);
    json_t *man = m ? json_loads(m, JSON_REJECT_DUPLICATES, NULL) : NULL;
    size_t i;
    json_t *sl;
    json_array_foreach(json_object_get(json_object_get(man, "signed"), "slots"), i, sl) {
        const char *st = json_string_value(json_object_get(sl, "state"));
        const char *h = json_string_value(json_object_get(json_object_get(sl, "hashes"), "sha256"));
        if (st && h && (!strcmp(st, "confirmed") || !strcmp(st, "trial")) && !strcmp(h, sha256)) {
            *yes = 1;
        }
    }
    json_decref(man);
    db_rows_free(&r);
    return FWT_OK;
}

static const char *verdict_name(enum fwt_attest_verdict v)
{
    return v == FWT_ATTEST_PASS ? "pass" : v == FWT_ATTEST_FAIL ? "fail" : "unknown";
}

fwt_err srv_attest_quote(fwt_srv *s, const struct srv_device *d, const uint8_t *body, size_t len, json_t **answer)
{
    *answer = NULL;
    struct attest_cfg c;
    memset(&c, 0, sizeof(c));
    json_error_t je;
    json_t *o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    const char *nhex = json_string_value(json_object_get(o, "nonce"));
    json_t *evj = json_object_get(o, "evidence");
    fwt_err e = FWT_OK;
    uint8_t nonce[32];
    if (!json_is_object(o) || json_object_size(o) != 2 || !nhex || !json_is_object(evj)) {
        e = fwt_fail(FWT_E_MALFORMED, "the body must be {\"nonce\": HEX, \"evidence\": {...}} (%s)",
                     o ? "other members" : je.text);
    } else if (strlen(nhex) != 64 || fwt_hex_decode(nhex, nonce, 32) != FWT_OK) {
        e = fwt_fail(FWT_E_MALFORMED, "\"nonce\" must be the 64 hex digits the server issued");
    }
    char *ev = NULL, *ak = NULL, *record = NULL;
    if (e == FWT_OK && !(ev = json_dumps(evj, JSON_COMPACT | JSON_SORT_KEYS))) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (e == FWT_OK) {
        e = cfg_load(s, &c);
    }
    /* the enrolled AK: an active one, else the pending one (the verifier names it never activated) */
    struct db_rows r;
    memset(&r, 0, sizeof(r));
    struct db_param p[] = {DBT(d->id)};
    if (e == FWT_OK && (e = db_exec(s->db, "SELECT state, doc FROM attest_keys WHERE device_id = ?", p, 1, &r, NULL)) ==
                           FWT_OK) {
        if (r.nrows != 1) {
            e = fwt_fail(FWT_E_STATE, "device %s has no attestation key (POST /v1/attest/enroll first)", d->id);
        } else if (!strcmp(db_cell(&r, 0, 0), "active")) {
            ak = strdup(db_cell(&r, 0, 1));
        } else {
            /* a pending document carries the AK but holds the credential: pass the public
             * areas alone (the verifier names the AK never activated) */
            fwt_attest_doc *pd = NULL, *ad = NULL;
            uint8_t *pub = NULL, *ekp = NULL;
            size_t pl = 0, el = 0;
            const char *pt = db_cell(&r, 0, 1);
            if ((e = fwt_attest_doc_parse(pt, strlen(pt), FWT_DOC_PENDING, &pd)) == FWT_OK &&
                (e = fwt_attest_doc_get_hex(pd, "ak_public", 4096, &pub, &pl)) == FWT_OK &&
                (e = fwt_attest_doc_get_hex(pd, "ek_public", 4096, &ekp, &el)) == FWT_OK &&
                (e = fwt_attest_doc_new(FWT_DOC_PENDING, &ad)) == FWT_OK &&
                (e = fwt_attest_doc_set_hex(ad, "ak_public", pub, pl)) == FWT_OK &&
                (e = fwt_attest_doc_set_hex(ad, "ek_public", ekp, el)) == FWT_OK) {
                e = fwt_attest_doc_dump(ad, &ak);
            }
            free(pub);
            free(ekp);
            fwt_attest_doc_free(pd);
            fwt_attest_doc_free(ad);
        }
        db_rows_free(&r);
        if (e == FWT_OK && !ak) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    char assigned[256] = "", asha[65] = "";
    int has = 0;
    if (e == FWT_OK) {
        e = director_assigned_target(s, d->id, assigned, sizeof(assigned), asha, &has);
    }
    if (e == FWT_OK && has) {
        e = claims_to_run(s, d->id, asha, &has);
    }
    struct {
        struct fwt_attest_result res;
    } *rs = NULL; /* large: on the heap */
    if (e == FWT_OK && !(rs = calloc(1, sizeof(*rs)))) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    int64_t now = (int64_t)srv_now();
    struct nonce_ctx nc = {s, d->id, now, c.nonce_ttl};
    struct fwt_attest_nonce_store st = {&nc, nonce_consume};
    int txn = 0;
    if (e == FWT_OK && (e = db_begin(s->db)) == FWT_OK) {
        txn = 1;
        struct fwt_attest_verify_docs in = {ak, strlen(ak), ev, strlen(ev), c.catalog, c.n_catalog, nonce, 32, &st,
                                            has ? assigned : NULL, d->hardware_id, now, s->log_key};
        e = fwt_attest_verify_documents(&in, &rs->res, &record);
    }
    const char *verdict = rs ? verdict_name(rs->res.verdict) : "unknown";
    const char *reason = rs ? fwt_attest_reason_name(rs->res.reason) : "verifier_error";
    char running[300] = "";
    if (rs && rs->res.running) {
        snprintf(running, sizeof(running), "%s %s", rs->res.running->name, rs->res.running->version);
    }
    char detail[700];
    if (e == FWT_OK) {
        snprintf(detail, sizeof(detail), "%s: %s%s%s", verdict, reason, rs->res.detail[0] ? ": " : "",
                 rs->res.detail);
        struct db_param pi[] = {DBT(d->id), DBI(now), DBT(verdict), DBT(reason), DBT(rs->res.detail), DBT(running),
                                DBT(record)};
        e = db_exec(s->db, "INSERT INTO attestations (device_id, time, verdict, reason, detail, running, record)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)", pi, 7, NULL, NULL);
        if (e == FWT_OK) {
            e = srv_event(s, d->id, rs->res.verdict == FWT_ATTEST_PASS ? "attestation" : "attestation-failed",
                          k_actor, detail);
        }
    }
    if (txn && e == FWT_OK) {
        e = db_commit(s->db);
    } else if (txn) {
        db_rollback(s->db);
    }
    /* a failure is tampering until shown otherwise: an alert (after the commit: its own transaction) */
    if (e == FWT_OK && rs->res.verdict != FWT_ATTEST_PASS) {
        char ad[800];
        snprintf(ad, sizeof(ad), "device %s failed attestation: %s", d->id, detail);
        if (fwt_srv_alerts_attestation(s, d->id, ad, (time_t)now) != FWT_OK &&
            srv_event(s, d->id, "alert-error", k_actor, fwt_detail()) != FWT_OK) {
            fwt_detail_clear();
        }
    }
    if (e == FWT_OK) {
        json_t *rec = json_loads(record, JSON_REJECT_DUPLICATES, NULL);
        *answer = json_pack("{s:s, s:s, s:s, s:o}", "verdict", verdict, "reason", reason, "detail", rs->res.detail,
                            "record", rec ? rec : json_null());
        if (!*answer) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    free(rs);
    free(record);
    free(ak);
    free(ev);
    json_decref(o);
    cfg_free(&c);
    return e;
}

/* ---- what others read ---- */

fwt_err srv_attest_latest(fwt_srv *s, const char *device_id, json_t **obj)
{
    *obj = NULL;
    struct db_rows r;
    struct db_param p[] = {DBT(device_id)};
    fwt_err e = db_exec(s->db, "SELECT id, time, verdict, reason, detail, running, record FROM attestations"
                               " WHERE device_id = ? ORDER BY id DESC LIMIT 1", p, 1, &r, NULL);
    if (e != FWT_OK || r.nrows == 0) {
        if (e == FWT_OK) {
            db_rows_free(&r);
        }
        return e;
    }
    int64_t id = 0, t = 0;
    if ((e = db_to_i64(db_cell(&r, 0, 0), &id)) == FWT_OK && (e = db_to_i64(db_cell(&r, 0, 1), &t)) == FWT_OK) {
        json_t *rec = json_loads(db_cell(&r, 0, 6), JSON_REJECT_DUPLICATES, NULL);
        *obj = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:o}", "id", (json_int_t)id, "time", (json_int_t)t,
                         "verdict", db_cell(&r, 0, 2), "reason", db_cell(&r, 0, 3), "detail", db_cell(&r, 0, 4),
                         "running", db_cell(&r, 0, 5), "record", rec ? rec : json_null());
        e = *obj ? FWT_OK : fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    db_rows_free(&r);
    return e;
}

fwt_err srv_attest_key_state(fwt_srv *s, const char *device_id, char state[16])
{
    struct db_rows r;
    struct db_param p[] = {DBT(device_id)};
    fwt_err e = db_exec(s->db, "SELECT state FROM attest_keys WHERE device_id = ?", p, 1, &r, NULL);
    if (e == FWT_OK) {
        snprintf(state, 16, "%s", r.nrows ? db_cell(&r, 0, 0) : "none");
        db_rows_free(&r);
    }
    return e;
}

fwt_err srv_attest_fresh_pass(fwt_srv *s, const char *device_id, int64_t now, int64_t max_age, int *ok)
{
    int64_t n = 0;
    struct db_param p[] = {DBT(device_id), DBI(now - max_age)};
    /* the newest record must be a pass, and recent enough */
    fwt_err e = db_query_int(s->db, "SELECT COUNT(*) FROM attestations a WHERE a.device_id = ? AND a.time >= ? AND"
                                    " a.verdict = 'pass' AND a.id = (SELECT MAX(b.id) FROM attestations b"
                                    " WHERE b.device_id = a.device_id)", p, 2, &n);
    *ok = e == FWT_OK && n > 0;
    return e;
}
