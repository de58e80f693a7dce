/*  matmul.c: blocked matrix multiply C = A×B with pdc tasks and OpenBLAS.

    Shows objects passing between tasks by reference.  The driver cuts the
    n×n matrices A and B into b×b blocks and stores each one with pdc_put
    (a 128 KiB block is over the 100 KiB inline limit, so it is written
    once into the node's shared-memory store).  For every block C[i][j] it
    submits n/b block_mul tasks, one per k, and one block_add task whose
    arguments are the references of those products:

        P[k]    = block_mul(b, ref A[i][k], ref B[k][j])     k = 0 .. n/b-1
        C[i][j] = block_add(b, ref P[0], ..., ref P[n/b-1])

    All of it is submitted before anything is waited for; pdc runs a task
    once its arguments exist, and a product never comes back through the
    driver: block_add reads it from the store.  The driver then gets the
    C blocks, assembles C, checks it against one cblas_dgemm of the whole
    matrices and prints

        max abs error = 1.2e-13 (n=512, block=128, 80 tasks, 0.9 s)

    exiting 0 when the error is below 1e-9.  The tasks are in
    matmul_tasks.c (libpdc_example_matmul.so, found next to this program
    or given with --lib PATH).
*/
#include <pdc.h>

#include "example_util.h"

#include <cblas.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIBRARY_FILE  "libpdc_example_matmul.so"
#define DEFAULT_N     512
#define DEFAULT_BLOCK 128
#define DEFAULT_SEED  1
#define MAX_N         8192
#define MAX_ERROR     1e-9
/* The most blocks per side, n/b: a run makes (n/b)^3 + (n/b)^2 tasks. */
#define MAX_BLOCKS_PER_SIDE 64

typedef struct {
    int64_t n;
    int64_t block;
    int64_t seed;
    int64_t timeout_s;
    int spread;          /* --spread: PDC_SCHED_SPREAD over the nodes */
    const char *library; /* --lib, or NULL for the default */
} matmul_config;

static void s_usage(FILE *out, const char *prog) {
    fprintf(out,
            "usage: %s [options]\n"
            "Multiply two random n×n matrices block by block with pdc "
            "tasks\n"
            "and check the result against one cblas_dgemm.\n"
            "\n"
            "  --n N           matrix side (default %d)\n"
            "  --block B       block side; must divide N (default %d)\n"
            "  --seed S        seed of the random matrices (default %d)\n"
            "  --spread        spread the tasks over every node of the cluster\n",
            prog, DEFAULT_N, DEFAULT_BLOCK, DEFAULT_SEED);
    example_usage_options(out, LIBRARY_FILE);
    fprintf(out, "\nExits 0 when the largest error is below %g.\n", MAX_ERROR);
}

/* Fill cfg from the command line.  Returns 0 to run, 1 when --help was
   printed, -1 on a usage error (already reported). */
