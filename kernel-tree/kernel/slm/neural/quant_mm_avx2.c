/*
 * quant_mm_avx2.c - matrix x matrix for Q4_0 and Q8_0 weights with AVX2
 * (+FMA +F16C): the product of a prompt's nb activation vectors (Q8_0)
 * with a weight matrix, each weight block unpacked once for all nb
 * vectors. The AVX2 counterpart of quant_mm_avx512.c, in the same scratch.
 *
 * As there, a tile of rows is unpacked once into scratch in the order the
 * multiply wants, one row per int32 lane: for block j and 4-element group
 * g, a register holds elements 4g..4g+3 of 8 rows as unsigned bytes, and
 * the block's row scales follow as floats; a vector's four bytes of group
 * g are broadcast against it. AVX2 has no vpdpbusd: vpmaddubsw (u8 x s8)
 * gives per row two int16 sums of two products, saturating, so the codes
 * are kept to 4 bits (pairs at most 2 * 15 * 128) and the int16 sums are
 * added with vpaddw over the block's 8 groups, widened by one vpmaddwd per
 * block. vpaddw wraps, so an int16 accumulator whose final value is in
 * range is exact whatever its partial sums did:
 *
 *   Q4_0 (tiles of 32 rows): the nibbles q in 0..15. The accumulators
 *     start at -8 * the sum of the 16 x each sees (x at 4i, 4i+1 in the
 *     low half of the lane, 4i+2, 4i+3 in the high one) and end at
 *     sum (q - 8) x, |.| <= 16 * 8 * 128 = 16384.
 *   Q8_0 (tiles of 16 rows, two registers per group): q = 16 (h - 8) + l
 *     with l and h in 0..15; l's accumulator ends at sum l x (<= 30720),
 *     h's starts at -8 * sum x as above and ends at sum (h - 8) x; the
 *     block's int32 is vpmaddwd(l, 1) + vpmaddwd(h, 16).
 *
 * Per step (8 rows, 4 elements, 1 vector) the inner loop is vpmaddubsw +
 * vpaddw: 2 uops for Q4_0, 4 for Q8_0 (matvec's sign trick, vpmaddubsw
 * of |q| and x with q's sign, would take vpsignb + vpmaddubsw + vpmaddwd
 * + vpaddd and measured 15% slower). A pass takes 2 vectors x 16 rows
 * (Q4_0) or 3 vectors x 8 rows (Q8_0) - float and int16 accumulators in
 * registers, each weight register loaded once for those vectors and each
 * broadcast once for the rows; per block and 8 rows it adds one vpmaddwd
 * (Q8_0: two and a vpaddd), a convert and two float operations. No
 * shuffles, no horizontal sums; each block's integer dot product is
 * exact, as in matvec, and results differ from matvec's only in the order
 * of the float sums.
 *
 * The tile is a cache-sized copy made again for every call (an 8x4 dword
 * transpose per 8 rows and 16 bytes, a gather of the scales); rows past
 * the last whole tile go through the table's matvec.
 */
#include "quant_avx2.h"

/* Vectors per pass over a tile: Q4_0 takes 2 vectors x 2 registers of 8
 * rows, Q8_0 (two int16 accumulators per row) 3 vectors x 1 register. */
#define MM_NT4 2
#define MM_NT8 3
#define MM_NT_MAX 3

/* Scratch layout of one block of a tile: pass p (Q4_0: rows 16p..16p+15,
 * Q8_0: rows 8p..8p+7) reads group g of its register s (Q4_0: rows
 * 16p + 8s ..; Q8_0: s = 0 low nibbles, 1 high) at MM_OFF(p, g, s), 512
 * contiguous bytes per pass; the scales (row order) at MM_SCALES. */
#define MM_OFF(p, g, s) (512 * (p) + 64 * (g) + 32 * (s))
#define MM_SCALES (SLM__MM_ROWS * 32)

/* Dwords 0..3 of the 16 bytes at p in rows 0..7 (stride rb): r[m] dword i
 * = dword m of row i. Rows i and i + 4 share a register, one per 128-bit
 * lane; the 4x4 transpose within each lane puts them in order. */
