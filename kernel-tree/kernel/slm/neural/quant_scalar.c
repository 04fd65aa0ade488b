/*
 * quant_scalar.c - the reference kernels: plain C, one element at a time.
 *
 * Every SIMD variant is tested against these. Also home of the weight
 * quantizers (ggml's reference algorithms: quantize_row_q4_0_ref,
 * make_qkx2_quants for Q4_K, make_qx_quants for Q6_K), which all variants
 * share because they run once, when a model is forged, not per token.
 */
#include "quant_impl.h"

/* ---- float formats ---------------------------------------------------- */

void slm__f32_copy(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void slm__f32_to_float(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static void f16_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = slm_f16_to_f32(slm_rd16(p + 2 * i));
}

static void f16_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = slm_f32_to_f16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

static void bf16_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = slm_bf16_to_f32(slm_rd16(p + 2 * i));
}

static void bf16_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = slm_f32_to_bf16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

static void f32_vec_dot(int n, float *s, const void *vx, const void *vy)
{
    const uint8_t *x = vx;
    const float *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += slm__rdf32(x + 4 * i) * y[i];
    *s = sum;
}

static void f16_vec_dot(int n, float *s, const void *vx, const void *vy)
{
    const uint8_t *x = vx;
    const float *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += slm__f16(x + 2 * i) * y[i];
    *s = sum;
}

static void bf16_vec_dot(int n, float *s, const void *vx, const void *vy)
{
    const uint8_t *x = vx;
    const float *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += slm_bf16_to_f32(slm_rd16(x + 2 * i)) * y[i];
    *s = sum;
}

/* ---- Q8_0 --------------------------------------------------------------- */

static void q8_0_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += SLM__Q8_0_SIZE) {
        float d = slm__f16(b);
        for (int j = 0; j < 32; j++)
            *dst++ = (float)(int8_t)b[2 + j] * d;
    }
}

/* amax/127 scale, ties to even (ggml's SIMD quantize_row_q8_0; the _ref
 * uses roundf, which differs only on exact .5 ties). */
void slm__q8_0_from_float_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++, b += SLM__Q8_0_SIZE, src += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            amax = SLM_MAX(amax, km_fabsf(src[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t h = slm_f32_to_f16(d);
        memcpy(b, &h, 2);
        for (int j = 0; j < 32; j++)
            b[2 + j] = (uint8_t)(int8_t)slm__nearest_int(src[j] * id);
    }
}

static void q8_0_vec_dot(int n, float *s, const void *vx, const void *vy)
{
    const uint8_t *x = vx, *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / 32; i++, x += SLM__Q8_0_SIZE, y += SLM__Q8_0_SIZE) {
        int isum = 0;
        for (int j = 0; j < 32; j++)
            isum += (int8_t)x[2 + j] * (int8_t)y[2 + j];
        sum += (float)isum * (slm__f16(x) * slm__f16(y));
    }
    *s = sum;
}

/* ---- Q4_0 --------------------------------------------------------------- */

static void q4_0_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, b += SLM__Q4_0_SIZE, dst += 32) {
        float d = slm__f16(b);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)((b[2 + j] & 0x0f) - 8) * d;
            dst[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
        }
    }
}

/* quantize_row_q4_0_ref: d = max / -8 where max is the value of largest
 * magnitude, so that value maps to -8 exactly. */
void slm__q4_0_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++, b += SLM__Q4_0_SIZE, src += 32) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; j++) {
            if (amax < km_fabsf(src[j])) {
                amax = km_fabsf(src[j]);
                max = src[j];
            }
        }
        float d = max / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t h = slm_f32_to_f16(d);
        memcpy(b, &h, 2);
        for (int j = 0; j < 16; j++) {
            int q0 = SLM_MIN(15, (int)(src[j] * id + 8.5f));
            int q1 = SLM_MIN(15, (int)(src[j + 16] * id + 8.5f));
            b[2 + j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void q4_0_vec_dot(int n, float *s, const void *vx, const void *vy)
{
    const uint8_t *x = vx, *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / 32; i++, x += SLM__Q4_0_SIZE, y += SLM__Q8_0_SIZE) {
        int isum = 0;
        for (int j = 0; j < 16; j++) {
            isum += ((x[2 + j] & 0x0f) - 8) * (int8_t)y[2 + j];
            isum += ((x[2 + j] >> 4) - 8) * (int8_t)y[2 + 16 + j];
        }
        sum += (float)isum * (slm__f16(x) * slm__f16(y));
    }
    *s = sum;
}

/* ---- Q8_K (activations for the K-quants) --------------------------------- */

void slm__q8_k_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += SLM__Q8_K_SIZE) {
        float d = slm__rdf32(b);
        for (int j = 0; j < 256; j++)
            *dst++ = (float)(int8_t)b[SLM__Q8_K_QS + j] * d;
    }
}

