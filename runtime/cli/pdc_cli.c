/*  pdc: start, inspect and stop pdc nodes on this host.

        pdc start --head [--port 6380] [--node-ip-address IP] [--num-cpus N]
        pdc start --address tcp://HOST:6380 [--num-cpus N]
        pdc status [-v] [--address tcp://HOST:6380]
        pdc stop

    `pdc start` starts daemons in the background, detached from the
    terminal, each node in its own session directory under /tmp/pdc
    (PDC_SESSION_ROOT) named node-DATE-RAND, with its pid files, the path
    of its object store, the head's address and logs/.  --head starts a
    pdc-head listening on tcp://IP:PORT and a pdc-raylet for this host;
    --address starts only a raylet that joins an existing head.  It waits
    until the head lists the new node as alive, and otherwise stops what it
    started and says where the logs are.

    A head that listens on an address other than loopback would accept
    anyone who can reach it, and transport security (CURVE) is not built
    yet, so that needs --insecure.  Jobs (pdc-submit) run code too: the
    head takes them only from its own host unless started with
    --insecure-jobs (pdc start --head --insecure-jobs), which `pdc start`
    warns of and `pdc status` shows.

    The head keeps its tables (nodes, actor names, code packages, jobs)
    in SESSION/head.db (pdc_head_db.h).  `pdc start --head` on an address
    whose session is still here but whose head is gone (killed, crashed)
    restarts the head in that session instead of making a new one: it
    reads its tables back, the node's raylet (if it still runs; else it is
    started again, with an empty store) and those of the other nodes
    heartbeat to it again, and work goes on.  `pdc stop` removes the
    session and so the tables.

    `pdc status` asks the head for its nodes (and local raylets for their
    workers and store), `pdc stop` stops every node `pdc start` started on
    this host.  Programs join with pdc_init("tcp://HOST:6380") or
    PDC_ADDRESS.
*/
#include "pdc.h"
#include "pdc_actor_row.h"
#include "pdc_config.h"
#include "pdc_id.h"
#include "pdc_job.h"
#include "pdc_resources.h"
#include "pdc_session.h"
#include "pdc_store.h"
#include "pdc_wire.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT 6380

static void s_usage(FILE *out) {
    fprintf(out,
            "Usage: pdc COMMAND [options]\n"
            "Start, inspect and stop pdc nodes on this host.\n\n"
            "  pdc start --head [--port PORT] [--node-ip-address IP] [--num-cpus N]\n"
            "            [--resources GPU=1,edge=1] [--labels tier=cloud,zone=a] [--insecure]\n"
            "            [--insecure-jobs]\n"
            "      start a head (listening on tcp://IP:PORT, default 127.0.0.1:%d) and a node\n"
            "  pdc start --address tcp://HOST:PORT [--node-ip-address IP] [--num-cpus N]\n"
            "            [--resources ...] [--labels ...] [--insecure]\n"
            "      start a node that joins the head at that address; it listens for other\n"
            "      nodes on IP (default: the address this host reaches the head from)\n"
            "  pdc status [-v] [--address tcp://HOST:PORT]\n"
            "      nodes alive and dead with their resources, the actors (state, node,\n"
            "      restarts) and the jobs; -v adds each\n"
            "      node's workers and object store, and every setting with its value\n"
            "  pdc stop\n"
            "      stop every node started with pdc start on this host\n\n"
            "Options of start:\n"
            "  --set NAME=VALUE     any setting (see pdc status -v), passed to the daemons\n"
            "  --insecure           allow listening on a non-loopback address without CURVE\n"
            "  --insecure-jobs      the head takes jobs (pdc-submit) from any host, not only\n"
            "                       from its own: anyone who reaches it can run code\n"
            "  --spill-dir DIR      where the node's objects go when its store is full (a\n"
            "                       disk; default PDC_SPILL_DIR, else spill/ in its session)\n"
            "Environment: PDC_NUM_CPUS, PDC_RESOURCES, PDC_LABELS, PDC_NODE_IP_ADDRESS give the\n"
            "defaults of --num-cpus, --resources, --labels and --node-ip-address.\n"
            "Programs join a started cluster with pdc_init(\"tcp://HOST:PORT\") or PDC_ADDRESS.\n",
            DEFAULT_PORT);
}

