/*
 * vops_avx512.c - the AVX-512 vector helpers of the forward pass (struct slm_vops
 * in quant.h): f16 KV-cache dot products and updates, f32 -> f16, a
 * whole attention head, the SwiGLU gate and argmax.
 */
/* GCC's immintrin.h includes libc's <stdlib.h> through mm_malloc.h, even
 * freestanding; the engine uses no _mm_malloc, so skip that header. */
#define _MM_MALLOC_H_INCLUDED
#include <immintrin.h>

#include "quant_impl.h"

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define INL static inline __attribute__((always_inline))

/* ---- vops --------------------------------------------------------------- */

INL T512 __mmask16 tail_mask(int left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

T512 static float v_dot_f32(int n, const float *a, const float *b)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

T512 static float v_dot_f16_f32(int n, const uint16_t *a, const float *b)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i)));
        __m512 a1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(a + i + 16)));
        s0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 a0 = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + i));
        s0 = _mm512_fmadd_ps(a0, _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

T512 static void v_axpy_f16_f32(int n, float a, const uint16_t *x, float *y)
{
    const __m512 va = _mm512_set1_ps(a);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 xv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i));
        __m512 yv = _mm512_fmadd_ps(va, xv, _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, yv);
    }
}

T512 static void v_f32_to_f16(int n, const float *x, uint16_t *y)
{
    slm__f16_from_float_avx512(x, y, n);
}

/* e^x, 16 lanes (quant_impl.h: SLM__EXP_*): vscalefps applies 2^k,
 * subnormal results and k = 128 included. NaN stays NaN, +inf above
 * SLM__EXP_HI, 0 below SLM__EXP_LO. */
INL T512 __m512 exp16(__m512 x)
{
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(SLM__LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(SLM__LN2_HI), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(SLM__LN2_LO), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512 e = _mm512_scalef_ps(p, k);
    e = _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(x, _mm512_set1_ps(SLM__EXP_HI), _CMP_GT_OQ),
                           _mm512_set1_ps(KM_INFINITY));
    e = _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(x, _mm512_set1_ps(SLM__EXP_LO), _CMP_LT_OQ),
                           _mm512_setzero_ps());
    return _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

/* Attention for a head of NV * 16 elements, the query in registers: one
 * pass for the scores, one for the softmax, one for the weighted sum of the
 * value rows (accumulated in registers, normalized once at the end). */
INL T512 void attn_nv(const int NV, int n, size_t stride, const uint16_t *k, const uint16_t *v,
                      const float *q, float scale, float *att, float *out)
{
    __m512 qv[8], acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) {
        qv[j] = _mm512_mul_ps(_mm512_loadu_ps(q + 16 * j), _mm512_set1_ps(scale));
        acc[j] = _mm512_setzero_ps();
    }
    __m512 vmax = _mm512_set1_ps(-KM_INFINITY);
    int t = 0;
    for (; t < n; t++) {
        const uint16_t *kt = k + (size_t)t * stride;
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int j = 0; j < NV; j += 2) {
            s0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kt + 16 * j))),
                                 qv[j], s0);
            if (j + 1 < NV)
                s1 = _mm512_fmadd_ps(
                    _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kt + 16 * j + 16))),
                    qv[j + 1], s1);
        }
        att[t] = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    }
    for (t = 0; t < n; t += 16) {
        __mmask16 m = tail_mask(n - t);
        vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, att + t));
    }
    __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax)), vsum = _mm512_setzero_ps();
    for (t = 0; t < n; t += 16) {
        __mmask16 m = tail_mask(n - t);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, att + t), mx));
        vsum = _mm512_mask_add_ps(vsum, m, vsum, e);
        _mm512_mask_storeu_ps(att + t, m, e);
    }
    for (t = 0; t < n; t++) {
        const uint16_t *vt = v + (size_t)t * stride;
        __m512 w = _mm512_set1_ps(att[t]);
#pragma GCC unroll 8
        for (int j = 0; j < NV; j++)
            acc[j] = _mm512_fmadd_ps(
                w, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(vt + 16 * j))), acc[j]);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++)
        _mm512_storeu_ps(out + 16 * j, _mm512_mul_ps(acc[j], inv));
}

T512 static void v_attn_head(int hd, int n, size_t stride, const uint16_t *k, const uint16_t *v,
                             const float *q, float scale, float *att, float *out)
{
    switch (hd) {
    case 32:
        attn_nv(2, n, stride, k, v, q, scale, att, out);
        return;
    case 64:
        attn_nv(4, n, stride, k, v, q, scale, att, out);
        return;
    case 96:
        attn_nv(6, n, stride, k, v, q, scale, att, out);
        return;
    case 128:
        attn_nv(8, n, stride, k, v, q, scale, att, out);
        return;
    default:
        slm__attn_head_generic(&slm__vops_avx512, hd, n, stride, k, v, q, scale, att, out);
    }
}

T512 static void v_silu_mul(int n, float *g, const float *u)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 x = _mm512_maskz_loadu_ps(m, g + i);
        __m512 d = _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x)));
        __m512 y = _mm512_mul_ps(_mm512_div_ps(x, d), _mm512_maskz_loadu_ps(m, u + i));
        _mm512_mask_storeu_ps(g + i, m, y);
    }
}

/* Per lane the first index of its maximum (strict >, so NaNs never win and
 * earlier indexes keep ties); then the lowest index among the lanes that
 * hold the overall maximum. */
T512 static uint32_t v_argmax(int n, const float *x)
{
    if (x[0] != x[0])
        return 0;
    __m512 best = _mm512_set1_ps(-KM_INFINITY);
    __m512i bidx = _mm512_setzero_si512(), idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                                      10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __mmask16 gt = _mm512_mask_cmp_ps_mask(m, v, best, _CMP_GT_OQ);
        best = _mm512_mask_mov_ps(best, gt, v);
        bidx = _mm512_mask_mov_epi32(bidx, gt, idx);
        idx = _mm512_add_epi32(idx, step);
    }
    float mx = _mm512_reduce_max_ps(best);
    if (mx == -KM_INFINITY) /* all -inf (or NaN) but x[0] */
        return 0;
    __mmask16 at = _mm512_cmp_ps_mask(best, _mm512_set1_ps(mx), _CMP_EQ_OQ);
    return (uint32_t)_mm512_mask_reduce_min_epu32(at, bidx);
}

const struct slm_vops slm__vops_avx512 = {v_dot_f32,    v_dot_f16_f32, v_axpy_f16_f32,
                                          v_f32_to_f16, v_attn_head,   v_silu_mul,
                                          v_argmax};
