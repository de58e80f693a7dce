/*  pdc_peer: one outgoing ZeroMQ connection of a client.

    Every socket a client opens towards another process is a peer: the
    DEALER to its own raylet, one per leased worker or actor endpoint, one
    per raylet on another node, the one to the head, and the short-lived
    socket of a blocking lookup.  A peer is tuned once (the largest
    message; ZeroMQ heartbeats on tcp, so a silent host is noticed),
    optionally watched by the client's libuv loop, optionally monitored
    for connection events, and closed in one place.  Transport security
    (CURVE) will be set here too.

    Sockets are made with zsys_socket, not zsock_new: when the process
    runs out of ZeroMQ sockets or file descriptors, zsock_new asserts,
    while a peer fails with a message that names the limit.

    Who frees what: the creator owns the peer and destroys it with
    pdc_peer_destroy; a watched peer must be unwatched (or destroyed)
    before its loop closes.
*/
#ifndef PDC_PEER_H_INCLUDED
#define PDC_PEER_H_INCLUDED

#include "pdc_config.h"
#include "pdc_proto.h"

#include <uv.h>

typedef struct pdc_peer pdc_peer_t;

/* A message may be read from the peer's socket (sock). */
typedef void(pdc_peer_msg_fn)(pdc_peer_t *peer, void *sock, void *arg);
/* The monitor saw events (ZMQ_EVENT_* bits). */
typedef void(pdc_peer_event_fn)(pdc_peer_t *peer, unsigned events, void *arg);

/* Raise what this process may open before its first ZeroMQ socket: the
   file descriptor limit to its hard limit and ZeroMQ's socket limit to
   max_sockets (or what the descriptors allow).  Later calls do nothing. */
void pdc_peer_raise_limits(int64_t max_sockets);

/* A DEALER connected to endpoint, tuned for it.  With loop set, on_msg
   runs on that loop when a message may be read.  NULL with why (the
   socket limit, a bad endpoint). */
pdc_peer_t *pdc_peer_new(uv_loop_t *loop, const pdc_config_t *cfg, const char *endpoint,
                         pdc_peer_msg_fn *on_msg, void *arg, char *why, size_t len);

/* pdc_peer_new with the monitor of pdc_peer_monitor set up before the
   connection starts, so that no event (the first ZMQ_EVENT_CONNECTED
   above all, which a fast connection sends at once) goes unseen.  NULL
   with why, also if the monitor cannot be set up. */
pdc_peer_t *pdc_peer_new_monitored(uv_loop_t *loop, const pdc_config_t *cfg, const char *endpoint,
                                   pdc_peer_msg_fn *on_msg, void *arg, unsigned events,
                                   pdc_peer_event_fn *on_event, char *why, size_t len);

/* Report events (ZMQ_EVENT_* bits) of the connection to fn on the loop.
   0, or -1 if a monitor cannot be set up (the peer still works).  Events
   before this call are not seen: a connection that came up already sends
   no ZMQ_EVENT_CONNECTED (pdc_peer_new_monitored does not miss it). */
int pdc_peer_monitor(pdc_peer_t *self, unsigned events, pdc_peer_event_fn *fn);

void *pdc_peer_sock(pdc_peer_t *self); /* the raw libzmq socket */
const char *pdc_peer_endpoint(const pdc_peer_t *self);
/* 1 once the monitor saw the connection up (ZMQ_EVENT_CONNECTED) or a
   message came from the peer. */
int pdc_peer_connected(const pdc_peer_t *self);

/* Send enc's message (and a payload frame if size > 0).  0 or -1. */
int pdc_peer_send(pdc_peer_t *self, const pdc_enc_t *enc, const void *payload, size_t size);

/* Stop watching (before the loop closes); the socket stays usable. */
void pdc_peer_unwatch(pdc_peer_t *self);

/* Close and free; linger_ms is how long queued messages may still go out
   (0: drop them).  Safe on NULL, nulls *self_p. */
void pdc_peer_destroy(pdc_peer_t **self_p, int linger_ms);

/* Sockets open through pdc_peer_new in this process, and the limit. */
size_t pdc_peer_count(void);
size_t pdc_peer_limit(void);

#endif
