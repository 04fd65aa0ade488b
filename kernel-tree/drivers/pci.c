/*
 * pci.c - PCI enumeration and the device table.
 *
 * Depth-first from bus 0, following PCI-to-PCI bridges, instead of probing
 * all 256 buses: each probe is two port accesses, which are slow VM exits.
 */
#include "drivers/pci.h"

#include <stdbool.h>

#include "arch/x86_64/cpu.h"
#include "lib/kfmt.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define CONFIG_ENABLE 0x80000000u
#define REG_ID 0x00
#define REG_CLASS 0x08
#define REG_HEADER 0x0c
#define REG_BUSES 0x18
#define HEADER_MULTIFUNCTION 0x80
#define CLASS_BRIDGE 0x06
#define SUBCLASS_PCI_BRIDGE 0x04
#define MAX_BRIDGE_DEPTH 8

static struct pci_device devices[PCI_MAX_DEVICES];
static unsigned ndevices;

static uint32_t config_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t offset)
{
    outl(CONFIG_ADDRESS, CONFIG_ENABLE | (uint32_t)bus << 16 | (uint32_t)(dev & 31) << 11 |
                             (uint32_t)(fn & 7) << 8 | (offset & 0xfc));
    return inl(CONFIG_DATA);
}

static void scan_bus(uint8_t bus, unsigned depth);

/* Records one function; descends if it is a PCI-to-PCI bridge. */
static void add_function(uint8_t bus, uint8_t dev, uint8_t fn, uint32_t id, unsigned depth)
{
    uint32_t cls = config_read32(bus, dev, fn, REG_CLASS);
    struct pci_device d = {
        .bus = bus,
        .dev = dev,
        .fn = fn,
        .vendor = id & 0xffff,
        .device = id >> 16,
        .class_code = cls >> 24,
        .subclass = (cls >> 16) & 0xff,
        .prog_if = (cls >> 8) & 0xff,
    };
    if (ndevices < PCI_MAX_DEVICES)
        devices[ndevices++] = d;
    if (d.class_code == CLASS_BRIDGE && d.subclass == SUBCLASS_PCI_BRIDGE &&
        depth < MAX_BRIDGE_DEPTH) {
        uint8_t secondary = (config_read32(bus, dev, fn, REG_BUSES) >> 8) & 0xff;
        if (secondary > bus)
            scan_bus(secondary, depth + 1);
    }
}

static void scan_bus(uint8_t bus, unsigned depth)
{
    for (uint8_t dev = 0; dev < 32; dev++) {
        uint32_t id = config_read32(bus, dev, 0, REG_ID);
        if ((id & 0xffff) == 0xffff)
            continue;
        bool multi = (config_read32(bus, dev, 0, REG_HEADER) >> 16) & HEADER_MULTIFUNCTION;
        add_function(bus, dev, 0, id, depth);
        for (uint8_t fn = 1; multi && fn < 8; fn++) {
            id = config_read32(bus, dev, fn, REG_ID);
            if ((id & 0xffff) != 0xffff)
                add_function(bus, dev, fn, id, depth);
        }
    }
}

unsigned pci_init(void)
{
    scan_bus(0, 0);
    return ndevices;
}

unsigned pci_count(void)
{
    return ndevices;
}

const struct pci_device *pci_get(unsigned index)
{
    return index < ndevices ? &devices[index] : NULL;
}

const struct pci_device *pci_find(uint16_t vendor, uint16_t device)
{
    for (unsigned i = 0; i < ndevices; i++)
        if (devices[i].vendor == vendor && devices[i].device == device)
            return &devices[i];
    return NULL;
}

void pci_describe(const struct pci_device *d, char *buf, size_t n)
{
    char name[96];
    bool known = pci_name_lookup(d->vendor, d->device, name, sizeof name) > 0;
    kfmt_snprintf(buf, n, "%02x:%02x.%u %04x:%04x %s%s%s", d->bus, d->dev, d->fn, d->vendor,
                  d->device, pci_class_name(d->class_code, d->subclass), known ? ": " : "",
                  known ? name : "");
}

