/*  test_tasks: calling remote functions on a real embedded cluster.

    Results of every type come back as they were returned; arguments of
    every type (empty and 1 MiB bytes too) reach the function intact; many
    calls complete; tasks run in parallel on several workers, which the
    pool reuses; a task may ask for both CPU slots of a 2-CPU node; and a
    function can name itself with pdc_task_self.  The remote functions are
    in task_lib.c. */
#include "pdc_itest.h"

#include "pdc_peer.h"

#include <pthread.h>

TestSuite(tasks, .init = itest_setup, .fini = itest_teardown);

/* Get a STR or BYTES result, compare it with want, release. */
static void s_expect_buf(pdc_ref r, pdc_type type, const void *want, size_t size) {
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "get: %s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    cr_assert_eq(o.type, type, "type %d, expected %d", (int) o.type, (int) type);
    cr_assert_eq(o.size, size, "size %zu, expected %zu", o.size, size);
    cr_assert(size == 0 || memcmp(o.data, want, size) == 0, "the bytes differ");
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
}

static void s_expect_str(pdc_ref r, const char *want) {
    s_expect_buf(r, PDC_T_STR, want, strlen(want));
}

Test(tasks, returns_i64) {
    pdc_ref r = pdc_call(g_c, fn("add"), PDC_I64(40), PDC_I64(2));
    int64_t v = 0;
    int rc = pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "%s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    cr_assert_eq(v, 42);
    pdc_ref_release(g_c, r);

    r = pdc_call(g_c, fn("echo"), PDC_I64(INT64_MIN));
    cr_assert_eq(pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, INT64_MIN);
    pdc_ref_release(g_c, r);
}

Test(tasks, returns_f64) {
    double vals[] = {0.0, -1.5, 3.141592653589793, 1e300, -2.2250738585072014e-308};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        pdc_ref r = pdc_call(g_c, fn("echo"), PDC_F64(vals[i]));
        pdc_object o;
        int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
        cr_assert_eq(rc, PDC_OK, "%s: %s", pdc_status_name(rc), pdc_last_error(g_c));
        cr_assert_eq(o.type, PDC_T_F64);
        cr_assert_eq(memcmp(&o.f64, &vals[i], sizeof(double)), 0, "got %.17g, expected %.17g",
                     o.f64, vals[i]);
        pdc_object_release(g_c, &o);
        double d = 0;
        cr_assert_eq(pdc_get_f64(g_c, r, &d, T_TIMEOUT_MS), PDC_OK);
        cr_assert_eq(d, vals[i]);
        pdc_ref_release(g_c, r);
    }
}

Test(tasks, returns_string) {
    s_expect_str(pdc_call(g_c, fn("echo"), PDC_STR("hello, pdc")), "hello, pdc");
    s_expect_str(pdc_call(g_c, fn("echo"), PDC_STR("")), "");
    char long_text[5000];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    s_expect_str(pdc_call(g_c, fn("echo"), PDC_STR(long_text)), long_text);
}

Test(tasks, returns_bytes) {
    s_expect_buf(pdc_call(g_c, fn("noop")), PDC_T_BYTES, "ok", 2);
    unsigned char b[256];
    for (int i = 0; i < 256; i++)
        b[i] = (unsigned char) i;
    s_expect_buf(pdc_call(g_c, fn("echo"), PDC_BYTES(b, sizeof b)), PDC_T_BYTES, b, sizeof b);
    s_expect_buf(pdc_call(g_c, fn("echo"), PDC_BYTES(b, 0)), PDC_T_BYTES, b, 0);
}

/* A result above the inline limit comes from the store, 64-byte aligned. */
Test(tasks, returns_large_bytes_from_the_store) {
    size_t n = 4 * MIB;
    unsigned char *want = malloc(n);
    cr_assert(want);
    fill_pattern(want, n, 7);
    pdc_ref r = pdc_call(g_c, fn("make_bytes"), PDC_I64(n), PDC_I64(7));
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "%s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    cr_assert_eq(o.type, PDC_T_BYTES);
    cr_assert_eq(o.size, n);
    cr_assert_eq((uintptr_t) o.data % 64, 0, "data at %p is not 64-byte aligned", o.data);
    cr_assert_eq(memcmp(o.data, want, n), 0);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    free(want);
}

