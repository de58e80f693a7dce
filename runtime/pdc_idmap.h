/*  pdc_idmap: a hash map from 16-byte ids to pointers.

    Open addressing with linear probing and backward-shift deletion (no
    tombstones), grown at 50% load.  The owner's object table is one of
    these; it is not thread-safe (the client's mutex guards it). */
#ifndef PDC_IDMAP_H_INCLUDED
#define PDC_IDMAP_H_INCLUDED

#include "pdc_id.h"
#include <stddef.h>

typedef struct {
    struct pdc_idmap_slot *slots;
    size_t capacity; /* a power of two */
    size_t count;
} pdc_idmap_t;

void pdc_idmap_init(pdc_idmap_t *map);
void pdc_idmap_free(pdc_idmap_t *map);
void *pdc_idmap_get(const pdc_idmap_t *map, const uint8_t id[PDC_ID_LEN]);
/* Insert or replace.  0, or -1 when out of memory. */
int pdc_idmap_put(pdc_idmap_t *map, const uint8_t id[PDC_ID_LEN], void *value);
/* Remove; returns the value that was there, or NULL. */
void *pdc_idmap_del(pdc_idmap_t *map, const uint8_t id[PDC_ID_LEN]);
/* Visit every entry (the map must not change during the walk). */
void pdc_idmap_each(const pdc_idmap_t *map, void (*fn)(void *value, void *arg), void *arg);

#endif
