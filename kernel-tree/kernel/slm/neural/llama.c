/*
 * llama.c - loading a llama GGUF model: hyperparameters, tensor binding and
 * shape checks, tokenizer, and the pool estimate. The forward pass is in
 * forward.c. Weights are bound in place: every slm_tensor points into the
 * caller's buffer.
 */
#include "llama.h"

#define KEYBUF 96

/* "<arch>.<suffix>" into buf. */
static const char *arch_key(char *buf, const char *suffix)
{
    kfmt_snprintf(buf, KEYBUF, "llama.%s", suffix);
    return buf;
}

static int get_u32_default(const struct gguf_file *gf, const char *suffix, uint32_t def,
                           uint32_t *out, struct slm_err *err)
{
    char key[KEYBUF];
    int rc = gguf_get_u32(gf, arch_key(key, suffix), out, err);
    if (rc == -SLM_E_MISSING) {
        *out = def;
        return 0;
    }
    return rc;
}

static int get_f32_default(const struct gguf_file *gf, const char *suffix, float def, float *out,
                           struct slm_err *err)
{
    char key[KEYBUF];
    int rc = gguf_get_f32(gf, arch_key(key, suffix), out, err);
    if (rc == -SLM_E_MISSING) {
        *out = def;
        return 0;
    }
    return rc;
}

static int check_arch(const struct gguf_file *gf, struct slm_err *err)
{
    struct gguf_str arch;
    int rc = gguf_get_str(gf, "general.architecture", &arch, err);
    if (rc)
        return rc;
    if (!gguf_str_eq(arch, "llama"))
        return slm_err_set(err, SLM_E_ARCH,
                           "general.architecture is \"%.*s\": only \"llama\" is supported",
                           (int)SLM_MIN(arch.n, 64), arch.p);
    return 0;
}

static int read_config(const struct gguf_file *gf, struct slm_config *c, struct slm_err *err)
{
    char key[KEYBUF];
    int rc = check_arch(gf, err);
    if (!rc)
        rc = gguf_get_u32(gf, arch_key(key, "embedding_length"), &c->dim, err);
    if (!rc)
        rc = gguf_get_u32(gf, arch_key(key, "block_count"), &c->n_layers, err);
    if (!rc)
        rc = gguf_get_u32(gf, arch_key(key, "attention.head_count"), &c->n_heads, err);
    if (!rc)
        rc = gguf_get_u32(gf, arch_key(key, "feed_forward_length"), &c->ffn_dim, err);
    if (!rc)
        rc = get_u32_default(gf, "attention.head_count_kv", c->n_heads, &c->n_kv_heads, err);
    if (!rc)
        rc = get_u32_default(gf, "context_length", 2048, &c->ctx_train, err);
    if (!rc)
        rc = get_f32_default(gf, "rope.freq_base", 10000.0f, &c->rope_base, err);
    if (!rc)
        rc = get_f32_default(gf, "attention.layer_norm_rms_epsilon", 1e-5f, &c->rms_eps, err);
    if (rc)
        return rc;
    if (c->dim == 0 || c->n_heads == 0 || c->n_kv_heads == 0 || c->n_layers == 0 ||
        c->ffn_dim == 0 || c->dim % c->n_heads || c->n_heads % c->n_kv_heads)
        return slm_err_set(err, SLM_E_KV_VALUE,
                           "inconsistent hyperparameters: dim %u, layers %u, heads %u, "
                           "kv heads %u, ffn %u",
                           c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->ffn_dim);
    if (c->n_layers > SLM_MAX_LAYERS)
        return slm_err_set(err, SLM_E_LIMIT, "llama.block_count %u beyond the engine's %u",
                           c->n_layers, SLM_MAX_LAYERS);
    c->head_dim = c->dim / c->n_heads;
    rc = get_u32_default(gf, "rope.dimension_count", c->head_dim, &c->rope_dim, err);
    if (rc)
        return rc;
    if (c->rope_dim > c->head_dim || c->rope_dim % 2 || c->head_dim % 2)
        return slm_err_set(err, SLM_E_KV_VALUE,
                           "llama.rope.dimension_count %u invalid for head size %u", c->rope_dim,
                           c->head_dim);
    if (!(c->rms_eps > 0.0f) || !(c->rope_base > 0.0f))
        return slm_err_set(err, SLM_E_KV_VALUE, "rms epsilon and rope.freq_base must be > 0");
    return 0;
}

