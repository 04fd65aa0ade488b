/*
 * test_gguf_write.c - the host GGUF writer: a file with every value type and
 * a few tensors reads back through the engine's own parser with every value
 * intact; invalid input is refused with a message; the atomic write leaves
 * nothing behind when it fails (missing directory, a file where a directory
 * should be, the file size limit hit mid-write); the --corrupt escape hatch
 * produces what the parser rejects; SHA-256 of buffers and files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_write.h"
#include "qtypes.h"
#include "sha256.h"

struct fx {
    char dir[64];   /* a fresh temporary directory */
    char path[128]; /* dir/model.gguf */
    struct aut_gguf_w *w;
    void *mem; /* parser pool */
    struct slm_pool pool;
    struct gguf_file gf;
    struct slm_err err;
    uint8_t *buf; /* file read back */
    size_t size;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_gguf_write.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/model.gguf", f->dir);
    assert_int_equal(aut_gguf_w_create(&f->w), 0);
    *state = f;
    return 0;
}

/* Removes every file in dir, then dir. */
static void rm_dir(const char *dir)
{
    char p[1024];
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p && unlink(p) < 0)
            rm_dir(p);
    if (d)
        closedir(d);
    rmdir(dir);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    aut_gguf_w_destroy(f->w);
    rm_dir(f->dir);
    free(f->mem);
    free(f->buf);
    free(f);
    return 0;
}

/* Number of entries in dir, "." and ".." excluded. */
static int count_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void read_back(struct fx *f, const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    free(f->buf);
    f->size = (size_t)st.st_size;
    f->buf = malloc(f->size + 1);
    assert_non_null(f->buf);
    assert_int_equal(read(fd, f->buf, f->size), (ssize_t)f->size);
    close(fd);
}

/* Parses f->buf; returns the parser's code (0 or -SLM_E_*). */
static int parse(struct fx *f)
{
    size_t pool = 64u << 20;
    free(f->mem);
    f->mem = malloc(pool);
    assert_non_null(f->mem);
    slm_pool_init(&f->pool, f->mem, pool);
    return gguf_parse(&f->gf, f->buf, f->size, &f->pool, &f->err);
}

static const struct gguf_kv *kv(struct fx *f, const char *key, uint32_t type)
{
    const struct gguf_kv *k = gguf_find_kv(&f->gf, key);
    assert_non_null(k);
    assert_int_equal(k->type, type);
    return k;
}

/* ---- a file with everything ---------------------------------------------------- */

static const char *const strs[] = {"", "a", "\xe2\x96\x81hello", "<0x0A>"};
static const float t_f32[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -12.5f};
static uint8_t t_q8[2 * 34];
static uint16_t t_f16[8] = {0x3c00, 0, 0x8000, 0x7bff, 1, 2, 3, 4};

