/*
 * pvh.c - the Xen PVH boot protocol's start info, as QEMU's -kernel
 * loader fills it (version 1: with an e820-style memory map).
 */
#include "arch/x86_64/pvh.h"

#include "kernel/panic.h"

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr; /* version >= 1 */
    uint32_t memmap_entries;
    uint32_t reserved;
};

struct hvm_memmap_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};

static struct bootinfo bootinfo;

static void copy_cmdline(const char *src)
{
    unsigned i = 0;
    while (src && src[i] && i < BOOT_CMDLINE_MAX - 1) {
        bootinfo.cmdline[i] = src[i];
        i++;
    }
    bootinfo.cmdline[i] = '\0';
}

const struct bootinfo *pvh_parse(uint64_t start_info)
{
    const struct hvm_start_info *si = (const void *)start_info;
    if (!si || si->magic != HVM_START_MAGIC)
        panic("pvh_parse: no PVH start info at 0x%lx", start_info);
    if (si->version < 1 || si->memmap_entries == 0)
        panic("pvh_parse: start info v%u has no memory map", si->version);

    copy_cmdline((const char *)si->cmdline_paddr);
    const struct hvm_memmap_entry *e = (const void *)si->memmap_paddr;
    for (uint32_t i = 0; i < si->memmap_entries && bootinfo.nmem < BOOT_MEM_MAX; i++) {
        struct boot_mem_region *r = &bootinfo.mem[bootinfo.nmem++];
        r->base = e[i].addr;
        r->size = e[i].size;
        r->type = e[i].type;
    }
    bootinfo.rsdp = si->rsdp_paddr;
    return &bootinfo;
}
