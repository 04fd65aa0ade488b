/*
 * forward.c - the llama forward pass over a batch of tokens (see llama.h).
 *
 * Reads top to bottom like the math: embed, then per layer RMSNorm ->
 * Q/K/V -> RoPE -> cache -> attention -> output projection -> residual,
 * RMSNorm -> SwiGLU FFN -> residual; final RMSNorm and the classifier.
 *
 * The activations of the nb tokens of a batch lie in rows of the context's
 * buffers (row b of x is x + b * dim, and so on); one token is the batch
 * of one. Matrix products go through the quant kernels: each input row is
 * quantized once to the weight type's vec_dot_type, then one token streams
 * the weight rows in place (matvec), and several go through matmat, which
 * unpacks each weight block once for all of them. Attention runs token by
 * token, each over the cache up to its own position, so a batch computes
 * what the same tokens one at a time would. Only the last token of a batch
 * reaches the classifier.
 */
#include "fp16.h"
#include "llama.h"

/* Row b of a batch buffer whose rows are w floats long. */
#define ROW(buf, w, b) ((buf) + (size_t)(b) * (w))

/* Floats per row of xb: the normed input (dim) or the attention output
 * (n_heads * head_dim), whichever is wider. */
static size_t xb_width(const struct slm_config *cfg)
{
    return SLM_MAX(cfg->dim, (size_t)cfg->n_heads * cfg->head_dim);
}

/* out = x / rms(x) * w  (w: f32 in the model buffer, any alignment) */
static void rmsnorm(float *out, const float *x, const uint8_t *w, uint32_t n, float eps)
{
    float ss = 0.0f;
    for (uint32_t i = 0; i < n; i++)
        ss += x[i] * x[i];
    float scale = 1.0f / km_sqrtf(ss / (float)n + eps);
    for (uint32_t i = 0; i < n; i++) {
        float wi;
        memcpy(&wi, w + 4 * (size_t)i, 4);
        out[i] = x[i] * scale * wi;
    }
}

/* rmsnorm of each of the nb rows of x into the rows of out. */
static void rmsnorm_rows(float *out, size_t ld_out, const float *x, const uint8_t *w,
                         const struct slm_config *cfg, uint32_t nb)
{
    for (uint32_t b = 0; b < nb; b++)
        rmsnorm(ROW(out, ld_out, b), ROW(x, cfg->dim, b), w, cfg->dim, cfg->rms_eps);
}

/* x[b] += d[b] for the nb rows of the residual stream. */
static void add_rows(float *x, const float *d, size_t ld_d, uint32_t dim, uint32_t nb)
{
    for (uint32_t b = 0; b < nb; b++)
        for (uint32_t i = 0; i < dim; i++)
            x[(size_t)b * dim + i] += d[(size_t)b * ld_d + i];
}

/* Quantized copy of the input rows, shared by consecutive products that
 * read the same input in the same format (Q, K and V; gate and up). */
struct xq_state {
    const float *src; /* input currently quantized into c->xq, or NULL */
    uint32_t type;
};

/* out[b] = W in[b] for b < nb; rows of in are ld_in floats apart, of out
 * ld_out. */
static void matmul(struct slm_ctx *c, struct xq_state *st, const struct slm_tensor *w,
                   const float *in, size_t ld_in, float *out, size_t ld_out, uint32_t nb)
{
    const struct slm_qops *ops = w->ops;
    size_t xs = w->xq_row_bytes;
    if (st->src != in || st->type != ops->vec_dot_type) {
        for (uint32_t b = 0; b < nb; b++)
            w->act->from_float(ROW(in, ld_in, b), (uint8_t *)c->xq + b * xs, w->cols);
        st->src = in;
        st->type = ops->vec_dot_type;
    }
    if (nb == 1)
        ops->matvec((int)w->cols, (int)w->rows, out, w->data, w->row_bytes, c->xq);
    else
        slm_matmat(ops, (int)w->cols, (int)w->rows, (int)nb, out, ld_out, w->data, w->row_bytes,
                   c->xq, xs, c->mm_scratch);
}

/* Rotates adjacent pairs (v[2i], v[2i+1]) of each head by pos * theta_i. */
static void rope(const struct slm_ctx *c, float *v, uint32_t n_heads, uint32_t pos)
{
    const struct slm_config *cfg = &c->m->cfg;
    uint32_t half = cfg->rope_dim / 2;
    const float *cs = c->rope_cos + (size_t)pos * half;
    const float *sn = c->rope_sin + (size_t)pos * half;
    for (uint32_t h = 0; h < n_heads; h++) {
        float *hv = v + (size_t)h * cfg->head_dim;
        for (uint32_t i = 0; i < half; i++) {
            float a = hv[2 * i], b = hv[2 * i + 1];
            hv[2 * i] = a * cs[i] - b * sn[i];
            hv[2 * i + 1] = a * sn[i] + b * cs[i];
        }
    }
}

/* Multi-head attention of q (the token at pos) over positions 0..pos of
 * layer l's cache, result (n_heads*head_dim) into out. */
