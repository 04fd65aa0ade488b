/*
 * tools.c - the integration spec's agent tools (tools.h): their argument
 * checks, one standalone job per call running the tool's stages of the
 * pipeline on a kernel tree, and the result - the spec's fields ("success",
 * "logs", "outputs") read from the job's report sections and failure fields,
 * plus what each tool measured (schemas/tools/<name>.json).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coherence.h"
#include "elfcheck.h"
#include "fsutil.h"
#include "pipeline.h"
#include "sbuf.h"
#include "tools.h"
#include "vm.h"

#define LOG_CAP (64u * 1024) /* "logs" keeps the tail of a build or console log */
#define PROMPTS_MAX 256      /* aut_prompts_load's limits */
#define PROMPT_BYTES 4000
#define TOKENS_MAX 4096
#define TEXT_MAX (1u << 20) /* is-gibberish's text */
#define SUITE_NAME "tool_prompts.json"

enum arg_type { ARG_PATH, ARG_TEXT, ARG_ARCH, ARG_PROMPTS, ARG_TOKENS };

struct arg {
    const char *key;
    enum arg_type type;
    bool required;
};

/* What a tool result gets beyond the common fields. */
typedef void (*fill_fn)(struct aut_job *job, cJSON *res);

struct tool {
    const char *name;
    const char *ws_key;    /* the workspace argument; NULL: no job (is-gibberish) */
    const char *stages[5]; /* run in order up to the first failure, NULL-terminated */
    const char *log;       /* "build", "console": that log's tail is "logs"; NULL: the
                              stages' log lines */
    struct arg args[5];    /* terminated by a NULL key */
    fill_fn fill;
};

static void fill_integrate(struct aut_job *job, cJSON *res);
static void fill_build(struct aut_job *job, cJSON *res);
static void fill_boot(struct aut_job *job, cJSON *res);
static void fill_infer(struct aut_job *job, cJSON *res);

static const struct tool tools[] = {
    {"integrate-slm-model",
     "kernel_workspace",
     {"fetch", "verify", "stage", "patch"},
     NULL,
     {{"model_path", ARG_PATH, true},
      {"kernel_workspace", ARG_PATH, true},
      {"manifest_path", ARG_PATH, false}},
     fill_integrate},
    {"build-kernel",
     "workspace_path",
     {"build", "check-build"},
     "build",
     {{"workspace_path", ARG_PATH, true}, {"arch", ARG_ARCH, false}},
     fill_build},
    {"test-kernel-boot",
     "workspace_path",
     {"boot"},
     "console",
     {{"workspace_path", ARG_PATH, true}, {"arch", ARG_ARCH, false}},
     fill_boot},
    {"test-slm-inference",
     "workspace_path",
     {"boot", "infer"},
     "console",
     {{"workspace_path", ARG_PATH, true},
      {"arch", ARG_ARCH, false},
      {"test_prompts", ARG_PROMPTS, true},
      {"max_tokens", ARG_TOKENS, false}},
     fill_infer},
    {"is-gibberish", NULL, {NULL}, NULL, {{"text", ARG_TEXT, true}}, NULL},
};
#define N_TOOLS (sizeof tools / sizeof tools[0])

static const struct tool *find_tool(const char *name)
{
    for (size_t i = 0; name && i < N_TOOLS; i++)
        if (!strcmp(tools[i].name, name))
            return &tools[i];
    return NULL;
}

const char *const *aut_tool_names(size_t *n)
{
    static const char *const names[N_TOOLS] = {
        "integrate-slm-model", "build-kernel", "test-kernel-boot",
        "test-slm-inference",  "is-gibberish",
    };
    *n = N_TOOLS;
    return names;
}

bool aut_tool_known(const char *name)
{
    return find_tool(name) != NULL;
}

bool aut_tool_needs_job(const char *name)
{
    const struct tool *t = find_tool(name);
    return t && t->ws_key;
}

const char *aut_tool_workspace(const char *name, const cJSON *args)
{
    const struct tool *t = find_tool(name);
    if (!t || !t->ws_key)
        return NULL;
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, t->ws_key));
}

/* ---- arguments ----------------------------------------------------------------- */

