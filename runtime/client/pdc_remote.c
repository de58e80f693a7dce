/*  pdc_remote: the owner's side of other nodes.

    What a client does beyond its own node's raylet, all on its I/O
    thread with the mutex held unless said otherwise:

    - Lease requests.  pdc_client_request_lease encodes a request with its
      placement (strategy, affinity, label selector, the node holding the
      arguments).  When the local raylet answers LEASE_REDIRECT, the
      request goes to that node's raylet on a connection opened for it
      (a raylet_conn, registered there as a holder on another node) and is
      remembered as spilled until granted or refused; if that connection
      drops, the request is asked of the local raylet again.
    - Liveness.  Connections to tcp endpoints use ZeroMQ heartbeats and a
      socket monitor: a leased worker whose node vanished counts as a dead
      worker (its tasks are retried), and every keepalive_ms a KEEPALIVE
      tells each remote raylet this holder lives.
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

int pdc_sched_from_opts(pdc_sched_t *sched, int strategy, const char *node_id, int soft,
                        const char *label_selector, char *why, size_t len) {
    memset(sched, 0, sizeof *sched);
    if (strategy < PDC_SCHED_DEFAULT || strategy > PDC_SCHED_NODE_AFFINITY) {
        snprintf(why, len, "unknown strategy %d: use PDC_SCHED_DEFAULT, _SPREAD or _NODE_AFFINITY",
                 strategy);
        return PDC_EINVAL;
    }
    if (strategy == PDC_SCHED_NODE_AFFINITY && (!node_id || !*node_id)) {
        snprintf(why, len, "PDC_SCHED_NODE_AFFINITY needs node_id");
        return PDC_EINVAL;
    }
    pdc_selector_t sel;
    char err[256];
    if (pdc_selector_parse(label_selector, &sel, err, sizeof err)) {
        snprintf(why, len, "%s", err);
        return PDC_EINVAL;
    }
    if ((node_id && strlen(node_id) >= sizeof sched->node) ||
        (label_selector && strlen(label_selector) >= sizeof sched->labels)) {
        snprintf(why, len, "node_id or label_selector is too long");
        return PDC_EINVAL;
    }
    sched->strategy = (unsigned) strategy;
    snprintf(sched->node, sizeof sched->node, "%s", strategy == PDC_SCHED_NODE_AFFINITY ? node_id : "");
    sched->soft = strategy == PDC_SCHED_NODE_AFFINITY && soft;
    snprintf(sched->labels, sizeof sched->labels, "%s", label_selector ? label_selector : "");
    return PDC_OK;
}

void pdc_client_request_lease(pdc_client *c, void *raylet, uint64_t request, double cpus,
                              unsigned flags, const pdc_resources_t *res, const pdc_sched_t *sched,
                              const char *locality) {
    pdc_enc_begin(&c->enc, PDC_MSG_LEASE_REQUEST, request);
    pdc_enc_f(&c->enc, cpus);
    pdc_enc_u(&c->enc, flags | (sched->soft ? PDC_LEASE_SOFT : 0));
    pdc_resources_encode(res, &c->enc);
    pdc_enc_u(&c->enc, sched->strategy);
    pdc_enc_s(&c->enc, sched->node);
    pdc_enc_s(&c->enc, sched->labels);
    pdc_enc_s(&c->enc, locality ? locality : "");
    pdc_wire_send(raylet ? raylet : zsock_resolve(c->raylet), NULL, 0, &c->enc, NULL, 0);
}

/* The node holding most stored argument bytes of t, or "". */
const char *pdc_remote_locality(task_t *t) {
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

static void s_on_raylet_monitor(pdc_zwatch_t *watch, void *sock, void *arg);

void pdc_remote_tune(pdc_client *c, zsock_t *sock, const char *endpoint) {
    int tcp = !strncmp(endpoint, "tcp://", 6);
    pdc_wire_tune(zsock_resolve(sock), tcp ? c->cfg.max_message_size : 0);
    if (!tcp) return;
    /* A peer on another host that goes silent (its node died or was cut
       off) closes the connection, which the socket monitor reports. */
    int ivl = (int) c->cfg.heartbeat_ms * 5, timeout = (int) c->cfg.node_timeout_ms * 3;
    zmq_setsockopt(zsock_resolve(sock), ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(zsock_resolve(sock), ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
}

void pdc_remote_monitor(pdc_client *c, zsock_t *sock, unsigned events, zsock_t **monitor,
                        pdc_zwatch_t **watch, pdc_zwatch_fn *fn, void *arg) {
    char addr[64];
    snprintf(addr, sizeof addr, "inproc://pdc-monitor-%p", (void *) sock);
    if (zmq_socket_monitor(zsock_resolve(sock), addr, (int) events) == 0) {
        *monitor = zsock_new(ZMQ_PAIR);
        if (*monitor && zsock_connect(*monitor, "%s", addr) == 0)
            *watch = pdc_zwatch_new(&c->loop, zsock_resolve(*monitor), fn, arg);
    }
}

/* Read one socket-monitor event: its ZMQ_EVENT_* bits (0 if none). */
static unsigned s_monitor_read(void *sock) {
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&frame);
        return 0;
    }
    uint16_t event = 0;
    if (zmq_msg_size(&frame) >= 2) memcpy(&event, zmq_msg_data(&frame), 2);
    while (zmq_msg_more(&frame)) {
        zmq_msg_close(&frame);
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, sock, 0) < 0) break;
    }
    zmq_msg_close(&frame);
    return event;
}

