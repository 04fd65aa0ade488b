/*
 * test_coherence.c - the gibberish detector: every real answer in the good
 * fixtures is coherent and every sample in the bad fixtures is not, failing
 * on the measure its file names; short real answers pass; each measure and
 * its limit behave as documented (docs/pipeline.md, "Coherence").
 *
 * Fixtures (tests/unit/data/coherence/, read from the repository root, where
 * the tests run): good/ and bad/ hold *.txt files. A file named *.lines.txt
 * holds one sample per line (empty lines skipped); any other *.txt file is
 * one sample, all its bytes. A bad file is named <measure>--<what>, and the
 * sample's `why` must start with that measure ("word-shape" -> "word shape").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coherence.h"

#define FIXTURES "tests/unit/data/coherence"

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.txt files of dir, sorted; returns their count (names freed by caller). */
static size_t list_fixtures(const char *dir, char **names, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    if (!d)
        fail_msg("cannot open %s (tests run from the repository root)", dir);
    while ((e = readdir(d)) && n < max) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".txt") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    return n;
}

/* The measure a bad fixture must fail on, as `why` spells it: the file name
 * up to "--" with '-' read as ' '. */
static void expected_measure(const char *file, char *out, size_t outlen)
{
    const char *dash = strstr(file, "--");
    size_t n = dash ? (size_t)(dash - file) : 0;
    assert_true(n > 0 && n < outlen);
    for (size_t i = 0; i < n; i++)
        out[i] = file[i] == '-' ? ' ' : file[i];
    out[n] = '\0';
}

/* Checks one sample; returns 1 when it is judged wrongly (and says so). */
static int judge(const char *file, size_t line, const char *s, size_t len, bool good)
{
    struct aut_coherence c;
    char measure[32] = "";
    aut_coherence_check(s, len, NULL, &c);
    if (!good)
        expected_measure(file, measure, sizeof measure);
    bool ok = good ? c.coherent && c.why[0] == '\0'
                   : !c.coherent && strncmp(c.why, measure, strlen(measure)) == 0;
    if (!ok)
        print_error("%s:%zu: %s (why \"%s\"; printable %.3f word shape %.2f repetition %.2f "
                    "char run %u entropy %.2f) | %.*s\n",
                    file, line, good ? "judged gibberish" : "not caught by its measure", c.why,
                    c.printable, c.word_shape, c.repetition, c.char_run, c.entropy,
                    (int)(len < 80 ? len : 80), s);
    return !ok;
}

/* Runs judge over every sample of dir; returns the number of samples. */
static size_t judge_dir(const char *sub, bool good, int *wrong)
{
    char dir[256], path[512], *names[128];
    snprintf(dir, sizeof dir, "%s/%s", FIXTURES, sub);
    size_t nf = list_fixtures(dir, names, 128), samples = 0;
    for (size_t f = 0; f < nf; f++) {
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        char *buf = read_all(path, &len);
        assert_non_null(buf);
        size_t l = strlen(names[f]);
        if (l > 10 && strcmp(names[f] + l - 10, ".lines.txt") == 0) {
            size_t line = 0;
            for (char *p = buf, *end = buf + len; p < end; line++) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if (n)
                    *wrong += judge(names[f], line + 1, p, n, good), samples++;
                p += n + 1;
            }
        } else {
            *wrong += judge(names[f], 0, buf, len, good), samples++;
        }
        free(buf);
        free(names[f]);
    }
    return samples;
}

static void every_good_fixture_is_coherent(void **state)
{
    (void)state;
    int wrong = 0;
    size_t n = judge_dir("good", true, &wrong);
    assert_true(n >= 300); /* the eval answers alone are 308 */
    assert_int_equal(wrong, 0);
}

static void every_bad_fixture_fails_on_its_measure(void **state)
{
    (void)state;
    int wrong = 0;
    size_t n = judge_dir("bad", false, &wrong);
    assert_true(n >= 50);
    assert_int_equal(wrong, 0);
}

static void check_str(const char *s, struct aut_coherence *c)
{
    aut_coherence_check(s, strlen(s), NULL, c);
}

static void short_real_answers_pass(void **state)
{
    (void)state;
    static const char *const answers[] = {
        "sudo apt-get install nginx",
        "df -h",
        "a Red Hat Virtio network device.",
        "who",
        "lspci -nn",
        "uname -r",
        "an Intel 82574L Gigabit Network Connection.",
        "ip route",
        "sudo pacman -S vim",
        "a Broadcom / LSI 53c895a.",
        "  df -h\n",
    };
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        struct aut_coherence c;
        check_str(answers[i], &c);
        if (!c.coherent)
            fail_msg("\"%s\": %s", answers[i], c.why);
        assert_string_equal(c.why, "");
    }
}

