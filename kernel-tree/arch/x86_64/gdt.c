/*
 * gdt.c - the GDT with kernel and user segments, and the TSS.
 *
 * Replaces boot.S's minimal GDT: same kernel selectors, plus ring-3 code and
 * data and the TSS (RSP0 for traps from ring 3, IST1 for double faults).
 */
#include "arch/x86_64/gdt.h"

#define DF_STACK_SIZE 4096

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct gdt_desc {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

/* Code/data descriptors: P | S | type, DPL in bits 45-46, L for 64-bit code. */
#define SEG_CODE64(dpl) (0x00209a0000000000ull | ((uint64_t)(dpl) << 45))
#define SEG_DATA(dpl) (0x00cf92000000ffffull | ((uint64_t)(dpl) << 45))

static struct tss tss;
static uint64_t gdt[7];
static uint8_t df_stack[DF_STACK_SIZE] __attribute__((aligned(16)));

/* A 64-bit TSS descriptor takes two GDT slots. */
static void set_tss_desc(uint64_t *slot, uint64_t base, uint32_t limit)
{
    slot[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) /* P, type 9 */
              | ((uint64_t)((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    slot[1] = base >> 32;
}

void gdt_init(void)
{
    gdt[GDT_KERNEL_CODE / 8] = SEG_CODE64(0);
    gdt[GDT_KERNEL_DATA / 8] = SEG_DATA(0);
    gdt[GDT_USER_DATA / 8] = SEG_DATA(3);
    gdt[GDT_USER_CODE / 8] = SEG_CODE64(3);
    tss.ist[IST_DOUBLE_FAULT - 1] = (uint64_t)(df_stack + DF_STACK_SIZE);
    tss.iomap_base = sizeof tss; /* no I/O bitmap: port I/O from ring 3 #GPs */
    set_tss_desc(&gdt[GDT_TSS / 8], (uint64_t)&tss, sizeof tss - 1);

    struct gdt_desc desc = {sizeof gdt - 1, (uint64_t)gdt};
    __asm__ volatile("lgdt %0\n\t"
                     "pushq %1\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movw %w2, %%ds\n\t"
                     "movw %w2, %%es\n\t"
                     "movw %w2, %%ss\n\t"
                     "ltr %w3"
                     :
                     : "m"(desc), "i"(GDT_KERNEL_CODE), "r"(GDT_KERNEL_DATA), "r"(GDT_TSS)
                     : "rax", "memory");
}

void tss_set_rsp0(uint64_t rsp0)
{
    tss.rsp[0] = rsp0;
}
