/*  pdc_objects: the owner's object table (see the header). */
#include "pdc_client_internal.h"

#include "pdc_borrow.h"
#include "pdc_refs.h"
#include "pdc_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

obj_t *pdc_obj_new(pdc_client *c, const uint8_t *id) {
    obj_t *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    memcpy(o->id, id, PDC_ID_LEN);
    o->refs = 1;
    if (pdc_idmap_put(&c->objects, id, o)) {
        free(o);
        return NULL;
    }
    return o;
}

obj_t *pdc_obj_find(pdc_client *c, const uint8_t *id) {
    return pdc_idmap_get(&c->objects, id);
}

/* Free o and what it holds, and delete its store copy (not from the
   table). */
static void s_destroy(pdc_client *c, obj_t *o) {
    pdc_lineage_drop(c, o);
    if (o->lender) {
        /* Borrowed: its owner frees it (and its copies). */
        pdc_borrow_drop(c, o);
        if (o->info_state == 2)
            c->nborrow_due--;
    } else if (o->stored && c->store) {
        pdc_store_delete(c->store, o->id);
    }
    if (o->stored && !o->lender && (o->spread || strcmp(o->node, c->node_id)) && !c->stopping) {
        /* Copies elsewhere go with an OBJECT_FREE the I/O thread sends. */
        if (c->nfrees == c->capfrees) {
            size_t cap = c->capfrees ? 2 * c->capfrees : 64;
            void *grown = realloc(c->frees, cap * sizeof *c->frees);
            if (grown)
                c->frees = grown, c->capfrees = cap;
        }
        if (c->nfrees < c->capfrees)
            memcpy(c->frees[c->nfrees++], o->id, PDC_ID_LEN);
        pdc_client_wake(c);
    }
    if (c->freeing_all)
        free(o->inner); /* the entries it held go in the same walk */
    else
        pdc_refs_release(c, o->inner, o->ninner);
    free(o->data);
    free((char *) o->err.function);
    free((char *) o->err.message);
    free((char *) o->err.node);
    free(o->dependents);
    free(o->replicas);
    free(o);
}

void pdc_obj_unref(pdc_client *c, obj_t *o) {
    if (--o->refs > 0)
        return;
    pdc_idmap_del(&c->objects, o->id);
    s_destroy(c, o);
    pdc_lineage_reap(c);
}

static char *s_strdup(const char *s) {
    return strdup(s ? s : "");
}

void pdc_obj_fail(obj_t *o, int code, const char *function, const char *node, const char *message) {
    free((char *) o->err.function);
    free((char *) o->err.message);
    free((char *) o->err.node);
    o->state = OBJ_FAILED;
    o->type = PDC_T_ERROR;
    o->err.code = code;
    o->err.function = s_strdup(function);
    o->err.node = s_strdup(node);
    o->err.message = s_strdup(message);
}

pdc_ref pdc_obj_error_ref(pdc_client *c, int code, const char *function, const char *message) {
    pdc_ref ref;
    pdc_id_new(ref.id);
    obj_t *o = pdc_obj_new(c, ref.id);
    if (o)
        pdc_obj_fail(o, code, function, c->node_id, message);
    pdc_set_error(code, "%s", message);
    return ref;
}

void pdc_obj_set_stored(obj_t *o, pdc_type type, size_t size, const char *node) {
    o->state = OBJ_READY;
    o->stored = 1;
    o->type = type;
    o->size = size;
    snprintf(o->node, sizeof o->node, "%s", node);
}

const uint8_t (*pdc_obj_frees(pdc_client *c, size_t *n))[PDC_ID_LEN] {
    *n = c->nfrees;
    return (const uint8_t(*)[PDC_ID_LEN]) c->frees;
}

void pdc_obj_frees_clear(pdc_client *c) {
    c->nfrees = 0;
}

/* At close: every object left, with the task still producing it (its
   argument objects are freed by this same walk). */
static void s_free_left(void *value, void *arg) {
    obj_t *o = value;
    if (o->task)
        pdc_graph_discard(o->task);
    pdc_lineage_discard(o);
    s_destroy(arg, o);
}

void pdc_obj_free_all(pdc_client *c) {
    while (c->lineage_dead) { /* (none: every unref reaps) */
        task_t *t = c->lineage_dead;
        c->lineage_dead = t->next;
        pdc_graph_discard(t);
    }
    c->freeing_all = 1;
    pdc_idmap_each(&c->objects, s_free_left, c);
    pdc_idmap_free(&c->objects);
    c->freeing_all = 0;
    free(c->frees);
    c->frees = NULL;
    c->nfrees = c->capfrees = 0;
}

void pdc_obj_set_result(obj_t *o, unsigned kind, const msgpack_object *v, const char *node,
                        int code, const char *function, const char *message) {
    if (kind == PDC_RES_ERROR) {
        pdc_obj_fail(o, code, function, node, message);
        return;
    }
    if (kind == PDC_RES_STORED) {
        /* The store header has the real type. */
        pdc_obj_set_stored(o, PDC_T_BYTES,
                           v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0, node);
        return;
    }
    o->state = OBJ_READY;
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        o->type = PDC_T_I64;
        o->i64 = pdc_f_i(v);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        o->type = PDC_T_F64;
        o->f64 = v->via.f64;
        break;
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:
        o->type = kind == PDC_RES_REFS            ? PDC_T_REFS
                  : v->type == MSGPACK_OBJECT_STR ? PDC_T_STR
                                                  : PDC_T_BYTES;
        o->size = v->via.bin.size;
        o->data = malloc(o->size ? o->size : 1);
        if (o->data)
            memcpy(o->data, o->size ? v->via.bin.ptr : "", o->size);
        else
            pdc_obj_fail(o, PDC_ENOMEM, "result", node, "out of memory for the result");
        break;
    default:
        o->type = PDC_T_NIL;
        break;
    }
}
