/*
 * workspace.c - the kernel workspace: one git repository seeded from
 * kernel-tree/, a branch and a worktree per job, and the fast-forward of main
 * with its checkout. The only file that calls libgit2: its error codes become
 * -errno here and its messages go into the workspace's error buffer.
 */
#include "workspace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#define WS_MAIN_REF "refs/heads/main"
#define WS_BRANCH_PREFIX "integration/"
#define WS_TAG_PREFIX "refs/tags/"
#define WS_INTEGRATED_PREFIX "refs/tags/integrated/"
#define WS_BRANCH_MAX 256
#define WS_SHORT_HEX 8 /* 7 hex digits + NUL, as in messages */

/* What a seeded workspace ignores: the build products and the embedded model. */
static const char ws_gitignore[] = "/build/\n"
                                   "/kernel.elf\n"
                                   "*.o\n"
                                   "*.d\n"
                                   "/kernel/slm/models/*.gguf\n";

struct aut_ws {
    git_repository *repo; /* the workspace; main is checked out in path */
    bool git_up;          /* git_libgit2_init succeeded: close owes a shutdown */
    char *author_name;    /* owned copies of the options (or the defaults) */
    char *author_email;
    char path[PATH_MAX]; /* absolute, no trailing slash */
    char err[1024];      /* the last error, "" if none */
};

/* ---- errors ----------------------------------------------------------- */

static int errno_of_git(int gerr)
{
    switch (gerr) {
    case GIT_ENOTFOUND:
        return -ENOENT;
    case GIT_EEXISTS:
        return -EEXIST;
    case GIT_EMODIFIED:
        return -ESTALE;
    case GIT_EINVALIDSPEC:
        return -EINVAL;
    default:
        return -EIO;
    }
}

/* Formats the message into ws->err and returns rc, a negative errno. */
__attribute__((format(printf, 3, 4))) static int ws_fail(struct aut_ws *ws, int rc, const char *fmt,
                                                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ws->err, sizeof ws->err, fmt, ap);
    va_end(ap);
    return rc;
}

/* Like ws_fail for libgit2's code gerr: appends libgit2's own message and
 * returns gerr translated to -errno. */
__attribute__((format(printf, 3, 4))) static int ws_git_fail(struct aut_ws *ws, int gerr,
                                                             const char *fmt, ...)
{
    const git_error *e = git_error_last();
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ws->err, sizeof ws->err, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof ws->err)
        snprintf(ws->err + n, sizeof ws->err - (size_t)n, ": %s",
                 e && e->message ? e->message : "unknown libgit2 error");
    return errno_of_git(gerr);
}

static const char *short_hex(char buf[WS_SHORT_HEX], const git_oid *id)
{
    return git_oid_tostr(buf, WS_SHORT_HEX, id);
}

/* ---- files (private: the seed copy and rm -rf need nothing more) --------- */

static int path_join(char out[PATH_MAX], const char *a, const char *b)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
    return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Whether a and b (absolute, normalized) are the same directory or one holds
 * the other: a worktree never goes there and job_end never removes it. */
static bool paths_overlap(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), l = la < lb ? la : lb;
    if (strncmp(a, b, l) != 0)
        return false;
    return a[l] == '\0' || b[l] == '\0' || a[l] == '/' || b[l] == '/';
}

/* mkdir -p. */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    struct stat st;
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -errno;
        if (c == '\0')
            break;
        *p = c;
    }
    if (stat(buf, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p) == 0 || errno == ENOENT ? 0 : -1;
}

/* rm -rf; 0 when path is absent. Symlinks are removed, never followed. */
static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return errno ? -errno : -EIO;
    return 0;
}

static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int empty = 1;
    if (!d)
        return -errno;
    while (empty && (de = readdir(d)) != NULL)
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    return empty;
}

static int write_text(struct aut_ws *ws, const char *path, const char *text)
{
    size_t len = strlen(text);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return ws_fail(ws, -errno, "seed: create %s: %s", path, strerror(errno));
    ssize_t n = write(fd, text, len);
    int rc = n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO);
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc ? ws_fail(ws, rc, "seed: write %s: %s", path, strerror(-rc)) : 0;
}

/* Copies the regular file src to the new file dst with src's permission bits
 * (the seed's scripts stay executable whatever the umask). */
static int copy_file(struct aut_ws *ws, const char *src, const char *dst, mode_t mode)
{
    char buf[65536];
    int rc = 0, out = -1, in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return ws_fail(ws, -errno, "seed: open %s: %s", src, strerror(errno));
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = ws_fail(ws, -errno, "seed: create %s: %s", dst, strerror(errno));
        goto fail;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = ws_fail(ws, -errno, "seed: read %s: %s", src, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0, w; off < n; off += w) {
            w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                w = 0;
            else if (w < 0) {
                rc = ws_fail(ws, -errno, "seed: write %s: %s", dst, strerror(errno));
                goto fail;
            }
        }
    }
    if (fchmod(out, mode & 0777) != 0)
        rc = ws_fail(ws, -errno, "seed: chmod %s: %s", dst, strerror(errno));
fail:
    if (out >= 0 && close(out) != 0 && rc == 0)
        rc = ws_fail(ws, -errno, "seed: close %s: %s", dst, strerror(errno));
    close(in);
    return rc;
}

static int copy_link(struct aut_ws *ws, const char *src, const char *dst)
{
    char target[PATH_MAX];
    ssize_t n = readlink(src, target, sizeof target - 1);
    if (n < 0)
        return ws_fail(ws, -errno, "seed: readlink %s: %s", src, strerror(errno));
    target[n] = '\0';
    if (symlink(target, dst) != 0)
        return ws_fail(ws, -errno, "seed: symlink %s: %s", dst, strerror(errno));
    return 0;
}

