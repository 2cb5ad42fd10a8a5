/* fwtrust cosign: add one signature to a signed image (k-of-n signing). */
#include "image_cmd.h"
#include "signlog_cli.h"

#include <stdlib.h>

static const char *const k_prog = "fwtrust cosign";

static struct fwt_key_opts g_ko;
static struct fwt_signlog_keyopt g_lk;
static const char *g_keys[2], *g_cert, *g_out, *g_log, *g_signer;
static struct fwt_opt_list g_key_list = {g_keys, 0, 2};
static int g_json, g_no_log, g_allow_test;

static const struct fwt_opt k_opts[] = {
    FWT_OPT_LIST_('k', "key", "KEY", &g_key_list, "signing key (PEM file or pkcs11: URI); one per cosign"),
    FWT_OPT_STR_(0, "cert", "FILE", &g_cert, "boot-key certificate of KEY (fwtrust cert issue)"),
    FWT_OPT_STR_('o', "output", "OUT", &g_out, "write the cosigned image to OUT instead of IMAGE"),
    FWT_OPT_FLAG_(0, "allow-test-key", &g_allow_test, "sign even with a published sample key (tests only)"),
    FWT_OPT_FLAG_(0, "json", &g_json, "print a summary as JSON"),
    FWT_SIGNLOG_OPTS(g_lk, g_log, g_no_log, g_signer),
    FWT_KEY_OPTS(g_ko),
    FWT_OPT_END_,
};

static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust cosign",
    .operands = "IMAGE",
    .min_args = 1,
    .max_args = 1,
    .description =
        "Add one signature by --key KEY to the signed IMAGE, so that several key holders, each on\n"
        "their own machine, can sign one release (verify it with fwtrust verify --threshold).\n"
        "The signed bytes (header, payload, protected TLVs) and the image digest stay as they\n"
        "are; a KEYHASH and signature TLV pair (after the certificate, with --cert) is added\n"
        "to the unprotected area. IMAGE is replaced atomically unless -o OUT is given. A\n"
        "second signature by the same key is refused. IMAGE and OUT are both binary or both\n"
        "Intel HEX (a name ending in .hex).",
    .opts = k_opts,
    .epilog = "Exit status (docs/exit-codes.md): 0 signed; 1 usage or already signed by KEY; 2 I/O;\n"
              "7 key; 8 not found (IMAGE or signing log); 11 signing log not intact; 20 IMAGE is\n"
              "not a valid image; 29 certificate does not certify KEY; 32 sample key refused; 33\n"
              "no room for the signature.",
};

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    if (g_key_list.n > 1) {
        return fwt_cli_usage_error(k_prog, "one --key per cosign (run it once per key)");
    }
    if (g_key_list.n == 0) {
        return fwt_cli_usage_error(k_prog, "--key is required");
    }
    struct fwt_key_opts ko = g_ko;
    struct fwt_signlog_keyopt lk = g_lk;
    fwt_privkey *log_key = NULL;
    int pin_after = 0;
    const char *key_spec = g_keys[0], *cert_file = g_cert, *out = g_out, *log_opt = g_log, *signer = g_signer;
    int json = g_json, no_log = g_no_log, allow_test = g_allow_test;
    const char *in = args.argv[0];
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
        /* The log key: only what the operator names (see cmd_sign.c). */
        err = fwt_signlog_cli_prepare(k_prog, out, log_opt, no_log, &lk, ko.pkcs11_module, &log_db, &log_key,
                                      &pin_after);
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
