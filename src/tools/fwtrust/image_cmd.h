/*
 * Helpers shared by the image commands (keygen, pubkey, sign, verify,
 * inspect): key source options and small formatting helpers.
 */
#ifndef FWT_IMAGE_CMD_H
#define FWT_IMAGE_CMD_H

#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* Long options every key-taking command accepts. */
enum {
    OPT_PASSPHRASE_FILE = 0x1000,
    OPT_PKCS11_MODULE,
    OPT_PIN_FILE,
    OPT_JSON,
    OPT_CMD_FIRST /* commands number their own options from here */
};

#define FWT_KEY_LONGOPTS                                                                   \
    {"passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE},                     \
        {"pkcs11-module", required_argument, NULL, OPT_PKCS11_MODULE},                     \
        {"pin-file", required_argument, NULL, OPT_PIN_FILE}

#define FWT_KEY_HELP                                                                       \
    "  --passphrase-file F  passphrase of an encrypted PEM key (first line of F)\n"        \
    "  --pkcs11-module M    PKCS#11 module for pkcs11: URIs (default $FWTRUST_PKCS11_MODULE)\n" \
    "  --pin-file F         token PIN for pkcs11: URIs (first line of F)\n"

/* The same options as entries of an option table (cli.h), stored in the fwt_key_opts ko. */
#define FWT_KEY_OPTS(ko)                                                                           \
    FWT_OPT_STR_(0, "passphrase-file", "F", &(ko).passphrase_file,                                \
                 "passphrase of an encrypted PEM key (first line of F)"),                          \
        FWT_OPT_STR_(0, "pkcs11-module", "M", &(ko).pkcs11_module,                                \
                     "PKCS#11 module for pkcs11: URIs (default $FWTRUST_PKCS11_MODULE)"),          \
        FWT_OPT_STR_(0, "pin-file", "F", &(ko).pin_file, "token PIN for pkcs11: URIs (first line of F)")

/* 1 when opt was a key option (stored in ko), 0 otherwise. */
static inline int fwt_key_opt(int opt, const char *arg, struct fwt_key_opts *ko)
{
    switch (opt) {
    case OPT_PASSPHRASE_FILE:
        ko->passphrase_file = arg;
        return 1;
    case OPT_PKCS11_MODULE:
        ko->pkcs11_module = arg;
        return 1;
    case OPT_PIN_FILE:
        ko->pin_file = arg;
        return 1;
    default:
        return 0;
    }
}

static inline void fwt_version_format(const struct fwt_version *v, char *out, size_t len)
{
    snprintf(out, len, "%u.%u.%u+%lu", (unsigned)v->major, (unsigned)v->minor,
             (unsigned)v->revision, (unsigned long)v->build);
}

static inline int fwt_is_printable(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] < 0x20 || b[i] > 0x7e) {
            return 0;
        }
    }
    return n > 0;
}

/* Common getopt error handling: unknown option or missing argument. */
static inline int fwt_getopt_error(const char *prog, char **argv)
{
    return fwt_cli_usage_error(prog, "unknown option or missing argument near '%s'",
                               optind > 0 ? argv[optind - 1] : "");
}

#endif /* FWT_IMAGE_CMD_H */
