/*
 * libFuzzer target: the ELF reader of the bsdiff2 transform's hint (src/delta/elf.c,
 * fwt_delta_elf_code). Input: u32le ELF length L, u32le payload offset (mod 1 MiB), L bytes
 * of ELF file, then the image. Any bytes: code ranges that are increasing, disjoint, non-empty,
 * within the image and holding exactly bytes of the ELF file, at most FWT_DELTA_CODE_MAX; or a
 * refusal with a detail. Never a read outside the input.
 */
#include <fwtrust/fwt_util.h>

#include <fwtrust/fwt_delta.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8) {
        return 0;
    }
    size_t elen = rd32(data), off = rd32(data + 4) % (1U << 20);
    data += 8;
    size -= 8;
    if (elen > size) {
        elen = size;
    }
    /* Copies of exactly their lengths, so that ASan sees any read past either. */
    uint8_t *elf = malloc(elen ? elen : 1), *img = malloc(size - elen ? size - elen : 1);
    if (!elf || !img) {
        abort();
    }
    memcpy(elf, data, elen);
    memcpy(img, data + elen, size - elen);
    size_t ilen = size - elen, n = 0;
    uint32_t *r = NULL;
    fwt_detail_clear();
    fwt_err err = fwt_delta_elf_code(elf, elen, img, ilen, off, &r, &n);
    if (err != FWT_OK) {
        if (r || n || fwt_detail()[0] == '\0') {
            abort(); /* a refusal gives nothing and says why */
        }
    } else {
        if (!r || n == 0 || n > FWT_DELTA_CODE_MAX) {
            abort();
        }
        for (size_t i = 0; i < n; i++) {
            if (r[2 * i] >= r[2 * i + 1] || r[2 * i + 1] > ilen || r[2 * i] < off ||
                (i > 0 && r[2 * i] <= r[2 * i - 1])) {
                abort(); /* the ranges the encoder and decoder accept (merged where touching) */
            }
        }
    }
    free(r);
    free(elf);
    free(img);
    return 0;
}
