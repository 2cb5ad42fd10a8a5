/*
 * fwtrust fleet formats (fwt_fleet.h): the signed device manifest and device
 * report, written and read by this one code (docs/fleet-protocol.md).
 *
 * One field checker per document (json -> struct, every field typed and
 * bounded, unknown fields refused) serves the reader and the writer: the
 * writer builds the JSON from the struct, runs the checker over it, and signs
 * only what passed.
 */
#include <fwtrust/fwt_fleet.h>
#include <fwtrust/fwt_tuf_json.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest DER ECDSA P-256 signature is 72 bytes; allow some slack, refuse junk early. */
#define FLEET_SIG_MAX 128U

static const char *const SLOT_STATES[] = {"confirmed", "trial", "inactive", "empty", "bad"};
static const char *const RESULTS[] = {"ok", "failed", "refused", "rolled-back"};
static const char *const STATES[] = {"downloading", "installed-trial", "booted", "confirmed",
                                     "rolled-back", "failed", "refused"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *fwt_fleet_slot_state_name(enum fwt_fleet_slot_state s)
{
    return (unsigned)s < NELEM(SLOT_STATES) ? SLOT_STATES[s] : "?";
}

const char *fwt_fleet_result_name(enum fwt_fleet_result r)
{
    return (unsigned)r < NELEM(RESULTS) ? RESULTS[r] : "?";
}

const char *fwt_fleet_state_name(enum fwt_fleet_state s)
{
    return (unsigned)s < NELEM(STATES) ? STATES[s] : "?";
}

int fwt_fleet_state_from_name(const char *name)
{
    return name ? name_index(STATES, NELEM(STATES), name) : -1;
}

/* ---- Field checks (the reader's; the writer runs them too) ---- */

/* The document being checked, for error details ("device manifest: slots[1].version: ..."). */
struct chk {
    const char *doc;
};

static fwt_err bad(const struct chk *c, const char *field, const char *fmt, ...) FWT_PRINTF(3, 4);
static fwt_err bad(const struct chk *c, const char *field, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return fwt_fail(FWT_E_MALFORMED, "%s: %s: %s", c->doc, field, msg);
}

/* Every member of o is one of the names (NULL-terminated). */
static fwt_err only_fields(const struct chk *c, const json_t *o, const char *where, const char *const *names)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)o, k, v) {
        size_t i = 0;
        while (names[i] && strcmp(names[i], k) != 0) {
            i++;
        }
        if (!names[i]) {
            return bad(c, where, "unknown field \"%.64s\"", k);
        }
    }
    return FWT_OK;
}

static int printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

int fwt_fleet_device_id_valid(const char *s)
{
    if (!s) {
        return 0;
    }
    size_t n = strlen(s);
    if (n == 0 || n > FWT_FLEET_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-' || ch == ':')) {
            return 0;
        }
    }
    return 1;
}

/* A string member: present (unless optional), printable ASCII, 1..max bytes (0 allowed
 * when allow_empty), copied into out (max + 1 bytes). *present: was it there. */
static fwt_err get_str(const struct chk *c, const json_t *o, const char *name, size_t max, int optional,
                       int allow_empty, char *out, int *present)
{
    const json_t *v = json_object_get(o, name);
    out[0] = '\0';
    if (present) {
        *present = v != NULL;
    }
    if (!v) {
        return optional ? FWT_OK : bad(c, name, "missing");
    }
    if (!json_is_string(v)) {
        return bad(c, name, "not a string");
    }
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n > max) {
        return bad(c, name, "%zu bytes, at most %zu", n, max);
    }
    if (n == 0 && !allow_empty) {
        return bad(c, name, "empty");
    }
    if (!printable(s, n)) {
        return bad(c, name, "holds a byte that is not printable ASCII");
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return FWT_OK;
}

/* An integer member in [lo, hi]. */
static fwt_err get_int(const struct chk *c, const json_t *o, const char *name, int optional, uint64_t lo,
                       uint64_t hi, uint64_t *out, int *present)
{
    const json_t *v = json_object_get(o, name);
    *out = 0;
    if (present) {
        *present = v != NULL;
    }
    if (!v) {
        return optional ? FWT_OK : bad(c, name, "missing");
    }
    if (!json_is_integer(v)) {
        return bad(c, name, "not an integer");
    }
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t)x < lo || (uint64_t)x > hi) {
        return bad(c, name, "%lld is out of range %llu..%llu", (long long)x, (unsigned long long)lo,
                   (unsigned long long)hi);
    }
    *out = (uint64_t)x;
    return FWT_OK;
}

