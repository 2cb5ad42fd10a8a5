/*
 * A minimal bootloader stub showing how firmware links the fwtrust verifier
 * core: flash reads through fwt_io, a crypto ops table (here: stubs; a real
 * bootloader plugs in its SHA-256 and signature engine), a policy with the
 * public key compiled in, a static work buffer. Linked with -nostdlib to
 * prove the core needs nothing from libc but memcpy/memset/memcmp, which
 * this file provides. Not a working bootloader: no vector table, no jump.
 * The working one, on mbedTLS and booted in QEMU by the tests, is boot/cortex-m/
 * (docs/mcu-boot.md).
 */
#include <fwtrust/fwtrust.h>

#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memmove(void *dst, const void *src, size_t n);

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) {
        *d++ = *s++;
    }
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d < s) {
        while (n--) {
            *d++ = *s++;
        }
    } else {
        while (n--) {
            d[n] = s[n];
        }
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--) {
        *d++ = (uint8_t)c;
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}

#define SLOT0_ADDR 0x08020000U
#define SLOT_SIZE 0x00080000U

static fwt_err flash_read(void *ctx, uint32_t off, void *buf, size_t len)
{
    (void)ctx;
    if (off > SLOT_SIZE || len > SLOT_SIZE - off) {
        return FWT_E_IO;
    }
    memcpy(buf, (const void *)(uintptr_t)(SLOT0_ADDR + off), len);
    return FWT_OK;
}

/* Stubs standing in for the board's hash and signature engine. */
static fwt_err hw_hash_init(void *ctx, enum fwt_hash_alg alg)
{
    (void)ctx;
    (void)alg;
    return FWT_E_CRYPTO;
}
static fwt_err hw_hash_update(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return FWT_E_CRYPTO;
}
static fwt_err hw_hash_final(void *ctx, uint8_t *out, size_t out_len)
{
    (void)ctx;
    (void)out;
    (void)out_len;
    return FWT_E_CRYPTO;
}
static fwt_err hw_verify(void *ctx, enum fwt_sig_alg alg, const uint8_t *key, size_t key_len,
                         const uint8_t *msg, size_t msg_len, const struct fwt_io *io,
                         const uint8_t *sig, size_t sig_len)
{
    (void)ctx; (void)alg; (void)key; (void)key_len; (void)msg; (void)msg_len; (void)io;
    (void)sig; (void)sig_len;
    return FWT_E_SIGNATURE;
}

/* `fwtrust pubkey --format c` output goes here. */
static const uint8_t boot_pubkey[44] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
                                        0x03, 0x21, 0x00};
static uint8_t work[FWT_WORK_MIN];

int boot_main(void);
int boot_main(void)
{
    /* The slot holds plaintext (an encrypted image is decrypted on the way in). */
    struct fwt_io io = {0, flash_read, SLOT_SIZE, FWT_IO_PLAINTEXT};
    struct fwt_crypto_ops ops = {0, hw_hash_init, hw_hash_update, hw_hash_final, hw_verify};
    struct fwt_trusted_key key = {FWT_KEY_ED25519, boot_pubkey, sizeof(boot_pubkey)};
    struct fwt_policy policy;
    memset(&policy, 0, sizeof(policy));
    policy.keys = &key;
    policy.n_keys = 1;
    policy.threshold = 1;
    policy.hw_id = (const uint8_t *)"board-a";
    policy.hw_id_len = 7;
    policy.min_security_counter = 1;
    struct fwt_image_info info;
    /* The hardened call: a 32-bit verdict and its masked second copy, both checked
     * twice (volatile: each check re-reads them), never a branch on FWT_OK == 0. */
    volatile fwt_fih check = 0;
    volatile fwt_fih verdict = fwt_image_verify_fih(&io, &ops, &policy, work, sizeof(work), &info,
                                                    &check, NULL);
    if (!FWT_FIH_VERDICT_OK(verdict, check)) {
        return 1;
    }
    /* A second, independent condition before the jump: the core's own threshold rule
     * (distinct trust anchors) over its result; a skipped branch above does not pass it. */
    if (fwt_policy_threshold_met(&policy, &info) != FWT_OK) {
        return 1;
    }
    return FWT_FIH_VERDICT_OK(verdict, check) ? 0 : 1;
}

void Reset_Handler(void);
void Reset_Handler(void)
{
    for (;;) {
        if (boot_main() == 0) {
            /* jump to the image here (a real bootloader checks the verdict once more
             * right before the jump, e.g. by returning it from boot_main) */
        }
    }
}
