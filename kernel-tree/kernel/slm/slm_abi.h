/*
 * slm_abi.h - how the kernel and the ring-3 SLM runtime (user/slm_user.c)
 * talk: one mailbox at the start of the SLM pool, and four UENTRY
 * functions the kernel runs with user_call().
 *
 *   u_slm_open(mbox, model, size, pool, pool_size, n_ctx)
 *       parses the GGUF model (used in place), builds tokenizer, KV cache
 *       and activations in the pool; fills mbox->info. Returns 0 or -SLM_E_*
 *       (mbox->resp.err* say why).
 *   u_slm_generate(mbox)   runs mbox->req; fills mbox->resp.
 *   u_slm_bench(mbox)      mbox->req.bench_pp/tg; fills resp.prompt_ns/gen_ns.
 *   u_slm_checksum(mbox, p, n)  CRC-32 (zlib's) of n bytes at p, as the result.
 *   u_slm_selftest(mbox, which)  one SLM selftest (SLM_ST_*); resp.out
 *                          holds the detail. Returns 0 for PASS.
 *
 * Ring 0 never touches floating point (-mgeneral-regs-only): temperatures
 * and probabilities cross as thousandths. The mailbox is plain data both
 * sides read and write; one call at a time (user_call's -EBUSY, and the
 * kernel's own guard in slm_init.c).
 */
#ifndef AUTON_KERNEL_SLM_ABI_H
#define AUTON_KERNEL_SLM_ABI_H

#include <stdint.h>

#include "kernel/slm/neural/pool.h"

#define SLM_ABI_MBOX_BYTES (64 * 1024) /* reserved at the pool's start */
#define SLM_ABI_PROMPT_MAX 4096
#define SLM_ABI_OUT_MAX 16384
#define SLM_ABI_ERR_MAX 256

enum slm_abi_selftest { SLM_ST_PARSER, SLM_ST_TOKENIZER, SLM_ST_FORWARD };

struct slm_abi_info {
    char arch[32];
    char name[64];
    char tokenizer[16];   /* "llama", "gpt2" */
    char isa[16];         /* kernels chosen by CPUID: "avx512", ... */
    char weight_type[16]; /* of blk.0.attn_q.weight */
    uint32_t vocab, ctx_train, n_ctx, dim, n_layers, n_heads, n_kv_heads, ffn;
    uint64_t n_params, weight_bytes;
    uint64_t pool_size, pool_used, pool_peak; /* after open */
    uint32_t n_tensors;
};

struct slm_abi_req {
    uint32_t max_tokens;
    uint32_t temp_milli;  /* 0: greedy */
    uint32_t top_k;       /* 0: off */
    uint32_t top_p_milli; /* >= 1000: off */
    uint64_t seed;
    uint32_t stop_newline;
    uint32_t bench_pp, bench_tg;
    int32_t isa; /* u_slm_open: enum slm_isa to use, or -1 for what CPUID offers */
    uint32_t prompt_len;
    char prompt[SLM_ABI_PROMPT_MAX];
};

struct slm_abi_resp {
    int32_t rc;                /* 0 or -SLM_E_* */
    char errsym[24];           /* "TRUNCATED", ... */
    char errmsg[SLM_ABI_ERR_MAX];
    uint32_t prompt_tokens, gen_tokens, stop; /* enum slm_stop */
    uint64_t prompt_ns, gen_ns;
    uint64_t pool_used, pool_peak;
    uint32_t out_len;
    char out[SLM_ABI_OUT_MAX];
};

struct slm_abi_mbox {
    struct slm_pool pool; /* the engine's pool: the rest of the SLM region */
    struct slm_abi_info info;
    struct slm_abi_req req;
    struct slm_abi_resp resp;
};

_Static_assert(sizeof(struct slm_abi_mbox) <= SLM_ABI_MBOX_BYTES, "mailbox too large");

#endif
