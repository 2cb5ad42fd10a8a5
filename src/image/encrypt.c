/*
 * Encrypted images, MCUboot's scheme (mcu-tools/mcuboot docs/encrypted_images.md,
 * boot/bootutil/src/encrypted.c, scripts/imgtool/image.py), all through OpenSSL:
 *
 *   payload   AES-128/256-CTR under a random key, nonce 0, counter = the
 *             big-endian number of the 16-byte block from the payload start
 *   ENC_RSA2048  RSA-OAEP (SHA-256, MGF1-SHA-256, no label) of the key
 *   ENC_KW       AES key wrap (RFC 3394) of the key with a key-encryption key
 *   ENC_EC256 / ENC_X25519 / ENC_X25519_SHA512   ECIES: an ephemeral key pair,
 *             ECDH with the device key, HKDF (no salt, info "MCUBoot_ECIES_v1",
 *             SHA-256, or SHA-512 for _SHA512) to key_len + tag_len bytes:
 *             the first key_len encrypt the key (AES-CTR, nonce 0), the rest
 *             key an HMAC over the encrypted key. TLV: ephemeral public key
 *             (P-256 uncompressed, 65; X25519 raw, 32) | tag | encrypted key.
 *
 * The hash and signatures cover the plaintext; the verifier core checks them
 * through a reader that decrypts (struct fwt_decrypt_io, FWT_IO_PLAINTEXT).
 */
#include "image_internal.h"

#include <ctype.h>
#include <strings.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#define ECIES_INFO "MCUBoot_ECIES_v1"
#define CHUNK (256U * 1024U)

struct fwt_enckey {
    enum fwt_enckey_kind kind;
    int has_private;
    EVP_PKEY *pkey;   /* RSA, EC, X25519 (a token key: its public half) */
    fwt_privkey *tok; /* a key in a PKCS#11 token (RSA-2048 or P-256) */
    uint8_t kek[32];  /* AES-KW */
    size_t kek_len;
    char name[16];
};

/* ---- keys ---- */

static int no_passphrase(char *buf, int size, int rw, void *u)
{
    (void)buf;
    (void)size;
    (void)rw;
    (void)u;
    return -1; /* never prompt: encrypted PEM files are refused */
}

static fwt_err classify(fwt_enckey *k, const char *path)
{
    EVP_PKEY *p = k->pkey;
    if (EVP_PKEY_is_a(p, "RSA")) {
        if (EVP_PKEY_get_bits(p) != 2048) {
            return fwt_fail(FWT_E_KEY, "%s: RSA-%d key; MCUboot encrypts image keys with RSA-2048 "
                            "only", path, EVP_PKEY_get_bits(p));
        }
        k->kind = FWT_ENCKEY_RSA2048;
        snprintf(k->name, sizeof(k->name), "RSA-2048");
        return FWT_OK;
    }
    if (EVP_PKEY_is_a(p, "X25519")) {
        k->kind = FWT_ENCKEY_X25519;
        snprintf(k->name, sizeof(k->name), "X25519");
        return FWT_OK;
    }
    if (EVP_PKEY_is_a(p, "EC")) {
        char group[64] = "";
        size_t gl = 0;
        if (EVP_PKEY_get_utf8_string_param(p, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                           &gl) == 1 &&
            (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))) {
            k->kind = FWT_ENCKEY_EC256;
            snprintf(k->name, sizeof(k->name), "EC P-256");
            return FWT_OK;
        }
        return fwt_fail(FWT_E_KEY, "%s: EC key on curve '%s'; MCUboot's ECIES uses P-256 only",
                        path, group[0] ? group : "?");
    }
    return fwt_fail(FWT_E_KEY, "%s: a %s key is not an image-encryption key (RSA-2048, EC P-256, "
                    "X25519 or an AES key-wrap key)", path, EVP_PKEY_get0_type_name(p));
}

/* base64 text of 16, 24 or 32 bytes (whitespace ignored): an AES-KW key. */
static int parse_kw(const uint8_t *buf, size_t len, uint8_t kek[32], size_t *kek_len)
{
    char text[128];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (isspace(buf[i])) {
            continue;
        }
        if (n + 1 >= sizeof(text)) {
            return -1;
        }
        text[n++] = (char)buf[i];
    }
    text[n] = 0;
    if (n == 0 || n % 4 != 0) {
        return -1;
    }
    uint8_t out[96];
    int r = EVP_DecodeBlock(out, (const unsigned char *)text, (int)n);
    if (r < 0) {
        return -1;
    }
    size_t pad = (text[n - 1] == '=') + (n > 1 && text[n - 2] == '=');
    size_t got = (size_t)r - pad;
    if (got != 16 && got != 24 && got != 32) {
        OPENSSL_cleanse(out, sizeof(out));
        return -1;
    }
    memcpy(kek, out, got);
    *kek_len = got;
    OPENSSL_cleanse(out, sizeof(out));
    OPENSSL_cleanse(text, sizeof(text));
    return 0;
}

