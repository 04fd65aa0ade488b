/*
 * test_llama.c - the llama forward pass against a plain reference.
 *
 * A small model (GQA, untied or tied output) is written with the project's
 * GGUF writer, loaded by the engine, and its logits are compared with a
 * double-precision reference written here from the llama equations (not
 * from the engine's code): RMSNorm, RoPE on adjacent pairs, grouped-query
 * causal attention, SwiGLU, final norm, classifier. Also: loading errors,
 * the exact pool estimate, and generation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp16.h"
#include "generate.h"
#include "gguf_write.h"

enum { DIM = 64, LAYERS = 2, HEADS = 4, KV_HEADS = 2, HD = DIM / HEADS, FFN = 96, CTX = 32 };
enum { N_PIECES = 12, VOCAB = 3 + 256 + N_PIECES, KV_DIM = KV_HEADS * HD };

struct ref_model {
    float *embd, *out, *out_norm;
    float *attn_norm[LAYERS], *wq[LAYERS], *wk[LAYERS], *wv[LAYERS], *wo[LAYERS];
    float *ffn_norm[LAYERS], *wg[LAYERS], *wu[LAYERS], *wd[LAYERS];
};

static uint64_t rng = 88172645463325252ull;
static float randn(float scale)
{
    double u1, u2;
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    u1 = ((rng >> 11) + 1.0) / 9007199254740993.0;
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    u2 = (rng >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2)) * scale;
}

static float *rand_mat(size_t n, float scale)
{
    float *m = malloc(n * sizeof *m);
    for (size_t i = 0; i < n; i++)
        m[i] = randn(scale);
    return m;
}

static float *norm_vec(void)
{
    float *v = malloc(DIM * sizeof *v);
    for (int i = 0; i < DIM; i++)
        v[i] = 1.0f + randn(0.1f);
    return v;
}

static void make_ref(struct ref_model *r)
{
    r->embd = rand_mat((size_t)VOCAB * DIM, 0.5f);
    r->out = rand_mat((size_t)VOCAB * DIM, 0.1f);
    r->out_norm = norm_vec();
    for (int l = 0; l < LAYERS; l++) {
        r->attn_norm[l] = norm_vec();
        r->ffn_norm[l] = norm_vec();
        r->wq[l] = rand_mat(DIM * DIM, 0.15f);
        r->wk[l] = rand_mat(KV_DIM * DIM, 0.15f);
        r->wv[l] = rand_mat(KV_DIM * DIM, 0.15f);
        r->wo[l] = rand_mat(DIM * DIM, 0.1f);
        r->wg[l] = rand_mat(FFN * DIM, 0.15f);
        r->wu[l] = rand_mat(FFN * DIM, 0.15f);
        r->wd[l] = rand_mat(DIM * FFN, 0.1f);
    }
}

/* ---- the GGUF file --------------------------------------------------------- */

static const char *const pieces[N_PIECES] = {"\xe2\x96\x81", "\xe2\x96\x81h", "he", "ll", "lo",
                                             "\xe2\x96\x81he", "llo", "\xe2\x96\x81hello", "o",
                                             "h", "e", "l"};

static void add_vocab(struct aut_gguf_w *w)
{
    static char bytes[256][8];
    const char *toks[VOCAB];
    float scores[VOCAB];
    int32_t types[VOCAB];
    toks[0] = "<unk>", toks[1] = "<s>", toks[2] = "</s>";
    types[0] = 2, types[1] = types[2] = 3;
    for (int i = 0; i < 256; i++) {
        snprintf(bytes[i], sizeof bytes[i], "<0x%02X>", i);
        toks[3 + i] = bytes[i];
        types[3 + i] = 6;
    }
    for (int i = 0; i < N_PIECES; i++) {
        toks[259 + i] = pieces[i];
        types[259 + i] = 1;
    }
    for (int i = 0; i < VOCAB; i++)
        scores[i] = i >= 259 ? -(float)(i - 259) : 0.0f;
    assert_int_equal(aut_gguf_w_add_str(w, "tokenizer.ggml.model", "llama"), 0);
    assert_int_equal(aut_gguf_w_add_arr_str(w, "tokenizer.ggml.tokens", toks, VOCAB), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "tokenizer.ggml.scores", GGUF_T_FLOAT32, scores, VOCAB), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "tokenizer.ggml.token_type", GGUF_T_INT32, types, VOCAB), 0);
    assert_int_equal(aut_gguf_w_add_u32(w, "tokenizer.ggml.bos_token_id", 1), 0);
    assert_int_equal(aut_gguf_w_add_u32(w, "tokenizer.ggml.eos_token_id", 2), 0);
    assert_int_equal(aut_gguf_w_add_u32(w, "tokenizer.ggml.unknown_token_id", 0), 0);
}

