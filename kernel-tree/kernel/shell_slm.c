/*
 * shell_slm.c - the shell's `slm` command: the SLM runtime at the console.
 *
 *   slm query [-n N] "<text>"  ask (N: most tokens, default 64); prints the spec's lines:
 *                          SLM: Inference starting...
 *                          SLM: Output: <first line>
 *                          SLM: | <each further line>
 *                          SLM: Stats: tokens=N ms=T tok_s=R pool_used=B pool_peak=B backend=...
 *   slm info             backend, model metadata, pool
 *   slm stats            counters since boot
 *   slm backend [rule|neural|auto]
 *   slm bench [n]        n generated tokens (default 32) after a 16-token prompt
 *   slm checksum         CRC-32 of the embedded model as loaded (tests compare it
 *                        with the file)
 */
#include <stdint.h>

#include "kernel/printk.h"
#include "kernel/shell.h"
#include "kernel/slm/slm.h"
#include "lib/kfmt.h"
#include "lib/kstring.h"
#include "kernel/readline.h"
#include "mm/slm_region.h"

#define MIB (1024 * 1024)

static struct slm_result result; /* large: not on the shell's stack */

/* Prints text as "SLM: Output: <line 1>" and "SLM: | <line k>". */
static void print_output(const char *text)
{
    const char *p = text;
    bool first = true;
    do {
        const char *nl = p;
        while (*nl && *nl != '\n')
            nl++;
        kprintf("%s%.*s\n", first ? "SLM: Output: " : "SLM: | ", (int)(nl - p), p);
        first = false;
        p = *nl ? nl + 1 : nl;
    } while (*p);
}

static int slm_query_cmd(int argc, char **argv)
{
    static char prompt[READLINE_MAX];
    size_t len = 0;
    uint64_t max_tokens = 64;
    int first = 2;
    if (argc > 3 && strcmp(argv[2], "-n") == 0) {
        if (!kparse_u64(argv[3], &max_tokens) || max_tokens == 0 || max_tokens > 4096) {
            kprintf("slm query: -n takes 1..4096 tokens\n");
            return 1;
        }
        first = 4;
    }
    for (int i = first; i < argc; i++) {
        size_t l = strlen(argv[i]);
        if (len + l + 2 > sizeof prompt)
            break;
        if (len)
            prompt[len++] = ' ';
        memcpy(prompt + len, argv[i], l);
        len += l;
    }
    prompt[len] = '\0';
    if (len == 0) {
        kprintf("usage: slm query [-n max_tokens] \"<text>\"\n");
        return 1;
    }
    struct slm_request q = SLM_REQUEST_INIT(prompt);
    q.max_tokens = (uint32_t)max_tokens;
    kprintf("SLM: Inference starting...\n");
    int rc = slm_query(&q, &result);
    if (rc != SLM_OK) {
        kprintf("SLM: Error: %s\n", result.error);
        return 1;
    }
    if (result.fallback)
        kprintf("SLM: neural backend unavailable (%s): answered by the rule engine\n",
                result.fallback);
    print_output(result.text);
    char stats[256];
    slm_format_stats(&result, stats, sizeof stats);
    kprintf("%s\n", stats);
    return 0;
}

static int slm_info_cmd(void)
{
    enum slm_backend b = slm_get_backend();
    const struct slm_abi_info *in = slm_model_info();
    const void *start;
    size_t size;
    slm_model_location(&start, &size);
    kprintf("Backend:  %s (answering: %s)\n", slm_backend_name(b),
            b == SLM_BACKEND_RULE || !in ? "rule" : "neural");
    if (!size)
        kprintf("Model:    none embedded (rule engine only)\n");
    else if (!in)
        kprintf("Model:    %zu bytes embedded at %p, not loaded\n", size, start);
    else {
        kprintf("Model:    %s (%s), %zu bytes embedded at %p, used in place\n",
                in->name[0] ? in->name : "unnamed", in->arch, size, start);
        kprintf("Shape:    vocab=%u ctx=%u dim=%u layers=%u heads=%u kv_heads=%u ffn=%u\n",
                in->vocab, in->ctx_train, in->dim, in->n_layers, in->n_heads, in->n_kv_heads,
                in->ffn);
        kprintf("Weights:  %lu parameters, %s, %lu bytes in %u tensors\n", in->n_params,
                in->weight_type, in->weight_bytes, in->n_tensors);
        kprintf("Runtime:  tokenizer %s, kernels %s, context %u positions\n", in->tokenizer,
                in->isa, in->n_ctx);
    }
    struct slm_region_info r;
    slm_region_get(&r);
    kprintf("Pool:     %lu MiB at 0x%08lx, %zu KiB used, %zu KiB peak%s\n", r.size / MIB, r.base,
            r.used / 1024, r.peak / 1024, in ? "" : " (rule engine: no pool needed)");
    return 0;
}

