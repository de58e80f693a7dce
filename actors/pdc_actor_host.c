/*  pdc_actor_host: the actor side of an actor worker (see the header).

    Threaded calls need their message after the worker's receive loop has
    moved on, so each ACTOR_CALLS message a pool serves is copied once into
    a shared, counted holder (the header bytes, decoded again, and the
    caller's routing id); each call points into it and the last one to
    finish frees it.  Results are encoded on the thread that ran the call
    and queued for the main thread, which owns the socket.
*/
#include "pdc_actor_host.h"

#include "pdc_id.h"
#include "pdc_log.h"
#include "pdc_worker.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RID_MAX 256

/* One ACTOR_CALLS message kept alive for threaded calls. */
typedef struct {
    pdc_msg_t msg;
    void *bytes;
    uint8_t rid[RID_MAX];
    size_t rid_len;
    int pending; /* calls not finished */
} held_msg_t;

typedef struct job {
    held_msg_t *held;
    const msgpack_object *spec;
    struct job *next;
} job_t;

typedef struct done {
    uint8_t rid[RID_MAX];
    size_t rid_len;
    void *bytes; /* one encoded result */
    size_t size;
    struct done *next;
} done_t;

struct pdc_actor_host {
    pdc_client *client;
    void *router;
    int64_t flush_us;
    uint8_t id[PDC_ID_LEN];
    int created;
    const pdc_actor_class *cls;
    char library[PATH_MAX];
    void *state;
    char failed[768]; /* why construction failed ("" if it did not) */
    pdc_result_batch_t results;
    pdc_enc_t reply;
    /* The pool (max_concurrency > 1). */
    int nthreads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *jobs, **jobs_tail;
    done_t *done;
    int pipe[2];
    int stopping;
};

pdc_actor_host_t *pdc_actor_host_new(pdc_client *client, void *router, int64_t flush_us) {
    pdc_actor_host_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->client = client;
    self->router = router;
    self->flush_us = flush_us;
    self->pipe[0] = self->pipe[1] = -1;
    self->jobs_tail = &self->jobs;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    pdc_result_batch_init(&self->results);
    pdc_enc_init(&self->reply);
    return self;
}

/* Run one method call (or, with method NULL, the constructor) described
   by spec's args into t, which the caller then encodes. */
static void s_run(pdc_actor_host_t *self, pdc_task *t, const char *method) {
    pdc_client *c = self->client;
    uint64_t start = pdc_now_us(), blocked = pdc_client_blocked_us(c);
    if (!method) {
        self->state = self->cls->create ? self->cls->create(t) : NULL;
        if (!self->state && t->code == PDC_OK && self->cls->create) {
            t->code = PDC_ETASK;
            snprintf(t->message, sizeof t->message,
                     "the constructor of %s returned NULL without pdc_fail", self->cls->name);
        }
    } else {
        pdc_method_ptr fn = NULL, any = NULL;
        for (const pdc_method *m = self->cls->methods; m && m->name; m++) {
            if (!strcmp(m->name, method))
                fn = m->fn;
            else if (!strcmp(m->name, "*"))
                any = m->fn;
        }
        if (!fn && any) {
            /* The class takes every method: pdc_task_self says which. */
            fn = any;
            t->self = pdc_function(c, self->library, method);
        }
        if (!fn) {
            t->code = PDC_ENOFUNC;
            snprintf(t->message, sizeof t->message, "actor class %s has no method '%s'",
                     self->cls->name, method);
        } else {
            int rc = fn(self->state, t);
            if (rc != 0 && t->code == PDC_OK) {
                t->code = PDC_ETASK;
                snprintf(t->message, sizeof t->message, "%s returned %d without pdc_fail", method,
                         rc);
            }
        }
    }
    uint64_t wall = pdc_now_us() - start;
    blocked = pdc_client_blocked_us(c) - blocked;
    t->busy_us = wall > blocked ? wall - blocked : 0;
    fflush(stdout);
}

