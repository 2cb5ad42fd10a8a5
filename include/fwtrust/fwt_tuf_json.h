/*
 * fwtrust TUF JSON: the project's one canonical JSON encoder (the OLPC rules
 * the TUF spec cites, as securesystemslib implements them), TUF key objects
 * and key ids, signature verification with TUF key objects, strict JSON
 * loading and TUF time stamps.
 *
 * Owned by the TUF metadata model (library fwt_tuf_meta, src/tuf/tuf_json.c);
 * public so that every signed JSON document of the project (TUF metadata, the
 * fleet's device manifests and reports, fwt_fleet.h) is encoded and checked
 * by this one code. Hosted C (jansson, OpenSSL through fwt_crypto).
 */
#ifndef FWT_TUF_JSON_H_PUBLIC
#define FWT_TUF_JSON_H_PUBLIC

#include <fwtrust/fwt_util.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FWT_TUF_KEYID_LEN 64

/*
 * Canonical JSON of v: objects with keys sorted by code point, no whitespace,
 * strings with only '"' and '\' escaped (other bytes as they are), integers;
 * floating-point numbers are refused (FWT_E_META). Nesting is limited to 64.
 * *buf is NUL-terminated; caller frees.
 */
FWT_MUST_CHECK fwt_err fwt_tuf_canonical(const json_t *v, char **buf, size_t *len);

/* Strict JSON: jansson with JSON_REJECT_DUPLICATES, one value, nothing after it,
 * no NUL bytes. what names the input in the error detail (FWT_E_META). */
FWT_MUST_CHECK fwt_err fwt_tuf_json_load(const uint8_t *buf, size_t len, const char *what, json_t **out);

/* SHA-256 of the canonical key object, lower-case hex. */
FWT_MUST_CHECK fwt_err fwt_tuf_keyid(const json_t *key, char keyid[FWT_TUF_KEYID_LEN + 1]);

/* TUF key object {"keytype","scheme","keyval":{"public"}} for a public key and its key id:
 * ed25519 (hex), ecdsa / ecdsa-sha2-nistp256|384 (PEM), rsa / rsassa-pss-sha256 (PEM). */
FWT_MUST_CHECK fwt_err fwt_tuf_key_object(const fwt_pubkey *pub, json_t **key,
                                          char keyid[FWT_TUF_KEYID_LEN + 1]);

/* Public key of a TUF key object (ed25519, ecdsa-sha2-nistp256/384, rsassa-pss-sha256).
 * Does not look at any key id. */
FWT_MUST_CHECK fwt_err fwt_tuf_key_to_pub(const json_t *key, fwt_pubkey **pub);

/*
 * A verifier for a TUF key object: schemes ed25519, ecdsa-sha2-nistp256,
 * ecdsa-sha2-nistp384 (DER signatures), rsassa-pss-sha256 (salt: any length,
 * as the reference implementation verifies), rsa-pkcs1v15-sha256.
 * FWT_E_UNSUPPORTED for other key types or schemes, FWT_E_META for a malformed key.
 */
struct fwt_tuf_vkey;
FWT_MUST_CHECK fwt_err fwt_tuf_vkey_new(const json_t *key, struct fwt_tuf_vkey **out);
void fwt_tuf_vkey_free(struct fwt_tuf_vkey *k);
/* FWT_OK when sig (raw bytes) is a valid signature of msg; FWT_E_SIGNATURE otherwise. */
FWT_MUST_CHECK fwt_err fwt_tuf_vkey_verify(const struct fwt_tuf_vkey *k, const uint8_t *msg, size_t len,
                                           const uint8_t *sig, size_t sig_len);
/* The key material (algorithm family + public key bytes): two key objects with equal
 * material are the same key, whatever their key ids, schemes or extra fields. */
const uint8_t *fwt_tuf_vkey_material(const struct fwt_tuf_vkey *k, size_t *len);

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC) and back; parse refuses anything else (FWT_E_META). */
void fwt_tuf_time_format(time_t t, char out[21]);
FWT_MUST_CHECK fwt_err fwt_tuf_time_parse(const char *s, time_t *t);

#ifdef __cplusplus
}
#endif

#endif /* FWT_TUF_JSON_H_PUBLIC */
