/*
 * quant_avx512.c - AVX-512 (F/BW/VL/DQ + FMA/F16C) kernels, and the
 * vpdpbusd (AVX512_VNNI) versions of the Q4_0/Q8_0 dot products and a
 * vpdpwssd + gf2p8affineqb Q6_K, which quant.c selects when the CPU has
 * them.
 *
 * Matvec kernels compute 4 rows (Q4_0 with VNNI, Q8_0, Q6_K with VNNI: 8)
 * per pass over the activations: the activation blocks are loaded and
 * prepared once and reused by every row, and the rows of the following
 * groups are prefetched (slm__prefetch).
 * Integer products stay in int32 lanes per block; a block's lanes are
 * scaled by its (weight d * activation d) in float and accumulated in
 * vector registers; one horizontal sum per row at the end (Q8_0 and Q6_K:
 * the rows of a group reduced together, 4 at a time).
 */
/* GCC's immintrin.h includes libc's <stdlib.h> through mm_malloc.h, even
 * freestanding; the engine uses no _mm_malloc, so skip that header. */
#define _MM_MALLOC_H_INCLUDED
#include <immintrin.h>

#include "quant_impl.h"

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define T512V                                                                                      \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi,gfni,fma,f16c")))
#define INL static inline __attribute__((always_inline))

/* ---- helpers ------------------------------------------------------------ */

INL T512 __m128i ld128(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

INL T512 __m256i ld256(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

INL T512 __m512i ld512(const uint8_t *p)
{
    return _mm512_loadu_si512(p);
}

INL T512 float f16c(const uint8_t *p)
{
    return _cvtsh_ss(slm_rd16(p));
}

INL T512 float hsum128(__m128 v)
{
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    v = _mm_add_ss(v, _mm_movehdup_ps(v));
    return _mm_cvtss_f32(v);
}

INL T512 float hsum256(__m256 v)
{
    return hsum128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}

/* vpermt2w indexes gathering the f16 scales of 8 blocks (words 0-7) from
 * two 64-byte loads; >= 32 selects from the second. */
static const uint16_t gather18[32] = {0, 9, 18, 27, 32 + 4, 32 + 13, 32 + 22, 32 + 31};
static const uint16_t gather34[2][32] = {{0, 17, 32 + 2, 32 + 19}, {4, 21, 32 + 6, 32 + 23}};

/* Eight f16 scales of consecutive blocks, block k's at p + 18k (Q4_0):
 * bytes 0..127 hold all of them. */
INL T512 __m256 f16x8_stride18(const uint8_t *p)
{
    __m512i g =
        _mm512_permutex2var_epi16(ld512(p), ld512((const uint8_t *)gather18), ld512(p + 64));
    return _mm256_cvtph_ps(_mm512_castsi512_si128(g));
}

/* Eight f16 scales of consecutive blocks, block k's at p + 34k (Q8_0):
 * 4 in bytes 0..127, 4 in 128..255. */
INL T512 __m256 f16x8_stride34(const uint8_t *p)
{
    __m512i g0 =
        _mm512_permutex2var_epi16(ld512(p), ld512((const uint8_t *)gather34[0]), ld512(p + 64));
    __m512i g1 = _mm512_permutex2var_epi16(ld512(p + 128), ld512((const uint8_t *)gather34[1]),
                                           ld512(p + 192));
    __m128i g = _mm_unpacklo_epi64(_mm512_castsi512_si128(g0), _mm512_castsi512_si128(g1));
    return _mm256_cvtph_ps(g);
}

/* Bytes [off, off + 16) of four consecutive blocks of `size` bytes, one per
 * 128-bit lane. */
INL T512 __m512i lanes4(const uint8_t *p, int size, int off)
{
    __m512i v = _mm512_castsi128_si512(ld128(p + off));
    v = _mm512_inserti32x4(v, ld128(p + size + off), 1);
    v = _mm512_inserti32x4(v, ld128(p + 2 * size + off), 2);
    return _mm512_inserti32x4(v, ld128(p + 3 * size + off), 3);
}

/* 32 bytes at p and 32 at q in one register. */
INL T512 __m512i join256(const uint8_t *p, const uint8_t *q)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(ld256(p)), ld256(q), 1);
}

/* Per 128-bit lane k of a 4-block register: the float scale of block
 * 4h + k, taken from d (lanes 0-7 = blocks 0-7). */
INL T512 __m512 bcast_quad(__m512 d, int h)
{
    const __m512i idx = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(_mm512_add_epi32(idx, _mm512_set1_epi32(4 * h)), d);
}

/* Per 256-bit half k of a 2-block register: the float scale of block
 * 2j + k. */
INL T512 __m512 bcast_pair(__m512 d, int j)
{
    const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(_mm512_add_epi32(idx, _mm512_set1_epi32(2 * j)), d);
}

/* The int32 lane sums of four vectors: lane r = sum of r's 16 lanes. */
INL T512 __m128i hsum4_epi32(const __m512i *v)
{
    /* per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3], then [a, b, c, d] */
    __m512i ab =
        _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
    __m512i cd =
        _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
    __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(t), _mm512_extracti64x4_epi64(t, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* The same for float lanes. */
INL T512 __m128 hsum4_ps(const __m512 *v)
{
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(v[0], v[1]), _mm512_unpackhi_ps(v[0], v[1]));
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(v[2], v[3]), _mm512_unpackhi_ps(v[2], v[3]));
    __m512 t = _mm512_add_ps(
        _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(ab), _mm512_castps_pd(cd))),
        _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(ab), _mm512_castps_pd(cd))));
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(t), _mm512_extractf32x8_ps(t, 1));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* s[r] = the lane sum of acc[r] for the R (1, 4 or 8) rows of a group:
 * 4 rows at a time through hsum4_ps. */
