/*  pdc_actor_owner: the actor layer as the owner core sees it.

    The client calls the actor layer through these functions only (and
    through the task hooks of actor calls, pdc_graph.h): to hold and
    encode actor handles passed as task arguments, to let actors send
    what they have waiting, to report a dead worker, and at close.  All
    run with the client's mutex held; pump and the close functions on the
    I/O thread or after it ended, as said.
*/
#ifndef PDC_ACTOR_OWNER_H_INCLUDED
#define PDC_ACTOR_OWNER_H_INCLUDED

#include "pdc_objects.h"

#include <stddef.h>
#include <stdint.h>

struct pdc_actor;

/* h as an argument of a task of c: takes a reference on h; *wait_on is
   the object the task must wait for before the handle may go (the
   actor's creation), or NULL.  PDC_OK, or a code with why (not a handle
   of this client, the actor is dead). */
int pdc_actor_arg_hold(pdc_client *c, struct pdc_actor *h, obj_t **wait_on, char *why, size_t len);
void pdc_actor_arg_release(pdc_client *c, struct pdc_actor *h);
/* The handle's wire form "ID@ENDPOINT", for a task argument. */
const char *pdc_actor_to_wire(struct pdc_actor *a, char *buf, size_t len);

/* Send what actors have waiting: name claims, lease requests, creations,
   calls, kills, reports to the head, holders' questions (I/O thread).
   The time (monotonic ms, as pdc_now_ms and zclock_mono) by which it
   wants to be called again: to ask the head again, or to repeat a
   message the head has not answered (0: none). */
uint64_t pdc_actors_pump(pdc_client *c);
/* A worker of this client exited: 1 if it hosted one of its actors. */
int pdc_actors_on_worker_died(pdc_client *c, const uint8_t *worker_id, int status);
/* At close: kill the actors this client created (not detached) before
   the I/O thread ends; free every actor struct after it ended. */
void pdc_actors_stop(pdc_client *c);
void pdc_actors_free(pdc_client *c);

/* Worker side: a handle from its wire form "ID@ENDPOINT" (mutex not
   held); the caller holds one reference.  NULL if malformed. */
struct pdc_actor *pdc_actor_from_wire(pdc_client *c, const char *text, size_t len);

#endif
