/*
 * cmd_nightly.c - autonctl nightly: autond's nightly runs (each with its
 * jobs passed / total) and, per model, the trend of its key figures from
 * one run to the next (boot time, tok/s, SLM pool peak, pass/fail);
 * `nightly run-now` starts a run at once and can wait for its jobs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const char usage_text[] =
    "usage: autonctl nightly [--limit N] [--json]\n"
    "       autonctl nightly run-now [--wait] [--json]\n"
    "\n"
    "Without a command: the last N nightly runs (default 30) and each model's trend.\n"
    "run-now starts a run of the [nightly] models and archs now; --wait waits for its\n"
    "jobs to end (exit status 0 when all of them committed).\n";

#define HISTORY_MARKS 12 /* pass/fail marks shown per model */

static void print_runs(const cJSON *runs)
{
    const cJSON *r, *j;
    char t[32];
    printf("%-5s %-9s %-20s %-8s %s\n", "RUN", "TRIGGER", "STARTED", "STATE", "JOBS PASSED");
    cJSON_ArrayForEach(r, runs)
    {
        int n = 0, pass = 0;
        cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(r, "jobs"))
        {
            n++;
            pass += !strcmp(aut_cli_jstr(j, "state", ""), "committed");
        }
        printf("%-5.0f %-9s %-20s %-8s %d/%d\n", aut_cli_jnum(r, "id", 0),
               aut_cli_jstr(r, "trigger", "-"),
               aut_cli_time(aut_cli_jnum(r, "started", 0), t, sizeof t),
               aut_cli_jstr(r, "state", "-"), pass, n);
    }
}

/* "812.0 ↑3.2%": the last value and its change from the run before. */
static const char *figure(const cJSON *point, const char *key, char *buf, size_t len)
{
    char change[48];
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(point, "figures"), key);
    if (!cJSON_IsNumber(v))
        return snprintf(buf, len, "-"), buf;
    snprintf(change, sizeof change, "%s_change_pct", key);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(point, change);
    double pct = cJSON_IsNumber(c) ? c->valuedouble : 0;
    if (cJSON_IsNumber(c) && (pct >= 0.05 || pct <= -0.05))
        snprintf(buf, len, "%.1f %s%.1f%%", v->valuedouble, pct > 0 ? "↑" : "↓",
                 pct < 0 ? -pct : pct);
    else
        snprintf(buf, len, "%.1f%s", v->valuedouble, cJSON_IsNumber(c) ? " =" : "");
    return buf;
}

/* s left-aligned in width columns: printf counts bytes, the arrows take three. */
static void cell(const char *s, int width)
{
    int extra = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        extra += (*p & 0xC0) == 0x80;
    printf("%-*s ", width + extra, s);
}

/* One line per model: its runs' pass/fail marks (oldest first) and the last figures. */
static void print_trends(const cJSON *trends)
{
    const cJSON *t;
    char fig[48], marks[HISTORY_MARKS + 1];
    static const char *const keys[] = {"boot_ms", "tok_s", "pool_peak_mb"};
    if (!cJSON_GetArraySize(trends))
        return;
    printf("\n%-24s %-4s %-12s %-16s %-16s %s\n", "MODEL", "RUNS", "PASS/FAIL", "BOOT_MS", "TOK/S",
           "POOL_PEAK_MB");
    cJSON_ArrayForEach(t, trends)
    {
        int n = cJSON_GetArraySize(t), first = n > HISTORY_MARKS ? n - HISTORY_MARKS : 0, k = 0;
        for (int i = first; i < n; i++) {
            const cJSON *pt = cJSON_GetArrayItem(t, i);
            marks[k++] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt, "passed")) ? 'P' : 'F';
        }
        marks[k] = '\0';
        printf("%-24s %-4d %-12s ", t->string, n, marks);
        for (int f = 0; f < 3; f++)
            cell(figure(cJSON_GetArrayItem(t, n - 1), keys[f], fig, sizeof fig), 16);
        putchar('\n');
    }
}

