/*
 * quant_sse2.c - SSE2 kernels (the x86-64 baseline: no pshufb, no
 * pmaddubsw, no F16C, no FMA).
 *
 * Codes and activations are widened to int16 and multiplied with pmaddwd
 * into int32 lanes; 4 rows per pass share the widened activations. Half
 * floats convert with integer ops, bit-identical to fp16.h (subnormal
 * halves through an exact int -> float conversion, f32 -> f16 subnormals
 * through the FPU's round-to-nearest-even with a 0.5 bias: both assume the
 * default MXCSR, as every kernel here does).
 */
/* GCC's immintrin.h includes libc's <stdlib.h> through mm_malloc.h, even
 * freestanding; the engine uses no _mm_malloc, so skip that header. */
#define _MM_MALLOC_H_INCLUDED
#include <immintrin.h>

#include "quant_impl.h"

#define TS __attribute__((target("sse2")))
#define INL static inline __attribute__((always_inline))

/* ---- helpers ------------------------------------------------------------ */

INL TS __m128i ld128(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

INL TS __m128i ld64(const uint8_t *p)
{
    return _mm_loadl_epi64((const __m128i *)p);
}

INL TS float hsum128(__m128 v)
{
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    v = _mm_add_ss(v, _mm_shuffle_ps(v, v, 0x55));
    return _mm_cvtss_f32(v);
}

INL TS int hsum_epi32(__m128i v)
{
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
    return _mm_cvtsi128_si32(v);
}

INL TS float hmax128(__m128 m)
{
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 0x55));
    return _mm_cvtss_f32(m);
}

INL TS __m128 abs128(__m128 v)
{
    return _mm_and_ps(v, _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff)));
}

INL TS __m128i sel(__m128i mask, __m128i a, __m128i b) /* mask ? a : b */
{
    return _mm_or_si128(_mm_and_si128(mask, a), _mm_andnot_si128(mask, b));
}

/* int8 -> int16, low and high 8 bytes. */
INL TS __m128i sx_lo(__m128i v)
{
    return _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
}
INL TS __m128i sx_hi(__m128i v)
{
    return _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8);
}

/* 16 signed bytes at p as 2 x 8 int16. */
INL TS void widen16(const uint8_t *p, __m128i out[2])
{
    __m128i v = ld128(p);
    out[0] = sx_lo(v);
    out[1] = sx_hi(v);
}

/* 4 x int32 (values in int16 range) -> low 64 bits as 4 x int16. */
INL TS __m128i pack32_16(__m128i a, __m128i b)
{
    return _mm_packs_epi32(_mm_srai_epi32(_mm_slli_epi32(a, 16), 16),
                           _mm_srai_epi32(_mm_slli_epi32(b, 16), 16));
}

/* ---- half floats ---------------------------------------------------------- */

/* 4 halves (zero-extended in int32 lanes) -> floats, as slm_f16_to_f32. */
INL TS __m128 f16x4_to_f32(__m128i h)
{
    __m128i sign = _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x8000)), 16);
    __m128i em = _mm_and_si128(h, _mm_set1_epi32(0x7fff));
    __m128i norm = _mm_add_epi32(_mm_slli_epi32(em, 13), _mm_set1_epi32(112 << 23));
    __m128i infnan = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7bff));
    norm = _mm_add_epi32(norm, _mm_and_si128(infnan, _mm_set1_epi32(112 << 23)));
    __m128i sub = _mm_castps_si128(
        _mm_mul_ps(_mm_cvtepi32_ps(em), _mm_set1_ps(1.0f / 16777216.0f))); /* exp == 0 */
    __m128i is_sub = _mm_cmplt_epi32(em, _mm_set1_epi32(0x0400));
    return _mm_castsi128_ps(_mm_or_si128(sign, sel(is_sub, sub, norm)));
}

INL TS __m128 ld_f16x4(const uint8_t *p)
{
    return f16x4_to_f32(_mm_unpacklo_epi16(ld64(p), _mm_setzero_si128()));
}

