/*  cluster_check: the multi-node checks of the netns cluster test.

    A driver run by tests/netns/test_cluster.sh on one test host against
    a cluster whose other nodes are on other hosts (network namespaces),
    so that every task, object and actor call it checks crosses real TCP.
    The script tells it which node is which:

        cluster_check --lib LIB --nodes A,B,C,D --gpu-node B --edge-nodes C,D
                      --dead-node X  [--only NAME,...]

    Each check prints "ok: ..." or "FAIL: ...", and the last line is
    "cluster: N passed, M failed".  The checks:

      gpu       tasks and an actor asking for GPU=1 run on the GPU node only
      edge      tasks and an actor with label selector tier=edge run on
                edge-labelled nodes only
      spread    400 tasks with PDC_SCHED_SPREAD: every node runs 100 ± 15
      affinity  hard affinity to a dead node fails with PDC_EINFEASIBLE
                naming it; soft affinity to it runs elsewhere; hard
                affinity to a live node runs there
      object    a 100 MiB object made on one node is read by a task on
                another and by this driver: the checksums match; a
                default-strategy task whose argument is a 20 MiB object
                on another node runs where the object is
      actors    actors on the other nodes answer 10 000 ordered calls
                from this driver, in order
      full      a 100 MiB argument pulled to the --small-node, whose store
                is smaller, fails with PDC_ESTOREFULL saying so
      hold      (only when asked for) an actor on the last node of
                --nodes, then "holding" and a sleep of 120 s, for the
                script to kill this driver and watch the actor go
      survive   (only when asked for) 60 spread tasks of 300 ms; after
                "submitted" the script kills a node; every task still
                ends with its result (retried on the others)
      partition (only when asked for) 40 spread tasks of 2 s and one
                pinned to --dead-node; after "submitted" the script cuts
                that node's link past the node timeout and restores it;
                every task ends, with its result or an error code (none
                is left waiting: PDC_ETIMEOUT counts as a failure); then,
                once the node is alive again, a task pinned to it and an
                actor placed on it work from this same driver
      spill     (only when asked for, with stores of 64 MiB) 24 objects of
                8 MiB made by tasks on the last node and 24 put by this
                driver: each node holds three times its store, so both
                spill; this driver reads the first 24 twice (pulled from
                the other node's spill files, its own copies evicted and
                pulled again) and tasks on the last node checksum the
                second 24 (pulled from this node's spill files): every
                byte matches
      big       (only when asked for, with stores of 6 GiB) a 5 GiB object
                (over LMDB's 4 GiB value: stored in parts) put by this
                driver is read whole by a task on the last node, which
                pulls it over TCP: the sums of its words match
      code      a library that exists only on this driver's host until
                it is deleted runs on two other nodes: its code travels
                through the head as a package, not a shared file system

    Every wait has a timeout (T_TIMEOUT_MS).
*/
#include <pdc.h>

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T_TIMEOUT_MS  60000
#define MAX_NODES     16
#define SPREAD_TASKS  400
#define SPREAD_SLACK  0.15
#define OBJECT_BYTES  ((int64_t) 100 << 20)
#define ORDERED_CALLS 10000

typedef struct {
    char id[MAX_NODES][64];
    int n;
} node_list_t;

static pdc_client *g_c;
static const char *g_lib;
static node_list_t g_nodes, g_edge;
static char g_gpu[64], g_dead[64], g_small[64];
static int g_passed, g_failed;

static uint64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void s_result(int ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s: ", ok ? "ok" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    ok ? g_passed++ : g_failed++;
}

static void s_parse_list(const char *text, node_list_t *out) {
    out->n = 0;
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", text);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && out->n < MAX_NODES;
         tok = strtok_r(NULL, ",", &save))
        snprintf(out->id[out->n++], sizeof out->id[0], "%s", tok);
}

static int s_in(const node_list_t *l, const char *id) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->id[i], id))
            return i;
    return -1;
}

