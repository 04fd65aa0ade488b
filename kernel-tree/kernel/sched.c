/*
 * sched.c - threads, run queue, sleep/wakeup.
 *
 * A thread is its kernel stack plus the saved stack pointer; switching is
 * switch_context() (arch/x86_64/switch.S), always with interrupts off. A
 * preempted thread is switched away from inside trap_dispatch, its trap
 * frame still on its stack, and returns from the interrupt when resumed.
 */
#include "kernel/sched.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "kernel/panic.h"
#include "mm/heap.h"

enum thread_state { RUNNABLE, RUNNING, SLEEPING, DEAD };

struct thread {
    uint64_t rsp; /* saved by switch_context while not running */
    enum thread_state state;
    const void *chan;        /* what a SLEEPING thread waits for */
    struct thread *run_next; /* run queue */
    struct thread *all_next; /* every thread, for wakeup */
    void *stack;             /* kmalloc'd; NULL for the idle (boot) thread */
    char name[SCHED_NAME_MAX];
};

void switch_context(uint64_t *save_rsp, uint64_t next_rsp);
extern const char thread_start[]; /* switch.S */

static struct thread idle_thread = {.state = RUNNING, .name = "idle"};
static struct thread *current = &idle_thread;
static struct thread *all_threads = &idle_thread;
static struct thread *run_head, *run_tail;
static bool slice_over;

static void enqueue(struct thread *t)
{
    t->state = RUNNABLE;
    t->run_next = NULL;
    if (run_tail)
        run_tail->run_next = t;
    else
        run_head = t;
    run_tail = t;
}

static struct thread *dequeue(void)
{
    struct thread *t = run_head;
    if (t) {
        run_head = t->run_next;
        if (!run_head)
            run_tail = NULL;
    }
    return t;
}

/* Runs the next thread in line (the idle thread if none). The caller has
 * already requeued or parked the current one. Interrupts off. */
static void schedule(void)
{
    struct thread *prev = current, *next = dequeue();
    if (!next)
        next = &idle_thread;
    next->state = RUNNING;
    slice_over = false;
    if (next == prev)
        return;
    current = next;
    switch_context(&prev->rsp, next->rsp);
}

static void requeue_current(void)
{
    if (current != &idle_thread)
        enqueue(current);
}

struct thread *sched_spawn(const char *name, void (*fn)(void *), void *arg)
{
    struct thread *t = kzalloc(sizeof *t);
    void *stack = kmalloc(SCHED_STACK_SIZE);
    if (!t || !stack) {
        kfree(t);
        kfree(stack);
        return NULL;
    }
    for (unsigned i = 0; name[i] && i < SCHED_NAME_MAX - 1; i++)
        t->name[i] = name[i];
    t->stack = stack;
    /* What switch_context pops: r15 r14 r13 r12 rbx rbp, then the return
     * address; thread_start then finds fn in r12 and arg in r13. */
    uint64_t *sp = (uint64_t *)((uint8_t *)stack + SCHED_STACK_SIZE);
    *--sp = (uint64_t)thread_start;
    *--sp = 0;             /* rbp */
    *--sp = 0;             /* rbx */
    *--sp = (uint64_t)fn;  /* r12 */
    *--sp = (uint64_t)arg; /* r13 */
    *--sp = 0;             /* r14 */
    *--sp = 0;             /* r15 */
    t->rsp = (uint64_t)sp;

    uint64_t flags = irq_save();
    t->all_next = all_threads;
    all_threads = t;
    enqueue(t);
    irq_restore(flags);
    return t;
}

void sched_join(struct thread *t)
{
    uint64_t flags = irq_save();
    while (t->state != DEAD)
        sched_sleep(t);
    struct thread **p = &all_threads;
    while (*p != t)
        p = &(*p)->all_next;
    *p = t->all_next;
    irq_restore(flags);
    kfree(t->stack);
    kfree(t);
}

void sched_exit(void)
{
    (void)irq_save(); /* for good: this thread never runs again */
    if (current == &idle_thread)
        panic("sched_exit: the idle thread cannot exit");
    current->state = DEAD;
    sched_wakeup(current);
    schedule();
    panic("sched_exit: dead thread %s resumed", current->name);
}

void sched_yield(void)
{
    uint64_t flags = irq_save();
    if (run_head) {
        requeue_current();
        schedule();
    }
    irq_restore(flags);
}

void sched_sleep(const void *chan)
{
    if (current == &idle_thread)
        panic("sched_sleep: the idle thread cannot sleep");
    current->chan = chan;
    current->state = SLEEPING;
    schedule();
    current->chan = NULL;
}

void sched_wakeup(const void *chan)
{
    uint64_t flags = irq_save();
    for (struct thread *t = all_threads; t; t = t->all_next)
        if (t->state == SLEEPING && t->chan == chan)
            enqueue(t);
    irq_restore(flags);
}

void sched_idle(void)
{
    for (;;) {
        sched_yield();
        cpu_idle();
    }
}

void sched_tick(void)
{
    slice_over = true;
}

void sched_preempt_point(void)
{
    if (run_head && (slice_over || current == &idle_thread)) {
        requeue_current();
        schedule();
    }
}

const char *sched_current_name(void)
{
    return current->name;
}
