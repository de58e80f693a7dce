/*  paramserver_tasks.c: the actor and the tasks of the parameter-server
    example.

    Compiled into libpdc_example_paramserver.so, which pdc workers dlopen.
    The driver (paramserver.c) trains a linear regression model y ≈ X w
    by data-parallel gradient descent on the mean squared error:

        ParameterServer(d: i64, lr: f64)          an actor holding w (d doubles,
                                                  starting at zero)
          .get_weights() -> bytes                 w
          .apply_gradients(g1: bytes, ...) -> bytes
                                                  w -= lr * mean(g1, ...); the
                                                  new w
        gradient(shard: bytes, w: bytes) -> bytes 2/n X^T (X w - y) on the shard
        loss(shard: bytes, w: bytes) -> f64       1/n |X w - y|^2 on the shard

    A shard is one bytes object: a 16-byte header of two int64, rows n and
    dims d, then X (n×d doubles, row-major) and y (n doubles).  The
    driver passes shards and weights as object references (PDC_REF): a
    reference argument is resolved before the call runs, so the functions
    here see plain PDC_T_BYTES.

    Alignment: bytes of objects over the inline limit (100 KiB) come from
    the shared-memory store and are 64-byte aligned, so a default shard's
    X and y (at offset 16) are read in place.  Smaller objects, such as
    the weights and gradients (d doubles), arrive at any address and are
    copied into aligned buffers before BLAS reads them.

    A task runs on one CPU slot, so it asks OpenBLAS for one thread: the
    parallelism comes from running many tasks at once, and a BLAS thread
    pool per worker would oversubscribe the cores.
*/
#include <pdc.h>

#include <cblas.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SHARD_HEADER_BYTES (2 * sizeof(int64_t))
/* Limits that keep every size computation far from overflowing and
   every dimension within BLAS's int. */
#define MAX_DIMS (INT64_C(1) << 20)
#define MAX_ROWS (INT64_C(1) << 30)

static void s_one_blas_thread(void) {
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(1);
#endif
}

static int s_is_aligned(const void *p) {
    return (uintptr_t) p % alignof(double) == 0;
}

/* Argument i as bytes, or NULL after failing the task. */
static const void *s_bytes_arg(pdc_task *t, size_t i, const char *what, size_t *size) {
    if (pdc_arg_type(t, i) != PDC_T_BYTES) {
        pdc_fail(t, "argument %zu must be %s (bytes), got type %d", i, what,
                 (int) pdc_arg_type(t, i));
        return NULL;
    }
    const void *data = pdc_arg_bytes(t, i, size);
    if (!data)
        pdc_fail(t, "argument %zu (%s) has no bytes", i, what);
    return data;
}

/* `data` (size bytes) as doubles: in place when aligned, else copied into
   *copy, which the caller frees (free(NULL) when no copy was needed).
   NULL after failing the task. */
static const double *s_aligned(pdc_task *t, const void *data, size_t size, double **copy) {
    *copy = NULL;
    if (s_is_aligned(data))
        return data;
    *copy = malloc(size ? size : 1);
    if (!*copy) {
        pdc_fail(t, "out of memory copying %zu bytes", size);
        return NULL;
    }
    memcpy(*copy, data, size);
    return *copy;
}

/* Argument i as a vector of exactly d doubles (d > 0, or d == 0 to take
   the length from the argument into *d).  Aligned, possibly copied into
   *copy; NULL after failing the task. */
static const double *s_vector_arg(pdc_task *t, size_t i, const char *what, size_t *d,
                                  double **copy) {
    *copy = NULL;
    size_t size = 0;
    const void *data = s_bytes_arg(t, i, what, &size);
    if (!data)
        return NULL;
    if (size == 0 || size % sizeof(double) != 0 || size / sizeof(double) > (size_t) MAX_DIMS) {
        pdc_fail(t,
                 "argument %zu (%s): %zu bytes is not a vector of 1 to "
                 "%lld doubles",
                 i, what, size, (long long) MAX_DIMS);
        return NULL;
    }
    if (*d == 0) {
        *d = size / sizeof(double);
    } else if (size != *d * sizeof(double)) {
        pdc_fail(t, "argument %zu (%s) has %zu doubles, expected %zu", i, what,
                 size / sizeof(double), *d);
        return NULL;
    }
    return s_aligned(t, data, size, copy);
}

