/*  pdc_transfer: object transfers between raylets (see pdc_transfer.h). */
#include "pdc_transfer.h"

#include "pdc_id.h"
#include "pdc_log.h"
#include "pdc_waiters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct peer {
    char node[PDC_NODE_ID_MAX];
    char endpoint[PATH_MAX];
    zsock_t *sock;
    pdc_zwatch_t *watch;
    struct pdc_transfers *owner;
    struct peer *next;
} peer_t;

typedef struct transfer {
    uint8_t id[PDC_ID_LEN];
    char node[PDC_NODE_ID_MAX];
    uint64_t seq; /* request id of its fetches */
    peer_t *peer;
    int sized;   /* the first chunk arrived: size and data are known */
    int replica; /* a replica of a replicated put, not an evictable copy */
    void *data;
    size_t size, asked, received;
    int inflight;
    uint64_t last_progress;
    pdc_waiter_t *waiters;
    struct transfer *next;
} transfer_t;

#define S_DEAD_OWNERS 256

struct pdc_transfers {
    uv_loop_t *loop;
    pdc_store_t *store;
    const pdc_config_t *cfg;
    void *router;
    char self_node[PDC_NODE_ID_MAX];
    peer_t *peers;
    transfer_t *transfers;
    uint64_t next_seq;
    pdc_enc_t enc;
    pdc_transfer_stats_t stats;
    /* The prefixes of owners whose process died, newest last (a ring):
       asking for one of their objects then says PDC_EOWNERDIED. */
    uint8_t dead_owners[S_DEAD_OWNERS][PDC_ID_PREFIX_LEN];
    unsigned ndead_owners;
};

/* Whether id's owner is one this node saw die. */
static int s_owner_dead(const pdc_transfers_t *self, const uint8_t *id) {
    unsigned n = self->ndead_owners < S_DEAD_OWNERS ? self->ndead_owners : S_DEAD_OWNERS;
    for (unsigned i = 0; i < n; i++)
        if (!memcmp(self->dead_owners[i], id, PDC_ID_PREFIX_LEN))
            return 1;
    return 0;
}

/* The error for an object that is not here: the owner died, or lost. */
static int s_missing(const pdc_transfers_t *self, const uint8_t *id, char *why, size_t len) {
    if (!s_owner_dead(self, id))
        return PDC_EOBJECTLOST;
    char hex[33];
    snprintf(why, len, "object %s: its owner's process died, and its objects went with it",
             pdc_id_hex(id, hex));
    return PDC_EOWNERDIED;
}

static void s_on_peer(pdc_zwatch_t *watch, void *sock, void *arg);

pdc_transfers_t *pdc_transfers_new(uv_loop_t *loop, pdc_store_t *store, const pdc_config_t *cfg,
                                   void *router, const char *self_node) {
    pdc_transfers_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->store = store;
    self->cfg = cfg;
    self->router = router;
    snprintf(self->self_node, sizeof self->self_node, "%s", self_node);
    pdc_enc_init(&self->enc);
    return self;
}

static void s_peer_destroy(peer_t *p) {
    pdc_zwatch_destroy(&p->watch);
    zsock_destroy(&p->sock);
    free(p);
}

static void s_transfer_free(transfer_t *t) {
    pdc_waiters_free(&t->waiters);
    free(t);
}

void pdc_transfers_destroy(pdc_transfers_t **self_p) {
    pdc_transfers_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    while (self->transfers) {
        transfer_t *t = self->transfers;
        self->transfers = t->next;
        if (t->sized)
            pdc_store_abort_unsealed(self->store, t->id);
        s_transfer_free(t);
    }
    while (self->peers) {
        peer_t *p = self->peers;
        self->peers = p->next;
        s_peer_destroy(p);
    }
    pdc_enc_free(&self->enc);
    free(self);
}

/* The DEALER to node's raylet, made on first use; NULL if the view has no
   live node of that id. */
