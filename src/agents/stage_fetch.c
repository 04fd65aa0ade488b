/*
 * stage_fetch.c - fetch: find the model and its manifest and copy the model
 * into the content-addressed model store. A model comes from a file (a path,
 * or a bare name under the model roots, its manifest given or
 * manifests/<name>.json beside it), a URL or a bundle (fetch_source.c); all
 * three end in the same tail here. Also the search for fallback models among
 * the manifests beside it and under the model roots.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "fsutil.h"
#include "httpc.h"
#include "pipeline.h"
#include "store.h"

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A path as given, or a bare name under the current directory, then each
 * model root, with or without ".gguf". */
static int resolve_model(struct aut_job *job, char *out, size_t len)
{
    const char *arg = job->model_arg;
    if (is_file(arg))
        return realpath(arg, out) ? 0 : -1;
    if (strchr(arg, '/'))
        return -1;
    for (unsigned i = 0; i < job->cfg->n_model_roots; i++) {
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", job->cfg->model_roots[i], arg);
        if (!is_file(p))
            snprintf(p, sizeof p, "%s/%s.gguf", job->cfg->model_roots[i], arg);
        if (is_file(p) && strlen(p) < len)
            return realpath(p, out) ? 0 : -1;
    }
    return -1;
}

void aut_fetch_model_stem(const char *path, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, len, "%s", base);
    size_t n = strlen(out);
    if (n > 5 && !strcmp(out + n - 5, ".gguf"))
        out[n - 5] = '\0';
}

static void manifest_beside(const char *model, char *out, size_t len)
{
    char dir[PATH_MAX], stem[256];
    snprintf(dir, sizeof dir, "%s", model);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    aut_fetch_model_stem(model, stem, sizeof stem);
    snprintf(out, len, "%s/manifests/%s.json", slash ? dir : ".", stem);
}

int aut_fetch_manifest_load(struct aut_job *job)
{
    char *text = NULL, err[512];
    size_t len;
    cJSON_Delete(job->manifest);
    job->manifest = NULL;
    if (aut_read_file(job->manifest_path, 1 << 20, &text, &len, err, sizeof err))
        return aut_job_fail(job, AUT_FAIL_MODEL, "manifest %s", err);
    job->manifest = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(job->manifest))
        return aut_job_fail(job, AUT_FAIL_MODEL, "manifest %s: not a JSON object",
                            job->manifest_path);
    return 0;
}

int aut_fetch_manifest_arg(struct aut_job *job)
{
    if (aut_httpc_is_url(job->manifest_arg))
        return aut_fetch_manifest_url(job, job->manifest_arg);
    if (!realpath(job->manifest_arg, job->manifest_path))
        return aut_job_fail(job, AUT_FAIL_MODEL, "manifest %s: %s", job->manifest_arg,
                            strerror(errno));
    return aut_fetch_manifest_load(job);
}

int aut_fetch_store(struct aut_job *job, const char *file)
{
    char err[512];
    struct stat st;
    /* refused before the copy: a model over the limit never enters the store */
    if (stat(file, &st) == 0 && (uint64_t)st.st_size > job->cfg->max_model_mb * 1024 * 1024)
        return aut_job_fail(job, AUT_FAIL_MODEL, "model %s: %lld bytes, over max_model_mb %llu",
                            job->model_path, (long long)st.st_size,
                            (unsigned long long)job->cfg->max_model_mb);
    if (job->standalone) {
        snprintf(job->stored_path, sizeof job->stored_path, "%s", file);
        if (aut_file_sha256(file, job->model.sha256, &job->model.bytes, err, sizeof err))
            return aut_job_fail(job, AUT_FAIL_MODEL, "%s", err);
        return 0;
    }
    int rc = aut_store_put(job->cfg->model_store, file, job->model.sha256, &job->model.bytes,
                           job->stored_path, err, sizeof err);
    if (rc)
        return aut_job_fail(
            job, rc == -ENOENT || rc == -EISDIR ? AUT_FAIL_MODEL : AUT_FAIL_INFRASTRUCTURE,
            "model store: %s", err);
    return 0;
}

