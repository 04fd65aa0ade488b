/*
 * test_makefile_patch.c - setting `NAME := value` in a Makefile: on the real
 * kernel-tree/Makefile (the same value changes no byte, a new one changes
 * one line, a second application changes nothing), and on the corners: CRLF
 * endings, trailing comments, the ?= and = forms, recipes, define blocks,
 * continuation lines, names that only start like NAME, the missing name, bad
 * values; aut_makefile_set rewrites the file only when something changed.
 * Tests run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "makefile_patch.h"

#define KERNEL_MAKEFILE "kernel-tree/Makefile"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Patches in with one variable and checks the result is want. */
static void expect_patch(const char *in, const char *name, const char *value, const char *want)
{
    struct aut_mkvar v = {name, value};
    char err[256] = "";
    size_t n = 0;
    char *out = aut_makefile_patch_buf(in, strlen(in), &v, 1, &n, err, sizeof err);
    if (!out)
        fail_msg("patching failed: %s", err);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    free(out);
}

static void expect_error(const char *in, const char *name, const char *value, const char *want)
{
    struct aut_mkvar v = {name, value};
    char err[256] = "";
    size_t n = 0;
    assert_null(aut_makefile_patch_buf(in, strlen(in), &v, 1, &n, err, sizeof err));
    assert_string_equal(err, want);
}

static void expect_get(const char *in, const char *name, const char *want)
{
    char val[256];
    if (!want) {
        assert_int_equal(aut_makefile_get(in, strlen(in), name, val, sizeof val), -1);
        return;
    }
    assert_int_equal(aut_makefile_get(in, strlen(in), name, val, sizeof val), 0);
    assert_string_equal(val, want);
}

/* ---- the real Makefile ----------------------------------------------------- */

static void real_makefile_own_values_change_nothing(void **state)
{
    (void)state;
    size_t len, n;
    char *mk = slurp(KERNEL_MAKEFILE, &len), model[512], enabled[64], err[256];
    assert_int_equal(aut_makefile_get(mk, len, "SLM_MODEL", model, sizeof model), 0);
    assert_string_equal(model, "kernel/slm/models/auton-slm.gguf");
    assert_int_equal(aut_makefile_get(mk, len, "SLM_ENABLED", enabled, sizeof enabled), 0);
    struct aut_mkvar v[2] = {{"SLM_MODEL", model}, {"SLM_ENABLED", enabled}};
    char *out = aut_makefile_patch_buf(mk, len, v, 2, &n, err, sizeof err);
    assert_non_null(out);
    assert_int_equal(n, len);
    assert_memory_equal(out, mk, len);
    free(out);
    free(mk);
}

/* The lines of a and b differ only at line `at` (1-based), which is want in b. */
static void expect_one_line_differs(const char *a, const char *b, int at, const char *want)
{
    int line = 1;
    while (*a || *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
        if (line == at) {
            assert_int_equal(lb, strlen(want));
            assert_memory_equal(b, want, lb);
        } else {
            assert_int_equal(la, lb);
            assert_memory_equal(a, b, la);
        }
        assert_true(!ea == !eb);
        a += la + (ea != NULL), b += lb + (eb != NULL), line++;
    }
}

static void real_makefile_new_value_changes_one_line(void **state)
{
    (void)state;
    size_t len, n, n2;
    char *mk = slurp(KERNEL_MAKEFILE, &len), err[256];
    int at = 1;
    for (const char *p = strstr(mk, "\nSLM_MODEL :="); p && p > mk; p--)
        at += *p == '\n';
    struct aut_mkvar v = {"SLM_MODEL", "/var/models/sha256/0123abcd.gguf"};
    char *out = aut_makefile_patch_buf(mk, len, &v, 1, &n, err, sizeof err);
    assert_non_null(out);
    expect_one_line_differs(mk, out, at, "SLM_MODEL := /var/models/sha256/0123abcd.gguf");
    expect_get(out, "SLM_MODEL", "/var/models/sha256/0123abcd.gguf");
    char *again = aut_makefile_patch_buf(out, n, &v, 1, &n2, err, sizeof err);
    assert_non_null(again);
    assert_int_equal(n2, n);
    assert_memory_equal(again, out, n);
    free(again);
    free(out);
    free(mk);
}

/* aut_makefile_set: no rewrite when nothing changes (same inode), an atomic
 * rewrite (new inode, mode kept) when something does. */