static void q8_k_store_bsums(uint8_t *b)
{
    for (int g = 0; g < 16; g++) {
        int sum = 0;
        for (int j = 0; j < 16; j++)
            sum += (int8_t)b[SLM__Q8_K_QS + 16 * g + j];
        int16_t v = (int16_t)sum;
        memcpy(b + SLM__Q8_K_BSUMS + 2 * g, &v, 2);
    }
}

/* quantize_row_q8_K_ref: scale -127/max, max being the first value of
 * largest magnitude (its sign is part of the format's bit pattern). */
void slm__q8_k_from_float_ref(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++, b += SLM__Q8_K_SIZE, src += 256) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 256; j++) {
            if (km_fabsf(src[j]) > amax) {
                amax = km_fabsf(src[j]);
                max = src[j];
            }
        }
        float iscale = amax != 0.0f ? -127.0f / max : 0.0f;
        float d = amax != 0.0f ? 1.0f / iscale : 0.0f;
        memcpy(b, &d, 4);
        for (int j = 0; j < 256; j++)
            b[SLM__Q8_K_QS + j] = (uint8_t)(int8_t)SLM_MIN(127, slm__nearest_int(iscale * src[j]));
        q8_k_store_bsums(b);
    }
}

/* ---- Q4_K --------------------------------------------------------------- */

void slm__q4_k_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += SLM__Q4_K_SIZE) {
        float d = slm__f16(b), dmin = slm__f16(b + 2);
        uint64_t sc, m;
        slm__q4_k_scales(b + SLM__Q4_K_SCALES, &sc, &m);
        const uint8_t *q = b + SLM__Q4_K_QS;
        for (int j = 0; j < 4; j++, q += 32) {
            float d1 = d * (float)(uint8_t)(sc >> 16 * j),
                  m1 = dmin * (float)(uint8_t)(m >> 16 * j);
            float d2 = d * (float)(uint8_t)(sc >> (16 * j + 8));
            float m2 = dmin * (float)(uint8_t)(m >> (16 * j + 8));
            for (int l = 0; l < 32; l++)
                *dst++ = d1 * (float)(q[l] & 0x0f) - m1;
            for (int l = 0; l < 32; l++)
                *dst++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

/* sum_j sc_j * dot(q4_j, q8_j) - (dmin/d) * sum_j m_j * sum(q8_j), per
 * block in integers, then scaled: ggml's vec_dot_q4_K_q8_K. */
static void q4_k_vec_dot(int n, float *s, const void *vx, const void *vy)
{
    const uint8_t *x = vx, *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / 256; i++, x += SLM__Q4_K_SIZE, y += SLM__Q8_K_SIZE) {
        uint64_t sc, m;
        slm__q4_k_scales(x + SLM__Q4_K_SCALES, &sc, &m);
        const uint8_t *q4 = x + SLM__Q4_K_QS;
        const int8_t *q8 = (const int8_t *)(y + SLM__Q8_K_QS);
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            int dot = 0;
            for (int l = 0; l < 32; l++) {
                int q = (j & 1) ? q4[32 * (j / 2) + l] >> 4 : q4[32 * (j / 2) + l] & 0x0f;
                dot += q * q8[32 * j + l];
            }
            int bsum = (int16_t)slm_rd16(y + SLM__Q8_K_BSUMS + 4 * j) +
                       (int16_t)slm_rd16(y + SLM__Q8_K_BSUMS + 4 * j + 2);
            sumi += (int)(uint8_t)(sc >> 8 * j) * dot;
            summ += (int)(uint8_t)(m >> 8 * j) * bsum;
        }
        float dy = slm__rdf32(y);
        sum += slm__f16(x) * dy * (float)sumi - slm__f16(x + 2) * dy * (float)summ;
    }
    *s = sum;
}

