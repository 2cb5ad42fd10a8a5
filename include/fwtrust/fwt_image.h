/*
 * fwtrust image format: MCUboot's layout, constants and parsed structures.
 *
 *   +----------------------+  offset 0
 *   | header (32 bytes)    |  padded with zeros/erased to hdr_size
 *   +----------------------+  hdr_size
 *   | payload              |  img_size bytes
 *   +----------------------+  hdr_size + img_size
 *   | protected TLV area   |  magic 0x6908, prot_tlv_size bytes (0 if absent)
 *   +----------------------+
 *   | unprotected TLV area |  magic 0x6907: hash, key, signatures, certificates
 *   +----------------------+
 *
 * Multi-byte fields are little endian (MCUboot's order), or all big endian in
 * an image imgtool --endian big (fwtrust sign --endian big) made for a target
 * whose MCUboot reads its structures natively; the magic says which
 * (FWT_ORDER_*), and every reader follows it. The signed digest covers header,
 * payload and protected TLV area. See docs/image-format.md.
 *
 * Freestanding.
 */
#ifndef FWT_IMAGE_H
#define FWT_IMAGE_H

#if !defined(FWTRUST_INSIDE_FWTRUST_H) && !defined(FWTRUST_INTERNAL)
#error "include <fwtrust/fwtrust.h>, not this header"
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FWT_IMAGE_MAGIC 0x96f3b83dU
#define FWT_IMAGE_HEADER_SIZE 32U
#define FWT_TLV_INFO_MAGIC 0x6907U      /* unprotected area */
#define FWT_TLV_PROT_INFO_MAGIC 0x6908U /* protected area */
#define FWT_TLV_INFO_SIZE 4U
#define FWT_TLV_HDR_SIZE 4U

/*
 * Byte order of an image's integer fields (fwt_image_header.byte_order): the
 * header, both TLV info headers, every TLV header and the integer TLV values
 * imgtool packs (SEC_CNT, DEPENDENCY). Byte strings (digests, keys,
 * signatures, ENC_* values, certificates, the boot record's CBOR, custom TLV
 * values) are the same in both. Never an option of a reader: the header magic
 * FWT_IMAGE_MAGIC stored little endian (3d b8 f3 96) or big endian (96 f3 b8 3d)
 * declares it.
 */
#define FWT_ORDER_LITTLE 0U
#define FWT_ORDER_BIG 1U

/* Header flags (MCUboot). */
#define FWT_IMAGE_F_PIC 0x00000001U
#define FWT_IMAGE_F_ENCRYPTED_AES128 0x00000004U
#define FWT_IMAGE_F_ENCRYPTED_AES256 0x00000008U
#define FWT_IMAGE_F_NON_BOOTABLE 0x00000010U
#define FWT_IMAGE_F_RAM_LOAD 0x00000020U
#define FWT_IMAGE_F_ROM_FIXED 0x00000100U

/* MCUboot TLV types. */
#define FWT_TLV_KEYHASH 0x01U
#define FWT_TLV_PUBKEY 0x02U
#define FWT_TLV_SHA256 0x10U
#define FWT_TLV_SHA384 0x11U
#define FWT_TLV_SHA512 0x12U
#define FWT_TLV_RSA2048_PSS 0x20U
#define FWT_TLV_ECDSA224 0x21U
#define FWT_TLV_ECDSA_SIG 0x22U /* ECDSA P-256 or P-384 (by key) */
#define FWT_TLV_RSA3072_PSS 0x23U
#define FWT_TLV_ED25519 0x24U
#define FWT_TLV_SIG_PURE 0x25U
/* Encrypted images (unprotected, not signed: a wrong key TLV yields a wrong
 * plaintext, which the hash over the plaintext refuses). Value layouts in
 * docs/image-format.md, "Encrypted images". */
#define FWT_TLV_ENC_RSA2048 0x30U       /* RSA-OAEP (SHA-256, MGF1-SHA-256) of the AES key */
#define FWT_TLV_ENC_KW 0x31U            /* AES key wrap (RFC 3394) of the AES key */
#define FWT_TLV_ENC_EC256 0x32U         /* ECIES-P256: point(65) | HMAC-SHA256 tag(32) | key */
#define FWT_TLV_ENC_X25519 0x33U        /* ECIES-X25519: point(32) | HMAC-SHA256 tag(32) | key */
#define FWT_TLV_ENC_X25519_SHA512 0x34U /* ECIES-X25519 with HKDF/HMAC-SHA512: tag 64 bytes */
#define FWT_TLV_DEPENDENCY 0x40U
#define FWT_TLV_SEC_CNT 0x50U
#define FWT_TLV_BOOT_RECORD 0x60U

/*
 * fwtrust's own TLVs, in the vendor range MCUboot leaves for custom use
 * (0xXXa0-0xXXff). Every TLV in 0x46a0-0x46ff is critical: a verifier that
 * does not know one refuses the image.
 */
#define FWT_TLV_VENDOR_FIRST 0x46a0U
#define FWT_TLV_VENDOR_LAST 0x46ffU
#define FWT_TLV_FORMAT 0x46a0U     /* protected: u8 format version, u8 min reader, u16 0 */
#define FWT_TLV_HW_ID 0x46a1U      /* protected: 1..64 bytes, hardware id */
#define FWT_TLV_PROVENANCE 0x46a2U /* protected: 32 bytes, SHA-256 of a DSSE envelope */
#define FWT_TLV_CERT 0x46a3U       /* unprotected: boot-key certificate (see fwt_cert.h) */

/* The AES-CTR key sizes of encrypted images (ENCRYPTED_AES128 / _AES256). */
#define FWT_ENC_KEY_MAX 32U
#define FWT_ENC_TLV_MAX 256U /* the longest ENC_* value (RSA-2048) */

#define FWT_FORMAT_VERSION 1U /* the format version this verifier writes and reads */
#define FWT_HW_ID_MAX 64U
#define FWT_DIGEST_MAX 64U
#define FWT_KEYHASH_SIZE 32U

struct fwt_version {
    uint8_t major;
    uint8_t minor;
    uint16_t revision;
    uint32_t build;
};

/* The 32-byte header, decoded. */
struct fwt_image_header {
    uint32_t magic;
    uint32_t load_addr;
    uint16_t hdr_size;
    uint16_t prot_tlv_size; /* whole protected area incl. its info header; 0 = none */
    uint32_t img_size;      /* payload size, excluding header */
    uint32_t flags;
    struct fwt_version version;
    uint8_t byte_order; /* FWT_ORDER_*, from the magic (0: little endian) */
};

#ifdef __cplusplus
}
#endif

#endif /* FWT_IMAGE_H */
