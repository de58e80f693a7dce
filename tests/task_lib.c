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
    if (!p)
        return 1;
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int) n, p);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return pdc_fail(t, "cannot create %s", path);
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
    if (!p)
        return 1;
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

/* ---- Used by test_tasks, test_objects and test_nested ----------------- */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* FNV-1a, 64 bits: the checksum the tests compute on their side too. */
static int64_t s_fnv1a(const void *data, size_t size) {
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < size; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return (int64_t) h;
}

static void s_sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t) (ms / 1000), (long) (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL); /* a SIGTERM at shutdown may cut it short */
}

/* echo(x): returns its argument unchanged, with its type. */
PDC_FUNCTION(echo) {
    size_t n;
    const void *p;
    switch (pdc_arg_type(t, 0)) {
    case PDC_T_I64:
        return pdc_return_i64(t, pdc_arg_i64(t, 0));
    case PDC_T_F64:
        return pdc_return_f64(t, pdc_arg_f64(t, 0));
    case PDC_T_STR: { /* pdc_return_str takes a C string: no NULs inside */
        p = pdc_arg_str(t, 0, &n);
        char *s = malloc(n + 1);
        if (!s)
            return pdc_fail(t, "echo: out of memory");
        memcpy(s, p, n);
        s[n] = '\0';
        int rc = pdc_return_str(t, s);
        free(s);
        return rc;
    }
    case PDC_T_BYTES:
        p = pdc_arg_bytes(t, 0, &n);
        return pdc_return_bytes(t, p, n);
    default:
        return pdc_fail(t, "echo: argument 0 has type %d", (int) pdc_arg_type(t, 0));
    }
}

/* describe(args...): one word per argument: "i:V", "f:V", "s:LEN:SUM" or
   "b:LEN:SUM" (SUM the FNV-1a checksum), separated by spaces. */
PDC_FUNCTION(describe) {
    char out[4096];
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < pdc_arg_count(t); i++) {
        size_t n;
        const void *p;
        int w;
        const char *sep = i ? " " : "";
        switch (pdc_arg_type(t, i)) {
        case PDC_T_I64:
            w = snprintf(out + used, sizeof out - used, "%si:%lld", sep,
                         (long long) pdc_arg_i64(t, i));
            break;
        case PDC_T_F64:
            w = snprintf(out + used, sizeof out - used, "%sf:%.17g", sep, pdc_arg_f64(t, i));
            break;
        case PDC_T_STR:
            p = pdc_arg_str(t, i, &n);
            w = snprintf(out + used, sizeof out - used, "%ss:%zu:%lld", sep, n,
                         (long long) s_fnv1a(p, n));
            break;
        case PDC_T_BYTES:
            p = pdc_arg_bytes(t, i, &n);
            w = snprintf(out + used, sizeof out - used, "%sb:%zu:%lld", sep, n,
                         (long long) s_fnv1a(p, n));
            break;
        default:
            w = snprintf(out + used, sizeof out - used, "%s?:%d", sep, (int) pdc_arg_type(t, i));
            break;
        }
        if (w < 0 || (size_t) w >= sizeof out - used)
            return pdc_fail(t, "describe: too many arguments");
        used += (size_t) w;
    }
    return pdc_return_str(t, out);
}

/* checksum(bytes or string): its FNV-1a checksum. */
PDC_FUNCTION(checksum) {
    size_t n;
    const void *p = pdc_arg_bytes(t, 0, &n);
    return pdc_return_i64(t, s_fnv1a(p, n));
}

/* make_bytes(n, seed): n bytes, byte i = (i * 31 + seed) & 0xff, written
   in place with pdc_return_alloc (large ones straight to the store). */
PDC_FUNCTION(make_bytes) {
    int64_t n = pdc_arg_i64(t, 0), seed = pdc_arg_i64(t, 1);
    if (n < 0)
        return pdc_fail(t, "make_bytes: negative size %lld", (long long) n);
    unsigned char *p = pdc_return_alloc(t, (size_t) n);
    if (!p)
        return 1;
    for (int64_t i = 0; i < n; i++)
        p[i] = (unsigned char) ((i * 31 + seed) & 0xff);
    return 0;
}

