/*
 * fsutil.h - small file helpers for the host programs: atomic writes and
 * copies (temporary file beside the target, fsync, rename: a crash never
 * leaves a half-written file under the final name), whole-file reads,
 * mkdir -p and rm -rf. Errors: 0 or -errno, with a message naming the path
 * in err (err may be NULL).
 */
#ifndef AUTON_COMMON_FSUTIL_H
#define AUTON_COMMON_FSUTIL_H

#include <stddef.h>

/* Copies a file to dst atomically (a temporary beside dst, fsync, rename),
 * creating dst's parent directories. Returns 0 or -errno with err set. */
int aut_copy_file(const char *src, const char *dst, char *err, size_t errlen);

/* Writes len bytes to path atomically (temporary beside it, fsync, rename). */
int aut_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* Reads a whole file (at most max bytes, else -EFBIG) into a malloc'ed,
 * NUL-terminated buffer. */
int aut_read_file(const char *path, size_t max, char **data, size_t *len, char *err, size_t errlen);

/* mkdir -p; rm -rf (no error if absent). Return 0 or -errno. */
int aut_mkdirs(const char *path, unsigned mode);
int aut_rmtree(const char *path);

/* write(2) of all n bytes, retrying short writes and EINTR. 0 or -errno. */
int aut_write_all(int fd, const void *data, size_t n);

/* Formats fmt into err (which may be NULL, or errlen 0) and returns rc: the
 * error convention of the host modules (0 or negative, with a message that
 * names what was wrong). */
int aut_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Formats "<what>: <strerror(-rc)>" into err (which may be NULL); returns rc.
 * The error convention of this file and of the modules built on it. */
int aut_fs_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
