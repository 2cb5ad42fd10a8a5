/*
 * fwtrust: the freestanding verifier core's umbrella header.
 *
 * Include only this header. It needs nothing from the C library beyond
 * <stddef.h> and <stdint.h>, so a bootloader can use it as it is.
 */
#ifndef FWTRUST_H
#define FWTRUST_H

#define FWTRUST_INSIDE_FWTRUST_H
#include "fwt_error.h"
#include "fwt_image.h"
#include "fwt_verify.h"
#include "fwt_alg.h"
#include "fwt_cert.h"
#undef FWTRUST_INSIDE_FWTRUST_H

#define FWTRUST_VERSION_STRING "0.1.0"

#endif /* FWTRUST_H */
