/*
 * pipeline.c - the IntegratorAgent's state machine: the stage table, a job's
 * attempts (infrastructure retries, then the fallback models), and the
 * closing sequence every job goes through: report, commit or rollback,
 * notify, and the final report with the decision.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "job.h"
#include "pipeline.h"
#include "report.h"
#include "vm.h"
#include "workspace.h"

/* The stages up to the verdict; report, commit/rollback and notify close
 * every job and are run by aut_job_run itself. */
static const struct aut_stage *const main_stages[] = {
    &aut_stage_fetch,    &aut_stage_verify,      &aut_stage_stage, &aut_stage_patch,
    &aut_stage_build,    &aut_stage_check_build, &aut_stage_boot,  &aut_stage_infer,
    &aut_stage_validate, &aut_stage_regress,
};
static const struct aut_stage *const all_stages[] = {
    &aut_stage_fetch,    &aut_stage_verify,      &aut_stage_stage,  &aut_stage_patch,
    &aut_stage_build,    &aut_stage_check_build, &aut_stage_boot,   &aut_stage_infer,
    &aut_stage_validate, &aut_stage_regress,     &aut_stage_report, &aut_stage_commit,
    &aut_stage_rollback, &aut_stage_notify,
};
#define N_MAIN (sizeof main_stages / sizeof main_stages[0])
#define N_ALL (sizeof all_stages / sizeof all_stages[0])

static const char *const class_names[] = {
    [AUT_FAIL_NONE] = "none",
    [AUT_FAIL_INFRASTRUCTURE] = "infrastructure",
    [AUT_FAIL_MODEL] = "model",
    [AUT_FAIL_BUILD] = "build",
    [AUT_FAIL_BOOT] = "boot",
    [AUT_FAIL_INFERENCE] = "inference",
    [AUT_FAIL_REGRESSION] = "regression",
    [AUT_FAIL_CANCELED] = "canceled",
    [AUT_FAIL_INTERNAL] = "internal",
};

const char *aut_fail_class_name(enum aut_fail_class c)
{
    return (unsigned)c < sizeof class_names / sizeof class_names[0] ? class_names[c] : "?";
}

const struct aut_stage *aut_stage_find(const char *name)
{
    for (size_t i = 0; i < N_ALL; i++)
        if (!strcmp(all_stages[i]->name, name))
            return all_stages[i];
    return NULL;
}

const char *const *aut_stage_names(size_t *n)
{
    static const char *names[N_ALL];
    for (size_t i = 0; i < N_ALL; i++)
        names[i] = all_stages[i]->name;
    *n = N_ALL;
    return names;
}

/* ---- helpers for stages ------------------------------------------------------- */

void aut_job_event(struct aut_job *job, const char *type, const cJSON *data)
{
    if (job->on_event)
        job->on_event(job->ud, type, data);
}

cJSON *aut_job_section(struct aut_job *job, const char *key)
{
    cJSON *s = cJSON_GetObjectItemCaseSensitive(job->report, key);
    if (!s)
        s = cJSON_AddObjectToObject(job->report, key);
    return s;
}

void aut_job_log(struct aut_job *job, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (!job->cur_stage)
        return;
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(job->cur_stage, "messages");
    if (!msgs)
        msgs = cJSON_AddArrayToObject(job->cur_stage, "messages");
    cJSON_AddItemToArray(msgs, cJSON_CreateString(line));
}

int aut_job_fail(struct aut_job *job, enum aut_fail_class cls, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (aut_cancel_fired(&job->cancel) && cls != AUT_FAIL_INTERNAL) {
        cls = AUT_FAIL_CANCELED; /* a killed make or QEMU is the cancel's doing */
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " (canceled: %s)",
                 job->cancel.reason);
    }
    if (job->fail_class == AUT_FAIL_NONE) {
        job->fail_class = cls;
        snprintf(job->fail_msg, sizeof job->fail_msg, "%s", msg);
        if (job->cur_stage) {
            cJSON *n = cJSON_GetObjectItemCaseSensitive(job->cur_stage, "name");
            snprintf(job->fail_stage, sizeof job->fail_stage, "%s",
                     cJSON_IsString(n) ? n->valuestring : "");
        }
    }
    if (job->cur_stage) {
        cJSON_AddStringToObject(job->cur_stage, "class", aut_fail_class_name(cls));
        cJSON_AddStringToObject(job->cur_stage, "error", msg);
    }
    return -1;
}

