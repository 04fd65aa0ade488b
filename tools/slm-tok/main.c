/*
 * slm-tok - tokenize text with a GGUF model's tokenizer, through the
 * engine's own code (the same gguf.c and tokenizer.c the kernel runs).
 *
 *   slm-tok MODEL.gguf [FILE]
 *
 * Reads lines from FILE (or stdin) and prints, for each, its token ids
 * separated by single spaces on one line (an empty line for a text with no
 * tokens). No bos/eos is added; the llama tokenizer's space prefix is, as
 * the engine does for a prompt. A trailing "\n" (or "\r\n") ends a line and
 * is not part of it. The trainer uses this so it sees exactly the ids the
 * engine will see. Exit status: 0 done, 1 failed (the message names the
 * file and line), 2 bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gguf.h"
#include "mapfile.h"
#include "tokenizer.h"

#define POOL_BYTES ((size_t)64 << 20) /* parser tables + tokenizer index; plenty for 1M pieces */

static const char usage_text[] =
    "usage: slm-tok MODEL.gguf [FILE]\n"
    "\n"
    "Prints the token ids of each line of FILE (default: stdin), space-separated,\n"
    "one output line per input line, using the model's tokenizer exactly as the\n"
    "SLM engine applies it to a prompt (space prefix for llama vocabularies), but\n"
    "without bos/eos. Exit status: 0 done, 1 failed, 2 bad usage.\n";

struct tok_state {
    struct slm_tokenizer tok;
    struct slm_tok_vocab vocab;
    struct gguf_file gf;
    struct slm_pool pool;
    void *pool_mem;
    /* per-line buffers, grown as needed */
    void *scratch;
    size_t scratch_size;
    int32_t *ids;
    size_t ids_cap;
};

static int open_tokenizer(struct tok_state *s, const struct aut_mapfile *f, const char *path)
{
    struct slm_err err = {0};
    int rc;
    s->pool_mem =
        mmap(NULL, POOL_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->pool_mem == MAP_FAILED) {
        s->pool_mem = NULL;
        fprintf(stderr, "slm-tok: cannot map a %zu MiB pool\n", POOL_BYTES >> 20);
        return 1;
    }
    slm_pool_init(&s->pool, s->pool_mem, POOL_BYTES);
    rc = gguf_parse(&s->gf, f->data, f->size, &s->pool, &err);
    if (!rc)
        rc = slm_tok_from_gguf(&s->tok, &s->vocab, &s->gf, &s->pool, &err);
    if (rc) {
        fprintf(stderr, "slm-tok: %s: error[%s]: %s\n", path, slm_errsym(err.code), err.msg);
        return 1;
    }
    return 0;
}

/* Scratch and id buffers big enough for a line of len bytes. */
static int reserve(struct tok_state *s, size_t len)
{
    size_t need = slm_tok_encode_scratch_bytes(&s->tok, len) + SLM_POOL_ALIGN;
    size_t ids = len + 8; /* one per byte, plus the space prefix as byte tokens */
    if (need > s->scratch_size) {
        free(s->scratch);
        if (posix_memalign(&s->scratch, SLM_POOL_ALIGN, need)) {
            s->scratch = NULL;
            s->scratch_size = 0;
            return -1;
        }
        s->scratch_size = need;
    }
    if (ids > s->ids_cap) {
        int32_t *p = realloc(s->ids, ids * sizeof *p);
        if (!p)
            return -1;
        s->ids = p;
        s->ids_cap = ids;
    }
    return 0;
}

static int tokenize_stream(struct tok_state *s, FILE *in, const char *name)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        if (len > (size_t)1 << 24 || len + 8 > (size_t)INT32_MAX) {
            fprintf(stderr, "slm-tok: %s:%lu: line of %zu bytes is too long (16 MiB at most)\n",
                    name, lineno, len);
            rc = 1;
            break;
        }
        if (reserve(s, len)) {
            fprintf(stderr, "slm-tok: %s:%lu: out of memory\n", name, lineno);
            rc = 1;
            break;
        }
        struct slm_pool scratch;
        slm_pool_init(&scratch, s->scratch, s->scratch_size);
        int k = slm_tok_encode(&s->tok, line, len, false, s->ids, (int)s->ids_cap, &scratch);
        if (k < 0) {
            fprintf(stderr, "slm-tok: %s:%lu: error[%s]: tokenizer: %s\n", name, lineno,
                    slm_errsym(k), slm_strerror(k));
            rc = 1;
            break;
        }
        for (int i = 0; i < k; i++)
            printf(i ? " %d" : "%d", s->ids[i]);
        putchar('\n');
    }
    if (!rc && ferror(in)) {
        fprintf(stderr, "slm-tok: %s: read error after line %lu: %s\n", name, lineno,
                strerror(errno));
        rc = 1;
    }
    free(line);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc < 2 || argc > 3 || argv[1][0] == '-' ||
        (argc == 3 && argv[2][0] == '-' && argv[2][1])) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *model = argv[1], *file = argc == 3 ? argv[2] : "-";
    struct aut_mapfile f;
    char msg[512];
    if (aut_mapfile_open(&f, model, msg, sizeof msg) < 0) {
        fprintf(stderr, "slm-tok: %s\n", msg);
        return 1;
    }
    struct tok_state s = {0};
    int rc = open_tokenizer(&s, &f, model);
    if (!rc) {
        bool is_stdin = strcmp(file, "-") == 0;
        FILE *in = is_stdin ? stdin : fopen(file, "rb");
        if (!in) {
            fprintf(stderr, "slm-tok: %s: %s\n", file, strerror(errno));
            rc = 1;
        } else {
            rc = tokenize_stream(&s, in, is_stdin ? "<stdin>" : file);
            if (!is_stdin)
                fclose(in);
        }
    }
    if (!rc && (fflush(stdout) || ferror(stdout))) {
        fprintf(stderr, "slm-tok: writing the output: %s\n", strerror(errno));
        rc = 1;
    }
    free(s.scratch);
    free(s.ids);
    if (s.pool_mem)
        munmap(s.pool_mem, POOL_BYTES);
    aut_mapfile_close(&f);
    return rc;
}
