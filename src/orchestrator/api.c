/*
 * api.c - autond's HTTP API (schemas/openapi.yaml): authentication, routing,
 * request validation and the answers. A request is checked and routed on
 * the loop; its handler runs on the thread pool (the store, files) and
 * fills in an answer, which the loop then sends, after any loop-side action
 * (starting the queue, canceling a runner, opening an event stream).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api.h"
#include "daemon.h"
#include "fsutil.h"
#include "http.h"
#include "sha256.h"

/* ---- authentication ------------------------------------------------------------------ */

/* "Bearer <token>" against the token, in time independent of where they differ:
 * both sides are hashed first, so even the length does not leak. */
static bool authorized(const struct aut_conf *c, const char *header)
{
    static const char scheme[] = "Bearer ";
    if (!c->token[0] || strncasecmp(header, scheme, sizeof scheme - 1))
        return false;
    char a[AUT_SHA256_HEX_SIZE], b[AUT_SHA256_HEX_SIZE];
    const char *given = header + sizeof scheme - 1;
    if (aut_sha256_buf(given, strlen(given), a) || aut_sha256_buf(c->token, strlen(c->token), b))
        return false;
    return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

/* ---- calls: a request on its way through the thread pool ------------------------------ */

static void call_work(uv_work_t *w)
{
    struct aut_api_call *c = w->data;
    c->route->run(c);
}

static void call_free(struct aut_api_call *c)
{
    aut_conf_put(c->conf);
    free(c->body);
    cJSON_Delete(c->data);
    free(c);
}

static void call_after(uv_work_t *w, int status)
{
    struct aut_api_call *c = w->data;
    struct aut_daemon *d = c->d;
    if (c->route->after && status == 0 && c->after(c))
        ; /* the loop-side step answered (or kept) the request itself */
    else if (c->req)
        aut_http_respond(c->req, c->status ? c->status : 500,
                         c->ctype[0] ? c->ctype : "application/json", c->body ? c->body : "",
                         c->body ? c->body_len : 0, c->headers[0] ? c->headers : NULL);
    atomic_fetch_add(&d->requests, 1);
    call_free(c);
}

void aut_api_json(struct aut_api_call *c, int status, cJSON *body)
{
    c->status = status;
    free(c->body);
    c->body = cJSON_PrintUnformatted(body);
    c->body_len = c->body ? strlen(c->body) : 0;
    snprintf(c->ctype, sizeof c->ctype, "application/json");
    cJSON_Delete(body);
}

void aut_api_fail(struct aut_api_call *c, int status, const char *code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *e = cJSON_CreateObject(), *in = cJSON_AddObjectToObject(e, "error");
    cJSON_AddStringToObject(in, "code", code);
    cJSON_AddStringToObject(in, "message", msg);
    aut_api_json(c, status, e);
}

/* ---- routing -------------------------------------------------------------------------- */

/* Splits "/v1/integrations/abc/logs/build" into at most max segments. */
static int split_path(char *path, char **seg, int max)
{
    int n = 0;
    for (char *save = NULL, *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return -1;
        seg[n++] = t;
    }
    return n;
}

/* Whether the segments match pattern; a "*" segment captures (at most two). */
static bool match(const char *pattern, char **seg, int n, char caps[2][AUT_DB_ID_MAX + 64])
{
    char pat[128];
    char *ps[8];
    snprintf(pat, sizeof pat, "%s", pattern);
    int pn = split_path(pat, ps, 8), k = 0;
    if (pn != n)
        return false;
    for (int i = 0; i < n; i++) {
        if (!strcmp(ps[i], "*")) {
            if (k == 2 || strlen(seg[i]) >= sizeof caps[0])
                return false;
            snprintf(caps[k++], sizeof caps[0], "%s", seg[i]);
        } else if (strcmp(ps[i], seg[i])) {
            return false;
        }
    }
    return true;
}

static void health(struct aut_daemon *d, struct aut_http_req *req)
{
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "status", d->stopping ? "stopping" : "ok");
    cJSON_AddStringToObject(h, "version", AUTOND_VERSION);
    cJSON_AddNumberToObject(h, "uptime_s", aut_now() - d->started);
    cJSON_AddNumberToObject(h, "running", d->n_running);
    cJSON_AddNumberToObject(h, "max_jobs", d->conf->cfg.max_jobs);
    cJSON_AddNumberToObject(h, "schema_version", AUT_DB_SCHEMA_VERSION);
    cJSON_AddNumberToObject(h, "connections", d->http ? aut_http_conn_count(d->http) : 0);
    char *text = cJSON_PrintUnformatted(h);
    aut_http_respond(req, 200, "application/json", text, strlen(text), NULL);
    atomic_fetch_add(&d->requests, 1);
    free(text);
    cJSON_Delete(h);
}

static void start_call(struct aut_daemon *d, struct aut_http_req *req, const struct aut_route *r,
                       char caps[2][AUT_DB_ID_MAX + 64])
{
    struct aut_api_call *c = calloc(1, sizeof *c);
    if (!c) {
        aut_http_error(req, 503, "out_of_memory", "out of memory");
        return;
    }
    c->d = d;
    c->req = req;
    c->route = r;
    c->after = r->after;
    c->conf = aut_daemon_conf(d);
    c->db = d->db;
    snprintf(c->cap[0], sizeof c->cap[0], "%s", caps[0]);
    snprintf(c->cap[1], sizeof c->cap[1], "%s", caps[1]);
    c->w.data = c;
    if (uv_queue_work(d->loop, &c->w, call_work, call_after)) {
        aut_http_error(req, 503, "unavailable", "cannot queue the request");
        call_free(c);
    }
}

void aut_api_handle(void *ud, struct aut_http_req *req)
{
    struct aut_daemon *d = ud;
    char path[1024], *seg[8];
    snprintf(path, sizeof path, "%s", req->path);
    int n = split_path(path, seg, 8);
    char caps[2][AUT_DB_ID_MAX + 64] = {"", ""};
    if (n == 2 && !strcmp(seg[0], "v1") && !strcmp(seg[1], "health") &&
        !strcmp(req->method, "GET")) {
        health(d, req); /* no store, no authentication: a liveness probe */
        return;
    }
    if (!req->via_unix && !authorized(d->conf, req->authorization)) {
        atomic_fetch_add(&d->requests, 1);
        aut_http_respond(req, 401, "application/json",
                         "{\"error\":{\"code\":\"unauthorized\",\"message\":\"a valid "
                         "'Authorization: Bearer <token>' header is required over TCP\"}}",
                         strlen("{\"error\":{\"code\":\"unauthorized\",\"message\":\"a valid "
                                "'Authorization: Bearer <token>' header is required over "
                                "TCP\"}}"),
                         "WWW-Authenticate: Bearer realm=\"autond\"\r\n");
        return;
    }
    bool path_known = false;
    for (const struct aut_route *r = aut_api_routes; n >= 0 && r->pattern; r++) {
        if (!match(r->pattern, seg, n, caps))
            continue;
        path_known = true;
        if (strcmp(r->method, req->method))
            continue;
        if (d->stopping && !strcmp(r->method, "POST")) {
            aut_http_error(req, 503, "shutting_down", "autond is shutting down");
            return;
        }
        start_call(d, req, r, caps);
        return;
    }
    atomic_fetch_add(&d->requests, 1);
    if (path_known)
        aut_http_error(req, 405, "method_not_allowed", "%s is not allowed on %s", req->method,
                       req->path);
    else
        aut_http_error(req, 404, "not_found", "no such endpoint: %s %s", req->method, req->path);
}
