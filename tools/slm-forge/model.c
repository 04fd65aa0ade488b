/*
 * model.c - assembles the GGUF of a llama model: the metadata llama.cpp
 * writes (general.*, llama.*, tokenizer.ggml.*) and the planned tensors.
 * Nothing here depends on time or the environment: the same job gives the
 * same bytes.
 */
#include <stdio.h>

#include "forge.h"

/* general.* and llama.* hyperparameters. */
static int add_hparams(struct aut_gguf_w *w, const struct aut_forge_job *job)
{
    const struct aut_forge_hparams *hp = &job->hp;
    int rc = aut_gguf_w_add_str(w, "general.architecture", "llama");
    if (!rc)
        rc = aut_gguf_w_add_str(w, "general.name", job->name);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "llama.context_length", hp->ctx);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "llama.embedding_length", hp->dim);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "llama.block_count", hp->n_layers);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "llama.feed_forward_length", hp->ffn);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "llama.rope.dimension_count", hp->dim / hp->n_heads);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "llama.attention.head_count", hp->n_heads);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "llama.attention.head_count_kv", hp->n_kv_heads);
    if (!rc)
        rc = aut_gguf_w_add_f32(w, "llama.attention.layer_norm_rms_epsilon", hp->rms_eps);
    if (!rc)
        rc = aut_gguf_w_add_f32(w, "llama.rope.freq_base", hp->rope_base);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "general.file_type", aut_forge_file_type(job->type));
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "llama.vocab_size", hp->vocab);
    return rc;
}

/* tokenizer.ggml.*: the llama (SentencePiece) tokenizer. */
static int add_tokenizer(struct aut_gguf_w *w, const struct aut_forge_vocab *v)
{
    int rc = aut_gguf_w_add_str(w, "tokenizer.ggml.model", "llama");
    if (!rc)
        rc = aut_gguf_w_add_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->pieces,
                                    v->n);
    if (!rc)
        rc = aut_gguf_w_add_arr(w, "tokenizer.ggml.scores", GGUF_T_FLOAT32, v->scores, v->n);
    if (!rc)
        rc = aut_gguf_w_add_arr(w, "tokenizer.ggml.token_type", GGUF_T_INT32, v->types, v->n);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "tokenizer.ggml.bos_token_id", 1);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "tokenizer.ggml.eos_token_id", 2);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    if (!rc)
        rc = aut_gguf_w_add_bool(w, "tokenizer.ggml.add_bos_token", true);
    if (!rc)
        rc = aut_gguf_w_add_bool(w, "tokenizer.ggml.add_eos_token", false);
    if (!rc)
        rc = aut_gguf_w_add_bool(w, "tokenizer.ggml.add_space_prefix", true);
    if (!rc)
        rc = aut_gguf_w_add_u32(w, "general.quantization_version", 2);
    return rc;
}

int aut_forge_model_fill(struct aut_gguf_w *w, const struct aut_forge_job *job,
                         const struct aut_forge_vocab *v, struct aut_forge_plan *p, char *err,
                         size_t errlen)
{
    int rc = add_hparams(w, job);
    if (!rc)
        rc = add_tokenizer(w, v);
    for (size_t i = 0; i < p->n && !rc; i++) {
        struct aut_forge_tensor *t = &p->t[i];
        rc = aut_gguf_w_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes,
                                   AUT_GGUF_W_TAKE);
        if (!rc)
            t->data = NULL; /* the writer owns it now */
    }
    if (rc)
        snprintf(err, errlen, "gguf: %s", aut_gguf_w_error(w));
    return rc;
}