/* A decryption key in a PKCS#11 token: the private operations stay in it. */
static fwt_err load_token(const char *uri, const struct fwt_key_opts *ko, fwt_enckey *k)
{
    fwt_err e = fwt_privkey_load(uri, ko, &k->tok);
    if (e != FWT_OK) {
        return e;
    }
    enum fwt_key_type t = fwt_privkey_type(k->tok);
    if (t != FWT_KEY_RSA2048 && t != FWT_KEY_ECDSA_P256) {
        return fwt_fail(FWT_E_KEY, "%s: a %s token key cannot decrypt MCUboot images (RSA-2048 "
                        "or EC P-256 keys can)", uri, fwt_key_type_name(t));
    }
    fwt_pubkey *pub = NULL;
    char *pem = NULL;
    e = fwt_privkey_public(k->tok, &pub);
    if (e == FWT_OK) {
        e = fwt_pubkey_pem(pub, &pem);
    }
    fwt_pubkey_free(pub);
    if (e == FWT_OK) {
        BIO *b = BIO_new_mem_buf(pem, -1);
        k->pkey = b ? PEM_read_bio_PUBKEY(b, NULL, no_passphrase, NULL) : NULL;
        BIO_free(b);
        e = k->pkey ? FWT_OK : fwt_fail(FWT_E_KEY, "%s: cannot read its public key", uri);
    }
    free(pem);
    if (e != FWT_OK) {
        return e;
    }
    k->kind = t == FWT_KEY_RSA2048 ? FWT_ENCKEY_RSA2048 : FWT_ENCKEY_EC256;
    k->has_private = 1;
    snprintf(k->name, sizeof(k->name), "%s", t == FWT_KEY_RSA2048 ? "RSA-2048" : "EC P-256");
    return FWT_OK;
}

fwt_err fwt_enckey_load(const char *path, fwt_enckey **out)
{
    return fwt_enckey_load_ex(path, NULL, out);
}

