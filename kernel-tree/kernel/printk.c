/*
 * printk.c - formatted console output with boot-clock timestamps.
 */
#include "kernel/printk.h"

#include "arch/x86_64/cpu.h"
#include "drivers/serial.h"
#include "kernel/time.h"
#include "lib/kfmt.h"

/* Caller holds interrupts off. */
static void write_translated(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\n')
            continue;
        serial_write(SERIAL_COM1, s + start, i - start);
        serial_write(SERIAL_COM1, "\r\n", 2);
        start = i + 1;
    }
    serial_write(SERIAL_COM1, s + start, n - start);
}

void console_write(const char *s, size_t n)
{
    uint64_t flags = irq_save();
    write_translated(s, n);
    irq_restore(flags);
}

static size_t clamp(int len, size_t cap)
{
    if (len < 0)
        return 0;
    return (size_t)len < cap ? (size_t)len : cap - 1;
}

void vkprintf(const char *fmt, va_list ap)
{
    char buf[PRINTK_MAX];
    size_t n = clamp(kfmt_vsnprintf(buf, sizeof buf, fmt, ap), sizeof buf);
    console_write(buf, n);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vkprintf(fmt, ap);
    va_end(ap);
}

void printk(const char *fmt, ...)
{
    char buf[PRINTK_MAX];
    uint64_t ms = time_ms();
    size_t n = clamp(
        kfmt_snprintf(buf, sizeof buf, "[%3u.%03u] ", (unsigned)(ms / 1000), (unsigned)(ms % 1000)),
        sizeof buf);
    va_list ap;
    va_start(ap, fmt);
    n += clamp(kfmt_vsnprintf(buf + n, sizeof buf - n, fmt, ap), sizeof buf - n);
    va_end(ap);
    console_write(buf, n);
}
