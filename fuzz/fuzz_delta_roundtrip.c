/*
 * libFuzzer target: the delta engine's encoder against its decoder
 * (src/delta). Input: byte 0 picks the method (0 zstd compression, 1 auto,
 * 2 prefix patch, 3 bsdiff patch, 4 bsdiff2 patch, 5 lzma2-dict patch, 6 auto with the
 * decoding window capped at 4 KiB: decoded with a decoder capped there), bytes 1-2 (u16le,
 * modulo the rest's
 * length + 1) split the rest into base || new. Every method must give a
 * frame that decodes to exactly new, bare and inside its container; a patch
 * without a base is refused with a detail. Never crash.
 */
#include <fwtrust/fwt_util.h>

#include <fwtrust/fwt_delta.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN (64U * 1024U)

static void check_decodes(const uint8_t *frame, size_t flen, enum fwt_dec_method m,
                          const uint8_t *base, size_t bn, const uint8_t *nw, size_t nn,
                          uint64_t cap)
{
    uint8_t *dec = NULL;
    if (fwt_delta_decode(frame, flen, m, base, bn, nn, cap, &dec) != FWT_OK ||
        (nn > 0 && memcmp(dec, nw, nn) != 0)) {
        abort(); /* decode(encode(base, new)) != new */
    }
    free(dec);
    uint8_t *file = NULL;
    size_t len = 0;
    static const char hjson[] = "{\"fwtrust_encoded\":1}";
    if (fwt_delta_container(hjson, sizeof(hjson) - 1, frame, flen, &file, &len) != FWT_OK) {
        abort();
    }
    dec = NULL;
    if (fwt_delta_decode(file, len, m, base, bn, nn, cap, &dec) != FWT_OK ||
        (nn > 0 && memcmp(dec, nw, nn) != 0)) {
        abort(); /* the container's header frame changes nothing */
    }
    free(dec);
    free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3 || size - 3 > MAX_IN) {
        return 0;
    }
    unsigned sel = data[0] % 7;
    size_t split = ((size_t)data[1] | (size_t)data[2] << 8) % (size - 3 + 1);
    data += 3;
    size -= 3;
    const uint8_t *base = data, *nw = data + split;
    size_t bn = split, nn = size - split;
    uint8_t *z = NULL;
    size_t zlen = 0;
    fwt_detail_clear();
    if (sel == 0) {
        if (fwt_delta_compress(nw, nn, 1, &z, &zlen) != FWT_OK) {
            abort();
        }
        check_decodes(z, zlen, FWT_DEC_PLAIN, NULL, 0, nw, nn, 0);
        free(z);
        return 0;
    }
    static const enum fwt_delta_method ms[] = {FWT_DELTA_AUTO, FWT_DELTA_PREFIX, FWT_DELTA_BSDIFF,
                                               FWT_DELTA_BSDIFF2, FWT_DELTA_LZDICT, FWT_DELTA_AUTO};
    enum fwt_delta_method me = ms[sel - 1];
    uint64_t cap = sel == 6 ? 4096 : 0;
    enum fwt_dec_method used = FWT_DEC_PLAIN;
    fwt_err err = fwt_delta_patch(bn ? base : NULL, bn, nw, nn, 1, me, cap, NULL, NULL, &z, &zlen,
                                  &used);
    if (bn == 0) {
        if (err != FWT_E_ARG || z != NULL || fwt_detail()[0] == '\0') {
            abort(); /* a patch needs a base, and says so */
        }
        return 0;
    }
    if (err != FWT_OK || (me == FWT_DELTA_PREFIX && used != FWT_DEC_PREFIX) ||
        (me == FWT_DELTA_BSDIFF && used != FWT_DEC_BSDIFF) ||
        ((me == FWT_DELTA_BSDIFF2 || me == FWT_DELTA_LZDICT) && used != FWT_DEC_BSDIFF2) ||
        used == FWT_DEC_PLAIN) {
        abort();
    }
    check_decodes(z, zlen, used, base, bn, nw, nn, cap);
    free(z);
    return 0;
}