/* One call with an argument of every type; describe reports what it saw. */
Test(tasks, arguments_of_every_type) {
    const char *s = "a string";
    unsigned char b[100];
    for (int i = 0; i < 100; i++)
        b[i] = (unsigned char) (i * 7);
    pdc_ref r = pdc_call(g_c, fn("describe"), PDC_I64(-7), PDC_I64(INT64_MAX), PDC_F64(0.1),
                         PDC_F64(-3e-300), PDC_STR(s), PDC_STR(""), PDC_BYTES(b, sizeof b),
                         PDC_BYTES(NULL, 0));
    char want[1024];
    snprintf(want, sizeof want,
             "i:-7 i:%lld f:%.17g f:%.17g s:%zu:%lld s:0:%lld b:100:%lld b:0:%lld",
             (long long) INT64_MAX, 0.1, -3e-300, strlen(s), (long long) fnv1a(s, strlen(s)),
             (long long) fnv1a("", 0), (long long) fnv1a(b, sizeof b), (long long) fnv1a("", 0));
    s_expect_str(r, want);
}

Test(tasks, string_with_length_argument) {
    const char text[] = "abc\0def";
    pdc_ref r = pdc_call(g_c, fn("describe"), PDC_STRN(text, 7));
    char want[128];
    snprintf(want, sizeof want, "s:7:%lld", (long long) fnv1a(text, 7));
    s_expect_str(r, want);
}

/* 1 MiB is above the 100 KiB inline limit. */
Test(tasks, one_mib_bytes_argument) {
    size_t n = MIB;
    unsigned char *b = malloc(n);
    cr_assert(b);
    fill_pattern(b, n, 3);
    pdc_ref sum = pdc_call(g_c, fn("checksum"), PDC_BYTES(b, n));
    pdc_ref back = pdc_call(g_c, fn("echo"), PDC_BYTES(b, n));
    int64_t v = 0;
    int rc = pdc_get_i64(g_c, sum, &v, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "%s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    cr_assert_eq(v, fnv1a(b, n));
    pdc_ref_release(g_c, sum);
    s_expect_buf(back, PDC_T_BYTES, b, n);
    free(b);
}

/* The caller may free or reuse an argument buffer once pdc_call returns. */
Test(tasks, argument_buffers_are_copied_at_submission) {
    char *buf = malloc(64);
    cr_assert(buf);
    strcpy(buf, "first");
    pdc_ref r = pdc_call(g_c, fn("echo"), PDC_STR(buf));
    strcpy(buf, "XXXXX");
    free(buf);
    s_expect_str(r, "first");
}

Test(tasks, two_thousand_noops) {
    enum { N = 2000 };
    static pdc_ref r[N];
    double t0 = now_ms();
    for (int i = 0; i < N; i++)
        r[i] = pdc_call(g_c, fn("noop"));
    for (int i = 0; i < N; i++) {
        pdc_object o;
        int rc = pdc_get(g_c, r[i], &o, T_TIMEOUT_MS);
        cr_assert_eq(rc, PDC_OK, "task %d: %s: %s", i, pdc_status_name(rc), pdc_last_error(g_c));
        cr_assert_eq(o.type, PDC_T_BYTES, "task %d", i);
        cr_assert(o.size == 2 && memcmp(o.data, "ok", 2) == 0, "task %d", i);
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, r[i]);
    }
    cr_log_info("2000 no-op tasks in %.0f ms", now_ms() - t0);
}

static size_t s_distinct(const int64_t *v, size_t n, int64_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < k && out[j] != v[i])
            j++;
        if (j == k)
            out[k++] = v[i];
    }
    return k;
}

/* Sleeping tasks spread over both workers of the 2-CPU node: at least
   two tasks in different worker processes were running at the same
   time (by their start and end times, so a loaded machine cannot make
   this flaky). */
