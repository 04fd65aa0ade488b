/*
 * test_config.c - etc/auton.conf: the built-in defaults, the shipped file
 * loading to exactly those defaults, every value type accepted and refused
 * with the exact message (file:line, section, key, value), unknown keys and
 * sections, syntax errors, -o overrides, the [bridge] environment winning
 * over the file, $AUTON_CONFIG, and relative paths made absolute.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fsutil.h"

struct fx {
    char cwd[PATH_MAX]; /* where the test started (the repository root) */
    char dir[64];       /* a fresh temporary directory */
    char file[128];     /* dir/auton.conf */
    char err[1024];
    char want[1024];
    struct aut_config c, d;
};

static void clear_env(void)
{
    unsetenv("AUTON_CONFIG");
    unsetenv("AUTON_KERNEL_BRIDGE");
    unsetenv("AUTON_KERNEL_BRIDGE_TIMEOUT_MS");
    unsetenv("AUTON_KERNEL_BRIDGE_TRACE");
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_non_null(getcwd(f->cwd, sizeof f->cwd));
    strcpy(f->dir, "/tmp/test_config.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->file, sizeof f->file, "%s/auton.conf", f->dir);
    clear_env();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    assert_int_equal(chdir(f->cwd), 0);
    assert_int_equal(aut_rmtree(f->dir), 0);
    clear_env();
    free(f);
    return 0;
}

/* Writes text as the config file and loads it into f->c. */
static int load_text(struct fx *f, const char *text)
{
    assert_int_equal(aut_write_file(f->file, text, strlen(text), NULL, 0), 0);
    f->err[0] = '\0';
    return aut_config_load(&f->c, f->file, f->err, sizeof f->err);
}

/* Loads text, expecting the error "<file>:<line>: <rest>". */
static void assert_load_error(struct fx *f, const char *text, int line, const char *rest)
{
    assert_int_equal(load_text(f, text), -1);
    snprintf(f->want, sizeof f->want, "%s:%d: %s", f->file, line, rest);
    assert_string_equal(f->err, f->want);
}

/* cwd + "/" + rel */
static const char *abs_of(struct fx *f, const char *rel)
{
    static char buf[2 * PATH_MAX];
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(buf, sizeof buf, "%s/%s", cwd, rel);
    return buf;
}

static void defaults_are_the_documented_values(void **state)
{
    struct fx *f = *state;
    struct aut_config *c = &f->c;
    aut_config_defaults(c);
    assert_string_equal(c->path, "");
    assert_string_equal(c->ws_root, abs_of(f, "var/kernels"));
    assert_string_equal(c->ws_worktrees, abs_of(f, "var/worktrees"));
    assert_string_equal(c->kernel_tree, abs_of(f, "kernel-tree"));
    assert_false(c->commit_model_blob);
    assert_string_equal(c->author_name, "AUTON integrator");
    assert_string_equal(c->author_email, "integrator@auton.invalid");
    assert_string_equal(c->model_store, abs_of(f, "var/models"));
    assert_int_equal(c->n_model_roots, 1);
    assert_string_equal(c->model_roots[0], abs_of(f, "models/exports"));
    assert_int_equal(c->max_model_mb, 1024);
    assert_int_equal(c->rollback, AUT_ROLLBACK_RULE_ENGINE);
    assert_true(c->fallback);
    assert_int_equal(c->retries, 1);
    assert_string_equal(c->prompts, abs_of(f, "tests/prompts/default.json"));
    assert_string_equal(c->reports, abs_of(f, "reports"));
    assert_int_equal(c->keep_reports, 100);
    unsigned dl[] = {c->dl_fetch, c->dl_verify, c->dl_stage,   c->dl_build,
                     c->dl_boot,  c->dl_infer,  c->dl_regress, c->dl_commit};
    unsigned want_dl[] = {300, 60, 60, 900, 60, 600, 600, 120};
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(dl[i], want_dl[i]);
    assert_int_equal(c->build_jobs, 0);
    assert_string_equal(c->make_args, "");
    assert_string_equal(c->qemu_binary, "qemu-system-x86_64");
    assert_int_equal(c->accel, AUT_ACCEL_AUTO);
    assert_int_equal(c->memory_mb, 512);
    assert_string_equal(c->qboot, "/usr/share/qemu/qboot.rom");
    assert_string_equal(c->append, "");
    assert_true(c->bridge_enabled);
    assert_int_equal(c->bridge_timeout_ms, 300000);
    assert_false(c->bridge_trace);
    assert_true(c->size_tolerance_pct == 5 && c->boot_max_s == 10 && c->latency_max_s == 5);
    assert_int_equal(c->latency_tokens, 50);
    assert_true(c->pool_peak_max_mb == 150);
    assert_int_equal(c->max_tokens, 50);
    assert_true(c->time_multiplier_kvm == 1 && c->time_multiplier_tcg == 60);
    assert_true(c->min_output_chars == 10);
    assert_int_equal(c->regress_boots, 3);
    assert_true(c->regress_boot_pct == 5 && c->regress_boot_floor_ms == 250);
    assert_string_equal(c->listen, "127.0.0.1:8470");
    assert_string_equal(c->socket_path, abs_of(f, "var/run/autond.sock"));
    assert_string_equal(c->token_file, abs_of(f, "var/autond.token"));
    assert_string_equal(c->db_path, abs_of(f, "var/autond.db"));
    assert_string_equal(c->log_file, abs_of(f, "var/log/autond.log"));
    assert_int_equal(c->max_body_kb, 64);
    assert_int_equal(c->max_conns, 256);
    assert_int_equal(c->max_jobs, 1);
    assert_false(c->retry_interrupted);
    assert_int_equal(c->shutdown_grace_s, 30);
    assert_false(c->shutdown_finish);
    assert_string_equal(c->notify_url, "");
    assert_string_equal(c->notify_secret_file, "");
    assert_false(c->notify_stages);
    assert_int_equal(c->notify_retries, 5);
    assert_int_equal(c->notify_backoff_ms, 1000);
    assert_int_equal(c->notify_timeout_ms, 10000);
    assert_false(c->nightly_enabled);
    assert_int_equal(c->nightly_minute, 120);
    assert_string_equal(c->nightly_models, "");
    assert_string_equal(c->nightly_archs, "x86_64");
    assert_string_equal(aut_rollback_name(AUT_ROLLBACK_PREVIOUS), "previous");
    assert_string_equal(aut_rollback_name(c->rollback), "rule-engine");
    assert_string_equal(aut_accel_pref_name(AUT_ACCEL_TCG), "tcg");
    assert_string_equal(aut_accel_pref_name(c->accel), "auto");
}

static void shipped_file_loads_to_the_defaults(void **state)
{
    struct fx *f = *state;
    char want[PATH_MAX + 32];
    assert_int_equal(aut_config_load(&f->c, "etc/auton.conf", f->err, sizeof f->err), 0);
    snprintf(want, sizeof want, "%s/etc/auton.conf", f->cwd);
    assert_string_equal(f->c.path, want);
    aut_config_defaults(&f->d);
    memset(f->c.path, 0, sizeof f->c.path);
    assert_memory_equal(&f->c, &f->d, sizeof f->c);

    /* NULL finds etc/auton.conf in the current directory */
    assert_int_equal(aut_config_load(&f->c, NULL, f->err, sizeof f->err), 0);
    assert_string_equal(f->c.path, want);
}

static void booleans_integers_and_numbers(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load_text(f, "[workspace]\ncommit_model_blob = YES\n[bridge]\ntrace = on\n"
                                  "enabled = off\ntimeout_ms = 3600000\n[models]\n"
                                  "max_model_mb = 5000000 ; inline comment\n[validate]\n"
                                  "boot_max_s = 2.5\nsize_tolerance_pct = 0\n"),
                     -1);
    snprintf(f->want, sizeof f->want,
             "%s:8: [models] max_model_mb: expected an integer in 1..1048576, got '5000000'",
             f->file);
    assert_string_equal(f->err, f->want);

    assert_int_equal(load_text(f, "[workspace]\ncommit_model_blob = YES\n[bridge]\ntrace = on\n"
                                  "enabled = off\ntimeout_ms = 3600000\n[models]\n"
                                  "max_model_mb = 4096 ; inline comment\n[validate]\n"
                                  "boot_max_s = 2.5\nsize_tolerance_pct = 0\n"),
                     0);
    assert_true(f->c.commit_model_blob && f->c.bridge_trace && !f->c.bridge_enabled);
    assert_int_equal(f->c.bridge_timeout_ms, 3600000);
    assert_int_equal(f->c.max_model_mb, 4096);
    assert_true(f->c.boot_max_s == 2.5 && f->c.size_tolerance_pct == 0);

    assert_load_error(f, "; comment\n\n[bridge]\ntrace = maybe\n", 4,
                      "[bridge] trace: expected a boolean (1/0, true/false, yes/no, on/off), "
                      "got 'maybe'");
    const char *bad_uint[] = {"0", "-5", "+5", "12abc", "3600001", "99999999999999999999", ""};
    for (size_t i = 0; i < sizeof bad_uint / sizeof *bad_uint; i++) {
        char text[128], rest[256];
        snprintf(text, sizeof text, "[bridge]\ntimeout_ms = %s\n", bad_uint[i]);
        snprintf(rest, sizeof rest,
                 "[bridge] timeout_ms: expected an integer in 1..3600000, got '%s'", bad_uint[i]);
        assert_load_error(f, text, 2, rest);
    }
    assert_load_error(f, "[validate]\nboot_max_s = ten\n", 2,
                      "[validate] boot_max_s: expected a number > 0, got 'ten'");
    const char *bad_pos[] = {"0", "-1", "nan", "inf", "1e999", "1.5s"};
    for (size_t i = 0; i < sizeof bad_pos / sizeof *bad_pos; i++) {
        char text[128], rest[256];
        snprintf(text, sizeof text, "[validate]\n\n\nlatency_max_s = %s\n", bad_pos[i]);
        snprintf(rest, sizeof rest, "[validate] latency_max_s: expected a number > 0, got '%s'",
                 bad_pos[i]);
        assert_load_error(f, text, 4, rest);
    }
    assert_load_error(f, "[regress]\nboot_pct = -0.5\n", 2,
                      "[regress] boot_pct: expected a number >= 0, got '-0.5'");
}

