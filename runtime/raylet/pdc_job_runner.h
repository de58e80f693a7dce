/*  pdc_job_runner: a raylet's part of jobs (pdc-submit): the drivers it
    runs, the output of the job's processes on the node, and the clean-up
    when a job ends.

    JOB_START from the head names a job, its working directory's package,
    its command and environment.  The runner makes the job's own session
    directory, SESSION/jobs/ID, fetches the package through the node's
    code cache and unpacks it into SESSION/jobs/ID/work, and starts the
    command there, in its own process group, with PDC_ADDRESS (the head),
    PDC_NODE_ID (this node, so that pdc_init joins this raylet) and
    PDC_JOB_ID set, and the submitter's variables after them; the
    kernel kills the driver if the raylet dies (PR_SET_PDEATHSIG).  It answers
    JOB_STARTED with the driver's pid, and JOB_EXITED when the driver
    exits (its status, or minus the signal) or could not be started (and
    why).  The job's directory is removed when the driver has exited.

    Output: the driver's stdout and stderr go to SESSION/jobs/ID/driver.log,
    and every worker the pool starts for a job writes to its own log
    file (pdc_pool).  The runner reads what was added to these files every
    S_TAIL_MS and sends it to the head as JOB_LOG, whole lines, a worker's
    prefixed "(NODE, pid=N) "; what a process wrote last is sent when it
    exits.  Reading files rather than pipes keeps a process's output on
    disk when the raylet cannot send it, and needs no handle that could
    outlive the process.

    JOB_STOP (from the head, when a job was stopped or has ended): the
    driver's process group gets SIGTERM, and SIGKILL after
    shutdown_timeout_ms; the job's workers on this node get SIGKILL, and
    so does any started for it in the next S_STOPPED_MS; the job's objects
    (ids with its tag, pdc_job.h) are deleted from the store once none of
    its processes are left on the node, and again at each check in that
    time, in case a write was under way.  Once none is left (and so all
    their output was sent), the head is told with JOB_CLEANED. */
#ifndef PDC_JOB_RUNNER_H_INCLUDED
#define PDC_JOB_RUNNER_H_INCLUDED

#include "pdc_code_cache.h"
#include "pdc_loop.h"
#include "pdc_pool.h"
#include "pdc_store.h"
#include "pdc_transfer.h"
#include "pdc_wire.h"

typedef struct pdc_job_runner pdc_job_runner_t;

typedef struct {
    const char *node_id;
    const char *session;
    const char *head_endpoint; /* PDC_ADDRESS for drivers */
    void *head;                /* the DEALER to the head */
    pdc_pool_t *pool;
    pdc_store_t *store;
    pdc_transfers_t *transfers; /* its objects' transfers end before they go */
    pdc_code_cache_t *code;
    int64_t stop_grace_ms;    /* SIGTERM to SIGKILL for a driver */
    size_t package_max_bytes; /* the largest package unpacked */
} pdc_job_runner_config_t;

pdc_job_runner_t *pdc_job_runner_new(uv_loop_t *loop, const pdc_job_runner_config_t *cfg);
/* Frees it; every driver must have exited (pdc_job_runner_drivers 0). */
void pdc_job_runner_destroy(pdc_job_runner_t **self_p);

/* JOB_START or JOB_STOP from the head. */
void pdc_job_runner_on_head(pdc_job_runner_t *self, pdc_inbound_t *in);
/* The code cache has fetched a package (path), or could not (why). */
void pdc_job_runner_package_ready(pdc_job_runner_t *self, const char *hash, const char *path,
                                  const char *why);
/* A worker of the pool exited: the rest of its output is sent. */
void pdc_job_runner_worker_exited(pdc_job_runner_t *self, pdc_worker_t *w);
/* The raylet stops: signum to every driver's process group. */
void pdc_job_runner_stop(pdc_job_runner_t *self, int signum);
/* Drivers not yet reaped. */
int pdc_job_runner_drivers(pdc_job_runner_t *self);

/* The raylet binary run as `pdc-raylet --exec-job-driver COMMAND...`
   (how the runner starts a driver): asks the kernel to kill it when the
   raylet dies, then runs COMMAND (never returns; a command that cannot
   run exits 127, saying why on stderr, the job's log).  -1 if argv is
   not that. */
#define PDC_JOB_EXEC_OPTION "--exec-job-driver"
int pdc_job_runner_exec_driver(int argc, char **argv);

#endif