static void defaults_are_the_documented_ones(void **state)
{
    (void)state;
    struct aut_coherence_limits l;
    memset(&l, 0xff, sizeof l);
    aut_coherence_limits_default(&l);
    assert_true(l.min_printable == 0.97 && l.min_word_shape == 0.6 && l.max_repetition == 0.5);
    assert_true(l.max_char_run == 12 && l.min_entropy == 2.5 && l.max_entropy == 5.5);
    assert_true(l.min_chars == 2);
}

static void null_limits_mean_the_defaults(void **state)
{
    (void)state;
    const char *s = "the the the the the the the the the the";
    struct aut_coherence_limits l;
    struct aut_coherence a, b;
    aut_coherence_limits_default(&l);
    aut_coherence_check(s, strlen(s), NULL, &a);
    aut_coherence_check(s, strlen(s), &l, &b);
    assert_memory_equal(&a, &b, sizeof a);
}

static void empty_and_null_text_are_empty(void **state)
{
    (void)state;
    struct aut_coherence c;
    aut_coherence_check(NULL, 0, NULL, &c);
    assert_false(c.coherent);
    assert_string_equal(c.why, "empty: 0 chars < 2");
    aut_coherence_check(" \t\r\n x \n", 8, NULL, &c);
    assert_int_equal(c.chars, 1);
    assert_string_equal(c.why, "empty: 1 chars < 2");
}

/* Only len bytes are read: the text need not be NUL-terminated. */
static void only_len_bytes_are_read(void **state)
{
    (void)state;
    char buf[5];
    memcpy(buf, "df -h", 5);
    struct aut_coherence c;
    aut_coherence_check(buf, sizeof buf, NULL, &c);
    assert_true(c.coherent);
    assert_int_equal(c.chars, 5);
    assert_int_equal(c.words, 2);
}

static void header_examples_of_word_shape(void **state)
{
    (void)state;
    struct aut_coherence c;
    check_str("82574L 8086:10d3 apt-get /etc/fstab 00:03.0 MI25x2 GeForce4 3Com", &c);
    assert_true(c.word_shape == 1.0);
    check_str("xq#z@@k aaaaaaaaaaaaaaaaaaa", &c); /* the run is 19 > 12: char run first */
    assert_true(c.word_shape == 0.0);
    assert_string_equal(c.why, "char run 19 > 12");
    check_str("0312ilinx 65570cret 1e31 0814 ventecventec KintexIERoid sdkjfh", &c);
    assert_true(c.word_shape == 0.0);
    assert_string_equal(c.why, "word shape 0.00 < 0.60");
    check_str("/ - | && ...", &c); /* pure punctuation joins words: none counted */
    assert_int_equal(c.words, 0);
    assert_string_equal(c.why, "word shape 0.00 < 0.60");
}

static void word_shape_knows_scripts_and_symbols(void **state)
{
    (void)state;
    struct aut_coherence c;
    check_str("Her caf\xc3\xa9 serves cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
              "e.",
              &c); /* Latin-1 letters */
    assert_true(c.word_shape == 1.0);
    check_str("\xd0\x86ntel", &c); /* Cyrillic I in a Latin word */
    assert_true(c.word_shape == 0.0);
    check_str("Hash\xef\xbf\xbd value", &c); /* U+FFFD is no letter */
    assert_true(c.word_shape == 0.5);
    assert_true(c.printable < 1.0);
}

static void repetition_counts_repeated_3grams(void **state)
{
    (void)state;
    struct aut_coherence c;
    /* abc bca cab abc bca cab abc: 3-grams 4..7 repeat -> 4/7 */
    check_str("alpha beta gamma alpha beta gamma alpha beta gamma", &c);
    assert_int_equal(c.words, 9);
    assert_true(c.repetition > 4.0 / 7 - 1e-9 && c.repetition < 4.0 / 7 + 1e-9);
    assert_string_equal(c.why, "repetition 0.57 > 0.50");
    check_str("devices: devices devices. (devices)", &c); /* edge punctuation trimmed */
    assert_true(c.repetition == 0.5);
    check_str("an Intel 82574L Gigabit Network Connection.", &c);
    assert_true(c.repetition == 0.0);
}