static void strings_choices_and_quotes(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load_text(f, "[build]\nmake_args = V=1 -k\n[qemu]\nappend = \"\"\n"
                                  "accel = tcg\n[pipeline]\nrollback = previous\nfallback = off\n"
                                  "[workspace]\nauthor_name = \"  Ada  \"\n"),
                     0);
    assert_string_equal(f->c.make_args, "V=1 -k");
    assert_string_equal(f->c.append, "");
    assert_int_equal(f->c.accel, AUT_ACCEL_TCG);
    assert_int_equal(f->c.rollback, AUT_ROLLBACK_PREVIOUS);
    assert_false(f->c.fallback);
    assert_string_equal(f->c.author_name, "  Ada  ");

    assert_load_error(f, "[pipeline]\nrollback = never\n", 2,
                      "[pipeline] rollback: expected rule-engine or previous, got 'never'");
    assert_load_error(f, "[pipeline]\nfallback = on\n", 2,
                      "[pipeline] fallback: expected auto or off, got 'on'");
    assert_int_equal(load_text(f, "[nightly]\ntime = 23:59\n[daemon]\nshutdown = finish\n"), 0);
    assert_int_equal(f->c.nightly_minute, 23 * 60 + 59);
    assert_true(f->c.shutdown_finish);
    const char *bad_times[] = {"24:00", "2:00", "02:60", "0200", "02:00x", "ab:cd", ""};
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        char t[64], r[160];
        snprintf(t, sizeof t, "[nightly]\ntime = %s\n", bad_times[i]);
        snprintf(r, sizeof r,
                 "[nightly] time: expected a time of day HH:MM (00:00..23:59), got '%s'",
                 bad_times[i]);
        assert_load_error(f, t, 2, r);
    }
    assert_load_error(f, "[qemu]\naccel = hvf\n", 2,
                      "[qemu] accel: expected auto, kvm or tcg, got 'hvf'");
    assert_load_error(f, "[workspace]\nauthor_email = \"\"\n", 2,
                      "[workspace] author_email: expected a non-empty string, got '\"\"'");
    char text[256], rest[512], big[151];
    memset(big, 'x', 150);
    big[150] = '\0';
    snprintf(text, sizeof text, "[workspace]\nauthor_name = %s\n", big);
    snprintf(rest, sizeof rest,
             "[workspace] author_name: expected at most 127 characters, got '%s'", big);
    assert_load_error(f, text, 2, rest);
}

