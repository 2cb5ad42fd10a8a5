/*
 * libFuzzer target: the fleet formats' reader (src/fleet/fleet.c), which the
 * server runs on every check-in and report body. Each input is read twice:
 * as a whole body (envelope, key id, signature: almost always refused before
 * the fields), and, when it is a JSON object, as the "signed" part of an
 * envelope signed here with the fuzzer's own device key, so that every field
 * check is reached. Every refusal has a detail; an accepted manifest or
 * report, written again by the writer and read back, gives the same struct
 * (the writer and the reader agree on every field).
 */
#include <fwtrust/fwt_fleet.h>
#include <fwtrust/fwt_tuf_json.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fwt_privkey *key;
static fwt_pubkey *pub;
static char keyid[65];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char dir[] = "/tmp/fwt-fuzz-fleet-XXXXXX";
    if (!mkdtemp(dir)) {
        abort();
    }
    char path[64];
    snprintf(path, sizeof(path), "%s/device.pem", dir);
    if (fwt_keygen_file(FWT_KEY_ECDSA_P256, path, NULL) != FWT_OK || fwt_privkey_load(path, NULL, &key) != FWT_OK ||
        fwt_privkey_public(key, &pub) != FWT_OK || fwt_fleet_keyid(pub, keyid) != FWT_OK) {
        abort();
    }
    unlink(path);
    rmdir(dir);
    return 0;
}

static void refused(fwt_err err)
{
    if (err == FWT_OK || fwt_detail()[0] == '\0') {
        abort();
    }
    if (err != FWT_E_MALFORMED && err != FWT_E_TOO_LARGE && err != FWT_E_SIGNATURE && err != FWT_E_UNKNOWN_KEY &&
        err != FWT_E_HW_ID && err != FWT_E_NOMEM) {
        abort();
    }
}

static void check(const uint8_t *body, size_t len)
{
    struct fwt_fleet_expect e = {.key = pub};
    struct fwt_fleet_manifest *m = calloc(2, sizeof(*m));
    struct fwt_fleet_report r, r2;
    if (!m) {
        return;
    }
    fwt_detail_clear();
    fwt_err err = fwt_fleet_manifest_verify(body, len, &e, &m[0]);
    if (err != FWT_OK) {
        refused(err);
    } else {
        char *again = NULL;
        size_t alen = 0;
        if (fwt_fleet_manifest_sign(&m[0], key, &again, &alen) != FWT_OK ||
            fwt_fleet_manifest_verify((const uint8_t *)again, alen, &e, &m[1]) != FWT_OK ||
            memcmp(&m[0], &m[1], sizeof(m[0])) != 0) {
            abort();
        }
        free(again);
    }
    free(m);
    fwt_detail_clear();
    err = fwt_fleet_report_verify(body, len, &e, &r);
    if (err != FWT_OK) {
        refused(err);
    } else {
        char *again = NULL;
        size_t alen = 0;
        memset(&r2, 0, sizeof(r2));
        if (fwt_fleet_report_sign(&r, key, &again, &alen) != FWT_OK ||
            fwt_fleet_report_verify((const uint8_t *)again, alen, &e, &r2) != FWT_OK ||
            memcmp(&r, &r2, sizeof(r)) != 0) {
            abort();
        }
        free(again);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    json_t *s = NULL;
    if (fwt_tuf_json_load(data, size, "fuzz", &s) != FWT_OK) {
        return 0;
    }
    char *canon = NULL;
    size_t clen = 0;
    uint8_t sig[128];
    size_t sl = sizeof(sig);
    char hex[257];
    if (json_is_object(s) && fwt_tuf_canonical(s, &canon, &clen) == FWT_OK &&
        fwt_sign_message(key, (const uint8_t *)canon, clen, sig, &sl) == FWT_OK) {
        fwt_hex_encode(sig, sl, hex);
        json_t *env = json_pack("{s:O,s:[{s:s,s:s}]}", "signed", s, "signatures", "keyid", keyid, "sig", hex);
        char *txt = env ? json_dumps(env, JSON_COMPACT) : NULL;
        if (txt) {
            check((const uint8_t *)txt, strlen(txt));
        }
        free(txt);
        json_decref(env);
    }
    free(canon);
    json_decref(s);
    return 0;
}
