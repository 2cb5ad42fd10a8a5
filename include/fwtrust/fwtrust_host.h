/*
 * fwtrust: umbrella header for host-side (hosted C, OpenSSL) modules:
 * key handling and crypto backend, image signing, TUF, device agent.
 */
#ifndef FWTRUST_HOST_H
#define FWTRUST_HOST_H

#include "fwtrust.h"

#define FWTRUST_INSIDE_FWTRUST_H
#include "fwt_crypto.h"
#include "fwt_imagefile.h"
#include "fwt_tuf.h"
#undef FWTRUST_INSIDE_FWTRUST_H

#endif /* FWTRUST_HOST_H */
