/*
 * selftest.h - the kernel's built-in tests (`selftest` in the shell, or on
 * the command line: run at boot, then power off).
 *
 * A test is one line in selftest.c's table: {"name", fn}, where
 * fn(detail, n) returns 0 for PASS and writes a short detail either way.
 * Output: "SELFTEST <name>: PASS|FAIL <detail>" per test, then
 * "SELFTEST: N passed, M failed".
 */
#ifndef AUTON_KERNEL_SELFTEST_H
#define AUTON_KERNEL_SELFTEST_H

#include <stdbool.h>
#include <stddef.h>

struct selftest {
    const char *name;
    int (*fn)(char *detail, size_t n);
    bool (*applies)(void); /* NULL: always; else the test runs only when true */
};

/* Runs every test; returns the number that failed. */
int selftest_run_all(void);

/* Runs every test, reporting each to fn instead of the console; returns
 * the number that failed and sets *passed. */
int selftest_run(void (*fn)(void *ud, const char *name, bool pass, const char *detail),
                 void *ud, int *passed);

/* Thread body for `selftest` on the command line: run, then power off
 * (isa-debug-exit status 0 if all passed, 1 otherwise). */
void selftest_boot_main(void *unused);

/* The tests (selftest_core.c, selftest_mm.c, selftest_ring3.c). */
int selftest_boot(char *detail, size_t n);
int selftest_pmm(char *detail, size_t n);
int selftest_heap(char *detail, size_t n);
int selftest_sched(char *detail, size_t n);
int selftest_timer(char *detail, size_t n);
int selftest_pci(char *detail, size_t n);
int selftest_ring3(char *detail, size_t n);
/* selftest_slm.c: the rule engine always; the rest with a model up. */
int selftest_slm_rules(char *detail, size_t n);
int selftest_slm_parser(char *detail, size_t n);
int selftest_slm_tokenizer(char *detail, size_t n);
int selftest_slm_forward(char *detail, size_t n);

#endif
