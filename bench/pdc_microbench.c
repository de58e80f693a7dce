/*  pdc-microbench: pdc measured the way `ray microbenchmark` measures Ray.

    Each metric keeps Ray's name and what one operation is in Ray's
    ray_perf.py (see ../shared/BENCH.md), and the timing is Ray's timeit:
    a warm-up, then rounds that each repeat the operation for at least a
    round time (in steps of warm-up count / 10 + 1), the rate of a round
    being multiplier * operations / elapsed.  It prints, like Ray,

        METRIC per second MEAN +- STD

    one line per metric on stdout, progress on stderr.  bench/compare.py
    runs this and Ray's script side by side.

    Beside Ray's metrics it prints one floor that is not a pdc figure:
    memcpy_shm_prefaulted_gigabytes, an 800 MiB memcpy into a shared
    mapping in /dev/shm whose pages are already faulted in, which is what
    single_client_put_gigabytes is judged against.
*/
#include <pdc.h>

#include <ctype.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 600000
#define BIG_BYTES  ((size_t) 800 << 20) /* Ray: 100 Mi int64 */

typedef struct {
    pdc_client *c;
    const char *lib;
    pdc_fn small_value, put_small_100, put_gigabytes_10, small_value_batch, round_robin_calls;
    pdc_ref put_ref;
    pdc_ref containing_ref; /* create_object_containing_ref's list */
    void *big;
    /* Actor metrics: servers and clients made by the metric's setup. */
    pdc_actor *servers[16], *clients[16];
    int nservers, nclients, n_cpu;
} bench_t;

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void s_die(bench_t *b, const char *what) {
    fprintf(stderr, "pdc-microbench: %s: %s\n", what, pdc_last_error(b->c));
    exit(1);
}

static void s_get_ok(bench_t *b, pdc_ref r) {
    pdc_object o;
    if (pdc_get(b->c, r, &o, TIMEOUT_MS) != PDC_OK)
        s_die(b, "get");
    pdc_object_release(b->c, &o);
    pdc_ref_release(b->c, r);
}

static void s_submit_and_get(bench_t *b, pdc_fn fn, int n) {
    pdc_ref *refs = malloc((size_t) n * sizeof *refs);
    for (int i = 0; i < n; i++)
        refs[i] = pdc_call(b->c, fn);
    for (int i = 0; i < n; i++)
        s_get_ok(b, refs[i]);
    free(refs);
}

/* ---- The operations ---------------------------------------------------- */

static void op_get_calls(bench_t *b) {
    pdc_object o;
    if (pdc_get(b->c, b->put_ref, &o, TIMEOUT_MS) != PDC_OK)
        s_die(b, "get");
    pdc_object_release(b->c, &o);
}

static void op_put_calls(bench_t *b) {
    int status;
    pdc_ref r = pdc_put(b->c, PDC_I64(0), &status);
    if (status != PDC_OK)
        s_die(b, "put");
    pdc_ref_release(b->c, r);
}

/* Ray's get deserializes the list into 10000 ObjectRefs and drops them:
   here a reference handle is taken out of the list for each and let go. */
static void op_get_containing(bench_t *b) {
    pdc_object o;
    if (pdc_get(b->c, b->containing_ref, &o, TIMEOUT_MS) != PDC_OK)
        s_die(b, "get");
    size_t n = pdc_object_nrefs(&o);
    for (size_t i = 0; i < n; i++) {
        int status;
        pdc_ref r = pdc_object_ref(b->c, &o, i, &status);
        if (status != PDC_OK)
            s_die(b, "pdc_object_ref");
        pdc_ref_release(b->c, r);
    }
    if (n != 10000)
        s_die(b, "the list does not hold 10000 references");
    pdc_object_release(b->c, &o);
}

static void op_multi_put(bench_t *b) {
    s_submit_and_get(b, b->put_small_100, 10);
}

static void op_put_gigabytes(bench_t *b) {
    int status;
    pdc_ref r = pdc_put(b->c, PDC_BYTES(b->big, BIG_BYTES), &status);
    if (status != PDC_OK)
        s_die(b, "put 800 MiB");
    pdc_ref_release(b->c, r);
}

static void op_multi_put_gigabytes(bench_t *b) {
    s_submit_and_get(b, b->put_gigabytes_10, 10);
}

static void op_tasks_batch(bench_t *b) {
    s_submit_and_get(b, b->small_value, 1000);
}

