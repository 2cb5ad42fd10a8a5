/*
 * Intel HEX reader and writer (record types 00 data, 01 end of file,
 * 02 extended segment address, 03 start segment address, 04 extended linear
 * address, 05 start linear address). Our own implementation of the format:
 * every record's length and checksum are checked, records that overlap data
 * already seen are refused, and data after the EOF record is refused.
 */
#include "image_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fwt_ihex_init(struct fwt_ihex_parser *p, fwt_ihex_data_fn fn, void *ctx)
{
    memset(p, 0, sizeof(*p));
    p->data_fn = fn;
    p->ctx = ctx;
}

void fwt_ihex_free(struct fwt_ihex_parser *p)
{
    free(p->ranges);
    p->ranges = NULL;
    p->n_ranges = p->cap_ranges = 0;
}

/* Insert [start, end) into the sorted range list; FWT_E_MALFORMED on overlap. */
static fwt_err add_range(struct fwt_ihex_parser *p, uint64_t start, uint64_t end)
{
    /* Find the first range whose end >= start (binary search). */
    size_t lo = 0, hi = p->n_ranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->ranges[mid].end < start) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    size_t i = lo;
    if (i < p->n_ranges && p->ranges[i].start < end && start < p->ranges[i].end) {
        return fwt_fail(FWT_E_MALFORMED,
                        "line %lu: data at 0x%08llx-0x%08llx overlaps data already defined at "
                        "0x%08llx-0x%08llx",
                        p->line, (unsigned long long)start, (unsigned long long)(end - 1),
                        (unsigned long long)p->ranges[i].start,
                        (unsigned long long)(p->ranges[i].end - 1));
    }
    /* Merge with the neighbour on the left (ranges[i].end == start) or right. */
    if (i < p->n_ranges && p->ranges[i].end == start) {
        p->ranges[i].end = end;
        if (i + 1 < p->n_ranges && p->ranges[i + 1].start < end) {
            return fwt_fail(FWT_E_MALFORMED, "line %lu: data at 0x%08llx overlaps earlier data",
                            p->line, (unsigned long long)start);
        }
        if (i + 1 < p->n_ranges && p->ranges[i + 1].start == end) {
            p->ranges[i].end = p->ranges[i + 1].end;
            memmove(&p->ranges[i + 1], &p->ranges[i + 2],
                    (p->n_ranges - i - 2) * sizeof(p->ranges[0]));
            p->n_ranges--;
        }
        return FWT_OK;
    }
    if (i < p->n_ranges && p->ranges[i].start == end) {
        p->ranges[i].start = start;
        return FWT_OK;
    }
    if (p->n_ranges == p->cap_ranges) {
        size_t ncap = p->cap_ranges ? p->cap_ranges * 2 : 16;
        if (ncap > SIZE_MAX / sizeof(p->ranges[0])) {
            return fwt_fail(FWT_E_NOMEM, "too many separate data ranges");
        }
        struct fwt_ihex_range *n = realloc(p->ranges, ncap * sizeof(p->ranges[0]));
        if (!n) {
            return fwt_fail(FWT_E_NOMEM, "out of memory for %zu data ranges", ncap);
        }
        p->ranges = n;
        p->cap_ranges = ncap;
    }
    memmove(&p->ranges[i + 1], &p->ranges[i], (p->n_ranges - i) * sizeof(p->ranges[0]));
    p->ranges[i].start = start;
    p->ranges[i].end = end;
    p->n_ranges++;
    return FWT_OK;
}

