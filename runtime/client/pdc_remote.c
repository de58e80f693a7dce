/*  pdc_remote: the owner's side of other nodes.

    What a client does beyond its own node's raylet, all on its I/O
    thread with the mutex held unless said otherwise:

    - Lease requests.  When the local raylet answers a lease request
      (pdc_sched_request_lease) with LEASE_REDIRECT, the request goes to
      that node's raylet on a connection opened for it (a raylet_conn,
      registered there as a holder on another node), asked again through
      the request registry (pdc_requests_reask), and is remembered as
      spilled until granted or refused; if that connection drops, it is
      asked of the local raylet again.
    - Liveness.  Connections to tcp endpoints use ZeroMQ heartbeats and a
      socket monitor (pdc_peer): a leased worker whose node vanished counts
      as a dead worker (pdc_sched_on_conn_lost: its tasks are retried), and
      every keepalive_ms a KEEPALIVE tells each remote raylet this holder
      lives.
    - Objects.  Frees of objects with copies elsewhere go out as one
      OBJECT_FREE; a thread that needs an object made on another node (or
      a code package) waits in pdc_client_pull (pdc_client_dlopen) while
      the I/O thread asks the raylet.
    - Code.  The first task of a library for another node uploads it to
      the head as a code package (see pdc_code.h); workers load packages
      through their raylet's cache.
*/
#include "pdc_client_internal.h"

#include "pdc_code.h"
#include "pdc_id.h"
#include "pdc_labels.h"
#include "pdc_log.h"
#include "pdc_wire.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A connection to a raylet on another node, opened when the local raylet
   sends a lease request there (LEASE_REDIRECT). */
typedef struct raylet_conn {
    pdc_client *client;
    char node[PDC_NODE_LEN];
    pdc_peer_t *peer;
    int down;                 /* it dropped (or never came up): node dead */
    int connected_once;       /* a later CONNECTED is a new connection */
    uint64_t reregistered_ms; /* when it last registered again on a refusal */
    int refusals;             /* refusals asked again since its last grant */
    uint64_t created_ms;
    struct raylet_conn *next;
} raylet_conn_t;

/* A lease request sent to another node's raylet, not answered yet (raylet
   set), or one to ask the local raylet again at due (raylet NULL): the
   other node went away, and the local raylet's view may still send the
   request there until the head declares that node dead. */
typedef struct spilled {
    uint64_t request;
    raylet_conn_t *raylet;
    uint64_t due; /* ms, for a deferred one */
    struct spilled *next;
} spilled_t;

/* A request to the local raylet a thread waits on: an object to copy
   into this node's store (OBJECT_PULL), or a code package to find
   (CODE_GET, hash set; the answer's path goes to path). */
struct pull {
    uint8_t id[PDC_ID_LEN];
    char node[PDC_NODE_LEN];
    char hash[72];
    char path[PATH_MAX];
    uint64_t request;
    int sent, done, code;
    char why[512];
    struct pull *next;
};
typedef struct pull pull_t;

/* A library this client has uploaded to the head as a code package. */
typedef struct code_upload {
    const char *library; /* interned */
    char *ref;           /* "pdc-code:HASH:PATH", or NULL if it failed */
    struct code_upload *next;
} code_upload_t;

static void s_raylet_lost(pdc_client *c, raylet_conn_t *r, const char *why);
static void s_register_holder(pdc_client *c, raylet_conn_t *r);

/* The monitor of a raylet connection (its peer's arg is the client, so
   the connection is found by its peer). */
