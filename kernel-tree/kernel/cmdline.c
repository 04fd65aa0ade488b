/*
 * cmdline.c - splitting and querying the kernel command line.
 */
#include "kernel/cmdline.h"

#include "lib/kfmt.h"

#include <stddef.h>

#include "kernel/bootinfo.h"
#include "lib/kstring.h"

static char words[BOOT_CMDLINE_MAX]; /* the line, cut into NUL-terminated keys and values */
static const char *keys[CMDLINE_MAX_WORDS], *values[CMDLINE_MAX_WORDS];
static unsigned nwords;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void cmdline_init(const char *line)
{
    size_t len = strlen(line);
    if (len >= BOOT_CMDLINE_MAX)
        len = BOOT_CMDLINE_MAX - 1;
    memcpy(words, line, len);
    for (size_t i = 0; i < len && nwords < CMDLINE_MAX_WORDS;) {
        while (i < len && is_space(words[i]))
            words[i++] = '\0';
        if (i == len)
            break;
        keys[nwords] = &words[i];
        values[nwords] = "";
        bool has_value = false;
        for (; i < len && !is_space(words[i]); i++) {
            if (words[i] == '=' && !has_value) { /* the first '=' ends the key */
                words[i] = '\0';
                values[nwords] = &words[i + 1];
                has_value = true;
            }
        }
        nwords++;
    }
}

const char *cmdline_get(const char *key)
{
    for (unsigned i = nwords; i-- > 0;)
        if (strcmp(keys[i], key) == 0)
            return values[i];
    return NULL;
}

bool cmdline_get_u64(const char *key, uint64_t *out)
{
    const char *v = cmdline_get(key);
    return v && kparse_u64(v, out);
}
