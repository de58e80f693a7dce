/*  pdc_jobs_table: the head's table of jobs, their logs and followers.

    A job is a driver program run on one node of the cluster for a
    submitter (pdc-submit), in a working directory shipped as a code
    package.  The head keeps every job in this table: its id, command,
    state (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED; pdc_job.h), the
    node its driver runs on, when it was submitted, started and ended,
    its exit status and, when it failed or was stopped, why.  Ended jobs
    stay, job_history of them at most, the oldest going first.

    A submission (JOB_SUBMIT) is placed on a live node whose free
    resources cover what it asks for and whose labels match its selector,
    the one with the most free CPU; until one fits it waits, PENDING, and
    is tried again at every check.  The head sends the node's raylet
    JOB_START; the raylet answers JOB_STARTED (the job is RUNNING) and,
    when the driver exits or could not be started, JOB_EXITED.  The
    resources only choose the node: the driver does not hold them.

    Output: raylets send the job's output (its driver's, and that of the
    workers started for it on any node) as JOB_LOG lines.  The table
    keeps the last job_log_max_bytes of each job (older lines go first,
    and a replay says how much went) and sends every line on to the
    job's followers: submitters that asked with the follow flag (a
    JOB_SUBMIT or JOB_LOGS), who get JOB_DONE with the job's row when it
    ends.

    Stopping (JOB_STOP) and the end of a job: when a job ends for any
    reason, or a submitter stops it, every live raylet is sent JOB_STOP,
    and stops the job's driver and workers and deletes its objects from
    its store.  The job's end (its state, and JOB_DONE to its followers)
    waits until every one of those nodes has answered JOB_CLEANED (so
    that the last lines of its workers are in the log), has died, or
    shutdown_timeout_ms plus S_CLEAN_SLACK_MS have passed.  A job whose
    node dies is FAILED, saying so.

    Who may submit: running a job is running code on the cluster, and
    transport security does not exist yet, so JOB_SUBMIT and JOB_STOP are
    accepted only from this host (a loopback address, or one of this
    host's own addresses; or over ipc), unless the head was started with
    --insecure-jobs.  A refusal names the rule and is logged with the
    submitter's address.  Reading the table and the logs (JOB_LIST,
    JOB_LOGS) is open to whoever reaches the head, as pdc status is.

    Restart: with a database (pdc_head_db.h) every job's row is written
    when it changes (submitted, sent to its node, started, stop asked,
    ending, ended) and read back by pdc_jobs_table_new.  A job that was
    running stays RUNNING: its driver runs on in its raylet, which goes on
    sending JOB_LOG and, at the end, JOB_EXITED to the restarted head.  A
    job that was ending is read back ended (the clean-up confirmations of
    its nodes are not waited for again).  The output kept for a job is
    written when it ends; of a job running across a restart only the
    lines after it are kept, and followers (pdc-submit) are not: they
    follow again with pdc-submit --logs. */
#ifndef PDC_JOBS_TABLE_H_INCLUDED
#define PDC_JOBS_TABLE_H_INCLUDED

#include "pdc_config.h"
#include "pdc_head_db.h"
#include "pdc_resources.h"
#include "pdc_wire.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pdc_jobs_table pdc_jobs_table_t;

typedef struct {
    void *router; /* the head's ROUTER: replies and followers */
    const pdc_config_t *cfg;
    int insecure_jobs; /* accept submissions from other hosts */
    /* The live node with room for want (CPU among them) whose labels
       match selector: its id into node; 0, or -1 with why. */
    int (*place)(void *arg, const pdc_resources_t *want, const char *selector, char *node,
                 size_t len, char *why, size_t why_len);
    /* Send enc to node's raylet (NULL: every live node's).  0 or -1. */
    int (*send)(void *arg, const char *node, const pdc_enc_t *enc);
    /* The node whose raylet sent in: its id into node; 0, or -1. */
    int (*sender)(void *arg, pdc_inbound_t *in, char *node, size_t len);
    /* The live nodes' ids, one after another in ids (64 bytes each, at
       most max); how many.  With ids NULL: how many there are. */
    int (*live_nodes)(void *arg, char (*ids)[64], int max);
    /* Whether the head holds the code package hash. */
    int (*has_code)(void *arg, const char *hash);
    pdc_head_db_t *db; /* where rows are kept across a restart (NULL: nowhere) */
    void *arg;
} pdc_jobs_table_config_t;

/* The table, with the jobs of cfg->db read back. */
pdc_jobs_table_t *pdc_jobs_table_new(const pdc_jobs_table_config_t *cfg);
void pdc_jobs_table_destroy(pdc_jobs_table_t **self_p);

/* A message about jobs: from a submitter (JOB_SUBMIT, JOB_LIST,
   JOB_LOGS, JOB_STOP) or a raylet (JOB_STARTED, JOB_LOG, JOB_EXITED).
   now_ms is the wall clock.  1 if it was one of them (handled), else 0. */
int pdc_jobs_table_on_message(pdc_jobs_table_t *self, pdc_inbound_t *in, uint64_t now_ms);
/* Place the jobs still waiting for a node. */
void pdc_jobs_table_check(pdc_jobs_table_t *self, uint64_t now_ms);
/* Node died: its jobs fail. */
void pdc_jobs_table_node_dead(pdc_jobs_table_t *self, const char *node, uint64_t now_ms);
/* How many jobs are in state (a pdc_job_state). */
int pdc_jobs_table_count(pdc_jobs_table_t *self, int state);

/* Whether a message's sender (its first frame after the routing id)
   came from this host: over ipc, from a loopback address, or from one
   of this host's addresses.  Its address into peer, for messages. */
int pdc_peer_is_local(zmq_msg_t *frame, char *peer, size_t len);

#endif