fwt_err fwt_enckey_load_ex(const char *path, const struct fwt_key_opts *ko, fwt_enckey **out)
{
    if (!path || !out) {
        return fwt_fail(FWT_E_ARG, "fwt_enckey_load: missing argument");
    }
    *out = NULL;
    if (strncasecmp(path, "pkcs11:", 7) == 0) {
        struct fwt_key_opts none;
        memset(&none, 0, sizeof(none));
        fwt_enckey *k = calloc(1, sizeof(*k));
        fwt_err e = k ? load_token(path, ko ? ko : &none, k) : fwt_fail(FWT_E_NOMEM, "out of memory");
        if (e != FWT_OK) {
            fwt_enckey_free(k);
            return e;
        }
        *out = k;
        return FWT_OK;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    fwt_err e = fwt_read_file(path, 64 * 1024, &buf, &len);
    if (e != FWT_OK) {
        return e;
    }
    fwt_enckey *k = calloc(1, sizeof(*k));
    if (!k) {
        OPENSSL_clear_free(buf, len);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    int pem = 0;
    for (size_t i = 0; i + 10 <= len && !pem; i++) {
        pem = memcmp(buf + i, "-----BEGIN", 10) == 0;
    }
    if (pem) {
        BIO *b = BIO_new_mem_buf(buf, (int)len);
        k->pkey = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
        if (k->pkey) {
            k->has_private = 1;
        } else if (b && BIO_reset(b) == 1) {
            k->pkey = PEM_read_bio_PUBKEY(b, NULL, no_passphrase, NULL);
        }
        BIO_free(b);
        e = k->pkey ? classify(k, path)
                    : fwt_fail(FWT_E_KEY, "%s: not a PEM private or public key (an encrypted PEM "
                               "key is not accepted here)", path);
    } else if (parse_kw(buf, len, k->kek, &k->kek_len) == 0) {
        k->kind = FWT_ENCKEY_KW;
        k->has_private = 1; /* a symmetric key: the same secret wraps and unwraps */
        snprintf(k->name, sizeof(k->name), "AES-KW-%zu", 8 * k->kek_len);
    } else {
        e = fwt_fail(FWT_E_KEY, "%s: neither a PEM key nor the base64 of a 16, 24 or 32-byte "
                     "AES key-wrap key", path);
    }
    OPENSSL_clear_free(buf, len);
    if (e != FWT_OK) {
        fwt_enckey_free(k);
        return e;
    }
    *out = k;
    return FWT_OK;
}

void fwt_enckey_free(fwt_enckey *k)
{
    if (k) {
        EVP_PKEY_free(k->pkey);
        fwt_privkey_free(k->tok);
        OPENSSL_cleanse(k, sizeof(*k));
        free(k);
    }
}

enum fwt_enckey_kind fwt_enckey_kind(const fwt_enckey *k)
{
    return k->kind;
}

int fwt_enckey_has_private(const fwt_enckey *k)
{
    return k->has_private;
}

const char *fwt_enckey_name(const fwt_enckey *k)
{
    return k->name;
}

/* ---- AES-CTR ---- */

fwt_err fwt_ctr_start(struct fwt_ctr *c, const uint8_t *key, size_t key_len, uint64_t off)
{
    const EVP_CIPHER *ciph = key_len == 16 ? EVP_aes_128_ctr() : key_len == 32 ? EVP_aes_256_ctr()
                                                                                : NULL;
    if (!ciph) {
        return fwt_fail(FWT_E_INTERNAL, "AES key of %zu bytes", key_len);
    }
    if (!c->ctx && !(c->ctx = EVP_CIPHER_CTX_new())) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    uint8_t iv[16] = {0};
    uint64_t blk = off / 16;
    for (int i = 0; i < 8; i++) {
        iv[15 - i] = (uint8_t)(blk >> (8 * i));
    }
    if (EVP_EncryptInit_ex(c->ctx, ciph, NULL, key, iv) != 1) {
        return fwt_fail(FWT_E_CRYPTO, "AES-CTR init failed");
    }
    uint8_t skip[16] = {0};
    return fwt_ctr_xor(c, skip, (size_t)(off % 16)); /* into the block */
}

fwt_err fwt_ctr_xor(struct fwt_ctr *c, uint8_t *buf, size_t len)
{
    while (len > 0) {
        int n = len > (1U << 30) ? (1 << 30) : (int)len, outl = 0;
        if (EVP_EncryptUpdate(c->ctx, buf, &outl, buf, n) != 1 || outl != n) {
            return fwt_fail(FWT_E_CRYPTO, "AES-CTR failed");
        }
        buf += n;
        len -= (size_t)n;
    }
    return FWT_OK;
}

void fwt_ctr_free(struct fwt_ctr *c)
{
    EVP_CIPHER_CTX_free(c->ctx); /* clears the key schedule */
    c->ctx = NULL;
}

/* ---- the key TLV ---- */

static fwt_err ecies_kdf(uint8_t *shared, size_t shared_len, const char *md_name, uint8_t *out,
                         size_t out_len)
{
    char md[8];
    snprintf(md, sizeof(md), "%s", md_name);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    OSSL_PARAM p[4];
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, shared, shared_len);
    p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)ECIES_INFO,
                                             sizeof(ECIES_INFO) - 1);
    p[3] = OSSL_PARAM_construct_end();
    int ok = kc && EVP_KDF_derive(kc, out, out_len, p) == 1;
    EVP_KDF_CTX_free(kc);
    return ok ? FWT_OK : fwt_fail(FWT_E_CRYPTO, "HKDF failed");
}

static fwt_err hmac(const char *md, const uint8_t *key, size_t key_len, const uint8_t *data,
                    size_t len, uint8_t *out, size_t out_len)
{
    size_t got = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, key, key_len, data, len, out, out_len, &got) ||
        got != out_len) {
        return fwt_fail(FWT_E_CRYPTO, "HMAC failed");
    }
    return FWT_OK;
}

/* AES-CTR with nonce 0 over a short buffer (the image key under the ECIES key). */
static fwt_err ctr0(const uint8_t *key, size_t key_len, uint8_t *buf, size_t len)
{
    struct fwt_ctr c = {NULL};
    fwt_err e = fwt_ctr_start(&c, key, key_len, 0);
    if (e == FWT_OK) {
        e = fwt_ctr_xor(&c, buf, len);
    }
    fwt_ctr_free(&c);
    return e;
}

static fwt_err ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *shared, size_t *len)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    int ok = c && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 &&
             EVP_PKEY_derive(c, shared, len) == 1 && *len == 32;
    EVP_PKEY_CTX_free(c);
    return ok ? FWT_OK : fwt_fail(FWT_E_KEY, "key agreement with the image's ephemeral key failed");
}

