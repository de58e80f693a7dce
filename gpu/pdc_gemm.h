/*  pdc_gemm: matrix multiply backends for the GEMM actor (gemm_actor.c).

    A backend keeps matrices resident where it computes (host memory for
    the CPU backend, device memory for the CUDA one) and multiplies them:
    C = A B, row-major, in double or float.  The CPU backend is OpenBLAS
    (cblas_?gemm) and is always there.  The CUDA backend lives in a module
    of its own, libpdc_gemm_cuda.so, built only where nvcc is, and loaded
    with dlopen by pdc_gemm_open: nothing else links the CUDA runtime, so a
    node without a driver or a device runs the CPU backend from the same
    library.  pdc_gemm_open says why it did not take the CUDA backend.

    The module exports one symbol, pdc_gemm_cuda_backend (pdc_gemm_cuda_fn),
    which fills a pdc_gemm_backend_t.  Its matrices are opaque handles.
*/
#ifndef PDC_GEMM_H_INCLUDED
#define PDC_GEMM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef enum { PDC_GEMM_F64 = 0, PDC_GEMM_F32 = 1 } pdc_gemm_dtype;

/* How the CUDA backend multiplies: cuBLAS, or pdc's own tiled kernel. */
typedef enum { PDC_GEMM_CUBLAS = 0, PDC_GEMM_TILED = 1 } pdc_gemm_kernel;

typedef struct pdc_gemm_matrix pdc_gemm_matrix;

typedef struct pdc_gemm_backend {
    const char *name; /* "openblas", "cuda"                            */
    void *ctx;        /* the backend's own state                        */
    /* A rows x cols matrix from host memory at data (row-major); NULL
       with why on failure. */
    pdc_gemm_matrix *(*upload)(void *ctx, pdc_gemm_dtype dtype, int64_t rows, int64_t cols,
                               const void *data, char *why, size_t len);
    /* Copy m into host memory at out (rows x cols elements).  0 or -1. */
    int (*download)(void *ctx, const pdc_gemm_matrix *m, void *out, char *why, size_t len);
    /* C = A B into a new matrix; NULL with why (shapes or dtypes that do
       not agree, no memory). */
    pdc_gemm_matrix *(*multiply)(void *ctx, const pdc_gemm_matrix *a, const pdc_gemm_matrix *b,
                                 pdc_gemm_kernel kernel, char *why, size_t len);
    void (*release)(void *ctx, pdc_gemm_matrix *m);
    void (*close)(void *ctx);
} pdc_gemm_backend_t;

/* What every backend's matrix starts with. */
struct pdc_gemm_matrix {
    pdc_gemm_dtype dtype;
    int64_t rows, cols;
};

/* The bytes of one element (inline: the CUDA module links nothing of
   the library that loads it). */
static inline size_t pdc_gemm_elem_size(pdc_gemm_dtype dtype) {
    return dtype == PDC_GEMM_F32 ? sizeof(float) : sizeof(double);
}

#ifdef __cplusplus
extern "C" {
#endif

/* The CPU backend (OpenBLAS). */
void pdc_gemm_cpu_backend(pdc_gemm_backend_t *out);

/* The module's entry point: fill out with the CUDA backend on the first
   visible device, or return -1 with why (no driver, no device). */
typedef int pdc_gemm_cuda_fn(pdc_gemm_backend_t *out, char *why, size_t len);

/* The backend for this process: CUDA when want_gpu and the module loads
   and finds a device, else the CPU backend, with why_cpu saying why (""
   when the CPU backend was asked for). */
void pdc_gemm_open(int want_gpu, pdc_gemm_backend_t *out, char *why_cpu, size_t len);

#ifdef __cplusplus
}
#endif

#endif