/* The nodes of --nodes other than this driver's. */
static node_list_t s_other_nodes(void) {
    node_list_t others = {0};
    for (int k = 0; k < g_nodes.n; k++)
        if (strcmp(g_nodes.id[k], pdc_node_id(g_c)))
            snprintf(others.id[others.n++], sizeof others.id[0], "%s", g_nodes.id[k]);
    return others;
}

/* The string result of r into out; 0 or -1 with the error printed. */
static int s_get_str(pdc_ref r, char *out, size_t len) {
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    if (rc == PDC_OK && o.type == PDC_T_STR)
        snprintf(out, len, "%.*s", (int) o.size, (const char *) o.data);
    else
        snprintf(out, len, "<%s: %s>", pdc_status_name(rc), pdc_last_error(g_c));
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    return rc == PDC_OK ? 0 : -1;
}

/* Run n node() tasks with opts; check every one ran on a node of allowed. */
static int s_tasks_only_on(const pdc_opts *opts, int n, const node_list_t *allowed, char *bad,
                           size_t len) {
    pdc_fn node = pdc_function(g_c, g_lib, "sleep_node");
    pdc_ref refs[64];
    for (int i = 0; i < n; i++)
        refs[i] = pdc_call_opts(g_c, node, opts, PDC_I64(5));
    int ok = 1;
    for (int i = 0; i < n; i++) {
        char id[256];
        if (s_get_str(refs[i], id, sizeof id) || s_in(allowed, id) < 0) {
            if (ok)
                snprintf(bad, len, "task %d ran on %s", i, id);
            ok = 0;
        }
    }
    return ok;
}

/* An actor made with opts: the node it runs on, into out. */
static int s_actor_node(const pdc_actor_opts *opts, char *out, size_t len) {
    pdc_actor *a = pdc_actor_create(g_c, g_lib, "Counter", opts, PDC_I64(0));
    if (!a) {
        snprintf(out, len, "<create: %s>", pdc_last_error(g_c));
        return -1;
    }
    int rc = s_get_str(pdc_actor_call(g_c, a, "actor_node"), out, len);
    pdc_actor_kill(g_c, a);
    pdc_actor_release(g_c, a);
    return rc;
}

static void s_check_gpu(void) {
    node_list_t only = {.n = 1};
    snprintf(only.id[0], sizeof only.id[0], "%s", g_gpu);
    pdc_opts opts = {.resources = "GPU=1"};
    char bad[300] = "", where[256];
    int ok = s_tasks_only_on(&opts, 40, &only, bad, sizeof bad);
    s_result(ok, "40 GPU=1 tasks ran on the GPU node %s only%s%s", g_gpu, ok ? "" : ": ", bad);
    pdc_actor_opts aopts = {.resources = "GPU=1"};
    ok = s_actor_node(&aopts, where, sizeof where) == 0 && !strcmp(where, g_gpu);
    s_result(ok, "a GPU=1 actor was placed on the GPU node (it runs on %s)", where);
}

static void s_check_edge(void) {
    pdc_opts opts = {.label_selector = "tier=edge"};
    char bad[300] = "", where[256];
    int ok = s_tasks_only_on(&opts, 40, &g_edge, bad, sizeof bad);
    s_result(ok, "40 tier=edge tasks ran on edge nodes only%s%s", ok ? "" : ": ", bad);
    pdc_actor_opts aopts = {.label_selector = "tier=edge"};
    ok = s_actor_node(&aopts, where, sizeof where) == 0 && s_in(&g_edge, where) >= 0;
    s_result(ok, "a tier=edge actor was placed on an edge node (it runs on %s)", where);
    pdc_opts none = {.label_selector = "tier=moon"};
    pdc_ref r = pdc_call_opts(g_c, pdc_function(g_c, g_lib, "node"), &none);
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    ok = rc == PDC_EINFEASIBLE && o.type == PDC_T_ERROR && strstr(o.error.message, "tier=moon");
    s_result(ok, "a selector no node matches fails with PDC_EINFEASIBLE naming it (%s: %s)",
             pdc_status_name(rc), o.type == PDC_T_ERROR ? o.error.message : "no error");
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
}

