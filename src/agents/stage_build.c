/*
 * stage_build.c - build: the kernel of the job's tree, twice: the rule-engine
 * kernel of the same commit first (build/kernel-rule.elf, SLM_ENABLED=0: the
 * baseline for check-build's size and regress's boot time), then the kernel
 * with the model (kernel.elf), which costs one objcopy, one compile of the
 * loader and one link more. make's output goes to the job's build.log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "pipeline.h"

#define MAX_ARGS 48

void aut_log_tail(const char *path, unsigned n, char *out, size_t len)
{
    char *text = NULL;
    size_t tlen = 0;
    out[0] = '\0';
    if (aut_read_file(path, 64u << 20, &text, &tlen, NULL, 0))
        return;
    /* walk back over the lines, preferring those that name an error */
    const char *picked[16];
    unsigned k = 0;
    for (int pass = 0; pass < 2 && k == 0; pass++) {
        char *end = text + tlen;
        while (end > text && k < n && k < 16) {
            char *start = end;
            /* the first pass cut the lines: their ends are NULs by now */
            while (start > text && start[-1] != '\n' && start[-1] != '\0')
                start--;
            bool want = pass == 1 || strstr(start, "rror") || strstr(start, "warning:");
            if (end > start && want)
                picked[k++] = start;
            if (start == text)
                break;
            start[-1] = '\0';
            end = start - 1;
        }
    }
    size_t used = 0;
    for (unsigned i = k; i-- > 0 && used + 1 < len;)
        used += (size_t)snprintf(out + used, len - used, "%s%.300s", used ? "; " : "", picked[i]);
    free(text);
}

/* The environment for the kernel's make: ours without what an enclosing make
 * passes down (MAKEFLAGS carries its jobserver descriptors, which the child
 * does not have, and its command-line variables, e.g. SLM_ENABLED=1, which
 * would override the workspace's pinned Makefile). env must hold the
 * environment's size + 1 pointers; they borrow environ's strings. */
static void make_env(const char **env, size_t cap)
{
    static const char *const drop[] = {"MAKEFLAGS=", "MFLAGS=", "MAKELEVEL=", "MAKEOVERRIDES=",
                                       "GNUMAKEFLAGS=", NULL};
    size_t n = 0;
    for (char **e = environ; *e && n + 1 < cap; e++) {
        bool keep = true;
        for (const char *const *d = drop; *d && keep; d++)
            keep = strncmp(*e, *d, strlen(*d)) != 0;
        if (keep)
            env[n++] = *e;
    }
    env[n] = NULL;
}

int aut_job_make(struct aut_job *job, const char *const *args)
{
    const struct aut_config *cfg = job->cfg;
    const char *argv[MAX_ARGS];
    char jobs[32], extra[sizeof cfg->make_args];
    size_t n = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(jobs, sizeof jobs, "-j%u", cfg->build_jobs ? cfg->build_jobs : (unsigned)cpus);
    argv[n++] = "make";
    argv[n++] = "-C";
    argv[n++] = job->dir;
    argv[n++] = jobs;
    char what[256] = "";
    for (const char *const *a = args; *a; a++)
        snprintf(what + strlen(what), sizeof what - strlen(what), " %s", *a);
    for (; *args && n < MAX_ARGS - 16; args++)
        argv[n++] = *args;
    snprintf(extra, sizeof extra, "%s", cfg->make_args);
    char *save = NULL;
    for (char *t = strtok_r(extra, " \t", &save); t && n < MAX_ARGS - 1;
         t = strtok_r(NULL, " \t", &save))
        argv[n++] = t;
    argv[n] = NULL;
    size_t n_env = 0;
    while (environ[n_env])
        n_env++;
    const char **env = calloc(n_env + 1, sizeof *env);
    if (!env)
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "cannot run make: out of memory");
    make_env(env, n_env + 1);
    struct aut_proc_opts po = {.argv = argv,
                               .env = env,
                               .log_path = job->build_log,
                               .deadline_ms = aut_job_deadline_ms(job, cfg->dl_build, false),
                               .cancel = &job->cancel};
    struct aut_proc_result res;
    int rc = aut_proc_run(&po, &res);
    free(env);
    if (rc)
        return aut_job_fail(job, rc == -ECANCELED ? AUT_FAIL_CANCELED : AUT_FAIL_INFRASTRUCTURE,
                            "cannot run make: %s", strerror(-rc));
    if (res.status != 0) {
        char tail[1024], how[128];
        aut_log_tail(job->build_log, 4, tail, sizeof tail);
        return aut_job_fail(job, res.timed_out ? AUT_FAIL_INFRASTRUCTURE : AUT_FAIL_BUILD,
                            "make%s: %s (log %s)%s%s", what,
                            aut_proc_describe(&res, po.deadline_ms, how, sizeof how),
                            job->build_log, tail[0] ? ": " : "", tail);
    }
    aut_job_log(job, "make%s: %.1f s", what, (double)res.ms / 1000.0);
    return 0;
}

static int build_run(struct aut_job *job)
{
    if (aut_mkdirs(job->report_dir, 0755))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s: %s", job->report_dir,
                            strerror(errno));
    snprintf(job->build_log, sizeof job->build_log, "%s/build.log", job->report_dir);
    snprintf(job->kernel, sizeof job->kernel, "%s/kernel.elf", job->dir);
    snprintf(job->kernel_rule, sizeof job->kernel_rule, "%s/build/kernel-rule.elf", job->dir);
    cJSON_AddStringToObject(job->cur_stage, "log", job->build_log);
    const char *rule[] = {"SLM_ENABLED=0", "KERNEL=build/kernel-rule.elf", NULL};
    const char *model[] = {NULL};
    if (aut_job_make(job, rule) || aut_job_make(job, model))
        return -1;
    if (access(job->kernel, R_OK) || access(job->kernel_rule, R_OK))
        return aut_job_fail(job, AUT_FAIL_BUILD, "make succeeded but %s is missing",
                            access(job->kernel, R_OK) ? job->kernel : job->kernel_rule);
    return 0;
}

const struct aut_stage aut_stage_build = {.name = "build", .run = build_run};
