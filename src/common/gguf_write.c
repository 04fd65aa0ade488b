/*
 * gguf_write.c - the in-memory GGUF builder and its atomic file output (see
 * gguf_write.h). Metadata values are kept serialized (the bytes after the
 * type field), so writing is a straight copy; tensor data is copied, borrowed
 * or owned per tensor. Layout (offsets, padding) is computed at write time.
 */
#include "gguf_write.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "qtypes.h"

#define SINK_BUF (1u << 20)
#define ALIGN_KEY "general.alignment"

struct kv {
    char *key;
    size_t key_len;
    uint32_t type; /* enum gguf_vtype, or anything for raw pairs */
    uint8_t *val;  /* serialized value, val_len bytes (may be NULL when 0) */
    size_t val_len;
};

struct tensor {
    char *name;
    size_t name_len;
    uint32_t type;                        /* as written in the info */
    uint32_t n_dims;                      /* as written */
    uint64_t ne[AUT_GGUF_W_RAW_MAX_DIMS]; /* as written */
    const void *data;                     /* nbytes of data (owned or borrowed) */
    void *owned;                          /* freed by the writer, or NULL */
    size_t nbytes;
    uint32_t shift;  /* raw: placed at aligned + shift */
    bool detached;   /* raw: no data, offset as given */
    uint64_t offset; /* from the data section start */
};

struct aut_gguf_w {
    struct kv *kv;
    size_t n_kv, cap_kv;
    struct tensor *t;
    size_t n_t, cap_t;
    uint32_t alignment;
    struct aut_gguf_w_raw_header raw;
    char err[512];
};

/* Where serialized bytes go: a file descriptor (buffered) or memory. Bytes
 * past `limit` are counted but dropped (truncated output). */
struct sink {
    int fd;       /* -1: memory */
    uint8_t *mem; /* memory target, limit bytes */
    uint8_t *buf; /* fd buffer of SINK_BUF bytes */
    size_t fill;
    uint64_t pos; /* logical bytes emitted */
    uint64_t limit;
    int err; /* first -errno */
};

static int fail(struct aut_gguf_w *w, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct aut_gguf_w *w, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
    return rc;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) / a * a;
}

/* ---- lifetime ---------------------------------------------------------------- */

int aut_gguf_w_create(struct aut_gguf_w **out)
{
    struct aut_gguf_w *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    *out = w;
    return 0;
}

void aut_gguf_w_destroy(struct aut_gguf_w *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        free(w->t[i].owned);
    }
    free(w->kv);
    free(w->t);
    free(w);
}

const char *aut_gguf_w_error(const struct aut_gguf_w *w)
{
    return w->err;
}

/* ---- metadata ---------------------------------------------------------------- */

static struct kv *find_kv(const struct aut_gguf_w *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0)
            return &w->kv[i];
    return NULL;
}

/* Appends key with a value of val_len bytes, taking ownership of val (freed
 * on failure too). No checks: callers validate. */
static int push_kv(struct aut_gguf_w *w, const char *key, uint32_t type, uint8_t *val,
                   size_t val_len)
{
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        struct kv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv)
            goto nomem;
        w->kv = kv;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k)
        goto nomem;
    w->kv[w->n_kv++] = (struct kv){k, strlen(key), type, val, val_len};
    return 0;
nomem:
    free(val);
    return fail(w, -ENOMEM, "key %s: out of memory", key);
}

static int check_key(struct aut_gguf_w *w, const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > GGUF_MAX_KEY_LEN)
        return fail(w, -EINVAL, "key of %zu bytes (need 1..%u)", n, GGUF_MAX_KEY_LEN);
    if (strcmp(key, ALIGN_KEY) == 0)
        return fail(w, -EINVAL, "key %s: set it with aut_gguf_w_set_alignment", key);
    if (find_kv(w, key))
        return fail(w, -EEXIST, "duplicate key %s", key);
    return 0;
}