static void op_wait_1k(bench_t *b) {
    enum { N = 1000 };
    pdc_ref refs[N];
    uint8_t ready[N];
    for (int i = 0; i < N; i++)
        refs[i] = pdc_call(b->c, b->small_value);
    size_t left = N;
    while (left) {
        int n = pdc_wait(b->c, refs, left, 1, TIMEOUT_MS, ready);
        if (n < 1)
            s_die(b, "wait");
        size_t keep = 0;
        for (size_t i = 0; i < left; i++) {
            if (ready[i])
                pdc_ref_release(b->c, refs[i]);
            else
                refs[keep++] = refs[i];
        }
        left = keep;
    }
}

static void op_tasks_sync(bench_t *b) {
    s_get_ok(b, pdc_call(b->c, b->small_value));
}

static void op_multi_tasks(bench_t *b) {
    pdc_ref refs[4];
    for (int i = 0; i < 4; i++)
        refs[i] = pdc_call(b->c, b->small_value_batch, PDC_I64(10000));
    for (int i = 0; i < 4; i++)
        s_get_ok(b, refs[i]);
}

/* ---- Actor operations (Ray: Actor and Client in ray_perf.py) ---------- */

static void s_get_all(bench_t *b, pdc_ref *refs, int n) {
    for (int i = 0; i < n; i++)
        s_get_ok(b, refs[i]);
}

static void op_actor_sync(bench_t *b) {
    s_get_ok(b, pdc_actor_call(b->c, b->servers[0], "small_value"));
}

static void op_actor_async(bench_t *b) {
    pdc_ref refs[1000];
    for (int i = 0; i < 1000; i++)
        refs[i] = pdc_actor_call(b->c, b->servers[0], "small_value");
    s_get_all(b, refs, 1000);
}

static void op_client_batch(bench_t *b) {
    pdc_ref refs[16];
    for (int i = 0; i < b->nclients; i++)
        refs[i] = pdc_actor_call(b->c, b->clients[i], "small_value_batch", PDC_I64(5000));
    s_get_all(b, refs, b->nclients);
}

static void op_round_robin(bench_t *b) {
    pdc_value args[17];
    args[0] = PDC_I64(5000);
    for (int i = 0; i < b->nservers; i++)
        args[1 + i] = PDC_ACTOR(b->servers[i]);
    pdc_ref refs[4];
    for (int i = 0; i < 4; i++)
        refs[i] = pdc_call_args(b->c, b->round_robin_calls, NULL, args, 1 + (size_t) b->nservers);
    s_get_all(b, refs, 4);
}

static void op_client_batch_arg(bench_t *b) {
    pdc_ref refs[16];
    for (int i = 0; i < b->nclients; i++)
        refs[i] = pdc_actor_call(b->c, b->clients[i], "small_value_batch_arg", PDC_I64(1000));
    s_get_all(b, refs, b->nclients);
}

static pdc_actor *s_actor(bench_t *b, const char *cls, int max_concurrency, const pdc_value *args,
                          size_t nargs) {
    pdc_actor_opts opts = {.max_concurrency = max_concurrency};
    pdc_actor *a = pdc_actor_create_args(b->c, b->lib, cls, &opts, args, nargs);
    if (!a || pdc_actor_ready(b->c, a, TIMEOUT_MS) != PDC_OK)
        s_die(b, "actor creation");
    return a;
}

/* Set up the actors a metric uses (Ray's sizes: n = cores / 2). */
static void s_actor_setup(bench_t *b, const char *metric) {
    b->nservers = b->nclients = 0;
    int concurrent = !strcmp(metric, "1_1_actor_calls_concurrent");
    int servers = !strncmp(metric, "1_1_", 4) ? 1 : b->n_cpu;
    for (int i = 0; i < servers; i++)
        b->servers[b->nservers++] = s_actor(b, "Actor", concurrent ? 16 : 1, NULL, 0);
    if (!strcmp(metric, "1_n_actor_calls_async")) {
        pdc_value args[16];
        for (int i = 0; i < b->nservers; i++)
            args[i] = PDC_ACTOR(b->servers[i]);
        b->clients[b->nclients++] = s_actor(b, "Client", 1, args, (size_t) b->nservers);
    } else if (!strcmp(metric, "n_n_actor_calls_with_arg_async")) {
        for (int i = 0; i < b->nservers; i++) {
            pdc_value arg = PDC_ACTOR(b->servers[i]);
            b->clients[b->nclients++] = s_actor(b, "Client", 1, &arg, 1);
        }
    }
}

