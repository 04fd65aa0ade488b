/*
 * cmd_integrate.c - autonctl integrate: one job through the pipeline, in this
 * process, with the stages shown as they run (a live line on a terminal,
 * plain lines otherwise) and a summary table at the end. SIGINT/SIGTERM
 * cancel the job cleanly (its QEMU and make are killed, its worktree
 * removed, main left as it was).
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "job.h"
#include "report.h"

static const char usage_text[] =
    "usage: autonctl integrate [options] MODEL\n"
    "\n"
    "Takes MODEL (a .gguf path, or a bare name looked up under the model roots) through\n"
    "fetch, verify, stage, patch, build, check-build, boot, infer, validate, regress,\n"
    "report, then commit - or rollback - and notify.\n"
    "\n"
    "  --local               run the job in this process (the only mode until autond)\n"
    "  --daemon              hand the job to a running autond\n"
    "  --arch ARCH           x86_64 (default; the only one so far)\n"
    "  --manifest FILE       the model's manifest (default: manifests/NAME.json beside it)\n"
    "  --prompts FILE        the prompt suite (default: [pipeline] prompts)\n"
    "  --bridge | --console  talk to the kernel over the bridge (COM2) or the console\n"
    "  --rollback POLICY     rule-engine or previous (default: [pipeline] rollback)\n"
    "  --no-fallback         do not try other quantizations or smaller models\n"
    "  --id ID               the job id (default: time-based)\n"
    "  --json                print the report (JSON) on stdout at the end\n"
    "  -q, --quiet           no progress, only the summary\n"
    "\n"
    "Exit status: 0 integrated, 1 rejected or rolled back, 2 usage, 3 infrastructure.\n";

struct progress {
    bool tty, quiet;
    const char *stage;
    double stage_start;
};

static void on_event(void *ud, const char *type, const cJSON *data)
{
    struct progress *p = ud;
    if (p->quiet)
        return;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(data, "status");
    const char *status = cJSON_IsString(st) ? st->valuestring : "";
    if (!strcmp(type, "stage")) {
        const char *name = cJSON_GetObjectItemCaseSensitive(data, "stage")->valuestring;
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(data, "ms");
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(data, "error");
        if (!strcmp(status, "running")) {
            if (p->tty)
                fprintf(stderr, "\r\033[K  %-12s running...", name);
            else
                fprintf(stderr, "stage %s: running\n", name);
        } else {
            fprintf(stderr, "%s%s %-12s %s (%.1f s)%s%s\n", p->tty ? "\r\033[K" : "",
                    p->tty ? " " : "stage", name, status, cJSON_IsNumber(ms) ? ms->valuedouble / 1000 : 0,
                    cJSON_IsString(err) ? ": " : "", cJSON_IsString(err) ? err->valuestring : "");
        }
    } else if (!strcmp(type, "prompt")) {
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(data, "prompt");
        const cJSON *out = cJSON_GetObjectItemCaseSensitive(data, "output");
        fprintf(stderr, "%s    prompt '%.50s' -> '%.70s'\n", p->tty ? "\r\033[K" : "",
                pr->valuestring, out->valuestring);
    } else if (!strcmp(type, "attempt")) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(data, "model");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(data, "class");
        fprintf(stderr, "%sattempt with %s failed (%s); trying again\n", p->tty ? "\r\033[K" : "",
                m->valuestring, c->valuestring);
    }
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "-";
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The summary table: stages, failed checks, the decision. */
void aut_cli_print_summary(FILE *f, const cJSON *r)
{
    fprintf(f, "\n%-12s %-8s %9s\n", "STAGE", "STATUS", "TIME");
    const cJSON *s, *c;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "stages"))
        fprintf(f, "%-12s %-8s %8.1fs\n", jstr(s, "name"), jstr(s, "status"),
                jnum(s, "ms") / 1000.0);
    int n = 0, pass = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "checks"))
    {
        n++;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "pass"))) {
            pass++;
            continue;
        }
        fprintf(f, "check %s failed: expected %s, measured %s\n", jstr(c, "name"),
                jstr(c, "expected"), jstr(c, "measured"));
    }
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(r, "result");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(r, "model");
    fprintf(f, "\njob %s: model %s, %d/%d checks passed, decision: %s\n", jstr(r, "job_id"),
            jstr(model, "name"), pass, n, jstr(res, "decision"));
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "passed"))) {
        fprintf(f, "failure: %s at %s: %s\n", jstr(res, "class"), jstr(res, "stage"),
                jstr(res, "message"));
        fprintf(f, "recommendation: %s\n", jstr(res, "recommendation"));
    }
}

/* SIGINT/SIGTERM -> cancel, from a thread that waits for them (a signal
 * handler may not take the cancel token's mutex). */
