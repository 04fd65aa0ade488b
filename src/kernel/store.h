/*
 * store.h - the content-addressed model store: <root>/sha256/<hex>.gguf.
 *
 * Models enter the store by copy (never moved, never linked: the caller's
 * file stays theirs), hashed with SHA-256 while copying, written to a
 * temporary file in the same directory, fsync'ed and renamed into place, so
 * a crash never leaves a partial <hex>.gguf behind. A file already present
 * under its hash is not copied again (its size is checked).
 */
#ifndef AUTON_KERNEL_STORE_H
#define AUTON_KERNEL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "fsutil.h"

#define AUT_SHA256_HEX 65 /* 64 hex digits + NUL */

/* SHA-256 of a file, streamed (no full read into memory). Returns 0 or
 * -errno with err naming the path. */
int aut_file_sha256(const char *path, char hex[AUT_SHA256_HEX], uint64_t *size, char *err,
                    size_t errlen);

/* Copies src into the store under root (creating <root>/sha256/ as needed).
 * hex receives the hash, size the byte count, stored (may be NULL) the
 * stored file's path (PATH_MAX bytes). Returns 0 or -errno with err set. */
int aut_store_put(const char *root, const char *src, char hex[AUT_SHA256_HEX], uint64_t *size,
                  char *stored, char *err, size_t errlen);

/* The stored path of hex into path (PATH_MAX bytes). Returns 0 when it
 * exists, -ENOENT otherwise (path is filled either way). */
int aut_store_path(const char *root, const char *hex, char *path);

#endif
