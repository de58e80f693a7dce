/*  pdc_replicas: copies of replicated puts on other nodes (see the
    header).

    A replication is one round: a NODES request to the head, then one
    OBJECT_PULL per node picked, each a request of its own in the
    registry whose context is the replication (the pull is found by its
    request id).  It is done when every pull has answered or its node was
    lost.  Nodes are taken in the head's order, starting at a place drawn
    from the object's id, so that the copies of many puts spread.
*/
#include "pdc_client_internal.h"

#include "pdc_log.h"
#include "pdc_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ROUNDS 5 /* rounds of pulls a replication tries */

struct replication {
    uint8_t id[PDC_ID_LEN];
    uint64_t request; /* the NODES request while it is out */
    int sent, done;
    int waited; /* an API thread waits for it (and frees it) */
    int npulls;
    int failed, rounds;                          /* pulls refused this round; rounds run */
    uint64_t due;                                /* ms (pdc_now_ms) before which it is not sent */
    uint64_t pull_request[PDC_PUT_MAX_REPLICAS]; /* 0 once answered */
    char pull_node[PDC_PUT_MAX_REPLICAS][PDC_NODE_LEN];
    struct replication *next;
};

static void s_unlink(pdc_client *c, replication_t *r) {
    for (replication_t **p = &c->replications; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            return;
        }
}

/* r has nothing left to wait for. */
static void s_done(pdc_client *c, replication_t *r) {
    r->done = 1;
    pthread_cond_broadcast(&c->cv);
    if (!r->waited) {
        s_unlink(c, r);
        free(r);
    }
}

static int s_holds(const obj_t *o, const char *node) {
    if (!strcmp(o->node, node))
        return 1;
    for (int i = 0; o->replicas && i < o->replicas->n; i++)
        if (!strcmp(o->replicas->nodes[i], node))
            return 1;
    return 0;
}

static int s_pulls_out(const replication_t *r) {
    int out = 0;
    for (int i = 0; i < r->npulls; i++)
        out += r->pull_request[i] != 0;
    return out;
}

/* Every pull of r's round answered: done, or another round a little
   later if some were refused (a node that joined just now may not know
   the holder's node yet). */
static void s_round_over(pdc_client *c, replication_t *r) {
    if (!r->failed) {
        s_done(c, r);
        return;
    }
    r->failed = 0;
    r->npulls = 0;
    r->sent = 0;
    r->due = pdc_now_ms() + 2 * (uint64_t) c->cfg.heartbeat_ms;
}

/* A raylet answered one of r's pulls. */
static void s_pull_answer(pdc_client *c, void *ctx, uint64_t id, const pdc_msg_t *msg, void *sock) {
    (void) sock;
    replication_t *r = ctx;
    int i;
    for (i = 0; i < r->npulls && r->pull_request[i] != id; i++) {
    }
    if (i == r->npulls || (msg->type != PDC_MSG_OBJECT_READY && msg->type != PDC_MSG_ERROR))
        return;
    pdc_requests_drop(&c->requests, id);
    r->pull_request[i] = 0;
    obj_t *o = pdc_obj_find(c, r->id);
    char hex[33], why[512];
    if (msg->type == PDC_MSG_ERROR && r->rounds < S_ROUNDS)
        r->failed++; /* the node may not know the holder yet: again later */
    else if (msg->type == PDC_MSG_ERROR)
        pdc_warn("node %s could not copy object %s: %s", r->pull_node[i], pdc_id_hex(r->id, hex),
                 pdc_f_cstr(&msg->fields[PDC_ERROR_MESSAGE], why, sizeof why));
    else if (o && o->replicas && o->replicas->n < PDC_PUT_MAX_REPLICAS &&
             !s_holds(o, r->pull_node[i]))
        snprintf(o->replicas->nodes[o->replicas->n++], PDC_NODE_LEN, "%s", r->pull_node[i]);
    if (!s_pulls_out(r))
        s_round_over(c, r);
}

static const pdc_request_ops_t s_pull_ops = {"a replica", s_pull_answer, NULL};

/* The head's nodes for r: ask the ones picked to pull the object. */
static void s_nodes_answer(pdc_client *c, void *ctx, uint64_t id, const pdc_msg_t *msg,
                           void *sock) {
    (void) sock;
    replication_t *r = ctx;
    if (msg->type != PDC_MSG_NODES_REPLY && msg->type != PDC_MSG_ERROR)
        return;
    pdc_requests_drop(&c->requests, id);
    r->request = 0;
    obj_t *o = pdc_obj_find(c, r->id);
    char hex[33];
    if (!o || !o->replicas || o->state != OBJ_READY || msg->type == PDC_MSG_ERROR) {
        s_done(c, r);
        return;
    }
    int missing = o->replicas->want - 1 - o->replicas->n;
    const msgpack_object *rows = &msg->fields[PDC_NODES_REPLY_NODES];
    uint32_t n = rows->via.array.size, start = n ? (uint32_t) (o->id[PDC_ID_LEN - 1] % n) : 0;
    for (uint32_t k = 0; k < n && r->npulls < missing; k++) {
        const msgpack_object *f = rows->via.array.ptr[(start + k) % n].via.array.ptr;
        char node[PDC_NODE_LEN], endpoint[PATH_MAX];
        pdc_f_cstr(&f[PDC_NODE_ROW_ID], node, sizeof node);
        pdc_f_cstr(&f[PDC_NODE_ROW_ENDPOINT], endpoint, sizeof endpoint);
        if (!pdc_f_u(&f[PDC_NODE_ROW_ALIVE]) || s_holds(o, node) || !*endpoint)
            continue;
        /* This node too, once its own copy was lost and another serves. */
        void *raylet = !strcmp(node, c->node_id)
                           ? (c->raylet_lost ? NULL : pdc_peer_sock(c->raylet))
                           : pdc_remote_raylet_sock(c, node, endpoint);
        uint64_t rq = raylet ? pdc_requests_add(&c->requests, &s_pull_ops, r) : 0;
        if (!rq)
            continue;
        r->pull_request[r->npulls] = rq;
        snprintf(r->pull_node[r->npulls++], PDC_NODE_LEN, "%s", node);
        pdc_enc_begin(&c->enc, PDC_MSG_OBJECT_PULL, rq);
        pdc_enc_id(&c->enc, o->id);
        pdc_enc_s(&c->enc, o->node);
        pdc_enc_u(&c->enc, 1); /* a replica: never evicted */
        pdc_wire_send(raylet, NULL, 0, &c->enc, NULL, 0);
    }
    if (r->npulls < missing)
        pdc_warn("object %s wants %d copies; only %d other live nodes can take one",
                 pdc_id_hex(o->id, hex), o->replicas->want, o->replicas->n + r->npulls);
    if (!s_pulls_out(r))
        s_done(c, r);
}

