/* fwtrust cert: issue and inspect boot-key certificates (include/fwtrust/fwt_cert.h). */
#include "image_cmd.h"
#include "signlog_cli.h"

#include <fwtrust/fwt_keys.h>
#include <fwtrust/fwt_provenance.h>
#include <stdlib.h>
#include <time.h>

static const char *const k_prog = "fwtrust cert";

/* DATE -> seconds since 1970 (see usage). */
static fwt_err parse_date(const char *s, uint64_t *out)
{
    if (s[0] == '@') {
        fwt_err e = fwt_parse_u64(s + 1, UINT64_MAX, out);
        return e != FWT_OK || *out == 0
                   ? fwt_fail(FWT_E_ARG, "--not-after '%s': @SECONDS must be a positive number", s)
                   : FWT_OK;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int y, mo, d, h = 23, mi = 59, sec = 59, n = 0;
    size_t len = strlen(s);
    if (len == 10 && sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10) {
        /* through the end of that day */
    } else if (len == 20 && sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec,
                                   &n) == 6 &&
               n == 20) {
    } else {
        return fwt_fail(FWT_E_ARG, "--not-after '%s': expected YYYY-MM-DD, "
                                   "YYYY-MM-DDTHH:MM:SSZ or @SECONDS", s);
    }
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == ':' || s[i] == 'T' ||
              s[i] == 'Z')) {
            return fwt_fail(FWT_E_ARG, "--not-after '%s': unexpected character", s);
        }
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
        return fwt_fail(FWT_E_ARG, "--not-after '%s': not a valid date", s);
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t <= 0 || tm.tm_mday != d) {
        return fwt_fail(FWT_E_ARG, "--not-after '%s': not a valid date", s);
    }
    *out = (uint64_t)t;
    return FWT_OK;
}

static void format_time(uint64_t t, char *out, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t > (uint64_t)INT32_MAX * 64 || !gmtime_r(&tt, &tm) ||
        strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(out, len, "@%llu", (unsigned long long)t);
    }
}

static int fail(int json, fwt_err err)
{
    if (json) {
        fwt_cli_json_print(fwt_cli_json_error(err));
    }
    return fwt_cli_error(k_prog, err);
}

static json_t *cert_json(const struct fwt_cert *c)
{
    char kh[65], hw[2 * FWT_HW_ID_MAX + 1], na[40];
    fwt_hex_encode(c->root_keyhash, 32, kh);
    fwt_hex_encode(c->hw_id ? c->hw_id : (const uint8_t *)"", c->hw_id_len, hw);
    uint8_t keyhash[32];
    char khs[65] = "";
    if (fwt_sha256(c->key, c->key_len, keyhash) == FWT_OK) {
        fwt_hex_encode(keyhash, 32, khs);
    }
    json_t *o = json_object();
    if (!o) {
        return NULL;
    }
    json_object_set_new(o, "key_type", json_string(fwt_key_type_name(c->key_type)));
    json_object_set_new(o, "key_version", json_integer(c->key_version));
    json_object_set_new(o, "root_keyhash", json_string(kh));
    json_object_set_new(o, "key_id", json_string(khs));
    json_object_set_new(o, "hw_id_hex", json_string(hw));
    if (c->hw_id_len && fwt_is_printable(c->hw_id, c->hw_id_len)) {
        json_object_set_new(o, "hw_id", json_stringn((const char *)c->hw_id, c->hw_id_len));
    } else {
        json_object_set_new(o, "hw_id", c->hw_id_len ? json_string(hw) : json_null());
    }
    json_object_set_new(o, "not_after", json_integer((json_int_t)c->not_after));
    if (c->not_after) {
        format_time(c->not_after, na, sizeof(na));
        json_object_set_new(o, "not_after_utc", json_string(na));
    }
    json_object_set_new(o, "size", json_integer((json_int_t)(c->tbs_len + 2 + c->sig_len)));
    return o;
}