/* Whether a seed entry stays out of the workspace: build products and the
 * model (also named in .gitignore, but copying them would only waste space),
 * and any .git, which would make a copied directory a repository of its own. */
static bool seed_skips(const char *name, bool is_dir)
{
    static const char *const files[] = {"*.o", "*.d", "kernel.elf", "*.gguf"};
    if (strcmp(name, ".git") == 0)
        return true;
    if (is_dir)
        return strcmp(name, "build") == 0;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (fnmatch(files[i], name, 0) == 0)
            return true;
    return false;
}

static int seed_copy(struct aut_ws *ws, const char *src, const char *dst);

static int seed_entry(struct aut_ws *ws, const char *src, const char *dst, const char *name)
{
    char s[PATH_MAX], d[PATH_MAX];
    struct stat st;
    if (path_join(s, src, name) < 0 || path_join(d, dst, name) < 0)
        return ws_fail(ws, -ENAMETOOLONG, "seed: path too long: %s/%s", src, name);
    if (lstat(s, &st) != 0)
        return ws_fail(ws, -errno, "seed: stat %s: %s", s, strerror(errno));
    if (seed_skips(name, S_ISDIR(st.st_mode)))
        return 0;
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(d, 0755) != 0 && errno != EEXIST)
            return ws_fail(ws, -errno, "seed: mkdir %s: %s", d, strerror(errno));
        return seed_copy(ws, s, d);
    }
    if (S_ISREG(st.st_mode))
        return copy_file(ws, s, d, st.st_mode);
    if (S_ISLNK(st.st_mode))
        return copy_link(ws, s, d);
    return 0; /* fifos, sockets, devices: not source */
}

/* Copies the seed directory src into the existing directory dst. */
static int seed_copy(struct aut_ws *ws, const char *src, const char *dst)
{
    struct dirent *de;
    int rc = 0;
    DIR *d = opendir(src);
    if (!d)
        return ws_fail(ws, -errno, "seed: open directory %s: %s", src, strerror(errno));
    errno = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            rc = seed_entry(ws, src, dst, de->d_name);
        errno = 0;
    }
    if (rc == 0 && errno != 0)
        rc = ws_fail(ws, -errno, "seed: read directory %s: %s", src, strerror(errno));
    closedir(d);
    return rc;
}

/* ---- open / close ------------------------------------------------------ */

static int ws_signature(struct aut_ws *ws, const char *op, git_signature **sig)
{
    int e = git_signature_now(sig, ws->author_name, ws->author_email);
    return e < 0 ? ws_git_fail(ws, e, "%s: signature <%s>", op, ws->author_email) : 0;
}

/* Stages everything in dir (a new repository) and makes the root commit of main. */
static int seed_commit(struct aut_ws *ws, git_repository *repo, const char *seed)
{
    git_index *idx = NULL;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_strarray all = {NULL, 0};
    git_oid tree_id, id;
    char msg[PATH_MAX + 64];
    int rc = 0, e;

    if ((e = git_repository_index(&idx, repo)) < 0 ||
        (e = git_index_add_all(idx, &all, GIT_INDEX_ADD_DEFAULT, NULL, NULL)) < 0 ||
        (e = git_index_write(idx)) < 0 || (e = git_index_write_tree(&tree_id, idx)) < 0 ||
        (e = git_tree_lookup(&tree, repo, &tree_id)) < 0) {
        rc = ws_git_fail(ws, e, "seed: stage %s", git_repository_workdir(repo));
        goto fail;
    }
    if ((rc = ws_signature(ws, "seed", &sig)) < 0)
        goto fail;
    snprintf(msg, sizeof msg, "workspace: seeded from %s (%zu files)", seed,
             git_index_entrycount(idx));
    /* HEAD is the unborn main: updating HEAD creates refs/heads/main. */
    e = git_commit_create(&id, repo, "HEAD", sig, sig, NULL, msg, tree, 0, NULL);
    if (e < 0)
        rc = ws_git_fail(ws, e, "seed: commit in %s", git_repository_workdir(repo));
fail:
    git_signature_free(sig);
    git_tree_free(tree);
    git_index_free(idx);
    return rc;
}

/* Builds the workspace in a temporary directory beside path and renames it
 * into place, so a crash never leaves a half-seeded workspace that later
 * opens as a broken one. path does not exist or is an empty directory. */
static int ws_seed(struct aut_ws *ws, const char *path, const char *seed)
{
    git_repository_init_options io;
    git_repository *repo = NULL;
    char tmp[PATH_MAX], parent[PATH_MAX], real[PATH_MAX];
    struct stat st;
    int rc, e;

    if (stat(seed, &st) != 0 || !S_ISDIR(st.st_mode))
        return ws_fail(ws, -ENOENT, "seed: %s is not a directory", seed);
    if (snprintf(tmp, sizeof tmp, "%s.seed.XXXXXX", path) >= (int)sizeof tmp)
        return ws_fail(ws, -ENAMETOOLONG, "seed: path too long: %s", path);
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if ((rc = make_dirs(parent)) < 0)
            return ws_fail(ws, rc, "seed: mkdir %s: %s", parent, strerror(-rc));
    }
    if (!mkdtemp(tmp))
        return ws_fail(ws, -errno, "seed: mkdtemp %s: %s", tmp, strerror(errno));
    /* a workspace inside its seed would copy itself while it grows */
    if (!realpath(seed, parent) || !realpath(tmp, real) || paths_overlap(parent, real)) {
        rc = ws_fail(ws, -EINVAL, "seed: %s lies inside the seed %s", path, seed);
        goto fail;
    }
    git_repository_init_options_init(&io, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    io.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
    io.initial_head = "main";
    if ((e = git_repository_init_ext(&repo, tmp, &io)) < 0) {
        rc = ws_git_fail(ws, e, "seed: init repository %s", tmp);
        goto fail;
    }
    if ((rc = seed_copy(ws, seed, tmp)) < 0)
        goto fail;
    if ((rc = path_join(parent, tmp, ".gitignore")) < 0 ||
        (rc = write_text(ws, parent, ws_gitignore)) < 0)
        goto fail;
    if ((rc = seed_commit(ws, repo, seed)) < 0)
        goto fail;
    if (chmod(tmp, 0755) != 0 || rename(tmp, path) != 0)
        rc = ws_fail(ws, -errno, "seed: rename %s to %s: %s", tmp, path, strerror(errno));
fail:
    git_repository_free(repo);
    if (rc < 0)
        remove_tree(tmp);
    return rc;
}

