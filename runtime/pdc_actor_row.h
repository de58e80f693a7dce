/*  pdc_actor_row: an actor's row in the head's actor table, as every
    side sees it (the creator that reports it, the head that keeps it,
    holders of a handle that resolve it, and pdc status that prints it).

    An actor's creator sends ACTOR_STATE with the whole row at every
    change of state: PENDING while it is placed and built, ALIVE once its
    constructor ran, RESTARTING while a crashed actor with restarts left
    is placed and built again, DEAD (with the reason) when it was killed,
    crashed with no restarts left, or its creator went away.  The row
    also says how many restarts it has had, its max_restarts and
    max_task_retries, where it runs (node and endpoint), and the creator's
    node, so that the head can tell a holder that an actor whose node
    died is restarting or dead. */
#ifndef PDC_ACTOR_ROW_H_INCLUDED
#define PDC_ACTOR_ROW_H_INCLUDED

#include "pdc_id.h"
#include "pdc_wire.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    PDC_ACTOR_PENDING,    /* being placed and built the first time */
    PDC_ACTOR_ALIVE,      /* built: serving calls                  */
    PDC_ACTOR_RESTARTING, /* crashed; being placed and built again */
    PDC_ACTOR_DEAD        /* for good: reason says why             */
} pdc_actor_state;

const char *pdc_actor_state_name(pdc_actor_state state);

typedef struct {
    uint8_t id[PDC_ID_LEN];
    char cls[512]; /* library:class */
    char ns[64], name[128];
    pdc_actor_state state;
    char node[64];
    char endpoint[PATH_MAX];
    char owner_node[64];
    uint64_t restarts;
    int64_t max_restarts, max_task_retries; /* -1: without limit */
    char reason[512];
} pdc_actor_row_t;

/* Read a validated ACTOR_ROW tuple (a msgpack_object). */
void pdc_actor_row_read(const void *row, pdc_actor_row_t *out);
/* Append row to e as one ACTOR_ROW tuple. */
void pdc_actor_row_encode(pdc_enc_t *e, const pdc_actor_row_t *row);
/* "2 of 3", "4 of unlimited", "none allowed". */
const char *pdc_actor_row_restarts(const pdc_actor_row_t *row, char *buf, size_t len);
/* One line per actor, a header first (pdc status). */
void pdc_actor_rows_print(FILE *out, const pdc_actor_row_t *rows, int n);

#endif
