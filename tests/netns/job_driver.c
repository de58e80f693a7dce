/*  pdc-job-driver: the driver of the job tests (tests/netns/test_jobs.sh),
    run by pdc-submit on a node of a namespace cluster.

        pdc-job-driver --lib PATH --nodes A,B [--sleep-ms MS] [--exit N] [--hold]

    It joins the cluster as a job's driver does (PDC_ADDRESS and
    PDC_JOB_ID, set by the raylet that started it), says where it runs,
    and on each node named calls the say task (its worker prints a line,
    which the job's log shows prefixed by node and pid) and the node task
    with node affinity, from the library PATH, which is a path relative
    to the job's working directory: it reaches the other nodes as a code
    package.  Then it sleeps MS and exits with N.

    --hold instead keeps objects and actors of the job alive on every
    node named (a 1 MiB put on its own node, a 200 KiB task result and a
    Counter actor on each), prints "driver: holding" and then a line a
    second until it is stopped: what a stopped job leaves must be gone. */
#include <pdc.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_NODES 8
#define WAIT_MS   60000

static int s_fail(pdc_client *c, const char *what) {
    fprintf(stderr, "driver: %s: %s\n", what, pdc_last_error(c));
    return 1;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {{"lib", required_argument, 0, 'l'},
                                         {"nodes", required_argument, 0, 'n'},
                                         {"sleep-ms", required_argument, 0, 's'},
                                         {"exit", required_argument, 0, 'e'},
                                         {"hold", no_argument, 0, 'H'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *lib = NULL;
    char nodes_text[512] = "", *nodes[MAX_NODES];
    int nnodes = 0, exit_code = 0, hold = 0, sleep_ms = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            lib = optarg;
            break;
        case 'n':
            snprintf(nodes_text, sizeof nodes_text, "%s", optarg);
            break;
        case 's':
            sleep_ms = atoi(optarg);
            break;
        case 'e':
            exit_code = atoi(optarg);
            break;
        case 'H':
            hold = 1;
            break;
        case 'h':
            printf("Usage: pdc-job-driver --lib PATH --nodes A,B [--sleep-ms MS] [--exit N] "
                   "[--hold]\n(the driver of tests/netns/test_jobs.sh)\n");
            return 0;
        default:
            return 2;
        }
    }
    for (char *save = NULL, *id = strtok_r(nodes_text, ",", &save); id && nnodes < MAX_NODES;
         id = strtok_r(NULL, ",", &save))
        nodes[nnodes++] = id;
    if (!lib || !nnodes) {
        fprintf(stderr, "driver: --lib and --nodes are required\n");
        return 2;
    }
    pdc_client *cl = pdc_init(NULL);
    if (!cl)
        return s_fail(NULL, "pdc_init");
    char cwd[4096];
    printf("driver: job %s on node %s in %s\n", getenv("PDC_JOB_ID") ? getenv("PDC_JOB_ID") : "?",
           pdc_node_id(cl), getcwd(cwd, sizeof cwd) ? cwd : "?");
    pdc_fn say = pdc_function(cl, lib, "say"), node = pdc_function(cl, lib, "node");
    pdc_ref said[MAX_NODES], where[MAX_NODES];
    for (int i = 0; i < nnodes; i++) {
        pdc_opts on = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = nodes[i]};
        char text[128];
        snprintf(text, sizeof text, "worker says hello on %s", nodes[i]);
        said[i] = pdc_call_opts(cl, say, &on, PDC_STR(text));
        where[i] = pdc_call_opts(cl, node, &on);
    }
    for (int i = 0; i < nnodes; i++) {
        int64_t one;
        pdc_object obj;
        if (pdc_get_i64(cl, said[i], &one, WAIT_MS) || pdc_get(cl, where[i], &obj, WAIT_MS))
            return s_fail(cl, "a task on another node");
        printf("driver: say on %s ran on %.*s\n", nodes[i], (int) obj.size,
               (const char *) obj.data);
        pdc_object_release(cl, &obj);
    }
    if (hold) {
        char block[1 << 20];
        memset(block, 7, sizeof block);
        int status;
        pdc_ref put = pdc_put(cl, PDC_BYTES(block, sizeof block), &status);
        pdc_ref made[MAX_NODES];
        pdc_actor *actors[MAX_NODES];
        for (int i = 0; i < nnodes; i++) {
            pdc_opts on = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = nodes[i]};
            pdc_actor_opts aon = {.strategy = PDC_SCHED_NODE_AFFINITY, .node_id = nodes[i]};
            made[i] = pdc_call_opts(cl, pdc_function(cl, lib, "make_bytes"), &on,
                                    PDC_I64(200 * 1024), PDC_I64(i));
            actors[i] = pdc_actor_create(cl, lib, "Counter", &aon);
            pdc_object obj;
            if (!actors[i] || pdc_actor_ready(cl, actors[i], WAIT_MS) ||
                pdc_get(cl, made[i], &obj, WAIT_MS))
                return s_fail(cl, "holding objects and actors");
            pdc_object_release(cl, &obj);
        }
        (void) put;
        printf("driver: holding %d actors and %d objects\n", nnodes, nnodes + 1);
        for (;;) {
            sleep(1);
            printf("driver: still holding\n");
        }
    }
    if (sleep_ms > 0) {
        struct timespec ts = {sleep_ms / 1000, (long) (sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    printf("driver: exiting with %d\n", exit_code);
    pdc_shutdown(&cl);
    return exit_code;
}
