/*
 * fwtrust TUF module, internal: the JSON layer of the metadata model (the
 * canonical encoder, key objects and ids, strict loading, time stamps), declared
 * in the public <fwtrust/fwt_tuf_json.h> and implemented in tuf_json.c. Used by
 * the client (client*.c), the repository tool (repo_*.c) and, through the
 * public header, the fleet formats (src/fleet): library fwt_tuf_meta.
 */
#ifndef FWT_TUF_JSON_H
#define FWT_TUF_JSON_H

#include <fwtrust/fwt_tuf_json.h>
#include <fwtrust/fwt_util.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#endif /* FWT_TUF_JSON_H */
