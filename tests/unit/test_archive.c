/*
 * test_archive.c - bundles in and artifacts out: good bundles (plain, gzip,
 * zstd; made here with libarchive and by the system tar) extract with the
 * right manifest in each layout; every hostile entry is refused by name, dest
 * is left empty and nothing lands outside it; headers that lie about sizes
 * get nowhere; write_tzst round-trips through libarchive, zstd and tar, skips
 * missing names, and leaves its out_path whole or absent.
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
#include <sys/sysmacros.h>
#include <unistd.h>

#include "archive.h"
#include <archive.h> /* libarchive's (the project's headers are on -iquote) */
#include <archive_entry.h>

#include "fsutil.h"

#define MIB (1u << 20)

enum comp { PLAIN, GZIP, ZSTD, ZIP };
static const char *const comp_ext[] = {"tar", "tar.gz", "tar.zst", "zip"};

/* One entry of a bundle made by make_bundle(). */
struct ent {
    const char *name;
    char type;        /* 'f' file, 'd' directory, 's' symlink, 'h' hard link, 'p' FIFO, 'c' tty */
    const char *data; /* 'f': the contents; NULL: size bytes of a pattern */
    int64_t size;     /* 'f' with data NULL */
    const char *link; /* 's', 'h': the target */
};

struct fx {
    char dir[64];                /* a fresh temporary directory */
    char bundle[512], dest[512]; /* dir/b.<ext>, dir/out */
    char p[512], q[512];         /* scratch paths under dir */
    char err[2 * PATH_MAX];
    struct aut_bundle b;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_archive.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->dest, sizeof f->dest, "%s/out", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    chmod(f->dir, 0755);
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

/* Entries of dir other than . and .., or -1 when it cannot be opened. */
static int count_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Whether dir holds a name containing part. */
static int has_entry_like(const char *dir, const char *part)
{
    int found = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        found |= strstr(e->d_name, part) != NULL;
    closedir(d);
    return found;
}

static void pattern(unsigned char *buf, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        buf[i] = (unsigned char)seed;
    }
}

static void write_entry(struct archive *a, const struct ent *e)
{
    struct archive_entry *ae = archive_entry_new();
    unsigned char *buf = NULL;
    size_t n = e->data ? strlen(e->data) : (size_t)e->size;
    assert_non_null(ae);
    archive_entry_set_pathname(ae, e->name);
    archive_entry_set_perm(ae, e->type == 'd' ? 0755 : 0644);
    archive_entry_set_mtime(ae, 1700000000, 0);
    switch (e->type) {
    case 'f':
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_size(ae, (la_int64_t)n);
        break;
    case 'd':
        archive_entry_set_filetype(ae, AE_IFDIR);
        break;
    case 's':
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_symlink(ae, e->link);
        break;
    case 'h':
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_hardlink(ae, e->link);
        break;
    case 'p':
        archive_entry_set_filetype(ae, AE_IFIFO);
        break;
    case 'c':
        archive_entry_set_filetype(ae, AE_IFCHR);
        archive_entry_set_rdev(ae, makedev(5, 0));
        break;
    }
    assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
    if (e->type == 'f' && n) {
        buf = malloc(n);
        assert_non_null(buf);
        if (e->data)
            memcpy(buf, e->data, n);
        else
            pattern(buf, n, 2463534242u);
        assert_int_equal(archive_write_data(a, buf, n), (la_ssize_t)n);
    }
    free(buf);
    archive_entry_free(ae);
}

/* Writes the n entries, as they are (hostile ones included), at path. */
static void make_bundle(const char *path, enum comp c, const struct ent *e, size_t n)
{
    struct archive *a = archive_write_new();
    assert_non_null(a);
    if (c == ZIP)
        assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    else
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    if (c == GZIP)
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    if (c == ZSTD)
        assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++)
        write_entry(a, &e[i]);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static char *bundle_path(struct fx *f, enum comp c)
{
    snprintf(f->bundle, sizeof f->bundle, "%s/b.%s", f->dir, comp_ext[c]);
    return f->bundle;
}

