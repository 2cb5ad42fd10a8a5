/*
 * DSSE (secure-systems-lab/dsse, protocol v1.0.0): pre-authentication
 * encoding, the JSON envelope, signing through fwt_crypto and (t, n)
 * verification. Base64 through OpenSSL's EVP_DecodeBlock/EVP_EncodeBlock.
 */
#include "prov_internal.h"

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fwt_err fwt_dsse_pae(const char *type, const uint8_t *body, size_t body_len, uint8_t **out,
                     size_t *out_len)
{
    if (type == NULL || out == NULL || out_len == NULL || (body == NULL && body_len > 0)) {
        return fwt_fail(FWT_E_ARG, "PAE: missing argument");
    }
    size_t tl = strlen(type);
    char head[64];
    int hl = snprintf(head, sizeof(head), "DSSEv1 %zu ", tl);
    char mid[32];
    int ml = snprintf(mid, sizeof(mid), " %zu ", body_len);
    if (hl < 0 || ml < 0 || (size_t)hl >= sizeof(head) || (size_t)ml >= sizeof(mid)) {
        return fwt_fail(FWT_E_INTERNAL, "PAE: length does not format");
    }
    size_t n = 0;
    if (fwt_add_size((size_t)hl, tl, &n) != 0 || fwt_add_size(n, (size_t)ml, &n) != 0 ||
        fwt_add_size(n, body_len, &n) != 0) {
        return fwt_fail(FWT_E_TOO_LARGE, "PAE: input too large");
    }
    uint8_t *p = malloc(n ? n : 1);
    if (p == NULL) {
        return FWT_E_NOMEM;
    }
    size_t o = 0;
    memcpy(p + o, head, (size_t)hl);
    o += (size_t)hl;
    memcpy(p + o, type, tl);
    o += tl;
    memcpy(p + o, mid, (size_t)ml);
    o += (size_t)ml;
    if (body_len) {
        memcpy(p + o, body, body_len);
    }
    *out = p;
    *out_len = n;
    return FWT_OK;
}

fwt_err fwt_base64_encode(const uint8_t *in, size_t len, char **out)
{
    if (out == NULL || (in == NULL && len > 0)) {
        return FWT_E_ARG;
    }
    if (len > (size_t)INT32_MAX / 4 * 3 - 3) {
        return fwt_fail(FWT_E_TOO_LARGE, "base64: input too large");
    }
    size_t n = (len + 2) / 3 * 4;
    char *s = malloc(n + 1);
    if (s == NULL) {
        return FWT_E_NOMEM;
    }
    int r = len ? EVP_EncodeBlock((unsigned char *)s, in, (int)len) : 0;
    if (r < 0 || (size_t)r != n) {
        free(s);
        return fwt_fail(FWT_E_CRYPTO, "base64: encoding failed");
    }
    s[n] = 0;
    *out = s;
    return FWT_OK;
}

