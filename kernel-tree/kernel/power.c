/*
 * power.c - power off.
 *
 * There is no way to detect isa-debug-exit, so the write to 0xf4 is
 * simply tried first; then ACPI S5 through the PM1a control register where
 * QEMU's firmware puts it (0x604 on pc/q35 with SeaBIOS/qboot, 0xb004 on
 * old Bochs-style setups).
 */
#include "kernel/power.h"

#include "arch/x86_64/cpu.h"
#include "kernel/printk.h"

#define DEBUG_EXIT_PORT 0xf4
#define ACPI_SLP_S5 0x2000 /* SLP_TYP = 5 (QEMU), SLP_EN */

void power_debug_exit(enum power_exit code)
{
    outb(DEBUG_EXIT_PORT, (uint8_t)code);
}

void power_off(enum power_exit code)
{
    power_debug_exit(code);
    outw(0x604, ACPI_SLP_S5);
    outw(0xb004, ACPI_SLP_S5);
    kprintf("power_off: no power-off device answered; halting\n");
    cpu_halt_forever();
}
