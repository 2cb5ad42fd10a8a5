/*
 * in-toto Statement v1 (in-toto/attestation spec/v1/statement.md) with a SLSA
 * Provenance v1 predicate (slsa.dev/provenance/v1): building and parsing.
 */
#include "prov_internal.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void fwt_rfc3339(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t < 0 || gmtime_r(&tt, &tm) == NULL || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        strcpy(buf, "1970-01-01T00:00:00Z");
    }
}

fwt_err fwt_prov_file_digest(const char *path, enum fwt_hash_alg alg, uint8_t *out, size_t *len)
{
    const EVP_MD *md = fwt_hash_md(alg);
    if (path == NULL || out == NULL || len == NULL || md == NULL) {
        return fwt_fail(FWT_E_ARG, "digest: no file or no such hash");
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "%s: %s", path, strerror(errno));
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c != NULL && EVP_DigestInit_ex(c, md, NULL) == 1;
    uint8_t buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        ok = EVP_DigestUpdate(c, buf, n) == 1;
    }
    int rerr = ferror(f);
    fclose(f);
    unsigned ol = 0;
    ok = ok && !rerr && EVP_DigestFinal_ex(c, out, &ol) == 1;
    EVP_MD_CTX_free(c);
    if (!ok) {
        return fwt_fail(rerr ? FWT_E_IO : FWT_E_CRYPTO, "%s: cannot hash", path);
    }
    *len = ol;
    return FWT_OK;
}

void fwt_provenance_free(struct fwt_provenance *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->n_subjects; i++) {
        free(p->subjects[i].name);
    }
    for (size_t i = 0; i < p->n_deps; i++) {
        free(p->deps[i].uri);
        free(p->deps[i].digest_alg);
        free(p->deps[i].digest_hex);
    }
    free(p->predicate_type);
    free(p->build_type);
    free(p->builder_id);
    free(p->source_uri);
    free(p->source_revision);
    free(p->invocation_id);
    free(p->started_on);
    free(p->finished_on);
    memset(p, 0, sizeof(*p));
}

/* json_object_set_new that records a failure in *bad. */
static void set(json_t *o, const char *k, json_t *v, int *bad)
{
    if (o == NULL || v == NULL || json_object_set_new(o, k, v) != 0) {
        *bad = 1;
    }
}

static json_t *digest_obj(const struct fwt_prov_digest *d, size_t n, int *bad)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        char hex[2 * FWT_DIGEST_MAX + 1];
        if (d[i].len > FWT_DIGEST_MAX) {
            *bad = 1;
            continue;
        }
        fwt_hex_encode(d[i].value, d[i].len, hex);
        set(o, fwt_hash_name(d[i].alg), json_string(hex), bad);
    }
    return o;
}

