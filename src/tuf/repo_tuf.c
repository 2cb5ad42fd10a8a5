/*
 * fwtrust repo: TUF encodings the repository tool needs: canonical JSON (the
 * OLPC rules the TUF spec cites, as securesystemslib implements them), TUF key
 * objects and key ids.
 *
 * Interim: the TUF client module (fwt_tuf.h) is to provide the project's one
 * canonical JSON encoder and key helpers; when it lands these three functions
 * become thin wrappers around it (see docs/repository.md, "Interfaces").
 */
#include "repo.h"

#include <stdlib.h>
#include <string.h>

struct buf {
    char *p;
    size_t n, cap;
    int oom;
};

static void put(struct buf *b, const char *s, size_t len)
{
    if (b->oom) {
        return;
    }
    size_t need;
    if (fwt_add_size(b->n, len, &need) != 0 || fwt_add_size(need, 1, &need) != 0) {
        b->oom = 1;
        return;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) {
            if (cap > ((size_t)-1) / 2) {
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void put_string(struct buf *b, const char *s, size_t len)
{
    put(b, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            put(b, s + start, i - start);
            put(b, "\\", 1);
            start = i;
        }
    }
    put(b, s + start, len - start);
    put(b, "\"", 1);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static fwt_err canon(const json_t *v, struct buf *b, int depth)
{
    if (depth > 64) {
        return fwt_fail(FWT_E_META, "JSON nested deeper than 64 levels");
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v);
        const char **keys = malloc((n ? n : 1) * sizeof(*keys));
        if (!keys) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        size_t i = 0;
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)(uintptr_t)v, k, val) {
            keys[i++] = k;
        }
        qsort(keys, n, sizeof(*keys), key_cmp);
        put(b, "{", 1);
        fwt_err err = FWT_OK;
        for (i = 0; i < n && err == FWT_OK; i++) {
            if (i) {
                put(b, ",", 1);
            }
            put_string(b, keys[i], strlen(keys[i]));
            put(b, ":", 1);
            err = canon(json_object_get(v, keys[i]), b, depth + 1);
        }
        put(b, "}", 1);
        free(keys);
        return err;
    }
    case JSON_ARRAY: {
        put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) {
                put(b, ",", 1);
            }
            fwt_err err = canon(json_array_get(v, i), b, depth + 1);
            if (err != FWT_OK) {
                return err;
            }
        }
        put(b, "]", 1);
        return FWT_OK;
    }
    case JSON_STRING:
        put_string(b, json_string_value(v), json_string_length(v));
        return FWT_OK;
    case JSON_INTEGER: {
        char tmp[32];
        int n = snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(b, tmp, (size_t)n);
        return FWT_OK;
    }
    case JSON_TRUE:
        put(b, "true", 4);
        return FWT_OK;
    case JSON_FALSE:
        put(b, "false", 5);
        return FWT_OK;
    case JSON_NULL:
        put(b, "null", 4);
        return FWT_OK;
    case JSON_REAL:
    default:
        return fwt_fail(FWT_E_META, "metadata holds a floating-point number (not allowed in canonical JSON)");
    }
}

fwt_err repo_canonical(const json_t *v, char **out, size_t *len)
{
    if (!v) {
        return fwt_fail(FWT_E_META, "nothing to encode");
    }
    struct buf b = {NULL, 0, 0, 0};
    fwt_err err = canon(v, &b, 0);
    if (err == FWT_OK && b.oom) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (err == FWT_OK && !b.p) {
        err = fwt_fail(FWT_E_INTERNAL, "empty canonical JSON");
    }
    if (err != FWT_OK) {
        free(b.p);
        return err;
    }
    *out = b.p;
    *len = b.n;
    return FWT_OK;
}

static fwt_err keyid_of(const json_t *key, char keyid[REPO_KEYID_LEN + 1])
{
    char *c = NULL;
    size_t cl = 0;
    fwt_err err = repo_canonical(key, &c, &cl);
    uint8_t d[32];
    if (err == FWT_OK) {
        err = fwt_sha256(c, cl, d);
    }
    free(c);
    if (err == FWT_OK) {
        fwt_hex_encode(d, sizeof(d), keyid);
    }
    return err;
}