/* 4 floats -> halves in int32 lanes, as slm_f32_to_f16. */
INL TS __m128i f32x4_to_f16(__m128 f)
{
    __m128i u = _mm_castps_si128(f);
    __m128i sign = _mm_and_si128(_mm_srli_epi32(u, 16), _mm_set1_epi32(0x8000));
    __m128i a = _mm_and_si128(u, _mm_set1_epi32(0x7fffffff));
    /* normal: rebias, round to nearest even on the 13 dropped bits */
    __m128i odd = _mm_and_si128(_mm_srli_epi32(a, 13), _mm_set1_epi32(1));
    __m128i norm = _mm_add_epi32(a, _mm_set1_epi32((int)(0xfff - (112u << 23))));
    norm = _mm_srli_epi32(_mm_add_epi32(norm, odd), 13);
    /* subnormal: 0.5 + |f| rounds |f| to a multiple of 2^-24 */
    __m128i sub =
        _mm_sub_epi32(_mm_castps_si128(_mm_add_ps(_mm_castsi128_ps(a), _mm_set1_ps(0.5f))),
                      _mm_set1_epi32(0x3f000000));
    __m128i nan = _mm_or_si128(_mm_set1_epi32(0x7e00),
                               _mm_and_si128(_mm_srli_epi32(a, 13), _mm_set1_epi32(0x3ff)));
    __m128i r = sel(_mm_cmplt_epi32(a, _mm_set1_epi32(113 << 23)), sub, norm);
    r = sel(_mm_cmpgt_epi32(a, _mm_set1_epi32(0x477fffff)), _mm_set1_epi32(0x7c00), r);
    r = sel(_mm_cmpgt_epi32(a, _mm_set1_epi32(0x7f800000)), nan, r);
    return _mm_or_si128(r, sign);
}

INL TS __m128 ld_bf16x4(const uint8_t *p)
{
    return _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), ld64(p)));
}

/* 4 floats -> bfloat16 in int32 lanes, as slm_f32_to_bf16. */
INL TS __m128i f32x4_to_bf16(__m128 f)
{
    __m128i u = _mm_castps_si128(f);
    __m128i nan =
        _mm_cmpgt_epi32(_mm_and_si128(u, _mm_set1_epi32(0x7fffffff)), _mm_set1_epi32(0x7f800000));
    __m128i odd = _mm_and_si128(_mm_srli_epi32(u, 16), _mm_set1_epi32(1));
    __m128i r = _mm_add_epi32(u, _mm_add_epi32(odd, _mm_set1_epi32(0x7fff)));
    r = sel(nan, _mm_or_si128(u, _mm_set1_epi32(0x400000)), r);
    return _mm_srli_epi32(r, 16);
}

/* ---- F32 / F16 / BF16 ---------------------------------------------------- */

enum { K_F32, K_F16, K_BF16 };

INL TS __m128 ld_row(int kind, const uint8_t *p)
{
    if (kind == K_F32)
        return _mm_loadu_ps((const float *)p);
    return kind == K_F16 ? ld_f16x4(p) : ld_bf16x4(p);
}

INL TS float ld_one(int kind, const uint8_t *p)
{
    if (kind == K_F32)
        return slm__rdf32(p);
    return kind == K_F16 ? slm_f16_to_f32(slm_rd16(p)) : slm_bf16_to_f32(slm_rd16(p));
}

INL TS void fl_rows(int kind, int n, const uint8_t *w, size_t rb, const uint8_t *xb, float *s,
                    const int R)
{
    const float *x = (const float *)xb;
    const size_t es = kind == K_F32 ? 4 : 2;
    __m128 acc[4][2];
    float tail[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = _mm_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128 x0 = _mm_loadu_ps(x + i), x1 = _mm_loadu_ps(x + i + 4);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + r * rb + (size_t)i * es;
            if (R >= 4 && (i & 15) == 0)
                slm__prefetch(p, R * rb, (int)(16 * es));
            acc[r][0] = _mm_add_ps(acc[r][0], _mm_mul_ps(ld_row(kind, p), x0));
            acc[r][1] = _mm_add_ps(acc[r][1], _mm_mul_ps(ld_row(kind, p + 4 * es), x1));
        }
    }
    for (; i < n; i++) {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            tail[r] += ld_one(kind, w + r * rb + (size_t)i * es) * x[i];
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = hsum128(_mm_add_ps(acc[r][0], acc[r][1])) + tail[r];
}