fwt_err fwt_ihex_line(struct fwt_ihex_parser *p, const char *line, size_t len)
{
    p->line++;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) {
        len--;
    }
    if (len == 0) {
        return FWT_OK; /* blank lines are tolerated */
    }
    if (p->eof) {
        return fwt_fail(FWT_E_MALFORMED, "line %lu: data after the end-of-file record", p->line);
    }
    if (line[0] != ':') {
        return fwt_fail(FWT_E_MALFORMED, "line %lu: record does not start with ':'", p->line);
    }
    if (len > FWT_IHEX_LINE_MAX) {
        return fwt_fail(FWT_E_MALFORMED, "line %lu: record longer than %u characters", p->line,
                        FWT_IHEX_LINE_MAX);
    }
    if (len < 11 || (len - 1) % 2 != 0) {
        return fwt_fail(FWT_E_MALFORMED, "line %lu: record has %zu characters (odd or too short)",
                        p->line, len);
    }
    uint8_t rec[(FWT_IHEX_LINE_MAX - 1) / 2];
    size_t n = (len - 1) / 2;
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = fwt_hex_digit(line[1 + 2 * i]), lo = fwt_hex_digit(line[2 + 2 * i]);
        if (hi < 0 || lo < 0) {
            return fwt_fail(FWT_E_MALFORMED, "line %lu: non-hex character in record", p->line);
        }
        rec[i] = (uint8_t)((hi << 4) | lo);
        sum = (uint8_t)(sum + rec[i]);
    }
    size_t count = rec[0];
    if (n != count + 5) {
        return fwt_fail(FWT_E_MALFORMED, "line %lu: byte count %zu does not match the record length",
                        p->line, count);
    }
    if (sum != 0) {
        return fwt_fail(FWT_E_MALFORMED, "line %lu: checksum mismatch (record says 0x%02x)", p->line,
                        rec[n - 1]);
    }
    uint32_t off = ((uint32_t)rec[1] << 8) | rec[2];
    uint8_t type = rec[3];
    const uint8_t *data = &rec[4];
    switch (type) {
    case 0x00: {
        if (count == 0) {
            return FWT_OK;
        }
        if (off + count > 0x10000U) {
            return fwt_fail(FWT_E_MALFORMED,
                            "line %lu: data record crosses a 64 KiB boundary (offset 0x%04x, %zu "
                            "bytes)",
                            p->line, (unsigned)off, count);
        }
        uint64_t start = (uint64_t)p->base + off;
        uint64_t end = start + count;
        if (end > 0x100000000ULL) {
            return fwt_fail(FWT_E_MALFORMED, "line %lu: data runs past the 4 GiB address space",
                            p->line);
        }
        fwt_err e = add_range(p, start, end);
        if (e != FWT_OK) {
            return e;
        }
        if (p->data_fn) {
            return p->data_fn(p->ctx, (uint32_t)start, data, count);
        }
        return FWT_OK;
    }
    case 0x01:
        if (count != 0) {
            return fwt_fail(FWT_E_MALFORMED, "line %lu: end-of-file record with data", p->line);
        }
        p->eof = 1;
        return FWT_OK;
    case 0x02:
    case 0x04:
        if (count != 2 || off != 0) {
            return fwt_fail(FWT_E_MALFORMED, "line %lu: address record type %02x must have 2 data "
                            "bytes and offset 0", p->line, type);
        }
        p->base = ((uint32_t)data[0] << 8 | data[1]) << (type == 0x02 ? 4 : 16);
        return FWT_OK;
    case 0x03:
    case 0x05:
        if (count != 4 || off != 0) {
            return fwt_fail(FWT_E_MALFORMED, "line %lu: start address record type %02x must have 4 "
                            "data bytes", p->line, type);
        }
        p->has_start = 1;
        p->start_addr = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
                        (uint32_t)data[2] << 8 | data[3];
        return FWT_OK;
    default:
        return fwt_fail(FWT_E_MALFORMED, "line %lu: unknown record type %02x", p->line, type);
    }
}

fwt_err fwt_ihex_finish(struct fwt_ihex_parser *p)
{
    if (!p->eof) {
        return fwt_fail(FWT_E_MALFORMED, "no end-of-file record (file truncated?)");
    }
    if (p->n_ranges == 0) {
        return fwt_fail(FWT_E_MALFORMED, "no data records");
    }
    return FWT_OK;
}