fwt_err fwt_provenance_statement(const struct fwt_provenance *p, char **out, size_t *out_len)
{
    if (p == NULL || out == NULL) {
        return FWT_E_ARG;
    }
    if (p->n_subjects == 0 || p->n_subjects > FWT_PROV_SUBJECTS_MAX || p->builder_id == NULL ||
        p->source_uri == NULL || p->n_deps > FWT_PROV_DEPS_MAX) {
        return fwt_fail(FWT_E_ARG, "statement: needs 1 to %u subjects, a builder id and a source URI",
                        FWT_PROV_SUBJECTS_MAX);
    }
    int bad = 0;
    json_t *st = json_object();
    set(st, "_type", json_string(FWT_INTOTO_STATEMENT_V1), &bad);
    json_t *subs = json_array();
    for (size_t i = 0; i < p->n_subjects; i++) {
        const struct fwt_prov_subject *s = &p->subjects[i];
        if (s->n_digests == 0 || s->n_digests > 3 || s->name == NULL) {
            bad = 1;
            break;
        }
        json_t *so = json_object();
        set(so, "name", json_string(s->name), &bad);
        set(so, "digest", digest_obj(s->digests, s->n_digests, &bad), &bad);
        if (subs == NULL || so == NULL || json_array_append_new(subs, so) != 0) {
            bad = 1;
        }
    }
    set(st, "subject", subs, &bad);
    set(st, "predicateType",
        json_string(p->predicate_type ? p->predicate_type : FWT_SLSA_PROVENANCE_V1), &bad);
    json_t *bd = json_object();
    set(bd, "buildType", json_string(p->build_type ? p->build_type : FWT_PROV_BUILD_TYPE), &bad);
    json_t *src = json_object();
    set(src, "uri", json_string(p->source_uri), &bad);
    if (p->source_revision) {
        set(src, "revision", json_string(p->source_revision), &bad);
    }
    json_t *ext = json_object();
    set(ext, "source", src, &bad);
    set(bd, "externalParameters", ext, &bad);
    json_t *deps = json_array();
    for (size_t i = 0; i < p->n_deps; i++) {
        const struct fwt_prov_dep *d = &p->deps[i];
        json_t *dobj = json_object();
        set(dobj, "uri", json_string(d->uri ? d->uri : ""), &bad);
        if (d->digest_alg && d->digest_hex) {
            json_t *dg = json_object();
            set(dg, d->digest_alg, json_string(d->digest_hex), &bad);
            set(dobj, "digest", dg, &bad);
        }
        if (deps == NULL || dobj == NULL || json_array_append_new(deps, dobj) != 0) {
            bad = 1;
        }
    }
    set(bd, "resolvedDependencies", deps, &bad);
    json_t *meta = json_object();
    if (p->invocation_id) {
        set(meta, "invocationId", json_string(p->invocation_id), &bad);
    }
    if (p->started_on) {
        set(meta, "startedOn", json_string(p->started_on), &bad);
    }
    if (p->finished_on) {
        set(meta, "finishedOn", json_string(p->finished_on), &bad);
    }
    json_t *builder = json_object();
    set(builder, "id", json_string(p->builder_id), &bad);
    json_t *run = json_object();
    set(run, "builder", builder, &bad);
    set(run, "metadata", meta, &bad);
    json_t *pred = json_object();
    set(pred, "buildDefinition", bd, &bad);
    set(pred, "runDetails", run, &bad);
    set(st, "predicate", pred, &bad);
    char *s = bad ? NULL : json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(st);
    if (s == NULL) {
        return fwt_fail(FWT_E_ARG, "statement: a field is not valid UTF-8 or memory ran out");
    }
    *out = s;
    if (out_len) {
        *out_len = strlen(s);
    }
    return FWT_OK;
}

/* A required or optional string member, copied. */
static fwt_err str_member(json_t *o, const char *name, int required, const char *where, char **out)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL && !required) {
        return FWT_OK;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return fwt_fail(FWT_E_MALFORMED, "statement: %s\"%s\" %s", where, name,
                        v == NULL ? "missing" : "is not a non-empty string");
    }
    if ((*out = strdup(json_string_value(v))) == NULL) {
        return FWT_E_NOMEM;
    }
    return FWT_OK;
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static fwt_err parse_subject(json_t *so, size_t idx, struct fwt_prov_subject *s)
{
    if (!json_is_object(so)) {
        return fwt_fail(FWT_E_MALFORMED, "statement: subject %zu is not an object", idx);
    }
    fwt_err e = str_member(so, "name", 1, "subject ", &s->name);
    if (e != FWT_OK) {
        return e;
    }
    json_t *dg = json_object_get(so, "digest");
    if (!json_is_object(dg) || json_object_size(dg) == 0) {
        return fwt_fail(FWT_E_MALFORMED, "statement: subject %zu has no digest", idx);
    }
    const char *alg;
    json_t *v;
    json_object_foreach(dg, alg, v)
    {
        const struct fwt_hash_desc *h = fwt_hash_by_name(alg);
        if (h == NULL) {
            return fwt_fail(FWT_E_MALFORMED,
                            "statement: subject %zu: digest algorithm \"%.32s\" is not supported "
                            "(sha256, sha384, sha512)", idx, alg);
        }
        const char *hex = json_string_value(v);
        if (!json_is_string(v) || json_string_length(v) != 2u * h->size ||
            !is_lower_hex(hex, json_string_length(v))) {
            return fwt_fail(FWT_E_MALFORMED,
                            "statement: subject %zu: %s digest must be %u lower-case hex digits",
                            idx, h->name, 2u * h->size);
        }
        if (s->n_digests >= 3) {
            return fwt_fail(FWT_E_MALFORMED, "statement: subject %zu: too many digests", idx);
        }
        struct fwt_prov_digest *d = &s->digests[s->n_digests++];
        d->alg = h->alg;
        d->len = h->size;
        if (fwt_hex_decode(hex, d->value, d->len) != FWT_OK) {
            return fwt_fail(FWT_E_MALFORMED, "statement: subject %zu: bad hex", idx);
        }
    }
    return FWT_OK;
}

