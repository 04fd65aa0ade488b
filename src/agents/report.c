/*
 * report.c - the integration report: its skeleton, the final fields, the
 * JSON file and the JUnit XML twin (one testsuite "integration", a testcase
 * per stage and per validation check), the job's artifacts archive, and
 * retention of report directories.
 */
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "fsutil.h"
#include "pipeline.h"

#define ARTIFACTS_NAME "artifacts.tar.zst"

void aut_report_time(cJSON *obj, const char *key, double t)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    char buf[40];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)((t - (double)s) * 1000.0));
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddStringToObject(obj, key, buf);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static cJSON *host_info(void)
{
    cJSON *h = cJSON_CreateObject();
    char name[256] = "";
    gethostname(name, sizeof name - 1);
    struct utsname u;
    cJSON_AddStringToObject(h, "hostname", name);
    if (!uname(&u)) {
        cJSON_AddStringToObject(h, "os", u.sysname);
        cJSON_AddStringToObject(h, "release", u.release);
        cJSON_AddStringToObject(h, "machine", u.machine);
    }
    cJSON_AddNumberToObject(h, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
    return h;
}

cJSON *aut_report_new(const struct aut_job *job)
{
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    cJSON_AddStringToObject(r, "schema", AUT_REPORT_SCHEMA);
    cJSON_AddStringToObject(r, "job_id", job->id);
    aut_report_time(r, "created", now_s());
    cJSON_AddStringToObject(r, "architecture", job->arch);
    cJSON_AddItemToObject(r, "host", host_info());
    cJSON *o = cJSON_AddObjectToObject(r, "options");
    cJSON_AddStringToObject(o, "model", job->model_arg);
    cJSON_AddStringToObject(o, "prompts", job->prompts);
    cJSON_AddStringToObject(o, "rollback", aut_rollback_name(job->rollback));
    cJSON_AddStringToObject(o, "fallback", job->fallback ? "auto" : "off");
    cJSON_AddStringToObject(o, "channel", job->bridge ? "bridge" : "console");
    cJSON_AddStringToObject(o, "config", job->cfg->path);
    cJSON_AddArrayToObject(r, "attempts");
    cJSON_AddArrayToObject(r, "stages");
    cJSON_AddArrayToObject(r, "prompts");
    cJSON_AddArrayToObject(r, "checks");
    cJSON_AddArrayToObject(r, "notes");
    return r;
}

void aut_report_note(struct aut_job *job, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(job->report, "notes"),
                         cJSON_CreateString(line));
}

void aut_report_reset_results(struct aut_job *job)
{
    static const char *const objs[] = {"model", "build", "boot", "regress", "accelerator"};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(job->report, objs[i]);
    cJSON_ReplaceItemInObjectCaseSensitive(job->report, "prompts", cJSON_CreateArray());
    cJSON_ReplaceItemInObjectCaseSensitive(job->report, "checks", cJSON_CreateArray());
}

const char *aut_report_decision(const struct aut_job *job)
{
    if (job->committed)
        return "committed";
    return job->rolled_back ? "rolled_back" : "unchanged";
}

static void set_str(cJSON *obj, const char *key, const char *val)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    if (val && val[0])
        cJSON_AddStringToObject(obj, key, val);
    else
        cJSON_AddNullToObject(obj, key);
}

static void fill_workspace(struct aut_job *job)
{
    cJSON *w = aut_job_section(job, "workspace");
    set_str(w, "path", job->ws_dir);
    char branch[128];
    snprintf(branch, sizeof branch, "integration/%s", job->id);
    set_str(w, "branch", job->standalone ? "" : branch);
    set_str(w, "main_before", job->base);
    set_str(w, "main_after", job->main_after[0] ? job->main_after : job->base);
    set_str(w, "commit", job->commit);
}

static void fill_result(struct aut_job *job)
{
    cJSON *res = aut_job_section(job, "result");
    cJSON_DeleteItemFromObjectCaseSensitive(res, "passed");
    cJSON_AddBoolToObject(res, "passed", job->fail_class == AUT_FAIL_NONE);
    set_str(res, "decision", aut_report_decision(job));
    set_str(res, "class", job->fail_class ? aut_fail_class_name(job->fail_class) : "");
    set_str(res, "stage", job->fail_stage);
    set_str(res, "message", job->fail_msg);
    set_str(res, "recommendation", job->recommendation);
}

static void fill_reproducer(struct aut_job *job)
{
    char cmd[3 * PATH_MAX];
    int n = snprintf(cmd, sizeof cmd, "autonctl integrate --local --arch %s", job->arch);
    if (job->cfg->path[0])
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --config %s", job->cfg->path);
    n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --prompts %s --%s%s %s", job->prompts,
                  job->bridge ? "bridge" : "console", job->fallback ? "" : " --no-fallback",
                  /* a bundle's model_path ("<bundle>!<entry>") is a record, not an argument */
                  job->model_path[0] && !strchr(job->model_path, '!') ? job->model_path
                                                                      : job->model_arg);
    set_str(job->report, "reproducer", cmd);
}

void aut_report_fill(struct aut_job *job)
{
    fill_workspace(job);
    fill_result(job);
    fill_reproducer(job);
    set_str(job->report, "channel", job->bridge ? "bridge" : "console");
    set_str(job->report, "qemu_version", job->qemu_version);
    aut_report_time(job->report, "finished", now_s());
}

