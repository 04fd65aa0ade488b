/*
 * tokenizer.c - the llama (SentencePiece BPE) and gpt2 (byte-level BPE)
 * tokenizers (see tokenizer.h): the piece and merge index built in the pool,
 * encoding as llama.cpp does it (a binary heap of candidate merges over a
 * linked list of symbols, O(n log n)), and decoding one token to bytes.
 */
#include "tokenizer.h"

#define TOK_EMPTY 0xFFFFFFFFu   /* a free hash slot */
#define TOK_MAX_PIECE 256u      /* bytes in one piece */
#define TOK_MAX_TEXT (1u << 24) /* bytes slm_tok_encode accepts */
#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u

/*
 * Pool layout, both tables open-addressed with linear probing, power-of-two
 * sizes at most half full:
 *   piece_index[2 * slot] = { fnv1a(piece), id }         id TOK_EMPTY: free
 *   merge_index[4 * slot] = { left, right, rank, merged } left TOK_EMPTY: free
 * Merges whose halves or result are not pieces are left out: symbols always
 * carry a piece id, so a pair is found by ids, never by building strings.
 */

/* One symbol of the text being encoded: a run of bytes, in a linked list. */
struct tok_sym {
    int32_t prev, next; /* neighbours, -1 at the ends */
    uint32_t start, n;  /* text[start..start + n); n == 0: merged into prev */
    int32_t id;         /* the piece these bytes spell, -1 if none */
};

/* A candidate merge of two adjacent symbols. */
struct tok_bigram {
    uint32_t key;        /* lower pops first: ~score (llama), merge rank (gpt2) */
    int32_t left, right; /* symbol indexes */
    uint32_t size;       /* left.n + right.n when queued: stale once either grew */
    int32_t id;          /* the merged piece */
};

/* State of one slm_tok_encode call; arrays in scratch. */
struct tok_run {
    const struct slm_tokenizer *t;
    const uint8_t *text;
    uint8_t *norm;           /* llama: the "▁"-normalised text */
    struct tok_sym *sym;     /* one per input byte (+1 for the prefix) */
    struct tok_bigram *heap; /* 3 per symbol: n - 1 seeds + 2 per merge */
    uint32_t n_heap;
    int32_t *ids;
    int max_ids, n_ids;
};

/* ---- small helpers ---------------------------------------------------- */

static uint32_t fnv1a(uint32_t h, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * FNV_PRIME;
    return h;
}

static uint32_t slot_of(uint32_t h, uint32_t size)
{
    return (h ^ (h >> 16)) & (size - 1);
}

static uint32_t pair_hash(uint32_t l, uint32_t r)
{
    return (uint32_t)(((uint64_t)l << 32 | r) * 0x9E3779B97F4A7C15ull >> 32);
}

/* Slots for n entries: a power of two at least twice n. */
static uint32_t index_size(uint32_t n)
{
    uint32_t size = 16;
    while (size < 2 * n)
        size <<= 1;
    return size;
}

static int32_t tok_type(const struct slm_tokenizer *t, uint32_t id)
{
    return t->v.types ? (int32_t)slm_rd32(t->v.types + 4 * (size_t)id) : SLM_TT_NORMAL;
}

