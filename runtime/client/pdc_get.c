/*  pdc_get: the API calls that read and write objects: put, get, wait,
    release.

    A get waits (with a timeout, on the client's condition variable) until
    the object is final, then hands out its value: inline values point
    into the owner's table, stored ones into the node's shared-memory
    store, pinned until pdc_object_release (an object made on another node
    is pulled into this node's store first).  Either way the object stays
    alive while the value is held.  A worker that waits inside a task
    gives its CPU back to the raylet meanwhile (BLOCKED / UNBLOCKED), so
    recursive programs cannot deadlock the pool.

    A put of a small value keeps it in the table; a large one goes once
    into the store.  pdc_put_reserve reserves an unsealed object in the
    store and hands out its bytes, so a producer writes a large value in
    place; pdc_put_commit seals it.
*/
#include "pdc_client_internal.h"

#include "pdc_borrow.h"
#include "pdc_refs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How many times a get pulls an object from its node when the copy it
   pulled is evicted before it could pin it. */
#define S_PULLS_PER_GET 3

/* ---- Waiting ---------------------------------------------------------- */

static void s_deadline(struct timespec *ts, int64_t timeout_ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (timeout_ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void s_control(pdc_client *c, int type) {
    if (c->ncontrol < (int) (sizeof c->control / sizeof c->control[0]))
        c->control[c->ncontrol++] = type;
}

static int s_in_task(pdc_client *c) {
    return c->is_worker && pthread_equal(pthread_self(), c->exec_thread);
}

int pdc_client_wait_until(pdc_client *c, int (*pred)(pdc_client *, void *), void *arg,
                          int64_t timeout_ms, int lend_cpu) {
    if (pred(c, arg))
        return PDC_OK;
    if (timeout_ms == 0)
        return PDC_ETIMEOUT;
    struct timespec deadline;
    if (timeout_ms > 0)
        s_deadline(&deadline, timeout_ms);
    int blocked = lend_cpu && s_in_task(c);
    uint64_t blocked_since = 0;
    if (blocked) {
        s_control(c, PDC_MSG_BLOCKED);
        uv_async_send(&c->wake);
        blocked_since = pdc_now_us();
    }
    int rc = PDC_OK;
    while (!pred(c, arg)) {
        if (c->stopping) {
            rc = PDC_ESHUTDOWN;
            break;
        }
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
        c->blocked_us += pdc_now_us() - blocked_since;
    }
    return rc;
}

uint64_t pdc_client_blocked_us(pdc_client *c) {
    pthread_mutex_lock(&c->mu);
    uint64_t us = c->blocked_us;
    pthread_mutex_unlock(&c->mu);
    return us;
}

/* ---- Put -------------------------------------------------------------- */

static int s_bad_value(pdc_value v) {
    return v.type == PDC_T_REF || v.type == PDC_T_ERROR || v.type == PDC_T_ACTOR ||
           (unsigned) v.type > PDC_T_REFS ||
           ((v.type == PDC_T_STR || v.type == PDC_T_BYTES || v.type == PDC_T_REFS) &&
            v.as.buf.size && !v.as.buf.data) ||
           (v.type == PDC_T_REFS && v.as.buf.size % sizeof(pdc_ref));
}

/* A put of a list of references: its encoding is the entry's value, and
   the entry holds what it refers to.  Mutex held.  PDC_OK or a code. */
static int s_put_refs(pdc_client *c, pdc_ref *ref, pdc_value v) {
    char why[512];
    void *data;
    size_t size;
    int rc = pdc_refs_encode(c, v.as.buf.data, v.as.buf.size / sizeof(pdc_ref), &data, &size, why,
                             sizeof why);
    obj_t *o = rc == PDC_OK ? pdc_obj_new(c, ref->id) : NULL;
    if (rc == PDC_OK && !o) {
        free(data);
        rc = PDC_ENOMEM;
        snprintf(why, sizeof why, "out of memory");
    }
    if (rc == PDC_OK) {
        o->type = PDC_T_REFS;
        o->data = data;
        o->size = size;
        o->state = OBJ_READY;
        rc = pdc_refs_hold(c, o, data, size, 0, why, sizeof why);
        if (rc != PDC_OK)
            pdc_obj_fail(o, rc, "pdc_put", c->node_id, why);
    }
    if (rc != PDC_OK && !o)
        *ref = pdc_obj_error_ref(c, rc, "pdc_put", why);
    else if (rc != PDC_OK)
        pdc_set_error(rc, "pdc_put: %s", why);
    return rc;
}

/* Enter a put's object in the table (mutex held): stored in this node's
   store, or the small value v copied.  PDC_OK or a code (ref then holds
   the error). */
static int s_put_entry(pdc_client *c, pdc_ref *ref, pdc_value v, int stored) {
    obj_t *o = pdc_obj_new(c, ref->id);
    if (!o) {
        if (stored)
            pdc_store_delete(c->store, ref->id);
        *ref = pdc_obj_error_ref(c, PDC_ENOMEM, "pdc_put", "out of memory");
        return PDC_ENOMEM;
    }
    if (stored) {
        pdc_obj_set_stored(o, v.type, v.as.buf.size, c->node_id);
        return PDC_OK;
    }
    o->type = v.type;
    o->state = OBJ_READY;
    if (v.type == PDC_T_I64)
        o->i64 = v.as.i64;
    if (v.type == PDC_T_F64)
        o->f64 = v.as.f64;
    if (v.type == PDC_T_STR || v.type == PDC_T_BYTES) {
        o->size = v.as.buf.size;
        o->data = malloc(o->size ? o->size : 1);
        if (!o->data) {
            pdc_obj_fail(o, PDC_ENOMEM, "pdc_put", c->node_id, "out of memory");
            return pdc_set_error(PDC_ENOMEM, "pdc_put: out of memory for %zu bytes", o->size);
        }
        if (o->size)
            memcpy(o->data, v.as.buf.data, o->size);
    }
    return PDC_OK;
}

pdc_ref pdc_put_opts(pdc_client *c, pdc_value v, const pdc_put_options *opts, int *status) {
    pdc_ref ref;
    pdc_id_new(ref.id);
    if (!c) {
        pdc_set_error(PDC_EINVAL, "pdc_put: no client");
        if (status)
            *status = PDC_EINVAL;
        return ref;
    }
    pdc_clear_error();
    int rc = PDC_OK;
    char err[512] = "";
    int large = (v.type == PDC_T_STR || v.type == PDC_T_BYTES) && v.as.buf.size > c->inline_max;
    int replicas = opts ? opts->replicas : 0;
    if (s_bad_value(v)) {
        rc = PDC_EINVAL;
        snprintf(err, sizeof err,
                 "pdc_put: a value must be an int, float, string, bytes or a list of references "
                 "(PDC_REFS)");
    } else if (replicas < 0 || replicas > PDC_PUT_MAX_REPLICAS) {
        rc = PDC_EINVAL;
        snprintf(err, sizeof err, "pdc_put: replicas is %d; it must be 0..%d", replicas,
                 PDC_PUT_MAX_REPLICAS);
    } else if (large) {
        rc = pdc_store_put(c->store, ref.id, v.type, v.as.buf.data, v.as.buf.size, err, sizeof err);
    }
    pthread_mutex_lock(&c->mu);
    if (rc != PDC_OK)
        ref = pdc_obj_error_ref(c, rc, "pdc_put", err);
    else if (v.type == PDC_T_REFS)
        rc = s_put_refs(c, &ref, v);
    else
        rc = s_put_entry(c, &ref, v, large);
    obj_t *o = rc == PDC_OK && large && replicas > 1 ? pdc_obj_find(c, ref.id) : NULL;
    if (o && (o->replicas = calloc(1, sizeof *o->replicas))) {
        /* Copies on other nodes before the put returns. */
        o->replicas->want = replicas;
        o->spread = 1;
        replication_t *r = pdc_replicas_start(c, o);
        if (r)
            pdc_replicas_wait(c, r, c->cfg.pull_timeout_ms);
    }
    pthread_mutex_unlock(&c->mu);
    if (status)
        *status = rc;
    return ref;
}

pdc_ref pdc_put(pdc_client *c, pdc_value v, int *status) {
    return pdc_put_opts(c, v, NULL, status);
}

struct pdc_put_reservation {
    pdc_ref ref;
    int unsealed; /* the bytes are an unsealed object in the store */
    void *data;   /* there, or malloc'd for a small value kept inline */
    size_t size;
};

void *pdc_put_reserve(pdc_client *c, size_t size, void **reservation) {
    if (!c || !reservation) {
        pdc_set_error(PDC_EINVAL, "pdc_put_reserve: no client or reservation");
        return NULL;
    }
    pdc_clear_error();
    *reservation = NULL;
    struct pdc_put_reservation *r = calloc(1, sizeof *r);
    if (!r) {
        pdc_set_error(PDC_ENOMEM, "pdc_put_reserve: out of memory");
        return NULL;
    }
    pdc_id_new(r->ref.id);
    r->size = size;
    if (size > c->inline_max) {
        /* In the store now: size and capacity are checked here, before a
           byte is written, and the bytes are written once, in place. */
        char err[512];
        int rc = pdc_store_create_unsealed(c->store, r->ref.id, PDC_T_BYTES, size, &r->data, err,
                                           sizeof err);
        if (rc != PDC_OK) {
            free(r);
            pdc_set_error(rc, "pdc_put_reserve(%zu bytes): %s", size, err);
            return NULL;
        }
        r->unsealed = 1;
    } else {
        r->data = malloc(size ? size : 1);
        if (!r->data) {
            free(r);
            pdc_set_error(PDC_ENOMEM, "pdc_put_reserve: out of memory for %zu bytes", size);
            return NULL;
        }
    }
    *reservation = r;
    return r->data;
}

pdc_ref pdc_put_commit(pdc_client *c, void **reservation, int *status) {
    pdc_ref ref;
    memset(&ref, 0, sizeof ref);
    struct pdc_put_reservation *r = reservation ? *reservation : NULL;
    if (!c || !r) {
        pdc_set_error(PDC_EINVAL, "pdc_put_commit: no client or reservation");
        if (status)
            *status = PDC_EINVAL;
        return ref;
    }
    *reservation = NULL;
    pdc_clear_error();
    ref = r->ref;
    int rc = PDC_OK;
    char err[512] = "";
    if (r->unsealed && (rc = pdc_store_seal(c->store, r->ref.id)) != PDC_OK) {
        snprintf(err, sizeof err, "cannot seal the reserved object (%s)", pdc_status_name(rc));
        pdc_store_abort_unsealed(c->store, r->ref.id);
    }
    pthread_mutex_lock(&c->mu);
    if (rc != PDC_OK)
        ref = pdc_obj_error_ref(c, rc, "pdc_put_commit", err);
    else
        rc = s_put_entry(c, &ref, PDC_BYTES(r->data, r->size), r->unsealed);
    pthread_mutex_unlock(&c->mu);
    if (!r->unsealed)
        free(r->data);
    free(r);
    if (status)
        *status = rc;
    return ref;
}

/* ---- Get, wait, release ----------------------------------------------- */

typedef struct {
    obj_t *obj;
    pdc_store_pin_t *pin;
} obj_pin_t;

static int s_list_settled(pdc_client *c, void *arg) {
    (void) c;
    obj_t *o = arg;
    return pdc_refs_settled(o->inner, o->ninner);
}

static int s_obj_done(pdc_client *c, void *arg) {
    (void) c;
    return ((obj_t *) arg)->state != OBJ_PENDING;
}

/* Pin o's bytes in this node's store (pulling them from o's node first);
   mutex held, released while pulling.  PDC_OK or a code with why. */
static int s_pin_stored(pdc_client *c, obj_t *o, pdc_object *out, obj_pin_t *pin,
                        int64_t timeout_ms, char *why, size_t len) {
    pdc_type type;
    char hex[33];
    int rc = PDC_ENOTFOUND;
    /* A copy pulled here may be evicted before it is read (the store
       needed room): pulled again, a few times. */
    for (int pulls = 0; rc == PDC_ENOTFOUND && pulls < S_PULLS_PER_GET; pulls++) {
        int here = pdc_store_contains(c->store, o->id);
        if (here < 0) {
            snprintf(why, len, "%s", pdc_store_last_error());
            return here;
        }
        if (strcmp(o->node, c->node_id) && !here) {
            /* Made on another node: bring it here first. */
            char node[PDC_NODE_LEN];
            snprintf(node, sizeof node, "%s", o->node);
            o->spread = 1;
            pthread_mutex_unlock(&c->mu);
            int pulled = pdc_client_pull(c, o->id, node, timeout_ms, why, len);
            pthread_mutex_lock(&c->mu);
            if (pulled != PDC_OK)
                return pulled;
        }
        rc = pdc_store_get(c->store, o->id, &out->data, &out->size, &type, &pin->pin);
        if (rc == PDC_ENOTFOUND && !strcmp(o->node, c->node_id)) {
            /* Spilled to disk when the store filled: read back (any
               process of the node may; it waits for one that does). */
            uint8_t id[PDC_ID_LEN];
            memcpy(id, o->id, PDC_ID_LEN);
            pthread_mutex_unlock(&c->mu);
            int restored = pdc_store_restore(c->store, id, why, len);
            pthread_mutex_lock(&c->mu);
            if (restored != PDC_OK && restored != PDC_ENOTFOUND)
                return restored;
            rc = pdc_store_get(c->store, o->id, &out->data, &out->size, &type, &pin->pin);
            break; /* this node's own: there is nowhere to pull it from */
        }
    }
    if (rc == PDC_ENOTFOUND) {
        snprintf(why, len, "object %s is gone from the store of node %s", pdc_id_hex(o->id, hex),
                 c->node_id);
        return PDC_EOBJECTLOST;
    }
    if (rc != PDC_OK) {
        snprintf(why, len, "%s", pdc_store_last_error());
        return rc;
    }
    out->type = type;
    return PDC_OK;
}

/* Milliseconds left until deadline_ms (timeout_ms < 0: no deadline). */
static int64_t s_left(int64_t timeout_ms, uint64_t deadline_ms) {
    if (timeout_ms < 0)
        return -1;
    uint64_t now = pdc_now_ms();
    return now >= deadline_ms ? 0 : (int64_t) (deadline_ms - now);
}

int pdc_get(pdc_client *c, pdc_ref ref, pdc_object *out, int64_t timeout_ms) {
    if (!c || !out)
        return pdc_set_error(PDC_EINVAL, "pdc_get: no client or output");
    memset(out, 0, sizeof *out);
    pdc_clear_error();
    pthread_mutex_lock(&c->mu);
    obj_t *o = pdc_obj_find(c, ref.id);
    if (!o) {
        pthread_mutex_unlock(&c->mu);
        char hex[33];
        return pdc_set_error(PDC_ENOTFOUND, "pdc_get: unknown object %s (released?)",
                             pdc_id_hex(ref.id, hex));
    }
    o->refs++;                  /* stays alive while we wait and while out is held */
    pdc_borrow_want_info(c, o); /* a borrowed one: asked of its owner */
    uint64_t deadline = pdc_now_ms() + (uint64_t) (timeout_ms > 0 ? timeout_ms : 0);
    obj_pin_t *pin = calloc(1, sizeof *pin);
    int rc = pin ? PDC_OK : PDC_ENOMEM;
    /* A stored object that lost every copy is rebuilt (lineage) and
       waited for again, within the same timeout. */
    while (rc == PDC_OK) {
        rc = pdc_client_wait_until(c, s_obj_done, o, s_left(timeout_ms, deadline), 1);
        if (rc != PDC_OK || o->state == OBJ_FAILED || !o->stored)
            break;
        char why[1024];
        uint64_t seq = o->ready_seq;
        rc = s_pin_stored(c, o, out, pin, s_left(timeout_ms, deadline), why, sizeof why);
        if (rc == PDC_EOBJECTLOST && o->state == OBJ_READY && o->ready_seq == seq)
            pdc_lineage_rebuild(c, o, why);
        if (rc == PDC_EOBJECTLOST) {
            rc = PDC_OK; /* wait for the rebuild, or report the object's failure */
            continue;
        }
        if (rc != PDC_OK) {
            pdc_set_error(rc, "pdc_get: %s", why);
            free(pin);
            pdc_obj_unref(c, o);
            memset(out, 0, sizeof *out);
            pthread_mutex_unlock(&c->mu);
            return rc;
        }
        break;
    }
    if (rc != PDC_OK) {
        free(pin);
        pdc_obj_unref(c, o);
        pthread_mutex_unlock(&c->mu);
        if (rc == PDC_ENOMEM)
            return pdc_set_error(PDC_ENOMEM, "pdc_get: out of memory");
        return pdc_set_error(rc,
                             rc == PDC_ETIMEOUT ? "pdc_get: timed out after %lld ms"
                                                : "pdc_get: the client is shutting down",
                             (long long) timeout_ms);
    }
    pin->obj = o;
    if (o->state == OBJ_READY && o->type == PDC_T_REFS && !o->stored) {
        /* A list: what it refers to is held (borrowed from the owners it
           names, each of whom has answered) before it is handed out. */
        char why[512];
        rc = pdc_refs_hold(c, o, o->data, o->size, 0, why, sizeof why);
        if (rc == PDC_OK && pdc_client_wait_until(c, s_list_settled, o,
                                                  s_left(timeout_ms, deadline), 1) != PDC_OK) {
            rc = PDC_ETIMEOUT;
            snprintf(why, sizeof why, "the owners of the list's references did not answer in time");
        }
        if (rc != PDC_OK) {
            free(pin);
            pdc_obj_unref(c, o);
            pthread_mutex_unlock(&c->mu);
            return pdc_set_error(rc, "pdc_get: %s", why);
        }
    }
    if (o->state == OBJ_FAILED) {
        memset(out, 0, sizeof *out);
        out->type = PDC_T_ERROR;
        out->error = o->err;
        rc = o->err.code;
        pdc_set_error(rc, "%s failed on node %s: %s", o->err.function, o->err.node, o->err.message);
    } else if (!o->stored) {
        out->type = o->type;
        out->i64 = o->i64;
        out->f64 = o->f64;
        out->data = o->data;
        out->size = o->size;
    }
    out->pin_ = pin;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void pdc_object_release(pdc_client *c, pdc_object *obj) {
    if (!c || !obj || !obj->pin_)
        return;
    obj_pin_t *pin = obj->pin_;
    if (pin->pin)
        pdc_store_unpin(c->store, &pin->pin);
    pthread_mutex_lock(&c->mu);
    pdc_obj_unref(c, pin->obj);
    pthread_mutex_unlock(&c->mu);
    free(pin);
    memset(obj, 0, sizeof *obj);
}

int pdc_get_i64(pdc_client *c, pdc_ref ref, int64_t *out, int64_t timeout_ms) {
    pdc_object o;
    int rc = pdc_get(c, ref, &o, timeout_ms);
    if (rc == PDC_OK && o.type != PDC_T_I64)
        rc = pdc_set_error(PDC_ETYPE, "pdc_get_i64: the object holds %s, not int",
                           pdc_type_name(o.type));
    else if (rc == PDC_OK && out)
        *out = o.i64;
    pdc_object_release(c, &o);
    return rc;
}

int pdc_get_f64(pdc_client *c, pdc_ref ref, double *out, int64_t timeout_ms) {
    pdc_object o;
    int rc = pdc_get(c, ref, &o, timeout_ms);
    if (rc == PDC_OK && o.type != PDC_T_F64)
        rc = pdc_set_error(PDC_ETYPE, "pdc_get_f64: the object holds %s, not float",
                           pdc_type_name(o.type));
    else if (rc == PDC_OK && out)
        *out = o.f64;
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
    for (size_t i = 0; i < w->n; i++)
        ready += !w->objs[i] || w->objs[i]->state != OBJ_PENDING;
    return ready >= w->want;
}

int pdc_wait(pdc_client *c, const pdc_ref *refs, size_t n, size_t num_ready, int64_t timeout_ms,
             uint8_t *ready) {
    if (!c || (n && (!refs || !ready)))
        return pdc_set_error(PDC_EINVAL, "pdc_wait: bad arguments");
    pdc_clear_error();
    if (num_ready > n)
        num_ready = n;
    obj_t **objs = calloc(n ? n : 1, sizeof *objs);
    if (!objs)
        return pdc_set_error(PDC_ENOMEM, "pdc_wait: out of memory");
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < n; i++) {
        objs[i] = pdc_obj_find(c, refs[i].id);
        if (objs[i]) {
            objs[i]->refs++;
            pdc_borrow_want_info(c, objs[i]);
        }
    }
    wait_set_t set = {objs, n, num_ready};
    int rc = pdc_client_wait_until(c, s_enough_ready, &set, timeout_ms, 1);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        ready[i] = !objs[i] || objs[i]->state != OBJ_PENDING;
        count += ready[i];
        if (objs[i])
            pdc_obj_unref(c, objs[i]);
    }
    pthread_mutex_unlock(&c->mu);
    free(objs);
    if (rc == PDC_ESHUTDOWN)
        return pdc_set_error(rc, "pdc_wait: the client is shutting down");
    return count;
}

void pdc_ref_retain(pdc_client *c, pdc_ref ref) {
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    obj_t *o = pdc_obj_find(c, ref.id);
    if (o)
        o->refs++;
    pthread_mutex_unlock(&c->mu);
}

size_t pdc_object_nrefs(const pdc_object *obj) {
    return obj && obj->type == PDC_T_REFS ? pdc_refs_count(obj->data, obj->size) : 0;
}

pdc_ref pdc_object_ref(pdc_client *c, const pdc_object *obj, size_t i, int *status) {
    pdc_ref ref;
    memset(&ref, 0, sizeof ref);
    int rc = PDC_EINVAL;
    if (!c || !obj || obj->type != PDC_T_REFS || i >= pdc_refs_count(obj->data, obj->size)) {
        pdc_set_error(rc, "pdc_object_ref: %s",
                      !c || !obj                ? "no client or object"
                      : obj->type != PDC_T_REFS ? "the object is not a list of references"
                                                : "the index is past the end of the list");
    } else {
        pdc_refs_at(obj->data, obj->size, i, ref.id, NULL);
        pthread_mutex_lock(&c->mu);
        /* The list, alive while obj is held, holds the entry. */
        obj_t *o = pdc_obj_find(c, ref.id);
        if (o) {
            o->refs++;
            rc = PDC_OK;
        } else {
            char hex[33];
            rc = pdc_set_error(PDC_ENOTFOUND,
                               "pdc_object_ref: reference %zu (%s) is not held: the object was "
                               "released",
                               i, pdc_id_hex(ref.id, hex));
        }
        pthread_mutex_unlock(&c->mu);
    }
    if (status)
        *status = rc;
    return ref;
}

void pdc_ref_release(pdc_client *c, pdc_ref ref) {
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    obj_t *o = pdc_obj_find(c, ref.id);
    if (o)
        pdc_obj_unref(c, o);
    pthread_mutex_unlock(&c->mu);
}
