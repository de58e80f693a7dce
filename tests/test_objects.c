/*  test_objects: objects and references on a real embedded cluster.

    pdc_put and pdc_get of every type, small ones (kept in the owner) and
    large ones (in the node's shared-memory store, 64-byte aligned);
    pdc_put_reserve and pdc_put_commit; references passed to tasks, put
    ones and task results, down a chain of 50 tasks; pdc_wait; a get that
    times out; releasing references frees the store; pdc_cancel.  Store
    contents are counted by opening the store in a child process
    (pdc_itest.h).  The remote functions are in task_lib.c. */
#include "pdc_itest.h"

#include <signal.h>

TestSuite(objects, .init = itest_setup, .fini = itest_teardown);

#define LARGE (8 * MIB)

static void s_expect_objects(long want, const char *when) {
    long n = itest_store_objects();
    cr_assert_eq(n, want, "%s: the store holds %ld objects, expected %ld", when, n, want);
}

static pdc_ref s_put(pdc_value v) {
    int status = -999;
    pdc_ref r = pdc_put(g_c, v, &status);
    cr_assert_eq(status, PDC_OK, "pdc_put: %s: %s", pdc_status_name(status), pdc_last_error(g_c));
    return r;
}

static void s_get(pdc_ref r, pdc_object *o) {
    int rc = pdc_get(g_c, r, o, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "pdc_get: %s: %s", pdc_status_name(rc), pdc_last_error(g_c));
}

static int64_t s_get_i64(pdc_ref r) {
    int64_t v = 0;
    int rc = pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "pdc_get_i64: %s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    return v;
}

static unsigned char *s_pattern(size_t n, int64_t seed) {
    unsigned char *p = malloc(n ? n : 1);
    cr_assert(p, "out of memory");
    fill_pattern(p, n, seed);
    return p;
}

/* ---- put and get ------------------------------------------------------ */

Test(objects, put_get_i64) {
    int64_t vals[] = {0, 1, -1, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        pdc_ref r = s_put(PDC_I64(vals[i]));
        pdc_object o;
        s_get(r, &o);
        cr_assert_eq(o.type, PDC_T_I64);
        cr_assert_eq(o.i64, vals[i]);
        pdc_object_release(g_c, &o);
        cr_assert_eq(s_get_i64(r), vals[i]);
        pdc_ref_release(g_c, r);
    }
}

Test(objects, put_get_f64) {
    double vals[] = {0.0, -0.5, 6.02214076e23, 4.9e-324};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        pdc_ref r = s_put(PDC_F64(vals[i]));
        double d = 1;
        cr_assert_eq(pdc_get_f64(g_c, r, &d, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
        cr_assert_eq(d, vals[i]);
        int64_t wrong;
        cr_assert_eq(pdc_get_i64(g_c, r, &wrong, T_TIMEOUT_MS), PDC_ETYPE);
        pdc_ref_release(g_c, r);
    }
}

Test(objects, put_get_string) {
    const char *texts[] = {"hello", "", "with\nnewline and ünïcode"};
    for (size_t i = 0; i < 3; i++) {
        pdc_ref r = s_put(PDC_STR(texts[i]));
        pdc_object o;
        s_get(r, &o);
        cr_assert_eq(o.type, PDC_T_STR);
        cr_assert_eq(o.size, strlen(texts[i]));
        cr_assert(o.size == 0 || memcmp(o.data, texts[i], o.size) == 0);
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, r);
    }
}

Test(objects, put_get_small_bytes) {
    size_t sizes[] = {0, 1, 1000, 100 * KIB};
    for (size_t i = 0; i < 4; i++) {
        unsigned char *b = s_pattern(sizes[i], (int64_t) i);
        pdc_ref r = s_put(PDC_BYTES(b, sizes[i]));
        memset(b, 0, sizes[i]); /* pdc_put copied it */
        fill_pattern(b, sizes[i], (int64_t) i);
        pdc_object o;
        s_get(r, &o);
        cr_assert_eq(o.type, PDC_T_BYTES);
        cr_assert_eq(o.size, sizes[i]);
        cr_assert(sizes[i] == 0 || memcmp(o.data, b, sizes[i]) == 0, "size %zu: bytes differ",
                  sizes[i]);
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, r);
        free(b);
    }
    s_expect_objects(0, "after small puts (they stay in the owner)");
}