static void add_everything(struct aut_gguf_w *w)
{
    const uint8_t a_u8[] = {0, 255};
    const int8_t a_i8[] = {-128, 127};
    const uint16_t a_u16[] = {65535};
    const int16_t a_i16[] = {-32768, 5};
    const uint32_t a_u32[] = {1, 2, 3};
    const int32_t a_i32[] = {-1, 2};
    const float a_f32[] = {0.5f, -0.25f};
    const uint8_t a_bool[] = {1, 0, 1};
    const uint64_t a_u64[] = {UINT64_MAX};
    const int64_t a_i64[] = {INT64_MIN, 0};
    const double a_f64[] = {3.25, -1e300};
    assert_int_equal(aut_gguf_w_add_u8(w, "t.u8", 200), 0);
    assert_int_equal(aut_gguf_w_add_i8(w, "t.i8", -100), 0);
    assert_int_equal(aut_gguf_w_add_u16(w, "t.u16", 60000), 0);
    assert_int_equal(aut_gguf_w_add_i16(w, "t.i16", -30000), 0);
    assert_int_equal(aut_gguf_w_add_u32(w, "t.u32", 4000000000u), 0);
    assert_int_equal(aut_gguf_w_add_i32(w, "t.i32", -2000000000), 0);
    assert_int_equal(aut_gguf_w_add_f32(w, "t.f32", 1.5f), 0);
    assert_int_equal(aut_gguf_w_add_bool(w, "t.bool", true), 0);
    assert_int_equal(aut_gguf_w_add_str(w, "t.str", "h\xc3\xa9llo"), 0);
    assert_int_equal(aut_gguf_w_add_u64(w, "t.u64", UINT64_MAX - 1), 0);
    assert_int_equal(aut_gguf_w_add_i64(w, "t.i64", INT64_MIN + 1), 0);
    assert_int_equal(aut_gguf_w_add_f64(w, "t.f64", -2.75), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.u8", GGUF_T_UINT8, a_u8, 2), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.i8", GGUF_T_INT8, a_i8, 2), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.u16", GGUF_T_UINT16, a_u16, 1), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.i16", GGUF_T_INT16, a_i16, 2), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.u32", GGUF_T_UINT32, a_u32, 3), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.i32", GGUF_T_INT32, a_i32, 2), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.f32", GGUF_T_FLOAT32, a_f32, 2), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.bool", GGUF_T_BOOL, a_bool, 3), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.u64", GGUF_T_UINT64, a_u64, 1), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.i64", GGUF_T_INT64, a_i64, 2), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.f64", GGUF_T_FLOAT64, a_f64, 2), 0);
    assert_int_equal(aut_gguf_w_add_arr(w, "a.empty", GGUF_T_UINT32, NULL, 0), 0);
    assert_int_equal(aut_gguf_w_add_arr_str(w, "a.str", strs, 4), 0);
    assert_int_equal(aut_gguf_w_set_alignment(w, 64), 0);
    for (size_t i = 0; i < sizeof t_q8; i++)
        t_q8[i] = (uint8_t)(i * 7);
    uint64_t ne_f32[2] = {4, 3}, ne_q8[2] = {32, 2}, ne_f16[1] = {8};
    assert_int_equal(aut_gguf_w_add_tensor(w, "t.f32", SLM_Q_F32, 2, ne_f32, t_f32, sizeof t_f32,
                                           AUT_GGUF_W_BORROW),
                     0);
    assert_int_equal(
        aut_gguf_w_add_tensor(w, "t.q8", SLM_Q_Q8_0, 2, ne_q8, t_q8, sizeof t_q8, AUT_GGUF_W_COPY),
        0);
    void *owned = malloc(sizeof t_f16);
    assert_non_null(owned);
    memcpy(owned, t_f16, sizeof t_f16);
    assert_int_equal(aut_gguf_w_add_tensor(w, "t.f16", SLM_Q_F16, 1, ne_f16, owned, sizeof t_f16,
                                           AUT_GGUF_W_TAKE),
                     0);
}

static void check_scalars(struct fx *f)
{
    assert_int_equal(kv(f, "t.u8", GGUF_T_UINT8)->v.u, 200);
    assert_int_equal(kv(f, "t.i8", GGUF_T_INT8)->v.i, -100);
    assert_int_equal(kv(f, "t.u16", GGUF_T_UINT16)->v.u, 60000);
    assert_int_equal(kv(f, "t.i16", GGUF_T_INT16)->v.i, -30000);
    assert_int_equal(kv(f, "t.u32", GGUF_T_UINT32)->v.u, 4000000000u);
    assert_int_equal(kv(f, "t.i32", GGUF_T_INT32)->v.i, -2000000000);
    assert_true(kv(f, "t.f32", GGUF_T_FLOAT32)->v.f == 1.5);
    assert_true(kv(f, "t.bool", GGUF_T_BOOL)->v.b);
    assert_true(gguf_str_eq(kv(f, "t.str", GGUF_T_STRING)->v.s, "h\xc3\xa9llo"));
    assert_true(kv(f, "t.u64", GGUF_T_UINT64)->v.u == UINT64_MAX - 1);
    assert_true(kv(f, "t.i64", GGUF_T_INT64)->v.i == INT64_MIN + 1);
    assert_true(kv(f, "t.f64", GGUF_T_FLOAT64)->v.f == -2.75);
    assert_int_equal(kv(f, "general.alignment", GGUF_T_UINT32)->v.u, 64);
    assert_int_equal(f->gf.alignment, 64);
}

