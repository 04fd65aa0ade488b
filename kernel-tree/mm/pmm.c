/*
 * pmm.c - physical pages: free ranges plus a free list.
 *
 * At boot the memory map becomes a few [base, end) ranges; allocation takes
 * pages from the front of the first range with room, freed pages go on a
 * list threaded through the pages themselves and are reused first. Setup
 * is O(number of regions), not O(pages): ring 0 is slow under the nested
 * KVM, and touching every page of 512 MiB at boot would cost seconds.
 */
#include "mm/pmm.h"

#include "arch/x86_64/cpu.h"
#include "kernel/panic.h"
#include "mm/memlayout.h"

#define PMM_MAX_RANGES (BOOT_MEM_MAX + 8)

struct range {
    uint64_t base, end; /* page aligned; empty when base == end */
};

struct free_page {
    struct free_page *next;
};

static struct range ranges[PMM_MAX_RANGES];
static unsigned nranges;
static struct free_page *free_list;
static uint64_t pages_total, pages_free, bytes_reserved;

static void add_range(uint64_t base, uint64_t end)
{
    base = ALIGN_UP(base, PAGE_SIZE);
    end = ALIGN_DOWN(end, PAGE_SIZE);
    if (end <= base)
        return;
    if (nranges == PMM_MAX_RANGES)
        panic("pmm: more than %u free ranges", PMM_MAX_RANGES);
    ranges[nranges++] = (struct range){base, end};
}

void pmm_init(const struct bootinfo *bi)
{
    uint64_t floor = (uint64_t)__image_end;
    for (unsigned i = 0; i < bi->nmem; i++) {
        const struct boot_mem_region *r = &bi->mem[i];
        uint64_t end = r->base + r->size;
        if (r->type == BOOT_MEM_RAM && end > floor)
            add_range(r->base > floor ? r->base : floor, end);
    }
    if (nranges == 0)
        panic("pmm_init: no usable RAM above the kernel image");
    for (unsigned i = 0; i < nranges; i++)
        pages_total += (ranges[i].end - ranges[i].base) / PAGE_SIZE;
    pages_free = pages_total;
}

void *pmm_alloc(void)
{
    uint64_t flags = irq_save();
    void *page = NULL;
    if (free_list) {
        page = free_list;
        free_list = free_list->next;
    } else {
        for (unsigned i = 0; i < nranges && !page; i++) {
            if (ranges[i].base < ranges[i].end) {
                page = (void *)ranges[i].base;
                ranges[i].base += PAGE_SIZE;
            }
        }
    }
    if (page)
        pages_free--;
    irq_restore(flags);
    return page;
}

void *pmm_alloc_run(size_t npages)
{
    uint64_t bytes = npages * PAGE_SIZE;
    uint64_t flags = irq_save();
    void *run = NULL;
    for (unsigned i = 0; i < nranges && !run; i++) {
        if (ranges[i].end - ranges[i].base >= bytes) {
            run = (void *)ranges[i].base;
            ranges[i].base += bytes;
            pages_free -= npages;
        }
    }
    irq_restore(flags);
    return run;
}

void pmm_free(void *page)
{
    uint64_t addr = (uint64_t)page;
    if (addr % PAGE_SIZE || addr < (uint64_t)__image_end)
        panic("pmm_free: 0x%lx was never allocated", addr);
    uint64_t flags = irq_save();
    struct free_page *p = page;
    p->next = free_list;
    free_list = p;
    pages_free++;
    irq_restore(flags);
}

void *pmm_reserve_top(uint64_t size, uint64_t align)
{
    size = ALIGN_UP(size, PAGE_SIZE);
    for (unsigned i = nranges; i-- > 0;) {
        struct range *r = &ranges[i];
        if (r->end - r->base < size)
            continue;
        uint64_t start = ALIGN_DOWN(r->end - size, align);
        if (start < r->base)
            continue;
        uint64_t tail_end = r->end;
        r->end = start;
        add_range(start + size, tail_end); /* what alignment left above it */
        pages_total -= size / PAGE_SIZE;
        pages_free -= size / PAGE_SIZE;
        bytes_reserved += size;
        return (void *)start;
    }
    return NULL;
}

void pmm_get_stats(struct pmm_stats *s)
{
    uint64_t flags = irq_save();
    s->total = pages_total * PAGE_SIZE;
    s->free = pages_free * PAGE_SIZE;
    s->reserved = bytes_reserved;
    irq_restore(flags);
}
