/*
 * sched.c - the job queue's engine: picks queued jobs (highest priority,
 * then FIFO; never two on one workspace, at most max_jobs at once), runs
 * each on a thread of its own with the IntegratorAgent pipeline, records its
 * stages and events in the store from that thread, and hands the events to
 * the loop (uv_async) for the event streams and the webhooks. Also the
 * recovery of jobs a crash left running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "fsutil.h"
#include "pipeline.h"
#include "process.h"
#include "report.h"
#include "tools.h"
#include "workspace.h"

struct aut_runner {
    struct aut_runner *next;
    struct aut_daemon *d;
    struct aut_conf *conf;
    char id[AUT_DB_ID_MAX];
    char arch[16];
    cJSON *req;
    struct aut_job *job;     /* while it runs; guarded by d->mu */
    char cancel_reason[256]; /* a cancel that came before the job existed */
    int64_t nightly_id;      /* 0: not part of a nightly run */
    uv_thread_t thread;
};

/* ---- messages: job threads -> loop ------------------------------------------------ */

static void post(struct aut_daemon *d, const char *job, int64_t seq, const char *type,
                 const char *data)
{
    struct aut_msg *m = calloc(1, sizeof *m);
    if (!m)
        return;
    snprintf(m->job, sizeof m->job, "%s", job);
    m->seq = seq;
    m->type = strdup(type);
    m->data = strdup(data ? data : "{}");
    uv_mutex_lock(&d->mu);
    *d->msgs_tail = m;
    d->msgs_tail = &m->next;
    uv_mutex_unlock(&d->mu);
    uv_async_send(&d->wake);
}

static void msg_free(struct aut_msg *m)
{
    free(m->type);
    free(m->data);
    free(m);
}

/* ---- the job's thread ------------------------------------------------------------ */

static void record_event(struct aut_runner *r, const char *type, const cJSON *data)
{
    struct aut_daemon *d = r->d;
    char *text = cJSON_PrintUnformatted(data);
    int64_t seq = 0;
    if (text && aut_db_event_add(d->db, r->id, type, text, aut_now(), &seq) == 0)
        post(d, r->id, seq, type, text);
    free(text);
}

/* Stages in the store, and a "progress" event per stage started. */
static void record_stage(struct aut_runner *r, const cJSON *data)
{
    struct aut_daemon *d = r->d;
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(data, "stage"));
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItem(data, "status"));
    double attempt = cJSON_GetNumberValue(cJSON_GetObjectItem(data, "attempt"));
    if (!name || !status)
        return;
    unsigned a = attempt > 0 ? (unsigned)attempt : 1;
    double now = aut_now();
    if (!strcmp(status, "running")) {
        aut_db_stage_begin(d->db, r->id, a, name, now);
        aut_db_job_set_stage(d->db, r->id, name, a);
        size_t n = 0;
        const char *const *names = aut_stage_names(&n);
        unsigned idx = 0;
        while (idx < n && strcmp(names[idx], name))
            idx++;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "stage", name);
        cJSON_AddNumberToObject(p, "attempt", a);
        /* the last stage (notify) is 100 %: a job runs commit or rollback, not both,
         * so rollback shares commit's place */
        unsigned place = idx, last = n > 2 ? (unsigned)n - 2 : 1;
        if (idx + 1 == n)
            place = last;
        else if (!strcmp(name, "rollback") && idx > 0)
            place = idx - 1;
        cJSON_AddNumberToObject(p, "index", place);
        cJSON_AddNumberToObject(p, "total", last + 1);
        cJSON_AddNumberToObject(p, "percent", 100.0 * place / last);
        record_event(r, "progress", p);
        cJSON_Delete(p);
    } else {
        double ms = cJSON_GetNumberValue(cJSON_GetObjectItem(data, "ms"));
        const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(data, "error"));
        aut_db_stage_end(d->db, r->id, a, name, !strcmp(status, "passed") ? "ok" : status,
                         ms / 1000.0, e, now);
    }
}

