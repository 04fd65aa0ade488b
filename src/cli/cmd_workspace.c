/*
 * cmd_workspace.c - autonctl workspace: the kernel workspace of an
 * architecture. `status` shows main (commit, what it embeds, whether the
 * checkout has the model the manifest names), leftovers of interrupted jobs
 * and recent history; `restore` places main's model from the model store
 * into the checkout (the .gguf is not committed by default).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "pipeline.h"
#include "store.h"
#include "workspace.h"

static const char usage_text[] = "usage: autonctl workspace status [--arch ARCH]\n"
                                 "       autonctl workspace restore [--arch ARCH]\n";

static void print_log(void *ud, const char *oid, const char *summary, long long t)
{
    printf("  %.12s %s\n", oid, summary);
}

static void print_tag(void *ud, const char *name)
{
    printf("  tag: %s\n", name);
}

/* main's manifest, parsed; NULL when main embeds no model. */
static cJSON *main_manifest(struct aut_ws *ws)
{
    char *text = NULL;
    size_t len = 0;
    if (aut_ws_read(ws, "main", AUT_WS_MANIFEST, &text, &len))
        return NULL;
    cJSON *m = cJSON_ParseWithLength(text, len);
    free(text);
    return m;
}

static const char *mstr(const cJSON *m, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int status(struct aut_job *job)
{
    struct aut_ws *ws = job->ws;
    bool dirty = false;
    aut_ws_dirty(ws, &dirty);
    printf("workspace %s\nmain %s%s\n", job->ws_dir, job->base,
           dirty ? " (checkout modified)" : "");
    aut_ws_tags_at(ws, job->base, print_tag, NULL);
    cJSON *m = main_manifest(ws);
    if (!m) {
        printf("backend: rule engine (no model embedded)\n");
    } else {
        char path[PATH_MAX + 64], hex[AUT_SHA256_HEX] = "", err[256];
        uint64_t size = 0;
        snprintf(path, sizeof path, "%s/%s", job->ws_dir, AUT_WS_MODEL);
        bool have = aut_file_sha256(path, hex, &size, err, sizeof err) == 0;
        bool match = have && !strcmp(hex, mstr(m, "sha256"));
        printf("backend: neural, model %s (sha256 %s)\n", mstr(m, "name"), mstr(m, "sha256"));
        printf("checkout: %s\n", match ? "the model is in place"
                                 : have
                                     ? "a different model is in place (autonctl workspace restore)"
                                     : "the model is missing (autonctl workspace restore)");
    }
    cJSON_Delete(m);
    char **names = NULL;
    size_t n = 0;
    if (!aut_ws_jobs(ws, &names, &n) && n) {
        printf("leftovers of interrupted jobs:\n");
        for (size_t i = 0; i < n; i++)
            printf("  integration/%s\n", names[i]);
    }
    aut_ws_names_free(names, n);
    printf("history:\n");
    aut_ws_log(ws, 5, print_log, NULL);
    return AUT_EXIT_OK;
}

static int restore(struct aut_job *job)
{
    cJSON *m = main_manifest(job->ws);
    if (!m) {
        printf("main embeds no model: nothing to restore\n");
        return AUT_EXIT_OK;
    }
    char stored[PATH_MAX + 128], dst[PATH_MAX + 64], err[512];
    int rc = AUT_EXIT_OK;
    if (aut_store_path(job->cfg->model_store, mstr(m, "sha256"), stored)) {
        rc = aut_cli_error(AUT_EXIT_FAILED, "model %s (sha256 %s) is not in the store %s",
                           mstr(m, "name"), mstr(m, "sha256"), job->cfg->model_store);
    } else {
        snprintf(dst, sizeof dst, "%s/%s", job->ws_dir, AUT_WS_MODEL);
        if (aut_copy_file(stored, dst, err, sizeof err))
            rc = aut_cli_error(AUT_EXIT_INFRA, "%s", err);
        else
            printf("restored %s into %s\n", mstr(m, "name"), dst);
    }
    cJSON_Delete(m);
    return rc;
}

int cmd_workspace(struct aut_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"arch", required_argument, 0, 'a'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    struct aut_job_opts o = {.rollback = -1, .fallback = -1, .bridge = 0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'a') {
            o.arch = optarg;
        } else {
            fputs(usage_text, c == 'h' ? stdout : stderr);
            return c == 'h' ? AUT_EXIT_OK : AUT_EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || (strcmp(argv[optind], "status") && strcmp(argv[optind], "restore"))) {
        fputs(usage_text, stderr);
        return AUT_EXIT_USAGE;
    }
    if (cli->mode == AUT_CLI_DAEMON) /* autond has no workspace endpoint but rollback */
        return aut_cli_error(AUT_EXIT_USAGE, "workspace works in this process only: no --daemon");
    struct aut_job *job = calloc(1, sizeof *job);
    char err[1024];
    if (!job)
        return AUT_EXIT_INFRA;
    int rc;
    if (aut_job_init_bare(job, &cli->cfg, &o, err, sizeof err))
        rc = aut_cli_error(AUT_EXIT_USAGE, "%s", err);
    else if (aut_job_open_workspace(job))
        rc = aut_cli_error(AUT_EXIT_INFRA, "%s", job->fail_msg);
    else
        rc = !strcmp(argv[optind], "status") ? status(job) : restore(job);
    aut_job_release(job);
    free(job);
    return rc;
}