static void check_arrays(struct fx *f)
{
    const struct gguf_kv *k;
    struct gguf_str s[4];
    k = kv(f, "a.u8", GGUF_T_ARRAY);
    assert_int_equal(k->v.arr.n, 2);
    assert_int_equal(gguf_arr_i64(k, 1), 255);
    assert_int_equal(gguf_arr_i64(kv(f, "a.i8", GGUF_T_ARRAY), 0), -128);
    assert_int_equal(gguf_arr_i64(kv(f, "a.u16", GGUF_T_ARRAY), 0), 65535);
    assert_int_equal(gguf_arr_i64(kv(f, "a.i16", GGUF_T_ARRAY), 0), -32768);
    assert_int_equal(gguf_arr_i64(kv(f, "a.u32", GGUF_T_ARRAY), 2), 3);
    assert_int_equal(gguf_arr_i64(kv(f, "a.i32", GGUF_T_ARRAY), 0), -1);
    assert_true(gguf_arr_f32(kv(f, "a.f32", GGUF_T_ARRAY), 1) == -0.25f);
    k = kv(f, "a.bool", GGUF_T_ARRAY);
    assert_int_equal(k->v.arr.type, GGUF_T_BOOL);
    assert_int_equal(gguf_arr_i64(k, 0) + gguf_arr_i64(k, 1) + gguf_arr_i64(k, 2), 2);
    k = kv(f, "a.u64", GGUF_T_ARRAY);
    assert_int_equal(k->v.arr.type, GGUF_T_UINT64);
    assert_int_equal(k->v.arr.nbytes, 8);
    assert_true(gguf_arr_i64(kv(f, "a.i64", GGUF_T_ARRAY), 0) == INT64_MIN);
    assert_true(gguf_arr_f32(kv(f, "a.f64", GGUF_T_ARRAY), 0) == 3.25f);
    assert_int_equal(kv(f, "a.empty", GGUF_T_ARRAY)->v.arr.n, 0);
    k = kv(f, "a.str", GGUF_T_ARRAY);
    assert_int_equal(k->v.arr.type, GGUF_T_STRING);
    assert_int_equal(k->v.arr.n, 4);
    gguf_arr_strings(k, s);
    for (int i = 0; i < 4; i++)
        assert_true(gguf_str_eq(s[i], strs[i]));
}

static void check_tensors(struct fx *f)
{
    const struct gguf_tensor *t = gguf_find_tensor(&f->gf, "t.f32");
    assert_int_equal(f->gf.n_tensors, 3);
    assert_non_null(t);
    assert_int_equal(t->type, SLM_Q_F32);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 4);
    assert_int_equal(t->ne[1], 3);
    assert_memory_equal(t->data, t_f32, sizeof t_f32);
    assert_non_null(t = gguf_find_tensor(&f->gf, "t.q8"));
    assert_int_equal(t->type, SLM_Q_Q8_0);
    assert_int_equal(t->offset % 64, 0);
    assert_memory_equal(t->data, t_q8, sizeof t_q8);
    assert_non_null(t = gguf_find_tensor(&f->gf, "t.f16"));
    assert_int_equal(t->n_dims, 1);
    assert_int_equal(t->offset % 64, 0);
    assert_memory_equal(t->data, t_f16, sizeof t_f16);
    assert_int_equal(f->gf.data_offset % 64, 0);
}

