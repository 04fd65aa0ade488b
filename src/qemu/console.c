/*
 * console.c - the AUTON kernel's COM1 console as the host sees it (see
 * console.h): raw chunks become sanitized lines in one growable transcript,
 * the boot log is parsed line by line as it completes, and the pure parsers
 * read the output of `slm query` and `selftest`.
 *
 * Feeding is O(n) in all: each byte is sanitized, UTF-8-checked and tested
 * for the prompt as it lands, and each line is parsed once when it ends; the
 * pending line is simply the tail of the transcript from line_start, so
 * nothing already seen is scanned again. Should memory run out, the console
 * stops recording there; what it holds stays valid.
 */
#include "console.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "sbuf.h"

#define PROMPT_LEN (sizeof AUT_CONSOLE_PROMPT - 1)
#define PANIC_PREFIX "KERNEL PANIC:"
#define FAULT_PREFIX "SLM: neural backend fault: "

/* The UTF-8 check of the pending line, carried across chunks. */
struct utf8_state {
    unsigned need;        /* continuation bytes still expected */
    unsigned char lo, hi; /* allowed range of the next continuation byte */
};

struct aut_console {
    struct aut_sbuf text; /* complete lines, each + '\n', then the pending line */
    size_t line_start;    /* offset of the pending line in text */
    bool cr;              /* a '\r' arrived and is held until we know whether '\n' follows */
    bool line_bad;        /* the pending line holds control bytes or bad UTF-8 */
    bool line_cont;       /* the pending line continues a cut overlong line */
    bool oom;             /* memory ran out: nothing more is recorded */
    struct utf8_state u8;
    struct aut_boot_info boot;
    uint64_t prompts;
    size_t prompt_line; /* offset of the latest prompt's line */
    bool have_panic;
    size_t panic_line;     /* offset of the "KERNEL PANIC:" line */
    struct aut_sbuf panic; /* aut_console_panic_text's copy */
    size_t mark_off;       /* aut_console_mark: the transcript's length then, */
    uint64_t mark_prompts; /* the prompts seen by then, */
    bool mark_echo;        /* and whether the pending text was the prompt */
};

/* ---- small helpers ------------------------------------------------------ */