INL T512 void store_sums(float *s, const __m512 *acc, const int R)
{
    if (R == 1)
        s[0] = _mm512_reduce_add_ps(acc[0]);
#pragma GCC unroll 8
    for (int g = 0; g < R / 4; g++)
        _mm_storeu_ps(s + 4 * g, hsum4_ps(acc + 4 * g));
}

/* ---- F32 / F16 / BF16 ---------------------------------------------------- */

enum { K_F32, K_F16, K_BF16 };

/* 16 elements of a float-format row as floats; m selects the valid ones. */
INL T512 __m512 ld_row(int kind, const uint8_t *p, __mmask16 m)
{
    if (kind == K_F32)
        return _mm512_maskz_loadu_ps(m, p);
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    if (kind == K_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

INL T512 __m512 ld_row_full(int kind, const uint8_t *p)
{
    if (kind == K_F32)
        return _mm512_loadu_ps(p);
    if (kind == K_F16)
        return _mm512_cvtph_ps(ld256(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(ld256(p)), 16));
}

INL T512 void fl_rows(int kind, int n, const uint8_t *w, size_t rb, const uint8_t *xb, float *s,
                      const int R)
{
    const float *x = (const float *)xb;
    const size_t es = kind == K_F32 ? 4 : 2;
    __m512 acc[4][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + r * rb + (size_t)i * es;
            if (R >= 4)
                slm__prefetch(p, R * rb, (int)(32 * es));
            acc[r][0] = _mm512_fmadd_ps(ld_row_full(kind, p), x0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ld_row_full(kind, p + 16 * es), x1, acc[r][1]);
        }
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 x0 = _mm512_maskz_loadu_ps(m, x + i);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            acc[r][0] =
                _mm512_fmadd_ps(ld_row(kind, w + r * rb + (size_t)i * es, m), x0, acc[r][0]);
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]));
}

INL T512 void f32_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    fl_rows(K_F32, n, w, rb, x, s, R);
}
INL T512 void f16_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    fl_rows(K_F16, n, w, rb, x, s, R);
}
INL T512 void bf16_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    fl_rows(K_BF16, n, w, rb, x, s, R);
}
SLM__DEFINE_MATVEC(T512, f32, f32_rows)
SLM__DEFINE_MATVEC(T512, f16, f16_rows)
SLM__DEFINE_MATVEC(T512, bf16, bf16_rows)

T512 static void f16_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(dst + i, m, ld_row(K_F16, p + 2 * i, m));
    }
}

T512 static void bf16_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(dst + i, m, ld_row(K_BF16, p + 2 * i, m));
    }
}

T512 void slm__f16_from_float_avx512(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_mask_storeu_epi16(p + 2 * i, m, h);
    }
}

/* Round to nearest even on the bit pattern; NaN stays a quiet NaN (as
 * slm_f32_to_bf16). */
T512 static void bf16_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    const __m512i absmask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512i u = _mm512_castps_si512(_mm512_maskz_loadu_ps(m, src + i));
        __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, absmask), inf);
        __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
        __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)));
        r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x400000));
        _mm256_mask_storeu_epi16(p + 2 * i, m, _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
    }
}

/* ---- activation quantizers (Q8_0, Q8_K) -------------------------------- */

/* Bit-identical to slm__q8_0_from_float_ref: same max, same division, the
 * same multiply, and cvtps2dq rounds to nearest even like nearest_int. */
T512 static void q8_0_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++, src += 32, b += SLM__Q8_0_SIZE) {
        __m512 v0 = _mm512_loadu_ps(src), v1 = _mm512_loadu_ps(src + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t h = slm_f32_to_f16(d);
        memcpy(b, &h, 2);
        __m512 vid = _mm512_set1_ps(id);
        __m128i q0 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, vid)));
        __m128i q1 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v1, vid)));
        _mm_storeu_si128((__m128i *)(b + 2), q0);
        _mm_storeu_si128((__m128i *)(b + 18), q1);
    }
}

/* The first element of largest magnitude (amax > 0), as the scalar scan
 * finds it. */
INL T512 float q8_k_signed_max(const float *x, float amax)
{
    const __m512 va = _mm512_set1_ps(amax);
    for (int k = 0; k < 16; k++) {
        __mmask16 e =
            _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * k)), va, _CMP_EQ_OQ);
        if (e)
            return x[16 * k + __builtin_ctz(e)];
    }
    return 0.0f; /* not reached for finite input */
}

/* Bit-identical to slm__q8_k_from_float_ref. */
T512 static void q8_k_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++, src += 256, b += SLM__Q8_K_SIZE) {
        __m512 m = _mm512_setzero_ps();
        for (int k = 0; k < 16; k++)
            m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(src + 16 * k)));
        float amax = _mm512_reduce_max_ps(m);
        float iscale = amax != 0.0f ? -127.0f / q8_k_signed_max(src, amax) : 0.0f;
        float d = amax != 0.0f ? 1.0f / iscale : 0.0f;
        memcpy(b, &d, 4);
        __m512 vs = _mm512_set1_ps(iscale);
        int32_t bs[16];
        for (int k = 0; k < 16; k++) {
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(src + 16 * k), vs));
            q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
            _mm_storeu_si128((__m128i *)(b + SLM__Q8_K_QS + 16 * k), _mm512_cvtsepi32_epi8(q));
            bs[k] = _mm512_reduce_add_epi32(q);
        }
        __m256i sums = _mm512_cvtepi32_epi16(_mm512_loadu_si512(bs));
        _mm256_storeu_si256((__m256i *)(b + SLM__Q8_K_BSUMS), sums);
    }
}

/* ---- to_float of the 32-blocks ------------------------------------------ */

T512 static void q8_0_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += SLM__Q8_0_SIZE, dst += 32) {
        __m512 d = _mm512_set1_ps(f16c(b));
        __m512 v0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(ld128(b + 2)));
        __m512 v1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(ld128(b + 18)));
        _mm512_storeu_ps(dst, _mm512_mul_ps(v0, d));
        _mm512_storeu_ps(dst + 16, _mm512_mul_ps(v1, d));
    }
}

