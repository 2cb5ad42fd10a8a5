#include "seccnt.h"

#include "board.h"
#include "flash.h"

#define N_SECTORS 2U
#define REC_SIZE 8U
#define RECS (BOARD_FLASH_SECTOR / REC_SIZE)

static uint32_t sector_addr(uint32_t s)
{
    return BOARD_SECCNT_ADDR + s * BOARD_FLASH_SECTOR;
}

/* Largest valid value in sector s (0 if none) and its first erased record (RECS if full). */
static void scan(uint32_t s, uint32_t *max, uint32_t *free_rec)
{
    *max = 0;
    *free_rec = RECS;
    for (uint32_t i = 0; i < RECS; i++) {
        uint32_t r[2];
        if (flash_read(sector_addr(s) + i * REC_SIZE, r, sizeof(r)) != 0) {
            continue;
        }
        if (r[0] == 0xffffffffU && r[1] == 0xffffffffU) {
            if (*free_rec == RECS) {
                *free_rec = i;
            }
            continue;
        }
        if (r[0] == ~r[1] && r[0] > *max) {
            *max = r[0];
        }
    }
}

uint32_t seccnt_read(void)
{
    uint32_t best = 0;
    for (uint32_t s = 0; s < N_SECTORS; s++) {
        uint32_t m, f;
        scan(s, &m, &f);
        best = m > best ? m : best;
    }
    return best;
}

int seccnt_raise(uint32_t v)
{
    uint32_t m[N_SECTORS], f[N_SECTORS];
    for (uint32_t s = 0; s < N_SECTORS; s++) {
        scan(s, &m[s], &f[s]);
    }
    if (v <= m[0] || v <= m[1]) {
        return 0;
    }
    uint32_t s = f[0] < RECS ? 0U : f[1] < RECS ? 1U : N_SECTORS;
    if (s == N_SECTORS) {
        s = m[0] < m[1] ? 0U : 1U; /* never erase the sector holding the largest value */
        if (flash_erase(sector_addr(s), BOARD_FLASH_SECTOR) != 0) {
            return -1;
        }
        f[s] = 0;
    }
    uint32_t r[2] = {v, ~v};
    return flash_write(sector_addr(s) + f[s] * REC_SIZE, r, sizeof(r));
}
