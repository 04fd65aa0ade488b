/*
 * makefile_patch.c - `NAME := value` assignments of the kernel Makefile,
 * rewritten in place: only the first top-level assignment of each name
 * changes, every other byte (line endings, comments, recipes, define
 * blocks) stays as it was.
 */
#include "makefile_patch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

struct line {
    const char *start; /* the line, without its ending */
    size_t len;
    size_t eol;        /* bytes of its ending: 0, 1 (\n) or 2 (\r\n) */
};

static struct line next_line(const char *p, const char *end)
{
    struct line l = {.start = p};
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    l.len = (size_t)((nl ? nl : end) - p);
    l.eol = nl ? 1 : 0;
    if (nl && l.len && p[l.len - 1] == '\r') {
        l.len--;
        l.eol = 2;
    }
    return l;
}

/* The value's offset and length when l assigns name at top level, else -1. */
static int assignment(const struct line *l, const char *name, size_t *voff, size_t *vlen,
                      size_t *coff)
{
    size_t n = strlen(name), i = n;
    if (l->len < n || memcmp(l->start, name, n))
        return -1;
    while (i < l->len && (l->start[i] == ' ' || l->start[i] == '\t'))
        i++;
    if (i + 2 <= l->len && (!memcmp(l->start + i, ":=", 2) || !memcmp(l->start + i, "?=", 2)))
        i += 2;
    else if (i < l->len && l->start[i] == '=')
        i += 1;
    else
        return -1;
    while (i < l->len && (l->start[i] == ' ' || l->start[i] == '\t'))
        i++;
    const char *hash = memchr(l->start + i, '#', l->len - i);
    size_t end = hash ? (size_t)(hash - l->start) : l->len;
    *coff = end;
    while (end > i && (l->start[end - 1] == ' ' || l->start[end - 1] == '\t'))
        end--;
    *voff = i;
    *vlen = end - i;
    return 0;
}

static bool is_define(const struct line *l, bool *enter)
{
    *enter = l->len >= 6 && !memcmp(l->start, "define", 6) &&
             (l->len == 6 || l->start[6] == ' ' || l->start[6] == '\t');
    return *enter || (l->len >= 6 && !memcmp(l->start, "endef", 5) &&
                      (l->len == 5 || l->start[5] == ' ' || l->start[5] == '\t'));
}

/* Appends the bytes; returns false when out of memory. */
static bool put(FILE *f, const char *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n;
}

static void emit_line(FILE *f, const struct line *l, const struct aut_mkvar *v, size_t coff)
{
    fprintf(f, "%s := %s", v->name, v->value);
    if (coff < l->len) /* the trailing comment, with the blank before it */
        fputs(" ", f), put(f, l->start + coff, l->len - coff);
    put(f, l->start + l->len, l->eol);
}

char *aut_makefile_patch_buf(const char *buf, size_t len, const struct aut_mkvar *vars, size_t n,
                             size_t *out_len, char *err, size_t errlen)
{
    char *out = NULL;
    size_t olen = 0;
    FILE *f = open_memstream(&out, &olen);
    bool done[16] = {0}, in_define = false;
    if (!f || n > 16) {
        snprintf(err, errlen, "Makefile: out of memory");
        if (f)
            fclose(f), free(out);
        return NULL;
    }
    for (const char *p = buf, *end = buf + len; p < end;) {
        struct line l = next_line(p, end);
        bool enter, handled = false;
        if (is_define(&l, &enter))
            in_define = enter;
        else if (!in_define && l.len && l.start[0] != '\t')
            for (size_t k = 0; k < n && !handled; k++) {
                size_t voff, vlen, coff;
                if (done[k] || assignment(&l, vars[k].name, &voff, &vlen, &coff))
                    continue;
                emit_line(f, &l, &vars[k], coff);
                done[k] = handled = true;
            }
        if (!handled)
            put(f, l.start, l.len + l.eol);
        p = l.start + l.len + l.eol;
    }
    fclose(f);
    for (size_t k = 0; k < n; k++)
        if (!done[k]) {
            snprintf(err, errlen, "Makefile: no top-level `%s :=` assignment to patch",
                     vars[k].name);
            free(out);
            return NULL;
        }
    *out_len = olen;
    return out;
}

int aut_makefile_get(const char *buf, size_t len, const char *name, char *val, size_t vallen)
{
    bool in_define = false, enter;
    for (const char *p = buf, *end = buf + len; p < end;) {
        struct line l = next_line(p, end);
        size_t voff, vlen, coff;
        if (is_define(&l, &enter))
            in_define = enter;
        else if (!in_define && !assignment(&l, name, &voff, &vlen, &coff)) {
            snprintf(val, vallen, "%.*s", (int)vlen, l.start + voff);
            return 0;
        }
        p = l.start + l.len + l.eol;
    }
    return -1;
}

int aut_makefile_set(const char *path, const struct aut_mkvar *vars, size_t n, bool *changed,
                     char *err, size_t errlen)
{
    char *buf = NULL, *out = NULL;
    size_t len = 0, olen = 0;
    if (changed)
        *changed = false;
    if (aut_read_file(path, 16u << 20, &buf, &len, err, errlen))
        return -1;
    out = aut_makefile_patch_buf(buf, len, vars, n, &olen, err, errlen);
    int rc = out ? 0 : -1;
    if (out && (olen != len || memcmp(out, buf, len))) {
        rc = aut_write_file(path, out, olen, err, errlen) ? -1 : 0;
        if (!rc && changed)
            *changed = true;
    }
    free(out);
    free(buf);
    return rc;
}
