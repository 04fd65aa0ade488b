/*
 * stage_boot.c - boot: the accelerator (KVM when it works, probed with the
 * rule-engine kernel; TCG otherwise), then the kernel with the model in QEMU
 * with a deadline, its boot log parsed as it comes, panic text kept whole,
 * the run id checked. Success is the "Shell> " prompt (and the bridge's ready
 * event with the bridge), never QEMU's exit status. The booted kernel stays
 * up for infer and regress.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "pipeline.h"
#include "vm.h"

int aut_job_pick_accel(struct aut_job *job, const char *kernel)
{
    if (job->accel[0])
        return 0;
    const struct aut_config *cfg = job->cfg;
    if (aut_vm_qemu_version(cfg->qemu_binary, job->qemu_version, sizeof job->qemu_version))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "cannot run %s --version (is QEMU "
                            "installed? make deps installs it)", cfg->qemu_binary);
    if (aut_vm_pick_accel(aut_accel_pref_name(cfg->accel), cfg->qemu_binary, kernel, cfg->qboot,
                          job->accel, job->accel_why, sizeof job->accel_why))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "accel = kvm, but %s", job->accel_why);
    bool kvm = !strcmp(job->accel, "kvm");
    job->time_mult = kvm ? cfg->time_multiplier_kvm : cfg->time_multiplier_tcg;
    cJSON *a = aut_job_section(job, "accelerator");
    cJSON_AddStringToObject(a, "name", job->accel);
    cJSON_AddStringToObject(a, "why", job->accel_why);
    cJSON_AddNumberToObject(a, "time_multiplier", job->time_mult);
    aut_job_log(job, "%s; accelerator %s%s%s (time limits x%g)", job->qemu_version, job->accel,
                job->accel_why[0] ? ": " : "", job->accel_why, job->time_mult);
    return 0;
}

static void on_console_line(void *ud, const char *line)
{
    struct aut_job *job = ud;
    if (!job->on_event)
        return;
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "job", job->id);
    cJSON_AddStringToObject(ev, "line", line);
    aut_job_event(job, "console", ev);
    cJSON_Delete(ev);
}

static void bridge_sock_path(const struct aut_job *job, char *out, size_t len)
{
    /* a Unix socket path has room for 107 bytes */
    snprintf(out, len, "%s/bridge.sock", job->report_dir);
    if (strlen(out) > 100)
        snprintf(out, len, "/tmp/auton-bridge-%s.sock", job->id);
}

int aut_job_boot_kernel(struct aut_job *job, const char *kernel, bool bridge,
                        const char *console_log, struct aut_vm **vm, struct aut_vm_boot *b)
{
    const struct aut_config *cfg = job->cfg;
    char sock[PATH_MAX + 32], err[512];
    bridge_sock_path(job, sock, sizeof sock);
    uint32_t boot_ms = aut_job_deadline_ms(job, cfg->dl_boot, true);
    uint32_t life = aut_job_deadline_ms(job, cfg->dl_boot + cfg->dl_infer + cfg->dl_regress, true);
    struct aut_vm_opts o = {
        .qemu = cfg->qemu_binary, .arch = job->arch, .kernel = kernel, .accel = job->accel,
        .memory_mb = cfg->memory_mb, .qboot = cfg->qboot, .append = cfg->append,
        .run_id = job->id, .bridge = bridge, .bridge_sock = sock,
        .bridge_timeout_ms = cfg->bridge_timeout_ms, .bridge_trace = cfg->bridge_trace,
        .console_log = console_log, .deadline_ms = life, .cancel = &job->cancel,
        .on_line = console_log ? on_console_line : NULL, .ud = job,
    };
    memset(b, 0, sizeof *b);
    *vm = NULL;
    struct aut_vm *v = NULL;
    if (aut_vm_start(&job->loop, &o, &v, err, sizeof err)) {
        snprintf(b->why, sizeof b->why, "%s", err);
        return -1;
    }
    if (aut_vm_wait_boot(v, boot_ms, b)) {
        aut_vm_free(v);
        uv_run(&job->loop, UV_RUN_NOWAIT);
        if (bridge)
            unlink(sock);
        return -1;
    }
    *vm = v;
    return 0;
}

