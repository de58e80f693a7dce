/*  pdc_gemm_cuda: the CUDA backend of the GEMM actor, built into its own
    module (libpdc_gemm_cuda.so) that pdc_gemm_open loads with dlopen; see
    pdc_gemm.h.

    Matrices live in device memory.  An upload registers the host pages it
    copies from (cudaHostRegister: the object store's pages, for a matrix
    that came as an object), so that the copy is DMA rather than staged
    through a bounce buffer, and unregisters them after.  A multiply runs
    either cuBLAS (cublasDgemm / cublasSgemm; row-major C = A B is the
    column-major C^T = B^T A^T, so B and A swap places) or pdc's own kernel:
    32 x 32 tiles of A and B through shared memory, one thread per element
    of C, for double and float. */
#include "pdc_gemm.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define S_TILE 32

typedef struct {
    pdc_gemm_matrix m;
    void *dev; /* rows x cols elements, row-major */
} s_dev_matrix_t;

typedef struct {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
} s_ctx_t;

template <typename T>
__global__ void s_tiled_gemm(const T *a, const T *b, T *c, int m, int n, int k) {
    __shared__ T as[S_TILE][S_TILE];
    __shared__ T bs[S_TILE][S_TILE];
    int row = blockIdx.y * S_TILE + threadIdx.y, col = blockIdx.x * S_TILE + threadIdx.x;
    T sum = 0;
    for (int t = 0; t < k; t += S_TILE) {
        int ac = t + threadIdx.x, br = t + threadIdx.y;
        as[threadIdx.y][threadIdx.x] = row < m && ac < k ? a[(size_t) row * k + ac] : T(0);
        bs[threadIdx.y][threadIdx.x] = br < k && col < n ? b[(size_t) br * n + col] : T(0);
        __syncthreads();
        for (int i = 0; i < S_TILE; i++)
            sum += as[threadIdx.y][i] * bs[i][threadIdx.x];
        __syncthreads();
    }
    if (row < m && col < n)
        c[(size_t) row * n + col] = sum;
}

