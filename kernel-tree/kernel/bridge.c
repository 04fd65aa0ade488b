/*
 * bridge.c - the kernel bridge (bridge.h, docs/bridge.md).
 */
#include "kernel/bridge.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "drivers/pci.h"
#include "drivers/serial.h"
#include "kernel/cmdline.h"
#include "kernel/json.h"
#include "kernel/power.h"
#include "kernel/printk.h"
#include "kernel/sched.h"
#include "kernel/selftest.h"
#include "kernel/slm/slm.h"
#include "kernel/time.h"
#include "lib/kfmt.h"
#include "lib/kstring.h"
#include "mm/heap.h"
#include "mm/pmm.h"
#include "mm/slm_region.h"

#define MAX_TOKENS 512
#define RESULT_MAX (256 * 1024)
#define REPLY_MAX (RESULT_MAX + 8192) /* = the host's AUT_BRIDGE_REPLY_MAX */
#define ID_MAX 64
#define ERR_MAX 320

/* ---- operations ---------------------------------------------------------------------- */

struct request {
    char line[BRIDGE_LINE_MAX + 1];
    size_t len;
    struct jtok tok[MAX_TOKENS];
    char id[ID_MAX + 1];
    int op;           /* index into ops[] */
    int args;         /* token index of args, or -1 */
    uint32_t deadline_ms; /* 0: the kernel's default */
};

struct op_ctx {
    const struct request *r;
    struct jw *w;     /* the result value goes here */
    const char *code; /* on failure */
    char msg[ERR_MAX];
};

static int fail(struct op_ctx *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct op_ctx *c, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kfmt_vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    c->code = code;
    return -1;
}

static int op_caps(struct op_ctx *c);
static int op_query(struct op_ctx *c);
static int op_batch(struct op_ctx *c);
static int op_info(struct op_ctx *c);
static int op_meminfo(struct op_ctx *c);
static int op_pci(struct op_ctx *c);
static int op_selftest(struct op_ctx *c);
static int op_poweroff(struct op_ctx *c);

static const struct {
    const char *name;
    int (*fn)(struct op_ctx *c);
} ops[] = {
    {"caps", op_caps},         {"slm.query", op_query},     {"slm.batch", op_batch},
    {"slm.info", op_info},     {"sys.meminfo", op_meminfo}, {"pci.list", op_pci},
    {"selftest.run", op_selftest}, {"power.off", op_poweroff},
};
#define NOPS (sizeof ops / sizeof ops[0])

static int op_caps(struct op_ctx *c)
{
    struct jw *w = c->w;
    jw_obj(w);
    jw_key_u64(w, "version", BRIDGE_VERSION);
    jw_key(w, "features");
    jw_arr(w);
    for (size_t i = 0; i < NOPS; i++)
        jw_str(w, ops[i].name);
    jw_end_arr(w);
    jw_key(w, "limits");
    jw_obj(w);
    jw_key_u64(w, "line_max", BRIDGE_LINE_MAX);
    jw_key_u64(w, "prompt_max", SLM_ABI_PROMPT_MAX - 1);
    jw_key_u64(w, "reply_max", REPLY_MAX);
    jw_key_u64(w, "batch_max", BRIDGE_BATCH_MAX);
    jw_end_obj(w);
    jw_end_obj(w);
    return 0;
}

