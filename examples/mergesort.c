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

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIBRARY_FILE      "libpdc_example_mergesort.so"
#define DEFAULT_N         2000000
#define DEFAULT_CUTOFF    65536
#define DEFAULT_MAX_DEPTH 6
#define DEFAULT_SEED      1
#define DEFAULT_TIMEOUT_S 120
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
            "  --seed S        seed of the random input (default %d)\n"
            "  --timeout SEC   give up waiting after SEC seconds "
            "(default %d)\n"
            "  --lib PATH      the task library (default: %s next to "
            "this program)\n"
            "  --help          show this help\n"
            "\n"
            "Exits 0 when the result is verified against qsort.\n",
            prog, DEFAULT_N, DEFAULT_CUTOFF, DEFAULT_MAX_DEPTH, DEFAULT_SEED,
            DEFAULT_TIMEOUT_S, LIBRARY_FILE);
}

/* Parse option `name`'s value as an integer in [min, max]. */
static int s_parse_i64(const char *name, const char *text, int64_t min,
                       int64_t max, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr,
                "error: --%s wants an integer from %" PRId64 " to %" PRId64
                ", got '%s'\n",
                name, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* Fill cfg from the command line.  Returns 0 to run, 1 when --help was
   printed, -1 on a usage error (already reported). */
static int s_parse_args(int argc, char **argv, sort_config *cfg) {
    static const struct option options[] = {
        {"n", required_argument, NULL, 'n'},
        {"cutoff", required_argument, NULL, 'c'},
        {"max-depth", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 'S'},
        {"timeout", required_argument, NULL, 'T'},
        {"lib", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case 'n':
            rc = s_parse_i64("n", optarg, 1, MAX_N, &cfg->n);
            break;
        case 'c':
            rc = s_parse_i64("cutoff", optarg, 1, INT64_MAX, &cfg->cutoff);
            break;
        case 'd':
            rc =
                s_parse_i64("max-depth", optarg, 0, MAX_DEPTH, &cfg->max_depth);
            break;
        case 'S':
            rc = s_parse_i64("seed", optarg, 0, INT64_MAX, &cfg->seed);
            break;
        case 'T':
            rc = s_parse_i64("timeout", optarg, 1, 86400, &cfg->timeout_s);
            break;
        case 'l':
            cfg->library = optarg;
            break;
        case 'h':
            s_usage(stdout, argv[0]);
            return 1;
        default:
            s_usage(stderr, argv[0]);
            return -1;
        }
        if (rc != 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "error: unexpected argument '%s'\n", argv[optind]);
        s_usage(stderr, argv[0]);
        return -1;
    }
    return 0;
}

/* The absolute path of the task library: `given` (--lib) if not NULL,
   else `file` in the directory of this executable.  malloc'd; NULL after
   printing why.  It must be absolute here: the sort task passes it on to
   its nested calls, which run in workers with another directory. */
static char *s_find_library(const char *given, const char *file) {
    char path[PATH_MAX];
    if (given) {
        snprintf(path, sizeof path, "%s", given);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0) {
            fprintf(stderr, "error: cannot read /proc/self/exe: %s\n",
                    strerror(errno));
            return NULL;
        }
        path[n] = '\0';
        char *slash = strrchr(path, '/');
        size_t dir_len = slash ? (size_t) (slash - path) : 0;
        snprintf(path + dir_len, sizeof path - dir_len, "/%s", file);
    }
    char *absolute = realpath(path, NULL);
    if (!absolute)
        fprintf(stderr,
                "error: task library %s: %s\n"
                "       build the examples (meson compile -C build) or "
                "pass --lib PATH\n",
                path, strerror(errno));
    return absolute;
}

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* Milliseconds from now until `deadline` (s_now() time), at least 0. */
static int64_t s_ms_left(double deadline) {
    double left = deadline - s_now();
    return left > 0 ? (int64_t) (left * 1000.0) : 0;
}