static void char_run_ignores_white_space(void **state)
{
    (void)state;
    struct aut_coherence c;
    check_str("Intel                    82574L", &c);
    assert_int_equal(c.char_run, 1);
    check_str("Gigabit!!!!!!!!!!!!!", &c);
    assert_int_equal(c.char_run, 13);
    assert_string_equal(c.why, "char run 13 > 12");
}

static void entropy_is_bits_per_char(void **state)
{
    (void)state;
    struct aut_coherence c;
    check_str("abcdabcdabcdabcdabcd", &c); /* four symbols, equally often: 2 bits */
    assert_true(c.entropy > 2.0 - 1e-9 && c.entropy < 2.0 + 1e-9);
    check_str("aaaa", &c);
    assert_true(c.entropy == 0.0);
}

/* The entropy limits hold from 20 characters on; shorter text passes them. */
static void entropy_limits_apply_from_20_chars(void **state)
{
    (void)state;
    struct aut_coherence_limits l;
    struct aut_coherence c;
    aut_coherence_limits_default(&l);
    l.min_entropy = 4.0;
    const char *s19 = "sudo apt-get update", *s20 = "sudo apt-get upgrade";
    aut_coherence_check(s19, strlen(s19), &l, &c);
    assert_int_equal(c.chars, 19);
    assert_true(c.entropy < 4.0);
    assert_true(c.coherent);
    aut_coherence_check(s20, strlen(s20), &l, &c);
    assert_false(c.coherent);
    assert_string_equal(c.why, "entropy 3.52 < 4.00 bits/char");
}

static void entropy_above_the_limit_is_named(void **state)
{
    (void)state;
    char soup[200];
    struct aut_coherence_limits l;
    struct aut_coherence c;
    for (size_t i = 0; i < sizeof soup; i++)
        soup[i] = (char)(33 + (i * 37 + i / 94) % 94); /* every printable ASCII character */
    aut_coherence_limits_default(&l);
    l.min_word_shape = 0.0; /* it is no word either; let entropy speak */
    aut_coherence_check(soup, sizeof soup, &l, &c);
    assert_false(c.coherent);
    assert_true(c.entropy > 6.0);
    assert_true(strncmp(c.why, "entropy ", 8) == 0 && strstr(c.why, " > 5.50 bits/char"));
}

static void invalid_utf8_is_unprintable(void **state)
{
    (void)state;
    struct aut_coherence c;
    /* overlong '/', a lone continuation byte, a surrogate, then 17 good characters */
    const char s[] = "\xc0\xaf\x80\xed\xa0\x80 Gigabit Network";
    aut_coherence_check(s, sizeof s - 1, NULL, &c);
    assert_int_equal(c.chars, 6 + 16);
    assert_true(c.printable < 0.75);
    assert_true(strncmp(c.why, "printable ", 10) == 0);
}

/* Big inputs take the heap path of the 3-gram set; > 768 distinct characters
 * overflow the histogram. Neither may crash or misjudge. */
static void large_inputs(void **state)
{
    (void)state;
    size_t n = 1 << 20;
    char *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = "hello world "[i % 12];
    struct aut_coherence c;
    aut_coherence_check(big, n, NULL, &c);
    assert_true(c.repetition > 0.99);
    size_t len = 0;
    for (uint32_t cp = 0x4E00; cp < 0x4E00 + 2000; cp++) { /* 2000 distinct CJK characters */
        big[len++] = (char)(0xE0 | cp >> 12);
        big[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        big[len++] = (char)(0x80 | (cp & 0x3F));
    }
    aut_coherence_check(big, len, NULL, &c);
    assert_int_equal(c.chars, 2000);
    assert_true(c.entropy > 10.0 && c.entropy <= log2(2000.0) + 1e-9);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_good_fixture_is_coherent),
        cmocka_unit_test(every_bad_fixture_fails_on_its_measure),
        cmocka_unit_test(short_real_answers_pass),
        cmocka_unit_test(defaults_are_the_documented_ones),
        cmocka_unit_test(null_limits_mean_the_defaults),
        cmocka_unit_test(empty_and_null_text_are_empty),
        cmocka_unit_test(only_len_bytes_are_read),
        cmocka_unit_test(header_examples_of_word_shape),
        cmocka_unit_test(word_shape_knows_scripts_and_symbols),
        cmocka_unit_test(repetition_counts_repeated_3grams),
        cmocka_unit_test(char_run_ignores_white_space),
        cmocka_unit_test(entropy_is_bits_per_char),
        cmocka_unit_test(entropy_limits_apply_from_20_chars),
        cmocka_unit_test(entropy_above_the_limit_is_named),
        cmocka_unit_test(invalid_utf8_is_unprintable),
        cmocka_unit_test(large_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