/* A lower-case hex string of exactly 2*len digits into out. */
static fwt_err get_hex(const struct chk *c, const json_t *o, const char *name, uint8_t *out, size_t len)
{
    const json_t *v = json_object_get(o, name);
    if (!v) {
        return bad(c, name, "missing");
    }
    if (!json_is_string(v)) {
        return bad(c, name, "not a string");
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n != 2 * len) {
        return bad(c, name, "%zu hex digits, expected %zu", n, 2 * len);
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return bad(c, name, "not lower-case hex");
        }
    }
    if (fwt_hex_decode(s, out, len) != FWT_OK) {
        return bad(c, name, "not lower-case hex");
    }
    return FWT_OK;
}

static fwt_err get_obj(const struct chk *c, const json_t *o, const char *name, int optional, const json_t **out)
{
    *out = json_object_get(o, name);
    if (!*out) {
        return optional ? FWT_OK : bad(c, name, "missing");
    }
    if (!json_is_object(*out)) {
        return bad(c, name, "not an object");
    }
    return FWT_OK;
}

static fwt_err get_time(const struct chk *c, const json_t *o, time_t *out)
{
    char t[32];
    fwt_err err = get_str(c, o, "time", 20, 0, 0, t, NULL);
    if (err != FWT_OK) {
        return err;
    }
    if (fwt_tuf_time_parse(t, out) != FWT_OK) {
        return bad(c, "time", "\"%s\" is not YYYY-MM-DDTHH:MM:SSZ", t);
    }
    return FWT_OK;
}

static fwt_err get_enum(const struct chk *c, const json_t *o, const char *name, const char *const *names,
                        size_t n, int *out)
{
    char s[32];
    fwt_err err = get_str(c, o, name, sizeof(s) - 1, 0, 0, s, NULL);
    if (err != FWT_OK) {
        return err;
    }
    *out = name_index(names, n, s);
    if (*out < 0) {
        return bad(c, name, "\"%s\" is not one of the states of the protocol", s);
    }
    return FWT_OK;
}

/* The members every document starts with: _type and spec_version. */
static fwt_err check_type(const struct chk *c, const json_t *s, const char *type)
{
    char t[32], ver[8];
    fwt_err err = get_str(c, s, "_type", sizeof(t) - 1, 0, 0, t, NULL);
    if (err == FWT_OK && strcmp(t, type) != 0) {
        return bad(c, "_type", "\"%s\", expected \"%s\"", t, type);
    }
    if (err == FWT_OK) {
        err = get_str(c, s, "spec_version", sizeof(ver) - 1, 0, 0, ver, NULL);
    }
    if (err == FWT_OK && strcmp(ver, FWT_FLEET_SPEC_VERSION) != 0) {
        return bad(c, "spec_version", "\"%s\" is not supported (this reader: \"%s\")", ver,
                   FWT_FLEET_SPEC_VERSION);
    }
    return err;
}

static fwt_err get_device_id(const struct chk *c, const json_t *s, char *out)
{
    fwt_err err = get_str(c, s, "device_id", FWT_FLEET_ID_MAX, 0, 0, out, NULL);
    if (err == FWT_OK && !fwt_fleet_device_id_valid(out)) {
        return bad(c, "device_id", "only A-Z a-z 0-9 . _ - : may appear");
    }
    return err;
}

