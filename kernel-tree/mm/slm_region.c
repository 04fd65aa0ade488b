/*
 * slm_region.c - reserving the SLM pool's memory (see slm_region.h).
 */
#include "mm/slm_region.h"

#include "kernel/slm/neural/pool.h"
#include "mm/memlayout.h"
#include "mm/paging.h"
#include "mm/pmm.h"

#define MIB (1024 * 1024)
#define POOL_MAX_MB (1ull << 20) /* 1 TiB: keeps the byte count far from overflow */

static struct slm_region_info region;
static const struct slm_pool *attached;

uint64_t slm_region_init(uint64_t pool_mb)
{
    if (pool_mb == 0)
        pool_mb = SLM_POOL_DEFAULT_MB;
    uint64_t size = (pool_mb < POOL_MAX_MB ? pool_mb : POOL_MAX_MB) * MIB;
    region.requested = size;
    for (; size >= HUGE_PAGE_SIZE; size = ALIGN_DOWN(size / 2, HUGE_PAGE_SIZE)) {
        void *base = pmm_reserve_top(size, HUGE_PAGE_SIZE);
        if (base) {
            region.base = (uint64_t)base;
            region.size = size;
            paging_map(region.base, size, MAP_USER | MAP_WRITE);
            break;
        }
    }
    return region.size;
}

void slm_region_attach(const struct slm_pool *pool)
{
    attached = pool;
}

void slm_region_get(struct slm_region_info *info)
{
    *info = region;
    if (attached) {
        info->used = attached->used;
        info->peak = attached->peak;
    }
}