/* ---- Talking to a daemon ------------------------------------------------ */

/* Send enc to endpoint and wait for one reply into *in.  1 on a reply, 0
   on timeout or failure (in is then not to be closed). */
static int s_request(const char *endpoint, pdc_enc_t *enc, pdc_inbound_t *in, int64_t timeout_ms) {
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return 0;
    pdc_wire_tune(zsock_resolve(sock), 0);
    zsock_connect(sock, "%s", endpoint);
    pdc_wire_send(zsock_resolve(sock), NULL, 0, enc, NULL, 0);
    zmq_pollitem_t item = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
    int got =
        zmq_poll(&item, 1, (long) timeout_ms) == 1 && pdc_wire_recv(zsock_resolve(sock), 0, in) > 0;
    zsock_destroy(&sock);
    return got;
}

typedef struct {
    char id[64], endpoint[PATH_MAX];
    int alive;
    double cpu_total, cpu_available;
    char others[256]; /* the other resources: NAME free/total, ... */
    char labels[256];
} node_info_t;

/* The CPU amount of a validated {} map (0 if it has none). */
static double s_cpus(const msgpack_object *map) {
    for (uint32_t r = 0; r < pdc_f_count(map); r++) {
        char name[32];
        pdc_f_cstr(&map->via.map.ptr[r].key, name, sizeof name);
        if (!strcmp(name, "CPU"))
            return pdc_f_f(&map->via.map.ptr[r].val);
    }
    return 0;
}

/* The head's node table; returns the count, or -1 if it did not answer. */
static int s_nodes(const char *head, node_info_t *nodes, int max, int64_t timeout_ms) {
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    pdc_enc_begin(&enc, PDC_MSG_NODES, 1);
    pdc_inbound_t in;
    int n = -1;
    if (s_request(head, &enc, &in, timeout_ms)) {
        if (in.msg.type == PDC_MSG_NODES_REPLY) {
            const msgpack_object *list = &in.msg.fields[PDC_NODES_REPLY_NODES];
            n = 0;
            for (uint32_t i = 0; i < pdc_f_count(list) && n < max; i++, n++) {
                const msgpack_object *row = pdc_f_at(list, i);
                node_info_t *node = &nodes[n];
                memset(node, 0, sizeof *node);
                pdc_f_cstr(pdc_f_at(row, PDC_NODE_ROW_ID), node->id, sizeof node->id);
                pdc_f_cstr(pdc_f_at(row, PDC_NODE_ROW_ENDPOINT), node->endpoint,
                           sizeof node->endpoint);
                node->alive = (int) pdc_f_u(pdc_f_at(row, PDC_NODE_ROW_ALIVE));
                node->cpu_total = s_cpus(pdc_f_at(row, PDC_NODE_ROW_TOTAL));
                node->cpu_available = s_cpus(pdc_f_at(row, PDC_NODE_ROW_AVAILABLE));
                pdc_f_cstr(pdc_f_at(row, PDC_NODE_ROW_LABELS), node->labels, sizeof node->labels);
                pdc_resources_t total, free_now;
                pdc_resources_decode(pdc_f_at(row, PDC_NODE_ROW_TOTAL), &total);
                pdc_resources_decode(pdc_f_at(row, PDC_NODE_ROW_AVAILABLE), &free_now);
                size_t at = 0;
                for (int r = 0; r < total.n && at < sizeof node->others; r++)
                    at += (size_t) snprintf(node->others + at, sizeof node->others - at,
                                            "  %s %g of %g free", total.name[r],
                                            pdc_resources_get(&free_now, total.name[r]),
                                            total.amount[r]);
            }
        }
        pdc_inbound_close(&in);
    }
    pdc_enc_free(&enc);
    return n;
}