static void set_rewrites_the_file_only_on_change(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_makefile_patch.XXXXXX", path[128], err[256];
    size_t len, len2;
    struct stat before, after;
    bool changed = true;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/Makefile", dir);
    char *mk = slurp(KERNEL_MAKEFILE, &len);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(mk, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(path, 0640), 0);
    struct aut_mkvar same = {"SLM_ENABLED", "auto"}, one = {"SLM_ENABLED", "1"};
    assert_int_equal(stat(path, &before), 0);
    assert_int_equal(aut_makefile_set(path, &same, 1, &changed, err, sizeof err), 0);
    assert_false(changed);
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(aut_makefile_set(path, &one, 1, &changed, err, sizeof err), 0);
    assert_true(changed);
    assert_int_equal(stat(path, &after), 0);
    assert_int_not_equal(before.st_ino, after.st_ino);
    assert_int_equal(after.st_mode & 07777, 0640);
    char *got = slurp(path, &len2);
    assert_int_equal(len2, len - strlen("auto") + 1);
    expect_get(got, "SLM_ENABLED", "1");
    assert_int_equal(aut_makefile_set(path, &one, 1, NULL, err, sizeof err), 0);
    assert_int_equal(aut_makefile_set(path, &one, 1, &changed, err, sizeof err), 0);
    assert_false(changed);
    struct aut_mkvar missing = {"NO_SUCH_VAR", "x"};
    assert_int_equal(aut_makefile_set(path, &missing, 1, &changed, err, sizeof err), -1);
    char want[256];
    snprintf(want, sizeof want, "%s: no top-level `NO_SUCH_VAR :=` assignment to patch", path);
    assert_string_equal(err, want);
    snprintf(want, sizeof want, "%s/absent", dir);
    assert_int_equal(aut_makefile_set(want, &one, 1, &changed, err, sizeof err), -1);
    assert_non_null(strstr(err, "absent"));
    unlink(path);
    rmdir(dir);
    free(got);
    free(mk);
}

/* ---- the corners ----------------------------------------------------------- */

static void crlf_endings_and_comments_are_kept(void **state)
{
    (void)state;
    expect_patch("A := 1\r\nSLM_MODEL := old # the model\r\nB := 2\r\n", "SLM_MODEL", "new",
                 "A := 1\r\nSLM_MODEL := new # the model\r\nB := 2\r\n");
    expect_patch("SLM_MODEL := old\t\t# aligned\n", "SLM_MODEL", "a/b.gguf",
                 "SLM_MODEL := a/b.gguf\t\t# aligned\n");
    expect_patch("SLM_MODEL := # none yet\n", "SLM_MODEL", "m.gguf",
                 "SLM_MODEL := m.gguf # none yet\n");
    expect_patch("SLM_MODEL := old   \n", "SLM_MODEL", "new", "SLM_MODEL := new\n");
    expect_patch("X := a\\#b # c\n", "X", "d", "X := d # c\n"); /* \# is no comment */
    expect_get("X := a\\#b # c\n", "X", "a\\#b");
    expect_get("SLM_MODEL := old # the model\r\n", "SLM_MODEL", "old");
    expect_patch("SLM_MODEL := old", "SLM_MODEL", "new", "SLM_MODEL := new"); /* no EOL */
    expect_patch("SLM_MODEL := old\n", "SLM_MODEL", "", "SLM_MODEL :=\n");
    expect_get("SLM_MODEL :=\n", "SLM_MODEL", "");
}

static void other_assignment_forms_become_colon_equals(void **state)
{
    (void)state;
    expect_patch("SLM_MODEL ?= x\n", "SLM_MODEL", "y", "SLM_MODEL := y\n");
    expect_patch("SLM_MODEL=x\n", "SLM_MODEL", "y", "SLM_MODEL := y\n");
    expect_patch("SLM_MODEL = x\n", "SLM_MODEL", "y", "SLM_MODEL := y\n");
    expect_patch("SLM_MODEL\t:=\tx\n", "SLM_MODEL", "y", "SLM_MODEL := y\n");
    expect_get("SLM_MODEL ?= x\n", "SLM_MODEL", "x");
    expect_get("SLM_MODEL=x\n", "SLM_MODEL", "x");
    /* not the three operators: += appends, ::= and != are other flavours, ':' a rule */
    expect_get("SLM_MODEL += x\nSLM_MODEL ::= y\nSLM_MODEL != z\nSLM_MODEL: dep\n", "SLM_MODEL",
               NULL);
}

static void recipes_and_define_blocks_are_untouched(void **state)
{
    (void)state;
    expect_patch("all:\n\tSLM_MODEL := x\n\techo $(SLM_MODEL)\nSLM_MODEL := old\n", "SLM_MODEL",
                 "new", "all:\n\tSLM_MODEL := x\n\techo $(SLM_MODEL)\nSLM_MODEL := new\n");
    const char *def = "define BODY\nSLM_MODEL := inner\n  define NESTED\nSLM_MODEL := deeper\n"
                      "  endef\nSLM_MODEL := still inner\nendef\n"
                      "override export define X\nSLM_MODEL := in X\nendef # done\n"
                      "SLM_MODEL := outer\n";
    const char *want = "define BODY\nSLM_MODEL := inner\n  define NESTED\nSLM_MODEL := deeper\n"
                       "  endef\nSLM_MODEL := still inner\nendef\n"
                       "override export define X\nSLM_MODEL := in X\nendef # done\n"
                       "SLM_MODEL := new\n";
    expect_patch(def, "SLM_MODEL", "new", want);
    expect_get(def, "SLM_MODEL", "outer");
    /* a variable named define_dir is no define */
    expect_patch("define_dir := d\nSLM_MODEL := a\n", "SLM_MODEL", "b",
                 "define_dir := d\nSLM_MODEL := b\n");
}

