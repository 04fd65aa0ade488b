/*
 * usermode.S - entering ring 3 and coming back (kernel/user.c).
 *
 * user_enter saves the kernel's callee-saved registers and flags on the
 * current kernel stack, points TSS.RSP0 just below them (so traps from
 * ring 3 land there without disturbing this frame) and iretq's to the user
 * function. It "returns" only when the trap handler calls user_resume with
 * the saved stack pointer - after the service exit call or a fault - which
 * unwinds the trap frames and returns the given value from user_enter.
 */
#include "arch/x86_64/gdt.h"

#define USER_RFLAGS 0x202                   /* IF set, reserved bit 1 */

/* uint64_t user_enter(uint64_t entry, uint64_t user_rsp,
 *                     const uint64_t args[6], uint64_t *resume_rsp) */
    .text
    .globl user_enter
user_enter:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushfq
    cli
    movq %rsp, (%rcx)
    movq %rdi, %r12
    movq %rsi, %r13
    movq %rdx, %r14
    movq %rsp, %rdi
    call tss_set_rsp0

    pushq $GDT_USER_DATA                    /* ss */
    pushq %r13                              /* rsp */
    pushq $USER_RFLAGS                      /* rflags */
    pushq $GDT_USER_CODE                    /* cs */
    pushq %r12                              /* rip */
    movq 0(%r14), %rdi
    movq 8(%r14), %rsi
    movq 16(%r14), %rdx
    movq 24(%r14), %rcx
    movq 32(%r14), %r8
    movq 40(%r14), %r9
    xorl %eax, %eax                         /* no kernel values leak to ring 3 */
    xorl %ebx, %ebx
    xorl %ebp, %ebp
    xorl %r10d, %r10d
    xorl %r11d, %r11d
    xorl %r12d, %r12d
    xorl %r13d, %r13d
    xorl %r14d, %r14d
    xorl %r15d, %r15d
    iretq

/* void user_resume(uint64_t resume_rsp, uint64_t value) - never returns */
    .globl user_resume
user_resume:
    movq %rdi, %rsp
    movq %rsi, %rax
    popfq
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

    .section .note.GNU-stack, "", @progbits
