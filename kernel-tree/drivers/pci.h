/*
 * pci.h - PCI devices, found once at boot through configuration
 * mechanism #1 (ports 0xcf8/0xcfc).
 */
#ifndef AUTON_DRIVERS_PCI_H
#define AUTON_DRIVERS_PCI_H

#include <stddef.h>
#include <stdint.h>

#define PCI_MAX_DEVICES 64

struct pci_device {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint8_t class_code, subclass, prog_if;
};

/* Scans bus 0 and every bus behind a PCI-to-PCI bridge. Returns the number
 * of functions found. */
unsigned pci_init(void);

unsigned pci_count(void);
const struct pci_device *pci_get(unsigned index);

/* The first function with these ids, or NULL. */
const struct pci_device *pci_find(uint16_t vendor, uint16_t device);

/* "00:03.0 8086:10d3 Ethernet controller", plus ": <name>" when
 * pci_name_lookup knows the device. */
void pci_describe(const struct pci_device *d, char *buf, size_t n);

/* lspci-style class name ("Host bridge", "Ethernet controller"); never NULL. */
const char *pci_class_name(uint8_t class_code, uint8_t subclass);

/* "Intel 82574L Gigabit Network Connection" into buf, from the knowledge
 * base (kernel/slm/kb.c); "Intel device 1234" for a known vendor's unknown
 * device. Returns the length, 0 (buf empty) when the vendor is unknown. */
size_t pci_name_lookup(uint16_t vendor, uint16_t device, char *buf, size_t n);

#endif
