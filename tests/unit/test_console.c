/*
 * test_console.c - the kernel console reader (src/qemu/console.c) on real
 * COM1 transcripts and on garbage.
 *
 * Fixtures (tests/unit/data/console/), raw bytes as QEMU printed them:
 *   boot-rule-shell.raw       rule engine, auton.run_id=abc; two `slm query` (one answer
 *                             spans six lines), `selftest`, `poweroff`
 *   boot-model-shell.raw      the AUTON SLM embedded, auton.run_id=run-42 slm.pool_mb=64;
 *                             a neural `slm query -n 16`, `selftest` (11 tests), `poweroff`
 *   boot-model-nopool.raw     the model embedded but slm.pool_mb=1: the backend fails to start
 *   boot-selftest-cmdline.raw `selftest` on the command line: no shell, no prompt
 *   panic-synthetic.raw       the real rule boot, then a panic() in kernel/panic.c's format
 *   fault-synthetic.raw       the real model boot, then a ring-3 fault during a query, in
 *                             gguf_loader.c's and shell_slm.c's formats
 * Covered: one chunk, byte by byte and random chunks give the same result;
 * the boot fields; the prompt and its host time; panic text (also when the
 * panic cuts into the prompt line); the fault line; garbage (NULs, 0xff, bad
 * UTF-8, a 100 KB line); mark/since_mark with and without the echo; the
 * query and selftest parsers on good, broken and random text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

/* ---- fixtures ----------------------------------------------------------- */

struct blob {
    char *p;
    size_t len;
};

static struct blob load(const char *name)
{
    char path[512];
    const char *file = __FILE__;
    const char *slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file + 1) : 0;
    snprintf(path, sizeof path, "%.*sdata/console/%s", dir, file, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open fixture %s", path);
    struct blob b = {malloc(1 << 20), 0};
    assert_non_null(b.p);
    b.len = fread(b.p, 1, 1 << 20, f);
    fclose(f);
    assert_true(b.len > 0);
    return b;
}

static struct aut_console *feed_all(const struct blob *b, uint64_t now_ms)
{
    struct aut_console *c = aut_console_new();
    assert_non_null(c);
    aut_console_feed(c, b->p, b->len, now_ms);
    return c;
}

static void feed_str(struct aut_console *c, const char *s, uint64_t now_ms)
{
    aut_console_feed(c, s, strlen(s), now_ms);
}

/* Offset just after the k-th (1-based) "Shell> " in b, or b->len. */
static size_t after_prompt(const struct blob *b, int k)
{
    size_t off = 0;
    for (int i = 0; i < k; i++) {
        const char *p = memmem(b->p + off, b->len - off, AUT_CONSOLE_PROMPT, 7);
        if (!p)
            return b->len;
        off = (size_t)(p - b->p) + 7;
    }
    return off;
}

static size_t count_newlines(const struct blob *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->len; i++)
        n += b->p[i] == '\n';
    return n;
}

static const char *const fixtures[] = {
    "boot-rule-shell.raw",       "boot-model-shell.raw", "boot-model-nopool.raw",
    "boot-selftest-cmdline.raw", "panic-synthetic.raw",  "fault-synthetic.raw",
};

/* ---- chunking --------------------------------------------------------- */

static void assert_same_console(struct aut_console *a, struct aut_console *b)
{
    size_t la, lb;
    const char *ta = aut_console_text(a, &la), *tb = aut_console_text(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ta, tb, la);
    const struct aut_boot_info *ba = aut_console_boot(a), *bb = aut_console_boot(b);
    assert_int_equal(ba->lines, bb->lines);
    assert_int_equal(ba->garbage_lines, bb->garbage_lines);
    assert_string_equal(ba->run_id, bb->run_id);
    assert_memory_equal(ba, bb, sizeof *ba);
    assert_int_equal(aut_console_prompts(a), aut_console_prompts(b));
    const char *pa = aut_console_panic_text(a), *pb = aut_console_panic_text(b);
    assert_true((pa == NULL) == (pb == NULL));
    if (pa)
        assert_string_equal(pa, pb);
}

static void test_chunking_does_not_change_the_result(void **state)
{
    for (size_t f = 0; f < sizeof fixtures / sizeof *fixtures; f++) {
        struct blob b = load(fixtures[f]);
        struct aut_console *whole = feed_all(&b, 7);
        struct aut_console *bytes = aut_console_new();
        for (size_t i = 0; i < b.len; i++)
            aut_console_feed(bytes, b.p + i, 1, 7);
        assert_same_console(whole, bytes);
        for (unsigned seed = 1; seed <= 20; seed++) {
            struct aut_console *chunks = aut_console_new();
            srand(seed);
            for (size_t i = 0; i < b.len;) {
                size_t n = 1 + (size_t)rand() % 97;
                if (n > b.len - i)
                    n = b.len - i;
                aut_console_feed(chunks, b.p + i, n, 7);
                i += n;
            }
            assert_same_console(whole, chunks);
            aut_console_free(chunks);
        }
        aut_console_free(bytes);
        aut_console_free(whole);
        free(b.p);
    }
}