static void s_check_spread(void) {
    pdc_opts opts = {.strategy = PDC_SCHED_SPREAD};
    pdc_fn node = pdc_function(g_c, g_lib, "sleep_node");
    static pdc_ref refs[SPREAD_TASKS];
    int count[MAX_NODES] = {0}, lost = 0;
    for (int i = 0; i < SPREAD_TASKS; i++)
        refs[i] = pdc_call_opts(g_c, node, &opts, PDC_I64(2));
    for (int i = 0; i < SPREAD_TASKS; i++) {
        char id[256];
        int k = s_get_str(refs[i], id, sizeof id) ? -1 : s_in(&g_nodes, id);
        if (k < 0)
            lost++;
        else
            count[k]++;
    }
    double even = (double) SPREAD_TASKS / g_nodes.n;
    int ok = lost == 0;
    char text[512];
    size_t at = 0;
    for (int k = 0; k < g_nodes.n; k++) {
        ok = ok && count[k] >= even * (1 - SPREAD_SLACK) && count[k] <= even * (1 + SPREAD_SLACK);
        at += (size_t) snprintf(text + at, sizeof text - at, "%s%s=%d", k ? ", " : "",
                                g_nodes.id[k], count[k]);
    }
    s_result(ok, "%d spread tasks, %.0f ± %.0f%% per node expected: %s (%d failed)", SPREAD_TASKS,
             even, SPREAD_SLACK * 100, text, lost);
}

static void s_check_affinity(void) {
    pdc_fn node = pdc_function(g_c, g_lib, "node");
    pdc_opts hard = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = g_dead};
    pdc_ref r = pdc_call_opts(g_c, node, &hard);
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    int ok = rc == PDC_EINFEASIBLE && o.type == PDC_T_ERROR && strstr(o.error.message, g_dead);
    s_result(ok, "hard affinity to the dead node %s fails with PDC_EINFEASIBLE naming it (%s: %s)",
             g_dead, pdc_status_name(rc), o.type == PDC_T_ERROR ? o.error.message : "no error");
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);

    pdc_opts soft = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = g_dead, .soft = 1};
    char where[256];
    ok = s_get_str(pdc_call_opts(g_c, node, &soft), where, sizeof where) == 0 &&
         s_in(&g_nodes, where) >= 0 && strcmp(where, g_dead);
    s_result(ok, "soft affinity to the dead node falls back to a live node (%s)", where);

    int all = 1;
    for (int k = 0; k < g_nodes.n; k++) {
        pdc_opts on = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = g_nodes.id[k]};
        if (s_get_str(pdc_call_opts(g_c, node, &on), where, sizeof where) ||
            strcmp(where, g_nodes.id[k]))
            all = 0;
    }
    s_result(all, "hard affinity to each live node runs there");
}

static int64_t s_fnv1a(const void *data, size_t size) {
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return (int64_t) h;
}

