/*  test_cleanup: what an embedded cluster leaves behind: nothing.

    After pdc_shutdown no pdc-head, pdc-raylet or pdc-worker of the
    session runs, and its sockets, session directory and /dev/shm store
    are gone.  When the driver is killed with SIGKILL (a forked child that
    started a cluster and reported its session through a pipe), its
    daemons stop by themselves within DAEMON_EXIT_MS, and the next
    pdc_init(NULL) sweeps what is left; that sweep also copes with daemons
    that were SIGKILLed before they could clean up, and with daemons that
    hang (stopped with SIGSTOP).

    Each test uses a private session root under PDC_SESSION_ROOT, so that
    tests of other suites running at the same time neither see nor sweep
    its sessions, and removes it at the end.  The test process makes
    itself a child subreaper, so that the daemons of a killed child are
    reparented to it and can be reaped (a zombie counts as gone).
*/
#include <pdc.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Not in pdc.h: libpdc's sweep of sessions whose driver died. */
void pdc_embed_clean_stale(void);

#define WAIT_MS 10000
/* How long daemons of a dead driver may take to stop by themselves (they
   get SIGTERM through PR_SET_PDEATHSIG and poll the owner pid). */
#define DAEMON_EXIT_MS 5000
#define MAX_PIDS       64

static const char *g_lib;
static char g_root[512];

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

static void s_reap_all(void) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static void s_setup(void) {
    g_lib = getenv("PDC_TEST_LIB");
    cr_assert(g_lib, "PDC_TEST_LIB is not set (run through meson test)");
    const char *base = getenv("PDC_SESSION_ROOT");
    if (!base || !*base)
        base = "/tmp/pdc";
    mkdir(base, 0777);
    snprintf(g_root, sizeof g_root, "%s/cleanup-%d", base, (int) getpid());
    cr_assert(mkdir(g_root, 0700) == 0 || errno == EEXIST, "mkdir %s", g_root);
    setenv("PDC_SESSION_ROOT", g_root, 1);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
}

static void s_teardown(void) {
    pdc_embed_clean_stale();
    s_reap_all();
    if (*g_root)
        nftw(g_root, s_rm, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(cleanup, .init = s_setup, .fini = s_teardown, .timeout = 120);

/* In the runner: sweep the private roots of test processes that died. */
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
    (void) stats;
    const char *base = getenv("PDC_SESSION_ROOT");
    char pattern[600];
    snprintf(pattern, sizeof pattern, "%s/cleanup-*", base && *base ? base : "/tmp/pdc");
    glob_t g;
    if (glob(pattern, 0, NULL, &g))
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *dash = strrchr(g.gl_pathv[i], '-');
        pid_t pid = dash ? (pid_t) atoi(dash + 1) : 0;
        if (pid > 0 && !(kill(pid, 0) && errno == ESRCH))
            continue;
        setenv("PDC_SESSION_ROOT", g.gl_pathv[i], 1);
        pdc_embed_clean_stale();
        nftw(g.gl_pathv[i], s_rm, 8, FTW_DEPTH | FTW_PHYS);
    }
    globfree(&g);
}

/* ---- Processes and files ---------------------------------------------- */

/* Whether pid runs one of pdc's programs (not exited, not a zombie, and
   not a recycled pid running something else). */
static int s_pdc_running(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close || close[1] != ' ')
        return 0;
    char state = close[2];
    return state != 'Z' && state != 'X' && !strncmp(open + 1, "pdc-", 4);
}