/* ---- the boot log ------------------------------------------------------- */

static void test_rule_boot_fields(void **state)
{
    struct blob b = load("boot-rule-shell.raw");
    struct aut_console *c = feed_all(&b, 1234);
    const struct aut_boot_info *bi = aut_console_boot(c);
    assert_true(bi->banner);
    assert_true(bi->banner_ts > 0.0095 && bi->banner_ts < 0.0105);
    assert_string_equal(bi->run_id, "abc");
    assert_true(bi->mm_ready);
    assert_false(bi->slm_loading);
    assert_false(bi->neural_ready);
    assert_false(bi->slm_failed);
    assert_true(bi->runtime_ok);
    assert_true(bi->system_ready);
    assert_true(bi->ready_ts > 0.0235 && bi->ready_ts < 0.0245);
    assert_true(bi->prompt);
    assert_int_equal(bi->prompt_host_ms, 1234);
    assert_false(bi->panic);
    assert_false(bi->fault);
    assert_null(aut_console_panic_text(c));
    assert_int_equal(bi->lines, count_newlines(&b));
    assert_int_equal(bi->garbage_lines, 0);
    assert_int_equal(aut_console_prompts(c), 4);

    /* the transcript: CRLF gone, lines joined with '\n' */
    size_t len;
    const char *t = aut_console_text(c, &len);
    assert_int_equal(strlen(t), len);
    assert_null(memchr(t, '\r', len));
    assert_int_equal(len, b.len - count_newlines(&b));
    assert_non_null(strstr(t, "[  0.024] Init: System ready\nShell> slm query"));
    assert_string_equal(t + len - strlen("Powering off\n"), "Powering off\n");
    aut_console_free(c);
    free(b.p);
}

static void test_model_boot_fields(void **state)
{
    struct blob b = load("boot-model-shell.raw");
    struct aut_console *c = feed_all(&b, 5);
    const struct aut_boot_info *bi = aut_console_boot(c);
    assert_true(bi->banner);
    assert_string_equal(bi->run_id, "run-42");
    assert_true(bi->slm_loading);
    assert_int_equal(bi->model_bytes, 4352800);
    assert_true(bi->neural_ready);
    assert_int_equal(bi->vocab, 4096);
    assert_int_equal(bi->ctx, 256);
    assert_false(bi->slm_failed);
    assert_true(bi->runtime_ok);
    assert_true(bi->system_ready);
    assert_true(bi->ready_ts > 0.0825 && bi->ready_ts < 0.0835);
    assert_true(bi->prompt);
    assert_int_equal(aut_console_prompts(c), 3);
    assert_int_equal(bi->garbage_lines, 0);
    aut_console_free(c);
    free(b.p);
}

static void test_backend_failure_during_boot(void **state)
{
    struct blob b = load("boot-model-nopool.raw");
    struct aut_console *c = feed_all(&b, 5);
    const struct aut_boot_info *bi = aut_console_boot(c);
    assert_true(bi->slm_loading);
    assert_int_equal(bi->model_bytes, 4352800);
    assert_false(bi->neural_ready);
    assert_true(bi->slm_failed);
    assert_string_equal(bi->slm_error, "SLM: Failed to initialize neural backend: no SLM pool "
                                       "(the region could not be reserved)");
    assert_true(bi->runtime_ok);
    assert_true(bi->system_ready);
    assert_string_equal(bi->run_id, "");
    aut_console_free(c);
    free(b.p);
}

static void test_selftest_boot_has_no_prompt(void **state)
{
    struct blob b = load("boot-selftest-cmdline.raw");
    struct aut_console *c = feed_all(&b, 5);
    const struct aut_boot_info *bi = aut_console_boot(c);
    assert_true(bi->system_ready);
    assert_false(bi->prompt);
    assert_int_equal(bi->prompt_host_ms, 0);
    assert_int_equal(aut_console_prompts(c), 0);
    assert_string_equal(bi->run_id, "st1");
    assert_null(aut_console_since_mark(c));

    struct aut_selftest_result r;
    char err[256] = "";
    assert_int_equal(aut_console_parse_selftest(aut_console_text(c, NULL), &r, err, sizeof err), 0);
    assert_int_equal(r.n, 8);
    assert_int_equal(r.passed, 8);
    assert_int_equal(r.failed, 0);
    assert_string_equal(r.test[4].name, "timer");
    assert_string_equal(r.test[4].detail, "9 ticks in 500 ms of TSC time (expected 10 at 20 Hz)");
    aut_console_free(c);
    free(b.p);
}

