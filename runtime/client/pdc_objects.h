/*  pdc_objects: the owner's object table.

    Every object this process owns (the results of its calls and its puts)
    is an entry here, keyed by its 16-byte id: its state (pending, ready,
    failed), its value (small values inline, in the owner's memory) or
    where its bytes are (a node's store), the error of a failed one, the
    task that will produce it while that task lives, and the tasks waiting
    for it (dependents).

    References.  refs counts user references, tasks that take the object
    as an argument, the task that produces it, and values handed out by
    pdc_get, and the kept specs (lineage) of finished tasks that took it;
    at zero the entry is freed, with its lineage, and its store copy
    deleted (on other nodes too, through an OBJECT_FREE the I/O thread
    sends).

    All functions here run with the client's mutex held.
*/
#ifndef PDC_OBJECTS_H_INCLUDED
#define PDC_OBJECTS_H_INCLUDED

#include "pdc.h"
#include "pdc_id.h"

#include <msgpack.h>

#include <stddef.h>
#include <stdint.h>

#define PDC_NODE_LEN 64

typedef enum { OBJ_PENDING, OBJ_READY, OBJ_FAILED } obj_state;

typedef struct task task_t;

/* The other nodes holding copies of a replicated put (pdc_replicas.h). */
typedef struct obj_replicas {
    int want; /* copies wanted, node's included */
    int n;    /* nodes[0..n): other nodes with a copy */
    char nodes[PDC_PUT_MAX_REPLICAS][PDC_NODE_LEN];
} obj_replicas_t;

typedef struct obj {
    uint8_t id[PDC_ID_LEN];
    obj_state state;
    int refs;
    pdc_type type;
    int64_t i64;
    double f64;
    void *data; /* inline STR/BYTES bytes (malloc), NULL if stored */
    size_t size;
    int stored;              /* the bytes are in a node's store under id */
    char node[PDC_NODE_LEN]; /* that node */
    int spread;              /* copies may exist on other nodes: free them there too */
    pdc_error err;           /* for OBJ_FAILED; strings malloc'd */
    task_t *task;            /* the producing task while it is alive */
    /* Lineage (pdc_lineage.h): the finished task that made this stored
       result, kept to re-run it if every copy is lost, or NULL; the
       function that made it (interned, NULL for a put), and whether its
       spec was dropped past lineage_max_bytes.  ready_seq orders the
       moment it became ready against a dependent's dispatch. */
    task_t *lineage;
    const char *made_library, *made_function;
    int lineage_evicted;
    uint64_t ready_seq;
    obj_replicas_t *replicas; /* a replicated put's other copies, or NULL */
    /* A list of references (PDC_T_REFS, pdc_refs.h): the entries it
       holds while it lives, once inner_held. */
    struct obj **inner;
    uint32_t ninner;
    int inner_held;
    /* Borrowed (pdc_borrow.h): its owner, NULL for this process's own;
       whether the owner counts this process; the value's state (0 not
       asked, 1 asked, 2 told pending, 3 known) and when to ask again. */
    struct lender *lender;
    int borrow_acked;
    int info_state;
    uint64_t info_wait_ms, info_due;
    /* This process's own: BORROW_ADDs of other processes not dropped. */
    int borrowers;
    /* Tasks waiting for this object.  While they are told (walking), a
       task that stops waiting leaves a NULL in its slot instead of
       moving another entry into it, so that none is skipped. */
    task_t **dependents;
    int ndependents, capdependents;
    int walking;
} obj_t;

/* A new entry with one reference; NULL when out of memory. */
obj_t *pdc_obj_new(pdc_client *c, const uint8_t *id);
obj_t *pdc_obj_find(pdc_client *c, const uint8_t *id);
void pdc_obj_unref(pdc_client *c, obj_t *o);
/* Mark o failed with an error (the strings are copied). */
void pdc_obj_fail(obj_t *o, int code, const char *function, const char *node, const char *message);
/* A reference to a new object that holds an error (also the thread's
   last error). */
pdc_ref pdc_obj_error_ref(pdc_client *c, int code, const char *function, const char *message);
/* Make o a ready object stored in node's store. */
void pdc_obj_set_stored(obj_t *o, pdc_type type, size_t size, const char *node);
/* Settle o from a result as the wire carries it (TASK_RESULTS' RESULT,
   OBJECT_INFO): kind PDC_RES_*, the value, the node; for an error its
   code, function and message.  A PDC_RES_REFS value becomes a list
   (PDC_T_REFS) whose references nobody holds yet. */
void pdc_obj_set_result(obj_t *o, unsigned kind, const msgpack_object *v, const char *node,
                        int code, const char *function, const char *message);

/* Ids of stored objects to free on other nodes (I/O thread: take them
   all, then pdc_obj_frees_clear). */
const uint8_t (*pdc_obj_frees(pdc_client *c, size_t *n))[PDC_ID_LEN];
void pdc_obj_frees_clear(pdc_client *c);

/* At close: free every entry left (and the tasks still producing them). */
void pdc_obj_free_all(pdc_client *c);

#endif
