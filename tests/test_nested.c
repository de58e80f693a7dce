/*  test_nested: tasks that submit tasks, on a real embedded cluster.

    A task calls pdc_task_client(t) and submits and gets tasks of its own;
    recursion deeper than the node has CPUs (fib, a binary tree) finishes,
    because a worker blocked in pdc_get gives its CPU slot back; and a
    task hands a reference it got from one nested call to another.  Every
    nested get has a finite timeout inside the task, which fails the task
    rather than hanging.  The remote functions are in task_lib.c. */
#include "pdc_itest.h"

TestSuite(nested, .init = itest_setup, .fini = itest_teardown);

/* The timeout of every get inside the tasks; the driver waits longer. */
#define INNER_MS 20000

static int64_t s_get_i64(pdc_ref r) {
    int64_t v = 0;
    int rc = pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "%s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    return v;
}

Test(nested, task_submits_and_gets_tasks) {
    pdc_ref r = pdc_call(g_c, fn("nested_fanout"), PDC_I64(10), PDC_I64(INNER_MS));
    cr_assert_eq(s_get_i64(r), 55);
    pdc_ref_release(g_c, r);
}

Test(nested, many_nested_tasks_from_one_task) {
    pdc_ref r = pdc_call(g_c, fn("nested_fanout"), PDC_I64(1000), PDC_I64(INNER_MS));
    cr_assert_eq(s_get_i64(r), 1000 * 1001 / 2);
    pdc_ref_release(g_c, r);
}

/* Several parents at once, each with its own children. */
Test(nested, parallel_parents) {
    enum { N = 6 };
    pdc_ref r[N];
    for (int i = 0; i < N; i++)
        r[i] = pdc_call(g_c, fn("nested_fanout"), PDC_I64(20 + i), PDC_I64(INNER_MS));
    for (int i = 0; i < N; i++) {
        int64_t n = 20 + i;
        cr_assert_eq(s_get_i64(r[i]), n * (n + 1) / 2, "parent %d", i);
        pdc_ref_release(g_c, r[i]);
    }
}

/* fib(12) is 465 tasks, 12 deep: on 2 CPUs it needs the blocked parents'
   slots. */
Test(nested, recursive_fib) {
    double t0 = now_ms();
    pdc_ref r = pdc_call(g_c, fn("fib"), PDC_I64(12), PDC_I64(INNER_MS));
    cr_assert_eq(s_get_i64(r), 144);
    pdc_ref_release(g_c, r);
    cr_log_info("fib(12) in %.0f ms", now_ms() - t0);
}

/* A binary tree of depth 6: 127 tasks, 63 of them waiting on children. */
Test(nested, tree_sum_depth_six) {
    double t0 = now_ms();
    pdc_ref r = pdc_call(g_c, fn("tree_sum"), PDC_I64(6), PDC_I64(INNER_MS));
    cr_assert_eq(s_get_i64(r), 127);
    pdc_ref_release(g_c, r);
    cr_log_info("tree_sum(6) in %.0f ms", now_ms() - t0);
}

/* The recursion also works when the root asks for every CPU. */
Test(nested, recursion_under_a_task_holding_every_cpu) {
    const char *env = getenv("PDC_NUM_CPUS");
    long cpus = env && atol(env) > 0 ? atol(env) : sysconf(_SC_NPROCESSORS_ONLN);
    pdc_opts all = {.num_cpus = (double) cpus};
    pdc_ref r = pdc_call_opts(g_c, fn("tree_sum"), &all, PDC_I64(5), PDC_I64(INNER_MS));
    cr_assert_eq(s_get_i64(r), 63);
    pdc_ref_release(g_c, r);
}

static void s_pass_ref(size_t n) {
    unsigned char *want = malloc(n ? n : 1);
    cr_assert(want);
    fill_pattern(want, n, 13);
    pdc_ref r = pdc_call(g_c, fn("nested_pass_ref"), PDC_I64(n), PDC_I64(13), PDC_I64(INNER_MS));
    cr_assert_eq(s_get_i64(r), fnv1a(want, n), "%zu bytes", n);
    pdc_ref_release(g_c, r);
    free(want);
}

Test(nested, passes_a_small_nested_result_to_another_nested_call) {
    s_pass_ref(1000);
}

Test(nested, passes_a_large_nested_result_to_another_nested_call) {
    s_pass_ref(2 * MIB);
    /* The worker that owned the result freed it from the store. */
    long n = -1;
    for (int i = 0; i < 100 && n != 0; i++) {
        n = itest_store_objects();
        if (n != 0)
            usleep(20 * 1000);
    }
    cr_assert_eq(n, 0, "the store still holds %ld objects", n);
}

Test(nested, reads_a_large_nested_result) {
    size_t n = 4 * MIB;
    unsigned char *want = malloc(n);
    cr_assert(want);
    fill_pattern(want, n, 21);
    pdc_ref r = pdc_call(g_c, fn("nested_get_bytes"), PDC_I64(n), PDC_I64(21), PDC_I64(INNER_MS));
    cr_assert_eq(s_get_i64(r), fnv1a(want, n));
    pdc_ref_release(g_c, r);
    free(want);
}
