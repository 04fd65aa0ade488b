/*
 * slm.h - the kernel's SLM runtime: one entry point for every asker (the
 * shell, the bridge, the selftests), two backends behind it.
 *
 *   rule    the rule engine (rules.h): always there, answers from the
 *           knowledge base and live state, runs in ring 0.
 *   neural  the embedded GGUF model, run by the engine in the ring-3 SLM
 *           task (kernel/slm/neural/gguf_loader.c, user/slm_user.c).
 *   auto    neural when it is up, else rule.
 *
 * The spec's names are kept as a thin layer: slm_init() and
 * slm_set_memory_pool() here, slm_init_neural_backend(), slm_load_gguf(),
 * slm_neural_inference() and slm_unload_model() in gguf_loader.c.
 */
#ifndef AUTON_KERNEL_SLM_H
#define AUTON_KERNEL_SLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/slm/slm_abi.h"

enum slm_backend { SLM_BACKEND_AUTO = 0, SLM_BACKEND_RULE = 1, SLM_BACKEND_NEURAL = 2 };

#define SLM_TEXT_MAX 8192
#define SLM_ERROR_MAX 320
#define SLM_DEFAULT_TIMEOUT_MS 300000u /* a generation under TCG can take minutes */

struct slm_request {
    const char *prompt;
    size_t prompt_len;
    uint32_t max_tokens;
    uint32_t temp_milli;  /* 0: greedy */
    uint32_t top_k;
    uint32_t top_p_milli; /* >= 1000: off */
    uint64_t seed;
    uint32_t timeout_ms;  /* 0: slm.timeout_ms= or SLM_DEFAULT_TIMEOUT_MS */
    int backend;          /* enum slm_backend, or -1: the current setting */
    bool fallback;        /* on a neural failure answer with the rule engine
                             (the console); false: report it (the bridge) */
};

#define SLM_REQUEST_INIT(p)                                                                   \
    ((struct slm_request){.prompt = (p), .prompt_len = strlen(p), .max_tokens = 64,          \
                          .temp_milli = 0, .top_k = 40, .top_p_milli = 950, .seed = 1,       \
                          .timeout_ms = 0, .backend = -1, .fallback = true})

/* Error kinds of a result (slm_result.rc). */
#define SLM_OK 0
#define SLM_EBUSY 1      /* another SLM call is running */
#define SLM_ETIMEDOUT 2  /* the deadline expired mid-generation */
#define SLM_EFAULT 3     /* the ring-3 task faulted: neural backend disabled */
#define SLM_EENGINE 4    /* the engine refused (prompt too long, ...) */
#define SLM_ENOMODEL 5   /* neural asked for, none is up */
#define SLM_EINVAL 6     /* bad request */

struct slm_result {
    int rc;                  /* SLM_OK or SLM_E* */
    char error[SLM_ERROR_MAX];
    const char *backend;     /* "neural" or "rule": who answered */
    const char *rule;        /* rule kind when the rule engine answered */
    const char *fallback;    /* why the rule engine answered a neural request, or NULL */
    char text[SLM_TEXT_MAX]; /* the answer, lines separated by '\n' */
    uint32_t prompt_tokens, tokens;
    uint64_t ns, prompt_ns, gen_ns; /* total, prefill, generation */
    uint64_t pool_used, pool_peak;
};

/* Boot: the rule engine, the pool, and the embedded model when there is one.
 * Prints the SLM boot lines. */
void slm_init(void);

/* The pool the neural backend allocates from (the SLM region). */
void slm_set_memory_pool(void *base, size_t size);

/* Answers q into r (see struct slm_result). Safe from any thread; a second
 * concurrent call gets SLM_EBUSY at once. */
int slm_query(const struct slm_request *q, struct slm_result *r);

/* "SLM: Stats: tokens=N ms=T tok_s=R pool_used=B pool_peak=B backend=..." */
void slm_format_stats(const struct slm_result *r, char *buf, size_t n);

/* tok/s with one decimal from integer arithmetic: "123.4". */
void slm_format_rate(uint64_t tokens, uint64_t ns, char *buf, size_t n);

/* The backend setting, and whether neural is up. */
enum slm_backend slm_get_backend(void);
void slm_set_backend(enum slm_backend b);
const char *slm_backend_name(enum slm_backend b);
/* "rule", "neural", "auto", or -1. */
int slm_backend_parse(const char *s);
bool slm_neural_ready(void);

/* Model metadata as the ring-3 task read it (NULL when no model is up), and
 * where it sits. */
const struct slm_abi_info *slm_model_info(void);
void slm_model_location(const void **start, size_t *size);

struct slm_counters {
    uint64_t queries, neural, rule, fallbacks, busy, timeouts, faults, errors;
    uint64_t tokens, gen_ns, prompt_tokens, prompt_ns;
    char last_fault[SLM_ERROR_MAX];
};
void slm_get_counters(struct slm_counters *c);

/* In-kernel throughput: pp prompt tokens then tg generated (see slm_bench
 * in generate.h). 0, or an SLM_E* kind with r->error set. */
int slm_run_bench(uint32_t pp, uint32_t tg, struct slm_result *r);

/* CRC-32 (zlib's) of the embedded model as loaded; SLM_OK or an error
 * kind with why set. */
int slm_model_checksum(uint32_t *crc, char *why, size_t n);

/* One SLM selftest in ring 3 (SLM_ST_*); 0 for PASS, detail either way.
 * Returns 1 with "no model" when none is up. */
int slm_run_selftest(int which, char *detail, size_t n);

#endif
