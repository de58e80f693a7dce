/*  pdc_actor_host: a worker process hosting one actor.

    The worker hands every ACTOR_CREATE, ACTOR_CALLS and ACTOR_KILL message
    to its host, which builds the actor's state with the class's
    constructor, runs method calls on it and answers with TASK_RESULTS to
    whoever called.  With max_concurrency 1 calls run on the worker's main
    thread, in the order they arrive, which is each caller's submission
    order.  With more, a pool of that many threads runs them; finished
    results wake the worker's loop through pdc_actor_host_fd and go out in
    pdc_actor_host_flush.  ACTOR_KILL waits for running calls, runs the
    destructor and tells the worker to exit.
*/
#ifndef PDC_ACTOR_HOST_H_INCLUDED
#define PDC_ACTOR_HOST_H_INCLUDED

#include "pdc_client_internal.h"
#include "pdc_wire.h"

typedef struct pdc_actor_host pdc_actor_host_t;

pdc_actor_host_t *pdc_actor_host_new(pdc_client *client, void *router, int64_t flush_us);
/* Run the destructor if the actor was built, stop the threads, free. */
void pdc_actor_host_destroy(pdc_actor_host_t **self_p);
/* Take one actor message (closes *in).  Returns 1 when the actor was
   killed and the worker should exit. */
int pdc_actor_host_handle(pdc_actor_host_t *self, pdc_inbound_t *in);
/* The fd that becomes readable when threaded calls finish, or -1. */
int pdc_actor_host_fd(pdc_actor_host_t *self);
/* Send the results of finished threaded calls. */
void pdc_actor_host_flush(pdc_actor_host_t *self);

#endif
