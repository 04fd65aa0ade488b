/*
 * coherence.h - the gibberish detector of the validate stage: is a model's
 * output text that a person would call coherent?
 *
 * Four measures on the text (documented in docs/pipeline.md, "Coherence"):
 *   printable   - share of characters that are printable (UTF-8 decoded;
 *                 letters, digits, punctuation, spaces, newlines)
 *   word_shape  - share of words (whitespace-separated tokens, punctuation
 *                 trimmed) that look like words: letters with at most a few
 *                 digits/hyphens/dots/colons/slashes in a plausible shape
 *                 (e.g. "82574L", "8086:10d3", "apt-get", "/etc/fstab" count;
 *                 "xq#z@@k", "aaaaaaaaaaaaaaaaaaa" do not), vowel presence for
 *                 long alphabetic words
 *   repetition  - share of word 3-grams that repeat an earlier 3-gram, and
 *                 the longest run of one repeated character
 *   entropy     - Shannon entropy of the character distribution, bits/char
 *                 (English prose ~4.0-4.5; "aaaa" 0; random bytes ~6+)
 * The text is coherent when every measure is inside its limit.
 */
#ifndef AUTON_AGENTS_COHERENCE_H
#define AUTON_AGENTS_COHERENCE_H

#include <stdbool.h>
#include <stddef.h>

struct aut_coherence_limits {
    double min_printable;   /* default 0.97 */
    double min_word_shape;  /* default 0.6 */
    double max_repetition;  /* default 0.5 (share of repeated 3-grams) */
    unsigned max_char_run;  /* default 12 */
    double min_entropy;     /* default 2.5 bits/char (applied when the text has >= 20 chars) */
    double max_entropy;     /* default 5.5 bits/char */
    size_t min_chars;       /* default 2: shorter (after trimming) is "empty" */
};

struct aut_coherence {
    double printable, word_shape, repetition, entropy;
    unsigned char_run;
    size_t chars, words;
    bool coherent;
    char why[160]; /* "" when coherent, else the first failing measure with its value and
                      limit, e.g. "word shape 0.31 < 0.60" */
};

void aut_coherence_limits_default(struct aut_coherence_limits *l);

/* Measures text (len bytes, need not be NUL-terminated). lim NULL: defaults. */
void aut_coherence_check(const char *text, size_t len, const struct aut_coherence_limits *lim,
                         struct aut_coherence *out);

#endif
