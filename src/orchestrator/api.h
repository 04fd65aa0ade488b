/*
 * api.h - what api.c (routing, calls) shares with the endpoint files
 * (api_jobs.c, api_misc.c). A route's run() works on the thread pool and
 * fills in the answer; its after(), when set, runs on the loop first and
 * returns true when it took the request over (answered it or streams it).
 */
#ifndef AUTON_ORCH_API_H
#define AUTON_ORCH_API_H

#include <stdarg.h>
#include <stdbool.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "daemon.h"

struct aut_api_call;

struct aut_route {
    const char *method;
    const char *pattern; /* segments split on '/'; a "*" segment matches and
                            captures any one segment */
    void (*run)(struct aut_api_call *c);
    bool (*after)(struct aut_api_call *c);
};

struct aut_api_call {
    uv_work_t w;
    struct aut_daemon *d;     /* loop side only (after) */
    struct aut_http_req *req; /* read-only in run(): method, path, query, body, headers */
    const struct aut_route *route;
    bool (*after)(struct aut_api_call *c);
    struct aut_conf *conf; /* the snapshot the request started with */
    struct aut_db *db;
    char cap[2][AUT_DB_ID_MAX + 64]; /* captured path segments */
    /* the answer */
    int status;
    char ctype[64];
    char *body;
    size_t body_len;
    char headers[512]; /* extra "Name: value\r\n" lines */
    /* for after() */
    cJSON *data;
    int64_t num;
    char text[256];
};

extern const struct aut_route aut_api_routes[]; /* ends with {0} */

/* Answers with body (taken). */
void aut_api_json(struct aut_api_call *c, int status, cJSON *body);
/* Answers {"error":{"code","message"}}. */
void aut_api_fail(struct aut_api_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Resolves a model-ish path given by a client (model, manifest, prompts):
 * absolute, or relative to each of roots in turn (with ".gguf" tried when
 * try_gguf); refuses ".." components and anything whose real path (symbolic
 * links followed) is not under one of the real roots. Returns 0 with out, or
 * -1 with code ("path_traversal", "outside_roots", "not_found") and why. */
int aut_api_confine(const char *given, const char (*roots)[PATH_MAX], unsigned n_roots,
                    bool try_gguf, char *out, size_t len, const char **code, char *why,
                    size_t whylen);

/* Whether p has a ".." path component. */
bool aut_api_has_dotdot(const char *p);
/* Whether path is root or lies under it (both real paths). */
bool aut_api_under(const char *path, const char *root);

/* Queues a job for request (borrowed; no idempotency key) and answers 202
 * with it and its Location, or 500 when the store fails. */
void aut_api_queue(struct aut_api_call *c, const cJSON *request);

/* Answers with the JSON file name of the captured job's report directory,
 * or 404 code "job <id> (<state>) has no <what>" followed, while the job is
 * queued or running, by " yet: it is written when the <writer> ends", else
 * by otherwise. Returns 0 or -1 (answered either way). */
int aut_api_job_file(struct aut_api_call *c, const char *name, const char *code, const char *what,
                     const char *writer, const char *otherwise);

/* Endpoints (api_jobs.c). */
void aut_api_create(struct aut_api_call *c);
bool aut_api_create_after(struct aut_api_call *c);
void aut_api_list(struct aut_api_call *c);
void aut_api_get(struct aut_api_call *c);
void aut_api_report(struct aut_api_call *c);
void aut_api_logs(struct aut_api_call *c);
void aut_api_events(struct aut_api_call *c);
bool aut_api_events_after(struct aut_api_call *c);
void aut_api_cancel(struct aut_api_call *c);
bool aut_api_cancel_after(struct aut_api_call *c);
/* (api_misc.c) */
void aut_api_ws_rollback(struct aut_api_call *c);
void aut_api_models(struct aut_api_call *c);
void aut_api_nightly(struct aut_api_call *c);
void aut_api_nightly_run(struct aut_api_call *c);
void aut_api_metrics(struct aut_api_call *c);
/* (api_tools.c) */
void aut_api_tool(struct aut_api_call *c);
void aut_api_result(struct aut_api_call *c);

#endif
