/*
 * rules.c - the rule engine (rules.h). The rules and facts are the tables
 * of kb.h; this file only matches questions against them and formats the
 * answers, plus the handlers of the live questions.
 */
#include "kernel/slm/rules.h"

#include <stdarg.h>
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "drivers/pci.h"
#include "kernel/slm/kb.h"
#include "kernel/time.h"
#include "lib/kfmt.h"
#include "lib/kstring.h"
#include "mm/heap.h"
#include "mm/pmm.h"
#include "mm/slm_region.h"

#define NORM_MAX 512
#define MAX_WORDS 64
#define MIB (1024 * 1024)

/* ---- output ------------------------------------------------------------------ */

struct out {
    char *buf;
    size_t cap, len;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...)
{
    if (o->len + 1 >= o->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = kfmt_vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len = o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap - 1;
}

/* ---- normalization (the same as scripts/gen-kb.py's norm()) --------------------- */

/* ASCII letters and digits, ._+-{}, and every byte of a multi-byte UTF-8
 * character (so "café" stays one word). */
static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '+' || c == '-' || c == '{' || c == '}' || (unsigned char)c >= 0x80;
}

/* Lower-cases q (ASCII) and keeps its words, one space apart, dots trimmed at the
 * ends of words. */
static void normalize(const char *q, char *out, size_t cap)
{
    size_t n = 0;
    while (*q && n + 2 < cap) {
        while (*q && !word_char((char)(*q >= 'A' && *q <= 'Z' ? *q + 32 : *q)))
            q++;
        const char *w = q;
        size_t wl = 0;
        while (w[wl] && word_char((char)(w[wl] >= 'A' && w[wl] <= 'Z' ? w[wl] + 32 : w[wl])))
            wl++;
        q = w + wl;
        while (wl && *w == '.')
            w++, wl--;
        while (wl && w[wl - 1] == '.')
            wl--;
        if (!wl)
            continue;
        if (n && n + 1 < cap)
            out[n++] = ' ';
        for (size_t i = 0; i < wl && n + 1 < cap; i++)
            out[n++] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
    }
    out[n] = '\0';
}

/* Splits a normalized string (in place) into words. */
static size_t split_words(char *s, char **w, size_t max)
{
    size_t n = 0;
    while (*s && n < max) {
        w[n++] = s;
        while (*s && *s != ' ')
            s++;
        if (*s)
            *s++ = '\0';
    }
    return n;
}

/* " phrase " occurs in " text ": whole words. */
static bool contains_words(const char *text, const char *phrase)
{
    size_t tl = strlen(text), pl = strlen(phrase);
    for (size_t i = 0; i + pl <= tl; i++) {
        if ((i == 0 || text[i - 1] == ' ') && (i + pl == tl || text[i + pl] == ' ') &&
            memcmp(text + i, phrase, pl) == 0)
            return true;
    }
    return false;
}

/* ---- 1. PCI ids ------------------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The first "vvvv:dddd" in q (exactly four hex digits each side). */
static bool find_pci_id(const char *q, uint16_t *vendor, uint16_t *device)
{
    size_t n = strlen(q);
    for (size_t i = 0; i + 9 <= n; i++) {
        if (q[i + 4] != ':' || (i > 0 && hexval(q[i - 1]) >= 0) ||
            (i + 9 < n && hexval(q[i + 9]) >= 0))
            continue;
        uint32_t v = 0;
        bool ok = true;
        for (size_t k = 0; k < 9 && ok; k++) {
            if (k == 4)
                continue;
            int h = hexval(q[i + k]);
            ok = h >= 0;
            v = v << 4 | (uint32_t)(h < 0 ? 0 : h);
        }
        if (ok) {
            *vendor = (uint16_t)(v >> 16), *device = (uint16_t)v;
            return true;
        }
    }
    return false;
}

static void answer_pci(struct out *o, uint16_t vendor, uint16_t device)
{
    const struct kb_vendor *v = kb_vendor_find(vendor);
    const char *name = v ? kb_device_find(vendor, device) : NULL;
    if (name)
        emit(o, "%s %s %s.", v->article, v->short_, name);
    else if (v)
        emit(o, "not in the knowledge base: vendor %04x is %s, device %04x is unknown.", vendor,
             v->name, device);
    else
        emit(o, "not in the knowledge base: vendor %04x is unknown.", vendor);
}

/* ---- 2. live questions ------------------------------------------------------------ */

static void live_pci_list(struct out *o)
{
    char line[160];
    if (pci_count() == 0) {
        emit(o, "No PCI devices found.");
        return;
    }
    for (unsigned i = 0; i < pci_count(); i++) {
        pci_describe(pci_get(i), line, sizeof line);
        emit(o, "%s%s", i ? "\n" : "", line);
    }
}

static void live_memory(struct out *o)
{
    struct pmm_stats p;
    struct heap_stats h;
    struct slm_region_info r;
    pmm_get_stats(&p);
    heap_get_stats(&h);
    slm_region_get(&r);
    emit(o, "%lu MiB of RAM managed by the page allocator, %lu MiB free; heap %zu KiB used; "
            "SLM pool %lu MiB, %zu KiB used, %zu KiB peak.",
         (p.total + p.reserved) / MIB, p.free / MIB, h.used / 1024, r.size / MIB, r.used / 1024,
         r.peak / 1024);
}

static void live_uptime(struct out *o)
{
    uint64_t ms = time_ms();
    emit(o, "Up %lu.%03lu s (%lu timer ticks at %u Hz).", ms / 1000, ms % 1000, timer_ticks(),
         TIMER_HZ);
}

