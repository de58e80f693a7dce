/*  pdc_view: a raylet's picture of the cluster, and where a lease goes.

    The head answers every raylet heartbeat with its node table (id,
    endpoints, alive, resources total and available, labels); the raylet
    keeps it here as its view and places lease requests against it.  The
    view of other nodes is up to a heartbeat old, so a raylet that sends
    work to a node counts it against that node's free resources until the
    next view arrives, and the receiving raylet queues what it cannot
    start at once.  The raylet's own entry is kept current by the raylet.

    pdc_view_place is the policy, a pure function of the view and the
    request (see pdc.h, PDC_SCHED_*, for what each strategy promises):

      - hard affinity: that node if it is alive and can run the request,
        else fail naming why; soft affinity falls back to the default;
      - spread: the feasible nodes in turn (a cursor over them sorted by
        id), so N requests land N / nodes on each;
      - default (hybrid): the node holding most of the arguments if it has
        room; this node while it has room and is below the spillback
        threshold; else the feasible node with room and the lowest
        utilisation; else queue here if this node could ever run it; else
        the least used feasible node.
      - nothing feasible: wait (the caller retries on every new view and
        fails the request after infeasible_timeout_ms) with a text naming
        what no node has.
*/
#ifndef PDC_VIEW_H_INCLUDED
#define PDC_VIEW_H_INCLUDED

#include "pdc.h"
#include "pdc_labels.h"
#include "pdc_proto.h"
#include "pdc_resources.h"

#include <limits.h>

#define PDC_NODE_ID_MAX 64

typedef struct {
    char id[PDC_NODE_ID_MAX];
    char endpoint[PATH_MAX];       /* the raylet, from other hosts          */
    char local_endpoint[PATH_MAX]; /* the raylet, from its own host (ipc)   */
    int alive;
    double cpu_total, cpu_available;
    pdc_resources_t total, available; /* besides CPU */
    pdc_labels_t labels;
} pdc_view_node_t;

typedef struct {
    pdc_view_node_t *nodes;
    int n, cap;
    unsigned spread_cursor;
} pdc_view_t;

/* What a lease request asks for. */
typedef struct {
    double cpus;
    pdc_resources_t res;
    unsigned flags;    /* PDC_LEASE_* */
    unsigned strategy; /* PDC_SCHED_* */
    char affinity[PDC_NODE_ID_MAX];
    pdc_selector_t selector;
    char locality[PDC_NODE_ID_MAX];
    /* The kind of worker it needs (pdc_pool's runtime): the worker's
       command line ("" for pdc-worker), and for a job's lease a newline
       and the job id, since a job's leases go to the job's own workers. */
    char runtime[4096];
} pdc_lease_shape_t;

typedef enum { PDC_PLACE_LOCAL, PDC_PLACE_REMOTE, PDC_PLACE_WAIT, PDC_PLACE_FAIL } pdc_place_t;

void pdc_view_init(pdc_view_t *v);
void pdc_view_free(pdc_view_t *v);
/* Replace the view with a validated NODES_REPLY node list. */
void pdc_view_update(pdc_view_t *v, const msgpack_object *list);
pdc_view_node_t *pdc_view_find(pdc_view_t *v, const char *id);
/* Add (or refresh) an entry by hand: the raylet's own. */
pdc_view_node_t *pdc_view_upsert(pdc_view_t *v, const char *id);

/* Read a LEASE_REQUEST's fields into shape.  0, or -1 with err (a label
   selector that does not parse). */
int pdc_lease_shape_read(const msgpack_object *fields, pdc_lease_shape_t *shape, char *err,
                         size_t errlen);

/* Whether node n could ever run shape (resources in all, labels), and if
   not, why (into why, if given). */
int pdc_view_feasible(const pdc_view_node_t *n, const pdc_lease_shape_t *s, char *why, size_t len);

/* Whether node n has the free CPU and resources for shape now (as far as
   the view knows). */
int pdc_view_has_room(const pdc_view_node_t *n, const pdc_lease_shape_t *s);

/* Decide where shape goes.  self is this raylet's node id;
   threshold_pct the spillback threshold.  For PDC_PLACE_REMOTE *target
   is the node; for WAIT and FAIL why says what is wrong.  A REMOTE
   placement is counted against the target's available resources. */
pdc_place_t pdc_view_place(pdc_view_t *v, const char *self, int threshold_pct,
                           const pdc_lease_shape_t *s, pdc_view_node_t **target, char *why,
                           size_t len);

#endif