/* Orders scores so that a higher score gives a lower key (-0 == +0). */
static uint32_t score_key(const struct slm_tokenizer *t, uint32_t id)
{
    uint32_t bits = t->v.scores ? slm_rd32(t->v.scores + 4 * (size_t)id) : 0;
    if (bits == 0x80000000u)
        bits = 0;
    uint32_t ordered = (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
    return ~ordered;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The byte a piece spelled "<0xHH>" stands for, or -1. */
static int byte_piece(const struct gguf_str *p)
{
    if (p->n != 6 || memcmp(p->p, "<0x", 3) != 0 || p->p[5] != '>')
        return -1;
    int hi = hexval(p->p[3]), lo = hexval(p->p[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Length of the UTF-8 character at s (n > 0 bytes left); 1 for a byte that
 * does not start a complete character. */
static uint32_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    uint32_t len = c < 0x80 ? 1 : c < 0xC0 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 0;
    if (len == 0 || len > n)
        return 1;
    for (uint32_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    return len;
}

static uint32_t utf8_cp(const uint8_t *s, uint32_t len)
{
    static const uint8_t lead_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    uint32_t cp = s[0] & lead_mask[len];
    for (uint32_t i = 1; i < len; i++)
        cp = cp << 6 | (s[i] & 0x3Fu);
    return cp;
}

/* GPT-2's bytes_to_unicode: printable bytes stand for themselves, the
 * others (0x00-0x20, 0x7F-0xA0, 0xAD) for U+0100 onwards, in byte order. */
static uint32_t gpt2_cp_of_byte(uint32_t b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)
        return b;
    if (b <= 0x20)
        return 0x100 + b;
    if (b <= 0xA0)
        return 0x121 + (b - 0x7F);
    return 0x143; /* 0xAD */
}

static int gpt2_byte_of_cp(uint32_t cp)
{
    if (cp < 0x100)
        return gpt2_cp_of_byte(cp) == cp ? (int)cp : -1;
    if (cp <= 0x120)
        return (int)(cp - 0x100);
    if (cp <= 0x142)
        return (int)(cp - 0x121 + 0x7F);
    return cp == 0x143 ? 0xAD : -1;
}

/* ---- the piece index -------------------------------------------------- */

static bool piece_is(const struct gguf_str *p, const uint8_t *a, size_t na, const uint8_t *b,
                     size_t nb)
{
    return p->n == na + nb && (na == 0 || memcmp(p->p, a, na) == 0) &&
           (nb == 0 || memcmp(p->p + na, b, nb) == 0);
}

/* Id of the piece spelled a[0..na) b[0..nb), or -1. */
static int32_t piece_find(const struct slm_tokenizer *t, const uint8_t *a, size_t na,
                          const uint8_t *b, size_t nb)
{
    if (na + nb > t->max_piece_len)
        return -1;
    uint32_t h = fnv1a(fnv1a(FNV_BASIS, a, na), b, nb);
    uint32_t mask = t->piece_index_size - 1;
    for (uint32_t i = slot_of(h, t->piece_index_size);; i = (i + 1) & mask) {
        const uint32_t *slot = &t->piece_index[2 * i];
        if (slot[1] == TOK_EMPTY)
            return -1;
        if (slot[0] == h && piece_is(&t->v.pieces[slot[1]], a, na, b, nb))
            return (int32_t)slot[1];
    }
}

/* Adds piece id unless an earlier id spells the same (llama.cpp keeps the
 * first of duplicate pieces). */
static void piece_insert(struct slm_tokenizer *t, uint32_t id)
{
    const struct gguf_str *p = &t->v.pieces[id];
    const uint8_t *s = (const uint8_t *)p->p;
    uint32_t h = fnv1a(FNV_BASIS, s, p->n);
    uint32_t mask = t->piece_index_size - 1;
    for (uint32_t i = slot_of(h, t->piece_index_size);; i = (i + 1) & mask) {
        uint32_t *slot = &t->piece_index[2 * i];
        if (slot[1] == TOK_EMPTY) {
            slot[0] = h;
            slot[1] = id;
            return;
        }
        if (slot[0] == h && piece_is(&t->v.pieces[slot[1]], s, p->n, NULL, 0))
            return;
    }
}

static int build_piece_index(struct slm_tokenizer *t, struct slm_pool *pool, struct slm_err *err)
{
    uint32_t size = index_size(t->v.n_vocab);
    uint32_t *idx = slm_pool_alloc(pool, (size_t)size * 8, 4);
    if (!idx)
        return slm_err_set(err, SLM_E_NOMEM, "tokenizer: no pool memory for the piece index");
    memset(idx, 0xFF, (size_t)size * 8);
    t->piece_index = idx;
    t->piece_index_size = size;
    uint32_t max_len = 0;
    for (uint32_t id = 0; id < t->v.n_vocab; id++) {
        const struct gguf_str *p = &t->v.pieces[id];
        if (p->n == 0 || !p->p)
            return slm_err_set(err, SLM_E_TOKEN, "token %u: empty piece", id);
        if (p->n > TOK_MAX_PIECE)
            return slm_err_set(err, SLM_E_TOKEN, "token %u: piece of %llu bytes (at most %u)", id,
                               (unsigned long long)p->n, TOK_MAX_PIECE);
        piece_insert(t, id);
        if (p->n > max_len)
            max_len = (uint32_t)p->n;
    }
    t->max_piece_len = max_len;
    return 0;
}

/* ---- byte tokens ------------------------------------------------------ */

/* llama: <0xHH> pieces; failing those, a one-byte piece (as llama.cpp). */
static int build_llama_bytes(struct slm_tokenizer *t, struct slm_err *err)
{
    for (uint32_t id = 0; id < t->v.n_vocab; id++) {
        const struct gguf_str *p = &t->v.pieces[id];
        int b = byte_piece(p);
        if (b < 0 && tok_type(t, id) == SLM_TT_BYTE)
            return slm_err_set(err, SLM_E_TOKEN, "token %u: byte token '%.*s' not spelled <0xHH>",
                               id, (int)p->n, p->p);
        if (b >= 0 && t->byte_token[b] < 0)
            t->byte_token[b] = (int32_t)id;
    }
    for (uint32_t b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        if (t->byte_token[b] < 0)
            t->byte_token[b] = piece_find(t, &c, 1, NULL, 0);
    }
    return 0;
}

/* gpt2: the piece spelling the byte's unicode character. */
static void build_gpt2_bytes(struct slm_tokenizer *t)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t cp = gpt2_cp_of_byte(b);
        uint8_t u[2] = {(uint8_t)cp, 0};
        size_t n = 1;
        if (cp >= 0x80) {
            u[0] = (uint8_t)(0xC0 | cp >> 6);
            u[1] = (uint8_t)(0x80 | (cp & 0x3F));
            n = 2;
        }
        t->byte_token[b] = piece_find(t, u, n, NULL, 0);
    }
}

/* ---- the merge index (gpt2) ------------------------------------------- */

static const uint32_t *merge_find(const struct slm_tokenizer *t, int32_t l, int32_t r)
{
    if (t->merge_index_size == 0 || l < 0 || r < 0)
        return NULL;
    uint32_t mask = t->merge_index_size - 1;
    for (uint32_t i = slot_of(pair_hash((uint32_t)l, (uint32_t)r), t->merge_index_size);;
         i = (i + 1) & mask) {
        const uint32_t *slot = &t->merge_index[4 * i];
        if (slot[0] == TOK_EMPTY)
            return NULL;
        if (slot[0] == (uint32_t)l && slot[1] == (uint32_t)r)
            return slot;
    }
}

/* Adds (l, r) -> rank, merged unless the pair is already there (the first,
 * lowest rank wins, as in llama.cpp). */
static void merge_insert(struct slm_tokenizer *t, int32_t l, int32_t r, uint32_t rank,
                         int32_t merged)
{
    uint32_t mask = t->merge_index_size - 1;
    for (uint32_t i = slot_of(pair_hash((uint32_t)l, (uint32_t)r), t->merge_index_size);;
         i = (i + 1) & mask) {
        uint32_t *slot = &t->merge_index[4 * i];
        if (slot[0] == (uint32_t)l && slot[1] == (uint32_t)r)
            return;
        if (slot[0] == TOK_EMPTY) {
            slot[0] = (uint32_t)l;
            slot[1] = (uint32_t)r;
            slot[2] = rank;
            slot[3] = (uint32_t)merged;
            return;
        }
    }
}

/* Position of the space splitting merge "left right" (searched from 1, as
 * llama.cpp does), or 0. */
static size_t merge_split(const struct gguf_str *m)
{
    for (size_t i = 1; m->p && i < m->n; i++)
        if (m->p[i] == ' ')
            return i;
    return 0;
}

static int build_merge_index(struct slm_tokenizer *t, struct slm_pool *pool, struct slm_err *err)
{
    if (t->v.n_merges == 0)
        return 0;
    uint32_t size = index_size(t->v.n_merges);
    uint32_t *idx = slm_pool_alloc(pool, (size_t)size * 16, 4);
    if (!idx)
        return slm_err_set(err, SLM_E_NOMEM, "tokenizer: no pool memory for the merge index");
    memset(idx, 0xFF, (size_t)size * 16);
    t->merge_index = idx;
    t->merge_index_size = size;
    for (uint32_t i = 0; i < t->v.n_merges; i++) {
        const struct gguf_str *m = &t->v.merges[i];
        if (m->n > 2 * TOK_MAX_PIECE + 1)
            continue; /* its halves cannot be pieces */
        size_t sp = merge_split(m);
        if (sp == 0)
            return slm_err_set(err, SLM_E_TOKEN, "merge %u: '%.*s' is not \"left right\"", i,
                               (int)m->n, m->p ? m->p : "");
        const uint8_t *a = (const uint8_t *)m->p, *b = a + sp + 1;
        size_t nb = m->n - sp - 1;
        int32_t l = piece_find(t, a, sp, NULL, 0);
        int32_t r = nb ? piece_find(t, b, nb, NULL, 0) : -1;
        int32_t merged = piece_find(t, a, sp, b, nb);
        if (l >= 0 && r >= 0 && merged >= 0)
            merge_insert(t, l, r, i, merged);
    }
    return 0;
}

/* ---- init ------------------------------------------------------------- */

static int check_id(const struct slm_tok_vocab *v, int32_t id, const char *what,
                    struct slm_err *err)
{
    if (id < -1 || (id >= 0 && (uint32_t)id >= v->n_vocab))
        return slm_err_set(err, SLM_E_TOKEN,
                           "tokenizer: %s token id %d outside the vocabulary (%u)", what, (int)id,
                           v->n_vocab);
    return 0;
}

static int check_vocab(const struct slm_tok_vocab *v, struct slm_err *err)
{
    if (v->kind != SLM_TOK_LLAMA && v->kind != SLM_TOK_GPT2)
        return slm_err_set(err, SLM_E_UNSUPPORTED, "tokenizer: unknown kind %d", (int)v->kind);
    if (v->n_vocab == 0)
        return slm_err_set(err, SLM_E_TOKEN, "tokenizer: no tokens");
    if (v->n_vocab > SLM_TOK_MAX_VOCAB)
        return slm_err_set(err, SLM_E_LIMIT, "tokenizer: %u tokens (at most %u)", v->n_vocab,
                           SLM_TOK_MAX_VOCAB);
    if (!v->pieces)
        return slm_err_set(err, SLM_E_INVAL, "tokenizer: no pieces");
    if (v->kind == SLM_TOK_GPT2 && v->n_merges > SLM_TOK_MAX_MERGES)
        return slm_err_set(err, SLM_E_LIMIT, "tokenizer: %u merges (at most %u)", v->n_merges,
                           SLM_TOK_MAX_MERGES);
    if (v->kind == SLM_TOK_GPT2 && v->n_merges && !v->merges)
        return slm_err_set(err, SLM_E_INVAL, "tokenizer: no merges");
    int rc = check_id(v, v->bos, "bos", err);
    if (!rc)
        rc = check_id(v, v->eos, "eos", err);
    if (!rc)
        rc = check_id(v, v->unk, "unknown", err);
    return rc;
}

size_t slm_tok_pool_bytes(const struct slm_tok_vocab *v)
{
    if (!v || (v->kind != SLM_TOK_LLAMA && v->kind != SLM_TOK_GPT2) || v->n_vocab == 0 ||
        v->n_vocab > SLM_TOK_MAX_VOCAB)
        return 0;
    size_t bytes = slm_pool_cost((size_t)index_size(v->n_vocab) * 8);
    if (v->kind == SLM_TOK_GPT2 && v->n_merges > 0 && v->n_merges <= SLM_TOK_MAX_MERGES)
        bytes += slm_pool_cost((size_t)index_size(v->n_merges) * 16);
    return bytes;
}

int slm_tok_init(struct slm_tokenizer *t, const struct slm_tok_vocab *v, struct slm_pool *pool,
                 struct slm_err *err)
{
    if (!t || !v || !pool)
        return slm_err_set(err, SLM_E_INVAL, "tokenizer: null argument");
    int rc = check_vocab(v, err);
    if (rc)
        return rc;
    size_t mark = slm_pool_mark(pool);
    struct slm_tokenizer nt;
    memset(&nt, 0, sizeof nt);
    nt.v = *v;
    if (nt.v.kind == SLM_TOK_LLAMA) {
        nt.v.merges = NULL;
        nt.v.n_merges = 0;
    }
    for (int b = 0; b < 256; b++)
        nt.byte_token[b] = -1;
    rc = build_piece_index(&nt, pool, err);
    if (rc)
        goto fail;
    if (nt.v.kind == SLM_TOK_LLAMA) {
        rc = build_llama_bytes(&nt, err);
    } else {
        build_gpt2_bytes(&nt);
        rc = build_merge_index(&nt, pool, err);
    }
    if (rc)
        goto fail;
    *t = nt;
    return 0;
fail:
    slm_pool_reset(pool, mark);
    return rc;
}

/* ---- encoding: the merge loop shared by both kinds -------------------- */

static bool bigram_before(const struct tok_bigram *a, const struct tok_bigram *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static void heap_push(struct tok_run *r, const struct tok_bigram *b)
{
    uint32_t i = r->n_heap++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!bigram_before(b, &r->heap[parent]))
            break;
        r->heap[i] = r->heap[parent];
        i = parent;
    }
    r->heap[i] = *b;
}

static struct tok_bigram heap_pop(struct tok_run *r)
{
    struct tok_bigram top = r->heap[0];
    struct tok_bigram last = r->heap[--r->n_heap];
    uint32_t n = r->n_heap, i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && bigram_before(&r->heap[c + 1], &r->heap[c]))
            c++;
        if (!bigram_before(&r->heap[c], &last))
            break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    r->heap[i] = last;
    return top;
}

