/*
 * sampler.h - choosing the next token from logits.
 *
 * Greedy (temperature 0), or temperature sampling restricted by top-k and
 * top-p (nucleus), from a seeded xorshift64* generator: the same seed and
 * logits give the same tokens on every machine.
 */
#ifndef AUTON_SLM_SAMPLER_H
#define AUTON_SLM_SAMPLER_H

#include "pool.h"
#include "slm_err.h"

struct slm_cand {
    float p;    /* logit, then probability */
    int32_t id;
};

struct slm_sampler {
    uint32_t vocab;
    float temperature; /* 0: greedy */
    uint32_t top_k;    /* 0: off */
    float top_p;       /* >= 1: off */
    uint64_t rng;      /* xorshift64* state, never 0 */
    struct slm_cand *cand; /* (vocab) scratch, pool */
    /* The greedy pick: a SIMD argmax with slm_argmax's result (struct
     * slm_vops), or NULL for slm_argmax itself. Set after init. */
    uint32_t (*argmax)(int n, const float *x);
};

/* Exact pool bytes slm_sampler_init takes. */
size_t slm_sampler_pool_bytes(uint32_t vocab);

/* Returns 0, or -SLM_E_INVAL (temperature < 0, top_p <= 0) / -SLM_E_NOMEM. */
int slm_sampler_init(struct slm_sampler *s, uint32_t vocab, float temperature, uint32_t top_k,
                     float top_p, uint64_t seed, struct slm_pool *pool, struct slm_err *err);

/* Sets the parameters (top_k clamped to the vocabulary) and re-seeds. The
 * caller has checked temperature >= 0 and top_p > 0. */
void slm_sampler_set(struct slm_sampler *s, float temperature, uint32_t top_k, float top_p,
                     uint64_t seed);

/* Re-seeds the generator (a new, reproducible sequence). */
void slm_sampler_seed(struct slm_sampler *s, uint64_t seed);

/* The next token for logits[0..vocab). */
int32_t slm_sample(struct slm_sampler *s, const float *logits);

/* Index of the largest logit (first on ties). */
int32_t slm_argmax(const float *logits, uint32_t n);

#endif
