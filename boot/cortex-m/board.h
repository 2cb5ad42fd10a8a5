/*
 * The mps2-an386 board (Cortex-M4) as the bootloader and the application see it,
 * and the flash layout they share.
 *
 * QEMU's mps2-an386 has no flash controller: its code memory (SSRAM1, 4 MiB at 0) is RAM the
 * CPU can write. flash.c gives it NOR semantics (4 KiB erase sectors, erased = 0xFF, a write can
 * only clear bits); tests/mcu/mcu.py keeps it across power cycles (one QEMU run per boot, the
 * memory saved at the end of one and loaded at the start of the next).
 *
 *   0x00000000  bootloader             128 KiB
 *   0x00020000  slot 0 (primary)       512 KiB  image linked for 0x00020200, MCUboot trailer at the end
 *   0x000a0000  slot 1 (secondary)     512 KiB  image linked for 0x000a0200, MCUboot trailer at the end
 *   0x00120000  security counter         8 KiB  two sectors of (value, ~value) records
 *   0x00122000  end of what is persisted
 */
#ifndef FWT_BOARD_H
#define FWT_BOARD_H

#include <stdint.h>

#define BOARD_FLASH_SECTOR 0x1000U
#define BOARD_BOOT_ADDR 0x00000000U
#define BOARD_BOOT_SIZE 0x00020000U
#define BOARD_SLOT0_ADDR 0x00020000U
#define BOARD_SLOT1_ADDR 0x000a0000U
#define BOARD_SLOT_SIZE 0x00080000U
#define BOARD_SECCNT_ADDR 0x00120000U
#define BOARD_SECCNT_SIZE 0x00002000U
#define BOARD_FLASH_END 0x00122000U
#define BOARD_HDR_SIZE 0x200U /* image header size (fwtrust sign -H 0x200) */

/* MCUboot's boot trailer at the end of each slot (BOOT_MAX_ALIGN 8, as fwtrust sign and imgtool
 * lay it out with --align 1..8): magic in the last 16 bytes, image_ok 8 bytes before it, copy_done
 * 8 bytes before that. */
#define BOARD_TRAILER_MAGIC_OFF (BOARD_SLOT_SIZE - 16U)
#define BOARD_TRAILER_IMAGE_OK_OFF (BOARD_SLOT_SIZE - 24U)
#define BOARD_TRAILER_COPY_DONE_OFF (BOARD_SLOT_SIZE - 32U)
/* The trailer as fwtrust sign --align 1 sizes it (swap status area included, unused here): the
 * image must end before it. */
#define BOARD_TRAILER_SIZE (128U * 3U + 8U * 4U + 16U)
#define BOARD_FLAG_SET 0x01U

/* Test hooks (BOOT_TEST_HOOKS builds only): a word the test harness loads into RAM. */
#define BOARD_HOOK_ADDR 0x2003ff00U

/* CMSDK APB UART0. */
#define BOARD_UART0 0x40004000U
/* SysTick, clocked by the 25 MHz system clock. */
#define BOARD_SYSCLK_HZ 25000000U

#endif /* FWT_BOARD_H */
