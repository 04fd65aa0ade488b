/*
 * panic.c - KERNEL PANIC: report and stop.
 */
#include "kernel/panic.h"

#include <stdarg.h>
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "kernel/power.h"
#include "kernel/printk.h"
#include "kernel/sched.h"
#include "lib/kfmt.h"

static int panicking;

void panic_begin(void)
{
    __asm__ volatile("cli");
    if (panicking++)
        panic_halt();
}

void panic_halt(void)
{
    power_debug_exit(POWER_EXIT_PANIC);
    cpu_halt_forever();
}

void panic(const char *fmt, ...)
{
    panic_begin();
    char msg[PRINTK_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    kfmt_vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    uint64_t rsp, rbp;
    __asm__ volatile("mov %%rsp, %0; mov %%rbp, %1" : "=r"(rsp), "=r"(rbp));
    printk("KERNEL PANIC: %s (thread %s)\n", msg, sched_current_name());
    kprintf("  called from 0x%016lx  rsp 0x%016lx  rbp 0x%016lx\n",
            (uint64_t)__builtin_return_address(0), rsp, rbp);
    kprintf("  cr0 0x%016lx  cr2 0x%016lx  cr3 0x%016lx  cr4 0x%016lx\n", read_cr0(), read_cr2(),
            read_cr3(), read_cr4());
    panic_halt();
}
