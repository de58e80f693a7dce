/*  chaos_driver: the workload of the chaos test (tests/netns/test_chaos.sh).

    A driver run against a namespace cluster while a nemesis kills
    workers, raylets and the head and cuts a link.  It runs two
    workloads at once and checks their results:

      chain   N tasks of bytes_plus_one, each taking the one before as its
              argument, spread over the nodes (each result a stored
              110 KiB value, so a node's death loses links, which lineage
              rebuilds); the last value must be N mod 256 in every byte.
      ledger  M calls mark(i) to a Ledger actor (task_lib.c) created with
              max_restarts -1 and max_task_retries -1: every call must
              return i, and at the end the actor (whatever life it is in)
              must count M marks: every increment applied at least once.

        chaos_driver --lib LIB --ledger FILE [--chain N] [--marks M] [--pace-ms P]

    The marks go in batches of 100, P ms apart (default 0), so that the
    work lasts as long as the nemesis needs.

    Prints "ok: ..." or "FAIL: ..." per check and exits 0 when all hold.
    Every wait has a timeout. */
#include <pdc.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS    120000
#define CHAIN_SIZE (110 * 1024)
#define BATCH      100

static pdc_client *g_c;
static int g_failed;

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void s_check(int ok, const char *what, double start) {
    printf("%s: %s (%.1f s)\n", ok ? "ok" : "FAIL", what, s_now() - start);
    fflush(stdout);
    g_failed += !ok;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"lib", required_argument, 0, 'l'},
                                         {"ledger", required_argument, 0, 'f'},
                                         {"chain", required_argument, 0, 'c'},
                                         {"marks", required_argument, 0, 'm'},
                                         {"pace-ms", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *lib = NULL, *ledger = NULL;
    long chain = 2000, marks = 2000, pace_ms = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            lib = optarg;
            break;
        case 'f':
            ledger = optarg;
            break;
        case 'c':
            chain = atol(optarg);
            break;
        case 'm':
            marks = atol(optarg);
            break;
        case 'p':
            pace_ms = atol(optarg);
            break;
        default:
            printf("usage: chaos_driver --lib LIB --ledger FILE [--chain N] [--marks M] "
                   "[--pace-ms P]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!lib || !ledger || chain < 1 || marks < 1) {
        fprintf(stderr, "chaos_driver: --lib and --ledger are required\n");
        return 2;
    }
    g_c = pdc_init(NULL);
    if (!g_c) {
        fprintf(stderr, "chaos_driver: pdc_init: %s\n", pdc_last_error(NULL));
        return 1;
    }
    double start = s_now();

    /* The chain goes first and runs while the marks are sent. */
    unsigned char *zeros = calloc(1, CHAIN_SIZE);
    int status = PDC_OK;
    pdc_ref link = pdc_put(g_c, PDC_BYTES(zeros, CHAIN_SIZE), &status);
    free(zeros);
    pdc_opts spread = {.strategy = PDC_SCHED_SPREAD, .max_retries = 20};
    pdc_fn plus_one = pdc_function(g_c, lib, "bytes_plus_one");
    for (long i = 0; i < chain && status == PDC_OK; i++) {
        pdc_ref next = pdc_call_opts(g_c, plus_one, &spread, PDC_REF(link));
        pdc_ref_release(g_c, link);
        link = next;
    }
    printf("submitted a chain of %ld tasks\n", chain);
    fflush(stdout);

    pdc_actor_opts forever = {.max_restarts = -1, .max_task_retries = -1};
    pdc_actor *a = pdc_actor_create(g_c, lib, "Ledger", &forever, PDC_STR(ledger), PDC_I64(marks));
    long right = 0;
    char first_bad[600] = "";
    for (long base = 0; a && base < marks; base += BATCH) {
        if (base && pace_ms > 0)
            usleep((useconds_t) pace_ms * 1000);
        pdc_ref refs[BATCH];
        long n = marks - base < BATCH ? marks - base : BATCH;
        for (long k = 0; k < n; k++)
            refs[k] = pdc_actor_call(g_c, a, "mark", PDC_I64(base + k));
        for (long k = 0; k < n; k++) {
            int64_t v = -1;
            int rc = pdc_get_i64(g_c, refs[k], &v, WAIT_MS);
            if (rc == PDC_OK && v == base + k)
                right++;
            else if (!*first_bad)
                snprintf(first_bad, sizeof first_bad, "mark(%ld): %s: %s", base + k,
                         pdc_status_name(rc), pdc_last_error(g_c));
            pdc_ref_release(g_c, refs[k]);
        }
    }
    char what[900];
    snprintf(what, sizeof what, "%ld of %ld marks answered with their index%s%s", right, marks,
             *first_bad ? "; first wrong: " : "", first_bad);
    s_check(a && right == marks, what, start);
    int64_t counted = -1;
    if (a) {
        pdc_ref r = pdc_actor_call(g_c, a, "marked");
        pdc_get_i64(g_c, r, &counted, WAIT_MS);
        pdc_ref_release(g_c, r);
    }
    snprintf(what, sizeof what, "the ledger counts %lld of %ld marks (each applied at least once)",
             (long long) counted, marks);
    s_check(counted == marks, what, start);

    pdc_object o;
    int rc = pdc_get(g_c, link, &o, WAIT_MS);
    long good = 0;
    unsigned char want = (unsigned char) (chain % 256);
    for (size_t i = 0; rc == PDC_OK && o.type == PDC_T_BYTES && i < o.size; i++)
        good += ((const unsigned char *) o.data)[i] == want;
    snprintf(what, sizeof what, "the chain of %ld tasks ends with %ld of %d bytes = %u (%s%s%s)",
             chain, good, CHAIN_SIZE, want, pdc_status_name(rc), rc ? ": " : "",
             rc ? pdc_last_error(g_c) : "");
    s_check(rc == PDC_OK && good == CHAIN_SIZE, what, start);
    pdc_object_release(g_c, &o);
    pdc_ref_release(g_c, link);

    if (a) {
        pdc_actor_kill(g_c, a);
        pdc_actor_release(g_c, a);
    }
    pdc_shutdown(&g_c);
    printf("chaos driver: %s\n", g_failed ? "FAILED" : "every check held");
    return g_failed ? 1 : 0;
}