/* A model file: a path or a bare name, its manifest given or beside it. */
static int fetch_file(struct aut_job *job)
{
    if (resolve_model(job, job->model_path, sizeof job->model_path))
        return aut_job_fail(job, AUT_FAIL_MODEL,
                            "model %s: no such file (looked in the current directory and %u "
                            "model root%s)",
                            job->model_arg, job->cfg->n_model_roots,
                            job->cfg->n_model_roots == 1 ? "" : "s");
    aut_fetch_model_stem(job->model_path, job->model.name, sizeof job->model.name);
    if (job->manifest_arg[0]) {
        if (aut_fetch_manifest_arg(job))
            return -1;
    } else {
        manifest_beside(job->model_path, job->manifest_path, sizeof job->manifest_path);
        if (!is_file(job->manifest_path))
            job->manifest_path[0] = '\0';
        if (job->manifest_path[0] && aut_fetch_manifest_load(job))
            return -1;
    }
    return aut_fetch_store(job, job->model_path);
}

/* The manifest used goes into the report directory too, for the job's
 * artifacts (report.c): the source it came from may be gone by then. */
static void keep_manifest(struct aut_job *job)
{
    char dst[PATH_MAX + 64], err[512];
    snprintf(dst, sizeof dst, "%s/%s", job->report_dir, AUT_FETCH_MANIFEST_COPY);
    if (!job->manifest_path[0]) {
        unlink(dst); /* an earlier attempt's, for another model */
        return;
    }
    if (aut_copy_file(job->manifest_path, dst, err, sizeof err))
        aut_job_log(job, "the manifest is not kept with the report: %s", err);
}

static void record(struct aut_job *job, const char *source)
{
    aut_job_log(job, "model %s (%s, %llu bytes, sha256 %s)%s%s", job->model_path, source,
                (unsigned long long)job->model.bytes, job->model.sha256,
                job->manifest_path[0] ? ", manifest " : ", no manifest", job->manifest_path);
    cJSON *m = aut_job_section(job, "model");
    cJSON_AddStringToObject(m, "name", job->model.name);
    cJSON_AddStringToObject(m, "path", job->model_path);
    cJSON_AddStringToObject(m, "stored", job->stored_path);
    cJSON_AddStringToObject(m, "sha256", job->model.sha256);
    cJSON_AddNumberToObject(m, "bytes", (double)job->model.bytes);
    if (job->manifest_path[0])
        cJSON_AddStringToObject(m, "manifest", job->manifest_path);
    else
        cJSON_AddNullToObject(m, "manifest");
    cJSON_AddStringToObject(m, "source", source);
    if (aut_httpc_is_url(job->model_arg))
        cJSON_AddStringToObject(m, "url", job->model_arg);
}

/* Whether the model argument names a bundle, and which file or URL. */
static bool bundle_arg(struct aut_job *job, char *path, size_t len)
{
    if (aut_httpc_is_url(job->model_arg)) {
        char url[PATH_MAX];
        snprintf(url, sizeof url, "%s", job->model_arg);
        url[strcspn(url, "?#")] = '\0'; /* the name is in the path, not the query */
        snprintf(path, len, "%s", job->model_arg);
        return aut_archive_is_bundle(url);
    }
    return aut_archive_is_bundle(job->model_arg) && resolve_model(job, path, len) == 0;
}

static int fetch_run(struct aut_job *job)
{
    char bundle[PATH_MAX];
    const char *source = "file";
    int rc;
    if (bundle_arg(job, bundle, sizeof bundle)) {
        source = "bundle";
        rc = aut_fetch_bundle(job, bundle);
    } else if (aut_httpc_is_url(job->model_arg)) {
        source = "url";
        rc = aut_fetch_url(job);
    } else {
        rc = fetch_file(job);
    }
    if (rc)
        return -1;
    /* a URL model may have been in the store already, under a lower limit */
    if (job->model.bytes > job->cfg->max_model_mb * 1024 * 1024)
        return aut_job_fail(job, AUT_FAIL_MODEL, "model %s: %llu bytes, over max_model_mb %llu",
                            job->model_path, (unsigned long long)job->model.bytes,
                            (unsigned long long)job->cfg->max_model_mb);
    keep_manifest(job);
    record(job, source);
    return 0;
}

