/*
 * stage_stage.c - stage: the job's worktree (branch integration/<job> at
 * main, created on first use from kernel-tree/), and the model and its
 * manifest placed where the integration spec puts them:
 * kernel/slm/models/auton-slm.gguf and kernel/slm/models/model_manifest.json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "pipeline.h"
#include "workspace.h"

/* Opens (or creates) the job's workspace and notes what main embeds. */
int aut_job_open_workspace(struct aut_job *job)
{
    if (job->ws)
        return 0;
    const struct aut_config *cfg = job->cfg;
    snprintf(job->ws_dir, sizeof job->ws_dir, "%s/%s", cfg->ws_root, job->arch);
    struct aut_ws_opts o = {.seed_dir = cfg->kernel_tree,
                            .author_name = cfg->author_name,
                            .author_email = cfg->author_email};
    char err[1024];
    if (aut_mkdirs(cfg->ws_root, 0755))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "workspace root %s: %s", cfg->ws_root,
                            strerror(errno));
    if (aut_ws_open(job->ws_dir, &o, &job->ws, err, sizeof err))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "workspace %s: %s", job->ws_dir, err);
    if (aut_ws_main(job->ws, job->base))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s", aut_ws_error(job->ws));
    char *mk = NULL;
    size_t len = 0;
    job->main_has_model =
        aut_ws_read(job->ws, "main", AUT_WS_MANIFEST, &mk, &len) == 0;
    free(mk);
    return 0;
}

static void write_manifest_json(struct aut_job *job, cJSON *m)
{
    /* no manifest came with the model: the workspace still records what it embeds */
    cJSON_AddStringToObject(m, "name", job->model.name);
    cJSON_AddStringToObject(m, "architecture", job->model.arch);
    cJSON_AddNumberToObject(m, "parameters", (double)job->model.params);
    cJSON_AddStringToObject(m, "quantization", job->model.quant);
    cJSON_AddNumberToObject(m, "bytes", (double)job->model.bytes);
    cJSON_AddStringToObject(m, "sha256", job->model.sha256);
    cJSON_AddNumberToObject(m, "vocab_size", job->model.vocab);
    cJSON_AddNumberToObject(m, "context_length", job->model.ctx);
    cJSON_AddStringToObject(m, "generator", "autonctl (no manifest came with the model)");
}

static int place_files(struct aut_job *job)
{
    char dst[PATH_MAX + 64], err[1024];
    snprintf(dst, sizeof dst, "%s/%s", job->dir, AUT_WS_MODEL);
    if (aut_copy_file(job->stored_path, dst, err, sizeof err))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "staging the model: %s", err);
    snprintf(dst, sizeof dst, "%s/%s", job->dir, AUT_WS_MANIFEST);
    int rc;
    if (job->manifest_path[0]) {
        rc = aut_copy_file(job->manifest_path, dst, err, sizeof err);
    } else {
        cJSON *m = cJSON_CreateObject();
        write_manifest_json(job, m);
        char *text = cJSON_Print(m);
        rc = text ? aut_write_file(dst, text, strlen(text), err, sizeof err) : -ENOMEM;
        free(text);
        cJSON_Delete(m);
    }
    if (rc)
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "staging the manifest: %s", err);
    aut_job_log(job, "staged %s and %s", AUT_WS_MODEL, AUT_WS_MANIFEST);
    return 0;
}

static int stage_run(struct aut_job *job)
{
    if (job->standalone) {
        if (!job->stored_path[0])
            return aut_job_fail(job, AUT_FAIL_INTERNAL, "stage: no model fetched");
        return place_files(job);
    }
    if (aut_job_open_workspace(job))
        return -1;
    snprintf(job->dir, sizeof job->dir, "%s/%s", job->cfg->ws_worktrees, job->id);
    if (aut_ws_job_begin(job->ws, job->id, job->dir, job->base))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s", aut_ws_error(job->ws));
    job->job_begun = true;
    aut_job_log(job, "worktree %s on integration/%s at main %.12s (%s)", job->dir, job->id,
                job->base, job->main_has_model ? "main embeds a model" : "main: rule engine");
    return place_files(job);
}

const struct aut_stage aut_stage_stage = {.name = "stage", .run = stage_run};