static void s_on_raylet_event_c(pdc_peer_t *peer, unsigned events, void *arg) {
    pdc_client *c = arg;
    pthread_mutex_lock(&c->mu);
    for (raylet_conn_t *r = c->raylets; r; r = r->next) {
        if (r->peer != peer)
            continue;
        if (events & ZMQ_EVENT_CONNECTED) {
            r->down = 0; /* up (again: a glitch, not a death) */
            /* ZeroMQ connected again by itself: the raylet there (restarted,
               or back after a partition in which it dropped this holder)
               does not know this client on the new connection. */
            if (r->connected_once)
                s_register_holder(c, r);
            r->connected_once = 1;
        }
        if (events & ZMQ_EVENT_DISCONNECTED)
            s_raylet_lost(c, r, "lost the connection");
    }
    pthread_mutex_unlock(&c->mu);
}

static raylet_conn_t *s_raylet_conn(pdc_client *c, const char *node, const char *endpoint) {
    for (raylet_conn_t *r = c->raylets; r; r = r->next)
        if (!strcmp(r->node, node) && !strcmp(pdc_peer_endpoint(r->peer), endpoint))
            return r;
    raylet_conn_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    char why[512];
    snprintf(r->node, sizeof r->node, "%s", node);
    r->client = c;
    r->created_ms = uv_now(&c->loop);
    /* Monitored from the start: "never came up" must mean just that. */
    r->peer = pdc_peer_new_monitored(&c->loop, &c->cfg, endpoint, pdc_io_on_raylet, c,
                                     ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECTED,
                                     s_on_raylet_event_c, why, sizeof why);
    if (!r->peer) {
        pdc_warn("cannot reach node %s's raylet at %s: %s", node, endpoint, why);
        free(r);
        return NULL;
    }
    s_register_holder(c, r);
    r->next = c->raylets;
    c->raylets = r;
    return r;
}

/* REGISTER on r as a holder on another node: its leases go when this
   client's node dies. */
static void s_register_holder(pdc_client *c, raylet_conn_t *r) {
    pdc_enc_begin(&c->enc, PDC_MSG_REGISTER, 0);
    pdc_enc_u(&c->enc, 2);
    pdc_enc_u(&c->enc, (uint64_t) getpid());
    uint8_t zero[PDC_ID_LEN] = {0};
    pdc_enc_id(&c->enc, c->is_worker ? c->worker_id : zero);
    pdc_enc_s(&c->enc, c->endpoint);
    pdc_enc_s(&c->enc, c->public_endpoint);
    pdc_enc_s(&c->enc, c->node_id);
    pdc_peer_send(r->peer, &c->enc, NULL, 0);
}

void *pdc_remote_raylet_sock(pdc_client *c, const char *node, const char *endpoint) {
    raylet_conn_t *r = s_raylet_conn(c, node, endpoint);
    return r && !r->down ? pdc_peer_sock(r->peer) : NULL;
}

/* Refusals of one raylet connection answered by registering again, before
   one of its grants shows the registration holds: past this, they fail. */
#define S_MAX_REREGISTERED 100

int pdc_remote_on_unregistered(pdc_client *c, const pdc_msg_t *msg, void *sock) {
    raylet_conn_t *r = c->raylets;
    while (r && pdc_peer_sock(r->peer) != sock)
        r = r->next;
    if (!r)
        return 0; /* the local raylet, or the head */
    if (msg->type == PDC_MSG_LEASE_GRANT) {
        r->refusals = 0; /* it knows this client */
        return 0;
    }
    if (msg->type != PDC_MSG_ERROR || pdc_f_i(&msg->fields[PDC_ERROR_CODE]) != PDC_EINVAL)
        return 0;
    char why[512];
    pdc_f_cstr(&msg->fields[PDC_ERROR_MESSAGE], why, sizeof why);
    if (!strstr(why, PDC_NOT_REGISTERED_TEXT) || r->refusals >= S_MAX_REREGISTERED)
        return 0;
    /* Several requests sent before the REGISTER are refused one by one:
       one REGISTER a heartbeat is enough, and each is asked again after
       it on the same connection. */
    uint64_t now = uv_now(&c->loop);
    if (!r->reregistered_ms || now - r->reregistered_ms >= (uint64_t) c->cfg.heartbeat_ms) {
        r->reregistered_ms = now;
        pdc_warn("node %s's raylet no longer knew this client: registering again", r->node);
        s_register_holder(c, r);
    }
    r->refusals++;
    /* Asked again a heartbeat later, through the local raylet (as when a
       node's connection drops): a raylet that rejoined may still see this
       client's node as dead for a moment, and drop it again. */
    for (spilled_t *x = c->spilled; x; x = x->next)
        if (x->request == msg->request_id && x->raylet == r) {
            x->raylet = NULL;
            x->due = now + (uint64_t) c->cfg.heartbeat_ms;
            return 1;
        }
    return pdc_requests_reask(c, &c->requests, msg->request_id, sock, PDC_LEASE_SPILLED);
}