/* Extracting f->bundle fails with want in err, leaves dest empty, and the
 * temporary directory holds only the bundle and dest: nothing escaped. */
static void assert_refused(struct fx *f, uint64_t max, const char *want)
{
    memset(&f->b, 0x5a, sizeof f->b);
    f->err[0] = '\0';
    int rc = aut_archive_extract_bundle(f->bundle, f->dest, max, &f->b, f->err, sizeof f->err);
    if (rc != -1 || !strstr(f->err, want))
        fail_msg("rc %d, err '%s', wanted '%s'", rc, f->err, want);
    assert_int_equal(count_entries(f->dest), 0);
    assert_int_equal(count_entries(f->dir), 2);
    assert_int_equal(((unsigned char *)&f->b)[0], 0x5a); /* *out untouched */
    assert_int_equal(unlink(f->bundle), 0);
}

static void refused(struct fx *f, enum comp c, const struct ent *e, size_t n, uint64_t max,
                    const char *want)
{
    make_bundle(bundle_path(f, c), c, e, n);
    assert_refused(f, max, want);
}

static void assert_file_bytes(const char *path, const unsigned char *want, size_t n)
{
    char *data = NULL;
    size_t len = 0;
    struct stat st;
    assert_int_equal(aut_read_file(path, 4 * MIB, &data, &len, NULL, 0), 0);
    assert_int_equal(len, n);
    assert_memory_equal(data, want, n);
    free(data);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
}

static void is_bundle_checks_the_suffix(void **state)
{
    assert_true(aut_archive_is_bundle("m.tar"));
    assert_true(aut_archive_is_bundle("dir/m.tar.gz"));
    assert_true(aut_archive_is_bundle("m.tgz"));
    assert_true(aut_archive_is_bundle("m.tar.zst"));
    assert_false(aut_archive_is_bundle("m.TAR"));
    assert_false(aut_archive_is_bundle("m.zip"));
    assert_false(aut_archive_is_bundle("m.gguf"));
    assert_false(aut_archive_is_bundle("m.tar.xz"));
    assert_false(aut_archive_is_bundle("m.tar.gz.part"));
    assert_false(aut_archive_is_bundle(""));
}

/* One manifest layout: the entries, where the model and its manifest land. */
struct layout {
    struct ent e[5];
    size_t n;
    const char *gguf, *manifest; /* relative to dest; manifest "" for none */
    uint64_t bytes;
};

static const struct layout layouts[] = {
    {{{"models/", 'd', 0, 0, 0},
      {"models/m.gguf", 'f', NULL, 300000, 0},
      {"models/m.json", 'f', "{\"m\":1}", 0, 0},
      {"other.json", 'f', "{}", 0, 0}},
     4,
     "models/m.gguf",
     "models/m.json",
     300000 + 7 + 2},
    {{{"m.gguf", 'f', NULL, 300000, 0},
      {"manifests/x.json", 'f', "{}", 0, 0},
      {"manifests/m.json", 'f', "{\"m\":1}", 0, 0}},
     3,
     "m.gguf",
     "manifests/m.json",
     300000 + 2 + 7},
    {{{"./weights/m.gguf", 'f', NULL, 300000, 0}, {"meta/info.json", 'f', "{\"m\":1}", 0, 0}},
     2,
     "weights/m.gguf",
     "meta/info.json",
     300000 + 7},
    {{{"m.gguf", 'f', NULL, 300000, 0}, {"README", 'f', "hi", 0, 0}}, 2, "m.gguf", "", 300002},
};

