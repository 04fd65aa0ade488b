/*
 * pic.c - the two cascaded 8259 PICs.
 *
 * Remapped above the exception vectors and fully masked until a driver
 * registers its IRQ. They reach the CPU through the local APIC's LINT0 in
 * ExtINT mode (lapic.c), so only the PIC needs an end-of-interrupt.
 */
#include "arch/x86_64/pic.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/trap.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define PIC_EOI 0x20
#define PIC_READ_ISR 0x0b
#define CASCADE_IRQ 2

void pic_init(void)
{
    outb(PIC1_CMD, 0x11); /* ICW1: edge triggered, cascade, ICW4 follows */
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, IRQ_VECTOR_BASE); /* ICW2: vector offsets */
    outb(PIC2_DATA, IRQ_VECTOR_BASE + 8);
    outb(PIC1_DATA, 1 << CASCADE_IRQ); /* ICW3: slave on IRQ 2 */
    outb(PIC2_DATA, CASCADE_IRQ);
    outb(PIC1_DATA, 0x01); /* ICW4: 8086 mode */
    outb(PIC2_DATA, 0x01);
    outb(PIC1_DATA, (uint8_t) ~(1 << CASCADE_IRQ)); /* all masked but the cascade */
    outb(PIC2_DATA, 0xff);
}

void pic_unmask(unsigned irq)
{
    uint16_t port = irq < 8 ? PIC1_DATA : PIC2_DATA;
    outb(port, inb(port) & ~(1 << (irq & 7)));
}

void pic_eoi(unsigned irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, PIC_EOI);
    outb(PIC1_CMD, PIC_EOI);
}

static uint8_t in_service(uint16_t cmd_port)
{
    outb(cmd_port, PIC_READ_ISR);
    return inb(cmd_port);
}

bool pic_spurious(unsigned irq)
{
    if (irq == 7)
        return !(in_service(PIC1_CMD) & 0x80);
    if (irq == 15 && !(in_service(PIC2_CMD) & 0x80)) {
        outb(PIC1_CMD, PIC_EOI); /* the master did see the cascade line */
        return true;
    }
    return false;
}
