/*
 * quant.h - tensor formats the engine computes with, and their kernels.
 *
 * Weight types: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K (ggml's block
 * layouts, bit for bit). A matrix-vector product y = W x first converts x to
 * the weight type's `vec_dot_type` (Q8_0 for Q4_0/Q8_0, Q8_K for Q4_K/Q6_K,
 * F32 for the float types) with that type's from_float, then runs matvec.
 * Q8_K is an activation-only format: it has from_float/to_float only.
 *
 * Every kernel exists in four variants - scalar (the reference), SSE2,
 * AVX2+FMA and AVX-512 (F/BW/VL, VNNI where present) - each compiled with a
 * target attribute, so one binary runs everywhere and picks at run time.
 * Variants agree with scalar within the tolerances tests/unit/test_quant.c
 * states. The tables are const: no global mutable state.
 *
 * Block layouts (ggml):
 *   Q8_0 (32):  f16 d; int8 qs[32]                       x = d*q
 *   Q4_0 (32):  f16 d; uint8 qs[16]  lo nibble -> i, hi -> i+16; x = d*(q-8)
 *   Q4_K (256): f16 d, dmin; uint8 scales[12] (8 x 6-bit scale/min); qs[128]
 *   Q6_K (256): uint8 ql[128], qh[64]; int8 scales[16]; f16 d
 *   Q8_K (256): float d; int8 qs[256]; int16 bsums[16]
 */
#ifndef AUTON_SLM_QUANT_H
#define AUTON_SLM_QUANT_H

#include "qtypes.h"

enum slm_isa {
    SLM_ISA_SCALAR = 0,
    SLM_ISA_SSE2 = 1,
    SLM_ISA_AVX2 = 2,   /* AVX2 + FMA + F16C */
    SLM_ISA_AVX512 = 3, /* AVX-512 F + BW + VL (+ VNNI used when present) */
    SLM_ISA_COUNT
};

/* The best variant this CPU and OS support (CPUID, and XGETBV for the OS
 * having enabled the AVX / AVX-512 state). Safe on the host and in ring 3. */
enum slm_isa slm_cpu_detect(void);

/* "scalar", "sse2", "avx2", "avx512". */
const char *slm_isa_name(enum slm_isa isa);

/* Parses "scalar|sse2|avx2|avx512|auto" (auto -> slm_cpu_detect()); -1 if
 * unknown. A requested variant above what the CPU has is clamped down. */
int slm_isa_parse(const char *name);

struct slm_qops {
    uint32_t type;         /* enum slm_qtype */
    uint32_t vec_dot_type; /* format the activations must be in */
    /* n elements (a multiple of the block size) from blocks to floats */
    void (*to_float)(const void *src, float *dst, int64_t n);
    /* n floats (multiple of block size) to blocks; for weights (the forge)
     * and activations (every matvec) */
    void (*from_float)(const float *src, void *dst, int64_t n);
    /* *s = dot(x, y): x is n elements of this type, y n elements of
     * vec_dot_type. NULL for activation-only types. */
    void (*vec_dot)(int n, float *s, const void *x, const void *y);
    /* y[r] = dot(row r of W, xq) for r in [0, rows); row r starts at
     * (const uint8_t *)W + r * row_bytes. NULL where vec_dot is NULL. */
    void (*matvec)(int n, int rows, float *y, const void *W, size_t row_bytes, const void *xq);
    /* The same product for nb activation vectors at once (a prompt): for
     * b in [0, nb), y[b * ldy + r] = dot(row r of W, xq_b), xq_b at
     * (const uint8_t *)xq + b * xq_stride. Each weight block is unpacked
     * once per nb vectors instead of once per vector. scratch: at least
     * slm_matmat_scratch_bytes(n, nb) bytes, 64-byte aligned. NULL in a
     * table without one: slm_matmat then runs matvec over row tiles. */
    void (*matmat)(int n, int rows, int nb, float *y, size_t ldy, const void *W, size_t row_bytes,
                   const void *xq, size_t xq_stride, void *scratch);
};

/* Choices of kernel table beyond the isa: bits of slm_cpu_features. */
/* AVX-512 (as SLM_ISA_AVX512) plus AVX512_VNNI, AVX512_VBMI and GFNI: Ice
 * Lake and later (Cascade Lake's VNNI alone gets the pmaddubsw table). */
#define SLM_CPU_AVX512_VNNI 1u

/* This CPU's SLM_CPU_* bits. Runs CPUID, which under a hypervisor is a VM
 * exit (tens of microseconds): detect once, then slm_qops_select. */
uint32_t slm_cpu_features(void);

/* Kernels of `type` in variant `isa` with the given feature bits, or NULL
 * if the engine cannot compute with that type. No CPUID. */
const struct slm_qops *slm_qops_select(uint32_t type, enum slm_isa isa, uint32_t features);

/* slm_qops_select(type, isa, slm_cpu_features()): for one-off lookups. */
const struct slm_qops *slm_qops_get(uint32_t type, enum slm_isa isa);

/* Most vectors one matmat call takes: the batch of a prompt pass. */
#define SLM_MATMAT_MAX_NB 64

/* Scratch bytes a matmat of n columns and up to nb vectors needs, in any
 * variant (so a pool estimate does not depend on the CPU). */
size_t slm_matmat_scratch_bytes(uint32_t n, uint32_t nb);

/* ops->matmat, or where the table has none, ops->matvec over tiles of rows
 * small enough to stay in cache while the nb vectors pass over them (each
 * row's result then equals matvec's, bit for bit). nb <= SLM_MATMAT_MAX_NB. */
void slm_matmat(const struct slm_qops *ops, int n, int rows, int nb, float *y, size_t ldy,
                const void *W, size_t row_bytes, const void *xq, size_t xq_stride, void *scratch);

/* Float-vector helpers of the forward pass: attention over the f16 KV
 * cache, the SwiGLU gate, the greedy pick. The SIMD variants agree with the
 * scalar ones within the tolerances stated in tests/unit/test_quant.c. */
struct slm_vops {
    float (*dot_f32)(int n, const float *a, const float *b);
    float (*dot_f16_f32)(int n, const uint16_t *a, const float *b);
    void (*axpy_f16_f32)(int n, float a, const uint16_t *x, float *y); /* y += a*x */
    void (*f32_to_f16)(int n, const float *x, uint16_t *y);
    /* One attention head over positions 0..n-1 of an f16 cache whose rows
     * (hd elements) lie `stride` elements apart: out[0..hd) =
     * sum_t softmax_t(scale * q . k_t) v_t. att: n floats of scratch. */
    void (*attn_head)(int hd, int n, size_t stride, const uint16_t *k, const uint16_t *v,
                      const float *q, float scale, float *att, float *out);
    /* g[i] = silu(g[i]) * u[i] = g[i] / (1 + e^-g[i]) * u[i] */
    void (*silu_mul)(int n, float *g, const float *u);
    /* Index of the first maximum of x[0..n), n >= 1; NaNs are skipped, and
     * 0 when x[0] is NaN (as the plain loop `if (x[i] > x[best])`). */
    uint32_t (*argmax)(int n, const float *x);
};

const struct slm_vops *slm_vops_get(enum slm_isa isa);

#endif
