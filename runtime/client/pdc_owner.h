/*  pdc_owner: what the actor layer (actors/pdc_actor.c) may use of the
    owner core.

    Actors sit above the client: an actor call or creation is a task of
    the graph whose hook is the actor layer's (pdc_graph.h), sent on a
    connection the I/O thread keeps (pdc_io.h), its placement a lease
    request in the request registry (pdc_requests.h, pdc_sched.h).  Beyond
    those headers, the actor layer reaches the client's state only through
    the functions below; it never sees struct pdc_client.  The other way,
    the client calls the actor layer only through pdc_actor_owner.h.
*/
#ifndef PDC_OWNER_H_INCLUDED
#define PDC_OWNER_H_INCLUDED

#include "pdc_config.h"
#include "pdc_graph.h"
#include "pdc_io.h"
#include "pdc_requests.h"
#include "pdc_sched.h"

#include <stdarg.h>

void pdc_owner_lock(pdc_client *c);
void pdc_owner_unlock(pdc_client *c);
/* Wake every thread waiting on the client (mutex held). */
void pdc_owner_broadcast(pdc_client *c);
/* Wake the I/O thread: something waits to be sent. */
void pdc_owner_wake(pdc_client *c);
/* Wait (mutex held) until pred or timeout_ms: PDC_OK, PDC_ETIMEOUT or
   PDC_ESHUTDOWN.  A task's thread keeps its CPU slot meanwhile. */
int pdc_owner_wait(pdc_client *c, int (*pred)(pdc_client *, void *), void *arg, int64_t timeout_ms);

const pdc_config_t *pdc_owner_config(pdc_client *c);
/* The head's endpoint ("" if the node has none). */
const char *pdc_owner_head_endpoint(pdc_client *c);
/* Why this node's raylet is gone, or NULL while it serves. */
const char *pdc_owner_raylet_lost(pdc_client *c);
/* The request registry and the I/O thread's encoder (mutex held). */
pdc_requests_t *pdc_owner_requests(pdc_client *c);
pdc_enc_t *pdc_owner_enc(pdc_client *c);
/* Where the actor layer keeps its list (mutex held). */
struct pdc_actor **pdc_owner_actors(pdc_client *c);
const char *pdc_owner_intern(pdc_client *c, const char *text);

/* Send enc to the head (I/O thread).  -1 if there is none. */
int pdc_owner_send_head(pdc_client *c, const pdc_enc_t *enc);
/* The library name for a worker on node (a code package elsewhere). */
const char *pdc_owner_library_for(pdc_client *c, const char *library, const char *node);

/* The local raylet sends lease request id to another node: ask there. */
void pdc_remote_on_redirect(pdc_client *c, uint64_t id, const char *node, const char *endpoint);

int pdc_owner_set_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pdc_owner_clear_error(void);

#endif