/* Read one socket-monitor event; 1 if it is a disconnection (or, for
   actor connections, a failed reconnection). */
int pdc_remote_monitor_event(void *sock) {
    return (s_monitor_read(sock) & (ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED)) != 0;
}

static raylet_conn_t *s_raylet_conn(pdc_client *c, const char *node, const char *endpoint) {
    for (raylet_conn_t *r = c->raylets; r; r = r->next)
        if (!strcmp(r->node, node) && !strcmp(r->endpoint, endpoint)) return r;
    raylet_conn_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    snprintf(r->node, sizeof r->node, "%s", node);
    snprintf(r->endpoint, sizeof r->endpoint, "%s", endpoint);
    r->client = c;
    r->created_ms = uv_now(&c->loop);
    r->sock = zsock_new(ZMQ_DEALER);
    if (!r->sock) {
        free(r);
        return NULL;
    }
    pdc_remote_tune(c, r->sock, endpoint);
    pdc_remote_monitor(c, r->sock, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECTED, &r->monitor,
                       &r->monitor_watch, s_on_raylet_monitor, r);
    zsock_connect(r->sock, "%s", endpoint);
    r->watch = pdc_zwatch_new(&c->loop, zsock_resolve(r->sock), pdc_client_on_raylet, c);
    /* A holder on another node: its leases go when this node dies. */
    pdc_enc_begin(&c->enc, PDC_MSG_REGISTER, 0);
    pdc_enc_u(&c->enc, 2);
    pdc_enc_u(&c->enc, (uint64_t) getpid());
    uint8_t zero[PDC_ID_LEN] = {0};
    pdc_enc_id(&c->enc, c->is_worker ? c->worker_id : zero);
    pdc_enc_s(&c->enc, c->endpoint);
    pdc_enc_s(&c->enc, c->public_endpoint);
    pdc_enc_s(&c->enc, c->node_id);
    pdc_wire_send(zsock_resolve(r->sock), NULL, 0, &c->enc, NULL, 0);
    r->next = c->raylets;
    c->raylets = r;
    return r;
}

static void s_raylet_conn_close(raylet_conn_t *r) {
    pdc_zwatch_destroy(&r->watch);
    pdc_zwatch_destroy(&r->monitor_watch);
    if (r->monitor) zmq_socket_monitor(zsock_resolve(r->sock), NULL, 0);
    zsock_destroy(&r->monitor);
    zsock_destroy(&r->sock);
    free(r);
}