static void test_unstamped_boot_lines_and_missing_fields(void **state)
{
    struct aut_console *c = aut_console_new();
    const struct aut_boot_info *bi = aut_console_boot(c);
    assert_false(bi->banner);
    assert_true(bi->banner_ts < 0);
    assert_true(bi->ready_ts < 0);
    feed_str(c, "AUTON kernel booting...\nRun: x-1\nSLM: Neural backend ready\n", 1);
    feed_str(c, "[1234.567] Init: System ready\r\n", 1);
    assert_true(bi->banner);
    assert_true(bi->banner_ts < 0); /* no stamp */
    assert_string_equal(bi->run_id, "x-1");
    assert_true(bi->neural_ready);
    assert_int_equal(bi->vocab, 0);
    assert_true(bi->ready_ts > 1234.566 && bi->ready_ts < 1234.568);
    aut_console_free(c);
}

/* ---- the prompt --------------------------------------------------------- */

static void test_prompt_is_timed_when_its_last_byte_arrives(void **state)
{
    struct aut_console *c = aut_console_new();
    const struct aut_boot_info *bi = aut_console_boot(c);
    feed_str(c, "[  0.056] Init: System ready\r\nShe", 100);
    assert_false(bi->prompt);
    feed_str(c, "ll>", 200);
    assert_false(bi->prompt);
    feed_str(c, " ", 300);
    assert_true(bi->prompt);
    assert_int_equal(bi->prompt_host_ms, 300);
    assert_int_equal(aut_console_prompts(c), 1);
    feed_str(c, "help\r\n", 400);
    feed_str(c, "xShell> \r\nShell>\r\n Shell> ", 500); /* none of these is a prompt */
    assert_int_equal(aut_console_prompts(c), 1);
    feed_str(c, "\r\nShell> ", 600);
    assert_int_equal(aut_console_prompts(c), 2);
    assert_int_equal(bi->prompt_host_ms, 300);
    aut_console_free(c);
}

static void test_prompt_at_the_very_start(void **state)
{
    struct aut_console *c = aut_console_new();
    feed_str(c, "Shell> ", 9);
    assert_true(aut_console_boot(c)->prompt);
    assert_int_equal(aut_console_prompts(c), 1);
    size_t len;
    assert_string_equal(aut_console_text(c, &len), "Shell> ");
    assert_int_equal(len, 7);
    aut_console_free(c);
}

static void test_boot_milestones_count_only_before_the_prompt(void **state)
{
    struct aut_console *c = aut_console_new();
    feed_str(c, "[  0.010] AUTON kernel booting...\r\nShell> x\r\n", 1);
    feed_str(c, "SLM: Failed to parse GGUF model: late\r\nRun: late\r\n", 1);
    const struct aut_boot_info *bi = aut_console_boot(c);
    assert_false(bi->slm_failed);
    assert_string_equal(bi->run_id, "");
    aut_console_free(c);
}

/* ---- panic and fault ---------------------------------------------------- */

static void test_panic_text_holds_every_line_after_it(void **state)
{
    struct blob b = load("panic-synthetic.raw");
    struct aut_console *c = feed_all(&b, 5);
    assert_true(aut_console_boot(c)->panic);
    assert_true(aut_console_boot(c)->prompt);
    const char *want =
        "[  3.141] KERNEL PANIC: slm_query: mailbox magic 0x0 (thread shell)\n"
        "  called from 0xffffffff80012345  rsp 0xffffffff80234f80  rbp 0xffffffff80234fb0\n"
        "  cr0 0x0000000080050033  cr2 0x0000000000000000  cr3 0x0000000000102000  cr4 "
        "0x0000000000040620";
    assert_string_equal(aut_console_panic_text(c), want);

    /* a pending partial line is part of it; a second panic is not a new start */
    feed_str(c, "[  3.2] KERNEL PANIC: again (thread x)\r\n  tail", 6);
    const char *p = aut_console_panic_text(c);
    assert_int_equal(strncmp(p, want, strlen(want)), 0);
    assert_string_equal(p + strlen(want), "\n[  3.2] KERNEL PANIC: again (thread x)\n  tail");
    aut_console_free(c);
    free(b.p);
}

