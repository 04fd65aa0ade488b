/*
 * gdt.h - segment selectors, the GDT and the TSS.
 *
 * Long mode barely uses segments, but ring 3 needs user code/data
 * descriptors, and the TSS supplies RSP0 (the kernel stack a trap from
 * ring 3 lands on) and IST1 (a known-good stack for double faults).
 * Also included by assembly (selectors only).
 */
#ifndef AUTON_ARCH_GDT_H
#define AUTON_ARCH_GDT_H

#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_USER_DATA (0x18 | 3)
#define GDT_USER_CODE (0x20 | 3)
#define GDT_TSS 0x28

#define IST_DOUBLE_FAULT 1

#ifndef __ASSEMBLY__
#include <stdint.h>

void gdt_init(void);

/* The stack the CPU switches to when a trap arrives from ring 3. */
void tss_set_rsp0(uint64_t rsp0);
#endif

#endif
