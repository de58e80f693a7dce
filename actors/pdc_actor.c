/*  pdc_actor: actors as a client sees them: create, call, kill, name.

    An actor's creator drives it through four states.  NAMING: a named
    actor first claims its name at the head (ACTOR_NAME_REGISTER with no
    endpoint yet), so a second actor with the same name fails at once.
    PLACING: it asks its raylet for an actor lease, a worker dedicated to
    the actor for its life.  PLACED: the worker's endpoint is known; the
    creator sends ACTOR_CREATE with the constructor arguments, then the
    calls, in order, on the same connection, so the constructor runs first
    and one caller's calls run in submission order.  DEAD: killed, crashed
    or never built; every call not answered, and every later call, fails
    with the reason.

    The constructor's outcome is an object of the creator's table under
    the actor's id (the creation task's id), so pdc_actor_ready is a get,
    and a task given the handle as an argument waits for it like for any
    other argument.  Other clients hold handles that only know the id and
    endpoint (from pdc_actor_get_named, or "ID@ENDPOINT" in a task
    argument) and call the worker directly.

    Nothing waits forever on a dead actor: the raylet tells the creator
    when the worker exits (WORKER_DIED), and every connection to an actor
    carries a ZeroMQ socket monitor, so any caller sees the worker go away
    (DISCONNECTED, or CONNECT_RETRIED for a handle that arrived too late)
    and fails what it had sent.
*/
#include "pdc_client_internal.h"

#include "pdc_id.h"
#include "pdc_log.h"
#include "pdc_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Actor lease request ids have the top bit set, so they never collide
   with the scheduling-class pointers used for task leases. */
#define ACTOR_REQUEST_BIT ((uint64_t) 1 << 63)

static pdc_actor *s_find(pdc_client *c, const uint8_t *id) {
    for (pdc_actor *a = c->actors; a; a = a->next)
        if (pdc_id_eq(a->id, id)) return a;
    return NULL;
}

static pdc_actor *s_new(pdc_client *c, const uint8_t *id) {
    pdc_actor *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    memcpy(a->id, id, PDC_ID_LEN);
    a->client = c;
    a->refs = 1;
    a->next = c->actors;
    c->actors = a;
    return a;
}

static void s_list_push(task_t **head, task_t *t) {
    t->prev = NULL;
    t->next = *head;
    if (*head) (*head)->prev = t;
    *head = t;
}

