/*  test_cli: the pdc command on this host: start a head and a second
    node, see both in pdc status, run a task through pdc_init(address),
    and stop everything with pdc stop, leaving no process, socket, store
    or session directory.  Also the refusals: a non-loopback head without
    --insecure, start without --head or --address, status with no
    cluster.  Each test uses its own PDC_SESSION_ROOT and port. */
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
#include <unistd.h>

static char g_root[PATH_MAX], g_pdc[PATH_MAX];
static int g_port;

static void s_setup(void) {
    const char *bin = getenv("PDC_BIN_DIR");
    cr_assert(bin, "PDC_BIN_DIR is not set: run the tests through meson test");
    snprintf(g_pdc, sizeof g_pdc, "%s/pdc", bin);
    snprintf(g_root, sizeof g_root, "/tmp/pdc-test/cli-%d", (int) getpid());
    mkdir("/tmp/pdc-test", 0777);
    mkdir(g_root, 0700);
    setenv("PDC_SESSION_ROOT", g_root, 1);
    unsetenv("PDC_ADDRESS");
    g_port = 20000 + (int) (getpid() % 20000);
}

/* Run `PROGRAM ARGS` in a shell, capture its output into out; returns
   the exit code. */
static int s_run(const char *program, char *out, size_t len, const char *args) {
    char cmd[PATH_MAX * 3];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", program, args);
    FILE *p = popen(cmd, "r");
    cr_assert(p, "cannot run %s", cmd);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Run `pdc ARGS`. */
static int s_pdc(char *out, size_t len, const char *args) {
    return s_run(g_pdc, out, len, args);
}

static int s_sessions_left(void) {
    DIR *d = opendir(g_root);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += !strncmp(e->d_name, "node-", 5);
    if (d)
        closedir(d);
    return n;
}

static void s_teardown(void) {
    char out[4096];
    s_pdc(out, sizeof out, "stop");
    rmdir(g_root);
}

TestSuite(cli, .init = s_setup, .fini = s_teardown, .timeout = 120);

Test(cli, start_status_join_and_stop) {
    char out[16384], args[256];
    snprintf(args, sizeof args, "start --head --port %d --num-cpus 2", g_port);
    cr_assert_eq(s_pdc(out, sizeof out, args), 0, "%s", out);
    cr_assert(strstr(out, "started a head"), "%s", out);
    snprintf(args, sizeof args,
             "start --address tcp://127.0.0.1:%d --num-cpus 1 --labels tier=edge", g_port);
    cr_assert_eq(s_pdc(out, sizeof out, args), 0, "%s", out);

    cr_assert_eq(s_pdc(out, sizeof out, "status"), 0, "%s", out);
    cr_assert(strstr(out, "2 nodes alive, 0 dead"), "%s", out);
    cr_assert(strstr(out, "labels tier=edge") && strstr(out, "0 infeasible"), "%s", out);
    cr_assert_eq(s_pdc(out, sizeof out, "status -v"), 0, "%s", out);
    cr_assert(strstr(out, "store_capacity") && strstr(out, "PDC_INLINE_MAX"), "%s", out);

    char address[64];
    snprintf(address, sizeof address, "tcp://127.0.0.1:%d", g_port);
    pdc_client *c = pdc_init(address);
    cr_assert(c, "pdc_init(%s) failed", address);
    pdc_fn add = pdc_function(c, getenv("PDC_TEST_LIB"), "add");
    int64_t v = 0;
    pdc_ref r = pdc_call(c, add, PDC_I64(40), PDC_I64(2));
    cr_assert_eq(pdc_get_i64(c, r, &v, 30000), PDC_OK, "%s", pdc_last_error(c));
    cr_assert_eq(v, 42);
    pdc_ref_release(c, r);
    /* Work no node can run waits, and pdc status says so. */
    pdc_opts moon = {.label_selector = "tier=moon"};
    pdc_ref waiting = pdc_call_opts(c, add, &moon, PDC_I64(1), PDC_I64(1));
    int shown = 0;
    for (int i = 0; i < 50 && !shown; i++) {
        usleep(100000);
        s_pdc(out, sizeof out, "status");
        shown = strstr(out, "1 infeasible (waiting") != NULL;
    }
    cr_assert(shown, "the waiting request is not in pdc status: %s", out);
    pdc_ref_release(c, waiting);
    /* The edge work goes to the second node, over tcp. */
    pdc_opts edge = {.label_selector = "tier=edge"};
    r = pdc_call_opts(c, add, &edge, PDC_I64(1), PDC_I64(2));
    cr_assert_eq(pdc_get_i64(c, r, &v, 30000), PDC_OK, "%s", pdc_last_error(c));
    cr_assert_eq(v, 3);
    pdc_ref_release(c, r);
    pdc_shutdown(&c);

    /* pid files, to check the processes are gone after stop. */
    pid_t pids[8];
    int npids = 0;
    DIR *d = opendir(g_root);
    struct dirent *e;
    while (d && (e = readdir(d)))
        for (int k = 0; k < 2 && !strncmp(e->d_name, "node-", 5); k++) {
            char path[PATH_MAX * 2];
            snprintf(path, sizeof path, "%s/%s/%s", g_root, e->d_name,
                     k ? "head.pid" : "raylet.pid");
            FILE *f = fopen(path, "r");
            if (f && npids < 8 && fscanf(f, "%d", &pids[npids]) == 1)
                npids++;
            if (f)
                fclose(f);
        }
    if (d)
        closedir(d);
    cr_assert_eq(npids, 3, "expected a head and two raylets, found %d pid files", npids);

    cr_assert_eq(s_pdc(out, sizeof out, "stop"), 0, "%s", out);
    cr_assert(strstr(out, "stopped 2 nodes"), "%s", out);
    for (int i = 0; i < npids; i++)
        cr_assert(kill(pids[i], 0) != 0, "pid %d still runs", pids[i]);
    cr_assert_eq(s_sessions_left(), 0);
}

Test(cli, refuses_a_public_head_without_insecure) {
    char out[4096], args[256];
    snprintf(args, sizeof args, "start --head --node-ip-address 10.1.2.3 --port %d", g_port);
    cr_assert_eq(s_pdc(out, sizeof out, args), 2, "%s", out);
    cr_assert(strstr(out, "--insecure"), "%s", out);
    cr_assert_eq(s_sessions_left(), 0, "a refused start left a session");
}

Test(cli, usage_errors_are_clear) {
    char out[4096];
    cr_assert_eq(s_pdc(out, sizeof out, "start"), 2);
    cr_assert(strstr(out, "--head or --address"), "%s", out);
    cr_assert_eq(s_pdc(out, sizeof out, "frobnicate"), 2);
    cr_assert(strstr(out, "unknown command"), "%s", out);
    cr_assert_eq(s_pdc(out, sizeof out, "--help"), 0);
    cr_assert(strstr(out, "pdc start --head"), "%s", out);
    cr_assert_eq(s_pdc(out, sizeof out, "status"), 1, "%s", out);
    cr_assert(strstr(out, "no cluster address"), "%s", out);
}

Test(cli, start_fails_cleanly_when_the_port_is_taken) {
    char out[4096], args[256];
    snprintf(args, sizeof args, "start --head --port %d", g_port);
    cr_assert_eq(s_pdc(out, sizeof out, args), 0, "%s", out);
    setenv("PDC_CONNECT_TIMEOUT_MS", "3000", 1);
    cr_assert_neq(s_pdc(out, sizeof out, args), 0, "a second head on the same port started: %s",
                  out);
    cr_assert(strstr(out, "head exited") && strstr(out, "logs"), "%s", out);
    unsetenv("PDC_CONNECT_TIMEOUT_MS");
}

/* pdc-submit: its help, usage errors and a head that is not there. */
static int s_submit(char *out, size_t len, const char *args) {
    char program[PATH_MAX + 64], dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", g_pdc);
    *strrchr(dir, '/') = '\0';
    snprintf(program, sizeof program, "PDC_CONNECT_TIMEOUT_MS=300 %s/pdc-submit", dir);
    return s_run(program, out, len, args);
}

Test(cli, submit_says_how_to_use_it) {
    char out[8192];
    cr_assert_eq(s_submit(out, sizeof out, "--help"), 0, "%s", out);
    cr_assert(strstr(out, "--working-dir") && strstr(out, "--insecure-jobs"), "%s", out);
    cr_assert_eq(s_submit(out, sizeof out, "--address tcp://127.0.0.1:1"), 2, "%s", out);
    cr_assert(strstr(out, "no command to run"), "%s", out);
    cr_assert_eq(s_submit(out, sizeof out, "--address tcp://127.0.0.1:1 --env NOVALUE -- true"), 2,
                 "%s", out);
    cr_assert(strstr(out, "NAME=VALUE"), "%s", out);
    cr_assert_eq(s_submit(out, sizeof out, "--address tcp://127.0.0.1:1 --list --stop x"), 2, "%s",
                 out);
    cr_assert_eq(s_submit(out, sizeof out, "--address tcp://127.0.0.1:1 --job-id ../x -- true"), 2,
                 "%s", out);
    cr_assert(strstr(out, "job id"), "%s", out);
}

Test(cli, submit_to_a_head_that_does_not_answer_times_out) {
    char out[4096];
    cr_assert_eq(s_submit(out, sizeof out, "--address tcp://127.0.0.1:1 --list"), 3, "%s", out);
    cr_assert(strstr(out, "did not answer within 300 ms"), "%s", out);
    cr_assert_eq(s_submit(out, sizeof out, "--address tcp://127.0.0.1:1 -- true"), 3, "%s", out);
}
