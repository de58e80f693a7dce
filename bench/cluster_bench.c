/*  pdc-cluster-bench: scheduling and transfer figures of a multi-node
    cluster (the driver side of bench/cluster_bench.sh).

        pdc-cluster-bench scaling --slots N [--lib LIB] [--rounds R]
            no-op tasks: submit 100 x N tasks returning b"ok", get them
            all; prints tasks per second (best and mean of R rounds).
            10 ms tasks: submit 100 x N sleep_ms(10) tasks, get them all;
            prints the time and the efficiency, ideal / measured, where
            ideal = tasks x 10 ms / N slots.
        pdc-cluster-bench transfer --from NODE [--mib M] [--rounds R]
            a task on NODE makes an M MiB object; once it is done, this
            driver gets it, which pulls it from NODE into this node's
            store; prints the GB/s of the get (first round: fresh pages;
            the later ones reuse the pages the previous object left).

    Joins the cluster of PDC_ADDRESS (this host must run a node).  Lines
    are "name value unit" for the script to read. */
#include <pdc.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIMEOUT_MS     600000
#define TASKS_PER_SLOT 100
#define SLEEP_MS       10

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* Submit n calls of fn(arg) (arg < 0: no argument), get all; seconds, or
   -1 on a failure (printed). */
static double s_run(pdc_client *c, pdc_fn fn, int n, int64_t arg) {
    pdc_ref *refs = calloc((size_t) n, sizeof *refs);
    if (!refs)
        return -1;
    double start = s_now();
    for (int i = 0; i < n; i++)
        refs[i] = arg < 0 ? pdc_call(c, fn) : pdc_call(c, fn, PDC_I64(arg));
    int bad = 0;
    for (int i = 0; i < n; i++) {
        pdc_object o;
        int rc = pdc_get(c, refs[i], &o, TIMEOUT_MS);
        if (rc != PDC_OK && !bad++)
            fprintf(stderr, "task %d: %s\n", i, pdc_last_error(c));
        pdc_object_release(c, &o);
        pdc_ref_release(c, refs[i]);
    }
    double elapsed = s_now() - start;
    free(refs);
    return bad ? -1 : elapsed;
}

static int s_scaling(pdc_client *c, const char *lib, int slots, int rounds) {
    int n = TASKS_PER_SLOT * slots;
    pdc_fn noop = pdc_function(c, lib, "small_value"), sleep = pdc_function(c, lib, "sleep_ms");
    if (s_run(c, noop, n, -1) < 0)
        return 1; /* warm-up: workers, leases */
    double best = 0, sum = 0;
    for (int r = 0; r < rounds; r++) {
        double t = s_run(c, noop, n, -1);
        if (t <= 0)
            return 1;
        best = n / t > best ? n / t : best;
        sum += n / t;
    }
    printf("noop_tasks_per_s %.0f best\nnoop_tasks_per_s_mean %.0f mean\n", best, sum / rounds);
    double ideal = (double) n * SLEEP_MS / 1000.0 / slots, worst = 1, esum = 0, tsum = 0;
    for (int r = 0; r < rounds; r++) {
        double t = s_run(c, sleep, n, SLEEP_MS);
        if (t <= 0)
            return 1;
        worst = ideal / t < worst ? ideal / t : worst;
        esum += ideal / t;
        tsum += t;
    }
    printf("sleep_tasks %d tasks\nsleep_ideal_s %.3f s\nsleep_measured_s %.3f s\n"
           "sleep_efficiency %.3f mean\nsleep_efficiency_worst %.3f worst\n",
           n, ideal, tsum / rounds, esum / rounds, worst);
    return 0;
}

static int s_transfer(pdc_client *c, const char *lib, const char *from, int64_t mib, int rounds) {
    pdc_fn fill = pdc_function(c, lib, "fill_bytes");
    pdc_opts there = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = from};
    int64_t bytes = mib << 20;
    double warm_sum = 0, warm_best = 0;
    for (int r = 0; r < rounds; r++) {
        pdc_ref big = pdc_call_opts(c, fill, &there, PDC_I64(bytes));
        uint8_t done = 0;
        if (pdc_wait(c, &big, 1, 1, TIMEOUT_MS, &done) != 1 || !done) {
            fprintf(stderr, "making the object on %s: %s\n", from, pdc_last_error(c));
            return 1;
        }
        double start = s_now();
        pdc_object o;
        int rc = pdc_get(c, big, &o, TIMEOUT_MS);
        double t = s_now() - start;
        if (rc != PDC_OK || o.size != (size_t) bytes) {
            fprintf(stderr, "getting the object: %s\n", pdc_last_error(c));
            return 1;
        }
        pdc_object_release(c, &o);
        pdc_ref_release(c, big);
        double gbs = (double) bytes / t / 1e9;
        printf("transfer_round_%d_gbs %.3f GB/s\n", r, gbs);
        if (r == 0) {
            printf("transfer_cold_gbs %.3f GB/s\n", gbs);
        } else {
            warm_sum += gbs;
            warm_best = gbs > warm_best ? gbs : warm_best;
        }
        /* Let the frees reach both stores before the next object. */
        struct timespec pause = {0, 200 * 1000000};
        nanosleep(&pause, NULL);
    }
    if (rounds > 1)
        printf("transfer_warm_gbs %.3f GB/s\ntransfer_warm_gbs_best %.3f GB/s\n",
               warm_sum / (rounds - 1), warm_best);
    return 0;
}

static void s_usage(FILE *out) {
    fprintf(out,
            "usage: pdc-cluster-bench scaling --slots N [--lib LIB] [--rounds R]\n"
            "       pdc-cluster-bench transfer --from NODE [--mib M] [--lib LIB] [--rounds R]\n"
            "Scheduling and transfer figures of the cluster at PDC_ADDRESS (see the source).\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    static const struct option opts[] = {{"slots", required_argument, 0, 's'},
                                         {"lib", required_argument, 0, 'l'},
                                         {"rounds", required_argument, 0, 'r'},
                                         {"from", required_argument, 0, 'f'},
                                         {"mib", required_argument, 0, 'm'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *lib = getenv("PDC_BENCH_LIB"), *from = NULL, *mode = argv[1];
    int slots = 0, rounds = 3, c;
    int64_t mib = 256;
    optind = 2;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            slots = atoi(optarg);
            break;
        case 'l':
            lib = optarg;
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'f':
            from = optarg;
            break;
        case 'm':
            mib = atoll(optarg);
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    int scaling = !strcmp(mode, "scaling"), transfer = !strcmp(mode, "transfer");
    if (!lib || rounds < 1 || (!scaling && !transfer) || (scaling && slots < 1) ||
        (transfer && (!from || mib < 1))) {
        s_usage(stderr);
        return 2;
    }
    pdc_client *client = pdc_init(NULL);
    if (!client)
        return 1;
    int rc = scaling ? s_scaling(client, lib, slots, rounds)
                     : s_transfer(client, lib, from, mib, rounds);
    pdc_shutdown(&client);
    return rc;
}
