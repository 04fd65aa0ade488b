/*
 * slm_user.c - the SLM runtime's ring-3 side: the engine
 * (kernel/slm/neural) driven through the mailbox of kernel/slm/slm_abi.h.
 * GGUF parsing, tokenization and inference all happen here, unprivileged,
 * with the SIMD kernels CPUID picks. A fault here ends only the call: the
 * kernel reports it and falls back to the rule engine.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/slm/neural/generate.h"
#include "kernel/slm/neural/gguf.h"
#include "kernel/slm/neural/qtypes.h"
#include "kernel/slm/neural/slm_err.h"
#include "kernel/slm/slm_abi.h"
#include "lib/kfmt.h"
#include "lib/kstring.h"
#include "user/usvc.h"

/* The engine's clock: the kernel's. */
uint64_t slm_port_now_ns(void)
{
    return usvc_time_ns();
}

/* The runtime lives in the pool (after the mailbox), the pool's bookkeeping
 * in the mailbox (so the kernel reads used/peak); these point at them. */
static struct slm_pool *pool;
static struct slm_runtime *rt;
static size_t open_mark; /* pool use right after open: every call starts here */

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    while (src && src[n] && n + 1 < cap) {
        dst[n] = src[n];
        n++;
    }
    dst[n] = '\0';
}

static void copy_gstr(char *dst, size_t cap, const struct gguf_file *gf, const char *key)
{
    struct gguf_str v = {0};
    size_t n = 0;
    if (gguf_get_str(gf, key, &v, NULL) == 0)
        for (; n < v.n && n + 1 < cap; n++)
            dst[n] = v.p[n];
    dst[n] = '\0';
}

static int fail(struct slm_abi_mbox *mb, const struct slm_err *e, int rc)
{
    mb->resp.rc = rc;
    copy_str(mb->resp.errsym, sizeof mb->resp.errsym, slm_errsym(rc));
    copy_str(mb->resp.errmsg, sizeof mb->resp.errmsg,
             e && e->msg[0] ? e->msg : slm_strerror(rc));
    return rc;
}

static void clear_resp(struct slm_abi_mbox *mb)
{
    mb->resp.rc = 0;
    mb->resp.errsym[0] = mb->resp.errmsg[0] = mb->resp.out[0] = '\0';
    mb->resp.out_len = 0;
    mb->resp.prompt_tokens = mb->resp.gen_tokens = mb->resp.stop = 0;
    mb->resp.prompt_ns = mb->resp.gen_ns = 0;
}

UENTRY int64_t u_slm_open(struct slm_abi_mbox *mb, const uint8_t *model, size_t size,
                          uint8_t *base, size_t pool_size, uint32_t n_ctx)
{
    struct slm_err err = {0};
    clear_resp(mb);
    rt = NULL;
    pool = &mb->pool;
    slm_pool_init(pool, base, pool_size);
    struct slm_runtime *r = slm_pool_alloc(pool, sizeof *r, 0);
    if (!r)
        return fail(mb, NULL, -SLM_E_NOMEM);
    enum slm_isa best = slm_cpu_detect(), isa = best;
    if (mb->req.isa >= 0 && mb->req.isa < (int32_t)best)
        isa = (enum slm_isa)mb->req.isa; /* never above what the CPU has */
    int rc = slm_runtime_open(r, model, size, n_ctx, SLM_ABI_PROMPT_MAX, isa, pool, &err);
    if (rc)
        return fail(mb, &err, rc);
    const struct slm_model *m = &r->model;
    struct slm_abi_info *in = &mb->info;
    copy_gstr(in->arch, sizeof in->arch, &m->gf, "general.architecture");
    copy_gstr(in->name, sizeof in->name, &m->gf, "general.name");
    copy_str(in->tokenizer, sizeof in->tokenizer, m->vocab.kind == SLM_TOK_GPT2 ? "gpt2" : "llama");
    copy_str(in->isa, sizeof in->isa, slm_isa_name(m->isa));
    copy_str(in->weight_type, sizeof in->weight_type, slm_qtype_info(m->layers[0].wq.type)->name);
    in->vocab = m->cfg.vocab;
    in->ctx_train = m->cfg.ctx_train;
    in->n_ctx = r->ctx.n_ctx;
    in->dim = m->cfg.dim;
    in->n_layers = m->cfg.n_layers;
    in->n_heads = m->cfg.n_heads;
    in->n_kv_heads = m->cfg.n_kv_heads;
    in->ffn = m->cfg.ffn_dim;
    in->n_params = m->n_params;
    in->weight_bytes = m->weight_bytes;
    in->n_tensors = (uint32_t)m->gf.n_tensors;
    in->pool_size = pool->size;
    in->pool_used = pool->used;
    in->pool_peak = pool->peak;
    open_mark = slm_pool_mark(pool);
    rt = r;
    return 0;
}

