/*
 * fwtrust host crypto: keys (PEM files or PKCS#11 URIs), signing, and the
 * OpenSSL implementation of the verifier core's fwt_crypto_ops.
 *
 * Hosted C (links OpenSSL 3). Private key material is zeroized on free and
 * never logged. A key given as "pkcs11:..." stays in its token: signing
 * calls C_Sign.
 */
#ifndef FWT_CRYPTO_H
#define FWT_CRYPTO_H

#if !defined(FWTRUST_INSIDE_FWTRUST_H) && !defined(FWTRUST_INTERNAL)
#error "include <fwtrust/fwtrust_host.h>, not this header"
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where keys come from: options shared by every command that takes a key. */
struct fwt_key_opts {
    const char *passphrase_file; /* PEM passphrase (first line), or NULL */
    const char *pkcs11_module;   /* module path; NULL: $FWTRUST_PKCS11_MODULE */
    const char *pin_file;        /* token PIN (first line); or pin-source= in the URI */
};

typedef struct fwt_privkey fwt_privkey;
typedef struct fwt_pubkey fwt_pubkey;

/* Load a private key: a PEM file path or a "pkcs11:" URI (RFC 7512). */
FWT_MUST_CHECK fwt_err fwt_privkey_load(const char *spec, const struct fwt_key_opts *opts,
                                        fwt_privkey **out);
void fwt_privkey_free(fwt_privkey *key);
/*
 * FWT_OK when spec (a PEM path or pkcs11: URI) names no code and no secret
 * file of its own: a pkcs11: URI that parses and has no module-path=,
 * module-name= or pin-source=. Otherwise FWT_E_ARG naming the attribute (or
 * the parse error). For key specs that come from stored data, which must
 * never choose the module loaded or the PIN read.
 */
FWT_MUST_CHECK fwt_err fwt_key_spec_check_inert(const char *spec);
enum fwt_key_type fwt_privkey_type(const fwt_privkey *key);
/* The public half (caller frees). */
FWT_MUST_CHECK fwt_err fwt_privkey_public(const fwt_privkey *key, fwt_pubkey **out);

/*
 * Sign an image digest, as MCUboot verifies it: Ed25519 signs the digest
 * bytes, ECDSA and RSA-PSS treat them as the prehashed SHA-256/384 value
 * (32 bytes, or 48 for P-384; a P-384 key also signs a 32-byte SHA-256
 * prehash, as boot-key certificates need).
 * sig_len: in, the buffer size; out, the signature length.
 */
FWT_MUST_CHECK fwt_err fwt_sign_digest(fwt_privkey *key, const uint8_t *digest, size_t digest_len,
                                       uint8_t *sig, size_t *sig_len);
/*
 * Sign a whole message (TUF metadata, DSSE, pure Ed25519 images):
 * Ed25519 over the message; ECDSA with SHA-256 (P-256) or SHA-384 (P-384),
 * DER signature; RSA-PSS with SHA-256, MGF1-SHA-256, salt = 32 bytes.
 */
FWT_MUST_CHECK fwt_err fwt_sign_message(fwt_privkey *key, const uint8_t *msg, size_t msg_len,
                                        uint8_t *sig, size_t *sig_len);
/* The largest signature this key can make. */
size_t fwt_privkey_sig_max(const fwt_privkey *key);
/* The image signature TLV and algorithm this key signs with. */
uint16_t fwt_privkey_sig_tlv(const fwt_privkey *key, int pure);
enum fwt_sig_alg fwt_privkey_sig_alg(const fwt_privkey *key, int pure);

/* Public keys: a PEM file (public or private), or a "pkcs11:" URI. */
FWT_MUST_CHECK fwt_err fwt_pubkey_load(const char *spec, const struct fwt_key_opts *opts,
                                       fwt_pubkey **out);
/* From the MCUboot encoding (SPKI DER, or PKCS#1 DER for RSA). */
FWT_MUST_CHECK fwt_err fwt_pubkey_from_mcuboot(const uint8_t *der, size_t len, fwt_pubkey **out);
/* From raw bytes as fwt_pubkey_raw() gives them (TUF's ed25519 "public" hex decodes to these). */
FWT_MUST_CHECK fwt_err fwt_pubkey_from_raw(enum fwt_key_type type, const uint8_t *raw, size_t len,
                                           fwt_pubkey **out);
