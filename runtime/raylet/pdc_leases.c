/*  pdc_leases: a raylet's slots and who holds them (see the header).

    Two lists of requests, the queue (placed here, in arrival order) and
    the parked ones (no node can run them yet), and one list of grants,
    one per leased worker.  Every list is short (a node's outstanding
    requests, its workers), so lookups walk them.  Slots and resources
    are counted as they are taken and given back: cpus_available and
    res_available are what a new grant may take, and this node's entry
    of the view shows them to the placement policy. */
#include "pdc_leases.h"

#include "pdc_devices.h"
#include "pdc_log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Slack in comparisons of fractional amounts. */
#define S_SLACK 1e-9
/* Starts of a runtime's workers that failed in a row before the requests
   waiting for one are refused. */
#define S_START_FAILURES 3

typedef struct request {
    pdc_rid_t owner;
    uint64_t request_id;
    pdc_lease_shape_t shape; /* what it asks for, and where it may run */
    int remote;              /* the holder is on another node: give it tcp */
    uint64_t deadline;       /* while infeasible: when it fails            */
    struct request *next;
} request_t;

typedef struct grant {
    pdc_worker_t *worker;
    pdc_rid_t owner;         /* the lease holder                  */
    double cpus;             /* slots held                        */
    pdc_resources_t res;     /* other resources held              */
    pdc_device_share_t gpus; /* the GPU devices held              */
    int blocked;             /* its slots are lent back meanwhile */
    unsigned flags;          /* PDC_LEASE_ACTOR, _DETACHED        */
    struct grant *next;
} grant_t;

struct pdc_leases {
    uv_loop_t *loop;
    void *router;
    pdc_pool_t *pool;
    pdc_view_t *view;
    char node_id[PDC_NODE_ID_MAX];
    char endpoint[PATH_MAX];
    char public_endpoint[PATH_MAX];
    pdc_labels_t labels;
    double cpus_total, cpus_available;
    pdc_resources_t res_total, res_available;
    pdc_devices_t devices;
    int threshold_pct;
    int64_t infeasible_timeout_ms;
    int can_grow;
    request_t *queue, **queue_tail;
    request_t *infeasible;
    grant_t *grants;
    pdc_enc_t enc;
    uint64_t granted, spilled;
};

pdc_leases_t *pdc_leases_new(uv_loop_t *loop, void *router, pdc_pool_t *pool, pdc_view_t *view,
                             const pdc_leases_config_t *cfg) {
    pdc_leases_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->router = router;
    self->pool = pool;
    self->view = view;
    snprintf(self->node_id, sizeof self->node_id, "%s", cfg->node_id);
    snprintf(self->endpoint, sizeof self->endpoint, "%s", cfg->endpoint);
    snprintf(self->public_endpoint, sizeof self->public_endpoint, "%s", cfg->public_endpoint);
    self->labels = *cfg->labels;
    self->cpus_total = self->cpus_available = cfg->cpus;
    self->res_total = self->res_available = *cfg->res;
    pdc_devices_init(&self->devices, pdc_resources_get(cfg->res, "GPU"), cfg->visible_devices);
    self->threshold_pct = cfg->spillback_threshold_pct;
    self->infeasible_timeout_ms = cfg->infeasible_timeout_ms;
    self->can_grow = cfg->can_grow;
    self->queue_tail = &self->queue;
    pdc_enc_init(&self->enc);
    return self;
}

static void s_free_requests(request_t **list) {
    while (*list) {
        request_t *r = *list;
        *list = r->next;
        free(r);
    }
}

void pdc_leases_destroy(pdc_leases_t **self_p) {
    if (!self_p || !*self_p)
        return;
    pdc_leases_t *self = *self_p;
    s_free_requests(&self->queue);
    s_free_requests(&self->infeasible);
    while (self->grants) {
        grant_t *g = self->grants;
        self->grants = g->next;
        free(g);
    }
    pdc_enc_free(&self->enc);
    free(self);
    *self_p = NULL;
}