static void test_panic_that_cuts_into_the_prompt_line(void **state)
{
    struct aut_console *c = aut_console_new();
    feed_str(c, "[  0.056] Init: System ready\r\nShell> ", 1);
    feed_str(c, "[ 12.500] KERNEL PANIC: #GP general protection in kernel mode (thread idle)\r\n",
             2);
    feed_str(c, "  vector 13  error 0x0  cr2 0x0000000000000000\r\n", 2);
    assert_true(aut_console_boot(c)->panic);
    assert_string_equal(aut_console_panic_text(c),
                        "Shell> [ 12.500] KERNEL PANIC: #GP general protection in kernel mode "
                        "(thread idle)\n  vector 13  error 0x0  cr2 0x0000000000000000");
    aut_console_free(c);
}

static void test_answers_that_mention_a_panic_are_not_one(void **state)
{
    struct aut_console *c = aut_console_new();
    feed_str(c, "Shell> slm query \"what is KERNEL PANIC: x\"\r\n", 1);
    feed_str(c, "SLM: Output: KERNEL PANIC: means the kernel stopped\r\n", 1);
    feed_str(c, "SLM: | see [1.0]KERNEL PANIC: and [x] KERNEL PANIC: too\r\n", 1);
    assert_false(aut_console_boot(c)->panic);
    assert_null(aut_console_panic_text(c));
    aut_console_free(c);
}

static void test_fault_line_is_captured(void **state)
{
    struct blob b = load("fault-synthetic.raw");
    struct aut_console *c = feed_all(&b, 5);
    const struct aut_boot_info *bi = aut_console_boot(c);
    assert_true(bi->fault);
    assert_string_equal(bi->fault_text, "#PF page fault at rip 0x4012a0, address 0x0 (user read, "
                                        "not present); falling back to the rule engine");
    assert_false(bi->slm_failed); /* after the prompt: not a boot failure */
    assert_true(bi->neural_ready);
    assert_false(bi->panic);
    aut_console_free(c);
    free(b.p);
}

/* ---- garbage ------------------------------------------------------------ */

static void test_control_bytes_are_replaced_and_counted(void **state)
{
    struct aut_console *c = aut_console_new();
    const char bytes[] = "a\0b\x01\x1b[K\tc\x7f\r\n";
    aut_console_feed(c, bytes, sizeof bytes - 1, 1);
    feed_str(c, "lone\rcr\r\n\r\n", 1);
    size_t len;
    const char *t = aut_console_text(c, &len);
    assert_string_equal(t, "a?b??[K\tc?\nlone?cr\n\n");
    assert_int_equal(aut_console_boot(c)->lines, 3);
    assert_int_equal(aut_console_boot(c)->garbage_lines, 2);
    aut_console_free(c);
}

