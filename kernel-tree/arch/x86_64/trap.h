/*
 * trap.h - the trap frame, vectors, and interrupt/exception dispatch.
 *
 * Every interrupt and exception enters through isr.S, which saves the
 * general registers into a struct trapframe and calls trap_dispatch().
 * Vectors 0-31 are exceptions, 32-47 the remapped 8259 IRQs, 255 the local
 * APIC's spurious vector. Vector 3 (int3) has a DPL-3 gate: it is the
 * ring-3 service trap (kernel/user.c). Constants are shared with isr.S.
 */
#ifndef AUTON_ARCH_TRAP_H
#define AUTON_ARCH_TRAP_H

#define T_DIVIDE 0
#define T_NMI 2
#define T_BREAKPOINT 3
#define T_INVALID_OP 6
#define T_DOUBLE_FAULT 8
#define T_GP 13
#define T_PAGE_FAULT 14
#define T_MACHINE_CHECK 18
#define T_EXCEPTIONS 32

#define IRQ_VECTOR_BASE 32
#define IRQ_COUNT 16
#define VECTOR_SPURIOUS 255

#ifndef __ASSEMBLY__
#include <stdbool.h>
#include <stdint.h>

/* Layout shared with isr.S: general registers in push order reversed,
 * then the vector and error code, then what the CPU pushed. */
struct trapframe {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};

static inline bool trap_from_user(const struct trapframe *tf)
{
    return (tf->cs & 3) == 3;
}

typedef void (*irq_handler_t)(void);

/* Loads the IDT: all exception vectors, the IRQs and the spurious vector. */
void idt_init(void);

/* Installs fn for 8259 line irq and unmasks it. */
void irq_register(unsigned irq, irq_handler_t fn);

/* "#PF page fault" for an exception vector, "interrupt" otherwise. */
const char *trap_name(uint64_t vector);

/* Prints KERNEL PANIC with every register in tf and halts. */
void trap_panic(const struct trapframe *tf, const char *why) __attribute__((noreturn));

/* Called from isr.S only. */
void trap_dispatch(struct trapframe *tf);

#endif /* __ASSEMBLY__ */
#endif
