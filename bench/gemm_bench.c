/*  pdc-gemm-bench: GFLOP/s of the GEMM actor against its backend called
    directly in this process.

        pdc-gemm-bench [--gpu] [--float] [--tiled] [--sizes 1024,2048,4096]
                       [--reps N]

    For each size n (square n x n matrices), with the backend the actor
    would use (OpenBLAS; with --gpu the CUDA module, cuBLAS or with
    --tiled pdc's own kernel):
      direct    the backend in this process, inputs resident: multiply only
      actor     a Gemm actor on an embedded cluster, inputs loaded into it
                once (resident): each call is multiply + drop of the result
      ratio     actor / direct (the actor's overhead is 1 - ratio)
    and, transfers included, the actor's multiply_bytes of two stored
    objects (copies in and out of the backend, the result into the store)
    against the direct upload + multiply + download.  2 n^3 flops per
    product; the best of --reps runs (default 3) after one warm-up.
    Prints one line per size and measure. */
#include "pdc_gemm.h"

#include <getopt.h>
#include <limits.h>
#include <pdc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 600000

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void s_die(const char *what, const char *why) {
    fprintf(stderr, "pdc-gemm-bench: %s: %s\n", what, why);
    exit(1);
}

static void *s_random(pdc_gemm_dtype dtype, size_t n) {
    void *p = malloc(n * pdc_gemm_elem_size(dtype));
    if (!p)
        s_die("malloc", "out of memory");
    unsigned seed = 12345;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        double v = (double) (seed >> 8) / (double) (1u << 24) - 0.5;
        if (dtype == PDC_GEMM_F32)
            ((float *) p)[i] = (float) v;
        else
            ((double *) p)[i] = v;
    }
    return p;
}

typedef struct {
    pdc_gemm_backend_t be;
    pdc_gemm_dtype dtype;
    pdc_gemm_kernel kernel;
    int reps;
} bench_t;

/* The best time of reps runs of fn after one warm-up. */
#define BEST_OF(reps, best, body)                                                                  \
    do {                                                                                           \
        (best) = 1e30;                                                                             \
        for (int r_ = 0; r_ <= (reps); r_++) {                                                     \
            double t0_ = s_now();                                                                  \
            body;                                                                                  \
            double t_ = s_now() - t0_;                                                             \
            if (r_ && t_ < (best))                                                                 \
                (best) = t_;                                                                       \
        }                                                                                          \
    } while (0)

static void s_direct(bench_t *b, int n, const void *a, const void *bm, double *resident,
                     double *with_copies) {
    char why[512];
    size_t bytes = (size_t) n * n * pdc_gemm_elem_size(b->dtype);
    void *out = malloc(bytes);
    pdc_gemm_matrix *ma = b->be.upload(b->be.ctx, b->dtype, n, n, a, why, sizeof why);
    pdc_gemm_matrix *mb = ma ? b->be.upload(b->be.ctx, b->dtype, n, n, bm, why, sizeof why) : NULL;
    if (!out || !mb)
        s_die("direct upload", why);
    BEST_OF(b->reps, *resident, {
        pdc_gemm_matrix *c = b->be.multiply(b->be.ctx, ma, mb, b->kernel, why, sizeof why);
        if (!c)
            s_die("direct multiply", why);
        b->be.release(b->be.ctx, c);
    });
    BEST_OF(b->reps, *with_copies, {
        pdc_gemm_matrix *x = b->be.upload(b->be.ctx, b->dtype, n, n, a, why, sizeof why);
        pdc_gemm_matrix *y = b->be.upload(b->be.ctx, b->dtype, n, n, bm, why, sizeof why);
        pdc_gemm_matrix *c =
            x && y ? b->be.multiply(b->be.ctx, x, y, b->kernel, why, sizeof why) : NULL;
        if (!c || b->be.download(b->be.ctx, c, out, why, sizeof why))
            s_die("direct multiply with copies", why);
        b->be.release(b->be.ctx, c);
        b->be.release(b->be.ctx, y);
        b->be.release(b->be.ctx, x);
    });
    b->be.release(b->be.ctx, mb);
    b->be.release(b->be.ctx, ma);
    free(out);
}

static int64_t s_i64(pdc_client *c, pdc_ref r, const char *what) {
    int64_t v = 0;
    if (pdc_get_i64(c, r, &v, TIMEOUT_MS) != PDC_OK)
        s_die(what, pdc_last_error(c));
    pdc_ref_release(c, r);
    return v;
}

