/*
 * console.h - reading the AUTON kernel's COM1 console (docs/kernel.md).
 *
 * A console object is fed the raw bytes QEMU prints on COM1, in chunks of any
 * size, with the host time of each chunk. It splits them into lines (CRLF and
 * LF; a trailing '\r' dropped; NUL and other control bytes replaced by '?',
 * invalid UTF-8 kept as bytes but counted), keeps the whole transcript, and
 * parses the boot log as it goes:
 *
 *   [  0.010] AUTON kernel booting...                    banner, kernel time
 *   Run: <id>                                            the run id (auton.run_id)
 *   [  0.035] SLM: Loading embedded neural model (N bytes)...
 *   [  0.050] SLM: Neural backend ready (vocab=V, ctx=C)
 *   [  0.051] SLM: Runtime initialized successfully
 *   [  0.060] Init: System ready
 *   Shell>                                               the prompt (no newline after it)
 *   KERNEL PANIC: <msg> (thread <t>)                     panic; every line after it is
 *                                                        part of the panic text
 *   SLM: neural backend fault: <text>                    fault in the ring-3 SLM task
 *
 * Lines with a "[ s.mmm] " prefix have their kernel timestamp recorded. The
 * prompt is recognised when the pending (unterminated) text is exactly
 * "Shell> " (after a newline, or at the very start).
 *
 * Garbage never breaks it: an overlong line (over AUT_CONSOLE_LINE_MAX bytes)
 * is cut into pieces, each counted in garbage_lines; every line is kept.
 *
 * Commands: aut_console_mark() notes the current position; after sending a
 * command line and seeing the next prompt, aut_console_since_mark() returns
 * everything printed since the mark up to (not including) that prompt, with
 * the echoed command line removed when it is the first line.
 *
 * The pure parsers below work on such text.
 */
#ifndef AUTON_QEMU_CONSOLE_H
#define AUTON_QEMU_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUT_CONSOLE_LINE_MAX 4096
#define AUT_CONSOLE_PROMPT "Shell> "

struct aut_console;

/* What the boot log said so far. Times: kernel seconds from the "[ s.mmm]"
 * prefix (-1 when not seen); host_ms: the host's milliseconds (as passed to
 * feed) when the line or prompt arrived (0 when not seen). */
struct aut_boot_info {
    bool banner;              /* "AUTON kernel booting..." */
    double banner_ts;
    bool mm_ready;            /* "MM: Initialized page allocator" */
    bool slm_loading;         /* "SLM: Loading embedded neural model (N bytes)..." */
    uint64_t model_bytes;     /* N of that line */
    bool neural_ready;        /* "SLM: Neural backend ready (vocab=V, ctx=C)" */
    uint32_t vocab, ctx;
    bool slm_failed;          /* a line starting "SLM: " containing "fail" or "error"
                                 (case-insensitive) during boot, before the prompt */
    char slm_error[256];      /* the first such line */
    bool runtime_ok;          /* "SLM: Runtime initialized successfully" */
    bool system_ready;        /* "Init: System ready" */
    double ready_ts;          /* its kernel timestamp */
    bool prompt;              /* the first "Shell> " */
    uint64_t prompt_host_ms;
    char run_id[96];          /* from "Run: <id>", "" if none */
    bool panic;               /* "KERNEL PANIC:" seen (anywhere, any time) */
    bool fault;               /* "SLM: neural backend fault:" seen */
    char fault_text[256];
    uint64_t lines;           /* complete lines so far */
    uint64_t garbage_lines;   /* lines cut for length or holding control bytes / bad UTF-8 */
};

/* Returns a new console, or NULL when out of memory. */
struct aut_console *aut_console_new(void);
void aut_console_free(struct aut_console *c);

/* Feeds raw COM1 bytes that arrived at host time now_ms. */
void aut_console_feed(struct aut_console *c, const char *buf, size_t len, uint64_t now_ms);

const struct aut_boot_info *aut_console_boot(const struct aut_console *c);
/* The panic text: the "KERNEL PANIC:" line and every line after it, joined
 * with '\n' (plus any pending partial line); NULL when there was no panic.
 * Owned by the console, valid until the next feed. */
const char *aut_console_panic_text(struct aut_console *c);
/* The whole transcript (lines joined with '\n', the pending partial line
 * last). Owned by the console, valid until the next feed. */
const char *aut_console_text(struct aut_console *c, size_t *len);

/* Number of prompts seen so far (each "Shell> " that became the pending text). */
uint64_t aut_console_prompts(const struct aut_console *c);
/* Notes the current position (in the transcript) for a command's output. */
void aut_console_mark(struct aut_console *c);
/* Text printed since the mark, up to the latest prompt, without the prompt and
 * without the first line when it is the echo (the pending text at the mark
 * was the prompt, so the first line is "Shell> <cmd>" or "<cmd>" - drop it).
 * Returns a malloc'ed string the caller frees, or NULL when no prompt has
 * been seen since the mark or memory ran out. */
char *aut_console_since_mark(struct aut_console *c);

/* The result of one `slm query` at the console (docs/kernel.md):
 *   SLM: Inference starting...
 *   SLM: Output: <line 1>
 *   SLM: | <line k>
 *   SLM: Stats: tokens=N ms=T tok_s=R pool_used=B pool_peak=B backend=neural|rule
 * Other lines in between are ignored. */
struct aut_query_result {
    char *output;       /* the answer lines joined with '\n', malloc'ed (caller frees) */
    uint32_t tokens;
    uint64_t ms;
    double tok_s;
    uint64_t pool_used, pool_peak;
    char backend[16];   /* "neural" or "rule" */
};

/* Parses the text of one `slm query`. Returns 0, or -1 with why (a message
 * naming the missing or malformed line, e.g. "no \"SLM: Stats:\" line") in
 * err. On failure r->output is NULL. */
int aut_console_parse_query(const char *text, struct aut_query_result *r, char *err,
                            size_t errlen);
void aut_query_result_release(struct aut_query_result *r);

/* The selftest report (`selftest` at the shell or the selftest cmdline):
 *   SELFTEST <name>: PASS|FAIL <detail>
 *   SELFTEST: N passed, M failed */
#define AUT_SELFTEST_MAX 32
struct aut_selftest_result {
    unsigned n;                /* entries in test[] */
    struct {
        char name[32];
        bool pass;
        char detail[160];
    } test[AUT_SELFTEST_MAX];
    bool summary;              /* the summary line was seen */
    unsigned passed, failed;   /* from the summary line */
};
/* Returns 0 when a summary line was found and agrees with the entries,
 * else -1 with err set. */
int aut_console_parse_selftest(const char *text, struct aut_selftest_result *r, char *err,
                               size_t errlen);

#endif
