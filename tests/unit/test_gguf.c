/*
 * test_gguf.c - the GGUF parser: every rejection it promises (exact code and
 * the named key or tensor in the message), valid edge cases, the getters,
 * pool accounting, every truncation of a valid file, and parse speed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gguf.h"
#include "gguf_bytes.h"
#include "qtypes.h"

#define POOL_BYTES (8u << 20)

struct fx {
    void *mem;
    struct slm_pool pool;
    struct gguf_file gf;
    struct slm_err err;
    struct gb b;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->mem = malloc(POOL_BYTES);
    assert_non_null(f->mem);
    slm_pool_init(&f->pool, f->mem, POOL_BYTES);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    gb_free(&f->b);
    free(f->mem);
    free(f);
    return 0;
}

static int parse(struct fx *f)
{
    memset(&f->err, 0, sizeof f->err);
    return gguf_parse(&f->gf, f->b.p, f->b.n, &f->pool, &f->err);
}

static void expect_err_at(struct fx *f, int code, const char *sub, const char *sub2, int line)
{
    int rc = parse(f);
    if (rc != -code || f->err.code != code || !strstr(f->err.msg, sub) ||
        (sub2 && !strstr(f->err.msg, sub2))) {
        print_error("line %d: want code %d with \"%s\"%s%s, got rc %d code %d msg \"%s\"\n", line,
                    code, sub, sub2 ? " and " : "", sub2 ? sub2 : "", rc, f->err.code, f->err.msg);
        fail();
    }
}
#define EXPECT_ERR(f, code, sub) expect_err_at(f, code, sub, NULL, __LINE__)
#define EXPECT_ERR2(f, code, sub, sub2) expect_err_at(f, code, sub, sub2, __LINE__)

static void expect_ok_at(struct fx *f, int line)
{
    int rc = parse(f);
    if (rc != 0) {
        print_error("line %d: parse failed: rc %d \"%s\"\n", line, rc, f->err.msg);
        fail();
    }
}
#define EXPECT_OK(f) expect_ok_at(f, __LINE__)

/* ---- files ----------------------------------------------------------------- */

static const char *const vocab[] = {"<unk>", "<s>", "</s>", "<0x00>", "<0xfF>", "a", "b"};
static const int32_t vocab_types[] = {2, 3, 3, 6, 6, 1, 1};
#define N_VOCAB 7

/* A small but complete llama file: 14 kv, 3 tensors. */
static void small_model(struct gb *b, uint32_t version)
{
    static const uint64_t ne_embd[] = {32, 7}, ne_q[] = {32, 4}, ne_norm[] = {32};
    gb_header(b, version, 3, 14);
    gb_kv_str(b, "general.architecture", "llama");
    gb_kv_str(b, "general.name", "tiny");
    gb_kv_u32(b, "llama.block_count", 1);
    gb_kv_u32(b, "llama.context_length", 128);
    gb_kv_u32(b, "llama.embedding_length", 32);
    gb_kv_u32(b, "llama.attention.head_count", 4);
    gb_kv_f32(b, "llama.rope.freq_base", 10000.0f);
    gb_kv_f32(b, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gb_kv_str(b, "tokenizer.ggml.model", "llama");
    gb_kv_strs(b, "tokenizer.ggml.tokens", vocab, N_VOCAB);
    gb_arr(b, "tokenizer.ggml.scores", GGUF_T_FLOAT32, N_VOCAB);
    for (int i = 0; i < N_VOCAB; i++)
        gb_f32(b, -(float)i);
    gb_arr(b, "tokenizer.ggml.token_type", GGUF_T_INT32, N_VOCAB);
    for (int i = 0; i < N_VOCAB; i++)
        gb_u32(b, (uint32_t)vocab_types[i]);
    gb_kv_u32(b, "tokenizer.ggml.bos_token_id", 1);
    gb_kv_bool(b, "tokenizer.ggml.add_bos_token", 1);
    gb_tensor(b, "token_embd.weight", 2, ne_embd, SLM_Q_F32, 0);    /* 896 bytes */
    gb_tensor(b, "blk.0.attn_q.weight", 2, ne_q, SLM_Q_Q4_0, 896);  /* 72 bytes */
    gb_tensor(b, "output_norm.weight", 1, ne_norm, SLM_Q_F32, 992); /* 128 bytes */
    gb_align(b, GGUF_DEFAULT_ALIGNMENT);
    size_t data = b->n;
    gb_zeros(b, 1120);
    for (size_t i = 0; i < 1120; i++)
        b->p[data + i] = (uint8_t)(i * 7);
}

/* Header + one kv + the given tensors infos; the caller adds the data. */
static void one_tensor(struct gb *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                       uint32_t type, uint64_t offset)
{
    gb_header(b, 3, 1, 1);
    gb_kv_str(b, "general.name", "t");
    gb_tensor(b, name, n_dims, ne, type, offset);
    gb_align(b, GGUF_DEFAULT_ALIGNMENT);
}

/* ---- header ---------------------------------------------------------------- */

static void test_rejects_file_shorter_than_header(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 0);
    f->b.n = 2;
    EXPECT_ERR(f, SLM_E_TRUNCATED, "header");
    f->b.n = 6;
    EXPECT_ERR(f, SLM_E_TRUNCATED, "header");
    f->b.n = 20;
    EXPECT_ERR(f, SLM_E_TRUNCATED, "header");
    f->b.n = 0;
    EXPECT_ERR(f, SLM_E_TRUNCATED, "header");
}

static void test_rejects_bad_magic(void **state)
{
    struct fx *f = *state;
    gb_u32(&f->b, 0x4c4d5347); /* "GSML" */
    gb_u32(&f->b, 3);
    gb_u64(&f->b, 0);
    gb_u64(&f->b, 0);
    EXPECT_ERR(f, SLM_E_MAGIC, "magic");
}

static void test_rejects_version_1_and_4(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 1, 0, 0);
    EXPECT_ERR(f, SLM_E_VERSION, "version 1");
    gb_free(&f->b);
    gb_header(&f->b, 4, 0, 0);
    EXPECT_ERR(f, SLM_E_VERSION, "version 4");
    gb_free(&f->b);
    gb_header(&f->b, 0x03000000, 0, 0); /* big-endian v3 */
    EXPECT_ERR(f, SLM_E_VERSION, "version");
}

static void test_rejects_huge_kv_count(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1ull << 62);
    EXPECT_ERR(f, SLM_E_COUNT, "metadata keys");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, GGUF_MAX_KV + 1);
    EXPECT_ERR(f, SLM_E_COUNT, "metadata keys");
}

static void test_rejects_huge_tensor_count(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, UINT64_MAX, 0);
    EXPECT_ERR(f, SLM_E_COUNT, "tensors");
    gb_free(&f->b);
    gb_header(&f->b, 3, GGUF_MAX_TENSORS + 1, 0);
    EXPECT_ERR(f, SLM_E_COUNT, "tensors");
}

