/*
 * trap.c - the IDT, and where every interrupt and exception goes.
 *
 * IRQs run their driver's handler; traps from ring 3 belong to the user
 * task (kernel/user.c: service calls and contained faults); any other
 * exception is a kernel bug and panics with the full register state. On the
 * way out, a thread whose time slice is over is preempted.
 */
#include "arch/x86_64/trap.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/gdt.h"
#include "arch/x86_64/pic.h"
#include "kernel/panic.h"
#include "kernel/printk.h"
#include "kernel/sched.h"
#include "kernel/user.h"

struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type; /* P | DPL | 0xE (64-bit interrupt gate: IF cleared on entry) */
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
} __attribute__((packed));

struct idt_desc {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

extern const uint64_t isr_stub_table[IRQ_VECTOR_BASE + IRQ_COUNT];
extern const char isr_spurious[];

static struct idt_gate idt[256];
static irq_handler_t irq_handlers[IRQ_COUNT];

static const char *const exception_names[T_EXCEPTIONS] = {
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range exceeded",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor segment overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved (15)",
    "#MF x87 floating point",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD floating point",
    "#VE virtualization",
    "#CP control protection",
    "reserved (22)",
    "reserved (23)",
    "reserved (24)",
    "reserved (25)",
    "reserved (26)",
    "reserved (27)",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security",
    "reserved (31)",
};

static void set_gate(unsigned vector, uint64_t handler, unsigned dpl, unsigned ist)
{
    struct idt_gate *g = &idt[vector];
    g->offset_lo = handler & 0xffff;
    g->selector = GDT_KERNEL_CODE;
    g->ist = ist;
    g->type = 0x8e | (dpl << 5);
    g->offset_mid = (handler >> 16) & 0xffff;
    g->offset_hi = handler >> 32;
}

void idt_init(void)
{
    for (unsigned v = 0; v < IRQ_VECTOR_BASE + IRQ_COUNT; v++) {
        unsigned dpl = v == T_BREAKPOINT ? 3 : 0; /* int3: the ring-3 service trap */
        unsigned ist = v == T_DOUBLE_FAULT ? IST_DOUBLE_FAULT : 0;
        set_gate(v, isr_stub_table[v], dpl, ist);
    }
    set_gate(VECTOR_SPURIOUS, (uint64_t)isr_spurious, 0, 0);
    struct idt_desc desc = {sizeof idt - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(desc));
}

void irq_register(unsigned irq, irq_handler_t fn)
{
    if (irq >= IRQ_COUNT)
        panic("irq_register: bad irq %u", irq);
    irq_handlers[irq] = fn;
    pic_unmask(irq);
}

const char *trap_name(uint64_t vector)
{
    return vector < T_EXCEPTIONS ? exception_names[vector] : "interrupt";
}

static void irq_dispatch(unsigned irq)
{
    if (pic_spurious(irq))
        return;
    if (irq_handlers[irq])
        irq_handlers[irq]();
    pic_eoi(irq);
}

/* NMI, double fault and machine check are never the user task's doing. */
static bool user_may_cause(uint64_t vector)
{
    return vector < T_EXCEPTIONS && vector != T_NMI && vector != T_DOUBLE_FAULT &&
           vector != T_MACHINE_CHECK;
}

void trap_dispatch(struct trapframe *tf)
{
    uint64_t v = tf->vector;
    if (v >= IRQ_VECTOR_BASE && v < IRQ_VECTOR_BASE + IRQ_COUNT)
        irq_dispatch(v - IRQ_VECTOR_BASE);
    else if (v == VECTOR_SPURIOUS)
        return;
    else if (trap_from_user(tf) && user_may_cause(v))
        user_trap(tf); /* a service call comes back here; a fault does not */
    else
        trap_panic(tf, trap_from_user(tf) ? "in user mode" : "in kernel mode");

    if (trap_from_user(tf))
        user_check_deadline(tf);
    sched_preempt_point();
}

void trap_panic(const struct trapframe *tf, const char *why)
{
    panic_begin();
    printk("KERNEL PANIC: %s %s (thread %s)\n", trap_name(tf->vector), why, sched_current_name());
    kprintf("  vector %lu  error 0x%lx  cr2 0x%016lx\n", tf->vector, tf->error, read_cr2());
    kprintf("  rip 0x%016lx  cs 0x%lx  rflags 0x%016lx\n", tf->rip, tf->cs, tf->rflags);
    kprintf("  rsp 0x%016lx  ss 0x%lx\n", tf->rsp, tf->ss);
    kprintf("  rax 0x%016lx  rbx 0x%016lx  rcx 0x%016lx\n", tf->rax, tf->rbx, tf->rcx);
    kprintf("  rdx 0x%016lx  rsi 0x%016lx  rdi 0x%016lx\n", tf->rdx, tf->rsi, tf->rdi);
    kprintf("  rbp 0x%016lx  r8  0x%016lx  r9  0x%016lx\n", tf->rbp, tf->r8, tf->r9);
    kprintf("  r10 0x%016lx  r11 0x%016lx  r12 0x%016lx\n", tf->r10, tf->r11, tf->r12);
    kprintf("  r13 0x%016lx  r14 0x%016lx  r15 0x%016lx\n", tf->r13, tf->r14, tf->r15);
    panic_halt();
}
