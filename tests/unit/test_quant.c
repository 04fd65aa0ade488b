/*
 * test_quant.c - the quantized tensor kernels (quant.h): block formats
 * against hand-built blocks, quantization error on Gaussian data, and every
 * SIMD variant against the scalar reference.
 *
 * Tolerances (measured on Gaussian data, then given a margin):
 *   round trip, RMS error / RMS of the data (measured with the reference
 *   quantizers, sigma 0.05, 16384 values):
 *     F32 0; F16 2.1e-4 < 4e-4; BF16 1.65e-3 < 3e-3; Q8_0 5.3e-3 < 0.01;
 *     Q8_K 6.9e-3 < 0.01; Q4_0 0.0856 < 0.12; Q4_K 0.0708 < 0.08;
 *     Q6_K 0.0177 < 0.03
 *   to_float, from_float: bit-identical across variants (non-NaN data;
 *     NaN payloads only need to stay NaN, see test_f16_edges)
 *   vec_dot, matvec: |variant - scalar| <= 2e-6 * sum|w_i y_i| (worst seen
 *     1.5e-7): the integer block products are exact, only the float
 *     summation order differs
 *   vec_dot against double dequantize-then-dot: 2e-6 * sum|w_i y_i|
 *   vops: dot within 2e-6 * sum|a_i b_i|, axpy within 1e-6 * (|y| + |a x|),
 *     f32_to_f16 bit-identical; attn_head within 1e-5 * max|v|, silu_mul
 *     within 1e-6 relative, argmax exact (test_vops_forward_match_scalar)
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sanitizer/asan_interface.h>

#include "fp16.h"
#include "quant.h"
#include "quant_impl.h"

/* ---- data --------------------------------------------------------------- */

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

static double rng_unit(struct rng *r) /* (0, 1) */
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static float rng_gauss(struct rng *r)
{
    return (float)(sqrt(-2.0 * log(rng_unit(r))) * cos(6.283185307179586 * rng_unit(r)));
}

static void fill_gauss(struct rng *r, float *x, int n, float sigma)
{
    for (int i = 0; i < n; i++)
        x[i] = sigma * rng_gauss(r);
}

/* A buffer whose returned pointer sits `off` bytes past a 64-byte boundary
 * (weights in a GGUF are at arbitrary offsets), with the bytes after it
 * poisoned so that ASan reports a kernel reading past the end; free with
 * buf_free. */
struct buf_rec {
    uint8_t *p, *raw;
    size_t len;
};
static struct buf_rec bufs[16];

static void *buf_alloc(size_t size, size_t off)
{
    size_t len = size + 128 + off;
    uint8_t *raw = malloc(len);
    assert_non_null(raw);
    uint8_t *p = (uint8_t *)(((uintptr_t)raw + 63) & ~(uintptr_t)63) + off;
    memset(raw, 0, len);
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        if (!bufs[i].p) {
            bufs[i] = (struct buf_rec){p, raw, len};
            ASAN_POISON_MEMORY_REGION(p + size, (size_t)(raw + len - (p + size)));
            return p;
        }
    }
    fail_msg("buf_alloc: too many buffers");
    return NULL;
}

static void buf_free(void *p, size_t off)
{
    (void)off;
    for (size_t i = 0; p && i < sizeof bufs / sizeof bufs[0]; i++) {
        if (bufs[i].p == p) {
            ASAN_UNPOISON_MEMORY_REGION(bufs[i].raw, bufs[i].len);
            free(bufs[i].raw);
            bufs[i].p = NULL;
            return;
        }
    }
}

