/*
 * test_elfcheck.c - kernel.elf through libelf, checked against binutils:
 * a kernel with the model embedded and one without (nm and readelf -S agree
 * on every symbol, section and size), a stripped copy (no symbol table), a
 * file that is no ELF, truncated ELFs, an ELF32 and an ELF64 object, and the
 * symbol kinds (section, absolute, undefined).
 *
 * The kernels come from $AUT_TEST_KERNEL_MODEL and $AUT_TEST_KERNEL_RULE;
 * when unset the group setup builds them (make -C kernel-tree, about 10 s)
 * into a temporary directory, with models/exports/auton-slm.gguf. Tests run
 * from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <elf.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfcheck.h"

#define MODEL "models/exports/auton-slm.gguf"

struct fx {
    char dir[64];    /* a fresh temporary directory */
    char model[512]; /* kernel with the model */
    char rule[512];  /* kernel without */
    char path[600];  /* scratch file in dir */
    char err[512];
};

static int run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char cwd[400];
    const char *km = getenv("AUT_TEST_KERNEL_MODEL"), *kr = getenv("AUT_TEST_KERNEL_RULE");
    assert_non_null(f);
    strcpy(f->dir, "/tmp/test_elfcheck.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_non_null(getcwd(cwd, sizeof cwd));
    if (km && *km && kr && *kr) {
        snprintf(f->model, sizeof f->model, "%s", km);
        snprintf(f->rule, sizeof f->rule, "%s", kr);
    } else {
        snprintf(f->model, sizeof f->model, "%s/k1.elf", f->dir);
        snprintf(f->rule, sizeof f->rule, "%s/k0.elf", f->dir);
        if (run("make -C kernel-tree B=%s/b KERNEL=%s SLM_MODEL=/nonexistent -j2 >%s/build.log "
                "2>&1 && make -C kernel-tree B=%s/b KERNEL=%s SLM_MODEL=%s/%s -j2 >>%s/build.log "
                "2>&1",
                f->dir, f->rule, f->dir, f->dir, f->model, cwd, MODEL, f->dir) != 0) {
            run("tail -20 %s/build.log", f->dir);
            fail_msg("building the test kernels failed (log above)");
        }
    }
    snprintf(f->path, sizeof f->path, "%s/scratch", f->dir);
    *state = f;
    return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- binutils' view ------------------------------------------------------ */

/* The value and type letter of symbol name in `nm -P path`; 0 when absent. */
static int nm_symbol(const char *path, const char *name, uint64_t *value, char *type)
{
    char cmd[700], line[512], n[256], t[8];
    unsigned long long v;
    int found = 0;
    snprintf(cmd, sizeof cmd, "nm -P '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "%255s %7s %llx", n, t, &v) == 3 && strcmp(n, name) == 0) {
            *value = v, *type = t[0], found = 1;
        }
    pclose(p);
    return found;
}

struct sections {
    uint64_t text, data, bss, model_size, model_addr, model_align;
    int model_found;
};

/* Sums `readelf -SW` the way elfcheck.h defines text, data and bss. */
static void readelf_sections(const char *path, struct sections *s)
{
    char cmd[700], line[512];
    memset(s, 0, sizeof *s);
    snprintf(cmd, sizeof cmd, "readelf -SW '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        char *rb = strchr(line, ']'), *tok[12];
        int n = 0;
        if (strncmp(line, "  [", 3) != 0 || !rb || strstr(line, "[Nr]"))
            continue;
        for (char *t = strtok(rb + 1, " \n"); t && n < 12; t = strtok(NULL, " \n"))
            tok[n++] = t;
        if (n < 9) /* [0], the NULL section, has no name */
            continue;
        /* name type address offset size es [flags] link info align */
        uint64_t size = strtoull(tok[4], NULL, 16), align = strtoull(tok[n - 1], NULL, 10);
        const char *flags = n == 10 ? tok[6] : "";
        if (strcmp(tok[0], ".slm_model") == 0) {
            s->model_found = 1, s->model_size = size, s->model_align = align;
            s->model_addr = strtoull(tok[2], NULL, 16);
        }
        if (!strchr(flags, 'A'))
            continue;
        if (strchr(flags, 'X'))
            s->text += size;
        else if (strcmp(tok[1], "NOBITS") == 0)
            s->bss += size;
        else if (strcmp(tok[1], "PROGBITS") == 0)
            s->data += size;
    }
    pclose(p);
}

static uint64_t readelf_entry(const char *path)
{
    char cmd[700], line[256];
    uint64_t entry = UINT64_MAX;
    snprintf(cmd, sizeof cmd, "readelf -h '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof line, p)) {
        const char *e = strstr(line, "Entry point address:");
        if (e)
            entry = strtoull(e + strlen("Entry point address:"), NULL, 16);
    }
    pclose(p);
    return entry;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void assert_matches_binutils(const char *path, const struct aut_elf_info *in)
{
    struct sections s;
    readelf_sections(path, &s);
    assert_int_equal(in->file_size, file_size(path));
    assert_int_equal(in->entry, readelf_entry(path));
    assert_int_equal(in->text, s.text);
    assert_int_equal(in->data, s.data);
    assert_int_equal(in->bss, s.bss);
    assert_int_equal(in->has_model_section, s.model_found);
    assert_int_equal(in->model_section_size, s.model_size);
    assert_int_equal(in->model_section_addr, s.model_addr);
    assert_int_equal(in->model_section_align, s.model_align);
    const struct aut_elf_sym *syms[3] = {&in->model_start, &in->model_end, &in->model_size};
    const char *names[3] = {"slm_model_start", "slm_model_end", "slm_model_size"};
    for (int i = 0; i < 3; i++) {
        uint64_t v = 0;
        char type = 0;
        assert_int_equal(syms[i]->present, nm_symbol(path, names[i], &v, &type));
        if (syms[i]->present)
            assert_int_equal(syms[i]->value, v);
    }
}

/* ---- the kernels ----------------------------------------------------------- */

static void model_kernel_agrees_with_nm_and_readelf(void **state)
{
    struct fx *f = *state;
    struct aut_elf_info in;
    assert_int_equal(aut_elf_inspect(f->model, &in, f->err, sizeof f->err), 0);
    assert_true(in.elf64_x86_64);
    assert_true(in.has_symtab);
    assert_matches_binutils(f->model, &in);
    assert_true(in.has_model_section);
    assert_int_equal(in.model_section_size, file_size(MODEL)); /* the file, byte for byte */
    assert_int_equal(in.model_section_align, 4096);
    assert_int_equal(in.model_start.value, in.model_section_addr);
    assert_int_equal(in.model_end.value, in.model_section_addr + in.model_section_size);
    assert_int_equal(in.model_size.value, in.model_section_size);
    assert_string_equal(in.model_start.section, ".slm_model");
    assert_string_equal(in.model_end.section, ".slm_model");
    assert_string_equal(in.model_size.section, "*ABS*");
    uint64_t v;
    char type;
    assert_true(nm_symbol(f->model, "slm_model_size", &v, &type) && type == 'A');
}

static void rule_kernel_has_no_model(void **state)
{
    struct fx *f = *state;
    struct aut_elf_info in;
    assert_int_equal(aut_elf_inspect(f->rule, &in, f->err, sizeof f->err), 0);
    assert_true(in.elf64_x86_64 && in.has_symtab);
    assert_matches_binutils(f->rule, &in);
    assert_false(in.has_model_section);
    assert_false(in.model_start.present || in.model_end.present || in.model_size.present);
    assert_string_equal(in.model_start.section, "");
    assert_true(in.text > 0 && in.data > 0 && in.bss > 0);
}

static void stripped_kernel_has_no_symbol_table(void **state)
{
    struct fx *f = *state;
    struct aut_elf_info in;
    char want[700];
    assert_int_equal(run("strip -o %s %s", f->path, f->model), 0);
    assert_int_equal(aut_elf_inspect(f->path, &in, f->err, sizeof f->err), -1);
    snprintf(want, sizeof want, "%s: no symbol table", f->path);
    assert_string_equal(f->err, want);
    assert_false(in.has_symtab);
    /* what was read before is still reported */
    assert_true(in.elf64_x86_64 && in.has_model_section);
    assert_int_equal(in.file_size, file_size(f->path));
    assert_false(in.model_start.present);
}

/* ---- broken files ---------------------------------------------------------- */

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *o = fopen(path, "wb");
    assert_non_null(o);
    assert_int_equal(fwrite(p, 1, n, o), n);
    fclose(o);
}

static void not_an_elf_file(void **state)
{
    struct fx *f = *state;
    struct aut_elf_info in;
    char want[700];
    snprintf(want, sizeof want, "%s: not an ELF file", f->path);
    write_bytes(f->path, "hello, world\n", 13);
    assert_int_equal(aut_elf_inspect(f->path, &in, f->err, sizeof f->err), -1);
    assert_string_equal(f->err, want);
    assert_int_equal(in.file_size, 13);
    assert_false(in.elf64_x86_64);
    write_bytes(f->path, "", 0);
    assert_int_equal(aut_elf_inspect(f->path, &in, f->err, sizeof f->err), -1);
    assert_string_equal(f->err, want);
    assert_int_equal(aut_elf_inspect("/nonexistent/kernel.elf", &in, f->err, sizeof f->err), -1);
    assert_string_equal(f->err, "/nonexistent/kernel.elf: No such file or directory");
    assert_int_equal(aut_elf_inspect(f->dir, &in, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, ": not a regular file"));
}

/* Copies the first n bytes of src to f->path (n 0: all). */
static void copy_prefix(struct fx *f, const char *src, size_t n)
{
    FILE *i = fopen(src, "rb");
    assert_non_null(i);
    size_t size = (size_t)file_size(src), want = n ? n : size;
    char *buf = malloc(size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, size, i), size);
    fclose(i);
    write_bytes(f->path, buf, want);
    free(buf);
}

