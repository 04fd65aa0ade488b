/*
 * validate.c - the integration spec's validation criteria as checks over
 * recorded measurements: boot time, no panic, SLM initialised; for every
 * prompt: answered, coherent (coherence.c), accurate (expect_any /
 * expect_all / reject), fast enough (latency projected to latency_tokens
 * tokens); pool peak within the budget.
 */
#include "validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double jnum(const cJSON *o, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static bool jtrue(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

struct ctx {
    cJSON *checks;
    int failed;
    const cJSON **first;
};

static void check(struct ctx *c, const char *name, const char *cls, bool pass,
                  const char *expected, const char *measured, const char *fmt, ...)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "class", cls);
    cJSON_AddStringToObject(o, "expected", expected);
    cJSON_AddStringToObject(o, "measured", measured);
    cJSON_AddBoolToObject(o, "pass", pass);
    if (fmt) {
        char d[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d, sizeof d, fmt, ap);
        va_end(ap);
        cJSON_AddStringToObject(o, "detail", d);
    }
    cJSON_AddItemToArray(c->checks, o);
    if (!pass && c->failed++ == 0 && c->first)
        *c->first = o;
}

static void boot_checks(struct ctx *c, const cJSON *boot, const struct aut_validate_limits *lim)
{
    char exp[64], got[64];
    double ms = jnum(boot, "boot_ms", -1);
    snprintf(exp, sizeof exp, "< %.0f ms", lim->boot_max_ms);
    snprintf(got, sizeof got, "%.0f ms", ms);
    check(c, "boot_time", "boot", ms >= 0 && ms < lim->boot_max_ms, exp, got, NULL);
    bool panic = jtrue(boot, "panic");
    check(c, "no_panic", "boot", !panic, "no KERNEL PANIC", panic ? "panic" : "none",
          panic ? "%.300s" : NULL, jstr(boot, "panic_text"));
    bool up = jtrue(boot, "runtime_ok") && !jtrue(boot, "slm_failed");
    if (lim->expect_neural)
        up = up && jtrue(boot, "neural_ready") && jtrue(boot, "slm_loading");
    snprintf(got, sizeof got, "%s%s", jtrue(boot, "neural_ready") ? "neural ready" : "no neural",
             jtrue(boot, "runtime_ok") ? ", runtime ok" : ", runtime not initialised");
    check(c, "slm_initialised", "boot", up,
          lim->expect_neural ? "neural backend ready, runtime initialised" : "runtime initialised",
          got, jtrue(boot, "slm_failed") ? "%s" : NULL, jstr(boot, "slm_error"));
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return true;
    return !n;
}

static void list_str(const cJSON *arr, char *out, size_t len)
{
    const cJSON *s;
    size_t used = 0;
    out[0] = '\0';
    cJSON_ArrayForEach(s, arr) if (cJSON_IsString(s) && used + 1 < len) used +=
        (size_t)snprintf(out + used, len - used, "%s%s", used ? ", " : "", s->valuestring);
}

bool aut_validate_accuracy(const char *output, const cJSON *prompt, char *why, size_t len)
{
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(prompt, "expect_any");
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(prompt, "expect_all");
    const cJSON *rej = cJSON_GetObjectItemCaseSensitive(prompt, "reject"), *s;
    char list[256];
    why[0] = '\0';
    if (cJSON_GetArraySize(any) > 0) {
        bool hit = false;
        cJSON_ArrayForEach(s, any) hit |= cJSON_IsString(s) && contains_ci(output, s->valuestring);
        if (!hit) {
            list_str(any, list, sizeof list);
            snprintf(why, len, "none of [%s] in the output", list);
            return false;
        }
    }
    cJSON_ArrayForEach(s, all) if (cJSON_IsString(s) && !contains_ci(output, s->valuestring))
    {
        snprintf(why, len, "'%s' missing from the output", s->valuestring);
        return false;
    }
    cJSON_ArrayForEach(s, rej) if (cJSON_IsString(s) && contains_ci(output, s->valuestring))
    {
        snprintf(why, len, "the output contains the rejected '%s'", s->valuestring);
        return false;
    }
    return true;
}