static size_t row_bytes(uint32_t type, int n)
{
    return slm_qtype_row_bytes(type, (uint64_t)n);
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

/* ---- variants ----------------------------------------------------------- */

struct variant {
    const char *name;
    enum slm_isa isa;
    bool vnni;
};

static const struct variant variants[] = {
    {"scalar", SLM_ISA_SCALAR, false},    {"sse2", SLM_ISA_SSE2, false},
    {"avx2", SLM_ISA_AVX2, false},        {"avx512", SLM_ISA_AVX512, false},
    {"avx512vnni", SLM_ISA_AVX512, true},
};

static bool variant_runs(const struct variant *v)
{
    if (v->isa > slm_cpu_detect())
        return false;
    return !v->vnni || (slm_cpu_features() & SLM_CPU_AVX512_VNNI);
}

static const struct slm_qops *variant_ops(const struct variant *v, uint32_t type)
{
    switch (v->isa) {
    case SLM_ISA_SCALAR:
        return slm__qops_scalar(type);
    case SLM_ISA_SSE2:
        return slm__qops_sse2(type);
    case SLM_ISA_AVX2:
        return slm__qops_avx2(type);
    default:
        return slm__qops_avx512(type, v->vnni);
    }
}

static const struct variant *variant_or_skip(void **state)
{
    const struct variant *v = *state;
    if (!variant_runs(v)) {
        print_message("[  SKIP    ] %s: not supported by this CPU\n", v->name);
        skip();
    }
    return v;
}

static const uint32_t weight_types[] = {SLM_Q_F32,  SLM_Q_F16,  SLM_Q_BF16, SLM_Q_Q8_0,
                                        SLM_Q_Q4_0, SLM_Q_Q4_K, SLM_Q_Q6_K};
static const uint32_t all_types[] = {SLM_Q_F32,  SLM_Q_F16,  SLM_Q_BF16, SLM_Q_Q8_0,
                                     SLM_Q_Q4_0, SLM_Q_Q4_K, SLM_Q_Q6_K, SLM_Q_Q8_K};

static int blck(uint32_t type)
{
    return (int)slm_qtype_info(type)->blck;
}

static const char *tname(uint32_t type)
{
    return slm_qtype_info(type)->name;
}

/* Random but well-formed weights: random code bytes (every code value,
 * including -128 for Q8_0), finite scales of a realistic size. */
static void fill_weights(struct rng *r, uint32_t type, uint8_t *w, int n)
{
    size_t rb = row_bytes(type, n);
    int nb = n / blck(type);
    for (size_t i = 0; i < rb; i++)
        w[i] = (uint8_t)rng_next(r);
    for (int b = 0; b < nb; b++) {
        uint16_t d = slm_f32_to_f16(0.02f * (0.5f + (float)rng_unit(r)));
        uint16_t dm = slm_f32_to_f16(0.01f * (float)rng_unit(r));
        switch (type) {
        case SLM_Q_F32: {
            float f = rng_gauss(r);
            memcpy(w + 4 * b, &f, 4);
            break;
        }
        case SLM_Q_F16:
            put16(w + 2 * b, slm_f32_to_f16(rng_gauss(r)));
            break;
        case SLM_Q_BF16:
            put16(w + 2 * b, slm_f32_to_bf16(rng_gauss(r)));
            break;
        case SLM_Q_Q8_0:
            put16(w + SLM__Q8_0_SIZE * b, d);
            break;
        case SLM_Q_Q4_0:
            put16(w + SLM__Q4_0_SIZE * b, d);
            break;
        case SLM_Q_Q4_K:
            put16(w + SLM__Q4_K_SIZE * b, d);
            put16(w + SLM__Q4_K_SIZE * b + 2, dm);
            break;
        case SLM_Q_Q6_K:
            put16(w + SLM__Q6_K_SIZE * b + SLM__Q6_K_D, d);
            break;
        }
    }
}

/* Activations for `type`'s vec_dot: Gaussian floats through the scalar
 * from_float of vec_dot_type (as the engine produces them). */
static void *make_act(struct rng *r, uint32_t type, int n, size_t off, float *xf)
{
    const struct slm_qops *o = slm__qops_scalar(type);
    const struct slm_qops *a = slm__qops_scalar(o->vec_dot_type);
    fill_gauss(r, xf, n, 1.0f);
    size_t sz = row_bytes(o->vec_dot_type, n);
    /* float activations are read as float[]: keep them float-aligned */
    void *xq = buf_alloc(sz, o->vec_dot_type == SLM_Q_F32 ? 0 : off);
    a->from_float(xf, xq, n);
    return xq;
}

/* sum |w_i y_i| over dequantized weights and activations: the scale of
 * the rounding error a float dot product may carry. */
static double abs_dot(uint32_t type, const void *w, const void *xq, int n)
{
    const struct slm_qops *o = slm__qops_scalar(type);
    float *wf = malloc(sizeof(float) * (size_t)n), *yf = malloc(sizeof(float) * (size_t)n);
    assert_true(wf && yf);
    o->to_float(w, wf, n);
    slm__qops_scalar(o->vec_dot_type)->to_float(xq, yf, n);
    double s = 0;
    for (int i = 0; i < n; i++)
        s += fabs((double)wf[i] * yf[i]);
    free(wf);
    free(yf);
    return s;
}

static double dot_double(uint32_t type, const void *w, const void *xq, int n)
{
    const struct slm_qops *o = slm__qops_scalar(type);
    float *wf = malloc(sizeof(float) * (size_t)n), *yf = malloc(sizeof(float) * (size_t)n);
    assert_true(wf && yf);
    o->to_float(w, wf, n);
    slm__qops_scalar(o->vec_dot_type)->to_float(xq, yf, n);
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)wf[i] * yf[i];
    free(wf);
    free(yf);
    return s;
}

#define DOT_TOL 2e-6

/* ---- detection and tables ----------------------------------------------- */

static void test_cpu_detect_is_a_known_isa(void **state)
{
    (void)state;
    enum slm_isa isa = slm_cpu_detect();
    assert_true(isa >= SLM_ISA_SSE2 && isa <= SLM_ISA_AVX512);
    bool vnni = slm_cpu_features() & SLM_CPU_AVX512_VNNI;
    print_message("cpu: %s%s\n", slm_isa_name(isa), vnni ? "+vnni" : "");
    assert_int_equal(slm_isa_parse("auto"), isa);
    assert_int_equal(slm_isa_parse("scalar"), SLM_ISA_SCALAR);
    assert_int_equal(slm_isa_parse("sse2"), SLM_ISA_SSE2);
    assert_int_equal(slm_isa_parse("avx512"), isa); /* clamped to what the CPU has */
    assert_int_equal(slm_isa_parse("avx3"), -1);
    assert_int_equal(slm_isa_parse(""), -1);
    assert_string_equal(slm_isa_name(SLM_ISA_AVX2), "avx2");
    assert_string_equal(slm_isa_name(SLM_ISA_SCALAR), "scalar");
    if (vnni)
        assert_int_equal(isa, SLM_ISA_AVX512);
}