uint32_t aut_job_deadline_ms(const struct aut_job *job, unsigned seconds, bool qemu)
{
    double mult = qemu && job->time_mult > 0 ? job->time_mult : 1.0;
    double ms = (double)seconds * 1000.0 * mult;
    return ms > 4.0e9 ? 4000000000u : (uint32_t)ms;
}

void aut_job_cancel(struct aut_job *job, const char *reason)
{
    aut_cancel_fire(&job->cancel, reason ? reason : "canceled");
}

/* ---- set-up ------------------------------------------------------------------- */

void aut_job_make_id(char *id, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    unsigned r = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&r, sizeof r, 1, f) != 1)
        r = (unsigned)getpid() ^ (unsigned)uv_hrtime();
    if (f)
        fclose(f);
    snprintf(id, len, "%04d%02d%02d-%02d%02d%02d-%06x", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, r & 0xffffff);
}

static bool valid_id(const char *id)
{
    size_t n = strlen(id);
    if (!n || n > 48 || id[0] == '.' || id[0] == '-')
        return false;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n &&
           !strstr(id, "..");
}

static int init_common(struct aut_job *job, const struct aut_config *cfg,
                       const struct aut_job_opts *o, char *err, size_t errlen)
{
    memset(job, 0, sizeof *job);
    job->cfg = cfg;
    const char *arch = o->arch ? o->arch : "x86_64";
    if (strcmp(arch, "x86_64")) {
        snprintf(err, errlen,
                 "--arch %s: not supported yet (supported: x86_64; aarch64 and riscv64 come "
                 "with the multi-architecture work)",
                 arch);
        return -1;
    }
    snprintf(job->arch, sizeof job->arch, "%s", arch);
    if (o->id && !valid_id(o->id)) {
        snprintf(err, errlen, "job id '%s': use 1-48 of [A-Za-z0-9._-], not starting with . or -",
                 o->id);
        return -1;
    }
    if (o->id)
        snprintf(job->id, sizeof job->id, "%s", o->id);
    else
        aut_job_make_id(job->id, sizeof job->id);
    snprintf(job->prompts, sizeof job->prompts, "%s", o->prompts ? o->prompts : cfg->prompts);
    job->rollback = o->rollback >= 0 ? (enum aut_rollback_policy)o->rollback : cfg->rollback;
    job->fallback = o->fallback >= 0 ? o->fallback : cfg->fallback;
    job->bridge = o->bridge >= 0 ? o->bridge : cfg->bridge_enabled;
    job->time_mult = 1.0;
    job->attempt = 1;
    snprintf(job->model_arg, sizeof job->model_arg, "%s", o->model ? o->model : "");
    snprintf(job->manifest_arg, sizeof job->manifest_arg, "%s", o->manifest ? o->manifest : "");
    if (uv_loop_init(&job->loop)) {
        snprintf(err, errlen, "cannot create an event loop");
        return -1;
    }
    aut_cancel_init(&job->cancel);
    job->report = aut_report_new(job);
    if (!job->report) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int aut_job_init(struct aut_job *job, const struct aut_config *cfg, const struct aut_job_opts *opts,
                 char *err, size_t errlen)
{
    if (!opts->model || !opts->model[0]) {
        snprintf(err, errlen, "no model given");
        return -1;
    }
    if (init_common(job, cfg, opts, err, errlen))
        return -1;
    snprintf(job->report_dir, sizeof job->report_dir, "%s/%s", cfg->reports, job->id);
    return 0;
}

int aut_job_init_bare(struct aut_job *job, const struct aut_config *cfg,
                      const struct aut_job_opts *opts, char *err, size_t errlen)
{
    if (init_common(job, cfg, opts, err, errlen))
        return -1;
    snprintf(job->report_dir, sizeof job->report_dir, "%s/%s", cfg->reports, job->id);
    return 0;
}

int aut_job_init_standalone(struct aut_job *job, const struct aut_config *cfg, const char *dir,
                            const struct aut_job_opts *opts, char *err, size_t errlen)
{
    char real[PATH_MAX];
    if (!realpath(dir, real)) { /* before init_common: a failure leaves nothing to release */
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (init_common(job, cfg, opts, err, errlen))
        return -1;
    job->standalone = true;
    snprintf(job->dir, sizeof job->dir, "%s", real);
    snprintf(job->report_dir, sizeof job->report_dir, "%s/%s", cfg->reports, job->id);
    return 0;
}

static void close_vm(struct aut_job *job)
{
    if (job->vm) {
        aut_vm_free(job->vm);
        job->vm = NULL;
        uv_run(&job->loop, UV_RUN_NOWAIT);
    }
}

void aut_job_release(struct aut_job *job)
{
    close_vm(job);
    uv_run(&job->loop, UV_RUN_DEFAULT);
    uv_loop_close(&job->loop);
    aut_ws_close(job->ws);
    job->ws = NULL;
    cJSON_Delete(job->manifest);
    cJSON_Delete(job->report);
    job->manifest = job->report = NULL;
    aut_cancel_destroy(&job->cancel);
}

/* ---- running stages ------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void aut_job_stage_event(struct aut_job *job, const char *name, const char *status, double ms)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "job", job->id);
    cJSON_AddStringToObject(ev, "stage", name);
    cJSON_AddStringToObject(ev, "status", status);
    cJSON_AddNumberToObject(ev, "attempt", job->attempt);
    if (ms >= 0)
        cJSON_AddNumberToObject(ev, "ms", ms);
    if (!strcmp(status, "failed"))
        cJSON_AddStringToObject(ev, "error", job->fail_msg);
    aut_job_event(job, "stage", ev);
    cJSON_Delete(ev);
}

/* Runs one stage with its record in the report. Returns its result. */
static int run_stage(struct aut_job *job, const struct aut_stage *st)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "name", st->name);
    cJSON_AddNumberToObject(rec, "attempt", job->attempt);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(job->report, "stages"), rec);
    job->cur_stage = rec;
    double t0 = now_s();
    aut_report_time(rec, "started", t0);
    aut_job_stage_event(job, st->name, "running", -1);
    int rc;
    /* once a job has failed, the closing stages run whatever the token says */
    if (aut_cancel_fired(&job->cancel) && job->fail_class == AUT_FAIL_NONE)
        rc = aut_job_fail(job, AUT_FAIL_CANCELED, "canceled before %s: %s", st->name,
                          job->cancel.reason);
    else
        rc = st->run(job);
    if (rc && job->fail_class == AUT_FAIL_NONE) /* a stage must say why; if not, it is a bug */
        aut_job_fail(job, AUT_FAIL_INTERNAL, "stage %s failed without a reason", st->name);
    double t1 = now_s();
    aut_report_time(rec, "ended", t1);
    cJSON_AddNumberToObject(rec, "ms", (t1 - t0) * 1000.0);
    const char *status = rc ? "failed" : "passed";
    cJSON_AddStringToObject(rec, "status", status);
    aut_job_stage_event(job, st->name, status, (t1 - t0) * 1000.0);
    job->cur_stage = NULL;
    return rc;
}

