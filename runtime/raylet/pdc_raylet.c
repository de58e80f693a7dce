/*  pdc_raylet: the per-node daemon: worker pool, leases, object store.

    A raylet owns three things on its node.  The object store: it creates
    the LMDB store in /dev/shm at start (clients and workers then read and
    write it directly) and removes it at stop.  The worker pool: it starts
    pdc-worker processes with uv_spawn, one per CPU slot ahead of demand,
    reuses them across leases and reaps them when they exit.  The CPU
    slots: an owner (a driver or a worker running a task) asks for a lease
    of a worker with LEASE_REQUEST; the raylet grants one when a slot and an
    idle worker are free, and the owner then pushes tasks to that worker
    directly until it hands the lease back.  The raylet decides placement
    once per lease and stays off the per-task path.

    A worker that blocks in pdc_get says BLOCKED: its slot goes back to the
    pool (and a new worker is started if none is idle), so recursive
    programs cannot deadlock the pool; UNBLOCKED takes the slot again, even
    if that oversubscribes the node for a while, as Ray does.

    When a leased worker dies, the lease holder is told (WORKER_DIED) so it
    can retry or fail the tasks it had pushed.  When a driver dies, the
    workers leased to it are stopped.  Every message is decoded totally; a
    malformed one is answered with ERROR, counted and logged, and the
    raylet keeps serving.
*/
#include "pdc_raylet.h"

#include "pdc_code_cache.h"
#include "pdc_config.h"
#include "pdc_daemon.h"
#include "pdc_id.h"
#include "pdc_log.h"
#include "pdc_loop.h"
#include "pdc_resources.h"
#include "pdc_gpu.h"
#include "pdc_labels.h"
#include "pdc_store.h"
#include "pdc_transfer.h"
#include "pdc_view.h"
#include "pdc_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define RID_MAX 256
#define MAX_GPUS 64

typedef enum { W_STARTING, W_IDLE, W_LEASED } worker_state;

typedef struct worker {
    uint8_t id[PDC_ID_LEN];
    char idhex[33];
    uv_process_t proc;
    int pid;
    worker_state state;
    char endpoint[PATH_MAX];        /* ipc, for owners on this node     */
    char public_endpoint[PATH_MAX]; /* tcp, for owners on other nodes   */
    uint8_t rid[RID_MAX]; /* its DEALER on our ROUTER, once registered */
    size_t rid_len;
    uint8_t owner[RID_MAX]; /* the lease holder */
    size_t owner_len;
    double cpus; /* slots held by the lease */
    pdc_resources_t res; /* other resources held by the lease */
    double gpu_share[MAX_GPUS]; /* of each GPU device, held by the lease */
    char gpu_ids[4 * MAX_GPUS]; /* "0,1": its CUDA_VISIBLE_DEVICES */
    int blocked;
    unsigned lease_flags; /* PDC_LEASE_ACTOR, PDC_LEASE_DETACHED */
    uint64_t idle_since;
    struct worker *next;
} worker_t;

typedef struct lease_request {
    uint8_t owner[RID_MAX];
    size_t owner_len;
    uint64_t request_id;
    pdc_lease_shape_t shape; /* what it asks for, and where it may run */
    int remote;         /* the holder is on another node: give it tcp    */
    uint64_t deadline;  /* while infeasible: when it fails               */
    struct lease_request *next;
} lease_request_t;

/* A registered lease holder that is not one of our workers: a driver on
   this node (pid set: its death is seen by pid), or a driver or worker
   on another node (node set: its leases go when that node dies). */
typedef struct driver {
    uint8_t rid[RID_MAX];
    size_t rid_len;
    int pid;
    char node[PDC_NODE_ID_MAX];
    uint64_t last_seen; /* ms; a holder on another node sends KEEPALIVE */
    struct driver *next;
} driver_t;

typedef struct {
    pdc_config_t cfg;
    uv_loop_t *loop;
    char node_id[64];
    char endpoint[PATH_MAX];        /* ipc, for this node's clients       */
    char public_endpoint[PATH_MAX]; /* tcp, for other nodes ("" if none)  */
    char node_ip[64];
    int port;
    pdc_labels_t labels;
    char labels_text[1024];
    pdc_view_t view;
    lease_request_t *infeasible; /* waiting for a node that can run them */
    pdc_transfers_t *transfers;
    pdc_code_cache_t *code;
    char head[PATH_MAX];
    char session[PATH_MAX];
    char store_dir[PATH_MAX];
    char worker_bin[PATH_MAX];
    int owner_pid;
    double cpus_total, cpus_available;
    pdc_resources_t res_total, res_available; /* besides CPU */
    int gpus;                   /* GPU devices: the whole part of GPU   */
    double gpu_free[MAX_GPUS];  /* what is left of each (1 = all of it) */
    char gpu_name[MAX_GPUS][16]; /* its CUDA_VISIBLE_DEVICES entry      */
    zsock_t *router, *head_sock;
    pdc_zwatch_t *router_watch, *head_watch;
    pdc_store_t *store;
    worker_t *workers;
    lease_request_t *queue, **queue_tail;
    driver_t *drivers;
    pdc_enc_t enc;
    uv_timer_t heartbeat, housekeeping;
    pdc_daemon_signals_t signals;
    int stopping;
    uint64_t bad_messages, leases_granted, workers_started, spilled;
} raylet_t;

/* ---- Workers ---------------------------------------------------------- */

static void s_try_grant(raylet_t *self);
static void s_gpus_give_back(raylet_t *self, worker_t *w);

static int s_count(raylet_t *self, worker_state state) {
    int n = 0;
    for (worker_t *w = self->workers; w; w = w->next) n += w->state == state;
    return n;
}

static worker_t *s_worker_by_rid(raylet_t *self, const void *rid,
                                 size_t len) {
    for (worker_t *w = self->workers; w; w = w->next)
        if (w->rid_len == len && !memcmp(w->rid, rid, len)) return w;
    return NULL;
}

static worker_t *s_worker_by_id(raylet_t *self, const uint8_t *id) {
    for (worker_t *w = self->workers; w; w = w->next)
        if (pdc_id_eq(w->id, id)) return w;
    return NULL;
}

static void s_unlink_worker(raylet_t *self, worker_t *dead) {
    for (worker_t **p = &self->workers; *p; p = &(*p)->next)
        if (*p == dead) {
            *p = dead->next;
            return;
        }
}