static peer_t *s_peer(pdc_transfers_t *self, pdc_view_t *view, const char *node) {
    pdc_view_node_t *n = pdc_view_find(view, node);
    if (!n || !n->alive || !*n->endpoint)
        return NULL;
    for (peer_t **pp = &self->peers; *pp; pp = &(*pp)->next) {
        peer_t *p = *pp;
        if (strcmp(p->node, node))
            continue;
        if (!strcmp(p->endpoint, n->endpoint))
            return p;
        /* The node came back at another address. */
        *pp = p->next;
        for (transfer_t *t = self->transfers; t; t = t->next)
            if (t->peer == p)
                t->peer = NULL;
        s_peer_destroy(p);
        break;
    }
    peer_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->node, sizeof p->node, "%s", node);
    snprintf(p->endpoint, sizeof p->endpoint, "%s", n->endpoint);
    p->owner = self;
    p->sock = zsock_new(ZMQ_DEALER);
    if (!p->sock) {
        free(p);
        return NULL;
    }
    pdc_wire_tune(zsock_resolve(p->sock), self->cfg->max_message_size);
    zsock_connect(p->sock, "%s", p->endpoint);
    p->watch = pdc_zwatch_new(self->loop, zsock_resolve(p->sock), s_on_peer, p);
    p->next = self->peers;
    self->peers = p;
    return p;
}

/* ---- The pulling side -------------------------------------------------- */

static void s_reply_ready(pdc_transfers_t *self, const void *rid, size_t len, uint64_t request,
                          const uint8_t *id) {
    pdc_enc_begin(&self->enc, PDC_MSG_OBJECT_READY, request);
    pdc_enc_id(&self->enc, id);
    pdc_wire_send(self->router, rid, len, &self->enc, NULL, 0);
}

static void s_unlink(pdc_transfers_t *self, transfer_t *t) {
    for (transfer_t **p = &self->transfers; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            return;
        }
}

/* End t: answer its waiters (code PDC_OK: ready) and free it. */
static void s_finish(pdc_transfers_t *self, transfer_t *t, int code, const char *why) {
    char hex[33];
    s_unlink(self, t);
    if (code == PDC_OK) {
        self->stats.done++;
        pdc_debug("pulled object %s (%zu bytes) from node %s", pdc_id_hex(t->id, hex), t->size,
                  t->node);
    } else {
        self->stats.failed++;
        if (t->sized)
            pdc_store_abort_unsealed(self->store, t->id);
        pdc_warn("pulling object %s from node %s failed: %s", pdc_id_hex(t->id, hex), t->node, why);
    }
    for (pdc_waiter_t *w = t->waiters; w; w = w->next) {
        if (code == PDC_OK)
            s_reply_ready(self, w->rid, w->rid_len, w->request, t->id);
        else
            pdc_wire_send_error(self->router, w->rid, w->rid_len, &self->enc, w->request, code,
                                why);
    }
    self->stats.active--;
    s_transfer_free(t);
}

/* Ask for chunks until the window is full or everything is asked for. */
static void s_ask(pdc_transfers_t *self, transfer_t *t) {
    size_t chunk = (size_t) self->cfg->transfer_chunk_size;
    if (chunk == 0)
        chunk = (size_t) 4 << 20;
    int window = self->cfg->transfer_window > 0 ? (int) self->cfg->transfer_window : 1;
    while (t->peer && t->inflight < window && (!t->sized ? t->inflight == 0 : t->asked < t->size)) {
        size_t len = t->sized && t->size - t->asked < chunk ? t->size - t->asked : chunk;
        pdc_enc_begin(&self->enc, PDC_MSG_OBJECT_FETCH, t->seq);
        pdc_enc_id(&self->enc, t->id);
        pdc_enc_u(&self->enc, t->asked);
        pdc_enc_u(&self->enc, len);
        pdc_wire_send(zsock_resolve(t->peer->sock), NULL, 0, &self->enc, NULL, 0);
        t->inflight++;
        if (!t->sized)
            break; /* the size comes with the first answer */
        t->asked += len;
    }
}

