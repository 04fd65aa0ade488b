/*
 * quant_impl.h - what the quant*.c files share, private to them (and to
 * tests/unit/test_quant.c, which reaches the non-VNNI AVX-512 table).
 *
 * Blocks are read as bytes at fixed offsets (never through a struct
 * pointer): a GGUF buffer is 32-byte aligned at best and 18/34/210-byte
 * blocks are not aligned at all.
 */
#ifndef AUTON_SLM_QUANT_IMPL_H
#define AUTON_SLM_QUANT_IMPL_H

#include "fp16.h"
#include "quant.h"

/* Block sizes in bytes and field offsets (ggml's layouts). */
enum {
    SLM__Q8_0_SIZE = 34,  /* f16 d @0, int8 qs[32] @2 */
    SLM__Q4_0_SIZE = 18,  /* f16 d @0, uint8 qs[16] @2 */
    SLM__Q4_K_SIZE = 144, /* f16 d @0, f16 dmin @2, scales[12] @4, qs[128] @16 */
    SLM__Q4_K_SCALES = 4,
    SLM__Q4_K_QS = 16,
    SLM__Q6_K_SIZE = 210, /* ql[128] @0, qh[64] @128, int8 scales[16] @192, f16 d @208 */
    SLM__Q6_K_QH = 128,
    SLM__Q6_K_SC = 192,
    SLM__Q6_K_D = 208,
    SLM__Q8_K_SIZE = 292, /* f32 d @0, int8 qs[256] @4, int16 bsums[16] @260 */
    SLM__Q8_K_QS = 4,
    SLM__Q8_K_BSUMS = 260,
};

/* Round to nearest, ties to even (ggml's nearest_int): adding 1.5 * 2^23
 * leaves the integer in the low mantissa bits. The SIMD variants use
 * cvtps2dq, which rounds the same way, so activations quantize bit for bit
 * alike everywhere. Valid for |f| < 2^22. */
static inline int slm__nearest_int(float f)
{
    uint32_t u = slm_f32_bits(f + 12582912.0f);
    return (int)(u & 0x007fffff) - 0x00400000;
}

static inline float slm__f16(const uint8_t *p)
{
    return slm_f16_to_f32(slm_rd16(p));
}

static inline float slm__rdf32(const uint8_t *p)
{
    return slm_bits_f32(slm_rd32(p));
}

/* Q4_K's 12 packed bytes -> eight 6-bit scales (bytes of *sc, sub-block j
 * in byte j) and eight 6-bit mins (*m); ggml's get_scale_min_k4, all
 * eight at once. */
static inline void slm__q4_k_scales(const uint8_t *q, uint64_t *sc, uint64_t *m)
{
    uint32_t u0 = slm_rd32(q), u1 = slm_rd32(q + 4), u2 = slm_rd32(q + 8);
    uint32_t s_lo = u0 & 0x3f3f3f3f;
    uint32_t s_hi = (u2 & 0x0f0f0f0f) | (((u0 >> 6) & 0x03030303) << 4);
    uint32_t m_lo = u1 & 0x3f3f3f3f;
    uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0f) | (((u1 >> 6) & 0x03030303) << 4);
    *sc = s_lo | (uint64_t)s_hi << 32;
    *m = m_lo | (uint64_t)m_hi << 32;
}

/* Scalar kernels the SIMD tables reuse: the weight quantizers (run once, by
 * the forge), the K-quants' to_float (not on a per-token path) and the
 * references the activation quantizers must match bit for bit. */
void slm__q4_0_from_float(const float *src, void *dst, int64_t n);
void slm__q4_k_from_float(const float *src, void *dst, int64_t n);
void slm__q6_k_from_float(const float *src, void *dst, int64_t n);
void slm__q8_0_from_float_ref(const float *src, void *dst, int64_t n);
void slm__q8_k_from_float_ref(const float *src, void *dst, int64_t n);
void slm__f32_copy(const float *src, void *dst, int64_t n);
void slm__f32_to_float(const void *src, float *dst, int64_t n);
void slm__q8_k_to_float(const void *src, float *dst, int64_t n);
void slm__q4_k_to_float(const void *src, float *dst, int64_t n);
void slm__q6_k_to_float(const void *src, float *dst, int64_t n);

/* The F16 quantizers of the AVX2 and AVX-512 tables, which their vops'
 * f32_to_f16 (the KV cache writes) also use. */
void slm__f16_from_float_avx2(const float *src, void *dst, int64_t n);
void slm__f16_from_float_avx512(const float *src, void *dst, int64_t n);

/* Per-variant tables: NULL for a type the engine cannot compute with. */
const struct slm_qops *slm__qops_scalar(uint32_t type);
const struct slm_qops *slm__qops_sse2(uint32_t type);
const struct slm_qops *slm__qops_avx2(uint32_t type);
/* vnni: the AVX-512 table whose Q4_0/Q8_0 kernels use vpdpbusd (Q4_0 also
 * vpermt2b and gf2p8affineqb) and whose Q6_K uses vpdpwssd and
 * gf2p8affineqb; only for a CPU with SLM_CPU_AVX512_VNNI (quant.c
 * decides, the tests may ask for either). */
const struct slm_qops *slm__qops_avx512(uint32_t type, bool vnni);

/* The portable forms of the vops (vops.c): attention through the table's
 * own dot/axpy, and the scalar references of the others. */
void slm__attn_head_generic(const struct slm_vops *vo, int hd, int n, size_t stride,
                            const uint16_t *k, const uint16_t *v, const float *q, float scale,
                            float *att, float *out);
