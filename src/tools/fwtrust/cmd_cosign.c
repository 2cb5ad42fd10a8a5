/* fwtrust cosign: add one signature to a signed image (k-of-n signing). */
#include "image_cmd.h"
#include "signlog_cli.h"

#include <stdlib.h>

static const char *const k_prog = "fwtrust cosign";

enum {
    OPT_CERT = OPT_CMD_FIRST,
    OPT_ALLOW_TEST,
    OPT_LOG,
    OPT_NO_LOG,
    OPT_SIGNER,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fwtrust cosign --key KEY [--cert FILE] [options] IMAGE [-o OUT]\n\n"
            "Add one signature by KEY to the signed IMAGE, so that several key holders, each on\n"
            "their own machine, can sign one release (verify it with fwtrust verify --threshold).\n"
            "The signed bytes (header, payload, protected TLVs) and the image digest stay as they\n"
            "are; a KEYHASH and signature TLV pair (after the certificate, with --cert) is added\n"
            "to the unprotected area. IMAGE is replaced atomically unless -o OUT is given. A\n"
            "second signature by the same key is refused. IMAGE and OUT are both binary or both\n"
            "Intel HEX (a name ending in .hex).\n\n"
            "  -k, --key KEY            signing key (PEM file or pkcs11: URI)\n"
            "  --cert FILE              boot-key certificate of KEY (fwtrust cert issue)\n"
            "  -o, --output OUT         write the cosigned image to OUT instead of IMAGE\n"
            "  --allow-test-key         sign even with a published sample key (tests only)\n"
            "  --json                   print a summary as JSON\n" FWT_SIGNLOG_HELP FWT_KEY_HELP
            "  -h, --help               this text\n\n"
            "Exit status (docs/exit-codes.md): 0 signed; 1 usage or already signed by KEY; 2 I/O;\n"
            "7 key; 8 not found (IMAGE or signing log); 11 signing log not intact; 20 IMAGE is\n"
            "not a valid image; 29 certificate does not certify KEY; 32 sample key refused; 33\n"
            "no room for the signature.\n");
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"cert", required_argument, NULL, OPT_CERT},
        {"output", required_argument, NULL, 'o'},
        {"allow-test-key", no_argument, NULL, OPT_ALLOW_TEST},
        {"json", no_argument, NULL, OPT_JSON},
        {"log", required_argument, NULL, OPT_LOG},
        {"no-log", no_argument, NULL, OPT_NO_LOG},
        {"signer", required_argument, NULL, OPT_SIGNER},
        {"help", no_argument, NULL, 'h'},
        FWT_KEY_LONGOPTS,
        FWT_SIGNLOG_LONGOPTS,
        {NULL, 0, NULL, 0}};
    struct fwt_key_opts ko = {NULL, NULL, NULL};
    struct fwt_signlog_keyopt lk;
    memset(&lk, 0, sizeof(lk));
    fwt_privkey *log_key = NULL;
    int pin_after = 0;
    const char *key_spec = NULL, *cert_file = NULL, *out = NULL, *log_opt = NULL, *signer = NULL;
    int json = 0, no_log = 0, allow_test = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:o:h", opts, NULL)) != -1) {
        if (fwt_key_opt(c, optarg, &ko) || fwt_signlog_key_opt(c, optarg, &lk)) {
            continue;
        }
        switch (c) {
        case 'k':
            if (key_spec) {
                return fwt_cli_usage_error(k_prog, "one --key per cosign (run it once per key)");
            }
            key_spec = optarg;
            break;
        case OPT_CERT:
            cert_file = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case OPT_ALLOW_TEST:
            allow_test = 1;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_LOG:
            log_opt = optarg;
            break;
        case OPT_NO_LOG:
            no_log = 1;
            break;
        case OPT_SIGNER:
            signer = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return fwt_getopt_error(k_prog, argv);
        }
    }
    if (argc - optind != 1) {
        return fwt_cli_usage_error(k_prog, "expected one IMAGE");
    }
    if (!key_spec) {
        return fwt_cli_usage_error(k_prog, "--key is required");
    }
    const char *in = argv[optind];
    if (!out) {
        out = in;
    }
    fwt_privkey *key = NULL;
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    const char *log_db = NULL;
    char *pending = NULL;
    fwt_err err = fwt_privkey_load(key_spec, &ko, &key);
    if (err != FWT_OK && !strstr(fwt_detail(), key_spec)) {
        err = fwt_fail(err, "%s: %s", key_spec,
                       fwt_detail()[0] ? fwt_detail() : "cannot load the key");
    }
    if (err == FWT_OK && cert_file) {
        struct fwt_cert parsed;
        err = fwt_read_file(cert_file, FWT_CERT_MAX, &cert, &cert_len);
        if (err == FWT_OK && fwt_cert_parse(cert, cert_len, &parsed) != FWT_OK) {
            err = fwt_fail(FWT_E_CERT, "%s: not a boot-key certificate", cert_file);
        }
    }
    if (err == FWT_OK) {
        err = fwt_signlog_cli_cleanup(k_prog, out);
    }
    if (err == FWT_OK) {
        err = fwt_signlog_cli_target(k_prog, log_opt, no_log, &log_db);
    }
    if (err == FWT_OK && log_db) {
        /* The log key: only what the operator names (see cmd_sign.c). */
        lk.ko.pkcs11_module = ko.pkcs11_module;
        err = fwt_signlog_cli_log_key(log_db, lk.spec, &lk.ko, &log_key, &pin_after);
    }
    if (err == FWT_OK && log_db) {
        err = fwt_signlog_pending_name(out, &pending);
    }
    if (err == FWT_OK) {
        err = fwt_cosign_file_ex(in, pending ? pending : out, key, cert, cert_len,
                                 allow_test ? FWT_COSIGN_ALLOW_TEST_KEY : 0);
    }
    if (err == FWT_OK && pending) {
        err = fwt_signlog_commit_image(log_db, pending, out, &key, 1, signer, log_key, NULL);
    }
    if (err == FWT_OK && pin_after) {
        fwt_signlog_cli_pin(k_prog, log_db, log_key, lk.spec);
    }
    free(pending);
    free(cert);
    fwt_privkey_free(log_key);
    fwt_privkey_free(key);
    if (err != FWT_OK) {
        if (json) {
            fwt_cli_json_print(fwt_cli_json_error(err));
        }
        return fwt_cli_error(k_prog, err);
    }
    if (json) {
        fwt_cli_json_print(json_pack("{s:b, s:s, s:b}", "ok", 1, "output", out, "logged",
                                     log_db != NULL));
    }
    return 0;
}

const struct fwt_command fwt_cmd_cosign = {"cosign", "add a signature to a signed image (k-of-n)",
                                           run};