T512 static void q4_0_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    const __m128i m4 = _mm_set1_epi8(0x0f), c8 = _mm_set1_epi8(8);
    for (int64_t i = 0; i < n / 32; i++, b += SLM__Q4_0_SIZE, dst += 32) {
        __m512 d = _mm512_set1_ps(f16c(b));
        __m128i q = ld128(b + 2);
        __m128i lo = _mm_sub_epi8(_mm_and_si128(q, m4), c8);
        __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), m4), c8);
        _mm512_storeu_ps(dst, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo)), d));
        _mm512_storeu_ps(dst + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi)), d));
    }
}

/* ---- Q4_0 x Q8_0 ---------------------------------------------------------
 *
 * The weights' nibbles q in [0, 15] are the unsigned operand as they are;
 * sum (q - 8) y = sum q y - 8 sum y, and -8 sum y (per int32 lane) depends
 * on the activations only, so it is computed once and shared by the rows.
 * A register holds 4 blocks: 128-bit lane k = block k's 16 bytes of qs,
 * whose low nibbles meet y[0:16] and high nibbles y[16:32]. 8 blocks per
 * step, so 8 f16 scales of a row convert with one vcvtph2ps.
 */

/* With VNNI, 8 rows per pass: the per-row work is small enough that the
 * activation preparation is worth sharing by more rows (+10% in cache). */
#define Q4_0_GROUP 8

struct q4_0_act {
    __m512i lo[2], hi[2], corr[2];
    __m512 d;
};

/* VNNI: u8 x s8 products summed per int32 lane in one instruction. */
INL T512V __m512i dot_u8s8_vnni(__m512i acc, __m512i u, __m512i s)
{
    return _mm512_dpbusd_epi32(acc, u, s);
}

INL T512V void q4_0_act8_vnni(const uint8_t *xb, struct q4_0_act *a)
{
    const __m512i c8 = _mm512_set1_epi8(8), z = _mm512_setzero_si512();
    a->d = _mm512_zextps256_ps512(f16x8_stride34(xb));
#pragma GCC unroll 4
    for (int h = 0; h < 2; h++) {
        const uint8_t *p = xb + 4 * h * SLM__Q8_0_SIZE;
        a->lo[h] = lanes4(p, SLM__Q8_0_SIZE, 2);
        a->hi[h] = lanes4(p, SLM__Q8_0_SIZE, 18);
        __m512i ysum8 = dot_u8s8_vnni(dot_u8s8_vnni(z, c8, a->lo[h]), c8, a->hi[h]);
        a->corr[h] = _mm512_sub_epi32(z, ysum8);
    }
}

/* One block (tail), 128-bit: returns the int32 lanes of sum (q - 8) y. */
INL T512V __m128i q4_0_block_vnni(const uint8_t *wb, __m128i ylo, __m128i yhi, __m128i corr)
{
    const __m128i m4 = _mm_set1_epi8(0x0f);
    __m128i q = ld128(wb + 2);
    __m128i i32 = _mm_dpbusd_epi32(corr, _mm_and_si128(q, m4), ylo);
    return _mm_dpbusd_epi32(i32, _mm_and_si128(_mm_srli_epi16(q, 4), m4), yhi);
}

/* vpermt2b indexes: 128-bit lane k <- qs of block k (bytes 18k+2..18k+17)
 * of a 4-block span read as two 64-byte registers, for the span at the
 * start of an 8-block step (qs4_a) and the one 72 bytes on (qs4_b: bytes
 * 72+18k+2-64 of the second and third registers). */
static const uint8_t qs4_a[64] = {
#define Q(k) 18 * k + 2, 18 * k + 3, 18 * k + 4, 18 * k + 5, 18 * k + 6, 18 * k + 7, 18 * k + 8,     \
             18 * k + 9, 18 * k + 10, 18 * k + 11, 18 * k + 12, 18 * k + 13, 18 * k + 14,          \
             18 * k + 15, 18 * k + 16, 18 * k + 17
    Q(0), Q(1), Q(2), Q(3)
#undef Q
};
static const uint8_t qs4_b[64] = {
#define Q(k) 18 * k + 10, 18 * k + 11, 18 * k + 12, 18 * k + 13, 18 * k + 14, 18 * k + 15,          \
             18 * k + 16, 18 * k + 17, 18 * k + 18, 18 * k + 19, 18 * k + 20, 18 * k + 21,         \
             18 * k + 22, 18 * k + 23, 18 * k + 24, 18 * k + 25
    Q(0), Q(1), Q(2), Q(3)
#undef Q
};

/* gf2p8affineqb matrix taking each byte to its high nibble (b >> 4): row
 * i (byte 7 - i of the qword) selects source bit i + 4 for i < 4. */
#define GF_HI_NIBBLE 0x1020408000000000ull

INL T512V void q4_0_rows_vnni(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s,
                              const int R)
{
    const int nb = n / 32;
    const __m512i m4 = _mm512_set1_epi8(0x0f), gfhi = _mm512_set1_epi64((long long)GF_HI_NIBBLE);
    const __m512i ia = ld512(qs4_a), ib = ld512(qs4_b), ig = ld512((const uint8_t *)gather18);
    __m512 acc[8];
    __m128 tacc[8];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        acc[r] = _mm512_setzero_ps();
        tacc[r] = _mm_setzero_ps();
    }
    int b = 0;
    for (; b + 8 <= nb; b += 8) {
        struct q4_0_act a;
        q4_0_act8_vnni(x + (size_t)b * SLM__Q8_0_SIZE, &a);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q4_0_SIZE;
            if (R >= 4)
                slm__prefetch(wb, R * rb, 8 * SLM__Q4_0_SIZE);
            /* the step's 144 bytes: [0,64) [64,128) and [128,144) */
            __m512i v0 = ld512(wb), v1 = ld512(wb + 64);
            __m512i v2 = _mm512_castsi128_si512(ld128(wb + 128));
            __m512 dw = _mm512_zextps256_ps512(
                _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(v0, ig, v1))));
            __m512 d = _mm512_mul_ps(dw, a.d);
            __m512i q[2] = {_mm512_permutex2var_epi8(v0, ia, v1),
                            _mm512_permutex2var_epi8(v1, ib, v2)};
