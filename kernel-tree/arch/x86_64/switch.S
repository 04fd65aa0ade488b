/*
 * switch.S - kernel thread context switch (kernel/sched.c).
 *
 * Only callee-saved registers are switched: everything else was saved by
 * the C caller, or by trap_entry when the switch happens inside an
 * interrupt. Always called with interrupts disabled.
 */

/* void switch_context(uint64_t *save_rsp, uint64_t next_rsp) */
    .text
    .globl switch_context
switch_context:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

/* A new thread's first "return" from switch_context lands here, with its
 * function in %r12 and argument in %r13 (see sched_spawn). */
    .globl thread_start
thread_start:
    sti
    movq %r13, %rdi
    call *%r12
    call sched_exit

    .section .note.GNU-stack, "", @progbits