static int slm_stats_cmd(void)
{
    struct slm_counters c;
    char gen[24], pre[24];
    slm_get_counters(&c);
    slm_format_rate(c.tokens, c.gen_ns, gen, sizeof gen);
    slm_format_rate(c.prompt_tokens, c.prompt_ns, pre, sizeof pre);
    kprintf("Queries:  %lu (neural %lu, rule %lu, fallbacks %lu)\n", c.queries, c.neural, c.rule,
            c.fallbacks);
    kprintf("Errors:   busy %lu, timeouts %lu, faults %lu, other %lu\n", c.busy, c.timeouts,
            c.faults, c.errors);
    kprintf("Neural:   %lu tokens generated at %s tok/s, %lu prompt tokens at %s tok/s\n",
            c.tokens, gen, c.prompt_tokens, pre);
    if (c.last_fault[0])
        kprintf("Fault:    %s\n", c.last_fault);
    return 0;
}

static int slm_backend_cmd(int argc, char **argv)
{
    if (argc < 3) {
        kprintf("backend: %s (neural %s)\n", slm_backend_name(slm_get_backend()),
                slm_neural_ready() ? "up" : "not up");
        return 0;
    }
    int b = slm_backend_parse(argv[2]);
    if (b < 0) {
        kprintf("usage: slm backend rule|neural|auto\n");
        return 1;
    }
    slm_set_backend((enum slm_backend)b);
    kprintf("backend: %s%s\n", slm_backend_name((enum slm_backend)b),
            b == SLM_BACKEND_NEURAL && !slm_neural_ready()
                ? " (no neural model is up: queries are answered by the rule engine)"
                : "");
    return 0;
}

static int slm_bench_cmd(int argc, char **argv)
{
    uint64_t tg = 32;
    const uint32_t pp = 16;
    if (argc >= 3 && (!kparse_u64(argv[2], &tg) || tg == 0 || tg > 4000)) {
        kprintf("usage: slm bench [n]   (n = 1..4000 tokens, default 32)\n");
        return 1;
    }
    int rc = slm_run_bench(pp, (uint32_t)tg, &result);
    if (rc != SLM_OK) {
        kprintf("SLM: Bench failed: %s\n", result.error);
        return 1;
    }
    char ppr[24], tgr[24];
    slm_format_rate(pp, result.prompt_ns, ppr, sizeof ppr);
    slm_format_rate(tg, result.gen_ns, tgr, sizeof tgr);
    kprintf("SLM: Bench: pp=%u pp_tok_s=%s tg=%lu tg_tok_s=%s ms=%lu pool_peak=%lu\n", pp, ppr,
            tg, tgr, result.ns / 1000000, result.pool_peak);
    return 0;
}

int cmd_slm(int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (strcmp(sub, "query") == 0)
        return slm_query_cmd(argc, argv);
    if (strcmp(sub, "info") == 0)
        return slm_info_cmd();
    if (strcmp(sub, "stats") == 0)
        return slm_stats_cmd();
    if (strcmp(sub, "backend") == 0)
        return slm_backend_cmd(argc, argv);
    if (strcmp(sub, "checksum") == 0) {
        uint32_t crc;
        char why[SLM_ERROR_MAX];
        const void *start;
        size_t size;
        slm_model_location(&start, &size);
        if (slm_model_checksum(&crc, why, sizeof why) != SLM_OK) {
            kprintf("SLM: Checksum failed: %s\n", why);
            return 1;
        }
        kprintf("SLM: Model checksum: crc32=%08x bytes=%zu\n", crc, size);
        return 0;
    }
    if (strcmp(sub, "bench") == 0)
        return slm_bench_cmd(argc, argv);
    kprintf("usage: slm query \"<text>\" | info | stats | backend [rule|neural|auto] | bench [n] | checksum\n");
    return 1;
}
