/*  pdc_sched: the owner's scheduler for remote functions.

    Scheduling is by lease, as in Ray.  Tasks are grouped by shape (CPU,
    other resources, placement: a scheduling class); while a class has
    tasks queued, the scheduler asks the raylet for worker leases (one
    request at a time for short tasks, several for long ones, one per task
    for spread), pushes up to max_tasks_in_flight tasks per PUSH_TASKS
    message to each leased worker, pushes more as results return, and
    hands a lease back when it stays idle for lease_idle_ms.  If a leased
    worker dies, its tasks are retried (max_retries) or fail with
    PDC_EWORKERDIED.

    Each class registers once in the request registry; every lease
    request of the class carries that id, and grants, redirects and
    refusals come back to it.  All functions run on the I/O thread with
    the client's mutex held, except pdc_call_args (an API thread).
*/
#ifndef PDC_SCHED_H_INCLUDED
#define PDC_SCHED_H_INCLUDED

#include "pdc_config.h"
#include "pdc_graph.h"
#include "pdc_resources.h"

#include <limits.h>

/* Where a task or actor may run (the strategy fields of pdc_opts and
   pdc_actor_opts), as the owner keeps it. */
/* The longest runtime (pdc_opts.runtime, a worker command line). */
#define PDC_RUNTIME_MAX 4096

typedef struct {
    unsigned strategy; /* PDC_SCHED_* */
    char node[PDC_NODE_LEN];
    int soft;
    char labels[256];
    char runtime[PDC_RUNTIME_MAX]; /* the worker's command line; "" for C */
} pdc_sched_t;

typedef struct conn conn_t;

typedef struct lease {
    uint8_t worker_id[PDC_ID_LEN];
    char node[PDC_NODE_LEN]; /* the worker's node */
    void *raylet;            /* the raylet that granted it (raw socket) */
    int spent;               /* a spread lease runs one task, then goes */
    char gpu_ids[256];       /* its GPU devices, told to the worker     */
    int told;                /* WORKER_LEASE sent                       */
    conn_t *conn;
    pdc_task_list_t tasks; /* in flight */
    uint64_t idle_since;
    struct sched_class *cls;
    struct lease *next;
} lease_t;

/* Tasks with the same resource shape share leases. */
typedef struct sched_class {
    double cpus;
    pdc_resources_t res;             /* other resources every task of it needs */
    pdc_sched_t sched;               /* where its tasks may run */
    char key[700 + PDC_RUNTIME_MAX]; /* res and sched formatted, to compare classes */
    uint64_t request;                /* its id in the request registry */
    pdc_task_list_t queue;           /* ready to dispatch */
    lease_t *leases;
    int requests;   /* LEASE_REQUESTs outstanding */
    double busy_us; /* moving average of the tasks' busy time; < 0 unknown */
    struct sched_class *next;
} sched_class_t;

/* Fill sched from the strategy fields of the options.  0, or PDC_EINVAL
   with why. */
int pdc_sched_from_opts(pdc_sched_t *sched, int strategy, const char *node_id, int soft,
                        const char *label_selector, const char *runtime, char *why, size_t len);
/* The resources and placement of a pdc_opts or a pdc_actor_opts (both
   have these fields; opts may be NULL).  0, or nonzero with why. */
#define PDC_SCHED_FROM_OPTIONS(opts, res, sched, why, len)                                         \
    (pdc_resources_parse((opts) ? (opts)->resources : NULL, res, why, len) ||                      \
     pdc_sched_from_opts(sched, (opts) ? (opts)->strategy : 0, (opts) ? (opts)->node_id : NULL,    \
                         (opts) ? (opts)->soft : 0, (opts) ? (opts)->label_selector : NULL,        \
                         (opts) ? (opts)->runtime : NULL, why, len))

/* Send a LEASE_REQUEST under request on raylet (a raw socket; NULL: the
   local one). */
void pdc_sched_request_lease(pdc_client *c, void *raylet, uint64_t request, double cpus,
                             unsigned flags, const pdc_resources_t *res, const pdc_sched_t *sched,
                             const char *locality);

/* The policy, as pure functions of the settings and a class (unit-tested
   without a cluster): how many queued tasks of k to push to lease l now,
   and how many lease requests k wants out. */
size_t pdc_sched_push_count(const pdc_config_t *cfg, const sched_class_t *k, const lease_t *l);
size_t pdc_sched_requests_wanted(const pdc_config_t *cfg, const sched_class_t *k);

/* Push, ask and return what can be; the time (ms, loop clock) of the next
   idle-lease check, or 0. */
uint64_t pdc_sched_pump(pdc_client *c, uint64_t now_ms);
/* A finished task's busy time (microseconds), for the class's average. */
void pdc_sched_note_busy(task_t *t, double busy_us);
/* A leased worker died: 1 if it was one of the scheduler's. */
int pdc_sched_on_worker_died(pdc_client *c, const uint8_t *worker_id, int status);
/* The worker running t could not get argument i: every copy was lost
   (why).  1 if t waits again, for that argument's rebuild (lineage) or
   a copy made since; 0 if t is not the scheduler's (the result stands). */
int pdc_sched_on_arg_lost(pdc_client *c, task_t *t, size_t i, const char *why);
/* The worker connection k went away (its node died): 1 if a lease used it. */
int pdc_sched_on_conn_lost(pdc_client *c, conn_t *k);
/* At close: hand every lease back and free the classes. */
/* This node's raylet is gone: queued tasks and those leased on this
   node fail with PDC_ECONNECT (c->raylet_lost_why), and so does every
   task queued later (pdc_sched_pump). */
void pdc_sched_on_raylet_lost(pdc_client *c);
void pdc_sched_close(pdc_client *c);

#endif
