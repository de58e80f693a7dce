/*  pdc_raylet: the per-node daemon: its loop, its messages, its node.

    A raylet owns what is per node.  The object store: it creates the
    LMDB store in /dev/shm at start (clients and workers then read and
    write it directly) and removes it at stop.  The worker pool
    (pdc_pool): pdc-worker processes, one per CPU slot ahead of demand,
    reused across leases, reaped when they exit.  The slots (pdc_leases):
    an owner asks for a lease of a worker with LEASE_REQUEST, the raylet
    places and grants it, and the owner then pushes tasks to that worker
    directly until it hands the lease back, so the raylet decides
    placement once per lease and stays off the per-task path.  Transfers
    of objects to and from other nodes (pdc_transfer) and the cache of
    code packages (pdc_code_cache).  And the node's place in the cluster:
    it registers with the head, heartbeats its free resources and gets
    the cluster view back (pdc_view).

    This file is the loop that joins them: one libuv loop with the ROUTER
    that clients, workers and other raylets talk to, the DEALER to the
    head, a heartbeat and a housekeeping timer, and SIGTERM/SIGINT for a
    clean stop.  Each message is decoded totally (pdc_wire_serve); a
    malformed one is answered with ERROR, counted and logged, and the
    raylet keeps serving.  Only registered peers (workers of the pool and
    the holders of pdc_holders) may hold leases, pull objects or fetch
    code, because only their deaths are noticed: a lease holder that is
    gone (a driver's pid, a silent or dead remote node, BYE, a worker
    that exits) loses its workers and its queued requests.
*/
#include "pdc_raylet.h"

#include "pdc_raylet_options.h"

#include "pdc_code_cache.h"
#include "pdc_config.h"
#include "pdc_daemon.h"
#include "pdc_holders.h"
#include "pdc_id.h"
#include "pdc_job_runner.h"
#include "pdc_labels.h"
#include "pdc_leases.h"
#include "pdc_log.h"
#include "pdc_loop.h"
#include "pdc_pool.h"
#include "pdc_resources.h"
#include "pdc_store.h"
#include "pdc_transfer.h"
#include "pdc_view.h"
#include "pdc_wire.h"

#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* How many heartbeats an idle worker beyond the pool's keep may wait
   for a lease before it is stopped. */
#define S_IDLE_HEARTBEATS 10
/* How many heartbeats the pool waits after a worker died before it
   registered, before it starts another. */
#define S_RETRY_HEARTBEATS 10
/* How many node timeouts a holder on another node may be silent. */
#define S_HOLDER_SILENT_TIMEOUTS 3
/* How many housekeeping rounds between sweeps of the store's read slots
   left by dead processes.  A sweep tests a lock for every slot in use,
   and the kernel walks the lock file's locks (one a process) for each:
   with 2 000 actor workers on the node, a sweep per round stalled the
   loop.  Slots only matter when a shard's table fills, and a read that
   finds it full sweeps first anyway. */
#define S_READER_SWEEP_ROUNDS 50

typedef struct {
    pdc_raylet_options_t o;
    uv_loop_t *loop;
    char public_endpoint[PATH_MAX]; /* tcp, for other nodes ("" if none) */
    pdc_view_t view;
    pdc_pool_t *pool;
    pdc_leases_t *leases;
    pdc_holders_t *holders;
    pdc_transfers_t *transfers;
    pdc_code_cache_t *code;
    pdc_job_runner_t *jobs;
    zsock_t *router, *head_sock;
    pdc_zwatch_t *router_watch, *head_watch;
    pdc_store_t *store;
    pdc_enc_t enc;
    uv_timer_t heartbeat, housekeeping;
    pdc_daemon_signals_t signals;
    int stopping;
    uint64_t bad_messages;
    unsigned rounds;          /* of housekeeping */
    uint64_t reregistered_ms; /* when an ERROR of the head last made it register again */
} raylet_t;

static void *s_router(raylet_t *self) {
    return zsock_resolve(self->router);
}

static void *s_head(raylet_t *self) {
    return self->head_sock ? zsock_resolve(self->head_sock) : NULL;
}

/* ---- Lease holders ----------------------------------------------------- */

