/*  pdc_io: a client's I/O thread.

    One thread per client runs a libuv loop that owns every socket of the
    client (each a pdc_peer): the DEALER to the local raylet, one per
    leased worker or actor endpoint (a conn, shared by whatever uses that
    endpoint), the raylets of other nodes, the head.  API threads never
    touch a socket: they change the client's tables under its mutex and
    wake the loop (pdc_client_wake, coalesced by uv_async_send: a burst of
    submissions costs one wake-up), and the loop's pump sends what is
    waiting.  Messages that arrive are dispatched here: answers to
    requests through the request registry, task results to the graph,
    worker deaths to the scheduler and the actor layer.
*/
#ifndef PDC_IO_H_INCLUDED
#define PDC_IO_H_INCLUDED

#include "pdc_peer.h"

typedef struct conn conn_t;

/* A connection to a worker's endpoint (leased worker or actor), shared
   by its users; closed when the last one releases it. */
struct conn {
    pdc_peer_t *peer;
    pdc_client *client;
    int users;
    /* Told when the monitor sees the connection go (set by the first
       user that watches it). */
    void (*on_lost)(pdc_client *c, conn_t *k, const char *why);
    struct conn *next;
};

/* The connection to endpoint, opened on first use; takes a user.  NULL
   with why (the socket limit). */
conn_t *pdc_io_conn_open(pdc_client *c, const char *endpoint, char *why, size_t len);
/* Watch k for events (ZMQ_EVENT_DISCONNECTED...), reported to on_lost. */
void pdc_io_conn_watch(pdc_client *c, conn_t *k, unsigned events,
                       void (*on_lost)(pdc_client *c, conn_t *k, const char *why));
/* Drop a user; at the last, close it (linger_ms for messages queued). */
void pdc_io_conn_release(pdc_client *c, conn_t *k, int linger_ms);

/* Encode WORKER_LEASE (a lease's GPU devices) into c->enc. */
void pdc_io_encode_worker_lease(pdc_client *c, const char *gpu_ids);
/* Send c->enc to the local raylet. */
void pdc_io_send_raylet(pdc_client *c);
/* Look at everything that may be sent now. */
void pdc_io_pump(pdc_client *c);
/* A raylet's socket (the local one or another node's) is readable. */
void pdc_io_on_raylet(pdc_peer_t *peer, void *sock, void *arg);

#endif
