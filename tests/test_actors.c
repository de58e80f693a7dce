/*  test_actors: stateful C actors on a real embedded cluster: state kept
    across calls, per-caller ordering, handles passed to tasks and to
    other actors, named actors and name clashes, kill and PDC_EACTORDIED,
    method errors, unknown methods, wrong argument types, creation
    errors, and max_concurrency running calls in parallel.  The class is
    Counter in task_lib.c. */
#include "pdc_itest.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

TestSuite(actors, .init = itest_setup, .fini = itest_teardown);

static pdc_actor *s_counter(int64_t start, const pdc_actor_opts *opts) {
    pdc_actor *a = pdc_actor_create(g_c, g_lib, "Counter", opts, PDC_I64(start));
    cr_assert(a, "create: %s", pdc_last_error(g_c));
    return a;
}

static int64_t s_call_i64(pdc_actor *a, const char *method, int64_t arg) {
    pdc_ref r = pdc_actor_call(g_c, a, method, PDC_I64(arg));
    int64_t v = 0;
    int rc = pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "%s(%lld): %s: %s", method, (long long) arg, pdc_status_name(rc),
                 pdc_last_error(g_c));
    pdc_ref_release(g_c, r);
    return v;
}

static int s_call_status(pdc_actor *a, pdc_ref r, pdc_error *err_out) {
    (void) a;
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    if (err_out && o.type == PDC_T_ERROR) {
        static char msg[1024];
        snprintf(msg, sizeof msg, "%s", o.error.message);
        *err_out = o.error;
        err_out->message = msg;
        err_out->function = err_out->node = "";
    }
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    return rc;
}