/* bytes_plus_one(b): b with every byte one higher (mod 256), written in
   place (large ones straight to the store): each link of a chain makes a
   value of its own, so a rebuilt chain shows it ran every link. */
PDC_FUNCTION(bytes_plus_one) {
    size_t n;
    const unsigned char *in = pdc_arg_bytes(t, 0, &n);
    if (!in)
        return 1;
    unsigned char *out = pdc_return_alloc(t, n);
    if (!out)
        return 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char) (in[i] + 1);
    return 0;
}

/* sleep_ms(ms): sleeps, returns ms. */
PDC_FUNCTION(sleep_ms) {
    int64_t ms = pdc_arg_i64(t, 0);
    s_sleep_ms(ms);
    return pdc_return_i64(t, ms);
}

/* node(): the id of the node running the task.  sleep_node(ms): the same
   after ms. */
PDC_FUNCTION(node) {
    return pdc_return_str(t, pdc_node_id(pdc_task_client(t)));
}

PDC_FUNCTION(sleep_node) {
    s_sleep_ms(pdc_arg_i64(t, 0));
    return pdc_return_str(t, pdc_node_id(pdc_task_client(t)));
}

/* node_of_arg(x): the node running the task, after reading argument 0
   (so that it is resolved there). */
PDC_FUNCTION(node_of_arg) {
    size_t n;
    pdc_arg_bytes(t, 0, &n);
    return pdc_return_str(t, pdc_node_id(pdc_task_client(t)));
}

/* pid(): the worker's process id.  sleep_pid(ms): the same after ms. */
PDC_FUNCTION(pid) {
    return pdc_return_i64(t, (int64_t) getpid());
}

PDC_FUNCTION(sleep_pid) {
    s_sleep_ms(pdc_arg_i64(t, 0));
    return pdc_return_i64(t, (int64_t) getpid());
}

/* self_name(): "library:name" of the running function (pdc_task_self). */
PDC_FUNCTION(self_name) {
    pdc_fn me = pdc_task_self(t);
    char out[4096];
    snprintf(out, sizeof out, "%s:%s", me.library ? me.library : "(null)",
             me.name ? me.name : "(null)");
    return pdc_return_str(t, out);
}

/* Get an int from a nested call, release the reference, and fail the
   task (returning nonzero) if that did not work. */
static int s_nested_i64(pdc_task *t, pdc_ref r, int64_t timeout_ms, int64_t *out,
                        const char *what) {
    pdc_client *c = pdc_task_client(t);
    int rc = pdc_get_i64(c, r, out, timeout_ms);
    pdc_ref_release(c, r);
    if (rc != PDC_OK)
        return pdc_fail(t, "%s: %s: %s", what, pdc_status_name(rc), pdc_last_error(c));
    return 0;
}

/* nested_fanout(n, timeout_ms): submits add(i, 1) for i < n from inside
   the task, gets them all and returns the sum, n (n + 1) / 2. */
PDC_FUNCTION(nested_fanout) {
    int64_t n = pdc_arg_i64(t, 0), timeout = pdc_arg_i64(t, 1);
    if (n < 0 || n > 4096)
        return pdc_fail(t, "nested_fanout: n out of range");
    pdc_client *c = pdc_task_client(t);
    if (!c)
        return pdc_fail(t, "no client for nested calls");
    pdc_fn add = pdc_function(c, pdc_task_self(t).library, "add");
    pdc_ref refs[4096];
    for (int64_t i = 0; i < n; i++)
        refs[i] = pdc_call(c, add, PDC_I64(i), PDC_I64(1));
    int64_t sum = 0;
    int failed = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t v = 0;
        if (failed)
            pdc_ref_release(c, refs[i]);
        else if (s_nested_i64(t, refs[i], timeout, &v, "nested add"))
            failed = 1;
        sum += v;
    }
    return failed ? 1 : pdc_return_i64(t, sum);
}