static void s_list_remove(task_t **head, task_t *t) {
    if (t->prev) t->prev->next = t->next; else *head = t->next;
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

static void s_fail_task(pdc_client *c, pdc_actor *a, task_t *t, int code, const char *why) {
    char fn[1024];
    snprintf(fn, sizeof fn, "%s:%s%s%s", a->library ? a->library : "?", a->cls ? a->cls : "actor",
             t->function && t->function != a->cls ? "." : "",
             t->function && t->function != a->cls ? t->function : "");
    pdc_client_obj_fail(t->result, code, fn, c->node_id, why);
    pdc_client_task_finish(c, t);
}

/* The actor is dead: fail everything not answered.  Mutex held. */
static void s_die(pdc_client *c, pdc_actor *a, int code, const char *why) {
    if (a->state == A_DEAD) return;
    a->state = A_DEAD;
    a->dead_code = code;
    snprintf(a->dead_why, sizeof a->dead_why, "%s", why);
    if (a->create) {
        task_t *t = a->create;
        a->create = NULL;
        s_fail_task(c, a, t, code, why);
    }
    while (a->head) {
        task_t *t = a->head;
        pdc_actor_dequeue(a, t);
        s_fail_task(c, a, t, code, why);
    }
    while (a->inflight) {
        task_t *t = a->inflight;
        s_list_remove(&a->inflight, t);
        s_fail_task(c, a, t, code, why);
    }
    pthread_cond_broadcast(&c->cv);
}

/* ---- Called by the client core --------------------------------------- */

/* Calls join their actor's queue when submitted, so they leave in
   submission order; the pump sends the longest prefix whose arguments
   are ready (T_QUEUED), and a call still waiting for an argument holds
   back the calls behind it. */
static void s_queue_append(pdc_actor *a, task_t *t) {
    t->next = NULL;
    t->prev = a->tail;
    if (a->tail) a->tail->next = t; else a->head = t;
    a->tail = t;
    a->queued++;
    t->in_actor_queue = 1;
}

void pdc_actor_enqueue(pdc_client *c, task_t *t) {
    pdc_actor *a = t->actor;
    t->state = T_QUEUED; /* its arguments are ready */
    if (t == a->create) return; /* sent by the pump once placed */
    if (a->state == A_DEAD) s_fail_task(c, a, t, a->dead_code, a->dead_why);
}

void pdc_actor_dequeue(pdc_actor *a, task_t *t) {
    if (!t->in_actor_queue) return;
    if (t->prev) t->prev->next = t->next; else a->head = t->next;
    if (t->next) t->next->prev = t->prev; else a->tail = t->prev;
    t->prev = t->next = NULL;
    t->in_actor_queue = 0;
    a->queued--;
}

void pdc_actor_call_answered(pdc_actor *a, task_t *t) {
    s_list_remove(&a->inflight, t);
}

/* Handles are counted, but an actor's struct lives until the client
   closes: death paths walk the actor list while failing calls whose
   release could otherwise free the actor under them.  One struct per
   actor ever seen is little. */
void pdc_actor_unref(pdc_client *c, pdc_actor *a) {
    (void) c;
    a->refs--;
}

void pdc_actor_created(pdc_client *c, pdc_actor *a) {
    if (a->ready->state == OBJ_FAILED) {
        char why[600];
        snprintf(why, sizeof why, "the actor could not be created: %s", a->ready->err.message);
        int code = a->ready->err.code;
        s_die(c, a, code, why);
    }
}

const char *pdc_actor_to_wire(pdc_actor *a, char *buf, size_t len) {
    char hex[33];
    snprintf(buf, len, "%s@%s", pdc_id_hex(a->id, hex), *a->public_endpoint ? a->public_endpoint : a->endpoint);
    return buf;
}

static int s_parse_hex_id(const char *hex, uint8_t *id) {
    for (int i = 0; i < PDC_ID_LEN; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        id[i] = (uint8_t) v;
    }
    return 0;
}

/* A handle known only by id and endpoint (mutex held). */
static pdc_actor *s_remote_handle(pdc_client *c, const uint8_t *id, const char *endpoint) {
    pdc_actor *a = s_find(c, id);
    if (a) {
        a->refs++;
        return a;
    }
    a = s_new(c, id);
    if (!a) return NULL;
    snprintf(a->endpoint, sizeof a->endpoint, "%s", endpoint);
    a->state = A_PLACED;
    a->library = pdc_client_intern(c, "actor");
    return a;
}

pdc_actor *pdc_actor_from_wire(pdc_client *c, const char *text, size_t len) {
    if (len < 34 || len >= PATH_MAX + 34 || text[32] != '@') return NULL;
    uint8_t id[PDC_ID_LEN];
    char copy[PATH_MAX + 40];
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (s_parse_hex_id(copy, id)) return NULL;
    pthread_mutex_lock(&c->mu);
    pdc_actor *a = s_remote_handle(c, id, copy + 33);
    pthread_mutex_unlock(&c->mu);
    return a;
}

/* ---- The I/O thread ---------------------------------------------------- */

static void s_on_monitor(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    conn_t *k = arg;
    pdc_client *c = k->client;
    if (!pdc_remote_monitor_event(sock)) return;
    pthread_mutex_lock(&c->mu);
    char why[PATH_MAX + 64];
    snprintf(why, sizeof why, "lost the connection to the actor's worker at %s", k->endpoint);
    for (pdc_actor *a = c->actors; a; a = a->next)
        if (a->conn == k) s_die(c, a, PDC_EACTORDIED, why);
    pthread_mutex_unlock(&c->mu);
}

static conn_t *s_actor_conn(pdc_client *c, pdc_actor *a) {
    if (a->conn) return a->conn;
    conn_t *k = pdc_client_conn(c, a->endpoint);
    if (!k) return NULL;
    if (!k->monitor)
        pdc_remote_monitor(c, k->sock, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED, &k->monitor,
                           &k->monitor_watch, s_on_monitor, k);
    a->conn = k;
    return k;
}

static int s_send_head(pdc_client *c) {
    return pdc_client_send_head(c, &c->enc, NULL, 0);
}

static void s_name_message(pdc_client *c, pdc_actor *a, pdc_msg_type type, const char *endpoint) {
    pdc_enc_begin(&c->enc, type, a->lease_request);
    pdc_enc_s(&c->enc, a->ns);
    pdc_enc_s(&c->enc, a->name);
    pdc_enc_id(&c->enc, a->id);
    if (type == PDC_MSG_ACTOR_NAME_REGISTER) pdc_enc_s(&c->enc, endpoint);
    s_send_head(c);
}

void pdc_actor_on_head(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    pdc_client *c = arg;
    pdc_inbound_t in;
    int rc = pdc_wire_recv(sock, 0, &in);
    if (rc == 0) return;
    pthread_mutex_lock(&c->mu);
    pdc_actor *a = NULL;
    for (pdc_actor *x = c->actors; rc > 0 && x; x = x->next)
        if (x->owned && x->lease_request == in.msg.request_id) a = x;
    if (rc < 0) {
        pdc_warn("refused a message from the head: %s", in.error);
    } else if (!a && in.msg.type == PDC_MSG_ERROR) {
        char why[512];
        pdc_warn("the head: %s", pdc_f_cstr(&in.msg.fields[1], why, sizeof why));
    } else if (a && a->state == A_NAMING) {
        if (in.msg.type == PDC_MSG_ACTOR_INFO && pdc_id_eq(pdc_f_id(&in.msg.fields[0]), a->id)) {
            a->state = A_PLACING;
            a->lease_request = 0;
        } else if (in.msg.type == PDC_MSG_ERROR) {
            char why[512];
            pdc_f_cstr(&in.msg.fields[1], why, sizeof why);
            a->name[0] = '\0'; /* not ours: do not drop it later */
            s_die(c, a, (int) pdc_f_i(&in.msg.fields[0]), why);
        }
    }
    pdc_actor_pump(c);
    pthread_mutex_unlock(&c->mu);
    pdc_inbound_close(&in);
}

/* Ask raylet (NULL: the local one) for a's worker, under a's request id. */
static void s_request_lease(pdc_client *c, pdc_actor *a, void *raylet, unsigned flags) {
    flags |= PDC_LEASE_ACTOR | (a->detached ? PDC_LEASE_DETACHED : 0);
    pdc_client_request_lease(c, raylet, a->lease_request, a->cpus, flags, &a->res, &a->sched, "");
}

/* Send what actors have waiting: name claims, lease requests, creations,
   calls, kills.  Mutex held, on the I/O thread. */
void pdc_actor_pump(pdc_client *c) {
    for (pdc_actor *a = c->actors; a; a = a->next) {
        if (a->owned && a->state == A_NAMING && !a->lease_request) {
            a->lease_request = ++c->next_request | ACTOR_REQUEST_BIT;
            if (!*c->head_endpoint) {
                s_die(c, a, PDC_ECONNECT, "named actors need a head, and this node has none");
                continue;
            }
            s_name_message(c, a, PDC_MSG_ACTOR_NAME_REGISTER, "");
        }
        if (a->owned && a->state == A_PLACING && !a->lease_request) {
            a->lease_request = ++c->next_request | ACTOR_REQUEST_BIT;
            s_request_lease(c, a, NULL, 0);
        }
        if (a->kill_pending && a->conn) {
            pdc_enc_begin(&c->enc, PDC_MSG_ACTOR_KILL, 0);
            pdc_enc_id(&c->enc, a->id);
            pdc_wire_send(zsock_resolve(a->conn->sock), NULL, 0, &c->enc, NULL, 0);
            a->kill_pending = 0;
        }
        if (a->state == A_DEAD) {
            if (a->owned && a->name[0] && a->name_registered >= 0) {
                s_name_message(c, a, PDC_MSG_ACTOR_NAME_DROP, NULL);
                a->name_registered = -1;
            }
            if (a->conn && !a->kill_pending) {
                /* Deliver what was sent (a kill) before the socket goes. */
                int linger = 1000;
                zmq_setsockopt(zsock_resolve(a->conn->sock), ZMQ_LINGER, &linger, sizeof linger);
                conn_t *k = a->conn;
                for (pdc_actor *x = c->actors; x; x = x->next)
                    if (x->conn == k) x->conn = NULL;
                pdc_client_conn_close(c, k);
            }
            continue;
        }
        if (a->state != A_PLACED) continue;
        conn_t *k = s_actor_conn(c, a);
        if (!k) continue;
        void *sock = zsock_resolve(k->sock);
        if (a->create) {
            task_t *t = a->create;
            if (t->state != T_QUEUED) continue; /* its arguments are not ready */
            a->create = NULL;
            pdc_client_encode_worker_lease(c, a->gpu_ids); /* its GPUs, before it is built */
            pdc_wire_send(sock, NULL, 0, &c->enc, NULL, 0);
            pdc_enc_begin(&c->enc, PDC_MSG_ACTOR_CREATE, 0);
            pdc_enc_id(&c->enc, a->id);
            pdc_enc_s(&c->enc, pdc_client_library_for(c, a->library, a->node));
            pdc_enc_s(&c->enc, a->cls);
            pdc_client_encode_args(c, t, a->node);
            pdc_enc_u(&c->enc, (uint64_t) (a->max_concurrency > 0 ? a->max_concurrency : 1));
            pdc_wire_send(sock, NULL, 0, &c->enc, NULL, 0);
            t->state = T_INFLIGHT;
            s_list_push(&a->inflight, t);
        }
        if (a->owned && a->name[0] && !a->name_registered && a->ready &&
            a->ready->state == OBJ_READY) {
            s_name_message(c, a, PDC_MSG_ACTOR_NAME_REGISTER, *a->public_endpoint ? a->public_endpoint : a->endpoint);
            a->name_registered = 1;
        }
        size_t ready = 0;
        for (task_t *t = a->head; t && t->state == T_QUEUED; t = t->next) ready++;
        if (!ready) continue;
        pdc_enc_begin(&c->enc, PDC_MSG_ACTOR_CALLS, 0);
        pdc_enc_id(&c->enc, a->id);
        pdc_enc_array(&c->enc, ready);
        for (size_t i = 0; i < ready; i++) {
            task_t *t = a->head;
            pdc_actor_dequeue(a, t);
            pdc_client_encode_task(c, t, a->node);
            t->state = T_INFLIGHT;
            s_list_push(&a->inflight, t);
        }
        pdc_wire_send(sock, NULL, 0, &c->enc, NULL, 0);
    }
}

static pdc_actor *s_by_request(pdc_client *c, uint64_t request) {
    if (!(request & ACTOR_REQUEST_BIT)) return NULL;
    for (pdc_actor *a = c->actors; a; a = a->next)
        if (a->owned && a->lease_request == request) return a;
    return NULL;
}

int pdc_actor_on_grant(pdc_client *c, uint64_t request, const uint8_t *worker_id,
                       const char *endpoint, const char *public_endpoint, const char *node,
                       const char *gpu_ids) {
    pdc_actor *a = s_by_request(c, request);
    if (!a || a->state != A_PLACING) return 0; /* dead meanwhile: returned */
    memcpy(a->worker_id, worker_id, PDC_ID_LEN);
    snprintf(a->endpoint, sizeof a->endpoint, "%s", endpoint);
    snprintf(a->public_endpoint, sizeof a->public_endpoint, "%s", public_endpoint);
    snprintf(a->node, sizeof a->node, "%s", node);
    snprintf(a->gpu_ids, sizeof a->gpu_ids, "%s", gpu_ids);
    a->state = A_PLACED;
    return 1;
}

int pdc_actor_on_redirect(pdc_client *c, uint64_t request, void *raylet, unsigned flags) {
    pdc_actor *a = s_by_request(c, request);
    if (!a || a->state != A_PLACING) return a != NULL;
    if (raylet)
        s_request_lease(c, a, raylet, flags);
    else
        a->lease_request = 0; /* the pump asks the local raylet again */
    return 1;
}

int pdc_actor_on_lease_error(pdc_client *c, uint64_t request, int code, const char *why) {
    pdc_actor *a = s_by_request(c, request);
    if (!a) return 0;
    s_die(c, a, code, why);
    return 1;
}

int pdc_actor_on_worker_died(pdc_client *c, const uint8_t *worker_id, int status) {
    for (pdc_actor *a = c->actors; a; a = a->next) {
        if (!a->owned || !pdc_id_eq(a->worker_id, worker_id)) continue;
        char why[128];
        snprintf(why, sizeof why, "the actor's worker exited (%s %d)", status < 0 ? "signal" : "status",
                 status < 0 ? -status : status);
        s_die(c, a, PDC_EACTORDIED, why);
        return 1;
    }
    return 0;
}

void pdc_actor_stop_owned(pdc_client *c) {
    for (pdc_actor *a = c->actors; a; a = a->next)
        if (a->owned && !a->detached && a->state != A_DEAD) {
            a->kill_pending = a->state == A_PLACED;
            s_die(c, a, PDC_EACTORDIED, "the process that created the actor shut down");
        }
}

void pdc_actor_free_all(pdc_client *c) {
    while (c->actors) {
        pdc_actor *a = c->actors;
        c->actors = a->next;
        if (a->ready) pdc_client_obj_unref(c, a->ready);
        free(a);
    }
}

/* ---- The API ----------------------------------------------------------- */

pdc_actor *pdc_actor_create_args(pdc_client *c, const char *library, const char *cls,
                                 const pdc_actor_opts *opts, const pdc_value *args, size_t nargs) {
    if (!c || !library || !cls) {
        pdc_set_error(PDC_EINVAL, "pdc_actor_create: client, library and class are required");
        return NULL;
    }
    char path[PATH_MAX];
    if (library[0] != '/' && strchr(library, '/') && realpath(library, path)) library = path;
    pthread_mutex_lock(&c->mu);
    pdc_ref ref;
    pdc_resources_t res;
    pdc_sched_t sched;
    char why[300];
    if (pdc_resources_parse(opts ? opts->resources : NULL, &res, why, sizeof why) ||
        pdc_sched_from_opts(&sched, opts ? opts->strategy : 0, opts ? opts->node_id : NULL,
                            opts ? opts->soft : 0, opts ? opts->label_selector : NULL, why,
                            sizeof why)) {
        pthread_mutex_unlock(&c->mu);
        pdc_set_error(PDC_EINVAL, "pdc_actor_create: %s", why);
        return NULL;
    }
    const char *lib = pdc_client_intern(c, library), *name = pdc_client_intern(c, cls);
    task_t *t = pdc_client_task_new(c, lib, name, args, nargs, &ref);
    pdc_actor *a = s_new(c, ref.id);
    if (!a) {
        pthread_mutex_unlock(&c->mu);
        pdc_set_error(PDC_ENOMEM, "pdc_actor_create: out of memory");
        return NULL;
    }
    a->owned = 1;
    a->library = lib;
    a->cls = name;
    a->cpus = opts && opts->num_cpus > 0 ? opts->num_cpus : 0;
    a->res = res;
    a->sched = sched;
    a->max_concurrency = opts && opts->max_concurrency > 0 ? opts->max_concurrency : 1;
    a->detached = opts && opts->detached;
    snprintf(a->ns, sizeof a->ns, "%s", opts && opts->ns ? opts->ns : "default");
    if (opts && opts->name) snprintf(a->name, sizeof a->name, "%s", opts->name);
    /* The creation result: the caller's reference of task_new is the
       actor's hold on it. */
    a->ready = pdc_idmap_get(&c->objects, ref.id);
    if (!t) {
        /* Failed at submission: the result already holds why. */
        obj_t *o = a->ready;
        s_die(c, a, o ? o->err.code : PDC_ENOMEM, o ? o->err.message : "out of memory");
    } else {
        t->actor = a;
        a->refs++; /* the creation holds the handle, as calls do */
        a->create = t;
        a->state = a->name[0] ? A_NAMING : A_PLACING;
        pdc_client_task_submit(c, t);
    }
    pthread_mutex_unlock(&c->mu);
    pdc_client_wake(c);
    return a;
}

int pdc_actor_ready(pdc_client *c, pdc_actor *a, int64_t timeout_ms) {
    if (!c || !a) return pdc_set_error(PDC_EINVAL, "pdc_actor_ready: no actor");
    if (!a->owned) {
        pthread_mutex_lock(&c->mu);
        int rc = a->state == A_DEAD ? pdc_set_error(a->dead_code, "%s", a->dead_why) : PDC_OK;
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    pdc_ref r;
    memcpy(r.id, a->id, PDC_ID_LEN);
    pdc_object o;
    int rc = pdc_get(c, r, &o, timeout_ms);
    pdc_object_release(c, &o);
    if (rc == PDC_OK) {
        pthread_mutex_lock(&c->mu);
        if (a->state == A_DEAD) rc = pdc_set_error(a->dead_code, "%s", a->dead_why);
        pthread_mutex_unlock(&c->mu);
    }
    return rc;
}

pdc_ref pdc_actor_call_args(pdc_client *c, pdc_actor *a, const char *method, const pdc_value *args,
                            size_t nargs) {
    pdc_ref ref;
    memset(&ref, 0, sizeof ref);
    if (!c || !a || !method) {
        pdc_set_error(PDC_EINVAL, "pdc_actor_call: client, actor and method are required");
        return ref;
    }
    pthread_mutex_lock(&c->mu);
    if (a->state == A_DEAD) {
        char fn[512];
        snprintf(fn, sizeof fn, "%s.%s", a->cls ? a->cls : "actor", method);
        ref = pdc_client_error_ref(c, a->dead_code, fn, a->dead_why);
        pthread_mutex_unlock(&c->mu);
        return ref;
    }
    task_t *t = pdc_client_task_new(c, a->library, pdc_client_intern(c, method), args, nargs, &ref);
    if (t) {
        t->actor = a;
        a->refs++; /* the call holds the handle */
        s_queue_append(a, t);
        pdc_client_task_submit(c, t);
    }
    pthread_mutex_unlock(&c->mu);
    if (t) pdc_client_wake(c);
    return ref;
}

int pdc_actor_kill(pdc_client *c, pdc_actor *a) {
    if (!c || !a) return pdc_set_error(PDC_EINVAL, "pdc_actor_kill: no actor");
    pthread_mutex_lock(&c->mu);
    int rc = PDC_OK;
    if (a->state == A_DEAD) {
        rc = pdc_set_error(PDC_EACTORDIED, "the actor is already dead: %s", a->dead_why);
    } else {
        a->kill_pending = a->state == A_PLACED;
        s_die(c, a, PDC_EACTORDIED, "the actor was killed by pdc_actor_kill");
    }
    pthread_mutex_unlock(&c->mu);
    pdc_client_wake(c);
    return rc;
}

void pdc_actor_release(pdc_client *c, pdc_actor *a) {
    if (!c || !a) return;
    pthread_mutex_lock(&c->mu);
    pdc_actor_unref(c, a);
    pthread_mutex_unlock(&c->mu);
}

void pdc_actor_retain(pdc_client *c, pdc_actor *a) {
    if (!c || !a) return;
    pthread_mutex_lock(&c->mu);
    a->refs++;
    pthread_mutex_unlock(&c->mu);
}

const char *pdc_actor_id(pdc_actor *a, char *buf) {
    return pdc_id_hex(a->id, buf);
}

/* Ask the head for a named actor, on a socket of this call's own (the
   I/O thread owns the client's sockets).  Polls while the actor is still
   being placed (endpoint ""). */
pdc_actor *pdc_actor_get_named(pdc_client *c, const char *name, const char *ns, int64_t timeout_ms) {
    if (!c || !name) {
        pdc_set_error(PDC_EINVAL, "pdc_actor_get_named: a name is required");
        return NULL;
    }
    if (!*c->head_endpoint) {
        pdc_set_error(PDC_ECONNECT, "pdc_actor_get_named: this node has no head");
        return NULL;
    }
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock) return NULL;
    pdc_wire_tune(zsock_resolve(sock), c->cfg.max_message_size);
    zsock_connect(sock, "%s", c->head_endpoint);
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    int64_t waited = 0, step = 20;
    pdc_actor *found = NULL;
    int code = PDC_ETIMEOUT;
    char why[512] = "";
    snprintf(why, sizeof why, "no answer from the head at %s", c->head_endpoint);
    for (;;) {
        pdc_enc_begin(&enc, PDC_MSG_ACTOR_LOOKUP, 1);
        pdc_enc_s(&enc, ns ? ns : "default");
        pdc_enc_s(&enc, name);
        pdc_wire_send(zsock_resolve(sock), NULL, 0, &enc, NULL, 0);
        zmq_pollitem_t item = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
        long wait = timeout_ms < 0 ? 1000 : (long) (timeout_ms - waited);
        if (wait < 1) wait = 1;
        int64_t t0 = zclock_mono();
        if (zmq_poll(&item, 1, wait) != 1) break;
        waited += zclock_mono() - t0;
        pdc_inbound_t in;
        int rc = pdc_wire_recv(zsock_resolve(sock), 0, &in);
        if (rc > 0 && in.msg.type == PDC_MSG_ACTOR_INFO) {
            char endpoint[PATH_MAX];
            pdc_f_cstr(&in.msg.fields[1], endpoint, sizeof endpoint);
            if (*endpoint) {
                pthread_mutex_lock(&c->mu);
                found = s_remote_handle(c, pdc_f_id(&in.msg.fields[0]), endpoint);
                pthread_mutex_unlock(&c->mu);
                pdc_inbound_close(&in);
                break;
            }
            snprintf(why, sizeof why, "actor '%s' is still being placed", name);
        } else if (rc > 0 && in.msg.type == PDC_MSG_ERROR) {
            code = (int) pdc_f_i(&in.msg.fields[0]);
            pdc_f_cstr(&in.msg.fields[1], why, sizeof why);
            pdc_inbound_close(&in);
            break;
        }
        if (rc != 0) pdc_inbound_close(&in);
        if (timeout_ms >= 0 && waited >= timeout_ms) break;
        zclock_sleep((int) step);
        waited += step;
    }
    pdc_enc_free(&enc);
    zsock_destroy(&sock);
    if (!found) pdc_set_error(code, "pdc_actor_get_named('%s'): %s", name, why);
    return found;
}