fwt_err fwt_base64_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    if (in == NULL || out == NULL || out_len == NULL) {
        return FWT_E_ARG;
    }
    if (in_len > (size_t)INT32_MAX - 4) {
        return fwt_fail(FWT_E_TOO_LARGE, "base64: input too large");
    }
    /* The padding, if any, ends the string; the rest is one alphabet. */
    size_t data = in_len, pad = 0;
    while (data > 0 && in[data - 1] == '=' && pad < 2) {
        data--;
        pad++;
    }
    if (pad && (data + pad) % 4 != 0) {
        return fwt_fail(FWT_E_MALFORMED, "base64: padding does not complete a group of four");
    }
    if (data % 4 == 1) {
        return fwt_fail(FWT_E_MALFORMED, "base64: %zu characters cannot encode whole bytes", data);
    }
    int std = 0, url = 0;
    char *norm = malloc(data + 4);
    if (norm == NULL) {
        return FWT_E_NOMEM;
    }
    for (size_t i = 0; i < data; i++) {
        char c = in[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            norm[i] = c;
        } else if (c == '+' || c == '/') {
            std = 1;
            norm[i] = c;
        } else if (c == '-' || c == '_') {
            url = 1;
            norm[i] = c == '-' ? '+' : '/';
        } else {
            free(norm);
            return fwt_fail(FWT_E_MALFORMED, "base64: invalid character 0x%02x at offset %zu",
                            (unsigned)(unsigned char)c, i);
        }
    }
    if (std && url) {
        free(norm);
        return fwt_fail(FWT_E_MALFORMED, "base64: standard and URL-safe alphabets mixed");
    }
    size_t n = data;
    size_t missing = (4 - data % 4) % 4;
    for (size_t i = 0; i < missing; i++) {
        norm[n++] = '=';
    }
    size_t out_max = n / 4 * 3;
    uint8_t *buf = malloc(out_max + 1);
    if (buf == NULL) {
        free(norm);
        return FWT_E_NOMEM;
    }
    int r = n ? EVP_DecodeBlock(buf, (const unsigned char *)norm, (int)n) : 0;
    free(norm);
    if (r < 0 || (size_t)r != out_max) {
        free(buf);
        return fwt_fail(FWT_E_MALFORMED, "base64: does not decode");
    }
    size_t len = out_max - missing;
    /* Non-canonical trailing bits (e.g. "YR==" for "a") are refused: one value, one encoding. */
    if (missing) {
        char *check = NULL;
        fwt_err e = fwt_base64_encode(buf, len, &check);
        if (e != FWT_OK) {
            free(buf);
            return e;
        }
        int same = 1;
        for (size_t i = 0; i < data; i++) {
            char c = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
            if (check[i] != c) {
                same = 0;
            }
        }
        free(check);
        if (!same) {
            free(buf);
            return fwt_fail(FWT_E_MALFORMED, "base64: non-zero bits after the last byte");
        }
    }
    buf[len] = 0;
    *out = buf;
    *out_len = len;
    return FWT_OK;
}

void fwt_dsse_free(struct fwt_dsse_envelope *env)
{
    if (env == NULL) {
        return;
    }
    free(env->payload_type);
    free(env->payload);
    for (size_t i = 0; i < env->n_sigs; i++) {
        free(env->sigs[i].keyid);
        free(env->sigs[i].sig);
    }
    memset(env, 0, sizeof(*env));
}

fwt_err fwt_dsse_init(struct fwt_dsse_envelope *env, const char *payload_type,
                      const uint8_t *payload, size_t payload_len)
{
    if (env == NULL || payload_type == NULL || payload_type[0] == 0 ||
        (payload == NULL && payload_len > 0)) {
        return fwt_fail(FWT_E_ARG, "DSSE: payload type and payload required");
    }
    memset(env, 0, sizeof(*env));
    env->payload_type = strdup(payload_type);
    env->payload = malloc(payload_len ? payload_len : 1);
    if (env->payload_type == NULL || env->payload == NULL) {
        fwt_dsse_free(env);
        return FWT_E_NOMEM;
    }
    if (payload_len) {
        memcpy(env->payload, payload, payload_len);
    }
    env->payload_len = payload_len;
    return FWT_OK;
}

fwt_err prov_key_id(const fwt_pubkey *key, char out[65])
{
    uint8_t kh[32];
    fwt_err e = fwt_pubkey_keyhash(key, kh);
    if (e != FWT_OK) {
        return e;
    }
    fwt_hex_encode(kh, sizeof(kh), out);
    return FWT_OK;
}

