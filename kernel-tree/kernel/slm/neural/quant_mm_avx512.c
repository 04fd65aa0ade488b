/*
 * quant_mm_avx512.c - matrix x matrix for Q4_0 and Q8_0 weights with
 * AVX512_VNNI: the product of a prompt's nb activation vectors (Q8_0) with
 * a weight matrix, each weight block unpacked once for all nb vectors.
 *
 * A matvec kernel spends most of its instructions unpacking weights
 * (nibbles, the f16 scale) and reducing int32 lanes block by block; a
 * prompt of nb tokens run as nb matvecs pays that nb times. Here a tile
 * of 32 rows is unpacked once into scratch in the order vpdpbusd wants,
 * one row per int32 lane: for block j and 4-element group g, a register
 * holds elements 4g..4g+3 of 16 rows as unsigned bytes (Q4_0: q in 0..15;
 * Q8_0: q + 128), and the block's 32 row scales follow as floats. Then per
 * vector and block: eight vpdpbusd per 16 rows against the vector's four
 * bytes broadcast, one convert and two float operations - no shuffles, no
 * horizontal sums. The int32 accumulators start at the vector's
 * correction for the unsigned offset (-8 or -128 times the block's sum of
 * x), so each block's integer dot product is exact, as in matvec; results
 * differ from matvec's only in the order of the float sums.
 *
 * The weights are read in place (the tile is a cache-sized copy, made
 * again for every call); rows past the last whole tile go through the
 * table's matvec.
 */
/* GCC's immintrin.h includes libc's <stdlib.h> through mm_malloc.h, even
 * freestanding; the engine uses no _mm_malloc, so skip that header. */
#define _MM_MALLOC_H_INCLUDED
#include <immintrin.h>

#include "quant_impl.h"

#define T512V __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))
#define INL static inline __attribute__((always_inline))

/* Vectors per pass over a tile: 4 x 2 int32 and 4 x 2 float accumulators,
 * and per group two weight loads for eight vpdpbusd. */
#define MM_NT 4

/* Scratch layout of one block of a tile: group g of rows 16h..16h+15 at
 * 64 * (2g + h), the scales at MM_SCALES + 64h. */
#define MM_SCALES (SLM__MM_ROWS * 32)

/* Rows k, 4+k, 8+k, 12+k (stride rb) of the 16 bytes at p, in 128-bit
 * lanes 0..3. */
INL T512V __m512i rows4(const uint8_t *p, size_t rb, int k)
{
    __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + k * rb)));
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + (4 + k) * rb)), 1);
    v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + (8 + k) * rb)), 2);
    return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + (12 + k) * rb)), 3);
}

/* Dwords 0..3 of the 16 bytes at p in rows 0..15: r[m] dword i = dword m
 * of row i. rows4 put row 4l+k in lane l of register k; the 4x4 transpose
 * within each lane then lines rows 4l..4l+3 up in order. */
INL T512V void dwords16(const uint8_t *p, size_t rb, __m512i r[4])
{
    __m512i a = rows4(p, rb, 0), b = rows4(p, rb, 1), c = rows4(p, rb, 2), d = rows4(p, rb, 3);
    __m512i t0 = _mm512_unpacklo_epi32(a, b), t1 = _mm512_unpackhi_epi32(a, b);
    __m512i t2 = _mm512_unpacklo_epi32(c, d), t3 = _mm512_unpackhi_epi32(c, d);
    r[0] = _mm512_unpacklo_epi64(t0, t2);
    r[1] = _mm512_unpackhi_epi64(t0, t2);
    r[2] = _mm512_unpacklo_epi64(t1, t3);
    r[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* The f16 scales at p of rows 0..15, as floats. (The gather reads 4
 * bytes per row: the scale and the first two quants.) */
INL T512V __m512 scales16(const uint8_t *p, __m512i row_off)
{
    __m512i v = _mm512_i32gather_epi32(row_off, (const void *)p, 1);
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v));
}

