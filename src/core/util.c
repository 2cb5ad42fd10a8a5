/* Small helpers of the verifier core: bounded reads, hashing, constant time. Freestanding. */
#include "core_internal.h"

size_t fwt_work_min(void)
{
    return FWT_WORK_MIN;
}

int fwt_ct_compare(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    volatile uint8_t acc = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (uint8_t)(acc | (x[i] ^ y[i]));
    }
    /* 0 when equal, 1 otherwise, without a data-dependent branch on the bytes. */
    return (int)((((unsigned)acc) + 0xffU) >> 8);
}

fwt_err fwt_core_read(const struct fwt_io *io, uint32_t off, void *buf, size_t len)
{
    if ((uint64_t)off + (uint64_t)len > (uint64_t)io->size) {
        return FWT_E_MALFORMED; /* callers check first; this is the backstop */
    }
    if (len == 0) {
        return FWT_OK;
    }
    fwt_err e = io->read(io->ctx, off, buf, len);
    /* Only FWT_OK means the bytes are there; anything else is an I/O failure. */
    return e == FWT_OK ? FWT_OK : FWT_E_IO;
}

int fwt_core_ops_ok(const struct fwt_crypto_ops *c)
{
    return c && c->hash_init && c->hash_update && c->hash_final && c->verify;
}

/* A backend result other than OK is a failure to run, never a success. */
static FWT_MUST_CHECK fwt_err backend(fwt_err e)
{
    return e == FWT_OK ? FWT_OK : (e == FWT_E_KEY ? FWT_E_KEY : FWT_E_CRYPTO);
}

fwt_err fwt_core_hash(const struct fwt_crypto_ops *c, enum fwt_hash_alg alg, const uint8_t *data,
                      size_t len, uint8_t *out, size_t out_len)
{
    if (fwt_hash_size(alg) != out_len) {
        return FWT_E_INTERNAL;
    }
    fwt_err e = backend(c->hash_init(c->ctx, alg));
    if (e == FWT_OK && len > 0) {
        e = backend(c->hash_update(c->ctx, data, len));
    }
    if (e == FWT_OK) {
        e = backend(c->hash_final(c->ctx, out, out_len));
    }
    return e;
}
