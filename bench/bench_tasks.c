/*  bench_tasks: the remote functions of the microbenchmark, as in Ray's
    ray_perf.py: a no-op returning b"ok", a task that puts 100 small
    objects, and a "client" task that submits n no-ops and gets them all
    (Ray uses client actors for the multi-client metric), a task that
    puts ten 80 MiB buffers; and for the
    cluster benchmark 10 ms sleeps and large objects made where they run. */
#include <pdc.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

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
        if (status != PDC_OK)
            return pdc_fail(t, "put failed: %s", pdc_last_error(c));
    }
    return pdc_return_i64(t, 100);
}

/* multi_client_put_gigabytes: ten puts of 80 MiB (Ray: np.zeros of 10 Mi
   int64 each time; here one zeroed buffer per worker, warm after its
   first use, as Ray's zeros read the kernel's zero page). */
#define PUT_GIGABYTES_BYTES ((size_t) 80 << 20)
PDC_FUNCTION(put_gigabytes_10) {
    static void *buffer;
    if (!buffer && !(buffer = calloc(1, PUT_GIGABYTES_BYTES)))
        return pdc_fail(t, "out of memory for 80 MiB");
    pdc_client *c = pdc_task_client(t);
    for (int i = 0; i < 10; i++) {
        int status;
        pdc_ref r = pdc_put(c, PDC_BYTES(buffer, PUT_GIGABYTES_BYTES), &status);
        pdc_ref_release(c, r);
        if (status != PDC_OK)
            return pdc_fail(t, "put of 80 MiB failed: %s", pdc_last_error(c));
    }
    return pdc_return_i64(t, 10);
}

/* single_client_get_object_containing_10k_refs: the object is a list of
   10000 references to puts of 1 (Ray: create_object_containing_ref). */
PDC_FUNCTION(create_object_containing_ref) {
    enum { N = 10000 };
    pdc_client *c = pdc_task_client(t);
    pdc_ref *refs = malloc(N * sizeof *refs);
    if (!refs)
        return pdc_fail(t, "out of memory");
    int n = 0, rc;
    for (; n < N; n++) {
        int status;
        refs[n] = pdc_put(c, PDC_I64(1), &status);
        if (status != PDC_OK)
            break;
    }
    rc = n == N ? pdc_return_refs(t, refs, N) : pdc_fail(t, "put %d: %s", n, pdc_last_error(c));
    for (int i = 0; i < n; i++)
        pdc_ref_release(c, refs[i]);
    free(refs);
    return rc;
}

PDC_FUNCTION(small_value_batch) {
    int64_t n = pdc_arg_i64(t, 0);
    if (n <= 0)
        return pdc_fail(t, "small_value_batch needs n > 0");
    pdc_client *c = pdc_task_client(t);
    pdc_fn self = pdc_task_self(t);
    pdc_fn noop = pdc_function(c, self.library, "small_value");
    pdc_ref *refs = malloc((size_t) n * sizeof *refs);
    if (!refs)
        return pdc_fail(t, "out of memory");
    for (int64_t i = 0; i < n; i++)
        refs[i] = pdc_call(c, noop);
    int failed = 0;
    for (int64_t i = 0; i < n; i++) {
        pdc_object o;
        int rc = pdc_get(c, refs[i], &o, BENCH_TIMEOUT_MS);
        failed |= rc != PDC_OK;
        pdc_object_release(c, &o);
        pdc_ref_release(c, refs[i]);
    }
    free(refs);
    return failed ? pdc_fail(t, "a no-op task failed: %s", pdc_last_error(c))
                  : pdc_return_i64(t, n);
}

/* ---- Actors, as in Ray's ray_perf.py ------------------------------------ */

/* Actor: small_value() returns b"ok"; small_value_arg(x) too. */
static void *actor_new(pdc_task *t) {
    (void) t;
    static int dummy;
    return &dummy;
}
static void actor_free(void *state) {
    (void) state;
}
static PDC_METHOD(actor_small_value) {
    (void) state;
    return pdc_return_bytes(t, "ok", 2);
}
static PDC_METHOD(small_value_arg) {
    (void) state;
    return pdc_return_bytes(t, "ok", 2);
}
PDC_ACTOR_CLASS(Actor, actor_new, actor_free, {"small_value", actor_small_value},
                PDC_METHOD_ENTRY(small_value_arg));

/* Client(servers...): small_value_batch(n) calls small_value n times on
   each server and gets them all; small_value_batch_arg(n) passes a put
   reference to small_value_arg. */
typedef struct {
    pdc_client *c;
    size_t n;
    pdc_actor *servers[16];
} client_t;