void slm__silu_mul_ref(int n, float *g, const float *u);
uint32_t slm__argmax_ref(int n, const float *x);

/* The exp of the vector kernels, shared by vops_avx2.c and vops_avx512.c:
 * km_expf's range reduction (x = k ln2 + r, |r| <= ln2/2, ln2 in two parts)
 * and its degree-7 Taylor polynomial; they round k to nearest even where
 * km_expf rounds halves away from zero, which moves r by ln2 at exact ties
 * only - both results are within 2 ulp of e^x. */
#define SLM__EXP_HI 88.72283f   /* above: +inf */
#define SLM__EXP_LO -103.97208f /* below: 0 */
#define SLM__LOG2E 1.44269504f
#define SLM__LN2_HI 0.693145752f
#define SLM__LN2_LO 1.42860677e-06f

extern const struct slm_vops slm__vops_scalar;
extern const struct slm_vops slm__vops_sse2;
extern const struct slm_vops slm__vops_avx2;
extern const struct slm_vops slm__vops_avx512;

/* The AVX-512 VNNI matmat (quant_mm_avx512.c) unpacks a tile of
 * SLM__MM_ROWS weight rows into scratch: per 32-element block, 32 rows x
 * 32 bytes in vpdpbusd order then their 32 scales as floats. After the
 * tile come, per activation vector and block, its scale (float) and an
 * int32 correction. slm_matmat_scratch_bytes is their sum. */
#define SLM__MM_ROWS 32
#define SLM__MM_BLK_BYTES (SLM__MM_ROWS * 32 + SLM__MM_ROWS * 4)
#define SLM__MM_AUX_BYTES 8

/* matmat's arguments done as nb matvecs: the rows a matmat leaves past
 * its last whole tile, and the tiles of slm_matmat's fallback. */
void slm__matvec_each(const struct slm_qops *ops, int n, int rows, int nb, float *y, size_t ldy,
                      const void *W, size_t row_bytes, const void *xq, size_t xq_stride);

void slm__q4_0_matmat_vnni(int n, int rows, int nb, float *y, size_t ldy, const void *W,
                           size_t row_bytes, const void *xq, size_t xq_stride, void *scratch);
void slm__q8_0_matmat_vnni(int n, int rows, int nb, float *y, size_t ldy, const void *W,
                           size_t row_bytes, const void *xq, size_t xq_stride, void *scratch);
/* The AVX2 matmat (quant_mm_avx2.c): vpmaddubsw + vpaddw for vpdpbusd,
 * its own tile layouts within the same scratch (SLM__MM_BLK_BYTES per
 * block, SLM__MM_AUX_BYTES per vector and block). */
void slm__q4_0_matmat_avx2(int n, int rows, int nb, float *y, size_t ldy, const void *W,
                           size_t row_bytes, const void *xq, size_t xq_stride, void *scratch);
void slm__q8_0_matmat_avx2(int n, int rows, int nb, float *y, size_t ldy, const void *W,
                           size_t row_bytes, const void *xq, size_t xq_stride, void *scratch);

/* Matvec kernels stream rows in groups of R (4 or 8); a row is a few KiB,
 * too short for the hardware prefetcher to ramp up on R interleaved
 * streams, so the kernels prefetch the same columns of the next group into
 * L1 and of the group after into L2 (`group` = R * row_bytes): measured
 * 48% -> 85-100% of DRAM read bandwidth. Integer arithmetic: past the last
 * row the address may lie outside the matrix, which a prefetch tolerates. */
static inline __attribute__((always_inline)) void slm__prefetch(const uint8_t *p, size_t group,
                                                                 const int bytes)
{
    uintptr_t near = (uintptr_t)p + group, far = (uintptr_t)p + 2 * group;
    /* bytes is a constant at every call: unrolled, no branch per line */
#pragma GCC unroll 8
    for (int off = 0; off < bytes; off += 64) {
        __builtin_prefetch((const void *)(far + (uintptr_t)off), 0, 2);
        __builtin_prefetch((const void *)(near + (uintptr_t)off), 0, 3);
    }
}

/* Builds `name`_vec_dot and `name`_matvec from a multi-row kernel
 * rows(n, W, row_bytes, xq, y, R) that computes R consecutive rows with one
 * pass over xq: R = `group` (4 or 8) for the body of a matrix, then 4, then
 * 1 for the rest. */
#define SLM__DEFINE_MATVEC_G(attr, name, rows, group)                                              \
    attr static void name##_vec_dot(int n, float *s, const void *x, const void *y)                 \
    {                                                                                              \
        rows(n, (const uint8_t *)x, 0, (const uint8_t *)y, s, 1);                                  \
    }                                                                                              \
    attr static void name##_matvec(int n, int nrows, float *y, const void *W, size_t rb,           \
                                   const void *xq)                                                 \
    {                                                                                              \
        const uint8_t *w = W;                                                                      \
        int r = 0;                                                                                 \
        for (; r + (group) <= nrows; r += (group))                                                 \
            rows(n, w + (size_t)r * rb, rb, (const uint8_t *)xq, y + r, (group));                  \
        for (; (group) > 4 && r + 4 <= nrows; r += 4)                                              \
            rows(n, w + (size_t)r * rb, rb, (const uint8_t *)xq, y + r, 4);                        \
        for (; r < nrows; r++)                                                                     \
            rows(n, w + (size_t)r * rb, rb, (const uint8_t *)xq, y + r, 1);                        \
    }
#define SLM__DEFINE_MATVEC(attr, name, rows) SLM__DEFINE_MATVEC_G(attr, name, rows, 4)

#endif
