/*
 * main.c - kmain, the boot script: each line brings up one subsystem, in
 * dependency order, and the boot log says how far it got.
 */
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/pic.h"
#include "arch/x86_64/pvh.h"
#include "arch/x86_64/simd.h"
#include "arch/x86_64/trap.h"
#include "drivers/pci.h"
#include "drivers/serial.h"
#include "kernel/bridge.h"
#include "kernel/cmdline.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/sched.h"
#include "kernel/selftest.h"
#include "kernel/shell.h"
#include "kernel/slm/slm.h"
#include "kernel/time.h"
#include "kernel/user.h"
#include "lib/kstring.h"
#include "mm/paging.h"
#include "mm/pmm.h"
#include "mm/slm_region.h"

#define MIB (1024 * 1024)

void kmain(uint64_t start_info);

static void log_run_id(void)
{
    const char *id = cmdline_get("auton.run_id");
    if (id)
        printk("Run: %.64s\n", id);
}

/* slm.pool_mb=, or the default when absent or not a number. */
static uint64_t pool_mb(void)
{
    uint64_t mb = SLM_POOL_DEFAULT_MB;
    if (cmdline_has("slm.pool_mb") && !cmdline_get_u64("slm.pool_mb", &mb))
        printk("MM: ignoring slm.pool_mb=%s (not a number of MiB)\n", cmdline_get("slm.pool_mb"));
    return mb;
}

static void log_memory(void)
{
    struct pmm_stats p;
    struct slm_region_info r;
    pmm_get_stats(&p);
    slm_region_get(&r);
    if (r.size < r.requested)
        printk("MM: SLM pool of %lu MiB does not fit, reserved %lu MiB\n", r.requested / MIB,
               r.size / MIB);
    printk("MM: %lu MiB free, SLM pool %lu MiB at 0x%08lx\n", p.free / MIB, r.size / MIB, r.base);
}

/* COM2 carries the kernel bridge, and only when asked for. Returns whether
 * it is up. */
static bool bridge_serial_init(void)
{
    const char *on = cmdline_get("auton.bridge");
    if (!on || on[0] != '1')
        return false;
    if (serial_init(SERIAL_COM2)) {
        serial_enable_rx_irq(SERIAL_COM2);
        return true;
    }
    printk("Bridge: auton.bridge=1 but no UART at COM2\n");
    return false;
}

/* Fault injection for the integrator's own tests (docs/kernel.md):
 * auton.inject=panic panics where the boot would finish, auton.inject=hang
 * spins there with interrupts off, so neither a prompt nor a ready event
 * ever comes. Anything else is ignored with a line saying so. */
static void inject_boot_fault(void)
{
    const char *what = cmdline_get("auton.inject");
    if (!what)
        return;
    if (!strcmp(what, "panic"))
        panic("kmain: injected boot fault (auton.inject=panic)");
    if (!strcmp(what, "hang")) {
        printk("Init: hanging as asked (auton.inject=hang)\n");
        __asm__ volatile("cli");
        for (;;)
            __asm__ volatile("pause");
    }
    printk("Init: ignoring auton.inject=%.32s (panic or hang)\n", what);
}

/* The shell; or, with `selftest` on the command line, the selftests
 * followed by power off. */
static void start_first_thread(void)
{
    bool selftest = cmdline_has("selftest");
    void (*body)(void *) = selftest ? selftest_boot_main : shell_main;
    if (!sched_spawn(selftest ? "selftest" : "shell", body, NULL))
        panic("kmain: no memory for the first thread");
}

void kmain(uint64_t start_info)
{
    serial_init(SERIAL_COM1); /* the console: boot log and shell */
    time_init();              /* TSC calibrated against the PIT */
    printk("AUTON kernel booting...\n");
    const struct bootinfo *bi = pvh_parse(start_info); /* memory map, command line */
    cmdline_init(bi->cmdline);
    log_run_id();

    gdt_init();      /* kernel and user segments, TSS */
    idt_init();      /* exceptions, IRQs, int3 service gate */
    pmm_init(bi);    /* physical pages above the kernel */
    paging_init(bi); /* 2 MiB identity map, user regions */
    printk("MM: Initialized page allocator\n");
    slm_region_init(pool_mb()); /* SLM pool, top of RAM, ring-3 RW */
    user_init();                /* ring-3 stack below the pool */
    log_memory();

    uint64_t xcr0 = simd_init(); /* SSE/AVX state for ring 3 */
    printk("CPU: TSC %lu MHz, ring-3 SIMD %s (XCR0 0x%lx)\n", time_tsc_khz() / 1000,
           simd_describe(xcr0), xcr0);
    pic_init();                        /* 8259s remapped, all masked */
    lapic_init();                      /* virtual wire: PIC -> LINT0 */
    timer_init();                      /* PIT tick: time slices */
    serial_enable_rx_irq(SERIAL_COM1); /* console input */
    bool bridge = bridge_serial_init(); /* COM2 if auton.bridge=1 */
    irq_enable();
    printk("IRQ: timer %u Hz, round-robin preemption, console input on IRQ 4\n", TIMER_HZ);
    printk("PCI: %u functions\n", pci_init());

    slm_init(); /* rule engine, SLM pool, the embedded model in the ring-3 task */
    if (bridge)
        bridge_start(); /* protocol v1 on COM2, "ready" event */

    inject_boot_fault(); /* auton.inject=panic|hang, for tests */
    printk("Init: System ready\n");
    start_first_thread(); /* the shell, or the selftests */
    sched_idle();         /* the boot flow becomes the idle thread */
}