struct sigwaiter {
    sigset_t set;
    struct aut_job *job;
};

static void *wait_signals(void *arg)
{
    struct sigwaiter *w = arg;
    int sig = 0;
    if (sigwait(&w->set, &sig) == 0 && sig != SIGUSR2)
        aut_job_cancel(w->job, sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
    return NULL;
}

static int exit_code(enum aut_fail_class c)
{
    switch (c) {
    case AUT_FAIL_NONE: return AUT_EXIT_OK;
    case AUT_FAIL_INFRASTRUCTURE:
    case AUT_FAIL_INTERNAL: return AUT_EXIT_INFRA;
    default: return AUT_EXIT_FAILED;
    }
}

static int parse_opts(int argc, char **argv, struct aut_job_opts *o, bool *json, bool *quiet)
{
    static const struct option longopts[] = {
        {"local", no_argument, 0, 'L'},     {"daemon", no_argument, 0, 'D'},
        {"arch", required_argument, 0, 'a'}, {"manifest", required_argument, 0, 'm'},
        {"prompts", required_argument, 0, 'p'}, {"bridge", no_argument, 0, 'B'},
        {"console", no_argument, 0, 'C'},   {"rollback", required_argument, 0, 'r'},
        {"no-fallback", no_argument, 0, 'F'}, {"id", required_argument, 0, 'i'},
        {"json", no_argument, 0, 'j'},      {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},      {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'L': break;
        case 'D':
            return aut_cli_error(AUT_EXIT_INFRA, "--daemon: no autond to talk to (the daemon "
                                 "is not part of this version); use --local");
        case 'a': o->arch = optarg; break;
        case 'm': o->manifest = optarg; break;
        case 'p': o->prompts = optarg; break;
        case 'B': o->bridge = 1; break;
        case 'C': o->bridge = 0; break;
        case 'r':
            if (strcmp(optarg, "rule-engine") && strcmp(optarg, "previous"))
                return aut_cli_error(AUT_EXIT_USAGE, "--rollback %s: rule-engine or previous",
                                     optarg);
            o->rollback = strcmp(optarg, "previous") ? AUT_ROLLBACK_RULE_ENGINE
                                                     : AUT_ROLLBACK_PREVIOUS;
            break;
        case 'F': o->fallback = 0; break;
        case 'i': o->id = optarg; break;
        case 'j': *json = true; break;
        case 'q': *quiet = true; break;
        case 'h': fputs(usage_text, stdout); return -1;
        default: fputs(usage_text, stderr); return AUT_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(usage_text, stderr);
        return aut_cli_error(AUT_EXIT_USAGE, "integrate takes exactly one MODEL");
    }
    o->model = argv[optind];
    return 0;
}

int cmd_integrate(struct aut_cli *cli, int argc, char **argv)
{
    struct aut_job_opts o = {.rollback = -1, .fallback = -1, .bridge = -1};
    bool json = false, quiet = false;
    int rc = parse_opts(argc, argv, &o, &json, &quiet);
    if (rc)
        return rc < 0 ? AUT_EXIT_OK : rc;
    struct aut_job *job = calloc(1, sizeof *job);
    char err[1024];
    if (!job)
        return aut_cli_error(AUT_EXIT_INFRA, "out of memory");
    if (aut_job_init(job, &cli->cfg, &o, err, sizeof err)) {
        free(job);
        return aut_cli_error(AUT_EXIT_USAGE, "%s", err);
    }
    struct progress p = {.tty = isatty(2), .quiet = quiet};
    job->on_event = on_event;
    job->ud = &p;
    if (!quiet)
        fprintf(stderr, "job %s: integrating %s (%s, %s)\n", job->id, o.model, job->arch,
                job->bridge ? "bridge" : "console");

    struct sigwaiter w = {.job = job};
    sigemptyset(&w.set);
    sigaddset(&w.set, SIGINT);
    sigaddset(&w.set, SIGTERM);
    sigaddset(&w.set, SIGUSR2); /* our own wake-up at the end */
    pthread_sigmask(SIG_BLOCK, &w.set, NULL);
    pthread_t th;
    bool have_thread = pthread_create(&th, NULL, wait_signals, &w) == 0;

    enum aut_fail_class cls = aut_job_run(job);

    if (have_thread) {
        pthread_kill(th, SIGUSR2);
        pthread_join(th, NULL);
    }
    aut_cli_print_summary(stderr, job->report);
    fprintf(stderr, "report: %s/%s\n", job->report_dir, AUT_REPORT_NAME);
    if (json) {
        char *text = cJSON_Print(job->report);
        if (text)
            puts(text);
        free(text);
    }
    aut_job_release(job);
    free(job);
    return exit_code(cls);
}