/* A shard read from a task argument: X (rows×dims) and y, aligned. */
typedef struct {
    size_t rows, dims;
    const double *x, *y;
    double *copy; /* to free: the aligned copy, or NULL */
} shard_view;

/* Read argument i as a shard.  Returns 0, or nonzero after failing the
   task. */
static int s_shard_arg(pdc_task *t, size_t i, shard_view *s) {
    memset(s, 0, sizeof *s);
    size_t size = 0;
    const char *data = s_bytes_arg(t, i, "a shard", &size);
    if (!data)
        return 1;
    if (size < SHARD_HEADER_BYTES)
        return pdc_fail(t, "argument %zu: a %zu-byte shard has no header", i, size);
    int64_t header[2];
    memcpy(header, data, sizeof header);
    int64_t rows = header[0], dims = header[1];
    if (rows < 1 || rows > MAX_ROWS || dims < 1 || dims > MAX_DIMS)
        return pdc_fail(t,
                        "argument %zu: bad shard header (rows %lld, dims "
                        "%lld)",
                        i, (long long) rows, (long long) dims);
    size_t want = SHARD_HEADER_BYTES + (size_t) rows * ((size_t) dims + 1) * sizeof(double);
    if (size != want)
        return pdc_fail(t,
                        "argument %zu: a %lld×%lld shard is %zu bytes, "
                        "got %zu",
                        i, (long long) rows, (long long) dims, want, size);
    const double *body =
        s_aligned(t, data + SHARD_HEADER_BYTES, want - SHARD_HEADER_BYTES, &s->copy);
    if (!body)
        return 1;
    s->rows = (size_t) rows;
    s->dims = (size_t) dims;
    s->x = body;
    s->y = body + s->rows * s->dims;
    return 0;
}

/* The residual r = X w - y of shard s into r (rows doubles). */
static void s_residual(const shard_view *s, const double *w, double *r) {
    memcpy(r, s->y, s->rows * sizeof(double));
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int) s->rows, (int) s->dims, 1.0, s->x, (int) s->dims,
                w, 1, -1.0, r, 1);
}

/* The common part of gradient and loss: read (shard, w), compute the
   residual.  Returns 0 with everything set (free *r, *w_copy and
   s->copy), or nonzero after failing the task. */
static int s_shard_and_residual(pdc_task *t, const char *name, shard_view *s, const double **w,
                                double **w_copy, double **r) {
    *w_copy = NULL;
    *r = NULL;
    memset(s, 0, sizeof *s);
    if (pdc_arg_count(t) != 2)
        return pdc_fail(t, "%s takes 2 arguments (shard, weights), got %zu", name,
                        pdc_arg_count(t));
    if (s_shard_arg(t, 0, s) != 0)
        return 1;
    size_t d = s->dims;
    *w = s_vector_arg(t, 1, "the weights", &d, w_copy);
    if (!*w)
        return 1;
    *r = malloc(s->rows * sizeof(double));
    if (!*r)
        return pdc_fail(t, "out of memory for %zu residuals", s->rows);
    s_one_blas_thread();
    s_residual(s, *w, *r);
    return 0;
}

/* gradient(shard, w) -> 2/n X^T (X w - y), d doubles. */
PDC_FUNCTION(gradient) {
    shard_view s;
    const double *w = NULL;
    double *w_copy = NULL, *r = NULL, *g = NULL;
    int rc = s_shard_and_residual(t, "gradient", &s, &w, &w_copy, &r);
    if (rc == 0) {
        g = malloc(s.dims * sizeof(double));
        if (g) {
            cblas_dgemv(CblasRowMajor, CblasTrans, (int) s.rows, (int) s.dims,
                        2.0 / (double) s.rows, s.x, (int) s.dims, r, 1, 0.0, g, 1);
            rc = pdc_return_bytes(t, g, s.dims * sizeof(double));
        } else {
            rc = pdc_fail(t, "out of memory for a %zu-double gradient", s.dims);
        }
    }
    free(g);
    free(r);
    free(w_copy);
    free(s.copy);
    return rc;
}

