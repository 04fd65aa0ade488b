/*
 * cmd_integrate.c - autonctl integrate: one job through the pipeline, either
 * handed to autond (when it answers, or with --daemon) and followed through
 * its event stream, or run in this process (--local, or no autond). Both
 * show the stages as they run with one display (display.c) and end with
 * the same summary and exit status. SIGINT/SIGTERM cancel the job cleanly
 * (its QEMU and make are killed, its worktree removed, main left as it was).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "httpc.h"
#include "job.h"
#include "report.h"

static const char usage_text[] =
    "usage: autonctl integrate [options] MODEL\n"
    "\n"
    "Takes MODEL through fetch, verify, stage, patch, build, check-build, boot, infer,\n"
    "validate, regress, report, then commit - or rollback - and notify. MODEL is a .gguf\n"
    "path, a bare name looked up under the model roots, an http(s) URL (verified against\n"
    "its manifest's sha256), or a bundle (.tar, .tar.gz, .tgz, .tar.zst) holding a .gguf\n"
    "and its manifest.\n"
    "\n"
    "  --local               run the job in this process (the default when autond is not running)\n"
    "  --daemon              hand the job to autond (the default when it answers on [daemon] "
    "socket)\n"
    "  --arch ARCH           x86_64 (default; the only one so far)\n"
    "  --manifest FILE       the model's manifest (default: manifests/NAME.json beside it)\n"
    "  --prompts FILE        the prompt suite (default: [pipeline] prompts)\n"
    "  --bridge | --console  talk to the kernel over the bridge (COM2) or the console\n"
    "  --rollback POLICY     rule-engine or previous (default: [pipeline] rollback)\n"
    "  --no-fallback         do not try other quantizations or smaller models\n"
    "  --priority N          autond only: -100..100, higher runs first (default 0)\n"
    "  --idempotency-key K   autond only: the same K and options give the same job, not a new one\n"
    "  --id ID               in this process only: the job id (default: time-based)\n"
    "  --json                print the report (JSON) on stdout at the end\n"
    "  -q, --quiet           no progress, only the summary\n"
    "\n"
    "Paths that exist relative to the current directory are sent to autond as absolute\n"
    "paths; autond accepts models only under its model roots.\n"
    "\n"
    "Exit status: 0 integrated, 1 rejected, rolled back or canceled, 2 usage (or a request\n"
    "autond refused), 3 infrastructure.\n";

struct args {
    struct aut_job_opts o;
    bool json, quiet;
    bool have_priority;
    long priority;
    const char *idem_key;
};

static int exit_code(enum aut_fail_class c)
{
    switch (c) {
    case AUT_FAIL_NONE:
        return AUT_EXIT_OK;
    case AUT_FAIL_INFRASTRUCTURE:
    case AUT_FAIL_INTERNAL:
        return AUT_EXIT_INFRA;
    default:
        return AUT_EXIT_FAILED;
    }
}

/* The options of one job, and those that choose where it runs. */
static int parse_opt(struct aut_cli *cli, int c, struct args *a)
{
    struct aut_job_opts *o = &a->o;
    char *end;
    switch (c) {
    case 'L':
        cli->mode = AUT_CLI_LOCAL;
        break;
    case 'D':
        cli->mode = AUT_CLI_DAEMON;
        break;
    case 'a':
        o->arch = optarg;
        break;
    case 'm':
        o->manifest = optarg;
        break;
    case 'p':
        o->prompts = optarg;
        break;
    case 'B':
        o->bridge = 1;
        break;
    case 'C':
        o->bridge = 0;
        break;
    case 'r':
        if (strcmp(optarg, "rule-engine") && strcmp(optarg, "previous"))
            return aut_cli_error(AUT_EXIT_USAGE, "--rollback %s: rule-engine or previous", optarg);
        o->rollback = strcmp(optarg, "previous") ? AUT_ROLLBACK_RULE_ENGINE : AUT_ROLLBACK_PREVIOUS;
        break;
    case 'F':
        o->fallback = 0;
        break;
    case 'P':
        a->priority = strtol(optarg, &end, 10);
        if (!optarg[0] || *end || a->priority < -100 || a->priority > 100)
            return aut_cli_error(AUT_EXIT_USAGE, "--priority %s: an integer in -100..100", optarg);
        a->have_priority = true;
        break;
    case 'K':
        a->idem_key = optarg;
        break;
    case 'i':
        o->id = optarg;
        break;
    case 'j':
        a->json = true;
        break;
    case 'q':
        a->quiet = true;
        break;
    case 'h':
        fputs(usage_text, stdout);
        return -1;
    default:
        fputs(usage_text, stderr);
        return AUT_EXIT_USAGE;
    }
    return 0;
}

