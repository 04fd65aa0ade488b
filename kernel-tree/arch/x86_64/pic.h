/*
 * pic.h - the 8259 interrupt controllers (legacy IRQs 0-15).
 */
#ifndef AUTON_ARCH_PIC_H
#define AUTON_ARCH_PIC_H

#include <stdbool.h>

/* Remaps IRQs 0-15 to IRQ_VECTOR_BASE.. and masks them all. */
void pic_init(void);
void pic_unmask(unsigned irq);
void pic_eoi(unsigned irq);

/* True for a spurious IRQ 7/15 (no EOI must be sent for it to the slave). */
bool pic_spurious(unsigned irq);

#endif
