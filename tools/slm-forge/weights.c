/*
 * weights.c - the tensor plan of a llama model and its seeded random init,
 * or its trained weights read from an AUTW file (--weights, at the end).
 *
 * Names, shapes and order are llama.cpp's. Matrices start as N(0, 0.02),
 * the projections back into the residual stream (attn_output, ffn_down)
 * scaled by 1/sqrt(2 * layers) so activations stay finite through the whole
 * network; norms are 1. A row whose length is not a multiple of the type's
 * block falls back (K-quants to Q8_0, then to F16) as llama.cpp does.
 *
 * Values come from splitmix64 streams + Box-Muller (polar form), one stream per chunk of
 * a tensor seeded from (seed, tensor name, chunk): chunks have a fixed size,
 * so the bytes do not depend on how many threads generate them. Quantizing
 * uses the engine's scalar (reference) kernels.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forge.h"
#include "fp16.h"
#include "mapfile.h"
#include "quant.h"

#define SIGMA 0.02f
#define CHUNK_ELEMS (1u << 20) /* elements per PRNG stream (whole rows, at least one) */
#define MAX_THREADS 16

/* ---- the plan ---------------------------------------------------------------- */

/* The type a row of n elements can have: `want`, or its fallback. */
static uint32_t fit_type(uint32_t want, uint64_t n)
{
    if (n % slm_qtype_info(want)->blck == 0)
        return want;
    if ((want == SLM_Q_Q4_K || want == SLM_Q_Q6_K) && n % SLM_QK8_0 == 0)
        return SLM_Q_Q8_0;
    return SLM_Q_F16;
}

static void plan_add(struct aut_forge_plan *p, const char *name, uint32_t type, uint64_t ne0,
                     uint64_t ne1, float sigma)
{
    struct aut_forge_tensor *t = &p->t[p->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->wanted = type;
    t->type = ne1 ? fit_type(type, ne0) : SLM_Q_F32;
    t->n_dims = ne1 ? 2 : 1;
    t->ne[0] = ne0;
    t->ne[1] = ne1 ? ne1 : 1;
    t->sigma = sigma;
    p->n_params += ne0 * t->ne[1];
}

int aut_forge_plan_build(struct aut_forge_plan *p, const struct aut_forge_hparams *hp,
                         uint32_t weight_type, uint32_t output_type, bool embd_as_output)
{
    uint64_t d = hp->dim, kv = (uint64_t)hp->n_kv_heads * (hp->dim / hp->n_heads);
    float sigma_out = SIGMA / sqrtf(2.0f * (float)hp->n_layers);
    char name[64];
    memset(p, 0, sizeof *p);
    p->t = calloc(3 + 9 * (size_t)hp->n_layers, sizeof *p->t);
    if (!p->t)
        return -ENOMEM;
    plan_add(p, "token_embd.weight", hp->tied && embd_as_output ? output_type : weight_type, d,
             hp->vocab, SIGMA);
    for (uint32_t i = 0; i < hp->n_layers; i++) {
#define LAYER(s) (snprintf(name, sizeof name, "blk.%u." s, i), name)
        plan_add(p, LAYER("attn_norm.weight"), SLM_Q_F32, d, 0, 0.0f);
        plan_add(p, LAYER("attn_q.weight"), weight_type, d, d, SIGMA);
        plan_add(p, LAYER("attn_k.weight"), weight_type, d, kv, SIGMA);
        plan_add(p, LAYER("attn_v.weight"), weight_type, d, kv, SIGMA);
        plan_add(p, LAYER("attn_output.weight"), weight_type, d, d, sigma_out);
        plan_add(p, LAYER("ffn_norm.weight"), SLM_Q_F32, d, 0, 0.0f);
        plan_add(p, LAYER("ffn_gate.weight"), weight_type, d, hp->ffn, SIGMA);
        plan_add(p, LAYER("ffn_up.weight"), weight_type, d, hp->ffn, SIGMA);
        plan_add(p, LAYER("ffn_down.weight"), weight_type, hp->ffn, d, sigma_out);
#undef LAYER
    }
    plan_add(p, "output_norm.weight", SLM_Q_F32, d, 0, 0.0f);
    if (!hp->tied)
        plan_add(p, "output.weight", output_type, d, hp->vocab, SIGMA);
    p->embd_type = p->t[0].type;
    p->output_type = hp->tied ? p->t[0].type : p->t[p->n - 1].type;
    return 0;
}

void aut_forge_plan_release(struct aut_forge_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->t[i].data);
    free(p->t);
    memset(p, 0, sizeof *p);
}

