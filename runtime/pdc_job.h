/*  pdc_job: what every side of pdc knows about jobs (pdc-submit, the
    head's job table, the raylet that runs a job's driver, and every
    process of a job).

    A job is a driver program run on a cluster for a submitter, with the
    workers it leases on any node.  Its processes carry its id in the
    environment (PDC_JOB_ID): the raylet sets it for the driver it starts
    and for every worker it starts for the job, and the client sends it
    with each lease request, so that a job's leases go only to workers of
    the same job (whose output the raylet streams to the job's log, and
    which are stopped with it).

    The object ids a job's processes draw begin with the job's tag (the
    first PDC_JOB_TAG_LEN bytes of the id, a hash of the job id; see
    pdc_id.c), so that a raylet can delete every object of a stopped job
    from its store without knowing which process made it. */
#ifndef PDC_JOB_H_INCLUDED
#define PDC_JOB_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PDC_JOB_ID_MAX  64 /* with the NUL */
#define PDC_JOB_TAG_LEN 4
#define PDC_JOB_ENV     "PDC_JOB_ID"

/* A job's states, in the job table (and JOB_ROW_STATE). */
typedef enum {
    PDC_JOB_PENDING,   /* waiting for a node that fits, or for its start */
    PDC_JOB_RUNNING,   /* its driver runs                                */
    PDC_JOB_SUCCEEDED, /* its driver exited 0                            */
    PDC_JOB_FAILED,    /* it exited non-zero, could not start, or its node died */
    PDC_JOB_STOPPED    /* stopped on request (pdc-submit --stop, Ctrl-C) */
} pdc_job_state;

const char *pdc_job_state_name(pdc_job_state state);
/* Whether the job has ended (SUCCEEDED, FAILED or STOPPED). */
int pdc_job_state_ended(pdc_job_state state);

/* A row of the job table (JOB_ROW), read. */
typedef struct {
    char id[PDC_JOB_ID_MAX];
    char command[1024];
    pdc_job_state state;
    char node[64];
    uint64_t submitted_ms, start_ms, end_ms, pid; /* wall clock; 0 not yet */
    int64_t status;                               /* exit code, or minus the signal */
    char message[512];
} pdc_job_row_t;

/* Read a validated JOB_ROW tuple (a msgpack_object). */
void pdc_job_row_read(const void *row, pdc_job_row_t *out);
/* The exit status a submitter reports for an ended job: 0 if it
   SUCCEEDED, its driver's exit code, 128 + the signal that killed it, or
   1 when it failed without an exit of its own (it could not start, or
   its node died). */
int pdc_job_exit_code(const pdc_job_row_t *row);
/* One line per job, a header first (for pdc status and pdc-submit --list). */
void pdc_job_rows_print(FILE *out, const pdc_job_row_t *rows, int n);
/* A job's row in full, a field a line (pdc-submit --status). */
void pdc_job_row_print(FILE *out, const pdc_job_row_t *row);

/* A validated *s list (a msgpack_object: a job's command or environment)
   as a NULL-terminated array of copies, or NULL without memory; freed
   with pdc_job_words_free. */
char **pdc_job_words_copy(const void *list);
void pdc_job_words_free(char **words);

/* Whether text is a usable job id: 1 to 63 of [A-Za-z0-9_.-], not
   starting with '.' or '-' (it names a directory).  0, or -1 with why. */
int pdc_job_id_check(const char *text, char *why, size_t len);

/* The tag of a job id (its first PDC_JOB_TAG_LEN bytes of object ids). */
void pdc_job_tag(const char *job_id, uint8_t tag[PDC_JOB_TAG_LEN]);

/* This process's job (PDC_JOB_ID), or "" outside a job. */
const char *pdc_job_current(void);

/* This process's environment with the NULL-terminated variables
   "NAME=VALUE" of extra (not copied) in place of any of the same name:
   a malloc'd array for uv_spawn's env, to free (the array only), or NULL
   without memory. */
char **pdc_job_environ_list(char *const *extra);
/* The same with one variable. */
char **pdc_job_environ(char *var);

#endif