/* A lease holder (a driver, or a worker that submitted tasks or created
   actors) is gone: stop the workers it leased, except detached actors,
   and forget its queued requests. */
static void s_release_holder(raylet_t *self, const uint8_t *rid, size_t len) {
    if (!len) return;
    for (worker_t *w = self->workers; w; w = w->next)
        if (w->state == W_LEASED && w->owner_len == len &&
            !(w->lease_flags & PDC_LEASE_DETACHED) && !memcmp(w->owner, rid, len))
            uv_process_kill(&w->proc, SIGKILL);
    lease_request_t **lists[] = {&self->queue, &self->infeasible};
    for (int i = 0; i < 2; i++)
        for (lease_request_t **q = lists[i]; *q;) {
            lease_request_t *r = *q;
            if (r->owner_len == len && !memcmp(r->owner, rid, len)) {
                *q = r->next;
                free(r);
            } else {
                q = &r->next;
            }
        }
    self->queue_tail = &self->queue;
    while (*self->queue_tail) self->queue_tail = &(*self->queue_tail)->next;
}

static void s_on_worker_closed(uv_handle_t *h) {
    free(h->data);
}

static void s_on_worker_exit(uv_process_t *proc, int64_t status, int sig) {
    worker_t *w = proc->data;
    raylet_t *self = proc->loop->data;
    int code = sig ? -sig : (int) status;
    if (!self->stopping)
        pdc_log(w->state == W_LEASED ? PDC_LOG_WARN : PDC_LOG_INFO,
                "worker %d exited (%s %d)%s", w->pid,
                sig ? "signal" : "status", sig ? sig : (int) status,
                w->state == W_LEASED ? " while leased" : "");
    if (w->state == W_LEASED) {
        if (!w->blocked) self->cpus_available += w->cpus;
        pdc_resources_add(&self->res_available, &w->res, 1);
        s_gpus_give_back(self, w);
        pdc_enc_begin(&self->enc, PDC_MSG_WORKER_DIED, 0);
        pdc_enc_id(&self->enc, w->id);
        pdc_enc_i(&self->enc, code);
        pdc_wire_send(zsock_resolve(self->router), w->owner, w->owner_len,
                      &self->enc, NULL, 0);
    }
    if (!self->stopping) s_release_holder(self, w->rid, w->rid_len);
    char sockpath[PATH_MAX + 8];
    if (!strncmp(w->endpoint, "ipc://", 6)) {
        snprintf(sockpath, sizeof sockpath, "%s", w->endpoint + 6);
        unlink(sockpath);
    }
    s_unlink_worker(self, w);
    uv_close((uv_handle_t *) proc, s_on_worker_closed);
    if (!self->stopping) s_try_grant(self);
}

static worker_t *s_spawn_worker(raylet_t *self) {
    worker_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    pdc_id_new(w->id);
    pdc_id_hex(w->id, w->idhex);
    char logpath[PATH_MAX + 64];
    snprintf(logpath, sizeof logpath, "%s/logs/worker-%s.log", self->session,
             w->idhex + 16);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    char *args[] = {self->worker_bin, "--raylet", self->endpoint,
                    "--worker-id", w->idhex, "--session", self->session,
                    *self->node_ip ? "--node-ip" : NULL, self->node_ip, NULL};
    uv_stdio_container_t stdio[3] = {{UV_IGNORE}, {UV_IGNORE}, {UV_IGNORE}};
    if (fd >= 0) {
        stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
        stdio[1].data.fd = stdio[2].data.fd = fd;
    }
    uv_process_options_t opts = {.exit_cb = s_on_worker_exit,
                                 .file = self->worker_bin,
                                 .args = args,
                                 .stdio_count = 3,
                                 .stdio = stdio};
    w->proc.data = w;
    int rc = uv_spawn(self->loop, &w->proc, &opts);
    if (fd >= 0) close(fd);
    if (rc) {
        pdc_error("cannot start worker %s: %s", self->worker_bin,
                  uv_strerror(rc));
        free(w);
        return NULL;
    }
    w->pid = w->proc.pid;
    w->state = W_STARTING;
    w->next = self->workers;
    self->workers = w;
    self->workers_started++;
    pdc_debug("started worker %d (%s)", w->pid, w->idhex);
    return w;
}

/* ---- Leases ----------------------------------------------------------- */

/* GPU devices for a lease of amount GPUs, as Ray gives them: whole devices
   for the whole part, and a share of one device (the fullest that fits)
   for a fraction.  The resource count was checked already; device d is
   entry d of the raylet's own CUDA_VISIBLE_DEVICES when it has one, else
   d. */
static void s_gpus_take(raylet_t *self, worker_t *w, double amount) {
    memset(w->gpu_share, 0, sizeof w->gpu_share);
    w->gpu_ids[0] = '\0';
    int whole = (int) (amount + 1e-9);
    double part = amount - whole;
    size_t at = 0;
    for (int d = 0; d < self->gpus && whole > 0; d++)
        if (self->gpu_free[d] > 1 - 1e-9) {
            w->gpu_share[d] = 1;
            self->gpu_free[d] = 0;
            whole--;
        }
    if (part > 1e-9) {
        int best = -1;
        for (int d = 0; d < self->gpus; d++)
            if (self->gpu_free[d] + 1e-9 >= part && (best < 0 || self->gpu_free[d] < self->gpu_free[best]))
                best = d;
        if (best >= 0) {
            w->gpu_share[best] += part;
            self->gpu_free[best] -= part;
        }
    }
    for (int d = 0; d < self->gpus; d++)
        if (w->gpu_share[d] > 0)
            at += (size_t) snprintf(w->gpu_ids + at, sizeof w->gpu_ids - at, "%s%s", at ? "," : "",
                                    self->gpu_name[d]);
}

static void s_gpus_give_back(raylet_t *self, worker_t *w) {
    for (int d = 0; d < self->gpus; d++) self->gpu_free[d] += w->gpu_share[d];
    memset(w->gpu_share, 0, sizeof w->gpu_share);
    w->gpu_ids[0] = '\0';
}

