/*  pdc_client: the owner side of libpdc: submit, put, get, wait, release.

    Every process that calls the API (a driver, or a worker running a task
    that submits more) is an owner, as in Ray: it keeps the objects its
    calls return in a table in its own memory, with their state, value (or
    where in the node's store the value is), reference count and the task
    that will produce them.  Small values live in that table; large ones in
    the shared-memory store, which every process on the node opens.

    Two kinds of thread touch a client.  API threads take the client mutex,
    change the table, and for submissions queue the task and wake the I/O
    thread with uv_async_send (which coalesces: a burst of submissions
    costs one wake-up).  The I/O thread runs a libuv loop that owns every
    ZeroMQ socket of the process: the DEALER to the local raylet (leases)
    and one DEALER per leased worker's endpoint (task pushes and results).

    Scheduling is by lease.  Tasks are grouped by shape (CPU, other
    resources, placement); while a group has tasks queued, the I/O thread
    asks the raylet for worker leases (one request at a time for short
    tasks, several for long ones, one per task for spread); each grant may
    trigger the next.  A lease may be on another node: pdc_remote.c holds
    what that takes (redirected requests, liveness, objects and code
    between nodes).  It pushes up to max_tasks_in_flight tasks per PUSH_TASKS message
    to each leased worker and pushes more as results return.  A lease that
    stays idle for lease_idle_ms goes back to the raylet.  If the leased
    worker dies, its in-flight tasks are retried (max_retries) or fail with
    PDC_EWORKERDIED.

    Reference arguments are resolved here before a task is pushed: the
    value of an inline object is copied into the task; a stored object is
    passed by id (as "ID@NODE" to a worker on another node, whose raylet
    pulls it first).  A task whose argument failed fails with that error
    without running.
*/
#include "pdc_client_internal.h"

#include "pdc_id.h"
#include "pdc_log.h"
#include "pdc_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- Errors ----------------------------------------------------------- */

static __thread char s_last_error[512];

int pdc_set_error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s_last_error, sizeof s_last_error, fmt, ap);
    va_end(ap);
    return code;
}

const char *pdc_last_error(pdc_client *client) {
    (void) client;
    return s_last_error;
}

const char *pdc_status_name(int status) {
    switch (status) {
#define S(x) case x: return #x;
    S(PDC_OK) S(PDC_EINVAL) S(PDC_ETIMEOUT) S(PDC_ENOMEM) S(PDC_ECONNECT)
    S(PDC_ESTOREFULL) S(PDC_ETYPE) S(PDC_EPROTO) S(PDC_ENOTFOUND)
    S(PDC_ESHUTDOWN) S(PDC_ETASK) S(PDC_ENOFUNC) S(PDC_EARGS)
    S(PDC_EWORKERDIED) S(PDC_ECANCELLED) S(PDC_EOBJECTLOST)
    S(PDC_EOWNERDIED) S(PDC_EINFEASIBLE)
#undef S
    default: return "PDC_E?";
    }
}

size_t pdc_strlen_(const char *s) {
    return s ? strlen(s) : 0;
}

const char *pdc_ref_hex(pdc_ref ref, char *buf) {
    return pdc_id_hex(ref.id, buf);
}

static uint64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static uint64_t s_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

uint64_t pdc_client_blocked_us(pdc_client *c) {
    pthread_mutex_lock(&c->mu);
    uint64_t us = c->blocked_us;
    pthread_mutex_unlock(&c->mu);
    return us;
}

static char *s_strdup(const char *s) {
    return strdup(s ? s : "");
}

/* ---- Objects ---------------------------------------------------------- */

static obj_t *s_obj_new(pdc_client *c, const uint8_t *id) {
    obj_t *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    memcpy(o->id, id, PDC_ID_LEN);
    o->refs = 1;
    if (pdc_idmap_put(&c->objects, id, o)) {
        free(o);
        return NULL;
    }
    return o;
}

/* Free o and what it holds, and delete its store copy (not from the
   table: see s_obj_free). */
static void s_obj_destroy(pdc_client *c, obj_t *o) {
    if (o->stored && c->store) pdc_store_delete(c->store, o->id);
    if (o->stored && (o->spread || strcmp(o->node, c->node_id)) && !c->stopping) {
        /* Copies elsewhere go with an OBJECT_FREE the I/O thread sends. */
        if (c->nfrees == c->capfrees) {
            size_t cap = c->capfrees ? 2 * c->capfrees : 64;
            void *grown = realloc(c->frees, cap * sizeof *c->frees);
            if (grown) c->frees = grown, c->capfrees = cap;
        }
        if (c->nfrees < c->capfrees) memcpy(c->frees[c->nfrees++], o->id, PDC_ID_LEN);
        if (c->io_started) uv_async_send(&c->wake);
    }
    free(o->data);
    free((char *) o->err.function);
    free((char *) o->err.message);
    free((char *) o->err.node);
    free(o->dependents);
    free(o);
}

static void s_obj_free(pdc_client *c, obj_t *o) {
    pdc_idmap_del(&c->objects, o->id);
    s_obj_destroy(c, o);
}

static void s_obj_unref(pdc_client *c, obj_t *o) {
    if (--o->refs == 0) s_obj_free(c, o);
}

static void s_obj_fail(obj_t *o, int code, const char *function,
                       const char *node, const char *message) {
    o->state = OBJ_FAILED;
    o->type = PDC_T_ERROR;
    o->err.code = code;
    o->err.function = s_strdup(function);
    o->err.node = s_strdup(node);
    o->err.message = s_strdup(message);
}

static const char *s_intern(pdc_client *c, const char *text) {
    for (interned_t *s = c->strings; s; s = s->next)
        if (!strcmp(s->text, text)) return s->text;
    size_t n = strlen(text) + 1;
    interned_t *s = malloc(sizeof *s + n);
    if (!s) return NULL;
    memcpy(s->text, text, n);
    s->next = c->strings;
    c->strings = s;
    return s->text;
}

/* ---- Tasks on the owner ----------------------------------------------- */

static void s_task_free(pdc_client *c, task_t *t) {
    if (t->actor) pdc_actor_unref(c, t->actor);
    for (size_t i = 0; i < t->nargs; i++) {
        if (t->args[i].actor) pdc_actor_unref(c, t->args[i].actor);
        if (t->args[i].ref)
            s_obj_unref(c, t->args[i].ref);
        else
            free(t->args[i].data);
    }
    free(t->args);
    free(t);
}

static void s_queue_push(sched_class_t *cls, task_t *t, int front) {
    t->state = T_QUEUED;
    t->prev = t->next = NULL;
    if (!cls->head) {
        cls->head = cls->tail = t;
    } else if (front) {
        t->next = cls->head;
        cls->head->prev = t;
        cls->head = t;
    } else {
        t->prev = cls->tail;
        cls->tail->next = t;
        cls->tail = t;
    }
    cls->queued++;
}

static void s_queue_remove(sched_class_t *cls, task_t *t) {
    if (t->prev) t->prev->next = t->next; else cls->head = t->next;
    if (t->next) t->next->prev = t->prev; else cls->tail = t->prev;
    t->prev = t->next = NULL;
    cls->queued--;
}

static void s_task_finish(pdc_client *c, task_t *t);

/* t's arguments are ready: queue it where it will be pushed from. */
static void s_task_ready(pdc_client *c, task_t *t) {
    if (t->actor)
        pdc_actor_enqueue(c, t);
    else
        s_queue_push(t->cls, t, 0);
}

