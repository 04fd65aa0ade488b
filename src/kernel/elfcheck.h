/*
 * elfcheck.h - what the check-build stage reads from kernel.elf, with libelf
 * (the only module that uses it).
 */
#ifndef AUTON_KERNEL_ELFCHECK_H
#define AUTON_KERNEL_ELFCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aut_elf_sym {
    bool present;
    uint64_t value;
    uint64_t size;
    char section[32]; /* the section it is defined in ("*ABS*" for SHN_ABS, "" if undefined) */
};

struct aut_elf_info {
    uint64_t file_size;       /* bytes of the file */
    bool elf64_x86_64;        /* ELFCLASS64, EM_X86_64, ET_EXEC */
    uint64_t entry;
    bool has_symtab;
    struct aut_elf_sym model_start, model_end, model_size; /* slm_model_start/_end/_size */
    bool has_model_section;   /* a section named ".slm_model" */
    uint64_t model_section_size, model_section_addr, model_section_align;
    uint64_t text, data, bss; /* summed sizes of SHF_ALLOC sections: executable; writable or
                                 read-only PROGBITS that are not executable; NOBITS */
};

/* Reads path. Returns 0, or -1 with err naming the file and what is wrong
 * ("kernel.elf: not an ELF file", "...: no symbol table"). A missing symbol
 * is not an error: its present flag is false. */
int aut_elf_inspect(const char *path, struct aut_elf_info *info, char *err, size_t errlen);

#endif
