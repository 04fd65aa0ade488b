/*
 * test_tokenizer.c - the llama (SentencePiece BPE) and gpt2 (byte-level BPE)
 * tokenizers, built from arrays: exact token sequences worked out by hand,
 * agreement with a naive O(n^2) reference on random text, byte fallback,
 * round trips, limits and exact pool accounting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tokenizer.h"

#define SP "\xE2\x96\x81" /* U+2581, SentencePiece's space */
#define N_BYTE_BASE 3     /* llama test vocab: <0x00> is id 3 */

/* ---- a vocabulary builder --------------------------------------------- */

struct vb {
    uint32_t n, cap;
    struct gguf_str *pieces;
    float *score;
    int32_t *type;
    uint8_t *scores_raw; /* data at +1: deliberately misaligned */
    uint8_t *types_raw;  /* data at +3 */
    uint32_t n_merges;
    struct gguf_str *merges;
    char **mleft, **mright; /* gpt2: the merge halves as raw bytes */
};

static struct vb *vb_new(uint32_t cap)
{
    struct vb *b = calloc(1, sizeof *b);
    b->cap = cap;
    b->pieces = calloc(cap, sizeof *b->pieces);
    b->score = calloc(cap, sizeof *b->score);
    b->type = calloc(cap, sizeof *b->type);
    b->scores_raw = calloc(4 * (size_t)cap + 1, 1);
    b->types_raw = calloc(4 * (size_t)cap + 3, 1);
    b->merges = calloc(cap, sizeof *b->merges);
    b->mleft = calloc(cap, sizeof *b->mleft);
    b->mright = calloc(cap, sizeof *b->mright);
    return b;
}

static void vb_free(struct vb *b)
{
    for (uint32_t i = 0; i < b->n; i++)
        free((void *)b->pieces[i].p);
    for (uint32_t i = 0; i < b->n_merges; i++) {
        free((void *)b->merges[i].p);
        free(b->mleft[i]);
        free(b->mright[i]);
    }
    free(b->pieces);
    free(b->score);
    free(b->type);
    free(b->scores_raw);
    free(b->types_raw);
    free(b->merges);
    free(b->mleft);
    free(b->mright);
    free(b);
}

static int32_t vb_addn(struct vb *b, const char *s, size_t n, float score, int32_t type)
{
    assert_true(b->n < b->cap);
    char *copy = malloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = 0;
    b->pieces[b->n] = (struct gguf_str){copy, n};
    b->score[b->n] = score;
    b->type[b->n] = type;
    return (int32_t)b->n++;
}

static int32_t vb_add(struct vb *b, const char *s, float score)
{
    return vb_addn(b, s, strlen(s), score, SLM_TT_NORMAL);
}

/* First id spelling s, or -1. */
static int32_t vb_find(const struct vb *b, const char *s, size_t n)
{
    for (uint32_t i = 0; i < b->n; i++)
        if (b->pieces[i].n == n && memcmp(b->pieces[i].p, s, n) == 0)
            return (int32_t)i;
    return -1;
}

static int32_t vb_id(const struct vb *b, const char *s)
{
    int32_t id = vb_find(b, s, strlen(s));
    if (id < 0)
        fail_msg("no piece '%s' in the test vocabulary", s);
    return id;
}

static struct slm_tok_vocab vb_vocab(struct vb *b, enum slm_tok_kind kind, bool with_scores,
                                     bool with_types)
{
    for (uint32_t i = 0; i < b->n; i++) {
        memcpy(b->scores_raw + 1 + 4 * i, &b->score[i], 4);
        memcpy(b->types_raw + 3 + 4 * i, &b->type[i], 4);
    }
    struct slm_tok_vocab v = {
        .kind = kind,
        .n_vocab = b->n,
        .pieces = b->pieces,
        .scores = with_scores ? b->scores_raw + 1 : NULL,
        .types = with_types ? b->types_raw + 3 : NULL,
        .merges = kind == SLM_TOK_GPT2 ? b->merges : NULL,
        .n_merges = kind == SLM_TOK_GPT2 ? b->n_merges : 0,
        .bos = -1,
        .eos = -1,
        .unk = -1,
    };
    return v;
}

/* ---- pools ------------------------------------------------------------ */

struct tpool {
    void *mem;
    struct slm_pool p;
};

static void tpool_init(struct tpool *tp, size_t size)
{
    tp->mem = malloc(size + SLM_POOL_ALIGN);
    slm_pool_init(&tp->p, tp->mem, size + SLM_POOL_ALIGN);
    tp->p.size = size; /* exactly size usable bytes from an aligned base */
}

static void tpool_free(struct tpool *tp)
{
    free(tp->mem);
}

/* ---- the llama test vocabulary ---------------------------------------- */

/* <unk> <s> </s>, the 256 byte tokens, then these (scores: higher merges
 * first). */
static const struct {
    const char *s;
    float score;
} llama_pieces[] = {
    {SP, -1},       {"h", -2},      {"e", -2},        {"l", -2},           {"o", -2},
    {"w", -2},      {"r", -2},      {"d", -2},        {SP "h", -3},        {SP "he", -4},
    {"ll", -3.5f},  {"llo", -4.5f}, {SP "hello", -5}, {SP "w", -3},        {"or", -3},
    {SP "wor", -6}, {"ld", -4},     {SP "world", -7}, {SP SP, -2},         {"el", -10},
    {"a", -2},      {"b", -2},      {"c", -2},        {"ab", -1.5f},       {"bc", -2},
    {SP "a", -3},   {SP "abc", -1}, {"x", -2},        {"\xC3\xA9", -2.5f}, {SP "\xC3\xA9", -8},
};

struct llama_fix {
    struct vb *b;
    struct slm_tok_vocab v;
    struct slm_tokenizer t;
    struct tpool pool, scratch;
};

