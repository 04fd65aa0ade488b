/*
 * pit.h - the 8254 programmable interval timer (1.193182 MHz).
 */
#ifndef AUTON_ARCH_PIT_H
#define AUTON_ARCH_PIT_H

#include <stdint.h>

#define PIT_HZ 1193182u

/* Measures how many TSC cycles pass in ms (at most 50) milliseconds of PIT
 * time (channel 2, polled). Each end of the interval is only known to lie
 * between two TSC reads; the result runs from midpoint to midpoint, and
 * *uncertainty receives the total width of both brackets - wide when the
 * vCPU was descheduled at the wrong moment. Returns 0 if the PIT never
 * signals the end of the interval. */
uint64_t pit_measure_tsc(unsigned ms, uint64_t *uncertainty);

/* Starts channel 0 as a periodic interrupt (IRQ 0) at hz. */
void pit_start_periodic(unsigned hz);

#endif