static void s_grant(raylet_t *self, lease_request_t *req, worker_t *w) {
    w->state = W_LEASED;
    memcpy(w->owner, req->owner, req->owner_len);
    w->owner_len = req->owner_len;
    w->cpus = req->shape.cpus;
    w->res = req->shape.res;
    w->blocked = 0;
    w->lease_flags = req->shape.flags;
    self->cpus_available -= req->shape.cpus;
    pdc_resources_add(&self->res_available, &req->shape.res, -1);
    s_gpus_take(self, w, pdc_resources_get(&req->shape.res, "GPU"));
    self->leases_granted++;
    pdc_enc_begin(&self->enc, PDC_MSG_LEASE_GRANT, req->request_id);
    pdc_enc_id(&self->enc, w->id);
    pdc_enc_s(&self->enc, req->remote && *w->public_endpoint ? w->public_endpoint : w->endpoint);
    pdc_enc_s(&self->enc, *w->public_endpoint ? w->public_endpoint : w->endpoint);
    pdc_enc_s(&self->enc, self->node_id);
    pdc_enc_s(&self->enc, w->gpu_ids);
    pdc_wire_send(zsock_resolve(self->router), req->owner, req->owner_len,
                  &self->enc, NULL, 0);
}

/* Grant queued requests in order while slots and idle workers allow;
   start workers where slots are free but no worker is idle. */
static void s_try_grant(raylet_t *self) {
    int starting = s_count(self, W_STARTING);
    while (self->queue) {
        lease_request_t *req = self->queue;
        if (self->cpus_available + 1e-9 < req->shape.cpus) break;
        if (pdc_resources_short(&self->res_available, &req->shape.res)) break;
        worker_t *idle = NULL;
        for (worker_t *w = self->workers; w; w = w->next)
            if (w->state == W_IDLE) idle = w;
        if (!idle) {
            int waiting = 0;
            for (lease_request_t *r = self->queue; r; r = r->next) waiting++;
            while (starting < waiting && s_spawn_worker(self)) starting++;
            break;
        }
        self->queue = req->next;
        if (!self->queue) self->queue_tail = &self->queue;
        s_grant(self, req, idle);
        free(req);
    }
}

/* ---- Messages from clients and workers -------------------------------- */

static void s_reply_registered(raylet_t *self, pdc_inbound_t *in) {
    pdc_enc_begin(&self->enc, PDC_MSG_REGISTERED, in->msg.request_id);
    pdc_enc_s(&self->enc, self->node_id);
    pdc_enc_s(&self->enc, self->store_dir);
    pdc_enc_u(&self->enc, (uint64_t) self->cfg.inline_max);
    pdc_enc_s(&self->enc, self->session);
    pdc_enc_s(&self->enc, self->head);
    pdc_wire_reply(zsock_resolve(self->router), in, &self->enc);
}

static void s_on_register(raylet_t *self, pdc_inbound_t *in) {
    const msgpack_object *f = in->msg.fields;
    void *rid = zmq_msg_data(&in->frames[0]);
    size_t rid_len = zmq_msg_size(&in->frames[0]);
    if (rid_len > RID_MAX) return;
    if (pdc_f_u(&f[0]) == 1) {
        worker_t *w = s_worker_by_id(self, pdc_f_id(&f[2]));
        if (!w || w->state != W_STARTING) {
            pdc_wire_reply_error(zsock_resolve(self->router), in, &self->enc,
                                 PDC_EINVAL, "unknown or already registered worker id");
            return;
        }
        memcpy(w->rid, rid, rid_len);
        w->rid_len = rid_len;
        pdc_f_cstr(&f[3], w->endpoint, sizeof w->endpoint);
        pdc_f_cstr(&f[4], w->public_endpoint, sizeof w->public_endpoint);
        w->state = W_IDLE;
        w->idle_since = uv_now(self->loop);
        s_reply_registered(self, in);
        s_try_grant(self);
        return;
    }
    driver_t *d = calloc(1, sizeof *d);
    if (d) {
        memcpy(d->rid, rid, rid_len);
        d->rid_len = rid_len;
        d->pid = (int) pdc_f_u(&f[1]);
        if (pdc_f_u(&f[0]) == 2) {
            pdc_f_cstr(&f[5], d->node, sizeof d->node);
            if (!*d->node) snprintf(d->node, sizeof d->node, "?");
            d->last_seen = uv_now(self->loop);
        }
        d->next = self->drivers;
        self->drivers = d;
    }
    s_reply_registered(self, in);
}

/* Whether the sender registered (as a driver or a worker): only they may
   hold leases, because only their death is noticed and cleaned up. */
static driver_t *s_driver_by_rid(raylet_t *self, const void *rid, size_t len) {
    for (driver_t *d = self->drivers; d; d = d->next)
        if (d->rid_len == len && !memcmp(d->rid, rid, len)) return d;
    return NULL;
}

static int s_registered(raylet_t *self, pdc_inbound_t *in) {
    const void *rid = zmq_msg_data(&in->frames[0]);
    size_t len = zmq_msg_size(&in->frames[0]);
    return s_driver_by_rid(self, rid, len) || s_worker_by_rid(self, rid, len);
}

/* This node's own entry of the view, kept current. */
static pdc_view_node_t *s_self_entry(raylet_t *self) {
    pdc_view_node_t *me = pdc_view_upsert(&self->view, self->node_id);
    if (!me) return NULL;
    snprintf(me->endpoint, sizeof me->endpoint, "%s", *self->public_endpoint ? self->public_endpoint : self->endpoint);
    snprintf(me->local_endpoint, sizeof me->local_endpoint, "%s", self->endpoint);
    me->alive = 1;
    me->cpu_total = self->cpus_total;
    me->cpu_available = self->cpus_available;
    me->total = self->res_total;
    me->available = self->res_available;
    me->labels = self->labels;
    return me;
}

/* Answer a request that could not be granted here. */
static void s_lease_refuse(raylet_t *self, lease_request_t *req, int code, const char *why) {
    pdc_wire_send_error(zsock_resolve(self->router), req->owner, req->owner_len, &self->enc, req->request_id,
                        code, why);
}

/* Whether nodes can join this cluster: an embedded one (started for one
   driver, head on ipc) can never grow, so waiting for a node is useless. */
static int s_cluster_can_grow(raylet_t *self) {
    return *self->public_endpoint && self->owner_pid <= 0;
}