/* A dependency of t became ready or failed. */
static void s_task_dep_done(pdc_client *c, task_t *t, obj_t *dep) {
    if (t->state != T_WAITING) return;
    if (dep->state == OBJ_FAILED) {
        char fn[512];
        snprintf(fn, sizeof fn, "%s:%s", t->library, t->function);
        char msg[1024];
        snprintf(msg, sizeof msg, "an argument failed: %s: %s",
                 dep->err.function, dep->err.message);
        s_obj_fail(t->result, dep->err.code, fn, dep->err.node, msg);
        s_task_finish(c, t);
        return;
    }
    if (--t->pending_deps == 0) s_task_ready(c, t);
}

/* The task's result object reached its final state: wake dependents and
   waiters, free the task. */
static void s_task_finish(pdc_client *c, task_t *t) {
    obj_t *o = t->result;
    if (t->actor) pdc_actor_dequeue(t->actor, t); /* failed before it was sent */
    t->state = T_DONE;
    o->task = NULL;
    for (int i = 0; i < o->ndependents; i++) s_task_dep_done(c, o->dependents[i], o);
    free(o->dependents);
    o->dependents = NULL;
    o->ndependents = o->capdependents = 0;
    s_task_free(c, t);
    pthread_cond_broadcast(&c->cv);
    s_obj_unref(c, o); /* the task's hold on its result */
}

static sched_class_t *s_class(pdc_client *c, double cpus, const pdc_resources_t *res,
                              const pdc_sched_t *sched) {
    char key[700], rkey[256];
    snprintf(key, sizeof key, "%s|%u|%s|%d|%s", pdc_resources_format(res, rkey, sizeof rkey),
             sched->strategy, sched->node, sched->soft, sched->labels);
    for (sched_class_t *k = c->classes; k; k = k->next)
        if (k->cpus == cpus && !strcmp(k->key, key)) return k;
    sched_class_t *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->cpus = cpus;
    k->res = *res;
    k->sched = *sched;
    snprintf(k->key, sizeof k->key, "%s", key);
    k->busy_us = -1;
    k->next = c->classes;
    c->classes = k;
    return k;
}

static void s_wake_io(pdc_client *c) {
    if (c->io_started) uv_async_send(&c->wake);
}

static pdc_ref s_error_ref(pdc_client *c, int code, const char *function,
                           const char *message) {
    pdc_ref ref;
    pdc_id_new(ref.id);
    obj_t *o = s_obj_new(c, ref.id);
    if (o) s_obj_fail(o, code, function, c->node_id, message);
    pdc_set_error(code, "%s", message);
    return ref;
}

pdc_fn pdc_function(pdc_client *c, const char *library, const char *name) {
    pdc_fn fn = {NULL, NULL};
    if (!c || !library || !name) return fn;
    char path[PATH_MAX];
    if (library[0] != '/' && strchr(library, '/') && realpath(library, path))
        library = path;
    pthread_mutex_lock(&c->mu);
    fn.library = s_intern(c, library);
    fn.name = s_intern(c, name);
    pthread_mutex_unlock(&c->mu);
    return fn;
}

static int s_copy_arg(task_arg_t *a, const pdc_value *v) {
    a->type = v->type;
    switch (v->type) {
    case PDC_T_I64: a->i64 = v->as.i64; return 0;
    case PDC_T_F64: a->f64 = v->as.f64; return 0;
    case PDC_T_NIL: return 0;
    case PDC_T_STR:
    case PDC_T_BYTES:
        if (v->as.buf.size && !v->as.buf.data) return -1;
        a->size = v->as.buf.size;
        a->data = malloc(a->size ? a->size : 1);
        if (!a->data) return -1;
        if (a->size) memcpy(a->data, v->as.buf.data, a->size);
        return 0;
    default: return -1;
    }
}

/* Drop t from the dependency lists of its arguments. */
static void s_task_undepend(task_t *t) {
    for (size_t i = 0; i < t->nargs; i++) {
        obj_t *dep = t->args[i].ref;
        if (!dep) continue;
        for (int k = 0; k < dep->ndependents; k++)
            if (dep->dependents[k] == t) dep->dependents[k--] = dep->dependents[--dep->ndependents];
    }
}

/* Add t as waiting on dep.  0, or -1 out of memory. */
static int s_task_depend(task_t *t, obj_t *dep) {
    if (dep->ndependents == dep->capdependents) {
        int cap = dep->capdependents ? dep->capdependents * 2 : 4;
        task_t **d = realloc(dep->dependents, (size_t) cap * sizeof *d);
        if (!d) return -1;
        dep->dependents = d;
        dep->capdependents = cap;
    }
    dep->dependents[dep->ndependents++] = t;
    t->pending_deps++;
    return 0;
}

task_t *pdc_client_task_new(pdc_client *c, const char *library, const char *function,
                            const pdc_value *args, size_t nargs, pdc_ref *ref) {
    char fname[1024];
    snprintf(fname, sizeof fname, "%s:%s", library ? library : "?", function ? function : "?");
    if (c->stopping) {
        *ref = s_error_ref(c, PDC_ESHUTDOWN, fname, "the client is shutting down");
        return NULL;
    }
    task_t *t = calloc(1, sizeof *t);
    if (t) t->args = calloc(nargs ? nargs : 1, sizeof *t->args);
    if (!t || !t->args) {
        free(t);
        *ref = s_error_ref(c, PDC_ENOMEM, fname, "out of memory");
        return NULL;
    }
    pdc_id_new(t->id);
    memcpy(ref->id, t->id, PDC_ID_LEN);
    t->library = library;
    t->function = function;
    t->nargs = nargs;
    t->result = s_obj_new(c, t->id);
    if (!t->result) {
        free(t->args);
        free(t);
        *ref = s_error_ref(c, PDC_ENOMEM, fname, "out of memory");
        return NULL;
    }
    t->result->refs = 2; /* the caller's and the task's */
    t->result->task = t;
    t->state = T_WAITING;

    obj_t *failed_dep = NULL;
    char why[256] = "";
    int bad = 0;
    for (size_t i = 0; i < nargs; i++) {
        task_arg_t *a = &t->args[i];
        if (args[i].type == PDC_T_ACTOR) {
            pdc_actor *h = args[i].as.actor;
            if (!h || h->client != c) {
                snprintf(why, sizeof why, "argument %zu: not an actor handle of this client", i);
                bad = PDC_EINVAL;
                continue;
            }
            a->type = PDC_T_ACTOR;
            a->actor = h;
            h->refs++;
            if (h->state == A_DEAD) {
                snprintf(why, sizeof why, "argument %zu: the actor is dead: %s", i, h->dead_why);
                bad = PDC_EACTORDIED;
            } else if (h->ready && h->ready->state != OBJ_READY) {
                /* Pass the handle once the actor is placed and built. */
                a->ref = h->ready;
                h->ready->refs++;
                if (h->ready->state == OBJ_FAILED)
                    failed_dep = h->ready;
                else if (s_task_depend(t, h->ready))
                    bad = PDC_ENOMEM;
            }
            continue;
        }
        if ((args[i].type == PDC_T_STR || args[i].type == PDC_T_BYTES) &&
            args[i].as.buf.size > c->inline_max && args[i].as.buf.data) {
            /* Large values go once into the store; the task holds the
               only reference, so the copy goes when the task does. */
            uint8_t id[PDC_ID_LEN];
            char err[512];
            pdc_id_new(id);
            int rc = pdc_store_put(c->store, id, args[i].type, args[i].as.buf.data,
                                   args[i].as.buf.size, err, sizeof err);
            obj_t *o = rc == PDC_OK ? s_obj_new(c, id) : NULL;
            if (!o) {
                if (rc == PDC_OK) pdc_store_delete(c->store, id);
                snprintf(why, sizeof why, "argument %zu (%zu bytes): %s", i, args[i].as.buf.size,
                         rc == PDC_OK ? "out of memory" : err);
                bad = rc == PDC_OK ? PDC_ENOMEM : rc;
                continue;
            }
            o->state = OBJ_READY;
            o->stored = 1;
            snprintf(o->node, sizeof o->node, "%s", c->node_id);
            o->type = args[i].type;
            o->size = args[i].as.buf.size;
            a->type = PDC_T_REF;
            a->ref = o;
            continue;
        }
        if (args[i].type != PDC_T_REF) {
            if (s_copy_arg(a, &args[i])) {
                snprintf(why, sizeof why, "argument %zu has an invalid type or buffer", i);
                bad = PDC_EINVAL;
            }
            continue;
        }
        obj_t *dep = pdc_idmap_get(&c->objects, args[i].as.ref.id);
        if (!dep) {
            char hex[33];
            snprintf(why, sizeof why, "argument %zu: unknown object reference %s "
                     "(released, or owned by another process)", i,
                     pdc_id_hex(args[i].as.ref.id, hex));
            bad = PDC_ENOTFOUND;
            continue;
        }
        a->type = PDC_T_REF;
        a->ref = dep;
        dep->refs++;
        if (dep->state == OBJ_FAILED)
            failed_dep = dep;
        else if (dep->state == OBJ_PENDING && s_task_depend(t, dep))
            bad = PDC_ENOMEM;
    }
    if (bad) {
        s_obj_fail(t->result, bad, fname, c->node_id, why);
        pdc_set_error(bad, "%s", why);
        s_task_undepend(t);
        s_task_finish(c, t);
        return NULL;
    }
    if (failed_dep) {
        s_task_undepend(t);
        t->pending_deps = 1;
        s_task_dep_done(c, t, failed_dep);
        return NULL;
    }
    return t;
}

