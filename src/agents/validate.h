/*
 * validate.h - the verdict on an integration's measurements: pure functions
 * of the report's measurements (boot, prompts) and the limits, so that the
 * threshold logic is tested on recorded reports (tests/unit/test_validate.c).
 */
#ifndef AUTON_AGENTS_VALIDATE_H
#define AUTON_AGENTS_VALIDATE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "coherence.h"

struct aut_validate_limits {
    double boot_max_ms;        /* boot to prompt, the accelerator's multiplier applied */
    double latency_max_ms;     /* for latency_tokens tokens, multiplier applied */
    unsigned latency_tokens;
    double pool_peak_max_bytes;
    unsigned min_output_chars; /* the default; a prompt's "min_chars" overrides */
    bool expect_neural;        /* a model is embedded: SLM must come up neural */
    struct aut_coherence_limits coherence;
};

/*
 * Appends the checks for report's "boot" and "prompts" to checks (an array),
 * each {name, class, expected, measured, pass, detail?}. Prompt entries are
 * {prompt, output, tokens, ms, tok_s, pool_peak, backend, expect_any?,
 * expect_all?, reject?, min_chars?}. Returns the number of failed checks;
 * *first (may be NULL) gets the first failed check (borrowed from checks).
 */
int aut_validate(const cJSON *report, const struct aut_validate_limits *lim, cJSON *checks,
                 const cJSON **first);

/* The accuracy of one output against a prompt's expect_any / expect_all /
 * reject (case-insensitive substrings). Returns true when it passes; why
 * says what failed ("none of [82574L] in the output"). */
bool aut_validate_accuracy(const char *output, const cJSON *prompt, char *why, size_t len);

#endif