static void every_value_type_and_tensor_reads_back(void **state)
{
    struct fx *f = *state;
    uint8_t *mem;
    size_t n;
    add_everything(f->w);
    assert_int_equal(aut_gguf_w_n_kv(f->w), 26); /* 25 added + general.alignment */
    assert_int_equal(aut_gguf_w_write(f->w, f->path), 0);
    read_back(f, f->path);
    assert_int_equal(f->size, aut_gguf_w_file_size(f->w));
    assert_int_equal(f->size % 64, 0);
    assert_int_equal(aut_gguf_w_serialize(f->w, &mem, &n), 0);
    assert_int_equal(n, f->size);
    assert_memory_equal(mem, f->buf, n); /* file and memory agree byte for byte */
    free(mem);
    assert_int_equal(parse(f), 0);
    assert_int_equal(f->gf.version, 3);
    assert_int_equal(f->gf.n_kv, 26);
    check_scalars(f);
    check_arrays(f);
    check_tensors(f);
    assert_int_equal(count_entries(f->dir), 1); /* no temporary file left */
}

static void default_alignment_writes_no_key(void **state)
{
    struct fx *f = *state;
    uint64_t ne = 32;
    float x[32] = {0};
    assert_int_equal(aut_gguf_w_set_alignment(f->w, 128), 0);
    assert_int_equal(aut_gguf_w_set_alignment(f->w, 32), 0); /* back to the default */
    assert_int_equal(
        aut_gguf_w_add_tensor(f->w, "x", SLM_Q_F32, 1, &ne, x, sizeof x, AUT_GGUF_W_COPY), 0);
    assert_int_equal(aut_gguf_w_serialize(f->w, &f->buf, &f->size), 0);
    assert_int_equal(parse(f), 0);
    assert_null(gguf_find_kv(&f->gf, "general.alignment"));
    assert_int_equal(f->gf.alignment, 32);
    assert_int_equal(f->gf.n_kv, 0);
}

static void invalid_input_is_refused_with_a_message(void **state)
{
    struct fx *f = *state;
    struct aut_gguf_w *w = f->w;
    float x[64] = {0};
    uint64_t ne[5] = {32, 2, 1, 1, 1}, odd[2] = {33, 1}, zero[2] = {32, 0};
    assert_int_equal(aut_gguf_w_add_u32(w, "k", 1), 0);
    assert_int_equal(aut_gguf_w_add_u32(w, "k", 2), -EEXIST);
    assert_non_null(strstr(aut_gguf_w_error(w), "duplicate key k"));
    assert_int_equal(aut_gguf_w_add_str(w, "", "x"), -EINVAL);
    assert_int_equal(aut_gguf_w_add_u32(w, "general.alignment", 64), -EINVAL);
    assert_int_equal(aut_gguf_w_set_alignment(w, 48), -EINVAL);
    assert_int_equal(aut_gguf_w_set_alignment(w, 0), -EINVAL);
    assert_int_equal(aut_gguf_w_add_arr(w, "nested", GGUF_T_ARRAY, x, 1), -EINVAL);
    assert_int_equal(aut_gguf_w_add_arr(w, "strings", GGUF_T_STRING, x, 1), -EINVAL);
    assert_int_equal(aut_gguf_w_remove_kv(w, "k"), 0);
    assert_int_equal(aut_gguf_w_remove_kv(w, "k"), -ENOENT);
    assert_int_equal(aut_gguf_w_add_u32(w, "k", 3), 0); /* free again */
    assert_int_equal(aut_gguf_w_add_tensor(w, "t", SLM_Q_F32, 2, ne, x, 256, AUT_GGUF_W_COPY), 0);
    assert_int_equal(aut_gguf_w_add_tensor(w, "t", SLM_Q_F32, 2, ne, x, 256, AUT_GGUF_W_COPY),
                     -EEXIST);
    assert_int_equal(aut_gguf_w_add_tensor(w, "u", SLM_Q_F32, 2, ne, x, 255, AUT_GGUF_W_COPY),
                     -EINVAL);
    assert_non_null(strstr(aut_gguf_w_error(w), "tensor u: data of 255 bytes, expected 256"));
    assert_int_equal(aut_gguf_w_add_tensor(w, "u", 4, 2, ne, x, 256, AUT_GGUF_W_COPY), -EINVAL);
    assert_int_equal(aut_gguf_w_add_tensor(w, "u", 99, 2, ne, x, 256, AUT_GGUF_W_COPY), -EINVAL);
    assert_int_equal(aut_gguf_w_add_tensor(w, "u", SLM_Q_F32, 5, ne, x, 256, AUT_GGUF_W_COPY),
                     -EINVAL);
    assert_int_equal(aut_gguf_w_add_tensor(w, "u", SLM_Q_F32, 2, zero, x, 0, AUT_GGUF_W_COPY),
                     -EINVAL);
    assert_int_equal(aut_gguf_w_add_tensor(w, "u", SLM_Q_Q8_0, 2, odd, x, 34, AUT_GGUF_W_COPY),
                     -EINVAL);
    assert_non_null(strstr(aut_gguf_w_error(w), "not a multiple"));
    assert_int_equal(aut_gguf_w_n_tensors(w), 1);
    assert_int_equal(aut_gguf_w_find_tensor(w, "t"), 0);
    assert_int_equal(aut_gguf_w_find_tensor(w, "u"), -ENOENT);
    /* what was accepted is still a valid file */
    assert_int_equal(aut_gguf_w_serialize(w, &f->buf, &f->size), 0);
    assert_int_equal(parse(f), 0);
}

