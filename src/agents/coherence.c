/*
 * coherence.c - the gibberish detector (see coherence.h): four cheap measures
 * over a model's output - printable share, word shape, repetition, character
 * entropy - and the verdict against limits. Pure computation on a buffer: no
 * I/O, no globals. Why each measure and limit is what it is: docs/pipeline.md,
 * section "Coherence".
 */
#include "coherence.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An invalid UTF-8 byte decodes to this bit plus the byte: outside Unicode, so
 * never printable, and each bad byte value stays a distinct symbol for entropy. */
#define CP_BAD_BYTE 0x80000000u
#define WORD_MAX 128    /* longer tokens (in code points) are not word-shaped */
#define SEGMENT_MAX 24  /* longer letter/digit runs between separators are not words */
#define HIST_SLOTS 1024 /* entropy histogram slots, 3/4 of them usable */
#define TRI_STACK 256   /* 3-gram set slots on the stack (small text, malloc failure) */

void aut_coherence_limits_default(struct aut_coherence_limits *l)
{
    l->min_printable = 0.97;
    l->min_word_shape = 0.6;
    l->max_repetition = 0.5;
    l->max_char_run = 12;
    l->min_entropy = 2.5;
    l->max_entropy = 5.5;
    l->min_chars = 2;
}

/* ---- characters ---------------------------------------------------------- */

/* Decodes one code point at s[0..n) (n >= 1) strictly: overlong forms,
 * surrogates and values past U+10FFFF are invalid. Returns the bytes used. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1Fu, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07u, min = 0x10000;
    } else {
        goto bad;
    }
    if (n < len)
        goto bad;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            goto bad;
        v = v << 6 | (s[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        goto bad;
    *cp = v;
    return len;
bad:
    *cp = CP_BAD_BYTE | c;
    return 1;
}

static bool is_space(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f';
}

/* Text a terminal shows as text. U+FFFD counts as unprintable: it means some
 * decoder upstream already met bytes that were not text. */
static bool cp_printable(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 0x20 && cp < 0x7F) || cp == '\t' || cp == '\n' || cp == '\r';
    if (cp > 0x10FFFF || cp < 0xA0) /* invalid byte, C1 control */
        return false;
    if ((cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000) /* private use */
        return false;
    if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE) /* noncharacters */
        return false;
    return !(cp >= 0xFFF9 && cp <= 0xFFFD); /* specials, replacement character */
}

/* Character histogram for the entropy: exact for 768 distinct characters (3/4
 * of the slots); past that each new one counts as a singleton, which can only
 * raise the estimate (text with that many distinct characters is not prose). */
struct hist {
    uint32_t key[HIST_SLOTS]; /* code point + 1; 0 = empty slot */
    size_t count[HIST_SLOTS];
    size_t used, total;
};

static void hist_add(struct hist *h, uint32_t cp)
{
    uint32_t key = cp + 1;
    size_t i = (key * 2654435761u) & (HIST_SLOTS - 1);
    h->total++;
    for (size_t probe = 0; probe < HIST_SLOTS; probe++, i = (i + 1) & (HIST_SLOTS - 1)) {
        if (h->key[i] == key) {
            h->count[i]++;
            return;
        }
        if (h->key[i] == 0) {
            if (h->used == HIST_SLOTS * 3 / 4)
                return; /* full enough: a singleton, log2(1) = 0 */
            h->key[i] = key;
            h->count[i] = 1;
            h->used++;
            return;
        }
    }
}

/* H = log2(N) - (1/N) * sum(c * log2(c)) */
static double hist_entropy(const struct hist *h)
{
    if (h->total == 0)
        return 0.0;
    double sum = 0.0, n = (double)h->total;
    for (size_t i = 0; i < HIST_SLOTS; i++)
        if (h->key[i] && h->count[i] > 1)
            sum += (double)h->count[i] * log2((double)h->count[i]);
    double e = log2(n) - sum / n;
    return e < 0.0 ? 0.0 : e;
}

/* chars, printable, entropy and the longest run of one non-space character. */
static void measure_chars(const unsigned char *s, size_t n, struct aut_coherence *out)
{
    struct hist h;
    memset(&h, 0, sizeof h);
    size_t printable = 0, run = 0;
    uint32_t prev = CP_BAD_BYTE;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += utf8_next(s + i, n - i, &cp);
        out->chars++;
        printable += cp_printable(cp);
        hist_add(&h, cp);
        run = (cp == prev) ? run + 1 : 1;
        prev = cp;
        if (!is_space(cp) && run > out->char_run)
            out->char_run = (unsigned)run;
    }
    out->printable = out->chars ? (double)printable / (double)out->chars : 1.0; /* nothing bad */
    out->entropy = hist_entropy(&h);
}

