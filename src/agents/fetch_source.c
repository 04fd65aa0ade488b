/*
 * fetch_source.c - the fetch stage's remote and packed model sources: a model
 * at an http(s) URL, checked against its manifest's sha256 before it enters
 * the store (partial downloads are kept under that hash and resumed), and a
 * bundle (a .gguf and its manifest in a tar archive, local or downloaded),
 * extracted as untrusted input. Both end in stage_fetch.c's common tail.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "fsutil.h"
#include "httpc.h"
#include "pipeline.h"
#include "store.h"

#define MANIFEST_MAX ((uint64_t)1 << 20)
#define MANIFEST_COPY "downloaded-manifest.json" /* in the report directory */
#define LOCK_POLL_MS 200
#define URL_MODEL_WHY "a URL model is verified against its manifest's sha256"

static uint64_t max_model_bytes(const struct aut_job *job)
{
    return job->cfg->max_model_mb * 1024 * 1024;
}

static bool stop_requested(void *ud)
{
    return aut_cancel_fired(ud);
}

/* An answer from the server (an HTTP error status) or the size limit is the
 * model's fault, or its URL's; no answer (refused, reset, a timeout) may pass
 * on a retry. */
static enum aut_fail_class download_class(int rc)
{
    if (rc == -ECANCELED)
        return AUT_FAIL_CANCELED;
    if (rc == -EPROTO || rc == -EFBIG)
        return AUT_FAIL_MODEL;
    return AUT_FAIL_INFRASTRUCTURE;
}

/* httpc's messages start with the method; ours say what was fetched. */
static const char *no_method(const char *err)
{
    return strncmp(err, "GET ", 4) ? err : err + 4;
}

static int download(struct aut_job *job, const char *url, const char *dest, uint64_t max,
                    uint64_t *bytes, char *err, size_t errlen)
{
    struct aut_httpc_download d = {.url = url,
                                   .dest = dest,
                                   .max_bytes = max,
                                   .timeout_s = job->cfg->dl_fetch,
                                   .should_stop = stop_requested,
                                   .ud = &job->cancel};
    return aut_httpc_download(&d, bytes, err, errlen);
}

/* The last segment of url's path (without query or fragment) into out;
 * -1 when there is none. */
static int url_file(const char *url, char *out, size_t len)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t end = strcspn(p, "?#");
    const char *slash = memrchr(p, '/', end);
    if (!slash)
        return -1;
    size_t n = end - (size_t)(slash + 1 - p);
    if (!n || n >= len)
        return -1;
    memcpy(out, slash + 1, n);
    out[n] = '\0';
    return 0;
}

/* Downloads the manifest at url afresh (an earlier attempt's copy is not
 * resumed: the server's may have changed) and parses it. why: the start of
 * the message when it cannot be had. */
static int get_manifest(struct aut_job *job, const char *url, const char *why)
{
    char err[1024];
    uint64_t n;
    if (aut_mkdirs(job->report_dir, 0755))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "report directory %s: %s",
                            job->report_dir, strerror(errno));
    snprintf(job->manifest_path, sizeof job->manifest_path, "%s/%s", job->report_dir,
             MANIFEST_COPY);
    unlink(job->manifest_path);
    int rc = download(job, url, job->manifest_path, MANIFEST_MAX, &n, err, sizeof err);
    if (rc) {
        unlink(job->manifest_path); /* httpc keeps what it created for a resume */
        job->manifest_path[0] = '\0';
        return aut_job_fail(job, download_class(rc), "%s %s", why, no_method(err));
    }
    aut_job_log(job, "manifest %s (%llu bytes)", url, (unsigned long long)n);
    return aut_fetch_manifest_load(job);
}

int aut_fetch_manifest_url(struct aut_job *job, const char *url)
{
    return get_manifest(job, url, "manifest");
}

/* A URL model's manifest: --manifest, else manifests/<stem>.json beside it. */
static int url_manifest(struct aut_job *job, const char *url)
{
    if (job->manifest_arg[0])
        return aut_fetch_manifest_arg(job);
    char murl[PATH_MAX + 300];
    const char *p = strstr(url, "://");
    size_t end = (size_t)(p + 3 - url) + strcspn(p + 3, "?#");
    const char *slash = memrchr(url, '/', end);
    snprintf(murl, sizeof murl, "%.*smanifests/%s.json", (int)(slash - url + 1), url,
             job->model.name);
    return get_manifest(job, murl, URL_MODEL_WHY "; none at");
}

