/*  test_errors: how a real cluster reports failures, and that it keeps
    serving after each one.

    Every test starts its own embedded cluster (pdc_init(NULL): a head, a
    raylet, its workers, a store in /dev/shm) and stops it in the fixture,
    also when an assertion fails.  The remote functions are in task_lib.c
    (PDC_TEST_LIB).  Tests that must prove a task did not run give it a
    marker file to create in a private temporary directory and check that
    the file never appears.  Every wait is bounded by WAIT_MS; a test that
    expects an error ends by running an ordinary task, to show the daemons
    still serve.
*/
#include <pdc.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Not in pdc.h: libpdc's sweep of sessions whose driver died (called by
   pdc_init); the runner calls it once more after all tests. */
void pdc_embed_clean_stale(void);

#define WAIT_MS 10000
/* "Quickly" for a worker death without retries: the raylet sees the exit
   at once, so seconds are plenty even under sanitizers. */
#define DEATH_MS 5000

static pdc_client *g_c;
static const char *g_lib;
static char g_tmp[64];

static void s_start(void) {
    g_lib = getenv("PDC_TEST_LIB");
    cr_assert(g_lib, "PDC_TEST_LIB is not set (run through meson test)");
    snprintf(g_tmp, sizeof g_tmp, "/tmp/pdc-errors-XXXXXX");
    cr_assert(mkdtemp(g_tmp), "mkdtemp");
    g_c = pdc_init(NULL);
    cr_assert(g_c, "pdc_init(NULL) failed");
}

static int s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