static void on_job_event(void *ud, const char *type, const cJSON *data)
{
    struct aut_runner *r = ud;
    if (!strcmp(type, "stage"))
        record_stage(r, data);
    record_event(r, type, data);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
    return v && *v ? v : NULL;
}

cJSON *aut_sched_end_event(const cJSON *job)
{
    static const char *const keys[] = {"state", "arch",    "model",         "class",
                                       "stage", "message", "recommendation"};
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "event", "job.finished");
    cJSON_AddStringToObject(e, "job", jstr(job, "id") ? jstr(job, "id") : "");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItem(job, keys[i]);
        cJSON_AddItemToObject(e, keys[i], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
    }
    cJSON_AddStringToObject(e, "decision", "unchanged");
    const cJSON *sum = cJSON_GetObjectItem(job, "summary");
    cJSON_AddItemToObject(e, "summary", sum ? cJSON_Duplicate(sum, 1) : cJSON_CreateNull());
    char url[128];
    snprintf(url, sizeof url, "/v1/integrations/%s/report", jstr(job, "id") ? jstr(job, "id") : "");
    cJSON_AddStringToObject(e, "report", url);
    cJSON_AddNumberToObject(e, "time", aut_now());
    return e;
}

static double num_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(o, a), b);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The key figures of a finished job, for listings, metrics and nightly trends. */
static cJSON *summarize(const struct aut_job *job, const char *state)
{
    cJSON *s = cJSON_CreateObject();
    const cJSON *rep = job->report;
    cJSON_AddStringToObject(s, "decision", aut_report_decision(job));
    cJSON_AddBoolToObject(s, "passed", job->fail_class == AUT_FAIL_NONE);
    if (job->model.name[0])
        cJSON_AddStringToObject(s, "model_name", job->model.name);
    if (job->model.sha256[0])
        cJSON_AddStringToObject(s, "model_sha256", job->model.sha256);
    if (job->model.quant[0])
        cJSON_AddStringToObject(s, "quant", job->model.quant);
    if (job->accel[0])
        cJSON_AddStringToObject(s, "accel", job->accel);
    if (job->commit[0])
        cJSON_AddStringToObject(s, "commit", job->commit);
    double boot = num_at(rep, "boot", "boot_ms");
    if (boot >= 0)
        cJSON_AddNumberToObject(s, "boot_ms", boot);
    double tok = 0, peak = 0;
    unsigned n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(rep, "prompts"))
    {
        const cJSON *t = cJSON_GetObjectItem(p, "tok_s"), *pk = cJSON_GetObjectItem(p, "pool_peak");
        if (cJSON_IsNumber(t)) {
            tok += t->valuedouble;
            n++;
        }
        if (cJSON_IsNumber(pk) && pk->valuedouble > peak)
            peak = pk->valuedouble;
    }
    if (n) {
        cJSON_AddNumberToObject(s, "tok_s", tok / n);
        cJSON_AddNumberToObject(s, "pool_peak_mb", peak / (1024.0 * 1024.0));
    }
    (void)state;
    return s;
}

/* The webhook body of a job's end: what a ManagerAgent needs to act. */
static cJSON *end_event(const struct aut_job *job, const char *state, const cJSON *summary)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "event", "job.finished");
    cJSON_AddStringToObject(e, "job", job->id);
    cJSON_AddStringToObject(e, "state", state);
    cJSON_AddStringToObject(e, "arch", job->arch);
    cJSON_AddStringToObject(e, "model", job->model_arg);
    if (job->fail_class != AUT_FAIL_NONE) {
        cJSON_AddStringToObject(e, "class", aut_fail_class_name(job->fail_class));
        cJSON_AddStringToObject(e, "stage", job->fail_stage);
        cJSON_AddStringToObject(e, "message", job->fail_msg);
        cJSON_AddStringToObject(e, "recommendation", job->recommendation);
    } else {
        cJSON_AddNullToObject(e, "class");
    }
    cJSON_AddStringToObject(e, "decision", aut_report_decision(job));
    cJSON_AddItemToObject(e, "summary", cJSON_Duplicate(summary, 1));
    char url[128];
    snprintf(url, sizeof url, "/v1/integrations/%s/report", job->id);
    cJSON_AddStringToObject(e, "report", url);
    cJSON_AddNumberToObject(e, "time", aut_now());
    return e;
}