void pdc_remote_spilled_forget(pdc_client *c, uint64_t request, void *raylet) {
    for (spilled_t **p = &c->spilled; *p; p = &(*p)->next)
        if ((*p)->request == request && (*p)->raylet &&
            pdc_peer_sock((*p)->raylet->peer) == raylet) {
            spilled_t *x = *p;
            *p = x->next;
            free(x);
            return;
        }
}

/* The local raylet sends request to another node: ask that node. */
void pdc_remote_on_redirect(pdc_client *c, uint64_t request, const char *node,
                            const char *endpoint) {
    raylet_conn_t *r = s_raylet_conn(c, node, endpoint);
    spilled_t *x = calloc(1, sizeof *x);
    if (!x)
        return;
    x->request = request;
    x->next = c->spilled;
    c->spilled = x;
    if (!r || r->down) {
        /* That node went away: ask here again once the view may know. */
        x->due = uv_now(&c->loop) + 2 * (uint64_t) c->cfg.heartbeat_ms;
        return;
    }
    x->raylet = r;
    pdc_requests_reask(c, &c->requests, request, pdc_peer_sock(r->peer), PDC_LEASE_SPILLED);
}

/* A raylet on another node went away (or never answered the connection):
   what was asked of it is asked of the local raylet again, a little later,
   when its view may say the node is dead.  Mutex held. */
static void s_raylet_lost(pdc_client *c, raylet_conn_t *r, const char *why) {
    if (r->down)
        return;
    r->down = 1;
    pdc_warn("node %s's raylet at %s: %s", r->node, pdc_peer_endpoint(r->peer), why);
    uint64_t due = uv_now(&c->loop) + 2 * (uint64_t) c->cfg.heartbeat_ms;
    for (spilled_t *x = c->spilled; x; x = x->next)
        if (x->raylet == r) {
            x->raylet = NULL;
            x->due = due;
        }
    pdc_replicas_on_node_lost(c, r->node); /* copies of puts it held */
}

/* Every keepalive: connections that never came up count as lost, and
   deferred lease requests whose time has come go to the local raylet. */
static void s_retry_deferred(pdc_client *c) {
    uint64_t now = uv_now(&c->loop);
    for (raylet_conn_t *r = c->raylets; r; r = r->next)
        if (!pdc_peer_connected(r->peer) && !r->down &&
            now - r->created_ms > 2 * (uint64_t) c->cfg.node_timeout_ms)
            s_raylet_lost(c, r, "no connection came up");
    for (spilled_t **p = &c->spilled; *p;) {
        spilled_t *x = *p;
        if (x->raylet || x->due > now) {
            p = &x->next;
            continue;
        }
        *p = x->next;
        pdc_requests_reask(c, &c->requests, x->request, NULL, 0);
        free(x);
    }
    pdc_io_pump(c);
}

/* Send OBJECT_FREE for objects with copies on other nodes, and OBJECT_PULL
   for objects waited for. */