static void s_stop(void) {
    pdc_shutdown(&g_c);
    if (*g_tmp)
        nftw(g_tmp, s_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* A store of 64 MiB, set before pdc_init so the raylet inherits it. */
static void s_start_small_store(void) {
    setenv("PDC_OBJECT_STORE_MEMORY", "64M", 1);
    s_start();
}

TestSuite(errors, .init = s_start, .fini = s_stop, .timeout = 120);
/* Its own suite: Criterion runs a suite's .init and a test's .init both. */
TestSuite(small_store, .init = s_start_small_store, .fini = s_stop, .timeout = 120);

ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
    (void) stats;
    pdc_embed_clean_stale();
}

static pdc_fn s_fn(const char *name) {
    return pdc_function(g_c, g_lib, name);
}

static int64_t s_elapsed_ms(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t) (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void s_marker(char *out, size_t len, const char *name) {
    snprintf(out, len, "%s/%s", g_tmp, name);
}

static int s_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Get ref, expect the task error code, and copy out what the error says.
   Releases the object and the reference. */
typedef struct {
    char function[1024], message[1024], node[128];
} error_text;

static void s_expect_error(pdc_ref r, int code, error_text *e) {
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, WAIT_MS);
    cr_assert_eq(rc, code, "expected %s, got %s: %s", pdc_status_name(code), pdc_status_name(rc),
                 pdc_last_error(g_c));
    cr_assert_eq(o.type, PDC_T_ERROR);
    cr_assert_eq(o.error.code, code);
    cr_assert(o.error.message && o.error.function && o.error.node);
    snprintf(e->function, sizeof e->function, "%s", o.error.function);
    snprintf(e->message, sizeof e->message, "%s", o.error.message);
    snprintf(e->node, sizeof e->node, "%s", o.error.node);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
}

/* The cluster still runs an ordinary task. */
static void s_assert_serving(void) {
    pdc_ref r = pdc_call(g_c, s_fn("add"), PDC_I64(40), PDC_I64(2));
    int64_t v = 0;
    int rc = pdc_get_i64(g_c, r, &v, WAIT_MS);
    cr_assert_eq(rc, PDC_OK, "a task after the error failed: %s %s", pdc_status_name(rc),
                 pdc_last_error(g_c));
    cr_assert_eq(v, 42);
    pdc_ref_release(g_c, r);
}

/* ---- Functions that cannot be loaded ---------------------------------- */

Test(errors, unknown_library_is_enofunc_naming_the_library) {
    const char *lib = "/nonexistent/pdc-errors/libnothing_here.so";
    pdc_ref r = pdc_call_args(g_c, pdc_function(g_c, lib, "noop"), NULL, NULL, 0);
    error_text e;
    s_expect_error(r, PDC_ENOFUNC, &e);
    cr_assert(strstr(e.message, lib), "message does not name the library: %s", e.message);
    cr_assert(strstr(e.function, "noop"), "function: %s", e.function);
    s_assert_serving();
}

Test(errors, unknown_function_is_enofunc_naming_the_function) {
    pdc_ref r = pdc_call_args(g_c, s_fn("no_such_function_in_task_lib"), NULL, NULL, 0);
    error_text e;
    s_expect_error(r, PDC_ENOFUNC, &e);
    cr_assert(strstr(e.message, "no_such_function_in_task_lib"),
              "message does not name the function: %s", e.message);
    cr_assert(strstr(e.message, g_lib), "message does not name the library: %s", e.message);
    s_assert_serving();
}

Test(errors, last_error_says_what_the_get_returned) {
    pdc_ref r = pdc_call_args(g_c, s_fn("no_such_function_either"), NULL, NULL, 0);
    int64_t v;
    cr_assert_eq(pdc_get_i64(g_c, r, &v, WAIT_MS), PDC_ENOFUNC);
    cr_assert(strstr(pdc_last_error(g_c), "no_such_function_either"), "last error: %s",
              pdc_last_error(g_c));
    pdc_ref_release(g_c, r);
    s_assert_serving();
}

/* ---- Arguments -------------------------------------------------------- */

Test(errors, string_where_an_int_is_read_is_eargs_naming_index_and_types) {
    pdc_ref r = pdc_call(g_c, s_fn("add"), PDC_STR("seven"), PDC_I64(1));
    error_text e;
    s_expect_error(r, PDC_EARGS, &e);
    cr_assert(strstr(e.message, "argument 0"), "no index: %s", e.message);
    cr_assert(strstr(e.message, "string"), "no given type: %s", e.message);
    cr_assert(strstr(e.message, "int"), "no expected type: %s", e.message);
    s_assert_serving();
}

Test(errors, wrong_type_of_a_later_argument_names_that_argument) {
    pdc_ref r = pdc_call(g_c, s_fn("add"), PDC_I64(1), PDC_F64(2.5));
    error_text e;
    s_expect_error(r, PDC_EARGS, &e);
    cr_assert(strstr(e.message, "argument 1"), "no index: %s", e.message);
    cr_assert(strstr(e.message, "float"), "no given type: %s", e.message);
    s_assert_serving();
}

Test(errors, too_few_arguments_is_eargs) {
    pdc_ref r = pdc_call(g_c, s_fn("add"), PDC_I64(1));
    error_text e;
    s_expect_error(r, PDC_EARGS, &e);
    cr_assert(strstr(e.message, "argument 1"), "no index: %s", e.message);
    s_assert_serving();
}

Test(errors, no_arguments_at_all_is_eargs) {
    pdc_ref r = pdc_call_args(g_c, s_fn("add"), NULL, NULL, 0);
    error_text e;
    s_expect_error(r, PDC_EARGS, &e);
    cr_assert(strstr(e.message, "argument 0"), "no index: %s", e.message);
    s_assert_serving();
}

/* ---- Failures inside the function ------------------------------------- */

Test(errors, pdc_fail_is_etask_with_message_function_and_node) {
    pdc_ref r = pdc_call(g_c, s_fn("fail_with_message"), PDC_STR("the answer is not 41"));
    error_text e;
    s_expect_error(r, PDC_ETASK, &e);
    cr_assert_str_eq(e.message, "the answer is not 41");
    cr_assert(strstr(e.function, "fail_with_message"), "function: %s", e.function);
    cr_assert(strstr(e.function, g_lib), "function has no library: %s", e.function);
    cr_assert(*e.node, "the error does not name the node it ran on");
    s_assert_serving();
}

Test(errors, failed_task_error_is_seen_by_every_get) {
    pdc_ref r = pdc_call(g_c, s_fn("fail_with_message"), PDC_STR("twice"));
    for (int i = 0; i < 2; i++) {
        pdc_object o;
        cr_assert_eq(pdc_get(g_c, r, &o, WAIT_MS), PDC_ETASK);
        cr_assert_str_eq(o.error.message, "twice");
        pdc_object_release(g_c, &o);
    }
    pdc_ref_release(g_c, r);
    s_assert_serving();
}

/* ---- Errors flow into dependent tasks --------------------------------- */

Test(errors, argument_that_already_failed_fails_dependent_without_running) {
    char marker[128];
    s_marker(marker, sizeof marker, "dependent-ran");
    pdc_ref a = pdc_call(g_c, s_fn("fail_with_message"), PDC_STR("upstream broke"));
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, a, &o, WAIT_MS), PDC_ETASK); /* a has failed */
    pdc_object_release(g_c, &o);
    pdc_ref b = pdc_call(g_c, s_fn("touch_marker"), PDC_REF(a), PDC_STR(marker));
    pdc_ref_release(g_c, a);
    error_text e;
    s_expect_error(b, PDC_ETASK, &e);
    cr_assert(strstr(e.message, "upstream broke"), "original message lost: %s", e.message);
    cr_assert(strstr(e.message, "argument") && strstr(e.message, "fail"),
              "does not say an argument failed: %s", e.message);
    cr_assert(strstr(e.function, "touch_marker"), "function: %s", e.function);
    cr_assert(!s_exists(marker), "the dependent task ran");
    s_assert_serving();
    cr_assert(!s_exists(marker), "the dependent task ran later");
}

