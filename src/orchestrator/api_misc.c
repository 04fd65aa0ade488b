/*
 * api_misc.c - the route table and the endpoints beyond single jobs:
 * workspace rollback, the models under the roots, nightly runs and
 * Prometheus metrics. run() functions work on the thread pool.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "fsutil.h"
#include "http.h"
#include "sbuf.h"

const struct aut_route aut_api_routes[] = {
    {"POST", "v1/integrations", aut_api_create, aut_api_create_after},
    {"GET", "v1/integrations", aut_api_list, NULL},
    {"GET", "v1/integrations/*", aut_api_get, NULL},
    {"GET", "v1/integrations/*/report", aut_api_report, NULL},
    {"GET", "v1/integrations/*/logs/*", aut_api_logs, NULL},
    {"GET", "v1/integrations/*/events", aut_api_events, aut_api_events_after},
    {"POST", "v1/integrations/*/cancel", aut_api_cancel, aut_api_cancel_after},
    {"POST", "v1/workspaces/*/rollback", aut_api_ws_rollback, aut_api_create_after},
    {"GET", "v1/models", aut_api_models, NULL},
    {"GET", "v1/nightly", aut_api_nightly, NULL},
    {"POST", "v1/nightly/run", aut_api_nightly_run, aut_api_create_after},
    {"POST", "v1/tools/*", aut_api_tool, aut_api_create_after},
    {"GET", "v1/integrations/*/result", aut_api_result, NULL},
    {"GET", "metrics", aut_api_metrics, NULL},
    {0},
};

/* ---- POST /v1/workspaces/{arch}/rollback {reason?} ---------------------------------------- */

void aut_api_ws_rollback(struct aut_api_call *c)
{
    const struct aut_http_req *q = c->req;
    if (strcmp(c->cap[0], "x86_64"))
        return aut_api_fail(c, 404, "unknown_workspace", "no workspace '%s' (x86_64)", c->cap[0]);
    cJSON *body = q->body_len ? cJSON_ParseWithLength(q->body, q->body_len) : cJSON_CreateObject();
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return aut_api_fail(c, 400, "invalid_json", "the body must be a JSON object (or empty)");
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, body)
    {
        if (strcmp(f->string, "reason") || !cJSON_IsString(f)) {
            aut_api_fail(c, 400, strcmp(f->string, "reason") ? "unknown_field" : "invalid_type",
                         "field '%s': the only field is reason (a string)", f->string);
            cJSON_Delete(body);
            return;
        }
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "kind", "rollback");
    cJSON_AddStringToObject(r, "arch", c->cap[0]);
    const char *reason = cJSON_GetStringValue(cJSON_GetObjectItem(body, "reason"));
    cJSON_AddStringToObject(r, "reason", reason ? reason : "requested through autond's API");
    cJSON_Delete(body);
    aut_api_queue(c, r);
    cJSON_Delete(r);
}

/* ---- GET /v1/models ----------------------------------------------------------------------- */

static void add_manifest(cJSON *m, const char *root, const char *stem)
{
    char path[PATH_MAX * 2], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/manifests/%s.json", root, stem);
    if (aut_read_file(path, 1 << 20, &text, &len, NULL, 0)) {
        cJSON_AddNullToObject(m, "manifest");
        return;
    }
    cJSON *man = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(man)) {
        cJSON_Delete(man);
        cJSON_AddStringToObject(m, "manifest_error", "not a JSON object");
        cJSON_AddNullToObject(m, "manifest");
        return;
    }
    cJSON_AddStringToObject(m, "manifest", path);
    static const char *const keep[] = {
        "sha256", "quantization",   "parameters",         "architecture",
        "preset", "weights_sha256", "pool_estimate_bytes"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        cJSON *v = cJSON_GetObjectItem(man, keep[i]);
        if (v)
            cJSON_AddItemToObject(m, keep[i], cJSON_Duplicate(v, 1));
    }
    cJSON_Delete(man);
}

static void scan_root(cJSON *out, const char *root)
{
    DIR *dir = opendir(root);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t n = strlen(e->d_name);
        if (n <= 5 || strcmp(e->d_name + n - 5, ".gguf"))
            continue;
        char path[PATH_MAX * 2], stem[256];
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        struct stat st;
        if (stat(path, &st) || !S_ISREG(st.st_mode))
            continue;
        snprintf(stem, sizeof stem, "%.*s", (int)(n - 5), e->d_name);
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", stem);
        cJSON_AddStringToObject(m, "path", path);
        cJSON_AddStringToObject(m, "root", root);
        cJSON_AddNumberToObject(m, "bytes", (double)st.st_size);
        cJSON_AddNumberToObject(m, "mtime", (double)st.st_mtime);
        add_manifest(m, root, stem);
        cJSON_AddItemToArray(out, m);
    }
    closedir(dir);
}

void aut_api_models(struct aut_api_call *c)
{
    const struct aut_config *cfg = &c->conf->cfg;
    cJSON *out = cJSON_CreateObject(), *roots = cJSON_AddArrayToObject(out, "roots");
    cJSON *items = cJSON_AddArrayToObject(out, "items");
    for (unsigned i = 0; i < cfg->n_model_roots; i++) {
        cJSON_AddItemToArray(roots, cJSON_CreateString(cfg->model_roots[i]));
        scan_root(items, cfg->model_roots[i]);
    }
    aut_api_json(c, 200, out);
}

