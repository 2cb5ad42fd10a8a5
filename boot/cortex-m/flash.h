/*
 * Emulated NOR flash over mps2-an386's code memory: reads, 4 KiB sector erases (to 0xFF) and
 * writes that can only clear bits (a write that would set one is refused, as on NOR flash).
 * In BOOT_TEST_HOOKS builds, every erase and write first counts itself against a power-cut plan
 * the test harness loads at BOARD_HOOK_ADDR: the planned operation is cut before it starts, or
 * torn (half of it done), and the device stops there as if the power had failed.
 */
#ifndef FWT_FLASH_H
#define FWT_FLASH_H
#include <stddef.h>
#include <stdint.h>

/* 0 on success, -1 on a bad range or a write that would set bits. */
int flash_read(uint32_t addr, void *buf, size_t len);
int flash_erase(uint32_t addr, uint32_t len);
int flash_write(uint32_t addr, const void *buf, size_t len);
#endif