/* Fill t for spec (task id, "", method, args); a failure to read the
   arguments or a dead actor is left in t->code.  name receives the
   method's name. */
static void s_prepare(pdc_actor_host_t *self, pdc_task *t, const msgpack_object *spec, char *name,
                      size_t namelen, char *function, size_t fnlen) {
    pdc_f_cstr(pdc_f_at(spec, PDC_TASK_FUNCTION), name, namelen);
    snprintf(function, fnlen, "%s:%s.%s", self->library, self->cls ? self->cls->name : "?", name);
    memset(t, 0, sizeof *t);
    t->client = self->client;
    t->function = function;
    t->rtype = PDC_T_NIL;
    memcpy(t->id, pdc_f_id(pdc_f_at(spec, PDC_TASK_ID)), PDC_ID_LEN);
    if (!self->created || !self->state) {
        t->code = PDC_EACTORDIED;
        snprintf(t->message, sizeof t->message, "%s",
                 self->created ? self->failed : "the actor was never created on this worker");
        return;
    }
    pdc_task_read_args(t, pdc_f_at(spec, PDC_TASK_ARGS));
}

static void *s_thread_main(void *arg);

static void s_create(pdc_actor_host_t *self, pdc_inbound_t *in) {
    const msgpack_object *f = in->msg.fields;
    const void *rid = zmq_msg_data(&in->frames[0]);
    size_t rid_len = zmq_msg_size(&in->frames[0]);
    if (self->created) {
        pdc_wire_reply_error(self->router, in, &self->reply, PDC_EINVAL,
                             "this worker already hosts an actor");
        return;
    }
    self->created = 1;
    memcpy(self->id, pdc_f_id(&f[PDC_ACTOR_CREATE_ACTOR_ID]), PDC_ID_LEN);
    char cls[256];
    pdc_f_cstr(&f[PDC_ACTOR_CREATE_LIBRARY], self->library, sizeof self->library);
    pdc_f_cstr(&f[PDC_ACTOR_CREATE_CLASS], cls, sizeof cls);
    char function[PATH_MAX + 300];
    snprintf(function, sizeof function, "%s:%s", self->library, cls);
    pdc_task t = {.client = self->client, .function = function, .rtype = PDC_T_NIL};
    memcpy(t.id, self->id, PDC_ID_LEN);
    /* A language worker's own class, or one from the library. */
    void *lib = NULL;
    self->cls = pdc_worker_resolve(self->library, cls);
    if (!self->cls &&
        !(lib = pdc_client_dlopen(self->client, self->library, t.message, sizeof t.message))) {
        t.code = PDC_ENOFUNC;
    } else if ((!self->cls && !(self->cls = dlsym(lib, cls))) || !self->cls->name ||
               strcmp(self->cls->name, cls)) {
        self->cls = NULL;
        t.code = PDC_ENOFUNC;
        snprintf(t.message, sizeof t.message,
                 "library '%s' has no actor class '%s' (declare it with PDC_ACTOR_CLASS)",
                 self->library, cls);
    } else {
        pdc_task_read_args(&t, &f[PDC_ACTOR_CREATE_ARGS]);
        if (t.code == PDC_OK)
            s_run(self, &t, NULL);
    }
    if (t.code != PDC_OK) {
        snprintf(self->failed, sizeof self->failed, "the actor could not be created: %s",
                 t.message);
        self->state = NULL;
    }
    t.rtype = PDC_T_NIL; /* the creation's value is nil; its error counts */
    pdc_result_batch_add(&self->results, &t);
    pdc_task_release(&t);
    pdc_result_batch_send(&self->results, self->router, rid, rid_len, self->client->node_id);
    /* The pool, for max_concurrency > 1. */
    int n = (int) pdc_f_u(&f[PDC_ACTOR_CREATE_MAX_CONCURRENCY]);
    if (n > 1 && self->state && pipe2(self->pipe, O_CLOEXEC | O_NONBLOCK) == 0) {
        self->threads = calloc((size_t) n, sizeof *self->threads);
        for (int i = 0; self->threads && i < n; i++) {
            if (pthread_create(&self->threads[i], NULL, s_thread_main, self) == 0)
                self->nthreads++;
        }
    }
}