/* A tensor the model under construction leaves out (model_opts.skip). */
static const char *skip_name;

/* Adds a 2-D weight (rows x cols, row-major f32) converted to type. */
static void add_mat(struct aut_gguf_w *w, const char *name, const float *m, uint32_t rows,
                    uint32_t cols, uint32_t type)
{
    if (skip_name && !strcmp(name, skip_name))
        return;
    const struct slm_qops *ops = slm_qops_get(type, SLM_ISA_SCALAR);
    size_t rb = slm_qtype_row_bytes(type, cols);
    uint8_t *data = malloc(rb * rows);
    for (uint32_t r = 0; r < rows; r++)
        ops->from_float(m + (size_t)r * cols, data + r * rb, cols);
    uint64_t ne[2] = {cols, rows};
    assert_int_equal(aut_gguf_w_add_tensor(w, name, type, 2, ne, data, rb * rows, AUT_GGUF_W_TAKE), 0);
}

static void add_vec(struct aut_gguf_w *w, const char *name, const float *v)
{
    if (skip_name && !strcmp(name, skip_name))
        return;
    uint64_t ne[1] = {DIM};
    assert_int_equal(aut_gguf_w_add_tensor(w, name, SLM_Q_F32, 1, ne, v, DIM * 4, AUT_GGUF_W_COPY), 0);
}

struct model_opts {
    uint32_t type;      /* of every matrix */
    bool tied;
    const char *arch;   /* general.architecture */
    const char *skip;   /* a tensor to leave out */
    bool bad_shape;     /* attn_k of the wrong width */
};

static uint8_t *build_gguf(const struct ref_model *r, const struct model_opts *o, size_t *size)
{
    struct aut_gguf_w *w;
    char name[64];
    skip_name = o->skip;
    assert_int_equal(aut_gguf_w_create(&w), 0);
    assert_int_equal(aut_gguf_w_add_str(w, "general.architecture", o->arch ? o->arch : "llama"), 0);
    aut_gguf_w_add_u32(w, "llama.context_length", CTX);
    aut_gguf_w_add_u32(w, "llama.embedding_length", DIM);
    aut_gguf_w_add_u32(w, "llama.block_count", LAYERS);
    aut_gguf_w_add_u32(w, "llama.feed_forward_length", FFN);
    aut_gguf_w_add_u32(w, "llama.attention.head_count", HEADS);
    aut_gguf_w_add_u32(w, "llama.attention.head_count_kv", KV_HEADS);
    aut_gguf_w_add_f32(w, "llama.rope.freq_base", 10000.0f);
    aut_gguf_w_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    add_vocab(w);
    add_mat(w, "token_embd.weight", r->embd, VOCAB, DIM, o->type);
    add_vec(w, "output_norm.weight", r->out_norm);
    if (!o->tied)
        add_mat(w, "output.weight", r->out, VOCAB, DIM, o->type);
    for (int l = 0; l < LAYERS; l++) {
#define T(s) (snprintf(name, sizeof name, "blk.%d." s, l), name)
        add_vec(w, T("attn_norm.weight"), r->attn_norm[l]);
        add_vec(w, T("ffn_norm.weight"), r->ffn_norm[l]);
        add_mat(w, T("attn_q.weight"), r->wq[l], DIM, DIM, o->type);
        add_mat(w, T("attn_k.weight"), r->wk[l], o->bad_shape ? KV_DIM / 2 : KV_DIM, DIM, o->type);
        add_mat(w, T("attn_v.weight"), r->wv[l], KV_DIM, DIM, o->type);
        add_mat(w, T("attn_output.weight"), r->wo[l], DIM, DIM, o->type);
        add_mat(w, T("ffn_gate.weight"), r->wg[l], FFN, DIM, o->type);
        add_mat(w, T("ffn_up.weight"), r->wu[l], FFN, DIM, o->type);
        add_mat(w, T("ffn_down.weight"), r->wd[l], DIM, FFN, o->type);
#undef T
    }
    uint8_t *buf;
    assert_int_equal(aut_gguf_w_serialize(w, &buf, size), 0);
    aut_gguf_w_destroy(w);
    return buf;
}

