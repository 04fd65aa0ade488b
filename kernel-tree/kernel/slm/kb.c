/*
 * kb.c - lookups over the generated knowledge-base tables (kb.h).
 */
#include "kernel/slm/kb.h"

#include "drivers/pci.h"
#include "lib/kfmt.h"

const struct kb_vendor *kb_vendor_find(uint16_t vendor)
{
    size_t lo = 0, hi = kb_nvendors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (kb_vendors[mid].id == vendor)
            return &kb_vendors[mid];
        if (kb_vendors[mid].id < vendor)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *kb_device_find(uint16_t vendor, uint16_t device)
{
    uint32_t key = (uint32_t)vendor << 16 | device;
    size_t lo = 0, hi = kb_ndevices;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (kb_devices[mid].key == key)
            return kb_device_names + kb_devices[mid].name;
        if (kb_devices[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t pci_name_lookup(uint16_t vendor, uint16_t device, char *buf, size_t n)
{
    const struct kb_vendor *v = kb_vendor_find(vendor);
    if (n)
        buf[0] = '\0';
    if (!v)
        return 0;
    const char *name = kb_device_find(vendor, device);
    int len = name ? kfmt_snprintf(buf, n, "%s %s", v->short_, name)
                   : kfmt_snprintf(buf, n, "%s device %04x", v->short_, device);
    return len < 0 ? 0 : ((size_t)len < n ? (size_t)len : n - 1);
}