/* ---- random numbers ---------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t stream_seed(uint64_t seed, const char *name, uint64_t chunk)
{
    uint64_t h = 1469598103934665603ull, s;
    for (const char *c = name; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    s = seed ^ h;
    s = splitmix64(&s) ^ chunk;
    return splitmix64(&s);
}

/* n values of N(0, sigma) by Box-Muller in Marsaglia's polar form (no
 * trigonometry: about twice as fast). One 64-bit draw gives two uniforms of
 * 24 bits in [-1, 1); pairs outside the unit disc are redrawn. */
static void gaussian(float *out, size_t n, float sigma, uint64_t state)
{
    const float scale = 1.0f / 8388608.0f; /* 2^-23 */
    for (size_t i = 0; i < n;) {
        uint64_t x = splitmix64(&state);
        float u = (float)((x >> 40) & 0xffffff) * scale - 1.0f;
        float v = (float)(x & 0xffffff) * scale - 1.0f;
        float s = u * u + v * v;
        if (s >= 1.0f || s == 0.0f)
            continue;
        float f = sigma * sqrtf(-2.0f * logf(s) / s);
        out[i++] = u * f;
        if (i < n)
            out[i++] = v * f;
    }
}

/* ---- quantization -------------------------------------------------------------- */

/* n floats (whole rows) of src into dst as `type`. */
static void convert(uint32_t type, const float *src, void *dst, size_t n)
{
    if (type == SLM_Q_F32) {
        memcpy(dst, src, n * sizeof *src);
    } else if (type == SLM_Q_F16) {
        uint16_t *h = dst;
        for (size_t i = 0; i < n; i++)
            h[i] = slm_f32_to_f16(src[i]);
    } else if (type == SLM_Q_BF16) {
        uint16_t *h = dst;
        for (size_t i = 0; i < n; i++)
            h[i] = slm_f32_to_bf16(src[i]);
    } else {
        slm_qops_get(type, SLM_ISA_SCALAR)->from_float(src, dst, (int64_t)n);
    }
}

static bool can_convert(uint32_t type)
{
    const struct slm_qops *ops;
    if (type == SLM_Q_F32 || type == SLM_Q_F16 || type == SLM_Q_BF16)
        return true;
    ops = slm_qops_get(type, SLM_ISA_SCALAR);
    return ops && ops->from_float;
}

/* ---- work items: (tensor, chunk) ---------------------------------------------- */

struct item {
    struct aut_forge_tensor *t;
    uint64_t chunk; /* index within the tensor */
    uint64_t row0, rows;
};

struct work {
    struct item *items;
    size_t n_items;
    size_t next; /* under lock */
    uint64_t seed;
    size_t max_elems; /* per item */
    pthread_mutex_t lock;
    int err;
};

static void run_item(const struct work *w, const struct item *it, float *buf)
{
    struct aut_forge_tensor *t = it->t;
    size_t n = (size_t)(it->rows * t->ne[0]);
    size_t row_bytes = slm_qtype_row_bytes(t->type, t->ne[0]);
    if (t->sigma == 0.0f)
        for (size_t i = 0; i < n; i++)
            buf[i] = 1.0f;
    else
        gaussian(buf, n, t->sigma, stream_seed(w->seed, t->name, it->chunk));
    convert(t->type, buf, (uint8_t *)t->data + it->row0 * row_bytes, n);
}

static void *worker(void *arg)
{
    struct work *w = arg;
    float *buf = malloc(w->max_elems * sizeof *buf);
    if (!buf) {
        pthread_mutex_lock(&w->lock);
        w->err = -ENOMEM;
        pthread_mutex_unlock(&w->lock);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&w->lock);
        size_t i = w->err ? w->n_items : w->next++;
        pthread_mutex_unlock(&w->lock);
        if (i >= w->n_items)
            break;
        run_item(w, &w->items[i], buf);
    }
    free(buf);
    return NULL;
}

/* Splits every tensor into chunks of whole rows and allocates its data. */
static int make_items(struct aut_forge_plan *p, struct work *w)
{
    size_t cap = 0;
    for (size_t i = 0; i < p->n; i++) {
        uint64_t per = SLM_MAX(1, CHUNK_ELEMS / p->t[i].ne[0]);
        cap += (size_t)((p->t[i].ne[1] + per - 1) / per);
    }
    if (!(w->items = calloc(cap, sizeof *w->items)))
        return -ENOMEM;
    for (size_t i = 0; i < p->n; i++) {
        struct aut_forge_tensor *t = &p->t[i];
        uint64_t per = SLM_MAX(1, CHUNK_ELEMS / t->ne[0]);
        t->nbytes = slm_qtype_row_bytes(t->type, t->ne[0]) * (size_t)t->ne[1];
        if (!(t->data = malloc(t->nbytes)))
            return -ENOMEM;
        for (uint64_t r = 0, c = 0; r < t->ne[1]; r += per, c++) {
            w->items[w->n_items++] = (struct item){t, c, r, SLM_MIN(per, t->ne[1] - r)};
            w->max_elems = SLM_MAX(w->max_elems, (size_t)(per * t->ne[0]));
        }
    }
    return 0;
}

