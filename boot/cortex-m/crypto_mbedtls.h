/* The verifier core's fwt_crypto_ops on mbedTLS (SHA-256, ECDSA P-256, RSA-PSS 2048/3072). */
#ifndef FWT_CRYPTO_MBEDTLS_H
#define FWT_CRYPTO_MBEDTLS_H
#include <fwtrust/fwtrust.h>

/* Sets up mbedTLS's static heap (once) and fills ops. */
void fwt_mbedtls_ops_init(struct fwt_crypto_ops *ops);
/* Largest number of heap bytes mbedTLS held at once so far (0 when not measured). */
size_t fwt_mbedtls_heap_peak(void);
#endif
