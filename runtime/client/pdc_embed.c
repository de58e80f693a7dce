/*  pdc_embed: pdc_init and pdc_shutdown, and the embedded local cluster.

    pdc_init(NULL) with PDC_ADDRESS unset starts a private cluster, as
    ray.init() does: a session directory /tmp/pdc/session-DATE-PID-RAND
    (PDC_SESSION_ROOT overrides /tmp/pdc) holding the sockets, pid files
    and logs; a pdc-head and a pdc-raylet started as children of the
    driver; and the raylet's object store in /dev/shm/pdc-CLUSTER-NODE.
    The daemons are told the driver's pid and stop by themselves if the
    driver dies (they also get SIGTERM through PR_SET_PDEATHSIG), and the
    raylet's workers die with the raylet.  pdc_shutdown stops them with
    SIGTERM (SIGKILL after shutdown_timeout_ms) and removes the session
    directory and the store.

    A driver killed with SIGKILL cannot clean up; the daemons notice and
    stop, and the next pdc_init(NULL) also sweeps every session whose
    driver is gone: it kills daemons still listed in its pid files and
    removes its store and directory.

    The daemons are found by pdc_bin_dir, in this order: PDC_BIN_DIR
    when it is set (taken as it is); the directory of the file libpdc's
    code was loaded from (libpdc.so in the build tree; the program itself
    for the daemons and the pdc CLI, which link the runtime statically and
    sit in bindir); that directory plus bindir relative to libdir, both
    fixed at build time (an installed libpdc.so, also after its prefix was
    moved or staged with DESTDIR); the configured bindir.  The first that
    holds pdc-head, pdc-raylet and pdc-worker wins.
*/
#include "pdc_client_internal.h"
#include "pdc_job.h"

#include "pdc_id.h"
#include "pdc_install_paths.h"
#include "pdc_log.h"
#include "pdc_session.h"
#include "pdc_wire.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <ifaddrs.h>
#include <link.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Which loaded object holds an address: the one whose PT_LOAD segments
   cover it (dladdr names the main program by argv[0], which may be
   relative to a PATH entry, so the program is read from /proc/self/exe). */
typedef struct {
    uintptr_t addr;
    const char *name; /* "" for the main program */
} s_code_probe_t;

static int s_code_probe(struct dl_phdr_info *info, size_t size, void *arg) {
    (void) size;
    s_code_probe_t *p = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = (uintptr_t) info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && p->addr >= start && p->addr < start + ph->p_memsz) {
            p->name = info->dlpi_name ? info->dlpi_name : "";
            return 1;
        }
    }
    return 0;
}

/* The directory of the file this code was loaded from, or -1. */
static int s_code_dir(char *out) {
    s_code_probe_t probe = {(uintptr_t) &s_code_dir, NULL};
    if (!dl_iterate_phdr(s_code_probe, &probe) || !probe.name)
        return -1;
    if (!realpath(*probe.name ? probe.name : "/proc/self/exe", out))
        return -1;
    char *slash = strrchr(out, '/');
    if (!slash)
        return -1;
    if (slash == out)
        slash[1] = '\0'; /* a program in / */
    else
        *slash = '\0';
    return 0;
}

static int s_holds_daemons(const char *dir) {
    static const char *names[] = {"pdc-head", "pdc-raylet", "pdc-worker"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (access(path, X_OK))
            return 0;
    }
    return 1;
}

int pdc_bin_dir(char *out, size_t len) {
    const char *env = getenv("PDC_BIN_DIR");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return 0;
    }
    enum { S_PLACES = 3 };
    char places[S_PLACES][2 * PATH_MAX];
    int n = 0;
    char code[PATH_MAX];
    if (s_code_dir(code) == 0) {
        snprintf(places[n++], sizeof places[0], "%s", code);
        if (*PDC_BINDIR_FROM_LIBDIR)
            snprintf(places[n++], sizeof places[0], "%s/%s", code, PDC_BINDIR_FROM_LIBDIR);
    }
    snprintf(places[n++], sizeof places[0], "%s", PDC_INSTALL_BINDIR);
    for (int i = 0; i < n; i++) {
        char real[PATH_MAX];
        if (s_holds_daemons(places[i]) && realpath(places[i], real)) {
            snprintf(out, len, "%s", real);
            return 0;
        }
    }
    /* None: out names every place looked in, for the caller's message. */
    size_t used = (size_t) snprintf(out, len, "PDC_BIN_DIR is unset; looked in");
    for (int i = 0; i < n && used < len; i++)
        used += (size_t) snprintf(out + used, len - used, "%s %s", i ? "," : "", places[i]);
    return -1;
}

