/*
 * Internal interfaces of the image module (not public API): the Intel HEX
 * reader and writer, and MCUboot boot trailer geometry. Exposed here so the
 * unit tests and the fuzz target can call them directly.
 */
#ifndef FWT_IMAGE_INTERNAL_H
#define FWT_IMAGE_INTERNAL_H

#include <fwtrust/fwt_util.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- Files: whole reads and writes, temporary outputs (sign.c) ---- */

#include <limits.h>

/* write(2) / pread(2) until done; name is used in error details. */
FWT_MUST_CHECK fwt_err fwt_img_write_all(int fd, const void *buf, size_t len, const char *name);
FWT_MUST_CHECK fwt_err fwt_img_read_at(int fd, void *buf, size_t len, uint64_t off,
                                       const char *name);
/* A temporary file next to path, removed unless published (fsync + rename). */
struct fwt_tmp_out {
    char name[PATH_MAX];
    int fd;
};
FWT_MUST_CHECK fwt_err fwt_tmp_create(struct fwt_tmp_out *t, const char *path);
void fwt_tmp_discard(struct fwt_tmp_out *t);
FWT_MUST_CHECK fwt_err fwt_tmp_publish(struct fwt_tmp_out *t, const char *path);

/* The detail of a failed fwt_image_verify() of io (file_io.c): names the cause. */
FWT_MUST_CHECK fwt_err fwt_verify_explain(fwt_err err, const char *path, const struct fwt_io *io,
                           const struct fwt_policy *policy, const struct fwt_image_info *info,
                           uint8_t *work, size_t work_len);

/* ---- Encrypted images (encrypt.c) ---- */

/* AES-CTR as MCUboot uses it: the counter block is the big-endian number of the
 * 16-byte block from the start of the payload (nonce 0), so any offset can be
 * reached directly. */
struct fwt_ctr {
    void *ctx; /* EVP_CIPHER_CTX */
};
FWT_MUST_CHECK fwt_err fwt_ctr_start(struct fwt_ctr *c, const uint8_t *key, size_t key_len,
                                     uint64_t off);
/* XOR the key stream into buf in place, continuing where the last call stopped. */
FWT_MUST_CHECK fwt_err fwt_ctr_xor(struct fwt_ctr *c, uint8_t *buf, size_t len);
void fwt_ctr_free(struct fwt_ctr *c);

/* Wrap key[0, key_len) for the device's key k: the ENC_* TLV type and value.
 * sha512: ECIES-X25519 with HKDF/HMAC-SHA512 (ENC_X25519_SHA512). */
FWT_MUST_CHECK fwt_err fwt_enc_wrap(const fwt_enckey *k, int sha512, const uint8_t *key,
                                    size_t key_len, uint16_t *tlv, uint8_t *out,
                                    size_t *out_len);

/* ---- Intel HEX reader ---- */

/* Longest record line accepted: ':' + count + addr + type + 255 data bytes + checksum. */
#define FWT_IHEX_LINE_MAX (1U + 2U * (1U + 2U + 1U + 255U + 1U))

/* Called for every data record with its absolute 32-bit address. */
typedef fwt_err (*fwt_ihex_data_fn)(void *ctx, uint32_t addr, const uint8_t *data, size_t len);

struct fwt_ihex_range {
    uint64_t start;
    uint64_t end; /* exclusive */
};

struct fwt_ihex_parser {
    fwt_ihex_data_fn data_fn; /* may be NULL (first pass: ranges only) */
    void *ctx;
    uint32_t base;      /* from record 02 (segment << 4) or 04 (upper << 16) */
    int eof;            /* record 01 seen */
    unsigned long line; /* current line number, 1-based */
    struct fwt_ihex_range *ranges; /* sorted, disjoint, adjacent ones merged */
    size_t n_ranges;
    size_t cap_ranges;
    int has_start;
    uint32_t start_addr; /* from record 03 (CS:IP) or 05 (EIP) */
};

