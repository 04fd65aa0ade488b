/*
 * memlayout.h - the physical and virtual memory map.
 *
 * One address space, identity mapped with 2 MiB pages: a pointer means the
 * same in ring 0 and ring 3, so the kernel hands the ring-3 SLM task
 * pointers into the pool and the model as they are. Ring 3 may touch only
 * the regions marked "user"; everything else is supervisor-only. (With
 * -m 512M and the default 256 MiB pool; addresses are examples where the
 * boot memory map decides.)
 *
 *   0x0000_0000 +----------------------------------+
 *               | firmware, PVH start info, memory | not mapped after boot:
 *               | map, command line (copied out)   | NULL dereferences fault
 *   0x0020_0000 +----------------------------------+ KERNEL_BASE (linker.ld)
 *               | kernel .text .rodata .data .bss  | supervisor, RWX
 *               +----------------------------------+ __kernel_end
 *   0x0040_0000 | user text + rodata               | user, read-only
 *   0x0060_0000 | user data + bss                  | user, read-write, NX
 *   0x0080_0000 | embedded model (.slm_model)      | user, read-only, NX
 *               +----------------------------------+ __image_end (2 MiB aligned)
 *               | page allocator (pmm.c): page     | supervisor, NX
 *               | tables, heap arenas, thread      |
 *               | stacks                           |
 *   0x0fc0_0000 +----------------------------------+
 *               | user stack (2 MiB)               | user, read-write, NX
 *   0x0fe0_0000 +----------------------------------+ slm_region_base()
 *               | SLM pool (slm.pool_mb, 256 MiB)  | user, read-write, NX
 *   0x1fe0_0000 +----------------------------------+
 *               | rest of RAM below the firmware's | page allocator
 *   0x1ffe_0000 +----------------------------------+ top of RAM (e820)
 *               ~                                  ~
 *   0xfee0_0000 | local APIC registers             | supervisor, uncached
 *
 * The page allocator never hands out memory below __image_end; the user
 * stack and the pool are carved from the top of RAM before anything else,
 * 2 MiB aligned, and are not cleared (QEMU hands over zeroed RAM).
 */
#ifndef AUTON_MM_MEMLAYOUT_H
#define AUTON_MM_MEMLAYOUT_H

#include <stdint.h>

#define PAGE_SIZE 4096ull
#define HUGE_PAGE_SIZE 0x200000ull

#define ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((uint64_t)(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a)-1))

/* Linker-script symbols (arch/x86_64/linker.ld); use their addresses. */
extern char __kernel_start[], __kernel_end[];
extern char __user_text_start[], __user_text_end[];
extern char __user_data_start[], __user_data_end[];
extern char __model_region_start[], __model_region_end[];
extern char __image_end[];

#endif
