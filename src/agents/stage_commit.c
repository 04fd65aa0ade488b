/*
 * stage_commit.c - commit: the validated integration becomes main. The job's
 * worktree (model manifest, patched Makefile, report) is committed on
 * integration/<job>, main fast-forwards to it, a tag integrated/<model>-<job>
 * marks it, and main's checkout gets the model from the store (and the
 * kernel just validated), so that it builds and boots as committed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "pipeline.h"
#include "workspace.h"

static double num_at(const cJSON *obj, const char *a, const char *b)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, a);
    const cJSON *v = b ? cJSON_GetObjectItemCaseSensitive(o, b) : o;
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The report's summary for a commit message. */
void aut_job_summary(const struct aut_job *job, char *buf, size_t len)
{
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(job->report, "checks"), *c, *p;
    int n = 0, pass = 0;
    cJSON_ArrayForEach(c, checks)
    {
        n++;
        pass += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "pass"));
    }
    double toks = 0, peak = 0;
    int np = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(job->report, "prompts"))
    {
        toks += num_at(p, "tok_s", NULL);
        np++;
        double pk = num_at(p, "pool_peak", NULL);
        peak = pk > peak ? pk : peak;
    }
    snprintf(buf, len, "%d/%d checks passed, %d prompts, boot %.0f ms, %.1f tok/s, pool peak "
             "%.2f MiB (%s)",
             pass, n, np, num_at(job->report, "boot", "boot_ms"), np ? toks / np : 0,
             peak / 1048576.0, job->accel);
}

static void tag_name(const struct aut_job *job, char *buf, size_t len)
{
    int n = snprintf(buf, len, "integrated/%s-%s", job->model.name, job->id);
    for (int i = (int)strlen("integrated/"); i < n && i < (int)len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", buf[i]))
            buf[i] = '-';
}

/* main's checkout gets the ignored files a build of it needs. */
static void place_in_main(struct aut_job *job)
{
    char dst[PATH_MAX + 64], err[512];
    snprintf(dst, sizeof dst, "%s/%s", job->ws_dir, AUT_WS_MODEL);
    if (aut_copy_file(job->stored_path, dst, err, sizeof err))
        aut_job_log(job, "main's checkout: %s", err);
    snprintf(dst, sizeof dst, "%s/kernel.elf", job->ws_dir);
    if (aut_copy_file(job->kernel, dst, err, sizeof err))
        aut_job_log(job, "main's checkout: %s", err);
}

static int commit_run(struct aut_job *job)
{
    if (job->standalone) {
        aut_job_log(job, "standalone run: nothing to commit");
        return 0;
    }
    if (aut_cancel_fired(&job->cancel))
        return aut_job_fail(job, AUT_FAIL_CANCELED, "canceled before the commit: %s",
                            job->cancel.reason);
    char summary[256], msg[2048], tag[256];
    aut_job_summary(job, summary, sizeof summary);
    snprintf(msg, sizeof msg,
             "Integrate %s (%s, %llu params)\n\nModel: %s.gguf, sha256 %s, %llu bytes\n"
             "Validation: %s\nJob: %s\nReport: %s\n",
             job->model.name, job->model.quant, (unsigned long long)job->model.params,
             job->model.name, job->model.sha256, (unsigned long long)job->model.bytes, summary,
             job->id, "integration_test_report.json");
    const char *force[] = {AUT_WS_MODEL, NULL};
    if (aut_ws_commit(job->ws, job->dir, msg, job->cfg->commit_model_blob ? force : NULL,
                      job->commit))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s", aut_ws_error(job->ws));
    int rc = aut_ws_advance_main(job->ws, job->commit, job->base);
    if (rc)
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s", aut_ws_error(job->ws));
    snprintf(job->main_after, sizeof job->main_after, "%s", job->commit);
    job->committed = true;
    tag_name(job, tag, sizeof tag);
    if (aut_ws_tag(job->ws, tag, job->commit, summary))
        aut_job_log(job, "tag: %s", aut_ws_error(job->ws));
    place_in_main(job);
    cJSON_AddStringToObject(aut_job_section(job, "workspace"), "tag", tag);
    aut_job_log(job, "main -> %.12s (%s), tag %s", job->commit, summary, tag);
    return 0;
}

const struct aut_stage aut_stage_commit = {.name = "commit", .run = commit_run};
