/*  gemm_actor: the GEMM actor class (libpdc_gemm.so, class "Gemm").

    An actor that keeps matrices resident where it computes and multiplies
    them, on a GPU when its worker was granted one (CUDA_VISIBLE_DEVICES
    names a device and the CUDA module loads: pdc_gemm.h) and with
    OpenBLAS otherwise, so that one program runs on every node.

        pdc_actor_opts gpu = {.resources = "GPU=1"};
        pdc_actor *g = pdc_actor_create(c, "libpdc_gemm.so", "Gemm", &gpu);

    Constructor arguments (all optional): a backend, "auto" (the default:
    CUDA when granted a device), "cpu" (OpenBLAS whatever it was granted)
    or "gpu" (fail unless CUDA is there); then a kernel for the CUDA
    backend, "cublas" (the default) or "tiled" (pdc's own).

    Matrices are row-major; dtype 0 is double, 1 float.  Methods:
      backend()                     -> "openblas" or "cuda"
      describe()                    -> the backend, and why not CUDA
      load(dtype, rows, cols, bytes)-> a handle (i64): the matrix stays
      multiply(ha, hb)              -> a handle to C = A B, resident
      fetch(h)                      -> C's bytes (rows x cols elements)
      drop(h)                       -> 0; the handle is gone
      multiply_bytes(dtype, m, k, n, A, B) -> C's bytes (m x n), nothing
                                       kept: A and B are m x k and k x n
    A bytes argument given as an object reference is read from the store
    without a copy (and registered for DMA on the CUDA backend); a large
    result is written straight into the store (pdc_return_alloc). */
#include "pdc_gemm.h"

#include <pdc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pdc_gemm_backend_t be;
    pdc_gemm_kernel kernel;
    char why_cpu[512];
    pdc_gemm_matrix **m; /* by handle - 1; NULL: dropped */
    size_t n, cap;
} gemm_t;

static int s_has_device(void) {
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    return v && *v && strcmp(v, "-1");
}

static int s_arg_is(pdc_task *t, size_t i, const char *want) {
    size_t len;
    const char *s =
        pdc_arg_count(t) > i && pdc_arg_type(t, i) == PDC_T_STR ? pdc_arg_str(t, i, &len) : NULL;
    return s && len == strlen(want) && !memcmp(s, want, len);
}

static void *gemm_new(pdc_task *t) {
    gemm_t *g = calloc(1, sizeof *g);
    if (!g) {
        pdc_fail(t, "Gemm: out of memory");
        return NULL;
    }
    int cpu = s_arg_is(t, 0, "cpu"), gpu = s_arg_is(t, 0, "gpu");
    if (pdc_arg_count(t) > 0 && !cpu && !gpu && !s_arg_is(t, 0, "auto")) {
        free(g);
        pdc_fail(t, "Gemm: the backend must be \"auto\", \"cpu\" or \"gpu\"");
        return NULL;
    }
    if (pdc_arg_count(t) > 1 && !s_arg_is(t, 1, "cublas") && !s_arg_is(t, 1, "tiled")) {
        free(g);
        pdc_fail(t, "Gemm: the kernel must be \"cublas\" or \"tiled\"");
        return NULL;
    }
    g->kernel = s_arg_is(t, 1, "tiled") ? PDC_GEMM_TILED : PDC_GEMM_CUBLAS;
    if (cpu)
        snprintf(g->why_cpu, sizeof g->why_cpu, "the CPU backend was asked for");
    else if (!s_has_device())
        snprintf(g->why_cpu, sizeof g->why_cpu, "no GPU granted (CUDA_VISIBLE_DEVICES unset)");
    pdc_gemm_open(!cpu && s_has_device(), &g->be, g->why_cpu + strlen(g->why_cpu),
                  sizeof g->why_cpu - strlen(g->why_cpu));
    if (gpu && strcmp(g->be.name, "cuda")) {
        pdc_fail(t, "Gemm: the GPU backend was asked for and is not here: %s", g->why_cpu);
        g->be.close(g->be.ctx);
        free(g);
        return NULL;
    }
    return g;
}

static void gemm_free(void *state) {
    gemm_t *g = state;
    for (size_t i = 0; i < g->n; i++)
        if (g->m[i])
            g->be.release(g->be.ctx, g->m[i]);
    free(g->m);
    g->be.close(g->be.ctx);
    free(g);
}

/* Keep m under a new handle (1, 2, ...); 0 when out of memory. */
static int64_t s_keep(gemm_t *g, pdc_gemm_matrix *m) {
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        void *grown = realloc(g->m, cap * sizeof *g->m);
        if (!grown)
            return 0;
        g->m = grown;
        g->cap = cap;
    }
    g->m[g->n++] = m;
    return (int64_t) g->n;
}

static pdc_gemm_matrix *s_find(gemm_t *g, pdc_task *t, size_t arg) {
    int64_t h = pdc_arg_i64(t, arg);
    if (h < 1 || (size_t) h > g->n || !g->m[h - 1]) {
        pdc_fail(t, "Gemm: argument %zu: no matrix %lld here", arg, (long long) h);
        return NULL;
    }
    return g->m[h - 1];
}

/* The bytes of argument arg as a dtype rows x cols matrix, or NULL (the
   task failed). */