static void good_bundles_extract_in_every_compression_and_layout(void **state)
{
    struct fx *f = *state;
    char abs[PATH_MAX], want[PATH_MAX + 64];
    unsigned char *model = malloc(300000);
    assert_non_null(model);
    pattern(model, 300000, 2463534242u);
    for (int c = PLAIN; c <= ZSTD; c++) {
        for (size_t l = 0; l < sizeof layouts / sizeof *layouts; l++) {
            const struct layout *L = &layouts[l];
            make_bundle(bundle_path(f, (enum comp)c), (enum comp)c, L->e, L->n);
            int rc =
                aut_archive_extract_bundle(f->bundle, f->dest, MIB, &f->b, f->err, sizeof f->err);
            if (rc)
                fail_msg("%s layout %zu: %s", comp_ext[c], l, f->err);
            assert_non_null(realpath(f->dest, abs));
            snprintf(want, sizeof want, "%s/%s", abs, L->gguf);
            assert_string_equal(f->b.gguf, want);
            assert_file_bytes(f->b.gguf, model, 300000);
            snprintf(want, sizeof want, "%s%s%s", *L->manifest ? abs : "", *L->manifest ? "/" : "",
                     L->manifest);
            assert_string_equal(f->b.manifest, want);
            if (*L->manifest)
                assert_file_bytes(f->b.manifest, (const unsigned char *)"{\"m\":1}", 7);
            assert_int_equal(f->b.entries, L->n);
            assert_int_equal(f->b.bytes, L->bytes);
            assert_int_equal(aut_rmtree(f->dest), 0);
            assert_int_equal(unlink(f->bundle), 0);
        }
    }
    free(model);
}

static void bundles_from_the_system_tar_extract(void **state)
{
    struct fx *f = *state;
    char cmd[2048], want[PATH_MAX + 64], abs[PATH_MAX];
    unsigned char model[5000];
    pattern(model, sizeof model, 7);
    assert_int_equal(aut_mkdirs(at(f, f->p, "src/manifests"), 0755), 0);
    assert_int_equal(aut_write_file(at(f, f->p, "src/m.gguf"), model, sizeof model, NULL, 0), 0);
    assert_int_equal(aut_write_file(at(f, f->p, "src/manifests/m.json"), "{\"m\":1}", 7, NULL, 0),
                     0);
    const char *const how[] = {"tar -cf '%s/b.tar' -C '%s/src' .",
                               "tar --zstd -cf '%s/b.tar.zst' -C '%s/src' m.gguf manifests"};
    const char *const ext[] = {"tar", "tar.zst"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, how[i], f->dir, f->dir);
        assert_int_equal(system(cmd), 0);
        snprintf(f->bundle, sizeof f->bundle, "%s/b.%s", f->dir, ext[i]);
        if (aut_archive_extract_bundle(f->bundle, f->dest, MIB, &f->b, f->err, sizeof f->err))
            fail_msg("%s: %s", cmd, f->err);
        assert_non_null(realpath(f->dest, abs));
        snprintf(want, sizeof want, "%s/m.gguf", abs);
        assert_string_equal(f->b.gguf, want);
        assert_file_bytes(f->b.gguf, model, sizeof model);
        snprintf(want, sizeof want, "%s/manifests/m.json", abs);
        assert_string_equal(f->b.manifest, want);
        assert_int_equal(f->b.bytes, sizeof model + 7);
        assert_int_equal(f->b.entries, i == 0 ? 4 : 3); /* "./" counts in the first */
        assert_int_equal(aut_rmtree(f->dest), 0);
        assert_int_equal(unlink(f->bundle), 0);
    }
}

#define GOOD                                                                                       \
    {"m.gguf", 'f', "GGUF", 0, 0},                                                                 \
    {                                                                                              \
        "sub/ok.txt", 'f', "ok", 0, 0                                                              \
    }

/* A hostile bundle, after good entries that must be removed again. */
struct hostile {
    struct ent e[4];
    size_t n;
    uint64_t max;
    const char *want;
};