static pid_t s_ppid(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *close = strrchr(buf, ')');
    char state;
    int ppid;
    if (!close || sscanf(close + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return (pid_t) ppid;
}

/* The children of parent (a raylet's workers). */
static int s_children(pid_t parent, pid_t *out, int max) {
    DIR *d = opendir("/proc");
    cr_assert(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (!isdigit((unsigned char) e->d_name[0]))
            continue;
        pid_t pid = (pid_t) atoi(e->d_name);
        if (s_ppid(pid) == parent && s_pdc_running(pid))
            out[n++] = pid;
    }
    closedir(d);
    return n;
}

/* Wait up to ms for every pid to stop running; reaps what is ours. */
static int s_all_gone(const pid_t *pids, int n, int ms) {
    for (int waited = 0;; waited += 10) {
        s_reap_all();
        int running = 0;
        for (int i = 0; i < n; i++)
            running += s_pdc_running(pids[i]);
        if (!running)
            return 1;
        if (waited >= ms)
            return 0;
        usleep(10000);
    }
}

static int s_exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static void s_read(const char *dir, const char *name, char *out, size_t len) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert(f, "cannot read %s", path);
    size_t n = fread(out, 1, len - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
}

static pid_t s_read_pid(const char *dir, const char *name) {
    char text[64];
    s_read(dir, name, text, sizeof text);
    pid_t pid = (pid_t) atoi(text);
    cr_assert_gt(pid, 0, "%s/%s holds no pid", dir, name);
    return pid;
}

/* The session directory of the cluster that process pid started, or ""
   (used in forked children too, so it does not assert). */
static int s_session_of(pid_t pid, char *out, size_t len) {
    char pattern[700];
    snprintf(pattern, sizeof pattern, "%s/session-*-%d-*", g_root, (int) pid);
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc == 1 ? 0 : -1;
    if (rc == 0)
        snprintf(out, len, "%s", g.gl_pathv[0]);
    if (rc == 0 || g.gl_pathc)
        globfree(&g);
    return rc;
}

/* What one cluster consists of. */
typedef struct {
    char session[4096];
    char store[4096];
    pid_t head, raylet;
    pid_t pids[MAX_PIDS]; /* head, raylet, workers */
    int npids;
} cluster_t;

static void s_add_pid(cluster_t *k, pid_t pid) {
    for (int i = 0; i < k->npids; i++)
        if (k->pids[i] == pid)
            return;
    cr_assert_lt(k->npids, MAX_PIDS);
    k->pids[k->npids++] = pid;
}

/* Read the session's pid files and store path; find the workers. */
static void s_describe(cluster_t *k, const char *session) {
    snprintf(k->session, sizeof k->session, "%s", session);
    k->npids = 0;
    k->head = s_read_pid(session, "head.pid");
    k->raylet = s_read_pid(session, "raylet.pid");
    s_read(session, "store.path", k->store, sizeof k->store);
    cr_assert(s_pdc_running(k->head), "the head %d does not run", (int) k->head);
    cr_assert(s_pdc_running(k->raylet), "the raylet %d does not run", (int) k->raylet);
    cr_assert(s_exists(k->store), "the store %s does not exist", k->store);
    s_add_pid(k, k->head);
    s_add_pid(k, k->raylet);
    pid_t workers[MAX_PIDS];
    int n = s_children(k->raylet, workers, MAX_PIDS - 2);
    for (int i = 0; i < n; i++)
        s_add_pid(k, workers[i]);
}

static void s_assert_no_process(const cluster_t *k, int ms) {
    cr_assert(s_all_gone(k->pids, k->npids, ms), "a process of %s still runs after %d ms",
              k->session, ms);
}

static void s_assert_no_trace(const cluster_t *k) {
    char path[4200];
    snprintf(path, sizeof path, "%s/raylet.sock", k->session);
    cr_assert(!s_exists(path), "%s is left", path);
    snprintf(path, sizeof path, "%s/head.sock", k->session);
    cr_assert(!s_exists(path), "%s is left", path);
    cr_assert(!s_exists(k->session), "the session directory %s is left", k->session);
    cr_assert(!s_exists(k->store), "the store %s is left", k->store);
}

/* pdc_init(NULL) in this process, and what its cluster consists of. */
static pdc_client *s_init_described(cluster_t *k) {
    pdc_client *c = pdc_init(NULL);
    cr_assert(c, "pdc_init(NULL) failed");
    char session[4096];
    cr_assert_eq(s_session_of(getpid(), session, sizeof session), 0);
    s_describe(k, session);
    return c;
}

/* ---- A driver in a child process -------------------------------------- */

/* Fork a driver that starts a cluster, runs a task, writes its session
   path and worker pid to a pipe, and waits to be killed. */
static pid_t s_fork_driver(cluster_t *k) {
    int fds[2];
    cr_assert_eq(pipe2(fds, O_CLOEXEC), 0); /* the daemons must not hold it */
    fflush(NULL);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        close(fds[0]);
        pdc_client *c = pdc_init(NULL);
        if (!c)
            _exit(3);
        char session[4096];
        if (s_session_of(getpid(), session, sizeof session))
            _exit(4);
        pdc_ref r = pdc_call_args(c, pdc_function(c, g_lib, "worker_pid"), NULL, NULL, 0);
        int64_t wpid = 0;
        if (pdc_get_i64(c, r, &wpid, WAIT_MS) != PDC_OK)
            _exit(5);
        dprintf(fds[1], "%s\n%lld\n", session, (long long) wpid);
        close(fds[1]);
        for (;;)
            pause();
    }
    close(fds[1]);
    char buf[8192];
    size_t n = 0;
    struct pollfd p = {fds[0], POLLIN, 0};
    /* Two lines, or the end when the child fails. */
    while (n < sizeof buf - 1 && poll(&p, 1, 2 * WAIT_MS) == 1) {
        ssize_t got = read(fds[0], buf + n, sizeof buf - 1 - n);
        if (got <= 0)
            break;
        n += (size_t) got;
        buf[n] = '\0';
        char *first = strchr(buf, '\n');
        if (first && strchr(first + 1, '\n'))
            break;
    }
    close(fds[0]);
    buf[n] = '\0';
    char *nl = strchr(buf, '\n');
    if (!nl) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        cr_assert_fail("the child driver did not report its session (got \"%s\")", buf);
    }
    *nl = '\0';
    s_describe(k, buf);
    pid_t wpid = (pid_t) atoll(nl + 1);
    cr_assert_gt(wpid, 0);
    cr_assert_eq(s_ppid(wpid), k->raylet, "the task ran in %d, not a worker of the raylet",
                 (int) wpid);
    s_add_pid(k, wpid);
    return child;
}