static void truncated_elf_is_reported(void **state)
{
    struct fx *f = *state;
    struct aut_elf_info in;
    copy_prefix(f, f->rule, (size_t)file_size(f->rule) / 2);
    assert_int_equal(aut_elf_inspect(f->path, &in, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "truncated"));
    assert_true(in.elf64_x86_64); /* the header was whole */
    copy_prefix(f, f->rule, 40);  /* inside the ELF header */
    assert_int_equal(aut_elf_inspect(f->path, &in, f->err, sizeof f->err), -1);
    assert_true(strstr(f->err, "truncated") || strstr(f->err, "not an ELF file"));
    copy_prefix(f, f->rule, 8); /* inside e_ident */
    assert_int_equal(aut_elf_inspect(f->path, &in, f->err, sizeof f->err), -1);
}

/* A section header that claims more bytes than the file has. */
static void section_past_the_end_is_reported(void **state)
{
    struct fx *f = *state;
    struct aut_elf_info in;
    Elf64_Ehdr eh;
    Elf64_Shdr sh;
    copy_prefix(f, f->model, 0);
    FILE *io = fopen(f->path, "r+b");
    assert_non_null(io);
    assert_int_equal(fread(&eh, sizeof eh, 1, io), 1);
    assert_int_equal(fseek(io, (long)(eh.e_shoff + eh.e_shentsize), SEEK_SET), 0); /* [1] */
    assert_int_equal(fread(&sh, sizeof sh, 1, io), 1);
    sh.sh_size = file_size(f->path); /* from its offset on, past the end */
    assert_int_equal(fseek(io, (long)(eh.e_shoff + eh.e_shentsize), SEEK_SET), 0);
    assert_int_equal(fwrite(&sh, sizeof sh, 1, io), 1);
    fclose(io);
    assert_int_equal(aut_elf_inspect(f->path, &in, f->err, sizeof f->err), -1);
    assert_non_null(strstr(f->err, "extends past the end of the file"));
}