uint64_t fwt_ihex_min(const struct fwt_ihex_parser *p)
{
    return p->n_ranges ? p->ranges[0].start : 0;
}

uint64_t fwt_ihex_end(const struct fwt_ihex_parser *p)
{
    return p->n_ranges ? p->ranges[p->n_ranges - 1].end : 0;
}

fwt_err fwt_ihex_parse_buf(struct fwt_ihex_parser *p, const char *buf, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        fwt_err e = fwt_ihex_line(p, buf + pos, l);
        if (e != FWT_OK) {
            return e;
        }
        pos += l + (nl ? 1 : 0);
    }
    return fwt_ihex_finish(p);
}

fwt_err fwt_ihex_parse_file(struct fwt_ihex_parser *p, FILE *f, const char *name)
{
    char line[FWT_IHEX_LINE_MAX + 8];
    for (;;) {
        if (!fgets(line, sizeof(line), f)) {
            if (ferror(f)) {
                return fwt_fail(FWT_E_IO, "%s: read error", name);
            }
            break;
        }
        size_t l = strlen(line);
        if (l == sizeof(line) - 1 && line[l - 1] != '\n') {
            return fwt_fail(FWT_E_MALFORMED, "%s: line %lu: record longer than %u characters", name,
                            p->line + 1, FWT_IHEX_LINE_MAX);
        }
        if (l > 0 && line[l - 1] == '\n') {
            l--;
        }
        if (memchr(line, '\0', l)) {
            return fwt_fail(FWT_E_MALFORMED, "%s: line %lu: NUL byte", name, p->line + 1);
        }
        fwt_err e = fwt_ihex_line(p, line, l);
        if (e != FWT_OK) {
            return fwt_fail(e, "%s: %s", name, fwt_detail());
        }
    }
    fwt_err e = fwt_ihex_finish(p);
    if (e != FWT_OK) {
        return fwt_fail(e, "%s: %s", name, fwt_detail());
    }
    return FWT_OK;
}

/* ---- HEX to flat binary ---- */

struct to_bin {
    int fd;
    uint64_t base;
};

static fwt_err write_at(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t w = pwrite(fd, buf, len, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fwt_fail(FWT_E_IO, "write: %s", strerror(errno));
        }
        buf += w;
        len -= (size_t)w;
        off += (uint64_t)w;
    }
    return FWT_OK;
}

static fwt_err to_bin_data(void *ctx, uint32_t addr, const uint8_t *data, size_t len)
{
    struct to_bin *t = ctx;
    return write_at(t->fd, data, len, (uint64_t)addr - t->base);
}

void fwt_ihex_map_free(struct fwt_ihex_map *m)
{
    if (m) {
        free(m->ranges);
        memset(m, 0, sizeof(*m));
    }
}

void fwt_ihex_map_patch(const struct fwt_ihex_map *m, uint64_t off, uint8_t *buf, size_t len)
{
    if (!m || m->n_ranges == 0 || len == 0) {
        return;
    }
    uint64_t end = off + len;
    /* The first range that ends after off (binary search); gaps lie between ranges. */
    size_t lo = 0, hi = m->n_ranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->ranges[mid].end <= off) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    uint64_t pos = off;
    for (size_t i = lo; pos < end; i++) {
        uint64_t gap_end = i < m->n_ranges ? m->ranges[i].start : m->span;
        if (gap_end > end) {
            gap_end = end;
        }
        if (pos < gap_end) {
            memset(buf + (pos - off), m->fill, (size_t)(gap_end - pos));
        }
        if (i >= m->n_ranges) {
            break;
        }
        pos = m->ranges[i].end > pos ? m->ranges[i].end : pos;
    }
}