static void s_kill_driver(pid_t child) {
    cr_assert_eq(kill(child, SIGKILL), 0);
    cr_assert_eq(waitpid(child, NULL, 0), child);
}

/* A cluster in this process works and shuts down (the sweep ran). */
static void s_init_run_shutdown(void) {
    pdc_client *c = pdc_init(NULL);
    cr_assert(c, "pdc_init(NULL) failed");
    pdc_ref r = pdc_call(c, pdc_function(c, g_lib, "add"), PDC_I64(1), PDC_I64(2));
    int64_t v = 0;
    cr_assert_eq(pdc_get_i64(c, r, &v, WAIT_MS), PDC_OK, "%s", pdc_last_error(c));
    cr_assert_eq(v, 3);
    pdc_ref_release(c, r);
    pdc_shutdown(&c);
    cr_assert_null(c);
}

/* ---- Tests ------------------------------------------------------------ */

Test(cleanup, shutdown_leaves_no_process_socket_store_or_session) {
    cluster_t k;
    pdc_client *c = s_init_described(&k);
    /* Workers: the ones tasks ran in, and every child of the raylet. */
    pdc_fn f = pdc_function(c, g_lib, "worker_pid");
    pdc_ref r[16];
    for (int i = 0; i < 16; i++)
        r[i] = pdc_call_args(c, f, NULL, NULL, 0);
    for (int i = 0; i < 16; i++) {
        int64_t pid = 0;
        cr_assert_eq(pdc_get_i64(c, r[i], &pid, WAIT_MS), PDC_OK, "%s", pdc_last_error(c));
        cr_assert_eq(s_ppid((pid_t) pid), k.raylet, "task ran in %lld, not a worker",
                     (long long) pid);
        s_add_pid(&k, (pid_t) pid);
        pdc_ref_release(c, r[i]);
    }
    cr_assert_geq(k.npids, 3, "no worker found");
    char path[4200];
    snprintf(path, sizeof path, "%s/raylet.sock", k.session);
    cr_assert(s_exists(path));
    snprintf(path, sizeof path, "%s/head.sock", k.session);
    cr_assert(s_exists(path));
    /* A large object in the store, still referenced at shutdown. */
    size_t size = (size_t) 4 << 20;
    char *bytes = calloc(1, size);
    cr_assert(bytes);
    int status;
    pdc_put(c, PDC_BYTES(bytes, size), &status);
    free(bytes);
    cr_assert_eq(status, PDC_OK, "%s", pdc_last_error(c));

    pdc_shutdown(&c);
    cr_assert_null(c);
    s_assert_no_process(&k, 0); /* at once: shutdown waited for them */
    s_assert_no_trace(&k);
}

