/*  test_leases: how a raylet hands out its slots, seen from outside.

    - A node with one CPU never runs two one-CPU tasks at once: rounds of
      tasks pinned to it (node affinity) each record when they started
      and ended, no two spans overlap, and a thread that asks the raylet
      for its STATUS all along never sees cpus_available below zero.
      The plain rounds check the slot changes hands cleanly; the rounds
      whose library is a code package the head gets only after
      CODE_LATE_MS make every worker wait for its code in its first
      task, as on a node that runs a library for the first time.
    - A request that cannot be granted now (a GPU task while an actor
      holds the node's one GPU) does not hold back requests of another
      shape behind it: CPU tasks run while it waits, and it runs once
      the GPU is free.
*/
#include "pdc_raylet_probe.h"

#include "pdc_code.h"

#include <pthread.h>

/* Rounds of the one-CPU check, tasks per round and how long each runs:
   eight tasks take four leases at once (two tasks to a worker), so the
   slot is asked for by several requests all along. */
#define SLOT_ROUNDS  6
#define SLOT_TASKS   8
#define SLOT_TASK_MS 150
/* How often the watcher asks the raylet for cpus_available. */
#define WATCH_EVERY_MS 2
/* How long the head goes without the tasks' code package, and the
   largest library read for it; rounds of the check with it (the first
   one waits for the code). */
#define CODE_LATE_MS   500
#define CODE_MAX_BYTES ((size_t) 1 << 30)
#define CODE_ROUNDS    2
/* How long CPU tasks may take while a GPU request waits. */
#define PASS_BY_MS 10000
/* How long the GPU request has to reach the raylet before the CPU ones. */
#define GPU_FIRST_MS 100

/* ---- One CPU ---------------------------------------------------------- */

static void s_one_cpu_setup(void) {
    setenv("PDC_NUM_CPUS", "1", 1);
    /* A code package is a copy of the test library in the session's
       code/ directory, where its RUNPATH ($ORIGIN/../runtime) does not
       lead to libpdc.so: the workers find it here instead. */
    const char *bin = getenv("PDC_BIN_DIR");
    if (bin)
        setenv("LD_LIBRARY_PATH", bin, 1);
    itest_setup();
    probe_open();
}

/* A thread that asks the raylet for cpus_available all along: the
   smallest value it saw, and how often it got an answer.  It owns the
   probe's socket while it runs. */
static struct {
    pthread_mutex_t mu;
    pthread_t thread;
    int running, stop;
    double min;
    long asked;
} g_watch = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void *s_watch(void *arg) {
    (void) arg;
    for (;;) {
        pthread_mutex_lock(&g_watch.mu);
        int stop = g_watch.stop;
        pthread_mutex_unlock(&g_watch.mu);
        if (stop)
            return NULL;
        double v;
        if (probe_ask("cpus_available", &v) == 0) {
            pthread_mutex_lock(&g_watch.mu);
            if (v < g_watch.min)
                g_watch.min = v;
            g_watch.asked++;
            pthread_mutex_unlock(&g_watch.mu);
        }
        usleep(WATCH_EVERY_MS * 1000);
    }
}

static void s_watch_start(void) {
    g_watch.min = 1e9;
    g_watch.asked = 0;
    g_watch.stop = 0;
    cr_assert_eq(pthread_create(&g_watch.thread, NULL, s_watch, NULL), 0);
    g_watch.running = 1;
}

static void s_watch_stop(void) {
    if (!g_watch.running)
        return;
    pthread_mutex_lock(&g_watch.mu);
    g_watch.stop = 1;
    pthread_mutex_unlock(&g_watch.mu);
    pthread_join(g_watch.thread, NULL);
    g_watch.running = 0;
}

/* Also when a test failed with the watcher still running. */
static void s_one_cpu_teardown(void) {
    s_watch_stop();
    probe_close();
    itest_teardown();
}

TestSuite(one_cpu, .init = s_one_cpu_setup, .fini = s_one_cpu_teardown, .timeout = 240);

