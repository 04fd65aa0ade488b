/*
 * user.h - running functions of the user image in ring 3.
 *
 * The user image (U_SRCS in the Makefile: user/, the SLM engine) holds code
 * that runs unprivileged, with SIMD available. Its functions are marked
 * UENTRY (user/usvc.h) and declared for the kernel as code addresses
 * (`extern const char fn[];`, see user/selftest_user.h), so ring 0 cannot
 * call them by mistake. The kernel calls one like this:
 *
 *     struct user_call c = {.fn = ut_simd_dot, .args = {1024}, .timeout_ms = 1000};
 *     int rc = user_call(&c);      // 0: c.result holds the return value
 *
 * Arguments go in rdi, rsi, rdx, rcx, r8, r9 (integers and pointers; a
 * pointer must point into user memory: user data, the SLM pool or the
 * model). The function runs on the user stack with interrupts on and may be
 * preempted like any thread. It ends by returning (or with USVC_EXIT, see
 * uabi.h). A fault in ring 3 - #PF, #GP, #UD, #DE, ... - or an expired
 * deadline ends the call instead: user_call() returns -EFAULT or -ETIMEDOUT
 * with c.fault saying what happened, and the kernel carries on.
 *
 * There is one user stack, so one call at a time: a concurrent call gets
 * -EBUSY. (That also keeps one SIMD owner, so SIMD state needs no saving.)
 */
#ifndef AUTON_KERNEL_USER_H
#define AUTON_KERNEL_USER_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/trap.h"

#define USER_CALL_ARGS 6
#define USER_STACK_SIZE 0x200000ull /* one 2 MiB page */
#define USER_FAULT_TIMEOUT 256      /* user_fault.vector for an expired deadline */

struct user_fault {
    uint64_t vector; /* exception vector, or USER_FAULT_TIMEOUT */
    uint64_t error;  /* the CPU's error code, 0 if it pushes none */
    uint64_t rip;    /* where ring 3 was */
    uint64_t addr;   /* #PF only: the faulting address (CR2) */
};

struct user_call {
    const void *fn;                /* in: a UENTRY function of the user image */
    uint64_t args[USER_CALL_ARGS]; /* in */
    uint32_t timeout_ms;           /* in: 0 = no deadline */
    uint64_t result;               /* out: the return value, when user_call() == 0 */
    struct user_fault fault;       /* out: when user_call() == -EFAULT or -ETIMEDOUT */
};

/* Reserves and maps the user stack. Panics if RAM cannot hold it. */
void user_init(void);

/* Runs c->fn in ring 3. Returns 0, -EFAULT (ring-3 fault), -ETIMEDOUT,
 * -EBUSY (another call is running) or -EINVAL (fn is not user code). */
int user_call(struct user_call *c);

/* "#PF page fault at rip 0x..., address 0x... (user read, not present)". */
void user_fault_describe(const struct user_fault *f, char *buf, size_t n);

/* From trap_dispatch: a trap that came from ring 3 (a service call
 * returns; a fault ends the call and does not return). */
void user_trap(struct trapframe *tf);

/* From trap_dispatch, after an interrupt that came from ring 3: ends the
 * call (does not return) if its deadline has passed. */
void user_check_deadline(const struct trapframe *tf);

#endif
