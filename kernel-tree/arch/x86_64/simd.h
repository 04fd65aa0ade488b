/*
 * simd.h - SSE/AVX state for ring 3.
 */
#ifndef AUTON_ARCH_SIMD_H
#define AUTON_ARCH_SIMD_H

#include <stdint.h>

/* Enables SSE, and AVX/AVX-512 where the CPU has them, for ring-3 code.
 * Returns the XCR0 value set (0 when the CPU has no XSAVE: SSE only). */
uint64_t simd_init(void);

/* "SSE", "SSE AVX", "SSE AVX AVX-512": what simd_init enabled. */
const char *simd_describe(uint64_t xcr0);

#endif
