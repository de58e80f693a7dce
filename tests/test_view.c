/*  test_view: the placement policy (runtime/raylet/pdc_view.c) on views
    built by hand: no daemon, just the decisions.  Nodes "a" (this one),
    "b" and "c", 2 CPU each unless a test says otherwise; "c" has GPU=1
    and tier=edge. */
#include "pdc_view.h"

#include <criterion/criterion.h>
#include <string.h>

static pdc_view_t g_view;

static pdc_view_node_t *s_node(const char *id, double cpus, double free_cpus, const char *res,
                               const char *labels) {
    pdc_view_node_t *n = pdc_view_upsert(&g_view, id);
    cr_assert(n);
    n->alive = 1;
    n->cpu_total = cpus;
    n->cpu_available = free_cpus;
    char err[256];
    cr_assert_eq(pdc_resources_parse(res, &n->total, err, sizeof err), 0, "%s", err);
    n->available = n->total;
    cr_assert_eq(pdc_labels_parse(labels, &n->labels, err, sizeof err), 0, "%s", err);
    return n;
}

static void s_setup(void) {
    pdc_view_init(&g_view);
    s_node("a", 2, 2, "", "");
    s_node("b", 2, 2, "", "tier=cloud");
    s_node("c", 2, 2, "GPU=1", "tier=edge");
}

static void s_teardown(void) {
    pdc_view_free(&g_view);
}

TestSuite(view, .init = s_setup, .fini = s_teardown);

static pdc_lease_shape_t s_shape(double cpus, const char *res, const char *selector) {
    pdc_lease_shape_t s;
    memset(&s, 0, sizeof s);
    s.cpus = cpus;
    char err[256];
    cr_assert_eq(pdc_resources_parse(res, &s.res, err, sizeof err), 0, "%s", err);
    cr_assert_eq(pdc_selector_parse(selector, &s.selector, err, sizeof err), 0, "%s", err);
    return s;
}

/* Place s from node "a"; the target's id (or "" for none) into where. */
static pdc_place_t s_place(const pdc_lease_shape_t *s, const char **where, char *why, size_t len) {
    pdc_view_node_t *target = NULL;
    pdc_place_t p = pdc_view_place(&g_view, "a", 50, s, &target, why, len);
    *where = target ? target->id : "";
    return p;
}

Test(view, default_stays_local_below_the_threshold) {
    pdc_lease_shape_t s = s_shape(1, "", "");
    const char *where;
    char why[512];
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_LOCAL);
    cr_assert_str_eq(where, "a");
}

Test(view, default_spills_to_the_least_used_node_with_room_above_the_threshold) {
    pdc_view_find(&g_view, "a")->cpu_available = 1; /* 50% used */
    pdc_view_find(&g_view, "b")->cpu_available = 1;
    pdc_lease_shape_t s = s_shape(1, "", "");
    const char *where;
    char why[512];
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_REMOTE);
    cr_assert_str_eq(where, "c");
    /* Counted there until the next view: c is now as used as b, and the
       ties favour this node, which still has room. */
    cr_assert_eq(pdc_view_find(&g_view, "c")->cpu_available, 1);
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_LOCAL);
}

Test(view, default_queues_here_when_no_node_has_room) {
    for (int i = 0; i < g_view.n; i++)
        g_view.nodes[i].cpu_available = 0;
    pdc_lease_shape_t s = s_shape(1, "", "");
    const char *where;
    char why[512];
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_LOCAL);
}

Test(view, the_node_holding_the_arguments_wins_if_it_has_room) {
    pdc_lease_shape_t s = s_shape(1, "", "");
    snprintf(s.locality, sizeof s.locality, "b");
    const char *where;
    char why[512];
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_REMOTE);
    cr_assert_str_eq(where, "b");
    pdc_view_find(&g_view, "b")->cpu_available = 0;
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_LOCAL);
}

Test(view, resources_and_labels_limit_the_nodes) {
    const char *where;
    char why[512];
    pdc_lease_shape_t gpu = s_shape(1, "GPU=1", "");
    cr_assert_eq(s_place(&gpu, &where, why, sizeof why), PDC_PLACE_REMOTE);
    cr_assert_str_eq(where, "c");
    pdc_lease_shape_t edge = s_shape(1, "", "tier=edge");
    cr_assert_eq(s_place(&edge, &where, why, sizeof why), PDC_PLACE_REMOTE);
    cr_assert_str_eq(where, "c");
    pdc_lease_shape_t not_edge = s_shape(1, "", "tier!=edge,tier");
    cr_assert_eq(s_place(&not_edge, &where, why, sizeof why), PDC_PLACE_REMOTE);
    cr_assert_str_eq(where, "b");
}

