/* fwtrust cert: issue and inspect boot-key certificates (include/fwtrust/fwt_cert.h). */
#include "image_cmd.h"

#include <fwtrust/fwt_keys.h>
#include <stdlib.h>
#include <time.h>

static const char *const k_prog = "fwtrust cert";

enum {
    OPT_ROOT = OPT_CMD_FIRST,
    OPT_KEY_VERSION,
    OPT_NOT_AFTER,
    OPT_HW_ID,
    OPT_ALLOW_TEST,
    OPT_MIN_KEY_VERSION,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fwtrust cert issue --root ROOTKEY --key SIGNING_PUB --key-version N\n"
            "                          [--not-after DATE] [--hw-id ID] -o CERT\n"
            "       fwtrust cert inspect [--root ROOT_PUB [--hw-id ID] [--min-key-version N]] CERT\n\n"
            "issue: the root key (the one devices trust, or whose hash they have fused) certifies\n"
            "an image signing key with a key version. Devices refuse certificates below their\n"
            "minimum key version, so certifying a new key with a higher version and raising the\n"
            "minimum revokes every older key (docs/incident-playbook.md). The certificate is\n"
            "checked with the verifier core before it is written (atomically).\n\n"
            "  --root ROOTKEY          root private key (PEM file or pkcs11: URI)\n"
            "  --key SIGNING_PUB       the key to certify (PEM, public or private, or pkcs11:)\n"
            "  --key-version N         key version (0 to 4294967295)\n"
            "  --not-after DATE        expiry: YYYY-MM-DD (valid through that day, UTC),\n"
            "                          YYYY-MM-DDTHH:MM:SSZ, or @SECONDS since 1970 (default: none)\n"
            "  --hw-id ID              only for this hardware id (1-64 bytes; default: any)\n"
            "  -o, --output CERT       where to write the certificate\n"
            "  --allow-test-key        accept a published sample key (tests only)\n\n"
            "inspect: print a certificate's fields; with --root also check it as a device would\n"
            "(signature by that root, expiry against the current time, --hw-id, --min-key-version).\n\n"
            "  --json                  print the result as JSON\n" FWT_KEY_HELP
            "  -h, --help              this text\n\n"
            "Exit status (docs/exit-codes.md): 0 ok; 1 usage; 2 I/O; 7 key; 8 not found;\n"
            "20 malformed certificate; 29 certificate forged, expired or for other hardware;\n"
            "30 key version below the minimum; 32 sample key refused.\n");
}

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

static int cmd_issue(int argc, char **argv)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, OPT_ROOT},
        {"key", required_argument, NULL, 'k'},
        {"key-version", required_argument, NULL, OPT_KEY_VERSION},
        {"not-after", required_argument, NULL, OPT_NOT_AFTER},
        {"hw-id", required_argument, NULL, OPT_HW_ID},
        {"output", required_argument, NULL, 'o'},
        {"allow-test-key", no_argument, NULL, OPT_ALLOW_TEST},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        FWT_KEY_LONGOPTS,
        {NULL, 0, NULL, 0}};
    struct fwt_key_opts ko = {NULL, NULL, NULL};
    struct fwt_cert_req req;
    memset(&req, 0, sizeof(req));
    const char *root_spec = NULL, *key_spec = NULL, *out = NULL;
    int json = 0, have_version = 0, c;
    while ((c = getopt_long(argc, argv, "k:o:h", opts, NULL)) != -1) {
        if (fwt_key_opt(c, optarg, &ko)) {
            continue;
        }
        switch (c) {
        case OPT_ROOT:
            root_spec = optarg;
            break;
        case 'k':
            key_spec = optarg;
            break;
        case OPT_KEY_VERSION:
            if (fwt_parse_u32(optarg, &req.key_version) != FWT_OK) {
                return fwt_cli_usage_error(k_prog, "--key-version: '%s' is not a 32-bit number",
                                           optarg);
            }
            have_version = 1;
            break;
        case OPT_NOT_AFTER:
            if (parse_date(optarg, &req.not_after) != FWT_OK) {
                return fwt_cli_usage_error(k_prog, "%s", fwt_detail());
            }
            break;
        case OPT_HW_ID:
            req.hw_id = (const uint8_t *)optarg;
            req.hw_id_len = strlen(optarg);
            if (req.hw_id_len == 0 || req.hw_id_len > FWT_HW_ID_MAX) {
                return fwt_cli_usage_error(k_prog, "--hw-id must be 1 to %u bytes",
                                           FWT_HW_ID_MAX);
            }
            break;
        case 'o':
            out = optarg;
            break;
        case OPT_ALLOW_TEST:
            req.allow_test_key = 1;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return fwt_getopt_error(k_prog, argv);
        }
    }
    if (optind != argc) {
        return fwt_cli_usage_error(k_prog, "unexpected argument '%s'", argv[optind]);
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

static int cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"root", required_argument, NULL, OPT_ROOT},
        {"hw-id", required_argument, NULL, OPT_HW_ID},
        {"min-key-version", required_argument, NULL, OPT_MIN_KEY_VERSION},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        FWT_KEY_LONGOPTS,
        {NULL, 0, NULL, 0}};
    struct fwt_key_opts ko = {NULL, NULL, NULL};
    const char *root_spec = NULL, *hw = NULL;
    uint32_t min_kv = 0;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (fwt_key_opt(c, optarg, &ko)) {
            continue;
        }
        switch (c) {
        case OPT_ROOT:
            root_spec = optarg;
            break;
        case OPT_HW_ID:
            hw = optarg;
            if (strlen(hw) == 0 || strlen(hw) > FWT_HW_ID_MAX) {
                return fwt_cli_usage_error(k_prog, "--hw-id must be 1 to %u bytes",
                                           FWT_HW_ID_MAX);
            }
            break;
        case OPT_MIN_KEY_VERSION:
            if (fwt_parse_u32(optarg, &min_kv) != FWT_OK) {
                return fwt_cli_usage_error(k_prog, "--min-key-version: '%s' is not a number",
                                           optarg);
            }
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return fwt_getopt_error(k_prog, argv);
        }
    }
    if (argc - optind != 1) {
        return fwt_cli_usage_error(k_prog, "expected one CERT");
    }
    if (!root_spec && (hw || min_kv)) {
        return fwt_cli_usage_error(k_prog, "--hw-id and --min-key-version need --root");
    }
    const char *path = argv[optind];
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

static int run(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FWT_E_ARG : 0;
    }
    if (!strcmp(argv[1], "issue")) {
        return cmd_issue(argc - 1, argv + 1);
    }
    if (!strcmp(argv[1], "inspect")) {
        return cmd_inspect(argc - 1, argv + 1);
    }
    return fwt_cli_usage_error(k_prog, "unknown subcommand '%s' (issue or inspect)", argv[1]);
}

const struct fwt_command fwt_cmd_cert = {"cert", "issue and inspect boot-key certificates", run};