INL TS void f32_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    fl_rows(K_F32, n, w, rb, x, s, R);
}
INL TS void f16_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    fl_rows(K_F16, n, w, rb, x, s, R);
}
INL TS void bf16_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    fl_rows(K_BF16, n, w, rb, x, s, R);
}
SLM__DEFINE_MATVEC(TS, f32, f32_rows)
SLM__DEFINE_MATVEC(TS, f16, f16_rows)
SLM__DEFINE_MATVEC(TS, bf16, bf16_rows)

TS static void f16_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(dst + i, ld_f16x4(p + 2 * i));
    for (; i < n; i++)
        dst[i] = slm_f16_to_f32(slm_rd16(p + 2 * i));
}

TS static void bf16_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(dst + i, ld_bf16x4(p + 2 * i));
    for (; i < n; i++)
        dst[i] = slm_bf16_to_f32(slm_rd16(p + 2 * i));
}

TS static void f16_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i a = f32x4_to_f16(_mm_loadu_ps(src + i)),
                b = f32x4_to_f16(_mm_loadu_ps(src + i + 4));
        _mm_storeu_si128((__m128i *)(p + 2 * i), pack32_16(a, b));
    }
    for (; i < n; i++) {
        uint16_t h = slm_f32_to_f16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

TS static void bf16_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i a = f32x4_to_bf16(_mm_loadu_ps(src + i));
        __m128i b = f32x4_to_bf16(_mm_loadu_ps(src + i + 4));
        _mm_storeu_si128((__m128i *)(p + 2 * i), pack32_16(a, b));
    }
    for (; i < n; i++) {
        uint16_t h = slm_f32_to_bf16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

/* ---- activation quantizers ----------------------------------------------- */

/* 16 int32 lanes (4 registers) to 16 saturated int8. */
INL TS __m128i pack4_i8(__m128i a, __m128i b, __m128i c, __m128i d)
{
    return _mm_packs_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d));
}

/* Bit-identical to slm__q8_0_from_float_ref (cvtps2dq rounds to even). */
TS static void q8_0_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++, src += 32, b += SLM__Q8_0_SIZE) {
        __m128 m = _mm_setzero_ps();
        for (int k = 0; k < 8; k++)
            m = _mm_max_ps(m, abs128(_mm_loadu_ps(src + 4 * k)));
        float amax = hmax128(m);
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t h = slm_f32_to_f16(d);
        memcpy(b, &h, 2);
        __m128 vid = _mm_set1_ps(id);
        __m128i q[8];
        for (int k = 0; k < 8; k++)
            q[k] = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(src + 4 * k), vid));
        _mm_storeu_si128((__m128i *)(b + 2), pack4_i8(q[0], q[1], q[2], q[3]));
        _mm_storeu_si128((__m128i *)(b + 18), pack4_i8(q[4], q[5], q[6], q[7]));
    }
}

INL TS float q8_k_signed_max(const float *x, float amax)
{
    for (int k = 0; k < 64; k++) {
        __m128 e = _mm_cmpeq_ps(abs128(_mm_loadu_ps(x + 4 * k)), _mm_set1_ps(amax));
        int mask = _mm_movemask_ps(e);
        if (mask)
            return x[4 * k + __builtin_ctz((unsigned)mask)];
    }
    return 0.0f;
}

