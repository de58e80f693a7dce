/*  pdc_graph: the owner's task graph (see the header).

    Telling dependents.  When an object's state becomes final, the tasks
    waiting for it are told one by one, and telling one may end others:
    a task that fails because this argument failed stops waiting for its
    other arguments; an actor that dies because its constructor failed
    fails the calls queued for it, some of which wait for this same
    object.  Those tasks leave the object's dependents list while it is
    being walked.  So the walk marks the object (walking), removal then
    leaves a NULL in the slot rather than moving the last entry into it
    (which the walk would skip), and every task leaves every list before
    it is freed (pdc_graph_finish undoes its dependencies first), so the
    walk never meets a freed task.
*/
#include "pdc_client_internal.h"

#include "pdc_borrow.h"
#include "pdc_refs.h"

#include "pdc_actor_owner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pdc_task_list_push(pdc_task_list_t *list, task_t *t, int front) {
    t->list = list;
    if (front) {
        t->prev = NULL;
        t->next = list->head;
        if (list->head)
            list->head->prev = t;
        else
            list->tail = t;
        list->head = t;
    } else {
        t->next = NULL;
        t->prev = list->tail;
        if (list->tail)
            list->tail->next = t;
        else
            list->head = t;
        list->tail = t;
    }
    list->count++;
}

void pdc_task_list_remove(task_t *t) {
    pdc_task_list_t *list = t->list;
    if (!list)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        list->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        list->tail = t->prev;
    t->prev = t->next = NULL;
    t->list = NULL;
    list->count--;
}

const char *pdc_graph_name(const task_t *t, char *buf, size_t len) {
    snprintf(buf, len, "%s:%s", t->library ? t->library : "?", t->function ? t->function : "?");
    return buf;
}

void pdc_graph_free(pdc_client *c, task_t *t) {
    for (size_t i = 0; i < t->nargs; i++) {
        if (t->args[i].actor)
            pdc_actor_arg_release(c, t->args[i].actor);
        if (t->args[i].ref)
            pdc_obj_unref(c, t->args[i].ref);
        else
            free(t->args[i].data);
        pdc_refs_release(c, t->args[i].held, t->args[i].nheld);
    }
    free(t->args);
    free(t);
}

void pdc_graph_discard(task_t *t) {
    for (size_t i = 0; i < t->nargs; i++) {
        if (!t->args[i].ref)
            free(t->args[i].data);
        free(t->args[i].held); /* the entries go in the same walk */
    }
    free(t->args);
    free(t);
}

/* Add t as waiting on dep.  0, or -1 out of memory. */
static int s_depend(task_t *t, obj_t *dep) {
    if (dep->ndependents == dep->capdependents) {
        int cap = dep->capdependents ? dep->capdependents * 2 : 4;
        task_t **d = realloc(dep->dependents, (size_t) cap * sizeof *d);
        if (!d)
            return -1;
        dep->dependents = d;
        dep->capdependents = cap;
    }
    dep->dependents[dep->ndependents++] = t;
    t->pending_deps++;
    return 0;
}

/* Drop t from the dependents of every argument it waits for. */
static void s_undepend(task_t *t) {
    for (size_t i = 0; i < t->nargs; i++) {
        obj_t *dep = t->args[i].ref;
        if (!dep)
            continue;
        for (int k = 0; k < dep->ndependents; k++) {
            if (dep->dependents[k] != t)
                continue;
            if (dep->walking)
                dep->dependents[k] = NULL;
            else
                dep->dependents[k--] = dep->dependents[--dep->ndependents];
        }
    }
    t->pending_deps = 0;
}

static void s_ready(pdc_client *c, task_t *t) {
    t->hook->ready(c, t);
}

/* A dependency of t became ready or failed. */
static void s_dep_done(pdc_client *c, task_t *t, obj_t *dep) {
    if (t->state != T_WAITING)
        return;
    if (dep->state == OBJ_FAILED) {
        char fn[512], msg[1024];
        snprintf(msg, sizeof msg, "an argument failed: %s: %s", dep->err.function,
                 dep->err.message);
        pdc_obj_fail(t->result, dep->err.code, pdc_graph_name(t, fn, sizeof fn), dep->err.node,
                     msg);
        pdc_graph_finish(c, t);
        return;
    }
    if (--t->pending_deps == 0)
        s_ready(c, t);
}

