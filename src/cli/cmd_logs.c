/*
 * cmd_logs.c - autonctl logs: a job's build or console log from autond,
 * read by offset (the API gives at most 1 MiB an answer); -f follows it,
 * polling twice a second until the job has ended and nothing more came.
 *
 * The API also tells the next offset and the job's state in headers
 * (X-Log-Offset, X-Job-State); the HTTP client hands back bodies only, so
 * the offset is counted here (bytes received) and the state read from the
 * job itself - the same information.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"

static const char usage_text[] =
    "usage: autonctl logs [-f] JOB build|console\n"
    "\n"
    "Prints the job's build log (make) or console log (the booted kernel's serial\n"
    "console); -f, --follow goes on printing as it grows until the job has ended.\n";

#define POLL_NS 500000000L

/* Prints the log from *offset on, as far as it goes now; *got the bytes. */
static int fetch(struct aut_cli *cli, const char *job, const char *log, long long *offset,
                 size_t *got)
{
    char path[256], err[1024], *body = NULL;
    long status = 0;
    size_t len = 0;
    snprintf(path, sizeof path, "/v1/integrations/%s/logs/%s?offset=%lld", job, log, *offset);
    if (aut_client_call_raw(cli, "GET", path, &status, &body, &len, err, sizeof err))
        return aut_cli_error(AUT_EXIT_INFRA, "%s", err);
    int rc = 0;
    if (status != 200) {
        cJSON *e = cJSON_ParseWithLength(body, len);
        rc = aut_client_fail(status, e, path);
        cJSON_Delete(e);
    } else if (len) {
        fwrite(body, 1, len, stdout);
        fflush(stdout);
    }
    free(body);
    *offset += (long long)len;
    *got = len;
    return rc;
}

/* Whether the job has ended; -1 after printing why it could not be told. */
static int ended(struct aut_cli *cli, const char *job)
{
    char path[256];
    cJSON *j = NULL;
    snprintf(path, sizeof path, "/v1/integrations/%s", job);
    if (aut_client_get(cli, path, &j))
        return -1;
    int rc = aut_client_state_final(aut_cli_jstr(j, "state", NULL));
    cJSON_Delete(j);
    return rc;
}

static int logs(struct aut_cli *cli, const char *job, const char *log, bool follow)
{
    long long offset = 0;
    bool over = false; /* the job had ended before the last read */
    for (;;) {
        size_t got = 0;
        int rc = fetch(cli, job, log, &offset, &got);
        if (rc)
            return rc;
        if (got) /* more may be there at once (1 MiB an answer) */
            continue;
        if (!follow || over)
            return AUT_EXIT_OK;
        int e = ended(cli, job);
        if (e < 0)
            return AUT_EXIT_INFRA;
        if (e) { /* read once more: what was written before it ended */
            over = true;
            continue;
        }
        struct timespec ts = {0, POLL_NS};
        nanosleep(&ts, NULL);
    }
}

int cmd_logs(struct aut_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"follow", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool follow = false;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
        if (c == 'f') {
            follow = true;
        } else {
            fputs(usage_text, c == 'h' ? stdout : stderr);
            return c == 'h' ? AUT_EXIT_OK : AUT_EXIT_USAGE;
        }
    }
    if (optind != argc - 2)
        return aut_cli_error(AUT_EXIT_USAGE, "logs takes JOB and build or console");
    const char *job = argv[optind], *log = argv[optind + 1];
    if (strcmp(log, "build") && strcmp(log, "console"))
        return aut_cli_error(AUT_EXIT_USAGE, "logs %s %s: the logs are build and console", job,
                             log);
    if ((rc = aut_client_check_id(job)) || (rc = aut_client_need(cli, "logs")))
        return rc;
    return logs(cli, job, log, follow);
}