static const pdc_request_ops_t s_nodes_ops = {"the cluster's nodes", s_nodes_answer, NULL};

replication_t *pdc_replicas_start(pdc_client *c, obj_t *o) {
    if (!o->replicas || o->replicas->n + 1 >= o->replicas->want || c->stopping)
        return NULL;
    replication_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    memcpy(r->id, o->id, PDC_ID_LEN);
    r->next = c->replications;
    c->replications = r;
    pdc_client_wake(c);
    return r;
}

static int s_replication_done(pdc_client *c, void *arg) {
    (void) c;
    return ((replication_t *) arg)->done;
}

int pdc_replicas_wait(pdc_client *c, replication_t *r, int64_t timeout_ms) {
    uint8_t id[PDC_ID_LEN];
    memcpy(id, r->id, PDC_ID_LEN);
    r->waited = 1;
    pdc_client_wait_until(c, s_replication_done, r, timeout_ms, 0);
    if (r->done) {
        s_unlink(c, r);
        free(r);
    } else {
        r->waited = 0; /* the I/O thread frees it when it is done */
    }
    obj_t *o = pdc_obj_find(c, id);
    return o && o->replicas ? o->replicas->n : 0;
}

int pdc_replicas_failover(pdc_client *c, obj_t *o, const char *why) {
    obj_replicas_t *rs = o->replicas;
    if (!rs || !rs->n || !o->stored)
        return 0;
    char hex[33];
    pdc_warn("object %s lost its copy on node %s (%s); node %s's copy serves it now",
             pdc_id_hex(o->id, hex), o->node, why, rs->nodes[0]);
    snprintf(o->node, sizeof o->node, "%s", rs->nodes[0]);
    memmove(rs->nodes[0], rs->nodes[1], (size_t) (rs->n - 1) * sizeof rs->nodes[0]);
    rs->n--;
    o->spread = 1;
    o->ready_seq = ++c->graph_seq;
    pdc_replicas_start(c, o);
    return 1;
}

typedef struct {
    pdc_client *c;
    const char *node;
} lost_t;

static void s_forget_holder(void *value, void *arg) {
    lost_t *l = arg;
    obj_t *o = value;
    obj_replicas_t *rs = o->replicas;
    if (!rs || o->state != OBJ_READY)
        return;
    int had = rs->n;
    for (int i = 0; i < rs->n; i++)
        if (!strcmp(rs->nodes[i], l->node)) {
            memmove(rs->nodes[i], rs->nodes[i + 1], (size_t) (rs->n - i - 1) * sizeof rs->nodes[0]);
            rs->n--;
            i--;
        }
    if (!strcmp(o->node, l->node))
        pdc_replicas_failover(l->c, o, "its node died"); /* starts a replication */
    else if (rs->n < had) {
        char hex[33];
        pdc_info("node %s held a copy of object %s; making another", l->node,
                 pdc_id_hex(o->id, hex));
        pdc_replicas_start(l->c, o);
    }
}

void pdc_replicas_on_node_lost(pdc_client *c, const char *node) {
    /* Pulls asked of that node will not be answered. */
    for (replication_t *r = c->replications, *next; r; r = next) {
        next = r->next;
        int answered = 0;
        for (int i = 0; i < r->npulls; i++)
            if (r->pull_request[i] && !strcmp(r->pull_node[i], node)) {
                pdc_requests_drop(&c->requests, r->pull_request[i]);
                r->pull_request[i] = 0;
                answered = 1;
            }
        if (answered && r->sent && !r->request && !s_pulls_out(r))
            s_round_over(c, r);
    }
    lost_t l = {c, node};
    pdc_idmap_each(&c->objects, s_forget_holder, &l);
}

void pdc_replicas_pump(pdc_client *c) {
    for (replication_t *r = c->replications, *next; r; r = next) {
        next = r->next;
        if (r->sent || r->due > pdc_now_ms())
            continue; /* (a later round goes at a keepalive) */
        r->sent = 1;
        r->rounds++;
        r->request = pdc_requests_add(&c->requests, &s_nodes_ops, r);
        if (r->request) {
            pdc_enc_begin(&c->enc, PDC_MSG_NODES, r->request);
            if (pdc_client_send_head(c, &c->enc, NULL, 0) == 0)
                continue;
            pdc_requests_drop(&c->requests, r->request);
            r->request = 0;
        }
        char hex[33];
        pdc_warn("cannot copy object %s to other nodes: no head to ask for them",
                 pdc_id_hex(r->id, hex));
        s_done(c, r);
    }
}

void pdc_replicas_close(pdc_client *c) {
    while (c->replications) {
        replication_t *r = c->replications;
        c->replications = r->next;
        free(r);
    }
}
