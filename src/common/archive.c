/*
 * archive.c - tar archives through libarchive (see archive.h). A bundle is
 * read header by header and every entry is judged before a byte of it lands;
 * files are then created by hand under dest (never archive_write_disk, so no
 * libarchive option decides what is safe). Artifacts go out as a zstd pax
 * archive written beside its final name and renamed into place.
 */
#include "archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libarchive's own archive.h: the Makefile puts the project's headers on the
 * -iquote path, so <archive.h> is never this module's "archive.h". */
#include <archive.h>
#include <archive_entry.h>

#include "fsutil.h"

#ifndef ARCHIVE_VERSION_NUMBER
#error "libarchive's archive.h was not included"
#endif

#define MAX_ENTRIES 64
#define MAX_NAME 255
#define READ_BLOCK (1u << 16)
#define WRITE_CHUNK (1u << 16)

/* One extraction. names[] holds every entry's name without "." or empty
 * components (what reaches the disk); files[] indexes the regular files. */
struct extract {
    struct archive *a;
    const char *base; /* the bundle's file name, for messages */
    int fd;           /* the bundle */
    int dirfd;        /* dest: every path is resolved from here */
    uint64_t max_bytes;
    uint64_t total;   /* file bytes written so far */
    unsigned entries; /* headers read so far */
    unsigned nnames, nfiles;
    char names[MAX_ENTRIES][MAX_NAME + 1];
    unsigned files[MAX_ENTRIES];
    char *err;
    size_t errlen;
};

bool aut_archive_is_bundle(const char *name)
{
    static const char *const suffixes[] = {".tar", ".tar.gz", ".tgz", ".tar.zst"};
    size_t n = name ? strlen(name) : 0;
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t k = strlen(suffixes[i]);
        if (n >= k && !strcmp(name + n - k, suffixes[i]))
            return true;
    }
    return false;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static const char *aerr(struct archive *a)
{
    const char *s = archive_error_string(a);
    return s ? s : "unknown libarchive error";
}

/* "bundle <base>: entry '<entry>': <why>" (or without the entry) into err.
 * Returns -1, so that a refusal is one return statement. */
__attribute__((format(printf, 3, 4))) static int refuse(struct extract *x, const char *entry,
                                                        const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (x->err && x->errlen && entry)
        snprintf(x->err, x->errlen, "bundle %s: entry '%s': %s", x->base, entry, why);
    else if (x->err && x->errlen)
        snprintf(x->err, x->errlen, "bundle %s: %s", x->base, why);
    return -1;
}

/* Copies raw (at most MAX_NAME bytes) to out without "." and empty
 * components. Returns NULL, or why the name is refused. */
static const char *normalize(const char *raw, char out[MAX_NAME + 1])
{
    size_t n = 0;
    if (raw[0] == '/')
        return "an absolute path";
    for (const char *p = raw; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return "a '..' path component";
        if (len && !(len == 1 && p[0] == '.')) {
            if (n)
                out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
        }
        p += len + (p[len] == '/');
    }
    out[n] = '\0';
    return NULL;
}

/* Why an entry of this type is refused, or NULL for a file or directory.
 * Links first: a hard link's type reads as a regular file. */
static const char *type_refusal(struct archive_entry *e)
{
    if (archive_entry_hardlink(e))
        return "a hard link";
    if (archive_entry_symlink(e))
        return "a symbolic link";
    switch (archive_entry_filetype(e)) {
    case AE_IFREG:
    case AE_IFDIR:
        return NULL;
    case AE_IFLNK:
        return "a symbolic link";
    case AE_IFCHR:
    case AE_IFBLK:
        return "a device";
    case AE_IFIFO:
        return "a FIFO";
    case AE_IFSOCK:
        return "a socket";
    default:
        return "neither a regular file nor a directory";
    }
}

/* Every refusal a header alone decides; records the entry's name in x.
 * norm gets the name as it will be created ("" for dest itself). */