static bool has_prefix(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

/* Copies n bytes of s into dst (size cap), cut to fit and NUL-terminated. */
static void copy_cut(char *dst, size_t cap, const char *s, size_t n)
{
    if (cap == 0)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Whether s[0..n) contains the lower-case word w, ignoring case. */
static bool contains_ci(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    for (size_t i = 0; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && lower(s[i + j]) == w[j])
            j++;
        if (j == k)
            return true;
    }
    return false;
}

/* Advances *p over lit when the text at *p starts with it. */
static bool eat(const char **p, const char *end, const char *lit)
{
    if (!has_prefix(*p, (size_t)(end - *p), lit))
        return false;
    *p += strlen(lit);
    return true;
}

/* Parses decimal digits at *s (advancing it) into *v. Returns 0, or -1 when
 * there is no digit or the value overflows max. */
static int parse_uint(const char **s, const char *end, uint64_t max, uint64_t *v)
{
    const char *p = *s;
    uint64_t x = 0;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (max - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *s = p;
    *v = x;
    return 0;
}

/* Parses "D+[.D+]" at *s without the locale (advancing it). */
static int parse_decimal(const char **s, const char *end, double *v)
{
    uint64_t ip, fp = 0;
    const char *p = *s;
    if (parse_uint(&p, end, UINT64_MAX, &ip))
        return -1;
    double x = (double)ip, scale = 1.0;
    if (p < end && *p == '.') {
        p++;
        const char *f = p;
        if (parse_uint(&p, end, UINT64_MAX, &fp))
            return -1;
        for (; f < p; f++)
            scale *= 10.0;
        x += (double)fp / scale;
    }
    *s = p;
    *v = x;
    return 0;
}

/* Skips a "[ s.mmm] " prefix of s[0..*n), storing its seconds in *ts.
 * Returns the rest of the line (s itself when there is no prefix). */
static const char *skip_stamp(const char *s, size_t *n, double *ts)
{
    const char *p = s, *end = s + *n;
    double v;
    if (p >= end || *p != '[')
        return s;
    for (p++; p < end && *p == ' '; p++)
        ;
    if (parse_decimal(&p, end, &v) || end - p < 2 || p[0] != ']' || p[1] != ' ')
        return s;
    p += 2;
    *ts = v;
    *n = (size_t)(end - p);
    return p;
}

/* Whether a "[ s.mmm] " stamp ends right before offset i of s. */
static bool stamp_ends_at(const char *s, size_t i)
{
    size_t j = i, digits = 0;
    if (j < 2 || s[j - 1] != ' ' || s[j - 2] != ']')
        return false;
    for (j -= 2; j > 0 && s[j - 1] >= '0' && s[j - 1] <= '9'; j--)
        digits++;
    if (!digits || j == 0 || s[j - 1] != '.')
        return false;
    for (j--, digits = 0; j > 0 && s[j - 1] >= '0' && s[j - 1] <= '9'; j--)
        digits++;
    while (j > 0 && s[j - 1] == ' ')
        j--;
    return digits && j > 0 && s[j - 1] == '[';
}

/* Whether line s[0..n), whose text after any stamp starts at body, is a panic:
 * "KERNEL PANIC:" at the start of the body, or after a stamp further on (the
 * panic interrupted a partial line such as the prompt). */
static bool is_panic_line(const char *s, size_t n, size_t body)
{
    const size_t k = strlen(PANIC_PREFIX);
    if (has_prefix(s + body, n - body, PANIC_PREFIX))
        return true;
    for (const char *p = s; (p = memchr(p, 'K', (size_t)(s + n - p))) != NULL; p++) {
        size_t i = (size_t)(p - s);
        if (n - i >= k && memcmp(p, PANIC_PREFIX, k) == 0 && stamp_ends_at(s, i))
            return true;
    }
    return false;
}

/* ---- the boot log --------------------------------------------------------- */

#define LOADING_PREFIX "SLM: Loading embedded neural model ("
#define READY_PREFIX "SLM: Neural backend ready"

/* The SLM lines of the boot log, and the first one that reports a failure. */
static void parse_slm_line(struct aut_boot_info *b, const char *s, size_t n)
{
    const char *p, *end = s + n;
    uint64_t v, w;
    if (has_prefix(s, n, LOADING_PREFIX)) {
        b->slm_loading = true;
        p = s + strlen(LOADING_PREFIX);
        if (!parse_uint(&p, end, UINT64_MAX, &v) && eat(&p, end, " bytes)"))
            b->model_bytes = v;
    } else if (has_prefix(s, n, READY_PREFIX)) {
        b->neural_ready = true;
        p = s + strlen(READY_PREFIX);
        if (eat(&p, end, " (vocab=") && !parse_uint(&p, end, UINT32_MAX, &v) &&
            eat(&p, end, ", ctx=") && !parse_uint(&p, end, UINT32_MAX, &w) && eat(&p, end, ")")) {
            b->vocab = (uint32_t)v;
            b->ctx = (uint32_t)w;
        }
    } else if (has_prefix(s, n, "SLM: Runtime initialized successfully")) {
        b->runtime_ok = true;
    }
    if (!b->slm_failed && (contains_ci(s, n, "fail") || contains_ci(s, n, "error"))) {
        b->slm_failed = true;
        copy_cut(b->slm_error, sizeof b->slm_error, s, n);
    }
}

/* One boot-log line (its stamp already taken off; ts -1 without one). */
static void parse_boot_line(struct aut_boot_info *b, const char *s, size_t n, double ts)
{
    if (has_prefix(s, n, "AUTON kernel booting...")) {
        if (!b->banner)
            b->banner_ts = ts;
        b->banner = true;
    } else if (has_prefix(s, n, "Run: ")) {
        if (!b->run_id[0])
            copy_cut(b->run_id, sizeof b->run_id, s + 5, n - 5);
    } else if (has_prefix(s, n, "MM: Initialized page allocator")) {
        b->mm_ready = true;
    } else if (has_prefix(s, n, "Init: System ready")) {
        if (!b->system_ready)
            b->ready_ts = ts;
        b->system_ready = true;
    } else if (has_prefix(s, n, "SLM: ")) {
        parse_slm_line(b, s, n);
    }
}

/* A complete line, s[0..n) of the transcript at line_start. The boot
 * milestones count only before the first prompt, so that command output is
 * never taken for them; a panic or a fault counts at any time. */
static void parse_line(struct aut_console *c, const char *line, size_t n)
{
    struct aut_boot_info *b = &c->boot;
    double ts = -1;
    size_t body_len = n;
    const char *s = skip_stamp(line, &body_len, &ts);
    if (!c->have_panic && is_panic_line(line, n, (size_t)(s - line))) {
        c->have_panic = true;
        c->panic_line = c->line_start;
        b->panic = true;
    }
    if (!b->fault && has_prefix(s, body_len, FAULT_PREFIX)) {
        b->fault = true;
        copy_cut(b->fault_text, sizeof b->fault_text, s + strlen(FAULT_PREFIX),
                 body_len - strlen(FAULT_PREFIX));
    }
    if (!b->prompt)
        parse_boot_line(b, s, body_len, ts);
}

/* ---- lines ---------------------------------------------------------------- */

/* Starts a UTF-8 sequence with lead byte ch. Returns false when ch cannot
 * start one (a stray continuation byte, an overlong or out-of-range lead). */
static bool utf8_lead(struct utf8_state *u, unsigned char ch)
{
    u->need = 0;
    u->lo = 0x80;
    u->hi = 0xbf;
    if (ch < 0x80)
        return true;
    if (ch >= 0xc2 && ch <= 0xdf) {
        u->need = 1;
    } else if (ch >= 0xe0 && ch <= 0xef) {
        u->need = 2;
        if (ch == 0xe0)
            u->lo = 0xa0; /* no overlong forms */
        else if (ch == 0xed)
            u->hi = 0x9f; /* no surrogates */
    } else if (ch >= 0xf0 && ch <= 0xf4) {
        u->need = 3;
        if (ch == 0xf0)
            u->lo = 0x90;
        else if (ch == 0xf4)
            u->hi = 0x8f; /* nothing above U+10FFFF */
    } else {
        return false;
    }
    return true;
}

/* Checks the next byte of the line. Returns false when it makes the line
 * invalid UTF-8 (a sequence cut short is reported at the byte that cuts it). */
static bool utf8_step(struct utf8_state *u, unsigned char ch)
{
    if (!u->need)
        return utf8_lead(u, ch);
    if (ch >= u->lo && ch <= u->hi) {
        u->need--;
        u->lo = 0x80;
        u->hi = 0xbf;
        return true;
    }
    utf8_lead(u, ch);
    return false;
}

/* Completes the pending line; cut: it was cut for length, not by a newline. */
static void end_line(struct aut_console *c, bool cut)
{
    const char *line = c->text.p + c->line_start;
    size_t n = c->text.len - c->line_start;
    bool garbage = cut || c->line_cont || c->line_bad || c->u8.need;
    parse_line(c, line, n);
    if (aut_sbuf_append(&c->text, "\n", 1)) {
        c->oom = true;
        return;
    }
    c->boot.lines++;
    if (garbage)
        c->boot.garbage_lines++;
    c->line_start = c->text.len;
    c->line_bad = false;
    c->line_cont = cut;
    c->u8 = (struct utf8_state){0};
}

static void saw_prompt(struct aut_console *c, uint64_t now_ms)
{
    c->prompts++;
    c->prompt_line = c->line_start;
    if (!c->boot.prompt) {
        c->boot.prompt = true;
        c->boot.prompt_host_ms = now_ms;
    }
}

static bool pending_is_prompt(const struct aut_console *c)
{
    return !c->line_cont && c->text.len - c->line_start == PROMPT_LEN &&
           memcmp(c->text.p + c->line_start, AUT_CONSOLE_PROMPT, PROMPT_LEN) == 0;
}

/* Appends one byte (not a line end) to the pending line, sanitized. */
static void put_byte(struct aut_console *c, unsigned char ch, uint64_t now_ms)
{
    if (c->text.len - c->line_start >= AUT_CONSOLE_LINE_MAX) {
        end_line(c, true);
        if (c->oom)
            return;
    }
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
        ch = '?';
        c->line_bad = true;
    }
    if (!utf8_step(&c->u8, ch))
        c->line_bad = true;
    char b = (char)ch;
    if (aut_sbuf_append(&c->text, &b, 1)) {
        c->oom = true;
        return;
    }
    /* Tested as each byte lands, so the answer does not depend on the chunking. */
    if (pending_is_prompt(c))
        saw_prompt(c, now_ms);
}

/* CRLF and LF end a line; a '\r' waits for the next byte to know which it is. */
static void feed_byte(struct aut_console *c, unsigned char ch, uint64_t now_ms)
{
    if (c->cr) {
        c->cr = false;
        if (ch == '\n') {
            end_line(c, false);
            return;
        }
        put_byte(c, '\r', now_ms);
        if (c->oom)
            return;
    }
    if (ch == '\n')
        end_line(c, false);
    else if (ch == '\r')
        c->cr = true;
    else
        put_byte(c, ch, now_ms);
}

/* ---- the console ---------------------------------------------------------- */

struct aut_console *aut_console_new(void)
{
    struct aut_console *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (aut_sbuf_reserve(&c->text, 0)) {
        free(c);
        return NULL;
    }
    c->text.p[0] = '\0';
    c->boot.banner_ts = -1;
    c->boot.ready_ts = -1;
    return c;
}

void aut_console_free(struct aut_console *c)
{
    if (!c)
        return;
    free(c->text.p);
    free(c->panic.p);
    free(c);
}

void aut_console_feed(struct aut_console *c, const char *buf, size_t len, uint64_t now_ms)
{
    if (!c || !buf)
        return;
    for (size_t i = 0; i < len && !c->oom; i++)
        feed_byte(c, (unsigned char)buf[i], now_ms);
}

const struct aut_boot_info *aut_console_boot(const struct aut_console *c)
{
    return &c->boot;
}

const char *aut_console_panic_text(struct aut_console *c)
{
    if (!c->have_panic)
        return NULL;
    size_t n = c->text.len - c->panic_line;
    if (c->text.len == c->line_start)
        n--; /* no pending line: the last line's '\n' is not part of the text */
    c->panic.len = 0;
    if (aut_sbuf_append(&c->panic, c->text.p + c->panic_line, n))
        return NULL;
    return c->panic.p;
}

const char *aut_console_text(struct aut_console *c, size_t *len)
{
    if (len)
        *len = c->text.len;
    return c->text.p;
}

uint64_t aut_console_prompts(const struct aut_console *c)
{
    return c->prompts;
}

void aut_console_mark(struct aut_console *c)
{
    c->mark_off = c->text.len;
    c->mark_prompts = c->prompts;
    c->mark_echo = pending_is_prompt(c);
}

char *aut_console_since_mark(struct aut_console *c)
{
    if (c->prompts == c->mark_prompts)
        return NULL;
    size_t start = c->mark_off;
    size_t end = c->prompt_line > start ? c->prompt_line : start;
    const char *s = c->text.p + start;
    size_t n = end - start;
    if (c->mark_echo) {
        const char *nl = memchr(s, '\n', n);
        size_t skip = nl ? (size_t)(nl - s) + 1 : n;
        s += skip;
        n -= skip;
    }
    if (n && s[n - 1] == '\n')
        n--; /* the end of the line before the prompt */
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

/* ---- the parsers ---------------------------------------------------------- */

/* The next line at *pos, without its "\n" or "\r\n" and without a "[ s.mmm] "
 * stamp; advances *pos. Returns false at the end of the text. */
static bool next_line(const char **pos, const char **line, size_t *n)
{
    const char *p = *pos;
    if (!*p)
        return false;
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    *pos = nl ? nl + 1 : p + len;
    if (len && p[len - 1] == '\r')
        len--;
    double ts;
    *line = skip_stamp(p, &len, &ts);
    *n = len;
    return true;
}

/* How much of a line to quote in an error message. */
static int quote_len(size_t n)
{
    return n > 80 ? 80 : (int)n;
}

enum { K_TOKENS, K_MS, K_TOK_S, K_POOL_USED, K_POOL_PEAK, K_BACKEND, K_COUNT };
static const char *const stat_keys[K_COUNT] = {"tokens",    "ms",        "tok_s",
                                               "pool_used", "pool_peak", "backend"};

/* One key=value of the stats line; v[0..end) is the whole value. */
static int set_stat(struct aut_query_result *r, int k, const char *v, const char *end)
{
    const char *p = v;
    uint64_t x = 0;
    int rc = 0;
    switch (k) {
    case K_TOKENS:
        rc = parse_uint(&p, end, UINT32_MAX, &x);
        r->tokens = (uint32_t)x;
        break;
    case K_MS:
        rc = parse_uint(&p, end, UINT64_MAX, &r->ms);
        break;
    case K_TOK_S:
        rc = parse_decimal(&p, end, &r->tok_s);
        break;
    case K_POOL_USED:
        rc = parse_uint(&p, end, UINT64_MAX, &r->pool_used);
        break;
    case K_POOL_PEAK:
        rc = parse_uint(&p, end, UINT64_MAX, &r->pool_peak);
        break;
    default:
        for (; p < end && ((*p >= 'a' && *p <= 'z') || *p == '_'); p++)
            ;
        if (p == v || (size_t)(p - v) >= sizeof r->backend)
            return -1;
        copy_cut(r->backend, sizeof r->backend, v, (size_t)(p - v));
        break;
    }
    return rc == 0 && p == end ? 0 : -1;
}

/* "SLM: Stats: tokens=N ms=T tok_s=R pool_used=B pool_peak=B backend=..." in
 * s[0..n): every key required, unknown keys ignored. */
static int parse_stats(const char *s, size_t n, struct aut_query_result *r, char *err,
                       size_t errlen)
{
    const char *p = s + strlen("SLM: Stats:"), *end = s + n;
    unsigned seen = 0;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        const char *tok = p;
        while (p < end && *p != ' ')
            p++;
        const char *eq = memchr(tok, '=', (size_t)(p - tok));
        for (int k = 0; eq && k < K_COUNT; k++) {
            size_t kl = strlen(stat_keys[k]);
            if ((size_t)(eq - tok) != kl || memcmp(tok, stat_keys[k], kl) != 0)
                continue;
            if (set_stat(r, k, eq + 1, p))
                return aut_errf(err, errlen, -1, "malformed \"SLM: Stats:\" line: bad %.*s",
                                quote_len((size_t)(p - tok)), tok);
            seen |= 1u << k;
        }
    }
    for (int k = 0; k < K_COUNT; k++)
        if (!(seen & (1u << k)))
            return aut_errf(err, errlen, -1,
                            "malformed \"SLM: Stats:\" line: no %s=", stat_keys[k]);
    return 0;
}

/* Adds an answer line to out: "SLM: Output: x" starts it, "SLM: | x" goes on. */
static int add_answer_line(struct aut_sbuf *out, const char *s, size_t n, size_t prefix, bool first)
{
    const char *p = s + prefix;
    size_t len = n - prefix;
    if (len && *p == ' ') {
        p++;
        len--;
    }
    if (first)
        out->len = 0; /* a second "SLM: Output:" starts the answer again */
    else if (aut_sbuf_append(out, "\n", 1))
        return -1;
    return aut_sbuf_append(out, p, len);
}

/* The answer lines up to the first "SLM: Stats:" line; *stats points at it. */
static int collect_answer(const char *text, struct aut_sbuf *out, bool *have_output,
                          const char **stats, size_t *stats_n, char *kernel_err, size_t kerr_len)
{
    const char *pos = text, *s;
    size_t n;
    while (next_line(&pos, &s, &n)) {
        int rc = 0;
        if (has_prefix(s, n, "SLM: Output:")) {
            rc = add_answer_line(out, s, n, strlen("SLM: Output:"), true);
            *have_output = true;
        } else if (has_prefix(s, n, "SLM: |") && *have_output) {
            rc = add_answer_line(out, s, n, strlen("SLM: |"), false);
        } else if (has_prefix(s, n, "SLM: Stats:")) {
            *stats = s;
            *stats_n = n;
            return 0;
        } else if (has_prefix(s, n, "SLM: Error:") && !kernel_err[0]) {
            copy_cut(kernel_err, kerr_len, s, n);
        }
        if (rc)
            return -1;
    }
    return 0;
}

int aut_console_parse_query(const char *text, struct aut_query_result *r, char *err, size_t errlen)
{
    struct aut_sbuf out = {0};
    const char *stats = NULL;
    size_t stats_n = 0;
    bool have_output = false;
    char kernel_err[160] = "";
    int rc;
    memset(r, 0, sizeof *r);
    if (!text)
        return aut_errf(err, errlen, -1, "no text");
    if (collect_answer(text, &out, &have_output, &stats, &stats_n, kernel_err, sizeof kernel_err))
        rc = aut_errf(err, errlen, -1, "out of memory");
    else if (!stats && kernel_err[0])
        rc = aut_errf(err, errlen, -1, "no \"SLM: Stats:\" line; the kernel said \"%s\"",
                      kernel_err);
    else if (!stats)
        rc = aut_errf(err, errlen, -1, "no \"SLM: Stats:\" line");
    else if (!have_output)
        rc = aut_errf(err, errlen, -1, "no \"SLM: Output:\" line before \"SLM: Stats:\"");
    else
        rc = parse_stats(stats, stats_n, r, err, errlen);
    if (rc) {
        free(out.p);
        memset(r, 0, sizeof *r);
        return -1;
    }
    r->output = out.p;
    return 0;
}

void aut_query_result_release(struct aut_query_result *r)
{
    if (!r)
        return;
    free(r->output);
    r->output = NULL;
}

/* "SELFTEST: N passed, M failed". Returns 0, or -1 when s[0..n) is not that. */
static int parse_summary(const char *s, size_t n, struct aut_selftest_result *r)
{
    const char *p = s + strlen("SELFTEST: "), *end = s + n;
    uint64_t passed, failed;
    if (parse_uint(&p, end, UINT32_MAX, &passed) || !eat(&p, end, " passed, ") ||
        parse_uint(&p, end, UINT32_MAX, &failed) || !eat(&p, end, " failed"))
        return -1;
    while (p < end && *p == ' ')
        p++;
    if (p != end)
        return -1;
    r->summary = true;
    r->passed = (unsigned)passed;
    r->failed = (unsigned)failed;
    return 0;
}

/* "SELFTEST <name>: PASS|FAIL <detail>". Returns 0 and sets *pass, -1 when
 * s[0..n) is not that; stores the entry while r->test has room. */
static int parse_entry(const char *s, size_t n, struct aut_selftest_result *r, bool *pass)
{
    const char *p = s + strlen("SELFTEST "), *end = s + n, *name = p;
    while (p < end && *p != ':' && *p != ' ')
        p++;
    const char *name_end = p;
    if (name_end == name || !eat(&p, end, ": "))
        return -1;
    if (eat(&p, end, "PASS"))
        *pass = true;
    else if (eat(&p, end, "FAIL"))
        *pass = false;
    else
        return -1;
    if (p < end && !eat(&p, end, " "))
        return -1;
    if (r->n < AUT_SELFTEST_MAX) {
        copy_cut(r->test[r->n].name, sizeof r->test[r->n].name, name, (size_t)(name_end - name));
        r->test[r->n].pass = *pass;
        copy_cut(r->test[r->n].detail, sizeof r->test[r->n].detail, p, (size_t)(end - p));
        r->n++;
    }
    return 0;
}

int aut_console_parse_selftest(const char *text, struct aut_selftest_result *r, char *err,
                               size_t errlen)
{
    const char *pos = text ? text : "", *s, *bad = NULL;
    size_t n, bad_n = 0;
    unsigned entries = 0, passed = 0, failed = 0;
    memset(r, 0, sizeof *r);
    while (!r->summary && next_line(&pos, &s, &n)) {
        bool pass;
        if (has_prefix(s, n, "SELFTEST: ")) {
            if (parse_summary(s, n, r) && !bad) {
                bad = s;
                bad_n = n;
            }
        } else if (has_prefix(s, n, "SELFTEST ") && parse_entry(s, n, r, &pass) == 0) {
            entries++;
            passed += pass;
            failed += !pass;
        }
    }
    if (!r->summary && bad)
        return aut_errf(err, errlen, -1,
                        "malformed selftest summary \"%.*s\" (want \"SELFTEST: N passed, "
                        "M failed\")",
                        quote_len(bad_n), bad);
    if (!r->summary)
        return aut_errf(err, errlen, -1, "no \"SELFTEST: N passed, M failed\" summary line");
    if (entries > AUT_SELFTEST_MAX)
        return aut_errf(err, errlen, -1, "%u SELFTEST lines, more than the %d kept", entries,
                        AUT_SELFTEST_MAX);
    if (passed != r->passed || failed != r->failed)
        return aut_errf(err, errlen, -1,
                        "summary says %u passed, %u failed but the SELFTEST lines show "
                        "%u passed, %u failed",
                        r->passed, r->failed, passed, failed);
    return 0;
}
