/*
 * cmdline.h - the kernel command line: words "key=value" or bare "key".
 *
 * Keys in use: slm.pool_mb=<MiB>, auton.run_id=<id>, selftest,
 * slm.backend=<name> and auton.bridge=1 (read by the SLM runtime and the
 * bridge). A key given twice: the last one counts.
 */
#ifndef AUTON_KERNEL_CMDLINE_H
#define AUTON_KERNEL_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMDLINE_MAX_WORDS 32

/* Copies and splits line (at most BOOT_CMDLINE_MAX bytes, CMDLINE_MAX_WORDS
 * words; the rest is ignored). */
void cmdline_init(const char *line);

/* The value of key: "" for a bare word, NULL when absent. */
const char *cmdline_get(const char *key);

static inline bool cmdline_has(const char *key)
{
    return cmdline_get(key) != NULL;
}

/* Parses key's value as a decimal number into *out. False (and *out
 * untouched) when the key is absent or its value is not a number. */
bool cmdline_get_u64(const char *key, uint64_t *out);

#endif
