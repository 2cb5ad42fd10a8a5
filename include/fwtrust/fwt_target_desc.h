/*
 * The target description: a target's custom.fwtrust object, the contract
 * between the repository (`fwtrust repo add-target`, `fwtrust delta`) and the
 * device (the agent's update). This module is its one owner: the struct, the
 * JSON it is written as, and the strict reader. docs/updates.md lists the
 * fields.
 *
 *   version           "M.m.r+b"                      always
 *   image_digest      {"sha256"|"sha384"|"sha512": hex} always (exactly one)
 *   hw_id_hex         hex of the hardware id         an fwtrust image for a device
 *   hw_id             the id as text (when printable; never read)
 *   security_counter  0 .. 2^32-1                    when the image has one
 *   verified_signers  [hex key hash, ...]            keys the publisher verified
 *   encoding          "zstd" | "zstd-patch" | "zstd-bsdiff" (absent: "none")
 *   image_length, image_sha256                       encoded targets: the decoded image
 *   base {length, sha256, version, image_digest}     patches: the image patched
 *   decode_window     1024 .. 2^62 (bytes)           encoded targets: the decoding window the
 *                                                    file needs (fwt_delta_frame_window); absent
 *                                                    in repositories older than the field
 */
#ifndef FWT_TARGET_DESC_H
#define FWT_TARGET_DESC_H

#include <fwtrust/fwt_util.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum fwt_tdesc_enc { FWT_TDESC_NONE = 0, FWT_TDESC_ZSTD, FWT_TDESC_PATCH, FWT_TDESC_BSDIFF,
                     FWT_TDESC_BSDIFF2 };
#define FWT_TDESC_IS_PATCH(e)                                                                      \
    ((e) == FWT_TDESC_PATCH || (e) == FWT_TDESC_BSDIFF || (e) == FWT_TDESC_BSDIFF2)

struct fwt_tdesc_digest {
    uint8_t v[FWT_DIGEST_MAX];
    size_t len; /* 32, 48 or 64: sha256, sha384, sha512 */
};

struct fwt_target_desc {
    enum fwt_tdesc_enc enc;
    struct fwt_version version;
    int has_ctr;
    uint32_t ctr;
    uint8_t hw_id[FWT_HW_ID_MAX];
    size_t hw_id_len; /* 0: none (a device skips such a target) */
    struct fwt_tdesc_digest digest;
    int has_signers;
    size_t n_signers;
    uint8_t signers[FWT_MAX_SIGNERS][FWT_KEYHASH_SIZE];
    /* encoded (enc != NONE): the decoded image */
    uint64_t image_len;
    uint8_t image_sha[32];
    /* patch: the base image */
    int has_base_version;
    struct fwt_version base_version;
    uint64_t base_len;
    uint8_t base_sha[32];
    struct fwt_tdesc_digest base_digest;
    /* encoded: the decoding window it needs (bytes; 0: not declared) */
    uint64_t window;
};

/* The encoding's name (FWT_ENC_* of <fwtrust/fwt_delta.h>). */
const char *fwt_tdesc_enc_name(enum fwt_tdesc_enc e);

/*
 * A plain image's description from what the parser (or verifier) found:
 * version, digest, counter, hardware id and, with_signers, the keys whose
 * signatures verified.
 */
void fwt_target_desc_from_image(const struct fwt_image_info *info, int with_signers,
                                struct fwt_target_desc *d);

/* The JSON object (caller decrefs); NULL when out of memory. */
json_t *fwt_target_desc_to_json(const struct fwt_target_desc *d);

/*
 * Read a custom.fwtrust object (f), strictly: every field present must be
 * well formed, the required ones must be there (version, image_digest;
 * image_length/image_sha256 when encoded; base when a patch). A missing
 * hw_id_hex is hw_id_len 0: the format allows it, the device refuses it.
 * FWT_E_META with why naming the field otherwise (nothing else is reported:
 * no detail is set).
 */
FWT_MUST_CHECK fwt_err fwt_target_desc_parse(const json_t *f, struct fwt_target_desc *d, char *why,
                                             size_t why_len);

#endif /* FWT_TARGET_DESC_H */