/* Send req's holder to ask target instead (LEASE_REDIRECT).  Takes req. */
static void s_redirect(raylet_t *self, lease_request_t *req, const pdc_view_node_t *target) {
    self->spilled++;
    pdc_enc_begin(&self->enc, PDC_MSG_LEASE_REDIRECT, req->request_id);
    pdc_enc_s(&self->enc, target->id);
    pdc_enc_s(&self->enc, target->endpoint);
    pdc_wire_send(zsock_resolve(self->router), req->owner, req->owner_len, &self->enc, NULL, 0);
    free(req);
}

/* Place req: queue it here, send its holder to another node, park it
   until a node can run it (infeasible_timeout_ms from the first time),
   or refuse it.  Takes req. */
static void s_place(raylet_t *self, lease_request_t *req) {
    s_self_entry(self);
    pdc_view_node_t *target;
    char why[512];
    pdc_place_t p = pdc_view_place(&self->view, self->node_id, (int) self->cfg.spillback_threshold_pct,
                                   &req->shape, &target, why, sizeof why);
    if (p == PDC_PLACE_WAIT && !s_cluster_can_grow(self)) p = PDC_PLACE_FAIL;
    switch (p) {
    case PDC_PLACE_LOCAL:
        req->next = NULL;
        *self->queue_tail = req;
        self->queue_tail = &req->next;
        return;
    case PDC_PLACE_REMOTE: s_redirect(self, req, target); return;
    case PDC_PLACE_WAIT:
        if (!req->deadline) {
            pdc_warn("a lease request waits: %s (fails in %lld ms unless such a node joins)", why,
                     (long long) self->cfg.infeasible_timeout_ms);
            req->deadline = uv_now(self->loop) + (uint64_t) self->cfg.infeasible_timeout_ms;
        } else if (uv_now(self->loop) >= req->deadline) {
            char full[700];
            snprintf(full, sizeof full, "infeasible after waiting %lld ms: %s",
                     (long long) self->cfg.infeasible_timeout_ms, why);
            pdc_warn("%s", full);
            s_lease_refuse(self, req, PDC_EINFEASIBLE, full);
            free(req);
            return;
        }
        req->next = self->infeasible;
        self->infeasible = req;
        return;
    case PDC_PLACE_FAIL: {
        char full[700];
        snprintf(full, sizeof full, "infeasible: %s", why);
        pdc_warn("%s", full);
        s_lease_refuse(self, req, PDC_EINFEASIBLE, full);
        free(req);
        return;
    }
    }
}

static void s_on_lease_request(raylet_t *self, pdc_inbound_t *in) {
    if (!s_registered(self, in)) {
        self->bad_messages++;
        pdc_wire_reply_error(zsock_resolve(self->router), in, &self->enc, PDC_EINVAL,
                             "LEASE_REQUEST before REGISTER: register first");
        return;
    }
    lease_request_t *req = calloc(1, sizeof *req);
    size_t rid_len = zmq_msg_size(&in->frames[0]);
    if (!req || rid_len > RID_MAX) {
        free(req);
        return;
    }
    char err[400];
    if (pdc_lease_shape_read(in->msg.fields, &req->shape, err, sizeof err)) {
        free(req);
        pdc_wire_reply_error(zsock_resolve(self->router), in, &self->enc, PDC_EINVAL, err);
        return;
    }
    /* Tasks take at least one slot; an actor may hold none (as in Ray). */
    if (req->shape.cpus < 0 || (req->shape.cpus == 0 && !(req->shape.flags & PDC_LEASE_ACTOR)))
        req->shape.cpus = 1;
    memcpy(req->owner, zmq_msg_data(&in->frames[0]), rid_len);
    req->owner_len = rid_len;
    req->request_id = in->msg.request_id;
    driver_t *holder = s_driver_by_rid(self, req->owner, rid_len);
    req->remote = holder && holder->node[0];
    s_place(self, req);
    s_try_grant(self);
}

/* Requests parked as infeasible are placed again (they fail once their
   deadline has passed). */
static void s_place_parked(raylet_t *self) {
    lease_request_t *parked = self->infeasible;
    self->infeasible = NULL;
    while (parked) {
        lease_request_t *r = parked;
        parked = r->next;
        s_place(self, r);
    }
}

/* Queued requests this node has no room for go to a node that has room
   now (as Ray's raylets spill queued work back), if they may go
   anywhere: default strategy, not already sent here by another raylet. */
static void s_spill_queued(raylet_t *self) {
    pdc_view_node_t *me = s_self_entry(self);
    for (lease_request_t **q = &self->queue; *q;) {
        lease_request_t *r = *q;
        pdc_view_node_t *target = NULL;
        if (me && !(r->shape.flags & PDC_LEASE_SPILLED) && r->shape.strategy == PDC_SCHED_DEFAULT &&
            !pdc_view_has_room(me, &r->shape))
            for (int i = 0; i < self->view.n; i++) {
                pdc_view_node_t *n = &self->view.nodes[i];
                if (n != me && pdc_view_feasible(n, &r->shape, NULL, 0) && pdc_view_has_room(n, &r->shape))
                    target = n;
            }
        if (!target) {
            q = &r->next;
            continue;
        }
        *q = r->next;
        target->cpu_available -= r->shape.cpus; /* until the next view */
        pdc_resources_add(&target->available, &r->shape.res, -1);
        s_redirect(self, r, target);
    }
    self->queue_tail = &self->queue;
    while (*self->queue_tail) self->queue_tail = &(*self->queue_tail)->next;
}

static void s_on_lease_return(raylet_t *self, pdc_inbound_t *in) {
    worker_t *w = s_worker_by_id(self, pdc_f_id(&in->msg.fields[0]));
    size_t len = zmq_msg_size(&in->frames[0]);
    if (!w || w->state != W_LEASED || w->owner_len != len || (w->lease_flags & PDC_LEASE_ACTOR) ||
        memcmp(w->owner, zmq_msg_data(&in->frames[0]), len)) {
        pdc_wire_reply_error(zsock_resolve(self->router), in, &self->enc,
                             PDC_EINVAL, "LEASE_RETURN of a worker not leased to you");
        return;
    }
    if (!w->blocked) self->cpus_available += w->cpus;
    pdc_resources_add(&self->res_available, &w->res, 1);
    memset(&w->res, 0, sizeof w->res);
    s_gpus_give_back(self, w);
    w->state = W_IDLE;
    w->blocked = 0;
    w->idle_since = uv_now(self->loop);
    s_try_grant(self);
}

