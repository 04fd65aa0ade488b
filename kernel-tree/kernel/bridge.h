/*
 * bridge.h - the kernel bridge: protocol v1 on COM2 (docs/bridge.md).
 *
 * One JSON object per line. A reader thread takes lines off COM2, answers
 * malformed ones, and hands each valid request to a worker thread - or, if
 * the worker is busy, answers `busy` at once. The worker runs the operation
 * (an SLM call runs in the ring-3 task) and writes the reply. Whole lines
 * only: the two threads never interleave their output.
 */
#ifndef AUTON_KERNEL_BRIDGE_H
#define AUTON_KERNEL_BRIDGE_H

#define BRIDGE_VERSION 1
#define BRIDGE_LINE_MAX 16384 /* bytes, newline excluded */
#define BRIDGE_BATCH_MAX 64

/* Starts the bridge threads and announces readiness with the "ready"
 * event. Call after slm_init(), only when COM2 is up (auton.bridge=1). */
void bridge_start(void);

#endif
