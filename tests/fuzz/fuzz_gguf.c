/*
 * fuzz_gguf.c - libFuzzer target for the GGUF parser.
 *
 * Parses the input with a 16 MiB pool; when the parse succeeds, walks every
 * kv and tensor through every lookup, getter and array accessor and touches
 * the first and last byte of everything that points into the input, so
 * ASan proves the parser's promises (nothing it hands out lies outside the
 * buffer, gguf_arr_strings cannot fail).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

#define FUZZ_POOL_BYTES (16u << 20)

/* Folds bytes into a sink so the reads cannot be optimised away. */
static volatile uint8_t sink;

static void touch(const void *p, uint64_t n)
{
    if (n) {
        sink ^= ((const uint8_t *)p)[0];
        sink ^= ((const uint8_t *)p)[n - 1];
    }
}

/* name as a C string; false when it holds a NUL (lookups cannot name it) */
static int to_cstr(struct gguf_str s, char *out, size_t cap)
{
    if (s.n >= cap || memchr(s.p, 0, (size_t)s.n))
        return 0;
    memcpy(out, s.p, (size_t)s.n);
    out[s.n] = 0;
    return 1;
}

static void exercise_array(const struct gguf_kv *kv)
{
    touch(kv->v.arr.data, kv->v.arr.nbytes);
    if (kv->v.arr.type == GGUF_T_STRING) {
        struct gguf_str *s = malloc((size_t)kv->v.arr.n * sizeof *s + 1);
        if (!s)
            abort();
        gguf_arr_strings(kv, s);
        for (uint64_t i = 0; i < kv->v.arr.n; i++)
            touch(s[i].p, s[i].n);
        free(s);
        return;
    }
    for (uint64_t i = 0; i <= kv->v.arr.n; i++) { /* one past the end too */
        float f = gguf_arr_f32(kv, i);
        int64_t v = gguf_arr_i64(kv, i);
        sink ^= (uint8_t)v ^ (uint8_t)(f == f);
    }
}

static void exercise_kv(const struct gguf_file *gf, const struct gguf_kv *kv)
{
    char key[GGUF_MAX_KEY_LEN + 1];
    struct slm_err err;
    uint32_t u32;
    uint64_t u64;
    float f;
    bool b;
    struct gguf_str s;
    const struct gguf_kv *arr;

    touch(kv->key.p, kv->key.n);
    sink ^= (uint8_t)gguf_vtype_name(kv->type)[0];
    if (kv->type == GGUF_T_STRING)
        touch(kv->v.s.p, kv->v.s.n);
    if (kv->type == GGUF_T_ARRAY)
        exercise_array(kv);
    if (!to_cstr(kv->key, key, sizeof key))
        return;
    if (gguf_find_kv(gf, key) != kv)
        abort(); /* a parsed key must be found, and keys are unique */
    gguf_get_u32(gf, key, &u32, &err);
    gguf_get_u64(gf, key, &u64, &err);
    gguf_get_f32(gf, key, &f, &err);
    gguf_get_bool(gf, key, &b, &err);
    if (gguf_get_str(gf, key, &s, &err) == 0)
        touch(s.p, s.n);
    for (uint32_t t = 0; t <= GGUF_T_COUNT; t++)
        if (gguf_get_arr(gf, key, t, &arr, &err) == 0 && arr != kv)
            abort();
}

static void exercise_tensor(const struct gguf_file *gf, const struct gguf_tensor *t)
{
    char name[GGUF_MAX_KEY_LEN + 1];
    touch(t->name.p, t->name.n);
    touch(t->data, t->nbytes);
    if ((const uint8_t *)t->data != gf->buf + gf->data_offset + t->offset)
        abort();
    if (to_cstr(t->name, name, sizeof name) && gguf_find_tensor(gf, name) != t)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gguf_file gf;
    struct slm_err err = {0};
    struct slm_pool pool;
    static void *mem; /* allocated once: the pool's contents never matter */
    if (!mem && !(mem = malloc(FUZZ_POOL_BYTES)))
        abort();
    slm_pool_init(&pool, mem, FUZZ_POOL_BYTES);
    int rc = gguf_parse(&gf, data, size, &pool, &err);
    if (rc != 0) {
        if (rc != -err.code || err.msg[0] == 0)
            abort(); /* every failure carries its code and a message */
    } else {
        if (pool.used != gguf_pool_bytes(gf.n_kv, gf.n_tensors))
            abort();
        for (uint64_t i = 0; i < gf.n_kv; i++)
            exercise_kv(&gf, &gf.kv[i]);
        for (uint64_t i = 0; i < gf.n_tensors; i++)
            exercise_tensor(&gf, &gf.tensors[i]);
        gguf_find_kv(&gf, "general.architecture");
        gguf_find_tensor(&gf, "token_embd.weight");
    }
    return 0;
}
