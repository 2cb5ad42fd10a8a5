/* Cortex-M4 start-up shared by the bootloader and the application: the vector table, .data
 * copied from flash, .bss zeroed, then main(). Faults print their name and stop. */
#include <stdint.h>

#include "uart.h"

extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
    (void)main();
    for (;;) {
        __asm volatile("wfi");
    }
}

void Fault_Handler(void)
{
    uart_puts("FAULT: exception, stopped\n");
    for (;;) {
        __asm volatile("wfi");
    }
}

__attribute__((section(".isr_vector"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_estack,
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    0, 0, 0, 0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMon */
    0,
    Fault_Handler, /* PendSV */
    Fault_Handler, /* SysTick (never enabled with its interrupt) */
};

/* newlib's exit() (linked in by its atexit machinery) ends here: there is nothing to return to. */
void _exit(int status);
void _exit(int status)
{
    (void)status;
    for (;;) {
        __asm volatile("wfi");
    }
}
