/*
 * Boot-key certificate issuing (encoding: include/fwtrust/fwt_cert.h). The
 * root signs the SHA-256 of the to-be-signed bytes with fwt_sign_digest, the
 * way the verifier core (src/core/cert.c) checks it: Ed25519 over the 32
 * digest bytes, ECDSA (P-256 and P-384 alike) over the 32-byte SHA-256
 * prehash, RSA-PSS with SHA-256. Every certificate is parsed back and checked
 * by the core before it is handed out.
 */
#include "keys_priv.h"

#include <openssl/evp.h>
#include <string.h>

#define CERT_SIG_MAX 512U /* the core's FWT_SIG_MAX */

/* The algorithm a root of this type signs certificates with (the table's digest signature). */
static enum fwt_sig_alg root_alg(enum fwt_key_type t)
{
    const struct fwt_alg_desc *a = fwt_alg_by_key(t);
    return a ? a->sig : FWT_SIG_NONE;
}

static void put_le16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* The root's signature over the 32-byte SHA-256 of the to-be-signed bytes (every root type). */
static fwt_err root_sign(fwt_privkey *root, const uint8_t h[32], uint8_t *sig, size_t *sig_len)
{
    return fwt_sign_digest(root, h, 32, sig, sig_len);
}

/* Check a freshly made certificate the way a device does (core verifier, root as the only trust). */
static fwt_err self_check(const uint8_t *cert, size_t len, const uint8_t *root_enc, size_t root_len,
                          enum fwt_key_type root_type, const struct fwt_cert_req *req,
                          const uint8_t *key_enc, size_t key_len)
{
    struct fwt_cert parsed;
    fwt_err e = fwt_cert_parse(cert, len, &parsed);
    if (e != FWT_OK) {
        return fwt_fail(FWT_E_INTERNAL, "issued certificate does not parse (%s)", fwt_err_name(e));
    }
    if (parsed.key_version != req->key_version || parsed.not_after != req->not_after ||
        parsed.key_len != key_len || memcmp(parsed.key, key_enc, key_len) != 0 ||
        parsed.hw_id_len != req->hw_id_len ||
        (req->hw_id_len && memcmp(parsed.hw_id, req->hw_id, req->hw_id_len) != 0)) {
        return fwt_fail(FWT_E_INTERNAL, "issued certificate does not carry the requested fields");
    }
    struct fwt_crypto_ops ops;
    memset(&ops, 0, sizeof(ops));
    e = fwt_openssl_ops_init(&ops);
    if (e != FWT_OK) {
        return e;
    }
    struct fwt_trusted_key root = {root_type, root_enc, root_len};
    struct fwt_policy pol;
    memset(&pol, 0, sizeof(pol));
    pol.roots = &root;
    pol.n_roots = 1;
    pol.threshold = 1;
    e = fwt_cert_verify(cert, len, &ops, &pol, &parsed);
    fwt_openssl_ops_free(&ops);
    if (e != FWT_OK) {
        return fwt_fail(e == FWT_E_CERT ? FWT_E_SIGNATURE : e,
                        "the root's signature on the new certificate does not verify (%s); "
                        "nothing written",
                        fwt_err_name(e));
    }
    return FWT_OK;
}