static void test_tables_cover_the_computable_types(void **state)
{
    (void)state;
    for (int isa = 0; isa < SLM_ISA_COUNT; isa++) {
        for (size_t t = 0; t < sizeof all_types / sizeof all_types[0]; t++) {
            const struct slm_qops *o = slm_qops_get(all_types[t], (enum slm_isa)isa);
            assert_non_null(o);
            assert_int_equal(o->type, all_types[t]);
            assert_non_null(o->to_float);
            assert_non_null(o->from_float);
            bool act_only = all_types[t] == SLM_Q_Q8_K;
            assert_true(act_only ? !o->vec_dot && !o->matvec : o->vec_dot && o->matvec);
        }
        assert_int_equal(slm_qops_get(SLM_Q_Q4_0, (enum slm_isa)isa)->vec_dot_type, SLM_Q_Q8_0);
        assert_int_equal(slm_qops_get(SLM_Q_Q8_0, (enum slm_isa)isa)->vec_dot_type, SLM_Q_Q8_0);
        assert_int_equal(slm_qops_get(SLM_Q_Q4_K, (enum slm_isa)isa)->vec_dot_type, SLM_Q_Q8_K);
        assert_int_equal(slm_qops_get(SLM_Q_Q6_K, (enum slm_isa)isa)->vec_dot_type, SLM_Q_Q8_K);
        assert_int_equal(slm_qops_get(SLM_Q_F16, (enum slm_isa)isa)->vec_dot_type, SLM_Q_F32);
        assert_int_equal(slm_qops_get(SLM_Q_BF16, (enum slm_isa)isa)->vec_dot_type, SLM_Q_F32);
        assert_null(slm_qops_get(SLM_Q_Q4_1, (enum slm_isa)isa));
        assert_null(slm_qops_get(SLM_Q_IQ2_XXS, (enum slm_isa)isa));
        assert_null(slm_qops_get(1000, (enum slm_isa)isa));
        assert_non_null(slm_vops_get((enum slm_isa)isa));
    }
    assert_null(slm_qops_get(SLM_Q_Q4_0, SLM_ISA_COUNT));
    /* AVX-512 dispatch picks the vpdpbusd kernels exactly when the CPU has them */
    bool vnni = slm_cpu_features() & SLM_CPU_AVX512_VNNI;
    assert_ptr_equal(slm_qops_get(SLM_Q_Q4_0, SLM_ISA_AVX512), slm__qops_avx512(SLM_Q_Q4_0, vnni));
    assert_ptr_equal(slm_qops_get(SLM_Q_Q8_0, SLM_ISA_AVX512), slm__qops_avx512(SLM_Q_Q8_0, vnni));
    /* ... and selecting with given feature bits runs no CPUID and obeys them */
    for (int f = 0; f < 2; f++) {
        uint32_t bits = f ? SLM_CPU_AVX512_VNNI : 0;
        assert_ptr_equal(slm_qops_select(SLM_Q_Q4_0, SLM_ISA_AVX512, bits),
                         slm__qops_avx512(SLM_Q_Q4_0, f));
        assert_ptr_equal(slm_qops_select(SLM_Q_Q6_K, SLM_ISA_AVX512, bits),
                         slm__qops_avx512(SLM_Q_Q6_K, f));
        assert_ptr_equal(slm_qops_select(SLM_Q_Q8_0, SLM_ISA_AVX2, bits),
                         slm_qops_get(SLM_Q_Q8_0, SLM_ISA_AVX2));
    }
    assert_null(slm_vops_get(SLM_ISA_COUNT));
}

/* ---- formats: hand-built blocks ------------------------------------------ */

static void test_q4_0_block_dequantizes_nibbles_minus_8(void **state)
{
    (void)state;
    uint8_t b[SLM__Q4_0_SIZE];
    put16(b, 0x3c00); /* d = 1.0 */
    for (int j = 0; j < 16; j++)
        b[2 + j] = (uint8_t)(j | (15 - j) << 4);
    float y[32];
    slm__qops_scalar(SLM_Q_Q4_0)->to_float(b, y, 32);
    for (int j = 0; j < 16; j++) {
        assert_true(y[j] == (float)(j - 8));
        assert_true(y[j + 16] == (float)(7 - j));
    }
    put16(b, 0xc000); /* d = -2.0 */
    slm__qops_scalar(SLM_Q_Q4_0)->to_float(b, y, 32);
    assert_true(y[0] == 16.0f && y[15] == -14.0f && y[16] == -14.0f);
}

static void test_q8_0_block_dequantizes_d_times_q(void **state)
{
    (void)state;
    uint8_t b[SLM__Q8_0_SIZE];
    put16(b, 0x3800); /* d = 0.5 */
    for (int j = 0; j < 32; j++)
        b[2 + j] = (uint8_t)(int8_t)(j * 8 - 128);
    float y[32];
    slm__qops_scalar(SLM_Q_Q8_0)->to_float(b, y, 32);
    for (int j = 0; j < 32; j++)
        assert_true(y[j] == 0.5f * (float)(j * 8 - 128));
}

/* ggml's get_scale_min_k4, written out independently of quant_impl.h. */
static void k4_scale_min(int j, const uint8_t *q, int *d, int *m)
{
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

static void test_q4_k_block_uses_ggml_scale_packing(void **state)
{
    (void)state;
    struct rng r = {0x1234};
    uint8_t b[SLM__Q4_K_SIZE];
    for (int i = 0; i < SLM__Q4_K_SIZE; i++)
        b[i] = (uint8_t)rng_next(&r);
    put16(b, 0x3c00);     /* d = 1 */
    put16(b + 2, 0x3800); /* dmin = 0.5 */
    float y[256];
    slm__qops_scalar(SLM_Q_Q4_K)->to_float(b, y, 256);
    for (int e = 0; e < 256; e++) {
        int sub = e / 32, chunk = e / 64, l = e % 32, sc, m;
        k4_scale_min(sub, b + 4, &sc, &m);
        uint8_t byte = b[16 + 32 * chunk + l];
        int q = (sub & 1) ? byte >> 4 : byte & 0xf;
        assert_true(y[e] == (float)(sc * q) - 0.5f * (float)m);
    }
    /* and the packed form decodes as ggml's: every sub-block */
    uint64_t sc8, m8;
    slm__q4_k_scales(b + 4, &sc8, &m8);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        k4_scale_min(j, b + 4, &sc, &m);
        assert_int_equal((int)(uint8_t)(sc8 >> 8 * j), sc);
        assert_int_equal((int)(uint8_t)(m8 >> 8 * j), m);
    }
}