#pragma GCC unroll 4
            for (int h = 0; h < 2; h++) {
                __m512i lo = _mm512_and_si512(q[h], m4);
                __m512i hi = _mm512_gf2p8affine_epi64_epi8(q[h], gfhi, 0);
                __m512i i32 = _mm512_dpbusd_epi32(a.corr[h], lo, a.lo[h]);
                i32 = _mm512_dpbusd_epi32(i32, hi, a.hi[h]);
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i32), bcast_quad(d, h), acc[r]);
            }
        }
    }
    for (; b < nb; b++) {
        const uint8_t *xb = x + (size_t)b * SLM__Q8_0_SIZE;
        __m128i ylo = ld128(xb + 2), yhi = ld128(xb + 18), c8 = _mm_set1_epi8(8);
        __m128i corr = _mm_sub_epi32(
            _mm_setzero_si128(),
            _mm_dpbusd_epi32(_mm_dpbusd_epi32(_mm_setzero_si128(), c8, ylo), c8, yhi));
        float dy = f16c(xb);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q4_0_SIZE;
            __m128i i32 = q4_0_block_vnni(wb, ylo, yhi, corr);
            tacc[r] = _mm_fmadd_ps(_mm_cvtepi32_ps(i32), _mm_set1_ps(f16c(wb) * dy), tacc[r]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        s[r] = _mm512_reduce_add_ps(acc[r]) + hsum128(tacc[r]);
}
SLM__DEFINE_MATVEC_G(T512V, q4_0_vnni, q4_0_rows_vnni, Q4_0_GROUP)

/* Without VNNI: pmaddubsw gives int16 pair sums (15 * 127 * 4 fits), the
 * 8 sum y correction is subtracted in int16, pmaddwd widens. */
INL T512 void q4_0_act8_bw(const uint8_t *xb, struct q4_0_act *a)
{
    const __m512i c8 = _mm512_set1_epi8(8);
    a->d = _mm512_zextps256_ps512(f16x8_stride34(xb));
#pragma GCC unroll 4
    for (int h = 0; h < 2; h++) {
        const uint8_t *p = xb + 4 * h * SLM__Q8_0_SIZE;
        a->lo[h] = lanes4(p, SLM__Q8_0_SIZE, 2);
        a->hi[h] = lanes4(p, SLM__Q8_0_SIZE, 18);
        a->corr[h] = _mm512_add_epi16(_mm512_maddubs_epi16(c8, a->lo[h]),
                                      _mm512_maddubs_epi16(c8, a->hi[h]));
    }
}

INL T512 __m128i q4_0_block_bw(const uint8_t *wb, __m128i ylo, __m128i yhi, __m128i corr)
{
    const __m128i m4 = _mm_set1_epi8(0x0f);
    __m128i q = ld128(wb + 2);
    __m128i p = _mm_add_epi16(_mm_maddubs_epi16(_mm_and_si128(q, m4), ylo),
                              _mm_maddubs_epi16(_mm_and_si128(_mm_srli_epi16(q, 4), m4), yhi));
    return _mm_madd_epi16(_mm_sub_epi16(p, corr), _mm_set1_epi16(1));
}

INL T512 void q4_0_rows_bw(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s,
                           const int R)
{
    const int nb = n / 32;
    const __m512i m4 = _mm512_set1_epi8(0x0f), ones = _mm512_set1_epi16(1);
    __m512 acc[4];
    __m128 tacc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        acc[r] = _mm512_setzero_ps();
        tacc[r] = _mm_setzero_ps();
    }
    int b = 0;
    for (; b + 8 <= nb; b += 8) {
        struct q4_0_act a;
        q4_0_act8_bw(x + (size_t)b * SLM__Q8_0_SIZE, &a);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q4_0_SIZE;
            if (R >= 4)
                slm__prefetch(wb, R * rb, 8 * SLM__Q4_0_SIZE);
            __m512 d = _mm512_mul_ps(_mm512_zextps256_ps512(f16x8_stride18(wb)), a.d);
#pragma GCC unroll 4
            for (int h = 0; h < 2; h++) {
                __m512i q = lanes4(wb + 4 * h * SLM__Q4_0_SIZE, SLM__Q4_0_SIZE, 2);
                __m512i lo = _mm512_and_si512(q, m4);
                __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
                __m512i p = _mm512_add_epi16(_mm512_maddubs_epi16(lo, a.lo[h]),
                                             _mm512_maddubs_epi16(hi, a.hi[h]));
                __m512i i32 = _mm512_madd_epi16(_mm512_sub_epi16(p, a.corr[h]), ones);
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i32), bcast_quad(d, h), acc[r]);
            }
        }
    }
    for (; b < nb; b++) {
        const uint8_t *xb = x + (size_t)b * SLM__Q8_0_SIZE;
        __m128i ylo = ld128(xb + 2), yhi = ld128(xb + 18), c8 = _mm_set1_epi8(8);
        __m128i corr = _mm_add_epi16(_mm_maddubs_epi16(c8, ylo), _mm_maddubs_epi16(c8, yhi));
        float dy = f16c(xb);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q4_0_SIZE;
            __m128i i32 = q4_0_block_bw(wb, ylo, yhi, corr);
            tacc[r] = _mm_fmadd_ps(_mm_cvtepi32_ps(i32), _mm_set1_ps(f16c(wb) * dy), tacc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = _mm512_reduce_add_ps(acc[r]) + hsum128(tacc[r]);
}
SLM__DEFINE_MATVEC(T512, q4_0_bw, q4_0_rows_bw)

/* ---- Q8_0 x Q8_0 ---------------------------------------------------------
 *
 * VNNI: vpdpbusd wants one unsigned operand. w ^ 0x80 = w + 128 is
 * unsigned, and sum (w + 128) y - 128 sum y = sum w y; the correction is
 * the activations' own, shared by the rows. A register holds 2 blocks.
 *
 * 8 rows per pass (both variants): the activation registers are shared by
 * more rows, and the 8 accumulators end in two transposed horizontal sums
 * (hsum4_ps) instead of 8 reductions, which counts for short rows; the
 * n/32 % 8 tail blocks go to the low half of the same accumulators. 8 rows
 * measured +2-6% (VNNI) and +4% (pmaddubsw) over 4 in cache; 32000x256
 * +6%.
 */

#define Q8_0_GROUP 8

INL T512V void q8_0_rows_vnni(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s,
                              const int R)
{
    const int nb = n / 32;
    const __m512i c80 = _mm512_set1_epi8((char)0x80), z = _mm512_setzero_si512();
    __m512 acc[Q8_0_GROUP];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        acc[r] = _mm512_setzero_ps();
    int b = 0;
    for (; b + 8 <= nb; b += 8) {
        const uint8_t *xb = x + (size_t)b * SLM__Q8_0_SIZE;
        __m512 dy = _mm512_zextps256_ps512(f16x8_stride34(xb));
        __m512i y[4], corr[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const uint8_t *p = xb + 2 * j * SLM__Q8_0_SIZE + 2;
            y[j] = join256(p, p + SLM__Q8_0_SIZE);
            corr[j] = _mm512_sub_epi32(z, _mm512_dpbusd_epi32(z, c80, y[j]));
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q8_0_SIZE;
            if (R >= 4)
                slm__prefetch(wb, R * rb, 8 * SLM__Q8_0_SIZE);
            __m512 d = _mm512_mul_ps(_mm512_zextps256_ps512(f16x8_stride34(wb)), dy);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const uint8_t *p = wb + 2 * j * SLM__Q8_0_SIZE + 2;
                __m512i q = _mm512_xor_si512(join256(p, p + SLM__Q8_0_SIZE), c80);
                __m512i i32 = _mm512_dpbusd_epi32(corr[j], q, y[j]);
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i32), bcast_pair(d, j), acc[r]);
            }
        }
    }
    /* the last n/32 % 8 blocks: 256-bit, into the low half of acc */
    for (; b < nb; b++) {
        const uint8_t *xb = x + (size_t)b * SLM__Q8_0_SIZE;
        const __m256i c80y = _mm256_set1_epi8((char)0x80);
        __m256i y = ld256(xb + 2);
        __m256i corr = _mm256_sub_epi32(_mm256_setzero_si256(),
                                        _mm256_dpbusd_epi32(_mm256_setzero_si256(), c80y, y));
        float dy = f16c(xb);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q8_0_SIZE;
            __m256i i32 = _mm256_dpbusd_epi32(corr, _mm256_xor_si256(ld256(wb + 2), c80y), y);
            acc[r] = _mm512_fmadd_ps(_mm512_zextps256_ps512(_mm256_cvtepi32_ps(i32)),
                                     _mm512_set1_ps(f16c(wb) * dy), acc[r]);
        }
    }
    store_sums(s, acc, R);
}
SLM__DEFINE_MATVEC_G(T512V, q8_0_vnni, q8_0_rows_vnni, Q8_0_GROUP)

