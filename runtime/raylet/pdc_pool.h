/*  pdc_pool: a raylet's worker processes: started, registered, reused,
    stopped and reaped.

    The pool starts pdc-worker processes with uv_spawn, each with a fresh
    id and its output in SESSION/logs/worker-ID.log, and workers of other
    runtimes (a language's worker command, pdc_opts.runtime) the same
    way; a lease takes only a worker of the runtime it asks for.  A
    worker is

      STARTING  spawned, not yet registered: it cannot take a lease;
      IDLE      registered (REGISTER kind 1 with its id): it can;
      LEASED    taken for a lease (pdc_pool_take), until it is given
                back (pdc_pool_give_back) or exits;
      STOPPING  idle too long, sent SIGTERM: it takes nothing more and
                does not count as a worker on its way (a new one is
                started for a request while it finishes exiting).

    The pool does not know what a lease is: the lease table (pdc_leases)
    takes idle workers, asks for more when it has requests and no idle
    worker (pdc_pool_want), and gives them back.  When a worker exits the
    pool calls the exit callback with it, already off the pool's list
    but still readable, so that its lease can be ended and its holder
    told; the worker is freed after the callback returns.

    The pool keeps at least min pdc-workers (STARTING, IDLE or LEASED): one
    that exits (a crash, a kill, the end of an actor) is replaced, so a
    node that lost a worker has as many idle ones as before once its
    work is done.  pdc_pool_check, run from the raylet's housekeeping,
    stops idle workers beyond keep of each runtime (never fewer than min) that have been
    idle for longer than idle_ms, and starts what a failed spawn left
    missing.  A worker that dies before it registers, or a program that
    cannot be run, says the workers of its runtime cannot start (a broken
    binary, a crash in set-up, a missing interpreter): the pool then
    starts none of that runtime, for requests or to keep its min, for
    retry_ms, so that it does not start and lose one after another, and
    counts the failures (pdc_pool_start_failures) for the lease table to
    give up on requests that would wait for ever.
    pdc_pool_stop signals every worker when the raylet stops. */
#ifndef PDC_POOL_H_INCLUDED
#define PDC_POOL_H_INCLUDED

#include "pdc_id.h"
#include "pdc_loop.h"
#include "pdc_rid.h"

#include <limits.h>
#include <stdint.h>

typedef struct pdc_pool pdc_pool_t;
typedef struct pdc_worker pdc_worker_t;

typedef enum {
    PDC_WORKER_STARTING,
    PDC_WORKER_IDLE,
    PDC_WORKER_LEASED,
    PDC_WORKER_STOPPING
} pdc_worker_state_t;

/* w exited with status (its exit code, or minus the signal that killed
   it); it is off the pool's list and freed after this returns. */
typedef void pdc_pool_exit_fn(pdc_pool_t *pool, pdc_worker_t *w, int status, void *arg);

typedef struct {
    const char *worker_bin; /* the pdc-worker binary                      */
    const char *raylet;     /* the endpoint workers register at           */
    const char *session;    /* the session directory (logs/ inside)       */
    const char *node_ip;    /* where workers listen for other nodes, or "" */
    int min;                /* workers always kept (at most keep)          */
    int keep;               /* idle workers kept however long idle         */
    uint64_t idle_ms;       /* how long one beyond keep may stay idle      */
    uint64_t retry_ms;      /* no new worker for this long after one died
                               before it registered                      */
    pdc_pool_exit_fn *on_exit;
    void *arg;
} pdc_pool_config_t;

typedef struct {
    int starting, idle, leased, stopping;
    uint64_t started; /* since the pool was made */
    int lending;      /* workers that own objects others borrow */
} pdc_pool_stats_t;

/* The strings of cfg are copied. */
pdc_pool_t *pdc_pool_new(uv_loop_t *loop, const pdc_pool_config_t *cfg);
/* Frees the pool; its workers must have exited (pdc_pool_size is 0). */
void pdc_pool_destroy(pdc_pool_t **self_p);