static fwt_err parse_slsa(json_t *pred, struct fwt_provenance *p)
{
    if (!json_is_object(pred)) {
        return fwt_fail(FWT_E_MALFORMED, "statement: predicate is not an object");
    }
    json_t *bd = json_object_get(pred, "buildDefinition");
    json_t *run = json_object_get(pred, "runDetails");
    if (!json_is_object(bd) || !json_is_object(run)) {
        return fwt_fail(FWT_E_MALFORMED,
                        "SLSA predicate: buildDefinition and runDetails must be objects");
    }
    fwt_err e = str_member(bd, "buildType", 1, "buildDefinition.", &p->build_type);
    if (e != FWT_OK) {
        return e;
    }
    json_t *ext = json_object_get(bd, "externalParameters");
    if (!json_is_object(ext)) {
        return fwt_fail(FWT_E_MALFORMED, "SLSA predicate: externalParameters must be an object");
    }
    json_t *src = json_object_get(ext, "source");
    if (src != NULL) {
        if (!json_is_object(src)) {
            return fwt_fail(FWT_E_MALFORMED, "SLSA predicate: externalParameters.source must be an object");
        }
        if ((e = str_member(src, "uri", 1, "externalParameters.source.", &p->source_uri)) != FWT_OK ||
            (e = str_member(src, "revision", 0, "externalParameters.source.", &p->source_revision)) !=
                FWT_OK) {
            return e;
        }
    }
    json_t *deps = json_object_get(bd, "resolvedDependencies");
    if (deps != NULL) {
        if (!json_is_array(deps) || json_array_size(deps) > FWT_PROV_DEPS_MAX) {
            return fwt_fail(FWT_E_MALFORMED,
                            "SLSA predicate: resolvedDependencies must be a list of at most %u",
                            FWT_PROV_DEPS_MAX);
        }
        size_t i;
        json_t *d;
        json_array_foreach(deps, i, d)
        {
            if (!json_is_object(d)) {
                return fwt_fail(FWT_E_MALFORMED, "SLSA predicate: dependency %zu is not an object", i);
            }
            struct fwt_prov_dep *pd = &p->deps[p->n_deps++];
            if ((e = str_member(d, "uri", 0, "dependency ", &pd->uri)) != FWT_OK) {
                return e;
            }
            json_t *dg = json_object_get(d, "digest");
            if (dg != NULL) {
                const char *alg;
                json_t *v;
                if (!json_is_object(dg)) {
                    return fwt_fail(FWT_E_MALFORMED, "SLSA predicate: dependency %zu: digest is not an object", i);
                }
                json_object_foreach(dg, alg, v)
                {
                    if (!json_is_string(v)) {
                        return fwt_fail(FWT_E_MALFORMED, "SLSA predicate: dependency %zu: digest value is not a string", i);
                    }
                    if (pd->digest_alg == NULL) {
                        pd->digest_alg = strdup(alg);
                        pd->digest_hex = strdup(json_string_value(v));
                        if (pd->digest_alg == NULL || pd->digest_hex == NULL) {
                            return FWT_E_NOMEM;
                        }
                    }
                }
            }
        }
    }
    json_t *builder = json_object_get(run, "builder");
    if (!json_is_object(builder)) {
        return fwt_fail(FWT_E_MALFORMED, "SLSA predicate: runDetails.builder must be an object");
    }
    if ((e = str_member(builder, "id", 1, "runDetails.builder.", &p->builder_id)) != FWT_OK) {
        return e;
    }
    json_t *meta = json_object_get(run, "metadata");
    if (meta != NULL) {
        if (!json_is_object(meta)) {
            return fwt_fail(FWT_E_MALFORMED, "SLSA predicate: runDetails.metadata must be an object");
        }
        if ((e = str_member(meta, "invocationId", 0, "metadata.", &p->invocation_id)) != FWT_OK ||
            (e = str_member(meta, "startedOn", 0, "metadata.", &p->started_on)) != FWT_OK ||
            (e = str_member(meta, "finishedOn", 0, "metadata.", &p->finished_on)) != FWT_OK) {
            return e;
        }
    }
    return FWT_OK;
}

