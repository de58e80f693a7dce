/*  pdc_raylet_options: what a raylet is told to be (see the header). */
#include "pdc_raylet_options.h"

#include "pdc_gpu.h"
#include "pdc_id.h"
#include "pdc_log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

/* Without --set object_store_memory: this share of the host's memory,
   at most this share of what its file system has free, and this much
   when the memory cannot be read. */
#define S_STORE_RAM_PCT  30
#define S_STORE_DISK_PCT 90
#define S_STORE_FALLBACK ((size_t) 1 << 30)
/* Hex digits of a random node id. */
#define S_NODE_ID_DIGITS 12

/* clang-format off */
static const char *s_usage_text =
    "Usage: pdc-raylet --endpoint EP --store-dir DIR --session DIR [options]\n"
    "The per-node daemon of pdc: worker pool, leases, object store.\n\n"
    "  --endpoint EP        where clients and workers reach it (ipc://... or tcp://...)\n"
    "  --head EP            the head to register with and heartbeat (optional)\n"
    "  --store-dir DIR      the object store directory to create (under /dev/shm)\n"
    "  --session DIR        session directory (logs/ inside it)\n"
    "  --spill-dir DIR      where objects go when the store is full, on disk\n"
    "                       (default: PDC_SPILL_DIR, else spill/ in the session)\n"
    "  --node-id ID         this node's id (default: random)\n"
    "  --num-cpus N         CPU slots (default: PDC_NUM_CPUS or the cores)\n"
    "  --resources R        other resources, e.g. GPU=1,edge=1 (default: PDC_RESOURCES;\n"
    "                       GPU is detected through CUDA when not given)\n"
    "  --labels L           node labels, e.g. tier=edge,zone=a (default: PDC_LABELS)\n"
    "  --node-ip-address IP also listen on tcp://IP:PORT for other nodes, and let\n"
    "                       workers listen on IP (default: this node is reachable\n"
    "                       on its own host only)\n"
    "  --port PORT          the tcp port with --node-ip-address (default: any free)\n"
    "  --worker-bin PATH    the pdc-worker binary (default: beside this one)\n"
    "  --owner-pid PID      stop when this process is gone (embedded clusters)\n"
    "  --set NAME=VALUE     any setting of --print-config\n"
    "  --print-config       print every setting and exit\n"
    "  -h, --help           this text\n";
/* clang-format on */

static int s_default_worker_bin(char *out, size_t size) {
    char self_path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n <= 0)
        return -1;
    self_path[n] = '\0';
    char *slash = strrchr(self_path, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(out, size, "%s/pdc-worker", self_path);
    return 0;
}

static size_t s_default_capacity(const char *store_dir) {
    struct sysinfo si;
    size_t ram = sysinfo(&si) == 0 ? (size_t) si.totalram * si.mem_unit : S_STORE_FALLBACK;
    size_t cap = ram / 100 * S_STORE_RAM_PCT;
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", store_dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    struct statvfs vfs;
    if (statvfs(parent, &vfs) == 0) {
        size_t avail = (size_t) vfs.f_bavail * vfs.f_frsize;
        if (cap > avail / 100 * S_STORE_DISK_PCT)
            cap = avail / 100 * S_STORE_DISK_PCT;
    }
    return cap;
}

/* GPU, when --resources does not name it: as many as CUDA sees. */
static void s_detect_gpus(pdc_resources_t *res, const char *given) {
    if (pdc_resources_get(res, "GPU") > 0 || strstr(given ? given : "", "GPU"))
        return;
    char why[256];
    int gpus = pdc_gpu_count(why, sizeof why);
    if (gpus > 0) {
        pdc_resources_t gpu = {.n = 1, .name = {"GPU"}, .amount = {(double) gpus}};
        pdc_resources_add(res, &gpu, 1);
    } else {
        pdc_info("no GPU resource: %s", why);
    }
}

#define S_COPY(field) snprintf(o->field, sizeof o->field, "%s", optarg)

