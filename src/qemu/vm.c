/*
 * vm.c - one AUTON kernel in QEMU, driven through its console (COM1, QEMU's
 * stdio) and, when asked, the kernel bridge (COM2, a Unix socket). Owns the
 * QEMU command line and the waits with deadlines; the process module owns
 * the child, the console module the parsing, the bridge client the protocol.
 */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bridge_client.h"

/* isa-debug-exit: the kernel writes v to port 0xf4, QEMU exits (v << 1) | 1. */
#define VM_EXIT_POWEROFF 1
#define VM_EXIT_TEST_FAILED 3
#define VM_EXIT_PANIC 5

#define VM_CONNECT_MS 10000 /* how long QEMU may take to create the bridge socket */
#define VM_PANIC_TAIL_MS 2000 /* after "KERNEL PANIC", the time to collect the rest */

struct aut_vm {
    uv_loop_t *loop;
    struct aut_proc *proc;
    struct aut_console *con;
    struct aut_bridge *bridge;
    char *run_id;
    char *bridge_sock;       /* QEMU's listening socket file, removed with the vm */
    bool bridge_on;
    uint32_t bridge_timeout_ms;
    struct aut_cancel *cancel;
    void (*on_line)(void *ud, const char *line);
    void *ud;
    uint64_t t0_ms;          /* the guest's start: after the bridge connected */
    bool exited;
    struct aut_proc_result exit;
    char stderr_tail[1024];  /* QEMU's own complaints, for error messages */
    size_t stderr_len;
    char line[AUT_CONSOLE_LINE_MAX]; /* the console line being assembled for on_line */
    size_t line_len;
    uv_timer_t timer;
    bool expired;
};

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static void set_err(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

/* ---- the command line ---------------------------------------------------- */

static int argv_push(char **argv, size_t *n, size_t cap, const char *fmt, ...)
{
    if (*n + 1 >= cap)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&argv[*n], fmt, ap);
    va_end(ap);
    if (rc < 0)
        return -1;
    (*n)++;
    return 0;
}

char **aut_vm_argv(const struct aut_vm_opts *o)
{
    if (!o->kernel || (o->arch && strcmp(o->arch, "x86_64")) || !o->accel ||
        (strcmp(o->accel, "kvm") && strcmp(o->accel, "tcg")))
        return NULL;
    size_t n = 0, cap = 40;
    char **argv = calloc(cap, sizeof *argv);
    if (!argv)
        return NULL;
    bool kvm = !strcmp(o->accel, "kvm");
    int bad = argv_push(argv, &n, cap, "%s", o->qemu ? o->qemu : "qemu-system-x86_64");
    bad |= argv_push(argv, &n, cap, "-kernel") | argv_push(argv, &n, cap, "%s", o->kernel);
    bad |= argv_push(argv, &n, cap, "-m") |
           argv_push(argv, &n, cap, "%uM", o->memory_mb ? o->memory_mb : 512);
    /* -display none -serial stdio: the spec's -nographic pair is refused by QEMU 7.2 */
    bad |= argv_push(argv, &n, cap, "-display") | argv_push(argv, &n, cap, "none");
    bad |= argv_push(argv, &n, cap, "-serial") | argv_push(argv, &n, cap, "stdio");
    bad |= argv_push(argv, &n, cap, "-no-reboot");
    bad |= argv_push(argv, &n, cap, "-device") |
           argv_push(argv, &n, cap, "isa-debug-exit,iobase=0xf4,iosize=0x04");
    /* the spec's 82574L (8086:10d3) at 00:03.0 */
    bad |= argv_push(argv, &n, cap, "-nic") | argv_push(argv, &n, cap, "none");
    bad |= argv_push(argv, &n, cap, "-device") | argv_push(argv, &n, cap, "e1000e");
    bad |= argv_push(argv, &n, cap, "-accel") | argv_push(argv, &n, cap, "%s", o->accel);
    /* PLATFORM.md: -cpu host aborts under this KVM without -arch-capabilities;
     * qboot brings the kernel up in ~0.1 s instead of SeaBIOS's ~4 s. */
    bad |= argv_push(argv, &n, cap, "-cpu") |
           argv_push(argv, &n, cap, "%s", kvm ? "host,-arch-capabilities" : "max");
    if (kvm && o->qboot && o->qboot[0])
        bad |= argv_push(argv, &n, cap, "-bios") | argv_push(argv, &n, cap, "%s", o->qboot);
    if (o->bridge) {
        bad |= argv_push(argv, &n, cap, "-chardev") |
               argv_push(argv, &n, cap, "socket,id=bridge,path=%s,server=on,wait=on",
                         o->bridge_sock ? o->bridge_sock : "");
        bad |= argv_push(argv, &n, cap, "-serial") | argv_push(argv, &n, cap, "chardev:bridge");
    }
    bad |= argv_push(argv, &n, cap, "-append") |
           argv_push(argv, &n, cap, "auton.run_id=%s%s%s%s", o->run_id ? o->run_id : "none",
                     o->bridge ? " auton.bridge=1" : "", o->append && o->append[0] ? " " : "",
                     o->append ? o->append : "");
    if (bad || (o->bridge && !o->bridge_sock)) {
        aut_vm_argv_free(argv);
        return NULL;
    }
    return argv;
}