void pdc_remote_send(pdc_client *c) {
    pdc_replicas_pump(c);
    size_t nfrees;
    const uint8_t(*frees)[PDC_ID_LEN] = pdc_obj_frees(c, &nfrees);
    if (nfrees) {
        pdc_enc_begin(&c->enc, PDC_MSG_OBJECT_FREE, 0);
        pdc_enc_u(&c->enc, 1);
        pdc_enc_array(&c->enc, nfrees);
        for (size_t i = 0; i < nfrees; i++)
            pdc_enc_id(&c->enc, frees[i]);
        pdc_io_send_raylet(c);
        pdc_obj_frees_clear(c);
    }
    for (pull_t *p = c->pulls; p; p = p->next) {
        if (p->sent)
            continue;
        p->sent = 1;
        if (*p->hash) {
            pdc_enc_begin(&c->enc, PDC_MSG_CODE_GET, p->request);
            pdc_enc_s(&c->enc, p->hash);
        } else {
            pdc_enc_begin(&c->enc, PDC_MSG_OBJECT_PULL, p->request);
            pdc_enc_id(&c->enc, p->id);
            pdc_enc_s(&c->enc, p->node);
            pdc_enc_u(&c->enc, 0); /* a copy for a reader here */
        }
        pdc_io_send_raylet(c);
    }
}

static int s_pull_done(pdc_client *c, void *arg) {
    (void) c;
    return ((pull_t *) arg)->done;
}

/* The raylet answered a pull (OBJECT_READY) or a code request
   (CODE_PATH), or refused it (ERROR). */
static void s_pull_answer(pdc_client *c, void *ctx, uint64_t id, const pdc_msg_t *msg, void *sock) {
    (void) id;
    (void) sock;
    pull_t *p = ctx;
    const msgpack_object *f = msg->fields;
    if (msg->type == PDC_MSG_ERROR) {
        p->code = (int) pdc_f_i(&f[PDC_ERROR_CODE]);
        pdc_f_cstr(&f[PDC_ERROR_MESSAGE], p->why, sizeof p->why);
    } else if (msg->type == PDC_MSG_CODE_PATH) {
        pdc_f_cstr(&f[PDC_CODE_PATH_PATH], p->path, sizeof p->path);
    } else if (msg->type != PDC_MSG_OBJECT_READY) {
        return;
    }
    p->done = 1;
    pthread_cond_broadcast(&c->cv);
}

static const pdc_request_ops_t s_pull_ops = {"a pull", s_pull_answer, NULL};

void pdc_remote_on_raylet_lost(pdc_client *c) {
    for (pull_t *p = c->pulls; p; p = p->next)
        if (!p->done) {
            p->done = 1;
            p->code = PDC_ECONNECT;
            snprintf(p->why, sizeof p->why, "%s", c->raylet_lost_why);
        }
}

/* Queue p for the I/O thread to send to the raylet (mutex not held). */
static void s_raylet_request_start(pdc_client *c, pull_t *p) {
    pthread_mutex_lock(&c->mu);
    p->request = c->raylet_lost ? 0 : pdc_requests_add(&c->requests, &s_pull_ops, p);
    if (c->raylet_lost) {
        p->done = 1;
        p->code = PDC_ECONNECT;
        snprintf(p->why, sizeof p->why, "%s", c->raylet_lost_why);
    } else if (!p->request) {
        p->done = 1;
        p->code = PDC_ENOMEM;
        snprintf(p->why, sizeof p->why, "out of memory");
    } else {
        p->next = c->pulls;
        c->pulls = p;
    }
    pthread_mutex_unlock(&c->mu);
    pdc_client_wake(c);
}

/* Wait for the answer to p and take it off the list (mutex not held).
   PDC_OK, a timeout, or the answer's error code (p->why). */
