/*
 * autond.c - the daemon's entry point: options, backgrounding (unless
 * --foreground: systemd and development run it in the foreground), then the
 * loop until a signal ends it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "fsutil.h"

static const char usage_text[] =
    "usage: autond [--foreground] [--config FILE] [-o SECTION.KEY=VALUE]... [--pidfile FILE]\n"
    "\n"
    "The AUTON integrator as a service: an HTTP API (TCP with a bearer token, and a\n"
    "Unix socket for autonctl), a job queue in SQLite, nightly runs and webhooks.\n"
    "See docs/daemon.md and schemas/openapi.yaml.\n"
    "\n"
    "  -f, --foreground   stay attached, log to stderr (systemd, development)\n"
    "  -c, --config FILE  the configuration (default: $AUTON_CONFIG, else etc/auton.conf)\n"
    "  -o KEY=VALUE       override a configuration key (repeatable)\n"
    "      --pidfile FILE write the daemon's pid there\n"
    "      --check        load the configuration, open the store, and exit\n"
    "\n"
    "Signals: SIGTERM/SIGINT shut down gracefully ([daemon] shutdown, shutdown_grace_s);\n"
    "SIGHUP reloads the configuration.\n";

/* Detaches: a grandchild in a session of its own, stdio on the log file. */
static int background(const char *log_file)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", log_file);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        aut_mkdirs(dir, 0755);
    }
    int log = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
        fprintf(stderr, "autond: log %s: %s\n", log_file, strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    setsid();
    if ((pid = fork()) < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) {
        dup2(null, 0);
        close(null);
    }
    dup2(log, 1);
    dup2(log, 2);
    close(log);
    return 0;
}

static int write_pidfile(const char *path)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    char err[512];
    if (aut_write_file(path, buf, (size_t)n, err, sizeof err)) {
        fprintf(stderr, "autond: pidfile %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"foreground", no_argument, 0, 'f'},
                                             {"config", required_argument, 0, 'c'},
                                             {"pidfile", required_argument, 0, 'p'},
                                             {"check", no_argument, 0, 'k'},
                                             {"help", no_argument, 0, 'h'},
                                             {"version", no_argument, 0, 'V'},
                                             {0, 0, 0, 0}};
    static struct aut_daemon d; /* large; lives as long as the process */
    bool foreground = false, check = false;
    const char *pidfile = NULL;
    d.overrides = calloc((size_t)argc, sizeof *d.overrides);
    int c;
    while ((c = getopt_long(argc, argv, "fc:o:h", longopts, NULL)) != -1) {
        if (c == 'f') {
            foreground = true;
        } else if (c == 'c') {
            snprintf(d.config_path, sizeof d.config_path, "%s", optarg);
        } else if (c == 'o') {
            d.overrides[d.n_overrides++] = optarg;
        } else if (c == 'p') {
            pidfile = optarg;
        } else if (c == 'k') {
            check = true;
        } else if (c == 'h') {
            fputs(usage_text, stdout);
            return 0;
        } else if (c == 'V') {
            printf("autond %s\n", AUTOND_VERSION);
            return 0;
        } else {
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "autond: unexpected argument '%s'\n%s", argv[optind], usage_text);
        return 2;
    }
    if (!foreground && !check) {
        struct aut_config cfg;
        char err[1024];
        if (aut_config_load(&cfg, d.config_path[0] ? d.config_path : NULL, err, sizeof err)) {
            fprintf(stderr, "autond: %s\n", err);
            return 2;
        }
        if (background(cfg.log_file))
            return 3;
    }
    if (pidfile && write_pidfile(pidfile))
        return 3;
    uv_loop_t *loop = uv_default_loop();
    char err[2048];
    if (aut_daemon_start(&d, loop, err, sizeof err)) {
        aut_dlog("cannot start: %s", err);
        return 3;
    }
    if (check) {
        aut_dlog("configuration and job store are fine");
        aut_daemon_shutdown(&d, "--check");
    }
    uv_run(loop, UV_RUN_DEFAULT);
    aut_db_close(d.db);
    aut_conf_put(d.conf);
    uv_loop_close(loop);
    free(d.overrides);
    if (pidfile)
        unlink(pidfile);
    aut_dlog("stopped");
    return d.exit_code;
}
