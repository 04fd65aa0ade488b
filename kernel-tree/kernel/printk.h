/*
 * printk.h - console output (COM1).
 *
 * printk: a kernel log line, prefixed "[  s.mmm] " with the time since boot.
 * kprintf: plain console output (shell answers, register dumps).
 * Both translate "\n" to "\r\n" and write a whole call at once, so lines
 * from different threads never interleave. Formatting is lib/kfmt.h's
 * (integers only); output longer than PRINTK_MAX is truncated.
 */
#ifndef AUTON_KERNEL_PRINTK_H
#define AUTON_KERNEL_PRINTK_H

#include <stdarg.h>
#include <stddef.h>

#define PRINTK_MAX 512

void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vkprintf(const char *fmt, va_list ap);

/* Writes n bytes to the console as they are (newlines translated). */
void console_write(const char *s, size_t n);

#endif
