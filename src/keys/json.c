/* Strict JSON field helpers shared by the signing log's parsers (keys_priv.h). */
#include "keys_priv.h"

#include <string.h>

fwt_err fwt_keys_json_object(const char *text, size_t len, const char *what, json_t **out)
{
    *out = NULL;
    if (!text) {
        return fwt_fail(FWT_E_ARG, "%s: no text", what);
    }
    if (len > FWT_SIGNLOG_JSON_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE, "%s: %zu bytes, more than the %u allowed", what, len,
                        FWT_SIGNLOG_JSON_MAX);
    }
    if (memchr(text, '\0', len)) {
        return fwt_fail(FWT_E_MALFORMED, "%s: NUL byte in JSON text", what);
    }
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        return fwt_fail(FWT_E_MALFORMED, "%s: invalid JSON at line %d: %s", what, jerr.line,
                        jerr.text);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return fwt_fail(FWT_E_MALFORMED, "%s: not a JSON object", what);
    }
    *out = v;
    return FWT_OK;
}

fwt_err fwt_keys_json_keys(json_t *obj, const char *what, const char *const *keys)
{
    size_t want = 0;
    for (; keys[want]; want++) {
        if (!json_object_get(obj, keys[want])) {
            return fwt_fail(FWT_E_MALFORMED, "%s: field \"%s\" is missing", what, keys[want]);
        }
    }
    if (json_object_size(obj) != want) {
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v) {
            int known = 0;
            for (size_t i = 0; i < want; i++) {
                known |= !strcmp(k, keys[i]);
            }
            if (!known) {
                return fwt_fail(FWT_E_MALFORMED, "%s: unknown field \"%.40s\"", what, k);
            }
        }
        return fwt_fail(FWT_E_MALFORMED, "%s: unexpected fields", what);
    }
    return FWT_OK;
}

fwt_err fwt_keys_json_u64(json_t *obj, const char *key, const char *what, uint64_t max,
                          uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" must be a non-negative integer", what, key);
    }
    uint64_t u = (uint64_t)json_integer_value(v);
    if (u > max) {
        return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" %llu is above the maximum %llu", what, key,
                        (unsigned long long)u, (unsigned long long)max);
    }
    *out = u;
    return FWT_OK;
}

fwt_err fwt_keys_json_hex(json_t *obj, const char *key, const char *what, uint8_t *out, size_t len,
                          size_t len_max, size_t *out_len)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) {
        return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" must be a hex string", what, key);
    }
    const char *s = json_string_value(v);
    size_t sl = json_string_length(v);
    if (strlen(s) != sl || sl % 2 != 0) {
        return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" is not an even number of hex digits", what,
                        key);
    }
    size_t n = sl / 2;
    if (len_max > 0 ? (n == 0 || n > len_max) : n != len) {
        return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" has %zu bytes, expected %s%zu", what, key, n,
                        len_max > 0 ? "1 to " : "", len_max > 0 ? len_max : len);
    }
    for (size_t i = 0; i < sl; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" must be lower-case hex", what, key);
        }
    }
    if (fwt_hex_decode(s, out, n) != FWT_OK) {
        return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" is not hex", what, key);
    }
    if (out_len) {
        *out_len = n;
    }
    return FWT_OK;
}

fwt_err fwt_keys_json_path(json_t *obj, const char *key, const char *what, uint8_t (*path)[32],
                           size_t max, size_t *n)
{
    json_t *a = json_object_get(obj, key);
    if (!json_is_array(a)) {
        return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" must be an array of hashes", what, key);
    }
    size_t len = json_array_size(a);
    if (len > max) {
        return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\" has %zu hashes, at most %zu allowed", what,
                        key, len, max);
    }
    for (size_t i = 0; i < len; i++) {
        json_t *wrap = json_pack("{s:O}", "h", json_array_get(a, i));
        if (!wrap) {
            return fwt_fail(FWT_E_NOMEM, "out of memory");
        }
        fwt_err e = fwt_keys_json_hex(wrap, "h", what, path[i], 32, 0, NULL);
        json_decref(wrap);
        if (e != FWT_OK) {
            return fwt_fail(FWT_E_MALFORMED, "%s: \"%s\"[%zu] is not a 32-byte hex hash", what,
                            key, i);
        }
    }
    *n = len;
    return FWT_OK;
}

json_t *fwt_keys_json_hexstr(const uint8_t *b, size_t len)
{
    if (len > 4096) {
        return NULL;
    }
    char buf[2 * 4096 + 1];
    fwt_hex_encode(b, len, buf);
    return json_stringn(buf, 2 * len);
}
