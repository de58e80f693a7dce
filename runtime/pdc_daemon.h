/*  pdc_daemon: what pdc-head and pdc-raylet share around their loops.

    Both stop on SIGTERM or SIGINT, taken on the libuv loop; both, when an
    embedded cluster starts them, stop once the driver that started them
    is gone; and both must release their sockets (and the raylet its
    store) before giving up their signal handlers, because SIGTERM can
    arrive more than once (PR_SET_PDEATHSIG fires again as each thread of
    a dying driver exits) and the default action would then kill them
    half-way through cleaning up.  pdc_daemon_signals_close therefore
    closes the handlers and ignores both signals from then on. */
#ifndef PDC_DAEMON_H_INCLUDED
#define PDC_DAEMON_H_INCLUDED

#include <uv.h>

typedef struct {
    uv_signal_t term, interrupt;
} pdc_daemon_signals_t;

/* Call cb(handle, signum) on SIGTERM and SIGINT; handle->data is data. */
void pdc_daemon_signals_start(uv_loop_t *loop, pdc_daemon_signals_t *signals, uv_signal_cb cb,
                              void *data);
/* Close the handlers (run the loop once more to finish) and ignore
   SIGTERM and SIGINT from now on. */
void pdc_daemon_signals_close(pdc_daemon_signals_t *signals);

/* Whether the process owner_pid (0: none) no longer exists. */
int pdc_daemon_owner_gone(int owner_pid);

/* Remove the socket file of an ipc:// endpoint (nothing for tcp://). */
void pdc_daemon_unlink_endpoint(const char *endpoint);

#endif
