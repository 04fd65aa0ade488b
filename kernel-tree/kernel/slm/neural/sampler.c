/*
 * sampler.c - greedy, temperature, top-k and top-p sampling (see sampler.h).
 *
 * Top-k keeps a min-heap of the k best logits (O(n log k)); top-p without
 * top-k first drops candidates that cannot be in the nucleus, as llama2.c
 * does, then sorts the rest. No libc: the heap is written here.
 */
#include "sampler.h"

size_t slm_sampler_pool_bytes(uint32_t vocab)
{
    return slm_pool_cost((size_t)vocab * sizeof(struct slm_cand));
}

void slm_sampler_seed(struct slm_sampler *s, uint64_t seed)
{
    /* splitmix64 of the seed, so small seeds give unrelated states */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    s->rng = z ? z : 0x2545f4914f6cdd1dull;
}

int slm_sampler_init(struct slm_sampler *s, uint32_t vocab, float temperature, uint32_t top_k,
                     float top_p, uint64_t seed, struct slm_pool *pool, struct slm_err *err)
{
    if (!(temperature >= 0.0f) || !(top_p > 0.0f) || vocab == 0)
        return slm_err_set(err, SLM_E_INVAL,
                           "sampler: temperature must be >= 0 and top_p > 0");
    s->cand = slm_pool_alloc(pool, (size_t)vocab * sizeof *s->cand, 0);
    if (!s->cand)
        return slm_err_set(err, SLM_E_NOMEM, "pool exhausted (sampler, %u candidates)", vocab);
    s->vocab = vocab;
    s->argmax = NULL;
    slm_sampler_set(s, temperature, top_k, top_p, seed);
    return 0;
}

void slm_sampler_set(struct slm_sampler *s, float temperature, uint32_t top_k, float top_p,
                     uint64_t seed)
{
    s->temperature = temperature;
    s->top_k = top_k > s->vocab ? s->vocab : top_k;
    s->top_p = top_p;
    slm_sampler_seed(s, seed);
}

static float next_uniform(struct slm_sampler *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    uint64_t r = s->rng * 0x2545f4914f6cdd1dull;
    return (float)(r >> 40) * (1.0f / 16777216.0f); /* [0, 1) */
}

int32_t slm_argmax(const float *logits, uint32_t n)
{
    int32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = (int32_t)i;
    return best;
}

static int32_t pick_max(const struct slm_sampler *s, const float *logits, uint32_t n)
{
    return s->argmax ? (int32_t)s->argmax((int)n, logits) : slm_argmax(logits, n);
}

/* Min-heap on p (root = smallest) sift-down; or max-heap when max. */
static void sift_down(struct slm_cand *h, uint32_t n, uint32_t i, bool max)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && (max ? h[l].p > h[m].p : h[l].p < h[m].p))
            m = l;
        if (r < n && (max ? h[r].p > h[m].p : h[r].p < h[m].p))
            m = r;
        if (m == i)
            return;
        struct slm_cand t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Sorts h[0..n) by p, descending (heapsort with a min-heap). */
static void sort_desc(struct slm_cand *h, uint32_t n)
{
    for (uint32_t i = n / 2; i-- > 0;)
        sift_down(h, n, i, false);
    for (uint32_t end = n; end > 1; end--) {
        struct slm_cand t = h[0];
        h[0] = h[end - 1];
        h[end - 1] = t;
        sift_down(h, end - 1, 0, false);
    }
}

/* The k best logits into cand[0..k), sorted descending. */
static uint32_t select_top_k(struct slm_sampler *s, const float *logits, uint32_t k)
{
    struct slm_cand *h = s->cand;
    for (uint32_t i = 0; i < k; i++)
        h[i] = (struct slm_cand){logits[i], (int32_t)i};
    for (uint32_t i = k / 2; i-- > 0;)
        sift_down(h, k, i, false);
    for (uint32_t i = k; i < s->vocab; i++) {
        if (logits[i] > h[0].p) {
            h[0] = (struct slm_cand){logits[i], (int32_t)i};
            sift_down(h, k, 0, false);
        }
    }
    sort_desc(h, k);
    return k;
}

/* Softmax with temperature over cand[0..n). */
static void to_probs(struct slm_sampler *s, uint32_t n)
{
    float max = s->cand[0].p, sum = 0.0f, inv_t = 1.0f / s->temperature;
    for (uint32_t i = 1; i < n; i++)
        max = s->cand[i].p > max ? s->cand[i].p : max;
    for (uint32_t i = 0; i < n; i++) {
        s->cand[i].p = km_expf((s->cand[i].p - max) * inv_t);
        sum += s->cand[i].p;
    }
    for (uint32_t i = 0; i < n; i++)
        s->cand[i].p /= sum;
}

/* Candidates for top-p without top-k: all logits within reach of the
 * nucleus. A token whose probability is below (1-top_p)/(n-1) can never be
 * in it, so it is dropped before sorting. One exp per logit: the first pass
 * keeps exp((l-max)/T) in cand, the second compacts and restores logits. */
static uint32_t select_nucleus_candidates(struct slm_sampler *s, const float *logits)
{
    uint32_t n = s->vocab;
    float max = logits[pick_max(s, logits, n)], sum = 0.0f, inv_t = 1.0f / s->temperature;
    for (uint32_t i = 0; i < n; i++) {
        s->cand[i] = (struct slm_cand){km_expf((logits[i] - max) * inv_t), (int32_t)i};
        sum += s->cand[i].p;
    }
    float cutoff = (1.0f - s->top_p) / (float)(n > 1 ? n - 1 : 1) * sum;
    uint32_t c = 0;
    for (uint32_t i = 0; i < n; i++)
        if (n == 1 || s->cand[i].p >= cutoff)
            s->cand[c++] = (struct slm_cand){logits[i], (int32_t)i};
    sort_desc(s->cand, c);
    return c;
}

int32_t slm_sample(struct slm_sampler *s, const float *logits)
{
    if (s->temperature == 0.0f)
        return pick_max(s, logits, s->vocab);
    uint32_t n;
    if (s->top_k)
        n = select_top_k(s, logits, s->top_k);
    else if (s->top_p < 1.0f)
        n = select_nucleus_candidates(s, logits);
    else { /* plain temperature sampling: no order needed */
        n = s->vocab;
        for (uint32_t i = 0; i < n; i++)
            s->cand[i] = (struct slm_cand){logits[i], (int32_t)i};
    }
    to_probs(s, n);
    if (s->top_p < 1.0f) {
        float cum = 0.0f;
        uint32_t keep = n;
        for (uint32_t i = 0; i < n; i++) {
            cum += s->cand[i].p;
            if (cum >= s->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
        for (uint32_t i = 0; i < n; i++)
            s->cand[i].p /= cum;
    }
    float r = next_uniform(s), acc = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        acc += s->cand[i].p;
        if (r < acc)
            return s->cand[i].id;
    }
    return s->cand[n - 1].id; /* rounding: the last candidate */
}
