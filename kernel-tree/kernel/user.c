/*
 * user.c - ring-3 calls: entering, services, and containing faults.
 *
 * user_call() saves its kernel context in user_enter (usermode.S) and
 * iretq's to the function; the function's return address is the user
 * image's exit trampoline, which asks for USVC_EXIT. Every way out - exit,
 * fault, deadline - goes through finish(), which records the outcome and
 * unwinds to user_call with user_resume.
 */
#include "kernel/user.h"

#include <stdbool.h>

#include "arch/x86_64/cpu.h"
#include "kernel/errno.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/time.h"
#include "kernel/uabi.h"
#include "lib/kfmt.h"
#include "mm/memlayout.h"
#include "mm/paging.h"
#include "mm/pmm.h"

#define PF_PRESENT 0x1
#define PF_WRITE 0x2
#define PF_FETCH 0x10

uint64_t user_enter(uint64_t entry, uint64_t user_rsp, const uint64_t args[USER_CALL_ARGS],
                    uint64_t *resume_rsp);
void user_resume(uint64_t resume_rsp, uint64_t value) __attribute__((noreturn));
extern const char user_exit_trampoline[]; /* user/entry.S */

/* The call in progress (there is at most one). */
static struct {
    bool busy;
    uint64_t resume_rsp;  /* user_enter's saved kernel stack pointer */
    uint64_t deadline_ns; /* 0: none */
    int status;
    struct user_fault fault;
} active;
static uint64_t stack_top;

void user_init(void)
{
    void *stack = pmm_reserve_top(USER_STACK_SIZE, HUGE_PAGE_SIZE);
    if (!stack)
        panic("user_init: no room for the %llu KiB user stack", USER_STACK_SIZE / 1024);
    paging_map((uint64_t)stack, USER_STACK_SIZE, MAP_USER | MAP_WRITE);
    stack_top = (uint64_t)stack + USER_STACK_SIZE;
}

int user_call(struct user_call *c)
{
    uint64_t fn = (uint64_t)c->fn;
    if (fn < (uint64_t)__user_text_start || fn >= (uint64_t)__user_text_end)
        return -EINVAL;
    uint64_t flags = irq_save();
    bool busy = active.busy;
    active.busy = true;
    irq_restore(flags);
    if (busy)
        return -EBUSY;

    active.status = 0;
    active.fault = (struct user_fault){0};
    active.deadline_ns = c->timeout_ms ? time_ns() + (uint64_t)c->timeout_ms * 1000000 : 0;
    uint64_t *sp = (uint64_t *)stack_top;
    *--sp = (uint64_t)user_exit_trampoline; /* fn's return address */
    c->result = user_enter(fn, (uint64_t)sp, c->args, &active.resume_rsp);
    c->fault = active.fault;
    int status = active.status;
    active.busy = false;
    return status;
}

static void __attribute__((noreturn)) finish(int status, uint64_t value)
{
    active.status = status;
    user_resume(active.resume_rsp, value);
}

static uint64_t svc_write(uint64_t buf, uint64_t len)
{
    if (len > USVC_WRITE_MAX)
        len = USVC_WRITE_MAX;
    if (!paging_user_ok(buf, len, false))
        return (uint64_t)-EFAULT;
    console_write((const char *)buf, len);
    return len;
}

static void service(struct trapframe *tf)
{
    switch (tf->rax) {
    case USVC_EXIT:
        finish(0, tf->rdi);
    case USVC_WRITE:
        tf->rax = svc_write(tf->rdi, tf->rsi);
        break;
    case USVC_TIME:
        tf->rax = time_ns();
        break;
    default:
        tf->rax = (uint64_t)-ENOSYS;
        break;
    }
}

void user_trap(struct trapframe *tf)
{
    if (!active.busy)
        trap_panic(tf, "from ring 3 outside a user call");
    if (tf->vector == T_BREAKPOINT) {
        service(tf);
        return;
    }
    active.fault = (struct user_fault){
        .vector = tf->vector,
        .error = tf->error,
        .rip = tf->rip,
        .addr = tf->vector == T_PAGE_FAULT ? read_cr2() : 0,
    };
    finish(-EFAULT, 0);
}

void user_check_deadline(const struct trapframe *tf)
{
    if (!active.busy || !active.deadline_ns || time_ns() < active.deadline_ns)
        return;
    active.fault = (struct user_fault){.vector = USER_FAULT_TIMEOUT, .rip = tf->rip};
    finish(-ETIMEDOUT, 0);
}

void user_fault_describe(const struct user_fault *f, char *buf, size_t n)
{
    if (f->vector == USER_FAULT_TIMEOUT) {
        kfmt_snprintf(buf, n, "deadline passed at rip 0x%lx", f->rip);
    } else if (f->vector == T_PAGE_FAULT) {
        kfmt_snprintf(buf, n, "%s at rip 0x%lx, address 0x%lx (user %s, %s)", trap_name(f->vector),
                      f->rip, f->addr,
                      f->error & PF_FETCH   ? "fetch"
                      : f->error & PF_WRITE ? "write"
                                            : "read",
                      f->error & PF_PRESENT ? "protection" : "not present");
    } else {
        kfmt_snprintf(buf, n, "%s at rip 0x%lx (error 0x%lx)", trap_name(f->vector), f->rip,
                      f->error);
    }
}