static void s_on_blocked(raylet_t *self, pdc_inbound_t *in, int blocked) {
    worker_t *w = s_worker_by_rid(self, zmq_msg_data(&in->frames[0]),
                                  zmq_msg_size(&in->frames[0]));
    if (!w || w->state != W_LEASED || w->blocked == blocked) return;
    w->blocked = blocked;
    self->cpus_available += blocked ? w->cpus : -w->cpus;
    if (blocked) s_try_grant(self);
}

static void s_on_bye(raylet_t *self, pdc_inbound_t *in) {
    const void *rid = zmq_msg_data(&in->frames[0]);
    size_t len = zmq_msg_size(&in->frames[0]);
    if (len > RID_MAX) return;
    s_release_holder(self, rid, len);
    for (driver_t **p = &self->drivers; *p; p = &(*p)->next)
        if ((*p)->rid_len == len && !memcmp((*p)->rid, rid, len)) {
            driver_t *d = *p;
            *p = d->next;
            free(d);
            break;
        }
}

static int s_count_actors(raylet_t *self) {
    int n = 0;
    for (worker_t *w = self->workers; w; w = w->next)
        n += w->state == W_LEASED && (w->lease_flags & PDC_LEASE_ACTOR);
    return n;
}

static int s_list_len(const lease_request_t *r) {
    int n = 0;
    for (; r; r = r->next) n++;
    return n;
}

static void s_on_keepalive(raylet_t *self, pdc_inbound_t *in) {
    driver_t *d = s_driver_by_rid(self, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]));
    if (d) d->last_seen = uv_now(self->loop);
}

static void s_reply_status(raylet_t *self, pdc_inbound_t *in) {
    pdc_store_usage_t use = {0};
    if (self->store) pdc_store_usage(self->store, &use);
    int queued = s_list_len(self->queue);
    pdc_transfer_stats_t tstats;
    pdc_transfers_stats(self->transfers, &tstats);
    struct {
        const char *name;
        double value;
    } rows[] = {
        {"workers", s_count(self, W_IDLE) + s_count(self, W_LEASED) +
                            s_count(self, W_STARTING)},
        {"workers_idle", s_count(self, W_IDLE)},
        {"workers_leased", s_count(self, W_LEASED)},
        {"workers_starting", s_count(self, W_STARTING)},
        {"workers_started", (double) self->workers_started},
        {"cpus_total", self->cpus_total},
        {"cpus_available", self->cpus_available},
        {"lease_requests_queued", queued},
        {"leases_granted", (double) self->leases_granted},
        {"store_used", (double) use.used},
        {"store_capacity", (double) use.capacity},
        {"store_objects", (double) use.objects},
        {"bad_messages", (double) self->bad_messages},
        {"lease_requests_infeasible", (double) s_list_len(self->infeasible)},
        {"actors", (double) s_count_actors(self)},
        {"leases_spilled", (double) self->spilled},
        {"nodes_in_view", (double) self->view.n},
        {"transfers_active", (double) tstats.active},
        {"transfer_bytes_in", (double) tstats.bytes_in},
        {"transfer_bytes_out", (double) tstats.bytes_out},
        {"transfers_failed", (double) tstats.failed},
    };
    size_t n = sizeof rows / sizeof rows[0];
    pdc_enc_begin(&self->enc, PDC_MSG_STATUS_REPLY, in->msg.request_id);
    pdc_enc_array(&self->enc, n + 2 * (size_t) self->res_total.n);
    for (size_t i = 0; i < n; i++) {
        pdc_enc_array(&self->enc, 2);
        pdc_enc_s(&self->enc, rows[i].name);
        pdc_enc_f(&self->enc, rows[i].value);
    }
    for (int i = 0; i < self->res_total.n; i++) {
        const char *name = self->res_total.name[i];
        char row[PDC_RESOURCE_NAME + 16];
        for (int k = 0; k < 2; k++) {
            snprintf(row, sizeof row, "%s_%s", name, k ? "available" : "total");
            pdc_enc_array(&self->enc, 2);
            pdc_enc_s(&self->enc, row);
            pdc_enc_f(&self->enc, pdc_resources_get(k ? &self->res_available : &self->res_total, name));
        }
    }
    pdc_wire_reply(zsock_resolve(self->router), in, &self->enc);
}

static void s_on_router(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    raylet_t *self = arg;
    pdc_inbound_t in;
    if (!pdc_wire_serve(sock, &in, &self->enc, &self->bad_messages)) return;
    switch (in.msg.type) {
    case PDC_MSG_REGISTER: s_on_register(self, &in); break;
    case PDC_MSG_LEASE_REQUEST: s_on_lease_request(self, &in); break;
    case PDC_MSG_LEASE_RETURN: s_on_lease_return(self, &in); break;
    case PDC_MSG_BLOCKED: s_on_blocked(self, &in, 1); break;
    case PDC_MSG_BYE: s_on_bye(self, &in); break;
    case PDC_MSG_KEEPALIVE: s_on_keepalive(self, &in); break;
    case PDC_MSG_UNBLOCKED: s_on_blocked(self, &in, 0); break;
    case PDC_MSG_STATUS: s_reply_status(self, &in); break;
    case PDC_MSG_OBJECT_PULL:
    case PDC_MSG_OBJECT_FREE:
        /* Pulls and cluster-wide frees come from this node's clients;
           other raylets send frees without the forward flag. */
        if ((in.msg.type == PDC_MSG_OBJECT_PULL || pdc_f_u(&in.msg.fields[0])) && !s_registered(self, &in)) {
            self->bad_messages++;
            pdc_wire_reply_error(sock, &in, &self->enc, PDC_EINVAL,
                                 in.msg.type == PDC_MSG_OBJECT_PULL ? "OBJECT_PULL before REGISTER: register first"
                                                                    : "OBJECT_FREE with forwarding before REGISTER");
        } else if (in.msg.type == PDC_MSG_OBJECT_PULL) {
            pdc_transfers_pull(self->transfers, &in, &self->view);
        } else {
            pdc_transfers_free(self->transfers, &in, &self->view);
        }
        break;
    case PDC_MSG_OBJECT_FETCH: pdc_transfers_serve(self->transfers, &in); break;
    case PDC_MSG_CODE_GET:
        if (!s_registered(self, &in)) {
            self->bad_messages++;
            pdc_wire_reply_error(sock, &in, &self->enc, PDC_EINVAL, "CODE_GET before REGISTER: register first");
        } else {
            pdc_code_cache_get(self->code, &in, self->head_sock ? zsock_resolve(self->head_sock) : NULL,
                               uv_now(self->loop));
        }
        break;
    default: pdc_wire_refuse(sock, &in, &self->enc, "the raylet", &self->bad_messages);
    }
    pdc_inbound_close(&in);
}