static int rollback_main(struct aut_job *job);

static int run_rollback(struct aut_job *job)
{
    double t0 = aut_now();
    aut_job_stage_event(job, "rollback", "running", -1);
    int rc = rollback_main(job);
    aut_job_stage_event(job, "rollback", rc ? "failed" : "passed", (aut_now() - t0) * 1000.0);
    return rc;
}

static int rollback_main(struct aut_job *job)
{
    if (aut_job_open_workspace(job))
        return -1;
    if (!job->main_has_model) {
        aut_report_note(job, "main is already on the rule engine (%.12s): nothing to do",
                        job->base);
        return 0;
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "Roll back to the rule engine\n\n%s\nJob: %s\n",
             jstr(job->report, "reason") ? jstr(job->report, "reason")
                                         : "requested through autond's API",
             job->id);
    if (aut_job_rollback_main(job, msg))
        return -1;
    job->rolled_back = true;
    return 0;
}

/* Runs the job and returns its final state; *body: the end event. */
static bool kind_is(const cJSON *req, const char *kind)
{
    const char *k = jstr(req, "kind");
    return k && !strcmp(k, kind);
}

/* A job event around work that is not the pipeline's (rollback, tools). */
static cJSON *job_event_begin(struct aut_job *job, const char *kind)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "job", job->id);
    cJSON_AddStringToObject(ev, "status", "running");
    cJSON_AddStringToObject(ev, "kind", kind);
    aut_job_event(job, "job", ev);
    return ev;
}

static void job_event_end(struct aut_job *job, cJSON *ev, const char *state)
{
    cJSON_ReplaceItemInObject(ev, "status", cJSON_CreateString(state));
    aut_job_event(job, "job", ev);
    cJSON_Delete(ev);
}

/* An agent tool: its result is the job's record (tool_result.json). */
static const char *run_tool(struct aut_runner *r, struct aut_job *job, cJSON **summary)
{
    const char *name = jstr(r->req, "tool");
    cJSON *ev = job_event_begin(job, "tool");
    cJSON *res = aut_tool_exec(job, name, cJSON_GetObjectItem(r->req, "args"));
    bool ok = cJSON_IsTrue(cJSON_GetObjectItem(res, "success"));
    const char *state = ok ? "done" : job->fail_class == AUT_FAIL_CANCELED ? "canceled" : "failed";
    job_event_end(job, ev, state);
    *summary = cJSON_CreateObject();
    cJSON_AddStringToObject(*summary, "tool", name);
    cJSON_AddBoolToObject(*summary, "passed", ok);
    static const char *const keep[] = {"kernel_bytes", "model_bytes", "boot_ms", "accel"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const cJSON *v = cJSON_GetObjectItem(res, keep[i]);
        if (v)
            cJSON_AddItemToObject(*summary, keep[i], cJSON_Duplicate(v, 1));
    }
    cJSON_Delete(res);
    return state;
}

static const char *run_job(struct aut_runner *r, struct aut_job *job, cJSON **summary)
{
    const char *state;
    if (kind_is(r->req, "tool"))
        return run_tool(r, job, summary);
    if (kind_is(r->req, "rollback")) {
        cJSON *ev = job_event_begin(job, "rollback");
        int rc = run_rollback(job);
        state = rc ? "failed" : job->rolled_back ? "rolled_back" : "committed";
        job_event_end(job, ev, state);
        aut_report_finish(job);
    } else {
        aut_job_run(job);
        state = aut_job_final_state(job);
    }
    *summary = summarize(job, state);
    return state;
}

