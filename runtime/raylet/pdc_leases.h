/*  pdc_leases: a raylet's slots and who holds them: lease requests,
    where each one goes, and the grants.

    An owner (a driver, or a worker running a task) asks for a lease of a
    worker with LEASE_REQUEST: CPU slots, other resources, and where it
    may run (pdc_lease_shape_t).  The request is placed against the
    cluster view (pdc_view_place):

      - here: it joins this node's queue, and is granted when the node
        has the slots, resources and an idle worker for it (LEASE_GRANT:
        the worker, its endpoints, the GPU devices it holds); when no
        worker is idle the pool is asked to start some.  The queue is
        served in arrival order, but a request that cannot be granted
        now (a GPU task while the GPUs are held) does not hold back the
        requests of other shapes behind it;
      - another node: its holder is sent there (LEASE_REDIRECT);
      - no node yet: it is parked and placed again on every view until
        infeasible_timeout_ms has passed, then refused (ERROR);
      - never (an embedded cluster cannot grow): refused at once.

    Queued requests this node has no room for spill to a node that has,
    when a view shows one (default strategy only, and never twice).

    A grant holds its slots until the holder gives the worker back
    (LEASE_RETURN), the worker exits (the holder is told: WORKER_DIED) or
    the holder goes (its workers are stopped, its requests dropped).  A
    worker that blocks in pdc_get says BLOCKED: its CPU slots go back to
    the node meanwhile, so that recursive programs cannot deadlock it;
    UNBLOCKED takes them again, even if that oversubscribes the node for
    a while, as Ray does.  So BLOCKED is for waits on other tasks only: a
    worker that said it while it waited for its own code package or an
    argument's pull would run its task on a slot already lent to another
    (see tests/test_leases.c).

    The table answers its requesters itself on the raylet's ROUTER. */
#ifndef PDC_LEASES_H_INCLUDED
#define PDC_LEASES_H_INCLUDED

#include "pdc_labels.h"
#include "pdc_pool.h"
#include "pdc_resources.h"
#include "pdc_view.h"
#include "pdc_wire.h"

typedef struct pdc_leases pdc_leases_t;

typedef struct {
    const char *node_id;
    const char *endpoint;        /* the raylet, for this node's clients    */
    const char *public_endpoint; /* the raylet, for other nodes ("" none)  */
    const pdc_labels_t *labels;
    double cpus;                 /* CPU slots                              */
    const pdc_resources_t *res;  /* everything else                        */
    const char *visible_devices; /* the raylet's CUDA_VISIBLE_DEVICES      */
    int spillback_threshold_pct;
    int64_t infeasible_timeout_ms;
    int can_grow; /* whether nodes may join the cluster     */
} pdc_leases_config_t;

typedef struct {
    int queued, infeasible, actors;
    uint64_t granted, spilled;
} pdc_leases_stats_t;

/* router: the raylet's ROUTER; pool: where workers come from; view: the
   cluster view, kept by the raylet (the table keeps this node's own
   entry current). */
pdc_leases_t *pdc_leases_new(uv_loop_t *loop, void *router, pdc_pool_t *pool, pdc_view_t *view,
                             const pdc_leases_config_t *cfg);
void pdc_leases_destroy(pdc_leases_t **self_p);

/* LEASE_REQUEST from a registered client; remote: it is a holder on
   another node (it gets the workers' public endpoints). */
void pdc_leases_request(pdc_leases_t *self, pdc_inbound_t *in, int remote);
/* LEASE_RETURN; answers ERROR when the worker is not leased to the
   sender. */
void pdc_leases_return(pdc_leases_t *self, pdc_inbound_t *in);
/* BLOCKED (blocked 1) or UNBLOCKED (0) from worker w. */
void pdc_leases_blocked(pdc_leases_t *self, pdc_worker_t *w, int blocked);
/* Worker w exited with status: its lease, if any, ends. */
void pdc_leases_worker_exited(pdc_leases_t *self, pdc_worker_t *w, int status);
/* The holder rid is gone: stop the workers it leased (not detached
   actors) and drop its requests. */
void pdc_leases_release_holder(pdc_leases_t *self, const pdc_rid_t *rid);

/* Grant what can be granted now (after anything that freed slots or
   workers). */
void pdc_leases_grant(pdc_leases_t *self);
/* A new view: place parked requests again, spill queued ones, grant. */
void pdc_leases_on_view(pdc_leases_t *self);
/* Housekeeping: parked requests past their deadline are refused, and
   queued ones that waited for the pool to start workers try again. */
void pdc_leases_check(pdc_leases_t *self);

/* The node's CPU slots and other resources, in all (available 0) or free
   now (1). */
void pdc_leases_resources(pdc_leases_t *self, int available, double *cpus, pdc_resources_t *res);
void pdc_leases_stats(pdc_leases_t *self, pdc_leases_stats_t *out);

#endif