static EVP_PKEY *ec_point_key(const uint8_t *pt, size_t len)
{
    uint8_t point[65];
    if (len != sizeof(point) || pt[0] != 0x04) {
        return NULL;
    }
    memcpy(point, pt, sizeof(point));
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    OSSL_PARAM p[3];
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
    p[2] = OSSL_PARAM_construct_end();
    if (!pc || EVP_PKEY_fromdata_init(pc) != 1 || EVP_PKEY_fromdata(pc, &k, EVP_PKEY_PUBLIC_KEY, p) != 1) {
        k = NULL;
    }
    EVP_PKEY_CTX_free(pc);
    if (k) {
        EVP_PKEY_CTX *cc = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
        int ok = cc && EVP_PKEY_public_check(cc) == 1; /* on the curve, not infinity */
        EVP_PKEY_CTX_free(cc);
        if (!ok) {
            EVP_PKEY_free(k);
            k = NULL;
        }
    }
    return k;
}

static const char *tlv_name(uint16_t t)
{
    switch (t) {
    case FWT_TLV_ENC_RSA2048:
        return "ENC_RSA2048";
    case FWT_TLV_ENC_KW:
        return "ENC_KW";
    case FWT_TLV_ENC_EC256:
        return "ENC_EC256";
    case FWT_TLV_ENC_X25519:
        return "ENC_X25519";
    case FWT_TLV_ENC_X25519_SHA512:
        return "ENC_X25519_SHA512";
    default:
        return "?";
    }
}

/* The key kind that opens an ENC_* TLV. */
static enum fwt_enckey_kind kind_for_tlv(uint16_t t)
{
    switch (t) {
    case FWT_TLV_ENC_RSA2048:
        return FWT_ENCKEY_RSA2048;
    case FWT_TLV_ENC_KW:
        return FWT_ENCKEY_KW;
    case FWT_TLV_ENC_EC256:
        return FWT_ENCKEY_EC256;
    default:
        return FWT_ENCKEY_X25519;
    }
}

static const EVP_CIPHER *kw_cipher(size_t kek_len)
{
    return kek_len == 16 ? EVP_aes_128_wrap() : kek_len == 24 ? EVP_aes_192_wrap()
                                                              : EVP_aes_256_wrap();
}

/* Unwrap the image key from the TLV value (its length the parser checked). */
static fwt_err enc_unwrap(const fwt_enckey *k, uint16_t tlv, const uint8_t *val, size_t len,
                          size_t key_len, uint8_t *key)
{
    if (fwt_enc_tlv_len(tlv, (uint32_t)key_len) != len) {
        return fwt_fail(FWT_E_MALFORMED, "%s TLV of %zu bytes, %u expected", tlv_name(tlv), len,
                        (unsigned)fwt_enc_tlv_len(tlv, (uint32_t)key_len));
    }
    if (k->kind != kind_for_tlv(tlv)) {
        return fwt_fail(FWT_E_KEY, "the image's key is in a %s TLV, which the %s key given "
                        "cannot open", tlv_name(tlv), k->name);
    }
    if (!k->has_private) {
        return fwt_fail(FWT_E_KEY, "decrypting needs the private %s key, not the public one",
                        k->name);
    }
    fwt_err e = FWT_OK;
    switch (tlv) {
    case FWT_TLV_ENC_RSA2048: {
        uint8_t out[256];
        size_t ol = sizeof(out);
        if (k->tok) {
            e = fwt_privkey_decrypt_oaep(k->tok, val, len, out, &ol);
            if (e == FWT_OK && ol != key_len) {
                e = fwt_fail(FWT_E_KEY, "ENC_RSA2048: a %zu-byte key, %zu expected", ol, key_len);
            }
            if (e == FWT_OK) {
                memcpy(key, out, key_len);
            }
            OPENSSL_cleanse(out, sizeof(out));
            return e;
        }
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
        int ok = c && EVP_PKEY_decrypt_init(c) == 1 &&
                 EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
                 EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1 &&
                 EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) == 1 &&
                 EVP_PKEY_decrypt(c, out, &ol, val, len) == 1 && ol == key_len;
        EVP_PKEY_CTX_free(c);
        if (ok) {
            memcpy(key, out, key_len);
        } else {
            e = fwt_fail(FWT_E_KEY, "ENC_RSA2048: RSA-OAEP decryption failed: not the key this "
                         "image was encrypted for, or an altered key TLV");
        }
        OPENSSL_cleanse(out, sizeof(out));
        return e;
    }
    case FWT_TLV_ENC_KW: {
        uint8_t out[48];
        int ol = 0, fl = 0;
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        if (c) {
            EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        }
        int ok = c && EVP_DecryptInit_ex(c, kw_cipher(k->kek_len), NULL, k->kek, NULL) == 1 &&
                 EVP_DecryptUpdate(c, out, &ol, val, (int)len) == 1 &&
                 EVP_DecryptFinal_ex(c, out + ol, &fl) == 1 && (size_t)(ol + fl) == key_len;
        EVP_CIPHER_CTX_free(c);
        if (ok) {
            memcpy(key, out, key_len);
        } else {
            e = fwt_fail(FWT_E_KEY, "ENC_KW: the key does not unwrap (RFC 3394 integrity check "
                         "failed): not the key-encryption key of this image, or an altered TLV");
        }
        OPENSSL_cleanse(out, sizeof(out));
        return e;
    }
    default: { /* ECIES */
        int sha512 = tlv == FWT_TLV_ENC_X25519_SHA512;
        size_t pub_len = tlv == FWT_TLV_ENC_EC256 ? 65 : 32, tag_len = sha512 ? 64 : 32;
        const char *md = sha512 ? "SHA512" : "SHA256";
        EVP_PKEY *peer = tlv == FWT_TLV_ENC_EC256
                             ? ec_point_key(val, pub_len)
                             : EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, val, pub_len);
        if (!peer) {
            return fwt_fail(FWT_E_KEY, "%s: the ephemeral public key is not a valid point",
                            tlv_name(tlv));
        }
        uint8_t shared[32], derived[32 + 64], tag[64];
        size_t sl = sizeof(shared);
        e = k->tok ? fwt_privkey_ecdh_p256(k->tok, val, pub_len, shared) /* in the token */
                   : ecdh(k->pkey, peer, shared, &sl);
        EVP_PKEY_free(peer);
        if (e == FWT_OK) {
            e = ecies_kdf(shared, sl, md, derived, key_len + tag_len);
        }
        const uint8_t *ck = val + pub_len + tag_len;
        if (e == FWT_OK) {
            e = hmac(md, derived + key_len, tag_len, ck, key_len, tag, tag_len);
        }
        if (e == FWT_OK && CRYPTO_memcmp(tag, val + pub_len, tag_len) != 0) {
            e = fwt_fail(FWT_E_KEY, "%s: HMAC tag mismatch: not the key this image was encrypted "
                         "for, or an altered key TLV", tlv_name(tlv));
        }
        if (e == FWT_OK) {
            memcpy(key, ck, key_len);
            e = ctr0(derived, key_len, key, key_len);
        }
        OPENSSL_cleanse(shared, sizeof(shared));
        OPENSSL_cleanse(derived, sizeof(derived));
        return e;
    }
    }
}