/* ---- The head --------------------------------------------------------- */

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
    if (!self->head_sock) return;
    pdc_enc_begin(&self->enc, PDC_MSG_NODE_REGISTER, 0);
    pdc_enc_s(&self->enc, self->node_id);
    pdc_enc_s(&self->enc, *self->public_endpoint ? self->public_endpoint : self->endpoint);
    s_enc_resources(self, self->cpus_total, &self->res_total);
    pdc_enc_s(&self->enc, self->labels_text);
    pdc_enc_s(&self->enc, self->endpoint);
    pdc_wire_send(zsock_resolve(self->head_sock), NULL, 0, &self->enc, NULL,
                  0);
}

/* The head's answer to a heartbeat: the cluster view.  Holders on nodes
   now dead lose their leases; parked and queued requests are placed
   again (transfers from dead nodes fail at the next housekeeping). */
static void s_on_view(raylet_t *self, const msgpack_object *list) {
    pdc_view_update(&self->view, list);
    for (driver_t **p = &self->drivers; *p;) {
        driver_t *d = *p;
        pdc_view_node_t *n = *d->node ? pdc_view_find(&self->view, d->node) : NULL;
        if (!n || n->alive) {
            p = &d->next;
            continue;
        }
        pdc_info("node %s is dead; releasing the leases of its holder", d->node);
        s_release_holder(self, d->rid, d->rid_len);
        *p = d->next;
        free(d);
    }
    s_place_parked(self);
    s_spill_queued(self);
    s_try_grant(self);
}

static void s_on_head(pdc_zwatch_t *watch, void *sock, void *arg) {
    (void) watch;
    raylet_t *self = arg;
    pdc_inbound_t in;
    int rc = pdc_wire_recv(sock, 0, &in);
    if (rc == 0) return;
    if (rc < 0)
        pdc_warn("refused a message from the head: %s", in.error);
    else if (in.msg.request_id && pdc_code_cache_on_head(self->code, &in, sock, uv_now(self->loop)))
        ; /* a code package, or the head's answer that it has none yet */
    else if (in.msg.type == PDC_MSG_NODES_REPLY)
        s_on_view(self, &in.msg.fields[0]);
    else if (in.msg.type == PDC_MSG_ERROR) {
        char why[256];
        pdc_warn("head: %s; registering again",
                 pdc_f_cstr(&in.msg.fields[1], why, sizeof why));
        s_register_with_head(self);
    }
    pdc_inbound_close(&in);
}

static void s_on_heartbeat(uv_timer_t *t) {
    raylet_t *self = t->data;
    if (!self->head_sock) return;
    pdc_enc_begin(&self->enc, PDC_MSG_HEARTBEAT, 0);
    pdc_enc_s(&self->enc, self->node_id);
    s_enc_resources(self, self->cpus_available, &self->res_available);
    pdc_wire_send(zsock_resolve(self->head_sock), NULL, 0, &self->enc, NULL,
                  0);
}

/* ---- Stopping --------------------------------------------------------- */

static void s_stop(raylet_t *self, const char *why) {
    if (self->stopping) return;
    self->stopping = 1;
    pdc_info("stopping: %s", why);
    for (worker_t *w = self->workers; w; w = w->next)
        uv_process_kill(&w->proc, SIGTERM);
    uv_stop(self->loop);
}