static grant_t *s_grant_of(pdc_leases_t *self, const pdc_worker_t *w) {
    for (grant_t *g = self->grants; g; g = g->next)
        if (g->worker == w)
            return g;
    return NULL;
}

static void s_grant_unlink(pdc_leases_t *self, grant_t *gone) {
    for (grant_t **p = &self->grants; *p; p = &(*p)->next)
        if (*p == gone) {
            *p = gone->next;
            return;
        }
}

static void s_queue_fix_tail(pdc_leases_t *self) {
    self->queue_tail = &self->queue;
    while (*self->queue_tail)
        self->queue_tail = &(*self->queue_tail)->next;
}

static int s_list_len(const request_t *r) {
    int n = 0;
    for (; r; r = r->next)
        n++;
    return n;
}

/* What a grant holds goes back to the node. */
static void s_give_back(pdc_leases_t *self, grant_t *g) {
    if (!g->blocked)
        self->cpus_available += g->cpus;
    pdc_resources_add(&self->res_available, &g->res, 1);
    pdc_devices_give_back(&self->devices, &g->gpus);
}

/* ---- Granting ---------------------------------------------------------- */

static void s_grant(pdc_leases_t *self, request_t *req, pdc_worker_t *w) {
    grant_t *g = calloc(1, sizeof *g);
    if (!g) {
        pdc_pool_give_back(self->pool, w);
        pdc_wire_send_error(self->router, req->owner.bytes, req->owner.len, &self->enc,
                            req->request_id, PDC_ENOMEM, "the raylet is out of memory for a lease");
        return;
    }
    g->worker = w;
    g->owner = req->owner;
    g->cpus = req->shape.cpus;
    g->res = req->shape.res;
    g->flags = req->shape.flags;
    self->cpus_available -= req->shape.cpus;
    pdc_resources_add(&self->res_available, &req->shape.res, -1);
    pdc_devices_take(&self->devices, pdc_resources_get(&req->shape.res, "GPU"), &g->gpus);
    g->next = self->grants;
    self->grants = g;
    self->granted++;
    pdc_enc_begin(&self->enc, PDC_MSG_LEASE_GRANT, req->request_id);
    pdc_enc_id(&self->enc, pdc_worker_id(w));
    pdc_enc_s(&self->enc, pdc_worker_endpoint(w, req->remote));
    pdc_enc_s(&self->enc, pdc_worker_endpoint(w, 1));
    pdc_enc_s(&self->enc, self->node_id);
    pdc_enc_s(&self->enc, g->gpus.ids);
    pdc_wire_send(self->router, req->owner.bytes, req->owner.len, &self->enc, NULL, 0);
}

static void s_refuse(pdc_leases_t *self, request_t *req, int code, const char *why);

/* Requests that fit but found no idle worker, counted per runtime (a
   node sees a few runtimes at most: C and a language or two).  The
   runtime strings are those of the waiting requests, which stay queued. */
#define S_RUNTIMES 8
typedef struct {
    const char *runtime[S_RUNTIMES];
    int waiting[S_RUNTIMES];
    int n;
} s_wants_t;

/* The entry of runtime in wants, or -1. */
static int s_wants_find(const s_wants_t *wants, const char *runtime) {
    for (int i = 0; i < wants->n; i++)
        if (!strcmp(wants->runtime[i], runtime))
            return i;
    return -1;
}

/* How many requests of runtime wait (0 if none so far). */
static int s_waiting(const s_wants_t *wants, const char *runtime) {
    int i = s_wants_find(wants, runtime);
    return i < 0 ? 0 : wants->waiting[i];
}

/* One more request of runtime waits (not counted if too many runtimes
   wait at once: it then waits for a later round). */
static void s_wait(s_wants_t *wants, const char *runtime) {
    int i = s_wants_find(wants, runtime);
    if (i < 0 && wants->n < S_RUNTIMES) {
        i = wants->n++;
        wants->runtime[i] = runtime;
        wants->waiting[i] = 0;
    }
    if (i >= 0)
        wants->waiting[i]++;
}