/* Without VNNI: the sign trick, |w| * (y with w's sign) through pmaddubsw
 * (|w| <= 128, |y| <= 127: pair sums fit int16), robust to w = -128. */
INL T512 __m512i q8_dot_bw(__m512i wq, __m512i y)
{
    __mmask64 neg = _mm512_movepi8_mask(wq);
    __m512i sy = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
    __m512i p = _mm512_maddubs_epi16(_mm512_abs_epi8(wq), sy);
    return _mm512_madd_epi16(p, _mm512_set1_epi16(1));
}

INL T512 void q8_0_rows_bw(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s,
                           const int R)
{
    const int nb = n / 32;
    __m512 acc[Q8_0_GROUP];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        acc[r] = _mm512_setzero_ps();
    int b = 0;
    for (; b + 8 <= nb; b += 8) {
        const uint8_t *xb = x + (size_t)b * SLM__Q8_0_SIZE;
        __m512 dy = _mm512_zextps256_ps512(f16x8_stride34(xb));
        __m512i y[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const uint8_t *p = xb + 2 * j * SLM__Q8_0_SIZE + 2;
            y[j] = join256(p, p + SLM__Q8_0_SIZE);
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q8_0_SIZE;
            if (R >= 4)
                slm__prefetch(wb, R * rb, 8 * SLM__Q8_0_SIZE);
            __m512 d = _mm512_mul_ps(_mm512_zextps256_ps512(f16x8_stride34(wb)), dy);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const uint8_t *p = wb + 2 * j * SLM__Q8_0_SIZE + 2;
                __m512i i32 = q8_dot_bw(join256(p, p + SLM__Q8_0_SIZE), y[j]);
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i32), bcast_pair(d, j), acc[r]);
            }
        }
    }
    /* the last n/32 % 8 blocks: 256-bit, into the low half of acc */
    for (; b < nb; b++) {
        const uint8_t *xb = x + (size_t)b * SLM__Q8_0_SIZE;
        __m256i y = ld256(xb + 2);
        float dy = f16c(xb);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q8_0_SIZE;
            __m256i wq = ld256(wb + 2);
            __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(y, wq));
            __m256i i32 = _mm256_madd_epi16(p, _mm256_set1_epi16(1));
            acc[r] = _mm512_fmadd_ps(_mm512_zextps256_ps512(_mm256_cvtepi32_ps(i32)),
                                     _mm512_set1_ps(f16c(wb) * dy), acc[r]);
        }
    }
    store_sums(s, acc, R);
}
SLM__DEFINE_MATVEC_G(T512, q8_0_bw, q8_0_rows_bw, Q8_0_GROUP)

