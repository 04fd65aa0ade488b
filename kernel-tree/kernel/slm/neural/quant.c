/*
 * quant.c - picks the kernel variant: CPU feature detection (CPUID and
 * XGETBV, nothing cached) and the dispatch from (type, isa) to the const
 * tables in quant_scalar.c, quant_sse2.c, quant_avx2.c, quant_avx512.c.
 */
#include "quant_impl.h"

/* CPUID leaf 1 ECX / leaf 7 EBX, ECX bits. */
#define ECX1_FMA (1u << 12)
#define ECX1_OSXSAVE (1u << 27)
#define ECX1_AVX (1u << 28)
#define ECX1_F16C (1u << 29)
#define EBX7_AVX2 (1u << 5)
#define EBX7_AVX512F (1u << 16)
#define EBX7_AVX512DQ (1u << 17)
#define EBX7_AVX512BW (1u << 30)
#define EBX7_AVX512VL (1u << 31)
#define ECX7_AVX512VBMI (1u << 1)
#define ECX7_GFNI (1u << 8)
#define ECX7_AVX512VNNI (1u << 11)
/* XCR0: SSE|AVX state, and opmask|ZMM_Hi256|Hi16_ZMM on top of it. */
#define XCR0_YMM 0x06u
#define XCR0_ZMM 0xe6u

struct cpu_bits {
    uint32_t ecx1, ebx7, ecx7;
    uint64_t xcr0;
};

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

static struct cpu_bits cpu_bits(void)
{
    struct cpu_bits c = {0, 0, 0, 0};
    uint32_t r[4];
    cpuid(0, 0, r);
    uint32_t max_leaf = r[0];
    cpuid(1, 0, r);
    c.ecx1 = r[2];
    if (max_leaf >= 7) {
        cpuid(7, 0, r);
        c.ebx7 = r[1];
        c.ecx7 = r[2];
    }
    /* XGETBV faults unless the OS enabled XSAVE (CR4.OSXSAVE). */
    if (c.ecx1 & ECX1_OSXSAVE) {
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        c.xcr0 = lo | (uint64_t)hi << 32;
    }
    return c;
}

static bool has_avx2(const struct cpu_bits *c)
{
    uint32_t need1 = ECX1_FMA | ECX1_AVX | ECX1_F16C | ECX1_OSXSAVE;
    return (c->ecx1 & need1) == need1 && (c->ebx7 & EBX7_AVX2) && (c->xcr0 & XCR0_YMM) == XCR0_YMM;
}

static bool has_avx512(const struct cpu_bits *c)
{
    uint32_t need7 = EBX7_AVX512F | EBX7_AVX512BW | EBX7_AVX512VL | EBX7_AVX512DQ;
    return has_avx2(c) && (c->ebx7 & need7) == need7 && (c->xcr0 & XCR0_ZMM) == XCR0_ZMM;
}

enum slm_isa slm_cpu_detect(void)
{
    struct cpu_bits c = cpu_bits();
    if (has_avx512(&c))
        return SLM_ISA_AVX512;
    if (has_avx2(&c))
        return SLM_ISA_AVX2;
    return SLM_ISA_SSE2; /* part of x86-64 */
}

static const char *const isa_names[SLM_ISA_COUNT] = {"scalar", "sse2", "avx2", "avx512"};

const char *slm_isa_name(enum slm_isa isa)
{
    if ((unsigned)isa >= SLM_ISA_COUNT)
        return "?";
    return isa_names[isa];
}

int slm_isa_parse(const char *name)
{
    enum slm_isa best = slm_cpu_detect();
    if (!strcmp(name, "auto"))
        return (int)best;
    for (int i = 0; i < SLM_ISA_COUNT; i++)
        if (!strcmp(name, isa_names[i]))
            return SLM_MIN(i, (int)best);
    return -1;
}

uint32_t slm_cpu_features(void)
{
    struct cpu_bits c = cpu_bits();
    uint32_t need7 = ECX7_AVX512VNNI | ECX7_AVX512VBMI | ECX7_GFNI;
    return has_avx512(&c) && (c.ecx7 & need7) == need7 ? SLM_CPU_AVX512_VNNI : 0;
}

const struct slm_qops *slm_qops_select(uint32_t type, enum slm_isa isa, uint32_t features)
{
    switch (isa) {
    case SLM_ISA_SCALAR:
        return slm__qops_scalar(type);
    case SLM_ISA_SSE2:
        return slm__qops_sse2(type);
    case SLM_ISA_AVX2:
        return slm__qops_avx2(type);
    case SLM_ISA_AVX512:
        return slm__qops_avx512(type, features & SLM_CPU_AVX512_VNNI);
    default:
        return NULL;
    }
}

const struct slm_qops *slm_qops_get(uint32_t type, enum slm_isa isa)
{
    return slm_qops_select(type, isa, isa == SLM_ISA_AVX512 ? slm_cpu_features() : 0);
}

size_t slm_matmat_scratch_bytes(uint32_t n, uint32_t nb)
{
    size_t nblk = ((size_t)n + 31) / 32;
    return nblk * SLM__MM_BLK_BYTES + (size_t)nb * nblk * SLM__MM_AUX_BYTES;
}

void slm__matvec_each(const struct slm_qops *ops, int n, int rows, int nb, float *y, size_t ldy,
                      const void *W, size_t row_bytes, const void *xq, size_t xq_stride)
{
    for (int b = 0; b < nb; b++)
        ops->matvec(n, rows, y + (size_t)b * ldy, W, row_bytes,
                    (const uint8_t *)xq + (size_t)b * xq_stride);
}

/* Rows of the fallback's tiles: about 16 KiB of weights (an L1's worth
 * beside the vectors), a multiple of 8 so matvec keeps its row groups. */
static int tile_rows(size_t row_bytes)
{
    size_t r = (16384 / (row_bytes ? row_bytes : 1)) & ~(size_t)7;
    return r < 8 ? 8 : r > 1024 ? 1024 : (int)r;
}

void slm_matmat(const struct slm_qops *ops, int n, int rows, int nb, float *y, size_t ldy,
                const void *W, size_t row_bytes, const void *xq, size_t xq_stride, void *scratch)
{
    if (ops->matmat) {
        ops->matmat(n, rows, nb, y, ldy, W, row_bytes, xq, xq_stride, scratch);
        return;
    }
    int tile = tile_rows(row_bytes);
    for (int r0 = 0; r0 < rows; r0 += tile)
        slm__matvec_each(ops, n, SLM_MIN(tile, rows - r0), nb, y + r0, ldy,
                         (const uint8_t *)W + (size_t)r0 * row_bytes, row_bytes, xq, xq_stride);
}

const struct slm_vops *slm_vops_get(enum slm_isa isa)
{
    switch (isa) {
    case SLM_ISA_SCALAR:
        return &slm__vops_scalar;
    case SLM_ISA_SSE2:
        return &slm__vops_sse2;
    case SLM_ISA_AVX2:
        return &slm__vops_avx2;
    case SLM_ISA_AVX512:
        return &slm__vops_avx512;
    default:
        return NULL;
    }
}