/* Bit-identical to slm__q8_k_from_float_ref. */
TS static void q8_k_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++, src += 256, b += SLM__Q8_K_SIZE) {
        __m128 m = _mm_setzero_ps();
        for (int k = 0; k < 64; k++)
            m = _mm_max_ps(m, abs128(_mm_loadu_ps(src + 4 * k)));
        float amax = hmax128(m);
        float iscale = amax != 0.0f ? -127.0f / q8_k_signed_max(src, amax) : 0.0f;
        float d = amax != 0.0f ? 1.0f / iscale : 0.0f;
        memcpy(b, &d, 4);
        __m128 vs = _mm_set1_ps(iscale);
        for (int g = 0; g < 16; g++) {
            __m128i q[4];
            for (int k = 0; k < 4; k++)
                q[k] = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(src + 16 * g + 4 * k), vs));
            _mm_storeu_si128((__m128i *)(b + SLM__Q8_K_QS + 16 * g),
                             pack4_i8(q[0], q[1], q[2], q[3]));
            int16_t bs = (int16_t)hsum_epi32(
                _mm_add_epi32(_mm_add_epi32(q[0], q[1]), _mm_add_epi32(q[2], q[3])));
            memcpy(b + SLM__Q8_K_BSUMS + 2 * g, &bs, 2);
        }
    }
}

/* ---- to_float of the 32-blocks ------------------------------------------ */

/* 16 signed bytes times d to 16 floats. */
INL TS void store_i8x16(float *dst, __m128i q, __m128 d)
{
    __m128i lo = sx_lo(q), hi = sx_hi(q);
    __m128i w[4] = {_mm_srai_epi32(_mm_unpacklo_epi16(lo, lo), 16),
                    _mm_srai_epi32(_mm_unpackhi_epi16(lo, lo), 16),
                    _mm_srai_epi32(_mm_unpacklo_epi16(hi, hi), 16),
                    _mm_srai_epi32(_mm_unpackhi_epi16(hi, hi), 16)};
    for (int k = 0; k < 4; k++)
        _mm_storeu_ps(dst + 4 * k, _mm_mul_ps(_mm_cvtepi32_ps(w[k]), d));
}

TS static void q8_0_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += SLM__Q8_0_SIZE, dst += 32) {
        __m128 d = _mm_set1_ps(slm__f16(b));
        store_i8x16(dst, ld128(b + 2), d);
        store_i8x16(dst + 16, ld128(b + 18), d);
    }
}

TS static void q4_0_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    const __m128i m4 = _mm_set1_epi8(0x0f), c8 = _mm_set1_epi8(8);
    for (int64_t i = 0; i < n / 32; i++, b += SLM__Q4_0_SIZE, dst += 32) {
        __m128 d = _mm_set1_ps(slm__f16(b));
        __m128i q = ld128(b + 2);
        store_i8x16(dst, _mm_sub_epi8(_mm_and_si128(q, m4), c8), d);
        store_i8x16(dst + 16, _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), m4), c8), d);
    }
}

/* ---- Q8_0 x Q8_0 and Q4_0 x Q8_0 ------------------------------------------
 * The activation block widened once (4 x 8 int16) for all rows. Q4_0's
 * codes are zero-extended as they are; -8 sum y is the activation's own
 * correction. */

struct act32 {
    __m128i y[4];
    float d;
};

INL TS void act32(const uint8_t *xb, struct act32 *a)
{
    widen16(xb + 2, a->y);
    widen16(xb + 18, a->y + 2);
    a->d = slm__f16(xb);
}

INL TS __m128i dot4(const __m128i *w, const __m128i *y)
{
    __m128i s = _mm_add_epi32(_mm_madd_epi16(w[0], y[0]), _mm_madd_epi16(w[1], y[1]));
    return _mm_add_epi32(s, _mm_add_epi32(_mm_madd_epi16(w[2], y[2]), _mm_madd_epi16(w[3], y[3])));
}

INL TS void q8_0_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    __m128 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r] = _mm_setzero_ps();
    for (int b = 0; b < n / 32; b++) {
        struct act32 a;
        act32(x + (size_t)b * SLM__Q8_0_SIZE, &a);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q8_0_SIZE;
            if (R >= 4 && (b & 1) == 0)
                slm__prefetch(wb, R * rb, 2 * SLM__Q8_0_SIZE);
            __m128i q[4];
            widen16(wb + 2, q);
            widen16(wb + 18, q + 2);
            __m128 i32 = _mm_cvtepi32_ps(dot4(q, a.y));
            acc[r] = _mm_add_ps(acc[r], _mm_mul_ps(i32, _mm_set1_ps(slm__f16(wb) * a.d)));
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = hsum128(acc[r]);
}
SLM__DEFINE_MATVEC(TS, q8_0, q8_0_rows)