/* The slm.query / slm.batch options into q (prompt excluded). */
static int query_options(struct op_ctx *c, struct slm_request *q)
{
    const struct request *r = c->r;
    const char *s = r->line;
    int a = r->args, v;
    uint64_t n;
    char buf[16];
    q->max_tokens = 64;
    q->temp_milli = 0;
    q->top_k = 40;
    q->top_p_milli = 950;
    q->seed = 1;
    q->backend = -1;
    q->fallback = false;
    q->timeout_ms = r->deadline_ms;
    if ((v = json_obj_get(s, r->tok, a, "max_tokens")) >= 0) {
        if (!json_u64(s, &r->tok[v], &n) || n == 0 || n > 4096)
            return fail(c, "bad_request", "args.max_tokens must be an integer 1..4096");
        q->max_tokens = (uint32_t)n;
    }
    if ((v = json_obj_get(s, r->tok, a, "temperature")) >= 0) {
        if (!json_milli(s, &r->tok[v], &n) || n > 100000)
            return fail(c, "bad_request",
                        "args.temperature must be a number 0..100 with at most 3 decimals");
        q->temp_milli = (uint32_t)n;
    }
    if ((v = json_obj_get(s, r->tok, a, "seed")) >= 0) {
        if (!json_u64(s, &r->tok[v], &n))
            return fail(c, "bad_request", "args.seed must be a non-negative integer");
        q->seed = n;
    }
    if ((v = json_obj_get(s, r->tok, a, "backend")) >= 0) {
        int b = json_str(s, &r->tok[v], buf, sizeof buf) < 0 ? -1 : slm_backend_parse(buf);
        if (b < 0)
            return fail(c, "bad_request", "args.backend must be \"rule\", \"neural\" or \"auto\"");
        q->backend = b;
    }
    return 0;
}

static const char *slm_code(int rc)
{
    switch (rc) {
    case SLM_EBUSY:
        return "busy";
    case SLM_ETIMEDOUT:
        return "timeout";
    case SLM_EFAULT:
        return "fault";
    case SLM_ENOMODEL:
        return "no_model";
    case SLM_EINVAL:
        return "bad_request";
    default:
        return "engine";
    }
}

static void put_rate(struct jw *w, uint64_t tokens, uint64_t ns)
{
    char rate[24];
    slm_format_rate(tokens, ns, rate, sizeof rate);
    jw_raw(w, rate);
}

static void put_answer(struct jw *w, const struct slm_result *res)
{
    jw_obj(w);
    jw_key_str(w, "text", res->text);
    jw_key_str(w, "backend", res->backend);
    if (res->rule) {
        jw_key_str(w, "rule", res->rule);
    }
    jw_key_u64(w, "tokens", res->tokens);
    jw_key_u64(w, "prompt_tokens", res->prompt_tokens);
    jw_key(w, "tok_s");
    put_rate(w, res->tokens, res->gen_ns);
    jw_key_u64(w, "gen_ms", res->gen_ns / 1000000);
    jw_key_u64(w, "ms", res->ns / 1000000);
    jw_key_u64(w, "pool_used", res->pool_used);
    jw_key_u64(w, "pool_peak", res->pool_peak);
    jw_end_obj(w);
}

static struct slm_result result;
static char prompt_buf[SLM_ABI_PROMPT_MAX];

static int run_prompt(struct op_ctx *c, struct slm_request *q, int tok, const char *what)
{
    const struct request *r = c->r;
    int len = json_str(r->line, &r->tok[tok], prompt_buf, sizeof prompt_buf);
    if (len <= 0)
        return fail(c, "bad_request", "%s must be a string of 1..%u bytes", what,
                    SLM_ABI_PROMPT_MAX - 1);
    q->prompt = prompt_buf;
    q->prompt_len = (size_t)len;
    int rc = slm_query(q, &result);
    if (rc != SLM_OK)
        return fail(c, slm_code(rc), "%s: %s", what, result.error);
    return 0;
}

static int op_query(struct op_ctx *c)
{
    struct slm_request q;
    int p = json_obj_get(c->r->line, c->r->tok, c->r->args, "prompt");
    if (p < 0)
        return fail(c, "bad_request", "slm.query needs args.prompt");
    if (query_options(c, &q) || run_prompt(c, &q, p, "args.prompt"))
        return -1;
    put_answer(c->w, &result);
    return 0;
}

