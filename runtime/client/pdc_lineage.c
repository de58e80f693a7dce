/*  pdc_lineage: rebuilding lost results by re-running their tasks (see
    the header).

    The kept specs are one list in the client, oldest first (a finished
    task is in no scheduler list, so its list links serve), with their
    cost summed: the task, its argument slots and its inline argument
    bytes.  Stored arguments count for their slot only; their bytes stay
    in the store while a kept spec holds them, as the re-run needs them.
*/
#include "pdc_client_internal.h"

#include "pdc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t s_cost(const task_t *t) {
    size_t bytes = sizeof *t + t->nargs * sizeof *t->args;
    for (size_t i = 0; i < t->nargs; i++)
        if (!t->args[i].ref)
            bytes += t->args[i].size;
    return bytes;
}

/* Take t off the list and uncount it (it stays o's lineage). */
static void s_unlist(pdc_client *c, task_t *t) {
    pdc_task_list_remove(t);
    c->lineage_bytes -= t->lineage_bytes;
    t->lineage_bytes = 0;
}

/* Drop the oldest specs until the kept ones fit lineage_max_bytes. */
static void s_evict(pdc_client *c) {
    size_t max = (size_t) c->cfg.lineage_max_bytes;
    while (c->lineage.head && c->lineage_bytes > max) {
        task_t *t = c->lineage.head;
        obj_t *o = t->result;
        if (!c->lineage_warned) {
            char hex[33];
            pdc_warn("lineage_max_bytes (%zu) reached: the specs of the oldest finished tasks "
                     "are dropped (first: %s:%s, result %s), and their results fail with "
                     "PDC_EOBJECTLOST if lost (logged once)",
                     max, t->library, t->function, pdc_id_hex(o->id, hex));
            c->lineage_warned = 1;
        }
        s_unlist(c, t);
        o->lineage = NULL;
        o->lineage_evicted = 1;
        pdc_graph_free(c, t); /* may free other objects, and their lineage */
    }
}

int pdc_lineage_keep(pdc_client *c, task_t *t) {
    obj_t *o = t->result;
    if (o->state != OBJ_READY || !o->stored)
        return 0;
    o->made_library = t->library;
    o->made_function = t->function;
    if (!t->rebuildable || t->retries_left <= 0 || c->stopping)
        return 0;
    if (c->cfg.lineage_max_bytes <= 0) {
        o->lineage_evicted = 1;
        return 0;
    }
    t->result = o;
    t->lineage_bytes = s_cost(t);
    o->lineage = t;
    pdc_task_list_push(&c->lineage, t, 0);
    c->lineage_bytes += t->lineage_bytes;
    s_evict(c);
    return 1;
}

void pdc_lineage_drop(pdc_client *c, obj_t *o) {
    task_t *t = o->lineage;
    if (!t)
        return;
    o->lineage = NULL;
    s_unlist(c, t);
    /* Freed by pdc_lineage_reap: freeing it here would free its
       arguments, and their lineage, and theirs, one stack frame deeper
       each (a chain of a million links). */
    t->next = c->lineage_dead;
    c->lineage_dead = t;
}

void pdc_lineage_reap(pdc_client *c) {
    if (c->lineage_reaping)
        return; /* an outer call is draining the list */
    c->lineage_reaping = 1;
    while (c->lineage_dead) {
        task_t *t = c->lineage_dead;
        c->lineage_dead = t->next;
        t->next = NULL;
        pdc_graph_free(c, t); /* may drop more lineage onto the list */
    }
    c->lineage_reaping = 0;
}

void pdc_lineage_discard(obj_t *o) {
    if (o->lineage)
        pdc_graph_discard(o->lineage);
    o->lineage = NULL;
}

int pdc_lineage_rebuild(pdc_client *c, obj_t *o, const char *why) {
    if (o->state == OBJ_PENDING)
        return PDC_OK;
    if (o->state == OBJ_FAILED)
        return o->err.code;
    char hex[33], fn[600], msg[1400];
    pdc_id_hex(o->id, hex);
    if (o->stored && strcmp(o->node, c->node_id) && pdc_store_contains(c->store, o->id) == 1) {
        /* This node pulled a copy before: it serves from now on. */
        pdc_info("object %s lost its copy on node %s (%s); this node's copy serves it", hex,
                 o->node, why);
        snprintf(o->node, sizeof o->node, "%s", c->node_id);
        o->ready_seq = ++c->graph_seq;
        return PDC_OK;
    }
    snprintf(fn, sizeof fn, "%s:%s", o->made_library ? o->made_library : "pdc_put",
             o->made_function ? o->made_function : "");
    if (pdc_replicas_failover(c, o, why))
        return PDC_OK; /* a replicated put: another node's copy serves */
    if (!o->made_function) {
        snprintf(fn, sizeof fn, "pdc_put");
        snprintf(msg, sizeof msg,
                 "object %s was lost (%s); it was put, not made by a task, so it has no lineage "
                 "to rebuild it from%s",
                 hex, why,
                 o->replicas ? ", and no other node holds a copy of it any more"
                             : " (a put with replicas > 1 keeps copies on other nodes)");
    } else if (!o->lineage && o->lineage_evicted) {
        snprintf(msg, sizeof msg,
                 "object %s, the result of %s, was lost (%s) and cannot be rebuilt: its lineage "
                 "was evicted (lineage_max_bytes=%lld)",
                 hex, fn, why, (long long) c->cfg.lineage_max_bytes);
    } else if (!o->lineage) {
        snprintf(msg, sizeof msg,
                 "object %s, the result of %s, was lost (%s) and cannot be rebuilt: the task "
                 "has no retries left (max_retries), or takes an actor handle",
                 hex, fn, why);
    }
    task_t *t = o->lineage;
    if (!t) {
        pdc_obj_fail(o, PDC_EOBJECTLOST, fn, o->node, msg);
        pthread_cond_broadcast(&c->cv);
        return PDC_EOBJECTLOST;
    }
    t->retries_left--;
    pdc_warn("object %s, the result of %s, was lost (%s); re-running the task (%d retries "
             "left)",
             hex, fn, why, t->retries_left);
    s_unlist(c, t);
    o->lineage = NULL;
    pdc_graph_rerun(c, t);
    pthread_cond_broadcast(&c->cv);
    pdc_client_wake(c);
    return o->state == OBJ_FAILED ? o->err.code : PDC_OK;
}