static void *client_new(pdc_task *t) {
    client_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->c = pdc_task_client(t);
    for (size_t i = 0; i < pdc_arg_count(t) && s->n < 16; i++) {
        pdc_actor *a = pdc_arg_actor(t, i);
        if (!a) {
            free(s);
            return NULL;
        }
        pdc_actor_retain(s->c, a);
        s->servers[s->n++] = a;
    }
    return s;
}

static void client_free(void *state) {
    client_t *s = state;
    for (size_t i = 0; i < s->n; i++)
        pdc_actor_release(s->c, s->servers[i]);
    free(s);
}

static int s_calls(pdc_task *t, client_t *s, const char *method, int with_arg) {
    int64_t n = pdc_arg_i64(t, 0);
    if (n <= 0)
        return pdc_fail(t, "n must be > 0");
    pdc_ref arg;
    if (with_arg)
        arg = pdc_put(s->c, PDC_I64(0), NULL);
    size_t total = (size_t) n * s->n;
    pdc_ref *refs = malloc(total * sizeof *refs);
    if (!refs)
        return pdc_fail(t, "out of memory");
    size_t k = 0;
    for (size_t a = 0; a < s->n; a++)
        for (int64_t i = 0; i < n; i++)
            refs[k++] = with_arg ? pdc_actor_call(s->c, s->servers[a], method, PDC_REF(arg))
                                 : pdc_actor_call(s->c, s->servers[a], method);
    int failed = 0;
    for (size_t i = 0; i < total; i++) {
        pdc_object o;
        failed |= pdc_get(s->c, refs[i], &o, BENCH_TIMEOUT_MS) != PDC_OK;
        pdc_object_release(s->c, &o);
        pdc_ref_release(s->c, refs[i]);
    }
    free(refs);
    if (with_arg)
        pdc_ref_release(s->c, arg);
    return failed ? pdc_fail(t, "a call failed: %s", pdc_last_error(s->c))
                  : pdc_return_i64(t, (int64_t) total);
}

static PDC_METHOD(client_batch) {
    return s_calls(t, state, "small_value", 0);
}
static PDC_METHOD(client_batch_arg) {
    return s_calls(t, state, "small_value_arg", 1);
}
PDC_ACTOR_CLASS(Client, client_new, client_free, {"small_value_batch", client_batch},
                {"small_value_batch_arg", client_batch_arg});

/* round_robin_calls(n, actors...): n calls spread over the actors. */
PDC_FUNCTION(round_robin_calls) {
    int64_t n = pdc_arg_i64(t, 0);
    size_t k = pdc_arg_count(t) - 1;
    if (n <= 0 || k == 0)
        return pdc_fail(t, "round_robin_calls(n > 0, actors...)");
    pdc_client *c = pdc_task_client(t);
    pdc_ref *refs = malloc((size_t) n * sizeof *refs);
    if (!refs)
        return pdc_fail(t, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        pdc_actor *a = pdc_arg_actor(t, 1 + (size_t) i % k);
        if (!a) {
            n = i;
            break;
        }
        refs[i] = pdc_actor_call(c, a, "small_value");
    }
    int failed = 0;
    for (int64_t i = 0; i < n; i++) {
        pdc_object o;
        failed |= pdc_get(c, refs[i], &o, BENCH_TIMEOUT_MS) != PDC_OK;
        pdc_object_release(c, &o);
        pdc_ref_release(c, refs[i]);
    }
    free(refs);
    return failed ? pdc_fail(t, "a call failed: %s", pdc_last_error(c)) : pdc_return_i64(t, n);
}

/* sleep_ms(ms): sleeps, returns ms (the 10 ms tasks of the scaling
   benchmark).  fill_bytes(n): n bytes made on the node that runs it (the
   objects of the transfer benchmark). */
PDC_FUNCTION(sleep_ms) {
    int64_t ms = pdc_arg_i64(t, 0);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    return pdc_return_i64(t, ms);
}

PDC_FUNCTION(fill_bytes) {
    int64_t n = pdc_arg_i64(t, 0);
    if (n < 0)
        return pdc_fail(t, "fill_bytes: negative size");
    unsigned char *p = pdc_return_alloc(t, (size_t) n);
    if (!p)
        return 1;
    memset(p, 0x5a, (size_t) n);
    return 0;
}

/* sum_sizes(bytes...): the total size of its arguments, each read where
   it is (for the envelope: a task with 10 000 stored arguments). */
PDC_FUNCTION(sum_sizes) {
    int64_t total = 0;
    for (size_t i = 0; i < pdc_arg_count(t); i++) {
        size_t size = 0;
        const unsigned char *p = pdc_arg_bytes(t, i, &size);
        if (!p && size)
            return pdc_fail(t, "argument %zu is not bytes", i);
        total += (int64_t) size + (size ? p[0] : 0);
    }
    return pdc_return_i64(t, total);
}
