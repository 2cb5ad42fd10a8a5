/* Polled output on the CMSDK UART0 of mps2-an386 (no interrupts, no buffering). */
#ifndef FWT_UART_H
#define FWT_UART_H
#include <stddef.h>
#include <stdint.h>
void uart_init(void);
void uart_puts(const char *s);
void uart_putdec(uint32_t v);
void uart_puthex(uint32_t v);
#endif
