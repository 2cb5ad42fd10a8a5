/*
 * Fleet formats (src/fleet/fleet.c, fwt_fleet.h): the signed device manifest
 * and device report. Round trips; every refusal of the reader with its error
 * and the field it names: bad signature, another device's key or identity,
 * wrong type, each missing field, wrong types and ranges, unknown fields,
 * duplicate keys, oversize bodies; the writer refusing what the reader would.
 */
#include <fwtrust/fwt_fleet.h>
#include <fwtrust/fwt_tuf_json.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char tmpdir[64];
static fwt_privkey *key_a, *key_b, *key_ed;
static fwt_pubkey *pub_a, *pub_b;

static fwt_privkey *gen(enum fwt_key_type t, const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s.pem", tmpdir, name);
    assert_int_equal(fwt_keygen_file(t, path, NULL), FWT_OK);
    fwt_privkey *k = NULL;
    assert_int_equal(fwt_privkey_load(path, NULL, &k), FWT_OK);
    return k;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fwt-fleet-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    key_a = gen(FWT_KEY_ECDSA_P256, "a");
    key_b = gen(FWT_KEY_ECDSA_P256, "b");
    key_ed = gen(FWT_KEY_ED25519, "ed");
    assert_int_equal(fwt_privkey_public(key_a, &pub_a), FWT_OK);
    assert_int_equal(fwt_privkey_public(key_b, &pub_b), FWT_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fwt_privkey_free(key_a);
    fwt_privkey_free(key_b);
    fwt_privkey_free(key_ed);
    fwt_pubkey_free(pub_a);
    fwt_pubkey_free(pub_b);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void sample_manifest(struct fwt_fleet_manifest *m)
{
    memset(m, 0, sizeof(*m));
    strcpy(m->device_id, "dev-0001");
    strcpy(m->hardware_id, "board-r2");
    strcpy(m->serial, "SN 12345");
    m->counter = 17;
    assert_int_equal(fwt_fleet_nonce(m->nonce), FWT_OK);
    m->time = 1796205600; /* 2026-12-02T10:00:00Z */
    m->n_slots = 2;
    m->slots[0].slot = 'a';
    m->slots[0].state = FWT_FLEET_SLOT_CONFIRMED;
    m->slots[0].has_image = 1;
    strcpy(m->slots[0].name, "fw-1.2.0.bin");
    m->slots[0].length = 123456;
    memset(m->slots[0].sha256, 0xab, 32);
    strcpy(m->slots[0].version, "1.2.0+7");
    m->slots[0].has_security_counter = 1;
    m->slots[0].security_counter = 3;
    m->slots[0].has_key_version = 1;
    m->slots[0].key_version = 1;
    m->slots[1].slot = 'b';
    m->slots[1].state = FWT_FLEET_SLOT_EMPTY;
    m->has_last_install = 1;
    strcpy(m->last_install.target, "fw-1.2.0.bin");
    m->last_install.result = FWT_FLEET_RESULT_ROLLED_BACK;
    m->last_install.error = 22;
    strcpy(m->last_install.reason, "the trial ran out of tries");
    m->has_measurement = 1;
    memset(m->measurement.pcr, 0x5a, 32);
    m->measurement.pcr_len = 32;
    m->measurement.events = 4;
    m->has_audit_head = 1;
    m->audit_head.size = 42;
    memset(m->audit_head.root, 0x11, 32);
    m->director_targets_version = 5;
}

static void sample_report(struct fwt_fleet_report *r)
{
    memset(r, 0, sizeof(*r));
    strcpy(r->device_id, "dev-0001");
    r->counter = 18;
    r->time = 1796205601;
    strcpy(r->target, "fw-1.3.0.bin");
    r->state = FWT_FLEET_REFUSED;
    r->error = 44;
    strcpy(r->reason, "the director's target differs from the image repository's (sha256)");
}

__attribute__((noinline)) static char *sign_manifest(const struct fwt_fleet_manifest *m, fwt_privkey *k, size_t *len)
{
    char *body = NULL;
    assert_int_equal(fwt_fleet_manifest_sign(m, k, &body, len), FWT_OK);
    return body;
}

/* Sign an arbitrary "signed" object with k (the envelope as the library writes it). */
static char *resign(const json_t *s, fwt_privkey *k, size_t *len)
{
    char *canon = NULL;
    size_t cl = 0;
    assert_int_equal(fwt_tuf_canonical(s, &canon, &cl), FWT_OK);
    uint8_t sig[128];
    size_t sl = sizeof(sig);
    assert_int_equal(fwt_sign_message(k, (const uint8_t *)canon, cl, sig, &sl), FWT_OK);
    free(canon);
    char hex[257];
    fwt_hex_encode(sig, sl, hex);
    fwt_pubkey *pub = NULL;
    assert_int_equal(fwt_privkey_public(k, &pub), FWT_OK);
    char keyid[65];
    assert_int_equal(fwt_fleet_keyid(pub, keyid), FWT_OK);
    fwt_pubkey_free(pub);
    json_t *env = json_pack("{s:O,s:[{s:s,s:s}]}", "signed", s, "signatures", "keyid", keyid, "sig", hex);
    assert_non_null(env);
    char *txt = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    *len = strlen(txt);
    return txt;
}

/* The "signed" object of a body (new reference). */
static json_t *signed_of(const char *body)
{
    json_error_t je;
    json_t *env = json_loads(body, 0, &je);
    assert_non_null(env);
    json_t *s = json_deep_copy(json_object_get(env, "signed"));
    json_decref(env);
    return s;
}

static fwt_err verify_m(const char *body, size_t len, const fwt_pubkey *pub, struct fwt_fleet_manifest *out)
{
    struct fwt_fleet_expect e = {pub, "dev-0001", "board-r2", "SN 12345", NULL};
    fwt_detail_clear();
    return fwt_fleet_manifest_verify((const uint8_t *)body, len, &e, out);
}

/* The manifest with s's change applied, re-signed by key a: its verify result, detail must name want. */
static void expect_refused(json_t *s, fwt_err err, const char *want)
{
    size_t len = 0;
    char *body = resign(s, key_a, &len);
    struct fwt_fleet_manifest out;
    fwt_err got = verify_m(body, len, pub_a, &out);
    if (got != err || (want && !strstr(fwt_detail(), want))) {
        fail_msg("expected %s naming \"%s\", got %s: %s", fwt_err_name(err), want ? want : "",
                 fwt_err_name(got), fwt_detail());
    }
    free(body);
    json_decref(s);
}

static json_t *good_signed(void)
{
    struct fwt_fleet_manifest m;
    sample_manifest(&m);
    size_t len;
    char *body = sign_manifest(&m, key_a, &len);
    json_t *s = signed_of(body);
    free(body);
    return s;
}

/* ---- Tests ---- */

static void test_manifest_round_trip(void **state)
{
    (void)state;
    struct fwt_fleet_manifest m, out;
    sample_manifest(&m);
    size_t len = 0;
    char *body = sign_manifest(&m, key_a, &len);
    assert_true(len > 0 && len <= FWT_FLEET_MAX_BODY);
    assert_int_equal(verify_m(body, len, pub_a, &out), FWT_OK);
    assert_string_equal(out.device_id, "dev-0001");
    assert_string_equal(out.hardware_id, "board-r2");
    assert_string_equal(out.serial, "SN 12345");
    assert_int_equal(out.counter, 17);
    assert_string_equal(out.nonce, m.nonce);
    assert_int_equal(out.time, m.time);
    assert_int_equal(out.n_slots, 2);
    assert_int_equal(out.slots[0].slot, 'a');
    assert_int_equal(out.slots[0].state, FWT_FLEET_SLOT_CONFIRMED);
    assert_true(out.slots[0].has_image);
    assert_string_equal(out.slots[0].name, "fw-1.2.0.bin");
    assert_int_equal(out.slots[0].length, 123456);
    assert_memory_equal(out.slots[0].sha256, m.slots[0].sha256, 32);
    assert_string_equal(out.slots[0].version, "1.2.0+7");
    assert_true(out.slots[0].has_security_counter);
    assert_int_equal(out.slots[0].security_counter, 3);
    assert_int_equal(out.slots[0].key_version, 1);
    assert_int_equal(out.slots[1].state, FWT_FLEET_SLOT_EMPTY);
    assert_false(out.slots[1].has_image);
    assert_true(out.has_last_install);
    assert_int_equal(out.last_install.result, FWT_FLEET_RESULT_ROLLED_BACK);
    assert_int_equal(out.last_install.error, 22);
    assert_string_equal(out.last_install.reason, "the trial ran out of tries");
    assert_true(out.has_measurement);
    assert_int_equal(out.measurement.pcr_len, 32);
    assert_memory_equal(out.measurement.pcr, m.measurement.pcr, 32);
    assert_int_equal(out.measurement.events, 4);
    assert_int_equal(out.audit_head.size, 42);
    assert_memory_equal(out.audit_head.root, m.audit_head.root, 32);
    assert_int_equal(out.director_targets_version, 5);
    /* the envelope: one signature, keyid = the TUF key id of the device key, over canonical JSON */
    json_error_t je;
    json_t *env = json_loads(body, 0, &je);
    char keyid[65];
    assert_int_equal(fwt_fleet_keyid(pub_a, keyid), FWT_OK);
    json_t *sigs = json_object_get(env, "signatures");
    assert_int_equal(json_array_size(sigs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sigs, 0), "keyid")), keyid);
    json_decref(env);
    /* without the optional parts */
    m.has_last_install = m.has_measurement = m.has_audit_head = 0;
    m.slots[0].name[0] = '\0';
    m.slots[0].has_security_counter = m.slots[0].has_key_version = 0;
    free(body);
    body = sign_manifest(&m, key_a, &len);
    assert_int_equal(verify_m(body, len, pub_a, &out), FWT_OK);
    assert_false(out.has_last_install || out.has_measurement || out.has_audit_head);
    assert_false(out.slots[0].has_security_counter);
    assert_string_equal(out.slots[0].name, "");
    free(body);
}