int pdc_raylet_options_parse(pdc_raylet_options_t *o, int argc, char **argv, int *exit_code) {
    memset(o, 0, sizeof *o);
    *exit_code = 2;
    if (pdc_config_load(&o->cfg))
        return 0;
    static const struct option opts[] = {{"endpoint", required_argument, 0, 'e'},
                                         {"head", required_argument, 0, 'H'},
                                         {"store-dir", required_argument, 0, 's'},
                                         {"session", required_argument, 0, 'S'},
                                         {"spill-dir", required_argument, 0, 'D'},
                                         {"node-id", required_argument, 0, 'n'},
                                         {"num-cpus", required_argument, 0, 'c'},
                                         {"resources", required_argument, 0, 'r'},
                                         {"labels", required_argument, 0, 'l'},
                                         {"node-ip-address", required_argument, 0, 'i'},
                                         {"port", required_argument, 0, 'P'},
                                         {"worker-bin", required_argument, 0, 'w'},
                                         {"owner-pid", required_argument, 0, 'o'},
                                         {"set", required_argument, 0, 'x'},
                                         {"print-config", no_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *resources = getenv("PDC_RESOURCES");
    const char *labels = getenv("PDC_LABELS");
    int c, print_config = 0;
    char err[512];
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            S_COPY(endpoint);
            break;
        case 'H':
            S_COPY(head);
            break;
        case 's':
            S_COPY(store_dir);
            break;
        case 'S':
            S_COPY(session);
            break;
        case 'D':
            S_COPY(spill_dir);
            break;
        case 'n':
            S_COPY(node_id);
            break;
        case 'c':
            o->cpus = atof(optarg);
            break;
        case 'r':
            resources = optarg;
            break;
        case 'l':
            labels = optarg;
            break;
        case 'i':
            S_COPY(node_ip);
            break;
        case 'P':
            o->port = atoi(optarg);
            break;
        case 'w':
            S_COPY(worker_bin);
            break;
        case 'o':
            o->owner_pid = atoi(optarg);
            break;
        case 'x':
            if (pdc_config_set(&o->cfg, optarg, err, sizeof err)) {
                fprintf(stderr, "pdc-raylet: %s\n", err);
                return 0;
            }
            break;
        case 'p':
            print_config = 1;
            break;
        case 'h':
            fputs(s_usage_text, stdout);
            *exit_code = 0;
            return 0;
        default:
            fputs(s_usage_text, stderr);
            return 0;
        }
    }
    if (print_config) {
        pdc_config_print(&o->cfg, stdout);
        *exit_code = 0;
        return 0;
    }
    if (!*o->endpoint || !*o->store_dir || !*o->session) {
        fprintf(stderr, "pdc-raylet: --endpoint, --store-dir and --session "
                        "are required\n");
        fputs(s_usage_text, stderr);
        return 0;
    }
    if (!*o->node_id)
        pdc_random_hex(o->node_id, S_NODE_ID_DIGITS);
    const char *spill = getenv("PDC_SPILL_DIR");
    /* A directory of this node's own: the store removes it at the end. */
    if (!*o->spill_dir && spill && *spill)
        snprintf(o->spill_dir, sizeof o->spill_dir, "%.*s/spill-%s", PATH_MAX - 40, spill,
                 o->node_id);
    else if (!*o->spill_dir)
        snprintf(o->spill_dir, sizeof o->spill_dir, "%.*s/spill", PATH_MAX - 8, o->session);
    if (!*o->worker_bin && s_default_worker_bin(o->worker_bin, sizeof o->worker_bin)) {
        fprintf(stderr, "pdc-raylet: cannot find pdc-worker; pass --worker-bin\n");
        return 0;
    }
    if (o->cpus <= 0)
        o->cpus = (double) o->cfg.num_cpus;
    if (o->cpus <= 0)
        o->cpus = (double) sysconf(_SC_NPROCESSORS_ONLN);
    if (pdc_resources_parse(resources, &o->res, err, sizeof err)) {
        fprintf(stderr, "pdc-raylet: %s\n", err);
        return 0;
    }
    s_detect_gpus(&o->res, resources);
    if (pdc_labels_parse(labels, &o->labels, err, sizeof err)) {
        fprintf(stderr, "pdc-raylet: --labels: %s\n", err);
        return 0;
    }
    pdc_labels_format(&o->labels, o->labels_text, sizeof o->labels_text);
    o->store_capacity = o->cfg.object_store_memory > 0 ? (size_t) o->cfg.object_store_memory
                                                       : s_default_capacity(o->store_dir);
    return 1;
}
