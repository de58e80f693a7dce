/*  test_replicas: replicated puts on a three-node loopback cluster
    started with `pdc start` (a head node A, where the driver joins, and
    nodes B and C).  A put with replicas=2 has a copy on A and on one other
    node R; R's raylet is killed with SIGKILL and the owner makes a copy
    on the last node S; then A's own copy is deleted from its store (as an
    eviction would, by a child process), and a get still returns the
    bytes, from S.  Without replication the get fails with
    PDC_EOBJECTLOST.  Each test uses its own PDC_SESSION_ROOT and port;
    pdc stop removes everything at the end. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "pdc_store.h"
#pragma GCC diagnostic pop
#include <pdc.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T_TIMEOUT_MS 30000
#define SIZE         (300 * 1024) /* over inline_max: the store */

typedef struct {
    char id[64], dir[PATH_MAX], store[PATH_MAX];
    int head;
} node_t;

static char g_root[PATH_MAX], g_pdc[PATH_MAX];
static pdc_client *g_c;
static node_t g_nodes[3];

static int s_pdc(const char *args) {
    char cmd[PATH_MAX * 2], out[8192];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", g_pdc, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "cannot run %s", cmd);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (rc)
        cr_log_error("pdc %s: %s", args, out);
    return rc;
}

static void s_read(const char *dir, const char *name, char *out, size_t len) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    out[0] = '\0';
    if (f && fgets(out, (int) len, f))
        out[strcspn(out, "\n")] = '\0';
    if (f)
        fclose(f);
}

/* The three nodes' directories (node-DATE-ID), ids and stores. */
static void s_find_nodes(void) {
    DIR *d = opendir(g_root);
    cr_assert(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "node-", 5) && n < 3) {
            node_t *x = &g_nodes[n++];
            snprintf(x->dir, sizeof x->dir, "%s/%s", g_root, e->d_name);
            snprintf(x->id, sizeof x->id, "%s", strrchr(e->d_name, '-') + 1);
            s_read(x->dir, "store.path", x->store, sizeof x->store);
            char pid[32];
            s_read(x->dir, "head.pid", pid, sizeof pid);
            x->head = *pid != '\0';
        }
    closedir(d);
    cr_assert_eq(n, 3, "the cluster has %d node directories", n);
    /* The head first. */
    for (int i = 1; i < 3; i++)
        if (g_nodes[i].head) {
            node_t t = g_nodes[0];
            g_nodes[0] = g_nodes[i];
            g_nodes[i] = t;
        }
    cr_assert(g_nodes[0].head, "no head node");
}

static void s_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void s_setup(void) {
    const char *bin = getenv("PDC_BIN_DIR");
    cr_assert(bin, "PDC_BIN_DIR is not set: run the tests through meson test");
    snprintf(g_pdc, sizeof g_pdc, "%s/pdc", bin);
    snprintf(g_root, sizeof g_root, "/tmp/pdc-test/replicas-%d", (int) getpid());
    mkdir("/tmp/pdc-test", 0777);
    mkdir(g_root, 0700);
    setenv("PDC_SESSION_ROOT", g_root, 1);
    unsetenv("PDC_ADDRESS");
    int port = 20000 + (int) ((getpid() * 7) % 20000);
    char args[256], address[64];
    snprintf(address, sizeof address, "tcp://127.0.0.1:%d", port);
    snprintf(args, sizeof args, "start --head --port %d --num-cpus 1", port);
    cr_assert_eq(s_pdc(args), 0, "pdc start --head failed");
    snprintf(args, sizeof args, "start --address %s --num-cpus 1", address);
    cr_assert_eq(s_pdc(args), 0, "pdc start of node B failed");
    cr_assert_eq(s_pdc(args), 0, "pdc start of node C failed");
    s_find_nodes();
    setenv("PDC_NODE_ID", g_nodes[0].id, 1); /* the driver joins A */
    g_c = pdc_init(address);
    cr_assert(g_c, "pdc_init(%s) failed", address);
    cr_assert_str_eq(pdc_node_id(g_c), g_nodes[0].id);
    /* The head lists all three (a node whose view does not know A yet
       refuses to copy from it; the owner asks again a little later). */
    pdc_node_info info[4];
    int alive = 0;
    for (int waited = 0; waited < T_TIMEOUT_MS && alive < 3; waited += 100) {
        int n = pdc_nodes(g_c, info, 4, T_TIMEOUT_MS);
        alive = 0;
        for (int i = 0; i < n && i < 4; i++)
            alive += info[i].alive;
        if (alive < 3)
            s_sleep_ms(100);
    }
    cr_assert_eq(alive, 3, "the head lists %d live nodes", alive);
}

static void s_teardown(void) {
    pdc_shutdown(&g_c);
    s_pdc("stop");
    rmdir(g_root);
}

TestSuite(replicas, .init = s_setup, .fini = s_teardown, .timeout = 120);

/* Store work happens in a fresh process: this program run again with
   PDC_TEST_STORE="count DIR" (exit status: the object count, 255 on
   failure) or "delete DIR HEX" (0, 2 not found, 1 failure), done before
   criterion starts: LMDB forbids a second environment of a store in one
   process, and a fresh one inherits none of this one's state. */
