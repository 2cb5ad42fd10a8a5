/*
 * Internal to src/crypto: the key objects behind fwt_privkey / fwt_pubkey,
 * and the interface between the OpenSSL key code (keys.c) and the PKCS#11
 * token code (pkcs11.c).
 */
#ifndef FWT_KEYS_INTERNAL_H
#define FWT_KEYS_INTERNAL_H

#define FWTRUST_INTERNAL 1
#include <fwtrust/fwtrust_host.h>

#include <openssl/evp.h>

struct fwt_p11_key; /* an open session and a private key handle in a token */

struct fwt_privkey {
    enum fwt_key_type type;
    EVP_PKEY *pkey;          /* file key: the key pair; token key: the public half */
    struct fwt_p11_key *p11; /* non-NULL for a key that lives in a token */
};

struct fwt_pubkey {
    enum fwt_key_type type;
    EVP_PKEY *pkey;
};

/* Key type of an OpenSSL key (FWT_KEY_NONE for unsupported types and sizes). */
enum fwt_key_type fwt_pkey_type(const EVP_PKEY *pkey);

/* The last OpenSSL error as text, for error details (never contains key bytes); clears the
 * error queue. */
const char *fwt_ossl_reason(void);

/* An Ed25519 key of small order (forgeable); 0 for every other key. */
int fwt_pkey_weak(const EVP_PKEY *pkey);

/* ---- pkcs11.c ---- */

/* Is spec a PKCS#11 URI ("pkcs11:" prefix, case-insensitive)? */
int fwt_p11_is_uri(const char *spec);

/*
 * Open the module (opts->pkcs11_module, else $FWTRUST_PKCS11_MODULE), find the
 * token and log in (PIN from opts->pin_file, else pin-source= in the URI; a
 * PIN given as pin-value= is refused), find the key by object=/id=.
 * want_private: 1 needs the private key (signing), 0 only the public key.
 * On success *pub holds the public key (caller frees with EVP_PKEY_free),
 * *type its type, and (want_private) *out the signing handle.
 * Errors: FWT_E_ARG (bad URI), FWT_E_NOT_FOUND (no module, token or object),
 * FWT_E_KEY (wrong PIN, unusable key), FWT_E_CRYPTO (module failure); each
 * with a detail naming the cause (fwt_fail).
 */
FWT_MUST_CHECK fwt_err fwt_p11_open(const char *uri, const struct fwt_key_opts *opts, int want_private,
                     struct fwt_p11_key **out, EVP_PKEY **pub, enum fwt_key_type *type);

/*
 * Sign in the token (C_Sign; the private key never leaves it).
 * Ed25519: data is the message itself (CKM_EDDSA).
 * ECDSA: data is the hash (CKM_ECDSA); the signature comes back DER-encoded.
 * RSA: data is the SHA-256 hash (CKM_RSA_PKCS_PSS, SHA-256, MGF1-SHA-256, salt 32).
 * sig_len: in, the buffer size; out, the signature length.
 */
FWT_MUST_CHECK fwt_err fwt_p11_sign(struct fwt_p11_key *key, enum fwt_key_type type, const uint8_t *data,
                     size_t data_len, uint8_t *sig, size_t *sig_len);

/* RSA-OAEP (SHA-256, MGF1-SHA-256, no label) decryption in the token (C_Decrypt). */
FWT_MUST_CHECK fwt_err fwt_p11_decrypt_oaep(struct fwt_p11_key *key, const uint8_t *in,
                                            size_t in_len, uint8_t *out, size_t *out_len);
/* ECDH (CKM_ECDH1_DERIVE, CKD_NULL) of the token's P-256 key with the peer's
 * uncompressed point: the 32-byte shared secret, through a session secret-key
 * object destroyed at once. */
FWT_MUST_CHECK fwt_err fwt_p11_ecdh(struct fwt_p11_key *key, const uint8_t *point,
                                    size_t point_len, uint8_t *shared, size_t *shared_len);

/* Log out, close the session, unload the module when no key uses it. NULL is fine. */
void fwt_p11_close(struct fwt_p11_key *key);

/* Generate a non-extractable (CKA_EXTRACTABLE false, CKA_SENSITIVE true) key pair,
 * labelled object= and with id= if given. An existing object of that label: FWT_E_ARG. */
FWT_MUST_CHECK fwt_err fwt_p11_keygen(enum fwt_key_type type, const char *uri, const struct fwt_key_opts *opts);

#endif /* FWT_KEYS_INTERNAL_H */
