/*
 * stage_infer.c - infer: the prompt suite (tests/prompts/<name>.json) through the
 * booted kernel, over the bridge (slm.query) or the console (slm query).
 * Every answer goes to the report with its tokens, time, speed and pool use;
 * judging them is validate's job.
 *
 * A suite: {"name": "...", "max_tokens": 50, "prompts": [{"prompt": "...",
 * "max_tokens"?: n, "expect_any"?: [...], "expect_all"?: [...],
 * "reject"?: [...], "min_chars"?: n}, ...]}
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "pipeline.h"
#include "vm.h"

#define PROMPTS_MAX 256

static int bad_suite(char *err, size_t len, const char *path, const char *what, int i)
{
    if (i >= 0)
        snprintf(err, len, "prompt suite %s: prompts[%d]: %s", path, i, what);
    else
        snprintf(err, len, "prompt suite %s: %s", path, what);
    return -1;
}

static bool str_array(const cJSON *a)
{
    const cJSON *s;
    if (!a)
        return true;
    if (!cJSON_IsArray(a))
        return false;
    cJSON_ArrayForEach(s, a) if (!cJSON_IsString(s)) return false;
    return true;
}

static bool token_count(const cJSON *n)
{
    return !n || (cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble <= 4096 &&
                  n->valuedouble == (double)(int)n->valuedouble);
}

int aut_prompts_load(const char *path, cJSON **out, char *err, size_t len)
{
    char *text = NULL;
    size_t tlen;
    if (aut_read_file(path, 1 << 20, &text, &tlen, err, len))
        return -1;
    cJSON *s = cJSON_ParseWithLength(text, tlen);
    free(text);
    const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(s, "prompts"), *p;
    int rc = 0, i = 0;
    if (!cJSON_IsObject(s))
        rc = bad_suite(err, len, path, "not a JSON object", -1);
    else if (!cJSON_IsArray(prompts) || !cJSON_GetArraySize(prompts))
        rc = bad_suite(err, len, path, "\"prompts\" must be a non-empty array", -1);
    else if (cJSON_GetArraySize(prompts) > PROMPTS_MAX)
        rc = bad_suite(err, len, path, "more than 256 prompts", -1);
    else if (!token_count(cJSON_GetObjectItemCaseSensitive(s, "max_tokens")))
        rc = bad_suite(err, len, path, "max_tokens must be an integer 1..4096", -1);
    const cJSON *list = rc ? NULL : prompts;
    cJSON_ArrayForEach(p, list)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "prompt");
        if (!cJSON_IsString(t) || !t->valuestring[0] || strlen(t->valuestring) > 4000)
            rc = bad_suite(err, len, path, "\"prompt\" must be a string of 1..4000 bytes", i);
        else if (!str_array(cJSON_GetObjectItemCaseSensitive(p, "expect_any")) ||
                 !str_array(cJSON_GetObjectItemCaseSensitive(p, "expect_all")) ||
                 !str_array(cJSON_GetObjectItemCaseSensitive(p, "reject")))
            rc = bad_suite(err, len, path, "expect_any, expect_all, reject: arrays of strings", i);
        else if (!token_count(cJSON_GetObjectItemCaseSensitive(p, "max_tokens")))
            rc = bad_suite(err, len, path, "max_tokens must be an integer 1..4096", i);
        if (rc)
            break;
        i++;
    }
    if (rc) {
        cJSON_Delete(s);
        return -1;
    }
    *out = s;
    return 0;
}

static void copy_key(cJSON *dst, const cJSON *src, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);
    if (v)
        cJSON_AddItemToObject(dst, key, cJSON_Duplicate(v, true));
}

static cJSON *prompt_record(const cJSON *p, const struct aut_query_result *r, unsigned max)
{
    cJSON *o = cJSON_CreateObject();
    copy_key(o, p, "prompt");
    cJSON_AddNumberToObject(o, "max_tokens", max);
    cJSON_AddStringToObject(o, "output", r->output ? r->output : "");
    cJSON_AddNumberToObject(o, "tokens", r->tokens);
    cJSON_AddNumberToObject(o, "ms", (double)r->ms);
    cJSON_AddNumberToObject(o, "tok_s", r->tok_s);
    cJSON_AddNumberToObject(o, "pool_used", (double)r->pool_used);
    cJSON_AddNumberToObject(o, "pool_peak", (double)r->pool_peak);
    cJSON_AddStringToObject(o, "backend", r->backend);
    copy_key(o, p, "expect_any");
    copy_key(o, p, "expect_all");
    copy_key(o, p, "reject");
    copy_key(o, p, "min_chars");
    return o;
}

static int infer_run(struct aut_job *job)
{
    char err[1024];
    cJSON *suite = NULL;
    if (aut_prompts_load(job->prompts, &suite, err, sizeof err))
        return aut_job_fail(job, AUT_FAIL_INTERNAL, "%s", err);
    if (!job->vm) {
        aut_job_fail(job, AUT_FAIL_INTERNAL, "infer: no booted kernel (run boot first)");
        cJSON_Delete(suite);
        return -1;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(suite, "max_tokens"), *p;
    unsigned dflt = cJSON_IsNumber(d) ? (unsigned)d->valuedouble : job->cfg->max_tokens;
    uint32_t timeout = aut_job_deadline_ms(job, job->cfg->dl_infer, true);
    cJSON *out = cJSON_GetObjectItemCaseSensitive(job->report, "prompts");
    int i = 0, rc = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(suite, "prompts"))
    {
        const char *text = cJSON_GetObjectItemCaseSensitive(p, "prompt")->valuestring;
        const cJSON *mt = cJSON_GetObjectItemCaseSensitive(p, "max_tokens");
        unsigned max = mt ? (unsigned)mt->valuedouble : dflt;
        struct aut_query_result r;
        if (aut_vm_query(job->vm, text, max, timeout, &r, err, sizeof err)) {
            rc = aut_job_fail(job, AUT_FAIL_INFERENCE, "prompt %d '%.80s': %s", i, text, err);
            break;
        }
        cJSON *rec = prompt_record(p, &r, max);
        cJSON_AddItemToArray(out, rec);
        aut_job_event(job, "prompt", rec);
        aut_job_log(job, "'%.60s' -> '%.100s' (%u tokens, %llu ms, %s)", text, r.output,
                    r.tokens, (unsigned long long)r.ms, r.backend);
        aut_query_result_release(&r);
        i++;
    }
    cJSON_Delete(suite);
    return rc;
}

const struct aut_stage aut_stage_infer = {.name = "infer", .run = infer_run};
