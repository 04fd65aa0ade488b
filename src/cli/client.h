/*
 * client.h - autonctl's side of autond's HTTP API (schemas/openapi.yaml),
 * over the Unix socket of [daemon] socket (no token: the socket's file
 * permissions are its protection). Requests are blocking; an event stream
 * (text/event-stream) is parsed as it arrives.
 *
 * Errors: functions return 0 or -1 with a message in err naming the request
 * ("GET http://autond/v1/health via /run/autond.sock: Connection refused");
 * -ENOENT / -ECONNREFUSED when nothing listens on the socket.
 */
#ifndef AUTON_CLI_CLIENT_H
#define AUTON_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "cli.h"

/* ---- talking to autond ---- */

/* Whether autond answers GET /v1/health on the socket (within 2 s). */
bool aut_client_probe(struct aut_cli *cli);

/* METHOD path ("/v1/..."), with body (JSON text, sent as application/json)
 * or NULL, plus headers (NULL-terminated "Name: value" list, or NULL). On a
 * response of any status returns 0 with *status and *resp (the body parsed;
 * NULL when it is not JSON; the caller frees it with cJSON_Delete). When
 * autond answered "Idempotent-Replayed: true" (an Idempotency-Key it had
 * seen), the object gains "replayed": true. */
int aut_client_call(struct aut_cli *cli, const char *method, const char *path, const char *body,
                    const char *const *headers, long *status, cJSON **resp, char *err,
                    size_t errlen);

/* GET path, expecting 200 and a JSON body: 0 with *resp (the caller frees
 * it), else prints the error (the API's, or what failed) and returns its
 * exit code (aut_client_fail). */
int aut_client_get(struct aut_cli *cli, const char *path, cJSON **resp);

/* The same, keeping the body as bytes (logs): *body is malloc'ed and
 * NUL-terminated (the caller frees it), *len its length. */
int aut_client_call_raw(struct aut_cli *cli, const char *method, const char *path, long *status,
                        char **body, size_t *len, char *err, size_t errlen);

/* One event of a job: type ("stage", "prompt"...) and its data object
 * (borrowed for the call; an empty object when the data was not JSON). */
typedef void (*aut_client_event_fn)(void *ud, const char *type, const cJSON *data);

/* Streams job's events from the first, calling fn for each, until the
 * "end" event; state receives the job's final state ("committed"...). A
 * stream that breaks early is opened again from the last event seen
 * (Last-Event-ID) while autond still answers. Returns 0, or -1 with err. */
int aut_client_events(struct aut_cli *cli, const char *job, aut_client_event_fn fn, void *ud,
                      char *state, size_t state_len, char *err, size_t errlen);

/* ---- watch.c: following one job to its end ---- */

/* Blocks SIGINT and SIGTERM (and SIGUSR2, the watcher's own wake-up) in
 * this thread and those it starts, for aut_client_watch to take them: call
 * it before the request that queues the job, so that a Ctrl-C that comes
 * meanwhile cancels the job instead of leaving it unwatched. */
void aut_client_hold_signals(void);

/* Shows job's events with the shared display (p) until the job ends. The
 * first SIGINT/SIGTERM cancels the job through the API and the watch goes
 * on, so that its end is seen; a second one stops watching (exit 1). On
 * success returns 0 with *final the job as GET /v1/integrations/{id} gives
 * it at the end (the caller frees it; its "state" is final); else prints the
 * error and returns its exit code. */
int aut_client_watch(struct aut_cli *cli, const char *job, struct aut_cli_progress *p,
                     cJSON **final);

/* ---- the text/event-stream framing, incrementally ---- */

/* One event: its type ("message" when none was named), its data (lines
 * joined with '\n', NUL-terminated) and its id ("" when none). Returns
 * nonzero to stop the stream. */
typedef int (*aut_sse_fn)(void *ud, const char *type, const char *data, size_t len, const char *id);

struct aut_sse {
    aut_sse_fn fn;
    void *ud;
    char *line; /* the line being read, not yet terminated */
    size_t line_len, line_cap;
    char *data; /* the event's data so far, each line followed by '\n' */
    size_t data_len, data_cap;
    char type[64];
    char id[64];      /* the id of the event being read */
    char last_id[64]; /* the id of the last event dispatched (for Last-Event-ID) */
    bool skip_lf;     /* the last chunk ended in CR: a LF first in the next is its pair */
    bool stopped;     /* fn asked to stop */
};

void aut_sse_init(struct aut_sse *p, aut_sse_fn fn, void *ud);
/* Feeds a chunk, split anywhere (even inside a CR LF pair). Lines end in
 * LF, CR or CR LF; a blank line dispatches the event; lines starting with ':'
 * are comments. Returns 0, 1 once fn asked to stop (the rest is ignored), or
 * -1 when a line or an event's data grows beyond 16 MiB or memory runs out. */
int aut_sse_feed(struct aut_sse *p, const char *buf, size_t len);
void aut_sse_release(struct aut_sse *p);

/* ---- what the commands share ---- */

/* Picks the mode of a command that can run either way (integrate, rollback):
 * *daemon is set true to go through autond. Auto mode (neither --local nor
 * --daemon) uses autond when it answers, else says once on stderr that the
 * job runs in this process. Returns 0, or the exit code of an error
 * (--daemon with no autond: AUT_EXIT_INFRA) after printing it. */
int aut_client_pick(struct aut_cli *cli, bool *daemon);

/* For the commands that only exist through autond: 0 when it answers, else
 * prints why (naming the socket) and returns the exit code (AUT_EXIT_INFRA;
 * AUT_EXIT_USAGE under --local). */
int aut_client_need(struct aut_cli *cli, const char *cmd);

/* Prints an API error ("autonctl: autond: 422 outside_roots: model '/etc/passwd'
 * resolves outside ...", what naming the request when the body is not an
 * API error) and returns its exit code: AUT_EXIT_USAGE for a request refused
 * (400, 413, 415, 422, 409 idempotency_conflict), AUT_EXIT_FAILED when what
 * was asked for is not there or not in a state for it (404, other 409s),
 * AUT_EXIT_INFRA otherwise (401, 5xx: autond's side). */
int aut_client_fail(long status, const cJSON *resp, const char *what);

/* The exit code of a job that ended in state with failure class cls (may be
 * NULL): the same as a local run (cmd_integrate.c): committed 0; canceled 1;
 * rolled_back/failed 1, or 3 for class infrastructure or internal;
 * interrupted 3. */
int aut_client_exit_code(const char *state, const char *cls);

/* 0 when job can be put in a URL path as it is (letters, digits, '.', '_',
 * '-'; autond's ids are "20261121-103552-733f28"), else prints a usage
 * error naming it and returns AUT_EXIT_USAGE. */
int aut_client_check_id(const char *job);

/* Whether a job state is final (not queued or running). */
bool aut_client_state_final(const char *state);

#endif
