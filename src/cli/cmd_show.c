/*
 * cmd_show.c - autonctl show: one of autond's jobs - what was asked, where
 * it is or how it ended, its stages with their durations and the webhook
 * deliveries of its events (or the API's JSON with --json).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const char usage_text[] = "usage: autonctl show [--json] JOB\n";

/* "key  value" for the fields that are set. */
static void field(const char *key, const char *value)
{
    if (value)
        printf("%-15s %s\n", key, value);
}

static void print_times(const cJSON *j)
{
    char a[32], b[32], d[16], line[128];
    double created = aut_cli_jnum(j, "created", 0), started = aut_cli_jnum(j, "started", 0);
    double finished = aut_cli_jnum(j, "finished", 0);
    snprintf(line, sizeof line, "%s (%s ago)", aut_cli_time(created, a, sizeof a),
             aut_cli_duration(aut_cli_now() - created, d, sizeof d));
    field("created", line);
    if (started) {
        snprintf(line, sizeof line, "%s, %s %s", aut_cli_time(started, a, sizeof a),
                 finished ? "took" : "running for",
                 aut_cli_duration((finished ? finished : aut_cli_now()) - started, d, sizeof d));
        field("started", line);
    }
    if (finished)
        field("finished", aut_cli_time(finished, b, sizeof b));
}

static void print_summary(const cJSON *s)
{
    char line[512];
    if (!cJSON_IsObject(s))
        return;
    snprintf(line, sizeof line, "%s, %s (%s, %s)", aut_cli_jstr(s, "decision", "-"),
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "passed")) ? "passed" : "failed",
             aut_cli_jstr(s, "model_name", "-"), aut_cli_jstr(s, "quant", "-"));
    field("result", line);
    field("commit", aut_cli_jstr(s, "commit", NULL));
    snprintf(line, sizeof line, "boot %.0f ms, %.1f tok/s, pool peak %.1f MiB (%s)",
             aut_cli_jnum(s, "boot_ms", 0), aut_cli_jnum(s, "tok_s", 0),
             aut_cli_jnum(s, "pool_peak_mb", 0), aut_cli_jstr(s, "accel", "-"));
    if (cJSON_GetObjectItemCaseSensitive(s, "boot_ms"))
        field("figures", line);
}

static void print_stages(const cJSON *stages)
{
    const cJSON *s;
    char d[16];
    if (!cJSON_GetArraySize(stages))
        return;
    printf("\n%-3s %-12s %-9s %9s  %s\n", "#", "STAGE", "STATUS", "TIME", "MESSAGE");
    cJSON_ArrayForEach(s, stages)
        printf("%-3.0f %-12s %-9s %9s  %s\n", aut_cli_jnum(s, "attempt", 1),
               aut_cli_jstr(s, "name", "-"), aut_cli_jstr(s, "status", "-"),
               aut_cli_duration(aut_cli_jnum(s, "duration_s", -1), d, sizeof d),
               aut_cli_jstr(s, "message", ""));
}

static void print_deliveries(const cJSON *dl)
{
    const cJSON *e;
    if (!cJSON_GetArraySize(dl))
        return;
    printf("\n%-5s %-14s %-10s %8s %5s  %s\n", "ID", "EVENT", "STATE", "ATTEMPTS", "HTTP", "URL");
    cJSON_ArrayForEach(e, dl)
    {
        printf("%-5.0f %-14s %-10s %8.0f %5.0f  %s\n", aut_cli_jnum(e, "id", 0),
               aut_cli_jstr(e, "event", "-"), aut_cli_jstr(e, "state", "-"),
               aut_cli_jnum(e, "attempts", 0), aut_cli_jnum(e, "http_status", 0),
               aut_cli_jstr(e, "url", "-"));
        if (aut_cli_jstr(e, "error", NULL))
            printf("      error: %s\n", aut_cli_jstr(e, "error", ""));
    }
}

static void print_job(const cJSON *j)
{
    char line[512], n[32];
    printf("job %s: %s\n", aut_cli_jstr(j, "id", "-"), aut_cli_jstr(j, "state", "-"));
    field("model", aut_cli_jstr(j, "model", "-"));
    snprintf(line, sizeof line, "%s, priority %.0f, attempt %.0f%s", aut_cli_jstr(j, "arch", "-"),
             aut_cli_jnum(j, "priority", 0), aut_cli_jnum(j, "attempt", 0),
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "cancel_requested"))
                 ? ", cancel requested"
                 : "");
    field("arch", line);
    print_times(j);
    field("stage", aut_cli_jstr(j, "stage", NULL));
    field("class", aut_cli_jstr(j, "class", NULL));
    field("message", aut_cli_jstr(j, "message", NULL));
    field("recommendation", aut_cli_jstr(j, "recommendation", NULL));
    print_summary(cJSON_GetObjectItemCaseSensitive(j, "summary"));
    if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "nightly_id"))) {
        snprintf(n, sizeof n, "%.0f", aut_cli_jnum(j, "nightly_id", 0));
        field("nightly run", n);
    }
    field("retry of", aut_cli_jstr(j, "retry_of", NULL));
    field("report", aut_cli_jstr(j, "report_dir", NULL));
    print_stages(cJSON_GetObjectItemCaseSensitive(j, "stages"));
    print_deliveries(cJSON_GetObjectItemCaseSensitive(j, "deliveries"));
}

int cmd_show(struct aut_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool json = false;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j') {
            json = true;
        } else {
            fputs(usage_text, c == 'h' ? stdout : stderr);
            return c == 'h' ? AUT_EXIT_OK : AUT_EXIT_USAGE;
        }
    }
    if (optind != argc - 1)
        return aut_cli_error(AUT_EXIT_USAGE, "show takes one JOB");
    if ((rc = aut_client_check_id(argv[optind])) || (rc = aut_client_need(cli, "show")))
        return rc;
    char path[256];
    cJSON *job = NULL;
    snprintf(path, sizeof path, "/v1/integrations/%s", argv[optind]);
    if ((rc = aut_client_get(cli, path, &job)))
        return rc;
    char *text = json ? cJSON_Print(job) : NULL;
    if (text)
        puts(text);
    else
        print_job(job);
    free(text);
    cJSON_Delete(job);
    return AUT_EXIT_OK;
}