/* From PEM text (SPKI). */
FWT_MUST_CHECK fwt_err fwt_pubkey_from_pem(const char *pem, size_t len, fwt_pubkey **out);
void fwt_pubkey_free(fwt_pubkey *key);
enum fwt_key_type fwt_pubkey_type(const fwt_pubkey *key);
/* MCUboot encoding of the key (what KEYHASH hashes, and PUBKEY carries). */
FWT_MUST_CHECK fwt_err fwt_pubkey_mcuboot(const fwt_pubkey *key, uint8_t *out, size_t *len);
/* SHA-256 of the MCUboot encoding. */
FWT_MUST_CHECK fwt_err fwt_pubkey_keyhash(const fwt_pubkey *key, uint8_t out[32]);
/* PEM (SPKI) text, NUL-terminated, caller frees with free(). */
FWT_MUST_CHECK fwt_err fwt_pubkey_pem(const fwt_pubkey *key, char **pem);
/* Raw public key bytes: 32 for Ed25519; uncompressed point for ECDSA; PKCS#1 for RSA. */
FWT_MUST_CHECK fwt_err fwt_pubkey_raw(const fwt_pubkey *key, uint8_t *out, size_t *len);
/* Verify a whole-message signature (same rules as fwt_sign_message).
 * FWT_OK, or FWT_E_SIGNATURE. */
FWT_MUST_CHECK fwt_err fwt_verify_message(const fwt_pubkey *key, const uint8_t *msg, size_t msg_len,
                                          const uint8_t *sig, size_t sig_len);

/* Generate a key pair into a PEM file (mode 0600), optionally encrypted. */
FWT_MUST_CHECK fwt_err fwt_keygen_file(enum fwt_key_type type, const char *path,
                                       const char *passphrase_file);
/* Generate a non-extractable key pair in a PKCS#11 token. */
FWT_MUST_CHECK fwt_err fwt_keygen_pkcs11(enum fwt_key_type type, const char *uri,
                                         const struct fwt_key_opts *opts);

/* Is this public key one of the well-known published sample keys? 1 yes, 0 no. */
int fwt_pubkey_is_test_key(const fwt_pubkey *key);

/*
 * The algorithm tables (fwt_alg.h) with every column: the row, or NULL when
 * there is none. fwt_alg_at(i) walks the signature rows (NULL past the last).
 */
const struct fwt_hash_desc *fwt_hash_by_alg(enum fwt_hash_alg alg);
const struct fwt_hash_desc *fwt_hash_by_name(const char *name); /* "sha256" */
const struct fwt_hash_desc *fwt_hash_by_size(size_t size);
const struct fwt_hash_desc *fwt_hash_by_tlv(uint16_t tlv);
const char *fwt_hash_name(enum fwt_hash_alg alg); /* "sha256" ...; "none" */
/* The OpenSSL digest (const EVP_MD *) of a hash algorithm of the table; NULL: none. */
struct evp_md_st;
const struct evp_md_st *fwt_hash_md(enum fwt_hash_alg alg);
const struct fwt_alg_desc *fwt_alg_by_key(enum fwt_key_type key);
const struct fwt_alg_desc *fwt_alg_by_name(const char *name); /* "ecdsa-p256" */
const struct fwt_alg_desc *fwt_alg_by_sig(enum fwt_sig_alg sig); /* digest or pure */
const struct fwt_alg_desc *fwt_alg_at(size_t i);
/* "ed25519, ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072": the names, for messages. */
const char *fwt_alg_names(void);

/* "ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072" (the table's names); and back. */
const char *fwt_key_type_name(enum fwt_key_type type);
enum fwt_key_type fwt_key_type_from_name(const char *name);

/*
 * The OpenSSL backend of the verifier core's crypto operations. Fill ops with
 * fwt_openssl_ops_init(); release with fwt_openssl_ops_free().
 */
struct fwt_openssl_ctx;
FWT_MUST_CHECK fwt_err fwt_openssl_ops_init(struct fwt_crypto_ops *ops);
void fwt_openssl_ops_free(struct fwt_crypto_ops *ops);

/* Hashing helpers. */
FWT_MUST_CHECK fwt_err fwt_sha256(const void *data, size_t len, uint8_t out[32]);

/*
 * A PEM certificate signing request (PKCS#10) for key, subject CN=cn (1..64
 * bytes), signed through fwt_sign_message (so a token key signs it in the
 * token): ECDSA (SHA-256 for P-256, SHA-384 for P-384) or Ed25519; other key
 * types FWT_E_UNSUPPORTED. *pem NUL-terminated, free().
 */
FWT_MUST_CHECK fwt_err fwt_privkey_csr(fwt_privkey *key, const char *cn, char **pem);
/*
 * Check a PEM X.509 certificate: it certifies key (when not NULL), its subject
 * CN is cn (when not NULL); *not_after (may be NULL) gets its expiry (seconds
 * since 1970). FWT_E_CERT naming what differs. Chain and validity are the TLS
 * layer's business, not checked here.
 */
FWT_MUST_CHECK fwt_err fwt_x509_check(const char *pem, size_t len, const fwt_pubkey *key, const char *cn,
                                      int64_t *not_after);

/* len bytes from the cryptographic random generator (nonces, serials). */
FWT_MUST_CHECK fwt_err fwt_random(void *buf, size_t len);

/* Wipe memory that held secrets (not optimised away). */
void fwt_zeroize(void *p, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* FWT_CRYPTO_H */