static void only_the_first_column_zero_assignment_of_that_name(void **state)
{
    (void)state;
    expect_patch("SLM_MODEL_X := y\nSLM_MODELS = z\nSLM_MODEL := x\nSLM_MODEL := later\n",
                 "SLM_MODEL", "new",
                 "SLM_MODEL_X := y\nSLM_MODELS = z\nSLM_MODEL := new\nSLM_MODEL := later\n");
    expect_error("SLM_MODEL_X := y\n", "SLM_MODEL", "v",
                 "Makefile: no top-level `SLM_MODEL :=` assignment to patch");
    expect_get(" SLM_MODEL := indented\noverride SLM_MODEL := o\n", "SLM_MODEL", NULL);
    expect_error("A := 1\n", "SLM_ENABLED", "1",
                 "Makefile: no top-level `SLM_ENABLED :=` assignment to patch");
    expect_error("", "SLM_ENABLED", "1",
                 "Makefile: no top-level `SLM_ENABLED :=` assignment to patch");
}

static void continuation_lines_are_one_line(void **state)
{
    (void)state;
    const char *mk = "SLM_MODEL := a \\\n    b # c\nNEXT := 1\n";
    expect_patch(mk, "SLM_MODEL", "new", "SLM_MODEL := new # c\nNEXT := 1\n");
    expect_get(mk, "SLM_MODEL", "a b");
    expect_patch("SLM_MODEL := a \\\r\n  b\r\nNEXT := 1\r\n", "SLM_MODEL", "z",
                 "SLM_MODEL := z\r\nNEXT := 1\r\n");
    /* only the blanks on the comment's own line are kept; idempotent (found by fuzzing) */
    expect_patch("A := x \\\n   # c\n", "A", "", "A :=   # c\n");
    expect_patch("A :=   # c\n", "A", "", "A :=   # c\n");
    /* a line continuing a comment or another assignment is not top-level */
    expect_get("# note \\\nSLM_MODEL := in the comment\n", "SLM_MODEL", NULL);
    expect_get("X := a \\\nSLM_MODEL := in X\n", "SLM_MODEL", NULL);
}

static void several_names_at_once(void **state)
{
    (void)state;
    struct aut_mkvar v[2] = {{"B", "two"}, {"A", "one"}};
    char err[256];
    size_t n;
    const char *in = "A := 1 # first\nmid := x\nB ?= 2\n";
    char *out = aut_makefile_patch_buf(in, strlen(in), v, 2, &n, err, sizeof err);
    assert_non_null(out);
    assert_string_equal(out, "A := one # first\nmid := x\nB := two\n");
    free(out);
    struct aut_mkvar twice[2] = {{"A", "1"}, {"A", "2"}};
    assert_null(aut_makefile_patch_buf(in, strlen(in), twice, 2, &n, err, sizeof err));
    assert_string_equal(err, "Makefile: A is set twice");
    out = aut_makefile_patch_buf(in, strlen(in), NULL, 0, &n, err, sizeof err);
    assert_non_null(out);
    assert_string_equal(out, in);
    free(out);
}

static void values_and_names_that_would_break_the_file(void **state)
{
    (void)state;
    const char *mk = "SLM_MODEL := x\n";
    expect_error(mk, "SLM_MODEL", "a\nevil := 1",
                 "Makefile: the value for SLM_MODEL cannot hold a line break, '#' or a final "
                 "backslash");
    expect_error(mk, "SLM_MODEL", "a#b",
                 "Makefile: the value for SLM_MODEL cannot hold a line break, '#' or a final "
                 "backslash");
    expect_error(mk, "SLM_MODEL", "a\\",
                 "Makefile: the value for SLM_MODEL cannot hold a line break, '#' or a final "
                 "backslash");
    expect_error(mk, "SLM MODEL", "a", "Makefile: `SLM MODEL` is not a variable name");
    expect_error(mk, "", "a", "Makefile: `` is not a variable name");
    /* a value that does not fit is not returned cut */
    char small[4];
    assert_int_equal(aut_makefile_get(mk, strlen(mk), "SLM_MODEL", small, 1), -1);
    assert_int_equal(aut_makefile_get("A := abcd\n", 10, "A", small, sizeof small), -1);
    assert_string_equal(small, "");
    assert_int_equal(aut_makefile_get("A := abc\n", 9, "A", small, sizeof small), 0);
    assert_string_equal(small, "abc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_makefile_own_values_change_nothing),
        cmocka_unit_test(real_makefile_new_value_changes_one_line),
        cmocka_unit_test(set_rewrites_the_file_only_on_change),
        cmocka_unit_test(crlf_endings_and_comments_are_kept),
        cmocka_unit_test(other_assignment_forms_become_colon_equals),
        cmocka_unit_test(recipes_and_define_blocks_are_untouched),
        cmocka_unit_test(only_the_first_column_zero_assignment_of_that_name),
        cmocka_unit_test(continuation_lines_are_one_line),
        cmocka_unit_test(several_names_at_once),
        cmocka_unit_test(values_and_names_that_would_break_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