static struct vb *llama_builder(void)
{
    struct vb *b = vb_new(512);
    vb_addn(b, "<unk>", 5, 0, SLM_TT_UNKNOWN);
    vb_addn(b, "<s>", 3, 0, SLM_TT_CONTROL);
    vb_addn(b, "</s>", 4, 0, SLM_TT_CONTROL);
    for (int i = 0; i < 256; i++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", i);
        vb_addn(b, s, 6, 0, SLM_TT_BYTE);
    }
    for (size_t i = 0; i < sizeof llama_pieces / sizeof llama_pieces[0]; i++)
        vb_add(b, llama_pieces[i].s, llama_pieces[i].score);
    return b;
}

static void llama_fix_init(struct llama_fix *f, bool space_prefix)
{
    f->b = llama_builder();
    f->v = vb_vocab(f->b, SLM_TOK_LLAMA, true, true);
    f->v.unk = 0;
    f->v.bos = 1;
    f->v.eos = 2;
    f->v.add_bos = true;
    f->v.add_space_prefix = space_prefix;
    tpool_init(&f->pool, slm_tok_pool_bytes(&f->v));
    struct slm_err err = {0};
    int rc = slm_tok_init(&f->t, &f->v, &f->pool.p, &err);
    if (rc)
        fail_msg("slm_tok_init: %s", err.msg);
    tpool_init(&f->scratch, 1 << 22);
}

static void llama_fix_free(struct llama_fix *f)
{
    tpool_free(&f->scratch);
    tpool_free(&f->pool);
    vb_free(f->b);
}

static int32_t byte_id(int b)
{
    return N_BYTE_BASE + b;
}

/* Encodes text and compares with want[0..n_want). */
static void check_encode(const struct slm_tokenizer *t, struct slm_pool *scratch, const char *text,
                         size_t len, bool bos, const int32_t *want, int n_want)
{
    int32_t ids[256];
    size_t mark = slm_pool_mark(scratch);
    int n = slm_tok_encode(t, text, len, bos, ids, 256, scratch);
    assert_int_equal(slm_pool_mark(scratch), mark);
    if (n != n_want) {
        print_message("encode '%.*s': %d tokens, want %d:", (int)len, text, n, n_want);
        for (int i = 0; i < n; i++)
            print_message(" %d", ids[i]);
        print_message("\n");
    }
    assert_int_equal(n, n_want);
    for (int i = 0; i < n; i++)
        assert_int_equal(ids[i], want[i]);
}

#define IDS(...) (const int32_t[]){__VA_ARGS__}, (int)(sizeof((const int32_t[]){__VA_ARGS__}) / 4)
#define CHECK(f, text, bos, ...)                                                                   \
    check_encode(&(f)->t, &(f)->scratch.p, text, strlen(text), bos, IDS(__VA_ARGS__))

/* Concatenated decodes of ids[0..n) into out; returns the length. */
static size_t decode_all(const struct slm_tokenizer *t, const int32_t *ids, int n, char *out,
                         size_t cap)
{
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        int k = slm_tok_decode(t, ids[i], out + o, cap - o);
        assert_true(k >= 0);
        o += (size_t)k;
    }
    return o;
}

/* ---- llama: exact sequences ------------------------------------------- */

static void test_llama_merges_highest_score_first(void **state)
{
    struct llama_fix f;
    llama_fix_init(&f, true);
    struct vb *b = f.b;
    /* ▁h ▁w or (-3, leftmost first), ll, ▁he, ld, llo, ▁hello, ▁wor, ▁world */
    CHECK(&f, "hello world", false, vb_id(b, SP "hello"), vb_id(b, SP "world"));
    /* ▁h, then ▁he (-4) beats nothing else: l stays alone */
    CHECK(&f, "hel", false, vb_id(b, SP "he"), vb_id(b, "l"));
    /* ab (-1.5) goes first and blocks ▁a and bc: ▁abc (-1) is never reached */
    CHECK(&f, "abc", false, vb_id(b, SP), vb_id(b, "ab"), vb_id(b, "c"));
    CHECK(&f, "bc", false, vb_id(b, SP), vb_id(b, "bc"));
    /* ▁▁ (-2) beats ▁h (-3), which is then stale; ll, llo */
    CHECK(&f, " hello", false, vb_id(b, SP SP), vb_id(b, "h"), vb_id(b, "e"), vb_id(b, "llo"));
    /* é is a piece, ▁é too (-8) */
    CHECK(&f, "\xC3\xA9", false, vb_id(b, SP "\xC3\xA9"));
    CHECK(&f, "x\xC3\xA9", false, vb_id(b, SP), vb_id(b, "x"), vb_id(b, "\xC3\xA9"));
    (void)state;
    llama_fix_free(&f);
}

static void test_llama_byte_fallback(void **state)
{
    struct llama_fix f;
    llama_fix_init(&f, true);
    int32_t sp = vb_id(f.b, SP);
    /* ö (C3 B6) is no piece: its bytes */
    CHECK(&f, "\xC3\xB6", false, sp, byte_id(0xC3), byte_id(0xB6));
    /* an emoji: four byte tokens */
    CHECK(&f, "\xF0\x9F\x98\x80", false, sp, byte_id(0xF0), byte_id(0x9F), byte_id(0x98),
          byte_id(0x80));
    /* invalid UTF-8: each stray byte its own symbol */
    CHECK(&f,
          "\xFF"
          "a\x80",
          false, sp, byte_id(0xFF), vb_id(f.b, "a"), byte_id(0x80));
    /* a truncated character at the end */
    CHECK(&f, "h\xE2\x96", false, vb_id(f.b, SP "h"), byte_id(0xE2), byte_id(0x96));
    (void)state;
    llama_fix_free(&f);
}

