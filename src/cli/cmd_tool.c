/*
 * cmd_tool.c - autonctl tool: one of the integration spec's agent tools
 * (src/agents/tools.h) on a directory the user names, always in this process:
 * the arguments from the command line, the tool's stages with their progress
 * on stderr, and its result as JSON (--json) or a short summary. SIGINT and
 * SIGTERM cancel the tool's job (its make or QEMU killed).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "job.h"
#include "pipeline.h"
#include "tools.h"

static const char usage_text[] =
    "usage: autonctl tool [--json] [-q] [--id ID] TOOL ARGS...\n"
    "\n"
    "  integrate-slm-model MODEL WORKSPACE [MANIFEST]\n"
    "      copy MODEL (and its manifest, default manifests/NAME.json beside it) to\n"
    "      WORKSPACE/kernel/slm/models/ after verifying it, and set the Makefile to embed it\n"
    "  build-kernel WORKSPACE [ARCH]\n"
    "      make the kernel, then check kernel.elf (slm_model_* symbols, size) when it\n"
    "      embeds a model\n"
    "  test-kernel-boot WORKSPACE [ARCH]\n"
    "      boot WORKSPACE/kernel.elf in QEMU to its prompt\n"
    "  test-slm-inference WORKSPACE [ARCH] --prompt P [--prompt P]... | --prompts FILE\n"
    "      boot it and ask each prompt in order (FILE: a prompt suite, tests/prompts/*.json)\n"
    "  is-gibberish TEXT\n"
    "      the coherence check of the validate stage\n"
    "\n"
    "  --json            print the result (schemas/tools/TOOL.json) on stdout\n"
    "  -q, --quiet       no progress on stderr\n"
    "  --id ID           the job id (its report directory under [pipeline] reports)\n"
    "  --max-tokens N    test-slm-inference: tokens per prompt (default: [validate] "
    "max_tokens)\n"
    "\n"
    "Exit status: 0 success, 1 the tool failed (the result says why), 2 usage.\n";

struct args {
    bool json, quiet;
    const char *id;
    cJSON *prompts;  /* --prompt / --prompts: an array of strings, or NULL */
    long max_tokens; /* 0: none given */
};

/* The prompts of a suite file (stage_infer.c's format) into a->prompts. */
static int load_suite(struct args *a, const char *path)
{
    char err[1024];
    cJSON *suite = NULL, *p;
    if (aut_prompts_load(path, &suite, err, sizeof err))
        return aut_cli_error(AUT_EXIT_USAGE, "--prompts: %s", err);
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(suite, "prompts")) cJSON_AddItemToArray(
        a->prompts, cJSON_CreateString(cJSON_GetObjectItemCaseSensitive(p, "prompt")->valuestring));
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(suite, "max_tokens");
    if (cJSON_IsNumber(mt) && !a->max_tokens)
        a->max_tokens = (long)mt->valuedouble;
    cJSON_Delete(suite);
    return 0;
}

static int parse_opts(int argc, char **argv, struct args *a)
{
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'j'},          {"quiet", no_argument, 0, 'q'},
        {"id", required_argument, 0, 'i'},      {"prompt", required_argument, 0, 'p'},
        {"prompts", required_argument, 0, 'P'}, {"max-tokens", required_argument, 0, 'm'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    int c, rc;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        if ((c == 'p' || c == 'P') && !a->prompts)
            a->prompts = cJSON_CreateArray();
        switch (c) {
        case 'j':
            a->json = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        case 'i':
            a->id = optarg;
            break;
        case 'p':
            cJSON_AddItemToArray(a->prompts, cJSON_CreateString(optarg));
            break;
        case 'P':
            if ((rc = load_suite(a, optarg)))
                return rc;
            break;
        case 'm':
            a->max_tokens = strtol(optarg, &end, 10);
            if (!optarg[0] || *end || a->max_tokens < 1 || a->max_tokens > 4096)
                return aut_cli_error(AUT_EXIT_USAGE, "--max-tokens %s: an integer 1..4096", optarg);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        default:
            fputs(usage_text, stderr);
            return AUT_EXIT_USAGE;
        }
    }
    return 0;
}

