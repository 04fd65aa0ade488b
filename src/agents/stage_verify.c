/*
 * stage_verify.c - verify: refuse, before any build, a model that cannot
 * work. The shared GGUF parser and llama loader (the kernel's own code) check
 * the structure, architecture and tensor types; the manifest is checked
 * against the file (sha256, size, architecture, target architectures); the
 * pool the kernel will need is estimated and compared with the budget.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "generate.h"
#include "llama.h"
#include "mapfile.h"
#include "pipeline.h"
#include "qtypes.h"
#include "slm_err.h"

#define SCRATCH_BYTES ((size_t)64 << 20) /* enough to load any vocab <= 1M */
#define PROMPT_MAX 4096                  /* the kernel's SLM_ABI_PROMPT_MAX */

static const char *mstr(const cJSON *m, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The manifest must describe this file, for this architecture. */
static int check_manifest(struct aut_job *job)
{
    const cJSON *m = job->manifest;
    const char *sha = mstr(m, "sha256");
    const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(m, "bytes");
    if (!sha)
        return aut_job_fail(job, AUT_FAIL_MODEL, "manifest %s: no sha256", job->manifest_path);
    if (strcmp(sha, job->model.sha256))
        return aut_job_fail(job, AUT_FAIL_MODEL,
                            "sha256 mismatch: the manifest says %s, the file is %s",
                            sha, job->model.sha256);
    if (cJSON_IsNumber(bytes) && (uint64_t)bytes->valuedouble != job->model.bytes)
        return aut_job_fail(job, AUT_FAIL_MODEL, "manifest bytes %.0f, the file has %llu",
                            bytes->valuedouble, (unsigned long long)job->model.bytes);
    const char *arch = mstr(m, "architecture");
    if (arch && strcmp(arch, "llama"))
        return aut_job_fail(job, AUT_FAIL_MODEL, "manifest architecture %s: only llama runs",
                            arch);
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(m, "target_architectures"), *t;
    if (cJSON_IsArray(targets)) {
        bool found = false;
        cJSON_ArrayForEach(t, targets) found |= cJSON_IsString(t) &&
                                                !strcmp(t->valuestring, job->arch);
        if (!found)
            return aut_job_fail(job, AUT_FAIL_MODEL,
                                "manifest target_architectures does not list %s", job->arch);
    }
    return 0;
}

static void record(struct aut_job *job, const struct slm_model *mdl)
{
    struct aut_model_info *mi = &job->model;
    const struct slm_config *c = &mdl->cfg;
    mi->params = mdl->n_params;
    snprintf(mi->quant, sizeof mi->quant, "%s", slm_qtype_info(mdl->layers[0].wq.type)->name);
    snprintf(mi->arch, sizeof mi->arch, "llama");
    mi->vocab = c->vocab;
    mi->ctx = c->ctx_train;
    mi->dim = c->dim;
    mi->layers = c->n_layers;
    cJSON *m = aut_job_section(job, "model");
    cJSON_AddNumberToObject(m, "params", (double)mi->params);
    cJSON_AddStringToObject(m, "quant", mi->quant);
    cJSON_AddStringToObject(m, "arch", mi->arch);
    cJSON_AddNumberToObject(m, "vocab", mi->vocab);
    cJSON_AddNumberToObject(m, "ctx", mi->ctx);
    cJSON_AddNumberToObject(m, "dim", mi->dim);
    cJSON_AddNumberToObject(m, "layers", mi->layers);
    cJSON_AddNumberToObject(m, "pool_estimate", (double)mi->pool_estimate);
}

/* Parses and loads the model with the kernel's engine on a scratch pool. */
static int parse_model(struct aut_job *job, const struct aut_mapfile *f)
{
    void *scratch = mmap(NULL, SCRATCH_BYTES, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (scratch == MAP_FAILED)
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "cannot map a scratch pool");
    struct slm_err err = {0};
    size_t est = 0;
    int rc = slm_estimate_pool(f->data, f->size, 0, PROMPT_MAX, scratch, SCRATCH_BYTES, &est,
                               &err);
    if (!rc) {
        struct slm_pool pool;
        struct slm_model mdl;
        slm_pool_init(&pool, scratch, SCRATCH_BYTES);
        rc = slm_model_load(&mdl, f->data, f->size, SLM_ISA_SCALAR, &pool, &err);
        if (!rc) {
            job->model.pool_estimate = est;
            record(job, &mdl);
        }
    }
    munmap(scratch, SCRATCH_BYTES);
    if (rc)
        return aut_job_fail(job, AUT_FAIL_MODEL, "%s: error[%s]: %s", job->model.name,
                            slm_errsym(err.code), err.msg);
    return 0;
}

static int check_budget(struct aut_job *job)
{
    const struct aut_config *cfg = job->cfg;
    double pool_mb = (double)job->model.pool_estimate / (1024.0 * 1024.0);
    double model_mb = (double)job->model.bytes / (1024.0 * 1024.0);
    if (pool_mb > cfg->pool_peak_max_mb)
        return aut_job_fail(job, AUT_FAIL_MODEL,
                            "the model needs %.1f MiB of SLM pool, over the budget of %.0f MiB "
                            "(pool_peak_max_mb) for %s",
                            pool_mb, cfg->pool_peak_max_mb, job->arch);
    /* the image (weights) and the pool must both fit the guest's RAM */
    if (model_mb + pool_mb + 64 > (double)cfg->memory_mb)
        return aut_job_fail(job, AUT_FAIL_MODEL,
                            "the model (%.1f MiB) and its pool (%.1f MiB) do not fit the guest's "
                            "%u MiB (memory_mb) with the kernel",
                            model_mb, pool_mb, cfg->memory_mb);
    aut_job_log(job, "%s, %llu params, %s, vocab %u, ctx %u; pool estimate %.2f MiB of %.0f",
                job->model.arch, (unsigned long long)job->model.params, job->model.quant,
                job->model.vocab, job->model.ctx, pool_mb, cfg->pool_peak_max_mb);
    return 0;
}

static int verify_run(struct aut_job *job)
{
    const char *path = job->stored_path[0] ? job->stored_path : job->model_path;
    if (!path[0])
        return aut_job_fail(job, AUT_FAIL_INTERNAL, "verify: no model fetched");
    if (job->manifest && check_manifest(job))
        return -1;
    struct aut_mapfile f;
    char err[512];
    if (aut_mapfile_open(&f, path, err, sizeof err))
        return aut_job_fail(job, AUT_FAIL_MODEL, "%s", err);
    int rc = parse_model(job, &f);
    aut_mapfile_close(&f);
    if (rc)
        return rc;
    return check_budget(job);
}

const struct aut_stage aut_stage_verify = {.name = "verify", .run = verify_run};
