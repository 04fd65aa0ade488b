/*
 * config.c - etc/auton.conf (see config.h). One table lists every key with
 * its type, field, range and default; defaults, the file (inih), -o
 * overrides and the [bridge] environment all go through the same apply().
 * The only file that includes <ini.h>.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "fsutil.h"

#define CONFIG_MAX_BYTES (1u << 20)
#define DEFAULT_FILE "etc/auton.conf"

enum ktype {
    K_BOOL,   /* bool: 1/0 true/false yes/no on/off */
    K_UINT,   /* unsigned, uint32_t or uint64_t (by field size), in lo..hi */
    K_DOUBLE, /* finite double >= dlo (> dlo with K_OPEN_MIN), <= dhi */
    K_STR,    /* text, shorter than the field */
    K_PATH,   /* a path, stored absolute (resolved against the cwd) */
    K_PATHS,  /* comma-separated paths: model_roots / n_model_roots */
    K_CHOICE, /* one of names[], stored as values[i] (an enum or a bool) */
    K_CLOCK,  /* "HH:MM" (24 h), stored as unsigned minutes after midnight */
};

enum kflag {
    K_EMPTY_OK = 1, /* K_STR, K_PATH: "" is allowed */
    K_OPEN_MIN = 2, /* K_DOUBLE: the minimum itself is excluded */
    K_COMMAND = 4,  /* K_PATH: a bare name (no '/') is left for PATH lookup */
};

struct key {
    const char *section, *name;
    enum ktype type;
    size_t off, size; /* the field in struct aut_config */
    size_t count_off; /* K_PATHS: the unsigned count of paths stored */
    unsigned flags;
    uint64_t lo, hi;          /* K_UINT */
    double dlo, dhi;          /* K_DOUBLE */
    const char *const *names; /* K_CHOICE, NULL-terminated */
    const int *values;        /* K_CHOICE, one per name */
    const char *def;          /* the default, as the file would spell it */
};

static const char *const rollback_names[] = {"rule-engine", "previous", NULL};
static const int rollback_values[] = {AUT_ROLLBACK_RULE_ENGINE, AUT_ROLLBACK_PREVIOUS};
static const char *const fallback_names[] = {"auto", "off", NULL};
static const int fallback_values[] = {1, 0};
static const char *const accel_names[] = {"auto", "kvm", "tcg", NULL};
static const int accel_values[] = {AUT_ACCEL_AUTO, AUT_ACCEL_KVM, AUT_ACCEL_TCG};
static const char *const shutdown_names[] = {"cancel", "finish", NULL};
static const int shutdown_values[] = {0, 1};

/* The table reads best one key per line. */
/* clang-format off */
#define FIELD(sec, nm, f) \
    .section = sec, .name = nm, .off = offsetof(struct aut_config, f), \
    .size = sizeof(((struct aut_config *)0)->f)
#define BOOL(sec, nm, f, d) {FIELD(sec, nm, f), .type = K_BOOL, .def = d}
#define UINT(sec, nm, f, l, h, d) {FIELD(sec, nm, f), .type = K_UINT, .lo = l, .hi = h, .def = d}
#define DBL(sec, nm, f, fl, l, d) \
    {FIELD(sec, nm, f), .type = K_DOUBLE, .flags = fl, .dlo = l, .dhi = INFINITY, .def = d}
