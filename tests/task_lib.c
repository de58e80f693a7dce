/*  task_lib: the remote functions the integration tests call.
    Built as libpdc_test_tasks.so; tests find it through PDC_TEST_LIB. */
#include <pdc.h>

#include <stdint.h>
#include <string.h>

PDC_FUNCTION(noop) {
    return pdc_return_bytes(t, "ok", 2);
}

PDC_FUNCTION(add) {
    int64_t a = pdc_arg_i64(t, 0), b = pdc_arg_i64(t, 1);
    return pdc_return_i64(t, a + b);
}