static void test_rejects_counts_that_cannot_fit_before_allocating(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 100, 1000);
    gb_zeros(&f->b, 100);
    size_t used = f->pool.used;
    EXPECT_ERR(f, SLM_E_COUNT, "cannot fit");
    assert_int_equal(f->pool.used, used);
}

/* ---- strings and keys ------------------------------------------------------ */

static void test_rejects_truncated_key(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_u64(&f->b, 40); /* key length past the end */
    gb_put(&f->b, "general.na", 10);
    EXPECT_ERR(f, SLM_E_TRUNCATED, "kv 0: key truncated");
}

static void test_rejects_string_value_past_buffer(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_key(&f->b, "general.name", GGUF_T_STRING);
    gb_u64(&f->b, 1000);
    gb_put(&f->b, "tiny", 4);
    EXPECT_ERR2(f, SLM_E_TRUNCATED, "general.name", "string value truncated");
}

static void test_rejects_string_length_2_pow_63(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_key(&f->b, "general.name", GGUF_T_STRING);
    gb_u64(&f->b, 1ull << 63);
    gb_zeros(&f->b, 16);
    EXPECT_ERR(f, SLM_E_STRING, "general.name");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 1);
    gb_u64(&f->b, 1ull << 63); /* as a key length */
    gb_zeros(&f->b, 16);
    EXPECT_ERR(f, SLM_E_STRING, "kv 0");
}

static void test_rejects_empty_and_overlong_keys(void **state)
{
    struct fx *f = *state;
    char key[GGUF_MAX_KEY_LEN + 2];
    gb_header(&f->b, 3, 0, 1);
    gb_kv_u32(&f->b, "", 1);
    EXPECT_ERR(f, SLM_E_STRING, "empty key");
    gb_free(&f->b);
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = 0;
    gb_header(&f->b, 3, 0, 1);
    gb_kv_u32(&f->b, key, 1);
    EXPECT_ERR(f, SLM_E_STRING, "kv 0: key of length 1025");
    gb_free(&f->b);
    key[GGUF_MAX_KEY_LEN] = 0; /* exactly at the limit: fine */
    gb_header(&f->b, 3, 0, 1);
    gb_kv_u32(&f->b, key, 1);
    EXPECT_OK(f);
    assert_non_null(gguf_find_kv(&f->gf, key));
}

static void test_rejects_duplicate_key(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 3);
    gb_kv_str(&f->b, "general.name", "a");
    gb_kv_u32(&f->b, "general.file_type", 1);
    gb_kv_str(&f->b, "general.name", "b");
    EXPECT_ERR2(f, SLM_E_DUPLICATE, "general.name", "kv 0 and kv 2");
}

static void test_rejects_unknown_value_type(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_key(&f->b, "x.y", 13);
    gb_u64(&f->b, 0);
    EXPECT_ERR2(f, SLM_E_KV_TYPE, "x.y", "13");
}

static void test_rejects_truncated_scalar_value(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_key(&f->b, "x.big", GGUF_T_UINT64);
    gb_u32(&f->b, 7);
    EXPECT_ERR2(f, SLM_E_TRUNCATED, "x.big", "value truncated");
}

/* ---- arrays ---------------------------------------------------------------- */

static void test_rejects_nested_array(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_arr(&f->b, "x.nested", GGUF_T_ARRAY, 1);
    gb_u32(&f->b, GGUF_T_UINT8);
    gb_u64(&f->b, 1);
    gb_u8(&f->b, 1);
    EXPECT_ERR2(f, SLM_E_KV_TYPE, "x.nested", "nested");
}

static void test_rejects_unknown_array_element_type(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_arr(&f->b, "x.arr", 99, 1);
    gb_u64(&f->b, 0);
    EXPECT_ERR2(f, SLM_E_KV_TYPE, "x.arr", "99");
}

static void test_rejects_truncated_array_data(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 2);
    gb_kv_str(&f->b, "general.name", "a fairly long name to give the file some bytes");
    gb_arr(&f->b, "tokenizer.ggml.scores", GGUF_T_FLOAT32, 16);
    for (int i = 0; i < 10; i++)
        gb_f32(&f->b, 0.5f);
    EXPECT_ERR(f, SLM_E_TRUNCATED, "kv 1 (key tokenizer.ggml.scores): array data truncated");
}

static void test_rejects_array_count_times_size_overflow(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_arr(&f->b, "x.u64s", GGUF_T_UINT64, 1ull << 62); /* 2^65 bytes */
    gb_zeros(&f->b, 64);
    EXPECT_ERR2(f, SLM_E_COUNT, "x.u64s", "too large");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 1);
    gb_arr(&f->b, "x.u64s", GGUF_T_UINT64, 1ull << 60); /* 2^63 bytes: no overflow */
    gb_zeros(&f->b, 64);
    EXPECT_ERR2(f, SLM_E_TRUNCATED, "x.u64s", "array data truncated");
}

static void test_rejects_string_array_elements_past_buffer(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_arr(&f->b, "tokenizer.ggml.tokens", GGUF_T_STRING, UINT64_MAX);
    gb_str(&f->b, "a");
    EXPECT_ERR2(f, SLM_E_TRUNCATED, "tokenizer.ggml.tokens", "truncated");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 1);
    gb_arr(&f->b, "tokenizer.ggml.tokens", GGUF_T_STRING, 3);
    gb_str(&f->b, "a");
    gb_str(&f->b, "b");
    gb_u64(&f->b, 100); /* third string runs past the end */
    gb_put(&f->b, "ccccccccc", 9);
    EXPECT_ERR2(f, SLM_E_TRUNCATED, "tokenizer.ggml.tokens", "string array truncated");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 1);
    gb_arr(&f->b, "tokenizer.ggml.tokens", GGUF_T_STRING, 2);
    gb_str(&f->b, "a");
    gb_u64(&f->b, 1ull << 63);
    gb_zeros(&f->b, 32);
    EXPECT_ERR2(f, SLM_E_STRING, "tokenizer.ggml.tokens", "string 1");
}

/* ---- well-known keys ------------------------------------------------------- */

static void test_rejects_scores_as_int32_array(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_arr(&f->b, "tokenizer.ggml.scores", GGUF_T_INT32, 2);
    gb_u32(&f->b, 1);
    gb_u32(&f->b, 2);
    EXPECT_ERR2(f, SLM_E_ARRAY_TYPE, "tokenizer.ggml.scores",
                "array of int32, expected array "
                "of float32");
}

static void test_rejects_tokens_as_plain_string(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_kv_str(&f->b, "tokenizer.ggml.tokens", "abc");
    EXPECT_ERR2(f, SLM_E_KV_TYPE, "tokenizer.ggml.tokens", "string");
}

