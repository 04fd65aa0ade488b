/*
 * tokenizer_gguf.c - builds a tokenizer from a GGUF file's tokenizer.ggml.*
 * metadata (see tokenizer.h). Kept apart from tokenizer.c so that code
 * building tokenizers from arrays does not link the GGUF parser.
 */
#include "tokenizer.h"

#define KEY_MODEL "tokenizer.ggml.model"
#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_SCORES "tokenizer.ggml.scores"
#define KEY_TYPES "tokenizer.ggml.token_type"
#define KEY_MERGES "tokenizer.ggml.merges"
#define KEY_BOS "tokenizer.ggml.bos_token_id"
#define KEY_EOS "tokenizer.ggml.eos_token_id"
#define KEY_UNK "tokenizer.ggml.unknown_token_id"
#define KEY_ADD_BOS "tokenizer.ggml.add_bos_token"
#define KEY_SPACE_PREFIX "tokenizer.ggml.add_space_prefix"

/* The string arrays the vocabulary's pieces and merges are copied from. */
struct tok_gguf_src {
    const struct gguf_kv *tokens, *merges;
};

static int read_kind(const struct gguf_file *gf, enum slm_tok_kind *kind, struct slm_err *err)
{
    struct gguf_str model;
    int rc = gguf_get_str(gf, KEY_MODEL, &model, err);
    if (rc)
        return rc;
    if (gguf_str_eq(model, "llama"))
        *kind = SLM_TOK_LLAMA;
    else if (gguf_str_eq(model, "gpt2"))
        *kind = SLM_TOK_GPT2;
    else
        return slm_err_set(err, SLM_E_UNSUPPORTED, "%s: tokenizer model '%.*s' not supported",
                           KEY_MODEL, (int)SLM_MIN(model.n, 64), model.p ? model.p : "");
    return 0;
}

/* An optional numeric array of n elements: its raw bytes, or NULL. */
static int opt_arr(const struct gguf_file *gf, const char *key, uint32_t type, uint32_t n,
                   const uint8_t **out, struct slm_err *err)
{
    const struct gguf_kv *kv;
    *out = NULL;
    if (!gguf_find_kv(gf, key))
        return 0;
    int rc = gguf_get_arr(gf, key, type, &kv, err);
    if (rc)
        return rc;
    if (kv->v.arr.n != n)
        return slm_err_set(err, SLM_E_COUNT, "%s: %llu entries for %u tokens", key,
                           (unsigned long long)kv->v.arr.n, n);
    *out = kv->v.arr.data;
    return 0;
}

/* An optional token id below n_vocab: -1 when absent. */
static int opt_id(const struct gguf_file *gf, const char *key, uint32_t n_vocab, int32_t *out,
                  struct slm_err *err)
{
    uint32_t u;
    *out = -1;
    if (!gguf_find_kv(gf, key))
        return 0;
    int rc = gguf_get_u32(gf, key, &u, err);
    if (rc)
        return rc;
    if (u >= n_vocab)
        return slm_err_set(err, SLM_E_TOKEN, "%s: token id %u outside the vocabulary (%u)", key, u,
                           n_vocab);
    *out = (int32_t)u;
    return 0;
}

static int opt_bool(const struct gguf_file *gf, const char *key, bool dflt, bool *out,
                    struct slm_err *err)
{
    *out = dflt;
    return gguf_find_kv(gf, key) ? gguf_get_bool(gf, key, out, err) : 0;
}

/* The pieces (and, for gpt2, the merges) array. */
static int read_arrays(const struct gguf_file *gf, struct slm_tok_vocab *v,
                       struct tok_gguf_src *src, struct slm_err *err)
{
    int rc = gguf_get_arr(gf, KEY_TOKENS, GGUF_T_STRING, &src->tokens, err);
    if (rc)
        return rc;
    if (src->tokens->v.arr.n == 0 || src->tokens->v.arr.n > SLM_TOK_MAX_VOCAB)
        return slm_err_set(err, SLM_E_LIMIT, "%s: %llu tokens (1..%u supported)", KEY_TOKENS,
                           (unsigned long long)src->tokens->v.arr.n, SLM_TOK_MAX_VOCAB);
    v->n_vocab = (uint32_t)src->tokens->v.arr.n;
    src->merges = NULL;
    v->n_merges = 0;
    if (v->kind != SLM_TOK_GPT2)
        return 0;
    rc = gguf_get_arr(gf, KEY_MERGES, GGUF_T_STRING, &src->merges, err);
    if (rc)
        return rc;
    if (src->merges->v.arr.n > SLM_TOK_MAX_MERGES)
        return slm_err_set(err, SLM_E_LIMIT, "%s: %llu merges (at most %u)", KEY_MERGES,
                           (unsigned long long)src->merges->v.arr.n, SLM_TOK_MAX_MERGES);
    v->n_merges = (uint32_t)src->merges->v.arr.n;
    return 0;
}

