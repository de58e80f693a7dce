/*  pdc_spill: what the store calls of its spilling (pdc_spill.c), and
    what spilling calls of the store beyond pdc_store.h.  Internal to the
    objectstore library: the behaviour is described in pdc_store.h
    ("Spilling"), the files and their races in pdc_spill.c. */
#ifndef PDC_SPILL_H_INCLUDED
#define PDC_SPILL_H_INCLUDED

#include "pdc_store.h"

/* Make room for need more bytes (as pdc_store_value_bytes counts them):
   evict copies, then spill primary copies, least recently used first,
   none that a process holds pinned.  PDC_OK once the store has need bytes
   free; PDC_ESTOREFULL, with err saying how full the store and the spill
   directory are and what holds the space, when it cannot. */
int pdc_spill_make_room(pdc_store_t *store, size_t need, char *err, size_t errlen);
/* An object was deleted while absent from memory: remove its file.
   1 if it was spilled, else 0. */
int pdc_spill_forget(const char *dir, const uint8_t *id);
/* The same for every object whose id starts with the len bytes of
   prefix: how many files went. */
long pdc_spill_forget_prefix(const char *dir, const uint8_t *prefix, size_t len);
/* Remove the spill directory and everything in it.  0 or -1. */
int pdc_spill_remove_dir(const char *dir);

/* Delete id from memory only (pdc_store_delete also removes a spilled
   object's file): PDC_OK, PDC_ENOTFOUND, or PDC_EINVAL as for
   pdc_store_delete. */
int pdc_store_delete_resident(pdc_store_t *self, const uint8_t *id);

#endif