/* 8 MiB goes to the store: one object there, read in place, aligned. */
Test(objects, put_get_large_bytes_from_the_store) {
    unsigned char *b = s_pattern(LARGE, 5);
    pdc_ref r = s_put(PDC_BYTES(b, LARGE));
    s_expect_objects(1, "after an 8 MiB put");
    pdc_object o;
    s_get(r, &o);
    cr_assert_eq(o.type, PDC_T_BYTES);
    cr_assert_eq(o.size, LARGE);
    cr_assert_eq((uintptr_t) o.data % 64, 0, "data at %p is not 64-byte aligned", o.data);
    cr_assert_eq(memcmp(o.data, b, LARGE), 0);
    pdc_object o2;
    s_get(r, &o2); /* two readers at once */
    cr_assert_eq(o2.data, o.data, "the store is read in place, not copied");
    pdc_object_release(g_c, &o2);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    free(b);
}

Test(objects, put_get_large_string) {
    size_t n = 300 * KIB;
    char *s = malloc(n + 1);
    cr_assert(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (char) ('a' + i % 26);
    s[n] = '\0';
    pdc_ref r = s_put(PDC_STR(s));
    pdc_object o;
    s_get(r, &o);
    cr_assert_eq(o.type, PDC_T_STR);
    cr_assert_eq(o.size, n);
    cr_assert_eq(memcmp(o.data, s, n), 0);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    free(s);
}

static void s_reserve_commit(size_t n) {
    void *res = NULL;
    unsigned char *p = pdc_put_reserve(g_c, n, &res);
    cr_assert(p && res, "pdc_put_reserve(%zu): %s", n, pdc_last_error(g_c));
    fill_pattern(p, n, 11);
    int status = -999;
    pdc_ref r = pdc_put_commit(g_c, &res, &status);
    cr_assert_eq(status, PDC_OK, "pdc_put_commit: %s", pdc_last_error(g_c));
    cr_assert_null(res, "pdc_put_commit nulls the reservation");
    unsigned char *want = s_pattern(n, 11);
    pdc_object o;
    s_get(r, &o);
    cr_assert_eq(o.type, PDC_T_BYTES);
    cr_assert_eq(o.size, n);
    cr_assert(n == 0 || memcmp(o.data, want, n) == 0);
    pdc_object_release(g_c, &o);
    /* A task reads it too. */
    pdc_ref sum = pdc_call(g_c, fn("checksum"), PDC_REF(r));
    cr_assert_eq(s_get_i64(sum), fnv1a(want, n));
    pdc_ref_release(g_c, sum);
    pdc_ref_release(g_c, r);
    free(want);
}

Test(objects, put_reserve_commit_small) {
    s_reserve_commit(0);
    s_reserve_commit(4096);
}

Test(objects, put_reserve_commit_large) {
    s_reserve_commit(LARGE);
    s_expect_objects(0, "after releasing a committed 8 MiB object");
}

/* ---- references as arguments ------------------------------------------ */

Test(objects, small_put_ref_as_argument) {
    unsigned char *b = s_pattern(1000, 1);
    pdc_ref data = s_put(PDC_BYTES(b, 1000));
    pdc_ref sum = pdc_call(g_c, fn("checksum"), PDC_REF(data));
    cr_assert_eq(s_get_i64(sum), fnv1a(b, 1000));
    pdc_ref_release(g_c, sum);
    pdc_ref num = s_put(PDC_I64(41));
    pdc_ref r = pdc_call(g_c, fn("add"), PDC_REF(num), PDC_I64(1));
    cr_assert_eq(s_get_i64(r), 42);
    pdc_ref_release(g_c, r);
    pdc_ref_release(g_c, num);
    pdc_ref_release(g_c, data);
    free(b);
}

Test(objects, large_put_ref_as_argument) {
    unsigned char *b = s_pattern(LARGE, 2);
    pdc_ref data = s_put(PDC_BYTES(b, LARGE));
    pdc_ref sums[4];
    for (int i = 0; i < 4; i++)
        sums[i] = pdc_call(g_c, fn("checksum"), PDC_REF(data));
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(s_get_i64(sums[i]), fnv1a(b, LARGE), "task %d", i);
        pdc_ref_release(g_c, sums[i]);
    }
    pdc_ref_release(g_c, data);
    s_expect_objects(0, "after releasing the put and the tasks that read it");
    free(b);
}

