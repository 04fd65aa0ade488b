/*
 * stage_patch.c - patch: the kernel Makefile names the staged model and
 * embeds it (SLM_MODEL, SLM_ENABLED := 1), patched in place, idempotently,
 * every other byte kept.
 */
#include <stdio.h>

#include "makefile_patch.h"
#include "pipeline.h"
#include "workspace.h"

int aut_job_patch_makefile(struct aut_job *job, bool embed)
{
    char path[PATH_MAX + 16], err[512];
    snprintf(path, sizeof path, "%s/Makefile", job->dir);
    const struct aut_mkvar vars[] = {
        {"SLM_MODEL", AUT_WS_MODEL},
        {"SLM_ENABLED", embed ? "1" : "0"},
    };
    bool changed = false;
    if (aut_makefile_set(path, vars, 2, &changed, err, sizeof err))
        return aut_job_fail(job, AUT_FAIL_BUILD, "%s", err);
    aut_job_log(job, "Makefile: SLM_MODEL := %s, SLM_ENABLED := %d (%s)", AUT_WS_MODEL,
                embed ? 1 : 0, changed ? "patched" : "already so");
    return 0;
}

static int patch_run(struct aut_job *job)
{
    return aut_job_patch_makefile(job, true);
}

const struct aut_stage aut_stage_patch = {.name = "patch", .run = patch_run};
