/*
 * bootinfo.h - what the boot loader told us, copied out of its memory.
 *
 * Filled once by the architecture's entry (arch/x86_64/pvh.c) before the
 * kernel's own page tables unmap low memory; read-only afterwards.
 */
#ifndef AUTON_KERNEL_BOOTINFO_H
#define AUTON_KERNEL_BOOTINFO_H

#include <stdint.h>

#define BOOT_CMDLINE_MAX 512
#define BOOT_MEM_MAX 32

/* e820 region types */
enum boot_mem_type {
    BOOT_MEM_RAM = 1,
    BOOT_MEM_RESERVED = 2,
    BOOT_MEM_ACPI = 3,
    BOOT_MEM_NVS = 4,
    BOOT_MEM_UNUSABLE = 5,
};

struct boot_mem_region {
    uint64_t base;
    uint64_t size;
    uint32_t type; /* enum boot_mem_type */
};

struct bootinfo {
    char cmdline[BOOT_CMDLINE_MAX]; /* NUL-terminated, truncated if longer */
    struct boot_mem_region mem[BOOT_MEM_MAX];
    unsigned nmem;
    uint64_t rsdp; /* physical address of the ACPI RSDP, 0 if none given */
};

#endif