static int check_header(struct extract *x, struct archive_entry *e, const char *raw,
                        char norm[MAX_NAME + 1])
{
    const char *why;
    bool dir = archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e);
    int64_t size = archive_entry_size(e);
    if (++x->entries > MAX_ENTRIES)
        return refuse(x, raw, "more than %d entries", MAX_ENTRIES);
    if (strlen(raw) > MAX_NAME)
        return refuse(x, raw, "a name over %d bytes", MAX_NAME);
    if ((why = normalize(raw, norm)) || (why = type_refusal(e)))
        return refuse(x, raw, "%s", why);
    if (!norm[0])
        return dir ? 0 : refuse(x, raw, "a file without a name");
    for (unsigned i = 0; i < x->nnames; i++)
        if (!strcmp(x->names[i], norm))
            return refuse(x, raw, "a duplicate name");
    if (!dir && (size < 0 || (uint64_t)size > x->max_bytes))
        return refuse(x, raw, "%lld bytes, over the limit of %llu", (long long)size,
                      (unsigned long long)x->max_bytes);
    if (!dir && (uint64_t)size > x->max_bytes - x->total)
        return refuse(x, raw, "the bundle's files come to over %llu bytes",
                      (unsigned long long)x->max_bytes);
    memcpy(x->names[x->nnames], norm, strlen(norm) + 1);
    if (!dir)
        x->files[x->nfiles++] = x->nnames;
    x->nnames++;
    return 0;
}

/* Opens the directory that holds the last component of name (a normalized
 * name), creating the ones before it (0755) from dirfd; *leaf points into
 * name. Returns an fd or -errno. Nothing under dest is a link, and the walk
 * would not follow one if it were (O_NOFOLLOW). */
static int open_parent(int dirfd, const char *name, const char **leaf)
{
    char part[MAX_NAME + 1];
    const char *p = name, *slash;
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    while (fd >= 0 && (slash = strchr(p, '/'))) {
        memcpy(part, p, (size_t)(slash - p));
        part[slash - p] = '\0';
        int next = -1, rc = 0;
        if (mkdirat(fd, part, 0755) < 0 && errno != EEXIST)
            rc = -errno;
        else if ((next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
            rc = -errno;
        close(fd);
        if (rc < 0)
            return rc;
        fd = next;
        p = slash + 1;
    }
    if (fd < 0)
        return -errno;
    *leaf = p;
    return fd;
}

static int make_dir(struct extract *x, const char *raw, const char *name)
{
    const char *leaf;
    struct stat st;
    int rc = 0, pfd = open_parent(x->dirfd, name, &leaf);
    if (pfd < 0)
        return refuse(x, raw, "create its directory: %s", strerror(-pfd));
    if (mkdirat(pfd, leaf, 0755) < 0) {
        rc = errno;
        /* already made for an earlier entry's path ("d/f" before "d/") */
        if (rc == EEXIST && fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode))
            rc = 0;
    }
    close(pfd);
    return rc ? refuse(x, raw, "create: %s", strerror(rc)) : 0;
}

/* Streams the entry's data into fd. Every block is held against max_bytes
 * as it arrives, and the total against the header: the limit never rests on
 * what a header claims. */
static int copy_data(struct extract *x, const char *raw, int fd, int64_t declared)
{
    uint64_t done = 0;
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(x->a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK)
            return refuse(x, raw, "read: %s", aerr(x->a));
        if (off < 0 || (uint64_t)off != done)
            return refuse(x, raw, "a sparse file");
        if (len > x->max_bytes - x->total)
            return refuse(x, raw, "more than %llu bytes of data", (unsigned long long)x->max_bytes);
        int rc = aut_write_all(fd, buf, len);
        if (rc < 0)
            return refuse(x, raw, "write: %s", strerror(-rc));
        done += len;
        x->total += len;
    }
    if (done != (uint64_t)declared)
        return refuse(x, raw, "%llu bytes of data where its header says %lld",
                      (unsigned long long)done, (long long)declared);
    return 0;
}

