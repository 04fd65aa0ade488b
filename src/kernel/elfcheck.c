/*
 * elfcheck.c - what the check-build stage reads from a kernel ELF (see
 * elfcheck.h): class, machine and type, entry, the slm_model_* symbols, the
 * .slm_model section and the SHF_ALLOC sizes by kind. The one file that uses
 * libelf; its errors become messages naming the file here.
 */
#include "elfcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

#define MODEL_SECTION ".slm_model"

static const char *const model_syms[3] = {"slm_model_start", "slm_model_end", "slm_model_size"};

static const char *section_name(Elf *e, size_t shstrndx, const GElf_Shdr *sh)
{
    const char *name = elf_strptr(e, shstrndx, sh->sh_name);
    return name ? name : "";
}

/* Whether count entries of entsize bytes at off lie inside a file of size bytes. */
static bool inside(uint64_t off, uint64_t count, uint64_t entsize, uint64_t size)
{
    return off <= size && (entsize == 0 || count <= (size - off) / entsize);
}

/* The header and section tables must lie inside the file: libelf reads a
 * cut file's missing section table as "no sections" without an error. */
static int check_tables(Elf *e, const GElf_Ehdr *eh, const char *path, uint64_t size, char *err,
                        size_t errlen)
{
    size_t shnum;
    if (!inside(eh->e_phoff, eh->e_phnum, eh->e_phentsize, size))
        return aut_errf(err, errlen, -1,
                        "%s: program headers past the end of the file (truncated?)", path);
    if (eh->e_shoff == 0)
        return 0; /* no section table at all: reported as "no symbol table" */
    if (!inside(eh->e_shoff, eh->e_shnum ? eh->e_shnum : 1, eh->e_shentsize, size))
        return aut_errf(err, errlen, -1,
                        "%s: section headers past the end of the file (truncated?)", path);
    if (elf_getshdrnum(e, &shnum) != 0 || !inside(eh->e_shoff, shnum, eh->e_shentsize, size))
        return aut_errf(err, errlen, -1, "%s: truncated or corrupt section headers (%s)", path,
                        elf_errmsg(-1));
    return 0;
}

/* Sums the SHF_ALLOC sizes by kind, reads the model section and finds the
 * symbol table (*symtab stays NULL without one). Every section with bytes in
 * the file must lie inside it: a cut file is reported as truncated. */
static int scan_sections(Elf *e, const char *path, struct aut_elf_info *in, Elf_Scn **symtab,
                         char *err, size_t errlen)
{
    size_t shstrndx;
    if (elf_getshdrstrndx(e, &shstrndx) != 0)
        return aut_errf(err, errlen, -1, "%s: truncated or corrupt section headers (%s)", path,
                        elf_errmsg(-1));
    for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn)) != NULL;) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            return aut_errf(err, errlen, -1, "%s: corrupt section header (%s)", path,
                            elf_errmsg(-1));
        const char *name = section_name(e, shstrndx, &sh);
        if (sh.sh_type != SHT_NOBITS &&
            (sh.sh_offset > in->file_size || sh.sh_size > in->file_size - sh.sh_offset))
            return aut_errf(err, errlen, -1,
                            "%s: section %s extends past the end of the file (truncated?)", path,
                            name);
        if (sh.sh_flags & SHF_ALLOC) {
            if (sh.sh_flags & SHF_EXECINSTR)
                in->text += sh.sh_size;
            else if (sh.sh_type == SHT_NOBITS)
                in->bss += sh.sh_size;
            else if (sh.sh_type == SHT_PROGBITS)
                in->data += sh.sh_size;
        }
        if (sh.sh_type == SHT_SYMTAB && !*symtab)
            *symtab = scn;
        if (strcmp(name, MODEL_SECTION) == 0 && !in->has_model_section) {
            in->has_model_section = true;
            in->model_section_size = sh.sh_size;
            in->model_section_addr = sh.sh_addr;
            in->model_section_align = sh.sh_addralign;
        }
    }
    if (elf_errno() != 0)
        return aut_errf(err, errlen, -1, "%s: corrupt section table (%s)", path, elf_errmsg(-1));
    return 0;
}

/* The extended section indexes of symtab (SHT_SYMTAB_SHNDX), NULL if none. */
static Elf_Data *xindex_data(Elf *e, Elf_Scn *symtab)
{
    size_t idx = elf_ndxscn(symtab);
    for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn)) != NULL;) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB_SHNDX && sh.sh_link == idx)
            return elf_getdata(scn, NULL);
    }
    return NULL;
}

/* Records a definition of one of the model symbols; a global one wins over
 * a local one of the same name. */
