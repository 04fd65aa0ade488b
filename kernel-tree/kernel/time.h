/*
 * time.h - the boot clock (TSC, calibrated against the PIT) and the
 * periodic timer tick that drives preemption.
 */
#ifndef AUTON_KERNEL_TIME_H
#define AUTON_KERNEL_TIME_H

#include <stdint.h>

/* Each tick costs ring 3 ~2.5 ms under these machines' nested KVM (the
 * interrupt, the EOI exits, the ring-0 path): measured on the medium model,
 * in-kernel generation ran at 125 tok/s with 100 Hz and 168 tok/s with a
 * slower tick (host engine ~175). 20 Hz is the slowest the PIT's 16-bit
 * divisor allows; console input does not wait for a tick (its interrupt
 * switches to the woken thread at once when the CPU is idle). */
#define TIMER_HZ 20

/* Calibrates the TSC against the PIT (10 ms; up to 0.24 s on a busy host).
 * Until then the clock reads 0. Panics if the PIT does not count. */
void time_init(void);

/* Time since the kernel's first instruction. */
uint64_t time_ns(void);
uint64_t time_ms(void);

/* TSC frequency in kHz, as calibrated. */
uint64_t time_tsc_khz(void);

/* Starts the periodic tick (IRQ 0) at TIMER_HZ. */
void timer_init(void);

/* Ticks since timer_init. */
uint64_t timer_ticks(void);

#endif
