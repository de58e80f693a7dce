/*  pdc-envelope: how far one driver goes on one node, beside Ray's
    published scalability envelope.

    Three checks, each a figure and a verdict (the program exits 1 if any
    fails, so CI runs it as a test):
      many_actors          N actors created by one driver, each called
                           once and answered, then killed (Ray's
                           release benchmark many_actors: 10 000 actors
                           in a cluster)
      many_held_objects    N store objects held by pdc_get at once, every
                           byte checked (Ray: 10 000+ objects in one
                           ray.get)
      many_object_args     one task taking N references to store objects
                           (Ray: 10 000+ object arguments to one task)
    Objects go to the store whatever their size: the run sets
    PDC_INLINE_MAX=0 for its embedded cluster.  Every wait is bounded.

    Usage: pdc-envelope LIBRARY [--actors N] [--objects N] [--args N]
    (LIBRARY is libpdc_bench_tasks.so; defaults 2000, 100000, 10000).
*/
#include <pdc.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_MS      120000
#define OBJECT_BYTES 64

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int s_report(const char *metric, long n, double seconds, int ok, const char *why) {
    printf("%-20s %8ld in %7.2f s  %10.0f /s  %s%s%s\n", metric, n, seconds,
           seconds > 0 ? (double) n / seconds : 0.0, ok ? "OK" : "FAILED", ok ? "" : ": ",
           ok ? "" : why);
    fflush(stdout);
    return ok ? 0 : 1;
}

static int s_many_actors(pdc_client *c, const char *lib, long n) {
    pdc_actor **actors = calloc((size_t) n, sizeof *actors);
    pdc_ref *refs = calloc((size_t) n, sizeof *refs);
    char why[512] = "";
    int ok = actors && refs;
    double t0 = s_now();
    for (long i = 0; ok && i < n; i++) {
        actors[i] = pdc_actor_create(c, lib, "Actor", NULL);
        if (!actors[i]) {
            snprintf(why, sizeof why, "actor %ld: %s", i, pdc_last_error(c));
            ok = 0;
        }
    }
    for (long i = 0; ok && i < n; i++)
        refs[i] = pdc_actor_call(c, actors[i], "small_value");
    for (long i = 0; ok && i < n; i++) {
        pdc_object o;
        int rc = pdc_get(c, refs[i], &o, WAIT_MS);
        if (rc != PDC_OK || o.size != 2 || memcmp(o.data, "ok", 2)) {
            snprintf(why, sizeof why, "the call to actor %ld: %s", i,
                     rc ? pdc_last_error(c) : "a wrong answer");
            ok = 0;
        }
        pdc_object_release(c, &o);
    }
    double seconds = s_now() - t0;
    for (long i = 0; actors && i < n && actors[i]; i++) {
        pdc_ref_release(c, refs[i]);
        pdc_actor_kill(c, actors[i]);
        pdc_actor_release(c, actors[i]);
    }
    free(actors);
    free(refs);
    return s_report("many_actors", n, seconds, ok, why);
}

static int s_many_held_objects(pdc_client *c, long n) {
    pdc_ref *refs = calloc((size_t) n, sizeof *refs);
    pdc_object *held = calloc((size_t) n, sizeof *held);
    char why[512] = "";
    int ok = refs && held;
    unsigned char buf[OBJECT_BYTES];
    for (long i = 0; ok && i < n; i++) {
        memset(buf, (int) (i & 0xff), sizeof buf);
        int rc;
        refs[i] = pdc_put(c, PDC_BYTES(buf, sizeof buf), &rc);
        if (rc != PDC_OK) {
            snprintf(why, sizeof why, "put %ld: %s", i, pdc_last_error(c));
            ok = 0;
        }
    }
    double t0 = s_now();
    long got = 0;
    for (long i = 0; ok && i < n; i++, got++) {
        int rc = pdc_get(c, refs[i], &held[i], WAIT_MS);
        if (rc != PDC_OK) {
            snprintf(why, sizeof why, "get %ld with %ld held: %s", i, got, pdc_last_error(c));
            ok = 0;
        }
    }
    double seconds = s_now() - t0;
    for (long i = 0; ok && i < n; i++) {
        const unsigned char *p = held[i].data;
        for (size_t k = 0; ok && k < OBJECT_BYTES; k++)
            if (held[i].size != OBJECT_BYTES || p[k] != (unsigned char) (i & 0xff)) {
                snprintf(why, sizeof why, "object %ld read back wrong", i);
                ok = 0;
            }
    }
    for (long i = 0; held && i < got; i++)
        pdc_object_release(c, &held[i]);
    for (long i = 0; refs && i < n; i++)
        pdc_ref_release(c, refs[i]);
    free(held);
    free(refs);
    return s_report("many_held_objects", n, seconds, ok, why);
}

