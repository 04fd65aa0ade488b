/*
 * selftest.c - the selftest table and runner.
 */
#include "kernel/selftest.h"

#include "kernel/power.h"
#include "kernel/printk.h"

#define DETAIL_MAX 256

static const struct selftest tests[] = {
    {"boot", selftest_boot},   {"pmm", selftest_pmm},     {"heap", selftest_heap},
    {"sched", selftest_sched}, {"timer", selftest_timer}, {"pci", selftest_pci},
    {"ring3", selftest_ring3},
};

int selftest_run_all(void)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        char detail[DETAIL_MAX] = "";
        int rc = tests[i].fn(detail, sizeof detail);
        kprintf("SELFTEST %s: %s %s\n", tests[i].name, rc == 0 ? "PASS" : "FAIL", detail);
        if (rc == 0)
            passed++;
        else
            failed++;
    }
    kprintf("SELFTEST: %d passed, %d failed\n", passed, failed);
    return failed;
}

void selftest_boot_main(void *unused)
{
    (void)unused;
    int failed = selftest_run_all();
    power_off(failed ? POWER_EXIT_TEST_FAILED : POWER_EXIT_OK);
}
