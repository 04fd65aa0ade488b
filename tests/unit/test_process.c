/*
 * test_process.c - child processes (src/qemu/process.c) with real children:
 * /bin/sh -c scripts, sleep, cat, head. Covered: exit codes and signals,
 * output to the log file and to on_output (both streams, order, 1 MiB,
 * merged stderr), cwd and env, a stdin round trip through cat, the deadline
 * killing a child and its grandchildren, the EOF grace period for a
 * grandchild that keeps the pipes open, the cancel token (fired from another
 * thread, already fired, full), ENOENT, freeing a running child (outside and
 * inside callbacks), aut_proc_run from several threads, and the descriptions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "process.h"

#define MIB (1024 * 1024)

/* What the callbacks saw. */
struct cap {
    char *out; /* fd 1 */
    size_t out_len;
    char *err; /* fd 2 */
    size_t err_len;
    int nexit;
    struct aut_proc_result res;
    struct aut_proc *self; /* for the callbacks that free their own child */
    bool free_in_exit;
    bool free_in_output;
};

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    assert_non_null(*buf);
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void cap_output(void *ud, int fd, const char *buf, size_t len)
{
    struct cap *c = ud;
    assert_true(fd == 1 || fd == 2);
    if (fd == 1)
        append(&c->out, &c->out_len, buf, len);
    else
        append(&c->err, &c->err_len, buf, len);
    if (c->free_in_output && c->self) {
        struct aut_proc *p = c->self;
        c->self = NULL;
        aut_proc_free(p);
    }
}

static void cap_exit(void *ud, const struct aut_proc_result *res)
{
    struct cap *c = ud;
    c->nexit++;
    c->res = *res;
    if (c->free_in_exit && c->self) {
        struct aut_proc *p = c->self;
        c->self = NULL;
        aut_proc_free(p);
    }
}

static void cap_release(struct cap *c)
{
    free(c->out);
    free(c->err);
    memset(c, 0, sizeof *c);
}

static struct aut_proc_opts opts_for(const char *const *argv, struct cap *c)
{
    struct aut_proc_opts o;
    memset(&o, 0, sizeof o);
    o.argv = argv;
    o.on_output = cap_output;
    o.on_exit = cap_exit;
    o.ud = c;
    return o;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Alive and not a zombie (a zombie waits for a reaper that a container's
 * init may not be). */
static bool pid_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

static bool wait_dead(pid_t pid, uint32_t ms)
{
    uint64_t end = now_ms() + ms;
    while (pid_alive(pid)) {
        if (now_ms() > end)
            return false;
        usleep(10000);
    }
    return true;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = NULL;
    size_t n = 0;
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        append(&buf, &n, chunk, k);
    fclose(f);
    if (!buf)
        append(&buf, &n, "", 0);
    *len = n;
    return buf;
}

static void temp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "/tmp/test_process.%d.%s", (int)getpid(), name);
    unlink(buf);
}

/* Runs the loop until every handle is closed and checks that it closes,
 * which fails when a handle was left open. */
static void finish_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* ---- exit status --------------------------------------------------------- */

static void test_exit_codes_are_reported(void **state)
{
    const int codes[] = {0, 1, 2, 42, 255};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char script[32];
        snprintf(script, sizeof script, "exit %d", codes[i]);
        const char *argv[] = {"/bin/sh", "-c", script, NULL};
        struct cap c = {0};
        struct aut_proc_opts o = opts_for(argv, &c);
        struct aut_proc_result r;
        assert_int_equal(aut_proc_run(&o, &r), 0);
        assert_int_equal(r.status, codes[i]);
        assert_int_equal(r.term_signal, 0);
        assert_false(r.timed_out);
        assert_false(r.canceled);
        assert_true(r.pid > 0);
        assert_true(r.ms < 5000);
        assert_int_equal(c.nexit, 1);
        assert_int_equal(c.res.status, codes[i]);
        cap_release(&c);
    }
}

