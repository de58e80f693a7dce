/*  pdc_peer: one outgoing ZeroMQ connection of a client (see the header).

    Limits.  A driver with thousands of actors holds a socket (and, for
    its monitor, two more) per actor, and each socket costs file
    descriptors: its mailbox and its connection.  ZeroMQ's default is
    1 023 sockets a context, and a process's soft descriptor limit is
    often 1 024, so pdc_peer_raise_limits lifts both before the first
    socket exists (ZeroMQ reads its socket limit once, when the context
    makes its first socket).  Beyond that, pdc_peer_new refuses a peer
    that would pass either limit, with both numbers in the message,
    instead of letting zsock_new assert or libzmq run out of descriptors
    inside its I/O thread.
*/
#include "pdc_peer.h"

#include "pdc_loop.h"
#include "pdc_wire.h"

#include <czmq.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* ZeroMQ sockets of one peer at most: its own, and a monitor's two. */
#define PEER_SOCKETS 3
/* Descriptors one ZeroMQ socket may use: its mailbox and a connection. */
#define SOCKET_FDS 2
/* Descriptors kept for everything else (files, the store, pipes). */
#define FD_RESERVE 256

struct pdc_peer {
    char endpoint[4096];
    void *sock;
    pdc_zwatch_t *watch;
    uv_loop_t *loop;
    void *monitor; /* PAIR receiving the monitor's events */
    pdc_zwatch_t *monitor_watch;
    pdc_peer_event_fn *on_event;
    pdc_peer_msg_fn *on_msg;
    void *arg;
    int connected;
    int nsockets;
};

static atomic_size_t s_sockets; /* open through peers, process-wide */
static size_t s_fd_limit;

void pdc_peer_raise_limits(int64_t max_sockets) {
    static int raised;
    if (raised)
        return;
    raised = 1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        s_fd_limit = (size_t) rl.rlim_cur;
    }
    size_t by_fds = s_fd_limit > FD_RESERVE ? (s_fd_limit - FD_RESERVE) / SOCKET_FDS : 0;
    size_t want = max_sockets > 0 ? (size_t) max_sockets : by_fds;
    /* Not zsys_set_max_sockets, which asserts once a socket exists: set on
       the context, this takes effect if no socket was made yet and is
       harmless otherwise. */
    if (want > 0)
        zmq_ctx_set(zsys_init(), ZMQ_MAX_SOCKETS, (int) want);
}

size_t pdc_peer_count(void) {
    return atomic_load(&s_sockets);
}

size_t pdc_peer_limit(void) {
    size_t zmq_limit = (size_t) zmq_ctx_get(zsys_init(), ZMQ_MAX_SOCKETS);
    size_t by_fds = s_fd_limit > FD_RESERVE ? (s_fd_limit - FD_RESERVE) / SOCKET_FDS : zmq_limit;
    return zmq_limit < by_fds ? zmq_limit : by_fds;
}

/* Room for n more sockets, or 0 with why. */
static int s_room(int n, char *why, size_t len) {
    size_t open = atomic_load(&s_sockets), limit = pdc_peer_limit();
    if (open + (size_t) n <= limit)
        return 1;
    snprintf(why, len,
             "too many connections: %zu ZeroMQ sockets open, the limit is %zu (ZeroMQ's "
             "max_sockets %zu, %zu file descriptors (ulimit -n) at %d per socket)",
             open, limit, (size_t) zmq_ctx_get(zsys_init(), ZMQ_MAX_SOCKETS), s_fd_limit,
             SOCKET_FDS);
    return 0;
}

static void s_on_readable(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    pdc_peer_t *self = arg;
    self->connected = 1; /* a message came: the connection is up */
    self->on_msg(self, sock, self->arg);
}

/* The socket of a peer, tuned for endpoint, not connected yet. */
static pdc_peer_t *s_open(uv_loop_t *loop, const pdc_config_t *cfg, const char *endpoint,
                          pdc_peer_msg_fn *on_msg, void *arg, char *why, size_t len) {
    if (strlen(endpoint) >= sizeof((pdc_peer_t *) 0)->endpoint) {
        snprintf(why, len, "endpoint too long: %.64s...", endpoint);
        return NULL;
    }
    if (!s_room(1, why, len))
        return NULL;
    pdc_peer_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(why, len, "out of memory");
        return NULL;
    }
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    self->loop = loop;
    self->on_msg = on_msg;
    self->arg = arg;
    self->sock = zsys_socket(ZMQ_DEALER, NULL, 0);
    if (!self->sock) {
        snprintf(why, len, "cannot open a socket for %s: %s", endpoint, zmq_strerror(zmq_errno()));
        free(self);
        return NULL;
    }
    self->nsockets = 1;
    atomic_fetch_add(&s_sockets, 1);
    int tcp = !strncmp(endpoint, "tcp://", 6);
    pdc_wire_tune(self->sock, tcp ? cfg->max_message_size : 0);
    if (tcp) {
        /* A peer on another host that goes silent (its node died or was
           cut off) closes the connection, which the monitor reports. */
        int ivl = (int) cfg->heartbeat_ms * 5, timeout = (int) cfg->node_timeout_ms * 3;
        zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    }
    return self;
}

