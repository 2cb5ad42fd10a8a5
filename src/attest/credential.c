/*
 * Enrollment on the verifier: the EK certificate and template check, the AK
 * template check, and TPM2_MakeCredential in software (TPM 2.0 Part 1,
 * "Credential Protection" and "Protected Storage"; Part 2 TPM2_MakeCredential),
 * with OpenSSL only:
 *
 *   seed        32 random bytes, encrypted to the EK with RSA-OAEP (SHA-256,
 *               label "IDENTITY\0")                      -> TPM2B_ENCRYPTED_SECRET
 *   symKey      KDFa(SHA-256, seed, "STORAGE", name, -, 128)
 *   encIdentity AES-128-CFB(symKey, IV 0) of TPM2B_DIGEST(credential)
 *   hmacKey     KDFa(SHA-256, seed, "INTEGRITY", -, -, 256)
 *   outerHMAC   HMAC-SHA256(hmacKey, encIdentity || name)
 *   blob        TPM2B_ID_OBJECT: TPM2B_DIGEST(outerHMAC) || encIdentity
 *
 * KDFa is NIST SP 800-108 counter mode with HMAC (32-bit counter, label, 0x00,
 * context, 32-bit length): OpenSSL's KBKDF with the label as "salt" and the
 * context as "info".
 */
#include "attest_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

/* PolicySecret(TPM_RH_ENDORSEMENT), the EK template's authPolicy. */
static const uint8_t k_ek_policy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

#define A_FIXEDTPM 0x00000002U
#define A_FIXEDPARENT 0x00000010U
#define A_SDO 0x00000020U
#define A_USERWITHAUTH 0x00000040U
#define A_ADMINWITHPOLICY 0x00000080U
#define A_NODA 0x00000400U
#define A_RESTRICTED 0x00010000U
#define A_DECRYPT 0x00020000U
#define A_SIGN 0x00040000U
#define EK_ATTRS (A_FIXEDTPM | A_FIXEDPARENT | A_SDO | A_ADMINWITHPOLICY | A_RESTRICTED | A_DECRYPT)
/* noDA: the AK's password is empty, so dictionary-attack protection guards nothing, and
 * non-orderly shutdowns (power cuts) would otherwise lock the AK out. */
#define AK_ATTRS                                                                                   \
    (A_FIXEDTPM | A_FIXEDPARENT | A_SDO | A_USERWITHAUTH | A_NODA | A_RESTRICTED | A_SIGN)

static fwt_err ek_template_check(const struct fwt_tpm_public *p)
{
    if (p->type != FWT_TPM_ALG_RSA || p->rsa_bits != 2048 || p->unique_len != 256 ||
        (p->rsa_exponent != 0 && p->rsa_exponent != 65537)) {
        return fwt_fail(FWT_E_CERT, "EK: not an RSA 2048 key");
    }
    if (p->attributes != EK_ATTRS || p->auth_policy_len != 32 ||
        memcmp(p->auth_policy, k_ek_policy, 32) != 0 || p->sym_alg != 0x0006 ||
        p->sym_bits != 128 || p->sym_mode != 0x0043 || p->scheme != FWT_TPM_ALG_NULL) {
        return fwt_fail(FWT_E_CERT, "EK: not the EK template (restricted decryption, "
                        "AES-128-CFB, PolicySecret(endorsement)); attributes 0x%08x",
                        (unsigned)p->attributes);
    }
    return FWT_OK;
}

fwt_err fwt_attest_check_ek(const uint8_t *ek_cert, size_t cert_len, const char *ca_file,
                            const uint8_t *ek_pub, size_t ek_len)
{
    struct fwt_tpm_public p;
    fwt_err err = fwt_tpm_public_parse(ek_pub, ek_len, &p);
    if (err != FWT_OK) {
        return fwt_fail(FWT_E_CERT, "EK public area: %s", fwt_detail());
    }
    if ((err = ek_template_check(&p)) != FWT_OK) {
        return err;
    }
    const unsigned char *q = ek_cert;
    X509 *x = d2i_X509(NULL, &q, (long)cert_len);
    if (!x || q != ek_cert + cert_len) {
        X509_free(x);
        return fwt_fail(FWT_E_CERT, "EK certificate is not one DER X.509 certificate");
    }
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    BIGNUM *n = NULL, *e = NULL;
    if (!st || !ctx) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    } else if (X509_STORE_load_file(st, ca_file) != 1) {
        err = fwt_fail(FWT_E_CERT, "%s: cannot load the EK CA certificates", ca_file);
    } else if (X509_STORE_CTX_init(ctx, st, x, NULL) != 1) {
        err = fwt_fail(FWT_E_CRYPTO, "X509_STORE_CTX_init failed");
    } else if (X509_verify_cert(ctx) != 1) {
        err = fwt_fail(FWT_E_CERT, "EK certificate does not chain to the manufacturer CAs: %s",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    } else {
        EVP_PKEY *pk = X509_get0_pubkey(x);
        uint8_t mod[256];
        if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA ||
            EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
            EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
            BN_bn2binpad(n, mod, sizeof(mod)) != (int)sizeof(mod) || !BN_is_word(e, 65537) ||
            memcmp(mod, p.unique, 256) != 0) {
            err = fwt_fail(FWT_E_CERT, "EK certificate's key is not the TPM's EK");
        }
    }
    BN_free(n);
    BN_free(e);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    X509_free(x);
    return err;
}