INL TS void q4_0_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    const __m128i m4 = _mm_set1_epi8(0x0f), z = _mm_setzero_si128();
    __m128 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r] = _mm_setzero_ps();
    for (int b = 0; b < n / 32; b++) {
        struct act32 a;
        act32(x + (size_t)b * SLM__Q8_0_SIZE, &a);
        __m128i c8 = _mm_set1_epi16(8);
        __m128i corr = dot4((const __m128i[]){c8, c8, c8, c8}, a.y);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q4_0_SIZE;
            if (R >= 4 && (b & 3) == 0)
                slm__prefetch(wb, R * rb, 4 * SLM__Q4_0_SIZE);
            __m128i qs = ld128(wb + 2);
            __m128i lo = _mm_and_si128(qs, m4), hi = _mm_and_si128(_mm_srli_epi16(qs, 4), m4);
            __m128i q[4] = {_mm_unpacklo_epi8(lo, z), _mm_unpackhi_epi8(lo, z),
                            _mm_unpacklo_epi8(hi, z), _mm_unpackhi_epi8(hi, z)};
            __m128 i32 = _mm_cvtepi32_ps(_mm_sub_epi32(dot4(q, a.y), corr));
            acc[r] = _mm_add_ps(acc[r], _mm_mul_ps(i32, _mm_set1_ps(slm__f16(wb) * a.d)));
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = hsum128(acc[r]);
}
SLM__DEFINE_MATVEC(TS, q4_0, q4_0_rows)

/* ---- Q4_K x Q8_K ---------------------------------------------------------
 * Per 32-element sub-block: zero-extended 4-bit codes times the 6-bit
 * scale (pmullw: 15 * 63 fits int16), pmaddwd with the widened
 * activations. One row at a time: the widened activations of a whole
 * block would not fit the 16 registers. */

INL TS __m128i q4_k_sub(const __m128i *q16, const uint8_t *q8, int sc)
{
    __m128i s = _mm_set1_epi16((short)sc), y[4];
    widen16(q8, y);
    widen16(q8 + 16, y + 2);
    __m128i w[4];
    for (int k = 0; k < 4; k++)
        w[k] = _mm_mullo_epi16(q16[k], s);
    return dot4(w, y);
}

INL TS void q4_k_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    const __m128i m4 = _mm_set1_epi8(0x0f), z = _mm_setzero_si128();
    for (int r = 0; r < R; r++) {
        float sum = 0.0f;
        for (int b = 0; b < n / 256; b++) {
            const uint8_t *xb = w + r * rb + (size_t)b * SLM__Q4_K_SIZE;
            const uint8_t *yb = x + (size_t)b * SLM__Q8_K_SIZE;
            uint64_t sc, m;
            slm__q4_k_scales(xb + SLM__Q4_K_SCALES, &sc, &m);
            __m128i isum = _mm_setzero_si128();
            for (int k = 0; k < 4; k++) {
                __m128i qa = ld128(xb + SLM__Q4_K_QS + 32 * k),
                        qb = ld128(xb + SLM__Q4_K_QS + 32 * k + 16);
                __m128i lo[4] = {_mm_and_si128(qa, m4), _mm_and_si128(qb, m4),
                                 _mm_and_si128(_mm_srli_epi16(qa, 4), m4),
                                 _mm_and_si128(_mm_srli_epi16(qb, 4), m4)};
                __m128i c0[4] = {_mm_unpacklo_epi8(lo[0], z), _mm_unpackhi_epi8(lo[0], z),
                                 _mm_unpacklo_epi8(lo[1], z), _mm_unpackhi_epi8(lo[1], z)};
                __m128i c1[4] = {_mm_unpacklo_epi8(lo[2], z), _mm_unpackhi_epi8(lo[2], z),
                                 _mm_unpacklo_epi8(lo[3], z), _mm_unpackhi_epi8(lo[3], z)};
                const uint8_t *q8 = yb + SLM__Q8_K_QS + 64 * k;
                isum = _mm_add_epi32(isum, q4_k_sub(c0, q8, (uint8_t)(sc >> 16 * k)));
                isum = _mm_add_epi32(isum, q4_k_sub(c1, q8 + 32, (uint8_t)(sc >> (16 * k + 8))));
            }
            int summ = 0;
            for (int j = 0; j < 8; j++)
                summ += (int)(uint8_t)(m >> 8 * j) *
                        ((int16_t)slm_rd16(yb + SLM__Q8_K_BSUMS + 4 * j) +
                         (int16_t)slm_rd16(yb + SLM__Q8_K_BSUMS + 4 * j + 2));
            float dy = slm__rdf32(yb);
            sum +=
                slm__f16(xb) * dy * (float)hsum_epi32(isum) - slm__f16(xb + 2) * dy * (float)summ;
        }
        s[r] = sum;
    }
}
SLM__DEFINE_MATVEC(TS, q4_k, q4_k_rows)