static int op_batch(struct op_ctx *c)
{
    const struct request *r = c->r;
    struct slm_request q;
    int p = json_obj_get(r->line, r->tok, r->args, "prompts");
    if (p < 0 || r->tok[p].type != J_ARR || r->tok[p].size == 0 ||
        r->tok[p].size > BRIDGE_BATCH_MAX)
        return fail(c, "bad_request", "slm.batch needs args.prompts: an array of 1..%d strings",
                    BRIDGE_BATCH_MAX);
    if (query_options(c, &q))
        return -1;
    uint32_t deadline = q.timeout_ms;
    uint64_t t0 = time_ns(), tokens = 0, gen_ns = 0;
    struct jw *w = c->w;
    jw_obj(w);
    jw_key(w, "answers");
    jw_arr(w);
    uint32_t el = (uint32_t)p + 1;
    for (uint32_t i = 0; i < r->tok[p].size; i++, el = r->tok[el].skip) {
        char what[32];
        kfmt_snprintf(what, sizeof what, "args.prompts[%u]", i);
        if (deadline) {
            uint64_t spent = (time_ns() - t0) / 1000000;
            if (spent >= deadline)
                return fail(c, "timeout", "%s: deadline of %u ms expired", what, deadline);
            q.timeout_ms = deadline - (uint32_t)spent;
        }
        if (run_prompt(c, &q, (int)el, what))
            return -1;
        put_answer(w, &result);
        tokens += result.tokens;
        gen_ns += result.gen_ns;
    }
    jw_end_arr(w);
    jw_key_u64(w, "tokens", tokens);
    jw_key(w, "tok_s");
    put_rate(w, tokens, gen_ns);
    jw_end_obj(w);
    return 0;
}

static int op_info(struct op_ctx *c)
{
    struct jw *w = c->w;
    const struct slm_abi_info *in = slm_model_info();
    const void *start;
    size_t size;
    struct slm_region_info reg;
    slm_model_location(&start, &size);
    slm_region_get(&reg);
    jw_obj(w);
    jw_key_str(w, "backend", slm_backend_name(slm_get_backend()));
    jw_key(w, "neural");
    jw_bool(w, in != NULL);
    jw_key_u64(w, "embedded_bytes", size);
    if (in) {
        jw_key(w, "model");
        jw_obj(w);
        jw_key_str(w, "name", in->name);
        jw_key_str(w, "arch", in->arch);
        jw_key_u64(w, "vocab", in->vocab);
        jw_key_u64(w, "ctx", in->ctx_train);
        jw_key_u64(w, "dim", in->dim);
        jw_key_u64(w, "layers", in->n_layers);
        jw_key_u64(w, "heads", in->n_heads);
        jw_key_u64(w, "kv_heads", in->n_kv_heads);
        jw_key_u64(w, "ffn", in->ffn);
        jw_key_u64(w, "params", in->n_params);
        jw_key_str(w, "weight_type", in->weight_type);
        jw_key_u64(w, "bytes", size);
        jw_key_str(w, "isa", in->isa);
        jw_key_str(w, "tokenizer", in->tokenizer);
        jw_end_obj(w);
    }
    jw_key(w, "pool");
    jw_obj(w);
    jw_key_u64(w, "size", reg.size);
    jw_key_u64(w, "used", reg.used);
    jw_key_u64(w, "peak", reg.peak);
    jw_end_obj(w);
    jw_end_obj(w);
    return 0;
}

static int op_meminfo(struct op_ctx *c)
{
    struct jw *w = c->w;
    struct pmm_stats p;
    struct heap_stats h;
    struct slm_region_info reg;
    pmm_get_stats(&p);
    heap_get_stats(&h);
    slm_region_get(&reg);
    jw_obj(w);
    jw_key_u64(w, "total", p.total + p.reserved);
    jw_key_u64(w, "free", p.free);
    jw_key_u64(w, "heap_used", h.used);
    jw_key_u64(w, "heap_peak", h.peak);
    jw_key_u64(w, "pool_size", reg.size);
    jw_key_u64(w, "pool_used", reg.used);
    jw_key_u64(w, "pool_peak", reg.peak);
    jw_end_obj(w);
    return 0;
}