fwt_err repo_tuf_key(const fwt_pubkey *pub, json_t **key, char keyid[REPO_KEYID_LEN + 1])
{
    enum fwt_key_type t = fwt_pubkey_type(pub);
    const char *kt, *scheme;
    char *pubtext = NULL;
    fwt_err err = FWT_OK;
    switch (t) {
    case FWT_KEY_ED25519: {
        uint8_t raw[32];
        size_t l = sizeof(raw);
        kt = "ed25519";
        scheme = "ed25519";
        err = fwt_pubkey_raw(pub, raw, &l);
        if (err == FWT_OK && l != 32) {
            err = fwt_fail(FWT_E_KEY, "Ed25519 public key is %zu bytes", l);
        }
        if (err == FWT_OK) {
            pubtext = malloc(65);
            if (!pubtext) {
                return fwt_fail(FWT_E_NOMEM, "out of memory");
            }
            fwt_hex_encode(raw, 32, pubtext);
        }
        break;
    }
    case FWT_KEY_ECDSA_P256:
    case FWT_KEY_ECDSA_P384:
        kt = "ecdsa";
        scheme = t == FWT_KEY_ECDSA_P256 ? "ecdsa-sha2-nistp256" : "ecdsa-sha2-nistp384";
        err = fwt_pubkey_pem(pub, &pubtext);
        break;
    case FWT_KEY_RSA2048:
    case FWT_KEY_RSA3072:
        kt = "rsa";
        scheme = "rsassa-pss-sha256";
        err = fwt_pubkey_pem(pub, &pubtext);
        break;
    default:
        return fwt_fail(FWT_E_KEY, "key type not usable for TUF metadata");
    }
    if (err != FWT_OK) {
        free(pubtext);
        return err;
    }
    json_t *k = json_pack("{s:s, s:s, s:{s:s}}", "keytype", kt, "scheme", scheme, "keyval", "public", pubtext);
    free(pubtext);
    if (!k) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    err = keyid_of(k, keyid);
    if (err != FWT_OK) {
        json_decref(k);
        return err;
    }
    *key = k;
    return FWT_OK;
}

fwt_err repo_tuf_key_to_pub(const json_t *key, const char *keyid, fwt_pubkey **pub)
{
    *pub = NULL;
    const char *kt = json_string_value(json_object_get(key, "keytype"));
    const char *scheme = json_string_value(json_object_get(key, "scheme"));
    const char *pubtext = json_string_value(json_object_get(json_object_get(key, "keyval"), "public"));
    if (!json_is_object(key) || !kt || !scheme || !pubtext) {
        return fwt_fail(FWT_E_META, "key needs \"keytype\", \"scheme\" and \"keyval\": {\"public\"}");
    }
    char id[REPO_KEYID_LEN + 1];
    fwt_err err = keyid_of(key, id);
    if (err != FWT_OK) {
        return err;
    }
    if (!keyid || strcmp(id, keyid) != 0) {
        return fwt_fail(FWT_E_META, "key id %.16s... is not the SHA-256 of its key (%.16s...)", keyid ? keyid : "",
                        id);
    }
    enum fwt_key_type want;
    if (!strcmp(kt, "ed25519") && !strcmp(scheme, "ed25519")) {
        uint8_t raw[32];
        if (strlen(pubtext) != 64 || fwt_hex_decode(pubtext, raw, sizeof(raw)) != FWT_OK) {
            return fwt_fail(FWT_E_META, "ed25519 public key must be 64 hex digits");
        }
        return fwt_pubkey_from_raw(FWT_KEY_ED25519, raw, sizeof(raw), pub);
    } else if ((!strcmp(kt, "ecdsa") || !strcmp(kt, "ecdsa-sha2-nistp256")) && !strcmp(scheme, "ecdsa-sha2-nistp256")) {
        want = FWT_KEY_ECDSA_P256;
    } else if ((!strcmp(kt, "ecdsa") || !strcmp(kt, "ecdsa-sha2-nistp384")) && !strcmp(scheme, "ecdsa-sha2-nistp384")) {
        want = FWT_KEY_ECDSA_P384;
    } else if (!strcmp(kt, "rsa") && !strcmp(scheme, "rsassa-pss-sha256")) {
        want = FWT_KEY_RSA2048;
    } else {
        return fwt_fail(FWT_E_UNSUPPORTED, "key type '%.32s' with scheme '%.32s' is not supported", kt, scheme);
    }
    err = fwt_pubkey_from_pem(pubtext, strlen(pubtext), pub);
    if (err != FWT_OK) {
        return fwt_fail(FWT_E_META, "%s public key is not a PEM public key", kt);
    }
    enum fwt_key_type got = fwt_pubkey_type(*pub);
    int ok = want == FWT_KEY_RSA2048 ? (got == FWT_KEY_RSA2048 || got == FWT_KEY_RSA3072) : got == want;
    if (!ok) {
        fwt_pubkey_free(*pub);
        *pub = NULL;
        return fwt_fail(FWT_E_META, "the PEM key does not match scheme '%s'", scheme);
    }
    return FWT_OK;
}