/* Packs rows 0..31 of the Q4_0 matrix at w into the tile. */
INL T512V void pack_q4_0(uint8_t *tile, const uint8_t *w, size_t rb, int nblk, __m512i row_off)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    for (int j = 0; j < nblk; j++, tile += SLM__MM_BLK_BYTES) {
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const uint8_t *b = w + (size_t)16 * h * rb + (size_t)j * SLM__Q4_0_SIZE;
            __m512i r[4];
            /* byte i of qs: element i (low nibble) and i + 16 (high) */
            dwords16(b + 2, rb, r);
#pragma GCC unroll 4
            for (int m = 0; m < 4; m++) {
                _mm512_store_si512(tile + 64 * (2 * m + h), _mm512_and_si512(r[m], m4));
                _mm512_store_si512(tile + 64 * (2 * (m + 4) + h),
                                   _mm512_and_si512(_mm512_srli_epi16(r[m], 4), m4));
            }
            _mm512_store_ps(tile + MM_SCALES + 64 * h, scales16(b, row_off));
        }
    }
}

/* Packs rows 0..31 of the Q8_0 matrix at w into the tile, q + 128. */
INL T512V void pack_q8_0(uint8_t *tile, const uint8_t *w, size_t rb, int nblk, __m512i row_off)
{
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    for (int j = 0; j < nblk; j++, tile += SLM__MM_BLK_BYTES) {
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const uint8_t *b = w + (size_t)16 * h * rb + (size_t)j * SLM__Q8_0_SIZE;
#pragma GCC unroll 2
            for (int half = 0; half < 2; half++) {
                __m512i r[4];
                dwords16(b + 2 + 16 * half, rb, r);
#pragma GCC unroll 4
                for (int m = 0; m < 4; m++)
                    _mm512_store_si512(tile + 64 * (2 * (4 * half + m) + h),
                                       _mm512_xor_si512(r[m], bias));
            }
            _mm512_store_ps(tile + MM_SCALES + 64 * h, scales16(b, row_off));
        }
    }
}

/* Per vector b and block j: its scale dx[b * nblk + j] and the int32 the
 * accumulator starts from, corr = -offset * sum(x) (offset 8 for Q4_0's
 * unsigned nibbles, 128 for Q8_0's biased bytes). */
INL T512V void act_aux(const uint8_t *xq, size_t xs, int nb, int nblk, int offset, float *dx,
                       int32_t *corr)
{
    const __m256i bias = _mm256_set1_epi8((char)0x80), z = _mm256_setzero_si256();
    for (int b = 0; b < nb; b++) {
        const uint8_t *x = xq + (size_t)b * xs;
        for (int j = 0; j < nblk; j++, x += SLM__Q8_0_SIZE) {
            /* sum(x + 128) by psadbw against zero, in four qwords */
            __m256i s = _mm256_sad_epu8(
                _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(x + 2)), bias), z);
            __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            int sum = _mm_cvtsi128_si32(s2) + _mm_extract_epi32(s2, 2) - 128 * 32;
            dx[(size_t)b * nblk + j] = _cvtsh_ss(slm_rd16(x));
            corr[(size_t)b * nblk + j] = -offset * sum;
        }
    }
}

/* y[t * ldy + 0..31] for vectors t < NT (at x + t * xs) against the
 * packed tile. */