static const struct hostile hostiles[] = {
    {{GOOD, {"../x", 'f', "evil", 0, 0}}, 3, MIB, "bundle b.tar: entry '../x': a '..' path"},
    {{GOOD, {"a/../../x", 'f', "evil", 0, 0}}, 3, MIB, "entry 'a/../../x': a '..' path component"},
    {{GOOD, {"sub/..", 'd', 0, 0, 0}}, 3, MIB, "entry 'sub/../': a '..' path component"},
    {{GOOD, {"ln", 's', 0, 0, "../../x"}}, 3, MIB, "entry 'ln': a symbolic link"},
    {{GOOD, {"hl", 'h', 0, 0, "m.gguf"}}, 3, MIB, "entry 'hl': a hard link"},
    {{GOOD, {"fifo", 'p', 0, 0, 0}}, 3, MIB, "entry 'fifo': a FIFO"},
    {{GOOD, {"tty", 'c', 0, 0, 0}}, 3, MIB, "entry 'tty': a device"},
    {{GOOD, {"big.bin", 'f', NULL, 2000, 0}},
     3,
     1000,
     "entry 'big.bin': 2000 bytes, over the limit of 1000"},
    {{GOOD, {"a.bin", 'f', NULL, 600, 0}, {"b.bin", 'f', NULL, 600, 0}},
     4,
     1000,
     "entry 'b.bin': the bundle's files come to over 1000 bytes"},
    {{GOOD, {"m.gguf", 'f', "again", 0, 0}}, 3, MIB, "entry 'm.gguf': a duplicate name"},
    {{GOOD, {"./sub//ok.txt", 'f', "again", 0, 0}},
     3,
     MIB,
     "entry './sub//ok.txt': a duplicate name"},
    {{GOOD, {"sub/ok.txt/x", 'f', "x", 0, 0}},
     3,
     MIB,
     "entry 'sub/ok.txt/x': create its directory"},
    {{GOOD, {"x/b.gguf", 'f', "GGUF", 0, 0}},
     3,
     MIB,
     "bundle b.tar: 2 .gguf files (m.gguf, x/b.gguf): a bundle holds one model"},
    {{{"m.json", 'f', "{}", 0, 0}, {"sub/", 'd', 0, 0, 0}},
     2,
     MIB,
     "bundle b.tar: no .gguf model in the bundle"},
    {{GOOD, {"a.json", 'f', "{}", 0, 0}, {"meta/b.json", 'f', "{}", 0, 0}},
     4,
     MIB,
     "bundle b.tar: 2 .json files (a.json, meta/b.json) and no m.json"},
};

static void every_hostile_entry_is_refused_by_name(void **state)
{
    struct fx *f = *state;
    char want[256];
    for (size_t i = 0; i < sizeof hostiles / sizeof *hostiles; i++) {
        const struct hostile *h = &hostiles[i];
        enum comp c = (enum comp)(i % 3);
        make_bundle(bundle_path(f, c), c, h->e, h->n);
        /* the bundle's own name, as err gives it */
        const char *w = h->want;
        if (!strncmp(w, "bundle b.tar", 12)) {
            snprintf(want, sizeof want, "bundle b.%s%s", comp_ext[c], w + 12);
            w = want;
        }
        assert_refused(f, h->max, w);
    }
    assert_int_equal(access(at(f, f->p, "x"), F_OK), -1);
}

