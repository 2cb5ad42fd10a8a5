/* libFuzzer: arbitrary bytes as a boot-key certificate. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_core_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy: ASan reports any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        return 0;
    }
    if (size) {
        memcpy(buf, data, size);
    }
    struct fwt_cert c;
    fwt_err pe = fwt_cert_parse(buf, size, &c);
    if (pe == FWT_OK) {
        if (c.tbs_len + 2 + c.sig_len != size || c.key_len == 0 || c.key_len > FWT_PUBKEY_MAX ||
            c.hw_id_len > FWT_HW_ID_MAX || c.key < buf || c.key + c.key_len > buf + size) {
            abort();
        }
    }
    struct fuzz_keys fk;
    struct fwt_policy p;
    fuzz_policy(&fk, &p, size ? data[0] : 0);
    struct fwt_crypto_ops ops;
    struct mock_crypto mc;
    mock_ops(&ops, &mc);
    fwt_err ve = fwt_cert_verify(buf, size, &ops, &p, &c);
    if (ve == FWT_OK && pe != FWT_OK) {
        abort();
    }
    free(buf);
    return 0;
}