#define STR(sec, nm, f, fl, d) {FIELD(sec, nm, f), .type = K_STR, .flags = fl, .def = d}
#define PATH(sec, nm, f, fl, d) {FIELD(sec, nm, f), .type = K_PATH, .flags = fl, .def = d}
#define CHOICE(sec, nm, f, set, d) \
    {FIELD(sec, nm, f), .type = K_CHOICE, .names = set##_names, .values = set##_values, .def = d}
#define DEADLINE(nm, f, d) UINT("deadlines", nm, f, 1, 86400, d)

/* Every key, in etc/auton.conf's order. Ranges are sanity bounds: they catch
 * typos (a deadline in milliseconds, memory in bytes), not policy. */
static const struct key keys[] = {
    PATH("workspace", "root", ws_root, 0, "var/kernels"),
    PATH("workspace", "worktrees", ws_worktrees, 0, "var/worktrees"),
    PATH("workspace", "kernel_tree", kernel_tree, 0, "kernel-tree"),
    BOOL("workspace", "commit_model_blob", commit_model_blob, "false"),
    STR("workspace", "author_name", author_name, 0, "AUTON integrator"),
    STR("workspace", "author_email", author_email, 0, "integrator@auton.invalid"),

    PATH("models", "store", model_store, 0, "var/models"),
    {FIELD("models", "roots", model_roots), .type = K_PATHS,
     .count_off = offsetof(struct aut_config, n_model_roots), .def = "models/exports"},
    UINT("models", "max_model_mb", max_model_mb, 1, 1048576, "1024"),

    CHOICE("pipeline", "rollback", rollback, rollback, "rule-engine"),
    CHOICE("pipeline", "fallback", fallback, fallback, "auto"),
    UINT("pipeline", "retries", retries, 0, 10, "1"),
    PATH("pipeline", "prompts", prompts, 0, "tests/prompts/default.json"),
    PATH("pipeline", "reports", reports, 0, "reports"),
    UINT("pipeline", "keep_reports", keep_reports, 0, 1000000, "100"),

    DEADLINE("fetch_s", dl_fetch, "300"),
    DEADLINE("verify_s", dl_verify, "60"),
    DEADLINE("stage_s", dl_stage, "60"),
    DEADLINE("build_s", dl_build, "900"),
    DEADLINE("boot_s", dl_boot, "60"),
    DEADLINE("infer_s", dl_infer, "600"),
    DEADLINE("regress_s", dl_regress, "600"),
    DEADLINE("commit_s", dl_commit, "120"),

    UINT("build", "jobs", build_jobs, 0, 1024, "0"),
    STR("build", "make_args", make_args, K_EMPTY_OK, ""),

    PATH("qemu", "binary", qemu_binary, K_COMMAND, "qemu-system-x86_64"),
    CHOICE("qemu", "accel", accel, accel, "auto"),
    UINT("qemu", "memory_mb", memory_mb, 32, 1048576, "512"),
    PATH("qemu", "qboot", qboot, K_EMPTY_OK, "/usr/share/qemu/qboot.rom"),
    STR("qemu", "append", append, K_EMPTY_OK, ""),

    BOOL("bridge", "enabled", bridge_enabled, "1"),
    UINT("bridge", "timeout_ms", bridge_timeout_ms, 1, 3600000, "300000"),
    BOOL("bridge", "trace", bridge_trace, "0"),

    DBL("validate", "size_tolerance_pct", size_tolerance_pct, 0, 0, "5"),
    DBL("validate", "boot_max_s", boot_max_s, K_OPEN_MIN, 0, "10"),
    DBL("validate", "latency_max_s", latency_max_s, K_OPEN_MIN, 0, "5"),
    UINT("validate", "latency_tokens", latency_tokens, 1, 100000, "50"),
    DBL("validate", "pool_peak_max_mb", pool_peak_max_mb, K_OPEN_MIN, 0, "150"),
    UINT("validate", "max_tokens", max_tokens, 1, 100000, "50"),
    DBL("validate", "time_multiplier_kvm", time_multiplier_kvm, K_OPEN_MIN, 0, "1"),
    DBL("validate", "time_multiplier_tcg", time_multiplier_tcg, K_OPEN_MIN, 0, "60"),
    DBL("validate", "min_output_chars", min_output_chars, 0, 0, "10"),

    UINT("regress", "boots", regress_boots, 1, 100, "3"),
    DBL("regress", "boot_pct", regress_boot_pct, 0, 0, "5"),
    DBL("regress", "boot_floor_ms", regress_boot_floor_ms, 0, 0, "250"),

    STR("daemon", "listen", listen, K_EMPTY_OK, "127.0.0.1:8470"),
    PATH("daemon", "socket", socket_path, K_EMPTY_OK, "var/run/autond.sock"),
    PATH("daemon", "token_file", token_file, 0, "var/autond.token"),
    PATH("daemon", "db", db_path, 0, "var/autond.db"),
    PATH("daemon", "log", log_file, 0, "var/log/autond.log"),
    UINT("daemon", "max_body_kb", max_body_kb, 1, 65536, "64"),
    UINT("daemon", "max_conns", max_conns, 1, 100000, "256"),
    UINT("daemon", "max_jobs", max_jobs, 1, 64, "1"),
    BOOL("daemon", "retry_interrupted", retry_interrupted, "false"),
    UINT("daemon", "shutdown_grace_s", shutdown_grace_s, 0, 86400, "30"),
    CHOICE("daemon", "shutdown", shutdown_finish, shutdown, "cancel"),

    STR("notify", "url", notify_url, K_EMPTY_OK, ""),
    PATH("notify", "secret_file", notify_secret_file, K_EMPTY_OK, ""),
    BOOL("notify", "stages", notify_stages, "false"),
    UINT("notify", "retries", notify_retries, 0, 100, "5"),
    UINT("notify", "backoff_ms", notify_backoff_ms, 1, 3600000, "1000"),
    UINT("notify", "timeout_ms", notify_timeout_ms, 1, 3600000, "10000"),

    BOOL("nightly", "enabled", nightly_enabled, "false"),
    {FIELD("nightly", "time", nightly_minute), .type = K_CLOCK, .def = "02:00"},
    STR("nightly", "models", nightly_models, K_EMPTY_OK, ""),
    STR("nightly", "archs", nightly_archs, 0, "x86_64"),
};

/* clang-format on */

#define N_KEYS (sizeof keys / sizeof keys[0])

static const struct key *find_key(const char *section, const char *name, bool *section_known)
{
    *section_known = false;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(keys[i].section, section) != 0)
            continue;
        *section_known = true;
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    }
    return NULL;
}

