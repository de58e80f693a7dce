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

/* ---- For test_errors and test_cleanup: failing, crashing, side effects */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* fail_with_message(msg): fails with PDC_ETASK and msg. */
PDC_FUNCTION(fail_with_message) {
    size_t n;
    const char *msg = pdc_arg_str(t, 0, &n);
    return pdc_fail(t, "%.*s", (int) n, msg ? msg : "");
}

/* fail_after_ms(ms, msg): sleeps, then fails (so that dependents are
   submitted while it is still pending). */
PDC_FUNCTION(fail_after_ms) {
    int64_t ms = pdc_arg_i64(t, 0);
    size_t n;
    const char *msg = pdc_arg_str(t, 1, &n);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    return pdc_fail(t, "%.*s", (int) n, msg ? msg : "");
}

/* touch_marker(anything, path): creates the file path; returns 1.  A test
   passes a failed reference as the first argument and checks that the
   file never appears. */
PDC_FUNCTION(touch_marker) {
    size_t n;
    const char *p = pdc_arg_str(t, 1, &n);
    if (!p) return 1;
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int) n, p);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return pdc_fail(t, "cannot create %s", path);
    close(fd);
    return pdc_return_i64(t, 1);
}

PDC_FUNCTION(crash_abort) {
    (void) t;
    abort();
}

PDC_FUNCTION(crash_sigkill) {
    (void) t;
    raise(SIGKILL);
    return 0;
}

/* crash_once(path): the first call (path does not exist yet) creates
   path and kills its worker; later calls return 42. */
PDC_FUNCTION(crash_once) {
    size_t n;
    const char *p = pdc_arg_str(t, 0, &n);
    if (!p) return 1;
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int) n, p);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        raise(SIGKILL);
    }
    return pdc_return_i64(t, 42);
}

/* worker_pid(): the pid of the worker running it. */
PDC_FUNCTION(worker_pid) {
    return pdc_return_i64(t, (int64_t) getpid());
}
