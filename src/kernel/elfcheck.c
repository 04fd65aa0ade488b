/*
 * elfcheck.c - kernel.elf as check-build sees it, read with libelf: the ELF
 * kind, the slm_model_* symbols, the .slm_model section, and the sizes of
 * text, data and bss.
 */
#include "elfcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void section_sizes(Elf *e, struct aut_elf_info *info, size_t shstrndx)
{
    Elf_Scn *scn = NULL;
    GElf_Shdr sh;
    while ((scn = elf_nextscn(e, scn)) && gelf_getshdr(scn, &sh)) {
        const char *name = elf_strptr(e, shstrndx, sh.sh_name);
        if (name && !strcmp(name, ".slm_model")) {
            info->has_model_section = true;
            info->model_section_size = sh.sh_size;
            info->model_section_addr = sh.sh_addr;
            info->model_section_align = sh.sh_addralign;
        }
        if (!(sh.sh_flags & SHF_ALLOC))
            continue;
        if (sh.sh_type == SHT_NOBITS)
            info->bss += sh.sh_size;
        else if (sh.sh_flags & SHF_EXECINSTR)
            info->text += sh.sh_size;
        else
            info->data += sh.sh_size;
    }
}

static void fill_sym(Elf *e, const GElf_Sym *s, size_t shstrndx, struct aut_elf_sym *out)
{
    out->present = s->st_shndx != SHN_UNDEF;
    out->value = s->st_value;
    out->size = s->st_size;
    if (s->st_shndx == SHN_ABS) {
        snprintf(out->section, sizeof out->section, "*ABS*");
    } else if (out->present) {
        GElf_Shdr sh;
        Elf_Scn *scn = elf_getscn(e, s->st_shndx);
        const char *name = scn && gelf_getshdr(scn, &sh) ? elf_strptr(e, shstrndx, sh.sh_name)
                                                        : NULL;
        snprintf(out->section, sizeof out->section, "%s", name ? name : "?");
    }
}

static void symbols(Elf *e, struct aut_elf_info *info, size_t shstrndx)
{
    Elf_Scn *scn = NULL;
    GElf_Shdr sh;
    while ((scn = elf_nextscn(e, scn)) && gelf_getshdr(scn, &sh)) {
        if (sh.sh_type != SHT_SYMTAB)
            continue;
        info->has_symtab = true;
        Elf_Data *d = elf_getdata(scn, NULL);
        size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
        for (size_t i = 0; d && i < n; i++) {
            GElf_Sym s;
            if (!gelf_getsym(d, (int)i, &s))
                continue;
            const char *name = elf_strptr(e, sh.sh_link, s.st_name);
            if (!name)
                continue;
            if (!strcmp(name, "slm_model_start"))
                fill_sym(e, &s, shstrndx, &info->model_start);
            else if (!strcmp(name, "slm_model_end"))
                fill_sym(e, &s, shstrndx, &info->model_end);
            else if (!strcmp(name, "slm_model_size"))
                fill_sym(e, &s, shstrndx, &info->model_size);
        }
    }
}

int aut_elf_inspect(const char *path, struct aut_elf_info *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof *info);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    info->file_size = (uint64_t)st.st_size;
    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    GElf_Ehdr eh;
    size_t shstrndx = 0;
    int rc = 0;
    if (!e || elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh)) {
        snprintf(err, errlen, "%s: not an ELF file", path);
        rc = -1;
    } else if (elf_getshdrstrndx(e, &shstrndx)) {
        snprintf(err, errlen, "%s: no section names (%s)", path, elf_errmsg(-1));
        rc = -1;
    } else {
        info->elf64_x86_64 = gelf_getclass(e) == ELFCLASS64 && eh.e_machine == EM_X86_64 &&
                             eh.e_type == ET_EXEC;
        info->entry = eh.e_entry;
        section_sizes(e, info, shstrndx);
        symbols(e, info, shstrndx);
        if (!info->has_symtab) {
            snprintf(err, errlen, "%s: no symbol table (stripped?)", path);
            rc = -1;
        }
    }
    if (e)
        elf_end(e);
    close(fd);
    return rc;
}
