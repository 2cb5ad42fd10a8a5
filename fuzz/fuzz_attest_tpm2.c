/*
 * Fuzz the verifier's TPM 2.0 parsers: TPMS_ATTEST (quote), TPMT_SIGNATURE,
 * TPM2B_PUBLIC, and the AK / EK checks and software MakeCredential on what parses.
 */
#include <fwtrust/fwt_attest.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fwt_tpms_attest a;
    struct fwt_tpmt_signature s;
    struct fwt_tpm_public p;
    if (fwt_tpms_attest_parse(data, size, &a) == FWT_OK) {
        if (a.extra_len > sizeof(a.extra) || a.pcr_digest_len > sizeof(a.pcr_digest)) {
            abort();
        }
    }
    if (fwt_tpmt_signature_parse(data, size, &s) == FWT_OK) {
        if (s.r_len > sizeof(s.r) || s.s_len > sizeof(s.s)) {
            abort();
        }
    }
    if (fwt_tpm_public_parse(data, size, &p) == FWT_OK) {
        if (p.unique_len > sizeof(p.unique) || p.auth_policy_len > sizeof(p.auth_policy)) {
            abort();
        }
        struct fwt_tpm_public ak;
        (void)fwt_attest_check_ak(data, size, &ak);
        uint8_t *blob = NULL, *sec = NULL;
        size_t bl = 0, sl = 0;
        static const uint8_t name[34] = {0x00, 0x0b};
        static const uint8_t cred[32] = {1};
        if (fwt_attest_make_credential(data, size, name, cred, sizeof(cred), &blob, &bl, &sec,
                                       &sl) == FWT_OK) {
            free(blob);
            free(sec);
        }
    }
    return 0;
}
