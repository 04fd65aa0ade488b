/*
 * api_tools.c - the agent tools over HTTP (POST /v1/tools/{name}, GET
 * /v1/integrations/{id}/result): arguments checked by the tools module,
 * workspace directories confined to [workspace] root and model files to the
 * model roots (running make in a directory is running its code), then the
 * tool queued as a job like an integration; is-gibberish answers at once.
 * run() functions work on the thread pool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "tools.h"

/* A workspace directory under [workspace] root: absolute, or relative to the
 * root; no '..'; its real path under the root's. 0 with out, or -1 after
 * answering. */
static int confine_dir(struct aut_api_call *c, const char *field, const char *given, char *out,
                       size_t len)
{
    const char *root = c->conf->cfg.ws_root;
    char cand[PATH_MAX * 2], real[PATH_MAX], real_root[PATH_MAX];
    if (aut_api_has_dotdot(given))
        return aut_api_fail(c, 422, "path_traversal",
                            "%s '%s': a '..' path component is not allowed", field, given),
               -1;
    if (given[0] == '/')
        snprintf(cand, sizeof cand, "%s", given);
    else
        snprintf(cand, sizeof cand, "%s/%s", root, given);
    struct stat st;
    if (!realpath(cand, real) || stat(real, &st) || !S_ISDIR(st.st_mode))
        return aut_api_fail(c, 422, "not_found",
                            "%s '%s': no such directory under the workspace "
                            "root %s",
                            field, given, root),
               -1;
    if (!realpath(root, real_root) || !aut_api_under(real, real_root) || strlen(real) >= len)
        return aut_api_fail(c, 422, "outside_roots",
                            "%s '%s' is not under the workspace root %s (symbolic links "
                            "followed): the API runs make only there",
                            field, given, root),
               -1;
    snprintf(out, len, "%s", real);
    return 0;
}

/* Rewrites the path arguments to their confined real paths. 0 or -1 after answering. */
static int confine_args(struct aut_api_call *c, const char *name, cJSON *args)
{
    const char *wsf =
        cJSON_GetObjectItem(args, "kernel_workspace") ? "kernel_workspace" : "workspace_path";
    const char *ws = aut_tool_workspace(name, args);
    char out[PATH_MAX], why[PATH_MAX + 128];
    if (ws) {
        if (confine_dir(c, wsf, ws, out, sizeof out))
            return -1;
        cJSON_ReplaceItemInObject(args, wsf, cJSON_CreateString(out));
    }
    static const char *const files[] = {"model_path", "manifest_path"};
    const struct aut_config *cfg = &c->conf->cfg;
    for (int i = 0; i < 2; i++) {
        const char *given = cJSON_GetStringValue(cJSON_GetObjectItem(args, files[i]));
        const char *code;
        if (!given)
            continue;
        if (aut_api_confine(given, cfg->model_roots, cfg->n_model_roots, i == 0, out, sizeof out,
                            &code, why, sizeof why))
            return aut_api_fail(c, 422, code, "%s %s", files[i], why), -1;
        cJSON_ReplaceItemInObject(args, files[i], cJSON_CreateString(out));
    }
    return 0;
}

void aut_api_tool(struct aut_api_call *c)
{
    const char *name = c->cap[0];
    const struct aut_http_req *q = c->req;
    if (!aut_tool_known(name))
        return aut_api_fail(c, 404, "unknown_tool",
                            "no tool '%s' (integrate-slm-model, "
                            "build-kernel, test-kernel-boot, test-slm-inference, is-gibberish)",
                            name);
    cJSON *args = cJSON_ParseWithLength(q->body, q->body_len);
    if (!cJSON_IsObject(args)) {
        cJSON_Delete(args);
        return aut_api_fail(c, 400, "invalid_json",
                            "the body must be a JSON object of the "
                            "tool's arguments");
    }
    char err[512];
    if (aut_tool_check(name, args, err, sizeof err)) {
        cJSON_Delete(args);
        return aut_api_fail(c, 422, "invalid_args", "%s: %s", name, err);
    }
    if (!aut_tool_needs_job(name)) {
        cJSON *res = aut_tool_is_gibberish(args, err, sizeof err);
        cJSON_Delete(args);
        if (!res)
            return aut_api_fail(c, 422, "invalid_args", "%s: %s", name, err);
        return aut_api_json(c, 200, res);
    }
    if (confine_args(c, name, args)) {
        cJSON_Delete(args);
        return;
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "kind", "tool");
    cJSON_AddStringToObject(r, "tool", name);
    const char *arch = cJSON_GetStringValue(cJSON_GetObjectItem(args, "arch"));
    cJSON_AddStringToObject(r, "arch", arch ? arch : "x86_64");
    char label[96];
    snprintf(label, sizeof label, "(tool %s)", name);
    cJSON_AddStringToObject(r, "model", label);
    cJSON_AddItemToObject(r, "args", args);
    aut_api_queue(c, r);
    cJSON_Delete(r);
}

void aut_api_result(struct aut_api_call *c)
{
    aut_api_job_file(c, AUT_TOOL_RESULT, "no_result", "tool result", "tool",
                     " (only agent tool jobs have one)");
}