static int bad(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

static const struct arg *find_arg(const struct tool *t, const char *key)
{
    for (const struct arg *a = t->args; a->key; a++)
        if (key && !strcmp(a->key, key))
            return a;
    return NULL;
}

static int check_prompts(const cJSON *v, char *err, size_t len)
{
    const char *what = "test_prompts: expected a non-empty array of strings";
    int n = cJSON_GetArraySize(v), i = 0;
    if (!cJSON_IsArray(v) || n == 0)
        return bad(err, len, "%s", what);
    if (n > PROMPTS_MAX)
        return bad(err, len, "test_prompts: %d prompts, at most %d", n, PROMPTS_MAX);
    const cJSON *p;
    cJSON_ArrayForEach(p, v)
    {
        if (!cJSON_IsString(p) || !p->valuestring[0])
            return bad(err, len, "%s (test_prompts[%d] is not a non-empty string)", what, i);
        if (strlen(p->valuestring) > PROMPT_BYTES)
            return bad(err, len, "test_prompts[%d]: longer than %d bytes", i, PROMPT_BYTES);
        i++;
    }
    return 0;
}

static int check_value(const struct arg *a, const cJSON *v, char *err, size_t len)
{
    const char *s = cJSON_GetStringValue(v);
    switch (a->type) {
    case ARG_PATH:
        if (!s || !s[0] || strlen(s) >= PATH_MAX)
            return bad(err, len, "%s: expected a non-empty path (a string)", a->key);
        return 0;
    case ARG_TEXT:
        if (!s || strlen(s) > TEXT_MAX)
            return bad(err, len, "%s: expected a string of at most %u bytes", a->key, TEXT_MAX);
        return 0;
    case ARG_ARCH:
        if (!s)
            return bad(err, len, "%s: expected a string", a->key);
        if (strcmp(s, "x86_64"))
            return bad(err, len, "%s '%.32s': not supported yet (supported: x86_64)", a->key, s);
        return 0;
    case ARG_PROMPTS:
        return check_prompts(v, err, len);
    case ARG_TOKENS:
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > TOKENS_MAX ||
            v->valuedouble != (double)(int)v->valuedouble)
            return bad(err, len, "%s: expected an integer 1..%d", a->key, TOKENS_MAX);
        return 0;
    }
    return bad(err, len, "%s: unchecked", a->key);
}

int aut_tool_check(const char *name, const cJSON *args, char *err, size_t errlen)
{
    const struct tool *t = find_tool(name);
    if (!t)
        return bad(err, errlen, "no tool named '%.64s'", name ? name : "");
    if (!cJSON_IsObject(args))
        return bad(err, errlen, "arguments: expected a JSON object");
    const cJSON *v;
    cJSON_ArrayForEach(v, args)
    {
        if (find_arg(t, v->string))
            continue;
        char known[256] = "";
        for (const struct arg *a = t->args; a->key; a++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                     known[0] ? ", " : "", a->key);
        return bad(err, errlen, "%.64s: unknown argument (%s takes %s)",
                   v->string ? v->string : "?", name, known);
    }
    for (const struct arg *a = t->args; a->key; a++) {
        v = cJSON_GetObjectItemCaseSensitive(args, a->key);
        if (!v || (cJSON_IsNull(v) && !a->required)) {
            if (a->required)
                return bad(err, errlen, "%s: required", a->key);
            continue;
        }
        if (check_value(a, v, err, errlen))
            return -1;
    }
    return 0;
}

/* ---- set-up ---------------------------------------------------------------------- */

static const char *arg_str(const cJSON *args, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(args, key));
}

/* The prompt suite infer reads (stage_infer.c's format), written into the
 * report directory from test_prompts. */
static int write_suite(struct aut_job *job, const cJSON *args, char *err, size_t len)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(args, "max_tokens"), *p;
    unsigned max = job->cfg->max_tokens;
    if (cJSON_IsNumber(mt))
        max = (unsigned)mt->valuedouble;
    if (max > TOKENS_MAX) /* the config allows more than a suite does */
        max = TOKENS_MAX;
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "name", "test-slm-inference");
    cJSON_AddNumberToObject(s, "max_tokens", max ? max : 1);
    cJSON *list = cJSON_AddArrayToObject(s, "prompts");
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(args, "test_prompts"))
    {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "prompt", p->valuestring);
        cJSON_AddItemToArray(list, o);
    }
    char *text = cJSON_Print(s);
    cJSON_Delete(s);
    snprintf(job->prompts, sizeof job->prompts, "%s/%s", job->report_dir, SUITE_NAME);
    int rc = text ? aut_write_file(job->prompts, text, strlen(text), err, len)
                  : bad(err, len, "out of memory");
    free(text);
    return rc ? -1 : 0;
}

