/*  test_actor_restarts: actors that come back after their worker is
    killed (max_restarts), on a real embedded cluster: the constructor
    runs again with its original arguments, every handle goes on working
    (the creator's, a task's in another process, a name's), calls that
    were running are sent again or fail as max_task_retries says, and an
    actor out of restarts is dead with the reason.  Each kill is a real
    SIGKILL of the actor's worker process.  The class is Counter in
    task_lib.c. */
#include "pdc_itest.h"

#include <signal.h>

TestSuite(actor_restarts, .init = itest_setup, .fini = itest_teardown);

static pdc_actor *s_counter(int64_t start, int max_restarts, int max_task_retries,
                            const char *name) {
    pdc_actor_opts opts = {
        .max_restarts = max_restarts, .max_task_retries = max_task_retries, .name = name};
    pdc_actor *a = pdc_actor_create(g_c, g_lib, "Counter", &opts, PDC_I64(start));
    cr_assert(a, "create: %s", pdc_last_error(g_c));
    cr_assert_eq(pdc_actor_ready(g_c, a, T_TIMEOUT_MS), PDC_OK, "ready: %s", pdc_last_error(g_c));
    return a;
}

/* The value of a call, or the call's status code when it failed (with
   its message in why). */
static int s_call(pdc_actor *a, const char *method, int64_t arg, int64_t *value, char *why,
                  size_t len) {
    pdc_ref r = pdc_actor_call(g_c, a, method, PDC_I64(arg));
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, T_TIMEOUT_MS);
    if (rc == PDC_OK && o.type == PDC_T_I64)
        *value = o.i64;
    if (why)
        snprintf(why, len, "%s", o.type == PDC_T_ERROR ? o.error.message : "");
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    return rc;
}

static int64_t s_value(pdc_actor *a, const char *method, int64_t arg) {
    int64_t v = -1;
    char why[1024];
    int rc = s_call(a, method, arg, &v, why, sizeof why);
    cr_assert_eq(rc, PDC_OK, "%s(%lld): %s: %s", method, (long long) arg, pdc_status_name(rc), why);
    return v;
}

/* SIGKILL the actor's worker; its pid. */
static pid_t s_kill_worker(pdc_actor *a) {
    pid_t pid = (pid_t) s_value(a, "actor_pid", 0);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    return pid;
}

Test(actor_restarts, a_killed_actor_comes_back_built_from_its_original_arguments) {
    /* Calls sent before the creator sees the crash count as running at
       the crash: max_task_retries -1 sends them again. */
    pdc_actor *a = s_counter(10, 2, -1, NULL);
    cr_assert_eq(s_value(a, "incr", 5), 15);
    pid_t first = s_kill_worker(a);
    /* Calls made after the kill reach the restarted actor; its state
       starts afresh from the constructor's argument (10), not from 15. */
    cr_assert_eq(s_value(a, "incr", 1), 11);
    cr_assert_eq(pdc_actor_ready(g_c, a, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    pid_t second = (pid_t) s_value(a, "actor_pid", 0);
    cr_assert_neq(second, first, "the actor runs in a new worker");
    /* A second restart, then it is out of restarts (2). */
    s_kill_worker(a);
    cr_assert_eq(s_value(a, "get", 0), 10);
    s_kill_worker(a);
    int64_t v;
    char why[1024];
    cr_assert_eq(s_call(a, "get", 0, &v, why, sizeof why), PDC_EACTORDIED);
    cr_assert(strstr(why, "no restarts left") && strstr(why, "restart 2 of 2"), "%s", why);
    cr_assert_eq(pdc_actor_ready(g_c, a, T_TIMEOUT_MS), PDC_EACTORDIED);
    pdc_actor_release(g_c, a);
}

Test(actor_restarts, without_restarts_a_killed_actor_stays_dead) {
    pdc_actor *a = s_counter(0, 0, 0, NULL);
    s_kill_worker(a);
    int64_t v;
    char why[1024];
    cr_assert_eq(s_call(a, "get", 0, &v, why, sizeof why), PDC_EACTORDIED);
    cr_assert(strstr(why, "exited") || strstr(why, "disconnect") || strstr(why, "lost"), "%s", why);
    pdc_actor_release(g_c, a);
}

Test(actor_restarts, a_call_running_at_the_crash_fails_at_most_once) {
    pdc_actor *a = s_counter(0, -1, 0, NULL);
    pid_t pid = (pid_t) s_value(a, "actor_pid", 0);
    pdc_ref running = pdc_actor_call(g_c, a, "slow", PDC_I64(3000));
    usleep(300000);
    kill(pid, SIGKILL);
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, running, &o, T_TIMEOUT_MS), PDC_EACTORDIED);
    cr_assert(strstr(o.error.message, "at most once"), "%s", o.error.message);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, running);
    cr_assert_eq(s_value(a, "incr", 2), 2, "the actor was restarted and serves");
    pdc_actor_release(g_c, a);
}