/* ---- values ----------------------------------------------------------------- */

/* Stores v into an integer or bool field of the given size. */
static void store_uint(void *field, size_t size, uint64_t v)
{
    if (size == sizeof(bool)) {
        *(bool *)field = v != 0;
    } else if (size == sizeof(uint32_t)) {
        uint32_t u = (uint32_t)v; /* also the representation of the enums and unsigned */
        memcpy(field, &u, sizeof u);
    } else {
        assert(size == sizeof(uint64_t));
        memcpy(field, &v, sizeof v);
    }
}

static int parse_bool(const struct key *k, void *field, const char *v, char *why, size_t n)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *(bool *)field = strcasecmp(v, yes[i]) == 0;
            return 0;
        }
    }
    return aut_errf(why, n, -1, "expected a boolean (1/0, true/false, yes/no, on/off)");
}

static int parse_uint(const struct key *k, void *field, const char *v, char *why, size_t n)
{
    char *end = NULL;
    errno = 0;
    unsigned long long u = *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
    if (!end || *end || errno || u < k->lo || u > k->hi)
        return aut_errf(why, n, -1, "expected an integer in %llu..%llu", (unsigned long long)k->lo,
                        (unsigned long long)k->hi);
    store_uint(field, k->size, u);
    return 0;
}

static int parse_double(const struct key *k, void *field, const char *v, char *why, size_t n)
{
    char *end = NULL;
    errno = 0;
    double d = *v ? strtod(v, &end) : NAN;
    bool low = k->flags & K_OPEN_MIN ? d <= k->dlo : d < k->dlo;
    if (!end || *end || errno || !isfinite(d) || low || d > k->dhi) {
        aut_errf(why, n, -1, "expected a number %s %g", k->flags & K_OPEN_MIN ? ">" : ">=", k->dlo);
        size_t used = strlen(why);
        if (isfinite(k->dhi) && used < n)
            snprintf(why + used, n - used, " and <= %g", k->dhi);
        return -1;
    }
    memcpy(field, &d, sizeof d);
    return 0;
}

static int parse_str(const struct key *k, void *field, const char *v, char *why, size_t n)
{
    size_t len = strlen(v);
    if (!len && !(k->flags & K_EMPTY_OK))
        return aut_errf(why, n, -1, "expected a non-empty string");
    if (len >= k->size)
        return aut_errf(why, n, -1, "expected at most %zu characters", k->size - 1);
    memcpy(field, v, len + 1);
    return 0;
}

/* The separator before the j-th of n names: "expected a, b or c". */
static const char *list_sep(size_t j, size_t n)
{
    return j == 0 ? " " : j + 1 < n ? ", " : " or ";
}

static int parse_choice(const struct key *k, void *field, const char *v, char *why, size_t n)
{
    size_t i = 0, used;
    for (; k->names[i]; i++) {
        if (strcmp(v, k->names[i]) == 0) {
            store_uint(field, k->size, (uint64_t)k->values[i]);
            return 0;
        }
    }
    aut_errf(why, n, -1, "expected");
    for (size_t j = 0; j < i && (used = strlen(why)) < n; j++)
        snprintf(why + used, n - used, "%s%s", list_sep(j, i), k->names[j]);
    return -1;
}