const struct aut_stage aut_stage_fetch = {.name = "fetch", .run = fetch_run};

/* ---- fallbacks ------------------------------------------------------------------ */

/* Higher rank: more precise. */
static int quant_rank(const char *q)
{
    static const char *const order[] = {"Q4_0", "Q4_K", "Q6_K", "Q8_0", "BF16", "F16", "F32"};
    for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++)
        if (!strcmp(q, order[i]))
            return i + 1;
    return 0;
}

static const char *mstr(const cJSON *m, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double mnum(const cJSON *m, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static bool tried(const struct aut_job *job, const char *path)
{
    if (!strcmp(path, job->model_path))
        return true;
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(job->report, "attempts"))
        if (!strcmp(mstr(a, "model"), path))
            return true;
    return false;
}

struct candidate {
    char path[PATH_MAX];
    int kind;      /* 2: same weights, other quantization; 1: smaller model */
    double score;  /* within a kind, higher first */
};

/* Considers the model of the manifest at mpath as a fallback. */
static void consider(const struct aut_job *job, const char *mdir, const char *file,
                     struct candidate *best)
{
    char mpath[PATH_MAX + 256], *text = NULL;
    size_t len;
    snprintf(mpath, sizeof mpath, "%s/manifests/%s", mdir, file);
    if (aut_read_file(mpath, 1 << 20, &text, &len, NULL, 0))
        return;
    cJSON *m = cJSON_ParseWithLength(text, len);
    free(text);
    char gguf[PATH_MAX + 256], real[PATH_MAX];
    snprintf(gguf, sizeof gguf, "%s/%s.gguf", mdir, mstr(m, "name"));
    /* the same bytes under another path (a URL's or a bundle's model is often
     * under the model roots too) would fail the same way */
    if (!cJSON_IsObject(m) || cJSON_GetObjectItemCaseSensitive(m, "corrupt") ||
        (job->model.sha256[0] && !strcmp(mstr(m, "sha256"), job->model.sha256)) ||
        !is_file(gguf) || !realpath(gguf, real) || tried(job, real)) {
        cJSON_Delete(m);
        return;
    }
    const cJSON *cur = job->manifest;
    const char *w = mstr(cur, "weights_sha256");
    struct candidate c = {.kind = 0};
    if (w[0] && !strcmp(w, mstr(m, "weights_sha256"))) {
        c.kind = 2; /* another quantization of the same weights: more precise first */
        c.score = quant_rank(mstr(m, "quantization"));
    } else if (mnum(m, "parameters") > 0 && job->model.params &&
               mnum(m, "parameters") < (double)job->model.params) {
        c.kind = 1; /* a smaller model: the largest first */
        c.score = mnum(m, "parameters");
    }
    if (c.kind && (c.kind > best->kind || (c.kind == best->kind && c.score > best->score))) {
        snprintf(c.path, sizeof c.path, "%s", real);
        *best = c;
    }
    cJSON_Delete(m);
}

static void scan_dir(const struct aut_job *job, const char *mdir, struct candidate *best)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/manifests", mdir);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 5 && !strcmp(e->d_name + n - 5, ".json"))
            consider(job, mdir, e->d_name, best);
    }
    closedir(d);
}

int aut_fallback_next(struct aut_job *job, char *path, size_t len)
{
    /* fallbacks fit failures the model can cause; not a build or a regression */
    if (job->fail_class != AUT_FAIL_MODEL && job->fail_class != AUT_FAIL_BOOT &&
        job->fail_class != AUT_FAIL_INFERENCE)
        return -1;
    if (!job->manifest || !job->model_path[0])
        return -1;
    struct candidate best = {.kind = 0};
    char mdir[PATH_MAX];
    snprintf(mdir, sizeof mdir, "%s", job->model_path);
    char *slash = strrchr(mdir, '/');
    if (slash)
        *slash = '\0';
    scan_dir(job, mdir, &best);
    for (unsigned i = 0; i < job->cfg->n_model_roots; i++)
        if (strcmp(job->cfg->model_roots[i], mdir))
            scan_dir(job, job->cfg->model_roots[i], &best);
    if (!best.kind)
        return -1;
    snprintf(path, len, "%s", best.path);
    return 0;
}