/* Queues the merge of adjacent symbols left and right if it makes a piece:
 * llama when their bytes spell one, gpt2 when "left right" is a merge. */
static void add_bigram(struct tok_run *r, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    const struct tok_sym *l = &r->sym[left], *rt = &r->sym[right];
    struct tok_bigram b = {0, left, right, l->n + rt->n, -1};
    if (r->t->v.kind == SLM_TOK_LLAMA) {
        b.id = piece_find(r->t, r->text + l->start, b.size, NULL, 0);
        if (b.id < 0)
            return;
        b.key = score_key(r->t, (uint32_t)b.id);
    } else {
        const uint32_t *m = merge_find(r->t, l->id, rt->id);
        if (!m)
            return;
        b.key = m[2];
        b.id = (int32_t)m[3];
    }
    heap_push(r, &b);
}

/* Merges the best queued pair until none is left (llama.cpp's loop). */
static void merge_all(struct tok_run *r)
{
    while (r->n_heap > 0) {
        struct tok_bigram b = heap_pop(r);
        struct tok_sym *l = &r->sym[b.left], *rt = &r->sym[b.right];
        if (l->n == 0 || rt->n == 0 || l->n + rt->n != b.size)
            continue; /* one side was merged since */
        l->n += rt->n;
        l->id = b.id;
        rt->n = 0;
        l->next = rt->next;
        if (rt->next >= 0)
            r->sym[rt->next].prev = b.left;
        add_bigram(r, l->prev, b.left);
        add_bigram(r, b.left, l->next);
    }
}

