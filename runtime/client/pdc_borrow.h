/*  pdc_borrow: references owned by another process.

    Every process that lends a reference (puts one inside a list, or
    returns a list from a task) runs an object service: a ROUTER of its
    client's I/O thread, on ipc (for its own host) and on tcp when its
    node has an address for other hosts; its endpoints travel in the
    lists it encodes (pdc_refs.h).  A process that takes a reference out
    of a list another process owns holds it as a borrowed entry of its
    own table (obj_t.lender set), and talks to the owner's service over a
    DEALER, one per owner (a lender):

      - BORROW_ADD when it starts to hold an object: the owner counts it
        (obj_t.borrowers, each also a reference of the entry) and answers
        BORROW_ACK; a reader hands a list out only once every borrow it
        made for it is answered, so no release can overtake a borrow.
        An object a task returns inside a list is counted by its worker
        for the caller before the result goes: no BORROW_ADD for those
        (pdc_borrow_lent).
      - BORROW_DROP when the entry goes (its last reference, or the last
        object holding it, let go): the owner's count goes down, and the
        object is freed once nothing holds it.
      - OBJECT_WAIT when a get (or a task argument) needs the value: the
        owner answers OBJECT_INFO with it (inline, the node that stores
        it, a list, or an error), or says it is still pending, and it is
        asked again, S_INFO_FIRST_MS later and then twice as long each
        time up to S_INFO_MAX_MS.

    The owner's death: its service's connection drops (ipc at once, tcp
    by the heartbeat of pdc_peer), or never comes up within twice
    node_timeout_ms; every entry borrowed from it then fails with
    PDC_EOWNERDIED, naming the owner and its node (and its objects go from
    every store with its process, see pdc_transfer.h).  A borrower that
    dies without dropping leaves its counts with the owner, which keeps
    those objects until it exits.

    All functions run with the client's mutex held. */
#ifndef PDC_BORROW_H_INCLUDED
#define PDC_BORROW_H_INCLUDED

#include "pdc_objects.h"
#include "pdc_refs.h"

typedef struct lender lender_t;

/* Start this process's object service if it is not serving: asks the
   I/O thread and waits (the mutex is let go meanwhile).  PDC_OK, or a
   code with why. */
int pdc_borrow_service(pdc_client *c, char *why, size_t len);

/* A new borrowed entry (one reference) for id, owned by owner; its
   BORROW_ADD is queued.  An id whose owner is this very process that is
   not in its table was freed: the entry is failed.  NULL when out of
   memory (why). */
obj_t *pdc_borrow_new(pdc_client *c, const uint8_t *id, const pdc_refs_owner_t *owner, char *why,
                      size_t len);
/* The same for an object its owner counted for this process already (a
   list a task returned): no BORROW_ADD. */
obj_t *pdc_borrow_lent(pdc_client *c, const uint8_t *id, const pdc_refs_owner_t *owner, char *why,
                       size_t len);
/* Such a count for an object this process holds already: given back
   (BORROW_DROP). */
void pdc_borrow_give_back(pdc_client *c, const uint8_t *id, const pdc_refs_owner_t *owner);
/* Whether o's owner knows of this borrow (or o failed): see above. */
int pdc_borrow_settled(const obj_t *o);
/* Borrowed o needs its value: ask its owner unless asked already. */
void pdc_borrow_want_info(pdc_client *c, obj_t *o);
/* Borrowed o is being freed: tell its owner. */
void pdc_borrow_drop(pdc_client *c, obj_t *o);
/* The owner's endpoints of borrowed o (for encoding it in a list). */
const char *pdc_borrow_lender_ipc(const obj_t *o);
const char *pdc_borrow_lender_tcp(const obj_t *o);

/* A task returns a list of this process's objects to its caller: count
   the caller as a borrower of each (it drops them).  PDC_OK, or
   PDC_EINVAL with why for a reference that is not this process's own. */
int pdc_borrow_lend(pdc_client *c, const void *data, size_t len, char *why, size_t why_len);
/* The list was not sent after all (the task failed, or returned another
   value): take the counts back. */
void pdc_borrow_unlend(pdc_client *c, const void *data, size_t len);

/* I/O thread: start the service when asked, send what waits to go;
   returns when (ms, pdc_now_ms) it needs to run again, or 0. */
uint64_t pdc_borrow_pump(pdc_client *c);
/* At close: stop the service and the lenders' connections. */
void pdc_borrow_close(pdc_client *c);

#endif
