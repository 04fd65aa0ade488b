/*
 * gguf_write.h - a GGUF v3 writer for host tools: build in memory, write
 * atomically.
 *
 * A struct aut_gguf_w collects metadata (key/value pairs, in the order they
 * are added) and tensors (name, type, shape, data), then writes the file in
 * one go: header, kv pairs, tensor infos, padding to the alignment, and each
 * tensor's data at an aligned offset (padded after, as ggml does). Writing
 * is atomic: the bytes go to "<path>.tmp.<pid>", are fsync'd and renamed
 * over path; on any error the temporary file is removed, so path is either
 * the complete new file or untouched.
 *
 * The ordinary functions only produce valid files: keys and tensor names are
 * unique, types known, shapes non-zero, data sizes exact, the alignment a
 * power of two. The "escape hatch" at the end (aut_gguf_w_raw_*) lifts those
 * checks for one purpose only - slm-forge --corrupt, which writes files the
 * parser must reject.
 *
 * Every function that can fail returns 0 or -errno (-EINVAL bad argument,
 * -EEXIST duplicate, -ENOENT not found, -ENOMEM, or the system call's) and
 * leaves a message naming what failed in aut_gguf_w_error(). Not thread-safe.
 */
#ifndef AUTON_COMMON_GGUF_WRITE_H
#define AUTON_COMMON_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h" /* enum gguf_vtype, GGUF_MAGIC, GGUF_MAX_DIMS */

#define AUT_GGUF_W_VERSION 3

struct aut_gguf_w;

/* Creates an empty writer (alignment 32). *out is written only on success.
 * Returns 0 or -ENOMEM. */
int aut_gguf_w_create(struct aut_gguf_w **out);

/* Frees the writer, its copies and the data it took; borrowed data is not
 * touched. NULL is a no-op. */
void aut_gguf_w_destroy(struct aut_gguf_w *w);

/* The message of the last failure ("tensor x: data of 12 bytes, expected
 * 16"); "" before any. Owned by w, valid until the next call on w. */
const char *aut_gguf_w_error(const struct aut_gguf_w *w);

/* Sets the data alignment (a power of two). Anything but the default 32 is
 * also recorded as the key general.alignment (UINT32); setting 32 removes
 * it. Returns 0 or -EINVAL. */
int aut_gguf_w_set_alignment(struct aut_gguf_w *w, uint32_t alignment);

/* ---- metadata -------------------------------------------------------------
 * key: a non-empty NUL-terminated string, copied. Each returns 0, -EINVAL
 * (empty key or bad value), -EEXIST (key already present) or -ENOMEM. */
int aut_gguf_w_add_u8(struct aut_gguf_w *w, const char *key, uint8_t v);
int aut_gguf_w_add_i8(struct aut_gguf_w *w, const char *key, int8_t v);
int aut_gguf_w_add_u16(struct aut_gguf_w *w, const char *key, uint16_t v);
int aut_gguf_w_add_i16(struct aut_gguf_w *w, const char *key, int16_t v);
int aut_gguf_w_add_u32(struct aut_gguf_w *w, const char *key, uint32_t v);
int aut_gguf_w_add_i32(struct aut_gguf_w *w, const char *key, int32_t v);
int aut_gguf_w_add_f32(struct aut_gguf_w *w, const char *key, float v);
int aut_gguf_w_add_bool(struct aut_gguf_w *w, const char *key, bool v);
int aut_gguf_w_add_u64(struct aut_gguf_w *w, const char *key, uint64_t v);
int aut_gguf_w_add_i64(struct aut_gguf_w *w, const char *key, int64_t v);
int aut_gguf_w_add_f64(struct aut_gguf_w *w, const char *key, double v);

/* A string value: s (NUL-terminated), copied. */
int aut_gguf_w_add_str(struct aut_gguf_w *w, const char *key, const char *s);

/* An array of n numbers (or bools) of elem_type (UINT8..FLOAT64, not STRING
 * or ARRAY), packed in host order (little-endian) at elems; copied. */
int aut_gguf_w_add_arr(struct aut_gguf_w *w, const char *key, uint32_t elem_type, const void *elems,
                       uint64_t n);

/* An array of n strings (each NUL-terminated); copied. */
int aut_gguf_w_add_arr_str(struct aut_gguf_w *w, const char *key, const char *const *strs,
                           uint64_t n);

/* Removes key. Returns 0 or -ENOENT. */
int aut_gguf_w_remove_kv(struct aut_gguf_w *w, const char *key);

uint64_t aut_gguf_w_n_kv(const struct aut_gguf_w *w);

