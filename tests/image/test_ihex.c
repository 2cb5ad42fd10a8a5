/* Intel HEX reader/writer, version parsing, boot trailer geometry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct collect {
    uint8_t mem[0x30000];
    uint32_t base;
    size_t calls;
};

static fwt_err collect_fn(void *ctx, uint32_t addr, const uint8_t *d, size_t n)
{
    struct collect *c = ctx;
    assert_true(addr >= c->base && addr - c->base + n <= sizeof(c->mem));
    memcpy(c->mem + (addr - c->base), d, n);
    c->calls++;
    return FWT_OK;
}

static fwt_err parse(const char *text, struct fwt_ihex_parser *p, struct collect *c)
{
    fwt_ihex_init(p, c ? collect_fn : NULL, c);
    return fwt_ihex_parse_buf(p, text, strlen(text));
}

static void test_valid_records(void **state)
{
    (void)state;
    /* 04: upper 0x0800; two data records at 0x08000000; 05 start; EOF. CRLF endings. */
    const char *hex = ":020000040800F2\r\n"
                      ":0400000001020304F2\r\n"
                      ":0400040005060708DE\r\n"
                      ":0400000508000101ED\r\n"
                      ":00000001FF\r\n";
    struct fwt_ihex_parser p;
    struct collect *c = calloc(1, sizeof(*c));
    c->base = 0x08000000;
    assert_int_equal(parse(hex, &p, c), FWT_OK);
    assert_int_equal(fwt_ihex_min(&p), 0x08000000);
    assert_int_equal(fwt_ihex_end(&p), 0x08000008);
    assert_int_equal(p.n_ranges, 1); /* adjacent records merged */
    assert_true(p.has_start);
    assert_int_equal(p.start_addr, 0x08000101);
    const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(c->mem, want, 8);
    assert_int_equal(c->calls, 2);
    fwt_ihex_free(&p);
    free(c);
}

static void test_segment_address(void **state)
{
    (void)state;
    /* 02 record: segment 0x1000 -> base 0x10000. */
    const char *hex = ":020000021000EC\n:01000000AA55\n:00000001FF\n";
    struct fwt_ihex_parser p;
    assert_int_equal(parse(hex, &p, NULL), FWT_OK);
    assert_int_equal(fwt_ihex_min(&p), 0x10000);
    assert_int_equal(fwt_ihex_end(&p), 0x10001);
    fwt_ihex_free(&p);
}

static void expect_malformed(const char *hex, const char *detail_part)
{
    struct fwt_ihex_parser p;
    fwt_err e = parse(hex, &p, NULL);
    fwt_ihex_free(&p);
    assert_int_equal(e, FWT_E_MALFORMED);
    if (!strstr(fwt_detail(), detail_part)) {
        fail_msg("detail '%s' lacks '%s'", fwt_detail(), detail_part);
    }
}

static void test_bad_records(void **state)
{
    (void)state;
    expect_malformed(":0400000001020304F3\n:00000001FF\n", "checksum");
    expect_malformed(":0500000001020304F2\n:00000001FF\n", "byte count");
    expect_malformed("0400000001020304F2\n:00000001FF\n", "start with ':'");
    expect_malformed(":04000000010203G4F2\n:00000001FF\n", "non-hex");
    expect_malformed(":0400000001020304F\n:00000001FF\n", "odd or too short");
    expect_malformed(":0400000601020304EC\n:00000001FF\n", "unknown record type 06");
    expect_malformed(":0400000001020304F2\n", "no end-of-file");
    expect_malformed(":00000001FF\n", "no data");
    expect_malformed(":00000001FF\n:0400000001020304F2\n", "after the end-of-file");
    expect_malformed(":01000001AA54\n", "end-of-file record with data");
    expect_malformed(":03000004080000F1\n", "2 data bytes");
    /* Data record crossing a 64 KiB boundary: offset 0xFFFE, 4 bytes. */
    expect_malformed(":04FFFE0001020304F5\n:00000001FF\n", "64 KiB boundary");
}

