/*
 * vops.c - the portable forms of the forward pass's vector helpers (struct
 * slm_vops in quant.h): attention through a table's own dot and axpy, and
 * the scalar references of silu_mul and argmax (sampler.c's slm_argmax). The scalar and SSE2 tables
 * use them as they are; the AVX2 and AVX-512 tables have their own and are
 * tested against these.
 */
#include "quant_impl.h"
#include "sampler.h"

void slm__attn_head_generic(const struct slm_vops *vo, int hd, int n, size_t stride,
                            const uint16_t *k, const uint16_t *v, const float *q, float scale,
                            float *att, float *out)
{
    float max = -KM_INFINITY;
    for (int t = 0; t < n; t++) {
        att[t] = vo->dot_f16_f32(hd, k + (size_t)t * stride, q) * scale;
        max = att[t] > max ? att[t] : max;
    }
    float sum = 0.0f;
    for (int t = 0; t < n; t++) {
        att[t] = km_expf(att[t] - max);
        sum += att[t];
    }
    float inv = 1.0f / sum;
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int t = 0; t < n; t++)
        vo->axpy_f16_f32(hd, att[t] * inv, v + (size_t)t * stride, out);
}

void slm__silu_mul_ref(int n, float *g, const float *u)
{
    for (int i = 0; i < n; i++)
        g[i] = g[i] / (1.0f + km_expf(-g[i])) * u[i];
}

uint32_t slm__argmax_ref(int n, const float *x)
{
    return (uint32_t)slm_argmax(x, (uint32_t)n);
}