/* ---- Threaded calls ------------------------------------------------------ */

static void s_held_unref(held_msg_t *h) {
    if (--h->pending > 0)
        return;
    pdc_msg_free(&h->msg);
    free(h->bytes);
    free(h);
}

static void *s_thread_main(void *arg) {
    pdc_actor_host_t *self = arg;
    pdc_enc_t one;
    pdc_enc_init(&one);
    pthread_mutex_lock(&self->mu);
    while (!self->stopping || self->jobs) {
        job_t *j = self->jobs;
        if (!j) {
            pthread_cond_wait(&self->cv, &self->mu);
            continue;
        }
        self->jobs = j->next;
        if (!self->jobs)
            self->jobs_tail = &self->jobs;
        pthread_mutex_unlock(&self->mu);

        pdc_task t;
        char name[256], function[PATH_MAX + 600];
        s_prepare(self, &t, j->spec, name, sizeof name, function, sizeof function);
        if (t.code == PDC_OK)
            s_run(self, &t, name);
        pdc_task_encode_result(&t, &one);
        pdc_task_release(&t);
        done_t *d = malloc(sizeof *d);
        if (d) {
            d->bytes = malloc(one.buf.size);
            d->size = one.buf.size;
            if (d->bytes)
                memcpy(d->bytes, one.buf.data, one.buf.size);
            memcpy(d->rid, j->held->rid, j->held->rid_len);
            d->rid_len = j->held->rid_len;
        }

        pthread_mutex_lock(&self->mu);
        if (d && d->bytes) {
            d->next = self->done;
            self->done = d;
        } else if (d) {
            free(d);
        }
        s_held_unref(j->held);
        free(j);
        ssize_t w = write(self->pipe[1], "", 1);
        (void) w;
    }
    pthread_mutex_unlock(&self->mu);
    pdc_enc_free(&one);
    return NULL;
}

