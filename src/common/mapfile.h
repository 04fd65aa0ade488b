/*
 * mapfile.h - read-only memory mapping of a whole file.
 *
 * How host programs hand a GGUF model to the engine: the parser and the
 * forward pass use the mapping in place, exactly as the kernel uses its
 * embedded section, so nothing is copied.
 */
#ifndef AUTON_COMMON_MAPFILE_H
#define AUTON_COMMON_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

struct aut_mapfile {
    const uint8_t *data; /* NULL for an empty file */
    size_t size;
};

/* Maps path. Returns 0, or -errno with a message "path: reason" in
 * errbuf. *m is written only on success. Release with aut_mapfile_close. */
int aut_mapfile_open(struct aut_mapfile *m, const char *path, char *errbuf, size_t errlen);
void aut_mapfile_close(struct aut_mapfile *m);

#endif
