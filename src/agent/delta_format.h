/*
 * Encoded images (compressed and delta targets): the container written by
 * `fwtrust delta` and read by `fwtrust repo add-target` and the agent's
 * update. Format (docs/updates.md):
 *
 *   u32le 0x184D2A5E                zstd skippable frame magic (zstd skips it)
 *   u32le N                         bytes that follow in this frame, 8 < N <= 8 + FWT_ENC_JSON_MAX
 *   "FWTRUSTE"                      8 bytes, this container
 *   JSON object (N - 8 bytes)       {"fwtrust_encoded": 1, "encoding": "zstd" | "zstd-patch",
 *                                    "image": {...}, "base": {...} (zstd-patch only)}
 *   one zstd frame                  the image itself ("zstd"), or a patch made with the base
 *                                   image as the reference prefix ("zstd-patch", as
 *                                   `zstd --patch-from=BASE`), content size and checksum set
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
#define FWT_ENC_PATCH "zstd-patch"  /* zstd patch against a base image */

/*
 * Decoder memory bounds: the window a frame may ask for. A compressed image
 * needs at most an 8 MiB window whatever the image size; a patch needs a
 * window covering base and new image, at most 128 MiB (images up to about
 * 64 MiB each; larger ones are published full or compressed).
 */
#define FWT_ENC_ZSTD_WINDOWLOG 23
#define FWT_ENC_PATCH_WINDOWLOG_MAX 27

#endif /* FWT_DELTA_FORMAT_H */
