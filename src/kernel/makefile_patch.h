/*
 * makefile_patch.h - setting `NAME := value` assignments in the kernel's
 * Makefile in place, idempotently, keeping every other byte as it was.
 */
#ifndef AUTON_KERNEL_MAKEFILE_PATCH_H
#define AUTON_KERNEL_MAKEFILE_PATCH_H

#include <stdbool.h>
#include <stddef.h>

struct aut_mkvar {
    const char *name;  /* e.g. "SLM_MODEL" */
    const char *value; /* e.g. "kernel/slm/models/auton-slm.gguf" */
};

/*
 * Rewrites the first top-level assignment of each name - a line that starts
 * (column 0, no leading whitespace) with NAME, optional spaces/tabs, then one
 * of ":=", "?=", "=" - to "NAME := value", keeping the line's trailing
 * comment (" # ...") if it has one and its line ending. Lines inside a
 * define/endef block and recipe lines (starting with a tab) are never
 * touched. A name with no such line is an error ("Makefile: no top-level
 * `SLM_ENABLED :=` assignment to patch"). The file is rewritten atomically
 * (temporary + rename) and only when something changed; *changed says
 * whether it did (may be NULL). Returns 0 or -1 with err set.
 */
int aut_makefile_set(const char *path, const struct aut_mkvar *vars, size_t n, bool *changed,
                     char *err, size_t errlen);

/* The same on a buffer: returns a malloc'ed patched copy (NUL-terminated,
 * *out_len bytes) or NULL with err set. */
char *aut_makefile_patch_buf(const char *buf, size_t len, const struct aut_mkvar *vars, size_t n,
                             size_t *out_len, char *err, size_t errlen);

/* The value of the first top-level assignment of name (trimmed, comment
 * excluded) into val. Returns 0, or -1 when there is none. */
int aut_makefile_get(const char *buf, size_t len, const char *name, char *val, size_t vallen);

#endif
