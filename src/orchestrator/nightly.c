/*
 * nightly.c - nightly runs: a timer for [nightly] time (local), the run
 * itself (a record in the store and one job per model x architecture, the
 * models being paths or globs confined to the model roots), and the history
 * with each model's trend of key figures (boot time, tok/s, pool peak,
 * pass/fail) from one run to the next.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "daemon.h"

/* ---- the models of a run ----------------------------------------------------------------- */

static void trim(char *s)
{
    size_t n = strlen(s), i = 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    memmove(s, s + i, n - i + 1);
}

static bool seen(const cJSON *list, const char *path)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, list) if (!strcmp(v->valuestring, path)) return true;
    return false;
}

/* Adds the models matching pattern (relative: under each root) to list. */
static void expand(const struct aut_config *cfg, const char *pattern, cJSON *list)
{
    for (unsigned i = 0; i < cfg->n_model_roots; i++) {
        char pat[PATH_MAX * 2];
        if (pattern[0] == '/')
            snprintf(pat, sizeof pat, "%s", pattern);
        else
            snprintf(pat, sizeof pat, "%s/%s", cfg->model_roots[i], pattern);
        glob_t g;
        if (glob(pat, 0, NULL, &g) == 0) {
            for (size_t k = 0; k < g.gl_pathc; k++) {
                char out[PATH_MAX], why[PATH_MAX + 128];
                const char *code;
                if (aut_api_confine(g.gl_pathv[k], cfg->model_roots, cfg->n_model_roots, false, out,
                                    sizeof out, &code, why, sizeof why) == 0 &&
                    !seen(list, out))
                    cJSON_AddItemToArray(list, cJSON_CreateString(out));
            }
        }
        globfree(&g);
        if (pattern[0] == '/')
            break;
    }
}

/* The non-empty items of a comma-separated list, trimmed (the caller's array). */
static cJSON *split_list(const char *text)
{
    cJSON *items = cJSON_CreateArray();
    char *buf = strdup(text);
    for (char *save = NULL, *t = buf ? strtok_r(buf, ",", &save) : NULL; t;
         t = strtok_r(NULL, ",", &save)) {
        trim(t);
        if (*t)
            cJSON_AddItemToArray(items, cJSON_CreateString(t));
    }
    free(buf);
    return items;
}

int aut_nightly_start(struct aut_daemon *d, const struct aut_conf *c, const char *trigger,
                      const char *day, cJSON **out, char *err, size_t errlen)
{
    const struct aut_config *cfg = &c->cfg;
    cJSON *pats = split_list(cfg->nightly_models), *archs = split_list(cfg->nightly_archs);
    cJSON *models = cJSON_CreateArray();
    const cJSON *p, *m, *a;
    cJSON_ArrayForEach(p, pats) expand(cfg, p->valuestring, models);
    int np = cJSON_GetArraySize(pats), na = cJSON_GetArraySize(archs);
    cJSON_Delete(pats);
    if (cJSON_GetArraySize(models) == 0 || na == 0) {
        snprintf(err, errlen,
                 np == 0 ? "[nightly] models is empty: nothing to run"
                         : "[nightly] models '%s' matches no model under the "
                           "model roots",
                 cfg->nightly_models);
        cJSON_Delete(models);
        cJSON_Delete(archs);
        return -1;
    }
    int64_t run = 0;
    int rc = aut_db_nightly_begin(d->db, trigger, day, aut_now(), &run);
    if (rc) {
        snprintf(err, errlen,
                 rc == -EEXIST ? "the nightly run of %s exists already" : "job store: %s",
                 rc == -EEXIST ? day : aut_db_error(d->db));
        cJSON_Delete(models);
        cJSON_Delete(archs);
        return -1;
    }
    cJSON *res = cJSON_CreateObject(), *jobs = cJSON_AddArrayToObject(res, "jobs");
    cJSON_AddNumberToObject(res, "id", (double)run);
    cJSON_AddStringToObject(res, "trigger", trigger);
    cJSON_ArrayForEach(m, models) cJSON_ArrayForEach(a, archs)
    {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "model", m->valuestring);
        cJSON_AddStringToObject(req, "arch", a->valuestring);
        char id[AUT_DB_ID_MAX];
        if (aut_api_insert_job(d, req, NULL, NULL, run, NULL, id) >= 0)
            cJSON_AddItemToArray(jobs, cJSON_CreateString(id));
        cJSON_Delete(req);
    }
    cJSON_Delete(models);
    cJSON_Delete(archs);
    aut_dlog("nightly run %lld (%s): %d job(s) queued", (long long)run, trigger,
             cJSON_GetArraySize(jobs));
    *out = res;
    return 0;
}

/* ---- history and trends ------------------------------------------------------------------- */

