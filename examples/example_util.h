/*  example_util: the helpers the example programs share.

    Every example driver (NAME.c) takes --timeout, --lib and --help after
    its own options and parses integers the same way, finds its task
    library next to itself, bounds all its waits with one deadline on the
    monotonic clock, gets results with the same checks and messages, and
    makes its random input with splitmix64.  Those helpers live here once,
    as static inline functions, so that each driver's file holds only its
    own example: its options, its tasks, its check, and a main that shows
    the life of a pdc program (pdc_init, calls, pdc_shutdown).  The task
    libraries (NAME_tasks.c) use the clock and the generator.

    A helper that fails prints why to stderr, as "error: ..." with what to
    do about it, and returns -1 (or NULL): the caller only gives up. */
#ifndef EXAMPLE_UTIL_H_INCLUDED
#define EXAMPLE_UTIL_H_INCLUDED

#include <pdc.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Parse option `name`'s value as an integer in [min, max]. */
static inline int example_parse_i64(const char *name, const char *text, int64_t min, int64_t max,
                                    int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "error: --%s wants an integer from %" PRId64 " to %" PRId64 ", got '%s'\n",
                name, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

/* The options every driver takes after its own: --timeout SEC, --lib
   PATH and --help.  A driver ends its getopt_long table with
   EXAMPLE_OPTIONS (so its own options use letters other than T, l and
   h), prints their usage lines with example_usage_options, hands every
   option its own cases do not take to example_option, and calls
   example_no_operands after the loop.  Its config starts with timeout_s
   = EXAMPLE_DEFAULT_TIMEOUT_S: no wait in the examples is unbounded. */
#define EXAMPLE_DEFAULT_TIMEOUT_S 120
#define EXAMPLE_MAX_TIMEOUT_S     86400 /* a day */

/* clang-format off */
#define EXAMPLE_OPTIONS                           \
    {"timeout", required_argument, NULL, 'T'},    \
    {"lib", required_argument, NULL, 'l'},        \
    {"help", no_argument, NULL, 'h'},             \
    {NULL, 0, NULL, 0}
/* clang-format on */

/* A driver's usage function: its whole usage, to `out`, for program
   `prog`. */
typedef void example_usage_fn(FILE *out, const char *prog);

/* Print the usage lines of EXAMPLE_OPTIONS; `library_file` is the
   driver's task library. */
static inline void example_usage_options(FILE *out, const char *library_file) {
    fprintf(out,
            "  --timeout SEC   give up waiting after SEC seconds "
            "(default %d)\n"
            "  --lib PATH      the task library (default: %s next to "
            "this program)\n"
            "  --help          show this help\n",
            EXAMPLE_DEFAULT_TIMEOUT_S, library_file);
}

/* Handle `opt`, what getopt_long returned, when the driver's own cases
   do not take it: --timeout into *timeout_s, --lib into *library, --help
   by printing `usage` to stdout.  Anything else is an unknown option or
   one without its value, which getopt_long has reported; `usage` goes to
   stderr.  Returns 0 to go on, 1 after --help, -1 on a usage error. */
static inline int example_option(int opt, char **argv, example_usage_fn *usage, int64_t *timeout_s,
                                 const char **library) {
    switch (opt) {
    case 'T':
        return example_parse_i64("timeout", optarg, 1, EXAMPLE_MAX_TIMEOUT_S, timeout_s);
    case 'l':
        *library = optarg;
        return 0;
    case 'h':
        usage(stdout, argv[0]);
        return 1;
    default:
        usage(stderr, argv[0]);
        return -1;
    }
}

/* After the getopt_long loop: -1 after reporting an argument that is not
   an option, else 0. */
static inline int example_no_operands(int argc, char **argv, example_usage_fn *usage) {
    if (optind >= argc)
        return 0;
    fprintf(stderr, "error: unexpected argument '%s'\n", argv[optind]);
    usage(stderr, argv[0]);
    return -1;
}

/* The absolute path of the task library: `given` (--lib) if not NULL,
   else `file` in the directory of this executable.  malloc'd; NULL after
   printing why.  Absolute, so that it still names the library in a
   worker, which runs in another directory. */
static inline char *example_find_library(const char *given, const char *file) {
    char path[PATH_MAX];
    if (given) {
        snprintf(path, sizeof path, "%s", given);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0) {
            fprintf(stderr, "error: cannot read /proc/self/exe: %s\n", strerror(errno));
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

/* Seconds on the monotonic clock, for elapsed times and deadlines. */
static inline double example_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* Milliseconds from now until `deadline` (example_now() time), at least
   0: the timeout of one wait when a single deadline bounds them all. */
static inline int64_t example_ms_left(double deadline) {
    double left = deadline - example_now();
    return left > 0 ? (int64_t) (left * 1000.0) : 0;
}

/* pdc_get `ref` into *obj, waiting until `deadline` at most.  Returns 0
   with *obj filled (release it with pdc_object_release), or -1 after
   printing what went wrong (and releasing *obj if pdc_get filled it).
   `what` names the object in the message. */
static inline int example_get(pdc_client *client, pdc_ref ref, pdc_object *obj, double deadline,
                              const char *what) {
    memset(obj, 0, sizeof *obj);
    int status = pdc_get(client, ref, obj, example_ms_left(deadline));
    if (status == PDC_OK)
        return 0;
    if (status == PDC_ETIMEOUT) {
        fprintf(stderr, "error: %s: no result in time (raise --timeout?)\n", what);
    } else if (obj->type == PDC_T_ERROR) {
        const pdc_error *e = &obj->error;
        fprintf(stderr, "error: %s: %s in %s on node '%s': %s\n", what, pdc_status_name(e->code),
                e->function ? e->function : "?", e->node ? e->node : "",
                e->message ? e->message : "");
    } else {
        fprintf(stderr, "error: %s: %s: %s\n", what, pdc_status_name(status),
                pdc_last_error(client));
    }
    if (status != PDC_ETIMEOUT && obj->type == PDC_T_ERROR)
        pdc_object_release(client, obj);
    return -1;
}

/* splitmix64 (Steele, Lea, Flood 2014): a 64-bit state advanced by a
   fixed odd constant and scrambled on output.  Small, fast, and good
   enough for random input and Monte Carlo; a run is reproducible from
   its seed. */
static inline uint64_t example_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
