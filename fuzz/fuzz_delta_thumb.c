/*
 * libFuzzer target: the ARM Thumb-2 transform of "bsdiff2" patches
 * (src/delta/thumb.h), Thumb-2 and A32. Input: byte 0 the flags, byte 1 the block index (the
 * block's image offset is index * FWT_THUMB_BLOCK), then one block of data
 * (any length up to FWT_THUMB_BLOCK). fwt_thumb_inv(fwt_thumb_fwd(x)) must
 * be x exactly, for any bytes (data that looks like instructions included);
 * the base transform through an address map made from the same bytes must
 * stay inside the block. With code ranges made from the data's last bytes (FWT_XF_RANGES, the
 * ELF hint), the same exact inverse, and no byte outside the ranges rewritten. Never crash.
 */
#include "delta/thumb.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size - 2 > FWT_THUMB_BLOCK) {
        return 0;
    }
    unsigned flags = data[0] & (FWT_THUMB_ALL | FWT_XF_ARM);
    uint64_t pos = (uint64_t)data[1] * FWT_THUMB_BLOCK;
    const uint8_t *in = data + 2;
    size_t n = size - 2;
    uint8_t buf[FWT_THUMB_BLOCK];
    memcpy(buf, in, n);
    fwt_thumb_fwd(buf, n, pos, flags);
    fwt_thumb_inv(buf, n, pos, flags);
    if (memcmp(buf, in, n) != 0) {
        abort(); /* the transform is not undone exactly */
    }
    /* A map from the data's own first words (sorted, deduplicated): the base transform. */
    uint32_t st[8];
    int32_t dl[8];
    size_t k = 0;
    for (size_t i = 0; i + 8 <= n && k < 8; i += 8) {
        uint32_t s = (uint32_t)in[i] | (uint32_t)in[i + 1] << 8 | (uint32_t)in[i + 2] << 16;
        if (k == 0 || s > st[k - 1]) {
            st[k] = s;
            dl[k] = (int32_t)((uint32_t)in[i + 4] | (uint32_t)in[i + 5] << 8 |
                              (uint32_t)in[i + 6] << 16 | (uint32_t)in[i + 7] << 24);
            k++;
        }
    }
    /* Code ranges: increasing offsets from the data's last bytes (some may start or end outside
     * the block). */
    uint32_t r[16];
    size_t nr = 0;
    uint32_t at = (uint32_t)pos > 64 ? (uint32_t)pos - 64 : 0;
    for (size_t i = 0; i < 8 && i + 2 <= n; i++) {
        uint32_t a = at + in[n - 1 - i] * 3U, b = a + 1 + in[n - 2 - i] * 9U;
        r[2 * nr] = a;
        r[2 * nr + 1] = b;
        nr++;
        at = b + (i & 1U);
    }
    struct fwt_xranges code = {nr, r};
    memcpy(buf, in, n);
    fwt_thumb_fwd_code(buf, n, pos, flags, &code);
    for (size_t i = 0; i < n; i++) {
        int inside = 0;
        for (size_t j = 0; j < nr; j++) {
            inside |= pos + i >= r[2 * j] && pos + i < r[2 * j + 1];
        }
        if (!inside && buf[i] != in[i]) {
            abort(); /* a byte outside the code ranges was rewritten */
        }
    }
    fwt_thumb_inv_code(buf, n, pos, flags, &code);
    if (memcmp(buf, in, n) != 0) {
        abort();
    }
    struct fwt_xmap m = {(uint32_t)data[0] << 24, (uint32_t)(pos + n), k, st, dl,
                         (data[0] & 0x40U) ? &code : NULL};
    memcpy(buf, in, n);
    fwt_thumb_base(buf, n, pos, (data[0] & 0x3FU) | FWT_XF_PTR, &m);
    return 0;
}
