/*
 * panic.h - stopping the machine on a broken invariant.
 */
#ifndef AUTON_KERNEL_PANIC_H
#define AUTON_KERNEL_PANIC_H

/* Prints "KERNEL PANIC: <message>" with the caller's registers and halts.
 * Convention: panic("function: what is wrong"). */
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* For other panic reporters (trap_panic): interrupts off, and a panic
 * while panicking halts at once instead of recursing. */
void panic_begin(void);

/* Exits QEMU through isa-debug-exit when present, else halts forever. */
void panic_halt(void) __attribute__((noreturn));

#endif