static void test_llama_bos_empty_and_spaces(void **state)
{
    struct llama_fix f;
    llama_fix_init(&f, true);
    int32_t hello = vb_id(f.b, SP "hello"), spsp = vb_id(f.b, SP SP);
    CHECK(&f, "hello", true, 1, hello);
    CHECK(&f, "hello", false, hello);
    int32_t ids[4];
    assert_int_equal(slm_tok_encode(&f.t, "", 0, false, ids, 4, &f.scratch.p), 0);
    assert_int_equal(slm_tok_encode(&f.t, NULL, 0, true, ids, 4, &f.scratch.p), 1);
    assert_int_equal(ids[0], 1);
    /* "   " -> ▁▁▁▁ -> ▁▁ ▁▁ (leftmost first) */
    CHECK(&f, "   ", false, spsp, spsp);
    CHECK(&f, "  ", false, spsp, vb_id(f.b, SP));
    /* no bos in the vocabulary: add_bos does nothing */
    struct slm_tokenizer t2 = f.t;
    t2.v.bos = -1;
    check_encode(&t2, &f.scratch.p, "hello", 5, true, IDS(hello));
    (void)state;
    llama_fix_free(&f);
}

static void test_llama_without_space_prefix(void **state)
{
    struct llama_fix f;
    llama_fix_init(&f, false);
    struct vb *b = f.b;
    /* h e l l o: ll, llo; el is stale by then; "he" is no piece */
    CHECK(&f, "hello", false, vb_id(b, "h"), vb_id(b, "e"), vb_id(b, "llo"));
    CHECK(&f, " hello", false, vb_id(b, SP "hello"));
    (void)state;
    llama_fix_free(&f);
}

/* ---- llama: agreement with a naive reference -------------------------- */

static size_t ref_utf8_len(const uint8_t *s, size_t n)
{
    size_t len = s[0] < 0x80   ? 1
                 : s[0] < 0xC0 ? 0
                 : s[0] < 0xE0 ? 2
                 : s[0] < 0xF0 ? 3
                 : s[0] < 0xF8 ? 4
                               : 0;
    if (len == 0 || len > n)
        return 1;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    return len;
}

