/*
 * daemon.h - autond's parts and what they share. One libuv loop (the loop
 * thread) owns every handle: the HTTP server (http.c), the job runners
 * (sched.c), webhooks (webhook.c), the nightly timer (nightly.c) and the
 * signals (daemon.c). Blocking work - SQLite (db.c), libgit2, hashing,
 * file reads - runs on the libuv thread pool or on a job's own thread, never
 * on the loop.
 *
 * Configuration is shared as reference-counted snapshots: SIGHUP loads a new
 * one and swaps it in; a request or a job keeps the snapshot it started with.
 */
#ifndef AUTON_ORCH_DAEMON_H
#define AUTON_ORCH_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "config.h"
#include "db.h"
#include "http.h"

#define AUTOND_VERSION "1.0.0"

struct aut_http_server;
struct aut_httpc_multi;
struct aut_runner;
struct aut_sub;
struct aut_hook;

/* A configuration snapshot. */
struct aut_conf {
    atomic_int refs;
    struct aut_config cfg;
    char token[128];  /* the bearer token ("" when there is no TCP listener) */
    char secret[256]; /* the webhook HMAC key ("" = unsigned) */
};

/* A message from a job's thread to the loop. */
struct aut_msg {
    struct aut_msg *next;
    char job[AUT_DB_ID_MAX];
    int64_t seq; /* the event's number in the store, 0 for the end message */
    char *type;  /* event type, or "end" when the runner is done */
    char *data;  /* JSON text */
};

struct aut_daemon {
    uv_loop_t *loop;
    char config_path[PATH_MAX]; /* "" = the default search */
    char **overrides;           /* -o section.key=value, applied on every (re)load */
    int n_overrides;
    struct aut_conf *conf; /* the current snapshot (loop thread) */
    struct aut_db *db;
    struct aut_http_server *http;
    struct aut_httpc_multi *multi;
    struct aut_hook *hooks; /* webhook deliveries in flight */
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t nightly_timer, shutdown_timer;
    uv_async_t wake; /* job threads -> loop */
    uv_mutex_t mu;   /* guards msgs */
    struct aut_msg *msgs, **msgs_tail;
    struct aut_runner *runners; /* running jobs */
    atomic_uint n_running;      /* read by pool threads (metrics) */
    bool picking;               /* a queue pick is on the thread pool */
    bool repick;                /* ... and another was asked for meanwhile */
    struct aut_sub *subs;       /* event-stream subscribers */
    bool stopping;
    int exit_code;
    double started;         /* wall clock */
    atomic_ullong requests; /* HTTP requests answered */
    char nightly_next[32];  /* "2026-11-22T02:00:00+0100", "" when disabled */
};

/* daemon.c */
int aut_daemon_start(struct aut_daemon *d, uv_loop_t *loop, char *err, size_t errlen);
/* Takes a reference on the current snapshot (loop thread). */
struct aut_conf *aut_daemon_conf(struct aut_daemon *d);
/* Drops one (any thread). */
void aut_conf_put(struct aut_conf *c);
/* Starts the graceful shutdown (SIGTERM). */
void aut_daemon_shutdown(struct aut_daemon *d, const char *why);
/* Called by sched.c when the last runner is gone: ends a shutdown. */
void aut_daemon_runners_gone(struct aut_daemon *d);
double aut_now(void);
/* A log line on stderr: "autond: <time> <text>". */
void aut_dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sched.c */
/* Finds jobs left running by a crash: kills what they left (QEMU, make), removes
 * their worktrees and branches, marks them interrupted (and queues a retry
 * when configured). Blocking: called once before the loop runs. */
int aut_sched_recover(struct aut_daemon *d);
/* Asks for the queue to be looked at (loop thread). */
void aut_sched_kick(struct aut_daemon *d);
/* Cancels job id if it runs here (loop thread). Returns true if it did. */
bool aut_sched_cancel(struct aut_daemon *d, const char *id, const char *reason);
/* Cancels every running job (shutdown). */
void aut_sched_cancel_all(struct aut_daemon *d, const char *reason);
/* The loop side of job messages (the wake handle's callback). */
void aut_sched_drain(uv_async_t *a);
/* The webhook event (job.finished) of a job that ended without running, from
 * its record in the store (canceled while queued, interrupted). */
cJSON *aut_sched_end_event(const cJSON *job);
/* Whether a job runs now on arch. */
bool aut_sched_arch_busy(struct aut_daemon *d, const char *arch);

/* events.c: turns req into an event stream of job's events after event
 * number after (stored ones first, then live ones, then "end"). Loop thread.
 * Returns the stream, or NULL (req answered with an error). */
struct aut_http_sse *aut_sub_stream(struct aut_daemon *d, struct aut_http_req *req, const char *job,
                                    int64_t after);
/* A live event of a job to its subscribers (loop thread). */
void aut_sub_deliver(struct aut_daemon *d, const struct aut_msg *m);
/* Tells the subscribers of job that it ended (they get an "end" event and are closed). */
void aut_sub_end(struct aut_daemon *d, const char *job, const char *state);

/* api.c: the HTTP handler. */
void aut_api_handle(void *ud, struct aut_http_req *req);

/* webhook.c */
/* Sends event (a JSON object, borrowed) about job to the manager when one is
 * configured: recorded in the store, signed, retried with backoff. Loop thread. */
void aut_hook_send(struct aut_daemon *d, const char *job, const char *event, const cJSON *body);
/* Resends deliveries left pending by a previous run. Loop thread. */
void aut_hook_resume(struct aut_daemon *d);
void aut_hook_close_all(struct aut_daemon *d);

/* nightly.c */
/* (Re)arms the nightly timer from the current config. Loop thread. */
void aut_nightly_arm(struct aut_daemon *d);
/* Starts a run now: a nightly record and a job per model x arch. Blocking
 * (thread pool). Returns 0 with *out = {id, jobs:[...]}, or -1 with err. */
int aut_nightly_start(struct aut_daemon *d, const struct aut_conf *c, const char *trigger,
                      const char *day, cJSON **out, char *err, size_t errlen);
/* The history with trends per model (blocking). */
cJSON *aut_nightly_history(struct aut_daemon *d, const struct aut_conf *c, unsigned limit);

/* Inserts a job for request (validated: {model, manifest?, arch?, prompts?,
 * rollback?, fallback?, priority?}) (api.c; blocking). Returns 0/1 like
 * aut_db_job_insert with id set. */
int aut_api_insert_job(struct aut_daemon *d, const cJSON *request, const char *idem_key,
                       const char *idem_hash, int64_t nightly_id, const char *retry_of,
                       char id[AUT_DB_ID_MAX]);

#endif