static int init_job(struct aut_runner *r, struct aut_job *job, char *err, size_t len)
{
    const cJSON *q = r->req;
    const char *rb = jstr(q, "rollback"), *fb = jstr(q, "fallback");
    struct aut_job_opts o = {
        .model = jstr(q, "model"),
        .manifest = jstr(q, "manifest"),
        .arch = jstr(q, "arch"),
        .prompts = jstr(q, "prompts"),
        .rollback = !rb                       ? -1
                    : !strcmp(rb, "previous") ? AUT_ROLLBACK_PREVIOUS
                                              : AUT_ROLLBACK_RULE_ENGINE,
        .fallback = !fb ? -1 : !strcmp(fb, "auto"),
        .bridge = -1,
        .id = r->id,
    };
    const cJSON *br = cJSON_GetObjectItem(q, "bridge");
    if (cJSON_IsBool(br))
        o.bridge = cJSON_IsTrue(br);
    bool rollback = kind_is(q, "rollback");
    int rc = kind_is(q, "tool") ? aut_tool_prepare(job, &r->conf->cfg, jstr(q, "tool"),
                                                   cJSON_GetObjectItem(q, "args"), r->id, err, len)
             : rollback         ? aut_job_init_bare(job, &r->conf->cfg, &o, err, len)
                                : aut_job_init(job, &r->conf->cfg, &o, err, len);
    if (rc)
        return -1;
    if (rollback && jstr(q, "reason"))
        cJSON_AddStringToObject(job->report, "reason", jstr(q, "reason"));
    job->on_event = on_job_event;
    job->ud = r;
    job->notify_deferred = r->conf->cfg.notify_url[0] != '\0';
    return 0;
}

static void runner_main(void *arg)
{
    struct aut_runner *r = arg;
    struct aut_daemon *d = r->d;
    struct aut_job *job = calloc(1, sizeof *job);
    char err[1024] = "out of memory";
    const char *state = "failed";
    cJSON *summary = NULL, *end = NULL;
    if (!job || init_job(r, job, err, sizeof err)) {
        aut_db_job_finish(d->db, r->id, "failed", "internal", NULL, err, NULL, NULL, aut_now());
        end = cJSON_CreateObject();
        cJSON_AddStringToObject(end, "event", "job.finished");
        cJSON_AddStringToObject(end, "job", r->id);
        cJSON_AddStringToObject(end, "state", "failed");
        cJSON_AddStringToObject(end, "class", "internal");
        cJSON_AddStringToObject(end, "message", err);
        free(job);
        job = NULL;
    } else {
        uv_mutex_lock(&d->mu);
        r->job = job;
        if (r->cancel_reason[0])
            aut_job_cancel(job, r->cancel_reason);
        uv_mutex_unlock(&d->mu);
        state = run_job(r, job, &summary);
        char *stext = cJSON_PrintUnformatted(summary);
        const char *cls =
            job->fail_class == AUT_FAIL_NONE ? NULL : aut_fail_class_name(job->fail_class);
        aut_db_job_finish(d->db, r->id, state, cls, job->fail_stage[0] ? job->fail_stage : NULL,
                          job->fail_msg[0] ? job->fail_msg : NULL,
                          job->recommendation[0] ? job->recommendation : NULL, stext, aut_now());
        free(stext);
        end = end_event(job, state, summary);
        uv_mutex_lock(&d->mu);
        r->job = NULL;
        uv_mutex_unlock(&d->mu);
        aut_job_release(job);
        free(job);
    }
    char *text = cJSON_PrintUnformatted(end);
    post(d, r->id, 0, "end", text);
    free(text);
    cJSON_Delete(end);
    cJSON_Delete(summary);
    (void)state;
}

/* ---- the loop side ---------------------------------------------------------------- */

bool aut_sched_arch_busy(struct aut_daemon *d, const char *arch)
{
    for (struct aut_runner *r = d->runners; r; r = r->next)
        if (!strcmp(r->arch, arch))
            return true;
    return false;
}

struct pick {
    uv_work_t w;
    struct aut_daemon *d;
    char *busy[64];
    size_t n_busy;
    char id[AUT_DB_ID_MAX];
    char report_dir[PATH_MAX];
    char reports[PATH_MAX];
    cJSON *job;
    int rc;
};

