/*
 * Encrypted images (MCUboot's ENC_EC256, docs/mcu-boot.md "Encrypted images") on mbedTLS 2.28:
 * the key unwrap (ECDH P-256, HKDF-SHA256, HMAC-SHA256, AES-CTR) and the decrypting reader.
 * Only mbedTLS primitives; the layout of the TLV is MCUboot's (boot/bootutil/src/encrypted.c):
 * ephemeral point (65, uncompressed) | HMAC tag (32) | wrapped key (16 or 32).
 *
 * The ECDH multiplication runs without blinding (f_rng NULL, MBEDTLS_ECP_NO_INTERNAL_RNG): the
 * board has no entropy source, as MCUboot's own mbedTLS ECIES path passes none.
 */
#include "enc_mbedtls.h"

#include <string.h>

#include "mbedtls/ecdh.h"
#include "mbedtls/ecp.h"
#include "mbedtls/hkdf.h"
#include "mbedtls/md.h"
#include "mbedtls/platform_util.h"

#define ECIES_INFO "MCUBoot_ECIES_v1"
#define EC256_POINT 65U
#define EC256_TAG 32U

/* The shared secret of ECDH between the device key and the TLV's ephemeral point. */
static fwt_err ecdh_p256(const uint8_t *point, uint8_t shared[32])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi d, z;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&z);
    fwt_err e = FWT_E_CRYPTO;
    if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
        mbedtls_mpi_read_binary(&d, boot_enc_priv, sizeof(boot_enc_priv)) != 0 ||
        mbedtls_ecp_check_privkey(&grp, &d) != 0) {
        e = FWT_E_CRYPTO;
    } else if (point[0] != 0x04 ||
               mbedtls_ecp_point_read_binary(&grp, &q, point, EC256_POINT) != 0 ||
               mbedtls_ecp_check_pubkey(&grp, &q) != 0) {
        e = FWT_E_KEY; /* not a point of P-256 */
    } else if (mbedtls_ecdh_compute_shared(&grp, &z, &q, &d, NULL, NULL) == 0 &&
               mbedtls_mpi_write_binary(&z, shared, 32) == 0) {
        e = FWT_OK;
    }
    mbedtls_mpi_free(&z);
    mbedtls_mpi_free(&d); /* mbedtls_mpi_free zeroizes */
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return e;
}

/* AES-CTR keyed with key, the counter block set to the 16-byte big-endian block number of off
 * (relative to the start of the encrypted data), over len bytes of buf. */
static int ctr_xor(mbedtls_aes_context *aes, uint64_t off, uint8_t *buf, size_t len)
{
    uint8_t nonce[16] = {0}, stream[16];
    uint64_t block = off / 16U;
    for (unsigned i = 0; i < 8U; i++) {
        nonce[15U - i] = (uint8_t)(block >> (8U * i));
    }
    size_t nc_off = 0;
    int rc = 0;
    if (off % 16U) {
        /* Start mid-block: the key stream block of this counter, then the counter moves on
         * (what mbedtls_aes_crypt_ctr does when nc_off is 0). */
        rc = mbedtls_aes_crypt_ecb(aes, MBEDTLS_AES_ENCRYPT, nonce, stream);
        for (int i = 15; i >= 0 && ++nonce[i] == 0; i--) {
        }
        nc_off = (size_t)(off % 16U);
    }
    if (rc == 0) {
        rc = mbedtls_aes_crypt_ctr(aes, len, &nc_off, nonce, stream, buf, buf);
    }
    mbedtls_platform_zeroize(stream, sizeof(stream));
    return rc == 0 ? 0 : -1;
}

