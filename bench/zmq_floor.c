/*  pdc-zmq-floor: the round trip pdc's synchronous calls cannot beat.

    Two processes, a DEALER and a ROUTER on an ipc:// socket, bounce a
    two-byte message back and forth as fast as libzmq allows, with nothing
    of pdc in between.  single_client_tasks_sync and 1_1_actor_calls_sync
    are one such round trip plus pdc's own work, so their ceiling on a
    machine is 1e6 / (this figure in microseconds) calls per second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static double s_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int n = 20000;
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("Usage: pdc-zmq-floor [ROUND_TRIPS]\n"
               "Times a ZeroMQ DEALER/ROUTER round trip over ipc:// between two\n"
               "processes (default 20000 round trips) and prints the mean in us.\n");
        return 0;
    }
    if (argc > 1)
        n = atoi(argv[1]);
    if (n <= 0) {
        fprintf(stderr, "pdc-zmq-floor: ROUND_TRIPS must be a positive number\n");
        return 2;
    }
    char path[64], endpoint[80];
    snprintf(path, sizeof path, "/tmp/pdc-zmq-floor-%d.sock", (int) getpid());
    snprintf(endpoint, sizeof endpoint, "ipc://%s", path);
    enum { WARMUP = 200 };
    pid_t echo = fork();
    if (echo == 0) {
        void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_ROUTER);
        if (zmq_bind(s, endpoint))
            _exit(1);
        for (int i = 0; i < n + WARMUP; i++) {
            char id[64], b[16];
            int len = zmq_recv(s, id, sizeof id, 0);
            if (len < 0 || zmq_recv(s, b, sizeof b, 0) < 0)
                _exit(1);
            zmq_send(s, id, (size_t) len, ZMQ_SNDMORE);
            zmq_send(s, "ok", 2, 0);
        }
        zmq_close(s);
        zmq_ctx_term(ctx);
        _exit(0);
    }
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    int timeout = 10000;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(s, endpoint);
    char b[16];
    double t0 = 0;
    for (int i = 0; i < n + WARMUP; i++) {
        if (i == WARMUP)
            t0 = s_now();
        zmq_send(s, "x", 1, 0);
        if (zmq_recv(s, b, sizeof b, 0) < 0) {
            fprintf(stderr, "pdc-zmq-floor: no echo within %d ms\n", timeout);
            break;
        }
    }
    double us = (s_now() - t0) / n * 1e6;
    printf("zmq_ipc_round_trip_us %.1f (ceiling %.0f sync calls per second)\n", us, 1e6 / us);
    zmq_close(s);
    zmq_ctx_term(ctx);
    waitpid(echo, NULL, 0);
    unlink(path);
    return 0;
}
