/*
 * autonctl.c - the CLI's entry: global options (--config, -o section.key=value,
 * --local / --daemon), then one subcommand from the table below (one file
 * each, cmd_<name>.c).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct command {
    const char *name;
    int (*fn)(struct aut_cli *cli, int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"integrate", cmd_integrate, "take a model through build, boot, validation to a commit"},
    {"report", cmd_report, "show a job's integration report"},
    {"rollback", cmd_rollback, "put the workspace's main on the rule engine"},
    {"workspace", cmd_workspace, "the kernel workspace: status, restore"},
    {"list", cmd_list, "autond's jobs, newest first"},
    {"show", cmd_show, "one of autond's jobs: its stages and webhook deliveries"},
    {"logs", cmd_logs, "a job's build or console log (-f follows it)"},
    {"cancel", cmd_cancel, "cancel a queued or running job of autond"},
    {"nightly", cmd_nightly, "nightly runs and each model's trend; run-now starts one"},
    {"models", cmd_models, "the models under autond's model roots"},
    {"tool", cmd_tool, "the spec's agent tools, one at a time, on a workspace directory"},
};

int aut_cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("autonctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: autonctl [--config FILE] [-o SECTION.KEY=VALUE]... [--local | --daemon] "
               "COMMAND [ARGS]\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nintegrate and rollback go through autond when it answers on [daemon] socket,\n"
               "else they run in this process; --local always runs them here, --daemon never\n"
               "does. list, show, logs, cancel, nightly and models need autond.\n"
               "\n'autonctl COMMAND --help' tells more. The configuration is --config, else "
               "$AUTON_CONFIG, else etc/auton.conf.\n"
               "Exit status: 0 done, 1 rejected/rolled back/not found, 2 usage or a request "
               "autond refused, 3 infrastructure.\n");
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a child that closed its stdin must not kill us */
    struct aut_cli cli = {0};
    const char *overrides[64];
    int n_over = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return AUT_EXIT_OK;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            cli.config_path = argv[++i];
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc && n_over < 64) {
            overrides[n_over++] = argv[++i];
        } else if (!strcmp(argv[i], "--local")) {
            cli.mode = AUT_CLI_LOCAL;
        } else if (!strcmp(argv[i], "--daemon")) {
            cli.mode = AUT_CLI_DAEMON;
        } else {
            usage(stderr);
            return aut_cli_error(AUT_EXIT_USAGE, "unknown option %s", argv[i]);
        }
    }
    if (i == argc) {
        usage(stderr);
        return AUT_EXIT_USAGE;
    }
    char err[1024];
    if (aut_config_load(&cli.cfg, cli.config_path, err, sizeof err))
        return aut_cli_error(AUT_EXIT_USAGE, "%s", err);
    for (int k = 0; k < n_over; k++)
        if (aut_config_set(&cli.cfg, overrides[k], err, sizeof err))
            return aut_cli_error(AUT_EXIT_USAGE, "%s", err);
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (!strcmp(argv[i], commands[k].name))
            return commands[k].fn(&cli, argc - i, argv + i);
    usage(stderr);
    return aut_cli_error(AUT_EXIT_USAGE, "'%s' is not a command", argv[i]);
}