fwt_err fwt_enc_wrap(const fwt_enckey *k, int sha512, const uint8_t *key, size_t key_len,
                     uint16_t *tlv, uint8_t *out, size_t *out_len)
{
    if (key_len != 16 && key_len != 32) {
        return fwt_fail(FWT_E_ARG, "AES key of %zu bytes: 16 or 32", key_len);
    }
    if (sha512 && k->kind != FWT_ENCKEY_X25519) {
        return fwt_fail(FWT_E_ARG, "HMAC-SHA512 is defined for ECIES-X25519 only, not for a %s key",
                        k->name);
    }
    fwt_err e = FWT_OK;
    switch (k->kind) {
    case FWT_ENCKEY_RSA2048: {
        size_t ol = *out_len;
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
        int ok = c && EVP_PKEY_encrypt_init(c) == 1 &&
                 EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
                 EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1 &&
                 EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) == 1 &&
                 EVP_PKEY_encrypt(c, out, &ol, key, key_len) == 1 && ol == 256;
        EVP_PKEY_CTX_free(c);
        *tlv = FWT_TLV_ENC_RSA2048;
        *out_len = ol;
        return ok ? FWT_OK : fwt_fail(FWT_E_CRYPTO, "RSA-OAEP encryption of the image key failed");
    }
    case FWT_ENCKEY_KW: {
        int ol = 0, fl = 0;
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        if (c) {
            EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        }
        int ok = *out_len >= key_len + 8 && c &&
                 EVP_EncryptInit_ex(c, kw_cipher(k->kek_len), NULL, k->kek, NULL) == 1 &&
                 EVP_EncryptUpdate(c, out, &ol, key, (int)key_len) == 1 &&
                 EVP_EncryptFinal_ex(c, out + ol, &fl) == 1 && (size_t)(ol + fl) == key_len + 8;
        EVP_CIPHER_CTX_free(c);
        *tlv = FWT_TLV_ENC_KW;
        *out_len = key_len + 8;
        return ok ? FWT_OK : fwt_fail(FWT_E_CRYPTO, "AES key wrap of the image key failed");
    }
    case FWT_ENCKEY_EC256:
    case FWT_ENCKEY_X25519: {
        int ec = k->kind == FWT_ENCKEY_EC256;
        size_t pub_len = ec ? 65 : 32, tag_len = sha512 ? 64 : 32;
        const char *md = sha512 ? "SHA512" : "SHA256";
        *tlv = ec ? FWT_TLV_ENC_EC256 : sha512 ? FWT_TLV_ENC_X25519_SHA512 : FWT_TLV_ENC_X25519;
        if (*out_len < pub_len + tag_len + key_len) {
            return fwt_fail(FWT_E_INTERNAL, "ENC TLV buffer too small");
        }
        EVP_PKEY *eph = ec ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                           : EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
        if (!eph) {
            return fwt_fail(FWT_E_CRYPTO, "cannot generate the ephemeral key");
        }
        size_t pl = pub_len;
        int ok = ec ? EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out,
                                                      pub_len, &pl) == 1
                    : EVP_PKEY_get_raw_public_key(eph, out, &pl) == 1;
        if (!ok || pl != pub_len || (ec && out[0] != 0x04)) {
            EVP_PKEY_free(eph);
            return fwt_fail(FWT_E_CRYPTO, "cannot encode the ephemeral public key");
        }
        uint8_t shared[32], derived[32 + 64];
        size_t sl = sizeof(shared);
        e = ecdh(eph, k->pkey, shared, &sl);
        EVP_PKEY_free(eph);
        if (e == FWT_OK) {
            e = ecies_kdf(shared, sl, md, derived, key_len + tag_len);
        }
        uint8_t *ck = out + pub_len + tag_len;
        if (e == FWT_OK) {
            memcpy(ck, key, key_len);
            e = ctr0(derived, key_len, ck, key_len);
        }
        if (e == FWT_OK) {
            e = hmac(md, derived + key_len, tag_len, ck, key_len, out + pub_len, tag_len);
        }
        OPENSSL_cleanse(shared, sizeof(shared));
        OPENSSL_cleanse(derived, sizeof(derived));
        *out_len = pub_len + tag_len + key_len;
        return e;
    }
    }
    return fwt_fail(FWT_E_INTERNAL, "unknown encryption key kind");
}