/* The task holds its own reference: the caller may release at once. */
Test(objects, argument_ref_released_right_after_the_call) {
    unsigned char *b = s_pattern(LARGE, 3);
    pdc_ref data = s_put(PDC_BYTES(b, LARGE));
    pdc_ref slow = pdc_call(g_c, fn("sleep_ms"), PDC_I64(200));
    /* Queue the checksum behind a slow task of the same shape so that it
       is certainly not done when the caller lets go. */
    pdc_ref sum = pdc_call(g_c, fn("checksum"), PDC_REF(data));
    pdc_ref_release(g_c, data);
    cr_assert_eq(s_get_i64(sum), fnv1a(b, LARGE));
    pdc_ref_release(g_c, sum);
    cr_assert_eq(s_get_i64(slow), 200);
    pdc_ref_release(g_c, slow);
    s_expect_objects(0, "after the task that held the last reference finished");
    free(b);
}

Test(objects, chain_of_fifty_dependent_tasks) {
    pdc_ref r = pdc_call(g_c, fn("add"), PDC_I64(0), PDC_I64(1));
    for (int i = 1; i < 50; i++) {
        pdc_ref next = pdc_call(g_c, fn("add"), PDC_REF(r), PDC_I64(1));
        pdc_ref_release(g_c, r); /* the next task holds it */
        r = next;
    }
    cr_assert_eq(s_get_i64(r), 50);
    pdc_ref_release(g_c, r);
}

/* A large task result (in the store) passed to another task. */
Test(objects, large_task_result_as_argument) {
    pdc_ref data = pdc_call(g_c, fn("make_bytes"), PDC_I64(LARGE), PDC_I64(9));
    pdc_ref sum = pdc_call(g_c, fn("checksum"), PDC_REF(data));
    pdc_ref_release(g_c, data);
    unsigned char *want = s_pattern(LARGE, 9);
    cr_assert_eq(s_get_i64(sum), fnv1a(want, LARGE));
    pdc_ref_release(g_c, sum);
    s_expect_objects(0, "after releasing a large task result read by another task");
    free(want);
}

/* ---- wait and timeouts ------------------------------------------------ */

Test(objects, wait_for_some_of_ten) {
    enum { N = 10 };
    pdc_ref r[N];
    for (int i = 0; i < N; i++)
        r[i] = pdc_call(g_c, fn("sleep_ms"), PDC_I64(20 + 60 * i));
    uint8_t ready[N];
    int n = pdc_wait(g_c, r, N, 3, T_TIMEOUT_MS, ready);
    cr_assert_geq(n, 3, "pdc_wait returned %d: %s", n, pdc_last_error(g_c));
    int count = 0;
    for (int i = 0; i < N; i++) {
        count += ready[i];
        if (!ready[i])
            continue;
        int64_t v; /* a ready object is there without waiting */
        cr_assert_eq(pdc_get_i64(g_c, r[i], &v, 0), PDC_OK, "task %d said ready", i);
        cr_assert_eq(v, 20 + 60 * i);
    }
    cr_assert_eq(count, n, "ready[] has %d set, pdc_wait said %d", count, n);
    for (int i = 0; i < N; i++)
        pdc_ref_release(g_c, r[i]);
}

