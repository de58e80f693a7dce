/*  pdc_requests: every request a client has outstanding, by id.

    A client asks its raylet, other raylets and the head for things whose
    answers come back later, on the I/O thread, carrying the request id
    of the ask: lease requests of a task shape or of an actor, object
    pulls, code packages, named-actor claims.  Each asker registers once,
    with its kind's operations and a context, and gets an id; answers are
    dispatched by id to those operations, so the code that reads a reply
    never has to guess whose it is.

    An entry lives until its owner drops it: a task shape keeps one id
    for all its lease requests (several may be out at once), an actor one
    for its placement, a pull one until answered.  Ids are never reused
    within a client.  The client's mutex guards the registry.
*/
#ifndef PDC_REQUESTS_H_INCLUDED
#define PDC_REQUESTS_H_INCLUDED

#include "pdc.h"
#include "pdc_idmap.h"
#include "pdc_proto.h"

#include <stdint.h>

typedef struct {
    const char *what; /* "a task lease", "a pull"... for messages */
    /* An answer (LEASE_GRANT, LEASE_REDIRECT, OBJECT_READY, CODE_PATH,
       ACTOR_INFO or ERROR) arrived on sock. */
    void (*answer)(pdc_client *c, void *ctx, uint64_t id, const pdc_msg_t *msg, void *sock);
    /* A lease request to ask again: of raylet (a raw socket; NULL: the
       local raylet), with flags added.  NULL for kinds that are not lease
       requests. */
    void (*reask)(pdc_client *c, void *ctx, uint64_t id, void *raylet, unsigned flags);
} pdc_request_ops_t;

typedef struct {
    pdc_idmap_t map;
    uint64_t next;
} pdc_requests_t;

void pdc_requests_init(pdc_requests_t *self);
void pdc_requests_free(pdc_requests_t *self);

/* Register an asker; its id (never 0), or 0 when out of memory. */
uint64_t pdc_requests_add(pdc_requests_t *self, const pdc_request_ops_t *ops, void *ctx);
void pdc_requests_drop(pdc_requests_t *self, uint64_t id);

/* Hand an answer to its asker: 1, or 0 if nobody has that id. */
int pdc_requests_answer(pdc_client *c, pdc_requests_t *self, const pdc_msg_t *msg, void *sock);
/* Ask a lease request again (see reask): 1, or 0 if none has that id. */
int pdc_requests_reask(pdc_client *c, pdc_requests_t *self, uint64_t id, void *raylet,
                       unsigned flags);

#endif