int aut_job_run_stage(struct aut_job *job, const char *name)
{
    const struct aut_stage *st = aut_stage_find(name);
    if (!st)
        return aut_job_fail(job, AUT_FAIL_INTERNAL, "no stage named %s", name);
    return run_stage(job, st);
}

/* Leaves nothing of an attempt behind: QEMU, the worktree and its branch. */
static void cleanup_attempt(struct aut_job *job)
{
    close_vm(job);
    if (job->ws && job->job_begun) {
        if (aut_ws_job_end(job->ws, job->id, job->dir))
            aut_report_note(job, "cleanup: %s", aut_ws_error(job->ws));
        job->job_begun = false;
    }
}

/* Forgets the previous attempt's results before the next one. */
static void reset_attempt(struct aut_job *job, const char *next_model)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "attempt", job->attempt);
    cJSON_AddStringToObject(a, "model", job->model_path[0] ? job->model_path : job->model_arg);
    cJSON_AddStringToObject(a, "class", aut_fail_class_name(job->fail_class));
    cJSON_AddStringToObject(a, "stage", job->fail_stage);
    cJSON_AddStringToObject(a, "message", job->fail_msg);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(job->report, "attempts"), a);
    aut_job_event(job, "attempt", a);
    job->attempt++;
    job->fail_class = AUT_FAIL_NONE;
    job->fail_msg[0] = job->fail_stage[0] = '\0';
    if (next_model) {
        snprintf(job->model_arg, sizeof job->model_arg, "%s", next_model);
        job->manifest_arg[0] = '\0';
    }
    job->model_path[0] = job->manifest_path[0] = job->stored_path[0] = '\0';
    cJSON_Delete(job->manifest);
    job->manifest = NULL;
    aut_report_reset_results(job);
}