static double fig(const cJSON *summary, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(summary, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The model's name in a trend: the manifest's name as verified, else the file's stem. */
static void model_key(const cJSON *job, char *out, size_t len)
{
    const char *n = cJSON_GetStringValue(
        cJSON_GetObjectItem(cJSON_GetObjectItem(job, "summary"), "model_name"));
    const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(job, "model"));
    const char *arch = cJSON_GetStringValue(cJSON_GetObjectItem(job, "arch"));
    if (!n && m) {
        n = strrchr(m, '/') ? strrchr(m, '/') + 1 : m;
    }
    snprintf(out, len, "%s@%s", n ? n : "?", arch ? arch : "?");
    size_t l = strlen(out);
    char *dot = strstr(out, ".gguf@");
    if (dot)
        memmove(dot, dot + 5, l - (size_t)(dot - out) - 4);
}

static void add_change(cJSON *point, const cJSON *prev, const char *k)
{
    double a = fig(cJSON_GetObjectItem(prev, "figures"), k);
    double b = fig(cJSON_GetObjectItem(point, "figures"), k);
    char name[48];
    snprintf(name, sizeof name, "%s_change_pct", k);
    if (a > 0 && b >= 0)
        cJSON_AddNumberToObject(point, name, 100.0 * (b - a) / a);
    else
        cJSON_AddNullToObject(point, name);
}

/* trends[model] = [points oldest first], each {run, started, job, state, passed, figures,
 * *_change_pct against the previous point}. */
static cJSON *trends(const cJSON *runs)
{
    cJSON *t = cJSON_CreateObject();
    for (int i = cJSON_GetArraySize(runs) - 1; i >= 0; i--) {
        const cJSON *run = cJSON_GetArrayItem(runs, i), *job;
        cJSON_ArrayForEach(job, cJSON_GetObjectItem(run, "jobs"))
        {
            char key[320];
            model_key(job, key, sizeof key);
            cJSON *pts = cJSON_GetObjectItem(t, key);
            if (!pts)
                pts = cJSON_AddArrayToObject(t, key);
            const cJSON *sum = cJSON_GetObjectItem(job, "summary");
            cJSON *p = cJSON_CreateObject();
            cJSON_AddItemToObject(p, "run", cJSON_Duplicate(cJSON_GetObjectItem(run, "id"), 0));
            cJSON_AddItemToObject(p, "started",
                                  cJSON_Duplicate(cJSON_GetObjectItem(run, "started"), 0));
            cJSON_AddItemToObject(p, "job", cJSON_Duplicate(cJSON_GetObjectItem(job, "id"), 0));
            cJSON_AddItemToObject(p, "state",
                                  cJSON_Duplicate(cJSON_GetObjectItem(job, "state"), 0));
            const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(job, "state"));
            cJSON_AddBoolToObject(p, "passed", st && !strcmp(st, "committed"));
            cJSON *f = cJSON_AddObjectToObject(p, "figures");
            static const char *const keys[] = {"boot_ms", "tok_s", "pool_peak_mb"};
            for (int k = 0; k < 3; k++)
                if (fig(sum, keys[k]) >= 0)
                    cJSON_AddNumberToObject(f, keys[k], fig(sum, keys[k]));
            int n = cJSON_GetArraySize(pts);
            for (int k = 0; n && k < 3; k++)
                add_change(p, cJSON_GetArrayItem(pts, n - 1), keys[k]);
            cJSON_AddItemToArray(pts, p);
        }
    }
    return t;
}

cJSON *aut_nightly_history(struct aut_daemon *d, const struct aut_conf *c, unsigned limit)
{
    cJSON *runs = NULL;
    if (aut_db_nightly_list(d->db, limit, &runs))
        return NULL;
    const struct aut_config *cfg = &c->cfg;
    cJSON *h = cJSON_CreateObject();
    cJSON_AddBoolToObject(h, "enabled", cfg->nightly_enabled);
    char hhmm[8];
    snprintf(hhmm, sizeof hhmm, "%02u:%02u", cfg->nightly_minute / 60, cfg->nightly_minute % 60);
    cJSON_AddStringToObject(h, "time", hhmm);
    cJSON_AddStringToObject(h, "models", cfg->nightly_models);
    cJSON_AddStringToObject(h, "archs", cfg->nightly_archs);
    cJSON_AddItemToObject(h, "trends", trends(runs));
    cJSON_AddItemToObject(h, "runs", runs);
    return h;
}

/* ---- the timer ---------------------------------------------------------------------------- */

struct fire {
    uv_work_t w;
    struct aut_daemon *d;
    struct aut_conf *c;
    char day[16];
    char err[1024];
    int rc;
};

static void fire_work(uv_work_t *w)
{
    struct fire *f = w->data;
    cJSON *out = NULL;
    f->rc = aut_nightly_start(f->d, f->c, "schedule", f->day, &out, f->err, sizeof f->err);
    cJSON_Delete(out);
}

static void fire_after(uv_work_t *w, int status)
{
    struct fire *f = w->data;
    if (f->rc)
        aut_dlog("nightly run of %s not started: %s", f->day, f->err);
    aut_conf_put(f->c);
    struct aut_daemon *d = f->d;
    free(f);
    aut_sched_kick(d);
    aut_nightly_arm(d);
}

static void on_nightly(uv_timer_t *t)
{
    struct aut_daemon *d = t->data;
    struct fire *f = calloc(1, sizeof *f);
    if (!f)
        return;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(f->day, sizeof f->day, "%Y-%m-%d", &tm);
    f->d = d;
    f->c = aut_daemon_conf(d);
    f->w.data = f;
    if (uv_queue_work(d->loop, &f->w, fire_work, fire_after)) {
        aut_conf_put(f->c);
        free(f);
    }
}

void aut_nightly_arm(struct aut_daemon *d)
{
    const struct aut_config *cfg = &d->conf->cfg;
    uv_timer_stop(&d->nightly_timer);
    d->nightly_next[0] = '\0';
    if (!cfg->nightly_enabled || d->stopping)
        return;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    tm.tm_hour = (int)(cfg->nightly_minute / 60);
    tm.tm_min = (int)(cfg->nightly_minute % 60);
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    time_t next = mktime(&tm);
    if (next <= now) {
        tm.tm_mday++;
        tm.tm_isdst = -1;
        next = mktime(&tm);
    }
    struct tm nt;
    localtime_r(&next, &nt);
    strftime(d->nightly_next, sizeof d->nightly_next, "%Y-%m-%dT%H:%M:%S%z", &nt);
    uv_timer_start(&d->nightly_timer, on_nightly, (uint64_t)(next - now) * 1000, 0);
    aut_dlog("nightly: next run at %s", d->nightly_next);
}