/* Grant what the node can run now, in arrival order, passing over what
   it cannot: a request waiting for a GPU (or any resource, or more CPU
   than is free) does not hold back requests of another shape behind it,
   as Ray's raylet schedules each shape on its own.  A request that fits
   but finds no idle worker of its runtime keeps its place: what it will
   take is set aside for it, so later requests do not take it first, and
   the pool is asked to start a worker of that runtime for each such
   request. */
void pdc_leases_grant(pdc_leases_t *self) {
    double cpus = self->cpus_available; /* not yet promised */
    pdc_resources_t res = self->res_available;
    s_wants_t wants = {.n = 0};
    for (request_t **q = &self->queue; *q;) {
        request_t *req = *q;
        if (cpus + S_SLACK < req->shape.cpus || pdc_resources_short(&res, &req->shape.res)) {
            q = &req->next;
            continue;
        }
        cpus -= req->shape.cpus;
        pdc_resources_add(&res, &req->shape.res, -1);
        const char *runtime = req->shape.runtime, *why;
        pdc_worker_t *w = s_waiting(&wants, runtime) ? NULL : pdc_pool_take(self->pool, runtime);
        if (!w && pdc_pool_start_failures(self->pool, runtime, &why) >= S_START_FAILURES) {
            /* Its workers cannot start: an error, not a wait for ever. */
            char full[1024];
            snprintf(full, sizeof full, "no worker can start for this request: %s", why);
            *q = req->next;
            s_refuse(self, req, PDC_EWORKERDIED, full);
            continue;
        }
        if (!w) {
            s_wait(&wants, runtime);
            q = &req->next;
            continue;
        }
        *q = req->next;
        s_grant(self, req, w);
        free(req);
    }
    s_queue_fix_tail(self);
    for (int i = 0; i < wants.n; i++)
        if (wants.waiting[i])
            pdc_pool_want(self->pool, wants.runtime[i], wants.waiting[i]);
}

/* ---- Placing ----------------------------------------------------------- */

/* This node's own entry of the view, kept current. */
static pdc_view_node_t *s_self_entry(pdc_leases_t *self) {
    pdc_view_node_t *me = pdc_view_upsert(self->view, self->node_id);
    if (!me)
        return NULL;
    snprintf(me->endpoint, sizeof me->endpoint, "%s",
             *self->public_endpoint ? self->public_endpoint : self->endpoint);
    snprintf(me->local_endpoint, sizeof me->local_endpoint, "%s", self->endpoint);
    me->alive = 1;
    me->cpu_total = self->cpus_total;
    me->cpu_available = self->cpus_available;
    me->total = self->res_total;
    me->available = self->res_available;
    me->labels = self->labels;
    return me;
}

/* Answer a request that could not be granted here.  Takes req. */
static void s_refuse(pdc_leases_t *self, request_t *req, int code, const char *why) {
    pdc_warn("%s", why);
    pdc_wire_send_error(self->router, req->owner.bytes, req->owner.len, &self->enc, req->request_id,
                        code, why);
    free(req);
}

/* The same, for a requester that may be gone: not logged (why starts
   with this node's id). */
static void s_refuse_quietly(pdc_leases_t *self, request_t *req, int code, const char *why) {
    char full[512];
    snprintf(full, sizeof full, "node %s: LEASE_REQUEST %s", self->node_id, why);
    pdc_wire_send_error(self->router, req->owner.bytes, req->owner.len, &self->enc, req->request_id,
                        code, full);
    free(req);
}

/* Send req's holder to ask target instead (LEASE_REDIRECT).  Takes req. */
static void s_redirect(pdc_leases_t *self, request_t *req, const pdc_view_node_t *target) {
    self->spilled++;
    pdc_enc_begin(&self->enc, PDC_MSG_LEASE_REDIRECT, req->request_id);
    pdc_enc_s(&self->enc, target->id);
    pdc_enc_s(&self->enc, target->endpoint);
    pdc_wire_send(self->router, req->owner.bytes, req->owner.len, &self->enc, NULL, 0);
    free(req);
}

