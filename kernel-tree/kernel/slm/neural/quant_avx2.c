/*
 * quant_avx2.c - AVX2 + FMA + F16C kernels.
 *
 * Same scheme as quant_avx512.c in 256-bit registers: 4 rows per pass over
 * the activations, int32 lanes per block scaled in float, one horizontal sum
 * per row. pmaddubsw needs one unsigned operand: the 4-bit codes are
 * unsigned as stored (their offset comes back through activation sums),
 * Q8_0 uses the sign trick |w| * (y with w's sign).
 */
#include "quant_avx2.h"

/* ---- helpers ------------------------------------------------------------ */

INL T2 __m128i ld128(const uint8_t *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

INL T2 __m256i ld256(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

INL T2 float f16c(const uint8_t *p)
{
    return _cvtsh_ss(slm_rd16(p));
}


INL T2 int hsum256_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

INL T2 float hmax256(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

INL T2 __m256 abs256(__m256 v)
{
    return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}

/* 32 int32 lanes (4 registers, in order) to 32 saturated int8. */
INL T2 __m256i pack4_i8(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i v = _mm256_packs_epi16(ab, cd); /* lane-interleaved dwords */
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* ---- F32 / F16 / BF16 ---------------------------------------------------- */

enum { K_F32, K_F16, K_BF16 };

INL T2 __m256 ld_row(int kind, const uint8_t *p)
{
    if (kind == K_F32)
        return _mm256_loadu_ps((const float *)p);
    if (kind == K_F16)
        return _mm256_cvtph_ps(ld128(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(ld128(p)), 16));
}

INL T2 float ld_one(int kind, const uint8_t *p)
{
    if (kind == K_F32)
        return slm__rdf32(p);
    if (kind == K_F16)
        return slm_f16_to_f32(slm_rd16(p));
    return slm_bf16_to_f32(slm_rd16(p));
}

INL T2 void fl_rows(int kind, int n, const uint8_t *w, size_t rb, const uint8_t *xb, float *s,
                    const int R)
{
    const float *x = (const float *)xb;
    const size_t es = kind == K_F32 ? 4 : 2;
    __m256 acc[4][2];
    float tail[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + r * rb + (size_t)i * es;
            if (R >= 4)
                slm__prefetch(p, R * rb, (int)(16 * es));
            acc[r][0] = _mm256_fmadd_ps(ld_row(kind, p), x0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(ld_row(kind, p + 8 * es), x1, acc[r][1]);
        }
    }
    for (; i < n; i++) {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            tail[r] += ld_one(kind, w + r * rb + (size_t)i * es) * x[i];
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = hsum256(_mm256_add_ps(acc[r][0], acc[r][1])) + tail[r];
}

INL T2 void f32_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    fl_rows(K_F32, n, w, rb, x, s, R);
}
INL T2 void f16_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    fl_rows(K_F16, n, w, rb, x, s, R);
}
INL T2 void bf16_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    fl_rows(K_BF16, n, w, rb, x, s, R);
}
SLM__DEFINE_MATVEC(T2, f32, f32_rows)
SLM__DEFINE_MATVEC(T2, f16, f16_rows)
SLM__DEFINE_MATVEC(T2, bf16, bf16_rows)

T2 static void f16_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(ld128(p + 2 * i)));
    for (; i < n; i++)
        dst[i] = slm_f16_to_f32(slm_rd16(p + 2 * i));
}

T2 static void bf16_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, ld_row(K_BF16, p + 2 * i));
    for (; i < n; i++)
        dst[i] = slm_bf16_to_f32(slm_rd16(p + 2 * i));
}

T2 void slm__f16_from_float_avx2(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(p + 2 * i), h);
    }
    for (; i < n; i++) {
        uint16_t h = slm_f32_to_f16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

/* slm_f32_to_bf16 on 8 lanes: round to nearest even, quiet NaNs. */
INL T2 __m256i bf16x8(__m256i u)
{
    const __m256i inf = _mm256_set1_epi32(0x7f800000);
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), inf);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff)));
    __m256i q = _mm256_or_si256(u, _mm256_set1_epi32(0x400000));
    return _mm256_srli_epi32(_mm256_blendv_epi8(r, q, nan), 16);
}