/* ---- atomic writes ----------------------------------------------------------- */

static void write_into_missing_directory_fails_cleanly(void **state)
{
    struct fx *f = *state;
    char path[192];
    assert_int_equal(aut_gguf_w_add_u32(f->w, "k", 1), 0);
    snprintf(path, sizeof path, "%s/missing/model.gguf", f->dir);
    assert_int_equal(aut_gguf_w_write(f->w, path), -ENOENT);
    assert_non_null(strstr(aut_gguf_w_error(f->w), "missing/model.gguf.tmp."));
    assert_int_equal(count_entries(f->dir), 0);
    /* a regular file where a directory should be */
    assert_int_equal(aut_gguf_w_write(f->w, f->path), 0);
    snprintf(path, sizeof path, "%s/sub/model.gguf", f->path);
    assert_int_equal(aut_gguf_w_write(f->w, path), -ENOTDIR);
    assert_int_equal(count_entries(f->dir), 1);
}

/* The file size limit stops the write half-way: the temporary file is
 * removed and the previous file at the path survives untouched. */
static void failed_write_keeps_the_old_file_and_leaves_no_temporary(void **state)
{
    struct fx *f = *state;
    struct rlimit old, lim;
    size_t big = 1u << 20;
    uint64_t ne = big / 4;
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(aut_gguf_w_add_str(f->w, "general.name", "old"), 0);
    assert_int_equal(aut_gguf_w_write(f->w, f->path), 0);
    read_back(f, f->path);
    uint8_t *before = f->buf;
    size_t before_size = f->size;
    f->buf = NULL;
    float *data = calloc(ne, sizeof *data);
    assert_non_null(data);
    assert_int_equal(
        aut_gguf_w_add_tensor(f->w, "big", SLM_Q_F32, 1, &ne, data, big, AUT_GGUF_W_TAKE), 0);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = aut_gguf_w_write(f->w, f->path);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_sig);
    assert_int_equal(rc, -EFBIG);
    assert_non_null(strstr(aut_gguf_w_error(f->w), "write "));
    assert_int_equal(count_entries(f->dir), 1);
    read_back(f, f->path);
    assert_int_equal(f->size, before_size);
    assert_memory_equal(f->buf, before, before_size);
    free(before);
}

static void save_bytes_is_atomic_too(void **state)
{
    struct fx *f = *state;
    char path[192], err[256] = "";
    snprintf(path, sizeof path, "%s/m.json", f->dir);
    assert_int_equal(aut_gguf_w_save_bytes(path, "{}\n", 3, err, sizeof err), 0);
    read_back(f, path);
    assert_int_equal(f->size, 3);
    assert_memory_equal(f->buf, "{}\n", 3);
    snprintf(path, sizeof path, "%s/nope/m.json", f->dir);
    assert_int_equal(aut_gguf_w_save_bytes(path, "{}", 2, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "nope/m.json"));
    assert_int_equal(count_entries(f->dir), 1);
}