static void test_q6_k_block_uses_ggml_ql_qh_layout(void **state)
{
    (void)state;
    /* code of element e: e % 64, signed scales -8..7; built through ggml's
     * packing loop (quantize_row_q6_K_ref) written out here */
    uint8_t b[SLM__Q6_K_SIZE] = {0};
    int8_t L[256];
    for (int e = 0; e < 256; e++)
        L[e] = (int8_t)((e * 7 + 3) % 64);
    for (int j = 0; j < 256; j += 128) {
        uint8_t *ql = b + j / 2, *qh = b + 128 + j / 4;
        for (int l = 0; l < 32; l++) {
            int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
            ql[l] = (uint8_t)((q1 & 0xF) | (q3 & 0xF) << 4);
            ql[l + 32] = (uint8_t)((q2 & 0xF) | (q4 & 0xF) << 4);
            qh[l] = (uint8_t)((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
        }
    }
    for (int j = 0; j < 16; j++)
        b[192 + j] = (uint8_t)(int8_t)(j - 8);
    put16(b + 208, 0x3400); /* d = 0.25 */
    float y[256];
    slm__qops_scalar(SLM_Q_Q6_K)->to_float(b, y, 256);
    for (int e = 0; e < 256; e++)
        assert_true(y[e] == 0.25f * (float)(e / 16 - 8) * (float)(L[e] - 32));
}

static void test_q8_k_block_has_float_d_and_bsums(void **state)
{
    (void)state;
    float x[256];
    for (int i = 0; i < 256; i++)
        x[i] = (float)(i % 17) - 8.0f;
    x[5] = -16.0f; /* the value of largest magnitude: d = 16 / 127 */
    uint8_t b[SLM__Q8_K_SIZE];
    slm__qops_scalar(SLM_Q_Q8_K)->from_float(x, b, 256);
    float d;
    memcpy(&d, b, 4);
    assert_true(d == 1.0f / (-127.0f / -16.0f));
    assert_int_equal((int8_t)b[4 + 5], -127);
    for (int g = 0; g < 16; g++) {
        int sum = 0;
        for (int j = 0; j < 16; j++)
            sum += (int8_t)b[4 + 16 * g + j];
        int16_t bs;
        memcpy(&bs, b + 260 + 2 * g, 2);
        assert_int_equal(bs, sum);
    }
    float y[256];
    slm__qops_scalar(SLM_Q_Q8_K)->to_float(b, y, 256);
    for (int i = 0; i < 256; i++)
        assert_true(fabsf(y[i] - x[i]) <= 0.5f * d + 1e-6f);
}

static void test_q4_0_quantizer_matches_ggml_reference(void **state)
{
    (void)state;
    /* quantize_row_q4_0_ref on a hand-checked block: max = -4 -> d = 0.5,
     * x = -4 -> code 0, x = 3.5 -> code 15, x = 0.2 -> (int)(8.9) = 8 */
    float x[32] = {0};
    x[0] = -4.0f;
    x[1] = 3.5f;
    x[2] = 0.2f;
    x[17] = 1.0f;
    uint8_t b[SLM__Q4_0_SIZE];
    slm__qops_scalar(SLM_Q_Q4_0)->from_float(x, b, 32);
    assert_int_equal(slm_rd16(b), 0x3800);
    assert_int_equal(b[2] & 0xf, 0);
    assert_int_equal(b[3] & 0xf, 15);
    assert_int_equal(b[4] & 0xf, 8);
    assert_int_equal(b[3] >> 4, 10); /* x[17] = 1.0 -> (int)(2 + 8.5) */
    assert_int_equal(b[2] >> 4, 8);  /* x[16] = 0 */
}

/* ---- fp16.h --------------------------------------------------------------- */

static uint32_t bits(float f)
{
    return slm_f32_bits(f);
}

static void test_f16_edges(void **state)
{
    (void)state;
    assert_true(slm_f16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal */
    assert_true(slm_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24));
    assert_true(slm_f16_to_f32(0x0400) == ldexpf(1.0f, -14)); /* smallest normal */
    assert_true(slm_f16_to_f32(0x7bff) == 65504.0f);
    assert_int_equal(bits(slm_f16_to_f32(0x8000)), 0x80000000u);
    assert_true(isinf(slm_f16_to_f32(0x7c00)) && slm_f16_to_f32(0xfc00) < 0);
    assert_true(isnan(slm_f16_to_f32(0x7e00)) && isnan(slm_f16_to_f32(0x7c01)));
    /* every half survives the round trip (NaNs stay NaN) */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = slm_f16_to_f32((uint16_t)h);
        if (isnan(f))
            assert_true((slm_f32_to_f16(f) & 0x7c00) == 0x7c00 && (slm_f32_to_f16(f) & 0x3ff));
        else
            assert_int_equal(slm_f32_to_f16(f), h);
    }
    /* ties to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 */
    assert_int_equal(slm_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);
    assert_int_equal(slm_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);
    assert_int_equal(slm_f32_to_f16(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)), 0x3c01);
    assert_int_equal(slm_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(slm_f32_to_f16(65520.0f), 0x7c00); /* rounds up to inf */
    assert_int_equal(slm_f32_to_f16(1e10f), 0x7c00);
    assert_int_equal(slm_f32_to_f16(-1e10f), 0xfc00);
    assert_int_equal(slm_f32_to_f16(ldexpf(1.0f, -25)), 0x0000); /* tie -> even (0) */
    assert_int_equal(slm_f32_to_f16(ldexpf(3.0f, -25)), 0x0002); /* tie -> even (2) */
    assert_int_equal(slm_f32_to_f16(ldexpf(1.0f, -25) * 1.0001f), 0x0001);
    assert_int_equal(slm_f32_to_f16(-ldexpf(1.0f, -30)), 0x8000);
    assert_int_equal(slm_f32_to_f16(ldexpf(1.0f, -14) - ldexpf(1.0f, -26)), 0x0400);
    assert_int_equal(slm_f32_to_f16(INFINITY), 0x7c00);
    assert_int_equal(slm_f32_to_f16(NAN) & 0x7e00, 0x7e00);
    /* bf16: ties to even, NaN stays quiet */
    assert_int_equal(slm_f32_to_bf16(slm_bits_f32(0x3f808000)), 0x3f80);
    assert_int_equal(slm_f32_to_bf16(slm_bits_f32(0x3f818000)), 0x3f82);
    assert_int_equal(slm_f32_to_bf16(slm_bits_f32(0x3f808001)), 0x3f81);
    assert_int_equal(slm_f32_to_bf16(slm_bits_f32(0x7f800001)), 0x7fc0);
    assert_int_equal(slm_f32_to_bf16(slm_bits_f32(0x7f7fffff)), 0x7f80); /* max float -> inf */
    assert_int_equal(bits(slm_bf16_to_f32(0x8001)), 0x80010000u);
}

/* ---- quantization error ---------------------------------------------------- */

static double roundtrip_rel_rms(uint32_t type, const float *x, int n)
{
    const struct slm_qops *o = slm__qops_scalar(type);
    void *q = buf_alloc(row_bytes(type, n), 2);
    float *y = malloc(sizeof(float) * (size_t)n);
    assert_non_null(y);
    o->from_float(x, q, n);
    o->to_float(q, y, n);
    double e2 = 0, x2 = 0;
    for (int i = 0; i < n; i++) {
        e2 += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
        x2 += (double)x[i] * x[i];
    }
    free(y);
    buf_free(q, 2);
    return sqrt(e2 / x2);
}

static void test_roundtrip_error_is_bounded(void **state)
{
    (void)state;
    static const struct {
        uint32_t type;
        double bound;
    } cases[] = {
        {SLM_Q_F32, 0.0},   {SLM_Q_F16, 4e-4},  {SLM_Q_BF16, 3e-3}, {SLM_Q_Q8_0, 0.01},
        {SLM_Q_Q8_K, 0.01}, {SLM_Q_Q4_0, 0.12}, {SLM_Q_Q4_K, 0.08}, {SLM_Q_Q6_K, 0.03},
    };
    enum { N = 256 * 64 };
    float *x = malloc(sizeof(float) * N);
    assert_non_null(x);
    struct rng r = {42};
    fill_gauss(&r, x, N, 0.05f);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double e = roundtrip_rel_rms(cases[c].type, x, N);
        print_message("round trip %-5s rms error / rms = %.5f (bound %.5f)\n", tname(cases[c].type),
                      e, cases[c].bound);
        assert_true(e <= cases[c].bound);
    }
    free(x);
}