/* Binds tensor `name` with ne = [cols, rows] (rows 0: any, and reported). */
static int bind(const struct slm_model *m, struct slm_tensor *t, const char *name, uint32_t cols,
                uint32_t rows, struct slm_err *err)
{
    const struct gguf_tensor *gt = gguf_find_tensor(&m->gf, name);
    if (!gt)
        return slm_err_set(err, SLM_E_MISSING, "tensor %s: missing", name);
    if (gt->n_dims > 2 || gt->ne[0] != cols || (rows && gt->ne[1] != rows) ||
        gt->ne[1] > UINT32_MAX)
        return slm_err_set(err, SLM_E_SHAPE,
                           "tensor %s: shape [%llu, %llu], expected [%u, %u]", name,
                           (unsigned long long)gt->ne[0], (unsigned long long)gt->ne[1], cols,
                           rows);
    t->ops = slm_qops_select(gt->type, m->isa, m->cpu_features);
    if (!t->ops || !t->ops->matvec)
        return slm_err_set(err, SLM_E_UNSUPPORTED, "tensor %s: type %s not supported", name,
                           slm_qtype_info(gt->type)->name);
    t->act = slm_qops_select(t->ops->vec_dot_type, m->isa, m->cpu_features);
    t->data = gt->data;
    t->type = gt->type;
    t->cols = cols;
    t->rows = (uint32_t)gt->ne[1];
    t->row_bytes = slm_qtype_row_bytes(gt->type, cols);
    t->xq_row_bytes = slm_qtype_row_bytes(t->ops->vec_dot_type, cols);
    return 0;
}

/* A norm weight: f32 vector of n. */
static int bind_norm(const struct slm_model *m, const uint8_t **out, const char *name, uint32_t n,
                     struct slm_err *err)
{
    const struct gguf_tensor *gt = gguf_find_tensor(&m->gf, name);
    if (!gt)
        return slm_err_set(err, SLM_E_MISSING, "tensor %s: missing", name);
    if (gt->type != SLM_Q_F32 || gt->n_dims != 1 || gt->ne[0] != n)
        return slm_err_set(err, SLM_E_SHAPE, "tensor %s: expected F32 [%u], got %s [%llu]", name,
                           n, slm_qtype_info(gt->type)->name, (unsigned long long)gt->ne[0]);
    *out = gt->data;
    return 0;
}

static int bind_layer(struct slm_model *m, uint32_t i, struct slm_err *err)
{
    const struct slm_config *c = &m->cfg;
    struct slm_layer *l = &m->layers[i];
    uint32_t q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
    char name[KEYBUF];
#define NAME(s) (kfmt_snprintf(name, sizeof name, "blk.%u." s, i), name)
    int rc = bind_norm(m, &l->attn_norm, NAME("attn_norm.weight"), c->dim, err);
    if (!rc)
        rc = bind(m, &l->wq, NAME("attn_q.weight"), c->dim, q_dim, err);
    if (!rc)
        rc = bind(m, &l->wk, NAME("attn_k.weight"), c->dim, kv_dim, err);
    if (!rc)
        rc = bind(m, &l->wv, NAME("attn_v.weight"), c->dim, kv_dim, err);
    if (!rc)
        rc = bind(m, &l->wo, NAME("attn_output.weight"), q_dim, c->dim, err);
    if (!rc)
        rc = bind_norm(m, &l->ffn_norm, NAME("ffn_norm.weight"), c->dim, err);
    if (!rc)
        rc = bind(m, &l->w_gate, NAME("ffn_gate.weight"), c->dim, c->ffn_dim, err);
    if (!rc)
        rc = bind(m, &l->w_up, NAME("ffn_up.weight"), c->dim, c->ffn_dim, err);
    if (!rc)
        rc = bind(m, &l->w_down, NAME("ffn_down.weight"), c->ffn_dim, c->dim, err);
#undef NAME
    return rc;
}