/* Place req: queue it here, send its holder to another node, park it
   until a node can run it (infeasible_timeout_ms from the first time),
   or refuse it.  Takes req. */
static void s_place(pdc_leases_t *self, request_t *req) {
    s_self_entry(self);
    pdc_view_node_t *target;
    char why[512], full[700];
    pdc_place_t p = pdc_view_place(self->view, self->node_id, self->threshold_pct, &req->shape,
                                   &target, why, sizeof why);
    if (p == PDC_PLACE_WAIT && !self->can_grow)
        p = PDC_PLACE_FAIL;
    switch (p) {
    case PDC_PLACE_LOCAL:
        req->next = NULL;
        *self->queue_tail = req;
        self->queue_tail = &req->next;
        return;
    case PDC_PLACE_REMOTE:
        s_redirect(self, req, target);
        return;
    case PDC_PLACE_WAIT:
        if (!req->deadline) {
            pdc_warn("a lease request waits: %s (fails in %lld ms unless such "
                     "a node joins)",
                     why, (long long) self->infeasible_timeout_ms);
            req->deadline = uv_now(self->loop) + (uint64_t) self->infeasible_timeout_ms;
        } else if (uv_now(self->loop) >= req->deadline) {
            snprintf(full, sizeof full, "infeasible after waiting %lld ms: %s",
                     (long long) self->infeasible_timeout_ms, why);
            s_refuse(self, req, PDC_EINFEASIBLE, full);
            return;
        }
        req->next = self->infeasible;
        self->infeasible = req;
        return;
    case PDC_PLACE_FAIL:
        snprintf(full, sizeof full, "infeasible: %s", why);
        s_refuse(self, req, PDC_EINFEASIBLE, full);
        return;
    }
}

/* Requests parked as infeasible are placed again (they fail once their
   deadline has passed). */
static void s_place_parked(pdc_leases_t *self) {
    request_t *parked = self->infeasible;
    self->infeasible = NULL;
    while (parked) {
        request_t *r = parked;
        parked = r->next;
        s_place(self, r);
    }
}

/* Queued requests this node has no room for go to a node that has room
   now (as Ray's raylets spill queued work back), if they may go
   anywhere: default strategy, not already sent here by another raylet. */
static void s_spill_queued(pdc_leases_t *self) {
    pdc_view_node_t *me = s_self_entry(self);
    for (request_t **q = &self->queue; *q;) {
        request_t *r = *q;
        pdc_view_node_t *target = NULL;
        if (me && !(r->shape.flags & PDC_LEASE_SPILLED) && r->shape.strategy == PDC_SCHED_DEFAULT &&
            !pdc_view_has_room(me, &r->shape))
            for (int i = 0; i < self->view->n; i++) {
                pdc_view_node_t *n = &self->view->nodes[i];
                if (n != me && pdc_view_feasible(n, &r->shape, NULL, 0) &&
                    pdc_view_has_room(n, &r->shape))
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
    s_queue_fix_tail(self);
}

void pdc_leases_on_view(pdc_leases_t *self) {
    s_place_parked(self);
    s_spill_queued(self);
    pdc_leases_grant(self);
}

void pdc_leases_check(pdc_leases_t *self) {
    if (self->infeasible)
        s_place_parked(self);
    pdc_leases_grant(self); /* workers the pool could not start before */
}

/* ---- Messages ---------------------------------------------------------- */

void pdc_leases_request(pdc_leases_t *self, pdc_inbound_t *in, int remote) {
    request_t *req = calloc(1, sizeof *req);
    if (!req ||
        pdc_rid_set(&req->owner, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]))) {
        free(req);
        return;
    }
    char err[400];
    if (pdc_lease_shape_read(in->msg.fields, &req->shape, err, sizeof err)) {
        free(req);
        pdc_wire_reply_error(self->router, in, &self->enc, PDC_EINVAL, err);
        return;
    }
    /* Tasks take at least one slot; an actor may hold none (as in Ray). */
    if (req->shape.cpus < 0 || (req->shape.cpus == 0 && !(req->shape.flags & PDC_LEASE_ACTOR)))
        req->shape.cpus = 1;
    req->request_id = in->msg.request_id;
    req->remote = remote;
    s_place(self, req);
    pdc_leases_grant(self);
}