static int parse_clock(const struct key *k, void *field, const char *v, char *why, size_t n)
{
    unsigned h, m;
    char tail;
    if (sscanf(v, "%2u:%2u%c", &h, &m, &tail) != 2 || h > 23 || m > 59 || strlen(v) != 5)
        return aut_errf(why, n, -1, "expected a time of day HH:MM (00:00..23:59)");
    store_uint(field, k->size, h * 60 + m);
    return 0;
}

/* ---- paths ------------------------------------------------------------------ */

/* Appends the components of p to out (length *len, room size), dropping
 * empty and "." ones; ".." is kept, since lexically removing it would be
 * wrong across a symbolic link. Returns -1 when out is too small. */
static int append_clean(char *out, size_t *len, size_t size, const char *p, size_t plen)
{
    size_t i = 0;
    while (i < plen) {
        size_t j = i;
        while (j < plen && p[j] != '/')
            j++;
        bool skip = j == i || (j - i == 1 && p[i] == '.');
        if (!skip) {
            bool sep = *len > 0 && out[*len - 1] != '/';
            if (*len + sep + (j - i) >= size)
                return -1;
            if (sep)
                out[(*len)++] = '/';
            memcpy(out + *len, p + i, j - i);
            *len += j - i;
            out[*len] = '\0';
        }
        i = j + 1;
    }
    return 0;
}

/* The absolute, cleaned form of the path p[0..plen) into out (size bytes).
 * When the current directory cannot be named (removed, too long) or the
 * absolute form does not fit, p stays relative: it still names the same file
 * for a process that stays where it started. Returns -1 if even that does
 * not fit. */
static int resolve_path(const char *p, size_t plen, char *out, size_t size)
{
    char cwd[PATH_MAX];
    size_t len = 1;
    bool relative = plen == 0 || p[0] != '/';
    memcpy(out, "/", 2);
    if (!relative)
        return append_clean(out, &len, size, p, plen);
    if (getcwd(cwd, sizeof cwd) && cwd[0] == '/' &&
        append_clean(out, &len, size, cwd, strlen(cwd)) == 0 &&
        append_clean(out, &len, size, p, plen) == 0)
        return 0;
    len = 0;
    out[0] = '\0';
    if (append_clean(out, &len, size, p, plen) < 0)
        return -1;
    if (len == 0)
        memcpy(out, ".", 2);
    return 0;
}

static int parse_path(const struct key *k, void *field, const char *v, char *why, size_t n)
{
    char buf[PATH_MAX];
    size_t len = strlen(v), room = k->size < sizeof buf ? k->size : sizeof buf;
    if (!len && !(k->flags & K_EMPTY_OK))
        return aut_errf(why, n, -1, "expected a path");
    if (!len || ((k->flags & K_COMMAND) && !strchr(v, '/')))
        return parse_str(k, field, v, why, n); /* "" or a command found through PATH */
    if (resolve_path(v, len, buf, room) < 0)
        return aut_errf(why, n, -1, "expected a path of at most %zu characters", room - 1);
    memcpy(field, buf, strlen(buf) + 1);
    return 0;
}

/* "a, b/c, /d": each path resolved as parse_path does; "" is no paths. */
static int parse_paths(const struct key *k, void *field, const char *v, char *why, size_t n)
{
    size_t each = k->size / AUT_CONFIG_MAX_ROOTS;
    char *tmp = calloc(1, k->size);
    unsigned count = 0;
    int rc = tmp ? 0 : aut_errf(why, n, -1, "out of memory");
    for (const char *p = v; !rc && *v; p++) {
        const char *a = p, *e = strchrnul(p, ','), *b = e;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a == b || count == AUT_CONFIG_MAX_ROOTS)
            rc = aut_errf(why, n, -1, "expected a comma-separated list of at most %d paths",
                          AUT_CONFIG_MAX_ROOTS);
        else if (resolve_path(a, (size_t)(b - a), tmp + count++ * each, each) < 0)
            rc = aut_errf(why, n, -1, "expected paths of at most %zu characters", each - 1);
        if (!*e)
            break;
        p = e;
    }
    if (!rc) {
        memcpy(field, tmp, k->size);
        memcpy((char *)field - k->off + k->count_off, &count, sizeof count);
    }
    free(tmp);
    return rc;
}

/* ---- keys ------------------------------------------------------------------- */

typedef int (*parse_fn)(const struct key *k, void *field, const char *v, char *why, size_t n);

