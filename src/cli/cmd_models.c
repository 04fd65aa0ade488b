/*
 * cmd_models.c - autonctl models: the models (.gguf) under autond's model
 * roots with what their manifests say - the names `autonctl integrate`
 * accepts as they are.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

static const char usage_text[] = "usage: autonctl models [--json]\n";

static void print_models(const cJSON *m)
{
    const cJSON *r, *e;
    printf("roots:");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(m, "roots"))
        printf(" %s", cJSON_IsString(r) ? r->valuestring : "-");
    printf("\n\n%-24s %9s %-8s %8s %-10s %-8s %s\n", "NAME", "SIZE", "QUANT", "PARAMS", "ARCH",
           "MANIFEST", "PATH");
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(m, "items"))
    {
        char size[24], params[24] = "-";
        snprintf(size, sizeof size, "%.1f MiB", aut_cli_jnum(e, "bytes", 0) / (1024.0 * 1024.0));
        if (aut_cli_jnum(e, "parameters", 0) > 0)
            snprintf(params, sizeof params, "%.1fM", aut_cli_jnum(e, "parameters", 0) / 1e6);
        printf("%-24s %9s %-8s %8s %-10s %-8s %s\n", aut_cli_jstr(e, "name", "-"), size,
               aut_cli_jstr(e, "quantization", "-"), params, aut_cli_jstr(e, "architecture", "-"),
               aut_cli_jstr(e, "manifest", NULL) ? "yes" : "no", aut_cli_jstr(e, "path", "-"));
    }
}

int cmd_models(struct aut_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool json = false;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j') {
            json = true;
        } else {
            fputs(usage_text, c == 'h' ? stdout : stderr);
            return c == 'h' ? AUT_EXIT_OK : AUT_EXIT_USAGE;
        }
    }
    if (optind != argc)
        return aut_cli_error(AUT_EXIT_USAGE, "models takes no arguments");
    cJSON *m = NULL;
    if ((rc = aut_client_need(cli, "models")) || (rc = aut_client_get(cli, "/v1/models", &m)))
        return rc;
    char *text = json ? cJSON_Print(m) : NULL;
    if (text)
        puts(text);
    else
        print_models(m);
    free(text);
    cJSON_Delete(m);
    return AUT_EXIT_OK;
}