static void paths_are_made_absolute(void **state)
{
    struct fx *f = *state;
    char want[PATH_MAX];
    assert_int_equal(chdir(f->dir), 0);
    assert_int_equal(load_text(f, "[workspace]\nroot = ./a//b/./c/\nworktrees = /x//y/../z/\n"
                                  "kernel_tree = .\n[qemu]\nqboot = \"\"\nbinary = bin/qemu\n"
                                  "[models]\nroots = one, /two/ ,three/four\n"),
                     0);
    assert_string_equal(f->c.ws_root, abs_of(f, "a/b/c"));
    assert_string_equal(f->c.ws_worktrees, "/x/y/../z");
    assert_non_null(getcwd(want, sizeof want));
    assert_string_equal(f->c.kernel_tree, want);
    assert_string_equal(f->c.qboot, "");
    assert_string_equal(f->c.qemu_binary, abs_of(f, "bin/qemu"));
    assert_int_equal(f->c.n_model_roots, 3);
    assert_string_equal(f->c.model_roots[0], abs_of(f, "one"));
    assert_string_equal(f->c.model_roots[1], "/two");
    assert_string_equal(f->c.model_roots[2], abs_of(f, "three/four"));
    /* defaults resolve against the current directory too */
    assert_string_equal(f->c.model_store, abs_of(f, "var/models"));
    assert_string_equal(f->c.path, f->file);

    assert_int_equal(load_text(f, "[models]\nroots =\n"), 0);
    assert_int_equal(f->c.n_model_roots, 0);
    assert_load_error(f, "[workspace]\nroot =\n", 2, "[workspace] root: expected a path, got ''");
    assert_load_error(f, "[models]\nroots = a,,b\n", 2,
                      "[models] roots: expected a comma-separated list of at most 8 paths, "
                      "got 'a,,b'");
    assert_load_error(f, "[models]\nroots = a,b,c,d,e,f,g,h,i\n", 2,
                      "[models] roots: expected a comma-separated list of at most 8 paths, "
                      "got 'a,b,c,d,e,f,g,h,i'");
}