static fwt_err check_slot(const struct chk *c0, const json_t *o, size_t idx, struct fwt_fleet_slot *sl)
{
    static const char *const fields[] = {"slot", "state", "name", "length", "hashes", "version",
                                         "security_counter", "key_version", NULL};
    char where[32];
    snprintf(where, sizeof(where), "slots[%zu]", idx);
    struct chk c = *c0;
    char doc[96];
    snprintf(doc, sizeof(doc), "%s: %s", c0->doc, where);
    c.doc = doc;
    if (!json_is_object(o)) {
        return bad(c0, where, "not an object");
    }
    fwt_err err = only_fields(&c, o, "slot", fields);
    char letter[2];
    int st = 0;
    memset(sl, 0, sizeof(*sl));
    if (err == FWT_OK) {
        err = get_str(&c, o, "slot", 1, 0, 0, letter, NULL);
    }
    if (err == FWT_OK && (letter[0] < 'a' || letter[0] > 'h')) {
        return bad(&c, "slot", "\"%s\" is not a slot letter a..h", letter);
    }
    if (err == FWT_OK) {
        sl->slot = letter[0];
        err = get_enum(&c, o, "state", SLOT_STATES, NELEM(SLOT_STATES), &st);
    }
    if (err != FWT_OK) {
        return err;
    }
    sl->state = (enum fwt_fleet_slot_state)st;
    int has_len = json_object_get(o, "length") != NULL;
    int has_hashes = json_object_get(o, "hashes") != NULL;
    int has_ver = json_object_get(o, "version") != NULL;
    int any = has_len || has_hashes || has_ver || json_object_get(o, "name") ||
              json_object_get(o, "security_counter") || json_object_get(o, "key_version");
    if (sl->state == FWT_FLEET_SLOT_EMPTY) {
        if (any) {
            return bad(&c, "state", "an empty slot has no image fields");
        }
        return FWT_OK;
    }
    if (sl->state == FWT_FLEET_SLOT_BAD && !any) {
        return FWT_OK;
    }
    /* an image: length, hashes and version together */
    uint64_t v;
    err = get_int(&c, o, "length", 0, 1, UINT32_MAX, &sl->length, NULL);
    const json_t *h = NULL;
    if (err == FWT_OK) {
        err = get_obj(&c, o, "hashes", 0, &h);
    }
    if (err == FWT_OK) {
        static const char *const hf[] = {"sha256", NULL};
        err = only_fields(&c, h, "hashes", hf);
    }
    if (err == FWT_OK) {
        struct chk ch = c;
        char hd[128];
        snprintf(hd, sizeof(hd), "%s: hashes", doc);
        ch.doc = hd;
        err = get_hex(&ch, h, "sha256", sl->sha256, sizeof(sl->sha256));
    }
    if (err == FWT_OK) {
        err = get_str(&c, o, "version", FWT_FLEET_VERSION_MAX, 0, 0, sl->version, NULL);
    }
    if (err == FWT_OK) {
        struct fwt_version ver;
        if (fwt_version_parse(sl->version, &ver) != FWT_OK) {
            return bad(&c, "version", "\"%s\" is not a version M.m.r+b", sl->version);
        }
        err = get_str(&c, o, "name", FWT_FLEET_NAME_MAX, 1, 0, sl->name, NULL);
    }
    if (err == FWT_OK) {
        err = get_int(&c, o, "security_counter", 1, 0, UINT32_MAX, &v, &sl->has_security_counter);
        sl->security_counter = (uint32_t)v;
    }
    if (err == FWT_OK) {
        err = get_int(&c, o, "key_version", 1, 0, UINT32_MAX, &v, &sl->has_key_version);
        sl->key_version = (uint32_t)v;
    }
    sl->has_image = err == FWT_OK;
    return err;
}

