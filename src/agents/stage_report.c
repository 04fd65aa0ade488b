/*
 * stage_report.c - report: integration_test_report.json and its JUnit twin
 * into reports/<job-id>/, and - when the job passed - into the job's tree,
 * where the commit records it (the spec's output artifacts). The final copy
 * in reports/ is rewritten once the decision is known (aut_report_finish).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "pipeline.h"
#include "report.h"

static int report_run(struct aut_job *job)
{
    char err[512], path[PATH_MAX + 64];
    if (aut_mkdirs(job->report_dir, 0755))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s: %s", job->report_dir,
                            strerror(errno));
    if (job->fail_class == AUT_FAIL_NONE && !job->standalone)
        job->committed = true; /* what the committed copy says; commit resets it on failure */
    aut_report_fill(job);
    snprintf(path, sizeof path, "%s/%s", job->report_dir, AUT_REPORT_NAME);
    int rc = aut_report_write(job->report, path, err, sizeof err);
    if (!rc) {
        snprintf(path, sizeof path, "%s/%s", job->report_dir, AUT_REPORT_JUNIT);
        rc = aut_report_write_junit(job->report, path, err, sizeof err);
    }
    if (!rc && job->fail_class == AUT_FAIL_NONE && job->dir[0] && !job->standalone) {
        snprintf(path, sizeof path, "%s/%s", job->dir, AUT_REPORT_NAME);
        rc = aut_report_write(job->report, path, err, sizeof err);
    }
    job->committed = false;
    if (rc)
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "report: %s", err);
    cJSON_AddStringToObject(job->cur_stage, "log", job->report_dir);
    aut_job_log(job, "report %s/%s", job->report_dir, AUT_REPORT_NAME);
    return 0;
}

const struct aut_stage aut_stage_report = {.name = "report", .run = report_run};