/* Fills *v from the metadata, except the pieces and merges pointers. */
static int read_vocab(const struct gguf_file *gf, struct slm_tok_vocab *v, struct tok_gguf_src *src,
                      struct slm_err *err)
{
    memset(v, 0, sizeof *v);
    int rc = read_kind(gf, &v->kind, err);
    if (!rc)
        rc = read_arrays(gf, v, src, err);
    if (!rc && v->kind == SLM_TOK_LLAMA)
        rc = opt_arr(gf, KEY_SCORES, GGUF_T_FLOAT32, v->n_vocab, &v->scores, err);
    if (!rc)
        rc = opt_arr(gf, KEY_TYPES, GGUF_T_INT32, v->n_vocab, &v->types, err);
    if (!rc)
        rc = opt_id(gf, KEY_BOS, v->n_vocab, &v->bos, err);
    if (!rc)
        rc = opt_id(gf, KEY_EOS, v->n_vocab, &v->eos, err);
    if (!rc)
        rc = opt_id(gf, KEY_UNK, v->n_vocab, &v->unk, err);
    if (!rc)
        rc = opt_bool(gf, KEY_ADD_BOS, v->kind == SLM_TOK_LLAMA, &v->add_bos, err);
    if (!rc && v->kind == SLM_TOK_LLAMA)
        rc = opt_bool(gf, KEY_SPACE_PREFIX, true, &v->add_space_prefix, err);
    return rc;
}

static size_t str_array_cost(uint32_t n)
{
    return n ? slm_pool_cost((size_t)n * sizeof(struct gguf_str)) : 0;
}

size_t slm_tok_gguf_pool_bytes(const struct gguf_file *gf)
{
    struct slm_tok_vocab v;
    struct tok_gguf_src src;
    struct slm_err err;
    if (!gf || read_vocab(gf, &v, &src, &err))
        return 0;
    return str_array_cost(v.n_vocab) + str_array_cost(v.n_merges) + slm_tok_pool_bytes(&v);
}

int slm_tok_from_gguf(struct slm_tokenizer *t, struct slm_tok_vocab *v, const struct gguf_file *gf,
                      struct slm_pool *pool, struct slm_err *err)
{
    if (!t || !v || !gf || !pool)
        return slm_err_set(err, SLM_E_INVAL, "tokenizer: null argument");
    struct slm_tok_vocab nv;
    struct tok_gguf_src src;
    int rc = read_vocab(gf, &nv, &src, err);
    if (rc)
        return rc;
    size_t mark = slm_pool_mark(pool);
    struct gguf_str *pieces = slm_pool_alloc(pool, (size_t)nv.n_vocab * sizeof *pieces, 8);
    struct gguf_str *merges = NULL;
    if (pieces && nv.n_merges)
        merges = slm_pool_alloc(pool, (size_t)nv.n_merges * sizeof *merges, 8);
    if (!pieces || (nv.n_merges && !merges)) {
        rc = slm_err_set(err, SLM_E_NOMEM, "tokenizer: no pool memory for %u pieces, %u merges",
                         nv.n_vocab, nv.n_merges);
        goto fail;
    }
    gguf_arr_strings(src.tokens, pieces);
    if (merges)
        gguf_arr_strings(src.merges, merges);
    nv.pieces = pieces;
    nv.merges = merges;
    rc = slm_tok_init(t, &nv, pool, err);
    if (rc)
        goto fail;
    *v = nv;
    return 0;
fail:
    slm_pool_reset(pool, mark);
    return rc;
}
