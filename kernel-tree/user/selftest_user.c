/*
 * selftest_user.c - ring-3 halves of the `ring3` selftest
 * (kernel/selftest_ring3.c): SIMD arithmetic at the widest width the CPU
 * and XCR0 allow, deliberate faults the kernel must contain, and the
 * service calls.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/errno.h"
#include "user/usvc.h"

#define DOT_MAX 1024

typedef float v4sf __attribute__((vector_size(16)));
typedef float v8sf __attribute__((vector_size(32)));
typedef float v16sf __attribute__((vector_size(64)));

static float dot_a[DOT_MAX] __attribute__((aligned(64)));
static float dot_b[DOT_MAX] __attribute__((aligned(64)));

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

/* 512, 256 or 128: the widest vectors usable here (CPU features and what
 * the kernel enabled in XCR0, read with xgetbv - fine in ring 3). */
static unsigned simd_width(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    bool osxsave = r[2] & (1u << 27), avx = r[2] & (1u << 28), fma = r[2] & (1u << 12);
    if (!osxsave || !avx)
        return 128;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6)
        return 128;
    cpuid(7, 0, r);
    if ((r[1] & (1u << 16)) && (lo & 0xe6) == 0xe6)
        return 512;
    return (r[1] & (1u << 5)) && fma ? 256 : 128;
}

__attribute__((target("avx512f"))) static float dot512(size_t n)
{
    v16sf acc = {0};
    for (size_t i = 0; i < n; i += 16)
        acc += *(const v16sf *)&dot_a[i] * *(const v16sf *)&dot_b[i];
    float s = 0;
    for (int k = 0; k < 16; k++)
        s += acc[k];
    return s;
}

__attribute__((target("avx2,fma"))) static float dot256(size_t n)
{
    v8sf acc = {0};
    for (size_t i = 0; i < n; i += 8)
        acc += *(const v8sf *)&dot_a[i] * *(const v8sf *)&dot_b[i];
    float s = 0;
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

static float dot128(size_t n)
{
    v4sf acc = {0};
    for (size_t i = 0; i < n; i += 4)
        acc += *(const v4sf *)&dot_a[i] * *(const v4sf *)&dot_b[i];
    return acc[0] + acc[1] + acc[2] + acc[3];
}

UENTRY uint64_t ut_simd_width(void)
{
    return simd_width();
}

/* sum(0.5 i * 3.0) for i < n, n a multiple of 16 up to DOT_MAX: exact in
 * float, so the kernel can check it with integers (3 n (n-1) / 4). */
UENTRY uint64_t ut_simd_dot(uint64_t n)
{
    if (n > DOT_MAX || n % 16)
        return UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        dot_a[i] = 0.5f * (float)i;
        dot_b[i] = 3.0f;
    }
    unsigned w = simd_width();
    float s = w == 512 ? dot512(n) : w == 256 ? dot256(n) : dot128(n);
    return (uint64_t)s;
}

UENTRY uint64_t ut_fault_read(uint64_t addr)
{
    return *(volatile const uint64_t *)addr;
}

UENTRY uint64_t ut_fault_ud(void)
{
    __asm__ volatile("ud2");
    return 0;
}

UENTRY uint64_t ut_fault_de(void)
{
    uint64_t lo = 1, hi = 0, zero = 0;
    __asm__ volatile("divq %2" : "+a"(lo), "+d"(hi) : "r"(zero));
    return lo;
}

UENTRY uint64_t ut_fault_gp(void)
{
    __asm__ volatile("hlt"); /* privileged */
    return 0;
}

UENTRY uint64_t ut_spin(void)
{
    for (;;)
        __asm__ volatile("pause");
}

/* Bit 0: the clock advances; bit 1: writing from kernel memory is refused;
 * bit 2: an empty write from user memory succeeds. */
UENTRY uint64_t ut_services(uint64_t kernel_addr)
{
    uint64_t ok = 0;
    uint64_t t0 = usvc_time_ns();
    if (usvc_write((const void *)kernel_addr, 1) == -EFAULT)
        ok |= 2;
    if (usvc_write(dot_a, 0) == 0)
        ok |= 4;
    if (usvc_time_ns() > t0 && t0 > 0)
        ok |= 1;
    return ok;
}
