/*
 * archive.h - tar archives, with libarchive (the only module that uses it):
 * model bundles coming in (a .gguf and its manifest in a .tar, .tar.gz/.tgz
 * or .tar.zst) and job artifacts going out (reports/<job>/artifacts.tar.zst).
 *
 * A bundle is untrusted input. Extraction never writes outside dest and
 * refuses, naming the entry, any of:
 *   an absolute path; a ".." component; a symbolic or hard link; a device,
 *   FIFO or socket; an entry over max_bytes or a total over max_bytes;
 *   more than 64 entries; a name over 255 bytes; a duplicate name;
 *   not exactly one .gguf; more than one .json candidate for its manifest.
 * On refusal whatever was extracted is removed again (dest left empty).
 */
#ifndef AUTON_COMMON_ARCHIVE_H
#define AUTON_COMMON_ARCHIVE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True for names ending in .tar, .tar.gz, .tgz or .tar.zst. */
bool aut_archive_is_bundle(const char *name);

struct aut_bundle {
    char gguf[PATH_MAX];     /* the extracted .gguf (absolute) */
    char manifest[PATH_MAX]; /* its manifest: <stem>.json or manifests/<stem>.json or the
                                only .json in the bundle; "" when the bundle has none */
    unsigned entries;
    uint64_t bytes;          /* extracted in all */
};

/* Extracts the bundle at path into dest (created if missing; must be empty),
 * directories created as needed, regular files only (mode 0644). Returns 0
 * with *out, or -1 with err ("bundle m.tar.gz: entry '../x': a '..' path
 * component"). */
int aut_archive_extract_bundle(const char *path, const char *dest, uint64_t max_bytes,
                               struct aut_bundle *out, char *err, size_t errlen);

/* Writes a zstd-compressed ustar/pax archive at out_path holding the files
 * names (NULL-terminated, relative to base_dir, stored under those names);
 * names that do not exist are skipped. Written to a temporary file and
 * renamed, so out_path is whole or absent. *written: files stored (may be
 * NULL). Returns 0 or -1 with err. */
int aut_archive_write_tzst(const char *out_path, const char *base_dir, const char *const *names,
                           unsigned *written, char *err, size_t errlen);

#endif