/* A holder is gone (pdc_holders_expire): its leases go, and a driver of
   this node whose process died takes its objects with it, on every
   node (no one can read them any more). */
static void s_on_holder_gone(const pdc_rid_t *rid, const uint8_t *owner, const char *why,
                             void *arg) {
    raylet_t *self = arg;
    pdc_info("%s; releasing its leases%s", why, owner ? " and its objects" : "");
    pdc_leases_release_holder(self->leases, rid);
    if (owner)
        pdc_transfers_free_owner(self->transfers, owner, &self->view);
}

/* A worker exited: its lease ends (its holder is told), the leases it
   held itself (tasks it submitted, actors it created) go, what it owned
   (its puts, its nested tasks' results) goes from every store, and its
   slots may go to a waiting request. */
static void s_on_worker_exit(pdc_pool_t *pool, pdc_worker_t *w, int status, void *arg) {
    (void) pool;
    raylet_t *self = arg;
    pdc_leases_worker_exited(self->leases, w, status);
    if (self->jobs)
        pdc_job_runner_worker_exited(self->jobs, w);
    if (self->stopping)
        return;
    pdc_leases_release_holder(self->leases, pdc_worker_rid(w));
    if (pdc_worker_rid(w)->len) {
        uint8_t owner[PDC_ID_LEN] = {0};
        pdc_id_worker_prefix(pdc_worker_id(w), pdc_worker_job(w), owner);
        pdc_transfers_free_owner(self->transfers, owner, &self->view);
    }
    pdc_leases_grant(self->leases);
}

/* Whether the sender registered (as a driver or a worker). */
static int s_registered(raylet_t *self, pdc_inbound_t *in) {
    const void *rid = zmq_msg_data(&in->frames[0]);
    size_t len = zmq_msg_size(&in->frames[0]);
    return pdc_holders_find(self->holders, rid, len) || pdc_pool_find_rid(self->pool, rid, len);
}

/* ---- Messages from clients and workers --------------------------------- */

static void s_reply_registered(raylet_t *self, pdc_inbound_t *in) {
    pdc_enc_begin(&self->enc, PDC_MSG_REGISTERED, in->msg.request_id);
    pdc_enc_s(&self->enc, self->o.node_id);
    pdc_enc_s(&self->enc, self->o.store_dir);
    pdc_enc_u(&self->enc, (uint64_t) self->o.cfg.inline_max);
    pdc_enc_s(&self->enc, self->o.session);
    pdc_enc_s(&self->enc, self->o.head);
    pdc_enc_s(&self->enc, self->o.node_ip);
    pdc_wire_reply(s_router(self), in, &self->enc);
}

/* REGISTER kinds. */
enum { S_KIND_DRIVER = 0, S_KIND_WORKER = 1, S_KIND_REMOTE = 2 };

static void s_on_register(raylet_t *self, pdc_inbound_t *in) {
    const msgpack_object *f = in->msg.fields;
    const void *rid = zmq_msg_data(&in->frames[0]);
    size_t rid_len = zmq_msg_size(&in->frames[0]);
    if (rid_len > PDC_RID_MAX)
        return;
    uint64_t kind = pdc_f_u(&f[PDC_REGISTER_KIND]);
    if (kind == S_KIND_WORKER) {
        char endpoint[PATH_MAX], public_endpoint[PATH_MAX];
        pdc_f_cstr(&f[PDC_REGISTER_ENDPOINT], endpoint, sizeof endpoint);
        pdc_f_cstr(&f[PDC_REGISTER_PUBLIC_ENDPOINT], public_endpoint, sizeof public_endpoint);
        if (!pdc_pool_register(self->pool, pdc_f_id(&f[PDC_REGISTER_CLIENT_ID]), rid, rid_len,
                               endpoint, public_endpoint)) {
            pdc_wire_reply_error(s_router(self), in, &self->enc, PDC_EINVAL,
                                 "unknown or already registered worker id");
            return;
        }
        s_reply_registered(self, in);
        pdc_leases_grant(self->leases);
        return;
    }
    char node[PDC_NODE_ID_MAX];
    pdc_f_cstr(&f[PDC_REGISTER_NODE], node, sizeof node);
    static const uint8_t none[PDC_ID_LEN] = {0};
    const uint8_t *owner = pdc_f_id(&f[PDC_REGISTER_CLIENT_ID]);
    pdc_holders_add(self->holders, rid, rid_len, (int) pdc_f_u(&f[PDC_REGISTER_PID]),
                    kind == S_KIND_REMOTE ? node : NULL,
                    kind == S_KIND_DRIVER && !pdc_id_eq(owner, none) ? owner : NULL,
                    uv_now(self->loop));
    s_reply_registered(self, in);
}