static void record_boot(struct aut_job *job, const struct aut_vm_boot *b,
                        const struct aut_boot_info *bi)
{
    cJSON *o = aut_job_section(job, "boot");
    cJSON_AddBoolToObject(o, "ok", b->ok);
    cJSON_AddNumberToObject(o, "boot_ms", (double)b->boot_ms);
    if (bi->system_ready)
        cJSON_AddNumberToObject(o, "kernel_ready_s", bi->ready_ts);
    else
        cJSON_AddNullToObject(o, "kernel_ready_s");
    cJSON_AddBoolToObject(o, "slm_loading", bi->slm_loading);
    cJSON_AddNumberToObject(o, "model_bytes_reported", (double)bi->model_bytes);
    cJSON_AddBoolToObject(o, "neural_ready", bi->neural_ready);
    cJSON_AddNumberToObject(o, "vocab", bi->vocab);
    cJSON_AddNumberToObject(o, "ctx", bi->ctx);
    cJSON_AddBoolToObject(o, "runtime_ok", bi->runtime_ok);
    cJSON_AddBoolToObject(o, "slm_failed", bi->slm_failed);
    cJSON_AddStringToObject(o, "slm_error", bi->slm_error);
    cJSON_AddStringToObject(o, "run_id", bi->run_id);
    cJSON_AddBoolToObject(o, "panic", b->panic);
    if (b->panic_text)
        cJSON_AddStringToObject(o, "panic_text", b->panic_text);
    cJSON_AddNumberToObject(o, "console_lines", (double)bi->lines);
    cJSON_AddNumberToObject(o, "garbage_lines", (double)bi->garbage_lines);
    cJSON_AddStringToObject(o, "console_log", job->console_log);
    if (!b->ok)
        cJSON_AddStringToObject(o, "error", b->why);
}

static int boot_run(struct aut_job *job)
{
    if (!job->kernel[0])
        snprintf(job->kernel, sizeof job->kernel, "%s/kernel.elf", job->dir);
    /* standalone, boot may come before any build: no KVM probe of a missing file */
    if (access(job->kernel, R_OK))
        return aut_job_fail(job, AUT_FAIL_BOOT, "no kernel to boot: %s: %s (build it first)",
                            job->kernel, strerror(errno));
    if (!job->kernel_rule[0] || access(job->kernel_rule, R_OK))
        snprintf(job->kernel_rule, sizeof job->kernel_rule, "%s", job->kernel);
    if (aut_mkdirs(job->report_dir, 0755))
        return aut_job_fail(job, AUT_FAIL_INFRASTRUCTURE, "%s: %s", job->report_dir,
                            strerror(errno));
    if (aut_job_pick_accel(job, job->kernel_rule))
        return -1;
    snprintf(job->console_log, sizeof job->console_log, "%s/console.log", job->report_dir);
    cJSON_AddStringToObject(job->cur_stage, "log", job->console_log);
    struct aut_vm_boot b;
    int rc = aut_job_boot_kernel(job, job->kernel, job->bridge, job->console_log, &job->vm, &b);
    const struct aut_boot_info *bi = job->vm ? aut_vm_boot_info(job->vm) : NULL;
    struct aut_boot_info none = {0};
    record_boot(job, &b, bi ? bi : &none);
    if (rc) {
        enum aut_fail_class cls = strstr(b.why, "cannot start") ? AUT_FAIL_INFRASTRUCTURE
                                                                 : AUT_FAIL_BOOT;
        aut_job_fail(job, cls, "%s", b.why);
        aut_vm_boot_release(&b);
        return -1;
    }
    aut_job_log(job, "booted to the prompt in %llu ms (%s, %s)", (unsigned long long)b.boot_ms,
                job->accel, job->bridge ? "bridge ready" : "console");
    aut_vm_boot_release(&b);
    return 0;
}

const struct aut_stage aut_stage_boot = {.name = "boot", .run = boot_run};
