/*
 * rules.h - the rule engine: the SLM runtime's backend that always works.
 *
 * Answers from the knowledge base (kb.h) and from live kernel state, never
 * by invention. In order:
 *   1. a PCI id "vvvv:dddd" in the question  -> the device's name
 *   2. a live question (kb/live.tsv)         -> bus listing, memory, uptime,
 *                                              CPU, kernel version
 *   3. a package question (kb/questions.tsv) -> the distribution's command
 *   4. an administration question (kb/commands.tsv) -> its command
 * and otherwise an honest "no rule matches" answer. Matching ignores case
 * and punctuation.
 */
#ifndef AUTON_KERNEL_SLM_RULES_H
#define AUTON_KERNEL_SLM_RULES_H

#include <stdbool.h>
#include <stddef.h>

enum slm_rule_kind {
    SLM_RULE_NONE = 0, /* no rule matched; out holds the honest answer */
    SLM_RULE_PCI,
    SLM_RULE_LIVE,
    SLM_RULE_PACKAGE,
    SLM_RULE_COMMAND,
};

/* Answers query into out (NUL-terminated; lines separated by '\n', no
 * trailing newline). Returns what answered. */
enum slm_rule_kind slm_rules_answer(const char *query, char *out, size_t n);

/* "pci", "live", "package", "command", "none". */
const char *slm_rule_kind_name(enum slm_rule_kind k);

#endif
