/*
 * kfmt.h - a small, integer-only vsnprintf for freestanding code.
 *
 * Used by the kernel's printk and by the SLM engine's error messages, on the
 * host and in the kernel alike, so a message reads the same everywhere. It
 * never touches floating point (ring-0 code is built -mgeneral-regs-only).
 *
 * Conversions: %% %c %s %d %i %u %x %X %p, length modifiers hh h l ll z j t,
 * flags '-' and '0', a field width and a precision (also as '*'). %.Ns
 * prints at most N bytes of a string that need not be NUL-terminated.
 */
#ifndef AUTON_LIB_KFMT_H
#define AUTON_LIB_KFMT_H

#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

/* Formats into buf (always NUL-terminated when n > 0). Returns the length
 * the whole output would have had, like C99 vsnprintf. */
int kfmt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
/* A decimal number of 1..20 digits that fits 64 bits, nothing else. */
bool kparse_u64(const char *s, uint64_t *out);

int kfmt_snprintf(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
