/* Result names and messages. Freestanding. */
#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust.h>

struct err_text {
    fwt_err err;
    const char *name;
    const char *text;
};

static const struct err_text k_errors[] = {
    {FWT_OK, "FWT_OK", "success"},
    {FWT_E_ARG, "FWT_E_ARG", "invalid argument or usage"},
    {FWT_E_IO, "FWT_E_IO", "input/output error"},
    {FWT_E_NOMEM, "FWT_E_NOMEM", "out of memory"},
    {FWT_E_BUFFER, "FWT_E_BUFFER", "buffer or work area too small"},
    {FWT_E_INTERNAL, "FWT_E_INTERNAL", "internal error (a bug)"},
    {FWT_E_CRYPTO, "FWT_E_CRYPTO", "crypto backend failure"},
    {FWT_E_KEY, "FWT_E_KEY", "key cannot be loaded or used"},
    {FWT_E_NOT_FOUND, "FWT_E_NOT_FOUND", "not found"},
    {FWT_E_NETWORK, "FWT_E_NETWORK", "network or transport failure"},
    {FWT_E_LOCKED, "FWT_E_LOCKED", "device is locked by another agent"},
    {FWT_E_STATE, "FWT_E_STATE", "persistent state missing or corrupt"},
    {FWT_E_MALFORMED, "FWT_E_MALFORMED", "malformed image"},
    {FWT_E_DIGEST, "FWT_E_DIGEST", "image digest mismatch"},
    {FWT_E_SIGNATURE, "FWT_E_SIGNATURE", "bad signature"},
    {FWT_E_UNSIGNED, "FWT_E_UNSIGNED", "image is not signed"},
    {FWT_E_UNKNOWN_KEY, "FWT_E_UNKNOWN_KEY", "signed by an unknown key"},
    {FWT_E_HW_ID, "FWT_E_HW_ID", "wrong or missing hardware id"},
    {FWT_E_COUNTER, "FWT_E_COUNTER", "security counter below the minimum"},
    {FWT_E_UNSUPPORTED, "FWT_E_UNSUPPORTED", "unsupported format, flag or algorithm"},
    {FWT_E_THRESHOLD, "FWT_E_THRESHOLD", "signature threshold not met"},
    {FWT_E_CERT, "FWT_E_CERT", "invalid certificate"},
    {FWT_E_KEY_VERSION, "FWT_E_KEY_VERSION", "signing key version revoked"},
    {FWT_E_NO_TRUST, "FWT_E_NO_TRUST", "no trust anchor configured"},
    {FWT_E_TEST_KEY, "FWT_E_TEST_KEY", "refusing a published sample key"},
    {FWT_E_TOO_LARGE, "FWT_E_TOO_LARGE", "input too large"},
    {FWT_E_META, "FWT_E_META", "malformed or wrong metadata"},
    {FWT_E_META_SIG, "FWT_E_META_SIG", "metadata signature threshold not met"},
    {FWT_E_META_EXPIRED, "FWT_E_META_EXPIRED", "metadata expired"},
    {FWT_E_META_ROLLBACK, "FWT_E_META_ROLLBACK", "metadata rollback"},
    {FWT_E_META_MISMATCH, "FWT_E_META_MISMATCH", "length, hash or version mismatch"},
    {FWT_E_NO_BOOTABLE, "FWT_E_NO_BOOTABLE", "no bootable slot (recovery)"},
    {FWT_E_NO_UPDATE, "FWT_E_NO_UPDATE", "nothing to do"},
    {FWT_E_ATTEST, "FWT_E_ATTEST", "attestation refused"},
};

static const struct err_text *lookup(fwt_err err)
{
    for (unsigned i = 0; i < sizeof(k_errors) / sizeof(k_errors[0]); i++) {
        if (k_errors[i].err == err) {
            return &k_errors[i];
        }
    }
    return 0;
}

const char *fwt_strerror(fwt_err err)
{
    const struct err_text *t = lookup(err);
    return t ? t->text : "unknown error";
}

const char *fwt_err_name(fwt_err err)
{
    const struct err_text *t = lookup(err);
    return t ? t->name : "FWT_E_UNKNOWN";
}
