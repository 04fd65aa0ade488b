/*
 * test_store.c - the model store and the file helpers under it: SHA-256 of a
 * multi-block file agrees with sha256sum; a model put twice is stored once
 * under its hash; a missing source is an error naming it; copies and writes
 * are atomic (no temporary left, the old file intact on failure); reads stop
 * at their maximum with -EFBIG; mkdir -p; rm -rf removes a symbolic link
 * inside the tree, never what it points to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "store.h"

struct fx {
    char dir[64];                /* a fresh temporary directory */
    char a[512], b[512], c[512]; /* paths under dir */
    char err[PATH_MAX + 256];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_store.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    assert_int_equal(aut_rmtree(f->dir), 0);
    free(f);
    return 0;
}

/* f->dir + "/" + rel into out (512 bytes) */
static char *at(struct fx *f, char *out, const char *rel)
{
    snprintf(out, 512, "%s/%s", f->dir, rel);
    return out;
}

/* Entries of dir other than . and .., with the first one's name into first. */
static int count_entries(const char *dir, char *first, size_t len)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (n++ == 0 && first)
            snprintf(first, len, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(aut_write_file(path, text, strlen(text), NULL, 0), 0);
}

static void assert_file_is(const char *path, const char *text)
{
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(aut_read_file(path, 1 << 20, &data, &len, NULL, 0), 0);
    assert_int_equal(len, strlen(text));
    assert_string_equal(data, text);
    free(data);
}

/* A file of n pseudo-random bytes. */
static void write_random(const char *path, size_t n)
{
    unsigned char *buf = malloc(n);
    uint32_t x = 2463534242u;
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (unsigned char)x;
    }
    assert_int_equal(aut_write_file(path, buf, n, NULL, 0), 0);
    free(buf);
}

