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

#endif
