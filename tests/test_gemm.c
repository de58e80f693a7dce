/*  test_gemm: the GEMM actor (gpu/gemm_actor.c) and its backends.

    - The CPU backend (OpenBLAS, in this process) multiplies matrices of
      odd sizes (1, 7, 33, 1000) in double and float exactly as a direct
      cblas_?gemm call does.
    - On a real embedded cluster, a Gemm actor granted no GPU runs the CPU
      backend and says why; matrices loaded into it stay resident under
      handles, their product is fetched, and multiply_bytes takes stored
      objects; wrong shapes and unknown handles fail naming them and the
      actor keeps serving; asking for the GPU backend where there is none
      fails its creation with the reason.
    - On a node that declares GPU=1 without a usable device, two GPU=0.5
      actors are granted it, try CUDA, and serve from OpenBLAS saying why.
    - Where this machine has a CUDA device, a Gemm actor with GPU=1 runs
      the CUDA backend (cuBLAS and the tiled kernel) and agrees with
      OpenBLAS; elsewhere that test is skipped, saying what is missing. */
#include "pdc_gemm.h"
#include "pdc_gpu.h"
#include "pdc_itest.h"

#include <cblas.h>
#include <math.h>

static const char *s_gemm_lib(void) {
    const char *lib = getenv("PDC_GEMM_LIB");
    cr_assert(lib && *lib, "PDC_GEMM_LIB is not set: run the tests through meson test");
    return lib;
}

/* n pseudo-random values in [-1, 1) of dtype. */
static void *s_random(pdc_gemm_dtype dtype, size_t n, unsigned seed) {
    void *p = malloc(n * pdc_gemm_elem_size(dtype));
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        double v = (double) (seed >> 8) / (double) (1u << 24) * 2 - 1;
        if (dtype == PDC_GEMM_F32)
            ((float *) p)[i] = (float) v;
        else
            ((double *) p)[i] = v;
    }
    return p;
}

/* C = A B with cblas directly. */
static void *s_direct(pdc_gemm_dtype dtype, int m, int k, int n, const void *a, const void *b) {
    void *c = calloc((size_t) m * (size_t) n, pdc_gemm_elem_size(dtype));
    cr_assert_not_null(c);
    if (dtype == PDC_GEMM_F32)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c,
                    n);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a, k, b, n, 0.0, c, n);
    return c;
}

/* The largest difference between two m x n matrices, relative to the
   size of the inner dimension. */
static double s_diff(pdc_gemm_dtype dtype, const void *x, const void *y, size_t count) {
    double worst = 0;
    for (size_t i = 0; i < count; i++) {
        double a = dtype == PDC_GEMM_F32 ? ((const float *) x)[i] : ((const double *) x)[i];
        double b = dtype == PDC_GEMM_F32 ? ((const float *) y)[i] : ((const double *) y)[i];
        worst = fmax(worst, fabs(a - b));
    }
    return worst;
}

static double s_tolerance(pdc_gemm_dtype dtype, int k) {
    return (dtype == PDC_GEMM_F32 ? 1e-4 : 1e-11) * k;
}

Test(gemm_cpu, the_cpu_backend_agrees_with_cblas_for_odd_sizes_in_both_precisions) {
    static const int sizes[] = {1, 7, 33, 1000};
    pdc_gemm_backend_t be;
    pdc_gemm_cpu_backend(&be);
    cr_assert_str_eq(be.name, "openblas");
    for (int d = 0; d < 2; d++) {
        pdc_gemm_dtype dtype = d ? PDC_GEMM_F32 : PDC_GEMM_F64;
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            /* m, k, n all differ: a transposed index would show */
            int m = sizes[s], k = sizes[s] + 2, n = sizes[s] + 1;
            void *a = s_random(dtype, (size_t) m * k, 1 + s),
                 *b = s_random(dtype, (size_t) k * n, 7 + s);
            char why[256];
            pdc_gemm_matrix *ma = be.upload(be.ctx, dtype, m, k, a, why, sizeof why);
            pdc_gemm_matrix *mb = be.upload(be.ctx, dtype, k, n, b, why, sizeof why);
            cr_assert(ma && mb, "upload: %s", why);
            pdc_gemm_matrix *mc = be.multiply(be.ctx, ma, mb, PDC_GEMM_CUBLAS, why, sizeof why);
            cr_assert_not_null(mc, "multiply: %s", why);
            cr_assert(mc->rows == m && mc->cols == n);
            void *got = malloc((size_t) m * n * pdc_gemm_elem_size(dtype));
            cr_assert_eq(be.download(be.ctx, mc, got, why, sizeof why), 0);
            void *want = s_direct(dtype, m, k, n, a, b);
            double diff = s_diff(dtype, got, want, (size_t) m * n);
            cr_assert_leq(diff, s_tolerance(dtype, k), "%s %dx%dx%d: off by %g",
                          d ? "float" : "double", m, k, n, diff);
            /* a product whose shapes do not agree is refused, naming them */
            cr_assert_null(be.multiply(be.ctx, mb, mb, PDC_GEMM_CUBLAS, why, sizeof why));
            cr_assert(strstr(why, "cannot multiply"), "%s", why);
            be.release(be.ctx, mc);
            be.release(be.ctx, mb);
            be.release(be.ctx, ma);
            free(a);
            free(b);
            free(got);
            free(want);
        }
    }
    be.close(be.ctx);
}