static void cert_print(const struct fwt_cert *c)
{
    json_t *o = cert_json(c);
    if (!o) {
        return;
    }
    printf("key type:      %s\n", fwt_key_type_name(c->key_type));
    printf("key version:   %lu\n", (unsigned long)c->key_version);
    printf("key id:        %s\n", json_string_value(json_object_get(o, "key_id")));
    printf("root key hash: %s\n", json_string_value(json_object_get(o, "root_keyhash")));
    json_t *hw = json_object_get(o, "hw_id");
    printf("hardware id:   %s\n", json_is_string(hw) ? json_string_value(hw) : "(any)");
    json_t *na = json_object_get(o, "not_after_utc");
    printf("not after:     %s\n", json_is_string(na) ? json_string_value(na) : "(no expiry)");
    json_decref(o);
}

static struct fwt_key_opts g_ko;
static const char *g_root, *g_key, *g_out, *g_not_after, *g_hw_id, *g_valid_for, *g_prov, *g_approver_key;
static const char *g_approvals[FWT_APPROVALS_MAX], *g_approvers[FWT_APPROVALS_MAX];
static struct fwt_opt_list g_approval_list = {g_approvals, 0, FWT_APPROVALS_MAX},
                           g_approver_list = {g_approvers, 0, FWT_APPROVALS_MAX};
static uint64_t g_k_approvals;

/* "90m", "4h", "2d", "3600" (seconds): 1 s to 7 days. */
static fwt_err parse_duration(const char *s, int64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mul = 1;
    if (end && *end && !end[1]) {
        mul = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
    } else if (end && *end) {
        mul = 0;
    }
    if (end == s || s[0] == '-' || mul == 0 || v == 0 || v > 7ULL * 86400 || v * mul > 7ULL * 86400) {
        return fwt_fail(FWT_E_ARG, "'%s': a duration of 1 s to 7 days (N, Ns, Nm, Nh, Nd)", s);
    }
    *out = (int64_t)(v * mul);
    return FWT_OK;
}

/* Read whole files (approvals, provenance) for the approval check. */
static fwt_err read_all(const char *path, uint8_t **buf, size_t *len)
{
    fwt_err e = fwt_read_file(path, FWT_DSSE_MAX, buf, len);
    return e == FWT_OK ? FWT_OK : fwt_fail(e, "%s: %s", path, fwt_detail());
}
static uint64_t g_key_version = UINT64_MAX, g_min_kv; /* UINT64_MAX: not given */
static int g_json, g_allow_test;
static const char *g_log, *g_signer;
static struct fwt_signlog_keyopt g_lk;

/* Printable ASCII without '"' and '\' (what a log event may hold). */
static void event_text(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) {
        char c = src[i];
        dst[i] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : c;
    }
    dst[i] = 0;
}

/*
 * Record the approvals a certificate was issued on in the signing log (--log DB,
 * else $FWTRUST_SIGNLOG): one "cert-approval" event per counted approver, before
 * the certificate is written, so a certificate for a build never exists without
 * its approvals in the log. No log: a warning, the record is CERT.issued.json only.
 */