void pdc_embed_clean_stale(void) {
    DIR *d = opendir(pdc_session_root());
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "session-", 8))
            continue;
        char dir[PATH_MAX], text[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", pdc_session_root(), e->d_name);
        if (pdc_session_read(dir, "owner.pid", text, sizeof text))
            continue;
        if (pdc_session_alive((pid_t) atoi(text)))
            continue;
        static const char *pidfiles[] = {"raylet.pid", "head.pid"};
        for (int i = 0; i < 2; i++)
            if (!pdc_session_read(dir, pidfiles[i], text, sizeof text)) {
                pid_t pid = (pid_t) atoi(text);
                if (pdc_session_alive(pid) && pdc_session_is_pdc(pid))
                    kill(pid, SIGKILL);
            }
        if (!pdc_session_read(dir, "store.path", text, sizeof text) &&
            !strncmp(text, "/dev/shm/pdc-", 13))
            pdc_store_remove_dir(text);
        pdc_session_remove(dir);
        pdc_log(PDC_LOG_INFO, "removed the session %s left by a dead driver", dir);
    }
    closedir(d);
}

int pdc_embed_start(pdc_client *unused, char *raylet_ep, size_t len, char *session,
                    size_t session_len, pid_t *head_pid, pid_t *raylet_pid, char *store_path,
                    size_t store_len) {
    (void) unused;
    char bin[PATH_MAX];
    if (pdc_bin_dir(bin, sizeof bin)) {
        fprintf(stderr,
                "pdc: cannot find pdc-head, pdc-raylet and pdc-worker (%s); set PDC_BIN_DIR to "
                "the directory that holds them\n",
                bin);
        return PDC_ECONNECT;
    }
    mkdir(pdc_session_root(), 0777);
    char stamp[32], rnd[9], cluster[9];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    pdc_random_hex(rnd, 4);
    pdc_random_hex(cluster, 8);
    snprintf(session, session_len, "%s/session-%s-%d-%s", pdc_session_root(), stamp, (int) getpid(),
             rnd);
    char logs[PATH_MAX + 8];
    snprintf(logs, sizeof logs, "%s/logs", session);
    if (mkdir(session, 0700) || mkdir(logs, 0700)) {
        fprintf(stderr, "pdc: cannot create the session directory %s: %s\n", session,
                strerror(errno));
        return PDC_ECONNECT;
    }
    snprintf(store_path, store_len, "/dev/shm/pdc-%s-node0", cluster);
    char pid[32];
    snprintf(pid, sizeof pid, "%d\n", (int) getpid());
    pdc_session_write(session, "owner.pid", pid);
    pdc_session_write(session, "store.path", store_path);

    char head_bin[PATH_MAX + 16], raylet_bin[PATH_MAX + 16], head_ep[PATH_MAX + 16];
    char head_log[PATH_MAX + 16], raylet_log[PATH_MAX + 16];
    snprintf(head_bin, sizeof head_bin, "%s/pdc-head", bin);
    snprintf(raylet_bin, sizeof raylet_bin, "%s/pdc-raylet", bin);
    snprintf(head_ep, sizeof head_ep, "ipc://%s/head.sock", session);
    snprintf(raylet_ep, len, "ipc://%s/raylet.sock", session);
    snprintf(head_log, sizeof head_log, "%s/head.log", logs);
    snprintf(raylet_log, sizeof raylet_log, "%s/raylet.log", logs);
    char owner[16];
    snprintf(owner, sizeof owner, "%d", (int) getpid());

    char *head_argv[] = {head_bin, "--endpoint", head_ep, "--owner-pid", owner, NULL};
    char *raylet_argv[] = {raylet_bin,    "--endpoint",  raylet_ep,   "--head", head_ep,
                           "--store-dir", store_path,    "--session", session,  "--node-id",
                           "node0",       "--owner-pid", owner,       NULL};
    *head_pid = pdc_session_spawn(head_argv, head_log, 0);
    *raylet_pid = pdc_session_spawn(raylet_argv, raylet_log, 0);
    if (*head_pid < 0 || *raylet_pid < 0) {
        fprintf(stderr, "pdc: cannot start the cluster daemons: %s\n", strerror(errno));
        pdc_embed_stop(*head_pid, *raylet_pid, session, store_path, 2000);
        return PDC_ECONNECT;
    }
    snprintf(pid, sizeof pid, "%d\n", (int) *head_pid);
    pdc_session_write(session, "head.pid", pid);
    snprintf(pid, sizeof pid, "%d\n", (int) *raylet_pid);
    pdc_session_write(session, "raylet.pid", pid);
    return PDC_OK;
}