static int s_parse_args(int argc, char **argv, matmul_config *cfg) {
    static const struct option options[] = {
        {"n", required_argument, NULL, 'n'},
        {"block", required_argument, NULL, 'b'},
        {"seed", required_argument, NULL, 'S'},
        {"spread", no_argument, NULL, 'P'},
        EXAMPLE_OPTIONS,
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case 'n':
            rc = example_parse_i64("n", optarg, 1, MAX_N, &cfg->n);
            break;
        case 'b':
            rc = example_parse_i64("block", optarg, 1, MAX_N, &cfg->block);
            break;
        case 'S':
            rc = example_parse_i64("seed", optarg, 0, INT64_MAX, &cfg->seed);
            break;
        case 'P':
            cfg->spread = 1;
            break;
        default:
            rc = example_option(opt, argv, s_usage, &cfg->timeout_s, &cfg->library);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (example_no_operands(argc, argv, s_usage))
        return -1;
    if (cfg->n % cfg->block != 0) {
        fprintf(stderr, "error: --block %" PRId64 " does not divide --n %" PRId64 "\n", cfg->block,
                cfg->n);
        return -1;
    }
    if (cfg->n / cfg->block > MAX_BLOCKS_PER_SIDE) {
        fprintf(stderr,
                "error: n/block = %" PRId64 " is over %d (too many tasks); "
                "use a larger --block\n",
                cfg->n / cfg->block, MAX_BLOCKS_PER_SIDE);
        return -1;
    }
    return 0;
}

/* Fill m (count doubles) with uniform values in [-1, 1). */
static void s_fill_random(double *m, size_t count, uint64_t *state) {
    for (size_t i = 0; i < count; i++)
        m[i] = (double) (example_splitmix64(state) >> 11) * 0x1.0p-52 - 1.0;
}

/* The references of one run, kept so that every one is released. */
typedef struct {
    size_t nb;        /* blocks per side: n / b                         */
    pdc_ref *a;       /* nb*nb: A[i][k] at i*nb + k                     */
    pdc_ref *b;       /* nb*nb: B[k][j] at k*nb + j                     */
    pdc_ref *product; /* nb*nb*nb: P for (i, j, k) at (i*nb + j)*nb + k */
    pdc_ref *c;       /* nb*nb: C[i][j] at i*nb + j                     */
    size_t a_count, b_count, product_count, c_count; /* how many are held */
} matmul_refs;

static void s_release_refs(pdc_client *client, matmul_refs *refs) {
    for (size_t i = 0; i < refs->c_count; i++)
        pdc_ref_release(client, refs->c[i]);
    for (size_t i = 0; i < refs->product_count; i++)
        pdc_ref_release(client, refs->product[i]);
    for (size_t i = 0; i < refs->b_count; i++)
        pdc_ref_release(client, refs->b[i]);
    for (size_t i = 0; i < refs->a_count; i++)
        pdc_ref_release(client, refs->a[i]);
    free(refs->a);
    free(refs->b);
    free(refs->product);
    free(refs->c);
}

/* Copy block (bi, bj) of the n×n matrix m into the contiguous buffer
   block, or (to_matrix) back from it. */
static void s_copy_block(double *m, size_t n, double *block, size_t side, size_t bi, size_t bj,
                         int to_matrix) {
    for (size_t r = 0; r < side; r++) {
        double *row = m + (bi * side + r) * n + bj * side;
        if (to_matrix)
            memcpy(row, block + r * side, side * sizeof(double));
        else
            memcpy(block + r * side, row, side * sizeof(double));
    }
}

/* Store every block of the n×n matrix m with pdc_put into out[], counting
   the references taken in *count.  Returns 0, or -1 after printing why. */
static int s_put_blocks(pdc_client *client, double *m, size_t n, size_t side, pdc_ref *out,
                        size_t *count, const char *name) {
    size_t nb = n / side, bytes = side * side * sizeof(double);
    double *block = malloc(bytes);
    if (!block) {
        fprintf(stderr, "error: out of memory for a %zu-byte block\n", bytes);
        return -1;
    }
    int rc = 0;
    for (size_t bi = 0; bi < nb && rc == 0; bi++) {
        for (size_t bj = 0; bj < nb && rc == 0; bj++) {
            s_copy_block(m, n, block, side, bi, bj, 0);
            int status = PDC_OK;
            /* pdc_put copies the bytes, so the buffer is reused. */
            out[*count] = pdc_put(client, PDC_BYTES(block, bytes), &status);
            (*count)++; /* the reference is held even when it holds an
                           error */
            if (status != PDC_OK) {
                fprintf(stderr, "error: pdc_put of %s[%zu][%zu]: %s: %s\n", name, bi, bj,
                        pdc_status_name(status), pdc_last_error(client));
                rc = -1;
            }
        }
    }
    free(block);
    return rc;
}

/* Submit the block_mul and block_add tasks for every block of C. */
static int s_submit(pdc_client *client, const char *library, size_t side, int spread,
                    matmul_refs *refs) {
    size_t nb = refs->nb;
    pdc_opts opts = {.strategy = spread ? PDC_SCHED_SPREAD : PDC_SCHED_DEFAULT};
    pdc_fn block_mul = pdc_function(client, library, "block_mul");
    pdc_fn block_add = pdc_function(client, library, "block_add");
    pdc_value *add_args = calloc(nb + 1, sizeof *add_args);
    if (!add_args) {
        fprintf(stderr, "error: out of memory for block_add arguments\n");
        return -1;
    }
    for (size_t i = 0; i < nb; i++) {
        for (size_t j = 0; j < nb; j++) {
            add_args[0] = PDC_I64(side);
            for (size_t k = 0; k < nb; k++) {
                pdc_ref p =
                    pdc_call_opts(client, block_mul, &opts, PDC_I64(side),
                                  PDC_REF(refs->a[i * nb + k]), PDC_REF(refs->b[k * nb + j]));
                refs->product[refs->product_count++] = p;
                add_args[k + 1] = PDC_REF(p);
            }
            refs->c[refs->c_count++] = pdc_call_args(client, block_add, &opts, add_args, nb + 1);
        }
    }
    free(add_args);
    return 0;
}

/* Get every C block and copy it into c.  Returns 0, or -1 after printing
   why. */
static int s_gather(pdc_client *client, const matmul_refs *refs, double *c, size_t n, size_t side,
                    double deadline) {
    size_t nb = refs->nb, bytes = side * side * sizeof(double);
    for (size_t bi = 0; bi < nb; bi++) {
        for (size_t bj = 0; bj < nb; bj++) {
            char what[64];
            snprintf(what, sizeof what, "block C[%zu][%zu]", bi, bj);
            pdc_object obj;
            if (example_get(client, refs->c[bi * nb + bj], &obj, deadline, what))
                return -1;
            int ok = obj.type == PDC_T_BYTES && obj.size == bytes;
            if (ok) {
                /* Row by row with memcpy: obj.data need not be aligned. */
                for (size_t r = 0; r < side; r++)
                    memcpy(c + (bi * side + r) * n + bj * side,
                           (const char *) obj.data + r * side * sizeof(double),
                           side * sizeof(double));
            } else {
                fprintf(stderr,
                        "error: %s: expected %zu bytes, got type %d with "
                        "%zu bytes\n",
                        what, bytes, (int) obj.type, obj.size);
            }
            pdc_object_release(client, &obj);
            if (!ok)
                return -1;
        }
    }
    return 0;
}

/* Multiply a×b on the cluster into c, check against cblas_dgemm into
   expected and print the result line.  Returns 0 when the error is small
   enough, else -1 after printing why. */
static int s_multiply_and_check(pdc_client *client, const char *library, const matmul_config *cfg,
                                double *a, double *b, double *c, double *expected,
                                matmul_refs *refs) {
    size_t n = (size_t) cfg->n, side = (size_t) cfg->block;
    size_t nb = refs->nb, count = n * n;
    size_t tasks = nb * nb * nb + nb * nb;

    uint64_t state = (uint64_t) cfg->seed;
    s_fill_random(a, count, &state);
    s_fill_random(b, count, &state);

    double start = example_now();
    double deadline = start + (double) cfg->timeout_s;
    if (s_put_blocks(client, a, n, side, refs->a, &refs->a_count, "A") ||
        s_put_blocks(client, b, n, side, refs->b, &refs->b_count, "B") ||
        s_submit(client, library, side, cfg->spread, refs) ||
        s_gather(client, refs, c, n, side, deadline))
        return -1;
    double elapsed = example_now() - start;

    int ni = (int) n;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0, a, ni, b, ni, 0.0,
                expected, ni);
    double max_error = 0;
    for (size_t i = 0; i < count; i++) {
        double e = fabs(c[i] - expected[i]);
        if (!(e <= max_error)) /* also catches NaN */
            max_error = e;
    }
    /* The bytes of C, so that runs on different clusters can be compared. */
    uint64_t sum = 14695981039346656037ULL;
    const unsigned char *bytes = (const unsigned char *) c;
    for (size_t i = 0; i < count * sizeof *c; i++)
        sum = (sum ^ bytes[i]) * 1099511628211ULL;
    printf("max abs error = %.1e (n=%zu, block=%zu, %zu tasks, %.1f s)\n"
           "checksum of C = %016llx\n",
           max_error, n, side, tasks, elapsed, (unsigned long long) sum);
    if (max_error < MAX_ERROR)
        return 0;
    fprintf(stderr, "error: the error is not below %g\n", MAX_ERROR);
    return -1;
}