/* O(n^2) SentencePiece BPE: merge the best adjacent pair, leftmost on ties. */
static int ref_spm(const struct vb *b, bool prefix, const char *text, size_t len, int32_t *out)
{
    if (len == 0)
        return 0; /* no prefix for no text */
    char *norm = malloc(3 * len + 3);
    size_t n = 0;
    if (prefix) {
        memcpy(norm, SP, 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(norm + n, SP, 3);
            n += 3;
        } else {
            norm[n++] = text[i];
        }
    }
    size_t *st = malloc((n + 1) * sizeof *st), *ln = malloc((n + 1) * sizeof *ln), ns = 0;
    for (size_t o = 0; o < n; o += ln[ns++]) {
        st[ns] = o;
        ln[ns] = ref_utf8_len((const uint8_t *)norm + o, n - o);
    }
    for (;;) {
        long best = -1;
        float best_score = 0;
        for (size_t i = 0; i + 1 < ns; i++) {
            int32_t id = vb_find(b, norm + st[i], ln[i] + ln[i + 1]);
            if (id >= 0 && (best < 0 || b->score[id] > best_score)) {
                best = (long)i;
                best_score = b->score[id];
            }
        }
        if (best < 0)
            break;
        ln[best] += ln[best + 1];
        memmove(st + best + 1, st + best + 2, (ns - best - 2) * sizeof *st);
        memmove(ln + best + 1, ln + best + 2, (ns - best - 2) * sizeof *ln);
        ns--;
    }
    int k = 0;
    for (size_t i = 0; i < ns; i++) {
        int32_t id = vb_find(b, norm + st[i], ln[i]);
        if (id >= 0)
            out[k++] = id;
        else
            for (size_t j = 0; j < ln[i]; j++)
                out[k++] = byte_id((uint8_t)norm[st[i] + j]);
    }
    free(st);
    free(ln);
    free(norm);
    return k;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random text from fragments the vocabulary knows and some it does not. */
static size_t random_text(uint64_t *rng, char *out, size_t max_frags)
{
    static const char *const frags[] = {
        " ",
        "h",
        "e",
        "l",
        "o",
        "w",
        "r",
        "d",
        "a",
        "b",
        "c",
        "x",
        "z",
        "!",
        "\xC3\xA9",
        SP,
        "\xF0\x9F\x98\x80",
        "\xFF",
        "\xC3",
        "hello",
        " world",
        "  ",
    };
    size_t n = 0, k = rng_next(rng) % (max_frags + 1);
    for (size_t i = 0; i < k; i++) {
        const char *s = frags[rng_next(rng) % (sizeof frags / sizeof frags[0])];
        memcpy(out + n, s, strlen(s));
        n += strlen(s);
    }
    return n;
}

/* What decoding gives back: the prefix space, "▁" read as ' '. */
static size_t spm_expected(const char *text, size_t len, bool prefix, char *out)
{
    size_t n = 0;
    if (prefix && len)
        out[n++] = ' ';
    for (size_t i = 0; i < len; i++) {
        if (i + 3 <= len && memcmp(text + i, SP, 3) == 0) {
            out[n++] = ' ';
            i += 2;
        } else {
            out[n++] = text[i];
        }
    }
    return n;
}

static void test_llama_matches_naive_reference(void **state)
{
    for (int prefix = 0; prefix < 2; prefix++) {
        struct llama_fix f;
        llama_fix_init(&f, prefix);
        uint64_t rng = 0x9E3779B97F4A7C15ull + (uint64_t)prefix;
        char text[512], dec[1024], want_text[1024];
        int32_t ids[600], want[600];
        for (int iter = 0; iter < 300; iter++) {
            size_t len = random_text(&rng, text, 12);
            int n = slm_tok_encode(&f.t, text, len, false, ids, 600, &f.scratch.p);
            int nw = ref_spm(f.b, prefix, text, len, want);
            assert_int_equal(n, nw);
            assert_memory_equal(ids, want, (size_t)n * sizeof ids[0]);
            size_t nd = decode_all(&f.t, ids, n, dec, sizeof dec);
            size_t ne = spm_expected(text, len, prefix, want_text);
            assert_int_equal(nd, ne);
            assert_memory_equal(dec, want_text, nd);
        }
        llama_fix_free(&f);
    }
    (void)state;
}

static void test_llama_round_trips(void **state)
{
    struct llama_fix f;
    llama_fix_init(&f, true);
    uint64_t rng = 12345;
    size_t cap = 20000;
    char *text = malloc(cap), *dec = malloc(3 * cap), *want = malloc(3 * cap);
    int32_t *ids = malloc(3 * cap * sizeof *ids);
    for (int kind = 0; kind < 3; kind++) {
        size_t len = 0;
        while (len < 10000) {
            if (kind == 0) { /* printable ASCII */
                text[len++] = (char)(0x20 + rng_next(&rng) % 95);
            } else if (kind == 1) { /* random valid UTF-8 */
                uint32_t cp = (uint32_t)(rng_next(&rng) % 0x10FFFF);
                if (cp >= 0xD800 && cp < 0xE000)
                    continue;
                if (cp < 0x80) {
                    text[len++] = (char)cp;
                } else if (cp < 0x800) {
                    text[len++] = (char)(0xC0 | cp >> 6);
                    text[len++] = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    text[len++] = (char)(0xE0 | cp >> 12);
                    text[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    text[len++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    text[len++] = (char)(0xF0 | cp >> 18);
                    text[len++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    text[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    text[len++] = (char)(0x80 | (cp & 0x3F));
                }
            } else { /* any bytes, and words the vocabulary knows */
                len += random_text(&rng, text + len, 3);
                text[len++] = (char)rng_next(&rng);
            }
        }
        int n = slm_tok_encode(&f.t, text, len, true, ids, (int)(3 * cap), &f.scratch.p);
        assert_true(n > 1);
        assert_int_equal(ids[0], 1);
        size_t nd = decode_all(&f.t, ids, n, dec, 3 * cap);
        size_t ne = spm_expected(text, len, true, want);
        assert_int_equal(nd, ne);
        assert_memory_equal(dec, want, nd);
    }
    free(text);
    free(dec);
    free(want);
    free(ids);
    (void)state;
    llama_fix_free(&f);
}

/* ---- llama: decode ---------------------------------------------------- */

static void test_llama_decode(void **state)
{
    struct llama_fix f;
    llama_fix_init(&f, true);
    char out[16];
    assert_int_equal(slm_tok_decode(&f.t, vb_id(f.b, SP "hello"), out, sizeof out), 6);
    assert_memory_equal(out, " hello", 6);
    assert_int_equal(slm_tok_decode(&f.t, byte_id(0x41), out, sizeof out), 1);
    assert_int_equal(out[0], 'A');
    assert_int_equal(slm_tok_decode(&f.t, byte_id(0x00), out, sizeof out), 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(slm_tok_decode(&f.t, 1, out, sizeof out), 0); /* <s> */
    assert_int_equal(slm_tok_decode(&f.t, 2, out, sizeof out), 0); /* </s> */
    assert_int_equal(slm_tok_decode(&f.t, 0, out, sizeof out), 5); /* <unk>: its text */
    assert_memory_equal(out, "<unk>", 5);
    /* bad ids, small buffers */
    assert_int_equal(slm_tok_decode(&f.t, -1, out, sizeof out), -SLM_E_INVAL);
    assert_int_equal(slm_tok_decode(&f.t, (int32_t)f.v.n_vocab, out, sizeof out), -SLM_E_INVAL);
    assert_int_equal(slm_tok_decode(&f.t, INT32_MAX, out, sizeof out), -SLM_E_INVAL);
    assert_int_equal(slm_tok_decode(&f.t, vb_id(f.b, SP "hello"), out, 5), -SLM_E_LIMIT);
    assert_int_equal(slm_tok_decode(&f.t, byte_id(0x41), out, 0), -SLM_E_LIMIT);
    assert_int_equal(slm_tok_decode(&f.t, 1, NULL, 0), 0);
    (void)state;
    llama_fix_free(&f);
}

/* Without token types: <0xHH> spelling makes byte tokens, bos/eos ids are
 * control; without scores every merge ties and the leftmost goes first. */
static void test_llama_without_types_or_scores(void **state)
{
    struct vb *b = llama_builder();
    struct slm_tok_vocab v = vb_vocab(b, SLM_TOK_LLAMA, false, false);
    v.bos = 1;
    v.eos = 2;
    v.add_space_prefix = true;
    struct tpool pool, scratch;
    tpool_init(&pool, slm_tok_pool_bytes(&v));
    tpool_init(&scratch, 1 << 20);
    struct slm_tokenizer t;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, NULL), 0);
    char out[16];
    assert_int_equal(slm_tok_decode(&t, byte_id(0xE9), out, sizeof out), 1);
    assert_int_equal((uint8_t)out[0], 0xE9);
    assert_int_equal(slm_tok_decode(&t, 1, out, sizeof out), 0);
    assert_int_equal(slm_tok_decode(&t, 2, out, sizeof out), 0);
    /* ▁ a b c, all scores 0: ▁a (leftmost), ab is stale, bc, then ▁a+bc */
    check_encode(&t, &scratch.p, "abc", 3, false, IDS(vb_id(b, SP "abc")));
    tpool_free(&scratch);
    tpool_free(&pool);
    vb_free(b);
    (void)state;
}

/* ---- llama: vocabulary edge cases ------------------------------------- */

static void test_llama_missing_byte_token_uses_unk(void **state)
{
    struct vb *b = vb_new(16);
    vb_addn(b, "<unk>", 5, 0, SLM_TT_UNKNOWN);
    vb_addn(b, "<0xC3>", 6, 0, SLM_TT_BYTE);
    vb_add(b, SP, -1);
    struct slm_tok_vocab v = vb_vocab(b, SLM_TOK_LLAMA, true, true);
    v.add_space_prefix = true;
    v.unk = 0;
    struct tpool pool, scratch;
    tpool_init(&pool, slm_tok_pool_bytes(&v));
    tpool_init(&scratch, 1 << 16);
    struct slm_tokenizer t;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, NULL), 0);
    check_encode(&t, &scratch.p, "\xC3\xA9", 2, false, IDS(2, 1, 0));
    /* without an unk there is nothing to stand for 0xA9 */
    t.v.unk = -1;
    int32_t ids[8];
    assert_int_equal(slm_tok_encode(&t, "\xC3\xA9", 2, false, ids, 8, &scratch.p), -SLM_E_TOKEN);
    assert_int_equal(slm_pool_mark(&scratch.p), 0);
    tpool_free(&scratch);
    tpool_free(&pool);
    vb_free(b);
    (void)state;
}

static void test_duplicate_pieces_keep_first(void **state)
{
    struct vb *b = vb_new(16);
    vb_add(b, "a", -1);
    vb_add(b, "b", -1);
    vb_add(b, "ab", -1);
    vb_add(b, "ab", -0.5f); /* a later duplicate, higher score: ignored */
    vb_add(b, "a", -1);
    struct slm_tok_vocab v = vb_vocab(b, SLM_TOK_LLAMA, true, false);
    struct tpool pool, scratch;
    tpool_init(&pool, slm_tok_pool_bytes(&v));
    tpool_init(&scratch, 1 << 16);
    struct slm_tokenizer t;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, NULL), 0);
    check_encode(&t, &scratch.p, "aba", 3, false, IDS(2, 0));
    tpool_free(&scratch);
    tpool_free(&pool);
    vb_free(b);
    (void)state;
}