static void s_actor_teardown(bench_t *b) {
    for (int i = 0; i < b->nclients; i++) {
        pdc_actor_kill(b->c, b->clients[i]);
        pdc_actor_release(b->c, b->clients[i]);
    }
    for (int i = 0; i < b->nservers; i++) {
        pdc_actor_kill(b->c, b->servers[i]);
        pdc_actor_release(b->c, b->servers[i]);
    }
    b->nservers = b->nclients = 0;
}

/* Not Ray's: the floor for put_gigabytes (see the top of the file). */
static void *s_shm_map;
static void op_memcpy_shm(bench_t *b) {
    memcpy(s_shm_map, b->big, BIG_BYTES);
}

typedef struct {
    const char *name;
    void (*op)(bench_t *);
    double multiplier;
} metric_t;

static const metric_t s_metrics[] = {
    {"single_client_get_calls_Plasma_Store", op_get_calls, 1},
    {"single_client_put_calls_Plasma_Store", op_put_calls, 1},
    {"multi_client_put_calls_Plasma_Store", op_multi_put, 1000},
    {"single_client_put_gigabytes", op_put_gigabytes, 8 * 0.1},
    {"multi_client_put_gigabytes", op_multi_put_gigabytes, 10 * 8 * 0.1},
    {"memcpy_shm_prefaulted_gigabytes", op_memcpy_shm, 8 * 0.1},
    {"single_client_tasks_and_get_batch", op_tasks_batch, 1},
    {"single_client_get_object_containing_10k_refs", op_get_containing, 1},
    {"single_client_wait_1k_refs", op_wait_1k, 1},
    {"single_client_tasks_sync", op_tasks_sync, 1},
    {"single_client_tasks_async", op_tasks_batch, 1000},
    {"multi_client_tasks_async", op_multi_tasks, 4 * 10000},
    {"1_1_actor_calls_sync", op_actor_sync, 1},
    {"1_1_actor_calls_async", op_actor_async, 1000},
    {"1_1_actor_calls_concurrent", op_actor_async, 1000},
    {"1_n_actor_calls_async", op_client_batch, 5000 /* x servers, set below */},
    {"n_n_actor_calls_async", op_round_robin, 4 * 5000},
    {"n_n_actor_calls_with_arg_async", op_client_batch_arg, 1000 /* x pairs */},
};

/* Ray's timeit. */
static void s_timeit(bench_t *b, const metric_t *m, double warmup, int rounds, double round_time) {
    double multiplier = m->multiplier;
    if (m->op == op_client_batch || m->op == op_client_batch_arg)
        multiplier *= b->nservers;
    double start = s_now();
    long count = 0;
    while (s_now() - start < warmup) {
        m->op(b);
        count++;
    }
    long step = count / 10 + 1;
    double rates[16], mean = 0, var = 0;
    for (int r = 0; r < rounds; r++) {
        start = s_now();
        count = 0;
        while (s_now() - start < round_time) {
            for (long i = 0; i < step; i++)
                m->op(b);
            count += step;
        }
        rates[r] = multiplier * (double) count / (s_now() - start);
        mean += rates[r] / rounds;
    }
    for (int r = 0; r < rounds; r++)
        var += (rates[r] - mean) * (rates[r] - mean) / rounds;
    printf("%s per second %.2f +- %.2f\n", m->name, mean, sqrt(var));
    fflush(stdout);
}