Test(tasks, run_in_parallel_on_two_workers) {
    enum { N = 200, SLEEP = 5 };
    int64_t span[N][3], seen[N], pids[N];
    pdc_ref r[N];
    double t0 = now_ms();
    for (int i = 0; i < N; i++)
        r[i] = pdc_call(g_c, fn("span"), PDC_I64(SLEEP));
    for (int i = 0; i < N; i++) {
        pdc_object o;
        int rc = pdc_get(g_c, r[i], &o, T_TIMEOUT_MS);
        cr_assert_eq(rc, PDC_OK, "task %d: %s: %s", i, pdc_status_name(rc), pdc_last_error(g_c));
        cr_assert_eq(o.size, sizeof span[i]);
        memcpy(span[i], o.data, sizeof span[i]);
        pids[i] = span[i][0];
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, r[i]);
    }
    double took = now_ms() - t0;
    size_t k = s_distinct(pids, N, seen);
    int overlaps = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            overlaps +=
                span[i][0] != span[j][0] && span[i][1] < span[j][2] && span[j][1] < span[i][2];
    cr_log_info("%d tasks of %d ms on %zu workers in %.0f ms, %d overlapping pairs", N, SLEEP, k,
                took, overlaps);
    cr_assert_geq(k, 2, "all %d tasks ran in one worker process", N);
    cr_assert_gt(overlaps, 0, "no two tasks in different workers ran at the same time");
}

/* A few long tasks are not all pushed to the first leased worker: eight
   100 ms tasks on the 2-CPU node run on both workers, split evenly. */
Test(tasks, few_long_tasks_spread_over_both_workers) {
    enum { N = 8, SLEEP = 100 };
    int64_t pids[N], seen[N];
    pdc_ref r[N];
    for (int i = 0; i < N; i++)
        r[i] = pdc_call(g_c, fn("sleep_pid"), PDC_I64(SLEEP));
    for (int i = 0; i < N; i++) {
        int rc = pdc_get_i64(g_c, r[i], &pids[i], T_TIMEOUT_MS);
        cr_assert_eq(rc, PDC_OK, "task %d: %s", i, pdc_last_error(g_c));
        pdc_ref_release(g_c, r[i]);
    }
    size_t k = s_distinct(pids, N, seen);
    cr_assert_eq(k, 2, "%d long tasks ran in %zu workers, expected both", N, k);
    int on_first = 0;
    for (int i = 0; i < N; i++)
        on_first += pids[i] == pids[0];
    cr_assert(on_first >= 3 && on_first <= 5, "uneven split: %d of %d on one worker", on_first, N);
}

/* Workers are pooled: 200 tasks in several waves run in a handful of
   processes, not one each. */
