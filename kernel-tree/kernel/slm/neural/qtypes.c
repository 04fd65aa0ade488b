/*
 * qtypes.c - the ggml type table (see qtypes.h).
 */
#include "qtypes.h"

static const struct slm_qtype_info table[SLM_Q_TYPE_LIMIT] = {
    [SLM_Q_F32] = {"F32", 1, 4},
    [SLM_Q_F16] = {"F16", 1, 2},
    [SLM_Q_Q4_0] = {"Q4_0", 32, 18},
    [SLM_Q_Q4_1] = {"Q4_1", 32, 20},
    [SLM_Q_Q5_0] = {"Q5_0", 32, 22},
    [SLM_Q_Q5_1] = {"Q5_1", 32, 24},
    [SLM_Q_Q8_0] = {"Q8_0", 32, 34},
    [SLM_Q_Q8_1] = {"Q8_1", 32, 36},
    [SLM_Q_Q2_K] = {"Q2_K", 256, 84},
    [SLM_Q_Q3_K] = {"Q3_K", 256, 110},
    [SLM_Q_Q4_K] = {"Q4_K", 256, 144},
    [SLM_Q_Q5_K] = {"Q5_K", 256, 176},
    [SLM_Q_Q6_K] = {"Q6_K", 256, 210},
    [SLM_Q_Q8_K] = {"Q8_K", 256, 292},
    [SLM_Q_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [SLM_Q_IQ2_XS] = {"IQ2_XS", 256, 74},
    [SLM_Q_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [SLM_Q_IQ1_S] = {"IQ1_S", 256, 50},
    [SLM_Q_IQ4_NL] = {"IQ4_NL", 32, 18},
    [SLM_Q_IQ3_S] = {"IQ3_S", 256, 110},
    [SLM_Q_IQ2_S] = {"IQ2_S", 256, 82},
    [SLM_Q_IQ4_XS] = {"IQ4_XS", 256, 136},
    [SLM_Q_I8] = {"I8", 1, 1},
    [SLM_Q_I16] = {"I16", 1, 2},
    [SLM_Q_I32] = {"I32", 1, 4},
    [SLM_Q_I64] = {"I64", 1, 8},
    [SLM_Q_F64] = {"F64", 1, 8},
    [SLM_Q_IQ1_M] = {"IQ1_M", 256, 56},
    [SLM_Q_BF16] = {"BF16", 1, 2},
    [SLM_Q_TQ1_0] = {"TQ1_0", 256, 54},
    [SLM_Q_TQ2_0] = {"TQ2_0", 256, 66},
    [SLM_Q_MXFP4] = {"MXFP4", 32, 17},
};

const struct slm_qtype_info *slm_qtype_info(uint32_t type)
{
    if (type >= SLM_Q_TYPE_LIMIT || !table[type].name)
        return NULL;
    return &table[type];
}

size_t slm_qtype_row_bytes(uint32_t type, uint64_t n)
{
    const struct slm_qtype_info *ti = slm_qtype_info(type);
    uint64_t bytes;
    if (!ti || n % ti->blck)
        return 0;
    if (slm_mul_overflow(n / ti->blck, (uint64_t)ti->type_size, &bytes) || bytes > SIZE_MAX)
        return 0;
    return (size_t)bytes;
}
