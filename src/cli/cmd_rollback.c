/*
 * cmd_rollback.c - autonctl rollback: puts the workspace's main on the rule
 * engine by hand - the same commit a failed job makes under rollback =
 * rule-engine: model and manifest removed, SLM_ENABLED := 0, the kernel
 * built and booted before main moves. Through autond when it answers (a
 * job of its queue, so never beside a running integration), else here.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "pipeline.h"

static const char usage_text[] =
    "usage: autonctl rollback [--arch ARCH] [--reason TEXT]\n"
    "\n"
    "Commits the rule engine onto the workspace's main (after building and booting it).\n"
    "Does nothing when main is already on the rule engine.\n"
    "\n"
    "  --local    do it in this process (the default when autond is not running)\n"
    "  --daemon   queue it in autond (the default when it answers)\n";

static int run_local(struct aut_cli *cli, const struct aut_job_opts *o, const char *reason)
{
    struct aut_job *job = calloc(1, sizeof *job);
    char err[1024];
    if (!job)
        return AUT_EXIT_INFRA;
    if (aut_job_init_bare(job, &cli->cfg, o, err, sizeof err)) {
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
        snprintf(msg, sizeof msg, "Roll back to the rule engine\n\n%s\nJob: %s\n", reason, job->id);
        if (aut_job_rollback_main(job, msg))
            rc =
                aut_cli_error(AUT_EXIT_INFRA, "rollback failed, main unchanged: %s", job->fail_msg);
        else
            printf("main -> %.12s: the rule engine\n", job->main_after);
    }
    aut_job_release(job);
    free(job);
    return rc;
}

/* POST /v1/workspaces/{arch}/rollback; on success *job is the queued job. */
static int submit(struct aut_cli *cli, const char *arch, const char *reason, cJSON **job)
{
    char path[256], err[1024];
    snprintf(path, sizeof path, "/v1/workspaces/%s/rollback", arch);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "reason", reason);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    if (!body)
        return aut_cli_error(AUT_EXIT_INFRA, "out of memory");
    long status = 0;
    cJSON *resp = NULL;
    int rc = aut_client_call(cli, "POST", path, body, NULL, &status, &resp, err, sizeof err);
    free(body);
    if (rc)
        return aut_cli_error(AUT_EXIT_INFRA, "%s", err);
    if (status != 202 || !aut_cli_jstr(resp, "id", NULL)) {
        rc = aut_client_fail(status, resp, path);
        cJSON_Delete(resp);
        return rc;
    }
    *job = resp;
    return 0;
}

/* What the rollback job did, said as the local rollback says it. */
static int outcome(const cJSON *job)
{
    const char *state = aut_cli_jstr(job, "state", "unknown");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(job, "summary");
    if (!strcmp(state, "rolled_back")) {
        printf("main -> %.12s: the rule engine\n", aut_cli_jstr(sum, "commit", "-"));
        return AUT_EXIT_OK;
    }
    if (!strcmp(state, "committed")) { /* the job's success without a new commit */
        printf("main is already on the rule engine: nothing to do\n");
        return AUT_EXIT_OK;
    }
    if (!strcmp(state, "canceled"))
        return aut_cli_error(AUT_EXIT_FAILED, "rollback canceled, main unchanged");
    return aut_cli_error(AUT_EXIT_INFRA, "rollback %s, main unchanged: %s", state,
                         aut_cli_jstr(job, "message", "no message"));
}

static int run_daemon(struct aut_cli *cli, const char *arch, const char *reason)
{
    if (!arch[0] || arch[strspn(arch, "abcdefghijklmnopqrstuvwxyz0123456789_")])
        return aut_cli_error(AUT_EXIT_USAGE, "--arch '%s': not an architecture", arch);
    aut_client_hold_signals(); /* a Ctrl-C from here on cancels the job */
    cJSON *queued = NULL, *final = NULL;
    int rc = submit(cli, arch, reason, &queued);
    if (rc)
        return rc;
    const char *id = aut_cli_jstr(queued, "id", "-");
    fprintf(stderr, "job %s queued (rollback of %s)\n", id, arch);
    struct aut_cli_progress p = {.tty = isatty(2), .announce = true};
    rc = aut_client_watch(cli, id, &p, &final);
    if (!rc)
        rc = outcome(final);
    cJSON_Delete(queued);
    cJSON_Delete(final);
    return rc;
}

int cmd_rollback(struct aut_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"arch", required_argument, 0, 'a'}, {"reason", required_argument, 0, 'r'},
        {"local", no_argument, 0, 'L'},      {"daemon", no_argument, 0, 'D'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    struct aut_job_opts o = {.rollback = -1, .fallback = -1, .bridge = 0};
    const char *reason = "requested by hand (autonctl rollback)";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'a') {
            o.arch = optarg;
        } else if (c == 'r') {
            reason = optarg;
        } else if (c == 'L' || c == 'D') {
            cli->mode = c == 'L' ? AUT_CLI_LOCAL : AUT_CLI_DAEMON;
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
    bool daemon = false;
    int rc = aut_client_pick(cli, &daemon);
    if (rc)
        return rc;
    return daemon ? run_daemon(cli, o.arch ? o.arch : "x86_64", reason)
                  : run_local(cli, &o, reason);
}