/* ---- the escape hatch ---------------------------------------------------------- */

/* f->buf = the writer's bytes, in memory. */
static void serialize(struct fx *f)
{
    free(f->buf);
    f->buf = NULL;
    assert_int_equal(aut_gguf_w_serialize(f->w, &f->buf, &f->size), 0);
}

static void raw_edits_make_the_parser_refuse(void **state)
{
    struct fx *f = *state;
    float x[32] = {0};
    uint64_t ne = 32;
    uint32_t zero = 0;
    assert_int_equal(
        aut_gguf_w_add_tensor(f->w, "x", SLM_Q_F32, 1, &ne, x, sizeof x, AUT_GGUF_W_COPY), 0);
    assert_int_equal(
        aut_gguf_w_add_tensor(f->w, "y", SLM_Q_F32, 1, &ne, x, sizeof x, AUT_GGUF_W_COPY), 0);
    serialize(f);
    assert_int_equal(parse(f), 0);
    assert_int_equal(aut_gguf_w_raw_tensor(f->w, 1, &(struct aut_gguf_w_raw_tensor){.shift = 4}),
                     0);
    serialize(f);
    assert_int_equal(parse(f), -SLM_E_ALIGN);
    assert_int_equal(
        aut_gguf_w_raw_tensor(f->w, 1, &(struct aut_gguf_w_raw_tensor){.detached = true}), 0);
    serialize(f);
    assert_int_equal(parse(f), -SLM_E_OVERLAP); /* y at offset 0, on top of x */
    assert_int_equal(aut_gguf_w_raw_kv(f->w, "general.alignment", GGUF_T_UINT32, &zero, 4), 0);
    serialize(f);
    assert_int_equal(parse(f), -SLM_E_ALIGN);
    struct aut_gguf_w_raw_header h = {.truncate_at = 10};
    assert_int_equal(aut_gguf_w_raw_header(f->w, &h), 0);
    assert_int_equal(aut_gguf_w_write(f->w, f->path), 0);
    read_back(f, f->path);
    assert_int_equal(f->size, 10);
    assert_int_equal(parse(f), -SLM_E_TRUNCATED);
    h = (struct aut_gguf_w_raw_header){.set_magic = true, .magic = 0x12345678};
    assert_int_equal(aut_gguf_w_raw_header(f->w, &h), 0);
    serialize(f);
    assert_int_equal(parse(f), -SLM_E_MAGIC);
}

/* ---- sha256 -------------------------------------------------------------------- */

static void sha256_of_buffers_and_files(void **state)
{
    struct fx *f = *state;
    char hex[AUT_SHA256_HEX_SIZE], hex2[AUT_SHA256_HEX_SIZE];
    assert_int_equal(aut_sha256_buf("abc", 3, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(aut_sha256_buf("", 0, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    add_everything(f->w);
    assert_int_equal(aut_gguf_w_write(f->w, f->path), 0);
    read_back(f, f->path);
    assert_int_equal(aut_sha256_buf(f->buf, f->size, hex), 0);
    assert_int_equal(aut_sha256_file(f->path, hex2), 0);
    assert_string_equal(hex, hex2);
    assert_int_equal(aut_sha256_file("/nonexistent/file", hex2), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_value_type_and_tensor_reads_back, setup, teardown),
        cmocka_unit_test_setup_teardown(default_alignment_writes_no_key, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_input_is_refused_with_a_message, setup, teardown),
        cmocka_unit_test_setup_teardown(write_into_missing_directory_fails_cleanly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(failed_write_keeps_the_old_file_and_leaves_no_temporary,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(save_bytes_is_atomic_too, setup, teardown),
        cmocka_unit_test_setup_teardown(raw_edits_make_the_parser_refuse, setup, teardown),
        cmocka_unit_test_setup_teardown(sha256_of_buffers_and_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
