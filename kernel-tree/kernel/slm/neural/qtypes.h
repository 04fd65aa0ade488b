/*
 * qtypes.h - ggml tensor type ids and their block geometry.
 *
 * The ids are GGUF's (ggml's enum ggml_type); the table knows every type a
 * valid GGUF file may carry, so the parser can size any tensor, and says
 * which ids are unknown or were removed from the format (4, 5, 31-33,
 * 36-38), which the parser rejects. Which types the engine can *compute*
 * with is quant.h's business.
 */
#ifndef AUTON_SLM_QTYPES_H
#define AUTON_SLM_QTYPES_H

#include "slm_port.h"

enum slm_qtype {
    SLM_Q_F32 = 0,
    SLM_Q_F16 = 1,
    SLM_Q_Q4_0 = 2,
    SLM_Q_Q4_1 = 3,
    SLM_Q_Q5_0 = 6,
    SLM_Q_Q5_1 = 7,
    SLM_Q_Q8_0 = 8,
    SLM_Q_Q8_1 = 9,
    SLM_Q_Q2_K = 10,
    SLM_Q_Q3_K = 11,
    SLM_Q_Q4_K = 12,
    SLM_Q_Q5_K = 13,
    SLM_Q_Q6_K = 14,
    SLM_Q_Q8_K = 15,
    SLM_Q_IQ2_XXS = 16,
    SLM_Q_IQ2_XS = 17,
    SLM_Q_IQ3_XXS = 18,
    SLM_Q_IQ1_S = 19,
    SLM_Q_IQ4_NL = 20,
    SLM_Q_IQ3_S = 21,
    SLM_Q_IQ2_S = 22,
    SLM_Q_IQ4_XS = 23,
    SLM_Q_I8 = 24,
    SLM_Q_I16 = 25,
    SLM_Q_I32 = 26,
    SLM_Q_I64 = 27,
    SLM_Q_F64 = 28,
    SLM_Q_IQ1_M = 29,
    SLM_Q_BF16 = 30,
    SLM_Q_TQ1_0 = 34,
    SLM_Q_TQ2_0 = 35,
    SLM_Q_MXFP4 = 39,
    SLM_Q_TYPE_LIMIT = 40 /* ids >= this are unknown */
};

struct slm_qtype_info {
    const char *name;    /* "Q4_0", as llama.cpp prints it */
    uint32_t blck;       /* elements per block */
    uint32_t type_size;  /* bytes per block */
};

/* The type's geometry, or NULL for an unknown or removed id. */
const struct slm_qtype_info *slm_qtype_info(uint32_t type);

/* Bytes of a row of n elements of type t, or 0 if t is unknown, n is not a
 * multiple of the block size, or the size overflows. */
size_t slm_qtype_row_bytes(uint32_t type, uint64_t n);

/* Block sizes of the formats the engine computes with. */
#define SLM_QK4_0 32
#define SLM_QK8_0 32
#define SLM_QK_K 256

#endif
