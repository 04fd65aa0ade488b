/*
 * pipeline.h - what the pipeline's files share beyond job.h (internal to
 * src/agents and its programs).
 */
#ifndef AUTON_AGENTS_PIPELINE_H
#define AUTON_AGENTS_PIPELINE_H

#include <stddef.h>

#include "job.h"

/* Where the integration spec stages the model in a kernel tree. */
#define AUT_WS_MODEL "kernel/slm/models/auton-slm.gguf"
#define AUT_WS_MANIFEST "kernel/slm/models/model_manifest.json"
/* The fetch stage's copy of the manifest used, in the report directory. */
#define AUT_FETCH_MANIFEST_COPY "model_manifest.json"

/* The stage named name (any of the table, closing stages included), or NULL. */
const struct aut_stage *aut_stage_find(const char *name);
/* Sends a "stage" event: name's status ("running", "passed", "failed") with
 * its duration in ms (< 0: none) and, when failed, the job's failure message.
 * The stage table's runner sends these; a caller running work outside the
 * table (autond's workspace rollback) sends its own. */
void aut_job_stage_event(struct aut_job *job, const char *name, const char *status, double ms);
/* Every stage's name, in pipeline order. */
const char *const *aut_stage_names(size_t *n);

/* The next model to try after the current one failed (stage_fetch.c): another
 * quantization of the same weights (same weights_sha256 or name stem in the
 * manifests beside it and under the model roots; higher precision first),
 * then a smaller model (fewer parameters, same architecture, largest first),
 * never one already tried in this job. Returns 0 with its path, -1 if none. */
int aut_fallback_next(struct aut_job *job, char *path, size_t len);

/* ---- the fetch stage's model sources ----
 * A file (stage_fetch.c), an http(s) URL or a bundle (fetch_source.c). Each
 * sets job->model_path (for a URL or a bundle only a record: the URL, or
 * "<bundle>!<entry>"), model.name, manifest_path and manifest (when there is
 * one), and puts the model into the store (stored_path, model.sha256,
 * model.bytes). Each returns 0, or -1 after aut_job_fail: model for what the
 * source or its server refused, infrastructure for what may pass on a retry
 * (no connection, a timeout, the store). */

/* job->model_arg is an http(s) URL of a .gguf: its manifest (job->manifest_arg,
 * else <url dir>/manifests/<stem>.json) is required, downloaded into the
 * report directory, and its sha256 names the store entry; the model is
 * downloaded (unless the store holds it) into <store>/partial/<sha256>.part,
 * resumed by later attempts and jobs, and stored only when its hash matches. */
int aut_fetch_url(struct aut_job *job);
/* path is a bundle (.tar, .tar.gz, .tgz, .tar.zst; a local file or an http(s)
 * URL, downloaded into the report directory first): extracted, untrusted,
 * into <report_dir>/bundle/, then its .gguf and manifest (job->manifest_arg
 * wins) go on as a file's would; the extracted .gguf is removed once stored. */
int aut_fetch_bundle(struct aut_job *job, const char *path);
/* Downloads the manifest at url (at most 1 MiB) into the report directory,
 * sets job->manifest_path to the copy and parses it into job->manifest. */
int aut_fetch_manifest_url(struct aut_job *job, const char *url);

/* The steps the sources share (stage_fetch.c): */
/* The file name of path without its directory and ".gguf". */
void aut_fetch_model_stem(const char *path, char *out, size_t len);
/* Parses job->manifest_path into job->manifest (a JSON object). */
int aut_fetch_manifest_load(struct aut_job *job);
/* job->manifest_arg (a path or a URL) as the manifest: path and parsed. */
int aut_fetch_manifest_arg(struct aut_job *job);
/* file (the model as found) into the store, refused over max_model_mb; a
 * standalone job only hashes it and uses it in place. */
int aut_fetch_store(struct aut_job *job, const char *file);

/* Picks the accelerator once per job (stage_boot.c): the config's accel, with
 * KVM probed by booting kernel. Fills job->accel, accel_why, time_mult and
 * qemu_version. Returns 0, or -1 after aut_job_fail (infrastructure). */
int aut_job_pick_accel(struct aut_job *job, const char *kernel);

/* Starts QEMU on job->loop for kernel and waits for its boot (stage_boot.c);
 * bridge: whether to open the bridge. On success *vm runs at the prompt. On
 * failure b->why says what happened and *vm is NULL. console_log may be NULL. */
struct aut_vm;
struct aut_vm_boot;
int aut_job_boot_kernel(struct aut_job *job, const char *kernel, bool bridge,
                        const char *console_log, struct aut_vm **vm, struct aut_vm_boot *b);

/* Runs make in the job's directory with args (NULL-terminated), appending to
 * the build log (stage_build.c). Returns 0, or -1 after aut_job_fail (build,
 * or infrastructure when make could not start). */
int aut_job_make(struct aut_job *job, const char *const *args);

/* Opens (creating it from kernel-tree/ on first use) the job's workspace,
 * notes main's commit and whether main embeds a model (stage_stage.c).
 * Returns 0 or -1 after aut_job_fail. */
int aut_job_open_workspace(struct aut_job *job);

/* Sets SLM_MODEL and SLM_ENABLED (1 with embed, else 0) in the Makefile of
 * job->dir (stage_patch.c). Returns 0 or -1 after aut_job_fail. */
int aut_job_patch_makefile(struct aut_job *job, bool embed);

/* The tail of a log file: its last n lines that say "error" or "warning",
 * else its last n lines, joined with "; " (stage_build.c). */
void aut_log_tail(const char *path, unsigned n, char *out, size_t len);

/* Loads and checks a prompt suite (stage_infer.c). Returns 0 with *out (the
 * caller's), or -1 with err naming the file and the bad field. */
int aut_prompts_load(const char *path, cJSON **out, char *err, size_t len);

/* The validation limits for the job (stage_validate.c). */
struct aut_validate_limits;
void aut_job_limits(const struct aut_job *job, struct aut_validate_limits *lim);

/* Puts main on the rule engine (stage_rollback.c): a worktree of main with the
 * model and manifest removed and SLM_ENABLED := 0, built and booted to its
 * prompt, then committed with msg and main fast-forwarded to it. The job's
 * workspace must be open and main must embed a model. Returns 0, or -1 after
 * aut_job_fail (main unchanged). */
int aut_job_rollback_main(struct aut_job *job, const char *msg);

#endif
