/*
 * sbuf.c - the growable byte string (see sbuf.h).
 */
#include "sbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SBUF_INITIAL_CAP 256

int aut_sbuf_reserve(struct aut_sbuf *b, size_t need)
{
    if (need == SIZE_MAX)
        return -1;
    if (need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : SBUF_INITIAL_CAP;
    while (cap < need + 1) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    if (!b->p)
        p[0] = '\0';
    b->p = p;
    b->cap = cap;
    return 0;
}

int aut_sbuf_append(struct aut_sbuf *b, const void *s, size_t n)
{
    if (n > SIZE_MAX - 1 - b->len || aut_sbuf_reserve(b, b->len + n))
        return -1;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int aut_sbuf_printf(struct aut_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || aut_sbuf_reserve(b, b->len + (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void aut_sbuf_consume(struct aut_sbuf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    if (b->p)
        b->p[b->len] = '\0';
}

void aut_sbuf_free(struct aut_sbuf *b)
{
    free(b->p);
    *b = (struct aut_sbuf){0};
}