static void test_overlap_refused(void **state)
{
    (void)state;
    /* Second record rewrites bytes 2..5 of the first. */
    expect_malformed(":0400000001020304F2\n:04000200AABBCCDDEC\n:00000001FF\n", "overlaps");
    /* Same address twice. */
    expect_malformed(":01000000AA55\n:01000000AA55\n:00000001FF\n", "overlaps");
    /* Out of order but disjoint is fine; then one that bridges and overlaps the later one. */
    struct fwt_ihex_parser p;
    assert_int_equal(parse(":01001000AA45\n:01000000AA55\n:01000100AA54\n:00000001FF\n", &p, NULL),
                     FWT_OK);
    assert_int_equal(p.n_ranges, 2);
    fwt_ihex_free(&p);
    expect_malformed(":01001000AA45\n:01000000AA55\n:1000010000000000000000000000000000000000EF\n"
                     ":00000001FF\n",
                     "overlap");
}

static void test_long_line_refused(void **state)
{
    (void)state;
    char *line = malloc(FWT_IHEX_LINE_MAX + 10);
    memset(line, '0', FWT_IHEX_LINE_MAX + 8);
    line[0] = ':';
    line[FWT_IHEX_LINE_MAX + 8] = '\0';
    expect_malformed(line, "longer than");
    free(line);
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    char path[] = "/tmp/fwt_ihex_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w+");
    uint8_t data[100];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 7);
    }
    struct fwt_ihex_writer w;
    fwt_ihex_writer_init(&w, f);
    /* Crosses the 0x0800FFFF/0x08010000 boundary: needs two 04 records. */
    assert_int_equal(fwt_ihex_write(&w, 0x0800FFD0, data, sizeof(data)), FWT_OK);
    assert_int_equal(fwt_ihex_write_end(&w), FWT_OK);
    assert_int_equal(fwt_ihex_write(&w, 0xFFFFFFF0, data, 17), FWT_E_ARG);
    fflush(f);
    rewind(f);
    struct fwt_ihex_parser p;
    struct collect *c = calloc(1, sizeof(*c));
    c->base = 0x08000000;
    fwt_ihex_init(&p, collect_fn, c);
    assert_int_equal(fwt_ihex_parse_file(&p, f, path), FWT_OK);
    assert_int_equal(fwt_ihex_min(&p), 0x0800FFD0);
    assert_int_equal(fwt_ihex_end(&p), 0x0800FFD0 + sizeof(data));
    assert_memory_equal(c->mem + 0xFFD0, data, sizeof(data));
    fwt_ihex_free(&p);
    free(c);
    fclose(f);
    unlink(path);
}

