/*
 * slm-run - run a GGUF model on the host with the kernel's own SLM engine.
 *
 *   slm-run MODEL -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S]
 *   slm-run MODEL -p PROMPT --dump-logits N
 *   slm-run MODEL --check
 *   slm-run MODEL --bench PP,TG
 *
 * The model is mapped and used in place, from a pool of --pool-mb (256 MB,
 * the kernel's default), so what passes here fits in the kernel.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cjson/cJSON.h>

#include "generate.h"
#include "mapfile.h"

struct opts {
    const char *model;
    const char *prompt;
    struct slm_gen_params gen;
    int dump_logits;
    bool check, json;
    uint32_t bench_pp, bench_tg; /* --bench: 0,0 when off */
    uint32_t ctx;
    uint32_t batch; /* --batch: prompt tokens per forward batch, 0 = the engine's */
    size_t pool_mb, max_prompt;
    int isa;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: slm-run MODEL.gguf -p PROMPT [options]\n"
            "       slm-run MODEL.gguf --check\n"
            "\n"
            "  -p, --prompt TEXT     prompt to complete\n"
            "  -n, --tokens N        tokens to generate (default 50)\n"
            "      --temp T          temperature, 0 = greedy (default 0)\n"
            "      --top-k K         keep the K most likely tokens (default 40, 0 = off)\n"
            "      --top-p P         nucleus sampling threshold (default 0.95, 1 = off)\n"
            "      --seed S          sampler seed (default 1)\n"
            "      --stop-newline    stop at the first generated newline\n"
            "      --ctx N           context positions (default: the model's)\n"
            "      --batch N         prompt tokens per forward batch, 1..%d (default %d;\n"
            "                        1 runs the prompt token by token)\n"
            "      --pool-mb N       SLM pool size in MiB (default 256, as in the kernel)\n"
            "      --isa NAME        scalar|sse2|avx2|avx512|auto (default auto)\n"
            "      --dump-logits N   print the top-N token ids and logits after the prompt\n"
            "      --check           validate the file, print its summary or the exact error\n"
            "      --bench PP,TG     time PP prompt tokens and TG generated tokens (greedy)\n"
            "      --json            machine-readable output\n"
            "  -h, --help            this text\n",
            SLM_BATCH, SLM_BATCH);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"prompt", required_argument, 0, 'p'},  {"tokens", required_argument, 0, 'n'},
        {"temp", required_argument, 0, 't'},    {"top-k", required_argument, 0, 'k'},
        {"top-p", required_argument, 0, 'P'},   {"seed", required_argument, 0, 's'},
        {"ctx", required_argument, 0, 'c'},     {"pool-mb", required_argument, 0, 'm'},
        {"isa", required_argument, 0, 'i'},     {"dump-logits", required_argument, 0, 'd'},
        {"check", no_argument, 0, 'C'},         {"json", no_argument, 0, 'j'},
        {"stop-newline", no_argument, 0, 'N'},  {"help", no_argument, 0, 'h'},
        {"bench", required_argument, 0, 'B'},   {"batch", required_argument, 0, 'b'},
        {0, 0, 0, 0}};
    *o = (struct opts){.gen = SLM_GEN_DEFAULTS, .pool_mb = 256, .max_prompt = 4096, .isa = -2};
    int c, idx;
    char *end;
    while (idx = -1, (c = getopt_long(argc, argv, "p:n:h", lo, &idx)) != -1) {
        errno = 0;
        end = ""; /* options without a number leave nothing to check */
        switch (c) {
        case 'p': o->prompt = optarg; break;
        case 'n': o->gen.max_tokens = (uint32_t)strtoul(optarg, &end, 10); break;
        case 't': o->gen.temperature = strtof(optarg, &end); break;
        case 'k': o->gen.top_k = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'P': o->gen.top_p = strtof(optarg, &end); break;
        case 's': o->gen.seed = strtoull(optarg, &end, 10); break;
        case 'c': o->ctx = (uint32_t)strtoul(optarg, &end, 10); break;
        case 'b':
            o->batch = (uint32_t)strtoul(optarg, &end, 10);
            if (o->batch < 1 || o->batch > SLM_BATCH)
                end = "x";
            break;
        case 'm': o->pool_mb = strtoul(optarg, &end, 10); break;
        case 'd': o->dump_logits = (int)strtol(optarg, &end, 10); break;
        case 'i':
            if ((o->isa = slm_isa_parse(optarg)) < 0) {
                fprintf(stderr, "slm-run: --isa: unknown variant '%s'\n", optarg);
                return 2;
            }
            break;
        case 'B':
            o->bench_pp = (uint32_t)strtoul(optarg, &end, 10);
            if (*end == ',' && end[1])
                o->bench_tg = (uint32_t)strtoul(end + 1, &end, 10);
            if (!o->bench_pp || !o->bench_tg)
                end = "x"; /* PP,TG both required, both >= 1 */
            break;
        case 'C': o->check = true; continue;
        case 'j': o->json = true; continue;
        case 'N': o->gen.stop_at_newline = true; continue;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
        if (errno || *end) {
            if (idx >= 0)
                fprintf(stderr, "slm-run: bad value '%s' for --%s\n", optarg, lo[idx].name);
            else
                fprintf(stderr, "slm-run: bad value '%s' for -%c\n", optarg, c);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "slm-run: expected exactly one MODEL argument (try --help)\n");
        return 2;
    }
    o->model = argv[optind];
    if (!o->check && !o->prompt && !o->bench_pp) {
        fprintf(stderr, "slm-run: -p PROMPT, --check or --bench is required (try --help)\n");
        return 2;
    }
    if (o->isa == -2)
        o->isa = (int)slm_cpu_detect();
    return 0;
}

