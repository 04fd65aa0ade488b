/*
 * simd.c - turning on SIMD state for the ring-3 SLM task.
 *
 * Ring 0 never executes a SIMD instruction (built -mgeneral-regs-only and
 * checked by scripts/check-nosimd.sh), so the one ring-3 task owns the
 * registers outright and no FPU context switching exists. XCR0 gets x87+SSE,
 * plus AVX when CPUID offers it, plus the AVX-512 state (0xe0) only when
 * both the feature and the XSAVE components are reported - TCG's `-cpu max`
 * #GPs on XCR0 = 0xe7, KVM with a host CPU accepts it.
 */
#include "arch/x86_64/simd.h"

#include <stdbool.h>

#include "arch/x86_64/cpu.h"

#define CPUID1_ECX_XSAVE (1u << 26)
#define CPUID1_ECX_AVX (1u << 28)
#define CPUID7_EBX_AVX512F (1u << 16)
#define XCR0_X87 0x1
#define XCR0_SSE 0x2
#define XCR0_AVX 0x4
#define XCR0_AVX512 0xe0 /* opmask, ZMM_Hi256, Hi16_ZMM */

static uint64_t choose_xcr0(uint32_t cpuid1_ecx)
{
    uint64_t supported = cpuid(0xd, 0).eax;
    uint64_t xcr0 = XCR0_X87 | XCR0_SSE;
    if ((cpuid1_ecx & CPUID1_ECX_AVX) && (supported & XCR0_AVX))
        xcr0 |= XCR0_AVX;
    bool avx512 = cpuid(0, 0).eax >= 7 && (cpuid(7, 0).ebx & CPUID7_EBX_AVX512F);
    if ((xcr0 & XCR0_AVX) && avx512 && (supported & XCR0_AVX512) == XCR0_AVX512)
        xcr0 |= XCR0_AVX512;
    return xcr0;
}

uint64_t simd_init(void)
{
    write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
    uint32_t ecx = cpuid(1, 0).ecx;
    if (!(ecx & CPUID1_ECX_XSAVE))
        return 0;
    write_cr4(read_cr4() | CR4_OSXSAVE);
    uint64_t xcr0 = choose_xcr0(ecx);
    xsetbv(0, xcr0);
    return xcr0;
}

const char *simd_describe(uint64_t xcr0)
{
    if (xcr0 & XCR0_AVX512)
        return "SSE AVX AVX-512";
    if (xcr0 & XCR0_AVX)
        return "SSE AVX";
    return "SSE";
}
