/*
 * pci_class.c - PCI class codes to the names lspci prints (from pci.ids).
 */
#include "drivers/pci.h"

#define ANY_SUBCLASS 0xffff

struct class_name {
    uint8_t class_code;
    uint16_t subclass; /* ANY_SUBCLASS: the class's generic name */
    const char *name;
};

/* Specific subclasses first; each class ends with its generic name. */
static const struct class_name names[] = {
    {0x00, 0x01, "VGA compatible unclassified device"},
    {0x00, ANY_SUBCLASS, "Non-VGA unclassified device"},
    {0x01, 0x00, "SCSI storage controller"},
    {0x01, 0x01, "IDE interface"},
    {0x01, 0x05, "ATA controller"},
    {0x01, 0x06, "SATA controller"},
    {0x01, 0x08, "Non-Volatile memory controller"},
    {0x01, ANY_SUBCLASS, "Mass storage controller"},
    {0x02, 0x00, "Ethernet controller"},
    {0x02, ANY_SUBCLASS, "Network controller"},
    {0x03, 0x00, "VGA compatible controller"},
    {0x03, 0x02, "3D controller"},
    {0x03, ANY_SUBCLASS, "Display controller"},
    {0x04, 0x01, "Multimedia audio controller"},
    {0x04, 0x03, "Audio device"},
    {0x04, ANY_SUBCLASS, "Multimedia controller"},
    {0x05, 0x00, "RAM memory"},
    {0x05, ANY_SUBCLASS, "Memory controller"},
    {0x06, 0x00, "Host bridge"},
    {0x06, 0x01, "ISA bridge"},
    {0x06, 0x04, "PCI bridge"},
    {0x06, ANY_SUBCLASS, "Bridge"},
    {0x07, 0x00, "Serial controller"},
    {0x07, ANY_SUBCLASS, "Communication controller"},
    {0x08, ANY_SUBCLASS, "System peripheral"},
    {0x0c, 0x03, "USB controller"},
    {0x0c, 0x05, "SMBus"},
    {0x0c, ANY_SUBCLASS, "Serial bus controller"},
    {0x0d, ANY_SUBCLASS, "Wireless controller"},
};

const char *pci_class_name(uint8_t class_code, uint8_t subclass)
{
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].class_code == class_code &&
            (names[i].subclass == subclass || names[i].subclass == ANY_SUBCLASS))
            return names[i].name;
    return "Unclassified device";
}
