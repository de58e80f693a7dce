/*  pdc_id: 16-byte ids for tasks and objects, and their hex form.

    An id is 8 random bytes drawn once per process, then an 8-byte counter:
    unique across the cluster without coordination, cheap to make, and a
    task's result object shares its task's id.  In a job's processes the
    first 4 of the 8 are the job's tag (pdc_job.h). */
#ifndef PDC_ID_H_INCLUDED
#define PDC_ID_H_INCLUDED

#include <stdint.h>
#include <string.h>

#define PDC_ID_LEN 16
/* The bytes of an id that are its process's: every id one process
   draws begins with the same ones. */
#define PDC_ID_PREFIX_LEN 8

void pdc_id_new(uint8_t id[PDC_ID_LEN]);
/* The prefix a pooled worker's ids begin with: derived from the id its
   raylet gave it (and its job's tag first, for a job's worker), so that
   the raylet can delete what the worker owned when it exits without
   being told.  pdc_id_use_prefix makes this process draw ids with it. */
void pdc_id_worker_prefix(const uint8_t worker_id[PDC_ID_LEN], const char *job,
                          uint8_t prefix[PDC_ID_PREFIX_LEN]);
void pdc_id_use_prefix(const uint8_t prefix[PDC_ID_PREFIX_LEN]);
/* 32 hex digits and a NUL into buf (33 bytes). */
char *pdc_id_hex(const uint8_t id[PDC_ID_LEN], char *buf);
/* Parse the 32 hex digits at hex (more may follow) into id.  0 or -1. */
int pdc_id_parse(const char *hex, uint8_t id[PDC_ID_LEN]);
/* A short random hex string of n digits (n < 64) into buf. */
char *pdc_random_hex(char *buf, int n);
uint64_t pdc_id_hash(const uint8_t id[PDC_ID_LEN]);

static inline int pdc_id_eq(const uint8_t *a, const uint8_t *b) {
    return memcmp(a, b, PDC_ID_LEN) == 0;
}

#endif