Test(cleanup, shutdown_with_a_task_running_leaves_nothing) {
    cluster_t k;
    pdc_client *c = s_init_described(&k);
    pdc_ref r = pdc_call_args(c, pdc_function(c, g_lib, "worker_pid"), NULL, NULL, 0);
    int64_t pid = 0;
    cr_assert_eq(pdc_get_i64(c, r, &pid, WAIT_MS), PDC_OK);
    s_add_pid(&k, (pid_t) pid);
    /* A task that runs for a while; shut down while it runs. */
    r = pdc_call(c, pdc_function(c, g_lib, "fail_after_ms"), PDC_I64(3000), PDC_STR("late"));
    usleep(200000);
    pdc_shutdown(&c);
    s_assert_no_process(&k, 0);
    s_assert_no_trace(&k);
}

Test(cleanup, killed_driver_daemons_stop_by_themselves) {
    cluster_t k;
    pid_t child = s_fork_driver(&k);
    s_kill_driver(child);
    s_assert_no_process(&k, DAEMON_EXIT_MS);
    /* They cleaned up what they own: sockets and the store. */
    char path[4200];
    snprintf(path, sizeof path, "%s/raylet.sock", k.session);
    cr_assert(!s_exists(path), "the raylet left %s", path);
    snprintf(path, sizeof path, "%s/head.sock", k.session);
    cr_assert(!s_exists(path), "the head left %s", path);
    cr_assert(!s_exists(k.store), "the raylet left its store %s", k.store);
    /* The session directory (logs) waits for the next pdc_init. */
    cr_assert(s_exists(k.session));
    s_init_run_shutdown();
    s_assert_no_trace(&k);
}

Test(cleanup, sweep_removes_a_session_whose_daemons_were_killed) {
    cluster_t k;
    pid_t child = s_fork_driver(&k);
    /* Stop the daemons so they cannot clean up when the driver dies, kill
       the driver, then kill them as well. */
    cr_assert_eq(kill(k.head, SIGSTOP), 0);
    cr_assert_eq(kill(k.raylet, SIGSTOP), 0);
    s_kill_driver(child);
    cr_assert_eq(kill(k.head, SIGKILL), 0);
    cr_assert_eq(kill(k.raylet, SIGKILL), 0);
    s_assert_no_process(&k, DAEMON_EXIT_MS); /* workers die with the raylet */
    /* Everything is left behind ... */
    char path[4200];
    snprintf(path, sizeof path, "%s/raylet.sock", k.session);
    cr_assert(s_exists(path), "the killed raylet removed %s", path);
    cr_assert(s_exists(k.store), "the killed raylet removed its store");
    /* ... until the next pdc_init. */
    s_init_run_shutdown();
    s_assert_no_trace(&k);
}

Test(cleanup, sweep_kills_hung_daemons_of_a_dead_driver) {
    cluster_t k;
    pid_t child = s_fork_driver(&k);
    cr_assert_eq(kill(k.head, SIGSTOP), 0);
    cr_assert_eq(kill(k.raylet, SIGSTOP), 0);
    s_kill_driver(child);
    usleep(200000);
    cr_assert(s_pdc_running(k.head) && s_pdc_running(k.raylet), "stopped daemons exited");
    s_init_run_shutdown();
    s_assert_no_process(&k, DAEMON_EXIT_MS);
    s_assert_no_trace(&k);
}

Test(cleanup, sweep_leaves_a_live_driver_alone) {
    cluster_t k;
    pid_t child = s_fork_driver(&k);
    s_init_run_shutdown();
    /* The child's cluster is untouched. */
    char path[4200];
    snprintf(path, sizeof path, "%s/raylet.sock", k.session);
    cr_assert(s_exists(path), "the sweep removed a live session's socket");
    cr_assert(s_exists(k.store), "the sweep removed a live session's store");
    for (int i = 0; i < k.npids; i++)
        cr_assert(s_pdc_running(k.pids[i]), "the sweep stopped %d of a live session",
                  (int) k.pids[i]);
    s_kill_driver(child);
    s_assert_no_process(&k, DAEMON_EXIT_MS);
    pdc_embed_clean_stale();
    s_assert_no_trace(&k);
}