static void test_zeros_round_trip_to_zeros(void **state)
{
    (void)state;
    float x[512] = {0}, y[512];
    uint8_t q[512 * 4];
    for (size_t t = 0; t < sizeof all_types / sizeof all_types[0]; t++) {
        const struct slm_qops *o = slm__qops_scalar(all_types[t]);
        memset(y, 0xff, sizeof y);
        o->from_float(x, q, 512);
        o->to_float(q, y, 512);
        for (int i = 0; i < 512; i++)
            assert_true(y[i] == 0.0f);
    }
}

/* ---- SIMD variants against scalar ------------------------------------------ */

static const int sizes_32[] = {32, 96, 224, 256, 288, 768, 800, 4096};
static const int sizes_256[] = {256, 768, 1280, 4096};
static const int sizes_1[] = {1, 3, 15, 16, 17, 31, 33, 100, 255, 256, 257, 4096};

static const int *sizes_for(uint32_t type, int *count)
{
    if (blck(type) == 256) {
        *count = (int)(sizeof sizes_256 / sizeof sizes_256[0]);
        return sizes_256;
    }
    if (blck(type) == 32) {
        *count = (int)(sizeof sizes_32 / sizeof sizes_32[0]);
        return sizes_32;
    }
    *count = (int)(sizeof sizes_1 / sizeof sizes_1[0]);
    return sizes_1;
}

static void test_to_float_matches_scalar(void **state)
{
    const struct variant *v = variant_or_skip(state);
    struct rng r = {7};
    for (size_t t = 0; t < sizeof all_types / sizeof all_types[0]; t++) {
        uint32_t type = all_types[t];
        int ns;
        const int *sizes = sizes_for(type, &ns);
        for (int s = 0; s < ns; s++) {
            int n = sizes[s];
            size_t rb = row_bytes(type, n);
            uint8_t *w = buf_alloc(rb, 2);
            float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
            assert_true(a && b);
            if (type == SLM_Q_Q8_K) {
                float *xf = malloc(sizeof(float) * (size_t)n);
                assert_non_null(xf);
                fill_gauss(&r, xf, n, 1.0f);
                slm__qops_scalar(type)->from_float(xf, w, n);
                free(xf);
            } else {
                fill_weights(&r, type, w, n);
            }
            slm__qops_scalar(type)->to_float(w, a, n);
            variant_ops(v, type)->to_float(w, b, n);
            if (memcmp(a, b, sizeof(float) * (size_t)n))
                fail_msg("%s to_float %s n=%d differs from scalar", v->name, tname(type), n);
            free(a);
            free(b);
            buf_free(w, 2);
        }
    }
}

/* Gaussian data plus the float edge cases the half/bfloat converters must
 * get right (ties, subnormals, overflow, infinities). */
static void fill_float_edges(struct rng *r, float *x, int n)
{
    static const uint32_t edge[] = {
        0x00000000, 0x80000000, 0x3f801000, 0x3f803000, 0x3f808000, 0x3f818000, 0x33000000,
        0x33400000, 0x32800000, 0x387fe000, 0x38800000, 0x477ff000, 0x477fefff, 0x7f800000,
        0xff800000, 0x00000001, 0x80400000, 0x7f7fffff, 0x387fc000, 0x37800000,
    };
    fill_gauss(r, x, n, 1.0f);
    for (int i = 0; i < n; i += 3)
        x[i] = slm_bits_f32(edge[(i / 3) % (sizeof edge / sizeof edge[0])]);
    for (int i = 1; i < n; i += 7)
        x[i] *= 1e-6f; /* small values: f16 subnormals */
}

static void test_from_float_matches_scalar(void **state)
{
    const struct variant *v = variant_or_skip(state);
    struct rng r = {11};
    for (size_t t = 0; t < sizeof all_types / sizeof all_types[0]; t++) {
        uint32_t type = all_types[t];
        int ns;
        const int *sizes = sizes_for(type, &ns);
        for (int s = 0; s < ns; s++) {
            int n = sizes[s];
            size_t rb = row_bytes(type, n);
            float *x = malloc(sizeof(float) * (size_t)n);
            assert_non_null(x);
            if (blck(type) == 1)
                fill_float_edges(&r, x, n);
            else
                fill_gauss(&r, x, n, 0.5f);
            if (n >= 64 && blck(type) > 1) {
                x[5] = -x[5] - 100.0f; /* equal magnitudes of both signs: */
                x[40] = -x[5];         /* the first one sets Q8_K's sign */
                for (int i = 64; i < 96 && i < n; i++)
                    x[i] = 0.0f; /* an all-zero block */
            }
            uint8_t *a = buf_alloc(rb, 2), *b = buf_alloc(rb, 2);
            slm__qops_scalar(type)->from_float(x, a, n);
            variant_ops(v, type)->from_float(x, b, n);
            if (memcmp(a, b, rb))
                fail_msg("%s from_float %s n=%d differs from scalar", v->name, tname(type), n);
            buf_free(a, 2);
            buf_free(b, 2);
            free(x);
        }
    }
}