static void test_rejects_well_known_scalar_of_wrong_type(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 1);
    gb_kv_u32(&f->b, "general.architecture", 7);
    EXPECT_ERR2(f, SLM_E_KV_TYPE, "general.architecture", "type uint32, expected string");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 1);
    gb_kv_str(&f->b, "tokenizer.ggml.add_bos_token", "yes");
    EXPECT_ERR2(f, SLM_E_KV_TYPE, "tokenizer.ggml.add_bos_token", "expected bool");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 1);
    gb_kv_u64(&f->b, "general.file_type", 2);
    EXPECT_ERR2(f, SLM_E_KV_TYPE, "general.file_type", "type uint64, expected uint32");
}

static void test_token_ids_accept_any_non_negative_integer(void **state)
{
    struct fx *f = *state;
    uint32_t v = 0;
    gb_header(&f->b, 3, 0, 2);
    gb_key(&f->b, "tokenizer.ggml.bos_token_id", GGUF_T_INT64);
    gb_u64(&f->b, 5);
    gb_key(&f->b, "tokenizer.ggml.eos_token_id", GGUF_T_UINT16);
    gb_u16(&f->b, 6);
    EXPECT_OK(f);
    assert_int_equal(gguf_get_u32(&f->gf, "tokenizer.ggml.bos_token_id", &v, NULL), 0);
    assert_int_equal(v, 5);
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 1);
    gb_kv_i32(&f->b, "tokenizer.ggml.eos_token_id", -1);
    EXPECT_ERR(f, SLM_E_KV_VALUE, "tokenizer.ggml.eos_token_id");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 1);
    gb_kv_f32(&f->b, "tokenizer.ggml.eos_token_id", 2.0f);
    EXPECT_ERR2(f, SLM_E_KV_TYPE, "tokenizer.ggml.eos_token_id", "float32");
}

static void test_rejects_block_count_1000(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 2);
    gb_kv_u32(&f->b, "llama.block_count", 1000); /* before general.architecture */
    gb_kv_str(&f->b, "general.architecture", "llama");
    EXPECT_ERR2(f, SLM_E_LIMIT, "llama.block_count", "1000");
}

static void test_arch_keys_checked_for_the_files_architecture(void **state)
{
    struct fx *f = *state;
    gb_header(&f->b, 3, 0, 2);
    gb_kv_f32(&f->b, "qwen2.context_length", 4096.0f);
    gb_kv_str(&f->b, "general.architecture", "qwen2");
    EXPECT_ERR2(f, SLM_E_KV_TYPE, "qwen2.context_length", "float32");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 2);
    gb_kv_str(&f->b, "general.architecture", "llama");
    gb_kv_i32(&f->b, "llama.attention.head_count", -4);
    EXPECT_ERR(f, SLM_E_KV_VALUE, "llama.attention.head_count");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 2);
    gb_kv_str(&f->b, "general.architecture", "llama");
    gb_kv_u32(&f->b, "llama.rope.freq_base", 10000);
    EXPECT_ERR2(f, SLM_E_KV_TYPE, "llama.rope.freq_base", "uint32");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 3); /* another architecture's keys are not checked */
    gb_kv_str(&f->b, "general.architecture", "llama");
    gb_kv_f32(&f->b, "qwen2.context_length", 1.0f);
    gb_key(&f->b, "llama.attention.layer_norm_rms_epsilon", GGUF_T_FLOAT64);
    gb_f64(&f->b, 1e-6);
    EXPECT_OK(f);
}

static void test_rejects_vocab_count_mismatch(void **state)
{
    struct fx *f = *state;
    static const char *const toks[] = {"a", "b", "c"};
    gb_header(&f->b, 3, 0, 2);
    gb_kv_strs(&f->b, "tokenizer.ggml.tokens", toks, 3);
    gb_arr(&f->b, "tokenizer.ggml.scores", GGUF_T_FLOAT32, 2);
    gb_f32(&f->b, 0);
    gb_f32(&f->b, 0);
    EXPECT_ERR(f, SLM_E_COUNT, "tokenizer.ggml.scores");
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 2);
    gb_arr(&f->b, "tokenizer.ggml.token_type", GGUF_T_INT32, 4);
    for (int i = 0; i < 4; i++)
        gb_u32(&f->b, 1);
    gb_kv_strs(&f->b, "tokenizer.ggml.tokens", toks, 3);
    EXPECT_ERR(f, SLM_E_COUNT, "tokenizer.ggml.token_type");
}

/* tokens[] with types[] (type 6 = byte) */
static void byte_vocab(struct gb *b, const char *const *toks, const int32_t *types, size_t n)
{
    gb_header(b, 3, 0, 2);
    gb_kv_strs(b, "tokenizer.ggml.tokens", toks, n);
    gb_arr(b, "tokenizer.ggml.token_type", GGUF_T_INT32, n);
    for (size_t i = 0; i < n; i++)
        gb_u32(b, (uint32_t)types[i]);
}

static void test_rejects_malformed_byte_tokens(void **state)
{
    struct fx *f = *state;
    static const char *const bad[] = {"<0x-1>", "<0x100>", "<0xG1>", "<0x1>", "0x41"};
    static const int32_t types[] = {1, 6};
    for (size_t k = 0; k < 5; k++) {
        const char *toks[] = {"ok", bad[k]};
        char want[64];
        gb_free(&f->b);
        byte_vocab(&f->b, toks, types, 2);
        snprintf(want, sizeof want, "token 1 (%s)", bad[k]);
        EXPECT_ERR(f, SLM_E_TOKEN, want);
    }
    /* without token types, a llama vocab's <0x..> tokens are byte tokens */
    static const char *const toks[] = {"<0x41>", "<0xzz>"};
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 2);
    gb_kv_str(&f->b, "tokenizer.ggml.model", "llama");
    gb_kv_strs(&f->b, "tokenizer.ggml.tokens", toks, 2);
    EXPECT_ERR(f, SLM_E_TOKEN, "token 1 (<0xzz>)");
    gb_free(&f->b); /* ... but not a gpt2 one's */
    gb_header(&f->b, 3, 0, 2);
    gb_kv_str(&f->b, "tokenizer.ggml.model", "gpt2");
    gb_kv_strs(&f->b, "tokenizer.ggml.tokens", toks, 2);
    EXPECT_OK(f);
}

static void test_accepts_well_formed_byte_tokens(void **state)
{
    struct fx *f = *state;
    static const char *const toks[] = {"<0x00>", "<0xff>", "<0xAb>", "<0x-1>"};
    static const int32_t types[] = {6, 6, 6, 1}; /* a normal token may look odd */
    byte_vocab(&f->b, toks, types, 4);
    EXPECT_OK(f);
}

/* ---- alignment ------------------------------------------------------------- */

