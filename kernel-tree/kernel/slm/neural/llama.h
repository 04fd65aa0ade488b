/*
 * llama.h - the llama model: hyperparameters, weights in place, forward pass.
 *
 * After llama2.c: `slm_config` (hyperparameters from GGUF metadata),
 * `slm_weights` (pointers into the model buffer - never copied),
 * `slm_ctx` (run state: KV cache in f16, activations, logits - in the pool).
 * Supports general.architecture = "llama": RMSNorm, RoPE in llama's
 * adjacent-pair layout with rope.freq_base, grouped-query attention
 * (head_count_kv), SwiGLU FFN, output tied to token_embd when output.weight
 * is absent.
 */
#ifndef AUTON_SLM_LLAMA_H
#define AUTON_SLM_LLAMA_H

#include "gguf.h"
#include "quant.h"
#include "tokenizer.h"

struct slm_config {
    uint32_t dim;        /* embedding_length */
    uint32_t n_layers;   /* block_count */
    uint32_t n_heads;    /* attention.head_count */
    uint32_t n_kv_heads; /* attention.head_count_kv (default n_heads) */
    uint32_t head_dim;   /* dim / n_heads */
    uint32_t ffn_dim;    /* feed_forward_length */
    uint32_t vocab;      /* rows of token_embd */
    uint32_t ctx_train;  /* context_length */
    uint32_t rope_dim;   /* rope.dimension_count (default head_dim) */
    float rope_base;     /* rope.freq_base (default 10000) */
    float rms_eps;       /* attention.layer_norm_rms_epsilon (default 1e-5) */
};

/* A weight matrix used in place: rows of `cols` elements of `type`. */
struct slm_tensor {
    const uint8_t *data;          /* inside the model buffer */
    uint32_t type;                /* enum slm_qtype */
    uint32_t rows, cols;          /* ne[1], ne[0] */
    size_t row_bytes;
    const struct slm_qops *ops;   /* kernels for type at the model's isa */
    const struct slm_qops *act;   /* kernels of ops->vec_dot_type (quantizes inputs) */
    size_t xq_row_bytes;          /* one input vector in vec_dot_type */
};

struct slm_layer {
    const uint8_t *attn_norm; /* (dim) f32 */
    struct slm_tensor wq;     /* (dim) x (n_heads*head_dim) */
    struct slm_tensor wk;     /* (dim) x (n_kv_heads*head_dim) */
    struct slm_tensor wv;     /* (dim) x (n_kv_heads*head_dim) */
    struct slm_tensor wo;     /* (n_heads*head_dim) x (dim) */
    const uint8_t *ffn_norm;  /* (dim) f32 */
    struct slm_tensor w_gate; /* (dim) x (ffn_dim) */
    struct slm_tensor w_up;   /* (dim) x (ffn_dim) */
    struct slm_tensor w_down; /* (ffn_dim) x (dim) */
};

#define SLM_MAX_LAYERS GGUF_MAX_BLOCKS

struct slm_model {
    struct gguf_file gf;
    struct slm_config cfg;
    struct slm_tok_vocab vocab;
    struct slm_tokenizer tok;
    enum slm_isa isa;
    uint32_t cpu_features;      /* SLM_CPU_*, detected once at load */
    const struct slm_vops *vops;
    struct slm_tensor tok_embd; /* (vocab) x (dim) */
    const uint8_t *out_norm;    /* (dim) f32 */
    struct slm_tensor output;   /* (vocab) x (dim); == tok_embd when tied */
    bool tied_output;
    struct slm_layer *layers;   /* [n_layers], pool */
    uint64_t n_params;
    size_t weight_bytes;        /* bytes of all tensors */
};

/* Parses buf as a llama GGUF model, checks every tensor's presence, type and
 * shape against the hyperparameters, builds the tokenizer. Weights stay in
 * buf (which must outlive the model). isa: the kernel variant to use (see
 * slm_cpu_detect). Returns 0 or -SLM_E_* with err naming the key/tensor. */
int slm_model_load(struct slm_model *m, const uint8_t *buf, size_t size, enum slm_isa isa,
                   struct slm_pool *pool, struct slm_err *err);

/* Tokens one batch of slm_forward_batch carries at most (its activation
 * buffers hold this many rows; a longer prompt runs in several batches). */
#define SLM_BATCH SLM_MATMAT_MAX_NB

struct slm_ctx {
    const struct slm_model *m;
    uint32_t n_ctx;   /* positions the KV cache holds */
    uint32_t pos;     /* next position */
    uint32_t n_batch; /* tokens per batch: min(SLM_BATCH, n_ctx), the rows of
                         the activation buffers; a caller may lower it (1 runs
                         a prompt token by token) */
    /* activations (f32), n_batch rows each; a single token uses row 0 */
    float *x;      /* (dim) residual stream */
    float *xb;     /* (max(dim, n_heads*head_dim)) normed input / attention output */
    float *xb2;    /* (dim) attention block output */
    float *q;      /* (n_heads*head_dim) */
    float *k, *v;  /* (n_kv_heads*head_dim) the tokens' own */
    float *hb;     /* (ffn_dim) gate */
    float *hb2;    /* (ffn_dim) up */
    void *xq;      /* inputs quantized for the products (rows of the widest) */
    float *att;    /* (n_heads, n_ctx) scores of one token */
    float *logits; /* (vocab) of the last token */
    void *mm_scratch; /* slm_matmat's */
    float *rope_cos, *rope_sin; /* (n_ctx, rope_dim/2) tables */
    uint16_t *k_cache, *v_cache; /* f16 (n_layers, n_ctx, n_kv_heads*head_dim) */
};

/* Exact pool bytes slm_ctx_init takes for this config and context length. */
size_t slm_ctx_pool_bytes(const struct slm_config *cfg, uint32_t n_ctx);

int slm_ctx_init(struct slm_ctx *c, const struct slm_model *m, uint32_t n_ctx,
                 struct slm_pool *pool, struct slm_err *err);

/* Forgets the sequence (pos = 0); the cache is overwritten as it refills. */
void slm_ctx_reset(struct slm_ctx *c);

/* Runs one token at position c->pos, advances pos, and returns the logits
 * (vocab floats, owned by c, valid until the next call). -SLM_E_CTX when
 * the cache is full, -SLM_E_INVAL for a token outside the vocabulary. */
int slm_forward(struct slm_ctx *c, int32_t token, const float **logits);

/* Runs n >= 1 tokens at positions c->pos.. (a prompt), in batches of up to
 * c->n_batch whose weight products unpack each weight block once per
 * batch; advances pos by n and returns the logits of the last token. The
 * same results as n calls of slm_forward up to float rounding (sums in
 * another order). Nothing runs, and pos stays, when a token is outside the
 * vocabulary (-SLM_E_INVAL) or the n do not fit the cache (-SLM_E_CTX). */
int slm_forward_batch(struct slm_ctx *c, const int32_t *tokens, uint32_t n, const float **logits);

#endif
