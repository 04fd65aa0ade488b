/*
 * slm_err.h - error codes and the error record of the SLM engine.
 *
 * Every engine function that can fail returns 0 or a negative SLM_E_* code
 * and, when given a struct slm_err, fills it with the code and a message
 * naming what was wrong ("tensor blk.3.attn_q.weight: data [0x1000+0x2400]
 * beyond end of file (0x2000)"). The message is what a person sees.
 */
#ifndef AUTON_SLM_ERR_H
#define AUTON_SLM_ERR_H

#include "slm_port.h"

enum slm_errcode {
    SLM_OK = 0,
    SLM_E_TRUNCATED = 1,    /* the buffer ends inside a structure */
    SLM_E_MAGIC = 2,        /* not a GGUF file */
    SLM_E_VERSION = 3,      /* GGUF version other than 2 or 3 */
    SLM_E_COUNT = 4,        /* kv / tensor / array count beyond limits or buffer */
    SLM_E_STRING = 5,       /* string length runs past the buffer or the limit */
    SLM_E_KV_TYPE = 6,      /* unknown metadata value type */
    SLM_E_DIMS = 7,         /* n_dims > 4, zero or overflowing dimension */
    SLM_E_TENSOR_TYPE = 8,  /* unknown or removed ggml type id */
    SLM_E_OVERFLOW = 9,     /* size arithmetic overflowed */
    SLM_E_ALIGN = 10,       /* bad general.alignment, misaligned tensor data */
    SLM_E_BOUNDS = 11,      /* tensor data outside the file */
    SLM_E_OVERLAP = 12,     /* two tensors' data overlap */
    SLM_E_DUPLICATE = 13,   /* duplicate key or tensor name */
    SLM_E_ARRAY_TYPE = 14,  /* array of the wrong element type for its key */
    SLM_E_TOKEN = 15,       /* malformed token (e.g. byte token <0x-1>) */
    SLM_E_LIMIT = 16,       /* a count beyond the engine's limits (blocks, vocab) */
    SLM_E_NOMEM = 17,       /* the pool is exhausted */
    SLM_E_ARCH = 18,        /* general.architecture not supported */
    SLM_E_MISSING = 19,     /* required key or tensor absent */
    SLM_E_SHAPE = 20,       /* tensor shape disagrees with the hyperparameters */
    SLM_E_UNSUPPORTED = 21, /* valid but not supported by the engine */
    SLM_E_INVAL = 22,       /* bad argument */
    SLM_E_CTX = 23,         /* context window full */
    SLM_E_KV_VALUE = 24,    /* metadata value out of range (e.g. head count 0) */
    SLM_E_COUNT_MAX
};

struct slm_err {
    int code;      /* enum slm_errcode, 0 when no error */
    char msg[256]; /* human-readable, NUL-terminated */
};

/* Records code and a formatted message in e (e may be NULL) and returns
 * -code, so callers write `return slm_err_set(e, SLM_E_BOUNDS, "...", ...);`. */
int slm_err_set(struct slm_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Short name of a code ("truncated", "bad magic", ...); never NULL.
 * Accepts the code or its negation. */
const char *slm_strerror(int code);

/* Symbolic name of a code ("TRUNCATED", "MAGIC", ...), as in SLM_E_<name>;
 * never NULL. Accepts the code or its negation. */
const char *slm_errsym(int code);

#endif