/* The test library as a code package: its bytes (malloc'd), their hash
   and its reference, "pdc-code:HASH:PATH", into ref. */
static void s_code_ref(char *ref, size_t len, char hash[PDC_CODE_HASH_LEN + 1], void **bytes,
                       size_t *size) {
    char why[512];
    cr_assert_eq(pdc_code_read(g_lib, CODE_MAX_BYTES, bytes, size, why, sizeof why), 0, "%s", why);
    pdc_code_hash(*bytes, *size, hash);
    pdc_code_ref(hash, g_lib, ref, len);
}

/* Upload the package to the head (CODE_PUT, on a socket of our own,
   closed before anything is asserted); NULL, or what went wrong. */
static const char *s_code_put(const char *hash, const void *bytes, size_t size) {
    static char why[512];
    void *head = zmq_socket(g_probe_ctx, ZMQ_DEALER);
    if (!head)
        return "cannot make a socket for the head";
    int zero = 0;
    zmq_setsockopt(head, ZMQ_LINGER, &zero, sizeof zero);
    char ep[PATH_MAX + 32];
    snprintf(ep, sizeof ep, "ipc://%s/head.sock", g_probe_session);
    pdc_enc_t e;
    pdc_enc_init(&e);
    pdc_enc_begin(&e, PDC_MSG_CODE_PUT, 1);
    pdc_enc_s(&e, hash);
    pdc_enc_s(&e, "task_lib.so");
    const char *err = NULL;
    zmq_pollitem_t item = {head, 0, ZMQ_POLLIN, 0};
    if (zmq_connect(head, ep) || zmq_send(head, e.buf.data, e.buf.size, ZMQ_SNDMORE) < 0 ||
        zmq_send(head, bytes, size, 0) < 0)
        err = "cannot send CODE_PUT to the head";
    else if (zmq_poll(&item, 1, PROBE_REPLY_MS) != 1)
        err = "the head did not answer CODE_PUT";
    pdc_enc_free(&e);
    if (!err) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        pdc_msg_t msg;
        char bad[256];
        if (zmq_msg_recv(&frame, head, 0) < 0 ||
            pdc_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &msg, bad, sizeof bad)) {
            err = "the head's answer to CODE_PUT does not decode";
        } else {
            if (msg.type != PDC_MSG_CODE_STORED) {
                snprintf(why, sizeof why, "the head answered CODE_PUT with %s",
                         pdc_msg_name(msg.type));
                err = why;
            }
            pdc_msg_free(&msg);
        }
        zmq_msg_close(&frame);
    }
    zmq_close(head);
    return err;
}

/* Run one round of n span tasks pinned to this node, into spans.  With
   code, their library is a code package the head gets only after
   CODE_LATE_MS: each worker waits for it in its first task. */
static void s_round(int n, int code, int64_t (*spans)[2]) {
    pdc_opts here = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = pdc_node_id(g_c)};
    char ref[PATH_MAX + 128], hash[PDC_CODE_HASH_LEN + 1];
    void *bytes = NULL;
    size_t size = 0;
    pdc_fn span = fn("span");
    if (code) {
        s_code_ref(ref, sizeof ref, hash, &bytes, &size);
        span = pdc_function(g_c, ref, "span");
    }
    pdc_ref r[SLOT_TASKS];
    for (int i = 0; i < n; i++)
        r[i] = pdc_call_opts(g_c, span, &here, PDC_I64(SLOT_TASK_MS));
    if (code) {
        usleep(CODE_LATE_MS * 1000);
        const char *err = s_code_put(hash, bytes, size);
        free(bytes);
        cr_assert(!err, "%s", err);
    }
    for (int i = 0; i < n; i++) {
        pdc_object o;
        cr_assert_eq(pdc_get(g_c, r[i], &o, T_TIMEOUT_MS), PDC_OK, "task %d: %s", i,
                     pdc_last_error(g_c));
        cr_assert_eq(o.size, 3 * sizeof(int64_t));
        memcpy(spans[i], (const int64_t *) o.data + 1, sizeof spans[i]);
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, r[i]);
    }
}