static void pick_work(uv_work_t *w)
{
    struct pick *p = w->data;
    for (;;) {
        p->rc = aut_db_job_next(p->d->db, (const char *const *)p->busy, p->n_busy, p->id);
        if (p->rc)
            return;
        snprintf(p->report_dir, sizeof p->report_dir, "%s/%s", p->reports, p->id);
        p->rc = aut_db_job_start(p->d->db, p->id, p->report_dir, aut_now());
        if (p->rc == -ENOENT)
            continue; /* canceled between the two calls */
        if (p->rc == 0)
            p->job = aut_db_job_get(p->d->db, p->id);
        return;
    }
}

static void start_runner(struct aut_daemon *d, struct pick *p)
{
    struct aut_runner *r = calloc(1, sizeof *r);
    const cJSON *req = cJSON_GetObjectItem(p->job, "request");
    if (!r || !(r->req = cJSON_Duplicate(req, 1))) {
        free(r);
        aut_db_job_finish(d->db, p->id, "failed", "internal", NULL, "out of memory", NULL, NULL,
                          aut_now());
        return;
    }
    r->d = d;
    r->conf = aut_daemon_conf(d);
    snprintf(r->id, sizeof r->id, "%s", p->id);
    const cJSON *nid = cJSON_GetObjectItem(p->job, "nightly_id");
    r->nightly_id = cJSON_IsNumber(nid) ? (int64_t)nid->valuedouble : 0;
    if (cJSON_IsTrue(cJSON_GetObjectItem(p->job, "cancel_requested")))
        snprintf(r->cancel_reason, sizeof r->cancel_reason, "canceled through the API");
    snprintf(r->arch, sizeof r->arch, "%s", jstr(p->job, "arch") ? jstr(p->job, "arch") : "x86_64");
    if (uv_thread_create(&r->thread, runner_main, r)) {
        aut_dlog("job %s: cannot start a thread", r->id);
        aut_db_job_finish(d->db, p->id, "failed", "infrastructure", NULL, "cannot start a thread",
                          NULL, NULL, aut_now());
        aut_conf_put(r->conf);
        cJSON_Delete(r->req);
        free(r);
        return;
    }
    r->next = d->runners;
    d->runners = r;
    d->n_running++;
    aut_dlog("job %s: started (%s, %s)", r->id, r->arch,
             jstr(r->req, "model") ? jstr(r->req, "model") : jstr(r->req, "kind"));
}

static void pick_after(uv_work_t *w, int status)
{
    struct pick *p = w->data;
    struct aut_daemon *d = p->d;
    d->picking = false;
    if (status == 0 && p->rc == 0 && p->job)
        start_runner(d, p);
    else if (p->rc && p->rc != -ENOENT)
        aut_dlog("queue: %s", aut_db_error(d->db));
    bool again = (p->rc == 0 && p->job) || d->repick;
    d->repick = false;
    for (size_t i = 0; i < p->n_busy; i++)
        free(p->busy[i]);
    cJSON_Delete(p->job);
    free(p);
    if (again)
        aut_sched_kick(d);
}

void aut_sched_kick(struct aut_daemon *d)
{
    if (d->stopping || d->n_running >= d->conf->cfg.max_jobs)
        return;
    if (d->picking) {
        d->repick = true;
        return;
    }
    struct pick *p = calloc(1, sizeof *p);
    if (!p)
        return;
    p->d = d;
    p->w.data = p;
    snprintf(p->reports, sizeof p->reports, "%s", d->conf->cfg.reports);
    for (struct aut_runner *r = d->runners; r && p->n_busy < 64; r = r->next)
        p->busy[p->n_busy++] = strdup(r->arch);
    d->picking = true;
    if (uv_queue_work(d->loop, &p->w, pick_work, pick_after)) {
        d->picking = false;
        free(p);
    }
}