static void test_invalid_utf8_is_kept_and_counted(void **state)
{
    struct aut_console *c = aut_console_new();
    feed_str(c, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n", 1); /* valid */
    feed_str(c, "\xe2\x82", 1);                                    /* valid, split */
    feed_str(c, "\xac ok\n", 1);
    assert_int_equal(aut_console_boot(c)->garbage_lines, 0);
    feed_str(c, "\xff\xfe\n", 1);         /* never valid */
    feed_str(c, "\xc0\xaf\n", 1);         /* overlong '/' */
    feed_str(c, "\xed\xa0\x80\n", 1);     /* a surrogate */
    feed_str(c, "\xf4\x90\x80\x80\n", 1); /* above U+10FFFF */
    feed_str(c, "cut \xe2\x82\n", 1);     /* cut short by the line end */
    feed_str(c, "\x80 stray\n", 1);       /* a lone continuation byte */
    const struct aut_boot_info *bi = aut_console_boot(c);
    assert_int_equal(bi->lines, 8);
    assert_int_equal(bi->garbage_lines, 6);
    size_t len;
    const char *t = aut_console_text(c, &len);
    assert_non_null(memmem(t, len, "\n\xff\xfe\n", 4)); /* kept as they were */
    aut_console_free(c);
}

static void test_overlong_line_is_cut_and_survived(void **state)
{
    const size_t big = 100 * 1000;
    char *line = malloc(big);
    assert_non_null(line);
    memset(line, 'A', big);
    line[5] = '\0';
    line[99] = (char)0xff;
    struct aut_console *c = aut_console_new();
    feed_str(c, "[  0.010] AUTON kernel booting...\r\n", 1);
    aut_console_feed(c, line, big, 2);
    const struct aut_boot_info *bi = aut_console_boot(c);
    size_t pieces = big / AUT_CONSOLE_LINE_MAX; /* full pieces; the rest is pending */
    assert_int_equal(bi->lines, 1 + pieces);
    assert_int_equal(bi->garbage_lines, pieces);
    size_t len;
    aut_console_text(c, &len);
    assert_int_equal(len, strlen("[  0.010] AUTON kernel booting...\n") + big + pieces);

    /* the end of it; the console goes on reading lines afterwards */
    feed_str(c, "\r\n[  0.016] MM: Initialized page allocator\r\nShell> ", 3);
    assert_int_equal(bi->lines, 1 + pieces + 1 + 1);
    assert_int_equal(bi->garbage_lines, pieces + 1);
    assert_true(bi->banner);
    assert_true(bi->mm_ready);
    assert_true(bi->prompt);
    const char *t = aut_console_text(c, &len);
    assert_int_equal(strlen(t), len); /* the NUL became '?' */
    assert_int_equal(t[strlen("[  0.010] AUTON kernel booting...\n") + 5], '?');
    aut_console_free(c);
    free(line);
}

static void test_line_of_exactly_the_maximum_is_not_cut_one_more_is(void **state)
{
    char *line = malloc(AUT_CONSOLE_LINE_MAX + 2);
    assert_non_null(line);
    memset(line, 'x', AUT_CONSOLE_LINE_MAX);
    memcpy(line + AUT_CONSOLE_LINE_MAX, "\r\n", 2);
    struct aut_console *c = aut_console_new();
    aut_console_feed(c, line, AUT_CONSOLE_LINE_MAX + 2, 1);
    assert_int_equal(aut_console_boot(c)->lines, 1);
    assert_int_equal(aut_console_boot(c)->garbage_lines, 0);

    /* one byte more: two pieces, both garbage */
    aut_console_feed(c, line, AUT_CONSOLE_LINE_MAX, 1);
    feed_str(c, "y\r\n", 1);
    assert_int_equal(aut_console_boot(c)->lines, 3);
    assert_int_equal(aut_console_boot(c)->garbage_lines, 2);
    size_t len;
    const char *t = aut_console_text(c, &len);
    assert_int_equal(len, 2 * (AUT_CONSOLE_LINE_MAX + 1) + 2);
    assert_string_equal(t + len - 4, "x\ny\n");
    aut_console_free(c);
    free(line);
}

static void test_random_bytes_never_break_it(void **state)
{
    struct aut_console *c = aut_console_new();
    char buf[512];
    srand(42);
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)rand() % sizeof buf;
        for (size_t j = 0; j < n; j++)
            buf[j] = (char)(rand() % 5 == 0 ? "\r\n\0S\xff"[rand() % 5] : rand());
        aut_console_feed(c, buf, n, (uint64_t)i);
    }
    size_t len;
    const char *t = aut_console_text(c, &len);
    assert_int_equal(strlen(t), len);
    assert_true(aut_console_boot(c)->garbage_lines > 0);
    free(aut_console_since_mark(c));
    aut_console_panic_text(c);
    aut_console_free(c);
    aut_console_free(NULL);
}

/* ---- mark and since_mark ------------------------------------------------ */

static void test_since_mark_drops_the_echo(void **state)
{
    struct blob b = load("boot-rule-shell.raw");
    struct aut_console *c = aut_console_new();
    size_t p1 = after_prompt(&b, 1), p2 = after_prompt(&b, 2), p3 = after_prompt(&b, 3);
    aut_console_feed(c, b.p, p1, 1);
    aut_console_mark(c);
    assert_null(aut_console_since_mark(c));
    /* the echo and the answer, byte by byte, then the next prompt */
    for (size_t i = p1; i < p2 - 3; i++)
        aut_console_feed(c, b.p + i, 1, 2);
    assert_null(aut_console_since_mark(c));
    aut_console_feed(c, b.p + p2 - 3, 3, 3);
    char *out = aut_console_since_mark(c);
    assert_non_null(out);
    assert_string_equal(out, "SLM: Inference starting...\n"
                             "SLM: Output: an Intel 82574L Gigabit Network Connection.\n"
                             "SLM: Stats: tokens=0 ms=0 tok_s=0.0 pool_used=0 pool_peak=0 "
                             "backend=rule");
    free(out);

    /* the second command, in one chunk */
    aut_console_mark(c);
    aut_console_feed(c, b.p + p2, p3 - p2, 4);
    out = aut_console_since_mark(c);
    assert_non_null(out);
    assert_int_equal(strncmp(out, "SLM: Inference starting...\nSLM: Output: 00:00.0 8086:1237", 57),
                     0);
    assert_null(strstr(out, "Shell>"));
    assert_null(strstr(out, "List all PCI devices"));
    free(out);
    aut_console_free(c);
    free(b.p);
}

static void test_since_mark_without_a_prompt_at_the_mark_keeps_the_first_line(void **state)
{
    struct aut_console *c = aut_console_new();
    feed_str(c, "[  0.056] Init: System ready\r\n", 1);
    aut_console_mark(c);
    feed_str(c, "first\r\nsecond\r\nShell> ", 2);
    char *out = aut_console_since_mark(c);
    assert_string_equal(out, "first\nsecond");
    free(out);

    /* a command with no output at all */
    aut_console_mark(c);
    feed_str(c, "\r\nShell> ", 3);
    out = aut_console_since_mark(c);
    assert_string_equal(out, "");
    free(out);
    aut_console_free(c);
}