INL T2 void dwords8(const uint8_t *p, size_t rb, __m256i r[4])
{
    __m256i v[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
        v[i] = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p + i * rb))),
            _mm_loadu_si128((const __m128i *)(p + (4 + i) * rb)), 1);
    __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
    __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
    r[0] = _mm256_unpacklo_epi64(t0, t2);
    r[1] = _mm256_unpackhi_epi64(t0, t2);
    r[2] = _mm256_unpacklo_epi64(t1, t3);
    r[3] = _mm256_unpackhi_epi64(t1, t3);
}

/* The f16 scales at p of rows 0..7, as floats. (The gather reads 4 bytes
 * per row: the scale and the first two quants.) */
INL T2 __m256 scales8(const uint8_t *p, __m256i row_off)
{
    __m256i v = _mm256_and_si256(_mm256_i32gather_epi32((const int *)(const void *)p, row_off, 1),
                                 _mm256_set1_epi32(0xffff));
    return _mm256_cvtph_ps(
        _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

/* Packs rows 0..31 of the Q4_0 matrix at w into the tile: the nibbles,
 * rows 8k..8k+7 in register k % 2 of pass k / 2. */
INL T2 void pack_q4_0(uint8_t *tile, const uint8_t *w, size_t rb, int nblk, __m256i row_off)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int j = 0; j < nblk; j++, tile += SLM__MM_BLK_BYTES) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const uint8_t *b = w + (size_t)8 * k * rb + (size_t)j * SLM__Q4_0_SIZE;
            __m256i r[4];
            /* byte i of qs: element i (low nibble) and i + 16 (high) */
            dwords8(b + 2, rb, r);
#pragma GCC unroll 4
            for (int m = 0; m < 4; m++) {
                _mm256_store_si256((__m256i *)(tile + MM_OFF(k / 2, m, k % 2)),
                                   _mm256_and_si256(r[m], m4));
                _mm256_store_si256((__m256i *)(tile + MM_OFF(k / 2, m + 4, k % 2)),
                                   _mm256_and_si256(_mm256_srli_epi16(r[m], 4), m4));
            }
            _mm256_store_ps((float *)(tile + MM_SCALES) + 8 * k, scales8(b, row_off));
        }
    }
}

/* Packs rows 0..15 of the Q8_0 matrix at w into the tile, rows 8p..8p+7
 * in pass p: q = 16 (h - 8) + l split into its low nibble l (register 0)
 * and h = (q >> 4) + 8 (register 1), both in 0..15. */
INL T2 void pack_q8_0(uint8_t *tile, const uint8_t *w, size_t rb, int nblk, __m256i row_off)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), c8 = _mm256_set1_epi8(8);
    for (int j = 0; j < nblk; j++, tile += SLM__MM_BLK_BYTES) {
#pragma GCC unroll 2
        for (int p = 0; p < 2; p++) {
            const uint8_t *b = w + (size_t)8 * p * rb + (size_t)j * SLM__Q8_0_SIZE;
#pragma GCC unroll 2
            for (int half = 0; half < 2; half++) {
                __m256i r[4];
                dwords8(b + 2 + 16 * half, rb, r);
#pragma GCC unroll 4
                for (int m = 0; m < 4; m++) {
                    uint8_t *t = tile + MM_OFF(p, 4 * half + m, 0);
                    _mm256_store_si256((__m256i *)t, _mm256_and_si256(r[m], m4));
                    _mm256_store_si256(
                        (__m256i *)(t + 32),
                        _mm256_xor_si256(_mm256_and_si256(_mm256_srli_epi16(r[m], 4), m4), c8));
                }
            }
            _mm256_store_ps((float *)(tile + MM_SCALES) + 8 * p, scales8(b, row_off));
        }
    }
}

/* Per vector b and block j: its scale dx[b * nblk + j] and the int16
 * pair the accumulators of the codes with offset 8 (Q4_0's q, Q8_0's h)
 * start from: -8 * the sum of x over elements 4i, 4i+1 (low half) and
 * 4i+2, 4i+3 (high half). Each sum is at most 16 * 128 in size, so -8
 * times it fits. */