static void record_sym(Elf *e, size_t shstrndx, const GElf_Sym *sym, Elf32_Word shndx,
                       struct aut_elf_sym *s, bool *global)
{
    bool is_global = GELF_ST_BIND(sym->st_info) != STB_LOCAL;
    if (shndx == SHN_UNDEF || (s->present && (*global || !is_global)))
        return;
    s->present = true;
    s->value = sym->st_value;
    s->size = sym->st_size;
    *global = is_global;
    GElf_Shdr sh;
    Elf_Scn *scn;
    if (shndx == SHN_ABS)
        snprintf(s->section, sizeof s->section, "*ABS*");
    else if (shndx == SHN_COMMON)
        snprintf(s->section, sizeof s->section, "*COM*");
    else if ((scn = elf_getscn(e, shndx)) && gelf_getshdr(scn, &sh))
        snprintf(s->section, sizeof s->section, "%s", section_name(e, shstrndx, &sh));
    else
        snprintf(s->section, sizeof s->section, "?%u", (unsigned)shndx);
}

static int scan_symbols(Elf *e, Elf_Scn *symtab, const char *path, struct aut_elf_info *in,
                        char *err, size_t errlen)
{
    struct aut_elf_sym *out[3] = {&in->model_start, &in->model_end, &in->model_size};
    bool global[3] = {false, false, false};
    GElf_Shdr sh;
    size_t shstrndx;
    Elf_Data *data = elf_getdata(symtab, NULL);
    if (!data || !gelf_getshdr(symtab, &sh) || sh.sh_entsize == 0 ||
        elf_getshdrstrndx(e, &shstrndx) != 0)
        return aut_errf(err, errlen, -1, "%s: unreadable symbol table (%s)", path, elf_errmsg(-1));
    Elf_Data *xdata = xindex_data(e, symtab);
    size_t count = sh.sh_size / sh.sh_entsize;
    for (size_t i = 1; i < count; i++) {
        GElf_Sym sym;
        Elf32_Word xshndx = 0;
        if (!gelf_getsymshndx(data, xdata, (int)i, &sym, &xshndx))
            return aut_errf(err, errlen, -1, "%s: corrupt symbol %zu (%s)", path, i,
                            elf_errmsg(-1));
        const char *name = elf_strptr(e, sh.sh_link, sym.st_name);
        Elf32_Word shndx = sym.st_shndx == SHN_XINDEX ? xshndx : sym.st_shndx;
        for (size_t k = 0; name && k < 3; k++)
            if (strcmp(name, model_syms[k]) == 0)
                record_sym(e, shstrndx, &sym, shndx, out[k], &global[k]);
    }
    return 0;
}

/* Fills a local copy so that *info is written whole, also on failure: then it
 * holds what was read before the problem (a stripped kernel still reports its
 * sections and sizes, with has_symtab false). */
int aut_elf_inspect(const char *path, struct aut_elf_info *info, char *err, size_t errlen)
{
    struct aut_elf_info in;
    struct stat st;
    Elf *e = NULL;
    Elf_Scn *symtab = NULL;
    GElf_Ehdr eh;
    int rc = -1;
    memset(&in, 0, sizeof in);
    if (elf_version(EV_CURRENT) == EV_NONE) {
        aut_errf(err, errlen, -1, "libelf: %s", elf_errmsg(-1));
        goto out;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        aut_errf(err, errlen, -1, "%s: %s", path, strerror(errno));
        goto close_fd;
    }
    if (!S_ISREG(st.st_mode)) {
        aut_errf(err, errlen, -1, "%s: not a regular file", path);
        goto close_fd;
    }
    in.file_size = (uint64_t)st.st_size;
    if (!(e = elf_begin(fd, ELF_C_READ, NULL)) || elf_kind(e) != ELF_K_ELF) {
        aut_errf(err, errlen, -1, "%s: not an ELF file", path);
        goto end;
    }
    if (!gelf_getehdr(e, &eh)) {
        aut_errf(err, errlen, -1, "%s: truncated or corrupt ELF header (%s)", path, elf_errmsg(-1));
        goto end;
    }
    in.elf64_x86_64 =
        gelf_getclass(e) == ELFCLASS64 && eh.e_machine == EM_X86_64 && eh.e_type == ET_EXEC;
    in.entry = eh.e_entry;
    if (check_tables(e, &eh, path, in.file_size, err, errlen) != 0)
        goto end;
    if (scan_sections(e, path, &in, &symtab, err, errlen) != 0)
        goto end;
    if (!symtab) {
        aut_errf(err, errlen, -1, "%s: no symbol table", path);
        goto end;
    }
    in.has_symtab = true;
    rc = scan_symbols(e, symtab, path, &in, err, errlen);
end:
    elf_end(e);
close_fd:
    if (fd >= 0)
        close(fd);
out:
    *info = in;
    return rc;
}
