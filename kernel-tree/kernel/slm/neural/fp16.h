/*
 * fp16.h - IEEE half and bfloat16 <-> float conversions, in software.
 *
 * Scalar and exact (round to nearest even), so every ISA variant and the
 * kernel agree bit for bit; SIMD variants may use F16C, which gives the
 * same results.
 */
#ifndef AUTON_SLM_FP16_H
#define AUTON_SLM_FP16_H

#include "slm_port.h"

static inline uint32_t slm_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float slm_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float slm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) /* inf / nan */
        return slm_bits_f32(sign | 0x7f800000 | (man << 13));
    if (exp == 0) {
        if (man == 0)
            return slm_bits_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return slm_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline uint16_t slm_f32_to_f16(float f)
{
    uint32_t u = slm_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t exp = (u >> 23) & 0xff, man = u & 0x7fffff;
    if (exp == 0xff) /* inf / nan (keep nan quiet) */
        return sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0);
    int32_t e = (int32_t)exp - 112; /* rebias 127 -> 15 */
    if (e >= 0x1f)
        return sign | 0x7c00; /* overflow -> inf */
    if (e <= 0) {
        if (e < -10)
            return sign; /* underflow -> signed zero */
        man |= 0x800000; /* implicit bit */
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return sign | (uint16_t)half;
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
        half++; /* may carry into the exponent: still correct, up to inf */
    return sign | (uint16_t)half;
}

static inline float slm_bf16_to_f32(uint16_t h)
{
    return slm_bits_f32((uint32_t)h << 16);
}

static inline uint16_t slm_f32_to_bf16(float f)
{
    uint32_t u = slm_f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000)
        return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

#endif