fwt_err fwt_enc_tlv_layout(uint16_t tlv, size_t len, size_t *pub_len, size_t *tag_len,
                           size_t *key_len)
{
    for (uint32_t kl = 16; kl <= 32; kl += 16) {
        if (fwt_enc_tlv_len(tlv, kl) == len && len != 0) {
            *pub_len = tlv == FWT_TLV_ENC_EC256 ? 65
                       : tlv == FWT_TLV_ENC_X25519 || tlv == FWT_TLV_ENC_X25519_SHA512 ? 32
                                                                                        : 0;
            *tag_len = tlv == FWT_TLV_ENC_X25519_SHA512 ? 64 : *pub_len ? 32 : 0;
            *key_len = len - *pub_len - *tag_len;
            return FWT_OK;
        }
    }
    return FWT_E_MALFORMED;
}

/* ---- the decrypting reader ---- */

static fwt_err dio_read(void *ctx, uint32_t off, void *buf, size_t len)
{
    struct fwt_decrypt_io *d = ctx;
    fwt_err e = d->src->read(d->src->ctx, off, buf, len);
    if (e != FWT_OK || d->clear || len == 0) {
        return e;
    }
    /* The overlap of [off, off + len) with the payload gets the key stream. */
    uint64_t a = off, b = (uint64_t)off + len;
    uint64_t pa = d->pay_off, pb = (uint64_t)d->pay_off + d->pay_len;
    uint64_t lo = a > pa ? a : pa, hi = b < pb ? b : pb;
    if (lo >= hi) {
        return FWT_OK;
    }
    struct fwt_ctr *c = d->ctr;
    e = fwt_ctr_start(c, d->key, d->key_len, lo - pa);
    if (e == FWT_OK) {
        e = fwt_ctr_xor(c, (uint8_t *)buf + (lo - a), (size_t)(hi - lo));
    }
    return e == FWT_OK ? FWT_OK : FWT_E_IO;
}

