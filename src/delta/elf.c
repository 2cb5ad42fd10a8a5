/*
 * Code ranges of an image from the ELF file it was made from (<fwtrust/fwt_delta.h>,
 * fwt_delta_elf_code): the optional hint of the "bsdiff2" Thumb-2/A32 transform.
 *
 * A small reader of 32-bit little-endian ARM ELF executables, bounded and strict: the ELF
 * header, the program headers (the load addresses) and the section headers (which sections
 * hold instructions), every offset and size checked against the file before it is read.
 * Only what is needed: no symbols, no relocations, no dynamic section. Field layout from the
 * System V ABI (ELF32) and the ARM ELF supplement (EM_ARM 40).
 */
#include <fwtrust/fwt_util.h>

#include <fwtrust/fwt_delta.h>

#include <stdlib.h>
#include <string.h>

#define EHDR_SIZE 52U
#define PHDR_SIZE 32U
#define SHDR_SIZE 40U
#define EM_ARM 40U
#define ET_EXEC 2U
#define PT_LOAD 1U
#define SHT_PROGBITS 1U
#define SHT_NOBITS 8U
#define SHF_ALLOC 0x2U
#define SHF_EXECINSTR 0x4U
#define MAX_PHDRS 256U
#define MAX_SHDRS 4096U

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t rd16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

struct sec {
    uint32_t type, flags, addr, off, size, name;
};

struct elf {
    const uint8_t *b;
    size_t len;
    uint32_t phoff, phnum, shoff, shnum, shstrndx;
};

static struct sec sec_at(const struct elf *e, uint32_t i)
{
    const uint8_t *p = e->b + e->shoff + (size_t)i * SHDR_SIZE;
    struct sec s = {rd32(p + 4), rd32(p + 8), rd32(p + 12), rd32(p + 16), rd32(p + 20), rd32(p)};
    return s;
}

/* A section's name from the section-name table, or "" when it has none that is well formed. */
static const char *sec_name(const struct elf *e, const struct sec *s)
{
    if (e->shstrndx == 0 || e->shstrndx >= e->shnum) {
        return "";
    }
    struct sec t = sec_at(e, e->shstrndx);
    if (t.type == SHT_NOBITS || (uint64_t)t.off + t.size > e->len || s->name >= t.size) {
        return "";
    }
    const char *n = (const char *)e->b + t.off + s->name;
    return memchr(n, '\0', t.size - s->name) ? n : "";
}

/* The load (physical) address of file bytes [off, off + size): the PT_LOAD segment holding
 * them. 0 when none does (*lma untouched). */
static int lma_of(const struct elf *e, uint32_t off, uint32_t size, uint32_t *lma)
{
    for (uint32_t i = 0; i < e->phnum; i++) {
        const uint8_t *p = e->b + e->phoff + (size_t)i * PHDR_SIZE;
        uint32_t type = rd32(p), poff = rd32(p + 4), paddr = rd32(p + 12), filesz = rd32(p + 16);
        if (type == PT_LOAD && off >= poff && (uint64_t)off + size <= (uint64_t)poff + filesz) {
            *lma = paddr + (off - poff);
            return 1;
        }
    }
    return 0;
}

static int cmp_pair(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0;
}

static fwt_err read_headers(struct elf *e)
{
    const uint8_t *b = e->b;
    if (e->len < EHDR_SIZE || memcmp(b, "\177ELF", 4) != 0) {
        return fwt_fail(FWT_E_MALFORMED, "not an ELF file");
    }
    if (b[4] != 1 || b[5] != 1 || b[6] != 1) {
        return fwt_fail(FWT_E_UNSUPPORTED, "ELF class %u, data %u, version %u: only 32-bit "
                        "little-endian ELF version 1 (ARM) is read", b[4], b[5], b[6]);
    }
    uint32_t type = rd16(b + 16), machine = rd16(b + 18);
    if (machine != EM_ARM) {
        return fwt_fail(FWT_E_UNSUPPORTED, "ELF machine %u: only ARM (40) is read", machine);
    }
    if (type != ET_EXEC) {
        return fwt_fail(FWT_E_UNSUPPORTED, "ELF type %u: only a linked executable (2) has the "
                        "addresses of its code", type);
    }
    e->phoff = rd32(b + 28);
    e->shoff = rd32(b + 32);
    uint32_t ehsize = rd16(b + 40), phentsize = rd16(b + 42), shentsize = rd16(b + 46);
    e->phnum = rd16(b + 44);
    e->shnum = rd16(b + 48);
    e->shstrndx = rd16(b + 50);
    if (ehsize < EHDR_SIZE) {
        return fwt_fail(FWT_E_MALFORMED, "ELF header size %u (at least %u)", ehsize, EHDR_SIZE);
    }
    if (e->phnum == 0 || e->phnum > MAX_PHDRS || phentsize != PHDR_SIZE ||
        (uint64_t)e->phoff + (uint64_t)e->phnum * PHDR_SIZE > e->len) {
        return fwt_fail(FWT_E_MALFORMED, "ELF program headers: %u of %u bytes at %u, beyond the "
                        "%zu-byte file or not 1 to %u of %u bytes", e->phnum, phentsize, e->phoff,
                        e->len, MAX_PHDRS, PHDR_SIZE);
    }
    if (e->shnum == 0 || e->shnum > MAX_SHDRS || shentsize != SHDR_SIZE ||
        (uint64_t)e->shoff + (uint64_t)e->shnum * SHDR_SIZE > e->len) {
        return fwt_fail(FWT_E_MALFORMED, "ELF section headers: %u of %u bytes at %u, beyond the "
                        "%zu-byte file or not 1 to %u of %u bytes", e->shnum, shentsize, e->shoff,
                        e->len, MAX_SHDRS, SHDR_SIZE);
    }
    for (uint32_t i = 0; i < e->phnum; i++) {
        const uint8_t *p = b + e->phoff + (size_t)i * PHDR_SIZE;
        uint32_t poff = rd32(p + 4), filesz = rd32(p + 16), memsz = rd32(p + 20);
        if (rd32(p) == PT_LOAD && ((uint64_t)poff + filesz > e->len || filesz > memsz)) {
            return fwt_fail(FWT_E_MALFORMED, "ELF segment %u: %u bytes at %u (memory %u) do not "
                            "fit the %zu-byte file", i, filesz, poff, memsz, e->len);
        }
    }
    return FWT_OK;
}