/* The positional arguments of each tool, in order; the first n_req required. */
struct positional {
    const char *tool;
    unsigned n_req;
    const char *keys[3];
};

static const struct positional positionals[] = {
    {"integrate-slm-model", 2, {"model_path", "kernel_workspace", "manifest_path"}},
    {"build-kernel", 1, {"workspace_path", "arch"}},
    {"test-kernel-boot", 1, {"workspace_path", "arch"}},
    {"test-slm-inference", 1, {"workspace_path", "arch"}},
    {"is-gibberish", 1, {"text"}},
};

/* The tool's arguments (JSON, as the API takes them) from the command line. */
static int build_args(const char *name, char **pos, int n, struct args *a, cJSON **out)
{
    const struct positional *p = NULL;
    for (size_t i = 0; i < sizeof positionals / sizeof positionals[0]; i++)
        if (!strcmp(positionals[i].tool, name))
            p = &positionals[i];
    if (!p)
        return aut_cli_error(AUT_EXIT_USAGE, "tool '%s': no such tool (autonctl tool --help)",
                             name);
    unsigned max = 0;
    while (max < 3 && p->keys[max])
        max++;
    if (n < (int)p->n_req || n > (int)max)
        return aut_cli_error(AUT_EXIT_USAGE,
                             "tool %s: takes %s%u argument%s, not %d (autonctl "
                             "tool --help)",
                             name, p->n_req < max ? "up to " : "", max, max == 1 ? "" : "s", n);
    bool infer = !strcmp(name, "test-slm-inference");
    if (!infer && (a->prompts || a->max_tokens))
        return aut_cli_error(AUT_EXIT_USAGE, "--prompt, --prompts, --max-tokens: for "
                                             "test-slm-inference only");
    if (infer && !a->prompts)
        return aut_cli_error(AUT_EXIT_USAGE, "test-slm-inference: --prompt P (one or more) or "
                                             "--prompts FILE");
    cJSON *args = cJSON_CreateObject();
    for (int i = 0; i < n; i++)
        cJSON_AddStringToObject(args, p->keys[i], pos[i]);
    if (infer) {
        cJSON_AddItemToObject(args, "test_prompts", a->prompts);
        a->prompts = NULL;
        if (a->max_tokens)
            cJSON_AddNumberToObject(args, "max_tokens", (double)a->max_tokens);
    }
    *out = args;
    return 0;
}

/* ---- running ---- */

static cJSON *exec_with_signals(struct aut_job *job, const char *name, const cJSON *args)
{
    struct aut_cli_signals g;
    aut_cli_signals_start(&g, job);
    cJSON *res = aut_tool_exec(job, name, args);
    aut_cli_signals_stop(&g);
    return res;
}

/* ---- the summary ---- */

static const char *jstr(const cJSON *o, const char *key)
{
    return aut_cli_jstr(o, key, "-");
}

static bool jtrue(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* What the tool found: the model staged, the kernel built, the boot, the answers. */
static void print_tool_details(const char *name, const cJSON *r, bool ok)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "model"), *x;
    if (!strcmp(name, "integrate-slm-model") && cJSON_IsObject(m)) {
        printf("model %s: %.0f bytes, %.0f params, %s, sha256 %s\n", jstr(m, "name"),
               aut_cli_jnum(m, "bytes", 0), aut_cli_jnum(m, "params", 0), jstr(m, "quant"),
               jstr(m, "sha256"));
        if (ok)
            printf("copied to %s\n      and %s\n", jstr(r, "model_dest"), jstr(r, "manifest_dest"));
    } else if (!strcmp(name, "build-kernel") && ok) {
        printf("kernel %s: %.0f bytes (rule engine %.0f); %s\n", jstr(r, "kernel"),
               aut_cli_jnum(r, "kernel_bytes", 0), aut_cli_jnum(r, "rule_kernel_bytes", 0),
               jtrue(r, "slm_enabled") ? "the model embedded" : "no model embedded");
    } else if (!strcmp(name, "test-kernel-boot") && ok) {
        printf("booted in %.0f ms (%s); SLM runtime %s, %s\n", aut_cli_jnum(r, "boot_ms", 0),
               jstr(r, "accel"), jtrue(r, "slm_ready") ? "ready" : "NOT ready",
               jtrue(r, "neural") ? "neural backend" : "rule engine");
    } else if (!strcmp(name, "test-slm-inference")) {
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(r, "results"))
            printf("%s\n  -> %s\n     (%.0f tokens, %.0f ms, %s%s%s)\n", jstr(x, "prompt"),
                   jstr(x, "output"), aut_cli_jnum(x, "tokens", 0), aut_cli_jnum(x, "ms", 0),
                   jstr(x, "backend"), jtrue(x, "gibberish") ? "; gibberish: " : "",
                   jtrue(x, "gibberish") ? jstr(x, "reason") : "");
    }
    if (jtrue(r, "panic"))
        printf("panic: %s\n", jstr(r, "panic_text"));
}

