/*  pdc_code_cache: a raylet's cache of code packages (see pdc_code.h).

    A worker asked to load "pdc-code:HASH:PATH" sends CODE_GET (hash) to
    its raylet.  The package is a file SESSION/code/HASH.so; when it is
    not there yet the raylet asks the head for it (CODE_GET on its head
    socket, answered by CODE with the bytes), checks that the bytes hash
    to HASH, writes the file (to a temporary name, then renamed, so a
    reader never sees half a library) and answers every worker waiting
    for it with CODE_PATH.  A head that does not have the package yet
    (the owner's upload may still be on its way) is asked again every
    heartbeat until transfer_timeout_ms has passed; then the waiters get
    the head's ERROR. */
#ifndef PDC_CODE_CACHE_H_INCLUDED
#define PDC_CODE_CACHE_H_INCLUDED

#include "pdc_wire.h"

#include <stdint.h>

typedef struct pdc_code_cache pdc_code_cache_t;

/* The raylet's own fetch of hash is done: path is the package's file,
   or NULL with why. */
typedef void pdc_code_cache_ready_fn(const char *hash, const char *path, const char *why,
                                     void *arg);

/* router: where clients' requests came from (replies go there); dir: the
   cache directory (created); on_ready (may be NULL): for
   pdc_code_cache_fetch. */
pdc_code_cache_t *pdc_code_cache_new(void *router, const char *dir, int64_t timeout_ms,
                                     pdc_code_cache_ready_fn *on_ready, void *arg);
void pdc_code_cache_destroy(pdc_code_cache_t **self_p);

/* CODE_GET from a client on this node; head: the head's DEALER or NULL. */
void pdc_code_cache_get(pdc_code_cache_t *self, pdc_inbound_t *in, void *head, uint64_t now_ms);
/* Fetch hash for the raylet itself (a job's working directory): on_ready
   is called once it is in the cache (at once if it is) or has failed. */
void pdc_code_cache_fetch(pdc_code_cache_t *self, const char *hash, void *head, uint64_t now_ms);
/* A message from the head: 1 if it answered one of our fetches. */
int pdc_code_cache_on_head(pdc_code_cache_t *self, pdc_inbound_t *in, void *head, uint64_t now_ms);
/* Ask again, or give up on, fetches the head could not answer yet. */
void pdc_code_cache_check(pdc_code_cache_t *self, void *head, uint64_t now_ms);

#endif