fwt_err fwt_dsse_sign(struct fwt_dsse_envelope *env, fwt_privkey *key)
{
    if (env == NULL || key == NULL || env->payload_type == NULL) {
        return fwt_fail(FWT_E_ARG, "DSSE sign: no envelope or key");
    }
    if (env->n_sigs >= FWT_DSSE_SIGS_MAX) {
        return fwt_fail(FWT_E_ARG, "DSSE sign: the envelope already has %u signatures",
                        FWT_DSSE_SIGS_MAX);
    }
    fwt_pubkey *pub = NULL;
    char kid[65];
    fwt_err e = fwt_privkey_public(key, &pub);
    if (e == FWT_OK) {
        e = prov_key_id(pub, kid);
    }
    /* A key signs once: a second signature by it would count for nothing. */
    for (size_t i = 0; e == FWT_OK && i < env->n_sigs; i++) {
        if (prov_sig_check(pub, env, &env->sigs[i]) == FWT_OK) {
            e = fwt_fail(FWT_E_ARG, "DSSE sign: key %.16s already signed this envelope", kid);
        }
    }
    fwt_pubkey_free(pub);
    if (e != FWT_OK) {
        return e;
    }
    uint8_t *pae = NULL;
    size_t pae_len = 0;
    if ((e = fwt_dsse_pae(env->payload_type, env->payload, env->payload_len, &pae, &pae_len)) !=
        FWT_OK) {
        return e;
    }
    size_t sl = fwt_privkey_sig_max(key);
    uint8_t *sig = malloc(sl ? sl : 1);
    char *k = strdup(kid);
    if (sig == NULL || k == NULL) {
        e = FWT_E_NOMEM;
    } else {
        e = fwt_sign_message(key, pae, pae_len, sig, &sl);
    }
    free(pae);
    if (e != FWT_OK) {
        free(sig);
        free(k);
        return e;
    }
    env->sigs[env->n_sigs].keyid = k;
    env->sigs[env->n_sigs].sig = sig;
    env->sigs[env->n_sigs].sig_len = sl;
    env->n_sigs++;
    return FWT_OK;
}

fwt_err fwt_dsse_serialize(const struct fwt_dsse_envelope *env, char **out, size_t *out_len)
{
    if (env == NULL || out == NULL || env->payload_type == NULL) {
        return FWT_E_ARG;
    }
    char *p64 = NULL;
    fwt_err e = fwt_base64_encode(env->payload, env->payload_len, &p64);
    if (e != FWT_OK) {
        return e;
    }
    json_t *o = json_object(), *sigs = json_array();
    int bad = o == NULL || sigs == NULL;
    bad |= json_object_set_new(o, "payload", json_string(p64)) != 0;
    bad |= json_object_set_new(o, "payloadType", json_string(env->payload_type)) != 0;
    free(p64);
    for (size_t i = 0; !bad && i < env->n_sigs; i++) {
        char *s64 = NULL;
        if (fwt_base64_encode(env->sigs[i].sig, env->sigs[i].sig_len, &s64) != FWT_OK) {
            bad = 1;
            break;
        }
        json_t *s = json_object();
        bad |= s == NULL;
        if (!bad && env->sigs[i].keyid) {
            bad |= json_object_set_new(s, "keyid", json_string(env->sigs[i].keyid)) != 0;
        }
        bad |= !s || json_object_set_new(s, "sig", json_string(s64)) != 0;
        free(s64);
        bad |= json_array_append_new(sigs, s) != 0;
    }
    if (bad || json_object_set(o, "signatures", sigs) != 0) {
        json_decref(sigs);
        json_decref(o);
        return fwt_fail(FWT_E_NOMEM, "DSSE: cannot build the envelope JSON");
    }
    json_decref(sigs);
    char *s = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2));
    json_decref(o);
    if (s == NULL) {
        return FWT_E_NOMEM;
    }
    size_t n = strlen(s);
    char *t = realloc(s, n + 2); /* a text file: ends with a newline */
    if (t == NULL) {
        free(s);
        return FWT_E_NOMEM;
    }
    t[n] = '\n';
    t[n + 1] = 0;
    *out = t;
    if (out_len) {
        *out_len = n + 1;
    }
    return FWT_OK;
}

/* A string member, base64-decoded. */
static fwt_err b64_member(json_t *o, const char *name, const char *what, uint8_t **out,
                          size_t *len)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v)) {
        return fwt_fail(FWT_E_MALFORMED, "DSSE envelope: %s \"%s\" missing or not a string", what,
                        name);
    }
    fwt_err e = fwt_base64_decode(json_string_value(v), json_string_length(v), out, len);
    if (e != FWT_OK) {
        return fwt_fail(e, "DSSE envelope: %s \"%s\": %s", what, name, fwt_detail());
    }
    return FWT_OK;
}