/* Rounds of tasks, some from a code package that comes late; no two
   spans overlap and cpus_available never goes below zero. */
static void s_check_rounds(int rounds, int code) {
    s_watch_start();
    int overlaps = 0;
    char first[256] = "";
    for (int round = 0; round < rounds; round++) {
        int64_t spans[SLOT_TASKS][2];
        s_round(SLOT_TASKS, code && round == 0, spans);
        for (int i = 0; i < SLOT_TASKS; i++)
            for (int j = i + 1; j < SLOT_TASKS; j++) {
                int64_t from = spans[i][0] > spans[j][0] ? spans[i][0] : spans[j][0];
                int64_t to = spans[i][1] < spans[j][1] ? spans[i][1] : spans[j][1];
                if (to > from && !overlaps++)
                    snprintf(first, sizeof first, "round %d: tasks %d and %d overlapped by %.1f ms",
                             round, i, j, (double) (to - from) / 1e6);
            }
    }
    s_watch_stop();
    cr_assert_gt(g_watch.asked, 0, "the watcher never got an answer from the raylet");
    cr_assert(overlaps == 0 && g_watch.min >= 0,
              "%d pairs of one-CPU tasks ran at once on a one-CPU node (%s); "
              "cpus_available went down to %g",
              overlaps, overlaps ? first : "none", g_watch.min);
}

Test(one_cpu, never_runs_two_tasks_at_once) {
    s_check_rounds(SLOT_ROUNDS, 0);
}

Test(one_cpu, never_runs_two_tasks_at_once_while_workers_wait_for_code) {
    s_check_rounds(CODE_ROUNDS, 1);
}

/* ---- Shapes ------------------------------------------------------------- */

static void s_shapes_setup(void) {
    setenv("PDC_NUM_CPUS", "2", 1);
    setenv("PDC_RESOURCES", "GPU=1", 1);
    itest_setup();
}

TestSuite(shapes, .init = s_shapes_setup, .fini = itest_teardown, .timeout = 120);

Test(shapes, a_waiting_gpu_request_does_not_hold_back_cpu_requests) {
    /* The actor holds the node's one GPU (and no CPU). */
    pdc_actor_opts gpu_actor = {.resources = "GPU=1"};
    pdc_actor *a = pdc_actor_create(g_c, g_lib, "Counter", &gpu_actor, PDC_I64(0));
    cr_assert_eq(pdc_actor_ready(g_c, a, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    /* A GPU task waits for it, first in the raylet's queue. */
    pdc_opts gpu = {.resources = "GPU=1"};
    pdc_ref g = pdc_call_opts(g_c, fn("add"), &gpu, PDC_I64(1), PDC_I64(1));
    usleep(GPU_FIRST_MS * 1000);
    /* CPU tasks behind it run anyway. */
    enum { N = 4 };
    pdc_ref r[N];
    for (int i = 0; i < N; i++)
        r[i] = pdc_call(g_c, fn("add"), PDC_I64(i), PDC_I64(1));
    for (int i = 0; i < N; i++) {
        int64_t v = -1;
        int rc = pdc_get_i64(g_c, r[i], &v, PASS_BY_MS);
        cr_assert_eq(rc, PDC_OK, "a CPU task waited behind a GPU request: %s", pdc_status_name(rc));
        cr_assert_eq(v, i + 1);
        pdc_ref_release(g_c, r[i]);
    }
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, g, &o, 0), PDC_ETIMEOUT,
                 "the GPU task ran while the actor held the GPU");
    /* Once the GPU is free, the GPU task runs. */
    cr_assert_eq(pdc_actor_kill(g_c, a), PDC_OK);
    int64_t v = 0;
    cr_assert_eq(pdc_get_i64(g_c, g, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, 2);
    pdc_ref_release(g_c, g);
    pdc_actor_release(g_c, a);
}