/* ---- word shape ---------------------------------------------------------- */

/* What a code point is inside a word. SEP joins parts of one word ("apt-get",
 * "8086:10d3", "/etc/fstab"); PUNCT is only allowed at a word's edges, where
 * it is trimmed with SEP/OPEN/CLOSE; SYMBOL is never part of a word. */
enum wclass {
    W_LOWER,
    W_UPPER,
    W_CASELESS,
    W_MARK,
    W_DIGIT,
    W_SEP,
    W_OPEN,
    W_CLOSE,
    W_PUNCT,
    W_SYMBOL
};

/* The cased scripts come first, up to S_ARMENIAN, plus S_GEORGIAN. */
enum script {
    S_NONE,
    S_LATIN,
    S_GREEK,
    S_CYRILLIC,
    S_ARMENIAN,
    S_HEBREW,
    S_ARABIC,
    S_INDIC,
    S_THAI,
    S_GEORGIAN,
    S_CJK,
    S_HANGUL
};

struct wchar {
    uint32_t cp;
    unsigned char cls, script;
};

static enum wclass ascii_class(uint32_t c)
{
    if (c <= 0x20 || c == 0x7F)
        return W_SYMBOL; /* control characters (strchr would match the NUL) */
    if (c >= 'a' && c <= 'z')
        return W_LOWER;
    if (c >= 'A' && c <= 'Z')
        return W_UPPER;
    if (c >= '0' && c <= '9')
        return W_DIGIT;
    if (strchr("-.:/_+,'=@&~%", (int)c))
        return W_SEP;
    if (strchr("([{<", (int)c))
        return W_OPEN;
    if (strchr(")]}>", (int)c))
        return W_CLOSE;
    return W_PUNCT; /* ! " # $ ; ? \ ^ ` | * */
}

/* The script of a letter, S_NONE for anything else. Japanese kana and Han
 * share S_CJK since Japanese words mix them. */
static enum script cp_script(uint32_t c)
{
    static const struct {
        uint32_t lo, hi;
        unsigned char script;
    } ranges[] = {
        {0x00C0, 0x024F, S_LATIN},    {0x1E00, 0x1EFF, S_LATIN},    {0x0370, 0x03FF, S_GREEK},
        {0x0400, 0x052F, S_CYRILLIC}, {0x0531, 0x058F, S_ARMENIAN}, {0x05D0, 0x05F2, S_HEBREW},
        {0x0620, 0x06FF, S_ARABIC},   {0x0900, 0x0DFF, S_INDIC},    {0x0E00, 0x0EFF, S_THAI},
        {0x10A0, 0x10FF, S_GEORGIAN}, {0x3040, 0x30FF, S_CJK},      {0x3400, 0x4DBF, S_CJK},
        {0x4E00, 0x9FFF, S_CJK},      {0xF900, 0xFAFF, S_CJK},      {0x1100, 0x11FF, S_HANGUL},
        {0xAC00, 0xD7AF, S_HANGUL},
    };
    if (c == 0xD7 || c == 0xF7) /* x and / signs inside Latin-1 */
        return S_NONE;
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (c >= ranges[i].lo && c <= ranges[i].hi)
            return (enum script)ranges[i].script;
    return S_NONE;
}

/* Upper case for the cased scripts' common blocks; enough for case shapes. */
static bool cp_upper(uint32_t c)
{
    return (c >= 0xC0 && c <= 0xDE) || (c >= 0x100 && c <= 0x17F && c % 2 == 0) ||
           (c >= 0x391 && c <= 0x3AB) || (c >= 0x400 && c <= 0x42F);
}

static struct wchar classify(uint32_t cp)
{
    struct wchar w = {cp, W_SYMBOL, S_NONE};
    if (cp < 0x80) {
        w.cls = (unsigned char)ascii_class(cp);
        if (w.cls == W_LOWER || w.cls == W_UPPER)
            w.script = S_LATIN;
        return w;
    }
    if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2019 || cp == 0xD7 || cp == 0xB7)
        w.cls = W_SEP; /* dashes, typographic apostrophe, times, middle dot */
    else if (cp == 0x2018 || cp == 0x201C || cp == 0x201D || cp == 0x2026 || cp == 0xAB ||
             cp == 0xBB || cp == 0x2022 || cp == 0xAE || cp == 0x2122 || cp == 0xA9 || cp == 0xB0 ||
             cp == 0xB1 || cp == 0xA7 || cp == 0xBF || cp == 0xA1)
        w.cls = W_PUNCT; /* quotes, ellipsis, bullet, (R) (TM) (C), degree... */
    else if (cp >= 0x300 && cp <= 0x36F)
        w.cls = W_MARK; /* combining accents continue the letter before them */
    else if (cp == 0xB5)
        w.cls = W_LOWER, w.script = S_LATIN; /* the micro sign, as in microseconds */
    else if ((w.script = (unsigned char)cp_script(cp)) != S_NONE)
        w.cls = cp_upper(cp)                                       ? W_UPPER
                : w.script <= S_ARMENIAN || w.script == S_GEORGIAN ? W_LOWER
                                                                   : W_CASELESS;
    return w;
}

