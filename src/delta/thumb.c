/*
 * The ARM Thumb-2 transform of "bsdiff2" patches (thumb.h): instruction
 * encodings from the ARM Architecture Reference Manual (ARMv7-M, A7.7).
 */
#include "thumb.h"

static uint32_t rd16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static void wr16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* BL / B.W T4: the 24-bit halfword offset S:I1:I2:imm10:imm11, I = NOT(J XOR S). */
static uint32_t t4_get(uint32_t h1, uint32_t h2)
{
    uint32_t s = (h1 >> 10) & 1U;
    uint32_t i1 = ~((h2 >> 13) ^ s) & 1U;
    uint32_t i2 = ~((h2 >> 11) ^ s) & 1U;
    return s << 23 | i1 << 22 | i2 << 21 | (h1 & 0x3FFU) << 11 | (h2 & 0x7FFU);
}

static void t4_put(uint32_t *h1, uint32_t *h2, uint32_t v)
{
    uint32_t s = (v >> 23) & 1U;
    uint32_t j1 = (~((v >> 22) ^ s)) & 1U;
    uint32_t j2 = (~((v >> 21) ^ s)) & 1U;
    *h1 = (*h1 & 0xF800U) | s << 10 | ((v >> 11) & 0x3FFU);
    *h2 = (*h2 & 0xD000U) | j1 << 13 | j2 << 11 | (v & 0x7FFU);
}

/* B<c>.W T3: the 20-bit halfword offset S:J2:J1:imm6:imm11. */
static uint32_t t3_get(uint32_t h1, uint32_t h2)
{
    return ((h1 >> 10) & 1U) << 19 | ((h2 >> 11) & 1U) << 18 | ((h2 >> 13) & 1U) << 17 |
           (h1 & 0x3FU) << 11 | (h2 & 0x7FFU);
}

static void t3_put(uint32_t *h1, uint32_t *h2, uint32_t v)
{
    *h1 = (*h1 & 0xFBC0U) | ((v >> 19) & 1U) << 10 | ((v >> 11) & 0x3FU);
    *h2 = (*h2 & 0xD000U) | ((v >> 17) & 1U) << 13 | ((v >> 18) & 1U) << 11 | (v & 0x7FFU);
}

