/*  test_placement: where work may run, on one node.  The embedded
    cluster's raylet is labelled tier=edge,zone=a (PDC_LABELS).  Label
    selectors that match run, ones that do not fail at once with
    PDC_EINFEASIBLE saying which label (an embedded cluster cannot grow,
    so nothing waits); spread and node affinity to this node run here;
    affinity to a node that does not exist fails hard and falls back
    soft; malformed options are PDC_EINVAL.  The multi-node side of the
    same options is in tests/netns. */
#include "pdc_itest.h"

static void s_setup(void) {
    setenv("PDC_LABELS", "tier=edge,zone=a", 1);
    itest_setup();
}

TestSuite(placement, .init = s_setup, .fini = itest_teardown);

/* The node a node() task ran on with opts, or the error code. */
static int s_run_node(const pdc_opts *opts, char *where, size_t len, char *why, size_t whylen) {
    pdc_ref r = pdc_call_opts(g_c, fn("node"), opts);
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    if (rc == PDC_OK && o.type == PDC_T_STR)
        snprintf(where, len, "%.*s", (int) o.size, (const char *) o.data);
    if (o.type == PDC_T_ERROR)
        snprintf(why, whylen, "%s", o.error.message);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    return rc;
}

Test(placement, a_matching_label_selector_runs_on_this_node) {
    const char *selectors[] = {"tier=edge", "tier=edge,zone=a", "zone in (a|b)", "tier",
                               "!spot",     "zone!=b"};
    for (int i = 0; i < 6; i++) {
        pdc_opts opts = {.label_selector = selectors[i]};
        char where[128] = "", why[512] = "";
        cr_assert_eq(s_run_node(&opts, where, sizeof where, why, sizeof why), PDC_OK, "%s: %s",
                     selectors[i], why);
        cr_assert_str_eq(where, pdc_node_id(g_c));
    }
}

Test(placement, a_selector_no_node_matches_fails_at_once_naming_the_label) {
    pdc_opts opts = {.label_selector = "tier=cloud"};
    char where[128], why[512] = "";
    double start = now_ms();
    cr_assert_eq(s_run_node(&opts, where, sizeof where, why, sizeof why), PDC_EINFEASIBLE);
    cr_assert(now_ms() - start < 5000, "an embedded cluster waited for a node that cannot join");
    cr_assert(strstr(why, "tier=cloud") && strstr(why, "tier=edge"), "message: %s", why);
}

Test(placement, an_actor_with_a_selector_no_node_matches_is_not_created) {
    pdc_actor_opts opts = {.label_selector = "zone=b"};
    pdc_actor *a = pdc_actor_create(g_c, g_lib, "Counter", &opts, PDC_I64(0));
    cr_assert(a, "%s", pdc_last_error(g_c));
    cr_assert_eq(pdc_actor_ready(g_c, a, T_TIMEOUT_MS), PDC_EINFEASIBLE);
    cr_assert(strstr(pdc_last_error(g_c), "zone=b"), "%s", pdc_last_error(g_c));
    pdc_actor_release(g_c, a);
}

Test(placement, spread_runs_everything_on_a_single_node) {
    enum { N = 50 };
    pdc_opts opts = {.strategy = PDC_SCHED_SPREAD};
    pdc_ref r[N];
    for (int i = 0; i < N; i++)
        r[i] = pdc_call_opts(g_c, fn("node"), &opts);
    for (int i = 0; i < N; i++) {
        pdc_object o;
        cr_assert_eq(pdc_get(g_c, r[i], &o, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
        cr_assert_eq(o.size, strlen(pdc_node_id(g_c)));
        cr_assert(!memcmp(o.data, pdc_node_id(g_c), o.size));
        pdc_object_release(g_c, &o);
        pdc_ref_release(g_c, r[i]);
    }
}

Test(placement, affinity_to_this_node_runs_here_and_to_no_node_fails_unless_soft) {
    char where[128] = "", why[512] = "";
    pdc_opts here = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = pdc_node_id(g_c)};
    cr_assert_eq(s_run_node(&here, where, sizeof where, why, sizeof why), PDC_OK, "%s", why);
    cr_assert_str_eq(where, pdc_node_id(g_c));
    pdc_opts hard = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = "no-such-node"};
    cr_assert_eq(s_run_node(&hard, where, sizeof where, why, sizeof why), PDC_EINFEASIBLE);
    cr_assert(strstr(why, "no-such-node"), "message: %s", why);
    pdc_opts soft = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = "no-such-node", .soft = 1};
    where[0] = '\0';
    cr_assert_eq(s_run_node(&soft, where, sizeof where, why, sizeof why), PDC_OK, "%s", why);
    cr_assert_str_eq(where, pdc_node_id(g_c));
}

Test(placement, malformed_options_are_einval) {
    pdc_opts bad[] = {{.strategy = 7},
                      {.strategy = PDC_SCHED_NODE_AFFINITY},
                      {.label_selector = "tier in (a,b)"},
                      {.label_selector = "=edge"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char where[128], why[512] = "";
        cr_assert_eq(s_run_node(&bad[i], where, sizeof where, why, sizeof why), PDC_EINVAL,
                     "case %zu", i);
        cr_assert(*why, "case %zu has no message", i);
    }
}
