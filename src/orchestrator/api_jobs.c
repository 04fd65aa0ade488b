/*
 * api_jobs.c - the /v1/integrations endpoints: submit (validated, confined
 * to the model roots, idempotent), list, show, report, logs, events, cancel.
 * Everything but the *_after functions runs on the thread pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "fsutil.h"
#include "http.h"
#include "httpc.h"
#include "job.h"
#include "sha256.h"

#define LOG_CHUNK_MAX (1024 * 1024)

/* ---- confinement ----------------------------------------------------------------------- */

bool aut_api_has_dotdot(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
            return true;
    return false;
}

bool aut_api_under(const char *path, const char *root)
{
    size_t n = strlen(root);
    return !strncmp(path, root, n) && (path[n] == '/' || path[n] == '\0' || !strcmp(root, "/"));
}

/* Whether real lies under the real path of one of the roots. */
static bool under_a_root(const char *real, const char (*roots)[PATH_MAX], unsigned n_roots)
{
    for (unsigned i = 0; i < n_roots; i++) {
        char real_root[PATH_MAX];
        if (realpath(roots[i], real_root) && aut_api_under(real, real_root))
            return true;
    }
    return false;
}

int aut_api_confine(const char *given, const char (*roots)[PATH_MAX], unsigned n_roots,
                    bool try_gguf, char *out, size_t len, const char **code, char *why,
                    size_t whylen)
{
    if (aut_api_has_dotdot(given)) {
        *code = "path_traversal";
        snprintf(why, whylen, "'%s': a '..' path component is not allowed", given);
        return -1;
    }
    bool found = false;
    for (unsigned i = 0; i < n_roots; i++) {
        for (int g = 0; g < (try_gguf ? 2 : 1); g++) {
            char cand[PATH_MAX * 2], real[PATH_MAX];
            if (given[0] == '/')
                snprintf(cand, sizeof cand, "%s%s", given, g ? ".gguf" : "");
            else
                snprintf(cand, sizeof cand, "%s/%s%s", roots[i], given, g ? ".gguf" : "");
            struct stat st;
            if (!realpath(cand, real) || stat(real, &st) || !S_ISREG(st.st_mode))
                continue;
            found = true;
            if (under_a_root(real, roots, n_roots) && strlen(real) < len) {
                snprintf(out, len, "%s", real);
                return 0;
            }
        }
    }
    *code = found ? "outside_roots" : "not_found";
    if (found)
        snprintf(why, whylen, "'%s' resolves outside the model roots (symbolic links followed)",
                 given);
    else
        snprintf(why, whylen, "'%s': no such file under the model roots", given);
    return -1;
}

/* ---- submit ---------------------------------------------------------------------------- */

static const char *const allowed_fields[] = {
    "model", "manifest", "arch", "prompts", "rollback", "fallback", "priority", "bridge", NULL};

static bool one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(v, *set))
            return true;
    return false;
}

/* The type checks; 0 or -1 after answering. */
static int check_fields(struct aut_api_call *c, const cJSON *r)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, r)
    {
        if (!one_of(f->string, allowed_fields)) {
            aut_api_fail(c, 400, "unknown_field",
                         "unknown field '%s' (allowed: model, "
                         "manifest, arch, prompts, rollback, fallback, priority, bridge)",
                         f->string);
            return -1;
        }
        bool ok = !strcmp(f->string, "priority") ? cJSON_IsNumber(f)
                  : !strcmp(f->string, "bridge") ? cJSON_IsBool(f)
                                                 : cJSON_IsString(f);
        if (!ok) {
            aut_api_fail(c, 400, "invalid_type", "field '%s': expected %s", f->string,
                         !strcmp(f->string, "priority") ? "an integer"
                         : !strcmp(f->string, "bridge") ? "a boolean"
                                                        : "a string");
            return -1;
        }
    }
    return 0;
}

static const char *sval(const cJSON *r, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, k));
}

