/*
 * kb.h - the knowledge base (the kb/ tables and kb/pci.ids) as C tables, generated
 * at build time by scripts/gen-kb.py into build/gen/kb_data.c. Everything is
 * const and used in place; lookups are binary searches over sorted arrays.
 *
 * Text in the tables is what answers print. Questions (kb_commands,
 * kb_live, kb_questions) are stored normalized the way kernel/slm/rules.c
 * normalizes a query: ASCII lower case, words of [a-z0-9._+-] separated by
 * one space, no leading or trailing separator.
 */
#ifndef AUTON_KERNEL_SLM_KB_H
#define AUTON_KERNEL_SLM_KB_H

#include <stddef.h>
#include <stdint.h>

/* PCI vendors (sorted by id). */
struct kb_vendor {
    uint16_t id;
    const char *name;    /* pci.ids name: "Intel Corporation" */
    const char *short_;  /* for answers: "Intel" */
    const char *article; /* "a" or "an", before short_ */
};

/* PCI devices (sorted by key = vendor << 16 | device). */
struct kb_device {
    uint32_t key;
    uint32_t name; /* offset into kb_device_names */
};

enum kb_column { KB_INSTALL, KB_REMOVE, KB_UPDATE, KB_UPGRADE, KB_SEARCH, KB_NCOLUMNS };

struct kb_distro {
    const char *name;    /* "Debian" */
    const char *norm;    /* "debian" */
    const char *manager; /* "apt" */
    const char *cmd[KB_NCOLUMNS]; /* templates with {pkg}; NULL: no such step */
};

#define KB_MAX_DISTROS 16

struct kb_package {
    const char *norm;                    /* the name in questions, normalized */
    const char *name[KB_MAX_DISTROS];    /* per distro, in kb_distros order */
};

/* A package-question shape, normalized words; "{name}" and "{distro}" are
 * the slots. */
struct kb_question {
    const char *shape;
    uint8_t column; /* enum kb_column */
};

struct kb_command {
    const char *question; /* normalized */
    const char *answer;
};

enum kb_live_handler { KB_LIVE_PCI_LIST, KB_LIVE_MEMORY, KB_LIVE_UPTIME, KB_LIVE_CPU,
                       KB_LIVE_VERSION };

struct kb_live {
    const char *phrase; /* normalized */
    uint8_t handler;    /* enum kb_live_handler */
};

extern const struct kb_vendor kb_vendors[];
extern const size_t kb_nvendors;
extern const struct kb_device kb_devices[];
extern const size_t kb_ndevices;
extern const char kb_device_names[];
extern const struct kb_distro kb_distros[];
extern const size_t kb_ndistros;
extern const struct kb_package kb_packages[];
extern const size_t kb_npackages;
extern const struct kb_question kb_questions[];
extern const size_t kb_nquestions;
extern const struct kb_command kb_commands[];
extern const size_t kb_ncommands;
extern const struct kb_live kb_live[];
extern const size_t kb_nlive;

const struct kb_vendor *kb_vendor_find(uint16_t vendor);
/* The device's name, or NULL. */
const char *kb_device_find(uint16_t vendor, uint16_t device);

#endif