fwt_err fwt_ihex_map_fill(const struct fwt_ihex_map *m, int fd)
{
    uint8_t fill[4096];
    memset(fill, m->fill, sizeof(fill));
    fwt_err e = FWT_OK;
    for (size_t i = 0; i + 1 < m->n_ranges && e == FWT_OK; i++) {
        uint64_t g = m->ranges[i].end, gend = m->ranges[i + 1].start;
        while (g < gend && e == FWT_OK) {
            size_t n = gend - g > sizeof(fill) ? sizeof(fill) : (size_t)(gend - g);
            e = write_at(fd, fill, n, g);
            g += n;
        }
    }
    return e;
}

fwt_err fwt_ihex_to_bin(const char *path, int out_fd, uint8_t erased_val, uint64_t max_span,
                        uint32_t *base, uint32_t *size, struct fwt_ihex_map *map)
{
    if (map) {
        memset(map, 0, sizeof(*map));
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        return fwt_fail(errno == ENOENT ? FWT_E_NOT_FOUND : FWT_E_IO, "%s: %s", path,
                        strerror(errno));
    }
    /* Pass 1: address ranges, overlap and syntax checks. Nothing is written yet. */
    struct fwt_ihex_parser p;
    fwt_ihex_init(&p, NULL, NULL);
    fwt_err e = fwt_ihex_parse_file(&p, f, path);
    if (e != FWT_OK) {
        goto out;
    }
    uint64_t lo = fwt_ihex_min(&p), hi = fwt_ihex_end(&p);
    if (max_span > UINT32_MAX) {
        max_span = UINT32_MAX;
    }
    if (hi - lo > max_span) {
        e = fwt_fail(FWT_E_TOO_LARGE, "%s: data spans 0x%llx bytes, from 0x%08llx to 0x%08llx; "
                     "at most 0x%llx are allowed (the slot size, or %u MiB)", path,
                     (unsigned long long)(hi - lo), (unsigned long long)lo,
                     (unsigned long long)(hi - 1), (unsigned long long)max_span,
                     (unsigned)(FWT_IHEX_SPAN_MAX >> 20));
        goto out;
    }
    /* The gaps: holes of the sparse scratch file, never written. They read
     * as 0x00; with map the caller patches reads to erased_val; without it a
     * non-zero erased value is written into them (bounded by max_span). */
    if (ftruncate(out_fd, (off_t)(hi - lo)) != 0) {
        e = fwt_fail(FWT_E_IO, "%s: scratch file: %s", path, strerror(errno));
        goto out;
    }
    {
        struct fwt_ihex_map m = {p.ranges, p.n_ranges, hi - lo, erased_val};
        for (size_t i = 0; i < p.n_ranges; i++) {
            p.ranges[i].start -= lo; /* offsets in the binary from here on */
            p.ranges[i].end -= lo;
        }
        if (map) {
            *map = m;
            p.ranges = NULL; /* now the caller's */
            p.n_ranges = p.cap_ranges = 0;
        } else if (erased_val != 0) {
            e = fwt_ihex_map_fill(&m, out_fd);
        }
        if (e != FWT_OK) {
            goto out;
        }
    }
    /* Pass 2: the data. */
    struct to_bin t = {out_fd, lo};
    struct fwt_ihex_parser p2;
    fwt_ihex_init(&p2, to_bin_data, &t);
    if (fseek(f, 0, SEEK_SET) != 0) {
        e = fwt_fail(FWT_E_IO, "%s: seek: %s", path, strerror(errno));
    } else {
        e = fwt_ihex_parse_file(&p2, f, path);
    }
    fwt_ihex_free(&p2);
    if (e == FWT_OK) {
        *base = (uint32_t)lo;
        *size = (uint32_t)(hi - lo);
    }
out:
    fwt_ihex_free(&p);
    if (e != FWT_OK) {
        fwt_ihex_map_free(map);
    }
    fclose(f);
    return e;
}

/* ---- Writer ---- */

void fwt_ihex_writer_init(struct fwt_ihex_writer *w, FILE *f)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
}

