/*
 * process.c - child processes (see process.h): uv_spawn in a process group
 * of its own, output to a log file and a callback, stdin as a pipe, the
 * deadline, the cancel token, and the exit status in the shell's convention.
 *
 * Memory and handle lifetimes. Every libuv handle a child uses (the process,
 * the stdout/stderr/stdin pipes, one timer) is embedded in struct aut_proc
 * and counted in nopen; the struct is freed by the close callback that
 * brings nopen to 0, and only once aut_proc_free has been called (freed).
 * So aut_proc_free usually returns before the memory goes: the loop has to
 * run once more for the close callbacks, and it may be called from inside
 * the child's own callbacks (on_output, on_exit), because libuv never runs a
 * close callback from inside uv_close. Queued stdin writes live in
 * allocations of their own, freed by their write callbacks.
 *
 * Reaping in aut_proc_free. A running child is SIGKILLed and reaped with
 * waitpid(2) right there instead of by running the loop: uv_run must not be
 * called from a callback of the same loop, and aut_proc_free is meant to be
 * callable from any of them. The process handle is closed afterwards, which
 * takes it off libuv's list of children, so libuv never waits for it again.
 *
 * SIGPIPE. libuv writes to the stdin pipe (a socketpair) with write(2): a
 * child that has closed its stdin makes that raise SIGPIPE, which would end
 * the whole program. Programs using stdin_pipe must ignore SIGPIPE (libuv's
 * own advice); this module does not change process-wide signal handling.
 */
#include "process.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define EOF_GRACE_MS 2000  /* how long EOF is awaited once the child has exited */
#define PGID_RESERVED (-1) /* a token slot taken by a child being spawned */

enum stdin_state { STDIN_NONE, STDIN_OPEN, STDIN_CLOSED };

struct wreq {
    uv_write_t req; /* first: the write callback frees the wreq through it */
    char data[];
};

struct aut_proc {
    uv_process_t proc;
    uv_pipe_t out, err, in;
    uv_timer_t timer;          /* the deadline while the child runs, then the EOF grace */
    uv_shutdown_t shutdown;    /* aut_proc_close_stdin: flush queued writes, then close */
    int nopen;                 /* handles initialised whose close callback has not run */
    int log_fd;                /* -1: no log */
    struct aut_cancel *cancel; /* NULL, or the token holding pgid in cancel_slot */
    int cancel_slot;
    bool merge_stderr;
    void (*on_output)(void *ud, int fd, const char *buf, size_t len);
    void (*on_exit)(void *ud, const struct aut_proc_result *res);
    void *ud;
    uint64_t start_ns;
    struct aut_proc_result res;
    enum stdin_state stdin_state;
    bool child_exited; /* reaped (by libuv, or by aut_proc_free); res holds its status */
    bool out_done;     /* stdout reached EOF (or was given up on) and is closing */
    bool err_done;
    bool reported;         /* on_exit has run (or would have, after free); all handles closing */
    bool freed;            /* aut_proc_free was called: no user callbacks, free on last close */
    char rbuf[READ_CHUNK]; /* shared by both pipes: libuv reads them one at a time */
};

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ---- the cancel token ------------------------------------------------- */

void aut_cancel_init(struct aut_cancel *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
}

void aut_cancel_destroy(struct aut_cancel *c)
{
    pthread_mutex_destroy(&c->mu);
}

void aut_cancel_fire(struct aut_cancel *c, const char *reason)
{
    pthread_mutex_lock(&c->mu);
    if (!c->fired) {
        c->fired = true;
        copy_str(c->reason, sizeof c->reason, reason ? reason : "");
    }
    /* Under the mutex, so that no slot is released (and its pgid possibly
     * reused by an unrelated group) between reading it and killing it. A
     * reserved slot (<= 0) has no process yet: its spawner checks fired. */
    for (int i = 0; i < AUT_CANCEL_MAX_PIDS; i++)
        if (c->pgids[i] > 0)
            kill(-c->pgids[i], SIGKILL);
    pthread_mutex_unlock(&c->mu);
}

bool aut_cancel_fired(struct aut_cancel *c)
{
    pthread_mutex_lock(&c->mu);
    bool fired = c->fired;
    pthread_mutex_unlock(&c->mu);
    return fired;
}

