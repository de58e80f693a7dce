/*  pdc_loop: a ZeroMQ socket watched by a libuv loop.

    ZMQ_FD is not a socket's data: it is a signal, edge-triggered, that
    says "look at ZMQ_EVENTS".  A wake-up may stand for many messages, a
    send may consume the edge of a pending receive, and the fd can be
    readable with nothing to read.  So a watcher here does what flux-core's
    ev_zmq does: a uv_poll on ZMQ_FD only wakes the loop; before the loop
    blocks (uv_prepare) it looks at ZMQ_EVENTS and, if a message is waiting,
    starts a uv_idle so the loop does not block; after the poll (uv_check)
    it calls the handler while ZMQ_EVENTS says POLLIN, up to a budget per
    iteration so one busy socket cannot starve the others.

    The handler receives one message per call (with zmq_msg_recv and
    ZMQ_DONTWAIT); a call that finds nothing (EAGAIN) is harmless.
*/
#ifndef PDC_LOOP_H_INCLUDED
#define PDC_LOOP_H_INCLUDED

#include <czmq.h>
#include <uv.h>

typedef struct pdc_zwatch pdc_zwatch_t;
typedef void(pdc_zwatch_fn)(pdc_zwatch_t *watch, void *sock, void *arg);

/* Watch sock (a raw libzmq socket, e.g. zsock_resolve(zsock)) on loop.
   Returns NULL on failure. */
pdc_zwatch_t *pdc_zwatch_new(uv_loop_t *loop, void *sock, pdc_zwatch_fn *fn, void *arg);
/* Stop watching and free (the handles close asynchronously; run the loop
   once more before freeing the loop).  Safe on NULL, nulls *self_p. */
void pdc_zwatch_destroy(pdc_zwatch_t **self_p);

/* Whether sock has a message waiting (ZMQ_EVENTS & ZMQ_POLLIN). */
int pdc_zsock_readable(void *sock);

#endif
