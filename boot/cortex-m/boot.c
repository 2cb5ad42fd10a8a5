/*
 * fwtrust's Cortex-M4 bootloader (QEMU mps2-an386): the verifier core (src/core) with mbedTLS
 * crypto, MCUboot's direct-XIP upgrade with revert, and the install of encrypted images.
 *
 * Each slot holds an image linked to run from that slot (signed with --rom-fixed SLOT). A slot
 * is a candidate when its header has the image magic and its MCUboot trailer the boot magic. The
 * candidate with the highest version is chosen:
 *   - image_ok set: a confirmed image; it boots, and the security counter area is raised to its
 *     counter (never on a trial: a revert must stay possible);
 *   - image_ok not set, copy_done not set: a new image on trial; copy_done is written and it
 *     boots once;
 *   - image_ok not set, copy_done set: a trial that was never confirmed; the slot is invalidated
 *     (its header sector erased) and the next candidate is chosen.
 * An image encrypted for the device in slot 1 (BOOT_ENC builds) is not a candidate: it is
 * verified over its plaintext and decrypted into slot 0 first (install_encrypted: MCUboot's
 * overwrite upgrade with ENC_EC256; no revert). The primary slot is always read as plaintext.
 * A candidate the verifier refuses is reported on the UART with the reason and skipped. Every
 * state change of the direct-XIP flow is one flash operation, and the encrypted install is
 * committed, then restarted from the beginning after a power cut until slot 1 is erased, so a
 * power cut at any point leaves the old or the new image bootable (tests/mcu: a cut before and
 * in the middle of every operation).
 *
 * The decision uses the core's hardened verdict (fwt_image_verify_fih and FWT_FIH_VERDICT_OK,
 * checked again right before the jump). Built with -DBOOT_PLAIN it branches once on
 * fwt_image_verify() == FWT_OK instead: the unhardened build of the fault-injection campaign.
 */
#include <fwtrust/fwtrust.h>

#include <string.h>

#include "board.h"
#include "crypto_mbedtls.h"
#ifdef BOOT_ENC
#include "enc_mbedtls.h"
#endif
#include "flash.h"
#include "keys.h"
#include "seccnt.h"
#include "uart.h"

#include "mbedtls/version.h"

#define N_SLOTS 2U
#define SCB_VTOR (*(volatile uint32_t *)0xe000ed08U)
#define SYST_CSR (*(volatile uint32_t *)0xe000e010U)
#define SYST_RVR (*(volatile uint32_t *)0xe000e014U)
#define SYST_CVR (*(volatile uint32_t *)0xe000e018U)

static const uint8_t k_boot_magic[16] = {0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f,
                                         0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80};

struct slot {
    uint32_t addr;
    int candidate;
    uint8_t image_ok;
    uint8_t copy_done;
    struct fwt_image_header hdr;
};

/* The verifier's work buffer; also one sector of the encrypted install's copy. */
static uint8_t work[BOARD_FLASH_SECTOR];
_Static_assert(sizeof(work) >= FWT_WORK_MIN * 2U, "work buffer");

#define ENC_FLAGS (FWT_IMAGE_F_ENCRYPTED_AES128 | FWT_IMAGE_F_ENCRYPTED_AES256)

static fwt_err slot_read(void *ctx, uint32_t off, void *buf, size_t len)
{
    const struct slot *s = ctx;
    const uint32_t size = BOARD_SLOT_SIZE - BOARD_TRAILER_SIZE;
    if (off > size || len > size - off) {
        return FWT_E_IO;
    }
    return flash_read(s->addr + off, buf, len) == 0 ? FWT_OK : FWT_E_IO;
}

static void __attribute__((noreturn, noinline)) halt(const char *why)
{
    uart_puts("BOOT: halt: ");
    uart_puts(why);
    uart_puts("\n");
    for (;;) {
        __asm volatile("wfi");
    }
}

static void put_version(const struct fwt_version *v)
{
    uart_putdec(v->major);
    uart_puts(".");
    uart_putdec(v->minor);
    uart_puts(".");
    uart_putdec(v->revision);
    uart_puts("+");
    uart_putdec(v->build);
}