static fwt_err log_approvals(const struct fwt_approval_result *ar, const fwt_pubkey *key, uint32_t key_version,
                             uint64_t not_after, const uint8_t *cert, size_t cert_len, const char *pkcs11_module)
{
    const char *env = getenv("FWTRUST_SIGNLOG");
    const char *db = g_log ? g_log : (env && env[0] ? env : NULL);
    if (!db) {
        fprintf(stderr, "%s: warning: no signing log (--log DB or FWTRUST_SIGNLOG): the approvals are "
                        "recorded only in the .issued.json file\n", k_prog);
        return FWT_OK;
    }
    struct fwt_signlog_keyopt lk = g_lk;
    lk.ko.pkcs11_module = pkcs11_module;
    fwt_privkey *log_key = NULL;
    fwt_signlog *log = NULL;
    int pin_after = 0;
    uint8_t csha[32], kid[32];
    char ch[65], kh[65], ph[65], builder[256], signer[128];
    fwt_err e = fwt_signlog_open(db, 1, &log);
    if (e == FWT_OK) {
        e = fwt_signlog_cli_log_key(db, lk.spec, &lk.ko, &log_key, &pin_after);
    }
    if (e == FWT_OK && (e = fwt_sha256(cert, cert_len, csha)) == FWT_OK) {
        e = fwt_pubkey_keyhash(key, kid);
    }
    if (e == FWT_OK) {
        fwt_hex_encode(csha, 32, ch);
        fwt_hex_encode(kid, 32, kh);
        fwt_hex_encode(ar->provenance_sha256, 32, ph);
        event_text(builder, sizeof(builder), ar->builder_id);
        event_text(signer, sizeof(signer), g_signer ? g_signer : "cert-issue");
    }
    for (size_t i = 0; e == FWT_OK && i < ar->n_approvers; i++) {
        struct fwt_signlog_event ev;
        memset(&ev, 0, sizeof(ev));
        char ah[65];
        fwt_hex_encode(ar->approvers[i], 32, ah);
        snprintf(ev.action, sizeof(ev.action), "cert-approval");
        snprintf(ev.actor, sizeof(ev.actor), "approver:%s", ah);
        snprintf(ev.subject, sizeof(ev.subject), "cert:%s", ch);
        snprintf(ev.detail, sizeof(ev.detail),
                 "provenance_sha256=%s builder_id=%s signing_key=%s key_version=%u not_after=%llu "
                 "approvers=%zu issued_by=%s",
                 ph, builder, kh, (unsigned)key_version, (unsigned long long)not_after, ar->n_approvers, signer);
        ev.time = (uint64_t)time(NULL);
        e = fwt_signlog_append_event(log, &ev, log_key, NULL);
    }
    fwt_signlog_close(log);
    if (e == FWT_OK && pin_after) {
        fwt_signlog_cli_pin(k_prog, db, log_key, lk.spec);
    }
    fwt_privkey_free(log_key);
    return e; /* the detail names the log */
}

