/*
 * forward.c - the llama forward pass for one token (see llama.h).
 *
 * Reads top to bottom like the math: embed, then per layer RMSNorm ->
 * Q/K/V -> RoPE -> cache -> attention -> output projection -> residual,
 * RMSNorm -> SwiGLU FFN -> residual; final RMSNorm and the classifier.
 * Matrix-vector products go through the quant kernels: the input vector is
 * quantized once to the weight type's vec_dot_type, then streamed against
 * the weight rows in place.
 */
#include "fp16.h"
#include "llama.h"

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

/* Quantized copy of the input vector, shared by consecutive matvecs that
 * read the same input in the same format (Q, K and V; gate and up). */
struct xq_state {
    const float *src; /* input currently quantized into c->xq, or NULL */
    uint32_t type;
};

static void matvec(struct slm_ctx *c, struct xq_state *st, const struct slm_tensor *w,
                   const float *in, float *out)
{
    const struct slm_qops *ops = w->ops;
    if (st->src != in || st->type != ops->vec_dot_type) {
        w->act->from_float(in, c->xq, w->cols);
        st->src = in;
        st->type = ops->vec_dot_type;
    }
    ops->matvec((int)w->cols, (int)w->rows, out, w->data, w->row_bytes, c->xq);
}

/* Rotates adjacent pairs (v[2i], v[2i+1]) of each head by pos * theta_i. */
static void rope(const struct slm_ctx *c, float *v, uint32_t n_heads)
{
    const struct slm_config *cfg = &c->m->cfg;
    uint32_t half = cfg->rope_dim / 2;
    const float *cs = c->rope_cos + (size_t)c->pos * half;
    const float *sn = c->rope_sin + (size_t)c->pos * half;
    for (uint32_t h = 0; h < n_heads; h++) {
        float *hv = v + (size_t)h * cfg->head_dim;
        for (uint32_t i = 0; i < half; i++) {
            float a = hv[2 * i], b = hv[2 * i + 1];
            hv[2 * i] = a * cs[i] - b * sn[i];
            hv[2 * i + 1] = a * sn[i] + b * cs[i];
        }
    }
}

/* Multi-head attention of c->q over positions 0..pos of layer l's cache,
 * result (n_heads*head_dim) into c->xb. */
static void attention(struct slm_ctx *c, uint32_t l)
{
    const struct slm_config *cfg = &c->m->cfg;
    uint32_t hd = cfg->head_dim, kv_dim = cfg->n_kv_heads * hd, group = cfg->n_heads / cfg->n_kv_heads;
    size_t layer_off = (size_t)l * c->n_ctx * kv_dim;
    float scale = 1.0f / km_sqrtf((float)hd);
    for (uint32_t h = 0; h < cfg->n_heads; h++) {
        size_t head_off = layer_off + (size_t)(h / group) * hd;
        c->m->vops->attn_head((int)hd, (int)c->pos + 1, kv_dim, c->k_cache + head_off,
                              c->v_cache + head_off, c->q + (size_t)h * hd, scale,
                              c->att + (size_t)h * c->n_ctx, c->xb + (size_t)h * hd);
    }
}

static void attention_block(struct slm_ctx *c, const struct slm_layer *L, uint32_t l)
{
    const struct slm_config *cfg = &c->m->cfg;
    uint32_t kv_dim = cfg->n_kv_heads * cfg->head_dim;
    struct xq_state st = {0};

    rmsnorm(c->xb, c->x, L->attn_norm, cfg->dim, cfg->rms_eps);
    matvec(c, &st, &L->wq, c->xb, c->q);
    matvec(c, &st, &L->wk, c->xb, c->k);
    matvec(c, &st, &L->wv, c->xb, c->v);
    rope(c, c->q, cfg->n_heads);
    rope(c, c->k, cfg->n_kv_heads);

    size_t at = ((size_t)l * c->n_ctx + c->pos) * kv_dim;
    c->m->vops->f32_to_f16((int)kv_dim, c->k, c->k_cache + at);
    c->m->vops->f32_to_f16((int)kv_dim, c->v, c->v_cache + at);

    attention(c, l);
    st.src = NULL; /* xb now holds the attention output */
    matvec(c, &st, &L->wo, c->xb, c->xb2);
    for (uint32_t i = 0; i < cfg->dim; i++)
        c->x[i] += c->xb2[i];
}

static void ffn_block(struct slm_ctx *c, const struct slm_layer *L)
{
    const struct slm_config *cfg = &c->m->cfg;
    struct xq_state st = {0};

    rmsnorm(c->xb, c->x, L->ffn_norm, cfg->dim, cfg->rms_eps);
    matvec(c, &st, &L->w_gate, c->xb, c->hb);
    matvec(c, &st, &L->w_up, c->xb, c->hb2);
    c->m->vops->silu_mul((int)cfg->ffn_dim, c->hb, c->hb2); /* SiLU(gate) * up */
    matvec(c, &st, &L->w_down, c->hb, c->xb);
    for (uint32_t i = 0; i < cfg->dim; i++)
        c->x[i] += c->xb[i];
}

int slm_forward(struct slm_ctx *c, int32_t token, const float **logits)
{
    const struct slm_model *m = c->m;
    const struct slm_config *cfg = &m->cfg;
    if (token < 0 || (uint32_t)token >= cfg->vocab)
        return -SLM_E_INVAL;
    if (c->pos >= c->n_ctx)
        return -SLM_E_CTX;

    const struct slm_tensor *e = &m->tok_embd;
    e->ops->to_float(e->data + (size_t)token * e->row_bytes, c->x, cfg->dim);

    for (uint32_t l = 0; l < cfg->n_layers; l++) {
        attention_block(c, &m->layers[l], l);
        ffn_block(c, &m->layers[l]);
    }

    struct xq_state st = {0};
    rmsnorm(c->xb, c->x, m->out_norm, cfg->dim, cfg->rms_eps);
    matvec(c, &st, &m->output, c->xb, c->logits);
    c->pos++;
    *logits = c->logits;
    return 0;
}