static void s_check_object(void) {
    const char *maker = g_nodes.id[g_nodes.n - 1], *reader = g_nodes.id[g_nodes.n - 2];
    unsigned char *expected = malloc((size_t) OBJECT_BYTES);
    if (!expected) {
        s_result(0, "out of memory for the 100 MiB check");
        return;
    }
    for (int64_t i = 0; i < OBJECT_BYTES; i++)
        expected[i] = (unsigned char) ((i * 31 + 7) & 0xff);
    int64_t want = s_fnv1a(expected, (size_t) OBJECT_BYTES);
    free(expected);

    pdc_opts on_maker = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = maker};
    pdc_opts on_reader = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = reader};
    pdc_ref big = pdc_call_opts(g_c, pdc_function(g_c, g_lib, "make_bytes"), &on_maker,
                                PDC_I64(OBJECT_BYTES), PDC_I64(7));
    pdc_ref sum =
        pdc_call_opts(g_c, pdc_function(g_c, g_lib, "checksum"), &on_reader, PDC_REF(big));
    int64_t got = 0;
    int rc = pdc_get_i64(g_c, sum, &got, T_TIMEOUT_MS);
    s_result(rc == PDC_OK && got == want,
             "a 100 MiB object made on %s and read by a task on %s: checksum %016llx, expected "
             "%016llx (%s)",
             maker, reader, (unsigned long long) got, (unsigned long long) want,
             rc == PDC_OK ? "ok" : pdc_last_error(g_c));
    pdc_object o;
    rc = pdc_get(g_c, big, &o, T_TIMEOUT_MS);
    int ok = rc == PDC_OK && o.size == (size_t) OBJECT_BYTES && s_fnv1a(o.data, o.size) == want;
    s_result(ok, "the driver on %s reads the same 100 MiB object (%s)", pdc_node_id(g_c),
             rc == PDC_OK ? "checksum matches" : pdc_last_error(g_c));
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, sum);
    pdc_ref_release(g_c, big);

    /* One task, two 20 MiB arguments from two other nodes, pulled at once. */
    if (g_nodes.n >= 3) {
        const char *second = g_nodes.id[g_nodes.n - 3];
        pdc_opts on_second = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = second};
        pdc_fn make = pdc_function(g_c, g_lib, "make_bytes");
        pdc_ref a = pdc_call_opts(g_c, make, &on_maker, PDC_I64(20 << 20), PDC_I64(1));
        pdc_ref b = pdc_call_opts(g_c, make, &on_second, PDC_I64(20 << 20), PDC_I64(2));
        char got[512] = "", want_text[512];
        int64_t sums[2];
        unsigned char *buf = malloc((size_t) 20 << 20);
        for (int k = 0; k < 2 && buf; k++) {
            for (int64_t i = 0; i < (20 << 20); i++)
                buf[i] = (unsigned char) ((i * 31 + k + 1) & 0xff);
            sums[k] = s_fnv1a(buf, (size_t) 20 << 20);
        }
        free(buf);
        snprintf(want_text, sizeof want_text, "b:%d:%lld b:%d:%lld", 20 << 20, (long long) sums[0],
                 20 << 20, (long long) sums[1]);
        s_get_str(pdc_call_opts(g_c, pdc_function(g_c, g_lib, "describe"), &on_reader, PDC_REF(a),
                                PDC_REF(b)),
                  got, sizeof got);
        s_result(!strcmp(got, want_text), "a task on %s read 20 MiB arguments from %s and %s (%s)",
                 reader, maker, second, got);
        pdc_ref_release(g_c, a);
        pdc_ref_release(g_c, b);
    }

    /* Locality: the default strategy sends a task to its argument. */
    pdc_ref mid = pdc_call_opts(g_c, pdc_function(g_c, g_lib, "make_bytes"), &on_maker,
                                PDC_I64(20 << 20), PDC_I64(1));
    uint8_t done = 0;
    pdc_wait(g_c, &mid, 1, 1, T_TIMEOUT_MS, &done);
    /* The lease that made it goes back and the next view shows room there
       (lease_idle_ms, then a heartbeat). */
    usleep(300 * 1000);
    char where[256] = "";
    pdc_ref r = pdc_call(g_c, pdc_function(g_c, g_lib, "node_of_arg"), PDC_REF(mid));
    s_get_str(r, where, sizeof where);
    s_result(!strcmp(where, maker),
             "a default-strategy task with a 20 MiB argument on %s ran there (%s)", maker, where);
    pdc_ref_release(g_c, mid);
}