static void slot_scan(struct slot *s, uint32_t addr)
{
    memset(s, 0, sizeof(*s));
    s->addr = addr;
    uint8_t raw[FWT_IMAGE_HEADER_SIZE], magic[16];
    if (flash_read(addr, raw, sizeof(raw)) != 0 ||
        flash_read(addr + BOARD_TRAILER_MAGIC_OFF, magic, sizeof(magic)) != 0 ||
        flash_read(addr + BOARD_TRAILER_IMAGE_OK_OFF, &s->image_ok, 1) != 0 ||
        flash_read(addr + BOARD_TRAILER_COPY_DONE_OFF, &s->copy_done, 1) != 0) {
        return;
    }
    uart_puts("BOOT: slot ");
    uart_putdec(addr == BOARD_SLOT0_ADDR ? 0U : 1U);
    if (fwt_header_decode(raw, &s->hdr) != FWT_OK) {
        uart_puts(": empty\n");
        return;
    }
    uart_puts(": version ");
    put_version(&s->hdr.version);
    if (memcmp(magic, k_boot_magic, sizeof(magic)) != 0) {
        uart_puts(", no boot trailer magic: not a candidate\n");
        return;
    }
    s->candidate = 1;
    if (addr == BOARD_SLOT1_ADDR && (s->hdr.flags & ENC_FLAGS)) {
        uart_puts(s->copy_done == BOARD_FLAG_SET ? ", encrypted, install started\n"
                                                 : ", encrypted, to install into slot 0\n");
        return;
    }
    uart_puts(s->image_ok == BOARD_FLAG_SET    ? ", confirmed\n"
              : s->copy_done == BOARD_FLAG_SET ? ", trial already started\n"
                                               : ", new (trial)\n");
}

/* Compare versions as MCUboot does (major, minor, revision; build number ignored). */
static int version_cmp(const struct fwt_version *a, const struct fwt_version *b)
{
    if (a->major != b->major) {
        return a->major < b->major ? -1 : 1;
    }
    if (a->minor != b->minor) {
        return a->minor < b->minor ? -1 : 1;
    }
    if (a->revision != b->revision) {
        return a->revision < b->revision ? -1 : 1;
    }
    return 0;
}

static struct slot *choose(struct slot *slots)
{
    struct slot *best = NULL;
    for (uint32_t i = 0; i < N_SLOTS; i++) {
        if (slots[i].candidate &&
            (!best || version_cmp(&slots[i].hdr.version, &best->hdr.version) > 0)) {
            best = &slots[i];
        }
    }
    return best;
}

static uint32_t slot_no(const struct slot *s)
{
    return s->addr == BOARD_SLOT0_ADDR ? 0U : 1U;
}

static void refuse(const struct slot *s, fwt_err e)
{
    uart_puts("BOOT: slot ");
    uart_putdec(slot_no(s));
    uart_puts(" refused: ");
    uart_puts(fwt_err_name(e));
    uart_puts(" (");
    uart_puts(fwt_strerror(e));
    uart_puts(")\n");
}

#ifndef BOOT_PLAIN
/*
 * The security counter once more, from sources a single fault cannot all reach: the counter
 * area read again from flash (not the policy's copy, whose one store a skipped instruction
 * leaves at 0), and the image's SEC_CNT from a second run of the core's parser (not the one
 * whose read a fault could have corrupted), equal to the first. The fault-injection campaign
 * found both single points (docs/fault-injection.md).
 */
static fwt_fih counter_recheck(const struct fwt_io *io, const struct fwt_image_info *info)
{
    volatile fwt_fih ok = FWT_FIH_FAILURE;
    uint32_t floor = seccnt_read();
    struct fwt_image_info again;
    if (fwt_image_parse(io, work, sizeof(work), &again) != FWT_OK) {
        return FWT_FIH_FAILURE;
    }
    if (again.has_security_counter == info->has_security_counter &&
        again.security_counter == info->security_counter &&
        (floor == 0 || (again.has_security_counter && again.security_counter >= floor))) {
        ok = FWT_FIH_SUCCESS;
    }
    return ok;
}
#endif