static void test_since_mark_before_any_mark_starts_at_the_beginning(void **state)
{
    struct aut_console *c = aut_console_new();
    feed_str(c, "boot\r\nShell> ", 1);
    char *out = aut_console_since_mark(c);
    assert_string_equal(out, "boot");
    free(out);
    aut_console_free(c);
}

/* ---- the query parser --------------------------------------------------- */

static void test_query_single_line_rule(void **state)
{
    struct aut_query_result r;
    char err[256] = "";
    const char *text = "SLM: Inference starting...\n"
                       "SLM: Output: an Intel 82574L Gigabit Network Connection.\n"
                       "SLM: Stats: tokens=0 ms=0 tok_s=0.0 pool_used=0 pool_peak=0 backend=rule";
    assert_int_equal(aut_console_parse_query(text, &r, err, sizeof err), 0);
    assert_string_equal(r.output, "an Intel 82574L Gigabit Network Connection.");
    assert_int_equal(r.tokens, 0);
    assert_string_equal(r.backend, "rule");
    aut_query_result_release(&r);
    assert_null(r.output);
    aut_query_result_release(&r); /* twice is harmless */
}

static void test_query_neural_from_the_console(void **state)
{
    struct blob b = load("boot-model-shell.raw");
    struct aut_console *c = aut_console_new();
    size_t p1 = after_prompt(&b, 1), p2 = after_prompt(&b, 2);
    aut_console_feed(c, b.p, p1, 1);
    aut_console_mark(c);
    aut_console_feed(c, b.p + p1, p2 - p1, 2);
    char *out = aut_console_since_mark(c);
    struct aut_query_result r;
    char err[256] = "";
    assert_int_equal(aut_console_parse_query(out, &r, err, sizeof err), 0);
    assert_string_equal(r.output, "an Intel 82574L Gigabit Network Connection.");
    assert_int_equal(r.tokens, 7);
    assert_int_equal(r.ms, 420);
    assert_true(r.tok_s > 27.19 && r.tok_s < 27.21);
    assert_int_equal(r.pool_used, 784320);
    assert_int_equal(r.pool_peak, 786432);
    assert_string_equal(r.backend, "neural");
    aut_query_result_release(&r);
    free(out);
    aut_console_free(c);
    free(b.p);
}

static void test_query_multi_line_answer(void **state)
{
    struct blob b = load("boot-rule-shell.raw");
    struct aut_console *c = feed_all(&b, 1);
    struct aut_query_result r;
    char err[256] = "";
    /* the whole transcript: the first Stats line ends the first query */
    const char *t = aut_console_text(c, NULL);
    const char *second = strstr(t, "Shell> slm query \"List all PCI devices:\"");
    assert_non_null(second);
    assert_int_equal(aut_console_parse_query(second, &r, err, sizeof err), 0);
    assert_string_equal(
        r.output, "00:00.0 8086:1237 Host bridge: Intel 440FX - 82441FX PMC [Natoma]\n"
                  "00:01.0 8086:7000 ISA bridge: Intel 82371SB PIIX3 ISA [Natoma/Triton II]\n"
                  "00:01.1 8086:7010 IDE interface: Intel 82371SB PIIX3 IDE [Natoma/Triton II]\n"
                  "00:01.3 8086:7113 Bridge: Intel 82371AB/EB/MB PIIX4 ACPI\n"
                  "00:02.0 1234:1111 VGA compatible controller: QEMU Virtual Video Controller\n"
                  "00:03.0 8086:100e Ethernet controller: Intel 82540EM Gigabit Ethernet "
                  "Controller");
    assert_int_equal(r.ms, 8);
    assert_string_equal(r.backend, "rule");
    aut_query_result_release(&r);
    aut_console_free(c);
    free(b.p);
}

static void test_query_empty_lines_and_noise(void **state)
{
    struct aut_query_result r;
    char err[256] = "";
    const char *text = "slm query \"x\"\r\nSLM: Inference starting...\r\n"
                       "[  2.718] SLM: neural backend fault: #UD; falling back\r\n"
                       "SLM: neural backend unavailable (#UD): answered by the rule engine\r\n"
                       "SLM: Output: \r\nSLM: | \r\nSLM: |b\r\nSLM: | c d\r\n"
                       "SLM: Stats: backend=rule extra=1 tokens=3 ms=9 tok_s=1 pool_used=1 "
                       "pool_peak=2\r\nSLM: | after\r\n";
    assert_int_equal(aut_console_parse_query(text, &r, err, sizeof err), 0);
    assert_string_equal(r.output, "\n\nb\nc d");
    assert_int_equal(r.tokens, 3);
    assert_true(r.tok_s == 1.0);
    aut_query_result_release(&r);
}

