/*
 * json.c - the bridge's JSON tokenizer and writer (json.h).
 */
#include "kernel/json.h"

#include "lib/kfmt.h"
#include "lib/kstring.h"

/* ---- parser ------------------------------------------------------------------------- */

struct parser {
    const char *s;
    size_t n, pos;
    struct jtok *t;
    size_t max, count;
    int depth;
};

static void skip_ws(struct parser *p)
{
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                             p->s[p->pos] == '\r' || p->s[p->pos] == '\n'))
        p->pos++;
}

static int new_tok(struct parser *p, enum jtype type)
{
    if (p->count >= p->max)
        return JSON_ETOKENS;
    struct jtok *t = &p->t[p->count];
    t->type = (uint8_t)type;
    t->start = t->end = (uint32_t)p->pos;
    t->size = 0;
    t->skip = (uint32_t)p->count + 1;
    return (int)p->count++;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int parse_string(struct parser *p)
{
    int i = new_tok(p, J_STR);
    if (i < 0)
        return i;
    p->pos++; /* opening quote */
    p->t[i].start = (uint32_t)p->pos;
    while (p->pos < p->n) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->t[i].end = (uint32_t)p->pos++;
            return i;
        }
        if (c < 0x20)
            return JSON_ESYNTAX;
        if (c == '\\') {
            if (++p->pos >= p->n)
                return JSON_ESYNTAX;
            char e = p->s[p->pos];
            if (e == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (p->pos + (size_t)k >= p->n || !is_hex(p->s[p->pos + (size_t)k]))
                        return JSON_ESYNTAX;
                p->pos += 4;
            } else if (!(e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                         e == 'r' || e == 't')) {
                return JSON_ESYNTAX;
            }
        }
        p->pos++;
    }
    return JSON_ESYNTAX;
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(struct parser *p)
{
    int i = new_tok(p, J_NUM);
    if (i < 0)
        return i;
    size_t q = p->pos;
    const char *s = p->s;
    if (q < p->n && s[q] == '-')
        q++;
    if (q >= p->n || !digit(s[q]))
        return JSON_ESYNTAX;
    if (s[q] == '0')
        q++;
    else
        while (q < p->n && digit(s[q]))
            q++;
    if (q < p->n && s[q] == '.') {
        if (++q >= p->n || !digit(s[q]))
            return JSON_ESYNTAX;
        while (q < p->n && digit(s[q]))
            q++;
    }
    if (q < p->n && (s[q] == 'e' || s[q] == 'E')) {
        q++;
        if (q < p->n && (s[q] == '+' || s[q] == '-'))
            q++;
        if (q >= p->n || !digit(s[q]))
            return JSON_ESYNTAX;
        while (q < p->n && digit(s[q]))
            q++;
    }
    p->pos = q;
    p->t[i].end = (uint32_t)q;
    return i;
}

static int parse_literal(struct parser *p, const char *word, enum jtype type)
{
    size_t l = strlen(word);
    if (p->pos + l > p->n || memcmp(p->s + p->pos, word, l) != 0)
        return JSON_ESYNTAX;
    int i = new_tok(p, type);
    if (i < 0)
        return i;
    p->pos += l;
    p->t[i].end = (uint32_t)p->pos;
    return i;
}

static int parse_value(struct parser *p);

static int parse_container(struct parser *p, bool object)
{
    if (++p->depth > JSON_MAX_DEPTH)
        return JSON_EDEPTH;
    int i = new_tok(p, object ? J_OBJ : J_ARR);
    if (i < 0)
        return i;
    p->pos++;
    skip_ws(p);
    char close = object ? '}' : ']';
    if (p->pos < p->n && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            skip_ws(p);
            if (object) {
                if (p->pos >= p->n || p->s[p->pos] != '"')
                    return JSON_ESYNTAX;
                int k = parse_string(p);
                if (k < 0)
                    return k;
                skip_ws(p);
                if (p->pos >= p->n || p->s[p->pos] != ':')
                    return JSON_ESYNTAX;
                p->pos++;
            }
            int v = parse_value(p);
            if (v < 0)
                return v;
            p->t[i].size++;
            skip_ws(p);
            if (p->pos < p->n && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->n && p->s[p->pos] == close) {
                p->pos++;
                break;
            }
            return JSON_ESYNTAX;
        }
    }
    p->t[i].end = (uint32_t)p->pos;
    p->t[i].skip = (uint32_t)p->count;
    p->depth--;
    return i;
}