static fwt_err check_manifest(const json_t *s, struct fwt_fleet_manifest *m)
{
    static const char *const fields[] = {"_type", "spec_version", "device_id", "hardware_id", "serial",
                                         "counter", "nonce", "time", "slots", "last_install",
                                         "measurement", "audit_head", "director_targets_version", NULL};
    const struct chk c = {"device manifest"};
    memset(m, 0, sizeof(*m));
    if (!json_is_object(s)) {
        return fwt_fail(FWT_E_MALFORMED, "device manifest: \"signed\" is not an object");
    }
    fwt_err err = check_type(&c, s, "device-manifest");
    if (err == FWT_OK) {
        err = only_fields(&c, s, "signed", fields);
    }
    if (err == FWT_OK) {
        err = get_device_id(&c, s, m->device_id);
    }
    if (err == FWT_OK) {
        err = get_str(&c, s, "hardware_id", FWT_FLEET_ID_MAX, 0, 0, m->hardware_id, NULL);
    }
    if (err == FWT_OK) {
        err = get_str(&c, s, "serial", FWT_FLEET_ID_MAX, 0, 0, m->serial, NULL);
    }
    if (err == FWT_OK) {
        err = get_int(&c, s, "counter", 0, 1, FWT_FLEET_COUNTER_MAX, &m->counter, NULL);
    }
    if (err == FWT_OK) {
        uint8_t nonce[FWT_FLEET_NONCE_HEX / 2];
        err = get_hex(&c, s, "nonce", nonce, sizeof(nonce));
        if (err == FWT_OK) {
            fwt_hex_encode(nonce, sizeof(nonce), m->nonce);
        }
    }
    if (err == FWT_OK) {
        err = get_time(&c, s, &m->time);
    }
    if (err == FWT_OK) {
        const json_t *sl = json_object_get(s, "slots");
        if (!sl) {
            return bad(&c, "slots", "missing");
        }
        if (!json_is_array(sl)) {
            return bad(&c, "slots", "not an array");
        }
        size_t n = json_array_size(sl);
        if (n == 0 || n > FWT_FLEET_MAX_SLOTS) {
            return bad(&c, "slots", "%zu slots, expected 1..%u", n, FWT_FLEET_MAX_SLOTS);
        }
        for (size_t i = 0; i < n && err == FWT_OK; i++) {
            err = check_slot(&c, json_array_get(sl, i), i, &m->slots[i]);
            for (size_t j = 0; j < i && err == FWT_OK; j++) {
                if (m->slots[j].slot == m->slots[i].slot) {
                    return bad(&c, "slots", "slot \"%c\" is listed twice", m->slots[i].slot);
                }
            }
        }
        m->n_slots = n;
    }
    const json_t *o = NULL;
    if (err == FWT_OK) {
        err = get_obj(&c, s, "last_install", 1, &o);
    }
    if (err == FWT_OK && o) {
        static const char *const lf[] = {"target", "result", "error", "reason", NULL};
        const struct chk cl = {"device manifest: last_install"};
        int r = 0;
        uint64_t e = 0;
        m->has_last_install = 1;
        err = only_fields(&c, o, "last_install", lf);
        if (err == FWT_OK) {
            err = get_str(&cl, o, "target", FWT_FLEET_NAME_MAX, 1, 0, m->last_install.target, NULL);
        }
        if (err == FWT_OK) {
            err = get_enum(&cl, o, "result", RESULTS, NELEM(RESULTS), &r);
            m->last_install.result = (enum fwt_fleet_result)r;
        }
        if (err == FWT_OK) {
            err = get_int(&cl, o, "error", 0, 0, FWT_FLEET_ERROR_MAX, &e, NULL);
            m->last_install.error = (int)e;
        }
        if (err == FWT_OK && m->last_install.result == FWT_FLEET_RESULT_OK && e != 0) {
            return bad(&cl, "error", "%llu with result \"ok\" (0 expected)", (unsigned long long)e);
        }
        if (err == FWT_OK) {
            err = get_str(&cl, o, "reason", FWT_FLEET_REASON_MAX, 1, 0, m->last_install.reason, NULL);
        }
    }
    if (err == FWT_OK) {
        err = get_obj(&c, s, "measurement", 1, &o);
    }
    if (err == FWT_OK && o) {
        static const char *const mf[] = {"pcr", "events", NULL};
        const struct chk cm = {"device manifest: measurement"};
        uint64_t ev = 0;
        m->has_measurement = 1;
        err = only_fields(&c, o, "measurement", mf);
        const json_t *p = json_object_get(o, "pcr");
        size_t plen = json_is_string(p) ? json_string_length(p) / 2 : 0;
        if (err == FWT_OK && p && json_is_string(p) && plen != 32 && plen != 48) {
            return bad(&cm, "pcr", "%zu hex digits, expected 64 or 96", json_string_length(p));
        }
        if (err == FWT_OK) {
            err = get_hex(&cm, o, "pcr", m->measurement.pcr, plen ? plen : 32);
            m->measurement.pcr_len = plen ? plen : 32;
        }
        if (err == FWT_OK) {
            err = get_int(&cm, o, "events", 0, 0, UINT32_MAX, &ev, NULL);
            m->measurement.events = (uint32_t)ev;
        }
    }
    if (err == FWT_OK) {
        err = get_obj(&c, s, "audit_head", 1, &o);
    }
    if (err == FWT_OK && o) {
        static const char *const af[] = {"size", "root", NULL};
        const struct chk ca = {"device manifest: audit_head"};
        m->has_audit_head = 1;
        err = only_fields(&c, o, "audit_head", af);
        if (err == FWT_OK) {
            err = get_int(&ca, o, "size", 0, 0, FWT_FLEET_COUNTER_MAX, &m->audit_head.size, NULL);
        }
        if (err == FWT_OK) {
            err = get_hex(&ca, o, "root", m->audit_head.root, sizeof(m->audit_head.root));
        }
    }
    if (err == FWT_OK) {
        err = get_int(&c, s, "director_targets_version", 0, 0, FWT_FLEET_COUNTER_MAX,
                      &m->director_targets_version, NULL);
    }
    return err;
}

