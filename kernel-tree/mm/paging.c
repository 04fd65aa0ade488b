/*
 * paging.c - building and changing the identity map.
 *
 * Four-level tables whose leaves are 2 MiB page-directory entries. Upper
 * levels allow everything (present, writable, user); the leaf decides.
 * Page-table pages come from the page allocator and are never freed.
 */
#include "mm/paging.h"

#include "arch/x86_64/cpu.h"
#include "kernel/panic.h"
#include "mm/memlayout.h"
#include "mm/pmm.h"

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull
#define GIB (1ull << 30)
#define CPUID_EXT_NX (1u << 20)
#define CPUID7_EBX_SMEP (1u << 7)
#define CR4_SMEP (1ull << 20)

static uint64_t *pml4;
static uint64_t nx_bit; /* PTE_NX once EFER.NXE is on, 0 on CPUs without NX */

static uint64_t *alloc_table(void)
{
    uint64_t *t = pmm_alloc();
    if (!t)
        panic("paging: out of memory for page tables");
    uint64_t *p = t, n = PAGE_SIZE / 8;
    __asm__ volatile("rep stosq" : "+D"(p), "+c"(n) : "a"(0ull) : "memory");
    return t;
}

static uint64_t *next_level(uint64_t *table, unsigned index, bool create)
{
    if (!(table[index] & PTE_P)) {
        if (!create)
            return NULL;
        table[index] = (uint64_t)alloc_table() | PTE_P | PTE_W | PTE_U;
    }
    return (uint64_t *)(table[index] & PTE_ADDR);
}

/* The page directory covering the 1 GiB around va. */
static uint64_t *page_directory(uint64_t va, bool create)
{
    uint64_t *pdpt = next_level(pml4, (va >> 39) & 511, create);
    return pdpt ? next_level(pdpt, (va >> 30) & 511, create) : NULL;
}

static uint64_t leaf_bits(unsigned flags)
{
    uint64_t e = PTE_P | PTE_PS;
    if (flags & MAP_WRITE)
        e |= PTE_W;
    if (flags & MAP_USER)
        e |= PTE_U;
    if (!(flags & MAP_EXEC))
        e |= nx_bit;
    if (flags & MAP_UNCACHED)
        e |= PTE_PCD | PTE_PWT;
    return e;
}

static void map_range(uint64_t addr, uint64_t size, unsigned flags)
{
    uint64_t end = ALIGN_UP(addr + size, HUGE_PAGE_SIZE);
    uint64_t bits = leaf_bits(flags);
    uint64_t *pd = NULL;
    for (uint64_t va = ALIGN_DOWN(addr, HUGE_PAGE_SIZE); va < end; va += HUGE_PAGE_SIZE) {
        if (!pd || va % GIB == 0)
            pd = page_directory(va, true);
        pd[(va >> 21) & 511] = va | bits;
    }
}

static void enable_nx(void)
{
    if (cpuid(0x80000000, 0).eax < 0x80000001 || !(cpuid(0x80000001, 0).edx & CPUID_EXT_NX))
        return;
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    nx_bit = PTE_NX;
}

/* Ring 0 must never run user-image code: that code may use SIMD, which
 * ring 0 must not touch. With SMEP, trying faults instead. */
static void enable_smep(void)
{
    if (cpuid(0, 0).eax >= 7 && (cpuid(7, 0).ebx & CPUID7_EBX_SMEP))
        write_cr4(read_cr4() | CR4_SMEP);
}

void paging_init(const struct bootinfo *bi)
{
    enable_nx();
    enable_smep();
    pml4 = alloc_table();
    for (unsigned i = 0; i < bi->nmem; i++) {
        const struct boot_mem_region *r = &bi->mem[i];
        uint64_t start = r->base < HUGE_PAGE_SIZE ? HUGE_PAGE_SIZE : r->base;
        uint64_t end = r->base + r->size;
        if (r->type == BOOT_MEM_RAM && end > start)
            map_range(start, end - start, MAP_WRITE);
    }
    uint64_t kernel = (uint64_t)__kernel_start;
    map_range(kernel, (uint64_t)__kernel_end - kernel, MAP_WRITE | MAP_EXEC);
    uint64_t utext = (uint64_t)__user_text_start, udata = (uint64_t)__user_data_start;
    uint64_t model = (uint64_t)__model_region_start;
    map_range(utext, (uint64_t)__user_text_end - utext, MAP_USER | MAP_EXEC);
    map_range(udata, (uint64_t)__user_data_end - udata, MAP_USER | MAP_WRITE);
    map_range(model, (uint64_t)__model_region_end - model, MAP_USER);
    write_cr3((uint64_t)pml4);
}

void paging_map(uint64_t addr, uint64_t size, unsigned flags)
{
    uint64_t irq = irq_save();
    map_range(addr, size, flags);
    write_cr3((uint64_t)pml4); /* flush the TLB: attributes may have changed */
    irq_restore(irq);
}

bool paging_user_ok(uint64_t addr, uint64_t size, bool write)
{
    uint64_t end;
    if (__builtin_add_overflow(addr, size, &end))
        return false;
    uint64_t need = PTE_P | PTE_U | (write ? PTE_W : 0);
    for (uint64_t va = ALIGN_DOWN(addr, HUGE_PAGE_SIZE); va < end; va += HUGE_PAGE_SIZE) {
        if (va >> 47)
            return false; /* beyond the lower canonical half */
        uint64_t *pd = page_directory(va, false);
        if (!pd || (pd[(va >> 21) & 511] & need) != need)
            return false;
    }
    return true;
}