static void attention(struct slm_ctx *c, uint32_t l, uint32_t pos, const float *q, float *out)
{
    const struct slm_config *cfg = &c->m->cfg;
    uint32_t hd = cfg->head_dim, kv_dim = cfg->n_kv_heads * hd, group = cfg->n_heads / cfg->n_kv_heads;
    size_t layer_off = (size_t)l * c->n_ctx * kv_dim;
    float scale = 1.0f / km_sqrtf((float)hd);
    for (uint32_t h = 0; h < cfg->n_heads; h++) {
        size_t head_off = layer_off + (size_t)(h / group) * hd;
        c->m->vops->attn_head((int)hd, (int)pos + 1, kv_dim, c->k_cache + head_off,
                              c->v_cache + head_off, q + (size_t)h * hd, scale,
                              c->att + (size_t)h * c->n_ctx, out + (size_t)h * hd);
    }
}

static void attention_block(struct slm_ctx *c, const struct slm_layer *L, uint32_t l, uint32_t nb)
{
    const struct slm_config *cfg = &c->m->cfg;
    size_t q_dim = (size_t)cfg->n_heads * cfg->head_dim, kv_dim = (size_t)cfg->n_kv_heads * cfg->head_dim;
    size_t xbw = xb_width(cfg);
    struct xq_state st = {0};

    rmsnorm_rows(c->xb, xbw, c->x, L->attn_norm, cfg, nb);
    matmul(c, &st, &L->wq, c->xb, xbw, c->q, q_dim, nb);
    matmul(c, &st, &L->wk, c->xb, xbw, c->k, kv_dim, nb);
    matmul(c, &st, &L->wv, c->xb, xbw, c->v, kv_dim, nb);
    /* every token of the batch enters the cache before any attends */
    for (uint32_t b = 0; b < nb; b++) {
        uint32_t pos = c->pos + b;
        rope(c, ROW(c->q, q_dim, b), cfg->n_heads, pos);
        rope(c, ROW(c->k, kv_dim, b), cfg->n_kv_heads, pos);
        size_t at = ((size_t)l * c->n_ctx + pos) * kv_dim;
        c->m->vops->f32_to_f16((int)kv_dim, ROW(c->k, kv_dim, b), c->k_cache + at);
        c->m->vops->f32_to_f16((int)kv_dim, ROW(c->v, kv_dim, b), c->v_cache + at);
    }
    for (uint32_t b = 0; b < nb; b++)
        attention(c, l, c->pos + b, ROW(c->q, q_dim, b), ROW(c->xb, xbw, b));
    st.src = NULL; /* xb now holds the attention output */
    matmul(c, &st, &L->wo, c->xb, xbw, c->xb2, cfg->dim, nb);
    add_rows(c->x, c->xb2, cfg->dim, cfg->dim, nb);
}

static void ffn_block(struct slm_ctx *c, const struct slm_layer *L, uint32_t nb)
{
    const struct slm_config *cfg = &c->m->cfg;
    size_t xbw = xb_width(cfg), ffn = cfg->ffn_dim;
    struct xq_state st = {0};

    rmsnorm_rows(c->xb, xbw, c->x, L->ffn_norm, cfg, nb);
    matmul(c, &st, &L->w_gate, c->xb, xbw, c->hb, ffn, nb);
    matmul(c, &st, &L->w_up, c->xb, xbw, c->hb2, ffn, nb);
    /* SiLU(gate) * up: the rows are contiguous, one call covers them */
    c->m->vops->silu_mul((int)(nb * ffn), c->hb, c->hb2);
    matmul(c, &st, &L->w_down, c->hb, ffn, c->xb, xbw, nb);
    add_rows(c->x, c->xb, xbw, cfg->dim, nb);
}

int slm_forward_batch(struct slm_ctx *c, const int32_t *tokens, uint32_t n, const float **logits)
{
    const struct slm_model *m = c->m;
    const struct slm_config *cfg = &m->cfg;
    if (n == 0)
        return -SLM_E_INVAL;
    for (uint32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= cfg->vocab)
            return -SLM_E_INVAL;
    if (n > c->n_ctx - c->pos)
        return -SLM_E_CTX;

    const struct slm_tensor *e = &m->tok_embd;
    uint32_t nb = 0;
    for (uint32_t done = 0; done < n; done += nb) {
        nb = SLM_MIN(c->n_batch, n - done);
        for (uint32_t b = 0; b < nb; b++)
            e->ops->to_float(e->data + (size_t)tokens[done + b] * e->row_bytes,
                             ROW(c->x, cfg->dim, b), cfg->dim);
        for (uint32_t l = 0; l < cfg->n_layers; l++) {
            attention_block(c, &m->layers[l], l, nb);
            ffn_block(c, &m->layers[l], nb);
        }
        c->pos += nb;
    }

    struct xq_state st = {0};
    rmsnorm(c->xb, ROW(c->x, cfg->dim, nb - 1), m->out_norm, cfg->dim, cfg->rms_eps);
    matmul(c, &st, &m->output, c->xb, 0, c->logits, 0, 1);
    *logits = c->logits;
    return 0;
}

int slm_forward(struct slm_ctx *c, int32_t token, const float **logits)
{
    return slm_forward_batch(c, &token, 1, logits);
}