/* ---- tensors -------------------------------------------------------------- */

/* What add_tensor does with the data pointer. */
enum aut_gguf_w_mode {
    AUT_GGUF_W_COPY,   /* copied now; the caller keeps its buffer */
    AUT_GGUF_W_BORROW, /* used at write time: must outlive the writer */
    AUT_GGUF_W_TAKE,   /* malloc'd by the caller, freed by the writer - on success
                          only: after a failure the caller still owns it */
};

/* Adds tensor name (unique, 1..1024 bytes, copied) of ggml type `type`
 * (enum slm_qtype) with n_dims (1..4) dimensions ne[0..n_dims), ne[0] the
 * row length: non-zero, a multiple of the type's block. nbytes must be
 * exactly the tensor's size. Returns 0, -EINVAL, -EEXIST or -ENOMEM. */
int aut_gguf_w_add_tensor(struct aut_gguf_w *w, const char *name, uint32_t type, uint32_t n_dims,
                          const uint64_t *ne, const void *data, size_t nbytes,
                          enum aut_gguf_w_mode mode);

uint64_t aut_gguf_w_n_tensors(const struct aut_gguf_w *w);

/* Index of tensor name (in the order added), or -ENOENT. */
int aut_gguf_w_find_tensor(const struct aut_gguf_w *w, const char *name);

/* ---- output --------------------------------------------------------------- */

/* Bytes before the data section's padding: header, kv pairs, tensor infos. */
size_t aut_gguf_w_info_size(const struct aut_gguf_w *w);

/* Total bytes of the file write() would produce. */
size_t aut_gguf_w_file_size(const struct aut_gguf_w *w);

/* Writes the file atomically to path (see the top of this file). Returns 0
 * or -errno; on failure nothing is left at path.tmp.<pid> and path is as
 * it was. */
int aut_gguf_w_write(struct aut_gguf_w *w, const char *path);

/* The same bytes in memory: *out (malloc'd, caller frees) and *size, written
 * only on success. Returns 0, -ENOMEM or -EFBIG. */
int aut_gguf_w_serialize(struct aut_gguf_w *w, uint8_t **out, size_t *size);

/* Writes buf[0..n) to path with the same atomic procedure - for a file that
 * accompanies a model (its manifest). errbuf (may be NULL) receives a
 * message naming what failed. Returns 0 or -errno. */
int aut_gguf_w_save_bytes(const char *path, const void *buf, size_t n, char *errbuf, size_t errlen);

/* ---- escape hatch: INVALID files, for slm-forge --corrupt only ------------ */

/* Header fields written instead of the real ones, and truncation. */
struct aut_gguf_w_raw_header {
    bool set_magic, set_version, set_n_tensors, set_n_kv;
    uint32_t magic;
    uint32_t version;
    uint64_t n_tensors;
    uint64_t n_kv;
    uint64_t truncate_at; /* non-zero: only the first truncate_at bytes are written */
};

int aut_gguf_w_raw_header(struct aut_gguf_w *w, const struct aut_gguf_w_raw_header *h);

/* Appends key with value type vtype (any number) followed by value[0..n)
 * verbatim, with no check at all: duplicates, wrong types and nonsense
 * lengths are the point. Returns 0 or -ENOMEM. */
int aut_gguf_w_raw_kv(struct aut_gguf_w *w, const char *key, uint32_t vtype, const void *value,
                      size_t n);

/* Like add_tensor, without the checks on name (duplicates allowed), type and
 * shape; data is always copied, nbytes taken as given. */
int aut_gguf_w_raw_add_tensor(struct aut_gguf_w *w, const char *name, uint32_t type,
                              uint32_t n_dims, const uint64_t *ne, const void *data, size_t nbytes);

#define AUT_GGUF_W_RAW_MAX_DIMS 8

/* What the info record of an existing tensor says instead of the truth. */
struct aut_gguf_w_raw_tensor {
    uint32_t n_dims; /* 0: keep; else ne[0..n_dims) is written */
    uint64_t ne[AUT_GGUF_W_RAW_MAX_DIMS];
    bool set_type;
    uint32_t type;
    /* The data is placed at an aligned offset plus shift (room is left so
     * that nothing overlaps), and that offset is written. */
    uint32_t shift;
    /* detached: the data is not written at all and `offset` is recorded. */
    bool detached;
    uint64_t offset;
};

/* Overrides the info record of tensor `index`. Returns 0 or -EINVAL. */
int aut_gguf_w_raw_tensor(struct aut_gguf_w *w, int index, const struct aut_gguf_w_raw_tensor *r);

#endif
