/*  pdc_nodes: the cluster's nodes as the head sees them (pdc.h).

    A blocking call of an API thread: it asks the head for NODES on a
    short-lived socket of its own (a peer without the loop, as
    pdc_actor_get_named does, since the I/O thread owns the client's
    sockets) and copies each row of the reply into the caller's array,
    resources formatted as the text pdc_opts takes ("CPU=2,GPU=1").
*/
#include "pdc_client_internal.h"

#include "pdc_wire.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A {} map of resources as "CPU=2,GPU=1,..." (CPU first; the decoder
   of pdc_resources leaves CPU out, as leases carry it apart). */
static void s_format(const msgpack_object *map, char *buf, size_t len) {
    double cpus = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        char name[PDC_RESOURCE_NAME];
        pdc_f_cstr(&map->via.map.ptr[i].key, name, sizeof name);
        if (!strcmp(name, "CPU"))
            cpus = pdc_f_f(&map->via.map.ptr[i].val);
    }
    pdc_resources_t r;
    char rest[448];
    pdc_resources_decode(map, &r);
    pdc_resources_format(&r, rest, sizeof rest);
    snprintf(buf, len, "CPU=%g%s%s", cpus, *rest ? "," : "", rest);
}

/* One NODES_REPLY row into n. */
static void s_row(const msgpack_object *row, pdc_node_info *n) {
    const msgpack_object *f = row->via.array.ptr;
    memset(n, 0, sizeof *n);
    pdc_f_cstr(&f[PDC_NODE_ROW_ID], n->id, sizeof n->id);
    pdc_f_cstr(&f[PDC_NODE_ROW_ENDPOINT], n->endpoint, sizeof n->endpoint);
    pdc_f_cstr(&f[PDC_NODE_ROW_LABELS], n->labels, sizeof n->labels);
    n->alive = pdc_f_u(&f[PDC_NODE_ROW_ALIVE]) != 0;
    s_format(&f[PDC_NODE_ROW_TOTAL], n->total, sizeof n->total);
    s_format(&f[PDC_NODE_ROW_AVAILABLE], n->available, sizeof n->available);
}

/* Ask the head once, waiting up to wait_ms for its answer: the number of
   nodes (rows copied into out, max at most), or an error code.  *self
   says whether this client's own node is among them. */
static int s_ask(pdc_client *c, pdc_peer_t *peer, pdc_node_info *out, size_t max, long wait_ms,
                 int *self) {
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    pdc_enc_begin(&enc, PDC_MSG_NODES, 1);
    pdc_peer_send(peer, &enc, NULL, 0);
    pdc_enc_free(&enc);
    zmq_pollitem_t item = {pdc_peer_sock(peer), 0, ZMQ_POLLIN, 0};
    *self = 0;
    if (zmq_poll(&item, 1, wait_ms) != 1)
        return pdc_set_error(PDC_ETIMEOUT, "pdc_nodes: the head at %s did not answer within %ld ms",
                             c->head_endpoint, wait_ms);
    pdc_inbound_t in;
    int rc, got = pdc_wire_recv(pdc_peer_sock(peer), 0, &in);
    if (got > 0 && in.msg.type == PDC_MSG_NODES_REPLY) {
        const msgpack_object *rows = &in.msg.fields[PDC_NODES_REPLY_NODES];
        for (uint32_t i = 0; i < rows->via.array.size; i++) {
            pdc_node_info row;
            s_row(&rows->via.array.ptr[i], &row);
            *self |= !strcmp(row.id, c->node_id);
            if (i < max)
                out[i] = row;
        }
        rc = (int) rows->via.array.size;
    } else {
        rc = pdc_set_error(PDC_EPROTO, "pdc_nodes: the head at %s answered %s", c->head_endpoint,
                           got < 0 ? in.error : "something else");
    }
    if (got != 0)
        pdc_inbound_close(&in);
    return rc;
}

/* Right after pdc_init the head may not have this node's registration
   yet (the raylet registers on its own time): the head is asked again,
   every S_AGAIN_MS, until its view has this client's node or the
   timeout passes, and then what it last said is returned. */
#define S_AGAIN_MS 10

int pdc_nodes(pdc_client *c, pdc_node_info *out, size_t max, int64_t timeout_ms) {
    if (!c || (max && !out))
        return pdc_set_error(PDC_EINVAL, "pdc_nodes: no client or array");
    pdc_clear_error();
    if (!*c->head_endpoint)
        return pdc_set_error(PDC_ECONNECT, "pdc_nodes: this node has no head");
    char why[512];
    pdc_peer_t *peer = pdc_peer_new(NULL, &c->cfg, c->head_endpoint, NULL, NULL, why, sizeof why);
    if (!peer)
        return pdc_set_error(PDC_ECONNECT, "pdc_nodes: %s", why);
    uint64_t start = pdc_now_ms();
    int rc, self;
    for (;;) {
        uint64_t spent = pdc_now_ms() - start;
        long left = timeout_ms < 0                   ? -1
                    : spent >= (uint64_t) timeout_ms ? 0
                                                     : (long) (timeout_ms - (int64_t) spent);
        rc = s_ask(c, peer, out, max, left, &self);
        if (rc < 0 || self ||
            (timeout_ms >= 0 && pdc_now_ms() - start + S_AGAIN_MS >= (uint64_t) timeout_ms))
            break;
        usleep(S_AGAIN_MS * 1000);
    }
    pdc_peer_destroy(&peer, 0);
    return rc;
}