Test(objects, wait_with_timeout_zero_only_looks) {
    enum { N = 2 };
    pdc_ref r[N];
    for (int i = 0; i < N; i++)
        r[i] = pdc_call(g_c, fn("sleep_ms"), PDC_I64(600));
    uint8_t ready[N];
    memset(ready, 7, sizeof ready);
    double t0 = now_ms();
    int n = pdc_wait(g_c, r, N, N, 0, ready);
    double took = now_ms() - t0;
    cr_assert_eq(n, 0, "pdc_wait(timeout 0) on pending tasks returned %d", n);
    for (int i = 0; i < N; i++)
        cr_assert_eq(ready[i], 0, "ready[%d] = %d", i, ready[i]);
    cr_assert_lt(took, 250.0, "pdc_wait(timeout 0) took %.1f ms", took);
    /* A put object is ready at once. */
    pdc_ref p = s_put(PDC_I64(1));
    uint8_t one = 0;
    cr_assert_eq(pdc_wait(g_c, &p, 1, 1, 0, &one), 1);
    cr_assert_eq(one, 1);
    pdc_ref_release(g_c, p);
    n = pdc_wait(g_c, r, N, N, T_TIMEOUT_MS, ready);
    cr_assert_eq(n, N);
    for (int i = 0; i < N; i++)
        pdc_ref_release(g_c, r[i]);
}

Test(objects, wait_for_all) {
    enum { N = 12 };
    pdc_ref r[N];
    for (int i = 0; i < N; i++)
        r[i] = pdc_call(g_c, fn("sleep_ms"), PDC_I64(10 * (N - i)));
    uint8_t ready[N];
    int n = pdc_wait(g_c, r, N, N, T_TIMEOUT_MS, ready);
    cr_assert_eq(n, N, "pdc_wait returned %d: %s", n, pdc_last_error(g_c));
    for (int i = 0; i < N; i++) {
        cr_assert_eq(ready[i], 1);
        cr_assert_eq(s_get_i64(r[i]), 10 * (N - i));
        pdc_ref_release(g_c, r[i]);
    }
}

/* Two wanted, one ready: the timeout ends the wait with a count of 1. */
Test(objects, wait_runs_out_of_time) {
    pdc_ref r[2] = {pdc_call(g_c, fn("sleep_ms"), PDC_I64(1500)), s_put(PDC_I64(3))};
    uint8_t ready[2] = {9, 9};
    double t0 = now_ms();
    int n = pdc_wait(g_c, r, 2, 2, 100, ready);
    double took = now_ms() - t0;
    cr_assert_eq(n, 1, "pdc_wait returned %d", n);
    cr_assert(ready[0] == 0 && ready[1] == 1, "ready = {%d, %d}", ready[0], ready[1]);
    cr_assert_geq(took, 90.0, "gave up after %.1f ms, not 100", took);
    cr_assert_lt(took, 1000.0, "waited %.1f ms, not 100", took);
    n = pdc_wait(g_c, r, 2, 2, T_TIMEOUT_MS, ready);
    cr_assert_eq(n, 2);
    pdc_ref_release(g_c, r[0]);
    pdc_ref_release(g_c, r[1]);
}

Test(objects, get_times_out_then_succeeds) {
    pdc_ref r = pdc_call(g_c, fn("sleep_ms"), PDC_I64(1500));
    pdc_object o;
    double t0 = now_ms();
    int rc = pdc_get(g_c, r, &o, 100);
    double took = now_ms() - t0;
    cr_assert_eq(rc, PDC_ETIMEOUT, "pdc_get returned %s", pdc_status_name(rc));
    cr_assert_geq(took, 90.0, "gave up after %.1f ms, not 100", took);
    cr_assert_lt(took, 1000.0, "waited %.1f ms, not 100", took);
    cr_assert_eq(o.type, PDC_T_NIL, "out is zeroed on a timeout");
    cr_assert_null(o.data);
    pdc_object_release(g_c, &o); /* a harmless no-op */
    int64_t v = 0;
    cr_assert_eq(pdc_get_i64(g_c, r, &v, 0), PDC_ETIMEOUT);
    cr_assert_eq(s_get_i64(r), 1500);
    pdc_ref_release(g_c, r);
}

