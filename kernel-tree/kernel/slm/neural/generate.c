/*
 * generate.c - the SLM runtime: open, estimate, generate (see generate.h).
 */
#include "generate.h"

/* Tokens a prompt of len bytes can become: one per byte, plus bos and the
 * space prefix spelled as three byte tokens, plus slack. */
static uint32_t max_tokens_for(size_t len)
{
    return (uint32_t)len + 8;
}

size_t slm_runtime_pool_bytes(const struct slm_model *m, uint32_t n_ctx, size_t max_prompt)
{
    if (n_ctx == 0)
        n_ctx = m->cfg.ctx_train;
    return slm_ctx_pool_bytes(&m->cfg, n_ctx) + slm_sampler_pool_bytes(m->cfg.vocab) +
           slm_pool_cost(max_tokens_for(max_prompt) * sizeof(int32_t)) +
           slm_tok_encode_scratch_bytes(&m->tok, max_prompt);
}

int slm_runtime_open(struct slm_runtime *rt, const uint8_t *buf, size_t size, uint32_t n_ctx,
                     size_t max_prompt, enum slm_isa isa, struct slm_pool *pool,
                     struct slm_err *err)
{
    memset(rt, 0, sizeof *rt);
    rt->pool = pool;
    int rc = slm_model_load(&rt->model, buf, size, isa, pool, err);
    if (rc)
        return rc;
    if (n_ctx == 0)
        n_ctx = rt->model.cfg.ctx_train;
    rc = slm_ctx_init(&rt->ctx, &rt->model, n_ctx, pool, err);
    if (!rc)
        rc = slm_sampler_init(&rt->sampler, rt->model.cfg.vocab, 0.0f, 0, 1.0f, 1, pool, err);
    if (rc)
        return rc;
    rt->sampler.argmax = rt->model.vops->argmax;
    rt->max_prompt = max_prompt;
    rt->max_prompt_tokens = max_tokens_for(max_prompt);
    rt->ids = slm_pool_alloc(pool, rt->max_prompt_tokens * sizeof(int32_t), 0);
    if (!rt->ids)
        return slm_err_set(err, SLM_E_NOMEM, "pool exhausted (prompt of %zu bytes)", max_prompt);
    return 0;
}

int slm_estimate_pool(const uint8_t *buf, size_t size, uint32_t n_ctx, size_t max_prompt,
                      void *scratch, size_t scratch_size, size_t *out, struct slm_err *err)
{
    struct slm_pool pool;
    struct slm_model m;
    slm_pool_init(&pool, scratch, scratch_size);
    int rc = slm_model_load(&m, buf, size, SLM_ISA_SCALAR, &pool, err);
    if (rc)
        return rc;
    if (n_ctx > m.cfg.ctx_train)
        return slm_err_set(err, SLM_E_INVAL, "context length %u beyond the model's %u", n_ctx,
                           m.cfg.ctx_train);
    *out = pool.used + slm_runtime_pool_bytes(&m, n_ctx, max_prompt);
    return 0;
}

static int prefill(struct slm_runtime *rt, const char *prompt, size_t len,
                   struct slm_gen_stats *st, const float **logits, struct slm_err *err)
{
    if (len > rt->max_prompt)
        return slm_err_set(err, SLM_E_LIMIT, "prompt of %zu bytes exceeds the runtime's %zu",
                           len, rt->max_prompt);
    const struct slm_model *m = &rt->model;
    int n = slm_tok_encode(&m->tok, prompt, len, m->vocab.add_bos, rt->ids,
                           (int)rt->max_prompt_tokens, rt->pool);
    if (n < 0)
        return slm_err_set(err, -n, "tokenizer: %s", slm_strerror(n));
    if (n == 0)
        return slm_err_set(err, SLM_E_INVAL, "empty prompt and no bos token");
    if ((uint32_t)n >= rt->ctx.n_ctx)
        return slm_err_set(err, SLM_E_CTX, "prompt of %d tokens fills the %u-token context", n,
                           rt->ctx.n_ctx);
    slm_ctx_reset(&rt->ctx);
    uint64_t t0 = slm_port_now_ns();
    int rc = slm_forward_batch(&rt->ctx, rt->ids, (uint32_t)n, logits);
    if (rc)
        return slm_err_set(err, -rc, "forward pass over the %d-token prompt: %s", n,
                           slm_strerror(rc));
    st->prompt_tokens = (uint32_t)n;
    st->prompt_ns = slm_port_now_ns() - t0;
    return 0;
}

/* Appends token id's text to out; returns false when it did not fit or the
 * text holds the newline that stops generation. */
