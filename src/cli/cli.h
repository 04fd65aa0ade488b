/*
 * cli.h - what autonctl's subcommands share: the dispatch entry points (one
 * file per subcommand, git's builtin style), the loaded configuration and
 * error reporting.
 */
#ifndef AUTON_CLI_CLI_H
#define AUTON_CLI_CLI_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "config.h"

/* Exit codes (README.md, docs/pipeline.md). */
enum {
    AUT_EXIT_OK = 0,     /* integrated (committed) / the command did what was asked */
    AUT_EXIT_FAILED = 1, /* the model was rejected or rolled back, the job canceled, or
                            what was asked for is not there (API 404/409) */
    AUT_EXIT_USAGE = 2,  /* bad command line, or a request autond refused (API 400/422...) */
    AUT_EXIT_INFRA = 3,  /* infrastructure or integrator failure: not the model's fault */
};

/* Where a job runs: autond when it answers (auto), or as asked by the global
 * --local / --daemon (client.h, aut_client_pick). */
enum aut_cli_mode { AUT_CLI_AUTO, AUT_CLI_LOCAL, AUT_CLI_DAEMON };

struct aut_cli {
    struct aut_config cfg;
    const char *config_path; /* --config, or NULL */
    enum aut_cli_mode mode;
};

int cmd_integrate(struct aut_cli *cli, int argc, char **argv);
int cmd_report(struct aut_cli *cli, int argc, char **argv);
int cmd_rollback(struct aut_cli *cli, int argc, char **argv);
int cmd_workspace(struct aut_cli *cli, int argc, char **argv);
int cmd_list(struct aut_cli *cli, int argc, char **argv);
int cmd_show(struct aut_cli *cli, int argc, char **argv);
int cmd_logs(struct aut_cli *cli, int argc, char **argv);
int cmd_cancel(struct aut_cli *cli, int argc, char **argv);
int cmd_nightly(struct aut_cli *cli, int argc, char **argv);
int cmd_models(struct aut_cli *cli, int argc, char **argv);
int cmd_tool(struct aut_cli *cli, int argc, char **argv);

/* "autonctl: <message>" on stderr; returns code. */
int aut_cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- display.c: what a job shows while it runs and when it ends ---- */

struct aut_cli_progress {
    bool tty;      /* stderr is a terminal: one live line per stage */
    bool quiet;    /* nothing until the summary */
    bool announce; /* also show the job's own events (started: it may have waited in a queue) */
};

/* Shows one event of a job on stderr: the in-process pipeline's callback
 * (aut_job_event_fn, ud a struct aut_cli_progress) and, with the very same
 * data objects, each event read from autond's event stream. Data that lacks
 * a field shows as "-", never crashes. */
void aut_cli_show_event(void *ud, const char *type, const cJSON *data);

/* The summary table of a report: stages, failed checks, the decision. */
void aut_cli_print_summary(FILE *f, const cJSON *report);

/* ---- format.c: small helpers of the tables ---- */

/* o[key] when it is a non-empty string, else dflt. */
const char *aut_cli_jstr(const cJSON *o, const char *key, const char *dflt);
/* o[key] when it is a number, else dflt. */
double aut_cli_jnum(const cJSON *o, const char *key, double dflt);
/* A duration in seconds as "850ms", "42s", "3m05s", "2h10m", "3d04h"; "-" when < 0. */
const char *aut_cli_duration(double s, char *buf, size_t len);
/* A local time (seconds since the epoch) as "2026-11-21 10:36:45"; "-" when <= 0. */
const char *aut_cli_time(double t, char *buf, size_t len);
/* The seconds since the epoch now, with a fraction. */
double aut_cli_now(void);

/* cancel_signals.c: while a job runs in this process, SIGINT and SIGTERM
 * cancel it. start() before the job runs, stop() after it has ended. */
struct aut_job;
struct aut_cli_signals {
    sigset_t set;
    struct aut_job *job;
    pthread_t thread;
    bool have_thread;
};
void aut_cli_signals_start(struct aut_cli_signals *g, struct aut_job *job);
void aut_cli_signals_stop(struct aut_cli_signals *g);

#endif
