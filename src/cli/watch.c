/*
 * watch.c - following one of autond's jobs to its end (integrate and
 * rollback in daemon mode): its event stream through the display the
 * in-process run uses, Ctrl-C turned into a cancel through the API, and the
 * job as it ended.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "client.h"

/* SIGINT/SIGTERM, taken by a thread that waits for them: the cancel is an
 * HTTP request, which a signal handler may not make. */
struct sigwaiter {
    sigset_t set;
    struct aut_cli *cli;
    const char *job;
};

static void signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGUSR2); /* our own wake-up at the end */
}

void aut_client_hold_signals(void)
{
    sigset_t set;
    signal_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void cancel(struct aut_cli *cli, const char *job)
{
    char path[256], err[1024];
    long status = 0;
    cJSON *resp = NULL;
    snprintf(path, sizeof path, "/v1/integrations/%s/cancel", job);
    fprintf(stderr, "\nautonctl: canceling job %s (again to stop watching it)\n", job);
    if (aut_client_call(cli, "POST", path, NULL, NULL, &status, &resp, err, sizeof err))
        aut_cli_error(AUT_EXIT_INFRA, "cancel: %s", err);
    else if (status != 202 && status != 409) /* 409: it ended meanwhile, the stream says how */
        aut_client_fail(status, resp, path);
    cJSON_Delete(resp);
}

static void *wait_signals(void *arg)
{
    struct sigwaiter *w = arg;
    int sig = 0;
    for (unsigned n = 0; sigwait(&w->set, &sig) == 0 && sig != SIGUSR2; n++) {
        if (n == 0) {
            cancel(w->cli, w->job);
            continue;
        }
        /* the user does not want to wait for the end: the cancel goes on in autond */
        fprintf(stderr,
                "autonctl: not watching job %s any more; `autonctl show %s` tells how "
                "it ended\n",
                w->job, w->job);
        _exit(AUT_EXIT_FAILED);
    }
    return NULL;
}

int aut_client_watch(struct aut_cli *cli, const char *job, struct aut_cli_progress *p,
                     cJSON **final)
{
    struct sigwaiter w = {.cli = cli, .job = job};
    signal_set(&w.set);
    pthread_sigmask(SIG_BLOCK, &w.set, NULL);
    pthread_t th;
    bool have_thread = pthread_create(&th, NULL, wait_signals, &w) == 0;

    char state[32] = "", err[1024];
    int rc =
        aut_client_events(cli, job, aut_cli_show_event, p, state, sizeof state, err, sizeof err);
    if (have_thread) {
        pthread_kill(th, SIGUSR2);
        pthread_join(th, NULL);
    }
    if (p->tty && !p->quiet)
        fputs("\r\033[K", stderr); /* a stage's live line left open */
    if (rc)
        return aut_cli_error(AUT_EXIT_INFRA, "%s", err);
    char path[256];
    snprintf(path, sizeof path, "/v1/integrations/%s", job);
    return aut_client_get(cli, path, final);
}