static const parse_fn parsers[] = {
    [K_BOOL] = parse_bool,     [K_UINT] = parse_uint,   [K_DOUBLE] = parse_double,
    [K_STR] = parse_str,       [K_PATH] = parse_path,   [K_PATHS] = parse_paths,
    [K_CHOICE] = parse_choice, [K_CLOCK] = parse_clock,
};

/* Sets k in c from its text form. A value wholly in double quotes loses
 * them ("" is the empty string). Returns 0, or -1 with "expected ..." in
 * why; c is untouched on failure. */
static int apply(const struct key *k, struct aut_config *c, const char *value, char *why, size_t n)
{
    size_t len = strlen(value);
    char *unquoted = NULL;
    if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
        if (!(unquoted = strndup(value + 1, len - 2)))
            return aut_errf(why, n, -1, "out of memory");
        value = unquoted;
    }
    int rc = parsers[k->type](k, (char *)c + k->off, value, why, n);
    free(unquoted);
    return rc;
}

void aut_config_defaults(struct aut_config *c)
{
    char why[256];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_KEYS; i++) {
        int rc = apply(&keys[i], c, keys[i].def, why, sizeof why);
        assert(rc == 0 && "a default in keys[] does not parse");
        (void)rc;
    }
}

/* ---- the file --------------------------------------------------------------- */

/* One load: the file's text, handed to inih a line at a time so that the
 * handler knows the line number (Debian's inih is built without
 * INI_HANDLER_LINENO), and the first error. */
struct parse {
    struct aut_config *c;
    const char *file; /* the name in messages, as given */
    const char *text;
    size_t len, pos;
    int lineno;   /* the line last handed to inih */
    int err_line; /* the first error's line, 0 while none */
    char *err;
    size_t errlen;
};

