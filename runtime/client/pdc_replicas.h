/*  pdc_replicas: copies of replicated puts on other nodes.

    A put has no lineage, so the only defence against losing it is more
    copies.  pdc_put_opts with replicas > 1 records how many copies the
    object wants (obj_t.replicas) and starts a replication: the I/O
    thread asks the head for the live nodes (NODES), picks replicas - 1
    that hold no copy (not this node, nor one whose raylet connection is
    down), and asks each of their raylets to pull the object from its
    node (OBJECT_PULL on a connection registered there as a holder); an
    OBJECT_READY answer records the node as a holder.  The put waits for
    its replication (pull_timeout_ms at most).

    When the object's node loses it (a get or a task finds it lost), a
    holder becomes its node instead (pdc_replicas_failover, from
    pdc_lineage_rebuild), and a replication makes up the copy; when a
    holder's raylet connection drops (its node died), that holder is
    forgotten and a replication makes up the copy too.  Copies are freed
    with the object (OBJECT_FREE forwarded to every node).

    All functions run with the client's mutex held.
*/
#ifndef PDC_REPLICAS_H_INCLUDED
#define PDC_REPLICAS_H_INCLUDED

#include "pdc_objects.h"

typedef struct replication replication_t;

/* Start making o's missing copies (o->replicas set).  The replication,
   for pdc_replicas_wait, or NULL when none is missing or out of memory. */
replication_t *pdc_replicas_start(pdc_client *c, obj_t *o);
/* Wait (API thread) up to timeout_ms for r; the number of other nodes
   that hold a copy then.  r is freed (or left to the I/O thread). */
int pdc_replicas_wait(pdc_client *c, replication_t *r, int64_t timeout_ms);
/* o lost its copy on its node (why): if another node holds one, that
   node becomes o's node, a replication makes up the copy, and 1 is
   returned; else 0. */
int pdc_replicas_failover(pdc_client *c, obj_t *o, const char *why);
/* node's raylet went away: forget it as a holder, make up the copies. */
void pdc_replicas_on_node_lost(pdc_client *c, const char *node);
/* I/O thread: send what replications wait to send. */
void pdc_replicas_pump(pdc_client *c);
/* At close: free every replication. */
void pdc_replicas_close(pdc_client *c);

#endif
