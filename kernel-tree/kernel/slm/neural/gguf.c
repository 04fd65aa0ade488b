/*
 * gguf.c - the GGUF v2/v3 parser (see gguf.h): reads the header, metadata
 * and tensor infos in place, checks every length, count, offset and size
 * against the buffer with overflow-safe arithmetic, validates well-known keys
 * and builds the name -> index hash tables used by the lookups and getters.
 */
#include "gguf.h"
#include "qtypes.h"

typedef unsigned long long ull; /* for kfmt's %llu / %llx */

#define MIN_KV_BYTES (8u + 1 + 4 + 1)
#define MIN_TENSOR_BYTES (8u + 1 + 4 + 8 + 4 + 8)
#define NO_SLOT UINT32_MAX
#define NAME_CAP 96 /* bytes of a name quoted in a message */
#define TOKEN_TYPE_BYTE 6

/* Bytes of one value of each scalar type; 0 for STRING and ARRAY. */
static const uint8_t vsize[GGUF_T_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static const char *const vnames[GGUF_T_COUNT] = {
    "uint8", "int8",   "uint16", "int16",  "uint32", "int32",   "float32",
    "bool",  "string", "array",  "uint64", "int64",  "float64",
};

/* A cursor over the buffer; pos <= size always. */
struct ctx {
    const uint8_t *buf;
    size_t size, pos;
    struct gguf_file *gf;
    struct slm_err *err;
};

static int cap(uint64_t n)
{
    return n > NAME_CAP ? NAME_CAP : (int)n;
}

static bool is_int_type(uint32_t t)
{
    return t <= GGUF_T_INT32 || t == GGUF_T_UINT64 || t == GGUF_T_INT64;
}

static bool is_signed_type(uint32_t t)
{
    return t == GGUF_T_INT8 || t == GGUF_T_INT16 || t == GGUF_T_INT32 || t == GGUF_T_INT64;
}

const char *gguf_vtype_name(uint32_t type)
{
    return type < GGUF_T_COUNT ? vnames[type] : "unknown";
}

bool gguf_str_eq(struct gguf_str s, const char *z)
{
    size_t n = strlen(z);
    if (s.n != n)
        return false;
    return n == 0 || memcmp(s.p, z, n) == 0;
}

/* ---- cursor --------------------------------------------------------------- */

static bool have(const struct ctx *c, uint64_t n)
{
    return n <= c->size - c->pos;
}

static bool take_u32(struct ctx *c, uint32_t *v)
{
    if (!have(c, 4))
        return false;
    *v = slm_rd32(c->buf + c->pos);
    c->pos += 4;
    return true;
}

static bool take_u64(struct ctx *c, uint64_t *v)
{
    if (!have(c, 8))
        return false;
    *v = slm_rd64(c->buf + c->pos);
    c->pos += 8;
    return true;
}

/* A length-prefixed string of at most max bytes. Returns 0, SLM_E_TRUNCATED
 * or SLM_E_STRING (s->n then holds the offending length). */
static int take_str(struct ctx *c, uint64_t max, struct gguf_str *s)
{
    s->p = NULL;
    if (!take_u64(c, &s->n))
        return SLM_E_TRUNCATED;
    if (s->n > max)
        return SLM_E_STRING;
    if (!have(c, s->n))
        return SLM_E_TRUNCATED;
    s->p = (const char *)c->buf + c->pos;
    c->pos += (size_t)s->n;
    return 0;
}

/* ---- hash index ------------------------------------------------------------ */

static uint32_t fnv1a(const char *p, uint64_t n)
{
    uint32_t h = 2166136261u;
    for (uint64_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

static uint32_t index_size(uint64_t count)
{
    uint32_t n = 1;
    while (n < 2 * count)
        n <<= 1;
    return n;
}

/* Entries are structs of `stride` bytes that start with their struct gguf_str
 * name. Returns the entry index of the name, or NO_SLOT with *slot set to the
 * empty slot where it would go. The table always has an empty slot. */
static uint32_t index_probe(const uint32_t *tab, uint32_t size, const void *base, size_t stride,
                            const char *p, uint64_t n, uint32_t *slot)
{
    uint32_t mask = size - 1;
    for (uint32_t s = fnv1a(p, n) & mask;; s = (s + 1) & mask) {
        uint32_t i = tab[s];
        if (i == NO_SLOT) {
            *slot = s;
            return NO_SLOT;
        }
        const struct gguf_str *name =
            (const struct gguf_str *)(const void *)((const uint8_t *)base + stride * i);
        if (name->n == n && memcmp(name->p, p, (size_t)n) == 0)
            return i;
    }
}

static const struct gguf_kv *kv_lookup(const struct gguf_file *gf, const char *p, uint64_t n)
{
    uint32_t slot;
    if (!gf || !gf->kv_index || gf->kv_index_size == 0 || n == 0 || n > GGUF_MAX_KEY_LEN)
        return NULL;
    uint32_t i = index_probe(gf->kv_index, gf->kv_index_size, gf->kv, sizeof *gf->kv, p, n, &slot);
    return i == NO_SLOT ? NULL : &gf->kv[i];
}

const struct gguf_kv *gguf_find_kv(const struct gguf_file *gf, const char *key)
{
    return kv_lookup(gf, key, strlen(key));
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *gf, const char *name)
{
    size_t n = strlen(name);
    uint32_t slot;
    if (!gf || !gf->tensor_index || gf->tensor_index_size == 0 || n == 0 || n > GGUF_MAX_KEY_LEN)
        return NULL;
    uint32_t i = index_probe(gf->tensor_index, gf->tensor_index_size, gf->tensors,
                             sizeof *gf->tensors, name, n, &slot);
    return i == NO_SLOT ? NULL : &gf->tensors[i];
}

/* ---- pool ------------------------------------------------------------------ */

/*
 * Everything gguf_parse allocates stays allocated after it returns (it is
 * the bytes pool->used grows by, and also the peak growth): the kv and
 * tensor tables, the two hash indexes and the tensor sort order used for
 * the overlap check (n_tensors u32, kept so the figure is both exact and
 * enough for a pool sized to it).
 */
size_t gguf_pool_bytes(uint64_t n_kv, uint64_t n_tensors)
{
    if (n_kv > GGUF_MAX_KV || n_tensors > GGUF_MAX_TENSORS)
        return SIZE_MAX;
    size_t nk = (size_t)n_kv, nt = (size_t)n_tensors;
    return slm_pool_cost(nk * sizeof(struct gguf_kv)) +
           slm_pool_cost(nt * sizeof(struct gguf_tensor)) +
           slm_pool_cost(index_size(nk) * sizeof(uint32_t)) +
           slm_pool_cost(index_size(nt) * sizeof(uint32_t)) + slm_pool_cost(nt * sizeof(uint32_t));
}

static void *take(struct slm_pool *pool, size_t n, size_t align, bool *ok)
{
    void *m = *ok ? slm_pool_alloc(pool, n, align) : NULL;
    if (!m)
        *ok = false;
    return m;
}

static int alloc_tables(struct gguf_file *gf, struct slm_pool *pool, uint32_t **order,
                        struct slm_err *err)
{
    bool ok = true;
    size_t nk = (size_t)gf->n_kv, nt = (size_t)gf->n_tensors;
    gf->kv_index_size = index_size(nk);
    gf->tensor_index_size = index_size(nt);
    gf->kv = take(pool, nk * sizeof *gf->kv, _Alignof(struct gguf_kv), &ok);
    gf->tensors = take(pool, nt * sizeof *gf->tensors, _Alignof(struct gguf_tensor), &ok);
    gf->kv_index = take(pool, gf->kv_index_size * sizeof(uint32_t), sizeof(uint32_t), &ok);
    gf->tensor_index = take(pool, gf->tensor_index_size * sizeof(uint32_t), sizeof(uint32_t), &ok);
    *order = take(pool, nt * sizeof(uint32_t), sizeof(uint32_t), &ok);
    if (!ok)
        return slm_err_set(err, SLM_E_NOMEM, "gguf: pool exhausted (%zu bytes needed, %zu free)",
                           gguf_pool_bytes(nk, nt), pool->size - pool->used);
    memset(gf->kv_index, 0xff, gf->kv_index_size * sizeof(uint32_t));
    memset(gf->tensor_index, 0xff, gf->tensor_index_size * sizeof(uint32_t));
    return 0;
}

/* ---- header ---------------------------------------------------------------- */

static int parse_header(struct ctx *c)
{
    struct gguf_file *gf = c->gf;
    uint32_t magic;
    if (!take_u32(c, &magic))
        return slm_err_set(c->err, SLM_E_TRUNCATED, "gguf: file of %zu bytes has no header",
                           c->size);
    if (magic != GGUF_MAGIC)
        return slm_err_set(c->err, SLM_E_MAGIC, "gguf: bad magic 0x%08x (expected \"GGUF\")",
                           magic);
    if (!take_u32(c, &gf->version))
        return slm_err_set(c->err, SLM_E_TRUNCATED, "gguf: header truncated (%zu bytes)", c->size);
    if (gf->version == 1)
        return slm_err_set(c->err, SLM_E_VERSION,
                           "gguf: version 1 (32-bit counts) not supported, need 2 or 3");
    if (gf->version != 2 && gf->version != 3)
        return slm_err_set(c->err, SLM_E_VERSION, "gguf: version %u not supported, need 2 or 3",
                           gf->version);
    if (!take_u64(c, &gf->n_tensors) || !take_u64(c, &gf->n_kv))
        return slm_err_set(c->err, SLM_E_TRUNCATED, "gguf: header truncated (%zu bytes)", c->size);
    if (gf->n_kv > GGUF_MAX_KV)
        return slm_err_set(c->err, SLM_E_COUNT, "gguf: %llu metadata keys (limit %u)",
                           (ull)gf->n_kv, GGUF_MAX_KV);
    if (gf->n_tensors > GGUF_MAX_TENSORS)
        return slm_err_set(c->err, SLM_E_COUNT, "gguf: %llu tensors (limit %u)", (ull)gf->n_tensors,
                           GGUF_MAX_TENSORS);
    /* Reject counts the rest of the file cannot hold before allocating. */
    uint64_t need = gf->n_kv * MIN_KV_BYTES + gf->n_tensors * MIN_TENSOR_BYTES;
    if (!have(c, need))
        return slm_err_set(c->err, SLM_E_COUNT,
                           "gguf: %llu keys and %llu tensors cannot fit in %zu bytes",
                           (ull)gf->n_kv, (ull)gf->n_tensors, c->size);
    return 0;
}

/* ---- metadata -------------------------------------------------------------- */

/* The little-endian integer of n (1, 2, 4 or 8) bytes at p, sign-extended
 * when is_signed (the result then reads as an int64_t). */
static uint64_t rd_int(const uint8_t *p, unsigned n, bool is_signed)
{
    uint64_t v = n == 1 ? p[0] : n == 2 ? slm_rd16(p) : n == 4 ? slm_rd32(p) : slm_rd64(p);
    uint64_t sign = 1ull << (8 * n - 1);
    return is_signed && n < 8 ? (v ^ sign) - sign : v;
}

static void decode_scalar(uint32_t type, const uint8_t *p, struct gguf_kv *kv)
{
    if (is_int_type(type)) {
        kv->v.u = rd_int(p, vsize[type], is_signed_type(type));
    } else if (type == GGUF_T_FLOAT32) {
        float f;
        memcpy(&f, p, 4);
        kv->v.f = f;
    } else if (type == GGUF_T_FLOAT64) {
        memcpy(&kv->v.f, p, 8);
    } else {
        kv->v.b = p[0] != 0; /* BOOL */
    }
}

static int kv_fail(struct ctx *c, uint64_t i, const struct gguf_kv *kv, int code, const char *what)
{
    return slm_err_set(c->err, code, "kv %llu (key %.*s): %s", (ull)i, cap(kv->key.n), kv->key.p,
                       what);
}

/* Validates n length-prefixed strings at c->pos and steps over them: the
 * one pass over a vocabulary, so it is kept tight. */
static int walk_strings(struct ctx *c, uint64_t i, const struct gguf_kv *kv, uint64_t n)
{
    const uint8_t *b = c->buf;
    size_t size = c->size, pos = c->pos;
    for (uint64_t j = 0; j < n; j++) {
        if (size - pos < 8)
            return kv_fail(c, i, kv, SLM_E_TRUNCATED, "string array truncated");
        uint64_t len = slm_rd64(b + pos);
        pos += 8;
        if (len > GGUF_MAX_STRING_LEN)
            return slm_err_set(c->err, SLM_E_STRING,
                               "kv %llu (key %.*s): string %llu of length %llu (limit %u)", (ull)i,
                               cap(kv->key.n), kv->key.p, (ull)j, (ull)len, GGUF_MAX_STRING_LEN);
        if (len > size - pos)
            return kv_fail(c, i, kv, SLM_E_TRUNCATED, "string array truncated");
        pos += (size_t)len;
    }
    c->pos = pos;
    return 0;
}

static int parse_array(struct ctx *c, uint64_t i, struct gguf_kv *kv)
{
    uint32_t et;
    uint64_t n, bytes;
    if (!take_u32(c, &et) || !take_u64(c, &n))
        return kv_fail(c, i, kv, SLM_E_TRUNCATED, "array header truncated");
    if (et == GGUF_T_ARRAY)
        return kv_fail(c, i, kv, SLM_E_KV_TYPE, "nested arrays not supported");
    if (et >= GGUF_T_COUNT)
        return slm_err_set(c->err, SLM_E_KV_TYPE, "kv %llu (key %.*s): unknown element type %u",
                           (ull)i, cap(kv->key.n), kv->key.p, et);
    kv->v.arr.type = et;
    kv->v.arr.n = n;
    kv->v.arr.data = c->buf + c->pos;
    size_t start = c->pos;
    if (et == GGUF_T_STRING) {
        if (n > (c->size - c->pos) / 8)
            return kv_fail(c, i, kv, SLM_E_TRUNCATED, "array data truncated");
        int rc = walk_strings(c, i, kv, n);
        if (rc)
            return rc;
    } else {
        if (slm_mul_overflow(n, (uint64_t)vsize[et], &bytes))
            return slm_err_set(c->err, SLM_E_COUNT,
                               "kv %llu (key %.*s): array count %llu too large", (ull)i,
                               cap(kv->key.n), kv->key.p, (ull)n);
        if (!have(c, bytes))
            return kv_fail(c, i, kv, SLM_E_TRUNCATED, "array data truncated");
        c->pos += (size_t)bytes;
    }
    kv->v.arr.nbytes = c->pos - start;
    return 0;
}

static int parse_value(struct ctx *c, uint64_t i, struct gguf_kv *kv)
{
    if (!take_u32(c, &kv->type))
        return kv_fail(c, i, kv, SLM_E_TRUNCATED, "type truncated");
    if (kv->type >= GGUF_T_COUNT)
        return slm_err_set(c->err, SLM_E_KV_TYPE, "kv %llu (key %.*s): unknown value type %u",
                           (ull)i, cap(kv->key.n), kv->key.p, kv->type);
    if (kv->type == GGUF_T_ARRAY)
        return parse_array(c, i, kv);
    if (kv->type == GGUF_T_STRING) {
        int rc = take_str(c, GGUF_MAX_STRING_LEN, &kv->v.s);
        if (rc == SLM_E_STRING)
            return slm_err_set(c->err, rc, "kv %llu (key %.*s): string of length %llu (limit %u)",
                               (ull)i, cap(kv->key.n), kv->key.p, (ull)kv->v.s.n,
                               GGUF_MAX_STRING_LEN);
        return rc ? kv_fail(c, i, kv, rc, "string value truncated") : 0;
    }
    if (!have(c, vsize[kv->type]))
        return kv_fail(c, i, kv, SLM_E_TRUNCATED, "value truncated");
    decode_scalar(kv->type, c->buf + c->pos, kv);
    c->pos += vsize[kv->type];
    return 0;
}

static int parse_key(struct ctx *c, uint64_t i, struct gguf_kv *kv)
{
    struct gguf_file *gf = c->gf;
    int rc = take_str(c, GGUF_MAX_KEY_LEN, &kv->key);
    if (rc == SLM_E_TRUNCATED)
        return slm_err_set(c->err, rc, "kv %llu: key truncated", (ull)i);
    if (rc)
        return slm_err_set(c->err, rc, "kv %llu: key of length %llu (limit %u)", (ull)i,
                           (ull)kv->key.n, GGUF_MAX_KEY_LEN);
    if (kv->key.n == 0)
        return slm_err_set(c->err, SLM_E_STRING, "kv %llu: empty key", (ull)i);
    uint32_t slot;
    uint32_t dup = index_probe(gf->kv_index, gf->kv_index_size, gf->kv, sizeof *gf->kv, kv->key.p,
                               kv->key.n, &slot);
    if (dup != NO_SLOT)
        return slm_err_set(c->err, SLM_E_DUPLICATE, "duplicate key %.*s (kv %u and kv %llu)",
                           cap(kv->key.n), kv->key.p, dup, (ull)i);
    gf->kv_index[slot] = (uint32_t)i;
    return 0;
}

static int parse_kvs(struct ctx *c)
{
    for (uint64_t i = 0; i < c->gf->n_kv; i++) {
        struct gguf_kv *kv = &c->gf->kv[i];
        memset(kv, 0, sizeof *kv);
        int rc = parse_key(c, i, kv);
        if (!rc)
            rc = parse_value(c, i, kv);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- well-known keys ------------------------------------------------------- */

enum want {
    W_STR,      /* STRING */
    W_U32,      /* exactly UINT32 */
    W_TOKEN_ID, /* any integer type, 0..UINT32_MAX */
    W_BOOL,     /* BOOL */
    W_ARR_STR,  /* ARRAY of STRING */
    W_ARR_F32,  /* ARRAY of FLOAT32 */
    W_ARR_I32,  /* ARRAY of INT32 */
    W_NONNEG,   /* any integer type, >= 0 */
    W_BLOCKS,   /* W_NONNEG, <= GGUF_MAX_BLOCKS */
    W_FLOAT,    /* FLOAT32 or FLOAT64 */
};

struct known_key {
    const char *key;
    uint8_t want;
};

static const struct known_key fixed_keys[] = {
    {"general.architecture", W_STR},
    {"general.name", W_STR},
    {"general.file_type", W_U32},
    {"general.quantization_version", W_U32},
    {"tokenizer.ggml.model", W_STR},
    {"tokenizer.ggml.pre", W_STR},
    {"tokenizer.ggml.tokens", W_ARR_STR},
    {"tokenizer.ggml.merges", W_ARR_STR},
    {"tokenizer.ggml.scores", W_ARR_F32},
    {"tokenizer.ggml.token_type", W_ARR_I32},
    {"tokenizer.ggml.bos_token_id", W_TOKEN_ID},
    {"tokenizer.ggml.eos_token_id", W_TOKEN_ID},
    {"tokenizer.ggml.unknown_token_id", W_TOKEN_ID},
    {"tokenizer.ggml.padding_token_id", W_TOKEN_ID},
    {"tokenizer.ggml.add_bos_token", W_BOOL},
    {"tokenizer.ggml.add_eos_token", W_BOOL},
    {"tokenizer.ggml.add_space_prefix", W_BOOL},
};

/* Suffixes of "<arch>.<suffix>" keys. */
static const struct known_key arch_keys[] = {
    {"context_length", W_NONNEG},
    {"embedding_length", W_NONNEG},
    {"block_count", W_BLOCKS},
    {"feed_forward_length", W_NONNEG},
    {"attention.head_count", W_NONNEG},
    {"attention.head_count_kv", W_NONNEG},
    {"rope.dimension_count", W_NONNEG},
    {"vocab_size", W_NONNEG},
    {"attention.layer_norm_rms_epsilon", W_FLOAT},
    {"rope.freq_base", W_FLOAT},
};

static int want_type(const struct gguf_kv *kv, const char *key, uint32_t type, struct slm_err *err)
{
    if (kv->type == type)
        return 0;
    return slm_err_set(err, SLM_E_KV_TYPE, "key %s has type %s, expected %s", key,
                       gguf_vtype_name(kv->type), gguf_vtype_name(type));
}

static int want_array(const struct gguf_kv *kv, const char *key, uint32_t et, struct slm_err *err)
{
    if (kv->type != GGUF_T_ARRAY)
        return slm_err_set(err, SLM_E_KV_TYPE, "key %s has type %s, expected array of %s", key,
                           gguf_vtype_name(kv->type), gguf_vtype_name(et));
    if (kv->v.arr.type != et)
        return slm_err_set(err, SLM_E_ARRAY_TYPE, "key %s is an array of %s, expected array of %s",
                           key, gguf_vtype_name(kv->v.arr.type), gguf_vtype_name(et));
    return 0;
}

/* An integer of any width in 0..max; beyond max is `code` (a value error,
 * or an engine limit). */
static int want_int(const struct gguf_kv *kv, const char *key, uint64_t max, int code,
                    struct slm_err *err)
{
    if (!is_int_type(kv->type))
        return slm_err_set(err, SLM_E_KV_TYPE, "key %s has type %s, expected an integer", key,
                           gguf_vtype_name(kv->type));
    if (is_signed_type(kv->type) && kv->v.i < 0)
        return slm_err_set(err, SLM_E_KV_VALUE, "key %s is negative (%lld)", key,
                           (long long)kv->v.i);
    if (kv->v.u > max)
        return slm_err_set(err, code, "key %s is %llu (limit %llu)", key, (ull)kv->v.u, (ull)max);
    return 0;
}

static int check_known(const struct gguf_kv *kv, const char *key, uint8_t want, struct slm_err *err)
{
    switch (want) {
    case W_STR:
        return want_type(kv, key, GGUF_T_STRING, err);
    case W_U32:
        return want_type(kv, key, GGUF_T_UINT32, err);
    case W_BOOL:
        return want_type(kv, key, GGUF_T_BOOL, err);
    case W_ARR_STR:
        return want_array(kv, key, GGUF_T_STRING, err);
    case W_ARR_F32:
        return want_array(kv, key, GGUF_T_FLOAT32, err);
    case W_ARR_I32:
        return want_array(kv, key, GGUF_T_INT32, err);
    case W_TOKEN_ID:
        return want_int(kv, key, UINT32_MAX, SLM_E_KV_VALUE, err);
    case W_NONNEG:
        return want_int(kv, key, UINT64_MAX, SLM_E_KV_VALUE, err);
    case W_BLOCKS:
        return want_int(kv, key, GGUF_MAX_BLOCKS, SLM_E_LIMIT, err);
    case W_FLOAT:
        if (kv->type == GGUF_T_FLOAT32 || kv->type == GGUF_T_FLOAT64)
            return 0;
        return slm_err_set(err, SLM_E_KV_TYPE, "key %s has type %s, expected float32", key,
                           gguf_vtype_name(kv->type));
    default:
        return 0;
    }
}

static int check_fixed_keys(const struct gguf_file *gf, struct slm_err *err)
{
    for (size_t k = 0; k < SLM_ARRAY_SIZE(fixed_keys); k++) {
        const struct gguf_kv *kv = gguf_find_kv(gf, fixed_keys[k].key);
        int rc = kv ? check_known(kv, fixed_keys[k].key, fixed_keys[k].want, err) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

static int check_arch_keys(const struct gguf_file *gf, struct slm_err *err)
{
    char key[GGUF_MAX_KEY_LEN + 1];
    const struct gguf_kv *arch = gguf_find_kv(gf, "general.architecture");
    if (!arch || arch->v.s.n == 0 || arch->v.s.n >= GGUF_MAX_KEY_LEN)
        return 0;
    size_t an = (size_t)arch->v.s.n;
    memcpy(key, arch->v.s.p, an);
    key[an] = '.';
    for (size_t k = 0; k < SLM_ARRAY_SIZE(arch_keys); k++) {
        size_t sn = strlen(arch_keys[k].key);
        if (an + 1 + sn > GGUF_MAX_KEY_LEN)
            continue;
        memcpy(key + an + 1, arch_keys[k].key, sn + 1);
        const struct gguf_kv *kv = kv_lookup(gf, key, an + 1 + sn);
        int rc = kv ? check_known(kv, key, arch_keys[k].want, err) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

static bool is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static bool byte_token_ok(const char *p, uint64_t n)
{
    return n == 6 && memcmp(p, "<0x", 3) == 0 && is_hex(p[3]) && is_hex(p[4]) && p[5] == '>';
}

static bool looks_like_byte_token(const char *p, uint64_t n)
{
    return n >= 4 && memcmp(p, "<0x", 3) == 0 && p[n - 1] == '>';
}

/* Byte tokens (type 6, or <0x...> in a llama vocab without types) must be
 * exactly <0xHH>: the tokenizer decodes them with no further checks. */
static int check_byte_tokens(const struct gguf_file *gf, const struct gguf_kv *tokens,
                             const struct gguf_kv *types, struct slm_err *err)
{
    const struct gguf_kv *model = gguf_find_kv(gf, "tokenizer.ggml.model");
    bool llama = model && gguf_str_eq(model->v.s, "llama");
    if (!types && !llama)
        return 0;
    const uint8_t *p = tokens->v.arr.data;
    for (uint64_t j = 0; j < tokens->v.arr.n; j++) {
        uint64_t len = slm_rd64(p);
        const char *s = (const char *)p + 8;
        p += 8 + len;
        bool is_byte = types ? slm_rd32(types->v.arr.data + 4 * j) == TOKEN_TYPE_BYTE
                             : looks_like_byte_token(s, len);
        if (is_byte && !byte_token_ok(s, len))
            return slm_err_set(err, SLM_E_TOKEN,
                               "tokenizer.ggml.tokens: token %llu (%.*s) is a "
                               "byte token but not <0xHH>",
                               (ull)j, cap(len), s);
    }
    return 0;
}

static int check_vocab(const struct gguf_file *gf, struct slm_err *err)
{
    const struct gguf_kv *tokens = gguf_find_kv(gf, "tokenizer.ggml.tokens");
    const struct gguf_kv *scores = gguf_find_kv(gf, "tokenizer.ggml.scores");
    const struct gguf_kv *types = gguf_find_kv(gf, "tokenizer.ggml.token_type");
    if (!tokens)
        return 0;
    uint64_t n = tokens->v.arr.n;
    if (scores && scores->v.arr.n != n)
        return slm_err_set(err, SLM_E_COUNT,
                           "tokenizer.ggml.scores has %llu entries, "
                           "tokenizer.ggml.tokens %llu",
                           (ull)scores->v.arr.n, (ull)n);
    if (types && types->v.arr.n != n)
        return slm_err_set(err, SLM_E_COUNT,
                           "tokenizer.ggml.token_type has %llu entries, "
                           "tokenizer.ggml.tokens %llu",
                           (ull)types->v.arr.n, (ull)n);
    return check_byte_tokens(gf, tokens, types, err);
}

static int read_alignment(struct gguf_file *gf, struct slm_err *err)
{
    const struct gguf_kv *kv = gguf_find_kv(gf, "general.alignment");
    gf->alignment = GGUF_DEFAULT_ALIGNMENT;
    if (!kv)
        return 0;
    if (kv->type != GGUF_T_UINT32)
        return slm_err_set(err, SLM_E_ALIGN, "key general.alignment has type %s, expected %s",
                           gguf_vtype_name(kv->type), gguf_vtype_name(GGUF_T_UINT32));
    uint32_t a = (uint32_t)kv->v.u;
    if (a == 0 || (a & (a - 1)) != 0)
        return slm_err_set(err, SLM_E_ALIGN, "general.alignment %u is not a power of two", a);
    gf->alignment = a;
    return 0;
}

static int check_metadata(struct gguf_file *gf, struct slm_err *err)
{
    int rc = read_alignment(gf, err);
    if (!rc)
        rc = check_fixed_keys(gf, err);
    if (!rc)
        rc = check_arch_keys(gf, err);
    if (!rc)
        rc = check_vocab(gf, err);
    return rc;
}

/* ---- tensor infos ---------------------------------------------------------- */

static int tensor_fail(struct ctx *c, const struct gguf_tensor *t, int code, const char *what)
{
    return slm_err_set(c->err, code, "tensor %.*s: %s", cap(t->name.n), t->name.p, what);
}

static int parse_tensor_name(struct ctx *c, uint64_t i, struct gguf_tensor *t)
{
    struct gguf_file *gf = c->gf;
    int rc = take_str(c, GGUF_MAX_KEY_LEN, &t->name);
    if (rc == SLM_E_TRUNCATED)
        return slm_err_set(c->err, rc, "tensor %llu: name truncated", (ull)i);
    if (rc)
        return slm_err_set(c->err, rc, "tensor %llu: name of length %llu (limit %u)", (ull)i,
                           (ull)t->name.n, GGUF_MAX_KEY_LEN);
    if (t->name.n == 0)
        return slm_err_set(c->err, SLM_E_STRING, "tensor %llu: empty name", (ull)i);
    uint32_t slot;
    uint32_t dup = index_probe(gf->tensor_index, gf->tensor_index_size, gf->tensors,
                               sizeof *gf->tensors, t->name.p, t->name.n, &slot);
    if (dup != NO_SLOT)
        return slm_err_set(c->err, SLM_E_DUPLICATE,
                           "duplicate tensor name %.*s (tensors %u and "
                           "%llu)",
                           cap(t->name.n), t->name.p, dup, (ull)i);
    gf->tensor_index[slot] = (uint32_t)i;
    return 0;
}

/* Shape, type and byte size; the offset is checked once data_offset is known. */
static int check_geometry(struct ctx *c, struct gguf_tensor *t)
{
    uint64_t elems = 1, rows, row_bytes, nbytes;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        if (t->ne[d] == 0)
            return tensor_fail(c, t, SLM_E_DIMS, "zero dimension");
        if (slm_mul_overflow(elems, t->ne[d], &elems) || elems > (uint64_t)INT64_MAX)
            return tensor_fail(c, t, SLM_E_OVERFLOW, "element count overflows");
    }
    const struct slm_qtype_info *ti = slm_qtype_info(t->type);
    if (!ti)
        return slm_err_set(c->err, SLM_E_TENSOR_TYPE, "tensor %.*s: unknown or removed type %u",
                           cap(t->name.n), t->name.p, t->type);
    if (t->ne[0] % ti->blck)
        return slm_err_set(c->err, SLM_E_DIMS,
                           "tensor %.*s: row of %llu elements not a multiple of %s block %u",
                           cap(t->name.n), t->name.p, (ull)t->ne[0], ti->name, ti->blck);
    rows = elems / t->ne[0];
    if (slm_mul_overflow(t->ne[0] / ti->blck, (uint64_t)ti->type_size, &row_bytes) ||
        slm_mul_overflow(row_bytes, rows, &nbytes) || nbytes > SIZE_MAX)
        return tensor_fail(c, t, SLM_E_OVERFLOW, "byte size overflows");
    t->nbytes = (size_t)nbytes;
    return 0;
}

static int parse_tensor(struct ctx *c, uint64_t i, struct gguf_tensor *t)
{
    int rc = parse_tensor_name(c, i, t);
    if (rc)
        return rc;
    if (!take_u32(c, &t->n_dims))
        return tensor_fail(c, t, SLM_E_TRUNCATED, "info truncated");
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return slm_err_set(c->err, SLM_E_DIMS, "tensor %.*s: %u dimensions (need 1..%u)",
                           cap(t->name.n), t->name.p, t->n_dims, GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d < t->n_dims && !take_u64(c, &t->ne[d]))
            return tensor_fail(c, t, SLM_E_TRUNCATED, "info truncated");
    }
    if (!take_u32(c, &t->type) || !take_u64(c, &t->offset))
        return tensor_fail(c, t, SLM_E_TRUNCATED, "info truncated");
    return check_geometry(c, t);
}

static int parse_tensors(struct ctx *c)
{
    for (uint64_t i = 0; i < c->gf->n_tensors; i++) {
        struct gguf_tensor *t = &c->gf->tensors[i];
        memset(t, 0, sizeof *t);
        int rc = parse_tensor(c, i, t);
        if (rc)
            return rc;
    }
    return 0;
}

/* Aligns the data section and places every tensor inside the buffer. */
static int place_tensors(struct ctx *c)
{
    struct gguf_file *gf = c->gf;
    size_t a = gf->alignment, start, end;
    if (slm_add_overflow(c->pos, a - 1, &gf->data_offset))
        return slm_err_set(c->err, SLM_E_OVERFLOW, "gguf: data offset overflows");
    gf->data_offset &= ~(a - 1);
    for (uint64_t i = 0; i < gf->n_tensors; i++) {
        struct gguf_tensor *t = &gf->tensors[i];
        if (t->offset % a)
            return slm_err_set(c->err, SLM_E_ALIGN,
                               "tensor %.*s: data offset 0x%llx not a multiple of %u",
                               cap(t->name.n), t->name.p, (ull)t->offset, gf->alignment);
        if (t->offset > SIZE_MAX || slm_add_overflow(gf->data_offset, (size_t)t->offset, &start))
            return slm_err_set(c->err, SLM_E_BOUNDS,
                               "tensor %.*s: data offset 0x%llx beyond "
                               "end of file (0x%zx)",
                               cap(t->name.n), t->name.p, (ull)t->offset, c->size);
        if (slm_add_overflow(start, t->nbytes, &end) || end > c->size)
            return slm_err_set(c->err, SLM_E_BOUNDS,
                               "tensor %.*s: data [offset 0x%zx+0x%zx] "
                               "beyond end of file (0x%zx)",
                               cap(t->name.n), t->name.p, start, t->nbytes, c->size);
        t->data = c->buf + start;
    }
    return 0;
}

/* ---- overlap --------------------------------------------------------------- */

static bool before(const struct gguf_tensor *t, uint32_t a, uint32_t b)
{
    return t[a].offset < t[b].offset || (t[a].offset == t[b].offset && a < b);
}

static void sift_down(uint32_t *h, size_t root, size_t n, const struct gguf_tensor *t)
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && before(t, h[child], h[child + 1]))
            child++;
        if (!before(t, h[root], h[child]))
            return;
        uint32_t tmp = h[root];
        h[root] = h[child];
        h[child] = tmp;
    }
}

/* Heapsort: no recursion, no scratch beyond the order array itself. */
static void sort_by_offset(uint32_t *order, size_t n, const struct gguf_tensor *t)
{
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(order, i, n, t);
    for (size_t end = n; end-- > 1;) {
        uint32_t tmp = order[0];
        order[0] = order[end];
        order[end] = tmp;
        sift_down(order, 0, end, t);
    }
}

static int check_overlap(struct ctx *c, uint32_t *order)
{
    const struct gguf_tensor *t = c->gf->tensors;
    size_t n = (size_t)c->gf->n_tensors;
    sort_by_offset(order, n, t);
    for (size_t k = 1; k < n; k++) {
        const struct gguf_tensor *a = &t[order[k - 1]], *b = &t[order[k]];
        if (a->offset + a->nbytes > b->offset) /* both lie inside the file: no overflow */
            return slm_err_set(c->err, SLM_E_OVERLAP,
                               "tensors %.*s [0x%llx+0x%zx] and %.*s [0x%llx+0x%zx] overlap",
                               cap(a->name.n), a->name.p, (ull)a->offset, a->nbytes, cap(b->name.n),
                               b->name.p, (ull)b->offset, b->nbytes);
    }
    return 0;
}

/* ---- entry point ----------------------------------------------------------- */

/* On failure the pool is given back to where it was (its peak remembers). */
int gguf_parse(struct gguf_file *gf, const uint8_t *buf, size_t size, struct slm_pool *pool,
               struct slm_err *err)
{
    struct ctx c = {.buf = buf, .size = size, .pos = 0, .gf = gf, .err = err};
    size_t mark = slm_pool_mark(pool);
    uint32_t *order = NULL;
    memset(gf, 0, sizeof *gf);
    gf->buf = buf;
    gf->size = size;
    if (!buf && size)
        return slm_err_set(err, SLM_E_INVAL, "gguf: NULL buffer");
    int rc = parse_header(&c);
    if (!rc)
        rc = alloc_tables(gf, pool, &order, err);
    if (!rc)
        rc = parse_kvs(&c);
    if (!rc)
        rc = check_metadata(gf, err);
    if (!rc)
        rc = parse_tensors(&c);
    if (!rc)
        rc = place_tensors(&c);
    if (!rc)
        rc = check_overlap(&c, order);
    if (rc)
        slm_pool_reset(pool, mark);
    return rc;
}

/* ---- getters --------------------------------------------------------------- */

static int find_or_fail(const struct gguf_file *gf, const char *key, const struct gguf_kv **kv,
                        struct slm_err *err)
{
    *kv = gguf_find_kv(gf, key);
    return *kv ? 0 : slm_err_set(err, SLM_E_MISSING, "key %s not found", key);
}

static int get_uint(const struct gguf_file *gf, const char *key, uint64_t max, uint64_t *out,
                    struct slm_err *err)
{
    const struct gguf_kv *kv;
    int rc = find_or_fail(gf, key, &kv, err);
    if (rc)
        return rc;
    if (!is_int_type(kv->type))
        return slm_err_set(err, SLM_E_KV_TYPE, "key %s has type %s, expected an integer", key,
                           gguf_vtype_name(kv->type));
    if ((is_signed_type(kv->type) && kv->v.i < 0) || kv->v.u > max)
        return slm_err_set(err, SLM_E_KV_VALUE, "key %s: value %s%llu out of range", key,
                           is_signed_type(kv->type) && kv->v.i < 0 ? "-" : "",
                           is_signed_type(kv->type) && kv->v.i < 0 ? 0ull - (ull)kv->v.u
                                                                   : (ull)kv->v.u);
    *out = kv->v.u;
    return 0;
}

int gguf_get_u32(const struct gguf_file *gf, const char *key, uint32_t *out, struct slm_err *err)
{
    uint64_t v;
    int rc = get_uint(gf, key, UINT32_MAX, &v, err);
    if (!rc)
        *out = (uint32_t)v;
    return rc;
}

int gguf_get_u64(const struct gguf_file *gf, const char *key, uint64_t *out, struct slm_err *err)
{
    return get_uint(gf, key, UINT64_MAX, out, err);
}

int gguf_get_f32(const struct gguf_file *gf, const char *key, float *out, struct slm_err *err)
{
    const struct gguf_kv *kv;
    int rc = find_or_fail(gf, key, &kv, err);
    if (rc)
        return rc;
    if (kv->type != GGUF_T_FLOAT32 && kv->type != GGUF_T_FLOAT64)
        return slm_err_set(err, SLM_E_KV_TYPE, "key %s has type %s, expected float32", key,
                           gguf_vtype_name(kv->type));
    *out = (float)kv->v.f;
    return 0;
}

int gguf_get_bool(const struct gguf_file *gf, const char *key, bool *out, struct slm_err *err)
{
    const struct gguf_kv *kv;
    int rc = find_or_fail(gf, key, &kv, err);
    if (!rc)
        rc = want_type(kv, key, GGUF_T_BOOL, err);
    if (!rc)
        *out = kv->v.b;
    return rc;
}

int gguf_get_str(const struct gguf_file *gf, const char *key, struct gguf_str *out,
                 struct slm_err *err)
{
    const struct gguf_kv *kv;
    int rc = find_or_fail(gf, key, &kv, err);
    if (!rc)
        rc = want_type(kv, key, GGUF_T_STRING, err);
    if (!rc)
        *out = kv->v.s;
    return rc;
}

int gguf_get_arr(const struct gguf_file *gf, const char *key, uint32_t elem_type,
                 const struct gguf_kv **out, struct slm_err *err)
{
    const struct gguf_kv *kv;
    int rc = find_or_fail(gf, key, &kv, err);
    if (!rc)
        rc = want_array(kv, key, elem_type, err);
    if (!rc)
        *out = kv;
    return rc;
}

void gguf_arr_strings(const struct gguf_kv *kv, struct gguf_str *out)
{
    const uint8_t *p = kv->v.arr.data;
    if (kv->type != GGUF_T_ARRAY || kv->v.arr.type != GGUF_T_STRING)
        return;
    for (uint64_t j = 0; j < kv->v.arr.n; j++) {
        out[j].n = slm_rd64(p);
        out[j].p = (const char *)p + 8;
        p += 8 + out[j].n;
    }
}

/* Element i of an integer (or bool) array as an int64 and whether it is one;
 * uint64 values beyond INT64_MAX saturate. */
static bool arr_int(const struct gguf_kv *kv, uint64_t i, int64_t *v)
{
    uint32_t t = kv->v.arr.type;
    if (kv->type != GGUF_T_ARRAY || i >= kv->v.arr.n || (!is_int_type(t) && t != GGUF_T_BOOL))
        return false;
    uint64_t u = rd_int(kv->v.arr.data + i * vsize[t], vsize[t], is_signed_type(t));
    if (t == GGUF_T_BOOL)
        u = u != 0;
    else if (t == GGUF_T_UINT64 && u > INT64_MAX)
        u = INT64_MAX;
    *v = (int64_t)u;
    return true;
}

float gguf_arr_f32(const struct gguf_kv *kv, uint64_t i)
{
    int64_t iv;
    if (kv->type != GGUF_T_ARRAY || i >= kv->v.arr.n)
        return 0.0f;
    if (kv->v.arr.type == GGUF_T_FLOAT32) {
        float f;
        memcpy(&f, kv->v.arr.data + i * 4, 4);
        return f;
    }
    if (kv->v.arr.type == GGUF_T_FLOAT64) {
        double d;
        memcpy(&d, kv->v.arr.data + i * 8, 8);
        return (float)d;
    }
    return arr_int(kv, i, &iv) ? (float)iv : 0.0f;
}

int64_t gguf_arr_i64(const struct gguf_kv *kv, uint64_t i)
{
    int64_t v;
    return arr_int(kv, i, &v) ? v : 0;
}