/* ---- the reference forward pass (double precision) --------------------------- */

struct ref_state {
    double k[LAYERS][CTX][KV_DIM], v[LAYERS][CTX][KV_DIM];
};

static void ref_rmsnorm(double *out, const double *x, const float *w, int n)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double s = 1.0 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++)
        out[i] = x[i] * s * w[i];
}

/* Format the engine quantizes matvec inputs to (vec_dot_type), or F32. */
static uint32_t ref_act_type = SLM_Q_F32;

static void ref_matvec(double *out, const float *m, const double *x, int rows, int cols)
{
    float xf[FFN > DIM ? FFN : DIM];
    uint8_t q[4 * (FFN > DIM ? FFN : DIM)];
    const struct slm_qops *ops = slm_qops_get(ref_act_type, SLM_ISA_SCALAR);
    for (int c = 0; c < cols; c++)
        xf[c] = (float)x[c];
    ops->from_float(xf, q, cols); /* the same rounding of the input as the engine's */
    ops->to_float(q, xf, cols);
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int c = 0; c < cols; c++)
            s += (double)m[(size_t)r * cols + c] * xf[c];
        out[r] = s;
    }
}

static void ref_rope(double *v, int n_heads, int pos)
{
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < HD / 2; i++) {
            double theta = pos * pow(10000.0, -2.0 * i / HD);
            double a = v[h * HD + 2 * i], b = v[h * HD + 2 * i + 1];
            v[h * HD + 2 * i] = a * cos(theta) - b * sin(theta);
            v[h * HD + 2 * i + 1] = a * sin(theta) + b * cos(theta);
        }
}

static void ref_attention(struct ref_state *s, int l, int pos, const double *q, double *out)
{
    for (int h = 0; h < HEADS; h++) {
        int kvh = h / (HEADS / KV_HEADS);
        double att[CTX], max = -1e300, sum = 0;
        for (int t = 0; t <= pos; t++) {
            double d = 0;
            for (int i = 0; i < HD; i++)
                d += q[h * HD + i] * s->k[l][t][kvh * HD + i];
            att[t] = d / sqrt(HD);
            max = fmax(max, att[t]);
        }
        for (int t = 0; t <= pos; t++)
            sum += att[t] = exp(att[t] - max);
        for (int i = 0; i < HD; i++) {
            double acc = 0;
            for (int t = 0; t <= pos; t++)
                acc += att[t] / sum * s->v[l][t][kvh * HD + i];
            out[h * HD + i] = acc;
        }
    }
}

static void ref_forward(const struct ref_model *r, struct ref_state *s, bool tied, int tok,
                        int pos, double *logits)
{
    double x[DIM], xb[DIM], q[DIM], tmp[DIM], g[FFN], u[FFN];
    for (int i = 0; i < DIM; i++)
        x[i] = r->embd[(size_t)tok * DIM + i];
    for (int l = 0; l < LAYERS; l++) {
        ref_rmsnorm(xb, x, r->attn_norm[l], DIM);
        ref_matvec(q, r->wq[l], xb, DIM, DIM);
        ref_matvec(s->k[l][pos], r->wk[l], xb, KV_DIM, DIM);
        ref_matvec(s->v[l][pos], r->wv[l], xb, KV_DIM, DIM);
        ref_rope(q, HEADS, pos);
        ref_rope(s->k[l][pos], KV_HEADS, pos);
        for (int i = 0; i < KV_DIM; i++) { /* the cache holds f16, by design */
            s->k[l][pos][i] = slm_f16_to_f32(slm_f32_to_f16((float)s->k[l][pos][i]));
            s->v[l][pos][i] = slm_f16_to_f32(slm_f32_to_f16((float)s->v[l][pos][i]));
        }
        ref_attention(s, l, pos, q, tmp);
        ref_matvec(xb, r->wo[l], tmp, DIM, DIM);
        for (int i = 0; i < DIM; i++)
            x[i] += xb[i];
        ref_rmsnorm(xb, x, r->ffn_norm[l], DIM);
        ref_matvec(g, r->wg[l], xb, FFN, DIM);
        ref_matvec(u, r->wu[l], xb, FFN, DIM);
        for (int i = 0; i < FFN; i++)
            g[i] = g[i] / (1 + exp(-g[i])) * u[i];
        ref_matvec(xb, r->wd[l], g, DIM, FFN);
        for (int i = 0; i < DIM; i++)
            x[i] += xb[i];
    }
    ref_rmsnorm(xb, x, r->out_norm, DIM);
    ref_matvec(logits, tied ? r->embd : r->out, xb, VOCAB, DIM);
}

