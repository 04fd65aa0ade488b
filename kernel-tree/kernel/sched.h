/*
 * sched.h - kernel threads and the preemptive round-robin scheduler.
 *
 * Every thread gets a time slice of one timer tick; a thread that sleeps
 * (on a "channel": any address it waits for) leaves the run queue until
 * someone wakes that channel. The boot flow becomes the idle thread, which
 * runs only when nothing else can. One CPU: disabling interrupts is the
 * kernel's lock.
 */
#ifndef AUTON_KERNEL_SCHED_H
#define AUTON_KERNEL_SCHED_H

#define SCHED_STACK_SIZE 16384
#define SCHED_NAME_MAX 16

struct thread;

/* Starts a thread running fn(arg) on its own stack; it ends when fn returns
 * or calls sched_exit(). Returns NULL when out of memory. A thread that ends
 * must be joined (that frees it). */
struct thread *sched_spawn(const char *name, void (*fn)(void *), void *arg);

/* Waits for t to end and frees it. */
void sched_join(struct thread *t);

void sched_exit(void) __attribute__((noreturn));

/* Gives the CPU to the next runnable thread, if any. */
void sched_yield(void);

/* Call with interrupts disabled (irq_save); returns with them still
 * disabled, after sched_wakeup(chan). Callers re-check their condition. */
void sched_sleep(const void *chan);

/* Makes every thread sleeping on chan runnable. Safe in interrupt handlers. */
void sched_wakeup(const void *chan);

/* The boot flow's last call: become the idle thread. */
void sched_idle(void) __attribute__((noreturn));

/* From the timer interrupt: the running thread's slice is over. */
void sched_tick(void);

/* From the end of every trap: switches threads if the slice is over or
 * the idle thread has work waiting. */
void sched_preempt_point(void);

const char *sched_current_name(void);

#endif