uint32_t fwt_xmap_apply(const struct fwt_xmap *m, uint32_t off)
{
    if (m->n == 0 || off < m->start[0]) {
        return off;
    }
    size_t lo = 0, hi = m->n; /* start[lo] <= off < start[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->start[mid] <= off) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return off + (uint32_t)m->delta[lo];
}

/* A target t (an image offset): through the map, if any. */
static uint32_t tgt(const struct fwt_xmap *m, uint32_t t)
{
    return m ? fwt_xmap_apply(m, t) : t;
}

/* A32: BL (word offset imm24 from PC = instruction + 8) and LDR Rt,[PC,#+imm12]. */
static void run_arm(uint8_t *buf, size_t len, uint64_t pos, unsigned flags, int dir,
                    const struct fwt_xmap *map)
{
    for (size_t i = (size_t)((4U - (pos & 3U)) & 3U); i + 4 <= len; i += 4) {
        uint32_t w = rd16(buf + i) | rd16(buf + i + 2) << 16;
        uint32_t pc = (uint32_t)(pos + i + 8);
        if ((w & 0x0F000000U) == 0x0B000000U && (w >> 28) != 0xFU) {
            if (!(flags & FWT_THUMB_BL)) {
                continue;
            }
            uint32_t v = w & 0xFFFFFFU, base = pc >> 2;
            uint32_t rel = (v ^ 0x800000U) - 0x800000U;
            v = dir < 0 ? v - base : tgt(map, (base + rel) << 2) >> 2;
            w = (w & 0xFF000000U) | (v & 0xFFFFFFU);
        } else if ((w & 0x0FFF0000U) == 0x059F0000U && (w >> 28) != 0xFU) {
            if (!(flags & FWT_THUMB_LDR32)) {
                continue;
            }
            uint32_t v = dir < 0 ? w - pc : tgt(map, pc + (w & 0xFFFU));
            w = (w & 0xFFFFF000U) | (v & 0xFFFU);
        } else {
            continue;
        }
        wr16(buf + i, w & 0xFFFFU);
        wr16(buf + i + 2, w >> 16);
    }
}

/* dir +1: relative to absolute (through map if not NULL); -1: back (never with a map). */
static void run(uint8_t *buf, size_t len, uint64_t pos, unsigned flags, int dir,
                const struct fwt_xmap *map)
{
    if (flags & FWT_XF_ARM) {
        run_arm(buf, len, pos, flags, dir, map);
        return;
    }
    size_t i = 0;
    while (i + 2 <= len) {
        uint32_t h1 = rd16(buf + i);
        uint64_t at = pos + i;
        if ((h1 & 0xF800U) == 0x4800U) {
            /* LDR Rt,[PC,#imm8*4]: the word index of Align(PC,4) + imm8*4, mod 256. */
            if (flags & FWT_THUMB_LDR16) {
                uint32_t base = (uint32_t)((at + 4) >> 2);
                uint32_t v = dir < 0 ? h1 - base
                                     : tgt(map, (base + (h1 & 0xFFU)) << 2) >> 2;
                wr16(buf + i, (h1 & 0xFF00U) | (v & 0xFFU));
            }
            i += 2;
            continue;
        }
        if ((h1 & 0xE000U) != 0xE000U || (h1 & 0x1800U) == 0) {
            i += 2; /* a 16-bit instruction */
            continue;
        }
        if (i + 4 > len) {
            break; /* a 32-bit instruction not ending in the block: left alone */
        }
        uint32_t h2 = rd16(buf + i + 2);
        if ((h1 & 0xF800U) == 0xF000U && (h2 & 0x9000U) == 0x9000U && (h2 & 0x4000U) != 0) {
            /* BL: 11 J1 1 J2 */
            if (flags & FWT_THUMB_BL) {
                uint32_t base = (uint32_t)((at + 4) >> 1);
                uint32_t v = t4_get(h1, h2);
                uint32_t rel = (v ^ 0x800000U) - 0x800000U; /* sign-extended */
                t4_put(&h1, &h2,
                       (dir < 0 ? v - base : tgt(map, (base + rel) << 1) >> 1) & 0xFFFFFFU);
            }
        } else if ((h1 & 0xF800U) == 0xF000U && (h2 & 0xD000U) == 0x9000U) {
            /* B.W T4: 10 J1 1 J2 */
            if (flags & FWT_THUMB_BL) {
                uint32_t base = (uint32_t)((at + 4) >> 1);
                uint32_t v = t4_get(h1, h2);
                uint32_t rel = (v ^ 0x800000U) - 0x800000U; /* sign-extended */
                t4_put(&h1, &h2,
                       (dir < 0 ? v - base : tgt(map, (base + rel) << 1) >> 1) & 0xFFFFFFU);
            }
        } else if ((h1 & 0xF800U) == 0xF000U && (h2 & 0xD000U) == 0x8000U &&
                   (h1 & 0x0380U) != 0x0380U) {
            /* B<c>.W T3: 10 J1 0 J2, cond (h1 bits 9..6) not 111x */
            if (flags & FWT_THUMB_BCOND) {
                uint32_t base = (uint32_t)((at + 4) >> 1);
                uint32_t v = t3_get(h1, h2);
                uint32_t rel = (v ^ 0x80000U) - 0x80000U;
                t3_put(&h1, &h2,
                       (dir < 0 ? v - base : tgt(map, (base + rel) << 1) >> 1) & 0xFFFFFU);
            }
        } else if (h1 == 0xF8DFU) {
            /* LDR.W Rt,[PC,#+imm12]: Align(PC,4) + imm12, mod 4096. */
            if (flags & FWT_THUMB_LDR32) {
                uint32_t base = (uint32_t)((at + 4) & ~(uint64_t)3);
                uint32_t v = dir < 0 ? h2 - base : tgt(map, base + (h2 & 0xFFFU));
                h2 = (h2 & 0xF000U) | (v & 0xFFFU);
            }
        }
        wr16(buf + i, h1);
        wr16(buf + i + 2, h2);
        i += 4;
    }
}

/* run over the parts of buf (image offset pos) inside code ranges (NULL: all of it). */
static void run_code(uint8_t *buf, size_t len, uint64_t pos, unsigned flags, int dir,
                     const struct fwt_xmap *map, const struct fwt_xranges *code)
{
    if (!code) {
        run(buf, len, pos, flags, dir, map);
        return;
    }
    uint64_t end = pos + len;
    size_t lo = 0, hi = code->n; /* the first range ending after pos */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (code->r[2 * mid + 1] <= pos) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (size_t i = lo; i < code->n && code->r[2 * i] < end; i++) {
        uint64_t a = code->r[2 * i] > pos ? code->r[2 * i] : pos;
        uint64_t b = code->r[2 * i + 1] < end ? code->r[2 * i + 1] : end;
        if (a < b) {
            run(buf + (a - pos), (size_t)(b - a), a, flags, dir, map);
        }
    }
}

void fwt_thumb_fwd(uint8_t *buf, size_t len, uint64_t pos, unsigned flags)
{
    run(buf, len, pos, flags, 1, NULL);
}

void fwt_thumb_inv(uint8_t *buf, size_t len, uint64_t pos, unsigned flags)
{
    run(buf, len, pos, flags, -1, NULL);
}

void fwt_thumb_fwd_code(uint8_t *buf, size_t len, uint64_t pos, unsigned flags,
                        const struct fwt_xranges *code)
{
    run_code(buf, len, pos, flags, 1, NULL, code);
}

void fwt_thumb_inv_code(uint8_t *buf, size_t len, uint64_t pos, unsigned flags,
                        const struct fwt_xranges *code)
{
    run_code(buf, len, pos, flags, -1, NULL, code);
}

void fwt_thumb_base(uint8_t *buf, size_t len, uint64_t pos, unsigned flags,
                    const struct fwt_xmap *map)
{
    if (map && (flags & FWT_XF_PTR)) {
        /* Pointers first, on the base's own bytes (words at 4-aligned image offsets). */
        for (size_t i = (size_t)((4U - (pos & 3U)) & 3U); i + 4 <= len; i += 4) {
            uint32_t w = (uint32_t)rd16(buf + i) | rd16(buf + i + 2) << 16;
            uint32_t o = w - map->load;
            if (w >= map->load && o < map->base_len) {
                w = map->load + fwt_xmap_apply(map, o);
                wr16(buf + i, w & 0xFFFFU);
                wr16(buf + i + 2, w >> 16);
            }
        }
    }
    run_code(buf, len, pos, flags & (FWT_THUMB_ALL | FWT_XF_ARM), 1, map, map ? map->code : NULL);
}

void fwt_thumb_fwd_image(uint8_t *buf, size_t len, unsigned flags, const struct fwt_xmap *map,
                         const struct fwt_xranges *code)
{
    for (size_t off = 0; off < len; off += FWT_THUMB_BLOCK) {
        size_t n = len - off < FWT_THUMB_BLOCK ? len - off : FWT_THUMB_BLOCK;
        if (map) {
            fwt_thumb_base(buf + off, n, off, flags, map);
        } else {
            fwt_thumb_fwd_code(buf + off, n, off, flags & (FWT_THUMB_ALL | FWT_XF_ARM), code);
        }
    }
}
