/*  pdc_loop: ZeroMQ sockets in a libuv loop (see pdc_loop.h for why it is
    built from a poll, a prepare, a check and an idle handle). */
#include "pdc_loop.h"

#include <stdlib.h>

/* Messages handled per socket per loop iteration before giving the other
   handles a turn, and the time they may take: a message can be slow to
   handle (a chunk of a large object written into fresh tmpfs pages at
   0.4 GB/s on a VM), and timers (heartbeats) must not wait for 512. */
#define PDC_ZWATCH_BUDGET    512
#define PDC_ZWATCH_BUDGET_NS ((uint64_t) 5 * 1000 * 1000)

struct pdc_zwatch {
    uv_poll_t poll;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_idle_t idle;
    void *sock;
    pdc_zwatch_fn *fn;
    void *arg;
    int closing;
};

int pdc_zsock_readable(void *sock) {
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) != 0)
        return 0;
    return (events & ZMQ_POLLIN) != 0;
}

static void s_drain(pdc_zwatch_t *self) {
    uint64_t start = uv_hrtime();
    for (int i = 0; i < PDC_ZWATCH_BUDGET && !self->closing; i++) {
        if (!pdc_zsock_readable(self->sock))
            return;
        self->fn(self, self->sock, self->arg);
        if (uv_hrtime() - start > PDC_ZWATCH_BUDGET_NS)
            return; /* the idle handle brings us back next iteration */
    }
}

static void s_on_poll(uv_poll_t *h, int status, int events) {
    (void) status;
    (void) events;
    s_drain(h->data);
}

static void s_on_idle(uv_idle_t *h) {
    (void) h; /* exists only to keep the loop from blocking */
}

static void s_on_prepare(uv_prepare_t *h) {
    pdc_zwatch_t *self = h->data;
    if (pdc_zsock_readable(self->sock))
        uv_idle_start(&self->idle, s_on_idle);
    else
        uv_idle_stop(&self->idle);
}

static void s_on_check(uv_check_t *h) {
    s_drain(h->data);
}

pdc_zwatch_t *pdc_zwatch_new(uv_loop_t *loop, void *sock, pdc_zwatch_fn *fn, void *arg) {
    pdc_zwatch_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0) {
        free(self);
        return NULL;
    }
    self->sock = sock;
    self->fn = fn;
    self->arg = arg;
    uv_poll_init(loop, &self->poll, fd);
    uv_prepare_init(loop, &self->prepare);
    uv_check_init(loop, &self->check);
    uv_idle_init(loop, &self->idle);
    self->poll.data = self->prepare.data = self->check.data = self;
    self->idle.data = self;
    uv_poll_start(&self->poll, UV_READABLE, s_on_poll);
    uv_prepare_start(&self->prepare, s_on_prepare);
    uv_check_start(&self->check, s_on_check);
    return self;
}

static void s_on_close(uv_handle_t *h) {
    pdc_zwatch_t *self = h->data;
    if (++self->closing == 5)
        free(self);
}

void pdc_zwatch_destroy(pdc_zwatch_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pdc_zwatch_t *self = *self_p;
    *self_p = NULL;
    self->closing = 1;
    uv_close((uv_handle_t *) &self->poll, s_on_close);
    uv_close((uv_handle_t *) &self->prepare, s_on_close);
    uv_close((uv_handle_t *) &self->check, s_on_close);
    uv_close((uv_handle_t *) &self->idle, s_on_close);
}