static int cmd_issue(void)
{
    struct fwt_key_opts ko = g_ko;
    struct fwt_cert_req req;
    memset(&req, 0, sizeof(req));
    const char *root_spec = g_root, *key_spec = g_key, *out = g_out;
    int json = g_json, have_version = g_key_version != UINT64_MAX;
    req.key_version = have_version ? (uint32_t)g_key_version : 0;
    req.allow_test_key = g_allow_test;
    if (g_not_after && parse_date(g_not_after, &req.not_after) != FWT_OK) {
        return fwt_cli_usage_error(k_prog, "%s", fwt_detail());
    }
    int64_t valid_for = 0;
    if (g_valid_for && (g_not_after || parse_duration(g_valid_for, &valid_for) != FWT_OK)) {
        return fwt_cli_usage_error(k_prog, "--valid-for: %s", g_not_after ? "not with --not-after" : fwt_detail());
    }
    if (valid_for) {
        req.not_after = (uint64_t)time(NULL) + (uint64_t)valid_for;
    }
    if ((g_approval_list.n || g_approver_list.n || g_k_approvals || g_log || g_lk.spec || g_signer) && !g_prov) {
        return fwt_cli_usage_error(k_prog, "--approval, --approver, --approvals, --log, --log-key and --signer go "
                                           "with --provenance");
    }
    if (g_prov && (!valid_for || g_approver_list.n == 0 || g_k_approvals == 0)) {
        return fwt_cli_usage_error(k_prog, "--provenance (a short-lived certificate for one build) needs "
                                           "--valid-for, --approver PUB... and --approvals K");
    }
    if (g_hw_id) {
        req.hw_id = (const uint8_t *)g_hw_id;
        req.hw_id_len = strlen(g_hw_id);
        if (req.hw_id_len == 0 || req.hw_id_len > FWT_HW_ID_MAX) {
            return fwt_cli_usage_error(k_prog, "--hw-id must be 1 to %u bytes", FWT_HW_ID_MAX);
        }
    }
    if (!root_spec || !key_spec || !have_version || !out) {
        return fwt_cli_usage_error(k_prog, "cert issue needs --root, --key, --key-version and -o");
    }
    if (req.not_after && req.not_after <= (uint64_t)time(NULL)) {
        return fwt_cli_usage_error(k_prog, "--not-after lies in the past: the certificate would "
                                           "be expired at once");
    }
    fwt_privkey *root = NULL;
    fwt_pubkey *key = NULL;
    uint8_t cert[FWT_CERT_MAX];
    size_t cert_len = sizeof(cert);
    fwt_err err = fwt_privkey_load(root_spec, &ko, &root);
    if (err != FWT_OK) {
        err = fwt_fail(err, "root key %s: %s", root_spec,
                       fwt_detail()[0] ? fwt_detail() : "cannot load");
    }
    if (err == FWT_OK && (err = fwt_pubkey_load(key_spec, &ko, &key)) != FWT_OK) {
        err = fwt_fail(err, "signing key %s: %s", key_spec,
                       fwt_detail()[0] ? fwt_detail() : "cannot load");
    }
    /* A certificate for one build: k of the approvers approved this provenance and this key. */
    struct fwt_approval_result ar;
    memset(&ar, 0, sizeof(ar));
    if (err == FWT_OK && g_prov) {
        uint8_t *env = NULL, *ap[FWT_APPROVALS_MAX] = {NULL};
        size_t env_len = 0, al[FWT_APPROVALS_MAX] = {0};
        fwt_pubkey *apk[FWT_APPROVALS_MAX] = {NULL};
        size_t n_apk = 0;
        err = read_all(g_prov, &env, &env_len);
        for (size_t i = 0; err == FWT_OK && i < g_approval_list.n; i++) {
            err = read_all(g_approvals[i], &ap[i], &al[i]);
        }
        for (size_t i = 0; err == FWT_OK && i < g_approver_list.n; i++) {
            if ((err = fwt_pubkey_load(g_approvers[i], &ko, &apk[i])) == FWT_OK) {
                n_apk++;
            }
        }
        if (err == FWT_OK) {
            err = fwt_approval_check((const uint8_t *const *)ap, al, g_approval_list.n,
                                     (const fwt_pubkey *const *)apk, n_apk, (size_t)g_k_approvals, env, env_len, key,
                                     (int64_t)time(NULL), &ar);
        }
        free(env);
        for (size_t i = 0; i < FWT_APPROVALS_MAX; i++) {
            free(ap[i]);
            fwt_pubkey_free(apk[i]);
        }
    }
    if (err == FWT_OK) {
        err = fwt_cert_issue(root, key, &req, cert, &cert_len);
    }
    if (err == FWT_OK && g_prov) {
        err = log_approvals(&ar, key, req.key_version, req.not_after, cert, cert_len, ko.pkcs11_module);
    }
    if (err == FWT_OK) {
        err = fwt_write_file_atomic(out, cert, cert_len, 0644);
    }
    /* The issuance record beside it: which build, which approvers (OUT.issued.json). */
    json_t *issued = NULL;
    if (err == FWT_OK && g_prov) {
        char ph[65], ch[65], path[4096];
        uint8_t csha[32];
        json_t *aps = json_array();
        fwt_hex_encode(ar.provenance_sha256, 32, ph);
        for (size_t i = 0; i < ar.n_approvers; i++) {
            char a[65];
            fwt_hex_encode(ar.approvers[i], 32, a);
            json_array_append_new(aps, json_string(a));
        }
        if ((err = fwt_sha256(cert, cert_len, csha)) == FWT_OK) {
            fwt_hex_encode(csha, 32, ch);
            issued = json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:I}", "certificate_sha256", ch,
                               "provenance_sha256", ph, "builder_id", ar.builder_id, "approvers", aps,
                               "key_version", (json_int_t)req.key_version, "not_after", (json_int_t)req.not_after,
                               "issued_at", (json_int_t)time(NULL));
            char *text = issued ? json_dumps(issued, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
            snprintf(path, sizeof(path), "%s.issued.json", out);
            err = text ? fwt_write_file_atomic(path, text, strlen(text), 0644) : FWT_E_NOMEM;
            free(text);
        }
    }
    fwt_privkey_free(root);
    fwt_pubkey_free(key);
    if (err != FWT_OK) {
        return fail(json, err);
    }
    struct fwt_cert parsed;
    if (fwt_cert_parse(cert, cert_len, &parsed) != FWT_OK) {
        return fail(json, fwt_fail(FWT_E_INTERNAL, "issued certificate does not parse"));
    }
    if (json) {
        json_t *o = cert_json(&parsed);
        json_object_set_new(o, "ok", json_true());
        json_object_set_new(o, "output", json_string(out));
        if (issued) {
            json_object_set(o, "issued_for", issued);
        }
        fwt_cli_json_print(o);
    } else {
        printf("wrote %s (%zu bytes)\n", out, cert_len);
        cert_print(&parsed);
        if (issued) {
            printf("for build:     %s (provenance %.16s..., %zu approver(s)); record %s.issued.json\n",
                   ar.builder_id, json_string_value(json_object_get(issued, "provenance_sha256")), ar.n_approvers,
                   out);
        }
    }
    json_decref(issued);
    return 0;
}