/* ERROR to a client that sent what before REGISTER (naming this node). */
static void s_refuse_unregistered(raylet_t *self, void *sock, pdc_inbound_t *in, const char *what) {
    char why[200];
    snprintf(why, sizeof why, "node %s: %s " PDC_NOT_REGISTERED_TEXT, self->o.node_id, what);
    self->bad_messages++;
    pdc_wire_reply_error(sock, in, &self->enc, PDC_EINVAL, why);
}

static void s_on_lease_request(raylet_t *self, pdc_inbound_t *in) {
    if (!s_registered(self, in)) {
        s_refuse_unregistered(self, s_router(self), in, "LEASE_REQUEST");
        return;
    }
    const char *node =
        pdc_holders_find(self->holders, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]));
    pdc_leases_request(self->leases, in, node && *node);
}

static void s_on_blocked(raylet_t *self, pdc_inbound_t *in, int blocked) {
    pdc_worker_t *w =
        pdc_pool_find_rid(self->pool, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]));
    if (w)
        pdc_leases_blocked(self->leases, w, blocked);
}

static void s_on_lending(raylet_t *self, pdc_inbound_t *in, int lending) {
    pdc_worker_t *w =
        pdc_pool_find_rid(self->pool, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]));
    if (w)
        pdc_worker_set_lending(w, lending);
}

static void s_on_bye(raylet_t *self, pdc_inbound_t *in) {
    pdc_rid_t rid;
    if (pdc_rid_set(&rid, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0])))
        return;
    pdc_leases_release_holder(self->leases, &rid);
    pdc_holders_remove(self->holders, rid.bytes, rid.len);
}

static void s_on_keepalive(raylet_t *self, pdc_inbound_t *in) {
    pdc_holders_keepalive(self->holders, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]),
                          uv_now(self->loop));
}

static void s_reply_status(raylet_t *self, pdc_inbound_t *in) {
    pdc_store_usage_t use = {0};
    if (self->store)
        pdc_store_usage(self->store, &use);
    uint64_t spilled = 0, spilled_bytes = 0;
    if (self->store)
        pdc_store_spill_usage(self->store, &spilled, &spilled_bytes);
    pdc_transfer_stats_t tstats;
    pdc_transfers_stats(self->transfers, &tstats);
    pdc_pool_stats_t pool;
    pdc_pool_stats(self->pool, &pool);
    pdc_leases_stats_t leases;
    pdc_leases_stats(self->leases, &leases);
    double cpus_total, cpus_available;
    pdc_resources_t res_total, res_available;
    pdc_leases_resources(self->leases, 0, &cpus_total, &res_total);
    pdc_leases_resources(self->leases, 1, &cpus_available, &res_available);
    struct {
        const char *name;
        double value;
    } rows[] = {
        {"workers", pool.idle + pool.leased + pool.starting + pool.stopping},
        {"workers_idle", pool.idle},
        {"workers_leased", pool.leased},
        {"workers_starting", pool.starting},
        {"workers_stopping", pool.stopping},
        {"workers_started", (double) pool.started},
        {"workers_lending", pool.lending},
        {"cpus_total", cpus_total},
        {"cpus_available", cpus_available},
        {"lease_requests_queued", leases.queued},
        {"leases_granted", (double) leases.granted},
        {"store_used", (double) use.used},
        {"store_capacity", (double) use.capacity},
        {"store_objects", (double) use.objects},
        {"bad_messages", (double) self->bad_messages},
        {"lease_requests_infeasible", leases.infeasible},
        {"actors", leases.actors},
        {"leases_spilled", (double) leases.spilled},
        {"nodes_in_view", (double) self->view.n},
        {"transfers_active", (double) tstats.active},
        {"transfer_bytes_in", (double) tstats.bytes_in},
        {"transfer_bytes_out", (double) tstats.bytes_out},
        {"transfers_failed", (double) tstats.failed},
        {"job_drivers", self->jobs ? pdc_job_runner_drivers(self->jobs) : 0},
        {"spilled_objects", (double) spilled},
        {"spilled_bytes", (double) spilled_bytes},
    };
    size_t n = sizeof rows / sizeof rows[0];
    pdc_enc_begin(&self->enc, PDC_MSG_STATUS_REPLY, in->msg.request_id);
    pdc_enc_array(&self->enc, n + 2 * (size_t) res_total.n);
    for (size_t i = 0; i < n; i++) {
        pdc_enc_array(&self->enc, PDC_STAT_NFIELDS);
        pdc_enc_s(&self->enc, rows[i].name);
        pdc_enc_f(&self->enc, rows[i].value);
    }
    for (int i = 0; i < res_total.n; i++) {
        const char *name = res_total.name[i];
        char row[PDC_RESOURCE_NAME + 16];
        for (int k = 0; k < 2; k++) {
            snprintf(row, sizeof row, "%s_%s", name, k ? "available" : "total");
            pdc_enc_array(&self->enc, PDC_STAT_NFIELDS);
            pdc_enc_s(&self->enc, row);
            pdc_enc_f(&self->enc, pdc_resources_get(k ? &res_available : &res_total, name));
        }
    }
    pdc_wire_reply(s_router(self), in, &self->enc);
}