Test(errors, argument_that_fails_later_fails_the_chain_without_running) {
    char m1[128], m2[128];
    s_marker(m1, sizeof m1, "first-dependent-ran");
    s_marker(m2, sizeof m2, "second-dependent-ran");
    pdc_ref a = pdc_call(g_c, s_fn("fail_after_ms"), PDC_I64(300), PDC_STR("late failure"));
    pdc_ref b = pdc_call(g_c, s_fn("touch_marker"), PDC_REF(a), PDC_STR(m1));
    pdc_ref c = pdc_call(g_c, s_fn("touch_marker"), PDC_REF(b), PDC_STR(m2));
    pdc_ref_release(g_c, a); /* the dependents hold their own references */
    pdc_ref_release(g_c, b);
    error_text e;
    s_expect_error(c, PDC_ETASK, &e);
    cr_assert(strstr(e.message, "late failure"), "original message lost: %s", e.message);
    cr_assert(!s_exists(m1) && !s_exists(m2), "a dependent task ran");
    s_assert_serving();
}

Test(errors, dependent_fails_with_the_original_code) {
    char marker[128];
    s_marker(marker, sizeof marker, "dependent-ran");
    pdc_ref a = pdc_call_args(g_c, s_fn("no_such_function_upstream"), NULL, NULL, 0);
    pdc_ref b = pdc_call(g_c, s_fn("touch_marker"), PDC_REF(a), PDC_STR(marker));
    pdc_ref_release(g_c, a);
    error_text e;
    s_expect_error(b, PDC_ENOFUNC, &e);
    cr_assert(strstr(e.message, "no_such_function_upstream"), "message: %s", e.message);
    cr_assert(!s_exists(marker), "the dependent task ran");
    s_assert_serving();
}