/* ---- tests ----------------------------------------------------------------- */

static struct ref_model ref;   /* the f32 weights */
static struct ref_model qref;  /* the same weights as a quantized file holds them */
static uint8_t pool_mem[8 << 20];

/* m round-tripped through type (scalar kernels), row by row. */
static void roundtrip(float *dst, const float *m, uint32_t rows, uint32_t cols, uint32_t type)
{
    const struct slm_qops *ops = slm_qops_get(type, SLM_ISA_SCALAR);
    uint8_t *tmp = malloc(slm_qtype_row_bytes(type, cols));
    for (uint32_t r = 0; r < rows; r++) {
        ops->from_float(m + (size_t)r * cols, tmp, cols);
        ops->to_float(tmp, dst + (size_t)r * cols, cols);
    }
    free(tmp);
}

/* qref = ref with every matrix as `type` stores it (norms stay f32). */
static void quantize_ref(uint32_t type)
{
    qref = ref;
    static float embd[VOCAB * DIM], out[VOCAB * DIM];
    static float wq[LAYERS][DIM * DIM], wk[LAYERS][KV_DIM * DIM], wv[LAYERS][KV_DIM * DIM];
    static float wo[LAYERS][DIM * DIM], wg[LAYERS][FFN * DIM], wu[LAYERS][FFN * DIM];
    static float wd[LAYERS][DIM * FFN];
    roundtrip(embd, ref.embd, VOCAB, DIM, type), qref.embd = embd;
    roundtrip(out, ref.out, VOCAB, DIM, type), qref.out = out;
    for (int l = 0; l < LAYERS; l++) {
        roundtrip(wq[l], ref.wq[l], DIM, DIM, type), qref.wq[l] = wq[l];
        roundtrip(wk[l], ref.wk[l], KV_DIM, DIM, type), qref.wk[l] = wk[l];
        roundtrip(wv[l], ref.wv[l], KV_DIM, DIM, type), qref.wv[l] = wv[l];
        roundtrip(wo[l], ref.wo[l], DIM, DIM, type), qref.wo[l] = wo[l];
        roundtrip(wg[l], ref.wg[l], FFN, DIM, type), qref.wg[l] = wg[l];
        roundtrip(wu[l], ref.wu[l], FFN, DIM, type), qref.wu[l] = wu[l];
        roundtrip(wd[l], ref.wd[l], DIM, FFN, type), qref.wd[l] = wd[l];
    }
}

static int setup(void **state)
{
    (void)state;
    make_ref(&ref);
    return 0;
}

/* Max |engine - reference| over 20 positions, relative to the logits' scale. */
static double compare(const struct model_opts *o, enum slm_isa isa)
{
    size_t size;
    uint8_t *buf = build_gguf(&ref, o, &size);
    struct slm_pool pool;
    struct slm_model m;
    struct slm_ctx c;
    struct slm_err err = {0};
    static struct ref_state rs;
    slm_pool_init(&pool, pool_mem, sizeof pool_mem);
    int rc = slm_model_load(&m, buf, size, isa, &pool, &err);
    if (rc)
        fail_msg("load: %s", err.msg);
    assert_int_equal(slm_ctx_init(&c, &m, CTX, &pool, &err), 0);
    double worst = 0, scale = 0, want[VOCAB], se = 0, sw = 0;
    for (int pos = 0; pos < 20; pos++) {
        int tok = (pos * 37 + 11) % VOCAB;
        const float *got;
        assert_int_equal(slm_forward(&c, tok, &got), 0);
        quantize_ref(o->type);
        ref_act_type = slm_qops_get(o->type, SLM_ISA_SCALAR)->vec_dot_type;
        ref_forward(&qref, &rs, o->tied, tok, pos, want);
        for (int i = 0; i < VOCAB; i++) {
            worst = fmax(worst, fabs(got[i] - want[i]));
            scale = fmax(scale, fabs(want[i]));
            se += (got[i] - want[i]) * (got[i] - want[i]);
            sw += want[i] * want[i];
        }
    }
    free(buf);
    print_message("  %s/%s: max err %.2e of max %.2e, rms err/rms %.2e\n",
                  slm_qtype_info(o->type)->name, slm_isa_name(isa), worst, scale, sqrt(se / sw));
    return worst / scale;
}