/* A daemon's STATUS rows: up to max names and values; the count, or -1
   if it did not answer. */
static int s_status(const char *endpoint, char names[][64], double *values, int max,
                    int64_t timeout_ms) {
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    pdc_enc_begin(&enc, PDC_MSG_STATUS, 1);
    pdc_inbound_t in;
    int n = -1;
    if (s_request(endpoint, &enc, &in, timeout_ms)) {
        if (in.msg.type == PDC_MSG_STATUS_REPLY) {
            const msgpack_object *rows = &in.msg.fields[PDC_STATUS_REPLY_STATS];
            for (n = 0; n < (int) pdc_f_count(rows) && n < max; n++) {
                const msgpack_object *row = pdc_f_at(rows, (uint32_t) n);
                pdc_f_cstr(pdc_f_at(row, PDC_STAT_NAME), names[n], sizeof names[n]);
                values[n] = pdc_f_f(pdc_f_at(row, PDC_STAT_VALUE));
            }
        }
        pdc_inbound_close(&in);
    }
    pdc_enc_free(&enc);
    return n;
}

/* One STATUS row's value, or -1 if there is no answer or no such row. */
static double s_status_value(const char *endpoint, const char *row, int64_t timeout_ms) {
    char names[64][64];
    double values[64];
    int n = s_status(endpoint, names, values, 64, timeout_ms);
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], row))
            return values[i];
    return -1;
}

/* ---- Sessions started by pdc start ------------------------------------- */

typedef void (*session_fn)(const char *dir, void *arg);

/* Call fn for every node session on this host, newest name last. */
static int s_each_session(session_fn fn, void *arg) {
    struct dirent **entries;
    int n = scandir(pdc_session_root(), &entries, NULL, alphasort);
    int count = 0;
    for (int i = 0; i < n; i++) {
        if (!strncmp(entries[i]->d_name, "node-", 5)) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof dir, "%s/%s", pdc_session_root(), entries[i]->d_name);
            fn(dir, arg);
            count++;
        }
        free(entries[i]);
    }
    if (n >= 0)
        free(entries);
    return count;
}

static void s_latest_address(const char *dir, void *arg) {
    pdc_session_read(dir, "address", arg, PATH_MAX);
}

/* --address, else PDC_ADDRESS, else the head of the newest node started
   here.  0 or -1 with a message. */
static int s_resolve_address(const char *given, char *out) {
    const char *env = getenv("PDC_ADDRESS");
    out[0] = '\0';
    if (given && *given)
        snprintf(out, PATH_MAX, "%s", given);
    else if (env && *env)
        snprintf(out, PATH_MAX, "%s", env);
    else
        s_each_session(s_latest_address, out);
    if (*out)
        return 0;
    fprintf(stderr, "pdc: no cluster address: pass --address, set PDC_ADDRESS, or pdc start one\n");
    return -1;
}

static void s_stop_session(const char *dir, void *arg) {
    int64_t timeout_ms = *(int64_t *) arg;
    static const char *pidfiles[] = {"raylet.pid", "head.pid"};
    char text[PATH_MAX];
    for (int i = 0; i < 2; i++)
        if (!pdc_session_read(dir, pidfiles[i], text, sizeof text)) {
            pid_t pid = (pid_t) atoi(text);
            if (pdc_session_alive(pid) && pdc_session_is_pdc(pid))
                pdc_session_stop(pid, timeout_ms);
        }
    if (!pdc_session_read(dir, "store.path", text, sizeof text) &&
        !strncmp(text, "/dev/shm/pdc-", 13))
        pdc_store_remove_dir(text);
    pdc_session_remove(dir);
}

typedef struct {
    const char *address;
    char dir[PATH_MAX];
} head_session_t;