static void test_to_bin_fills_gaps(void **state)
{
    (void)state;
    char hpath[] = "/tmp/fwt_ihex_in_XXXXXX";
    int hfd = mkstemp(hpath);
    const char *hex = ":020000040001F9\n:02000000AABB99\n:02000600CCDD4F\n:00000001FF\n";
    assert_int_equal(write(hfd, hex, strlen(hex)), (ssize_t)strlen(hex));
    close(hfd);
    FILE *out = tmpfile();
    uint32_t base = 0, size = 0;
    assert_int_equal(fwt_ihex_to_bin(hpath, fileno(out), 0xff, FWT_IHEX_SPAN_MAX, &base, &size,
                                     NULL),
                     FWT_OK);
    assert_int_equal(base, 0x10000);
    assert_int_equal(size, 8);
    uint8_t buf[8];
    assert_int_equal(pread(fileno(out), buf, 8, 0), 8);
    const uint8_t want[8] = {0xaa, 0xbb, 0xff, 0xff, 0xff, 0xff, 0xcc, 0xdd};
    assert_memory_equal(buf, want, 8);
    fclose(out);
    /* With a map: the gap is a hole (0x00 in the file), patched to 0xff on read. */
    out = tmpfile();
    struct fwt_ihex_map map;
    assert_int_equal(fwt_ihex_to_bin(hpath, fileno(out), 0xff, FWT_IHEX_SPAN_MAX, &base, &size,
                                     &map),
                     FWT_OK);
    assert_int_equal(pread(fileno(out), buf, 8, 0), 8);
    const uint8_t holes[8] = {0xaa, 0xbb, 0, 0, 0, 0, 0xcc, 0xdd};
    assert_memory_equal(buf, holes, 8);
    fwt_ihex_map_patch(&map, 0, buf, 8);
    assert_memory_equal(buf, want, 8);
    for (uint64_t off = 0; off < 8; off++) { /* every partial window */
        for (size_t len = 1; off + len <= 8; len++) {
            uint8_t w[8];
            memcpy(w, holes + off, len);
            fwt_ihex_map_patch(&map, off, w, len);
            assert_memory_equal(w, want + off, len);
        }
    }
    fwt_ihex_map_free(&map);
    fclose(out);
    /* Missing file: FWT_E_NOT_FOUND. */
    unlink(hpath);
    FILE *o2 = tmpfile();
    assert_int_equal(fwt_ihex_to_bin(hpath, fileno(o2), 0xff, FWT_IHEX_SPAN_MAX, &base, &size,
                                     NULL),
                     FWT_E_NOT_FOUND);
    fclose(o2);
}

/* Bytes the scratch file really holds on disk. */
static uint64_t disk_bytes(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return (uint64_t)st.st_blocks * 512U;
}

static void write_hex(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/*
 * Issue 19: a 132-byte file with two 16-byte records 256 MiB apart made every
 * command reading .hex write 256 MiB of fill into a scratch file. Now the span
 * is bounded (refused before anything is written) and gaps are never written.
 */
static void test_to_bin_huge_gap(void **state)
{
    (void)state;
    static const char far[] = ":020000040800F2\n"
                              ":1000000011111111111111111111111111111111E0\n"
                              ":020000041800E2\n" /* 0x18000000: 256 MiB above the first */
                              ":1000000022222222222222222222222222222222D0\n"
                              ":00000001FF\n";
    assert_int_equal(strlen(far), 132);
    char hpath[] = "/tmp/fwt_ihex_far_XXXXXX";
    write_hex(hpath, far);
    uint32_t base = 0, size = 0;
    struct fwt_ihex_map map;
    for (int with_map = 0; with_map < 2; with_map++) {
        FILE *out = tmpfile();
        assert_int_equal(fwt_ihex_to_bin(hpath, fileno(out), 0xff, FWT_IHEX_SPAN_MAX, &base,
                                         &size, with_map ? &map : NULL),
                         FWT_E_TOO_LARGE);
        struct stat st;
        assert_int_equal(fstat(fileno(out), &st), 0);
        assert_int_equal(st.st_size, 0); /* refused before any write */
        assert_int_equal(disk_bytes(fileno(out)), 0);
        fclose(out);
    }
    /* A smaller bound (a slot size) is honoured too. */
    unlink(hpath);
    static const char near[] = ":020000040800F2\n"
                               ":1000000011111111111111111111111111111111E0\n"
                               ":020000041400E6\n" /* 0x14000000: 192 MiB above */
                               ":1000000022222222222222222222222222222222D0\n"
                               ":00000001FF\n";
    char npath[] = "/tmp/fwt_ihex_near_XXXXXX";
    write_hex(npath, near);
    FILE *out = tmpfile();
    assert_int_equal(fwt_ihex_to_bin(npath, fileno(out), 0xff, 0x80000, &base, &size, &map),
                     FWT_E_TOO_LARGE);
    assert_int_equal(disk_bytes(fileno(out)), 0);
    fclose(out);
    /* Under the bound, with a map: the 192 MiB gap is a hole; the data reads back,
     * the gap reads as 0xff, and the file takes a few KiB on disk. */
    out = tmpfile();
    assert_int_equal(fwt_ihex_to_bin(npath, fileno(out), 0xff, FWT_IHEX_SPAN_MAX, &base, &size,
                                     &map),
                     FWT_OK);
    assert_int_equal(base, 0x08000000);
    assert_int_equal(size, 0x0C000010);
    assert_true(disk_bytes(fileno(out)) <= 64 * 1024);
    uint8_t b[48];
    assert_int_equal(pread(fileno(out), b, 16, 0), 16);
    fwt_ihex_map_patch(&map, 0, b, 16);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(b[i], 0x11);
    }
    uint64_t at = 0x0C000000 - 32;
    assert_int_equal(pread(fileno(out), b, 48, (off_t)at), 48);
    fwt_ihex_map_patch(&map, at, b, 48);
    for (int i = 0; i < 48; i++) {
        assert_int_equal(b[i], i < 32 ? 0xff : 0x22);
    }
    fwt_ihex_map_free(&map);
    fclose(out);
    /* Erased value 0x00 without a map: the holes are the fill, still nothing written. */
    out = tmpfile();
    assert_int_equal(fwt_ihex_to_bin(npath, fileno(out), 0x00, FWT_IHEX_SPAN_MAX, &base, &size,
                                     NULL),
                     FWT_OK);
    assert_true(disk_bytes(fileno(out)) <= 64 * 1024);
    fclose(out);
    unlink(npath);
}