int aut_tool_prepare(struct aut_job *job, const struct aut_config *cfg, const char *name,
                     const cJSON *args, const char *id, char *err, size_t errlen)
{
    const struct tool *t = find_tool(name);
    if (!t || !t->ws_key)
        return bad(err, errlen, "'%.64s' is not a tool that runs a job", name ? name : "");
    if (aut_tool_check(name, args, err, errlen))
        return -1;
    const char *ws = aut_tool_workspace(name, args);
    struct stat st;
    /* checked before the job exists: a job that fails to start has nothing to release */
    if (stat(ws, &st))
        return bad(err, errlen, "%s %s: %s", t->ws_key, ws, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return bad(err, errlen, "%s %s: not a directory", t->ws_key, ws);
    struct aut_job_opts o = {.model = arg_str(args, "model_path"),
                             .manifest = arg_str(args, "manifest_path"),
                             .arch = arg_str(args, "arch"),
                             .rollback = -1,
                             .fallback = 0,
                             .bridge = -1,
                             .id = id};
    if (aut_job_init_standalone(job, cfg, ws, &o, err, errlen))
        return -1;
    /* boot may run without build in this job: the tree's kernel is the one */
    snprintf(job->kernel, sizeof job->kernel, "%s/kernel.elf", job->dir);
    if (aut_mkdirs(job->report_dir, 0755)) {
        bad(err, errlen, "%s: %s", job->report_dir, strerror(errno));
        goto fail;
    }
    if (find_arg(t, "test_prompts") && write_suite(job, args, err, errlen))
        goto fail;
    return 0;
fail:
    aut_job_release(job);
    return -1;
}

/* ---- text ------------------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at s (n >= 1 bytes), or 0 (a stray
 * byte, an overlong form, a surrogate, past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : lo;
        hi = c == 0xED ? 0x9F : hi;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : lo;
        hi = c == 0xF4 ? 0x8F : hi;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* Appends text fit for a JSON string that any client decodes: a console log
 * or a model's output holds whatever the guest wrote, so each invalid UTF-8
 * byte and control character (but newline and tab) becomes '?', and carriage
 * returns go. */
static void sb_clean(struct aut_sbuf *b, const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, run = 0; /* run: clean bytes from i - run not yet appended */
    while (i < n) {
        size_t k = utf8_seq(s + i, n - i);
        bool ctl = k == 1 && (s[i] < 0x20 || s[i] == 0x7F) && s[i] != '\n' && s[i] != '\t';
        if (k && !ctl) {
            i += k, run += k;
            continue;
        }
        aut_sbuf_append(b, text + i - run, run);
        run = 0;
        if (s[i] != '\r')
            aut_sbuf_append(b, "?", 1);
        i++;
    }
    aut_sbuf_append(b, text + i - run, run);
}

static char *clean_copy(const char *text)
{
    struct aut_sbuf b = {0};
    aut_sbuf_append(&b, "", 0);
    sb_clean(&b, text, strlen(text));
    return b.p;
}

/* Code points, as a client's len() counts them (each invalid byte as one). */
static size_t utf8_chars(const char *text)
{
    size_t n = 0;
    for (const unsigned char *s = (const unsigned char *)text; *s; s++)
        n += (*s & 0xC0) != 0x80;
    return n;
}

/* The last LOG_CAP bytes of the file at path, from a line start, cleaned.
 * Returns false when there is no such file to read. */
static bool log_tail(const char *path, struct aut_sbuf *b)
{
    struct stat st;
    int fd = path && path[0] ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return false;
    char *buf = fstat(fd, &st) == 0 ? malloc(LOG_CAP) : NULL;
    off_t from = buf && st.st_size > (off_t)LOG_CAP ? st.st_size - (off_t)LOG_CAP : 0;
    ssize_t n = buf ? pread(fd, buf, LOG_CAP, from) : -1;
    close(fd);
    if (n < 0) {
        free(buf);
        return false;
    }
    const char *start = buf;
    if (from > 0) { /* a cut line is no line */
        const char *nl = memchr(buf, '\n', (size_t)n);
        start = nl ? nl + 1 : buf;
        aut_sbuf_printf(b, "[... %lld bytes before]\n", (long long)(from + (start - buf)));
    }
    sb_clean(b, start, (size_t)n - (size_t)(start - buf));
    free(buf);
    return true;
}

/* ---- the result -------------------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? s : "";
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static bool jtrue(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void add_str_or_null(cJSON *o, const char *key, const char *s)
{
    if (s && s[0])
        cJSON_AddStringToObject(o, key, s);
    else
        cJSON_AddNullToObject(o, key);
}

static bool stage_passed(const struct aut_job *job, const char *name)
{
    const cJSON *st;
    cJSON_ArrayForEach(
        st, cJSON_GetObjectItemCaseSensitive(
                job->report, "stages")) if (!strcmp(jstr(st, "name"), name) &&
                                            !strcmp(jstr(st, "status"), "passed")) return true;
    return false;
}

/* The stages' log lines, "stage: message", and a failure, "stage: failed
 * (class): error". */
static void stage_lines(const struct aut_job *job, struct aut_sbuf *b)
{
    const cJSON *st, *m;
    cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(job->report, "stages"))
    {
        const char *name = jstr(st, "name");
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(st, "messages"))
        {
            const char *line = cJSON_GetStringValue(m);
            aut_sbuf_printf(b, "%s: ", name);
            sb_clean(b, line ? line : "", line ? strlen(line) : 0);
            aut_sbuf_append(b, "\n", 1);
        }
        if (jstr(st, "error")[0]) {
            aut_sbuf_printf(b, "%s: failed (%s): ", name, jstr(st, "class"));
            sb_clean(b, jstr(st, "error"), strlen(jstr(st, "error")));
            aut_sbuf_append(b, "\n", 1);
        }
    }
}