fwt_err fwt_delta_elf_code(const uint8_t *elf, size_t elf_len, const uint8_t *img, size_t img_len,
                           size_t payload_off, uint32_t **ranges, size_t *n)
{
    *ranges = NULL;
    *n = 0;
    struct elf e = {elf, elf_len, 0, 0, 0, 0, 0};
    fwt_err err = read_headers(&e);
    if (err != FWT_OK) {
        return err;
    }
    /* The payload starts at the lowest load address of the loaded sections with contents (as
     * objcopy -O binary lays them out). */
    uint64_t min_lma = UINT64_MAX;
    size_t n_exec = 0;
    for (uint32_t i = 1; i < e.shnum; i++) {
        struct sec s = sec_at(&e, i);
        if (s.type == SHT_NOBITS || !(s.flags & SHF_ALLOC) || s.size == 0) {
            continue;
        }
        if ((uint64_t)s.off + s.size > e.len) {
            return fwt_fail(FWT_E_MALFORMED, "ELF section %u (%s): %u bytes at %u, beyond the "
                            "%zu-byte file", i, sec_name(&e, &s), s.size, s.off, e.len);
        }
        uint32_t lma;
        if (s.type == SHT_PROGBITS && lma_of(&e, s.off, s.size, &lma)) {
            min_lma = lma < min_lma ? lma : min_lma;
            n_exec += (s.flags & SHF_EXECINSTR) != 0;
        } else if (s.type == SHT_PROGBITS && (s.flags & SHF_EXECINSTR)) {
            return fwt_fail(FWT_E_MALFORMED, "ELF code section %u (%s) is in no loaded segment",
                            i, sec_name(&e, &s));
        }
    }
    if (n_exec == 0) {
        return fwt_fail(FWT_E_MALFORMED, "the ELF file has no loaded code section");
    }
    if (n_exec > FWT_DELTA_CODE_MAX) {
        return fwt_fail(FWT_E_TOO_LARGE, "the ELF file has %zu code sections (at most %u)", n_exec,
                        FWT_DELTA_CODE_MAX);
    }
    uint32_t *r = malloc(2 * n_exec * sizeof(*r));
    if (!r) {
        return fwt_fail(FWT_E_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (uint32_t i = 1; i < e.shnum && err == FWT_OK; i++) {
        struct sec s = sec_at(&e, i);
        uint32_t lma;
        if (s.type != SHT_PROGBITS || (s.flags & (SHF_ALLOC | SHF_EXECINSTR)) !=
                                          (SHF_ALLOC | SHF_EXECINSTR) || s.size == 0 ||
            !lma_of(&e, s.off, s.size, &lma)) {
            continue;
        }
        /* Its place in the image, and the image must hold exactly its bytes there. */
        uint64_t at = (uint64_t)payload_off + (lma - min_lma);
        if (at + s.size > img_len || at + s.size > UINT32_MAX) {
            err = fwt_fail(FWT_E_DIGEST, "ELF section %s (%u bytes at 0x%08x) lies beyond the "
                           "%zu-byte image: not the ELF file of this image", sec_name(&e, &s),
                           s.size, (unsigned)lma, img_len);
        } else if (memcmp(img + at, elf + s.off, s.size) != 0) {
            err = fwt_fail(FWT_E_DIGEST, "ELF section %s (at 0x%08x, image offset %llu) differs "
                           "from the image's bytes: not the ELF file of this image",
                           sec_name(&e, &s), (unsigned)lma, (unsigned long long)at);
        } else {
            r[2 * k] = (uint32_t)at;
            r[2 * k + 1] = (uint32_t)(at + s.size);
            k++;
        }
    }
    if (err != FWT_OK) {
        free(r);
        return err;
    }
    /* Increasing; adjacent or overlapping sections merged. */
    qsort(r, k, 2 * sizeof(*r), cmp_pair);
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m > 0 && r[2 * i] <= r[2 * m - 1]) {
            r[2 * m - 1] = r[2 * i + 1] > r[2 * m - 1] ? r[2 * i + 1] : r[2 * m - 1];
        } else {
            r[2 * m] = r[2 * i];
            r[2 * m + 1] = r[2 * i + 1];
            m++;
        }
    }
    *ranges = r;
    *n = m;
    return FWT_OK;
}
