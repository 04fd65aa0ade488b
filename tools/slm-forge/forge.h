/*
 * forge.h - slm-forge's internal interfaces, one section per file:
 * presets.c (presets, types, hyperparameters), vocab.c (the llama
 * tokenizer vocabulary learned by BPE), weights.c (the tensor plan, seeded
 * init or trained weights from an AUTW file, and quantization), model.c (assembling the GGUF), manifest.c (the
 * JSON manifest), corrupt.c (the --corrupt kinds) and main.c (the CLI).
 */
#ifndef AUTON_TOOLS_SLM_FORGE_H
#define AUTON_TOOLS_SLM_FORGE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gguf_write.h"

#define FORGE_GENERATOR "slm-forge 1"
#define FORGE_DEFAULT_CORPUS "/usr/share/misc/pci.ids"
#define FORGE_MAX_PROMPT 4096 /* bytes, for the pool estimate */
#define FORGE_ERR 512

/* ---- presets.c -------------------------------------------------------------- */

struct aut_forge_hparams {
    uint32_t dim;        /* embedding_length */
    uint32_t n_layers;   /* block_count */
    uint32_t n_heads;    /* attention.head_count */
    uint32_t n_kv_heads; /* attention.head_count_kv */
    uint32_t ffn;        /* feed_forward_length */
    uint32_t vocab;      /* tokens, = rows of token_embd */
    uint32_t ctx;        /* context_length */
    bool tied;           /* output projection shared with token_embd */
    float rope_base;     /* rope.freq_base */
    float rms_eps;       /* attention.layer_norm_rms_epsilon */
};

struct aut_forge_preset {
    const char *name;
    struct aut_forge_hparams hp;
    uint32_t default_type;  /* enum slm_qtype */
    const char *targets[4]; /* architectures, NULL-terminated (the spec's table) */
};

/* The preset called name, or NULL. */
const struct aut_forge_preset *aut_forge_preset_find(const char *name);

/* "tiny_10M, small_50M, medium_150M" into buf. */
void aut_forge_preset_names(char *buf, size_t n);

/* A weight type slm-forge writes ("Q4_0" -> SLM_Q_Q4_0), or -1. */
int aut_forge_type_parse(const char *name);
const char *aut_forge_type_name(uint32_t type);
/* "F32, F16, ..." into buf. */
void aut_forge_type_names(char *buf, size_t n);

/* llama.cpp's LLAMA_FTYPE for a model mostly of `type`. */
uint32_t aut_forge_file_type(uint32_t type);

/* Default type of output.weight for a model of `type` (Q6_K for Q4_0 and
 * Q4_K, as llama.cpp does; otherwise the same). */
uint32_t aut_forge_default_output_type(uint32_t type);

/* Exact count of weights (all tensor elements) of such a model. */
uint64_t aut_forge_param_count(const struct aut_forge_hparams *hp);

/* 0, or -EINVAL with a message naming the bad hyperparameter. */
int aut_forge_hparams_check(const struct aut_forge_hparams *hp, char *msg, size_t n);

/* ---- vocab.c ---------------------------------------------------------------- */

struct aut_forge_vocab {
    uint32_t n;     /* tokens */
    char **pieces;  /* [n] NUL-terminated UTF-8, into arena */
    float *scores;  /* [n] */
    int32_t *types; /* [n] GGUF token types */
    char *arena;
    /* statistics */
    uint32_t n_chars;      /* single-character pieces */
    uint32_t n_merged;     /* pieces learned from the corpus */
    uint32_t n_supplement; /* pieces from the built-in supplement */
    uint64_t corpus_words; /* whitespace-separated words read */
};

/* Learns a vocabulary of exactly `size` tokens from the corpus at path (see
 * vocab.c). Returns 0 or -errno / -EINVAL with err naming the file. */
int aut_forge_vocab_build(struct aut_forge_vocab *v, const char *path, uint32_t size, char *err,
                          size_t errlen);
void aut_forge_vocab_release(struct aut_forge_vocab *v);

/* ---- weights.c -------------------------------------------------------------- */