/* Opens path as a workspace: a non-bare repository rooted there with main. */
static int ws_attach(struct aut_ws *ws, const char *path)
{
    git_oid id;
    int e = git_repository_open_ext(&ws->repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
    if (e < 0)
        return ws_git_fail(ws, e, "open workspace %s: not a git repository", path);
    if (git_repository_is_bare(ws->repo) || git_repository_is_worktree(ws->repo))
        return ws_fail(ws, -EINVAL, "open workspace %s: a bare repository or a worktree", path);
    if (!realpath(path, ws->path))
        return ws_fail(ws, -errno, "open workspace %s: %s", path, strerror(errno));
    if ((e = git_reference_name_to_id(&id, ws->repo, WS_MAIN_REF)) < 0)
        return ws_git_fail(ws, e, "open workspace %s: no branch main", path);
    return 0;
}

/* Seeds path when it is absent or empty, then attaches to it. */
static int ws_open(struct aut_ws *ws, const char *path, const struct aut_ws_opts *o)
{
    char p[PATH_MAX];
    struct stat st;
    int empty = 0, rc;
    size_t n = strlen(path);

    /* "ws/" would seed into "ws/.seed.XXXXXX", inside itself */
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof p)
        return ws_fail(ws, -EINVAL, "open workspace: bad path \"%s\"", path);
    memcpy(p, path, n);
    p[n] = '\0';
    bool exists = stat(p, &st) == 0;
    if (!exists && errno != ENOENT)
        return ws_fail(ws, -errno, "open workspace %s: %s", p, strerror(errno));
    if (exists && S_ISDIR(st.st_mode) && (empty = dir_is_empty(p)) < 0)
        return ws_fail(ws, empty, "open workspace %s: %s", p, strerror(-empty));
    if (!exists || empty) {
        if (!o || !o->seed_dir)
            return ws_fail(ws, -ENOENT, "open workspace %s: %s and no seed directory given", p,
                           empty ? "empty" : "does not exist");
        if ((rc = ws_seed(ws, p, o->seed_dir)) < 0)
            return rc;
    }
    return ws_attach(ws, p);
}

int aut_ws_open(const char *path, const struct aut_ws_opts *o, struct aut_ws **out, char *err,
                size_t errlen)
{
    int rc;
    struct aut_ws *ws = calloc(1, sizeof *ws);
    if (!ws) {
        if (err && errlen)
            snprintf(err, errlen, "open workspace: out of memory");
        return -ENOMEM;
    }
    const char *name = o && o->author_name ? o->author_name : "AUTON integrator";
    const char *email = o && o->author_email ? o->author_email : "integrator@auton.invalid";
    ws->author_name = strdup(name);
    ws->author_email = strdup(email);
    if (!ws->author_name || !ws->author_email) {
        rc = ws_fail(ws, -ENOMEM, "open workspace: out of memory");
        goto fail;
    }
    if ((rc = git_libgit2_init()) < 0) {
        rc = ws_git_fail(ws, rc, "open workspace: libgit2 init");
        goto fail;
    }
    ws->git_up = true;
    if (!path) {
        rc = ws_fail(ws, -EINVAL, "open workspace: no path");
        goto fail;
    }
    if ((rc = ws_open(ws, path, o)) < 0)
        goto fail;
    *out = ws;
    return 0;
fail:
    if (err && errlen)
        snprintf(err, errlen, "%s", ws->err);
    aut_ws_close(ws);
    return rc;
}

void aut_ws_close(struct aut_ws *ws)
{
    if (!ws)
        return;
    git_repository_free(ws->repo);
    if (ws->git_up)
        git_libgit2_shutdown();
    free(ws->author_email);
    free(ws->author_name);
    free(ws);
}

const char *aut_ws_error(const struct aut_ws *ws)
{
    return ws->err;
}

const char *aut_ws_path(const struct aut_ws *ws)
{
    return ws->path;
}

/* ---- reading ------------------------------------------------------------- */

/* Peels rev ("main", a branch, a tag or a hex id) to a commit; the caller
 * frees *out with git_commit_free. */
static int ws_commit_of(struct aut_ws *ws, const char *op, const char *rev, git_commit **out)
{
    git_object *obj = NULL, *peeled = NULL;
    if (!rev || !*rev)
        return ws_fail(ws, -EINVAL, "%s: no revision given", op);
    int e = git_revparse_single(&obj, ws->repo, rev);
    if (e == 0) {
        e = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
        git_object_free(obj);
    }
    if (e == GIT_EAMBIGUOUS || e == GIT_EINVALIDSPEC)
        e = GIT_ENOTFOUND; /* to the caller, a revision that names no one commit */
    if (e < 0)
        return ws_git_fail(ws, e, "%s: resolve %s", op, rev);
    *out = (git_commit *)peeled;
    return 0;
}