static void test_version_parse(void **state)
{
    (void)state;
    struct fwt_version v;
    assert_int_equal(fwt_version_parse("1.2.3+4", &v), FWT_OK);
    assert_int_equal(v.major, 1);
    assert_int_equal(v.minor, 2);
    assert_int_equal(v.revision, 3);
    assert_int_equal(v.build, 4);
    assert_int_equal(fwt_version_parse("255.255.65535+4294967295", &v), FWT_OK);
    assert_int_equal(v.build, 4294967295U);
    assert_int_equal(fwt_version_parse("7", &v), FWT_OK);
    assert_int_equal(v.major, 7);
    assert_int_equal(v.minor, 0);
    assert_int_equal(fwt_version_parse("1.2+9", &v), FWT_OK);
    assert_int_equal(v.build, 9);
    const char *bad[] = {"", "256.0.0", "1.256", "1.2.65536", "1.2.3+4294967296", "1.2.3.4",
                         "1..2", "a.b", "1.2.3+", "-1", "1.2.3 ", "+4", "1.2.3+4+5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (fwt_version_parse(bad[i], &v) != FWT_E_ARG) {
            fail_msg("version '%s' accepted", bad[i]);
        }
    }
}

static void test_trailer_layout(void **state)
{
    (void)state;
    struct fwt_trailer t;
    /* imgtool: 128 sectors * 3 * align + 4 * max_align + align_up(16, max_align). */
    assert_int_equal(fwt_trailer_layout(1, &t), FWT_OK);
    assert_int_equal(t.size, 128 * 3 + 32 + 16);
    assert_int_equal(t.magic_off, t.size - 16);
    assert_int_equal(t.image_ok_off, t.size - 16 - 8);
    const uint8_t std_magic[16] = {0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f,
                                   0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80};
    assert_memory_equal(t.magic, std_magic, 16);
    assert_int_equal(fwt_trailer_layout(8, &t), FWT_OK);
    assert_int_equal(t.size, 128 * 3 * 8 + 32 + 16);
    assert_int_equal(fwt_trailer_layout(32, &t), FWT_OK);
    assert_int_equal(t.max_align, 32);
    assert_int_equal(t.size, 128 * 3 * 32 + 128 + 32);
    assert_int_equal(t.image_ok_off, t.size - 32 - 32);
    assert_int_equal(t.magic[0], 32);
    assert_int_equal(t.magic[1], 0);
    assert_int_equal(t.magic[2], 0x2d);
    assert_int_equal(t.magic[15], 0x8a);
    assert_int_equal(fwt_trailer_layout(3, &t), FWT_E_ARG);
    assert_int_equal(fwt_trailer_layout(64, &t), FWT_E_ARG);
    assert_int_equal(fwt_trailer_layout(0, &t), FWT_E_ARG);
    /* imgtool --endian big: the max_align field of the magic big endian, the rest as is;
     * the standard magic (max_align 8) is the same in both orders. */
    struct fwt_trailer_opts o;
    memset(&o, 0, sizeof(o));
    o.align = 32;
    o.big_endian = 1;
    assert_int_equal(fwt_trailer_layout_ex(&o, &t), FWT_OK);
    assert_int_equal(t.size, 128 * 3 * 32 + 128 + 32);
    assert_int_equal(t.magic[0], 0);
    assert_int_equal(t.magic[1], 32);
    assert_int_equal(t.magic[2], 0x2d);
    assert_int_equal(t.magic[15], 0x8a);
    o.align = 8;
    assert_int_equal(fwt_trailer_layout_ex(&o, &t), FWT_OK);
    assert_memory_equal(t.magic, std_magic, 16);
}