static fwt_err check_report(const json_t *s, struct fwt_fleet_report *r)
{
    static const char *const fields[] = {"_type", "spec_version", "device_id", "counter", "time",
                                         "target", "state", "error", "reason", NULL};
    const struct chk c = {"device report"};
    memset(r, 0, sizeof(*r));
    if (!json_is_object(s)) {
        return fwt_fail(FWT_E_MALFORMED, "device report: \"signed\" is not an object");
    }
    fwt_err err = check_type(&c, s, "device-report");
    int st = 0;
    uint64_t e = 0;
    if (err == FWT_OK) {
        err = only_fields(&c, s, "signed", fields);
    }
    if (err == FWT_OK) {
        err = get_device_id(&c, s, r->device_id);
    }
    if (err == FWT_OK) {
        err = get_int(&c, s, "counter", 0, 1, FWT_FLEET_COUNTER_MAX, &r->counter, NULL);
    }
    if (err == FWT_OK) {
        err = get_time(&c, s, &r->time);
    }
    if (err == FWT_OK) {
        err = get_str(&c, s, "target", FWT_FLEET_NAME_MAX, 1, 0, r->target, NULL);
    }
    if (err == FWT_OK) {
        err = get_enum(&c, s, "state", STATES, NELEM(STATES), &st);
        r->state = (enum fwt_fleet_state)st;
    }
    if (err == FWT_OK) {
        err = get_int(&c, s, "error", 0, 0, FWT_FLEET_ERROR_MAX, &e, NULL);
        r->error = (int)e;
    }
    if (err == FWT_OK) {
        err = get_str(&c, s, "reason", FWT_FLEET_REASON_MAX, 1, 0, r->reason, NULL);
    }
    return err;
}

/* ---- Building (struct -> JSON) ---- */

/* json_object_set_new that remembers a failure (NULL value: a string not valid UTF-8, or OOM). */
static void put(json_t *o, const char *k, json_t *v, int *fail)
{
    if (!v || json_object_set_new(o, k, v) != 0) {
        *fail = 1;
    }
}

static json_t *hex_str(const uint8_t *b, size_t len)
{
    char h[2 * FWT_FLEET_PCR_MAX + 1];
    if (len > FWT_FLEET_PCR_MAX) {
        return NULL;
    }
    fwt_hex_encode(b, len, h);
    return json_string(h);
}

static json_t *int_val(uint64_t v)
{
    /* out-of-range values are caught by the checker; keep them visible as such */
    return json_integer(v > (uint64_t)INT64_MAX ? -1 : (json_int_t)v);
}

static json_t *time_str(time_t t)
{
    char ts[21];
    fwt_tuf_time_format(t, ts);
    return json_string(ts);
}