static int s_raylet_request_wait(pdc_client *c, pull_t *p, int64_t timeout_ms) {
    pthread_mutex_lock(&c->mu);
    int rc = pdc_client_wait_until(c, s_pull_done, p, timeout_ms, 0);
    pdc_requests_drop(&c->requests, p->request);
    for (pull_t **q = &c->pulls; *q; q = &(*q)->next)
        if (*q == p) {
            *q = p->next;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    return rc == PDC_OK ? p->code : rc;
}

pdc_pull_t *pdc_client_pull_start(pdc_client *c, const uint8_t *id, const char *node) {
    pull_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    memcpy(p->id, id, PDC_ID_LEN);
    snprintf(p->node, sizeof p->node, "%s", node);
    int here = pdc_store_contains(c->store, id);
    if (here < 0) {
        p->done = 1;
        p->code = here;
        snprintf(p->why, sizeof p->why, "%s", pdc_store_last_error());
        return p;
    }
    if (here) {
        p->done = 1; /* here already: nothing to ask */
        return p;
    }
    if (!strcmp(node, c->node_id)) {
        char hex[33];
        p->done = 1;
        int rc = pdc_store_restore(c->store, id, p->why, sizeof p->why);
        if (rc == PDC_OK)
            return p; /* it was spilled: here again */
        p->code = rc == PDC_ENOTFOUND ? PDC_EOBJECTLOST : rc;
        if (rc != PDC_ENOTFOUND)
            return p;
        snprintf(p->why, sizeof p->why, "object %s should be in this node's (%s) store and is not",
                 pdc_id_hex(id, hex), node);
        return p;
    }
    s_raylet_request_start(c, p);
    return p;
}

int pdc_client_pull_wait(pdc_client *c, pdc_pull_t *p, int64_t timeout_ms, char *why, size_t len) {
    if (!p) {
        snprintf(why, len, "out of memory");
        return PDC_ENOMEM;
    }
    if (timeout_ms < 0 || timeout_ms > c->cfg.pull_timeout_ms)
        timeout_ms = c->cfg.pull_timeout_ms;
    int rc = p->request ? s_raylet_request_wait(c, p, timeout_ms) : p->code;
    char hex[33];
    if (rc == PDC_ETIMEOUT)
        snprintf(why, len, "object %s did not arrive from node %s within %lld ms",
                 pdc_id_hex(p->id, hex), p->node, (long long) timeout_ms);
    else if (rc == PDC_ESHUTDOWN)
        snprintf(why, len, "the client is shutting down");
    else if (rc != PDC_OK)
        snprintf(why, len, "%s", p->why);
    free(p);
    return rc;
}

int pdc_client_pull(pdc_client *c, const uint8_t *id, const char *node, int64_t timeout_ms,
                    char *why, size_t len) {
    return pdc_client_pull_wait(c, pdc_client_pull_start(c, id, node), timeout_ms, why, len);
}

int pdc_client_send_head(pdc_client *c, const pdc_enc_t *enc, const void *payload, size_t size) {
    if (!c->head) {
        char why[512];
        if (!*c->head_endpoint)
            return -1;
        c->head =
            pdc_peer_new(&c->loop, &c->cfg, c->head_endpoint, pdc_io_on_raylet, c, why, sizeof why);
        if (!c->head) {
            pdc_warn("cannot reach the head at %s: %s", c->head_endpoint, why);
            return -1;
        }
    }
    return pdc_peer_send(c->head, enc, payload, size);
}

const char *pdc_client_library_for(pdc_client *c, const char *library, const char *node) {
    char hash[PDC_CODE_HASH_LEN + 1];
    /* A name without a '/' is no file of this host: each node finds it
       itself (the dynamic linker's search path, or a language worker's
       own name such as pdc:python), so there is nothing to upload. */
    if (!node || !*node || !strcmp(node, c->node_id) || pdc_code_parse(library, hash, NULL) ||
        !strchr(library, '/'))
        return library;
    code_upload_t *u;
    for (u = c->uploads; u && u->library != library; u = u->next) {
    }
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u)
            return library;
        u->library = library;
        u->next = c->uploads;
        c->uploads = u;
        void *bytes;
        size_t size;
        char why[512], ref[PATH_MAX + 80];
        if (pdc_code_read(library, (size_t) c->cfg.max_message_size / 2, &bytes, &size, why,
                          sizeof why)) {
            pdc_warn("%s; workers on other nodes will try the path itself", why);
            return library;
        }
        pdc_code_hash(bytes, size, hash);
        /* Its own encoder: the caller is in the middle of a message. */
        const char *slash = strrchr(library, '/');
        pdc_enc_t put;
        pdc_enc_init(&put);
        pdc_enc_begin(&put, PDC_MSG_CODE_PUT, 0);
        pdc_enc_s(&put, hash);
        pdc_enc_s(&put, slash ? slash + 1 : library);
        int sent = pdc_client_send_head(c, &put, bytes, size);
        pdc_enc_free(&put);
        if (sent == 0) {
            pdc_code_ref(hash, library, ref, sizeof ref);
            u->ref = strdup(ref);
        } else {
            pdc_warn("cannot upload %s: this client has no head", library);
        }
        free(bytes);
    }
    return u->ref ? u->ref : library;
}