fwt_err fwt_cert_issue(fwt_privkey *root, const fwt_pubkey *key, const struct fwt_cert_req *req,
                       uint8_t *out, size_t *out_len)
{
    if (!root || !key || !req || !out || !out_len) {
        return fwt_fail(FWT_E_ARG, "fwt_cert_issue: missing argument");
    }
    if (req->hw_id_len > FWT_HW_ID_MAX || (req->hw_id_len && !req->hw_id)) {
        return fwt_fail(FWT_E_ARG, "hardware id must be 1 to %u bytes", FWT_HW_ID_MAX);
    }
    enum fwt_key_type rt = fwt_privkey_type(root);
    enum fwt_sig_alg alg = root_alg(rt);
    enum fwt_key_type kt = fwt_pubkey_type(key);
    if (alg == FWT_SIG_NONE) {
        return fwt_fail(FWT_E_KEY, "the root key's type cannot sign certificates");
    }
    if (root_alg(kt) == FWT_SIG_NONE) {
        return fwt_fail(FWT_E_KEY, "the signing key's type cannot be certified");
    }
    fwt_pubkey *root_pub = NULL;
    uint8_t root_enc[FWT_PUBKEY_MAX], key_enc[FWT_PUBKEY_MAX];
    size_t root_len = sizeof(root_enc), key_len = sizeof(key_enc);
    uint8_t cert[FWT_CERT_MAX];
    fwt_err e = fwt_privkey_public(root, &root_pub);
    if (e == FWT_OK) {
        e = fwt_pubkey_mcuboot(root_pub, root_enc, &root_len);
    }
    if (e == FWT_OK && fwt_pubkey_is_test_key(root_pub) && !req->allow_test_key) {
        e = fwt_fail(FWT_E_TEST_KEY, "the root is a published sample key: anyone can forge its "
                                     "certificates (tests only: allow it explicitly)");
    }
    fwt_pubkey_free(root_pub);
    if (e != FWT_OK) {
        return e;
    }
    if (fwt_pubkey_is_test_key(key) && !req->allow_test_key) {
        return fwt_fail(FWT_E_TEST_KEY, "the signing key is a published sample key (tests only: "
                                        "allow it explicitly)");
    }
    if ((e = fwt_pubkey_mcuboot(key, key_enc, &key_len)) != FWT_OK) {
        return e;
    }
    if (key_len == 0 || key_len > FWT_PUBKEY_MAX) {
        return fwt_fail(FWT_E_KEY, "signing key encoding of %zu bytes does not fit a certificate",
                        key_len);
    }
    size_t tbs = FWT_CERT_FIXED_SIZE + req->hw_id_len + key_len;
    memcpy(cert, FWT_CERT_MAGIC, 4);
    cert[4] = FWT_CERT_VERSION;
    cert[5] = (uint8_t)kt;
    cert[6] = (uint8_t)alg;
    cert[7] = 0;
    put_le32(cert + 8, req->key_version);
    put_le64(cert + 12, req->not_after);
    if ((e = fwt_sha256(root_enc, root_len, cert + 20)) != FWT_OK) {
        return e;
    }
    put_le16(cert + 52, req->hw_id_len);
    put_le16(cert + 54, key_len);
    if (req->hw_id_len) {
        memcpy(cert + FWT_CERT_FIXED_SIZE, req->hw_id, req->hw_id_len);
    }
    memcpy(cert + FWT_CERT_FIXED_SIZE + req->hw_id_len, key_enc, key_len);
    uint8_t h[32], sig[CERT_SIG_MAX];
    size_t sig_len = fwt_privkey_sig_max(root);
    if (sig_len == 0 || sig_len > sizeof(sig)) {
        sig_len = sizeof(sig);
    }
    if ((e = fwt_sha256(cert, tbs, h)) != FWT_OK) {
        return e;
    }
    if ((e = root_sign(root, h, sig, &sig_len)) != FWT_OK) {
        return e;
    }
    if (sig_len == 0 || sig_len > CERT_SIG_MAX || tbs + 2 + sig_len > FWT_CERT_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE, "certificate of %zu bytes is larger than %u",
                        tbs + 2 + sig_len, FWT_CERT_MAX);
    }
    put_le16(cert + tbs, sig_len);
    memcpy(cert + tbs + 2, sig, sig_len);
    size_t total = tbs + 2 + sig_len;
    if (total > *out_len) {
        return fwt_fail(FWT_E_BUFFER, "certificate needs %zu bytes, buffer has %zu", total,
                        *out_len);
    }
    if ((e = self_check(cert, total, root_enc, root_len, rt, req, key_enc, key_len)) != FWT_OK) {
        return e;
    }
    memcpy(out, cert, total);
    *out_len = total;
    return FWT_OK;
}
