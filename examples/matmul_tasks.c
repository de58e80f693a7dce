/*  matmul_tasks.c: the remote functions of the blocked matrix multiply.

    Compiled into libpdc_example_matmul.so, which pdc workers dlopen.  A
    block is b×b doubles, row-major, contiguous, passed as bytes.  The
    driver (matmul.c) computes each block of C = A×B as

        C[i][j] = block_add(b, block_mul(b, A[i][0], B[0][j]),
                               ...,
                               block_mul(b, A[i][K-1], B[K-1][j]))

    with every block handed over as an object reference (PDC_REF): a
    reference argument is resolved before the task runs, so each task
    sees plain PDC_T_BYTES, read zero-copy from the node's object store.

    block_mul(b: i64, A: bytes, B: bytes) -> bytes    the product A×B
    block_add(b: i64, P0: bytes, P1: bytes, ...) -> bytes  P0 + P1 + ...

    Results are written straight into the object store: pdc_return_alloc
    hands out the result's memory and cblas_dgemm writes into it, so a
    128 KiB block is not copied on the way out.

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

/* The largest block side accepted: it keeps a block, b*b*sizeof(double),
   at 8 GiB or less, far from overflowing size_t. */
#define MAX_BLOCK 32768

static int s_is_aligned(const void *p) {
    return (uintptr_t) p % alignof(double) == 0;
}

/* Read the block size argument (argument 0) and check it. */
static int s_block_side(pdc_task *t, size_t *side_out) {
    if (pdc_arg_type(t, 0) != PDC_T_I64)
        return pdc_fail(t, "argument 0 must be the block side (i64)");
    int64_t side = pdc_arg_i64(t, 0);
    if (side < 1 || side > MAX_BLOCK)
        return pdc_fail(t, "block side %lld is outside 1..%d", (long long) side, MAX_BLOCK);
    *side_out = (size_t) side;
    return 0;
}

/* Read argument i as a side×side block.  Arguments passed as PDC_REF
   arrive as PDC_T_BYTES.  Returns the doubles, or NULL after failing the task.
   The bytes are used in place when they are aligned for doubles; otherwise they
   are copied into *copy, which the caller frees (free(NULL) when no copy was
   needed). */
static const double *s_block_arg(pdc_task *t, size_t i, size_t side, double **copy) {
    *copy = NULL;
    size_t want = side * side * sizeof(double);
    if (pdc_arg_type(t, i) != PDC_T_BYTES) {
        pdc_fail(t, "argument %zu must be a block (bytes), got type %d", i,
                 (int) pdc_arg_type(t, i));
        return NULL;
    }
    size_t size = 0;
    const void *data = pdc_arg_bytes(t, i, &size);
    if (!data || size != want) {
        pdc_fail(t, "argument %zu is %zu bytes, a %zu×%zu block is %zu", i, size, side, side, want);
        return NULL;
    }
    if (s_is_aligned(data))
        return data;
    *copy = malloc(want);
    if (!*copy) {
        pdc_fail(t, "out of memory copying argument %zu (%zu bytes)", i, want);
        return NULL;
    }
    memcpy(*copy, data, want);
    return *copy;
}

/* The result block: pdc_return_alloc memory when it is aligned for
   doubles, else a scratch buffer that s_finish_result copies over.
   NULL after failing the task. */
static double *s_result_block(pdc_task *t, size_t bytes, void **out, double **scratch) {
    *scratch = NULL;
    *out = pdc_return_alloc(t, bytes);
    if (!*out)
        return NULL; /* the task has failed with the reason */
    if (s_is_aligned(*out))
        return *out;
    *scratch = malloc(bytes);
    if (!*scratch)
        pdc_fail(t, "out of memory for a %zu-byte result", bytes);
    return *scratch;
}

static void s_finish_result(void *out, double *scratch, size_t bytes) {
    if (scratch) {
        memcpy(out, scratch, bytes);
        free(scratch);
    }
}

/* block_mul(b, A, B) -> A×B, all b×b. */
PDC_FUNCTION(block_mul) {
    if (pdc_arg_count(t) != 3)
        return pdc_fail(t, "block_mul takes 3 arguments (b, A, B), got %zu", pdc_arg_count(t));
    size_t side = 0;
    if (s_block_side(t, &side) != 0)
        return 1;

    double *a_copy = NULL, *b_copy = NULL, *scratch = NULL;
    const double *a = s_block_arg(t, 1, side, &a_copy);
    const double *b = a ? s_block_arg(t, 2, side, &b_copy) : NULL;
    if (!a || !b) {
        free(a_copy);
        free(b_copy);
        return 1;
    }

    size_t bytes = side * side * sizeof(double);
    void *out = NULL;
    double *c = s_result_block(t, bytes, &out, &scratch);
    if (c) {
#ifdef OPENBLAS_VERSION
        openblas_set_num_threads(1);
#endif
        int n = (int) side;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
        s_finish_result(out, scratch, bytes);
    }
    free(a_copy);
    free(b_copy);
    return c ? 0 : 1;
}

/* block_add(b, P0, P1, ...) -> P0 + P1 + ..., all b×b.  Every argument is
   checked before the result is reserved, so a bad one fails the task
   without writing anything. */
PDC_FUNCTION(block_add) {
    size_t nargs = pdc_arg_count(t);
    if (nargs < 2)
        return pdc_fail(t,
                        "block_add takes b and at least one block, got "
                        "%zu arguments",
                        nargs);
    size_t side = 0;
    if (s_block_side(t, &side) != 0)
        return 1;

    size_t nblocks = nargs - 1;
    const double **blocks = calloc(nblocks, sizeof *blocks);
    double **copies = calloc(nblocks, sizeof *copies);
    int ok = blocks && copies;
    if (!ok)
        pdc_fail(t, "out of memory for %zu block pointers", nblocks);
    for (size_t k = 0; ok && k < nblocks; k++) {
        blocks[k] = s_block_arg(t, k + 1, side, &copies[k]);
        ok = blocks[k] != NULL;
    }

    size_t elems = side * side, bytes = elems * sizeof(double);
    void *out = NULL;
    double *scratch = NULL;
    double *sum = ok ? s_result_block(t, bytes, &out, &scratch) : NULL;
    if (sum) {
        memcpy(sum, blocks[0], bytes);
        for (size_t k = 1; k < nblocks; k++)
            for (size_t e = 0; e < elems; e++)
                sum[e] += blocks[k][e];
        s_finish_result(out, scratch, bytes);
    }

    for (size_t k = 0; copies && k < nblocks; k++)
        free(copies[k]);
    free(copies);
    free(blocks);
    return sum ? 0 : 1;
}