static void sha256_agrees_with_sha256sum(void **state)
{
    struct fx *f = *state;
    char hex[AUT_SHA256_HEX], cmd[PATH_MAX + 64], want[2 * PATH_MAX] = "";
    uint64_t size = 0;
    size_t n = 3 * (1u << 20) + 12345; /* crosses the 1 MiB blocks */
    write_random(at(f, f->a, "model.gguf"), n);
    assert_int_equal(aut_file_sha256(f->a, hex, &size, f->err, sizeof f->err), 0);
    assert_int_equal(size, n);
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", f->a);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(want, sizeof want, p));
    assert_int_equal(pclose(p), 0);
    want[64] = '\0';
    assert_string_equal(hex, want);

    write_text(at(f, f->b, "abc"), "abc");
    assert_int_equal(aut_file_sha256(f->b, hex, &size, NULL, 0), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    write_text(f->b, "");
    assert_int_equal(aut_file_sha256(f->b, hex, &size, NULL, 0), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(size, 0);

    assert_int_equal(aut_file_sha256(at(f, f->c, "none"), hex, &size, f->err, sizeof f->err),
                     -ENOENT);
    snprintf(want, sizeof want, "open %s: No such file or directory", f->c);
    assert_string_equal(f->err, want);
}

static void put_twice_stores_one_file_under_its_hash(void **state)
{
    struct fx *f = *state;
    char hex[AUT_SHA256_HEX], hex2[AUT_SHA256_HEX], stored[PATH_MAX], stored2[PATH_MAX];
    char dir[PATH_MAX], path[PATH_MAX], name[256], want[2 * PATH_MAX];
    uint64_t size = 0, size2 = 0;
    assert_int_equal(aut_mkdirs(at(f, f->a, "in"), 0755), 0);
    write_random(at(f, f->a, "in/m.gguf"), (1u << 20) + 7);
    at(f, f->b, "store");
    assert_int_equal(aut_store_put(f->b, f->a, hex, &size, stored, f->err, sizeof f->err), 0);
    assert_int_equal(size, (1u << 20) + 7);
    snprintf(want, sizeof want, "%s/sha256/%s.gguf", f->b, hex);
    assert_string_equal(stored, want);
    assert_int_equal(aut_file_sha256(stored, hex2, &size2, NULL, 0), 0);
    assert_string_equal(hex, hex2);

    assert_int_equal(aut_store_put(f->b, f->a, hex2, &size2, stored2, f->err, sizeof f->err), 0);
    assert_string_equal(hex, hex2);
    assert_string_equal(stored, stored2);
    snprintf(dir, sizeof dir, "%s/sha256", f->b);
    assert_int_equal(count_entries(dir, name, sizeof name), 1); /* no temporary left either */
    snprintf(want, sizeof want, "%s.gguf", hex);
    assert_string_equal(name, want);

    assert_int_equal(aut_store_path(f->b, hex, path), 0);
    assert_string_equal(path, stored);
    assert_int_equal(access(f->a, F_OK), 0); /* copied, never moved */

    /* a stored file of the wrong size (damaged) is replaced */
    write_text(stored, "short");
    assert_int_equal(aut_store_put(f->b, f->a, hex2, NULL, NULL, NULL, 0), 0);
    assert_int_equal(aut_file_sha256(stored, hex2, &size2, NULL, 0), 0);
    assert_string_equal(hex, hex2);
    assert_int_equal(count_entries(dir, NULL, 0), 1);
}

static void put_of_a_missing_file_names_it(void **state)
{
    struct fx *f = *state;
    char hex[AUT_SHA256_HEX] = "", want[2 * PATH_MAX], path[PATH_MAX];
    uint64_t size = 99;
    at(f, f->a, "missing.gguf");
    assert_int_equal(
        aut_store_put(at(f, f->b, "store"), f->a, hex, &size, NULL, f->err, sizeof f->err),
        -ENOENT);
    snprintf(want, sizeof want, "open %s: No such file or directory", f->a);
    assert_string_equal(f->err, want);
    assert_string_equal(hex, "");
    assert_int_equal(size, 99);

    const char *zero = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(aut_store_path(f->b, zero, path), -ENOENT);
    snprintf(want, sizeof want, "%s/sha256/%s.gguf", f->b, zero);
    assert_string_equal(path, want);
    assert_int_equal(aut_store_path(f->b, "../../etc/passwd", path), -EINVAL);
}

static void copy_and_write_are_atomic(void **state)
{
    struct fx *f = *state;
    char want[2 * PATH_MAX], sub[PATH_MAX];
    struct stat st;
    write_text(at(f, f->a, "src"), "hello\n");
    assert_int_equal(chmod(f->a, 0750), 0);
    at(f, f->b, "x/y/dst"); /* parents created */
    assert_int_equal(aut_copy_file(f->a, f->b, f->err, sizeof f->err), 0);
    assert_file_is(f->b, "hello\n");
    assert_int_equal(stat(f->b, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
    assert_int_equal(count_entries(at(f, sub, "x/y"), NULL, 0), 1);

    write_text(f->a, "second\n");
    assert_int_equal(aut_copy_file(f->a, f->b, f->err, sizeof f->err), 0);
    assert_file_is(f->b, "second\n");
    assert_int_equal(count_entries(sub, NULL, 0), 1);

    /* a missing source: an error naming it, the old destination intact */
    assert_int_equal(aut_copy_file(at(f, f->c, "nope"), f->b, f->err, sizeof f->err), -ENOENT);
    snprintf(want, sizeof want, "open %s: No such file or directory", f->c);
    assert_string_equal(f->err, want);
    assert_file_is(f->b, "second\n");
    assert_int_equal(count_entries(sub, NULL, 0), 1);

    /* write: replaces, leaves nothing else; into a missing directory: fails cleanly */
    assert_int_equal(aut_write_file(f->b, "w", 1, f->err, sizeof f->err), 0);
    assert_file_is(f->b, "w");
    assert_int_equal(count_entries(sub, NULL, 0), 1);
    assert_int_equal(aut_write_file(at(f, f->c, "no/dir/file"), "w", 1, f->err, sizeof f->err),
                     -ENOENT);
    assert_non_null(strstr(f->err, f->c));
    assert_int_equal(access(at(f, f->c, "no"), F_OK), -1);
}

static void read_stops_at_its_maximum(void **state)
{
    struct fx *f = *state;
    char *data = NULL, want[2 * PATH_MAX];
    size_t len = 0;
    write_text(at(f, f->a, "ten"), "0123456789");
    assert_int_equal(aut_read_file(f->a, 10, &data, &len, f->err, sizeof f->err), 0);
    assert_int_equal(len, 10);
    assert_int_equal(data[10], '\0');
    assert_string_equal(data, "0123456789");
    free(data);

    data = NULL;
    assert_int_equal(aut_read_file(f->a, 9, &data, &len, f->err, sizeof f->err), -EFBIG);
    assert_null(data);
    snprintf(want, sizeof want, "read %s (10 bytes, at most 9 allowed): File too large", f->a);
    assert_string_equal(f->err, want);

    /* a file whose size stat does not know (/proc) is capped while reading */
    assert_int_equal(aut_read_file("/proc/self/status", 16, &data, &len, f->err, sizeof f->err),
                     -EFBIG);
    assert_int_equal(aut_read_file("/proc/self/status", 1 << 20, &data, &len, NULL, 0), 0);
    assert_non_null(strstr(data, "Name:"));
    assert_int_equal(strlen(data), len);
    free(data);

    write_text(f->a, "");
    assert_int_equal(aut_read_file(f->a, 0, &data, &len, NULL, 0), 0);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    free(data);
    assert_int_equal(aut_read_file(at(f, f->b, "none"), 10, &data, &len, NULL, 0), -ENOENT);
}

static void mkdirs_and_rmtree_never_follow_links(void **state)
{
    struct fx *f = *state;
    char p[PATH_MAX], outside[PATH_MAX], keep[PATH_MAX];
    assert_int_equal(aut_mkdirs(at(f, f->a, "tree/a/b/c"), 0755), 0);
    assert_int_equal(aut_mkdirs(f->a, 0755), 0); /* already there */
    assert_int_equal(aut_mkdirs(at(f, p, "tree//a/b2/"), 0755), 0);
    write_text(at(f, p, "tree/a/file"), "x");
    assert_int_equal(aut_mkdirs(at(f, f->b, "tree/a/file/sub"), 0755), -ENOTDIR);

    /* outside the tree: a directory with a file, and a file; links to both inside */
    assert_int_equal(aut_mkdirs(at(f, outside, "outside"), 0755), 0);
    write_text(at(f, keep, "outside/keep"), "keep");
    assert_int_equal(symlink(outside, at(f, p, "tree/a/b/dirlink")), 0);
    assert_int_equal(symlink(keep, at(f, p, "tree/a/b/c/filelink")), 0);
    assert_int_equal(symlink("/nonexistent", at(f, p, "tree/dangling")), 0);

    assert_int_equal(aut_rmtree(at(f, f->c, "tree")), 0);
    assert_int_equal(access(f->c, F_OK), -1);
    assert_file_is(keep, "keep");
    assert_int_equal(count_entries(outside, NULL, 0), 1);
    assert_int_equal(aut_rmtree(f->c), 0); /* absent: not an error */

    /* rmtree of a link removes the link only */
    assert_int_equal(symlink(outside, at(f, p, "link")), 0);
    assert_int_equal(aut_rmtree(p), 0);
    assert_file_is(keep, "keep");
    struct stat st;
    assert_int_equal(lstat(p, &st), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sha256_agrees_with_sha256sum, setup, teardown),
        cmocka_unit_test_setup_teardown(put_twice_stores_one_file_under_its_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(put_of_a_missing_file_names_it, setup, teardown),
        cmocka_unit_test_setup_teardown(copy_and_write_are_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(read_stops_at_its_maximum, setup, teardown),
        cmocka_unit_test_setup_teardown(mkdirs_and_rmtree_never_follow_links, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
