/*
 * mbedTLS 2.28 configuration for the Cortex-M4 bootloader: only what image
 * verification needs (MCUboot's usual backend, configured as MCUboot's
 * config-rsa.h / config-ec.h do). SHA-256, ECDSA P-256 verify, RSASSA-PSS
 * (RSA-2048/3072) verify, public-key parsing (SubjectPublicKeyInfo, PKCS#1),
 * the ECIES-P256 key unwrap and AES-CTR of encrypted images,
 * and a static-buffer allocator: no entropy, no RNG, no file system, no
 * network, no heap of the C library. Used by scripts/fetch-mbedtls through
 * MBEDTLS_CONFIG_FILE; the same file builds the library and the bootloader.
 */
#ifndef FWT_MBEDTLS_CONFIG_H
#define FWT_MBEDTLS_CONFIG_H

/* System support: bare metal. */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_NO_UDBL_DIVISION
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS /* no libc heap: calloc/free come from the buffer allocator */
#define MBEDTLS_PLATFORM_STD_MEM_HDR "mbedtls_platform_hdr.h"
#define MBEDTLS_PLATFORM_SNPRINTF_MACRO snprintf /* oid.c; dropped by --gc-sections */
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C

/* Hash. */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER

/* Public-key parsing (the verifier core hands keys in MCUboot's encoding). */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C /* required by MBEDTLS_ECDSA_C */
#define MBEDTLS_OID_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_BIGNUM_C

/* ECDSA P-256. */
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_MAX_BITS 256
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#define MBEDTLS_ECP_NO_INTERNAL_RNG /* verification only: no blinding RNG needed */

/* Encrypted images (BOOT_ENC builds, enc_mbedtls.c): MCUboot's ENC_EC256 key unwrap (ECDH
 * P-256, HKDF-SHA256, HMAC-SHA256 through MD) and the AES-CTR payload. The AES tables are
 * constants in flash (ROM_TABLES), the smaller set (FEWER_TABLES): no 8 KiB of RAM tables.
 * Unused by a build without BOOT_ENC: --gc-sections drops it. */
#define MBEDTLS_ECDH_C
#define MBEDTLS_HKDF_C
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_CIPHER_MODE_CTR

/* RSA-PSS (PKCS#1 v2.1), up to 3072-bit keys. */
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_MPI_MAX_SIZE 384
#define MBEDTLS_MPI_WINDOW_SIZE 1

#include "mbedtls/check_config.h"

#endif /* FWT_MBEDTLS_CONFIG_H */
