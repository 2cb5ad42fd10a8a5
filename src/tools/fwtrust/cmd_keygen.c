/* fwtrust keygen: generate a signing key pair (PEM file or PKCS#11 token). */
#include "image_cmd.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const k_prog = "fwtrust keygen";

static struct fwt_key_opts ko;
static const char *type_name, *out, *uri;
static int json;

static const struct fwt_opt k_opts[] = {
    FWT_OPT_STR_('t', "type", "TYPE", &type_name, "ed25519, ecdsa-p256, ecdsa-p384, rsa-2048 or rsa-3072"),
    FWT_OPT_STR_('o', "output", "KEY", &out, "where to write the key"),
    FWT_OPT_STR_(0, "pkcs11", "URI", &uri, "generate in a token: the same as -o with a pkcs11: URI"),
    FWT_OPT_FLAG_(0, "json", &json, "print the result as JSON"),
    FWT_KEY_OPTS(ko),
    FWT_OPT_END_,
};

static const struct fwt_cli_prog k_cli = {
    .name = "fwtrust keygen",
    .operands = "",
    .description =
        "Generate a signing key pair: fwtrust keygen --type TYPE -o KEY, or --pkcs11 URI.\n"
        "KEY is a PEM file (written with mode 0600, never overwritten) or a pkcs11: URI (the\n"
        "key is generated inside the token, non-extractable). The passphrase file encrypts\n"
        "the PEM file (AES-256).",
    .opts = k_opts,
    .epilog = "Exit status: 0 on success, else the error number (docs/exit-codes.md):\n"
              "1 usage, 2 I/O (or KEY exists), 7 key generation failed.",
};

static int run(int argc, char **argv)
{
    struct fwt_cli_args args;
    int rc = fwt_cli_parse(&k_cli, argc, argv, &args);
    if (rc >= 0) {
        return rc;
    }
    if (uri) {
        if (out) {
            return fwt_cli_usage_error(k_prog, "give -o or --pkcs11, not both");
        }
        if (strncmp(uri, "pkcs11:", 7) != 0) {
            return fwt_cli_usage_error(k_prog, "--pkcs11 takes a pkcs11: URI (RFC 7512)");
        }
        out = uri;
    }
    if (!type_name || !out) {
        return fwt_cli_usage_error(k_prog, "--type and -o (or --pkcs11) are required");
    }
    enum fwt_key_type type = fwt_key_type_from_name(type_name);
    if (type == FWT_KEY_NONE) {
        return fwt_cli_usage_error(k_prog, "unknown key type '%s' (%s)", type_name,
                                   fwt_alg_names());
    }
    fwt_err err;
    int is_uri = strncmp(out, "pkcs11:", 7) == 0;
    if (is_uri) {
        err = fwt_keygen_pkcs11(type, out, &ko);
    } else {
        struct stat st;
        if (lstat(out, &st) == 0) {
            err = fwt_fail(FWT_E_IO, "%s already exists; refusing to overwrite a key", out);
        } else {
            err = fwt_keygen_file(type, out, ko.passphrase_file);
        }
    }
    /* Report the key hash: what verify --key matches and a bootloader may fuse. */
    char khex[65] = "";
    if (err == FWT_OK) {
        fwt_pubkey *pub = NULL;
        uint8_t kh[32];
        err = fwt_pubkey_load(out, &ko, &pub);
        if (err == FWT_OK) {
            err = fwt_pubkey_keyhash(pub, kh);
        }
        fwt_pubkey_free(pub);
        if (err == FWT_OK) {
            fwt_hex_encode(kh, sizeof(kh), khex);
        } else {
            err = fwt_fail(err, "%s: generated, but cannot read it back: %s", out, fwt_detail());
        }
    }
    if (err != FWT_OK) {
        if (json) {
            fwt_cli_json_print(fwt_cli_json_error(err));
        }
        return fwt_cli_error(k_prog, err);
    }
    if (json) {
        fwt_cli_json_print(json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "key", out, "type",
                                     fwt_key_type_name(type), "keyhash", khex));
    } else {
        printf("%s: %s key, key hash %s\n", out, fwt_key_type_name(type), khex);
    }
    return 0;
}

const struct fwt_command fwt_cmd_keygen = {"keygen", "generate a signing key pair", run};
