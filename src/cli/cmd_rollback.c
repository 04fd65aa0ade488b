/*
 * cmd_rollback.c - autonctl rollback: puts the workspace's main on the rule
 * engine by hand - the same commit a failed job makes under rollback =
 * rule-engine: model and manifest removed, SLM_ENABLED := 0, the kernel
 * built and booted before main moves.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipeline.h"

static const char usage_text[] =
    "usage: autonctl rollback [--arch ARCH] [--reason TEXT]\n"
    "\n"
    "Commits the rule engine onto the workspace's main (after building and booting it).\n"
    "Does nothing when main is already on the rule engine.\n";

int cmd_rollback(struct aut_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"arch", required_argument, 0, 'a'},
                                             {"reason", required_argument, 0, 'r'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    struct aut_job_opts o = {.rollback = -1, .fallback = -1, .bridge = 0};
    const char *reason = "requested by hand (autonctl rollback)";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'a') {
            o.arch = optarg;
        } else if (c == 'r') {
            reason = optarg;
        } else if (c == 'h') {
            fputs(usage_text, stdout);
            return AUT_EXIT_OK;
        } else {
            fputs(usage_text, stderr);
            return AUT_EXIT_USAGE;
        }
    }
    if (optind != argc)
        return aut_cli_error(AUT_EXIT_USAGE, "rollback takes no arguments");
    struct aut_job *job = calloc(1, sizeof *job);
    char err[1024];
    if (!job)
        return AUT_EXIT_INFRA;
    if (aut_job_init_bare(job, &cli->cfg, &o, err, sizeof err)) {
        free(job);
        return aut_cli_error(AUT_EXIT_USAGE, "%s", err);
    }
    int rc = AUT_EXIT_OK;
    if (aut_job_open_workspace(job)) {
        rc = aut_cli_error(AUT_EXIT_INFRA, "%s", job->fail_msg);
    } else if (!job->main_has_model) {
        printf("main is already on the rule engine (%.12s): nothing to do\n", job->base);
    } else {
        char msg[1024];
        snprintf(msg, sizeof msg, "Roll back to the rule engine\n\n%s\nJob: %s\n", reason,
                 job->id);
        if (aut_job_rollback_main(job, msg))
            rc = aut_cli_error(AUT_EXIT_INFRA, "rollback failed, main unchanged: %s",
                               job->fail_msg);
        else
            printf("main -> %.12s: the rule engine\n", job->main_after);
    }
    aut_job_release(job);
    free(job);
    return rc;
}