int aut_ws_main(struct aut_ws *ws, char oid[AUT_WS_OID_HEX])
{
    git_oid id;
    ws->err[0] = '\0';
    int e = git_reference_name_to_id(&id, ws->repo, WS_MAIN_REF);
    if (e < 0)
        return ws_git_fail(ws, e, "main: resolve %s", WS_MAIN_REF);
    git_oid_tostr(oid, AUT_WS_OID_HEX, &id);
    return 0;
}

int aut_ws_read(struct aut_ws *ws, const char *rev, const char *path, char **data, size_t *len)
{
    git_commit *c = NULL;
    git_tree *tree = NULL;
    git_tree_entry *te = NULL;
    git_blob *blob = NULL;
    int rc, e;

    ws->err[0] = '\0';
    if ((rc = ws_commit_of(ws, "read", rev, &c)) < 0)
        return rc;
    if ((e = git_commit_tree(&tree, c)) < 0 || (e = git_tree_entry_bypath(&te, tree, path)) < 0) {
        rc = ws_git_fail(ws, e, "read %s:%s", rev, path);
        goto fail;
    }
    if (git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
        rc = ws_fail(ws, -ENOENT, "read %s:%s: not a file", rev, path);
        goto fail;
    }
    if ((e = git_blob_lookup(&blob, ws->repo, git_tree_entry_id(te))) < 0) {
        rc = ws_git_fail(ws, e, "read %s:%s", rev, path);
        goto fail;
    }
    size_t n = (size_t)git_blob_rawsize(blob);
    char *buf = malloc(n + 1);
    if (!buf) {
        rc = ws_fail(ws, -ENOMEM, "read %s:%s: out of memory (%zu bytes)", rev, path, n);
        goto fail;
    }
    memcpy(buf, git_blob_rawcontent(blob), n);
    buf[n] = '\0';
    *data = buf;
    *len = n;
fail:
    git_blob_free(blob);
    git_tree_entry_free(te);
    git_tree_free(tree);
    git_commit_free(c);
    return rc;
}

/* ---- jobs ------------------------------------------------------------------ */

/* A job name becomes the branch "integration/<name>" and the directory
 * .git/worktrees/<name>: one valid ref component, so no slash. */
static int ws_job_branch(struct aut_ws *ws, const char *op, const char *name,
                         char branch[WS_BRANCH_MAX])
{
    int valid = 0;
    if (name && *name && !strchr(name, '/') &&
        snprintf(branch, WS_BRANCH_MAX, WS_BRANCH_PREFIX "%s", name) < WS_BRANCH_MAX &&
        git_branch_name_is_valid(&valid, branch) == 0 && valid)
        return 0;
    return ws_fail(ws, -EINVAL, "%s: invalid job name \"%s\"", op, name ? name : "(null)");
}

/* <commondir>/worktrees/<name>: where libgit2 registers the worktree. */
static int ws_job_regdir(struct aut_ws *ws, const char *name, char out[PATH_MAX])
{
    int n = snprintf(out, PATH_MAX, "%sworktrees/%s", git_repository_commondir(ws->repo), name);
    return n < 0 || n >= PATH_MAX ? ws_fail(ws, -ENAMETOOLONG, "job %s: path too long", name) : 0;
}

/* Resolves the future worktree dir into abs, creating its parent: it must not
 * exist, and must lie outside the workspace. */
static int ws_job_dir(struct aut_ws *ws, const char *dir, char abs[PATH_MAX])
{
    char parent[PATH_MAX], real[PATH_MAX];
    struct stat st;
    int rc;
    size_t n = dir ? strlen(dir) : 0;

    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof parent)
        return ws_fail(ws, -EINVAL, "job begin: bad directory \"%s\"", dir ? dir : "(null)");
    memcpy(parent, dir, n);
    parent[n] = '\0';
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : parent;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strcmp(base, "/") == 0)
        return ws_fail(ws, -EINVAL, "job begin: bad directory \"%s\"", dir);
    const char *up = !slash ? "." : slash == parent ? "/" : parent;
    if (slash)
        *slash = '\0';
    if ((rc = make_dirs(up)) < 0)
        return ws_fail(ws, rc, "job begin: mkdir %s: %s", up, strerror(-rc));
    if (!realpath(up, real))
        return ws_fail(ws, -errno, "job begin: resolve %s: %s", up, strerror(errno));
    if (snprintf(abs, PATH_MAX, "%s/%s", strcmp(real, "/") ? real : "", base) >= PATH_MAX)
        return ws_fail(ws, -ENAMETOOLONG, "job begin: path too long: %s", dir);
    if (lstat(abs, &st) == 0)
        return ws_fail(ws, -EEXIST, "job begin: %s exists", abs);
    if (paths_overlap(abs, ws->path))
        return ws_fail(ws, -EINVAL, "job begin: %s overlaps the workspace %s", abs, ws->path);
    return 0;
}

static int ws_job_undo(struct aut_ws *ws, const char *name, const char *dir);