static void put_record(struct fwt_ihex_writer *w, uint8_t type, uint16_t off, const uint8_t *data,
                       size_t len)
{
    uint8_t sum = (uint8_t)(len + (off >> 8) + (off & 0xff) + type);
    if (fprintf(w->f, ":%02X%04X%02X", (unsigned)len, (unsigned)off, (unsigned)type) < 0) {
        w->failed = 1;
    }
    for (size_t i = 0; i < len; i++) {
        sum = (uint8_t)(sum + data[i]);
        if (fprintf(w->f, "%02X", (unsigned)data[i]) < 0) {
            w->failed = 1;
        }
    }
    if (fprintf(w->f, "%02X\n", (unsigned)(uint8_t)(0x100 - sum)) < 0) {
        w->failed = 1;
    }
}

fwt_err fwt_ihex_write(struct fwt_ihex_writer *w, uint32_t addr, const uint8_t *data, size_t len)
{
    if ((uint64_t)addr + len > 0x100000000ULL) {
        return fwt_fail(FWT_E_ARG, "Intel HEX output: data at 0x%08x (%zu bytes) passes 4 GiB",
                        (unsigned)addr, len);
    }
    uint64_t a = addr;
    while (len > 0) {
        uint32_t upper = (uint32_t)(a >> 16);
        if (!w->have_upper || upper != w->upper) {
            uint8_t u[2] = {(uint8_t)(upper >> 8), (uint8_t)upper};
            put_record(w, 0x04, 0, u, 2);
            w->upper = upper;
            w->have_upper = 1;
        }
        size_t room = 0x10000U - (size_t)(a & 0xffffU);
        size_t n = len < 16 ? len : 16;
        if (n > room) {
            n = room;
        }
        put_record(w, 0x00, (uint16_t)(a & 0xffffU), data, n);
        a += n;
        data += n;
        len -= n;
    }
    return w->failed ? fwt_fail(FWT_E_IO, "Intel HEX output: write failed") : FWT_OK;
}

fwt_err fwt_ihex_write_end(struct fwt_ihex_writer *w)
{
    put_record(w, 0x01, 0, NULL, 0);
    if (w->failed || fflush(w->f) != 0 || ferror(w->f)) {
        return fwt_fail(FWT_E_IO, "Intel HEX output: write failed");
    }
    return FWT_OK;
}

/* ---- Versions ---- */

void fwt_version_format(const struct fwt_version *v, char *out, size_t len)
{
    snprintf(out, len, "%u.%u.%u+%lu", (unsigned)v->major, (unsigned)v->minor,
             (unsigned)v->revision, (unsigned long)v->build);
}

fwt_err fwt_version_parse(const char *s, struct fwt_version *v)
{
    memset(v, 0, sizeof(*v));
    if (!s || !*s) {
        return fwt_fail(FWT_E_ARG, "empty version");
    }
    uint64_t parts[4] = {0, 0, 0, 0};
    const uint64_t max[4] = {0xff, 0xff, 0xffff, 0xffffffffULL};
    const char *names[4] = {"major", "minor", "revision", "build"};
    const char *p = s;
    int i = 0;
    for (;;) {
        if (*p < '0' || *p > '9') {
            return fwt_fail(FWT_E_ARG, "version '%s': expected a number for the %s part", s,
                            names[i]);
        }
        uint64_t n = 0;
        while (*p >= '0' && *p <= '9') {
            n = n * 10 + (uint64_t)(*p - '0');
            if (n > max[i]) {
                return fwt_fail(FWT_E_ARG, "version '%s': %s part is larger than %llu", s,
                                names[i], (unsigned long long)max[i]);
            }
            p++;
        }
        parts[i] = n;
        if (*p == '\0') {
            break;
        }
        if (*p == '.' && i < 2) {
            i++;
            p++;
            continue;
        }
        if (*p == '+' && i < 3) {
            i = 3;
            p++;
            continue;
        }
        return fwt_fail(FWT_E_ARG, "version '%s' is not MAJOR[.MINOR[.REVISION]][+BUILD]", s);
    }
    v->major = (uint8_t)parts[0];
    v->minor = (uint8_t)parts[1];
    v->revision = (uint16_t)parts[2];
    v->build = (uint32_t)parts[3];
    return FWT_OK;
}

