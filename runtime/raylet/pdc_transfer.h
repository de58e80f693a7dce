/*  pdc_transfer: a raylet's object transfers to and from other nodes.

    An owner knows which node holds each of its stored objects.  When a
    task runs on another node, or a driver reads a result made elsewhere,
    the client there asks its own raylet for the object (OBJECT_PULL: id,
    holder node).  The raylet pulls it from the holder's raylet in chunks
    (OBJECT_FETCH: id, offset, length -> OBJECT_CHUNK with the bytes as a
    raw frame) over one DEALER per peer node, and answers OBJECT_READY
    when the whole object is in the local store, or ERROR saying why not.

    - The first chunk tells the size and type: the object is then created
      unsealed in the local store (pdc_store_create_unsealed, which
      refuses an object larger than the free space with PDC_ESTOREFULL
      and a message saying how full the store is), so no LMDB write lock
      is held while bytes arrive; each chunk is copied in place, and the
      object is sealed, visible to readers, when the last one lands.
    - Flow control: at most transfer_window chunks of transfer_chunk_size
      bytes of one transfer are asked for at once; a new chunk is asked
      for as each one arrives.  Any number of transfers run at once, and
      several clients asking for the same object share one transfer.
    - The serving side reads the object under a store pin and hands the
      bytes to ZeroMQ without copying; the pin goes when ZeroMQ has sent
      them.
    - A transfer that makes no progress for transfer_timeout_ms, or whose
      holder is declared dead, fails; the partial object is removed.

    OBJECT_FREE deletes objects from this store and, when it comes from
    an owner, from every other live node (copies made by pulls).
*/
#ifndef PDC_TRANSFER_H_INCLUDED
#define PDC_TRANSFER_H_INCLUDED

#include "pdc_config.h"
#include "pdc_loop.h"
#include "pdc_store.h"
#include "pdc_view.h"
#include "pdc_wire.h"

typedef struct pdc_transfers pdc_transfers_t;

typedef struct {
    uint64_t active, done, failed;
    uint64_t bytes_in, bytes_out;
} pdc_transfer_stats_t;

/* router: the raylet's ROUTER (replies to clients and serving peers go
   out on it); self_node: this node's id. */
pdc_transfers_t *pdc_transfers_new(uv_loop_t *loop, pdc_store_t *store, const pdc_config_t *cfg,
                                   void *router, const char *self_node);
void pdc_transfers_destroy(pdc_transfers_t **self_p);

/* Messages on the raylet's ROUTER. */
void pdc_transfers_pull(pdc_transfers_t *self, pdc_inbound_t *in, pdc_view_t *view);
void pdc_transfers_serve(pdc_transfers_t *self, pdc_inbound_t *in);
void pdc_transfers_free(pdc_transfers_t *self, pdc_inbound_t *in, pdc_view_t *view);

/* Fail stalled transfers and those from dead nodes. */
void pdc_transfers_check(pdc_transfers_t *self, pdc_view_t *view, uint64_t now_ms);
/* End every transfer of an object whose id starts with prefix (its
   waiters get PDC_EOBJECTLOST and why), before the objects are deleted:
   no bytes of theirs may land in freed pages. */
void pdc_transfers_end_prefix(pdc_transfers_t *self, const uint8_t *prefix, size_t len,
                              const char *why);
/* The process of owner (a driver's REGISTER id, or a pooled worker's
   prefix, pdc_id_worker_prefix) died: delete every object it owned (ids
   that begin with its first PDC_ID_PREFIX_LEN bytes) from this store,
   and, with view, tell every other live node to do the same
   (OBJECT_FREE_PREFIX; they call this with view NULL).  Transfers of
   them end, and later requests for them are answered, with
   PDC_EOWNERDIED (the last 256 dead owners are remembered). */
void pdc_transfers_free_owner(pdc_transfers_t *self, const uint8_t *owner, pdc_view_t *view);
void pdc_transfers_stats(pdc_transfers_t *self, pdc_transfer_stats_t *out);

#endif
