/*
 * serial.c - the 16550 driver.
 *
 * Transmit writes up to a FIFO's worth (16 bytes) per "transmitter empty"
 * poll: every port access is a VM exit, so this halves their number.
 * Receive interrupts fill a ring buffer per port; serial_read sleeps on it.
 */
#include "drivers/serial.h"

#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/trap.h"
#include "kernel/sched.h"

#define REG_DATA 0 /* DLAB=0: RBR/THR; DLAB=1: divisor low */
#define REG_IER 1  /* DLAB=1: divisor high */
#define REG_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_SCR 7
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20
#define IER_RX 0x01
#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define FCR_ENABLE_CLEAR 0x07
#define MCR_DTR_RTS_OUT2 0x0b /* OUT2 gates the IRQ line on PCs */
#define FIFO_SIZE 16
#define RX_BUF_SIZE 8192

struct uart {
    uint16_t base;
    uint8_t irq;
    bool up;
    uint8_t rx[RX_BUF_SIZE];
    unsigned rx_head, rx_tail; /* head == tail: empty */
    bool rx_paused;            /* ring full: receive interrupt masked */
};

static struct uart uarts[SERIAL_NPORTS] = {
    [SERIAL_COM1] = {.base = 0x3f8, .irq = 4},
    [SERIAL_COM2] = {.base = 0x2f8, .irq = 3},
};

bool serial_init(enum serial_port port)
{
    struct uart *u = &uarts[port];
    outb(u->base + REG_SCR, 0x5a);
    if (inb(u->base + REG_SCR) != 0x5a)
        return false;
    outb(u->base + REG_IER, 0);
    outb(u->base + REG_LCR, LCR_DLAB);
    outb(u->base + REG_DATA, 1); /* divisor 1: 115200 baud */
    outb(u->base + REG_IER, 0);
    outb(u->base + REG_LCR, LCR_8N1);
    outb(u->base + REG_FCR, FCR_ENABLE_CLEAR);
    outb(u->base + REG_MCR, MCR_DTR_RTS_OUT2);
    u->up = true;
    return true;
}

/* Moves received bytes into the ring. When the ring is full the bytes stay
 * in the UART (and QEMU, which stops sending when the UART is full) and the
 * receive interrupt is masked until serial_read makes room: backpressure,
 * never a silently dropped byte. */
static void rx_drain(struct uart *u)
{
    while (inb(u->base + REG_LSR) & LSR_DATA_READY) {
        unsigned next = (u->rx_head + 1) % RX_BUF_SIZE;
        if (next == u->rx_tail) {
            u->rx_paused = true;
            outb(u->base + REG_IER, 0);
            break;
        }
        u->rx[u->rx_head] = inb(u->base + REG_DATA);
        u->rx_head = next;
    }
    sched_wakeup(u);
}

static void com1_irq(void)
{
    rx_drain(&uarts[SERIAL_COM1]);
}

static void com2_irq(void)
{
    rx_drain(&uarts[SERIAL_COM2]);
}

void serial_enable_rx_irq(enum serial_port port)
{
    struct uart *u = &uarts[port];
    if (!u->up)
        return;
    irq_register(u->irq, port == SERIAL_COM1 ? com1_irq : com2_irq);
    outb(u->base + REG_IER, IER_RX);
}

void serial_write(enum serial_port port, const char *buf, size_t n)
{
    const struct uart *u = &uarts[port];
    if (!u->up)
        return;
    while (n) {
        while (!(inb(u->base + REG_LSR) & LSR_THR_EMPTY))
            cpu_relax();
        for (unsigned i = 0; i < FIFO_SIZE && n; i++, n--)
            outb(u->base + REG_DATA, (uint8_t)*buf++);
    }
}

int serial_read(enum serial_port port)
{
    struct uart *u = &uarts[port];
    uint64_t flags = irq_save();
    while (u->rx_tail == u->rx_head)
        sched_sleep(u);
    int c = u->rx[u->rx_tail];
    u->rx_tail = (u->rx_tail + 1) % RX_BUF_SIZE;
    if (u->rx_paused) {
        u->rx_paused = false;
        outb(u->base + REG_IER, IER_RX);
        rx_drain(u);
    }
    irq_restore(flags);
    return c;
}
