/*
 * sbuf.h - a growable byte string, NUL-terminated once it has memory: the
 * one buffer the console parser, the HTTP server, the metrics text and the
 * tools' logs grow their text in. Capacity doubles from 256 bytes. A failed
 * call (out of memory, a size that would overflow) leaves the string as it
 * was.
 */
#ifndef AUTON_COMMON_SBUF_H
#define AUTON_COMMON_SBUF_H

#include <stddef.h>

struct aut_sbuf {
    char *p;         /* NULL until the first reservation */
    size_t len, cap; /* len excludes the NUL */
};

/* Room for need bytes and the NUL. Returns 0 or -1. */
int aut_sbuf_reserve(struct aut_sbuf *b, size_t need);
/* Appends n bytes of s. Returns 0 or -1. */
int aut_sbuf_append(struct aut_sbuf *b, const void *s, size_t n);
/* Appends the formatted text, whole or not at all. Returns 0 or -1. */
int aut_sbuf_printf(struct aut_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (all of them when n >= len). */
void aut_sbuf_consume(struct aut_sbuf *b, size_t n);
/* Frees the memory; b is empty again. */
void aut_sbuf_free(struct aut_sbuf *b);

#endif