/* ggml's make_qkx2_quants: fit x ~ scale * L - min with L in [0, nmax],
 * trying nstep+1 scales around nmax / (max - min) and keeping the one with
 * the least weighted error. Returns scale; *the_min receives min >= 0. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *w, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep)
{
    float min = x[0], max = x[0], sum_w = w[0], sum_x = w[0] * x[0];
    for (int i = 1; i < n; i++) {
        min = x[i] < min ? x[i] : min;
        max = x[i] > max ? x[i] : max;
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0)
        min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)SLM_MAX(0, SLM_MIN(nmax, slm__nearest_int(iscale * (x[i] - min))));
        float diff = scale * L[i] + min - x[i];
        best += w[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = SLM_MAX(0, SLM_MIN(nmax, slm__nearest_int(iscale * (x[i] - min))));
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)l * (float)l;
            sum_xl += w[i] * (float)l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D <= 0)
            continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float err = 0;
        for (int i = 0; i < n; i++) {
            float diff = this_scale * Laux[i] + this_min - x[i];
            err += w[i] * (diff * diff);
        }
        if (err < best) {
            memcpy(L, Laux, (size_t)n);
            best = err;
            scale = this_scale;
            min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}

/* Packs 6-bit scale ls and min lm of sub-block j into the 12 bytes. */
static void q4_k_put_scale(uint8_t *s, int j, int ls, int lm)
{
    if (j < 4) {
        s[j] = (uint8_t)ls;
        s[j + 4] = (uint8_t)lm;
    } else {
        s[j + 4] = (uint8_t)((ls & 0xf) | (lm & 0xf) << 4);
        s[j - 4] |= (uint8_t)((ls >> 4) << 6);
        s[j] |= (uint8_t)((lm >> 4) << 6);
    }
}

/* Final 4-bit codes against the rounded (6-bit, f16) scales and mins. */
static void q4_k_requantize(const float *x, uint8_t *b, uint8_t *L)
{
    uint64_t sc, m;
    slm__q4_k_scales(b + SLM__Q4_K_SCALES, &sc, &m);
    for (int j = 0; j < 8; j++) {
        float d = slm__f16(b) * (float)(uint8_t)(sc >> 8 * j);
        if (d == 0.0f)
            continue;
        float dm = slm__f16(b + 2) * (float)(uint8_t)(m >> 8 * j);
        for (int i = 0; i < 32; i++)
            L[32 * j + i] =
                (uint8_t)SLM_MAX(0, SLM_MIN(15, slm__nearest_int((x[32 * j + i] + dm) / d)));
    }
    uint8_t *q = b + SLM__Q4_K_QS;
    for (int j = 0; j < 256; j += 64, q += 32)
        for (int l = 0; l < 32; l++)
            q[l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
}

/* quantize_row_q4_K_ref. */
void slm__q4_k_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    uint8_t L[256], Laux[32];
    float w[32], mins[8], scales[8];
    for (int64_t i = 0; i < n / 256; i++, b += SLM__Q4_K_SIZE, src += 256) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; j++) {
            const float *x = src + 32 * j;
            float sum_x2 = 0;
            for (int l = 0; l < 32; l++)
                sum_x2 += x[l] * x[l];
            float av_x = km_sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; l++)
                w[l] = av_x + km_fabsf(x[l]);
            scales[j] = make_qkx2_quants(32, 15, x, w, L + 32 * j, &mins[j], Laux, -1.0f, 0.1f, 20);
            max_scale = SLM_MAX(max_scale, scales[j]);
            max_min = SLM_MAX(max_min, mins[j]);
        }
        float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
        float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
        memset(b, 0, SLM__Q4_K_SIZE);
        for (int j = 0; j < 8; j++) {
            int ls = SLM_MIN(63, (uint8_t)slm__nearest_int(inv_scale * scales[j]));
            int lm = SLM_MIN(63, (uint8_t)slm__nearest_int(inv_min * mins[j]));
            q4_k_put_scale(b + SLM__Q4_K_SCALES, j, ls, lm);
        }
        uint16_t hd = slm_f32_to_f16(max_scale / 63.0f), hm = slm_f32_to_f16(max_min / 63.0f);
        memcpy(b, &hd, 2);
        memcpy(b + 2, &hm, 2);
        q4_k_requantize(src, b, L);
    }
}

/* ---- Q6_K --------------------------------------------------------------- */

