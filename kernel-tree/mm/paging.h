/*
 * paging.h - the kernel's page tables: RAM identity mapped with 2 MiB
 * pages, attributes per region (see memlayout.h).
 */
#ifndef AUTON_MM_PAGING_H
#define AUTON_MM_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/bootinfo.h"

enum map_flags {
    MAP_WRITE = 1 << 0,
    MAP_USER = 1 << 1, /* ring 3 may access it */
    MAP_EXEC = 1 << 2, /* otherwise no-execute (when the CPU has NX) */
    MAP_UNCACHED = 1 << 3,
};

/* Builds the final page tables from the memory map and switches to them:
 * RAM above 2 MiB writable and no-execute, the kernel image executable,
 * the user regions of the image user-accessible (and, where the CPU has
 * SMEP, never executable by ring 0). */
void paging_init(const struct bootinfo *bi);

/* Identity-maps [addr, addr + size), widened to 2 MiB pages, with flags,
 * replacing whatever attributes those pages had. */
void paging_map(uint64_t addr, uint64_t size, unsigned flags);

/* True if ring 3 may read (or, with write, write) all of [addr, addr+size). */
bool paging_user_ok(uint64_t addr, uint64_t size, bool write);

#endif
