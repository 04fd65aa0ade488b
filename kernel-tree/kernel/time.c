/*
 * time.c - boot clock and timer tick.
 *
 * The clock is the TSC, read since boot.S's first instruction (boot_tsc)
 * and scaled with integer arithmetic only: ns = cycles * mult >> 32, with
 * mult computed once from PIT-timed intervals. The tick is PIT channel 0
 * at TIMER_HZ; each tick ends the running thread's time slice. Keep the
 * handler short: under the nested KVM every ring-0 instruction is emulated.
 */
#include "kernel/time.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/pit.h"
#include "arch/x86_64/trap.h"
#include "kernel/panic.h"
#include "kernel/sched.h"

#define CALIBRATE_MS 10
#define CALIBRATE_LONG_MS 50
#define CALIBRATE_SHORT_RUNS 4
#define CALIBRATE_MAX_RUNS 8
#define CALIBRATE_PRECISION 50 /* 2%: the midpoints are then within 1% */
#define NS_PER_S 1000000000ull
#define TIMER_IRQ 0

extern uint64_t boot_tsc; /* boot.S */

static uint64_t tsc_hz;
static uint64_t ns_mult; /* ns per cycle, 32.32 fixed point */
static volatile uint64_t ticks;

/* On a busy host the vCPU gets descheduled for milliseconds; when that
 * happens next to either end of an interval the measurement is uncertain.
 * Measure until one interval is certain to 1/CALIBRATE_PRECISION - with
 * longer intervals after a few tries, as the uncertainty does not grow with
 * them - and keep the relatively most certain one if none is. */
void time_init(void)
{
    uint64_t best = 0, best_err = 1, best_ms = 0;
    for (int run = 0; run < CALIBRATE_MAX_RUNS && best_err * CALIBRATE_PRECISION >= best; run++) {
        unsigned ms = run < CALIBRATE_SHORT_RUNS ? CALIBRATE_MS : CALIBRATE_LONG_MS;
        uint64_t err, cycles = pit_measure_tsc(ms, &err);
        if (cycles == 0)
            panic("time_init: PIT channel 2 never reached zero");
        if (best == 0 || err * best < best_err * cycles) {
            best = cycles;
            best_err = err;
            best_ms = ms;
        }
    }
    tsc_hz = best * 1000 / best_ms;
    ns_mult = (NS_PER_S << 32) / tsc_hz;
}

uint64_t time_ns(void)
{
    uint64_t now = rdtsc();
    uint64_t cycles = now > boot_tsc ? now - boot_tsc : 0;
    return (uint64_t)(((unsigned __int128)cycles * ns_mult) >> 32);
}

uint64_t time_ms(void)
{
    return time_ns() / 1000000;
}

uint64_t time_tsc_khz(void)
{
    return tsc_hz / 1000;
}

static void timer_irq(void)
{
    ticks++;
    sched_tick();
}

void timer_init(void)
{
    pit_start_periodic(TIMER_HZ);
    irq_register(TIMER_IRQ, timer_irq);
}

uint64_t timer_ticks(void)
{
    return ticks;
}