static void test_init_rejects_bad_vocabularies(void **state)
{
    struct vb *b = llama_builder();
    struct slm_tok_vocab good = vb_vocab(b, SLM_TOK_LLAMA, true, true);
    struct tpool pool;
    tpool_init(&pool, 1 << 22);
    struct slm_tokenizer t;
    struct slm_err err = {0};
    struct slm_tok_vocab v = good;

    struct gguf_str saved = b->pieces[280];
    b->pieces[280].n = 0;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), -SLM_E_TOKEN);
    assert_non_null(strstr(err.msg, "token 280"));
    static char longp[257];
    memset(longp, 'q', sizeof longp);
    b->pieces[280] = (struct gguf_str){longp, 257};
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), -SLM_E_TOKEN);
    assert_non_null(strstr(err.msg, "token 280"));
    b->pieces[280] = (struct gguf_str){longp, 256}; /* 256 bytes is fine */
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), 0);
    pool.p.used = 0;
    b->pieces[280] = saved;

    v.bos = (int32_t)v.n_vocab;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), -SLM_E_TOKEN);
    v = good;
    v.unk = -2;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), -SLM_E_TOKEN);
    v = good;
    v.n_vocab = SLM_TOK_MAX_VOCAB + 1;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), -SLM_E_LIMIT);
    assert_int_equal(slm_tok_pool_bytes(&v), 0);
    v = good;
    v.n_vocab = 0;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), -SLM_E_TOKEN);
    v = good;
    v.kind = (enum slm_tok_kind)7;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), -SLM_E_UNSUPPORTED);
    assert_int_equal(slm_tok_init(NULL, &good, &pool.p, &err), -SLM_E_INVAL);

    /* a BYTE-typed token not spelled <0xHH> */
    v = good;
    b->type[280] = SLM_TT_BYTE;
    v = vb_vocab(b, SLM_TOK_LLAMA, true, true);
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), -SLM_E_TOKEN);
    assert_non_null(strstr(err.msg, "token 280"));
    b->type[280] = SLM_TT_NORMAL;
    assert_int_equal(pool.p.used, 0); /* failures give the pool back */
    tpool_free(&pool);
    vb_free(b);
    (void)state;
}

static void test_pool_bytes_exact(void **state)
{
    struct vb *b = llama_builder();
    struct slm_tok_vocab v = vb_vocab(b, SLM_TOK_LLAMA, true, true);
    size_t need = slm_tok_pool_bytes(&v);
    assert_true(need > 0);
    struct tpool pool;
    tpool_init(&pool, need + 4096);
    pool.p.used = 128; /* not at the start of the pool */
    struct slm_tokenizer t;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, NULL), 0);
    assert_int_equal(pool.p.used - 128, need);
    tpool_free(&pool);
    /* one cache line short: no memory, and the pool is untouched */
    tpool_init(&pool, need - SLM_POOL_ALIGN);
    struct slm_err err = {0};
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), -SLM_E_NOMEM);
    assert_int_equal(err.code, SLM_E_NOMEM);
    assert_int_equal(pool.p.used, 0);
    tpool_free(&pool);
    vb_free(b);
    (void)state;
}

static void test_encode_limits(void **state)
{
    struct llama_fix f;
    llama_fix_init(&f, true);
    int32_t ids[8];
    const char *text = "hello world";
    size_t len = strlen(text);
    assert_int_equal(slm_tok_encode(&f.t, text, len, false, ids, 1, &f.scratch.p), -SLM_E_LIMIT);
    assert_int_equal(slm_tok_encode(&f.t, text, len, true, ids, 2, &f.scratch.p), -SLM_E_LIMIT);
    assert_int_equal(slm_tok_encode(&f.t, text, len, false, ids, 2, &f.scratch.p), 2);
    assert_int_equal(slm_tok_encode(&f.t, text, len, true, ids, 0, &f.scratch.p), -SLM_E_LIMIT);
    assert_int_equal(slm_tok_encode(&f.t, text, len, false, ids, -1, &f.scratch.p), -SLM_E_INVAL);
    assert_int_equal(slm_tok_encode(&f.t, NULL, 3, false, ids, 8, &f.scratch.p), -SLM_E_INVAL);
    assert_int_equal(slm_tok_encode(&f.t, text, len, false, ids, 8, NULL), -SLM_E_INVAL);

    /* scratch: the advertised size is enough, a cache line less is not */
    size_t need = slm_tok_encode_scratch_bytes(&f.t, len);
    struct tpool s;
    tpool_init(&s, need);
    assert_int_equal(slm_tok_encode(&f.t, text, len, false, ids, 8, &s.p), 2);
    assert_int_equal(s.p.used, 0);
    s.p.size = need - SLM_POOL_ALIGN;
    assert_int_equal(slm_tok_encode(&f.t, text, len, false, ids, 8, &s.p), -SLM_E_NOMEM);
    assert_int_equal(s.p.used, 0);
    tpool_free(&s);
    (void)state;
    llama_fix_free(&f);
}