void pdc_transfers_pull(pdc_transfers_t *self, pdc_inbound_t *in, pdc_view_t *view) {
    const uint8_t *id = pdc_f_id(&in->msg.fields[PDC_OBJECT_PULL_OBJECT_ID]);
    char node[PDC_NODE_ID_MAX], hex[33], why[512];
    pdc_f_cstr(&in->msg.fields[PDC_OBJECT_PULL_NODE], node, sizeof node);
    const void *rid = zmq_msg_data(&in->frames[0]);
    size_t rid_len = zmq_msg_size(&in->frames[0]);
    uint64_t request = in->msg.request_id;
    if (rid_len > PDC_WAITER_RID_MAX)
        return;
    char err[512];
    if (pdc_store_contains(self->store, id) ||
        (!strcmp(node, self->self_node) &&
         pdc_store_restore(self->store, id, err, sizeof err) == PDC_OK)) {
        s_reply_ready(self, rid, rid_len, request, id);
        return;
    }
    transfer_t *t;
    for (t = self->transfers; t && !pdc_id_eq(t->id, id); t = t->next) {
    }
    if (!t) {
        peer_t *peer = strcmp(node, self->self_node) ? s_peer(self, view, node) : NULL;
        if (!peer) {
            pdc_view_node_t *n = pdc_view_find(view, node);
            if (!strcmp(node, self->self_node))
                snprintf(why, sizeof why,
                         "object %s should be in this node's (%s) store and is not",
                         pdc_id_hex(id, hex), node);
            else
                snprintf(why, sizeof why, "object %s is on node %s, which is %s",
                         pdc_id_hex(id, hex), node, n ? "dead" : "not in the cluster");
            int code = s_missing(self, id, why, sizeof why);
            pdc_wire_send_error(self->router, rid, rid_len, &self->enc, request, code, why);
            return;
        }
        t = calloc(1, sizeof *t);
        if (!t) {
            pdc_wire_send_error(self->router, rid, rid_len, &self->enc, request, PDC_ENOMEM,
                                "out of memory for a transfer");
            return;
        }
        memcpy(t->id, id, PDC_ID_LEN);
        snprintf(t->node, sizeof t->node, "%s", node);
        t->peer = peer;
        t->seq = ++self->next_seq;
        t->last_progress = uv_now(self->loop);
        t->replica = (int) pdc_f_u(&in->msg.fields[PDC_OBJECT_PULL_REPLICA]);
        t->next = self->transfers;
        self->transfers = t;
        self->stats.active++;
        s_ask(self, t);
    }
    pdc_waiters_add(&t->waiters, rid, rid_len, request);
}

static transfer_t *s_by_seq(pdc_transfers_t *self, uint64_t seq) {
    for (transfer_t *t = self->transfers; t; t = t->next)
        if (t->seq == seq)
            return t;
    return NULL;
}