static void absolute_long_and_65th_entries_are_refused(void **state)
{
    struct fx *f = *state;
    char abs_name[600], want[700], names[65][16], longname[300];
    struct ent e[65];
    at(f, abs_name, "abs");
    struct ent one[] = {GOOD, {abs_name, 'f', "evil", 0, 0}};
    snprintf(want, sizeof want, "entry '%s': an absolute path", abs_name);
    refused(f, GZIP, one, 3, MIB, want);
    assert_int_equal(access(abs_name, F_OK), -1);

    memset(longname, 'n', sizeof longname);
    memcpy(longname + 250, ".gguf", 6); /* 255 bytes: allowed */
    one[2] = (struct ent){longname, 'f', "GGUF", 0, 0};
    one[0] = (struct ent){"a.json", 'f', "{}", 0, 0};
    make_bundle(bundle_path(f, ZSTD), ZSTD, one, 3);
    assert_int_equal(
        aut_archive_extract_bundle(f->bundle, f->dest, MIB, &f->b, f->err, sizeof f->err), 0);
    assert_int_equal(strlen(strrchr(f->b.gguf, '/') + 1), 255);
    assert_non_null(strstr(f->b.manifest, "/a.json"));
    assert_int_equal(aut_rmtree(f->dest), 0);
    assert_int_equal(unlink(f->bundle), 0);
    memcpy(longname + 250, "n.gguf", 7); /* 256 bytes */
    refused(f, ZSTD, one, 3, MIB, "': a name over 255 bytes");

    e[0] = (struct ent){"m.gguf", 'f', "GGUF", 0, 0};
    for (int i = 1; i < 65; i++) {
        snprintf(names[i], sizeof names[i], "f%d.txt", i);
        e[i] = (struct ent){names[i], 'f', "x", 0, 0};
    }
    make_bundle(bundle_path(f, PLAIN), PLAIN, e, 64);
    assert_int_equal(
        aut_archive_extract_bundle(f->bundle, f->dest, MIB, &f->b, f->err, sizeof f->err), 0);
    assert_int_equal(f->b.entries, 64);
    assert_int_equal(f->b.bytes, 4 + 63);
    assert_int_equal(aut_rmtree(f->dest), 0);
    assert_int_equal(unlink(f->bundle), 0);
    refused(f, PLAIN, e, 65, MIB, "entry 'f64.txt': more than 64 entries");
}

/* A ustar header block for name: regular file ('0') of the declared size. */
static void ustar_header(unsigned char h[512], const char *name, uint64_t size)
{
    unsigned sum = 0;
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    snprintf((char *)h + 136, 12, "%011o", 0);
    memset(h + 148, ' ', 8);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 7, "%06o", sum);
    h[155] = ' ';
}

/* Writes blocks of 512 bytes, then the two zero blocks that end a tar. */
static void write_raw_tar(const char *path, const unsigned char *blocks, size_t nblocks,
                          int with_end)
{
    size_t n = (nblocks + (with_end ? 2 : 0)) * 512;
    unsigned char *buf = calloc(1, n);
    assert_non_null(buf);
    memcpy(buf, blocks, nblocks * 512);
    assert_int_equal(aut_write_file(path, buf, n, NULL, 0), 0);
    free(buf);
}

static void headers_that_lie_about_sizes_get_nowhere(void **state)
{
    struct fx *f = *state;
    unsigned char b[4][512];
    memset(b, 0, sizeof b);
    bundle_path(f, PLAIN);

    /* the crafted tar is sound: a true header extracts */
    ustar_header(b[0], "m.gguf", 4);
    memcpy(b[1], "GGUF", 4);
    write_raw_tar(f->bundle, b[0], 2, 1);
    assert_int_equal(
        aut_archive_extract_bundle(f->bundle, f->dest, MIB, &f->b, f->err, sizeof f->err), 0);
    assert_int_equal(f->b.bytes, 4);
    assert_int_equal(aut_rmtree(f->dest), 0);

    /* declares 4 bytes, but 1536 follow: what is past the declared size is
     * read as headers, and the one hiding there is judged like any other */
    memset(b[1] + 4, 'D', 508);
    ustar_header(b[2], "../evil", 512);
    memset(b[3], 'E', 512);
    write_raw_tar(f->bundle, b[0], 4, 1);
    assert_refused(f, MIB, "entry '../evil': a '..' path component");
    memset(b[2], 'A', 512); /* ... or as garbage */
    write_raw_tar(f->bundle, b[0], 4, 1);
    assert_refused(f, MIB, "bundle b.tar: read entry 2: ");

    /* declares more than there is: the truncated file does not stay */
    ustar_header(b[0], "m.gguf", 100000);
    memset(b[1], 'G', 512);
    write_raw_tar(f->bundle, b[0], 2, 0);
    assert_refused(f, MIB, "entry 'm.gguf': read: ");

    /* declares more than max_bytes: refused before any data is read */
    write_raw_tar(f->bundle, b[0], 2, 0);
    assert_refused(f, 1000, "entry 'm.gguf': 100000 bytes, over the limit of 1000");
}

