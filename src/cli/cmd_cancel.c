/*
 * cmd_cancel.c - autonctl cancel: stops one of autond's jobs. A queued job
 * ends at once; a running one has its processes killed and its worktree
 * removed, main untouched, and ends as canceled shortly after.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const char usage_text[] =
    "usage: autonctl cancel JOB\n"
    "\n"
    "Exit status: 0 canceled (or being canceled), 1 no such job or it has already ended.\n";

static int cancel(struct aut_cli *cli, const char *job)
{
    char path[256], err[1024];
    long status = 0;
    cJSON *resp = NULL;
    snprintf(path, sizeof path, "/v1/integrations/%s/cancel", job);
    if (aut_client_call(cli, "POST", path, NULL, NULL, &status, &resp, err, sizeof err))
        return aut_cli_error(AUT_EXIT_INFRA, "%s", err);
    int rc = AUT_EXIT_OK;
    const char *state = aut_cli_jstr(resp, "state", "-");
    if (status != 202)
        rc = aut_client_fail(status, resp, path);
    else if (!strcmp(state, "canceled"))
        printf("job %s: canceled\n", job);
    else /* running: its runner stops it now, the state follows */
        printf("job %s: %s, being canceled (`autonctl show %s` tells when it has ended)\n", job,
               state, job);
    cJSON_Delete(resp);
    return rc;
}

int cmd_cancel(struct aut_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        fputs(usage_text, c == 'h' ? stdout : stderr);
        return c == 'h' ? AUT_EXIT_OK : AUT_EXIT_USAGE;
    }
    if (optind != argc - 1)
        return aut_cli_error(AUT_EXIT_USAGE, "cancel takes one JOB");
    if ((rc = aut_client_check_id(argv[optind])) || (rc = aut_client_need(cli, "cancel")))
        return rc;
    return cancel(cli, argv[optind]);
}
