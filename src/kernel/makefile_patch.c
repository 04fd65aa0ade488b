/*
 * makefile_patch.c - `NAME := value` assignments of the kernel Makefile set
 * in place (see makefile_patch.h). Pure text processing over logical lines
 * (physical lines joined by backslash-newline, as make reads them); only the
 * first top-level assignment of each name changes, every other byte - line
 * endings, comments, recipes, define blocks - stays as it was.
 */
#include "makefile_patch.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"

#define MAX_MAKEFILE (16u << 20) /* a Makefile larger than this is not one */

/* One logical line: [start, end) is its text without the final line ending,
 * [end, next) that ending ("\n", "\r\n" or nothing at the end of the file). */
struct mkline {
    size_t start, end, next;
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Whether the physical line [s, e) ends in an odd number of backslashes. */
static bool continues(const char *b, size_t s, size_t e)
{
    size_t n = 0;
    while (e > s && b[e - 1] == '\\')
        e--, n++;
    return n % 2 == 1;
}

static struct mkline next_line(const char *b, size_t len, size_t pos)
{
    struct mkline l = {pos, pos, pos};
    for (;;) {
        const char *nl = memchr(b + pos, '\n', len - pos);
        size_t e = nl ? (size_t)(nl - b) : len;
        size_t text = e > pos && nl && b[e - 1] == '\r' ? e - 1 : e;
        l.end = text;
        l.next = nl ? e + 1 : len;
        if (!nl || !continues(b, pos, text))
            return l;
        pos = l.next;
    }
}

/* Whether the word w is at b[i], followed by a blank, '#' or the end. */
static bool word_at(const char *b, size_t i, size_t end, const char *w)
{
    size_t n = strlen(w);
    return end - i >= n && memcmp(b + i, w, n) == 0 &&
           (i + n == end || is_blank(b[i + n]) || b[i + n] == '#');
}

/* +1 for a line opening a define block, -1 for endef, 0 otherwise. Recipe
 * lines (a leading tab) are neither. */
static int define_delta(const char *b, const struct mkline *l)
{
    size_t i = l->start;
    if (i < l->end && b[i] == '\t')
        return 0;
    while (i < l->end && b[i] == ' ')
        i++;
    if (word_at(b, i, l->end, "endef"))
        return -1;
    static const char *const prefixes[] = {"override", "export", "private"};
    for (bool more = true; more;) { /* "override export define" */
        more = false;
        for (size_t k = 0; k < 3 && !more; k++)
            if ((more = word_at(b, i, l->end, prefixes[k]))) {
                i += strlen(prefixes[k]);
                while (i < l->end && is_blank(b[i]))
                    i++;
            }
    }
    return word_at(b, i, l->end, "define") ? 1 : 0;
}

/* Whether l is `NAME<blanks>(:=|?=|=)` at column 0; *value is where the text
 * after the operator starts. */
static bool assigns(const char *b, const struct mkline *l, const char *name, size_t *value)
{
    size_t n = strlen(name), i = l->start + n;
    if (l->end - l->start < n || memcmp(b + l->start, name, n) != 0)
        return false;
    while (i < l->end && is_blank(b[i]))
        i++;
    if (l->end - i >= 2 && (b[i] == ':' || b[i] == '?') && b[i + 1] == '=')
        i += 2;
    else if (i < l->end && b[i] == '=')
        i += 1;
    else
        return false;
    *value = i;
    return true;
}

/* A backslash-newline (or -CRLF) at b[i]: its length, else 0. */
static size_t line_break(const char *b, size_t i, size_t end)
{
    if (i + 1 < end && b[i] == '\\' && b[i + 1] == '\n')
        return 2;
    if (i + 2 < end && b[i] == '\\' && b[i + 1] == '\r' && b[i + 2] == '\n')
        return 3;
    return 0;
}

/* Splits the text after the operator: the value is [*vs, *ve), without the
 * blanks and backslash-newlines at its ends; *cs is where the comment starts
 * (the first '#' not escaped by a backslash), or l->end. */
static void split_value(const char *b, const struct mkline *l, size_t *vs, size_t *ve, size_t *cs)
{
    size_t i = *vs, c = l->end, e, k;
    for (;;) {
        if (i < l->end && is_blank(b[i]))
            i++;
        else if ((k = line_break(b, i, l->end)) != 0)
            i += k;
        else
            break;
    }
    for (k = i; k < l->end; k++) {
        if (b[k] == '\\')
            k++; /* "\#" is no comment; nor is what follows "\\" */
        else if (b[k] == '#') {
            c = k;
            break;
        }
    }
    for (e = c > i ? c : i; e > i;) {
        if (is_blank(b[e - 1]))
            e--;
        else if (b[e - 1] == '\n' && e - i >= 2 && line_break(b, e - 2, c))
            e -= 2;
        else if (b[e - 1] == '\n' && e - i >= 3 && line_break(b, e - 3, c))
            e -= 3;
        else
            break;
    }
    *vs = i, *ve = e, *cs = c;
}

/* The first top-level assignment of name: its line (*value: after the
 * operator), or .start == SIZE_MAX. */
static struct mkline find_assignment(const char *b, size_t len, const char *name, size_t *value)
{
    int depth = 0;
    for (size_t pos = 0; pos < len;) {
        struct mkline l = next_line(b, len, pos);
        int d = define_delta(b, &l);
        if (d > 0 || (d < 0 && depth > 0))
            depth += d;
        else if (depth == 0 && assigns(b, &l, name, value))
            return l;
        pos = l.next;
    }
    return (struct mkline){SIZE_MAX, 0, 0};
}

static int check_var(const struct aut_mkvar *v, const char *label, char *err, size_t errlen)
{
    if (!v->name || !*v->name || strpbrk(v->name, " \t\r\n:#=\\$"))
        return aut_errf(err, errlen, -1, "%s: `%s` is not a variable name", label,
                        v->name ? v->name : "(null)");
    size_t n = v->value ? strlen(v->value) : 0;
    if (!v->value || strpbrk(v->value, "\r\n#") || (n && v->value[n - 1] == '\\'))
        return aut_errf(err, errlen, -1,
                        "%s: the value for %s cannot hold a line break, '#' or a final backslash",
                        label, v->name);
    return 0;
}

/* Where each var's line is and what replaces it, in file order. */
struct edit {
    size_t start, end; /* bytes replaced: the logical line up to its ending */
    size_t op;         /* just after the operator */
    size_t vs, ve, cs; /* its value and comment, as split_value says */
    const struct aut_mkvar *var;
};

static int cmp_edit(const void *a, const void *b)
{
    const struct edit *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Finds every var's line; returns the bytes the patched copy needs, or 0
 * with err set. */
static size_t plan(const char *buf, size_t len, const struct aut_mkvar *vars, size_t n,
                   struct edit *ed, const char *label, char *err, size_t errlen)
{
    size_t need = len + 1;
    for (size_t k = 0; k < n; k++) {
        size_t value, add;
        if (check_var(&vars[k], label, err, errlen) != 0)
            return 0;
        for (size_t j = 0; j < k; j++)
            if (strcmp(vars[j].name, vars[k].name) == 0)
                return aut_errf(err, errlen, -1, "%s: %s is set twice", label, vars[k].name), 0;
        struct mkline l = find_assignment(buf, len, vars[k].name, &value);
        if (l.start == SIZE_MAX)
            return aut_errf(err, errlen, -1, "%s: no top-level `%s :=` assignment to patch", label,
                            vars[k].name),
                   0;
        ed[k] = (struct edit){l.start, l.end, value, value, 0, 0, &vars[k]};
        split_value(buf, &l, &ed[k].vs, &ed[k].ve, &ed[k].cs);
        add = strlen(vars[k].name) + strlen(vars[k].value) + 5; /* " := " and " " */
        if (need > SIZE_MAX - add)
            return aut_errf(err, errlen, -1, "%s: too large", label), 0;
        need += add;
    }
    qsort(ed, n, sizeof *ed, cmp_edit);
    return need;
}

static size_t put(char *o, const char *s, size_t n)
{
    if (n) /* memcpy's pointers must be valid even for 0 bytes */
        memcpy(o, s, n);
    return n;
}

/* "NAME := value", then the old comment with the blanks before it on its
 * line (back to the old value or the operator), or one blank if none. */
static size_t emit(char *o, const char *buf, const struct edit *e)
{
    const char *value = e->var->value;
    size_t n = put(o, e->var->name, strlen(e->var->name));
    n += put(o + n, " :=", 3);
    if (*value)
        n += put(o + n, " ", 1) + put(o + n + 1, value, strlen(value));
    if (e->cs < e->end) {
        size_t from = e->cs, stop = e->ve > e->vs ? e->ve : e->op;
        while (from > stop && is_blank(buf[from - 1]))
            from--;
        if (from == e->cs)
            n += put(o + n, " ", 1);
        n += put(o + n, buf + from, e->end - from);
    }
    return n;
}

static char *patch(const char *buf, size_t len, const struct aut_mkvar *vars, size_t n,
                   size_t *out_len, const char *label, char *err, size_t errlen)
{
    struct edit *ed = calloc(n ? n : 1, sizeof *ed);
    char *out = NULL;
    size_t need, o = 0, pos = 0;
    if (!buf || !len)
        buf = "", len = 0;
    if (!ed || (need = plan(buf, len, vars, n, ed, label, err, errlen)) == 0)
        goto fail;
    if (!(out = malloc(need))) {
        snprintf(err, errlen, "%s: out of memory", label);
        goto fail;
    }
    for (size_t k = 0; k < n; k++) {
        o += put(out + o, buf + pos, ed[k].start - pos);
        o += emit(out + o, buf, &ed[k]);
        pos = ed[k].end;
    }
    o += put(out + o, buf + pos, len - pos);
    out[o] = '\0';
    free(ed);
    *out_len = o;
    return out;
fail:
    if (!ed)
        snprintf(err, errlen, "%s: out of memory", label);
    free(ed);
    return NULL;
}

char *aut_makefile_patch_buf(const char *buf, size_t len, const struct aut_mkvar *vars, size_t n,
                             size_t *out_len, char *err, size_t errlen)
{
    return patch(buf, len, vars, n, out_len, "Makefile", err, errlen);
}

/* The value with make's reading of a continuation: a backslash-newline and
 * the blanks around it are one space. Returns -1 (val "") when it does not
 * fit, rather than a cut path. */
int aut_makefile_get(const char *buf, size_t len, const char *name, char *val, size_t vallen)
{
    size_t value, vs, ve, cs, o = 0;
    if (!buf || !len)
        buf = "", len = 0;
    struct mkline l = find_assignment(buf, len, name, &value);
    if (vallen)
        val[0] = '\0';
    if (l.start == SIZE_MAX || vallen == 0)
        return -1;
    vs = value;
    split_value(buf, &l, &vs, &ve, &cs);
    for (size_t i = vs; i < ve; i++) {
        if (buf[i] == '\\' && i + 1 < ve && (buf[i + 1] == '\n' || buf[i + 1] == '\r')) {
            while (o > 0 && is_blank(val[o - 1]))
                o--;
            while (i + 1 < ve && (buf[i + 1] == '\r' || buf[i + 1] == '\n' || is_blank(buf[i + 1])))
                i++;
            val[o++] = ' ';
        } else {
            val[o++] = buf[i];
        }
        if (o == vallen) {
            val[0] = '\0';
            return -1;
        }
    }
    val[o] = '\0';
    return 0;
}

int aut_makefile_set(const char *path, const struct aut_mkvar *vars, size_t n, bool *changed,
                     char *err, size_t errlen)
{
    char *buf = NULL, *out = NULL;
    size_t len = 0, olen = 0;
    struct stat st;
    int rc = -1;
    if (changed)
        *changed = false;
    if (aut_read_file(path, MAX_MAKEFILE, &buf, &len, err, errlen) != 0)
        return -1;
    if (!(out = patch(buf, len, vars, n, &olen, path, err, errlen)))
        goto out;
    rc = 0;
    if (olen == len && memcmp(out, buf, len) == 0)
        goto out; /* already so: the file is not touched */
    bool had_mode = stat(path, &st) == 0;
    if (aut_write_file(path, out, olen, err, errlen) != 0) {
        rc = -1;
        goto out;
    }
    if (had_mode && (st.st_mode & 07777) != 0644)
        chmod(path, st.st_mode & 07777); /* the temporary was created 0644 */
    if (changed)
        *changed = true;
out:
    free(out);
    free(buf);
    return rc;
}
