/*
 * kstring.h - the few <string.h> functions freestanding code uses.
 *
 * On the host these are libc's; in the kernel (and its ring-3 SLM task) they
 * come from kstring.c, which is never linked into host programs. The
 * prototypes are the standard ones so both worlds agree.
 */
#ifndef AUTON_LIB_KSTRING_H
#define AUTON_LIB_KSTRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* -ffreestanding implies -fno-builtin: without these, every memcpy(&v, p, 4)
 * that reads an unaligned field (slm_rd16 for each block's f16 scale,
 * rmsnorm's weights) is a call into kstring.c's byte loop, and in the SIMD
 * kernels a call clobbers every vector register (measured: the ring-3 Q6_K
 * and Q4_0 tails called memcpy once per block). The builtins inline small
 * constant sizes and still call the functions below for the rest.
 * kstring.c defines KSTRING_IMPL to define the functions themselves. */
#if !__STDC_HOSTED__ && !defined(KSTRING_IMPL)
#define memcpy(d, s, n) __builtin_memcpy(d, s, n)
#define memmove(d, s, n) __builtin_memmove(d, s, n)
#define memset(d, c, n) __builtin_memset(d, c, n)
#define memcmp(a, b, n) __builtin_memcmp(a, b, n)
#endif

#endif