static void check_close(const char *what, const struct variant *v, uint32_t type, int n, double got,
                        double want, double scale)
{
    double tol = DOT_TOL * scale + 1e-30;
    if (!(fabs(got - want) <= tol))
        fail_msg("%s %s %s n=%d: %.9g vs %.9g (|diff| %.3g > %.3g)", v->name, what, tname(type), n,
                 got, want, fabs(got - want), tol);
}

static void test_vec_dot_matches_scalar(void **state)
{
    const struct variant *v = variant_or_skip(state);
    struct rng r = {13};
    for (size_t t = 0; t < sizeof weight_types / sizeof weight_types[0]; t++) {
        uint32_t type = weight_types[t];
        int ns;
        const int *sizes = sizes_for(type, &ns);
        for (int s = 0; s < ns; s++) {
            int n = sizes[s];
            uint8_t *w = buf_alloc(row_bytes(type, n), 2);
            float *xf = malloc(sizeof(float) * (size_t)n);
            assert_non_null(xf);
            fill_weights(&r, type, w, n);
            void *xq = make_act(&r, type, n, 2, xf);
            float want, got;
            slm__qops_scalar(type)->vec_dot(n, &want, w, xq);
            variant_ops(v, type)->vec_dot(n, &got, w, xq);
            double scale = abs_dot(type, w, xq, n);
            check_close("vec_dot", v, type, n, got, want, scale);
            check_close("vec_dot-vs-double", v, type, n, got, dot_double(type, w, xq, n), scale);
            buf_free(xq, slm__qops_scalar(type)->vec_dot_type == SLM_Q_F32 ? 0 : 2);
            buf_free(w, 2);
            free(xf);
        }
    }
}

static void matvec_case(const struct variant *v, uint32_t type, int n, int rows, struct rng *r)
{
    size_t rb = row_bytes(type, n);
    uint8_t *w = buf_alloc(rb * (size_t)rows, 2);
    float *xf = malloc(sizeof(float) * (size_t)n);
    float *want = malloc(sizeof(float) * (size_t)rows),
          *got = malloc(sizeof(float) * (size_t)(rows + 1));
    assert_true(xf && want && got);
    for (int i = 0; i < rows; i++)
        fill_weights(r, type, w + (size_t)i * rb, n);
    void *xq = make_act(r, type, n, 2, xf);
    got[rows] = 12345.0f; /* must stay untouched */
    slm__qops_scalar(type)->matvec(n, rows, want, w, rb, xq);
    variant_ops(v, type)->matvec(n, rows, got, w, rb, xq);
    assert_true(got[rows] == 12345.0f);
    for (int i = 0; i < rows; i++) {
        double scale = abs_dot(type, w + (size_t)i * rb, xq, n);
        check_close("matvec", v, type, n, got[i], want[i], scale);
        float one;
        variant_ops(v, type)->vec_dot(n, &one, w + (size_t)i * rb, xq);
        check_close("matvec-vs-vec_dot", v, type, n, got[i], one, scale);
    }
    buf_free(xq, slm__qops_scalar(type)->vec_dot_type == SLM_Q_F32 ? 0 : 2);
    buf_free(w, 2);
    free(xf);
    free(want);
    free(got);
}

static void test_matvec_matches_scalar(void **state)
{
    const struct variant *v = variant_or_skip(state);
    /* 4- and 8-row groups, and what is left over after them */
    static const int rows_list[] = {1, 3, 4, 5, 7, 8, 9, 13};
    struct rng r = {17};
    for (size_t t = 0; t < sizeof weight_types / sizeof weight_types[0]; t++) {
        uint32_t type = weight_types[t];
        int ns;
        const int *sizes = sizes_for(type, &ns);
        for (int s = 0; s < ns; s++)
            for (size_t k = 0; k < sizeof rows_list / sizeof rows_list[0]; k++)
                matvec_case(v, type, sizes[s], rows_list[k], &r);
        matvec_case(v, type, 2048, 33, &r);
    }
}

/* slm_matmat (the table's matmat, or matvec over row tiles) against the
 * same variant's matvec, vector by vector: nb vectors at a stride, results
 * at a row stride ldy > rows whose gaps must stay untouched. */
static void matmat_case(const struct variant *v, uint32_t type, int n, int rows, int nb,
                        struct rng *r)
{
    const struct slm_qops *o = variant_ops(v, type);
    uint32_t vdt = o->vec_dot_type;
    size_t rb = row_bytes(type, n), xs = row_bytes(vdt, n) + (nb % 2 ? 0 : 4);
    size_t ldy = (size_t)rows + 3;
    uint8_t *w = buf_alloc(rb * (size_t)rows, 2);
    uint8_t *xq = buf_alloc(xs * (size_t)nb, 0);
    void *scratch = buf_alloc(slm_matmat_scratch_bytes((uint32_t)n, (uint32_t)nb), 0);
    float *xf = malloc(sizeof(float) * (size_t)n);
    float *want = malloc(sizeof(float) * (size_t)rows), *y = malloc(sizeof(float) * ldy * nb);
    assert_true(xf && want && y);
    for (int i = 0; i < rows; i++)
        fill_weights(r, type, w + (size_t)i * rb, n);
    for (int b = 0; b < nb; b++) {
        fill_gauss(r, xf, n, 1.0f);
        slm__qops_scalar(vdt)->from_float(xf, xq + (size_t)b * xs, n);
    }
    for (size_t i = 0; i < ldy * nb; i++)
        y[i] = 12345.0f;
    slm_matmat(o, n, rows, nb, y, ldy, w, rb, xq, xs, scratch);
    for (int b = 0; b < nb; b++) {
        const uint8_t *x = xq + (size_t)b * xs;
        o->matvec(n, rows, want, w, rb, x);
        for (int i = 0; i < rows; i++) {
            double scale = abs_dot(type, w + (size_t)i * rb, x, n);
            check_close(nb > 1 ? "matmat" : "matmat(1)", v, type, n, y[(size_t)b * ldy + i],
                        want[i], scale);
        }
        for (size_t i = (size_t)rows; i < ldy; i++)
            assert_true(y[(size_t)b * ldy + i] == 12345.0f);
    }
    buf_free(scratch, 0);
    buf_free(xq, 0);
    buf_free(w, 2);
    free(xf);
    free(want);
    free(y);
}

