/*
 * cmd_list.c - autonctl list: autond's jobs, newest first, as a table (or
 * the API's JSON with --json); --all follows the pages to the oldest.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const char usage_text[] =
    "usage: autonctl list [--state STATE] [--limit N] [--all] [--json]\n"
    "\n"
    "autond's jobs, newest first: N of them (default 50), or all with --all (N a page).\n"
    "STATE: queued, running, committed, rolled_back, failed, canceled, interrupted.\n"
    "--json prints {\"items\": [...], \"next_cursor\": ...} as GET /v1/integrations does.\n";

struct opts {
    const char *state;
    long limit;
    bool all, json;
};

/* The model as a person names it: the verified manifest's name, else the
 * file's stem. */
static void model_name(const cJSON *job, char *out, size_t len)
{
    const char *n =
        aut_cli_jstr(cJSON_GetObjectItemCaseSensitive(job, "summary"), "model_name", NULL);
    const char *m = aut_cli_jstr(job, "model", "-");
    if (!n)
        n = strrchr(m, '/') ? strrchr(m, '/') + 1 : m;
    snprintf(out, len, "%s", n);
    size_t l = strlen(out);
    if (l > 5 && !strcmp(out + l - 5, ".gguf"))
        out[l - 5] = '\0';
}

static void print_row(const cJSON *j, double now)
{
    char model[64], age[16], took[16];
    model_name(j, model, sizeof model);
    double started = aut_cli_jnum(j, "started", 0), finished = aut_cli_jnum(j, "finished", 0);
    aut_cli_duration(now - aut_cli_jnum(j, "created", now), age, sizeof age);
    aut_cli_duration(!started ? -1 : (finished ? finished : now) - started, took, sizeof took);
    printf("%-24s %-11s %-14s %-20s %-12s %8s %8s\n", aut_cli_jstr(j, "id", "-"),
           aut_cli_jstr(j, "state", "-"), aut_cli_jstr(j, "class", "-"), model,
           aut_cli_jstr(j, "stage", "-"), age, took);
}

/* One page from cursor (NULL: the first) into all; *next the next cursor or "". */
static int page(struct aut_cli *cli, const struct opts *o, const char *cursor, cJSON *all,
                char *next, size_t len)
{
    char path[256];
    cJSON *resp = NULL;
    snprintf(path, sizeof path, "/v1/integrations?limit=%ld%s%s%s%s", o->limit,
             o->state ? "&state=" : "", o->state ? o->state : "", cursor ? "&cursor=" : "",
             cursor ? cursor : "");
    int rc = aut_client_get(cli, path, &resp);
    if (rc)
        return rc;
    cJSON *items = cJSON_GetObjectItemCaseSensitive(resp, "items"), *j;
    while (cJSON_IsArray(items) && (j = cJSON_DetachItemFromArray(items, 0)))
        cJSON_AddItemToArray(all, j);
    snprintf(next, len, "%s", aut_cli_jstr(resp, "next_cursor", ""));
    cJSON_Delete(resp);
    return 0;
}

static int list(struct aut_cli *cli, const struct opts *o)
{
    cJSON *out = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(out, "items");
    char next[64] = "", cursor[64];
    int rc = page(cli, o, NULL, items, next, sizeof next);
    while (!rc && o->all && next[0]) {
        snprintf(cursor, sizeof cursor, "%s", next);
        rc = page(cli, o, cursor, items, next, sizeof next);
    }
    if (!rc && o->json) {
        cJSON_AddItemToObject(out, "next_cursor",
                              next[0] ? cJSON_CreateString(next) : cJSON_CreateNull());
        char *text = cJSON_Print(out);
        if (text)
            puts(text);
        free(text);
    } else if (!rc) {
        printf("%-24s %-11s %-14s %-20s %-12s %8s %8s\n", "ID", "STATE", "CLASS", "MODEL", "STAGE",
               "AGE", "TIME");
        double now = aut_cli_now();
        const cJSON *j;
        cJSON_ArrayForEach(j, items) print_row(j, now);
        if (next[0])
            printf("(more: --all, or --limit above %ld)\n", o->limit);
    }
    cJSON_Delete(out);
    return rc;
}

int cmd_list(struct aut_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, 0, 's'}, {"limit", required_argument, 0, 'n'},
        {"all", no_argument, 0, 'a'},         {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    struct opts o = {.limit = 50};
    char *end;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 's') {
            o.state = optarg;
            if (!optarg[0] || optarg[strspn(optarg, "abcdefghijklmnopqrstuvwxyz_")])
                return aut_cli_error(AUT_EXIT_USAGE, "--state '%s': not a state", optarg);
        } else if (c == 'n') {
            o.limit = strtol(optarg, &end, 10);
            if (!optarg[0] || *end || o.limit < 1 || o.limit > 1000)
                return aut_cli_error(AUT_EXIT_USAGE, "--limit %s: expected 1..1000", optarg);
        } else if (c == 'a' || c == 'j') {
            *(c == 'a' ? &o.all : &o.json) = true;
        } else {
            fputs(usage_text, c == 'h' ? stdout : stderr);
            return c == 'h' ? AUT_EXIT_OK : AUT_EXIT_USAGE;
        }
    }
    if (optind != argc)
        return aut_cli_error(AUT_EXIT_USAGE, "list takes no arguments");
    int rc = aut_client_need(cli, "list");
    return rc ? rc : list(cli, &o);
}
