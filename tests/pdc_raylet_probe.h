/*  pdc_raylet_probe: what the raylet tests (test_pool, test_leases) look
    at from outside the raylet: its STATUS rows, read over a socket of
    their own, and its worker processes, found in /proc.

    A test starts an embedded cluster with pdc_itest.h's fixture, then
    probe_open() finds that cluster's session directory (the one whose
    name carries this process's pid) and connects a DEALER to its
    raylet.sock.  probe_row("workers_idle") asks STATUS and returns that
    row; probe_wait_row waits until a row has a value.  probe_workers()
    lists the pids of the pdc-worker processes started for the session
    (their command line names it), so a test can stop, continue or kill
    them.  probe_close() closes the socket before the fixture shuts the
    cluster down.  Every wait is bounded. */
#ifndef PDC_RAYLET_PROBE_H_INCLUDED
#define PDC_RAYLET_PROBE_H_INCLUDED

#include "pdc_itest.h"
#include "pdc_proto.h"

#include <ctype.h>
#include <glob.h>
#include <signal.h>
#include <zmq.h>

/* How long one STATUS may take to be answered. */
#define PROBE_REPLY_MS 5000
/* How often a wait asks again. */
#define PROBE_POLL_MS     20
#define PROBE_MAX_WORKERS 64

static char g_probe_session[PATH_MAX];
static void *g_probe_ctx, *g_probe_sock;

static inline void probe_close(void) {
    if (g_probe_sock)
        zmq_close(g_probe_sock);
    if (g_probe_ctx)
        zmq_ctx_term(g_probe_ctx);
    g_probe_sock = g_probe_ctx = NULL;
}

static inline void probe_open(void) {
    const char *root = getenv("PDC_SESSION_ROOT");
    char pattern[PATH_MAX + 64];
    snprintf(pattern, sizeof pattern, "%s/session-*-%d-*", root && *root ? root : "/tmp/pdc",
             (int) getpid());
    glob_t g;
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no session directory matches %s", pattern);
    cr_assert_eq(g.gl_pathc, 1, "%zu session directories match %s", g.gl_pathc, pattern);
    snprintf(g_probe_session, sizeof g_probe_session, "%s", g.gl_pathv[0]);
    globfree(&g);
    g_probe_ctx = zmq_ctx_new();
    g_probe_sock = zmq_socket(g_probe_ctx, ZMQ_DEALER);
    cr_assert(g_probe_sock, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    int zero = 0;
    zmq_setsockopt(g_probe_sock, ZMQ_LINGER, &zero, sizeof zero);
    char ep[PATH_MAX + 32];
    snprintf(ep, sizeof ep, "ipc://%s/raylet.sock", g_probe_session);
    cr_assert_eq(zmq_connect(g_probe_sock, ep), 0, "connect %s: %s", ep, zmq_strerror(zmq_errno()));
}

/* Ask the raylet for STATUS row name into *v: 0, or -1 if it did not
   answer or has no such row.  Asserts nothing, so a background thread
   may call it (one thread at a time: the socket is not thread-safe). */
static inline int probe_ask(const char *name, double *v) {
    static uint64_t request;
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_STATUS, ++request);
    int rc = zmq_send(g_probe_sock, e.buf.data, e.buf.size, 0) < 0 ? -1 : 1;
    pdc_enc_free(&e);
    while (rc == 1) {
        zmq_pollitem_t item = {g_probe_sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, PROBE_REPLY_MS) != 1)
            return -1;
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, g_probe_sock, 0) < 0)
            return -1;
        pdc_msg_t msg;
        char err[256];
        if (pdc_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &msg, err, sizeof err)) {
            zmq_msg_close(&frame);
            return -1;
        }
        if (msg.type == PDC_MSG_STATUS_REPLY && msg.request_id == request) {
            /* (Otherwise the answer to an earlier ask that timed out.) */
            rc = -1;
            const msgpack_object *rows = &msg.fields[0];
            for (uint32_t i = 0; i < pdc_f_count(rows); i++) {
                char key[64];
                pdc_f_cstr(pdc_f_at(pdc_f_at(rows, i), 0), key, sizeof key);
                if (!strcmp(key, name)) {
                    *v = pdc_f_f(pdc_f_at(pdc_f_at(rows, i), 1));
                    rc = 0;
                }
            }
        }
        pdc_msg_free(&msg);
        zmq_msg_close(&frame);
    }
    return rc;
}

/* The raylet's STATUS row name (cr_assert if there is none). */
static inline double probe_row(const char *name) {
    double v = 0;
    cr_assert_eq(probe_ask(name, &v), 0, "the raylet did not answer STATUS in %d ms with a row %s",
                 PROBE_REPLY_MS, name);
    return v;
}

/* Wait up to timeout_ms until row name is value; whether it came. */
static inline int probe_wait_row(const char *name, double value, double timeout_ms) {
    double until = now_ms() + timeout_ms;
    while (now_ms() < until) {
        if (probe_row(name) == value)
            return 1;
        usleep(PROBE_POLL_MS * 1000);
    }
    return probe_row(name) == value;
}

/* Whether process pid is a pdc-worker of this test's session. */
static inline int s_probe_is_worker(int pid) {
    char path[64], cmd[8192];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(cmd, 1, sizeof cmd - 1, f);
    fclose(f);
    cmd[n] = '\0';
    const char *base = strrchr(cmd, '/');
    if (strcmp(base ? base + 1 : cmd, "pdc-worker"))
        return 0;
    for (size_t i = 0; i < n;) {
        const char *arg = cmd + i;
        if (!strcmp(arg, "--session") && i + strlen(arg) + 1 < n)
            return !strcmp(arg + strlen(arg) + 1, g_probe_session);
        i += strlen(arg) + 1;
    }
    return 0;
}

/* Whether pid is gone (or a zombie, reaped by nobody yet). */
static inline int probe_gone(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    int zombie = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "State:", 6))
            zombie = strchr(line, 'Z') != NULL;
    fclose(f);
    return zombie;
}

/* Whether pid has been reaped by its parent (for a worker, the raylet:
   its exit has then been handled, as libuv calls the exit callback as
   it reaps). */
static inline int probe_reaped(int pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", pid);
    return access(path, F_OK) != 0;
}

/* Wait up to timeout_ms until probe_reaped(pid); whether it was. */
static inline int probe_wait_reaped(int pid, double timeout_ms) {
    double until = now_ms() + timeout_ms;
    while (!probe_reaped(pid) && now_ms() < until)
        usleep(PROBE_POLL_MS * 1000);
    return probe_reaped(pid);
}

/* The pids of this session's live workers, at most max; how many. */
static inline int probe_workers(int *pids, int max) {
    DIR *d = opendir("/proc");
    cr_assert(d, "cannot read /proc");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (!isdigit((unsigned char) e->d_name[0]))
            continue;
        int pid = atoi(e->d_name);
        if (s_probe_is_worker(pid) && !probe_gone(pid))
            pids[n++] = pid;
    }
    closedir(d);
    return n;
}

/* Whether pid has signal sig pending (sent, not yet delivered: the
   process is stopped). */
static inline int probe_signal_pending(int pid, int sig) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long mask = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "ShdPnd:", 7) || !strncmp(line, "SigPnd:", 7))
            mask |= strtoull(line + 7, NULL, 16);
    fclose(f);
    return (mask >> (sig - 1)) & 1;
}

#endif