/* fib(n, timeout_ms): fib(n - 1) + fib(n - 2), each a nested task. */
PDC_FUNCTION(fib) {
    int64_t n = pdc_arg_i64(t, 0), timeout = pdc_arg_i64(t, 1);
    if (n < 2)
        return pdc_return_i64(t, n);
    pdc_client *c = pdc_task_client(t);
    if (!c)
        return pdc_fail(t, "no client for nested calls");
    pdc_fn self = pdc_task_self(t);
    pdc_ref a = pdc_call(c, self, PDC_I64(n - 1), PDC_I64(timeout));
    pdc_ref b = pdc_call(c, self, PDC_I64(n - 2), PDC_I64(timeout));
    int64_t x = 0, y = 0;
    if (s_nested_i64(t, a, timeout, &x, "fib(n - 1)")) {
        pdc_ref_release(c, b);
        return 1;
    }
    if (s_nested_i64(t, b, timeout, &y, "fib(n - 2)"))
        return 1;
    return pdc_return_i64(t, x + y);
}

/* tree_sum(depth, timeout_ms): 1 + tree_sum(depth - 1) twice, nested;
   the result is the number of nodes, 2^(depth + 1) - 1. */
PDC_FUNCTION(tree_sum) {
    int64_t depth = pdc_arg_i64(t, 0), timeout = pdc_arg_i64(t, 1);
    if (depth <= 0)
        return pdc_return_i64(t, 1);
    pdc_client *c = pdc_task_client(t);
    if (!c)
        return pdc_fail(t, "no client for nested calls");
    pdc_fn self = pdc_task_self(t);
    pdc_ref l = pdc_call(c, self, PDC_I64(depth - 1), PDC_I64(timeout));
    pdc_ref r = pdc_call(c, self, PDC_I64(depth - 1), PDC_I64(timeout));
    int64_t x = 0, y = 0;
    if (s_nested_i64(t, l, timeout, &x, "left subtree")) {
        pdc_ref_release(c, r);
        return 1;
    }
    if (s_nested_i64(t, r, timeout, &y, "right subtree"))
        return 1;
    return pdc_return_i64(t, 1 + x + y);
}

/* nested_pass_ref(n, seed, timeout_ms): make_bytes(n, seed) in a nested
   task, then hands its reference (unread) to a nested checksum task and
   returns that checksum. */
PDC_FUNCTION(nested_pass_ref) {
    int64_t n = pdc_arg_i64(t, 0), seed = pdc_arg_i64(t, 1), timeout = pdc_arg_i64(t, 2);
    pdc_client *c = pdc_task_client(t);
    if (!c)
        return pdc_fail(t, "no client for nested calls");
    const char *lib = pdc_task_self(t).library;
    pdc_ref data = pdc_call(c, pdc_function(c, lib, "make_bytes"), PDC_I64(n), PDC_I64(seed));
    pdc_ref sum = pdc_call(c, pdc_function(c, lib, "checksum"), PDC_REF(data));
    pdc_ref_release(c, data); /* the checksum task holds its own */
    int64_t v = 0;
    if (s_nested_i64(t, sum, timeout, &v, "nested checksum"))
        return 1;
    return pdc_return_i64(t, v);
}

/* nested_get_bytes(n, seed, timeout_ms): make_bytes(n, seed) in a nested
   task, reads the result here (from the store when large) and returns
   its checksum. */