void pdc_graph_object_final(pdc_client *c, obj_t *o) {
    o->walking++;
    for (int i = 0; i < o->ndependents; i++)
        if (o->dependents[i])
            s_dep_done(c, o->dependents[i], o);
    if (--o->walking == 0) {
        free(o->dependents);
        o->dependents = NULL;
        o->ndependents = o->capdependents = 0;
    }
    o->ready_seq = ++c->graph_seq;
}

void pdc_graph_finish(pdc_client *c, task_t *t) {
    obj_t *o = t->result;
    s_undepend(t);
    t->hook->done(c, t);
    t->state = T_DONE;
    o->task = NULL;
    pdc_graph_object_final(c, o);
    if (!(t->hook->keep && t->hook->keep(c, t)) && !pdc_lineage_keep(c, t))
        pdc_graph_free(c, t);
    pthread_cond_broadcast(&c->cv);
    pdc_obj_unref(c, o); /* the task's hold on its result */
}

void pdc_graph_fail(pdc_client *c, task_t *t, int code, const char *node, const char *why) {
    char fn[1024];
    pdc_obj_fail(t->result, code, pdc_graph_name(t, fn, sizeof fn), node, why);
    pdc_graph_finish(c, t);
}

void pdc_graph_rewait(pdc_client *c, task_t *t) {
    t->state = T_WAITING;
    t->pending_deps = 0;
    t->lease = NULL;
    obj_t *failed = NULL;
    for (size_t i = 0; i < t->nargs && !failed; i++) {
        obj_t *dep = t->args[i].ref;
        if (!dep)
            continue;
        if (dep->state == OBJ_FAILED)
            failed = dep;
        else if (dep->state == OBJ_PENDING && s_depend(t, dep)) {
            s_undepend(t);
            pdc_graph_fail(c, t, PDC_ENOMEM, "", "out of memory waiting for an argument again");
            return;
        }
    }
    if (failed) {
        s_undepend(t);
        t->pending_deps = 1;
        s_dep_done(c, t, failed);
        return;
    }
    if (t->pending_deps == 0)
        s_ready(c, t);
}

void pdc_graph_rerun(pdc_client *c, task_t *t) {
    obj_t *o = t->result;
    o->state = OBJ_PENDING;
    o->stored = 0;
    o->task = t;
    o->refs++; /* the task's hold on its result, as at submission */
    pdc_graph_rewait(c, t);
}

void pdc_graph_submit(pdc_client *c, task_t *t) {
    if (t->state == T_WAITING && t->pending_deps == 0)
        s_ready(c, t);
}

static int s_copy_value(task_arg_t *a, const pdc_value *v) {
    a->type = v->type;
    switch (v->type) {
    case PDC_T_I64:
        a->i64 = v->as.i64;
        return 0;
    case PDC_T_F64:
        a->f64 = v->as.f64;
        return 0;
    case PDC_T_NIL:
        return 0;
    case PDC_T_STR:
    case PDC_T_BYTES:
        if (v->as.buf.size && !v->as.buf.data)
            return -1;
        a->size = v->as.buf.size;
        a->data = malloc(a->size ? a->size : 1);
        if (!a->data)
            return -1;
        if (a->size)
            memcpy(a->data, v->as.buf.data, a->size);
        return 0;
    default:
        return -1;
    }
}

/* A large value goes once into the store; the task holds the only
   reference, so the copy goes when the task does.  0 or a code. */
static int s_store_arg(pdc_client *c, task_arg_t *a, const pdc_value *v, size_t i, char *why,
                       size_t len) {
    uint8_t id[PDC_ID_LEN];
    char err[512];
    pdc_id_new(id);
    int rc = pdc_store_put(c->store, id, v->type, v->as.buf.data, v->as.buf.size, err, sizeof err);
    obj_t *o = rc == PDC_OK ? pdc_obj_new(c, id) : NULL;
    if (!o) {
        if (rc == PDC_OK)
            pdc_store_delete(c->store, id);
        snprintf(why, len, "argument %zu (%zu bytes): %s", i, v->as.buf.size,
                 rc == PDC_OK ? "out of memory" : err);
        return rc == PDC_OK ? PDC_ENOMEM : rc;
    }
    pdc_obj_set_stored(o, v->type, v->as.buf.size, c->node_id);
    a->type = PDC_T_REF;
    a->ref = o;
    return PDC_OK;
}

/* Resolve argument i as far as it can be now: 0, or a code with why.
 *failed is set to an argument object that already failed. */