/* F32 weights: only the f16 KV cache and float rounding differ. */
static void f32_model_matches_reference(void **state)
{
    (void)state;
    struct model_opts o = {.type = SLM_Q_F32};
    double e = compare(&o, SLM_ISA_SCALAR);
    assert_true(e < 1e-3);
    o.tied = true;
    assert_true(compare(&o, SLM_ISA_SCALAR) < 1e-3);
}

/* Quantized weights: the reference uses the same dequantized weights and
 * rounds each matvec input through the same activation format (Q8_0 for
 * Q4_0/Q8_0 weights, Q8_K for the K-quants), so what remains is the f16
 * KV cache and float accumulation order - as small as for F32. */
static void quantized_models_match_reference(void **state)
{
    (void)state;
    struct { uint32_t type; double tol; } cases[] = {
        {SLM_Q_F16, 1e-4}, {SLM_Q_BF16, 1e-3}, {SLM_Q_Q8_0, 1e-5}, {SLM_Q_Q4_0, 1e-5},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct model_opts o = {.type = cases[i].type};
        double e = compare(&o, SLM_ISA_SCALAR);
        print_message("%-5s relative error %.2e (tolerance %.0e)\n",
                      slm_qtype_info(cases[i].type)->name, e, cases[i].tol);
        if (e >= cases[i].tol)
            fail_msg("%s: relative error %g >= %g", slm_qtype_info(cases[i].type)->name, e,
                     cases[i].tol);
    }
}

/* Every SIMD variant the CPU has gives the reference's logits too. With
 * float activations (F16 weights) the variants differ only in summation
 * order. With quantized activations a last-bit difference can move one
 * value across a Q8 rounding step, and that step persists in the KV cache
 * for every later position: the bound there is the quantization's. */
static void every_isa_matches_reference(void **state)
{
    (void)state;
    struct { uint32_t type; double tol; } cases[] = {
        {SLM_Q_F16, 1e-4}, {SLM_Q_Q8_0, 3e-2}, {SLM_Q_Q4_0, 3e-2},
    };
    for (int isa = 0; isa <= (int)slm_cpu_detect(); isa++) {
        for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct model_opts o = {.type = cases[i].type};
            double e = compare(&o, (enum slm_isa)isa);
            if (e >= cases[i].tol)
                fail_msg("%s %s: relative error %g", slm_isa_name((enum slm_isa)isa),
                         slm_qtype_info(cases[i].type)->name, e);
        }
    }
}

