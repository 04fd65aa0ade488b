/*
 * slm_port.h - everything the SLM engine needs from the world around it.
 *
 * The engine (this directory) is freestanding C: it includes only
 * <stdint.h>, <stddef.h>, <stdbool.h> and this header. The same sources are
 * compiled for the host (tools, orchestrator, unit tests under ASan/UBSan)
 * and for the kernel's ring-3 SLM task. Memory comes from a caller-given
 * pool (pool.h); there is no global state.
 *
 * The environment provides one hook, slm_port_now_ns() (a monotonic clock);
 * the host's is in src/common/slm_port_host.c, the kernel's in its SLM task.
 */
#ifndef AUTON_SLM_PORT_H
#define AUTON_SLM_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/kfmt.h"
#include "lib/kmath.h"
#include "lib/kstring.h"

/* Monotonic time in nanoseconds, for statistics only. */
uint64_t slm_port_now_ns(void);

#define SLM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SLM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SLM_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Overflow-safe arithmetic: return true on overflow (then *r is garbage). */
#define slm_add_overflow(a, b, r) __builtin_add_overflow(a, b, r)
#define slm_mul_overflow(a, b, r) __builtin_mul_overflow(a, b, r)

/* Unaligned little-endian loads from a byte buffer (x86 and the other
 * targets are little-endian; GGUF is little-endian). */
static inline uint16_t slm_rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline uint32_t slm_rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline uint64_t slm_rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#endif
