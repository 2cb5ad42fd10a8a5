/*
 * Encoded targets (`fwtrust delta` output: a zstd-compressed image or a zstd
 * patch, <fwtrust/fwt_delta.h>) as the repository tool reads them: the
 * header is checked and turned into the target's custom.fwtrust facts.
 * No zstd decoding happens here.
 */
#ifndef FWT_TUF_REPO_ENCODED_H
#define FWT_TUF_REPO_ENCODED_H

#include "fwt_util.h"

#include <jansson.h>
#include <stdint.h>

/*
 * Read and check the header of an encoded file. FWT_E_NOT_FOUND (no detail)
 * when path does not start with the fwtrust header (not an encoded file);
 * FWT_E_MALFORMED / FWT_E_UNSUPPORTED naming the fault when it does but the
 * header is broken. On FWT_OK *hdr is the header object (caller decrefs),
 * *frame_off the offset of the zstd frame, *file_len the file's size.
 */
FWT_MUST_CHECK fwt_err repo_encoded_read(const char *path, json_t **hdr, uint64_t *frame_off,
                                         uint64_t *file_len);

/* Check a header object (the JSON of the file, already parsed). */
FWT_MUST_CHECK fwt_err repo_encoded_check(const json_t *hdr);

/*
 * The custom.fwtrust object for an encoded target: the image's facts
 * (version, security_counter, hw_id, hw_id_hex, image_digest) as for a plain
 * image, plus "encoding", "image_length", "image_sha256" and, for a patch,
 * "base" {length, sha256, version, image_digest}. FWT_E_NOT_FOUND when path
 * is not an encoded file.
 */
FWT_MUST_CHECK fwt_err repo_encoded_facts(const char *path, json_t **facts);

#endif /* FWT_TUF_REPO_ENCODED_H */