/* Max |a - b| relative to max |b| over the vocabulary. */
static double rel_diff(const float *a, const float *b)
{
    double worst = 0, scale = 1e-30;
    for (int i = 0; i < VOCAB; i++) {
        worst = fmax(worst, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return worst / scale;
}

/* A prompt run in batches (several per call: n_batch lowered to 7) gives
 * the logits the same tokens give one at a time, and leaves the same
 * cache behind (the token after it agrees too), in every variant. The
 * batched products sum in another order; with quantized activations a
 * last-bit difference can cross a Q8 rounding step (see above). */
static void batched_prompt_matches_single_tokens(void **state)
{
    (void)state;
    struct { uint32_t type; double tol; } cases[] = {
        {SLM_Q_F32, 1e-5}, {SLM_Q_Q8_0, 3e-2}, {SLM_Q_Q4_0, 3e-2},
    };
    enum { N1 = 20, N2 = 6 };
    int32_t toks[N1 + N2 + 1];
    for (int i = 0; i < N1 + N2 + 1; i++)
        toks[i] = (i * 53 + 7) % VOCAB;
    static float one[N1 + N2 + 1][VOCAB];
    for (int isa = 0; isa <= (int)slm_cpu_detect(); isa++) {
        for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct model_opts o = {.type = cases[i].type};
            size_t size;
            uint8_t *buf = build_gguf(&ref, &o, &size);
            struct slm_pool pool;
            struct slm_model m;
            struct slm_ctx c1, c2;
            struct slm_err err = {0};
            const float *lg;
            slm_pool_init(&pool, pool_mem, sizeof pool_mem);
            assert_int_equal(slm_model_load(&m, buf, size, (enum slm_isa)isa, &pool, &err), 0);
            assert_int_equal(slm_ctx_init(&c1, &m, CTX, &pool, &err), 0);
            assert_int_equal(slm_ctx_init(&c2, &m, CTX, &pool, &err), 0);
            assert_int_equal(c2.n_batch, CTX);
            for (int t = 0; t < N1 + N2 + 1; t++) {
                assert_int_equal(slm_forward(&c1, toks[t], &lg), 0);
                memcpy(one[t], lg, sizeof one[t]);
            }
            c2.n_batch = 7;
            assert_int_equal(slm_forward_batch(&c2, toks, N1, &lg), 0);
            assert_int_equal(c2.pos, N1);
            double e1 = rel_diff(lg, one[N1 - 1]);
            assert_int_equal(slm_forward_batch(&c2, toks + N1, N2, &lg), 0);
            double e2 = rel_diff(lg, one[N1 + N2 - 1]);
            assert_int_equal(slm_forward(&c2, toks[N1 + N2], &lg), 0);
            double e3 = rel_diff(lg, one[N1 + N2]);
            print_message("  %s/%s: batched vs one by one %.2e %.2e, next token %.2e\n",
                          slm_qtype_info(o.type)->name, slm_isa_name((enum slm_isa)isa), e1, e2,
                          e3);
            if (!(e1 < cases[i].tol && e2 < cases[i].tol && e3 < cases[i].tol))
                fail_msg("%s %s: batched prompt differs (%g %g %g)",
                         slm_isa_name((enum slm_isa)isa), slm_qtype_info(o.type)->name, e1, e2,
                         e3);
            free(buf);
        }
    }
}

/* A batch that cannot run is refused whole: pos does not move. */
static void bad_batches_are_refused_whole(void **state)
{
    (void)state;
    struct model_opts o = {.type = SLM_Q_Q8_0};
    size_t size;
    uint8_t *buf = build_gguf(&ref, &o, &size);
    struct slm_pool pool;
    struct slm_model m;
    struct slm_ctx c;
    struct slm_err err = {0};
    const float *lg;
    slm_pool_init(&pool, pool_mem, sizeof pool_mem);
    assert_int_equal(slm_model_load(&m, buf, size, slm_cpu_detect(), &pool, &err), 0);
    assert_int_equal(slm_ctx_init(&c, &m, CTX, &pool, &err), 0);
    int32_t toks[CTX + 1] = {0};
    for (int i = 0; i < CTX + 1; i++)
        toks[i] = 3 + i;
    assert_int_equal(slm_forward_batch(&c, toks, 0, &lg), -SLM_E_INVAL);
    assert_int_equal(slm_forward_batch(&c, toks, CTX + 1, &lg), -SLM_E_CTX);
    toks[5] = VOCAB;
    assert_int_equal(slm_forward_batch(&c, toks, 8, &lg), -SLM_E_INVAL);
    toks[5] = -1;
    assert_int_equal(slm_forward_batch(&c, toks, 8, &lg), -SLM_E_INVAL);
    assert_int_equal(c.pos, 0);
    toks[5] = 9;
    assert_int_equal(slm_forward_batch(&c, toks, CTX - 1, &lg), 0);
    assert_int_equal(slm_forward_batch(&c, toks, 2, &lg), -SLM_E_CTX);
    assert_int_equal(c.pos, CTX - 1);
    assert_int_equal(slm_forward_batch(&c, toks, 1, &lg), 0);
    assert_int_equal(c.pos, CTX);
    free(buf);
}

static int load_error(const struct model_opts *o, struct slm_err *err)
{
    size_t size;
    uint8_t *buf = build_gguf(&ref, o, &size);
    struct slm_pool pool;
    struct slm_model m;
    slm_pool_init(&pool, pool_mem, sizeof pool_mem);
    int rc = slm_model_load(&m, buf, size, SLM_ISA_SCALAR, &pool, err);
    free(buf);
    return rc;
}

static void bad_models_are_refused_with_names(void **state)
{
    (void)state;
    struct slm_err err = {0};
    struct model_opts arch = {.type = SLM_Q_F32, .arch = "gpt2"};
    assert_int_equal(load_error(&arch, &err), -SLM_E_ARCH);
    assert_non_null(strstr(err.msg, "gpt2"));
    struct model_opts shape = {.type = SLM_Q_F32, .bad_shape = true};
    assert_int_equal(load_error(&shape, &err), -SLM_E_SHAPE);
    assert_non_null(strstr(err.msg, "blk.0.attn_k.weight"));
    struct model_opts missing = {.type = SLM_Q_F32, .skip = "blk.1.ffn_up.weight"};
    assert_int_equal(load_error(&missing, &err), -SLM_E_MISSING);
    assert_non_null(strstr(err.msg, "blk.1.ffn_up.weight"));
    struct model_opts no_norm = {.type = SLM_Q_F32, .skip = "output_norm.weight"};
    assert_int_equal(load_error(&no_norm, &err), -SLM_E_MISSING);
}

static void pool_estimate_is_exact(void **state)
{
    (void)state;
    struct model_opts o = {.type = SLM_Q_Q8_0};
    size_t size, est = 0;
    uint8_t *buf = build_gguf(&ref, &o, &size);
    static uint8_t scratch[8 << 20];
    struct slm_err err = {0};
    assert_int_equal(slm_estimate_pool(buf, size, CTX, 16, scratch, sizeof scratch, &est, &err), 0);
    struct slm_pool pool;
    struct slm_runtime rt;
    slm_pool_init(&pool, pool_mem, sizeof pool_mem);
    assert_int_equal(slm_runtime_open(&rt, buf, size, CTX, 16, SLM_ISA_SCALAR, &pool, &err), 0);
    char out[256];
    struct slm_gen_params p = SLM_GEN_DEFAULTS;
    p.max_tokens = 4;
    assert_int_equal(slm_generate(&rt, "hello hello 1234", 16, &p, out, sizeof out, NULL, &err), 0);
    assert_int_equal(pool.peak, est);
    /* a pool one byte short of the estimate is refused up front or at the prompt */
    slm_pool_init(&pool, pool_mem, est - 1);
    int rc = slm_runtime_open(&rt, buf, size, CTX, 16, SLM_ISA_SCALAR, &pool, &err);
    if (!rc)
        rc = slm_generate(&rt, "hello hello 1234", 16, &p, out, sizeof out, NULL, &err);
    assert_true(rc < 0);
    free(buf);
}

static void generation_is_deterministic_and_bounded(void **state)
{
    (void)state;
    struct model_opts o = {.type = SLM_Q_Q8_0};
    size_t size;
    uint8_t *buf = build_gguf(&ref, &o, &size);
    struct slm_pool pool;
    struct slm_runtime rt;
    struct slm_err err = {0};
    slm_pool_init(&pool, pool_mem, sizeof pool_mem);
    assert_int_equal(slm_runtime_open(&rt, buf, size, CTX, 64, slm_cpu_detect(), &pool, &err), 0);
    char a[512], b[512];
    struct slm_gen_stats st;
    struct slm_gen_params p = SLM_GEN_DEFAULTS;
    p.max_tokens = 10;
    p.temperature = 0.9f;
    p.seed = 42;
    assert_int_equal(slm_generate(&rt, "hello", 5, &p, a, sizeof a, &st, &err), 0);
    assert_true(st.gen_tokens <= 10 && st.prompt_tokens >= 2);
    assert_int_equal(slm_generate(&rt, "hello", 5, &p, b, sizeof b, &st, &err), 0);
    assert_string_equal(a, b);
    /* a prompt longer than the context is an error, not a crash */
    char long_prompt[64];
    memset(long_prompt, 'x', sizeof long_prompt);
    assert_int_equal(slm_generate(&rt, long_prompt, 64, &p, a, sizeof a, &st, &err), -SLM_E_CTX);
    assert_int_equal(slm_generate(&rt, long_prompt, 65, &p, a, sizeof a, &st, &err), -SLM_E_LIMIT);
    /* a tiny output buffer truncates cleanly */
    assert_int_equal(slm_generate(&rt, "hello", 5, &p, a, 3, &st, &err), 0);
    assert_true(strlen(a) <= 2);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(f32_model_matches_reference),
        cmocka_unit_test(quantized_models_match_reference),
        cmocka_unit_test(every_isa_matches_reference),
        cmocka_unit_test(batched_prompt_matches_single_tokens),
        cmocka_unit_test(bad_batches_are_refused_whole),
        cmocka_unit_test(bad_models_are_refused_with_names),
        cmocka_unit_test(pool_estimate_is_exact),
        cmocka_unit_test(generation_is_deterministic_and_bounded),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
