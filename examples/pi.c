/*  pi.c: estimate pi by Monte Carlo on a local pdc cluster.

    The smallest complete pdc program: it starts an embedded cluster with
    pdc_init(NULL), names the remote function sample_pi in the task
    library libpdc_example_pi.so (pi_tasks.c), submits one call per task
    with its own seed, gets the i64 hit counts back and adds them up:

        build/examples/pdc-example-pi [--tasks 64] [--samples 1000000]

    prints "pi ≈ 3.14159 (64 tasks × 1000000 samples, 0.42 s)" and exits 0
    when the estimate is within 0.01 of pi.  It shows the whole life of a
    call: submit (pdc_call_opts returns a reference at once), wait with a
    finite timeout (pdc_get_i64), release every reference, shut down.

    The task library is found next to this executable, or given with
    --lib PATH.
*/
#include <pdc.h>

#include "example_util.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define LIBRARY_FILE    "libpdc_example_pi.so"
#define DEFAULT_TASKS   64
#define DEFAULT_SAMPLES 1000000
#define DEFAULT_SEED    1
#define PI_REFERENCE    3.14159
#define PI_TOLERANCE    0.01

static void s_usage(FILE *out, const char *prog) {
    fprintf(out,
            "usage: %s [options]\n"
            "Estimate pi by Monte Carlo with pdc tasks on a local cluster.\n"
            "\n"
            "  --tasks N       number of tasks (default %d)\n"
            "  --samples M     random points per task (default %d)\n"
            "  --seed S        seed of the first task; task i uses S+i "
            "(default %d)\n",
            prog, DEFAULT_TASKS, DEFAULT_SAMPLES, DEFAULT_SEED);
    example_usage_options(out, LIBRARY_FILE);
    fprintf(out, "\nExits 0 when the estimate is within %g of %g.\n", PI_TOLERANCE, PI_REFERENCE);
}

typedef struct {
    int64_t tasks;
    int64_t samples;
    int64_t seed;
    int64_t timeout_s;
    const char *library; /* --lib, or NULL for the default */
} pi_config;

/* Fill cfg from the command line.  Returns 0 to run, 1 when --help was
   printed, -1 on a usage error (already reported). */
static int s_parse_args(int argc, char **argv, pi_config *cfg) {
    static const struct option options[] = {
        {"tasks", required_argument, NULL, 't'},
        {"samples", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'S'},
        EXAMPLE_OPTIONS,
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = 0;
        switch (opt) {
        case 't':
            rc = example_parse_i64("tasks", optarg, 1, 1000000, &cfg->tasks);
            break;
        case 's':
            rc = example_parse_i64("samples", optarg, 1, INT64_MAX, &cfg->samples);
            break;
        case 'S':
            rc = example_parse_i64("seed", optarg, 0, INT64_MAX / 2, &cfg->seed);
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
    if (cfg->samples > INT64_MAX / cfg->tasks) {
        fprintf(stderr, "error: --tasks × --samples does not fit in 64 "
                        "bits\n");
        return -1;
    }
    return 0;
}

/* Submit the tasks, add up their counts and check the estimate.
   Returns the exit code. */
static int s_run(pdc_client *client, const char *library, const pi_config *cfg) {
    pdc_ref *refs = calloc((size_t) cfg->tasks, sizeof *refs);
    if (!refs) {
        fprintf(stderr, "error: out of memory for %" PRId64 " references\n", cfg->tasks);
        return 1;
    }

    /* Submit every task first; each call returns its reference at once.
       max_retries 0 keeps the default (3 retries after a worker death). */
    double start = example_now();
    pdc_fn sample_pi = pdc_function(client, library, "sample_pi");
    pdc_opts opts = {.num_cpus = 1, .max_retries = 0, .name = "sample_pi"};
    for (int64_t i = 0; i < cfg->tasks; i++)
        refs[i] =
            pdc_call_opts(client, sample_pi, &opts, PDC_I64(cfg->seed + i), PDC_I64(cfg->samples));

    /* Then collect the counts.  One deadline bounds the whole wait. */
    double deadline = start + (double) cfg->timeout_s;
    int64_t hits = 0;
    int failed = 0;
    for (int64_t i = 0; i < cfg->tasks && !failed; i++) {
        int64_t task_hits = 0;
        int status = pdc_get_i64(client, refs[i], &task_hits, example_ms_left(deadline));
        if (status == PDC_OK && task_hits >= 0 && task_hits <= cfg->samples) {
            hits += task_hits;
            continue;
        }
        failed = 1;
        if (status == PDC_ETIMEOUT)
            fprintf(stderr,
                    "error: task %" PRId64 " of %" PRId64 " gave no result within %" PRId64
                    " s (raise --timeout?)\n",
                    i, cfg->tasks, cfg->timeout_s);
        else if (status != PDC_OK)
            fprintf(stderr, "error: task %" PRId64 " of %" PRId64 ": %s: %s\n", i, cfg->tasks,
                    pdc_status_name(status), pdc_last_error(client));
        else
            fprintf(stderr,
                    "error: task %" PRId64 " returned %" PRId64 " hits for %" PRId64 " samples\n",
                    i, task_hits, cfg->samples);
    }
    double elapsed = example_now() - start;

    for (int64_t i = 0; i < cfg->tasks; i++)
        pdc_ref_release(client, refs[i]);
    free(refs);
    if (failed)
        return 1;

    double total = (double) cfg->tasks * (double) cfg->samples;
    double pi = 4.0 * (double) hits / total;
    printf("pi ≈ %.5f (%" PRId64 " tasks × %" PRId64 " samples, %.2f s)\n", pi, cfg->tasks,
           cfg->samples, elapsed);
    if (fabs(pi - PI_REFERENCE) >= PI_TOLERANCE) {
        fprintf(stderr, "error: the estimate is more than %g away from %g\n", PI_TOLERANCE,
                PI_REFERENCE);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    pi_config cfg = {
        .tasks = DEFAULT_TASKS,
        .samples = DEFAULT_SAMPLES,
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