static int s_many_object_args(pdc_client *c, const char *lib, long n) {
    pdc_ref *refs = calloc((size_t) n, sizeof *refs);
    pdc_value *args = calloc((size_t) n, sizeof *args);
    char why[512] = "";
    int ok = refs && args;
    unsigned char buf[OBJECT_BYTES];
    int64_t want = 0;
    for (long i = 0; ok && i < n; i++) {
        memset(buf, (int) (i % 7), sizeof buf);
        int rc;
        refs[i] = pdc_put(c, PDC_BYTES(buf, sizeof buf), &rc);
        args[i] = PDC_REF(refs[i]);
        want += OBJECT_BYTES + i % 7;
        if (rc != PDC_OK) {
            snprintf(why, sizeof why, "put %ld: %s", i, pdc_last_error(c));
            ok = 0;
        }
    }
    double t0 = s_now();
    if (ok) {
        pdc_fn f = pdc_function(c, lib, "sum_sizes");
        pdc_ref r = pdc_call_args(c, f, NULL, args, (size_t) n);
        int64_t total = 0;
        int rc = pdc_get_i64(c, r, &total, WAIT_MS);
        if (rc != PDC_OK || total != want) {
            snprintf(why, sizeof why, "%s", rc ? pdc_last_error(c) : "a wrong sum");
            ok = 0;
        }
        pdc_ref_release(c, r);
    }
    double seconds = s_now() - t0;
    for (long i = 0; refs && i < n; i++)
        pdc_ref_release(c, refs[i]);
    free(refs);
    free(args);
    return s_report("many_object_args", n, seconds, ok, why);
}

static void s_usage(FILE *out) {
    fprintf(out, "usage: pdc-envelope LIBRARY [--actors N] [--objects N] [--args N]\n"
                 "  LIBRARY   libpdc_bench_tasks.so (its Actor class and sum_sizes)\n"
                 "  --actors  actors one driver creates and calls (default 2000; 0 skips)\n"
                 "  --objects store objects held by pdc_get at once (default 100000)\n"
                 "  --args    store-object arguments of one task (default 10000)\n");
}

int main(int argc, char **argv) {
    long actors = 2000, objects = 100000, nargs = 10000;
    static const struct option opts[] = {{"actors", required_argument, 0, 'a'},
                                         {"objects", required_argument, 0, 'o'},
                                         {"args", required_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (ch == 'a')
            actors = atol(optarg);
        else if (ch == 'o')
            objects = atol(optarg);
        else if (ch == 'n')
            nargs = atol(optarg);
        else if (ch == 'h')
            return s_usage(stdout), 0;
        else
            return s_usage(stderr), 2;
    }
    if (optind != argc - 1 || actors < 0 || objects < 0 || nargs < 0)
        return s_usage(stderr), 2;
    const char *lib = argv[optind];
    setenv("PDC_INLINE_MAX", "0", 1);
    pdc_client *c = pdc_init(NULL);
    if (!c) {
        fprintf(stderr, "pdc-envelope: cannot start an embedded cluster: %s\n",
                pdc_last_error(NULL));
        return 1;
    }
    int failed = 0;
    if (actors)
        failed += s_many_actors(c, lib, actors);
    if (objects)
        failed += s_many_held_objects(c, objects);
    if (nargs)
        failed += s_many_object_args(c, lib, nargs);
    pdc_shutdown(&c);
    return failed ? 1 : 0;
}
