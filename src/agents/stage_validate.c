/*
 * stage_validate.c - validate: the checks of validate.c with the limits of
 * the configuration, the time limits multiplied for the accelerator used.
 * The first failed check decides the class (boot or inference).
 */
#include <stdio.h>
#include <string.h>

#include "pipeline.h"
#include "validate.h"

void aut_job_limits(const struct aut_job *job, struct aut_validate_limits *lim)
{
    const struct aut_config *cfg = job->cfg;
    double mult = job->time_mult > 0 ? job->time_mult : 1.0;
    lim->boot_max_ms = cfg->boot_max_s * 1000.0 * mult;
    lim->latency_max_ms = cfg->latency_max_s * 1000.0 * mult;
    lim->latency_tokens = cfg->latency_tokens;
    lim->pool_peak_max_bytes = cfg->pool_peak_max_mb * 1048576.0;
    lim->min_output_chars = (unsigned)cfg->min_output_chars;
    lim->expect_neural = job->model.bytes > 0;
    aut_coherence_limits_default(&lim->coherence);
}

static int validate_run(struct aut_job *job)
{
    struct aut_validate_limits lim;
    aut_job_limits(job, &lim);
    cJSON *checks = cJSON_GetObjectItemCaseSensitive(job->report, "checks");
    const cJSON *first = NULL;
    int failed = aut_validate(job->report, &lim, checks, &first);
    const cJSON *c;
    cJSON_ArrayForEach(c, checks) aut_job_event(job, "check", c);
    aut_job_log(job, "%d of %d checks passed (time limits x%g for %s)",
                cJSON_GetArraySize(checks) - failed, cJSON_GetArraySize(checks), job->time_mult,
                job->accel);
    if (!failed)
        return 0;
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(first, "class");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(first, "name");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(first, "expected");
    const cJSON *got = cJSON_GetObjectItemCaseSensitive(first, "measured");
    const cJSON *det = cJSON_GetObjectItemCaseSensitive(first, "detail");
    return aut_job_fail(job, strcmp(cls->valuestring, "boot") ? AUT_FAIL_INFERENCE : AUT_FAIL_BOOT,
                        "%d check%s failed; first: %s: expected %s, measured %s%s%s", failed,
                        failed == 1 ? "" : "s", name->valuestring, exp->valuestring,
                        got->valuestring, det ? ": " : "", det ? det->valuestring : "");
}

const struct aut_stage aut_stage_validate = {.name = "validate", .run = validate_run};