static void s_actor(bench_t *b, pdc_client *c, pdc_actor *g, int n, const void *a, const void *bm,
                    double *resident, double *with_copies) {
    size_t bytes = (size_t) n * n * pdc_gemm_elem_size(b->dtype);
    int64_t ha = s_i64(c,
                       pdc_actor_call(c, g, "load", PDC_I64(b->dtype), PDC_I64(n), PDC_I64(n),
                                      PDC_BYTES(a, bytes)),
                       "load");
    int64_t hb = s_i64(c,
                       pdc_actor_call(c, g, "load", PDC_I64(b->dtype), PDC_I64(n), PDC_I64(n),
                                      PDC_BYTES(bm, bytes)),
                       "load");
    BEST_OF(b->reps, *resident, {
        int64_t hc =
            s_i64(c, pdc_actor_call(c, g, "multiply", PDC_I64(ha), PDC_I64(hb)), "multiply");
        s_i64(c, pdc_actor_call(c, g, "drop", PDC_I64(hc)), "drop");
    });
    int status;
    pdc_ref ra = pdc_put(c, PDC_BYTES(a, bytes), &status);
    pdc_ref rb = pdc_put(c, PDC_BYTES(bm, bytes), &status);
    BEST_OF(b->reps, *with_copies, {
        pdc_ref r = pdc_actor_call(c, g, "multiply_bytes", PDC_I64(b->dtype), PDC_I64(n),
                                   PDC_I64(n), PDC_I64(n), PDC_REF(ra), PDC_REF(rb));
        pdc_object o;
        if (pdc_get(c, r, &o, TIMEOUT_MS) != PDC_OK)
            s_die("multiply_bytes", pdc_last_error(c));
        pdc_object_release(c, &o);
        pdc_ref_release(c, r);
    });
    pdc_ref_release(c, ra);
    pdc_ref_release(c, rb);
    s_i64(c, pdc_actor_call(c, g, "drop", PDC_I64(ha)), "drop");
    s_i64(c, pdc_actor_call(c, g, "drop", PDC_I64(hb)), "drop");
}

static void s_usage(FILE *out) {
    fprintf(out, "usage: pdc-gemm-bench [--gpu] [--float] [--tiled] [--sizes N,N,...] [--reps N]\n"
                 "GFLOP/s of the Gemm actor (libpdc_gemm.so beside this program's build, or\n"
                 "PDC_GEMM_LIB) against its backend called directly; see the source.\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"gpu", no_argument, 0, 'g'},
                                         {"float", no_argument, 0, 'f'},
                                         {"tiled", no_argument, 0, 't'},
                                         {"sizes", required_argument, 0, 's'},
                                         {"reps", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int gpu = 0, opt;
    char sizes[256] = "1024,2048,4096";
    bench_t b = {.dtype = PDC_GEMM_F64, .kernel = PDC_GEMM_CUBLAS, .reps = 3};
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'g':
            gpu = 1;
            break;
        case 'f':
            b.dtype = PDC_GEMM_F32;
            break;
        case 't':
            b.kernel = PDC_GEMM_TILED;
            break;
        case 's':
            snprintf(sizes, sizeof sizes, "%s", optarg);
            break;
        case 'r':
            b.reps = atoi(optarg) > 0 ? atoi(optarg) : 1;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    char lib[PATH_MAX];
    const char *env = getenv("PDC_GEMM_LIB");
    if (env && *env) {
        snprintf(lib, sizeof lib, "%s", env);
    } else {
        ssize_t len = readlink("/proc/self/exe", lib, sizeof lib - 1);
        if (len <= 0)
            return 1;
        lib[len] = '\0';
        *strrchr(lib, '/') = '\0';
        size_t at = strlen(lib);
        snprintf(lib + at, sizeof lib - at, "/../gpu/libpdc_gemm.so");
    }
    char why[512];
    pdc_gemm_open(gpu, &b.be, why, sizeof why);
    if (gpu && strcmp(b.be.name, "cuda"))
        s_die("the GPU backend", why);
    pdc_client *c = pdc_init(NULL);
    if (!c)
        return 1;
    pdc_actor_opts aopts = {.resources = gpu ? "GPU=1" : NULL};
    pdc_actor *g = pdc_actor_create(c, lib, "Gemm", &aopts, PDC_STR(gpu ? "gpu" : "cpu"),
                                    PDC_STR(b.kernel == PDC_GEMM_TILED ? "tiled" : "cublas"));
    if (!g || pdc_actor_ready(c, g, TIMEOUT_MS) != PDC_OK)
        s_die("the Gemm actor", pdc_last_error(c));
    printf("backend %s%s, %s\n", b.be.name,
           gpu ? (b.kernel == PDC_GEMM_TILED ? " (tiled kernel)" : " (cuBLAS)") : "",
           b.dtype == PDC_GEMM_F32 ? "float" : "double");
    for (char *tok = strtok(sizes, ","); tok; tok = strtok(NULL, ",")) {
        int n = atoi(tok);
        if (n < 1)
            continue;
        void *a = s_random(b.dtype, (size_t) n * n), *bm = s_random(b.dtype, (size_t) n * n);
        double d_res, d_all, a_res, a_all, gflop = 2.0 * n * n * (double) n / 1e9;
        s_direct(&b, n, a, bm, &d_res, &d_all);
        s_actor(&b, c, g, n, a, bm, &a_res, &a_all);
        printf("%5d resident: direct %8.1f GFLOP/s, actor %8.1f GFLOP/s, actor/direct %.3f\n", n,
               gflop / d_res, gflop / a_res, d_res / a_res);
        printf("%5d with copies: direct %8.1f GFLOP/s, actor %8.1f GFLOP/s, actor/direct %.3f\n", n,
               gflop / d_all, gflop / a_all, d_all / a_all);
        fflush(stdout);
        free(a);
        free(bm);
    }
    pdc_actor_kill(c, g);
    pdc_actor_release(c, g);
    pdc_shutdown(&c);
    b.be.close(b.be.ctx);
    return 0;
}