static void s_on_router(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    raylet_t *self = arg;
    pdc_inbound_t in;
    if (!pdc_wire_serve(sock, &in, &self->enc, &self->bad_messages))
        return;
    switch (in.msg.type) {
    case PDC_MSG_REGISTER:
        s_on_register(self, &in);
        break;
    case PDC_MSG_LEASE_REQUEST:
        s_on_lease_request(self, &in);
        break;
    case PDC_MSG_LEASE_RETURN:
        pdc_leases_return(self->leases, &in);
        break;
    case PDC_MSG_BLOCKED:
        s_on_blocked(self, &in, 1);
        break;
    case PDC_MSG_BYE:
        s_on_bye(self, &in);
        break;
    case PDC_MSG_KEEPALIVE:
        s_on_keepalive(self, &in);
        break;
    case PDC_MSG_UNBLOCKED:
        s_on_blocked(self, &in, 0);
        break;
    case PDC_MSG_LENDING:
    case PDC_MSG_NOT_LENDING:
        s_on_lending(self, &in, in.msg.type == PDC_MSG_LENDING);
        break;
    case PDC_MSG_STATUS:
        s_reply_status(self, &in);
        break;
    case PDC_MSG_OBJECT_PULL:
    case PDC_MSG_OBJECT_FREE:
        /* Pulls and cluster-wide frees come from this node's clients;
           other raylets send frees without the forward flag. */
        if ((in.msg.type == PDC_MSG_OBJECT_PULL ||
             pdc_f_u(&in.msg.fields[PDC_OBJECT_FREE_FORWARD])) &&
            !s_registered(self, &in)) {
            s_refuse_unregistered(
                self, sock, &in,
                in.msg.type == PDC_MSG_OBJECT_PULL ? "OBJECT_PULL" : "OBJECT_FREE with forwarding");
        } else if (in.msg.type == PDC_MSG_OBJECT_PULL) {
            pdc_transfers_pull(self->transfers, &in, &self->view);
        } else {
            pdc_transfers_free(self->transfers, &in, &self->view);
        }
        break;
    case PDC_MSG_OBJECT_FETCH:
        pdc_transfers_serve(self->transfers, &in);
        break;
    case PDC_MSG_OBJECT_FREE_PREFIX:
        pdc_transfers_free_owner(self->transfers,
                                 pdc_f_id(&in.msg.fields[PDC_OBJECT_FREE_PREFIX_OWNER]), NULL);
        break;
    case PDC_MSG_CODE_GET:
        if (!s_registered(self, &in)) {
            s_refuse_unregistered(self, sock, &in, "CODE_GET");
        } else {
            pdc_code_cache_get(self->code, &in, s_head(self), uv_now(self->loop));
        }
        break;
    default:
        pdc_wire_refuse(sock, &in, &self->enc, "the raylet", &self->bad_messages);
    }
    pdc_inbound_close(&in);
}