static void s_check_actors(void) {
    enum { ACTORS = 3 };
    pdc_actor *a[ACTORS] = {0};
    char where[ACTORS][256];
    int placed = 1;
    for (int i = 0; i < ACTORS; i++) {
        /* On the nodes that are not the driver's, in turn. */
        node_list_t others = s_other_nodes();
        const char *target = others.n ? others.id[i % others.n] : NULL;
        pdc_actor_opts opts = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = target};
        a[i] = target ? pdc_actor_create(g_c, g_lib, "Counter", &opts, PDC_I64(0)) : NULL;
        if (!a[i] ||
            s_get_str(pdc_actor_call(g_c, a[i], "actor_node"), where[i], sizeof where[i]) ||
            !strcmp(where[i], pdc_node_id(g_c)))
            placed = 0;
    }
    s_result(placed, "%d actors placed on nodes other than the driver's %s: %s, %s, %s", ACTORS,
             pdc_node_id(g_c), where[0], where[1], where[2]);
    static pdc_ref refs[ORDERED_CALLS];
    for (int i = 0; i < ORDERED_CALLS && placed; i++)
        refs[i] =
            pdc_actor_call(g_c, a[i % ACTORS], "check_order", PDC_I64(0), PDC_I64(i / ACTORS + 1));
    int in_order = placed;
    for (int i = 0; i < ORDERED_CALLS && placed; i++) {
        int64_t v = -1;
        if (pdc_get_i64(g_c, refs[i], &v, T_TIMEOUT_MS) != PDC_OK || v != i / ACTORS + 1) {
            if (in_order)
                printf("    call %d: %lld (%s)\n", i, (long long) v, pdc_last_error(g_c));
            in_order = 0;
        }
        pdc_ref_release(g_c, refs[i]);
    }
    s_result(in_order, "%d calls from this driver to the remote actors ran in submission order",
             ORDERED_CALLS);

    /* A named actor on one node, found by name from a task on another. */
    node_list_t others = s_other_nodes();
    pdc_actor_opts named = {.name = "cluster-check-counter",
                            .strategy = PDC_SCHED_NODE_AFFINITY,
                            .node_id = others.id[0]};
    pdc_actor *n = pdc_actor_create(g_c, g_lib, "Counter", &named, PDC_I64(100));
    pdc_opts elsewhere = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = others.id[others.n - 1]};
    int64_t v = 0;
    int rc = n ? pdc_actor_ready(g_c, n, T_TIMEOUT_MS) : PDC_EINVAL;
    if (rc == PDC_OK) {
        pdc_ref r = pdc_call_opts(g_c, pdc_function(g_c, g_lib, "incr_named"), &elsewhere,
                                  PDC_STR("cluster-check-counter"), PDC_I64(5));
        rc = pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS);
        pdc_ref_release(g_c, r);
    }
    s_result(rc == PDC_OK && v == 105,
             "a task on %s found the named actor on %s by name and called it (%lld%s%s)",
             others.id[others.n - 1], others.id[0], (long long) v, rc == PDC_OK ? "" : ": ",
             rc == PDC_OK ? "" : pdc_last_error(g_c));
    if (n) {
        pdc_actor_kill(g_c, n);
        pdc_actor_release(g_c, n);
    }
    for (int i = 0; i < ACTORS; i++)
        if (a[i]) {
            pdc_actor_kill(g_c, a[i]);
            pdc_actor_release(g_c, a[i]);
        }
}

static void s_check_full(void) {
    if (!*g_small) {
        s_result(0, "full: no --small-node given");
        return;
    }
    const char *maker = g_nodes.id[g_nodes.n - 1];
    pdc_opts on_maker = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = maker};
    pdc_opts on_small = {
        .strategy = PDC_SCHED_NODE_AFFINITY, .node_id = g_small, .max_retries = -1};
    pdc_ref big = pdc_call_opts(g_c, pdc_function(g_c, g_lib, "make_bytes"), &on_maker,
                                PDC_I64(OBJECT_BYTES), PDC_I64(3));
    pdc_ref sum = pdc_call_opts(g_c, pdc_function(g_c, g_lib, "checksum"), &on_small, PDC_REF(big));
    pdc_object o;
    int rc = pdc_get(g_c, sum, &o, T_TIMEOUT_MS);
    int ok = rc == PDC_ESTOREFULL && o.type == PDC_T_ERROR && strstr(o.error.message, "no room");
    s_result(ok, "a 100 MiB argument for a node whose store is smaller is refused (%s: %s)",
             pdc_status_name(rc), o.type == PDC_T_ERROR ? o.error.message : "no error");
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, sum);
    pdc_ref_release(g_c, big);
}

