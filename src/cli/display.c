/*
 * display.c - what a job shows on the terminal: its events as they come (a
 * live line per stage on a terminal, plain lines otherwise) and the summary
 * table of its report. One display for both modes: the in-process pipeline
 * hands its events to aut_cli_show_event, and so does autond's event stream
 * with the very same data objects.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void show_stage(const struct aut_cli_progress *p, const cJSON *data)
{
    const char *name = aut_cli_jstr(data, "stage", "-");
    const char *status = aut_cli_jstr(data, "status", "-");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(data, "error");
    if (!strcmp(status, "running")) {
        if (p->tty)
            fprintf(stderr, "\r\033[K  %-12s running...", name);
        else
            fprintf(stderr, "stage %s: running\n", name);
        return;
    }
    fprintf(stderr, "%s%s %-12s %s (%.1f s)%s%s\n", p->tty ? "\r\033[K" : "",
            p->tty ? " " : "stage", name, status, aut_cli_jnum(data, "ms", 0) / 1000,
            cJSON_IsString(err) ? ": " : "", cJSON_IsString(err) ? err->valuestring : "");
}

/* The job's own events: only where it may have waited (autond's queue), so
 * that the wait and the start are seen. */
static void show_job(const struct aut_cli_progress *p, const cJSON *data)
{
    const char *status = aut_cli_jstr(data, "status", "-");
    if (!p->announce || strcmp(status, "running"))
        return;
    const char *kind = aut_cli_jstr(data, "kind", NULL);
    fprintf(stderr, "%sjob %s: running%s%s\n", p->tty ? "\r\033[K" : "",
            aut_cli_jstr(data, "job", "-"), kind ? " " : "", kind ? kind : "");
}

void aut_cli_show_event(void *ud, const char *type, const cJSON *data)
{
    const struct aut_cli_progress *p = ud;
    const char *clear = p->tty ? "\r\033[K" : "";
    if (p->quiet)
        return;
    if (!strcmp(type, "stage")) {
        show_stage(p, data);
    } else if (!strcmp(type, "prompt")) {
        fprintf(stderr, "%s    prompt '%.50s' -> '%.70s'\n", clear,
                aut_cli_jstr(data, "prompt", "-"), aut_cli_jstr(data, "output", ""));
    } else if (!strcmp(type, "attempt")) {
        fprintf(stderr, "%sattempt with %s failed (%s); trying again\n", clear,
                aut_cli_jstr(data, "model", "-"), aut_cli_jstr(data, "class", "-"));
    } else if (!strcmp(type, "job")) {
        show_job(p, data);
    }
}

void aut_cli_print_summary(FILE *f, const cJSON *r)
{
    fprintf(f, "\n%-12s %-8s %9s\n", "STAGE", "STATUS", "TIME");
    const cJSON *s, *c;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "stages"))
        fprintf(f, "%-12s %-8s %8.1fs\n", aut_cli_jstr(s, "name", "-"),
                aut_cli_jstr(s, "status", "-"), aut_cli_jnum(s, "ms", 0) / 1000.0);
    int n = 0, pass = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "checks"))
    {
        n++;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "pass"))) {
            pass++;
            continue;
        }
        fprintf(f, "check %s failed: expected %s, measured %s\n", aut_cli_jstr(c, "name", "-"),
                aut_cli_jstr(c, "expected", "-"), aut_cli_jstr(c, "measured", "-"));
    }
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(r, "result");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(r, "model");
    fprintf(f, "\njob %s: model %s, %d/%d checks passed, decision: %s\n",
            aut_cli_jstr(r, "job_id", "-"), aut_cli_jstr(model, "name", "-"), pass, n,
            aut_cli_jstr(res, "decision", "-"));
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "passed"))) {
        fprintf(f, "failure: %s at %s: %s\n", aut_cli_jstr(res, "class", "-"),
                aut_cli_jstr(res, "stage", "-"), aut_cli_jstr(res, "message", "-"));
        fprintf(f, "recommendation: %s\n", aut_cli_jstr(res, "recommendation", "-"));
    }
}
