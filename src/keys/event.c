/*
 * Event entries of the Merkle log: besides image signatures (record.c), a log
 * may hold events, e.g. the fleet server's admin actions and assignments
 * (fwtrust-server). Same tree, same signed tree heads, same `fwtrust log
 * verify`; find and audit look at signature records only.
 *
 * Canonical encoding: compact JSON, sorted keys, exactly
 *   {"action","actor","detail","subject","time","type":"event"}
 * with printable ASCII text (no '"' or '\'), so one event has one encoding.
 */
#include "keys_priv.h"

#include <stdlib.h>
#include <string.h>

static const char *const k_event_keys[] = {"action", "actor", "detail", "subject", "time", "type", NULL};

/* Printable ASCII without '"' and '\', length in [min, max). */
static int text_ok(const char *s, size_t min, size_t max)
{
    size_t n = strnlen(s, max);
    if (n < min || n >= max) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') {
            return 0;
        }
    }
    return 1;
}

static int action_ok(const char *s)
{
    size_t n = strnlen(s, FWT_SIGNLOG_ACTION_MAX);
    if (n == 0 || n >= FWT_SIGNLOG_ACTION_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
            return 0;
        }
    }
    return 1;
}

fwt_err fwt_signlog_event_encode(const struct fwt_signlog_event *ev, char **out, size_t *out_len)
{
    *out = NULL;
    if (!action_ok(ev->action)) {
        return fwt_fail(FWT_E_ARG, "log event: action must be 1 to %u of a-z 0-9 - .",
                        FWT_SIGNLOG_ACTION_MAX - 1);
    }
    if (!text_ok(ev->actor, 1, sizeof(ev->actor)) || !text_ok(ev->subject, 0, sizeof(ev->subject)) ||
        !text_ok(ev->detail, 0, sizeof(ev->detail))) {
        return fwt_fail(FWT_E_ARG, "log event: actor, subject and detail must be printable ASCII "
                                   "without '\"' or '\\' (actor not empty)");
    }
    if (ev->time > (uint64_t)INT64_MAX) {
        return fwt_fail(FWT_E_ARG, "log event: time out of range");
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "action", ev->action, "actor", ev->actor,
                          "detail", ev->detail, "subject", ev->subject, "time",
                          (json_int_t)ev->time, "type", "event");
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!s) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    size_t n = strlen(s);
    if (n > FWT_SIGNLOG_ENTRY_MAX) {
        free(s);
        return fwt_fail(FWT_E_TOO_LARGE, "log event larger than %u bytes", FWT_SIGNLOG_ENTRY_MAX);
    }
    *out = s;
    if (out_len) {
        *out_len = n;
    }
    return FWT_OK;
}

static fwt_err copy_text(json_t *o, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) >= cap ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return fwt_fail(FWT_E_MALFORMED, "log event: bad \"%s\"", key);
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return FWT_OK;
}

fwt_err fwt_signlog_event_parse(const uint8_t *buf, size_t len, struct fwt_signlog_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (!buf || len == 0 || len > FWT_SIGNLOG_ENTRY_MAX) {
        return fwt_fail(FWT_E_MALFORMED, "log event: %zu bytes (1 to %u allowed)", len,
                        FWT_SIGNLOG_ENTRY_MAX);
    }
    const char *what = "log event";
    json_t *o = NULL;
    fwt_err e = fwt_keys_json_object((const char *)buf, len, what, &o);
    if (e != FWT_OK) {
        return FWT_E_MALFORMED;
    }
    json_t *type = json_object_get(o, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "event") != 0) {
        e = fwt_fail(FWT_E_MALFORMED, "log event: \"type\" is not \"event\"");
    }
    if (e == FWT_OK) {
        e = fwt_keys_json_keys(o, what, k_event_keys);
    }
    if (e == FWT_OK) {
        e = fwt_keys_json_u64(o, "time", what, (uint64_t)INT64_MAX, &ev->time);
    }
    if (e == FWT_OK && (e = copy_text(o, "action", ev->action, sizeof(ev->action))) == FWT_OK &&
        (e = copy_text(o, "actor", ev->actor, sizeof(ev->actor))) == FWT_OK &&
        (e = copy_text(o, "subject", ev->subject, sizeof(ev->subject))) == FWT_OK) {
        e = copy_text(o, "detail", ev->detail, sizeof(ev->detail));
    }
    json_decref(o);
    char *canon = NULL;
    size_t cl = 0;
    if (e == FWT_OK && fwt_signlog_event_encode(ev, &canon, &cl) != FWT_OK) {
        e = FWT_E_MALFORMED;
    }
    if (e == FWT_OK && (cl != len || memcmp(canon, buf, len) != 0)) {
        e = fwt_fail(FWT_E_MALFORMED, "log event is not in canonical form (compact JSON, sorted keys)");
    }
    free(canon);
    if (e != FWT_OK) {
        memset(ev, 0, sizeof(*ev));
        return FWT_E_MALFORMED;
    }
    return FWT_OK;
}
