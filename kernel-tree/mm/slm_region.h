/*
 * slm_region.h - the physical region reserved for the SLM pool.
 *
 * The kernel only reserves and maps it (user read-write, 2 MiB aligned, not
 * cleared); the SLM runtime manages it with the engine's bump allocator
 * (kernel/slm/neural/pool.h) and attaches its pool so that `mem` can show
 * used/peak figures.
 */
#ifndef AUTON_MM_SLM_REGION_H
#define AUTON_MM_SLM_REGION_H

#include <stddef.h>
#include <stdint.h>

#define SLM_POOL_DEFAULT_MB 256

struct slm_pool;

struct slm_region_info {
    uint64_t base;      /* 0 when nothing could be reserved */
    uint64_t size;      /* bytes */
    uint64_t requested; /* bytes asked for on the command line (or default) */
    size_t used, peak;  /* from the attached pool, 0 before one is attached */
};

/* Reserves pool_mb MiB (SLM_POOL_DEFAULT_MB when 0) from the top of RAM and
 * maps it for ring 3. When that much does not fit, halves the request until
 * it does (info.requested keeps the original). Returns the size in bytes,
 * 0 if not even 2 MiB could be reserved. */
uint64_t slm_region_init(uint64_t pool_mb);

/* Lets `mem` report the pool's used/peak; pool must live as long as the
 * kernel (it is read, never written). */
void slm_region_attach(const struct slm_pool *pool);

void slm_region_get(struct slm_region_info *info);

#endif