static void live_cpu(struct out *o)
{
    char brand[49] = {0};
    if (cpuid(0x80000000u, 0).eax >= 0x80000004u) {
        for (uint32_t i = 0; i < 3; i++) {
            struct cpuid_regs r = cpuid(0x80000002u + i, 0);
            memcpy(brand + 16 * i, &r, 16);
        }
    }
    const char *b = brand;
    while (*b == ' ')
        b++;
    emit(o, "%s, TSC %lu MHz, 1 CPU.", *b ? b : "unknown x86_64 CPU", time_tsc_khz() / 1000);
}

static void live_version(struct out *o)
{
    emit(o, "AUTON kernel %s (%s).", KERNEL_VERSION, KERNEL_ARCH);
}

static void (*const live_handlers[])(struct out *) = {
    [KB_LIVE_PCI_LIST] = live_pci_list, [KB_LIVE_MEMORY] = live_memory,
    [KB_LIVE_UPTIME] = live_uptime,     [KB_LIVE_CPU] = live_cpu,
    [KB_LIVE_VERSION] = live_version,
};

/* ---- 3. package questions --------------------------------------------------------- */

static const struct kb_distro *distro_find(const char *word, size_t *idx)
{
    for (size_t i = 0; i < kb_ndistros; i++)
        if (strcmp(kb_distros[i].norm, word) == 0) {
            *idx = i;
            return &kb_distros[i];
        }
    return NULL;
}

/* Matches words[] against one shape; fills the slots. "{distro}" may be
 * followed by an optional "linux". */
static bool match_shape(const char *shape, char **words, size_t nw, const char **name,
                        size_t *distro)
{
    char buf[128];
    char *sw[16];
    size_t len = strlen(shape);
    if (len >= sizeof buf)
        return false;
    memcpy(buf, shape, len + 1);
    size_t ns = split_words(buf, sw, 16);
    size_t i = 0, j = 0;
    *name = NULL;
    for (; i < ns; i++, j++) {
        if (j >= nw)
            return false;
        if (strcmp(sw[i], "{name}") == 0) {
            *name = words[j];
        } else if (strcmp(sw[i], "{distro}") == 0) {
            if (!distro_find(words[j], distro))
                return false;
            if (j + 1 < nw && strcmp(words[j + 1], "linux") == 0)
                j++;
        } else if (strcmp(sw[i], words[j]) != 0) {
            return false;
        }
    }
    return j == nw;
}

/* Expands tmpl with {pkg} replaced by pkg. */
static void emit_template(struct out *o, const char *tmpl, const char *pkg)
{
    for (const char *p = tmpl; *p; p++) {
        if (memcmp(p, "{pkg}", 5) == 0) {
            emit(o, "%s", pkg ? pkg : "");
            p += 4;
        } else {
            emit(o, "%c", *p);
        }
    }
}

static bool answer_package(struct out *o, const char *norm)
{
    char buf[NORM_MAX];
    char *words[MAX_WORDS];
    size_t len = strlen(norm);
    memcpy(buf, norm, len + 1);
    size_t nw = split_words(buf, words, MAX_WORDS);
    for (size_t q = 0; q < kb_nquestions; q++) {
        const char *name;
        size_t d = 0;
        if (!match_shape(kb_questions[q].shape, words, nw, &name, &d))
            continue;
        const struct kb_distro *dist = &kb_distros[d];
        const char *tmpl = dist->cmd[kb_questions[q].column];
        if (!tmpl) {
            emit(o, "%s has no such step with %s.", dist->name, dist->manager);
            return true;
        }
        const char *pkg = name;
        for (size_t p = 0; name && p < kb_npackages; p++)
            if (strcmp(kb_packages[p].norm, name) == 0)
                pkg = kb_packages[p].name[d];
        emit_template(o, tmpl, pkg);
        return true;
    }
    return false;
}

/* ---- the engine -------------------------------------------------------------------- */

enum slm_rule_kind slm_rules_answer(const char *query, char *buf, size_t n)
{
    struct out o = {buf, n, 0};
    char norm[NORM_MAX];
    uint16_t vendor, device;
    if (n)
        buf[0] = '\0';

    if (find_pci_id(query, &vendor, &device)) {
        answer_pci(&o, vendor, device);
        return SLM_RULE_PCI;
    }
    normalize(query, norm, sizeof norm);
    for (size_t i = 0; i < kb_nlive; i++)
        if (contains_words(norm, kb_live[i].phrase)) {
            live_handlers[kb_live[i].handler](&o);
            return SLM_RULE_LIVE;
        }
    if (answer_package(&o, norm))
        return SLM_RULE_PACKAGE;
    for (size_t i = 0; i < kb_ncommands; i++)
        if (strcmp(norm, kb_commands[i].question) == 0) {
            emit(&o, "%s", kb_commands[i].answer);
            return SLM_RULE_COMMAND;
        }
    emit(&o, "No rule matches this question. The rule engine answers PCI ids (\"PCI device "
             "8086:10d3 is\"), package installs (\"Install nginx on Debian\"), administration "
             "commands (\"Show disk usage:\") and questions on this machine's PCI devices, "
             "memory, uptime, CPU and kernel version.");
    return SLM_RULE_NONE;
}

const char *slm_rule_kind_name(enum slm_rule_kind k)
{
    static const char *const names[] = {"none", "pci", "live", "package", "command"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}
