/*
 * gguf_loader.h - the neural backend's ring-0 half (see gguf_loader.c).
 * Every call that enters ring 3 returns an SLM_E* kind (slm.h) and, when
 * not SLM_OK, a reason in why. One at a time: the caller (slm_init.c)
 * serializes them.
 */
#ifndef AUTON_KERNEL_SLM_GGUF_LOADER_H
#define AUTON_KERNEL_SLM_GGUF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/slm/slm.h"

/* The embedded model (NULL, 0 when the kernel was built without one). */
void slm_neural_model(const uint8_t **start, size_t *size);

/* The mailbox and the engine's pool, carved from base. */
void slm_neural_set_pool(void *base, size_t size);
struct slm_abi_mbox *slm_neural_mbox(void);

/* Kernels to use at the next load: 0 scalar, 1 sse2, 2 avx2, 3 avx512
 * (capped at what the CPU offers), -1 the best the CPU offers. */
void slm_neural_set_isa(int32_t isa);

/* The spec's names. */
int slm_init_neural_backend(char *why, size_t n); /* loads the embedded model */
int slm_load_gguf(const void *data, size_t size, char *why, size_t n);
int slm_neural_inference(const char *prompt, char *output, size_t size); /* 0 or -EIO */
void slm_unload_model(void);

bool slm_neural_loaded(void);
/* After a failed load: true when the file was at fault (not the pool). */
bool slm_neural_parse_error(void);
/* Why the backend was disabled by a fault, or NULL. */
const char *slm_neural_fault(void);

/* Ring-3 calls on the mailbox's request. */
int slm_neural_generate(uint32_t timeout_ms, char *why, size_t n);
int slm_neural_bench(uint32_t timeout_ms, char *why, size_t n);
/* CRC-32 of the embedded model's bytes, computed in ring 3. */
int slm_neural_checksum(uint32_t *crc, char *why, size_t n);
int slm_neural_selftest(int which, uint32_t timeout_ms, char *why, size_t n);

#endif
