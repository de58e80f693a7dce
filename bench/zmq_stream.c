/*  pdc-zmq-stream: the bandwidth an object transfer between two nodes is
    measured against.

        pdc-zmq-stream recv --bind tcp://IP:PORT --mib M [--chunk-kib K] [--rounds R]
        pdc-zmq-stream send --connect tcp://IP:PORT --mib M [--chunk-kib K] [--rounds R]

    Nothing of pdc: the receiver asks for an M MiB buffer in chunks of K KiB
    (default 4096, pdc's transfer_chunk_size) with a window of 4 requests
    in flight (pdc's transfer_window), the sender answers each with a
    chunk from a buffer in memory, and the receiver copies each chunk into
    a destination buffer it touched beforehand, as a pulling raylet copies
    into its store.  Prints "zmq_stream_gbs X GB/s" (mean of the rounds
    after the first) at the receiver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define WINDOW 4

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void s_usage(FILE *out) {
    fprintf(out, "usage: pdc-zmq-stream recv --bind EP --mib M [--chunk-kib K] [--rounds R]\n"
                 "       pdc-zmq-stream send --connect EP --mib M [--chunk-kib K] [--rounds R]\n"
                 "A plain ZeroMQ chunked stream between two hosts (see the source).\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    int recv_side = !strcmp(argv[1], "recv");
    const char *ep = NULL;
    size_t mib = 256, chunk = (size_t) 4096 << 10;
    int rounds = 4;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--bind") || !strcmp(argv[i], "--connect"))
            ep = argv[i + 1];
        else if (!strcmp(argv[i], "--mib"))
            mib = (size_t) atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--chunk-kib"))
            chunk = (size_t) atol(argv[i + 1]) << 10;
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
        else {
            s_usage(stderr);
            return 2;
        }
    }
    if (!ep || !mib || !chunk || rounds < 1 || (!recv_side && strcmp(argv[1], "send"))) {
        s_usage(stderr);
        return 2;
    }
    size_t total = mib << 20;
    char *buf = malloc(total);
    if (!buf)
        return 1;
    memset(buf, 1, total); /* touched: no page faults in the timing */
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, recv_side ? ZMQ_DEALER : ZMQ_ROUTER);
    int hwm = 0, linger = 0;
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if ((recv_side ? zmq_bind(sock, ep) : zmq_connect(sock, ep)) != 0) {
        fprintf(stderr, "pdc-zmq-stream: %s %s: %s\n", recv_side ? "bind" : "connect", ep,
                zmq_strerror(zmq_errno()));
        return 1;
    }
    if (!recv_side) {
        /* Answer (offset, length) requests until a zero length. */
        for (;;) {
            char rid[256];
            size_t req[2];
            int rl = zmq_recv(sock, rid, sizeof rid, 0);
            if (rl < 0 || zmq_recv(sock, req, sizeof req, 0) != sizeof req)
                break;
            if (req[1] == 0)
                break;
            if (req[0] > total || req[1] > total - req[0])
                break;
            zmq_send(sock, rid, (size_t) rl, ZMQ_SNDMORE);
            zmq_send(sock, req, sizeof req, ZMQ_SNDMORE);
            zmq_msg_t body;
            zmq_msg_init_data(&body, buf + req[0], req[1], NULL, NULL);
            zmq_msg_send(&body, sock, 0);
        }
    } else {
        double sum = 0;
        for (int r = 0; r < rounds; r++) {
            size_t asked = 0, got = 0;
            int inflight = 0;
            double start = s_now();
            while (got < total) {
                while (inflight < WINDOW && asked < total) {
                    size_t req[2] = {asked, total - asked < chunk ? total - asked : chunk};
                    zmq_send(sock, req, sizeof req, 0);
                    asked += req[1];
                    inflight++;
                }
                size_t hdr[2];
                zmq_msg_t body;
                zmq_msg_init(&body);
                if (zmq_recv(sock, hdr, sizeof hdr, 0) != sizeof hdr ||
                    zmq_msg_recv(&body, sock, 0) < 0) {
                    fprintf(stderr, "pdc-zmq-stream: receive failed\n");
                    return 1;
                }
                memcpy(buf + hdr[0], zmq_msg_data(&body), zmq_msg_size(&body));
                got += zmq_msg_size(&body);
                zmq_msg_close(&body);
                inflight--;
            }
            double gbs = (double) total / (s_now() - start) / 1e9;
            if (r > 0 || rounds == 1)
                sum += gbs;
        }
        size_t stop[2] = {0, 0};
        zmq_send(sock, stop, sizeof stop, 0);
        printf("zmq_stream_gbs %.3f GB/s\n", sum / (rounds > 1 ? rounds - 1 : 1));
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    free(buf);
    return 0;
}
