/*
 * config.h - etc/auton.conf, the integrator's configuration (INI, read with
 * inih; the only module that uses it). etc/auton.conf documents every key
 * with its default; aut_config_defaults() is the same table in code.
 *
 * Loading is strict: an unknown section or key, a value of the wrong type or
 * out of range is an error naming the file, line, section and key:
 *   "etc/auton.conf:14: [validate] boot_max_s: expected a number > 0, got 'ten'"
 * Overrides given on a command line ("section.key=value", autonctl -o) go
 * through the same checks ("-o validate.boot_max_s: ...").
 *
 * Relative paths in the file are resolved against the directory the program
 * was started in and stored absolute.
 *
 * The [bridge] keys can also be set by the environment (AUTON_KERNEL_BRIDGE,
 * AUTON_KERNEL_BRIDGE_TIMEOUT_MS, AUTON_KERNEL_BRIDGE_TRACE), which wins over
 * the file, as docs/bridge.md says; aut_config_load applies them last.
 */
#ifndef AUTON_COMMON_CONFIG_H
#define AUTON_COMMON_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum aut_rollback_policy { AUT_ROLLBACK_RULE_ENGINE, AUT_ROLLBACK_PREVIOUS };
enum aut_accel_pref { AUT_ACCEL_AUTO, AUT_ACCEL_KVM, AUT_ACCEL_TCG };

#define AUT_CONFIG_MAX_ROOTS 8

struct aut_config {
    char path[PATH_MAX]; /* the file loaded, "" for built-in defaults */

    /* [workspace] */
    char ws_root[PATH_MAX];      /* root = var/kernels: workspaces are <root>/<arch> */
    char ws_worktrees[PATH_MAX]; /* worktrees = var/worktrees: <worktrees>/<job-id> */
    char kernel_tree[PATH_MAX];  /* kernel_tree = kernel-tree: the seed of a new workspace */
    bool commit_model_blob;      /* commit_model_blob = false */
    char author_name[128];       /* author_name = AUTON integrator */
    char author_email[128];      /* author_email = integrator@auton.invalid */

    /* [models] */
    char model_store[PATH_MAX];  /* store = var/models: <store>/sha256/<hex>.gguf */
    char model_roots[AUT_CONFIG_MAX_ROOTS][PATH_MAX]; /* roots = models/exports (comma list):
                                    where bare model names are looked up */
    unsigned n_model_roots;
    uint64_t max_model_mb;       /* max_model_mb = 1024 */

    /* [pipeline] */
    enum aut_rollback_policy rollback; /* rollback = rule-engine | previous */
    bool fallback;               /* fallback = auto (true) | off (false) */
    unsigned retries;            /* retries = 1: extra attempts after an infrastructure failure */
    char prompts[PATH_MAX];      /* prompts = tests/prompts/default.json */
    char reports[PATH_MAX];      /* reports = reports: <reports>/<job-id>/ */
    unsigned keep_reports;       /* keep_reports = 100: job report dirs kept (0: all) */

    /* [deadlines] seconds per stage (under KVM; TCG multiplies them) */
    unsigned dl_fetch, dl_verify, dl_stage, dl_build, dl_boot, dl_infer, dl_regress, dl_commit;
    /* fetch_s = 300, verify_s = 60, stage_s = 60, build_s = 900, boot_s = 60, infer_s = 600,
       regress_s = 600, commit_s = 120 */

    /* [build] */
    unsigned build_jobs;         /* jobs = 0: make -j<n>, 0 = number of CPUs */
    char make_args[512];         /* make_args = "": extra make arguments, split on spaces
                                    (e.g. V=1) */

    /* [qemu] */
    char qemu_binary[PATH_MAX];  /* binary = qemu-system-x86_64 */
    enum aut_accel_pref accel;   /* accel = auto | kvm | tcg */
    unsigned memory_mb;          /* memory_mb = 512 */
    char qboot[PATH_MAX];        /* qboot = /usr/share/qemu/qboot.rom (KVM firmware; "" = SeaBIOS) */
    char append[512];            /* append = "": extra kernel command line */