static void s_on_signal(uv_signal_t *h, int signum) {
    s_stop(h->data, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Drivers that died: stop the workers they leased, forget their
   queued requests.  The embedded raylet also stops with its owner. */
static void s_on_housekeeping(uv_timer_t *t) {
    raylet_t *self = t->data;
    if (pdc_daemon_owner_gone(self->owner_pid)) {
        s_stop(self, "the driver that started this cluster is gone");
        return;
    }
    for (driver_t **p = &self->drivers; *p;) {
        driver_t *d = *p;
        uint64_t silence = *d->node ? uv_now(self->loop) - d->last_seen : 0;
        int gone = *d->node ? silence > 3 * (uint64_t) self->cfg.node_timeout_ms
                            : kill(d->pid, 0) && errno == ESRCH;
        if (!gone) {
            p = &d->next;
            continue;
        }
        if (*d->node)
            pdc_info("the lease holder on node %s has been silent for %llu ms; releasing its leases", d->node,
                     (unsigned long long) silence);
        else
            pdc_info("driver %d is gone; releasing its leases", d->pid);
        s_release_holder(self, d->rid, d->rid_len);
        *p = d->next;
        free(d);
    }
    if (self->store) pdc_store_check_readers(self->store);
    if (self->infeasible) s_place_parked(self);
    pdc_transfers_check(self->transfers, &self->view, uv_now(self->loop));
    pdc_code_cache_check(self->code, self->head_sock ? zsock_resolve(self->head_sock) : NULL,
                         uv_now(self->loop));
    /* Keep the pool topped up; stop idle workers beyond the limit. */
    int idle = s_count(self, W_IDLE), starting = s_count(self, W_STARTING);
    int keep = (int) (self->cpus_total + 0.5) + (int) self->cfg.worker_idle_max;
    for (worker_t *w = self->workers; w && idle > keep; w = w->next)
        if (w->state == W_IDLE &&
            uv_now(self->loop) - w->idle_since > 10 * (uint64_t) self->cfg.heartbeat_ms) {
            uv_process_kill(&w->proc, SIGTERM);
            w->state = W_STARTING; /* no longer grantable; reaped on exit */
            w->rid_len = 0;
            idle--;
        }
    (void) starting;
}

/* ---- Setup ------------------------------------------------------------ */

static void s_usage(FILE *out) {
    fprintf(out,
            "Usage: pdc-raylet --endpoint EP --store-dir DIR --session DIR [options]\n"
            "The per-node daemon of pdc: worker pool, leases, object store.\n\n"
            "  --endpoint EP        where clients and workers reach it (ipc://... or tcp://...)\n"
            "  --head EP            the head to register with and heartbeat (optional)\n"
            "  --store-dir DIR      the object store directory to create (under /dev/shm)\n"
            "  --session DIR        session directory (logs/ inside it)\n"
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
            "  -h, --help           this text\n");
}

static int s_default_worker_bin(char *out, size_t size) {
    char self_path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n <= 0) return -1;
    self_path[n] = '\0';
    char *slash = strrchr(self_path, '/');
    if (!slash) return -1;
    *slash = '\0';
    snprintf(out, size, "%s/pdc-worker", self_path);
    return 0;
}

static size_t s_default_capacity(const char *store_dir) {
    struct sysinfo si;
    size_t ram = sysinfo(&si) == 0 ? (size_t) si.totalram * si.mem_unit
                                   : (size_t) 1 << 30;
    size_t cap = ram / 10 * 3;
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", store_dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) *slash = '\0';
    struct statvfs vfs;
    if (statvfs(parent, &vfs) == 0) {
        size_t avail = (size_t) vfs.f_bavail * vfs.f_frsize;
        if (cap > avail / 10 * 9) cap = avail / 10 * 9;
    }
    return cap;
}

int pdc_raylet_main(int argc, char **argv) {
    raylet_t *self = calloc(1, sizeof *self);
    if (!self) return 1;
    if (pdc_config_load(&self->cfg)) return 2;
    pdc_log_init("pdc-raylet", PDC_LOG_INFO);
    static const struct option opts[] = {
        {"endpoint", required_argument, 0, 'e'},
        {"head", required_argument, 0, 'H'},
        {"store-dir", required_argument, 0, 's'},
        {"session", required_argument, 0, 'S'},
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
    double num_cpus = 0;
    const char *resources = getenv("PDC_RESOURCES");
    const char *labels = getenv("PDC_LABELS");
    int c, print_config = 0;
    char err[512];
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': snprintf(self->endpoint, sizeof self->endpoint, "%s", optarg); break;
        case 'H': snprintf(self->head, sizeof self->head, "%s", optarg); break;
        case 's': snprintf(self->store_dir, sizeof self->store_dir, "%s", optarg); break;
        case 'S': snprintf(self->session, sizeof self->session, "%s", optarg); break;
        case 'n': snprintf(self->node_id, sizeof self->node_id, "%s", optarg); break;
        case 'c': num_cpus = atof(optarg); break;
        case 'r': resources = optarg; break;
        case 'l': labels = optarg; break;
        case 'i': snprintf(self->node_ip, sizeof self->node_ip, "%s", optarg); break;
        case 'P': self->port = atoi(optarg); break;
        case 'w': snprintf(self->worker_bin, sizeof self->worker_bin, "%s", optarg); break;
        case 'o': self->owner_pid = atoi(optarg); break;
        case 'x':
            if (pdc_config_set(&self->cfg, optarg, err, sizeof err)) {
                fprintf(stderr, "pdc-raylet: %s\n", err);
                return 2;
            }
            break;
        case 'p': print_config = 1; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (print_config) {
        pdc_config_print(&self->cfg, stdout);
        return 0;
    }
    if (!*self->endpoint || !*self->store_dir || !*self->session) {
        fprintf(stderr, "pdc-raylet: --endpoint, --store-dir and --session are required\n");
        s_usage(stderr);
        return 2;
    }
    if (!*self->node_id) pdc_random_hex(self->node_id, 12);
    if (!*self->worker_bin && s_default_worker_bin(self->worker_bin, sizeof self->worker_bin)) {
        fprintf(stderr, "pdc-raylet: cannot find pdc-worker; pass --worker-bin\n");
        return 2;
    }
    if (num_cpus <= 0) num_cpus = (double) self->cfg.num_cpus;
    if (num_cpus <= 0) num_cpus = (double) sysconf(_SC_NPROCESSORS_ONLN);
    self->cpus_total = self->cpus_available = num_cpus;
    if (pdc_resources_parse(resources, &self->res_total, err, sizeof err)) {
        fprintf(stderr, "pdc-raylet: %s\n", err);
        return 2;
    }
    if (pdc_resources_get(&self->res_total, "GPU") <= 0 && !strstr(resources ? resources : "", "GPU")) {
        char why[256];
        int gpus = pdc_gpu_count(why, sizeof why);
        if (gpus > 0) {
            pdc_resources_t gpu = {.n = 1, .name = {"GPU"}, .amount = {(double) gpus}};
            pdc_resources_add(&self->res_total, &gpu, 1);
        } else {
            pdc_info("no GPU resource: %s", why);
        }
    }
    if (pdc_labels_parse(labels, &self->labels, err, sizeof err)) {
        fprintf(stderr, "pdc-raylet: --labels: %s\n", err);
        return 2;
    }
    pdc_labels_format(&self->labels, self->labels_text, sizeof self->labels_text);
    double gpus = pdc_resources_get(&self->res_total, "GPU");
    self->gpus = gpus >= MAX_GPUS ? MAX_GPUS : (int) gpus;
    if (gpus > 0 && self->gpus == 0) self->gpus = 1; /* GPU=0.5: one device, in part */
    char visible[1024];
    snprintf(visible, sizeof visible, "%s", getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES") : "");
    char *save = NULL, *tok = strtok_r(visible, ",", &save);
    for (int d = 0; d < self->gpus; d++, tok = tok ? strtok_r(NULL, ",", &save) : NULL) {
        self->gpu_free[d] = d < (int) gpus ? 1 : gpus - (int) gpus;
        snprintf(self->gpu_name[d], sizeof self->gpu_name[d], "%s", tok && *tok ? tok : "");
        if (!*self->gpu_name[d]) snprintf(self->gpu_name[d], sizeof self->gpu_name[d], "%d", d);
    }
    self->res_available = self->res_total;
    self->queue_tail = &self->queue;
    pdc_view_init(&self->view);

    char logs[PATH_MAX + 8];
    snprintf(logs, sizeof logs, "%s/logs", self->session);
    mkdir(self->session, 0700);
    mkdir(logs, 0700);

    pdc_store_config_t scfg = {
        .capacity = self->cfg.object_store_memory > 0
                            ? (size_t) self->cfg.object_store_memory
                            : s_default_capacity(self->store_dir),
        .shards = (unsigned) self->cfg.store_shards};
    self->store = pdc_store_create(self->store_dir, &scfg, err, sizeof err);
    if (!self->store) {
        pdc_error("cannot create the object store: %s", err);
        return 1;
    }

    zsys_handler_set(NULL);
    self->router = zsock_new(ZMQ_ROUTER);
    pdc_wire_tune(zsock_resolve(self->router),
                  strncmp(self->endpoint, "tcp://", 6) && !*self->node_ip ? 0 : self->cfg.max_message_size);
    if (zsock_bind(self->router, "%s", self->endpoint) < 0) {
        pdc_error("cannot bind %s: %s", self->endpoint, zmq_strerror(errno));
        pdc_store_destroy(&self->store);
        pdc_store_remove_dir(self->store_dir);
        return 1;
    }
    if (*self->node_ip) {
        /* Other nodes reach this raylet on tcp, on the same ROUTER. */
        int port = self->port > 0 ? zsock_bind(self->router, "tcp://%s:%d", self->node_ip, self->port)
                                  : zsock_bind(self->router, "tcp://%s:*", self->node_ip);
        if (port == 0) port = self->port;
        if (port < 0) {
            pdc_error("cannot listen on %s port %d: %s", self->node_ip, self->port, zmq_strerror(errno));
            zsock_destroy(&self->router);
            pdc_daemon_unlink_endpoint(self->endpoint);
            pdc_store_destroy(&self->store);
            pdc_store_remove_dir(self->store_dir);
            return 1;
        }
        snprintf(self->public_endpoint, sizeof self->public_endpoint, "tcp://%s:%d", self->node_ip, port);
    }
    self->loop = uv_default_loop();
    self->loop->data = self;
    pdc_enc_init(&self->enc);
    self->transfers = pdc_transfers_new(self->loop, self->store, &self->cfg,
                                        zsock_resolve(self->router), self->node_id);
    char code_dir[PATH_MAX + 8];
    snprintf(code_dir, sizeof code_dir, "%s/code", self->session);
    self->code = pdc_code_cache_new(zsock_resolve(self->router), code_dir, self->cfg.transfer_timeout_ms);
    self->router_watch = pdc_zwatch_new(self->loop, zsock_resolve(self->router),
                                        s_on_router, self);
    if (*self->head) {
        self->head_sock = zsock_new(ZMQ_DEALER);
        pdc_wire_tune(zsock_resolve(self->head_sock), self->cfg.max_message_size);
        zsock_connect(self->head_sock, "%s", self->head);
        self->head_watch = pdc_zwatch_new(self->loop, zsock_resolve(self->head_sock),
                                          s_on_head, self);
        s_register_with_head(self);
    }
    uv_timer_init(self->loop, &self->heartbeat);
    uv_timer_init(self->loop, &self->housekeeping);
    self->heartbeat.data = self->housekeeping.data = self;
    uv_timer_start(&self->heartbeat, s_on_heartbeat, (uint64_t) self->cfg.heartbeat_ms,
                   (uint64_t) self->cfg.heartbeat_ms);
    uv_timer_start(&self->housekeeping, s_on_housekeeping,
                   (uint64_t) self->cfg.owner_check_ms, (uint64_t) self->cfg.owner_check_ms);
    pdc_daemon_signals_start(self->loop, &self->signals, s_on_signal, self);
    signal(SIGPIPE, SIG_IGN);

    int prestart = self->cfg.worker_prestart >= 0 ? (int) self->cfg.worker_prestart
                                                  : (int) (num_cpus + 0.5);
    for (int i = 0; i < prestart; i++) s_spawn_worker(self);
    pdc_info("node %s serving on %s%s%s with %.2f CPU, store %s (%zu MiB), labels '%s'",
             self->node_id, self->endpoint, *self->public_endpoint ? " and " : "",
             self->public_endpoint, num_cpus, self->store_dir, scfg.capacity >> 20,
             self->labels_text);

    uv_run(self->loop, UV_RUN_DEFAULT);

    /* Stop: workers got SIGTERM in s_stop; wait for them, then SIGKILL. */
    uv_timer_stop(&self->heartbeat);
    uv_timer_stop(&self->housekeeping);
    pdc_zwatch_destroy(&self->router_watch);
    pdc_zwatch_destroy(&self->head_watch);
    uint64_t deadline = uv_now(self->loop) + (uint64_t) self->cfg.shutdown_timeout_ms;
    while (self->workers && uv_now(self->loop) < deadline) {
        uv_run(self->loop, UV_RUN_NOWAIT);
        usleep(2000);
        uv_update_time(self->loop);
    }
    for (worker_t *w = self->workers; w; w = w->next) uv_process_kill(&w->proc, SIGKILL);
    while (self->workers) uv_run(self->loop, UV_RUN_ONCE);

    /* Sockets and store go before the signal handlers (see pdc_daemon.h). */
    pdc_transfers_destroy(&self->transfers);
    pdc_code_cache_destroy(&self->code);
    zsock_destroy(&self->router);
    zsock_destroy(&self->head_sock);
    pdc_daemon_unlink_endpoint(self->endpoint);
    pdc_store_destroy(&self->store);
    pdc_store_remove_dir(self->store_dir);
    uv_close((uv_handle_t *) &self->heartbeat, NULL);
    uv_close((uv_handle_t *) &self->housekeeping, NULL);
    pdc_daemon_signals_close(&self->signals);
    uv_run(self->loop, UV_RUN_DEFAULT);
    uv_loop_close(self->loop);
    lease_request_t *lists[] = {self->queue, self->infeasible};
    for (int i = 0; i < 2; i++)
        while (lists[i]) {
            lease_request_t *r = lists[i];
            lists[i] = r->next;
            free(r);
        }
    pdc_view_free(&self->view);
    while (self->drivers) {
        driver_t *d = self->drivers;
        self->drivers = d->next;
        free(d);
    }
    pdc_enc_free(&self->enc);
    pdc_info("stopped");
    free(self);
    return 0;
}