static int parse_value(struct parser *p)
{
    skip_ws(p);
    if (p->pos >= p->n)
        return JSON_ESYNTAX;
    switch (p->s[p->pos]) {
    case '{':
        return parse_container(p, true);
    case '[':
        return parse_container(p, false);
    case '"':
        return parse_string(p);
    case 't':
        return parse_literal(p, "true", J_TRUE);
    case 'f':
        return parse_literal(p, "false", J_FALSE);
    case 'n':
        return parse_literal(p, "null", J_NULL);
    default:
        return parse_number(p);
    }
}

int json_parse(const char *s, size_t n, struct jtok *t, size_t max, size_t *where)
{
    struct parser p = {.s = s, .n = n, .t = t, .max = max};
    int rc = parse_value(&p);
    if (rc >= 0) {
        skip_ws(&p);
        if (p.pos != n)
            rc = JSON_ESYNTAX;
    }
    if (where)
        *where = p.pos;
    return rc < 0 ? rc : (int)p.count;
}

static bool str_eq(const char *s, const struct jtok *t, const char *z)
{
    size_t l = strlen(z);
    /* keys with escapes never match: the bridge's keys are plain ASCII */
    return t->type == J_STR && t->end - t->start == l && memcmp(s + t->start, z, l) == 0;
}

int json_obj_get(const char *s, const struct jtok *t, int obj, const char *key)
{
    if (obj < 0 || t[obj].type != J_OBJ)
        return -1;
    uint32_t i = (uint32_t)obj + 1;
    for (uint32_t k = 0; k < t[obj].size; k++) {
        if (str_eq(s, &t[i], key))
            return (int)i + 1;
        i = t[i + 1].skip;
    }
    return -1;
}

static int hexv(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

int json_str(const char *s, const struct jtok *t, char *buf, size_t cap)
{
    if (t->type != J_STR || cap == 0)
        return -1;
    size_t o = 0;
    for (uint32_t i = t->start; i < t->end; i++) {
        char tmp[4];
        size_t k = 1;
        tmp[0] = s[i];
        if (s[i] == '\\') {
            char e = s[++i];
            if (e == 'u') {
                uint32_t cp = 0;
                for (int d = 1; d <= 4; d++)
                    cp = cp << 4 | (uint32_t)hexv(s[i + (uint32_t)d]);
                i += 4;
                /* a surrogate pair */
                if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < t->end && s[i + 1] == '\\' &&
                    s[i + 2] == 'u') {
                    uint32_t lo = 0;
                    for (int d = 3; d <= 6; d++)
                        lo = lo << 4 | (uint32_t)hexv(s[i + (uint32_t)d]);
                    if (lo >= 0xdc00 && lo < 0xe000) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        i += 6;
                    }
                }
                if (cp == 0)
                    return -1;
                if (cp >= 0xd800 && cp < 0xe000)
                    cp = 0xfffd;
                k = put_utf8(tmp, cp);
            } else {
                tmp[0] = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r'
                       : e == 't' ? '\t' : e;
            }
        }
        if (o + k >= cap)
            return -1;
        memcpy(buf + o, tmp, k);
        o += k;
    }
    buf[o] = '\0';
    return (int)o;
}

bool json_u64(const char *s, const struct jtok *t, uint64_t *out)
{
    if (t->type != J_NUM || t->end - t->start > 20)
        return false;
    char buf[24];
    size_t l = t->end - t->start;
    memcpy(buf, s + t->start, l);
    buf[l] = '\0';
    return kparse_u64(buf, out);
}