static int op_pci(struct op_ctx *c)
{
    struct jw *w = c->w;
    char buf[96];
    jw_obj(w);
    jw_key(w, "devices");
    jw_arr(w);
    for (unsigned i = 0; i < pci_count(); i++) {
        const struct pci_device *d = pci_get(i);
        jw_obj(w);
        jw_key(w, "bdf");
        kfmt_snprintf(buf, sizeof buf, "%02x:%02x.%u", d->bus, d->dev, d->fn);
        jw_str(w, buf);
        jw_key(w, "vendor");
        kfmt_snprintf(buf, sizeof buf, "%04x", d->vendor);
        jw_str(w, buf);
        jw_key(w, "device");
        kfmt_snprintf(buf, sizeof buf, "%04x", d->device);
        jw_str(w, buf);
        jw_key_str(w, "class", pci_class_name(d->class_code, d->subclass));
        jw_key(w, "name");
        if (pci_name_lookup(d->vendor, d->device, buf, sizeof buf))
            jw_str(w, buf);
        else
            jw_null(w);
        jw_end_obj(w);
    }
    jw_end_arr(w);
    jw_end_obj(w);
    return 0;
}

static void collect(void *ud, const char *name, bool pass, const char *detail)
{
    struct jw *w = ud;
    jw_obj(w);
    jw_key_str(w, "name", name);
    jw_key(w, "ok");
    jw_bool(w, pass);
    jw_key_str(w, "detail", detail);
    jw_end_obj(w);
}

static int op_selftest(struct op_ctx *c)
{
    struct jw *w = c->w;
    int passed;
    jw_obj(w);
    jw_key(w, "results");
    jw_arr(w);
    int failed = selftest_run(collect, w, &passed);
    jw_end_arr(w);
    jw_key_u64(w, "passed", (uint64_t)passed);
    jw_key_u64(w, "failed", (uint64_t)failed);
    jw_end_obj(w);
    return 0;
}

static bool power_off_after_reply;

static int op_poweroff(struct op_ctx *c)
{
    jw_obj(c->w);
    jw_end_obj(c->w);
    power_off_after_reply = true;
    return 0;
}

/* ---- output: whole lines, one writer at a time ------------------------------------------ */

static bool out_locked;
static bool trace_bridge;

static void write_line(const char *text, size_t n)
{
    uint64_t f = irq_save();
    while (out_locked)
        sched_sleep(&out_locked);
    out_locked = true;
    irq_restore(f);
    serial_write(SERIAL_COM2, text, n);
    serial_write(SERIAL_COM2, "\n", 1);
    if (trace_bridge)
        kprintf("Bridge: > %.*s\n", (int)(n > 200 ? 200 : n), text);
    f = irq_save();
    out_locked = false;
    sched_wakeup(&out_locked);
    irq_restore(f);
}

static const char *run_id(void)
{
    const char *id = cmdline_get("auton.run_id");
    return id ? id : "";
}

/* The reply envelope around a result (ok) or an error. */
static void send_reply(const char *id, bool ok, const char *result, const char *code,
                       const char *msg, uint64_t ms)
{
    static char buf[REPLY_MAX];
    static char small[ERR_MAX + 512];
    struct jw w;
    bool big = ok && result;
    jw_init(&w, big ? buf : small, big ? sizeof buf : sizeof small);
    jw_obj(&w);
    jw_key_u64(&w, "v", BRIDGE_VERSION);
    jw_key(&w, "id");
    if (id)
        jw_str(&w, id);
    else
        jw_null(&w);
    jw_key(&w, "ok");
    jw_bool(&w, ok);
    if (ok) {
        jw_key(&w, "result");
        jw_raw(&w, result);
    } else {
        jw_key(&w, "error");
        jw_obj(&w);
        jw_key_str(&w, "code", code);
        jw_key_str(&w, "message", msg);
        jw_end_obj(&w);
    }
    jw_key_str(&w, "run_id", run_id());
    jw_key_u64(&w, "ms", ms);
    jw_end_obj(&w);
    const char *text = jw_done(&w);
    if (text)
        write_line(text, w.len);
}

