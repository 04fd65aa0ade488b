/*
 * job.h - the IntegratorAgent pipeline: one job takes a model through the
 * stages of src/agents/stage_*.c (the table in pipeline.c) to a committed,
 * booted, validated kernel, or to a rollback.
 *
 *   fetch -> verify -> stage -> patch -> build -> check-build -> boot -> infer
 *         -> validate -> regress -> report -> commit | rollback -> notify
 *
 * A job runs on one thread, with a libuv loop of its own (processes, QEMU,
 * the bridge). Other threads may only call aut_job_cancel(). Progress goes to
 * an event callback, called on the job's thread.
 *
 * The report (integration_test_report.json, schemas/report.schema.json) is
 * the job's record: stages append to it as they run; validate reads the
 * measurements that boot and infer wrote into it.
 *
 * A stage can also run on its own (the agent tools): aut_job_init_standalone
 * sets up a job that has only a directory (a kernel tree) and options - no
 * workspace, no worktree, no store - and a stage's run() uses what is there.
 */
#ifndef AUTON_AGENTS_JOB_H
#define AUTON_AGENTS_JOB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "config.h"
#include "process.h"

struct aut_ws;
struct aut_vm;

/* The failure classes (DESIGN.md, after LAVA). Exactly one per failed job. */
enum aut_fail_class {
    AUT_FAIL_NONE,
    AUT_FAIL_INFRASTRUCTURE, /* QEMU missing, disk full...: retried */
    AUT_FAIL_MODEL,          /* bad GGUF, wrong arch, too big for the pool */
    AUT_FAIL_BUILD,
    AUT_FAIL_BOOT,           /* timeout, panic, no prompt */
    AUT_FAIL_INFERENCE,      /* gibberish, wrong answer, too slow, over memory */
    AUT_FAIL_REGRESSION,     /* selftests, boot time */
    AUT_FAIL_CANCELED,
    AUT_FAIL_INTERNAL,       /* a bug in the integrator */
};
const char *aut_fail_class_name(enum aut_fail_class c);

/* What the verify stage learnt about the model. */
struct aut_model_info {
    char name[128];          /* the file name without .gguf */
    char sha256[65];
    uint64_t bytes;
    uint64_t params;
    char quant[16];          /* weight type of the attention matrices, e.g. "Q4_0" */
    char arch[32];           /* general.architecture */
    uint32_t vocab, ctx, dim, layers;
    uint64_t pool_estimate;  /* bytes of SLM pool the kernel will need */
};

/* A job's options, as given by the CLI or an API request. */
struct aut_job_opts {
    const char *model;       /* path or bare name (resolved by fetch) */
    const char *manifest;    /* NULL: manifests/<name>.json beside the model, if any */
    const char *arch;        /* NULL: x86_64 */
    const char *prompts;     /* NULL: the config's prompts */
    int rollback;            /* -1: the config's; else enum aut_rollback_policy */
    int fallback;            /* -1: the config's; 0 off; 1 auto */
    int bridge;              /* -1: the config's; 0 console; 1 bridge */
    const char *id;          /* NULL: generated */
};

struct aut_job;

/* Progress events: type is "job", "stage", "attempt", "prompt", "check" or
 * "console"; data is borrowed for the call. */
typedef void (*aut_job_event_fn)(void *ud, const char *type, const cJSON *data);

struct aut_job {
    const struct aut_config *cfg;
    char id[64];
    char arch[16];
    char prompts[PATH_MAX];
    enum aut_rollback_policy rollback;
    bool fallback;
    bool bridge;
    bool standalone;         /* a single stage on a directory: no workspace, no commit */
    bool notify_deferred;    /* autond delivers the webhook after the job (stage notify
                                only records that) */

    /* fetch/verify: the model */
    char model_arg[PATH_MAX];
    char manifest_arg[PATH_MAX];
    char model_path[PATH_MAX];    /* the file as found */
    char manifest_path[PATH_MAX]; /* "" when there is none */
    char stored_path[PATH_MAX];   /* in the model store */
    cJSON *manifest;              /* parsed, or NULL */
    struct aut_model_info model;

    /* the workspace */
    struct aut_ws *ws;
    char ws_dir[PATH_MAX];        /* the workspace (main's checkout) */
    char dir[PATH_MAX];           /* the kernel tree the stages work in (the job's worktree) */
    char base[41];                /* main when the job began */
    char commit[41];              /* the job's commit, or the rollback commit */
    char main_after[41];
    bool main_has_model;          /* main embedded a model when the job began */
    bool job_begun;               /* branch and worktree exist */

