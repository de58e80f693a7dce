/*  pdc_holders: the lease holders a raylet knows that are not its own
    workers, and when each of them is gone.

    Only a registered peer may hold leases, because only a registered
    peer's death is noticed and its workers stopped.  A worker of this
    node registers with the pool (pdc_pool); everything else that sends
    REGISTER is kept here: a driver on this node, known by its pid, or a
    driver or worker on another node, known by its node (REGISTER kind 2)
    and kept alive by its KEEPALIVEs.  A holder is gone when

      - its pid no longer exists (a holder on this node);
      - it has sent no KEEPALIVE for the silence allowed (another node);
      - the cluster view says its node is dead;
      - it said BYE.

    pdc_holders_expire finds the first three and hands each one gone to a
    callback (the raylet stops the workers it leased and drops its queued
    requests) before forgetting it.  A driver on this node also says
    whose objects are its own (the id of its REGISTER, whose first 8
    bytes begin every object id it draws, pdc_id.h): when its pid is gone
    the callback gets that id, and the raylet frees its objects on every
    node. */
#ifndef PDC_HOLDERS_H_INCLUDED
#define PDC_HOLDERS_H_INCLUDED

#include "pdc_id.h"
#include "pdc_rid.h"
#include "pdc_view.h"

#include <stdint.h>

typedef struct pdc_holders pdc_holders_t;

/* Called for a holder that is gone, before it is forgotten.  owner: the
   id of a driver of this node whose process is gone, else NULL; why: a
   sentence for the log. */
typedef void pdc_holders_gone_fn(const pdc_rid_t *rid, const uint8_t *owner, const char *why,
                                 void *arg);

pdc_holders_t *pdc_holders_new(void);
void pdc_holders_destroy(pdc_holders_t **self_p);

/* A REGISTER from rid: pid for a holder on this node; node (not "") for
   one on another node, alive as of now_ms; owner: a driver's own id
   (PDC_ID_LEN bytes) or NULL.  0, or -1 (out of memory, or a routing id
   too long). */
int pdc_holders_add(pdc_holders_t *self, const void *rid, size_t len, int pid, const char *node,
                    const uint8_t *owner, uint64_t now_ms);
/* Whether rid registered here, and for a holder on another node its node
   id (else ""); NULL if it did not register. */
const char *pdc_holders_find(pdc_holders_t *self, const void *rid, size_t len);
/* A KEEPALIVE from rid. */
void pdc_holders_keepalive(pdc_holders_t *self, const void *rid, size_t len, uint64_t now_ms);
/* Forget rid (BYE); whether it was known. */
int pdc_holders_remove(pdc_holders_t *self, const void *rid, size_t len);

/* Hand every holder that is gone (see above) to gone, and forget it.
   view may be NULL (then node deaths are not looked at); silence_ms: how
   long a holder on another node may go without a KEEPALIVE; check_pids:
   whether to look at the pids of holders on this node. */
void pdc_holders_expire(pdc_holders_t *self, uint64_t now_ms, uint64_t silence_ms, pdc_view_t *view,
                        int check_pids, pdc_holders_gone_fn *gone, void *arg);

#endif
