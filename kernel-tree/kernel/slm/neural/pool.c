/*
 * pool.c - bump allocation from the SLM pool (see pool.h).
 */
#include "pool.h"

void slm_pool_init(struct slm_pool *p, void *base, size_t size)
{
    uintptr_t b = (uintptr_t)base;
    uintptr_t aligned = (b + (SLM_POOL_ALIGN - 1)) & ~(uintptr_t)(SLM_POOL_ALIGN - 1);
    size_t skip = aligned - b;
    p->base = (uint8_t *)aligned;
    p->size = size > skip ? size - skip : 0;
    p->used = 0;
    p->peak = 0;
}

void *slm_pool_alloc(struct slm_pool *p, size_t n, size_t align)
{
    if (align & (align - 1))
        return NULL;
    if (align < SLM_POOL_ALIGN)
        align = SLM_POOL_ALIGN;
    /* align the address, not the offset: the base is only SLM_POOL_ALIGN-aligned */
    uintptr_t at = (uintptr_t)p->base + p->used;
    size_t start = (size_t)(((at + (align - 1)) & ~(uintptr_t)(align - 1)) - (uintptr_t)p->base);
    size_t len = (n + (SLM_POOL_ALIGN - 1)) & ~(size_t)(SLM_POOL_ALIGN - 1);
    size_t end;
    if (start < p->used || len < n || slm_add_overflow(start, len, &end) || end > p->size)
        return NULL;
    p->used = end;
    if (end > p->peak)
        p->peak = end;
    return p->base + start;
}

void *slm_pool_zalloc(struct slm_pool *p, size_t n, size_t align)
{
    void *m = slm_pool_alloc(p, n, align);
    if (m)
        memset(m, 0, n);
    return m;
}
