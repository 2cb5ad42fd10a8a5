#include "flash.h"

#include <string.h>

#include "board.h"
#include "uart.h"

static int in_range(uint32_t addr, size_t len)
{
    /* The bootloader area is never written through here. */
    return addr >= BOARD_SLOT0_ADDR && addr <= BOARD_FLASH_END && len <= BOARD_FLASH_END - addr;
}

int flash_read(uint32_t addr, void *buf, size_t len)
{
    if (addr > BOARD_FLASH_END || len > BOARD_FLASH_END - addr) {
        return -1;
    }
    memcpy(buf, (const void *)(uintptr_t)addr, len);
    return 0;
}

#ifdef BOOT_TEST_HOOKS
#define HOOK_MAGIC 0x464c5448U /* "HTLF" */
struct hook {
    uint32_t magic;
    uint32_t cut_at; /* 1-based number of the operation to cut */
    uint32_t torn;   /* 0: cut before it, 1: half of it done */
    uint32_t count;  /* operations so far, across the bootloader and the application */
};

/* Returns how much of the operation of len units to do: len, or less when the plan cuts it
 * (the caller then does that much and calls power_fail). */
static size_t hook_plan(size_t len, int *cut)
{
    volatile struct hook *h = (volatile struct hook *)BOARD_HOOK_ADDR;
    *cut = 0;
    if (h->magic != HOOK_MAGIC) {
        return len;
    }
    h->count = h->count + 1U;
    if (h->count != h->cut_at) {
        return len;
    }
    *cut = 1;
    return h->torn ? len / 2U : 0U;
}

static void power_fail(void)
{
    volatile struct hook *h = (volatile struct hook *)BOARD_HOOK_ADDR;
    uart_puts("POWERCUT at flash operation ");
    uart_putdec(h->count);
    uart_puts(h->torn ? " (torn)\n" : "\n");
    for (;;) {
        __asm volatile("wfi");
    }
}
#else
static size_t hook_plan(size_t len, int *cut)
{
    *cut = 0;
    return len;
}
static void power_fail(void)
{
}
#endif

int flash_erase(uint32_t addr, uint32_t len)
{
    if (!in_range(addr, len) || addr % BOARD_FLASH_SECTOR != 0 || len % BOARD_FLASH_SECTOR != 0) {
        return -1;
    }
    int cut;
    size_t n = hook_plan(len, &cut);
    memset((void *)(uintptr_t)addr, 0xff, n);
    if (cut) {
        power_fail();
    }
    return 0;
}

int flash_write(uint32_t addr, const void *buf, size_t len)
{
    if (!in_range(addr, len)) {
        return -1;
    }
    volatile uint8_t *dst = (volatile uint8_t *)(uintptr_t)addr;
    const uint8_t *src = buf;
    for (size_t i = 0; i < len; i++) {
        if ((dst[i] & src[i]) != src[i]) {
            return -1; /* NOR cannot set a bit without an erase */
        }
    }
    int cut;
    size_t n = hook_plan(len, &cut);
    for (size_t i = 0; i < n; i++) {
        dst[i] = src[i];
    }
    if (cut) {
        power_fail();
    }
    return 0;
}
