/*
 * slm_init.c - the SLM runtime (slm.h): boot, backend choice, queries,
 * statistics. Ring 0; the neural backend's work happens in ring 3 through
 * gguf_loader.c.
 */
#include "kernel/slm/slm.h"

#include "arch/x86_64/cpu.h"
#include "kernel/cmdline.h"
#include "kernel/printk.h"
#include "kernel/slm/neural/gguf_loader.h"
#include "kernel/slm/rules.h"
#include "kernel/time.h"
#include "lib/kfmt.h"
#include "lib/kstring.h"
#include "mm/slm_region.h"

static enum slm_backend backend = SLM_BACKEND_AUTO;
static uint32_t default_timeout_ms = SLM_DEFAULT_TIMEOUT_MS;
static bool neural_busy; /* the mailbox is in use */
static struct slm_counters counters;

/* ---- small helpers ------------------------------------------------------------- */

static bool try_claim(void)
{
    uint64_t f = irq_save();
    bool was = neural_busy;
    neural_busy = true;
    irq_restore(f);
    return !was;
}

static void release(void)
{
    neural_busy = false;
}

void slm_format_rate(uint64_t tokens, uint64_t ns, char *buf, size_t n)
{
    if (ns == 0) {
        kfmt_snprintf(buf, n, "0.0");
        return;
    }
    /* tenths of tokens per second, rounded */
    uint64_t tenths = (tokens * 10000000000ull + ns / 2) / ns;
    kfmt_snprintf(buf, n, "%lu.%lu", tenths / 10, tenths % 10);
}

void slm_format_stats(const struct slm_result *r, char *buf, size_t n)
{
    char rate[24];
    slm_format_rate(r->tokens, r->gen_ns, rate, sizeof rate);
    kfmt_snprintf(buf, n, "SLM: Stats: tokens=%u ms=%lu tok_s=%s pool_used=%lu pool_peak=%lu "
                          "backend=%s",
                  r->tokens, r->ns / 1000000, rate, r->pool_used, r->pool_peak, r->backend);
}

const char *slm_backend_name(enum slm_backend b)
{
    return b == SLM_BACKEND_RULE ? "rule" : b == SLM_BACKEND_NEURAL ? "neural" : "auto";
}

int slm_backend_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "rule") == 0)
        return SLM_BACKEND_RULE;
    if (strcmp(s, "neural") == 0)
        return SLM_BACKEND_NEURAL;
    if (strcmp(s, "auto") == 0)
        return SLM_BACKEND_AUTO;
    return -1;
}

enum slm_backend slm_get_backend(void)
{
    return backend;
}

void slm_set_backend(enum slm_backend b)
{
    backend = b;
}

bool slm_neural_ready(void)
{
    return slm_neural_loaded();
}

const struct slm_abi_info *slm_model_info(void)
{
    struct slm_abi_mbox *mb = slm_neural_mbox();
    return slm_neural_loaded() && mb ? &mb->info : NULL;
}

void slm_model_location(const void **start, size_t *size)
{
    const uint8_t *s;
    slm_neural_model(&s, size);
    *start = s;
}

void slm_get_counters(struct slm_counters *c)
{
    *c = counters;
    const char *f = slm_neural_fault();
    kfmt_snprintf(c->last_fault, sizeof c->last_fault, "%s", f ? f : "");
}

/* QEMU's TCG announces itself in the hypervisor CPUID leaf. */
static bool under_tcg(void)
{
    if (!(cpuid(1, 0).ecx & (1u << 31)))
        return false;
    struct cpuid_regs r = cpuid(0x40000000u, 0);
    char sig[12];
    memcpy(sig, &r.ebx, 4);
    memcpy(sig + 4, &r.ecx, 4);
    memcpy(sig + 8, &r.edx, 4);
    return memcmp(sig, "TCGTCGTCGTCG", 12) == 0;
}

/* ---- boot ------------------------------------------------------------------------ */

void slm_set_memory_pool(void *base, size_t size)
{
    slm_neural_set_pool(base, size);
}

