/*
 * fwtrust: umbrella header for the host-side (hosted C, OpenSSL) modules. It
 * covers every hosted public header: key handling and the crypto backend
 * (fwt_crypto.h), image files and signing (fwt_imagefile.h), the TUF client
 * (fwt_tuf.h) and repository tool (fwt_repo.h), the delta engine
 * (fwt_delta.h), the device agent (fwt_agent.h), key custody and the signing
 * log (fwt_keys.h), and the hosted helpers (fwt_util.h: error detail, file
 * I/O, hex, numbers). Link the library of each module used (docs/architecture.md).
 */
#ifndef FWTRUST_HOST_H
#define FWTRUST_HOST_H

#include "fwtrust.h"

#define FWTRUST_INSIDE_FWTRUST_H
#include "fwt_crypto.h"
#include "fwt_imagefile.h"
#include "fwt_tuf.h"
#include "fwt_delta.h"
#include "fwt_agent.h"
#undef FWTRUST_INSIDE_FWTRUST_H
#include "fwt_util.h"
#include "fwt_keys.h"
#include "fwt_repo.h"

#endif /* FWTRUST_HOST_H */
