/*
 * Encoded images (compressed and delta targets): the container written by
 * `fwtrust delta` and read by `fwtrust repo add-target` and the agent's
 * update. Format (docs/updates.md):
 *
 *   u32le 0x184D2A5E                zstd skippable frame magic (zstd skips it)
 *   u32le N                         bytes that follow in this frame, 8 < N <= 8 + FWT_ENC_JSON_MAX
 *   "FWTRUSTE"                      8 bytes, this container
 *   JSON object (N - 8 bytes)       {"fwtrust_encoded": 1, "encoding": "zstd" | "zstd-patch"
 *                                    | "zstd-bsdiff", "image": {...}, "base": {...} (patches)}
 *   one zstd frame                  content size and checksum set, holding:
 *     "zstd"         the image itself;
 *     "zstd-patch"   the image, compressed with the base image as the reference prefix
 *                    (as `zstd --patch-from=BASE`);
 *     "zstd-bsdiff"  a bsdiff-style stream of records (Colin Percival's method, our
 *                    encoding): u32le add, u32le copy, i64le seek; then `add` bytes each
 *                    added (mod 256) to the base byte at the base position (which advances
 *                    by add), then `copy` literal bytes; then the base position moves by
 *                    seek. Records run until the image is complete. The frame itself is
 *                    compressed without a prefix (window at most 8 MiB).
 *
 * The JSON header only describes; the device trusts nothing in it. It trusts
 * the target's custom metadata (signed by the TUF targets role), the TUF
 * length and hashes of the file, the SHA-256 of the decoded image (from that
 * custom metadata) and, above all, the verifier core's verdict on the image.
 */
#ifndef FWT_DELTA_FORMAT_H
#define FWT_DELTA_FORMAT_H

#define FWT_ENC_SKIPPABLE_MAGIC 0x184D2A5EU
#define FWT_ENC_ZSTD_MAGIC 0xFD2FB528U
#define FWT_ENC_TAG "FWTRUSTE"
#define FWT_ENC_TAG_LEN 8U
#define FWT_ENC_JSON_MAX 16384U
#define FWT_ENC_FORMAT 1

#define FWT_ENC_NONE "none"         /* a full image (not encoded) */
#define FWT_ENC_ZSTD "zstd"         /* zstd-compressed image */
#define FWT_ENC_PATCH "zstd-patch"  /* zstd patch against a base image (reference prefix) */
#define FWT_ENC_BSDIFF "zstd-bsdiff" /* bsdiff-style records against a base image, zstd-compressed */
#define FWT_ENC_BSDIFF_REC 16U       /* bytes of a record header */

/*
 * Decoder memory bounds: the window a frame may ask for. A compressed image
 * needs at most an 8 MiB window whatever the image size; a patch needs a
 * window covering base and new image, at most 128 MiB (images up to about
 * 64 MiB each; larger ones are published full or compressed). A bsdiff patch
 * needs 8 MiB like a compressed image (the base is read where it lies).
 */
#define FWT_ENC_ZSTD_WINDOWLOG 23
#define FWT_ENC_PATCH_WINDOWLOG_MAX 27

#endif /* FWT_DELTA_FORMAT_H */
