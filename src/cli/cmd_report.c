/*
 * cmd_report.c - autonctl report: a job's integration report, as a summary
 * (default), the JSON itself (--json) or its JUnit twin (--junit). JOB is a
 * job id, or "latest" for the newest report.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "report.h"

static const char usage_text[] =
    "usage: autonctl report [--json | --junit] JOB\n"
    "\n"
    "Shows reports/JOB/integration_test_report.json; JOB may be 'latest'.\n";

void aut_cli_print_summary(FILE *f, const cJSON *r);

static int latest(const char *root, char *out, size_t len)
{
    DIR *d = opendir(root);
    if (!d)
        return -1;
    struct dirent *e;
    out[0] = '\0';
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strcmp(e->d_name, out) > 0 && strlen(e->d_name) < len)
            snprintf(out, len, "%s", e->d_name);
    closedir(d);
    return out[0] ? 0 : -1;
}

int cmd_report(struct aut_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},
                                             {"junit", no_argument, 0, 'x'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c, mode = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j' || c == 'x') {
            mode = c;
        } else if (c == 'h') {
            fputs(usage_text, stdout);
            return AUT_EXIT_OK;
        } else {
            fputs(usage_text, stderr);
            return AUT_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(usage_text, stderr);
        return AUT_EXIT_USAGE;
    }
    char job[256], path[PATH_MAX + 512], err[512];
    snprintf(job, sizeof job, "%s", argv[optind]);
    if (strchr(job, '/') || !strcmp(job, "..") || !strcmp(job, "."))
        return aut_cli_error(AUT_EXIT_USAGE, "report %s: not a job id", job);
    if (!strcmp(job, "latest") && latest(cli->cfg.reports, job, sizeof job))
        return aut_cli_error(AUT_EXIT_FAILED, "no reports under %s", cli->cfg.reports);
    snprintf(path, sizeof path, "%s/%s/%s", cli->cfg.reports, job,
             mode == 'x' ? AUT_REPORT_JUNIT : AUT_REPORT_NAME);
    char *text = NULL;
    size_t len = 0;
    if (aut_read_file(path, 64u << 20, &text, &len, err, sizeof err))
        return aut_cli_error(AUT_EXIT_FAILED, "no report for job %s (%s)", job, err);
    if (mode) {
        fwrite(text, 1, len, stdout);
        free(text);
        return AUT_EXIT_OK;
    }
    cJSON *r = cJSON_ParseWithLength(text, len);
    free(text);
    if (!r)
        return aut_cli_error(AUT_EXIT_FAILED, "%s: not JSON", path);
    aut_cli_print_summary(stdout, r);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(r, "result");
    int rc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "passed")) ? AUT_EXIT_OK
                                                                           : AUT_EXIT_FAILED;
    cJSON_Delete(r);
    return rc;
}
