/*
 * manifest.c - the JSON manifest beside a forged model (the spec's
 * manifests/<name>.json): what the model is, its exact size and SHA-256,
 * and the engine's pool estimate for its full context. Written with cJSON,
 * atomically. A timestamp appears only when SOURCE_DATE_EPOCH is set, so
 * the manifest is as reproducible as the model.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "forge.h"
#include "generate.h"
#include "mapfile.h"
#include "sha256.h"

#define ESTIMATE_SCRATCH (64u << 20) /* llama.h: plenty for any vocab <= 1M */

/* The engine's pool estimate for the model written at path. */
static int pool_estimate(const char *path, uint32_t n_ctx, size_t *out, char *err, size_t errlen)
{
    struct aut_mapfile m;
    struct slm_err e = {0};
    int rc = aut_mapfile_open(&m, path, err, errlen);
    if (rc)
        return rc;
    void *scratch = malloc(ESTIMATE_SCRATCH);
    if (!scratch) {
        aut_mapfile_close(&m);
        snprintf(err, errlen, "pool estimate: out of memory");
        return -ENOMEM;
    }
    rc = slm_estimate_pool(m.data, m.size, n_ctx, FORGE_MAX_PROMPT, scratch, ESTIMATE_SCRATCH, out,
                           &e);
    if (rc)
        snprintf(err, errlen, "pool estimate of %s: %s (%s)", path, e.msg, slm_strerror(rc));
    free(scratch);
    aut_mapfile_close(&m);
    return rc ? -EINVAL : 0;
}

/* "created" from SOURCE_DATE_EPOCH, if set and valid. */
static void add_created(cJSON *root)
{
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    char *end, buf[32];
    struct tm tm;
    if (!sde || !*sde)
        return;
    long long t = strtoll(sde, &end, 10);
    time_t tt = (time_t)t;
    if (*end || t < 0 || !gmtime_r(&tt, &tm))
        return;
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(root, "created", buf);
}

static cJSON *overrides(const struct aut_forge_plan *p)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o && i < p->n; i++)
        if (p->t[i].type != p->t[i].wanted)
            cJSON_AddStringToObject(o, p->t[i].name, aut_forge_type_name(p->t[i].type));
    return o;
}

static cJSON *targets(const struct aut_forge_preset *preset)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && preset->targets[i]; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(preset->targets[i]));
    return a;
}

/* The manifest's fields, in the documented order. */
static cJSON *build(const struct aut_forge_job *job, const struct aut_forge_plan *p, uint64_t bytes,
                    const char *sha, const size_t *pool, const char *weights_sha)
{
    const struct aut_forge_hparams *hp = &job->hp;
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    cJSON_AddStringToObject(r, "name", job->name);
    cJSON_AddStringToObject(r, "architecture", "llama");
    cJSON_AddStringToObject(r, "preset", job->preset->name);
    cJSON_AddNumberToObject(r, "parameters", (double)p->n_params);
    cJSON_AddStringToObject(r, "quantization", aut_forge_type_name(job->type));
    cJSON_AddStringToObject(r, "output_quantization", aut_forge_type_name(p->output_type));
    cJSON_AddNumberToObject(r, "file_type", aut_forge_file_type(job->type));
    cJSON_AddItemToObject(r, "tensor_type_overrides", overrides(p));
    cJSON_AddNumberToObject(r, "gguf_version", AUT_GGUF_W_VERSION);
    cJSON_AddNumberToObject(r, "bytes", (double)bytes);
    cJSON_AddStringToObject(r, "sha256", sha);
    cJSON_AddNumberToObject(r, "vocab_size", hp->vocab);
    cJSON_AddNumberToObject(r, "context_length", hp->ctx);
    cJSON_AddNumberToObject(r, "embedding_length", hp->dim);
    cJSON_AddNumberToObject(r, "block_count", hp->n_layers);
    cJSON_AddNumberToObject(r, "head_count", hp->n_heads);
    cJSON_AddNumberToObject(r, "head_count_kv", hp->n_kv_heads);
    cJSON_AddNumberToObject(r, "feed_forward_length", hp->ffn);
    cJSON_AddBoolToObject(r, "tied_output", hp->tied);
    cJSON_AddItemToObject(r, "target_architectures", targets(job->preset));
    if (pool) {
        cJSON_AddNumberToObject(r, "pool_estimate_bytes", (double)*pool);
        cJSON_AddNumberToObject(r, "pool_estimate_ctx", hp->ctx);
    }
    cJSON_AddNumberToObject(r, "seed", (double)job->seed);
    if (weights_sha)
        cJSON_AddStringToObject(r, "weights_sha256", weights_sha);
    cJSON_AddStringToObject(r, "generator", FORGE_GENERATOR);
    cJSON_AddStringToObject(r, "tokenizer", "llama");
    if (job->corrupt) {
        cJSON_AddStringToObject(r, "corrupt", job->corrupt->kind);
        cJSON_AddStringToObject(r, "corrupt_expect", job->corrupt->codes);
    }
    add_created(r);
    return r;
}

int aut_forge_manifest_write(const struct aut_forge_job *job, const struct aut_forge_plan *p,
                             char *err, size_t errlen)
{
    char sha[AUT_SHA256_HEX_SIZE], wsha[AUT_SHA256_HEX_SIZE];
    struct stat st;
    size_t pool = 0;
    int rc = stat(job->gguf_path, &st) < 0 ? -errno : 0;
    if (!rc && (rc = aut_sha256_file(job->gguf_path, sha)) == 0 && !job->corrupt)
        rc = pool_estimate(job->gguf_path, job->hp.ctx, &pool, err, errlen);
    else if (rc)
        snprintf(err, errlen, "%s: %s", job->gguf_path, strerror(-rc));
    if (!rc && job->weights && (rc = aut_sha256_file(job->weights, wsha)))
        snprintf(err, errlen, "weights %s: %s", job->weights, strerror(-rc));
    if (rc)
        return rc;
    cJSON *root = build(job, p, (uint64_t)st.st_size, sha, job->corrupt ? NULL : &pool,
                        job->weights ? wsha : NULL);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        snprintf(err, errlen, "manifest: out of memory");
        return -ENOMEM;
    }
    size_t n = strlen(text);
    char *with_nl = realloc(text, n + 2);
    if (with_nl) {
        text = with_nl;
        text[n++] = '\n';
        text[n] = '\0';
    }
    rc = aut_gguf_w_save_bytes(job->manifest_path, text, n, err, errlen);
    free(text);
    return rc;
}