static void s_check_code(void) {
    char copy[128], cmd[PATH_MAX + 300];
    snprintf(copy, sizeof copy, "/tmp/pdc-code-check-%d.so", (int) getpid());
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", g_lib, copy);
    node_list_t others = s_other_nodes();
    if (others.n < 2 || system(cmd) != 0) {
        s_result(0, "code: needs two other nodes and a copy of the library (%s)", cmd);
        return;
    }
    pdc_fn node = pdc_function(g_c, copy, "node");
    char where[2][256];
    pdc_opts first = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = others.id[0]};
    int ok = s_get_str(pdc_call_opts(g_c, node, &first), where[0], sizeof where[0]) == 0 &&
             !strcmp(where[0], others.id[0]);
    unlink(copy);
    pdc_opts second = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = others.id[1]};
    ok = ok && s_get_str(pdc_call_opts(g_c, node, &second), where[1], sizeof where[1]) == 0 &&
         !strcmp(where[1], others.id[1]);
    s_result(
        ok,
        "a library deleted from its path after its first remote use still runs on %s and then %s "
        "(%s, %s): code packages, no shared files",
        others.id[0], others.id[1], where[0], where[1]);
}

static void s_hold(void) {
    pdc_actor_opts opts = {.strategy = PDC_SCHED_NODE_AFFINITY,
                           .node_id = g_nodes.id[g_nodes.n - 1]};
    pdc_actor *a = pdc_actor_create(g_c, g_lib, "Counter", &opts, PDC_I64(0));
    int rc = a ? pdc_actor_ready(g_c, a, T_TIMEOUT_MS) : PDC_EINVAL;
    s_result(rc == PDC_OK, "an actor placed on %s (%s)", g_nodes.id[g_nodes.n - 1],
             pdc_status_name(rc));
    printf("holding\n");
    fflush(stdout);
    sleep(120);
}

static void s_survive(void) {
    enum { N = 60 };
    pdc_opts opts = {.strategy = PDC_SCHED_SPREAD};
    pdc_fn fn = pdc_function(g_c, g_lib, "sleep_node");
    pdc_ref refs[N];
    for (int i = 0; i < N; i++)
        refs[i] = pdc_call_opts(g_c, fn, &opts, PDC_I64(300));
    printf("submitted\n");
    fflush(stdout);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        char where[256];
        if (s_get_str(refs[i], where, sizeof where) == 0 && s_in(&g_nodes, where) >= 0)
            ok++;
        else
            printf("    task %d: %s\n", i, where);
    }
    s_result(ok == N, "%d of %d spread tasks ended with their result while a node was killed", ok,
             N);
}

/* Whether node id is alive in this driver's view. */
static int s_node_alive(const char *id) {
    pdc_node_info nodes[MAX_NODES];
    int n = pdc_nodes(g_c, nodes, MAX_NODES, 5000);
    for (int i = 0; i < n && i < MAX_NODES; i++)
        if (!strcmp(nodes[i].id, id))
            return nodes[i].alive;
    return 0;
}

/* The bytes make_bytes(n, seed) returns. */
static void s_make_bytes_like(unsigned char *p, size_t n, int64_t seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char) (((int64_t) i * 31 + seed) & 0xff);
}