Test(actor_restarts, a_call_running_at_the_crash_is_retried_with_max_task_retries) {
    pdc_actor *a = s_counter(0, -1, 1, NULL);
    pid_t pid = (pid_t) s_value(a, "actor_pid", 0);
    pdc_ref running = pdc_actor_call(g_c, a, "slow", PDC_I64(1500));
    pdc_ref after = pdc_actor_call(g_c, a, "incr", PDC_I64(7));
    usleep(300000);
    kill(pid, SIGKILL);
    int64_t v = 0;
    cr_assert_eq(pdc_get_i64(g_c, running, &v, T_TIMEOUT_MS), PDC_OK,
                 "the running call was sent again: %s", pdc_last_error(g_c));
    cr_assert_eq(pdc_get_i64(g_c, after, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, 7, "the queued call ran once, after the retried one, on the new state");
    pdc_ref_release(g_c, running);
    pdc_ref_release(g_c, after);
    cr_assert_neq((pid_t) s_value(a, "actor_pid", 0), pid);
    pdc_actor_release(g_c, a);
}

Test(actor_restarts, a_handle_in_another_process_follows_the_restart) {
    pdc_actor *a = s_counter(100, 1, 0, NULL);
    /* A task in a worker process calls incr(1), waits, then calls again:
       the actor is killed in between, and the task's handle must find the
       restarted actor (through the head) rather than fail. */
    pdc_ref r = pdc_call(g_c, fn("use_actor_twice"), PDC_ACTOR(a), PDC_I64(1), PDC_I64(2000));
    usleep(800000);
    s_kill_worker(a);
    int64_t v = 0;
    cr_assert_eq(pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, 101, "the second incr ran on the restarted actor (built from 100)");
    pdc_ref_release(g_c, r);
    pdc_actor_release(g_c, a);
}

Test(actor_restarts, a_named_actor_is_found_at_its_new_place) {
    pdc_actor *a = s_counter(5, 1, -1, "phoenix");
    pid_t first = s_kill_worker(a);
    cr_assert_eq(s_value(a, "get", 0), 5, "restarted");
    pdc_actor *found = pdc_actor_get_named(g_c, "phoenix", NULL, T_TIMEOUT_MS);
    cr_assert(found, "%s", pdc_last_error(g_c));
    /* found is the same struct as a in this process; a task looks it up
       in another process, from the head. */
    pdc_ref r = pdc_call(g_c, fn("incr_named"), PDC_STR("phoenix"), PDC_I64(2));
    int64_t v = 0;
    cr_assert_eq(pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, 7);
    pdc_ref_release(g_c, r);
    cr_assert_neq((pid_t) s_value(found, "actor_pid", 0), first);
    pdc_actor_release(g_c, found);
    pdc_actor_release(g_c, a);
}

Test(actor_restarts, kill_ends_a_restartable_actor_for_good) {
    pdc_actor *a = s_counter(0, -1, -1, NULL);
    cr_assert_eq(pdc_actor_kill(g_c, a), PDC_OK);
    int64_t v;
    char why[1024];
    cr_assert_eq(s_call(a, "get", 0, &v, why, sizeof why), PDC_EACTORDIED);
    cr_assert(strstr(why, "pdc_actor_kill"), "%s", why);
    pdc_actor_release(g_c, a);
}