void fwt_ihex_init(struct fwt_ihex_parser *p, fwt_ihex_data_fn fn, void *ctx);
void fwt_ihex_free(struct fwt_ihex_parser *p);
/* One line without its line terminator ('\r' at the end is ignored). */
FWT_MUST_CHECK fwt_err fwt_ihex_line(struct fwt_ihex_parser *p, const char *line, size_t len);
/* After the last line: FWT_E_MALFORMED without an EOF record or without data. */
FWT_MUST_CHECK fwt_err fwt_ihex_finish(struct fwt_ihex_parser *p);
/* A whole buffer (used by the fuzz target and tests). */
FWT_MUST_CHECK fwt_err fwt_ihex_parse_buf(struct fwt_ihex_parser *p, const char *buf, size_t len);
/* A whole file, streamed line by line. name is used in error details. */
FWT_MUST_CHECK fwt_err fwt_ihex_parse_file(struct fwt_ihex_parser *p, FILE *f, const char *name);
/* Lowest address and exclusive end of all data (valid after a successful finish). */
uint64_t fwt_ihex_min(const struct fwt_ihex_parser *p);
uint64_t fwt_ihex_end(const struct fwt_ihex_parser *p);

/*
 * The largest span (lowest address to the end of the highest data) an Intel
 * HEX input may have when no slot size bounds it: every command reading .hex
 * refuses more with FWT_E_TOO_LARGE before writing anything.
 */
#define FWT_IHEX_SPAN_MAX (256U * 1024U * 1024U)

/* Where a converted binary has data (offsets from its byte 0, sorted, disjoint):
 * everything else in [0, span) is a gap that reads as fill. */
struct fwt_ihex_map {
    struct fwt_ihex_range *ranges;
    size_t n_ranges;
    uint64_t span;
    uint8_t fill;
};
void fwt_ihex_map_free(struct fwt_ihex_map *m);
/* buf holds [off, off+len) of the binary as read from the scratch file (gaps
 * as holes, 0x00): set the gap bytes to m->fill. m NULL: nothing to do. */
void fwt_ihex_map_patch(const struct fwt_ihex_map *m, uint64_t off, uint8_t *buf, size_t len);
/* Write m->fill into the gaps of fd (for users that need a dense file). */
FWT_MUST_CHECK fwt_err fwt_ihex_map_fill(const struct fwt_ihex_map *m, int fd);

/*
 * Convert an Intel HEX file into a flat binary written to out_fd (which must
 * be empty): byte 0 is the lowest address. *base gets the lowest address,
 * *size the binary size. A span over max_span (capped at 4 GiB - 1) is
 * FWT_E_TOO_LARGE before anything is written. Gaps are never written as such:
 * out_fd is extended with ftruncate, so they are holes (0x00). With map, the
 * caller gets the data ranges and reads gaps as erased_val through
 * fwt_ihex_map_patch (free it with fwt_ihex_map_free); without map, a
 * non-zero erased_val is written into the gaps.
 */
FWT_MUST_CHECK fwt_err fwt_ihex_to_bin(const char *path, int out_fd, uint8_t erased_val,
                                       uint64_t max_span, uint32_t *base, uint32_t *size,
                                       struct fwt_ihex_map *map);

/* ---- Intel HEX writer ---- */

struct fwt_ihex_writer {
    FILE *f;
    uint32_t upper; /* current upper 16 address bits (record 04) */
    int have_upper;
    int failed;
};
void fwt_ihex_writer_init(struct fwt_ihex_writer *w, FILE *f);
/* Data records (16 bytes each), with 04 records as needed. FWT_E_ARG if addr+len passes 4 GiB. */
FWT_MUST_CHECK fwt_err fwt_ihex_write(struct fwt_ihex_writer *w, uint32_t addr, const uint8_t *data,
                                      size_t len);
/* The EOF record; FWT_E_IO if any write failed. */
FWT_MUST_CHECK fwt_err fwt_ihex_write_end(struct fwt_ihex_writer *w);

#endif /* FWT_IMAGE_INTERNAL_H */