static int emit(struct tok_run *r, int32_t id)
{
    if (r->n_ids >= r->max_ids)
        return -SLM_E_LIMIT;
    r->ids[r->n_ids++] = id;
    return 0;
}

/* Emits the symbols from head on: pieces as themselves, anything else as
 * byte tokens, unk where even those are missing. */
static int emit_list(struct tok_run *r, int32_t head)
{
    for (int32_t i = head; i >= 0; i = r->sym[i].next) {
        const struct tok_sym *s = &r->sym[i];
        if (s->id >= 0) {
            if (emit(r, s->id))
                return -SLM_E_LIMIT;
            continue;
        }
        for (uint32_t j = 0; j < s->n; j++) {
            int32_t id = r->t->byte_token[r->text[s->start + j]];
            if (id < 0)
                id = r->t->v.unk;
            if (id < 0)
                return -SLM_E_TOKEN;
            if (emit(r, id))
                return -SLM_E_LIMIT;
        }
    }
    return 0;
}

/* ---- llama ------------------------------------------------------------ */

/* Writes the "▁" prefix (if any) and the text with ' ' -> "▁" into out
 * (3 * len + 3 bytes); returns the length. */
static size_t spm_normalize(const struct slm_tokenizer *t, const char *text, size_t len,
                            uint8_t *out)
{
    size_t n = 0;
    if (t->v.add_space_prefix) {
        memcpy(out, "\xE2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(out + n, "\xE2\x96\x81", 3);
            n += 3;
        } else {
            out[n++] = (uint8_t)text[i];
        }
    }
    return n;
}

