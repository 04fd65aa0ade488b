/*
 * slm_port_host.c - the SLM engine's port hooks for host programs.
 */
#include <time.h>

#include "slm_port.h"

uint64_t slm_port_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