static void s_spill(void) {
    enum { N = 24 };
    const size_t size = (size_t) 8 << 20;
    const char *far = g_nodes.id[g_nodes.n - 1];
    pdc_opts on_far = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = far};
    pdc_fn make = pdc_function(g_c, g_lib, "make_bytes"),
           sum = pdc_function(g_c, g_lib, "checksum");
    pdc_ref made[N], put[N], sums[N];
    unsigned char *want = malloc(size);
    if (!want) {
        s_result(0, "out of memory for the spill check");
        return;
    }
    for (int i = 0; i < N; i++)
        made[i] = pdc_call_opts(g_c, make, &on_far, PDC_I64((int64_t) size), PDC_I64(i));
    int bad = 0, rc = PDC_OK;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            pdc_object o;
            rc = pdc_get(g_c, made[i], &o, T_TIMEOUT_MS);
            s_make_bytes_like(want, size, i);
            if (rc != PDC_OK || o.size != size || memcmp(o.data, want, size)) {
                if (!bad++)
                    s_result(0, "object %d made on %s (round %d): %s", i, far, round + 1,
                             rc == PDC_OK ? "wrong bytes" : pdc_last_error(g_c));
            }
            pdc_object_release(g_c, &o);
        }
    if (!bad)
        s_result(1, "%d objects of 8 MiB made on %s, 3x its store, read here twice", N, far);
    bad = 0;
    for (int i = 0; i < N; i++) {
        s_make_bytes_like(want, size, 100 + i);
        int status;
        put[i] = pdc_put(g_c, PDC_BYTES(want, size), &status);
        if (status != PDC_OK && !bad++)
            s_result(0, "put %d of 8 MiB here: %s", i, pdc_last_error(g_c));
        sums[i] = pdc_call_opts(g_c, sum, &on_far, PDC_REF(put[i]));
    }
    for (int i = 0; i < N && !bad; i++) {
        int64_t got = 0;
        rc = pdc_get_i64(g_c, sums[i], &got, T_TIMEOUT_MS);
        s_make_bytes_like(want, size, 100 + i);
        if (rc != PDC_OK || got != s_fnv1a(want, size)) {
            bad++;
            s_result(0, "a task on %s read put %d: %s", far, i,
                     rc == PDC_OK ? "wrong checksum" : pdc_last_error(g_c));
        }
    }
    if (!bad)
        s_result(1, "%d objects of 8 MiB put here, 3x this store, checksummed on %s", N, far);
    for (int i = 0; i < N; i++) {
        pdc_ref_release(g_c, made[i]);
        pdc_ref_release(g_c, put[i]);
        pdc_ref_release(g_c, sums[i]);
    }
    free(want);
}

/* The word j of the big object. */
static uint64_t s_big_word(size_t j) {
    return j * 0x9e3779b97f4a7c15ull + 1;
}

static void s_big(void) {
    const size_t size = (size_t) 5 << 30;
    const char *far = g_nodes.id[g_nodes.n - 1];
    pdc_opts on_far = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = far};
    void *res;
    uint64_t *w = pdc_put_reserve(g_c, size, &res);
    if (!w) {
        s_result(0, "pdc_put_reserve of 5 GiB: %s", pdc_last_error(g_c));
        return;
    }
    uint64_t want = 0;
    for (size_t j = 0; j < size / 8; j++)
        want += w[j] = s_big_word(j);
    int status;
    pdc_ref big = pdc_put_commit(g_c, &res, &status);
    if (status != PDC_OK) {
        s_result(0, "pdc_put_commit of 5 GiB: %s", pdc_last_error(g_c));
        return;
    }
    double t0 = (double) s_now_ms();
    pdc_ref sum = pdc_call_opts(g_c, pdc_function(g_c, g_lib, "sum_words"), &on_far, PDC_REF(big));
    int64_t got = 0;
    int rc = pdc_get_i64(g_c, sum, &got, 5 * T_TIMEOUT_MS);
    double secs = ((double) s_now_ms() - t0) / 1000;
    s_result(rc == PDC_OK && (uint64_t) got == want,
             "a 5 GiB object put here was read whole by a task on %s (%.1f s with the pull)%s%s",
             far, secs, rc == PDC_OK ? (uint64_t) got == want ? "" : ": wrong sum" : ": ",
             rc == PDC_OK ? "" : pdc_last_error(g_c));
    pdc_ref_release(g_c, sum);
    pdc_ref_release(g_c, big);
}

