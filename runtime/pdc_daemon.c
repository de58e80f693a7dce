/*  pdc_daemon: signals, owner watch and socket files of the daemons. */
#include "pdc_daemon.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

void pdc_daemon_signals_start(uv_loop_t *loop, pdc_daemon_signals_t *signals, uv_signal_cb cb,
                              void *data) {
    uv_signal_init(loop, &signals->term);
    uv_signal_init(loop, &signals->interrupt);
    signals->term.data = signals->interrupt.data = data;
    uv_signal_start(&signals->term, cb, SIGTERM);
    uv_signal_start(&signals->interrupt, cb, SIGINT);
}

void pdc_daemon_signals_close(pdc_daemon_signals_t *signals) {
    uv_close((uv_handle_t *) &signals->term, NULL);
    uv_close((uv_handle_t *) &signals->interrupt, NULL);
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
}

int pdc_daemon_owner_gone(int owner_pid) {
    return owner_pid > 0 && kill(owner_pid, 0) && errno == ESRCH;
}

void pdc_daemon_unlink_endpoint(const char *endpoint) {
    if (!strncmp(endpoint, "ipc://", 6))
        unlink(endpoint + 6);
}