int aut_ws_job_begin(struct aut_ws *ws, const char *name, const char *dir,
                     char base[AUT_WS_OID_HEX])
{
    git_worktree_add_options wo;
    git_commit *c = NULL;
    git_reference *br = NULL;
    git_worktree *wt = NULL;
    char branch[WS_BRANCH_MAX], abs[PATH_MAX], reg[PATH_MAX];
    struct stat st;
    int rc, e;

    ws->err[0] = '\0';
    if ((rc = ws_job_branch(ws, "job begin", name, branch)) < 0 ||
        (rc = ws_job_regdir(ws, name, reg)) < 0)
        return rc;
    if (lstat(reg, &st) == 0)
        return ws_fail(ws, -EEXIST, "job begin: worktree %s is registered (%s)", name, reg);
    if ((rc = ws_job_dir(ws, dir, abs)) < 0)
        return rc;
    if ((rc = ws_commit_of(ws, "job begin", WS_MAIN_REF, &c)) < 0)
        return rc;
    if ((e = git_branch_create(&br, ws->repo, branch, c, 0)) < 0) {
        rc = ws_git_fail(ws, e, "job begin: create branch %s", branch);
        goto fail;
    }
    /* the _init functions, not the _INIT macros: those leave fields out (-Wextra) */
    git_worktree_add_options_init(&wo, GIT_WORKTREE_ADD_OPTIONS_VERSION);
    wo.ref = br;
    wo.checkout_options.checkout_strategy = GIT_CHECKOUT_FORCE;
    if ((e = git_worktree_add(&wt, ws->repo, name, abs, &wo)) < 0) {
        rc = ws_git_fail(ws, e, "job begin: add worktree %s at %s", name, abs);
        char why[sizeof ws->err];
        memcpy(why, ws->err, sizeof why);
        git_reference_free(br);
        br = NULL;
        ws_job_undo(ws, name, abs); /* best effort; the add's failure is what is reported */
        memcpy(ws->err, why, sizeof why);
        goto fail;
    }
    git_oid_tostr(base, AUT_WS_OID_HEX, git_commit_id(c));
fail:
    git_worktree_free(wt);
    git_reference_free(br);
    git_commit_free(c);
    return rc;
}

/* Opens dir as a worktree of this workspace (not a checkout of some other
 * repository, and not the workspace itself). */