    /* [bridge] (environment wins, see above) */
    bool bridge_enabled;         /* enabled = 1 */
    uint32_t bridge_timeout_ms;  /* timeout_ms = 300000 */
    bool bridge_trace;           /* trace = 0 */

    /* [validate] the spec's figures hold under KVM; time limits are multiplied
       by time_multiplier_<accel> */
    double size_tolerance_pct;   /* size_tolerance_pct = 5 */
    double boot_max_s;           /* boot_max_s = 10 */
    double latency_max_s;        /* latency_max_s = 5 ... */
    unsigned latency_tokens;     /* latency_tokens = 50: ... for this many tokens */
    double pool_peak_max_mb;     /* pool_peak_max_mb = 150 */
    unsigned max_tokens;         /* max_tokens = 50: tokens asked per prompt */
    double time_multiplier_kvm;  /* time_multiplier_kvm = 1 */
    double time_multiplier_tcg;  /* time_multiplier_tcg = 60 */
    double min_output_chars;     /* min_output_chars = 10 (the spec's len(output) > 10) */

    /* [regress] */
    unsigned regress_boots;      /* boots = 3: boots of each kernel for the boot-time median */
    double regress_boot_pct;     /* boot_pct = 5 */
    double regress_boot_floor_ms;/* boot_floor_ms = 250 */

    /* [daemon] autond */
    char listen[128];            /* listen = 127.0.0.1:8470 (host:port; "" = no TCP) */
    char socket_path[PATH_MAX];  /* socket = var/run/autond.sock ("" = no Unix socket) */
    char token_file[PATH_MAX];   /* token_file = var/autond.token (created, 0600, if missing) */
    char db_path[PATH_MAX];      /* db = var/autond.db */
    char log_file[PATH_MAX];     /* log = var/log/autond.log (without --foreground) */
    unsigned max_body_kb;        /* max_body_kb = 64 */
    unsigned max_conns;          /* max_conns = 256 */
    unsigned max_jobs;           /* max_jobs = 1: jobs at once (never two on one workspace) */
    bool retry_interrupted;      /* retry_interrupted = false */
    unsigned shutdown_grace_s;   /* shutdown_grace_s = 30 */
    bool shutdown_finish;        /* shutdown = cancel (false) | finish (true) */

    /* [notify] the ManagerAgent's webhook */
    char notify_url[512];        /* url = "" (none) */
    char notify_secret_file[PATH_MAX]; /* secret_file = "" (unsigned) */
    bool notify_stages;          /* stages = false: also an event per stage */
    unsigned notify_retries;     /* retries = 5 */
    unsigned notify_backoff_ms;  /* backoff_ms = 1000 (doubling, at most 60 s) */
    unsigned notify_timeout_ms;  /* timeout_ms = 10000 */

    /* [nightly] */
    bool nightly_enabled;        /* enabled = false */
    unsigned nightly_minute;     /* time = 02:00 (minutes after local midnight) */
    char nightly_models[1024];   /* models = "" (comma list of paths or globs under the roots) */
    char nightly_archs[128];     /* archs = x86_64 (comma list) */
};

/* The built-in defaults (those listed above), paths resolved against the
 * current directory. */
void aut_config_defaults(struct aut_config *c);

/* Defaults, then the file at path (NULL: $AUTON_CONFIG if set, else
 * etc/auton.conf when it exists, else defaults only), then the environment
 * overrides of [bridge]. Returns 0, or -1 with err naming file:line,
 * section and key. A path given explicitly that does not exist is an error. */
int aut_config_load(struct aut_config *c, const char *path, char *err, size_t errlen);

/* Applies one "section.key=value" override. Returns 0 or -1 with err. */
int aut_config_set(struct aut_config *c, const char *assignment, char *err, size_t errlen);

const char *aut_rollback_name(enum aut_rollback_policy p); /* "rule-engine", "previous" */
const char *aut_accel_pref_name(enum aut_accel_pref a);   /* "auto", "kvm", "tcg" */

#endif