static void s_match_head(const char *dir, void *arg) {
    head_session_t *want = arg;
    char address[PATH_MAX], pid[32];
    if (!pdc_session_read(dir, "head.pid", pid, sizeof pid) &&
        !pdc_session_read(dir, "address", address, sizeof address) &&
        !strcmp(address, want->address))
        snprintf(want->dir, sizeof want->dir, "%s", dir); /* the newest wins */
}

/* The session of the head at address started here before, or "". */
static void s_head_session(const char *address, char *dir, size_t len) {
    head_session_t want = {address, ""};
    s_each_session(s_match_head, &want);
    snprintf(dir, len, "%s", want.dir);
}

/* Whether pid has exited and waits for its parent to reap it. */
static int s_zombie(pid_t pid) {
    char path[64], stat[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(stat, sizeof stat, f))
            stat[0] = '\0';
        fclose(f);
    }
    const char *end = strrchr(stat, ')'); /* after the command, which may hold spaces */
    return end && end[1] == ' ' && end[2] == 'Z';
}

/* The pid in dir/name if that process runs one of pdc's daemons, else 0. */
static pid_t s_running(const char *dir, const char *name) {
    char text[32];
    if (pdc_session_read(dir, name, text, sizeof text))
        return 0;
    pid_t pid = (pid_t) atoi(text);
    return pid > 0 && pdc_session_alive(pid) && pdc_session_is_pdc(pid) && !s_zombie(pid) ? pid : 0;
}

/* ---- Commands ------------------------------------------------------------ */

/* The address this host uses to reach the head at tcp://HOST:PORT (a UDP
   socket's local address after connect; nothing is sent), or NULL. */
static const char *s_route_ip(const char *address, char *out, size_t len) {
    char host[256];
    if (strncmp(address, "tcp://", 6))
        return NULL;
    snprintf(host, sizeof host, "%s", address + 6);
    char *colon = strrchr(host, ':');
    if (!colon)
        return NULL;
    *colon = '\0';
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1)
        return NULL;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in me;
    socklen_t mlen = sizeof me;
    const char *ip = NULL;
    if (fd >= 0 && connect(fd, (struct sockaddr *) &to, sizeof to) == 0 &&
        getsockname(fd, (struct sockaddr *) &me, &mlen) == 0)
        ip = inet_ntop(AF_INET, &me.sin_addr, out, (socklen_t) len);
    if (fd >= 0)
        close(fd);
    return ip;
}