Test(actors, state_is_kept_across_calls) {
    pdc_actor *a = s_counter(10, NULL);
    cr_assert_eq(pdc_actor_ready(g_c, a, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    for (int i = 1; i <= 100; i++)
        cr_assert_eq(s_call_i64(a, "incr", 1), 10 + i);
    cr_assert_eq(s_call_i64(a, "get", 0), 110);
    pdc_actor_release(g_c, a);
}

Test(actors, calls_before_ready_wait_for_the_constructor) {
    pdc_actor *a = s_counter(5, NULL);
    pdc_ref r[50];
    for (int i = 0; i < 50; i++)
        r[i] = pdc_actor_call(g_c, a, "incr", PDC_I64(1));
    for (int i = 0; i < 50; i++) {
        int64_t v;
        cr_assert_eq(pdc_get_i64(g_c, r[i], &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
        cr_assert_eq(v, 6 + i, "call %d saw %lld", i, (long long) v);
        pdc_ref_release(g_c, r[i]);
    }
    pdc_actor_release(g_c, a);
}

/* Two callers (threads of this driver, and a task as a second process)
   each make 10 000 calls; the actor checks each caller's sequence. */
typedef struct {
    pdc_actor *a;
    int caller, n, failures;
    char why[512];
} order_arg_t;

static void *s_ordered_caller(void *p) {
    order_arg_t *o = p;
    pdc_ref *r = malloc((size_t) o->n * sizeof *r);
    for (int i = 0; i < o->n; i++)
        r[i] = pdc_actor_call(g_c, o->a, "check_order", PDC_I64(o->caller), PDC_I64(i + 1));
    for (int i = 0; i < o->n; i++) {
        int64_t v;
        int rc = pdc_get_i64(g_c, r[i], &v, T_TIMEOUT_MS);
        if ((rc != PDC_OK || v != i + 1) && !o->failures++)
            snprintf(o->why, sizeof o->why, "call %d: %s", i, pdc_last_error(g_c));
        pdc_ref_release(g_c, r[i]);
    }
    free(r);
    return NULL;
}

Test(actors, each_callers_calls_run_in_submission_order) {
    pdc_actor *a = s_counter(0, NULL);
    order_arg_t args[2] = {{a, 1, 10000, 0, ""}, {a, 2, 10000, 0, ""}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, s_ordered_caller, &args[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(args[i].failures, 0, "caller %d: %d out of order, first: %s", i + 1,
                     args[i].failures, args[i].why);
    pdc_actor_release(g_c, a);
}

Test(actors, handle_passed_to_tasks) {
    pdc_actor *a = s_counter(0, NULL);
    pdc_ref r[4];
    for (int i = 0; i < 4; i++)
        r[i] = pdc_call(g_c, fn("use_actor"), PDC_ACTOR(a), PDC_I64(1), PDC_I64(25));
    for (int i = 0; i < 4; i++) {
        int64_t v;
        cr_assert_eq(pdc_get_i64(g_c, r[i], &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
        pdc_ref_release(g_c, r[i]);
    }
    cr_assert_eq(s_call_i64(a, "get", 0), 100, "the tasks' 100 increments reached one actor");
    pdc_actor_release(g_c, a);
}

Test(actors, handle_passed_to_another_actor) {
    pdc_actor *a = s_counter(0, NULL), *b = s_counter(1000, NULL);
    pdc_ref r = pdc_actor_call(g_c, a, "call_other", PDC_ACTOR(b), PDC_I64(7));
    int64_t v;
    cr_assert_eq(pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, 1007);
    pdc_ref_release(g_c, r);
    cr_assert_eq(s_call_i64(b, "get", 0), 1007);
    cr_assert_eq(s_call_i64(a, "get", 0), 0);
    pdc_actor_release(g_c, a);
    pdc_actor_release(g_c, b);
}

Test(actors, named_actor_is_found_and_a_second_name_clashes) {
    pdc_actor_opts opts = {.name = "the-counter"};
    pdc_actor *a = s_counter(40, &opts);
    cr_assert_eq(pdc_actor_ready(g_c, a, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    pdc_actor *found = pdc_actor_get_named(g_c, "the-counter", NULL, T_TIMEOUT_MS);
    cr_assert(found, "lookup: %s", pdc_last_error(g_c));
    cr_assert_eq(s_call_i64(found, "incr", 2), 42);
    cr_assert_eq(s_call_i64(a, "get", 0), 42);

    pdc_actor *twin = s_counter(0, &opts);
    int rc = pdc_actor_ready(g_c, twin, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_EINVAL, "a second 'the-counter': %s", pdc_status_name(rc));
    cr_assert(strstr(pdc_last_error(g_c), "the-counter"), "message: %s", pdc_last_error(g_c));

    pdc_actor_opts other_ns = {.name = "the-counter", .ns = "elsewhere"};
    pdc_actor *third = s_counter(1, &other_ns);
    cr_assert_eq(pdc_actor_ready(g_c, third, T_TIMEOUT_MS), PDC_OK, "another namespace: %s",
                 pdc_last_error(g_c));

    cr_assert_null(pdc_actor_get_named(g_c, "no-such-actor", NULL, 200));
    cr_assert_eq(pdc_actor_kill(g_c, a), PDC_OK);
    /* The name is free once the actor is dead. */
    pdc_actor *again = NULL;
    for (int i = 0; i < 100 && !again; i++) {
        pdc_actor *n = s_counter(0, &opts);
        if (pdc_actor_ready(g_c, n, T_TIMEOUT_MS) == PDC_OK)
            again = n;
        else
            usleep(20000);
    }
    cr_assert(again, "the name of a killed actor was not freed");
    pdc_actor_release(g_c, found);
    pdc_actor_release(g_c, a);
}

Test(actors, kill_runs_the_destructor_and_calls_fail_with_actor_died) {
    char marker[PATH_MAX];
    snprintf(marker, sizeof marker, "/tmp/pdc-test/destructor-%d", (int) getpid());
    unlink(marker);
    /* Workers inherit the raylet's environment, which inherited ours. */
    pdc_shutdown(&g_c);
    setenv("PDC_TEST_DESTRUCTOR_MARKER", marker, 1);
    g_c = pdc_init(NULL);
    cr_assert(g_c);

    pdc_actor *a = s_counter(0, NULL);
    cr_assert_eq(s_call_i64(a, "incr", 1), 1);
    pdc_ref slow = pdc_actor_call(g_c, a, "slow", PDC_I64(300));
    pdc_ref later = pdc_actor_call(g_c, a, "incr", PDC_I64(1));
    cr_assert_eq(pdc_actor_kill(g_c, a), PDC_OK);
    cr_assert_eq(s_call_status(a, slow, NULL), PDC_EACTORDIED);
    cr_assert_eq(s_call_status(a, later, NULL), PDC_EACTORDIED);
    cr_assert_eq(s_call_status(a, pdc_actor_call(g_c, a, "get", PDC_I64(0)), NULL), PDC_EACTORDIED);
    cr_assert_eq(pdc_actor_kill(g_c, a), PDC_EACTORDIED, "a second kill");
    struct stat st;
    int seen = 0;
    for (int i = 0; i < 200 && !seen; i++, usleep(10000))
        seen = stat(marker, &st) == 0;
    cr_assert(seen, "the destructor did not run");
    pdc_actor_release(g_c, a);
    pdc_shutdown(&g_c);
    unsetenv("PDC_TEST_DESTRUCTOR_MARKER");
    unlink(marker);
    g_c = pdc_init(NULL); /* for the fixture's teardown */
}

Test(actors, crashed_actor_fails_its_calls_without_a_hang) {
    pdc_actor *a = s_counter(0, NULL);
    pid_t pid = (pid_t) s_call_i64(a, "actor_pid", 0);
    pdc_ref pending = pdc_actor_call(g_c, a, "slow", PDC_I64(2000));
    usleep(100000);
    kill(pid, SIGKILL);
    cr_assert_eq(s_call_status(a, pending, NULL), PDC_EACTORDIED);
    cr_assert_eq(s_call_status(a, pdc_actor_call(g_c, a, "get", PDC_I64(0)), NULL), PDC_EACTORDIED);
    /* The cluster keeps serving. */
    pdc_actor *b = s_counter(3, NULL);
    cr_assert_eq(s_call_i64(b, "incr", 1), 4);
    pdc_actor_release(g_c, a);
    pdc_actor_release(g_c, b);
}

Test(actors, method_errors_are_values_and_the_actor_keeps_serving) {
    pdc_actor *a = s_counter(0, NULL);
    pdc_error err;
    int rc = s_call_status(a, pdc_actor_call(g_c, a, "fail", PDC_STR("on purpose")), &err);
    cr_assert_eq(rc, PDC_ETASK);
    cr_assert(strstr(err.message, "on purpose"), "message: %s", err.message);
    rc = s_call_status(a, pdc_actor_call(g_c, a, "no_such_method", PDC_I64(1)), &err);
    cr_assert_eq(rc, PDC_ENOFUNC);
    cr_assert(strstr(err.message, "no_such_method"), "message: %s", err.message);
    rc = s_call_status(a, pdc_actor_call(g_c, a, "incr", PDC_STR("one")), &err);
    cr_assert_eq(rc, PDC_EARGS);
    cr_assert(strstr(err.message, "argument 0"), "message: %s", err.message);
    cr_assert_eq(s_call_i64(a, "incr", 5), 5, "the actor still serves");
    pdc_actor_release(g_c, a);
}

Test(actors, creation_errors_surface_on_ready_and_on_calls) {
    pdc_actor *bad_class = pdc_actor_create(g_c, g_lib, "NoSuchClass", NULL);
    cr_assert_eq(pdc_actor_ready(g_c, bad_class, T_TIMEOUT_MS), PDC_ENOFUNC);
    cr_assert(strstr(pdc_last_error(g_c), "NoSuchClass"), "message: %s", pdc_last_error(g_c));
    cr_assert_eq(s_call_status(bad_class, pdc_actor_call(g_c, bad_class, "get", PDC_I64(0)), NULL),
                 PDC_ENOFUNC);

    pdc_actor *refused = pdc_actor_create(g_c, g_lib, "Counter", NULL, PDC_STR("no thanks"));
    cr_assert_eq(pdc_actor_ready(g_c, refused, T_TIMEOUT_MS), PDC_ETASK);
    cr_assert(strstr(pdc_last_error(g_c), "no thanks"), "message: %s", pdc_last_error(g_c));

    pdc_actor_opts big = {.num_cpus = 64};
    pdc_actor *infeasible = pdc_actor_create(g_c, g_lib, "Counter", &big, PDC_I64(0));
    cr_assert_eq(pdc_actor_ready(g_c, infeasible, T_TIMEOUT_MS), PDC_EINFEASIBLE);

    pdc_actor *bad_lib = pdc_actor_create(g_c, "/nonexistent/lib.so", "Counter", NULL);
    cr_assert_eq(pdc_actor_ready(g_c, bad_lib, T_TIMEOUT_MS), PDC_ENOFUNC);

    pdc_actor *good = s_counter(1, NULL);
    cr_assert_eq(s_call_i64(good, "incr", 1), 2, "the cluster keeps serving");
    pdc_actor *all[] = {bad_class, refused, infeasible, bad_lib, good};
    for (int i = 0; i < 5; i++)
        pdc_actor_release(g_c, all[i]);
}

Test(actors, max_concurrency_runs_calls_in_parallel) {
    pdc_actor_opts opts = {.max_concurrency = 4};
    pdc_actor *a = s_counter(0, &opts);
    pdc_ref r[4];
    double t0 = now_ms();
    for (int i = 0; i < 4; i++)
        r[i] = pdc_actor_call(g_c, a, "slow", PDC_I64(300));
    int64_t peak = 0;
    for (int i = 0; i < 4; i++) {
        int64_t v;
        cr_assert_eq(pdc_get_i64(g_c, r[i], &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
        if (v > peak)
            peak = v;
        pdc_ref_release(g_c, r[i]);
    }
    cr_assert_geq(peak, 2, "calls never overlapped (peak %lld)", (long long) peak);
    cr_log_info("4 x 300 ms calls with max_concurrency 4: %.0f ms, peak %lld", now_ms() - t0,
                (long long) peak);

    pdc_actor *serial = s_counter(0, NULL);
    for (int i = 0; i < 3; i++)
        r[i] = pdc_actor_call(g_c, serial, "slow", PDC_I64(50));
    for (int i = 0; i < 3; i++) {
        int64_t v;
        cr_assert_eq(pdc_get_i64(g_c, r[i], &v, T_TIMEOUT_MS), PDC_OK);
        cr_assert_eq(v, 1, "the default runs one call at a time");
        pdc_ref_release(g_c, r[i]);
    }
    pdc_actor_release(g_c, a);
    pdc_actor_release(g_c, serial);
}

Test(actors, many_actors_on_two_cpus) {
    enum { N = 6 };
    pdc_actor *a[N];
    for (int i = 0; i < N; i++)
        a[i] = s_counter(i * 100, NULL);
    for (int i = 0; i < N; i++)
        cr_assert_eq(s_call_i64(a[i], "incr", 1), i * 100 + 1);
    for (int i = 0; i < N; i++)
        pdc_actor_release(g_c, a[i]);
}

/* A call waiting for a reference argument holds back the calls made
   after it: get() must see the increment submitted before it. */
Test(actors, a_call_waiting_for_an_argument_keeps_its_place) {
    pdc_actor *a = s_counter(0, NULL);
    cr_assert_eq(pdc_actor_ready(g_c, a, T_TIMEOUT_MS), PDC_OK);
    pdc_ref slow = pdc_call(g_c, fn("sleep_ms"), PDC_I64(300));
    pdc_ref r1 = pdc_actor_call(g_c, a, "incr", PDC_REF(slow));
    pdc_ref r2 = pdc_actor_call(g_c, a, "get", PDC_I64(0));
    int64_t slept, v1, v2;
    cr_assert_eq(pdc_get_i64(g_c, slow, &slept, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(pdc_get_i64(g_c, r1, &v1, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(pdc_get_i64(g_c, r2, &v2, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v1, slept);
    cr_assert_eq(v2, slept, "get() ran before the incr submitted ahead of it");
    pdc_ref_release(g_c, slow);
    pdc_ref_release(g_c, r1);
    pdc_ref_release(g_c, r2);
    pdc_actor_release(g_c, a);
}

static int s_alive(pid_t pid) {
    return kill(pid, 0) == 0;
}

/* An actor dies with the process that created it; a detached one lives
   on and is still found by name. */
Test(actors, actor_dies_with_its_creator_unless_detached) {
    pdc_ref r = pdc_call(g_c, fn("make_actors"));
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, r, &o, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    int64_t pids[3];
    cr_assert_eq(o.size, sizeof pids);
    memcpy(pids, o.data, sizeof pids);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    cr_assert(s_alive((pid_t) pids[1]) && s_alive((pid_t) pids[2]));

    kill((pid_t) pids[0], SIGKILL); /* the creating worker */
    int gone = 0;
    for (int i = 0; i < 300 && !gone; i++, usleep(10000))
        gone = !s_alive((pid_t) pids[1]);
    cr_assert(gone, "the owned actor (pid %lld) outlived its creator", (long long) pids[1]);
    cr_assert(s_alive((pid_t) pids[2]), "the detached actor died with its creator");
    pdc_actor *kept = pdc_actor_get_named(g_c, "keeper", NULL, T_TIMEOUT_MS);
    cr_assert(kept, "the detached actor is not found by name: %s", pdc_last_error(g_c));
    cr_assert_eq(s_call_i64(kept, "incr", 5), 5);
    cr_assert_eq(pdc_actor_kill(g_c, kept), PDC_OK);
    pdc_actor_release(g_c, kept);
}

/* The old pump sent a new actor's name claim before the dead one's drop
   (newest actor first), so the name was still taken in 5 runs of 6. */
Test(actors, a_name_is_free_again_once_kill_returns) {
    for (int round = 0; round < 6; round++) {
        pdc_actor_opts opts = {.name = "reused-name"};
        pdc_actor *a = s_counter(round, &opts);
        cr_assert_eq(pdc_actor_ready(g_c, a, T_TIMEOUT_MS), PDC_OK, "round %d: %s", round,
                     pdc_last_error(g_c));
        cr_assert_eq(pdc_actor_kill(g_c, a), PDC_OK);
        pdc_actor_release(g_c, a);
    }
}

/* An actor whose constructor argument fails is never built: ready says
   why, its queued calls fail within the wait, and later calls fail at
   once with the cause.  (The old graph freed the creation task without telling the
   actor, and the pump then read it after free.) */
Test(actors, a_failed_constructor_argument_fails_the_actor_and_its_calls) {
    pdc_fn f = pdc_function(g_c, g_lib, "fail_after_ms");
    pdc_ref bad = pdc_call(g_c, f, PDC_I64(300), PDC_STR("no start value"));
    pdc_actor *a = pdc_actor_create(g_c, g_lib, "Counter", NULL, PDC_REF(bad));
    cr_assert(a);
    pdc_ref calls[3];
    for (int i = 0; i < 3; i++)
        calls[i] = pdc_actor_call(g_c, a, "incr", PDC_REF(bad));
    int rc = pdc_actor_ready(g_c, a, T_TIMEOUT_MS);
    cr_assert_neq(rc, PDC_OK);
    cr_assert_neq(rc, PDC_ETIMEOUT, "ready must not wait out its timeout");
    cr_assert(strstr(pdc_last_error(g_c), "no start value"), "%s", pdc_last_error(g_c));
    for (int i = 0; i < 3; i++) {
        int64_t v;
        rc = pdc_get_i64(g_c, calls[i], &v, T_TIMEOUT_MS);
        cr_assert(rc != PDC_OK && rc != PDC_ETIMEOUT, "call %d: %s", i, pdc_status_name(rc));
        pdc_ref_release(g_c, calls[i]);
    }
    pdc_ref later = pdc_actor_call(g_c, a, "incr", PDC_I64(1));
    int64_t v;
    cr_assert_eq(pdc_get_i64(g_c, later, &v, 0), PDC_ETASK, "fails at once with the cause");
    pdc_ref_release(g_c, later);
    pdc_ref_release(g_c, bad);
    pdc_actor_release(g_c, a);
}

/* The embedded cluster's head: the child of this process named pdc-head. */
static pid_t s_head_pid(void) {
    DIR *d = opendir("/proc");
    pid_t found = -1;
    struct dirent *e;
    while (d && (e = readdir(d)) && found < 0) {
        char path[300], comm[64] = "";
        int ppid = 0;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fscanf(f, "%*d (%63[^)]) %*c %d", comm, &ppid) == 2 && ppid == getpid() &&
            !strcmp(comm, "pdc-head"))
            found = (pid_t) atoi(e->d_name);
        fclose(f);
    }
    if (d)
        closedir(d);
    return found;
}

typedef struct {
    pdc_actor *found;
    int done;
} lookup_t;

static void *s_lookup_forever(void *arg) {
    lookup_t *l = arg;
    l->found = pdc_actor_get_named(g_c, "patient", NULL, PDC_FOREVER);
    __atomic_store_n(&l->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* The old lookup gave up with PDC_ETIMEOUT after one second of silence
   from the head even with PDC_FOREVER. */
Test(actors, get_named_forever_waits_through_a_silent_head) {
    pdc_actor_opts opts = {.name = "patient"};
    pdc_actor *a = s_counter(5, &opts);
    cr_assert_eq(pdc_actor_ready(g_c, a, T_TIMEOUT_MS), PDC_OK);
    pid_t head = s_head_pid();
    cr_assert(head > 0, "no head pid in the session");
    cr_assert_eq(kill(head, SIGSTOP), 0);
    lookup_t l = {0};
    pthread_t th;
    pthread_create(&th, NULL, s_lookup_forever, &l);
    usleep(2500 * 1000); /* silent for longer than the old one second */
    int early = __atomic_load_n(&l.done, __ATOMIC_SEQ_CST);
    kill(head, SIGCONT);
    for (int i = 0; i < T_TIMEOUT_MS / 10 && !__atomic_load_n(&l.done, __ATOMIC_SEQ_CST); i++)
        usleep(10 * 1000);
    cr_assert(__atomic_load_n(&l.done, __ATOMIC_SEQ_CST), "the lookup never returned");
    pthread_join(th, NULL);
    cr_assert_not(early, "the lookup returned while the head was stopped: %s", pdc_last_error(g_c));
    cr_assert(l.found, "not found after the head answered again");
    cr_assert_eq(s_call_i64(l.found, "incr", 1), 6);
    pdc_actor_release(g_c, l.found);
    pdc_actor_release(g_c, a);
}

/* As in Ray, a named actor's name is taken when create returns: a lookup
   right after it finds the actor (the old create returned before the head
   had the claim, and such lookups failed 6 times in 20). */
Test(actors, a_name_is_found_right_after_create_returns) {
    for (int i = 0; i < 20; i++) {
        char name[32];
        snprintf(name, sizeof name, "instant-%d", i);
        pdc_actor_opts opts = {.name = name};
        pdc_actor *a = s_counter(i, &opts);
        pdc_actor *found = pdc_actor_get_named(g_c, name, NULL, T_TIMEOUT_MS);
        cr_assert(found, "round %d: %s", i, pdc_last_error(g_c));
        cr_assert_eq(s_call_i64(found, "incr", 1), i + 1);
        pdc_actor_release(g_c, found);
        pdc_actor_kill(g_c, a);
        pdc_actor_release(g_c, a);
    }
}