static fwt_err unwrap_ec256(const uint8_t *val, size_t key_len, mbedtls_aes_context *out)
{
    uint8_t shared[32], derived[32 + EC256_TAG], tag[EC256_TAG], key[32];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    const uint8_t *ck = val + EC256_POINT + EC256_TAG;
    fwt_err e = md ? ecdh_p256(val, shared) : FWT_E_CRYPTO;
    if (e == FWT_OK &&
        (mbedtls_hkdf(md, NULL, 0, shared, sizeof(shared), (const unsigned char *)ECIES_INFO,
                      sizeof(ECIES_INFO) - 1U, derived, key_len + EC256_TAG) != 0 ||
         mbedtls_md_hmac(md, derived + key_len, EC256_TAG, ck, key_len, tag) != 0)) {
        e = FWT_E_CRYPTO;
    }
    if (e == FWT_OK && fwt_ct_compare(tag, val + EC256_POINT, EC256_TAG) != 0) {
        e = FWT_E_KEY; /* another device's image, or an altered key TLV */
    }
    mbedtls_aes_context kek;
    mbedtls_aes_init(&kek);
    if (e == FWT_OK) {
        memcpy(key, ck, key_len);
        if (mbedtls_aes_setkey_enc(&kek, derived, (unsigned)(key_len * 8U)) != 0 ||
            ctr_xor(&kek, 0, key, key_len) != 0 ||
            mbedtls_aes_setkey_enc(out, key, (unsigned)(key_len * 8U)) != 0) {
            e = FWT_E_CRYPTO;
        }
    }
    mbedtls_aes_free(&kek); /* zeroizes */
    mbedtls_platform_zeroize(shared, sizeof(shared));
    mbedtls_platform_zeroize(derived, sizeof(derived));
    mbedtls_platform_zeroize(key, sizeof(key));
    return e;
}

int boot_enc_xor(struct boot_enc_io *d, uint32_t off, uint8_t *buf, size_t len)
{
    /* The overlap of [off, off + len) with the payload gets the key stream. */
    uint64_t a = off, b = (uint64_t)off + len;
    uint64_t pa = d->pay_off, pb = (uint64_t)d->pay_off + d->pay_len;
    uint64_t lo = a > pa ? a : pa, hi = b < pb ? b : pb;
    if (!d->open) {
        return -1;
    }
    if (lo >= hi) {
        return 0;
    }
    return ctr_xor(&d->aes, lo - pa, buf + (lo - a), (size_t)(hi - lo));
}

static fwt_err enc_read(void *ctx, uint32_t off, void *buf, size_t len)
{
    struct boot_enc_io *d = ctx;
    fwt_err e = d->src->read(d->src->ctx, off, buf, len);
    if (e != FWT_OK) {
        return e;
    }
    return boot_enc_xor(d, off, buf, len) == 0 ? FWT_OK : FWT_E_IO;
}

fwt_err boot_enc_open(struct boot_enc_io *d, const struct fwt_io *src,
                      const struct fwt_image_info *info)
{
    memset(d, 0, sizeof(*d));
    mbedtls_aes_init(&d->aes);
    if (info->enc_key_len == 0) {
        return FWT_E_ARG;
    }
    if (info->enc_tlv != FWT_TLV_ENC_EC256) {
        return FWT_E_UNSUPPORTED; /* ENC_RSA2048, ENC_KW, ENC_X25519*: not in this build */
    }
    uint8_t val[EC256_POINT + EC256_TAG + 32];
    if (info->enc_tlv_len != fwt_enc_tlv_len(FWT_TLV_ENC_EC256, info->enc_key_len) ||
        info->enc_tlv_len > sizeof(val)) {
        return FWT_E_MALFORMED; /* the parser checked it; checked again before the copy */
    }
    fwt_err e = src->read(src->ctx, info->enc_tlv_off, val, info->enc_tlv_len);
    if (e == FWT_OK) {
        e = unwrap_ec256(val, info->enc_key_len, &d->aes);
    }
    mbedtls_platform_zeroize(val, sizeof(val));
    if (e != FWT_OK) {
        mbedtls_aes_free(&d->aes);
        return e;
    }
    d->src = src;
    d->pay_off = info->hdr.hdr_size;
    d->pay_len = info->hdr.img_size;
    d->open = 1;
    d->io.ctx = d;
    d->io.read = enc_read;
    d->io.size = src->size;
    d->io.flags = FWT_IO_PLAINTEXT;
    return FWT_OK;
}

void boot_enc_close(struct boot_enc_io *d)
{
    mbedtls_aes_free(&d->aes);
    mbedtls_platform_zeroize(d, sizeof(*d));
}
