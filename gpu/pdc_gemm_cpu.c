/*  pdc_gemm_cpu: the CPU backend of the GEMM actor (OpenBLAS), and the
    choice between it and the CUDA module (see pdc_gemm.h). */
#include "pdc_gemm.h"

#include <cblas.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The CUDA module's file name, looked for beside the library holding this
   code (then by the loader's search path). */
#define S_CUDA_MODULE "libpdc_gemm_cuda.so"

typedef struct {
    pdc_gemm_matrix m;
    void *data; /* rows x cols elements, row-major, 64-byte aligned */
} s_host_matrix_t;

static s_host_matrix_t *s_new(pdc_gemm_dtype dtype, int64_t rows, int64_t cols, char *why,
                              size_t len) {
    if (rows < 1 || cols < 1 || rows > INT_MAX || cols > INT_MAX) {
        snprintf(why, len, "a %lld x %lld matrix: each side must be 1..%d", (long long) rows,
                 (long long) cols, INT_MAX);
        return NULL;
    }
    size_t bytes = (size_t) rows * (size_t) cols * pdc_gemm_elem_size(dtype);
    s_host_matrix_t *h = calloc(1, sizeof *h);
    if (!h || posix_memalign(&h->data, 64, bytes ? bytes : 1)) {
        free(h);
        snprintf(why, len, "no memory for a %lld x %lld matrix (%zu bytes)", (long long) rows,
                 (long long) cols, bytes);
        return NULL;
    }
    h->m = (pdc_gemm_matrix){.dtype = dtype, .rows = rows, .cols = cols};
    return h;
}

static pdc_gemm_matrix *s_upload(void *ctx, pdc_gemm_dtype dtype, int64_t rows, int64_t cols,
                                 const void *data, char *why, size_t len) {
    (void) ctx;
    s_host_matrix_t *h = s_new(dtype, rows, cols, why, len);
    if (h)
        memcpy(h->data, data, (size_t) rows * (size_t) cols * pdc_gemm_elem_size(dtype));
    return h ? &h->m : NULL;
}

static int s_download(void *ctx, const pdc_gemm_matrix *m, void *out, char *why, size_t len) {
    (void) ctx;
    (void) why;
    (void) len;
    const s_host_matrix_t *h = (const s_host_matrix_t *) m;
    memcpy(out, h->data, (size_t) m->rows * (size_t) m->cols * pdc_gemm_elem_size(m->dtype));
    return 0;
}

static pdc_gemm_matrix *s_multiply(void *ctx, const pdc_gemm_matrix *a, const pdc_gemm_matrix *b,
                                   pdc_gemm_kernel kernel, char *why, size_t len) {
    (void) ctx;
    (void) kernel; /* one kernel here: OpenBLAS's */
    if (a->cols != b->rows || a->dtype != b->dtype) {
        snprintf(why, len, "cannot multiply a %lld x %lld %s matrix by a %lld x %lld %s one",
                 (long long) a->rows, (long long) a->cols,
                 a->dtype == PDC_GEMM_F32 ? "float" : "double", (long long) b->rows,
                 (long long) b->cols, b->dtype == PDC_GEMM_F32 ? "float" : "double");
        return NULL;
    }
    s_host_matrix_t *c = s_new(a->dtype, a->rows, b->cols, why, len);
    if (!c)
        return NULL;
    const s_host_matrix_t *ha = (const s_host_matrix_t *) a, *hb = (const s_host_matrix_t *) b;
    int m = (int) a->rows, n = (int) b->cols, k = (int) a->cols;
    if (a->dtype == PDC_GEMM_F32)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, ha->data, k, hb->data,
                    n, 0.0f, c->data, n);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, ha->data, k, hb->data,
                    n, 0.0, c->data, n);
    return &c->m;
}

static void s_release(void *ctx, pdc_gemm_matrix *m) {
    (void) ctx;
    s_host_matrix_t *h = (s_host_matrix_t *) m;
    if (h) {
        free(h->data);
        free(h);
    }
}

static void s_close(void *ctx) {
    (void) ctx;
}

void pdc_gemm_cpu_backend(pdc_gemm_backend_t *out) {
    *out = (pdc_gemm_backend_t){.name = "openblas",
                                .upload = s_upload,
                                .download = s_download,
                                .multiply = s_multiply,
                                .release = s_release,
                                .close = s_close};
}

/* Open the CUDA module: beside this code's own library first. */
static void *s_open_module(char *why, size_t len) {
    Dl_info info;
    char path[PATH_MAX];
    void *h = NULL;
    if (dladdr((void *) pdc_gemm_cpu_backend, &info) && info.dli_fname &&
        strchr(info.dli_fname, '/')) {
        snprintf(path, sizeof path, "%s", info.dli_fname);
        *strrchr(path, '/') = '\0';
        size_t n = strlen(path);
        snprintf(path + n, sizeof path - n, "/%s", S_CUDA_MODULE);
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    if (!h)
        h = dlopen(S_CUDA_MODULE, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        snprintf(why, len, "no CUDA backend module (%s)", dlerror());
    return h;
}

void pdc_gemm_open(int want_gpu, pdc_gemm_backend_t *out, char *why_cpu, size_t len) {
    if (why_cpu && len)
        *why_cpu = '\0';
    if (want_gpu) {
        char why[512] = "";
        void *h = s_open_module(why, sizeof why);
        pdc_gemm_cuda_fn *fn = h ? (pdc_gemm_cuda_fn *) dlsym(h, "pdc_gemm_cuda_backend") : NULL;
        if (h && !fn)
            snprintf(why, sizeof why, "%s has no pdc_gemm_cuda_backend", S_CUDA_MODULE);
        if (fn && fn(out, why, sizeof why) == 0)
            return; /* the module stays loaded: its backend is in use */
        if (why_cpu)
            snprintf(why_cpu, len, "%s", why);
    }
    pdc_gemm_cpu_backend(out);
}