static void unknown_keys_and_syntax_errors(void **state)
{
    struct fx *f = *state;
    assert_load_error(f, "[validate]\nboot_max_s = 3\nbootmax_s = 1\n", 3,
                      "unknown key [validate] bootmax_s");
    assert_load_error(f, "[bridge]\n[nosuch]\nx = 1\n", 3,
                      "unknown key [nosuch] x (no section [nosuch])");
    assert_load_error(f, "enabled = 1\n", 1, "unknown key enabled (outside any [section])");
    assert_load_error(f, "[bridge\nenabled = 1\n", 1, "expected [section] or key = value");
    assert_load_error(f, "[bridge]\n\njust words\n", 3, "expected [section] or key = value");
    /* the first error wins, whichever kind */
    assert_load_error(f, "[bridge]\ntrace = 2\nwords\n", 2,
                      "[bridge] trace: expected a boolean (1/0, true/false, yes/no, on/off), "
                      "got '2'");
    assert_load_error(f, "[bridge]\nwords\ntrace = 2\n", 2, "expected [section] or key = value");

    char text[512];
    memset(text, ';', sizeof text);
    memcpy(text, "[bridge]\n", 9);
    memcpy(text + 300, "\ntrace = 1\n", 12);
    assert_load_error(f, text, 2, "line longer than 198 characters");

    /* a failed load leaves the struct as it was */
    memset(&f->c, 0x5a, sizeof f->c);
    memcpy(&f->d, &f->c, sizeof f->c);
    assert_int_equal(aut_config_load(&f->c, "/nonexistent/auton.conf", f->err, sizeof f->err), -1);
    assert_string_equal(f->err, "open /nonexistent/auton.conf: No such file or directory");
    assert_memory_equal(&f->c, &f->d, sizeof f->c);
}