/* loss(shard, w) -> 1/n |X w - y|^2, the shard's mean squared error. */
PDC_FUNCTION(loss) {
    shard_view s;
    const double *w = NULL;
    double *w_copy = NULL, *r = NULL;
    int rc = s_shard_and_residual(t, "loss", &s, &w, &w_copy, &r);
    if (rc == 0) {
        double sum = cblas_ddot((int) s.rows, r, 1, r, 1);
        rc = pdc_return_f64(t, sum / (double) s.rows);
    }
    free(r);
    free(w_copy);
    free(s.copy);
    return rc;
}

/* ------------------------------------------------------------------------
   The ParameterServer actor.  Its calls run one at a time (the default
   max_concurrency 1) in the order the driver made them, so its state
   needs no lock.
   ------------------------------------------------------------------------ */
typedef struct {
    size_t dims;
    double lr;
    double *w;   /* dims doubles                                  */
    double *sum; /* dims doubles: scratch for apply_gradients     */
} param_server;

static void ps_free(void *state) {
    param_server *ps = state;
    if (!ps)
        return;
    free(ps->w);
    free(ps->sum);
    free(ps);
}

/* ParameterServer(d: i64, lr: f64): weights start at zero. */
static void *ps_new(pdc_task *t) {
    if (pdc_arg_count(t) != 2 || pdc_arg_type(t, 0) != PDC_T_I64 ||
        pdc_arg_type(t, 1) != PDC_T_F64) {
        pdc_fail(t, "ParameterServer takes (dims: i64, learning rate: f64)");
        return NULL;
    }
    int64_t dims = pdc_arg_i64(t, 0);
    double lr = pdc_arg_f64(t, 1);
    if (dims < 1 || dims > MAX_DIMS) {
        pdc_fail(t, "dims %lld is outside 1..%lld", (long long) dims, (long long) MAX_DIMS);
        return NULL;
    }
    if (!(lr > 0.0)) {
        pdc_fail(t, "the learning rate must be positive, got %g", lr);
        return NULL;
    }
    param_server *ps = calloc(1, sizeof *ps);
    if (ps) {
        ps->dims = (size_t) dims;
        ps->lr = lr;
        ps->w = calloc(ps->dims, sizeof(double));
        ps->sum = calloc(ps->dims, sizeof(double));
    }
    if (!ps || !ps->w || !ps->sum) {
        ps_free(ps);
        pdc_fail(t, "out of memory for %lld weights", (long long) dims);
        return NULL;
    }
    return ps;
}

/* get_weights() -> bytes: the d current weights. */
static PDC_METHOD(get_weights) {
    param_server *ps = state;
    if (pdc_arg_count(t) != 0)
        return pdc_fail(t, "get_weights takes no arguments, got %zu", pdc_arg_count(t));
    return pdc_return_bytes(t, ps->w, ps->dims * sizeof(double));
}

/* apply_gradients(g1, g2, ...) -> bytes: w -= lr * (g1 + g2 + ...) / k,
   then the new weights.  Every gradient is checked before w changes, so
   a bad one leaves the weights as they were. */
static PDC_METHOD(apply_gradients) {
    param_server *ps = state;
    size_t k = pdc_arg_count(t);
    if (k == 0)
        return pdc_fail(t, "apply_gradients takes at least one gradient");
    s_one_blas_thread();
    int n = (int) ps->dims;
    memset(ps->sum, 0, ps->dims * sizeof(double));
    for (size_t i = 0; i < k; i++) {
        size_t d = ps->dims;
        double *copy = NULL;
        const double *g = s_vector_arg(t, i, "a gradient", &d, &copy);
        if (!g)
            return 1;
        cblas_daxpy(n, 1.0, g, 1, ps->sum, 1);
        free(copy);
    }
    cblas_dscal(n, 1.0 / (double) k, ps->sum, 1);  /* the mean     */
    cblas_daxpy(n, -ps->lr, ps->sum, 1, ps->w, 1); /* w -= lr*mean */
    return pdc_return_bytes(t, ps->w, ps->dims * sizeof(double));
}

PDC_ACTOR_CLASS(ParameterServer, ps_new, ps_free, PDC_METHOD_ENTRY(get_weights),
                PDC_METHOD_ENTRY(apply_gradients));