/* ---- The actor on a real cluster ---------------------------------------- */

TestSuite(gemm_actor, .init = itest_setup, .fini = itest_teardown, .timeout = 120);

static pdc_actor *s_gemm(const pdc_actor_opts *opts, const char *backend) {
    pdc_actor *g = backend ? pdc_actor_create(g_c, s_gemm_lib(), "Gemm", opts, PDC_STR(backend))
                           : pdc_actor_create(g_c, s_gemm_lib(), "Gemm", opts);
    cr_assert_not_null(g, "%s", pdc_last_error(g_c));
    return g;
}

static void s_call_str(pdc_actor *g, const char *method, char *out, size_t len) {
    pdc_ref r = pdc_actor_call(g_c, g, method);
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, r, &o, T_TIMEOUT_MS), PDC_OK, "%s: %s", method, pdc_last_error(g_c));
    cr_assert_eq(o.type, PDC_T_STR);
    snprintf(out, len, "%.*s", (int) o.size, (const char *) o.data);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
}

static int64_t s_call_i64(pdc_ref r, const char *what) {
    int64_t v = 0;
    int rc = pdc_get_i64(g_c, r, &v, T_TIMEOUT_MS);
    cr_assert_eq(rc, PDC_OK, "%s: %s: %s", what, pdc_status_name(rc), pdc_last_error(g_c));
    pdc_ref_release(g_c, r);
    return v;
}

/* Load A and B into g, multiply them there, fetch C and compare it with
   cblas; then the same through multiply_bytes with stored objects. */
static void s_check_products(pdc_actor *g, pdc_gemm_dtype dtype, int m, int k, int n) {
    size_t es = pdc_gemm_elem_size(dtype);
    void *a = s_random(dtype, (size_t) m * k, 3), *b = s_random(dtype, (size_t) k * n, 5);
    void *want = s_direct(dtype, m, k, n, a, b);
    int64_t ha = s_call_i64(pdc_actor_call(g_c, g, "load", PDC_I64(dtype), PDC_I64(m), PDC_I64(k),
                                           PDC_BYTES(a, (size_t) m * k * es)),
                            "load A");
    int64_t hb = s_call_i64(pdc_actor_call(g_c, g, "load", PDC_I64(dtype), PDC_I64(k), PDC_I64(n),
                                           PDC_BYTES(b, (size_t) k * n * es)),
                            "load B");
    int64_t hc =
        s_call_i64(pdc_actor_call(g_c, g, "multiply", PDC_I64(ha), PDC_I64(hb)), "multiply");
    pdc_ref r = pdc_actor_call(g_c, g, "fetch", PDC_I64(hc));
    pdc_object o;
    cr_assert_eq(pdc_get(g_c, r, &o, T_TIMEOUT_MS), PDC_OK, "fetch: %s", pdc_last_error(g_c));
    cr_assert_eq(o.size, (size_t) m * n * es);
    double diff = s_diff(dtype, o.data, want, (size_t) m * n);
    cr_assert_leq(diff, s_tolerance(dtype, k), "resident product off by %g", diff);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);

    /* the inputs as stored objects, nothing kept */
    int status;
    pdc_ref ra = pdc_put(g_c, PDC_BYTES(a, (size_t) m * k * es), &status);
    pdc_ref rb = pdc_put(g_c, PDC_BYTES(b, (size_t) k * n * es), &status);
    r = pdc_actor_call(g_c, g, "multiply_bytes", PDC_I64(dtype), PDC_I64(m), PDC_I64(k), PDC_I64(n),
                       PDC_REF(ra), PDC_REF(rb));
    cr_assert_eq(pdc_get(g_c, r, &o, T_TIMEOUT_MS), PDC_OK, "multiply_bytes: %s",
                 pdc_last_error(g_c));
    diff = s_diff(dtype, o.data, want, (size_t) m * n);
    cr_assert_leq(diff, s_tolerance(dtype, k), "product of stored objects off by %g", diff);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, r);
    pdc_ref_release(g_c, ra);
    pdc_ref_release(g_c, rb);
    for (int64_t h = ha; h <= hc; h++)
        s_call_i64(pdc_actor_call(g_c, g, "drop", PDC_I64(h)), "drop");
    free(a);
    free(b);
    free(want);
}