PDC_FUNCTION(nested_get_bytes) {
    int64_t n = pdc_arg_i64(t, 0), seed = pdc_arg_i64(t, 1), timeout = pdc_arg_i64(t, 2);
    pdc_client *c = pdc_task_client(t);
    if (!c)
        return pdc_fail(t, "no client for nested calls");
    pdc_ref r = pdc_call(c, pdc_function(c, pdc_task_self(t).library, "make_bytes"), PDC_I64(n),
                         PDC_I64(seed));
    pdc_object o;
    int rc = pdc_get(c, r, &o, timeout);
    pdc_ref_release(c, r);
    if (rc != PDC_OK) {
        pdc_object_release(c, &o);
        return pdc_fail(t, "nested make_bytes: %s: %s", pdc_status_name(rc), pdc_last_error(c));
    }
    if (o.type != PDC_T_BYTES || o.size != (size_t) n) {
        pdc_object_release(c, &o);
        return pdc_fail(t, "nested make_bytes returned type %d size %zu", (int) o.type, o.size);
    }
    int64_t sum = s_fnv1a(o.data, o.size);
    pdc_object_release(c, &o);
    return pdc_return_i64(t, sum);
}

/* span(ms): sleeps ms and returns 24 bytes, three int64: the worker's
   pid and CLOCK_MONOTONIC (the same clock in every process of the
   machine) in ns when the task started and when it ended. */
PDC_FUNCTION(span) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    s_sleep_ms(pdc_arg_i64(t, 0));
    clock_gettime(CLOCK_MONOTONIC, &b);
    int64_t out[3] = {(int64_t) getpid(), (int64_t) a.tv_sec * 1000000000 + a.tv_nsec,
                      (int64_t) b.tv_sec * 1000000000 + b.tv_nsec};
    return pdc_return_bytes(t, out, sizeof out);
}

/* ---- Actor classes for test_actors.c ---------------------------------- */

#include <pthread.h>
#include <stdlib.h>

/* Counter(start): incr(k) adds k and returns the total; get(); fail(msg)
   fails with msg; pid() returns the worker's pid; slow(ms) sleeps and
   returns how many calls were running at once at its peak. */
typedef struct {
    int64_t total;
    int running, peak;
    pthread_mutex_t mu;
    int64_t *seen; /* check_order: last sequence number per caller */
} counter_t;

