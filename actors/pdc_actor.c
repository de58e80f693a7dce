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

    Restarts.  The creator of an actor with restarts left does not let a
    crash kill it: it goes back to PLACING (RESTARTING in the head's
    table), asks for a new worker, and runs the creation again (the
    finished creation task, which it kept through its hook's keep) into
    the same creation result, so
    pdc_actor_ready waits for the new constructor.  The calls it had in
    flight go back to the front of its queue while they have retries
    left (max_task_retries), or fail.  The creator reports every change
    of state to the head (ACTOR_STATE); a holder whose connection broke
    asks the head where the actor is (RESOLVING, ACTOR_RESOLVE), again
    every heartbeat until it is ALIVE at a new endpoint, is DEAD, or
    actor_restart_timeout_ms passed, and then sends its calls there or
    fails them.

    This layer sits above the owner core: calls and creations are tasks
    of its graph whose hook (s_hook) is this file's, placement is a lease
    request in its registry under one id per actor (the same id claims
    the name at the head), and the core calls in only through
    pdc_actor_owner.h.  It uses the core through pdc_owner.h.
*/
#include "pdc_actor_owner.h"
#include "pdc_owner.h"

#include "pdc_actor_row.h"

#include "pdc_id.h"
#include "pdc_log.h"
#include "pdc_wire.h"

#include <czmq.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RESOLVING: a holder (not the creator) whose connection broke asks the
   head where the actor went. */
typedef enum { A_NAMING, A_PLACING, A_PLACED, A_RESOLVING, A_DEAD } actor_state;

/* A call's retries_left before its holder knows the actor's
   max_task_retries (a holder learns it from the head). */
#define RETRIES_UNKNOWN INT_MIN

/* An actor as one client sees it: the creator's copy drives placement and
   creation; other clients' copies (from pdc_actor_get_named or a handle
   argument) only know where the actor is.  One struct per actor id per
   client, shared by every handle to it there (refs). */
struct pdc_actor {
    uint8_t id[PDC_ID_LEN];
    pdc_client *client;
    int refs;
    int owned, detached, max_concurrency;
    double cpus;
    pdc_resources_t res;
    pdc_sched_t sched;
    actor_state state;
    char endpoint[PATH_MAX];        /* where this client reaches it       */
    char public_endpoint[PATH_MAX]; /* where anyone reaches it (handles)  */
    char node[PDC_NODE_LEN];        /* its node                           */
    char gpu_ids[256];              /* its GPU devices (WORKER_LEASE)     */
    conn_t *conn;
    uint8_t worker_id[PDC_ID_LEN];
    uint64_t request;          /* its id in the registry (owned): name and lease */
    int asked;                 /* the name claim or lease request is out         */
    const char *library, *cls; /* interned */
    char ns[64], name[128];
    int name_registered;      /* -1 dropped, 0 not yet, 1 endpoint sent, 2 the head has it */
    uint64_t name_sent_ms;    /* when the endpoint last went to the head */
    task_t *create;           /* the creator's creation task until sent */
    obj_t *ready;             /* the creator's creation result          */
    pdc_task_list_t queue;    /* calls waiting to be pushed, in order  */
    pdc_task_list_t inflight; /* calls and the creation, not answered */
    int kill_pending;         /* ACTOR_KILL to send                      */
    int dead_code;
    char dead_why[256];
    /* Restarts (see the top). */
    int max_restarts, max_task_retries;   /* -1: without limit */
    uint64_t restarts;                    /* how many times it was created again */
    int constructed;                      /* this life's constructor ran */
    task_t *ctor;                         /* the finished creation, kept to build it again */
    conn_t *broken;                       /* the connection to a life that ended, to close */
    char broken_endpoint[PATH_MAX];       /* a holder's: where the actor was */
    int64_t resolve_at, resolve_deadline; /* a holder's next ACTOR_RESOLVE, and its limit */
    char crash_why[256];                  /* why the last life ended */
    int report;                           /* ACTOR_STATE to send to the head */
    uint64_t report_request;              /* the last one sent, until the head answers */
    uint64_t report_sent_ms;              /* when (sent again after node_timeout_ms)  */
    struct pdc_actor *next;
};

static pdc_actor *s_find(pdc_client *c, const uint8_t *id) {
    for (pdc_actor *a = *pdc_owner_actors(c); a; a = a->next)
        if (pdc_id_eq(a->id, id))
            return a;
    return NULL;
}

static pdc_actor *s_new(pdc_client *c, const uint8_t *id) {
    pdc_actor *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    memcpy(a->id, id, PDC_ID_LEN);
    a->client = c;
    a->refs = 1;
    /* At the tail: the pump then sends in creation order, so a name
       dropped by a dead actor goes to the head before a new actor's
       claim of the same name. */
    pdc_actor **p = pdc_owner_actors(c);
    while (*p)
        p = &(*p)->next;
    *p = a;
    return a;
}

static void s_fail_task(pdc_client *c, pdc_actor *a, task_t *t, int code, const char *why) {
    char fn[1024];
    int method = t->function && t->function != a->cls;
    snprintf(fn, sizeof fn, "%s:%s%s%s", a->library ? a->library : "?", a->cls ? a->cls : "actor",
             method ? "." : "", method ? t->function : "");
    pdc_obj_fail(t->result, code, fn, a->node[0] ? a->node : pdc_node_id(c), why);
    pdc_graph_finish(c, t);
}

/* The actor is dead: fail everything not answered.  Mutex held. */
static void s_die(pdc_client *c, pdc_actor *a, int code, const char *why) {
    if (a->state == A_DEAD)
        return;
    a->state = A_DEAD;
    a->dead_code = code;
    snprintf(a->dead_why, sizeof a->dead_why, "%s", why);
    if (a->create)
        s_fail_task(c, a, a->create, code, why);
    while (a->queue.head)
        s_fail_task(c, a, a->queue.head, code, why);
    while (a->inflight.head)
        s_fail_task(c, a, a->inflight.head, code, why);
    a->report = a->owned;
    pdc_owner_broadcast(c);
}

/* ---- Restarts (see the top) -------------------------------------------- */

static void s_request_lease(pdc_client *c, pdc_actor *a, void *raylet, unsigned flags);
static const pdc_request_ops_t s_request_ops;
static const pdc_task_hook_t s_hook;

static const char *s_restarts_text(const pdc_actor *a, char *buf, size_t len) {
    if (a->max_restarts < 0)
        snprintf(buf, len, "restart %llu, without limit", (unsigned long long) a->restarts);
    else
        snprintf(buf, len, "restart %llu of %d", (unsigned long long) a->restarts, a->max_restarts);
    return buf;
}

/* The calls a's last life was running go back to the front of its queue,
   in order, while they have retries left, and the others fail; a
   creation that was running goes back to be sent first. */
static void s_take_back_inflight(pdc_client *c, pdc_actor *a, const char *why) {
    while (a->inflight.tail) {
        task_t *t = a->inflight.tail;
        pdc_task_list_remove(t);
        t->state = T_QUEUED;
        if (a->ready && t->result == a->ready) {
            a->create = t;
            continue;
        }
        if (t->retries_left == RETRIES_UNKNOWN)
            t->retries_left = a->max_task_retries;
        if (t->retries_left != 0) {
            if (t->retries_left > 0)
                t->retries_left--;
            pdc_task_list_push(&a->queue, t, 1);
            continue;
        }
        char msg[600];
        snprintf(msg, sizeof msg,
                 "the actor died while running the call (%s); with max_task_retries 0 it is "
                 "not sent again (at most once)",
                 why);
        s_fail_task(c, a, t, PDC_EACTORDIED, msg);
    }
}

/* The creator may build a again. */
static int s_restartable(pdc_client *c, const pdc_actor *a) {
    return a->owned && a->state != A_DEAD && a->max_restarts != 0 &&
           (a->max_restarts < 0 || a->restarts < (uint64_t) a->max_restarts) &&
           (a->ctor || a->create || a->inflight.head) && !pdc_owner_raylet_lost(c);
}

/* a's worker died: place and build it again (mutex held). */
static void s_restart(pdc_client *c, pdc_actor *a, const char *why) {
    char hex[33], count[64];
    a->restarts++;
    pdc_warn("actor %s (%s) died: %s; restarting it (%s)", pdc_id_hex(a->id, hex), a->cls, why,
             s_restarts_text(a, count, sizeof count));
    snprintf(a->crash_why, sizeof a->crash_why, "%s", why);
    a->state = A_PLACING;
    a->asked = 0;
    a->constructed = 0;
    memset(a->worker_id, 0, sizeof a->worker_id);
    a->gpu_ids[0] = '\0';
    if (a->conn) {
        a->broken = a->conn; /* closed by the pump, outside the socket's callback */
        a->conn = NULL;
    }
    s_take_back_inflight(c, a, why);
    if (!a->create) {
        /* The kept creation runs again: the same arguments, result and id. */
        task_t *t = a->ctor;
        a->ctor = NULL;
        a->refs++; /* the creation holds the handle */
        a->create = t;
        pdc_graph_rerun(c, t);
        if (a->state == A_DEAD)
            return; /* an argument of the constructor failed meanwhile */
    }
    if (a->request)
        pdc_requests_drop(pdc_owner_requests(c), a->request);
    a->request = pdc_requests_add(pdc_owner_requests(c), &s_request_ops, a);
    if (!a->request) {
        s_die(c, a, PDC_ENOMEM, "out of memory restarting the actor");
        return;
    }
    if (a->name_registered > 0)
        a->name_registered = 0; /* its new endpoint, once built */
    a->report = 1;
    pdc_owner_broadcast(c);
}

/* A holder's connection to a broke: ask the head where it went. */
static void s_resolve(pdc_client *c, pdc_actor *a, const char *why) {
    snprintf(a->crash_why, sizeof a->crash_why, "%s", why);
    snprintf(a->broken_endpoint, sizeof a->broken_endpoint, "%s", a->endpoint);
    a->state = A_RESOLVING;
    if (a->conn) {
        a->broken = a->conn;
        a->conn = NULL;
    }
    int64_t now = zclock_mono();
    a->resolve_at = now;
    a->resolve_deadline = now + pdc_owner_config(c)->actor_restart_timeout_ms;
}

/* a's worker died or its connection broke (mutex held). */
static void s_crashed(pdc_client *c, pdc_actor *a, int code, const char *why) {
    if (a->state == A_DEAD || a->state == A_RESOLVING)
        return;
    if (s_restartable(c, a)) {
        s_restart(c, a, why);
    } else if (!a->owned && a->state == A_PLACED && *pdc_owner_head_endpoint(c)) {
        s_resolve(c, a, why);
    } else if (a->owned && a->max_restarts != 0 && !pdc_owner_raylet_lost(c)) {
        char msg[512], count[64];
        snprintf(msg, sizeof msg, "%s; no restarts left (%s)", why,
                 s_restarts_text(a, count, sizeof count));
        s_die(c, a, code, msg);
    } else {
        s_die(c, a, code, why);
    }
}

/* The head's answer to a holder's ACTOR_RESOLVE. */
static void s_on_resolved(pdc_client *c, pdc_actor *a, const pdc_msg_t *msg) {
    char why[800];
    if (msg->type == PDC_MSG_ERROR) {
        char err[400];
        pdc_f_cstr(&msg->fields[PDC_ERROR_MESSAGE], err, sizeof err);
        snprintf(why, sizeof why, "%s (%s)", a->crash_why, err);
        s_die(c, a, PDC_EACTORDIED, why);
        return;
    }
    if (msg->type != PDC_MSG_ACTOR_STATE)
        return;
    pdc_actor_row_t *row = malloc(sizeof *row);
    if (!row)
        return; /* asked again at the next heartbeat */
    pdc_actor_row_read(&msg->fields[PDC_ACTOR_STATE_ACTOR], row);
    int moved = row->state == PDC_ACTOR_ALIVE && strcmp(row->endpoint, a->broken_endpoint);
    int exhausted = row->max_restarts == 0 ||
                    (row->max_restarts > 0 && row->restarts >= (uint64_t) row->max_restarts &&
                     row->state == PDC_ACTOR_ALIVE && !moved);
    if (!pdc_id_eq(row->id, a->id)) {
        /* not about a */
    } else if (row->state == PDC_ACTOR_DEAD) {
        snprintf(why, sizeof why, "the actor is dead: %s", row->reason);
        s_die(c, a, PDC_EACTORDIED, why);
    } else if (moved) {
        snprintf(a->endpoint, sizeof a->endpoint, "%s", row->endpoint);
        snprintf(a->node, sizeof a->node, "%s", row->node);
        a->max_task_retries = (int) row->max_task_retries;
        a->max_restarts = (int) row->max_restarts;
        a->restarts = row->restarts;
        a->state = A_PLACED;
        s_take_back_inflight(c, a, a->crash_why);
        pdc_owner_broadcast(c);
    } else if (exhausted) {
        snprintf(why, sizeof why, "%s; it is not restarted (max_restarts %lld)", a->crash_why,
                 (long long) row->max_restarts);
        s_die(c, a, PDC_EACTORDIED, why);
    }
    free(row);
}

/* A holder waiting for the head: ask again, or give up.  The time of the
   next question. */
static int64_t s_pump_resolving(pdc_client *c, pdc_actor *a) {
    int64_t now = zclock_mono();
    if (now >= a->resolve_deadline) {
        char why[800];
        snprintf(why, sizeof why,
                 "%s; the actor did not come back within actor_restart_timeout_ms (%lld ms)",
                 a->crash_why, (long long) pdc_owner_config(c)->actor_restart_timeout_ms);
        s_die(c, a, PDC_EACTORDIED, why);
        return 0;
    }
    if (now >= a->resolve_at) {
        if (!a->request)
            a->request = pdc_requests_add(pdc_owner_requests(c), &s_request_ops, a);
        if (a->request) {
            pdc_enc_t *e = pdc_owner_enc(c);
            pdc_enc_begin(e, PDC_MSG_ACTOR_RESOLVE, a->request);
            pdc_enc_id(e, a->id);
            pdc_owner_send_head(c, e);
        }
        a->resolve_at = now + pdc_owner_config(c)->heartbeat_ms;
    }
    return a->resolve_at < a->resolve_deadline ? a->resolve_at : a->resolve_deadline;
}

/* The head has the row last sent. */
static void s_on_report_answer(pdc_client *c, void *ctx, uint64_t id, const pdc_msg_t *msg,
                               void *sock) {
    (void) msg;
    (void) sock;
    pdc_actor *a = ctx;
    if (id == a->report_request) {
        pdc_requests_drop(pdc_owner_requests(c), id);
        a->report_request = 0;
    }
}

static const pdc_request_ops_t s_report_ops = {"an actor's state report", s_on_report_answer, NULL};

/* ACTOR_STATE with a's row, to the head (creators only), under a request
   of its own: until the head answers it is sent again every
   node_timeout_ms (a report sent as the head died is lost with it, and
   the restarted head would keep an old state). */
static void s_report(pdc_client *c, pdc_actor *a) {
    a->report = 0;
    if (!*pdc_owner_head_endpoint(c))
        return;
    if (a->report_request)
        pdc_requests_drop(pdc_owner_requests(c), a->report_request);
    a->report_request = pdc_requests_add(pdc_owner_requests(c), &s_report_ops, a);
    a->report_sent_ms = (uint64_t) zclock_mono();
    pdc_actor_row_t *row = calloc(1, sizeof *row);
    if (!row)
        return;
    memcpy(row->id, a->id, PDC_ID_LEN);
    snprintf(row->cls, sizeof row->cls, "%s:%s", a->library ? a->library : "?",
             a->cls ? a->cls : "?");
    snprintf(row->ns, sizeof row->ns, "%s", a->name[0] ? a->ns : "");
    snprintf(row->name, sizeof row->name, "%s", a->name);
    row->state = a->state == A_DEAD ? PDC_ACTOR_DEAD
                 : a->constructed   ? PDC_ACTOR_ALIVE
                 : a->restarts      ? PDC_ACTOR_RESTARTING
                                    : PDC_ACTOR_PENDING;
    snprintf(row->node, sizeof row->node, "%s", a->node);
    snprintf(row->endpoint, sizeof row->endpoint, "%s",
             *a->public_endpoint ? a->public_endpoint : a->endpoint);
    snprintf(row->owner_node, sizeof row->owner_node, "%s", pdc_node_id(c));
    row->restarts = a->restarts;
    row->max_restarts = a->max_restarts;
    row->max_task_retries = a->max_task_retries;
    snprintf(row->reason, sizeof row->reason, "%s",
             a->state == A_DEAD                   ? a->dead_why
             : row->state == PDC_ACTOR_RESTARTING ? a->crash_why
                                                  : "");
    pdc_enc_t *e = pdc_owner_enc(c);
    pdc_enc_begin(e, PDC_MSG_ACTOR_STATE, a->report_request);
    pdc_actor_row_encode(e, row);
    pdc_owner_send_head(c, e);
    free(row);
}

/* ---- The hook of calls and creations (pdc_graph.h) ------------------- */

/* Calls join their actor's queue when submitted, so they leave in
   submission order; the pump sends the longest prefix whose arguments
   are ready (T_QUEUED), and a call still waiting for an argument holds
   back the calls behind it. */
static void s_task_ready(pdc_client *c, task_t *t) {
    pdc_actor *a = t->hook_ctx;
    t->state = T_QUEUED;
    if (t != a->create && a->state == A_DEAD)
        s_fail_task(c, a, t, a->dead_code, a->dead_why);
}

static void s_task_done(pdc_client *c, task_t *t) {
    pdc_actor *a = t->hook_ctx;
    pdc_task_list_remove(t);
    if (t == a->create)
        a->create = NULL;
    a->refs--; /* the task's hold on the handle */
    if (t->result != a->ready)
        return;
    if (t->result->state == OBJ_FAILED) {
        /* The constructor failed, or never ran (an argument failed). */
        char why[600];
        snprintf(why, sizeof why, "the actor could not be created: %s", a->ready->err.message);
        s_die(c, a, a->ready->err.code, why);
        return;
    }
    a->constructed = 1;
    a->report = 1;
}

/* A restartable actor keeps its finished creation, to run it again. */
static int s_task_keep(pdc_client *c, task_t *t) {
    (void) c;
    pdc_actor *a = t->hook_ctx;
    if (t->result != a->ready || t->result->state != OBJ_READY || a->max_restarts == 0 ||
        a->state == A_DEAD || a->ctor)
        return 0;
    a->ctor = t;
    return 1;
}

static const pdc_task_hook_t s_hook = {s_task_ready, s_task_done, s_task_keep};

/* ---- Called by the client core (pdc_actor_owner.h) -------------------- */

int pdc_actor_arg_hold(pdc_client *c, pdc_actor *h, obj_t **wait_on, char *why, size_t len) {
    *wait_on = NULL;
    if (!h || h->client != c) {
        snprintf(why, len, "not an actor handle of this client");
        return PDC_EINVAL;
    }
    if (h->state == A_DEAD) {
        snprintf(why, len, "the actor is dead: %s", h->dead_why);
        return PDC_EACTORDIED;
    }
    h->refs++;
    if (h->ready && h->ready->state != OBJ_READY)
        *wait_on = h->ready;
    return PDC_OK;
}

/* Handles are counted, but an actor's struct lives until the client
   closes: death paths walk the actor list while failing calls whose
   release could otherwise free the actor under them.  One struct per
   actor ever seen is little. */
void pdc_actor_arg_release(pdc_client *c, pdc_actor *h) {
    (void) c;
    h->refs--;
}

const char *pdc_actor_to_wire(pdc_actor *a, char *buf, size_t len) {
    char hex[33];
    snprintf(buf, len, "%s@%s", pdc_id_hex(a->id, hex),
             *a->public_endpoint ? a->public_endpoint : a->endpoint);
    return buf;
}

/* A handle known only by id and endpoint (mutex held). */
static pdc_actor *s_remote_handle(pdc_client *c, const uint8_t *id, const char *endpoint) {
    pdc_actor *a = s_find(c, id);
    if (a) {
        a->refs++;
        return a;
    }
    a = s_new(c, id);
    if (!a)
        return NULL;
    snprintf(a->endpoint, sizeof a->endpoint, "%s", endpoint);
    a->state = A_PLACED;
    a->library = pdc_owner_intern(c, "actor");
    return a;
}

pdc_actor *pdc_actor_from_wire(pdc_client *c, const char *text, size_t len) {
    if (len < 34 || len >= PATH_MAX + 34 || text[32] != '@')
        return NULL;
    uint8_t id[PDC_ID_LEN];
    char copy[PATH_MAX + 40];
    memcpy(copy, text, len);
    copy[len] = '\0';
    copy[32] = '\0';
    if (pdc_id_parse(copy, id))
        return NULL;
    pdc_owner_lock(c);
    pdc_actor *a = s_remote_handle(c, id, copy + 33);
    pdc_owner_unlock(c);
    return a;
}

/* ---- The I/O thread ---------------------------------------------------- */

static void s_on_conn_lost(pdc_client *c, conn_t *k, const char *why) {
    for (pdc_actor *a = *pdc_owner_actors(c); a; a = a->next)
        if (a->conn == k)
            s_crashed(c, a, PDC_EACTORDIED, why);
}

static conn_t *s_actor_conn(pdc_client *c, pdc_actor *a) {
    if (a->conn)
        return a->conn;
    char why[512];
    conn_t *k = pdc_io_conn_open(c, a->endpoint, why, sizeof why);
    if (!k) {
        char msg[600];
        snprintf(msg, sizeof msg, "cannot connect to the actor at %s: %s", a->endpoint, why);
        s_die(c, a, PDC_ECONNECT, msg);
        return NULL;
    }
    pdc_io_conn_watch(c, k, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED, s_on_conn_lost);
    a->conn = k;
    return k;
}

static void s_name_message(pdc_client *c, pdc_actor *a, pdc_msg_type type, const char *endpoint) {
    pdc_enc_t *e = pdc_owner_enc(c);
    pdc_enc_begin(e, type, a->request);
    pdc_enc_s(e, a->ns);
    pdc_enc_s(e, a->name);
    pdc_enc_id(e, a->id);
    if (type == PDC_MSG_ACTOR_NAME_REGISTER)
        pdc_enc_s(e, endpoint);
    pdc_owner_send_head(c, e);
}

/* Ask raylet (NULL: the local one) for a's worker, under a's request id. */
static void s_request_lease(pdc_client *c, pdc_actor *a, void *raylet, unsigned flags) {
    flags |= PDC_LEASE_ACTOR | (a->detached ? PDC_LEASE_DETACHED : 0);
    pdc_sched_request_lease(c, raylet, a->request, a->cpus, flags, &a->res, &a->sched, "");
    a->asked = 1;
}

/* Answers to a's request: from the head while it claims its name, from
   a raylet while it is placed. */
static void s_on_answer(pdc_client *c, void *ctx, uint64_t id, const pdc_msg_t *msg, void *sock) {
    pdc_actor *a = ctx;
    const msgpack_object *f = msg->fields;
    if (a->state == A_RESOLVING) {
        s_on_resolved(c, a, msg);
        return;
    }
    if (!a->owned)
        return; /* a late answer to a holder's question */
    if (a->state == A_NAMING) {
        if (msg->type == PDC_MSG_ACTOR_INFO &&
            pdc_id_eq(pdc_f_id(&f[PDC_ACTOR_INFO_ACTOR_ID]), a->id)) {
            a->state = A_PLACING;
            a->asked = 0;
            pdc_owner_broadcast(c); /* a creator waits for its name (s_named) */
        } else if (msg->type == PDC_MSG_ERROR) {
            char why[512];
            pdc_f_cstr(&f[PDC_ERROR_MESSAGE], why, sizeof why);
            a->name[0] = '\0'; /* not ours: do not drop it later */
            s_die(c, a, (int) pdc_f_i(&f[PDC_ERROR_CODE]), why);
        }
        return;
    }
    if (msg->type == PDC_MSG_ACTOR_INFO) { /* the head has the endpoint */
        if (a->name_registered == 1)
            a->name_registered = 2;
        return;
    }
    if (msg->type == PDC_MSG_LEASE_REDIRECT) {
        char node[PDC_NODE_LEN], endpoint[PATH_MAX];
        pdc_f_cstr(&f[PDC_LEASE_REDIRECT_NODE], node, sizeof node);
        pdc_f_cstr(&f[PDC_LEASE_REDIRECT_ENDPOINT], endpoint, sizeof endpoint);
        if (a->state == A_PLACING)
            pdc_remote_on_redirect(c, id, node, endpoint);
    } else if (msg->type == PDC_MSG_ERROR) {
        char why[512];
        pdc_f_cstr(&f[PDC_ERROR_MESSAGE], why, sizeof why);
        s_die(c, a, (int) pdc_f_i(&f[PDC_ERROR_CODE]), why);
    } else if (msg->type == PDC_MSG_LEASE_GRANT) {
        if (a->state != A_PLACING) {
            /* Dead meanwhile: give the worker back. */
            pdc_enc_t *e = pdc_owner_enc(c);
            pdc_enc_begin(e, PDC_MSG_LEASE_RETURN, 0);
            pdc_enc_id(e, pdc_f_id(&f[PDC_LEASE_GRANT_WORKER_ID]));
            pdc_wire_send(sock, NULL, 0, e, NULL, 0);
            return;
        }
        memcpy(a->worker_id, pdc_f_id(&f[PDC_LEASE_GRANT_WORKER_ID]), PDC_ID_LEN);
        pdc_f_cstr(&f[PDC_LEASE_GRANT_ENDPOINT], a->endpoint, sizeof a->endpoint);
        pdc_f_cstr(&f[PDC_LEASE_GRANT_PUBLIC_ENDPOINT], a->public_endpoint,
                   sizeof a->public_endpoint);
        pdc_f_cstr(&f[PDC_LEASE_GRANT_NODE], a->node, sizeof a->node);
        pdc_f_cstr(&f[PDC_LEASE_GRANT_GPU_IDS], a->gpu_ids, sizeof a->gpu_ids);
        a->state = A_PLACED;
    }
}

static void s_reask(pdc_client *c, void *ctx, uint64_t id, void *raylet, unsigned flags) {
    (void) c;
    (void) id;
    pdc_actor *a = ctx;
    if (a->state != A_PLACING)
        return;
    if (raylet)
        s_request_lease(c, a, raylet, flags);
    else
        a->asked = 0; /* the pump asks the local raylet again */
}

static const pdc_request_ops_t s_request_ops = {"an actor's placement", s_on_answer, s_reask};

/* A dead actor: drop its name, close its connection once a kill went. */
static void s_pump_dead(pdc_client *c, pdc_actor *a) {
    if (a->ctor) {
        pdc_graph_free(c, a->ctor);
        a->ctor = NULL;
    }
    if (a->owned && a->name[0] && a->name_registered >= 0) {
        s_name_message(c, a, PDC_MSG_ACTOR_NAME_DROP, NULL);
        a->name_registered = -1;
    }
    if (a->request) {
        pdc_requests_drop(pdc_owner_requests(c), a->request);
        a->request = 0;
    }
    if (a->conn && !a->kill_pending) {
        conn_t *k = a->conn;
        for (pdc_actor *x = *pdc_owner_actors(c); x; x = x->next)
            if (x->conn == k) {
                x->conn = NULL;
                /* Deliver what was sent (a kill) before the socket goes. */
                pdc_io_conn_release(c, k, (int) pdc_owner_config(c)->shutdown_timeout_ms);
            }
    }
}

/* A placed actor: its creation, its name, its calls. */
static void s_pump_placed(pdc_client *c, pdc_actor *a) {
    pdc_enc_t *e = pdc_owner_enc(c);
    conn_t *k = s_actor_conn(c, a);
    if (!k)
        return;
    void *sock = pdc_peer_sock(k->peer);
    if (a->create) {
        task_t *t = a->create;
        if (t->state != T_QUEUED)
            return; /* its arguments are not ready */
        a->create = NULL;
        pdc_io_encode_worker_lease(c, a->gpu_ids); /* its GPUs, before it is built */
        pdc_wire_send(sock, NULL, 0, e, NULL, 0);
        pdc_enc_begin(e, PDC_MSG_ACTOR_CREATE, 0);
        pdc_enc_id(e, a->id);
        pdc_enc_s(e, pdc_owner_library_for(c, a->library, a->node));
        pdc_enc_s(e, a->cls);
        pdc_graph_encode_args(c, e, t, a->node);
        pdc_enc_u(e, (uint64_t) (a->max_concurrency > 0 ? a->max_concurrency : 1));
        pdc_wire_send(sock, NULL, 0, e, NULL, 0);
        t->state = T_INFLIGHT;
        pdc_task_list_push(&a->inflight, t, 0);
    }
    /* The endpoint goes to the head until it answers: one sent as the
       head dies is lost, and lookups would find the actor "being
       placed" for ever. */
    if (a->owned && a->name[0] && a->constructed &&
        (!a->name_registered ||
         (a->name_registered == 1 &&
          (uint64_t) zclock_mono() >=
              a->name_sent_ms + (uint64_t) pdc_owner_config(c)->node_timeout_ms))) {
        s_name_message(c, a, PDC_MSG_ACTOR_NAME_REGISTER,
                       *a->public_endpoint ? a->public_endpoint : a->endpoint);
        a->name_registered = 1;
        a->name_sent_ms = (uint64_t) zclock_mono();
    }
    size_t ready = 0;
    for (task_t *t = a->queue.head; t && t->state == T_QUEUED; t = t->next)
        ready++;
    if (!ready)
        return;
    pdc_enc_begin(e, PDC_MSG_ACTOR_CALLS, 0);
    pdc_enc_id(e, a->id);
    pdc_enc_array(e, ready);
    for (size_t i = 0; i < ready; i++) {
        task_t *t = a->queue.head;
        pdc_task_list_remove(t);
        pdc_graph_encode(c, e, t, a->node);
        t->state = T_INFLIGHT;
        pdc_task_list_push(&a->inflight, t, 0);
    }
    pdc_wire_send(sock, NULL, 0, e, NULL, 0);
}

uint64_t pdc_actors_pump(pdc_client *c) {
    int64_t next = 0;
    uint64_t again = 0;
    for (pdc_actor *a = *pdc_owner_actors(c); a; a = a->next) {
        if (a->broken) {
            pdc_io_conn_release(c, a->broken, 0);
            a->broken = NULL;
        }
        if (a->owned && a->state == A_NAMING && !a->asked) {
            a->asked = 1;
            if (!*pdc_owner_head_endpoint(c))
                s_die(c, a, PDC_ECONNECT, "named actors need a head, and this node has none");
            else
                s_name_message(c, a, PDC_MSG_ACTOR_NAME_REGISTER, "");
        }
        if (a->owned && a->state == A_PLACING && pdc_owner_raylet_lost(c))
            s_die(c, a, PDC_ECONNECT, pdc_owner_raylet_lost(c)); /* no lease can come */
        if (a->owned && a->state == A_PLACING && !a->asked)
            s_request_lease(c, a, NULL, 0);
        if (a->kill_pending && a->conn) {
            pdc_enc_t *e = pdc_owner_enc(c);
            pdc_enc_begin(e, PDC_MSG_ACTOR_KILL, 0);
            pdc_enc_id(e, a->id);
            pdc_wire_send(pdc_peer_sock(a->conn->peer), NULL, 0, e, NULL, 0);
            a->kill_pending = 0;
        }
        if (a->state == A_RESOLVING) {
            int64_t when = s_pump_resolving(c, a);
            if (when && (!next || when < next))
                next = when;
        }
        uint64_t resend = a->report_sent_ms + (uint64_t) pdc_owner_config(c)->node_timeout_ms;
        if (a->report_request && !a->report && (uint64_t) zclock_mono() >= resend)
            a->report = 1;
        if (a->report)
            s_report(c, a);
        if (a->report_request) {
            resend = a->report_sent_ms + (uint64_t) pdc_owner_config(c)->node_timeout_ms;
            again = !again || resend < again ? resend : again;
        }
        if (a->state == A_DEAD)
            s_pump_dead(c, a);
        else if (a->state == A_PLACED)
            s_pump_placed(c, a);
        if (a->state == A_PLACED && a->name_registered == 1) {
            uint64_t at = a->name_sent_ms + (uint64_t) pdc_owner_config(c)->node_timeout_ms;
            again = !again || at < again ? at : again;
        }
    }
    if (next > 0 && (!again || (uint64_t) next < again))
        again = (uint64_t) next;
    return again;
}

int pdc_actors_on_worker_died(pdc_client *c, const uint8_t *worker_id, int status) {
    for (pdc_actor *a = *pdc_owner_actors(c); a; a = a->next) {
        if (!a->owned || !pdc_id_eq(a->worker_id, worker_id))
            continue;
        char why[160];
        snprintf(why, sizeof why, "the actor's worker on node %s exited (%s %d)", a->node,
                 status < 0 ? "signal" : "status", status < 0 ? -status : status);
        s_crashed(c, a, PDC_EACTORDIED, why);
        return 1;
    }
    return 0;
}

void pdc_actors_stop(pdc_client *c) {
    for (pdc_actor *a = *pdc_owner_actors(c); a; a = a->next)
        if (a->owned && !a->detached && a->state != A_DEAD) {
            a->kill_pending = a->state == A_PLACED;
            s_die(c, a, PDC_EACTORDIED, "the process that created the actor shut down");
        }
}

void pdc_actors_free(pdc_client *c) {
    pdc_actor **list = pdc_owner_actors(c);
    while (*list) {
        pdc_actor *a = *list;
        *list = a->next;
        if (a->ctor)
            pdc_graph_free(c, a->ctor);
        if (a->ready)
            pdc_obj_unref(c, a->ready);
        if (a->conn)
            pdc_io_conn_release(c, a->conn, 0);
        if (a->broken)
            pdc_io_conn_release(c, a->broken, 0);
        free(a);
    }
}

/* ---- The API ----------------------------------------------------------- */

/* The head has answered a's name claim (or the actor is dead). */
static int s_named(pdc_client *c, void *arg) {
    (void) c;
    return ((pdc_actor *) arg)->state != A_NAMING;
}

/* As in Ray, the name is the actor's when create returns, so a lookup
   right after it finds the actor (being placed).  A head that does not
   answer (down, restarting on its database) is asked again every
   node_timeout_ms, the claim that went into a dead connection being
   lost, until connect_timeout_ms have passed; then the actor fails.  A
   claim the head gets twice is answered twice (the same id). */
static void s_claim_name(pdc_client *c, pdc_actor *a) {
    const pdc_config_t *cfg = pdc_owner_config(c);
    int64_t start = zclock_mono(), left;
    pdc_owner_wake(c);
    while (a->state == A_NAMING && (left = start + cfg->connect_timeout_ms - zclock_mono()) > 0) {
        if (pdc_owner_wait(c, s_named, a,
                           left < cfg->node_timeout_ms ? left : cfg->node_timeout_ms) ==
            PDC_ESHUTDOWN)
            return;
        if (a->state == A_NAMING) {
            a->asked = 0; /* the pump claims it again */
            pdc_owner_wake(c);
        }
    }
    if (a->state == A_NAMING) {
        char why[600];
        snprintf(why, sizeof why,
                 "the head at %s did not answer the claim of the actor name '%s' within %lld ms "
                 "(connect_timeout_ms)",
                 pdc_owner_head_endpoint(c), a->name, (long long) cfg->connect_timeout_ms);
        s_die(c, a, PDC_ETIMEOUT, why);
    }
}

pdc_actor *pdc_actor_create_args(pdc_client *c, const char *library, const char *cls,
                                 const pdc_actor_opts *opts, const pdc_value *args, size_t nargs) {
    if (!c || !library || !cls) {
        pdc_owner_set_error(PDC_EINVAL, "pdc_actor_create: client, library and class are required");
        return NULL;
    }
    pdc_owner_clear_error();
    char path[PATH_MAX];
    if (library[0] != '/' && strchr(library, '/') && realpath(library, path))
        library = path;
    pdc_resources_t res;
    pdc_sched_t sched;
    char why[300];
    if (PDC_SCHED_FROM_OPTIONS(opts, &res, &sched, why, sizeof why)) {
        pdc_owner_set_error(PDC_EINVAL, "pdc_actor_create: %s", why);
        return NULL;
    }
    pdc_owner_lock(c);
    const char *lib = pdc_owner_intern(c, library), *name = pdc_owner_intern(c, cls);
    uint8_t id[PDC_ID_LEN];
    pdc_id_new(id);
    pdc_actor *a = s_new(c, id);
    if (a)
        a->request = pdc_requests_add(pdc_owner_requests(c), &s_request_ops, a);
    if (!a || !a->request) {
        if (a)
            a->state = A_DEAD;
        pdc_owner_unlock(c);
        pdc_owner_set_error(PDC_ENOMEM, "pdc_actor_create: out of memory");
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
    a->max_restarts = opts && opts->max_restarts < 0 ? -1 : opts ? opts->max_restarts : 0;
    a->max_task_retries = opts && opts->max_task_retries < 0 ? -1
                          : opts                             ? opts->max_task_retries
                                                             : 0;
    a->report = 1;
    snprintf(a->ns, sizeof a->ns, "%s", opts && opts->ns ? opts->ns : "default");
    if (opts && opts->name)
        snprintf(a->name, sizeof a->name, "%s", opts->name);
    a->state = a->name[0] ? A_NAMING : A_PLACING;
    pdc_ref ref;
    a->refs++; /* the creation holds the handle, as calls do */
    task_t *t = pdc_graph_task_new(c, lib, name, args, nargs, &s_hook, a, &ref);
    /* The actor's id is its creation's; the caller's reference of the
       creation result is the actor's hold on it. */
    memcpy(a->id, ref.id, PDC_ID_LEN);
    a->ready = pdc_obj_find(c, ref.id);
    if (!t) {
        /* Failed at submission: the result holds why. */
        obj_t *o = a->ready;
        if (a->state != A_DEAD)
            a->refs--;
        s_die(c, a, o ? o->err.code : PDC_ENOMEM, o ? o->err.message : "out of memory");
    } else {
        a->create = t;
        pdc_graph_submit(c, t);
    }
    if (a->state == A_NAMING)
        s_claim_name(c, a);
    pdc_owner_unlock(c);
    pdc_owner_wake(c);
    return a;
}

int pdc_actor_ready(pdc_client *c, pdc_actor *a, int64_t timeout_ms) {
    if (!c || !a)
        return pdc_owner_set_error(PDC_EINVAL, "pdc_actor_ready: no actor");
    if (!a->owned) {
        pdc_owner_lock(c);
        int rc = a->state == A_DEAD ? pdc_owner_set_error(a->dead_code, "%s", a->dead_why) : PDC_OK;
        pdc_owner_unlock(c);
        return rc;
    }
    pdc_ref r;
    memcpy(r.id, a->id, PDC_ID_LEN);
    pdc_object o;
    int rc = pdc_get(c, r, &o, timeout_ms);
    pdc_object_release(c, &o);
    if (rc == PDC_OK) {
        pdc_owner_lock(c);
        if (a->state == A_DEAD)
            rc = pdc_owner_set_error(a->dead_code, "%s", a->dead_why);
        pdc_owner_unlock(c);
    }
    return rc;
}

pdc_ref pdc_actor_call_args(pdc_client *c, pdc_actor *a, const char *method, const pdc_value *args,
                            size_t nargs) {
    pdc_ref ref;
    memset(&ref, 0, sizeof ref);
    if (!c || !a || !method) {
        pdc_owner_set_error(PDC_EINVAL, "pdc_actor_call: client, actor and method are required");
        return ref;
    }
    pdc_owner_clear_error();
    pdc_owner_lock(c);
    if (a->state == A_DEAD) {
        char fn[512];
        snprintf(fn, sizeof fn, "%s.%s", a->cls ? a->cls : "actor", method);
        ref = pdc_obj_error_ref(c, a->dead_code, fn, a->dead_why);
        pdc_owner_unlock(c);
        return ref;
    }
    a->refs++; /* the call holds the handle */
    task_t *t = pdc_graph_task_new(c, a->library, pdc_owner_intern(c, method), args, nargs, &s_hook,
                                   a, &ref);
    if (t) {
        t->retries_left = a->owned || a->restarts ? a->max_task_retries : RETRIES_UNKNOWN;
        pdc_task_list_push(&a->queue, t, 0);
        pdc_graph_submit(c, t);
    }
    pdc_owner_unlock(c);
    if (t)
        pdc_owner_wake(c);
    return ref;
}

int pdc_actor_kill(pdc_client *c, pdc_actor *a) {
    if (!c || !a)
        return pdc_owner_set_error(PDC_EINVAL, "pdc_actor_kill: no actor");
    pdc_owner_lock(c);
    int rc = PDC_OK;
    if (a->state == A_DEAD) {
        rc = pdc_owner_set_error(PDC_EACTORDIED, "the actor is already dead: %s", a->dead_why);
    } else {
        pdc_owner_clear_error();
        a->kill_pending = a->state == A_PLACED;
        s_die(c, a, PDC_EACTORDIED, "the actor was killed by pdc_actor_kill");
    }
    pdc_owner_unlock(c);
    pdc_owner_wake(c);
    return rc;
}

void pdc_actor_release(pdc_client *c, pdc_actor *a) {
    if (!c || !a)
        return;
    pdc_owner_lock(c);
    a->refs--;
    pdc_owner_unlock(c);
}

void pdc_actor_retain(pdc_client *c, pdc_actor *a) {
    if (!c || !a)
        return;
    pdc_owner_lock(c);
    a->refs++;
    pdc_owner_unlock(c);
}

const char *pdc_actor_id(pdc_actor *a, char *buf) {
    return pdc_id_hex(a->id, buf);
}

/* One ACTOR_LOOKUP on peer, answered within wait_ms.  1: found (*found
   set), 0: ask again (no answer, or still being placed: why says which),
   -1: an error from the head (code, why). */
static int s_lookup_once(pdc_client *c, pdc_peer_t *peer, const char *name, const char *ns,
                         long wait_ms, pdc_actor **found, int *code, char *why, size_t len) {
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    pdc_enc_begin(&enc, PDC_MSG_ACTOR_LOOKUP, 1);
    pdc_enc_s(&enc, ns);
    pdc_enc_s(&enc, name);
    pdc_peer_send(peer, &enc, NULL, 0);
    pdc_enc_free(&enc);
    zmq_pollitem_t item = {pdc_peer_sock(peer), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, wait_ms) != 1) {
        snprintf(why, len, "no answer from the head at %s", pdc_peer_endpoint(peer));
        return 0;
    }
    pdc_inbound_t in;
    int rc = pdc_wire_recv(pdc_peer_sock(peer), 0, &in);
    int outcome = 0;
    if (rc > 0 && in.msg.type == PDC_MSG_ACTOR_INFO) {
        char endpoint[PATH_MAX];
        pdc_f_cstr(&in.msg.fields[PDC_ACTOR_INFO_ENDPOINT], endpoint, sizeof endpoint);
        if (*endpoint) {
            pdc_owner_lock(c);
            *found =
                s_remote_handle(c, pdc_f_id(&in.msg.fields[PDC_ACTOR_INFO_ACTOR_ID]), endpoint);
            pdc_owner_unlock(c);
            outcome = 1;
        } else {
            snprintf(why, len, "actor '%s' is still being placed", name);
        }
    } else if (rc > 0 && in.msg.type == PDC_MSG_ERROR) {
        *code = (int) pdc_f_i(&in.msg.fields[PDC_ERROR_CODE]);
        pdc_f_cstr(&in.msg.fields[PDC_ERROR_MESSAGE], why, len);
        outcome = -1;
    }
    if (rc != 0)
        pdc_inbound_close(&in);
    return outcome;
}

/* Ask the head for a named actor, on a socket of this call's own (the
   I/O thread owns the client's sockets).  Asks again while the actor is
   still being placed (endpoint ""), and while the head is silent: with
   PDC_FOREVER a head that stops answering for a while (busy, restarted)
   is waited for; each silent round opens a fresh socket, so unanswered
   lookups do not pile up in a queue. */
pdc_actor *pdc_actor_get_named(pdc_client *c, const char *name, const char *ns,
                               int64_t timeout_ms) {
    if (!c || !name) {
        pdc_owner_set_error(PDC_EINVAL, "pdc_actor_get_named: a name is required");
        return NULL;
    }
    pdc_owner_clear_error();
    const char *head = pdc_owner_head_endpoint(c);
    if (!*head) {
        pdc_owner_set_error(PDC_ECONNECT, "pdc_actor_get_named: this node has no head");
        return NULL;
    }
    const pdc_config_t *cfg = pdc_owner_config(c);
    int64_t start = zclock_mono();
    pdc_actor *found = NULL;
    int code = PDC_ETIMEOUT;
    char why[512];
    snprintf(why, sizeof why, "no answer from the head at %s", head);
    pdc_peer_t *peer = NULL;
    for (;;) {
        if (!peer)
            peer = pdc_peer_new(NULL, cfg, head, NULL, NULL, why, sizeof why);
        if (!peer) {
            code = PDC_ECONNECT;
            break;
        }
        int64_t waited = zclock_mono() - start;
        if (timeout_ms >= 0 && waited >= timeout_ms)
            break;
        long wait = (long) cfg->connect_timeout_ms;
        if (timeout_ms >= 0 && timeout_ms - waited < wait)
            wait = (long) (timeout_ms - waited);
        int outcome = s_lookup_once(c, peer, name, ns ? ns : "default", wait < 1 ? 1 : wait, &found,
                                    &code, why, sizeof why);
        if (outcome != 0)
            break;
        if (!strncmp(why, "no answer", 9))
            pdc_peer_destroy(&peer, 0);
        else
            zclock_sleep((int) cfg->heartbeat_ms / 5 + 1);
    }
    pdc_peer_destroy(&peer, 0);
    if (!found) {
        if (code == PDC_ETIMEOUT && timeout_ms >= 0)
            pdc_owner_set_error(code, "pdc_actor_get_named('%s'): %s (waited %lld ms)", name, why,
                                (long long) timeout_ms);
        else
            pdc_owner_set_error(code, "pdc_actor_get_named('%s'): %s", name, why);
    }
    return found;
}