/* The values; rewrites paths to their confined real paths. 0 or -1 after answering. */
static int check_values(struct aut_api_call *c, cJSON *r)
{
    const struct aut_config *cfg = &c->conf->cfg;
    static const char *const archs[] = {"x86_64", NULL}, *const rollbacks[] = {"rule-engine",
                                                                               "previous", NULL};
    static const char *const fallbacks[] = {"auto", "off", NULL};
    const char *model = sval(r, "model"), *v;
    if (!model || !model[0])
        return aut_api_fail(c, 422, "missing_field", "field 'model' is required"), -1;
    if ((v = sval(r, "arch")) && !one_of(v, archs))
        return aut_api_fail(c, 422, "invalid_value",
                            "arch '%s': not supported (supported: "
                            "x86_64; aarch64 and riscv64 come later)",
                            v),
               -1;
    if ((v = sval(r, "rollback")) && !one_of(v, rollbacks))
        return aut_api_fail(c, 422, "invalid_value",
                            "rollback '%s': expected rule-engine or previous", v),
               -1;
    if ((v = sval(r, "fallback")) && !one_of(v, fallbacks))
        return aut_api_fail(c, 422, "invalid_value", "fallback '%s': expected auto or off", v), -1;
    const cJSON *p = cJSON_GetObjectItem(r, "priority");
    if (p && (p->valuedouble != (double)(int)p->valuedouble || p->valuedouble < -100 ||
              p->valuedouble > 100))
        return aut_api_fail(c, 422, "invalid_value",
                            "priority: expected an integer in "
                            "-100..100"),
               -1;
    /* paths: model and manifest under the model roots; prompts there or beside the
     * configured prompts */
    static const char *const path_fields[] = {"model", "manifest", "prompts"};
    for (int i = 0; i < 3; i++) {
        const char *given = sval(r, path_fields[i]);
        if (!given || (i < 2 && aut_httpc_is_url(given)))
            continue;
        char roots[AUT_CONFIG_MAX_ROOTS + 1][PATH_MAX], out[PATH_MAX], why[PATH_MAX + 128];
        unsigned n = cfg->n_model_roots;
        memcpy(roots, cfg->model_roots, sizeof roots[0] * n);
        if (i == 2) {
            snprintf(roots[n], PATH_MAX, "%s", cfg->prompts);
            char *slash = strrchr(roots[n], '/');
            if (slash)
                *slash = '\0';
            n++;
        }
        const char *code;
        if (aut_api_confine(given, (const char(*)[PATH_MAX])roots, n, i == 0, out, sizeof out,
                            &code, why, sizeof why))
            return aut_api_fail(c, 422, code, "%s %s", path_fields[i], why), -1;
        cJSON_ReplaceItemInObject(r, path_fields[i], cJSON_CreateString(out));
    }
    return 0;
}

int aut_api_insert_job(struct aut_daemon *d, const cJSON *request, const char *idem_key,
                       const char *idem_hash, int64_t nightly_id, const char *retry_of,
                       char id[AUT_DB_ID_MAX])
{
    char *text = cJSON_PrintUnformatted(request);
    const cJSON *p = cJSON_GetObjectItem(request, "priority");
    const char *model = sval(request, "model"), *arch = sval(request, "arch");
    char existing[AUT_DB_ID_MAX] = "";
    aut_job_make_id(id, AUT_DB_ID_MAX);
    struct aut_db_job_new j = {
        .id = id,
        .arch = arch ? arch : "x86_64",
        .model = model ? model : "(workspace rollback)",
        .priority = cJSON_IsNumber(p) ? (int)p->valuedouble : 0,
        .request_json = text ? text : "{}",
        .idem_key = idem_key,
        .idem_hash = idem_hash,
        .nightly_id = nightly_id,
        .retry_of = retry_of,
    };
    int rc = aut_db_job_insert(d->db, &j, aut_now(), existing);
    free(text);
    if (rc == 1 || rc == -EEXIST)
        snprintf(id, AUT_DB_ID_MAX, "%s", existing);
    return rc;
}

void aut_api_queue(struct aut_api_call *c, const cJSON *request)
{
    char id[AUT_DB_ID_MAX];
    int rc = aut_api_insert_job(c->d, request, NULL, NULL, 0, NULL, id);
    cJSON *job = rc < 0 ? NULL : aut_db_job_get(c->db, id);
    if (!job)
        return aut_api_fail(c, 500, "store", "job store: %s", aut_db_error(c->db));
    snprintf(c->headers, sizeof c->headers, "Location: /v1/integrations/%s\r\n", id);
    aut_api_json(c, 202, job);
}