/* ---- gpt2 ------------------------------------------------------------- */

/* GPT-2's bytes_to_unicode, written as in the original Python. */
static void gpt2_byte_chars(uint32_t cp[256])
{
    bool direct[256] = {false};
    for (int b = '!'; b <= '~'; b++)
        direct[b] = true;
    for (int b = 0xA1; b <= 0xAC; b++)
        direct[b] = true;
    for (int b = 0xAE; b <= 0xFF; b++)
        direct[b] = true;
    uint32_t n = 0;
    for (int b = 0; b < 256; b++)
        cp[b] = direct[b] ? (uint32_t)b : 256 + n++;
}

/* Raw bytes -> their byte-level spelling (2 bytes per char at most). */
static size_t gpt2_spell(const char *raw, size_t n, char *out)
{
    uint32_t cp[256];
    gpt2_byte_chars(cp);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[(uint8_t)raw[i]];
        if (c < 0x80) {
            out[o++] = (char)c;
        } else {
            out[o++] = (char)(0xC0 | c >> 6);
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    return o;
}

static int32_t gpt2_id(const struct vb *b, const char *raw)
{
    char s[512];
    size_t n = gpt2_spell(raw, strlen(raw), s);
    int32_t id = vb_find(b, s, n);
    if (id < 0)
        fail_msg("no gpt2 piece for '%s'", raw);
    return id;
}

/* Adds merge "left right" (raw halves) and its result piece. */
static void gpt2_merge(struct vb *b, const char *l, const char *r)
{
    char s[1024], p[1024];
    size_t nl = gpt2_spell(l, strlen(l), s);
    s[nl] = ' ';
    size_t nr = gpt2_spell(r, strlen(r), s + nl + 1);
    char *m = malloc(nl + nr + 2);
    memcpy(m, s, nl + nr + 1);
    b->merges[b->n_merges] = (struct gguf_str){m, nl + 1 + nr};
    b->mleft[b->n_merges] = strdup(l);
    b->mright[b->n_merges] = strdup(r);
    b->n_merges++;
    memcpy(p, s, nl);
    memcpy(p + nl, s + nl + 1, nr);
    if (vb_find(b, p, nl + nr) < 0)
        vb_addn(b, p, nl + nr, 0, SLM_TT_NORMAL);
}

static const char *const gpt2_merges[][2] = {
    {"h", "e"},   {"l", "l"},  {"he", "ll"},   {"hell", "o"}, {" ", "w"},     {"o", "r"},
    {" w", "or"}, {"l", "d"},  {" wor", "ld"}, {"i", "t"},    {"'", "s"},     {" ", " "},
    {"s", "p"},   {"a", "c"},  {"sp", "ac"},   {"e", "s"},    {"spac", "es"}, {" ", "spaces"},
    {"1", "2"},   {"12", "3"}, {" ", "4"},     {" 4", "2"},   {"\n", "\n"},   {"e", "l"},
    {"l", "o"},   {"o", "w"},  {"lo", "w"},    {"r", "l"},    {"w", "o"},     {"wo", "rl"},
    {"e", "e"},   {"ee", "e"}, {"c", "a"},     {"ca", "t"},   {"s", "s"},
};

struct gpt2_fix {
    struct vb *b;
    struct slm_tok_vocab v;
    struct slm_tokenizer t;
    struct tpool pool, scratch;
};

static void gpt2_fix_init(struct gpt2_fix *f)
{
    uint32_t cp[256];
    gpt2_byte_chars(cp);
    f->b = vb_new(1024);
    for (int i = 0; i < 256; i++) {
        char raw = (char)i, s[4];
        vb_addn(f->b, s, gpt2_spell(&raw, 1, s), 0, SLM_TT_NORMAL);
    }
    for (size_t i = 0; i < sizeof gpt2_merges / sizeof gpt2_merges[0]; i++)
        gpt2_merge(f->b, gpt2_merges[i][0], gpt2_merges[i][1]);
    int32_t eot = vb_addn(f->b, "<|endoftext|>", 13, 0, SLM_TT_CONTROL);
    vb_addn(f->b, "\xE2\x82\xAC", 3, 0, SLM_TT_NORMAL); /* € is no byte char */
    vb_addn(f->b, "<tool>", 6, 0, SLM_TT_USER_DEFINED);
    f->v = vb_vocab(f->b, SLM_TOK_GPT2, false, true);
    f->v.bos = eot;
    f->v.eos = eot;
    tpool_init(&f->pool, slm_tok_pool_bytes(&f->v));
    struct slm_err err = {0};
    if (slm_tok_init(&f->t, &f->v, &f->pool.p, &err))
        fail_msg("slm_tok_init: %s", err.msg);
    assert_int_equal(f->pool.p.used, slm_tok_pool_bytes(&f->v));
    tpool_init(&f->scratch, 1 << 22);
}

static void gpt2_fix_free(struct gpt2_fix *f)
{
    tpool_free(&f->scratch);
    tpool_free(&f->pool);
    vb_free(f->b);
}

#define G(raw) gpt2_id(f.b, raw)

static void test_gpt2_exact_sequences(void **state)
{
    struct gpt2_fix f;
    gpt2_fix_init(&f);
    CHECK(&f, "hello world", false, G("hello"), G(" world"));
    CHECK(&f, "it's", false, G("it"), G("'s"));
    CHECK(&f, "it'sx", false, G("it"), G("'s"), G("x"));
    /* "  spaces" splits as " " + " spaces" (\s+(?!\S)), so no "  " */
    CHECK(&f, "  spaces", false, G(" "), G(" spaces"));
    /* trailing spaces stay together */
    CHECK(&f, "x  ", false, G("x"), G("  "));
    CHECK(&f, "a\n\nb", false, G("a"), G("\n"), G("\n"), G("b"));
    CHECK(&f, "a\n\n", false, G("a"), G("\n\n"));
    /* digits: a run of their own, a space joins them */
    CHECK(&f, "123", false, G("123"));
    CHECK(&f, "1234", false, G("123"), G("4"));
    CHECK(&f, "ab12", false, G("a"), G("b"), G("12"));
    CHECK(&f, " 42", false, G(" 42"));
    CHECK(&f, "hello, world!!", false, G("hello"), G(","), G(" world"), G("!"), G("!"));
    /* lowest rank first: e+l (23) never beats h+e (0) */
    CHECK(&f, "hello", false, G("hello"));
    /* l+o (24) before o+w (25): lo w -> low */
    CHECK(&f, "low", false, G("low"));
    /* e+e (30) at 0, then the e+e at 2 (30) beats ee+e (31) */
    CHECK(&f, "eeee", false, G("ee"), G("ee"));
    CHECK(&f, "eee", false, G("eee"));
    /* non-ASCII bytes are letters: é glues to the word */
    CHECK(&f, " caté", false, G(" "), G("cat"), G("\xC3"), G("\xA9"));
    CHECK(&f, "", true, (int32_t)f.v.bos);
    (void)state;
    gpt2_fix_free(&f);
}

/* O(n^2) byte-level BPE of one word: lowest rank first, leftmost on ties. */
static int ref_bpe_word(const struct vb *b, const char *w, size_t n, int32_t *out)
{
    char sym[64][64];
    size_t ns = 0;
    for (size_t i = 0; i < n; i++) {
        sym[ns][0] = w[i];
        sym[ns++][1] = 0;
    }
    for (;;) {
        long best = -1;
        uint32_t best_rank = 0;
        for (size_t i = 0; i + 1 < ns; i++)
            for (uint32_t r = 0; r < b->n_merges; r++)
                if (!strcmp(b->mleft[r], sym[i]) && !strcmp(b->mright[r], sym[i + 1])) {
                    if (best < 0 || r < best_rank) {
                        best = (long)i;
                        best_rank = r;
                    }
                    break;
                }
        if (best < 0)
            break;
        size_t nl = strlen(sym[best]), nr = strlen(sym[best + 1]);
        memcpy(&sym[best][nl], sym[best + 1], nr + 1);
        memmove(sym + best + 1, sym + best + 2, (ns - best - 2) * sizeof sym[0]);
        ns--;
    }
    for (size_t i = 0; i < ns; i++)
        out[i] = gpt2_id(b, sym[i]);
    return (int)ns;
}

static void test_gpt2_matches_naive_reference(void **state)
{
    struct gpt2_fix f;
    gpt2_fix_init(&f);
    static const char letters[] = "helowrdiscapt";
    uint64_t rng = 777;
    char w[40];
    int32_t ids[64], want[64];
    for (int iter = 0; iter < 500; iter++) {
        size_t n = 1 + rng_next(&rng) % 30;
        for (size_t i = 0; i < n; i++)
            w[i] = letters[rng_next(&rng) % (sizeof letters - 1)];
        int k = slm_tok_encode(&f.t, w, n, false, ids, 64, &f.scratch.p);
        int kw = ref_bpe_word(f.b, w, n, want);
        assert_int_equal(k, kw);
        assert_memory_equal(ids, want, (size_t)k * sizeof ids[0]);
    }
    (void)state;
    gpt2_fix_free(&f);
}

static void test_gpt2_bytes_round_trip(void **state)
{
    struct gpt2_fix f;
    gpt2_fix_init(&f);
    char text[256], out[1024];
    int32_t ids[512];
    for (int i = 0; i < 256; i++) {
        text[i] = (char)i;
        /* the vocabulary's first 256 ids are the byte chars in byte order */
        check_encode(&f.t, &f.scratch.p, text + i, 1, false, IDS(i));
        assert_int_equal(slm_tok_decode(&f.t, i, out, sizeof out), 1);
        assert_int_equal((uint8_t)out[0], i);
    }
    int n = slm_tok_encode(&f.t, text, 256, false, ids, 512, &f.scratch.p);
    assert_true(n > 0);
    assert_int_equal(decode_all(&f.t, ids, n, out, sizeof out), 256);
    assert_memory_equal(out, text, 256);
    /* the spellings: ' ' is U+0120, '\n' U+010A, 0xAD U+0143 */
    assert_int_equal(f.b->pieces[' '].n, 2);
    assert_memory_equal(f.b->pieces[' '].p, "\xC4\xA0", 2);
    assert_memory_equal(f.b->pieces['\n'].p, "\xC4\x8A", 2);
    assert_memory_equal(f.b->pieces[0xAD].p, "\xC5\x83", 2);
    (void)state;
    gpt2_fix_free(&f);
}

static void test_gpt2_round_trip_long(void **state)
{
    struct gpt2_fix f;
    gpt2_fix_init(&f);
    uint64_t rng = 99;
    size_t len = 10240;
    char *text = malloc(len + 64), *out = malloc(4 * len);
    int32_t *ids = malloc(len * sizeof *ids);
    for (size_t i = 0; i < len;) {
        if (rng_next(&rng) % 2) {
            text[i++] = (char)rng_next(&rng);
        } else {
            size_t n = random_text(&rng, text + i, 1);
            i += n;
            if (i > len)
                i = len; /* fragments may run past: cut */
        }
    }
    int n = slm_tok_encode(&f.t, text, len, false, ids, (int)len, &f.scratch.p);
    assert_true(n > 0);
    assert_int_equal(decode_all(&f.t, ids, n, out, 4 * len), len);
    assert_memory_equal(out, text, len);
    free(text);
    free(out);
    free(ids);
    (void)state;
    gpt2_fix_free(&f);
}

static void test_gpt2_decode_special(void **state)
{
    struct gpt2_fix f;
    gpt2_fix_init(&f);
    char out[16];
    assert_int_equal(slm_tok_decode(&f.t, f.v.bos, out, sizeof out), 0);
    int32_t euro = vb_find(f.b, "\xE2\x82\xAC", 3);
    assert_int_equal(slm_tok_decode(&f.t, euro, out, sizeof out), 3);
    assert_memory_equal(out, "\xE2\x82\xAC", 3);
    int32_t tool = vb_find(f.b, "<tool>", 6);
    assert_int_equal(slm_tok_decode(&f.t, tool, out, sizeof out), 6);
    assert_memory_equal(out, "<tool>", 6);
    assert_int_equal(slm_tok_decode(&f.t, G(" world"), out, sizeof out), 6);
    assert_memory_equal(out, " world", 6);
    assert_int_equal(slm_tok_decode(&f.t, G(" world"), out, 3), -SLM_E_LIMIT);
    assert_int_equal(slm_tok_decode(&f.t, -5, out, sizeof out), -SLM_E_INVAL);
    (void)state;
    gpt2_fix_free(&f);
}

static void test_gpt2_merges(void **state)
{
    struct gpt2_fix f;
    gpt2_fix_init(&f);
    struct slm_tokenizer t;
    struct tpool pool;
    tpool_init(&pool, slm_tok_pool_bytes(&f.v));
    struct slm_tok_vocab v = f.v;
    struct gguf_str saved = f.b->merges[3];
    /* a merge with no space is malformed */
    f.b->merges[3] = (struct gguf_str){"hello", 5};
    struct slm_err err = {0};
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), -SLM_E_TOKEN);
    assert_non_null(strstr(err.msg, "merge 3"));
    assert_int_equal(pool.p.used, 0);
    /* one whose halves or result are no pieces is skipped */
    f.b->merges[3] = (struct gguf_str){"q z", 3};
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), 0);
    check_encode(&t, &f.scratch.p, "hello", 5, false, IDS(G("hell"), G("o")));
    f.b->merges[3] = saved;
    /* no merges at all: bytes */
    pool.p.used = 0;
    v.n_merges = 0;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), 0);
    check_encode(&t, &f.scratch.p, "he", 2, false, IDS('h', 'e'));
    v.n_merges = SLM_TOK_MAX_MERGES + 1;
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, &err), -SLM_E_LIMIT);
    tpool_free(&pool);
    (void)state;
    gpt2_fix_free(&f);
}

