/* fwtrust cert: issue and inspect boot-key certificates (include/fwtrust/fwt_cert.h). */
#include "image_cmd.h"

#include <fwtrust/fwt_keys.h>
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
static const char *g_root, *g_key, *g_out, *g_not_after, *g_hw_id;
static uint64_t g_key_version = UINT64_MAX, g_min_kv; /* UINT64_MAX: not given */
static int g_json, g_allow_test;

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
    if (err == FWT_OK) {
        err = fwt_cert_issue(root, key, &req, cert, &cert_len);
    }
    if (err == FWT_OK) {
        err = fwt_write_file_atomic(out, cert, cert_len, 0644);
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
        fwt_cli_json_print(o);
    } else {
        printf("wrote %s (%zu bytes)\n", out, cert_len);
        cert_print(&parsed);
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
              "30 key version below the minimum; 32 sample key refused.",
};

static int run(int argc, char **argv)
{
    if (argc < 2) {
        fwt_cli_help(&k_cli, NULL, stderr);
        return FWT_E_ARG;
    }
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    if (args.cmd == &k_cmds[0]) {
        return cmd_issue();
    }
    return cmd_inspect(args.argv[0]);
}

const struct fwt_command fwt_cmd_cert = {"cert", "issue and inspect boot-key certificates", run};