static void bad_paths_and_formats_are_refused(void **state)
{
    struct fx *f = *state;
    struct ent e[] = {{"m.gguf", 'f', "GGUF", 0, 0}};

    refused(f, ZIP, e, 1, MIB, "bundle b.zip: not a tar archive");
    assert_int_equal(aut_write_file(bundle_path(f, PLAIN), "", 0, NULL, 0), 0);
    assert_refused(f, MIB, "bundle b.tar: not a tar archive");

    assert_int_equal(aut_archive_extract_bundle(at(f, f->p, "none.tar"), f->dest, MIB, &f->b,
                                                f->err, sizeof f->err),
                     -1);
    assert_non_null(strstr(f->err, "bundle none.tar: open "));
    assert_non_null(strstr(f->err, "No such file or directory"));

    /* dest must be empty, and a refusal for that touches nothing in it */
    make_bundle(bundle_path(f, PLAIN), PLAIN, e, 1);
    assert_int_equal(aut_write_file(at(f, f->p, "out/keep"), "keep", 4, NULL, 0), 0);
    assert_int_equal(
        aut_archive_extract_bundle(f->bundle, f->dest, MIB, &f->b, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "is not empty"));
    assert_int_equal(count_entries(f->dest), 1);
    assert_int_equal(access(f->p, F_OK), 0);
}

/* Reads path (a .tar.zst) back: names, sizes, modes and contents. */
static void assert_tzst_holds(const char *path, const char *const *names, const char *const *data,
                              int n)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    char buf[256];
    int i = 0;
    assert_non_null(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_filename(a, path, 4096), ARCHIVE_OK);
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        assert_true(i < n);
        assert_string_equal(archive_entry_pathname(e), names[i]);
        assert_int_equal(archive_entry_filetype(e), AE_IFREG);
        assert_int_equal(archive_entry_perm(e), 0640);
        assert_int_equal(archive_entry_size(e), strlen(data[i]));
        la_ssize_t got = archive_read_data(a, buf, sizeof buf);
        assert_int_equal(got, strlen(data[i]));
        assert_memory_equal(buf, data[i], (size_t)got);
        i++;
    }
    assert_int_equal(i, n);
    assert_int_equal(archive_read_free(a), ARCHIVE_OK);
}

static void write_tzst_round_trips_and_skips_missing_names(void **state)
{
    struct fx *f = *state;
    char cmd[1200], list[256] = "";
    unsigned written = 99;
    const char *const names[] = {"a.txt", "missing.txt", "sub/b.txt", NULL};
    const char *const stored[] = {"a.txt", "sub/b.txt"}, *data[] = {"alpha\n", "beta beta\n"};
    assert_int_equal(aut_mkdirs(at(f, f->p, "base/sub"), 0755), 0);
    assert_int_equal(aut_write_file(at(f, f->p, "base/a.txt"), "alpha\n", 6, NULL, 0), 0);
    assert_int_equal(chmod(f->p, 0640), 0);
    assert_int_equal(aut_write_file(at(f, f->p, "base/sub/b.txt"), "beta beta\n", 10, NULL, 0), 0);
    assert_int_equal(chmod(f->p, 0640), 0);
    assert_int_equal(aut_mkdirs(at(f, f->q, "rep"), 0755), 0);
    at(f, f->q, "rep/artifacts.tar.zst");

    assert_int_equal(
        aut_archive_write_tzst(f->q, at(f, f->p, "base"), names, &written, f->err, sizeof f->err),
        0);
    assert_int_equal(written, 2);
    assert_tzst_holds(f->q, stored, data, 2);
    assert_int_equal(count_entries(at(f, f->p, "rep")), 1); /* no temporary left */

    snprintf(cmd, sizeof cmd, "zstd -q -t '%s'", f->q);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "tar --zstd -tf '%s'", f->q);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(list, 1, sizeof list - 1, p);
    assert_int_equal(pclose(p), 0);
    list[got] = '\0';
    assert_string_equal(list, "a.txt\nsub/b.txt\n");

    /* nothing to store: still a valid, empty archive */
    const char *const none[] = {"missing.txt", NULL};
    assert_int_equal(
        aut_archive_write_tzst(f->q, at(f, f->p, "base"), none, NULL, f->err, sizeof f->err), 0);
    assert_tzst_holds(f->q, stored, data, 0);
}

