/*  pdc_lineage: rebuilding lost results by re-running their tasks.

    A remote function's result that went to a node's store can lose every
    copy: its node dies, or the copy is deleted under it.  The owner keeps
    the spec of the task that made it (function, arguments, holding its
    reference arguments' objects) attached to the result object while the
    result is referenced (obj_t.lineage), and frees it with the object.
    When a reader finds every copy gone (a pull or a store read fails with
    PDC_EOBJECTLOST), the owner resets the object to pending and re-runs
    the task under the same id; the scheduler places it on a live node.
    Its arguments that were lost too are rebuilt the same way when the
    re-run's worker reports them lost, so a chain is rebuilt link by link.
    Readers (pdc_get, pdc_wait, dependent tasks) wait meanwhile.

    Bounds.  Each re-run counts against the task's max_retries (shared
    with retries after worker deaths); past them, and for objects that
    have no lineage (puts, actor results, tasks with actor handle
    arguments), the object fails with PDC_EOBJECTLOST naming the object,
    its task and why.  The specs kept cost lineage_max_bytes at most; past
    it the oldest are dropped (one warning), and such a result, if lost,
    fails saying its lineage was evicted.

    All functions run with the client's mutex held.
*/
#ifndef PDC_LINEAGE_H_INCLUDED
#define PDC_LINEAGE_H_INCLUDED

#include "pdc_graph.h"

/* t just finished (pdc_graph_finish): if its result is stored and t may
   be re-run, keep t as the result's lineage and return 1 (t then belongs
   to its result); else 0, and the caller frees t. */
int pdc_lineage_keep(pdc_client *c, task_t *t);
/* o is being freed: its lineage goes onto a list that pdc_lineage_reap
   frees, releasing the arguments it holds (in a loop, not recursively). */
void pdc_lineage_drop(pdc_client *c, obj_t *o);
void pdc_lineage_reap(pdc_client *c);
/* At close: free o's lineage without releasing anything (every object
   is being freed anyway). */
void pdc_lineage_discard(obj_t *o);
/* o lost every copy (why): re-run the task that made it.  PDC_OK when o
   is pending again (or already was: another reader started the
   rebuild); otherwise o fails with PDC_EOBJECTLOST naming the object,
   its task and the reason, and that code is returned. */
int pdc_lineage_rebuild(pdc_client *c, obj_t *o, const char *why);

#endif