Test(view, nothing_feasible_waits_and_says_what_is_missing) {
    const char *where;
    char why[512];
    pdc_lease_shape_t tpu = s_shape(1, "TPU=1", "");
    cr_assert_eq(s_place(&tpu, &where, why, sizeof why), PDC_PLACE_WAIT);
    cr_assert(strstr(why, "TPU"), "%s", why);
    pdc_lease_shape_t big = s_shape(3, "", "");
    cr_assert_eq(s_place(&big, &where, why, sizeof why), PDC_PLACE_WAIT);
    cr_assert(strstr(why, "3 CPU"), "%s", why);
    pdc_lease_shape_t moon = s_shape(1, "", "tier=moon");
    cr_assert_eq(s_place(&moon, &where, why, sizeof why), PDC_PLACE_WAIT);
    cr_assert(strstr(why, "tier=moon"), "%s", why);
}

Test(view, spread_takes_the_feasible_nodes_in_turn) {
    pdc_lease_shape_t s = s_shape(1, "", "");
    s.strategy = PDC_SCHED_SPREAD;
    int count[3] = {0};
    for (int i = 0; i < 300; i++) {
        const char *where;
        char why[512];
        pdc_place_t p = s_place(&s, &where, why, sizeof why);
        cr_assert(p == PDC_PLACE_LOCAL || p == PDC_PLACE_REMOTE);
        count[where[0] - 'a']++;
    }
    cr_assert(count[0] == 100 && count[1] == 100 && count[2] == 100, "%d %d %d", count[0], count[1],
              count[2]);
}

Test(view, hard_affinity_goes_there_or_fails_naming_why) {
    const char *where;
    char why[512];
    pdc_lease_shape_t s = s_shape(1, "", "");
    s.strategy = PDC_SCHED_NODE_AFFINITY;
    snprintf(s.affinity, sizeof s.affinity, "b");
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_REMOTE);
    cr_assert_str_eq(where, "b");
    pdc_view_find(&g_view, "b")->alive = 0;
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_FAIL);
    cr_assert(strstr(why, "node b is dead"), "%s", why);
    snprintf(s.affinity, sizeof s.affinity, "zz");
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_WAIT,
                 "an unknown node may be joining");
    cr_assert(strstr(why, "zz"), "%s", why);
}

Test(view, soft_affinity_falls_back) {
    const char *where;
    char why[512];
    pdc_lease_shape_t s = s_shape(1, "", "");
    s.strategy = PDC_SCHED_NODE_AFFINITY;
    s.flags = PDC_LEASE_SOFT;
    snprintf(s.affinity, sizeof s.affinity, "b");
    pdc_view_find(&g_view, "b")->alive = 0;
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_LOCAL);
    snprintf(s.affinity, sizeof s.affinity, "zz");
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_LOCAL);
}

Test(view, a_spilled_request_stays_or_fails_never_moves_on) {
    const char *where;
    char why[512];
    for (int i = 0; i < g_view.n; i++)
        g_view.nodes[i].cpu_available = 0;
    pdc_lease_shape_t s = s_shape(1, "", "");
    s.flags = PDC_LEASE_SPILLED;
    cr_assert_eq(s_place(&s, &where, why, sizeof why), PDC_PLACE_LOCAL);
    pdc_lease_shape_t gpu = s_shape(1, "GPU=1", "");
    gpu.flags = PDC_LEASE_SPILLED;
    cr_assert_eq(s_place(&gpu, &where, why, sizeof why), PDC_PLACE_FAIL);
    cr_assert(strstr(why, "GPU"), "%s", why);
}

Test(view, dead_nodes_are_never_chosen) {
    pdc_view_find(&g_view, "c")->alive = 0;
    const char *where;
    char why[512];
    pdc_lease_shape_t gpu = s_shape(1, "GPU=1", "");
    cr_assert_eq(s_place(&gpu, &where, why, sizeof why), PDC_PLACE_WAIT);
    pdc_lease_shape_t s = s_shape(1, "", "");
    s.strategy = PDC_SCHED_SPREAD;
    for (int i = 0; i < 10; i++) {
        s_place(&s, &where, why, sizeof why);
        cr_assert_str_neq(where, "c");
    }
}