/* ---- other ELF kinds ------------------------------------------------------- */

static void elf32_and_objects_are_not_x86_64_executables(void **state)
{
    struct fx *f = *state;
    struct aut_elf_info in;
    assert_int_equal(run("printf 'int f(void){return 1;}\\nint g;\\n' > %s/o.c", f->dir), 0);
    assert_int_equal(run("cc -c %s/o.c -o %s/o64.o", f->dir, f->dir), 0);
    if (run("cc -m32 -c %s/o.c -o %s/o32.o 2>/dev/null", f->dir, f->dir) != 0)
        assert_int_equal(run("objcopy -O elf32-i386 %s/o64.o %s/o32.o", f->dir, f->dir), 0);
    snprintf(f->path, sizeof f->path, "%s/o32.o", f->dir);
    assert_int_equal(aut_elf_inspect(f->path, &in, f->err, sizeof f->err), 0);
    assert_false(in.elf64_x86_64);
    assert_true(in.has_symtab);
    assert_true(in.text > 0);
    snprintf(f->path, sizeof f->path, "%s/o64.o", f->dir); /* ELFCLASS64, x86_64, ET_REL */
    assert_int_equal(aut_elf_inspect(f->path, &in, f->err, sizeof f->err), 0);
    assert_false(in.elf64_x86_64);
    snprintf(f->path, sizeof f->path, "%s/scratch", f->dir);
}

/* Defined in a section, absolute, only referenced (undefined). */
static void symbol_kinds(void **state)
{
    struct fx *f = *state;
    struct aut_elf_info in;
    static const char as[] = "\t.data\n"
                             "\t.globl slm_model_start\n"
                             "slm_model_start: .quad 1\n"
                             "\t.section .slm_model,\"a\"\n"
                             "blob: .quad 2\n"
                             "\t.globl slm_model_size\n"
                             "\t.set slm_model_size, 0x1234\n"
                             "\t.text\n"
                             "\tmovq slm_model_end(%rip), %rax\n";
    snprintf(f->path, sizeof f->path, "%s/s.s", f->dir);
    write_bytes(f->path, as, sizeof as - 1);
    assert_int_equal(run("cc -c %s/s.s -o %s/s.o", f->dir, f->dir), 0);
    snprintf(f->path, sizeof f->path, "%s/s.o", f->dir);
    assert_int_equal(aut_elf_inspect(f->path, &in, f->err, sizeof f->err), 0);
    assert_true(in.model_start.present);
    assert_string_equal(in.model_start.section, ".data");
    assert_true(in.model_size.present);
    assert_int_equal(in.model_size.value, 0x1234);
    assert_string_equal(in.model_size.section, "*ABS*");
    assert_false(in.model_end.present); /* only referenced */
    assert_string_equal(in.model_end.section, "");
    assert_true(in.has_model_section);
    assert_int_equal(in.model_section_size, 8);
    snprintf(f->path, sizeof f->path, "%s/scratch", f->dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_kernel_agrees_with_nm_and_readelf),
        cmocka_unit_test(rule_kernel_has_no_model),
        cmocka_unit_test(stripped_kernel_has_no_symbol_table),
        cmocka_unit_test(not_an_elf_file),
        cmocka_unit_test(truncated_elf_is_reported),
        cmocka_unit_test(section_past_the_end_is_reported),
        cmocka_unit_test(elf32_and_objects_are_not_x86_64_executables),
        cmocka_unit_test(symbol_kinds),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