static int s_cuda_fail(cudaError_t e, const char *what, char *why, size_t len) {
    if (e == cudaSuccess)
        return 0;
    snprintf(why, len, "%s: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
    return -1;
}

static pdc_gemm_matrix *s_alloc(pdc_gemm_dtype dtype, int64_t rows, int64_t cols, char *why,
                                size_t len) {
    s_dev_matrix_t *d = (s_dev_matrix_t *) calloc(1, sizeof *d);
    size_t bytes = (size_t) rows * (size_t) cols * pdc_gemm_elem_size(dtype);
    if (!d || s_cuda_fail(cudaMalloc(&d->dev, bytes), "cudaMalloc", why, len)) {
        free(d);
        return NULL;
    }
    d->m.dtype = dtype;
    d->m.rows = rows;
    d->m.cols = cols;
    return &d->m;
}

static pdc_gemm_matrix *s_upload(void *ctx, pdc_gemm_dtype dtype, int64_t rows, int64_t cols,
                                 const void *data, char *why, size_t len) {
    s_ctx_t *x = (s_ctx_t *) ctx;
    if (rows < 1 || cols < 1) {
        snprintf(why, len, "a %lld x %lld matrix", (long long) rows, (long long) cols);
        return NULL;
    }
    pdc_gemm_matrix *m = s_alloc(dtype, rows, cols, why, len);
    if (!m)
        return NULL;
    size_t bytes = (size_t) rows * (size_t) cols * pdc_gemm_elem_size(dtype);
    /* DMA from the caller's pages; a failed registration (already
       registered, or not allowed) falls back to a staged copy */
    int registered =
        cudaHostRegister((void *) data, bytes, cudaHostRegisterReadOnly) == cudaSuccess;
    if (!registered)
        cudaGetLastError();
    cudaError_t e = cudaMemcpyAsync(((s_dev_matrix_t *) m)->dev, data, bytes,
                                    cudaMemcpyHostToDevice, x->stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(x->stream);
    if (registered)
        cudaHostUnregister((void *) data);
    if (s_cuda_fail(e, "copy to the device", why, len)) {
        cudaFree(((s_dev_matrix_t *) m)->dev);
        free(m);
        return NULL;
    }
    return m;
}

static int s_download(void *ctx, const pdc_gemm_matrix *m, void *out, char *why, size_t len) {
    s_ctx_t *x = (s_ctx_t *) ctx;
    size_t bytes = (size_t) m->rows * (size_t) m->cols * pdc_gemm_elem_size(m->dtype);
    int registered = cudaHostRegister(out, bytes, cudaHostRegisterDefault) == cudaSuccess;
    if (!registered)
        cudaGetLastError();
    cudaError_t e = cudaMemcpyAsync(out, ((const s_dev_matrix_t *) m)->dev, bytes,
                                    cudaMemcpyDeviceToHost, x->stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(x->stream);
    if (registered)
        cudaHostUnregister(out);
    return s_cuda_fail(e, "copy from the device", why, len);
}

static pdc_gemm_matrix *s_multiply(void *ctx, const pdc_gemm_matrix *a, const pdc_gemm_matrix *b,
                                   pdc_gemm_kernel kernel, char *why, size_t len) {
    s_ctx_t *x = (s_ctx_t *) ctx;
    if (a->cols != b->rows || a->dtype != b->dtype) {
        snprintf(why, len,
                 "cannot multiply a %lld x %lld matrix by a %lld x %lld one (or mixed "
                 "precisions)",
                 (long long) a->rows, (long long) a->cols, (long long) b->rows,
                 (long long) b->cols);
        return NULL;
    }
    pdc_gemm_matrix *c = s_alloc(a->dtype, a->rows, b->cols, why, len);
    if (!c)
        return NULL;
    int m = (int) a->rows, n = (int) b->cols, k = (int) a->cols;
    const void *da = ((const s_dev_matrix_t *) a)->dev, *db = ((const s_dev_matrix_t *) b)->dev;
    void *dc = ((s_dev_matrix_t *) c)->dev;
    cudaError_t e = cudaSuccess;
    if (kernel == PDC_GEMM_TILED) {
        dim3 threads(S_TILE, S_TILE), blocks((n + S_TILE - 1) / S_TILE, (m + S_TILE - 1) / S_TILE);
        if (a->dtype == PDC_GEMM_F32)
            s_tiled_gemm<float><<<blocks, threads, 0, x->stream>>>(
                (const float *) da, (const float *) db, (float *) dc, m, n, k);
        else
            s_tiled_gemm<double><<<blocks, threads, 0, x->stream>>>(
                (const double *) da, (const double *) db, (double *) dc, m, n, k);
        e = cudaGetLastError();
    } else {
        cublasStatus_t st;
        if (a->dtype == PDC_GEMM_F32) {
            const float one = 1, zero = 0;
            st = cublasSgemm(x->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, (const float *) db,
                             n, (const float *) da, k, &zero, (float *) dc, n);
        } else {
            const double one = 1, zero = 0;
            st = cublasDgemm(x->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, (const double *) db,
                             n, (const double *) da, k, &zero, (double *) dc, n);
        }
        if (st != CUBLAS_STATUS_SUCCESS) {
            snprintf(why, len, "cuBLAS gemm failed (status %d)", (int) st);
            cudaFree(dc);
            free(c);
            return NULL;
        }
    }
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(x->stream);
    if (s_cuda_fail(e, "gemm", why, len)) {
        cudaFree(dc);
        free(c);
        return NULL;
    }
    return c;
}

static void s_release(void *ctx, pdc_gemm_matrix *m) {
    (void) ctx;
    if (m) {
        cudaFree(((s_dev_matrix_t *) m)->dev);
        free(m);
    }
}

static void s_close(void *ctx) {
    s_ctx_t *x = (s_ctx_t *) ctx;
    cublasDestroy(x->blas);
    cudaStreamDestroy(x->stream);
    free(x);
}

extern "C" __attribute__((visibility("default"))) int pdc_gemm_cuda_backend(pdc_gemm_backend_t *out,
                                                                            char *why, size_t len) {
    int n = 0;
    if (s_cuda_fail(cudaGetDeviceCount(&n), "no CUDA device", why, len))
        return -1;
    if (n < 1) {
        snprintf(why, len, "no CUDA device visible (CUDA_VISIBLE_DEVICES)");
        return -1;
    }
    s_ctx_t *x = (s_ctx_t *) calloc(1, sizeof *x);
    if (!x || s_cuda_fail(cudaSetDevice(0), "cudaSetDevice", why, len) ||
        s_cuda_fail(cudaStreamCreate(&x->stream), "cudaStreamCreate", why, len)) {
        free(x);
        return -1;
    }
    if (cublasCreate(&x->blas) != CUBLAS_STATUS_SUCCESS) {
        snprintf(why, len, "cublasCreate failed");
        cudaStreamDestroy(x->stream);
        free(x);
        return -1;
    }
    cublasSetStream(x->blas, x->stream);
    out->name = "cuda";
    out->ctx = x;
    out->upload = s_upload;
    out->download = s_download;
    out->multiply = s_multiply;
    out->release = s_release;
    out->close = s_close;
    return 0;
}
