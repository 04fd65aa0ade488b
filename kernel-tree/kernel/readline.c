/*
 * readline.c - a small line editor for the serial console.
 *
 * Works on any VT100-style terminal and degrades to plain echo on a pipe.
 * The cursor may sit inside the line; an edit there redraws the tail.
 * Keeps the last HISTORY_LINES non-empty lines.
 */
#include "kernel/readline.h"

#include <stdbool.h>

#include "drivers/serial.h"
#include "kernel/printk.h"
#include "lib/kstring.h"

#define HISTORY_LINES 8

#define CTRL(c) ((c)&0x1f)
#define KEY_BACKSPACE 0x7f
#define KEY_ESC 0x1b

struct line {
    char *buf;
    size_t cap, len, cursor;
};

/* The console has one reader (the shell thread), so line state can be static. */
static char history[HISTORY_LINES][READLINE_MAX];
static unsigned history_count; /* lines ever added; the newest is (count-1) % N */
static bool after_cr;          /* the last line ended with CR: swallow a following LF */

static void echo(const char *s, size_t n)
{
    console_write(s, n);
}

/* Redraws from the cursor to the end of the line, erases what is left of
 * a longer old line, and puts the cursor back. */
static void redraw_tail(const struct line *l)
{
    echo(l->buf + l->cursor, l->len - l->cursor);
    kprintf("\x1b[K");
    if (l->len > l->cursor)
        kprintf("\x1b[%zuD", l->len - l->cursor);
}

static void insert(struct line *l, char c)
{
    if (l->len + 1 >= l->cap)
        return;
    memmove(l->buf + l->cursor + 1, l->buf + l->cursor, l->len - l->cursor);
    l->buf[l->cursor++] = c;
    l->len++;
    echo(&c, 1);
    if (l->cursor < l->len)
        redraw_tail(l);
}

static void backspace(struct line *l)
{
    if (l->cursor == 0)
        return;
    memmove(l->buf + l->cursor - 1, l->buf + l->cursor, l->len - l->cursor);
    l->cursor--;
    l->len--;
    echo("\b", 1);
    redraw_tail(l);
}

/* Replaces the whole line with s (history recall, Ctrl-U). */
static void replace(struct line *l, const char *s)
{
    if (l->cursor)
        kprintf("\x1b[%zuD", l->cursor);
    l->len = l->cursor = 0;
    for (; *s && l->len + 1 < l->cap; s++)
        l->buf[l->len++] = *s;
    l->cursor = l->len;
    echo(l->buf, l->len);
    kprintf("\x1b[K");
}

/* Up (back = true) or down through the history; *pos counts steps back. */
static void recall(struct line *l, unsigned *pos, bool back)
{
    unsigned avail = history_count < HISTORY_LINES ? history_count : HISTORY_LINES;
    if (back && *pos < avail)
        (*pos)++;
    else if (!back && *pos > 0)
        (*pos)--;
    else
        return;
    replace(l, *pos ? history[(history_count - *pos) % HISTORY_LINES] : "");
}

/* Handles the rest of an escape sequence (ESC already read). */
static void escape(struct line *l, unsigned *hist_pos)
{
    if (serial_read(SERIAL_COM1) != '[')
        return;
    switch (serial_read(SERIAL_COM1)) {
    case 'A':
        recall(l, hist_pos, true);
        break;
    case 'B':
        recall(l, hist_pos, false);
        break;
    case 'C':
        if (l->cursor < l->len) {
            l->cursor++;
            kprintf("\x1b[C");
        }
        break;
    case 'D':
        if (l->cursor > 0) {
            l->cursor--;
            kprintf("\x1b[D");
        }
        break;
    default:
        break;
    }
}

static void remember(const char *s)
{
    if (!*s || (history_count && !strcmp(history[(history_count - 1) % HISTORY_LINES], s)))
        return;
    char *slot = history[history_count++ % HISTORY_LINES];
    size_t n = strlen(s);
    if (n >= READLINE_MAX)
        n = READLINE_MAX - 1;
    memcpy(slot, s, n);
    slot[n] = '\0';
}

size_t readline(const char *prompt, char *buf, size_t n)
{
    struct line l = {buf, n < READLINE_MAX ? n : READLINE_MAX, 0, 0};
    unsigned hist_pos = 0;
    kprintf("%s", prompt);
    for (;;) {
        int c = serial_read(SERIAL_COM1);
        bool skip = after_cr && c == '\n';
        after_cr = c == '\r';
        if (skip)
            continue;
        if (c == '\r' || c == '\n')
            break;
        if (c == CTRL('C')) {
            kprintf("^C");
            l.len = 0;
            break;
        }
        if (c == KEY_BACKSPACE || c == '\b')
            backspace(&l);
        else if (c == CTRL('U'))
            replace(&l, "");
        else if (c == KEY_ESC)
            escape(&l, &hist_pos);
        else if (c >= ' ' && c < 0x7f)
            insert(&l, (char)c);
    }
    kprintf("\n");
    buf[l.len] = '\0';
    remember(buf);
    return l.len;
}
