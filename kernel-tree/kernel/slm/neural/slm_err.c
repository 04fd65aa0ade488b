/*
 * slm_err.c - error records and code names for the SLM engine.
 */
#include "slm_err.h"

static const char *const names[SLM_E_COUNT_MAX] = {
    [SLM_OK] = "ok",
    [SLM_E_TRUNCATED] = "truncated",
    [SLM_E_MAGIC] = "bad magic",
    [SLM_E_VERSION] = "unsupported version",
    [SLM_E_COUNT] = "count out of range",
    [SLM_E_STRING] = "bad string",
    [SLM_E_KV_TYPE] = "bad metadata type",
    [SLM_E_DIMS] = "bad dimensions",
    [SLM_E_TENSOR_TYPE] = "bad tensor type",
    [SLM_E_OVERFLOW] = "size overflow",
    [SLM_E_ALIGN] = "bad alignment",
    [SLM_E_BOUNDS] = "out of bounds",
    [SLM_E_OVERLAP] = "overlapping tensors",
    [SLM_E_DUPLICATE] = "duplicate name",
    [SLM_E_ARRAY_TYPE] = "wrong array type",
    [SLM_E_TOKEN] = "bad token",
    [SLM_E_LIMIT] = "beyond engine limit",
    [SLM_E_NOMEM] = "out of pool memory",
    [SLM_E_ARCH] = "unsupported architecture",
    [SLM_E_MISSING] = "missing",
    [SLM_E_SHAPE] = "bad tensor shape",
    [SLM_E_UNSUPPORTED] = "unsupported",
    [SLM_E_INVAL] = "invalid argument",
    [SLM_E_CTX] = "context full",
    [SLM_E_KV_VALUE] = "bad metadata value",
};

static const char *const syms[SLM_E_COUNT_MAX] = {
    [SLM_OK] = "OK",
    [SLM_E_TRUNCATED] = "TRUNCATED",
    [SLM_E_MAGIC] = "MAGIC",
    [SLM_E_VERSION] = "VERSION",
    [SLM_E_COUNT] = "COUNT",
    [SLM_E_STRING] = "STRING",
    [SLM_E_KV_TYPE] = "KV_TYPE",
    [SLM_E_DIMS] = "DIMS",
    [SLM_E_TENSOR_TYPE] = "TENSOR_TYPE",
    [SLM_E_OVERFLOW] = "OVERFLOW",
    [SLM_E_ALIGN] = "ALIGN",
    [SLM_E_BOUNDS] = "BOUNDS",
    [SLM_E_OVERLAP] = "OVERLAP",
    [SLM_E_DUPLICATE] = "DUPLICATE",
    [SLM_E_ARRAY_TYPE] = "ARRAY_TYPE",
    [SLM_E_TOKEN] = "TOKEN",
    [SLM_E_LIMIT] = "LIMIT",
    [SLM_E_NOMEM] = "NOMEM",
    [SLM_E_ARCH] = "ARCH",
    [SLM_E_MISSING] = "MISSING",
    [SLM_E_SHAPE] = "SHAPE",
    [SLM_E_UNSUPPORTED] = "UNSUPPORTED",
    [SLM_E_INVAL] = "INVAL",
    [SLM_E_CTX] = "CTX",
    [SLM_E_KV_VALUE] = "KV_VALUE",
};

static int index_of(int code)
{
    if (code < 0)
        code = -code;
    return code < SLM_E_COUNT_MAX ? code : -1;
}

int slm_err_set(struct slm_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        kfmt_vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -code;
}

const char *slm_strerror(int code)
{
    int i = index_of(code);
    return i >= 0 && names[i] ? names[i] : "unknown error";
}

const char *slm_errsym(int code)
{
    int i = index_of(code);
    return i >= 0 && syms[i] ? syms[i] : "UNKNOWN";
}