static void test_dependency_decode_order(void **state)
{
    (void)state;
    /* imgtool: struct.pack(e + 'B3xBBHI', 1, 2, 3, 0x0102, 0x01020304) */
    const uint8_t le[12] = {1, 0, 0, 0, 2, 3, 0x02, 0x01, 0x04, 0x03, 0x02, 0x01};
    const uint8_t be[12] = {1, 0, 0, 0, 2, 3, 0x01, 0x02, 0x01, 0x02, 0x03, 0x04};
    struct fwt_dependency a, b;
    assert_int_equal(fwt_dependency_decode(le, sizeof(le), &a), FWT_OK);
    assert_int_equal(fwt_dependency_decode_order(be, sizeof(be), FWT_ORDER_BIG, &b), FWT_OK);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_int_equal(b.image_id, 1);
    assert_int_equal(b.min.major, 2);
    assert_int_equal(b.min.minor, 3);
    assert_int_equal(b.min.revision, 0x0102);
    assert_int_equal(b.min.build, 0x01020304);
    assert_int_equal(fwt_dependency_decode_order(le, sizeof(le), FWT_ORDER_LITTLE, &b), FWT_OK);
    assert_memory_equal(&a, &b, sizeof(a));
    /* the same rules in both orders: 12 bytes, three zero bytes */
    uint8_t bad[12];
    memcpy(bad, be, sizeof(bad));
    bad[2] = 1;
    assert_int_equal(fwt_dependency_decode_order(bad, sizeof(bad), FWT_ORDER_BIG, &b),
                     FWT_E_MALFORMED);
    assert_int_equal(fwt_dependency_decode_order(be, 11, FWT_ORDER_BIG, &b), FWT_E_MALFORMED);
}

static void test_security_counter_auto(void **state)
{
    (void)state;
    struct fwt_version v = {4, 0, 5, 99};
    assert_int_equal(fwt_security_counter_auto(&v), 0x04000005);
    struct fwt_version m = {255, 255, 65535, 0};
    assert_int_equal(fwt_security_counter_auto(&m), 0xffffffffU);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_records),    cmocka_unit_test(test_segment_address),
        cmocka_unit_test(test_bad_records),      cmocka_unit_test(test_overlap_refused),
        cmocka_unit_test(test_long_line_refused), cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_to_bin_fills_gaps), cmocka_unit_test(test_to_bin_huge_gap),
        cmocka_unit_test(test_version_parse),
        cmocka_unit_test(test_trailer_layout),   cmocka_unit_test(test_dependency_decode_order),
        cmocka_unit_test(test_security_counter_auto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