static void test_matmat_matches_matvec(void **state)
{
    const struct variant *v = variant_or_skip(state);
    /* whole 32-row tiles and rows left over; 4-vector passes and the rest */
    static const int rows_list[] = {1, 31, 32, 33, 64, 80};
    static const int nb_list[] = {1, 2, 3, 4, 5, 8, 13};
    struct rng r = {23};
    for (size_t t = 0; t < sizeof weight_types / sizeof weight_types[0]; t++) {
        uint32_t type = weight_types[t];
        int n = blck(type) == 256 ? 512 : blck(type) == 32 ? 96 : 100;
        for (size_t k = 0; k < sizeof rows_list / sizeof rows_list[0]; k++)
            for (size_t m = 0; m < sizeof nb_list / sizeof nb_list[0]; m++)
                matmat_case(v, type, n, rows_list[k], nb_list[m], &r);
        matmat_case(v, type, blck(type) == 1 ? 768 : 2048, 96, SLM_MATMAT_MAX_NB, &r);
    }
}

static void test_vops_match_scalar(void **state)
{
    const struct variant *v = variant_or_skip(state);
    const struct slm_vops *ref = &slm__vops_scalar, *vo = slm_vops_get(v->isa);
    struct rng r = {19};
    enum { MAXN = 4097 };
    float *a = malloc(sizeof(float) * (MAXN + 1)), *b = malloc(sizeof(float) * (MAXN + 1));
    float *y0 = malloc(sizeof(float) * (MAXN + 1)), *y1 = malloc(sizeof(float) * (MAXN + 1));
    uint16_t *h = malloc(sizeof(uint16_t) * (MAXN + 2)),
             *h2 = malloc(sizeof(uint16_t) * (MAXN + 2));
    assert_true(a && b && y0 && y1 && h && h2);
    static const int ns[] = {0,  1,  2,  7,   8,   15,  16,  17,   31,
                             33, 64, 80, 100, 128, 129, 255, 4096, 4097};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int n = ns[k];
        /* odd element offsets: vector loads at every alignment */
        float *pa = a + (k & 1), *pb = b + ((k >> 1) & 1);
        uint16_t *ph = h + (k % 3 == 1);
        fill_gauss(&r, pa, n, 1.0f);
        fill_gauss(&r, pb, n, 1.0f);
        for (int i = 0; i < n; i++)
            ph[i] = slm_f32_to_f16(rng_gauss(&r));
        double sab = 0, shb = 0;
        for (int i = 0; i < n; i++) {
            sab += fabs((double)pa[i] * pb[i]);
            shb += fabs((double)slm_f16_to_f32(ph[i]) * pb[i]);
        }
        check_close("dot_f32", v, SLM_Q_F32, n, vo->dot_f32(n, pa, pb), ref->dot_f32(n, pa, pb),
                    sab);
        check_close("dot_f16_f32", v, SLM_Q_F16, n, vo->dot_f16_f32(n, ph, pb),
                    ref->dot_f16_f32(n, ph, pb), shb);
        memcpy(y0, pb, sizeof(float) * (size_t)n);
        memcpy(y1, pb, sizeof(float) * (size_t)n);
        y0[n] = y1[n] = 77.0f;
        ref->axpy_f16_f32(n, 0.37f, ph, y0);
        vo->axpy_f16_f32(n, 0.37f, ph, y1);
        assert_true(y1[n] == 77.0f);
        for (int i = 0; i < n; i++) {
            double tol = 1e-6 * (fabs(pb[i]) + fabs(0.37 * slm_f16_to_f32(ph[i]))) + 1e-30;
            if (!(fabs((double)y0[i] - y1[i]) <= tol))
                fail_msg("%s axpy n=%d i=%d: %.9g vs %.9g", v->name, n, i, y1[i], y0[i]);
        }
        fill_float_edges(&r, pa, n);
        ph[n] = h2[n] = 0x5555;
        ref->f32_to_f16(n, pa, h2);
        vo->f32_to_f16(n, pa, ph);
        assert_true(ph[n] == 0x5555);
        if (memcmp(ph, h2, sizeof(uint16_t) * (size_t)n))
            fail_msg("%s f32_to_f16 n=%d differs from scalar", v->name, n);
    }
    free(a);
    free(b);
    free(y0);
    free(y1);
    free(h);
    free(h2);
}

/* F16C quiets signalling NaNs, fp16.h keeps them: NaNs only have to stay
 * NaN through to_float; everything else is bit-identical (all 65536). */
/* attn_head, silu_mul and argmax of each variant against the scalar table:
 * attention within 1e-5 * max|v| per output (a convex combination of the
 * value rows; scores and exp differ by a few ulp), silu_mul within 1e-6
 * relative (the exps agree within 2 ulp), argmax exactly, ties and NaNs
 * included. */