/* Checks key, then appends a copy of val[0..n). */
static int add_value(struct aut_gguf_w *w, const char *key, uint32_t type, const void *val,
                     size_t n)
{
    int rc = check_key(w, key);
    if (rc)
        return rc;
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return fail(w, -ENOMEM, "key %s: out of memory", key);
    if (n)
        memcpy(copy, val, n);
    return push_kv(w, key, type, copy, n);
}

#define SCALAR_ADDER(suffix, ctype, vtype)                                                         \
    int aut_gguf_w_add_##suffix(struct aut_gguf_w *w, const char *key, ctype v)                    \
    {                                                                                              \
        return add_value(w, key, vtype, &v, sizeof v);                                             \
    }

SCALAR_ADDER(u8, uint8_t, GGUF_T_UINT8)
SCALAR_ADDER(i8, int8_t, GGUF_T_INT8)
SCALAR_ADDER(u16, uint16_t, GGUF_T_UINT16)
SCALAR_ADDER(i16, int16_t, GGUF_T_INT16)
SCALAR_ADDER(u32, uint32_t, GGUF_T_UINT32)
SCALAR_ADDER(i32, int32_t, GGUF_T_INT32)
SCALAR_ADDER(f32, float, GGUF_T_FLOAT32)
SCALAR_ADDER(u64, uint64_t, GGUF_T_UINT64)
SCALAR_ADDER(i64, int64_t, GGUF_T_INT64)
SCALAR_ADDER(f64, double, GGUF_T_FLOAT64)

int aut_gguf_w_add_bool(struct aut_gguf_w *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return add_value(w, key, GGUF_T_BOOL, &b, 1);
}

int aut_gguf_w_add_str(struct aut_gguf_w *w, const char *key, const char *s)
{
    int rc = check_key(w, key);
    if (rc)
        return rc;
    if (!s)
        return fail(w, -EINVAL, "key %s: NULL string", key);
    uint64_t n = strlen(s);
    uint8_t *val = malloc(8 + n);
    if (!val)
        return fail(w, -ENOMEM, "key %s: out of memory", key);
    memcpy(val, &n, 8);
    memcpy(val + 8, s, n);
    return push_kv(w, key, GGUF_T_STRING, val, 8 + n);
}

/* Bytes of one element of a numeric array type, 0 for the others. */
static size_t elem_size(uint32_t t)
{
    static const uint8_t sz[GGUF_T_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < GGUF_T_COUNT ? sz[t] : 0;
}

int aut_gguf_w_add_arr(struct aut_gguf_w *w, const char *key, uint32_t elem_type, const void *elems,
                       uint64_t n)
{
    size_t es = elem_size(elem_type), bytes;
    int rc = check_key(w, key);
    if (rc)
        return rc;
    if (es == 0)
        return fail(w, -EINVAL, "key %s: array element type %u is not a number", key, elem_type);
    if (__builtin_mul_overflow(n, es, &bytes) || bytes > SIZE_MAX - 12 || (n && !elems))
        return fail(w, -EINVAL, "key %s: array of %llu elements", key, (unsigned long long)n);
    uint8_t *val = malloc(12 + bytes);
    if (!val)
        return fail(w, -ENOMEM, "key %s: out of memory", key);
    memcpy(val, &elem_type, 4);
    memcpy(val + 4, &n, 8);
    if (bytes)
        memcpy(val + 12, elems, bytes);
    return push_kv(w, key, GGUF_T_ARRAY, val, 12 + bytes);
}

int aut_gguf_w_add_arr_str(struct aut_gguf_w *w, const char *key, const char *const *strs,
                           uint64_t n)
{
    size_t bytes = 12;
    int rc = check_key(w, key);
    if (rc)
        return rc;
    for (uint64_t i = 0; i < n; i++) {
        if (!strs[i])
            return fail(w, -EINVAL, "key %s: string %llu is NULL", key, (unsigned long long)i);
        bytes += 8 + strlen(strs[i]);
    }
    uint8_t *val = malloc(bytes), *p;
    if (!val)
        return fail(w, -ENOMEM, "key %s: out of memory", key);
    uint32_t et = GGUF_T_STRING;
    memcpy(val, &et, 4);
    memcpy(val + 4, &n, 8);
    p = val + 12;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = strlen(strs[i]);
        memcpy(p, &len, 8);
        memcpy(p + 8, strs[i], len);
        p += 8 + len;
    }
    return push_kv(w, key, GGUF_T_ARRAY, val, bytes);
}