/* "logs": the tool's log file (its tail), or the stages' lines when there is
 * none (the tool failed before it, or it has none). */
static void add_logs(struct aut_job *job, const struct tool *t, cJSON *res)
{
    struct aut_sbuf b = {0};
    const char *path = !t || !t->log              ? NULL
                       : !strcmp(t->log, "build") ? job->build_log
                                                  : job->console_log;
    if (!log_tail(path, &b) || !b.len) {
        b.len = 0;
        stage_lines(job, &b);
    }
    cJSON_AddStringToObject(res, "logs", b.p ? b.p : "");
    free(b.p);
}

static void fill_integrate(struct aut_job *job, cJSON *res)
{
    char path[PATH_MAX + 64];
    bool staged = stage_passed(job, "stage");
    snprintf(path, sizeof path, "%s/%s", job->dir, AUT_WS_MODEL);
    add_str_or_null(res, "model_dest", staged ? path : NULL);
    snprintf(path, sizeof path, "%s/%s", job->dir, AUT_WS_MANIFEST);
    add_str_or_null(res, "manifest_dest", staged ? path : NULL);
    if (job->model.sha256[0]) {
        cJSON *m = cJSON_AddObjectToObject(res, "model");
        cJSON_AddStringToObject(m, "name", job->model.name);
        cJSON_AddStringToObject(m, "sha256", job->model.sha256);
        cJSON_AddNumberToObject(m, "bytes", (double)job->model.bytes);
        cJSON_AddNumberToObject(m, "params", (double)job->model.params);
        cJSON_AddStringToObject(m, "quant", job->model.quant);
    } else {
        cJSON_AddNullToObject(res, "model");
    }
    cJSON_AddBoolToObject(res, "makefile_patched", stage_passed(job, "patch"));
}

static bool elf_embeds(const struct aut_elf_info *k)
{
    return k->model_start.present || k->has_model_section;
}

/* Whether check-build has something to check: a kernel that embeds a model,
 * whose size is then the staged model's (job->model.bytes). A rule-engine
 * kernel is a build that passed with nothing embedded. */
static bool embeds_model(struct aut_job *job)
{
    struct aut_elf_info k;
    struct stat st;
    char err[512], model[PATH_MAX + 64];
    if (aut_elf_inspect(job->kernel, &k, err, sizeof err))
        return true; /* check-build says what is wrong with it */
    if (!elf_embeds(&k))
        return false;
    snprintf(model, sizeof model, "%s/%s", job->dir, AUT_WS_MODEL);
    if (!job->model.bytes)
        job->model.bytes = stat(model, &st) == 0 ? (uint64_t)st.st_size : k.model_section_size;
    return true;
}

