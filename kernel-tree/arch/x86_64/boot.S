/*
 * boot.S - PVH entry: from 32-bit protected mode to kmain in long mode.
 *
 * QEMU (-kernel) finds the Xen PVH note below and jumps to pvh_start in
 * 32-bit protected mode, paging off, with %ebx = physical address of the
 * hvm_start_info (memory map, command line). We switch to long mode on
 * static boot page tables (first 1 GiB identity mapped with 2 MiB pages,
 * built by the assembler so no loop runs) and call kmain(start_info).
 */
#include "arch/x86_64/gdt.h"

#define CR0_PE      (1 << 0)
#define CR0_WP      (1 << 16)
#define CR0_PG      (1 << 31)
#define CR4_PAE     (1 << 5)
#define MSR_EFER    0xc0000080
#define EFER_LME    (1 << 8)
#define PTE_P       0x1
#define PTE_W       0x2
#define PTE_PS      0x80
#define BOOT_STACK_SIZE 16384

/* XEN_ELFNOTE_PHYS32_ENTRY: the descriptor is the 8-byte entry address. */
    .section .note.Xen, "a"
    .p2align 2
    .long 4                 /* name size ("Xen\0") */
    .long 8                 /* descriptor size */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .p2align 2
    .quad pvh_start

    .section .boot.text, "ax"
    .code32
    .globl pvh_start
pvh_start:
    cli
    cld
    movl %ebx, %esi                 /* hvm_start_info, kept for kmain */
    rdtsc                           /* time zero of the boot clock */
    movl %eax, boot_tsc
    movl %edx, boot_tsc + 4

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    orl $(CR0_PG | CR0_WP | CR0_PE), %eax
    movl %eax, %cr0

    lgdt boot_gdt_desc
    ljmp $GDT_KERNEL_CODE, $long_mode_entry

    .code64
long_mode_entry:
    movw $GDT_KERNEL_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    movl %esi, %edi                 /* zero-extends: kmain(start_info) */
    call kmain
1:  hlt
    jmp 1b

    .section .data
    .p2align 12
boot_pml4:
    .quad boot_pdpt + (PTE_P | PTE_W)
    .fill 511, 8, 0
boot_pdpt:
    .quad boot_pd + (PTE_P | PTE_W)
    .fill 511, 8, 0
boot_pd:
    .set addr, 0
    .rept 512
    .quad addr + (PTE_P | PTE_W | PTE_PS)
    .set addr, addr + 0x200000
    .endr

    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00209a0000000000        /* GDT_KERNEL_CODE: 64-bit, DPL 0 */
    .quad 0x00cf92000000ffff        /* GDT_KERNEL_DATA: flat, DPL 0 */
boot_gdt_end:
boot_gdt_desc:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt

    .globl boot_tsc
boot_tsc:
    .quad 0

    .section .bss
    .p2align 4
    .globl boot_stack_top
boot_stack:
    .skip BOOT_STACK_SIZE
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