/* ---- release ---------------------------------------------------------- */

Test(objects, releasing_a_large_put_frees_the_store) {
    unsigned char *b = s_pattern(LARGE, 4);
    pdc_ref r = s_put(PDC_BYTES(b, LARGE));
    free(b);
    pdc_object o;
    s_get(r, &o);
    pdc_ref_release(g_c, r);
    /* The object read is still valid: it holds its own reference. */
    cr_assert_eq(o.size, LARGE);
    cr_assert_eq(((const unsigned char *) o.data)[LARGE - 1],
                 (unsigned char) (((int64_t) (LARGE - 1) * 31 + 4) & 0xff));
    s_expect_objects(1, "while a pdc_object is held");
    pdc_object_release(g_c, &o);
    s_expect_objects(0, "after releasing the reference and the object");
}

Test(objects, retain_keeps_an_object_until_the_last_release) {
    unsigned char *b = s_pattern(LARGE, 6);
    pdc_ref r = s_put(PDC_BYTES(b, LARGE));
    free(b);
    pdc_ref_retain(g_c, r);
    pdc_ref_release(g_c, r);
    s_expect_objects(1, "after one of two releases");
    pdc_object o;
    s_get(r, &o);
    cr_assert_eq(o.size, LARGE);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    s_expect_objects(0, "after the last release");
    cr_assert_eq(pdc_get(g_c, r, &o, 0), PDC_ENOTFOUND, "a freed reference is unknown");
}

Test(objects, releasing_a_large_task_result_frees_the_store) {
    pdc_ref r = pdc_call(g_c, fn("make_bytes"), PDC_I64(LARGE), PDC_I64(8));
    pdc_object o;
    s_get(r, &o);
    cr_assert_eq(o.type, PDC_T_BYTES);
    cr_assert_eq(o.size, LARGE);
    cr_assert_eq((uintptr_t) o.data % 64, 0);
    s_expect_objects(1, "while the result is held");
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    s_expect_objects(0, "after releasing a large task result");
}

/* Released before the task finished: freed when its result arrives. */
Test(objects, released_before_done_result_is_freed_on_arrival) {
    pdc_ref slow = pdc_call(g_c, fn("sleep_ms"), PDC_I64(200));
    pdc_ref r = pdc_call(g_c, fn("make_bytes"), PDC_I64(LARGE), PDC_I64(1));
    pdc_ref_release(g_c, r);
    pdc_ref after = pdc_call(g_c, fn("sleep_ms"), PDC_I64(1));
    cr_assert_eq(s_get_i64(slow), 200);
    cr_assert_eq(s_get_i64(after), 1);
    /* make_bytes was pushed before `after` to the same pool; give its
       result a moment if it went to the other worker. */
    long n = -1;
    for (int i = 0; i < 100 && n != 0; i++) {
        n = itest_store_objects();
        if (n != 0)
            usleep(20 * 1000);
    }
    cr_assert_eq(n, 0, "the store still holds %ld objects", n);
    pdc_ref_release(g_c, slow);
    pdc_ref_release(g_c, after);
}

/* ---- cancel ----------------------------------------------------------- */

static double s_node_cpus(void) {
    const char *env = getenv("PDC_NUM_CPUS");
    if (env && atol(env) > 0)
        return (double) atol(env);
    return (double) sysconf(_SC_NPROCESSORS_ONLN);
}