static int cmd_approve(void)
{
    if (!g_approver_key || !g_prov || !g_key || !g_out || !g_valid_for) {
        return fwt_cli_usage_error(k_prog, "cert approve needs --approver-key, --provenance, -k, --valid-for and -o");
    }
    int64_t valid_for = 0;
    if (parse_duration(g_valid_for, &valid_for) != FWT_OK) {
        return fwt_cli_usage_error(k_prog, "--valid-for: %s", fwt_detail());
    }
    struct fwt_key_opts ko = g_ko;
    fwt_privkey *ak = NULL;
    fwt_pubkey *sk = NULL;
    uint8_t *env = NULL;
    size_t env_len = 0, tl = 0;
    char *text = NULL;
    fwt_err err = fwt_privkey_load(g_approver_key, &ko, &ak);
    if (err == FWT_OK) {
        err = fwt_pubkey_load(g_key, &ko, &sk);
    }
    if (err == FWT_OK) {
        err = read_all(g_prov, &env, &env_len);
    }
    if (err == FWT_OK) {
        err = fwt_approval_make(ak, env, env_len, sk, (int64_t)time(NULL), valid_for, &text, &tl);
    }
    if (err == FWT_OK) {
        err = fwt_write_file_atomic(g_out, text, tl, 0644);
    }
    free(env);
    free(text);
    fwt_privkey_free(ak);
    fwt_pubkey_free(sk);
    if (err != FWT_OK) {
        return fail(g_json, err);
    }
    if (g_json) {
        fwt_cli_json_print(json_pack("{s:b, s:s}", "ok", 1, "output", g_out));
    } else {
        printf("wrote %s: approval of %s for the build in %s, valid for %s\n", g_out, g_key, g_prov, g_valid_for);
    }
    return 0;
}

