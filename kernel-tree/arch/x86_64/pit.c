/*
 * pit.c - the 8254 PIT: a reference clock for TSC calibration (channel 2,
 * gated through port 0x61 and polled, no interrupt needed) and the periodic
 * scheduler tick (channel 0, IRQ 0).
 */
#include "arch/x86_64/pit.h"

#include <stdbool.h>

#include "arch/x86_64/cpu.h"

#define PIT_CH0 0x40
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PORT_B 0x61
#define PORT_B_GATE2 0x01
#define PORT_B_SPEAKER 0x02
#define PORT_B_OUT2 0x20
#define POLL_LIMIT 100000000u

uint64_t pit_measure_tsc(unsigned ms, uint64_t *uncertainty)
{
    uint32_t count = PIT_HZ * ms / 1000;
    outb(PORT_B, (inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2);
    outb(PIT_CMD, 0xb0); /* channel 2, lobyte/hibyte, mode 0: OUT rises at zero */
    outb(PIT_CH2, count & 0xff);
    uint64_t start_lo = rdtsc();
    outb(PIT_CH2, count >> 8); /* counting starts during this write */
    uint64_t start_hi = rdtsc();
    uint64_t end_lo = start_lo; /* read before the last poll that saw OUT low */
    for (uint32_t i = 0; i < POLL_LIMIT; i++) {
        uint64_t poll_lo = rdtsc();
        bool done = inb(PORT_B) & PORT_B_OUT2;
        uint64_t poll_hi = rdtsc();
        if (done) {
            *uncertainty = (start_hi - start_lo) + (poll_hi - end_lo);
            return (end_lo + poll_hi) / 2 - (start_lo + start_hi) / 2;
        }
        end_lo = poll_lo;
    }
    return 0;
}

void pit_start_periodic(unsigned hz)
{
    uint32_t divisor = PIT_HZ / hz;
    if (divisor > 0xffff) /* 18.2 Hz is the slowest the 16-bit divisor gives */
        divisor = 0xffff;
    outb(PIT_CMD, 0x34); /* channel 0, lobyte/hibyte, mode 2: rate generator */
    outb(PIT_CH0, divisor & 0xff);
    outb(PIT_CH0, divisor >> 8);
}