static json_t *build_manifest(const struct fwt_fleet_manifest *m)
{
    int fail = 0;
    json_t *s = json_object();
    json_t *slots = json_array();
    if (!s || !slots) {
        json_decref(s);
        json_decref(slots);
        return NULL;
    }
    put(s, "_type", json_string("device-manifest"), &fail);
    put(s, "spec_version", json_string(FWT_FLEET_SPEC_VERSION), &fail);
    put(s, "device_id", json_string(m->device_id), &fail);
    put(s, "hardware_id", json_string(m->hardware_id), &fail);
    put(s, "serial", json_string(m->serial), &fail);
    put(s, "counter", int_val(m->counter), &fail);
    put(s, "nonce", json_string(m->nonce), &fail);
    put(s, "time", time_str(m->time), &fail);
    for (size_t i = 0; i < m->n_slots && i < FWT_FLEET_MAX_SLOTS; i++) {
        const struct fwt_fleet_slot *sl = &m->slots[i];
        json_t *o = json_object();
        char letter[2] = {sl->slot, '\0'};
        put(o, "slot", json_string(letter), &fail);
        put(o, "state", json_string(fwt_fleet_slot_state_name(sl->state)), &fail);
        if (sl->has_image) {
            json_t *h = json_object();
            put(h, "sha256", hex_str(sl->sha256, sizeof(sl->sha256)), &fail);
            put(o, "hashes", h, &fail);
            put(o, "length", int_val(sl->length), &fail);
            put(o, "version", json_string(sl->version), &fail);
            if (sl->name[0]) {
                put(o, "name", json_string(sl->name), &fail);
            }
            if (sl->has_security_counter) {
                put(o, "security_counter", int_val(sl->security_counter), &fail);
            }
            if (sl->has_key_version) {
                put(o, "key_version", int_val(sl->key_version), &fail);
            }
        }
        if (!o || json_array_append_new(slots, o) != 0) {
            fail = 1;
        }
    }
    if (m->n_slots > FWT_FLEET_MAX_SLOTS) {
        /* let the checker name it: an array with one slot too many */
        json_array_append_new(slots, json_object());
    }
    put(s, "slots", slots, &fail);
    if (m->has_last_install) {
        json_t *o = json_object();
        if (m->last_install.target[0]) {
            put(o, "target", json_string(m->last_install.target), &fail);
        }
        put(o, "result", json_string(fwt_fleet_result_name(m->last_install.result)), &fail);
        put(o, "error", json_integer(m->last_install.error), &fail);
        if (m->last_install.reason[0]) {
            put(o, "reason", json_string(m->last_install.reason), &fail);
        }
        put(s, "last_install", o, &fail);
    }
    if (m->has_measurement) {
        json_t *o = json_object();
        put(o, "pcr", hex_str(m->measurement.pcr, m->measurement.pcr_len), &fail);
        put(o, "events", int_val(m->measurement.events), &fail);
        put(s, "measurement", o, &fail);
    }
    if (m->has_audit_head) {
        json_t *o = json_object();
        put(o, "size", int_val(m->audit_head.size), &fail);
        put(o, "root", hex_str(m->audit_head.root, sizeof(m->audit_head.root)), &fail);
        put(s, "audit_head", o, &fail);
    }
    put(s, "director_targets_version", int_val(m->director_targets_version), &fail);
    if (fail) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static json_t *build_report(const struct fwt_fleet_report *r)
{
    int fail = 0;
    json_t *s = json_object();
    if (!s) {
        return NULL;
    }
    put(s, "_type", json_string("device-report"), &fail);
    put(s, "spec_version", json_string(FWT_FLEET_SPEC_VERSION), &fail);
    put(s, "device_id", json_string(r->device_id), &fail);
    put(s, "counter", int_val(r->counter), &fail);
    put(s, "time", time_str(r->time), &fail);
    if (r->target[0]) {
        put(s, "target", json_string(r->target), &fail);
    }
    put(s, "state", json_string(fwt_fleet_state_name(r->state)), &fail);
    put(s, "error", json_integer(r->error), &fail);
    if (r->reason[0]) {
        put(s, "reason", json_string(r->reason), &fail);
    }
    if (fail) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* ---- Envelope ---- */

static fwt_err device_key_check(enum fwt_key_type t)
{
    if (t != FWT_KEY_ECDSA_P256) {
        return fwt_fail(FWT_E_KEY, "device key: %s, the fleet protocol takes ECDSA P-256 keys",
                        fwt_key_type_name(t));
    }
    return FWT_OK;
}

fwt_err fwt_fleet_keyid(const fwt_pubkey *key, char keyid[65])
{
    json_t *obj = NULL;
    fwt_err err = device_key_check(fwt_pubkey_type(key));
    if (err == FWT_OK) {
        err = fwt_tuf_key_object(key, &obj, keyid);
    }
    json_decref(obj);
    return err;
}

fwt_err fwt_fleet_nonce(char out[FWT_FLEET_NONCE_HEX + 1])
{
    uint8_t b[FWT_FLEET_NONCE_HEX / 2];
    fwt_err err = fwt_random(b, sizeof(b));
    if (err == FWT_OK) {
        fwt_hex_encode(b, sizeof(b), out);
    }
    return err;
}

/* A checker failure while writing is the caller's mistake: FWT_E_ARG, same sentence. */
static fwt_err as_arg(fwt_err err)
{
    if (err == FWT_E_MALFORMED) {
        char d[320];
        snprintf(d, sizeof(d), "%s", fwt_detail());
        return fwt_fail(FWT_E_ARG, "%s", d);
    }
    return err;
}

/* Sign the canonical form of s (owned: consumed) into an envelope. */
static fwt_err sign_envelope(json_t *s, fwt_privkey *key, char **out, size_t *out_len)
{
    fwt_pubkey *pub = NULL;
    json_t *env = NULL;
    char *canon = NULL;
    size_t clen = 0;
    char keyid[65];
    uint8_t sig[FLEET_SIG_MAX];
    size_t sig_len = sizeof(sig);
    char sig_hex[2 * FLEET_SIG_MAX + 1];
    *out = NULL;
    *out_len = 0;
    fwt_err err = device_key_check(fwt_privkey_type(key));
    if (err == FWT_OK) {
        err = fwt_privkey_public(key, &pub);
    }
    if (err == FWT_OK) {
        err = fwt_fleet_keyid(pub, keyid);
    }
    if (err == FWT_OK) {
        err = fwt_tuf_canonical(s, &canon, &clen);
    }
    if (err == FWT_OK) {
        err = fwt_sign_message(key, (const uint8_t *)canon, clen, sig, &sig_len);
    }
    if (err == FWT_OK) {
        fwt_hex_encode(sig, sig_len, sig_hex);
        env = json_pack("{s:O,s:[{s:s,s:s}]}", "signed", s, "signatures", "keyid", keyid, "sig", sig_hex);
        if (!env) {
            err = fwt_fail(FWT_E_NOMEM, "fleet envelope: out of memory");
        }
    }
    if (err == FWT_OK) {
        char *txt = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
        if (!txt) {
            err = fwt_fail(FWT_E_NOMEM, "fleet envelope: out of memory");
        } else if (strlen(txt) > FWT_FLEET_MAX_BODY) {
            err = fwt_fail(FWT_E_TOO_LARGE, "fleet envelope: %zu bytes, at most %u", strlen(txt),
                           FWT_FLEET_MAX_BODY);
            free(txt);
        } else {
            *out = txt;
            *out_len = strlen(txt);
        }
    }
    json_decref(env);
    json_decref(s);
    free(canon);
    fwt_pubkey_free(pub);
    return err;
}

/*
 * Size, JSON, envelope shape, key id, signature. *signed_ gets the verified
 * "signed" object (a new reference) on FWT_OK.
 */
static fwt_err open_envelope(const uint8_t *buf, size_t len, const char *doc, const fwt_pubkey *key,
                             const char *known_keyid, json_t **signed_)
{
    json_t *env = NULL;
    char *canon = NULL;
    size_t clen = 0;
    char keyid[65];
    uint8_t sig[FLEET_SIG_MAX];
    *signed_ = NULL;
    if (!key) {
        return fwt_fail(FWT_E_ARG, "%s: no device key to verify it with", doc);
    }
    if (len > FWT_FLEET_MAX_BODY) {
        return fwt_fail(FWT_E_TOO_LARGE, "%s: %zu bytes, at most %u", doc, len, FWT_FLEET_MAX_BODY);
    }
    fwt_err err = FWT_OK;
    if (known_keyid && strlen(known_keyid) == 64) {
        memcpy(keyid, known_keyid, 65);
    } else if ((err = fwt_fleet_keyid(key, keyid)) != FWT_OK) {
        return err;
    }
    if (fwt_tuf_json_load(buf, len, doc, &env) != FWT_OK) {
        char d[320];
        snprintf(d, sizeof(d), "%s", fwt_detail());
        return fwt_fail(FWT_E_MALFORMED, "%s", d);
    }
    const json_t *s = NULL, *sigs = NULL, *sg = NULL, *kid = NULL, *sv = NULL;
    if (!json_is_object(env) || json_object_size(env) != 2 || !(s = json_object_get(env, "signed")) ||
        !(sigs = json_object_get(env, "signatures"))) {
        err = fwt_fail(FWT_E_MALFORMED, "%s: not an envelope {\"signed\", \"signatures\"}", doc);
    } else if (!json_is_array(sigs) || json_array_size(sigs) != 1) {
        err = fwt_fail(FWT_E_MALFORMED, "%s: signatures: %s", doc,
                       json_is_array(sigs) ? "exactly one signature is required" : "not an array");
    } else if (!json_is_object(sg = json_array_get(sigs, 0)) || json_object_size(sg) != 2 ||
               !json_is_string(kid = json_object_get(sg, "keyid")) ||
               !json_is_string(sv = json_object_get(sg, "sig"))) {
        err = fwt_fail(FWT_E_MALFORMED, "%s: signatures[0]: not {\"keyid\": string, \"sig\": string}", doc);
    } else if (strcmp(json_string_value(kid), keyid) != 0) {
        err = fwt_fail(FWT_E_UNKNOWN_KEY, "%s: signed by key %.16s..., not by this device's key %.16s...", doc,
                       json_string_value(kid), keyid);
    } else {
        size_t hl = json_string_length(sv);
        if (hl == 0 || hl % 2 != 0 || hl / 2 > sizeof(sig) ||
            fwt_hex_decode(json_string_value(sv), sig, hl / 2) != FWT_OK) {
            err = fwt_fail(FWT_E_MALFORMED, "%s: signatures[0].sig: not a hex signature of at most %u bytes", doc,
                           FLEET_SIG_MAX);
        } else if ((err = fwt_tuf_canonical(s, &canon, &clen)) != FWT_OK) {
            char d[320];
            snprintf(d, sizeof(d), "%s", fwt_detail());
            err = fwt_fail(FWT_E_MALFORMED, "%s: signed: %s", doc, d);
        } else if (fwt_verify_message(key, (const uint8_t *)canon, clen, sig, hl / 2) != FWT_OK) {
            err = fwt_fail(FWT_E_SIGNATURE, "%s: the signature does not verify with the device's key", doc);
        } else {
            *signed_ = json_incref((json_t *)(uintptr_t)s);
        }
    }
    free(canon);
    json_decref(env);
    return err;
}

static fwt_err expect_eq(const char *doc, const char *field, const char *got, const char *want)
{
    if (want && strcmp(got, want) != 0) {
        return fwt_fail(FWT_E_HW_ID, "%s: %s \"%.64s\" is not this device's (\"%.64s\")", doc, field, got, want);
    }
    return FWT_OK;
}

/* ---- Public ---- */

fwt_err fwt_fleet_manifest_sign(const struct fwt_fleet_manifest *m, fwt_privkey *key, char **out,
                                size_t *len)
{
    *out = NULL;
    *len = 0;
    json_t *s = build_manifest(m);
    if (!s) {
        return fwt_fail(FWT_E_ARG, "device manifest: a string is not valid UTF-8 (or out of memory)");
    }
    struct fwt_fleet_manifest *chk = malloc(sizeof(*chk));
    if (!chk) {
        json_decref(s);
        return fwt_fail(FWT_E_NOMEM, "device manifest: out of memory");
    }
    fwt_err err = as_arg(check_manifest(s, chk));
    free(chk);
    if (err != FWT_OK) {
        json_decref(s);
        return err;
    }
    return sign_envelope(s, key, out, len);
}

fwt_err fwt_fleet_report_sign(const struct fwt_fleet_report *r, fwt_privkey *key, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    json_t *s = build_report(r);
    if (!s) {
        return fwt_fail(FWT_E_ARG, "device report: a string is not valid UTF-8 (or out of memory)");
    }
    struct fwt_fleet_report chk;
    fwt_err err = as_arg(check_report(s, &chk));
    if (err != FWT_OK) {
        json_decref(s);
        return err;
    }
    return sign_envelope(s, key, out, len);
}

fwt_err fwt_fleet_manifest_verify(const uint8_t *buf, size_t len, const struct fwt_fleet_expect *expect,
                                  struct fwt_fleet_manifest *out)
{
    json_t *s = NULL;
    fwt_err err = open_envelope(buf, len, "device manifest", expect ? expect->key : NULL, expect ? expect->keyid : NULL, &s);
    if (err != FWT_OK) {
        return err;
    }
    struct fwt_fleet_manifest *m = malloc(sizeof(*m));
    if (!m) {
        json_decref(s);
        return fwt_fail(FWT_E_NOMEM, "device manifest: out of memory");
    }
    err = check_manifest(s, m);
    json_decref(s);
    if (err == FWT_OK) {
        err = expect_eq("device manifest", "device_id", m->device_id, expect->device_id);
    }
    if (err == FWT_OK) {
        err = expect_eq("device manifest", "hardware_id", m->hardware_id, expect->hardware_id);
    }
    if (err == FWT_OK) {
        err = expect_eq("device manifest", "serial", m->serial, expect->serial);
    }
    if (err == FWT_OK) {
        *out = *m;
    }
    free(m);
    return err;
}

fwt_err fwt_fleet_report_verify(const uint8_t *buf, size_t len, const struct fwt_fleet_expect *expect,
                                struct fwt_fleet_report *out)
{
    json_t *s = NULL;
    fwt_err err = open_envelope(buf, len, "device report", expect ? expect->key : NULL, expect ? expect->keyid : NULL, &s);
    if (err != FWT_OK) {
        return err;
    }
    struct fwt_fleet_report r;
    err = check_report(s, &r);
    json_decref(s);
    if (err == FWT_OK) {
        err = expect_eq("device report", "device_id", r.device_id, expect->device_id);
    }
    if (err == FWT_OK) {
        *out = r;
    }
    return err;
}