Test(gemm_actor, an_actor_without_a_gpu_runs_openblas_and_keeps_matrices_resident) {
    pdc_actor *g = s_gemm(NULL, NULL);
    char text[700];
    s_call_str(g, "backend", text, sizeof text);
    cr_assert_str_eq(text, "openblas");
    s_call_str(g, "describe", text, sizeof text);
    cr_assert(strstr(text, "no GPU granted"), "describe: %s", text);
    s_check_products(g, PDC_GEMM_F64, 33, 35, 34);
    s_check_products(g, PDC_GEMM_F32, 1000, 1002, 1001);

    /* bad input: the call fails naming it, the actor goes on */
    pdc_ref bad = pdc_actor_call(g_c, g, "multiply", PDC_I64(99), PDC_I64(1));
    pdc_object o;
    cr_assert_neq(pdc_get(g_c, bad, &o, T_TIMEOUT_MS), PDC_OK);
    cr_assert(strstr(o.error.message, "no matrix 99"), "%s", o.error.message);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, bad);
    double one = 1;
    bad = pdc_actor_call(g_c, g, "load", PDC_I64(0), PDC_I64(2), PDC_I64(2), PDC_BYTES(&one, 8));
    cr_assert_neq(pdc_get(g_c, bad, &o, T_TIMEOUT_MS), PDC_OK);
    cr_assert(strstr(o.error.message, "8 bytes, a 2 x 2 double matrix is 32"), "%s",
              o.error.message);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, bad);
    s_call_str(g, "backend", text, sizeof text);
    cr_assert_str_eq(text, "openblas", "the actor serves after bad calls");
    pdc_actor_kill(g_c, g);
    pdc_actor_release(g_c, g);
}

Test(gemm_actor, asking_for_the_gpu_backend_where_there_is_none_fails_with_the_reason) {
    char why[256];
    if (pdc_gpu_count(why, sizeof why) > 0)
        cr_skip_test("this machine has a CUDA device: the GPU backend is there");
    pdc_actor *g = s_gemm(NULL, "gpu");
    int rc = pdc_actor_ready(g_c, g, T_TIMEOUT_MS);
    cr_assert_neq(rc, PDC_OK, "a GPU Gemm actor came up without a GPU");
    cr_assert(strstr(pdc_last_error(g_c), "GPU backend was asked for"), "%s", pdc_last_error(g_c));
    pdc_actor_release(g_c, g);
}

Test(gemm_actor, an_actor_granted_a_gpu_runs_cuda_and_agrees_with_openblas) {
    char why[256];
    if (pdc_gpu_count(why, sizeof why) < 1)
        cr_skip_test("no CUDA device here (%s): the CUDA backend is not run", why);
    pdc_actor_opts gpu = {.resources = "GPU=1"};
    for (int tiled = 0; tiled < 2; tiled++) {
        pdc_actor *g = pdc_actor_create(g_c, s_gemm_lib(), "Gemm", &gpu, PDC_STR("gpu"),
                                        PDC_STR(tiled ? "tiled" : "cublas"));
        cr_assert_eq(pdc_actor_ready(g_c, g, 60000), PDC_OK, "%s", pdc_last_error(g_c));
        char text[700];
        s_call_str(g, "backend", text, sizeof text);
        cr_assert_str_eq(text, "cuda");
        s_check_products(g, PDC_GEMM_F64, 33, 35, 34);
        s_check_products(g, PDC_GEMM_F32, 1000, 1002, 1001);
        pdc_actor_kill(g_c, g);
        pdc_actor_release(g_c, g);
    }
}

/* ---- A GPU granted where no driver or device answers ------------------- */

/* The node declares GPU=1 (PDC_RESOURCES) whatever it has. */
static void s_declared_gpu_setup(void) {
    setenv("PDC_RESOURCES", "GPU=1", 1);
    itest_setup();
}

static void s_declared_gpu_teardown(void) {
    itest_teardown();
    unsetenv("PDC_RESOURCES");
}

TestSuite(gemm_declared_gpu, .init = s_declared_gpu_setup, .fini = s_declared_gpu_teardown,
          .timeout = 120);

/* Two GPU=0.5 actors on a node that only declares its GPU: each is
   granted device 0, tries CUDA, and where CUDA cannot run serves from
   OpenBLAS, saying why; the products are right either way. */
Test(gemm_declared_gpu, actors_granted_a_gpu_fall_back_to_openblas_saying_why) {
    char why[256];
    int devices = pdc_gpu_count(why, sizeof why);
    pdc_actor_opts half = {.resources = "GPU=0.5"};
    pdc_actor *g[2] = {s_gemm(&half, NULL), s_gemm(&half, NULL)};
    for (int i = 0; i < 2; i++) {
        char backend[64], text[700];
        s_call_str(g[i], "backend", backend, sizeof backend);
        s_call_str(g[i], "describe", text, sizeof text);
        if (devices > 0) {
            cr_assert_str_eq(backend, "cuda", "a device is here: %s", text);
        } else {
            cr_assert_str_eq(backend, "openblas", "%s", text);
            cr_assert(strstr(text, "CUDA") && !strstr(text, "no GPU granted"),
                      "the reason names CUDA, not a missing grant: %s", text);
        }
        s_check_products(g[i], PDC_GEMM_F64, 7, 9, 8);
    }
    for (int i = 0; i < 2; i++) {
        pdc_actor_kill(g_c, g[i]);
        pdc_actor_release(g_c, g[i]);
    }
}