void pdc_client_task_submit(pdc_client *c, task_t *t) {
    if (t->pending_deps == 0) s_task_ready(c, t);
}

pdc_ref pdc_call_args(pdc_client *c, pdc_fn fn, const pdc_opts *opts,
                      const pdc_value *args, size_t nargs) {
    pdc_ref ref;
    memset(&ref, 0, sizeof ref);
    if (!c) {
        pdc_set_error(PDC_EINVAL, "pdc_call: no client");
        return ref;
    }
    pthread_mutex_lock(&c->mu);
    if (!fn.library || !fn.name) {
        ref = s_error_ref(c, PDC_EINVAL, "?:?", "pdc_call: the function has no library or name");
        pthread_mutex_unlock(&c->mu);
        return ref;
    }
    pdc_resources_t res;
    pdc_sched_t sched;
    char why[300];
    if (pdc_resources_parse(opts ? opts->resources : NULL, &res, why, sizeof why) ||
        pdc_sched_from_opts(&sched, opts ? opts->strategy : 0, opts ? opts->node_id : NULL,
                            opts ? opts->soft : 0, opts ? opts->label_selector : NULL, why,
                            sizeof why)) {
        ref = s_error_ref(c, PDC_EINVAL, fn.name, why);
        pthread_mutex_unlock(&c->mu);
        return ref;
    }
    task_t *t = pdc_client_task_new(c, fn.library, fn.name, args, nargs, &ref);
    if (t) {
        double cpus = opts && opts->num_cpus > 0 ? opts->num_cpus : 1.0;
        t->cpus = cpus;
        t->retries_left = !opts || opts->max_retries == 0 ? 3 : opts->max_retries < 0 ? 0 : opts->max_retries;
        t->cls = s_class(c, cpus, &res, &sched);
        if (!t->cls) {
            s_obj_fail(t->result, PDC_ENOMEM, fn.name, c->node_id, "out of memory");
            s_task_undepend(t);
            s_task_finish(c, t);
            t = NULL;
        } else {
            pdc_client_task_submit(c, t);
        }
    }
    int wake = t && t->state == T_QUEUED;
    pthread_mutex_unlock(&c->mu);
    if (wake) s_wake_io(c);
    return ref;
}