/* pdc_get `ref` into *obj, waiting until `deadline` at most.  Returns 0
   with *obj filled (release it with pdc_object_release), or -1 after
   printing what went wrong (and releasing *obj if pdc_get filled it).
   `what` names the object in the message. */
static int s_get(pdc_client *client, pdc_ref ref, pdc_object *obj,
                 double deadline, const char *what) {
    memset(obj, 0, sizeof *obj);
    int status = pdc_get(client, ref, obj, s_ms_left(deadline));
    if (status == PDC_OK)
        return 0;
    if (status == PDC_ETIMEOUT) {
        fprintf(stderr, "error: %s: no result in time (raise --timeout?)\n",
                what);
    } else if (obj->type == PDC_T_ERROR) {
        const pdc_error *e = &obj->error;
        fprintf(stderr, "error: %s: %s in %s on node '%s': %s\n", what,
                pdc_status_name(e->code), e->function ? e->function : "?",
                e->node ? e->node : "", e->message ? e->message : "");
    } else {
        fprintf(stderr, "error: %s: %s: %s\n", what, pdc_status_name(status),
                pdc_last_error(client));
    }
    if (status != PDC_ETIMEOUT && obj->type == PDC_T_ERROR)
        pdc_object_release(client, obj);
    return -1;
}

/* splitmix64: a small, good generator for the random input. */
static uint64_t s_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int s_compare_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

/* How many sort tasks the task tree has for n elements, mirroring the
   split rule of mergesort_tasks.c; *depth gets the deepest split level. */
static int64_t s_count_tasks(int64_t n, int64_t cutoff, int64_t depth_left,
                             int64_t level, int64_t *depth) {
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
            fprintf(stderr,
                    "error: element %zu is %" PRId64 ", expected %" PRId64 "\n",
                    i, v, expected[i]);
            return -1;
        }
    }
    return 0;
}

/* Sort on the cluster and check; input and expected hold n elements.
   Returns 0 when verified, else -1 after printing why. */
static int s_sort_and_check(pdc_client *client, const char *library,
                            const sort_config *cfg, int64_t *input,
                            int64_t *expected) {
    size_t n = (size_t) cfg->n, bytes = n * sizeof(int64_t);
    uint64_t state = (uint64_t) cfg->seed;
    for (size_t i = 0; i < n; i++)
        input[i] = (int64_t) s_splitmix64(&state);
    memcpy(expected, input, bytes);

    int64_t depth = 0;
    int64_t tasks =
        s_count_tasks(cfg->n, cfg->cutoff, cfg->max_depth, 0, &depth);
    printf("sorting %zu int64: cutoff %" PRId64 ", depth %" PRId64 ", %" PRId64
           " tasks\n",
           n, cfg->cutoff, depth, tasks);
    fflush(stdout);

    double start = s_now();
    double deadline = start + (double) cfg->timeout_s;
    int status = PDC_OK;
    pdc_ref input_ref = pdc_put(client, PDC_BYTES(input, bytes), &status);
    if (status != PDC_OK) {
        fprintf(stderr, "error: pdc_put of the input (%zu bytes): %s: %s\n",
                bytes, pdc_status_name(status), pdc_last_error(client));
        pdc_ref_release(client, input_ref);
        return -1;
    }
    pdc_fn sort = pdc_function(client, library, "sort");
    pdc_ref sorted_ref =
        pdc_call(client, sort, PDC_REF(input_ref), PDC_I64(cfg->cutoff),
                 PDC_I64(cfg->max_depth), PDC_I64(cfg->timeout_s * 1000),
                 PDC_STR(library));

    int rc = -1;
    pdc_object sorted;
    if (s_get(client, sorted_ref, &sorted, deadline, "sort") == 0) {
        double elapsed = s_now() - start;
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
static int s_run(pdc_client *client, const char *library,
                 const sort_config *cfg) {
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
        .timeout_s = DEFAULT_TIMEOUT_S,
    };
    int parsed = s_parse_args(argc, argv, &cfg);
    if (parsed != 0)
        return parsed > 0 ? 0 : 2;

    char *library = s_find_library(cfg.library, LIBRARY_FILE);
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
