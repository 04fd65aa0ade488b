/*
 * heap.h - the kernel heap: kmalloc/kfree for small kernel objects
 * (thread structures and stacks, buffers). Big, long-lived memory (the SLM
 * pool) is reserved directly from the page allocator instead.
 */
#ifndef AUTON_MM_HEAP_H
#define AUTON_MM_HEAP_H

#include <stddef.h>

struct heap_stats {
    size_t size; /* bytes obtained from the page allocator */
    size_t used; /* bytes in allocated blocks, headers included */
    size_t peak; /* high-water mark of used */
};

/* n bytes aligned to 16, not cleared; NULL when memory is exhausted. */
void *kmalloc(size_t n);

/* Same, zero-filled. */
void *kzalloc(size_t n);

/* Frees a kmalloc'd block (NULL is ignored); panics on a pointer kmalloc
 * did not return or a double free. */
void kfree(void *p);

void heap_get_stats(struct heap_stats *s);

#endif
