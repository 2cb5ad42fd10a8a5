/* Polled CMSDK APB UART output (DATA +0x0, STATE +0x4 bit0 TX full, CTRL +0x8 bit0 TX enable,
 * BAUDDIV +0x10, at least 16). */
#include "uart.h"

#include "board.h"

#define REG(off) (*(volatile uint32_t *)(BOARD_UART0 + (off)))

void uart_init(void)
{
    REG(0x10) = 16U;
    REG(0x08) = 1U;
}

static void uart_putc(char c)
{
    while (REG(0x04) & 1U) {
    }
    REG(0x00) = (uint32_t)(uint8_t)c;
}

void uart_puts(const char *s)
{
    while (*s) {
        if (*s == '\n') {
            uart_putc('\r');
        }
        uart_putc(*s++);
    }
}

void uart_putdec(uint32_t v)
{
    char b[11];
    int i = (int)sizeof(b) - 1;
    b[i] = '\0';
    do {
        b[--i] = (char)('0' + v % 10U);
        v /= 10U;
    } while (v != 0 && i > 0);
    uart_puts(&b[i]);
}

void uart_puthex(uint32_t v)
{
    char b[11] = "0x";
    for (int i = 0; i < 8; i++) {
        uint32_t n = (v >> (28 - 4 * i)) & 0xfU;
        b[2 + i] = (char)(n < 10U ? '0' + n : 'a' + n - 10U);
    }
    b[10] = '\0';
    uart_puts(b);
}
