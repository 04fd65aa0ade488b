/*
 * selftest_core.c - selftests of the CPU state left by boot, the
 * scheduler, the timer and PCI enumeration.
 */
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"
#include "drivers/pci.h"
#include "kernel/selftest.h"
#include "kernel/sched.h"
#include "kernel/time.h"
#include "lib/kfmt.h"

#define CR0_PG (1ull << 31)
#define EFER_LMA (1ull << 10)
#define SCHED_SWITCHES 4
#define SCHED_DEADLINE_NS 2000000000ull
#define TIMER_WAIT_MS 500

int selftest_boot(char *detail, size_t n)
{
    uint16_t tr;
    __asm__ volatile("str %0" : "=r"(tr));
    const char *bad = !(rdmsr(MSR_EFER) & EFER_LMA)  ? "not in long mode"
                      : !(read_cr0() & CR0_PG)       ? "paging off"
                      : !(read_rflags() & RFLAGS_IF) ? "interrupts off"
                      : tr != GDT_TSS                ? "TSS not loaded"
                      : !(read_cr4() & CR4_OSFXSR)   ? "SSE not enabled for ring 3"
                      : time_tsc_khz() == 0          ? "clock not calibrated"
                                                     : NULL;
    if (bad) {
        kfmt_snprintf(detail, n, "%s", bad);
        return 1;
    }
    kfmt_snprintf(detail, n, "long mode, paging, TSS, IRQs on, TSC %lu MHz, up %lu ms",
                  time_tsc_khz() / 1000, time_ms());
    return 0;
}

/* Two threads that never yield: only preemption can alternate them. */
static struct {
    volatile int last;
    volatile unsigned switches;
    uint64_t deadline_ns;
} spin;

static void spinner(void *arg)
{
    int me = (int)(uintptr_t)arg;
    while (spin.switches < SCHED_SWITCHES && time_ns() < spin.deadline_ns) {
        uint64_t flags = irq_save();
        if (spin.last != me) {
            spin.last = me;
            spin.switches++;
        }
        irq_restore(flags);
        cpu_relax();
    }
}

int selftest_sched(char *detail, size_t n)
{
    uint64_t start = time_ns();
    spin.last = 0;
    spin.switches = 0;
    spin.deadline_ns = start + SCHED_DEADLINE_NS;
    struct thread *a = sched_spawn("spin-a", spinner, (void *)1);
    struct thread *b = sched_spawn("spin-b", spinner, (void *)2);
    if (!a || !b) {
        kfmt_snprintf(detail, n, "sched_spawn: out of memory");
        return 1; /* a thread that did start ends at its deadline; it leaks */
    }
    sched_join(a);
    sched_join(b);
    uint64_t ms = (time_ns() - start) / 1000000;
    kfmt_snprintf(detail, n, "2 threads alternated %u times in %lu ms", spin.switches, ms);
    return spin.switches >= SCHED_SWITCHES ? 0 : 1;
}

int selftest_timer(char *detail, size_t n)
{
    uint64_t t0 = timer_ticks(), start = time_ns();
    while (time_ns() - start < TIMER_WAIT_MS * 1000000ull)
        cpu_relax();
    uint64_t ticks = timer_ticks() - t0;
    uint64_t expect = TIMER_HZ * TIMER_WAIT_MS / 1000;
    kfmt_snprintf(detail, n, "%lu ticks in %u ms of TSC time (expected %lu at %u Hz)", ticks,
                  TIMER_WAIT_MS, expect, TIMER_HZ);
    return ticks >= expect / 2 && ticks <= expect * 2 ? 0 : 1;
}

int selftest_pci(char *detail, size_t n)
{
    const struct pci_device *d = pci_find(0x8086, 0x1237);
    if (!d) {
        kfmt_snprintf(detail, n, "host bridge 8086:1237 not found among %u functions", pci_count());
        return 1;
    }
    kfmt_snprintf(detail, n, "host bridge 8086:1237 at %02x:%02x.%u, %u functions", d->bus, d->dev,
                  d->fn, pci_count());
    return 0;
}
