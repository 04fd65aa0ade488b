/*
 * fsutil.c - atomic file output (a hidden temporary beside the target,
 * fsync, rename, fsync of the directory), whole-file reads with a size cap,
 * mkdir -p and an rm -rf that never follows symbolic links (see fsutil.h).
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_CHUNK (1u << 20)

int aut_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int aut_fs_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < errlen)
            snprintf(err + n, errlen - (size_t)n, ": %s", strerror(-rc));
    }
    return rc;
}

/* The directory part of path ("." for a bare name, "/" for "/x"). */
static int dir_of(const char *path, char dir[PATH_MAX])
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(dir, PATH_MAX, ".") < 0 ? -EINVAL : 0;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= PATH_MAX)
        return -ENAMETOOLONG;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return 0;
}

/* fsync of the directory holding path, so the rename itself is durable
 * (best effort: the file's own data is already on disk). */
static void sync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    if (dir_of(path, dir) < 0)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Creates "<dir of path>/.<name>.XXXXXX" with the given mode; the name goes
 * to tmp. Returns the fd or -errno. */
static int open_temp(const char *path, mode_t mode, char tmp[PATH_MAX])
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int rc = dir_of(path, dir);
    if (rc < 0)
        return rc;
    if (!*base)
        return -EISDIR;
    if (snprintf(tmp, PATH_MAX, "%s/.%s.XXXXXX", dir, base) >= PATH_MAX)
        return -ENAMETOOLONG;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, mode) < 0) {
        rc = -errno;
        close(fd);
        unlink(tmp);
        return rc;
    }
    return fd;
}

int aut_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The second half of an atomic write: fsync and close the temporary, rename
 * it over path, sync the directory. Closes fd and removes tmp on failure. */
static int commit_temp(int fd, const char *tmp, const char *path, char *err, size_t errlen)
{
    int rc = 0;
    if (fsync(fd) < 0)
        rc = aut_fs_fail(err, errlen, -errno, "fsync %s", tmp);
    if (close(fd) < 0 && !rc)
        rc = aut_fs_fail(err, errlen, -errno, "close %s", tmp);
    if (!rc && rename(tmp, path) < 0)
        rc = aut_fs_fail(err, errlen, -errno, "rename %s to %s", tmp, path);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    sync_dir_of(path);
    return 0;
}

/* Copies all of in to out in COPY_CHUNK blocks. */
static int copy_fd(int in, int out)
{
    char *buf = malloc(COPY_CHUNK);
    int rc = buf ? 0 : -ENOMEM;
    while (!rc) {
        ssize_t got = read(in, buf, COPY_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = got < 0 ? -errno : 0;
            break;
        }
        rc = aut_write_all(out, buf, (size_t)got);
    }
    free(buf);
    return rc;
}

int aut_copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    struct stat st;
    int rc, out, in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return aut_fs_fail(err, errlen, -errno, "open %s", src);
    if (fstat(in, &st) < 0) {
        rc = aut_fs_fail(err, errlen, -errno, "stat %s", src);
        goto fail_in;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = aut_fs_fail(err, errlen, -EISDIR, "copy %s", src);
        goto fail_in;
    }
    if ((rc = dir_of(dst, dir)) < 0 || (rc = aut_mkdirs(dir, 0755)) < 0) {
        rc = aut_fs_fail(err, errlen, rc, "create the directory of %s", dst);
        goto fail_in;
    }
    if ((out = open_temp(dst, st.st_mode & 0777, tmp)) < 0) {
        rc = aut_fs_fail(err, errlen, out, "create a temporary beside %s", dst);
        goto fail_in;
    }
    if ((rc = copy_fd(in, out)) < 0) {
        aut_fs_fail(err, errlen, rc, "copy %s to %s", src, tmp);
        close(out);
        unlink(tmp);
        goto fail_in;
    }
    rc = commit_temp(out, tmp, dst, err, errlen);
fail_in:
    close(in);
    return rc;
}

int aut_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    int fd = open_temp(path, 0644, tmp);
    if (fd < 0)
        return aut_fs_fail(err, errlen, fd, "create a temporary beside %s", path);
    int rc = aut_write_all(fd, data, len);
    if (rc < 0) {
        aut_fs_fail(err, errlen, rc, "write %s", tmp);
        close(fd);
        unlink(tmp);
        return rc;
    }
    return commit_temp(fd, tmp, path, err, errlen);
}

/* Reads fd to EOF into a growing buffer, failing with -EFBIG past max. */
static int read_fd(int fd, size_t max, size_t hint, char **data, size_t *len)
{
    if (max > SIZE_MAX / 2)
        max = SIZE_MAX / 2; /* keeps max + 1 and the doubling below from wrapping */
    size_t cap = (hint < max ? hint : max) + 1, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (n + 1 == cap) {
            if (n >= max) { /* full at the cap: one more byte means too big */
                char probe;
                ssize_t k = read(fd, &probe, 1);
                if (k < 0 && errno == EINTR)
                    continue;
                if (k == 0)
                    break;
                free(buf);
                return k < 0 ? -errno : -EFBIG;
            }
            size_t ncap = cap - 1 > max / 2 ? max + 1 : 2 * (cap - 1) + 1;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int rc = -errno;
            free(buf);
            return rc;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int aut_read_file(const char *path, size_t max, char **data, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    int rc, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return aut_fs_fail(err, errlen, -errno, "open %s", path);
    if (fstat(fd, &st) < 0) {
        rc = aut_fs_fail(err, errlen, -errno, "stat %s", path);
    } else if (S_ISDIR(st.st_mode)) {
        rc = aut_fs_fail(err, errlen, -EISDIR, "read %s", path);
    } else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
        rc = aut_fs_fail(err, errlen, -EFBIG, "read %s (%lld bytes, at most %zu allowed)", path,
                         (long long)st.st_size, max);
    } else {
        /* st_size is only a hint: the file may grow, and /proc files report 0 */
        size_t hint = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size : 4096;
        rc = read_fd(fd, max, hint, &buf, &n);
        if (rc == -EFBIG)
            aut_fs_fail(err, errlen, rc, "read %s (more than %zu bytes)", path, max);
        else if (rc < 0)
            aut_fs_fail(err, errlen, rc, "read %s", path);
    }
    close(fd);
    if (rc < 0)
        return rc;
    *data = buf;
    if (len)
        *len = n;
    return 0;
}

/* mkdir that accepts an existing directory (or a link to one). */
static int mkdir_one(const char *path, unsigned mode)
{
    struct stat st;
    if (mkdir(path, (mode_t)mode) == 0)
        return 0;
    int rc = -errno;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    return rc;
}

int aut_mkdirs(const char *path, unsigned mode)
{
    char p[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0)
        return -EINVAL;
    if (n >= sizeof p)
        return -ENAMETOOLONG;
    memcpy(p, path, n + 1);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/' || s[-1] == '/')
            continue;
        *s = '\0';
        int rc = mkdir_one(p, mode);
        *s = '/';
        if (rc < 0)
            return rc;
    }
    return mkdir_one(p, mode);
}

/* nftw callback: post-order (FTW_DEPTH), links themselves (FTW_PHYS). Returns
 * a positive errno to stop the walk, since nftw's own failure is -1. */
static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    int r = type == FTW_DP || type == FTW_DNR ? rmdir(path) : unlink(path);
    if (r < 0 && errno != ENOENT)
        return errno;
    return 0;
}

int aut_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    errno = 0;
    int r = nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
    if (r > 0)
        return -r;
    if (r < 0)
        return errno ? -errno : -EIO;
    return 0;
}
