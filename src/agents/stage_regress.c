/*
 * stage_regress.c - regress: no regression in the rest of the kernel. The
 * kernel's selftests on the booted kernel, then the boot time of the kernel
 * with the model against the rule-engine kernel of the same commit: the
 * median of several boots of each, alternated, in this job, failing only
 * when the difference is above max(boot_pct of the baseline, boot_floor_ms):
 * a TCG boot takes ~0.1 s, so a percentage alone would be noise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "vm.h"

#define MAX_BOOTS 15

static int run_selftests(struct aut_job *job, cJSON *reg)
{
    struct aut_selftest_result st;
    char err[512];
    uint32_t timeout = aut_job_deadline_ms(job, job->cfg->dl_regress, true);
    if (aut_vm_selftest(job->vm, timeout, &st, err, sizeof err))
        return aut_job_fail(job, AUT_FAIL_REGRESSION, "selftests: %s", err);
    cJSON *o = cJSON_AddObjectToObject(reg, "selftests");
    cJSON_AddNumberToObject(o, "passed", st.passed);
    cJSON_AddNumberToObject(o, "failed", st.failed);
    cJSON *list = cJSON_AddArrayToObject(o, "results");
    const char *first_fail = NULL;
    for (unsigned i = 0; i < st.n; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "name", st.test[i].name);
        cJSON_AddBoolToObject(t, "pass", st.test[i].pass);
        cJSON_AddStringToObject(t, "detail", st.test[i].detail);
        cJSON_AddItemToArray(list, t);
        if (!st.test[i].pass && !first_fail)
            first_fail = cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring;
    }
    if (st.failed || first_fail)
        return aut_job_fail(job, AUT_FAIL_REGRESSION, "%u selftest%s failed (first: %s)",
                            st.failed, st.failed == 1 ? "" : "s",
                            first_fail ? first_fail : "?");
    aut_job_log(job, "selftests: %u passed", st.passed);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* One boot of kernel to the prompt, console only; its time in ms. */
static int time_boot(struct aut_job *job, const char *kernel, double *ms)
{
    struct aut_vm *vm = NULL;
    struct aut_vm_boot b;
    char err[512];
    if (aut_job_boot_kernel(job, kernel, false, NULL, &vm, &b)) {
        aut_job_fail(job, AUT_FAIL_REGRESSION, "boot of %s for timing: %s", kernel, b.why);
        aut_vm_boot_release(&b);
        return -1;
    }
    *ms = (double)b.boot_ms;
    aut_vm_boot_release(&b);
    int rc = aut_vm_poweroff(vm, 10000, err, sizeof err);
    aut_vm_free(vm);
    uv_run(&job->loop, UV_RUN_NOWAIT);
    if (rc)
        return aut_job_fail(job, AUT_FAIL_REGRESSION, "%s: %s", kernel, err);
    return 0;
}

static cJSON *array_of(const double *v, unsigned n)
{
    cJSON *a = cJSON_CreateArray();
    for (unsigned i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static int boot_times(struct aut_job *job, cJSON *reg)
{
    const struct aut_config *cfg = job->cfg;
    unsigned n = cfg->regress_boots < MAX_BOOTS ? cfg->regress_boots : MAX_BOOTS;
    double with[MAX_BOOTS], base[MAX_BOOTS];
    for (unsigned i = 0; i < n; i++) /* alternated, so drift hits both alike */
        if (time_boot(job, job->kernel_rule, &base[i]) || time_boot(job, job->kernel, &with[i]))
            return -1;
    cJSON *o = cJSON_AddObjectToObject(reg, "boot_ms");
    cJSON_AddItemToObject(o, "model", array_of(with, n));
    cJSON_AddItemToObject(o, "rule_engine", array_of(base, n));
    double mw = median(with, n), mb = median(base, n);
    double allowed = mb * cfg->regress_boot_pct / 100.0;
    allowed = allowed > cfg->regress_boot_floor_ms ? allowed : cfg->regress_boot_floor_ms;
    cJSON_AddNumberToObject(o, "median_model", mw);
    cJSON_AddNumberToObject(o, "median_rule_engine", mb);
    cJSON_AddNumberToObject(o, "allowed_increase", allowed);
    aut_job_log(job, "boot: median %.0f ms with the model, %.0f ms without (%u boots each; "
                "allowed +%.0f ms)", mw, mb, n, allowed);
    if (mw - mb > allowed)
        return aut_job_fail(job, AUT_FAIL_REGRESSION,
                            "boot time: median %.0f ms with the model vs %.0f ms with the rule "
                            "engine, +%.0f ms over the allowed max(%.0f%%, %.0f ms)",
                            mw, mb, mw - mb, cfg->regress_boot_pct, cfg->regress_boot_floor_ms);
    return 0;
}

static int regress_run(struct aut_job *job)
{
    if (!job->vm)
        return aut_job_fail(job, AUT_FAIL_INTERNAL, "regress: no booted kernel (run boot first)");
    cJSON *reg = aut_job_section(job, "regress");
    if (run_selftests(job, reg))
        return -1;
    char err[512];
    int rc = aut_vm_poweroff(job->vm, 10000, err, sizeof err);
    aut_vm_free(job->vm);
    job->vm = NULL;
    uv_run(&job->loop, UV_RUN_NOWAIT);
    if (rc)
        return aut_job_fail(job, AUT_FAIL_REGRESSION, "%s", err);
    if (!job->cfg->regress_boots) {
        aut_job_log(job, "boot-time comparison off (regress boots = 0)");
        return 0;
    }
    return boot_times(job, reg);
}

const struct aut_stage aut_stage_regress = {.name = "regress", .run = regress_run};
