/*  pdc_graph: the owner's task graph.

    A task the owner submitted lives here from its submission until its
    result is final: its spec (function, arguments), the arguments it
    still waits for, and the hook of the layer that sends it (its owner:
    the scheduler for remote functions, the actor layer for actor calls
    and creations).  The graph does not know how a task is sent.  It tells
    the hook when every argument is ready (ready), and when the result is
    final, ready or failed (done), just before the task is freed; the
    hook takes the task out of whatever queue or list held it.

    Reference arguments hold their objects.  A task whose argument failed
    fails with that error without running; a task that waits for several
    arguments and sees one fail stops waiting for the others at once.
    A finished task whose result is stored may stay on as that result's
    lineage (pdc_lineage.h): its spec, still holding its arguments, is
    re-run under the same id if every copy of the result is lost.

    All functions run with the client's mutex held.
*/
#ifndef PDC_GRAPH_H_INCLUDED
#define PDC_GRAPH_H_INCLUDED

#include "pdc_objects.h"
#include "pdc_proto.h"

/* One argument of a task as the owner keeps it. */
typedef struct {
    pdc_type type; /* REF args become the value's type once resolved */
    int64_t i64;
    double f64;
    void *data;
    size_t size;
    obj_t *ref;              /* for reference arguments (holds a ref) */
    struct pdc_actor *actor; /* for actor handle arguments (holds one) */
    obj_t **held;            /* a list's references (PDC_REFS), held */
    uint32_t nheld;
} task_arg_t;

typedef enum { T_WAITING, T_QUEUED, T_INFLIGHT, T_DONE } task_state;

/* Tasks in one of their sender's lists (queued to go, or in flight),
   linked through next/prev.  A task is in one list at a time and knows
   which (list), so taking it out never searches. */
typedef struct pdc_task_list {
    task_t *head, *tail;
    size_t count;
} pdc_task_list_t;

/* The layer that sends a task: told when it may go, and when it ends.
   keep (may be NULL): the finished task is offered to its layer, which
   may take it (1) to run it again later (pdc_graph_rerun), as the actor
   layer keeps an actor's creation to restart it; otherwise (0) it is
   lineage's or freed. */
typedef struct {
    void (*ready)(pdc_client *c, task_t *t);
    void (*done)(pdc_client *c, task_t *t);
    int (*keep)(pdc_client *c, task_t *t);
} pdc_task_hook_t;

struct task {
    uint8_t id[PDC_ID_LEN];
    const char *library, *function; /* interned in the client */
    size_t nargs;
    task_arg_t *args;
    int pending_deps;
    int retries_left;
    task_state state;
    obj_t *result;
    const pdc_task_hook_t *hook;
    void *hook_ctx;          /* the actor of an actor call or creation */
    struct sched_class *cls; /* for the scheduler's tasks */
    struct lease *lease;     /* the lease running it, in flight */
    int rebuildable;         /* may be re-run to rebuild a lost result (lineage) */
    size_t lineage_bytes;    /* what its spec costs, counted while kept as lineage */
    uint64_t sent_seq;       /* when it was last pushed to a worker (c->graph_seq) */
    pdc_task_list_t *list;   /* the list it is in (or the owner's lineage), or NULL */
    task_t *next, *prev;     /* in that list */
};

/* A task with its arguments resolved as far as they can be now, or NULL
   when it failed at once (*ref then holds the error, and it is the
   thread's last error).  On success *ref is the result, which the caller
   owns (one reference) besides the task's own.  The task is not ready
   until pdc_graph_submit. */
task_t *pdc_graph_task_new(pdc_client *c, const char *library, const char *function,
                           const pdc_value *args, size_t nargs, const pdc_task_hook_t *hook,
                           void *hook_ctx, pdc_ref *ref);
/* Hand t to its hook once its arguments are ready (now, or when they
   become ready). */
void pdc_graph_submit(pdc_client *c, task_t *t);
/* t's result is final (its object set by the caller): tell the hook,
   wake dependents and waiters, free t. */
void pdc_graph_finish(pdc_client *c, task_t *t);
/* o's state became final without a task of this graph (a borrowed
   object's value arrived): wake the tasks waiting for it. */
void pdc_graph_object_final(pdc_client *c, obj_t *o);
/* Fail t's result with code and why (on node, "" if it never ran), then
   finish it. */
void pdc_graph_fail(pdc_client *c, task_t *t, int code, const char *node, const char *why);
/* At close: free t without telling anyone. */
void pdc_graph_discard(task_t *t);
/* Free t and release what its arguments hold (a finished task). */
void pdc_graph_free(pdc_client *c, task_t *t);
/* Run t again (out of every list, its result pending again): wait for
   its arguments that are pending, then hand it to its hook; an argument
   that failed fails it. */
void pdc_graph_rewait(pdc_client *c, task_t *t);
/* t finished and was kept (its layer's keep, or lineage): run it again
   into the same result object, which is pending and t's again. */
void pdc_graph_rerun(pdc_client *c, task_t *t);

/* Put t at the back (or the front) of list; take it out of its list. */
void pdc_task_list_push(pdc_task_list_t *list, task_t *t, int front);
void pdc_task_list_remove(task_t *t);

/* "library:function" of t. */
const char *pdc_graph_name(const task_t *t, char *buf, size_t len);
/* Encode t as a task spec, or only its arguments, for a worker on node
   ("" or NULL: this node). */
void pdc_graph_encode(pdc_client *c, pdc_enc_t *e, task_t *t, const char *node);
void pdc_graph_encode_args(pdc_client *c, pdc_enc_t *e, task_t *t, const char *node);
/* The node holding most stored argument bytes of t, or "". */
const char *pdc_graph_locality(const task_t *t);

#endif