static int run_main_stages(struct aut_job *job)
{
    for (size_t i = 0; i < N_MAIN; i++)
        if (run_stage(job, main_stages[i]))
            return -1;
    return 0;
}

/* Runs attempts until one passes or nothing is left to try. */
static int run_attempts(struct aut_job *job)
{
    unsigned retries = job->cfg->retries;
    for (;;) {
        if (!run_main_stages(job))
            return 0;
        cleanup_attempt(job);
        char next[PATH_MAX];
        if (job->fail_class == AUT_FAIL_INFRASTRUCTURE && retries > 0) {
            retries--;
            reset_attempt(job, NULL);
            continue;
        }
        if (job->fallback && aut_fallback_next(job, next, sizeof next) == 0) {
            aut_report_note(job, "fallback: %s failed (%s), trying %s", job->model.name,
                            aut_fail_class_name(job->fail_class), next);
            reset_attempt(job, next);
            continue;
        }
        return -1;
    }
}

const char *aut_job_final_state(const struct aut_job *job)
{
    if (job->fail_class == AUT_FAIL_NONE)
        return "committed";
    if (job->fail_class == AUT_FAIL_CANCELED)
        return "canceled";
    return job->rolled_back ? "rolled_back" : "failed";
}

enum aut_fail_class aut_job_run(struct aut_job *job)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "job", job->id);
    cJSON_AddStringToObject(ev, "model", job->model_arg);
    cJSON_AddStringToObject(ev, "status", "running");
    aut_job_event(job, "job", ev);

    bool ok = run_attempts(job) == 0;
    if (ok)
        close_vm(job);
    if (!ok)
        aut_review(job, job->recommendation, sizeof job->recommendation);
    /* the closing sequence: every job gets its report and a decision */
    if (run_stage(job, &aut_stage_report))
        ok = false;
    if (ok && run_stage(job, &aut_stage_commit))
        ok = false;
    if (!ok) {
        if (!job->recommendation[0])
            aut_review(job, job->recommendation, sizeof job->recommendation);
        run_stage(job, &aut_stage_rollback);
    }
    cleanup_attempt(job);
    run_stage(job, &aut_stage_notify);
    aut_report_finish(job);

    cJSON_ReplaceItemInObject(ev, "status", cJSON_CreateString(aut_job_final_state(job)));
    cJSON_AddStringToObject(ev, "class", aut_fail_class_name(job->fail_class));
    cJSON_AddStringToObject(ev, "decision", aut_report_decision(job));
    aut_job_event(job, "job", ev);
    cJSON_Delete(ev);
    return job->fail_class;
}