/* Allocate the matrices and reference tables, run, free; the exit code. */
static int s_run(pdc_client *client, const char *library, const matmul_config *cfg) {
    size_t n = (size_t) cfg->n, nb = n / (size_t) cfg->block;
    size_t count = n * n;
    double *a = malloc(count * sizeof *a);
    double *b = malloc(count * sizeof *b);
    double *c = malloc(count * sizeof *c);
    double *expected = malloc(count * sizeof *expected);
    matmul_refs refs = {
        .nb = nb,
        .a = calloc(nb * nb, sizeof(pdc_ref)),
        .b = calloc(nb * nb, sizeof(pdc_ref)),
        .product = calloc(nb * nb * nb, sizeof(pdc_ref)),
        .c = calloc(nb * nb, sizeof(pdc_ref)),
    };
    int rc = -1;
    if (a && b && c && expected && refs.a && refs.b && refs.product && refs.c)
        rc = s_multiply_and_check(client, library, cfg, a, b, c, expected, &refs);
    else
        fprintf(stderr, "error: out of memory for %zu×%zu matrices\n", n, n);
    s_release_refs(client, &refs);
    free(a);
    free(b);
    free(c);
    free(expected);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    matmul_config cfg = {
        .n = DEFAULT_N,
        .block = DEFAULT_BLOCK,
        .seed = DEFAULT_SEED,
        .timeout_s = EXAMPLE_DEFAULT_TIMEOUT_S,
    };
    int parsed = s_parse_args(argc, argv, &cfg);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;

    char *library = example_find_library(cfg.library, LIBRARY_FILE);
    if (!library)
        return 1;
    pdc_client *client = pdc_init(NULL);
    if (!client) {
        fprintf(stderr, "error: could not start a local pdc cluster "
                        "(the reason is printed above)\n");
        free(library);
        return 1;
    }
    int exit_code = s_run(client, library, &cfg);
    pdc_shutdown(&client);
    free(library);
    return exit_code;
}
