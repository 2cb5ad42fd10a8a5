/*
 * libFuzzer target: the device's streaming decoder of encoded targets
 * (src/delta/decode.c). Input: byte 0 picks the method (plain zstd, zstd
 * reference-prefix patch, bsdiff records, bsdiff2: preamble, zstd or LZMA2,
 * Thumb-2 transform and address map, or no records: the image as LZMA2 over
 * the transformed base; bit 0x10: the decoding window capped at 1 KiB << (byte 1
 * % 14), fwt_dec_set_max_window), byte 1 the chunk size, the rest is
 * the encoded file. Any bytes must decode within the output cap or be refused
 * with a detail; never crash, never write past the cap. The window
 * fwt_delta_frame_window reads from the frame's head (what `fwtrust repo
 * add-target` publishes as decode_window) must agree with the decoder: a cap at
 * or above it is never refused for the window, one below it always is.
 */
#include "agent/update_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE_LEN 4096U
#define MAX_OUT (1U << 20)

struct count {
    uint64_t n;
};

static fwt_err sink(void *ctx, const uint8_t *p, size_t len)
{
    struct count *c = ctx;
    volatile uint8_t x = 0;
    for (size_t i = 0; i < len; i++) {
        x ^= p[i]; /* touch every byte (ASan checks the reads) */
    }
    (void)x;
    c->n += len;
    return FWT_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t base[BASE_LEN];
    if (base[1] == 0) {
        for (size_t i = 0; i < BASE_LEN; i++) { /* the seeds' base (fuzz/corpus README) */
            base[i] = (uint8_t)(i * 7 + i / 13);
        }
    }
    if (size < 2) {
        return 0;
    }
    enum fwt_dec_method m = (enum fwt_dec_method)(data[0] % 4);
    size_t chunk = (size_t)data[1] * 37 + 1;
    data += 2;
    size -= 2;
    struct count c = {0};
    fwt_dec *d = NULL;
    fwt_detail_clear();
    if (fwt_dec_new(m, m == FWT_DEC_PLAIN ? NULL : base, m == FWT_DEC_PLAIN ? 0 : BASE_LEN, MAX_OUT,
                    sink, &c, &d) != FWT_OK) {
        abort();
    }
    if ((data[-2] & 0x10U) && fwt_dec_set_max_window(d, 1024ULL << (data[-1] % 14)) != FWT_OK) {
        abort(); /* a cap of 1 KiB or more, before any input, is always taken */
    }
    fwt_err err = FWT_OK;
    for (size_t i = 0; i < size && err == FWT_OK; i += chunk) {
        err = fwt_dec_feed(d, data + i, size - i < chunk ? size - i : chunk);
    }
    if (err == FWT_OK) {
        err = fwt_dec_end(d);
    }
    /* The frame after our header (as the decoder skips it), and the window it declares. */
    size_t off = 0;
    if (size >= 8 && (data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24) ==
                         FWT_ENC_SKIPPABLE_MAGIC) {
        off = 8 + (size_t)(data[4] | data[5] << 8 | data[6] << 16 | (uint32_t)data[7] << 24);
    }
    uint64_t need = 0;
    fwt_err werr = off < size ? fwt_delta_frame_window(data + off, size - off, m,
                                                       m == FWT_DEC_PLAIN ? 0 : BASE_LEN, &need)
                              : FWT_E_MALFORMED;
    if ((data[-2] & 0x10U) && werr == FWT_OK) {
        uint64_t cap = 1024ULL << (data[-1] % 14);
        if (fwt_dec_window_refused(d) != (need > cap) && (fwt_dec_window_refused(d) || err == FWT_OK)) {
            abort(); /* refused within the declared window, or decoded beyond it */
        }
    }
    if (c.n > MAX_OUT || fwt_dec_out(d) > MAX_OUT || c.n > fwt_dec_out(d) ||
        (err == FWT_OK && fwt_dec_out(d) != c.n)) {
        abort(); /* the cap is absolute; a complete decode hands over every byte */
    }
    if (err != FWT_OK && fwt_detail()[0] == '\0') {
        abort(); /* a refusal says why */
    }
    fwt_dec_free(d);
    return 0;
}