static void test_report_round_trip(void **state)
{
    (void)state;
    struct fwt_fleet_report r, out;
    sample_report(&r);
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(fwt_fleet_report_sign(&r, key_a, &body, &len), FWT_OK);
    struct fwt_fleet_expect e = {pub_a, "dev-0001", NULL, NULL, NULL};
    assert_int_equal(fwt_fleet_report_verify((const uint8_t *)body, len, &e, &out), FWT_OK);
    assert_string_equal(out.device_id, "dev-0001");
    assert_int_equal(out.counter, 18);
    assert_string_equal(out.target, "fw-1.3.0.bin");
    assert_int_equal(out.state, FWT_FLEET_REFUSED);
    assert_int_equal(out.error, 44);
    assert_string_equal(out.reason, r.reason);
    /* another device's id */
    e.device_id = "dev-0002";
    assert_int_equal(fwt_fleet_report_verify((const uint8_t *)body, len, &e, &out), FWT_E_HW_ID);
    /* a report is not a manifest, a manifest not a report */
    assert_int_equal(verify_m(body, len, pub_a, NULL), FWT_E_MALFORMED);
    assert_non_null(strstr(fwt_detail(), "_type"));
    free(body);
    struct fwt_fleet_manifest m;
    sample_manifest(&m);
    body = sign_manifest(&m, key_a, &len);
    e.device_id = "dev-0001";
    assert_int_equal(fwt_fleet_report_verify((const uint8_t *)body, len, &e, &out), FWT_E_MALFORMED);
    assert_non_null(strstr(fwt_detail(), "device-report"));
    free(body);
    /* every state name round trips */
    for (int s = FWT_FLEET_DOWNLOADING; s <= FWT_FLEET_REFUSED; s++) {
        assert_int_equal(fwt_fleet_state_from_name(fwt_fleet_state_name((enum fwt_fleet_state)s)), s);
    }
    assert_int_equal(fwt_fleet_state_from_name("installed"), -1);
}