Test(cleanup, daemons_hold_none_of_the_drivers_descriptors) {
    /* A pipe the driver opened without O_CLOEXEC: once the driver closes
       its write end, the read end sees the end of file at once, unless a
       daemon or worker inherited a copy. */
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pdc_client *c = pdc_init(NULL);
    cr_assert(c, "pdc_init(NULL) failed");
    pdc_ref r = pdc_call(c, pdc_function(c, g_lib, "add"), PDC_I64(1), PDC_I64(2));
    int64_t v = 0;
    cr_assert_eq(pdc_get_i64(c, r, &v, WAIT_MS), PDC_OK, "%s", pdc_last_error(c));
    close(fds[1]);
    struct pollfd p = {fds[0], POLLIN, 0};
    char byte;
    int ready = poll(&p, 1, 1000);
    ssize_t got = ready == 1 ? read(fds[0], &byte, 1) : -1;
    close(fds[0]);
    pdc_shutdown(&c);
    cr_assert_eq(got, 0, "a process of the cluster holds the driver's pipe");
}

Test(cleanup, repeated_init_and_shutdown_leave_nothing) {
    for (int i = 0; i < 3; i++)
        s_init_run_shutdown();
    DIR *d = opendir(g_root);
    cr_assert(d);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert(e->d_name[0] == '.', "%s/%s is left", g_root, e->d_name);
    closedir(d);
}

static uint64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* The driver's own raylet is killed: a task running on it, tasks
   queued behind it, a new call and an actor creation all end with
   PDC_ECONNECT at once (none waits for its timeout), local puts and
   gets still work, and pdc_shutdown still leaves nothing. */
Test(cleanup, a_killed_raylet_fails_what_needs_it_and_shutdown_leaves_nothing) {
    cluster_t k;
    pdc_client *c = s_init_described(&k);
    pdc_fn sleep_ms = pdc_function(c, g_lib, "sleep_ms");
    pdc_ref running = pdc_call(c, sleep_ms, PDC_I64(20000));
    pdc_ref queued[8];
    for (int i = 0; i < 8; i++)
        queued[i] = pdc_call(c, sleep_ms, PDC_I64(20000));
    usleep(500 * 1000); /* running is on a worker by now */
    cr_assert_eq(kill(k.raylet, SIGKILL), 0);
    uint64_t start = s_now_ms();
    pdc_object o;
    int rc = pdc_get(c, running, &o, 30000);
    uint64_t took = s_now_ms() - start;
    cr_assert_eq(rc, PDC_ECONNECT, "%s: %s", pdc_status_name(rc), pdc_last_error(c));
    cr_assert(strstr(pdc_last_error(c), "raylet") && strstr(pdc_last_error(c), "gone"), "%s",
              pdc_last_error(c));
    cr_assert_lt(took, 3000, "the running task's get took %llu ms", (unsigned long long) took);
    /* The figure in README's "Recovery figures". */
    fprintf(stderr, "the driver saw its raylet's death in %llu ms\n", (unsigned long long) took);
    pdc_object_release(c, &o);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(pdc_get(c, queued[i], &o, 5000), PDC_ECONNECT, "queued %d: %s", i,
                     pdc_last_error(c));
        pdc_object_release(c, &o);
    }
    start = s_now_ms();
    pdc_ref later = pdc_call(c, pdc_function(c, g_lib, "add"), PDC_I64(1), PDC_I64(2));
    cr_assert_eq(pdc_get(c, later, &o, 5000), PDC_ECONNECT, "%s", pdc_last_error(c));
    pdc_object_release(c, &o);
    pdc_actor *a = pdc_actor_create(c, g_lib, "Counter", NULL);
    cr_assert(!a || pdc_actor_ready(c, a, 5000) == PDC_ECONNECT, "%s", pdc_last_error(c));
    cr_assert_lt(s_now_ms() - start, 3000, "the later calls waited");
    int status;
    pdc_ref put = pdc_put(c, PDC_I64(42), &status);
    int64_t v = 0;
    cr_assert_eq(status, PDC_OK, "%s", pdc_last_error(c));
    cr_assert_eq(pdc_get_i64(c, put, &v, 1000), PDC_OK, "%s", pdc_last_error(c));
    cr_assert_eq(v, 42);
    pdc_shutdown(&c);
    s_assert_no_process(&k, DAEMON_EXIT_MS);
    s_assert_no_trace(&k);
}