fwt_err fwt_decrypt_io_open(struct fwt_decrypt_io *d, const struct fwt_io *src,
                            const fwt_enckey *key, int clear, struct fwt_image_info *info)
{
    if (!d || !src || !src->read || !key) {
        return fwt_fail(FWT_E_ARG, "fwt_decrypt_io_open: missing argument");
    }
    memset(d, 0, sizeof(*d));
    struct fwt_image_info local;
    if (!info) {
        info = &local;
    }
    uint8_t *work = malloc(FWT_WORK_MIN);
    struct fwt_ctr *ctr = calloc(1, sizeof(*ctr));
    if (!work || !ctr) {
        free(work);
        free(ctr);
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    fwt_err e = fwt_image_parse(src, work, FWT_WORK_MIN, info);
    if (e != FWT_OK) {
        e = fwt_fail(e, "not a valid image (%s)%s", fwt_err_name(e),
                     e == FWT_E_MALFORMED && (info->hdr.flags & (FWT_IMAGE_F_ENCRYPTED_AES128 |
                                                                 FWT_IMAGE_F_ENCRYPTED_AES256))
                         ? ": an encrypted image needs exactly one ENC_* TLV of the length its "
                           "type and key size give"
                         : "");
    } else if (info->enc_key_len == 0) {
        e = fwt_fail(FWT_E_ARG, "the image is not encrypted (no ENCRYPTED flag): nothing to "
                     "decrypt");
    } else if (info->enc_tlv_len > FWT_ENC_TLV_MAX) {
        e = fwt_fail(FWT_E_MALFORMED, "ENC TLV of %u bytes", (unsigned)info->enc_tlv_len);
    }
    if (e == FWT_OK) {
        e = src->read(src->ctx, info->enc_tlv_off, work, info->enc_tlv_len);
        if (e != FWT_OK) {
            e = fwt_fail(e, "cannot read the ENC TLV");
        }
    }
    if (e == FWT_OK) {
        e = enc_unwrap(key, info->enc_tlv, work, info->enc_tlv_len, info->enc_key_len, d->key);
    }
    OPENSSL_cleanse(work, FWT_WORK_MIN);
    free(work);
    if (e != FWT_OK) {
        OPENSSL_cleanse(d->key, sizeof(d->key));
        free(ctr);
        return e;
    }
    d->key_len = info->enc_key_len;
    d->src = src;
    d->pay_off = info->hdr.hdr_size;
    d->pay_len = info->hdr.img_size;
    d->clear = clear;
    d->ctr = ctr;
    d->io.ctx = d;
    d->io.read = dio_read;
    d->io.size = src->size;
    d->io.flags = FWT_IO_PLAINTEXT;
    return FWT_OK;
}

void fwt_decrypt_io_close(struct fwt_decrypt_io *d)
{
    if (!d) {
        return;
    }
    if (d->ctr) {
        fwt_ctr_free(d->ctr);
        free(d->ctr);
    }
    OPENSSL_cleanse(d, sizeof(*d));
}

/* ---- files ---- */

#define VERIFY_WORK (1024U * 1024U)

fwt_err fwt_verify_file_decrypt(const char *path, const struct fwt_policy *policy,
                                const fwt_enckey *key, struct fwt_image_info *info, int *clear)
{
    struct fwt_image_info local;
    int cl_local = 0;
    if (!info) {
        info = &local;
    }
    if (!clear) {
        clear = &cl_local;
    }
    memset(info, 0, sizeof(*info));
    *clear = 0;
    if (!path || !policy || !key) {
        return fwt_fail(FWT_E_ARG, "fwt_verify_file_decrypt: missing argument");
    }
    struct fwt_file_io fio;
    fwt_err e = fwt_file_io_open_any(&fio, path);
    if (e != FWT_OK) {
        return e;
    }
    uint8_t *work = malloc(VERIFY_WORK);
    struct fwt_crypto_ops ops;
    memset(&ops, 0, sizeof(ops));
    int ops_ok = 0;
    if (!work) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
    } else if ((e = fwt_openssl_ops_init(&ops)) == FWT_OK) {
        ops_ok = 1;
    }
    struct fwt_image_info pi;
    memset(&pi, 0, sizeof(pi));
    if (e == FWT_OK && fwt_image_parse(&fio.io, work, VERIFY_WORK, &pi) == FWT_OK &&
        pi.enc_key_len == 0) {
        /* A plain image: the ordinary verification. */
        fwt_detail_clear();
        e = fwt_image_verify(&fio.io, &ops, policy, work, VERIFY_WORK, info);
        if (e != FWT_OK) {
            e = fwt_verify_explain(e, path, &fio.io, policy, info, work, VERIFY_WORK);
        }
    } else if (e == FWT_OK) {
        struct fwt_decrypt_io d;
        e = fwt_decrypt_io_open(&d, &fio.io, key, 0, NULL);
        if (e != FWT_OK) {
            e = fwt_fail(e, "%s: %s", path, fwt_detail());
        } else {
            fwt_detail_clear();
            e = fwt_image_verify(&d.io, &ops, policy, work, VERIFY_WORK, info);
            if (e == FWT_E_DIGEST) {
                /* Not ciphertext: an image stored in clear (--clear, or decrypted). */
                d.clear = 1;
                struct fwt_image_info ci;
                fwt_err e2 = fwt_image_verify(&d.io, &ops, policy, work, VERIFY_WORK, &ci);
                if (e2 != FWT_E_DIGEST) {
                    *info = ci;
                    *clear = 1;
                    e = e2;
                } else {
                    d.clear = 0; /* explain the decrypted view */
                }
            }
            if (e != FWT_OK) {
                e = fwt_verify_explain(e, path, &d.io, policy, info, work, VERIFY_WORK);
            }
            fwt_decrypt_io_close(&d);
        }
    }
    if (ops_ok) {
        fwt_openssl_ops_free(&ops);
    }
    free(work);
    fwt_file_io_close(&fio);
    return e;
}