static void overrides_use_the_same_checks(void **state)
{
    struct fx *f = *state;
    struct aut_config *c = &f->c;
    aut_config_defaults(c);
    assert_int_equal(aut_config_set(c, "validate.boot_max_s=2.5", f->err, sizeof f->err), 0);
    assert_true(c->boot_max_s == 2.5);
    assert_int_equal(aut_config_set(c, " qemu.accel = kvm ", f->err, sizeof f->err), 0);
    assert_int_equal(c->accel, AUT_ACCEL_KVM);
    assert_int_equal(aut_config_set(c, "build.make_args=V=1", f->err, sizeof f->err), 0);
    assert_string_equal(c->make_args, "V=1");
    assert_int_equal(aut_config_set(c, "pipeline.reports=out/r", f->err, sizeof f->err), 0);
    assert_string_equal(c->reports, abs_of(f, "out/r"));

    assert_int_equal(aut_config_set(c, "validate.boot_max_s=ten", f->err, sizeof f->err), -1);
    assert_string_equal(f->err, "-o validate.boot_max_s: expected a number > 0, got 'ten'");
    assert_true(c->boot_max_s == 2.5);
    assert_int_equal(aut_config_set(c, "validate.bootmax_s=1", f->err, sizeof f->err), -1);
    assert_string_equal(f->err, "-o validate.bootmax_s: unknown key");
    assert_int_equal(aut_config_set(c, "boot_max_s=1", f->err, sizeof f->err), -1);
    assert_string_equal(f->err, "-o boot_max_s=1: expected section.key=value");
    assert_int_equal(aut_config_set(c, "validate.boot_max_s", f->err, sizeof f->err), -1);
    assert_string_equal(f->err, "-o validate.boot_max_s: expected section.key=value");
    assert_int_equal(aut_config_set(c, "models.roots=a,,b", f->err, sizeof f->err), -1);
    assert_string_equal(f->err, "-o models.roots: expected a comma-separated list of at most 8 "
                                "paths, got 'a,,b'");
    assert_int_equal(c->n_model_roots, 1);
}

static void bridge_environment_wins_over_the_file(void **state)
{
    struct fx *f = *state;
    const char *text = "[bridge]\nenabled = 1\ntimeout_ms = 5000\ntrace = 1\n";
    setenv("AUTON_KERNEL_BRIDGE", "0", 1);
    setenv("AUTON_KERNEL_BRIDGE_TIMEOUT_MS", "1234", 1);
    setenv("AUTON_KERNEL_BRIDGE_TRACE", "0", 1);
    assert_int_equal(load_text(f, text), 0);
    assert_false(f->c.bridge_enabled);
    assert_int_equal(f->c.bridge_timeout_ms, 1234);
    assert_false(f->c.bridge_trace);

    const char *ignored[] = {"0", "3600001", "12x", "-1", ""};
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++) {
        setenv("AUTON_KERNEL_BRIDGE_TIMEOUT_MS", ignored[i], 1);
        assert_int_equal(load_text(f, text), 0);
        assert_int_equal(f->c.bridge_timeout_ms, 5000);
    }
    assert_int_equal(load_text(f, "[bridge]\nenabled = 0\n"), 0);
    assert_false(f->c.bridge_enabled);
    setenv("AUTON_KERNEL_BRIDGE", "yes", 1);
    setenv("AUTON_KERNEL_BRIDGE_TRACE", "1", 1);
    assert_int_equal(load_text(f, "[bridge]\nenabled = 0\n"), 0);
    assert_true(f->c.bridge_enabled && f->c.bridge_trace);
    clear_env();
    assert_int_equal(load_text(f, "[bridge]\nenabled = 0\n"), 0);
    assert_false(f->c.bridge_enabled || f->c.bridge_trace);
}

static void auton_config_names_the_file(void **state)
{
    struct fx *f = *state;
    assert_int_equal(aut_write_file(f->file, "[build]\njobs = 7\n", 16, NULL, 0), 0);
    setenv("AUTON_CONFIG", f->file, 1);
    assert_int_equal(aut_config_load(&f->c, NULL, f->err, sizeof f->err), 0);
    assert_int_equal(f->c.build_jobs, 7);
    assert_string_equal(f->c.path, f->file);

    setenv("AUTON_CONFIG", "/nonexistent/x.conf", 1);
    assert_int_equal(aut_config_load(&f->c, NULL, f->err, sizeof f->err), -1);
    assert_string_equal(f->err, "open /nonexistent/x.conf: No such file or directory");

    /* no $AUTON_CONFIG and no etc/auton.conf here: the defaults */
    unsetenv("AUTON_CONFIG");
    assert_int_equal(chdir(f->dir), 0);
    assert_int_equal(aut_config_load(&f->c, NULL, f->err, sizeof f->err), 0);
    assert_string_equal(f->c.path, "");
    assert_int_equal(f->c.build_jobs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(defaults_are_the_documented_values, setup, teardown),
        cmocka_unit_test_setup_teardown(shipped_file_loads_to_the_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(booleans_integers_and_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(strings_choices_and_quotes, setup, teardown),
        cmocka_unit_test_setup_teardown(paths_are_made_absolute, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_keys_and_syntax_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(overrides_use_the_same_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(bridge_environment_wins_over_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(auton_config_names_the_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