    /* build */
    char kernel[PATH_MAX];        /* <dir>/kernel.elf */
    char kernel_rule[PATH_MAX];   /* the rule-engine build of the same commit */
    char build_log[PATH_MAX];

    /* QEMU */
    char accel[8];                /* "kvm" or "tcg" */
    char accel_why[256];
    double time_mult;             /* the accelerator's time multiplier */
    char qemu_version[128];
    struct aut_vm *vm;            /* the booted kernel, from boot to regress */
    char console_log[PATH_MAX];

    /* results */
    char report_dir[PATH_MAX];
    cJSON *report;
    cJSON *cur_stage;             /* the report's record of the stage running */
    enum aut_fail_class fail_class;
    char fail_stage[32];
    char fail_msg[1024];
    char recommendation[512];
    bool committed, rolled_back;
    unsigned attempt;             /* 1, 2...: infrastructure retries and fallbacks */

    uv_loop_t loop;
    struct aut_cancel cancel;
    aut_job_event_fn on_event;
    void *ud;
};

/* A stage (rule 9 of STYLE.md): one file each, listed in pipeline.c's table.
 * run() runs the stage to its end on the job's thread and returns 0, or
 * negative after calling aut_job_fail(). cancel() may be NULL: the job's
 * cancel token already kills its processes and ends its waits. */
struct aut_stage {
    const char *name;
    int (*run)(struct aut_job *job);
    void (*cancel)(struct aut_job *job);
    unsigned deadline_s_offset; /* offsetof(struct aut_config, dl_<x>), 0: none */
};

/* A new job id into id: "<UTC yyyymmdd-hhmmss>-<6 random hex digits>". */
void aut_job_make_id(char *id, size_t len);

/* Sets up a job from opts and the config (no I/O beyond a clock). Returns 0 or
 * -1 with err set (a bad option). Release with aut_job_release. */
int aut_job_init(struct aut_job *job, const struct aut_config *cfg,
                 const struct aut_job_opts *opts, char *err, size_t errlen);
/* A job for running single stages on dir (a kernel tree). */
int aut_job_init_standalone(struct aut_job *job, const struct aut_config *cfg, const char *dir,
                            const struct aut_job_opts *opts, char *err, size_t errlen);
/* A job with no model, for workspace operations (autonctl rollback). */
int aut_job_init_bare(struct aut_job *job, const struct aut_config *cfg,
                      const struct aut_job_opts *opts, char *err, size_t errlen);
void aut_job_release(struct aut_job *job);

/* Runs the whole pipeline. Returns the final class (AUT_FAIL_NONE: committed). */
enum aut_fail_class aut_job_run(struct aut_job *job);

/* How a run ended: "committed", "rolled_back" (failed, main rolled back),
 * "failed" (main unchanged) or "canceled". */
const char *aut_job_final_state(const struct aut_job *job);

/* Runs one stage by name on the job (standalone use). Returns 0 or -1. */
int aut_job_run_stage(struct aut_job *job, const char *name);

/* From any thread: stops the job (its processes are killed; it ends as
 * "canceled" after cleaning up). */
void aut_job_cancel(struct aut_job *job, const char *reason);

/* For stages: records the failure (the first one wins) in the job and in the
 * current stage's record; returns -1. */
int aut_job_fail(struct aut_job *job, enum aut_fail_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sends an event (data is borrowed). */
void aut_job_event(struct aut_job *job, const char *type, const cJSON *data);
/* A stage's deadline in ms: the config's seconds times the accelerator's
 * multiplier for QEMU stages (boot, infer, regress). */
uint32_t aut_job_deadline_ms(const struct aut_job *job, unsigned seconds, bool qemu);
/* Appends a line to the current stage's log list in the report. */
void aut_job_log(struct aut_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The report object at key (created as an object when missing). */
cJSON *aut_job_section(struct aut_job *job, const char *key);

/* The stages, in order. */
extern const struct aut_stage aut_stage_fetch, aut_stage_verify, aut_stage_stage, aut_stage_patch,
    aut_stage_build, aut_stage_check_build, aut_stage_boot, aut_stage_infer, aut_stage_validate,
    aut_stage_regress, aut_stage_report, aut_stage_commit, aut_stage_rollback, aut_stage_notify;

/* The Reviewer: a recommendation for a failure (class, stage, message) into
 * buf. */
void aut_review(const struct aut_job *job, char *buf, size_t len);

#endif