#ifdef BOOT_ENC
/*
 * An encrypted image in slot 1 (ENCRYPTED flag, ENC_EC256 key TLV) is installed by decrypting
 * it into slot 0, MCUboot's overwrite upgrade with encryption: the image key is unwrapped with
 * the device key, the image is verified over its plaintext (decrypted as it is read: digest,
 * signature, security counter, policy), and only then is slot 0 touched. A refused image (wrong
 * device key, altered HMAC or key TLV, tampered payload, untrusted signer, downgrade) leaves
 * slot 0 as it was. The copy:
 *   1. copy_done in slot 1's trailer: the install is committed (a power-on that finds it set
 *      resumes, without the version comparison: slot 0 may already hold part of the new image);
 *   2. each sector of slot 0 that the image covers: erased, then written with the plaintext;
 *   3. slot 0's trailer sector erased (unless step 2 did), the boot magic and image_ok written:
 *      an overwrite cannot be reverted, so the installed image is confirmed (as MCUboot's
 *      overwrite-only mode);
 *   4. slot 1's header sector erased: the install is complete.
 * A power cut anywhere before 4 leaves slot 1 intact and committed: the next power-on verifies
 * it again and redoes the copy from the start (every step is idempotent). The image in slot 0
 * is then verified once more, over what was written, by the normal boot path before any jump.
 * Returns 1 when slot 0 was written (the slots must be scanned again).
 */
static int install_encrypted(struct slot *s0, struct slot *s1, const struct fwt_crypto_ops *ops,
                             const struct fwt_policy *policy)
{
    int resume = s1->copy_done == BOARD_FLAG_SET;
    if (!resume && s0->candidate && version_cmp(&s1->hdr.version, &s0->hdr.version) <= 0) {
        uart_puts("BOOT: slot 1: encrypted image not newer than slot 0: not installed\n");
        return 0;
    }
    uart_puts(resume ? "BOOT: slot 1: encrypted image, install was interrupted: resuming\n"
                     : "BOOT: slot 1: encrypted image: decrypt into slot 0\n");
    struct fwt_io raw = {s1, slot_read, BOARD_SLOT_SIZE - BOARD_TRAILER_SIZE, 0};
    struct fwt_image_info info;
    memset(&info, 0, sizeof(info));
    static struct boot_enc_io enc;
    SYST_RVR = 0x00ffffffU;
    SYST_CVR = 0;
    SYST_CSR = 5U; /* enabled, processor clock */
    uint32_t t0 = SYST_CVR;
    fwt_err reason = fwt_image_parse(&raw, work, sizeof(work), &info);
    if (reason == FWT_OK && (reason = boot_enc_open(&enc, &raw, &info)) == FWT_OK) {
        uart_puts("BOOT: slot 1: image key unwrapped in ");
        uart_putdec((t0 - SYST_CVR) & 0x00ffffffU);
        uart_puts(" SysTick ticks\n");
    } else if (reason != FWT_OK && info.enc_key_len) {
        uart_puts(reason == FWT_E_UNSUPPORTED
                      ? "BOOT: slot 1: image key TLV is not ENC_EC256 (the only scheme built in)\n"
                      : "BOOT: slot 1: image key does not unwrap with this device's key "
                        "(ENC_EC256 HMAC mismatch or invalid point)\n");
    }
    if (reason != FWT_OK) {
        refuse(s1, reason);
        return 0;
    }
    volatile fwt_fih verdict = FWT_FIH_FAILURE;
    volatile fwt_fih check = FWT_FIH_FAILURE ^ FWT_FIH_MASK;
#ifdef BOOT_PLAIN
    reason = fwt_image_verify(&enc.io, ops, policy, work, sizeof(work), &info);
    if (reason == FWT_OK) {
        verdict = FWT_FIH_SUCCESS;
        check = FWT_FIH_SUCCESS ^ FWT_FIH_MASK;
    }
#else
    verdict = fwt_image_verify_fih(&enc.io, ops, policy, work, sizeof(work), &info, &check,
                                   &reason);
#endif
    if (!FWT_FIH_VERDICT_OK(verdict, check)) {
        boot_enc_close(&enc);
        refuse(s1, reason == FWT_OK ? FWT_E_INTERNAL : reason);
        return 0;
    }
    if ((info.hdr.flags & FWT_IMAGE_F_ROM_FIXED) && info.hdr.load_addr != BOARD_SLOT0_ADDR) {
        boot_enc_close(&enc);
        uart_puts("BOOT: slot 1: encrypted image is linked for ");
        uart_puthex(info.hdr.load_addr);
        uart_puts(", not slot 0: not installed\n");
        return 0;
    }
    uart_puts("BOOT: slot 1: verified over the plaintext (");
    uart_putdec(info.hdr.img_size);
    uart_puts(" bytes decrypted, security counter ");
    uart_putdec(info.security_counter);
    uart_puts(") in ");
    uart_putdec((t0 - SYST_CVR) & 0x00ffffffU);
    uart_puts(" SysTick ticks since the start of the unwrap; installing\n");
    uint8_t one = BOARD_FLAG_SET;
    const uint32_t trailer = BOARD_SLOT_SIZE - BOARD_FLASH_SECTOR;
    int ok = FWT_FIH_VERDICT_OK(verdict, check) && info.total_size <= trailer &&
             (resume || flash_write(s1->addr + BOARD_TRAILER_COPY_DONE_OFF, &one, 1) == 0);
    for (uint32_t off = 0; ok && off < info.total_size; off += BOARD_FLASH_SECTOR) {
        uint32_t n = info.total_size - off < BOARD_FLASH_SECTOR ? info.total_size - off
                                                                : BOARD_FLASH_SECTOR;
        ok = enc.io.read(enc.io.ctx, off, work, n) == FWT_OK &&
             flash_erase(s0->addr + off, BOARD_FLASH_SECTOR) == 0 &&
             flash_write(s0->addr + off, work, n) == 0;
    }
    memset(work, 0, sizeof(work));
    boot_enc_close(&enc);
    ok = ok && flash_erase(s0->addr + trailer, BOARD_FLASH_SECTOR) == 0 &&
         flash_write(s0->addr + BOARD_TRAILER_MAGIC_OFF, k_boot_magic, sizeof(k_boot_magic)) == 0 &&
         flash_write(s0->addr + BOARD_TRAILER_IMAGE_OK_OFF, &one, 1) == 0 &&
         flash_erase(s1->addr, BOARD_FLASH_SECTOR) == 0;
    if (!ok) {
        halt("encrypted install: flash operation failed");
    }
    uart_puts("BOOT: slot 1: decrypted into slot 0 (");
    uart_putdec(info.total_size);
    uart_puts(" bytes), slot 1 erased\n");
    return 1;
}
#endif