static struct slm_gen_params params_of(const struct slm_abi_req *q)
{
    struct slm_gen_params p = SLM_GEN_DEFAULTS;
    p.max_tokens = q->max_tokens;
    p.temperature = (float)q->temp_milli / 1000.0f;
    p.top_k = q->top_k;
    p.top_p = q->top_p_milli >= 1000 ? 1.0f : (float)q->top_p_milli / 1000.0f;
    p.seed = q->seed;
    p.stop_at_newline = q->stop_newline != 0;
    return p;
}

UENTRY int64_t u_slm_generate(struct slm_abi_mbox *mb)
{
    struct slm_err err = {0};
    struct slm_gen_stats st = {0};
    clear_resp(mb);
    if (!rt)
        return fail(mb, NULL, -SLM_E_INVAL);
    slm_pool_reset(pool, open_mark); /* an interrupted call may have left scratch */
    const struct slm_abi_req *q = &mb->req;
    size_t len = q->prompt_len < SLM_ABI_PROMPT_MAX ? q->prompt_len : SLM_ABI_PROMPT_MAX;
    struct slm_gen_params p = params_of(q);
    int rc = slm_generate(rt, q->prompt, len, &p, mb->resp.out, sizeof mb->resp.out, &st, &err);
    mb->resp.prompt_tokens = st.prompt_tokens;
    mb->resp.gen_tokens = st.gen_tokens;
    mb->resp.stop = st.stop;
    mb->resp.prompt_ns = st.prompt_ns;
    mb->resp.gen_ns = st.gen_ns;
    mb->resp.pool_used = pool->used;
    mb->resp.pool_peak = pool->peak;
    if (rc)
        return fail(mb, &err, rc);
    mb->resp.out_len = (uint32_t)strlen(mb->resp.out);
    return 0;
}

UENTRY int64_t u_slm_bench(struct slm_abi_mbox *mb)
{
    struct slm_err err = {0};
    uint64_t ns[2] = {0, 0};
    clear_resp(mb);
    if (!rt)
        return fail(mb, NULL, -SLM_E_INVAL);
    slm_pool_reset(pool, open_mark);
    int rc = slm_bench(rt, mb->req.bench_pp, mb->req.bench_tg, ns, &err);
    mb->resp.prompt_ns = ns[0];
    mb->resp.gen_ns = ns[1];
    mb->resp.prompt_tokens = mb->req.bench_pp;
    mb->resp.gen_tokens = mb->req.bench_tg;
    mb->resp.pool_used = pool->used;
    mb->resp.pool_peak = pool->peak;
    return rc ? fail(mb, &err, rc) : 0;
}

static int st_parser(struct slm_abi_mbox *mb, struct slm_err *err)
{
    /* a second, independent parse of the same bytes in scratch pool space */
    struct gguf_file gf;
    size_t mark = slm_pool_mark(pool);
    int rc = gguf_parse(&gf, rt->model.gf.buf, rt->model.gf.size, pool, err);
    if (!rc)
        kfmt_snprintf(mb->resp.out, sizeof mb->resp.out,
                      "GGUF v%u, %lu tensors, %lu metadata keys, %lu bytes", gf.version,
                      (unsigned long)gf.n_tensors, (unsigned long)gf.n_kv,
                      (unsigned long)gf.size);
    slm_pool_reset(pool, mark);
    return rc;
}