T2 static void bf16_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a = bf16x8(_mm256_castps_si256(_mm256_loadu_ps(src + i)));
        __m256i b = bf16x8(_mm256_castps_si256(_mm256_loadu_ps(src + i + 8)));
        __m256i h = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
        _mm256_storeu_si256((__m256i *)(p + 2 * i), h);
    }
    for (; i < n; i++) {
        uint16_t h = slm_f32_to_bf16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

/* ---- activation quantizers ----------------------------------------------- */

/* Bit-identical to slm__q8_0_from_float_ref (see quant_avx512.c). */
T2 static void q8_0_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++, src += 32, b += SLM__Q8_0_SIZE) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(src + 8 * k);
            m = _mm256_max_ps(m, abs256(v[k]));
        }
        float amax = hmax256(m);
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t h = slm_f32_to_f16(d);
        memcpy(b, &h, 2);
        __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], vid));
        _mm256_storeu_si256((__m256i *)(b + 2), pack4_i8(q[0], q[1], q[2], q[3]));
    }
}

/* Bit-identical to slm__q8_k_from_float_ref. */
T2 static void q8_k_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++, src += 256, b += SLM__Q8_K_SIZE) {
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < 32; k++)
            m = _mm256_max_ps(m, abs256(_mm256_loadu_ps(src + 8 * k)));
        float amax = hmax256(m), max = 0.0f;
        for (int k = 0; k < 32 && amax != 0.0f; k++) {
            __m256 e = _mm256_cmp_ps(abs256(_mm256_loadu_ps(src + 8 * k)), _mm256_set1_ps(amax),
                                     _CMP_EQ_OQ);
            int mask = _mm256_movemask_ps(e);
            if (mask) {
                max = src[8 * k + __builtin_ctz((unsigned)mask)];
                break;
            }
        }
        float iscale = amax != 0.0f ? -127.0f / max : 0.0f;
        float d = amax != 0.0f ? 1.0f / iscale : 0.0f;
        memcpy(b, &d, 4);
        __m256 vs = _mm256_set1_ps(iscale);
        for (int g = 0; g < 8; g++) { /* 32 values: two bsums */
            __m256i q[4];
            for (int k = 0; k < 4; k++)
                q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(src + 32 * g + 8 * k), vs));
            _mm256_storeu_si256((__m256i *)(b + SLM__Q8_K_QS + 32 * g),
                                pack4_i8(q[0], q[1], q[2], q[3]));
            int16_t s0 = (int16_t)hsum256_epi32(_mm256_add_epi32(q[0], q[1]));
            int16_t s1 = (int16_t)hsum256_epi32(_mm256_add_epi32(q[2], q[3]));
            memcpy(b + SLM__Q8_K_BSUMS + 4 * g, &s0, 2);
            memcpy(b + SLM__Q8_K_BSUMS + 4 * g + 2, &s1, 2);
        }
    }
}

/* ---- to_float of the 32-blocks ------------------------------------------ */

INL T2 void store_i8x32(float *dst, __m256i q, float d)
{
    __m256 vd = _mm256_set1_ps(d);
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), vd));
    _mm256_storeu_ps(
        dst + 8,
        _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), vd));
    _mm256_storeu_ps(dst + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), vd));
    _mm256_storeu_ps(
        dst + 24,
        _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), vd));
}

T2 static void q8_0_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += SLM__Q8_0_SIZE, dst += 32)
        store_i8x32(dst, ld256(b + 2), f16c(b));
}

/* The 32 codes of a Q4_0 block in element order, unsigned [0, 15]. */
INL T2 __m256i q4_0_codes(const uint8_t *b)
{
    __m128i q = ld128(b + 2);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0f));
}

T2 static void q4_0_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += SLM__Q4_0_SIZE, dst += 32)
        store_i8x32(dst, _mm256_sub_epi8(q4_0_codes(b), _mm256_set1_epi8(8)), f16c(b));
}

/* ---- Q4_0 x Q8_0 ---------------------------------------------------------
 * sum (q - 8) y: pmaddubsw(q, y) - pmaddubsw(8, y), the latter once per
 * activation block for all rows; int16 pair sums fit (15 * 127 * 2). */