int aut_gguf_w_remove_kv(struct aut_gguf_w *w, const char *key)
{
    struct kv *kv = find_kv(w, key);
    if (!kv)
        return fail(w, -ENOENT, "key %s: not present", key);
    free(kv->key);
    free(kv->val);
    size_t i = (size_t)(kv - w->kv);
    memmove(kv, kv + 1, (w->n_kv - i - 1) * sizeof *kv);
    w->n_kv--;
    return 0;
}

uint64_t aut_gguf_w_n_kv(const struct aut_gguf_w *w)
{
    return w->n_kv;
}

int aut_gguf_w_set_alignment(struct aut_gguf_w *w, uint32_t alignment)
{
    if (alignment == 0 || (alignment & (alignment - 1)))
        return fail(w, -EINVAL, "alignment %u is not a power of two", alignment);
    if (find_kv(w, ALIGN_KEY))
        aut_gguf_w_remove_kv(w, ALIGN_KEY);
    w->alignment = alignment;
    if (alignment == GGUF_DEFAULT_ALIGNMENT)
        return 0;
    uint8_t *val = malloc(4);
    if (!val)
        return fail(w, -ENOMEM, "%s: out of memory", ALIGN_KEY);
    memcpy(val, &alignment, 4);
    return push_kv(w, ALIGN_KEY, GGUF_T_UINT32, val, 4);
}

/* ---- tensors ----------------------------------------------------------------- */

static struct tensor *push_tensor(struct aut_gguf_w *w, const char *name)
{
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        struct tensor *t = realloc(w->t, cap * sizeof *t);
        if (!t)
            return NULL;
        w->t = t;
        w->cap_t = cap;
    }
    struct tensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name)))
        return NULL;
    t->name_len = strlen(name);
    w->n_t++;
    return t;
}

/* The byte size of a valid tensor, or 0 with w->err set. */
static size_t tensor_bytes(struct aut_gguf_w *w, const char *name, uint32_t type, uint32_t n_dims,
                           const uint64_t *ne)
{
    const struct slm_qtype_info *ti = slm_qtype_info(type);
    uint64_t rows = 1, row_bytes;
    size_t bytes;
    if (!ti)
        return fail(w, 0, "tensor %s: unknown ggml type %u", name, type);
    if (n_dims == 0 || n_dims > GGUF_MAX_DIMS)
        return fail(w, 0, "tensor %s: %u dimensions (need 1..%u)", name, n_dims, GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < n_dims; d++)
        if (ne[d] == 0 || (d > 0 && __builtin_mul_overflow(rows, ne[d], &rows)))
            return fail(w, 0, "tensor %s: dimension %u is %llu", name, d,
                        (unsigned long long)ne[d]);
    if (ne[0] % ti->blck)
        return fail(w, 0, "tensor %s: row of %llu not a multiple of the %s block %u", name,
                    (unsigned long long)ne[0], ti->name, ti->blck);
    row_bytes = ne[0] / ti->blck * ti->type_size;
    if (__builtin_mul_overflow(row_bytes, rows, &bytes) || bytes > (uint64_t)INT64_MAX)
        return fail(w, 0, "tensor %s: size overflows", name);
    return bytes;
}

/* Appends a tensor entry; owned (freed with the writer) is data when the
 * writer owns it, NULL when borrowed. On failure nothing is taken: the
 * caller still owns what it passed. */
static int append_tensor(struct aut_gguf_w *w, const char *name, uint32_t type, uint32_t n_dims,
                         const uint64_t *ne, const void *data, void *owned, size_t nbytes)
{
    struct tensor *t = push_tensor(w, name);
    if (!t)
        return fail(w, -ENOMEM, "tensor %s: out of memory", name);
    t->type = type;
    t->n_dims = n_dims;
    memcpy(t->ne, ne, n_dims * sizeof *ne);
    t->nbytes = nbytes;
    t->data = data;
    t->owned = owned;
    return 0;
}

