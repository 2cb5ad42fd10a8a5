/*
 * PKCS#11 token keys: placeholder until the token backend lands (helper
 * KEYS-P11 replaces this file). Every token operation fails closed.
 */
#include "keys_internal.h"

#include "fwt_util.h"

#include <strings.h>

int fwt_p11_is_uri(const char *spec)
{
    return spec != NULL && strncasecmp(spec, "pkcs11:", 7) == 0;
}

fwt_err fwt_p11_open(const char *uri, const struct fwt_key_opts *opts, int want_private,
                     struct fwt_p11_key **out, EVP_PKEY **pub, enum fwt_key_type *type)
{
    (void)opts;
    (void)want_private;
    (void)out;
    (void)pub;
    (void)type;
    return fwt_fail(FWT_E_UNSUPPORTED, "%s: PKCS#11 keys are not supported by this build", uri);
}

fwt_err fwt_p11_sign(struct fwt_p11_key *key, enum fwt_key_type type, const uint8_t *data,
                     size_t data_len, uint8_t *sig, size_t *sig_len)
{
    (void)key;
    (void)type;
    (void)data;
    (void)data_len;
    (void)sig;
    (void)sig_len;
    return FWT_E_UNSUPPORTED;
}

void fwt_p11_close(struct fwt_p11_key *key)
{
    (void)key;
}

fwt_err fwt_p11_keygen(enum fwt_key_type type, const char *uri, const struct fwt_key_opts *opts)
{
    (void)type;
    (void)opts;
    return fwt_fail(FWT_E_UNSUPPORTED, "%s: PKCS#11 keys are not supported by this build", uri);
}