void aut_api_create(struct aut_api_call *c)
{
    const struct aut_http_req *q = c->req;
    if (q->content_type[0] && strncasecmp(q->content_type, "application/json", 16))
        return aut_api_fail(c, 415, "unsupported_media_type",
                            "Content-Type '%s': expected application/json", q->content_type);
    const char *end = NULL;
    cJSON *r = cJSON_ParseWithLengthOpts(q->body, q->body_len, &end, false);
    if (!r)
        return aut_api_fail(c, 400, "invalid_json", "the body is not JSON (error near byte %ld)",
                            end ? (long)(end - q->body) : 0L);
    if (!cJSON_IsObject(r)) {
        cJSON_Delete(r);
        return aut_api_fail(c, 400, "invalid_json", "the body must be a JSON object");
    }
    if (check_fields(c, r)) {
        cJSON_Delete(r);
        return;
    }
    const char *given = sval(r, "model");
    cJSON_AddStringToObject(r, "model_requested", given ? given : "");
    if (check_values(c, r)) {
        cJSON_Delete(r);
        return;
    }
    char hash[AUT_SHA256_HEX_SIZE], id[AUT_DB_ID_MAX];
    aut_sha256_buf(q->body, q->body_len, hash);
    const char *key = q->idempotency_key[0] ? q->idempotency_key : NULL;
    int rc = aut_api_insert_job(c->d, r, key, key ? hash : NULL, 0, NULL, id);
    cJSON_Delete(r);
    if (rc == -EEXIST)
        return aut_api_fail(c, 409, "idempotency_conflict",
                            "Idempotency-Key '%s' was used by job %s with a different body", key,
                            id);
    if (rc < 0)
        return aut_api_fail(c, 500, "store", "job store: %s", aut_db_error(c->db));
    cJSON *job = aut_db_job_get(c->db, id);
    if (!job)
        return aut_api_fail(c, 500, "store", "job store: %s", aut_db_error(c->db));
    snprintf(c->headers, sizeof c->headers, "Location: /v1/integrations/%s\r\n%s", id,
             rc == 1 ? "Idempotent-Replayed: true\r\n" : "");
    aut_api_json(c, 202, job);
}

bool aut_api_create_after(struct aut_api_call *c)
{
    if (c->status == 202)
        aut_sched_kick(c->d);
    return false;
}

/* ---- reading ----------------------------------------------------------------------------- */

void aut_api_list(struct aut_api_call *c)
{
    static const char *const states[] = {"queued",      "running", "committed",
                                         "rolled_back", "failed",  "canceled",
                                         "interrupted", "done",    NULL};
    char state[32] = "", limit_s[16] = "", cursor_s[24] = "";
    const char *q = c->req->query;
    if (aut_http_query_param(q, "state", state, sizeof state) < 0 ||
        aut_http_query_param(q, "limit", limit_s, sizeof limit_s) < 0 ||
        aut_http_query_param(q, "cursor", cursor_s, sizeof cursor_s) < 0)
        return aut_api_fail(c, 400, "invalid_parameter", "a query parameter is badly encoded");
    if (state[0] && !one_of(state, states))
        return aut_api_fail(c, 400, "invalid_parameter",
                            "state '%s': expected one of queued, "
                            "running, committed, rolled_back, failed, canceled, interrupted, "
                            "done",
                            state);
    char *end;
    long limit = limit_s[0] ? strtol(limit_s, &end, 10) : 50;
    if (limit_s[0] && (*end || limit < 1 || limit > 1000))
        return aut_api_fail(c, 400, "invalid_parameter", "limit '%s': expected 1..1000", limit_s);
    long long cursor = cursor_s[0] ? strtoll(cursor_s, &end, 10) : 0;
    if (cursor_s[0] && (*end || cursor < 1))
        return aut_api_fail(c, 400, "invalid_parameter",
                            "cursor '%s': not a cursor this API "
                            "gave",
                            cursor_s);
    cJSON *items = NULL;
    int64_t next = 0;
    if (aut_db_job_list(c->db, state[0] ? state : NULL, (unsigned)limit, cursor, &items, &next))
        return aut_api_fail(c, 500, "store", "job store: %s", aut_db_error(c->db));
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "items", items);
    if (next) {
        char buf[24];
        snprintf(buf, sizeof buf, "%lld", (long long)next);
        cJSON_AddStringToObject(out, "next_cursor", buf);
    } else {
        cJSON_AddNullToObject(out, "next_cursor");
    }
    aut_api_json(c, 200, out);
}

/* The job of the captured id, or NULL after a 404. */
static cJSON *job_or_404(struct aut_api_call *c)
{
    cJSON *job = aut_db_job_get(c->db, c->cap[0]);
    if (!job)
        aut_api_fail(c, 404, "unknown_job", "no job '%s'", c->cap[0]);
    return job;
}

void aut_api_get(struct aut_api_call *c)
{
    cJSON *job = job_or_404(c), *stages = NULL, *deliveries = NULL;
    if (!job)
        return;
    if (aut_db_stages(c->db, c->cap[0], &stages) == 0)
        cJSON_AddItemToObject(job, "stages", stages);
    if (aut_db_deliveries(c->db, c->cap[0], &deliveries) == 0)
        cJSON_AddItemToObject(job, "deliveries", deliveries);
    aut_api_json(c, 200, job);
}

static const char *report_dir(const cJSON *job)
{
    return cJSON_GetStringValue(cJSON_GetObjectItem(job, "report_dir"));
}