INL T2 void q4_0_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    const __m256i c8 = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1);
    __m256 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r] = _mm256_setzero_ps();
    for (int b = 0; b < n / 32; b++) {
        const uint8_t *xb = x + (size_t)b * SLM__Q8_0_SIZE;
        __m256i y = ld256(xb + 2), corr = _mm256_maddubs_epi16(c8, y);
        float dy = f16c(xb);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q4_0_SIZE;
            if (R >= 4 && (b & 3) == 0)
                slm__prefetch(wb, R * rb, 4 * SLM__Q4_0_SIZE);
            __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q4_0_codes(wb), y), corr);
            __m256 i32 = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
            acc[r] = _mm256_fmadd_ps(i32, _mm256_set1_ps(f16c(wb) * dy), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = hsum256(acc[r]);
}
SLM__DEFINE_MATVEC(T2, q4_0, q4_0_rows)

/* ---- Q8_0 x Q8_0: |w| * (y with w's sign), robust to w = -128 ----------- */

INL T2 void q8_0_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r] = _mm256_setzero_ps();
    for (int b = 0; b < n / 32; b++) {
        const uint8_t *xb = x + (size_t)b * SLM__Q8_0_SIZE;
        __m256i y = ld256(xb + 2);
        float dy = f16c(xb);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + r * rb + (size_t)b * SLM__Q8_0_SIZE;
            if (R >= 4 && (b & 1) == 0)
                slm__prefetch(wb, R * rb, 2 * SLM__Q8_0_SIZE);
            __m256i q = ld256(wb + 2);
            __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
            __m256 i32 = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
            acc[r] = _mm256_fmadd_ps(i32, _mm256_set1_ps(f16c(wb) * dy), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = hsum256(acc[r]);
}
SLM__DEFINE_MATVEC(T2, q8_0, q8_0_rows)

/* ---- Q4_K x Q8_K ---------------------------------------------------------
 * Per 64 elements: 32 bytes of qs, low nibbles = sub-block 2k, high = 2k+1,
 * against 64 consecutive activations. pmaddubsw, then pmaddwd by the
 * sub-block's 6-bit scale (broadcast word); the mins meet pairs of Q8_K
 * bsums in a small second accumulator scaled by dmin. */

/* pshufb patterns broadcasting int16 word j of a 128-bit lane. */
INL T2 __m256i word_bcast(int j)
{
    return _mm256_set1_epi16((short)((2 * j) | (2 * j + 1) << 8));
}

INL T2 __m256i q4_k_block(const uint8_t *xb, const uint8_t *q8, __m128i bsp, __m128i *mins_out)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    uint64_t sc, m;
    slm__q4_k_scales(xb + SLM__Q4_K_SCALES, &sc, &m);
    __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc)));
    __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m256i q = ld256(xb + SLM__Q4_K_QS + 32 * k);
        __m256i lo = _mm256_and_si256(q, m4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        __m256i plo = _mm256_maddubs_epi16(lo, ld256(q8 + 64 * k));
        __m256i phi = _mm256_maddubs_epi16(hi, ld256(q8 + 64 * k + 32));
        plo = _mm256_madd_epi16(plo, _mm256_shuffle_epi8(sc16, word_bcast(2 * k)));
        phi = _mm256_madd_epi16(phi, _mm256_shuffle_epi8(sc16, word_bcast(2 * k + 1)));
        isum = _mm256_add_epi32(isum, _mm256_add_epi32(plo, phi));
    }
    *mins_out = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)m)), bsp);
    return isum;
}

INL T2 void q4_k_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    __m256 acc[4];
    __m128 accm[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        acc[r] = _mm256_setzero_ps();
        accm[r] = _mm_setzero_ps();
    }
    for (int b = 0; b < n / 256; b++) {
        const uint8_t *yb = x + (size_t)b * SLM__Q8_K_SIZE;
        /* bsum pairs: the sums of each 32-element sub-block */
        __m128i bsp = _mm_hadd_epi16(ld128(yb + SLM__Q8_K_BSUMS), ld128(yb + SLM__Q8_K_BSUMS + 16));
        __m128 dy = _mm_set1_ps(slm__rdf32(yb));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *xb = w + r * rb + (size_t)b * SLM__Q4_K_SIZE;
            if (R >= 4)
                slm__prefetch(xb, R * rb, SLM__Q4_K_SIZE);
            __m128i mins;
            __m256i isum = q4_k_block(xb, yb + SLM__Q8_K_QS, bsp, &mins);
            __m128 dd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)slm_rd32(xb))), dy);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_broadcastss_ps(dd), acc[r]);
            accm[r] = _mm_fmadd_ps(_mm_cvtepi32_ps(mins), _mm_shuffle_ps(dd, dd, 0x55), accm[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = hsum256(acc[r]) - hsum128(accm[r]);
}
SLM__DEFINE_MATVEC(T2, q4_k, q4_k_rows)

/* ---- Q6_K x Q8_K ---------------------------------------------------------
 * Codes c = ql nibble | 2 qh bits << 4 in [0, 63], unsigned for pmaddubsw;
 * the -32 offset is -32 sum_j sc_j bsum_j, one pmaddwd per block. */

/* pshufb patterns: bytes [0:8) = scale a, [8:16) = scale a + 1. */
INL T2 __m128i scale_pair(__m128i sc8, int a)
{
    __m128i idx = _mm_set_epi64x(0x0101010101010101ll * (a + 1), 0x0101010101010101ll * a);
    return _mm_shuffle_epi8(sc8, idx);
}

INL T2 __m256i q6_k_block(const uint8_t *xb, const uint8_t *yb)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    __m128i sc8 = ld128(xb + SLM__Q6_K_SC);
    __m256i corr = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), ld256(yb + SLM__Q8_K_BSUMS));
    __m256i isum = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));
    const uint8_t *q8 = yb + SLM__Q8_K_QS;