Test(tasks, worker_pool_is_reused) {
    enum { N = 200 };
    int64_t pids[N], seen[N];
    for (int wave = 0; wave < 4; wave++) {
        pdc_ref r[N / 4];
        for (int i = 0; i < N / 4; i++)
            r[i] = pdc_call(g_c, fn("pid"));
        for (int i = 0; i < N / 4; i++) {
            int rc = pdc_get_i64(g_c, r[i], &pids[wave * (N / 4) + i], T_TIMEOUT_MS);
            cr_assert_eq(rc, PDC_OK, "%s: %s", pdc_status_name(rc), pdc_last_error(g_c));
            pdc_ref_release(g_c, r[i]);
        }
        usleep(50 * 1000); /* let the leases go back between waves */
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t k = s_distinct(pids, N, seen);
    cr_log_info("%d tasks ran in %zu worker processes (%ld CPUs)", N, k, cpus);
    cr_assert_leq(k, (size_t) cpus + 2, "%d tasks used %zu worker processes on %ld CPUs", N, k,
                  cpus);
    for (size_t i = 0; i < k; i++)
        cr_assert_neq(seen[i], (int64_t) getpid(), "a task ran in the driver");
}

/* num_cpus = every CPU of the node: feasible, so it runs. */
Test(tasks, task_needing_two_cpus_runs) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("PDC_NUM_CPUS");
    if (env && atol(env) > 0)
        cpus = atol(env);
    pdc_opts opts = {.num_cpus = (double) (cpus < 2 ? cpus : 2)};
    pdc_ref r = pdc_call_opts(g_c, fn("add"), &opts, PDC_I64(1), PDC_I64(2));
    int64_t v = 0;
    int rc = pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "%s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    cr_assert_eq(v, 3);
    pdc_ref_release(g_c, r);

    /* Two-CPU and one-CPU tasks mixed. */
    pdc_opts one = {.num_cpus = 1};
    pdc_ref rs[20];
    for (int i = 0; i < 20; i++)
        rs[i] = pdc_call_opts(g_c, fn("add"), i % 2 ? &opts : &one, PDC_I64(i), PDC_I64(1));
    for (int i = 0; i < 20; i++) {
        rc = pdc_get_i64(g_c, rs[i], &v, T_TIMEOUT_MS);
        cr_assert_eq(rc, PDC_OK, "task %d: %s: %s", i, pdc_status_name(rc), pdc_last_error(g_c));
        cr_assert_eq(v, i + 1);
        pdc_ref_release(g_c, rs[i]);
    }
}

Test(tasks, task_self_names_the_running_function) {
    pdc_fn f = fn("self_name");
    char want[PATH_MAX + 32];
    snprintf(want, sizeof want, "%s:%s", f.library, f.name);
    s_expect_str(pdc_call(g_c, f), want);
}

/* Options zeroed mean the defaults; a name is only for logs. */
Test(tasks, zeroed_and_named_options) {
    pdc_opts zero = {0};
    pdc_opts named = {.name = "adder", .max_retries = -1};
    int64_t v = 0;
    pdc_ref a = pdc_call_opts(g_c, fn("add"), &zero, PDC_I64(2), PDC_I64(3));
    pdc_ref b = pdc_call_opts(g_c, fn("add"), &named, PDC_I64(4), PDC_I64(5));
    cr_assert_eq(pdc_get_i64(g_c, a, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, 5);
    cr_assert_eq(pdc_get_i64(g_c, b, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, 9);
    pdc_ref_release(g_c, a);
    pdc_ref_release(g_c, b);
}

/* Many threads submit and get through one client. */
static void *s_submitter(void *arg) {
    int64_t base = (int64_t) (intptr_t) arg, bad = 0;
    for (int i = 0; i < 100; i++) {
        pdc_ref r = pdc_call(g_c, fn("add"), PDC_I64(base), PDC_I64(i));
        int64_t v = -1;
        if (pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS) != PDC_OK || v != base + i)
            bad++;
        pdc_ref_release(g_c, r);
    }
    return (void *) (intptr_t) bad;
}

Test(tasks, threads_share_one_client) {
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, s_submitter, (void *) (intptr_t) (i * 1000)), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        cr_assert_eq((intptr_t) bad, 0, "thread %d had %ld wrong results", i,
                     (long) (intptr_t) bad);
    }
}

/* A lease handed back closes its connection to the worker (the old client
   kept every worker's socket it had ever used, one more per worker). */
Test(tasks, returned_leases_leave_no_connection_behind) {
    size_t before = pdc_peer_count();
    pdc_opts spread = {.strategy = PDC_SCHED_SPREAD};
    pdc_ref r[8];
    for (int i = 0; i < 8; i++)
        r[i] = pdc_call_opts(g_c, fn("sleep_ms"), &spread, PDC_I64(20));
    for (int i = 0; i < 8; i++) {
        pdc_object o;
        cr_assert_eq(pdc_get(g_c, r[i], &o, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, r[i]);
    }
    size_t after = pdc_peer_count();
    for (int i = 0; i < 200 && after > before; i++) {
        usleep(10 * 1000);
        after = pdc_peer_count();
    }
    cr_assert_eq(after, before, "%zu sockets open after the leases went, %zu before", after,
                 before);
}