static int s_is_loopback(const char *ip) {
    struct in_addr a;
    return inet_pton(AF_INET, ip, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static int s_cmd_start(int argc, char **argv, const pdc_config_t *cfg) {
    static const struct option opts[] = {{"head", no_argument, 0, 'H'},
                                         {"address", required_argument, 0, 'a'},
                                         {"port", required_argument, 0, 'p'},
                                         {"node-ip-address", required_argument, 0, 'i'},
                                         {"num-cpus", required_argument, 0, 'c'},
                                         {"resources", required_argument, 0, 'r'},
                                         {"labels", required_argument, 0, 'l'},
                                         {"set", required_argument, 0, 'x'},
                                         {"insecure", no_argument, 0, 'I'},
                                         {"insecure-jobs", no_argument, 0, 'J'},
                                         {"spill-dir", required_argument, 0, 'D'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int head = 0, insecure = 0, insecure_jobs = 0, c, port = DEFAULT_PORT;
    const char *address = NULL, *ip = getenv("PDC_NODE_IP_ADDRESS"), *num_cpus = NULL,
               *resources = NULL, *labels = getenv("PDC_LABELS"), *spill_dir = NULL;
    char *sets[32];
    int nsets = 0;
    pid_t head_pid = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            head = 1;
            break;
        case 'a':
            address = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'i':
            ip = optarg;
            break;
        case 'c':
            num_cpus = optarg;
            break;
        case 'r':
            resources = optarg;
            break;
        case 'l':
            labels = optarg;
            break;
        case 'I':
            insecure = 1;
            break;
        case 'J':
            insecure_jobs = 1;
            break;
        case 'D':
            spill_dir = optarg;
            break;
        case 'x': {
            /* Refuse a bad setting here, not in a daemon started in the
               background. */
            pdc_config_t check = *cfg;
            char err[256];
            if (pdc_config_set(&check, optarg, err, sizeof err)) {
                fprintf(stderr, "pdc start: --set %s\n", err);
                return 2;
            }
            if (nsets == (int) (sizeof sets / sizeof *sets)) {
                fprintf(stderr, "pdc start: at most %d --set flags\n", nsets);
                return 2;
            }
            sets[nsets++] = optarg;
            break;
        }
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (head == !!address) {
        fprintf(stderr, "pdc start: give either --head or --address tcp://HOST:PORT\n");
        return 2;
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "pdc start: --port must be 1..65535\n");
        return 2;
    }
    char route_ip[64];
    if (!ip || !*ip)
        ip = head ? "127.0.0.1" : s_route_ip(address, route_ip, sizeof route_ip);
    if (!ip) {
        fprintf(stderr,
                "pdc start: cannot tell this host's address towards %s; pass --node-ip-address\n",
                address);
        return 2;
    }
    if (!s_is_loopback(ip) && !insecure) {
        fprintf(stderr,
                "pdc start: refusing to listen on %s without transport security (CURVE is not\n"
                "built yet): anyone who can reach it could run code.  Pass --insecure to do it\n"
                "anyway, on a network you trust.\n",
                ip);
        return 2;
    }
    char bin[PATH_MAX];
    if (pdc_bin_dir(bin, sizeof bin)) {
        fprintf(stderr,
                "pdc start: cannot find pdc-head, pdc-raylet and pdc-worker (%s); set "
                "PDC_BIN_DIR\n",
                bin);
        return 1;
    }
    char head_ep[PATH_MAX];
    if (head)
        snprintf(head_ep, sizeof head_ep, "tcp://%s:%d", ip, port);
    else
        snprintf(head_ep, sizeof head_ep, "%s", address);

    /* The node's session directory: a new one, or the one of a head at
       this address that is gone (a restart). */
    mkdir(pdc_session_root(), 0777);
    char stamp[32], node[13], dir[PATH_MAX], logs[PATH_MAX + 8], store[PATH_MAX];
    char db[PATH_MAX + 16];
    int restart = 0, start_raylet = 1;
    if (head)
        s_head_session(head_ep, dir, sizeof dir);
    if (head && *dir && !s_running(dir, "head.pid")) {
        /* (With that head still running, a new session is made and its
           head finds the port taken, as for any other process there.) */
        restart = 1;
        snprintf(node, sizeof node, "%s", strrchr(dir, '-') + 1);
        if (pdc_session_read(dir, "store.path", store, sizeof store))
            snprintf(store, sizeof store, "/dev/shm/pdc-%s", node);
        start_raylet = !s_running(dir, "raylet.pid");
        if (start_raylet && !strncmp(store, "/dev/shm/pdc-", 13))
            pdc_store_remove_dir(store); /* a dead raylet's objects are gone */
    } else {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        pdc_random_hex(node, 12);
        snprintf(dir, sizeof dir, "%s/node-%s-%s", pdc_session_root(), stamp, node);
        snprintf(store, sizeof store, "/dev/shm/pdc-%s", node);
    }
    snprintf(logs, sizeof logs, "%s/logs", dir);
    snprintf(db, sizeof db, "%s/head.db", dir);
    if (!restart && (mkdir(dir, 0700) || mkdir(logs, 0700))) {
        fprintf(stderr, "pdc start: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    pdc_session_write(dir, "address", head_ep);
    pdc_session_write(dir, "store.path", store);

    char head_bin[PATH_MAX + 16], raylet_bin[PATH_MAX + 16], raylet_ep[PATH_MAX + 32];
    char head_log[PATH_MAX + 16], raylet_log[PATH_MAX + 16], pid[32];
    snprintf(head_bin, sizeof head_bin, "%s/pdc-head", bin);
    snprintf(raylet_bin, sizeof raylet_bin, "%s/pdc-raylet", bin);
    snprintf(raylet_ep, sizeof raylet_ep, "ipc://%s/raylet.sock", dir);
    snprintf(head_log, sizeof head_log, "%s/head.log", logs);
    snprintf(raylet_log, sizeof raylet_log, "%s/raylet.log", logs);

    char *args[128]; /* the fixed flags, and up to 32 --set pairs */
    int n = 0;
    if (head) {
        args[n++] = head_bin;
        args[n++] = "--endpoint";
        args[n++] = head_ep;
        args[n++] = "--db";
        args[n++] = db;
        for (int i = 0; i < nsets; i++)
            args[n++] = "--set", args[n++] = sets[i];
        if (insecure_jobs) {
            args[n++] = "--insecure-jobs";
            fprintf(stderr,
                    "pdc start: warning: --insecure-jobs: any host that reaches %s can "
                    "submit jobs, which run code as this user\n",
                    head_ep);
        }
        args[n] = NULL;
        head_pid = pdc_session_spawn(args, head_log, 1);
        snprintf(pid, sizeof pid, "%d\n", (int) head_pid);
        pdc_session_write(dir, "head.pid", pid);
    }
    if (start_raylet) {
        n = 0;
        args[n++] = raylet_bin;
        args[n++] = "--endpoint", args[n++] = raylet_ep;
        args[n++] = "--head", args[n++] = head_ep;
        args[n++] = "--store-dir", args[n++] = store;
        args[n++] = "--session", args[n++] = dir;
        args[n++] = "--node-id", args[n++] = node;
        args[n++] = "--node-ip-address", args[n++] = (char *) ip;
        if (num_cpus)
            args[n++] = "--num-cpus", args[n++] = (char *) num_cpus;
        if (resources)
            args[n++] = "--resources", args[n++] = (char *) resources;
        if (labels)
            args[n++] = "--labels", args[n++] = (char *) labels;
        if (spill_dir)
            args[n++] = "--spill-dir", args[n++] = (char *) spill_dir;
        for (int i = 0; i < nsets; i++)
            args[n++] = "--set", args[n++] = sets[i];
        args[n] = NULL;
        pid_t p = pdc_session_spawn(args, raylet_log, 1);
        snprintf(pid, sizeof pid, "%d\n", (int) p);
        pdc_session_write(dir, "raylet.pid", pid);
    }

    /* Started means: the head lists this node as alive (and, for --head,
       the head answering is the one we started). */
    node_info_t nodes[256];
    for (int64_t waited = 0; waited < cfg->connect_timeout_ms; waited += 50) {
        /* A head that could not bind its port exits, and another head
           there would answer in its place: make sure it is ours. */
        if (head && (!pdc_session_alive(head_pid) ||
                     (s_status_value(head_ep, "pid", 200) >= 0 &&
                      s_status_value(head_ep, "pid", 200) != (double) head_pid))) {
            fprintf(stderr, "pdc start: the head exited (is port %d taken?); see %s/head.log\n",
                    port, logs);
            break;
        }
        int count = s_nodes(head_ep, nodes, 256, 200);
        for (int i = 0; i < count; i++)
            if (!strcmp(nodes[i].id, node) && nodes[i].alive) {
                printf("%s %s%s (node %s, %.0f CPU); logs in %s\n"
                       "join it with pdc_init(\"%s\") or PDC_ADDRESS=%s; stop with pdc stop\n",
                       restart ? "restarted" : "started",
                       head ? "a head at " : "a node of the head at ", head_ep, node,
                       nodes[i].cpu_total, logs, head_ep, head_ep);
                if (restart)
                    printf("the head read its tables back from %s%s\n", db,
                           start_raylet ? "; this node's raylet was gone and started again" : "");
                return 0;
            }
        usleep(50000);
    }
    fprintf(stderr, "pdc start: the node did not come up; its logs are in %s\n", logs);
    int64_t timeout = cfg->shutdown_timeout_ms;
    static const char *pidfiles[] = {"raylet.pid", "head.pid"};
    char text[64];
    for (int i = start_raylet ? 0 : 1; i < 2; i++) /* what this call started */
        if (!pdc_session_read(dir, pidfiles[i], text, sizeof text))
            pdc_session_stop(atoi(text), timeout);
    if (start_raylet)
        pdc_store_remove_dir(store);
    return 1;
}

/* The head's job table, and whether it takes jobs from other hosts. */
static void s_print_jobs(const char *head, int64_t timeout_ms) {
    char names[16][64];
    double values[16];
    int rows = s_status(head, names, values, 16, timeout_ms);
    for (int r = 0; r < rows; r++)
        if (!strcmp(names[r], "insecure_jobs") && values[r] > 0)
            printf("WARNING: the head runs with --insecure-jobs: any host that reaches it can "
                   "submit jobs\n");
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    pdc_enc_begin(&enc, PDC_MSG_JOB_LIST, 1);
    pdc_enc_s(&enc, "");
    pdc_inbound_t in;
    if (s_request(head, &enc, &in, timeout_ms)) {
        if (in.msg.type == PDC_MSG_JOB_TABLE) {
            const msgpack_object *list = &in.msg.fields[PDC_JOB_TABLE_JOBS];
            int n = (int) pdc_f_count(list), counts[5] = {0};
            pdc_job_row_t *jobs = calloc((size_t) n + 1, sizeof *jobs);
            for (int i = 0; jobs && i < n; i++) {
                pdc_job_row_read(pdc_f_at(list, (uint32_t) i), &jobs[i]);
                if ((unsigned) jobs[i].state < 5)
                    counts[jobs[i].state]++;
            }
            printf("jobs: %d running, %d pending, %d ended\n", counts[PDC_JOB_RUNNING],
                   counts[PDC_JOB_PENDING], n - counts[PDC_JOB_RUNNING] - counts[PDC_JOB_PENDING]);
            if (jobs && n)
                pdc_job_rows_print(stdout, jobs, n);
            free(jobs);
        }
        pdc_inbound_close(&in);
    }
    pdc_enc_free(&enc);
}

/* The head's actor table: every actor with its state, node and restarts
   (dead ones too, actor_history at most). */
static void s_print_actors(const char *head, int64_t timeout_ms) {
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    pdc_enc_begin(&enc, PDC_MSG_ACTOR_LIST, 1);
    pdc_inbound_t in;
    if (s_request(head, &enc, &in, timeout_ms)) {
        if (in.msg.type == PDC_MSG_ACTOR_TABLE) {
            const msgpack_object *list = &in.msg.fields[PDC_ACTOR_TABLE_ACTORS];
            int n = (int) pdc_f_count(list), counts[PDC_ACTOR_DEAD + 1] = {0};
            pdc_actor_row_t *actors = calloc((size_t) n + 1, sizeof *actors);
            for (int i = 0; actors && i < n; i++) {
                pdc_actor_row_read(pdc_f_at(list, (uint32_t) i), &actors[i]);
                counts[actors[i].state]++;
            }
            printf("actors: %d alive, %d pending, %d restarting, %d dead\n",
                   counts[PDC_ACTOR_ALIVE], counts[PDC_ACTOR_PENDING], counts[PDC_ACTOR_RESTARTING],
                   counts[PDC_ACTOR_DEAD]);
            if (actors && n)
                pdc_actor_rows_print(stdout, actors, n);
            free(actors);
        }
        pdc_inbound_close(&in);
    }
    pdc_enc_free(&enc);
}

static int s_cmd_status(int argc, char **argv, const pdc_config_t *cfg) {
    static const struct option opts[] = {{"address", required_argument, 0, 'a'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *given = NULL;
    int verbose = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            given = optarg;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    char address[PATH_MAX];
    if (s_resolve_address(given, address))
        return 1;
    static node_info_t nodes[1024];
    int n = s_nodes(address, nodes, 1024, cfg->connect_timeout_ms);
    if (n < 0) {
        fprintf(stderr, "pdc status: the head at %s did not answer within %lld ms\n", address,
                (long long) cfg->connect_timeout_ms);
        return 1;
    }
    int alive = 0;
    for (int i = 0; i < n; i++)
        alive += nodes[i].alive;
    printf("cluster at %s: %d node%s alive, %d dead\n", address, alive, alive == 1 ? "" : "s",
           n - alive);
    double totals[3] = {0}; /* actors, queued, infeasible */
    for (int i = 0; i < n; i++) {
        printf("  node %-14s %-5s CPU %g of %g free%s   %s%s%s\n", nodes[i].id,
               nodes[i].alive ? "alive" : "dead", nodes[i].cpu_available, nodes[i].cpu_total,
               nodes[i].others, nodes[i].endpoint, *nodes[i].labels ? "   labels " : "",
               nodes[i].labels);
        if (!nodes[i].alive)
            continue;
        /* What the node's raylet says of its store, actors and demands. */
        char names[64][64];
        double values[64];
        int rows = s_status(nodes[i].endpoint, names, values, 64, 1000);
        double v[8] = {0};
        static const char *wanted[] = {"store_used",
                                       "store_capacity",
                                       "actors",
                                       "lease_requests_queued",
                                       "lease_requests_infeasible",
                                       "store_objects",
                                       "spilled_bytes",
                                       "spilled_objects"};
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < 8; k++)
                if (!strcmp(names[r], wanted[k]))
                    v[k] = values[r];
        if (rows < 0) {
            printf("      (its raylet did not answer)\n");
            continue;
        }
        printf(
            "      store %.1f of %.0f MiB (%.0f objects), %.0f actors, %.0f lease requests queued, "
            "%.0f infeasible; spilled %.1f MiB in %.0f files\n",
            v[0] / 1048576.0, v[1] / 1048576.0, v[5], v[2], v[3], v[4], v[6] / 1048576.0, v[7]);
        totals[0] += v[2], totals[1] += v[3], totals[2] += v[4];
        for (int r = 0; verbose && r < rows; r++)
            printf("      %-22s %.0f\n", names[r], values[r]);
    }
    printf("demands: %.0f lease requests queued, %.0f infeasible (waiting for a node that can run "
           "them); %.0f actors\n",
           totals[1], totals[2], totals[0]);
    s_print_actors(address, cfg->connect_timeout_ms);
    s_print_jobs(address, cfg->connect_timeout_ms);
    if (verbose) {
        printf("settings:\n");
        pdc_config_print(cfg, stdout);
    }
    return 0;
}

static int s_cmd_stop(const pdc_config_t *cfg) {
    int64_t timeout = cfg->shutdown_timeout_ms;
    int n = s_each_session(s_stop_session, &timeout);
    printf("stopped %d node%s\n", n, n == 1 ? "" : "s");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    pdc_config_t cfg;
    if (pdc_config_load(&cfg))
        return 2;
    zsys_handler_set(NULL);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "start"))
        return s_cmd_start(argc - 1, argv + 1, &cfg);
    if (!strcmp(cmd, "status"))
        return s_cmd_status(argc - 1, argv + 1, &cfg);
    if (!strcmp(cmd, "stop"))
        return s_cmd_stop(&cfg);
    fprintf(stderr, "pdc: unknown command '%s'\n", cmd);
    s_usage(stderr);
    return 2;
}