void pdc_remote_spilled_forget(pdc_client *c, uint64_t request, void *raylet) {
    for (spilled_t **p = &c->spilled; *p; p = &(*p)->next)
        if ((*p)->request == request && (*p)->raylet && zsock_resolve((*p)->raylet->sock) == raylet) {
            spilled_t *x = *p;
            *p = x->next;
            free(x);
            return;
        }
}

/* The local raylet sends request to another node: ask that node. */
void pdc_remote_on_redirect(pdc_client *c, uint64_t request, const char *node, const char *endpoint) {
    raylet_conn_t *r = s_raylet_conn(c, node, endpoint);
    sched_class_t *k = pdc_client_class_of_request(c, request);
    spilled_t *x = calloc(1, sizeof *x);
    if (!x) return;
    x->request = request;
    x->next = c->spilled;
    c->spilled = x;
    if (!r || r->down) {
        /* That node went away: ask here again once the view may know. */
        x->due = uv_now(&c->loop) + 2 * (uint64_t) c->cfg.heartbeat_ms;
        return;
    }
    x->raylet = r;
    if (k)
        pdc_client_request_lease(c, zsock_resolve(r->sock), request, k->cpus, PDC_LEASE_SPILLED,
                                 &k->res, &k->sched, "");
    else
        pdc_actor_on_redirect(c, request, zsock_resolve(r->sock), PDC_LEASE_SPILLED);
}

/* A raylet on another node went away (or never answered the connection):
   what was asked of it is asked of the local raylet again, a little later,
   when its view may say the node is dead.  Mutex held. */
static void s_raylet_lost(pdc_client *c, raylet_conn_t *r, const char *why) {
    if (r->down) return;
    r->down = 1;
    pdc_warn("node %s's raylet at %s: %s", r->node, r->endpoint, why);
    uint64_t due = uv_now(&c->loop) + 2 * (uint64_t) c->cfg.heartbeat_ms;
    for (spilled_t *x = c->spilled; x; x = x->next)
        if (x->raylet == r) {
            x->raylet = NULL;
            x->due = due;
        }
}

static void s_on_raylet_monitor(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    raylet_conn_t *r = arg;
    pdc_client *c = r->client;
    unsigned event = s_monitor_read(sock);
    pthread_mutex_lock(&c->mu);
    if (event & ZMQ_EVENT_CONNECTED) {
        /* Up (again: a glitch, not a death, if it had dropped). */
        r->connected = 1;
        r->down = 0;
    }
    if (event & ZMQ_EVENT_DISCONNECTED) s_raylet_lost(c, r, "lost the connection");
    pthread_mutex_unlock(&c->mu);
}

/* Every keepalive: connections that never came up count as lost, and
   deferred lease requests whose time has come go to the local raylet. */
static void s_retry_deferred(pdc_client *c) {
    uint64_t now = uv_now(&c->loop);
    for (raylet_conn_t *r = c->raylets; r; r = r->next)
        if (!r->connected && !r->down && now - r->created_ms > 2 * (uint64_t) c->cfg.node_timeout_ms)
            s_raylet_lost(c, r, "no connection came up");
    for (spilled_t **p = &c->spilled; *p;) {
        spilled_t *x = *p;
        if (x->raylet || x->due > now) {
            p = &x->next;
            continue;
        }
        *p = x->next;
        sched_class_t *k = pdc_client_class_of_request(c, x->request);
        if (k)
            pdc_client_request_lease(c, NULL, x->request, k->cpus, 0, &k->res, &k->sched, "");
        else
            pdc_actor_on_redirect(c, x->request, NULL, 0);
        free(x);
    }
    pdc_client_pump(c);
}

/* A leased worker on another node went away without a WORKER_DIED (its
   node died): its tasks are retried as for a dead worker. */