Test(errors, good_argument_lets_the_dependent_run) {
    /* The control for the tests above: the marker does appear. */
    char marker[128];
    s_marker(marker, sizeof marker, "dependent-ran");
    pdc_ref a = pdc_call(g_c, s_fn("add"), PDC_I64(1), PDC_I64(2));
    pdc_ref b = pdc_call(g_c, s_fn("touch_marker"), PDC_REF(a), PDC_STR(marker));
    int64_t v = 0;
    cr_assert_eq(pdc_get_i64(g_c, b, &v, WAIT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, 1);
    cr_assert(s_exists(marker));
    pdc_ref_release(g_c, a);
    pdc_ref_release(g_c, b);
}

/* ---- Worker deaths ---------------------------------------------------- */

static void s_expect_quick_death(const char *function) {
    pdc_opts opts = {.max_retries = -1};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pdc_ref r = pdc_call_args(g_c, s_fn(function), &opts, NULL, 0);
    error_text e;
    s_expect_error(r, PDC_EWORKERDIED, &e);
    int64_t ms = s_elapsed_ms(&t0);
    cr_assert_lt(ms, DEATH_MS, "the death took %lld ms to surface", (long long) ms);
    cr_assert(strstr(e.message, "died"), "message: %s", e.message);
    cr_assert(strstr(e.function, function), "function: %s", e.function);
}

Test(errors, worker_killed_without_retries_is_eworkerdied_quickly) {
    s_expect_quick_death("crash_sigkill");
    s_assert_serving();
}

Test(errors, worker_abort_without_retries_is_eworkerdied_quickly) {
    s_expect_quick_death("crash_abort");
    s_assert_serving();
}

Test(errors, crash_on_the_first_attempt_is_retried_and_succeeds) {
    char marker[128];
    s_marker(marker, sizeof marker, "crashed-once");
    pdc_ref r = pdc_call(g_c, s_fn("crash_once"), PDC_STR(marker));
    int64_t v = 0;
    cr_assert_eq(pdc_get_i64(g_c, r, &v, WAIT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(v, 42);
    cr_assert(s_exists(marker), "the first attempt never ran, so nothing was retried");
    pdc_ref_release(g_c, r);
    s_assert_serving();
}

Test(errors, crash_on_every_attempt_uses_up_the_retries) {
    pdc_opts opts = {.max_retries = 2};
    pdc_ref r = pdc_call_args(g_c, s_fn("crash_sigkill"), &opts, NULL, 0);
    error_text e;
    s_expect_error(r, PDC_EWORKERDIED, &e);
    cr_assert(strstr(e.message, "retries"), "message: %s", e.message);
    s_assert_serving();
}

Test(errors, cluster_keeps_serving_after_many_crashes) {
    pdc_opts opts = {.max_retries = -1};
    pdc_ref dead[6];
    for (int i = 0; i < 6; i++)
        dead[i] = pdc_call_args(g_c, s_fn(i % 2 ? "crash_abort" : "crash_sigkill"), &opts, NULL, 0);
    for (int i = 0; i < 6; i++) {
        error_text e;
        s_expect_error(dead[i], PDC_EWORKERDIED, &e);
    }
    pdc_ref ok[32];
    for (int i = 0; i < 32; i++)
        ok[i] = pdc_call(g_c, s_fn("add"), PDC_I64(i), PDC_I64(1));
    for (int i = 0; i < 32; i++) {
        int64_t v = -1;
        cr_assert_eq(pdc_get_i64(g_c, ok[i], &v, WAIT_MS), PDC_OK, "task %d: %s", i,
                     pdc_last_error(g_c));
        cr_assert_eq(v, i + 1);
        pdc_ref_release(g_c, ok[i]);
    }
}

Test(errors, crash_does_not_fail_tasks_queued_behind_it) {
    /* Tasks submitted with the crashing one (possibly pushed to the same
       worker) are retried with it and succeed. */
    pdc_opts once = {.max_retries = -1};
    pdc_ref bad = pdc_call_args(g_c, s_fn("crash_sigkill"), &once, NULL, 0);
    pdc_ref ok[16];
    for (int i = 0; i < 16; i++)
        ok[i] = pdc_call(g_c, s_fn("add"), PDC_I64(i), PDC_I64(i));
    error_text e;
    s_expect_error(bad, PDC_EWORKERDIED, &e);
    for (int i = 0; i < 16; i++) {
        int64_t v = -1;
        cr_assert_eq(pdc_get_i64(g_c, ok[i], &v, WAIT_MS), PDC_OK, "task %d: %s", i,
                     pdc_last_error(g_c));
        cr_assert_eq(v, 2 * i);
        pdc_ref_release(g_c, ok[i]);
    }
}

/* ---- The object store ------------------------------------------------- */

Test(small_store, put_larger_than_the_store_is_estorefull) {
    size_t big = (size_t) 100 << 20;
    char *data = malloc(big);
    cr_assert(data);
    memset(data, 0xab, big);
    int status = PDC_OK;
    pdc_ref r = pdc_put(g_c, PDC_BYTES(data, big), &status);
    free(data);
    cr_assert_eq(status, PDC_ESTOREFULL, "status %s: %s", pdc_status_name(status),
                 pdc_last_error(g_c));
    cr_assert(strstr(pdc_last_error(g_c), "full"), "message: %s", pdc_last_error(g_c));
    /* The reference holds the error. */
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, r, &o, WAIT_MS), PDC_ESTOREFULL);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);

    /* A put that fits still works, through the store. */
    size_t small = (size_t) 1 << 20;
    char *bytes = malloc(small);
    cr_assert(bytes);
    for (size_t i = 0; i < small; i++)
        bytes[i] = (char) (i * 7);
    pdc_ref s = pdc_put(g_c, PDC_BYTES(bytes, small), &status);
    cr_assert_eq(status, PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(pdc_get(g_c, s, &o, WAIT_MS), PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(o.size, small);
    cr_assert(!memcmp(o.data, bytes, small));
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, s);
    free(bytes);
    s_assert_serving();
}

/* ---- Scheduling ------------------------------------------------------- */

Test(errors, more_cpus_than_the_node_has_is_einfeasible) {
    pdc_opts opts = {.num_cpus = 64};
    pdc_ref r = pdc_call_opts(g_c, s_fn("add"), &opts, PDC_I64(1), PDC_I64(2));
    error_text e;
    s_expect_error(r, PDC_EINFEASIBLE, &e);
    cr_assert(strstr(e.message, "infeasible"), "message: %s", e.message);
    cr_assert(strstr(e.message, "64"), "message does not say what was asked: %s", e.message);
    cr_assert(strstr(e.message, "CPU"), "message does not name the resource: %s", e.message);
    s_assert_serving();
    /* And again: an infeasible shape does not poison later requests. */
    r = pdc_call_opts(g_c, s_fn("add"), &opts, PDC_I64(1), PDC_I64(2));
    s_expect_error(r, PDC_EINFEASIBLE, &e);
    s_assert_serving();
}

/* ---- References ------------------------------------------------------- */

Test(errors, get_of_a_released_reference_is_enotfound) {
    pdc_ref r = pdc_call(g_c, s_fn("add"), PDC_I64(1), PDC_I64(2));
    int64_t v = 0;
    cr_assert_eq(pdc_get_i64(g_c, r, &v, WAIT_MS), PDC_OK);
    pdc_ref_release(g_c, r);
    pdc_object o;
    memset(&o, 0x5a, sizeof o);
    cr_assert_eq(pdc_get(g_c, r, &o, WAIT_MS), PDC_ENOTFOUND);
    cr_assert_eq(o.type, PDC_T_NIL, "out is not zeroed");
    cr_assert_null(o.pin_);
    pdc_object_release(g_c, &o); /* a harmless no-op */
    cr_assert(*pdc_last_error(g_c));
    cr_assert_eq(pdc_get_i64(g_c, r, &v, WAIT_MS), PDC_ENOTFOUND);
    s_assert_serving();
}

Test(errors, get_of_an_unknown_reference_is_enotfound_at_once) {
    pdc_ref r;
    for (int i = 0; i < PDC_ID_SIZE; i++)
        r.id[i] = (uint8_t) (0xc3 ^ i);
    pdc_object o;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(pdc_get(g_c, r, &o, WAIT_MS), PDC_ENOTFOUND);
    cr_assert_lt(s_elapsed_ms(&t0), WAIT_MS / 2, "pdc_get waited for an unknown object");
    s_assert_serving();
}

Test(errors, released_reference_as_argument_is_enotfound) {
    pdc_ref a = pdc_call(g_c, s_fn("add"), PDC_I64(1), PDC_I64(2));
    int64_t v;
    cr_assert_eq(pdc_get_i64(g_c, a, &v, WAIT_MS), PDC_OK);
    pdc_ref_release(g_c, a);
    pdc_ref b = pdc_call(g_c, s_fn("add"), PDC_REF(a), PDC_I64(1));
    error_text e;
    s_expect_error(b, PDC_ENOTFOUND, &e);
    cr_assert(strstr(e.message, "argument 0"), "message: %s", e.message);
    s_assert_serving();
}

/* A call argument over the inline limit goes through the store, not the
   message: one larger than the whole store fails the call with
   PDC_ESTOREFULL, and a large one that fits arrives intact. */
Test(small_store, call_argument_larger_than_the_store_is_estorefull) {
    size_t big = (size_t) 100 << 20;
    char *data = malloc(big);
    cr_assert(data);
    memset(data, 0x5a, big);
    pdc_ref r = pdc_call(g_c, s_fn("checksum"), PDC_BYTES(data, big));
    pdc_object o;
    int rc = pdc_get(g_c, r, &o, WAIT_MS);
    cr_assert_eq(rc, PDC_ESTOREFULL, "status %s: %s", pdc_status_name(rc), pdc_last_error(g_c));
    cr_assert(strstr(o.error.message, "argument 0"), "message: %s", o.error.message);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);

    size_t fits = (size_t) 8 << 20;
    r = pdc_call(g_c, s_fn("echo"), PDC_BYTES(data, fits));
    rc = pdc_get(g_c, r, &o, WAIT_MS);
    cr_assert_eq(rc, PDC_OK, "%s", pdc_last_error(g_c));
    cr_assert_eq(o.size, fits);
    cr_assert(!memcmp(o.data, data, fits));
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    free(data);
}