__attribute__((constructor)) static void s_store_helper(void) {
    const char *job = getenv("PDC_TEST_STORE");
    char what[16], dir[PATH_MAX], hex[33] = "", err[512];
    if (!job)
        return;
    if (sscanf(job, "%15s %4095s %32s", what, dir, hex) < 2)
        _exit(255);
    pdc_store_t *s = pdc_store_open(dir, err, sizeof err);
    int rc = 255;
    if (s && !strcmp(what, "count")) {
        pdc_store_usage_t u;
        rc = pdc_store_usage(s, &u) == 0 && u.objects < 255 ? (int) u.objects : 255;
    } else if (s && strlen(hex) == 32) {
        uint8_t id[16];
        for (int i = 0; i < 16; i++) {
            unsigned byte = 0;
            sscanf(hex + 2 * i, "%2x", &byte);
            id[i] = (uint8_t) byte;
        }
        int d = pdc_store_delete(s, id);
        rc = d == PDC_OK ? 0 : d == PDC_ENOTFOUND ? 2 : 1;
    }
    pdc_store_destroy(&s);
    _exit(rc);
}

static int s_store_job(const char *job) {
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        setenv("PDC_TEST_STORE", job, 1);
        execl("/proc/self/exe", "test_replicas", (char *) NULL);
        _exit(255);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* Objects in node n's store, or -1 if it cannot be read. */
static long s_objects(const node_t *n) {
    char job[PATH_MAX + 16];
    snprintf(job, sizeof job, "count %s", n->store);
    int rc = s_store_job(job);
    return rc == 255 ? -1 : rc;
}

static void s_delete(const node_t *n, pdc_ref r) {
    char job[PATH_MAX + 64], hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", r.id[i]);
    snprintf(job, sizeof job, "delete %s %s", n->store, hex);
    int rc = s_store_job(job);
    cr_assert_eq(rc, 0, "cannot delete object %s from %s (%d)", hex, n->store, rc);
}

static void s_kill_raylet(const node_t *n) {
    char pid[32];
    s_read(n->dir, "raylet.pid", pid, sizeof pid);
    cr_assert(atoi(pid) > 0, "no raylet.pid in %s", n->dir);
    cr_assert_eq(kill(atoi(pid), SIGKILL), 0);
}

static pdc_ref s_put_pattern(int replicas, unsigned char *data) {
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (unsigned char) (i * 7 + 1);
    pdc_put_options opts = {.replicas = replicas};
    int status = -999;
    pdc_ref r = pdc_put_opts(g_c, PDC_BYTES(data, SIZE), &opts, &status);
    cr_assert_eq(status, PDC_OK, "pdc_put_opts: %s", pdc_last_error(g_c));
    return r;
}

Test(replicas, a_copy_lost_with_its_node_is_made_again_and_serves_when_the_first_is_lost) {
    static unsigned char data[SIZE];
    pdc_ref r = s_put_pattern(2, data);
    cr_assert_eq(s_objects(&g_nodes[0]), 1, "node A does not hold the put");
    long b = s_objects(&g_nodes[1]), c = s_objects(&g_nodes[2]);
    cr_assert_eq(b + c, 1, "B holds %ld objects and C %ld: expected one copy between them", b, c);
    const node_t *holder = b ? &g_nodes[1] : &g_nodes[2], *spare = b ? &g_nodes[2] : &g_nodes[1];
    s_kill_raylet(holder);
    long copies = 0;
    for (int waited = 0; waited < T_TIMEOUT_MS && copies != 1; waited += 100) {
        s_sleep_ms(100);
        copies = s_objects(spare);
    }
    cr_assert_eq(copies, 1, "no copy was made on node %s after node %s died", spare->id,
                 holder->id);
    /* This node's copy goes: the one on the spare node serves. */
    s_delete(&g_nodes[0], r);
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "pdc_get: %s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    cr_assert(o.size == SIZE && !memcmp(o.data, data, SIZE), "the bytes differ");
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
}

Test(replicas, a_put_without_replicas_is_lost_with_its_only_copy) {
    static unsigned char data[SIZE];
    pdc_ref r = s_put_pattern(0, data);
    cr_assert_eq(s_objects(&g_nodes[1]) + s_objects(&g_nodes[2]), 0, "a copy went elsewhere");
    s_delete(&g_nodes[0], r);
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_EOBJECTLOST, "pdc_get: %s", pdc_status_name(rc));
    cr_assert(strstr(o.error.message, "replicas"), "the error says: %s", o.error.message);
    pdc_object_release(g_c, &o);
    pdc_put_options bad = {.replicas = PDC_PUT_MAX_REPLICAS + 1};
    int status = 0;
    pdc_ref e = pdc_put_opts(g_c, PDC_BYTES(data, SIZE), &bad, &status);
    cr_assert_eq(status, PDC_EINVAL);
    cr_assert(strstr(pdc_last_error(g_c), "replicas"), "%s", pdc_last_error(g_c));
    pdc_ref_release(g_c, e);
    pdc_ref_release(g_c, r);
}