void pdc_embed_stop(pid_t head_pid, pid_t raylet_pid, const char *session, const char *store_path,
                    int64_t timeout_ms) {
    if (head_pid > 0)
        kill(head_pid, SIGTERM); /* both stop at once */
    pdc_session_stop(raylet_pid, timeout_ms);
    pdc_session_stop(head_pid, timeout_ms);
    if (store_path && *store_path) {
        struct stat st;
        if (stat(store_path, &st) == 0)
            pdc_store_remove_dir(store_path);
    }
    const char *keep = getenv("PDC_KEEP_SESSION");
    if (session && *session && !(keep && *keep == '1'))
        pdc_session_remove(session);
}

/* Whether ip is an address of this host (of this network namespace). */
static int s_is_local_ip(const char *ip) {
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs))
        return 0;
    int found = 0;
    for (i = ifs; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        char text[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, text, sizeof text))
            found = !strcmp(text, ip);
    }
    freeifaddrs(ifs);
    return found;
}

/* Whether a node's public endpoint is on this host: tcp://IP:PORT with
   one of our addresses, or an ipc:// socket file that exists. */
static int s_endpoint_is_here(const char *ep) {
    if (!strncmp(ep, "ipc://", 6))
        return access(ep + 6, F_OK) == 0;
    if (strncmp(ep, "tcp://", 6))
        return 0;
    char ip[64];
    snprintf(ip, sizeof ip, "%s", ep + 6);
    char *colon = strrchr(ip, ':');
    if (colon)
        *colon = '\0';
    return s_is_local_ip(ip);
}

/* Join a running cluster: ask the head for its nodes and use the raylet
   on this host (PDC_NODE_ID picks one when several run here), through
   its local (ipc) endpoint when it has one.  A driver needs a node on
   its own host, as in Ray: that node's store holds its objects. */
static int s_find_raylet(const char *head, char *out, size_t len, int64_t timeout_ms) {
    zsys_handler_set(NULL);
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return -1;
    pdc_wire_tune(zsock_resolve(sock), 0);
    zsock_connect(sock, "%s", head);
    pdc_enc_t enc;
    pdc_enc_init(&enc);
    pdc_enc_begin(&enc, PDC_MSG_NODES, 1);
    pdc_wire_send(zsock_resolve(sock), NULL, 0, &enc, NULL, 0);
    pdc_enc_free(&enc);
    int rc = -1, nodes_seen = 0;
    const char *want = getenv("PDC_NODE_ID");
    zmq_pollitem_t item = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
    pdc_inbound_t in;
    if (zmq_poll(&item, 1, (long) timeout_ms) == 1 &&
        pdc_wire_recv(zsock_resolve(sock), 0, &in) > 0) {
        if (in.msg.type == PDC_MSG_NODES_REPLY) {
            const msgpack_object *nodes = &in.msg.fields[PDC_NODES_REPLY_NODES];
            for (uint32_t i = 0; i < nodes->via.array.size && rc != 0; i++) {
                const msgpack_object *n = nodes->via.array.ptr[i].via.array.ptr;
                if (!pdc_f_u(&n[PDC_NODE_ROW_ALIVE]))
                    continue;
                nodes_seen++;
                char id[64], ep[PATH_MAX], local[PATH_MAX];
                pdc_f_cstr(&n[PDC_NODE_ROW_ID], id, sizeof id);
                pdc_f_cstr(&n[PDC_NODE_ROW_ENDPOINT], ep, sizeof ep);
                pdc_f_cstr(&n[PDC_NODE_ROW_LOCAL_ENDPOINT], local, sizeof local);
                if (want && *want ? strcmp(id, want) != 0 : !s_endpoint_is_here(ep))
                    continue;
                int local_ok = !strncmp(local, "ipc://", 6) && access(local + 6, F_OK) == 0;
                snprintf(out, len, "%s", local_ok ? local : ep);
                rc = 0;
            }
            if (rc)
                fprintf(stderr,
                        want && *want
                            ? "pdc: no live node %s among the %d of the cluster at %s\n"
                            : "pdc: none of the %2$d live nodes of the cluster at %3$s is on "
                              "this host%1$s; start one here with pdc start --address %3$s\n",
                        want && *want ? want : "", nodes_seen, head);
        }
        pdc_inbound_close(&in);
    } else {
        fprintf(stderr, "pdc: the head at %s did not answer within %lld ms\n", head,
                (long long) timeout_ms);
    }
    zsock_destroy(&sock);
    return rc;
}