static int spm_encode(struct tok_run *r, const char *text, size_t len)
{
    size_t n = spm_normalize(r->t, text, len, r->norm);
    r->text = r->norm;
    int32_t n_sym = 0;
    for (size_t off = 0; off < n; n_sym++) {
        struct tok_sym *s = &r->sym[n_sym];
        s->n = utf8_len(r->norm + off, n - off);
        s->start = (uint32_t)off;
        s->id = piece_find(r->t, r->norm + off, s->n, NULL, 0);
        off += s->n;
        s->prev = n_sym - 1;
        s->next = off == n ? -1 : n_sym + 1;
    }
    r->n_heap = 0;
    for (int32_t i = 1; i < n_sym; i++)
        add_bigram(r, i - 1, i);
    merge_all(r);
    return emit_list(r, 0);
}

/* ---- gpt2 ------------------------------------------------------------- */

enum tok_class { TC_NONE, TC_LETTER, TC_DIGIT, TC_SPACE, TC_OTHER };

/* Non-ASCII bytes count as letters: a UTF-8 character stays in one word. */
static enum tok_class byte_class(const uint8_t *s, size_t pos, size_t n)
{
    if (pos >= n)
        return TC_NONE;
    uint8_t c = s[pos];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80)
        return TC_LETTER;
    if (c >= '0' && c <= '9')
        return TC_DIGIT;
    if (c == ' ' || (c >= '\t' && c <= '\r'))
        return TC_SPACE;
    return TC_OTHER;
}