fwt_err fwt_dsse_parse(const uint8_t *buf, size_t len, struct fwt_dsse_envelope *env)
{
    if (buf == NULL || env == NULL) {
        return FWT_E_ARG;
    }
    memset(env, 0, sizeof(*env));
    if (len > FWT_DSSE_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE, "DSSE envelope: %zu bytes, more than %u", len,
                        FWT_DSSE_MAX);
    }
    json_error_t je;
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL) {
        return fwt_fail(FWT_E_MALFORMED, "DSSE envelope: not JSON (line %d: %s)", je.line,
                        je.text);
    }
    fwt_err e = FWT_OK;
    const char *k;
    json_t *v;
    if (!json_is_object(o)) {
        e = fwt_fail(FWT_E_MALFORMED, "DSSE envelope: not a JSON object");
        goto out;
    }
    json_object_foreach(o, k, v)
    {
        if (strcmp(k, "payload") && strcmp(k, "payloadType") && strcmp(k, "signatures")) {
            e = fwt_fail(FWT_E_MALFORMED, "DSSE envelope: unknown member \"%.40s\"", k);
            goto out;
        }
    }
    json_t *pt = json_object_get(o, "payloadType");
    if (!json_is_string(pt) || json_string_length(pt) == 0 ||
        strlen(json_string_value(pt)) != json_string_length(pt)) {
        e = fwt_fail(FWT_E_MALFORMED, "DSSE envelope: payloadType missing, empty or not a string");
        goto out;
    }
    if ((env->payload_type = strdup(json_string_value(pt))) == NULL) {
        e = FWT_E_NOMEM;
        goto out;
    }
    if ((e = b64_member(o, "payload", "member", &env->payload, &env->payload_len)) != FWT_OK) {
        goto out;
    }
    json_t *sigs = json_object_get(o, "signatures");
    if (!json_is_array(sigs) || json_array_size(sigs) == 0) {
        e = fwt_fail(FWT_E_MALFORMED, "DSSE envelope: \"signatures\" missing, empty or not a list");
        goto out;
    }
    if (json_array_size(sigs) > FWT_DSSE_SIGS_MAX) {
        e = fwt_fail(FWT_E_MALFORMED, "DSSE envelope: %zu signatures, at most %u accepted",
                     json_array_size(sigs), FWT_DSSE_SIGS_MAX);
        goto out;
    }
    size_t i;
    json_t *s;
    json_array_foreach(sigs, i, s)
    {
        if (!json_is_object(s)) {
            e = fwt_fail(FWT_E_MALFORMED, "DSSE envelope: signature %zu is not an object", i);
            goto out;
        }
        json_object_foreach(s, k, v)
        {
            if (strcmp(k, "sig") && strcmp(k, "keyid")) {
                e = fwt_fail(FWT_E_MALFORMED, "DSSE envelope: signature %zu: unknown member \"%.40s\"",
                             i, k);
                goto out;
            }
        }
        json_t *kid = json_object_get(s, "keyid");
        if (kid && !json_is_string(kid)) {
            e = fwt_fail(FWT_E_MALFORMED, "DSSE envelope: signature %zu: keyid is not a string", i);
            goto out;
        }
        struct fwt_dsse_sig *d = &env->sigs[env->n_sigs];
        if (kid && (d->keyid = strdup(json_string_value(kid))) == NULL) {
            e = FWT_E_NOMEM;
            goto out;
        }
        env->n_sigs++; /* owned from here on, freed by fwt_dsse_free */
        if ((e = b64_member(s, "sig", "signature", &d->sig, &d->sig_len)) != FWT_OK) {
            goto out;
        }
        if (d->sig_len == 0) {
            e = fwt_fail(FWT_E_MALFORMED, "DSSE envelope: signature %zu is empty", i);
            goto out;
        }
    }
out:
    json_decref(o);
    if (e != FWT_OK) {
        fwt_dsse_free(env);
    }
    return e;
}

/* Raw r||s (P1363) to DER, for ECDSA keys: NULL when sig is not such. */
static uint8_t *p1363_to_der(enum fwt_key_type type, const uint8_t *sig, size_t len, size_t *der_len)
{
    size_t half = type == FWT_KEY_ECDSA_P256 ? 32 : type == FWT_KEY_ECDSA_P384 ? 48 : 0;
    if (half == 0 || len != 2 * half) {
        return NULL;
    }
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL), *s = BN_bin2bn(sig + half, (int)half, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return NULL;
    }
    uint8_t *der = NULL;
    int n = i2d_ECDSA_SIG(es, NULL);
    if (n > 0 && (der = malloc((size_t)n)) != NULL) {
        uint8_t *p = der;
        if (i2d_ECDSA_SIG(es, &p) != n) {
            free(der);
            der = NULL;
        }
        *der_len = (size_t)n;
    }
    ECDSA_SIG_free(es);
    return der;
}