static bool is_letter(unsigned char cls)
{
    return cls == W_LOWER || cls == W_UPPER || cls == W_CASELESS || cls == W_MARK;
}

static bool is_edge(unsigned char cls)
{
    return cls == W_SEP || cls == W_OPEN || cls == W_CLOSE || cls == W_PUNCT;
}

static bool is_joiner(unsigned char cls)
{
    return cls == W_SEP || cls == W_OPEN || cls == W_CLOSE;
}

static uint32_t fold(uint32_t cp)
{
    return cp >= 'A' && cp <= 'Z' ? cp | 0x20 : cp;
}

/* Whether a unit of p >= 2 characters, not one character repeated, occurs
 * `copies` times in a row (copies_short for p <= 3, copies_long beyond):
 * "ianianian", "ventecventec", "9M-9M-9M-9M-9M-9M" - a model stuck on a
 * token - but not "banana", "Mississippi", "0000" or "10.10.10.10". */
static bool periodic(const struct wchar *w, size_t n, size_t copies_short, size_t copies_long)
{
    for (size_t p = 2; p <= n / 2; p++) {
        size_t need = p * ((p <= 3 ? copies_short : copies_long) - 1); /* after the first unit */
        for (size_t i = 0, same = 0; i + p < n; i++) {
            same = fold(w[i].cp) == fold(w[i + p].cp) ? same + 1 : 0;
            if (same < need)
                continue;
            size_t u = i + 1 - need; /* where the unit starts */
            for (size_t k = u + 1; k < u + p; k++)
                if (fold(w[k].cp) != fold(w[u].cp))
                    return true;
        }
    }
    return false;
}

/* A segment of letters only. Keyboard mash and stuck keys fail the vowel,
 * consonant-run and repeated-letter rules; camel case is allowed up to two
 * humps ("NetXtreme", "PostgreSQL", "mPCIe"), not "aBcDeF", nor a hump into
 * capitals followed by lower case again ("KintexIERoid": pieces glued). */
static bool alpha_ok(const struct wchar *w, size_t n)
{
    bool ascii = true, cased = false, vowel = false;
    size_t same = 0, cons = 0, humps = 0, caps = 0, glue = 0;
    uint32_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = fold(w[i].cp);
        same = c == prev ? same + 1 : 1;
        prev = c;
        if (same >= 4)
            return false;
        ascii = ascii && c < 0x80;
        cased = cased || w[i].cls == W_LOWER || w[i].cls == W_UPPER;
        bool v = c >= 0x80 || strchr("aeiouy", (int)c);
        vowel = vowel || v;
        cons = v ? 0 : cons + 1;
        if (cons >= 6)
            return false;
        if (w[i].cls == W_UPPER) {
            humps += i && w[i - 1].cls == W_LOWER;
            caps = (i && w[i - 1].cls == W_LOWER) ? 1 : caps + (caps > 0);
            glue = 0;
        } else if (w[i].cls == W_LOWER && caps >= 2 && ++glue >= 2) {
            return false;
        }
    }
    if (cased && n > SEGMENT_MAX)
        return false;
    if (ascii && n >= 6 && !vowel)
        return false;
    return humps <= 2;
}

/* Letters and digits mixed. Model numbers ("82574L", "BCM5705M", "MI25x2",
 * "GeForce4", "10GigE", "PI7C9X442SL", "2x100Gb") start with any word;
 * letters after a digit are short or a capitalised word ("155Mbps", "3Com"),
 * and from the fourth run on upper case or at most two letters. Glued token
 * pieces ("0312ilinx", "65570cret", "thiA3esla12") are not like that. */
