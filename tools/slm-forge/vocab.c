/*
 * vocab.c - a real llama (SentencePiece-style) vocabulary, learned by BPE.
 *
 * Layout: 0 <unk> (UNKNOWN), 1 <s>, 2 </s> (CONTROL), 3..258 the byte
 * tokens <0x00>..<0xFF> (BYTE, score 0), then the merged pieces in merge
 * order (score of the k-th = -k), then every single character (scores
 * continuing downwards, most frequent first), exactly `size` tokens.
 *
 * Learning: the corpus is split on ASCII whitespace; each word becomes
 * "▁word" (U+2581) and is counted once per unique spelling (word -> count).
 * Pair counts are kept incrementally: a merge only revisits the words that
 * contain its pair, and a max-heap with lazy deletion picks the next pair
 * (count, then symbol ids, so the result is deterministic). When the corpus
 * runs out of pairs, a built-in supplement (English words, hex pairs, then
 * numbers without end) adds pieces prefix by prefix, so every piece is the
 * merge of two pieces and the tokenizer can reach it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "forge.h"
#include "tokenizer.h"

#define SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's word marker */
#define N_SPECIAL 259        /* <unk> <s> </s> + 256 byte tokens */
#define MAX_WORD 128         /* bytes; longer "words" (hashes, URLs) are skipped */

/* ---- growable arrays and string hashing ------------------------------------ */

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* ---- string table: distinct byte strings -> dense ids ---------------------- */

struct sref {
    uint32_t off, len;
};

struct strtab {
    char *bytes; /* all strings, each NUL-terminated, back to back */
    size_t nbytes, capbytes;
    struct sref *ref; /* [n] */
    size_t n, cap;
    uint32_t *slots; /* open addressing: id + 1, 0 empty */
    size_t nslots;
};

static int strtab_rehash(struct strtab *t, size_t nslots)
{
    uint32_t *s = calloc(nslots, sizeof *s);
    if (!s)
        return -ENOMEM;
    for (size_t id = 0; id < t->n; id++) {
        size_t i = hash_bytes(t->bytes + t->ref[id].off, t->ref[id].len) & (nslots - 1);
        while (s[i])
            i = (i + 1) & (nslots - 1);
        s[i] = (uint32_t)id + 1;
    }
    free(t->slots);
    t->slots = s;
    t->nslots = nslots;
    return 0;
}

/* Id of p[0..n), added if new (*added tells). Returns the id or -ENOMEM. */
static long strtab_intern(struct strtab *t, const char *p, size_t n, bool *added)
{
    *added = false;
    if ((t->n + 1) * 2 > t->nslots && strtab_rehash(t, t->nslots ? 2 * t->nslots : 1024))
        return -ENOMEM;
    size_t i = hash_bytes(p, n) & (t->nslots - 1);
    for (; t->slots[i]; i = (i + 1) & (t->nslots - 1)) {
        const struct sref *r = &t->ref[t->slots[i] - 1];
        if (r->len == n && memcmp(t->bytes + r->off, p, n) == 0)
            return (long)t->slots[i] - 1;
    }
    if (grow((void **)&t->bytes, &t->capbytes, t->nbytes + n + 1, 1) ||
        grow((void **)&t->ref, &t->cap, t->n + 1, sizeof *t->ref))
        return -ENOMEM;
    memcpy(t->bytes + t->nbytes, p, n);
    t->bytes[t->nbytes + n] = '\0';
    t->ref[t->n] = (struct sref){(uint32_t)t->nbytes, (uint32_t)n};
    t->nbytes += n + 1;
    t->slots[i] = (uint32_t)t->n + 1;
    *added = true;
    return (long)t->n++;
}

static const char *strtab_str(const struct strtab *t, uint32_t id)
{
    return t->bytes + t->ref[id].off;
}

static uint32_t strtab_len(const struct strtab *t, uint32_t id)
{
    return t->ref[id].len;
}