static void fill_build(struct aut_job *job, cJSON *res)
{
    struct aut_elf_info k = {0};
    struct stat st;
    char err[512];
    /* a kernel.elf left by an earlier build is not this build's */
    bool have = stage_passed(job, "build") && !aut_elf_inspect(job->kernel, &k, err, sizeof err);
    if (!have)
        memset(&k, 0, sizeof k);
    add_str_or_null(res, "kernel", have ? job->kernel : NULL);
    cJSON_AddNumberToObject(res, "kernel_bytes", (double)k.file_size);
    cJSON_AddNumberToObject(res, "rule_kernel_bytes",
                            have && stat(job->kernel_rule, &st) == 0 ? (double)st.st_size : 0);
    cJSON_AddNumberToObject(res, "model_bytes", elf_embeds(&k) ? (double)job->model.bytes : 0);
    cJSON *syms = cJSON_AddObjectToObject(res, "symbols");
    cJSON_AddBoolToObject(syms, "slm_model_start", k.model_start.present);
    cJSON_AddBoolToObject(syms, "slm_model_end", k.model_end.present);
    cJSON_AddBoolToObject(syms, "slm_model_size", k.model_size.present);
    cJSON_AddBoolToObject(res, "slm_enabled", elf_embeds(&k));
}

static void add_boot(struct aut_job *job, cJSON *res)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(job->report, "boot");
    cJSON_AddNumberToObject(res, "boot_ms", jnum(b, "boot_ms"));
    add_str_or_null(res, "accel", job->accel);
}

static void fill_boot(struct aut_job *job, cJSON *res)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(job->report, "boot");
    add_boot(job, res);
    cJSON_AddBoolToObject(res, "panic", jtrue(b, "panic"));
    char *panic = jtrue(b, "panic") ? clean_copy(jstr(b, "panic_text")) : NULL;
    add_str_or_null(res, "panic_text", panic);
    free(panic);
    cJSON_AddBoolToObject(res, "slm_ready", jtrue(b, "runtime_ok"));
    cJSON_AddBoolToObject(res, "neural", jtrue(b, "neural_ready"));
}

/* One answer: the infer stage's record, with the coherence check's verdict
 * (on the raw output: an invalid byte is a sign of gibberish). */
static cJSON *answer(const cJSON *p, const char *out)
{
    struct aut_coherence co;
    aut_coherence_check(out, strlen(out), NULL, &co);
    cJSON *r = cJSON_CreateObject();
    char *prompt = clean_copy(jstr(p, "prompt")), *clean = clean_copy(out);
    cJSON_AddStringToObject(r, "prompt", prompt ? prompt : "");
    cJSON_AddStringToObject(r, "output", clean ? clean : "");
    cJSON_AddNumberToObject(r, "tokens", jnum(p, "tokens"));
    cJSON_AddNumberToObject(r, "ms", jnum(p, "ms"));
    cJSON_AddNumberToObject(r, "tok_s", jnum(p, "tok_s"));
    cJSON_AddStringToObject(r, "backend", jstr(p, "backend"));
    cJSON_AddBoolToObject(r, "gibberish", !co.coherent);
    cJSON_AddStringToObject(r, "reason", co.coherent ? "coherent" : co.why);
    cJSON_AddNumberToObject(r, "chars", (double)utf8_chars(out));
    free(prompt);
    free(clean);
    return r;
}

static void fill_infer(struct aut_job *job, cJSON *res)
{
    cJSON *outputs = cJSON_AddArrayToObject(res, "outputs");
    cJSON *results = cJSON_AddArrayToObject(res, "results");
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(job->report, "prompts"))
    {
        cJSON *r = answer(p, jstr(p, "output"));
        cJSON_AddItemToArray(outputs, cJSON_CreateString(jstr(r, "output")));
        cJSON_AddItemToArray(results, r);
    }
    add_boot(job, res);
}

/* The fields every result has; then the tool's own. t may be NULL (a job
 * given a name that is no job tool). */