/* An anonymous mapping: pages cost nothing until the engine touches them. */
static void *map_pool(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Prints a JSON object on stdout and frees it. */
static void print_json(cJSON *obj)
{
    char *s = cJSON_PrintUnformatted(obj);
    if (s)
        puts(s);
    free(s);
    cJSON_Delete(obj);
}

static void print_error(const struct opts *o, const struct slm_err *err)
{
    if (o->json) {
        cJSON *obj = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(obj, "error");
        cJSON_AddBoolToObject(obj, "ok", false);
        cJSON_AddStringToObject(e, "code", slm_errsym(err->code));
        cJSON_AddStringToObject(e, "message", err->msg);
        print_json(obj);
    } else {
        fprintf(stderr, "slm-run: %s: error[%s]: %s\n", o->model, slm_errsym(err->code),
                err->msg);
    }
}

static void print_summary(const struct opts *o, const struct slm_model *m, size_t bytes,
                          size_t est, double ms)
{
    const struct slm_config *c = &m->cfg;
    const char *q = slm_qtype_info(m->layers[0].wq.type)->name;
    if (!o->json) {
        printf("ok: llama, %llu params, %s, vocab %u, ctx %u, dim %u, %u layers, %u heads "
               "(%u kv), ffn %u, tied output %s, %zu bytes, pool estimate %zu bytes, "
               "checked in %.2f ms\n",
               (unsigned long long)m->n_params, q, c->vocab, c->ctx_train, c->dim, c->n_layers,
               c->n_heads, c->n_kv_heads, c->ffn_dim, m->tied_output ? "yes" : "no", bytes, est,
               ms);
        return;
    }
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddBoolToObject(obj, "ok", true);
    cJSON_AddStringToObject(obj, "architecture", "llama");
    cJSON_AddNumberToObject(obj, "params", (double)m->n_params);
    cJSON_AddStringToObject(obj, "quant", q);
    cJSON_AddNumberToObject(obj, "vocab", c->vocab);
    cJSON_AddNumberToObject(obj, "ctx", c->ctx_train);
    cJSON_AddNumberToObject(obj, "dim", c->dim);
    cJSON_AddNumberToObject(obj, "layers", c->n_layers);
    cJSON_AddNumberToObject(obj, "heads", c->n_heads);
    cJSON_AddNumberToObject(obj, "kv_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(obj, "ffn", c->ffn_dim);
    cJSON_AddBoolToObject(obj, "tied_output", m->tied_output);
    cJSON_AddNumberToObject(obj, "bytes", (double)bytes);
    cJSON_AddNumberToObject(obj, "pool_estimate", (double)est);
    cJSON_AddNumberToObject(obj, "check_ms", ms);
    print_json(obj);
}

static int cmd_check(const struct opts *o, const struct aut_mapfile *f)
{
    size_t scratch_size = (size_t)64 << 20, est = 0;
    void *scratch = map_pool(scratch_size);
    struct slm_err err = {0};
    uint64_t t0 = slm_port_now_ns();
    int rc = scratch ? slm_estimate_pool(f->data, f->size, o->ctx, o->max_prompt, scratch,
                                         scratch_size, &est, &err)
                     : slm_err_set(&err, SLM_E_NOMEM, "cannot map a scratch pool");
    double ms = (double)(slm_port_now_ns() - t0) / 1e6;
    if (rc) {
        print_error(o, &err);
        return 1;
    }
    struct slm_pool pool;
    struct slm_model m;
    slm_pool_init(&pool, scratch, scratch_size);
    slm_model_load(&m, f->data, f->size, SLM_ISA_SCALAR, &pool, &err); /* succeeded above */
    print_summary(o, &m, f->size, est, ms);
    munmap(scratch, scratch_size);
    return 0;
}

static void dump_logits(const struct slm_runtime *rt, int n)
{
    const float *lg = rt->ctx.logits;
    uint32_t vocab = rt->model.cfg.vocab;
    if (n > (int)vocab)
        n = (int)vocab;
    /* selection of the n best; n is small */
    int32_t best[64];
    n = n > 64 ? 64 : n;
    for (int k = 0; k < n; k++) {
        int32_t b = -1;
        for (uint32_t i = 0; i < vocab; i++) {
            bool taken = false;
            for (int j = 0; j < k; j++)
                taken |= best[j] == (int32_t)i;
            if (!taken && (b < 0 || lg[i] > lg[b]))
                b = (int32_t)i;
        }
        best[k] = b;
        printf("%d %.6f\n", b, lg[b]);
    }
}

static void print_completion(const struct opts *o, const char *out,
                             const struct slm_gen_stats *st)
{
    static const char *const stops[] = {"length", "eos", "newline", "context"};
    double gen_s = (double)st->gen_ns / 1e9, pp_s = (double)st->prompt_ns / 1e9;
    double tok_s = gen_s > 0 ? st->gen_tokens / gen_s : 0.0;
    double pp_tok_s = pp_s > 0 ? st->prompt_tokens / pp_s : 0.0;
    const char *isa = slm_isa_name((enum slm_isa)o->isa);
    if (!o->json) {
        printf("%s\n", out);
        fprintf(stderr,
                "stats: prompt_tokens=%u tokens=%u prompt_ms=%.1f ms=%.1f prompt_tok_s=%.1f "
                "tok_s=%.1f pool_used=%zu pool_peak=%zu isa=%s stop=%s\n",
                st->prompt_tokens, st->gen_tokens, pp_s * 1e3, gen_s * 1e3, pp_tok_s, tok_s,
                st->pool_used, st->pool_peak, isa, stops[st->stop]);
        return;
    }
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddBoolToObject(obj, "ok", true);
    cJSON_AddStringToObject(obj, "output", out);
    cJSON_AddNumberToObject(obj, "prompt_tokens", st->prompt_tokens);
    cJSON_AddNumberToObject(obj, "tokens", st->gen_tokens);
    cJSON_AddNumberToObject(obj, "prompt_ms", pp_s * 1e3);
    cJSON_AddNumberToObject(obj, "ms", gen_s * 1e3);
    cJSON_AddNumberToObject(obj, "prompt_tok_s", pp_tok_s);
    cJSON_AddNumberToObject(obj, "tok_s", tok_s);
    cJSON_AddNumberToObject(obj, "pool_used", (double)st->pool_used);
    cJSON_AddNumberToObject(obj, "pool_peak", (double)st->pool_peak);
    cJSON_AddStringToObject(obj, "isa", isa);
    cJSON_AddStringToObject(obj, "stop", stops[st->stop]);
    print_json(obj);
}

/* Maps a --pool-mb pool into *pool and opens the runtime in it. Returns 0,
 * or -1 after printing the error (*pool then owns nothing to unmap when its
 * base is NULL). Release with close_pool. */
static int open_runtime(const struct opts *o, const struct aut_mapfile *f, uint32_t n_ctx,
                        size_t max_prompt, struct slm_pool *pool, struct slm_runtime *rt)
{
    size_t bytes = o->pool_mb << 20;
    void *mem = map_pool(bytes);
    struct slm_err err = {0};
    if (!mem) {
        pool->base = NULL;
        fprintf(stderr, "slm-run: cannot map a %zu MiB pool\n", o->pool_mb);
        return -1;
    }
    slm_pool_init(pool, mem, bytes); /* page-aligned: base and size stay mem, bytes */
    if (slm_runtime_open(rt, f->data, f->size, n_ctx, max_prompt, (enum slm_isa)o->isa, pool,
                         &err)) {
        print_error(o, &err);
        return -1;
    }
    if (o->batch && o->batch < rt->ctx.n_batch)
        rt->ctx.n_batch = o->batch;
    return 0;
}

static void close_pool(struct slm_pool *pool)
{
    if (pool->base)
        munmap(pool->base, pool->size);
}

static int cmd_run(const struct opts *o, const struct aut_mapfile *f)
{
    struct slm_pool pool;
    struct slm_runtime rt;
    struct slm_err err = {0};
    int rc = open_runtime(o, f, o->ctx, o->max_prompt, &pool, &rt);
    if (rc) {
        close_pool(&pool);
        return 1;
    }
    struct slm_gen_params gp = o->gen;
    if (o->dump_logits > 0)
        gp.max_tokens = 0; /* prefill only */
    static char out[1 << 16];
    struct slm_gen_stats st;
    rc = slm_generate(&rt, o->prompt, strlen(o->prompt), &gp, out, sizeof out, &st, &err);
    if (rc) {
        print_error(o, &err);
        close_pool(&pool);
        return 1;
    }
    if (o->dump_logits > 0) {
        dump_logits(&rt, o->dump_logits);
    } else {
        print_completion(o, out, &st);
    }
    close_pool(&pool);
    return 0;
}

static int cmd_bench(const struct opts *o, const struct aut_mapfile *f)
{
    struct slm_pool pool;
    struct slm_runtime rt;
    struct slm_err err = {0};
    uint64_t ns[2] = {0, 0};
    int rc = open_runtime(o, f, o->bench_pp + o->bench_tg, 64, &pool, &rt);
    if (!rc && (rc = slm_bench(&rt, o->bench_pp, o->bench_tg, ns, &err)))
        print_error(o, &err);
    if (!rc) {
        double pp = o->bench_pp / ((double)ns[0] / 1e9), tg = o->bench_tg / ((double)ns[1] / 1e9);
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddNumberToObject(obj, "pp", o->bench_pp);
        cJSON_AddNumberToObject(obj, "tg", o->bench_tg);
        cJSON_AddNumberToObject(obj, "pp_tok_s", pp);
        cJSON_AddNumberToObject(obj, "tg_tok_s", tg);
        cJSON_AddNumberToObject(obj, "weight_bytes", (double)rt.model.weight_bytes);
        cJSON_AddNumberToObject(obj, "params", (double)rt.model.n_params);
        cJSON_AddNumberToObject(obj, "pool_peak", (double)pool.peak);
        cJSON_AddStringToObject(obj, "isa", slm_isa_name((enum slm_isa)o->isa));
        print_json(obj);
    }
    close_pool(&pool);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc;
    struct aut_mapfile f;
    char msg[512];
    if (aut_mapfile_open(&f, o.model, msg, sizeof msg) < 0) {
        fprintf(stderr, "slm-run: %s\n", msg);
        return 1;
    }
    rc = o.check ? cmd_check(&o, &f) : o.bench_pp ? cmd_bench(&o, &f) : cmd_run(&o, &f);
    aut_mapfile_close(&f);
    return rc;
}