static void strtab_free(struct strtab *t)
{
    free(t->bytes);
    free(t->ref);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* ---- the corpus ------------------------------------------------------------ */

static int read_file(const char *path, char **out, size_t *size, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
    if (fd < 0 || fstat(fd, &st) < 0) {
        rc = -errno;
        snprintf(err, errlen,
                 "corpus %s: %s (the default is Debian's pci.ids: run `make deps`, or pass "
                 "--corpus FILE)",
                 path, strerror(-rc));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = k < 0 ? -errno : -EIO;
            break;
        }
        got += (size_t)k;
    }
    close(fd);
    if (!buf || rc) {
        free(buf);
        rc = rc ? rc : -ENOMEM;
        snprintf(err, errlen, "corpus %s: %s", path, strerror(-rc));
        return rc;
    }
    *out = buf;
    *size = got;
    return 0;
}

/* Bytes of the UTF-8 character at p (at most n bytes), or 0 if invalid or a
 * control character: such words are skipped (bytes cover them at run time). */
static size_t utf8_char(const uint8_t *p, size_t n)
{
    size_t len = p[0] < 0x80             ? 1
                 : (p[0] & 0xe0) == 0xc0 ? 2
                 : (p[0] & 0xf0) == 0xe0 ? 3
                 : (p[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n || (len == 1 && (p[0] < 0x20 || p[0] == 0x7f)))
        return 0;
    if (len == 2 && p[0] < 0xc2)
        return 0; /* overlong */
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Unique "▁word" strings and their counts. */
struct words {
    struct strtab tab;
    uint64_t *count; /* [tab.n] */
    size_t cap;
    uint64_t total;
};

static int count_word(struct words *w, const char *p, size_t n)
{
    char buf[sizeof SPACE - 1 + MAX_WORD];
    bool added;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_char((const uint8_t *)p + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    memcpy(buf, SPACE, sizeof SPACE - 1);
    memcpy(buf + sizeof SPACE - 1, p, n);
    long id = strtab_intern(&w->tab, buf, sizeof SPACE - 1 + n, &added);
    if (id < 0 || grow((void **)&w->count, &w->cap, (size_t)id + 1, sizeof *w->count))
        return -ENOMEM;
    if (added)
        w->count[id] = 0;
    w->count[id]++;
    w->total++;
    return 0;
}

static int split_words(struct words *w, const char *text, size_t n)
{
    for (size_t i = 0; i < n;) {
        while (i < n && is_space(text[i]))
            i++;
        size_t start = i;
        while (i < n && !is_space(text[i]))
            i++;
        if (i > start && i - start <= MAX_WORD && count_word(w, text + start, i - start))
            return -ENOMEM;
    }
    return 0;
}

/* ---- characters ------------------------------------------------------------ */

/* Characters the supplement spells with: always pieces, whatever the corpus. */
static const char supplement_alphabet[] =
    SPACE "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

struct chars {
    struct strtab tab;
    uint64_t *freq; /* [tab.n] occurrences in the corpus */
    size_t cap;
    uint32_t *order; /* [tab.n] ids, most frequent first */
};

static int char_add(struct chars *c, const char *p, size_t n, uint64_t count)
{
    bool added;
    long id = strtab_intern(&c->tab, p, n, &added);
    if (id < 0 || grow((void **)&c->freq, &c->cap, (size_t)id + 1, sizeof *c->freq))
        return -ENOMEM;
    if (added)
        c->freq[id] = 0;
    c->freq[id] += count;
    return 0;
}

static int char_cmp(const void *pa, const void *pb, void *ctx)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    const struct chars *c = ctx;
    if (c->freq[a] != c->freq[b])
        return c->freq[a] > c->freq[b] ? -1 : 1;
    return strcmp(strtab_str(&c->tab, a), strtab_str(&c->tab, b));
}

/* Every character of the words and of the supplement alphabet, sorted. */
static int collect_chars(struct chars *c, const struct words *w)
{
    for (size_t id = 0; id < w->tab.n; id++) {
        const char *p = strtab_str(&w->tab, (uint32_t)id);
        size_t n = strtab_len(&w->tab, (uint32_t)id);
        for (size_t i = 0, k; i < n; i += k) {
            k = utf8_char((const uint8_t *)p + i, n - i);
            if (char_add(c, p + i, k, w->count[id]))
                return -ENOMEM;
        }
    }
    const char *a = supplement_alphabet;
    for (size_t i = 0, k, n = strlen(a); i < n; i += k) {
        k = utf8_char((const uint8_t *)a + i, n - i);
        if (char_add(c, a + i, k, 0))
            return -ENOMEM;
    }
    if (!(c->order = malloc((c->tab.n ? c->tab.n : 1) * sizeof *c->order)))
        return -ENOMEM;
    for (size_t i = 0; i < c->tab.n; i++)
        c->order[i] = (uint32_t)i;
    qsort_r(c->order, c->tab.n, sizeof *c->order, char_cmp, c);
    return 0;
}

static void chars_free(struct chars *c)
{
    strtab_free(&c->tab);
    free(c->freq);
    free(c->order);
}

/* ---- BPE state ------------------------------------------------------------- */

struct pair {
    uint64_t key;    /* left symbol << 32 | right symbol */
    int64_t count;   /* occurrences, weighted by word counts */
    uint32_t *words; /* words that contained the pair (may be stale) */
    uint32_t nwords, capwords;
    uint32_t touched; /* merge number that last changed count */
};

struct heap_ent {
    int64_t count;
    uint64_t key;
};

struct bpe {
    struct strtab syms; /* every symbol: specials, characters, merges */
    /* word symbol sequences as linked positions */
    int32_t *sym, *nxt, *prv;
    uint32_t *word_start;
    uint64_t *word_count;
    uint32_t *stamp; /* [words] last merge that visited the word */
    size_t n_words, n_pos;
    /* pair statistics */
    struct pair *pairs;
    size_t n_pairs, cap_pairs;
    uint32_t *slots; /* pair index + 1 */
    size_t nslots;
    struct heap_ent *heap;
    size_t n_heap, cap_heap;
    uint32_t *touched;
    size_t n_touched, cap_touched;
    uint32_t merge_no;
    /* results: new pieces in order */
    uint32_t *pieces;
    size_t n_pieces, cap_pieces;
};

static bool heap_above(const struct heap_ent *a, const struct heap_ent *b)
{
    return a->count > b->count || (a->count == b->count && a->key < b->key);
}

static int heap_push(struct bpe *s, int64_t count, uint64_t key)
{
    if (grow((void **)&s->heap, &s->cap_heap, s->n_heap + 1, sizeof *s->heap))
        return -ENOMEM;
    size_t i = s->n_heap++;
    struct heap_ent e = {count, key};
    while (i && heap_above(&e, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
    return 0;
}

static struct heap_ent heap_pop(struct bpe *s)
{
    struct heap_ent top = s->heap[0], last = s->heap[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (size_t ch; (ch = 2 * i + 1) < n; i = ch) {
        if (ch + 1 < n && heap_above(&s->heap[ch + 1], &s->heap[ch]))
            ch++;
        if (!heap_above(&s->heap[ch], &last))
            break;
        s->heap[i] = s->heap[ch];
    }
    if (n)
        s->heap[i] = last;
    return top;
}

static int pairs_rehash(struct bpe *s, size_t nslots)
{
    uint32_t *sl = calloc(nslots, sizeof *sl);
    if (!sl)
        return -ENOMEM;
    for (size_t p = 0; p < s->n_pairs; p++) {
        size_t i = hash_u64(s->pairs[p].key) & (nslots - 1);
        while (sl[i])
            i = (i + 1) & (nslots - 1);
        sl[i] = (uint32_t)p + 1;
    }
    free(s->slots);
    s->slots = sl;
    s->nslots = nslots;
    return 0;
}

/* Index of the pair (a, b), created with count 0 if new; -ENOMEM. */
static long pair_get(struct bpe *s, uint32_t a, uint32_t b)
{
    uint64_t key = (uint64_t)a << 32 | b;
    if ((s->n_pairs + 1) * 2 > s->nslots && pairs_rehash(s, s->nslots ? 2 * s->nslots : 4096))
        return -ENOMEM;
    size_t i = hash_u64(key) & (s->nslots - 1);
    for (; s->slots[i]; i = (i + 1) & (s->nslots - 1))
        if (s->pairs[s->slots[i] - 1].key == key)
            return (long)s->slots[i] - 1;
    if (grow((void **)&s->pairs, &s->cap_pairs, s->n_pairs + 1, sizeof *s->pairs))
        return -ENOMEM;
    s->pairs[s->n_pairs] = (struct pair){.key = key, .touched = UINT32_MAX};
    s->slots[i] = (uint32_t)s->n_pairs + 1;
    return (long)s->n_pairs++;
}

/* Adds delta occurrences of (a, b) in word w (recorded when positive). */
static int pair_add(struct bpe *s, uint32_t a, uint32_t b, int64_t delta, uint32_t w)
{
    long pi = pair_get(s, a, b);
    if (pi < 0)
        return -ENOMEM;
    struct pair *p = &s->pairs[pi];
    p->count += delta;
    if (delta > 0 && (p->nwords == 0 || p->words[p->nwords - 1] != w)) {
        size_t cap = p->capwords;
        if (grow((void **)&p->words, &cap, (size_t)p->nwords + 1, sizeof *p->words))
            return -ENOMEM;
        p->capwords = (uint32_t)cap;
        p->words[p->nwords++] = w;
    }
    if (p->touched != s->merge_no) {
        p->touched = s->merge_no;
        if (grow((void **)&s->touched, &s->cap_touched, s->n_touched + 1, sizeof *s->touched))
            return -ENOMEM;
        s->touched[s->n_touched++] = (uint32_t)pi;
    }
    return 0;
}

/* Pushes the current count of every pair changed since the last flush. */
static int flush_touched(struct bpe *s)
{
    for (size_t i = 0; i < s->n_touched; i++) {
        const struct pair *p = &s->pairs[s->touched[i]];
        if (p->count > 0 && heap_push(s, p->count, p->key))
            return -ENOMEM;
    }
    s->n_touched = 0;
    return 0;
}

/* ---- BPE ------------------------------------------------------------------- */

static void bpe_free(struct bpe *s)
{
    strtab_free(&s->syms);
    free(s->sym);
    free(s->nxt);
    free(s->prv);
    free(s->word_start);
    free(s->word_count);
    free(s->stamp);
    for (size_t i = 0; i < s->n_pairs; i++)
        free(s->pairs[i].words);
    free(s->pairs);
    free(s->slots);
    free(s->heap);
    free(s->touched);
    free(s->pieces);
}

/* Symbol ids: 0..258 the special tokens (so no merge can re-create one as a
 * new piece), then the characters in c->order. */
static int seed_symbols(struct bpe *s, const struct chars *c)
{
    static const char *const specials[] = {"<unk>", "<s>", "</s>"};
    char buf[8];
    bool added;
    for (int i = 0; i < N_SPECIAL; i++) {
        const char *p = i < 3 ? specials[i] : buf;
        if (i >= 3)
            snprintf(buf, sizeof buf, "<0x%02X>", i - 3);
        if (strtab_intern(&s->syms, p, strlen(p), &added) < 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < c->tab.n; i++) {
        uint32_t id = c->order[i];
        if (strtab_intern(&s->syms, strtab_str(&c->tab, id), strtab_len(&c->tab, id), &added) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Each unique word as a linked list of character symbols, and the initial
 * pair counts. */
static int load_words(struct bpe *s, const struct words *w)
{
    size_t npos = 0;
    bool added;
    for (size_t i = 0; i < w->tab.n; i++)
        npos += strtab_len(&w->tab, (uint32_t)i);
    s->n_words = w->tab.n;
    s->sym = malloc((npos + 1) * sizeof *s->sym);
    s->nxt = malloc((npos + 1) * sizeof *s->nxt);
    s->prv = malloc((npos + 1) * sizeof *s->prv);
    s->word_start = malloc((s->n_words + 1) * sizeof *s->word_start);
    s->word_count = malloc((s->n_words + 1) * sizeof *s->word_count);
    s->stamp = calloc(s->n_words + 1, sizeof *s->stamp);
    if (!s->sym || !s->nxt || !s->prv || !s->word_start || !s->word_count || !s->stamp)
        return -ENOMEM;
    for (size_t wi = 0; wi < s->n_words; wi++) {
        const char *p = strtab_str(&w->tab, (uint32_t)wi);
        size_t n = strtab_len(&w->tab, (uint32_t)wi), first = s->n_pos;
        s->word_start[wi] = (uint32_t)first;
        s->word_count[wi] = w->count[wi];
        for (size_t i = 0, k; i < n; i += k) {
            k = utf8_char((const uint8_t *)p + i, n - i);
            long id = strtab_intern(&s->syms, p + i, k, &added); /* exists: a character */
            if (id < 0)
                return -ENOMEM;
            size_t at = s->n_pos++;
            s->sym[at] = (int32_t)id;
            s->prv[at] = at > first ? (int32_t)at - 1 : -1;
            s->nxt[at] = -1;
            if (at > first) {
                s->nxt[at - 1] = (int32_t)at;
                if (pair_add(s, (uint32_t)s->sym[at - 1], (uint32_t)id, (int64_t)w->count[wi],
                             (uint32_t)wi))
                    return -ENOMEM;
            }
        }
    }
    return flush_touched(s);
}

/* Replaces every (a, b) in word wi by c, updating the neighbours' pairs. */
static int merge_word(struct bpe *s, uint32_t wi, uint32_t a, uint32_t b, uint32_t c)
{
    int64_t n = (int64_t)s->word_count[wi];
    int rc = 0;
    for (int32_t p = (int32_t)s->word_start[wi]; p >= 0 && !rc;) {
        int32_t q = s->nxt[p];
        if (q < 0 || (uint32_t)s->sym[p] != a || (uint32_t)s->sym[q] != b) {
            p = q;
            continue;
        }
        int32_t before = s->prv[p], after = s->nxt[q];
        rc = pair_add(s, a, b, -n, wi);
        if (!rc && before >= 0)
            rc = pair_add(s, (uint32_t)s->sym[before], a, -n, wi) ||
                 pair_add(s, (uint32_t)s->sym[before], c, n, wi);
        if (!rc && after >= 0)
            rc = pair_add(s, b, (uint32_t)s->sym[after], -n, wi) ||
                 pair_add(s, c, (uint32_t)s->sym[after], n, wi);
        s->sym[p] = (int32_t)c;
        s->nxt[p] = after;
        if (after >= 0)
            s->prv[after] = p;
        p = after;
    }
    return rc ? -ENOMEM : 0;
}

static int add_piece(struct bpe *s, uint32_t id)
{
    if (grow((void **)&s->pieces, &s->cap_pieces, s->n_pieces + 1, sizeof *s->pieces))
        return -ENOMEM;
    s->pieces[s->n_pieces++] = id;
    return 0;
}

/* One merge: the best pair, if any is left. Returns 1 when done, 0 or -ENOMEM. */
static int merge_once(struct bpe *s)
{
    char buf[2 * (sizeof SPACE - 1 + MAX_WORD)];
    bool added;
    struct heap_ent e;
    long pi;
    do {
        if (s->n_heap == 0)
            return 1;
        e = heap_pop(s);
        pi = pair_get(s, (uint32_t)(e.key >> 32), (uint32_t)e.key);
        if (pi < 0)
            return -ENOMEM;
    } while (e.count <= 0 || s->pairs[pi].count != e.count);
    uint32_t a = (uint32_t)(e.key >> 32), b = (uint32_t)e.key;
    uint32_t la = strtab_len(&s->syms, a), lb = strtab_len(&s->syms, b);
    memcpy(buf, strtab_str(&s->syms, a), la);
    memcpy(buf + la, strtab_str(&s->syms, b), lb);
    long c = strtab_intern(&s->syms, buf, la + lb, &added);
    if (c < 0 || (added && add_piece(s, (uint32_t)c)))
        return -ENOMEM;
    s->merge_no++;
    /* pair_add never appends to (a, b) itself (c differs from a and b), but
     * it may move s->pairs: index it afresh every time */
    for (uint32_t i = 0; i < s->pairs[pi].nwords; i++) {
        uint32_t wi = s->pairs[pi].words[i];
        if (s->stamp[wi] == s->merge_no)
            continue;
        s->stamp[wi] = s->merge_no;
        if (merge_word(s, wi, a, b, (uint32_t)c))
            return -ENOMEM;
    }
    free(s->pairs[pi].words);
    s->pairs[pi].words = NULL;
    s->pairs[pi].nwords = s->pairs[pi].capwords = 0;
    return flush_touched(s);
}

/* ---- the supplement -------------------------------------------------------- */

static const char *const supplement_words[] = {
    "the",       "of",
    "and",       "to",
    "in",        "is",
    "for",       "on",
    "with",      "as",
    "by",        "at",
    "from",      "or",
    "an",        "be",
    "this",      "that",
    "it",        "are",
    "not",       "all",
    "can",       "has",
    "was",       "will",
    "use",       "device",
    "devices",   "controller",
    "bus",       "memory",
    "kernel",    "system",
    "module",    "driver",
    "network",   "ethernet",
    "interface", "adapter",
    "bridge",    "port",
    "card",      "chip",
    "audio",     "video",
    "graphics",  "storage",
    "disk",      "file",
    "files",     "install",
    "package",   "packages",
    "server",    "client",
    "service",   "process",
    "thread",    "user",
    "root",      "boot",
    "load",      "model",
    "vendor",    "class",
    "subsystem", "serial",
    "console",   "command",
    "shell",     "list",
    "show",      "start",
    "stop",      "run",
    "error",     "version",
    "intel",     "debian",
    "linux",     "nginx",
    "apt",       "get",
    "config",    "configuration",
    "support",   "family",
    "series",    "gigabit",
    "wireless",  "usb",
    "pci",       "express",
    "host",      "input",
    "output",    "data",
    "read",      "write",
    "time",      "page",
    "cache",     "queue",
    "power",     "management",
    "virtual",   "machine",
    "address",   "value",
    "number",
};

/* The i-th supplement string into buf; false when i is past the end (the
 * number range is effectively endless). */
static bool supplement(uint64_t i, char *buf, size_t n)
{
    const uint64_t nw = sizeof supplement_words / sizeof supplement_words[0];
    if (i < 2 * nw) {
        snprintf(buf, n, "%s%s", i % 2 ? "" : SPACE, supplement_words[i / 2]);
        return true;
    }
    i -= 2 * nw;
    if (i < 256) {
        snprintf(buf, n, SPACE "0x%02x", (unsigned)i);
        return true;
    }
    i -= 256;
    if (i < 256) {
        snprintf(buf, n, "%02x", (unsigned)i);
        return true;
    }
    i -= 256;
    snprintf(buf, n, "%s%llu", i % 2 ? "" : SPACE, (unsigned long long)(i / 2));
    return i / 2 < 1000000000ull;
}

/* Adds supplement pieces, each prefix before the longer one, until `want`
 * pieces exist. */
static int fill_supplement(struct bpe *s, size_t want)
{
    char buf[64];
    bool added;
    for (uint64_t i = 0; s->n_pieces < want && supplement(i, buf, sizeof buf); i++) {
        size_t n = strlen(buf), k = utf8_char((const uint8_t *)buf, n);
        for (size_t end = k; end < n && s->n_pieces < want;) {
            end += utf8_char((const uint8_t *)buf + end, n - end);
            long id = strtab_intern(&s->syms, buf, end, &added);
            if (id < 0 || (added && add_piece(s, (uint32_t)id)))
                return -ENOMEM;
        }
    }
    return s->n_pieces < want ? -ENOSPC : 0;
}

/* ---- the vocabulary -------------------------------------------------------- */

static int32_t token_type(uint32_t id)
{
    return id == 0          ? SLM_TT_UNKNOWN
           : id < 3         ? SLM_TT_CONTROL
           : id < N_SPECIAL ? SLM_TT_BYTE
                            : SLM_TT_NORMAL;
}

/* Copies the strings of symbols ids[0..n) into v (starting at token `at`). */
static void place(struct aut_forge_vocab *v, uint32_t at, const struct strtab *t,
                  const uint32_t *ids, size_t n, char **cursor)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t len = strtab_len(t, ids[i]);
        memcpy(*cursor, strtab_str(t, ids[i]), len + 1);
        v->pieces[at + i] = *cursor;
        *cursor += len + 1;
    }
}

/* Specials, then s->pieces (merged and supplement), then kept characters. */
static int assemble(struct aut_forge_vocab *v, uint32_t size, const struct bpe *s, size_t kept)
{
    uint32_t specials[N_SPECIAL], *chars = malloc((kept ? kept : 1) * sizeof *chars);
    v->n = size;
    v->pieces = calloc(size, sizeof *v->pieces);
    v->scores = calloc(size, sizeof *v->scores);
    v->types = calloc(size, sizeof *v->types);
    v->arena = malloc(s->syms.nbytes + 1);
    if (!chars || !v->pieces || !v->scores || !v->types || !v->arena) {
        free(chars);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < N_SPECIAL; i++)
        specials[i] = i;
    for (size_t i = 0; i < kept; i++) /* character k's symbol id is N_SPECIAL + k */
        chars[i] = N_SPECIAL + (uint32_t)i;
    char *cursor = v->arena;
    place(v, 0, &s->syms, specials, N_SPECIAL, &cursor);
    place(v, N_SPECIAL, &s->syms, s->pieces, s->n_pieces, &cursor);
    place(v, N_SPECIAL + (uint32_t)s->n_pieces, &s->syms, chars, kept, &cursor);
    free(chars);
    for (uint32_t i = 0; i < size; i++) {
        v->types[i] = token_type(i);
        v->scores[i] = i < N_SPECIAL ? 0.0f : -(float)(i - N_SPECIAL + 1);
    }
    v->n_chars = (uint32_t)kept;
    return 0;
}

static int learn(struct aut_forge_vocab *v, uint32_t size, const struct words *w, char *err,
                 size_t errlen)
{
    struct chars c = {0};
    struct bpe s = {0};
    int rc = collect_chars(&c, w);
    size_t kept = rc ? 0 : SLM_MIN(c.tab.n, (size_t)size - N_SPECIAL);
    size_t want = (size_t)size - N_SPECIAL - kept;
    if (!rc)
        rc = seed_symbols(&s, &c);
    if (!rc && want)
        rc = load_words(&s, w);
    while (!rc && s.n_pieces < want) {
        int r = merge_once(&s);
        if (r == 1)
            break;
        rc = r;
    }
    v->n_merged = (uint32_t)s.n_pieces;
    if (!rc)
        rc = fill_supplement(&s, want);
    v->n_supplement = (uint32_t)(s.n_pieces - v->n_merged);
    if (!rc)
        rc = assemble(v, size, &s, kept);
    if (rc)
        snprintf(err, errlen, "vocabulary of %u tokens: %s", size, strerror(-rc));
    bpe_free(&s);
    chars_free(&c);
    return rc;
}

int aut_forge_vocab_build(struct aut_forge_vocab *v, const char *path, uint32_t size, char *err,
                          size_t errlen)
{
    struct words w = {0};
    char *text = NULL;
    size_t n = 0;
    memset(v, 0, sizeof *v);
    if (size <= N_SPECIAL) {
        snprintf(err, errlen, "vocabulary of %u tokens: need more than %d", size, N_SPECIAL);
        return -EINVAL;
    }
    int rc = read_file(path, &text, &n, err, errlen);
    if (rc)
        return rc;
    rc = split_words(&w, text, n);
    free(text);
    v->corpus_words = w.total;
    if (rc)
        snprintf(err, errlen, "corpus %s: %s", path, strerror(-rc));
    else
        rc = learn(v, size, &w, err, errlen);
    strtab_free(&w.tab);
    free(w.count);
    if (rc)
        aut_forge_vocab_release(v);
    return rc;
}

void aut_forge_vocab_release(struct aut_forge_vocab *v)
{
    free(v->pieces);
    free(v->scores);
    free(v->types);
    free(v->arena);
    memset(v, 0, sizeof *v);
}
