/*
 * Request body parsers of the daemon (the signed manifest and report are
 * fwt_fleet's): strict JSON (jansson, duplicate keys refused, one value, no
 * NUL), exact field sets, bounded strings. Fuzzed by fuzz/fuzz_server_body.c.
 */
#include "srv.h"

#include <fwtrust/fwt_fleet.h>

#include <stdlib.h>
#include <string.h>

static fwt_err load_object(const uint8_t *body, size_t len, json_t **out)
{
    *out = NULL;
    if (len > FWT_SRV_BODY_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE, "body of %zu bytes: at most %u", len, FWT_SRV_BODY_MAX);
    }
    if (len == 0 || !body) {
        return fwt_fail(FWT_E_MALFORMED, "empty body: a JSON object is expected");
    }
    if (memchr(body, 0, len)) {
        return fwt_fail(FWT_E_MALFORMED, "body holds a NUL byte");
    }
    json_error_t jerr;
    json_t *o = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        return fwt_fail(FWT_E_MALFORMED, "body is not JSON: %s (offset %d)", jerr.text, jerr.position);
    }
    if (!json_is_object(o)) {
        json_decref(o);
        return fwt_fail(FWT_E_MALFORMED, "body is not a JSON object");
    }
    *out = o;
    return FWT_OK;
}

static fwt_err only_keys(json_t *o, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++) {
            ok |= !strcmp(k, allowed[i]);
        }
        if (!ok) {
            return fwt_fail(FWT_E_MALFORMED, "unknown field \"%s\"", k);
        }
    }
    return FWT_OK;
}

static fwt_err get_str(json_t *o, const char *key, size_t max, const char **out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) {
        return fwt_fail(FWT_E_MALFORMED, "\"%s\" must be a string", key);
    }
    size_t n = json_string_length(v);
    if (n == 0 || n > max || strlen(json_string_value(v)) != n) {
        return fwt_fail(FWT_E_MALFORMED, "\"%s\" must be 1 to %zu bytes without NUL", key, max);
    }
    *out = json_string_value(v);
    return FWT_OK;
}

/* A device identity field: printable ASCII without '"' and '\'. */
static int ident_ok(const char *s)
{
    for (; *s; s++) {
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\') {
            return 0;
        }
    }
    return 1;
}