static int cmd_inspect(const char *path)
{
    struct fwt_key_opts ko = g_ko;
    const char *root_spec = g_root, *hw = g_hw_id;
    uint32_t min_kv = (uint32_t)g_min_kv;
    int json = g_json;
    if (hw && (strlen(hw) == 0 || strlen(hw) > FWT_HW_ID_MAX)) {
        return fwt_cli_usage_error(k_prog, "--hw-id must be 1 to %u bytes", FWT_HW_ID_MAX);
    }
    if (!root_spec && (hw || min_kv)) {
        return fwt_cli_usage_error(k_prog, "--hw-id and --min-key-version need --root");
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    struct fwt_cert cert;
    fwt_err err = fwt_read_file(path, FWT_CERT_MAX, &buf, &len);
    if (err == FWT_OK && (err = fwt_cert_parse(buf, len, &cert)) != FWT_OK) {
        err = fwt_fail(err, "%s: not a valid boot-key certificate (%u to %u bytes, magic FWC1)",
                       path, FWT_CERT_FIXED_SIZE + 2, FWT_CERT_MAX);
    }
    const char *result = NULL;
    if (err == FWT_OK && root_spec) {
        fwt_pubkey *root = NULL;
        uint8_t enc[FWT_PUBKEY_MAX];
        size_t el = sizeof(enc);
        struct fwt_crypto_ops ops;
        memset(&ops, 0, sizeof(ops));
        if ((err = fwt_pubkey_load(root_spec, &ko, &root)) == FWT_OK &&
            (err = fwt_pubkey_mcuboot(root, enc, &el)) == FWT_OK &&
            (err = fwt_openssl_ops_init(&ops)) == FWT_OK) {
            struct fwt_trusted_key tk = {fwt_pubkey_type(root), enc, el};
            struct fwt_policy pol;
            memset(&pol, 0, sizeof(pol));
            pol.roots = &tk;
            pol.n_roots = 1;
            pol.threshold = 1;
            pol.hw_id = (const uint8_t *)hw;
            pol.hw_id_len = hw ? strlen(hw) : 0;
            pol.min_key_version = min_kv;
            time_t now = time(NULL);
            pol.now = now > 0 ? (uint64_t)now : 0;
            err = fwt_cert_verify(buf, len, &ops, &pol, &cert);
            fwt_openssl_ops_free(&ops);
            if (err == FWT_E_CERT) {
                err = fwt_fail(err, "%s: not valid under this root: forged, expired, or for other "
                                    "hardware", path);
            } else if (err == FWT_E_KEY_VERSION) {
                err = fwt_fail(err, "%s: key version %lu is below the minimum %lu (revoked)", path,
                               (unsigned long)cert.key_version, (unsigned long)min_kv);
            }
            result = err == FWT_OK ? "valid" : NULL;
        }
        fwt_pubkey_free(root);
    }
    if (err != FWT_OK) {
        free(buf);
        return fail(json, err);
    }
    if (json) {
        json_t *o = cert_json(&cert);
        json_object_set_new(o, "ok", json_true());
        if (result) {
            json_object_set_new(o, "result", json_string(result));
        }
        fwt_cli_json_print(o);
    } else {
        cert_print(&cert);
        if (result) {
            printf("result:        valid under root %s\n", root_spec);
        }
    }
    free(buf);
    return 0;
}

static const struct fwt_opt k_global[] = {
    FWT_OPT_FLAG_(0, "json", &g_json, "print the result as JSON"),
    FWT_KEY_OPTS(g_ko),
    FWT_OPT_END_,
};
static const struct fwt_opt k_issue[] = {
    FWT_OPT_STR_(0, "root", "ROOTKEY", &g_root, "root private key (PEM file or pkcs11: URI); required"),
    FWT_OPT_STR_('k', "key", "SIGNING_PUB", &g_key, "the key to certify (PEM, public or private, or pkcs11:); required"),
    FWT_OPT_U64_(0, "key-version", "N", &g_key_version, 0, UINT32_MAX, "key version (0 to 4294967295); required"),
    FWT_OPT_STR_(0, "not-after", "DATE", &g_not_after,
                 "expiry: YYYY-MM-DD (valid through that day, UTC),\n"
                 "YYYY-MM-DDTHH:MM:SSZ, or @SECONDS since 1970 (default: none)"),
    FWT_OPT_STR_(0, "hw-id", "ID", &g_hw_id, "only for this hardware id (1-64 bytes; default: any)"),
    FWT_OPT_STR_('o', "output", "CERT", &g_out, "where to write the certificate; required"),
    FWT_OPT_FLAG_(0, "allow-test-key", &g_allow_test, "accept a published sample key (tests only)"),
    FWT_OPT_STR_(0, "valid-for", "DURATION", &g_valid_for,
                 "expiry relative to now: N[s|m|h|d], at most 7d (a short-lived\n"
                 "certificate; not with --not-after)"),
    FWT_OPT_STR_(0, "provenance", "ENVELOPE", &g_prov,
                 "certify the key for this one build only after --approvals K\n"
                 "of the --approver keys approved it (fwtrust cert approve);\n"
                 "writes the record CERT.issued.json"),
    FWT_OPT_LIST_(0, "approval", "FILE", &g_approval_list, "an approval (repeatable)"),
    FWT_OPT_LIST_(0, "approver", "PUB", &g_approver_list, "a key whose approvals count (repeatable)"),
    FWT_OPT_U64_(0, "approvals", "K", &g_k_approvals, 1, FWT_APPROVALS_MAX, "distinct approvers required"),
    FWT_OPT_STR_(0, "log", "DB", &g_log,
                 "with --provenance: record each counted approval in the\n"
                 "signing log DB (default $FWTRUST_SIGNLOG) before the\n"
                 "certificate is written ('log audit' lists them)"),
    FWT_OPT_STR_(0, "log-key", "KEY", &g_lk.spec, "the log key (default: the one pinned for DB)"),
    FWT_OPT_STR_(0, "log-pin-file", "F", &g_lk.ko.pin_file, "token PIN of the log key"),
    FWT_OPT_STR_(0, "log-passphrase-file", "F", &g_lk.ko.passphrase_file, "passphrase of an encrypted PEM log key"),
    FWT_OPT_STR_(0, "signer", "ID", &g_signer, "who issues, as logged (default: cert-issue)"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_approve[] = {
    FWT_OPT_STR_(0, "approver-key", "KEY", &g_approver_key, "the approver's private key (PEM or pkcs11:); required"),
    FWT_OPT_STR_(0, "provenance", "ENVELOPE", &g_prov, "the build's provenance envelope; required"),
    FWT_OPT_STR_('k', "key", "SIGNING_PUB", &g_key, "the signing key to be certified; required"),
    FWT_OPT_STR_(0, "valid-for", "DURATION", &g_valid_for, "how long the approval may be used: N[s|m|h|d], <= 7d; required"),
    FWT_OPT_STR_('o', "output", "FILE", &g_out, "where to write the approval (a DSSE envelope); required"),
    FWT_OPT_END_,
};
static const struct fwt_opt k_inspect[] = {
    FWT_OPT_STR_(0, "root", "ROOT_PUB", &g_root, "check the certificate as a device trusting ROOT_PUB would"),
    FWT_OPT_STR_(0, "hw-id", "ID", &g_hw_id, "with --root: the device's hardware id"),
    FWT_OPT_U64_(0, "min-key-version", "N", &g_min_kv, 0, UINT32_MAX, "with --root: the device's minimum key version"),
    FWT_OPT_END_,
};
static const struct fwt_cli_cmd k_cmds[] = {
    {"issue", "", 0, 0, "the root key certifies an image signing key with a key version",
     "The root key (the one devices trust, or whose hash they have fused) certifies\n"
     "an image signing key with a key version. Devices refuse certificates below their\n"
     "minimum key version, so certifying a new key with a higher version and raising the\n"
     "minimum revokes every older key (docs/incident-playbook.md). The certificate is\n"
     "checked with the verifier core before it is written (atomically).", k_issue},
    {"approve", "", 0, 0, "approve certifying a signing key for one build (k-of-n, short-lived)",
     "An approver signs (DSSE) the build's provenance digest, its builder id and the\n"
     "signing key id; 'cert issue --provenance' needs K such approvals from distinct\n"
     "--approver keys (docs/key-custody.md, short-lived signing certificates).", k_approve},
    {"inspect", "CERT", 1, 1, "print a certificate's fields; with --root also check it",
     "Prints a certificate's fields; with --root also checks it as a device would\n"
     "(signature by that root, expiry against the current time, --hw-id, --min-key-version).", k_inspect},
    {NULL, NULL, 0, 0, NULL, NULL, NULL},
};
static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust cert",
    .description = "Issue and inspect boot-key certificates (include/fwtrust/fwt_cert.h).",
    .opts = k_global,
    .cmds = k_cmds,
    .epilog = "Exit status (docs/exit-codes.md): 0 ok; 1 usage; 2 I/O; 7 key; 8 not found;\n"
              "20 malformed certificate; 29 certificate forged, expired or for other hardware;\n"
              "28 too few approvals; 30 key version below the minimum; 32 sample key refused.",
};

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse_group(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    if (args.cmd == &k_cmds[0]) {
        return cmd_issue();
    }
    if (args.cmd == &k_cmds[1]) {
        return cmd_approve();
    }
    return cmd_inspect(args.argv[0]);
}

const struct fwt_command fwt_cmd_cert = {"cert", "issue and inspect boot-key certificates", run};