/* The 256 signed codes (c - 32, c = ql nibble | 2 qh bits << 4) of a Q6_K
 * block in element order: per 128 elements, ql[0:32) low nibbles are
 * elements [0:32), ql[32:64) low [32:64), the high nibbles [64:96) and
 * [96:128); qh bits 0-1, 2-3, 4-5, 6-7 go with those four quarters. */
static void q6_k_codes(const uint8_t *b, int8_t *q)
{
    const uint8_t *ql = b, *qh = b + SLM__Q6_K_QH;
    for (int h = 0; h < 2; h++, ql += 64, qh += 32, q += 128) {
        for (int l = 0; l < 32; l++) {
            q[l] = (int8_t)(((ql[l] & 0xf) | ((qh[l] >> 0) & 3) << 4) - 32);
            q[l + 32] = (int8_t)(((ql[l + 32] & 0xf) | ((qh[l] >> 2) & 3) << 4) - 32);
            q[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
            q[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
        }
    }
}

void slm__q6_k_to_float(const void *src, float *dst, int64_t n)
{
    const uint8_t *b = src;
    int8_t q[256];
    for (int64_t i = 0; i < n / 256; i++, b += SLM__Q6_K_SIZE, dst += 256) {
        float d = slm__f16(b + SLM__Q6_K_D);
        q6_k_codes(b, q);
        for (int e = 0; e < 256; e++)
            dst[e] = d * (float)(int8_t)b[SLM__Q6_K_SC + e / 16] * (float)q[e];
    }
}

/* sum_j sc_j * dot(q6_j, q8_j) over the 16 sub-blocks of 16, in integers. */
static void q6_k_vec_dot(int n, float *s, const void *vx, const void *vy)
{
    const uint8_t *x = vx, *y = vy;
    int8_t q[256];
    float sum = 0.0f;
    for (int i = 0; i < n / 256; i++, x += SLM__Q6_K_SIZE, y += SLM__Q8_K_SIZE) {
        q6_k_codes(x, q);
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int dot = 0;
            for (int l = 0; l < 16; l++)
                dot += q[16 * j + l] * (int8_t)y[SLM__Q8_K_QS + 16 * j + l];
            sumi += (int8_t)x[SLM__Q6_K_SC + j] * dot;
        }
        sum += slm__f16(x + SLM__Q6_K_D) * slm__rdf32(y) * (float)sumi;
    }
    *s = sum;
}

/* ggml's make_qx_quants with rmse_type 1 (weights x^2): L in [0, 2*nmax),
 * scale refined by least squares over 19 candidate inverse scales. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        if (km_fabsf(x[i]) > amax) {
            amax = km_fabsf(x[i]);
            max = x[i];
        }
    }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -(float)nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = SLM_MAX(-nmax, SLM_MIN(nmax - 1, slm__nearest_int(iscale * x[i])));
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = SLM_MAX(-nmax, SLM_MIN(nmax - 1, slm__nearest_int(iscale * x[i])));
            float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax +
                                SLM_MAX(-nmax, SLM_MIN(nmax - 1, slm__nearest_int(iscale * x[i]))));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

static void q6_k_pack(const int8_t *L, uint8_t *b)
{
    uint8_t *ql = b, *qh = b + SLM__Q6_K_QH;
    for (int j = 0; j < 256; j += 128, ql += 64, qh += 32) {
        for (int l = 0; l < 32; l++) {
            int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
            ql[l] = (uint8_t)((q1 & 0xf) | (q3 & 0xf) << 4);
            ql[l + 32] = (uint8_t)((q2 & 0xf) | (q4 & 0xf) << 4);
            qh[l] = (uint8_t)((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
        }
    }
}

/* quantize_row_q6_K_ref. */
void slm__q6_k_from_float(const float *src, void *dst, int64_t n)
{
    uint8_t *b = dst;
    int8_t L[256];
    float scales[16];
    for (int64_t i = 0; i < n / 256; i++, b += SLM__Q6_K_SIZE, src += 256) {
        float max_scale = 0, max_abs = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = make_qx_quants(16, 32, src + 16 * j, L + 16 * j);
            if (km_fabsf(scales[j]) > max_abs) {
                max_abs = km_fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        memset(b, 0, SLM__Q6_K_SIZE);
        if (max_abs < 1e-15f)
            continue; /* all zero: d = 0, every code 0 */
        float iscale = -128.0f / max_scale;
        uint16_t hd = slm_f32_to_f16(1 / iscale);
        memcpy(b + SLM__Q6_K_D, &hd, 2);
        for (int j = 0; j < 16; j++)
            b[SLM__Q6_K_SC + j] =
                (uint8_t)(int8_t)SLM_MIN(127, slm__nearest_int(iscale * scales[j]));
        for (int j = 0; j < 16; j++) {
            float d = slm__f16(b + SLM__Q6_K_D) * (float)(int8_t)b[SLM__Q6_K_SC + j];
            if (d == 0.0f)
                continue;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] =
                    (int8_t)(SLM_MAX(-32, SLM_MIN(31, slm__nearest_int(src[16 * j + l] / d))) + 32);
        }
        q6_k_pack(L, b);
    }
}

/* ---- table -------------------------------------------------------------- */

/* The reference matvec: one vec_dot per row. */
#define SCALAR_MATVEC(name)                                                                        \
    static void name##_matvec(int n, int nrows, float *y, const void *W, size_t rb,                \
                              const void *xq)                                                      \
    {                                                                                              \
        for (int r = 0; r < nrows; r++)                                                            \
            name##_vec_dot(n, y + r, (const uint8_t *)W + (size_t)r * rb, xq);                     \
    }