/* Hand over to the image's vector table, after the hardened verdict and the counter re-check
 * are checked once more. */
static void __attribute__((noreturn, noinline))
start_image(uint32_t vt, volatile fwt_fih *verdict, volatile fwt_fih *check,
            volatile fwt_fih *counter)
{
#ifndef BOOT_PLAIN
    if (!FWT_FIH_VERDICT_OK(*verdict, *check) || *counter != FWT_FIH_SUCCESS) {
        halt("verdict changed before the jump");
    }
#else
    (void)verdict;
    (void)check;
    (void)counter;
#endif
    uint32_t sp = *(volatile const uint32_t *)vt;
    uint32_t pc = *(volatile const uint32_t *)(vt + 4U);
#ifndef BOOT_PLAIN
    if (*counter != FWT_FIH_SUCCESS || !FWT_FIH_VERDICT_OK(*verdict, *check)) {
        halt("verdict changed before the jump");
    }
#endif
    uart_puts("BOOT: jump to ");
    uart_puthex(pc);
    uart_puts("\n");
    SYST_CSR = 0;
    SCB_VTOR = vt;
    __asm volatile("msr msp, %0\n\tbx %1\n" : : "r"(sp), "r"(pc) : "memory");
    for (;;) {
    }
}

int main(void);
int main(void)
{
    uart_init();
    uart_puts("BOOT: fwtrust bootloader, Cortex-M4, mbedTLS " MBEDTLS_VERSION_STRING
#ifdef BOOT_PLAIN
              ", plain decisions (no fault-injection hardening)\n"
#else
              ", hardened verdict\n"
#endif
    );
    struct fwt_crypto_ops ops;
    fwt_mbedtls_ops_init(&ops);
    uint32_t min_counter = seccnt_read();
    uart_puts("BOOT: security counter ");
    uart_putdec(min_counter);
    uart_puts("\n");

    struct slot slots[N_SLOTS];
    slot_scan(&slots[0], BOARD_SLOT0_ADDR);
    slot_scan(&slots[1], BOARD_SLOT1_ADDR);

    struct fwt_policy policy;
    memset(&policy, 0, sizeof(policy));
    policy.keys = boot_keys;
    policy.n_keys = boot_n_keys;
    policy.threshold = 1;
    policy.min_security_counter = min_counter;

    if (slots[1].candidate && (slots[1].hdr.flags & ENC_FLAGS)) {
        slots[1].candidate = 0; /* never booted in place */
#ifdef BOOT_ENC
        if (install_encrypted(&slots[0], &slots[1], &ops, &policy)) {
            slot_scan(&slots[0], BOARD_SLOT0_ADDR);
            slot_scan(&slots[1], BOARD_SLOT1_ADDR);
        }
#else
        uart_puts("BOOT: slot 1: encrypted image, and this bootloader has no decryption "
                  "(built without BOOT_ENC): not installed\n");
#endif
    }

    for (;;) {
        struct slot *s = choose(slots);
        if (!s) {
            halt("no bootable image");
        }
        if (s->image_ok != BOARD_FLAG_SET && s->copy_done == BOARD_FLAG_SET) {
            uart_puts("BOOT: slot ");
            uart_putdec(slot_no(s));
            uart_puts(": trial was not confirmed: reverting\n");
            if (flash_erase(s->addr, BOARD_FLASH_SECTOR) != 0) {
                halt("flash erase failed");
            }
            s->candidate = 0;
            continue;
        }
        /* The primary slot holds plaintext only: an encrypted image is decrypted into it
         * (install_encrypted), its header keeping the ENCRYPTED flag and key TLV, as in
         * MCUboot. An encrypted image in slot 1 is never booted in place. */
        struct fwt_io io = {s, slot_read, BOARD_SLOT_SIZE - BOARD_TRAILER_SIZE,
                            s->addr == BOARD_SLOT0_ADDR ? FWT_IO_PLAINTEXT : 0U};
        struct fwt_image_info info;
        fwt_err reason = FWT_E_INTERNAL;
        volatile fwt_fih verdict = FWT_FIH_FAILURE;
        volatile fwt_fih check = FWT_FIH_FAILURE ^ FWT_FIH_MASK;
        SYST_RVR = 0x00ffffffU;
        SYST_CVR = 0;
        SYST_CSR = 5U; /* enabled, processor clock */
        uint32_t t0 = SYST_CVR;
#ifdef BOOT_PLAIN
        reason = fwt_image_verify(&io, &ops, &policy, work, sizeof(work), &info);
        if (reason == FWT_OK) {
            verdict = FWT_FIH_SUCCESS;
            check = FWT_FIH_SUCCESS ^ FWT_FIH_MASK;
        }
        uint32_t t1 = SYST_CVR;
        if (reason != FWT_OK) {
#else
        verdict = fwt_image_verify_fih(&io, &ops, &policy, work, sizeof(work), &info, &check,
                                       &reason);
        uint32_t t1 = SYST_CVR;
        if (!FWT_FIH_VERDICT_OK(verdict, check)) {
#endif
            refuse(s, reason == FWT_OK ? FWT_E_INTERNAL : reason);
            s->candidate = 0;
            continue;
        }
        uart_puts("BOOT: slot ");
        uart_putdec(slot_no(s));
        uart_puts(": verified (");
        uart_putdec(info.hdr.img_size);
        uart_puts(" bytes, security counter ");
        uart_putdec(info.security_counter);
        uart_puts(") in ");
        uart_putdec((t0 - t1) & 0x00ffffffU);
        uart_puts(" SysTick ticks\n");
        if ((info.hdr.flags & FWT_IMAGE_F_ROM_FIXED) && info.hdr.load_addr != s->addr) {
            uart_puts("BOOT: slot image is linked for ");
            uart_puthex(info.hdr.load_addr);
            uart_puts(", not this slot\n");
            s->candidate = 0;
            continue;
        }
        volatile fwt_fih counter = FWT_FIH_FAILURE;
#ifndef BOOT_PLAIN
        counter = counter_recheck(&io, &info);
        if (counter != FWT_FIH_SUCCESS) {
            refuse(s, FWT_E_COUNTER);
            s->candidate = 0;
            continue;
        }
        if (fwt_policy_threshold_met(&policy, &info) != FWT_OK ||
            !FWT_FIH_VERDICT_OK(verdict, check)) {
            refuse(s, FWT_E_INTERNAL);
            s->candidate = 0;
            continue;
        }
#endif
        if (s->image_ok != BOARD_FLAG_SET) {
            uint8_t one = BOARD_FLAG_SET;
            if (flash_write(s->addr + BOARD_TRAILER_COPY_DONE_OFF, &one, 1) != 0) {
                halt("flash write failed");
            }
            uart_puts("BOOT: trial boot (the application must confirm)\n");
        } else if (info.security_counter > min_counter) {
            if (seccnt_raise(info.security_counter) != 0) {
                halt("security counter update failed");
            }
            uart_puts("BOOT: security counter raised to ");
            uart_putdec(info.security_counter);
            uart_puts("\n");
        }
        start_image(s->addr + info.hdr.hdr_size, &verdict, &check, &counter);
    }
}