/* The caller's key id (expect.keyid, kept by the server per certificate): the envelope's
 * keyid is compared with it, and the signature is still verified with the key. */
static void test_given_keyid(void **state)
{
    (void)state;
    struct fwt_fleet_manifest m, out;
    sample_manifest(&m);
    size_t len;
    char ida[65], idb[65];
    assert_int_equal(fwt_fleet_keyid(pub_a, ida), FWT_OK);
    assert_int_equal(fwt_fleet_keyid(pub_b, idb), FWT_OK);
    char *body = sign_manifest(&m, key_a, &len);
    struct fwt_fleet_expect e = {pub_a, "dev-0001", "board-r2", "SN 12345", ida};
    assert_int_equal(fwt_fleet_manifest_verify((const uint8_t *)body, len, &e, &out), FWT_OK);
    /* the given id is the one compared: another id refuses a body of the right key */
    e.keyid = idb;
    assert_int_equal(fwt_fleet_manifest_verify((const uint8_t *)body, len, &e, &out), FWT_E_UNKNOWN_KEY);
    assert_non_null(strstr(fwt_detail(), "not by this device's key"));
    free(body);
    /* signed by b, with b's id given but a's key: the signature is still checked with a */
    body = sign_manifest(&m, key_b, &len);
    assert_int_equal(fwt_fleet_manifest_verify((const uint8_t *)body, len, &e, &out), FWT_E_SIGNATURE);
    free(body);
}

