/*
 * pool.h - the SLM memory pool: a bump allocator over caller-given memory.
 *
 * The kernel reserves one region (256 MB by default) for the SLM runtime;
 * the host passes a malloc'd or mmap'd block. Everything the engine
 * allocates - parser tables, tokenizer index, KV cache, activations - comes
 * from here, so used/peak figures are the true footprint. Weights are never
 * copied into the pool: they are used in place from the model buffer.
 *
 * Memory is never freed one object at a time: a caller takes a mark and
 * resets to it (scratch space), or resets the whole pool.
 */
#ifndef AUTON_SLM_POOL_H
#define AUTON_SLM_POOL_H

#include "slm_port.h"

struct slm_pool {
    uint8_t *base; /* borrowed; the caller owns the memory */
    size_t size;   /* bytes in base */
    size_t used;   /* bytes handed out, including alignment padding */
    size_t peak;   /* high-water mark of used */
};

/* Every allocation is aligned to at least this (one cache line; also what
 * AVX-512 loads like). */
#define SLM_POOL_ALIGN 64

void slm_pool_init(struct slm_pool *p, void *base, size_t size);

/* n bytes aligned to max(align, SLM_POOL_ALIGN) (align a power of two), or
 * NULL when the pool is exhausted. The memory is not cleared. */
void *slm_pool_alloc(struct slm_pool *p, size_t n, size_t align);

/* Same, zero-filled. */
void *slm_pool_zalloc(struct slm_pool *p, size_t n, size_t align);

/* Bytes slm_pool_alloc(p, n, align) would consume from an empty, aligned
 * pool - the unit of memory estimates. */
static inline size_t slm_pool_cost(size_t n)
{
    return (n + (SLM_POOL_ALIGN - 1)) & ~(size_t)(SLM_POOL_ALIGN - 1);
}

static inline size_t slm_pool_mark(const struct slm_pool *p)
{
    return p->used;
}

/* Releases everything allocated since mark. */
static inline void slm_pool_reset(struct slm_pool *p, size_t mark)
{
    if (mark <= p->used)
        p->used = mark;
}

#endif