SCALAR_MATVEC(f32)
SCALAR_MATVEC(f16)
SCALAR_MATVEC(bf16)
SCALAR_MATVEC(q8_0)
SCALAR_MATVEC(q4_0)
SCALAR_MATVEC(q4_k)
SCALAR_MATVEC(q6_k)

static const struct slm_qops ops[] = {
    {SLM_Q_F32, SLM_Q_F32, slm__f32_to_float, slm__f32_copy, f32_vec_dot, f32_matvec, NULL},
    {SLM_Q_F16, SLM_Q_F32, f16_to_float, f16_from_float, f16_vec_dot, f16_matvec, NULL},
    {SLM_Q_BF16, SLM_Q_F32, bf16_to_float, bf16_from_float, bf16_vec_dot, bf16_matvec, NULL},
    {SLM_Q_Q8_0, SLM_Q_Q8_0, q8_0_to_float, slm__q8_0_from_float_ref, q8_0_vec_dot, q8_0_matvec, NULL},
    {SLM_Q_Q4_0, SLM_Q_Q8_0, q4_0_to_float, slm__q4_0_from_float, q4_0_vec_dot, q4_0_matvec, NULL},
    {SLM_Q_Q4_K, SLM_Q_Q8_K, slm__q4_k_to_float, slm__q4_k_from_float, q4_k_vec_dot, q4_k_matvec, NULL},
    {SLM_Q_Q6_K, SLM_Q_Q8_K, slm__q6_k_to_float, slm__q6_k_from_float, q6_k_vec_dot, q6_k_matvec, NULL},
    {SLM_Q_Q8_K, SLM_Q_Q8_K, slm__q8_k_to_float, slm__q8_k_from_float_ref, NULL, NULL, NULL},
};

const struct slm_qops *slm__qops_scalar(uint32_t type)
{
    for (size_t i = 0; i < SLM_ARRAY_SIZE(ops); i++)
        if (ops[i].type == type)
            return &ops[i];
    return NULL;
}

/* ---- vops --------------------------------------------------------------- */

static float v_dot_f32(int n, const float *a, const float *b)
{
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

static float v_dot_f16_f32(int n, const uint16_t *a, const float *b)
{
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += slm_f16_to_f32(a[i]) * b[i];
    return sum;
}

static void v_axpy_f16_f32(int n, float a, const uint16_t *x, float *y)
{
    for (int i = 0; i < n; i++)
        y[i] += a * slm_f16_to_f32(x[i]);
}

static void v_f32_to_f16(int n, const float *x, uint16_t *y)
{
    for (int i = 0; i < n; i++)
        y[i] = slm_f32_to_f16(x[i]);
}

static void v_attn_head(int hd, int n, size_t stride, const uint16_t *k, const uint16_t *v,
                        const float *q, float scale, float *att, float *out)
{
    slm__attn_head_generic(&slm__vops_scalar, hd, n, stride, k, v, q, scale, att, out);
}

const struct slm_vops slm__vops_scalar = {v_dot_f32,   v_dot_f16_f32,     v_axpy_f16_f32,
                                        v_f32_to_f16, v_attn_head, slm__silu_mul_ref,
                                        slm__argmax_ref};