int aut_forge_weights_make(struct aut_forge_plan *p, uint64_t seed, char *err, size_t errlen)
{
    struct work w = {.seed = seed};
    pthread_t tid[MAX_THREADS];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = (int)SLM_MAX(1, SLM_MIN(ncpu, MAX_THREADS)), started = 0;
    for (size_t i = 0; i < p->n; i++)
        if (!can_convert(p->t[i].type)) {
            snprintf(err, errlen, "tensor %s: the engine has no quantizer for %s", p->t[i].name,
                     aut_forge_type_name(p->t[i].type));
            return -ENOTSUP;
        }
    int rc = make_items(p, &w);
    if (!rc && pthread_mutex_init(&w.lock, NULL) == 0) {
        for (; started < nthreads; started++)
            if (pthread_create(&tid[started], NULL, worker, &w))
                break;
        if (started == 0)
            worker(&w);
        for (int i = 0; i < started; i++)
            pthread_join(tid[i], NULL);
        pthread_mutex_destroy(&w.lock);
        rc = w.err;
    } else if (!rc) {
        rc = -ENOMEM;
    }
    free(w.items);
    if (rc)
        snprintf(err, errlen, "weights: %s", strerror(-rc));
    return rc;
}

/* ---- trained weights from a file (--weights) ------------------------------------ */

/*
 * The AUTW format (tools/train/train.py writes it), all little-endian:
 *   "AUTW"  u32 version (1)  u32 tensor count
 *   per tensor: u32 name length (1..63), the name (no NUL), u32 n_dims (1..2),
 *               u64 ne[n_dims] (ne[0] is the row length, as in GGUF),
 *               f32 data[ne[0] * ... ] (rows one after another)
 * and nothing after the last tensor. The file must hold every tensor of the
 * plan exactly once, in any order, with the plan's shape, and only finite
 * values. Everything is checked before anything is written.
 */

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd_u64(const uint8_t *p)
{
    return (uint64_t)rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32;
}

/* "[a]" or "[a, b]" */
static const char *shape_str(char *buf, size_t n, uint32_t n_dims, const uint64_t *ne)
{
    if (n_dims == 1)
        snprintf(buf, n, "[%llu]", (unsigned long long)ne[0]);
    else
        snprintf(buf, n, "[%llu, %llu]", (unsigned long long)ne[0], (unsigned long long)ne[1]);
    return buf;
}

static struct aut_forge_tensor *plan_find(struct aut_forge_plan *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->t[i].name, name) == 0)
            return &p->t[i];
    return NULL;
}

/* One tensor's f32 data at src (n elements, any alignment) into t->data. */
static int load_one(struct aut_forge_tensor *t, const uint8_t *src, uint64_t n, float *buf,
                    const char *path, char *err, size_t errlen)
{
    for (uint64_t i = 0; i < n; i++) {
        uint32_t bits = rd_u32(src + 4 * i);
        memcpy(&buf[i], &bits, 4);
        if (!isfinite(buf[i])) {
            snprintf(err, errlen, "weights %s: tensor %s: element %llu is not finite (%g)", path,
                     t->name, (unsigned long long)i, (double)buf[i]);
            return -EINVAL;
        }
    }
    t->nbytes = slm_qtype_row_bytes(t->type, t->ne[0]) * (size_t)t->ne[1];
    if (!(t->data = malloc(t->nbytes))) {
        snprintf(err, errlen, "weights %s: tensor %s: out of memory", path, t->name);
        return -ENOMEM;
    }
    convert(t->type, buf, t->data, (size_t)n);
    return 0;
}

#define AUTW_FAIL(...)                                                                             \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        rc = -EINVAL;                                                                              \
        goto out;                                                                                  \
    } while (0)