void pdc_leases_return(pdc_leases_t *self, pdc_inbound_t *in) {
    pdc_worker_t *w =
        pdc_pool_find(self->pool, pdc_f_id(&in->msg.fields[PDC_LEASE_RETURN_WORKER_ID]));
    grant_t *g = w ? s_grant_of(self, w) : NULL;
    if (!g || (g->flags & PDC_LEASE_ACTOR) ||
        !pdc_rid_is(&g->owner, zmq_msg_data(&in->frames[0]), zmq_msg_size(&in->frames[0]))) {
        pdc_wire_reply_error(self->router, in, &self->enc, PDC_EINVAL,
                             "LEASE_RETURN of a worker not leased to you");
        return;
    }
    s_give_back(self, g);
    s_grant_unlink(self, g);
    free(g);
    pdc_pool_give_back(self->pool, w);
    pdc_leases_grant(self);
}

void pdc_leases_blocked(pdc_leases_t *self, pdc_worker_t *w, int blocked) {
    grant_t *g = s_grant_of(self, w);
    if (!g || g->blocked == blocked)
        return;
    g->blocked = blocked;
    self->cpus_available += blocked ? g->cpus : -g->cpus;
    if (blocked)
        pdc_leases_grant(self);
}

void pdc_leases_worker_exited(pdc_leases_t *self, pdc_worker_t *w, int status) {
    grant_t *g = s_grant_of(self, w);
    if (!g)
        return;
    s_give_back(self, g);
    pdc_enc_begin(&self->enc, PDC_MSG_WORKER_DIED, 0);
    pdc_enc_id(&self->enc, pdc_worker_id(w));
    pdc_enc_i(&self->enc, status);
    pdc_wire_send(self->router, g->owner.bytes, g->owner.len, &self->enc, NULL, 0);
    s_grant_unlink(self, g);
    free(g);
}

void pdc_leases_release_holder(pdc_leases_t *self, const pdc_rid_t *rid) {
    if (!rid->len)
        return;
    for (grant_t *g = self->grants; g; g = g->next)
        if (!(g->flags & PDC_LEASE_DETACHED) && pdc_rid_is(&g->owner, rid->bytes, rid->len))
            pdc_worker_kill(g->worker, SIGKILL);
    request_t **lists[] = {&self->queue, &self->infeasible};
    for (int i = 0; i < 2; i++)
        for (request_t **q = lists[i]; *q;) {
            request_t *r = *q;
            if (pdc_rid_is(&r->owner, rid->bytes, rid->len)) {
                *q = r->next;
                /* A holder on another node may live on (its node only
                   looked dead: a partition): told, it registers again and
                   asks again, where silence would leave it waiting. */
                if (r->remote)
                    s_refuse_quietly(
                        self, r, PDC_EINVAL,
                        "dropped with its holder, as if sent " PDC_NOT_REGISTERED_TEXT);
                else
                    free(r);
            } else {
                q = &r->next;
            }
        }
    s_queue_fix_tail(self);
}

/* ---- Numbers ----------------------------------------------------------- */

void pdc_leases_resources(pdc_leases_t *self, int available, double *cpus, pdc_resources_t *res) {
    *cpus = available ? self->cpus_available : self->cpus_total;
    *res = available ? self->res_available : self->res_total;
}

void pdc_leases_stats(pdc_leases_t *self, pdc_leases_stats_t *out) {
    memset(out, 0, sizeof *out);
    out->queued = s_list_len(self->queue);
    out->infeasible = s_list_len(self->infeasible);
    for (grant_t *g = self->grants; g; g = g->next)
        out->actors += (g->flags & PDC_LEASE_ACTOR) != 0;
    out->granted = self->granted;
    out->spilled = self->spilled;
}