static int history(struct aut_cli *cli, long limit, bool json)
{
    char path[64];
    cJSON *h = NULL;
    snprintf(path, sizeof path, "/v1/nightly?limit=%ld", limit);
    int rc = aut_client_get(cli, path, &h);
    if (rc)
        return rc;
    char *text = json ? cJSON_Print(h) : NULL;
    if (text) {
        puts(text);
    } else {
        bool on = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "enabled"));
        printf("nightly: %s%s, models \"%s\", archs %s\n\n", on ? "every night at " : "disabled",
               on ? aut_cli_jstr(h, "time", "-") : "", aut_cli_jstr(h, "models", ""),
               aut_cli_jstr(h, "archs", "-"));
        print_runs(cJSON_GetObjectItemCaseSensitive(h, "runs"));
        print_trends(cJSON_GetObjectItemCaseSensitive(h, "trends"));
    }
    free(text);
    cJSON_Delete(h);
    return AUT_EXIT_OK;
}

/* Waits for each job of the run to end; the worst exit code of them. */
static int wait_jobs(struct aut_cli *cli, const cJSON *jobs)
{
    int worst = AUT_EXIT_OK;
    const cJSON *j;
    cJSON_ArrayForEach(j, jobs)
    {
        char state[32] = "", err[1024], path[256];
        const char *id = cJSON_GetStringValue(j);
        cJSON *job = NULL;
        if (!id || aut_client_check_id(id))
            continue;
        if (aut_client_events(cli, id, NULL, NULL, state, sizeof state, err, sizeof err))
            return aut_cli_error(AUT_EXIT_INFRA, "%s", err);
        snprintf(path, sizeof path, "/v1/integrations/%s", id);
        if (aut_client_get(cli, path, &job))
            return AUT_EXIT_INFRA;
        printf("job %s: %s%s%s\n", id, state, aut_cli_jstr(job, "class", NULL) ? ", " : "",
               aut_cli_jstr(job, "class", ""));
        int rc = aut_client_exit_code(state, aut_cli_jstr(job, "class", NULL));
        worst = rc > worst ? rc : worst;
        cJSON_Delete(job);
    }
    return worst;
}

static int run_now(struct aut_cli *cli, bool wait, bool json)
{
    char err[1024];
    long status = 0;
    cJSON *run = NULL;
    if (aut_client_call(cli, "POST", "/v1/nightly/run", NULL, NULL, &status, &run, err, sizeof err))
        return aut_cli_error(AUT_EXIT_INFRA, "%s", err);
    int rc = AUT_EXIT_OK;
    const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(run, "jobs"), *j;
    if (status != 202) {
        rc = aut_client_fail(status, run, "POST /v1/nightly/run");
    } else {
        fprintf(json ? stderr : stdout, "nightly run %.0f started: %d job(s)\n",
                aut_cli_jnum(run, "id", 0), cJSON_GetArraySize(jobs));
        cJSON_ArrayForEach(j, jobs)
            fprintf(json ? stderr : stdout, "  %s\n", cJSON_IsString(j) ? j->valuestring : "-");
        fflush(stdout);
        if (wait)
            rc = wait_jobs(cli, jobs);
        char *text = json ? cJSON_Print(run) : NULL;
        if (text)
            puts(text);
        free(text);
    }
    cJSON_Delete(run);
    return rc;
}

int cmd_nightly(struct aut_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},
                                             {"wait", no_argument, 0, 'w'},
                                             {"limit", required_argument, 0, 'n'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    bool json = false, wait = false;
    long limit = 30;
    char *end;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j' || c == 'w') {
            *(c == 'j' ? &json : &wait) = true;
        } else if (c == 'n') {
            limit = strtol(optarg, &end, 10);
            if (!optarg[0] || *end || limit < 1 || limit > 1000)
                return aut_cli_error(AUT_EXIT_USAGE, "--limit %s: expected 1..1000", optarg);
        } else {
            fputs(usage_text, c == 'h' ? stdout : stderr);
            return c == 'h' ? AUT_EXIT_OK : AUT_EXIT_USAGE;
        }
    }
    bool now = optind == argc - 1 && !strcmp(argv[optind], "run-now");
    if (optind != argc && !now)
        return aut_cli_error(AUT_EXIT_USAGE, "nightly: the only command is run-now");
    if (wait && !now)
        return aut_cli_error(AUT_EXIT_USAGE, "nightly: --wait goes with run-now");
    if ((rc = aut_client_need(cli, "nightly")))
        return rc;
    return now ? run_now(cli, wait, json) : history(cli, limit, json);
}
