/*
 * The attestation record: EAT-shaped claims (RFC 9711 JSON claim names)
 * in a one-signature envelope signed by the server (fwt_tuf_envelope_sign).
 */
#include "attest_internal.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

/* The checks of fwt_attest_verify, in order (measres result ids). */
static const char *const k_steps[] = {"ak_activated",  "signature",   "structure",
                                      "nonce",         "pcr_selection", "pcr_digest",
                                      "eventlog_replay", "catalog",   "assigned_release"};

/* RFC 9711 measres result codes. */
enum { R_SUCCESS = 1, R_FAIL = 2, R_NOT_RUN = 3 };

static json_t *b64url(const uint8_t *b, size_t n)
{
    if (n > 3 * (FWT_EVENTLOG_MAX / 3)) {
        return NULL;
    }
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    if (!s) {
        return NULL;
    }
    int l = EVP_EncodeBlock((unsigned char *)s, b, (int)n);
    while (l > 0 && s[l - 1] == '=') {
        l--;
    }
    s[l] = '\0';
    for (int i = 0; i < l; i++) {
        s[i] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
    }
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *hexj(const uint8_t *b, size_t n)
{
    char h[2 * 64 + 1];
    if (n > 64) {
        return NULL;
    }
    fwt_hex_encode(b, n, h);
    return json_string(h);
}

fwt_err fwt_attest_record(const struct fwt_attest_input *in, const struct fwt_attest_result *res,
                          const uint8_t *ek_pub, size_t ek_len, const char *hw_id, int64_t now,
                          fwt_privkey *key, char **out)
{
    *out = NULL;
    uint8_t ueid[33];
    ueid[0] = 0x01; /* RAND-type UEID: derived once from the EK, stable for the TPM */
    fwt_err err = fwt_sha256(ek_pub, ek_len, ueid + 1);
    if (err != FWT_OK) {
        return err;
    }
    const char *verdict = res->verdict == FWT_ATTEST_PASS   ? "pass"
                          : res->verdict == FWT_ATTEST_FAIL ? "fail"
                                                            : "unknown";
    json_t *c = json_object();
    json_t *fw = json_object();
    json_t *results = json_array();
    if (!c || !fw || !results) {
        json_decref(c);
        json_decref(fw);
        json_decref(results);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < (int)(sizeof(k_steps) / sizeof(k_steps[0])); i++) {
        int r = i < res->steps_passed                                        ? R_SUCCESS
                : (i == res->steps_passed && res->verdict == FWT_ATTEST_FAIL) ? R_FAIL
                                                                              : R_NOT_RUN;
        json_array_append_new(results, json_pack("[s, i]", k_steps[i], r));
    }
    const uint8_t *nonce = res->have_attest ? res->attest.extra : in->nonce;
    size_t nonce_len = res->have_attest ? res->attest.extra_len : in->nonce_len;
    if (nonce && nonce_len) {
        json_object_set_new(c, "eat_nonce", hexj(nonce, nonce_len));
    }
    json_object_set_new(c, "ueid", b64url(ueid, sizeof(ueid)));
    if (hw_id) {
        json_object_set_new(c, "hwmodel", b64url((const uint8_t *)hw_id, strlen(hw_id)));
    }
    json_object_set_new(c, "iat", json_integer(now));
    if (res->verdict == FWT_ATTEST_PASS && res->running) {
        json_object_set_new(c, "swname", json_string(res->running->name));
        if (res->running->version) {
            /* version scheme 16384: semver (CoSWID) */
            json_object_set_new(c, "swversion",
                                json_pack("[s, i]", res->running->version, 16384));
        }
    }
    if (res->have_attest) {
        json_object_set_new(c, "bootcount", json_integer(res->attest.reset_count));
        json_object_set_new(fw, "clock", json_integer((json_int_t)res->attest.clock));
        json_object_set_new(fw, "reset_count", json_integer(res->attest.reset_count));
        json_object_set_new(fw, "restart_count", json_integer(res->attest.restart_count));
        json_object_set_new(fw, "safe", json_boolean(res->attest.safe));
        char fv[17];
        snprintf(fv, sizeof(fv), "%016llx", (unsigned long long)res->attest.firmware_version);
        json_object_set_new(fw, "tpm_firmware", json_string(fv));
    }
    if (in->eventlog && in->eventlog_len) {
        json_object_set_new(c, "measurements",
                            json_pack("[[s, o]]", "application/vnd.fwtrust.tcg-eventlog",
                                      b64url(in->eventlog, in->eventlog_len)));
    }
    json_object_set_new(c, "measres", json_pack("[[s, o]]", "fwtrust-tpm-quote", results));
    json_object_set_new(fw, "verdict", json_string(verdict));
    json_object_set_new(fw, "reason", json_string(fwt_attest_reason_name(res->reason)));
    json_object_set_new(fw, "detail", json_string(res->detail));
    json_object_set_new(fw, "assurance", json_string("tpm"));
    if (res->have_config) {
        json_object_set_new(fw, "config_digest", hexj(res->config_digest, 32));
    }
    json_object_set_new(c, "fwtrust", fw);
    char *text = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    if (!text) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    err = fwt_tuf_envelope_sign(text, strlen(text), key, out);
    free(text);
    return err;
}
