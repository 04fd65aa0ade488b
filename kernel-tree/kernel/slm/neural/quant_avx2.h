/*
 * quant_avx2.h - what quant_avx2.c, quant_mm_avx2.c and vops_avx2.c
 * share: the target attribute and the horizontal sums. Private to them.
 */
#ifndef AUTON_SLM_QUANT_AVX2_H
#define AUTON_SLM_QUANT_AVX2_H

/* GCC's immintrin.h includes libc's <stdlib.h> through mm_malloc.h, even
 * freestanding; the engine uses no _mm_malloc, so skip that header. */
#define _MM_MALLOC_H_INCLUDED
#include <immintrin.h>

#include "quant_impl.h"

#define T2 __attribute__((target("avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline))

INL T2 float hsum128(__m128 v)
{
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    v = _mm_add_ss(v, _mm_movehdup_ps(v));
    return _mm_cvtss_f32(v);
}

INL T2 float hsum256(__m256 v)
{
    return hsum128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}

#endif
