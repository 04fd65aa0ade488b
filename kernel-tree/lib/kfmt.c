/*
 * kfmt.c - integer-only formatted output (see kfmt.h).
 */
#include "kfmt.h"

#include <stdbool.h>
#include <stdint.h>

struct out {
    char *buf;
    size_t cap; /* bytes available for characters (n - 1) */
    size_t len; /* characters produced so far, also past cap */
};

static void put(struct out *o, char c)
{
    if (o->len < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void pad(struct out *o, char c, int count)
{
    while (count-- > 0)
        put(o, c);
}

struct spec {
    bool left, zero;
    int width, prec; /* prec < 0: none */
};

static void put_str(struct out *o, const char *s, const struct spec *sp)
{
    size_t len = 0;
    if (!s)
        s = "(null)";
    while ((sp->prec < 0 || len < (size_t)sp->prec) && s[len])
        len++;
    int fill = sp->width > (int)len ? sp->width - (int)len : 0;
    if (!sp->left)
        pad(o, ' ', fill);
    for (size_t i = 0; i < len; i++)
        put(o, s[i]);
    if (sp->left)
        pad(o, ' ', fill);
}

static void put_num(struct out *o, uint64_t v, bool neg, unsigned base, bool upper,
                    const struct spec *sp, const char *prefix)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    int plen = 0;
    while (prefix[plen])
        plen++;
    int total = n + (neg ? 1 : 0) + plen;
    int fill = sp->width > total ? sp->width - total : 0;
    if (!sp->left && !sp->zero)
        pad(o, ' ', fill);
    if (neg)
        put(o, '-');
    for (int i = 0; i < plen; i++)
        put(o, prefix[i]);
    if (!sp->left && sp->zero)
        pad(o, '0', fill);
    while (n)
        put(o, tmp[--n]);
    if (sp->left)
        pad(o, ' ', fill);
}

enum len_mod { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE, LEN_MAX, LEN_PTRDIFF };

static uint64_t arg_unsigned(va_list *ap, enum len_mod m)
{
    switch (m) {
    case LEN_CHAR: return (unsigned char)va_arg(*ap, unsigned int);
    case LEN_SHORT: return (unsigned short)va_arg(*ap, unsigned int);
    case LEN_LONG: return va_arg(*ap, unsigned long);
    case LEN_LLONG: return va_arg(*ap, unsigned long long);
    case LEN_SIZE: return va_arg(*ap, size_t);
    case LEN_MAX: return va_arg(*ap, uintmax_t);
    case LEN_PTRDIFF: return (uint64_t)va_arg(*ap, ptrdiff_t);
    default: return va_arg(*ap, unsigned int);
    }
}

static int64_t arg_signed(va_list *ap, enum len_mod m)
{
    switch (m) {
    case LEN_CHAR: return (signed char)va_arg(*ap, int);
    case LEN_SHORT: return (short)va_arg(*ap, int);
    case LEN_LONG: return va_arg(*ap, long);
    case LEN_LLONG: return va_arg(*ap, long long);
    case LEN_SIZE: return (int64_t)va_arg(*ap, size_t);
    case LEN_MAX: return va_arg(*ap, intmax_t);
    case LEN_PTRDIFF: return va_arg(*ap, ptrdiff_t);
    default: return va_arg(*ap, int);
    }
}

static const char *parse_spec(const char *f, struct spec *sp, enum len_mod *m, va_list *ap)
{
    sp->left = sp->zero = false;
    sp->width = 0;
    sp->prec = -1;
    for (;; f++) {
        if (*f == '-')
            sp->left = true;
        else if (*f == '0')
            sp->zero = true;
        else
            break;
    }
    if (*f == '*') {
        sp->width = va_arg(*ap, int);
        if (sp->width < 0) {
            sp->left = true;
            sp->width = -sp->width;
        }
        f++;
    } else {
        while (*f >= '0' && *f <= '9')
            sp->width = sp->width * 10 + (*f++ - '0');
    }
    if (*f == '.') {
        f++;
        sp->prec = 0;
        if (*f == '*') {
            sp->prec = va_arg(*ap, int);
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                sp->prec = sp->prec * 10 + (*f++ - '0');
        }
    }
    *m = LEN_INT;
    if (f[0] == 'h' && f[1] == 'h') {
        *m = LEN_CHAR;
        f += 2;
    } else if (f[0] == 'l' && f[1] == 'l') {
        *m = LEN_LLONG;
        f += 2;
    } else if (*f == 'h') {
        *m = LEN_SHORT;
        f++;
    } else if (*f == 'l') {
        *m = LEN_LONG;
        f++;
    } else if (*f == 'z') {
        *m = LEN_SIZE;
        f++;
    } else if (*f == 'j') {
        *m = LEN_MAX;
        f++;
    } else if (*f == 't') {
        *m = LEN_PTRDIFF;
        f++;
    }
    return f;
}

int kfmt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap_in)
{
    struct out o = {buf, n ? n - 1 : 0, 0};
    va_list ap;
    va_copy(ap, ap_in);
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            put(&o, *f);
            continue;
        }
        struct spec sp;
        enum len_mod m;
        f = parse_spec(f + 1, &sp, &m, &ap);
        switch (*f) {
        case '%': put(&o, '%'); break;
        case 'c': {
            char c[2] = {(char)va_arg(ap, int), 0};
            struct spec one = sp;
            one.prec = 1;
            put_str(&o, c, &one);
            break;
        }
        case 's': put_str(&o, va_arg(ap, const char *), &sp); break;
        case 'd':
        case 'i': {
            int64_t v = arg_signed(&ap, m);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            put_num(&o, mag, v < 0, 10, false, &sp, "");
            break;
        }
        case 'u': put_num(&o, arg_unsigned(&ap, m), false, 10, false, &sp, ""); break;
        case 'x': put_num(&o, arg_unsigned(&ap, m), false, 16, false, &sp, ""); break;
        case 'X': put_num(&o, arg_unsigned(&ap, m), false, 16, true, &sp, ""); break;
        case 'p':
            put_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), false, 16, false, &sp, "0x");
            break;
        case '\0': f--; break; /* trailing '%': stop at the terminator */
        default: put(&o, '%'); put(&o, *f); break;
        }
    }
    va_end(ap);
    if (n)
        buf[o.len < o.cap ? o.len : o.cap] = '\0';
    return (int)o.len;
}

int kfmt_snprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = kfmt_vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

bool kparse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t n = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return false;
        n = n * 10 + (uint64_t)(*s - '0');
    }
    *out = n;
    return true;
}
