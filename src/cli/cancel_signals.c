/*
 * cancel_signals.c - Ctrl-C for a job running in this process: SIGINT and
 * SIGTERM cancel it (its processes are killed, its worktree removed), taken
 * by a thread that waits for them, since a signal handler may not take the
 * cancel token's mutex.
 */
#include <signal.h>

#include "cli.h"
#include "job.h"

static void *wait_signals(void *arg)
{
    struct aut_cli_signals *g = arg;
    int sig = 0;
    if (sigwait(&g->set, &sig) == 0 && sig != SIGUSR2)
        aut_job_cancel(g->job, sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
    return NULL;
}

void aut_cli_signals_start(struct aut_cli_signals *g, struct aut_job *job)
{
    g->job = job;
    sigemptyset(&g->set);
    sigaddset(&g->set, SIGINT);
    sigaddset(&g->set, SIGTERM);
    sigaddset(&g->set, SIGUSR2); /* our own wake-up at the end */
    pthread_sigmask(SIG_BLOCK, &g->set, NULL);
    g->have_thread = pthread_create(&g->thread, NULL, wait_signals, g) == 0;
}

void aut_cli_signals_stop(struct aut_cli_signals *g)
{
    if (g->have_thread) {
        pthread_kill(g->thread, SIGUSR2);
        pthread_join(g->thread, NULL);
        g->have_thread = false;
    }
}
