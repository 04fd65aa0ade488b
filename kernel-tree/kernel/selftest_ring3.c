/*
 * selftest_ring3.c - the ring-3 selftest: SIMD math in user mode gives the
 * right answer, user-mode faults end the call and nothing else, services
 * work, and user mode still works after all that.
 */
#include <stdint.h>

#include "arch/x86_64/trap.h"
#include "kernel/errno.h"
#include "kernel/selftest.h"
#include "kernel/user.h"
#include "lib/kfmt.h"
#include "mm/memlayout.h"
#include "user/selftest_user.h"

#define CALL_TIMEOUT_MS 1000
#define SPIN_TIMEOUT_MS 50
#define DOT_N 1024
#define UNMAPPED_ADDR 0x00007ff000000000ull
#define SERVICES_ALL 7

struct expected_fault {
    const char *fn;
    const char *what;
    int rc;
    uint64_t vector;
    uint32_t timeout_ms;
};

static const struct expected_fault faults[] = {
    {ut_fault_read, "#PF unmapped", -EFAULT, T_PAGE_FAULT, CALL_TIMEOUT_MS},
    {ut_fault_read, "#PF kernel page", -EFAULT, T_PAGE_FAULT, CALL_TIMEOUT_MS},
    {ut_fault_ud, "#UD", -EFAULT, T_INVALID_OP, CALL_TIMEOUT_MS},
    {ut_fault_de, "#DE", -EFAULT, T_DIVIDE, CALL_TIMEOUT_MS},
    {ut_fault_gp, "#GP", -EFAULT, T_GP, CALL_TIMEOUT_MS},
    {ut_spin, "timeout", -ETIMEDOUT, USER_FAULT_TIMEOUT, SPIN_TIMEOUT_MS},
};

/* Runs fn(arg) in ring 3; 0 and *result on success, else a FAIL detail. */
static int call(const char *fn, uint64_t arg, uint64_t *result, char *detail, size_t n)
{
    struct user_call c = {.fn = fn, .args = {arg}, .timeout_ms = CALL_TIMEOUT_MS};
    int rc = user_call(&c);
    if (rc == 0) {
        *result = c.result;
        return 0;
    }
    char why[128];
    user_fault_describe(&c.fault, why, sizeof why);
    kfmt_snprintf(detail, n, "user call failed (%d): %s", rc, why);
    return 1;
}

static int check_simd(uint64_t *width, char *detail, size_t n)
{
    uint64_t dot, expect = 3ull * DOT_N * (DOT_N - 1) / 4;
    if (call(ut_simd_width, 0, width, detail, n) || call(ut_simd_dot, DOT_N, &dot, detail, n))
        return 1;
    if (dot != expect) {
        kfmt_snprintf(detail, n, "%lu-bit SIMD dot product = %lu, expected %lu", *width, dot,
                      expect);
        return 1;
    }
    return 0;
}

static int check_faults(char *detail, size_t n)
{
    uint64_t args[] = {UNMAPPED_ADDR, (uint64_t)__kernel_start, 0, 0, 0, 0};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        const struct expected_fault *f = &faults[i];
        struct user_call c = {.fn = f->fn, .args = {args[i]}, .timeout_ms = f->timeout_ms};
        int rc = user_call(&c);
        if (rc != f->rc || c.fault.vector != f->vector) {
            char why[128] = "returned normally";
            if (rc)
                user_fault_describe(&c.fault, why, sizeof why);
            kfmt_snprintf(detail, n, "%s not contained: rc %d, %s", f->what, rc, why);
            return 1;
        }
    }
    return 0;
}

int selftest_ring3(char *detail, size_t n)
{
    uint64_t width, services;
    if (check_simd(&width, detail, n) || check_faults(detail, n))
        return 1;
    if (call(ut_services, (uint64_t)__kernel_start, &services, detail, n))
        return 1;
    if (services != SERVICES_ALL) {
        kfmt_snprintf(detail, n, "service checks 0x%lx, expected 0x%x", services, SERVICES_ALL);
        return 1;
    }
    if (check_simd(&width, detail, n)) /* ring 3 still sound after the faults */
        return 1;
    kfmt_snprintf(detail, n,
                  "%lu-bit SIMD dot product ok; contained #PF (unmapped, kernel page), #UD, "
                  "#DE, #GP, timeout; services ok",
                  width);
    return 0;
}