int pdc_cancel(pdc_client *c, pdc_ref ref) {
    if (!c) return PDC_EINVAL;
    pthread_mutex_lock(&c->mu);
    obj_t *o = pdc_idmap_get(&c->objects, ref.id);
    int rc = PDC_OK;
    if (!o) {
        rc = pdc_set_error(PDC_ENOTFOUND, "pdc_cancel: unknown reference");
    } else if (o->state != OBJ_PENDING || !o->task) {
        rc = pdc_set_error(PDC_EINVAL, "pdc_cancel: the task already finished");
    } else if (o->task->state == T_INFLIGHT) {
        rc = pdc_set_error(PDC_EINVAL, "pdc_cancel: the task is already running");
    } else {
        task_t *t = o->task;
        if (t->state == T_QUEUED) {
            if (t->actor)
                pdc_actor_dequeue(t->actor, t);
            else
                s_queue_remove(t->cls, t);
        }
        s_task_undepend(t);
        char fn[1024];
        snprintf(fn, sizeof fn, "%s:%s", t->library, t->function);
        s_obj_fail(o, PDC_ECANCELLED, fn, "", "the task was cancelled before it ran");
        s_task_finish(c, t);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- Put -------------------------------------------------------------- */

pdc_ref pdc_put(pdc_client *c, pdc_value v, int *status) {
    pdc_ref ref;
    pdc_id_new(ref.id);
    int rc = PDC_OK;
    if (!c) {
        if (status) *status = PDC_EINVAL;
        return ref;
    }
    int large = (v.type == PDC_T_STR || v.type == PDC_T_BYTES) &&
                v.as.buf.size > c->inline_max;
    if (v.type == PDC_T_REF || v.type == PDC_T_ERROR ||
        ((v.type == PDC_T_STR || v.type == PDC_T_BYTES) && v.as.buf.size && !v.as.buf.data)) {
        pthread_mutex_lock(&c->mu);
        ref = s_error_ref(c, PDC_EINVAL, "pdc_put", "pdc_put: a value must be an int, float, string or bytes");
        pthread_mutex_unlock(&c->mu);
        if (status) *status = PDC_EINVAL;
        return ref;
    }
    char err[512] = "";
    if (large)
        rc = pdc_store_put(c->store, ref.id, v.type, v.as.buf.data, v.as.buf.size, err, sizeof err);
    pthread_mutex_lock(&c->mu);
    if (rc != PDC_OK) {
        ref = s_error_ref(c, rc, "pdc_put", err);
        pthread_mutex_unlock(&c->mu);
        if (status) *status = rc;
        return ref;
    }
    obj_t *o = s_obj_new(c, ref.id);
    if (!o) {
        if (large) pdc_store_delete(c->store, ref.id);
        ref = s_error_ref(c, PDC_ENOMEM, "pdc_put", "out of memory");
        pthread_mutex_unlock(&c->mu);
        if (status) *status = PDC_ENOMEM;
        return ref;
    }
    o->type = v.type;
    o->state = OBJ_READY;
    if (large) {
        o->stored = 1;
        o->size = v.as.buf.size;
        snprintf(o->node, sizeof o->node, "%s", c->node_id);
    } else {
        task_arg_t tmp = {0};
        if (s_copy_arg(&tmp, &v)) {
            s_obj_fail(o, PDC_ENOMEM, "pdc_put", c->node_id, "out of memory");
            rc = PDC_ENOMEM;
        }
        o->i64 = tmp.i64;
        o->f64 = tmp.f64;
        o->data = tmp.data;
        o->size = tmp.size;
    }
    pthread_mutex_unlock(&c->mu);
    if (status) *status = rc;
    return ref;
}

struct pdc_put_reservation {
    pdc_ref ref;
    void *data;
    size_t size;
};

void *pdc_put_reserve(pdc_client *c, size_t size, void **reservation) {
    if (!c || !reservation) return NULL;
    struct pdc_put_reservation *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    pdc_id_new(r->ref.id);
    r->size = size;
    r->data = malloc(size ? size : 1);
    if (!r->data) {
        free(r);
        pdc_set_error(PDC_ENOMEM, "pdc_put_reserve: out of memory for %zu bytes", size);
        return NULL;
    }
    *reservation = r;
    return r->data;
}

pdc_ref pdc_put_commit(pdc_client *c, void **reservation, int *status) {
    struct pdc_put_reservation *r = *reservation;
    *reservation = NULL;
    pdc_ref ref = pdc_put(c, PDC_BYTES(r->data, r->size), status);
    free(r->data);
    free(r);
    return ref;
}

/* ---- Get, wait, release ----------------------------------------------- */

typedef struct {
    obj_t *obj;
    pdc_store_pin_t *pin;
} obj_pin_t;

static void s_deadline(struct timespec *ts, int64_t timeout_ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (timeout_ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* A worker that waits inside a task gives its CPU slot back meanwhile. */
static void s_control(pdc_client *c, int type) {
    if (c->ncontrol < (int) (sizeof c->control / sizeof c->control[0]))
        c->control[c->ncontrol++] = type;
}

static int s_in_task(pdc_client *c) {
    return c->is_worker && pthread_equal(pthread_self(), c->exec_thread);
}

/* Wait (mutex held) until pred(c, arg) or the timeout. 0 or PDC_ETIMEOUT. */
static int s_wait_until(pdc_client *c, int (*pred)(pdc_client *, void *),
                        void *arg, int64_t timeout_ms) {
    if (pred(c, arg)) return PDC_OK;
    if (timeout_ms == 0) return PDC_ETIMEOUT;
    struct timespec deadline;
    if (timeout_ms > 0) s_deadline(&deadline, timeout_ms);
    int blocked = s_in_task(c);
    uint64_t blocked_since = 0;
    if (blocked) {
        s_control(c, PDC_MSG_BLOCKED);
        uv_async_send(&c->wake);
        blocked_since = s_now_us();
    }
    int rc = PDC_OK;
    while (!pred(c, arg)) {
        if (c->stopping) { rc = PDC_ESHUTDOWN; break; }
        if (timeout_ms < 0) {
            pthread_cond_wait(&c->cv, &c->mu);
        } else if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == ETIMEDOUT) {
            rc = pred(c, arg) ? PDC_OK : PDC_ETIMEOUT;
            break;
        }
    }
    if (blocked) {
        s_control(c, PDC_MSG_UNBLOCKED);
        uv_async_send(&c->wake);
        c->blocked_us += s_now_us() - blocked_since;
    }
    return rc;
}

static int s_obj_done(pdc_client *c, void *arg) {
    (void) c;
    return ((obj_t *) arg)->state != OBJ_PENDING;
}

int pdc_get(pdc_client *c, pdc_ref ref, pdc_object *out, int64_t timeout_ms) {
    if (!c || !out) return pdc_set_error(PDC_EINVAL, "pdc_get: no client or output");
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->mu);
    obj_t *o = pdc_idmap_get(&c->objects, ref.id);
    if (!o) {
        pthread_mutex_unlock(&c->mu);
        char hex[33];
        return pdc_set_error(PDC_ENOTFOUND, "pdc_get: unknown object %s (released?)",
                             pdc_id_hex(ref.id, hex));
    }
    o->refs++; /* stays alive while we wait and while out is held */
    int rc = s_wait_until(c, s_obj_done, o, timeout_ms);
    if (rc != PDC_OK) {
        s_obj_unref(c, o);
        pthread_mutex_unlock(&c->mu);
        return pdc_set_error(rc, rc == PDC_ETIMEOUT ? "pdc_get: timed out after %lld ms"
                                                    : "pdc_get: the client is shutting down",
                             (long long) timeout_ms);
    }
    obj_pin_t *pin = calloc(1, sizeof *pin);
    if (!pin) {
        s_obj_unref(c, o);
        pthread_mutex_unlock(&c->mu);
        return pdc_set_error(PDC_ENOMEM, "pdc_get: out of memory");
    }
    pin->obj = o;
    out->pin_ = pin;
    out->type = o->type;
    if (o->state == OBJ_FAILED) {
        out->type = PDC_T_ERROR;
        out->error = o->err;
        rc = o->err.code;
        pdc_set_error(rc, "%s failed on node %s: %s", o->err.function, o->err.node,
                      o->err.message);
    } else if (o->stored) {
        pdc_type type;
        if (strcmp(o->node, c->node_id) && !pdc_store_contains(c->store, o->id)) {
            /* Made on another node: bring it here first. */
            char node[PDC_NODE_LEN], why[512];
            snprintf(node, sizeof node, "%s", o->node);
            o->spread = 1;
            pthread_mutex_unlock(&c->mu);
            int pulled = pdc_client_pull(c, o->id, node, timeout_ms, why, sizeof why);
            pthread_mutex_lock(&c->mu);
            if (pulled != PDC_OK) {
                out->pin_ = NULL;
                free(pin);
                s_obj_unref(c, o);
                pthread_mutex_unlock(&c->mu);
                return pdc_set_error(pulled, "pdc_get: %s", why);
            }
        }
        rc = pdc_store_get(c->store, o->id, &out->data, &out->size, &type, &pin->pin);
        if (rc != PDC_OK) {
            out->pin_ = NULL;
            free(pin);
            s_obj_unref(c, o);
            pthread_mutex_unlock(&c->mu);
            char hex[33];
            return pdc_set_error(PDC_EOBJECTLOST, "pdc_get: object %s is gone from the store",
                                 pdc_id_hex(ref.id, hex));
        }
        out->type = type;
    } else {
        out->i64 = o->i64;
        out->f64 = o->f64;
        out->data = o->data;
        out->size = o->size;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void pdc_object_release(pdc_client *c, pdc_object *obj) {
    if (!c || !obj || !obj->pin_) return;
    obj_pin_t *pin = obj->pin_;
    if (pin->pin) pdc_store_unpin(c->store, &pin->pin);
    pthread_mutex_lock(&c->mu);
    s_obj_unref(c, pin->obj);
    pthread_mutex_unlock(&c->mu);
    free(pin);
    memset(obj, 0, sizeof *obj);
}

static const char *s_type_name(pdc_type t) {
    static const char *names[] = {"nil", "int", "float", "string", "bytes", "reference", "error"};
    return (unsigned) t < 7 ? names[t] : "?";
}

int pdc_get_i64(pdc_client *c, pdc_ref ref, int64_t *out, int64_t timeout_ms) {
    pdc_object o;
    int rc = pdc_get(c, ref, &o, timeout_ms);
    if (rc == PDC_OK && o.type != PDC_T_I64)
        rc = pdc_set_error(PDC_ETYPE, "pdc_get_i64: the object holds %s, not int", s_type_name(o.type));
    else if (rc == PDC_OK)
        *out = o.i64;
    pdc_object_release(c, &o);
    return rc;
}

int pdc_get_f64(pdc_client *c, pdc_ref ref, double *out, int64_t timeout_ms) {
    pdc_object o;
    int rc = pdc_get(c, ref, &o, timeout_ms);
    if (rc == PDC_OK && o.type != PDC_T_F64 && o.type != PDC_T_I64)
        rc = pdc_set_error(PDC_ETYPE, "pdc_get_f64: the object holds %s, not float", s_type_name(o.type));
    else if (rc == PDC_OK)
        *out = o.type == PDC_T_F64 ? o.f64 : (double) o.i64;
    pdc_object_release(c, &o);
    return rc;
}

typedef struct {
    obj_t **objs;
    size_t n, want;
} wait_set_t;

static int s_enough_ready(pdc_client *c, void *arg) {
    (void) c;
    wait_set_t *w = arg;
    size_t ready = 0;
    for (size_t i = 0; i < w->n; i++) ready += !w->objs[i] || w->objs[i]->state != OBJ_PENDING;
    return ready >= w->want;
}

int pdc_wait(pdc_client *c, const pdc_ref *refs, size_t n, size_t num_ready,
             int64_t timeout_ms, uint8_t *ready) {
    if (!c || (n && (!refs || !ready))) return pdc_set_error(PDC_EINVAL, "pdc_wait: bad arguments");
    if (num_ready > n) num_ready = n;
    obj_t **objs = calloc(n ? n : 1, sizeof *objs);
    if (!objs) return pdc_set_error(PDC_ENOMEM, "pdc_wait: out of memory");
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        objs[i] = pdc_idmap_get(&c->objects, refs[i].id);
        if (objs[i]) objs[i]->refs++;
    }
    wait_set_t set = {objs, n, num_ready};
    int rc = s_wait_until(c, s_enough_ready, &set, timeout_ms);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        ready[i] = !objs[i] || objs[i]->state != OBJ_PENDING;
        count += ready[i];
        if (objs[i]) s_obj_unref(c, objs[i]);
    }
    pthread_mutex_unlock(&c->mu);
    free(objs);
    return rc == PDC_ESHUTDOWN ? rc : count;
}

void pdc_ref_retain(pdc_client *c, pdc_ref ref) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    obj_t *o = pdc_idmap_get(&c->objects, ref.id);
    if (o) o->refs++;
    pthread_mutex_unlock(&c->mu);
}

void pdc_ref_release(pdc_client *c, pdc_ref ref) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    obj_t *o = pdc_idmap_get(&c->objects, ref.id);
    if (o) s_obj_unref(c, o);
    pthread_mutex_unlock(&c->mu);
}

