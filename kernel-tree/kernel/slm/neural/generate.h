/*
 * generate.h - the SLM runtime: a loaded model, its context and sampler,
 * and text generation from a prompt. This is what the kernel's SLM task,
 * slm-run and the integrator's host checks all call.
 */
#ifndef AUTON_SLM_GENERATE_H
#define AUTON_SLM_GENERATE_H

#include "llama.h"
#include "sampler.h"

struct slm_gen_params {
    uint32_t max_tokens; /* tokens to generate at most */
    float temperature;   /* 0: greedy */
    uint32_t top_k;      /* 0: off */
    float top_p;         /* >= 1: off */
    uint64_t seed;
    bool stop_at_newline; /* stop after a generated '\n' (not included) */
};

#define SLM_GEN_DEFAULTS                                                                      \
    ((struct slm_gen_params){.max_tokens = 50, .temperature = 0.0f, .top_k = 40,             \
                             .top_p = 0.95f, .seed = 1, .stop_at_newline = false})

enum slm_stop { SLM_STOP_LENGTH = 0, SLM_STOP_EOS = 1, SLM_STOP_NEWLINE = 2, SLM_STOP_CTX = 3 };

struct slm_gen_stats {
    uint32_t prompt_tokens;
    uint32_t gen_tokens;
    uint64_t prompt_ns; /* prefill */
    uint64_t gen_ns;    /* generation (sampling included) */
    size_t pool_used, pool_peak;
    enum slm_stop stop;
};

struct slm_runtime {
    struct slm_model model;
    struct slm_ctx ctx;
    struct slm_sampler sampler;
    struct slm_pool *pool;  /* borrowed */
    int32_t *ids;           /* (max_prompt_tokens) */
    uint32_t max_prompt_tokens;
    size_t max_prompt;      /* bytes */
};

/* Loads the model in buf (used in place), and sets up a context of n_ctx
 * positions (0: the model's training context) and room for prompts of up to
 * max_prompt bytes, all from pool. Returns 0 or -SLM_E_*. */
int slm_runtime_open(struct slm_runtime *rt, const uint8_t *buf, size_t size, uint32_t n_ctx,
                     size_t max_prompt, enum slm_isa isa, struct slm_pool *pool,
                     struct slm_err *err);

/* Pool bytes slm_runtime_open takes beyond slm_model_load, plus the
 * tokenizer scratch a prompt of max_prompt bytes needs at its peak. */
size_t slm_runtime_pool_bytes(const struct slm_model *m, uint32_t n_ctx, size_t max_prompt);

/* Generates a completion of prompt[0..len) into out (NUL-terminated, at most
 * cap-1 bytes; generation stops early when out is full). Fills st when not
 * NULL. Returns 0 or -SLM_E_* (prompt too long: -SLM_E_LIMIT). */
int slm_generate(struct slm_runtime *rt, const char *prompt, size_t len,
                 const struct slm_gen_params *p, char *out, size_t cap, struct slm_gen_stats *st,
                 struct slm_err *err);

/* Throughput measurement: feeds BOS and pp-1 fixed token ids (prefill, in
 * batches as slm_generate runs a prompt), then generates tg tokens greedily
 * with end-of-sequence ignored, so every run does the same work. ns[0], ns[1]: prefill and generation time.
 * pp + tg must fit the context. Returns 0 or -SLM_E_*. */
int slm_bench(struct slm_runtime *rt, uint32_t pp, uint32_t tg, uint64_t ns[2],
              struct slm_err *err);

/* The whole-pipeline memory estimate: the exact pool bytes a model in buf
 * needs to load (parser tables + tokenizer index + layer table) and run
 * with n_ctx positions (KV cache + activations) plus the tokenizer's
 * scratch for a prompt of max_prompt bytes. Parses buf with a private
 * scratch pool of scratch_size bytes at scratch (>= what loading needs;
 * 64 MiB is plenty for any vocab <= 1M). Returns 0 or -SLM_E_*. */
int slm_estimate_pool(const uint8_t *buf, size_t size, uint32_t n_ctx, size_t max_prompt,
                      void *scratch, size_t scratch_size, size_t *out, struct slm_err *err);

#endif
