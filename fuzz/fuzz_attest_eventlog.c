/*
 * Fuzz the measured-boot event log parser (TCG crypto-agile, SHA-256) and its
 * replay; a log that parses is re-encoded record by record and must parse and
 * replay the same.
 */
#include <fwtrust/fwt_attest.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct acc {
    uint8_t *buf;
    size_t len;
    int bad;
};

static int add(void *ctx, const struct fwt_tcg_event *ev)
{
    struct acc *a = ctx;
    if (ev->pcr > 23 || ev->data_len > FWT_EVENT_DATA_MAX) {
        abort();
    }
    if (ev->type != FWT_EV_EVENT_TAG) {
        a->bad = 1; /* only tagged events are re-encoded */
        return 0;
    }
    uint8_t *rec = NULL;
    size_t rl = 0;
    if (fwt_tcglog_event(ev->pcr, ev->tag, ev->digest, ev->data, ev->data_len, &rec, &rl) !=
        FWT_OK) {
        a->bad = 1;
        return 0;
    }
    uint8_t *n = realloc(a->buf, a->len + rl);
    if (!n) {
        free(rec);
        a->bad = 1;
        return 0;
    }
    memcpy(n + a->len, rec, rl);
    free(rec);
    a->buf = n;
    a->len += rl;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t p1[24][32], p2[24][32];
    if (fwt_tcglog_replay(data, size, p1) != FWT_OK) {
        return 0;
    }
    struct acc a = {NULL, 0, 0};
    if (fwt_tcglog_header(&a.buf, &a.len) != FWT_OK) {
        return 0;
    }
    if (fwt_tcglog_parse(data, size, add, &a) != FWT_OK) {
        abort(); /* parsed once, must parse again */
    }
    if (!a.bad) {
        if (fwt_tcglog_replay(a.buf, a.len, p2) != FWT_OK || memcmp(p1, p2, sizeof(p1)) != 0) {
            abort();
        }
    }
    free(a.buf);
    return 0;
}