static int s_arg(pdc_client *c, task_t *t, size_t i, const pdc_value *v, obj_t **failed, char *why,
                 size_t len) {
    task_arg_t *a = &t->args[i];
    if (v->type == PDC_T_ACTOR) {
        obj_t *wait_on = NULL;
        char err[300];
        int rc = pdc_actor_arg_hold(c, v->as.actor, &wait_on, err, sizeof err);
        if (rc != PDC_OK) {
            snprintf(why, len, "argument %zu: %s", i, err);
            return rc;
        }
        a->type = PDC_T_ACTOR;
        a->actor = v->as.actor;
        if (wait_on) {
            /* Pass the handle once the actor is placed and built. */
            a->ref = wait_on;
            wait_on->refs++;
            if (wait_on->state == OBJ_FAILED)
                *failed = wait_on;
            else if (s_depend(t, wait_on))
                return PDC_ENOMEM;
        }
        return PDC_OK;
    }
    if ((v->type == PDC_T_STR || v->type == PDC_T_BYTES) && v->as.buf.size > c->inline_max &&
        v->as.buf.data)
        return s_store_arg(c, a, v, i, why, len);
    if (v->type == PDC_T_REFS) {
        /* A list passed by value: encoded now, its objects held by the
           task until it is freed. */
        char err[512];
        int rc = v->as.buf.size % sizeof(pdc_ref) || (v->as.buf.size && !v->as.buf.data)
                     ? PDC_EINVAL
                     : pdc_refs_encode(c, v->as.buf.data, v->as.buf.size / sizeof(pdc_ref),
                                       &a->data, &a->size, err, sizeof err);
        if (rc == PDC_OK)
            rc = pdc_refs_hold_list(c, a->data, a->size, &a->held, &a->nheld, err, sizeof err);
        if (rc != PDC_OK) {
            snprintf(why, len, "argument %zu: %s", i,
                     rc == PDC_EINVAL && !*err ? "a list of references needs PDC_REFS" : err);
            return rc;
        }
        a->type = PDC_T_REFS;
        return PDC_OK;
    }
    if (v->type != PDC_T_REF) {
        if (!s_copy_value(a, v))
            return PDC_OK;
        snprintf(why, len, "argument %zu has an invalid type or buffer", i);
        return PDC_EINVAL;
    }
    obj_t *dep = pdc_obj_find(c, v->as.ref.id);
    if (!dep) {
        char hex[33];
        snprintf(why, len,
                 "argument %zu: unknown object reference %s (released, or owned by another "
                 "process)",
                 i, pdc_id_hex(v->as.ref.id, hex));
        return PDC_ENOTFOUND;
    }
    a->type = PDC_T_REF;
    a->ref = dep;
    dep->refs++;
    pdc_borrow_want_info(c, dep); /* a borrowed one: its owner says when it is ready */
    if (dep->state == OBJ_FAILED)
        *failed = dep;
    else if (dep->state == OBJ_PENDING && s_depend(t, dep))
        return PDC_ENOMEM;
    return PDC_OK;
}

task_t *pdc_graph_task_new(pdc_client *c, const char *library, const char *function,
                           const pdc_value *args, size_t nargs, const pdc_task_hook_t *hook,
                           void *hook_ctx, pdc_ref *ref) {
    char fname[1024];
    snprintf(fname, sizeof fname, "%s:%s", library ? library : "?", function ? function : "?");
    if (c->stopping) {
        *ref = pdc_obj_error_ref(c, PDC_ESHUTDOWN, fname, "the client is shutting down");
        return NULL;
    }
    task_t *t = calloc(1, sizeof *t);
    if (t)
        t->args = calloc(nargs ? nargs : 1, sizeof *t->args);
    if (t)
        pdc_id_new(t->id);
    if (t && t->args)
        t->result = pdc_obj_new(c, t->id);
    if (!t || !t->args || !t->result) {
        if (t)
            free(t->args);
        free(t);
        *ref = pdc_obj_error_ref(c, PDC_ENOMEM, fname, "out of memory");
        return NULL;
    }
    memcpy(ref->id, t->id, PDC_ID_LEN);
    t->library = library;
    t->function = function;
    t->nargs = nargs;
    t->hook = hook;
    t->hook_ctx = hook_ctx;
    t->result->refs = 2; /* the caller's and the task's */
    t->result->task = t;
    t->state = T_WAITING;

    obj_t *failed = NULL;
    char why[512] = "";
    int bad = 0;
    for (size_t i = 0; i < nargs && !bad; i++)
        bad = s_arg(c, t, i, &args[i], &failed, why, sizeof why);
    if (bad) {
        pdc_set_error(bad, "%s", why);
        pdc_obj_fail(t->result, bad, fname, c->node_id, why);
        pdc_graph_finish(c, t);
        return NULL;
    }
    if (failed) {
        s_undepend(t);
        t->pending_deps = 1;
        s_dep_done(c, t, failed);
        return NULL;
    }
    return t;
}