/* ---- What the getters promise ------------------------------------------ */

Test(errors, get_f64_of_an_int_is_a_type_error_naming_both) {
    int rc;
    pdc_ref r = pdc_put(g_c, PDC_I64(7), &rc);
    cr_assert_eq(rc, PDC_OK);
    double d = -1;
    rc = pdc_get_f64(g_c, r, &d, WAIT_MS);
    cr_assert_eq(rc, PDC_ETYPE, "pdc.h promises PDC_ETYPE, got %s", pdc_status_name(rc));
    cr_assert(strstr(pdc_last_error(g_c), "int") && strstr(pdc_last_error(g_c), "float"), "%s",
              pdc_last_error(g_c));
    cr_assert_eq(d, -1, "the output is left alone");
    pdc_ref_release(g_c, r);
}

Test(errors, a_success_clears_the_last_error) {
    pdc_ref r = pdc_call(g_c, s_fn("fail_with_message"), PDC_STR("first this fails"));
    error_text e;
    s_expect_error(r, PDC_ETASK, &e);
    cr_assert(strstr(pdc_last_error(g_c), "first this fails"));
    r = pdc_call(g_c, s_fn("add"), PDC_I64(1), PDC_I64(2));
    int64_t v;
    cr_assert_eq(pdc_get_i64(g_c, r, &v, WAIT_MS), PDC_OK);
    cr_assert_str_eq(pdc_last_error(g_c), "", "stale: %s", pdc_last_error(g_c));
    pdc_ref_release(g_c, r);
}