Test(objects, cancel_a_task_queued_behind_long_ones) {
    /* Long tasks that take every CPU of the node, so a one-CPU task
       cannot get a worker and waits in the queue. */
    pdc_opts all = {.num_cpus = s_node_cpus()};
    pdc_ref warm = pdc_call_opts(g_c, fn("pid"), &all);
    s_get_i64(warm);
    pdc_ref_release(g_c, warm);
    pdc_ref longs[2];
    for (int i = 0; i < 2; i++)
        longs[i] = pdc_call_opts(g_c, fn("sleep_ms"), &all, PDC_I64(500));
    usleep(200 * 1000);
    pdc_ref victim = pdc_call(g_c, fn("add"), PDC_I64(1), PDC_I64(2));
    int rc = pdc_cancel(g_c, victim);
    cr_assert_eq(rc, PDC_OK, "pdc_cancel: %s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    pdc_object o;
    rc = pdc_get(g_c, victim, &o, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_ECANCELLED, "get of a cancelled task: %s", pdc_status_name(rc));
    cr_assert_eq(o.type, PDC_T_ERROR);
    cr_assert_eq(o.error.code, PDC_ECANCELLED);
    pdc_object_release(g_c, &o);
    cr_assert_eq(pdc_cancel(g_c, victim), PDC_EINVAL, "cancelling twice");
    /* A task that depends on the cancelled one fails with its error. */
    pdc_ref dep = pdc_call(g_c, fn("add"), PDC_REF(victim), PDC_I64(1));
    int64_t v;
    cr_assert_eq(pdc_get_i64(g_c, dep, &v, T_TIMEOUT_MS), PDC_ECANCELLED);
    pdc_ref_release(g_c, dep);
    pdc_ref_release(g_c, victim);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(s_get_i64(longs[i]), 500, "long task %d", i);
        cr_assert_eq(pdc_cancel(g_c, longs[i]), PDC_EINVAL, "cancelling a finished task");
        pdc_ref_release(g_c, longs[i]);
    }
}

Test(objects, cancel_a_task_waiting_for_its_argument) {
    pdc_ref slow = pdc_call(g_c, fn("sleep_ms"), PDC_I64(300));
    pdc_ref waiting = pdc_call(g_c, fn("add"), PDC_REF(slow), PDC_I64(1));
    cr_assert_eq(pdc_cancel(g_c, waiting), PDC_OK, "%s", pdc_last_error(g_c));
    int64_t v;
    cr_assert_eq(pdc_get_i64(g_c, waiting, &v, T_TIMEOUT_MS), PDC_ECANCELLED);
    cr_assert_eq(s_get_i64(slow), 300);
    pdc_ref_release(g_c, waiting);
    pdc_ref_release(g_c, slow);
}

Test(objects, cancel_a_finished_task_or_a_put_is_invalid) {
    pdc_ref r = pdc_call(g_c, fn("add"), PDC_I64(1), PDC_I64(1));
    cr_assert_eq(s_get_i64(r), 2);
    cr_assert_eq(pdc_cancel(g_c, r), PDC_EINVAL);
    cr_assert_eq(s_get_i64(r), 2, "the result is unchanged");
    pdc_ref p = s_put(PDC_I64(5));
    cr_assert_eq(pdc_cancel(g_c, p), PDC_EINVAL);
    pdc_ref_release(g_c, p);
    pdc_ref_release(g_c, r);
}

/* A worker that owns objects (its puts) takes them with it when it dies:
   its raylet derives the worker's id prefix and deletes them from every
   store.  Without that, a SIGKILLed worker's puts stayed until the
   cluster stopped. */
Test(objects, a_killed_workers_own_puts_go_from_the_store) {
    long before = itest_store_objects();
    cr_assert_geq(before, 0);
    int64_t pid = 0;
    pdc_ref r = pdc_call(g_c, fn("put_and_keep"), PDC_I64(256 * KIB));
    cr_assert_eq(pdc_get_i64(g_c, r, &pid, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    pdc_ref_release(g_c, r);
    cr_assert_eq(itest_store_objects(), before + 1, "the worker's put is in the store");
    cr_assert_eq(kill((pid_t) pid, SIGKILL), 0);
    long now = -1;
    for (int i = 0; i < 100 && (now = itest_store_objects()) != before; i++)
        usleep(50000);
    cr_assert_eq(now, before, "the dead worker's put is still in the store after 5 s");
}