/* Hash [0, len) of io with alg into out. */
static fwt_err digest_of(const struct fwt_io *io, enum fwt_hash_alg alg, uint32_t len,
                         uint8_t *buf, uint8_t *out, unsigned *out_len)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    fwt_err e = m && EVP_DigestInit_ex(m, fwt_hash_md(alg), NULL) == 1
                    ? FWT_OK
                    : fwt_fail(FWT_E_CRYPTO, "hash init failed");
    for (uint32_t off = 0; e == FWT_OK && off < len;) {
        size_t n = len - off > CHUNK ? CHUNK : len - off;
        e = io->read(io->ctx, off, buf, n);
        if (e == FWT_OK && EVP_DigestUpdate(m, buf, n) != 1) {
            e = fwt_fail(FWT_E_CRYPTO, "hashing failed");
        }
        off += (uint32_t)n;
    }
    if (e == FWT_OK && EVP_DigestFinal_ex(m, out, out_len) != 1) {
        e = fwt_fail(FWT_E_CRYPTO, "hashing failed");
    }
    EVP_MD_CTX_free(m);
    return e;
}

fwt_err fwt_decrypt_file(const char *in, const char *out, const fwt_enckey *key, unsigned flags,
                         struct fwt_image_info *info, int *clear)
{
    struct fwt_image_info local;
    int cl_local = 0;
    if (!info) {
        info = &local;
    }
    if (!clear) {
        clear = &cl_local;
    }
    memset(info, 0, sizeof(*info));
    *clear = 0;
    if (!in || !out || !key) {
        return fwt_fail(FWT_E_ARG, "fwt_decrypt_file: missing argument");
    }
    struct fwt_file_io fio;
    fwt_err e = fwt_file_io_open_any(&fio, in);
    if (e != FWT_OK) {
        return e;
    }
    uint8_t *buf = malloc(CHUNK);
    struct fwt_decrypt_io d;
    int d_open = 0;
    struct fwt_tmp_out tmp = {"", -1};
    if (!buf) {
        e = fwt_fail(FWT_E_NOMEM, "out of memory");
        goto done;
    }
    e = fwt_decrypt_io_open(&d, &fio.io, key, 0, info);
    if (e != FWT_OK) {
        e = fwt_fail(e, "%s: %s", in, fwt_detail());
        goto done;
    }
    d_open = 1;
    /* The plaintext must be the one the image was hashed over. */
    uint8_t dg[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    e = digest_of(&d.io, info->hash_alg, info->unprot_off, buf, dg, &dl);
    if (e == FWT_OK && (dl != info->digest_len || CRYPTO_memcmp(dg, info->digest, dl) != 0)) {
        d.clear = 1; /* stored in clear? */
        e = digest_of(&d.io, info->hash_alg, info->unprot_off, buf, dg, &dl);
        if (e == FWT_OK && dl == info->digest_len && CRYPTO_memcmp(dg, info->digest, dl) == 0) {
            *clear = 1;
        } else if (e == FWT_OK) {
            e = fwt_fail(FWT_E_DIGEST, "%s: the decrypted payload does not match the image's "
                         "hash: the payload was altered; nothing written", in);
        }
    }
    if (e != FWT_OK) {
        goto done;
    }
    e = fwt_tmp_create(&tmp, out);
    if (e != FWT_OK) {
        goto done;
    }
    /* The whole file (trailer and padding as they are), or the payload alone. */
    uint32_t from = (flags & FWT_DECRYPT_PAYLOAD) ? info->hdr.hdr_size : 0;
    uint32_t to = (flags & FWT_DECRYPT_PAYLOAD) ? info->hdr.hdr_size + info->hdr.img_size
                                                : fio.io.size;
    for (uint32_t off = from; e == FWT_OK && off < to;) {
        size_t n = to - off > CHUNK ? CHUNK : to - off;
        e = d.io.read(d.io.ctx, off, buf, n);
        if (e == FWT_OK) {
            e = fwt_img_write_all(tmp.fd, buf, n, tmp.name);
        } else {
            e = fwt_fail(e, "%s: read error", in);
        }
        off += (uint32_t)n;
    }
    if (e == FWT_OK) {
        e = fwt_tmp_publish(&tmp, out);
    }
done:
    fwt_tmp_discard(&tmp);
    if (d_open) {
        fwt_decrypt_io_close(&d);
    }
    if (buf) {
        OPENSSL_clear_free(buf, CHUNK);
    }
    fwt_file_io_close(&fio);
    return e;
}
