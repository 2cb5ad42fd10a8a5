/*
 * libFuzzer target: the Intel HEX reader. Any input must parse or be refused
 * without crashing; accepted input must give sorted, disjoint ranges, and
 * writing the data back out as Intel HEX must parse to the same ranges.
 */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    struct fwt_ihex_writer *w;
};

static fwt_err rewrite(void *ctx, uint32_t addr, const uint8_t *d, size_t n)
{
    struct sink *s = ctx;
    return fwt_ihex_write(s->w, addr, d, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fwt_ihex_parser p;
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    if (!f) {
        return 0;
    }
    struct fwt_ihex_writer w;
    fwt_ihex_writer_init(&w, f);
    struct sink s = {&w};
    fwt_ihex_init(&p, rewrite, &s);
    fwt_err e = fwt_ihex_parse_buf(&p, (const char *)data, size);
    if (e == FWT_OK) {
        for (size_t i = 1; i < p.n_ranges; i++) {
            if (p.ranges[i - 1].end >= p.ranges[i].start) {
                abort(); /* ranges must be sorted, disjoint and merged */
            }
        }
        if (fwt_ihex_write_end(&w) != FWT_OK) {
            abort();
        }
        fclose(f);
        f = NULL;
        struct fwt_ihex_parser p2;
        fwt_ihex_init(&p2, NULL, NULL);
        if (fwt_ihex_parse_buf(&p2, out, out_len) != FWT_OK || p2.n_ranges != p.n_ranges ||
            memcmp(p2.ranges, p.ranges, p.n_ranges * sizeof(p.ranges[0])) != 0) {
            abort(); /* our writer's output must read back identically */
        }
        fwt_ihex_free(&p2);
    }
    fwt_ihex_free(&p);
    if (f) {
        fclose(f);
    }
    free(out);
    return 0;
}
