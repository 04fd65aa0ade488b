/*
 * cli.h - what autonctl's subcommands share: the dispatch entry points (one
 * file per subcommand, git's builtin style), the loaded configuration and
 * error reporting.
 */
#ifndef AUTON_CLI_CLI_H
#define AUTON_CLI_CLI_H

#include <stdbool.h>

#include "config.h"

/* Exit codes (README.md, docs/pipeline.md). */
enum {
    AUT_EXIT_OK = 0,       /* integrated (committed) / the command did what was asked */
    AUT_EXIT_FAILED = 1,   /* the model was rejected or rolled back */
    AUT_EXIT_USAGE = 2,    /* bad command line */
    AUT_EXIT_INFRA = 3,    /* infrastructure or integrator failure: not the model's fault */
};

struct aut_cli {
    struct aut_config cfg;
    const char *config_path; /* --config, or NULL */
};

int cmd_integrate(struct aut_cli *cli, int argc, char **argv);
int cmd_report(struct aut_cli *cli, int argc, char **argv);
int cmd_rollback(struct aut_cli *cli, int argc, char **argv);
int cmd_workspace(struct aut_cli *cli, int argc, char **argv);

/* "autonctl: <message>" on stderr; returns code. */
int aut_cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