/* ---- nightly ------------------------------------------------------------------------------ */

void aut_api_nightly(struct aut_api_call *c)
{
    char limit_s[16] = "";
    aut_http_query_param(c->req->query, "limit", limit_s, sizeof limit_s);
    long limit = limit_s[0] ? strtol(limit_s, NULL, 10) : 30;
    if (limit < 1 || limit > 1000)
        return aut_api_fail(c, 400, "invalid_parameter", "limit '%s': expected 1..1000", limit_s);
    cJSON *h = aut_nightly_history(c->d, c->conf, (unsigned)limit);
    if (!h)
        return aut_api_fail(c, 500, "store", "job store: %s", aut_db_error(c->db));
    aut_api_json(c, 200, h);
}

void aut_api_nightly_run(struct aut_api_call *c)
{
    cJSON *out = NULL;
    char err[1024];
    if (aut_nightly_start(c->d, c->conf, "manual", NULL, &out, err, sizeof err))
        return aut_api_fail(c, 422, "nightly", "%s", err);
    aut_api_json(c, 202, out);
}

/* ---- GET /metrics (Prometheus text format 0.0.4) ----------------------------------------------
 */

static void metric_head(struct aut_sbuf *b, const char *name, const char *type, const char *help)
{
    aut_sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void jobs_metrics(struct aut_sbuf *b, struct aut_db *db)
{
    cJSON *counts = NULL, *st, *cl;
    metric_head(b, "autond_jobs", "gauge", "Jobs in the store by state and failure class.");
    if (aut_db_job_counts(db, &counts) == 0)
        cJSON_ArrayForEach(st, counts) cJSON_ArrayForEach(cl, st)
            aut_sbuf_printf(b, "autond_jobs{state=\"%s\",class=\"%s\"} %d\n", st->string,
                            cl->string, (int)cl->valuedouble);
    cJSON_Delete(counts);
    unsigned depth = 0;
    aut_db_queue_depth(db, &depth);
    metric_head(b, "autond_queue_depth", "gauge", "Jobs waiting to run.");
    aut_sbuf_printf(b, "autond_queue_depth %u\n", depth);
    cJSON *stats = NULL, *s;
    metric_head(b, "autond_stage_duration_seconds", "summary", "Time spent in each stage.");
    if (aut_db_stage_stats(db, &stats) == 0)
        cJSON_ArrayForEach(s, stats)
        {
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(s, "name"));
            aut_sbuf_printf(b, "autond_stage_duration_seconds_sum{stage=\"%s\"} %.3f\n", name,
                            cJSON_GetNumberValue(cJSON_GetObjectItem(s, "sum_s")));
            aut_sbuf_printf(b, "autond_stage_duration_seconds_count{stage=\"%s\"} %d\n", name,
                            (int)cJSON_GetNumberValue(cJSON_GetObjectItem(s, "count")));
        }
    cJSON_Delete(stats);
}

static void last_metrics(struct aut_sbuf *b, struct aut_db *db)
{
    cJSON *last = aut_db_job_last_finished(db);
    const cJSON *sum = cJSON_GetObjectItem(last, "summary");
    static const struct {
        const char *key, *name, *help;
    } figs[] = {
        {"tok_s", "autond_last_integration_tokens_per_second",
         "Mean generation speed over the prompts of the last finished integration."},
        {"boot_ms", "autond_last_integration_boot_milliseconds",
         "Boot time of the last finished integration's kernel."},
        {"pool_peak_mb", "autond_last_integration_pool_peak_megabytes",
         "Peak SLM pool use of the last finished integration."},
    };
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++) {
        const cJSON *v = cJSON_GetObjectItem(sum, figs[i].key);
        if (!cJSON_IsNumber(v))
            continue;
        metric_head(b, figs[i].name, "gauge", figs[i].help);
        aut_sbuf_printf(b, "%s{job=\"%s\"} %.3f\n", figs[i].name,
                        cJSON_GetStringValue(cJSON_GetObjectItem(last, "id")), v->valuedouble);
    }
    cJSON_Delete(last);
}

void aut_api_metrics(struct aut_api_call *c)
{
    struct aut_sbuf b = {0};
    struct aut_daemon *d = c->d;
    jobs_metrics(&b, c->db);
    last_metrics(&b, c->db);
    metric_head(&b, "autond_jobs_running", "gauge", "Jobs running now.");
    aut_sbuf_printf(&b, "autond_jobs_running %u\n", d->n_running);
    metric_head(&b, "autond_http_requests_total", "counter", "HTTP requests answered.");
    aut_sbuf_printf(&b, "autond_http_requests_total %llu\n",
                    (unsigned long long)atomic_load(&d->requests));
    metric_head(&b, "autond_uptime_seconds", "gauge", "Seconds since autond started.");
    aut_sbuf_printf(&b, "autond_uptime_seconds %.1f\n", aut_now() - d->started);
    c->status = 200;
    c->body = b.p;
    c->body_len = b.len;
    snprintf(c->ctype, sizeof c->ctype, "text/plain; version=0.0.4; charset=utf-8");
}
