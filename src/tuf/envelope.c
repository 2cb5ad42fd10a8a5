/*
 * Signing and checking one-signature TUF-style envelopes for documents other
 * than TUF metadata (attestation records, fleet reports): the same canonical
 * JSON and key ids as the metadata (tuf_json.c), so one encoder serves all.
 */
#include "tuf_json.h"

#include <stdlib.h>
#include <string.h>

fwt_err fwt_tuf_envelope_sign(const char *signed_json, size_t len, fwt_privkey *key, char **out)
{
    *out = NULL;
    json_t *doc = NULL, *kobj = NULL, *env = NULL;
    char keyid[FWT_TUF_KEYID_LEN + 1];
    char *canon = NULL;
    size_t clen = 0;
    fwt_pubkey *pub = NULL;
    uint8_t sig[1024];
    size_t sl = sizeof(sig);
    fwt_err err = fwt_tuf_json_load((const uint8_t *)signed_json, len, "signed document", &doc);
    if (err == FWT_OK && !json_is_object(doc)) {
        err = fwt_fail(FWT_E_ARG, "signed document is not a JSON object");
    }
    if (err == FWT_OK) {
        err = fwt_tuf_canonical(doc, &canon, &clen);
    }
    if (err == FWT_OK) {
        err = fwt_privkey_public(key, &pub);
    }
    if (err == FWT_OK) {
        err = fwt_tuf_key_object(pub, &kobj, keyid);
    }
    if (err == FWT_OK) {
        err = fwt_sign_message(key, (const uint8_t *)canon, clen, sig, &sl);
    }
    if (err == FWT_OK) {
        char *hex = malloc(2 * sl + 1);
        if (!hex) {
            err = fwt_fail(FWT_E_NOMEM, "out of memory");
        } else {
            fwt_hex_encode(sig, sl, hex);
            env = json_pack("{s:O, s:[{s:s, s:s}]}", "signed", doc, "signatures", "keyid", keyid,
                            "sig", hex);
            free(hex);
            if (!env || (*out = json_dumps(env, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
                err = fwt_fail(FWT_E_NOMEM, "out of memory");
            }
        }
    }
    json_decref(env);
    json_decref(kobj);
    json_decref(doc);
    fwt_pubkey_free(pub);
    free(canon);
    return err;
}

fwt_err fwt_tuf_envelope_verify(const char *env_json, size_t len, const fwt_pubkey *key,
                                char **signed_out)
{
    *signed_out = NULL;
    json_t *env = NULL, *kobj = NULL;
    char keyid[FWT_TUF_KEYID_LEN + 1];
    char *canon = NULL;
    size_t clen = 0;
    fwt_err err = fwt_tuf_json_load((const uint8_t *)env_json, len, "envelope", &env);
    json_t *doc = json_object_get(env, "signed"), *sigs = json_object_get(env, "signatures");
    json_t *s0 = json_array_get(sigs, 0);
    const char *kid = json_string_value(json_object_get(s0, "keyid"));
    const char *hex = json_string_value(json_object_get(s0, "sig"));
    if (err == FWT_OK && (!json_is_object(env) || json_object_size(env) != 2 ||
                          !json_is_object(doc) || !json_is_array(sigs) ||
                          json_array_size(sigs) != 1 || !kid || !hex)) {
        err = fwt_fail(FWT_E_META, "not an envelope with one signature");
    }
    if (err == FWT_OK) {
        err = fwt_tuf_key_object(key, &kobj, keyid);
    }
    if (err == FWT_OK && strcmp(kid, keyid) != 0) {
        err = fwt_fail(FWT_E_UNKNOWN_KEY, "envelope signed by key %s, not %s", kid, keyid);
    }
    size_t hl = hex ? strlen(hex) : 0;
    uint8_t sig[1024];
    if (err == FWT_OK && (hl % 2 || hl / 2 > sizeof(sig) ||
                          fwt_hex_decode(hex, sig, hl / 2) != FWT_OK)) {
        err = fwt_fail(FWT_E_META, "envelope signature is not hex");
    }
    if (err == FWT_OK) {
        err = fwt_tuf_canonical(doc, &canon, &clen);
    }
    if (err == FWT_OK) {
        err = fwt_verify_message(key, (const uint8_t *)canon, clen, sig, hl / 2);
    }
    if (err == FWT_OK && (*signed_out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    json_decref(kobj);
    json_decref(env);
    free(canon);
    return err;
}