static int bind_weights(struct slm_model *m, struct slm_pool *pool, struct slm_err *err)
{
    int rc = bind(m, &m->tok_embd, "token_embd.weight", m->cfg.dim, 0, err);
    if (rc)
        return rc;
    m->cfg.vocab = m->tok_embd.rows;
    if (!m->tok_embd.ops->to_float)
        return slm_err_set(err, SLM_E_UNSUPPORTED, "tensor token_embd.weight: no dequantizer");
    rc = bind_norm(m, &m->out_norm, "output_norm.weight", m->cfg.dim, err);
    if (rc)
        return rc;
    m->tied_output = gguf_find_tensor(&m->gf, "output.weight") == NULL;
    if (m->tied_output)
        m->output = m->tok_embd;
    else if ((rc = bind(m, &m->output, "output.weight", m->cfg.dim, m->cfg.vocab, err)))
        return rc;
    m->layers = slm_pool_alloc(pool, m->cfg.n_layers * sizeof *m->layers, 0);
    if (!m->layers)
        return slm_err_set(err, SLM_E_NOMEM, "pool exhausted (layer table)");
    for (uint32_t i = 0; i < m->cfg.n_layers; i++)
        if ((rc = bind_layer(m, i, err)))
            return rc;
    return 0;
}

static void count_params(struct slm_model *m)
{
    m->n_params = 0;
    m->weight_bytes = 0;
    for (uint64_t i = 0; i < m->gf.n_tensors; i++) {
        const struct gguf_tensor *t = &m->gf.tensors[i];
        uint64_t n = 1;
        for (uint32_t d = 0; d < t->n_dims; d++)
            n *= t->ne[d]; /* cannot overflow: the parser checked */
        m->n_params += n;
        m->weight_bytes += t->nbytes;
    }
}

int slm_model_load(struct slm_model *m, const uint8_t *buf, size_t size, enum slm_isa isa,
                   struct slm_pool *pool, struct slm_err *err)
{
    memset(m, 0, sizeof *m);
    m->isa = isa;
    m->cpu_features = isa == SLM_ISA_AVX512 ? slm_cpu_features() : 0;
    m->vops = slm_vops_get(isa);
    int rc = gguf_parse(&m->gf, buf, size, pool, err);
    if (!rc)
        rc = read_config(&m->gf, &m->cfg, err);
    if (!rc)
        rc = bind_weights(m, pool, err);
    if (!rc)
        rc = slm_tok_from_gguf(&m->tok, &m->vocab, &m->gf, pool, err);
    if (rc)
        return rc;
    if (m->vocab.n_vocab != m->cfg.vocab)
        return slm_err_set(err, SLM_E_SHAPE,
                           "tokenizer has %u tokens but token_embd.weight has %u rows",
                           m->vocab.n_vocab, m->cfg.vocab);
    count_params(m);
    return 0;
}

/* Bytes of the largest quantized activation vector any matvec needs. */
static size_t xq_bytes(const struct slm_config *c)
{
    static const uint32_t vdt[] = {SLM_Q_F32, SLM_Q_Q8_0, SLM_Q_Q8_K};
    uint32_t widths[] = {c->dim, c->n_heads * c->head_dim, c->ffn_dim};
    size_t best = 0;
    for (unsigned i = 0; i < SLM_ARRAY_SIZE(vdt); i++)
        for (unsigned j = 0; j < SLM_ARRAY_SIZE(widths); j++)
            best = SLM_MAX(best, slm_qtype_row_bytes(vdt[i], widths[j]));
    return best;
}

/* Buffers of slm_ctx, allocated in this order. */
enum { CTX_BUFS = 15 };

static uint32_t batch_rows(uint32_t n_ctx)
{
    return SLM_MIN(SLM_BATCH, n_ctx);
}

