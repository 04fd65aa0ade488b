/*
 * corrupt.c - the --corrupt kinds: a full model of the preset with exactly
 * one defect, one kind per rejection of the GGUF parser (gguf.c), and the
 * code the parser must answer, by its symbolic name (SLM_E_<name>, as
 * slm_errsym() spells it). Where two are listed ("A|B") the first is what
 * gguf.c answers today and the second is also a correct reading of the
 * defect.
 *
 * Every defect sits where all that the parser checks before it is valid,
 * so the expected code is the only one it can give.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "forge.h"
#include "qtypes.h"

static int set_header(struct aut_gguf_w *w, struct aut_gguf_w_raw_header h)
{
    return aut_gguf_w_raw_header(w, &h);
}

/* Overrides the info record of tensor `name`. */
static int edit_tensor(struct aut_gguf_w *w, const char *name, struct aut_gguf_w_raw_tensor r)
{
    int i = aut_gguf_w_find_tensor(w, name);
    return i < 0 ? i : aut_gguf_w_raw_tensor(w, i, &r);
}

static int c_truncated(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    /* ends inside the last tensor info's u64 offset: a fixed-size field */
    return set_header(w,
                      (struct aut_gguf_w_raw_header){.truncate_at = aut_gguf_w_info_size(w) - 4});
}

static int c_bad_magic(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    return set_header(w, (struct aut_gguf_w_raw_header){.set_magic = true, .magic = 0x4c4d4747});
}

static int c_bad_version(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    return set_header(w, (struct aut_gguf_w_raw_header){.set_version = true, .version = 4});
}

static int c_huge_kv_count(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    return set_header(w, (struct aut_gguf_w_raw_header){.set_n_kv = true, .n_kv = 1ull << 40});
}

static int c_huge_tensor_count(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    return set_header(
        w, (struct aut_gguf_w_raw_header){.set_n_tensors = true, .n_tensors = 1ull << 40});
}

static int c_string_overflow(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    /* general.name, moved last, claims 2^40 bytes: past the file and the limit */
    uint8_t val[8 + 64];
    uint64_t len = 1ull << 40;
    size_t n = strlen(job->name) < 64 ? strlen(job->name) : 64;
    memcpy(val, &len, 8);
    memcpy(val + 8, job->name, n);
    int rc = aut_gguf_w_remove_kv(w, "general.name");
    return rc ? rc : aut_gguf_w_raw_kv(w, "general.name", GGUF_T_STRING, val, 8 + n);
}

static int c_too_many_dims(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    return edit_tensor(
        w, "blk.0.attn_norm.weight",
        (struct aut_gguf_w_raw_tensor){.n_dims = 5, .ne = {job->hp.dim, 1, 1, 1, 1}});
}

static int c_zero_dim(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    return edit_tensor(w, "token_embd.weight",
                       (struct aut_gguf_w_raw_tensor){.n_dims = 2, .ne = {job->hp.dim, 0}});
}

static int c_dim_overflow(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    /* a dimension beyond INT64_MAX: the element count overflows */
    return edit_tensor(
        w, "token_embd.weight",
        (struct aut_gguf_w_raw_tensor){.n_dims = 2, .ne = {job->hp.dim, UINT64_MAX}});
}

static int c_unknown_type(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    return edit_tensor(w, "blk.0.attn_q.weight",
                       (struct aut_gguf_w_raw_tensor){.set_type = true, .type = 1000});
}

static int c_removed_type(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    /* 4 was Q4_2, removed from ggml */
    return edit_tensor(w, "blk.0.attn_q.weight",
                       (struct aut_gguf_w_raw_tensor){.set_type = true, .type = 4});
}

static int c_size_overflow(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    /* 2^62 f32 elements fit in int64; their 2^64 bytes do not */
    return edit_tensor(w, "blk.0.attn_norm.weight",
                       (struct aut_gguf_w_raw_tensor){.n_dims = 2, .ne = {1ull << 31, 1ull << 31}});
}

static int c_misaligned(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    /* the data really is there, one byte past an aligned offset */
    return edit_tensor(w, "blk.0.attn_q.weight", (struct aut_gguf_w_raw_tensor){.shift = 1});
}

static int c_overlap(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    /* a small tensor placed at offset 0, inside token_embd.weight */
    return edit_tensor(w, "blk.0.ffn_norm.weight",
                       (struct aut_gguf_w_raw_tensor){.detached = true, .offset = 0});
}

static int c_out_of_file(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    /* aligned, but starting past the end of the file */
    uint64_t past = (aut_gguf_w_file_size(w) + 4095) & ~(uint64_t)4095;
    return edit_tensor(w, "output_norm.weight",
                       (struct aut_gguf_w_raw_tensor){.detached = true, .offset = past});
}

static int c_alignment_zero(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    uint32_t a = 0;
    return aut_gguf_w_raw_kv(w, "general.alignment", GGUF_T_UINT32, &a, 4);
}

static int c_alignment_npot(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    uint32_t a = 48;
    return aut_gguf_w_raw_kv(w, "general.alignment", GGUF_T_UINT32, &a, 4);
}

static int c_alignment_type(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    uint8_t val[10] = {2, 0, 0, 0, 0, 0, 0, 0, '3', '2'}; /* the string "32" */
    return aut_gguf_w_raw_kv(w, "general.alignment", GGUF_T_STRING, val, sizeof val);
}

static int c_duplicate_key(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    uint8_t val[8 + 64];
    uint64_t n = strlen(job->name) < 64 ? strlen(job->name) : 64;
    memcpy(val, &n, 8);
    memcpy(val + 8, job->name, n);
    return aut_gguf_w_raw_kv(w, "general.name", GGUF_T_STRING, val, 8 + n);
}