static void s_partition(void) {
    enum { N = 40 };
    pdc_opts spread = {.strategy = PDC_SCHED_SPREAD};
    pdc_opts pinned = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = g_dead};
    pdc_fn fn = pdc_function(g_c, g_lib, "sleep_node");
    pdc_ref refs[N + 1];
    for (int i = 0; i < N; i++)
        refs[i] = pdc_call_opts(g_c, fn, &spread, PDC_I64(2000));
    refs[N] = pdc_call_opts(g_c, fn, &pinned, PDC_I64(2000));
    printf("submitted\n");
    fflush(stdout);
    int answered = 0, results = 0, hung = 0;
    for (int i = 0; i <= N; i++) {
        pdc_object o;
        int rc = pdc_get(g_c, refs[i], &o, T_TIMEOUT_MS);
        if (rc == PDC_ETIMEOUT) {
            hung++;
            printf("    task %d: no answer within %d ms\n", i, T_TIMEOUT_MS);
        } else {
            answered++;
            results += rc == PDC_OK;
            if (rc != PDC_OK)
                printf("    task %d: %s: %s\n", i, pdc_status_name(rc),
                       o.type == PDC_T_ERROR ? o.error.message : "");
        }
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, refs[i]);
    }
    s_result(!hung, "%d of %d tasks answered across the partition (%d with their result), %d hung",
             answered, N + 1, results, hung);
    int alive = 0;
    for (int i = 0; i < 300 && !(alive = s_node_alive(g_dead)); i++)
        usleep(100000);
    s_result(alive, "node %s is alive again in this driver's view", g_dead);
    char where[256] = "";
    int rc = s_get_str(pdc_call_opts(g_c, fn, &pinned, PDC_I64(10)), where, sizeof where);
    s_result(rc == 0 && !strcmp(where, g_dead), "a task pinned to the rejoined node ran there (%s)",
             where);
    pdc_actor_opts on = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = g_dead};
    char node[256] = "";
    rc = s_actor_node(&on, node, sizeof node);
    s_result(rc == 0 && !strcmp(node, g_dead), "an actor placed on the rejoined node answers (%s)",
             node);
}

static void s_usage(FILE *out) {
    fprintf(out,
            "usage: cluster_check --lib LIB --nodes A,B,... --gpu-node ID --edge-nodes ID,...\n"
            "                     --dead-node ID --small-node ID\n"
            "                     [--only gpu,edge,spread,affinity,object,actors,code,full]\n"
            "Runs the multi-node checks against the cluster of PDC_ADDRESS (see the source).\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"lib", required_argument, 0, 'l'},
                                         {"nodes", required_argument, 0, 'n'},
                                         {"gpu-node", required_argument, 0, 'g'},
                                         {"edge-nodes", required_argument, 0, 'e'},
                                         {"dead-node", required_argument, 0, 'd'},
                                         {"small-node", required_argument, 0, 's'},
                                         {"only", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *only = "gpu,edge,spread,affinity,object,actors,code,full";
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            g_lib = optarg;
            break;
        case 'n':
            s_parse_list(optarg, &g_nodes);
            break;
        case 'g':
            snprintf(g_gpu, sizeof g_gpu, "%s", optarg);
            break;
        case 'e':
            s_parse_list(optarg, &g_edge);
            break;
        case 'd':
            snprintf(g_dead, sizeof g_dead, "%s", optarg);
            break;
        case 's':
            snprintf(g_small, sizeof g_small, "%s", optarg);
            break;
        case 'o':
            only = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (!g_lib || g_nodes.n < 2) {
        s_usage(stderr);
        return 2;
    }
    g_c = pdc_init(NULL);
    if (!g_c) {
        printf("FAIL: cannot join the cluster at %s\ncluster: 0 passed, 1 failed\n",
               getenv("PDC_ADDRESS"));
        return 1;
    }
    struct {
        const char *name;
        void (*fn)(void);
    } checks[] = {{"gpu", s_check_gpu},
                  {"edge", s_check_edge},
                  {"spread", s_check_spread},
                  {"affinity", s_check_affinity},
                  {"object", s_check_object},
                  {"actors", s_check_actors},
                  {"code", s_check_code},
                  {"full", s_check_full},
                  {"hold", s_hold},
                  {"survive", s_survive},
                  {"partition", s_partition},
                  {"spill", s_spill},
                  {"big", s_big}};
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        char pattern[64];
        snprintf(pattern, sizeof pattern, ",%s,", checks[i].name);
        char list[512];
        snprintf(list, sizeof list, ",%s,", only);
        if (strstr(list, pattern))
            checks[i].fn();
    }
    pdc_shutdown(&g_c);
    printf("cluster: %d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