void aut_vm_argv_free(char **argv)
{
    if (!argv)
        return;
    for (size_t i = 0; argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* ---- output ---------------------------------------------------------------- */

static void emit_lines(struct aut_vm *vm, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (c == '\n' || vm->line_len + 1 >= sizeof vm->line) {
            while (vm->line_len && vm->line[vm->line_len - 1] == '\r')
                vm->line_len--;
            vm->line[vm->line_len] = '\0';
            vm->on_line(vm->ud, vm->line);
            vm->line_len = 0;
            if (c == '\n')
                continue;
        }
        vm->line[vm->line_len++] = c;
    }
}

static void on_output(void *ud, int fd, const char *buf, size_t len)
{
    struct aut_vm *vm = ud;
    if (fd == 2) {
        size_t room = sizeof vm->stderr_tail - 1 - vm->stderr_len;
        if (len > room) { /* keep the start: QEMU's first complaint is the telling one */
            len = room;
        }
        memcpy(vm->stderr_tail + vm->stderr_len, buf, len);
        vm->stderr_len += len;
        vm->stderr_tail[vm->stderr_len] = '\0';
        return;
    }
    aut_console_feed(vm->con, buf, len, now_ms() - vm->t0_ms);
    if (vm->on_line)
        emit_lines(vm, buf, len);
}

static void on_exit_cb(void *ud, const struct aut_proc_result *res)
{
    struct aut_vm *vm = ud;
    vm->exited = true;
    vm->exit = *res;
}

/* ---- waiting ---------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    struct aut_vm *vm = t->data;
    vm->expired = true;
}

typedef bool (*vm_pred)(struct aut_vm *vm, void *arg);

/* Runs the loop until pred holds. Returns 0, -ETIMEDOUT, -EPIPE (QEMU
 * exited first) or -ECANCELED. pred is checked before the exit so that
 * everything QEMU printed before exiting counts. */
static int run_until(struct aut_vm *vm, vm_pred pred, void *arg, uint32_t timeout_ms)
{
    vm->expired = false;
    uv_timer_start(&vm->timer, on_timer, timeout_ms, 0);
    int rc = 0;
    for (;;) {
        if (pred(vm, arg))
            break;
        if (vm->exited) {
            rc = -EPIPE;
            break;
        }
        if (vm->cancel && aut_cancel_fired(vm->cancel)) {
            rc = -ECANCELED;
            break;
        }
        if (vm->expired) {
            rc = -ETIMEDOUT;
            break;
        }
        uv_run(vm->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&vm->timer);
    return rc;
}

static bool pred_never(struct aut_vm *vm, void *arg)
{
    return false;
}

/* ---- start ------------------------------------------------------------------ */

static int connect_bridge(struct aut_vm *vm, const struct aut_vm_opts *o, char *err,
                          size_t errlen)
{
    struct aut_bridge_opts bo;
    aut_bridge_opts_default(&bo);
    bo.socket_path = o->bridge_sock;
    if (o->bridge_timeout_ms)
        bo.timeout_ms = o->bridge_timeout_ms;
    bo.trace = bo.trace || o->bridge_trace;
    uint64_t until = now_ms() + VM_CONNECT_MS;
    for (;;) {
        int rc = aut_bridge_open(vm->loop, &bo, &vm->bridge);
        if (!rc)
            return 0;
        if ((rc != -ENOENT && rc != -ECONNREFUSED) || now_ms() > until) {
            set_err(err, errlen, "bridge: cannot connect to %s: %s", o->bridge_sock,
                    strerror(-rc));
            return rc;
        }
        /* QEMU creates the socket while it starts; meanwhile notice its exit */
        if (run_until(vm, pred_never, NULL, 20) == -EPIPE) {
            set_err(err, errlen, "QEMU exited (%s) before its bridge socket appeared: %s",
                    aut_proc_describe(&vm->exit, 0, (char[96]){0}, 96), vm->stderr_tail);
            return -EPIPE;
        }
    }
}

static int vm_spawn(struct aut_vm *vm, const struct aut_vm_opts *o, char *err, size_t errlen)
{
    char **argv = aut_vm_argv(o);
    if (!argv) {
        set_err(err, errlen, "cannot build a QEMU command line for arch %s, accel %s",
                o->arch ? o->arch : "x86_64", o->accel ? o->accel : "(none)");
        return -EINVAL;
    }
    if (o->bridge) {
        unlink(o->bridge_sock); /* a stale socket from a killed run */
        free(vm->bridge_sock);
        vm->bridge_sock = strdup(o->bridge_sock);
    }
    struct aut_proc_opts po = {
        .argv = (const char *const *)argv,
        .log_path = o->console_log,
        .deadline_ms = o->deadline_ms,
        .stdin_pipe = true,
        .cancel = o->cancel,
        .on_output = on_output,
        .on_exit = on_exit_cb,
        .ud = vm,
    };
    vm->t0_ms = now_ms();
    int rc = aut_proc_spawn(vm->loop, &po, &vm->proc);
    if (rc)
        set_err(err, errlen, "cannot start %s: %s", argv[0], strerror(-rc));
    aut_vm_argv_free(argv);
    return rc;
}

int aut_vm_start(uv_loop_t *loop, const struct aut_vm_opts *o, struct aut_vm **out, char *err,
                 size_t errlen)
{
    if (!o->deadline_ms) {
        set_err(err, errlen, "QEMU needs a deadline");
        return -EINVAL;
    }
    struct aut_vm *vm = calloc(1, sizeof *vm);
    if (!vm || !(vm->con = aut_console_new()) ||
        !(vm->run_id = strdup(o->run_id ? o->run_id : ""))) {
        if (vm)
            aut_console_free(vm->con);
        free(vm);
        set_err(err, errlen, "out of memory");
        return -ENOMEM;
    }
    vm->loop = loop;
    vm->bridge_on = o->bridge;
    vm->bridge_timeout_ms = o->bridge_timeout_ms;
    vm->cancel = o->cancel;
    vm->on_line = o->on_line;
    vm->ud = o->ud;
    uv_timer_init(loop, &vm->timer);
    vm->timer.data = vm;
    int rc = vm_spawn(vm, o, err, errlen);
    if (!rc && o->bridge)
        rc = connect_bridge(vm, o, err, errlen);
    if (rc) {
        aut_vm_free(vm);
        return rc;
    }
    vm->t0_ms = now_ms(); /* with wait=on the guest starts once the bridge is connected */
    *out = vm;
    return 0;
}

/* ---- boot ------------------------------------------------------------------- */

static bool pred_booted(struct aut_vm *vm, void *arg)
{
    const struct aut_boot_info *bi = aut_console_boot(vm->con);
    return bi->prompt || bi->panic;
}

static void boot_fail(struct aut_vm_boot *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->why, sizeof b->why, fmt, ap);
    va_end(ap);
    b->ok = false;
}

/* A panic: collect the rest of its text (the kernel powers off after it). */
static void boot_panicked(struct aut_vm *vm, struct aut_vm_boot *b)
{
    run_until(vm, pred_never, NULL, VM_PANIC_TAIL_MS);
    const char *text = aut_console_panic_text(vm->con);
    b->panic = true;
    b->panic_text = strdup(text ? text : "KERNEL PANIC");
    char first[300];
    snprintf(first, sizeof first, "%s", b->panic_text ? b->panic_text : "KERNEL PANIC");
    first[strcspn(first, "\n")] = '\0';
    boot_fail(b, "kernel panic: %s", first);
}

static int boot_check_bridge(struct aut_vm *vm, uint32_t left_ms, struct aut_vm_boot *b)
{
    cJSON *ev = NULL;
    int rc = aut_bridge_wait_event(vm->bridge, "ready", left_ms ? left_ms : 1, &ev);
    if (rc) {
        boot_fail(b, "the bridge's ready event did not come (%s)",
                  rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
        return -1;
    }
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(ev, "run_id");
    if (vm->run_id[0] && (!cJSON_IsString(rid) || strcmp(rid->valuestring, vm->run_id))) {
        boot_fail(b, "run id mismatch on the bridge: '%s', expected '%s' (a stale kernel image?)",
                  cJSON_IsString(rid) ? rid->valuestring : "", vm->run_id);
        cJSON_Delete(ev);
        return -1;
    }
    cJSON_Delete(ev);
    return 0;
}

int aut_vm_wait_boot(struct aut_vm *vm, uint32_t timeout_ms, struct aut_vm_boot *b)
{
    memset(b, 0, sizeof *b);
    b->kernel_ready_s = -1;
    uint64_t start = now_ms();
    int rc = run_until(vm, pred_booted, NULL, timeout_ms);
    const struct aut_boot_info *bi = aut_console_boot(vm->con);
    b->kernel_ready_s = bi->system_ready ? bi->ready_ts : -1;
    if (bi->panic)
        boot_panicked(vm, b);
    else if (rc == -EPIPE)
        boot_fail(b, "QEMU exited (%s) before the prompt%s%s",
                  aut_proc_describe(&vm->exit, 0, (char[96]){0}, 96),
                  vm->stderr_len ? ": " : "", vm->stderr_tail);
    else if (rc == -ETIMEDOUT)
        boot_fail(b, "no prompt within %u ms (last console line: %.200s)", timeout_ms,
                  bi->lines ? "see the console log" : "none at all");
    else if (rc == -ECANCELED)
        boot_fail(b, "canceled");
    else if (vm->run_id[0] && strcmp(bi->run_id, vm->run_id))
        boot_fail(b, "run id mismatch on the console: '%s', expected '%s' (a stale kernel image?)",
                  bi->run_id, vm->run_id);
    else {
        b->ok = true;
        b->boot_ms = bi->prompt_host_ms;
        uint64_t spent = now_ms() - start;
        if (vm->bridge_on && boot_check_bridge(vm, spent < timeout_ms ? timeout_ms - spent : 1, b))
            b->ok = false;
    }
    b->exited = vm->exited;
    b->exit = vm->exit;
    return b->ok ? 0 : -1;
}

void aut_vm_boot_release(struct aut_vm_boot *b)
{
    free(b->panic_text);
    b->panic_text = NULL;
}

const struct aut_boot_info *aut_vm_boot_info(const struct aut_vm *vm)
{
    return aut_console_boot(vm->con);
}

struct aut_console *aut_vm_console(struct aut_vm *vm)
{
    return vm->con;
}

bool aut_vm_bridge_on(const struct aut_vm *vm)
{
    return vm->bridge_on;
}

struct aut_bridge *aut_vm_bridge(struct aut_vm *vm)
{
    return vm->bridge;
}

/* ---- console commands ------------------------------------------------------- */

static bool pred_prompt_after(struct aut_vm *vm, void *arg)
{
    return aut_console_prompts(vm->con) > *(uint64_t *)arg || aut_console_boot(vm->con)->panic;
}

static const char *wait_errstr(int rc)
{
    switch (rc) {
    case -ETIMEDOUT: return "timed out";
    case -EPIPE: return "QEMU exited";
    case -ECANCELED: return "canceled";
    default: return strerror(-rc);
    }
}

int aut_vm_command(struct aut_vm *vm, const char *line, uint32_t timeout_ms, char **out,
                   char *err, size_t errlen)
{
    *out = NULL;
    if (strchr(line, '\n')) {
        set_err(err, errlen, "a console command is one line");
        return -EINVAL;
    }
    uint64_t before = aut_console_prompts(vm->con);
    aut_console_mark(vm->con);
    int rc = aut_proc_write(vm->proc, line, strlen(line));
    if (!rc)
        rc = aut_proc_write(vm->proc, "\n", 1);
    if (!rc)
        rc = run_until(vm, pred_prompt_after, &before, timeout_ms);
    if (!rc && aut_console_boot(vm->con)->panic)
        rc = -EPIPE;
    if (rc) {
        set_err(err, errlen, "console command '%.80s': %s", line,
                aut_console_boot(vm->con)->panic ? "kernel panic" : wait_errstr(rc));
        return rc;
    }
    *out = aut_console_since_mark(vm->con);
    return *out ? 0 : -ENOMEM;
}

/* ---- SLM queries -------------------------------------------------------------- */

static void copy_str(char *dst, size_t len, const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    snprintf(dst, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static double num(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int bridge_call(struct aut_vm *vm, const char *op, cJSON *args, uint32_t timeout_ms,
                       struct aut_bridge_reply *rep, char *err, size_t errlen)
{
    int rc = aut_bridge_call_sync(vm->bridge, op, args, timeout_ms, rep);
    if (rc || rep->status != AUT_BRIDGE_OK) {
        set_err(err, errlen, "bridge %s: %s: %s", op, rep->code[0] ? rep->code : "failed",
                rep->message);
        aut_bridge_reply_free(rep);
        return rep->status == AUT_BRIDGE_TIMEOUT ? -ETIMEDOUT : -EIO;
    }
    return 0;
}

static int query_bridge(struct aut_vm *vm, const char *prompt, unsigned max_tokens,
                        uint32_t timeout_ms, struct aut_query_result *r, char *err, size_t errlen)
{
    cJSON *args = cJSON_CreateObject();
    if (!args || !cJSON_AddStringToObject(args, "prompt", prompt) ||
        !cJSON_AddNumberToObject(args, "max_tokens", max_tokens)) {
        cJSON_Delete(args);
        return -ENOMEM;
    }
    struct aut_bridge_reply rep;
    int rc = bridge_call(vm, "slm.query", args, timeout_ms, &rep, err, errlen);
    cJSON_Delete(args);
    if (rc)
        return rc;
    const cJSON *res = rep.result;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(res, "text");
    r->output = strdup(cJSON_IsString(text) ? text->valuestring : "");
    r->tokens = (uint32_t)num(res, "tokens");
    r->ms = rep.ms;
    r->tok_s = num(res, "tok_s");
    r->pool_used = (uint64_t)num(res, "pool_used");
    r->pool_peak = (uint64_t)num(res, "pool_peak");
    copy_str(r->backend, sizeof r->backend, res, "backend");
    aut_bridge_reply_free(&rep);
    return r->output ? 0 : -ENOMEM;
}

static int query_console(struct aut_vm *vm, const char *prompt, unsigned max_tokens,
                         uint32_t timeout_ms, struct aut_query_result *r, char *err,
                         size_t errlen)
{
    if (strpbrk(prompt, "\"\n\r")) {
        set_err(err, errlen, "the console cannot carry a prompt with quotes or newlines: %.80s",
                prompt);
        return -EINVAL;
    }
    char *cmd = NULL, *out = NULL;
    if (asprintf(&cmd, "slm query -n %u \"%s\"", max_tokens, prompt) < 0)
        return -ENOMEM;
    int rc = aut_vm_command(vm, cmd, timeout_ms, &out, err, errlen);
    free(cmd);
    if (rc)
        return rc;
    char why[256];
    if (aut_console_parse_query(out, r, why, sizeof why)) {
        set_err(err, errlen, "console slm query: %s", why);
        rc = -EPROTO;
    }
    free(out);
    return rc;
}

int aut_vm_query(struct aut_vm *vm, const char *prompt, unsigned max_tokens, uint32_t timeout_ms,
                 struct aut_query_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (vm->bridge_on)
        return query_bridge(vm, prompt, max_tokens, timeout_ms, r, err, errlen);
    return query_console(vm, prompt, max_tokens, timeout_ms, r, err, errlen);
}

/* ---- selftests and power-off ------------------------------------------------ */

static int selftest_bridge(struct aut_vm *vm, uint32_t timeout_ms, struct aut_selftest_result *r,
                           char *err, size_t errlen)
{
    struct aut_bridge_reply rep;
    int rc = bridge_call(vm, "selftest.run", NULL, timeout_ms, &rep, err, errlen);
    if (rc)
        return rc;
    const cJSON *t, *results = cJSON_GetObjectItemCaseSensitive(rep.result, "results");
    cJSON_ArrayForEach(t, results)
    {
        if (r->n == AUT_SELFTEST_MAX)
            break;
        copy_str(r->test[r->n].name, sizeof r->test[r->n].name, t, "name");
        copy_str(r->test[r->n].detail, sizeof r->test[r->n].detail, t, "detail");
        r->test[r->n].pass = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "ok"));
        r->n++;
    }
    r->summary = true;
    r->passed = (unsigned)num(rep.result, "passed");
    r->failed = (unsigned)num(rep.result, "failed");
    aut_bridge_reply_free(&rep);
    return 0;
}

int aut_vm_selftest(struct aut_vm *vm, uint32_t timeout_ms, struct aut_selftest_result *r,
                    char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (vm->bridge_on)
        return selftest_bridge(vm, timeout_ms, r, err, errlen);
    char *out = NULL, why[256];
    int rc = aut_vm_command(vm, "selftest", timeout_ms, &out, err, errlen);
    if (rc)
        return rc;
    if (aut_console_parse_selftest(out, r, why, sizeof why)) {
        set_err(err, errlen, "console selftest: %s", why);
        rc = -EPROTO;
    }
    free(out);
    return rc;
}

static bool pred_exited(struct aut_vm *vm, void *arg)
{
    return vm->exited;
}

int aut_vm_poweroff(struct aut_vm *vm, uint32_t timeout_ms, char *err, size_t errlen)
{
    if (!vm->exited) {
        int rc;
        if (vm->bridge_on) {
            struct aut_bridge_reply rep;
            rc = bridge_call(vm, "power.off", NULL, timeout_ms, &rep, err, errlen);
            if (!rc)
                aut_bridge_reply_free(&rep);
        } else {
            rc = aut_proc_write(vm->proc, "poweroff\n", 9);
        }
        if (!rc)
            rc = run_until(vm, pred_exited, NULL, timeout_ms);
        if (rc && !vm->exited) {
            set_err(err, errlen, "power off: %s", wait_errstr(rc));
            return rc;
        }
    }
    if (vm->exit.status != VM_EXIT_POWEROFF) {
        set_err(err, errlen, "power off: QEMU ended with %s, not the power-off status %d",
                aut_proc_describe(&vm->exit, 0, (char[96]){0}, 96), VM_EXIT_POWEROFF);
        return -EIO;
    }
    return 0;
}

static void on_timer_close(uv_handle_t *h)
{
    free(h->data);
}

void aut_vm_free(struct aut_vm *vm)
{
    if (!vm)
        return;
    aut_bridge_close(vm->bridge);
    if (vm->proc)
        aut_proc_free(vm->proc);
    aut_console_free(vm->con);
    free(vm->run_id);
    if (vm->bridge_sock) /* QEMU is gone: nobody listens there any more */
        unlink(vm->bridge_sock);
    free(vm->bridge_sock);
    /* the vm lives until its timer handle has closed */
    uv_timer_stop(&vm->timer);
    vm->timer.data = vm;
    uv_close((uv_handle_t *)&vm->timer, on_timer_close);
}

/* ---- QEMU facts ------------------------------------------------------------- */

struct capture {
    char buf[256];
    size_t len;
};

static void capture_out(void *ud, int fd, const char *buf, size_t len)
{
    struct capture *c = ud;
    size_t room = sizeof c->buf - 1 - c->len;
    len = len < room ? len : room;
    memcpy(c->buf + c->len, buf, len);
    c->len += len;
    c->buf[c->len] = '\0';
}

int aut_vm_qemu_version(const char *qemu, char *buf, size_t len)
{
    const char *argv[] = {qemu ? qemu : "qemu-system-x86_64", "--version", NULL};
    struct capture c = {0};
    struct aut_proc_opts po = {.argv = argv, .deadline_ms = 10000, .on_output = capture_out,
                               .ud = &c};
    struct aut_proc_result res;
    int rc = aut_proc_run(&po, &res);
    if (rc)
        return rc;
    if (res.status != 0)
        return -EIO;
    c.buf[strcspn(c.buf, "\n")] = '\0';
    snprintf(buf, len, "%s", c.buf);
    return 0;
}

/* Boots kernel under KVM to the prompt on a private loop. */
static int probe_kvm_boot(const char *qemu, const char *kernel, const char *qboot, char *why,
                          size_t whylen)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop))
        return -ENOMEM;
    struct aut_vm_opts o = {.qemu = qemu, .kernel = kernel, .accel = "kvm", .qboot = qboot,
                            .run_id = "kvm-probe", .deadline_ms = 30000};
    struct aut_vm *vm = NULL;
    int rc = aut_vm_start(&loop, &o, &vm, why, whylen);
    if (!rc) {
        struct aut_vm_boot b;
        rc = aut_vm_wait_boot(vm, 20000, &b);
        if (rc)
            snprintf(why, whylen, "a probe boot under KVM failed: %s", b.why);
        aut_vm_boot_release(&b);
        aut_vm_free(vm);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc;
}

int aut_vm_pick_accel(const char *pref, const char *qemu, const char *kernel, const char *qboot,
                      char accel[8], char *why, size_t whylen)
{
    snprintf(why, whylen, "%s", "");
    if (!strcmp(pref, "tcg")) {
        snprintf(accel, 8, "tcg");
        snprintf(why, whylen, "TCG asked for by the configuration");
        return 0;
    }
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    int rc = 0;
    if (fd < 0) {
        rc = -errno;
        snprintf(why, whylen, "/dev/kvm: %s", strerror(errno));
    } else {
        close(fd);
        rc = probe_kvm_boot(qemu, kernel, qboot, why, whylen);
    }
    snprintf(accel, 8, "%s", rc ? "tcg" : "kvm");
    return rc && !strcmp(pref, "kvm") ? rc : 0;
}