fwt_err fwt_srv_parse_enroll(const uint8_t *body, size_t len, struct fwt_srv_enroll_req *req)
{
    memset(req, 0, sizeof(*req));
    static const char *const tkeys[] = {"token", "csr", "hardware_id", "serial", NULL};
    static const char *const fkeys[] = {"factory_cert", "nonce", "signature", "csr", "hardware_id", "serial", NULL};
    json_t *o = NULL;
    fwt_err e = load_object(body, len, &o);
    /* a token or a factory certificate: the fields of exactly one */
    int factory = e == FWT_OK && json_object_get(o, "factory_cert") != NULL;
    const char *tok = NULL, *csr = NULL, *hw = NULL, *ser = NULL, *fc = NULL, *nonce = NULL, *sig = NULL;
    if (e == FWT_OK) {
        e = only_keys(o, factory ? fkeys : tkeys);
    }
    if (e == FWT_OK && !factory && (e = get_str(o, "token", 64, &tok)) == FWT_OK &&
        (strlen(tok) != 64 || strspn(tok, "0123456789abcdef") != 64)) {
        e = fwt_fail(FWT_E_MALFORMED, "\"token\" must be 64 lower-case hex digits");
    }
    if (e == FWT_OK && factory && (e = get_str(o, "factory_cert", FWT_SRV_BODY_MAX, &fc)) == FWT_OK &&
        (e = get_str(o, "nonce", FWT_FLEET_FACTORY_NONCE_HEX, &nonce)) == FWT_OK &&
        (e = get_str(o, "signature", 2 * FWT_FLEET_FACTORY_SIG_MAX, &sig)) == FWT_OK) {
        if (strlen(nonce) != FWT_FLEET_FACTORY_NONCE_HEX ||
            strspn(nonce, "0123456789abcdef") != FWT_FLEET_FACTORY_NONCE_HEX) {
            e = fwt_fail(FWT_E_MALFORMED, "\"nonce\" must be %u lower-case hex digits", FWT_FLEET_FACTORY_NONCE_HEX);
        } else if (strlen(sig) % 2 != 0 || strspn(sig, "0123456789abcdef") != strlen(sig)) {
            e = fwt_fail(FWT_E_MALFORMED, "\"signature\" must be lower-case hex");
        } else if (strncmp(fc, "-----BEGIN CERTIFICATE-----", 27) != 0) {
            e = fwt_fail(FWT_E_MALFORMED, "\"factory_cert\" must be PEM certificates");
        }
    }
    if (e == FWT_OK && (e = get_str(o, "csr", FWT_SRV_BODY_MAX, &csr)) == FWT_OK &&
        (e = get_str(o, "hardware_id", FWT_FLEET_ID_MAX, &hw)) == FWT_OK) {
        e = get_str(o, "serial", FWT_FLEET_ID_MAX, &ser);
    }
    if (e == FWT_OK && (!ident_ok(hw) || !ident_ok(ser))) {
        e = fwt_fail(FWT_E_MALFORMED, "\"hardware_id\" and \"serial\" must be printable ASCII without '\"' or '\\'");
    }
    if (e == FWT_OK && strncmp(csr, "-----BEGIN CERTIFICATE REQUEST-----", 35) != 0) {
        e = fwt_fail(FWT_E_MALFORMED, "\"csr\" must be a PEM certificate request");
    }
    if (e == FWT_OK) {
        if (tok) {
            memcpy(req->token, tok, 65);
        }
        snprintf(req->hardware_id, sizeof(req->hardware_id), "%s", hw);
        snprintf(req->serial, sizeof(req->serial), "%s", ser);
        if (!(req->csr = strdup(csr)) || (fc && !(req->factory_cert = strdup(fc)))) {
            e = fwt_fail(FWT_E_NOMEM, "out of memory");
        }
    }
    if (e == FWT_OK && factory) {
        memcpy(req->nonce, nonce, FWT_FLEET_FACTORY_NONCE_HEX + 1);
        req->signature_len = strlen(sig) / 2;
        if (req->signature_len == 0 || fwt_hex_decode(sig, req->signature, req->signature_len) != FWT_OK) {
            e = fwt_fail(FWT_E_MALFORMED, "\"signature\" must be 1 to %u bytes of hex", FWT_FLEET_FACTORY_SIG_MAX);
        }
    }
    json_decref(o);
    if (e != FWT_OK) {
        fwt_srv_enroll_req_free(req);
    }
    return e;
}

void fwt_srv_enroll_req_free(struct fwt_srv_enroll_req *req)
{
    free(req->csr);
    free(req->factory_cert);
    fwt_zeroize(req->token, sizeof(req->token));
    memset(req, 0, sizeof(*req));
}

fwt_err fwt_srv_parse_admin_body(const uint8_t *body, size_t len, const char *const *allowed, json_t **out)
{
    *out = NULL;
    json_t *o = NULL;
    fwt_err e = load_object(body, len, &o);
    if (e == FWT_OK) {
        e = only_keys(o, allowed);
    }
    const char *k;
    json_t *v;
    if (e == FWT_OK) {
        json_object_foreach(o, k, v)
        {
            if (json_is_array(v)) {
                size_t i;
                json_t *x;
                if (json_array_size(v) > 256) {
                    e = fwt_fail(FWT_E_MALFORMED, "\"%s\": more than 256 items", k);
                }
                json_array_foreach(v, i, x)
                {
                    if (!json_is_string(x) || strlen(json_string_value(x)) != json_string_length(x)) {
                        e = fwt_fail(FWT_E_MALFORMED, "\"%s\" must be an array of strings", k);
                    }
                }
            } else if (json_is_string(v)) {
                if (strlen(json_string_value(v)) != json_string_length(v)) {
                    e = fwt_fail(FWT_E_MALFORMED, "\"%s\" holds a NUL byte", k);
                }
            } else if (json_is_integer(v)) {
                if (json_integer_value(v) < 0) {
                    e = fwt_fail(FWT_E_MALFORMED, "\"%s\" must not be negative", k);
                }
            } else if (!json_is_boolean(v)) {
                e = fwt_fail(FWT_E_MALFORMED, "\"%s\" must be a string, integer, boolean or array of strings", k);
            }
            if (e != FWT_OK) {
                break;
            }
        }
    }
    if (e != FWT_OK) {
        json_decref(o);
        return e;
    }
    *out = o;
    return FWT_OK;
}