/* End of the word starting at pos: the GPT-2 pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * hand-written as llama.cpp's unicode_regex_split_custom_gpt2. */
static size_t gpt2_word_end(const uint8_t *s, size_t pos, size_t n)
{
    if (s[pos] == '\'' && pos + 1 < n) {
        uint8_t a = s[pos + 1], b = pos + 2 < n ? s[pos + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd')
            return pos + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            return pos + 3;
    }
    enum tok_class c = byte_class(s, pos + (s[pos] == ' '), n);
    if (c == TC_LETTER || c == TC_DIGIT || c == TC_OTHER) {
        size_t p = pos + (s[pos] == ' ');
        while (byte_class(s, p, n) == c)
            p++;
        return p;
    }
    size_t ws = 0;
    while (byte_class(s, pos + ws, n) == TC_SPACE)
        ws++;
    if (ws > 1 && pos + ws < n)
        return pos + ws - 1; /* leave the last space to prefix the next word */
    return pos + (ws ? ws : 1);
}

static int bpe_encode(struct tok_run *r, const char *text, size_t len)
{
    const uint8_t *s = (const uint8_t *)text;
    r->text = s;
    for (size_t pos = 0; pos < len;) {
        size_t end = gpt2_word_end(s, pos, len);
        for (size_t i = pos; i < end; i++) {
            struct tok_sym *sym = &r->sym[i];
            sym->prev = i == pos ? -1 : (int32_t)i - 1;
            sym->next = i + 1 == end ? -1 : (int32_t)i + 1;
            sym->start = (uint32_t)i;
            sym->n = 1;
            sym->id = r->t->byte_token[s[i]];
        }
        r->n_heap = 0;
        for (size_t i = pos + 1; i < end; i++)
            add_bigram(r, (int32_t)i - 1, (int32_t)i);
        merge_all(r);
        int rc = emit_list(r, (int32_t)pos);
        if (rc)
            return rc;
        pos = end;
    }
    return 0;
}

/* ---- encode entry points ---------------------------------------------- */

size_t slm_tok_encode_scratch_bytes(const struct slm_tokenizer *t, size_t len)
{
    if (!t || len > TOK_MAX_TEXT)
        return 0;
    size_t n_sym = len + 1;
    size_t bytes = slm_pool_cost(n_sym * sizeof(struct tok_sym)) +
                   slm_pool_cost(3 * n_sym * sizeof(struct tok_bigram));
    if (t->v.kind == SLM_TOK_LLAMA)
        bytes += slm_pool_cost(3 * len + 3);
    return bytes;
}

int slm_tok_encode(const struct slm_tokenizer *t, const char *text, size_t len, bool add_bos,
                   int32_t *ids, int max_ids, struct slm_pool *scratch)
{
    if (!t || (!text && len) || (!ids && max_ids > 0) || max_ids < 0 || !scratch)
        return -SLM_E_INVAL;
    if (len > TOK_MAX_TEXT)
        return -SLM_E_LIMIT;
    size_t mark = slm_pool_mark(scratch);
    struct tok_run r = {.t = t, .ids = ids, .max_ids = max_ids};
    size_t n_sym = len + 1;
    int rc = 0;
    r.sym = slm_pool_alloc(scratch, n_sym * sizeof(struct tok_sym), 4);
    r.heap = slm_pool_alloc(scratch, 3 * n_sym * sizeof(struct tok_bigram), 4);
    if (t->v.kind == SLM_TOK_LLAMA)
        r.norm = slm_pool_alloc(scratch, 3 * len + 3, 1);
    if (!r.sym || !r.heap || (t->v.kind == SLM_TOK_LLAMA && !r.norm))
        rc = -SLM_E_NOMEM;
    if (!rc && add_bos && t->v.bos >= 0)
        rc = emit(&r, t->v.bos);
    if (!rc && len > 0)
        rc = t->v.kind == SLM_TOK_LLAMA ? spm_encode(&r, text, len) : bpe_encode(&r, text, len);
    slm_pool_reset(scratch, mark);
    return rc < 0 ? rc : r.n_ids;
}

/* ---- decoding --------------------------------------------------------- */

static int put_bytes(char *out, size_t cap, size_t *o, const void *s, size_t n)
{
    if (n == 0)
        return 0;
    if (n > cap - *o)
        return -SLM_E_LIMIT;
    memcpy(out + *o, s, n);
    *o += n;
    return 0;
}

/* llama: "▁" -> ' ', byte tokens -> their byte. */
static int spm_decode(const struct slm_tokenizer *t, uint32_t id, char *out, size_t cap)
{
    const struct gguf_str *p = &t->v.pieces[id];
    int b = (!t->v.types || tok_type(t, id) == SLM_TT_BYTE) ? byte_piece(p) : -1;
    size_t o = 0;
    if (b >= 0) {
        char c = (char)b;
        return put_bytes(out, cap, &o, &c, 1) ? -SLM_E_LIMIT : 1;
    }
    for (size_t i = 0; i < p->n;) {
        if (i + 3 <= p->n && memcmp(p->p + i, "\xE2\x96\x81", 3) == 0) {
            if (put_bytes(out, cap, &o, " ", 1))
                return -SLM_E_LIMIT;
            i += 3;
        } else {
            if (put_bytes(out, cap, &o, p->p + i, 1))
                return -SLM_E_LIMIT;
            i++;
        }
    }
    return (int)o;
}

/* gpt2: each character of the byte-level alphabet -> its byte; any other
 * character (or stray byte) is copied as it is. */
static int bpe_decode(const struct gguf_str *p, char *out, size_t cap)
{
    const uint8_t *s = (const uint8_t *)p->p;
    size_t o = 0;
    for (size_t i = 0; i < p->n;) {
        uint32_t len = utf8_len(s + i, p->n - i);
        int b = (len > 1 || s[i] < 0x80) ? gpt2_byte_of_cp(utf8_cp(s + i, len)) : -1;
        char c = (char)b;
        if (b >= 0 ? put_bytes(out, cap, &o, &c, 1) : put_bytes(out, cap, &o, s + i, len))
            return -SLM_E_LIMIT;
        i += len;
    }
    return (int)o;
}

int slm_tok_decode(const struct slm_tokenizer *t, int32_t id, char *out, size_t cap)
{
    if (!t || id < 0 || (uint32_t)id >= t->v.n_vocab || (!out && cap))
        return -SLM_E_INVAL;
    int32_t type = tok_type(t, (uint32_t)id);
    if (id == t->v.bos || id == t->v.eos || type == SLM_TT_CONTROL)
        return 0;
    if (type == SLM_TT_USER_DEFINED) {
        size_t o = 0;
        const struct gguf_str *p = &t->v.pieces[id];
        return put_bytes(out, cap, &o, p->p, p->n) ? -SLM_E_LIMIT : (int)o;
    }
    if (t->v.kind == SLM_TOK_LLAMA)
        return spm_decode(t, (uint32_t)id, out, cap);
    return bpe_decode(&t->v.pieces[id], out, cap);
}
