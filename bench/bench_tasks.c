/*  bench_tasks: the remote functions of the microbenchmark, as in Ray's
    ray_perf.py: a no-op returning b"ok", a task that puts 100 small
    objects, and a "client" task that submits n no-ops and gets them all
    (Ray uses client actors for the multi-client metric). */
#include <pdc.h>

#include <stdlib.h>

#define BENCH_TIMEOUT_MS 600000

PDC_FUNCTION(small_value) {
    return pdc_return_bytes(t, "ok", 2);
}

PDC_FUNCTION(put_small_100) {
    pdc_client *c = pdc_task_client(t);
    for (int i = 0; i < 100; i++) {
        int status;
        pdc_ref r = pdc_put(c, PDC_I64(0), &status);
        pdc_ref_release(c, r);
        if (status != PDC_OK) return pdc_fail(t, "put failed: %s", pdc_last_error(c));
    }
    return pdc_return_i64(t, 100);
}

PDC_FUNCTION(small_value_batch) {
    int64_t n = pdc_arg_i64(t, 0);
    if (n <= 0) return pdc_fail(t, "small_value_batch needs n > 0");
    pdc_client *c = pdc_task_client(t);
    pdc_fn self = pdc_task_self(t);
    pdc_fn noop = pdc_function(c, self.library, "small_value");
    pdc_ref *refs = malloc((size_t) n * sizeof *refs);
    if (!refs) return pdc_fail(t, "out of memory");
    for (int64_t i = 0; i < n; i++) refs[i] = pdc_call(c, noop);
    int failed = 0;
    for (int64_t i = 0; i < n; i++) {
        pdc_object o;
        int rc = pdc_get(c, refs[i], &o, BENCH_TIMEOUT_MS);
        failed |= rc != PDC_OK;
        pdc_object_release(c, &o);
        pdc_ref_release(c, refs[i]);
    }
    free(refs);
    return failed ? pdc_fail(t, "a no-op task failed: %s", pdc_last_error(c)) : pdc_return_i64(t, n);
}
