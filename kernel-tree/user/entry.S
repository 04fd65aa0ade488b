/*
 * entry.S - the user image's way back to the kernel.
 *
 * user_call() makes this the return address of every user function: the
 * function's result (rax) becomes the USVC_EXIT argument.
 */
#include "kernel/uabi.h"

    .text
    .globl user_exit_trampoline
user_exit_trampoline:
    movq %rax, %rdi
    movl $USVC_EXIT, %eax
    int3
    ud2                             /* USVC_EXIT does not return */

    .section .note.GNU-stack, "", @progbits