/* ---- The I/O thread: leases, pushes, results -------------------------- */

static void s_send_raylet(pdc_client *c) {
    pdc_wire_send(zsock_resolve(c->raylet), NULL, 0, &c->enc, NULL, 0);
}

static void s_on_conn(pdc_zwatch_t *watch, void *sock, void *arg);

static conn_t *s_conn(pdc_client *c, const char *endpoint) {
    for (conn_t *k = c->conns; k; k = k->next)
        if (!strcmp(k->endpoint, endpoint)) return k;
    conn_t *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    snprintf(k->endpoint, sizeof k->endpoint, "%s", endpoint);
    k->client = c;
    k->sock = zsock_new(ZMQ_DEALER);
    if (!k->sock) {
        free(k);
        return NULL;
    }
    pdc_remote_tune(c, k->sock, endpoint);
    zsock_connect(k->sock, "%s", endpoint);
    k->watch = pdc_zwatch_new(&c->loop, zsock_resolve(k->sock), s_on_conn, k);
    k->next = c->conns;
    c->conns = k;
    return k;
}

static void s_conn_close(pdc_client *c, conn_t *k) {
    for (conn_t **p = &c->conns; *p; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            break;
        }
    pdc_zwatch_destroy(&k->watch);
    pdc_zwatch_destroy(&k->monitor_watch);
    if (k->monitor) zmq_socket_monitor(zsock_resolve(k->sock), NULL, 0);
    zsock_destroy(&k->monitor);
    zsock_destroy(&k->sock);
    free(k);
}

static void s_encode_args(pdc_client *c, task_t *t, const char *node);

static void s_encode_task(pdc_client *c, task_t *t, const char *node) {
    pdc_enc_t *e = &c->enc;
    pdc_enc_array(e, 4);
    pdc_enc_id(e, t->id);
    pdc_enc_s(e, node && *node ? pdc_client_library_for(c, t->library, node) : t->library);
    pdc_enc_s(e, t->function);
    s_encode_args(c, t, node);
}

/* The arguments of t for a worker on node: a stored object on another
   node goes as "ID@HOLDER", for that worker's raylet to pull. */
static void s_encode_args(pdc_client *c, task_t *t, const char *node) {
    pdc_enc_t *e = &c->enc;
    pdc_enc_array(e, t->nargs);
    for (size_t i = 0; i < t->nargs; i++) {
        task_arg_t *a = &t->args[i];
        obj_t *o = a->ref;
        pdc_type type = o ? o->type : a->type;
        pdc_enc_array(e, 2);
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
        pdc_enc_u(e, PDC_ARG_INLINE);
        const void *data = o ? o->data : a->data;
        size_t size = o ? o->size : a->size;
        switch (type) {
        case PDC_T_I64: pdc_enc_i(e, o ? o->i64 : a->i64); break;
        case PDC_T_F64: pdc_enc_f(e, o ? o->f64 : a->f64); break;
        case PDC_T_STR: pdc_enc_sn(e, data, size); break;
        case PDC_T_BYTES: pdc_enc_b(e, data, size); break;
        default: pdc_enc_nil(e); break;
        }
    }
}

/* How many of k's queued tasks to push to lease l now.

   Short tasks are pushed in batches of up to max_tasks_in_flight, the
   queue shared among the leases: per-task messages would cost more than
   the tasks.  Long tasks (busy longer than spread_min_us on average, or
   not measured yet) go at most two to a worker (one running, one ready),
   and the rest stay queued so that s_pump asks for another lease: eight
   100 ms tasks then run on every free CPU, not in a row on one.  Busy
   time excludes time blocked in pdc_get, so recursive tasks count as
   short and are not spread: spreading them would start a worker for each
   blocked parent. */
static size_t s_push_count(pdc_client *c, sched_class_t *k, lease_t *l) {
    size_t limit = (size_t) c->cfg.max_tasks_in_flight;
    int long_tasks = k->busy_us < 0 || k->busy_us >= (double) c->cfg.spread_min_us;
    if (long_tasks && limit > 2) limit = 2;
    if ((size_t) l->inflight >= limit) return 0;
    size_t nleases = 0;
    for (lease_t *x = k->leases; x; x = x->next) nleases++;
    size_t ways = nleases ? nleases : 1;
    size_t share = (k->queued + ways - 1) / ways;
    size_t room = limit - (size_t) l->inflight;
    size_t n = room < share ? room : share;
    return n < k->queued ? n : k->queued;
}

static void s_dispatch(pdc_client *c, sched_class_t *k, lease_t *l) {
    int spread = k->sched.strategy == PDC_SCHED_SPREAD;
    size_t n = spread ? (l->spent ? 0 : 1) : s_push_count(c, k, l);
    if (n == 0) return;
    if (!l->told) {
        /* The worker learns the lease's GPUs before its first task. */
        pdc_client_encode_worker_lease(c, l->gpu_ids);
        pdc_wire_send(zsock_resolve(l->conn->sock), NULL, 0, &c->enc, NULL, 0);
        l->told = 1;
    }
    l->spent = spread;
    pdc_enc_begin(&c->enc, PDC_MSG_PUSH_TASKS, 0);
    pdc_enc_array(&c->enc, n);
    for (size_t i = 0; i < n; i++) {
        task_t *t = k->head;
        s_queue_remove(k, t);
        t->state = T_INFLIGHT;
        t->lease = l;
        t->prev = NULL;
        t->next = l->tasks;
        if (l->tasks) l->tasks->prev = t;
        l->tasks = t;
        l->inflight++;
        s_encode_task(c, t, l->node);
    }
    pdc_wire_send(zsock_resolve(l->conn->sock), NULL, 0, &c->enc, NULL, 0);
}

