/*
 * presets.c - slm-forge's model presets, the weight types it writes and the
 * arithmetic on hyperparameters (parameter count, consistency checks).
 * The targets follow the integration spec's per-architecture table.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "forge.h"
#include "qtypes.h"

static const struct aut_forge_preset presets[] = {
    {"tiny_10M",
     {256, 4, 8, 4, 704, 32000, 512, true, 10000.0f, 1e-5f},
     SLM_Q_Q8_0,
     {"x86_64", "aarch64", "riscv64", NULL}},
    {"small_50M",
     {512, 10, 8, 8, 1536, 32000, 1024, true, 10000.0f, 1e-5f},
     SLM_Q_Q8_0,
     {"x86_64", "aarch64", NULL}},
    {"medium_150M",
     {768, 12, 12, 12, 2048, 32000, 2048, false, 10000.0f, 1e-5f},
     SLM_Q_Q4_0,
     {"x86_64", NULL}},
};

/* The types slm-forge writes, with llama.cpp's file type for a model that is
 * mostly of that type (LLAMA_FTYPE_*; Q4_K is written as Q4_K_M's id). */
static const struct {
    uint32_t type;
    uint32_t file_type;
} types[] = {
    {SLM_Q_F32, 0},  {SLM_Q_F16, 1},   {SLM_Q_BF16, 32}, {SLM_Q_Q8_0, 7},
    {SLM_Q_Q4_0, 2}, {SLM_Q_Q4_K, 15}, {SLM_Q_Q6_K, 18},
};

const struct aut_forge_preset *aut_forge_preset_find(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

void aut_forge_preset_names(char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof presets / sizeof presets[0] && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", presets[i].name);
}

int aut_forge_type_parse(const char *name)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(slm_qtype_info(types[i].type)->name, name) == 0)
            return (int)types[i].type;
    return -1;
}

const char *aut_forge_type_name(uint32_t type)
{
    const struct slm_qtype_info *ti = slm_qtype_info(type);
    return ti ? ti->name : "?";
}

void aut_forge_type_names(char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof types / sizeof types[0] && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "",
                                 aut_forge_type_name(types[i].type));
}

uint32_t aut_forge_file_type(uint32_t type)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].type == type)
            return types[i].file_type;
    return 0;
}

uint32_t aut_forge_default_output_type(uint32_t type)
{
    return type == SLM_Q_Q4_0 || type == SLM_Q_Q4_K ? SLM_Q_Q6_K : type;
}

uint64_t aut_forge_param_count(const struct aut_forge_hparams *hp)
{
    uint64_t d = hp->dim, kv = (uint64_t)hp->n_kv_heads * (hp->dim / hp->n_heads);
    uint64_t layer = 2 * d              /* attn_norm, ffn_norm */
                     + 2 * d * d        /* attn_q, attn_output */
                     + 2 * d * kv       /* attn_k, attn_v */
                     + 3 * d * hp->ffn; /* ffn_gate, ffn_up, ffn_down */
    uint64_t embd = (uint64_t)hp->vocab * d;
    return embd + d /* output_norm */ + (hp->tied ? 0 : embd) + hp->n_layers * layer;
}

int aut_forge_hparams_check(const struct aut_forge_hparams *hp, char *msg, size_t n)
{
    const char *bad = NULL;
    if (hp->dim == 0 || hp->dim > 65536)
        bad = "--dim must be 1..65536";
    else if (hp->n_layers == 0 || hp->n_layers > GGUF_MAX_BLOCKS)
        bad = "--layers must be 1..256 (the engine's block limit)";
    else if (hp->n_heads == 0 || hp->dim % hp->n_heads)
        bad = "--heads must divide --dim";
    else if ((hp->dim / hp->n_heads) % 2)
        bad = "the head size (--dim / --heads) must be even for RoPE";
    else if (hp->n_kv_heads == 0 || hp->n_heads % hp->n_kv_heads)
        bad = "--kv-heads must divide --heads";
    else if (hp->ffn == 0 || hp->ffn > 262144)
        bad = "--ffn must be 1..262144";
    else if (hp->vocab < 260 || hp->vocab > 1000000)
        bad = "--vocab must be 260..1000000 (3 specials + 256 bytes + pieces)";
    else if (hp->ctx == 0 || hp->ctx > 1048576)
        bad = "--ctx must be 1..1048576";
    else if (!(hp->rope_base > 0.0f))
        bad = "--rope-base must be > 0";
    else if (!(hp->rms_eps > 0.0f) || !(hp->rms_eps < 1.0f))
        bad = "--rms-eps must be in (0, 1)";
    if (!bad)
        return 0;
    snprintf(msg, n, "%s (dim %u, layers %u, heads %u, kv heads %u, ffn %u, vocab %u, ctx %u)", bad,
             hp->dim, hp->n_layers, hp->n_heads, hp->n_kv_heads, hp->ffn, hp->vocab, hp->ctx);
    return -EINVAL;
}