INL T512V void mm_tile(const uint8_t *tile, int nblk, const uint8_t *x, size_t xs, const float *dx,
                       const int32_t *corr, float *y, size_t ldy, const int NT)
{
    __m512 acc[MM_NT][2];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++)
        acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    for (int j = 0; j < nblk; j++) {
        const uint8_t *tb = tile + (size_t)j * SLM__MM_BLK_BYTES;
        const uint8_t *xb = x + (size_t)j * SLM__Q8_0_SIZE + 2;
        __m512i ia[MM_NT][2];
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++)
            ia[t][0] = ia[t][1] = _mm512_set1_epi32(corr[(size_t)t * nblk + j]);
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512i w0 = _mm512_load_si512(tb + 128 * g), w1 = _mm512_load_si512(tb + 128 * g + 64);
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++) {
                __m512i xv = _mm512_set1_epi32((int)slm_rd32(xb + (size_t)t * xs + 4 * g));
                ia[t][0] = _mm512_dpbusd_epi32(ia[t][0], w0, xv);
                ia[t][1] = _mm512_dpbusd_epi32(ia[t][1], w1, xv);
            }
        }
        __m512 d0 = _mm512_load_ps(tb + MM_SCALES), d1 = _mm512_load_ps(tb + MM_SCALES + 64);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            __m512 s = _mm512_set1_ps(dx[(size_t)t * nblk + j]);
            acc[t][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[t][0]), _mm512_mul_ps(d0, s), acc[t][0]);
            acc[t][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[t][1]), _mm512_mul_ps(d1, s), acc[t][1]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        _mm512_storeu_ps(y + (size_t)t * ldy, acc[t][0]);
        _mm512_storeu_ps(y + (size_t)t * ldy + 16, acc[t][1]);
    }
}

INL T512V void matmat(int n, int rows, int nb, float *y, size_t ldy, const uint8_t *W, size_t rb,
                      const uint8_t *xq, size_t xs, uint8_t *scratch, uint32_t type)
{
    const int nblk = n / 32;
    const bool q8 = type == SLM_Q_Q8_0;
    float *dx = (float *)(scratch + (size_t)nblk * SLM__MM_BLK_BYTES);
    int32_t *corr = (int32_t *)(dx + (size_t)nb * nblk);
    const __m512i row_off = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)rb));
    act_aux(xq, xs, nb, nblk, q8 ? 128 : 8, dx, corr);

    int r0 = 0;
    for (; r0 + SLM__MM_ROWS <= rows; r0 += SLM__MM_ROWS) {
        if (q8)
            pack_q8_0(scratch, W + (size_t)r0 * rb, rb, nblk, row_off);
        else
            pack_q4_0(scratch, W + (size_t)r0 * rb, rb, nblk, row_off);
        int b = 0;
        for (; b + MM_NT <= nb; b += MM_NT)
            mm_tile(scratch, nblk, xq + (size_t)b * xs, xs, dx + (size_t)b * nblk,
                    corr + (size_t)b * nblk, y + (size_t)b * ldy + r0, ldy, MM_NT);
        const uint8_t *x = xq + (size_t)b * xs;
        const float *d = dx + (size_t)b * nblk;
        const int32_t *c = corr + (size_t)b * nblk;
        float *yb = y + (size_t)b * ldy + r0;
        switch (nb - b) {
        case 3:
            mm_tile(scratch, nblk, x, xs, d, c, yb, ldy, 3);
            break;
        case 2:
            mm_tile(scratch, nblk, x, xs, d, c, yb, ldy, 2);
            break;
        case 1:
            mm_tile(scratch, nblk, x, xs, d, c, yb, ldy, 1);
            break;
        default:
            break;
        }
    }
    if (r0 < rows)
        slm__matvec_each(slm__qops_avx512(type, true), n, rows - r0, nb, y + r0, ldy,
                         W + (size_t)r0 * rb, rb, xq, xs);
}

T512V void slm__q4_0_matmat_vnni(int n, int rows, int nb, float *y, size_t ldy, const void *W,
                                 size_t row_bytes, const void *xq, size_t xq_stride, void *scratch)
{
    matmat(n, rows, nb, y, ldy, W, row_bytes, xq, xq_stride, scratch, SLM_Q_Q4_0);
}

T512V void slm__q8_0_matmat_vnni(int n, int rows, int nb, float *y, size_t ldy, const void *W,
                                 size_t row_bytes, const void *xq, size_t xq_stride, void *scratch)
{
    matmat(n, rows, nb, y, ldy, W, row_bytes, xq, xq_stride, scratch, SLM_Q_Q8_0);
}