int aut_report_write(const cJSON *report, const char *path, char *err, size_t errlen)
{
    char *text = cJSON_Print(report);
    if (!text) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* cJSON's buffer has the NUL's byte; write it as a newline */
    int rc = aut_write_file(path, text, len + 1, err, errlen);
    free(text);
    return rc ? -1 : 0;
}

/* ---- JUnit ------------------------------------------------------------------ */

static void xml_escaped(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if (c < 0x20 && c != '\n' && c != '\t')
                fputc('?', f); /* XML 1.0 cannot carry other control characters */
            else
                fputc(c, f);
        }
    }
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void junit_case(FILE *f, const char *cls, const char *name, double secs, bool skipped,
                       const char *failure)
{
    fputs("    <testcase classname=\"", f);
    xml_escaped(f, cls);
    fputs("\" name=\"", f);
    xml_escaped(f, name);
    fprintf(f, "\" time=\"%.3f\"", secs);
    if (!failure && !skipped) {
        fputs("/>\n", f);
        return;
    }
    fputs(">\n", f);
    if (skipped) {
        fputs("      <skipped/>\n", f);
    } else {
        fputs("      <failure message=\"", f);
        xml_escaped(f, failure);
        fputs("\"/>\n", f);
    }
    fputs("    </testcase>\n", f);
}

static void junit_checks(FILE *f, const cJSON *report)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(report, "checks"))
    {
        bool pass = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "pass"));
        char why[600];
        snprintf(why, sizeof why, "expected %s, measured %s%s%s", jstr(c, "expected"),
                 jstr(c, "measured"), jstr(c, "detail")[0] ? ": " : "", jstr(c, "detail"));
        junit_case(f, "integration.validate", jstr(c, "name"), 0, false, pass ? NULL : why);
    }
}

int aut_report_write_junit(const cJSON *report, const char *path, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    const cJSON *stages = cJSON_GetObjectItemCaseSensitive(report, "stages"), *s;
    int tests = 0, failures = 0;
    cJSON_ArrayForEach(s, stages)
    {
        tests++;
        failures += !strcmp(jstr(s, "status"), "failed");
    }
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(report, "checks"))
    {
        tests++;
        failures += !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "pass"));
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    fprintf(f, "  <testsuite name=\"integration\" tests=\"%d\" failures=\"%d\" errors=\"0\" "
               "timestamp=\"%s\" hostname=\"",
            tests, failures, jstr(report, "created"));
    xml_escaped(f, jstr(cJSON_GetObjectItemCaseSensitive(report, "host"), "hostname"));
    fputs("\">\n", f);
    cJSON_ArrayForEach(s, stages)
    {
        char name[64];
        snprintf(name, sizeof name, "%s#%d", jstr(s, "name"), (int)jnum(s, "attempt"));
        bool failed = !strcmp(jstr(s, "status"), "failed");
        junit_case(f, "integration.stage", name, jnum(s, "ms") / 1000.0,
                   !strcmp(jstr(s, "status"), "skipped"), failed ? jstr(s, "error") : NULL);
    }
    junit_checks(f, report);
    fputs("  </testsuite>\n</testsuites>\n", f);
    fclose(f);
    int rc = aut_write_file(path, buf, len, err, errlen);
    free(buf);
    return rc ? -1 : 0;
}

/* ---- the end of a job ------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Job ids start with their UTC time, so name order is age order. */
static void prune_reports(const char *root, unsigned keep)
{
    DIR *d = keep ? opendir(root) : NULL;
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || e->d_type != DT_DIR)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn)
                break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i + keep < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        aut_rmtree(path);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* reports/<job>/artifacts.tar.zst: what a CI system or a person keeps of the
 * job in one file (the files that exist of these). */
static void write_artifacts(struct aut_job *job)
{
    static const char *const names[] = {
        AUT_REPORT_NAME, AUT_REPORT_JUNIT,        "build.log", "rollback-build.log",
        "console.log",   AUT_FETCH_MANIFEST_COPY, NULL,
    };
    char path[PATH_MAX + 32], err[1024];
    snprintf(path, sizeof path, "%s/%s", job->report_dir, ARTIFACTS_NAME);
    if (aut_archive_write_tzst(path, job->report_dir, names, NULL, err, sizeof err))
        fprintf(stderr, "autonctl: %s\n", err);
}

void aut_report_finish(struct aut_job *job)
{
    aut_report_fill(job);
    char err[512], path[PATH_MAX + 64];
    if (aut_mkdirs(job->report_dir, 0755)) {
        fprintf(stderr, "autonctl: cannot create %s: %s\n", job->report_dir, strerror(errno));
        return;
    }
    snprintf(path, sizeof path, "%s/%s", job->report_dir, AUT_REPORT_NAME);
    if (aut_report_write(job->report, path, err, sizeof err))
        fprintf(stderr, "autonctl: %s\n", err);
    snprintf(path, sizeof path, "%s/%s", job->report_dir, AUT_REPORT_JUNIT);
    if (aut_report_write_junit(job->report, path, err, sizeof err))
        fprintf(stderr, "autonctl: %s\n", err);
    write_artifacts(job);
    prune_reports(job->cfg->reports, job->cfg->keep_reports);
}