static int write_file(struct extract *x, struct archive_entry *e, const char *raw, const char *name)
{
    const char *leaf;
    int rc, fd, pfd = open_parent(x->dirfd, name, &leaf);
    if (pfd < 0)
        return refuse(x, raw, "create its directory: %s", strerror(-pfd));
    fd = openat(pfd, leaf, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    rc = fd < 0 ? -errno : 0;
    close(pfd);
    if (rc < 0)
        return refuse(x, raw, "create: %s", strerror(-rc));
    if (fchmod(fd, 0644) < 0) /* whatever the umask */
        rc = refuse(x, raw, "chmod: %s", strerror(errno));
    if (!rc)
        rc = copy_data(x, raw, fd, archive_entry_size(e));
    if (close(fd) < 0 && !rc)
        rc = refuse(x, raw, "close: %s", strerror(errno));
    return rc;
}

static int extract_one(struct extract *x, struct archive_entry *e)
{
    char norm[MAX_NAME + 1];
    const char *raw = archive_entry_pathname(e);
    if (!raw)
        raw = archive_entry_pathname_utf8(e);
    if (!raw)
        return refuse(x, NULL, "entry %u has no readable name", x->entries + 1);
    if (check_header(x, e, raw, norm) < 0)
        return -1;
    if (!norm[0])
        return 0; /* "./": dest itself */
    if (archive_entry_filetype(e) == AE_IFDIR)
        return make_dir(x, raw, norm);
    return write_file(x, e, raw, norm);
}

static int open_bundle(struct extract *x, const char *path)
{
    struct stat st;
    int r, rc = 0;
    x->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (x->fd < 0)
        return refuse(x, NULL, "open %s: %s", path, strerror(errno));
    if (fstat(x->fd, &st) < 0 || !S_ISREG(st.st_mode))
        return refuse(x, NULL, "%s is not a regular file", path);
    if (!(x->a = archive_read_new()))
        return refuse(x, NULL, "out of memory");
    /* only the compressions a bundle may use: _all would also run external
     * programs (lrzip, lzop, grzip) on untrusted input */
    archive_read_support_filter_none(x->a);
    archive_read_support_filter_gzip(x->a);
    archive_read_support_filter_zstd(x->a);
    archive_read_support_format_tar(x->a);
    if (archive_read_open_fd(x->a, x->fd, READ_BLOCK) != ARCHIVE_OK)
        return refuse(x, NULL, "not a tar archive (%s)", aerr(x->a));
    struct archive_entry *e;
    while (!rc && ((r = archive_read_next_header(x->a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN))
        rc = extract_one(x, e);
    if (!rc && r != ARCHIVE_EOF)
        rc = refuse(x, NULL, "read entry %u: %s", x->entries + 1, aerr(x->a));
    return rc;
}

/* Index in x->names of the model's manifest, -1 for none, -2 refused. */
static int pick_manifest(struct extract *x, const char *gguf)
{
    char want[2][MAX_NAME + 32], list[1024] = "";
    const char *slash = strrchr(gguf, '/');
    int dirlen = slash ? (int)(slash - gguf + 1) : 0;
    int stemlen = (int)strlen(gguf + dirlen) - (int)strlen(".gguf");
    int found = -1, n = 0;
    snprintf(want[0], sizeof want[0], "%.*s%.*s.json", dirlen, gguf, stemlen, gguf + dirlen);
    snprintf(want[1], sizeof want[1], "%.*smanifests/%.*s.json", dirlen, gguf, stemlen,
             gguf + dirlen);
    for (int k = 0; k < 2; k++)
        for (unsigned i = 0; i < x->nfiles; i++)
            if (!strcmp(x->names[x->files[i]], want[k]))
                return (int)x->files[i];
    for (unsigned i = 0; i < x->nfiles; i++) {
        const char *name = x->names[x->files[i]];
        if (!ends_with(name, ".json"))
            continue;
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", n++ ? ", " : "", name);
        found = (int)x->files[i];
    }
    if (n > 1)
        return refuse(x, NULL, "%d .json files (%s) and no %.*s.json: which is the manifest?", n,
                      list, stemlen, gguf + dirlen) -
               1;
    return found;
}

/* The one .gguf and its manifest, as absolute paths under abs (dest). */
static int pick_model(struct extract *x, const char *abs, struct aut_bundle *b)
{
    char list[1024] = "";
    int n = 0, g = -1, m;
    for (unsigned i = 0; i < x->nfiles; i++) {
        const char *name = x->names[x->files[i]];
        if (!ends_with(name, ".gguf"))
            continue;
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", n++ ? ", " : "", name);
        g = (int)x->files[i];
    }
    if (n == 0)
        return refuse(x, NULL, "no .gguf model in the bundle");
    if (n > 1)
        return refuse(x, NULL, "%d .gguf files (%s): a bundle holds one model", n, list);
    if ((m = pick_manifest(x, x->names[g])) < -1)
        return -1;
    b->manifest[0] = '\0';
    if (snprintf(b->gguf, sizeof b->gguf, "%s/%s", abs, x->names[g]) >= (int)sizeof b->gguf ||
        (m >= 0 && snprintf(b->manifest, sizeof b->manifest, "%s/%s", abs, x->names[m]) >=
                       (int)sizeof b->manifest))
        return refuse(x, NULL, "paths under %s are too long", abs);
    b->entries = x->entries;
    b->bytes = x->total;
    return 0;
}

/* Creates dest, resolves it into abs and opens it; it must be empty, since
 * a refusal empties it again. */
static int open_dest(struct extract *x, const char *dest, char abs[PATH_MAX])
{
    int rc = aut_mkdirs(dest, 0755), n = 0;
    if (rc < 0)
        return refuse(x, NULL, "create %s: %s", dest, strerror(-rc));
    if (!realpath(dest, abs))
        return refuse(x, NULL, "resolve %s: %s", dest, strerror(errno));
    DIR *d = opendir(abs);
    if (!d)
        return refuse(x, NULL, "open %s: %s", abs, strerror(errno));
    for (struct dirent *de; (de = readdir(d));)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    if (n)
        return refuse(x, NULL, "%s is not empty", abs);
    if ((x->dirfd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return refuse(x, NULL, "open %s: %s", abs, strerror(errno));
    return 0;
}

/* Removes everything under abs (which was empty before this extraction). */
static void empty_dest(const char *abs)
{
    char path[PATH_MAX];
    DIR *d = opendir(abs);
    if (!d)
        return;
    for (struct dirent *de; (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (snprintf(path, sizeof path, "%s/%s", abs, de->d_name) < (int)sizeof path)
            aut_rmtree(path);
    }
    closedir(d);
}

int aut_archive_extract_bundle(const char *path, const char *dest, uint64_t max_bytes,
                               struct aut_bundle *out, char *err, size_t errlen)
{
    char abs[PATH_MAX];
    struct aut_bundle b;
    const char *slash = strrchr(path, '/');
    int rc = -1;
    struct extract *x = calloc(1, sizeof *x);
    if (!x) {
        if (err && errlen)
            snprintf(err, errlen, "bundle %s: out of memory", slash ? slash + 1 : path);
        return -1;
    }
    *x = (struct extract){.base = slash ? slash + 1 : path,
                          .fd = -1,
                          .dirfd = -1,
                          .max_bytes = max_bytes,
                          .err = err,
                          .errlen = errlen};
    if (open_dest(x, dest, abs) < 0)
        goto fail; /* nothing of ours to remove */
    if (open_bundle(x, path) < 0 || pick_model(x, abs, &b) < 0) {
        empty_dest(abs);
        goto fail;
    }
    *out = b;
    rc = 0;
fail:
    if (x->a)
        archive_read_free(x->a);
    if (x->fd >= 0)
        close(x->fd);
    if (x->dirfd >= 0)
        close(x->dirfd);
    free(x);
    return rc;
}

/* "write <out_path>: <why>" into err; returns -1. */
__attribute__((format(printf, 4, 5))) static int wfail(char *err, size_t errlen,
                                                       const char *out_path, const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "write %s: %s", out_path, why);
    return -1;
}

/* Copies exactly size bytes of fd into the current entry; a file that
 * changes size under us is an error, not a padded or cut entry. */
static int copy_out(struct archive *a, int fd, int64_t size, const char **why)
{
    char *buf = malloc(WRITE_CHUNK);
    int64_t left = size;
    *why = buf ? NULL : "out of memory";
    while (!*why && left > 0) {
        ssize_t got = read(fd, buf, left < WRITE_CHUNK ? (size_t)left : WRITE_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            *why = got < 0 ? strerror(errno) : "it shrank while being archived";
        else if (archive_write_data(a, buf, (size_t)got) != got)
            *why = aerr(a);
        else
            left -= got;
    }
    free(buf);
    return *why ? -1 : 0;
}

/* Stores base_dir/name under name: 1 when stored, 0 when it does not exist,
 * -1 with err. Links are not followed: an artifact is the file itself. */
static int add_file(struct archive *a, const char *out_path, const char *base_dir, const char *name,
                    char *err, size_t errlen)
{
    char path[PATH_MAX], norm[PATH_MAX];
    const char *why = NULL;
    struct stat st;
    if (!name[0] || strlen(name) >= sizeof norm || normalize(name, norm))
        return wfail(err, errlen, out_path, "'%s' is not a relative name", name);
    if (snprintf(path, sizeof path, "%s/%s", base_dir, name) >= (int)sizeof path)
        return wfail(err, errlen, out_path, "%s/%s: name too long", base_dir, name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0)
        return wfail(err, errlen, out_path, "%s: %s", path,
                     errno == ELOOP ? "a symbolic link, not a regular file" : strerror(errno));
    struct archive_entry *e = archive_entry_new();
    if (fstat(fd, &st) < 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (!e)
        why = "out of memory";
    if (!why) {
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, st.st_mode & 0777);
        archive_entry_set_size(e, st.st_size);
        archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        if (archive_write_header(a, e) != ARCHIVE_OK)
            why = aerr(a);
        else
            copy_out(a, fd, st.st_size, &why);
    }
    int rc = why ? wfail(err, errlen, out_path, "%s: %s", path, why) : 1;
    archive_entry_free(e);
    close(fd);
    return rc;
}

/* fsync of out_path's directory, so that the rename is durable too (best
 * effort: the archive's own bytes are already on disk). */
static void sync_dir_of(const char *out_path)
{
    char dir[PATH_MAX] = ".";
    const char *slash = strrchr(out_path, '/');
    if (slash) {
        size_t n = slash == out_path ? 1 : (size_t)(slash - out_path); /* "/x": "/" */
        if (n >= sizeof dir)
            return;
        memcpy(dir, out_path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Writes the archive to fd; n counts the files stored. */
static int write_all(int fd, const char *out_path, const char *base_dir, const char *const *names,
                     unsigned *n, char *err, size_t errlen)
{
    struct archive *a = archive_write_new();
    int rc = 0;
    if (!a)
        return wfail(err, errlen, out_path, "out of memory");
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
        archive_write_open_fd(a, fd) != ARCHIVE_OK)
        rc = wfail(err, errlen, out_path, "%s", aerr(a));
    for (size_t i = 0; !rc && names[i]; i++) {
        int r = add_file(a, out_path, base_dir, names[i], err, errlen);
        rc = r < 0 ? r : 0;
        *n += (unsigned)(r > 0);
    }
    if (!rc && archive_write_close(a) != ARCHIVE_OK)
        rc = wfail(err, errlen, out_path, "%s", aerr(a));
    archive_write_free(a);
    return rc;
}

int aut_archive_write_tzst(const char *out_path, const char *base_dir, const char *const *names,
                           unsigned *written, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    unsigned n = 0;
    int rc, fd;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_path, (long)getpid()) >= (int)sizeof tmp)
        return wfail(err, errlen, out_path, "name too long");
    /* O_TRUNC, not O_EXCL: a leftover of a dead process with our pid is ours to reuse */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return wfail(err, errlen, out_path, "create %s: %s", tmp, strerror(errno));
    rc = write_all(fd, out_path, base_dir, names, &n, err, errlen);
    if (!rc && fsync(fd) < 0)
        rc = wfail(err, errlen, out_path, "fsync %s: %s", tmp, strerror(errno));
    if (close(fd) < 0 && !rc)
        rc = wfail(err, errlen, out_path, "close %s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, out_path) < 0)
        rc = wfail(err, errlen, out_path, "rename %s: %s", tmp, strerror(errno));
    if (rc < 0) {
        unlink(tmp);
        return -1;
    }
    sync_dir_of(out_path);
    if (written)
        *written = n;
    return 0;
}
