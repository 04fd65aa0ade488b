/*
 * stage_rollback.c - rollback: what a failed job leaves on main, exactly:
 *   - refused before any build (fetch, verify), canceled: main untouched;
 *   - rollback = previous: main unchanged (it keeps its model, if any);
 *   - rollback = rule-engine (the default): if main embeds a model, main gets
 *     a commit that puts the kernel on the rule engine (model and manifest
 *     removed, SLM_ENABLED := 0) - after that kernel has itself been built
 *     and booted to its prompt; if main is already on the rule engine, main
 *     is unchanged.
 * The rollback is prepared in a worktree of its own (integration/<job>-rollback).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "pipeline.h"
#include "vm.h"
#include "workspace.h"

static bool refused_early(const struct aut_job *job)
{
    return !job->ws || !job->base[0] || !strcmp(job->fail_stage, "fetch") ||
           !strcmp(job->fail_stage, "verify");
}

/* Builds and boots the rule-engine tree in job->dir; 0 when it reached its prompt. */
static int prove_rule_engine(struct aut_job *job)
{
    snprintf(job->kernel, sizeof job->kernel, "%s/kernel.elf", job->dir);
    const char *none[] = {NULL};
    if (aut_job_make(job, none))
        return -1;
    if (aut_job_pick_accel(job, job->kernel))
        return -1;
    struct aut_vm *vm = NULL;
    struct aut_vm_boot b;
    char err[512];
    int rc = aut_job_boot_kernel(job, job->kernel, false, NULL, &vm, &b);
    if (rc)
        aut_job_fail(job, AUT_FAIL_BOOT, "the rule-engine kernel did not boot: %s", b.why);
    aut_vm_boot_release(&b);
    if (!rc && aut_vm_poweroff(vm, 10000, err, sizeof err))
        rc = aut_job_fail(job, AUT_FAIL_BOOT, "the rule-engine kernel: %s", err);
    aut_vm_free(vm);
    uv_run(&job->loop, UV_RUN_NOWAIT);
    return rc;
}

static int rollback_commit(struct aut_job *job, const char *name, const char *msg)
{
    char path[PATH_MAX + 64], base[AUT_WS_OID_HEX];
    if (aut_ws_job_begin(job->ws, name, job->dir, base))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s", aut_ws_error(job->ws));
    snprintf(path, sizeof path, "%s/%s", job->dir, AUT_WS_MODEL);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s", job->dir, AUT_WS_MANIFEST);
    unlink(path);
    if (aut_job_patch_makefile(job, false) || prove_rule_engine(job))
        return -1;
    char commit[AUT_WS_OID_HEX];
    if (aut_ws_commit(job->ws, job->dir, msg, NULL, commit) ||
        aut_ws_advance_main(job->ws, commit, base))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s", aut_ws_error(job->ws));
    snprintf(job->commit, sizeof job->commit, "%s", commit);
    snprintf(job->main_after, sizeof job->main_after, "%s", commit);
    job->rolled_back = true;
    /* main's checkout: no stale model beside a Makefile that no longer embeds one */
    snprintf(path, sizeof path, "%s/%s", job->ws_dir, AUT_WS_MODEL);
    unlink(path);
    char dst[PATH_MAX + 32], err[512];
    snprintf(dst, sizeof dst, "%s/kernel.elf", job->ws_dir);
    if (aut_copy_file(job->kernel, dst, err, sizeof err))
        aut_job_log(job, "main's checkout: %s", err);
    aut_job_log(job, "main -> %.12s: the rule engine (built and booted first)", commit);
    return 0;
}

static int rollback_run(struct aut_job *job)
{
    if (job->standalone || job->fail_class == AUT_FAIL_CANCELED || refused_early(job)) {
        aut_job_log(job, "main untouched (%s)", job->standalone ? "standalone run"
                    : job->fail_class == AUT_FAIL_CANCELED ? "canceled"
                                                            : "refused before any build");
        return 0;
    }
    if (job->rollback == AUT_ROLLBACK_PREVIOUS) {
        aut_job_log(job, "rollback = previous: main unchanged at %.12s", job->base);
        return 0;
    }
    if (!job->main_has_model) {
        aut_job_log(job, "main is already on the rule engine: unchanged at %.12s", job->base);
        return 0;
    }
    char msg[2048];
    snprintf(msg, sizeof msg,
             "Roll back to the rule engine\n\n%s failed (%s, stage %s): %.600s\n"
             "Recommendation: %s\nJob: %s\n",
             job->model.name[0] ? job->model.name : job->model_arg,
             aut_fail_class_name(job->fail_class), job->fail_stage, job->fail_msg,
             job->recommendation, job->id);
    return aut_job_rollback_main(job, msg);
}

int aut_job_rollback_main(struct aut_job *job, const char *msg)
{
    char name[96], saved_dir[PATH_MAX], saved_log[PATH_MAX];
    snprintf(name, sizeof name, "%s-rollback", job->id);
    snprintf(saved_dir, sizeof saved_dir, "%s", job->dir);
    snprintf(saved_log, sizeof saved_log, "%s", job->build_log);
    snprintf(job->dir, sizeof job->dir, "%s/%s", job->cfg->ws_worktrees, name);
    snprintf(job->build_log, sizeof job->build_log, "%s/rollback-build.log", job->report_dir);
    aut_mkdirs(job->report_dir, 0755);
    int rc = rollback_commit(job, name, msg);
    if (aut_ws_job_end(job->ws, name, job->dir))
        aut_job_log(job, "cleanup: %s", aut_ws_error(job->ws));
    snprintf(job->dir, sizeof job->dir, "%s", saved_dir);
    snprintf(job->build_log, sizeof job->build_log, "%s", saved_log);
    if (rc) {
        aut_job_log(job, "rollback failed, main unchanged at %.12s", job->base);
        /* the job's class stays the original failure's; the stage records its own */
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(job->cur_stage, "error");
        if (!e)
            cJSON_AddStringToObject(job->cur_stage, "error", "rollback failed");
    }
    return rc;
}

const struct aut_stage aut_stage_rollback = {.name = "rollback", .run = rollback_run};
