/*  mergesort.c: sort int64 with a recursive merge sort on nested tasks.

    Shows tasks that submit tasks.  The driver stores N random int64 with
    pdc_put and calls the remote function sort once; that task splits the
    array, sorts both halves in nested sort tasks (through
    pdc_task_client), and merges them, recursively, until a piece has at
    most --cutoff elements and is sorted where it lands.  With the
    defaults (N = 2,000,000, cutoff 65,536) the tree is 5 levels deep: 32
    leaves, 63 tasks, few enough for a 2-core machine.  --max-depth bounds
    the depth whatever the cutoff.

    The driver checks the result against qsort of a copy of the input,
    which proves both that it is sorted and that it is a permutation of
    the input, prints

        sorted 2000000 int64 in 0.8 s: verified

    and exits 0 only then.  The task is in mergesort_tasks.c
    (libpdc_example_mergesort.so, found next to this program or given
    with --lib PATH).
*/
#include <pdc.h>

#include "example_util.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIBRARY_FILE      "libpdc_example_mergesort.so"
#define DEFAULT_N         2000000
#define DEFAULT_CUTOFF    65536
#define DEFAULT_MAX_DEPTH 6
#define DEFAULT_SEED      1
#define MAX_N             (INT64_C(1) << 27) /* 1 GiB of int64 */
#define MAX_DEPTH         10

typedef struct {
    int64_t n;
    int64_t cutoff;
    int64_t max_depth;
    int64_t seed;
    int64_t timeout_s;
    const char *library; /* --lib, or NULL for the default */
} sort_config;

static void s_usage(FILE *out, const char *prog) {
    fprintf(out,
            "usage: %s [options]\n"
            "Sort random int64 with a merge sort on nested pdc tasks.\n"
            "\n"
            "  --n N           number of elements (default %d)\n"
            "  --cutoff C      sort pieces of at most C elements in one task "
            "(default %d)\n"
            "  --max-depth D   split at most D times, whatever the cutoff "
            "(default %d)\n"
            "  --seed S        seed of the random input (default %d)\n",
            prog, DEFAULT_N, DEFAULT_CUTOFF, DEFAULT_MAX_DEPTH, DEFAULT_SEED);
    example_usage_options(out, LIBRARY_FILE);
    fprintf(out, "\nExits 0 when the result is verified against qsort.\n");
}

/* Fill cfg from the command line.  Returns 0 to run, 1 when --help was
   printed, -1 on a usage error (already reported). */
static int s_parse_args(int argc, char **argv, sort_config *cfg) {
    static const struct option options[] = {
        {"n", required_argument, NULL, 'n'},
        {"cutoff", required_argument, NULL, 'c'},
        {"max-depth", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 'S'},
        EXAMPLE_OPTIONS,
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case 'n':
            rc = example_parse_i64("n", optarg, 1, MAX_N, &cfg->n);
            break;
        case 'c':
            rc = example_parse_i64("cutoff", optarg, 1, INT64_MAX, &cfg->cutoff);
            break;
        case 'd':
            rc = example_parse_i64("max-depth", optarg, 0, MAX_DEPTH, &cfg->max_depth);
            break;
        case 'S':
            rc = example_parse_i64("seed", optarg, 0, INT64_MAX, &cfg->seed);
            break;
        default:
            rc = example_option(opt, argv, s_usage, &cfg->timeout_s, &cfg->library);
            break;
        }
        if (rc != 0)
            return rc;
    }
    return example_no_operands(argc, argv, s_usage);
}

static int s_compare_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

/* How many sort tasks the task tree has for n elements, mirroring the
   split rule of mergesort_tasks.c; *depth gets the deepest split level. */
static int64_t s_count_tasks(int64_t n, int64_t cutoff, int64_t depth_left, int64_t level,
                             int64_t *depth) {
    if (level > *depth)
        *depth = level;
    if (n < 2 || n <= cutoff || depth_left == 0)
        return 1;
    return 1 + s_count_tasks(n / 2, cutoff, depth_left - 1, level + 1, depth) +
           s_count_tasks(n - n / 2, cutoff, depth_left - 1, level + 1, depth);
}

