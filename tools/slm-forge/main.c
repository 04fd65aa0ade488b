/*
 * main.c - slm-forge: writes a llama GGUF model of a preset (seeded random
 * weights, a real llama tokenizer vocabulary) and its JSON manifest, or a
 * model with one deliberate defect (--corrupt), or a model of trained
 * weights read from an AUTW file (--weights). Reads like a script: parse
 * the options, learn the vocabulary, make the weights, write the file, write
 * the manifest. Exit status: 0 done, 1 failed, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "forge.h"
#include "slm_port.h"

#define EXIT_USAGE 2
#define MAX_SEED ((1ull << 53) - 1) /* exact in the manifest's JSON numbers */

enum opt_id {
    O_TYPE = 256,
    O_OUTPUT_TYPE,
    O_SEED,
    O_NAME,
    O_CORPUS,
    O_WEIGHTS,
    O_DIM,
    O_LAYERS,
    O_HEADS,
    O_KV_HEADS,
    O_FFN,
    O_VOCAB,
    O_CTX,
    O_TIED,
    O_UNTIED,
    O_ROPE_BASE,
    O_RMS_EPS,
    O_CORRUPT,
    O_LIST_CORRUPT,
};

static const struct option options[] = {
    {"output", required_argument, NULL, 'o'},
    {"type", required_argument, NULL, O_TYPE},
    {"output-type", required_argument, NULL, O_OUTPUT_TYPE},
    {"seed", required_argument, NULL, O_SEED},
    {"name", required_argument, NULL, O_NAME},
    {"corpus", required_argument, NULL, O_CORPUS},
    {"weights", required_argument, NULL, O_WEIGHTS},
    {"dim", required_argument, NULL, O_DIM},
    {"layers", required_argument, NULL, O_LAYERS},
    {"heads", required_argument, NULL, O_HEADS},
    {"kv-heads", required_argument, NULL, O_KV_HEADS},
    {"ffn", required_argument, NULL, O_FFN},
    {"vocab", required_argument, NULL, O_VOCAB},
    {"ctx", required_argument, NULL, O_CTX},
    {"tied", no_argument, NULL, O_TIED},
    {"untied", no_argument, NULL, O_UNTIED},
    {"rope-base", required_argument, NULL, O_ROPE_BASE},
    {"rms-eps", required_argument, NULL, O_RMS_EPS},
    {"corrupt", required_argument, NULL, O_CORRUPT},
    {"list-corrupt", no_argument, NULL, O_LIST_CORRUPT},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char usage_text[] =
    "usage: slm-forge [options] PRESET -o DIR|FILE.gguf\n"
    "\n"
    "Writes a llama-architecture GGUF model with seeded random weights (or trained\n"
    "ones: --weights) and a real llama (SentencePiece BPE) tokenizer vocabulary,\n"
    "plus its JSON manifest:\n"
    "  -o DIR         DIR/<name>.gguf and DIR/manifests/<name>.json\n"
    "  -o FILE.gguf   FILE.gguf and <dir of FILE>/manifests/<FILE stem>.json\n"
    "Directories are created. Files are written atomically. The same arguments\n"
    "(and corpus) give byte-identical files; the manifest carries a \"created\"\n"
    "time only when SOURCE_DATE_EPOCH is set.\n"
    "\n"
    "Presets (vocab 32000):\n"
    "  tiny_10M     dim 256, 4 layers, 8 heads, 4 kv heads, ffn 704, ctx 512, tied\n"
    "  small_50M    dim 512, 10 layers, 8 heads, 8 kv heads, ffn 1536, ctx 1024, tied\n"
    "  medium_150M  dim 768, 12 layers, 12 heads, 12 kv heads, ffn 2048, ctx 2048, untied\n"
    "\n"
    "Options:\n"
    "  -o, --output PATH     where to write (required)\n"
    "  --type T              weight type: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K\n"
    "                        (default Q4_0 for medium_150M, Q8_0 otherwise). Norms are\n"
    "                        always F32; a row that is not a multiple of the type's\n"
    "                        block falls back (K-quants to Q8_0, else F16), listed in\n"
    "                        the manifest's tensor_type_overrides\n"
    "  --output-type T       type of output.weight (default Q6_K when --type is Q4_0\n"
    "                        or Q4_K, else --type). With tied output token_embd is the\n"
    "                        output projection: it takes --type, or T when given\n"
    "  --seed N              weight seed, 0..2^53-1 (default 42)\n"
    "  --name NAME           general.name and file name (default: the preset's)\n"
    "  --corpus FILE         tokenizer training text (default " FORGE_DEFAULT_CORPUS ",\n"
    "                        Debian's pci.ids: `make deps` installs it)\n"
    "  --weights FILE        trained weights instead of random ones: every tensor's\n"
    "                        f32 values from FILE (AUTW format, below), converted to\n"
    "                        the types above; vocabulary (--corpus), metadata and\n"
    "                        manifest as usual (the manifest adds weights_sha256;\n"
    "                        --seed is then only recorded there)\n"
    "  --dim N, --layers N, --heads N, --kv-heads N, --ffn N, --vocab N, --ctx N\n"
    "  --tied, --untied, --rope-base F, --rms-eps F\n"
    "                        override the preset's hyperparameters (defaults:\n"
    "                        rope base 10000, rms eps 1e-5)\n"
    "  --corrupt KIND        write the model with exactly one defect the GGUF parser\n"
    "                        must reject (kinds below; the manifest says which)\n"
    "  --list-corrupt        print each KIND and the code the parser must answer\n"
    "                        (SLM_E_<code>; \"A|B\": either), one per line, and exit\n"
    "  -q, --quiet           no progress report on stderr\n"
    "  -h, --help            this text\n"
    "\n"
    "Exit status: 0 done, 1 failed (nothing partial is left), 2 bad usage.\n"
    "\n"
    "AUTW weights file (--weights; tools/train/train.py writes it), little-endian:\n"
    "  \"AUTW\", u32 version 1, u32 tensor count, then per tensor: u32 name length\n"
    "  (1..63), the name (GGUF tensor name, no NUL), u32 n_dims (1 or 2), u64 ne[n_dims]\n"
    "  (ne[0] = row length: a torch Linear [out, in] is ne [in, out]), f32 data (rows in\n"
    "  order); nothing after the last tensor. Every tensor of the model exactly once,\n"
    "  any order, with the model's shape and finite values: anything else (missing,\n"
    "  extra, twice, wrong shape, truncated, trailing bytes) fails naming the tensor.\n"
    "\n"
    "Corrupt kinds:\n";

static void help(void)
{
    size_t n;
    const struct aut_forge_corrupt *k = aut_forge_corrupt_all(&n);
    fputs(usage_text, stdout);
    for (size_t i = 0; i < n; i++)
        printf("  %-18s %s (%s)\n", k[i].kind, k[i].what, k[i].codes);
}

static void list_corrupt(void)
{
    size_t n;
    const struct aut_forge_corrupt *k = aut_forge_corrupt_all(&n);
    for (size_t i = 0; i < n; i++)
        printf("%s %s\n", k[i].kind, k[i].codes);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("slm-forge: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(see slm-forge --help)\n", stderr);
    return EXIT_USAGE;
}

static int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int error(const char *fmt, ...)
{
    va_list ap;
    fputs("slm-forge: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILURE;
}

/* Seconds on the engine's monotonic clock (src/common/slm_port_host.c).
 * Using it here also makes the linker take that file from libautcommon.a
 * before it reaches libslm.a, whose generate.o needs it. */
static double now_s(void)
{
    return (double)slm_port_now_ns() * 1e-9;
}

/* ---- option values ---------------------------------------------------------- */

static int parse_u64(const char *opt, const char *arg, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (!*arg || *end || errno || arg[0] == '-' || v > max)
        return usage_error("%s: '%s' is not a number in 0..%llu", opt, arg,
                           (unsigned long long)max);
    *out = v;
    return 0;
}

static int parse_u32(const char *opt, const char *arg, uint32_t *out)
{
    uint64_t v;
    int rc = parse_u64(opt, arg, UINT32_MAX, &v);
    if (!rc)
        *out = (uint32_t)v;
    return rc;
}

static int parse_float(const char *opt, const char *arg, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(arg, &end);
    if (!*arg || *end || errno || !isfinite(v) || !(v > 0.0f))
        return usage_error("%s: '%s' is not a positive number", opt, arg);
    *out = v;
    return 0;
}

static int parse_type(const char *opt, const char *arg, uint32_t *out)
{
    char names[128];
    int t = aut_forge_type_parse(arg);
    if (t < 0) {
        aut_forge_type_names(names, sizeof names);
        return usage_error("%s: unknown type '%s' (known: %s)", opt, arg, names);
    }
    *out = (uint32_t)t;
    return 0;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* ---- the command line -------------------------------------------------------- */

/* What parsing found before the preset fills in the defaults. */
struct cli {
    const char *output;
    const char *type, *output_type, *corrupt;
    struct aut_forge_hparams set; /* values given; 0 fields: not given */
    int tied;                     /* -1 not given, 0 untied, 1 tied */
    bool list_corrupt, help;
};

/* Hyperparameter options: where each number goes in cli->set. */
static const struct {
    int id;
    const char *name;
    size_t off; /* in struct aut_forge_hparams */
    bool is_float;
} hp_opts[] = {
    {O_DIM, "--dim", offsetof(struct aut_forge_hparams, dim), false},
    {O_LAYERS, "--layers", offsetof(struct aut_forge_hparams, n_layers), false},
    {O_HEADS, "--heads", offsetof(struct aut_forge_hparams, n_heads), false},
    {O_KV_HEADS, "--kv-heads", offsetof(struct aut_forge_hparams, n_kv_heads), false},
    {O_FFN, "--ffn", offsetof(struct aut_forge_hparams, ffn), false},
    {O_VOCAB, "--vocab", offsetof(struct aut_forge_hparams, vocab), false},
    {O_CTX, "--ctx", offsetof(struct aut_forge_hparams, ctx), false},
    {O_ROPE_BASE, "--rope-base", offsetof(struct aut_forge_hparams, rope_base), true},
    {O_RMS_EPS, "--rms-eps", offsetof(struct aut_forge_hparams, rms_eps), true},
};

/* One option into cli / job. Returns 0 or EXIT_USAGE. */
static int take_option(int c, const char *arg, struct cli *cli, struct aut_forge_job *job)
{
    for (size_t i = 0; i < sizeof hp_opts / sizeof hp_opts[0]; i++) {
        void *field = (char *)&cli->set + hp_opts[i].off;
        if (c == hp_opts[i].id)
            return hp_opts[i].is_float ? parse_float(hp_opts[i].name, arg, field)
                                       : parse_u32(hp_opts[i].name, arg, field);
    }
    switch (c) {
    case 'o':
        cli->output = arg;
        return 0;
    case 'q':
        job->quiet = true;
        return 0;
    case 'h':
        cli->help = true;
        return 0;
    case O_TYPE:
        cli->type = arg;
        return 0;
    case O_OUTPUT_TYPE:
        cli->output_type = arg;
        return 0;
    case O_SEED:
        return parse_u64("--seed", arg, MAX_SEED, &job->seed);
    case O_NAME:
        job->name = arg;
        return 0;
    case O_CORPUS:
        job->corpus = arg;
        return 0;
    case O_WEIGHTS:
        job->weights = arg;
        return 0;
    case O_TIED:
    case O_UNTIED:
        cli->tied = c == O_TIED;
        return 0;
    case O_CORRUPT:
        cli->corrupt = arg;
        return 0;
    case O_LIST_CORRUPT:
        cli->list_corrupt = true;
        return 0;
    default:
        return usage_error("unknown or incomplete option");
    }
}

#define OVERRIDE(field)                                                                            \
    do {                                                                                           \
        if (cli->set.field)                                                                        \
            job->hp.field = cli->set.field;                                                        \
    } while (0)

/* The preset's values, overridden by the options given. */
static int apply_preset(const struct cli *cli, struct aut_forge_job *job)
{
    char msg[256];
    job->hp = job->preset->hp;
    OVERRIDE(dim);
    OVERRIDE(n_layers);
    OVERRIDE(n_heads);
    OVERRIDE(n_kv_heads);
    OVERRIDE(ffn);
    OVERRIDE(vocab);
    OVERRIDE(ctx);
    OVERRIDE(rope_base);
    OVERRIDE(rms_eps);
    if (cli->tied >= 0)
        job->hp.tied = cli->tied;
    if (aut_forge_hparams_check(&job->hp, msg, sizeof msg))
        return usage_error("%s", msg);
    job->type = job->preset->default_type;
    if (cli->type && parse_type("--type", cli->type, &job->type))
        return EXIT_USAGE;
    job->output_type = aut_forge_default_output_type(job->type);
    job->output_type_given = cli->output_type != NULL;
    if (cli->output_type && parse_type("--output-type", cli->output_type, &job->output_type))
        return EXIT_USAGE;
    if (!job->name)
        job->name = job->preset->name;
    if (!valid_name(job->name))
        return usage_error("--name '%s': use 1..128 of [A-Za-z0-9._-], not starting with . or -",
                           job->name);
    return 0;
}
#undef OVERRIDE

/* -o DIR or -o FILE.gguf into the two output paths. */
static int resolve_paths(const char *output, struct aut_forge_job *job)
{
    char dir[PATH_MAX];
    const char *stem = job->name;
    size_t n = strlen(output), stem_len = strlen(stem);
    int k1 = 0, k2;
    if (n >= sizeof dir)
        return usage_error("-o: path too long");
    if (n > 5 && strcmp(output + n - 5, ".gguf") == 0) {
        const char *slash = strrchr(output, '/');
        size_t dn = slash ? (size_t)(slash - output) : 1;
        memcpy(dir, slash ? output : ".", dn);
        dir[dn] = '\0';
        stem = slash ? slash + 1 : output;
        stem_len = strlen(stem) - 5;
        if (stem_len == 0)
            return usage_error("-o %s: no file name before .gguf", output);
        k1 = snprintf(job->gguf_path, sizeof job->gguf_path, "%s", output);
    } else {
        while (n > 1 && output[n - 1] == '/')
            n--;
        memcpy(dir, output, n);
        dir[n] = '\0';
        k1 = snprintf(job->gguf_path, sizeof job->gguf_path, "%s/%s.gguf",
                      strcmp(dir, "/") ? dir : "", job->name);
    }
    k2 = snprintf(job->manifest_path, sizeof job->manifest_path, "%s/manifests/%.*s.json",
                  strcmp(dir, "/") ? dir : "", (int)stem_len, stem);
    if (k1 < 0 || k2 < 0 || (size_t)k1 >= sizeof job->gguf_path - 32 ||
        (size_t)k2 >= sizeof job->manifest_path - 32) /* room for ".tmp.<pid>" */
        return usage_error("-o %s: path too long", output);
    return 0;
}

static int parse_args(int argc, char **argv, struct aut_forge_job *job, struct cli *cli)
{
    char names[128];
    int c, rc;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:qh", options, NULL)) != -1) {
        if (c == '?' || c == ':')
            return usage_error("unknown option or missing value: %s", argv[optind - 1]);
        if ((rc = take_option(c, optarg, cli, job)))
            return rc;
    }
    if (cli->help || cli->list_corrupt)
        return 0;
    if (optind >= argc)
        return usage_error("missing PRESET");
    if (optind < argc - 1)
        return usage_error("one PRESET expected, got also '%s'", argv[optind + 1]);
    if (!(job->preset = aut_forge_preset_find(argv[optind]))) {
        aut_forge_preset_names(names, sizeof names);
        return usage_error("unknown preset '%s' (known: %s)", argv[optind], names);
    }
    if (!cli->output)
        return usage_error("missing -o DIR|FILE.gguf");
    if (cli->corrupt && !(job->corrupt = aut_forge_corrupt_find(cli->corrupt)))
        return usage_error("unknown --corrupt kind '%s' (see --list-corrupt)", cli->corrupt);
    if ((rc = apply_preset(cli, job)))
        return rc;
    return resolve_paths(cli->output, job);
}

/* ---- the work ------------------------------------------------------------------ */

/* mkdir -p of path's directory part up to (not including) the last '/'. */
static int make_parents(const char *path)
{
    char buf[PATH_MAX];
    struct stat st;
    snprintf(buf, sizeof buf, "%s", path);
    char *last = strrchr(buf, '/');
    if (!last || last == buf)
        return 0;
    *last = '\0';
    for (char *p = buf + 1;; p++) {
        bool end = *p == '\0';
        if (*p != '/' && !end)
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return error("cannot write %s: creating %s: %s", path, buf, strerror(errno));
        if (stat(buf, &st) < 0)
            return error("cannot write %s: %s: %s", path, buf, strerror(errno));
        if (!S_ISDIR(st.st_mode))
            return error("cannot write %s: %s is not a directory", path, buf);
        if (end)
            return 0;
        *p = '/';
    }
}

struct timing {
    double vocab, weights, write, manifest;
};

/* Vocabulary, tensors, the GGUF file. On success the plan holds the tensor
 * list (data moved to the writer and freed with it). */
static int forge_gguf(struct aut_forge_job *job, struct aut_forge_vocab *v,
                      struct aut_forge_plan *plan, struct timing *tm)
{
    char err[FORGE_ERR];
    struct aut_gguf_w *w = NULL;
    int rc;
    double t0 = now_s();
    if ((rc = aut_forge_vocab_build(v, job->corpus, job->hp.vocab, err, sizeof err)))
        return error("%s", err);
    if (job->corrupt && job->corrupt->prepare)
        job->corrupt->prepare(v);
    double t1 = now_s();
    tm->vocab = t1 - t0;
    if (aut_forge_plan_build(plan, &job->hp, job->type, job->output_type, job->output_type_given) ||
        aut_gguf_w_create(&w))
        return error("out of memory");
    rc = job->weights ? aut_forge_weights_load(plan, job->weights, err, sizeof err)
                      : aut_forge_weights_make(plan, job->seed, err, sizeof err);
    double t2 = now_s();
    tm->weights = t2 - t1;
    if (!rc)
        rc = aut_forge_model_fill(w, job, v, plan, err, sizeof err);
    if (!rc && job->corrupt && job->corrupt->apply && (rc = job->corrupt->apply(w, job)))
        snprintf(err, sizeof err, "--corrupt %s: %s", job->corrupt->kind, aut_gguf_w_error(w));
    if (!rc && (rc = aut_gguf_w_write(w, job->gguf_path)))
        snprintf(err, sizeof err, "%s", aut_gguf_w_error(w));
    tm->write = now_s() - t2;
    aut_gguf_w_destroy(w);
    return rc ? error("%s", err) : 0;
}

static void report(const struct aut_forge_job *job, const struct aut_forge_vocab *v,
                   const struct aut_forge_plan *p, const struct timing *tm)
{
    struct stat st;
    size_t n_over = 0;
    for (size_t i = 0; i < p->n; i++)
        n_over += p->t[i].type != p->t[i].wanted;
    if (stat(job->gguf_path, &st) < 0)
        st.st_size = 0;
    fprintf(stderr,
            "slm-forge: %s (%s): vocab %u = %u merges + %u supplement + %u chars + 259 "
            "special/byte, from %llu corpus words, in %.2f s\n",
            job->name, job->preset->name, v->n, v->n_merged, v->n_supplement, v->n_chars,
            (unsigned long long)v->corpus_words, tm->vocab);
    fprintf(stderr,
            "slm-forge: %llu parameters, %s (output %s, %zu fallback tensors), weights in "
            "%.2f s\n",
            (unsigned long long)p->n_params, aut_forge_type_name(job->type),
            aut_forge_type_name(p->output_type), n_over, tm->weights);
    fprintf(stderr, "slm-forge: wrote %s (%lld bytes%s%s) in %.2f s, %s in %.2f s\n",
            job->gguf_path, (long long)st.st_size, job->corrupt ? ", corrupt: " : "",
            job->corrupt ? job->corrupt->kind : "", tm->write, job->manifest_path, tm->manifest);
}

static int forge(struct aut_forge_job *job)
{
    struct aut_forge_vocab v = {0};
    struct aut_forge_plan plan = {0};
    struct timing tm = {0};
    char err[FORGE_ERR];
    int rc = make_parents(job->gguf_path);
    if (!rc)
        rc = make_parents(job->manifest_path);
    if (!rc)
        rc = forge_gguf(job, &v, &plan, &tm);
    if (!rc) {
        double t0 = now_s();
        if (aut_forge_manifest_write(job, &plan, err, sizeof err)) {
            unlink(job->gguf_path); /* no model without its manifest */
            rc = error("%s", err);
        }
        tm.manifest = now_s() - t0;
    }
    if (!rc && !job->quiet)
        report(job, &v, &plan, &tm);
    aut_forge_plan_release(&plan);
    aut_forge_vocab_release(&v);
    return rc;
}

int main(int argc, char **argv)
{
    struct aut_forge_job job = {.seed = 42, .corpus = FORGE_DEFAULT_CORPUS};
    struct cli cli = {.tied = -1};
    int rc = parse_args(argc, argv, &job, &cli);
    if (rc)
        return rc;
    if (cli.help) {
        help();
        return 0;
    }
    if (cli.list_corrupt) {
        list_corrupt();
        return 0;
    }
    return forge(&job);
}
