/*
 * gguf_bytes.h - a header-only, byte-level GGUF writer for tests.
 *
 * It writes exactly what it is told, so tests can emit malformed files
 * (wrong counts, lengths past the end, bad types) as easily as valid ones.
 * Host-only (malloc/realloc); every function is static inline so including
 * it from several tests never clashes.
 */
#ifndef AUTON_TESTS_GGUF_BYTES_H
#define AUTON_TESTS_GGUF_BYTES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

struct gb {
    uint8_t *p;
    size_t n, cap;
};

/* Room for n more bytes; returns where they go. */
static inline uint8_t *gb_grow(struct gb *b, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            abort();
        b->p = q;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->n;
    b->n += n;
    return at;
}

static inline void gb_put(struct gb *b, const void *d, size_t n)
{
    uint8_t *at = gb_grow(b, n);
    if (n)
        memcpy(at, d, n);
}

static inline void gb_free(struct gb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static inline void gb_u8(struct gb *b, uint8_t v)
{
    gb_put(b, &v, 1);
}
static inline void gb_u16(struct gb *b, uint16_t v)
{
    gb_put(b, &v, 2);
}
static inline void gb_u32(struct gb *b, uint32_t v)
{
    gb_put(b, &v, 4);
}
static inline void gb_u64(struct gb *b, uint64_t v)
{
    gb_put(b, &v, 8);
}
static inline void gb_f32(struct gb *b, float v)
{
    gb_put(b, &v, 4);
}
static inline void gb_f64(struct gb *b, double v)
{
    gb_put(b, &v, 8);
}

static inline void gb_zeros(struct gb *b, size_t n)
{
    uint8_t *at = gb_grow(b, n);
    if (n)
        memset(at, 0, n);
}

/* Zero padding up to a multiple of a. */
static inline void gb_align(struct gb *b, size_t a)
{
    gb_zeros(b, (a - b->n % a) % a);
}

/* u64 length + bytes */
static inline void gb_strn(struct gb *b, const char *s, size_t n)
{
    gb_u64(b, n);
    gb_put(b, s, n);
}
static inline void gb_str(struct gb *b, const char *s)
{
    gb_strn(b, s, strlen(s));
}

static inline void gb_header(struct gb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    gb_u32(b, GGUF_MAGIC);
    gb_u32(b, version);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}

/* key + value type; the caller writes the value */
static inline void gb_key(struct gb *b, const char *key, uint32_t type)
{
    gb_str(b, key);
    gb_u32(b, type);
}

static inline void gb_kv_u32(struct gb *b, const char *key, uint32_t v)
{
    gb_key(b, key, GGUF_T_UINT32);
    gb_u32(b, v);
}
static inline void gb_kv_i32(struct gb *b, const char *key, int32_t v)
{
    gb_key(b, key, GGUF_T_INT32);
    gb_u32(b, (uint32_t)v);
}
static inline void gb_kv_u64(struct gb *b, const char *key, uint64_t v)
{
    gb_key(b, key, GGUF_T_UINT64);
    gb_u64(b, v);
}
static inline void gb_kv_f32(struct gb *b, const char *key, float v)
{
    gb_key(b, key, GGUF_T_FLOAT32);
    gb_f32(b, v);
}
static inline void gb_kv_bool(struct gb *b, const char *key, int v)
{
    gb_key(b, key, GGUF_T_BOOL);
    gb_u8(b, (uint8_t)v);
}
static inline void gb_kv_str(struct gb *b, const char *key, const char *v)
{
    gb_key(b, key, GGUF_T_STRING);
    gb_str(b, v);
}

/* key, ARRAY, element type, count; the caller writes the elements */
static inline void gb_arr(struct gb *b, const char *key, uint32_t elem_type, uint64_t n)
{
    gb_key(b, key, GGUF_T_ARRAY);
    gb_u32(b, elem_type);
    gb_u64(b, n);
}

static inline void gb_kv_strs(struct gb *b, const char *key, const char *const *v, size_t n)
{
    gb_arr(b, key, GGUF_T_STRING, n);
    for (size_t i = 0; i < n; i++)
        gb_str(b, v[i]);
}

/* A tensor info: name, n_dims, ne[0..n_dims), type, offset. */
static inline void gb_tensor(struct gb *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                             uint32_t type, uint64_t offset)
{
    gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        gb_u64(b, ne[d]);
    gb_u32(b, type);
    gb_u64(b, offset);
}

/* Overwrites a u64 already written at byte offset at. */
static inline void gb_patch_u64(struct gb *b, size_t at, uint64_t v)
{
    memcpy(b->p + at, &v, 8);
}

#endif