/* ---- Q4_K x Q8_K ---------------------------------------------------------
 *
 * A block's 128 bytes of qs are two registers; in each, the low nibbles of
 * bytes [0:32) are sub-block 2k, of [32:64) sub-block 2k+2, the high
 * nibbles 2k+1 and 2k+3. The activations are arranged to match, once per
 * block for all rows. pmaddubsw gives int16 pair sums (15 * 127 * 2 fits),
 * pmaddwd multiplies them by the 6-bit sub-block scales into int32. The
 * mins meet the Q8_K bsums (sums of 16 activations) in a second, small
 * accumulator with its own scale, dmin.
 */

struct q4_k_act {
    __m512i y[4]; /* matches lo(W0), hi(W0), lo(W1), hi(W1) */
    __m256i bsums;
    float d;
};

INL T512 void q4_k_act(const uint8_t *yb, struct q4_k_act *a)
{
    const uint8_t *q8 = yb + SLM__Q8_K_QS;
#pragma GCC unroll 4
    for (int k = 0; k < 2; k++) {
        a->y[2 * k] = join256(q8 + 128 * k, q8 + 128 * k + 64);
        a->y[2 * k + 1] = join256(q8 + 128 * k + 32, q8 + 128 * k + 96);
    }
    a->bsums = ld256(yb + SLM__Q8_K_BSUMS);
    a->d = slm__rdf32(yb);
}

/* int16 scale vectors for the 4 registers: words [0:16) sub-block a,
 * [16:32) sub-block a + 2, from the 8 scale bytes broadcast in sc8. */
INL T512 __m512i q4_k_scale(__m512i sc8, int first)
{
    __m512i lo = _mm512_set1_epi16((short)(0x8000 | first));
    __m256i hi = _mm256_set1_epi16((short)(0x8000 | (first + 2)));
    return _mm512_shuffle_epi8(sc8, _mm512_inserti64x4(lo, hi, 1));
}

/* One row's block: *isum += int32 lanes of sum_j sc_j dot_j; returns the
 * 8 lanes of sum_j m_j (bsum_2j + bsum_2j+1). */
INL T512 __m512i q4_k_block(const uint8_t *xb, const struct q4_k_act *a, __m256i *mins_out)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    uint64_t sc, m;
    slm__q4_k_scales(xb + SLM__Q4_K_SCALES, &sc, &m);
    __m512i sc8 = _mm512_set1_epi64((long long)sc);
    __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int k = 0; k < 2; k++) {
        __m512i q = ld512(xb + SLM__Q4_K_QS + 64 * k);
        __m512i lo = _mm512_and_si512(q, m4);
        __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
        __m512i plo = _mm512_maddubs_epi16(lo, a->y[2 * k]);
        __m512i phi = _mm512_maddubs_epi16(hi, a->y[2 * k + 1]);
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(plo, q4_k_scale(sc8, 4 * k)));
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(phi, q4_k_scale(sc8, 4 * k + 1)));
    }
    /* words [m0 m0 m1 m1 ... m7 m7] against the 16 bsums */
    const __m256i dup =
        _mm256_set_epi8(-128, 7, -128, 7, -128, 6, -128, 6, -128, 5, -128, 5, -128, 4, -128, 4,
                        -128, 3, -128, 3, -128, 2, -128, 2, -128, 1, -128, 1, -128, 0, -128, 0);
    __m256i m16 = _mm256_shuffle_epi8(_mm256_set1_epi64x((long long)m), dup);
    *mins_out = _mm256_madd_epi16(m16, a->bsums);
    return isum;
}

INL T512 void q4_k_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    __m512 acc[4];
    __m256 accm[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        acc[r] = _mm512_setzero_ps();
        accm[r] = _mm256_setzero_ps();
    }
    for (int b = 0; b < n / 256; b++) {
        struct q4_k_act a;
        q4_k_act(x + (size_t)b * SLM__Q8_K_SIZE, &a);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *xb = w + r * rb + (size_t)b * SLM__Q4_K_SIZE;
            if (R >= 4)
                slm__prefetch(xb, R * rb, SLM__Q4_K_SIZE);
            __m256i mins;
            __m512i isum = q4_k_block(xb, &a, &mins);
            __m128 dd =
                _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)slm_rd32(xb))), _mm_set1_ps(a.d));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_broadcastss_ps(dd), acc[r]);
            accm[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins),
                                      _mm256_broadcastss_ps(_mm_movehdup_ps(dd)), accm[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = _mm512_reduce_add_ps(acc[r]) - hsum256(accm[r]);
}
SLM__DEFINE_MATVEC(T512, q4_k, q4_k_rows)

/* ---- Q6_K x Q8_K ---------------------------------------------------------
 *
 * Codes c in [0, 63] (6 bits: ql nibble | 2 qh bits << 4) are the unsigned
 * operand; sum (c - 32) y = sum c y - 32 sum y, and the Q8_K bsums are
 * exactly the per-sub-block (16) sums of y, so the -32 correction is one
 * pmaddwd of the scales against the bsums per block. Per 128 elements: ql
 * [0:64) low nibbles are elements [0:64), high nibbles [64:128); qh bits
 * 0-1/2-3 go with elements [0:32)/[32:64), bits 4-5/6-7 with [64:128).
 *
 * pmaddubsw gives int16 pair sums (63 * 127 * 2 fits), pmaddwd (VNNI:
 * vpdpwssd, which also adds) multiplies them by the int8 sub-block scales
 * into int32: a block's integer sum is exact in int32 (|sum| < 2^29), as
 * the scalar kernel's sumi. The rows of a group keep their block sums in
 * int32 vectors that are summed horizontally together (hsum4_epi32), so 4
 * rows convert and scale one __m128 per block, against the 4 rows' d
 * gathered in one vcvtph2ps: the per-row work outside the integer dot
 * products is small, which matters for short rows (n = 256: one block, the
 * 32000-row classifier of a small model). Groups of 8 rows with VNNI (two
 * such quadruples per block step; +4% over 4 in cache), 4 without.
 */

