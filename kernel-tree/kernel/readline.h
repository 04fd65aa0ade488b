/*
 * readline.h - line editing on the console.
 */
#ifndef AUTON_KERNEL_READLINE_H
#define AUTON_KERNEL_READLINE_H

#include <stddef.h>

#define READLINE_MAX 1024 /* longest line, NUL included */

/* Prints prompt and reads one line into buf (NUL-terminated, at most n-1
 * bytes) with echo and editing: backspace, Ctrl-U (erase line), Ctrl-C
 * (abandon: returns an empty line), left/right arrows, up/down through
 * the history. Enter ends the line (CR, LF or CRLF). At most READLINE_MAX-1
 * bytes are kept. Returns the length. */
size_t readline(const char *prompt, char *buf, size_t n);

#endif
