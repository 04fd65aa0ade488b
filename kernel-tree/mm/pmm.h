/*
 * pmm.h - the physical page allocator.
 *
 * Hands out 4 KiB pages of the RAM the boot memory map reports, above the
 * kernel image. Pages are identity mapped, so the returned address is also
 * the pointer to use. Nothing is cleared: callers that need zeroes zero.
 */
#ifndef AUTON_MM_PMM_H
#define AUTON_MM_PMM_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/bootinfo.h"

struct pmm_stats {
    uint64_t total;    /* bytes the allocator manages */
    uint64_t free;     /* bytes not handed out */
    uint64_t reserved; /* bytes carved out by pmm_reserve_top (pool, user stack) */
};

/* Takes every RAM region of the memory map above the kernel image. */
void pmm_init(const struct bootinfo *bi);

/* One page, or NULL when memory is exhausted. */
void *pmm_alloc(void);

/* npages physically contiguous pages, or NULL when no free run is that long.
 * They may be given back one by one with pmm_free. */
void *pmm_alloc_run(size_t npages);

/* Gives a page from pmm_alloc/pmm_alloc_run back. Panics on an address the
 * allocator never handed out. */
void pmm_free(void *page);

/* Boot time only: removes size bytes aligned to align from the top of the
 * highest region that can hold them, for good. NULL if none can. */
void *pmm_reserve_top(uint64_t size, uint64_t align);

void pmm_get_stats(struct pmm_stats *s);

#endif