static void expect_query_error(const char *text, const char *want)
{
    struct aut_query_result r;
    char err[256] = "";
    r.output = (char *)"sentinel";
    assert_int_equal(aut_console_parse_query(text, &r, err, sizeof err), -1);
    assert_null(r.output);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not say \"%s\"", err, want);
}

static void test_query_errors_name_what_is_missing(void **state)
{
    expect_query_error("SLM: Inference starting...\nSLM: Output: x\n", "no \"SLM: Stats:\" line");
    expect_query_error("SLM: Inference starting...\nSLM: Error: no memory\n",
                       "SLM: Error: no memory");
    expect_query_error("SLM: Stats: tokens=1 ms=1 tok_s=1.0 pool_used=0 pool_peak=0 backend=rule",
                       "no \"SLM: Output:\" line");
    expect_query_error("SLM: Output: x\nSLM: Stats: tokens=1 ms=1 tok_s=1.0 pool_used=0 "
                       "pool_peak=0",
                       "no backend=");
    expect_query_error("SLM: Output: x\nSLM: Stats: tokens=1 ms=1 tok_s=abc pool_used=0 "
                       "pool_peak=0 backend=rule",
                       "bad tok_s=abc");
    expect_query_error("SLM: Output: x\nSLM: Stats: tokens=99999999999 ms=1 tok_s=1 pool_used=0 "
                       "pool_peak=0 backend=rule",
                       "bad tokens=");
    expect_query_error("SLM: Output: x\nSLM: Stats: tokens=1 ms=1 tok_s=1 pool_used=0 "
                       "pool_peak=0 backend=averyveryverylongname",
                       "bad backend=");
    expect_query_error("SLM: Output: x\nSLM: Stats:", "no tokens=");
    expect_query_error("", "no \"SLM: Stats:\" line");
    expect_query_error(NULL, "no text");

    /* err may be absent */
    struct aut_query_result r;
    assert_int_equal(aut_console_parse_query("garbage", &r, NULL, 0), -1);
}

/* ---- the selftest parser ----------------------------------------------- */

static void test_selftest_all_pass_from_the_console(void **state)
{
    struct blob b = load("boot-model-shell.raw");
    struct aut_console *c = aut_console_new();
    size_t p2 = after_prompt(&b, 2), p3 = after_prompt(&b, 3);
    aut_console_feed(c, b.p, p2, 1);
    aut_console_mark(c);
    aut_console_feed(c, b.p + p2, p3 - p2, 2);
    char *out = aut_console_since_mark(c);
    struct aut_selftest_result r;
    char err[256] = "";
    assert_int_equal(aut_console_parse_selftest(out, &r, err, sizeof err), 0);
    assert_true(r.summary);
    assert_int_equal(r.n, 11);
    assert_int_equal(r.passed, 11);
    assert_int_equal(r.failed, 0);
    assert_string_equal(r.test[0].name, "boot");
    assert_true(r.test[0].pass);
    assert_string_equal(r.test[10].name, "slm_forward");
    assert_string_equal(r.test[10].detail, "1 token, 4096 finite logits, argmax 1181");
    assert_string_equal(r.test[9].detail, "'PCI device 8086:10d3 is' -> 4 tokens -> same text");
    free(out);
    aut_console_free(c);
    free(b.p);
}

static void test_selftest_one_fail(void **state)
{
    const char *text = "selftest\r\n"
                       "SELFTEST boot: PASS long mode\r\n"
                       "SELFTEST pci: FAIL no host bridge\r\n"
                       "garbage \xff in between\r\n"
                       "SELFTEST timer: PASS \r\n"
                       "SELFTEST: 2 passed, 1 failed\r\n";
    struct aut_selftest_result r;
    char err[256] = "";
    assert_int_equal(aut_console_parse_selftest(text, &r, err, sizeof err), 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.failed, 1);
    assert_false(r.test[1].pass);
    assert_string_equal(r.test[1].name, "pci");
    assert_string_equal(r.test[1].detail, "no host bridge");
    assert_string_equal(r.test[2].detail, "");
}