bool aut_sched_cancel(struct aut_daemon *d, const char *id, const char *reason)
{
    for (struct aut_runner *r = d->runners; r; r = r->next) {
        if (strcmp(r->id, id))
            continue;
        uv_mutex_lock(&d->mu);
        if (r->job)
            aut_job_cancel(r->job, reason);
        else
            snprintf(r->cancel_reason, sizeof r->cancel_reason, "%s", reason);
        uv_mutex_unlock(&d->mu);
        return true;
    }
    return false;
}

void aut_sched_cancel_all(struct aut_daemon *d, const char *reason)
{
    for (struct aut_runner *r = d->runners; r; r = r->next)
        aut_sched_cancel(d, r->id, reason);
}

struct nightly_upd {
    uv_work_t w;
    struct aut_daemon *d;
    int64_t run;
};

static void nightly_upd_work(uv_work_t *w)
{
    struct nightly_upd *u = w->data;
    aut_db_nightly_update(u->d->db, u->run, aut_now());
}

static void nightly_upd_after(uv_work_t *w, int status)
{
    free(w->data);
}

/* A runner's end on the loop: join its thread, tell the streams and the manager. */
static void runner_done(struct aut_daemon *d, struct aut_msg *m)
{
    struct aut_runner **pp = &d->runners, *r;
    while ((r = *pp) && strcmp(r->id, m->job))
        pp = &r->next;
    if (!r)
        return;
    *pp = r->next;
    d->n_running--;
    uv_thread_join(&r->thread);
    cJSON *end = cJSON_Parse(m->data);
    const char *state = jstr(end, "state") ? jstr(end, "state") : "failed";
    aut_dlog("job %s: %s%s%s", r->id, state, jstr(end, "class") ? ", class " : "",
             jstr(end, "class") ? jstr(end, "class") : "");
    aut_sub_end(d, r->id, state);
    if (end)
        aut_hook_send(d, r->id, "job.finished", end);
    if (r->nightly_id) {
        struct nightly_upd *u = calloc(1, sizeof *u);
        if (u) {
            u->d = d;
            u->run = r->nightly_id;
            u->w.data = u;
            if (uv_queue_work(d->loop, &u->w, nightly_upd_work, nightly_upd_after))
                free(u);
        }
    }
    cJSON_Delete(end);
    aut_conf_put(r->conf);
    cJSON_Delete(r->req);
    free(r);
    if (d->n_running == 0)
        aut_daemon_runners_gone(d);
    aut_sched_kick(d);
}

/* Stage ends go to the manager too when [notify] stages is set. */
static void maybe_stage_hook(struct aut_daemon *d, struct aut_msg *m)
{
    if (!d->conf->cfg.notify_stages || strcmp(m->type, "stage"))
        return;
    cJSON *data = cJSON_Parse(m->data);
    const char *st = jstr(data, "status");
    if (st && strcmp(st, "running")) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "event", "job.stage");
        cJSON_AddStringToObject(e, "job", m->job);
        cJSON_AddItemToObject(e, "stage", cJSON_Duplicate(data, 1));
        cJSON_AddNumberToObject(e, "time", aut_now());
        aut_hook_send(d, m->job, "job.stage", e);
        cJSON_Delete(e);
    }
    cJSON_Delete(data);
}

void aut_sched_drain(uv_async_t *a)
{
    struct aut_daemon *d = a->data;
    uv_mutex_lock(&d->mu);
    struct aut_msg *m = d->msgs;
    d->msgs = NULL;
    d->msgs_tail = &d->msgs;
    uv_mutex_unlock(&d->mu);
    while (m) {
        struct aut_msg *next = m->next;
        if (!strcmp(m->type, "end")) {
            runner_done(d, m);
        } else {
            aut_sub_deliver(d, m);
            maybe_stage_hook(d, m);
        }
        msg_free(m);
        m = next;
    }
}

/* ---- recovery ----------------------------------------------------------------------- */

