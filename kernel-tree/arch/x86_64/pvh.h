/*
 * pvh.h - reading the PVH boot protocol's hvm_start_info.
 */
#ifndef AUTON_ARCH_PVH_H
#define AUTON_ARCH_PVH_H

#include <stdint.h>

#include "kernel/bootinfo.h"

/* Copies the command line, memory map and RSDP address out of the
 * hvm_start_info at start_info (physical = virtual at this point). Panics
 * if it is not a PVH start info or has no memory map. */
const struct bootinfo *pvh_parse(uint64_t start_info);

#endif