static int st_tokenizer(struct slm_abi_mbox *mb, struct slm_err *err)
{
    static const char text[] = "PCI device 8086:10d3 is";
    int32_t ids[64];
    char back[128];
    size_t used = 0, mark = slm_pool_mark(pool);
    const struct slm_tokenizer *t = &rt->model.tok;
    int n = slm_tok_encode(t, text, sizeof text - 1, false, ids, 64, pool);
    slm_pool_reset(pool, mark);
    if (n <= 0)
        return slm_err_set(err, n < 0 ? -n : SLM_E_INVAL, "encode gave %d tokens", n);
    for (int i = 0; i < n; i++) {
        int k = slm_tok_decode(t, ids[i], back + used, sizeof back - used);
        if (k < 0)
            return slm_err_set(err, -k, "decode of token %d failed", ids[i]);
        used += (size_t)k;
    }
    back[used] = '\0';
    const char *b = back;
    if (*b == ' ') /* the space prefix */
        b++;
    if (strcmp(b, text) != 0)
        return slm_err_set(err, SLM_E_INVAL, "round trip gave '%s'", back);
    kfmt_snprintf(mb->resp.out, sizeof mb->resp.out, "'%s' -> %d tokens -> same text", text, n);
    return 0;
}

static int st_forward(struct slm_abi_mbox *mb, struct slm_err *err)
{
    const float *logits;
    slm_ctx_reset(&rt->ctx);
    int32_t tok = rt->model.vocab.bos >= 0 ? rt->model.vocab.bos : 0;
    int rc = slm_forward(&rt->ctx, tok, &logits);
    if (rc)
        return slm_err_set(err, -rc, "forward pass: %s", slm_strerror(rc));
    uint32_t nv = rt->model.cfg.vocab, bad = 0;
    for (uint32_t i = 0; i < nv; i++)
        bad += !(logits[i] == logits[i] && logits[i] < 1e30f && logits[i] > -1e30f);
    if (bad)
        return slm_err_set(err, SLM_E_INVAL, "%u of %u logits are not finite", bad, nv);
    int32_t top = slm_argmax(logits, nv);
    kfmt_snprintf(mb->resp.out, sizeof mb->resp.out, "1 token, %u finite logits, argmax %d", nv,
                  top);
    return 0;
}

UENTRY int64_t u_slm_selftest(struct slm_abi_mbox *mb, uint64_t which)
{
    struct slm_err err = {0};
    clear_resp(mb);
    if (!rt)
        return fail(mb, NULL, -SLM_E_INVAL);
    slm_pool_reset(pool, open_mark);
    int rc = which == SLM_ST_PARSER      ? st_parser(mb, &err)
             : which == SLM_ST_TOKENIZER ? st_tokenizer(mb, &err)
             : which == SLM_ST_FORWARD   ? st_forward(mb, &err)
                                         : slm_err_set(&err, SLM_E_INVAL, "no such test");
    mb->resp.out_len = (uint32_t)strlen(mb->resp.out);
    return rc ? fail(mb, &err, rc) : 0;
}

/* CRC-32 (zlib's polynomial) of the embedded model as the task sees it, so
 * a test can prove the loaded section holds the file's bytes. Works with
 * or without a loaded runtime. Slicing by 4. */
static uint32_t crc_table[4][256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 4; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

UENTRY int64_t u_slm_checksum(struct slm_abi_mbox *mb, const uint8_t *p, size_t n)
{
    clear_resp(mb);
    if (crc_table[0][1] == 0)
        crc_init();
    uint32_t c = 0xffffffffu;
    for (; n >= 4; n -= 4, p += 4) {
        c ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        c = crc_table[3][c & 0xff] ^ crc_table[2][(c >> 8) & 0xff] ^
            crc_table[1][(c >> 16) & 0xff] ^ crc_table[0][c >> 24];
    }
    while (n--)
        c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return (int64_t)(c ^ 0xffffffffu);
}