/* ---- timing on a 32000-piece vocabulary ------------------------------- */

static uint64_t now_ns(void)
{
    return slm_port_now_ns();
}

static void test_timing_32k_vocab(void **state)
{
    struct vb *b = llama_builder();
    b->cap = 32000;
    b->pieces = realloc(b->pieces, 32000 * sizeof *b->pieces);
    b->score = realloc(b->score, 32000 * sizeof *b->score);
    b->type = realloc(b->type, 32000 * sizeof *b->type);
    b->scores_raw = realloc(b->scores_raw, 4 * 32000 + 1);
    b->types_raw = realloc(b->types_raw, 4 * 32000 + 3);
    /* distinct pieces: ("▁" or "") + the counter in base 26, 2+ letters */
    for (uint32_t i = 0; b->n < 32000; i++) {
        char s[16];
        size_t n = 0;
        if (i % 2) {
            memcpy(s, SP, 3);
            n = 3;
        }
        for (uint32_t x = i / 2 + 26; x; x /= 26)
            s[n++] = (char)('a' + x % 26);
        vb_addn(b, s, n, -(float)b->n, SLM_TT_NORMAL);
    }
    struct slm_tok_vocab v = vb_vocab(b, SLM_TOK_LLAMA, true, true);
    v.add_space_prefix = true;
    struct tpool pool, scratch;
    tpool_init(&pool, slm_tok_pool_bytes(&v));
    tpool_init(&scratch, 1 << 20);
    struct slm_tokenizer t;
    uint64_t t0 = now_ns();
    assert_int_equal(slm_tok_init(&t, &v, &pool.p, NULL), 0);
    uint64_t t_init = now_ns() - t0;
    assert_int_equal(pool.p.used, slm_tok_pool_bytes(&v));
    const char *prompt = "The quick brown fox jumps over the lazy dog while the cat sleeps "
                         "quietly on a warm windowsill today.";
    assert_true(strlen(prompt) >= 100);
    int32_t ids[256];
    int runs = 200, n = 0;
    t0 = now_ns();
    for (int i = 0; i < runs; i++)
        n = slm_tok_encode(&t, prompt, strlen(prompt), true, ids, 256, &scratch.p);
    uint64_t t_enc = (now_ns() - t0) / (uint64_t)runs;
    assert_true(n > 1);
    print_message("[ info ] 32000 pieces: init %.3f ms, encode %zu bytes -> %d tokens %.2f us "
                  "(this build)\n",
                  (double)t_init / 1e6, strlen(prompt), n, (double)t_enc / 1e3);
    tpool_free(&scratch);
    tpool_free(&pool);
    vb_free(b);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_merges_highest_score_first),
        cmocka_unit_test(test_llama_byte_fallback),
        cmocka_unit_test(test_llama_bos_empty_and_spaces),
        cmocka_unit_test(test_llama_without_space_prefix),
        cmocka_unit_test(test_llama_matches_naive_reference),
        cmocka_unit_test(test_llama_round_trips),
        cmocka_unit_test(test_llama_decode),
        cmocka_unit_test(test_llama_without_types_or_scores),
        cmocka_unit_test(test_llama_missing_byte_token_uses_unk),
        cmocka_unit_test(test_duplicate_pieces_keep_first),
        cmocka_unit_test(test_init_rejects_bad_vocabularies),
        cmocka_unit_test(test_pool_bytes_exact),
        cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_gpt2_exact_sequences),
        cmocka_unit_test(test_gpt2_matches_naive_reference),
        cmocka_unit_test(test_gpt2_bytes_round_trip),
        cmocka_unit_test(test_gpt2_round_trip_long),
        cmocka_unit_test(test_gpt2_decode_special),
        cmocka_unit_test(test_gpt2_merges),
        cmocka_unit_test(test_timing_32k_vocab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