/* A reservation is in the store: a size the store cannot hold is refused
   at once, before a byte is written (the old one was a malloc that failed
   only at commit). */
Test(small_store, put_reserve_refuses_a_size_beyond_the_store_at_reserve) {
    void *res = NULL;
    void *p = pdc_put_reserve(g_c, (size_t) 200 << 20, &res);
    cr_assert_null(p, "a 200 MiB reservation in a 64 MiB store");
    cr_assert_null(res);
    cr_assert(strstr(pdc_last_error(g_c), "pdc_put_reserve"), "%s", pdc_last_error(g_c));
    p = pdc_put_reserve(g_c, (size_t) 1 << 20, &res);
    cr_assert(p && res, "1 MiB fits: %s", pdc_last_error(g_c));
    memset(p, 0x5a, (size_t) 1 << 20);
    int rc;
    pdc_ref r = pdc_put_commit(g_c, &res, &rc);
    cr_assert_eq(rc, PDC_OK, "%s", pdc_last_error(g_c));
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, r, &o, WAIT_MS), PDC_OK);
    cr_assert_eq(o.size, (size_t) 1 << 20);
    cr_assert_eq(((const unsigned char *) o.data)[12345], 0x5a);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    s_assert_serving();
}

/* A call that returns NULL leaves its code beside its message. */
Test(errors, last_error_code_says_what_a_null_return_was) {
    cr_assert_null(pdc_actor_get_named(g_c, "nobody-by-this-name", NULL, 200));
    cr_assert_eq(pdc_last_error_code(g_c), PDC_ENOTFOUND, "%s", pdc_last_error(g_c));
    void *res = NULL;
    cr_assert_null(pdc_put_reserve(NULL, 16, &res));
    cr_assert_eq(pdc_last_error_code(g_c), PDC_EINVAL);
    s_assert_serving();
    cr_assert_eq(pdc_last_error_code(g_c), PDC_OK, "cleared by the calls that succeeded");
}
