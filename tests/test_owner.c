/*  test_owner: the parts of the owner core driven without a cluster.

    A bare client (its tables, mutex and registry, no sockets, no store)
    is enough for the object table, the task graph and the request
    registry: tasks are made with a recording hook, their results are set
    by hand and finished, and the test looks at what each part did.  The
    graph's two old bugs are here as they happened: a task waiting for
    two arguments, one of which fails first, must leave the other's
    dependents before it is freed (under AddressSanitizer the old code
    read it after free), and a dependent that leaves an object's list
    while the list is being walked must not make the walk skip another.
*/
#include <criterion/criterion.h>

#include "pdc_client_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static pdc_client *s_bare(void) {
    pdc_client *c = calloc(1, sizeof *c);
    cr_assert(c);
    pdc_config_load(&c->cfg);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    pdc_idmap_init(&c->objects);
    pdc_requests_init(&c->requests);
    snprintf(c->node_id, sizeof c->node_id, "test-node");
    c->inline_max = 1 << 20;
    return c;
}

static void s_bare_free(pdc_client *c) {
    pdc_obj_free_all(c);
    pdc_requests_free(&c->requests);
    while (c->strings) {
        interned_t *s = c->strings;
        c->strings = s->next;
        free(s);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

/* A hook that records what it was told, and may act on a ready task. */
#define MAX_SEEN 16
static task_t *s_ready_seen[MAX_SEEN], *s_done_seen[MAX_SEEN];
static int s_nready, s_ndone;
static task_t *s_fail_on_ready; /* when a task becomes ready, fail this one */

static void s_ready(pdc_client *c, task_t *t) {
    s_ready_seen[s_nready++ % MAX_SEEN] = t;
    t->state = T_QUEUED;
    if (s_fail_on_ready && s_fail_on_ready != t) {
        task_t *victim = s_fail_on_ready;
        s_fail_on_ready = NULL;
        pdc_graph_fail(c, victim, PDC_EACTORDIED, "", "failed by another task's hook");
    }
}

static void s_done(pdc_client *c, task_t *t) {
    (void) c;
    s_done_seen[s_ndone++ % MAX_SEEN] = t;
}

static const pdc_task_hook_t s_hook = {s_ready, s_done, NULL};

static void s_reset(void) {
    s_nready = s_ndone = 0;
    s_fail_on_ready = NULL;
}

/* A task with these arguments; NULL if it failed at once. */
static task_t *s_task(pdc_client *c, const char *name, const pdc_value *args, size_t n,
                      pdc_ref *ref) {
    return pdc_graph_task_new(c, pdc_client_intern(c, "lib.so"), pdc_client_intern(c, name), args,
                              n, &s_hook, NULL, ref);
}

/* Finish t with an int result, or with an error. */
static void s_finish_ok(pdc_client *c, task_t *t, int64_t v) {
    t->result->state = OBJ_READY;
    t->result->type = PDC_T_I64;
    t->result->i64 = v;
    pdc_graph_finish(c, t);
}

static int s_was_ready(task_t *t) {
    for (int i = 0; i < s_nready && i < MAX_SEEN; i++)
        if (s_ready_seen[i] == t)
            return 1;
    return 0;
}

Test(objects, counts_free_at_zero_and_errors_name_what_failed) {
    pdc_client *c = s_bare();
    uint8_t id[PDC_ID_LEN];
    pdc_id_new(id);
    obj_t *o = pdc_obj_new(c, id);
    cr_assert(o && pdc_obj_find(c, id) == o && o->refs == 1);
    o->refs++;
    pdc_obj_unref(c, o);
    cr_assert(pdc_obj_find(c, id) == o, "one reference left: still there");
    pdc_obj_fail(o, PDC_ETASK, "lib.so:f", "n1", "it broke");
    cr_assert_eq(o->state, OBJ_FAILED);
    cr_assert_str_eq(o->err.message, "it broke");
    pdc_obj_fail(o, PDC_EWORKERDIED, "lib.so:f", "n1", "failed again"); /* no leak */
    cr_assert_eq(o->err.code, PDC_EWORKERDIED);
    pdc_obj_unref(c, o);
    cr_assert_null(pdc_obj_find(c, id), "gone at zero");
    pdc_ref r = pdc_obj_error_ref(c, PDC_EINVAL, "pdc_x", "bad input");
    obj_t *e = pdc_obj_find(c, r.id);
    cr_assert(e && e->state == OBJ_FAILED && e->err.code == PDC_EINVAL);
    cr_assert_str_eq(pdc_last_error(NULL), "bad input");
    s_bare_free(c);
}

Test(graph, a_task_without_arguments_is_ready_at_submit_and_done_at_finish) {
    s_reset();
    pdc_client *c = s_bare();
    pdc_ref r;
    task_t *t = s_task(c, "f", NULL, 0, &r);
    cr_assert(t);
    cr_assert_eq(s_nready, 0, "not ready before submit");
    pdc_graph_submit(c, t);
    cr_assert_eq(s_nready, 1);
    s_finish_ok(c, t, 42);
    cr_assert_eq(s_ndone, 1);
    obj_t *o = pdc_obj_find(c, r.id);
    cr_assert(o && o->state == OBJ_READY && o->i64 == 42 && !o->task);
    s_bare_free(c);
}

Test(graph, a_task_waits_for_every_argument) {
    s_reset();
    pdc_client *c = s_bare();
    pdc_ref ra, rb, rt;
    task_t *a = s_task(c, "a", NULL, 0, &ra), *b = s_task(c, "b", NULL, 0, &rb);
    pdc_graph_submit(c, a);
    pdc_graph_submit(c, b);
    pdc_value args[] = {PDC_REF(ra), PDC_I64(7), PDC_REF(rb)};
    task_t *t = s_task(c, "t", args, 3, &rt);
    cr_assert(t);
    pdc_graph_submit(c, t);
    cr_assert_eq(t->pending_deps, 2);
    cr_assert(!s_was_ready(t));
    s_finish_ok(c, a, 1);
    cr_assert(!s_was_ready(t), "still waits for b");
    s_finish_ok(c, b, 2);
    cr_assert(s_was_ready(t), "ready once both are");
    s_finish_ok(c, t, 3);
    s_bare_free(c);
}

/* Bug 1: the task that saw its first argument fail was freed while still
   listed as a dependent of its second; finishing the second read it. */
Test(graph, a_failed_argument_ends_the_wait_for_the_others) {
    s_reset();
    pdc_client *c = s_bare();
    pdc_ref ra, rb, rt;
    task_t *a = s_task(c, "fails_first", NULL, 0, &ra);
    task_t *b = s_task(c, "finishes_later", NULL, 0, &rb);
    pdc_graph_submit(c, a);
    pdc_graph_submit(c, b);
    pdc_value args[] = {PDC_REF(ra), PDC_REF(rb)};
    task_t *t = s_task(c, "t", args, 2, &rt);
    pdc_graph_submit(c, t);
    obj_t *ob = pdc_obj_find(c, rb.id);
    cr_assert_eq(ob->ndependents, 1);
    pdc_graph_fail(c, a, PDC_ETASK, "n1", "first argument broke");
    obj_t *ot = pdc_obj_find(c, rt.id);
    cr_assert_eq(ot->state, OBJ_FAILED, "the task fails with its argument");
    cr_assert_eq(ot->err.code, PDC_ETASK);
    cr_assert(strstr(ot->err.message, "first argument broke"), "message: %s", ot->err.message);
    cr_assert_eq(ob->ndependents, 0, "the failed task left b's dependents");
    s_finish_ok(c, b, 5); /* the old code read the freed task here */
    cr_assert_eq(ob->state, OBJ_READY);
    s_bare_free(c);
}

/* Bug 2: telling one dependent may remove another from the list being
   walked (an actor dying fails its queued calls); none may be skipped. */
Test(graph, a_dependent_leaving_during_the_walk_skips_no_other) {
    s_reset();
    pdc_client *c = s_bare();
    pdc_ref ro, r1, r2, r3, r4;
    task_t *o = s_task(c, "slow", NULL, 0, &ro);
    pdc_graph_submit(c, o);
    pdc_value arg[] = {PDC_REF(ro)};
    task_t *t1 = s_task(c, "first", arg, 1, &r1);
    task_t *t2 = s_task(c, "victim", arg, 1, &r2);
    task_t *t3 = s_task(c, "third", arg, 1, &r3);
    task_t *t4 = s_task(c, "last", arg, 1, &r4);
    pdc_graph_submit(c, t1);
    pdc_graph_submit(c, t2);
    pdc_graph_submit(c, t3);
    pdc_graph_submit(c, t4);
    s_fail_on_ready = t2; /* t1's readiness fails t2 */
    s_finish_ok(c, o, 1);
    cr_assert(s_was_ready(t1));
    cr_assert(s_was_ready(t3), "the task after the one removed was told");
    cr_assert(s_was_ready(t4), "the last task was told (the old code moved it and skipped it)");
    cr_assert_eq(pdc_obj_find(c, r2.id)->state, OBJ_FAILED);
    s_finish_ok(c, t1, 1);
    s_finish_ok(c, t3, 3);
    s_finish_ok(c, t4, 4);
    s_bare_free(c);
}

Test(graph, unknown_and_invalid_arguments_fail_at_once_with_the_reason) {
    s_reset();
    pdc_client *c = s_bare();
    pdc_ref missing, r;
    memset(&missing, 0xab, sizeof missing);
    pdc_value args[] = {PDC_REF(missing)};
    cr_assert_null(s_task(c, "t", args, 1, &r));
    obj_t *o = pdc_obj_find(c, r.id);
    cr_assert(o && o->err.code == PDC_ENOTFOUND);
    cr_assert(strstr(o->err.message, "unknown object reference"), "%s", o->err.message);
    pdc_value bad[] = {{.type = (pdc_type) 99}};
    cr_assert_null(s_task(c, "t", bad, 1, &r));
    cr_assert_eq(pdc_obj_find(c, r.id)->err.code, PDC_EINVAL);
    s_bare_free(c);
}

static int s_answers;
static uint64_t s_last_id;
static void s_answer(pdc_client *c, void *ctx, uint64_t id, const pdc_msg_t *msg, void *sock) {
    (void) c;
    (void) msg;
    (void) sock;
    s_answers += *(int *) ctx;
    s_last_id = id;
}
static void s_reask(pdc_client *c, void *ctx, uint64_t id, void *raylet, unsigned flags) {
    (void) c;
    (void) raylet;
    (void) flags;
    s_answers += 100 * *(int *) ctx;
    s_last_id = id;
}

Test(requests, answers_go_to_the_asker_by_id) {
    pdc_client *c = s_bare();
    static const pdc_request_ops_t ops = {"a test", s_answer, s_reask};
    static const pdc_request_ops_t no_reask = {"a pull", s_answer, NULL};
    int one = 1, ten = 10;
    uint64_t a = pdc_requests_add(&c->requests, &ops, &one);
    uint64_t b = pdc_requests_add(&c->requests, &no_reask, &ten);
    cr_assert(a && b && a != b);
    pdc_msg_t msg = {.type = PDC_MSG_LEASE_GRANT, .request_id = b};
    cr_assert(pdc_requests_answer(c, &c->requests, &msg, NULL));
    cr_assert_eq(s_answers, 10);
    cr_assert_eq(s_last_id, b);
    cr_assert(pdc_requests_reask(c, &c->requests, a, NULL, 0));
    cr_assert_eq(s_answers, 110);
    cr_assert_not(pdc_requests_reask(c, &c->requests, b, NULL, 0), "b is no lease request");
    pdc_requests_drop(&c->requests, b);
    cr_assert_not(pdc_requests_answer(c, &c->requests, &msg, NULL), "dropped");
    msg.request_id = 0;
    cr_assert_not(pdc_requests_answer(c, &c->requests, &msg, NULL), "0 is nobody's");
    uint64_t d = pdc_requests_add(&c->requests, &ops, &one);
    cr_assert(d > b, "ids are not reused");
    s_bare_free(c);
}

Test(sched, options_are_checked_with_the_reason) {
    pdc_sched_t s;
    char why[256];
    cr_assert_eq(pdc_sched_from_opts(&s, 7, NULL, 0, NULL, NULL, why, sizeof why), PDC_EINVAL);
    cr_assert(strstr(why, "unknown strategy 7"), "%s", why);
    cr_assert_eq(
        pdc_sched_from_opts(&s, PDC_SCHED_NODE_AFFINITY, NULL, 0, NULL, NULL, why, sizeof why),
        PDC_EINVAL);
    cr_assert(strstr(why, "needs node_id"), "%s", why);
    cr_assert_eq(pdc_sched_from_opts(&s, PDC_SCHED_NODE_AFFINITY, "n2", 1, "tier=edge", NULL, why,
                                     sizeof why),
                 PDC_OK);
    cr_assert(s.soft && !strcmp(s.node, "n2") && !strcmp(s.labels, "tier=edge"));
}

Test(errors, every_status_and_type_has_a_name) {
    int codes[] = {PDC_OK,         PDC_EINVAL,      PDC_ETIMEOUT,   PDC_ENOMEM,
                   PDC_ECONNECT,   PDC_ESTOREFULL,  PDC_ETYPE,      PDC_EPROTO,
                   PDC_ENOTFOUND,  PDC_ESHUTDOWN,   PDC_ETASK,      PDC_ENOFUNC,
                   PDC_EARGS,      PDC_EWORKERDIED, PDC_ECANCELLED, PDC_EOBJECTLOST,
                   PDC_EOWNERDIED, PDC_EINFEASIBLE, PDC_EACTORDIED};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        cr_assert_str_neq(pdc_status_name(codes[i]), "PDC_E?", "code %d has no name", codes[i]);
    cr_assert_str_eq(pdc_status_name(PDC_EACTORDIED), "PDC_EACTORDIED");
    cr_assert_str_eq(pdc_type_name(PDC_T_ACTOR), "actor");
    cr_assert_str_eq(pdc_type_name(PDC_T_ERROR), "error");
}

/* Bug 3: a driver with ~340 actors aborted inside zsock_new at ZeroMQ's
   1 023 sockets.  Peers stop at the limit with an error naming it; here
   the limit is made small by lowering the descriptor limit first. */
Test(peer, opening_past_the_socket_limit_is_an_error_naming_it) {
    struct rlimit rl = {300, 300};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    pdc_peer_raise_limits(0);
    size_t limit = pdc_peer_limit();
    cr_assert(limit > 0 && limit < 300, "limit %zu", limit);
    pdc_config_t cfg;
    pdc_config_load(&cfg);
    pdc_peer_t *peers[400] = {0};
    cr_assert_eq(cfg.max_sockets, 0, "by default the descriptors set the limit");
    char why[512] = "";
    int n = 0;
    while (n < 400) {
        char endpoint[64];
        snprintf(endpoint, sizeof endpoint, "ipc:///tmp/pdc-test-no-such-peer-%d", n);
        peers[n] = pdc_peer_new(NULL, &cfg, endpoint, NULL, NULL, why, sizeof why);
        if (!peers[n])
            break;
        n++;
    }
    cr_assert(n > 0 && n < 400, "opened %d peers", n);
    cr_assert((size_t) n <= limit);
    cr_assert(strstr(why, "too many connections") && strstr(why, "ulimit -n"), "why: %s", why);
    for (int i = 0; i < n; i++)
        pdc_peer_destroy(&peers[i], 0);
    cr_assert_eq(pdc_peer_count(), 0);
}

static void s_ignore_event(pdc_peer_t *peer, unsigned events, void *arg) {
    (void) peer, (void) events, (void) arg;
}

/* A peer opened right after another was closed (malloc hands it the same
   address) still gets a monitor of its own: a lease's connection without
   one would never hear that its worker died. */
Test(peer, a_peer_made_where_a_closed_one_was_is_monitored) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    pdc_config_t cfg;
    pdc_config_load(&cfg);
    char why[512] = "";
    for (int i = 0; i < 200; i++) {
        pdc_peer_t *p = pdc_peer_new(&loop, &cfg, "ipc:///tmp/pdc-test-no-such-peer", NULL, NULL,
                                     why, sizeof why);
        cr_assert(p, "peer %d: %s", i, why);
        cr_assert_eq(pdc_peer_monitor(p, ZMQ_EVENT_DISCONNECTED, s_ignore_event), 0,
                     "peer %d got no monitor: %s", i, zmq_strerror(zmq_errno()));
        pdc_peer_unwatch(p);
        pdc_peer_destroy(&p, 0);
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

/* The scheduler's policy: short tasks in batches shared among leases,
   long ones two to a worker with a lease request per two tasks, spread
   one task per lease and a request per task. */
Test(sched, short_tasks_go_in_batches_shared_among_leases) {
    pdc_config_t cfg;
    pdc_config_load(&cfg);
    cfg.max_tasks_in_flight = 64;
    cfg.spread_min_us = 1000;
    sched_class_t k = {.busy_us = 10, .queue.count = 100};
    lease_t a = {0}, b = {0};
    k.leases = &a;
    cr_assert_eq(pdc_sched_push_count(&cfg, &k, &a), 64, "one lease: a full batch");
    a.next = &b;
    cr_assert_eq(pdc_sched_push_count(&cfg, &k, &a), 50, "two leases share the queue");
    a.tasks.count = 60;
    cr_assert_eq(pdc_sched_push_count(&cfg, &k, &a), 4, "up to max_tasks_in_flight");
    cr_assert_eq(pdc_sched_requests_wanted(&cfg, &k), 1, "one request at a time");
}

Test(sched, long_tasks_go_two_to_a_worker_and_ask_for_more_leases) {
    pdc_config_t cfg;
    pdc_config_load(&cfg);
    cfg.max_pending_lease_requests = 10;
    sched_class_t k = {.busy_us = -1, .queue.count = 8}; /* not measured yet: long */
    lease_t a = {0};
    k.leases = &a;
    cr_assert_eq(pdc_sched_push_count(&cfg, &k, &a), 2);
    cr_assert_eq(pdc_sched_requests_wanted(&cfg, &k), 4);
    k.queue.count = 100;
    cr_assert_eq(pdc_sched_requests_wanted(&cfg, &k), 10, "capped");
    k.queue.count = 0;
    cr_assert_eq(pdc_sched_requests_wanted(&cfg, &k), 0, "nothing queued, nothing asked");
}

Test(sched, spread_runs_one_task_per_lease) {
    pdc_config_t cfg;
    pdc_config_load(&cfg);
    sched_class_t k = {.busy_us = 10, .queue.count = 5, .sched = {.strategy = PDC_SCHED_SPREAD}};
    lease_t a = {0};
    k.leases = &a;
    cr_assert_eq(pdc_sched_push_count(&cfg, &k, &a), 1);
    a.spent = 1;
    cr_assert_eq(pdc_sched_push_count(&cfg, &k, &a), 0, "a spent spread lease takes no more");
    cr_assert_eq(pdc_sched_requests_wanted(&cfg, &k), 5, "a request per queued task");
}

Test(graph, task_lists_keep_order_and_counts) {
    task_t t[4] = {0};
    pdc_task_list_t list = {0};
    pdc_task_list_push(&list, &t[1], 0);
    pdc_task_list_push(&list, &t[2], 0);
    pdc_task_list_push(&list, &t[0], 1);
    pdc_task_list_push(&list, &t[3], 0);
    cr_assert_eq(list.count, 4);
    task_t *order[4], *x = list.head;
    for (int i = 0; i < 4; i++, x = x->next)
        order[i] = x;
    for (int i = 0; i < 4; i++)
        cr_assert_eq(order[i], &t[i], "position %d", i);
    pdc_task_list_remove(&t[2]); /* the middle */
    pdc_task_list_remove(&t[0]); /* the head */
    pdc_task_list_remove(&t[3]); /* the tail */
    cr_assert(list.head == &t[1] && list.tail == &t[1] && list.count == 1);
    cr_assert_null(t[2].list);
    pdc_task_list_remove(&t[2]); /* in no list: nothing happens */
    pdc_task_list_remove(&t[1]);
    cr_assert(!list.head && !list.tail && list.count == 0);
}
