/*
 * process.h - child processes for the pipeline: the one place that calls
 * uv_spawn (make, objcopy, QEMU).
 *
 * Every child is started from an argv array (never a shell string), in a
 * process group of its own (so that make's compilers and anything else it
 * starts die with it), with an optional deadline after which the whole group
 * gets SIGKILL. Its stdout and stderr are appended to a log file and/or handed
 * to a callback as they arrive; its stdin can be a pipe the caller writes to.
 *
 * Two ways to use it:
 *   - async, on the caller's libuv loop: aut_proc_spawn() ... the loop runs ...
 *     on_exit callback ... aut_proc_free();
 *   - sync: aut_proc_run() runs a private loop until the child has exited.
 *
 * Cancellation from any thread: an aut_cancel token. aut_cancel_fire() sets
 * the token and sends SIGKILL to the process group of every child spawned
 * with that token that has not been reaped yet (kill(2) is async-signal- and
 * thread-safe; no loop is touched from the firing thread). A child spawned
 * with an already fired token is not started: aut_proc_spawn returns
 * -ECANCELED.
 *
 * Exit status convention: exit code, or 128 + signal number when the child
 * was killed by a signal (as shells report it).
 */
#ifndef AUTON_QEMU_PROCESS_H
#define AUTON_QEMU_PROCESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#define AUT_CANCEL_MAX_PIDS 16

/* A cancel token shared by a job and the children it starts. */
struct aut_cancel {
    pthread_mutex_t mu;
    bool fired;
    char reason[128];                /* the reason given to aut_cancel_fire */
    pid_t pgids[AUT_CANCEL_MAX_PIDS]; /* live children's process groups (0: free slot) */
};

void aut_cancel_init(struct aut_cancel *c);
void aut_cancel_destroy(struct aut_cancel *c);
/* Fires the token (idempotent; the first reason is kept) and SIGKILLs every
 * registered process group. Safe from any thread, not from a signal handler. */
void aut_cancel_fire(struct aut_cancel *c, const char *reason);
bool aut_cancel_fired(struct aut_cancel *c);

struct aut_proc;

struct aut_proc_result {
    int status;          /* exit code, or 128 + signal; -1 if it never ran */
    int term_signal;     /* the signal that ended it, 0 if it exited */
    bool timed_out;      /* the deadline passed and the group was killed */
    bool canceled;       /* killed through the cancel token */
    uint64_t ms;         /* wall time from spawn to exit */
    pid_t pid;
};

struct aut_proc_opts {
    const char *const *argv; /* NULL-terminated; argv[0] is searched in PATH */
    const char *cwd;         /* NULL: the caller's */
    const char *const *env;  /* NULL-terminated "K=V" list replacing the environment;
                                NULL: inherit */
    const char *log_path;    /* stdout and stderr are appended here (created 0644) when
                                non-NULL; the file is opened at spawn, closed at exit */
    uint32_t deadline_ms;    /* 0: no deadline; else SIGKILL to the group when it passes */
    bool stdin_pipe;         /* give the child a pipe on stdin (aut_proc_write); otherwise
                                its stdin is /dev/null */
    bool merge_stderr;       /* on_output sees stderr as fd 1 too (the log always gets both) */
    struct aut_cancel *cancel; /* may be NULL */
    /* Output as it arrives (fd 1 or 2), raw bytes, on the loop's thread. May be NULL. */
    void (*on_output)(void *ud, int fd, const char *buf, size_t len);
    /* Called once, after the child has exited and both of its output pipes
     * reached EOF (so every byte of output was delivered first). May be NULL. */
    void (*on_exit)(void *ud, const struct aut_proc_result *res);
    void *ud;
};

/* Starts the child on loop. Returns 0 and *out, or -errno: -ENOENT (argv[0]
 * not found), -ECANCELED (token already fired), -EMFILE (token full), others
 * from uv_spawn or open(log_path). On failure nothing is left running and
 * *out is untouched. */
int aut_proc_spawn(uv_loop_t *loop, const struct aut_proc_opts *o, struct aut_proc **out);

/* Writes to the child's stdin pipe (copied; queued if the pipe is full).
 * Returns 0, -EPIPE when the child is gone or stdin was closed, -EINVAL
 * without stdin_pipe. */
int aut_proc_write(struct aut_proc *p, const void *buf, size_t len);
/* Closes the child's stdin (EOF for it). */
void aut_proc_close_stdin(struct aut_proc *p);
/* Sends sig to the child's process group (no-op once it has exited). */
void aut_proc_kill(struct aut_proc *p, int sig);
bool aut_proc_exited(const struct aut_proc *p); /* true once on_exit has run */
const struct aut_proc_result *aut_proc_result(const struct aut_proc *p);
pid_t aut_proc_pid(const struct aut_proc *p);
/* Frees p. If the child is still running it is SIGKILLed first and reaped
 * (it is reaped before this returns). Its handles close asynchronously: run the
 * loop once more before uv_loop_close. on_exit is not called after free. */
void aut_proc_free(struct aut_proc *p);

/* Runs a child to completion on a private loop (on_output and on_exit, if
 * set, are called as usual). Returns 0 with *res filled (whatever the exit
 * status), or -errno when it could not be started. */
int aut_proc_run(const struct aut_proc_opts *o, struct aut_proc_result *res);

/* "exit 0", "exit 2", "killed by SIGKILL (deadline 5000 ms passed)",
 * "killed by SIGKILL (canceled)"... into buf; returns buf. */
const char *aut_proc_describe(const struct aut_proc_result *r, uint32_t deadline_ms, char *buf,
                              size_t len);

/* After a crash of the program that supervised them: SIGKILLs every process
 * (with its process group) whose working directory or command line mentions
 * one of paths (NULL-terminated; e.g. a job's worktree and report directory),
 * so a restarted daemon leaves no QEMU or make of a dead job behind.
 * *killed: how many were signalled. Returns 0 or -errno (no /proc). */
int aut_proc_kill_referencing(const char *const *paths, unsigned *killed);

#endif
