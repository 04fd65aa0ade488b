/*
 * tools.h - the integration spec's four agent tools, callable one by one on a
 * kernel tree (a workspace directory), with the pipeline's own stage code
 * behind them (a standalone job: aut_job_init_standalone + aut_job_run_stage),
 * plus the gibberish detector the pipeline validates outputs with.
 *
 *   integrate-slm-model  {model_path, kernel_workspace, manifest_path?}
 *       fetch (in place, hashed) + verify + stage + patch: the model and its
 *       manifest copied to kernel/slm/models/, the Makefile set to embed it.
 *   build-kernel         {workspace_path, arch?}
 *       build + check-build: make, then the ELF checks (slm_model_* symbols,
 *       the .slm_model section, size against the model).
 *   test-kernel-boot     {workspace_path, arch?}
 *       boot the workspace's kernel.elf in QEMU to its prompt, capture the
 *       boot log.
 *   test-slm-inference   {workspace_path, arch?, test_prompts: [string, ...], max_tokens?}
 *       boot, then ask each prompt (in order) through the bridge or console.
 *   is-gibberish         {text}
 *       the coherence check of src/agents/coherence.c (no job, no QEMU).
 *
 * Every result is a JSON object with the spec's field names: "success"
 * (bool) and "logs" (string), "outputs" for inference (one string per
 * prompt, in order), plus "tool", "workspace", "arch", and on failure
 * "class" (the failure class name), "stage" and "error" (what was wrong),
 * and per tool what is useful (see schemas/tools/<name>.json). A broken
 * workspace (no Makefile, no model, a build error, a kernel that panics or
 * hangs) gives success false with the reason - never a crash or a hang
 * (every process has the stage's deadline).
 */
#ifndef AUTON_AGENTS_TOOLS_H
#define AUTON_AGENTS_TOOLS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "job.h"

/* The tool names above, in that order (is-gibberish last). */
const char *const *aut_tool_names(size_t *n);
/* Whether name is a tool. */
bool aut_tool_known(const char *name);
/* Whether the tool runs a job (everything but is-gibberish). */
bool aut_tool_needs_job(const char *name);
/* The workspace directory argument of a job tool ("kernel_workspace" or
 * "workspace_path"), borrowed from args; NULL when absent. */
const char *aut_tool_workspace(const char *name, const cJSON *args);

/* Checks args for tool name: required fields present with the right types,
 * no unknown fields, arch supported, prompts a non-empty list of non-empty
 * strings. Returns 0, or -1 with err naming the field
 * ("test_prompts: expected a non-empty array of strings"). */
int aut_tool_check(const char *name, const cJSON *args, char *err, size_t errlen);

/* Sets up job (a standalone job on the workspace directory, id as given or
 * generated, its report directory under [pipeline] reports) for the tool.
 * args must have passed aut_tool_check. Returns 0, or -1 with err (the
 * workspace is not a directory...). Release with aut_job_release. The
 * caller may set job->on_event/ud before aut_tool_exec, and cancel it from
 * another thread with aut_job_cancel. */
int aut_tool_prepare(struct aut_job *job, const struct aut_config *cfg, const char *name,
                     const cJSON *args, const char *id, char *err, size_t errlen);

/* Runs the tool on a prepared job; returns its result (the caller's; never
 * NULL). Also writes it to <job->report_dir>/AUT_TOOL_RESULT. */
cJSON *aut_tool_exec(struct aut_job *job, const char *name, const cJSON *args);
#define AUT_TOOL_RESULT "tool_result.json"

/* is-gibberish: {"text"} -> {"success": true, "gibberish": bool, "reason":
 * "...", "text": ...}. Returns NULL with err when args are bad. */
cJSON *aut_tool_is_gibberish(const cJSON *args, char *err, size_t errlen);

#endif