/* ---- The head ---------------------------------------------------------- */

/* CPU and the other resources as one {} map. */
static void s_enc_resources(raylet_t *self, double cpus, const pdc_resources_t *res) {
    pdc_enc_map(&self->enc, 1 + (size_t) res->n);
    pdc_enc_s(&self->enc, "CPU");
    pdc_enc_f(&self->enc, cpus);
    for (int i = 0; i < res->n; i++) {
        pdc_enc_s(&self->enc, res->name[i]);
        pdc_enc_f(&self->enc, res->amount[i]);
    }
}

static void s_register_with_head(raylet_t *self) {
    if (!self->head_sock)
        return;
    double cpus;
    pdc_resources_t res;
    pdc_leases_resources(self->leases, 0, &cpus, &res);
    pdc_enc_begin(&self->enc, PDC_MSG_NODE_REGISTER, 0);
    pdc_enc_s(&self->enc, self->o.node_id);
    pdc_enc_s(&self->enc, *self->public_endpoint ? self->public_endpoint : self->o.endpoint);
    s_enc_resources(self, cpus, &res);
    pdc_enc_s(&self->enc, self->o.labels_text);
    pdc_enc_s(&self->enc, self->o.endpoint);
    pdc_wire_send(s_head(self), NULL, 0, &self->enc, NULL, 0);
}

/* The head's answer to a heartbeat: the cluster view.  Holders on nodes
   now dead lose their leases; parked and queued requests are placed
   again (transfers from dead nodes fail at the next housekeeping). */
static void s_on_view(raylet_t *self, const msgpack_object *list) {
    pdc_view_update(&self->view, list);
    pdc_holders_expire(self->holders, uv_now(self->loop), UINT64_MAX, &self->view, 0,
                       s_on_holder_gone, self);
    pdc_leases_on_view(self->leases);
}

static void s_on_head(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    raylet_t *self = arg;
    pdc_inbound_t in;
    int rc = pdc_wire_recv(sock, 0, &in);
    if (rc == 0)
        return;
    if (rc < 0)
        pdc_warn("refused a message from the head: %s", in.error);
    else if (in.msg.request_id && pdc_code_cache_on_head(self->code, &in, sock, uv_now(self->loop)))
        ; /* a code package, or the head's answer that it has none yet */
    else if (in.msg.type == PDC_MSG_NODES_REPLY)
        s_on_view(self, &in.msg.fields[PDC_NODES_REPLY_NODES]);
    else if (in.msg.type == PDC_MSG_JOB_START || in.msg.type == PDC_MSG_JOB_STOP)
        pdc_job_runner_on_head(self->jobs, &in);
    else if (in.msg.type == PDC_MSG_ERROR) {
        /* Heartbeats queued while the head was out of reach are refused
           one by one when it is back: one REGISTER a heartbeat answers
           them all. */
        uint64_t now = uv_now(self->loop);
        if (!self->reregistered_ms ||
            now - self->reregistered_ms >= (uint64_t) self->o.cfg.heartbeat_ms) {
            char why[256];
            pdc_warn("head: %s; registering again",
                     pdc_f_cstr(&in.msg.fields[PDC_ERROR_MESSAGE], why, sizeof why));
            self->reregistered_ms = now;
            s_register_with_head(self);
        }
    }
    pdc_inbound_close(&in);
}

static void s_on_heartbeat(uv_timer_t *t) {
    raylet_t *self = t->data;
    if (!self->head_sock)
        return;
    double cpus;
    pdc_resources_t res;
    pdc_leases_resources(self->leases, 1, &cpus, &res);
    pdc_enc_begin(&self->enc, PDC_MSG_HEARTBEAT, 0);
    pdc_enc_s(&self->enc, self->o.node_id);
    s_enc_resources(self, cpus, &res);
    pdc_wire_send(s_head(self), NULL, 0, &self->enc, NULL, 0);
}

