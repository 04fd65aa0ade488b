/*
 * power.h - leaving the machine: power off, or exit QEMU with a status.
 */
#ifndef AUTON_KERNEL_POWER_H
#define AUTON_KERNEL_POWER_H

#include <stdint.h>

/* Values for QEMU's isa-debug-exit; QEMU exits with (value << 1) | 1. */
enum power_exit {
    POWER_EXIT_OK = 0,          /* QEMU exit status 1 */
    POWER_EXIT_TEST_FAILED = 1, /* 3 */
    POWER_EXIT_PANIC = 2,       /* 5 */
};

/* Makes QEMU exit with status (code << 1) | 1 if it has an isa-debug-exit
 * device at port 0xf4; returns if it has none (the write is ignored). */
void power_debug_exit(enum power_exit code);

/* Powers off: isa-debug-exit with code, then ACPI soft-off; halts if
 * nothing worked. */
void power_off(enum power_exit code) __attribute__((noreturn));

#endif