/* Each buffer of slm_ctx, in allocation order: bytes for (cfg, n_ctx). */
static void ctx_sizes(const struct slm_config *c, uint32_t n_ctx, size_t sz[CTX_BUFS])
{
    size_t q_dim = (size_t)c->n_heads * c->head_dim, kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    size_t cache = (size_t)c->n_layers * n_ctx * kv_dim * sizeof(uint16_t);
    size_t rope = (size_t)n_ctx * (c->rope_dim / 2) * sizeof(float);
    size_t nb = batch_rows(n_ctx), widest = SLM_MAX(SLM_MAX(c->dim, q_dim), c->ffn_dim);
    size_t i = 0;
    sz[i++] = nb * c->dim * sizeof(float);             /* x */
    sz[i++] = nb * SLM_MAX(c->dim, q_dim) * sizeof(float); /* xb */
    sz[i++] = nb * c->dim * sizeof(float);             /* xb2 */
    sz[i++] = nb * q_dim * sizeof(float);              /* q */
    sz[i++] = nb * kv_dim * sizeof(float);             /* k */
    sz[i++] = nb * kv_dim * sizeof(float);             /* v */
    sz[i++] = nb * c->ffn_dim * sizeof(float);         /* hb */
    sz[i++] = nb * c->ffn_dim * sizeof(float);         /* hb2 */
    sz[i++] = nb * xq_bytes(c);                        /* xq */
    sz[i++] = (size_t)c->n_heads * n_ctx * sizeof(float); /* att */
    sz[i++] = (size_t)c->vocab * sizeof(float);        /* logits */
    sz[i++] = slm_matmat_scratch_bytes((uint32_t)widest, (uint32_t)nb); /* mm_scratch */
    sz[i++] = rope;                                    /* rope_cos */
    sz[i++] = rope;                                    /* rope_sin */
    sz[i++] = 2 * cache;                               /* k_cache + v_cache */
}

size_t slm_ctx_pool_bytes(const struct slm_config *cfg, uint32_t n_ctx)
{
    size_t sz[CTX_BUFS], total = 0;
    ctx_sizes(cfg, n_ctx, sz);
    for (unsigned i = 0; i < SLM_ARRAY_SIZE(sz); i++)
        total += slm_pool_cost(sz[i]);
    return total;
}

static void rope_tables(struct slm_ctx *c)
{
    const struct slm_config *cfg = &c->m->cfg;
    uint32_t half = cfg->rope_dim / 2;
    for (uint32_t i = 0; i < half; i++) {
        /* theta_i = base^(-2i/rope_dim), as llama.cpp computes it */
        double theta = km_pow(cfg->rope_base, -2.0 * i / cfg->rope_dim);
        for (uint32_t p = 0; p < c->n_ctx; p++) {
            double a = p * theta;
            c->rope_cos[(size_t)p * half + i] = (float)km_cos(a);
            c->rope_sin[(size_t)p * half + i] = (float)km_sin(a);
        }
    }
}

int slm_ctx_init(struct slm_ctx *c, const struct slm_model *m, uint32_t n_ctx,
                 struct slm_pool *pool, struct slm_err *err)
{
    if (n_ctx == 0 || n_ctx > m->cfg.ctx_train)
        return slm_err_set(err, SLM_E_INVAL, "context length %u outside 1..%u", n_ctx,
                           m->cfg.ctx_train);
    size_t sz[CTX_BUFS];
    void *p[CTX_BUFS];
    ctx_sizes(&m->cfg, n_ctx, sz);
    for (unsigned i = 0; i < SLM_ARRAY_SIZE(sz); i++) {
        p[i] = slm_pool_alloc(pool, sz[i], 0);
        if (!p[i])
            return slm_err_set(err, SLM_E_NOMEM,
                               "pool exhausted: context of %u positions needs %zu bytes, "
                               "%zu free",
                               n_ctx, slm_ctx_pool_bytes(&m->cfg, n_ctx), pool->size - pool->used);
    }
    memset(c, 0, sizeof *c);
    c->m = m;
    c->n_ctx = n_ctx;
    c->n_batch = batch_rows(n_ctx);
    c->x = p[0], c->xb = p[1], c->xb2 = p[2], c->q = p[3], c->k = p[4], c->v = p[5];
    c->hb = p[6], c->hb2 = p[7], c->xq = p[8], c->att = p[9], c->logits = p[10];
    c->mm_scratch = p[11];
    c->rope_cos = p[12], c->rope_sin = p[13];
    c->k_cache = p[14];
    c->v_cache = c->k_cache + (size_t)m->cfg.n_layers * n_ctx * m->cfg.n_kv_heads * m->cfg.head_dim;
    rope_tables(c);
    return 0;
}

void slm_ctx_reset(struct slm_ctx *c)
{
    c->pos = 0;
}