int aut_gguf_w_add_tensor(struct aut_gguf_w *w, const char *name, uint32_t type, uint32_t n_dims,
                          const uint64_t *ne, const void *data, size_t nbytes,
                          enum aut_gguf_w_mode mode)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > GGUF_MAX_KEY_LEN)
        return fail(w, -EINVAL, "tensor name of %zu bytes (need 1..%u)", n, GGUF_MAX_KEY_LEN);
    if (aut_gguf_w_find_tensor(w, name) >= 0)
        return fail(w, -EEXIST, "duplicate tensor %s", name);
    size_t want = tensor_bytes(w, name, type, n_dims, ne);
    if (want == 0)
        return -EINVAL;
    if (nbytes != want || !data)
        return fail(w, -EINVAL, "tensor %s: data of %zu bytes, expected %zu", name, nbytes, want);
    void *copy = NULL;
    if (mode == AUT_GGUF_W_COPY) {
        if (!(copy = malloc(nbytes)))
            return fail(w, -ENOMEM, "tensor %s: out of memory", name);
        memcpy(copy, data, nbytes);
    }
    const void *use = copy ? copy : data;
    int rc = append_tensor(w, name, type, n_dims, ne, use,
                           mode == AUT_GGUF_W_BORROW ? NULL : (void *)use, nbytes);
    if (rc)
        free(copy); /* a taken buffer stays the caller's */
    return rc;
}

uint64_t aut_gguf_w_n_tensors(const struct aut_gguf_w *w)
{
    return w->n_t;
}

int aut_gguf_w_find_tensor(const struct aut_gguf_w *w, const char *name)
{
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return (int)i;
    return -ENOENT;
}

/* ---- layout ------------------------------------------------------------------ */

size_t aut_gguf_w_info_size(const struct aut_gguf_w *w)
{
    size_t n = 4 + 4 + 8 + 8;
    for (size_t i = 0; i < w->n_kv; i++)
        n += 8 + w->kv[i].key_len + 4 + w->kv[i].val_len;
    for (size_t i = 0; i < w->n_t; i++)
        n += 8 + w->t[i].name_len + 4 + 8 * (size_t)w->t[i].n_dims + 4 + 8;
    return n;
}

/* The data section: each tensor at the next aligned offset (plus its raw
 * shift), padded after; detached tensors take no room. Returns tensor t's
 * offset and advances *cursor past it. */
static uint64_t place(const struct aut_gguf_w *w, const struct tensor *t, uint64_t *cursor)
{
    uint64_t off = align_up(*cursor, w->alignment) + t->shift;
    *cursor = align_up(off + t->nbytes, w->alignment);
    return off;
}

static uint64_t data_size(const struct aut_gguf_w *w)
{
    uint64_t cursor = 0;
    for (size_t i = 0; i < w->n_t; i++)
        if (!w->t[i].detached)
            place(w, &w->t[i], &cursor);
    return cursor;
}

static void assign_offsets(struct aut_gguf_w *w)
{
    uint64_t cursor = 0;
    for (size_t i = 0; i < w->n_t; i++)
        if (!w->t[i].detached)
            w->t[i].offset = place(w, &w->t[i], &cursor);
}

size_t aut_gguf_w_file_size(const struct aut_gguf_w *w)
{
    return align_up(aut_gguf_w_info_size(w), w->alignment) + data_size(w);
}

/* ---- sink -------------------------------------------------------------------- */

static void sink_flush(struct sink *s)
{
    if (s->fd >= 0 && s->fill && !s->err)
        s->err = aut_write_all(s->fd, s->buf, s->fill);
    s->fill = 0;
}

static void sink_put(struct sink *s, const void *p, size_t n)
{
    uint64_t room = s->pos < s->limit ? s->limit - s->pos : 0;
    size_t take = n < room ? n : (size_t)room;
    if (s->fd < 0) {
        if (take)
            memcpy(s->mem + s->pos, p, take);
    } else if (take > SINK_BUF / 2) {
        sink_flush(s);
        if (!s->err)
            s->err = aut_write_all(s->fd, p, take);
    } else if (take) {
        if (s->fill + take > SINK_BUF)
            sink_flush(s);
        memcpy(s->buf + s->fill, p, take);
        s->fill += take;
    }
    s->pos += n;
}