void slm_init(void)
{
    struct slm_region_info region;
    slm_region_get(&region);
    slm_set_memory_pool((void *)region.base, region.size);

    uint64_t t;
    if (cmdline_has("slm.timeout_ms") && (!cmdline_get_u64("slm.timeout_ms", &t) || t == 0 ||
                                          t > 3600000))
        printk("SLM: ignoring slm.timeout_ms=%s (1..3600000)\n", cmdline_get("slm.timeout_ms"));
    else if (cmdline_has("slm.timeout_ms"))
        default_timeout_ms = (uint32_t)t;
    const char *want = cmdline_get("slm.backend");
    int b = slm_backend_parse(want);
    if (want && b < 0)
        printk("SLM: ignoring slm.backend=%s (rule, neural or auto)\n", want);
    backend = b < 0 ? SLM_BACKEND_AUTO : (enum slm_backend)b;

    static const char *const isas[] = {"scalar", "sse2", "avx2", "avx512"};
    const char *isa = cmdline_get("slm.isa");
    for (int i = 0; isa && i < 4; i++)
        if (strcmp(isa, isas[i]) == 0) {
            slm_neural_set_isa(i);
            isa = NULL;
        }
    if (isa)
        printk("SLM: ignoring slm.isa=%s (scalar, sse2, avx2 or avx512)\n", isa);
    if (!cmdline_has("slm.isa") && under_tcg()) {
        /* measured: QEMU 7.2's TCG runs the AVX2 kernels 10x slower than SSE2 */
        slm_neural_set_isa(1);
        printk("SLM: QEMU TCG detected: using the SSE2 kernels (TCG emulates AVX slowly)\n");
    }

    const uint8_t *start;
    size_t size;
    slm_neural_model(&start, &size);
    if (!start || size == 0) {
        printk("SLM: No embedded model, rule engine only\n");
    } else {
        char why[SLM_ERROR_MAX];
        printk("SLM: Loading embedded neural model (%zu bytes)...\n", size);
        int rc = slm_init_neural_backend(why, sizeof why);
        if (rc == SLM_OK) {
            const struct slm_abi_info *in = slm_model_info();
            printk("SLM: Neural backend ready (vocab=%u, ctx=%u)\n", in->vocab, in->ctx_train);
        } else if (rc == SLM_EENGINE && slm_neural_parse_error()) {
            printk("SLM: Failed to parse GGUF model: %s\n", why);
        } else if (rc != SLM_EFAULT) { /* a fault has printed its own line */
            printk("SLM: Failed to initialize neural backend: %s\n", why);
        }
    }
    if (backend == SLM_BACKEND_NEURAL && !slm_neural_loaded())
        printk("SLM: slm.backend=neural but no model is up: answering with the rule engine\n");
    printk("SLM: Runtime initialized successfully\n");
}

/* ---- queries ----------------------------------------------------------------------- */

static void answer_rule(const struct slm_request *q, struct slm_result *r)
{
    char prompt[SLM_ABI_PROMPT_MAX];
    size_t len = q->prompt_len < sizeof prompt - 1 ? q->prompt_len : sizeof prompt - 1;
    memcpy(prompt, q->prompt, len);
    prompt[len] = '\0';
    uint64_t t0 = time_ns();
    r->rule = slm_rule_kind_name(slm_rules_answer(prompt, r->text, sizeof r->text));
    r->backend = "rule";
    r->gen_ns = r->ns = time_ns() - t0;
    r->tokens = r->prompt_tokens = 0;
    counters.rule++;
}

static int answer_neural(const struct slm_request *q, struct slm_result *r)
{
    struct slm_abi_mbox *mb = slm_neural_mbox();
    if (!try_claim()) {
        kfmt_snprintf(r->error, sizeof r->error, "the SLM task is busy with another call");
        counters.busy++;
        return SLM_EBUSY;
    }
    struct slm_abi_req *rq = &mb->req;
    rq->max_tokens = q->max_tokens;
    rq->temp_milli = q->temp_milli;
    rq->top_k = q->top_k;
    rq->top_p_milli = q->top_p_milli;
    rq->seed = q->seed;
    rq->stop_newline = 1;
    rq->prompt_len = (uint32_t)q->prompt_len;
    memcpy(rq->prompt, q->prompt, q->prompt_len);
    uint64_t t0 = time_ns();
    int rc = slm_neural_generate(q->timeout_ms ? q->timeout_ms : default_timeout_ms, r->error,
                                 sizeof r->error);
    r->ns = time_ns() - t0;
    if (rc == SLM_OK || rc == SLM_EENGINE || rc == SLM_ETIMEDOUT) {
        r->prompt_tokens = mb->resp.prompt_tokens;
        r->tokens = mb->resp.gen_tokens;
        r->prompt_ns = mb->resp.prompt_ns;
        r->gen_ns = mb->resp.gen_ns;
    }
    if (rc == SLM_OK) {
        size_t n = mb->resp.out_len < sizeof r->text - 1 ? mb->resp.out_len : sizeof r->text - 1;
        const char *o = mb->resp.out;
        while (n && *o == ' ') /* the space after the prompt */
            o++, n--;
        memcpy(r->text, o, n);
        r->text[n] = '\0';
        r->backend = "neural";
        counters.neural++;
        counters.tokens += r->tokens;
        counters.gen_ns += r->gen_ns;
        counters.prompt_tokens += r->prompt_tokens;
        counters.prompt_ns += r->prompt_ns;
    }
    release();
    return rc;
}