int aut_forge_weights_load(struct aut_forge_plan *p, const char *path, char *err, size_t errlen)
{
    struct aut_mapfile f = {0};
    bool *seen = calloc(p->n ? p->n : 1, sizeof *seen);
    float *buf = NULL;
    uint64_t max_elems = 0;
    int rc = seen ? aut_mapfile_open(&f, path, err, errlen) : -ENOMEM;
    if (rc) {
        if (!seen)
            snprintf(err, errlen, "weights %s: out of memory", path);
        else if (strncmp(err, path, strlen(path)) == 0) { /* "weights path: reason" */
            char tmp[FORGE_ERR];
            snprintf(tmp, sizeof tmp, "weights %s", err);
            snprintf(err, errlen, "%s", tmp);
        }
        free(seen);
        return rc;
    }
    for (size_t i = 0; i < p->n; i++) {
        if (!can_convert(p->t[i].type))
            AUTW_FAIL("tensor %s: the engine has no quantizer for %s", p->t[i].name,
                      aut_forge_type_name(p->t[i].type));
        max_elems = SLM_MAX(max_elems, p->t[i].ne[0] * p->t[i].ne[1]);
    }
    if (!(buf = malloc((size_t)(max_elems ? max_elems : 1) * sizeof *buf)))
        AUTW_FAIL("weights %s: out of memory", path);
    const uint8_t *d = f.data;
    uint64_t size = f.size, off = 12;
    if (size < 12 || memcmp(d, "AUTW", 4) != 0)
        AUTW_FAIL("weights %s: not an AUTW weights file (%s)", path,
                  size < 12 ? "shorter than its 12-byte header" : "bad magic");
    if (rd_u32(d + 4) != 1)
        AUTW_FAIL("weights %s: version %u, slm-forge reads version 1", path, rd_u32(d + 4));
    uint32_t count = rd_u32(d + 8);
    for (uint32_t k = 0; k < count; k++) {
        char name[64];
        if (size - off < 4)
            AUTW_FAIL("weights %s: truncated: tensor %u of %u has no header (offset %llu)", path,
                      k + 1, count, (unsigned long long)off);
        uint32_t nlen = rd_u32(d + off);
        off += 4;
        if (nlen == 0 || nlen >= sizeof name)
            AUTW_FAIL("weights %s: tensor %u of %u: name length %u not in 1..63", path, k + 1,
                      count, nlen);
        if (size - off < nlen)
            AUTW_FAIL("weights %s: truncated in the name of tensor %u of %u", path, k + 1, count);
        memcpy(name, d + off, nlen);
        name[nlen] = '\0';
        off += nlen;
        if (strlen(name) != nlen)
            AUTW_FAIL("weights %s: tensor %u of %u: name holds a NUL byte", path, k + 1, count);
        struct aut_forge_tensor *t = plan_find(p, name);
        if (!t)
            AUTW_FAIL("weights %s: tensor %s: not a tensor of this model (hyperparameters "
                      "differ?)",
                      path, name);
        if (seen[t - p->t])
            AUTW_FAIL("weights %s: tensor %s: given twice", path, name);
        seen[t - p->t] = true;
        if (size - off < 4)
            AUTW_FAIL("weights %s: tensor %s: truncated in its header", path, name);
        uint32_t nd = rd_u32(d + off);
        off += 4;
        if (nd < 1 || nd > 2)
            AUTW_FAIL("weights %s: tensor %s: %u dimensions, expected %u", path, name, nd,
                      t->n_dims);
        if (size - off < 8ull * nd)
            AUTW_FAIL("weights %s: tensor %s: truncated in its header", path, name);
        uint64_t ne[2] = {rd_u64(d + off), nd == 2 ? rd_u64(d + off + 8) : 1};
        off += 8ull * nd;
        if (nd != t->n_dims || ne[0] != t->ne[0] || ne[1] != t->ne[1]) {
            char got[48], want[48];
            AUTW_FAIL("weights %s: tensor %s: shape %s, the model needs %s", path, name,
                      shape_str(got, sizeof got, nd, ne),
                      shape_str(want, sizeof want, t->n_dims, t->ne));
        }
        uint64_t n = t->ne[0] * t->ne[1]; /* the plan's: no overflow */
        if ((size - off) / 4 < n)
            AUTW_FAIL("weights %s: tensor %s: truncated: %llu bytes of data at offset %llu, the "
                      "file has %llu",
                      path, name, (unsigned long long)(4 * n), (unsigned long long)off,
                      (unsigned long long)(size - off));
        if ((rc = load_one(t, d + off, n, buf, path, err, errlen)))
            goto out;
        off += 4 * n;
    }
    if (off != size)
        AUTW_FAIL("weights %s: %llu bytes after the last of its %u tensors", path,
                  (unsigned long long)(size - off), count);
    for (size_t i = 0; i < p->n; i++)
        if (!seen[i])
            AUTW_FAIL("weights %s: tensor %s: missing (the file has %u tensors, the model %zu)",
                      path, p->t[i].name, count, p->n);
out:
    if (rc) /* nothing half-loaded survives */
        for (size_t i = 0; i < p->n; i++) {
            free(p->t[i].data);
            p->t[i].data = NULL;
        }
    free(buf);
    free(seen);
    aut_mapfile_close(&f);
    return rc;
}
#undef AUTW_FAIL