fwt_err fwt_provenance_parse(const uint8_t *buf, size_t len, struct fwt_provenance *p)
{
    if (buf == NULL || p == NULL) {
        return FWT_E_ARG;
    }
    memset(p, 0, sizeof(*p));
    json_error_t je;
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        return fwt_fail(FWT_E_MALFORMED, "statement: not JSON (line %d: %s)", je.line, je.text);
    }
    fwt_err e = FWT_OK;
    json_t *t = json_object_get(o, "_type");
    if (!json_is_object(o) || !json_is_string(t) ||
        strcmp(json_string_value(t), FWT_INTOTO_STATEMENT_V1) != 0) {
        e = fwt_fail(FWT_E_MALFORMED, "statement: _type is not \"%s\"", FWT_INTOTO_STATEMENT_V1);
        goto out;
    }
    json_t *subs = json_object_get(o, "subject");
    if (!json_is_array(subs) || json_array_size(subs) == 0 ||
        json_array_size(subs) > FWT_PROV_SUBJECTS_MAX) {
        e = fwt_fail(FWT_E_MALFORMED, "statement: subject must be a list of 1 to %u",
                     FWT_PROV_SUBJECTS_MAX);
        goto out;
    }
    size_t i;
    json_t *so;
    json_array_foreach(subs, i, so)
    {
        p->n_subjects++;
        if ((e = parse_subject(so, i, &p->subjects[i])) != FWT_OK) {
            goto out;
        }
    }
    if ((e = str_member(o, "predicateType", 1, "", &p->predicate_type)) != FWT_OK) {
        goto out;
    }
    if (!strcmp(p->predicate_type, FWT_SLSA_PROVENANCE_V1)) {
        e = parse_slsa(json_object_get(o, "predicate"), p);
    }
out:
    json_decref(o);
    if (e != FWT_OK) {
        fwt_provenance_free(p);
    }
    return e;
}

fwt_err fwt_provenance_bind(const uint8_t *env_buf, size_t env_len, const char *artifact,
                            uint8_t digest[32])
{
    if (env_buf == NULL || artifact == NULL || digest == NULL) {
        return FWT_E_ARG;
    }
    struct fwt_dsse_envelope env;
    fwt_err e = fwt_dsse_parse(env_buf, env_len, &env);
    if (e != FWT_OK) {
        return e;
    }
    struct fwt_provenance p;
    memset(&p, 0, sizeof(p));
    if (strcmp(env.payload_type, FWT_INTOTO_PAYLOAD_TYPE) != 0) {
        e = fwt_fail(FWT_E_META, "payload type \"%.80s\" is not in-toto", env.payload_type);
    } else {
        e = fwt_provenance_parse(env.payload, env.payload_len, &p);
    }
    fwt_dsse_free(&env);
    uint8_t art[FWT_DIGEST_MAX];
    size_t al = 0;
    if (e == FWT_OK) {
        e = fwt_prov_file_digest(artifact, FWT_HASH_SHA256, art, &al);
    }
    int found = 0;
    for (size_t i = 0; e == FWT_OK && i < p.n_subjects; i++) {
        for (size_t j = 0; j < p.subjects[i].n_digests; j++) {
            const struct fwt_prov_digest *d = &p.subjects[i].digests[j];
            found |= d->alg == FWT_HASH_SHA256 && d->len == al && CRYPTO_memcmp(d->value, art, al) == 0;
        }
    }
    fwt_provenance_free(&p);
    if (e == FWT_OK && !found) {
        e = fwt_fail(FWT_E_DIGEST, "no subject of the provenance is %s (its SHA-256 differs)", artifact);
    }
    if (e == FWT_OK) {
        e = fwt_sha256(env_buf, env_len, digest);
    }
    return e;
}