static bool append_piece(const struct slm_runtime *rt, int32_t id, char *out, size_t cap,
                         size_t *used, const struct slm_gen_params *p, struct slm_gen_stats *st)
{
    char piece[272];
    int n = slm_tok_decode(&rt->model.tok, id, piece, sizeof piece);
    if (n < 0)
        n = 0;
    for (int i = 0; i < n; i++) {
        if (p->stop_at_newline && piece[i] == '\n' && *used > 0) {
            st->stop = SLM_STOP_NEWLINE;
            return false;
        }
        if (*used + 1 >= cap) {
            st->stop = SLM_STOP_LENGTH;
            return false;
        }
        out[(*used)++] = piece[i];
    }
    return true;
}

int slm_generate(struct slm_runtime *rt, const char *prompt, size_t len,
                 const struct slm_gen_params *p, char *out, size_t cap, struct slm_gen_stats *st,
                 struct slm_err *err)
{
    struct slm_gen_stats local;
    st = st ? st : &local;
    memset(st, 0, sizeof *st);
    if (cap == 0)
        return slm_err_set(err, SLM_E_INVAL, "output buffer of 0 bytes");
    out[0] = '\0';
    struct slm_sampler *s = &rt->sampler;
    /* out-of-range values mean "off": greedy, no nucleus */
    slm_sampler_set(s, p->temperature > 0.0f ? p->temperature : 0.0f, p->top_k,
                    p->top_p > 0.0f ? p->top_p : 1.0f, p->seed);

    const float *logits;
    int rc = prefill(rt, prompt, len, st, &logits, err);
    if (rc)
        return rc;
    uint64_t t0 = slm_port_now_ns();
    size_t used = 0;
    st->stop = SLM_STOP_LENGTH;
    while (st->gen_tokens < p->max_tokens) {
        int32_t id = slm_sample(s, logits);
        st->gen_tokens++;
        if (id == rt->model.vocab.eos) {
            st->stop = SLM_STOP_EOS;
            break;
        }
        if (!append_piece(rt, id, out, cap, &used, p, st))
            break;
        if (st->gen_tokens == p->max_tokens)
            break;
        if (rt->ctx.pos >= rt->ctx.n_ctx) {
            st->stop = SLM_STOP_CTX;
            break;
        }
        if ((rc = slm_forward(&rt->ctx, id, &logits)))
            return slm_err_set(err, -rc, "forward pass at position %u: %s", rt->ctx.pos,
                               slm_strerror(rc));
    }
    out[used] = '\0';
    st->gen_ns = slm_port_now_ns() - t0;
    st->pool_used = rt->pool->used;
    st->pool_peak = rt->pool->peak;
    return 0;
}

/* The bench's prompt: bos (or 0), then a fixed spread over the vocabulary
 * above the byte tokens. */
static int32_t bench_token(const struct slm_runtime *rt, uint32_t pos)
{
    if (pos == 0)
        return rt->model.vocab.bos >= 0 ? rt->model.vocab.bos : 0;
    return (int32_t)(259 + ((pos - 1) * 7919u) % (rt->model.cfg.vocab - 259));
}

int slm_bench(struct slm_runtime *rt, uint32_t pp, uint32_t tg, uint64_t ns[2], struct slm_err *err)
{
    const float *logits = NULL;
    uint32_t vocab = rt->model.cfg.vocab;
    if (pp == 0 || tg == 0 || (uint64_t)pp + tg > rt->ctx.n_ctx)
        return slm_err_set(err, SLM_E_LIMIT, "bench of %u+%u tokens: must be 1.. and fit the "
                           "context of %u", pp, tg, rt->ctx.n_ctx);
    if (vocab <= 259)
        return slm_err_set(err, SLM_E_LIMIT, "bench needs a vocabulary beyond the byte tokens");
    slm_ctx_reset(&rt->ctx);
    /* the prompt in batches, as slm_generate runs one */
    int32_t ids[SLM_BATCH];
    uint64_t t0 = slm_port_now_ns();
    for (uint32_t pos = 0; pos < pp;) {
        uint32_t k = SLM_MIN(rt->ctx.n_batch, pp - pos);
        for (uint32_t i = 0; i < k; i++)
            ids[i] = bench_token(rt, pos + i);
        int rc = slm_forward_batch(&rt->ctx, ids, k, &logits);
        if (rc)
            return slm_err_set(err, -rc, "forward pass at position %u: %s", pos,
                               slm_strerror(rc));
        pos += k;
    }
    ns[0] = slm_port_now_ns() - t0;
    t0 = slm_port_now_ns();
    for (uint32_t pos = pp; pos < pp + tg; pos++) {
        int32_t tok = (int32_t)rt->model.vops->argmax((int)vocab, logits);
        int rc = slm_forward(&rt->ctx, tok, &logits);
        if (rc)
            return slm_err_set(err, -rc, "forward pass at position %u: %s", pos,
                               slm_strerror(rc));
    }
    ns[1] = slm_port_now_ns() - t0;
    return 0;
}
