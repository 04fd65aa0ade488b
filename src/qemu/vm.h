/*
 * vm.h - one AUTON kernel running in QEMU, driven by the pipeline: the QEMU
 * command line per architecture and accelerator, KVM detection, the boot
 * (console parsing, panic detection, the run id, the bridge's ready event),
 * console commands, SLM queries through the bridge or the console, the
 * selftests, and a clean power-off.
 *
 * Everything runs on the caller's libuv loop, on its thread; the blocking
 * calls below run that loop themselves until their answer or deadline (never
 * call them from a callback of the same loop). QEMU always runs with a
 * deadline (opts.deadline_ms) and in its own process group; aut_vm_free kills
 * it if it is still running.
 *
 * Success of a boot is never QEMU's exit status (a triple fault exits 0):
 * only the "Shell> " prompt and, with the bridge, its "ready" event are.
 */
#ifndef AUTON_QEMU_VM_H
#define AUTON_QEMU_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "console.h"
#include "process.h"

struct aut_vm;

struct aut_vm_opts {
    const char *qemu;        /* the QEMU binary; NULL: qemu-system-x86_64 */
    const char *arch;        /* "x86_64" (the only one so far) */
    const char *kernel;      /* kernel.elf */
    const char *accel;       /* "kvm" or "tcg" */
    unsigned memory_mb;      /* 0: 512 */
    const char *qboot;       /* firmware for KVM (-bios), NULL or "": QEMU's default */
    const char *append;      /* extra kernel command line, may be NULL */
    const char *run_id;      /* passed as auton.run_id= and checked on the console and bridge */
    bool bridge;             /* COM2 on a Unix socket, auton.bridge=1 */
    const char *bridge_sock; /* the socket path (required with bridge) */
    uint32_t bridge_timeout_ms; /* per-call host deadline; 0: the bridge's default */
    bool bridge_trace;
    const char *console_log; /* COM1 transcript and QEMU's stderr appended here; may be NULL */
    uint32_t deadline_ms;    /* QEMU's whole life; required (> 0) */
    struct aut_cancel *cancel; /* may be NULL */
    /* Each complete console line as it arrives (may be NULL). */
    void (*on_line)(void *ud, const char *line);
    void *ud;
};

/* The QEMU argv for o (NULL-terminated, malloc'ed strings; free with
 * aut_vm_argv_free). Returns NULL for an unsupported arch or accel. */
char **aut_vm_argv(const struct aut_vm_opts *o);
void aut_vm_argv_free(char **argv);

/* The boot's outcome. */
struct aut_vm_boot {
    bool ok;                 /* prompt seen (and bridge ready with the bridge) */
    char why[512];           /* when !ok: "kernel panic: ...", "QEMU exited (exit 3) before the
                                prompt", "no prompt within 10000 ms", "run id mismatch: ..." */
    uint64_t boot_ms;        /* QEMU start (after the bridge connected) to the prompt */
    double kernel_ready_s;   /* the "Init: System ready" timestamp, -1 if none */
    bool panic;
    char *panic_text;        /* malloc'ed, NULL without a panic */
    bool exited;
    struct aut_proc_result exit;
};

/* Starts QEMU (and, with the bridge, connects to its socket: QEMU waits for
 * that connection before running the guest). Returns 0 and *out, or
 * negative with err set. */
int aut_vm_start(uv_loop_t *loop, const struct aut_vm_opts *o, struct aut_vm **out, char *err,
                 size_t errlen);

/* Waits up to timeout_ms for the boot to finish (see above) or fail. Fills
 * *b (release with aut_vm_boot_release). Returns 0 when b->ok. */
int aut_vm_wait_boot(struct aut_vm *vm, uint32_t timeout_ms, struct aut_vm_boot *b);
void aut_vm_boot_release(struct aut_vm_boot *b);

const struct aut_boot_info *aut_vm_boot_info(const struct aut_vm *vm);
struct aut_console *aut_vm_console(struct aut_vm *vm);
bool aut_vm_bridge_on(const struct aut_vm *vm);
struct aut_bridge *aut_vm_bridge(struct aut_vm *vm);

/* Types line at the console and returns what the shell printed before the
 * next prompt (echo excluded), malloc'ed in *out. Returns 0, -ETIMEDOUT,
 * -EPIPE (QEMU exited), or -ECANCELED; err says which. */
int aut_vm_command(struct aut_vm *vm, const char *line, uint32_t timeout_ms, char **out,
                   char *err, size_t errlen);

/* One SLM query through the bridge (slm.query) when it is on, else the
 * console (slm query -n N "..."). Quotes in prompt are refused on the console
 * path (-EINVAL). Returns 0 with *r filled (release with
 * aut_query_result_release), or negative with err set. */
int aut_vm_query(struct aut_vm *vm, const char *prompt, unsigned max_tokens, uint32_t timeout_ms,
                 struct aut_query_result *r, char *err, size_t errlen);

/* Runs the kernel selftests (selftest.run, or `selftest` at the console). */
int aut_vm_selftest(struct aut_vm *vm, uint32_t timeout_ms, struct aut_selftest_result *r,
                    char *err, size_t errlen);

/* Asks the kernel to power off (power.off, or `poweroff`) and waits for QEMU
 * to exit. Returns 0 when it exited with the power-off status, else negative
 * with err set. */
int aut_vm_poweroff(struct aut_vm *vm, uint32_t timeout_ms, char *err, size_t errlen);

/* Kills QEMU if it still runs, closes the bridge, frees vm. Handles close
 * asynchronously: run the loop once more before uv_loop_close. */
void aut_vm_free(struct aut_vm *vm);

/* "qemu-system-x86_64 7.2.x ..." (the first line of --version) into buf.
 * Returns 0 or negative. */
int aut_vm_qemu_version(const char *qemu, char *buf, size_t len);

/* Decides the accelerator for pref ("auto", "kvm", "tcg"): "auto" uses KVM
 * when /dev/kvm opens read-write and a probe boot of kernel reaches the
 * prompt under KVM, else TCG. Writes "kvm" or "tcg" to accel and, when KVM
 * was not used, why (e.g. "/dev/kvm: Permission denied"). Returns 0, or
 * negative when pref is "kvm" and KVM is unusable (why says it). */
int aut_vm_pick_accel(const char *pref, const char *qemu, const char *kernel, const char *qboot,
                      char accel[8], char *why, size_t whylen);

#endif