static void *counter_new(pdc_task *t) {
    if (pdc_arg_count(t) && pdc_arg_type(t, 0) == PDC_T_STR) {
        size_t n;
        const char *s = pdc_arg_str(t, 0, &n);
        pdc_fail(t, "constructor refused: %.*s", (int) n, s);
        return NULL;
    }
    counter_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->total = pdc_arg_count(t) ? pdc_arg_i64(t, 0) : 0;
    c->seen = calloc(64, sizeof *c->seen);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void counter_free(void *state) {
    counter_t *c = state;
    const char *marker = getenv("PDC_TEST_DESTRUCTOR_MARKER");
    if (marker) {
        FILE *f = fopen(marker, "w");
        if (f)
            fclose(f);
    }
    free(c->seen);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static PDC_METHOD(incr) {
    counter_t *c = state;
    int64_t k = pdc_arg_i64(t, 0);
    pthread_mutex_lock(&c->mu);
    int64_t v = c->total += k;
    pthread_mutex_unlock(&c->mu);
    return pdc_return_i64(t, v);
}

static PDC_METHOD(get) {
    counter_t *c = state;
    return pdc_return_i64(t, c->total);
}

static PDC_METHOD(fail) {
    (void) state;
    size_t n;
    const char *s = pdc_arg_str(t, 0, &n);
    return pdc_fail(t, "asked to fail: %.*s", (int) n, s ? s : "");
}

static PDC_METHOD(actor_pid) {
    (void) state;
    return pdc_return_i64(t, (int64_t) getpid());
}

static PDC_METHOD(slow) {
    counter_t *c = state;
    pthread_mutex_lock(&c->mu);
    if (++c->running > c->peak)
        c->peak = c->running;
    pthread_mutex_unlock(&c->mu);
    s_sleep_ms(pdc_arg_i64(t, 0));
    pthread_mutex_lock(&c->mu);
    c->running--;
    int peak = c->peak;
    pthread_mutex_unlock(&c->mu);
    return pdc_return_i64(t, peak);
}

/* check_order(caller, seq): fails unless seq is the caller's next number. */
static PDC_METHOD(check_order) {
    counter_t *c = state;
    int64_t caller = pdc_arg_i64(t, 0), seq = pdc_arg_i64(t, 1);
    if (caller < 0 || caller >= 64)
        return pdc_fail(t, "caller %lld out of range", (long long) caller);
    if (seq != c->seen[caller] + 1)
        return pdc_fail(t, "caller %lld: call %lld arrived after %lld", (long long) caller,
                        (long long) seq, (long long) c->seen[caller]);
    c->seen[caller] = seq;
    return pdc_return_i64(t, seq);
}

/* actor_gpus(): CUDA_VISIBLE_DEVICES in the actor's worker. */
static PDC_METHOD(actor_gpus) {
    (void) state;
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    return pdc_return_str(t, v ? v : "(unset)");
}

/* actor_node(): the id of the node hosting the actor. */
static PDC_METHOD(actor_node) {
    (void) state;
    return pdc_return_str(t, pdc_node_id(pdc_task_client(t)));
}

/* call_other(handle, k): calls incr(k) on the actor handle it was given
   (from a method: handles pass to actors too). */
static PDC_METHOD(call_other) {
    (void) state;
    pdc_actor *other = pdc_arg_actor(t, 0);
    int64_t k = pdc_arg_i64(t, 1);
    if (!other)
        return 1;
    pdc_client *c = pdc_task_client(t);
    int64_t v;
    pdc_ref r = pdc_actor_call(c, other, "incr", PDC_I64(k));
    int rc = pdc_get_i64(c, r, &v, 30000);
    pdc_ref_release(c, r);
    if (rc != PDC_OK)
        return pdc_fail(t, "incr on the other actor: %s", pdc_last_error(c));
    return pdc_return_i64(t, v);
}

PDC_ACTOR_CLASS(Counter, counter_new, counter_free, PDC_METHOD_ENTRY(incr), PDC_METHOD_ENTRY(get),
                PDC_METHOD_ENTRY(fail), PDC_METHOD_ENTRY(actor_pid), PDC_METHOD_ENTRY(slow),
                PDC_METHOD_ENTRY(check_order), PDC_METHOD_ENTRY(call_other),
                PDC_METHOD_ENTRY(actor_node), PDC_METHOD_ENTRY(actor_gpus));

/* use_actor(handle, k, n): a task that calls incr(k) n times on the actor
   it was handed and returns the last total. */
PDC_FUNCTION(use_actor) {
    pdc_actor *a = pdc_arg_actor(t, 0);
    int64_t k = pdc_arg_i64(t, 1), n = pdc_arg_i64(t, 2), v = 0;
    if (!a)
        return 1;
    pdc_client *c = pdc_task_client(t);
    for (int64_t i = 0; i < n; i++) {
        pdc_ref r = pdc_actor_call(c, a, "incr", PDC_I64(k));
        int rc = pdc_get_i64(c, r, &v, 30000);
        pdc_ref_release(c, r);
        if (rc != PDC_OK)
            return pdc_fail(t, "incr: %s", pdc_last_error(c));
    }
    return pdc_return_i64(t, v);
}

/* Ledger(path, n): an actor whose state is n bytes of a file shared by
   every host (the chaos test's hosts share one file system), mapped, so
   that a restarted Ledger on any node goes on where the last one left
   off: mark(i) sets byte i (idempotent: marking twice is marking once)
   and returns i; marked() counts the bytes set. */
#include <sys/mman.h>

typedef struct {
    unsigned char *bytes;
    size_t n;
} ledger_t;

static void *ledger_new(pdc_task *t) {
    size_t len;
    const char *path = pdc_arg_str(t, 0, &len);
    int64_t n = pdc_arg_i64(t, 1);
    char file[4096];
    if (!path || n <= 0 || len >= sizeof file) {
        pdc_fail(t, "Ledger(path, n > 0)");
        return NULL;
    }
    snprintf(file, sizeof file, "%.*s", (int) len, path);
    int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t) n) != 0) {
        pdc_fail(t, "cannot open %s", file);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    ledger_t *l = calloc(1, sizeof *l);
    void *map = mmap(NULL, (size_t) n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (!l || map == MAP_FAILED) {
        free(l);
        pdc_fail(t, "cannot map %s", file);
        return NULL;
    }
    l->bytes = map;
    l->n = (size_t) n;
    return l;
}

static void ledger_free(void *state) {
    ledger_t *l = state;
    munmap(l->bytes, l->n);
    free(l);
}

static PDC_METHOD(mark) {
    ledger_t *l = state;
    int64_t i = pdc_arg_i64(t, 0);
    if (i < 0 || (size_t) i >= l->n)
        return pdc_fail(t, "mark(%lld): out of range", (long long) i);
    l->bytes[i] = 1;
    return pdc_return_i64(t, i);
}

static PDC_METHOD(marked) {
    ledger_t *l = state;
    int64_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->bytes[i] != 0;
    return pdc_return_i64(t, n);
}

PDC_ACTOR_CLASS(Ledger, ledger_new, ledger_free, PDC_METHOD_ENTRY(mark), PDC_METHOD_ENTRY(marked),
                PDC_METHOD_ENTRY(actor_pid));

/* use_actor_twice(handle, k, wait_ms): incr(k) on the actor it was
   handed, then after wait_ms incr(k) again; returns the second total (the
   restart tests kill the actor in between: the handle must follow it). */
PDC_FUNCTION(use_actor_twice) {
    pdc_actor *a = pdc_arg_actor(t, 0);
    int64_t k = pdc_arg_i64(t, 1), v = 0;
    if (!a)
        return 1;
    pdc_client *c = pdc_task_client(t);
    for (int i = 0; i < 2; i++) {
        if (i)
            s_sleep_ms(pdc_arg_i64(t, 2));
        pdc_ref r = pdc_actor_call(c, a, "incr", PDC_I64(k));
        int rc = pdc_get_i64(c, r, &v, 30000);
        pdc_ref_release(c, r);
        if (rc != PDC_OK)
            return pdc_fail(t, "incr %d: %s", i + 1, pdc_last_error(c));
    }
    return pdc_return_i64(t, v);
}

/* put_and_keep(size): puts size bytes from inside the task and keeps
   the reference in this worker (never released: the worker owns the
   object for its life); returns the worker's pid.  The owner-death test
   kills the worker and watches the object go from the store. */
PDC_FUNCTION(put_and_keep) {
    static pdc_ref kept[64] __attribute__((used));
    static int nkept;
    size_t n = (size_t) pdc_arg_i64(t, 0);
    void *buf = malloc(n ? n : 1);
    if (!buf)
        return pdc_fail(t, "out of memory");
    memset(buf, 0x5a, n);
    int status = PDC_OK;
    pdc_ref r = pdc_put(pdc_task_client(t), PDC_BYTES(buf, n), &status);
    free(buf);
    if (status != PDC_OK)
        return pdc_fail(t, "put: %s", pdc_last_error(pdc_task_client(t)));
    if (nkept < 64)
        kept[nkept++] = r;
    return pdc_return_i64(t, (int64_t) getpid());
}

/* make_actors(): creates a Counter and a detached Counter named
   "keeper" from inside a task (this worker owns both) and returns three
   int64 as bytes: this worker's pid and the two actors' pids. */
PDC_FUNCTION(make_actors) {
    pdc_client *c = pdc_task_client(t);
    const char *lib = pdc_task_self(t).library;
    pdc_actor_opts detached = {.name = "keeper", .detached = 1};
    pdc_actor *owned = pdc_actor_create(c, lib, "Counter", NULL, PDC_I64(0));
    pdc_actor *kept = pdc_actor_create(c, lib, "Counter", &detached, PDC_I64(0));
    int64_t pids[3] = {(int64_t) getpid(), 0, 0};
    pdc_actor *actors[2] = {owned, kept};
    for (int i = 0; i < 2; i++) {
        pdc_ref r = pdc_actor_call(c, actors[i], "actor_pid", PDC_I64(0));
        int rc = pdc_get_i64(c, r, &pids[1 + i], 30000);
        pdc_ref_release(c, r);
        if (rc != PDC_OK)
            return pdc_fail(t, "actor_pid: %s", pdc_last_error(c));
        pdc_actor_release(c, actors[i]);
    }
    return pdc_return_bytes(t, pids, sizeof pids);
}

/* incr_named(name, k): looks the actor up by name (in the default
   namespace) and calls incr(k) on it; returns the total. */
PDC_FUNCTION(incr_named) {
    size_t n;
    const char *name = pdc_arg_str(t, 0, &n);
    int64_t k = pdc_arg_i64(t, 1), v = 0;
    if (!name)
        return 1;
    char copy[256];
    snprintf(copy, sizeof copy, "%.*s", (int) n, name);
    pdc_client *c = pdc_task_client(t);
    pdc_actor *a = pdc_actor_get_named(c, copy, NULL, 30000);
    if (!a)
        return pdc_fail(t, "no actor named %s: %s", copy, pdc_last_error(c));
    pdc_ref r = pdc_actor_call(c, a, "incr", PDC_I64(k));
    int rc = pdc_get_i64(c, r, &v, 30000);
    pdc_ref_release(c, r);
    pdc_actor_release(c, a);
    if (rc != PDC_OK)
        return pdc_fail(t, "incr on %s: %s", copy, pdc_last_error(c));
    return pdc_return_i64(t, v);
}

/* cuda_visible(ms): CUDA_VISIBLE_DEVICES as the task sees it after
   sleeping ms ("(unset)" if it is not set). */
PDC_FUNCTION(cuda_visible) {
    s_sleep_ms(pdc_arg_i64(t, 0));
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    return pdc_return_str(t, v ? v : "(unset)");
}

/* say(text): writes text and a newline to the worker's stdout (for the
   job tests: a job's workers' output streams to pdc-submit); returns 1. */
PDC_FUNCTION(say) {
    size_t n;
    const char *text = pdc_arg_str(t, 0, &n);
    printf("%.*s\n", (int) n, text ? text : "");
    fflush(stdout);
    return pdc_return_i64(t, 1);
}

/* put_list(n, size): n objects put by this task (object i: size bytes
   of fill_pattern with seed i, or the int i when size is 0), returned as
   a list of references; this worker owns them and lets go of its own
   references, so only the caller's borrow keeps them. */
PDC_FUNCTION(put_list) {
    int64_t n = pdc_arg_i64(t, 0), size = pdc_arg_i64(t, 1);
    pdc_client *c = pdc_task_client(t);
    if (n < 0 || size < 0)
        return pdc_fail(t, "put_list: negative n or size");
    pdc_ref *refs = malloc((size_t) (n ? n : 1) * sizeof *refs);
    unsigned char *buf = malloc((size_t) (size ? size : 1));
    if (!refs || !buf)
        return pdc_fail(t, "put_list: out of memory");
    for (int64_t i = 0; i < n; i++) {
        int status;
        if (size)
            for (int64_t k = 0; k < size; k++)
                buf[k] = (unsigned char) ((k * 131 + i * 7 + 3) & 0xff);
        refs[i] = size ? pdc_put(c, PDC_BYTES(buf, (size_t) size), &status)
                       : pdc_put(c, PDC_I64(i), &status);
        if (status != PDC_OK)
            return pdc_fail(t, "put_list: put %lld: %s", (long long) i, pdc_last_error(c));
    }
    int rc = pdc_return_refs(t, refs, (size_t) n);
    for (int64_t i = 0; i < n; i++)
        pdc_ref_release(c, refs[i]);
    free(refs);
    free(buf);
    return rc;
}

/* sum_list(list): the sum of the ints the list's references hold (read
   from their owners: borrowed for the task). */
PDC_FUNCTION(sum_list) {
    pdc_client *c = pdc_task_client(t);
    size_t n = pdc_arg_nrefs(t, 0);
    int64_t sum = 0;
    for (size_t k = 0; k < n; k++) {
        pdc_ref r = pdc_arg_ref(t, 0, k);
        int64_t v = 0;
        int rc = pdc_get_i64(c, r, &v, 30000);
        pdc_ref_release(c, r);
        if (rc != PDC_OK)
            return pdc_fail(t, "sum_list: reference %zu: %s: %s", k, pdc_status_name(rc),
                            pdc_last_error(c));
        sum += v;
    }
    return pdc_return_i64(t, sum);
}

/* return_borrowed(list): returns the list's first reference, which it
   only borrows: refused (a task returns only its own references). */
PDC_FUNCTION(return_borrowed) {
    pdc_client *c = pdc_task_client(t);
    pdc_ref r = pdc_arg_ref(t, 0, 0);
    int rc = pdc_return_refs(t, &r, 1);
    pdc_ref_release(c, r);
    return rc;
}

/* pid_list(n): a list of n ints this worker puts, the first its pid and
   the others 1..n-1 (for the owner-death test). */
PDC_FUNCTION(pid_list) {
    int64_t n = pdc_arg_i64(t, 0);
    pdc_client *c = pdc_task_client(t);
    pdc_ref refs[16];
    if (n < 1 || n > 16)
        return pdc_fail(t, "pid_list: n must be 1..16");
    for (int64_t i = 0; i < n; i++) {
        int status;
        refs[i] = pdc_put(c, PDC_I64(i ? i : (int64_t) getpid()), &status);
        if (status != PDC_OK)
            return pdc_fail(t, "pid_list: %s", pdc_last_error(c));
    }
    int rc = pdc_return_refs(t, refs, (size_t) n);
    for (int64_t i = 0; i < n; i++)
        pdc_ref_release(c, refs[i]);
    return rc;
}

/* call_pid_list(n): calls pid_list(n), waits for it, and returns a list
   of that one reference: the caller borrows the inner list from this
   worker, and the inner list's objects from the worker that ran it. */
PDC_FUNCTION(call_pid_list) {
    pdc_client *c = pdc_task_client(t);
    pdc_fn self = pdc_task_self(t);
    pdc_ref inner =
        pdc_call(c, pdc_function(c, self.library, "pid_list"), PDC_I64(pdc_arg_i64(t, 0)));
    uint8_t ready = 0;
    if (pdc_wait(c, &inner, 1, 1, 60000, &ready) != 1) {
        pdc_ref_release(c, inner);
        return pdc_fail(t, "call_pid_list: pid_list did not finish: %s", pdc_last_error(c));
    }
    int rc = pdc_return_refs(t, &inner, 1);
    pdc_ref_release(c, inner);
    return rc;
}

/* sleep_list(n, ms): calls sleep_ms(ms) n times and returns the n
   references at once, before those calls finish: the caller borrows
   objects still pending at their owner. */
PDC_FUNCTION(sleep_list) {
    int64_t n = pdc_arg_i64(t, 0), ms = pdc_arg_i64(t, 1);
    pdc_client *c = pdc_task_client(t);
    pdc_ref refs[16];
    if (n < 1 || n > 16)
        return pdc_fail(t, "sleep_list: n must be 1..16");
    pdc_fn self = pdc_task_self(t);
    pdc_fn sleep = pdc_function(c, self.library, "sleep_ms");
    for (int64_t i = 0; i < n; i++)
        refs[i] = pdc_call(c, sleep, PDC_I64(ms + i));
    int rc = pdc_return_refs(t, refs, (size_t) n);
    for (int64_t i = 0; i < n; i++)
        pdc_ref_release(c, refs[i]);
    return rc;
}

/* sum_words(bytes): the wrapping sum of the argument's 64-bit words (a
   trailing part shorter than a word is left out), for objects too large
   to checksum byte by byte in a test's time. */
PDC_FUNCTION(sum_words) {
    size_t n;
    const uint64_t *p = pdc_arg_bytes(t, 0, &n);
    uint64_t sum = 0;
    for (size_t j = 0; p && j < n / 8; j++)
        sum += p[j];
    return pdc_return_i64(t, (int64_t) sum);
}