static int ws_open_worktree(struct aut_ws *ws, const char *dir, git_repository **out)
{
    char mine[PATH_MAX], theirs[PATH_MAX];
    git_repository *wr = NULL;
    int e = git_repository_open_ext(&wr, dir ? dir : "", GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
    if (e < 0)
        return ws_git_fail(ws, e, "commit: open worktree %s", dir ? dir : "(null)");
    if (!git_repository_is_worktree(wr) || !realpath(git_repository_commondir(wr), theirs) ||
        !realpath(git_repository_commondir(ws->repo), mine) || strcmp(mine, theirs) != 0) {
        git_repository_free(wr);
        return ws_fail(ws, -EINVAL, "commit: %s is not a worktree of %s", dir, ws->path);
    }
    *out = wr;
    return 0;
}

/* `git add -A` in the worktree wr at dir, plus the ignored paths in force;
 * writes the index and its tree. */
static int ws_stage(struct aut_ws *ws, git_repository *wr, const char *dir,
                    const char *const *force, git_oid *tree)
{
    git_index *idx = NULL;
    git_strarray all = {NULL, 0};
    char p[PATH_MAX];
    struct stat st;
    int rc = 0, e;

    /* add_all adds and updates; update_all stages the deletions */
    if ((e = git_repository_index(&idx, wr)) < 0 ||
        (e = git_index_add_all(idx, &all, GIT_INDEX_ADD_DEFAULT, NULL, NULL)) < 0 ||
        (e = git_index_update_all(idx, &all, NULL, NULL)) < 0) {
        rc = ws_git_fail(ws, e, "commit: stage %s", dir);
        goto fail;
    }
    for (size_t i = 0; force && force[i]; i++) {
        if (path_join(p, dir, force[i]) < 0 || lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            rc = ws_fail(ws, -ENOENT, "commit: force-add %s: no such file in %s", force[i], dir);
            goto fail;
        }
        /* add_bypath, unlike add_all, does not consult .gitignore */
        if ((e = git_index_add_bypath(idx, force[i])) < 0) {
            rc = ws_git_fail(ws, e, "commit: force-add %s in %s", force[i], dir);
            goto fail;
        }
    }
    if ((e = git_index_write(idx)) < 0 || (e = git_index_write_tree(tree, idx)) < 0)
        rc = ws_git_fail(ws, e, "commit: write index of %s", dir);
fail:
    git_index_free(idx);
    return rc;
}

int aut_ws_commit(struct aut_ws *ws, const char *dir, const char *message, const char *const *force,
                  char out[AUT_WS_OID_HEX])
{
    git_repository *wr = NULL;
    git_tree *tree = NULL;
    git_commit *parent = NULL;
    git_signature *sig = NULL;
    git_oid tree_id, head, id;
    int rc, e;

    ws->err[0] = '\0';
    if (!message)
        return ws_fail(ws, -EINVAL, "commit: no message");
    if ((rc = ws_open_worktree(ws, dir, &wr)) < 0)
        return rc;
    if ((rc = ws_stage(ws, wr, dir, force, &tree_id)) < 0)
        goto fail;
    if ((e = git_tree_lookup(&tree, wr, &tree_id)) < 0 ||
        (e = git_reference_name_to_id(&head, wr, "HEAD")) < 0 ||
        (e = git_commit_lookup(&parent, wr, &head)) < 0) {
        rc = ws_git_fail(ws, e, "commit: HEAD of %s", dir);
        goto fail;
    }
    if ((rc = ws_signature(ws, "commit", &sig)) < 0)
        goto fail;
    const git_commit *parents[1] = {parent};
    if ((e = git_commit_create(&id, wr, "HEAD", sig, sig, NULL, message, tree, 1, parents)) < 0) {
        rc = ws_git_fail(ws, e, "commit: in %s", dir);
        goto fail;
    }
    git_oid_tostr(out, AUT_WS_OID_HEX, &id);
fail:
    git_signature_free(sig);
    git_commit_free(parent);
    git_tree_free(tree);
    git_repository_free(wr);
    return rc;
}

/* Whether dir/.git is a gitlink to this workspace's .git/worktrees/<name>. */
static bool ws_is_job_dir(const char *dir, const char *name)
{
    char p[PATH_MAX], buf[PATH_MAX + 16], suffix[WS_BRANCH_MAX + 16];
    if (path_join(p, dir, ".git") < 0)
        return false;
    FILE *f = fopen(p, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* libgit2 writes "gitdir: <commondir>/worktrees/<name>/", git without the slash */
    while (n > 0 && strchr("\n\r /", buf[n - 1]))
        buf[--n] = '\0';
    size_t ls = (size_t)snprintf(suffix, sizeof suffix, "/worktrees/%s", name);
    return strncmp(buf, "gitdir: ", 8) == 0 && n >= ls && strcmp(buf + n - ls, suffix) == 0;
}

/* Removes the job's directory when it is one: its .git names the job's
 * registration, or it is empty (a crash right after libgit2's mkdir). An rm
 * -rf of anything else (a mistyped path) is refused. */
static int ws_job_rmdir(struct aut_ws *ws, const char *name, const char *dir)
{
    char abs[PATH_MAX];
    struct stat st;
    int rc;

    if (!dir || lstat(dir, &st) != 0) {
        if (!dir || errno == ENOENT)
            return 0;
        return ws_fail(ws, -errno, "job end: stat %s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return ws_fail(ws, -ENOTDIR, "job end: %s is not a directory", dir);
    if (!realpath(dir, abs))
        return ws_fail(ws, -errno, "job end: resolve %s: %s", dir, strerror(errno));
    if (paths_overlap(abs, ws->path))
        return ws_fail(ws, -EINVAL, "job end: %s overlaps the workspace %s", abs, ws->path);
    if (dir_is_empty(abs) != 1 && !ws_is_job_dir(abs, name))
        return ws_fail(ws, -EINVAL, "job end: %s is not the worktree of job %s; not removing it",
                       abs, name);
    if ((rc = remove_tree(abs)) < 0)
        return ws_fail(ws, rc, "job end: remove %s: %s", abs, strerror(-rc));
    return 0;
}

/* Drops the registration .git/worktrees/<name>. libgit2 1.5's lookup answers
 * -1 (not GIT_ENOTFOUND) both for a missing and for a half-written one, so
 * the directory is checked here and a broken one removed by hand. */
static int ws_job_unregister(struct aut_ws *ws, const char *name)
{
    git_worktree_prune_options po;
    git_worktree *wt = NULL;
    char reg[PATH_MAX];
    struct stat st;
    int rc, e;

    if ((rc = ws_job_regdir(ws, name, reg)) < 0)
        return rc;
    if (lstat(reg, &st) != 0)
        return errno == ENOENT ? 0 : ws_fail(ws, -errno, "job end: stat %s", reg);
    if (git_worktree_lookup(&wt, ws->repo, name) < 0) {
        if ((rc = remove_tree(reg)) < 0)
            return ws_fail(ws, rc, "job end: remove %s: %s", reg, strerror(-rc));
        return 0;
    }
    git_worktree_prune_options_init(&po, GIT_WORKTREE_PRUNE_OPTIONS_VERSION);
    po.flags =
        GIT_WORKTREE_PRUNE_VALID | GIT_WORKTREE_PRUNE_LOCKED | GIT_WORKTREE_PRUNE_WORKING_TREE;
    if ((e = git_worktree_prune(wt, &po)) < 0)
        rc = ws_git_fail(ws, e, "job end: prune worktree %s", name);
    git_worktree_free(wt);
    return rc;
}

/* Deletes the job's branch. Not git_branch_delete: in libgit2 1.5.1 it drops
 * the branch's config section through git_config_foreach_match, whose
 * regexp leaks a PCRE2 match block for every config entry that does not
 * match. Job branches never get a config section, so deleting the ref is
 * all git_branch_delete would do; its "checked out in a worktree" guard is
 * kept. */
static int ws_job_unbranch(struct aut_ws *ws, const char *branch)
{
    git_reference *br = NULL;
    int e = git_branch_lookup(&br, ws->repo, branch, GIT_BRANCH_LOCAL);
    if (e == GIT_ENOTFOUND)
        return 0;
    if (e == 0 && git_branch_is_checked_out(br) == 1) {
        git_reference_free(br);
        return ws_fail(ws, -EBUSY, "job end: branch %s is checked out in a worktree", branch);
    }
    if (e == 0)
        e = git_reference_delete(br);
    git_reference_free(br);
    return e < 0 ? ws_git_fail(ws, e, "job end: delete branch %s", branch) : 0;
}

/* Takes away whatever exists of the job, in the order that keeps each step
 * legal: the directory, its registration (a branch checked out in a
 * worktree cannot be deleted), then the branch. */
static int ws_job_undo(struct aut_ws *ws, const char *name, const char *dir)
{
    char branch[WS_BRANCH_MAX];
    int rc;
    if ((rc = ws_job_branch(ws, "job end", name, branch)) < 0 ||
        (rc = ws_job_rmdir(ws, name, dir)) < 0 || (rc = ws_job_unregister(ws, name)) < 0)
        return rc;
    return ws_job_unbranch(ws, branch);
}

int aut_ws_job_end(struct aut_ws *ws, const char *name, const char *dir)
{
    ws->err[0] = '\0';
    return ws_job_undo(ws, name, dir);
}

static int names_add(char ***v, size_t *n, size_t *cap, const char *s)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        char **nv = realloc(*v, c * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        *v = nv;
        *cap = c;
    }
    if (!((*v)[*n] = strdup(s)))
        return -ENOMEM;
    (*n)++;
    return 0;
}

static int names_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the names and drops duplicates (a job with both a branch and a worktree). */
static void names_unique(char **v, size_t *n)
{
    size_t k = 0;
    if (*n == 0)
        return;
    qsort(v, *n, sizeof *v, names_cmp);
    for (size_t i = 1; i < *n; i++) {
        if (strcmp(v[i], v[k]) == 0)
            free(v[i]);
        else
            v[++k] = v[i];
    }
    *n = k + 1;
}

/* Adds the names of branches "integration/<name>". */
static int ws_job_branches(struct aut_ws *ws, char ***v, size_t *n, size_t *cap)
{
    git_branch_iterator *it = NULL;
    git_reference *ref = NULL;
    git_branch_t type;
    const char *bn;
    size_t lp = strlen(WS_BRANCH_PREFIX);
    int rc = 0, e = git_branch_iterator_new(&it, ws->repo, GIT_BRANCH_LOCAL);

    while (e == 0 && rc == 0 && (e = git_branch_next(&ref, &type, it)) == 0) {
        if (git_branch_name(&bn, ref) == 0 && strncmp(bn, WS_BRANCH_PREFIX, lp) == 0)
            rc = names_add(v, n, cap, bn + lp);
        git_reference_free(ref);
    }
    git_branch_iterator_free(it);
    if (rc < 0)
        return ws_fail(ws, rc, "jobs: out of memory");
    return e < 0 && e != GIT_ITEROVER ? ws_git_fail(ws, e, "jobs: list branches") : 0;
}

int aut_ws_jobs(struct aut_ws *ws, char ***names, size_t *n)
{
    git_strarray wts = {NULL, 0};
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc, e;

    ws->err[0] = '\0';
    if ((rc = ws_job_branches(ws, &v, &cnt, &cap)) < 0)
        goto fail;
    if ((e = git_worktree_list(&wts, ws->repo)) < 0) {
        rc = ws_git_fail(ws, e, "jobs: list worktrees");
        goto fail;
    }
    for (size_t i = 0; i < wts.count && rc == 0; i++)
        if ((rc = names_add(&v, &cnt, &cap, wts.strings[i])) < 0)
            rc = ws_fail(ws, rc, "jobs: out of memory");
    git_strarray_dispose(&wts);
    if (rc < 0)
        goto fail;
    names_unique(v, &cnt);
    *names = v;
    *n = cnt;
    return 0;
fail:
    aut_ws_names_free(v, cnt);
    return rc;
}

void aut_ws_names_free(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- main, tags, history ----------------------------------------------------- */

/* Compare-and-swap of main from `from` to `to` (a descendant), with a reflog entry. */
static int ws_move_main(struct aut_ws *ws, git_commit *to, git_commit *from)
{
    git_reference *ref = NULL;
    git_oid at;
    char a[WS_SHORT_HEX], b[WS_SHORT_HEX], hex[AUT_WS_OID_HEX], msg[128];
    int e;

    if ((e = git_reference_name_to_id(&at, ws->repo, WS_MAIN_REF)) < 0)
        return ws_git_fail(ws, e, "advance main: resolve %s", WS_MAIN_REF);
    if (!git_oid_equal(&at, git_commit_id(from)))
        return ws_fail(ws, -ESTALE,
                       "advance main: main is at %s, expected %s (moved by someone else)",
                       short_hex(a, &at), short_hex(b, git_commit_id(from)));
    if (!git_oid_equal(git_commit_id(to), &at) &&
        (e = git_graph_descendant_of(ws->repo, git_commit_id(to), &at)) != 1) {
        if (e < 0)
            return ws_git_fail(ws, e, "advance main: ancestry of %s",
                               short_hex(a, git_commit_id(to)));
        return ws_fail(ws, -ESTALE, "advance main: %s does not descend from main %s",
                       short_hex(a, git_commit_id(to)), short_hex(b, &at));
    }
    snprintf(msg, sizeof msg, "advance main: fast-forward to %s",
             git_oid_tostr(hex, sizeof hex, git_commit_id(to)));
    /* _matching: main is rewritten only if it still is `at`, even if another
     * process moved it since the check above */
    e = git_reference_create_matching(&ref, ws->repo, WS_MAIN_REF, git_commit_id(to), 1, &at, msg);
    git_reference_free(ref);
    if (e == GIT_EMODIFIED)
        return ws_fail(ws, -ESTALE, "advance main: main moved while advancing from %s",
                       short_hex(a, &at));
    return e < 0 ? ws_git_fail(ws, e, "advance main: update %s", WS_MAIN_REF) : 0;
}

int aut_ws_advance_main(struct aut_ws *ws, const char *commit, const char *expected)
{
    git_checkout_options co;
    git_commit *to = NULL, *from = NULL;
    git_tree *old = NULL;
    char hex[WS_SHORT_HEX];
    int rc, e;

    ws->err[0] = '\0';
    if ((rc = ws_commit_of(ws, "advance main", commit, &to)) < 0 ||
        (rc = ws_commit_of(ws, "advance main", expected, &from)) < 0)
        goto fail;
    if ((e = git_commit_tree(&old, from)) < 0) {
        rc = ws_git_fail(ws, e, "advance main: tree of %s", expected);
        goto fail;
    }
    if ((rc = ws_move_main(ws, to, from)) < 0)
        goto fail;
    /* Forced, against the old tree as baseline: tracked files take the new
     * content and files the new commit deletes go; untracked and ignored
     * files (the model, kernel.elf) are not the checkout's to touch. */
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE;
    co.baseline = old;
    if ((e = git_checkout_head(ws->repo, &co)) < 0)
        rc = ws_git_fail(ws, e, "advance main: main is at %s but the checkout of %s failed",
                         short_hex(hex, git_commit_id(to)), ws->path);
fail:
    git_tree_free(old);
    git_commit_free(from);
    git_commit_free(to);
    return rc;
}

int aut_ws_tag(struct aut_ws *ws, const char *name, const char *commit, const char *message)
{
    git_commit *c = NULL;
    git_signature *sig = NULL;
    git_oid id;
    int rc, e;

    ws->err[0] = '\0';
    if (!name || !message)
        return ws_fail(ws, -EINVAL, "tag: no name or message");
    if ((rc = ws_commit_of(ws, "tag", commit, &c)) < 0)
        return rc;
    if ((rc = ws_signature(ws, "tag", &sig)) < 0)
        goto fail;
    e = git_tag_create(&id, ws->repo, name, (const git_object *)c, sig, message, 0);
    if (e == GIT_EEXISTS)
        rc = ws_fail(ws, -EEXIST, "tag %s: exists", name);
    else if (e < 0)
        rc = ws_git_fail(ws, e, "tag %s", name);
fail:
    git_signature_free(sig);
    git_commit_free(c);
    return rc;
}

/* Calls fn with the first line of c's message. */
static int ws_log_one(struct aut_ws *ws, git_commit *c,
                      void (*fn)(void *, const char *, const char *, long long), void *ud)
{
    char hex[AUT_WS_OID_HEX];
    const char *msg = git_commit_message(c);
    size_t n = msg ? strcspn(msg, "\n") : 0;
    char *line = malloc(n + 1);
    if (!line)
        return ws_fail(ws, -ENOMEM, "log: out of memory");
    if (n)
        memcpy(line, msg, n);
    line[n] = '\0';
    fn(ud, git_oid_tostr(hex, sizeof hex, git_commit_id(c)), line, (long long)git_commit_time(c));
    free(line);
    return 0;
}

int aut_ws_log(struct aut_ws *ws, size_t n,
               void (*fn)(void *ud, const char *oid, const char *summary, long long time), void *ud)
{
    git_revwalk *w = NULL;
    git_commit *c = NULL;
    git_oid id;
    int rc = 0, e;

    ws->err[0] = '\0';
    if ((e = git_revwalk_new(&w, ws->repo)) < 0 ||
        (e = git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME)) < 0 ||
        (e = git_revwalk_push_ref(w, WS_MAIN_REF)) < 0) {
        rc = ws_git_fail(ws, e, "log: walk %s", WS_MAIN_REF);
        goto fail;
    }
    git_revwalk_simplify_first_parent(w);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((e = git_revwalk_next(&id, w)) == GIT_ITEROVER)
            break;
        if (e < 0 || (e = git_commit_lookup(&c, ws->repo, &id)) < 0) {
            rc = ws_git_fail(ws, e, "log: walk %s", WS_MAIN_REF);
            goto fail;
        }
        rc = ws_log_one(ws, c, fn, ud);
        git_commit_free(c);
    }
fail:
    git_revwalk_free(w);
    return rc;
}

struct tags_at {
    git_repository *repo;
    const git_oid *target;
    char **names; /* matching tag names, short ("integrated/...") */
    size_t n, cap;
    int rc;
};

static int tags_at_visit(const char *name, git_oid *oid, void *payload)
{
    struct tags_at *t = payload;
    git_object *obj = NULL, *c = NULL;
    if (strncmp(name, WS_INTEGRATED_PREFIX, strlen(WS_INTEGRATED_PREFIX)) != 0)
        return 0;
    /* a tag that does not peel to a commit is simply not at this commit */
    if (git_object_lookup(&obj, t->repo, oid, GIT_OBJECT_ANY) == 0 &&
        git_object_peel(&c, obj, GIT_OBJECT_COMMIT) == 0 &&
        git_oid_equal(git_object_id(c), t->target))
        t->rc = names_add(&t->names, &t->n, &t->cap, name + strlen(WS_TAG_PREFIX));
    git_object_free(c);
    git_object_free(obj);
    return t->rc < 0 ? 1 : 0;
}

int aut_ws_tags_at(struct aut_ws *ws, const char *commit, void (*fn)(void *ud, const char *name),
                   void *ud)
{
    struct tags_at t = {.repo = ws->repo};
    git_commit *c = NULL;
    int rc, e;

    ws->err[0] = '\0';
    if ((rc = ws_commit_of(ws, "tags", commit, &c)) < 0)
        return rc;
    t.target = git_commit_id(c);
    e = git_tag_foreach(ws->repo, tags_at_visit, &t);
    if (t.rc < 0)
        rc = ws_fail(ws, t.rc, "tags at %s: out of memory", commit);
    else if (e < 0)
        rc = ws_git_fail(ws, e, "tags at %s", commit);
    else {
        names_unique(t.names, &t.n);
        for (size_t i = 0; i < t.n; i++)
            fn(ud, t.names[i]);
    }
    aut_ws_names_free(t.names, t.n);
    git_commit_free(c);
    return rc;
}

int aut_ws_dirty(struct aut_ws *ws, bool *dirty)
{
    git_status_options so;
    git_status_list *list = NULL;
    const unsigned changed = GIT_STATUS_INDEX_NEW | GIT_STATUS_INDEX_MODIFIED |
                             GIT_STATUS_INDEX_DELETED | GIT_STATUS_INDEX_RENAMED |
                             GIT_STATUS_INDEX_TYPECHANGE | GIT_STATUS_WT_MODIFIED |
                             GIT_STATUS_WT_DELETED | GIT_STATUS_WT_TYPECHANGE |
                             GIT_STATUS_WT_RENAMED | GIT_STATUS_CONFLICTED;
    bool d = false;

    ws->err[0] = '\0';
    /* no untracked or ignored files: only tracked ones count */
    git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
    so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    so.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    int e = git_status_list_new(&list, ws->repo, &so);
    if (e < 0)
        return ws_git_fail(ws, e, "dirty: status of %s", ws->path);
    for (size_t i = 0, n = git_status_list_entrycount(list); i < n && !d; i++)
        d = (git_status_byindex(list, i)->status & changed) != 0;
    git_status_list_free(list);
    *dirty = d;
    return 0;
}
