/*  counter.c: a stateful actor, shared by the driver and by tasks.

    Creates a Counter actor (counter_tasks.c) under a name, makes 1000
    calls to it from the driver (they run in the order they were made, so
    the results are 1, 2, ... 1000), hands the actor to 4 tasks that each
    add 250 from their own worker processes, finds it again by name, and
    kills it, after which a call fails with PDC_EACTORDIED:

        build/examples/pdc-example-counter

    prints "counter: 2000 = 1000 calls in order from the driver + 4 tasks
    × 250; found by name; after kill: PDC_EACTORDIED" and exits 0 when
    every check holds.
*/
#include <pdc.h>

#include "example_util.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define LIBRARY_FILE   "libpdc_example_counter.so"
#define DRIVER_CALLS   1000
#define TASKS          4
#define CALLS_PER_TASK 250

static void s_usage(FILE *out, const char *prog) {
    fprintf(out,
            "usage: %s [options]\n"
            "A Counter actor called in order from the driver and from tasks, found\n"
            "by name and killed, on a local pdc cluster.\n\n",
            prog);
    example_usage_options(out, LIBRARY_FILE);
}

static int s_fail(pdc_client *client, const char *what) {
    fprintf(stderr, "error: %s: %s\n", what, pdc_last_error(client));
    return 1;
}

static int s_run(pdc_client *client, const char *library, int64_t timeout_s) {
    int64_t timeout_ms = timeout_s * 1000;
    pdc_actor_opts opts = {.name = "example-counter"};
    pdc_actor *counter = pdc_actor_create(client, library, "Counter", &opts, PDC_I64(0));
    if (!counter || pdc_actor_ready(client, counter, timeout_ms) != PDC_OK)
        return s_fail(client, "creating the Counter actor");

    /* 1000 calls submitted at once: each caller's calls run in order. */
    pdc_ref refs[DRIVER_CALLS];
    for (int i = 0; i < DRIVER_CALLS; i++)
        refs[i] = pdc_actor_call(client, counter, "incr", PDC_I64(1));
    int rc = 0;
    for (int i = 0; i < DRIVER_CALLS; i++) {
        int64_t v = 0;
        if (!rc && pdc_get_i64(client, refs[i], &v, timeout_ms) != PDC_OK)
            rc = s_fail(client, "incr");
        else if (!rc && v != i + 1) {
            fprintf(stderr, "error: call %d returned %" PRId64 ", expected %d\n", i, v, i + 1);
            rc = 1;
        }
        pdc_ref_release(client, refs[i]);
    }

    /* The handle as an argument: tasks call the same actor. */
    pdc_fn add_many = pdc_function(client, library, "add_many");
    pdc_ref tasks[TASKS];
    for (int i = 0; i < TASKS; i++)
        tasks[i] = pdc_call(client, add_many, PDC_ACTOR(counter), PDC_I64(CALLS_PER_TASK),
                            PDC_I64(timeout_ms));
    for (int i = 0; i < TASKS; i++) {
        int64_t last;
        if (!rc && pdc_get_i64(client, tasks[i], &last, timeout_ms) != PDC_OK)
            rc = s_fail(client, "add_many task");
        pdc_ref_release(client, tasks[i]);
    }

    /* Found again by name; the count is everyone's calls. */
    pdc_actor *named = rc ? NULL : pdc_actor_get_named(client, "example-counter", NULL, timeout_ms);
    int64_t total = -1;
    if (!rc && !named)
        rc = s_fail(client, "looking up 'example-counter'");
    if (!rc) {
        pdc_ref r = pdc_actor_call(client, named, "get");
        if (pdc_get_i64(client, r, &total, timeout_ms) != PDC_OK)
            rc = s_fail(client, "get");
        pdc_ref_release(client, r);
    }
    int64_t expected = DRIVER_CALLS + TASKS * CALLS_PER_TASK;
    if (!rc && total != expected) {
        fprintf(stderr, "error: the count is %" PRId64 ", expected %" PRId64 "\n", total, expected);
        rc = 1;
    }

    /* Killed: the destructor runs, and calls fail instead of hanging. */
    if (!rc && pdc_actor_kill(client, counter) != PDC_OK)
        rc = s_fail(client, "kill");
    if (!rc) {
        pdc_ref r = pdc_actor_call(client, counter, "get");
        int64_t v;
        int status = pdc_get_i64(client, r, &v, timeout_ms);
        pdc_ref_release(client, r);
        if (status != PDC_EACTORDIED) {
            fprintf(stderr, "error: a call after kill gave %s\n", pdc_status_name(status));
            rc = 1;
        }
    }
    if (!rc)
        printf("counter: %" PRId64 " = %d calls in order from the driver + %d tasks × %d; "
               "found by name; after kill: PDC_EACTORDIED\n",
               total, DRIVER_CALLS, TASKS, CALLS_PER_TASK);
    if (named)
        pdc_actor_release(client, named);
    pdc_actor_release(client, counter);
    return rc;
}

int main(int argc, char **argv) {
    static const struct option options[] = {EXAMPLE_OPTIONS};
    int64_t timeout_s = EXAMPLE_DEFAULT_TIMEOUT_S;
    const char *given = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = example_option(opt, argv, s_usage, &timeout_s, &given);
        if (rc)
            return rc > 0 ? 0 : 2;
    }
    if (example_no_operands(argc, argv, s_usage))
        return 2;
    char *library = example_find_library(given, LIBRARY_FILE);
    if (!library)
        return 1;
    pdc_client *client = pdc_init(NULL);
    if (!client) {
        fprintf(stderr, "error: pdc_init could not start a local cluster\n");
        free(library);
        return 1;
    }
    int rc = s_run(client, library, timeout_s);
    pdc_shutdown(&client);
    free(library);
    return rc;
}
