/*
 * mapfile.c - read-only whole-file mappings (see mapfile.h).
 */
#include "mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int aut_mapfile_open(struct aut_mapfile *m, const char *path, char *errbuf, size_t errlen)
{
    struct stat st;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        rc = -errno;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        snprintf(errbuf, errlen, "%s: not a regular file", path);
        close(fd);
        return rc;
    }
    void *p = NULL;
    if (st.st_size > 0) {
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            rc = -errno;
            goto fail;
        }
    }
    close(fd);
    m->data = p;
    m->size = (size_t)st.st_size;
    return 0;
fail:
    snprintf(errbuf, errlen, "%s: %s", path, strerror(-rc));
    if (fd >= 0)
        close(fd);
    return rc;
}

void aut_mapfile_close(struct aut_mapfile *m)
{
    if (m->data)
        munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}