static int s_selected(const char *only, const char *name) {
    if (!only)
        return 1;
    size_t n = strlen(name);
    for (const char *p = only; (p = strstr(p, name)); p += n)
        if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

static void s_usage(FILE *out) {
    fprintf(out, "Usage: pdc-microbench [--quick] [--only m1,m2] [--list] [--lib PATH]\n"
                 "Runs Ray's microbenchmark metrics against pdc on an embedded local cluster\n"
                 "(or the cluster in PDC_ADDRESS) and prints 'METRIC per second MEAN +- STD'.\n\n"
                 "  --quick       short rounds (0.2 s warm-up, 2 rounds of 0.5 s) for smoke runs\n"
                 "  --only LIST   comma-separated metric names\n"
                 "  --list        print the metric names and exit\n"
                 "  --lib PATH    the benchmark task library (default: libpdc_bench_tasks.so "
                 "beside this binary)\n"
                 "  -h, --help    this text\n");
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"quick", no_argument, 0, 'q'}, {"only", required_argument, 0, 'o'},
        {"list", no_argument, 0, 'l'},  {"lib", required_argument, 0, 'L'},
        {"help", no_argument, 0, 'h'},  {0, 0, 0, 0}};
    int quick = 0, c;
    const char *only = NULL;
    char lib[PATH_MAX] = "";
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quick = 1;
            break;
        case 'o':
            only = optarg;
            break;
        case 'L':
            snprintf(lib, sizeof lib, "%s", optarg);
            break;
        case 'l':
            for (size_t i = 0; i < sizeof s_metrics / sizeof s_metrics[0]; i++)
                puts(s_metrics[i].name);
            return 0;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (!*lib) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0)
            return 1;
        exe[n] = '\0';
        *strrchr(exe, '/') = '\0';
        snprintf(lib, sizeof lib, "%s/libpdc_bench_tasks.so", exe);
    }
    if (access(lib, R_OK)) {
        fprintf(stderr, "pdc-microbench: cannot read the task library %s (use --lib)\n", lib);
        return 2;
    }
    double warmup = quick ? 0.2 : 1.0, round_time = quick ? 0.5 : 2.0;
    int rounds = quick ? 2 : 4;

    bench_t b = {0};
    b.c = pdc_init(NULL);
    if (!b.c)
        return 1;
    b.small_value = pdc_function(b.c, lib, "small_value");
    b.put_small_100 = pdc_function(b.c, lib, "put_small_100");
    b.put_gigabytes_10 = pdc_function(b.c, lib, "put_gigabytes_10");
    b.small_value_batch = pdc_function(b.c, lib, "small_value_batch");
    b.round_robin_calls = pdc_function(b.c, lib, "round_robin_calls");
    b.lib = lib;
    b.n_cpu = (int) sysconf(_SC_NPROCESSORS_ONLN) / 2;
    if (b.n_cpu < 1)
        b.n_cpu = 1;
    if (b.n_cpu > 16)
        b.n_cpu = 16;
    int status;
    b.put_ref = pdc_put(b.c, PDC_I64(0), &status);
    b.big = malloc(BIG_BYTES);
    memset(b.big, 0, BIG_BYTES); /* Ray's np.zeros is faulted in by its first put too */

    char shm_path[64];
    snprintf(shm_path, sizeof shm_path, "/dev/shm/pdc-bench-%d", (int) getpid());
    for (size_t i = 0; i < sizeof s_metrics / sizeof s_metrics[0]; i++) {
        const metric_t *m = &s_metrics[i];
        if (!s_selected(only, m->name))
            continue;
        fprintf(stderr, "running %s\n", m->name);
        if (m->op == op_put_gigabytes) {
            double t0 = s_now();
            op_put_gigabytes(&b);
            fprintf(stderr, "  note: first (cold) 800 MiB put: %.3f GB/s\n", 0.8 / (s_now() - t0));
        }
        if (m->op == op_get_containing) {
            b.containing_ref =
                pdc_call(b.c, pdc_function(b.c, lib, "create_object_containing_ref"));
            pdc_object o;
            if (pdc_get(b.c, b.containing_ref, &o, TIMEOUT_MS) != PDC_OK)
                s_die(&b, "create_object_containing_ref");
            pdc_object_release(b.c, &o);
        }
        if (m->op == op_memcpy_shm) {
            int fd = open(shm_path, O_RDWR | O_CREAT | O_EXCL, 0600);
            if (fd < 0 || ftruncate(fd, (off_t) BIG_BYTES))
                continue;
            s_shm_map =
                mmap(NULL, BIG_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
            close(fd);
            memset(s_shm_map, 1, BIG_BYTES);
        }
        int actor_metric = isdigit((unsigned char) m->name[0]) || m->name[0] == 'n';
        if (actor_metric)
            s_actor_setup(&b, m->name);
        s_timeit(&b, m, warmup, rounds, round_time);
        if (actor_metric)
            s_actor_teardown(&b);
        if (m->op == op_get_containing)
            pdc_ref_release(b.c, b.containing_ref);
        if (m->op == op_memcpy_shm) {
            munmap(s_shm_map, BIG_BYTES);
            unlink(shm_path);
        }
    }
    pdc_ref_release(b.c, b.put_ref);
    free(b.big);
    pdc_shutdown(&b.c);
    return 0;
}