static void test_bad_signature(void **state)
{
    (void)state;
    struct fwt_fleet_manifest m, out;
    sample_manifest(&m);
    size_t len;
    char *body = sign_manifest(&m, key_a, &len);
    /* a flipped digit in the signature */
    char *sig = strstr(body, "\"sig\":\"");
    assert_non_null(sig);
    sig += 7 + 20;
    *sig = *sig == '0' ? '1' : '0';
    assert_int_equal(verify_m(body, len, pub_a, &out), FWT_E_SIGNATURE);
    free(body);
    /* a changed field under a valid-looking envelope */
    body = sign_manifest(&m, key_a, &len);
    char *c = strstr(body, "\"counter\":17");
    assert_non_null(c);
    c[11] = '8';
    assert_int_equal(verify_m(body, len, pub_a, &out), FWT_E_SIGNATURE);
    free(body);
}

static void test_other_key(void **state)
{
    (void)state;
    struct fwt_fleet_manifest m, out;
    sample_manifest(&m);
    size_t len;
    /* signed by device b, checked with device a's key: another key id */
    char *body = sign_manifest(&m, key_b, &len);
    assert_int_equal(verify_m(body, len, pub_a, &out), FWT_E_UNKNOWN_KEY);
    assert_non_null(strstr(fwt_detail(), "not by this device's key"));
    free(body);
    /* signed by b but claiming a's key id: the signature fails */
    body = sign_manifest(&m, key_b, &len);
    char ida[65], idb[65];
    assert_int_equal(fwt_fleet_keyid(pub_a, ida), FWT_OK);
    assert_int_equal(fwt_fleet_keyid(pub_b, idb), FWT_OK);
    char *p = strstr(body, idb);
    assert_non_null(p);
    memcpy(p, ida, 64);
    assert_int_equal(verify_m(body, len, pub_a, &out), FWT_E_SIGNATURE);
    free(body);
    /* a valid manifest of another device (its own key, the server expects dev-0001) */
    strcpy(m.device_id, "dev-0002");
    body = sign_manifest(&m, key_a, &len);
    assert_int_equal(verify_m(body, len, pub_a, &out), FWT_E_HW_ID);
    assert_non_null(strstr(fwt_detail(), "device_id"));
    free(body);
    sample_manifest(&m);
    strcpy(m.hardware_id, "board-r3");
    body = sign_manifest(&m, key_a, &len);
    assert_int_equal(verify_m(body, len, pub_a, &out), FWT_E_HW_ID);
    assert_non_null(strstr(fwt_detail(), "hardware_id"));
    free(body);
    /* a key the protocol does not take */
    sample_manifest(&m);
    char *b2 = NULL;
    assert_int_equal(fwt_fleet_manifest_sign(&m, key_ed, &b2, &len), FWT_E_KEY);
    assert_null(b2);
    /* no key to verify with */
    body = sign_manifest(&m, key_a, &len);
    assert_int_equal(fwt_fleet_manifest_verify((const uint8_t *)body, len, NULL, &out), FWT_E_ARG);
    free(body);
}