static void print_summary(const char *name, const cJSON *r)
{
    bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "success"));
    if (!strcmp(name, "is-gibberish")) {
        bool g = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "gibberish"));
        printf("%s: %s\n", g ? "gibberish" : "coherent", jstr(r, "logs"));
        return;
    }
    char d[32];
    printf("%s %s: %s in %s\n", name, jstr(r, "workspace"), ok ? "success" : "FAILED",
           aut_cli_duration(aut_cli_jnum(r, "duration_ms", 0) / 1000.0, d, sizeof d));
    print_tool_details(name, r, ok);
    if (!ok) {
        printf("%s failure at %s: %s\n", jstr(r, "class"), jstr(r, "stage"), jstr(r, "error"));
        if (aut_cli_jstr(r, "recommendation", NULL))
            printf("recommendation: %s\n", jstr(r, "recommendation"));
    }
    printf("result: %s/%s\n", jstr(r, "report_dir"), AUT_TOOL_RESULT);
}

static int run_tool(struct aut_cli *cli, const char *name, const cJSON *args, const struct args *a,
                    cJSON **res)
{
    char err[1024];
    if (!aut_tool_needs_job(name)) {
        *res = aut_tool_is_gibberish(args, err, sizeof err);
        return *res ? 0 : aut_cli_error(AUT_EXIT_USAGE, "%s: %s", name, err);
    }
    struct aut_job *job = calloc(1, sizeof *job);
    if (!job)
        return aut_cli_error(AUT_EXIT_FAILED, "out of memory");
    if (aut_tool_prepare(job, &cli->cfg, name, args, a->id, err, sizeof err)) {
        free(job);
        return aut_cli_error(AUT_EXIT_USAGE, "%s: %s", name, err);
    }
    struct aut_cli_progress p = {.tty = isatty(2), .quiet = a->quiet};
    job->on_event = aut_cli_show_event;
    job->ud = &p;
    *res = exec_with_signals(job, name, args);
    aut_job_release(job);
    free(job);
    return 0;
}

int cmd_tool(struct aut_cli *cli, int argc, char **argv)
{
    struct args a = {0};
    cJSON *args = NULL, *res = NULL;
    int rc = parse_opts(argc, argv, &a);
    if (rc)
        goto out;
    if (optind >= argc) {
        fputs(usage_text, stderr);
        rc = aut_cli_error(AUT_EXIT_USAGE, "tool: which one?");
        goto out;
    }
    const char *name = argv[optind];
    char err[1024];
    if ((rc = build_args(name, argv + optind + 1, argc - optind - 1, &a, &args)))
        goto out;
    if (aut_tool_check(name, args, err, sizeof err)) {
        rc = aut_cli_error(AUT_EXIT_USAGE, "%s: %s", name, err);
        goto out;
    }
    if ((rc = run_tool(cli, name, args, &a, &res)))
        goto out;
    char *text = a.json ? cJSON_Print(res) : NULL;
    if (text)
        puts(text);
    else if (!a.json)
        print_summary(name, res);
    free(text);
    rc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "success")) ? AUT_EXIT_OK
                                                                        : AUT_EXIT_FAILED;
out:
    cJSON_Delete(res);
    cJSON_Delete(args);
    cJSON_Delete(a.prompts);
    return rc < 0 ? AUT_EXIT_OK : rc;
}
