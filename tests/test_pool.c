/*  test_pool: a raylet's worker processes, seen from outside.

    - A worker killed with SIGKILL is replaced: the node has as many idle
      workers as before once its work is done, whether the worker was
      idle or running a task (the task is retried and succeeds).
    - A worker that lends objects (a driver borrows them) is not stopped
      for being idle; it serves them until they are dropped.
    - A worker the raylet stops for being idle too long does not count
      as one on its way: while it is still exiting (held here with
      SIGSTOP, so its SIGTERM stays pending), a task that needs a worker
      gets a new one instead of waiting for it.

    The workers are found in /proc (pdc_raylet_probe.h) and the pool's
    numbers read from the raylet's STATUS rows.
*/
#include "pdc_raylet_probe.h"

/* How long the pool may take to start a replacement and see it
   register. */
#define REPLACE_MS 10000
/* How long a task may wait for a worker when one can be started. */
#define TASK_MS 10000

/* Workers a test stopped with SIGSTOP go on, so that the cluster's
   shutdown can stop them. */
static void s_teardown(void) {
    int pids[PROBE_MAX_WORKERS];
    int n = g_probe_sock ? probe_workers(pids, PROBE_MAX_WORKERS) : 0;
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGCONT);
    probe_close();
    itest_teardown();
}

/* ---- Replacing workers that died ---------------------------------------- */

static void s_two_cpus_setup(void) {
    setenv("PDC_NUM_CPUS", "2", 1);
    itest_setup();
    probe_open();
}

TestSuite(replace, .init = s_two_cpus_setup, .fini = s_teardown, .timeout = 120);

/* Wait until the pool is back to two idle workers of its own. */
static void s_assert_two_idle(const char *after) {
    int back = probe_wait_row("workers_idle", 2, REPLACE_MS);
    cr_assert(back, "%s, the pool kept %g idle workers instead of 2 (%g workers in all)", after,
              probe_row("workers_idle"), probe_row("workers"));
}

Test(replace, an_idle_worker_killed_is_replaced) {
    cr_assert(probe_wait_row("workers_idle", 2, REPLACE_MS),
              "the two prestarted workers did not register");
    int pids[PROBE_MAX_WORKERS];
    int n = probe_workers(pids, PROBE_MAX_WORKERS);
    cr_assert_eq(n, 2, "%d worker processes for 2 CPUs", n);
    cr_assert_eq(kill(pids[0], SIGKILL), 0);
    cr_assert(probe_wait_reaped(pids[0], REPLACE_MS),
              "the raylet did not reap worker %d after SIGKILL", pids[0]);
    s_assert_two_idle("after an idle worker was killed");
    /* And the node still runs work on both. */
    int64_t v;
    pdc_ref r = pdc_call(g_c, fn("add"), PDC_I64(1), PDC_I64(2));
    cr_assert_eq(pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    pdc_ref_release(g_c, r);
}

Test(replace, a_worker_killed_running_a_task_is_replaced) {
    cr_assert(probe_wait_row("workers_idle", 2, REPLACE_MS),
              "the two prestarted workers did not register");
    /* crash_once kills its worker the first time; the retry returns 42. */
    char marker[PATH_MAX + 32];
    snprintf(marker, sizeof marker, "%s/crash-once", g_probe_session);
    int64_t v = 0;
    pdc_ref r = pdc_call(g_c, fn("crash_once"), PDC_STR(marker));
    cr_assert_eq(pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, 42);
    pdc_ref_release(g_c, r);
    cr_assert_eq(access(marker, F_OK), 0, "the first run did not happen");
    s_assert_two_idle("after a worker was killed running a task");
}

/* ---- Workers stopped for being idle ------------------------------------- */

/* One CPU and three workers at start: the two beyond the one kept are
   stopped after idling for ten heartbeats. */
static void s_reap_setup(void) {
    setenv("PDC_NUM_CPUS", "1", 1);
    setenv("PDC_WORKER_PRESTART", "3", 1);
    itest_setup();
    probe_open();
}

TestSuite(reap, .init = s_reap_setup, .fini = s_teardown, .timeout = 120);

Test(reap, a_worker_still_stopping_does_not_hold_back_a_new_one) {
    cr_assert(probe_wait_row("workers_idle", 3, REPLACE_MS),
              "the three prestarted workers did not register");
    int pids[PROBE_MAX_WORKERS];
    int n = probe_workers(pids, PROBE_MAX_WORKERS);
    cr_assert_eq(n, 3, "%d worker processes, not 3", n);
    /* Stopped, they cannot exit: the SIGTERM of the reaper stays pending. */
    for (int i = 0; i < n; i++)
        cr_assert_eq(kill(pids[i], SIGSTOP), 0);
    cr_assert(probe_wait_row("workers_idle", 1, REPLACE_MS),
              "the raylet did not stop the idle workers beyond one");
    int kept = 0, reaped = 0;
    for (int i = 0; i < n; i++) {
        if (probe_signal_pending(pids[i], SIGTERM))
            reaped++;
        else
            kept = pids[i];
    }
    cr_assert_eq(reaped, 2, "%d workers have a SIGTERM pending, not 2", reaped);
    /* The one worker left dies: the node has none that can take work. */
    cr_assert_eq(kill(kept, SIGKILL), 0);
    cr_assert(probe_wait_reaped(kept, REPLACE_MS),
              "the raylet did not reap worker %d after SIGKILL", kept);
    /* A task still runs, on a new worker, while the two finish exiting. */
    int64_t v = 0;
    pdc_ref r = pdc_call(g_c, fn("add"), PDC_I64(20), PDC_I64(22));
    int rc = pdc_get_i64(g_c, r, &v, TASK_MS);
    pdc_ref_release(g_c, r);
    cr_assert_eq(rc, PDC_OK,
                 "no worker ran the task while two stopped workers were "
                 "exiting: %s (%s)",
                 pdc_status_name(rc), pdc_last_error(g_c));
    cr_assert_eq(v, 42);
    cr_assert_eq(probe_row("workers_stopping"), 2,
                 "the two exiting workers are not shown as stopping");
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGCONT);
    cr_assert(probe_wait_row("workers_stopping", 0, REPLACE_MS),
              "the stopped workers did not exit once continued");
}