INL T2 void act_aux(const uint8_t *xq, size_t xs, int nb, int nblk, float *dx, int32_t *corr)
{
    const __m256i ones = _mm256_set1_epi8(1);
    for (int b = 0; b < nb; b++) {
        const uint8_t *x = xq + (size_t)b * xs;
        for (int j = 0; j < nblk; j++, x += SLM__Q8_0_SIZE) {
            dx[(size_t)b * nblk + j] = _cvtsh_ss(slm_rd16(x));
            /* int16 k = x[2k] + x[2k+1]; dword i = (x[4i..4i+1], x[4i+2..4i+3]) */
            __m256i s = _mm256_maddubs_epi16(ones, _mm256_loadu_si256((const __m256i *)(x + 2)));
            __m128i s4 = _mm_add_epi16(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            s4 = _mm_add_epi16(s4, _mm_shuffle_epi32(s4, 0x4e));
            s4 = _mm_add_epi16(s4, _mm_shuffle_epi32(s4, 0xb1));
            s4 = _mm_mullo_epi16(s4, _mm_set1_epi16(-8));
            corr[(size_t)b * nblk + j] = _mm_cvtsi128_si32(s4);
        }
    }
}

/* v, as is, through an empty asm: the integer accumulators' chains of
 * adds stay chains (GCC would reassociate them into trees of partial sums
 * computed ahead and spilled out of the 16 registers). */
INL T2 __m256i keep(__m256i v)
{
    __asm__("" : "+x"(v));
    return v;
}

/* Pass p of a packed tile against vectors t < NT (at x + t * xs):
 * y[t * ldy + 0 .. 16) (Q4_0) or 0 .. 8) (Q8_0). */
INL T2 void mm_pass(const uint8_t *tile, int p, int nblk, const uint8_t *x, size_t xs,
                    const float *dx, const int32_t *corr, float *y, size_t ldy, const int NT,
                    const bool q8)
{
    const int R = q8 ? 1 : 2; /* registers of 8 rows */
    const __m256i ones = _mm256_set1_epi16(1), c16 = _mm256_set1_epi16(16);
    __m256 acc[MM_NT_MAX][2];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++)
#pragma GCC unroll 2
        for (int k = 0; k < R; k++)
            acc[t][k] = _mm256_setzero_ps();
    for (int j = 0; j < nblk; j++) {
        const uint8_t *tb = tile + (size_t)j * SLM__MM_BLK_BYTES + MM_OFF(p, 0, 0);
        const float *ds = (const float *)(tile + (size_t)j * SLM__MM_BLK_BYTES + MM_SCALES);
        const uint8_t *xt[MM_NT_MAX];
        /* Q4_0: ia[t][k] for rows 8k..; Q8_0: ia[t][0] the l, ia[t][1] the h */
        __m256i ia[MM_NT_MAX][2];
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            xt[t] = x + (size_t)t * xs + (size_t)j * SLM__Q8_0_SIZE + 2;
            __m256i c = _mm256_set1_epi32(corr[(size_t)t * nblk + j]);
            ia[t][0] = q8 ? _mm256_setzero_si256() : c;
            ia[t][1] = c;
        }
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m256i xv[MM_NT_MAX];
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++)
                xv[t] = _mm256_set1_epi32((int)slm_rd32(xt[t] + 4 * g));
#pragma GCC unroll 2
            for (int k = 0; k < 2; k++) {
                __m256i w = _mm256_load_si256((const __m256i *)(tb + MM_OFF(0, g, k)));
#pragma GCC unroll 4
                for (int t = 0; t < NT; t++)
                    ia[t][k] = keep(_mm256_add_epi16(ia[t][k], _mm256_maddubs_epi16(w, xv[t])));
            }
        }