int slm_query(const struct slm_request *q, struct slm_result *r)
{
    r->rc = SLM_OK;
    r->error[0] = r->text[0] = '\0';
    r->rule = NULL;
    r->fallback = NULL;
    r->backend = "rule";
    r->tokens = r->prompt_tokens = 0;
    r->ns = r->prompt_ns = r->gen_ns = 0;
    counters.queries++;
    if (!q->prompt || q->prompt_len == 0 || q->prompt_len >= SLM_ABI_PROMPT_MAX ||
        q->max_tokens == 0 || q->max_tokens > 4096) {
        kfmt_snprintf(r->error, sizeof r->error,
                      !q->prompt || q->prompt_len == 0 ? "empty prompt"
                      : q->prompt_len >= SLM_ABI_PROMPT_MAX
                          ? "prompt longer than the limit of 4095 bytes"
                          : "max_tokens must be 1..4096");
        counters.errors++;
        return r->rc = SLM_EINVAL;
    }
    enum slm_backend b = q->backend < 0 ? backend : (enum slm_backend)q->backend;
    bool neural = b == SLM_BACKEND_NEURAL || (b == SLM_BACKEND_AUTO && slm_neural_loaded());
    int rc = SLM_OK;
    if (neural) {
        rc = slm_neural_loaded() ? answer_neural(q, r) : SLM_ENOMODEL;
        if (rc == SLM_ENOMODEL)
            kfmt_snprintf(r->error, sizeof r->error, "no neural model is up%s%s",
                          slm_neural_fault() ? ": " : "",
                          slm_neural_fault() ? slm_neural_fault() : "");
        if (rc == SLM_ETIMEDOUT)
            counters.timeouts++;
        else if (rc == SLM_EFAULT)
            counters.faults++;
        else if (rc != SLM_OK && rc != SLM_EBUSY)
            counters.errors++;
    }
    if (!neural || (rc != SLM_OK && q->fallback && rc != SLM_EBUSY)) {
        if (neural) {
            counters.fallbacks++;
            r->fallback = r->error[0] ? r->error : "neural backend unavailable";
        }
        answer_rule(q, r);
        rc = SLM_OK;
    }
    struct slm_abi_mbox *mb = slm_neural_mbox();
    r->pool_used = mb ? mb->pool.used : 0;
    r->pool_peak = mb ? mb->pool.peak : 0;
    return r->rc = rc;
}

/* ---- bench and selftests -------------------------------------------------------------- */

int slm_run_bench(uint32_t pp, uint32_t tg, struct slm_result *r)
{
    r->error[0] = '\0';
    r->backend = "neural";
    if (!slm_neural_loaded()) {
        kfmt_snprintf(r->error, sizeof r->error, "no neural model is up");
        return r->rc = SLM_ENOMODEL;
    }
    if (!try_claim()) {
        kfmt_snprintf(r->error, sizeof r->error, "the SLM task is busy with another call");
        return r->rc = SLM_EBUSY;
    }
    struct slm_abi_mbox *mb = slm_neural_mbox();
    mb->req.bench_pp = pp;
    mb->req.bench_tg = tg;
    uint64_t t0 = time_ns();
    int rc = slm_neural_bench(default_timeout_ms, r->error, sizeof r->error);
    r->ns = time_ns() - t0;
    r->prompt_tokens = pp;
    r->tokens = tg;
    r->prompt_ns = mb->resp.prompt_ns;
    r->gen_ns = mb->resp.gen_ns;
    r->pool_used = mb->pool.used;
    r->pool_peak = mb->pool.peak;
    release();
    return r->rc = rc;
}

int slm_run_selftest(int which, char *detail, size_t n)
{
    if (!slm_neural_loaded()) {
        kfmt_snprintf(detail, n, "no model");
        return 1;
    }
    if (!try_claim()) {
        kfmt_snprintf(detail, n, "SLM task busy");
        return 1;
    }
    char why[SLM_ERROR_MAX];
    int rc = slm_neural_selftest(which, default_timeout_ms, why, sizeof why);
    struct slm_abi_mbox *mb = slm_neural_mbox();
    kfmt_snprintf(detail, n, "%s", rc == SLM_OK ? mb->resp.out : why);
    release();
    return rc == SLM_OK ? 0 : -1;
}

int slm_model_checksum(uint32_t *crc, char *why, size_t n)
{
    if (!try_claim()) {
        kfmt_snprintf(why, n, "the SLM task is busy with another call");
        return SLM_EBUSY;
    }
    int rc = slm_neural_checksum(crc, why, n);
    release();
    return rc;
}
