/*
 * selftest_slm.c - the SLM runtime's selftests: the rule engine against
 * knowledge-base facts, and, with a model up, the engine's parser,
 * tokenizer and one forward pass in the ring-3 task.
 */
#include "kernel/selftest.h"

#include "kernel/slm/rules.h"
#include "kernel/slm/slm.h"
#include "lib/kfmt.h"
#include "lib/kstring.h"

static const struct {
    const char *q;
    enum slm_rule_kind kind;
    const char *answer; /* NULL: any answer of that kind */
} rule_cases[] = {
    {"PCI device 8086:10d3 is", SLM_RULE_PCI, "an Intel 82574L Gigabit Network Connection."},
    {"pci device 1AF4:1000?", SLM_RULE_PCI, "a Red Hat Virtio network device."},
    {"Install nginx on Debian", SLM_RULE_PACKAGE, "sudo apt-get install nginx"},
    {"install apache on fedora.", SLM_RULE_PACKAGE, "sudo dnf install httpd"},
    {"Show disk usage:", SLM_RULE_COMMAND, "df -h"},
    {"List all PCI devices:", SLM_RULE_LIVE, NULL},
    {"How much memory is free?", SLM_RULE_LIVE, NULL},
    {"What is the meaning of life?", SLM_RULE_NONE, NULL},
};

int selftest_slm_rules(char *detail, size_t n)
{
    static char out[SLM_TEXT_MAX];
    size_t ncases = sizeof rule_cases / sizeof rule_cases[0];
    for (size_t i = 0; i < ncases; i++) {
        enum slm_rule_kind k = slm_rules_answer(rule_cases[i].q, out, sizeof out);
        if (k != rule_cases[i].kind ||
            (rule_cases[i].answer && strcmp(out, rule_cases[i].answer) != 0)) {
            kfmt_snprintf(detail, n, "'%s' -> %s '%.80s'", rule_cases[i].q,
                          slm_rule_kind_name(k), out);
            return -1;
        }
    }
    kfmt_snprintf(detail, n, "%zu questions answered from the knowledge base", ncases);
    return 0;
}

int selftest_slm_parser(char *detail, size_t n)
{
    return slm_run_selftest(SLM_ST_PARSER, detail, n);
}

int selftest_slm_tokenizer(char *detail, size_t n)
{
    return slm_run_selftest(SLM_ST_TOKENIZER, detail, n);
}

int selftest_slm_forward(char *detail, size_t n)
{
    return slm_run_selftest(SLM_ST_FORWARD, detail, n);
}