static void test_missing_fields(void **state)
{
    (void)state;
    static const char *const required[] = {"_type", "spec_version", "device_id", "hardware_id", "serial",
                                           "counter", "nonce", "time", "slots", "director_targets_version"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        json_t *s = good_signed();
        assert_int_equal(json_object_del(s, required[i]), 0);
        expect_refused(s, FWT_E_MALFORMED, required[i]);
    }
    static const char *const slot_req[] = {"slot", "state", "length", "hashes", "version"};
    for (size_t i = 0; i < sizeof(slot_req) / sizeof(slot_req[0]); i++) {
        json_t *s = good_signed();
        assert_int_equal(json_object_del(json_array_get(json_object_get(s, "slots"), 0), slot_req[i]), 0);
        expect_refused(s, FWT_E_MALFORMED, slot_req[i]);
    }
    json_t *s = good_signed();
    json_object_del(json_object_get(json_array_get(json_object_get(s, "slots"), 0), "hashes"), "sha256");
    expect_refused(s, FWT_E_MALFORMED, "sha256");
    s = good_signed();
    json_object_del(json_object_get(s, "last_install"), "result");
    expect_refused(s, FWT_E_MALFORMED, "last_install: result");
    s = good_signed();
    json_object_del(json_object_get(s, "measurement"), "events");
    expect_refused(s, FWT_E_MALFORMED, "measurement: events");
    s = good_signed();
    json_object_del(json_object_get(s, "audit_head"), "root");
    expect_refused(s, FWT_E_MALFORMED, "audit_head: root");
}