static void test_rejects_bad_alignment(void **state)
{
    struct fx *f = *state;
    static const uint32_t bad[] = {0, 3, 48};
    for (size_t k = 0; k < 3; k++) {
        gb_free(&f->b);
        gb_header(&f->b, 3, 0, 1);
        gb_kv_u32(&f->b, "general.alignment", bad[k]);
        EXPECT_ERR2(f, SLM_E_ALIGN, "general.alignment", "power of two");
    }
    gb_free(&f->b);
    gb_header(&f->b, 3, 0, 1);
    gb_kv_u64(&f->b, "general.alignment", 32);
    EXPECT_ERR2(f, SLM_E_ALIGN, "general.alignment", "uint64");
}

static void test_custom_alignment_64_and_4096(void **state)
{
    struct fx *f = *state;
    static const uint32_t aligns[] = {64, 4096};
    static const uint64_t ne[] = {16};
    for (size_t k = 0; k < 2; k++) {
        uint32_t a = aligns[k];
        gb_free(&f->b);
        gb_header(&f->b, 3, 2, 1);
        gb_kv_u32(&f->b, "general.alignment", a);
        gb_tensor(&f->b, "a", 1, ne, SLM_Q_F32, 0);
        gb_tensor(&f->b, "b", 1, ne, SLM_Q_F32, a);
        size_t header_end = f->b.n;
        gb_align(&f->b, a);
        gb_zeros(&f->b, a + 64);
        EXPECT_OK(f);
        assert_int_equal(f->gf.alignment, a);
        assert_int_equal(f->gf.data_offset, (header_end + a - 1) / a * a);
        assert_int_equal(f->gf.data_offset % a, 0);
        assert_ptr_equal(f->gf.tensors[1].data, f->b.p + f->gf.data_offset + a);
    }
    gb_free(&f->b); /* 64-aligned file: offset 32 is misaligned */
    gb_header(&f->b, 3, 1, 1);
    gb_kv_u32(&f->b, "general.alignment", 64);
    gb_tensor(&f->b, "a", 1, ne, SLM_Q_F32, 32);
    gb_align(&f->b, 64);
    gb_zeros(&f->b, 128);
    EXPECT_ERR2(f, SLM_E_ALIGN, "tensor a", "0x20");
}

/* ---- tensors --------------------------------------------------------------- */

static void test_rejects_truncated_tensor_info(void **state)
{
    struct fx *f = *state;
    static const uint64_t ne[] = {32, 4};
    gb_header(&f->b, 3, 2, 1);
    gb_kv_str(&f->b, "general.name",
              "a name long enough that the counts still fit in the "
              "bytes that remain after the header, so the parser has to "
              "walk up to the cut to notice it");
    gb_tensor(&f->b, "first", 2, ne, SLM_Q_F32, 0);
    size_t start = f->b.n;
    gb_tensor(&f->b, "second", 2, ne, SLM_Q_F32, 512);
    size_t cuts[] = {start + 4, start + 8 + 6 + 2, start + 8 + 6 + 4 + 10, f->b.n - 3};
    const char *want[] = {"tensor 1: name truncated", "tensor second: info truncated",
                          "tensor second: info truncated", "tensor second: info truncated"};
    for (int k = 0; k < 4; k++) {
        f->b.n = cuts[k];
        EXPECT_ERR(f, SLM_E_TRUNCATED, want[k]);
    }
}

static void test_rejects_n_dims_0_and_5(void **state)
{
    struct fx *f = *state;
    static const uint64_t ne[] = {1, 1, 1, 1, 1};
    one_tensor(&f->b, "blk.0.ffn_up.weight", 0, ne, SLM_Q_F32, 0);
    gb_zeros(&f->b, 64);
    EXPECT_ERR2(f, SLM_E_DIMS, "blk.0.ffn_up.weight", "0 dimensions");
    gb_free(&f->b);
    one_tensor(&f->b, "blk.0.ffn_up.weight", 5, ne, SLM_Q_F32, 0);
    gb_zeros(&f->b, 64);
    EXPECT_ERR2(f, SLM_E_DIMS, "blk.0.ffn_up.weight", "5 dimensions");
}

static void test_rejects_zero_dimension(void **state)
{
    struct fx *f = *state;
    static const uint64_t ne[] = {32, 0, 2};
    one_tensor(&f->b, "output.weight", 3, ne, SLM_Q_F32, 0);
    gb_zeros(&f->b, 64);
    EXPECT_ERR2(f, SLM_E_DIMS, "output.weight", "zero dimension");
}

static void test_rejects_overflowing_dims_product(void **state)
{
    struct fx *f = *state;
    static const uint64_t ne[] = {1ull << 32, 1ull << 32};
    one_tensor(&f->b, "huge", 2, ne, SLM_Q_I8, 0);
    gb_zeros(&f->b, 64);
    EXPECT_ERR2(f, SLM_E_OVERFLOW, "tensor huge", "element count");
}

static void test_rejects_element_count_times_type_size_overflow(void **state)
{
    struct fx *f = *state;
    static const uint64_t ne[] = {1ull << 62}; /* 2^62 f32 = 2^64 bytes */
    one_tensor(&f->b, "wide", 1, ne, SLM_Q_F32, 0);
    gb_zeros(&f->b, 64);
    EXPECT_ERR2(f, SLM_E_OVERFLOW, "tensor wide", "byte size");
    gb_free(&f->b);
    static const uint64_t ne2[] = {1ull << 40, 1ull << 22}; /* rows x row bytes overflow */
    one_tensor(&f->b, "tall", 2, ne2, SLM_Q_F64, 0);
    gb_zeros(&f->b, 64);
    EXPECT_ERR2(f, SLM_E_OVERFLOW, "tensor tall", "byte size");
}

static void test_rejects_unknown_tensor_types(void **state)
{
    struct fx *f = *state;
    static const uint32_t bad[] = {4, 5, 31, 36, 40, 255, UINT32_MAX};
    static const uint64_t ne[] = {256};
    for (size_t k = 0; k < SLM_ARRAY_SIZE(bad); k++) {
        char want[32];
        gb_free(&f->b);
        one_tensor(&f->b, "blk.1.attn_k.weight", 1, ne, bad[k], 0);
        gb_zeros(&f->b, 2048);
        snprintf(want, sizeof want, "type %u", bad[k]);
        EXPECT_ERR2(f, SLM_E_TENSOR_TYPE, "blk.1.attn_k.weight", want);
    }
}

static void test_rejects_row_not_multiple_of_block(void **state)
{
    struct fx *f = *state;
    static const uint64_t ne[] = {48, 2};
    one_tensor(&f->b, "blk.0.attn_v.weight", 2, ne, SLM_Q_Q4_0, 0);
    gb_zeros(&f->b, 256);
    EXPECT_ERR2(f, SLM_E_DIMS, "blk.0.attn_v.weight", "Q4_0 block 32");
}

