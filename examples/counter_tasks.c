/*  counter_tasks.c: the actor class and the task of the counter example.

    Counter is the smallest useful actor: its state is one int64 that
    lives in the actor's worker process between calls.  add_many is an
    ordinary task that is handed the actor (PDC_ACTOR) and calls it. */
#include <pdc.h>

#include <stdlib.h>

static void *counter_new(pdc_task *t) {
    int64_t *count = malloc(sizeof *count);
    if (!count) {
        pdc_fail(t, "out of memory");
        return NULL;
    }
    *count = pdc_arg_count(t) ? pdc_arg_i64(t, 0) : 0;
    return count;
}

static void counter_free(void *state) {
    free(state);
}

/* incr(k): add k, return the new count. */
static PDC_METHOD(incr) {
    int64_t *count = state;
    return pdc_return_i64(t, *count += pdc_arg_i64(t, 0));
}

/* get(): the count. */
static PDC_METHOD(get) {
    return pdc_return_i64(t, *(int64_t *) state);
}

PDC_ACTOR_CLASS(Counter, counter_new, counter_free, PDC_METHOD_ENTRY(incr), PDC_METHOD_ENTRY(get));

/* add_many(counter, n, timeout_ms): call counter.incr(1) n times from a
   task (another process than the driver), return the last count seen. */
PDC_FUNCTION(add_many) {
    pdc_actor *counter = pdc_arg_actor(t, 0);
    int64_t n = pdc_arg_i64(t, 1), timeout_ms = pdc_arg_i64(t, 2);
    if (!counter)
        return 1; /* pdc_arg_actor failed the task already */
    pdc_client *c = pdc_task_client(t);
    int64_t last = 0;
    for (int64_t i = 0; i < n; i++) {
        pdc_ref r = pdc_actor_call(c, counter, "incr", PDC_I64(1));
        int rc = pdc_get_i64(c, r, &last, timeout_ms);
        pdc_ref_release(c, r);
        if (rc != PDC_OK)
            return pdc_fail(t, "incr: %s", pdc_last_error(c));
    }
    return pdc_return_i64(t, last);
}