/* ---- Boot trailer ---- */

static const uint8_t k_boot_magic[FWT_BOOT_MAGIC_SIZE] = {0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2,
                                                          0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f,
                                                          0x2c, 0xb6, 0x79, 0x80};
static const uint8_t k_boot_magic_tail[FWT_BOOT_MAGIC_SIZE - 2] = {
    0x2d, 0xe1, 0x5d, 0x29, 0x41, 0x0b, 0x8d, 0x77, 0x67, 0x9c, 0x11, 0x0f, 0x1f, 0x8a};

fwt_err fwt_trailer_layout(uint32_t align, struct fwt_trailer *t)
{
    struct fwt_trailer_opts o;
    memset(&o, 0, sizeof(o));
    o.align = align;
    return fwt_trailer_layout_ex(&o, t);
}

static uint32_t align_up(uint32_t v, uint32_t a)
{
    return (v + a - 1) & ~(a - 1);
}

fwt_err fwt_trailer_layout_ex(const struct fwt_trailer_opts *o, struct fwt_trailer *t)
{
    uint32_t align = o->align;
    if (align != 1 && align != 2 && align != 4 && align != 8 && align != 16 && align != 32) {
        return fwt_fail(FWT_E_ARG, "alignment %u is not one of 1, 2, 4, 8, 16, 32", (unsigned)align);
    }
    if (o->max_align != 0 && o->max_align != 8 && o->max_align != 16 && o->max_align != 32) {
        return fwt_fail(FWT_E_ARG, "maximum alignment %u is not one of 8, 16, 32",
                        (unsigned)o->max_align);
    }
    if (o->max_align != 0 && align > o->max_align) {
        return fwt_fail(FWT_E_ARG, "alignment %u is above the maximum alignment %u",
                        (unsigned)align, (unsigned)o->max_align);
    }
    if (o->max_sectors > 0xffffU || o->enc_key_bytes > 0xffffU) {
        return fwt_fail(FWT_E_ARG, "trailer parameters out of range");
    }
    memset(t, 0, sizeof(*t));
    t->max_align = o->max_align ? o->max_align : align > 8 ? align : 8;
    uint32_t magic_align = align_up(FWT_BOOT_MAGIC_SIZE, t->max_align);
    if (o->overwrite_only) {
        /* image_ok and copy_done (one max_align write each) + magic */
        t->size = t->max_align * 2U + magic_align;
    } else {
        uint32_t sectors = o->max_sectors ? o->max_sectors : FWT_TRAILER_MAX_SECTORS;
        /* swap status (sectors x 3 writes), the two encryption keys (slot 0 and 1,
         * each aligned), image_ok/copy_done/swap_info/swap_size, magic */
        t->size = sectors * 3U * align + t->max_align * 4U + magic_align;
        if (o->enc_key_bytes) {
            t->size += 2U * align_up(o->enc_key_bytes, t->max_align);
        }
    }
    t->magic_off = t->size - FWT_BOOT_MAGIC_SIZE;
    t->image_ok_off = t->size - magic_align - t->max_align;
    if (t->max_align == 8) {
        memcpy(t->magic, k_boot_magic, sizeof(t->magic));
    } else {
        /* the max_align field of the magic: in the image's byte order (imgtool --endian) */
        t->magic[o->big_endian ? 1 : 0] = (uint8_t)(t->max_align & 0xff);
        t->magic[o->big_endian ? 0 : 1] = (uint8_t)(t->max_align >> 8);
        memcpy(t->magic + 2, k_boot_magic_tail, sizeof(k_boot_magic_tail));
    }
    return FWT_OK;
}

uint32_t fwt_security_counter_auto(const struct fwt_version *v)
{
    return ((uint32_t)v->major << 24) + ((uint32_t)v->minor << 16) + v->revision;
}