/* vpermw indexes spreading 16 int16 scales: register k gets sub-blocks
 * 4k..4k+3, 8 words each. */
static const uint16_t q6_spread[4][32] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
     2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5,
     6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
    {8,  8,  8,  8,  8,  8,  8,  8,  9,  9,  9,  9,  9,  9,  9,  9,
     10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
    {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13,
     14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15},
};

INL T512 __m512i q6_k_scale(__m256i sc16, int k)
{
    return _mm512_permutexvar_epi16(ld512((const uint8_t *)q6_spread[k]),
                                    _mm512_castsi256_si512(sc16));
}

/* The f16 d of four rows' blocks, rb apart, as floats. */
INL T512 __m128 q6_k_d4(const uint8_t *p, size_t rb)
{
    uint64_t u = slm_rd16(p) | (uint64_t)slm_rd16(p + rb) << 16 |
                 (uint64_t)slm_rd16(p + 2 * rb) << 32 | (uint64_t)slm_rd16(p + 3 * rb) << 48;
    return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)u));
}

/* One row's block: int32 lanes summing to sum_j sc_j sum_i (c_i - 32) y_i. */
INL T512 __m512i q6_k_block(const uint8_t *xb, const __m512i *y, __m256i negbs)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
    const __m512i sh_a = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i sh_b = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    __m256i sc16 = _mm256_cvtepi8_epi16(ld128(xb + SLM__Q6_K_SC));
    /* -32 sum_j sc_j bsum_j, as (32 sc_j) * (-bsum_j): both fit int16 */
    __m512i isum = _mm512_zextsi256_si512(_mm256_madd_epi16(_mm256_slli_epi16(sc16, 5), negbs));
#pragma GCC unroll 4
    for (int h = 0; h < 2; h++) {
        __m512i ql = ld512(xb + 64 * h);
        __m512i qh = _mm512_broadcast_i64x4(ld256(xb + SLM__Q6_K_QH + 32 * h));
        __m512i ha = _mm512_and_si512(_mm512_sllv_epi16(qh, sh_a), m30);
        __m512i hb = _mm512_and_si512(_mm512_srlv_epi16(qh, sh_b), m30);
        /* 0xE4: c ? a : b with c = 0x0f -> low nibble of a, bits 4-5 of b */
        __m512i ca = _mm512_ternarylogic_epi32(ql, ha, m4, 0xE4);
        __m512i cb = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), hb, m4, 0xE4);
        __m512i pa = _mm512_maddubs_epi16(ca, y[2 * h]);
        __m512i pb = _mm512_maddubs_epi16(cb, y[2 * h + 1]);
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(pa, q6_k_scale(sc16, 2 * h)));
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(pb, q6_k_scale(sc16, 2 * h + 1)));
    }
    return isum;
}

/* gf2p8affineqb matrices moving a qh bit pair to bits 4-5 and clearing the
 * rest (row i = byte 7 - i of the qword selects the source bits of bit i):
 * per 256-bit half, as the two halves of a register want. ca: bits 0-1
 * (elements [0:32)) | bits 2-3 ([32:64)); cb: bits 4-5 | bits 6-7. */
#define GF_Q6_01 0x01020000ull
#define GF_Q6_23 0x04080000ull
#define GF_Q6_45 0x10200000ull
#define GF_Q6_67 0x40800000ull

/* With VNNI and GFNI: one gf2p8affineqb per register for the qh bits, and
 * vpdpwssd for the scale multiply-add. */
INL T512V __m512i q6_k_block_vnni(const uint8_t *xb, const __m512i *y, __m256i negbs)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i ga = _mm512_inserti64x4(_mm512_set1_epi64((long long)GF_Q6_01),
                                          _mm256_set1_epi64x((long long)GF_Q6_23), 1);
    const __m512i gb = _mm512_inserti64x4(_mm512_set1_epi64((long long)GF_Q6_45),
                                          _mm256_set1_epi64x((long long)GF_Q6_67), 1);
    __m256i sc16 = _mm256_cvtepi8_epi16(ld128(xb + SLM__Q6_K_SC));
    __m512i isum = _mm512_zextsi256_si512(_mm256_madd_epi16(_mm256_slli_epi16(sc16, 5), negbs));
#pragma GCC unroll 4
    for (int h = 0; h < 2; h++) {
        __m512i ql = ld512(xb + 64 * h);
        __m512i qh = _mm512_broadcast_i64x4(ld256(xb + SLM__Q6_K_QH + 32 * h));
        __m512i ca =
            _mm512_ternarylogic_epi32(ql, _mm512_gf2p8affine_epi64_epi8(qh, ga, 0), m4, 0xE4);
        __m512i cb = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4),
                                               _mm512_gf2p8affine_epi64_epi8(qh, gb, 0), m4, 0xE4);
        isum =
            _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(ca, y[2 * h]), q6_k_scale(sc16, 2 * h));
        isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(cb, y[2 * h + 1]),
                                   q6_k_scale(sc16, 2 * h + 1));
    }
    return isum;
}

/* R rows (1, or a multiple of 4), one block step at a time: the block's
 * activations are loaded once, each group of 4 rows ends in one __m128 of
 * block sums scaled by the 4 rows' d * dy. */
