/*
 * serial.h - 16550 UARTs: COM1 (the console) and COM2 (the kernel bridge).
 *
 * Output is polled; input is interrupt driven into a per-port buffer, and
 * readers sleep until a byte arrives.
 */
#ifndef AUTON_DRIVERS_SERIAL_H
#define AUTON_DRIVERS_SERIAL_H

#include <stdbool.h>
#include <stddef.h>

enum serial_port {
    SERIAL_COM1,
    SERIAL_COM2,
    SERIAL_NPORTS,
};

/* 115200 8N1 with FIFOs. Returns false (and leaves the port off) if no
 * UART answers at that address. */
bool serial_init(enum serial_port port);

/* Starts receive interrupts (needs the interrupt controller set up). */
void serial_enable_rx_irq(enum serial_port port);

/* Writes n raw bytes (no newline translation); ignored on a port that is off. */
void serial_write(enum serial_port port, const char *buf, size_t n);

/* The next received byte; sleeps until there is one (forever on a port
 * that is off). */
int serial_read(enum serial_port port);

#endif