#pragma GCC unroll 2
        for (int k = 0; k < R; k++) {
            __m256 d = _mm256_load_ps(ds + 8 * (R * p + k));
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++) {
                __m256i i32 = q8 ? _mm256_add_epi32(_mm256_madd_epi16(ia[t][0], ones),
                                                    _mm256_madd_epi16(ia[t][1], c16))
                                 : _mm256_madd_epi16(ia[t][k], ones);
                acc[t][k] = _mm256_fmadd_ps(
                    _mm256_cvtepi32_ps(i32),
                    _mm256_mul_ps(d, _mm256_set1_ps(dx[(size_t)t * nblk + j])), acc[t][k]);
            }
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++)
#pragma GCC unroll 2
        for (int k = 0; k < R; k++)
            _mm256_storeu_ps(y + (size_t)t * ldy + 8 * k, acc[t][k]);
}

/* All vectors against pass p of the packed tile, NT at a time. */
INL T2 void mm_passes(const uint8_t *tile, int p, int nblk, int nb, const uint8_t *xq, size_t xs,
                      const float *dx, const int32_t *corr, float *y, size_t ldy, const int NT,
                      const bool q8)
{
    int b = 0;
    for (; b + NT <= nb; b += NT)
        mm_pass(tile, p, nblk, xq + (size_t)b * xs, xs, dx + (size_t)b * nblk,
                corr + (size_t)b * nblk, y + (size_t)b * ldy, ldy, NT, q8);
    const uint8_t *x = xq + (size_t)b * xs;
    const float *d = dx + (size_t)b * nblk;
    const int32_t *c = corr + (size_t)b * nblk;
    y += (size_t)b * ldy;
    if (NT > 2 && nb - b == 2)
        mm_pass(tile, p, nblk, x, xs, d, c, y, ldy, 2, q8);
    else if (NT > 1 && nb - b == 1)
        mm_pass(tile, p, nblk, x, xs, d, c, y, ldy, 1, q8);
}

INL T2 void matmat(int n, int rows, int nb, float *y, size_t ldy, const uint8_t *W, size_t rb,
                   const uint8_t *xq, size_t xs, uint8_t *scratch, const bool q8)
{
    const int nblk = n / 32, tile_rows = q8 ? 16 : 32;
    float *dx = (float *)(scratch + (size_t)nblk * SLM__MM_BLK_BYTES);
    int32_t *corr = (int32_t *)(dx + (size_t)nb * nblk);
    const __m256i row_off =
        _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)rb));
    act_aux(xq, xs, nb, nblk, dx, corr);

    int r0 = 0;
    for (; r0 + tile_rows <= rows; r0 += tile_rows) {
        if (q8)
            pack_q8_0(scratch, W + (size_t)r0 * rb, rb, nblk, row_off);
        else
            pack_q4_0(scratch, W + (size_t)r0 * rb, rb, nblk, row_off);
        for (int p = 0; p < 2; p++) {
            float *yp = y + r0 + tile_rows / 2 * p;
            if (q8)
                mm_passes(scratch, p, nblk, nb, xq, xs, dx, corr, yp, ldy, MM_NT8, true);
            else
                mm_passes(scratch, p, nblk, nb, xq, xs, dx, corr, yp, ldy, MM_NT4, false);
        }
    }
    if (r0 < rows)
        slm__matvec_each(slm__qops_avx2(q8 ? SLM_Q_Q8_0 : SLM_Q_Q4_0), n, rows - r0, nb, y + r0,
                         ldy, W + (size_t)r0 * rb, rb, xq, xs);
}

T2 void slm__q4_0_matmat_avx2(int n, int rows, int nb, float *y, size_t ldy, const void *W,
                              size_t row_bytes, const void *xq, size_t xq_stride, void *scratch)
{
    matmat(n, rows, nb, y, ldy, W, row_bytes, xq, xq_stride, scratch, false);
}

T2 void slm__q8_0_matmat_avx2(int n, int rows, int nb, float *y, size_t ldy, const void *W,
                              size_t row_bytes, const void *xq, size_t xq_stride, void *scratch)
{
    matmat(n, rows, nb, y, ldy, W, row_bytes, xq, xq_stride, scratch, true);
}