/* ---- Q6_K x Q8_K ---------------------------------------------------------
 * Per 16-element sub-block: codes - 32 (int16) times the int8 scale
 * (pmullw: 32 * 128 fits), pmaddwd with the widened activations. */

INL TS __m128i q6_k_sub(__m128i c, const uint8_t *q8, int sc)
{
    const __m128i z = _mm_setzero_si128(), c32 = _mm_set1_epi16(32), s = _mm_set1_epi16((short)sc);
    __m128i lo = _mm_mullo_epi16(_mm_sub_epi16(_mm_unpacklo_epi8(c, z), c32), s);
    __m128i hi = _mm_mullo_epi16(_mm_sub_epi16(_mm_unpackhi_epi8(c, z), c32), s);
    __m128i y[2];
    widen16(q8, y);
    return _mm_add_epi32(_mm_madd_epi16(lo, y[0]), _mm_madd_epi16(hi, y[1]));
}

/* Codes of 128 elements (half h of the block): 8 x 16 bytes in order. */
INL TS void q6_k_codes(const uint8_t *xb, int h, __m128i c[8])
{
    const __m128i m4 = _mm_set1_epi8(0x0f), m30 = _mm_set1_epi8(0x30);
    for (int k = 0; k < 2; k++) {
        __m128i l0 = ld128(xb + 64 * h + 16 * k), l1 = ld128(xb + 64 * h + 32 + 16 * k);
        __m128i qh = ld128(xb + SLM__Q6_K_QH + 32 * h + 16 * k);
        c[0 + k] = _mm_or_si128(_mm_and_si128(l0, m4), _mm_and_si128(_mm_slli_epi16(qh, 4), m30));
        c[2 + k] = _mm_or_si128(_mm_and_si128(l1, m4), _mm_and_si128(_mm_slli_epi16(qh, 2), m30));
        c[4 + k] = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(l0, 4), m4), _mm_and_si128(qh, m30));
        c[6 + k] = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(l1, 4), m4),
                                _mm_and_si128(_mm_srli_epi16(qh, 2), m30));
    }
}

INL TS void q6_k_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    for (int r = 0; r < R; r++) {
        float sum = 0.0f;
        for (int b = 0; b < n / 256; b++) {
            const uint8_t *xb = w + r * rb + (size_t)b * SLM__Q6_K_SIZE;
            const uint8_t *yb = x + (size_t)b * SLM__Q8_K_SIZE;
            __m128i isum = _mm_setzero_si128();
            for (int h = 0; h < 2; h++) {
                __m128i c[8];
                q6_k_codes(xb, h, c);
                for (int j = 0; j < 8; j++)
                    isum = _mm_add_epi32(isum, q6_k_sub(c[j], yb + SLM__Q8_K_QS + 128 * h + 16 * j,
                                                        (int8_t)xb[SLM__Q6_K_SC + 8 * h + j]));
            }
            sum += slm__f16(xb + SLM__Q6_K_D) * slm__rdf32(yb) * (float)hsum_epi32(isum);
        }
        s[r] = sum;
    }
}
SLM__DEFINE_MATVEC(TS, q6_k, q6_k_rows)