/* A worker whose objects another process borrows is not stopped for
   being idle: the borrowers would lose them.  call_pid_list runs on one
   worker and makes pid_list run on a second: the driver borrows the
   inner list from the first and the inner list's objects (the second's
   pid, then 1, 2) from the second.  One CPU keeps one idle worker, yet
   the reaper keeps both lenders and stops only the third; they still
   serve the objects; once the driver lets them go, none lends. */
Test(reap, workers_lending_objects_are_not_stopped_for_idleness) {
    cr_assert(probe_wait_row("workers_idle", 3, REPLACE_MS),
              "the three prestarted workers did not register");
    pdc_ref outer = pdc_call(g_c, fn("call_pid_list"), PDC_I64(3));
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, outer, &o, TASK_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(pdc_object_nrefs(&o), 1);
    pdc_ref inner = pdc_object_ref(g_c, &o, 0, NULL);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, outer);
    cr_assert_eq(pdc_get(g_c, inner, &o, TASK_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(pdc_object_nrefs(&o), 3);
    pdc_ref refs[3];
    for (size_t i = 0; i < 3; i++)
        refs[i] = pdc_object_ref(g_c, &o, i, NULL);
    pdc_object_release(g_c, &o);
    cr_assert(probe_wait_row("workers_lending", 2, REPLACE_MS),
              "the raylet counts %g lending workers, not 2", probe_row("workers_lending"));
    cr_assert(probe_wait_row("workers", 2, REPLACE_MS),
              "the node has %g workers, not the two lenders (the third lent nothing)",
              probe_row("workers"));
    usleep(1500 * 1000); /* idle past the reaper's 1 s (ten heartbeats of 100 ms) */
    cr_assert_eq(probe_row("workers_idle"), 2, "a lending worker was stopped");
    int64_t pid = 0;
    cr_assert_eq(pdc_get_i64(g_c, refs[0], &pid, TASK_MS), PDC_OK, "%s", pdc_last_error(g_c));
    for (int i = 1; i < 3; i++) {
        int64_t v = -1;
        cr_assert_eq(pdc_get_i64(g_c, refs[i], &v, TASK_MS), PDC_OK, "object %d: %s", i,
                     pdc_last_error(g_c));
        cr_assert_eq(v, i, "object %d holds %lld", i, (long long) v);
    }
    cr_assert_eq(kill((pid_t) pid, 0), 0, "the worker %lld that owns the objects is gone",
                 (long long) pid);
    for (int i = 0; i < 3; i++)
        pdc_ref_release(g_c, refs[i]);
    pdc_ref_release(g_c, inner);
    cr_assert(probe_wait_row("workers_lending", 0, REPLACE_MS),
              "%g workers still count as lending once every borrow was dropped",
              probe_row("workers_lending"));
    cr_assert(probe_wait_row("workers_idle", 1, REPLACE_MS),
              "the former lenders beyond the one kept were not stopped once idle");
}