static bool runs_ok(const struct wchar *w, size_t n)
{
    size_t start[SEGMENT_MAX], len[SEGMENT_MAX], nr = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || is_letter(w[i].cls) != is_letter(w[i - 1].cls)) {
            start[nr] = i;
            len[nr++] = 0;
        }
        len[nr - 1]++;
    }
    bool alpha0 = is_letter(w[0].cls);
    if (alpha0 && !alpha_ok(w, len[0]))
        return false;
    for (size_t r = alpha0 ? 2 : 1; r < nr; r += 2) {
        const struct wchar *l = w + start[r];
        bool upper = true;
        for (size_t i = 0; i < len[r]; i++)
            upper = upper && l[i].cls == W_UPPER;
        if (len[r] >= 4 && (l[0].cls != W_UPPER || !alpha_ok(l, len[r])))
            return false;
        if (nr >= 4 && !upper && len[r] > 2)
            return false;
    }
    return true;
}

/* Digits, one of a-f, three or more digits, perhaps one more letter: the
 * old chip names "53c810", "86c325", "3c905", "53c895a". */
static bool chip_name(const struct wchar *w, size_t n)
{
    size_t i = 0, d1, d2;
    while (i < n && w[i].cls == W_DIGIT)
        i++;
    d1 = i++;
    while (i < n && w[i].cls == W_DIGIT)
        i++;
    d2 = i - d1 - 1;
    return d1 >= 1 && d1 < n && d2 >= 3 && (i == n || (i + 1 == n && w[i].cls == W_LOWER));
}

/* One run of letters/digits between joiners. alone: the whole word is this
 * segment. */
static bool segment_ok(const struct wchar *w, size_t n, bool alone)
{
    size_t letters = 0, digits = 0, hex = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i].cls == W_DIGIT)
            digits++;
        else
            letters++, hex += w[i].cp >= 'a' && w[i].cp <= 'f';
    }
    if (letters == 0) /* a number: "82599", or part of "00:03.0", "10/100"; not "0814" */
        return !alone || n == 1 || (n <= 5 && w[0].cp != '0');
    if (n > SEGMENT_MAX || periodic(w, n, 3, 2))
        return false;
    if (digits == 0)
        return alpha_ok(w, n);
    if (hex == letters && alone) /* "10d3" belongs in "8086:10d3"; alone it is a shard */
        return chip_name(w, n);
    return runs_ok(w, n);
}

/* A word with its edge punctuation trimmed: no inner punctuation or symbols,
 * one script, a closing bracket not glued to what follows, every segment
 * word-shaped. */
static bool core_ok(const struct wchar *w, size_t n)
{
    unsigned char script = S_NONE;
    bool joined = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = w[i].cls;
        if (c == W_PUNCT || c == W_SYMBOL)
            return false;
        if (c == W_CLOSE && i + 1 < n && !is_joiner(w[i + 1].cls))
            return false;
        if (w[i].script != S_NONE && script != S_NONE && w[i].script != script)
            return false;
        if (w[i].script != S_NONE)
            script = w[i].script;
        joined = joined || is_joiner(c);
    }
    if (joined && periodic(w, n, 6, 3)) /* across joiners: "/83/83/83/83/83/83" */
        return false;
    for (size_t i = 0; i < n;) {
        while (i < n && is_joiner(w[i].cls))
            i++;
        size_t j = i;
        while (j < n && !is_joiner(w[j].cls))
            j++;
        if (j > i && !segment_ok(w + i, j - i, !joined))
            return false;
        i = j;
    }
    return true;
}

/* ---- words and repetition ------------------------------------------------ */

enum { WV_SKIP = -1, WV_BAD = 0, WV_GOOD = 1 };

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33; /* murmur3's finalizer: the low bits index the 3-gram set */
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

/* Judges one whitespace-separated token (n > 0 bytes) and hashes it with its
 * edge punctuation trimmed, so "devices:" repeats "devices". Short pure
 * punctuation ("/", "-", "|", "&&", "...") joins words rather than being
 * one: skipped, and not a word for the 3-grams either. */
static int word_verdict(const unsigned char *s, size_t n, uint64_t *hash)
{
    struct wchar w[WORD_MAX];
    size_t m = 0;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    *hash = mix(h);
    for (size_t i = 0; i < n; m++) {
        uint32_t cp;
        if (m == WORD_MAX)
            return WV_BAD; /* too long for a word; hashed whole */
        i += utf8_next(s + i, n - i, &cp);
        w[m] = classify(cp);
    }
    size_t a = 0, b = m;
    while (a < b && is_edge(w[a].cls))
        a++;
    while (b > a && is_edge(w[b - 1].cls))
        b--;
    if (a == b)
        return m <= 3 ? WV_SKIP : WV_BAD;
    h = 0xcbf29ce484222325ull;
    for (size_t i = a; i < b; i++)
        h = (h ^ w[i].cp) * 0x100000001b3ull;
    *hash = mix(h);
    return core_ok(w + a, b - a) ? WV_GOOD : WV_BAD;
}