bool json_milli(const char *s, const struct jtok *t, uint64_t *out)
{
    if (t->type != J_NUM)
        return false;
    uint64_t whole = 0, frac = 0;
    uint32_t i = t->start, nfrac = 0;
    if (s[i] == '-')
        return false;
    for (; i < t->end && digit(s[i]); i++) {
        if (whole > 1000000000ull)
            return false;
        whole = whole * 10 + (uint64_t)(s[i] - '0');
    }
    if (i < t->end && s[i] == '.') {
        for (i++; i < t->end && digit(s[i]); i++) {
            if (nfrac < 3) {
                frac = frac * 10 + (uint64_t)(s[i] - '0');
                nfrac++;
            } else if (s[i] != '0') {
                return false; /* more precision than thousandths */
            }
        }
    }
    if (i != t->end)
        return false; /* an exponent */
    while (nfrac < 3)
        frac *= 10, nfrac++;
    *out = whole * 1000 + frac;
    return true;
}

/* ---- writer ------------------------------------------------------------------------- */

static void put(struct jw *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void comma(struct jw *w)
{
    if (w->depth == 0)
        return;
    if (!w->first[w->depth - 1])
        put(w, ",", 1);
    w->first[w->depth - 1] = false;
}

void jw_init(struct jw *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = cap == 0;
    w->depth = 0;
}

static void open_(struct jw *w, const char *c)
{
    comma(w);
    put(w, c, 1);
    if (w->depth < JSON_MAX_DEPTH)
        w->first[w->depth++] = true;
    else
        w->overflow = true;
}

void jw_obj(struct jw *w)
{
    open_(w, "{");
}

void jw_arr(struct jw *w)
{
    open_(w, "[");
}

static void close_(struct jw *w, const char *c)
{
    if (w->depth)
        w->depth--;
    put(w, c, 1);
}

void jw_end_obj(struct jw *w)
{
    close_(w, "}");
}

void jw_end_arr(struct jw *w)
{
    close_(w, "]");
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t k = c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
    if (k == 0 || k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] >= 0x90))
        return 0; /* overlong, surrogate, beyond U+10FFFF */
    return k;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
    comma(w);
    put(w, "\"", 1);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(w, e, 2);
            i++;
        } else if (c == '\n') {
            put(w, "\\n", 2), i++;
        } else if (c == '\t') {
            put(w, "\\t", 2), i++;
        } else if (c == '\r') {
            put(w, "\\r", 2), i++;
        } else if (c < 0x20 || c == 0x7f) {
            char e[8];
            kfmt_snprintf(e, sizeof e, "\\u%04x", c);
            put(w, e, 6);
            i++;
        } else if (c < 0x80) {
            put(w, s + i, 1), i++;
        } else {
            size_t k = utf8_len(u + i, n - i);
            if (k) {
                put(w, s + i, k);
                i += k;
            } else {
                put(w, "\xef\xbf\xbd", 3); /* U+FFFD */
                i++;
            }
        }
    }
    put(w, "\"", 1);
}

void jw_str(struct jw *w, const char *s)
{
    jw_strn(w, s, strlen(s));
}

void jw_key(struct jw *w, const char *key)
{
    jw_str(w, key);
    put(w, ":", 1);
    if (w->depth)
        w->first[w->depth - 1] = true; /* the value needs no comma */
}

void jw_raw(struct jw *w, const char *text)
{
    comma(w);
    put(w, text, strlen(text));
}

void jw_u64(struct jw *w, uint64_t v)
{
    char b[24];
    kfmt_snprintf(b, sizeof b, "%lu", v);
    jw_raw(w, b);
}

void jw_i64(struct jw *w, int64_t v)
{
    char b[24];
    kfmt_snprintf(b, sizeof b, "%ld", v);
    jw_raw(w, b);
}

void jw_bool(struct jw *w, bool v)
{
    jw_raw(w, v ? "true" : "false");
}

void jw_null(struct jw *w)
{
    jw_raw(w, "null");
}

void jw_key_u64(struct jw *w, const char *key, uint64_t v)
{
    jw_key(w, key);
    jw_u64(w, v);
}

void jw_key_str(struct jw *w, const char *key, const char *s)
{
    jw_key(w, key);
    jw_str(w, s);
}

const char *jw_done(struct jw *w)
{
    if (w->overflow)
        return NULL;
    w->buf[w->len] = '\0';
    return w->buf;
}