static cJSON *result_new(struct aut_job *job, const struct tool *t, const char *name, double ms)
{
    bool ok = job->fail_class == AUT_FAIL_NONE;
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "tool", t ? t->name : name ? name : "");
    cJSON_AddBoolToObject(res, "success", ok);
    if (!ok) {
        if (!job->recommendation[0])
            aut_review(job, job->recommendation, sizeof job->recommendation);
        cJSON_AddStringToObject(res, "class", aut_fail_class_name(job->fail_class));
        cJSON_AddStringToObject(res, "stage", job->fail_stage);
        cJSON_AddStringToObject(res, "error", job->fail_msg);
        cJSON_AddStringToObject(res, "recommendation", job->recommendation);
    }
    cJSON_AddStringToObject(res, "workspace", job->dir);
    cJSON_AddStringToObject(res, "arch", job->arch);
    cJSON_AddNumberToObject(res, "duration_ms", ms);
    cJSON_AddStringToObject(res, "job", job->id);
    cJSON_AddStringToObject(res, "report_dir", job->report_dir);
    if (t && t->fill)
        t->fill(job, res);
    add_logs(job, t, res);
    return res;
}

/* The tool's stages in order, up to the first failure. */
static void run_stages(struct aut_job *job, const struct tool *t)
{
    for (size_t i = 0; i < sizeof t->stages / sizeof t->stages[0] && t->stages[i]; i++) {
        if (!strcmp(t->stages[i], "check-build") && !embeds_model(job))
            continue;
        if (aut_job_run_stage(job, t->stages[i]))
            return;
    }
}

/* The tool is done with the kernel: QEMU goes now (not at aut_job_release),
 * and the console log is complete. */
static void close_vm(struct aut_job *job)
{
    if (!job->vm)
        return;
    aut_vm_free(job->vm);
    job->vm = NULL;
    uv_run(&job->loop, UV_RUN_NOWAIT);
}

static void write_result(const struct aut_job *job, const cJSON *res)
{
    char path[PATH_MAX + 32];
    char *text = cJSON_Print(res);
    snprintf(path, sizeof path, "%s/%s", job->report_dir, AUT_TOOL_RESULT);
    /* the caller has the result; the file is its copy for autond's API */
    if (text && aut_mkdirs(job->report_dir, 0755) == 0)
        aut_write_file(path, text, strlen(text), NULL, 0);
    free(text);
}

cJSON *aut_tool_exec(struct aut_job *job, const char *name, const cJSON *args)
{
    const struct tool *t = find_tool(name);
    char err[512];
    uint64_t t0 = uv_hrtime();
    if (!t || !t->ws_key) {
        t = NULL;
        aut_job_fail(job, AUT_FAIL_INTERNAL, "'%.64s' is not a tool that runs a job",
                     name ? name : "");
    } else if (aut_tool_check(name, args, err, sizeof err)) {
        aut_job_fail(job, AUT_FAIL_INTERNAL, "%s: %s", name, err);
    } else {
        run_stages(job, t);
    }
    close_vm(job);
    cJSON *res = result_new(job, t, name, (double)(uv_hrtime() - t0) / 1e6);
    write_result(job, res);
    return res;
}

/* ---- is-gibberish ------------------------------------------------------------------ */

cJSON *aut_tool_is_gibberish(const cJSON *args, char *err, size_t errlen)
{
    if (aut_tool_check("is-gibberish", args, err, errlen))
        return NULL;
    const char *text = arg_str(args, "text");
    struct aut_coherence co;
    aut_coherence_check(text, strlen(text), NULL, &co);
    char line[512], *clean = clean_copy(text);
    snprintf(line, sizeof line,
             "printable %.2f, word shape %.2f, repetition %.2f, longest run %u, entropy %.2f "
             "bits/char; %zu chars, %zu words: %s",
             co.printable, co.word_shape, co.repetition, co.char_run, co.entropy, co.chars,
             co.words, co.coherent ? "coherent" : co.why);
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "tool", "is-gibberish");
    cJSON_AddBoolToObject(res, "success", true);
    cJSON_AddBoolToObject(res, "gibberish", !co.coherent);
    cJSON_AddStringToObject(res, "reason", co.coherent ? "coherent" : co.why);
    cJSON_AddStringToObject(res, "text", clean ? clean : "");
    cJSON *m = cJSON_AddObjectToObject(res, "measures");
    cJSON_AddNumberToObject(m, "printable", co.printable);
    cJSON_AddNumberToObject(m, "word_shape", co.word_shape);
    cJSON_AddNumberToObject(m, "repetition", co.repetition);
    cJSON_AddNumberToObject(m, "char_run", co.char_run);
    cJSON_AddNumberToObject(m, "entropy", co.entropy);
    cJSON_AddNumberToObject(m, "chars", (double)co.chars);
    cJSON_AddNumberToObject(m, "words", (double)co.words);
    cJSON_AddStringToObject(res, "logs", line);
    free(clean);
    return res;
}