static void write_tzst_leaves_out_path_whole_or_absent(void **state)
{
    struct fx *f = *state;
    char base[512], old[512];
    unsigned written = 99;
    const char *const good[] = {"a.txt", NULL};
    const char *const with_dir[] = {"a.txt", "sub", NULL};
    const char *const with_link[] = {"link", NULL};
    const char *const with_fifo[] = {"fifo", NULL};
    const char *const outside[] = {"../a.txt", NULL};
    const char *const data[] = {"alpha\n"};
    assert_int_equal(aut_mkdirs(at(f, base, "base/sub"), 0755), 0);
    assert_int_equal(aut_write_file(at(f, f->p, "base/a.txt"), "alpha\n", 6, NULL, 0), 0);
    assert_int_equal(chmod(f->p, 0640), 0);
    assert_int_equal(symlink("/etc/passwd", at(f, f->p, "base/link")), 0);
    assert_int_equal(mkfifo(at(f, f->p, "base/fifo"), 0644), 0);
    at(f, base, "base");
    at(f, old, "a.tar.zst");
    assert_int_equal(aut_archive_write_tzst(old, base, good, NULL, f->err, sizeof f->err), 0);

    /* a failure halfway (the second name is a directory) keeps the old archive */
    assert_int_equal(aut_archive_write_tzst(old, base, with_dir, &written, f->err, sizeof f->err),
                     -1);
    assert_non_null(strstr(f->err, "base/sub: not a regular file"));
    assert_int_equal(written, 99);
    assert_tzst_holds(old, good, data, 1);
    assert_false(has_entry_like(f->dir, ".tmp."));
    assert_int_equal(aut_archive_write_tzst(old, base, with_link, NULL, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "base/link: a symbolic link"));
    assert_int_equal(aut_archive_write_tzst(old, base, with_fifo, NULL, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "base/fifo: not a regular file"));
    assert_int_equal(aut_archive_write_tzst(old, base, outside, NULL, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "'../a.txt' is not a relative name"));
    assert_tzst_holds(old, good, data, 1);
    assert_false(has_entry_like(f->dir, ".tmp."));

    /* a directory that cannot take the file: an error, nothing left there */
    assert_int_equal(aut_archive_write_tzst(at(f, f->p, "base/a.txt/x.tar.zst"), base, good, NULL,
                                            f->err, sizeof f->err),
                     -1);
    assert_non_null(strstr(f->err, "Not a directory"));
    if (geteuid() != 0) { /* root writes through 0555 */
        assert_int_equal(aut_mkdirs(at(f, f->q, "ro"), 0755), 0);
        assert_int_equal(chmod(f->q, 0555), 0);
        assert_int_equal(aut_archive_write_tzst(at(f, f->p, "ro/x.tar.zst"), base, good, NULL,
                                                f->err, sizeof f->err),
                         -1);
        assert_non_null(strstr(f->err, "Permission denied"));
        assert_int_equal(count_entries(f->q), 0);
        assert_int_equal(chmod(f->q, 0755), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(is_bundle_checks_the_suffix),
        cmocka_unit_test_setup_teardown(good_bundles_extract_in_every_compression_and_layout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bundles_from_the_system_tar_extract, setup, teardown),
        cmocka_unit_test_setup_teardown(every_hostile_entry_is_refused_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(absolute_long_and_65th_entries_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(headers_that_lie_about_sizes_get_nowhere, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_paths_and_formats_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(write_tzst_round_trips_and_skips_missing_names, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(write_tzst_leaves_out_path_whole_or_absent, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