void pdc_remote_on_lease_monitor(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    conn_t *k = arg;
    pdc_client *c = k->client;
    if (!pdc_remote_monitor_event(sock)) return;
    pthread_mutex_lock(&c->mu);
    for (sched_class_t *cls = c->classes; cls; cls = cls->next)
        for (lease_t *l = cls->leases; l; l = l->next)
            if (l->conn == k) {
                pdc_warn("lost the connection to worker %s on node %s", k->endpoint, l->node);
                pdc_client_on_worker_died(c, l->worker_id, -9);
                goto done;
            }
done:
    pdc_client_pump(c);
    pthread_mutex_unlock(&c->mu);
}

/* Send OBJECT_FREE for objects with copies on other nodes, and OBJECT_PULL
   for objects waited for. */
void pdc_remote_send(pdc_client *c) {
    if (c->nfrees) {
        pdc_enc_begin(&c->enc, PDC_MSG_OBJECT_FREE, 0);
        pdc_enc_u(&c->enc, 1);
        pdc_enc_array(&c->enc, c->nfrees);
        for (size_t i = 0; i < c->nfrees; i++) pdc_enc_id(&c->enc, c->frees[i]);
        pdc_client_send_raylet(c);
        c->nfrees = 0;
    }
    for (pull_t *p = c->pulls; p; p = p->next) {
        if (p->sent) continue;
        p->sent = 1;
        if (*p->hash) {
            pdc_enc_begin(&c->enc, PDC_MSG_CODE_GET, p->request);
            pdc_enc_s(&c->enc, p->hash);
        } else {
            pdc_enc_begin(&c->enc, PDC_MSG_OBJECT_PULL, p->request);
            pdc_enc_id(&c->enc, p->id);
            pdc_enc_s(&c->enc, p->node);
        }
        pdc_client_send_raylet(c);
    }
}

static int s_pull_done(pdc_client *c, void *arg) {
    (void) c;
    return ((pull_t *) arg)->done;
}

/* Queue p for the I/O thread to send to the raylet (mutex not held). */
static void s_raylet_request_start(pdc_client *c, pull_t *p) {
    pthread_mutex_lock(&c->mu);
    p->request = ++c->next_request;
    p->next = c->pulls;
    c->pulls = p;
    pthread_mutex_unlock(&c->mu);
    pdc_client_wake(c);
}

/* Wait for the answer to p and take it off the list (mutex not held).
   PDC_OK, a timeout, or the answer's error code (p->why). */
static int s_raylet_request_wait(pdc_client *c, pull_t *p, int64_t timeout_ms) {
    pthread_mutex_lock(&c->mu);
    int rc = pdc_client_wait_until(c, s_pull_done, p, timeout_ms);
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
    if (!p) return NULL;
    memcpy(p->id, id, PDC_ID_LEN);
    snprintf(p->node, sizeof p->node, "%s", node);
    if (pdc_store_contains(c->store, id)) {
        p->done = 1; /* here already: nothing to ask */
        return p;
    }
    if (!strcmp(node, c->node_id)) {
        char hex[33];
        p->done = 1;
        p->code = PDC_EOBJECTLOST;
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
    if (timeout_ms < 0 || timeout_ms > c->cfg.pull_timeout_ms) timeout_ms = c->cfg.pull_timeout_ms;
    int rc = p->request ? s_raylet_request_wait(c, p, timeout_ms) : p->code;
    char hex[33];
    if (rc == PDC_ETIMEOUT)
        snprintf(why, len, "object %s did not arrive from node %s within %lld ms", pdc_id_hex(p->id, hex),
                 p->node, (long long) timeout_ms);
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
        if (!*c->head_endpoint) return -1;
        c->head = zsock_new(ZMQ_DEALER);
        if (!c->head) return -1;
        pdc_wire_tune(zsock_resolve(c->head), c->cfg.max_message_size);
        zsock_connect(c->head, "%s", c->head_endpoint);
        c->head_watch = pdc_zwatch_new(&c->loop, zsock_resolve(c->head), pdc_actor_on_head, c);
    }
    return pdc_wire_send(zsock_resolve(c->head), NULL, 0, enc, payload, size);
}