static void test_rejects_misaligned_offset(void **state)
{
    struct fx *f = *state;
    static const uint64_t ne[] = {8};
    one_tensor(&f->b, "blk.2.ffn_norm.weight", 1, ne, SLM_Q_F32, 16);
    gb_zeros(&f->b, 64);
    EXPECT_ERR2(f, SLM_E_ALIGN, "blk.2.ffn_norm.weight", "0x10");
}

static void test_rejects_data_beyond_end_of_file(void **state)
{
    struct fx *f = *state;
    static const uint64_t ne[] = {4096, 2}; /* Q8_0: 128 blocks x 34 bytes x 2 rows = 0x2200 */
    char want[160];
    one_tensor(&f->b, "blk.3.attn_q.weight", 2, ne, SLM_Q_Q8_0, 0x1000);
    size_t data = f->b.n;
    gb_zeros(&f->b, 0x2000);
    snprintf(want, sizeof want,
             "tensor blk.3.attn_q.weight: data [offset 0x%zx+0x2200] beyond end of file (0x%zx)",
             data + 0x1000, f->b.n);
    EXPECT_ERR(f, SLM_E_BOUNDS, want);
    assert_string_equal(f->err.msg, want);
    gb_free(&f->b); /* an offset so large that data_offset + offset overflows */
    one_tensor(&f->b, "far", 2, ne, SLM_Q_Q8_0, UINT64_MAX - 31);
    gb_zeros(&f->b, 64);
    EXPECT_ERR2(f, SLM_E_BOUNDS, "tensor far", "beyond end of file");
    gb_free(&f->b); /* ends one byte past the end */
    static const uint64_t ne1[] = {16};
    one_tensor(&f->b, "edge", 1, ne1, SLM_Q_F32, 0);
    gb_zeros(&f->b, 63);
    EXPECT_ERR2(f, SLM_E_BOUNDS, "tensor edge", "beyond end of file");
    gb_zeros(&f->b, 1); /* exactly to the end: fine */
    EXPECT_OK(f);
}

static void test_rejects_truncated_data(void **state)
{
    struct fx *f = *state;
    small_model(&f->b, 3);
    f->b.n -= 1;
    EXPECT_ERR2(f, SLM_E_BOUNDS, "output_norm.weight", "beyond end of file");
    f->b.n -= 200;
    EXPECT_ERR(f, SLM_E_BOUNDS, "beyond end of file");
}

static void test_rejects_overlapping_tensors(void **state)
{
    struct fx *f = *state;
    static const uint64_t ne[] = {16}; /* 64 bytes */
    gb_header(&f->b, 3, 3, 0);
    gb_tensor(&f->b, "c", 1, ne, SLM_Q_F32, 128);
    gb_tensor(&f->b, "blk.0.attn_k.weight", 1, ne, SLM_Q_F32, 0);
    gb_tensor(&f->b, "blk.0.attn_v.weight", 1, ne, SLM_Q_F32, 32);
    gb_align(&f->b, 32);
    gb_zeros(&f->b, 256);
    EXPECT_ERR2(f, SLM_E_OVERLAP, "blk.0.attn_k.weight", "blk.0.attn_v.weight");
    gb_free(&f->b); /* same offset */
    gb_header(&f->b, 3, 2, 0);
    gb_tensor(&f->b, "x", 1, ne, SLM_Q_F32, 64);
    gb_tensor(&f->b, "y", 1, ne, SLM_Q_F32, 64);
    gb_align(&f->b, 32);
    gb_zeros(&f->b, 256);
    EXPECT_ERR2(f, SLM_E_OVERLAP, "tensors x", "and y");
}

static void test_rejects_duplicate_tensor_name(void **state)
{
    struct fx *f = *state;
    static const uint64_t ne[] = {16};
    gb_header(&f->b, 3, 3, 0);
    gb_tensor(&f->b, "token_embd.weight", 1, ne, SLM_Q_F32, 0);
    gb_tensor(&f->b, "output.weight", 1, ne, SLM_Q_F32, 64);
    gb_tensor(&f->b, "token_embd.weight", 1, ne, SLM_Q_F32, 128);
    gb_align(&f->b, 32);
    gb_zeros(&f->b, 256);
    EXPECT_ERR2(f, SLM_E_DUPLICATE, "token_embd.weight", "tensors 0 and 2");
}

static void test_rejects_bad_tensor_names(void **state)
{
    struct fx *f = *state;
    static const uint64_t ne[] = {16};
    one_tensor(&f->b, "", 1, ne, SLM_Q_F32, 0);
    gb_zeros(&f->b, 64);
    EXPECT_ERR(f, SLM_E_STRING, "tensor 0: empty name");
    gb_free(&f->b);
    gb_header(&f->b, 3, 1, 0);
    gb_u64(&f->b, GGUF_MAX_KEY_LEN + 1);
    gb_zeros(&f->b, 2048);
    EXPECT_ERR(f, SLM_E_STRING, "tensor 0: name of length 1025");
}

static void test_rejects_small_pool(void **state)
{
    struct fx *f = *state;
    small_model(&f->b, 3);
    slm_pool_init(&f->pool, f->mem, 1024);
    EXPECT_ERR(f, SLM_E_NOMEM, "pool");
}

/* ---- valid files ----------------------------------------------------------- */

static void test_parses_v2_and_v3(void **state)
{
    struct fx *f = *state;
    for (uint32_t v = 2; v <= 3; v++) {
        gb_free(&f->b);
        small_model(&f->b, v);
        EXPECT_OK(f);
        assert_int_equal(f->gf.version, v);
        assert_int_equal(f->gf.n_kv, 14);
        assert_int_equal(f->gf.n_tensors, 3);
        assert_int_equal(f->gf.alignment, GGUF_DEFAULT_ALIGNMENT);
        assert_ptr_equal(f->gf.buf, f->b.p);
        assert_int_equal(f->gf.size, f->b.n);
        assert_true(gguf_str_eq(f->gf.kv[0].key, "general.architecture"));
        assert_true(gguf_str_eq(f->gf.kv[0].v.s, "llama"));
    }
}

static void test_parses_empty_file(void **state)
{
    struct fx *f = *state;
    size_t used = f->pool.used;
    gb_header(&f->b, 3, 0, 0);
    EXPECT_OK(f);
    assert_int_equal(f->gf.n_kv, 0);
    assert_int_equal(f->gf.n_tensors, 0);
    assert_int_equal(f->gf.data_offset, 32);
    assert_null(gguf_find_kv(&f->gf, "general.name"));
    assert_null(gguf_find_tensor(&f->gf, "output.weight"));
    assert_int_equal(f->pool.used - used, gguf_pool_bytes(0, 0));
}