static void s_lease_return(pdc_client *c, sched_class_t *k, lease_t *l) {
    for (lease_t **p = &k->leases; *p; p = &(*p)->next)
        if (*p == l) {
            *p = l->next;
            break;
        }
    pdc_enc_begin(&c->enc, PDC_MSG_LEASE_RETURN, 0);
    pdc_enc_id(&c->enc, l->worker_id);
    pdc_wire_send(l->raylet ? l->raylet : zsock_resolve(c->raylet), NULL, 0, &c->enc, NULL, 0);
    free(l);
}

static void s_on_lease_timer(uv_timer_t *h);

/* Look at every class: push what can be pushed, ask for leases where tasks
   wait, return leases idle for too long.  Mutex held. */
static void s_pump(pdc_client *c) {
    while (c->ncontrol) {
        pdc_enc_begin(&c->enc, (pdc_msg_type) c->control[0], 0);
        s_send_raylet(c);
        memmove(c->control, c->control + 1, (size_t) --c->ncontrol * sizeof c->control[0]);
    }
    pdc_actor_pump(c);
    pdc_remote_send(c);
    uint64_t now = s_now_ms(), next_check = 0;
    for (sched_class_t *k = c->classes; k; k = k->next) {
        for (lease_t *l = k->leases; l && k->queued; l = l->next) s_dispatch(c, k, l);
        /* Spread asks for a lease per queued task, so that each lands on
           the next node; long tasks (two to a worker, see s_push_count)
           ask for the leases they can use, several at once, so that a
           cluster fills quickly; short ones share one request at a time
           and travel in batches. */
        int long_tasks = k->busy_us < 0 || k->busy_us >= (double) c->cfg.spread_min_us;
        size_t want = k->sched.strategy == PDC_SCHED_SPREAD ? k->queued
                      : long_tasks                          ? (k->queued + 1) / 2
                                                            : 1;
        size_t cap = k->sched.strategy == PDC_SCHED_SPREAD ? (size_t) c->cfg.max_tasks_in_flight
                                                           : (size_t) c->cfg.max_pending_lease_requests;
        if (want > cap) want = cap;
        if (want < 1) want = 1;
        while (k->queued && (size_t) k->requests < want) {
            k->requests++;
            pdc_client_request_lease(c, NULL, (uint64_t) (uintptr_t) k, k->cpus, 0, &k->res, &k->sched,
                                     pdc_remote_locality(k->head));
        }
        for (lease_t *l = k->leases, *next; l; l = next) {
            next = l->next;
            if (l->inflight || (k->queued && !l->spent)) continue;
            if (l->spent || now - l->idle_since >= (uint64_t) c->cfg.lease_idle_ms || c->stopping)
                s_lease_return(c, k, l);
            else if (!next_check || l->idle_since + (uint64_t) c->cfg.lease_idle_ms < next_check)
                next_check = l->idle_since + (uint64_t) c->cfg.lease_idle_ms;
        }
    }
    if (next_check)
        uv_timer_start(&c->lease_timer, s_on_lease_timer, next_check - now, 0);
}

static sched_class_t *s_class_of_request(pdc_client *c, uint64_t request_id) {
    for (sched_class_t *k = c->classes; k; k = k->next)
        if ((uint64_t) (uintptr_t) k == request_id) return k;
    return NULL;
}

static void s_fail_queue(pdc_client *c, sched_class_t *k, int code, const char *why) {
    while (k->head) {
        task_t *t = k->head;
        s_queue_remove(k, t);
        char fn[1024];
        snprintf(fn, sizeof fn, "%s:%s", t->library, t->function);
        s_obj_fail(t->result, code, fn, "", why);
        s_task_finish(c, t);
    }
}

static void s_on_worker_died(pdc_client *c, const uint8_t *worker_id, int status) {
    if (pdc_actor_on_worker_died(c, worker_id, status)) return;
    for (sched_class_t *k = c->classes; k; k = k->next)
        for (lease_t *l = k->leases; l; l = l->next) {
            if (!pdc_id_eq(l->worker_id, worker_id)) continue;
            for (lease_t **p = &k->leases; *p; p = &(*p)->next)
                if (*p == l) {
                    *p = l->next;
                    break;
                }
            while (l->tasks) {
                task_t *t = l->tasks;
                l->tasks = t->next;
                t->lease = NULL;
                if (t->retries_left-- > 0) {
                    pdc_warn("worker died (%d) running %s:%s; retrying", status, t->library,
                             t->function);
                    s_queue_push(k, t, 1);
                    continue;
                }
                char fn[1024], why[256];
                snprintf(fn, sizeof fn, "%s:%s", t->library, t->function);
                snprintf(why, sizeof why,
                         "the worker died (%s %d) and the retries are used up",
                         status < 0 ? "signal" : "exit status", status < 0 ? -status : status);
                s_obj_fail(t->result, PDC_EWORKERDIED, fn, c->node_id, why);
                s_task_finish(c, t);
            }
            s_conn_close(c, l->conn);
            free(l);
            return;
        }
}

static void s_on_raylet(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    pdc_client *c = arg;
    pdc_inbound_t in;
    int rc = pdc_wire_recv(sock, 0, &in);
    if (rc == 0) return;
    pthread_mutex_lock(&c->mu);
    if (rc < 0) {
        pdc_warn("refused a message from the raylet: %s", in.error);
    } else if (in.msg.type == PDC_MSG_LEASE_GRANT) {
        sched_class_t *k = s_class_of_request(c, in.msg.request_id);
        char endpoint[PATH_MAX], public_endpoint[PATH_MAX], node[PDC_NODE_LEN], gpu_ids[256];
        pdc_f_cstr(&in.msg.fields[1], endpoint, sizeof endpoint);
        pdc_f_cstr(&in.msg.fields[2], public_endpoint, sizeof public_endpoint);
        pdc_f_cstr(&in.msg.fields[3], node, sizeof node);
        pdc_f_cstr(&in.msg.fields[4], gpu_ids, sizeof gpu_ids);
        pdc_remote_spilled_forget(c, in.msg.request_id, sock);
        void *raylet = sock == zsock_resolve(c->raylet) ? NULL : sock;
        lease_t *l = k ? calloc(1, sizeof *l) : NULL;
        /* (A request asked again after a dropped connection may be
           granted twice; the spare lease is used or returned.) */
        if (k && k->requests > 0) k->requests--;
        if (!k && !pdc_actor_on_grant(c, in.msg.request_id, pdc_f_id(&in.msg.fields[0]), endpoint,
                                      public_endpoint, node, gpu_ids)) {
            /* Nobody wants it (any more): give it straight back. */
            pdc_enc_begin(&c->enc, PDC_MSG_LEASE_RETURN, 0);
            pdc_enc_id(&c->enc, pdc_f_id(&in.msg.fields[0]));
            pdc_wire_send(sock, NULL, 0, &c->enc, NULL, 0);
        } else if (l && k) {
            memcpy(l->worker_id, pdc_f_id(&in.msg.fields[0]), PDC_ID_LEN);
            snprintf(l->node, sizeof l->node, "%s", node);
            snprintf(l->gpu_ids, sizeof l->gpu_ids, "%s", gpu_ids);
            l->raylet = raylet;
            l->conn = s_conn(c, endpoint);
            if (l->conn && raylet && !l->conn->monitor)
                pdc_remote_monitor(c, l->conn->sock, ZMQ_EVENT_DISCONNECTED, &l->conn->monitor,
                                   &l->conn->monitor_watch, pdc_remote_on_lease_monitor, l->conn);
            l->cls = k;
            l->idle_since = s_now_ms();
            l->next = k->leases;
            k->leases = l;
            if (!l->conn || !k->queued) s_lease_return(c, k, l);
        } else {
            free(l);
        }
    } else if (in.msg.type == PDC_MSG_LEASE_REDIRECT) {
        char node[PDC_NODE_LEN], endpoint[PATH_MAX];
        pdc_f_cstr(&in.msg.fields[0], node, sizeof node);
        pdc_f_cstr(&in.msg.fields[1], endpoint, sizeof endpoint);
        pdc_remote_on_redirect(c, in.msg.request_id, node, endpoint);
    } else if (in.msg.type == PDC_MSG_OBJECT_READY) {
        pdc_remote_on_answer(c, in.msg.request_id, PDC_OK, NULL);
    } else if (in.msg.type == PDC_MSG_CODE_PATH) {
        char path[PATH_MAX];
        pdc_remote_on_answer(c, in.msg.request_id, PDC_OK, pdc_f_cstr(&in.msg.fields[1], path, sizeof path));
    } else if (in.msg.type == PDC_MSG_WORKER_DIED) {
        s_on_worker_died(c, pdc_f_id(&in.msg.fields[0]), (int) pdc_f_i(&in.msg.fields[1]));
    } else if (in.msg.type == PDC_MSG_ERROR) {
        char why[512];
        pdc_f_cstr(&in.msg.fields[1], why, sizeof why);
        int code = (int) pdc_f_i(&in.msg.fields[0]);
        sched_class_t *k = s_class_of_request(c, in.msg.request_id);
        pdc_remote_spilled_forget(c, in.msg.request_id, sock);
        if (pdc_remote_on_answer(c, in.msg.request_id, code, why)) {
            /* a pull or a code package: its waiting thread reports it */
        } else if (k) {
            if (k->requests > 0) k->requests--;
            s_fail_queue(c, k, code, why);
        } else if (!pdc_actor_on_lease_error(c, in.msg.request_id, code, why)) {
            pdc_warn("raylet: %s", why);
        }
    }
    s_pump(c);
    pthread_mutex_unlock(&c->mu);
    pdc_inbound_close(&in);
}