static void s_on_chunk(pdc_transfers_t *self, transfer_t *t, pdc_inbound_t *in) {
    const msgpack_object *f = in->msg.fields;
    pdc_type type = (pdc_type) pdc_f_u(&f[PDC_OBJECT_CHUNK_TYPE]);
    size_t size = (size_t) pdc_f_u(&f[PDC_OBJECT_CHUNK_TOTAL_SIZE]);
    size_t offset = (size_t) pdc_f_u(&f[PDC_OBJECT_CHUNK_OFFSET]);
    zmq_msg_t *payload = pdc_inbound_payload(in, 0);
    size_t len = payload ? zmq_msg_size(payload) : 0;
    char why[700], err[512];
    t->inflight--;
    if (!t->sized) {
        /* a reader's copy goes first when the store needs room */
        /* memory for its pages as the chunks come (pdc_store_back below):
           backing GiBs at once would stall this loop for seconds */
        int rc = pdc_store_create_receiving(self->store, t->id, type, size, !t->replica, &t->data,
                                            err, sizeof err);
        if (rc == PDC_EINVAL && pdc_store_contains(self->store, t->id)) {
            s_finish(self, t, PDC_OK, NULL); /* it arrived another way */
            return;
        }
        if (rc != PDC_OK) {
            snprintf(why, sizeof why, "no room for the %zu-byte object from node %s: %s", size,
                     t->node, err);
            s_finish(self, t, rc, why);
            return;
        }
        t->sized = 1;
        t->size = size;
        t->asked = len;
    }
    if (size != t->size || offset > t->size || len > t->size - offset) {
        snprintf(why, sizeof why, "node %s sent a chunk at %zu of %zu bytes for a %zu-byte object",
                 t->node, offset, len, t->size);
        s_finish(self, t, PDC_EPROTO, why);
        return;
    }
    if (len) {
        int rc = pdc_store_back(self->store, t->id, offset, len, err, sizeof err);
        if (rc != PDC_OK) {
            snprintf(why, sizeof why, "no memory for the %zu-byte object from node %s: %s", size,
                     t->node, err);
            s_finish(self, t, rc, why);
            return;
        }
        memcpy((char *) t->data + offset, zmq_msg_data(payload), len);
    }
    t->received += len;
    self->stats.bytes_in += len;
    t->last_progress = uv_now(self->loop);
    if (t->received >= t->size) {
        int rc = pdc_store_seal(self->store, t->id);
        t->sized = rc == PDC_OK ? 0 : t->sized; /* sealed: nothing to abort */
        s_finish(self, t, rc, rc == PDC_OK ? NULL : "the store could not seal the object");
        return;
    }
    s_ask(self, t);
}

static void s_on_peer(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    peer_t *p = arg;
    pdc_transfers_t *self = p->owner;
    pdc_inbound_t in;
    int rc = pdc_wire_recv(sock, 0, &in);
    if (rc == 0)
        return;
    if (rc < 0) {
        pdc_warn("refused a message from node %s: %s", p->node, in.error);
    } else {
        transfer_t *t = s_by_seq(self, in.msg.request_id);
        if (t && in.msg.type == PDC_MSG_OBJECT_CHUNK &&
            pdc_id_eq(pdc_f_id(&in.msg.fields[PDC_OBJECT_CHUNK_OBJECT_ID]), t->id)) {
            s_on_chunk(self, t, &in);
        } else if (t && in.msg.type == PDC_MSG_ERROR) {
            char why[512], full[700];
            pdc_f_cstr(&in.msg.fields[PDC_ERROR_MESSAGE], why, sizeof why);
            snprintf(full, sizeof full, "node %s: %s", p->node, why);
            s_finish(self, t, (int) pdc_f_i(&in.msg.fields[PDC_ERROR_CODE]), full);
        }
    }
    pdc_inbound_close(&in);
}

/* ---- The serving side -------------------------------------------------- */

typedef struct {
    pdc_store_t *store;
    pdc_store_pin_t *pin;
} served_pin_t;

/* ZeroMQ is done with a chunk's bytes (on its I/O thread). */
static void s_release_pin(void *data, void *hint) {
    (void) data;
    served_pin_t *sp = hint;
    pdc_store_unpin(sp->store, &sp->pin);
    free(sp);
}

/* A fetch of an object this node spilled: the chunk is read from its
   file, which stays (the object is not brought back for another node).
   Whether it was spilled (and answered). */