static void test_signal_status_is_128_plus_signal(void **state)
{
    const char *argv[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    struct aut_proc_opts o = opts_for(argv, NULL);
    o.on_output = NULL;
    o.on_exit = NULL;
    struct aut_proc_result r;
    assert_int_equal(aut_proc_run(&o, &r), 0);
    assert_int_equal(r.status, 128 + SIGTERM);
    assert_int_equal(r.term_signal, SIGTERM);
}

static void test_kill_sends_signal_to_the_child(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"sleep", "30", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    struct aut_proc *p = NULL;
    assert_int_equal(aut_proc_spawn(&loop, &o, &p), 0);
    assert_true(aut_proc_pid(p) > 0);
    assert_false(aut_proc_exited(p));
    aut_proc_kill(p, SIGTERM);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(aut_proc_exited(p));
    assert_int_equal(c.nexit, 1);
    assert_int_equal(aut_proc_result(p)->status, 128 + SIGTERM);
    aut_proc_kill(p, SIGTERM); /* a no-op now */
    aut_proc_free(p);
    finish_loop(&loop);
    cap_release(&c);
}

/* ---- output -------------------------------------------------------------- */

static void test_output_goes_to_log_and_callback(void **state)
{
    char log[128];
    temp_path(log, sizeof log, "log");
    FILE *f = fopen(log, "w");
    assert_non_null(f);
    fputs("earlier\n", f); /* appended to, not truncated */
    fclose(f);
    const char *argv[] = {"/bin/sh", "-c",
                          "echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 3", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.log_path = log;
    struct aut_proc_result r;
    assert_int_equal(aut_proc_run(&o, &r), 0);
    assert_int_equal(r.status, 3);
    assert_string_equal(c.out, "out1\nout2\n");
    assert_string_equal(c.err, "err1\nerr2\n");
    size_t n;
    char *text = read_file(log, &n);
    assert_int_equal(n, strlen("earlier\n") + 20);
    assert_memory_equal(text, "earlier\n", 8);
    assert_non_null(strstr(text, "out1\n"));
    assert_non_null(strstr(text, "err2\n"));
    assert_true(strstr(text, "out1\n") < strstr(text, "out2\n"));
    assert_true(strstr(text, "err1\n") < strstr(text, "err2\n"));
    free(text);
    unlink(log);
    cap_release(&c);
}

static void test_log_is_created_0644(void **state)
{
    char log[128];
    temp_path(log, sizeof log, "newlog");
    const char *argv[] = {"/bin/sh", "-c", "echo hi", NULL};
    struct aut_proc_opts o = opts_for(argv, NULL);
    o.on_output = NULL;
    o.on_exit = NULL;
    o.log_path = log;
    struct aut_proc_result r;
    mode_t old = umask(022);
    assert_int_equal(aut_proc_run(&o, &r), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(log, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(st.st_size, 3);
    unlink(log);
}

static void test_unwritable_log_fails_the_spawn(void **state)
{
    const char *argv[] = {"/bin/sh", "-c", "exit 0", NULL};
    struct aut_proc_opts o = opts_for(argv, NULL);
    o.log_path = "/nonexistent-dir/x.log";
    struct aut_proc_result r;
    assert_int_equal(aut_proc_run(&o, &r), -ENOENT);
    assert_int_equal(r.status, -1);
}

static void test_merge_stderr_reports_fd_1(void **state)
{
    const char *argv[] = {"/bin/sh", "-c", "echo a; echo b >&2", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.merge_stderr = true;
    struct aut_proc_result r;
    assert_int_equal(aut_proc_run(&o, &r), 0);
    assert_int_equal(c.err_len, 0);
    assert_int_equal(c.out_len, 4);
    assert_non_null(strstr(c.out, "a\n"));
    assert_non_null(strstr(c.out, "b\n"));
    cap_release(&c);
}

static void test_one_mebibyte_arrives_whole_and_in_order(void **state)
{
    char src[128], log[128];
    temp_path(src, sizeof src, "src");
    temp_path(log, sizeof log, "biglog");
    char *data = malloc(MIB);
    assert_non_null(data);
    for (size_t i = 0; i < MIB; i++)
        data[i] = (char)('a' + (i * 7 + i / 4096) % 26);
    FILE *f = fopen(src, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, MIB, f), MIB);
    fclose(f);

    const char *argv[] = {"head", "-c", "1048576", src, NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.log_path = log;
    struct aut_proc_result r;
    assert_int_equal(aut_proc_run(&o, &r), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(c.out_len, MIB);
    assert_memory_equal(c.out, data, MIB);
    size_t n;
    char *text = read_file(log, &n);
    assert_int_equal(n, MIB);
    assert_memory_equal(text, data, MIB);
    free(text);
    free(data);
    unlink(src);
    unlink(log);
    cap_release(&c);
}

static void test_cwd_and_env_are_applied(void **state)
{
    const char *argv[] = {"sh", "-c", "pwd; echo \"$FOO\"; echo \"${HOME-unset}\"", NULL};
    const char *env[] = {"FOO=bar", "PATH=/usr/bin:/bin", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.cwd = "/";
    o.env = env;
    struct aut_proc_result r;
    assert_int_equal(aut_proc_run(&o, &r), 0);
    assert_int_equal(r.status, 0);
    assert_string_equal(c.out, "/\nbar\nunset\n");
    cap_release(&c);
}

static void test_stdin_is_dev_null_without_pipe(void **state)
{
    const char *argv[] = {"cat", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.deadline_ms = 5000;
    struct aut_proc_result r;
    assert_int_equal(aut_proc_run(&o, &r), 0);
    assert_int_equal(r.status, 0);
    assert_false(r.timed_out);
    assert_int_equal(c.out_len, 0);
    cap_release(&c);
}

/* ---- stdin --------------------------------------------------------------- */

static void test_stdin_round_trip_through_cat(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"cat", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.stdin_pipe = true;
    struct aut_proc *p = NULL;
    assert_int_equal(aut_proc_spawn(&loop, &o, &p), 0);

    /* More than a socket buffer holds, so that writes queue up. */
    size_t big = 512 * 1024;
    char *chunk = malloc(big);
    assert_non_null(chunk);
    for (size_t i = 0; i < big; i++)
        chunk[i] = (char)('0' + i % 10);
    assert_int_equal(aut_proc_write(p, "hello ", 6), 0);
    assert_int_equal(aut_proc_write(p, chunk, big), 0);
    assert_int_equal(aut_proc_write(p, "world\n", 6), 0);
    assert_int_equal(aut_proc_write(p, NULL, 0), 0);
    aut_proc_close_stdin(p);
    assert_int_equal(aut_proc_write(p, "late", 4), -EPIPE);

    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.nexit, 1);
    assert_int_equal(c.res.status, 0);
    assert_int_equal(c.out_len, 12 + big);
    assert_memory_equal(c.out, "hello ", 6);
    assert_memory_equal(c.out + 6, chunk, big);
    assert_memory_equal(c.out + 6 + big, "world\n", 6);
    assert_int_equal(aut_proc_write(p, "x", 1), -EPIPE);
    aut_proc_free(p);
    finish_loop(&loop);
    free(chunk);
    cap_release(&c);
}

static void test_write_without_stdin_pipe_is_einval(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"sleep", "30", NULL};
    struct aut_proc_opts o = opts_for(argv, NULL);
    o.on_output = NULL;
    o.on_exit = NULL;
    struct aut_proc *p = NULL;
    assert_int_equal(aut_proc_spawn(&loop, &o, &p), 0);
    assert_int_equal(aut_proc_write(p, "x", 1), -EINVAL);
    aut_proc_close_stdin(p); /* a no-op */
    aut_proc_free(p);
    finish_loop(&loop);
}

static void test_pending_writes_to_a_dead_child_are_dropped(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"sleep", "30", NULL}; /* never reads its stdin */
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.stdin_pipe = true;
    struct aut_proc *p = NULL;
    assert_int_equal(aut_proc_spawn(&loop, &o, &p), 0);
    static char buf[256 * 1024];
    for (int i = 0; i < 8; i++)
        assert_int_equal(aut_proc_write(p, buf, sizeof buf), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    aut_proc_kill(p, SIGKILL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(c.nexit, 1);
    assert_int_equal(c.res.status, 128 + SIGKILL);
    assert_int_equal(aut_proc_write(p, "x", 1), -EPIPE);
    aut_proc_free(p);
    finish_loop(&loop); /* and ASan sees the queued buffers freed */
    cap_release(&c);
}

/* ---- the deadline -------------------------------------------------------- */

static void test_deadline_kills_sleep(void **state)
{
    const char *argv[] = {"sleep", "30", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.deadline_ms = 200;
    struct aut_proc_result r;
    uint64_t t0 = now_ms();
    assert_int_equal(aut_proc_run(&o, &r), 0);
    uint64_t took = now_ms() - t0;
    assert_true(took < 900);
    assert_true(r.ms >= 190 && r.ms < 900);
    assert_int_equal(r.status, 128 + 9);
    assert_int_equal(r.term_signal, SIGKILL);
    assert_true(r.timed_out);
    assert_false(r.canceled);
    char buf[96];
    assert_string_equal(aut_proc_describe(&r, o.deadline_ms, buf, sizeof buf),
                        "killed by SIGKILL (deadline 200 ms passed)");
    cap_release(&c);
}

static pid_t first_pid(const struct cap *c)
{
    assert_non_null(c->out);
    long v = strtol(c->out, NULL, 10);
    assert_true(v > 1);
    return (pid_t)v;
}

static void test_deadline_kills_grandchildren(void **state)
{
    const char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo $!; sleep 30", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.deadline_ms = 300;
    struct aut_proc_result r;
    uint64_t t0 = now_ms();
    assert_int_equal(aut_proc_run(&o, &r), 0);
    assert_true(now_ms() - t0 < 1500); /* the grandchild's EOF came too: no grace wait */
    assert_true(r.timed_out);
    assert_int_equal(r.status, 128 + SIGKILL);
    pid_t g = first_pid(&c);
    assert_true(wait_dead(g, 2000));
    cap_release(&c);
}

static void test_exit_does_not_wait_long_for_a_grandchilds_eof(void **state)
{
    /* The background sleep keeps stdout and stderr open after sh exits. */
    const char *argv[] = {"/bin/sh", "-c", "sleep 8 & echo $!; exit 3", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    struct aut_proc_result r;
    uint64_t t0 = now_ms();
    assert_int_equal(aut_proc_run(&o, &r), 0);
    uint64_t took = now_ms() - t0;
    assert_true(took >= 1500 && took < 5000);
    assert_int_equal(r.status, 3);
    assert_int_equal(c.nexit, 1);
    pid_t g = first_pid(&c); /* output before the exit was delivered */
    kill(g, SIGKILL);
    cap_release(&c);
}

/* ---- the cancel token ---------------------------------------------------- */

struct firer {
    struct aut_cancel *tok;
    unsigned delay_ms;
};

static void *fire_later(void *arg)
{
    struct firer *f = arg;
    usleep(f->delay_ms * 1000u);
    aut_cancel_fire(f->tok, "user abort");
    aut_cancel_fire(f->tok, "second reason, ignored");
    return NULL;
}

static void test_cancel_from_another_thread(void **state)
{
    struct aut_cancel tok;
    aut_cancel_init(&tok);
    struct firer f = {&tok, 150};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fire_later, &f), 0);
    const char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo $!; sleep 30", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.cancel = &tok;
    struct aut_proc_result r;
    uint64_t t0 = now_ms();
    assert_int_equal(aut_proc_run(&o, &r), 0);
    assert_true(now_ms() - t0 < 2000);
    pthread_join(th, NULL);
    assert_true(r.canceled);
    assert_false(r.timed_out);
    assert_int_equal(r.status, 128 + SIGKILL);
    assert_true(aut_cancel_fired(&tok));
    assert_string_equal(tok.reason, "user abort");
    assert_true(wait_dead(first_pid(&c), 2000)); /* the whole group */
    for (int i = 0; i < AUT_CANCEL_MAX_PIDS; i++)
        assert_int_equal(tok.pgids[i], 0);
    char buf[96];
    assert_string_equal(aut_proc_describe(&r, 0, buf, sizeof buf), "killed by SIGKILL (canceled)");
    aut_cancel_destroy(&tok);
    cap_release(&c);
}

static void test_fired_token_refuses_to_spawn(void **state)
{
    struct aut_cancel tok;
    aut_cancel_init(&tok);
    assert_false(aut_cancel_fired(&tok));
    aut_cancel_fire(&tok, NULL);
    const char *argv[] = {"/bin/sh", "-c", "exit 0", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.cancel = &tok;
    struct aut_proc_result r;
    assert_int_equal(aut_proc_run(&o, &r), -ECANCELED);
    assert_int_equal(r.status, -1);
    assert_int_equal(c.nexit, 0);

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct aut_proc *p = (struct aut_proc *)&loop; /* must stay untouched */
    assert_int_equal(aut_proc_spawn(&loop, &o, &p), -ECANCELED);
    assert_ptr_equal(p, (struct aut_proc *)&loop);
    finish_loop(&loop);
    aut_cancel_destroy(&tok);
}

static void test_full_token_is_emfile_and_slots_are_reused(void **state)
{
    struct aut_cancel tok;
    aut_cancel_init(&tok);
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"sleep", "30", NULL};
    struct cap c[AUT_CANCEL_MAX_PIDS];
    struct aut_proc *p[AUT_CANCEL_MAX_PIDS];
    memset(c, 0, sizeof c);
    for (int i = 0; i < AUT_CANCEL_MAX_PIDS; i++) {
        struct aut_proc_opts o = opts_for(argv, &c[i]);
        o.cancel = &tok;
        assert_int_equal(aut_proc_spawn(&loop, &o, &p[i]), 0);
    }
    struct aut_proc_opts o = opts_for(argv, &c[0]);
    o.cancel = &tok;
    struct aut_proc *extra = NULL;
    assert_int_equal(aut_proc_spawn(&loop, &o, &extra), -EMFILE);
    assert_null(extra);

    /* Freeing one releases its slot. */
    pid_t gone = aut_proc_pid(p[0]);
    aut_proc_free(p[0]);
    assert_false(pid_alive(gone));
    assert_int_equal(c[0].nexit, 0);
    assert_int_equal(aut_proc_spawn(&loop, &o, &p[0]), 0);

    aut_cancel_fire(&tok, "shutdown");
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < AUT_CANCEL_MAX_PIDS; i++) {
        assert_int_equal(c[i].nexit, 1);
        assert_true(c[i].res.canceled);
        assert_int_equal(c[i].res.status, 128 + SIGKILL);
        aut_proc_free(p[i]);
        cap_release(&c[i]);
    }
    for (int i = 0; i < AUT_CANCEL_MAX_PIDS; i++)
        assert_int_equal(tok.pgids[i], 0);
    finish_loop(&loop);
    aut_cancel_destroy(&tok);
}

/* ---- spawn failures ------------------------------------------------------ */

static void test_missing_program_is_enoent(void **state)
{
    const char *paths[] = {"/nonexistent/prog", "no-such-program-auton-test"};
    for (size_t i = 0; i < 2; i++) {
        const char *argv[] = {paths[i], NULL};
        struct cap c = {0};
        struct aut_proc_opts o = opts_for(argv, &c);
        struct aut_proc_result r;
        assert_int_equal(aut_proc_run(&o, &r), -ENOENT);
        assert_int_equal(r.status, -1);
        assert_int_equal(c.nexit, 0);
    }
    /* Async, with a token: nothing left open or registered. */
    struct aut_cancel tok;
    aut_cancel_init(&tok);
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"/nonexistent/prog", NULL};
    struct aut_proc_opts o = opts_for(argv, NULL);
    o.stdin_pipe = true;
    o.cancel = &tok;
    struct aut_proc *p = NULL;
    assert_int_equal(aut_proc_spawn(&loop, &o, &p), -ENOENT);
    assert_null(p);
    for (int i = 0; i < AUT_CANCEL_MAX_PIDS; i++)
        assert_int_equal(tok.pgids[i], 0);
    finish_loop(&loop);
    aut_cancel_destroy(&tok);
}

static void test_bad_arguments_are_einval(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *empty[] = {NULL};
    struct aut_proc_opts o = opts_for(empty, NULL);
    struct aut_proc *p = NULL;
    assert_int_equal(aut_proc_spawn(&loop, &o, &p), -EINVAL);
    o.argv = NULL;
    assert_int_equal(aut_proc_spawn(&loop, &o, &p), -EINVAL);
    assert_int_equal(aut_proc_spawn(&loop, NULL, &p), -EINVAL);
    assert_null(p);
    finish_loop(&loop);
}

/* ---- freeing ------------------------------------------------------------- */

static void test_free_kills_and_reaps_a_running_child(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"/bin/sh", "-c", "sleep 30 & echo $!; sleep 30", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    o.deadline_ms = 60000;
    struct aut_proc *p = NULL;
    assert_int_equal(aut_proc_spawn(&loop, &o, &p), 0);
    pid_t pid = aut_proc_pid(p);
    while (c.out_len == 0 || !strchr(c.out, '\n'))
        uv_run(&loop, UV_RUN_ONCE);
    pid_t g = first_pid(&c);
    aut_proc_free(p);
    /* Reaped before free returned: no zombie, no process at all. */
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
    assert_true(wait_dead(g, 2000));
    finish_loop(&loop);
    assert_int_equal(c.nexit, 0); /* no callback after free */
    cap_release(&c);
}

static void test_free_inside_on_exit(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"/bin/sh", "-c", "echo bye", NULL};
    struct cap c = {0};
    c.free_in_exit = true;
    struct aut_proc_opts o = opts_for(argv, &c);
    o.stdin_pipe = true;
    assert_int_equal(aut_proc_spawn(&loop, &o, &c.self), 0);
    finish_loop(&loop);
    assert_int_equal(c.nexit, 1);
    assert_null(c.self);
    assert_string_equal(c.out, "bye\n");
    cap_release(&c);
}

static void test_free_inside_on_output(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"/bin/sh", "-c", "echo hi; sleep 30", NULL};
    struct cap c = {0};
    c.free_in_output = true;
    struct aut_proc_opts o = opts_for(argv, &c);
    assert_int_equal(aut_proc_spawn(&loop, &o, &c.self), 0);
    pid_t pid = aut_proc_pid(c.self);
    uint64_t t0 = now_ms();
    finish_loop(&loop);
    assert_true(now_ms() - t0 < 2000);
    assert_null(c.self);
    assert_int_equal(c.nexit, 0);
    assert_false(pid_alive(pid));
    cap_release(&c);
}

static void test_free_after_exit_but_before_the_loop_ran(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    const char *argv[] = {"/bin/sh", "-c", "exit 0", NULL};
    struct cap c = {0};
    struct aut_proc_opts o = opts_for(argv, &c);
    struct aut_proc *p = NULL;
    assert_int_equal(aut_proc_spawn(&loop, &o, &p), 0);
    usleep(100000); /* the child is a zombie libuv has not collected yet */
    aut_proc_free(p);
    finish_loop(&loop);
    assert_int_equal(c.nexit, 0);
}

/* ---- threads ------------------------------------------------------------- */

struct job {
    int code;
    int rc;
    struct aut_proc_result r;
    struct cap c;
};

static void *run_job(void *arg)
{
    struct job *j = arg;
    char script[64];
    snprintf(script, sizeof script, "echo job%d; exit %d", j->code, j->code);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    struct aut_proc_opts o = opts_for(argv, &j->c);
    o.deadline_ms = 10000;
    j->rc = aut_proc_run(&o, &j->r);
    return NULL;
}

static void test_run_from_several_threads(void **state)
{
    enum { N = 6 };
    struct job jobs[N];
    pthread_t th[N];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < N; i++) {
        jobs[i].code = 10 + i;
        assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        char want[16];
        snprintf(want, sizeof want, "job%d\n", 10 + i);
        assert_int_equal(jobs[i].rc, 0);
        assert_int_equal(jobs[i].r.status, 10 + i);
        assert_string_equal(jobs[i].c.out, want);
        cap_release(&jobs[i].c);
    }
}

/* ---- descriptions -------------------------------------------------------- */

static void test_describe(void **state)
{
    char buf[96];
    struct aut_proc_result r;
    memset(&r, 0, sizeof r);
    assert_string_equal(aut_proc_describe(&r, 0, buf, sizeof buf), "exit 0");
    r.status = 2;
    assert_string_equal(aut_proc_describe(&r, 5000, buf, sizeof buf), "exit 2");

    r.status = 128 + SIGKILL;
    r.term_signal = SIGKILL;
    r.timed_out = true;
    assert_string_equal(aut_proc_describe(&r, 5000, buf, sizeof buf),
                        "killed by SIGKILL (deadline 5000 ms passed)");
    assert_string_equal(aut_proc_describe(&r, 0, buf, sizeof buf),
                        "killed by SIGKILL (deadline passed)");
    r.canceled = true;
    assert_string_equal(aut_proc_describe(&r, 5000, buf, sizeof buf),
                        "killed by SIGKILL (deadline 5000 ms passed, canceled)");
    r.timed_out = false;
    assert_string_equal(aut_proc_describe(&r, 5000, buf, sizeof buf),
                        "killed by SIGKILL (canceled)");

    memset(&r, 0, sizeof r);
    const struct {
        int sig;
        const char *want;
    } sigs[] = {{SIGTERM, "killed by SIGTERM"},
                {SIGSEGV, "killed by SIGSEGV"},
                {SIGABRT, "killed by SIGABRT"},
                {40, "killed by signal 40"}};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        r.term_signal = sigs[i].sig;
        r.status = 128 + sigs[i].sig;
        assert_string_equal(aut_proc_describe(&r, 0, buf, sizeof buf), sigs[i].want);
    }

    r.status = -1;
    r.term_signal = 0;
    assert_string_equal(aut_proc_describe(&r, 0, buf, sizeof buf), "not started");
    r.status = 0;
    char small[5];
    assert_string_equal(aut_proc_describe(&r, 0, small, sizeof small), "exit");
}

int main(void)
{
    /* Writing to a child's closed stdin must not end the test (see process.c). */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes_are_reported),
        cmocka_unit_test(test_signal_status_is_128_plus_signal),
        cmocka_unit_test(test_kill_sends_signal_to_the_child),
        cmocka_unit_test(test_output_goes_to_log_and_callback),
        cmocka_unit_test(test_log_is_created_0644),
        cmocka_unit_test(test_unwritable_log_fails_the_spawn),
        cmocka_unit_test(test_merge_stderr_reports_fd_1),
        cmocka_unit_test(test_one_mebibyte_arrives_whole_and_in_order),
        cmocka_unit_test(test_cwd_and_env_are_applied),
        cmocka_unit_test(test_stdin_is_dev_null_without_pipe),
        cmocka_unit_test(test_stdin_round_trip_through_cat),
        cmocka_unit_test(test_write_without_stdin_pipe_is_einval),
        cmocka_unit_test(test_pending_writes_to_a_dead_child_are_dropped),
        cmocka_unit_test(test_deadline_kills_sleep),
        cmocka_unit_test(test_deadline_kills_grandchildren),
        cmocka_unit_test(test_exit_does_not_wait_long_for_a_grandchilds_eof),
        cmocka_unit_test(test_cancel_from_another_thread),
        cmocka_unit_test(test_fired_token_refuses_to_spawn),
        cmocka_unit_test(test_full_token_is_emfile_and_slots_are_reused),
        cmocka_unit_test(test_missing_program_is_enoent),
        cmocka_unit_test(test_bad_arguments_are_einval),
        cmocka_unit_test(test_free_kills_and_reaps_a_running_child),
        cmocka_unit_test(test_free_inside_on_exit),
        cmocka_unit_test(test_free_inside_on_output),
        cmocka_unit_test(test_free_after_exit_but_before_the_loop_ran),
        cmocka_unit_test(test_run_from_several_threads),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