static void sink_zeros(struct sink *s, uint64_t n)
{
    static const uint8_t zero[4096];
    while (n) {
        size_t k = n < sizeof zero ? (size_t)n : sizeof zero;
        sink_put(s, zero, k);
        n -= k;
    }
}

static void sink_u32(struct sink *s, uint32_t v)
{
    sink_put(s, &v, 4);
}

static void sink_u64(struct sink *s, uint64_t v)
{
    sink_put(s, &v, 8);
}

/* ---- serialization ----------------------------------------------------------- */

static void emit_header(const struct aut_gguf_w *w, struct sink *s)
{
    const struct aut_gguf_w_raw_header *r = &w->raw;
    sink_u32(s, r->set_magic ? r->magic : GGUF_MAGIC);
    sink_u32(s, r->set_version ? r->version : AUT_GGUF_W_VERSION);
    sink_u64(s, r->set_n_tensors ? r->n_tensors : w->n_t);
    sink_u64(s, r->set_n_kv ? r->n_kv : w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        const struct kv *kv = &w->kv[i];
        sink_u64(s, kv->key_len);
        sink_put(s, kv->key, kv->key_len);
        sink_u32(s, kv->type);
        sink_put(s, kv->val, kv->val_len);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const struct tensor *t = &w->t[i];
        sink_u64(s, t->name_len);
        sink_put(s, t->name, t->name_len);
        sink_u32(s, t->n_dims);
        sink_put(s, t->ne, 8 * (size_t)t->n_dims);
        sink_u32(s, t->type);
        sink_u64(s, t->offset);
    }
}

/* Emits the whole file (offsets must be assigned). */
static void emit(const struct aut_gguf_w *w, struct sink *s)
{
    emit_header(w, s);
    sink_zeros(s, align_up(s->pos, w->alignment) - s->pos);
    uint64_t cursor = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const struct tensor *t = &w->t[i];
        if (t->detached)
            continue;
        sink_zeros(s, t->offset - cursor);
        sink_put(s, t->data, t->nbytes);
        cursor = t->offset + t->nbytes;
    }
    sink_zeros(s, align_up(cursor, w->alignment) - cursor);
}

static uint64_t output_size(const struct aut_gguf_w *w)
{
    uint64_t full = aut_gguf_w_file_size(w);
    return w->raw.truncate_at && w->raw.truncate_at < full ? w->raw.truncate_at : full;
}

int aut_gguf_w_serialize(struct aut_gguf_w *w, uint8_t **out, size_t *size)
{
    uint64_t n = output_size(w);
    assign_offsets(w);
    if (n > SIZE_MAX / 2)
        return fail(w, -EFBIG, "gguf: %llu bytes do not fit in memory", (unsigned long long)n);
    uint8_t *mem = malloc(n ? (size_t)n : 1);
    if (!mem)
        return fail(w, -ENOMEM, "gguf: out of memory for %llu bytes", (unsigned long long)n);
    struct sink s = {.fd = -1, .mem = mem, .limit = n};
    emit(w, &s);
    *out = mem;
    *size = (size_t)n;
    return 0;
}

/* ---- atomic file output ------------------------------------------------------ */

typedef void (*emit_fn)(const void *ctx, struct sink *s);

static void set_msg(char *errbuf, size_t errlen, const char *what, const char *path, int rc)
{
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "%s %s: %s", what, path, strerror(-rc));
}

/* fsync of the directory holding path, so the rename itself is durable
 * (best effort: the file's own data is already synced). */