/* The manifest's sha256, which names the partial file and the store entry. */
static int manifest_sha(struct aut_job *job, char sha[AUT_SHA256_HEX])
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(job->manifest, "sha256");
    if (!cJSON_IsString(v))
        return aut_job_fail(job, AUT_FAIL_MODEL, URL_MODEL_WHY "; %s has none", job->manifest_path);
    const char *s = v->valuestring;
    if (strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64)
        return aut_job_fail(job, AUT_FAIL_MODEL,
                            "manifest %s: sha256 '%.80s' is not 64 lower-case hex digits",
                            job->manifest_path, s);
    memcpy(sha, s, AUT_SHA256_HEX);
    return 0;
}

static int from_store(struct aut_job *job, const char *sha, const char *stored)
{
    struct stat st;
    if (stat(stored, &st))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "model store %s: %s", stored,
                            strerror(errno));
    snprintf(job->stored_path, sizeof job->stored_path, "%s", stored);
    snprintf(job->model.sha256, sizeof job->model.sha256, "%s", sha);
    job->model.bytes = (uint64_t)st.st_size;
    aut_job_log(job, "the store holds sha256 %s already: not downloaded", sha);
    return 0;
}

/* One download at a time into the partial directory: two jobs fetching the
 * same model would append to the same file. The lock (flock of the directory)
 * goes with the process; waiting for it is cancelable and bounded by the fetch
 * deadline. */
static int lock_partial(struct aut_job *job, const char *dir, int *out)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s: %s", dir, strerror(errno));
    unsigned waited_ms = 0;
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            close(fd);
            return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "lock %s: %s", dir, strerror(e));
        }
        if (!waited_ms)
            aut_job_log(job, "waiting for another job's download into %s", dir);
        if (aut_cancel_fired(&job->cancel) || waited_ms / 1000 >= job->cfg->dl_fetch) {
            close(fd);
            return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE,
                                "another job has been downloading into %s for %u s", dir,
                                waited_ms / 1000);
        }
        usleep(LOCK_POLL_MS * 1000);
        waited_ms += LOCK_POLL_MS;
    }
    *out = fd;
    return 0;
}

/* The whole download against the manifest: a match enters the store, a
 * mismatch is removed. *again: a resumed download mismatched, and the prefix
 * kept from before may be the culprit: the caller starts over once. */
static int check_and_store(struct aut_job *job, const char *sha, const char *part, bool resumed,
                           bool *again)
{
    char got[AUT_SHA256_HEX], err[1024];
    uint64_t n;
    *again = false;
    if (aut_file_sha256(part, got, &n, err, sizeof err))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s", err);
    if (strcmp(got, sha)) {
        unlink(part);
        if (resumed) {
            aut_job_log(job, "the resumed download's sha256 is %s: starting over", got);
            *again = true;
            return 0;
        }
        return aut_job_fail(job, AUT_FAIL_MODEL,
                            "sha256 mismatch: the manifest says %s, the download is %s", sha, got);
    }
    int rc = aut_store_put(job->cfg->model_store, part, job->model.sha256, &job->model.bytes,
                           job->stored_path, err, sizeof err);
    if (rc) /* the part is whole and right: kept for the retry */
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "model store: %s", err);
    unlink(part);
    return 0;
}

/* Downloads the model into <store>/partial/<sha>.part, resuming what an
 * earlier attempt, job or daemon left there. Called with the lock held. */
static int download_model(struct aut_job *job, const char *sha, const char *dir)
{
    char part[PATH_MAX + 80], err[1024];
    snprintf(part, sizeof part, "%s/%s.part", dir, sha);
    for (int round = 0; round < 2; round++) {
        struct stat st;
        bool resumed = stat(part, &st) == 0 && st.st_size > 0;
        if (resumed)
            aut_job_log(job, "resuming %s at %lld bytes", part, (long long)st.st_size);
        uint64_t n;
        int rc = download(job, job->model_arg, part, max_model_bytes(job), &n, err, sizeof err);
        if (rc)
            return aut_job_fail(job, download_class(rc), "model %s", no_method(err));
        aut_job_log(job, "downloaded %s (%llu bytes)", job->model_arg, (unsigned long long)n);
        bool again;
        if (check_and_store(job, sha, part, resumed, &again))
            return -1;
        if (!again)
            return 0;
    }
    return aut_job_fail(job, AUT_FAIL_INTERNAL, "download of %s: no result", job->model_arg);
}