fwt_err fwt_attest_check_ak(const uint8_t *ak_pub, size_t ak_len, struct fwt_tpm_public *p)
{
    fwt_err err = fwt_tpm_public_parse(ak_pub, ak_len, p);
    if (err != FWT_OK) {
        return fwt_fail(FWT_E_KEY, "AK public area: %s", fwt_detail());
    }
    if (p->type != FWT_TPM_ALG_ECC || p->curve != FWT_TPM_ECC_NIST_P256 ||
        p->scheme != FWT_TPM_ALG_ECDSA || p->scheme_hash != FWT_TPM_ALG_SHA256 ||
        p->unique_len != 32 || p->unique_y_len != 32) {
        return fwt_fail(FWT_E_KEY, "AK: not an ECDSA P-256 SHA-256 key");
    }
    if (p->attributes != AK_ATTRS || p->sym_alg != FWT_TPM_ALG_NULL ||
        p->kdf != FWT_TPM_ALG_NULL) {
        return fwt_fail(FWT_E_KEY, "AK: attributes 0x%08x, not a restricted fixedTPM signing "
                        "key", (unsigned)p->attributes);
    }
    return FWT_OK;
}

static fwt_err kdfa(const uint8_t *key, size_t klen, const char *label, const uint8_t *ctx,
                    size_t ctx_len, uint8_t *out, size_t out_len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!kc) {
        return fwt_fail(FWT_E_CRYPTO, "OpenSSL has no KBKDF");
    }
    OSSL_PARAM params[7], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)"counter", 0);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)"HMAC", 0);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)key, klen);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)label,
                                             strlen(label));
    if (ctx_len) {
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)ctx,
                                                 ctx_len);
    }
    *p = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(kc, out, out_len, params) == 1;
    EVP_KDF_CTX_free(kc);
    return ok ? FWT_OK : fwt_fail(FWT_E_CRYPTO, "KDFa failed");
}