pdc_client *pdc_init(const char *address) {
    pdc_log_init("libpdc", PDC_LOG_WARN);
    /* A job's driver writes to a file its submitter follows (pdc-submit):
       whole lines as they come, not a block at exit. */
    if (*pdc_job_current())
        setvbuf(stdout, NULL, _IOLBF, 0);
    if (!address || !*address)
        address = getenv("PDC_ADDRESS");
    pdc_config_t cfg;
    char err[512];
    if (pdc_config_read_env(&cfg, err, sizeof err)) {
        fprintf(stderr, "pdc: %s\n", err);
        pdc_set_error(PDC_EINVAL, "pdc_init: %s", err);
        return NULL;
    }
    signal(SIGPIPE, SIG_IGN);
    char raylet[PATH_MAX];
    if (address && *address) {
        if (s_find_raylet(address, raylet, sizeof raylet, cfg.connect_timeout_ms)) {
            pdc_set_error(PDC_ECONNECT, "pdc_init: no raylet of the cluster at %s answered",
                          address);
            return NULL;
        }
        pdc_client *c = pdc_client_connect(raylet, 0, NULL, NULL, NULL);
        if (!c)
            pdc_set_error(PDC_ECONNECT, "pdc_init: cannot join the raylet at %s", raylet);
        return c;
    }
    pdc_embed_clean_stale();
    char session[PATH_MAX], store[PATH_MAX];
    pid_t head_pid = -1, raylet_pid = -1;
    if (pdc_embed_start(NULL, raylet, sizeof raylet, session, sizeof session, &head_pid,
                        &raylet_pid, store, sizeof store)) {
        pdc_set_error(PDC_ECONNECT, "pdc_init: the embedded cluster could not be started");
        return NULL;
    }
    pdc_client *c = pdc_client_connect(raylet, 0, NULL, NULL, NULL);
    if (!c) {
        fprintf(stderr, "pdc: the embedded cluster did not start; its logs are in %s/logs\n",
                session);
        pdc_set_error(PDC_ECONNECT,
                      "pdc_init: the embedded cluster did not start; its logs are in %s/logs",
                      session);
        setenv("PDC_KEEP_SESSION", "1", 0);
        pdc_embed_stop(head_pid, raylet_pid, session, store, cfg.shutdown_timeout_ms);
        return NULL;
    }
    c->embedded = 1;
    c->head_pid = head_pid;
    c->raylet_pid = raylet_pid;
    snprintf(c->session, sizeof c->session, "%s", session);
    snprintf(c->store_path, sizeof c->store_path, "%s", store);
    return c;
}

void pdc_shutdown(pdc_client **client_p) {
    if (!client_p || !*client_p)
        return;
    pdc_client *c = *client_p;
    *client_p = NULL;
    int embedded = c->embedded;
    pid_t head = c->head_pid, raylet = c->raylet_pid;
    char session[PATH_MAX], store[PATH_MAX];
    snprintf(session, sizeof session, "%s", c->session);
    snprintf(store, sizeof store, "%s", c->store_path);
    int64_t timeout = c->cfg.shutdown_timeout_ms;
    pdc_client_close(c);
    if (embedded)
        pdc_embed_stop(head, raylet, session, store, timeout);
}
