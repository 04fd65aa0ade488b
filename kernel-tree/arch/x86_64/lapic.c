/*
 * lapic.c - local APIC setup for virtual-wire mode.
 *
 * qboot hands over with the local APIC software-disabled and LINT0 masked,
 * so no PIC interrupt would ever arrive. SeaBIOS sets virtual wire itself;
 * writing it again is harmless. The timer and IPIs are not used (yet).
 */
#include "arch/x86_64/lapic.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/trap.h"
#include "mm/paging.h"

#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_MASK 0xffffff000ull
#define LAPIC_SVR 0xf0
#define LAPIC_LVT_LINT0 0x350
#define SVR_ENABLE 0x100
#define LVT_EXTINT 0x700

static void lapic_write(uint64_t base, unsigned reg, uint32_t v)
{
    *(volatile uint32_t *)(base + reg) = v;
}

void lapic_init(void)
{
    uint64_t msr = rdmsr(MSR_APIC_BASE);
    if (!(msr & APIC_BASE_ENABLE))
        return; /* APIC off: the 8259 drives the CPU's INTR pin directly */
    uint64_t base = msr & APIC_BASE_MASK;
    paging_map(base, 0x1000, MAP_WRITE | MAP_UNCACHED);
    lapic_write(base, LAPIC_SVR, SVR_ENABLE | VECTOR_SPURIOUS);
    lapic_write(base, LAPIC_LVT_LINT0, LVT_EXTINT);
}