/* Takes a slot before the child exists, so that a full or fired token stops
 * the spawn before anything is started. */
static int cancel_reserve(struct aut_cancel *c, int *slot)
{
    int rc = -EMFILE;
    pthread_mutex_lock(&c->mu);
    if (c->fired) {
        rc = -ECANCELED;
    } else {
        for (int i = 0; i < AUT_CANCEL_MAX_PIDS; i++) {
            if (c->pgids[i] == 0) {
                c->pgids[i] = PGID_RESERVED;
                *slot = i;
                rc = 0;
                break;
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Puts the new child's group into its reserved slot (or frees the slot with
 * pgid 0). A token fired while uv_spawn ran could not see the child: it is
 * killed here instead. */
static void cancel_commit(struct aut_cancel *c, int slot, pid_t pgid)
{
    pthread_mutex_lock(&c->mu);
    c->pgids[slot] = pgid;
    if (pgid > 0 && c->fired)
        kill(-pgid, SIGKILL);
    pthread_mutex_unlock(&c->mu);
}

/* At exit: the group must leave the token before its pgid can be reused. */
static void cancel_release(struct aut_proc *p)
{
    struct aut_cancel *c = p->cancel;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    p->res.canceled = c->fired;
    c->pgids[p->cancel_slot] = 0;
    pthread_mutex_unlock(&c->mu);
    p->cancel = NULL;
}

/* ---- handles and teardown --------------------------------------------- */

static void close_cb(uv_handle_t *h)
{
    struct aut_proc *p = h->data;
    if (--p->nopen == 0 && p->freed)
        free(p);
}

/* Idempotent; skips handles never initialised (p is zeroed, so loop is NULL). */
static void close_handle(uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h))
        uv_close(h, close_cb);
}

static void close_all(struct aut_proc *p)
{
    close_handle((uv_handle_t *)&p->proc);
    close_handle((uv_handle_t *)&p->out);
    close_handle((uv_handle_t *)&p->err);
    close_handle((uv_handle_t *)&p->in);
    close_handle((uv_handle_t *)&p->timer);
    p->out_done = p->err_done = true;
    if (p->stdin_state == STDIN_OPEN)
        p->stdin_state = STDIN_CLOSED;
    if (p->log_fd >= 0) {
        close(p->log_fd);
        p->log_fd = -1;
    }
}

static void record_exit(struct aut_proc *p, int exit_status, int term_signal)
{
    p->res.ms = (uv_hrtime() - p->start_ns) / 1000000u;
    p->res.term_signal = term_signal;
    p->res.status = term_signal ? 128 + term_signal : exit_status;
    p->child_exited = true;
    cancel_release(p);
}

/* on_exit waits for the exit status and both EOFs, so that it comes after
 * the last byte of output. */
static void maybe_report(struct aut_proc *p)
{
    if (p->reported || !p->child_exited || !p->out_done || !p->err_done)
        return;
    p->reported = true;
    close_all(p);
    if (p->on_exit && !p->freed)
        p->on_exit(p->ud, &p->res); /* may free p: its memory outlives this call */
}

/* ---- output ----------------------------------------------------------- */

static void log_append(struct aut_proc *p, const char *buf, size_t n)
{
    while (p->log_fd >= 0 && n > 0) {
        ssize_t w = write(p->log_fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a full disk costs log text, never the output handed to on_output */
        buf += w;
        n -= (size_t)w;
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct aut_proc *p = h->data;
    buf->base = p->rbuf;
    buf->len = sizeof p->rbuf;
}

static void stream_done(struct aut_proc *p, bool *done, uv_handle_t *h)
{
    if (*done)
        return;
    *done = true;
    close_handle(h);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct aut_proc *p = s->data;
    bool is_err = s == (uv_stream_t *)&p->err;
    if (n == 0)
        return; /* EAGAIN */
    if (n > 0) {
        log_append(p, buf->base, (size_t)n);
        if (p->on_output && !p->freed)
            p->on_output(p->ud, is_err && !p->merge_stderr ? 2 : 1, buf->base, (size_t)n);
        return;
    }
    /* EOF, or a read error, which ends the stream just the same */
    stream_done(p, is_err ? &p->err_done : &p->out_done, (uv_handle_t *)s);
    maybe_report(p);
}

/* ---- exit, deadline, grace -------------------------------------------- */

static void grace_cb(uv_timer_t *t)
{
    struct aut_proc *p = t->data;
    /* Something the child started still holds the pipes: stop waiting for it. */
    stream_done(p, &p->out_done, (uv_handle_t *)&p->out);
    stream_done(p, &p->err_done, (uv_handle_t *)&p->err);
    maybe_report(p);
}

static void exit_cb(uv_process_t *h, int64_t exit_status, int term_signal)
{
    struct aut_proc *p = h->data;
    /* Already reaped by aut_proc_free: possible when libuv had collected the
     * status and queued this call before the free. */
    if (p->child_exited)
        return;
    record_exit(p, (int)exit_status, term_signal);
    uv_timer_stop(&p->timer);
    if (!p->out_done || !p->err_done) {
        uv_update_time(h->loop);
        uv_timer_start(&p->timer, grace_cb, EOF_GRACE_MS, 0);
    }
    maybe_report(p);
}

static void deadline_cb(uv_timer_t *t)
{
    struct aut_proc *p = t->data;
    if (p->child_exited)
        return;
    p->res.timed_out = true;
    kill(-p->res.pid, SIGKILL); /* the group: make's compilers die with make */
}

/* ---- spawning --------------------------------------------------------- */

static int init_handles(uv_loop_t *loop, struct aut_proc *p, bool stdin_pipe)
{
    uv_pipe_t *pipes[] = {&p->out, &p->err, &p->in};
    size_t npipes = stdin_pipe ? 3 : 2;
    int rc = uv_timer_init(loop, &p->timer);
    if (rc < 0)
        return rc;
    p->timer.data = p;
    p->nopen++;
    for (size_t i = 0; i < npipes; i++) {
        rc = uv_pipe_init(loop, pipes[i], 0);
        if (rc < 0)
            return rc;
        pipes[i]->data = p;
        p->nopen++;
    }
    return 0;
}

static int start_child(uv_loop_t *loop, struct aut_proc *p, const struct aut_proc_opts *o)
{
    uv_stdio_container_t stdio[3];
    memset(stdio, 0, sizeof stdio);
    if (o->stdin_pipe) {
        stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE; /* readable by the child */
        stdio[0].data.stream = (uv_stream_t *)&p->in;
    } else {
        stdio[0].flags = UV_IGNORE; /* libuv opens /dev/null for fds 0-2 */
    }
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&p->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&p->err;

    uv_process_options_t po;
    memset(&po, 0, sizeof po);
    po.exit_cb = exit_cb;
    po.file = o->argv[0];
    po.args = (char **)o->argv;
    po.env = (char **)o->env;
    po.cwd = o->cwd;
    po.flags = UV_PROCESS_DETACHED; /* setsid(): its own group, pgid == pid */
    po.stdio_count = 3;
    po.stdio = stdio;

    p->proc.data = p;
    p->start_ns = uv_hrtime();
    int rc = uv_spawn(loop, &p->proc, &po);
    p->nopen++; /* uv_spawn initialises the handle even when it fails */
    if (rc == 0)
        p->res.pid = p->proc.pid;
    return rc;
}

/* The child runs: read its output and arm the deadline. */
static int watch_child(uv_loop_t *loop, struct aut_proc *p, uint32_t deadline_ms)
{
    int rc = uv_read_start((uv_stream_t *)&p->out, alloc_cb, read_cb);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&p->err, alloc_cb, read_cb);
    if (rc < 0)
        return rc;
    if (deadline_ms) {
        uv_update_time(loop); /* "now" is stale when the loop has been idle */
        uv_timer_start(&p->timer, deadline_cb, deadline_ms, 0);
    }
    return 0;
}

int aut_proc_spawn(uv_loop_t *loop, const struct aut_proc_opts *o, struct aut_proc **out)
{
    if (!loop || !o || !o->argv || !o->argv[0] || !out)
        return -EINVAL;
    int slot = -1, rc;
    if (o->cancel && (rc = cancel_reserve(o->cancel, &slot)) < 0)
        return rc;
    struct aut_proc *p = calloc(1, sizeof *p);
    if (!p) {
        rc = -ENOMEM;
        goto fail;
    }
    p->log_fd = -1;
    p->merge_stderr = o->merge_stderr;
    p->on_output = o->on_output;
    p->on_exit = o->on_exit;
    p->ud = o->ud;
    p->res.status = -1;
    if (o->log_path) {
        p->log_fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (p->log_fd < 0) {
            rc = -errno;
            free(p);
            goto fail;
        }
    }
    rc = init_handles(loop, p, o->stdin_pipe);
    if (rc == 0)
        rc = start_child(loop, p, o);
    if (rc < 0) {
        p->child_exited = true; /* nothing to reap: libuv reaps a failed exec */
        aut_proc_free(p);       /* the handles close on the caller's loop */
        goto fail;
    }
    p->stdin_state = o->stdin_pipe ? STDIN_OPEN : STDIN_NONE;
    if (o->cancel) {
        cancel_commit(o->cancel, slot, p->res.pid);
        p->cancel = o->cancel;
        p->cancel_slot = slot;
    }
    rc = watch_child(loop, p, o->deadline_ms);
    if (rc < 0) {
        aut_proc_free(p); /* kills, reaps and releases the slot */
        return rc;
    }
    *out = p;
    return 0;
fail:
    if (slot >= 0)
        cancel_commit(o->cancel, slot, 0);
    return rc;
}

/* ---- stdin ------------------------------------------------------------ */

static void write_cb(uv_write_t *req, int status)
{
    /* A failed write (the child closed its stdin) is not reported: the
     * child's exit says more. */
    free(req);
}

int aut_proc_write(struct aut_proc *p, const void *buf, size_t len)
{
    if (!p || (!buf && len))
        return -EINVAL;
    if (p->stdin_state == STDIN_NONE)
        return -EINVAL;
    if (p->stdin_state != STDIN_OPEN || p->child_exited || p->freed)
        return -EPIPE;
    if (len == 0)
        return 0;
    struct wreq *w = malloc(sizeof *w + len);
    if (!w)
        return -ENOMEM;
    memcpy(w->data, buf, len);
    uv_buf_t b;
    b.base = w->data;
    b.len = len;
    int rc = uv_write(&w->req, (uv_stream_t *)&p->in, &b, 1, write_cb);
    if (rc < 0) {
        free(w);
        return rc == UV_EBADF || rc == UV_ENOTCONN ? -EPIPE : rc;
    }
    return 0;
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    struct aut_proc *p = req->data;
    /* Closing the fd, not just shutdown(2), is what guarantees the EOF. */
    close_handle((uv_handle_t *)&p->in);
}

void aut_proc_close_stdin(struct aut_proc *p)
{
    if (!p || p->stdin_state != STDIN_OPEN)
        return;
    p->stdin_state = STDIN_CLOSED;
    /* A shutdown request goes after the queued writes, so none is lost. */
    p->shutdown.data = p;
    if (uv_shutdown(&p->shutdown, (uv_stream_t *)&p->in, shutdown_cb) < 0)
        close_handle((uv_handle_t *)&p->in);
}

/* ---- the rest of the interface ---------------------------------------- */

void aut_proc_kill(struct aut_proc *p, int sig)
{
    /* Once reaped, the pgid may belong to someone else. */
    if (p && !p->child_exited)
        kill(-p->res.pid, sig);
}

bool aut_proc_exited(const struct aut_proc *p)
{
    return p && p->reported;
}

const struct aut_proc_result *aut_proc_result(const struct aut_proc *p)
{
    return p ? &p->res : NULL;
}

pid_t aut_proc_pid(const struct aut_proc *p)
{
    return p ? p->res.pid : 0;
}

/* SIGKILLs the group and waits for the child itself (see the top of the file
 * for why not through the loop). */
static void reap_now(struct aut_proc *p)
{
    kill(-p->res.pid, SIGKILL);
    int st = 0;
    pid_t r;
    do
        r = waitpid(p->res.pid, &st, 0);
    while (r < 0 && errno == EINTR);
    if (r == p->res.pid && WIFSIGNALED(st))
        record_exit(p, 0, WTERMSIG(st));
    else if (r == p->res.pid && WIFEXITED(st))
        record_exit(p, WEXITSTATUS(st), 0);
    else
        record_exit(p, -1, 0); /* ECHILD: libuv has it, its exit_cb is queued */
}

void aut_proc_free(struct aut_proc *p)
{
    if (!p || p->freed)
        return;
    p->freed = true;
    if (!p->child_exited)
        reap_now(p);
    close_all(p);
    if (p->nopen == 0)
        free(p); /* everything was closed and its callbacks have run */
}

int aut_proc_run(const struct aut_proc_opts *o, struct aut_proc_result *res)
{
    if (!res)
        return -EINVAL;
    memset(res, 0, sizeof *res);
    res->status = -1;
    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc < 0)
        return rc;
    struct aut_proc *p = NULL;
    rc = aut_proc_spawn(&loop, o, &p);
    if (rc == 0) {
        aut_proc_close_stdin(p); /* nobody could write to it: EOF, as /dev/null gives */
        /* The process, its pipes and the grace timer keep the loop alive
         * until on_exit has run and every handle is closing. */
        uv_run(&loop, UV_RUN_DEFAULT);
        *res = p->res;
        aut_proc_free(p);
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* the close callbacks, which free p */
    uv_loop_close(&loop);
    return rc;
}

/* ---- describing a result ---------------------------------------------- */

static void signal_name(int sig, char *buf, size_t len)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
        {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
        {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
        {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGXCPU, "SIGXCPU"},
        {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].sig == sig) {
            snprintf(buf, len, "%s", names[i].name);
            return;
        }
    }
    snprintf(buf, len, "signal %d", sig);
}

const char *aut_proc_describe(const struct aut_proc_result *r, uint32_t deadline_ms, char *buf,
                              size_t len)
{
    if (!buf || len == 0)
        return buf;
    if (!r || r->status < 0) {
        snprintf(buf, len, "not started");
        return buf;
    }
    char what[48], sig[24];
    if (r->term_signal) {
        signal_name(r->term_signal, sig, sizeof sig);
        snprintf(what, sizeof what, "killed by %s", sig);
    } else {
        snprintf(what, sizeof what, "exit %d", r->status);
    }
    char deadline[48] = "";
    if (r->timed_out && deadline_ms)
        snprintf(deadline, sizeof deadline, "deadline %u ms passed", (unsigned)deadline_ms);
    else if (r->timed_out)
        snprintf(deadline, sizeof deadline, "deadline passed");
    const char *cancel = r->canceled ? "canceled" : "";
    if (!*deadline && !*cancel)
        snprintf(buf, len, "%s", what);
    else
        snprintf(buf, len, "%s (%s%s%s)", what, deadline, *deadline && *cancel ? ", " : "", cancel);
    return buf;
}

/* ---- orphans of a crashed supervisor ---------------------------------------- */

/* Whether the NUL-separated buffer buf (len bytes) mentions any of paths. */
static bool mentions(const char *buf, size_t len, const char *const *paths)
{
    for (size_t off = 0; off < len;) {
        const char *arg = buf + off;
        size_t n = strnlen(arg, len - off);
        for (const char *const *p = paths; *p; p++)
            if (**p && memmem(arg, n, *p, strlen(*p)))
                return true;
        off += n + 1;
    }
    return false;
}

static bool proc_references(pid_t pid, const char *const *paths)
{
    char path[64], buf[8192], cwd[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%d/cwd", (int)pid);
    ssize_t n = readlink(path, cwd, sizeof cwd - 1);
    if (n > 0) {
        cwd[n] = '\0';
        if (mentions(cwd, (size_t)n + 1, paths))
            return true;
    }
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof buf);
    close(fd);
    return n > 0 && mentions(buf, (size_t)n, paths);
}

int aut_proc_kill_referencing(const char *const *paths, unsigned *killed)
{
    *killed = 0;
    DIR *dir = opendir("/proc");
    if (!dir)
        return -errno;
    pid_t self = getpid();
    struct dirent *e;
    while ((e = readdir(dir))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 1 || pid == self || !proc_references((pid_t)pid, paths))
            continue;
        pid_t pgid = getpgid((pid_t)pid);
        /* the children run in groups of their own: take the whole group (make's
         * compilers, QEMU), unless that group is ours */
        if (pgid > 1 && pgid != getpgrp() && kill(-pgid, SIGKILL) == 0)
            (*killed)++;
        else if (kill((pid_t)pid, SIGKILL) == 0)
            (*killed)++;
    }
    closedir(dir);
    return 0;
}