/* One result of TASK_RESULTS (validated by the schema). */
static void s_apply_result(pdc_client *c, const msgpack_object *r, const char *node) {
    const msgpack_object *f = r->via.array.ptr;
    obj_t *o = pdc_idmap_get(&c->objects, pdc_f_id(&f[0]));
    if (!o || !o->task || o->task->state != T_INFLIGHT) return;
    task_t *t = o->task;
    lease_t *l = t->lease;
    if (l) {
        if (t->prev) t->prev->next = t->next; else l->tasks = t->next;
        if (t->next) t->next->prev = t->prev;
        if (--l->inflight == 0) l->idle_since = s_now_ms();
    } else if (t->actor) {
        pdc_actor_call_answered(t->actor, t);
    }
    int actor_created = t->actor && o == t->actor->ready;
    unsigned kind = (unsigned) pdc_f_u(&f[2]);
    const msgpack_object *v = &f[3];
    double busy = (double) pdc_f_u(&f[6]);
    sched_class_t *k = t->cls; /* NULL for actor calls */
    if (k) k->busy_us = k->busy_us < 0 ? busy : 0.8 * k->busy_us + 0.2 * busy;
    if (kind == PDC_RES_ERROR) {
        char fn[512], msg[1024];
        s_obj_fail(o, (int) pdc_f_i(&f[1]), pdc_f_cstr(&f[4], fn, sizeof fn), node,
                   pdc_f_cstr(&f[5], msg, sizeof msg));
    } else if (kind == PDC_RES_STORED) {
        o->stored = 1;
        snprintf(o->node, sizeof o->node, "%s", node);
        o->type = PDC_T_BYTES; /* the store header has the real type */
        o->size = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0;
        o->state = OBJ_READY;
    } else {
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
            o->type = v->type == MSGPACK_OBJECT_STR ? PDC_T_STR : PDC_T_BYTES;
            o->size = v->via.bin.size;
            o->data = malloc(o->size ? o->size : 1);
            if (o->data)
                memcpy(o->data, o->size ? v->via.bin.ptr : "", o->size);
            else
                s_obj_fail(o, PDC_ENOMEM, "result", node, "out of memory for the result");
            break;
        default: o->type = PDC_T_NIL; break;
        }
    }
    if (actor_created) pdc_actor_created(c, t->actor);
    s_task_finish(c, t);
}

static void s_on_conn(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    conn_t *k = arg;
    pdc_client *c = k->client;
    pdc_inbound_t in;
    int rc = pdc_wire_recv(sock, 0, &in);
    if (rc == 0) return;
    pthread_mutex_lock(&c->mu);
    if (rc < 0) {
        pdc_warn("refused a message from worker %s: %s", k->endpoint, in.error);
    } else if (in.msg.type == PDC_MSG_TASK_RESULTS) {
        char node[64];
        pdc_f_cstr(&in.msg.fields[0], node, sizeof node);
        const msgpack_object *list = &in.msg.fields[1];
        for (uint32_t i = 0; i < list->via.array.size; i++)
            s_apply_result(c, &list->via.array.ptr[i], node);
    } else if (in.msg.type == PDC_MSG_ERROR) {
        char why[512];
        pdc_warn("worker %s refused our message: %s", k->endpoint,
                 pdc_f_cstr(&in.msg.fields[1], why, sizeof why));
    }
    s_pump(c);
    pthread_mutex_unlock(&c->mu);
    pdc_inbound_close(&in);
}

static void s_on_wake(uv_async_t *h) {
    pdc_client *c = h->data;
    pthread_mutex_lock(&c->mu);
    s_pump(c); /* when stopping, this returns the idle leases */
    int stop = c->stopping;
    pthread_mutex_unlock(&c->mu);
    if (stop) uv_stop(&c->loop);
}

static void s_on_lease_timer(uv_timer_t *h) {
    pdc_client *c = h->data;
    pthread_mutex_lock(&c->mu);
    s_pump(c);
    pthread_mutex_unlock(&c->mu);
}

