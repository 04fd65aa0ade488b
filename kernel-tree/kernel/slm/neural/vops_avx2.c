/*
 * vops_avx2.c - the AVX2+FMA vector helpers of the forward pass (struct slm_vops
 * in quant.h): f16 KV-cache dot products and updates, f32 -> f16, a
 * whole attention head, the SwiGLU gate and argmax.
 */
#include "quant_avx2.h"

/* ---- vops --------------------------------------------------------------- */

T2 static float v_dot_f32(int n, const float *a, const float *b)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    float t = 0.0f;
    for (; i < n; i++)
        t += a[i] * b[i];
    return hsum256(_mm256_add_ps(s0, s1)) + t;
}

T2 static float v_dot_f16_f32(int n, const uint16_t *a, const float *b)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i)));
        __m256 a1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(a + i + 8)));
        s0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b + i + 8), s1);
    }
    float t = 0.0f;
    for (; i < n; i++)
        t += slm_f16_to_f32(a[i]) * b[i];
    return hsum256(_mm256_add_ps(s0, s1)) + t;
}

T2 static void v_axpy_f16_f32(int n, float a, const uint16_t *x, float *y)
{
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, xv, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++)
        y[i] += a * slm_f16_to_f32(x[i]);
}

T2 static void v_f32_to_f16(int n, const float *x, uint16_t *y)
{
    slm__f16_from_float_avx2(x, y, n);
}

/* e^x, 8 lanes (quant_impl.h: SLM__EXP_*); 2^k in two halves, as
 * km_expf, so subnormal results and k = 128 stay exact. NaN stays NaN,
 * +inf above SLM__EXP_HI, 0 below SLM__EXP_LO. */
INL T2 __m256 exp8(__m256 x)
{
    __m256 xc = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(SLM__EXP_HI)),
                              _mm256_set1_ps(SLM__EXP_LO));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(SLM__LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(SLM__LN2_HI), xc);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(SLM__LN2_LO), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i ki = _mm256_cvtps_epi32(k);
    __m256i k1 = _mm256_srai_epi32(ki, 1), k2 = _mm256_sub_epi32(ki, k1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
    __m256 e = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    e = _mm256_blendv_ps(e, _mm256_set1_ps(KM_INFINITY),
                         _mm256_cmp_ps(x, _mm256_set1_ps(SLM__EXP_HI), _CMP_GT_OQ));
    e = _mm256_blendv_ps(e, _mm256_setzero_ps(),
                         _mm256_cmp_ps(x, _mm256_set1_ps(SLM__EXP_LO), _CMP_LT_OQ));
    return _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* Attention for a head of NV * 8 elements (see vops_avx512.c). */
INL T2 void attn_nv(const int NV, int n, size_t stride, const uint16_t *k, const uint16_t *v,
                    const float *q, float scale, float *att, float *out)
{
    __m256 qv[8], acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) {
        qv[j] = _mm256_mul_ps(_mm256_loadu_ps(q + 8 * j), _mm256_set1_ps(scale));
        acc[j] = _mm256_setzero_ps();
    }
    float max = -KM_INFINITY;
    for (int t = 0; t < n; t++) {
        const uint16_t *kt = k + (size_t)t * stride;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
#pragma GCC unroll 8
        for (int j = 0; j < NV; j += 2) {
            s0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kt + 8 * j))),
                                 qv[j], s0);
            s1 = _mm256_fmadd_ps(
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(kt + 8 * j + 8))), qv[j + 1],
                s1);
        }
        att[t] = hsum256(_mm256_add_ps(s0, s1));
        max = att[t] > max ? att[t] : max;
    }
    __m256 mx = _mm256_set1_ps(max), vsum = _mm256_setzero_ps();
    int t = 0;
    for (; t + 8 <= n; t += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(att + t), mx));
        vsum = _mm256_add_ps(vsum, e);
        _mm256_storeu_ps(att + t, e);
    }
    float sum = hsum256(vsum);
    for (; t < n; t++) {
        att[t] = km_expf(att[t] - max);
        sum += att[t];
    }
    for (t = 0; t < n; t++) {
        const uint16_t *vt = v + (size_t)t * stride;
        __m256 w = _mm256_set1_ps(att[t]);
#pragma GCC unroll 8
        for (int j = 0; j < NV; j++)
            acc[j] = _mm256_fmadd_ps(
                w, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vt + 8 * j))), acc[j]);
    }
    __m256 inv = _mm256_set1_ps(1.0f / sum);
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++)
        _mm256_storeu_ps(out + 8 * j, _mm256_mul_ps(acc[j], inv));
}

T2 static void v_attn_head(int hd, int n, size_t stride, const uint16_t *k, const uint16_t *v,
                           const float *q, float scale, float *att, float *out)
{
    switch (hd) {
    case 32:
        attn_nv(4, n, stride, k, v, q, scale, att, out);
        return;
    case 64:
        attn_nv(8, n, stride, k, v, q, scale, att, out);
        return;
    default:
        slm__attn_head_generic(&slm__vops_avx2, hd, n, stride, k, v, q, scale, att, out);
    }
}

T2 static void v_silu_mul(int n, float *g, const float *u)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(g + i);
        __m256 d = _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x)));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(x, d), _mm256_loadu_ps(u + i)));
    }
    slm__silu_mul_ref(n - i, g + i, u + i);
}

/* As vops_avx512.c's: per lane the first index of its maximum, then the
 * lowest index among the lanes holding the overall maximum. */
T2 static uint32_t v_argmax(int n, const float *x)
{
    if (x[0] != x[0])
        return 0;
    __m256 best = _mm256_set1_ps(-KM_INFINITY);
    __m256i bidx = _mm256_setzero_si256(), idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i step = _mm256_set1_epi32(8);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 gt = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
        best = _mm256_blendv_ps(best, v, gt);
        bidx = _mm256_castps_si256(
            _mm256_blendv_ps(_mm256_castsi256_ps(bidx), _mm256_castsi256_ps(idx), gt));
        idx = _mm256_add_epi32(idx, step);
    }
    float lane[8];
    int32_t li[8];
    _mm256_storeu_ps(lane, best);
    _mm256_storeu_si256((__m256i *)li, bidx);
    float mx = -KM_INFINITY;
    uint32_t at = 0;
    for (int j = 0; j < 8; j++)
        if (lane[j] > mx || (lane[j] == mx && mx != -KM_INFINITY && (uint32_t)li[j] < at)) {
            mx = lane[j];
            at = (uint32_t)li[j];
        }
    for (; i < n; i++)
        if (x[i] > mx) {
            mx = x[i];
            at = (uint32_t)i;
        }
    return at;
}

const struct slm_vops slm__vops_avx2 = {v_dot_f32,    v_dot_f16_f32, v_axpy_f16_f32,
                                        v_f32_to_f16, v_attn_head,   v_silu_mul,
                                        v_argmax};
