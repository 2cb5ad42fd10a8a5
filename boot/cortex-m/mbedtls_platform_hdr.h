/* The C library declarations mbedTLS's platform layer names when
 * MBEDTLS_PLATFORM_NO_STD_FUNCTIONS is set (snprintf for oid.c, exit). */
#ifndef FWT_MBEDTLS_PLATFORM_HDR_H
#define FWT_MBEDTLS_PLATFORM_HDR_H
#include <stdio.h>
#include <stdlib.h>
#endif
