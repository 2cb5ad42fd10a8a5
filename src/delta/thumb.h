/*
 * The ARM Thumb-2 transform of "bsdiff2" patches (private to src/delta:
 * encode.c applies it, decode.c applies and undoes it; docs/updates.md).
 *
 * Rewrites, in place, the targets of branch and PC-relative load
 * instructions from relative (to the instruction) to absolute (an image
 * offset), so that a call to one function reads the same wherever it is in
 * the image and a code move changes fewer bytes. The image is cut in blocks
 * of FWT_THUMB_BLOCK bytes at image offsets that are multiples of it; each
 * block is scanned on its own from its start, halfword by halfword:
 *
 *   BL, B.W (T4)     11110 S imm10 | 11 J1 1 J2 imm11 / 10 J1 1 J2 imm11 (FWT_THUMB_BL)
 *   B<c>.W (T3)      11110 S cond imm6 | 10 J1 0 J2 imm11, cond not 111x (FWT_THUMB_BCOND)
 *   LDR Rt,[PC,#i]   01001 Rt imm8 (T1, FWT_THUMB_LDR16)
 *   LDR.W Rt,[PC,#+i] 1111 1000 1101 1111 | Rt imm12 (T2 with U=1, FWT_THUMB_LDR32)
 *
 * With FWT_XF_ARM the block holds A32 code instead (ARM7TDMI, ARM9): every
 * 4-aligned word is one instruction, BL and LDR literal are rewritten the same way.
 *
 * A 32-bit instruction is transformed only if it ends inside the block. The
 * transform changes only target bits; whether an instruction matches and how
 * far the scan then advances (2 bytes, or 4 after a halfword starting a
 * 32-bit instruction) depend only on bits it keeps, so scanning the
 * transformed block makes the same decisions and fwt_thumb_inv undoes
 * fwt_thumb_fwd exactly (each field is mapped by adding the position modulo
 * the field's range). A block depends on nothing outside it: the decoder
 * transforms the base one block at a time where the patch reads it.
 */
#ifndef FWT_DELTA_THUMB_H
#define FWT_DELTA_THUMB_H

#include <stddef.h>
#include <stdint.h>

#define FWT_THUMB_BLOCK 4096U

#define FWT_THUMB_BL 0x01U     /* BL and B.W (T4) */
#define FWT_THUMB_BCOND 0x02U  /* B<c>.W (T3) */
#define FWT_THUMB_LDR16 0x04U  /* LDR literal (T1) */
#define FWT_THUMB_LDR32 0x08U  /* LDR.W literal (T2, positive offsets) */
#define FWT_THUMB_ALL 0x0FU
#define FWT_XF_PTR 0x10U       /* base only, with a map: 32-bit pointers into the image */
#define FWT_XF_RANGES 0x40U    /* FWT_DELTA_XF_CODE; with a map: instructions only in code ranges (below),
                                * shipped after the map's entries */
#define FWT_XF_ARM 0x20U       /* A32 code instead: BL (FWT_THUMB_BL) and LDR literal with a
                                * positive offset (FWT_THUMB_LDR32) at 4-aligned offsets:
                                * cond 1011 imm24 (cond not 1111), cond 0101 1001 1111 Rt imm12 */

/*
 * The address map of a "thumb2-map" patch (made by the encoder, shipped at the
 * start of the records): image offsets of the base to where the same bytes
 * are in the new image, M(o) = o + delta[i] for the last i with start[i] <= o
 * (o itself below start[0]). The base is transformed with it, one way: every
 * target found is replaced by its image offset mapped through M, and with
 * FWT_XF_PTR every aligned 32-bit word w with load <= w < load + base_len by
 * load + M(w - load), so that a reference which still points at the same
 * code reads exactly as in the transformed new image (whose targets are
 * made absolute but not mapped: only that transform is undone).
 */
#define FWT_XMAP_MAX 16384U

/*
 * Code ranges (FWT_XF_RANGES, from an ELF hint): image offsets [r[2i], r[2i+1]), increasing
 * and disjoint. With them, instructions are rewritten only inside a range, the scan of each
 * range's part of a block starting at that part's first byte (so data around code is never
 * read as instructions, and code after data is decoded from its own start); pointers
 * (FWT_XF_PTR) are still mapped everywhere in the base. Whether and how an instruction is
 * rewritten still depends only on kept bits and its offset: the inverse stays exact.
 */
#define FWT_XRANGE_MAX 4096U
struct fwt_xranges {
    size_t n;
    const uint32_t *r; /* 2n: start, end */
};

struct fwt_xmap {
    uint32_t load;          /* the image's load address (for pointers) */
    uint32_t base_len;
    size_t n;
    const uint32_t *start;  /* n, strictly increasing */
    const int32_t *delta;   /* n */
    const struct fwt_xranges *code; /* the base's code ranges (NULL: every byte is scanned) */
};
uint32_t fwt_xmap_apply(const struct fwt_xmap *m, uint32_t off);

/* Transform (fwd) or undo (inv) buf[0..len), the block at image offset pos (a multiple of
 * FWT_THUMB_BLOCK, len at most FWT_THUMB_BLOCK), for the instruction kinds in flags. */
void fwt_thumb_fwd(uint8_t *buf, size_t len, uint64_t pos, unsigned flags);
void fwt_thumb_inv(uint8_t *buf, size_t len, uint64_t pos, unsigned flags);
/* The same within code ranges only (NULL: the whole block, as above). */
void fwt_thumb_fwd_code(uint8_t *buf, size_t len, uint64_t pos, unsigned flags,
                        const struct fwt_xranges *code);
void fwt_thumb_inv_code(uint8_t *buf, size_t len, uint64_t pos, unsigned flags,
                        const struct fwt_xranges *code);
/* The base block at pos transformed through map (NULL: as fwt_thumb_fwd, no pointers), its
 * instructions within map->code. */
void fwt_thumb_base(uint8_t *buf, size_t len, uint64_t pos, unsigned flags,
                    const struct fwt_xmap *map);
/* The whole image, block by block: fwt_thumb_fwd_code with code, or fwt_thumb_base with a
 * map (whose code ranges apply; code is then not used). */
void fwt_thumb_fwd_image(uint8_t *buf, size_t len, unsigned flags, const struct fwt_xmap *map,
                         const struct fwt_xranges *code);

#endif