static void test_tensor_data_points_into_the_buffer(void **state)
{
    struct fx *f = *state;
    small_model(&f->b, 3);
    EXPECT_OK(f);
    static const size_t nbytes[] = {896, 72, 128};
    for (uint64_t i = 0; i < f->gf.n_tensors; i++) {
        const struct gguf_tensor *t = &f->gf.tensors[i];
        assert_ptr_equal(t->data, f->b.p + f->gf.data_offset + t->offset);
        assert_int_equal(t->nbytes, nbytes[i]);
    }
    const struct gguf_tensor *q = gguf_find_tensor(&f->gf, "blk.0.attn_q.weight");
    assert_ptr_equal(q, &f->gf.tensors[1]);
    assert_int_equal(q->n_dims, 2);
    assert_int_equal(q->ne[0], 32);
    assert_int_equal(q->ne[1], 4);
    assert_int_equal(q->ne[2], 1);
    assert_int_equal(q->ne[3], 1);
    assert_int_equal(q->type, SLM_Q_Q4_0);
    assert_int_equal(q->data[0], (uint8_t)(896 * 7));
}

static void test_lookups_of_present_and_absent_names(void **state)
{
    struct fx *f = *state;
    small_model(&f->b, 3);
    EXPECT_OK(f);
    for (uint64_t i = 0; i < f->gf.n_kv; i++) {
        char key[128];
        const struct gguf_kv *kv = &f->gf.kv[i];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.n, kv->key.p);
        assert_ptr_equal(gguf_find_kv(&f->gf, key), kv);
    }
    assert_non_null(gguf_find_tensor(&f->gf, "token_embd.weight"));
    assert_non_null(gguf_find_tensor(&f->gf, "output_norm.weight"));
    assert_null(gguf_find_kv(&f->gf, "general"));
    assert_null(gguf_find_kv(&f->gf, "general.name2"));
    assert_null(gguf_find_kv(&f->gf, ""));
    assert_null(gguf_find_kv(&f->gf, "token_embd.weight"));
    assert_null(gguf_find_tensor(&f->gf, "token_embd"));
    assert_null(gguf_find_tensor(&f->gf, "general.name"));
    assert_null(gguf_find_tensor(&f->gf, ""));
}

/* One kv of every type: 0..12. */
static void all_types(struct gb *b)
{
    gb_header(b, 3, 0, 13);
    gb_key(b, "t.u8", GGUF_T_UINT8);
    gb_u8(b, 200);
    gb_key(b, "t.i8", GGUF_T_INT8);
    gb_u8(b, (uint8_t)-5);
    gb_key(b, "t.u16", GGUF_T_UINT16);
    gb_u16(b, 60000);
    gb_key(b, "t.i16", GGUF_T_INT16);
    gb_u16(b, (uint16_t)-300);
    gb_kv_u32(b, "t.u32", 4000000000u);
    gb_kv_i32(b, "t.i32", -70000);
    gb_kv_f32(b, "t.f32", 1.5f);
    gb_kv_bool(b, "t.bool", 1);
    gb_kv_str(b, "t.str", "hello");
    gb_arr(b, "t.arr", GGUF_T_INT16, 3);
    gb_u16(b, 1);
    gb_u16(b, (uint16_t)-2);
    gb_u16(b, 3);
    gb_kv_u64(b, "t.u64", 1ull << 40);
    gb_key(b, "t.i64", GGUF_T_INT64);
    gb_u64(b, (uint64_t) - (1ll << 40));
    gb_key(b, "t.f64", GGUF_T_FLOAT64);
    gb_f64(b, 2.25);
}

static void test_all_value_types_round_trip(void **state)
{
    struct fx *f = *state;
    struct slm_err e;
    uint32_t u32;
    uint64_t u64;
    float fl;
    bool bo;
    struct gguf_str s;
    const struct gguf_kv *arr;
    all_types(&f->b);
    EXPECT_OK(f);
    for (uint32_t t = 0; t < GGUF_T_COUNT; t++)
        assert_int_equal(f->gf.kv[t].type, t);
    assert_int_equal(gguf_get_u32(&f->gf, "t.u8", &u32, &e), 0);
    assert_int_equal(u32, 200);
    assert_int_equal(f->gf.kv[1].v.i, -5);
    assert_int_equal(gguf_get_u32(&f->gf, "t.i8", &u32, &e), -SLM_E_KV_VALUE);
    assert_non_null(strstr(e.msg, "t.i8"));
    assert_int_equal(gguf_get_u32(&f->gf, "t.u16", &u32, &e), 0);
    assert_int_equal(u32, 60000);
    assert_int_equal(f->gf.kv[3].v.i, -300);
    assert_int_equal(gguf_get_u32(&f->gf, "t.u32", &u32, &e), 0);
    assert_int_equal(u32, 4000000000u);
    assert_int_equal(f->gf.kv[5].v.i, -70000);
    assert_int_equal(gguf_get_u64(&f->gf, "t.i32", &u64, &e), -SLM_E_KV_VALUE);
    assert_int_equal(gguf_get_f32(&f->gf, "t.f32", &fl, &e), 0);
    assert_true(fl == 1.5f);
    assert_int_equal(gguf_get_bool(&f->gf, "t.bool", &bo, &e), 0);
    assert_true(bo);
    assert_int_equal(gguf_get_str(&f->gf, "t.str", &s, &e), 0);
    assert_true(gguf_str_eq(s, "hello"));
    assert_int_equal(gguf_get_arr(&f->gf, "t.arr", GGUF_T_INT16, &arr, &e), 0);
    assert_int_equal(arr->v.arr.n, 3);
    assert_int_equal(arr->v.arr.nbytes, 6);
    assert_int_equal(gguf_arr_i64(arr, 1), -2);
    assert_true(gguf_arr_f32(arr, 2) == 3.0f);
    assert_int_equal(gguf_arr_i64(arr, 3), 0); /* out of range */
    assert_int_equal(gguf_get_u64(&f->gf, "t.u64", &u64, &e), 0);
    assert_int_equal(u64, 1ull << 40);
    assert_int_equal(gguf_get_u32(&f->gf, "t.u64", &u32, &e), -SLM_E_KV_VALUE);
    assert_int_equal(f->gf.kv[11].v.i, -(1ll << 40));
    assert_int_equal(gguf_get_f32(&f->gf, "t.f64", &fl, &e), 0);
    assert_true(fl == 2.25f);
}