static void *s_io_main(void *arg) {
    pdc_client *c = arg;
    uv_run(&c->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- Connect and close ------------------------------------------------ */

pdc_client *pdc_client_connect(const char *raylet_endpoint, int is_worker,
                               const uint8_t *worker_id, const char *endpoint,
                               const char *public_endpoint) {
    pdc_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (pdc_config_load(&c->cfg)) {
        free(c);
        return NULL;
    }
    c->is_worker = is_worker;
    c->exec_thread = pthread_self();
    if (worker_id) memcpy(c->worker_id, worker_id, PDC_ID_LEN);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint ? endpoint : "");
    snprintf(c->public_endpoint, sizeof c->public_endpoint, "%s", public_endpoint ? public_endpoint : "");
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    pdc_idmap_init(&c->objects);
    pdc_enc_init(&c->enc);
    zsys_handler_set(NULL);
    c->raylet = zsock_new(ZMQ_DEALER);
    if (!c->raylet) goto fail;
    pdc_wire_tune(zsock_resolve(c->raylet), 0);
    zsock_connect(c->raylet, "%s", raylet_endpoint);

    /* Register synchronously, before the I/O thread takes the socket. */
    pdc_enc_begin(&c->enc, PDC_MSG_REGISTER, 1);
    pdc_enc_u(&c->enc, is_worker ? 1 : 0);
    pdc_enc_u(&c->enc, (uint64_t) getpid());
    uint8_t zero[PDC_ID_LEN] = {0};
    pdc_enc_id(&c->enc, worker_id ? worker_id : zero);
    pdc_enc_s(&c->enc, c->endpoint);
    pdc_enc_s(&c->enc, c->public_endpoint);
    pdc_enc_s(&c->enc, "");
    s_send_raylet(c);
    zmq_pollitem_t item = {zsock_resolve(c->raylet), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, (long) c->cfg.connect_timeout_ms) <= 0) {
        fprintf(stderr, "pdc: the raylet at %s did not answer within %lld ms\n",
                raylet_endpoint, (long long) c->cfg.connect_timeout_ms);
        goto fail;
    }
    pdc_inbound_t in;
    int rc = pdc_wire_recv(zsock_resolve(c->raylet), 0, &in);
    if (rc <= 0 || in.msg.type != PDC_MSG_REGISTERED) {
        char why[256] = "unexpected reply";
        if (rc < 0) snprintf(why, sizeof why, "%s", in.error);
        else if (rc > 0 && in.msg.type == PDC_MSG_ERROR) pdc_f_cstr(&in.msg.fields[1], why, sizeof why);
        fprintf(stderr, "pdc: registering with the raylet at %s failed: %s\n", raylet_endpoint, why);
        if (rc != 0) pdc_inbound_close(&in);
        goto fail;
    }
    pdc_f_cstr(&in.msg.fields[0], c->node_id, sizeof c->node_id);
    pdc_f_cstr(&in.msg.fields[1], c->store_dir, sizeof c->store_dir);
    c->inline_max = (size_t) pdc_f_u(&in.msg.fields[2]);
    pdc_f_cstr(&in.msg.fields[3], c->session, sizeof c->session);
    pdc_f_cstr(&in.msg.fields[4], c->head_endpoint, sizeof c->head_endpoint);
    pdc_inbound_close(&in);
    char err[512];
    c->store = pdc_store_open(c->store_dir, err, sizeof err);
    if (!c->store) {
        fprintf(stderr, "pdc: cannot open the object store %s: %s\n", c->store_dir, err);
        goto fail;
    }

    uv_loop_init(&c->loop);
    uv_async_init(&c->loop, &c->wake, s_on_wake);
    c->wake.data = c;
    uv_timer_init(&c->loop, &c->lease_timer);
    c->lease_timer.data = c;
    uv_timer_init(&c->loop, &c->keepalive);
    c->keepalive.data = c;
    uv_timer_start(&c->keepalive, pdc_remote_on_keepalive, (uint64_t) c->cfg.keepalive_ms,
                   (uint64_t) c->cfg.keepalive_ms);
    c->raylet_watch = pdc_zwatch_new(&c->loop, zsock_resolve(c->raylet), s_on_raylet, c);
    if (pthread_create(&c->io_thread, NULL, s_io_main, c)) goto fail;
    c->io_started = 1;
    return c;
fail:
    zsock_destroy(&c->raylet);
    pdc_store_destroy(&c->store);
    pdc_enc_free(&c->enc);
    pdc_idmap_free(&c->objects);
    free(c);
    return NULL;
}

/* At close: every object left, with the task still producing it (its
   argument objects are freed by this same walk). */
static void s_free_obj(void *value, void *arg) {
    obj_t *o = value;
    if (o->task) {
        task_t *t = o->task;
        for (size_t i = 0; i < t->nargs; i++)
            if (!t->args[i].ref) free(t->args[i].data);
        free(t->args);
        free(t);
    }
    s_obj_destroy(arg, o);
}

void pdc_client_close(pdc_client *c) {
    if (!c) return;
    if (c->io_started) {
        pthread_mutex_lock(&c->mu);
        pdc_actor_stop_owned(c); /* the I/O thread sends the kills below */
        c->stopping = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        uv_async_send(&c->wake);
        pthread_join(c->io_thread, NULL);
        /* Return the leases still held (tasks in flight are abandoned). */
        for (sched_class_t *k = c->classes; k; k = k->next)
            while (k->leases) s_lease_return(c, k, k->leases);
        pdc_actor_free_all(c);
        while (c->conns) s_conn_close(c, c->conns);
        pdc_remote_unwatch(c);
        pdc_zwatch_destroy(&c->raylet_watch);
        pdc_zwatch_destroy(&c->head_watch);
        zsock_destroy(&c->head);
        uv_close((uv_handle_t *) &c->wake, NULL);
        uv_close((uv_handle_t *) &c->lease_timer, NULL);
        uv_close((uv_handle_t *) &c->keepalive, NULL);
        uv_run(&c->loop, UV_RUN_DEFAULT);
        uv_loop_close(&c->loop);
    }
    if (c->raylet && c->io_started && !c->is_worker) {
        /* Lease requests still queued at the raylet would be granted to
           nobody: say goodbye so it drops them. */
        pdc_enc_begin(&c->enc, PDC_MSG_BYE, 0);
        s_send_raylet(c);
    }
    pdc_remote_close(c);
    if (c->raylet) {
        /* Deliver the LEASE_RETURNs and BYE just sent before the socket goes. */
        int linger = (int) c->cfg.shutdown_timeout_ms;
        zmq_setsockopt(zsock_resolve(c->raylet), ZMQ_LINGER, &linger, sizeof linger);
    }
    zsock_destroy(&c->raylet);
    pdc_idmap_each(&c->objects, s_free_obj, c);
    pdc_idmap_free(&c->objects);
    while (c->classes) {
        sched_class_t *k = c->classes;
        c->classes = k->next;
        free(k);
    }
    while (c->strings) {
        interned_t *s = c->strings;
        c->strings = s->next;
        free(s);
    }
    pdc_store_destroy(&c->store);
    pdc_enc_free(&c->enc);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

/* ---- For actors/pdc_actor.c and pdc_remote.c: the internals they use --- */

void pdc_client_pump(pdc_client *c) {
    s_pump(c);
}
sched_class_t *pdc_client_class_of_request(pdc_client *c, uint64_t request_id) {
    return s_class_of_request(c, request_id);
}
void pdc_client_on_worker_died(pdc_client *c, const uint8_t *worker_id, int status) {
    s_on_worker_died(c, worker_id, status);
}
void pdc_client_on_raylet(pdc_zwatch_t *watch, void *sock, void *arg) {
    s_on_raylet(watch, sock, arg);
}
int pdc_client_wait_until(pdc_client *c, int (*pred)(pdc_client *, void *), void *arg, int64_t timeout_ms) {
    return s_wait_until(c, pred, arg, timeout_ms);
}

void pdc_client_obj_fail(obj_t *o, int code, const char *function, const char *node,
                         const char *message) {
    s_obj_fail(o, code, function, node, message);
}
void pdc_client_obj_unref(pdc_client *c, obj_t *o) {
    s_obj_unref(c, o);
}
void pdc_client_task_finish(pdc_client *c, task_t *t) {
    s_task_undepend(t);
    s_task_finish(c, t);
}
const char *pdc_client_intern(pdc_client *c, const char *text) {
    return s_intern(c, text);
}
pdc_ref pdc_client_error_ref(pdc_client *c, int code, const char *function, const char *message) {
    return s_error_ref(c, code, function, message);
}
void pdc_client_wake(pdc_client *c) {
    s_wake_io(c);
}
conn_t *pdc_client_conn(pdc_client *c, const char *endpoint) {
    return s_conn(c, endpoint);
}
void pdc_client_conn_close(pdc_client *c, conn_t *k) {
    s_conn_close(c, k);
}
void pdc_client_encode_task(pdc_client *c, task_t *t, const char *node) {
    s_encode_task(c, t, node);
}
void pdc_client_encode_args(pdc_client *c, task_t *t, const char *node) {
    s_encode_args(c, t, node);
}
void pdc_client_encode_worker_lease(pdc_client *c, const char *gpu_ids) {
    pdc_enc_begin(&c->enc, PDC_MSG_WORKER_LEASE, 0);
    pdc_enc_s(&c->enc, gpu_ids);
}
const char *pdc_node_id(pdc_client *c) {
    return c ? c->node_id : "";
}
void pdc_client_send_raylet(pdc_client *c) {
    s_send_raylet(c);
}
