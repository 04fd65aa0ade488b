/*
 * gguf.h - the GGUF parser: one implementation for kernel and host.
 *
 * Parses GGUF v2 and v3 *in place*: strings, arrays and tensor data are
 * pointers into the caller's buffer (the embedded blob, or an mmap), which
 * must outlive the gguf_file. Only the kv and tensor tables (and the hash
 * index used to reject duplicates and to look names up) are allocated, from
 * the pool. Every count, length, dimension, offset and size is checked with
 * overflow-safe arithmetic against the buffer; a failure returns -SLM_E_*
 * and an slm_err message naming the key or tensor.
 *
 * Layout of a GGUF file (little-endian):
 *   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv x { str key | u32 type | value }   str = u64 len + bytes
 *   n_tensors x { str name | u32 n_dims | u64 ne[n_dims] | u32 type | u64 offset }
 *   padding to general.alignment (default 32) | tensor data
 *   (v1 used u32 counts and lengths and is rejected.)
 */
#ifndef AUTON_SLM_GGUF_H
#define AUTON_SLM_GGUF_H

#include "pool.h"
#include "slm_err.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian u32 */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

/* Engine limits, beyond which a file is rejected with SLM_E_COUNT/LIMIT. */
#define GGUF_MAX_KV 4096
#define GGUF_MAX_TENSORS 8192
#define GGUF_MAX_KEY_LEN 1024         /* key and tensor-name bytes */
#define GGUF_MAX_STRING_LEN (1u << 20) /* any string value */
#define GGUF_MAX_BLOCKS 256           /* <arch>.block_count */

enum gguf_vtype {
    GGUF_T_UINT8 = 0,
    GGUF_T_INT8 = 1,
    GGUF_T_UINT16 = 2,
    GGUF_T_INT16 = 3,
    GGUF_T_UINT32 = 4,
    GGUF_T_INT32 = 5,
    GGUF_T_FLOAT32 = 6,
    GGUF_T_BOOL = 7,
    GGUF_T_STRING = 8,
    GGUF_T_ARRAY = 9,
    GGUF_T_UINT64 = 10,
    GGUF_T_INT64 = 11,
    GGUF_T_FLOAT64 = 12,
    GGUF_T_COUNT
};

/* A string inside the buffer: not NUL-terminated. */
struct gguf_str {
    const char *p;
    uint64_t n;
};

struct gguf_kv {
    struct gguf_str key;
    uint32_t type; /* enum gguf_vtype */
    union {
        uint64_t u;      /* UINT8..UINT64 */
        int64_t i;       /* INT8..INT64 */
        double f;        /* FLOAT32, FLOAT64 */
        bool b;          /* BOOL */
        struct gguf_str s; /* STRING */
        struct {
            uint32_t type;       /* element type (never ARRAY: nested arrays are rejected) */
            uint64_t n;          /* element count */
            const uint8_t *data; /* first element; for strings the first length prefix */
            size_t nbytes;       /* bytes the elements occupy in the buffer */
        } arr;
    } v;
};

struct gguf_tensor {
    struct gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
    uint32_t type;              /* enum slm_qtype */
    uint64_t offset;            /* from the start of the data section */
    size_t nbytes;
    const uint8_t *data; /* in place: buf + data_offset + offset */
};

struct gguf_file {
    const uint8_t *buf; /* borrowed */
    size_t size;
    uint32_t version;
    uint64_t n_kv;
    struct gguf_kv *kv; /* pool */
    uint64_t n_tensors;
    struct gguf_tensor *tensors; /* pool */
    uint32_t alignment;
    size_t data_offset;
    /* name -> index hash tables (pool), open addressing, power-of-two sizes */
    uint32_t *kv_index, kv_index_size;
    uint32_t *tensor_index, tensor_index_size;
};

/* Parses buf[0..size). On success fills *gf and returns 0; on failure
 * returns -SLM_E_* with err set, and *gf is unspecified. Allocates from pool
 * exactly gguf_pool_bytes(n_kv, n_tensors). Checks, beyond the structure:
 * known value and tensor types, n_dims <= 4, non-zero dims whose product
 * and byte size do not overflow, rows a multiple of the block size, data
 * aligned, inside the file and not overlapping, general.alignment a u32
 * power of two, no duplicate keys or tensor names, well-known keys of their
 * expected types (e.g. tokenizer.ggml.scores an array of f32), byte tokens
 * spelled <0xHH>, and <arch>.block_count <= GGUF_MAX_BLOCKS. */
int gguf_parse(struct gguf_file *gf, const uint8_t *buf, size_t size, struct slm_pool *pool,
               struct slm_err *err);

/* Exact pool bytes gguf_parse takes for a file with these counts. */
size_t gguf_pool_bytes(uint64_t n_kv, uint64_t n_tensors);

bool gguf_str_eq(struct gguf_str s, const char *z);

/* Lookups: NULL when absent. */
const struct gguf_kv *gguf_find_kv(const struct gguf_file *gf, const char *key);
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *gf, const char *name);

/* Typed getters. Return 0, -SLM_E_MISSING (absent) or -SLM_E_KV_TYPE /
 * -SLM_E_KV_VALUE (wrong type or out of range), with err naming the key.
 * Integer getters accept any integer type whose value fits. */
int gguf_get_u32(const struct gguf_file *gf, const char *key, uint32_t *out,
                 struct slm_err *err);
int gguf_get_u64(const struct gguf_file *gf, const char *key, uint64_t *out,
                 struct slm_err *err);
int gguf_get_f32(const struct gguf_file *gf, const char *key, float *out, struct slm_err *err);
int gguf_get_bool(const struct gguf_file *gf, const char *key, bool *out, struct slm_err *err);
int gguf_get_str(const struct gguf_file *gf, const char *key, struct gguf_str *out,
                 struct slm_err *err);
/* An array whose elements are of elem_type (-SLM_E_ARRAY_TYPE otherwise). */
int gguf_get_arr(const struct gguf_file *gf, const char *key, uint32_t elem_type,
                 const struct gguf_kv **out, struct slm_err *err);

/* Fills out[0..kv->v.arr.n) with the strings of a string array (already
 * validated by gguf_parse, so this cannot fail). */
void gguf_arr_strings(const struct gguf_kv *kv, struct gguf_str *out);

/* Element i of a numeric array, converted. */
float gguf_arr_f32(const struct gguf_kv *kv, uint64_t i);
int64_t gguf_arr_i64(const struct gguf_kv *kv, uint64_t i);

/* "uint8", "string", ... */
const char *gguf_vtype_name(uint32_t type);

#endif