static void test_getters_reject_wrong_types_and_missing_keys(void **state)
{
    struct fx *f = *state;
    struct slm_err e;
    uint32_t u32;
    float fl;
    bool bo;
    struct gguf_str s;
    const struct gguf_kv *arr;
    all_types(&f->b);
    EXPECT_OK(f);
    assert_int_equal(gguf_get_u32(&f->gf, "t.str", &u32, &e), -SLM_E_KV_TYPE);
    assert_non_null(strstr(e.msg, "t.str"));
    assert_int_equal(gguf_get_u32(&f->gf, "t.f32", &u32, &e), -SLM_E_KV_TYPE);
    assert_int_equal(gguf_get_f32(&f->gf, "t.u32", &fl, &e), -SLM_E_KV_TYPE);
    assert_int_equal(gguf_get_bool(&f->gf, "t.u8", &bo, &e), -SLM_E_KV_TYPE);
    assert_int_equal(gguf_get_str(&f->gf, "t.arr", &s, &e), -SLM_E_KV_TYPE);
    assert_int_equal(gguf_get_arr(&f->gf, "t.arr", GGUF_T_INT32, &arr, &e), -SLM_E_ARRAY_TYPE);
    assert_non_null(strstr(e.msg, "t.arr"));
    assert_int_equal(gguf_get_arr(&f->gf, "t.str", GGUF_T_STRING, &arr, &e), -SLM_E_KV_TYPE);
    assert_int_equal(gguf_get_u32(&f->gf, "t.nope", &u32, &e), -SLM_E_MISSING);
    assert_non_null(strstr(e.msg, "t.nope"));
    assert_int_equal(gguf_get_str(&f->gf, "t.nope", &s, NULL), -SLM_E_MISSING);
}

static void test_numeric_arrays_convert(void **state)
{
    struct fx *f = *state;
    const struct gguf_kv *kv;
    gb_header(&f->b, 3, 0, 4);
    gb_arr(&f->b, "a.f64", GGUF_T_FLOAT64, 2);
    gb_f64(&f->b, 0.5);
    gb_f64(&f->b, -4.0);
    gb_arr(&f->b, "a.u8", GGUF_T_UINT8, 2);
    gb_u8(&f->b, 255);
    gb_u8(&f->b, 7);
    gb_arr(&f->b, "a.u64", GGUF_T_UINT64, 1);
    gb_u64(&f->b, UINT64_MAX);
    gb_arr(&f->b, "a.f32", GGUF_T_FLOAT32, 1);
    gb_f32(&f->b, 0.25f);
    EXPECT_OK(f);
    kv = gguf_find_kv(&f->gf, "a.f64");
    assert_true(gguf_arr_f32(kv, 0) == 0.5f && gguf_arr_f32(kv, 1) == -4.0f);
    assert_int_equal(gguf_arr_i64(kv, 0), 0); /* not an integer array */
    kv = gguf_find_kv(&f->gf, "a.u8");
    assert_int_equal(gguf_arr_i64(kv, 0), 255);
    assert_true(gguf_arr_f32(kv, 1) == 7.0f);
    kv = gguf_find_kv(&f->gf, "a.u64");
    assert_int_equal(gguf_arr_i64(kv, 0), INT64_MAX);
    kv = gguf_find_kv(&f->gf, "a.f32");
    assert_true(gguf_arr_f32(kv, 0) == 0.25f);
    assert_true(gguf_arr_f32(kv, 1) == 0.0f);
}

static void test_string_array_reads_back(void **state)
{
    struct fx *f = *state;
    const struct gguf_kv *kv;
    struct gguf_str out[N_VOCAB];
    small_model(&f->b, 3);
    EXPECT_OK(f);
    assert_int_equal(gguf_get_arr(&f->gf, "tokenizer.ggml.tokens", GGUF_T_STRING, &kv, NULL), 0);
    assert_int_equal(kv->v.arr.n, N_VOCAB);
    gguf_arr_strings(kv, out);
    for (int i = 0; i < N_VOCAB; i++)
        assert_true(gguf_str_eq(out[i], vocab[i]));
    assert_ptr_equal(out[N_VOCAB - 1].p + 1, kv->v.arr.data + kv->v.arr.nbytes);
    assert_int_equal(gguf_get_arr(&f->gf, "tokenizer.ggml.scores", GGUF_T_FLOAT32, &kv, NULL), 0);
    assert_true(gguf_arr_f32(kv, 3) == -3.0f);
    assert_int_equal(gguf_get_arr(&f->gf, "tokenizer.ggml.token_type", GGUF_T_INT32, &kv, NULL), 0);
    assert_int_equal(gguf_arr_i64(kv, 4), 6);
}

static void test_vtype_names(void **state)
{
    (void)state;
    assert_string_equal(gguf_vtype_name(GGUF_T_UINT8), "uint8");
    assert_string_equal(gguf_vtype_name(GGUF_T_INT16), "int16");
    assert_string_equal(gguf_vtype_name(GGUF_T_STRING), "string");
    assert_string_equal(gguf_vtype_name(GGUF_T_FLOAT64), "float64");
    assert_string_equal(gguf_vtype_name(GGUF_T_COUNT), "unknown");
    assert_string_equal(gguf_vtype_name(UINT32_MAX), "unknown");
}

/* ---- pool ------------------------------------------------------------------ */

static void test_pool_use_equals_gguf_pool_bytes(void **state)
{
    struct fx *f = *state;
    small_model(&f->b, 3);
    size_t used = f->pool.used;
    EXPECT_OK(f);
    size_t want = gguf_pool_bytes(f->gf.n_kv, f->gf.n_tensors);
    assert_int_equal(f->pool.used - used, want);
    used = f->pool.used; /* again, from a non-zero start */
    EXPECT_OK(f);
    assert_int_equal(f->pool.used - used, want);
    /* a pool of exactly that size is enough, 64 bytes less is not */
    void *exact = aligned_alloc(SLM_POOL_ALIGN, want);
    assert_non_null(exact);
    slm_pool_init(&f->pool, exact, want);
    EXPECT_OK(f);
    assert_int_equal(f->pool.used, want);
    assert_int_equal(f->pool.peak, want);
    slm_pool_init(&f->pool, exact, want - SLM_POOL_ALIGN);
    EXPECT_ERR(f, SLM_E_NOMEM, "pool");
    free(exact);
    assert_int_equal(gguf_pool_bytes(GGUF_MAX_KV + 1, 0), SIZE_MAX);
}

static void test_failed_parse_gives_the_pool_back(void **state)
{
    struct fx *f = *state;
    small_model(&f->b, 3);
    f->b.n -= 1; /* fails at the very end, after every allocation */
    size_t used = f->pool.used;
    EXPECT_ERR(f, SLM_E_BOUNDS, "output_norm.weight");
    assert_int_equal(f->pool.used, used);
    assert_int_equal(f->pool.peak, used + gguf_pool_bytes(14, 3));
}

/* ---- robustness ------------------------------------------------------------ */