/* Start one worker of runtime (NULL or "": pdc-worker; otherwise a
   command line, its words separated by tabs, run with pdc-worker's
   options appended): it, or NULL (logged).  A runtime may end in a
   newline and a job id: the worker is that job's (PDC_JOB_ID is set in
   its environment, pdc_worker_job names it), and takes only leases that
   ask for the same runtime, so only the job's. */
pdc_worker_t *pdc_pool_spawn(pdc_pool_t *self, const char *runtime);
/* Have at least n workers of runtime STARTING (start what is missing),
   unless a worker died starting less than retry_ms ago. */
void pdc_pool_want(pdc_pool_t *self, const char *runtime, int n);

/* A REGISTER from a worker: the STARTING worker with id becomes IDLE,
   answering to rid, reached at endpoint (this node) and public_endpoint
   (other nodes, "" if none).  It, or NULL if no worker with that id is
   starting. */
pdc_worker_t *pdc_pool_register(pdc_pool_t *self, const uint8_t *id, const void *rid,
                                size_t rid_len, const char *endpoint, const char *public_endpoint);

pdc_worker_t *pdc_pool_find(pdc_pool_t *self, const uint8_t *id);
pdc_worker_t *pdc_pool_find_rid(pdc_pool_t *self, const void *rid, size_t len);

/* How many starts of runtime's workers in a row failed (the program
   could not be run, or the worker exited before it registered), and why
   the last one did (in *why, owned by the pool); 0 once one registers. */
int pdc_pool_start_failures(pdc_pool_t *self, const char *runtime, const char **why);

/* An idle worker of runtime, now LEASED; NULL if none is idle. */
pdc_worker_t *pdc_pool_take(pdc_pool_t *self, const char *runtime);
/* A LEASED worker is IDLE again. */
void pdc_pool_give_back(pdc_pool_t *self, pdc_worker_t *w);

/* w owns objects other processes borrow (LENDING), or no longer does. */
void pdc_worker_set_lending(pdc_worker_t *w, int lending);

pdc_worker_state_t pdc_worker_state(const pdc_worker_t *w);
const uint8_t *pdc_worker_id(const pdc_worker_t *w);
int pdc_worker_pid(const pdc_worker_t *w);
/* Where owners reach it: from another node (remote) or this one. */
const char *pdc_worker_endpoint(const pdc_worker_t *w, int remote);
/* Its client's routing id on the raylet's ROUTER (empty until it
   registered). */
const pdc_rid_t *pdc_worker_rid(const pdc_worker_t *w);
/* Its runtime ("" for pdc-worker), as given to pdc_pool_spawn. */
const char *pdc_worker_runtime(const pdc_worker_t *w);
/* The job it was started for ("" none). */
const char *pdc_worker_job(const pdc_worker_t *w);
/* Where its stdout and stderr go: SESSION/logs/worker-ID.log. */
void pdc_worker_log_path(const pdc_worker_t *w, char *out, size_t len);
/* The worker after w in the pool (the first for NULL), or NULL. */
pdc_worker_t *pdc_pool_next(pdc_pool_t *self, pdc_worker_t *w);
/* Send signum to every worker of job; those not leased take no lease
   any more.  How many were signalled. */
int pdc_pool_kill_job(pdc_pool_t *self, const char *job, int signum);
void pdc_worker_kill(pdc_worker_t *w, int signum);

/* Stop idle workers beyond keep that have been idle too long. */
void pdc_pool_check(pdc_pool_t *self, uint64_t now_ms);
/* The raylet is stopping: send every worker signum (SIGTERM, then
   SIGKILL for those that did not go); exits are no longer logged. */
void pdc_pool_stop(pdc_pool_t *self, int signum);
/* Workers not yet reaped. */
int pdc_pool_size(pdc_pool_t *self);
void pdc_pool_stats(pdc_pool_t *self, pdc_pool_stats_t *out);

#endif