static void test_vops_forward_match_scalar(void **state)
{
    const struct variant *v = variant_or_skip(state);
    const struct slm_vops *ref = &slm__vops_scalar, *vo = slm_vops_get(v->isa);
    struct rng r = {23};
    static const int hds[] = {16, 32, 48, 64, 96, 128};
    static const int npos[] = {1, 2, 7, 16, 17, 100};
    enum { MAXN = 4099 };
    uint16_t *kc = malloc(sizeof(uint16_t) * 100 * 3 * 128), *vc = malloc(sizeof(uint16_t) * 100 * 3 * 128);
    float *q = malloc(sizeof(float) * 128), *att = malloc(sizeof(float) * 100);
    float *o0 = malloc(sizeof(float) * 129), *o1 = malloc(sizeof(float) * 129);
    float *g0 = malloc(sizeof(float) * MAXN), *g1 = malloc(sizeof(float) * MAXN),
          *u = malloc(sizeof(float) * MAXN);
    assert_true(kc && vc && q && att && o0 && o1 && g0 && g1 && u);
    for (size_t a = 0; a < sizeof hds / sizeof hds[0]; a++)
        for (size_t b = 0; b < sizeof npos / sizeof npos[0]; b++) {
            int hd = hds[a], n = npos[b];
            size_t stride = (size_t)hd * (1 + (b & 1) * 2); /* rows packed, or 3 heads apart */
            for (size_t i = 0; i < (size_t)n * stride; i++) {
                kc[i] = slm_f32_to_f16(2.0f * rng_gauss(&r));
                vc[i] = slm_f32_to_f16(rng_gauss(&r));
            }
            fill_gauss(&r, q, hd, 1.0f);
            o0[hd] = o1[hd] = 77.0f;
            ref->attn_head(hd, n, stride, kc, vc, q, 0.125f, att, o0);
            vo->attn_head(hd, n, stride, kc, vc, q, 0.125f, att, o1);
            assert_true(o1[hd] == 77.0f);
            for (int i = 0; i < hd; i++) {
                double vmax = 0;
                for (int t = 0; t < n; t++)
                    vmax = fmax(vmax, fabs(slm_f16_to_f32(vc[(size_t)t * stride + i])));
                if (!(fabs((double)o0[i] - o1[i]) <= 1e-5 * vmax))
                    fail_msg("%s attn_head hd=%d n=%d i=%d: %.9g vs %.9g", v->name, hd, n, i,
                             o1[i], o0[i]);
            }
        }
    static const int ns[] = {1, 2, 7, 8, 15, 16, 17, 31, 100, 2048, 4099};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        int n = ns[k];
        for (int i = 0; i < n; i++)
            g0[i] = 8.0f * rng_gauss(&r);
        if (n > 6) { /* the exp's range ends: overflow, subnormal, zero */
            g0[1] = 100.0f;
            g0[2] = -100.0f;
            g0[3] = 88.0f;
            g0[4] = -88.0f;
            g0[5] = 0.0f;
        }
        fill_gauss(&r, u, n, 1.0f);
        memcpy(g1, g0, sizeof(float) * (size_t)n);
        ref->silu_mul(n, g0, u);
        vo->silu_mul(n, g1, u);
        for (int i = 0; i < n; i++)
            if (!(fabs((double)g0[i] - g1[i]) <= 1e-6 * fabs(g0[i]) + 1e-37))
                fail_msg("%s silu_mul n=%d i=%d: %.9g vs %.9g", v->name, n, i, g1[i], g0[i]);
        /* argmax: random, then a tie (the first must win), then NaNs */
        fill_gauss(&r, g0, n, 1.0f);
        assert_int_equal(vo->argmax(n, g0), ref->argmax(n, g0));
        g0[n / 2] = 9.0f;
        g0[n - 1] = 9.0f;
        assert_int_equal(vo->argmax(n, g0), ref->argmax(n, g0));
        g0[n / 3] = __builtin_nanf("");
        assert_int_equal(vo->argmax(n, g0), ref->argmax(n, g0));
        for (int i = 0; i < n; i++)
            g0[i] = -KM_INFINITY;
        assert_int_equal(vo->argmax(n, g0), 0);
        g0[0] = __builtin_nanf("");
        g0[n - 1] = 1.0f;
        assert_int_equal(vo->argmax(n, g0), ref->argmax(n, g0));
    }
    free(kc);
    free(vc);
    free(q);
    free(att);
    free(o0);
    free(o1);
    free(g0);
    free(g1);
    free(u);
}

static void test_f16_to_float_all_halves(void **state)
{
    const struct variant *v = variant_or_skip(state);
    uint8_t *h = buf_alloc(2 * 65536, 2);
    float *a = malloc(sizeof(float) * 65536), *b = malloc(sizeof(float) * 65536);
    assert_true(a && b);
    for (uint32_t i = 0; i < 65536; i++)
        put16(h + 2 * i, (uint16_t)i);
    slm__qops_scalar(SLM_Q_F16)->to_float(h, a, 65536);
    variant_ops(v, SLM_Q_F16)->to_float(h, b, 65536);
    for (uint32_t i = 0; i < 65536; i++) {
        if (isnan(a[i]))
            assert_true(isnan(b[i]));
        else if (bits(a[i]) != bits(b[i]))
            fail_msg("%s f16 0x%04x: %08x vs %08x", v->name, i, bits(b[i]), bits(a[i]));
    }
    buf_free(h, 2);
    free(a);
    free(b);
}

#define PER_VARIANT(fn)                                                                            \
    cmocka_unit_test_prestate(fn, (void *)&variants[1]),                                           \
        cmocka_unit_test_prestate(fn, (void *)&variants[2]),                                       \
        cmocka_unit_test_prestate(fn, (void *)&variants[3]),                                       \
        cmocka_unit_test_prestate(fn, (void *)&variants[4])

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_detect_is_a_known_isa),
        cmocka_unit_test(test_tables_cover_the_computable_types),
        cmocka_unit_test(test_q4_0_block_dequantizes_nibbles_minus_8),
        cmocka_unit_test(test_q8_0_block_dequantizes_d_times_q),
        cmocka_unit_test(test_q4_k_block_uses_ggml_scale_packing),
        cmocka_unit_test(test_q6_k_block_uses_ggml_ql_qh_layout),
        cmocka_unit_test(test_q8_k_block_has_float_d_and_bsums),
        cmocka_unit_test(test_q4_0_quantizer_matches_ggml_reference),
        cmocka_unit_test(test_f16_edges),
        cmocka_unit_test(test_roundtrip_error_is_bounded),
        cmocka_unit_test(test_zeros_round_trip_to_zeros),
        cmocka_unit_test_prestate(test_vec_dot_matches_scalar, (void *)&variants[0]),
        PER_VARIANT(test_to_float_matches_scalar),
        PER_VARIANT(test_from_float_matches_scalar),
        PER_VARIANT(test_vec_dot_matches_scalar),
        PER_VARIANT(test_matvec_matches_scalar),
        PER_VARIANT(test_matmat_matches_matvec),
        PER_VARIANT(test_vops_match_scalar),
        PER_VARIANT(test_vops_forward_match_scalar),
        PER_VARIANT(test_f16_to_float_all_halves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