static void test_every_truncation_is_rejected(void **state)
{
    struct fx *f = *state;
    small_model(&f->b, 3);
    size_t full = f->b.n, mark = slm_pool_mark(&f->pool);
    for (size_t n = 0; n < full; n++) {
        f->b.n = n;
        int rc = parse(f);
        if (rc == 0 || f->err.code != -rc || f->err.msg[0] == 0) {
            print_error("prefix of %zu bytes: rc %d msg \"%s\"\n", n, rc, f->err.msg);
            fail();
        }
        slm_pool_reset(&f->pool, mark);
    }
    f->b.n = full;
    EXPECT_OK(f);
}

/* Every byte flipped or bumped: any verdict is fine, a crash is not (ASan). */
static void test_every_byte_corruption_is_survived(void **state)
{
    struct fx *f = *state;
    static const uint8_t deltas[] = {0xff, 0x01, 0x80};
    small_model(&f->b, 3);
    size_t mark = slm_pool_mark(&f->pool);
    for (size_t i = 0; i < f->b.n; i++) {
        uint8_t keep = f->b.p[i];
        for (size_t d = 0; d < sizeof deltas; d++) {
            f->b.p[i] = (uint8_t)(keep ^ deltas[d]);
            int rc = parse(f);
            assert_true(rc == 0 || f->err.code == -rc);
            slm_pool_reset(&f->pool, mark);
        }
        f->b.p[i] = keep;
    }
}

/* ---- speed ----------------------------------------------------------------- */

#define BIG_VOCAB 32000
#define BIG_TENSORS 110

/* ~80 MB: a 32000-token llama vocab (256 byte tokens) and 110 Q4_0 tensors. */
static void big_model(struct gb *b)
{
    static const uint64_t ne[] = {4096, 320}; /* 737280 bytes */
    char tok[32];
    gb_header(b, 3, BIG_TENSORS, 5);
    gb_kv_str(b, "general.architecture", "llama");
    gb_kv_str(b, "tokenizer.ggml.model", "llama");
    gb_arr(b, "tokenizer.ggml.tokens", GGUF_T_STRING, BIG_VOCAB);
    for (int i = 0; i < BIG_VOCAB; i++) {
        if (i >= 3 && i < 259)
            snprintf(tok, sizeof tok, "<0x%02X>", i - 3);
        else
            snprintf(tok, sizeof tok, "tok%d", i);
        gb_str(b, tok);
    }
    gb_arr(b, "tokenizer.ggml.scores", GGUF_T_FLOAT32, BIG_VOCAB);
    for (int i = 0; i < BIG_VOCAB; i++)
        gb_f32(b, (float)-i);
    gb_arr(b, "tokenizer.ggml.token_type", GGUF_T_INT32, BIG_VOCAB);
    for (int i = 0; i < BIG_VOCAB; i++)
        gb_u32(b, i >= 3 && i < 259 ? 6 : 1);
    for (int i = 0; i < BIG_TENSORS; i++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.ffn_%d.weight", i / 7, i % 7);
        gb_tensor(b, name, 2, ne, SLM_Q_Q4_0, (uint64_t)i * 4096 / 32 * 18 * 320);
    }
    gb_align(b, GGUF_DEFAULT_ALIGNMENT);
    gb_zeros(b, (size_t)BIG_TENSORS * 4096 / 32 * 18 * 320);
}

static void test_parses_80mb_model_quickly(void **state)
{
    struct fx *f = *state;
    big_model(&f->b);
    size_t mark = slm_pool_mark(&f->pool);
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < 10; r++) {
        uint64_t t0 = slm_port_now_ns();
        EXPECT_OK(f);
        uint64_t dt = slm_port_now_ns() - t0;
        best = dt < best ? dt : best;
        slm_pool_reset(&f->pool, mark);
    }
    print_message("parse of %zu MB, %d tokens, %d tensors: %llu us (best of 10)\n", f->b.n >> 20,
                  BIG_VOCAB, BIG_TENSORS, (unsigned long long)(best / 1000));
    assert_int_equal(f->gf.n_tensors, BIG_TENSORS);
    assert_true(best < 500ull * 1000 * 1000); /* generous: sanitizers; -O2 is < 1 ms */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_rejects_file_shorter_than_header),
        T(test_rejects_bad_magic),
        T(test_rejects_version_1_and_4),
        T(test_rejects_huge_kv_count),
        T(test_rejects_huge_tensor_count),
        T(test_rejects_counts_that_cannot_fit_before_allocating),
        T(test_rejects_truncated_key),
        T(test_rejects_string_value_past_buffer),
        T(test_rejects_string_length_2_pow_63),
        T(test_rejects_empty_and_overlong_keys),
        T(test_rejects_duplicate_key),
        T(test_rejects_unknown_value_type),
        T(test_rejects_truncated_scalar_value),
        T(test_rejects_nested_array),
        T(test_rejects_unknown_array_element_type),
        T(test_rejects_truncated_array_data),
        T(test_rejects_array_count_times_size_overflow),
        T(test_rejects_string_array_elements_past_buffer),
        T(test_rejects_scores_as_int32_array),
        T(test_rejects_tokens_as_plain_string),
        T(test_rejects_well_known_scalar_of_wrong_type),
        T(test_token_ids_accept_any_non_negative_integer),
        T(test_rejects_block_count_1000),
        T(test_arch_keys_checked_for_the_files_architecture),
        T(test_rejects_vocab_count_mismatch),
        T(test_rejects_malformed_byte_tokens),
        T(test_accepts_well_formed_byte_tokens),
        T(test_rejects_bad_alignment),
        T(test_custom_alignment_64_and_4096),
        T(test_rejects_truncated_tensor_info),
        T(test_rejects_n_dims_0_and_5),
        T(test_rejects_zero_dimension),
        T(test_rejects_overflowing_dims_product),
        T(test_rejects_element_count_times_type_size_overflow),
        T(test_rejects_unknown_tensor_types),
        T(test_rejects_row_not_multiple_of_block),
        T(test_rejects_misaligned_offset),
        T(test_rejects_data_beyond_end_of_file),
        T(test_rejects_truncated_data),
        T(test_rejects_overlapping_tensors),
        T(test_rejects_duplicate_tensor_name),
        T(test_rejects_bad_tensor_names),
        T(test_rejects_small_pool),
        T(test_parses_v2_and_v3),
        T(test_parses_empty_file),
        T(test_tensor_data_points_into_the_buffer),
        T(test_lookups_of_present_and_absent_names),
        T(test_all_value_types_round_trip),
        T(test_getters_reject_wrong_types_and_missing_keys),
        T(test_numeric_arrays_convert),
        T(test_string_array_reads_back),
        T(test_vtype_names),
        T(test_pool_use_equals_gguf_pool_bytes),
        T(test_failed_parse_gives_the_pool_back),
        T(test_every_truncation_is_rejected),
        T(test_every_byte_corruption_is_survived),
        T(test_parses_80mb_model_quickly),
    };
    return cmocka_run_group_tests_name("gguf", tests, NULL, NULL);
}