/* Open-addressing set of 3-gram hashes, at most 3/4 full; when full (only in
 * the malloc-failure fallback) new 3-grams count as unseen. */
struct triset {
    uint64_t *slot; /* 0 = empty */
    size_t cap, used;
};

static bool triset_seen(struct triset *t, uint64_t h)
{
    h = h ? h : 1;
    size_t i = (size_t)h & (t->cap - 1);
    for (; t->slot[i]; i = (i + 1) & (t->cap - 1))
        if (t->slot[i] == h)
            return true;
    if (t->used < t->cap / 4 * 3) {
        t->slot[i] = h;
        t->used++;
    }
    return false;
}

/* words, word_shape and repetition. */
static void measure_words(const unsigned char *s, size_t n, struct aut_coherence *out)
{
    uint64_t stack[TRI_STACK] = {0}, h[3] = {0};
    struct triset t = {stack, TRI_STACK, 0};
    size_t cap = TRI_STACK;
    while (cap / 4 * 3 < n / 2 + 1 && cap < SIZE_MAX / 16) /* n bytes hold <= n/2+1 words */
        cap *= 2;
    uint64_t *heap = cap > TRI_STACK ? calloc(cap, sizeof *heap) : NULL;
    if (heap)
        t.slot = heap, t.cap = cap;
    size_t good = 0, grams = 0, repeats = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && is_space(s[i]))
            i++;
        size_t j = i;
        while (j < n && !is_space(s[j]))
            j++;
        if (j == i)
            break;
        int v = word_verdict(s + i, j - i, &h[2]);
        i = j;
        if (v == WV_SKIP)
            continue;
        good += v == WV_GOOD;
        if (++out->words >= 3) {
            grams++;
            repeats += triset_seen(&t, mix(h[0] ^ mix(h[1] ^ mix(h[2]))));
        }
        h[0] = h[1], h[1] = h[2];
    }
    free(heap);
    out->word_shape = out->words ? (double)good / (double)out->words : 0.0;
    out->repetition = grams ? (double)repeats / (double)grams : 0.0;
}

/* ---- verdict ------------------------------------------------------------- */

#define ENTROPY_MIN_CHARS 20 /* shorter text has too few characters for a distribution */

/* The first failing measure, cheapest diagnosis first: a stuck loop says
 * "char run" or "repetition" before the word shape it also ruins. */
static void verdict(const struct aut_coherence_limits *l, struct aut_coherence *o)
{
    char *w = o->why;
    size_t wl = sizeof o->why;
    bool ent = o->chars >= ENTROPY_MIN_CHARS;
    if (o->chars < l->min_chars)
        snprintf(w, wl, "empty: %zu chars < %zu", o->chars, l->min_chars);
    else if (o->printable < l->min_printable)
        snprintf(w, wl, "printable %.3f < %.3f", o->printable, l->min_printable);
    else if (o->char_run > l->max_char_run)
        snprintf(w, wl, "char run %u > %u", o->char_run, l->max_char_run);
    else if (o->repetition > l->max_repetition)
        snprintf(w, wl, "repetition %.2f > %.2f", o->repetition, l->max_repetition);
    else if (o->word_shape < l->min_word_shape)
        snprintf(w, wl, "word shape %.2f < %.2f", o->word_shape, l->min_word_shape);
    else if (ent && o->entropy < l->min_entropy)
        snprintf(w, wl, "entropy %.2f < %.2f bits/char", o->entropy, l->min_entropy);
    else if (ent && o->entropy > l->max_entropy)
        snprintf(w, wl, "entropy %.2f > %.2f bits/char", o->entropy, l->max_entropy);
    o->coherent = w[0] == '\0';
}

void aut_coherence_check(const char *text, size_t len, const struct aut_coherence_limits *lim,
                         struct aut_coherence *out)
{
    struct aut_coherence_limits def;
    if (!lim) {
        aut_coherence_limits_default(&def);
        lim = &def;
    }
    memset(out, 0, sizeof *out);
    const unsigned char *s = (const unsigned char *)text;
    size_t n = text ? len : 0;
    while (n && is_space(s[0])) /* leading and trailing white space is not content */
        s++, n--;
    while (n && is_space(s[n - 1]))
        n--;
    measure_chars(s, n, out);
    measure_words(s, n, out);
    verdict(lim, out);
}
