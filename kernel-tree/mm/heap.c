/*
 * heap.c - kmalloc/kfree: first fit over an address-ordered free list.
 *
 * After K&R's malloc: every block starts with a 16-byte header; free
 * blocks are kept in address order and merged with their neighbours on
 * kfree. The heap grows by runs of pages from the page allocator and never
 * shrinks. Interrupts are off while the lists change (threads preempt).
 */
#include "mm/heap.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "kernel/panic.h"
#include "lib/kstring.h"
#include "mm/memlayout.h"
#include "mm/pmm.h"

#define HEAP_MAGIC 0x6b6d616c6c6f6321ull /* in an allocated block's next field */
#define GROW_MIN_PAGES 16

struct block {
    size_t units;       /* block size in units of sizeof(struct block), header included */
    struct block *next; /* free: next free block by address; allocated: HEAP_MAGIC */
};

static struct block *free_list;
static struct heap_stats stats;

/* Inserts b into the free list and merges it with adjacent free blocks. */
static void insert_free(struct block *b)
{
    struct block *prev = NULL, *cur = free_list;
    while (cur && cur < b) {
        prev = cur;
        cur = cur->next;
    }
    b->next = cur;
    if (cur && b + b->units == cur) {
        b->units += cur->units;
        b->next = cur->next;
    }
    if (prev && prev + prev->units == b) {
        prev->units += b->units;
        prev->next = b->next;
    } else if (prev) {
        prev->next = b;
    } else {
        free_list = b;
    }
}

static bool grow(size_t units)
{
    size_t pages = ALIGN_UP(units * sizeof(struct block), PAGE_SIZE) / PAGE_SIZE;
    if (pages < GROW_MIN_PAGES)
        pages = GROW_MIN_PAGES;
    struct block *b = pmm_alloc_run(pages);
    if (!b)
        return false;
    b->units = pages * PAGE_SIZE / sizeof(struct block);
    stats.size += pages * PAGE_SIZE;
    insert_free(b);
    return true;
}

/* First fit; a larger block gives up its tail. */
static struct block *take(size_t units)
{
    struct block *prev = NULL;
    for (struct block *b = free_list; b; prev = b, b = b->next) {
        if (b->units < units)
            continue;
        if (b->units == units) {
            if (prev)
                prev->next = b->next;
            else
                free_list = b->next;
        } else {
            b->units -= units;
            b += b->units;
            b->units = units;
        }
        return b;
    }
    return NULL;
}

void *kmalloc(size_t n)
{
    if (n == 0 || n > ((size_t)1 << 40))
        return NULL;
    size_t units = (n + sizeof(struct block) - 1) / sizeof(struct block) + 1;
    uint64_t flags = irq_save();
    struct block *b = take(units);
    if (!b && grow(units))
        b = take(units);
    if (b) {
        b->next = (struct block *)HEAP_MAGIC;
        stats.used += units * sizeof(struct block);
        if (stats.used > stats.peak)
            stats.peak = stats.used;
    }
    irq_restore(flags);
    return b ? b + 1 : NULL;
}

void *kzalloc(size_t n)
{
    void *p = kmalloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

void kfree(void *p)
{
    if (!p)
        return;
    struct block *b = (struct block *)p - 1;
    if ((uintptr_t)p % sizeof(struct block) || b->next != (struct block *)HEAP_MAGIC)
        panic("kfree: %p is not an allocated block", p);
    uint64_t flags = irq_save();
    stats.used -= b->units * sizeof(struct block);
    insert_free(b);
    irq_restore(flags);
}

void heap_get_stats(struct heap_stats *s)
{
    uint64_t flags = irq_save();
    *s = stats;
    irq_restore(flags);
}