static void prompt_checks(struct ctx *c, const cJSON *p, int i,
                          const struct aut_validate_limits *lim)
{
    char name[64], exp[128], got[128], why[384];
    const char *out = jstr(p, "output");
    size_t len = strlen(out);
    unsigned min = (unsigned)jnum(p, "min_chars", lim->min_output_chars);
    snprintf(name, sizeof name, "prompt[%d].answered", i);
    snprintf(exp, sizeof exp, "more than %u characters", min);
    snprintf(got, sizeof got, "%zu characters", len);
    check(c, name, "inference", len > min, exp, got, "%.120s", jstr(p, "prompt"));

    struct aut_coherence co;
    aut_coherence_check(out, len, &lim->coherence, &co);
    snprintf(name, sizeof name, "prompt[%d].coherent", i);
    snprintf(got, sizeof got, "printable %.2f, word shape %.2f, repetition %.2f, entropy %.2f",
             co.printable, co.word_shape, co.repetition, co.entropy);
    check(c, name, "inference", co.coherent, "not gibberish", got, co.coherent ? NULL : "%s",
          co.why);

    bool ok = aut_validate_accuracy(out, p, why, sizeof why);
    snprintf(name, sizeof name, "prompt[%d].accurate", i);
    check(c, name, "inference", ok, "expect_any / expect_all / reject", ok ? "ok" : "wrong",
          ok ? NULL : "%s (output: %.160s)", why, out);

    /* the answer's time plus the tokens it did not generate at its generation
     * speed (tok_s excludes the prefill, which a longer answer pays once) */
    double tokens = jnum(p, "tokens", 0), ms = jnum(p, "ms", 0), tok_s = jnum(p, "tok_s", 0);
    double missing = lim->latency_tokens > tokens ? lim->latency_tokens - tokens : 0;
    double projected = tok_s > 0 ? ms + missing * 1000.0 / tok_s : ms;
    if (tok_s > 0 && tokens > lim->latency_tokens)
        projected = ms - (tokens - lim->latency_tokens) * 1000.0 / tok_s;
    snprintf(name, sizeof name, "prompt[%d].latency", i);
    snprintf(exp, sizeof exp, "< %.0f ms for %u tokens", lim->latency_max_ms,
             lim->latency_tokens);
    snprintf(got, sizeof got, "%.0f ms (%.0f ms for %.0f tokens)", projected, ms, tokens);
    check(c, name, "inference", projected < lim->latency_max_ms, exp, got, NULL);
}

int aut_validate(const cJSON *report, const struct aut_validate_limits *lim, cJSON *checks,
                 const cJSON **first)
{
    struct ctx c = {.checks = checks, .first = first};
    if (first)
        *first = NULL;
    boot_checks(&c, cJSON_GetObjectItemCaseSensitive(report, "boot"), lim);
    const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(report, "prompts"), *p;
    double peak = 0;
    int i = 0;
    cJSON_ArrayForEach(p, prompts)
    {
        prompt_checks(&c, p, i++, lim);
        double pk = jnum(p, "pool_peak", 0);
        peak = pk > peak ? pk : peak;
    }
    char exp[64], got[64];
    snprintf(exp, sizeof exp, "> 0 prompts");
    snprintf(got, sizeof got, "%d", i);
    check(&c, "prompts_answered", "inference", i > 0, exp, got, NULL);
    snprintf(exp, sizeof exp, "< %.1f MiB", lim->pool_peak_max_bytes / 1048576.0);
    snprintf(got, sizeof got, "%.2f MiB", peak / 1048576.0);
    check(&c, "pool_peak", "inference", peak < lim->pool_peak_max_bytes, exp, got, NULL);
    return c.failed;
}