static void s_queue_calls(pdc_actor_host_t *self, pdc_inbound_t *in) {
    zmq_msg_t *h = &in->frames[1];
    held_msg_t *held = calloc(1, sizeof *held);
    if (held)
        held->bytes = malloc(zmq_msg_size(h));
    char err[128];
    if (!held || !held->bytes ||
        (memcpy(held->bytes, zmq_msg_data(h), zmq_msg_size(h)),
         pdc_msg_decode(held->bytes, zmq_msg_size(h), &held->msg, err, sizeof err))) {
        if (held)
            free(held->bytes);
        free(held);
        pdc_wire_reply_error(self->router, in, &self->reply, PDC_ENOMEM, "cannot queue the calls");
        return;
    }
    held->rid_len = zmq_msg_size(&in->frames[0]);
    memcpy(held->rid, zmq_msg_data(&in->frames[0]), held->rid_len);
    const msgpack_object *list = &held->msg.fields[PDC_ACTOR_CALLS_CALLS];
    held->pending = 1; /* ours, while queueing */
    pthread_mutex_lock(&self->mu);
    for (uint32_t i = 0; i < pdc_f_count(list); i++) {
        job_t *j = calloc(1, sizeof *j);
        if (!j)
            break;
        j->held = held;
        j->spec = pdc_f_at(list, i);
        held->pending++;
        *self->jobs_tail = j;
        self->jobs_tail = &j->next;
    }
    s_held_unref(held);
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

void pdc_actor_host_flush(pdc_actor_host_t *self) {
    if (self->pipe[0] < 0)
        return;
    char drain[256];
    while (read(self->pipe[0], drain, sizeof drain) > 0) {
    }
    pthread_mutex_lock(&self->mu);
    done_t *d = self->done;
    self->done = NULL;
    pthread_mutex_unlock(&self->mu);
    while (d) {
        done_t *next = d->next;
        /* One message per finished call: they come from different callers. */
        pdc_enc_begin(&self->reply, PDC_MSG_TASK_RESULTS, 0);
        pdc_enc_s(&self->reply, self->client->node_id);
        pdc_enc_array(&self->reply, 1);
        pdc_enc_raw(&self->reply, d->bytes, d->size);
        pdc_wire_send(self->router, d->rid, d->rid_len, &self->reply, NULL, 0);
        free(d->bytes);
        free(d);
        d = next;
    }
}

int pdc_actor_host_fd(pdc_actor_host_t *self) {
    return self->pipe[0];
}

/* ---- Messages ------------------------------------------------------------ */

/* ACTOR_CALLS and ACTOR_KILL name their actor in the same place. */
_Static_assert(PDC_SAME_FIELD(PDC_ACTOR_KILL_ACTOR_ID, PDC_ACTOR_CALLS_ACTOR_ID),
               "the actor id of calls and kills is read in one place");

int pdc_actor_host_handle(pdc_actor_host_t *self, pdc_inbound_t *in) {
    const msgpack_object *f = in->msg.fields;
    int killed = 0;
    if (in->msg.type != PDC_MSG_ACTOR_CREATE && self->created &&
        !pdc_id_eq(pdc_f_id(&f[PDC_ACTOR_CALLS_ACTOR_ID]), self->id)) {
        pdc_wire_reply_error(self->router, in, &self->reply, PDC_ENOTFOUND,
                             "this worker hosts another actor");
    } else if (in->msg.type == PDC_MSG_ACTOR_CREATE) {
        s_create(self, in);
    } else if (in->msg.type == PDC_MSG_ACTOR_KILL) {
        killed = 1;
    } else if (self->nthreads > 0) {
        s_queue_calls(self, in);
    } else {
        const void *rid = zmq_msg_data(&in->frames[0]);
        size_t rid_len = zmq_msg_size(&in->frames[0]);
        const msgpack_object *list = &f[PDC_ACTOR_CALLS_CALLS];
        for (uint32_t i = 0; i < pdc_f_count(list); i++) {
            pdc_task t;
            char name[256], function[PATH_MAX + 600];
            s_prepare(self, &t, pdc_f_at(list, i), name, sizeof name, function, sizeof function);
            if (t.code == PDC_OK)
                s_run(self, &t, name);
            pdc_result_batch_add(&self->results, &t);
            pdc_task_release(&t);
            if (pdc_result_batch_age_us(&self->results) >= (uint64_t) self->flush_us)
                pdc_result_batch_send(&self->results, self->router, rid, rid_len,
                                      self->client->node_id);
        }
        pdc_result_batch_send(&self->results, self->router, rid, rid_len, self->client->node_id);
    }
    pdc_inbound_close(in);
    return killed;
}

void pdc_actor_host_destroy(pdc_actor_host_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pdc_actor_host_t *self = *self_p;
    *self_p = NULL;
    pthread_mutex_lock(&self->mu);
    self->stopping = 1;
    /* Calls not started are dropped: their callers learn of the death. */
    while (self->jobs) {
        job_t *j = self->jobs;
        self->jobs = j->next;
        s_held_unref(j->held);
        free(j);
    }
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
    for (int i = 0; i < self->nthreads; i++)
        pthread_join(self->threads[i], NULL);
    free(self->threads);
    pdc_actor_host_flush(self);
    if (self->state && self->cls && self->cls->destroy)
        self->cls->destroy(self->state);
    self->state = NULL;
    for (int i = 0; i < 2; i++)
        if (self->pipe[i] >= 0)
            close(self->pipe[i]);
    pdc_result_batch_free(&self->results);
    pdc_enc_free(&self->reply);
    pthread_mutex_destroy(&self->mu);
    pthread_cond_destroy(&self->cv);
    free(self);
}
