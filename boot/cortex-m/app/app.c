/*
 * The demo application booted by the bootloader: prints its version (the one the signed header
 * in its slot carries, and the one it was built as), confirms itself by setting image_ok in its
 * slot's MCUboot trailer (as MCUboot's boot_set_confirmed does), and idles.
 * Built once per slot (APP_SLOT_ADDR: direct-XIP images run where they are stored). With
 * -DAPP_NO_CONFIRM it never confirms: a release that fails its trial and must be reverted.
 */
#include <fwtrust/fwtrust.h>

#include <stdint.h>

#include "board.h"
#include "flash.h"
#include "uart.h"

#ifndef APP_VERSION
#error "APP_VERSION (\"M.m.r\") must be defined"
#endif

int main(void);
int main(void)
{
    uart_init();
    uart_puts("APP: fwtrust demo application " APP_VERSION " running from slot ");
    uart_putdec(APP_SLOT_ADDR == BOARD_SLOT0_ADDR ? 0U : 1U);
    uart_puts("\n");
    uint8_t raw[FWT_IMAGE_HEADER_SIZE];
    struct fwt_image_header hdr;
    if (flash_read(APP_SLOT_ADDR, raw, sizeof(raw)) == 0 && fwt_header_decode(raw, &hdr) == FWT_OK) {
        uart_puts("APP: signed header version ");
        uart_putdec(hdr.version.major);
        uart_puts(".");
        uart_putdec(hdr.version.minor);
        uart_puts(".");
        uart_putdec(hdr.version.revision);
        uart_puts("\n");
    }
#ifdef APP_NO_CONFIRM
    uart_puts("APP: not confirming this image\n");
#else
    uint8_t ok;
    if (flash_read(APP_SLOT_ADDR + BOARD_TRAILER_IMAGE_OK_OFF, &ok, 1) != 0) {
        uart_puts("APP: cannot read the trailer\n");
    } else if (ok == BOARD_FLAG_SET) {
        uart_puts("APP: already confirmed\n");
    } else {
        const uint8_t one = BOARD_FLAG_SET;
        if (flash_write(APP_SLOT_ADDR + BOARD_TRAILER_IMAGE_OK_OFF, &one, 1) == 0) {
            uart_puts("APP: confirmed\n");
        } else {
            uart_puts("APP: confirm failed\n");
        }
    }
#endif
    uart_puts("APP: idle\n");
    for (;;) {
        __asm volatile("wfi");
    }
}
