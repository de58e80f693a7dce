/*  test_resources: custom resources on one node.  The embedded cluster's
    raylet declares GPU=1 and edge=2 (PDC_RESOURCES) beside its 2 CPUs;
    tasks and actors ask for them with the resources option.  A GPU is
    held by one task at a time, two edge tasks run together, fractions
    add up, asking for more than the node has (or for a resource it
    lacks) fails with PDC_EINFEASIBLE naming it, and a malformed request
    is PDC_EINVAL. */
#include "pdc_itest.h"

static void s_setup(void) {
    setenv("PDC_RESOURCES", "GPU=1,edge=2", 1);
    itest_setup();
}

TestSuite(resources, .init = s_setup, .fini = itest_teardown);

/* Run four 200 ms span tasks with opts; whether any two overlapped. */
static int s_overlap(const char *resources) {
    enum { N = 4 };
    pdc_opts opts = {.resources = resources};
    pdc_ref r[N];
    int64_t span[N][3];
    for (int i = 0; i < N; i++)
        r[i] = pdc_call_opts(g_c, fn("span"), &opts, PDC_I64(200));
    for (int i = 0; i < N; i++) {
        pdc_object o;
        cr_assert_eq(pdc_get(g_c, r[i], &o, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
        cr_assert_eq(o.size, sizeof span[i]);
        memcpy(span[i], o.data, sizeof span[i]);
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, r[i]);
    }
    int overlap = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            overlap |= span[i][1] < span[j][2] && span[j][1] < span[i][2];
    return overlap;
}

Test(resources, a_task_needing_the_gpu_runs) {
    pdc_opts opts = {.resources = "GPU=1"};
    int64_t v;
    pdc_ref r = pdc_call_opts(g_c, fn("add"), &opts, PDC_I64(1), PDC_I64(2));
    cr_assert_eq(pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, 3);
    pdc_ref_release(g_c, r);
}

Test(resources, one_gpu_is_held_by_one_task_at_a_time) {
    cr_assert(!s_overlap("GPU=1"), "two GPU=1 tasks ran at once on a node with one GPU");
    cr_assert(s_overlap("edge=1"), "two edge=1 tasks did not run together on a node with edge=2");
    cr_assert(s_overlap("GPU=0.5"), "two GPU=0.5 tasks did not share the GPU");
}

Test(resources, infeasible_requests_name_the_resource) {
    const char *asks[] = {"GPU=2", "TPU=1"};
    const char *names[] = {"GPU", "TPU"};
    for (int i = 0; i < 2; i++) {
        pdc_opts opts = {.resources = asks[i]};
        pdc_ref r = pdc_call_opts(g_c, fn("add"), &opts, PDC_I64(1), PDC_I64(2));
        pdc_object o;
        int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
        cr_assert_eq(rc, PDC_EINFEASIBLE, "%s: %s", asks[i], pdc_status_name(rc));
        cr_assert(strstr(o.error.message, names[i]), "message: %s", o.error.message);
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, r);
    }
    /* The node keeps serving. */
    int64_t v;
    pdc_ref r = pdc_call(g_c, fn("add"), PDC_I64(2), PDC_I64(2));
    cr_assert_eq(pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS), PDC_OK);
    pdc_ref_release(g_c, r);
}

Test(resources, malformed_requests_are_einval) {
    const char *bad[] = {"GPU", "GPU=-1", "GPU=x", "=1", "CPU=1"};
    for (int i = 0; i < 5; i++) {
        pdc_opts opts = {.resources = bad[i]};
        pdc_ref r = pdc_call_opts(g_c, fn("add"), &opts, PDC_I64(1), PDC_I64(2));
        pdc_object o;
        cr_assert_eq(pdc_get(g_c, r, &o, T_TIMEOUT_MS), PDC_EINVAL, "'%s' was accepted", bad[i]);
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, r);
    }
}

Test(resources, an_actor_holds_its_resources_for_its_life) {
    pdc_actor_opts gpu = {.resources = "GPU=1"};
    pdc_actor *a = pdc_actor_create(g_c, g_lib, "Counter", &gpu, PDC_I64(0));
    cr_assert_eq(pdc_actor_ready(g_c, a, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    pdc_actor *b = pdc_actor_create(g_c, g_lib, "Counter", &gpu, PDC_I64(0));
    cr_assert_eq(pdc_actor_ready(g_c, b, 300), PDC_ETIMEOUT, "a second GPU actor was placed");
    cr_assert_eq(pdc_actor_kill(g_c, a), PDC_OK);
    cr_assert_eq(pdc_actor_ready(g_c, b, T_TIMEOUT_MS), PDC_OK, "the GPU was not given back: %s",
                 pdc_last_error(g_c));
    pdc_actor_release(g_c, a);
    pdc_actor_release(g_c, b);
}

/* pdc_nodes: the head's view of the cluster, with this node's resources
   (its 2 CPUs and the declared GPU=1, edge=2) in the form options take. */
Test(resources, nodes_lists_this_node_with_its_resources) {
    pdc_node_info nodes[4];
    int n = pdc_nodes(g_c, nodes, 4, T_TIMEOUT_MS);
    cr_assert_eq(n, 1, "pdc_nodes: %d: %s", n, pdc_last_error(g_c));
    cr_assert_str_eq(nodes[0].id, pdc_node_id(g_c));
    cr_assert(nodes[0].alive);
    cr_assert(strstr(nodes[0].total, "GPU=1") && strstr(nodes[0].total, "edge=2"), "total: %s",
              nodes[0].total);
    double cpus = 0;
    cr_assert(sscanf(nodes[0].total, "CPU=%lf,", &cpus) == 1 && cpus >= 1, "total: %s",
              nodes[0].total);
    cr_assert(*nodes[0].available, "available is filled");
    cr_assert_eq(pdc_nodes(g_c, NULL, 0, T_TIMEOUT_MS), 1, "counting only");
    cr_assert_eq(pdc_nodes(NULL, nodes, 4, 0), PDC_EINVAL);
}
