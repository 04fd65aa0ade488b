/*
 * cmd_report.c - autonctl report: a job's integration report, as a summary
 * (default), the JSON itself (--json) or its JUnit twin (--junit). JOB is a
 * job id, or "latest" (the default) for the newest. The report is read from
 * [pipeline] reports; with --daemon, or when it is not there and autond
 * answers, autond is asked for it (its jobs may write elsewhere).
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "client.h"
#include "fsutil.h"
#include "report.h"

static const char usage_text[] =
    "usage: autonctl report [--json | --junit] [JOB]\n"
    "\n"
    "Shows reports/JOB/integration_test_report.json; JOB may be 'latest' (the default).\n"
    "With --daemon (or when the file is not there and autond answers) autond's job JOB.\n"
    "Exit status: 0 the job passed, 1 it did not or there is no such report.\n";

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

/* The summary of a report (text), or the text itself for --json / --junit. */
static int print_report(const char *text, size_t len, int mode, const char *what)
{
    if (mode) {
        fwrite(text, 1, len, stdout);
        return AUT_EXIT_OK;
    }
    cJSON *r = cJSON_ParseWithLength(text, len);
    if (!r)
        return aut_cli_error(AUT_EXIT_FAILED, "%s: not JSON", what);
    aut_cli_print_summary(stdout, r);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(r, "result");
    int rc = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "passed")) ? AUT_EXIT_OK
                                                                           : AUT_EXIT_FAILED;
    cJSON_Delete(r);
    return rc;
}

static void local_path(struct aut_cli *cli, const char *job, int mode, char *out, size_t len)
{
    snprintf(out, len, "%s/%s/%s", cli->cfg.reports, job,
             mode == 'x' ? AUT_REPORT_JUNIT : AUT_REPORT_NAME);
}

static int report_local(struct aut_cli *cli, const char *job, int mode)
{
    char path[PATH_MAX + 512], err[PATH_MAX + 128];
    local_path(cli, job, mode, path, sizeof path);
    char *text = NULL;
    size_t len = 0;
    if (aut_read_file(path, 64u << 20, &text, &len, err, sizeof err))
        return aut_cli_error(AUT_EXIT_FAILED, "no report for job %s (%s)", job, err);
    int rc = print_report(text, len, mode, path);
    free(text);
    return rc;
}

/* autond's job (the newest for "latest"); caller frees. */
static int daemon_job(struct aut_cli *cli, const char *job, cJSON **out)
{
    char path[256];
    cJSON *list = NULL;
    if (strcmp(job, "latest")) {
        snprintf(path, sizeof path, "/v1/integrations/%s", job);
        return aut_client_get(cli, path, out);
    }
    int rc = aut_client_get(cli, "/v1/integrations?limit=1", &list);
    if (rc)
        return rc;
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(list, "items"), 0);
    *out = first ? cJSON_Duplicate(first, 1) : NULL;
    cJSON_Delete(list);
    return *out ? 0 : aut_cli_error(AUT_EXIT_FAILED, "autond has no jobs yet");
}

static int report_daemon(struct aut_cli *cli, const char *job, int mode)
{
    cJSON *j = NULL, *rep = NULL;
    int rc = daemon_job(cli, job, &j);
    if (rc)
        return rc;
    char path[PATH_MAX + 64], err[PATH_MAX + 128], *text = NULL;
    size_t len = 0;
    const char *id = aut_cli_jstr(j, "id", "-");
    if (mode == 'x') { /* the API serves the JSON only; the XML lies beside it, on this host */
        snprintf(path, sizeof path, "%s/%s", aut_cli_jstr(j, "report_dir", "-"), AUT_REPORT_JUNIT);
        rc = aut_read_file(path, 64u << 20, &text, &len, err, sizeof err)
                 ? aut_cli_error(AUT_EXIT_FAILED, "no JUnit report for job %s (%s)", id, err)
                 : print_report(text, len, mode, path);
        free(text);
    } else {
        snprintf(path, sizeof path, "/v1/integrations/%s/report", id);
        if (!(rc = aut_client_get(cli, path, &rep))) {
            text = mode ? cJSON_Print(rep) : cJSON_PrintUnformatted(rep);
            rc = text ? print_report(text, strlen(text), mode, path) : AUT_EXIT_INFRA;
            if (text && mode)
                putchar('\n');
            free(text);
        }
    }
    cJSON_Delete(rep);
    cJSON_Delete(j);
    return rc;
}

/* Where to look: --local here, --daemon autond; else here, then autond
 * when the report is not here and it answers. */
static int report(struct aut_cli *cli, const char *job, int mode)
{
    char path[PATH_MAX + 512], name[256];
    struct stat st;
    if (cli->mode == AUT_CLI_DAEMON) {
        int rc = aut_client_need(cli, "report --daemon");
        return rc ? rc : report_daemon(cli, job, mode);
    }
    snprintf(name, sizeof name, "%s", job);
    bool here = strcmp(job, "latest") ? true : latest(cli->cfg.reports, name, sizeof name) == 0;
    if (here) {
        local_path(cli, name, mode, path, sizeof path);
        here = stat(path, &st) == 0;
    }
    if (here || cli->mode == AUT_CLI_LOCAL || !aut_client_probe(cli)) {
        if (!strcmp(name, "latest"))
            return aut_cli_error(AUT_EXIT_FAILED, "no reports under %s", cli->cfg.reports);
        return report_local(cli, name, mode);
    }
    return report_daemon(cli, job, mode);
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
    if (optind < argc - 1) {
        fputs(usage_text, stderr);
        return AUT_EXIT_USAGE;
    }
    const char *job = optind == argc ? "latest" : argv[optind];
    if (aut_client_check_id(job))
        return AUT_EXIT_USAGE;
    return report(cli, job, mode);
}