#pragma GCC unroll 4
    for (int h = 0; h < 2; h++) {
        __m256i l0 = ld256(xb + 64 * h), l1 = ld256(xb + 64 * h + 32);
        __m256i qh = ld256(xb + SLM__Q6_K_QH + 32 * h);
        __m256i c[4];
        c[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                               _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
        c[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                               _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
        c[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                               _mm256_and_si256(qh, m30));
        c[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                               _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m256i p = _mm256_maddubs_epi16(c[k], ld256(q8 + 128 * h + 32 * k));
            __m256i sc = _mm256_cvtepi8_epi16(scale_pair(sc8, 8 * h + 2 * k));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, sc));
        }
    }
    return isum;
}

INL T2 void q6_k_rows(int n, const uint8_t *w, size_t rb, const uint8_t *x, float *s, const int R)
{
    __m256 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r] = _mm256_setzero_ps();
    for (int b = 0; b < n / 256; b++) {
        const uint8_t *yb = x + (size_t)b * SLM__Q8_K_SIZE;
        float dy = slm__rdf32(yb);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *xb = w + r * rb + (size_t)b * SLM__Q6_K_SIZE;
            if (R >= 4)
                slm__prefetch(xb, R * rb, SLM__Q6_K_SIZE);
            __m256 d = _mm256_set1_ps(f16c(xb + SLM__Q6_K_D) * dy);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q6_k_block(xb, yb)), d, acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = hsum256(acc[r]);
}
SLM__DEFINE_MATVEC(T2, q6_k, q6_k_rows)

/* ---- table -------------------------------------------------------------- */

static const struct slm_qops ops[] = {
    {SLM_Q_F32, SLM_Q_F32, slm__f32_to_float, slm__f32_copy, f32_vec_dot, f32_matvec, NULL},
    {SLM_Q_F16, SLM_Q_F32, f16_to_float, slm__f16_from_float_avx2, f16_vec_dot, f16_matvec, NULL},
    {SLM_Q_BF16, SLM_Q_F32, bf16_to_float, bf16_from_float, bf16_vec_dot, bf16_matvec, NULL},
    {SLM_Q_Q8_0, SLM_Q_Q8_0, q8_0_to_float, q8_0_from_float, q8_0_vec_dot, q8_0_matvec,
     slm__q8_0_matmat_avx2},
    {SLM_Q_Q4_0, SLM_Q_Q8_0, q4_0_to_float, slm__q4_0_from_float, q4_0_vec_dot, q4_0_matvec,
     slm__q4_0_matmat_avx2},
    {SLM_Q_Q4_K, SLM_Q_Q8_K, slm__q4_k_to_float, slm__q4_k_from_float, q4_k_vec_dot, q4_k_matvec, NULL},
    {SLM_Q_Q6_K, SLM_Q_Q8_K, slm__q6_k_to_float, slm__q6_k_from_float, q6_k_vec_dot, q6_k_matvec, NULL},
    {SLM_Q_Q8_K, SLM_Q_Q8_K, slm__q8_k_to_float, q8_k_from_float, NULL, NULL, NULL},
};

const struct slm_qops *slm__qops_avx2(uint32_t type)
{
    for (size_t i = 0; i < SLM_ARRAY_SIZE(ops); i++)
        if (ops[i].type == type)
            return &ops[i];
    return NULL;
}
