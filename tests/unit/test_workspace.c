/*
 * test_workspace.c - the kernel workspace against the real kernel-tree/: the
 * seed commits exactly the seed's source (no build products), a job's
 * worktree commits additions, edits, deletions and force-added ignored files
 * without touching main, main fast-forwards only from the commit it is at and
 * its checkout follows (ignored files left alone), tags, leftovers, reads, log
 * and the dirty check. The git CLI cross-checks what libgit2 wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workspace.h"

#define WT_MAX 256 /* a worktree path: short, so paths under it fit in PATH_MAX */

struct fx {
    char dir[64];        /* a fresh temporary directory */
    char ws_path[128];   /* dir/ws: the workspace */
    char seed[PATH_MAX]; /* kernel-tree/, absolute */
    struct aut_ws *ws;
    char base[AUT_WS_OID_HEX]; /* main after seeding */
};

/* ---- helpers ------------------------------------------------------------------ */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs a shell command and returns its stdout (malloc'ed); *status gets the
 * exit status. */
__attribute__((format(printf, 2, 3))) static char *sh(int *status, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    assert_true(vsnprintf(cmd, sizeof cmd, fmt, ap) < (int)sizeof cmd);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t k;
    while ((k = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (cap - n < 2) {
            out = realloc(out, cap *= 2);
            assert_non_null(out);
        }
    }
    out[n] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

/* Runs a command that must succeed and returns its output, trailing newlines cut. */
__attribute__((format(printf, 1, 2))) static char *SH(const char *fmt, ...)
{
    char cmd[4096];
    int status;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vsnprintf(cmd, sizeof cmd, fmt, ap) < (int)sizeof cmd);
    va_end(ap);
    char *out = sh(&status, "%s", cmd);
    if (status != 0)
        fail_msg("command failed (%d): %s\n%s", status, cmd, out);
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n')
        out[--n] = '\0';
    return out;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* The whole file, malloc'ed. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void assert_clean_repo(const char *path)
{
    free(SH("git -C %s fsck --strict --no-progress 2>&1", path));
    char *st = SH("git -C %s status --porcelain", path);
    assert_string_equal(st, "");
    free(st);
}

static void main_of(struct fx *f, char oid[AUT_WS_OID_HEX])
{
    assert_int_equal(aut_ws_main(f->ws, oid), 0);
    assert_int_equal(strlen(oid), 40);
}

static void job_dir(struct fx *f, const char *name, char out[WT_MAX])
{
    snprintf(out, WT_MAX, "%s/jobs/%s", f->dir, name);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct aut_ws_opts o = {0};
    char err[512] = "";
    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_workspace.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->ws_path, sizeof f->ws_path, "%s/ws", f->dir);
    if (!realpath("kernel-tree", f->seed))
        assert_non_null(realpath("/work/main/kernel-tree", f->seed));
    o.seed_dir = f->seed;
    int rc = aut_ws_open(f->ws_path, &o, &f->ws, err, sizeof err);
    if (rc != 0)
        fail_msg("aut_ws_open: %d %s", rc, err);
    main_of(f, f->base);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    aut_ws_close(f->ws);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* Begins job name in dir/jobs/<name>; the worktree path goes to wt. */
static void begin(struct fx *f, const char *name, char wt[WT_MAX], char base[AUT_WS_OID_HEX])
{
    job_dir(f, name, wt);
    int rc = aut_ws_job_begin(f->ws, name, wt, base);
    if (rc != 0)
        fail_msg("job begin %s: %d %s", name, rc, aut_ws_error(f->ws));
}

static void commit(struct fx *f, const char *wt, const char *msg, const char *const *force,
                   char out[AUT_WS_OID_HEX])
{
    int rc = aut_ws_commit(f->ws, wt, msg, force, out);
    if (rc != 0)
        fail_msg("commit %s: %d %s", wt, rc, aut_ws_error(f->ws));
}

/* ---- seeding and opening ------------------------------------------------------ */

static void seed_commits_the_source_and_no_build_products(void **state)
{
    struct fx *f = *state;
    char *count = SH("git -C %s rev-list --count main", f->ws_path);
    assert_string_equal(count, "1");
    char *head = SH("git -C %s symbolic-ref HEAD", f->ws_path);
    assert_string_equal(head, "refs/heads/main");
    /* what the seed tracks, plus what it has that is new but not ignored */
    char *want =
        SH("git -C %s ls-files -co --exclude-standard | grep -v '^\\.gitignore$' | sort", f->seed);
    char *got = SH("git -C %s ls-files | grep -v '^\\.gitignore$' | sort", f->ws_path);
    assert_string_equal(got, want);
    int st;
    free(sh(&st, "git -C %s ls-files | grep -E '(^|/)build/|kernel\\.elf$|\\.o$|\\.d$|\\.gguf$'",
            f->ws_path));
    assert_int_equal(st, 1); /* grep found nothing */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/build", f->ws_path);
    assert_false(exists(p));
    snprintf(p, sizeof p, "%s/kernel.elf", f->ws_path);
    assert_false(exists(p));
    snprintf(p, sizeof p, "%s/kernel/slm/model_data.o", f->ws_path);
    assert_false(exists(p));
    /* the .gitignore of the header, and the executable bit of scripts */
    snprintf(p, sizeof p, "%s/.gitignore", f->ws_path);
    char *gi = slurp(p);
    assert_string_equal(gi, "/build/\n/kernel.elf\n*.o\n*.d\n/kernel/slm/models/*.gguf\n");
    char *mode = SH("git -C %s ls-files -s scripts/check-nosimd.sh | cut -c1-6", f->ws_path);
    assert_string_equal(mode, "100755");
    char *n = SH("git -C %s ls-files | wc -l", f->ws_path);
    char *subject = SH("git -C %s log -1 --format=%%s main", f->ws_path);
    char expect[PATH_MAX + 64];
    snprintf(expect, sizeof expect, "workspace: seeded from %s (%s files)", f->seed, n);
    assert_string_equal(subject, expect);
    char *author = SH("git -C %s log -1 --format='%%an <%%ae>' main", f->ws_path);
    assert_string_equal(author, "AUTON integrator <integrator@auton.invalid>");
    assert_clean_repo(f->ws_path);
    char *rp = realpath(f->ws_path, NULL);
    assert_string_equal(aut_ws_path(f->ws), rp);
    assert_string_equal(aut_ws_error(f->ws), "");
    free(rp), free(author), free(subject), free(n), free(mode), free(gi), free(got), free(want);
    free(head), free(count);
}

static void reopen_finds_the_same_workspace(void **state)
{
    struct fx *f = *state;
    struct aut_ws_opts o = {.seed_dir = f->seed, .author_name = "A", .author_email = "a@b"};
    struct aut_ws *again = NULL, *plain = NULL;
    char err[512], oid[AUT_WS_OID_HEX];
    /* a seed with an existing workspace does not reseed */
    assert_int_equal(aut_ws_open(f->ws_path, &o, &again, err, sizeof err), 0);
    assert_int_equal(aut_ws_main(again, oid), 0);
    assert_string_equal(oid, f->base);
    /* libgit2's init is counted: closing one workspace leaves the other usable */
    char trailing[160];
    snprintf(trailing, sizeof trailing, "%s/", f->ws_path);
    assert_int_equal(aut_ws_open(trailing, NULL, &plain, err, sizeof err), 0);
    aut_ws_close(again);
    assert_int_equal(aut_ws_main(plain, oid), 0);
    assert_string_equal(oid, f->base);
    assert_int_equal(aut_ws_main(f->ws, oid), 0);
    aut_ws_close(plain);
    char *count = SH("git -C %s rev-list --count main", f->ws_path);
    assert_string_equal(count, "1");
    free(count);
}

static void open_refuses_what_is_not_a_workspace(void **state)
{
    struct fx *f = *state;
    struct aut_ws_opts o = {.seed_dir = f->seed};
    struct aut_ws *ws = (struct aut_ws *)0x1;
    char err[512], p[PATH_MAX];

    /* a non-empty directory that is no repository: never seeded over */
    snprintf(p, sizeof p, "%s/plain", f->dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/plain/keep.txt", f->dir);
    write_file(p, "mine\n");
    snprintf(p, sizeof p, "%s/plain", f->dir);
    err[0] = '\0';
    assert_true(aut_ws_open(p, &o, &ws, err, sizeof err) < 0);
    assert_ptr_equal(ws, (struct aut_ws *)0x1);
    assert_non_null(strstr(err, "not a git repository"));
    snprintf(p, sizeof p, "%s/plain/keep.txt", f->dir);
    assert_true(exists(p));
    snprintf(p, sizeof p, "%s/plain/.git", f->dir);
    assert_false(exists(p));

    /* missing, no seed */
    snprintf(p, sizeof p, "%s/missing", f->dir);
    assert_int_equal(aut_ws_open(p, NULL, &ws, err, sizeof err), -ENOENT);
    assert_false(exists(p));
    /* a repository without main; and a bare one */
    free(SH("git init -q -b trunk %s/trunk && git init -q --bare %s/bare.git", f->dir, f->dir));
    snprintf(p, sizeof p, "%s/trunk", f->dir);
    assert_int_equal(aut_ws_open(p, &o, &ws, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "no branch main"));
    snprintf(p, sizeof p, "%s/bare.git", f->dir);
    assert_true(aut_ws_open(p, &o, &ws, NULL, 0) < 0);
    /* a seed that does not exist leaves nothing behind */
    struct aut_ws_opts bad = {.seed_dir = "/nonexistent/kernel-tree"};
    snprintf(p, sizeof p, "%s/new", f->dir);
    assert_true(aut_ws_open(p, &bad, &ws, err, sizeof err) < 0);
    assert_false(exists(p));
    char *left = SH("ls -a %s | grep -c seed || true", f->dir);
    assert_string_equal(left, "0");
    free(left);
    /* a workspace inside its own seed */
    struct aut_ws_opts inner = {.seed_dir = f->dir};
    snprintf(p, sizeof p, "%s/plain/ws", f->dir);
    assert_int_equal(aut_ws_open(p, &inner, &ws, err, sizeof err), -EINVAL);
    assert_false(exists(p));
    snprintf(p, sizeof p, "%s/new", f->dir);
    /* an empty directory is seeded */
    mkdir(p, 0755);
    assert_int_equal(aut_ws_open(p, &o, &ws, err, sizeof err), 0);
    aut_ws_close(ws);
}

/* ---- jobs ---------------------------------------------------------------------- */

static void job_begin_makes_a_branch_and_a_worktree(void **state)
{
    struct fx *f = *state;
    char wt[WT_MAX], base[AUT_WS_OID_HEX], p[PATH_MAX];
    begin(f, "job1", wt, base);
    assert_string_equal(base, f->base);
    char *br = SH("git -C %s rev-parse integration/job1", f->ws_path);
    assert_string_equal(br, f->base);
    char *list = SH("git -C %s worktree list --porcelain | grep -c '^worktree '", f->ws_path);
    assert_string_equal(list, "2");
    char *wbr = SH("git -C %s symbolic-ref HEAD", wt);
    assert_string_equal(wbr, "refs/heads/integration/job1");
    snprintf(p, sizeof p, "%s/Makefile", wt);
    assert_true(exists(p));
    snprintf(p, sizeof p, "%s/scripts/check-nosimd.sh", wt);
    assert_int_equal(access(p, X_OK), 0);
    assert_clean_repo(wt);

    char other[WT_MAX];
    job_dir(f, "job2", other);
    assert_int_equal(aut_ws_job_begin(f->ws, "job1", other, base), -EEXIST);
    assert_false(exists(other));
    assert_int_equal(aut_ws_job_begin(f->ws, "job2", wt, base), -EEXIST);
    free(SH("git -C %s branch -q integration/job3", f->ws_path));
    job_dir(f, "job3", other);
    assert_int_equal(aut_ws_job_begin(f->ws, "job3", other, base), -EEXIST);
    assert_non_null(strstr(aut_ws_error(f->ws), "integration/job3"));
    /* names that are no single ref component; a directory inside the workspace */
    assert_int_equal(aut_ws_job_begin(f->ws, "a/b", other, base), -EINVAL);
    assert_int_equal(aut_ws_job_begin(f->ws, "", other, base), -EINVAL);
    assert_int_equal(aut_ws_job_begin(f->ws, "x~1", other, base), -EINVAL);
    snprintf(p, sizeof p, "%s/sub", f->ws_path);
    assert_int_equal(aut_ws_job_begin(f->ws, "job4", p, base), -EINVAL);
    free(wbr), free(list), free(br);
}

static void commit_and_advance_carry_edits_additions_and_deletions(void **state)
{
    struct fx *f = *state;
    char wt[WT_MAX], base[AUT_WS_OID_HEX], c[AUT_WS_OID_HEX], p[PATH_MAX], oid[AUT_WS_OID_HEX];

    /* the model lives ignored in main's checkout */
    snprintf(p, sizeof p, "%s/kernel/slm/models", f->ws_path);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/kernel/slm/models/m.gguf", f->ws_path);
    write_file(p, "GGUF model\n");
    begin(f, "job1", wt, base);
    snprintf(p, sizeof p, "%s/kernel/new_driver.c", wt);
    write_file(p, "int new_driver;\n");
    snprintf(p, sizeof p, "%s/Makefile", wt);
    write_file(p, "# rewritten\n");
    snprintf(p, sizeof p, "%s/lib/kfmt.h", wt);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof p, "%s/kernel.elf", wt);
    write_file(p, "ELF"); /* ignored: not committed */
    commit(f, wt, "integrate job1: new driver\n\nbody\n", NULL, c);

    char *head = SH("git -C %s rev-parse HEAD", wt);
    assert_string_equal(head, c);
    char *names = SH("git -C %s diff --name-status main integration/job1", f->ws_path);
    assert_string_equal(names, "M\tMakefile\nA\tkernel/new_driver.c\nD\tlib/kfmt.h");
    assert_clean_repo(wt);
    /* main and its checkout have not moved */
    main_of(f, oid);
    assert_string_equal(oid, base);
    snprintf(p, sizeof p, "%s/lib/kfmt.h", f->ws_path);
    assert_true(exists(p));

    assert_int_equal(aut_ws_advance_main(f->ws, c, base), 0);
    main_of(f, oid);
    assert_string_equal(oid, c);
    assert_false(exists(p)); /* the deletion reached the checkout */
    snprintf(p, sizeof p, "%s/kernel/new_driver.c", f->ws_path);
    char *nd = slurp(p);
    assert_string_equal(nd, "int new_driver;\n");
    snprintf(p, sizeof p, "%s/Makefile", f->ws_path);
    char *mk = slurp(p);
    assert_string_equal(mk, "# rewritten\n");
    snprintf(p, sizeof p, "%s/kernel/slm/models/m.gguf", f->ws_path);
    char *model = slurp(p);
    assert_string_equal(model, "GGUF model\n");
    snprintf(p, sizeof p, "%s/kernel.elf", f->ws_path);
    assert_false(exists(p));
    assert_clean_repo(f->ws_path);
    bool dirty = true;
    assert_int_equal(aut_ws_dirty(f->ws, &dirty), 0);
    assert_false(dirty);
    char *reflog = SH("git -C %s reflog show -1 --format=%%gs refs/heads/main", f->ws_path);
    char want[128];
    snprintf(want, sizeof want, "advance main: fast-forward to %s", c);
    assert_string_equal(reflog, want);
    /* a commit with no change is still a commit */
    char again[AUT_WS_OID_HEX];
    commit(f, wt, "nothing new", NULL, again);
    assert_string_not_equal(again, c);
    free(reflog), free(model), free(mk), free(nd), free(names), free(head);
}

static void force_adds_an_ignored_model(void **state)
{
    struct fx *f = *state;
    char wt[WT_MAX], base[AUT_WS_OID_HEX], c[AUT_WS_OID_HEX], p[PATH_MAX];
    char *data = NULL;
    size_t len = 0;

    begin(f, "model", wt, base);
    snprintf(p, sizeof p, "%s/kernel/slm/models", wt);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/kernel/slm/models/auton.gguf", wt);
    write_file(p, "GGUF\x01weights");
    snprintf(p, sizeof p, "%s/kernel/slm/models/other.gguf", wt);
    write_file(p, "not asked for");
    const char *const missing[] = {"kernel/slm/models/absent.gguf", NULL};
    assert_int_equal(aut_ws_commit(f->ws, wt, "m", missing, c), -ENOENT);
    assert_non_null(strstr(aut_ws_error(f->ws), "absent.gguf"));
    const char *const force[] = {"kernel/slm/models/auton.gguf", NULL};
    commit(f, wt, "embed the model", force, c);

    assert_int_equal(aut_ws_read(f->ws, c, "kernel/slm/models/auton.gguf", &data, &len), 0);
    assert_int_equal(len, strlen("GGUF\x01weights"));
    assert_memory_equal(data, "GGUF\x01weights", len);
    free(data);
    assert_int_equal(aut_ws_read(f->ws, c, "kernel/slm/models/other.gguf", &data, &len), -ENOENT);
    char *files = SH("git -C %s ls-files kernel/slm/models", wt);
    assert_string_equal(files, "kernel/slm/models/auton.gguf");
    /* once tracked, the next commit keeps it and follows its edits */
    write_file(p, "still ignored");
    snprintf(p, sizeof p, "%s/kernel/slm/models/auton.gguf", wt);
    write_file(p, "GGUF v2");
    commit(f, wt, "new weights", NULL, c);
    assert_int_equal(aut_ws_advance_main(f->ws, c, base), 0);
    snprintf(p, sizeof p, "%s/kernel/slm/models/auton.gguf", f->ws_path);
    char *now = slurp(p);
    assert_string_equal(now, "GGUF v2");
    assert_clean_repo(f->ws_path);
    free(now), free(files);
}

static void advance_refuses_a_moved_main(void **state)
{
    struct fx *f = *state;
    char wa[WT_MAX], wb[WT_MAX], ba[AUT_WS_OID_HEX], bb[AUT_WS_OID_HEX];
    char ca[AUT_WS_OID_HEX], cb[AUT_WS_OID_HEX], oid[AUT_WS_OID_HEX], p[PATH_MAX];

    begin(f, "a", wa, ba);
    begin(f, "b", wb, bb);
    snprintf(p, sizeof p, "%s/a.txt", wa);
    write_file(p, "a\n");
    commit(f, wa, "job a", NULL, ca);
    snprintf(p, sizeof p, "%s/b.txt", wb);
    write_file(p, "b\n");
    commit(f, wb, "job b", NULL, cb);
    assert_int_equal(aut_ws_advance_main(f->ws, ca, ba), 0);

    /* b was based on the old main: refused, nothing moves */
    assert_int_equal(aut_ws_advance_main(f->ws, cb, bb), -ESTALE);
    char want[128], sa[8], sb[8];
    snprintf(sa, sizeof sa, "%.7s", ca);
    snprintf(sb, sizeof sb, "%.7s", bb);
    snprintf(want, sizeof want, "advance main: main is at %s, expected %s (moved by someone else)",
             sa, sb);
    assert_string_equal(aut_ws_error(f->ws), want);
    main_of(f, oid);
    assert_string_equal(oid, ca);
    snprintf(p, sizeof p, "%s/b.txt", f->ws_path);
    assert_false(exists(p));
    snprintf(p, sizeof p, "%s/a.txt", f->ws_path);
    assert_true(exists(p));
    /* right expected, but b does not descend from it */
    assert_int_equal(aut_ws_advance_main(f->ws, cb, ca), -ESTALE);
    assert_non_null(strstr(aut_ws_error(f->ws), "does not descend"));
    main_of(f, oid);
    assert_string_equal(oid, ca);
    /* unknown commits */
    assert_int_equal(aut_ws_advance_main(f->ws, "0123456789012345678901234567890123456789", ca),
                     -ENOENT);
    assert_int_equal(aut_ws_advance_main(f->ws, ca, ca), 0); /* already there: a no-op */
    assert_clean_repo(f->ws_path);
}

/* Appends name and ';' to the buffer at ud. */
static void tag_cb(void *ud, const char *name)
{
    char *buf = ud;
    strcat(buf, name);
    strcat(buf, ";");
}

static void tags_are_annotated_and_unique(void **state)
{
    struct fx *f = *state;
    assert_int_equal(aut_ws_tag(f->ws, "integrated/job1", f->base, "job1 integrated"), 0);
    assert_int_equal(aut_ws_tag(f->ws, "integrated/job1", f->base, "again"), -EEXIST);
    assert_int_equal(aut_ws_tag(f->ws, "integrated/job0", "main", "by name"), 0);
    assert_int_equal(aut_ws_tag(f->ws, "release", f->base, "not an integration"), 0);
    assert_int_equal(aut_ws_tag(f->ws, "bad..name", f->base, "x"), -EINVAL);
    char *type = SH("git -C %s cat-file -t integrated/job1", f->ws_path);
    assert_string_equal(type, "tag");
    char *msg = SH("git -C %s tag -l --format='%%(contents:subject)' integrated/job1", f->ws_path);
    assert_string_equal(msg, "job1 integrated");

    char acc[256] = "";
    assert_int_equal(aut_ws_tags_at(f->ws, f->base, tag_cb, acc), 0);
    assert_string_equal(acc, "integrated/job0;integrated/job1;");
    /* a commit with no tags */
    char wt[WT_MAX], base[AUT_WS_OID_HEX], c[AUT_WS_OID_HEX];
    begin(f, "t", wt, base);
    commit(f, wt, "untagged", NULL, c);
    acc[0] = '\0';
    assert_int_equal(aut_ws_tags_at(f->ws, c, tag_cb, acc), 0);
    assert_string_equal(acc, "");
    free(msg), free(type);
}

static void job_end_leaves_nothing_and_is_idempotent(void **state)
{
    struct fx *f = *state;
    char wt[WT_MAX], base[AUT_WS_OID_HEX], c[AUT_WS_OID_HEX];
    begin(f, "done", wt, base);
    commit(f, wt, "work", NULL, c);
    assert_int_equal(aut_ws_job_end(f->ws, "done", wt), 0);
    assert_false(exists(wt));
    char *list = SH("git -C %s worktree list --porcelain | grep -c '^worktree '", f->ws_path);
    assert_string_equal(list, "1");
    char *br = SH("git -C %s branch --list 'integration/*'", f->ws_path);
    assert_string_equal(br, "");
    assert_int_equal(aut_ws_job_end(f->ws, "done", wt), 0);
    assert_int_equal(aut_ws_job_end(f->ws, "never", NULL), 0);
    char *prunable = SH("git -C %s worktree prune -n -v 2>&1", f->ws_path);
    assert_string_equal(prunable, "");
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/.git/logs/refs/heads/integration/done", f->ws_path);
    assert_false(exists(p));
    snprintf(p, sizeof p, "%s/.git/worktrees/done", f->ws_path);
    assert_false(exists(p));
    assert_clean_repo(f->ws_path);

    /* a crash left the registration and branch but lost the directory */
    begin(f, "crashed", wt, base);
    rm_rf(wt);
    assert_int_equal(aut_ws_job_end(f->ws, "crashed", wt), 0);
    char *list2 = SH("git -C %s worktree list --porcelain | grep -c '^worktree '", f->ws_path);
    assert_string_equal(list2, "1");
    /* the same name can be used again */
    begin(f, "crashed", wt, base);
    assert_int_equal(aut_ws_job_end(f->ws, "crashed", wt), 0);
    free(list2), free(prunable), free(br), free(list);
}

static void job_end_refuses_to_remove_a_stranger(void **state)
{
    struct fx *f = *state;
    char wt[WT_MAX], base[AUT_WS_OID_HEX], p[PATH_MAX];
    begin(f, "j", wt, base);
    snprintf(p, sizeof p, "%s/precious", f->dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/precious/data.txt", f->dir);
    write_file(p, "keep me");
    snprintf(p, sizeof p, "%s/precious", f->dir);
    assert_int_equal(aut_ws_job_end(f->ws, "j", p), -EINVAL);
    snprintf(p, sizeof p, "%s/precious/data.txt", f->dir);
    assert_true(exists(p));
    assert_int_equal(aut_ws_job_end(f->ws, "j", f->ws_path), -EINVAL);
    snprintf(p, sizeof p, "%s/Makefile", f->ws_path);
    assert_true(exists(p));
    /* another job's worktree is not this job's */
    char w2[WT_MAX], b2[AUT_WS_OID_HEX];
    begin(f, "k", w2, b2);
    assert_int_equal(aut_ws_job_end(f->ws, "j", w2), -EINVAL);
    assert_true(exists(w2));
    assert_int_equal(aut_ws_job_end(f->ws, "j", wt), 0);
    assert_int_equal(aut_ws_job_end(f->ws, "k", w2), 0);
}

static void jobs_lists_leftovers(void **state)
{
    struct fx *f = *state;
    char wa[WT_MAX], wb[WT_MAX], base[AUT_WS_OID_HEX];
    char **names = NULL;
    size_t n = 99;

    assert_int_equal(aut_ws_jobs(f->ws, &names, &n), 0);
    assert_int_equal(n, 0);
    aut_ws_names_free(names, n);
    begin(f, "beta", wb, base);
    begin(f, "alpha", wa, base);
    free(SH("git -C %s branch -q integration/gamma", f->ws_path)); /* branch only */
    free(SH("git -C %s branch -q feature", f->ws_path));           /* not a job */
    assert_int_equal(aut_ws_jobs(f->ws, &names, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "alpha");
    assert_string_equal(names[1], "beta");
    assert_string_equal(names[2], "gamma");
    aut_ws_names_free(names, n);
    assert_int_equal(aut_ws_job_end(f->ws, "alpha", wa), 0);
    assert_int_equal(aut_ws_job_end(f->ws, "beta", wb), 0);
    assert_int_equal(aut_ws_job_end(f->ws, "gamma", NULL), 0);
    assert_int_equal(aut_ws_jobs(f->ws, &names, &n), 0);
    assert_int_equal(n, 0);
    aut_ws_names_free(names, n);
}

/* ---- reading ------------------------------------------------------------------- */

static void read_gives_a_file_of_a_commit(void **state)
{
    struct fx *f = *state;
    char *data = NULL, p[PATH_MAX];
    size_t len = 0;
    assert_int_equal(aut_ws_read(f->ws, "main", "Makefile", &data, &len), 0);
    snprintf(p, sizeof p, "%s/Makefile", f->ws_path);
    char *disk = slurp(p);
    assert_int_equal(len, strlen(disk));
    assert_string_equal(data, disk);
    free(data);
    assert_int_equal(aut_ws_read(f->ws, f->base, "lib/kfmt.c", &data, &len), 0);
    free(data);
    assert_int_equal(aut_ws_read(f->ws, "main", "no/such/file.c", &data, &len), -ENOENT);
    assert_non_null(strstr(aut_ws_error(f->ws), "no/such/file.c"));
    assert_int_equal(aut_ws_read(f->ws, "main", "kernel", &data, &len), -ENOENT);
    assert_int_equal(aut_ws_read(f->ws, "nosuchbranch", "Makefile", &data, &len), -ENOENT);
    assert_int_equal(aut_ws_read(f->ws, "main", "build/user.o", &data, &len), -ENOENT);
    free(disk);
}

struct log_acc {
    int n;
    char oid[4][AUT_WS_OID_HEX];
    char summary[4][128];
    long long time[4];
};

static void log_cb(void *ud, const char *oid, const char *summary, long long time)
{
    struct log_acc *a = ud;
    assert_true(a->n < 4);
    snprintf(a->oid[a->n], AUT_WS_OID_HEX, "%s", oid);
    snprintf(a->summary[a->n], 128, "%s", summary);
    a->time[a->n++] = time;
}

static void log_lists_main_newest_first(void **state)
{
    struct fx *f = *state;
    char wt[WT_MAX], base[AUT_WS_OID_HEX], c1[AUT_WS_OID_HEX], c2[AUT_WS_OID_HEX];
    begin(f, "l", wt, base);
    commit(f, wt, "first line\nsecond line\n", NULL, c1);
    assert_int_equal(aut_ws_advance_main(f->ws, c1, base), 0);
    commit(f, wt, "two", NULL, c2);
    assert_int_equal(aut_ws_advance_main(f->ws, c2, c1), 0);

    struct log_acc a = {0};
    assert_int_equal(aut_ws_log(f->ws, 10, log_cb, &a), 0);
    assert_int_equal(a.n, 3);
    assert_string_equal(a.oid[0], c2);
    assert_string_equal(a.summary[0], "two");
    assert_string_equal(a.oid[1], c1);
    assert_string_equal(a.summary[1], "first line");
    assert_string_equal(a.oid[2], base);
    assert_non_null(strstr(a.summary[2], "workspace: seeded from "));
    assert_true(a.time[0] > 1600000000LL);
    memset(&a, 0, sizeof a);
    assert_int_equal(aut_ws_log(f->ws, 1, log_cb, &a), 0);
    assert_int_equal(a.n, 1);
    assert_string_equal(a.oid[0], c2);
}

static void dirty_sees_tracked_changes_only(void **state)
{
    struct fx *f = *state;
    char p[PATH_MAX];
    bool dirty = true;
    assert_int_equal(aut_ws_dirty(f->ws, &dirty), 0);
    assert_false(dirty);
    snprintf(p, sizeof p, "%s/untracked.txt", f->ws_path);
    write_file(p, "new");
    snprintf(p, sizeof p, "%s/kernel.elf", f->ws_path);
    write_file(p, "ignored");
    assert_int_equal(aut_ws_dirty(f->ws, &dirty), 0);
    assert_false(dirty);
    snprintf(p, sizeof p, "%s/Makefile", f->ws_path);
    char *orig = slurp(p);
    write_file(p, "edited");
    assert_int_equal(aut_ws_dirty(f->ws, &dirty), 0);
    assert_true(dirty);
    write_file(p, orig);
    assert_int_equal(aut_ws_dirty(f->ws, &dirty), 0);
    assert_false(dirty);
    snprintf(p, sizeof p, "%s/lib/kfmt.c", f->ws_path);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(aut_ws_dirty(f->ws, &dirty), 0);
    assert_true(dirty);
    /* advance_main's forced checkout repairs it */
    assert_int_equal(aut_ws_advance_main(f->ws, f->base, f->base), 0);
    assert_true(exists(p));
    assert_int_equal(aut_ws_dirty(f->ws, &dirty), 0);
    assert_false(dirty);
    free(orig);
}

static void commit_refuses_what_is_not_a_worktree(void **state)
{
    struct fx *f = *state;
    char c[AUT_WS_OID_HEX], p[PATH_MAX];
    assert_int_equal(aut_ws_commit(f->ws, f->ws_path, "m", NULL, c), -EINVAL);
    snprintf(p, sizeof p, "%s/empty", f->dir);
    mkdir(p, 0755);
    assert_int_equal(aut_ws_commit(f->ws, p, "m", NULL, c), -ENOENT);
    assert_non_null(strstr(aut_ws_error(f->ws), p));
    char main_oid[AUT_WS_OID_HEX];
    main_of(f, main_oid);
    assert_string_equal(main_oid, f->base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(seed_commits_the_source_and_no_build_products, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reopen_finds_the_same_workspace, setup, teardown),
        cmocka_unit_test_setup_teardown(open_refuses_what_is_not_a_workspace, setup, teardown),
        cmocka_unit_test_setup_teardown(job_begin_makes_a_branch_and_a_worktree, setup, teardown),
        cmocka_unit_test_setup_teardown(commit_and_advance_carry_edits_additions_and_deletions,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(force_adds_an_ignored_model, setup, teardown),
        cmocka_unit_test_setup_teardown(advance_refuses_a_moved_main, setup, teardown),
        cmocka_unit_test_setup_teardown(tags_are_annotated_and_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(job_end_leaves_nothing_and_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(job_end_refuses_to_remove_a_stranger, setup, teardown),
        cmocka_unit_test_setup_teardown(jobs_lists_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(read_gives_a_file_of_a_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(log_lists_main_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(dirty_sees_tracked_changes_only, setup, teardown),
        cmocka_unit_test_setup_teardown(commit_refuses_what_is_not_a_worktree, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