static int s_serve_spilled(pdc_transfers_t *self, pdc_inbound_t *in, const uint8_t *id,
                           size_t offset, size_t len) {
    size_t chunk = (size_t) self->cfg->transfer_chunk_size;
    if (chunk && len > chunk)
        len = chunk;
    void *buf = malloc(len ? len : 1);
    pdc_type type;
    size_t total;
    long n = buf ? pdc_store_spilled_read(self->store, id, offset, buf, len, &type, &total)
                 : -PDC_ENOMEM;
    if (n == -PDC_ENOTFOUND) {
        free(buf);
        return 0;
    }
    if (n < 0) {
        char why[256], hex[33];
        snprintf(why, sizeof why, "node %s cannot read its spilled object %s (%s)", self->self_node,
                 pdc_id_hex(id, hex), pdc_status_name((int) -n));
        pdc_wire_reply_error(self->router, in, &self->enc, (int) -n, why);
        free(buf);
        return 1;
    }
    pdc_enc_begin(&self->enc, PDC_MSG_OBJECT_CHUNK, in->msg.request_id);
    pdc_enc_id(&self->enc, id);
    pdc_enc_u(&self->enc, (uint64_t) type);
    pdc_enc_u(&self->enc, total);
    pdc_enc_u(&self->enc, offset);
    if (pdc_wire_send(self->router, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]),
                      &self->enc, n ? buf : NULL, (size_t) n) == 0)
        self->stats.bytes_out += (uint64_t) n;
    free(buf);
    return 1;
}

void pdc_transfers_serve(pdc_transfers_t *self, pdc_inbound_t *in) {
    const uint8_t *id = pdc_f_id(&in->msg.fields[PDC_OBJECT_FETCH_OBJECT_ID]);
    size_t offset = (size_t) pdc_f_u(&in->msg.fields[PDC_OBJECT_FETCH_OFFSET]);
    size_t len = (size_t) pdc_f_u(&in->msg.fields[PDC_OBJECT_FETCH_LENGTH]);
    const void *data;
    size_t size;
    pdc_type type;
    served_pin_t *sp = calloc(1, sizeof *sp);
    char why[256], hex[33];
    if (!sp)
        return;
    sp->store = self->store;
    if (pdc_store_get(self->store, id, &data, &size, &type, &sp->pin) != PDC_OK) {
        free(sp);
        if (s_serve_spilled(self, in, id, offset, len))
            return;
        snprintf(why, sizeof why, "object %s is not in node %s's store", pdc_id_hex(id, hex),
                 self->self_node);
        int code = s_missing(self, id, why, sizeof why);
        pdc_wire_reply_error(self->router, in, &self->enc, code, why);
        return;
    }
    if (offset > size) {
        pdc_store_unpin(self->store, &sp->pin);
        free(sp);
        snprintf(why, sizeof why, "offset %zu is past the end of object %s (%zu bytes)", offset,
                 pdc_id_hex(id, hex), size);
        pdc_wire_reply_error(self->router, in, &self->enc, PDC_EINVAL, why);
        return;
    }
    if (len > size - offset)
        len = size - offset;
    pdc_enc_begin(&self->enc, PDC_MSG_OBJECT_CHUNK, in->msg.request_id);
    pdc_enc_id(&self->enc, id);
    pdc_enc_u(&self->enc, (uint64_t) type);
    pdc_enc_u(&self->enc, size);
    pdc_enc_u(&self->enc, offset);
    if (len == 0) { /* an empty object: no bytes to send */
        pdc_wire_reply(self->router, in, &self->enc);
        s_release_pin(NULL, sp);
        return;
    }
    if (pdc_wire_send_zero_copy(self->router, zmq_msg_data(&in->frames[0]),
                                zmq_msg_size(&in->frames[0]), &self->enc, (char *) data + offset,
                                len, s_release_pin, sp) == 0)
        self->stats.bytes_out += len;
}

/* ---- Freeing ------------------------------------------------------------ */

