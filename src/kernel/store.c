/*
 * store.c - the content-addressed model store (see store.h): files are
 * hashed with SHA-256 (sha256.h's aut_sha256_fd) in 1 MiB blocks while
 * they are copied into a temporary in <root>/sha256/, then renamed to
 * <hex>.gguf.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "sha256.h"

int aut_file_sha256(const char *path, char hex[AUT_SHA256_HEX], uint64_t *size, char *err,
                    size_t errlen)
{
    char h[AUT_SHA256_HEX];
    uint64_t n = 0;
    int werr, rc, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return aut_fs_fail(err, errlen, -errno, "open %s", path);
    rc = aut_sha256_fd(fd, -1, h, &n, &werr);
    close(fd);
    if (rc < 0)
        return aut_fs_fail(err, errlen, rc, "hash %s", path);
    memcpy(hex, h, sizeof h);
    if (size)
        *size = n;
    return 0;
}

/* Whether path is a regular file of exactly size bytes. */
static int present(const char *path, uint64_t size)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

/* Moves the finished temporary into place as final (fsync, rename, fsync of
 * the directory), unless final already holds the same bytes count: then the
 * temporary is dropped. Always consumes fd and tmp. */
static int settle(int fd, const char *tmp, const char *final, const char *dir, uint64_t size,
                  char *err, size_t errlen)
{
    int rc = 0;
    if (present(final, size)) {
        close(fd);
        unlink(tmp);
        return 0;
    }
    if (fchmod(fd, 0644) < 0 || fsync(fd) < 0)
        rc = aut_fs_fail(err, errlen, -errno, "sync %s", tmp);
    if (close(fd) < 0 && !rc)
        rc = aut_fs_fail(err, errlen, -errno, "close %s", tmp);
    if (!rc && rename(tmp, final) < 0)
        rc = aut_fs_fail(err, errlen, -errno, "rename %s to %s", tmp, final);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* best effort: the file's own data is already on disk */
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* Copies in to a new temporary in dir while hashing; the temporary's name
 * goes to tmp, its fd to *out. Removes it on failure. */
static int copy_in(int in, const char *src, const char *dir, char tmp[PATH_MAX], int *out,
                   char hex[AUT_SHA256_HEX], uint64_t *size, char *err, size_t errlen)
{
    int werr, rc, fd;
    if (snprintf(tmp, PATH_MAX, "%s/.put.XXXXXX", dir) >= PATH_MAX)
        return aut_fs_fail(err, errlen, -ENAMETOOLONG, "store in %s", dir);
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
        return aut_fs_fail(err, errlen, -errno, "create a temporary in %s", dir);
    rc = aut_sha256_fd(in, fd, hex, size, &werr);
    if (rc < 0) {
        if (werr)
            aut_fs_fail(err, errlen, rc, "write %s", tmp);
        else
            aut_fs_fail(err, errlen, rc, "read %s", src);
        close(fd);
        unlink(tmp);
        return rc;
    }
    *out = fd;
    return 0;
}

int aut_store_put(const char *root, const char *src, char hex[AUT_SHA256_HEX], uint64_t *size,
                  char *stored, char *err, size_t errlen)
{
    char dir[PATH_MAX], tmp[PATH_MAX], final[PATH_MAX], h[AUT_SHA256_HEX];
    struct stat st;
    uint64_t n = 0;
    int rc, out = -1, in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return aut_fs_fail(err, errlen, -errno, "open %s", src);
    if (fstat(in, &st) < 0) {
        rc = aut_fs_fail(err, errlen, -errno, "stat %s", src);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = aut_fs_fail(err, errlen, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
                  "store %s (not a regular file)", src);
        goto fail;
    }
    /* <dir>/<64 hex>.gguf must fit, and the temporary's name is shorter */
    if (snprintf(dir, sizeof dir, "%s/sha256", root) >= (int)sizeof dir - 70) {
        rc = aut_fs_fail(err, errlen, -ENAMETOOLONG, "store in %s", root);
        goto fail;
    }
    if ((rc = aut_mkdirs(dir, 0755)) < 0) {
        aut_fs_fail(err, errlen, rc, "create %s", dir);
        goto fail;
    }
    if ((rc = copy_in(in, src, dir, tmp, &out, h, &n, err, errlen)) < 0)
        goto fail;
    if (snprintf(final, sizeof final, "%s/%s.gguf", dir, h) >= (int)sizeof final) {
        close(out); /* not reached: dir was checked to leave room */
        unlink(tmp);
        rc = aut_fs_fail(err, errlen, -ENAMETOOLONG, "store in %s", dir);
        goto fail;
    }
    if ((rc = settle(out, tmp, final, dir, n, err, errlen)) < 0)
        goto fail;
    memcpy(hex, h, sizeof h);
    if (size)
        *size = n;
    if (stored)
        memcpy(stored, final, strlen(final) + 1);
fail:
    close(in);
    return rc;
}

/* 64 lowercase hex digits: anything else could name a path outside the store. */
static int valid_hex(const char *hex)
{
    size_t i = 0;
    for (; hex[i]; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return 0;
    return i == 64;
}

int aut_store_path(const char *root, const char *hex, char *path)
{
    struct stat st;
    if (snprintf(path, PATH_MAX, "%s/sha256/%s.gguf", root, hex) >= PATH_MAX)
        return -ENAMETOOLONG;
    if (!valid_hex(hex))
        return -EINVAL;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -ENOENT;
}