static void expect_selftest_error(const char *text, const char *want)
{
    struct aut_selftest_result r;
    char err[256] = "";
    assert_int_equal(aut_console_parse_selftest(text, &r, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not say \"%s\"", err, want);
}

static void test_selftest_errors(void **state)
{
    expect_selftest_error("SELFTEST boot: PASS ok\nSELFTEST: 2 passed, 0 failed\n",
                          "summary says 2 passed, 0 failed but the SELFTEST lines show 1 passed, "
                          "0 failed");
    expect_selftest_error("SELFTEST boot: PASS ok\nSELFTEST pci: FA?L x\n"
                          "SELFTEST: 1 passed, 1 failed\n",
                          "show 1 passed, 0 failed");
    expect_selftest_error("SELFTEST boot: PASS ok\nSELFTEST pci: PASS\n",
                          "no \"SELFTEST: N passed, M failed\" summary line");
    expect_selftest_error("SELFTEST boot: PASS ok\nSELFTEST: lots passed\n",
                          "malformed selftest summary \"SELFTEST: lots passed\"");
    expect_selftest_error("", "no \"SELFTEST: N passed, M failed\" summary line");
    expect_selftest_error(NULL, "summary line");

    char *many = malloc(64 * 40 + 64);
    assert_non_null(many);
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(many + n, "SELFTEST t%d: PASS ok\n", i);
    sprintf(many + n, "SELFTEST: 40 passed, 0 failed\n");
    expect_selftest_error(many, "more than the 32 kept");
    free(many);
}

/* ---- the parsers on random text ---------------------------------------- */

static void test_parsers_survive_random_text(void **state)
{
    static const char *const parts[] = {
        "SLM: Output:", "SLM: | ",    "SLM: Stats:", " tokens=", " ms=",
        "tok_s=",       "1.",         "backend=",    "neural",   "99999999999999999999999",
        "SELFTEST ",    "SELFTEST: ", " passed, ",   " failed",  ": PASS",
        ": FAIL",       "=",          "\n",          "\r\n",     "[",
        "] ",           "  0.010",    "\xff",        " ",        "7",
    };
    char text[2048];
    srand(7);
    for (int i = 0; i < 5000; i++) {
        size_t n = 0;
        int k = rand() % 40;
        for (int j = 0; j < k; j++) {
            const char *p = parts[(size_t)rand() % (sizeof parts / sizeof *parts)];
            size_t l = strlen(p);
            memcpy(text + n, p, l);
            n += l;
        }
        text[n] = '\0';
        struct aut_query_result q;
        struct aut_selftest_result s;
        char err[64];
        if (aut_console_parse_query(text, &q, err, sizeof err) == 0)
            assert_non_null(q.output);
        aut_query_result_release(&q);
        aut_console_parse_selftest(text, &s, err, sizeof err);
        assert_true(s.n <= AUT_SELFTEST_MAX);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunking_does_not_change_the_result),
        cmocka_unit_test(test_rule_boot_fields),
        cmocka_unit_test(test_model_boot_fields),
        cmocka_unit_test(test_backend_failure_during_boot),
        cmocka_unit_test(test_selftest_boot_has_no_prompt),
        cmocka_unit_test(test_unstamped_boot_lines_and_missing_fields),
        cmocka_unit_test(test_prompt_is_timed_when_its_last_byte_arrives),
        cmocka_unit_test(test_prompt_at_the_very_start),
        cmocka_unit_test(test_boot_milestones_count_only_before_the_prompt),
        cmocka_unit_test(test_panic_text_holds_every_line_after_it),
        cmocka_unit_test(test_panic_that_cuts_into_the_prompt_line),
        cmocka_unit_test(test_answers_that_mention_a_panic_are_not_one),
        cmocka_unit_test(test_fault_line_is_captured),
        cmocka_unit_test(test_control_bytes_are_replaced_and_counted),
        cmocka_unit_test(test_invalid_utf8_is_kept_and_counted),
        cmocka_unit_test(test_overlong_line_is_cut_and_survived),
        cmocka_unit_test(test_line_of_exactly_the_maximum_is_not_cut_one_more_is),
        cmocka_unit_test(test_random_bytes_never_break_it),
        cmocka_unit_test(test_since_mark_drops_the_echo),
        cmocka_unit_test(test_since_mark_without_a_prompt_at_the_mark_keeps_the_first_line),
        cmocka_unit_test(test_since_mark_before_any_mark_starts_at_the_beginning),
        cmocka_unit_test(test_query_single_line_rule),
        cmocka_unit_test(test_query_neural_from_the_console),
        cmocka_unit_test(test_query_multi_line_answer),
        cmocka_unit_test(test_query_empty_lines_and_noise),
        cmocka_unit_test(test_query_errors_name_what_is_missing),
        cmocka_unit_test(test_selftest_all_pass_from_the_console),
        cmocka_unit_test(test_selftest_one_fail),
        cmocka_unit_test(test_selftest_errors),
        cmocka_unit_test(test_parsers_survive_random_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