static int fail_at(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records "<file>:<line>: ..." unless an earlier line already failed.
 * Returns 0, inih's "handler failed". */
static int fail_at(struct parse *p, const char *fmt, ...)
{
    if (p->err_line)
        return 0;
    p->err_line = p->lineno;
    if (p->err && p->errlen) {
        int used = snprintf(p->err, p->errlen, "%s:%d: ", p->file, p->lineno);
        if (used >= 0 && (size_t)used < p->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(p->err + used, p->errlen - (size_t)used, fmt, ap);
            va_end(ap);
        }
    }
    return 0;
}

/* inih's fgets: the next line into str (num bytes). A line that does not
 * fit is an error of ours and reaches inih as an empty line, so inih never
 * sees its tail as a line of its own. */
static char *next_line(char *str, int num, void *stream)
{
    struct parse *p = stream;
    if (p->pos >= p->len || num < 2)
        return NULL;
    const char *s = p->text + p->pos;
    const char *nl = memchr(s, '\n', p->len - p->pos);
    size_t n = nl ? (size_t)(nl - s) + 1 : p->len - p->pos;
    p->pos += n;
    p->lineno++;
    if (n >= (size_t)num)
        fail_at(p, "line longer than %d characters", num - 2);
    else if (memchr(s, '\0', n))
        fail_at(p, "NUL byte in the line");
    else {
        memcpy(str, s, n);
        str[n] = '\0';
        return str;
    }
    memcpy(str, "\n", 2);
    return str;
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    char why[256];
    bool known;
    const struct key *k = find_key(section, name, &known);
    if (!k && known)
        return fail_at(p, "unknown key [%s] %s", section, name);
    if (!k && !*section)
        return fail_at(p, "unknown key %s (outside any [section])", name);
    if (!k)
        return fail_at(p, "unknown key [%s] %s (no section [%s])", section, name, section);
    if (!value)
        return fail_at(p, "[%s] %s: expected a value", section, name);
    if (apply(k, p->c, value, why, sizeof why) < 0)
        return fail_at(p, "[%s] %s: %s, got '%s'", section, name, why, value);
    return 1;
}

static int load_file(struct aut_config *c, const char *file, char *err, size_t errlen)
{
    char *text = NULL, ferr[PATH_MAX + 128];
    size_t len = 0;
    if (aut_read_file(file, CONFIG_MAX_BYTES, &text, &len, ferr, sizeof ferr) < 0)
        return aut_errf(err, errlen, -1, "%s", ferr);
    struct parse p = {.c = c, .file = file, .text = text, .len = len, .err = err, .errlen = errlen};
    int rc = ini_parse_stream(next_line, &p, on_value, &p);
    free(text);
    if (rc > 0 && (!p.err_line || rc < p.err_line))
        return aut_errf(err, errlen, -1, "%s:%d: expected [section] or key = value", file, rc);
    if (p.err_line)
        return -1;
    if (rc != 0)
        return aut_errf(err, errlen, -1, "%s: %s", file,
                        rc == -2 ? "out of memory" : "cannot parse");
    if (resolve_path(file, strlen(file), c->path, sizeof c->path) < 0)
        return aut_errf(err, errlen, -1, "%s: path too long", file);
    return 0;
}

/* The [bridge] environment, with bridge_client.c's reading of it: "0"
 * disables, anything else enables; a timeout outside 1..3600000 is ignored;
 * trace is on for "1" only. */
static void apply_env(struct aut_config *c)
{
    char why[128];
    bool known;
    const char *s = getenv("AUTON_KERNEL_BRIDGE");
    if (s)
        c->bridge_enabled = strcmp(s, "0") != 0;
    s = getenv("AUTON_KERNEL_BRIDGE_TIMEOUT_MS");
    if (s)
        (void)parse_uint(find_key("bridge", "timeout_ms", &known), &c->bridge_timeout_ms, s, why,
                         sizeof why);
    s = getenv("AUTON_KERNEL_BRIDGE_TRACE");
    if (s)
        c->bridge_trace = strcmp(s, "1") == 0;
}

int aut_config_load(struct aut_config *c, const char *path, char *err, size_t errlen)
{
    struct aut_config *t = malloc(sizeof *t);
    if (!t)
        return aut_errf(err, errlen, -1, "config: out of memory");
    aut_config_defaults(t);
    if (!path) {
        const char *env = getenv("AUTON_CONFIG");
        if (env && *env)
            path = env;
        else if (access(DEFAULT_FILE, F_OK) == 0)
            path = DEFAULT_FILE;
    }
    int rc = path ? load_file(t, path, err, errlen) : 0;
    if (!rc) {
        apply_env(t);
        memcpy(c, t, sizeof *t);
    }
    free(t);
    return rc;
}

/* ---- overrides -------------------------------------------------------------- */

/* s[0..*n) without surrounding blanks: returns the start, updates *n. */
static const char *trim(const char *s, size_t *n)
{
    while (*n && (*s == ' ' || *s == '\t'))
        s++, (*n)--;
    while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
    return s;
}

int aut_config_set(struct aut_config *c, const char *assignment, char *err, size_t errlen)
{
    char section[64], name[64], why[256];
    const char *eq = strchr(assignment, '=');
    size_t ln = eq ? (size_t)(eq - assignment) : strlen(assignment);
    const char *lhs = trim(assignment, &ln), *dot = memchr(lhs, '.', ln);
    if (!eq || !dot || dot == lhs || dot == lhs + ln - 1)
        return aut_errf(err, errlen, -1, "-o %s: expected section.key=value", assignment);
    size_t sn = (size_t)(dot - lhs), nn = ln - sn - 1, vn = strlen(eq + 1);
    const char *sec = trim(lhs, &sn), *nm = trim(dot + 1, &nn), *v = trim(eq + 1, &vn);
    bool known;
    const struct key *k = NULL;
    if (sn < sizeof section && nn < sizeof name) {
        memcpy(section, sec, sn);
        section[sn] = '\0';
        memcpy(name, nm, nn);
        name[nn] = '\0';
        k = find_key(section, name, &known);
    }
    if (!k)
        return aut_errf(err, errlen, -1, "-o %.*s: unknown key", (int)ln, lhs);
    char *value = strndup(v, vn);
    if (!value)
        return aut_errf(err, errlen, -1, "-o %s.%s: out of memory", section, name);
    int rc = apply(k, c, value, why, sizeof why);
    if (rc < 0)
        aut_errf(err, errlen, -1, "-o %s.%s: %s, got '%s'", section, name, why, value);
    free(value);
    return rc;
}

/* ---- names ------------------------------------------------------------------ */

static const char *choice_name(const char *const *names, const int *values, int v)
{
    for (size_t i = 0; names[i]; i++)
        if (values[i] == v)
            return names[i];
    return "unknown";
}

const char *aut_rollback_name(enum aut_rollback_policy p)
{
    return choice_name(rollback_names, rollback_values, (int)p);
}

const char *aut_accel_pref_name(enum aut_accel_pref a)
{
    return choice_name(accel_names, accel_values, (int)a);
}
