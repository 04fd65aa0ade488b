/*
 * cpu.h - x86_64 instructions the kernel needs, as inline functions: port
 * I/O, control registers, MSRs, CPUID, TSC and interrupt-flag control.
 * None of them touches SIMD state: ring 0 never does (see
 * scripts/check-nosimd.sh).
 */
#ifndef AUTON_ARCH_CPU_H
#define AUTON_ARCH_CPU_H

#include <stdint.h>

#define RFLAGS_IF (1ull << 9)

#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_NE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_OSXSAVE (1ull << 18)

#define MSR_APIC_BASE 0x1b
#define MSR_EFER 0xc0000080
#define EFER_NXE (1ull << 11)

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};
static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid"
                     : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                     : "a"(leaf), "c"(subleaf));
    return r;
}

#define DEFINE_CR(n)                                                                               \
    static inline uint64_t read_cr##n(void)                                                        \
    {                                                                                              \
        uint64_t v;                                                                                \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                                          \
        return v;                                                                                  \
    }                                                                                              \
    static inline void write_cr##n(uint64_t v)                                                     \
    {                                                                                              \
        __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");                                 \
    }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

/* Sets an extended control register (XCR0: which SIMD state ring 3 may
 * use). Writing is safe in ring 0 here; reading it back (xgetbv) is not. */
static inline void xsetbv(uint32_t xcr, uint64_t v)
{
    __asm__ volatile("xsetbv" : : "c"(xcr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint64_t read_rflags(void)
{
    uint64_t f;
    __asm__ volatile("pushfq; popq %0" : "=r"(f));
    return f;
}

/* Interrupt-off sections: the kernel's only lock (one CPU). Nest freely:
 * irq_restore puts back what irq_save found. */
static inline uint64_t irq_save(void)
{
    uint64_t f = read_rflags();
    __asm__ volatile("cli" : : : "memory");
    return f;
}
static inline void irq_restore(uint64_t flags)
{
    if (flags & RFLAGS_IF)
        __asm__ volatile("sti" : : : "memory");
}

static inline void irq_enable(void)
{
    __asm__ volatile("sti" : : : "memory");
}

static inline void cpu_relax(void)
{
    __asm__ volatile("pause");
}

/* Halts until the next interrupt, with interrupts enabled; sti's one-
 * instruction shadow makes the pair atomic, so no wakeup is lost. */
static inline void cpu_idle(void)
{
    __asm__ volatile("sti; hlt" : : : "memory");
}

static inline __attribute__((noreturn)) void cpu_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

#endif
