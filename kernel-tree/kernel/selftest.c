/*
 * selftest.c - the selftest table and runner.
 */
#include "kernel/selftest.h"

#include "kernel/power.h"
#include "kernel/printk.h"
#include "kernel/slm/slm.h"

#define DETAIL_MAX 256

static const struct selftest tests[] = {
    {"boot", selftest_boot, NULL},
    {"pmm", selftest_pmm, NULL},
    {"heap", selftest_heap, NULL},
    {"sched", selftest_sched, NULL},
    {"timer", selftest_timer, NULL},
    {"pci", selftest_pci, NULL},
    {"ring3", selftest_ring3, NULL},
    {"slm_rules", selftest_slm_rules, NULL},
    {"slm_parser", selftest_slm_parser, slm_neural_ready},
    {"slm_tokenizer", selftest_slm_tokenizer, slm_neural_ready},
    {"slm_forward", selftest_slm_forward, slm_neural_ready},
};

int selftest_run(void (*fn)(void *ud, const char *name, bool pass, const char *detail),
                 void *ud, int *passed)
{
    int failed = 0;
    *passed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (tests[i].applies && !tests[i].applies())
            continue;
        char detail[DETAIL_MAX] = "";
        int rc = tests[i].fn(detail, sizeof detail);
        fn(ud, tests[i].name, rc == 0, detail);
        if (rc == 0)
            (*passed)++;
        else
            failed++;
    }
    return failed;
}

static void print_result(void *ud, const char *name, bool pass, const char *detail)
{
    (void)ud;
    kprintf("SELFTEST %s: %s %s\n", name, pass ? "PASS" : "FAIL", detail);
}

int selftest_run_all(void)
{
    int passed;
    int failed = selftest_run(print_result, NULL, &passed);
    kprintf("SELFTEST: %d passed, %d failed\n", passed, failed);
    return failed;
}

void selftest_boot_main(void *unused)
{
    (void)unused;
    int failed = selftest_run_all();
    power_off(failed ? POWER_EXIT_TEST_FAILED : POWER_EXIT_OK);
}