int aut_api_job_file(struct aut_api_call *c, const char *name, const char *code, const char *what,
                     const char *writer, const char *otherwise)
{
    cJSON *job = job_or_404(c);
    if (!job)
        return -1;
    const char *dir = report_dir(job);
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(job, "state"));
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "", name);
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (!dir || aut_read_file(path, 64 << 20, &text, &len, NULL, 0)) {
        bool ongoing = st && (!strcmp(st, "queued") || !strcmp(st, "running"));
        aut_api_fail(c, 404, code, "job %s (%s) has no %s%s%s%s", c->cap[0], st, what,
                     ongoing ? " yet: it is written when the " : otherwise, ongoing ? writer : "",
                     ongoing ? " ends" : "");
        rc = -1;
    } else {
        c->status = 200;
        c->body = text;
        c->body_len = len;
        snprintf(c->ctype, sizeof c->ctype, "application/json");
    }
    cJSON_Delete(job);
    return rc;
}

void aut_api_report(struct aut_api_call *c)
{
    aut_api_job_file(c, "integration_test_report.json", "no_report", "report", "job", "");
}

void aut_api_logs(struct aut_api_call *c)
{
    const char *which = c->cap[1];
    if (strcmp(which, "build") && strcmp(which, "console"))
        return aut_api_fail(c, 404, "unknown_log", "no log '%s' (build or console)", which);
    cJSON *job = job_or_404(c);
    if (!job)
        return;
    char off_s[24] = "", path[PATH_MAX + 32];
    aut_http_query_param(c->req->query, "offset", off_s, sizeof off_s);
    long long off = off_s[0] ? strtoll(off_s, NULL, 10) : 0;
    const char *dir = report_dir(job),
               *st = cJSON_GetStringValue(cJSON_GetObjectItem(job, "state"));
    snprintf(path, sizeof path, "%s/%s.log", dir ? dir : "", which);
    int fd = dir ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat sb = {0};
    if (fd >= 0)
        fstat(fd, &sb);
    if (off < 0 || off > sb.st_size)
        off = sb.st_size;
    size_t want =
        (size_t)(sb.st_size - off) < LOG_CHUNK_MAX ? (size_t)(sb.st_size - off) : LOG_CHUNK_MAX;
    c->body = malloc(want + 1);
    ssize_t got = c->body && fd >= 0 ? pread(fd, c->body, want, off) : 0;
    if (fd >= 0)
        close(fd);
    c->body_len = got > 0 ? (size_t)got : 0;
    c->status = 200;
    snprintf(c->ctype, sizeof c->ctype, "text/plain; charset=utf-8");
    snprintf(c->headers, sizeof c->headers, "X-Log-Offset: %lld\r\nX-Job-State: %s\r\n",
             off + (long long)c->body_len, st ? st : "unknown");
    cJSON_Delete(job);
}

void aut_api_events(struct aut_api_call *c)
{
    cJSON *job = job_or_404(c);
    if (!job)
        return;
    char after_s[24] = "";
    const char *last = c->req->last_event_id;
    if (!last[0] && aut_http_query_param(c->req->query, "after", after_s, sizeof after_s) > 0)
        last = after_s;
    c->num = last[0] ? strtoll(last, NULL, 10) : 0;
    if (c->num < 0)
        c->num = 0;
    c->status = 200;
    cJSON_Delete(job);
}

bool aut_api_events_after(struct aut_api_call *c)
{
    if (c->status != 200)
        return false;
    aut_sub_stream(c->d, c->req, c->cap[0], c->num);
    c->req = NULL;
    return true;
}

/* ---- cancel ------------------------------------------------------------------------------ */

void aut_api_cancel(struct aut_api_call *c)
{
    cJSON *job = job_or_404(c);
    if (!job)
        return;
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(job, "state"));
    if (st && strcmp(st, "queued") && strcmp(st, "running")) {
        aut_api_fail(c, 409, "job_finished", "job %s has already ended (%s)", c->cap[0], st);
        cJSON_Delete(job);
        return;
    }
    cJSON_Delete(job);
    aut_db_job_request_cancel(c->db, c->cap[0]);
    /* a queued job ends here; a running one is canceled by its runner (after), and
     * one that starts meanwhile sees cancel_requested */
    c->num = aut_db_job_cancel_queued(c->db, c->cap[0], aut_now()) == 0 ? 0 : 1;
    job = aut_db_job_get(c->db, c->cap[0]);
    if (c->num == 0) /* ended here: its streams and the manager hear of it (after) */
        c->data = aut_sched_end_event(job);
    aut_api_json(c, 202, job);
}

bool aut_api_cancel_after(struct aut_api_call *c)
{
    if (c->status == 202 && c->num == 1)
        aut_sched_cancel(c->d, c->cap[0], "canceled through the API");
    if (c->status == 202 && c->num == 0) {
        aut_sub_end(c->d, c->cap[0], "canceled");
        if (c->data)
            aut_hook_send(c->d, c->cap[0], "job.finished", c->data);
    }
    return false;
}