/* ---- the two threads ------------------------------------------------------------------- */

static struct request slot; /* the worker's request */
static volatile bool worker_busy;
static struct {
    uint64_t lines, ok, errors, malformed, too_long, busy;
} stats;

static void worker_main(void *unused)
{
    (void)unused;
    static char result_buf[RESULT_MAX];
    for (;;) {
        uint64_t f = irq_save();
        while (!worker_busy)
            sched_sleep(&slot);
        irq_restore(f);
        uint64_t t0 = time_ns();
        struct jw w;
        jw_init(&w, result_buf, sizeof result_buf);
        struct op_ctx c = {.r = &slot, .w = &w};
        int rc = ops[slot.op].fn(&c);
        const char *text = rc == 0 ? jw_done(&w) : NULL;
        if (rc == 0 && !text) {
            rc = fail(&c, "engine", "the result is larger than the %u-byte reply limit",
                      RESULT_MAX);
        }
        uint64_t ms = (time_ns() - t0) / 1000000;
        if (rc == 0)
            stats.ok++;
        else
            stats.errors++;
        /* Free the slot before the reply goes out: a host that answers the
         * reply with its next request at once must not see `busy`. The
         * next request waits for this loop to come round. */
        char id[ID_MAX + 1];
        memcpy(id, slot.id, sizeof id);
        bool off = power_off_after_reply;
        if (!off)
            worker_busy = false;
        send_reply(id, rc == 0, text, c.code, c.msg, ms);
        if (off)
            power_off(POWER_EXIT_OK);
    }
}

static struct jtok rtok[MAX_TOKENS];

/* Validates the envelope of line[0..n); hands it to the worker or answers. */
static void handle_line(char *line, size_t n)
{
    size_t where;
    char id[ID_MAX + 1];
    char op[32];
    int nt = json_parse(line, n, rtok, MAX_TOKENS, &where);
    stats.lines++;
    if (nt < 0 || rtok[0].type != J_OBJ) {
        stats.malformed++;
        char msg[96];
        kfmt_snprintf(msg, sizeof msg,
                      nt == JSON_ETOKENS ? "more than %u JSON tokens" :
                      nt == JSON_EDEPTH  ? "nested deeper than %u" :
                      nt < 0             ? "not JSON (byte %u)" : "not a JSON object",
                      nt == JSON_ETOKENS ? MAX_TOKENS : nt == JSON_EDEPTH ? JSON_MAX_DEPTH
                                                                          : (unsigned)where);
        send_reply(NULL, false, NULL, "parse", msg, 0);
        return;
    }
    int v = json_obj_get(line, rtok, 0, "v");
    int t_id = json_obj_get(line, rtok, 0, "id");
    bool have_id = t_id >= 0 && json_str(line, &rtok[t_id], id, sizeof id) > 0;
    uint64_t ver;
    if (v < 0 || !json_u64(line, &rtok[v], &ver) || ver != BRIDGE_VERSION) {
        stats.malformed++;
        send_reply(have_id ? id : NULL, false, NULL, "version",
                   "this kernel speaks protocol version 1 (\"v\":1)", 0);
        return;
    }
    if (!have_id) {
        stats.malformed++;
        send_reply(NULL, false, NULL, "bad_request", "id must be a string of 1..64 characters",
                   0);
        return;
    }
    int t_op = json_obj_get(line, rtok, 0, "op");
    if (t_op < 0 || json_str(line, &rtok[t_op], op, sizeof op) <= 0) {
        stats.malformed++;
        send_reply(id, false, NULL, "bad_request", "op must be a string", 0);
        return;
    }
    size_t k = 0;
    while (k < NOPS && strcmp(ops[k].name, op) != 0)
        k++;
    if (k == NOPS) {
        stats.malformed++;
        char msg[96];
        kfmt_snprintf(msg, sizeof msg, "unknown operation \"%s\" (see caps)", op);
        send_reply(id, false, NULL, "unknown_op", msg, 0);
        return;
    }
    int args = json_obj_get(line, rtok, 0, "args");
    if (args >= 0 && rtok[args].type != J_OBJ) {
        stats.malformed++;
        send_reply(id, false, NULL, "bad_request", "args must be an object", 0);
        return;
    }
    uint64_t deadline = 0;
    int dl = json_obj_get(line, rtok, 0, "deadline_ms");
    if (dl >= 0 && (!json_u64(line, &rtok[dl], &deadline) || deadline == 0 ||
                    deadline > 3600000)) {
        stats.malformed++;
        send_reply(id, false, NULL, "bad_request", "deadline_ms must be an integer 1..3600000",
                   0);
        return;
    }
    if (worker_busy) {
        stats.busy++;
        char msg[128];
        kfmt_snprintf(msg, sizeof msg, "another call is running (id %s)", slot.id);
        send_reply(id, false, NULL, "busy", msg, 0);
        return;
    }
    memcpy(slot.line, line, n);
    slot.line[n] = '\0';
    slot.len = n;
    memcpy(slot.tok, rtok, (size_t)nt * sizeof rtok[0]);
    memcpy(slot.id, id, sizeof id);
    slot.op = (int)k;
    slot.args = args;
    slot.deadline_ms = (uint32_t)deadline;
    uint64_t f = irq_save();
    worker_busy = true;
    sched_wakeup(&slot);
    irq_restore(f);
}