static void test_wrong_types(void **state)
{
    (void)state;
    struct {
        const char *field;
        json_t *value;
        const char *want;
    } cases[] = {
        {"counter", json_string("17"), "counter: not an integer"},
        {"counter", json_integer(0), "out of range"},
        {"counter", json_integer(-1), "out of range"},
        {"counter", json_integer((json_int_t)FWT_FLEET_COUNTER_MAX + 1), "out of range"},
        {"device_id", json_string("dev 1"), "device_id"},
        {"device_id", json_string(""), "device_id: empty"},
        {"hardware_id", json_integer(1), "hardware_id: not a string"},
        {"serial", json_string("a\tb"), "serial: holds a byte"},
        {"nonce", json_string("0123"), "nonce"},
        {"nonce", json_string("0123456789ABCDEF0123456789abcdef"), "not lower-case hex"},
        {"time", json_string("2026-12-02 10:00:00"), "time"},
        {"slots", json_object(), "slots: not an array"},
        {"slots", json_array(), "expected 1..8"},
        {"director_targets_version", json_integer(-5), "out of range"},
        {"last_install", json_array(), "last_install: not an object"},
        {"_type", json_string("device-report"), "expected \"device-manifest\""},
        {"spec_version", json_string("2"), "spec_version"},
        {"extra", json_true(), "unknown field \"extra\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *s = good_signed();
        assert_int_equal(json_object_set_new(s, cases[i].field, cases[i].value), 0);
        expect_refused(s, FWT_E_MALFORMED, cases[i].want);
    }
    /* slot fields */
    struct {
        const char *field;
        json_t *value;
        const char *want;
    } slot_cases[] = {
        {"slot", json_string("z"), "slot letter"},
        {"slot", json_string("ab"), "slot"},
        {"state", json_string("booting"), "state"},
        {"length", json_integer(0), "length"},
        {"length", json_integer((json_int_t)UINT32_MAX + 1), "length"},
        {"version", json_string("one.two"), "version"},
        {"security_counter", json_integer(-1), "security_counter"},
        {"key_version", json_string("1"), "key_version"},
        {"hashes", json_pack("{s:s}", "md5", "00"), "unknown field \"md5\""},
        {"name", json_string(""), "name: empty"},
        {"colour", json_string("red"), "unknown field"},
    };
    for (size_t i = 0; i < sizeof(slot_cases) / sizeof(slot_cases[0]); i++) {
        json_t *s = good_signed();
        json_t *sl = json_array_get(json_object_get(s, "slots"), 0);
        assert_int_equal(json_object_set_new(sl, slot_cases[i].field, slot_cases[i].value), 0);
        expect_refused(s, FWT_E_MALFORMED, slot_cases[i].want);
    }
    /* two slots with one letter; an empty slot with image fields */
    json_t *s = good_signed();
    json_object_set_new(json_array_get(json_object_get(s, "slots"), 1), "slot", json_string("a"));
    expect_refused(s, FWT_E_MALFORMED, "listed twice");
    s = good_signed();
    json_object_set_new(json_array_get(json_object_get(s, "slots"), 1), "length", json_integer(5));
    expect_refused(s, FWT_E_MALFORMED, "empty slot");
    /* an error number out of range, a result not of the protocol, a PCR of odd size */
    s = good_signed();
    json_object_set_new(json_object_get(s, "last_install"), "error", json_integer(256));
    expect_refused(s, FWT_E_MALFORMED, "error");
    s = good_signed();
    json_object_set_new(json_object_get(s, "last_install"), "result", json_string("ok"));
    expect_refused(s, FWT_E_MALFORMED, "with result \"ok\"");
    s = good_signed();
    json_object_set_new(json_object_get(s, "last_install"), "result", json_string("maybe"));
    expect_refused(s, FWT_E_MALFORMED, "result");
    s = good_signed();
    json_object_set_new(json_object_get(s, "measurement"), "pcr", json_string("00ff"));
    expect_refused(s, FWT_E_MALFORMED, "64 or 96");
    /* a bad slot may carry no image */
    s = good_signed();
    json_t *bad = json_pack("{s:s,s:s}", "slot", "b", "state", "bad");
    json_array_set_new(json_object_get(s, "slots"), 1, bad);
    size_t len;
    char *body = resign(s, key_a, &len);
    struct fwt_fleet_manifest out;
    assert_int_equal(verify_m(body, len, pub_a, &out), FWT_OK);
    assert_int_equal(out.slots[1].state, FWT_FLEET_SLOT_BAD);
    assert_false(out.slots[1].has_image);
    free(body);
    json_decref(s);
}

static void test_envelope_and_json(void **state)
{
    (void)state;
    struct fwt_fleet_manifest m, out;
    sample_manifest(&m);
    size_t len;
    char *body = sign_manifest(&m, key_a, &len);
    json_error_t je;
    /* two signatures */
    json_t *env = json_loads(body, 0, &je);
    json_t *sigs = json_object_get(env, "signatures");
    json_array_append(sigs, json_array_get(sigs, 0));
    char *t = json_dumps(env, JSON_COMPACT);
    assert_int_equal(verify_m(t, strlen(t), pub_a, &out), FWT_E_MALFORMED);
    assert_non_null(strstr(fwt_detail(), "exactly one"));
    free(t);
    /* an extra envelope member */
    json_array_remove(sigs, 1);
    json_object_set_new(env, "note", json_string("x"));
    t = json_dumps(env, JSON_COMPACT);
    assert_int_equal(verify_m(t, strlen(t), pub_a, &out), FWT_E_MALFORMED);
    free(t);
    json_decref(env);
    /* a duplicate key anywhere (here: the envelope's, then signed's) */
    char dup[512];
    snprintf(dup, sizeof(dup), "{\"signed\":{},\"signed\":{},\"signatures\":[]}");
    assert_int_equal(verify_m(dup, strlen(dup), pub_a, &out), FWT_E_MALFORMED);
    assert_non_null(strstr(fwt_detail(), "duplicate"));
    char *c = strstr(body, "\"counter\":17");
    size_t dl = len + 13;
    char *d = malloc(dl + 1);
    size_t pre = (size_t)(c - body);
    memcpy(d, body, pre);
    memcpy(d + pre, "\"counter\":18,", 13);
    memcpy(d + pre + 13, c, len - pre + 1);
    assert_int_equal(verify_m(d, dl, pub_a, &out), FWT_E_MALFORMED);
    assert_non_null(strstr(fwt_detail(), "duplicate"));
    free(d);
    /* trailing bytes, not JSON, empty */
    d = malloc(len + 3);
    memcpy(d, body, len);
    memcpy(d + len, " {}", 3);
    assert_int_equal(verify_m(d, len + 3, pub_a, &out), FWT_E_MALFORMED);
    free(d);
    assert_int_equal(verify_m("nope", 4, pub_a, &out), FWT_E_MALFORMED);
    /* a number that is not an integer has no canonical form */
    d = strdup(body);
    c = strstr(d, "\"counter\":17");
    memcpy(c, "\"counter\":1e1", 13);
    assert_int_equal(verify_m(d, len, pub_a, &out), FWT_E_MALFORMED);
    free(d);
    assert_int_equal(verify_m("", 0, pub_a, &out), FWT_E_MALFORMED);
    free(body);
}

static void test_oversize(void **state)
{
    (void)state;
    /* a body over the limit is refused before it is parsed */
    size_t big = FWT_FLEET_MAX_BODY + 1;
    char *b = malloc(big);
    memset(b, ' ', big);
    b[0] = '{';
    b[big - 1] = '}';
    struct fwt_fleet_manifest out;
    assert_int_equal(verify_m(b, big, pub_a, &out), FWT_E_TOO_LARGE);
    /* a field over its limit */
    json_t *s = good_signed();
    memset(b, 'x', FWT_FLEET_NAME_MAX + 1);
    b[FWT_FLEET_NAME_MAX + 1] = '\0';
    json_object_set_new(json_array_get(json_object_get(s, "slots"), 0), "name", json_string(b));
    expect_refused(s, FWT_E_MALFORMED, "256 bytes, at most 255");
    s = good_signed();
    b[FWT_FLEET_ID_MAX + 1] = '\0';
    json_object_set_new(s, "serial", json_string(b));
    expect_refused(s, FWT_E_MALFORMED, "serial: 65 bytes");
    s = good_signed();
    memset(b, 'x', FWT_FLEET_REASON_MAX + 1);
    b[FWT_FLEET_REASON_MAX + 1] = '\0';
    json_object_set_new(json_object_get(s, "last_install"), "reason", json_string(b));
    expect_refused(s, FWT_E_MALFORMED, "reason: 256 bytes");
    /* too many slots */
    s = good_signed();
    json_t *sl = json_object_get(s, "slots");
    for (char l = 'c'; l <= 'i'; l++) {
        char n[2] = {l, 0};
        json_array_append_new(sl, json_pack("{s:s,s:s}", "slot", n, "state", "empty"));
    }
    expect_refused(s, FWT_E_MALFORMED, "9 slots");
    free(b);
}

static void test_writer_refuses(void **state)
{
    (void)state;
    struct fwt_fleet_manifest m;
    char *body = (char *)1;
    size_t len;
    sample_manifest(&m);
    strcpy(m.device_id, "dev one");
    assert_int_equal(fwt_fleet_manifest_sign(&m, key_a, &body, &len), FWT_E_ARG);
    assert_null(body);
    assert_non_null(strstr(fwt_detail(), "device_id"));
    sample_manifest(&m);
    m.counter = 0;
    assert_int_equal(fwt_fleet_manifest_sign(&m, key_a, &body, &len), FWT_E_ARG);
    sample_manifest(&m);
    m.n_slots = 0;
    assert_int_equal(fwt_fleet_manifest_sign(&m, key_a, &body, &len), FWT_E_ARG);
    sample_manifest(&m);
    m.n_slots = FWT_FLEET_MAX_SLOTS + 1;
    assert_int_equal(fwt_fleet_manifest_sign(&m, key_a, &body, &len), FWT_E_ARG);
    sample_manifest(&m);
    strcpy(m.slots[0].version, "x");
    assert_int_equal(fwt_fleet_manifest_sign(&m, key_a, &body, &len), FWT_E_ARG);
    sample_manifest(&m);
    m.slots[0].has_image = 0; /* a confirmed slot without its image */
    assert_int_equal(fwt_fleet_manifest_sign(&m, key_a, &body, &len), FWT_E_ARG);
    sample_manifest(&m);
    strcpy(m.last_install.reason, "caf\xc3\xa9"); /* not printable ASCII */
    assert_int_equal(fwt_fleet_manifest_sign(&m, key_a, &body, &len), FWT_E_ARG);
    sample_manifest(&m);
    m.last_install.reason[0] = '\xff'; /* not UTF-8 */
    m.last_install.reason[1] = '\0';
    assert_int_equal(fwt_fleet_manifest_sign(&m, key_a, &body, &len), FWT_E_ARG);
    struct fwt_fleet_report r;
    sample_report(&r);
    r.error = 300;
    assert_int_equal(fwt_fleet_report_sign(&r, key_a, &body, &len), FWT_E_ARG);
    sample_report(&r);
    r.state = (enum fwt_fleet_state)99;
    assert_int_equal(fwt_fleet_report_sign(&r, key_a, &body, &len), FWT_E_ARG);
    /* nonces are fresh */
    char n1[33], n2[33];
    assert_int_equal(fwt_fleet_nonce(n1), FWT_OK);
    assert_int_equal(fwt_fleet_nonce(n2), FWT_OK);
    assert_int_equal(strlen(n1), 32);
    assert_string_not_equal(n1, n2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_round_trip), cmocka_unit_test(test_report_round_trip),
        cmocka_unit_test(test_given_keyid), cmocka_unit_test(test_bad_signature),      cmocka_unit_test(test_other_key),
        cmocka_unit_test(test_missing_fields),     cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_envelope_and_json),  cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_writer_refuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
