/*
 * tokenizer.h - the two tokenizers llama-family GGUF files carry.
 *
 *  - "llama": SentencePiece-style. Spaces become U+2581 ("▁"), a "▁" is
 *    prefixed to the text (tokenizer.ggml.add_space_prefix, default true),
 *    then symbols (UTF-8 characters) are merged greedily by the highest
 *    score of the merged piece; characters with no piece fall back to byte
 *    tokens <0xHH>.
 *  - "gpt2": byte-level BPE. Text bytes map through GPT-2's byte-to-unicode
 *    table, are pre-split (letters, digits, punctuation runs, spaces), and
 *    merged by the rank of "a b" in tokenizer.ggml.merges.
 *
 * Pieces are used in place from the GGUF buffer; the index (hash from piece
 * to id, byte-token table, merge ranks) lives in the pool. No global state.
 */
#ifndef AUTON_SLM_TOKENIZER_H
#define AUTON_SLM_TOKENIZER_H

#include "gguf.h"

enum slm_tok_kind { SLM_TOK_LLAMA = 1, SLM_TOK_GPT2 = 2 };

/* GGUF token types (tokenizer.ggml.token_type). */
enum slm_tok_type {
    SLM_TT_NORMAL = 1,
    SLM_TT_UNKNOWN = 2,
    SLM_TT_CONTROL = 3,
    SLM_TT_USER_DEFINED = 4,
    SLM_TT_UNUSED = 5,
    SLM_TT_BYTE = 6
};

#define SLM_TOK_MAX_VOCAB (1u << 20)
#define SLM_TOK_MAX_MERGES (1u << 22)

/* What a tokenizer is built from: arrays, borrowed until the tokenizer is
 * no longer used. slm_tok_from_gguf() fills one from the file's metadata;
 * tests build one directly. */
struct slm_tok_vocab {
    enum slm_tok_kind kind;
    uint32_t n_vocab;
    const struct gguf_str *pieces; /* [n_vocab] */
    const uint8_t *scores;         /* [n_vocab] little-endian f32, any alignment; NULL: all 0 */
    const uint8_t *types;          /* [n_vocab] little-endian i32, any alignment; NULL: normal */
    const struct gguf_str *merges; /* [n_merges] "a b" (gpt2 only) */
    uint32_t n_merges;
    int32_t bos, eos, unk; /* -1 when absent */
    bool add_bos;          /* tokenizer.ggml.add_bos_token (default true for llama) */
    bool add_space_prefix; /* llama only */
};

struct slm_tokenizer {
    struct slm_tok_vocab v; /* copy; arrays borrowed */
    /* pool-allocated index, private to tokenizer.c */
    uint32_t *piece_index;
    uint32_t piece_index_size;
    int32_t byte_token[256];  /* id of <0xHH> (llama) or of the byte's unicode char (gpt2); -1 */
    uint32_t *merge_index;    /* gpt2: hash of merge pair -> rank */
    uint32_t merge_index_size;
    uint32_t max_piece_len;
};

/* Builds the tokenizer. Returns 0 or -SLM_E_* (err names the offending
 * token or array). Allocates exactly slm_tok_pool_bytes(v) from pool. */
int slm_tok_init(struct slm_tokenizer *t, const struct slm_tok_vocab *v, struct slm_pool *pool,
                 struct slm_err *err);
size_t slm_tok_pool_bytes(const struct slm_tok_vocab *v);

/* Reads tokenizer.ggml.* from a parsed file into *v (the pieces and merges
 * arrays are allocated from pool: n_vocab + n_merges gguf_str entries) and
 * builds *t. */
int slm_tok_from_gguf(struct slm_tokenizer *t, struct slm_tok_vocab *v, const struct gguf_file *gf,
                      struct slm_pool *pool, struct slm_err *err);
/* Exact pool bytes slm_tok_from_gguf takes for this file (0 on a file it would reject). */
size_t slm_tok_gguf_pool_bytes(const struct gguf_file *gf);

/* Encodes len bytes of UTF-8 text into ids[0..max_ids). Prepends bos when
 * add_bos and the vocabulary has one. Returns the token count, or
 * -SLM_E_LIMIT if max_ids is too small (or len > 16 MiB), -SLM_E_NOMEM if
 * scratch is too small, -SLM_E_TOKEN if a byte has neither a byte token nor
 * an unk to stand for it. Temporaries come from scratch, which is reset
 * before returning. */
int slm_tok_encode(const struct slm_tokenizer *t, const char *text, size_t len, bool add_bos,
                   int32_t *ids, int max_ids, struct slm_pool *scratch);

/* Scratch bytes slm_tok_encode needs for a text of len bytes. */
size_t slm_tok_encode_scratch_bytes(const struct slm_tokenizer *t, size_t len);

/* Writes the bytes token id stands for into out[0..cap) (no NUL added):
 * "▁" -> ' ', <0xHH> -> that byte, gpt2 unicode -> bytes; control tokens
 * (bos/eos) -> nothing. Returns the byte count, or -SLM_E_INVAL for a bad
 * id, -SLM_E_LIMIT if cap is too small. A multi-byte UTF-8 character may be
 * split across tokens: callers concatenate. */
int slm_tok_decode(const struct slm_tokenizer *t, int32_t id, char *out, size_t cap);

#endif
