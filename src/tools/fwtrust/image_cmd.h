/*
 * Helpers shared by the image commands (keygen, pubkey, sign, verify,
 * inspect): key source options and small formatting helpers.
 */
#ifndef FWT_IMAGE_CMD_H
#define FWT_IMAGE_CMD_H

#include "cli.h"

#include <stdio.h>
#include <string.h>

/* The key options every key-taking command accepts, as option-table entries (cli.h) stored in ko. */
#define FWT_KEY_OPTS(ko)                                                                           \
    FWT_OPT_STR_(0, "passphrase-file", "F", &(ko).passphrase_file,                                \
                 "passphrase of an encrypted PEM key (first line of F)"),                          \
        FWT_OPT_STR_(0, "pkcs11-module", "M", &(ko).pkcs11_module,                                \
                     "PKCS#11 module for pkcs11: URIs (default $FWTRUST_PKCS11_MODULE)"),          \
        FWT_OPT_STR_(0, "pin-file", "F", &(ko).pin_file, "token PIN for pkcs11: URIs (first line of F)")

static inline int fwt_is_printable(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] < 0x20 || b[i] > 0x7e) {
            return 0;
        }
    }
    return n > 0;
}

#endif /* FWT_IMAGE_CMD_H */
