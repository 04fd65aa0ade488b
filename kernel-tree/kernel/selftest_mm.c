/*
 * selftest_mm.c - selftests of the page allocator and the heap.
 */
#include <stdbool.h>
#include <stdint.h>

#include "kernel/selftest.h"
#include "lib/kfmt.h"
#include "mm/heap.h"
#include "mm/memlayout.h"
#include "mm/pmm.h"

#define PMM_PAGES 8
#define PMM_RUN 4
#define HEAP_BLOCKS 6

static int fail(char *detail, size_t n, const char *what)
{
    kfmt_snprintf(detail, n, "%s", what);
    return 1;
}

static bool page_ok(const void *p)
{
    uint64_t a = (uint64_t)p;
    return p && a % PAGE_SIZE == 0 && a >= (uint64_t)__image_end;
}

int selftest_pmm(char *detail, size_t n)
{
    struct pmm_stats before, after;
    pmm_get_stats(&before);
    uint64_t *pages[PMM_PAGES];
    for (int i = 0; i < PMM_PAGES; i++) {
        pages[i] = pmm_alloc();
        if (!page_ok(pages[i]))
            return fail(detail, n, "pmm_alloc: no page, or a misaligned one");
        *pages[i] = 0x5000 + (uint64_t)i; /* distinct pages keep distinct values */
    }
    for (int i = 0; i < PMM_PAGES; i++)
        if (*pages[i] != 0x5000 + (uint64_t)i)
            return fail(detail, n, "two allocations share a page");
    uint8_t *run = pmm_alloc_run(PMM_RUN);
    if (!page_ok(run))
        return fail(detail, n, "pmm_alloc_run: no run");
    for (int i = 0; i < PMM_RUN; i++)
        pmm_free(run + i * PAGE_SIZE);
    for (int i = 0; i < PMM_PAGES; i++)
        pmm_free(pages[i]);
    void *again = pmm_alloc();
    bool reused = again == pages[PMM_PAGES - 1]; /* freed pages come back first */
    pmm_free(again);
    pmm_get_stats(&after);
    if (!reused || after.free != before.free)
        return fail(detail, n, "freed pages not reused, or free count not restored");
    kfmt_snprintf(detail, n, "%d pages and a %d-page run allocated and freed, %lu MiB free",
                  PMM_PAGES, PMM_RUN, after.free >> 20);
    return 0;
}

int selftest_heap(char *detail, size_t n)
{
    static const size_t sizes[HEAP_BLOCKS] = {1, 16, 100, 4096, 20000, 1 << 20};
    struct heap_stats before, after;
    heap_get_stats(&before);
    uint8_t *blocks[HEAP_BLOCKS];
    for (int i = 0; i < HEAP_BLOCKS; i++) {
        blocks[i] = kmalloc(sizes[i]);
        if (!blocks[i] || (uint64_t)blocks[i] % 16)
            return fail(detail, n, "kmalloc: no block, or one not 16-byte aligned");
        blocks[i][0] = blocks[i][sizes[i] - 1] = (uint8_t)(0xa0 + i);
    }
    for (int i = 0; i < HEAP_BLOCKS; i++)
        if (blocks[i][0] != 0xa0 + i || blocks[i][sizes[i] - 1] != 0xa0 + i)
            return fail(detail, n, "heap blocks overlap");
    for (int i = 0; i < HEAP_BLOCKS; i += 2) /* free out of order: exercises merging */
        kfree(blocks[i]);
    for (int i = 1; i < HEAP_BLOCKS; i += 2)
        kfree(blocks[i]);
    uint8_t *z = kzalloc(64);
    bool zeroed = z && z[0] == 0 && z[63] == 0;
    kfree(z);
    heap_get_stats(&after);
    if (!zeroed || after.used != before.used)
        return fail(detail, n, "kzalloc not zeroed, or used bytes not restored");
    kfmt_snprintf(detail, n, "%d blocks of 1 B to 1 MiB allocated and freed, heap %zu KiB",
                  HEAP_BLOCKS, after.size >> 10);
    return 0;
}
