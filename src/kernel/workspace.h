/*
 * workspace.h - the kernel workspace: one git repository per architecture,
 * seeded from kernel-tree/, that the pipeline commits to. The only module
 * that uses libgit2 (no `git` subprocess anywhere).
 *
 * Layout: <path> is a normal (non-bare) repository whose branch "main" is
 * checked out in <path> itself. Each job works on a branch
 * "integration/<job>" checked out in a git worktree of its own (a directory
 * outside <path>, registered under <path>/.git/worktrees/<job>), so main and
 * its checkout are never touched by a job in progress. main moves only by
 * aut_ws_advance_main (a fast-forward to a job's commit), which also updates
 * the checkout in <path> (tracked files only; ignored files such as the
 * embedded .gguf and kernel.elf are left alone).
 *
 * Errors: every function returns 0, or a negative value with a message in
 * the workspace's error buffer (aut_ws_error) that names the operation, the
 * path or ref, and libgit2's own message, e.g.
 *   "advance main: main is at 1a2b3c4, expected 5d6e7f8 (moved by someone else)".
 * -ENOENT: no such ref/path/worktree; -EEXIST: already exists; -ESTALE: main
 * moved; -EIO: any other libgit2 failure.
 *
 * Not thread-safe: one thread uses one aut_ws at a time (the pipeline allows
 * one job per workspace).
 */
#ifndef AUTON_KERNEL_WORKSPACE_H
#define AUTON_KERNEL_WORKSPACE_H

#include <stdbool.h>
#include <stddef.h>

#define AUT_WS_OID_HEX 41 /* 40 hex digits + NUL */

struct aut_ws;

struct aut_ws_opts {
    const char *seed_dir;     /* kernel-tree/ to seed a new workspace from (NULL: open only) */
    const char *author_name;  /* NULL: "AUTON integrator" */
    const char *author_email; /* NULL: "integrator@auton.invalid" */
};

/*
 * Opens the workspace at path, creating it first when path does not exist or
 * is an empty directory and o->seed_dir is set: the seed's files are copied
 * (skipping, at any depth, directories named "build" and files matching
 * "*.o", "*.d", "kernel.elf", "*.gguf"), a .gitignore is written:
 *     /build/
 *     /kernel.elf
 *     *.o
 *     *.d
 *     (every .gguf under /kernel/slm/models/)
 * and everything is committed as the root commit of "main" with the message
 * "workspace: seeded from <seed_dir> (<N> files)"; HEAD points at main.
 * A path that exists but is not such a repository (or lacks main) is an
 * error. Returns 0 and *out, or negative (message in err, which may be NULL).
 */
int aut_ws_open(const char *path, const struct aut_ws_opts *o, struct aut_ws **out, char *err,
                size_t errlen);
void aut_ws_close(struct aut_ws *ws);
const char *aut_ws_error(const struct aut_ws *ws); /* the last error message, "" if none */
const char *aut_ws_path(const struct aut_ws *ws);  /* absolute */

/* main's commit id (hex) into oid. */
int aut_ws_main(struct aut_ws *ws, char oid[AUT_WS_OID_HEX]);

/* Reads a file of a commit ("main", a branch name, or a hex id) into a
 * malloc'ed, NUL-terminated buffer (*len excludes the NUL). -ENOENT when the
 * commit has no such file. */
int aut_ws_read(struct aut_ws *ws, const char *rev, const char *path, char **data, size_t *len);

/* Creates branch "integration/<name>" at main and a worktree named name
 * checked out in dir (which must not exist; its parent is created). base
 * receives main's commit. -EEXIST if the branch or worktree exists. */
int aut_ws_job_begin(struct aut_ws *ws, const char *name, const char *dir,
                     char base[AUT_WS_OID_HEX]);

/* Stages everything in the worktree dir like `git add -A` (new, modified and
 * deleted files; ignored files are skipped except those listed in force,
 * a NULL-terminated list of paths relative to dir, may be NULL) and commits
 * on the worktree's branch with message. out receives the new commit. A
 * commit with no changes is still made (the integration is recorded). */
int aut_ws_commit(struct aut_ws *ws, const char *dir, const char *message,
                  const char *const *force, char out[AUT_WS_OID_HEX]);

/* Moves main to commit, which must have main's current commit (expected)
 * as an ancestor (-ESTALE otherwise: main moved). Then updates the
 * checkout in the workspace directory to the new main (forced, tracked
 * files only). */
int aut_ws_advance_main(struct aut_ws *ws, const char *commit, const char *expected);

/* An annotated tag name -> commit with message. -EEXIST if it exists. */
int aut_ws_tag(struct aut_ws *ws, const char *name, const char *commit, const char *message);

/* Removes the worktree name (its directory dir, recursively, and its
 * registration) and deletes branch "integration/<name>". Idempotent: parts
 * already gone are fine. Returns 0 when nothing of the job is left. */
int aut_ws_job_end(struct aut_ws *ws, const char *name, const char *dir);

/* Names of jobs that still have an "integration/<name>" branch or a
 * registered worktree (leftovers of a crash). *names is a malloc'ed array of
 * malloc'ed strings; free with aut_ws_names_free. */
int aut_ws_jobs(struct aut_ws *ws, char ***names, size_t *n);
void aut_ws_names_free(char **names, size_t n);

/* The last n commits of main, newest first: calls fn(ud, hex, summary, time)
 * for each (summary: the message's first line; time: seconds since epoch). */
int aut_ws_log(struct aut_ws *ws, size_t n,
               void (*fn)(void *ud, const char *oid, const char *summary, long long time),
               void *ud);

/* Tags named "integrated/..." pointing at commit (hex) -> fn(ud, name). */
int aut_ws_tags_at(struct aut_ws *ws, const char *commit, void (*fn)(void *ud, const char *name),
                   void *ud);

/* True when the checkout of main in the workspace directory has tracked
 * files that differ from main (modified, deleted or staged changes). */
int aut_ws_dirty(struct aut_ws *ws, bool *dirty);

#endif
