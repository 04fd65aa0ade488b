/*
 * isr.S - interrupt and exception entry stubs.
 *
 * Each stub pushes a dummy error code when the CPU pushes none, then its
 * vector, and joins trap_entry, which saves the general registers as a
 * struct trapframe (trap.h), calls trap_dispatch(tf) and returns with iretq.
 * isr_stub_table lists the stubs of vectors 0-47 for idt_init().
 */
#include "arch/x86_64/trap.h"

/* Exceptions for which the CPU pushes an error code. */
#define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || \
                      (v) == 21 || (v) == 29 || (v) == 30)

    .text
    .p2align 4
trap_entry:
    cld                             /* ring 3 may have left DF set */
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi                 /* 16-byte aligned: 22 quadwords pushed */
    call trap_dispatch
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp                  /* vector, error code */
    iretq

/* 16 bytes per stub, so the table below is computed, not listed by name. */
    .p2align 4
isr_stubs:
    .set vec, 0
    .rept IRQ_VECTOR_BASE + IRQ_COUNT
    .p2align 4
    .if !HAS_ERROR(vec)
    pushq $0
    .endif
    pushq $vec
    jmp trap_entry
    .set vec, vec + 1
    .endr

    .p2align 4
    .globl isr_spurious
isr_spurious:
    pushq $0
    pushq $VECTOR_SPURIOUS
    jmp trap_entry

    .section .rodata
    .p2align 3
    .globl isr_stub_table
isr_stub_table:
    .set vec, 0
    .rept IRQ_VECTOR_BASE + IRQ_COUNT
    .quad isr_stubs + vec * 16
    .set vec, vec + 1
    .endr

    .section .note.GNU-stack, "", @progbits
