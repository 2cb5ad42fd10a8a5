/* Private helpers of the provenance library (src/provenance/). */
#ifndef FWT_PROV_INTERNAL_H
#define FWT_PROV_INTERNAL_H

#include <fwtrust/fwt_provenance.h>
#include <fwtrust/fwt_util.h>

/* The fwtrust key id: lower-case hex SHA-256 of the MCUboot encoding. */
FWT_MUST_CHECK fwt_err prov_key_id(const fwt_pubkey *key, char out[65]);
/* One DSSE signature over pae by key (ECDSA: DER or raw r||s). FWT_OK or FWT_E_SIGNATURE. */
FWT_MUST_CHECK fwt_err prov_verify_sig(const fwt_pubkey *key, const uint8_t *pae, size_t pae_len,
                                       const uint8_t *sig, size_t sig_len);
/* sig is a valid signature by key over env's PAE. */
FWT_MUST_CHECK fwt_err prov_sig_check(const fwt_pubkey *key,
                                              const struct fwt_dsse_envelope *env,
                                              const struct fwt_dsse_sig *sig);

#endif /* FWT_PROV_INTERNAL_H */