/* The code cache fetched a package for the raylet: a job's. */
static void s_on_package(const char *hash, const char *path, const char *why, void *arg) {
    raylet_t *self = arg;
    if (self->jobs)
        pdc_job_runner_package_ready(self->jobs, hash, path, why);
}

/* ---- Stopping ---------------------------------------------------------- */

static void s_stop(raylet_t *self, const char *why) {
    if (self->stopping)
        return;
    self->stopping = 1;
    pdc_info("stopping: %s", why);
    pdc_pool_stop(self->pool, SIGTERM);
    pdc_job_runner_stop(self->jobs, SIGTERM);
    uv_stop(self->loop);
}

static void s_on_signal(uv_signal_t *h, int signum) {
    s_stop(h->data, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Holders that are gone lose their leases; parked requests past their
   deadline fail; idle workers beyond the pool's keep stop.  The
   embedded raylet also stops with its owner. */
static void s_on_housekeeping(uv_timer_t *t) {
    raylet_t *self = t->data;
    if (pdc_daemon_owner_gone(self->o.owner_pid)) {
        s_stop(self, "the driver that started this cluster is gone");
        return;
    }
    uint64_t now = uv_now(self->loop);
    pdc_holders_expire(self->holders, now,
                       S_HOLDER_SILENT_TIMEOUTS * (uint64_t) self->o.cfg.node_timeout_ms, NULL, 1,
                       s_on_holder_gone, self);
    if (self->store && ++self->rounds % S_READER_SWEEP_ROUNDS == 0)
        pdc_store_check_readers(self->store);
    pdc_leases_check(self->leases);
    pdc_transfers_check(self->transfers, &self->view, now);
    pdc_code_cache_check(self->code, s_head(self), now);
    pdc_pool_check(self->pool, now);
}

/* ---- Setup ------------------------------------------------------------- */

int pdc_raylet_main(int argc, char **argv) {
    pdc_job_runner_exec_driver(argc, argv); /* returns only if this is no driver's start */
    raylet_t *self = calloc(1, sizeof *self);
    if (!self)
        return 1;
    pdc_log_init("pdc-raylet", PDC_LOG_INFO);
    int exit_code;
    if (!pdc_raylet_options_parse(&self->o, argc, argv, &exit_code)) {
        free(self);
        return exit_code;
    }
    char err[512];
    pdc_view_init(&self->view);

    char logs[PATH_MAX + 8];
    snprintf(logs, sizeof logs, "%s/logs", self->o.session);
    mkdir(self->o.session, 0700);
    mkdir(logs, 0700);

    pdc_store_config_t scfg = {.capacity = self->o.store_capacity,
                               .shards = (unsigned) self->o.cfg.store_shards,
                               .spill_dir = self->o.spill_dir};
    struct statfs spill_fs;
    char spill_parent[PATH_MAX];
    snprintf(spill_parent, sizeof spill_parent, "%s", self->o.spill_dir);
    if (strrchr(spill_parent, '/'))
        *strrchr(spill_parent, '/') = '\0';
    if (statfs(*spill_parent ? spill_parent : "/", &spill_fs) == 0 &&
        spill_fs.f_type == TMPFS_MAGIC)
        pdc_warn("the spill directory %s is on tmpfs: spilled objects still take memory "
                 "(give --spill-dir or PDC_SPILL_DIR on a disk)",
                 self->o.spill_dir);
    self->store = pdc_store_create(self->o.store_dir, &scfg, err, sizeof err);
    if (!self->store) {
        pdc_error("cannot create the object store: %s", err);
        return 1;
    }

    zsys_handler_set(NULL);
    self->router = zsock_new(ZMQ_ROUTER);
    pdc_wire_tune(zsock_resolve(self->router),
                  strncmp(self->o.endpoint, "tcp://", 6) && !*self->o.node_ip
                      ? 0
                      : self->o.cfg.max_message_size);
    if (zsock_bind(self->router, "%s", self->o.endpoint) < 0) {
        pdc_error("cannot bind %s: %s", self->o.endpoint, zmq_strerror(errno));
        pdc_store_destroy(&self->store);
        pdc_store_remove_dir(self->o.store_dir);
        return 1;
    }
    if (*self->o.node_ip) {
        /* Other nodes reach this raylet on tcp, on the same ROUTER; on a
           random port ("!", as workers): not the one of a process that
           just died here, which its peers may still reconnect to. */
        int port = self->o.port > 0
                       ? zsock_bind(self->router, "tcp://%s:%d", self->o.node_ip, self->o.port)
                       : zsock_bind(self->router, "tcp://%s:!", self->o.node_ip);
        if (port == 0)
            port = self->o.port;
        if (port < 0) {
            pdc_error("cannot listen on %s port %d: %s", self->o.node_ip, self->o.port,
                      zmq_strerror(errno));
            zsock_destroy(&self->router);
            pdc_daemon_unlink_endpoint(self->o.endpoint);
            pdc_store_destroy(&self->store);
            pdc_store_remove_dir(self->o.store_dir);
            return 1;
        }
        snprintf(self->public_endpoint, sizeof self->public_endpoint, "tcp://%s:%d",
                 self->o.node_ip, port);
    }
    self->loop = uv_default_loop();
    self->loop->data = self;
    pdc_enc_init(&self->enc);
    self->transfers = pdc_transfers_new(self->loop, self->store, &self->o.cfg,
                                        zsock_resolve(self->router), self->o.node_id);
    char code_dir[PATH_MAX + 8];
    snprintf(code_dir, sizeof code_dir, "%s/code", self->o.session);
    self->code = pdc_code_cache_new(zsock_resolve(self->router), code_dir,
                                    self->o.cfg.transfer_timeout_ms, s_on_package, self);
    int prestart = self->o.cfg.worker_prestart >= 0 ? (int) self->o.cfg.worker_prestart
                                                    : (int) (self->o.cpus + 0.5);
    pdc_pool_config_t pcfg = {.worker_bin = self->o.worker_bin,
                              .raylet = self->o.endpoint,
                              .session = self->o.session,
                              .node_ip = self->o.node_ip,
                              .min = prestart,
                              .keep =
                                  (int) (self->o.cpus + 0.5) + (int) self->o.cfg.worker_idle_max,
                              .idle_ms = S_IDLE_HEARTBEATS * (uint64_t) self->o.cfg.heartbeat_ms,
                              .retry_ms = S_RETRY_HEARTBEATS * (uint64_t) self->o.cfg.heartbeat_ms,
                              .on_exit = s_on_worker_exit,
                              .arg = self};
    self->pool = pdc_pool_new(self->loop, &pcfg);
    /* An embedded cluster (started for one driver, head on ipc) can never
       grow, so waiting for a node to join is useless there. */
    pdc_leases_config_t lcfg = {.node_id = self->o.node_id,
                                .endpoint = self->o.endpoint,
                                .public_endpoint = self->public_endpoint,
                                .labels = &self->o.labels,
                                .cpus = self->o.cpus,
                                .res = &self->o.res,
                                .visible_devices = getenv("CUDA_VISIBLE_DEVICES"),
                                .spillback_threshold_pct =
                                    (int) self->o.cfg.spillback_threshold_pct,
                                .infeasible_timeout_ms = self->o.cfg.infeasible_timeout_ms,
                                .can_grow = *self->public_endpoint && self->o.owner_pid <= 0};
    self->leases =
        pdc_leases_new(self->loop, zsock_resolve(self->router), self->pool, &self->view, &lcfg);
    self->holders = pdc_holders_new();
    if (!self->pool || !self->leases || !self->holders) {
        pdc_error("out of memory starting the raylet");
        return 1;
    }
    self->router_watch = pdc_zwatch_new(self->loop, zsock_resolve(self->router), s_on_router, self);
    if (*self->o.head) {
        self->head_sock = zsock_new(ZMQ_DEALER);
        pdc_wire_tune(zsock_resolve(self->head_sock), self->o.cfg.max_message_size);
        zsock_connect(self->head_sock, "%s", self->o.head);
        self->head_watch =
            pdc_zwatch_new(self->loop, zsock_resolve(self->head_sock), s_on_head, self);
    }
    pdc_job_runner_config_t jcfg = {.node_id = self->o.node_id,
                                    .session = self->o.session,
                                    .head_endpoint = self->o.head,
                                    .head = s_head(self),
                                    .pool = self->pool,
                                    .store = self->store,
                                    .transfers = self->transfers,
                                    .code = self->code,
                                    .stop_grace_ms = self->o.cfg.shutdown_timeout_ms,
                                    .package_max_bytes =
                                        (size_t) self->o.cfg.job_package_max_bytes};
    self->jobs = pdc_job_runner_new(self->loop, &jcfg);
    if (!self->jobs) {
        pdc_error("out of memory starting the raylet");
        return 1;
    }
    s_register_with_head(self);
    uv_timer_init(self->loop, &self->heartbeat);
    uv_timer_init(self->loop, &self->housekeeping);
    self->heartbeat.data = self->housekeeping.data = self;
    uv_timer_start(&self->heartbeat, s_on_heartbeat, (uint64_t) self->o.cfg.heartbeat_ms,
                   (uint64_t) self->o.cfg.heartbeat_ms);
    uv_timer_start(&self->housekeeping, s_on_housekeeping, (uint64_t) self->o.cfg.owner_check_ms,
                   (uint64_t) self->o.cfg.owner_check_ms);
    pdc_daemon_signals_start(self->loop, &self->signals, s_on_signal, self);
    signal(SIGPIPE, SIG_IGN);

    for (int i = 0; i < prestart; i++)
        pdc_pool_spawn(self->pool, NULL);
    pdc_info("node %s serving on %s%s%s with %.2f CPU, store %s (%zu MiB, spilling to %s), "
             "labels '%s'",
             self->o.node_id, self->o.endpoint, *self->public_endpoint ? " and " : "",
             self->public_endpoint, self->o.cpus, self->o.store_dir, scfg.capacity >> 20,
             self->o.spill_dir, self->o.labels_text);

    uv_run(self->loop, UV_RUN_DEFAULT);

    /* Stop: workers got SIGTERM in s_stop; wait for them, then SIGKILL. */
    uv_timer_stop(&self->heartbeat);
    uv_timer_stop(&self->housekeeping);
    pdc_zwatch_destroy(&self->router_watch);
    pdc_zwatch_destroy(&self->head_watch);
    uint64_t deadline = uv_now(self->loop) + (uint64_t) self->o.cfg.shutdown_timeout_ms;
    while ((pdc_pool_size(self->pool) || pdc_job_runner_drivers(self->jobs)) &&
           uv_now(self->loop) < deadline) {
        uv_run(self->loop, UV_RUN_NOWAIT);
        usleep(2000);
        uv_update_time(self->loop);
    }
    pdc_pool_stop(self->pool, SIGKILL);
    pdc_job_runner_stop(self->jobs, SIGKILL);
    while (pdc_pool_size(self->pool) || pdc_job_runner_drivers(self->jobs))
        uv_run(self->loop, UV_RUN_ONCE);

    /* Sockets and store go before the signal handlers (see pdc_daemon.h). */
    pdc_transfers_destroy(&self->transfers);
    pdc_job_runner_destroy(&self->jobs);
    pdc_code_cache_destroy(&self->code);
    zsock_destroy(&self->router);
    zsock_destroy(&self->head_sock);
    pdc_daemon_unlink_endpoint(self->o.endpoint);
    pdc_store_destroy(&self->store);
    pdc_store_remove_dir(self->o.store_dir);
    uv_close((uv_handle_t *) &self->heartbeat, NULL);
    uv_close((uv_handle_t *) &self->housekeeping, NULL);
    pdc_daemon_signals_close(&self->signals);
    uv_run(self->loop, UV_RUN_DEFAULT);
    uv_loop_close(self->loop);
    pdc_leases_destroy(&self->leases);
    pdc_holders_destroy(&self->holders);
    pdc_pool_destroy(&self->pool);
    pdc_view_free(&self->view);
    pdc_enc_free(&self->enc);
    pdc_info("stopped");
    free(self);
    return 0;
}