/* Connect self and watch it on its loop; 0, or -1 with why and self gone. */
static int s_connect(pdc_peer_t **self_p, char *why, size_t len) {
    pdc_peer_t *self = *self_p;
    if (zmq_connect(self->sock, self->endpoint) != 0) {
        snprintf(why, len, "cannot connect to %s: %s", self->endpoint, zmq_strerror(zmq_errno()));
        pdc_peer_destroy(self_p, 0);
        return -1;
    }
    if (self->loop && self->on_msg) {
        self->watch = pdc_zwatch_new(self->loop, self->sock, s_on_readable, self);
        if (!self->watch) {
            snprintf(why, len, "cannot watch the socket for %s", self->endpoint);
            pdc_peer_destroy(self_p, 0);
            return -1;
        }
    }
    return 0;
}

pdc_peer_t *pdc_peer_new(uv_loop_t *loop, const pdc_config_t *cfg, const char *endpoint,
                         pdc_peer_msg_fn *on_msg, void *arg, char *why, size_t len) {
    pdc_peer_t *self = s_open(loop, cfg, endpoint, on_msg, arg, why, len);
    if (!self || s_connect(&self, why, len))
        return NULL;
    return self;
}

pdc_peer_t *pdc_peer_new_monitored(uv_loop_t *loop, const pdc_config_t *cfg, const char *endpoint,
                                   pdc_peer_msg_fn *on_msg, void *arg, unsigned events,
                                   pdc_peer_event_fn *on_event, char *why, size_t len) {
    pdc_peer_t *self = s_open(loop, cfg, endpoint, on_msg, arg, why, len);
    if (!self)
        return NULL;
    if (pdc_peer_monitor(self, events, on_event)) {
        snprintf(why, len, "cannot monitor the connection to %s", endpoint);
        pdc_peer_destroy(&self, 0);
        return NULL;
    }
    if (s_connect(&self, why, len))
        return NULL;
    return self;
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
    if (zmq_msg_size(&frame) >= 2)
        memcpy(&event, zmq_msg_data(&frame), 2);
    while (zmq_msg_more(&frame)) {
        zmq_msg_close(&frame);
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, sock, 0) < 0)
            break;
    }
    zmq_msg_close(&frame);
    return event;
}

static void s_on_monitor(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    pdc_peer_t *self = arg;
    unsigned events = s_monitor_read(sock);
    if (events & ZMQ_EVENT_CONNECTED)
        self->connected = 1;
    if (events && self->on_event)
        self->on_event(self, events, self->arg);
}

int pdc_peer_monitor(pdc_peer_t *self, unsigned events, pdc_peer_event_fn *fn) {
    if (self->monitor || !self->loop)
        return -1;
    char why[256];
    if (!s_room(PEER_SOCKETS - 1, why, sizeof why))
        return -1;
    /* A name of its own: a peer made where a closed one was (malloc
       reuses addresses) must not find that one's name still bound (libzmq
       unbinds it asynchronously), or it would run without a monitor and
       never hear that its worker died. */
    static atomic_ullong monitors;
    char addr[96];
    snprintf(addr, sizeof addr, "inproc://pdc-monitor-%llu",
             (unsigned long long) atomic_fetch_add(&monitors, 1));
    if (zmq_socket_monitor(self->sock, addr, (int) (events | ZMQ_EVENT_CONNECTED)) != 0)
        return -1;
    self->nsockets++; /* libzmq's own end of the monitor */
    atomic_fetch_add(&s_sockets, 1);
    self->monitor = zsys_socket(ZMQ_PAIR, NULL, 0);
    if (!self->monitor)
        return -1;
    self->nsockets++;
    atomic_fetch_add(&s_sockets, 1);
    if (zmq_connect(self->monitor, addr) != 0)
        return -1;
    self->on_event = fn;
    self->monitor_watch = pdc_zwatch_new(self->loop, self->monitor, s_on_monitor, self);
    return self->monitor_watch ? 0 : -1;
}

void *pdc_peer_sock(pdc_peer_t *self) {
    return self->sock;
}

const char *pdc_peer_endpoint(const pdc_peer_t *self) {
    return self->endpoint;
}

int pdc_peer_connected(const pdc_peer_t *self) {
    return self->connected;
}

int pdc_peer_send(pdc_peer_t *self, const pdc_enc_t *enc, const void *payload, size_t size) {
    return pdc_wire_send(self->sock, NULL, 0, enc, payload, size);
}

void pdc_peer_unwatch(pdc_peer_t *self) {
    if (!self)
        return;
    pdc_zwatch_destroy(&self->watch);
    pdc_zwatch_destroy(&self->monitor_watch);
}

void pdc_peer_destroy(pdc_peer_t **self_p, int linger_ms) {
    pdc_peer_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    *self_p = NULL;
    pdc_peer_unwatch(self);
    if (self->nsockets > 1)
        zmq_socket_monitor(self->sock, NULL, 0);
    if (self->monitor)
        zsys_close(self->monitor, NULL, 0);
    if (self->sock) {
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
        zsys_close(self->sock, NULL, 0);
    }
    atomic_fetch_sub(&s_sockets, (size_t) self->nsockets);
    free(self);
}