static void sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (!slash)
        strcpy(dir, ".");
    else if (n == 0)
        strcpy(dir, "/");
    else if (n < sizeof dir) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    } else
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int atomic_write(const char *path, emit_fn fn, const void *ctx, uint64_t limit, char *errbuf,
                        size_t errlen)
{
    char tmp[PATH_MAX];
    int rc = 0;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        set_msg(errbuf, errlen, "write", path, -ENAMETOOLONG);
        return -ENAMETOOLONG;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        set_msg(errbuf, errlen, "create", tmp, rc);
        return rc;
    }
    struct sink s = {.fd = fd, .buf = malloc(SINK_BUF), .limit = limit};
    if (!s.buf)
        s.err = -ENOMEM;
    if (!s.err)
        fn(ctx, &s);
    sink_flush(&s);
    free(s.buf);
    if ((rc = s.err))
        set_msg(errbuf, errlen, "write", tmp, rc);
    else if (fsync(fd) < 0)
        set_msg(errbuf, errlen, "fsync", tmp, rc = -errno);
    if (close(fd) < 0 && !rc)
        set_msg(errbuf, errlen, "close", tmp, rc = -errno);
    if (!rc && rename(tmp, path) < 0)
        set_msg(errbuf, errlen, "rename to", path, rc = -errno);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    sync_dir(path);
    return 0;
}

static void emit_writer(const void *ctx, struct sink *s)
{
    emit(ctx, s);
}

int aut_gguf_w_write(struct aut_gguf_w *w, const char *path)
{
    uint64_t n = output_size(w);
    assign_offsets(w);
    w->err[0] = '\0';
    return atomic_write(path, emit_writer, w, n, w->err, sizeof w->err);
}

struct bytes {
    const void *p;
    size_t n;
};

static void emit_bytes(const void *ctx, struct sink *s)
{
    const struct bytes *b = ctx;
    sink_put(s, b->p, b->n);
}

int aut_gguf_w_save_bytes(const char *path, const void *buf, size_t n, char *errbuf, size_t errlen)
{
    struct bytes b = {buf, n};
    return atomic_write(path, emit_bytes, &b, n, errbuf, errlen);
}

/* ---- escape hatch ------------------------------------------------------------ */

int aut_gguf_w_raw_header(struct aut_gguf_w *w, const struct aut_gguf_w_raw_header *h)
{
    w->raw = *h;
    return 0;
}

int aut_gguf_w_raw_kv(struct aut_gguf_w *w, const char *key, uint32_t vtype, const void *value,
                      size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return fail(w, -ENOMEM, "key %s: out of memory", key);
    if (n)
        memcpy(copy, value, n);
    return push_kv(w, key, vtype, copy, n);
}

int aut_gguf_w_raw_add_tensor(struct aut_gguf_w *w, const char *name, uint32_t type,
                              uint32_t n_dims, const uint64_t *ne, const void *data, size_t nbytes)
{
    if (n_dims > AUT_GGUF_W_RAW_MAX_DIMS)
        return fail(w, -EINVAL, "tensor %s: %u dimensions (raw limit %d)", name, n_dims,
                    AUT_GGUF_W_RAW_MAX_DIMS);
    void *copy = malloc(nbytes ? nbytes : 1);
    if (!copy)
        return fail(w, -ENOMEM, "tensor %s: out of memory", name);
    if (nbytes)
        memcpy(copy, data, nbytes);
    int rc = append_tensor(w, name, type, n_dims, ne, copy, copy, nbytes);
    if (rc)
        free(copy);
    return rc;
}

int aut_gguf_w_raw_tensor(struct aut_gguf_w *w, int index, const struct aut_gguf_w_raw_tensor *r)
{
    if (index < 0 || (size_t)index >= w->n_t || r->n_dims > AUT_GGUF_W_RAW_MAX_DIMS)
        return fail(w, -EINVAL, "raw tensor override: bad index %d or %u dims", index, r->n_dims);
    struct tensor *t = &w->t[index];
    if (r->n_dims) {
        t->n_dims = r->n_dims;
        memcpy(t->ne, r->ne, r->n_dims * sizeof *r->ne);
    }
    if (r->set_type)
        t->type = r->type;
    t->shift = r->shift;
    t->detached = r->detached;
    if (r->detached)
        t->offset = r->offset;
    return 0;
}