static int parse_opts(struct aut_cli *cli, int argc, char **argv, struct args *a)
{
    static const struct option longopts[] = {
        {"local", no_argument, 0, 'L'},          {"daemon", no_argument, 0, 'D'},
        {"arch", required_argument, 0, 'a'},     {"manifest", required_argument, 0, 'm'},
        {"prompts", required_argument, 0, 'p'},  {"bridge", no_argument, 0, 'B'},
        {"console", no_argument, 0, 'C'},        {"rollback", required_argument, 0, 'r'},
        {"no-fallback", no_argument, 0, 'F'},    {"id", required_argument, 0, 'i'},
        {"priority", required_argument, 0, 'P'}, {"idempotency-key", required_argument, 0, 'K'},
        {"json", no_argument, 0, 'j'},           {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1)
        if ((rc = parse_opt(cli, c, a)))
            return rc;
    if (optind != argc - 1) {
        fputs(usage_text, stderr);
        return aut_cli_error(AUT_EXIT_USAGE, "integrate takes exactly one MODEL");
    }
    a->o.model = argv[optind];
    return 0;
}

/* ---- in this process ---- */

static enum aut_fail_class run_with_signals(struct aut_job *job)
{
    struct aut_cli_signals g;
    aut_cli_signals_start(&g, job);
    enum aut_fail_class cls = aut_job_run(job);
    aut_cli_signals_stop(&g);
    return cls;
}

static int run_local(struct aut_cli *cli, const struct args *a)
{
    struct aut_job *job = calloc(1, sizeof *job);
    char err[1024];
    if (!job)
        return aut_cli_error(AUT_EXIT_INFRA, "out of memory");
    if (aut_job_init(job, &cli->cfg, &a->o, err, sizeof err)) {
        free(job);
        return aut_cli_error(AUT_EXIT_USAGE, "%s", err);
    }
    struct aut_cli_progress p = {.tty = isatty(2), .quiet = a->quiet};
    job->on_event = aut_cli_show_event;
    job->ud = &p;
    if (!a->quiet)
        fprintf(stderr, "job %s: integrating %s (%s, %s)\n", job->id, a->o.model, job->arch,
                job->bridge ? "bridge" : "console");
    enum aut_fail_class cls = run_with_signals(job);
    aut_cli_print_summary(stderr, job->report);
    fprintf(stderr, "report: %s/%s\n", job->report_dir, AUT_REPORT_NAME);
    if (a->json) {
        char *text = cJSON_Print(job->report);
        if (text)
            puts(text);
        free(text);
    }
    aut_job_release(job);
    free(job);
    return exit_code(cls);
}

/* ---- through autond ---- */

/* A path given on the command line, as autond should see it: autond has its
 * own current directory, so one that exists relative to ours is sent
 * absolute; URLs, absolute paths and bare names under the roots go as they
 * are. */
static void add_path(cJSON *body, const char *key, const char *given)
{
    char abs[PATH_MAX];
    struct stat st;
    if (!given)
        return;
    if (given[0] != '/' && !aut_httpc_is_url(given) && stat(given, &st) == 0 &&
        realpath(given, abs))
        given = abs;
    cJSON_AddStringToObject(body, key, given);
}

/* The request body (IntegrationRequest): only what was asked for, so that
 * autond's configuration decides the rest, as the local one would here. */
static char *request_body(const struct args *a)
{
    const struct aut_job_opts *o = &a->o;
    cJSON *b = cJSON_CreateObject();
    add_path(b, "model", o->model);
    add_path(b, "manifest", o->manifest);
    add_path(b, "prompts", o->prompts);
    if (o->arch)
        cJSON_AddStringToObject(b, "arch", o->arch);
    if (o->rollback >= 0)
        cJSON_AddStringToObject(b, "rollback", aut_rollback_name(o->rollback));
    if (o->fallback == 0)
        cJSON_AddStringToObject(b, "fallback", "off");
    if (o->bridge >= 0)
        cJSON_AddBoolToObject(b, "bridge", o->bridge);
    if (a->have_priority)
        cJSON_AddNumberToObject(b, "priority", (double)a->priority);
    char *text = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    return text;
}

/* POST /v1/integrations; on success *job is the queued job (caller frees). */
static int submit(struct aut_cli *cli, const struct args *a, cJSON **job)
{
    char *body = request_body(a), err[1024], key[320];
    if (!body)
        return aut_cli_error(AUT_EXIT_INFRA, "out of memory");
    snprintf(key, sizeof key, "Idempotency-Key: %s", a->idem_key ? a->idem_key : "");
    const char *hdrs[] = {a->idem_key ? key : NULL, NULL};
    long status = 0;
    cJSON *resp = NULL;
    int rc = aut_client_call(cli, "POST", "/v1/integrations", body, hdrs, &status, &resp, err,
                             sizeof err);
    free(body);
    if (rc)
        return aut_cli_error(AUT_EXIT_INFRA, "%s", err);
    if (status != 202 || !aut_cli_jstr(resp, "id", NULL)) {
        rc = aut_client_fail(status, resp, "POST /v1/integrations");
        cJSON_Delete(resp);
        return rc;
    }
    *job = resp;
    return 0;
}

/* The report of a job that ended, shown as a local run shows it. */
static void show_report(struct aut_cli *cli, const cJSON *job, bool json)
{
    char path[256], err[1024];
    const char *id = aut_cli_jstr(job, "id", "-");
    long status = 0;
    cJSON *rep = NULL;
    snprintf(path, sizeof path, "/v1/integrations/%s/report", id);
    if (aut_client_call(cli, "GET", path, NULL, NULL, &status, &rep, err, sizeof err) == 0 &&
        status == 200 && cJSON_IsObject(rep)) {
        aut_cli_print_summary(stderr, rep);
        fprintf(stderr, "report: %s/%s\n", aut_cli_jstr(job, "report_dir", "-"), AUT_REPORT_NAME);
        char *text = json ? cJSON_Print(rep) : NULL;
        if (text)
            puts(text);
        free(text);
    } else { /* a job that failed before it had a report (its options were refused) */
        fprintf(stderr, "\njob %s %s without a report: %s\n", id, aut_cli_jstr(job, "state", "-"),
                aut_cli_jstr(job, "message", "no message"));
    }
    cJSON_Delete(rep);
}

static int run_daemon(struct aut_cli *cli, const struct args *a)
{
    if (a->o.id)
        return aut_cli_error(AUT_EXIT_USAGE, "--id: autond names its jobs; --local runs the job "
                                             "in this process under your id");
    aut_client_hold_signals(); /* a Ctrl-C from here on cancels the job */
    cJSON *queued = NULL, *final = NULL;
    int rc = submit(cli, a, &queued);
    if (rc)
        return rc;
    const char *id = aut_cli_jstr(queued, "id", "-");
    /* "queued", or further on when the Idempotency-Key gave back an earlier job */
    fprintf(stderr, "job %s %s (%s, %s)%s\n", id, aut_cli_jstr(queued, "state", "queued"),
            aut_cli_jstr(queued, "model", "-"), aut_cli_jstr(queued, "arch", "-"),
            cJSON_IsTrue(cJSON_GetObjectItem(queued, "replayed"))
                ? ": the job this Idempotency-Key queued before"
                : "");
    struct aut_cli_progress p = {.tty = isatty(2), .quiet = a->quiet, .announce = true};
    rc = aut_client_watch(cli, id, &p, &final);
    if (!rc) {
        show_report(cli, final, a->json);
        rc = aut_client_exit_code(aut_cli_jstr(final, "state", "unknown"),
                                  aut_cli_jstr(final, "class", NULL));
    }
    cJSON_Delete(queued);
    cJSON_Delete(final);
    return rc;
}

int cmd_integrate(struct aut_cli *cli, int argc, char **argv)
{
    struct args a = {.o = {.rollback = -1, .fallback = -1, .bridge = -1}};
    int rc = parse_opts(cli, argc, argv, &a);
    if (rc)
        return rc < 0 ? AUT_EXIT_OK : rc;
    bool daemon = false;
    if ((rc = aut_client_pick(cli, &daemon)))
        return rc;
    return daemon ? run_daemon(cli, &a) : run_local(cli, &a);
}
