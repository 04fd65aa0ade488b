/*
 * test_confine.c - autond's confinement of client-given paths to the model
 * roots (aut_api_confine): names and relative paths under each root (with
 * .gguf added for models), absolute paths under a root, and refusals of '..'
 * components, absolute paths elsewhere, symbolic links that lead out of the
 * roots (also through a linked directory), and missing files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "fsutil.h"

struct fx {
    char dir[64];
    char roots[2][PATH_MAX];
    char out[PATH_MAX], why[PATH_MAX + 128];
    const char *code;
};

static void touch(const char *path)
{
    assert_int_equal(aut_write_file(path, "x", 1, NULL, 0), 0);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_confine.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char p[PATH_MAX + 64];
    snprintf(f->roots[0], PATH_MAX, "%s/a", f->dir);
    snprintf(f->roots[1], PATH_MAX, "%s/b", f->dir);
    snprintf(p, sizeof p, "%s/outside", f->dir);
    assert_int_equal(aut_mkdirs(p, 0755), 0);
    assert_int_equal(aut_mkdirs(f->roots[0], 0755), 0);
    snprintf(p, sizeof p, "%s/sub", f->roots[1]);
    assert_int_equal(aut_mkdirs(p, 0755), 0);
    snprintf(p, sizeof p, "%s/m.gguf", f->roots[0]);
    touch(p);
    snprintf(p, sizeof p, "%s/sub/n.gguf", f->roots[1]);
    touch(p);
    snprintf(p, sizeof p, "%s/outside/secret.gguf", f->dir);
    touch(p);
    char target[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/escape.gguf", f->roots[0]);
    snprintf(target, sizeof target, "%s/outside/secret.gguf", f->dir);
    assert_int_equal(symlink(target, p), 0);
    snprintf(p, sizeof p, "%s/linkdir", f->roots[0]);
    snprintf(target, sizeof target, "%s/outside", f->dir);
    assert_int_equal(symlink(target, p), 0);
    snprintf(p, sizeof p, "%s/inside.gguf", f->roots[0]);
    snprintf(target, sizeof target, "%s/sub/n.gguf", f->roots[1]);
    assert_int_equal(symlink(target, p), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    aut_rmtree(f->dir);
    free(f);
    return 0;
}

static int confine(struct fx *f, const char *given, bool gguf)
{
    f->out[0] = f->why[0] = '\0';
    f->code = NULL;
    return aut_api_confine(given, (const char(*)[PATH_MAX])f->roots, 2, gguf, f->out, sizeof f->out,
                           &f->code, f->why, sizeof f->why);
}

static void names_and_paths_under_the_roots(void **state)
{
    struct fx *f = *state;
    char want[PATH_MAX + 64], abs[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/m.gguf", f->roots[0]);
    assert_int_equal(confine(f, "m", true), 0);
    assert_string_equal(f->out, want);
    assert_int_equal(confine(f, "m.gguf", false), 0);
    assert_string_equal(f->out, want);
    assert_int_equal(confine(f, "m", false), -1); /* .gguf is added for models only */
    assert_string_equal(f->code, "not_found");
    snprintf(want, sizeof want, "%s/sub/n.gguf", f->roots[1]);
    assert_int_equal(confine(f, "sub/n", true), 0); /* the second root */
    assert_string_equal(f->out, want);
    assert_int_equal(confine(f, want, false), 0); /* absolute, under a root */
    assert_string_equal(f->out, want);
    assert_int_equal(confine(f, "inside.gguf", false), 0); /* a link from root to root */
    assert_string_equal(f->out, want);
    snprintf(abs, sizeof abs, "%s/./m.gguf", f->roots[0]);
    assert_int_equal(confine(f, abs, false), 0);
}

static void escapes_are_refused(void **state)
{
    struct fx *f = *state;
    char p[PATH_MAX + 64];
    assert_int_equal(confine(f, "../outside/secret.gguf", false), -1);
    assert_string_equal(f->code, "path_traversal");
    assert_non_null(strstr(f->why, "'..'"));
    assert_int_equal(confine(f, "sub/../../a/m.gguf", false), -1);
    assert_string_equal(f->code, "path_traversal");
    assert_int_equal(confine(f, "..", false), -1);
    assert_string_equal(f->code, "path_traversal");
    assert_int_equal(confine(f, "m..gguf", false), -1); /* a name with dots is not '..' */
    assert_string_equal(f->code, "not_found");
    snprintf(p, sizeof p, "%s/outside/secret.gguf", f->dir);
    assert_int_equal(confine(f, p, false), -1);
    assert_string_equal(f->code, "outside_roots");
    assert_int_equal(confine(f, "/etc/passwd", false), -1);
    assert_string_equal(f->code, "outside_roots");
    assert_int_equal(confine(f, "escape", true), -1); /* a symbolic link out */
    assert_string_equal(f->code, "outside_roots");
    assert_non_null(strstr(f->why, "symbolic links followed"));
    assert_int_equal(confine(f, "linkdir/secret.gguf", false), -1); /* a linked directory */
    assert_string_equal(f->code, "outside_roots");
    assert_int_equal(confine(f, "nothing-here", true), -1);
    assert_string_equal(f->code, "not_found");
    assert_non_null(strstr(f->why, "nothing-here"));
    snprintf(p, sizeof p, "%s/sub", f->roots[1]); /* a directory is not a model */
    assert_int_equal(confine(f, p, false), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(names_and_paths_under_the_roots, setup, teardown),
        cmocka_unit_test_setup_teardown(escapes_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