const char *pdc_client_library_for(pdc_client *c, const char *library, const char *node) {
    char hash[PDC_CODE_HASH_LEN + 1];
    if (!node || !*node || !strcmp(node, c->node_id) || pdc_code_parse(library, hash, NULL))
        return library;
    code_upload_t *u;
    for (u = c->uploads; u && u->library != library; u = u->next) {}
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u) return library;
        u->library = library;
        u->next = c->uploads;
        c->uploads = u;
        void *bytes;
        size_t size;
        char why[512], ref[PATH_MAX + 80];
        if (pdc_code_read(library, (size_t) c->cfg.max_message_size / 2, &bytes, &size, why, sizeof why)) {
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
        if (!h) snprintf(why, len, "cannot load library '%s': %s", library, dlerror());
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
        if (!h) snprintf(why, len, "cannot load library '%s' (code package %s): %s", path, p->path, dlerror());
    } else {
        snprintf(why, len, "cannot load library '%s': %s", path,
                 rc == PDC_ETIMEOUT ? "the raylet did not bring its code package in time" : p->why);
    }
    free(p);
    return h;
}

int pdc_remote_on_answer(pdc_client *c, uint64_t request, int code, const char *why) {
    for (pull_t *p = c->pulls; p; p = p->next)
        if (p->request == request) {
            p->done = 1;
            p->code = code;
            snprintf(code == PDC_OK ? p->path : p->why, code == PDC_OK ? sizeof p->path : sizeof p->why, "%s",
                     why ? why : "");
            pthread_cond_broadcast(&c->cv);
            return 1;
        }
    return 0;
}

/* Raylets on other nodes cannot see this process die; they hear from it
   every keepalive_ms instead. */
void pdc_remote_on_keepalive(uv_timer_t *h) {
    pdc_client *c = h->data;
    pthread_mutex_lock(&c->mu);
    pdc_enc_begin(&c->enc, PDC_MSG_KEEPALIVE, 0);
    for (raylet_conn_t *r = c->raylets; r; r = r->next)
        if (!r->down) pdc_wire_send(zsock_resolve(r->sock), NULL, 0, &c->enc, NULL, 0);
    s_retry_deferred(c);
    pthread_mutex_unlock(&c->mu);
}

/* Stop watching the remote raylets' sockets (before the loop closes). */
void pdc_remote_unwatch(pdc_client *c) {
    for (raylet_conn_t *r = c->raylets; r; r = r->next) {
        pdc_zwatch_destroy(&r->watch);
        pdc_zwatch_destroy(&r->monitor_watch);
    }
}

/* At close, after the I/O thread: BYE to every remote raylet (they drop
   our requests and stop our workers), then free what this file holds. */
void pdc_remote_close(pdc_client *c) {
    int linger_ms = (int) c->cfg.shutdown_timeout_ms;
    while (c->raylets) {
        raylet_conn_t *r = c->raylets;
        c->raylets = r->next;
        pdc_enc_begin(&c->enc, PDC_MSG_BYE, 0);
        pdc_wire_send(zsock_resolve(r->sock), NULL, 0, &c->enc, NULL, 0);
        zmq_setsockopt(zsock_resolve(r->sock), ZMQ_LINGER, &linger_ms, sizeof linger_ms);
        s_raylet_conn_close(r);
    }
    while (c->spilled) {
        spilled_t *x = c->spilled;
        c->spilled = x->next;
        free(x);
    }
    free(c->frees);
    c->frees = NULL;
    while (c->uploads) {
        code_upload_t *u = c->uploads;
        c->uploads = u->next;
        free(u->ref);
        free(u);
    }
}
