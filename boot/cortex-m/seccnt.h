/*
 * The security counter in its own flash area (BOARD_SECCNT_ADDR, two sectors): the minimum
 * security counter an image must carry. Records of (value, ~value); the counter is the largest
 * valid record in either sector, so a torn write (an invalid record) or a torn erase (of the
 * sector without the largest value) never lowers it. Raising appends a record; when both
 * sectors are full, the one without the largest value is erased first.
 */
#ifndef FWT_SECCNT_H
#define FWT_SECCNT_H
#include <stdint.h>
uint32_t seccnt_read(void);
/* 0: the counter is now >= v; -1: flash error. */
int seccnt_raise(uint32_t v);
#endif