int aut_fetch_url(struct aut_job *job)
{
    const char *url = job->model_arg;
    char file[256], sha[AUT_SHA256_HEX], stored[PATH_MAX], dir[PATH_MAX + 16];
    if (url_file(url, file, sizeof file))
        return aut_job_fail(job, AUT_FAIL_MODEL, "model %s: the URL names no file", url);
    snprintf(job->model_path, sizeof job->model_path, "%s", url);
    aut_fetch_model_stem(file, job->model.name, sizeof job->model.name);
    if (url_manifest(job, url) || manifest_sha(job, sha))
        return -1;
    if (aut_store_path(job->cfg->model_store, sha, stored) == 0)
        return from_store(job, sha, stored);
    snprintf(dir, sizeof dir, "%s/partial", job->cfg->model_store);
    if (aut_mkdirs(dir, 0755))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s: %s", dir, strerror(errno));
    int lock = -1;
    if (lock_partial(job, dir, &lock))
        return -1;
    int rc;
    if (aut_store_path(job->cfg->model_store, sha, stored) == 0) /* stored while we waited */
        rc = from_store(job, sha, stored);
    else
        rc = download_model(job, sha, dir);
    close(lock);
    return rc;
}

/* ---- bundles ---------------------------------------------------------------------- */

/* Downloads a bundle URL into the report directory (resumed by a retry of
 * the job); its name is the URL's, made safe. */
static int download_bundle(struct aut_job *job, const char *url, char *local, size_t len)
{
    char file[256], err[1024];
    uint64_t n;
    if (url_file(url, file, sizeof file))
        return aut_job_fail(job, AUT_FAIL_MODEL, "bundle %s: the URL names no file", url);
    for (char *c = file; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *c))
            *c = '_';
    if (aut_mkdirs(job->report_dir, 0755))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "report directory %s: %s",
                            job->report_dir, strerror(errno));
    snprintf(local, len, "%s/download-%s", job->report_dir, file);
    int rc = download(job, url, local, max_model_bytes(job), &n, err, sizeof err);
    if (rc)
        return aut_job_fail(job, download_class(rc), "bundle %s", no_method(err));
    aut_job_log(job, "downloaded %s (%llu bytes)", url, (unsigned long long)n);
    return 0;
}

/* The extracted bundle goes on as a model file would. */
static int bundle_model(struct aut_job *job, const char *path, const char *dest,
                        const struct aut_bundle *b)
{
    size_t dl = strlen(dest);
    const char *entry = b->gguf;
    if (!strncmp(entry, dest, dl) && entry[dl] == '/')
        entry += dl + 1;
    snprintf(job->model_path, sizeof job->model_path, "%s!%s", path, entry);
    aut_fetch_model_stem(b->gguf, job->model.name, sizeof job->model.name);
    aut_job_log(job, "bundle %s: %u entries, %llu bytes, model %s, %s%s", path, b->entries,
                (unsigned long long)b->bytes, entry, b->manifest[0] ? "manifest " : "no manifest",
                b->manifest[0] ? b->manifest + (strncmp(b->manifest, dest, dl) ? 0 : dl + 1) : "");
    int rc;
    if (job->manifest_arg[0]) {
        rc = aut_fetch_manifest_arg(job);
    } else {
        snprintf(job->manifest_path, sizeof job->manifest_path, "%s", b->manifest);
        rc = b->manifest[0] ? aut_fetch_manifest_load(job) : 0;
    }
    if (!rc)
        rc = aut_fetch_store(job, b->gguf);
    if (!job->standalone) /* the store has it; a standalone job uses it in place */
        unlink(b->gguf);
    return rc;
}

int aut_fetch_bundle(struct aut_job *job, const char *path)
{
    char local[PATH_MAX + 16], dest[PATH_MAX + 16], err[1024];
    bool remote = aut_httpc_is_url(path);
    if (remote && download_bundle(job, path, local, sizeof local))
        return -1;
    if (!remote)
        snprintf(local, sizeof local, "%s", path);
    snprintf(dest, sizeof dest, "%s/bundle", job->report_dir);
    aut_rmtree(dest); /* an earlier attempt's */
    struct aut_bundle b;
    int rc = aut_archive_extract_bundle(local, dest, max_model_bytes(job), &b, err, sizeof err);
    if (remote)
        unlink(local);
    if (rc)
        return aut_job_fail(job, AUT_FAIL_MODEL, "%s", err);
    return bundle_model(job, path, dest, &b);
}