/* ---- table -------------------------------------------------------------- */

static const struct slm_qops ops[] = {
    {SLM_Q_F32, SLM_Q_F32, slm__f32_to_float, slm__f32_copy, f32_vec_dot, f32_matvec, NULL},
    {SLM_Q_F16, SLM_Q_F32, f16_to_float, f16_from_float, f16_vec_dot, f16_matvec, NULL},
    {SLM_Q_BF16, SLM_Q_F32, bf16_to_float, bf16_from_float, bf16_vec_dot, bf16_matvec, NULL},
    {SLM_Q_Q8_0, SLM_Q_Q8_0, q8_0_to_float, q8_0_from_float, q8_0_vec_dot, q8_0_matvec, NULL},
    {SLM_Q_Q4_0, SLM_Q_Q8_0, q4_0_to_float, slm__q4_0_from_float, q4_0_vec_dot, q4_0_matvec, NULL},
    {SLM_Q_Q4_K, SLM_Q_Q8_K, slm__q4_k_to_float, slm__q4_k_from_float, q4_k_vec_dot, q4_k_matvec, NULL},
    {SLM_Q_Q6_K, SLM_Q_Q8_K, slm__q6_k_to_float, slm__q6_k_from_float, q6_k_vec_dot, q6_k_matvec, NULL},
    {SLM_Q_Q8_K, SLM_Q_Q8_K, slm__q8_k_to_float, q8_k_from_float, NULL, NULL, NULL},
};

const struct slm_qops *slm__qops_sse2(uint32_t type)
{
    for (size_t i = 0; i < SLM_ARRAY_SIZE(ops); i++)
        if (ops[i].type == type)
            return &ops[i];
    return NULL;
}

/* ---- vops --------------------------------------------------------------- */

TS static float v_dot_f32(int n, const float *a, const float *b)
{
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
        s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
    }
    float t = 0.0f;
    for (; i < n; i++)
        t += a[i] * b[i];
    return hsum128(_mm_add_ps(s0, s1)) + t;
}

TS static float v_dot_f16_f32(int n, const uint16_t *a, const float *b)
{
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint8_t *p = (const uint8_t *)(a + i);
        s0 = _mm_add_ps(s0, _mm_mul_ps(ld_f16x4(p), _mm_loadu_ps(b + i)));
        s1 = _mm_add_ps(s1, _mm_mul_ps(ld_f16x4(p + 8), _mm_loadu_ps(b + i + 4)));
    }
    float t = 0.0f;
    for (; i < n; i++)
        t += slm_f16_to_f32(a[i]) * b[i];
    return hsum128(_mm_add_ps(s0, s1)) + t;
}

TS static void v_axpy_f16_f32(int n, float a, const uint16_t *x, float *y)
{
    const __m128 va = _mm_set1_ps(a);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 xv = ld_f16x4((const uint8_t *)(x + i));
        _mm_storeu_ps(y + i, _mm_add_ps(_mm_loadu_ps(y + i), _mm_mul_ps(va, xv)));
    }
    for (; i < n; i++)
        y[i] += a * slm_f16_to_f32(x[i]);
}

TS static void v_f32_to_f16(int n, const float *x, uint16_t *y)
{
    f16_from_float(x, y, n);
}

static void v_attn_head(int hd, int n, size_t stride, const uint16_t *k, const uint16_t *v,
                        const float *q, float scale, float *att, float *out)
{
    slm__attn_head_generic(&slm__vops_sse2, hd, n, stride, k, v, q, scale, att, out);
}

const struct slm_vops slm__vops_sse2 = {v_dot_f32,   v_dot_f16_f32,     v_axpy_f16_f32,
                                        v_f32_to_f16, v_attn_head, slm__silu_mul_ref,
                                        slm__argmax_ref};