#define Q6_K_ROWS(attr, name, block, G)                                                            \
    INL attr void name(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s,             \
                       const int R)                                                                \
    {                                                                                              \
        const size_t group = (size_t)R * rb;                                                       \
        __m128 acc[(G) / 4];                                                                       \
        float acc1 = 0.0f;                                                                         \
        _Pragma("GCC unroll 8") for (int g = 0; g < R / 4; g++) acc[g] = _mm_setzero_ps();         \
        for (int b = 0; b < n / 256; b++) {                                                        \
            const uint8_t *yb = x + (size_t)b * SLM__Q8_K_SIZE;                                    \
            __m512i y[4];                                                                          \
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++) y[k] =                             \
                ld512(yb + SLM__Q8_K_QS + 64 * k);                                                 \
            __m256i negbs = _mm256_sub_epi16(_mm256_setzero_si256(), ld256(yb + SLM__Q8_K_BSUMS)); \
            float dy = slm__rdf32(yb);                                                             \
            const uint8_t *wb = w + (size_t)b * SLM__Q6_K_SIZE;                                    \
            if (R == 1) {                                                                          \
                __m512i isum = block(wb, y, negbs);                                                \
                acc1 += (float)_mm512_reduce_add_epi32(isum) * (f16c(wb + SLM__Q6_K_D) * dy);      \
                continue;                                                                          \
            }                                                                                      \
            _Pragma("GCC unroll 8") for (int g = 0; g < R / 4; g++)                                \
            {                                                                                      \
                __m512i isum[4];                                                                   \
                _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++)                                \
                {                                                                                  \
                    const uint8_t *xb = wb + (size_t)(4 * g + r) * rb;                             \
                    slm__prefetch(xb, group, SLM__Q6_K_SIZE);                                  \
                    isum[r] = block(xb, y, negbs);                                                 \
                }                                                                                  \
                __m128 d =                                                                         \
                    _mm_mul_ps(q6_k_d4(wb + 4 * g * rb + SLM__Q6_K_D, rb), _mm_set1_ps(dy));       \
                acc[g] = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_epi32(isum)), d, acc[g]);              \
            }                                                                                      \
        }                                                                                          \
        if (R == 1)                                                                                \
            s[0] = acc1;                                                                           \
        _Pragma("GCC unroll 8") for (int g = 0; g < R / 4; g++) _mm_storeu_ps(s + 4 * g, acc[g]);  \
    }

Q6_K_ROWS(T512, q6_k_rows, q6_k_block, 4)
Q6_K_ROWS(T512V, q6_k_rows_vnni, q6_k_block_vnni, 8)
SLM__DEFINE_MATVEC(T512, q6_k, q6_k_rows)
SLM__DEFINE_MATVEC_G(T512V, q6_k_vnni, q6_k_rows_vnni, 8)

/* ---- tables ------------------------------------------------------------- */

/* The K-quants' to_float stays scalar: it is not on a per-token path. */
#define FLOAT_OPS                                                                                  \
    {SLM_Q_F32, SLM_Q_F32, slm__f32_to_float, slm__f32_copy, f32_vec_dot, f32_matvec, NULL},             \
        {SLM_Q_F16, SLM_Q_F32, f16_to_float, slm__f16_from_float_avx512, f16_vec_dot,              \
         f16_matvec, NULL},                                                                              \
    {                                                                                              \
        SLM_Q_BF16, SLM_Q_F32, bf16_to_float, bf16_from_float, bf16_vec_dot, bf16_matvec, NULL           \
    }

static const struct slm_qops ops_bw[] = {
    FLOAT_OPS,
    {SLM_Q_Q8_0, SLM_Q_Q8_0, q8_0_to_float, q8_0_from_float, q8_0_bw_vec_dot, q8_0_bw_matvec, NULL},
    {SLM_Q_Q4_0, SLM_Q_Q8_0, q4_0_to_float, slm__q4_0_from_float, q4_0_bw_vec_dot, q4_0_bw_matvec, NULL},
    {SLM_Q_Q4_K, SLM_Q_Q8_K, slm__q4_k_to_float, slm__q4_k_from_float, q4_k_vec_dot, q4_k_matvec, NULL},
    {SLM_Q_Q6_K, SLM_Q_Q8_K, slm__q6_k_to_float, slm__q6_k_from_float, q6_k_vec_dot, q6_k_matvec, NULL},
    {SLM_Q_Q8_K, SLM_Q_Q8_K, slm__q8_k_to_float, q8_k_from_float, NULL, NULL, NULL},
};

static const struct slm_qops ops_vnni[] = {
    FLOAT_OPS,
    {SLM_Q_Q8_0, SLM_Q_Q8_0, q8_0_to_float, q8_0_from_float, q8_0_vnni_vec_dot, q8_0_vnni_matvec,
     slm__q8_0_matmat_vnni},
    {SLM_Q_Q4_0, SLM_Q_Q8_0, q4_0_to_float, slm__q4_0_from_float, q4_0_vnni_vec_dot,
     q4_0_vnni_matvec, slm__q4_0_matmat_vnni},
    {SLM_Q_Q4_K, SLM_Q_Q8_K, slm__q4_k_to_float, slm__q4_k_from_float, q4_k_vec_dot, q4_k_matvec, NULL},
    {SLM_Q_Q6_K, SLM_Q_Q8_K, slm__q6_k_to_float, slm__q6_k_from_float, q6_k_vnni_vec_dot,
     q6_k_vnni_matvec, NULL},
    {SLM_Q_Q8_K, SLM_Q_Q8_K, slm__q8_k_to_float, q8_k_from_float, NULL, NULL, NULL},
};

const struct slm_qops *slm__qops_avx512(uint32_t type, bool vnni)
{
    const struct slm_qops *ops = vnni ? ops_vnni : ops_bw;
    for (size_t i = 0; i < SLM_ARRAY_SIZE(ops_bw); i++)
        if (ops[i].type == type)
            return &ops[i];
    return NULL;
}