static int c_duplicate_tensor(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    uint64_t ne[1] = {job->hp.dim};
    float *ones = malloc(job->hp.dim * sizeof *ones);
    if (!ones)
        return -ENOMEM;
    for (uint32_t i = 0; i < job->hp.dim; i++)
        ones[i] = 1.0f;
    int rc = aut_gguf_w_raw_add_tensor(w, "blk.0.attn_norm.weight", SLM_Q_F32, 1, ne, ones,
                                       job->hp.dim * sizeof *ones);
    free(ones);
    return rc;
}

static int c_scores_type(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    /* f64 scores: a well-formed array, of the wrong element type for the key */
    double *s = calloc(job->hp.vocab, sizeof *s);
    if (!s)
        return -ENOMEM;
    for (uint32_t i = 0; i < job->hp.vocab; i++)
        s[i] = i < 259 ? 0.0 : -(double)(i - 258);
    int rc = aut_gguf_w_remove_kv(w, "tokenizer.ggml.scores");
    if (!rc)
        rc = aut_gguf_w_add_arr(w, "tokenizer.ggml.scores", GGUF_T_FLOAT64, s, job->hp.vocab);
    free(s);
    return rc;
}

static void p_bad_byte_token(struct aut_forge_vocab *v)
{
    memcpy(v->pieces[3], "<0x-1>", 6); /* token 3 is <0x00>, of type BYTE */
}

static int c_too_many_blocks(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    int rc = aut_gguf_w_remove_kv(w, "llama.block_count");
    return rc ? rc : aut_gguf_w_add_u32(w, "llama.block_count", GGUF_MAX_BLOCKS + 44);
}

static int c_nested_array(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    /* array of 1 array of 1 uint8 */
    uint8_t val[4 + 8 + 4 + 8 + 1] = {GGUF_T_ARRAY,
                                      0,
                                      0,
                                      0,
                                      1,
                                      0,
                                      0,
                                      0,
                                      0,
                                      0,
                                      0,
                                      0,
                                      GGUF_T_UINT8,
                                      0,
                                      0,
                                      0,
                                      1,
                                      0,
                                      0,
                                      0,
                                      0,
                                      0,
                                      0,
                                      0,
                                      7};
    return aut_gguf_w_raw_kv(w, "forge.nested", GGUF_T_ARRAY, val, sizeof val);
}

/* The table: kind, the parser's answer, the defect. */
static const struct aut_forge_corrupt kinds[] = {
    {"truncated", "TRUNCATED", "file ends inside the last tensor info", NULL, c_truncated},
    {"bad-magic", "MAGIC", "magic \"GGML\" instead of \"GGUF\"", NULL, c_bad_magic},
    {"bad-version", "VERSION", "GGUF version 4", NULL, c_bad_version},
    {"huge-kv-count", "COUNT", "header claims 2^40 kv pairs", NULL, c_huge_kv_count},
    {"huge-tensor-count", "COUNT", "header claims 2^40 tensors", NULL, c_huge_tensor_count},
    {"string-overflow", "STRING|TRUNCATED", "general.name's length (2^40) runs past the file", NULL,
     c_string_overflow},
    {"too-many-dims", "DIMS", "a tensor with 5 dimensions", NULL, c_too_many_dims},
    {"zero-dim", "DIMS", "token_embd.weight with a zero dimension", NULL, c_zero_dim},
    {"dim-overflow", "OVERFLOW|DIMS", "token_embd.weight with a dimension of 2^64-1", NULL,
     c_dim_overflow},
    {"unknown-type", "TENSOR_TYPE", "a tensor of ggml type 1000", NULL, c_unknown_type},
    {"removed-type", "TENSOR_TYPE", "a tensor of the removed type 4 (Q4_2)", NULL, c_removed_type},
    {"size-overflow", "OVERFLOW", "a tensor of 2^62 f32 elements (2^64 bytes)", NULL,
     c_size_overflow},
    {"misaligned", "ALIGN", "tensor data offset 1 byte past the alignment", NULL, c_misaligned},
    {"overlap", "OVERLAP", "a tensor's data inside another's", NULL, c_overlap},
    {"out-of-file", "BOUNDS", "a tensor's data past the end of the file", NULL, c_out_of_file},
    {"alignment-zero", "ALIGN", "general.alignment = 0", NULL, c_alignment_zero},
    {"alignment-npot", "ALIGN", "general.alignment = 48", NULL, c_alignment_npot},
    {"alignment-type", "ALIGN", "general.alignment is the string \"32\"", NULL, c_alignment_type},
    {"duplicate-key", "DUPLICATE", "general.name twice", NULL, c_duplicate_key},
    {"duplicate-tensor", "DUPLICATE", "blk.0.attn_norm.weight twice", NULL, c_duplicate_tensor},
    {"scores-type", "ARRAY_TYPE", "tokenizer.ggml.scores as an array of float64", NULL,
     c_scores_type},
    {"bad-byte-token", "TOKEN", "byte token 3 spelled <0x-1>", p_bad_byte_token, NULL},
    {"too-many-blocks", "LIMIT", "llama.block_count = 300 (limit 256)", NULL, c_too_many_blocks},
    {"nested-array", "KV_TYPE", "an array of arrays", NULL, c_nested_array},
};

const struct aut_forge_corrupt *aut_forge_corrupt_find(const char *kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].kind, kind) == 0)
            return &kinds[i];
    return NULL;
}

const struct aut_forge_corrupt *aut_forge_corrupt_all(size_t *n)
{
    *n = sizeof kinds / sizeof kinds[0];
    return kinds;
}
