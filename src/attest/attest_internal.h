/* fwtrust attestation module, internal: the bounded big-endian reader of tpm2.c. */
#ifndef FWT_ATTEST_INTERNAL_H
#define FWT_ATTEST_INTERNAL_H

#include <fwtrust/fwt_attest.h>

struct rd {
    const uint8_t *p;
    size_t n;
    int bad; /* set by any read past the end or size out of bounds; reads then return 0 */
};
void rd_init(struct rd *r, const uint8_t *p, size_t n);
uint8_t rd_u8(struct rd *r);
uint16_t rd_u16(struct rd *r);
uint32_t rd_u32(struct rd *r);
uint64_t rd_u64(struct rd *r);
void rd_2b(struct rd *r, uint8_t *out, size_t max, size_t *len);

#endif
