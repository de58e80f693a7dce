/*  pdc_actors_table: the head's table of actors and their states.

    Every actor's creator reports its row (pdc_actor_row.h) with
    ACTOR_STATE at each change of state, so the head knows every actor in
    the cluster: what pdc status shows (ALIVE, RESTARTING, DEAD with the
    reason and the restarts left), and what a holder of a handle asks
    (ACTOR_RESOLVE) when its connection to the actor broke: an actor that
    restarted is ALIVE at a new endpoint, one being restarted is
    RESTARTING (ask again), one that will not come back is DEAD.

    The head hears of a node's death before most creators do, so it
    updates the rows of actors on that node at once: RESTARTING when
    restarts are left and the creator's node is alive (the creator will
    place it again), DEAD otherwise.  Dead rows stay, actor_history of
    them at most, the oldest going first.

    The table is advisory: the creator drives an actor's life, and the
    head's row is what the creator last said, corrected by node deaths.
    It is kept in the head's database (pdc_head_db.h, table "actors", a
    row per actor written when it changes), so that a restarted head
    still answers holders and pdc status. */
#ifndef PDC_ACTORS_TABLE_H_INCLUDED
#define PDC_ACTORS_TABLE_H_INCLUDED

#include "pdc_actor_row.h"
#include "pdc_config.h"
#include "pdc_head_db.h"
#include "pdc_wire.h"

typedef struct pdc_actors_table pdc_actors_table_t;

/* router: the head's ROUTER, for replies; db: where rows are kept (NULL:
   nowhere), read back here. */
pdc_actors_table_t *pdc_actors_table_new(void *router, const pdc_config_t *cfg, pdc_head_db_t *db);
void pdc_actors_table_destroy(pdc_actors_table_t **self_p);

/* ACTOR_STATE, ACTOR_RESOLVE or ACTOR_LIST: 1 if it was one (handled),
   else 0. */
int pdc_actors_table_on_message(pdc_actors_table_t *self, pdc_inbound_t *in);
/* The head declared node dead; node (re)registered. */
void pdc_actors_table_node_dead(pdc_actors_table_t *self, const char *node);
void pdc_actors_table_node_alive(pdc_actors_table_t *self, const char *node);
/* How many actors are in state. */
double pdc_actors_table_count(const pdc_actors_table_t *self, pdc_actor_state state);

#endif