struct aut_forge_tensor {
    char name[64];
    uint32_t type;   /* written type (after any fallback) */
    uint32_t wanted; /* type asked for; != type when the row forced a fallback */
    uint32_t n_dims; /* 1 or 2 */
    uint64_t ne[2];  /* ne[0]: row length */
    float sigma;     /* init N(0, sigma); 0: all ones (norms) */
    void *data;      /* after aut_forge_weights_make: malloc'd, nbytes */
    size_t nbytes;
};

struct aut_forge_plan {
    struct aut_forge_tensor *t;
    size_t n;
    uint64_t n_params;
    uint32_t embd_type;   /* token_embd.weight */
    uint32_t output_type; /* the output projection (token_embd's when tied) */
};

/* Lists the model's tensors in file order with their types: weight_type
 * for the matrices, output_type for output.weight (or, when tied and
 * embd_as_output, for token_embd). Returns 0 or -ENOMEM. */
int aut_forge_plan_build(struct aut_forge_plan *p, const struct aut_forge_hparams *hp,
                         uint32_t weight_type, uint32_t output_type, bool embd_as_output);
void aut_forge_plan_release(struct aut_forge_plan *p);

/* Generates and quantizes every tensor's data (deterministic in seed and
 * the tensor names; threads do not change the bytes). Returns 0, -ENOMEM or
 * -ENOTSUP (a type the engine cannot quantize) with err set. */
int aut_forge_weights_make(struct aut_forge_plan *p, uint64_t seed, char *err, size_t errlen);

/* Takes every tensor's values from the AUTW file at path (f32, written by
 * tools/train/train.py; format in weights.c and slm-forge --help) and
 * converts them to the planned types. Every tensor of the plan must be there
 * exactly once with its shape, nothing else, finite values, no trailing
 * bytes. Returns 0, or -errno / -EINVAL with err naming the file and the
 * tensor; on failure no tensor data is left allocated. */
int aut_forge_weights_load(struct aut_forge_plan *p, const char *path, char *err, size_t errlen);

/* ---- corrupt.c -------------------------------------------------------------- */

struct aut_forge_job;

struct aut_forge_corrupt {
    const char *kind;  /* --corrupt KIND */
    const char *codes; /* what the parser must answer: "X" or "X|Y" for SLM_E_X, SLM_E_Y */
    const char *what;  /* the defect, for --help */
    /* before assembly (edits the vocabulary), or NULL */
    void (*prepare)(struct aut_forge_vocab *v);
    /* after assembly (edits the writer), or NULL */
    int (*apply)(struct aut_gguf_w *w, const struct aut_forge_job *job);
};

const struct aut_forge_corrupt *aut_forge_corrupt_find(const char *kind);
/* The table, *n entries. */
const struct aut_forge_corrupt *aut_forge_corrupt_all(size_t *n);

/* ---- model.c ---------------------------------------------------------------- */

struct aut_forge_job {
    const struct aut_forge_preset *preset;
    struct aut_forge_hparams hp;
    uint32_t type;          /* --type */
    uint32_t output_type;   /* --output-type (or its default) */
    bool output_type_given; /* explicit --output-type */
    uint64_t seed;
    const char *name; /* general.name and the file names */
    const char *corpus;
    const char *weights; /* --weights FILE (AUTW), or NULL: seeded random weights */
    const struct aut_forge_corrupt *corrupt; /* NULL: a valid model */
    bool quiet;
    char gguf_path[PATH_MAX];
    char manifest_path[PATH_MAX];
};

/* Adds the metadata and the tensors (ownership of their data moves to w). */
int aut_forge_model_fill(struct aut_gguf_w *w, const struct aut_forge_job *job,
                         const struct aut_forge_vocab *v, struct aut_forge_plan *p, char *err,
                         size_t errlen);

/* ---- manifest.c ------------------------------------------------------------- */

/* Hashes the written model, estimates its pool (valid models only) and
 * writes the manifest atomically to job->manifest_path. */
int aut_forge_manifest_write(const struct aut_forge_job *job, const struct aut_forge_plan *p,
                             char *err, size_t errlen);

#endif