void *pdc_client_dlopen(pdc_client *c, const char *library, char *why, size_t len) {
    char hash[PDC_CODE_HASH_LEN + 1];
    const char *path = library;
    if (!pdc_code_parse(library, hash, &path)) {
        void *h = dlopen(library, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            snprintf(why, len, "cannot load library '%s': %s", library, dlerror());
        return h;
    }
    pull_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(why, len, "out of memory");
        return NULL;
    }
    snprintf(p->hash, sizeof p->hash, "%s", hash);
    s_raylet_request_start(c, p);
    int rc = s_raylet_request_wait(c, p, c->cfg.pull_timeout_ms);
    void *h = NULL;
    if (rc == PDC_OK) {
        h = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            snprintf(why, len, "cannot load library '%s' (code package %s): %s", path, p->path,
                     dlerror());
    } else {
        snprintf(why, len, "cannot load library '%s': %s", path,
                 rc == PDC_ETIMEOUT ? "the raylet did not bring its code package in time" : p->why);
    }
    free(p);
    return h;
}

/* Raylets on other nodes cannot see this process die; they hear from it
   every keepalive_ms instead. */
void pdc_remote_on_keepalive(uv_timer_t *h) {
    pdc_client *c = h->data;
    pthread_mutex_lock(&c->mu);
    pdc_enc_begin(&c->enc, PDC_MSG_KEEPALIVE, 0);
    for (raylet_conn_t *r = c->raylets; r; r = r->next)
        if (!r->down)
            pdc_peer_send(r->peer, &c->enc, NULL, 0);
    s_retry_deferred(c);
    pthread_mutex_unlock(&c->mu);
}

/* Stop watching the remote raylets' sockets (before the loop closes). */
void pdc_remote_unwatch(pdc_client *c) {
    for (raylet_conn_t *r = c->raylets; r; r = r->next)
        pdc_peer_unwatch(r->peer);
    pdc_peer_unwatch(c->head);
}

/* At close, after the I/O thread: BYE to every remote raylet (they drop
   our requests and stop our workers), then free what this file holds. */
void pdc_remote_close(pdc_client *c) {
    int linger_ms = (int) c->cfg.shutdown_timeout_ms;
    while (c->raylets) {
        raylet_conn_t *r = c->raylets;
        c->raylets = r->next;
        pdc_enc_begin(&c->enc, PDC_MSG_BYE, 0);
        pdc_peer_send(r->peer, &c->enc, NULL, 0);
        pdc_peer_destroy(&r->peer, linger_ms);
        free(r);
    }
    pdc_peer_destroy(&c->head, 0);
    while (c->spilled) {
        spilled_t *x = c->spilled;
        c->spilled = x->next;
        free(x);
    }
    pdc_replicas_close(c);
    while (c->uploads) {
        code_upload_t *u = c->uploads;
        c->uploads = u->next;
        free(u->ref);
        free(u);
    }
}