static fwt_err rsa_key(const struct fwt_tpm_public *p, EVP_PKEY **out)
{
    *out = NULL;
    BIGNUM *n = BN_bin2bn(p->unique, (int)p->unique_len, NULL);
    BIGNUM *e = BN_new();
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    fwt_err err = FWT_OK;
    if (!n || !e || !b || !pc || !BN_set_word(e, p->rsa_exponent ? p->rsa_exponent : 65537) ||
        !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e) ||
        (params = OSSL_PARAM_BLD_to_param(b)) == NULL || EVP_PKEY_fromdata_init(pc) != 1 ||
        EVP_PKEY_fromdata(pc, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        err = fwt_fail(FWT_E_KEY, "EK: cannot build the RSA public key");
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(pc);
    BN_free(n);
    BN_free(e);
    return err;
}

fwt_err fwt_attest_make_credential(const uint8_t *ek_pub, size_t ek_len, const uint8_t ak_name[34],
                                   const uint8_t *cred, size_t cred_len, uint8_t **blob,
                                   size_t *blob_len, uint8_t **secret, size_t *secret_len)
{
    *blob = *secret = NULL;
    *blob_len = *secret_len = 0;
    if (cred_len == 0 || cred_len > 32) {
        return fwt_fail(FWT_E_ARG, "credential of %zu bytes (1 to 32)", cred_len);
    }
    struct fwt_tpm_public p;
    fwt_err err = fwt_tpm_public_parse(ek_pub, ek_len, &p);
    if (err == FWT_OK) {
        err = ek_template_check(&p);
    }
    if (err != FWT_OK) {
        return err;
    }
    uint8_t seed[32], sym[16], hkey[32], hmac[32];
    uint8_t plain[34], enc[34];
    uint8_t *es = NULL, *bl = NULL;
    size_t es_len = 0;
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *pc = NULL;
    EVP_CIPHER_CTX *cc = NULL;
    if (RAND_bytes(seed, sizeof(seed)) != 1) {
        return fwt_fail(FWT_E_CRYPTO, "no random bytes");
    }
    err = rsa_key(&p, &pk);
    if (err == FWT_OK) {
        static const char label[] = "IDENTITY"; /* with its NUL: 9 bytes */
        char *lab = OPENSSL_malloc(sizeof(label));
        pc = EVP_PKEY_CTX_new(pk, NULL);
        if (!lab || !pc || EVP_PKEY_encrypt_init(pc) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_OAEP_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_oaep_md(pc, EVP_sha256()) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) != 1) {
            OPENSSL_free(lab);
            err = fwt_fail(FWT_E_CRYPTO, "RSA-OAEP setup failed");
        } else {
            memcpy(lab, label, sizeof(label));
            if (EVP_PKEY_CTX_set0_rsa_oaep_label(pc, lab, sizeof(label)) != 1) {
                OPENSSL_free(lab);
                err = fwt_fail(FWT_E_CRYPTO, "RSA-OAEP label failed");
            } else if (EVP_PKEY_encrypt(pc, NULL, &es_len, seed, sizeof(seed)) != 1 ||
                       (es = malloc(2 + es_len)) == NULL ||
                       EVP_PKEY_encrypt(pc, es + 2, &es_len, seed, sizeof(seed)) != 1) {
                err = fwt_fail(FWT_E_CRYPTO, "RSA-OAEP encryption failed");
            }
        }
    }
    if (err == FWT_OK) {
        err = kdfa(seed, sizeof(seed), "STORAGE", ak_name, 34, sym, sizeof(sym));
    }
    if (err == FWT_OK) {
        err = kdfa(seed, sizeof(seed), "INTEGRITY", NULL, 0, hkey, sizeof(hkey));
    }
    size_t plen = 2 + cred_len;
    if (err == FWT_OK) {
        static const uint8_t iv[16] = {0};
        int l1 = 0, l2 = 0;
        plain[0] = (uint8_t)(cred_len >> 8);
        plain[1] = (uint8_t)cred_len;
        memcpy(plain + 2, cred, cred_len);
        cc = EVP_CIPHER_CTX_new();
        if (!cc || EVP_EncryptInit_ex(cc, EVP_aes_128_cfb128(), NULL, sym, iv) != 1 ||
            EVP_EncryptUpdate(cc, enc, &l1, plain, (int)plen) != 1 ||
            EVP_EncryptFinal_ex(cc, enc + l1, &l2) != 1 || (size_t)(l1 + l2) != plen) {
            err = fwt_fail(FWT_E_CRYPTO, "AES-128-CFB failed");
        }
    }
    if (err == FWT_OK) {
        uint8_t mac_in[34 + 34];
        memcpy(mac_in, enc, plen);
        memcpy(mac_in + plen, ak_name, 34);
        size_t ml = 0;
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        EVP_MAC_CTX *mc = mac ? EVP_MAC_CTX_new(mac) : NULL;
        OSSL_PARAM mp[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                             (char *)"SHA256", 0),
                            OSSL_PARAM_construct_end()};
        if (!mc || EVP_MAC_init(mc, hkey, sizeof(hkey), mp) != 1 ||
            EVP_MAC_update(mc, mac_in, plen + 34) != 1 ||
            EVP_MAC_final(mc, hmac, &ml, sizeof(hmac)) != 1 || ml != 32) {
            err = fwt_fail(FWT_E_CRYPTO, "HMAC-SHA256 failed");
        }
        EVP_MAC_CTX_free(mc);
        EVP_MAC_free(mac);
    }
    size_t bl_len = 2 + 2 + 32 + plen;
    if (err == FWT_OK && (bl = malloc(bl_len)) == NULL) {
        err = fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    if (err == FWT_OK) {
        bl[0] = (uint8_t)((bl_len - 2) >> 8);
        bl[1] = (uint8_t)(bl_len - 2);
        bl[2] = 0;
        bl[3] = 32;
        memcpy(bl + 4, hmac, 32);
        memcpy(bl + 36, enc, plen);
        es[0] = (uint8_t)(es_len >> 8);
        es[1] = (uint8_t)es_len;
        *blob = bl;
        *blob_len = bl_len;
        *secret = es;
        *secret_len = 2 + es_len;
        bl = es = NULL;
    }
    free(bl);
    free(es);
    EVP_CIPHER_CTX_free(cc);
    EVP_PKEY_CTX_free(pc);
    EVP_PKEY_free(pk);
    fwt_zeroize(seed, sizeof(seed));
    fwt_zeroize(sym, sizeof(sym));
    fwt_zeroize(hkey, sizeof(hkey));
    fwt_zeroize(plain, sizeof(plain));
    return err;
}