/* The arguments of t for a worker on node: a stored object on another
   node goes as "ID@HOLDER", for that worker's raylet to pull. */
void pdc_graph_encode_args(pdc_client *c, pdc_enc_t *e, task_t *t, const char *node) {
    (void) c;
    pdc_enc_array(e, t->nargs);
    for (size_t i = 0; i < t->nargs; i++) {
        task_arg_t *a = &t->args[i];
        obj_t *o = a->ref;
        pdc_type type = o ? o->type : a->type;
        pdc_enc_array(e, PDC_ARG_NFIELDS);
        if (a->actor) {
            char wire[PATH_MAX + 40];
            pdc_enc_u(e, PDC_ARG_ACTOR);
            pdc_enc_s(e, pdc_actor_to_wire(a->actor, wire, sizeof wire));
            continue;
        }
        if (o && o->stored && node && *node && strcmp(o->node, node)) {
            char wire[2 * PDC_ID_LEN + PDC_NODE_LEN + 2], hex[33];
            snprintf(wire, sizeof wire, "%s@%s", pdc_id_hex(o->id, hex), o->node);
            pdc_enc_u(e, PDC_ARG_REMOTE);
            pdc_enc_s(e, wire);
            o->spread = 1;
            continue;
        }
        if (o && o->stored) {
            pdc_enc_u(e, PDC_ARG_STORED);
            pdc_enc_id(e, o->id);
            continue;
        }
        const void *data = o ? o->data : a->data;
        size_t size = o ? o->size : a->size;
        if (type == PDC_T_REFS) {
            pdc_enc_u(e, PDC_ARG_REFS);
            pdc_enc_b(e, data, size);
            continue;
        }
        pdc_enc_u(e, PDC_ARG_INLINE);
        switch (type) {
        case PDC_T_I64:
            pdc_enc_i(e, o ? o->i64 : a->i64);
            break;
        case PDC_T_F64:
            pdc_enc_f(e, o ? o->f64 : a->f64);
            break;
        case PDC_T_STR:
            pdc_enc_sn(e, data, size);
            break;
        case PDC_T_BYTES:
            pdc_enc_b(e, data, size);
            break;
        default:
            pdc_enc_nil(e);
            break;
        }
    }
}

void pdc_graph_encode(pdc_client *c, pdc_enc_t *e, task_t *t, const char *node) {
    pdc_enc_array(e, PDC_TASK_NFIELDS);
    pdc_enc_id(e, t->id);
    pdc_enc_s(e, node && *node ? pdc_client_library_for(c, t->library, node) : t->library);
    pdc_enc_s(e, t->function);
    pdc_graph_encode_args(c, e, t, node);
}

const char *pdc_graph_locality(const task_t *t) {
    const char *best = "";
    size_t most = 0;
    for (size_t i = 0; t && i < t->nargs; i++) {
        obj_t *o = t->args[i].ref;
        if (o && o->stored && o->size > most) {
            most = o->size;
            best = o->node;
        }
    }
    return best;
}

int pdc_cancel(pdc_client *c, pdc_ref ref) {
    if (!c)
        return pdc_set_error(PDC_EINVAL, "pdc_cancel: no client");
    pthread_mutex_lock(&c->mu);
    obj_t *o = pdc_obj_find(c, ref.id);
    int rc = PDC_OK;
    if (!o)
        rc = pdc_set_error(PDC_ENOTFOUND, "pdc_cancel: unknown reference");
    else if (o->state != OBJ_PENDING || !o->task)
        rc = pdc_set_error(PDC_EINVAL, "pdc_cancel: the task already finished");
    else if (o->task->state == T_INFLIGHT)
        rc = pdc_set_error(PDC_EINVAL, "pdc_cancel: the task is already running");
    else
        pdc_graph_fail(c, o->task, PDC_ECANCELLED, "", "the task was cancelled before it ran");
    if (rc == PDC_OK)
        pdc_clear_error();
    pthread_mutex_unlock(&c->mu);
    return rc;
}