static void reader_main(void *unused)
{
    (void)unused;
    static char line[BRIDGE_LINE_MAX + 1];
    size_t n = 0;
    bool overflow = false;
    for (;;) {
        int c = serial_read(SERIAL_COM2);
        if (c != '\n') {
            if (n < BRIDGE_LINE_MAX)
                line[n++] = (char)c;
            else
                overflow = true;
            continue;
        }
        if (overflow) {
            stats.too_long++;
            char msg[96];
            kfmt_snprintf(msg, sizeof msg, "line longer than %u bytes, dropped", BRIDGE_LINE_MAX);
            send_reply(NULL, false, NULL, "too_long", msg, 0);
        } else {
            while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
                n--;
            if (n) {
                if (trace_bridge)
                    kprintf("Bridge: < %.*s\n", (int)(n > 200 ? 200 : n), line);
                handle_line(line, n);
            }
        }
        n = 0;
        overflow = false;
    }
}

void bridge_start(void)
{
    const char *tr = cmdline_get("auton.bridge_trace");
    trace_bridge = tr && tr[0] == '1';
    if (!sched_spawn("bridge-worker", worker_main, NULL) ||
        !sched_spawn("bridge-reader", reader_main, NULL)) {
        printk("Bridge: no memory for its threads: bridge disabled\n");
        return;
    }
    static char buf[512];
    struct jw w;
    const struct slm_abi_info *in = slm_model_info();
    jw_init(&w, buf, sizeof buf);
    jw_obj(&w);
    jw_key_u64(&w, "v", BRIDGE_VERSION);
    jw_key_str(&w, "event", "ready");
    jw_key_str(&w, "run_id", run_id());
    jw_key_str(&w, "backend", slm_backend_name(slm_get_backend()));
    jw_key(&w, "neural");
    jw_bool(&w, in != NULL);
    jw_key_str(&w, "model", in ? in->name : "");
    jw_end_obj(&w);
    if (jw_done(&w))
        write_line(buf, w.len);
    printk("Bridge: protocol v%u on COM2, ready\n", BRIDGE_VERSION);
}