void pdc_transfers_free(pdc_transfers_t *self, pdc_inbound_t *in, pdc_view_t *view) {
    const msgpack_object *ids = &in->msg.fields[PDC_OBJECT_FREE_OBJECT_IDS];
    for (uint32_t i = 0; i < ids->via.array.size; i++) {
        const uint8_t *id = pdc_f_id(&ids->via.array.ptr[i]);
        /* A transfer of it ends first: its bytes must not land in freed pages. */
        for (transfer_t *t = self->transfers; t; t = t->next)
            if (pdc_id_eq(t->id, id)) {
                s_finish(self, t, PDC_EOBJECTLOST, "the object was freed by its owner");
                break;
            }
        pdc_store_delete(self->store, id);
    }
    if (!pdc_f_u(&in->msg.fields[PDC_OBJECT_FREE_FORWARD]))
        return;
    pdc_enc_begin(&self->enc, PDC_MSG_OBJECT_FREE, 0);
    pdc_enc_u(&self->enc, 0);
    pdc_enc_array(&self->enc, ids->via.array.size);
    for (uint32_t i = 0; i < ids->via.array.size; i++)
        pdc_enc_id(&self->enc, pdc_f_id(&ids->via.array.ptr[i]));
    for (int i = 0; i < view->n; i++) {
        if (!view->nodes[i].alive || !strcmp(view->nodes[i].id, self->self_node))
            continue;
        peer_t *p = s_peer(self, view, view->nodes[i].id);
        if (p)
            pdc_wire_send(zsock_resolve(p->sock), NULL, 0, &self->enc, NULL, 0);
    }
}

static void s_end_prefix(pdc_transfers_t *self, const uint8_t *prefix, size_t len, int code,
                         const char *why) {
    for (transfer_t *t = self->transfers, *next; t; t = next) {
        next = t->next;
        if (!memcmp(t->id, prefix, len))
            s_finish(self, t, code, why);
    }
}

void pdc_transfers_end_prefix(pdc_transfers_t *self, const uint8_t *prefix, size_t len,
                              const char *why) {
    s_end_prefix(self, prefix, len, PDC_EOBJECTLOST, why);
}

void pdc_transfers_free_owner(pdc_transfers_t *self, const uint8_t *owner, pdc_view_t *view) {
    if (!s_owner_dead(self, owner))
        memcpy(self->dead_owners[self->ndead_owners++ % S_DEAD_OWNERS], owner, PDC_ID_PREFIX_LEN);
    s_end_prefix(self, owner, PDC_ID_PREFIX_LEN, PDC_EOWNERDIED, "its owner's process died");
    long gone = pdc_store_delete_prefix(self->store, owner, PDC_ID_PREFIX_LEN);
    char hex[33];
    if (gone > 0)
        pdc_info("deleted %ld objects of the dead owner %.16s", gone, pdc_id_hex(owner, hex));
    if (!view)
        return;
    pdc_enc_begin(&self->enc, PDC_MSG_OBJECT_FREE_PREFIX, 0);
    pdc_enc_id(&self->enc, owner);
    for (int i = 0; i < view->n; i++) {
        if (!view->nodes[i].alive || !strcmp(view->nodes[i].id, self->self_node))
            continue;
        peer_t *p = s_peer(self, view, view->nodes[i].id);
        if (p)
            pdc_wire_send(zsock_resolve(p->sock), NULL, 0, &self->enc, NULL, 0);
    }
}

void pdc_transfers_check(pdc_transfers_t *self, pdc_view_t *view, uint64_t now_ms) {
    if (!self)
        return;
    for (transfer_t *t = self->transfers, *next; t; t = next) {
        next = t->next;
        pdc_view_node_t *n = pdc_view_find(view, t->node);
        char why[256];
        if (!t->peer || (n && !n->alive)) {
            snprintf(why, sizeof why, "node %s died during the transfer", t->node);
            s_finish(self, t, PDC_EOBJECTLOST, why);
        } else if (now_ms - t->last_progress > (uint64_t) self->cfg->transfer_timeout_ms) {
            snprintf(why, sizeof why, "no data from node %s for %lld ms", t->node,
                     (long long) self->cfg->transfer_timeout_ms);
            s_finish(self, t, PDC_EOBJECTLOST, why);
        }
    }
}

void pdc_transfers_stats(pdc_transfers_t *self, pdc_transfer_stats_t *out) {
    memset(out, 0, sizeof *out);
    if (self)
        *out = self->stats;
}
