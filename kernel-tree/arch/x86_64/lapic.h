/*
 * lapic.h - the local APIC, as far as legacy interrupts need it.
 */
#ifndef AUTON_ARCH_LAPIC_H
#define AUTON_ARCH_LAPIC_H

/* Software-enables the local APIC and routes LINT0 as ExtINT, so the
 * 8259's interrupts reach the CPU ("virtual wire" mode). */
void lapic_init(void);

#endif