static const void *s_matrix_arg(pdc_task *t, size_t arg, int64_t dtype, int64_t rows,
                                int64_t cols) {
    size_t size;
    const void *p = pdc_arg_bytes(t, arg, &size);
    if (dtype != PDC_GEMM_F64 && dtype != PDC_GEMM_F32) {
        pdc_fail(t, "Gemm: dtype %lld: 0 is double, 1 float", (long long) dtype);
        return NULL;
    }
    size_t want = rows > 0 && cols > 0
                      ? (size_t) rows * (size_t) cols * pdc_gemm_elem_size((pdc_gemm_dtype) dtype)
                      : 0;
    if (!p || !want || size != want) {
        pdc_fail(t, "Gemm: argument %zu: %zu bytes, a %lld x %lld %s matrix is %zu", arg, size,
                 (long long) rows, (long long) cols, dtype ? "float" : "double", want);
        return NULL;
    }
    return p;
}

static PDC_METHOD(backend) {
    gemm_t *g = state;
    return pdc_return_str(t, g->be.name);
}

static PDC_METHOD(describe) {
    gemm_t *g = state;
    char text[700];
    snprintf(text, sizeof text, "%s%s%s", g->be.name, *g->why_cpu ? ": " : "", g->why_cpu);
    return pdc_return_str(t, text);
}

static PDC_METHOD(load) {
    gemm_t *g = state;
    int64_t dtype = pdc_arg_i64(t, 0), rows = pdc_arg_i64(t, 1), cols = pdc_arg_i64(t, 2);
    const void *p = s_matrix_arg(t, 3, dtype, rows, cols);
    if (!p)
        return 1;
    char why[512];
    pdc_gemm_matrix *m =
        g->be.upload(g->be.ctx, (pdc_gemm_dtype) dtype, rows, cols, p, why, sizeof why);
    if (!m)
        return pdc_fail(t, "Gemm: load: %s", why);
    int64_t h = s_keep(g, m);
    if (!h) {
        g->be.release(g->be.ctx, m);
        return pdc_fail(t, "Gemm: load: out of memory");
    }
    return pdc_return_i64(t, h);
}

static PDC_METHOD(multiply) {
    gemm_t *g = state;
    pdc_gemm_matrix *a = s_find(g, t, 0), *b = a ? s_find(g, t, 1) : NULL;
    if (!a || !b)
        return 1;
    char why[512];
    pdc_gemm_matrix *c = g->be.multiply(g->be.ctx, a, b, g->kernel, why, sizeof why);
    if (!c)
        return pdc_fail(t, "Gemm: multiply: %s", why);
    int64_t h = s_keep(g, c);
    if (!h) {
        g->be.release(g->be.ctx, c);
        return pdc_fail(t, "Gemm: multiply: out of memory");
    }
    return pdc_return_i64(t, h);
}

/* Return m's bytes, written in place. */
static int s_return_matrix(gemm_t *g, pdc_task *t, const pdc_gemm_matrix *m) {
    size_t bytes = (size_t) m->rows * (size_t) m->cols * pdc_gemm_elem_size(m->dtype);
    void *out = pdc_return_alloc(t, bytes);
    if (!out)
        return 1; /* pdc_return_alloc failed the task, saying why */
    char why[512];
    if (g->be.download(g->be.ctx, m, out, why, sizeof why))
        return pdc_fail(t, "Gemm: %s", why);
    return 0;
}

static PDC_METHOD(fetch) {
    gemm_t *g = state;
    pdc_gemm_matrix *m = s_find(g, t, 0);
    return m ? s_return_matrix(g, t, m) : 1;
}

static PDC_METHOD(drop) {
    gemm_t *g = state;
    pdc_gemm_matrix *m = s_find(g, t, 0);
    if (!m)
        return 1;
    g->be.release(g->be.ctx, m);
    g->m[pdc_arg_i64(t, 0) - 1] = NULL;
    return pdc_return_i64(t, 0);
}

static PDC_METHOD(multiply_bytes) {
    gemm_t *g = state;
    int64_t dtype = pdc_arg_i64(t, 0), m = pdc_arg_i64(t, 1), k = pdc_arg_i64(t, 2),
            n = pdc_arg_i64(t, 3);
    const void *pa = s_matrix_arg(t, 4, dtype, m, k);
    const void *pb = pa ? s_matrix_arg(t, 5, dtype, k, n) : NULL;
    if (!pa || !pb)
        return 1;
    char why[512];
    pdc_gemm_matrix *a = g->be.upload(g->be.ctx, (pdc_gemm_dtype) dtype, m, k, pa, why, sizeof why);
    pdc_gemm_matrix *b =
        a ? g->be.upload(g->be.ctx, (pdc_gemm_dtype) dtype, k, n, pb, why, sizeof why) : NULL;
    pdc_gemm_matrix *c = b ? g->be.multiply(g->be.ctx, a, b, g->kernel, why, sizeof why) : NULL;
    int rc = c ? s_return_matrix(g, t, c) : pdc_fail(t, "Gemm: multiply_bytes: %s", why);
    g->be.release(g->be.ctx, c);
    g->be.release(g->be.ctx, b);
    g->be.release(g->be.ctx, a);
    return rc;
}

PDC_ACTOR_CLASS(Gemm, gemm_new, gemm_free, PDC_METHOD_ENTRY(backend), PDC_METHOD_ENTRY(describe),
                PDC_METHOD_ENTRY(load), PDC_METHOD_ENTRY(multiply), PDC_METHOD_ENTRY(fetch),
                PDC_METHOD_ENTRY(drop), PDC_METHOD_ENTRY(multiply_bytes));