fwt_err prov_verify_sig(const fwt_pubkey *key, const uint8_t *pae, size_t pae_len,
                        const uint8_t *sig, size_t sig_len)
{
    if (fwt_verify_message(key, pae, pae_len, sig, sig_len) == FWT_OK) {
        return FWT_OK;
    }
    size_t dl = 0;
    uint8_t *der = p1363_to_der(fwt_pubkey_type(key), sig, sig_len, &dl);
    fwt_err e = FWT_E_SIGNATURE;
    if (der != NULL) {
        e = fwt_verify_message(key, pae, pae_len, der, dl) == FWT_OK ? FWT_OK : FWT_E_SIGNATURE;
        free(der);
    }
    return e;
}

fwt_err prov_sig_check(const fwt_pubkey *key, const struct fwt_dsse_envelope *env,
                               const struct fwt_dsse_sig *sig)
{
    uint8_t *pae = NULL;
    size_t pl = 0;
    fwt_err e = fwt_dsse_pae(env->payload_type, env->payload, env->payload_len, &pae, &pl);
    if (e != FWT_OK) {
        return e;
    }
    e = prov_verify_sig(key, pae, pl, sig->sig, sig->sig_len);
    free(pae);
    return e;
}

fwt_err fwt_dsse_verify(const struct fwt_dsse_envelope *env, const fwt_pubkey *const *keys,
                        size_t n_keys, size_t threshold, const char *expected_type,
                        uint8_t *accepted)
{
    if (env == NULL || env->payload_type == NULL || (keys == NULL && n_keys > 0)) {
        return fwt_fail(FWT_E_ARG, "DSSE verify: no envelope");
    }
    if (threshold == 0) {
        return fwt_fail(FWT_E_ARG, "DSSE verify: threshold 0 would accept anything");
    }
    if (n_keys > FWT_DSSE_KEYS_MAX) {
        return fwt_fail(FWT_E_ARG, "DSSE verify: at most %u trusted keys", FWT_DSSE_KEYS_MAX);
    }
    uint8_t *pae = NULL;
    size_t pl = 0;
    fwt_err e = fwt_dsse_pae(env->payload_type, env->payload, env->payload_len, &pae, &pl);
    if (e != FWT_OK) {
        return e;
    }
    static _Thread_local char ids[FWT_DSSE_KEYS_MAX][65], acc_ids[FWT_DSSE_KEYS_MAX][65];
    uint8_t acc[FWT_DSSE_KEYS_MAX];
    memset(acc, 0, sizeof(acc));
    for (size_t j = 0; j < n_keys; j++) {
        if ((e = prov_key_id(keys[j], ids[j])) != FWT_OK) {
            free(pae);
            return e;
        }
    }
    /* ACCEPTED_KEYS is a set of distinct key ids: a key given twice counts once. */
    size_t n_acc = 0;
    for (size_t i = 0; i < env->n_sigs; i++) {
        for (size_t j = 0; j < n_keys; j++) {
            if (prov_verify_sig(keys[j], pae, pl, env->sigs[i].sig, env->sigs[i].sig_len) != FWT_OK) {
                continue;
            }
            acc[j] = 1;
            int seen = 0;
            for (size_t a = 0; a < n_acc; a++) {
                seen |= !strcmp(acc_ids[a], ids[j]);
            }
            if (!seen) {
                memcpy(acc_ids[n_acc++], ids[j], 65);
            }
        }
    }
    free(pae);
    if (accepted) {
        memcpy(accepted, acc, n_keys);
    }
    if (n_acc < threshold) {
        return fwt_fail(FWT_E_THRESHOLD,
                        "DSSE envelope: signatures by %zu distinct trusted key(s), %zu required "
                        "(%zu signature(s) present)",
                        n_acc, threshold, env->n_sigs);
    }
    if (expected_type && strcmp(env->payload_type, expected_type) != 0) {
        return fwt_fail(FWT_E_META, "DSSE envelope: payload type \"%.80s\", expected \"%s\"",
                        env->payload_type, expected_type);
    }
    return FWT_OK;
}