/* Compare the task's result (count int64 at data, possibly unaligned)
   with the expected sorted array.  Prints the first difference. */
static int s_verify(const void *data, const int64_t *expected, size_t count) {
    const char *bytes = data;
    for (size_t i = 0; i < count; i++) {
        int64_t v;
        memcpy(&v, bytes + i * sizeof v, sizeof v);
        if (v != expected[i]) {
            fprintf(stderr, "error: element %zu is %" PRId64 ", expected %" PRId64 "\n", i, v,
                    expected[i]);
            return -1;
        }
    }
    return 0;
}

/* Sort on the cluster and check; input and expected hold n elements.
   Returns 0 when verified, else -1 after printing why. */
static int s_sort_and_check(pdc_client *client, const char *library, const sort_config *cfg,
                            int64_t *input, int64_t *expected) {
    size_t n = (size_t) cfg->n, bytes = n * sizeof(int64_t);
    uint64_t state = (uint64_t) cfg->seed;
    for (size_t i = 0; i < n; i++)
        input[i] = (int64_t) example_splitmix64(&state);
    memcpy(expected, input, bytes);

    int64_t depth = 0;
    int64_t tasks = s_count_tasks(cfg->n, cfg->cutoff, cfg->max_depth, 0, &depth);
    printf("sorting %zu int64: cutoff %" PRId64 ", depth %" PRId64 ", %" PRId64 " tasks\n", n,
           cfg->cutoff, depth, tasks);
    fflush(stdout);

    double start = example_now();
    double deadline = start + (double) cfg->timeout_s;
    int status = PDC_OK;
    pdc_ref input_ref = pdc_put(client, PDC_BYTES(input, bytes), &status);
    if (status != PDC_OK) {
        fprintf(stderr, "error: pdc_put of the input (%zu bytes): %s: %s\n", bytes,
                pdc_status_name(status), pdc_last_error(client));
        pdc_ref_release(client, input_ref);
        return -1;
    }
    pdc_fn sort = pdc_function(client, library, "sort");
    pdc_ref sorted_ref =
        pdc_call(client, sort, PDC_REF(input_ref), PDC_I64(cfg->cutoff), PDC_I64(cfg->max_depth),
                 PDC_I64(cfg->timeout_s * 1000), PDC_STR(library));

    int rc = -1;
    pdc_object sorted;
    if (example_get(client, sorted_ref, &sorted, deadline, "sort") == 0) {
        double elapsed = example_now() - start;
        if (sorted.type != PDC_T_BYTES || sorted.size != bytes) {
            fprintf(stderr,
                    "error: sort returned type %d with %zu bytes, expected "
                    "%zu bytes\n",
                    (int) sorted.type, sorted.size, bytes);
        } else {
            qsort(expected, n, sizeof(int64_t), s_compare_i64);
            if (s_verify(sorted.data, expected, n) == 0) {
                printf("sorted %zu int64 in %.1f s: verified\n", n, elapsed);
                rc = 0;
            }
        }
        pdc_object_release(client, &sorted);
    }
    pdc_ref_release(client, sorted_ref);
    pdc_ref_release(client, input_ref);
    return rc;
}

/* Allocate the arrays, run, free; the exit code. */
static int s_run(pdc_client *client, const char *library, const sort_config *cfg) {
    size_t n = (size_t) cfg->n;
    int64_t *input = malloc(n * sizeof *input);
    int64_t *expected = malloc(n * sizeof *expected);
    int rc = -1;
    if (input && expected)
        rc = s_sort_and_check(client, library, cfg, input, expected);
    else
        fprintf(stderr, "error: out of memory for %zu int64\n", n);
    free(input);
    free(expected);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    sort_config cfg = {
        .n = DEFAULT_N,
        .cutoff = DEFAULT_CUTOFF,
        .max_depth = DEFAULT_MAX_DEPTH,
        .seed = DEFAULT_SEED,
        .timeout_s = EXAMPLE_DEFAULT_TIMEOUT_S,
    };
    int parsed = s_parse_args(argc, argv, &cfg);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;

    /* Absolute: the sort task passes it on to its nested calls, which run
       in workers with another directory. */
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