/* Kills what the job left running and removes its worktree and branch. */
static void clean_leftovers(const struct aut_config *cfg, const char *id, const char *arch,
                            char *note, size_t len)
{
    char wt[PATH_MAX + 80], rep[PATH_MAX + 80], ws_path[PATH_MAX + 32];
    snprintf(wt, sizeof wt, "%s/%s", cfg->ws_worktrees, id);
    snprintf(rep, sizeof rep, "%s/%s", cfg->reports, id);
    const char *paths[] = {wt, rep, NULL};
    unsigned killed = 0;
    aut_proc_kill_referencing(paths, &killed);
    snprintf(ws_path, sizeof ws_path, "%s/%s", cfg->ws_root, arch);
    struct aut_ws *ws = NULL;
    char err[1024] = "";
    int n = snprintf(note, len, "%u leftover process group(s) killed", killed);
    struct aut_ws_opts o = {0};
    if (aut_ws_open(ws_path, &o, &ws, err, sizeof err) == 0) {
        if (aut_ws_job_end(ws, id, wt))
            snprintf(note + n, len - (size_t)n, "; worktree cleanup: %s", aut_ws_error(ws));
        else
            snprintf(note + n, len - (size_t)n, "; worktree and branch removed");
        aut_ws_close(ws);
    } else {
        aut_rmtree(wt);
    }
}

/* The manager hears of an interrupted job too: its event is stored as a
 * pending delivery, which aut_hook_resume sends once the loop runs. */
static void record_hook(struct aut_daemon *d, const char *id)
{
    const char *url = d->conf->cfg.notify_url;
    cJSON *job = url[0] ? aut_db_job_get(d->db, id) : NULL;
    if (!job)
        return;
    cJSON *e = aut_sched_end_event(job);
    char *text = cJSON_PrintUnformatted(e);
    int64_t did;
    if (text)
        aut_db_delivery_add(d->db, id, url, "job.finished", text, aut_now(), &did);
    free(text);
    cJSON_Delete(e);
    cJSON_Delete(job);
}

static int recover_one(struct aut_daemon *d, const char *id)
{
    const struct aut_config *cfg = &d->conf->cfg;
    cJSON *job = aut_db_job_get(d->db, id);
    if (!job)
        return -1;
    const char *arch = jstr(job, "arch") ? jstr(job, "arch") : "x86_64";
    const char *stage = jstr(job, "stage");
    char note[1200], msg[1600];
    clean_leftovers(cfg, id, arch, note, sizeof note);
    snprintf(msg, sizeof msg, "autond stopped while the job was in stage %s; %s; main unchanged",
             stage ? stage : "(none)", note);
    aut_db_job_finish(d->db, id, "interrupted", "infrastructure", stage, msg,
                      "run the job again (the failure was the integrator's, not the model's)", NULL,
                      aut_now());
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "job", id);
    cJSON_AddStringToObject(ev, "status", "interrupted");
    cJSON_AddStringToObject(ev, "message", msg);
    char *text = cJSON_PrintUnformatted(ev);
    int64_t seq;
    aut_db_event_add(d->db, id, "job", text, aut_now(), &seq);
    free(text);
    cJSON_Delete(ev);
    aut_dlog("job %s: interrupted (%s)", id, msg);
    record_hook(d, id);
    if (cfg->retry_interrupted && !jstr(job, "retry_of")) {
        char nid[AUT_DB_ID_MAX];
        const cJSON *nn = cJSON_GetObjectItem(job, "nightly_id");
        if (aut_api_insert_job(d, cJSON_GetObjectItem(job, "request"), NULL, NULL,
                               cJSON_IsNumber(nn) ? (int64_t)nn->valuedouble : 0, id, nid) >= 0)
            aut_dlog("job %s: queued again as %s (retry_interrupted)", id, nid);
    }
    cJSON_Delete(job);
    return 0;
}

int aut_sched_recover(struct aut_daemon *d)
{
    char **ids = NULL;
    size_t n = 0;
    if (aut_db_jobs_in_state(d->db, "running", &ids, &n))
        return -1;
    for (size_t i = 0; i < n; i++)
        recover_one(d, ids[i]);
    aut_db_ids_free(ids, n);
    return 0;
}
